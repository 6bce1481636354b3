/* SPDX-License-Identifier: MIT */
/* thread_internal.h — what executors and timers ask of their threads. */
#ifndef WEFT_THREAD_INTERNAL_H
#define WEFT_THREAD_INTERNAL_H

/* At normal exit, after every module's exit run hook (lifecycle.h), the
 * thread module joins the remaining non-daemon threads; then the stop
 * hooks run and weft ends every OS thread of its own that has nothing left
 * to do (idle cached threads, ended threads), so that none is alive at
 * exit: valgrind reports such a thread's TLS as "possibly lost".  A module
 * that parks threads of its own (the timers) makes them return in its stop
 * hook. */

/* A thread whose joining its owner (an executor) takes care of: debug mode
 * does not report it as never joined. */
struct weft_thread;
void weft__thread_set_managed(struct weft_thread *thread);

/* Run the thread on a reused OS thread when one is idle, and keep the OS
 * thread for reuse after it ends (weft__pf_thread_start_reusable).  For
 * executor workers: their OS threads may serve several pools in turn, so
 * the target must leave no thread-local state behind that matters.
 * Before weft_thread_start only. */
void weft__thread_set_reusable(struct weft_thread *thread);

#endif
