/* SPDX-License-Identifier: MIT */
/* weft/executor.h — executors and the thread pool.
 * Python: concurrent.futures.Executor, ThreadPoolExecutor.
 *
 *     weft_executor *pool;
 *     weft_thread_pool_new(&pool, NULL);             // ThreadPoolExecutor()
 *     weft_future *f;
 *     weft_executor_submit(pool, work, arg, &f);     // pool.submit(work, arg)
 *     void *result;
 *     weft_future_result(f, &result);                 // f.result()
 *     weft_future_release(f);
 *     weft_executor_free(pool);                       // shutdown(wait=True)
 *
 * Every executor (the thread pool here, the process pool of
 * weft/process_pool.h) is used through these same calls.  There is no GIL
 * in C: a thread pool runs CPU-bound tasks in parallel too.
 *
 * Beyond Python: a task waiting on a future of its own pool runs queued
 * tasks of that pool meanwhile, so a pool of one thread whose task waits on
 * another task does not deadlock; the pending work can be bounded
 * (max_pending) with submit blocking, timing out or failing fast; the pool
 * reports statistics and can be resized while it runs.
 *
 * Order: tasks submitted from outside a thread pool start in submission
 * order, as in Python; a task submitted by a task of the same pool goes to
 * the running worker's own queue, which it runs newest first while idle
 * workers take the oldest (so nested work stays on one core's cache).  A
 * pool of one worker, or one with max_pending, keeps submission order for
 * every task.
 *
 * Helping covers every wait on futures of the caller's own pool:
 * weft_future_result and _exception (and their _timeout forms), weft_wait
 * with any return_when, the as_completed iterator and weft_map_next.
 *
 * Results.  The executor never frees what a task returns: whoever takes it
 * from the future owns it (weft/future.h, "Who owns a result").  Results
 * nobody takes are not freed: tasks submitted with a NULL future (fire and
 * forget), futures released unread, and the calls of a map iterator freed
 * early that were already running.  Cancelled tasks never ran and have no
 * result.  To free such results, add a done-callback to the future, which
 * runs whether or not anyone reads it, or return memory the program keeps
 * track of itself.
 *
 * Out-parameters are NULL on every status but WEFT_OK, and iterators end
 * with WEFT_ESTOP (weft/future.h; docs/python.md, "Conventions").
 *
 * At normal process exit, executors still running are shut down without
 * cancelling: queued tasks complete, then the workers end (as Python's
 * interpreter exit does).
 */
#ifndef WEFT_EXECUTOR_H
#define WEFT_EXECUTOR_H

#include "weft/export.h"
#include "weft/future.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_executor weft_executor;

/* Thread pool options; a zeroed struct (or NULL) gives Python's defaults. */
typedef struct weft_thread_pool_options {
    long max_workers;               /* 0: min(32, CPUs + 4); < 0 is WEFT_EINVAL */
    const char *thread_name_prefix; /* NULL: "ThreadPoolExecutor-N"; workers
                                       are named PREFIX_0, PREFIX_1, ... */
    int (*initializer)(void *arg);  /* run first in each worker; nonzero
                                       breaks the pool */
    void *initializer_arg;
    long max_pending;               /* 0: unbounded; else at most this many
                                       tasks wait for a worker */
} weft_thread_pool_options;

/* Create a thread pool.  Workers start on demand, up to max_workers.
 * WEFT_OK; WEFT_EINVAL (NULL executor, max_workers or max_pending < 0:
 * Python's ValueError "max_workers must be greater than 0"); WEFT_ENOMEM;
 * *executor is NULL on every status but WEFT_OK.
 * Python: ThreadPoolExecutor(max_workers, thread_name_prefix, initializer,
 * initargs). */
WEFT_API int weft_thread_pool_new(weft_executor **executor,
                                  const weft_thread_pool_options *options);

/* Idle worker threads.  When a thread-pool worker ends (shutdown, or a
 * resize down), its OS thread does not exit at once: it waits, parked, up to
 * `seconds` (default 30) to become a worker of a later pool, because creating
 * an OS thread costs tens of microseconds (1000 of them: 30-70 ms) while
 * handing work to a parked one costs a wake-up.  A program that fans out to
 * a fresh pool again and again pays thread creation once.  Pool semantics do
 * not change: shutdown still waits for every worker to end, the parked
 * threads are not weft threads (weft_enumerate does not list them), and each
 * new worker is a new weft_thread with its own name, ident and weft_local
 * data.  What does carry over is plain C thread-local storage
 * (_Thread_local) a task left set, as it already does between the tasks of
 * one pool; and `ps -T` shows the parked threads.  After fork() the child
 * starts with none.  0 makes workers' OS threads exit as soon as they end,
 * as Python's do, and ends the idle ones now (they exit shortly after).
 * WEFT_OK; WEFT_EINVAL (negative or NaN).
 * Python: none (Java's cached thread pool keeps idle threads 60 s). */
WEFT_API int weft_thread_pool_set_idle_keep(double seconds);

/* The number of OS threads parked now, waiting to serve as pool workers. */
WEFT_API size_t weft_thread_pool_idle_threads(void);

/* Schedule fn(arg).  *future (future may be NULL when the result is not
 * wanted) receives a new reference on WEFT_OK, and is NULL on every other
 * status: nothing was scheduled then, and there is nothing to release.
 * When max_pending tasks already wait, submit waits for room.  WEFT_OK;
 * WEFT_ESHUTDOWN after shutdown (Python's RuntimeError "cannot schedule new
 * futures after shutdown"); WEFT_EBROKEN once an initializer failed
 * (BrokenThreadPool); WEFT_EINVAL for NULL executor or fn; WEFT_ENOMEM;
 * WEFT_EAGAIN if no worker could be started and none runs.
 * Python: executor.submit(fn, arg). */
WEFT_API int weft_executor_submit(weft_executor *executor, weft_task_fn fn, void *arg,
                                  weft_future **future);

/* As submit, waiting at most `timeout` seconds for room when the pool is
 * bounded and full: WEFT_EFULL then (0: fail at once).  Beyond Python. */
WEFT_API int weft_executor_submit_timeout(weft_executor *executor, weft_task_fn fn, void *arg,
                                          double timeout, weft_future **future);

/* Stop accepting work.  cancel_futures cancels the tasks not yet started
 * (their futures become cancelled and notified).  With wait, return once
 * every started and queued task has finished and the workers have exited
 * (from a task of this pool, every worker but the caller's own; from a
 * done-callback that a process pool runs on one of its own threads, it
 * does not wait, as that thread is one of those waited for).  Calling it
 * again is allowed.  WEFT_OK; WEFT_ECANCELLED when a cancellable task
 * (weft_cancellable) calling it with wait is cancelled while it waits (the
 * shutdown holds; weft_executor_free still waits for everything);
 * WEFT_EINVAL for NULL.
 * Python: executor.shutdown(wait, cancel_futures=...). */
WEFT_API int weft_executor_shutdown(weft_executor *executor, bool wait, bool cancel_futures);

/* Shut down, and wait at most `timeout` seconds for the tasks to finish and
 * the workers to exit (beyond Python, whose shutdown(wait=True) cannot time
 * out).  The shutdown holds either way: WEFT_OK when everything finished in
 * time; WEFT_ETIMEDOUT when some task still runs (a later
 * weft_executor_shutdown, _shutdown_timeout or weft_executor_free waits for
 * it); WEFT_ECANCELLED as for weft_executor_shutdown; WEFT_EINVAL for
 * NULL, NaN or a finite timeout above WEFT_TIMEOUT_MAX (a negative timeout
 * is 0: look once).  From one of the
 * pool's own tasks or threads it skips them, as weft_executor_shutdown
 * does. */
WEFT_API int weft_executor_shutdown_timeout(weft_executor *executor, double timeout,
                                            bool cancel_futures);

/* Shut down with wait, then free the executor; it waits for every task and
 * worker, even in a cancelled cancellable task.  WEFT_OK; WEFT_ESTATE when
 * called from one of its own tasks, or from a done-callback running on one
 * of its threads (a thread pool's worker, a process pool's minder or a
 * thread taking its replies while it waits): nothing is freed then, free
 * it later from another thread.  WEFT_EINVAL for NULL.
 * Python: leaving `with ThreadPoolExecutor() as pool:`. */
WEFT_API int weft_executor_free(weft_executor *executor);

/* ---- map ------------------------------------------------------------------ */

/* Iterating results of weft_executor_map, in input order. */
typedef struct weft_map weft_map;

/* Where map's arguments come from when they are not an array: store the
 * next one in *arg and return true, or return false when there are no more
 * (Python: any iterable, including an infinite one). */
typedef bool (*weft_map_source)(void *ctx, void **arg);

typedef struct weft_map_options {
    long chunksize;  /* accepted for Python's sake; the pools ignore it (a
                        process pool's hand-off costs about a microsecond, so
                        it sends tasks one by one; results are the same);
                        < 0 is WEFT_EINVAL */
    long buffersize; /* 0: submit every task at once (Python's None); else
                        at most this many tasks in flight, each next()
                        submitting one more before it waits (3.14); < 0 is
                        WEFT_EINVAL */
} weft_map_options;

/* Call fn on each of args[0..n-1] through the executor.  Without a
 * buffersize every task is submitted before this returns.  `timeout`
 * (seconds; WEFT_FOREVER for none) counts from this call for the whole
 * iteration.  WEFT_OK and *it set; WEFT_ESHUTDOWN / WEFT_EBROKEN as for
 * submit (nothing is left running); WEFT_EINVAL (NULL arguments, NaN,
 * negative chunksize or buffersize); WEFT_ENOMEM; *it is NULL on every
 * status but WEFT_OK.
 * Python: executor.map(fn, iterable, timeout, chunksize, buffersize). */
WEFT_API int weft_executor_map(weft_executor *executor, weft_task_fn fn, void *const *args,
                               size_t n, double timeout, const weft_map_options *options,
                               weft_map **it);

/* As weft_executor_map, taking arguments from a source callback. */
WEFT_API int weft_executor_map_source(weft_executor *executor, weft_task_fn fn,
                                      weft_map_source source, void *ctx, double timeout,
                                      const weft_map_options *options, weft_map **it);

/* The next result, in input order.  WEFT_OK: *result is that call's
 * result (yours to free if it is memory); WEFT_EFAILED when that call
 * failed (see weft_map_error_code/_message; iteration goes on, as in
 * Python 3.15); WEFT_ECANCELLED when it was cancelled (iteration goes on);
 * WEFT_ETIMEDOUT when the map's timeout passed (the remaining calls are
 * cancelled and the iteration is over); WEFT_ESTOP when there are no more
 * results (StopIteration), and again on every later call; WEFT_ESHUTDOWN /
 * WEFT_EBROKEN when a buffered map could not submit its next call (the
 * iteration is over); WEFT_EINVAL for NULL.  On every status but WEFT_OK,
 * *result is NULL.  Loop with
 * `while ((rc = weft_map_next(it, &r)) != WEFT_ESTOP) { if (rc == WEFT_OK) ... }`
 * to see every element, or `while (weft_map_next(it, &r) == WEFT_OK)` to
 * stop at the first one that did not succeed. */
WEFT_API int weft_map_next(weft_map *it, void **result);

/* The error of the element weft_map_next last reported as WEFT_EFAILED. */
WEFT_API int weft_map_error_code(const weft_map *it);
WEFT_API const char *weft_map_error_message(const weft_map *it);

/* Free the iterator; calls not started yet are cancelled (Python: closing
 * the result generator).  Calls already running finish, and their results
 * are dropped unread (not freed: see "Results" above). */
WEFT_API void weft_map_free(weft_map *it);

/* A snapshot of what the executor is doing (beyond Python). */
typedef struct weft_executor_stats {
    size_t workers;     /* threads (or processes) alive */
    size_t idle;        /* workers waiting for work */
    size_t queued;      /* tasks waiting for a worker */
    size_t running;     /* tasks running now */
    size_t completed;   /* tasks finished since creation */
    double queued_seconds; /* total time finished tasks spent waiting for a
                              worker: an estimate, from one task in 16 */
    long max_workers;
} weft_executor_stats;

/* WEFT_OK or WEFT_EINVAL (NULL arguments). */
WEFT_API int weft_executor_stats_get(weft_executor *executor, weft_executor_stats *stats);

/* Change max_workers while the pool runs: growing starts workers at once
 * for the tasks already queued (up to the new limit) and lets more start as
 * work arrives; shrinking makes surplus workers exit, idle ones at once
 * and busy ones when their current task ends.
 * WEFT_OK; WEFT_EINVAL (NULL, max_workers < 1); WEFT_ESHUTDOWN.
 * Beyond Python. */
WEFT_API int weft_executor_resize(weft_executor *executor, long max_workers);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_EXECUTOR_H */
