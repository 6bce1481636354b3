/* SPDX-License-Identifier: MIT */
/* with.c — guards behind WEFT_WITH / WEFT_SCOPED. */
#include "weft/with.h"

#include "weft/status.h"

static int fill(weft_guard_ *guard, void *object, int rc, int (*release)(void *))
{
    if (rc != WEFT_OK)
        return rc;
    guard->object = object;
    guard->release = release;
    guard->active = 1;
    return WEFT_OK;
}

static int release_lock(void *o) { return weft_lock_release(o); }
static int release_rlock(void *o) { return weft_rlock_release(o); }
static int release_semaphore(void *o) { return weft_semaphore_release(o); }
static int release_condition(void *o) { return weft_condition_release(o); }

int weft_guard_lock_(weft_guard_ *guard, weft_lock *lock)
{
    return fill(guard, lock, weft_lock_acquire(lock), release_lock);
}

int weft_guard_rlock_(weft_guard_ *guard, weft_rlock *rlock)
{
    return fill(guard, rlock, weft_rlock_acquire(rlock), release_rlock);
}

int weft_guard_semaphore_(weft_guard_ *guard, weft_semaphore *sem)
{
    return fill(guard, sem, weft_semaphore_acquire(sem), release_semaphore);
}

int weft_guard_condition_(weft_guard_ *guard, weft_condition *cond)
{
    return fill(guard, cond, weft_condition_acquire(cond), release_condition);
}

void weft_guard_release_(weft_guard_ *guard)
{
    if (guard->object && guard->release)
        guard->release(guard->object);
    guard->object = 0;
}
