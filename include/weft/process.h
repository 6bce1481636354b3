/* SPDX-License-Identifier: MIT */
/* weft/process.h — child processes.  Python: multiprocessing.Process.
 *
 * C has no GIL: weft's thread pool already runs CPU-bound work on every
 * core.  Processes are for isolation: work that may crash, leak, hang or
 * must be killed without taking the program down.  The process pool
 * (ProcessPoolExecutor) is weft/process_pool.h.
 *
 *     weft_process *p;
 *     weft_process_new(&p, target, arg, NULL);   // Process(target=, args=)
 *     weft_process_start(p);                      // p.start(): fork
 *     weft_process_join(p);                       // p.join()
 *     int code;
 *     weft_process_exitcode(p, &code);            // p.exitcode
 *     weft_process_free(p);
 *
 * start() forks: the child is a copy of the parent made by the forking
 * thread alone, running the same program, so a function pointer means the
 * same function there and no "spawn" or pickling is needed.  What crosses
 * back is the child's exit status.
 *
 * Fork safety (the process pool's workers too).  Only the forking thread
 * exists in a child; a lock another thread held at the fork stays held
 * there.  weft takes its own internal locks around every fork
 * (pthread_atfork), so weft calls work in a child, and glibc does the same
 * for malloc and stdio.  A lock of the program's own (a weft_lock, a
 * pthread mutex) held by another thread at the fork stays held in the
 * child: a child task must not take locks that other threads of the parent
 * may hold, just as POSIX says of any fork.  The child's other weft threads
 * do not exist (weft_enumerate lists only the forking thread); executors of
 * the parent are not usable in the child.
 *
 * Not applicable to C: start methods "spawn" and "forkserver" (a C program
 * has no importable __main__ to re-run: fork is the only way to run a
 * function pointer in a child), pickling, args/kwargs (one void * as for
 * threads), Process.authkey, and current_process()/parent_process() objects
 * (use getpid()/getppid(), and weft_process_current_name() for the name).
 */
#ifndef WEFT_PROCESS_H
#define WEFT_PROCESS_H

#include "weft/export.h"
#include "weft/thread.h" /* weft_daemon_mode */

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

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
WEFT_API int weft_process_new(weft_process **process, weft_process_fn target, void *arg,
                              const weft_process_options *options);

/* Fork the child.  WEFT_OK; WEFT_ESTATE if already started or closed
 * (Python's AssertionError "cannot start a process twice"); WEFT_EAGAIN (the
 * OS refused: process limit); WEFT_ENOMEM; WEFT_EINVAL for NULL.
 * Python: p.start(). */
WEFT_API int weft_process_start(weft_process *process);

/* Wait for the child to end, then reap it (no zombie is left).  With a
 * timeout (seconds; 0 or negative: do not wait): WEFT_ETIMEDOUT if it is
 * still running (Python returns None with the child alive).  WEFT_OK once it
 * has ended; WEFT_ESTATE if not started or closed; WEFT_EINVAL for NULL or
 * NaN.  Safe from several threads.  In a coroutine only the coroutine
 * waits (its loop watches the child's pidfd; a second coroutine joining
 * the same child at once blocks its thread instead) and WEFT_ECANCELLED
 * reports its task's cancellation.  A process started from a coroutine
 * is a fork of the whole thread's memory, loop included, as with
 * threads.  Python: p.join(timeout). */
WEFT_API int weft_process_join(weft_process *process);
WEFT_API int weft_process_join_timeout(weft_process *process, double timeout);

/* Started and not yet ended.  Python: p.is_alive() (ValueError after close:
 * here false). */
WEFT_API bool weft_process_is_alive(weft_process *process);

/* The child's exit status in *exitcode once it has ended: the target's
 * return value, or minus the number of the signal that ended it (-15 after
 * terminate, -9 after kill), as Python.  WEFT_OK; WEFT_EAGAIN while it runs
 * or before start (Python's None); WEFT_ESTATE after close; WEFT_EINVAL.
 * Python: p.exitcode. */
WEFT_API int weft_process_exitcode(weft_process *process, int *exitcode);

/* The child's process id; 0 before start.  Python: p.pid / p.ident. */
WEFT_API long weft_process_pid(const weft_process *process);

/* The name given or made ("Process-N").  Python: p.name. */
WEFT_API const char *weft_process_name(const weft_process *process);

/* Daemon flag, changeable before start only (WEFT_ESTATE after).  Daemon
 * children still running at normal process exit are terminated (SIGTERM)
 * and reaped; non-daemon ones are waited for, as Python's atexit does.
 * Python: p.daemon. */
WEFT_API bool weft_process_daemon(const weft_process *process);
WEFT_API int weft_process_set_daemon(weft_process *process, bool daemon);

/* Send SIGTERM / SIGKILL / SIGINT to a running child (nothing when it has
 * already ended).  WEFT_OK; WEFT_ESTATE if not started or closed;
 * WEFT_EINVAL.  Python: p.terminate(), p.kill(), p.interrupt(). */
WEFT_API int weft_process_terminate(weft_process *process);
WEFT_API int weft_process_kill(weft_process *process);
WEFT_API int weft_process_interrupt(weft_process *process);

/* A descriptor that becomes readable when the child ends, for poll()/
 * select() loops.  WEFT_OK; WEFT_ESTATE before start or after close
 * (Python's ValueError); WEFT_EINVAL.  Python: p.sentinel. */
WEFT_API int weft_process_sentinel(const weft_process *process, int *fd);

/* Release the child's resources (its sentinel).  WEFT_ESTATE while it runs
 * (Python's ValueError); WEFT_OK otherwise, and again (idempotent).  Then
 * join, terminate, kill, sentinel report WEFT_ESTATE.  Python: p.close(). */
WEFT_API int weft_process_close(weft_process *process);

/* Free the object.  A child still running is not stopped: weft keeps it in
 * its list and reaps it later (at exit: waits for it, or terminates it if a
 * daemon), so no zombie is left.  NULL is ignored. */
WEFT_API void weft_process_free(weft_process *process);

/* "<weft_process(Process-1, started 1234)>" and the like, as snprintf.
 * Python: repr(p). */
WEFT_API int weft_process_repr(const weft_process *process, char *buf, size_t size);

/* The name of the calling process: "MainProcess", or the weft_process's
 * name in its child.  Python: current_process().name. */
WEFT_API const char *weft_process_current_name(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_PROCESS_H */
