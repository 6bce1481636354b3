/* SPDX-License-Identifier: MIT */
/* weft/future.h — futures.  Python: concurrent.futures.Future, wait and
 * as_completed.
 *
 * A future holds the outcome of work that finishes later: a `void *`
 * result, or an error (a code and a message: C's form of the exception a
 * Python task raises), or cancellation.  Executors hand them out; a future
 * can also be made by hand and completed with set_result (a promise).
 *
 *     weft_future *f;
 *     weft_executor_submit(pool, work, arg, &f);
 *     void *result;
 *     int rc = weft_future_result(f, &result);   // f.result()
 *     if (rc == WEFT_EFAILED)                     // the task failed:
 *         fprintf(stderr, "%s\n", weft_future_error_message(f));
 *     weft_future_release(f);
 *
 * A task reports failure with `return weft_fail(code, "format", ...);` and
 * can poll weft_cancelled() to stop early when its future was cancelled
 * while running.
 *
 * Futures are reference counted: whoever gets one from a _new or submit
 * call owns one reference, weft_future_ref adds one, weft_future_release
 * drops one.  The executor and pending callbacks hold their own.
 *
 * Who owns a result.  weft never frees the `void *` a task returns (or
 * set_result was given): the future only carries it, and its last release
 * does not free it.  Whoever takes it from result() owns it and frees it,
 * once: when several threads read the same future, agree which one does.
 * So a task returning malloc'd memory leaks it when nobody takes it: a
 * future released unread, the results of a map iterator freed early (its
 * calls already running still finish, and their results are dropped with
 * their futures), a task that finished after a map's timeout.  A cancelled
 * task never ran and returned nothing.  If such results need freeing, do
 * it in a done-callback (it runs for every future that completes, read or
 * not) or have the task store its result somewhere the program owns.
 * Error messages (weft_fail's, set_exception's) are the future's: valid
 * while a reference is held, freed with it; never free them.  A process
 * pool's bytes results are the future's too (weft/process_pool.h).
 *
 * Out-parameters.  A call that hands something back through a pointer
 * (result, exception, weft_wait's done[], as_completed's next, map's next,
 * submit's future) sets it on WEFT_OK; on every other status it sets it to
 * NULL, 0 or false (when the pointer itself is not NULL), so a loop never
 * sees an earlier call's value again.
 *
 * Iterators (as_completed here, map in weft/executor.h) end with
 * WEFT_ESTOP, Python's StopIteration, and a NULL out-pointer; they keep
 * returning WEFT_ESTOP after that (docs/python.md, "Conventions").
 *
 * States, as in Python: PENDING -> RUNNING -> FINISHED, or PENDING ->
 * CANCELLED -> CANCELLED_AND_NOTIFIED (once whoever would have run it has
 * seen the cancellation; only then does weft_wait count it as done).
 */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include "weft/export.h"
#include "weft/task.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_future weft_future;

typedef enum weft_future_state {
    WEFT_FUTURE_PENDING,
    WEFT_FUTURE_RUNNING,
    WEFT_FUTURE_CANCELLED,
    WEFT_FUTURE_CANCELLED_AND_NOTIFIED,
    WEFT_FUTURE_FINISHED,
} weft_future_state;

/* A done-callback: receives the future (borrowed) and its argument. */
typedef void (*weft_future_callback)(weft_future *future, void *arg);

/* Make a pending future (a promise).  WEFT_OK, WEFT_EINVAL (NULL) or
 * WEFT_ENOMEM (*future NULL then).  Python: Future(). */
WEFT_API int weft_future_new(weft_future **future);

/* Add a reference; returns `future`.  Drop one; the last frees it. */
WEFT_API weft_future *weft_future_ref(weft_future *future);
WEFT_API void weft_future_release(weft_future *future);

/* Cancel if still pending: true then (and also if already cancelled);
 * false when running or finished.  A running future gets a cancellation
 * request its task can see with weft_cancelled() (beyond Python).
 * Python: f.cancel(). */
WEFT_API bool weft_future_cancel(weft_future *future);

/* Python: f.cancelled(), f.running(), f.done() (done is also true for
 * cancelled futures). */
WEFT_API bool weft_future_cancelled(weft_future *future);
WEFT_API bool weft_future_running(weft_future *future);
WEFT_API bool weft_future_done(weft_future *future);
WEFT_API weft_future_state weft_future_get_state(weft_future *future);

/* Wait (forever) for the outcome.  WEFT_OK: *result is the task's result
 * (may be NULL; you own it if it is memory: see "Who owns a result");
 * WEFT_EFAILED when the task failed (the error is in
 * weft_future_error_code/_message: Python re-raises it); WEFT_ECANCELLED
 * (CancelledError); WEFT_EINVAL for a NULL future.  On every status but
 * WEFT_OK, *result is NULL.  result may be NULL.  A task waiting on a
 * future of its own pool runs queued tasks of that pool meanwhile
 * (weft/executor.h).  Python: f.result(). */
WEFT_API int weft_future_result(weft_future *future, void **result);

/* As result, waiting at most `timeout` seconds (0 or negative: only look):
 * WEFT_ETIMEDOUT if not done by then (TimeoutError); WEFT_EINVAL also for
 * NaN or a finite timeout above WEFT_TIMEOUT_MAX.  *result as for result.
 * Python: f.result(timeout). */
WEFT_API int weft_future_result_timeout(weft_future *future, double timeout, void **result);

/* Wait (forever / at most `timeout` seconds), then report the error.
 * WEFT_OK: *code is 0 and *message NULL when the future succeeded (Python's
 * None), or its error code and message (NULL if it has none; the future's,
 * valid while you hold a reference) when it failed.  WEFT_ECANCELLED
 * (CancelledError); WEFT_ETIMEDOUT; WEFT_EINVAL (NULL future, NaN or too
 * large a timeout).  On every status but WEFT_OK, *code is 0 and *message
 * NULL.  code and message may be NULL.
 * Python: f.exception(), f.exception(timeout). */
WEFT_API int weft_future_exception(weft_future *future, int *code, const char **message);
WEFT_API int weft_future_exception_timeout(weft_future *future, double timeout, int *code,
                                           const char **message);

/* The error of a failed future: its code (0 if it did not fail) and its
 * message ("" if none; valid while you hold a reference).  A task
 * cancelled with a message (weft_task_cancel) has that message here.
 * Python: the exception's str(), CancelledError(msg). */
WEFT_API int weft_future_error_code(weft_future *future);
WEFT_API const char *weft_future_error_message(weft_future *future);

/* Call fn(future, arg) once the future is done (finished or cancelled), in
 * the thread that completes it; at once, in this thread, if it already is.
 * Callbacks run in the order added.  WEFT_OK; WEFT_ENOMEM (not added);
 * WEFT_EINVAL for NULL.  Python: f.add_done_callback(fn). */
WEFT_API int weft_future_add_done_callback(weft_future *future, weft_future_callback fn, void *arg);

/* Complete a pending or running future with a result / an error (code must
 * be nonzero; the message is formatted like printf and may be NULL).
 * WEFT_OK; WEFT_ESTATE when already finished or cancelled (Python's
 * InvalidStateError: the result stays yours then); WEFT_EINVAL.  The
 * future never frees the result (see "Who owns a result").
 * Python: f.set_result(r), f.set_exception(e). */
WEFT_API int weft_future_set_result(weft_future *future, void *result);
WEFT_API int weft_future_set_exception(weft_future *future, int code, const char *format, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* For whoever runs the work: WEFT_OK and the future is now RUNNING;
 * WEFT_ECANCELLED if it was cancelled (it becomes CANCELLED_AND_NOTIFIED
 * and waiters in weft_wait/as_completed see it: Python returns False);
 * WEFT_ESTATE if it is running, finished or already notified (Python's
 * RuntimeError "Future in unexpected state"); WEFT_EINVAL.
 * Python: f.set_running_or_notify_cancel(). */
WEFT_API int weft_future_set_running_or_notify_cancel(weft_future *future);

/* "<weft_future at 0x…: state=finished returned 0x2a>" and the like, as
 * snprintf.  Python: repr(f). */
WEFT_API int weft_future_repr(weft_future *future, char *buf, size_t size);

/* ---- waiting for many ------------------------------------------------------ */

typedef enum weft_return_when {
    WEFT_ALL_COMPLETED = 0,
    WEFT_FIRST_COMPLETED = 1,
    WEFT_FIRST_EXCEPTION = 2,
} weft_return_when;

/* Wait until the condition holds for futures[0..n-1] (the same future may
 * appear more than once), at most `timeout` seconds (WEFT_FOREVER: no
 * limit; 0 or negative: only look).  done[i] (done may be NULL) says
 * whether futures[i] is done: finished or CANCELLED_AND_NOTIFIED (a bare
 * CANCELLED future is not, as in Python).  FIRST_EXCEPTION returns when any
 * finished with an error, else behaves as ALL_COMPLETED.  WEFT_OK when the
 * condition holds; WEFT_ETIMEDOUT when the timeout passed first (Python
 * returns the sets all the same; so does done[]); WEFT_ECANCELLED in a
 * cancellable task that was cancelled (done[] filled as well); WEFT_EINVAL
 * for NULL futures with n > 0, a NULL entry, NaN, or an unknown return_when
 * when it would have to wait; WEFT_ENOMEM.  On WEFT_EINVAL and WEFT_ENOMEM
 * every done[i] is false.  A task waiting on futures of its own pool runs
 * queued tasks of that pool meanwhile (weft/executor.h).
 * Python: concurrent.futures.wait(fs, timeout, return_when). */
WEFT_API int weft_wait(weft_future *const *futures, size_t n, double timeout, weft_return_when when,
                       bool *done);

/* as_completed: an iterator that yields each distinct future once, as it
 * completes (those already done first).  The timeout counts from _new.  A
 * task iterating over futures of its own pool runs queued tasks of that
 * pool while it waits (weft/executor.h). */
typedef struct weft_as_completed weft_as_completed;

/* WEFT_OK and *it set; WEFT_EINVAL (NULL arguments with n > 0, a NULL
 * entry, NaN); WEFT_ENOMEM; *it is NULL on every status but WEFT_OK.  The
 * iterator holds references to the futures it has not yielded yet.
 * Python: as_completed(fs, timeout). */
WEFT_API int weft_as_completed_new(weft_as_completed **it, weft_future *const *futures, size_t n,
                                   double timeout);

/* Next completed future.  WEFT_OK: *future is a completed future (a new
 * reference: give it back with weft_future_release); WEFT_ESTOP once every
 * future was yielded (StopIteration), and again on every later call;
 * WEFT_ETIMEDOUT when the timeout passed (Python's TimeoutError "N (of M)
 * futures unfinished": see weft_as_completed_unfinished); WEFT_ECANCELLED
 * in a cancellable task that was cancelled; WEFT_EINVAL (NULL arguments).
 * On every status but WEFT_OK, *future is NULL.  Loop with
 * `while (weft_as_completed_next(it, &f) == WEFT_OK) { ... }`. */
WEFT_API int weft_as_completed_next(weft_as_completed *it, weft_future **future);

/* How many futures have not been yielded, and how many there are in all. */
WEFT_API size_t weft_as_completed_unfinished(const weft_as_completed *it);
WEFT_API size_t weft_as_completed_total(const weft_as_completed *it);

/* Free the iterator (releasing the futures it still holds). */
WEFT_API void weft_as_completed_free(weft_as_completed *it);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_FUTURE_H */
