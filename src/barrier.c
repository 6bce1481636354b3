/* SPDX-License-Identifier: MIT */
/* barrier.c — Barrier, with Python's state machine: a round fills (state 0)
 * until the last party arrives, then drains (1) while the parties leave;
 * reset (-1) drains the current waiters with an error; broken (-2) stays
 * until reset.  A new round cannot start filling until the previous one has
 * fully drained, so two rounds never mix.
 *
 * state_ and count_ change only under the lock, but n_waiting, broken and
 * repr read them without it, as Python's properties do: the action runs
 * with the lock held and may call them.  So every write is an atomic store
 * and those readers use atomic loads (relaxed: the answer is a snapshot
 * anyway); readers under the lock may read plainly.  The builtins keep the
 * public struct free of _Atomic fields. */
#include "weft/barrier.h"

#include "park.h"
#include "condition_internal.h"
#include "lock_internal.h"
#include "weft/status.h"

#include <math.h>
#include <stdio.h>

enum { FILLING = 0, DRAINING = 1, RESETTING = -1, BROKEN = -2 };

/* Writers hold the lock; see the comment at the top. */
static void store_state(weft_barrier *barrier, int state)
{
    __atomic_store_n(&barrier->state_, state, __ATOMIC_RELAXED);
}

static void store_count(weft_barrier *barrier, size_t count)
{
    __atomic_store_n(&barrier->count_, count, __ATOMIC_RELAXED);
}

static int load_state(const weft_barrier *barrier)
{
    return __atomic_load_n(&barrier->state_, __ATOMIC_RELAXED);
}

static size_t load_count(const weft_barrier *barrier)
{
    return __atomic_load_n(&barrier->count_, __ATOMIC_RELAXED);
}

int weft_barrier_init(weft_barrier *barrier, long parties, weft_barrier_action action,
                      void *action_arg, double timeout)
{
    if (!barrier || parties < 1 || isnan(timeout))
        return WEFT_EINVAL;
    weft_lock_init(&barrier->lock_);
    weft_condition_init_lock(&barrier->cond_, &barrier->lock_);
    barrier->parties_ = (size_t)parties;
    store_count(barrier, 0);
    store_state(barrier, FILLING);
    barrier->timeout_ = timeout;
    barrier->action_ = action;
    barrier->action_arg_ = action_arg;
    return WEFT_OK;
}

int weft_barrier_destroy(weft_barrier *barrier)
{
    if (!barrier)
        return WEFT_EINVAL;
    weft__lock_take(&barrier->lock_);
    size_t count = barrier->count_;
    weft_lock_release(&barrier->lock_);
    return count ? WEFT_ESTATE : WEFT_OK;
}

static void set_state(weft_barrier *barrier, int state)
{
    store_state(barrier, state);
    weft_condition_notify_all(&barrier->cond_);
}

static int not_draining(void *arg)
{
    weft_barrier *barrier = arg;
    return barrier->state_ != DRAINING && barrier->state_ != RESETTING;
}

static int round_over(void *arg)
{
    return ((weft_barrier *)arg)->state_ != FILLING;
}

/* The last party: run the action and release the round. */
static int release_round(weft_barrier *barrier)
{
    int rc = barrier->action_ ? barrier->action_(barrier->action_arg_) : WEFT_OK;
    set_state(barrier, rc == WEFT_OK ? DRAINING : BROKEN);
    return rc;
}

static int wait_for_round(weft_barrier *barrier, int64_t deadline)
{
    int rc = weft__condition_wait_for_until(&barrier->cond_, round_over, barrier, deadline);
    if (rc != WEFT_OK) {
        /* A timeout or a cancelled task breaks the barrier for everyone. */
        set_state(barrier, BROKEN);
        return rc == WEFT_ECANCELLED ? WEFT_ECANCELLED : WEFT_EBROKEN;
    }
    return barrier->state_ < 0 ? WEFT_EBROKEN : WEFT_OK;
}

static int wait_until(weft_barrier *barrier, int64_t deadline, size_t *index)
{
    weft__lock_take(&barrier->lock_);
    /* A previous round still leaving (or a reset in progress) finishes
     * first, so that rounds never mix. */
    int rc = weft__condition_wait_for_until(&barrier->cond_, not_draining, barrier,
                                           WEFT_NO_DEADLINE);
    if (rc != WEFT_OK) { /* cancelled while the previous round drained */
        weft_lock_release(&barrier->lock_);
        return rc;
    }
    rc = WEFT_EBROKEN;
    if (barrier->state_ != BROKEN) {
        size_t mine = barrier->count_;
        store_count(barrier, mine + 1);
        if (mine + 1 == barrier->parties_)
            rc = release_round(barrier);
        else
            rc = wait_for_round(barrier, deadline);
        if (rc == WEFT_OK && index)
            *index = mine;
        /* The last one out of a draining or reset round reopens it. */
        store_count(barrier, barrier->count_ - 1);
        if (barrier->count_ == 0 &&
            (barrier->state_ == DRAINING || barrier->state_ == RESETTING))
            set_state(barrier, FILLING);
    }
    weft_lock_release(&barrier->lock_);
    return rc;
}

int weft_barrier_wait_timeout(weft_barrier *barrier, double timeout, size_t *index)
{
    int64_t deadline;
    if (!barrier)
        return WEFT_EINVAL;
    int rc = weft__deadline_after(timeout, &deadline);
    return rc ? rc : wait_until(barrier, deadline, index);
}

int weft_barrier_wait(weft_barrier *barrier, size_t *index)
{
    if (!barrier)
        return WEFT_EINVAL;
    return weft_barrier_wait_timeout(barrier, barrier->timeout_, index);
}

int weft_barrier_reset(weft_barrier *barrier)
{
    if (!barrier)
        return WEFT_EINVAL;
    weft__lock_take(&barrier->lock_);
    if (barrier->count_ > 0) {
        /* Waiters still inside: they leave with an error, the last one out
         * reopens the barrier. */
        if (barrier->state_ == FILLING || barrier->state_ == BROKEN)
            store_state(barrier, RESETTING);
    } else {
        store_state(barrier, FILLING);
    }
    weft_condition_notify_all(&barrier->cond_);
    weft_lock_release(&barrier->lock_);
    return WEFT_OK;
}

int weft_barrier_abort(weft_barrier *barrier)
{
    if (!barrier)
        return WEFT_EINVAL;
    weft__lock_take(&barrier->lock_);
    set_state(barrier, BROKEN);
    weft_lock_release(&barrier->lock_);
    return WEFT_OK;
}

size_t weft_barrier_parties(const weft_barrier *barrier)
{
    return barrier ? barrier->parties_ : 0;
}

size_t weft_barrier_n_waiting(weft_barrier *barrier)
{
    if (!barrier)
        return 0;
    /* Two separate loads, as Python reads two fields: exact whenever the
     * barrier is not changing, and never blocks (the action may ask). */
    return load_state(barrier) == FILLING ? load_count(barrier) : 0;
}

bool weft_barrier_broken(weft_barrier *barrier)
{
    return barrier && load_state(barrier) == BROKEN;
}

int weft_barrier_repr(weft_barrier *barrier, char *buf, size_t size)
{
    if (!barrier)
        return snprintf(buf, size, "<weft_barrier at (nil)>");
    if (weft_barrier_broken(barrier))
        return snprintf(buf, size, "<weft_barrier at %p: broken>", (void *)barrier);
    return snprintf(buf, size, "<weft_barrier at %p: waiters=%zu/%zu>", (void *)barrier,
                    weft_barrier_n_waiting(barrier), barrier->parties_);
}
