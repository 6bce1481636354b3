/* SPDX-License-Identifier: MIT */
/* debug_internal.h — the hooks debug mode puts in the lock paths. */
#ifndef WEFT_DEBUG_INTERNAL_H
#define WEFT_DEBUG_INTERNAL_H

#include "weft/debug.h"

#include <stdatomic.h>

/* -1 until the environment was read, then 0 (off) or 1 (on). */
extern _Atomic int weft__debug_state_;
int weft__debug_read_environment(void);

/* One relaxed load and a branch when off. */
static inline bool weft__debug_on(void)
{
    int s = atomic_load_explicit(&weft__debug_state_, memory_order_relaxed);
    return s > 0 || (s < 0 && weft__debug_read_environment() > 0);
}

void weft__debug_acquired(const void *lock);
void weft__debug_released(const void *lock);
void weft__debug_forget(const void *lock);

/* A weft thread's target returned: forget the locks it still records as
 * held (its OS thread may be reused for another weft thread). */
void weft__debug_thread_exit(void);

/* Report one line through the reporter. */
void weft__debug_report(const char *format, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* The thread layer tells debug mode how to name the calling thread
 * (NULL when it has no name yet); no lock may be taken inside. */
typedef const char *(*weft_debug_name_fn)(void);
void weft__debug_set_thread_namer(weft_debug_name_fn fn);

#endif
