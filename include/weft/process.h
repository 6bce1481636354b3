/* SPDX-License-Identifier: MIT */
/* weft/process.h — child processes and the process pool.  Python:
 * multiprocessing.Process and concurrent.futures.ProcessPoolExecutor.
 *
 * C has no GIL: weft's thread pool already runs CPU-bound work on every
 * core.  Processes are for isolation: work that may crash, leak, hang or
 * must be killed without taking the program down.
 *
 *     weft_process *p;
 *     weft_process_new(&p, target, arg, NULL);   // Process(target=, args=)
 *     weft_process_start(p);                      // p.start(): fork
 *     weft_process_join(p);                       // p.join()
 *     int code;
 *     weft_process_exitcode(p, &code);            // p.exitcode
 *     weft_process_free(p);
 *
 *     weft_executor *pool;
 *     weft_process_pool_new(&pool, NULL);         // ProcessPoolExecutor()
 *     weft_future *f;
 *     weft_process_pool_submit_bytes(pool, parse, text, len, &f);
 *     const weft_bytes *out;
 *     weft_future_result_bytes(f, &out);          // f.result(): owned by f
 *
 * Both fork(): the child is a copy of the parent made by the forking thread
 * alone, running the same program, so a function pointer means the same
 * function there and no "spawn" or pickling is needed.  What crosses back
 * is an exit status (weft_process) or bytes (the pool).
 *
 * Fork safety.  Only the forking thread exists in a child; a lock another
 * thread held at the fork stays held there.  weft takes its own internal
 * locks around every fork (pthread_atfork), so weft calls work in a child,
 * and glibc does the same for malloc and stdio.  A lock of the program's
 * own (a weft_lock, a pthread mutex) held by another thread at the fork
 * stays held in the child: a child task must not take locks that other
 * threads of the parent may hold, just as POSIX says of any fork.  The
 * child's other weft threads do not exist (weft_enumerate lists only the
 * forking thread); executors of the parent are not usable in the child.
 *
 * Not applicable to C: start methods "spawn" and "forkserver" (a C program
 * has no importable __main__ to re-run: fork is the only way to run a
 * function pointer in a child), pickling (bytes cross the boundary), args/
 * kwargs (one void * as for threads), Process.authkey, and
 * current_process()/parent_process() objects (use getpid()/getppid(), and
 * weft_process_current_name() for the name).
 */
#ifndef WEFT_PROCESS_H
#define WEFT_PROCESS_H

#include "weft/executor.h"
#include "weft/future.h"
#include "weft/thread.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- bytes ---------------------------------------------------------------- */

/* An owned run of bytes: what crosses between a parent and a pool worker. */
typedef struct weft_bytes {
    size_t size;
#if defined(__cplusplus) && defined(__GNUC__)
/* C++ has no flexible array member; GCC and Clang accept C's as an
 * extension with the same layout, which -Wpedantic would flag. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
    unsigned char data[];
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
} weft_bytes;

/* A new weft_bytes holding a copy of data[0..size) (data may be NULL when
 * size is 0), or uninitialized room for size bytes; NULL when memory runs
 * out.  Free with weft_bytes_free. */
weft_bytes *weft_bytes_new(const void *data, size_t size);
weft_bytes *weft_bytes_alloc(size_t size);
void weft_bytes_free(weft_bytes *bytes);

/* ---- weft_process --------------------------------------------------------- */

/* A child's target: its return value (0-255) is the child's exit status. */
typedef int (*weft_process_fn)(void *arg);

typedef struct weft_process weft_process;

typedef struct weft_process_options {
    const char *name;        /* NULL: "Process-N" */
    weft_daemon_mode daemon; /* default: inherit (the main process: not a daemon) */
} weft_process_options;

/* Create (not start) a process that will run target(arg) in a forked child
 * (target may be NULL: the child exits with status 0).
 * WEFT_OK; WEFT_EINVAL (NULL process, bad daemon mode);
 * WEFT_ENOMEM; *process is NULL on every status but WEFT_OK.
 * Python: multiprocessing.Process(target=, args=, name=, daemon=). */
int weft_process_new(weft_process **process, weft_process_fn target, void *arg,
                     const weft_process_options *options);

/* Fork the child.  WEFT_OK; WEFT_ESTATE if already started or closed
 * (Python's AssertionError "cannot start a process twice"); WEFT_EAGAIN (the
 * OS refused: process limit); WEFT_ENOMEM; WEFT_EINVAL for NULL.
 * Python: p.start(). */
int weft_process_start(weft_process *process);

/* Wait for the child to end, then reap it (no zombie is left).  With a
 * timeout (seconds; 0 or negative: do not wait): WEFT_ETIMEDOUT if it is
 * still running (Python returns None with the child alive).  WEFT_OK once it
 * has ended; WEFT_ESTATE if not started or closed; WEFT_EINVAL for NULL or
 * NaN.  Safe from several threads.  Python: p.join(timeout). */
int weft_process_join(weft_process *process);
int weft_process_join_timeout(weft_process *process, double timeout);

/* Started and not yet ended.  Python: p.is_alive() (ValueError after close:
 * here false). */
bool weft_process_is_alive(weft_process *process);

/* The child's exit status in *exitcode once it has ended: the target's
 * return value, or minus the number of the signal that ended it (-15 after
 * terminate, -9 after kill), as Python.  WEFT_OK; WEFT_EAGAIN while it runs
 * or before start (Python's None); WEFT_ESTATE after close; WEFT_EINVAL.
 * Python: p.exitcode. */
int weft_process_exitcode(weft_process *process, int *exitcode);

/* The child's process id; 0 before start.  Python: p.pid / p.ident. */
long weft_process_pid(const weft_process *process);

/* The name given or made ("Process-N").  Python: p.name. */
const char *weft_process_name(const weft_process *process);

/* Daemon flag, changeable before start only (WEFT_ESTATE after).  Daemon
 * children still running at normal process exit are terminated (SIGTERM)
 * and reaped; non-daemon ones are waited for, as Python's atexit does.
 * Python: p.daemon. */
bool weft_process_daemon(const weft_process *process);
int weft_process_set_daemon(weft_process *process, bool daemon);

/* Send SIGTERM / SIGKILL / SIGINT to a running child (nothing when it has
 * already ended).  WEFT_OK; WEFT_ESTATE if not started or closed;
 * WEFT_EINVAL.  Python: p.terminate(), p.kill(), p.interrupt(). */
int weft_process_terminate(weft_process *process);
int weft_process_kill(weft_process *process);
int weft_process_interrupt(weft_process *process);

/* A descriptor that becomes readable when the child ends, for poll()/
 * select() loops.  WEFT_OK; WEFT_ESTATE before start or after close
 * (Python's ValueError); WEFT_EINVAL.  Python: p.sentinel. */
int weft_process_sentinel(const weft_process *process, int *fd);

/* Release the child's resources (its sentinel).  WEFT_ESTATE while it runs
 * (Python's ValueError); WEFT_OK otherwise, and again (idempotent).  Then
 * join, terminate, kill, sentinel report WEFT_ESTATE.  Python: p.close(). */
int weft_process_close(weft_process *process);

/* Free the object.  A child still running is not stopped: weft keeps it in
 * its list and reaps it later (at exit: waits for it, or terminates it if a
 * daemon), so no zombie is left.  NULL is ignored. */
void weft_process_free(weft_process *process);

/* "<weft_process(Process-1, started 1234)>" and the like, as snprintf.
 * Python: repr(p). */
int weft_process_repr(const weft_process *process, char *buf, size_t size);

/* The name of the calling process: "MainProcess", or the weft_process's
 * name in its child.  Python: current_process().name. */
const char *weft_process_current_name(void);

/* ---- the process pool ------------------------------------------------------ */

/* A bytes task: receives a copy of the submitted bytes, returns the result
 * bytes (from weft_bytes_new/alloc; the pool frees them after sending; NULL
 * for none) or weft_fail(code, "...") to fail its future. */
typedef weft_bytes *(*weft_bytes_fn)(const void *data, size_t size);

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
int weft_process_pool_new(weft_executor **executor, const weft_process_pool_options *options);

/* Submit fn(copy of data[0..size)) to a process pool.  The future's result
 * is a weft_bytes * (NULL if fn returned NULL) that the future owns: valid
 * until its last reference is released.  WEFT_OK; WEFT_ESHUTDOWN after
 * shutdown; WEFT_EBROKEN when the pool is broken; WEFT_EINVAL (NULL
 * executor or fn, data NULL with size > 0, not a process pool);
 * WEFT_ENOMEM.  *future is NULL on every status but WEFT_OK.
 * Python: executor.submit(fn, data) with bytes. */
int weft_process_pool_submit_bytes(weft_executor *executor, weft_bytes_fn fn, const void *data,
                                   size_t size, weft_future **future);

/* A bytes future's result: waits like weft_future_result (forever) /
 * weft_future_result_timeout (at most `timeout` seconds), then returns what
 * that returns, or WEFT_EINVAL when the future finished with a result that
 * is not bytes (not from submit_bytes).  On WEFT_OK *result is the
 * weft_bytes, or NULL when the task returned none; on every other status
 * it is NULL (result may be NULL).  The bytes belong to the future: valid
 * while you hold a reference to it, freed with its last one; never free
 * them yourself (copy them with weft_bytes_new to keep them longer).
 * Python: f.result(), f.result(timeout) of a bytes task. */
int weft_future_result_bytes(weft_future *future, const weft_bytes **result);
int weft_future_result_bytes_timeout(weft_future *future, double timeout,
                                     const weft_bytes **result);

/* Stop the pool now: signal every worker (SIGTERM / SIGKILL), fail running
 * tasks (WEFT_ECANCELLED), cancel pending ones and shut the pool down
 * without waiting.  Nothing is signalled if no worker is alive.  WEFT_OK;
 * WEFT_EINVAL (NULL or not a process pool).  Python 3.14:
 * executor.terminate_workers(), executor.kill_workers(). */
int weft_process_pool_terminate_workers(weft_executor *executor);
int weft_process_pool_kill_workers(weft_executor *executor);

#ifdef __cplusplus
}
#endif

#endif
