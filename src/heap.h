/* SPDX-License-Identifier: MIT */
/* heap.h — the one binary min-heap of the library (layer 2: base).
 *
 * The heap is an array of fixed-size entries that its owner allocates and
 * counts (weft__heap_reserve grows it); entry 0 is the least.  The owner
 * describes its entries with a weft_heap_kind: their size, their order
 * (`less`, given the owner's context), and optionally `moved`, told every
 * entry's new index whenever one changes, so that an element can remember
 * where it is and be removed in O(log n) (the timers' cancel).
 *
 * Everything is static inline and each owner passes a constant kind, so
 * the compiler specialises the code for it: the size is a constant, `less`
 * a direct call (inlined), and an absent `moved` costs nothing.  That keeps
 * a PriorityQueue's put and get as fast as the hand-written heap it
 * replaced.
 *
 * Sifting moves a hole, not the entry: the entry being placed lives outside
 * the part of the array being reordered (the caller's copy on a push, the
 * old last entry on a removal), so no temporary of unknown size is needed.
 * No locking: the owner guards the heap.
 */
#ifndef WEFT_HEAP_H
#define WEFT_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* GCC and clang inline these into every owner even in larger functions,
 * so that the kind's constants are folded in. */
#if defined(__GNUC__)
#define WEFT_HEAP_INLINE static inline __attribute__((always_inline))
#else
#define WEFT_HEAP_INLINE static inline
#endif

typedef struct weft_heap_kind {
    size_t size; /* bytes per entry */
    /* Whether a must leave before b. */
    bool (*less)(const void *a, const void *b, const void *ctx);
    /* Optional: entry now sits at index. */
    void (*moved)(void *entry, size_t index);
} weft_heap_kind;

WEFT_HEAP_INLINE void *weft__heap_at(void *items, size_t i, const weft_heap_kind *kind)
{
    return (char *)items + i * kind->size;
}

/* Copy `entry` into slot i and tell it where it is. */
WEFT_HEAP_INLINE void weft__heap_place(void *items, size_t i, const void *entry,
                                      const weft_heap_kind *kind)
{
    void *slot = weft__heap_at(items, i, kind);
    memcpy(slot, entry, kind->size);
    if (kind->moved)
        kind->moved(slot, i);
}

/* Put `entry` (not in the array) into the hole at i, moving the hole up
 * past every parent that must leave after it. */
WEFT_HEAP_INLINE void weft__heap_sift_up(void *items, size_t i, const void *entry,
                                        const weft_heap_kind *kind, const void *ctx)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        const void *p = weft__heap_at(items, parent, kind);
        if (!kind->less(entry, p, ctx))
            break;
        weft__heap_place(items, i, p, kind);
        i = parent;
    }
    weft__heap_place(items, i, entry, kind);
}

/* Put `entry` (not among items[0..n-1]) into the hole at i, moving the
 * hole down past every child that must leave before it. */
WEFT_HEAP_INLINE void weft__heap_sift_down(void *items, size_t n, size_t i, const void *entry,
                                          const weft_heap_kind *kind, const void *ctx)
{
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        void *c = weft__heap_at(items, child, kind);
        if (child + 1 < n) {
            void *right = weft__heap_at(items, child + 1, kind);
            if (kind->less(right, c, ctx)) {
                child++;
                c = right;
            }
        }
        if (!kind->less(c, entry, ctx))
            break;
        weft__heap_place(items, i, c, kind);
        i = child;
    }
    weft__heap_place(items, i, entry, kind);
}

/* Make room for one more entry: grow items (doubling, from `first`) when
 * *count == *capacity.  False when out of memory (nothing changed). */
static inline bool weft__heap_reserve(void **items, size_t *capacity, size_t count,
                                     size_t first, const weft_heap_kind *kind)
{
    if (count < *capacity)
        return true;
    size_t grown = *capacity ? *capacity * 2 : first;
    void *moved = realloc(*items, grown * kind->size);
    if (!moved)
        return false;
    *items = moved;
    *capacity = grown;
    return true;
}

/* Add a copy of `entry`; the caller made room (weft__heap_reserve). */
WEFT_HEAP_INLINE void weft__heap_push(void *items, size_t *count, const void *entry,
                                     const weft_heap_kind *kind, const void *ctx)
{
    weft__heap_sift_up(items, (*count)++, entry, kind, ctx);
}

/* Take out the entry at index i (< *count), copied to `out` unless NULL.
 * The last entry fills the hole and goes up or down from there. */
WEFT_HEAP_INLINE void weft__heap_remove(void *items, size_t *count, size_t i, void *out,
                                       const weft_heap_kind *kind, const void *ctx)
{
    if (out)
        memcpy(out, weft__heap_at(items, i, kind), kind->size);
    size_t n = --*count;
    if (i == n)
        return;
    const void *last = weft__heap_at(items, n, kind); /* now outside items[0..n-1] */
    if (i > 0 && kind->less(last, weft__heap_at(items, (i - 1) / 2, kind), ctx))
        weft__heap_sift_up(items, i, last, kind, ctx);
    else
        weft__heap_sift_down(items, n, i, last, kind, ctx);
}

/* Take out the least entry into `out`; *count must be above 0. */
WEFT_HEAP_INLINE void weft__heap_pop(void *items, size_t *count, void *out,
                                    const weft_heap_kind *kind, const void *ctx)
{
    weft__heap_remove(items, count, 0, out, kind, ctx);
}

#endif
