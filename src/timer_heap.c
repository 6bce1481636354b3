/* SPDX-License-Identifier: MIT */
/* timer_heap.c — the pending timers, earliest first (timer_impl.h). */
#include "timer_impl.h"

#include <stdlib.h>

static void place(struct timer_heap *h, size_t i, weft_timer *t)
{
    h->items[i] = t;
    t->slot = i;
}

static void sift_up(struct timer_heap *h, size_t i)
{
    weft_timer *t = h->items[i];
    while (i > 0 && h->items[(i - 1) / 2]->due > t->due) {
        place(h, i, h->items[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(h, i, t);
}

static void sift_down(struct timer_heap *h, size_t i)
{
    weft_timer *t = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->size)
            break;
        if (child + 1 < h->size && h->items[child + 1]->due < h->items[child]->due)
            child++;
        if (h->items[child]->due >= t->due)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

bool weft_timer_heap_push(struct timer_heap *h, weft_timer *t)
{
    if (h->size == h->capacity) {
        size_t cap = h->capacity ? h->capacity * 2 : 64;
        weft_timer **grown = realloc(h->items, cap * sizeof *grown);
        if (!grown)
            return false;
        h->items = grown;
        h->capacity = cap;
    }
    place(h, h->size++, t);
    sift_up(h, t->slot);
    return true;
}

void weft_timer_heap_remove(struct timer_heap *h, weft_timer *t)
{
    size_t i = t->slot;
    weft_timer *last = h->items[--h->size];
    if (i == h->size)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->slot);
}
