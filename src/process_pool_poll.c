/* SPDX-License-Identifier: MIT */
/* process_pool_poll.c — the waiter-side poller of a process pool's
 * futures (see future_internal.h's weft__future_set_poller): a thread
 * waiting on one of the pool's futures spins taking replies from the
 * shared pages, so that a quick task costs no wake-up; while it spins,
 * workers ring no doorbell. */
#include "process_pool_poll.h"

#include "future_internal.h"
#include "process_pool_minder.h"
#include "process_pool_state.h"

#include <stdatomic.h>

/* BEGIN registers this thread as a spinner on every slot (and keeps the
 * pool from being destroyed), STEP takes what replies are there without
 * waiting for a slot's lock, END unregisters, then looks once more. */
void weft__ppool_poll(void *ctx, int phase)
{
    struct ppool *p = ctx;
    if (phase == WEFT_POLL_BEGIN) {
        atomic_fetch_add(&p->pollers, 1); /* the pool stays until we are done */
        for (size_t i = 0; i < p->nslots; i++)
            atomic_fetch_add(&p->shared[i].parent_spinning, 1);
        return;
    }
    bool last = phase == WEFT_POLL_END;
    if (last) /* then look once more: a worker may have counted on us */
        for (size_t i = 0; i < p->nslots; i++)
            atomic_fetch_sub(&p->shared[i].parent_spinning, 1);
    /* Already taking this pool's replies further up (a done-callback that
     * waits): it may hold a slot's lock, so never wait for one. */
    bool may_wait = last && !weft__ppool_serving(p);
    struct ppool_serving sv;
    weft__ppool_serving_begin(&sv, p);
    for (size_t i = 0; i < p->nslots; i++)
        weft__ppool_take_shared_reply(&p->slots[i], may_wait);
    weft__ppool_serving_end(&sv);
    if (last)
        atomic_fetch_sub(&p->pollers, 1);
}
