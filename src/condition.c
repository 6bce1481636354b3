/* SPDX-License-Identifier: MIT */
/* condition.c — Condition.
 *
 * Each waiter links a node on its own stack into a FIFO list that the
 * condition's lock protects (wait and notify both require the lock), then
 * parks on the node's own word.  notify(n) unlinks the n oldest nodes and
 * flags each one.  A waiter that times out retakes the lock and unlinks its
 * node itself; if a notify flagged it in the meantime it reports the
 * notification instead of a timeout, so no notify is ever lost.
 */
#include "weft/condition.h"

#include "park.h"
#include "condition_internal.h"
#include "lock_internal.h"
#include "weft/status.h"

#include <limits.h>

enum { OWN_RLOCK = 0, PLAIN_LOCK = 1, CALLER_RLOCK = 2 };

static weft_rlock *rlock_of(weft_condition *cond)
{
    return cond->kind_ == OWN_RLOCK ? &cond->own_ : cond->rlock_;
}

static const weft_rlock *const_rlock_of(const weft_condition *cond)
{
    return cond->kind_ == OWN_RLOCK ? &cond->own_ : cond->rlock_;
}

static void init_common(weft_condition *cond, int kind)
{
    cond->kind_ = kind;
    cond->lock_ = NULL;
    cond->rlock_ = NULL;
    weft_rlock_init(&cond->own_);
    cond->head_ = cond->tail_ = NULL;
}

int weft_condition_init(weft_condition *cond)
{
    if (!cond)
        return WEFT_EINVAL;
    init_common(cond, OWN_RLOCK);
    return WEFT_OK;
}

int weft_condition_init_lock(weft_condition *cond, weft_lock *lock)
{
    if (!cond || !lock)
        return WEFT_EINVAL;
    init_common(cond, PLAIN_LOCK);
    cond->lock_ = lock;
    return WEFT_OK;
}

int weft_condition_init_rlock(weft_condition *cond, weft_rlock *rlock)
{
    if (!cond || !rlock)
        return WEFT_EINVAL;
    init_common(cond, CALLER_RLOCK);
    cond->rlock_ = rlock;
    return WEFT_OK;
}

int weft_condition_destroy(weft_condition *cond)
{
    if (!cond)
        return WEFT_EINVAL;
    if (cond->head_ || (cond->kind_ == OWN_RLOCK && weft_rlock_locked(&cond->own_)))
        return WEFT_ESTATE;
    return WEFT_OK;
}

static int acquire_until(weft_condition *cond, int64_t deadline)
{
    if (cond->kind_ == PLAIN_LOCK)
        return weft__lock_acquire_waiting(cond->lock_, deadline);
    return weft__rlock_acquire_levels(rlock_of(cond), 1, deadline, true);
}

int weft_condition_acquire(weft_condition *cond)
{
    if (!cond)
        return WEFT_EINVAL;
    return acquire_until(cond, WEFT_NO_DEADLINE);
}

int weft_condition_acquire_timeout(weft_condition *cond, double timeout)
{
    int64_t deadline;
    if (!cond)
        return WEFT_EINVAL;
    int rc = weft__lock_deadline(timeout, &deadline);
    return rc ? rc : acquire_until(cond, deadline);
}

int weft_condition_try_acquire(weft_condition *cond)
{
    if (!cond)
        return WEFT_EINVAL;
    return acquire_until(cond, weft__now_ns());
}

int weft_condition_release(weft_condition *cond)
{
    if (!cond)
        return WEFT_EINVAL;
    if (cond->kind_ == PLAIN_LOCK)
        return weft_lock_release(cond->lock_);
    return weft_rlock_release(rlock_of(cond));
}

bool weft_condition_locked(const weft_condition *cond)
{
    if (!cond)
        return false;
    if (cond->kind_ == PLAIN_LOCK)
        return weft_lock_locked(cond->lock_);
    return weft_rlock_locked(const_rlock_of(cond));
}

/* Python's _is_owned: an rlock must be the caller's; a plain lock, which
 * has no owner, must at least be held. */
static bool held_by_caller(const weft_condition *cond)
{
    if (cond->kind_ == PLAIN_LOCK)
        return weft_lock_locked(cond->lock_);
    return weft_rlock_is_owned(const_rlock_of(cond));
}

static void unlink_waiter(weft_condition *cond, weft_condition_waiter_ *w)
{
    weft_condition_waiter_ **link = &cond->head_, *prev = NULL;
    while (*link && *link != w) {
        prev = *link;
        link = &(*link)->next;
    }
    if (!*link)
        return;
    *link = w->next;
    if (cond->tail_ == w)
        cond->tail_ = prev;
}

/* Flagged by a notify; else sleep while the flag stays 0. */
static bool notified(void *waiter, uint32_t *expected)
{
    weft_condition_waiter_ *w = waiter;
    *expected = 0;
    return atomic_load_explicit(&w->notified, memory_order_acquire);
}

int weft__condition_wait_until(weft_condition *cond, int64_t deadline)
{
    if (!held_by_caller(cond))
        return WEFT_ENOTOWNER;

    /* The node the notifier writes to: on the stack, but for a coroutine
     * in the parker's node area, since its stack may be copied away while
     * it waits (park.h). */
    weft_condition_waiter_ on_stack, *self = weft__park_node(sizeof *self);
    if (!self)
        self = &on_stack;
    self->next = NULL;
    atomic_init(&self->notified, 0);
    if (cond->tail_)
        cond->tail_->next = self;
    else
        cond->head_ = self;
    cond->tail_ = self;

    unsigned long levels = 1;
    if (cond->kind_ == PLAIN_LOCK)
        weft_lock_release(cond->lock_);
    else
        weft__rlock_release_all(rlock_of(cond), &levels);

    weft_wait_spec spec = {
        .ready = notified,
        .ctx = self,
        .word = &self->notified,
        .cancellable = true,
        .cancel_beats_deadline = true};
    int rc = weft__wait_for(&spec, deadline);

    /* The lock comes back whatever happened, as in Python. */
    if (cond->kind_ == PLAIN_LOCK)
        weft__lock_acquire_until(cond->lock_, WEFT_NO_DEADLINE);
    else
        weft__rlock_acquire_levels(rlock_of(cond), levels, WEFT_NO_DEADLINE, false);

    if (atomic_load_explicit(&self->notified, memory_order_acquire))
        return WEFT_OK;
    unlink_waiter(cond, self);
    return rc == WEFT_ECANCELLED ? WEFT_ECANCELLED : WEFT_ETIMEDOUT;
}

int weft_condition_wait(weft_condition *cond)
{
    if (!cond)
        return WEFT_EINVAL;
    return weft__condition_wait_until(cond, WEFT_NO_DEADLINE);
}

int weft_condition_wait_timeout(weft_condition *cond, double timeout)
{
    int64_t deadline;
    if (!cond)
        return WEFT_EINVAL;
    int rc = weft__deadline_after(timeout, &deadline);
    return rc ? rc : weft__condition_wait_until(cond, deadline);
}

int weft__condition_wait_for_until(weft_condition *cond, weft_predicate predicate, void *arg,
                                  int64_t deadline)
{
    while (!predicate(arg)) {
        int rc = weft__condition_wait_until(cond, deadline);
        if (rc == WEFT_ETIMEDOUT)
            return predicate(arg) ? WEFT_OK : WEFT_ETIMEDOUT;
        if (rc != WEFT_OK)
            return rc;
    }
    return WEFT_OK;
}

int weft_condition_wait_for(weft_condition *cond, weft_predicate predicate, void *arg)
{
    if (!cond || !predicate)
        return WEFT_EINVAL;
    return weft__condition_wait_for_until(cond, predicate, arg, WEFT_NO_DEADLINE);
}

int weft_condition_wait_for_timeout(weft_condition *cond, weft_predicate predicate,
                                    void *arg, double timeout)
{
    int64_t deadline;
    if (!cond || !predicate)
        return WEFT_EINVAL;
    int rc = weft__deadline_after(timeout, &deadline);
    return rc ? rc : weft__condition_wait_for_until(cond, predicate, arg, deadline);
}

int weft_condition_notify(weft_condition *cond, long n)
{
    if (!cond)
        return WEFT_EINVAL;
    if (!held_by_caller(cond))
        return WEFT_ENOTOWNER;
    while (n-- > 0 && cond->head_) {
        weft_condition_waiter_ *w = cond->head_;
        cond->head_ = w->next;
        if (!cond->head_)
            cond->tail_ = NULL;
        /* After the store the waiter may return and its node vanish; a wake
         * on a dead address is only ever a spurious wake-up. */
        atomic_store_explicit(&w->notified, 1, memory_order_release);
        weft__unpark_one(&w->notified);
    }
    return WEFT_OK;
}

int weft_condition_notify_all(weft_condition *cond)
{
    return weft_condition_notify(cond, LONG_MAX);
}
