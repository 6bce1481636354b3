/* SPDX-License-Identifier: MIT */
/* test_work_deque.c — a worker's own deque (src/work_deque.h): the owner's
 * newest-first pops, thieves' oldest-first steals, the full ring, and a
 * stress in which an owner pushes and pops while thieves steal, and every
 * item must be taken exactly once. */
#include "testutil.h"

#include "work_deque.h"

#include <pthread.h>

struct item {
    weft_work_node node; /* first, so a node is its item */
    long seq;
    atomic_int taken;
};

static weft_work_deque *deque_new(void)
{
    weft_work_deque *d = aligned_alloc(64, (sizeof *d + 63) / 64 * 64);
    assert_non_null(d);
    weft__deque_init(d);
    return d;
}

static struct item *as_item(weft_work_node *n) { return (struct item *)(void *)n; }

static void owner_pops_newest_thief_steals_oldest(void **state)
{
    (void)state;
    weft_work_deque *d = deque_new();
    struct item items[4] = {{.seq = 0}, {.seq = 1}, {.seq = 2}, {.seq = 3}};
    assert_null(weft__deque_pop(d));
    weft_work_node *n = NULL;
    assert_int_equal(weft__deque_steal(d, &n), WEFT_EEMPTY);
    for (int i = 0; i < 4; i++)
        assert_true(weft__deque_push(d, &items[i].node));
    assert_int_equal(weft__deque_count(d), 4);
    assert_int_equal(weft__deque_steal(d, &n), WEFT_OK);
    assert_int_equal(as_item(n)->seq, 0);
    assert_int_equal(as_item(weft__deque_pop(d))->seq, 3);
    assert_int_equal(weft__deque_steal(d, &n), WEFT_OK);
    assert_int_equal(as_item(n)->seq, 1);
    assert_int_equal(as_item(weft__deque_pop(d))->seq, 2);
    assert_null(weft__deque_pop(d));
    assert_int_equal(weft__deque_steal(d, &n), WEFT_EEMPTY);
    assert_int_equal(weft__deque_count(d), 0);
    free(d);
}

/* A full ring refuses; once an item is gone, the ring takes one again, and
 * indices that wrapped around the ring many times still work. */
static void full_ring_refuses_and_wraps(void **state)
{
    (void)state;
    weft_work_deque *d = deque_new();
    static struct item items[WEFT_DEQUE_SLOTS + 1];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < WEFT_DEQUE_SLOTS; i++)
            assert_true(weft__deque_push(d, &items[i].node));
        assert_false(weft__deque_push(d, &items[WEFT_DEQUE_SLOTS].node));
        weft_work_node *n = NULL;
        assert_int_equal(weft__deque_steal(d, &n), WEFT_OK);
        assert_ptr_equal(n, &items[0].node);
        assert_true(weft__deque_push(d, &items[WEFT_DEQUE_SLOTS].node));
        assert_ptr_equal(weft__deque_pop(d), &items[WEFT_DEQUE_SLOTS].node);
        for (int i = WEFT_DEQUE_SLOTS - 1; i >= 1; i--)
            assert_ptr_equal(weft__deque_pop(d), &items[i].node);
        assert_null(weft__deque_pop(d));
    }
    free(d);
}

#define STRESS_ITEMS 200000
#define THIEVES 3

struct stress {
    weft_work_deque *d;
    struct item *items;
    atomic_bool done;
    atomic_long stolen, popped;
};

static void take(struct stress *s, weft_work_node *n, atomic_long *count)
{
    struct item *it = as_item(n);
    assert_true(it >= s->items && it < s->items + STRESS_ITEMS);
    atomic_fetch_add(&it->taken, 1);
    atomic_fetch_add(count, 1);
}

static void *thief(void *arg)
{
    struct stress *s = arg;
    for (;;) {
        weft_work_node *n = NULL;
        int rc = weft__deque_steal(s->d, &n);
        if (rc == WEFT_OK)
            take(s, n, &s->stolen);
        else if (rc == WEFT_EEMPTY && atomic_load(&s->done))
            return NULL;
    }
}

/* The owner pushes bursts of 1-300 (so the ring fills and refuses at
 * times: those items it takes itself), pops some of each burst, and at
 * the end pops what the thieves left. */
static void stress_every_item_taken_once(void **state)
{
    (void)state;
    struct stress s = {.d = deque_new(), .items = calloc(STRESS_ITEMS, sizeof(struct item))};
    assert_non_null(s.items);
    pthread_t t[THIEVES];
    for (int i = 0; i < THIEVES; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thief, &s), 0);
    unsigned seed = 12345;
    long next = 0;
    while (next < STRESS_ITEMS) {
        seed = seed * 1103515245u + 12345u;
        long burst = 1 + (long)(seed >> 16) % 300;
        for (long k = 0; k < burst && next < STRESS_ITEMS; k++, next++) {
            s.items[next].seq = next;
            if (!weft__deque_push(s.d, &s.items[next].node))
                take(&s, &s.items[next].node, &s.popped); /* full: run it here */
        }
        for (long k = 0; k < burst / 2; k++) {
            weft_work_node *n = weft__deque_pop(s.d);
            if (!n)
                break;
            take(&s, n, &s.popped);
        }
    }
    weft_work_node *n;
    while ((n = weft__deque_pop(s.d)))
        take(&s, n, &s.popped);
    atomic_store(&s.done, true);
    for (int i = 0; i < THIEVES; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(weft__deque_count(s.d), 0);
    assert_int_equal(atomic_load(&s.stolen) + atomic_load(&s.popped), STRESS_ITEMS);
    for (long i = 0; i < STRESS_ITEMS; i++)
        assert_int_equal(atomic_load(&s.items[i].taken), 1);
    free(s.items);
    free(s.d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owner_pops_newest_thief_steals_oldest),
        cmocka_unit_test(full_ring_refuses_and_wraps),
        cmocka_unit_test(stress_every_item_taken_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
