/* SPDX-License-Identifier: MIT */
/* timer_heap.c — the pending timers, earliest first (timer_impl.h), on
 * heap.h's heap: each entry is a timer pointer, and the timer keeps its
 * index (slot) so that cancel removes it in O(log n). */
#include "timer_impl.h"

#include "heap.h"

static bool due_first(const void *a, const void *b, const void *ctx)
{
    (void)ctx;
    return (*(weft_timer *const *)a)->due < (*(weft_timer *const *)b)->due;
}

static void set_slot(void *entry, size_t index) { (*(weft_timer **)entry)->slot = index; }

static const weft_heap_kind timers = {sizeof(weft_timer *), due_first, set_slot};

bool weft__timer_heap_push(struct timer_heap *h, weft_timer *t)
{
    void *items = h->items;
    if (!weft__heap_reserve(&items, &h->capacity, h->size, 64, &timers))
        return false;
    h->items = items;
    weft__heap_push(h->items, &h->size, &t, &timers, NULL);
    return true;
}

void weft__timer_heap_remove(struct timer_heap *h, weft_timer *t)
{
    weft__heap_remove(h->items, &h->size, t->slot, NULL, &timers, NULL);
}
