/* SPDX-License-Identifier: MIT */
/* test_heap.c — src/heap.h: random pushes, pops and removals by position,
 * checked after every step against a sorted reference, and every entry's
 * remembered index checked against where it is. */
#include "heap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#define MAX_ENTRIES 512

/* An element that remembers its index, as a timer does. */
struct element {
    int key;
    unsigned order; /* tie-break: insertion order */
    size_t index;
    bool in_heap;
};

static bool before(const void *a, const void *b, const void *ctx)
{
    const struct element *x = *(struct element *const *)a, *y = *(struct element *const *)b;
    int *calls = (int *)(uintptr_t)ctx;
    ++*calls;
    return x->key != y->key ? x->key < y->key : x->order < y->order;
}

static void note_index(void *entry, size_t index) { (*(struct element **)entry)->index = index; }

static const weft_heap_kind kind = {sizeof(struct element *), before, note_index};

struct fixture {
    struct element elements[MAX_ENTRIES];
    struct element **items;
    size_t count, capacity;
    int calls;
    unsigned next_order;
};

/* The least element in the heap, found by looking at every one. */
static struct element *least_by_search(struct fixture *f)
{
    struct element *best = NULL;
    for (size_t i = 0; i < MAX_ENTRIES; i++) {
        struct element *e = &f->elements[i];
        if (e->in_heap && (!best || e->key < best->key ||
                           (e->key == best->key && e->order < best->order)))
            best = e;
    }
    return best;
}

static void check_invariants(struct fixture *f)
{
    size_t in_heap = 0;
    for (size_t i = 0; i < MAX_ENTRIES; i++)
        in_heap += f->elements[i].in_heap;
    assert_int_equal(in_heap, f->count);
    for (size_t i = 0; i < f->count; i++) {
        assert_true(f->items[i]->in_heap);
        assert_int_equal(f->items[i]->index, i); /* `moved` kept it right */
        if (i > 0) /* no child leaves before its parent */
            assert_false(before(&f->items[i], &f->items[(i - 1) / 2], &f->calls));
    }
}

static void push_one(struct fixture *f, struct element *e)
{
    void *items = f->items;
    assert_true(weft__heap_reserve(&items, &f->capacity, f->count, 4, &kind));
    f->items = items;
    e->order = f->next_order++;
    e->in_heap = true;
    weft__heap_push(f->items, &f->count, &e, &kind, &f->calls);
}

static void random_operations(void **state)
{
    (void)state;
    static struct fixture f;
    srand(12345);
    for (int step = 0; step < 200000; step++) {
        int op = rand() % 3;
        size_t pick = (size_t)rand() % MAX_ENTRIES;
        struct element *e = &f.elements[pick];
        if (op == 0 && !e->in_heap) {
            e->key = rand() % 64; /* few keys: many ties */
            push_one(&f, e);
        } else if (op == 1 && f.count) {
            struct element *want = least_by_search(&f), *got;
            weft__heap_pop(f.items, &f.count, &got, &kind, &f.calls);
            assert_ptr_equal(got, want); /* least key, then first in */
            got->in_heap = false;
        } else if (op == 2 && e->in_heap) {
            struct element *got;
            weft__heap_remove(f.items, &f.count, e->index, &got, &kind, &f.calls);
            assert_ptr_equal(got, e);
            e->in_heap = false;
        }
        if (step % 97 == 0 || f.count < 8)
            check_invariants(&f);
    }
    check_invariants(&f);
    /* Drain: everything leaves in the reference order. */
    while (f.count) {
        struct element *want = least_by_search(&f), *got;
        weft__heap_pop(f.items, &f.count, &got, &kind, &f.calls);
        assert_ptr_equal(got, want);
        got->in_heap = false;
    }
    free(f.items);
}

/* Sorting n random keys through the heap costs O(n log n) comparisons. */
static void logarithmic_cost(void **state)
{
    (void)state;
    static struct fixture f;
    srand(777);
    for (size_t i = 0; i < MAX_ENTRIES; i++) {
        f.elements[i].key = rand();
        push_one(&f, &f.elements[i]);
    }
    int last = -1;
    while (f.count) {
        struct element *got;
        weft__heap_pop(f.items, &f.count, &got, &kind, &f.calls);
        assert_true(got->key >= last);
        last = got->key;
    }
    assert_true(f.calls < 4 * MAX_ENTRIES * 9); /* 2 log2(512) per pop, plus pushes */
    free(f.items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_operations),
        cmocka_unit_test(logarithmic_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
