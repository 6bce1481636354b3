/* SPDX-License-Identifier: MIT */
/* weft/local.h — thread-local data.  Python: threading.local.
 *
 * A weft_local holds one `void *` value per thread.  Each thread sees only
 * its own value; a value is destroyed (with the local's destroy function)
 * when its thread exits, when the thread replaces or deletes it, or when the
 * local itself is destroyed.  Any number of locals may exist (unlike
 * pthread keys, there is no fixed limit).
 *
 *     static weft_local request = WEFT_LOCAL_INIT(free);
 *
 *     weft_local_set(&request, strdup(path));   // local.request = path
 *     const char *mine = weft_local_get(&request);
 *
 * Python's subclass with an __init__ that runs again in each new thread is
 * WEFT_LOCAL_INIT_WITH(init, arg, destroy): the first get in a thread that
 * has no value calls init(arg) and keeps what it returns.
 *
 * Not applicable to C: attribute dictionaries (__dict__) and __slots__ — a
 * weft_local holds one pointer; point it at a struct for several fields.
 */
#ifndef WEFT_LOCAL_H
#define WEFT_LOCAL_H

#include "weft/atomic_field.h"
#include "weft/export.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*weft_local_init_fn)(void *arg);
typedef void (*weft_local_destroy_fn)(void *value);

/* Fields are private. */
typedef struct weft_local {
    WEFT_ATOMIC_FIELD_(uint32_t) slot_; /* 0 until first use */
    weft_local_init_fn init_;
    void *init_arg_;
    weft_local_destroy_fn destroy_;
} weft_local;

/* A local whose values are destroyed with `destroy` (may be NULL). */
#define WEFT_LOCAL_INIT(destroy) { 0, NULL, NULL, (destroy) }
/* A local whose first get in each thread calls init(arg). */
#define WEFT_LOCAL_INIT_WITH(init, arg, destroy) { 0, (init), (arg), (destroy) }

/* Initialize.  init and destroy may be NULL.  WEFT_OK or WEFT_EINVAL (NULL).
 * Python: threading.local() / a subclass with __init__. */
WEFT_API int weft_local_init(weft_local *local, weft_local_init_fn init, void *init_arg,
                             weft_local_destroy_fn destroy);

/* Destroy every thread's value and release the local's slot; the local may
 * be initialized and used again afterwards.  Destroy functions run in the
 * calling thread.  WEFT_OK; WEFT_EINVAL (NULL); WEFT_ENOMEM (nothing was
 * destroyed; try again).  Python: the local object being freed. */
WEFT_API int weft_local_destroy(weft_local *local);

/* The calling thread's value; NULL if it has none (Python's AttributeError)
 * and there is no init function, or init returned NULL or memory ran out. */
WEFT_API void *weft_local_get(weft_local *local);

/* Set the calling thread's value, destroying the previous one if it is a
 * different pointer.  Setting NULL deletes.  WEFT_OK; WEFT_EINVAL (NULL
 * local); WEFT_ENOMEM (the value was not stored and is not destroyed).
 * Python: local.attr = value. */
WEFT_API int weft_local_set(weft_local *local, void *value);

/* Destroy the calling thread's value, if any.  WEFT_OK or WEFT_EINVAL.
 * Python: del local.attr. */
WEFT_API int weft_local_delete(weft_local *local);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_LOCAL_H */
