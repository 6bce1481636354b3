/* SPDX-License-Identifier: MIT */
/* thread_internal.h — process-exit bookkeeping shared by threads and timers. */
#ifndef WEFT_THREAD_INTERNAL_H
#define WEFT_THREAD_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Something that must run at normal process exit: run() before weft joins
 * the remaining non-daemon threads (e.g. waiting for non-daemon timers),
 * stop() (may be NULL) after them, when nothing of the program's is left
 * to wait for (e.g. making the timer threads leave).  Registered once;
 * hooks run in registration order. */
typedef struct weft_exit_hook {
    void (*run)(void);
    void (*stop)(void);
    struct weft_exit_hook *next;
} weft_exit_hook;

void weft_add_exit_hook(weft_exit_hook *hook);

/* At normal exit, after the exit hooks and the joining of non-daemon
 * threads, weft ends every OS thread of its own that has nothing left to
 * do (idle cached threads, ended threads), so that none is alive at exit:
 * valgrind reports such a thread's TLS as "possibly lost".  A module that
 * parks threads of its own (the timers) makes them return in its exit
 * hook. */

/* A thread whose joining its owner (an executor) takes care of: debug mode
 * does not report it as never joined. */
struct weft_thread;
void weft_thread_set_managed(struct weft_thread *thread);

/* Run the thread on a reused OS thread when one is idle, and keep the OS
 * thread for reuse after it ends (weft_pf_thread_start_reusable).  For
 * executor workers: their OS threads may serve several pools in turn, so
 * the target must leave no thread-local state behind that matters.
 * Before weft_thread_start only. */
void weft_thread_set_reusable(struct weft_thread *thread);

/* Fork handlers (src/process.c installs them): each module takes its
 * global lock before a fork, releases it after in the parent, and makes
 * its state right for the child (one thread, fresh locks). */
enum { WEFT_FORK_PREPARE, WEFT_FORK_PARENT, WEFT_FORK_CHILD };
void weft_thread_atfork(int phase);
void weft_timer_atfork(int phase);
void weft_executor_atfork(int phase);
void weft_local_atfork(int phase);
void weft_install_fork_handlers(void);

#endif
