/* SPDX-License-Identifier: MIT */
/* once.h — run an initialisation exactly once, with a status.
 *
 * pthread_once cannot report a failure or be retried; the library's
 * one-time set-ups (installing the fork and exit handlers, creating a
 * thread-specific key) can fail and must then be tried again by the next
 * caller.  The first caller runs the function; callers that arrive
 * meanwhile wait on the state word (weft__pf_wait: no spinning, no yield
 * loop).  A failed run leaves the once unrun, and a waiter then tries fn
 * itself.
 *
 * Not fork-proof: a fork while another thread is inside fn leaves the
 * child's copy running for good, and its first use there waits forever.
 * The library's onces run fn once per process, on a module's first use,
 * and fn is one short call (pthread_atfork, atexit, pthread_key_create);
 * weft's own forks wait for the install first.  A program that calls
 * fork() in one thread while another uses weft for the very first time is
 * the case left open.
 */
/* Outside the guard: platform.h includes this file back (its exit hooks
 * hold a weft_once) after it has declared the waiting used here, so either
 * header may come first. */
#include "platform.h"

#ifndef WEFT_ONCE_H
#define WEFT_ONCE_H

#include <stdatomic.h>
#include <stdint.h>

enum { WEFT_ONCE_UNRUN, WEFT_ONCE_RUNNING, WEFT_ONCE_DONE };

typedef struct weft_once {
    _Atomic uint32_t state;
} weft_once;

#define WEFT_ONCE_INIT { WEFT_ONCE_UNRUN }

/* The slow path: run fn or wait for the caller that runs it. */
static inline int weft__once_run_slow(weft_once *once, int (*fn)(void))
{
    for (;;) {
        uint32_t state = WEFT_ONCE_UNRUN;
        if (atomic_compare_exchange_strong(&once->state, &state, WEFT_ONCE_RUNNING)) {
            int rc = fn();
            atomic_store_explicit(&once->state, rc == 0 ? WEFT_ONCE_DONE : WEFT_ONCE_UNRUN,
                                  memory_order_release);
            weft__pf_wake(&once->state, INT32_MAX);
            return rc;
        }
        if (state == WEFT_ONCE_DONE)
            return 0;
        weft__pf_wait(&once->state, WEFT_ONCE_RUNNING, WEFT_PF_NO_DEADLINE);
        /* Done, or the runner failed and the once is free to try again. */
        if (atomic_load_explicit(&once->state, memory_order_acquire) == WEFT_ONCE_DONE)
            return 0;
    }
}

/* Run fn (which returns 0 or a WEFT_E* status) unless a call has already
 * succeeded.  Returns 0, or fn's failure (the next call tries again). */
static inline int weft__once_run(weft_once *once, int (*fn)(void))
{
    if (atomic_load_explicit(&once->state, memory_order_acquire) == WEFT_ONCE_DONE)
        return 0;
    return weft__once_run_slow(once, fn);
}

#endif
