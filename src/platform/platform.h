/* SPDX-License-Identifier: MIT */
/* platform.h — the few OS services weft needs (layer 1 of README.md's Layout).
 *
 * Nothing above this layer includes an OS header: everything that differs
 * between systems (futex or its emulation, clocks, thread creation, thread
 * names and ids, CPU count) is behind these functions.
 */
#ifndef WEFT_PLATFORM_H
#define WEFT_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Deadlines are absolute nanoseconds on the monotonic clock. */
#define WEFT_PF_NO_DEADLINE INT64_MAX

/* Readiness of a descriptor (socket.h, poller.h): readable (or hung up),
 * writable; and, from the poller only, with READ: the peer shut its side
 * down or the socket failed (a state no later edge reports again). */
enum { WEFT_PF_READ = 1, WEFT_PF_WRITE = 2, WEFT_PF_HUP = 4 };

/* Monotonic time in nanoseconds. */
int64_t weft__pf_now_ns(void);

/* The milliseconds poll(2) and epoll_wait(2) are given to wait until a
 * deadline: -1 for none, 0 once passed, rounded up (so a wait never ends
 * early: the caller looks at the clock again) and capped at a day. */
int weft__pf_timeout_ms(int64_t deadline_ns);

/* Sleep until the monotonic clock reaches deadline_ns (never earlier). */
void weft__pf_sleep_until(int64_t deadline_ns);

/* Futex-style waiting: block while *word == expected, until woken or until
 * deadline_ns passes.  Returns 0 when woken, when *word differed, or
 * spuriously; WEFT_ETIMEDOUT once the deadline has passed.  Callers always
 * re-check their condition in a loop. */
int weft__pf_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ns);

/* Wake up to n threads waiting on word (n = INT32_MAX for all).  Safe to
 * call with an address whose memory may since have been reused: it only
 * ever causes spurious wake-ups. */
void weft__pf_wake(_Atomic uint32_t *word, int32_t n);

/* The platform's fork hook: weft's fork handlers (lifecycle.c) call it
 * last before a fork (phase 0), first after it in the parent (1) and in the
 * child (2).  The OS threads' cache and an emulated wait keep locks of
 * their own that must not be held across the fork; in the child the
 * cached and ended threads, which did not cross, are forgotten. */
void weft__pf_atfork(int phase);

/* Its part for the waiting (wait_futex.c: nothing; wait_portable.c: the
 * buckets' locks). */
void weft__pf_wait_atfork(int phase);

/* A short pause inside a spin loop (x86 PAUSE, ARM YIELD). */
void weft__pf_cpu_relax(void);

/* Give up the CPU to another runnable thread. */
void weft__pf_yield(void);

/* An opaque handle of an OS thread. */
typedef struct weft_pf_thread {
    _Alignas(8) unsigned char bytes_[16];
} weft_pf_thread;

/* Start fn(arg) on a new OS thread with the given stack size (0 = the
 * system default); *handle (may be NULL) receives its handle.  Nobody
 * joins it: once fn returns it ends by itself (joined by the next such
 * thread to end, or by weft__pf_threads_close).
 * Returns 0, WEFT_EAGAIN (the OS refused: thread limit), WEFT_EINVAL (bad
 * stack size) or WEFT_ENOMEM. */
int weft__pf_thread_start(void (*fn)(void *), void *arg, size_t stack_size,
                         weft_pf_thread *handle);

/* Like weft__pf_thread_start, but the OS thread may be a reused one: when
 * fn returns, the thread parks in a process-wide cache of idle threads for up
 * to the keep time (weft__pf_thread_cache_keep) and a later call with the same
 * stack size hands it the next fn instead of creating a thread.  Thread-local
 * storage is NOT reset between uses: callers reset their own.  After fork()
 * the child's cache starts empty. */
int weft__pf_thread_start_reusable(void (*fn)(void *), void *arg, size_t stack_size,
                                  weft_pf_thread *handle);

/* Set how long an idle reusable thread waits for more work before exiting
 * (nanoseconds; 0 = exit at once).  Lowering it ends the threads waiting now
 * that have waited longer than the new time (with 0: all of them).  Returns
 * the previous value. */
int64_t weft__pf_thread_cache_keep(int64_t keep_ns);

/* Number of idle reusable threads waiting in the cache now. */
size_t weft__pf_thread_cache_idle(void);

/* Called by fn (of either start call) when it is about to return and will
 * not block again before it does, just before it makes its end known (sets
 * the event its joiners wait on): weft__pf_threads_close then waits for
 * this thread to be gone or parked. */
void weft__pf_thread_returning(void);

/* At normal process exit, after everything that joins threads: end the
 * idle reusable threads and make later ones leave instead of parking, wait
 * for them and for threads marked returning, and join them all, so that no
 * OS thread of weft's that has nothing left to do is alive at exit (tools
 * such as valgrind report one as a leak).  Threads still running
 * something are not waited for.  Waits at most 2 s, in case of a bug. */
void weft__pf_threads_close(void);

/* The calling thread's handle. */
weft_pf_thread weft__pf_thread_self(void);

/* The kernel's id of the calling thread (Linux: gettid). */
long weft__pf_native_id(void);

/* The kernel's id of the process's initial thread. */
long weft__pf_main_native_id(void);

/* Nonzero when the caller is the process's initial thread. */
int weft__pf_is_main_thread(void);

/* Set the OS-visible name of a thread (truncated to the OS limit, 15 bytes
 * on Linux).  Best effort: failures are ignored, as names are cosmetic. */
void weft__pf_set_thread_name(weft_pf_thread thread, const char *name);

/* Smallest stack size the OS accepts. */
size_t weft__pf_min_stack_size(void);

/* Number of CPUs this process may run on (at least 1). */
int weft__pf_cpu_count(void);

#include "once.h" /* after weft__pf_wait: see once.h */

/* Run dtor(value) when the calling thread exits, for threads weft did not
 * start.  One registration slot per purpose; returns 0 or WEFT_ENOMEM. */
typedef struct weft_pf_exit_hook {
    weft_once key_made_;         /* key_ is made on the first arm */
    unsigned key_;
    void (*dtor_)(void *);
} weft_pf_exit_hook;
#define WEFT_PF_EXIT_HOOK_INIT(dtor) { WEFT_ONCE_INIT, 0, (dtor) }
int weft__pf_exit_hook_arm(weft_pf_exit_hook *hook, void *value);
void weft__pf_exit_hook_disarm(weft_pf_exit_hook *hook);

/* Register handlers to run around fork() (pthread_atfork): prepare in the
 * forking thread before, parent and child after.  WEFT_OK or WEFT_ENOMEM. */
int weft__pf_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* Register fn to run at normal process exit (atexit). */
int weft__pf_at_exit(void (*fn)(void));

#endif
