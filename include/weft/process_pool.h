/* SPDX-License-Identifier: MIT */
/* weft/process_pool.h — the process pool and the bytes it exchanges.
 * Python: concurrent.futures.ProcessPoolExecutor.
 *
 *     weft_executor *pool;
 *     weft_process_pool_new(&pool, NULL);         // ProcessPoolExecutor()
 *     weft_future *f;
 *     weft_process_pool_submit_bytes(pool, parse, text, len, &f);
 *     const weft_bytes *out;
 *     weft_future_result_bytes(f, &out);          // f.result(): owned by f
 *
 * A process pool is a weft_executor (weft/executor.h): submit, map, wait,
 * as_completed and shutdown are the executor's, as for threads.  Its
 * workers are forked children, as weft_process's are (weft/process.h,
 * "Fork safety"): a function pointer means the same function in a worker,
 * and what crosses back is bytes (or a number passed by value), so no
 * pickling is needed.
 */
#ifndef WEFT_PROCESS_POOL_H
#define WEFT_PROCESS_POOL_H

#include "weft/bytes.h"
#include "weft/executor.h"
#include "weft/export.h"
#include "weft/future.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the process pool ------------------------------------------------------ */

/* Process pool options; a zeroed struct (or NULL) gives Python's defaults. */
typedef struct weft_process_pool_options {
    long max_workers;              /* 0: the number of CPUs; < 0 is WEFT_EINVAL */
    int (*initializer)(void *arg); /* run first in each worker; nonzero
                                      breaks the pool, as in Python */
    void *initializer_arg;
    long max_tasks_per_child;      /* 0: no limit; else a worker is replaced
                                      after this many tasks */
    double task_timeout;           /* 0: none; else a task running longer is
                                      killed with its worker: its future
                                      fails with WEFT_ETIMEDOUT (beyond Python) */
    size_t max_memory;             /* 0: none; else each worker's memory cap
                                      in bytes, at least
                                      WEFT_PROCESS_POOL_MIN_MEMORY (beyond
                                      Python: see below) */
} weft_process_pool_options;

/* The smallest nonzero max_memory: below it a worker has no room to run. */
#define WEFT_PROCESS_POOL_MIN_MEMORY ((size_t)1 << 20)

/* Create a process pool and fork its max_workers workers (as Python's fork
 * context does).  Submit work with weft_executor_submit (fn and arg cross
 * as they are: arg and the result are passed by value, so use them for
 * numbers, not for pointers to memory made after the fork) or with
 * weft_process_pool_submit_bytes; map, wait, as_completed and shutdown are
 * the executor's, as for threads.
 *
 * Beyond Python: a worker that dies (crash, abort, exit, killed from
 * outside) fails only the task it was running, with WEFT_EBROKEN and a
 * message naming the signal or exit status, and is replaced; cancelling a
 * running task's future (weft_future_cancel still returns false, as in
 * Python) or exceeding task_timeout kills its worker, fails the future with
 * WEFT_ECANCELLED / WEFT_ETIMEDOUT, and replaces the worker.  A task that
 * waits on futures of its own pool cannot be helped (the worker is another
 * process): don't.
 *
 * Memory cap (beyond Python, which has none): with max_memory, each worker
 * may map at most that many bytes of private writable memory (heap,
 * anonymous mappings, the stacks of threads it starts: 8 MiB each by
 * default) on top of what it inherited at the fork, its initializer's
 * included; shared mappings, read-only file mappings and the main stack
 * do not count.  It counts what is allocated, touched or not (malloc(n)
 * counts n), and memory given back to the system counts no more (glibc
 * unmaps large blocks at once; a leak stays counted until the worker is
 * replaced).  Past the cap malloc returns NULL (Linux's RLIMIT_DATA, set
 * in the worker).  A task that checks for it should fail with WEFT_ENOMEM
 * (weft_fail(WEFT_ENOMEM, ...)); a task that crashes instead (SIGSEGV,
 * SIGBUS or SIGABRT with errno ENOMEM set during that task, or with less
 * than 1 MiB, or a sixteenth of the cap if that is less, left under it) is
 * recognised too.  Either way its future fails with WEFT_ENOMEM
 * and a message saying "the worker process P running this task exceeded
 * its memory cap of N bytes", its worker is replaced, and the pool carries
 * on.  (A capped worker's task that fails with WEFT_ENOMEM for another
 * reason is treated the same.)  Supported on Linux, in builds without
 * AddressSanitizer, ThreadSanitizer or MemorySanitizer (their shadow
 * memory and allocators make such a cap meaningless): elsewhere a nonzero
 * max_memory is WEFT_EINVAL.
 *
 * WEFT_OK; WEFT_EINVAL (NULL executor, negative max_workers,
 * max_tasks_per_child or task_timeout, NaN timeout, max_memory below
 * WEFT_PROCESS_POOL_MIN_MEMORY or above SIZE_MAX / 2 (a negative number
 * converted), or nonzero where unsupported); WEFT_EAGAIN (could not fork or
 * start a thread); WEFT_ENOMEM; *executor is NULL on every status but
 * WEFT_OK.
 * Python: ProcessPoolExecutor(max_workers, mp_context=fork, initializer,
 * initargs, max_tasks_per_child). */
WEFT_API int weft_process_pool_new(weft_executor **executor,
                                   const weft_process_pool_options *options);

/* Submit fn(copy of data[0..size)) to a process pool.  The future's result
 * is a weft_bytes * (NULL if fn returned NULL) that the future owns: valid
 * until its last reference is released.  WEFT_OK; WEFT_ESHUTDOWN after
 * shutdown; WEFT_EBROKEN when the pool is broken; WEFT_EINVAL (NULL
 * executor or fn, data NULL with size > 0, not a process pool);
 * WEFT_ENOMEM.  *future is NULL on every status but WEFT_OK.
 * Python: executor.submit(fn, data) with bytes. */
WEFT_API int weft_process_pool_submit_bytes(weft_executor *executor, weft_bytes_fn fn,
                                            const void *data, size_t size, weft_future **future);

/* A bytes future's result: waits like weft_future_result (forever) /
 * weft_future_result_timeout (at most `timeout` seconds), then returns what
 * that returns, or WEFT_EINVAL when the future finished with a result that
 * is not bytes (not from submit_bytes).  On WEFT_OK *result is the
 * weft_bytes, or NULL when the task returned none; on every other status
 * it is NULL (result may be NULL).  The bytes belong to the future: valid
 * while you hold a reference to it, freed with its last one; never free
 * them yourself (copy them with weft_bytes_new to keep them longer).
 * Python: f.result(), f.result(timeout) of a bytes task. */
WEFT_API int weft_future_result_bytes(weft_future *future, const weft_bytes **result);
WEFT_API int weft_future_result_bytes_timeout(weft_future *future, double timeout,
                                              const weft_bytes **result);

/* Stop the pool now: signal every worker (SIGTERM / SIGKILL), fail running
 * tasks (WEFT_ECANCELLED), cancel pending ones and shut the pool down
 * without waiting.  Nothing is signalled if no worker is alive.  WEFT_OK;
 * WEFT_EINVAL (NULL or not a process pool).  Python 3.14:
 * executor.terminate_workers(), executor.kill_workers(). */
WEFT_API int weft_process_pool_terminate_workers(weft_executor *executor);
WEFT_API int weft_process_pool_kill_workers(weft_executor *executor);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_PROCESS_POOL_H */
