/* SPDX-License-Identifier: MIT */
/* weft/with.h — Python's `with lock:` for C.
 *
 *     WEFT_WITH(&lock) {
 *         if (balance < amount)
 *             return WEFT_EINVAL;      // the lock is released here too
 *         balance -= amount;
 *     }                                // and here
 *
 * WEFT_WITH takes a weft_lock, weft_rlock, weft_semaphore or weft_condition
 * pointer; it acquires (waiting forever) before the block and releases on
 * every way out of it: the end, break, continue, return or goto.  If the
 * acquire fails (a NULL pointer) the block is skipped.  WEFT_WITH is a
 * one-pass loop: `break` or `continue` inside it leave the WEFT_WITH block,
 * not a loop around it (unlike Python's `with`).
 *
 * WEFT_SCOPED(&lock); acquires at that point and releases when the
 * enclosing block ends, like a C++ lock_guard.
 *
 * In C both need the `cleanup` attribute of GCC and Clang; WEFT_HAVE_WITH
 * is 1 where they exist.  Elsewhere, use acquire and release.  In C++ they
 * are guard objects instead (any compiler, WEFT_HAVE_WITH always 1), and
 * an exception leaving the block releases too.
 */
#ifndef WEFT_WITH_H
#define WEFT_WITH_H

#include "weft/condition.h"
#include "weft/export.h"
#include "weft/lock.h"
#include "weft/semaphore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Private: what a scope holds and how to let it go. */
typedef struct weft_guard_ {
    void *object;
    int (*release)(void *object);
    int active; /* 1 until the body has run once */
} weft_guard_;

WEFT_API int weft_guard_lock_(weft_guard_ *guard, weft_lock *lock);
WEFT_API int weft_guard_rlock_(weft_guard_ *guard, weft_rlock *rlock);
WEFT_API int weft_guard_semaphore_(weft_guard_ *guard, weft_semaphore *sem);
WEFT_API int weft_guard_condition_(weft_guard_ *guard, weft_condition *cond);
WEFT_API void weft_guard_release_(weft_guard_ *guard);

/* Acquire any lock-like object and fill a guard; returns the guard. */
#ifdef __cplusplus
#define WEFT_GUARD_(obj) ::weft_guard_acquire_
#else
#define WEFT_GUARD_(obj)                                                      \
    _Generic((obj),                                                           \
        weft_lock *: weft_guard_lock_,                                        \
        weft_rlock *: weft_guard_rlock_,                                      \
        weft_semaphore *: weft_guard_semaphore_,                              \
        weft_condition *: weft_guard_condition_)
#endif

#ifdef __cplusplus
/* C++ has no _Generic: an overload set picks the same functions.  And the
 * guard is an object whose destructor releases, so the lock is let go on
 * every way out of the scope (exceptions included) with any C++ compiler,
 * not only those with the cleanup attribute.  The guard stays the C struct,
 * filled and released by the same C functions. */
extern "C++" {
inline int weft_guard_acquire_(weft_guard_ *guard, weft_lock *lock)
{
    return weft_guard_lock_(guard, lock);
}
inline int weft_guard_acquire_(weft_guard_ *guard, weft_rlock *rlock)
{
    return weft_guard_rlock_(guard, rlock);
}
inline int weft_guard_acquire_(weft_guard_ *guard, weft_semaphore *sem)
{
    return weft_guard_semaphore_(guard, sem);
}
inline int weft_guard_acquire_(weft_guard_ *guard, weft_condition *cond)
{
    return weft_guard_condition_(guard, cond);
}

struct weft_scope_guard_ {
    weft_guard_ guard;
    weft_scope_guard_() : guard() {}
    ~weft_scope_guard_() { weft_guard_release_(&guard); }
    weft_scope_guard_(const weft_scope_guard_ &) = delete;
    weft_scope_guard_ &operator=(const weft_scope_guard_ &) = delete;
};
}
#endif

#define WEFT_CAT2_(a, b) a##b
#define WEFT_CAT_(a, b) WEFT_CAT2_(a, b)

#if defined(__cplusplus)
#define WEFT_HAVE_WITH 1

#define WEFT_WITH(obj) WEFT_WITH_(obj, WEFT_CAT_(weft_with_guard_, __LINE__))
#define WEFT_WITH_(obj, g)                                                    \
    for (::weft_scope_guard_ g;                                               \
         g.guard.active ||                                                    \
         (!g.guard.object && WEFT_GUARD_(obj)(&g.guard, (obj)) == 0);        \
         g.guard.active = 0)

#define WEFT_SCOPED(obj) WEFT_SCOPED_(obj, WEFT_CAT_(weft_scoped_guard_, __LINE__))
#define WEFT_SCOPED_(obj, g)                                                  \
    ::weft_scope_guard_ g;                                                    \
    static_cast<void>(WEFT_GUARD_(obj)(&g.guard, (obj)))

#elif defined(__GNUC__) || defined(__clang__)
#define WEFT_HAVE_WITH 1

#define WEFT_WITH(obj) WEFT_WITH_(obj, WEFT_CAT_(weft_with_guard_, __LINE__))
#define WEFT_WITH_(obj, g)                                                    \
    for (weft_guard_ g __attribute__((cleanup(weft_guard_release_))) =       \
             {0, 0, 0};                                                       \
         g.active || (g.object == 0 && WEFT_GUARD_(obj)(&g, (obj)) == 0);     \
         g.active = 0)

#define WEFT_SCOPED(obj) WEFT_SCOPED_(obj, WEFT_CAT_(weft_scoped_guard_, __LINE__))
#define WEFT_SCOPED_(obj, g)                                                  \
    weft_guard_ g __attribute__((cleanup(weft_guard_release_))) = {0, 0, 0}; \
    (void)WEFT_GUARD_(obj)(&g, (obj))

#else
#define WEFT_HAVE_WITH 0
#endif

#ifdef __cplusplus
}
#endif
#endif /* WEFT_WITH_H */
