/* SPDX-License-Identifier: MIT */
/* test_work_list.c — the executor's internal work list (src/work_list.h):
 * order, closing, the bound, parking, and a many-adders many-takers stress
 * in which every item must be taken exactly once. */
#include "testutil.h"

#include "park.h"
#include "work_list.h"

struct item {
    weft_work_node node; /* first, so a node is its item */
    int producer;
    long seq;
    atomic_int taken;
};

static weft_work_list *list_new(long capacity)
{
    weft_work_list *l = aligned_alloc(_Alignof(weft_work_list), sizeof *l);
    assert_non_null(l);
    weft__work_list_init(l, capacity);
    return l;
}

/* A one-off take (the test's own thread). */
static struct item *take_item(weft_work_list *l, bool wait, int *rc)
{
    weft_work_node *n = NULL;
    *rc = weft__work_list_take(l, NULL, &n, wait);
    return *rc == WEFT_OK ? (struct item *)(void *)n : NULL;
}

/* A worker's take: it may spin, and claims the spinner's role now and then
 * as a worker finishing a task does. */
static struct item *worker_take(weft_work_list *l, weft_work_taker *t, bool wait, int *rc)
{
    weft_work_node *n = NULL;
    *rc = weft__work_list_take(l, t, &n, wait);
    if (*rc == WEFT_OK && ((uintptr_t)n >> 4) % 3 == 0)
        weft__work_list_claim_spinner(l, t);
    return *rc == WEFT_OK ? (struct item *)(void *)n : NULL;
}

static int64_t after(double seconds)
{
    int64_t d;
    weft__deadline_after(seconds, &d);
    return d;
}

static void fifo_order_count_and_empty(void **state)
{
    (void)state;
    weft_work_list *l = list_new(0);
    struct item items[100];
    int rc;
    assert_null(take_item(l, false, &rc));
    assert_int_equal(rc, WEFT_EEMPTY);
    for (int i = 0; i < 100; i++) {
        items[i].seq = i;
        assert_int_equal(weft__work_list_add(l, &items[i].node, WEFT_NO_DEADLINE), WEFT_OK);
    }
    assert_int_equal(weft__work_list_count(l), 100);
    for (int i = 0; i < 100; i++) {
        struct item *it = take_item(l, false, &rc);
        assert_int_equal(rc, WEFT_OK);
        assert_int_equal(it->seq, i);
    }
    assert_int_equal(weft__work_list_count(l), 0);
    assert_null(take_item(l, false, &rc));
    assert_int_equal(rc, WEFT_EEMPTY);
    /* Emptied and refilled: the stub goes round again. */
    assert_int_equal(weft__work_list_add(l, &items[7].node, WEFT_NO_DEADLINE), WEFT_OK);
    assert_ptr_equal(take_item(l, true, &rc), &items[7]);
    free(l);
}

static void close_refuses_new_items_and_drains_old_ones(void **state)
{
    (void)state;
    weft_work_list *l = list_new(0);
    struct item a = {.seq = 1}, b = {.seq = 2};
    int rc;
    assert_int_equal(weft__work_list_add(l, &a.node, WEFT_NO_DEADLINE), WEFT_OK);
    weft__work_list_close(l);
    assert_int_equal(weft__work_list_add(l, &b.node, WEFT_NO_DEADLINE), WEFT_ESHUTDOWN);
    assert_ptr_equal(take_item(l, true, &rc), &a);
    assert_null(take_item(l, true, &rc));
    assert_int_equal(rc, WEFT_ESHUTDOWN);
    assert_null(take_item(l, false, &rc));
    assert_int_equal(rc, WEFT_ESHUTDOWN);
    weft__work_list_close(l); /* again: no effect */
    free(l);
}

static void bounded_list_waits_for_room(void **state)
{
    (void)state;
    weft_work_list *l = list_new(2);
    struct item it[3] = {{.seq = 0}, {.seq = 1}, {.seq = 2}};
    int rc;
    assert_int_equal(weft__work_list_add(l, &it[0].node, WEFT_NO_DEADLINE), WEFT_OK);
    assert_int_equal(weft__work_list_add(l, &it[1].node, WEFT_NO_DEADLINE), WEFT_OK);
    assert_int_equal(weft__work_list_add(l, &it[2].node, weft__now_ns()), WEFT_EFULL);
    double t0 = weft_perf_counter();
    assert_int_equal(weft__work_list_add(l, &it[2].node, after(0.1)), WEFT_EFULL);
    assert_timeout(weft_perf_counter() - t0, 0.1);
    assert_ptr_equal(take_item(l, false, &rc), &it[0]);
    assert_int_equal(weft__work_list_add(l, &it[2].node, weft__now_ns()), WEFT_OK);
    assert_int_equal(weft__work_list_count(l), 2);
    free(l);
}

/* A blocked adder is let in by a take, or refused by a close. */
static weft_work_list *blocked_list;
static atomic_int blocked_rc;
static struct item blocked_item;
static void add_blocked(int index, void *arg)
{
    (void)index;
    (void)arg;
    atomic_store(&blocked_rc, weft__work_list_add(blocked_list, &blocked_item.node,
                                                 WEFT_NO_DEADLINE));
}

static void bounded_adder_wakes_on_take_and_on_close(void **state)
{
    (void)state;
    struct item first;
    int rc;
    for (int closing = 0; closing < 2; closing++) {
        blocked_list = list_new(1);
        atomic_store(&blocked_rc, -1);
        assert_int_equal(weft__work_list_add(blocked_list, &first.node, WEFT_NO_DEADLINE),
                         WEFT_OK);
        bunch *b = bunch_start(1, add_blocked, NULL);
        wait_threads_blocked(1);
        assert_int_equal(atomic_load(&blocked_rc), -1);
        if (closing)
            weft__work_list_close(blocked_list);
        else
            assert_ptr_equal(take_item(blocked_list, false, &rc), &first);
        assert_eventually(atomic_load(&blocked_rc) != -1, 5);
        bunch_join(b);
        assert_int_equal(atomic_load(&blocked_rc), closing ? WEFT_ESHUTDOWN : WEFT_OK);
        free(blocked_list);
    }
}

/* Idle takers park (they do not spin for ever), an item wakes one, a
 * wake_all makes each return WEFT_EAGAIN, a close makes each leave. */
static weft_work_list *idle_list;
static atomic_int idle_taken, idle_again, idle_left;
static void idle_taker(int index, void *arg)
{
    (void)index;
    (void)arg;
    weft_work_taker t = {.spinning = false};
    for (;;) {
        int rc;
        struct item *it = worker_take(idle_list, &t, true, &rc);
        if (it)
            atomic_fetch_add(&idle_taken, 1);
        else if (rc == WEFT_EAGAIN)
            atomic_fetch_add(&idle_again, 1);
        else {
            atomic_fetch_add(&idle_left, rc == WEFT_ESHUTDOWN);
            return;
        }
    }
}

static void idle_takers_park_wake_and_leave(void **state)
{
    (void)state;
    idle_list = list_new(0);
    bunch *b = bunch_start(4, idle_taker, NULL);
    assert_eventually(atomic_load(&idle_list->parked) == 4, 5);
    struct item it = {.seq = 1};
    assert_int_equal(weft__work_list_add(idle_list, &it.node, WEFT_NO_DEADLINE), WEFT_OK);
    assert_eventually(atomic_load(&idle_taken) == 1, 5);
    assert_eventually(atomic_load(&idle_list->parked) == 4, 5);
    int again = atomic_load(&idle_again);
    weft__work_list_wake_all(idle_list);
    assert_eventually(atomic_load(&idle_again) >= again + 4, 5);
    weft__work_list_close(idle_list);
    assert_eventually(bunch_finished(b) == 4, 5);
    bunch_join(b);
    assert_int_equal(atomic_load(&idle_left), 4);
    assert_int_equal(atomic_load(&idle_taken), 1);
    free(idle_list);
}

/* Stress: adders and takers at once, some takers not waiting; a bounded
 * list half the time.  Every item is taken exactly once, and each adder's
 * items come out in the order it added them. */
#define ADDERS 4
#define TAKERS 4
#define PER_ADDER 50000
static weft_work_list *stress_list;
static struct item *stress_items;
static atomic_long stress_refused, stress_total;
static long last_seen[TAKERS][ADDERS];
static atomic_int order_errors;

static void stress_adder(int index, void *arg)
{
    (void)arg;
    for (long i = 0; i < PER_ADDER; i++) {
        struct item *it = &stress_items[index * PER_ADDER + i];
        it->producer = index;
        it->seq = i;
        if (weft__work_list_add(stress_list, &it->node, WEFT_NO_DEADLINE) != WEFT_OK)
            atomic_fetch_add(&stress_refused, 1);
    }
}

static void stress_taker(int index, void *arg)
{
    (void)arg;
    for (int a = 0; a < ADDERS; a++)
        last_seen[index][a] = -1;
    weft_work_taker t = {.spinning = false};
    for (unsigned n = 0;; n++) {
        int rc;
        bool wait = index % 2 == 0 || n % 8 != 0;
        struct item *it = index == 3 ? take_item(stress_list, wait, &rc)
                                     : worker_take(stress_list, &t, wait, &rc);
        if (rc == WEFT_ESHUTDOWN)
            return;
        if (!it)
            continue;
        if (it->seq <= last_seen[index][it->producer])
            atomic_fetch_add(&order_errors, 1);
        last_seen[index][it->producer] = it->seq;
        atomic_fetch_add(&it->taken, 1);
        atomic_fetch_add(&stress_total, 1);
    }
}

static void stress_every_item_taken_once(void **state)
{
    (void)state;
    for (int bounded = 0; bounded < 2; bounded++) {
        stress_list = list_new(bounded ? 64 : 0);
        stress_items = calloc(ADDERS * PER_ADDER, sizeof *stress_items);
        atomic_store(&stress_total, 0);
        bunch *takers = bunch_start(TAKERS, stress_taker, NULL);
        bunch *adders = bunch_start(ADDERS, stress_adder, NULL);
        bunch_join(adders);
        weft__work_list_close(stress_list);
        bunch_join(takers);
        assert_int_equal(atomic_load(&stress_refused), 0);
        assert_int_equal(atomic_load(&order_errors), 0);
        assert_int_equal(atomic_load(&stress_total), ADDERS * PER_ADDER);
        for (long i = 0; i < ADDERS * PER_ADDER; i++)
            assert_int_equal(atomic_load(&stress_items[i].taken), 1);
        assert_int_equal(weft__work_list_count(stress_list), 0);
        free(stress_items);
        free(stress_list);
    }
}

/* Closing while adders are busy: an item is either refused or taken. */
static void stress_close_while_adding(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        stress_list = list_new(0);
        stress_items = calloc(ADDERS * PER_ADDER, sizeof *stress_items);
        atomic_store(&stress_total, 0);
        atomic_store(&stress_refused, 0);
        bunch *takers = bunch_start(TAKERS, stress_taker, NULL);
        bunch *adders = bunch_start(ADDERS, stress_adder, NULL);
        nap(0.001 * (round % 5));
        weft__work_list_close(stress_list);
        bunch_join(adders);
        bunch_join(takers);
        assert_int_equal(atomic_load(&stress_total) + atomic_load(&stress_refused),
                         ADDERS * PER_ADDER);
        long taken = 0;
        for (long i = 0; i < ADDERS * PER_ADDER; i++) {
            assert_in_range(atomic_load(&stress_items[i].taken), 0, 1);
            taken += atomic_load(&stress_items[i].taken);
        }
        assert_int_equal(taken, atomic_load(&stress_total));
        free(stress_items);
        free(stress_list);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifo_order_count_and_empty),
        cmocka_unit_test(close_refuses_new_items_and_drains_old_ones),
        cmocka_unit_test(bounded_list_waits_for_room),
        cmocka_unit_test(bounded_adder_wakes_on_take_and_on_close),
        cmocka_unit_test(idle_takers_park_wake_and_leave),
        cmocka_unit_test(stress_every_item_taken_once),
        cmocka_unit_test(stress_close_while_adding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
