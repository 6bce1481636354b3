/* SPDX-License-Identifier: MIT */
/* work_deque.c — a worker's own deque, stealable by the others (see
 * work_deque.h). */
#include "work_deque.h"

#include "weft/status.h"

#define SLOT_MASK (WEFT_DEQUE_SLOTS - 1)

_Static_assert((WEFT_DEQUE_SLOTS & SLOT_MASK) == 0, "a power of two");

void weft__deque_init(weft_work_deque *d)
{
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    for (size_t i = 0; i < WEFT_DEQUE_SLOTS; i++)
        atomic_init(&d->slots[i], NULL);
}

static _Atomic(weft_work_node *) *slot(weft_work_deque *d, int64_t i)
{
    return &d->slots[(uint64_t)i & SLOT_MASK];
}

bool weft__deque_push(weft_work_deque *d, weft_work_node *node)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    if (b - t >= WEFT_DEQUE_SLOTS)
        return false;
    atomic_store_explicit(slot(d, b), node, memory_order_relaxed);
    /* A thief that sees the new bottom sees the slot, and the node's
     * contents written before the push (release would do for that).
     * Sequentially consistent, because the pool then looks for idle
     * workers while they, having said they are idle, look here
     * (weft__work_list_poke): one of the two must see the other. */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_seq_cst);
    return true;
}

weft_work_node *weft__deque_pop(weft_work_deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    /* Claim the bottom item before looking at top: sequentially consistent
     * against a thief's read of top then bottom, so the two cannot both
     * take the last item without one of them seeing the other. */
    atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    if (t > b) { /* it was empty */
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    weft_work_node *node = atomic_load_explicit(slot(d, b), memory_order_relaxed);
    if (t == b) {
        /* The last item: a thief may be taking it; whoever moves top wins. */
        if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            node = NULL;
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return node;
}

int weft__deque_steal(weft_work_deque *d, weft_work_node **node)
{
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
    if (t >= b)
        return WEFT_EEMPTY;
    /* Read before the claim: once top moves, the owner may reuse the slot. */
    weft_work_node *n = atomic_load_explicit(slot(d, t), memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return WEFT_EAGAIN;
    *node = n;
    return WEFT_OK;
}

size_t weft__deque_count(weft_work_deque *d)
{
    /* Sequentially consistent: an idle worker's look (see push). */
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
    return b > t ? (size_t)(b - t) : 0;
}
