/* SPDX-License-Identifier: MIT */
/* lock_internal.h — the lock calls the rest of the library uses inside it:
 * acquiring before a deadline, weft's own locks, rlock levels (lock.c). */
#ifndef WEFT_LOCK_INTERNAL_H
#define WEFT_LOCK_INTERNAL_H

#include "weft/lock.h"

#include <stdbool.h>
#include <stdint.h>

/* Acquire a lock before an absolute deadline (WEFT_NO_DEADLINE: forever).
 * _until is weft's internal form and is never cancelled; _waiting is the
 * user-facing one, which returns WEFT_ECANCELLED in a cancellable task. */
int weft__lock_acquire_until(weft_lock *lock, int64_t deadline);
int weft__lock_acquire_waiting(weft_lock *lock, int64_t deadline);

/* Take one of weft's own locks: waits as long as needed, never cancelled.
 * Every internal lock in the library is taken this way. */
static inline void weft__lock_take(weft_lock *lock)
{
    weft__lock_acquire_until(lock, INT64_MAX);
}

/* Take one of weft's own locks if it is free now; never waits. */
static inline bool weft__lock_try_take(weft_lock *lock)
{
    return weft__lock_acquire_until(lock, 0) == 0;
}

/* Python's Lock timeout rule (-1 = forever, other negatives invalid). */
int weft__lock_deadline(double timeout, int64_t *deadline);

/* Acquire `levels` levels of an rlock at once / release all of them,
 * reporting how many there were (Condition.wait's save and restore). */
int weft__rlock_acquire_levels(weft_rlock *rlock, unsigned long levels, int64_t deadline,
                              bool cancellable);
int weft__rlock_release_all(weft_rlock *rlock, unsigned long *levels);

/* The usual fork hook body for one of weft's own locks, by phase
 * (WEFT_FORK_*, lifecycle.h): prepare takes it (waiting as long as needed,
 * never cancelled), the parent releases it, the child makes it new and free
 * (the thread that held it in the parent did not cross).  A hook that must
 * also fix its state in the child does so after this call, alone in the
 * child. */
void weft__lock_atfork(weft_lock *lock, int phase);

#endif
