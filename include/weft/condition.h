/* SPDX-License-Identifier: MIT */
/* weft/condition.h — Condition.  Python: threading.Condition.
 *
 * Threads wait on a condition while holding its lock; wait releases the
 * lock, sleeps until notified (or the timeout), and takes the lock back.
 * Waiters are woken in the order they started waiting.
 *
 * A condition works over a weft_rlock of its own (Python's default,
 * Condition()), or over a weft_lock or weft_rlock that the caller gives and
 * that may be shared with other conditions (Condition(lock)):
 *
 *     static weft_condition items_ready = WEFT_CONDITION_INIT;  // own rlock
 *
 *     weft_condition_acquire(&items_ready);
 *     while (count == 0)
 *         weft_condition_wait(&items_ready);
 *     take_item();
 *     weft_condition_release(&items_ready);
 */
#ifndef WEFT_CONDITION_H
#define WEFT_CONDITION_H

#include "weft/atomic_field.h"
#include "weft/export.h"
#include "weft/lock.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Private: one waiting thread, linked on the waiter's stack. */
typedef struct weft_condition_waiter_ {
    struct weft_condition_waiter_ *next;
    WEFT_ATOMIC_FIELD_(uint32_t) notified;
} weft_condition_waiter_;

/* Fields are private. */
typedef struct weft_condition {
    int kind_;                     /* 0 own rlock, 1 weft_lock, 2 weft_rlock */
    weft_lock *lock_;
    weft_rlock *rlock_;
    weft_rlock own_;
    weft_condition_waiter_ *head_, *tail_;
} weft_condition;

/* A condition with a reentrant lock of its own. */
#define WEFT_CONDITION_INIT { 0, NULL, NULL, WEFT_RLOCK_INIT, NULL, NULL }

/* Initialize over a new rlock of its own.  Python: Condition().
 * WEFT_OK or WEFT_EINVAL for NULL. */
WEFT_API int weft_condition_init(weft_condition *cond);

/* Initialize over the caller's lock / rlock, which must outlive the
 * condition.  Python: Condition(lock).  WEFT_EINVAL for NULL arguments. */
WEFT_API int weft_condition_init_lock(weft_condition *cond, weft_lock *lock);
WEFT_API int weft_condition_init_rlock(weft_condition *cond, weft_rlock *rlock);

/* WEFT_OK; WEFT_ESTATE while threads wait on it or while its own rlock is
 * held; WEFT_EINVAL for NULL. */
WEFT_API int weft_condition_destroy(weft_condition *cond);

/* Acquire / release the underlying lock: same statuses and timeout rules
 * as weft_lock / weft_rlock.  Python: cond.acquire(...), cond.release(),
 * cond.locked() (3.14). */
WEFT_API int weft_condition_acquire(weft_condition *cond);
WEFT_API int weft_condition_acquire_timeout(weft_condition *cond, double timeout);
WEFT_API int weft_condition_try_acquire(weft_condition *cond);
WEFT_API int weft_condition_release(weft_condition *cond);
WEFT_API bool weft_condition_locked(const weft_condition *cond);

/* Release the lock (all levels of an rlock), wait to be notified, then
 * reacquire it (restoring the levels).  WEFT_OK: notified (Python's True);
 * WEFT_ENOTOWNER: the caller does not hold the lock (Python's RuntimeError
 * "cannot wait on un-acquired lock"); WEFT_EINVAL for NULL; WEFT_ECANCELLED
 * in a cancelled coroutine or cancellable task (the lock is held again; a
 * notification that reached it after its cancellation goes on to another
 * waiter); in a coroutine, WEFT_ENOMEM (lock still held, nothing waited)
 * when there is no memory for its waiting node, which may not be on its
 * stack there.  Python: cond.wait(). */
WEFT_API int weft_condition_wait(weft_condition *cond);

/* As weft_condition_wait, for at most `timeout` seconds: WEFT_ETIMEDOUT when
 * not notified in time (Python's False; 0 or a negative timeout releases
 * and retakes the lock without waiting); WEFT_EINVAL also for NaN or a
 * finite timeout above WEFT_TIMEOUT_MAX.  The lock is held again on every
 * return except WEFT_EINVAL/WEFT_ENOTOWNER.  Python: cond.wait(timeout). */
WEFT_API int weft_condition_wait_timeout(weft_condition *cond, double timeout);

/* The predicate of wait_for: nonzero when the awaited state holds. */
typedef int (*weft_predicate)(void *arg);

/* Wait until predicate(arg) is nonzero, checking it first and after every
 * wake-up.  WEFT_OK when it holds; WEFT_ETIMEDOUT when the timeout passed
 * with it still false; WEFT_ENOTOWNER / WEFT_EINVAL as for wait.
 * Python: cond.wait_for(predicate, timeout) (Python returns the predicate's
 * last value; in C, read your state after the call). */
WEFT_API int weft_condition_wait_for(weft_condition *cond, weft_predicate predicate, void *arg);
WEFT_API int weft_condition_wait_for_timeout(weft_condition *cond, weft_predicate predicate,
                                             void *arg, double timeout);

/* Wake up to n waiters, oldest first (n <= 0 and no waiters: nothing
 * happens).  They return once the caller releases the lock.  WEFT_OK;
 * WEFT_ENOTOWNER: the lock is not held ("cannot notify on un-acquired
 * lock"); WEFT_EINVAL for NULL.  Python: cond.notify(n). */
WEFT_API int weft_condition_notify(weft_condition *cond, long n);

/* Wake every waiter.  Statuses as notify.  Python: cond.notify_all(). */
WEFT_API int weft_condition_notify_all(weft_condition *cond);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_CONDITION_H */
