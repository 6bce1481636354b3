/* SPDX-License-Identifier: MIT */
/* weft/lock.h — Lock and RLock.  Python: threading.Lock, threading.RLock.
 *
 * Both are small structs the caller owns: declare one, initialize it with
 * WEFT_LOCK_INIT / WEFT_RLOCK_INIT (or the _init call) and use it.  They need
 * no destruction, but _destroy checks that nobody holds them.
 *
 *     static weft_lock counter_lock = WEFT_LOCK_INIT;  // lock = Lock()
 *     weft_lock_acquire(&counter_lock);
 *     counter++;
 *     weft_lock_release(&counter_lock);
 *
 * For Python's `with lock:` see weft/with.h.
 *
 * Acquire comes in three forms, as for every weft blocking call:
 *   weft_X_acquire(x)                  waits forever     acquire()
 *   weft_X_acquire_timeout(x, seconds) waits that long   acquire(timeout=s)
 *   weft_X_try_acquire(x)              never blocks      acquire(blocking=False)
 * Each returns WEFT_OK when the lock was taken and WEFT_ETIMEDOUT when it was
 * not (Python's False).
 */
#ifndef WEFT_LOCK_H
#define WEFT_LOCK_H

#include "weft/atomic_field.h"
#include "weft/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Lock ------------------------------------------------------------ */

/* A non-recursive lock.  Any thread may release it, not only the one that
 * acquired it (as in Python).  Fields are private. */
typedef struct weft_lock {
    WEFT_ATOMIC_FIELD_(uint32_t) state_; /* 0 free, 1 held, 2 held and maybe waited on */
} weft_lock;

#define WEFT_LOCK_INIT { 0 }

/* Initialize (or reinitialize) an unlocked lock.  WEFT_OK, or WEFT_EINVAL
 * for NULL. */
WEFT_API int weft_lock_init(weft_lock *lock);

/* Check that the lock can go away.  WEFT_OK; WEFT_ESTATE if it is held;
 * WEFT_EINVAL for NULL. */
WEFT_API int weft_lock_destroy(weft_lock *lock);

/* Block until the lock is taken.  WEFT_OK, or WEFT_EINVAL for NULL.
 * A thread that acquires a lock it already holds waits for another thread
 * to release it, as in Python.  Python: lock.acquire(). */
WEFT_API int weft_lock_acquire(weft_lock *lock);

/* Wait at most `timeout` seconds.  WEFT_OK: taken; WEFT_ETIMEDOUT: not
 * taken (0 polls once, WEFT_FOREVER waits forever, and -1 also waits
 * forever as in Python); WEFT_EINVAL: NULL, NaN, another negative value, or
 * a finite value above WEFT_TIMEOUT_MAX (Python's ValueError /
 * OverflowError).  Python: lock.acquire(timeout=timeout). */
WEFT_API int weft_lock_acquire_timeout(weft_lock *lock, double timeout);

/* Take the lock only if it is free.  WEFT_OK or WEFT_ETIMEDOUT; WEFT_EINVAL
 * for NULL.  Python: lock.acquire(blocking=False). */
WEFT_API int weft_lock_try_acquire(weft_lock *lock);

/* Release the lock, waking one waiter.  WEFT_OK; WEFT_ENOTOWNER if it was
 * not locked (Python's RuntimeError "release unlocked lock"); WEFT_EINVAL for
 * NULL.  Python: lock.release(). */
WEFT_API int weft_lock_release(weft_lock *lock);

/* Whether the lock is held (by anyone).  False for NULL.
 * Python: lock.locked(). */
WEFT_API bool weft_lock_locked(const weft_lock *lock);

/* Describe the lock, as snprintf does: "<weft_lock at 0x…: unlocked>".
 * Returns the length of the whole text.  Python: repr(lock). */
WEFT_API int weft_lock_repr(const weft_lock *lock, char *buf, size_t size);

/* ---- RLock ----------------------------------------------------------- */

/* A reentrant lock: the owning thread may acquire it again; it is free once
 * released as many times as acquired.  Only the owner may release it.
 * Fields are private. */
typedef struct weft_rlock {
    weft_lock lock_;
    WEFT_ATOMIC_FIELD_(uint64_t) owner_; /* weft_get_ident() of the owner, 0 if none */
    WEFT_ATOMIC_FIELD_(unsigned long) depth_;
} weft_rlock;

#define WEFT_RLOCK_INIT { WEFT_LOCK_INIT, 0, 0 }

/* Initialize a free rlock.  WEFT_OK or WEFT_EINVAL for NULL. */
WEFT_API int weft_rlock_init(weft_rlock *rlock);

/* WEFT_OK; WEFT_ESTATE if held; WEFT_EINVAL for NULL. */
WEFT_API int weft_rlock_destroy(weft_rlock *rlock);

/* Acquire, or add one level if the caller already owns it.  Same statuses
 * and timeout rules as the weft_lock forms.  Python: rlock.acquire(...). */
WEFT_API int weft_rlock_acquire(weft_rlock *rlock);
WEFT_API int weft_rlock_acquire_timeout(weft_rlock *rlock, double timeout);
WEFT_API int weft_rlock_try_acquire(weft_rlock *rlock);

/* Drop one level; the lock is free when the level reaches 0.  WEFT_OK;
 * WEFT_ENOTOWNER if the caller does not own it (un-acquired, or owned by
 * another thread: Python's RuntimeError); WEFT_EINVAL for NULL.
 * Python: rlock.release(). */
WEFT_API int weft_rlock_release(weft_rlock *rlock);

/* Whether any thread holds it.  Python 3.14: rlock.locked(). */
WEFT_API bool weft_rlock_locked(const weft_rlock *rlock);

/* Whether the calling thread owns it.  Python: rlock._is_owned(). */
WEFT_API bool weft_rlock_is_owned(const weft_rlock *rlock);

/* How many times the owner has acquired it; 0 when free or when called
 * from a thread that does not own it.  Python: rlock._recursion_count(). */
WEFT_API unsigned long weft_rlock_recursion_count(const weft_rlock *rlock);

/* "<weft_rlock at 0x…: locked owner=7 count=2>".  Python: repr(rlock). */
WEFT_API int weft_rlock_repr(const weft_rlock *rlock, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_LOCK_H */
