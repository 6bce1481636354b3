/* SPDX-License-Identifier: MIT */
/* future_result.c — waiting for one future's outcome (result, exception)
 * and the wait every future wait goes through, helping its pool meanwhile
 * (see future_impl.h); future.c has the future itself. */
#include "future_impl.h"

#include "lock_internal.h"
#include "park.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stddef.h>
#include <stdint.h>

/* How long a waiter on a future with a poller spins, polling, before it
 * sleeps (a wake-up from sleep costs 25-35 us on a small VM). */
#define POLL_SPIN_NS 60000

static _Thread_local weft_future_help_fn help_hook;
static _Thread_local void *help_owner; /* the executor help_hook serves */

void weft__future_set_help_hook(weft_future_help_fn hook, void *owner)
{
    help_hook = hook;
    help_owner = owner;
}

/* ---- waiting for one ---------------------------------------------------- */

/* The outcome as result() gives it (lock held); out is a void ** or NULL. */
static int read_result(weft_future *f, void *out)
{
    void **result = out;
    int s = state_of(f);
    if (is_cancelled_state(s))
        return WEFT_ECANCELLED;
    if (f->error_code) {
        f->flags |= FUTURE_RETRIEVED;
        return WEFT_EFAILED;
    }
    if (result)
        *result = f->result;
    return WEFT_OK;
}

/* Spin a while calling the future's poller (lock held on entry and
 * return; released while polling).  BEGIN is called under the lock, while
 * the future is not done: its owner is still alive then. */
static void poll_while_spinning(weft_future *f, int64_t deadline)
{
    weft_future_poller poll = f->work.poll;
    void *ctx = f->arg;
    poll(ctx, WEFT_POLL_BEGIN);
    weft_lock_release(&f->lock);
    int64_t until = weft__now_ns() + POLL_SPIN_NS;
    if (deadline < until)
        until = deadline;
    for (unsigned i = 0; !weft_future_done(f); i++) {
        poll(ctx, WEFT_POLL_STEP);
        if ((i & 15) == 15 && weft__now_ns() >= until)
            break;
        weft__pf_cpu_relax();
    }
    poll(ctx, WEFT_POLL_END);
    weft__lock_take(&f->lock);
}

/* Whether this thread may run queued tasks of f's pool while it waits. */
static bool can_help_with(const weft_future *f)
{
    return help_hook && f->owner && f->owner == help_owner;
}

bool weft__future_can_help_any(weft_future *const *fs, size_t n)
{
    for (size_t i = 0; help_hook && i < n; i++)
        if (can_help_with(fs[i]))
            return true;
    return false;
}

void *weft__future_helped_pool(void) { return help_hook ? help_owner : NULL; }

/* weft_wait_spec's callbacks for a wait_spot. */
static bool spot_ready(void *spot, uint32_t *expected)
{
    (void)expected;
    const struct wait_spot *w = spot;
    return w->ready(w->ctx);
}

/* The awaited futures may be among the queued tasks a pool thread runs
 * while it waits, and no other worker may be free to run them. */
static bool spot_help(void *spot)
{
    const struct wait_spot *w = spot;
    weft_lock_release(w->lock);
    bool helped = help_hook();
    weft__lock_take(w->lock);
    return helped;
}

static void spot_sleeping(void *spot, bool asleep)
{
    const struct wait_spot *w = spot;
    if (asleep) {
        if (w->sleepers && *w->sleepers < UINT16_MAX)
            ++*w->sleepers;
        weft_lock_release(w->lock);
    } else {
        weft__lock_take(w->lock);
        if (w->sleepers && *w->sleepers < UINT16_MAX)
            --*w->sleepers;
    }
}

/* A pool thread that found nothing to help with still checks back now and
 * then: new work may arrive in its pool. */
#define HELPER_RECHECK_NS 1000000

int weft__future_wait_until(const struct wait_spot *w, int64_t deadline)
{
    if (w->ready(w->ctx))
        return WEFT_OK;
    weft_wait_spec spec = {
        .ready = spot_ready,
        .help = w->can_help ? spot_help : NULL,
        .sleeping = spot_sleeping,
        .ctx = (void *)w,
        .ec = w->changed,
        .recheck_ns = w->can_help ? HELPER_RECHECK_NS : 0,
    };
    return weft__wait_for(&spec, deadline);
}

static bool future_is_done(const void *f) { return weft_future_done((weft_future *)f); }

/* Wait until done or the deadline passes; lock held on entry and return. */
static int wait_done_locked(weft_future *f, int64_t deadline)
{
    if ((f->flags & FUTURE_HAS_POLLER) && !weft_future_done(f))
        poll_while_spinning(f, deadline);
    struct wait_spot w = {&f->lock, &f->done_ec, &f->result_waiters, future_is_done, f,
                          can_help_with(f)};
    return weft__future_wait_until(&w, deadline);
}

static int timed_wait(weft_future *f, double timeout, int64_t *deadline)
{
    if (!f)
        return WEFT_EINVAL;
    return weft__deadline_after(timeout, deadline);
}

/* Wait up to `timeout` seconds for the future, then read its outcome
 * with read(future, out) under its lock. */
static int wait_then_read(weft_future *future, double timeout,
                          int (*read)(weft_future *f, void *out), void *out)
{
    int64_t deadline;
    int rc = timed_wait(future, timeout, &deadline);
    if (rc != WEFT_OK)
        return rc;
    weft_parker *me = weft__parker_now; /* a coroutine's, or NULL */
    if (me && me->task == future && !weft_future_done(future))
        return WEFT_ESTATE; /* a task awaiting itself would never end */
    void *awaited_before = me ? me->awaiting : NULL;
    if (me)
        me->awaiting = future; /* cancel() of this task cancels it at once */
    weft__lock_take(&future->lock);
    rc = wait_done_locked(future, deadline);
    if (rc == WEFT_OK)
        rc = read(future, out);
    weft_lock_release(&future->lock);
    /* The task's own loop cancelled the future already, with the task
     * (coro.c clears `awaiting` then): not a second time. */
    bool forwarded = me && me->awaiting != future;
    /* asyncio: a task cancelled while it awaits a future cancels that
     * future as well; a task, it waits for, and takes its outcome. */
    if (rc == WEFT_ECANCELLED && me &&
        (forwarded || (!weft_future_done(future) && weft_future_cancel(future))) &&
        (future->flags & FUTURE_IS_TASK)) {
        me->awaiting = future; /* a further cancel reaches it too */
        weft__lock_take(&future->lock);
        while (wait_done_locked(future, WEFT_NO_DEADLINE) == WEFT_ECANCELLED) {
        }
        rc = read(future, out);
        weft_lock_release(&future->lock);
    }
    if (me)
        me->awaiting = awaited_before;
    return rc;
}

struct exception_out {
    int *code;
    const char **message;
};

static int read_exception(weft_future *f, void *out)
{
    const struct exception_out *e = out;
    if (is_cancelled_state(state_of(f)))
        return WEFT_ECANCELLED;
    f->flags |= FUTURE_RETRIEVED;
    if (e->code)
        *e->code = f->error_code;
    if (e->message)
        *e->message = f->error_message;
    return WEFT_OK;
}

int weft_future_result_timeout(weft_future *future, double timeout, void **result)
{
    if (result)
        *result = NULL; /* what it holds on every status but WEFT_OK */
    return wait_then_read(future, timeout, read_result, result);
}

int weft_future_result(weft_future *future, void **result)
{
    return weft_future_result_timeout(future, WEFT_FOREVER, result);
}

int weft_future_exception_timeout(weft_future *future, double timeout, int *code,
                                  const char **message)
{
    if (code) /* what they hold on every status but WEFT_OK */
        *code = 0;
    if (message)
        *message = NULL;
    struct exception_out e = {code, message};
    return wait_then_read(future, timeout, read_exception, &e);
}

int weft_future_exception(weft_future *future, int *code, const char **message)
{
    return weft_future_exception_timeout(future, WEFT_FOREVER, code, message);
}

