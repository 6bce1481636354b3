/* SPDX-License-Identifier: MIT */
/* bytes.c — weft_bytes, the owned runs of bytes a process pool exchanges
 * with its workers (weft/process_pool.h). */
#include "weft/bytes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

weft_bytes *weft_bytes_alloc(size_t size)
{
    if (size > SIZE_MAX - sizeof(weft_bytes))
        return NULL;
    weft_bytes *b = malloc(sizeof *b + size);
    if (b)
        b->size = size;
    return b;
}

weft_bytes *weft_bytes_new(const void *data, size_t size)
{
    if (!data && size)
        return NULL;
    weft_bytes *b = weft_bytes_alloc(size);
    if (b && size)
        memcpy(b->data, data, size);
    return b;
}

void weft_bytes_free(weft_bytes *bytes) { free(bytes); }
