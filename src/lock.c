/* SPDX-License-Identifier: MIT */
/* lock.c — Lock and RLock.
 *
 * The lock is one 32-bit word: 0 free, 1 held, 2 held with possible sleepers.
 * Acquire is one compare-and-swap when free.  A contended acquirer spins
 * briefly (most critical sections end within the spin, and then neither side
 * makes a system call), then marks the word 2 and parks.  Release swaps in 0
 * and wakes one sleeper only if the word said there might be one.
 */
#include "weft/lock.h"

#include "debug_internal.h"
#include "ident.h"
#include "lifecycle.h"
#include "lock_internal.h"
#include "park.h"
#include "weft/status.h"

#include <math.h>
#include <stdio.h>

enum { FREE = 0, HELD = 1, HELD_WAITED = 2 };


static inline bool try_take(weft_lock *lock)
{
    uint32_t expected = FREE;
    return atomic_compare_exchange_strong_explicit(&lock->state_, &expected, HELD,
                                                 memory_order_acquire,
                                                 memory_order_relaxed);
}

/* Spin with backoff (see park.h) while the lock is held by someone else. */
static bool spin_take(weft_lock *lock)
{
    weft_backoff backoff = WEFT_BACKOFF_INIT;
    while (weft__backoff_pause(&backoff))
        if (atomic_load_explicit(&lock->state_, memory_order_relaxed) == FREE && try_take(lock))
            return true;
    return false;
}

static int acquire_slow(weft_lock *lock, int64_t deadline, bool cancellable);

static int acquire(weft_lock *lock, int64_t deadline, bool cancellable)
{
    int rc = try_take(lock) ? WEFT_OK : acquire_slow(lock, deadline, cancellable);
    if (rc == WEFT_OK && weft__debug_on())
        weft__debug_acquired(lock);
    return rc;
}

/* Acquire with an absolute deadline: weft's own, never-cancelled form. */
int weft__lock_acquire_until(weft_lock *lock, int64_t deadline)
{
    return acquire(lock, deadline, false);
}

/* The user-facing form: WEFT_ECANCELLED in a cancellable task. */
int weft__lock_acquire_waiting(weft_lock *lock, int64_t deadline)
{
    return acquire(lock, deadline, true);
}

static int acquire_slow(weft_lock *lock, int64_t deadline, bool cancellable)
{
    if (weft__deadline_passed(deadline))
        return WEFT_ETIMEDOUT; /* a poll: one try, no spinning */
    if (spin_take(lock))
        return WEFT_OK;
    /* Mark the lock as waited on; if it was free meanwhile we now hold it
     * (with a possibly needless wake-up on release, which is harmless). */
    while (atomic_exchange_explicit(&lock->state_, HELD_WAITED, memory_order_acquire) != FREE) {
        int rc = cancellable ? weft__park_cancellable(&lock->state_, HELD_WAITED, deadline)
                             : weft__park(&lock->state_, HELD_WAITED, deadline);
        if (rc == WEFT_ECANCELLED)
            return rc;
        if (rc == WEFT_ETIMEDOUT) {
            uint32_t expected = FREE;
            if (atomic_compare_exchange_strong_explicit(&lock->state_, &expected, HELD_WAITED,
                                                        memory_order_acquire,
                                                        memory_order_relaxed))
                return WEFT_OK;
            return WEFT_ETIMEDOUT;
        }
    }
    return WEFT_OK;
}

/* Python's Lock rule: -1 means forever, other negatives are ValueError. */
int weft__lock_deadline(double timeout, int64_t *deadline)
{
    if (timeout == -1.0)
        timeout = INFINITY;
    if (timeout < 0)
        return WEFT_EINVAL;
    return weft__deadline_after(timeout, deadline);
}

int weft_lock_init(weft_lock *lock)
{
    if (!lock)
        return WEFT_EINVAL;
    atomic_init(&lock->state_, FREE);
    /* Free again: held by nobody, the caller included (a fork child's
     * handlers make the locks they took free this way). */
    if (weft__debug_on())
        weft__debug_released(lock);
    return WEFT_OK;
}

int weft_lock_destroy(weft_lock *lock)
{
    if (!lock)
        return WEFT_EINVAL;
    if (weft_lock_locked(lock))
        return WEFT_ESTATE;
    if (weft__debug_on())
        weft__debug_forget(lock);
    return WEFT_OK;
}

int weft_lock_acquire(weft_lock *lock)
{
    if (!lock)
        return WEFT_EINVAL;
    return weft__lock_acquire_waiting(lock, WEFT_NO_DEADLINE);
}

int weft_lock_acquire_timeout(weft_lock *lock, double timeout)
{
    int64_t deadline;
    if (!lock)
        return WEFT_EINVAL;
    int rc = weft__lock_deadline(timeout, &deadline);
    return rc ? rc : weft__lock_acquire_waiting(lock, deadline);
}

int weft_lock_try_acquire(weft_lock *lock)
{
    if (!lock)
        return WEFT_EINVAL;
    if (!try_take(lock))
        return WEFT_ETIMEDOUT;
    if (weft__debug_on())
        weft__debug_acquired(lock);
    return WEFT_OK;
}

int weft_lock_release(weft_lock *lock)
{
    if (!lock)
        return WEFT_EINVAL;
    if (weft__debug_on())
        weft__debug_released(lock);
    uint32_t old = atomic_exchange_explicit(&lock->state_, FREE, memory_order_release);
    if (old == FREE)
        return WEFT_ENOTOWNER;
    if (old == HELD_WAITED)
        weft__unpark_one(&lock->state_);
    return WEFT_OK;
}

void weft__lock_atfork(weft_lock *lock, int phase)
{
    if (phase == WEFT_FORK_PREPARE)
        weft__lock_acquire_until(lock, WEFT_NO_DEADLINE);
    else if (phase == WEFT_FORK_PARENT)
        weft_lock_release(lock);
    else
        weft_lock_init(lock);
}

bool weft_lock_locked(const weft_lock *lock)
{
    return lock && atomic_load_explicit(&lock->state_, memory_order_relaxed) != FREE;
}

int weft_lock_repr(const weft_lock *lock, char *buf, size_t size)
{
    return snprintf(buf, size, "<weft_lock at %p: %s>", (const void *)lock,
                    weft_lock_locked(lock) ? "locked" : "unlocked");
}

/* ---- RLock ------------------------------------------------------------ */

int weft_rlock_init(weft_rlock *rlock)
{
    if (!rlock)
        return WEFT_EINVAL;
    weft_lock_init(&rlock->lock_);
    atomic_init(&rlock->owner_, 0);
    atomic_init(&rlock->depth_, 0);
    return WEFT_OK;
}

int weft_rlock_destroy(weft_rlock *rlock)
{
    if (!rlock)
        return WEFT_EINVAL;
    return weft_rlock_locked(rlock) ? WEFT_ESTATE : WEFT_OK;
}

static bool owned_by(const weft_rlock *rlock, uint64_t me)
{
    return atomic_load_explicit(&rlock->owner_, memory_order_relaxed) == me;
}

/* Acquire `levels` levels at once (condition waits restore a saved depth);
 * cancellable for the user-facing acquires only. */
int weft__rlock_acquire_levels(weft_rlock *rlock, unsigned long levels, int64_t deadline,
                              bool cancellable)
{
    uint64_t me = weft__park_owner();
    if (owned_by(rlock, me)) {
        unsigned long depth = atomic_load_explicit(&rlock->depth_, memory_order_relaxed);
        atomic_store_explicit(&rlock->depth_, depth + levels, memory_order_relaxed);
        return WEFT_OK;
    }
    int rc = acquire(&rlock->lock_, deadline, cancellable);
    if (rc != WEFT_OK)
        return rc;
    atomic_store_explicit(&rlock->owner_, me, memory_order_relaxed);
    atomic_store_explicit(&rlock->depth_, levels, memory_order_relaxed);
    return WEFT_OK;
}

/* Release every level at once; *levels receives how many there were. */
int weft__rlock_release_all(weft_rlock *rlock, unsigned long *levels)
{
    if (!owned_by(rlock, weft__park_owner()))
        return WEFT_ENOTOWNER;
    *levels = atomic_load_explicit(&rlock->depth_, memory_order_relaxed);
    atomic_store_explicit(&rlock->depth_, 0, memory_order_relaxed);
    atomic_store_explicit(&rlock->owner_, 0, memory_order_relaxed);
    return weft_lock_release(&rlock->lock_);
}

int weft_rlock_acquire(weft_rlock *rlock)
{
    if (!rlock)
        return WEFT_EINVAL;
    return weft__rlock_acquire_levels(rlock, 1, WEFT_NO_DEADLINE, true);
}

int weft_rlock_acquire_timeout(weft_rlock *rlock, double timeout)
{
    int64_t deadline;
    if (!rlock)
        return WEFT_EINVAL;
    int rc = weft__lock_deadline(timeout, &deadline);
    return rc ? rc : weft__rlock_acquire_levels(rlock, 1, deadline, true);
}

int weft_rlock_try_acquire(weft_rlock *rlock)
{
    if (!rlock)
        return WEFT_EINVAL;
    return weft__rlock_acquire_levels(rlock, 1, weft__now_ns(), false);
}

int weft_rlock_release(weft_rlock *rlock)
{
    if (!rlock)
        return WEFT_EINVAL;
    if (!owned_by(rlock, weft__park_owner()))
        return WEFT_ENOTOWNER;
    unsigned long depth = atomic_load_explicit(&rlock->depth_, memory_order_relaxed) - 1;
    atomic_store_explicit(&rlock->depth_, depth, memory_order_relaxed);
    if (depth > 0)
        return WEFT_OK;
    atomic_store_explicit(&rlock->owner_, 0, memory_order_relaxed);
    return weft_lock_release(&rlock->lock_);
}

bool weft_rlock_locked(const weft_rlock *rlock)
{
    return rlock && weft_lock_locked(&rlock->lock_);
}

bool weft_rlock_is_owned(const weft_rlock *rlock)
{
    return rlock && owned_by(rlock, weft__park_owner());
}

unsigned long weft_rlock_recursion_count(const weft_rlock *rlock)
{
    if (!weft_rlock_is_owned(rlock))
        return 0;
    return atomic_load_explicit(&rlock->depth_, memory_order_relaxed);
}

int weft_rlock_repr(const weft_rlock *rlock, char *buf, size_t size)
{
    if (!rlock)
        return snprintf(buf, size, "<weft_rlock at (nil): unlocked owner=0 count=0>");
    uint64_t owner = atomic_load_explicit(&rlock->owner_, memory_order_relaxed);
    unsigned long depth = atomic_load_explicit(&rlock->depth_, memory_order_relaxed);
    return snprintf(buf, size, "<weft_rlock at %p: %s owner=%llu count=%lu>",
                    (const void *)rlock, weft_rlock_locked(rlock) ? "locked" : "unlocked",
                    (unsigned long long)owner, depth);
}
