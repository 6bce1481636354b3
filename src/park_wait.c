/* SPDX-License-Identifier: MIT */
/* park_wait.c — what waits build on parking (see park.h): the polling
 * leases, eventcounts, deadlines and the one wait loop. */
#include "park.h"

#include "weft/status.h"

#include <limits.h>
#include <math.h>

/* The leases of weft__poll_lease: when each ends (ns), 0 when never taken. */
#define POLL_LEASES_MAX 64
static _Atomic int64_t poll_leases[POLL_LEASES_MAX];
static _Atomic int poll_lease_count; /* 0 until the first call */

static _Thread_local unsigned poll_leases_to_skip;

void weft__poll_lease_wasted(void) { poll_leases_to_skip = WEFT_POLL_SKIP; }

bool weft__poll_lease(int64_t now, int64_t until)
{
    if (poll_leases_to_skip) {
        poll_leases_to_skip--;
        return false;
    }
    int n = atomic_load_explicit(&poll_lease_count, memory_order_relaxed);
    if (!n) {
        n = weft__pf_cpu_count();
        n = n < 1 ? 1 : n > POLL_LEASES_MAX ? POLL_LEASES_MAX : n;
        atomic_store_explicit(&poll_lease_count, n, memory_order_relaxed);
    }
    for (int i = 0; i < n; i++) {
        int64_t end = atomic_load_explicit(&poll_leases[i], memory_order_relaxed);
        if (end <= now && atomic_compare_exchange_strong(&poll_leases[i], &end, until))
            return true;
    }
    return false;
}

bool weft__poll_extend(weft_poll *p, int64_t now)
{
    int64_t until = now + (WEFT_POLL_NS - WEFT_POLL_SHORT_NS);
    if (p->brief || p->leased || !weft__poll_lease(now, until)) {
        if (p->leased)
            weft__poll_lease_wasted();
        weft__poll_missed();
        return false;
    }
    p->leased = true;
    p->until = until;
    return true;
}

/* ---- the spin judge (park.h) -------------------------------------------- */

static _Thread_local weft_spin_judge my_judge;

/* The window is complete: choose the next one's mode. */
static void judge_window(weft_spin_judge *j)
{
    bool paid = j->misses <= WEFT_SPIN_MISSES_MAX;
    if (j->mode == WEFT_SPIN_BRIEF) {
        if (++j->windows >= WEFT_SPIN_TRIAL_AFTER)
            j->mode = WEFT_SPIN_TRIAL;
    } else if (j->mode == WEFT_SPIN_TRIAL) {
        j->mode = paid ? WEFT_SPIN_FULL : WEFT_SPIN_BRIEF;
        j->windows = j->strikes = 0;
    } else {
        j->strikes = paid ? 0 : j->strikes + 1;
        if (j->strikes >= WEFT_SPIN_STRIKES) {
            j->mode = WEFT_SPIN_BRIEF;
            j->windows = j->strikes = 0;
        }
    }
    j->polls = j->misses = 0;
}

bool weft__spin_judge_start(weft_spin_judge *j)
{
    if (j->polls >= WEFT_SPIN_WINDOW)
        judge_window(j);
    j->polls++;
    return j->mode != WEFT_SPIN_BRIEF;
}

void weft__spin_judge_missed(weft_spin_judge *j) { j->misses++; }

bool weft__poll_start(void) { return weft__spin_judge_start(&my_judge); }

void weft__poll_missed(void) { weft__spin_judge_missed(&my_judge); }

weft_spin_mode weft__poll_mode(void) { return (weft_spin_mode)my_judge.mode; }

bool weft__spin_while_equal(_Atomic uint32_t *word, uint32_t value)
{
    weft_poll poll = WEFT_POLL_INIT;
    while (atomic_load_explicit(word, memory_order_relaxed) == value)
        if (!weft__poll_pause(&poll))
            return false;
    return true;
}

int weft__eventcount_wait(weft_eventcount *ec, uint32_t seen, int64_t deadline)
{
    if (weft__park_take_cancel())
        return WEFT_ECANCELLED;
    uint32_t none = 0;
    if (!weft__in_coroutine() && atomic_compare_exchange_strong(&ec->spinners, &none, 1)) {
        bool changed = weft__spin_while_equal(&ec->seq, seen);
        atomic_store(&ec->spinners, 0);
        if (changed)
            return WEFT_OK;
    }
    /* Sequentially consistent on both sides: either the notifier sees this
     * sleeper (or the spinner it was), or the park below sees the moved
     * count and returns at once. */
    atomic_fetch_add(&ec->sleepers, 1);
    int rc = weft__park_cancellable(&ec->seq, seen, deadline);
    atomic_fetch_sub(&ec->sleepers, 1);
    return rc;
}

void weft__eventcount_notify_one(weft_eventcount *ec)
{
    atomic_fetch_add(&ec->seq, 1);
    if (atomic_load(&ec->spinners) == 0 && atomic_load(&ec->sleepers))
        weft__unpark_n(&ec->seq, 1);
}

void weft__eventcount_notify_all(weft_eventcount *ec)
{
    atomic_fetch_add(&ec->seq, 1);
    if (atomic_load(&ec->sleepers))
        weft__unpark_all(&ec->seq);
}

int weft__deadline_after(double timeout, int64_t *deadline)
{
    if (isnan(timeout))
        return WEFT_EINVAL;
    if (isinf(timeout) && timeout > 0) {
        *deadline = WEFT_NO_DEADLINE;
        return WEFT_OK;
    }
    if (timeout > WEFT_PARK_TIMEOUT_MAX)
        return WEFT_EINVAL;
    int64_t now = weft__now_ns();
    if (timeout <= 0) {
        *deadline = now;
        return WEFT_OK;
    }
    /* Round up so that a timed wait never ends before `timeout`. */
    *deadline = now + (int64_t)ceil(timeout * 1e9);
    return WEFT_OK;
}

/* One sleep of weft__wait_for: `seen` is the eventcount's count, `expected`
 * the word's value, read before the condition was last found false. */
static int sleep_once(const weft_wait_spec *w, uint32_t seen, uint32_t expected,
                      int64_t deadline)
{
    int64_t until = deadline;
    if (w->recheck_ns) {
        int64_t soon = weft__now_ns() + w->recheck_ns;
        if (soon < deadline)
            until = soon;
    }
    if (w->sleeping)
        w->sleeping(w->ctx, true);
    int rc = w->ec            ? weft__eventcount_wait(w->ec, seen, until)
             : w->cancellable ? weft__park_cancellable(w->word, expected, until)
                              : weft__park(w->word, expected, until);
    if (w->sleeping)
        w->sleeping(w->ctx, false);
    return rc == WEFT_ETIMEDOUT && until != deadline ? WEFT_OK : rc; /* only rechecking */
}

int weft__wait_for(const weft_wait_spec *w, int64_t deadline)
{
    int rc = WEFT_OK;
    for (;;) {
        /* A wait ended by its cancellation returns it before it looks
         * again: the cancel took the waiter off its queue, so the wake-up
         * that may have come since went to another waiter, and what it
         * announced (an item, a permit) is that one's. */
        if (rc == WEFT_ECANCELLED)
            return rc;
        uint32_t seen = w->ec ? weft__eventcount_prepare(w->ec) : 0, expected = 0;
        if (w->ready(w->ctx, &expected))
            return WEFT_OK;
        if (rc == WEFT_ETIMEDOUT || weft__deadline_passed(deadline))
            return w->cancel_beats_deadline && weft__park_take_cancel() ? WEFT_ECANCELLED
                                                                            : WEFT_ETIMEDOUT;
        if (w->help && w->help(w->ctx))
            continue;
        rc = sleep_once(w, seen, expected, deadline);
    }
}
