/* SPDX-License-Identifier: MIT */
/* weft/bytes.h — owned runs of bytes, what crosses between a parent and a
 * process-pool worker.  Python: the pickled bytes of a task's argument and
 * result (C has no pickle: the program encodes its own data).
 *
 *     weft_bytes *b = weft_bytes_new("hello", 5);   // a copy
 *     ...                                           // b->size, b->data
 *     weft_bytes_free(b);
 */
#ifndef WEFT_BYTES_H
#define WEFT_BYTES_H

#include "weft/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An owned run of bytes: what crosses between a parent and a pool worker. */
typedef struct weft_bytes {
    size_t size;
#if defined(__cplusplus) && defined(__GNUC__)
/* C++ has no flexible array member; GCC and Clang accept C's as an
 * extension with the same layout, which -Wpedantic would flag. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
    unsigned char data[];
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
} weft_bytes;

/* A new weft_bytes holding a copy of data[0..size) (data may be NULL when
 * size is 0), or uninitialized room for size bytes; NULL when memory runs
 * out.  Free with weft_bytes_free. */
WEFT_API weft_bytes *weft_bytes_new(const void *data, size_t size);
WEFT_API weft_bytes *weft_bytes_alloc(size_t size);
WEFT_API void weft_bytes_free(weft_bytes *bytes);

/* A bytes task: receives a copy of the submitted bytes, returns the result
 * bytes (from weft_bytes_new/alloc; the pool frees them after sending; NULL
 * for none) or weft_fail(code, "...") to fail its future. */
typedef weft_bytes *(*weft_bytes_fn)(const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
