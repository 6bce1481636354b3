/* SPDX-License-Identifier: MIT */
/* semaphore.c — Semaphore and BoundedSemaphore.
 *
 * The value is a futex word.  Acquire decrements it with a compare-and-swap
 * while it is positive.  A waiter counts itself in `sleepers_` before it
 * last looks at the value and parks on "value == 0"; release adds to the
 * value before it reads `sleepers_`.  Both orders are sequentially
 * consistent, so either the waiter sees the new value or the releaser sees
 * the waiter and wakes it: no lost wake-up, and no system call on release
 * when nobody sleeps.
 *
 * A static initializer given an out-of-range value stores
 * WEFT_SEMAPHORE_INVALID_, above every valid value.  Acquire's fast path
 * tests nothing more for it: its "is there a unit to take" test is one
 * unsigned comparison that an invalid value fails as 0 does, and only then
 * does the slow path tell an invalid semaphore from an empty one.  Release
 * adds one comparison beside its limit test.
 */
#include "weft/semaphore.h"

#include "park.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stdio.h>

_Static_assert(WEFT_SEMAPHORE_VALUE_MAX == 0x7fffffffL,
               "WEFT_SEMAPHORE_ENCODE_ tests the bits above bit 30");

static bool invalid(const weft_semaphore *sem)
{
    return atomic_load_explicit(&sem->value_, memory_order_relaxed) >
           (uint32_t)WEFT_SEMAPHORE_VALUE_MAX;
}

static int init(weft_semaphore *sem, long value, bool bounded)
{
    if (!sem || value < 0 || value > WEFT_SEMAPHORE_VALUE_MAX)
        return WEFT_EINVAL;
    atomic_init(&sem->value_, (uint32_t)value);
    atomic_init(&sem->sleepers_, 0);
    sem->bound_ = bounded ? (uint32_t)value : 0;
    sem->bounded_ = bounded;
    return WEFT_OK;
}

int weft_semaphore_init(weft_semaphore *sem, long value) { return init(sem, value, false); }

int weft_semaphore_init_bounded(weft_semaphore *sem, long value)
{
    return init(sem, value, true);
}

int weft_semaphore_destroy(weft_semaphore *sem)
{
    if (!sem || invalid(sem))
        return WEFT_EINVAL;
    return atomic_load(&sem->sleepers_) ? WEFT_ESTATE : WEFT_OK;
}

/* Whether v holds a unit to take: 1..MAX.  One comparison (v - 1 wraps
 * for 0), false for an invalid value too. */
static bool has_unit(uint32_t v) { return v - 1u < (uint32_t)WEFT_SEMAPHORE_VALUE_MAX; }

static bool try_take(weft_semaphore *sem)
{
    uint32_t v = atomic_load_explicit(&sem->value_, memory_order_relaxed);
    while (has_unit(v)) {
        if (atomic_compare_exchange_weak_explicit(&sem->value_, &v, v - 1,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

/* A unit taken; else sleep while the value stays 0. */
static bool took_unit(void *sem, uint32_t *expected)
{
    *expected = 0;
    return try_take(sem);
}

static int acquire_until(weft_semaphore *sem, int64_t deadline)
{
    if (try_take(sem))
        return WEFT_OK;
    if (invalid(sem))
        return WEFT_EINVAL;
    if (weft__deadline_passed(deadline))
        return WEFT_ETIMEDOUT;
    if (weft__spin_while_equal(&sem->value_, 0) && try_take(sem))
        return WEFT_OK;
    weft_wait_spec spec = {
        .ready = took_unit, .ctx = sem, .word = &sem->value_, .cancellable = true};
    atomic_fetch_add(&sem->sleepers_, 1);
    int rc = weft__wait_for(&spec, deadline);
    atomic_fetch_sub(&sem->sleepers_, 1);
    return rc;
}

int weft_semaphore_acquire(weft_semaphore *sem)
{
    if (!sem)
        return WEFT_EINVAL;
    return acquire_until(sem, WEFT_NO_DEADLINE);
}

int weft_semaphore_acquire_timeout(weft_semaphore *sem, double timeout)
{
    int64_t deadline;
    if (!sem)
        return WEFT_EINVAL;
    int rc = weft__deadline_after(timeout, &deadline);
    return rc ? rc : acquire_until(sem, deadline);
}

int weft_semaphore_try_acquire(weft_semaphore *sem)
{
    if (!sem)
        return WEFT_EINVAL;
    if (try_take(sem))
        return WEFT_OK;
    return invalid(sem) ? WEFT_EINVAL : WEFT_ETIMEDOUT;
}

int weft_semaphore_release_n(weft_semaphore *sem, long n)
{
    if (!sem || n < 1 || n > WEFT_SEMAPHORE_VALUE_MAX)
        return WEFT_EINVAL;
    uint32_t limit = sem->bounded_ ? sem->bound_ : (uint32_t)WEFT_SEMAPHORE_VALUE_MAX;
    uint32_t v = atomic_load_explicit(&sem->value_, memory_order_relaxed);
    do {
        /* An invalid v passes the first test only when limit - v wraps,
         * which needs v > limit. */
        if ((uint32_t)n > limit - v || v > limit)
            return WEFT_EINVAL;
    } while (!atomic_compare_exchange_weak(&sem->value_, &v, v + (uint32_t)n));
    if (atomic_load(&sem->sleepers_))
        weft__unpark_n(&sem->value_, (uint32_t)n);
    return WEFT_OK;
}

int weft_semaphore_release(weft_semaphore *sem) { return weft_semaphore_release_n(sem, 1); }

long weft_semaphore_value(const weft_semaphore *sem)
{
    if (!sem)
        return 0;
    return invalid(sem) ? -1 : (long)atomic_load_explicit(&sem->value_, memory_order_relaxed);
}

int weft_semaphore_repr(const weft_semaphore *sem, char *buf, size_t size)
{
    if (sem && invalid(sem))
        return snprintf(buf, size, "<weft_semaphore at %p: invalid>", (const void *)sem);
    if (sem && sem->bounded_)
        return snprintf(buf, size, "<weft_semaphore at %p: value=%ld/%lu>", (const void *)sem,
                        weft_semaphore_value(sem), (unsigned long)sem->bound_);
    return snprintf(buf, size, "<weft_semaphore at %p: value=%ld>", (const void *)sem,
                    weft_semaphore_value(sem));
}
