/* SPDX-License-Identifier: MIT */
/* ident.c — thread identities that are never reused.
 * Python's get_ident() may be recycled once a thread exits; weft's are not,
 * so a recycled id can never make a new thread the owner of an RLock that a
 * dead thread still holds. */
#include "ident.h"

#include "platform/platform.h"

#include <stdatomic.h>

static _Atomic uint64_t next_ident = WEFT_MAIN_IDENT + 1;
static _Thread_local uint64_t self_ident;

uint64_t weft__ident_new(void)
{
    return atomic_fetch_add_explicit(&next_ident, 1, memory_order_relaxed);
}

void weft__ident_adopt(uint64_t ident) { self_ident = ident; }

uint64_t weft__self_ident(void)
{
    uint64_t id = self_ident;
    if (id == 0) {
        id = weft__pf_is_main_thread() ? WEFT_MAIN_IDENT : weft__ident_new();
        self_ident = id;
    }
    return id;
}
