/* SPDX-License-Identifier: MIT */
/* weft/task.h — what a task is, and what it can do while it runs.
 * Python: the function submitted to an executor, and raising an exception
 * in it.
 *
 * A task is a function of one argument that returns its result.  It
 * reports failure with `return weft_fail(code, "format", ...);` (C's form
 * of raising), and may look whether the future it runs for was cancelled
 * (weft_cancelled) or make its blocking weft calls cancellable
 * (weft_cancellable).  Executors run tasks (weft/executor.h) and hand out
 * futures for their outcomes (weft/future.h, which includes this header).
 */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include "weft/export.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A task, as executors run it: receives its argument, returns its result
 * (or weft_fail(...)). */
typedef void *(*weft_task_fn)(void *arg);

/* Record an error for the running task and return the value that marks it
 * failed: `return weft_fail(WEFT_EINVAL, "bad row %d", row);`.  The task's
 * future then fails with that code and message; weft copies the message,
 * and the copy belongs to the future (freed with it).  Outside a task it
 * only returns the marker.  Python: raising an exception in the task. */
WEFT_API void *weft_fail(int code, const char *format, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The marker weft_fail returns. */
WEFT_API extern char weft_failed_marker_;
#ifdef __cplusplus
#define WEFT_FAILED (static_cast<void *>(&weft_failed_marker_))
#else
#define WEFT_FAILED ((void *)&weft_failed_marker_)
#endif

/* Whether the running task's future was asked to cancel (beyond Python).
 * False outside a task. */
WEFT_API bool weft_cancelled(void);

/* Make the running task's blocking weft calls cancellable (beyond
 * Python): once its future is cancelled, every wait it makes or is
 * making (lock, rlock and condition acquire, condition, event, semaphore,
 * queue put/get/join, future result and exception, weft_wait,
 * as_completed, thread join, weft_sleep) returns WEFT_ECANCELLED at once
 * (the cancel wakes it), taking nothing: a wake-up that reached it
 * before it ran again goes on to another waiter, so no permit, item or
 * notification meant for one is lost; a condition wait still retakes its
 * lock first, and a
 * barrier wait breaks the barrier for the others.  A call that only polls
 * (a timeout of 0 or spent, a try_ form) reports the cancellation for
 * events, conditions, barriers and thread joins, and what it found (WEFT_EEMPTY,
 * WEFT_EFULL, WEFT_ETIMEDOUT) for the others.  Off at the start of
 * every task.  Returns the previous setting; outside a task it does
 * nothing and returns false.  In a coroutine (weft/coro.h) every wait is
 * cancellable always: this changes nothing there. */
WEFT_API bool weft_cancellable(bool on);

#ifdef __cplusplus
}
#endif

#endif
