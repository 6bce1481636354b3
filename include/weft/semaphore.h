/* SPDX-License-Identifier: MIT */
/* weft/semaphore.h — Semaphore and BoundedSemaphore.
 * Python: threading.Semaphore, threading.BoundedSemaphore.
 *
 * A counter that acquire decrements, waiting while it is 0, and release
 * increments.  A bounded semaphore refuses a release that would raise the
 * counter above its initial value.  Caller-owned struct:
 *
 *     static weft_semaphore slots = WEFT_BOUNDED_SEMAPHORE_INIT(3);
 *
 * Values range over 0..WEFT_SEMAPHORE_VALUE_MAX (Python's are unbounded
 * integers; a C counter needs a limit).
 */
#ifndef WEFT_SEMAPHORE_H
#define WEFT_SEMAPHORE_H

#include "weft/atomic_field.h"
#include "weft/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_SEMAPHORE_VALUE_MAX 0x7fffffffL

/* Fields are private. */
typedef struct weft_semaphore {
    WEFT_ATOMIC_FIELD_(uint32_t) value_;
    WEFT_ATOMIC_FIELD_(uint32_t) sleepers_;
    uint32_t bound_;       /* the initial value, for a bounded semaphore */
    unsigned char bounded_;
} weft_semaphore;

/* Static initializers: `static weft_semaphore s = WEFT_SEMAPHORE_INIT(3);`.
 * A value out of range (negative, or above WEFT_SEMAPHORE_VALUE_MAX) cannot
 * be refused at compile time as weft_semaphore_init refuses it, so it is
 * stored as an invalid semaphore: every later operation on it returns
 * WEFT_EINVAL, its value reads -1 and its repr says "invalid".  `value` is
 * evaluated more than once. */
#define WEFT_SEMAPHORE_INIT(value) { WEFT_SEMAPHORE_ENCODE_(value), 0, 0, 0 }
#define WEFT_BOUNDED_SEMAPHORE_INIT(value)                                    \
    { WEFT_SEMAPHORE_ENCODE_(value), 0, WEFT_SEMAPHORE_ENCODE_(value), 1 }

/* Private: 0..2^31-1 as itself, anything else as WEFT_SEMAPHORE_INVALID_,
 * a value no valid semaphore has.  Adding 0ULL makes a negative value a
 * huge unsigned one; a shift rather than a comparison, since comparing a
 * small unsigned argument draws GCC's -Wtype-limits; the mask keeps both
 * branches within 32 unsigned bits (Clang checks the unused one too); and
 * no cast, for C++ code built with -Wold-style-cast. */
#define WEFT_SEMAPHORE_INVALID_ 0xffffffffu
#define WEFT_SEMAPHORE_ENCODE_(value)                                        \
    (((value) + 0ULL) >> 31 == 0 ? (value) & 0x7fffffffu : WEFT_SEMAPHORE_INVALID_)

/* Initialize with a starting value.  WEFT_OK; WEFT_EINVAL for NULL, a
 * negative value (Python's ValueError "semaphore initial value must be
 * >= 0") or one above WEFT_SEMAPHORE_VALUE_MAX.
 * Python: Semaphore(value) / BoundedSemaphore(value); their default value
 * is 1. */
WEFT_API int weft_semaphore_init(weft_semaphore *sem, long value);
WEFT_API int weft_semaphore_init_bounded(weft_semaphore *sem, long value);

/* WEFT_OK; WEFT_ESTATE while threads wait on it; WEFT_EINVAL for NULL or
 * an invalid semaphore (every call below also returns WEFT_EINVAL for one:
 * see WEFT_SEMAPHORE_INIT). */
WEFT_API int weft_semaphore_destroy(weft_semaphore *sem);

/* Decrement, waiting while the value is 0.  WEFT_OK or WEFT_EINVAL (NULL,
 * invalid).
 * Python: sem.acquire(). */
WEFT_API int weft_semaphore_acquire(weft_semaphore *sem);

/* Wait at most `timeout` seconds.  WEFT_OK: acquired; WEFT_ETIMEDOUT: not
 * (a timeout of 0 or any negative value polls, as in Python); WEFT_EINVAL:
 * NULL, an invalid semaphore, NaN or a finite timeout above WEFT_TIMEOUT_MAX.
 * Python: sem.acquire(timeout=timeout). */
WEFT_API int weft_semaphore_acquire_timeout(weft_semaphore *sem, double timeout);

/* Acquire only if the value is above 0.  WEFT_OK or WEFT_ETIMEDOUT;
 * WEFT_EINVAL for NULL or an invalid semaphore.
 * Python: sem.acquire(blocking=False). */
WEFT_API int weft_semaphore_try_acquire(weft_semaphore *sem);

/* Increment by 1 / by n, waking as many waiters.  WEFT_OK; WEFT_EINVAL for
 * NULL, an invalid semaphore, n < 1 (Python's ValueError "n must be one or
 * more"), a bounded semaphore that would go above its initial value
 * (Python's ValueError "Semaphore released too many times"; the value is
 * left unchanged), or a value that would exceed WEFT_SEMAPHORE_VALUE_MAX.
 * Python: sem.release(), sem.release(n). */
WEFT_API int weft_semaphore_release(weft_semaphore *sem);
WEFT_API int weft_semaphore_release_n(weft_semaphore *sem, long n);

/* The current value (a snapshot); 0 for NULL, -1 for an invalid semaphore.
 * Python: sem._value. */
WEFT_API long weft_semaphore_value(const weft_semaphore *sem);

/* "<weft_semaphore at 0x…: value=3>", bounded "…: value=2/3>", invalid
 * "…: invalid>".
 * Python: repr(sem). */
WEFT_API int weft_semaphore_repr(const weft_semaphore *sem, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_SEMAPHORE_H */
