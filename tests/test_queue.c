/* SPDX-License-Identifier: MIT */
/* test_queue.c — weft_queue and weft_simple_queue against
 * the Python behaviours (docs/python.md) "Queue family" and "SimpleQueue".  Queue-family
 * tests run for FIFO, LIFO and priority queues, as CPython's do. */
#include "testutil.h"

#define ITEM(n) ((void *)(uintptr_t)(n))
#define VALUE(p) ((uintptr_t)(p))

static const weft_queue_kind kinds[] = {WEFT_QUEUE_FIFO, WEFT_QUEUE_LIFO, WEFT_QUEUE_PRIORITY};
#define FOR_EACH_KIND(k) for (int k = 0; k < 3; k++)

static weft_queue *make(weft_queue_kind kind, long maxsize)
{
    weft_queue *q = NULL;
    weft_queue_options o = {.maxsize = maxsize, .kind = kind};
    assert_int_equal(weft_queue_new_with(&q, &o), WEFT_OK);
    return q;
}

static void *get_value(weft_queue *q)
{
    void *item = NULL;
    assert_int_equal(weft_queue_get(q, &item), WEFT_OK);
    return item;
}

/* Queue 1 [test_queue.BaseQueueTestMixin.test_basic, probe] */
static void queue_new_is_empty_and_unbounded_when_maxsize_not_positive(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        long sizes[] = {0, -3};
        for (int i = 0; i < 2; i++) {
            weft_queue *q = make(kinds[k], sizes[i]);
            assert_true(weft_queue_empty(q));
            assert_false(weft_queue_full(q));
            for (int n = 0; n < 1000; n++)
                assert_int_equal(weft_queue_put_nowait(q, ITEM(n + 1)), WEFT_OK);
            assert_false(weft_queue_full(q));
            assert_int_equal(weft_queue_qsize(q), 1000);
            weft_queue_free(q);
        }
    }
}

/* Queue 2 [test_queue.BaseQueueTestMixin.test_basic] */
static void queue_order_by_kind(void **state)
{
    (void)state;
    const uintptr_t expected[3][3] = {{111, 333, 222}, {222, 333, 111}, {111, 222, 333}};
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 0);
        for (int round = 0; round < 2; round++) { /* the same instance again */
            weft_queue_put(q, ITEM(111));
            weft_queue_put(q, ITEM(333));
            weft_queue_put(q, ITEM(222));
            for (int i = 0; i < 3; i++)
                assert_int_equal(VALUE(get_value(q)), expected[k][i]);
            assert_true(weft_queue_empty(q));
        }
        weft_queue_free(q);
    }
}

/* Queue 3 [test_queue.BaseQueueTestMixin.test_basic] */
static void queue_full_refuses_put(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 5);
        for (int i = 0; i < 5; i++)
            weft_queue_put(q, ITEM(i + 1));
        assert_true(weft_queue_full(q));
        assert_false(weft_queue_empty(q));
        assert_int_equal(weft_queue_put_nowait(q, ITEM(9)), WEFT_EFULL);
        double t0 = weft_monotonic();
        assert_int_equal(weft_queue_put_timeout(q, ITEM(9), 0.01), WEFT_EFULL);
        double dt = weft_monotonic() - t0;
        assert_true(dt >= 0.01);
        assert_timeout(dt, 0.01);
        assert_int_equal(weft_queue_qsize(q), 5);
        weft_queue_free(q);
    }
}

static void get_one_later(int index, void *arg)
{
    (void)index;
    void *item;
    nap(0.05);
    weft_queue_get(arg, &item);
}

static void put_one_later(int index, void *arg)
{
    (void)index;
    nap(0.05);
    weft_queue_put(arg, ITEM(77));
}

/* Queue 4 [test_queue.BaseQueueTestMixin.test_basic] */
static void queue_blocking_put_waits_for_a_get(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 1);
        weft_queue_put(q, ITEM(1));
        /* The helper gets 50 ms from now: the put must wait for it. */
        double t0 = weft_monotonic();
        bunch *b = bunch_start(1, get_one_later, q);
        assert_int_equal(weft_queue_put(q, ITEM(2)), WEFT_OK);
        assert_true(weft_monotonic() - t0 >= 0.05);
        bunch_join(b);
        t0 = weft_monotonic();
        b = bunch_start(1, get_one_later, q);
        assert_int_equal(weft_queue_put_timeout(q, ITEM(3), 10), WEFT_OK);
        assert_true(weft_monotonic() - t0 >= 0.05);
        bunch_join(b);
        weft_queue_free(q);
    }
}

/* Queue 5 [test_queue.BaseQueueTestMixin.test_basic] */
static void queue_empty_get_fails_or_waits_for_a_put(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 0);
        void *item;
        assert_int_equal(weft_queue_get_nowait(q, &item), WEFT_EEMPTY);
        double t0 = weft_monotonic();
        assert_int_equal(weft_queue_get_timeout(q, &item, 0.01), WEFT_EEMPTY);
        assert_timeout(weft_monotonic() - t0, 0.01);
        t0 = weft_monotonic(); /* the helper puts 50 ms from now */
        bunch *b = bunch_start(1, put_one_later, q);
        assert_int_equal(VALUE(get_value(q)), 77);
        assert_true(weft_monotonic() - t0 >= 0.05);
        bunch_join(b);
        b = bunch_start(1, put_one_later, q);
        assert_int_equal(weft_queue_get_timeout(q, &item, 10), WEFT_OK);
        assert_int_equal(VALUE(item), 77);
        bunch_join(b);
        weft_queue_free(q);
    }
}

/* Queue 6 [test_queue.BaseQueueTestMixin.test_nowait] */
static void queue_nowait_forms(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 5);
        void *item;
        for (int i = 0; i < 5; i++)
            assert_int_equal(weft_queue_put_nowait(q, ITEM(i + 1)), WEFT_OK);
        assert_int_equal(weft_queue_put_nowait(q, ITEM(6)), WEFT_EFULL);
        for (int i = 0; i < 5; i++)
            assert_int_equal(weft_queue_get_nowait(q, &item), WEFT_OK);
        assert_int_equal(weft_queue_get_nowait(q, &item), WEFT_EEMPTY);
        weft_queue_free(q);
    }
}

/* Queue 7, 8, 9 [test_queue.BaseQueueTestMixin.test_negative_timeout_raises_exception,
 * probe, src] */
static void queue_timeout_rules(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *bounded = make(kinds[k], 1), *unbounded = make(kinds[k], 0);
        void *item;
        assert_int_equal(weft_queue_put_timeout(bounded, ITEM(1), -1), WEFT_EINVAL);
        assert_int_equal(weft_queue_qsize(bounded), 0);
        weft_queue_put(bounded, ITEM(1));
        assert_int_equal(weft_queue_get_timeout(bounded, &item, -1), WEFT_EINVAL);
        assert_int_equal(weft_queue_qsize(bounded), 1); /* even with an item ready */
        assert_int_equal(weft_queue_put_timeout(unbounded, ITEM(1), -1), WEFT_OK); /* 8 */
        double t0 = weft_monotonic(); /* 9 */
        assert_int_equal(weft_queue_put_timeout(bounded, ITEM(2), 0), WEFT_EFULL);
        weft_queue_get(unbounded, &item);
        assert_int_equal(weft_queue_get_timeout(unbounded, &item, 0), WEFT_EEMPTY);
        assert_true(weft_monotonic() - t0 < IMMEDIATE);
        assert_int_equal(weft_queue_get_timeout(unbounded, &item, NAN), WEFT_EINVAL);
        assert_int_equal(weft_queue_put_timeout(bounded, ITEM(2), 1e100), WEFT_EINVAL);
        weft_queue_free(bounded);
        weft_queue_free(unbounded);
    }
}

/* Queue 10 [test_queue.BaseQueueTestMixin.test_shrinking_queue] */
static void queue_maxsize_is_read_on_every_put(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 3);
        for (int i = 0; i < 3; i++)
            weft_queue_put(q, ITEM(i + 1));
        assert_int_equal(weft_queue_set_maxsize(q, 2), WEFT_OK);
        assert_int_equal(weft_queue_maxsize(q), 2);
        assert_int_equal(weft_queue_put_nowait(q, ITEM(4)), WEFT_EFULL);
        assert_true(weft_queue_full(q));
        weft_queue_free(q);
    }
}

/* Raising the bound wakes a waiting putter (beyond the Python test). */
static void set_maxsize_later(int index, void *arg)
{
    (void)index;
    nap(0.05);
    weft_queue_set_maxsize(arg, 2);
}
static void queue_raising_maxsize_wakes_putters(void **state)
{
    (void)state;
    weft_queue *q = make(WEFT_QUEUE_FIFO, 1);
    weft_queue_put(q, ITEM(1));
    bunch *b = bunch_start(1, set_maxsize_later, q);
    assert_int_equal(weft_queue_put_timeout(q, ITEM(2), 10), WEFT_OK);
    bunch_join(b);
    weft_queue_free(q);
}

/* Queue 11 [test_queue.BaseQueueTestMixin.test_queue_task_done] */
static void queue_task_done_on_fresh_queue_is_an_error(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 0);
        assert_int_equal(weft_queue_task_done(q), WEFT_EINVAL);
        weft_queue_free(q);
    }
}

static atomic_int processed;
static void worker_until_zero(int index, void *arg)
{
    (void)index;
    weft_queue *q = arg;
    for (;;) {
        void *item;
        weft_queue_get(q, &item);
        if (VALUE(item) == 0xdead) {
            weft_queue_task_done(q);
            return;
        }
        atomic_fetch_add(&processed, (int)VALUE(item));
        weft_queue_task_done(q);
    }
}

/* Queue 12 [test_queue.BaseQueueTestMixin.test_queue_join] */
static void queue_join_waits_for_task_done(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 0);
        atomic_store(&processed, 0);
        bunch *b = bunch_start(2, worker_until_zero, q);
        for (int i = 1; i <= 100; i++)
            weft_queue_put(q, ITEM(i));
        assert_int_equal(weft_queue_join(q), WEFT_OK);
        assert_int_equal(atomic_load(&processed), 5050);
        assert_int_equal(weft_queue_join(q), WEFT_OK); /* twice is fine */
        weft_queue_put(q, ITEM(0xdead));
        weft_queue_put(q, ITEM(0xdead));
        bunch_join(b);
        assert_int_equal(weft_queue_join_timeout(q, 1), WEFT_OK);
        assert_int_equal(weft_queue_task_done(q), WEFT_EINVAL);
        weft_queue_free(q);
    }
}

/* join with a timeout (beyond Python) */
static void queue_join_timeout(void **state)
{
    (void)state;
    weft_queue *q = make(WEFT_QUEUE_FIFO, 0);
    weft_queue_put(q, ITEM(1));
    double t0 = weft_monotonic();
    assert_int_equal(weft_queue_join_timeout(q, 0.05), WEFT_ETIMEDOUT);
    assert_timeout(weft_monotonic() - t0, 0.05);
    assert_int_equal(weft_queue_join_timeout(q, 0), WEFT_ETIMEDOUT);
    assert_int_equal(weft_queue_join_timeout(q, NAN), WEFT_EINVAL);
    weft_queue_free(q);
}

/* Queue 13 [test_queue.BaseQueueTestMixin.test_shutdown_put_join] */
static void queue_unfinished_tasks_counts_puts(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 0);
        for (size_t i = 1; i <= 4; i++) {
            weft_queue_put(q, ITEM(i));
            assert_int_equal(weft_queue_unfinished_tasks(q), i);
            assert_int_equal(weft_queue_qsize(q), i);
        }
        get_value(q);
        assert_int_equal(weft_queue_unfinished_tasks(q), 4);
        weft_queue_task_done(q);
        assert_int_equal(weft_queue_unfinished_tasks(q), 3);
        weft_queue_free(q);
    }
}

/* Queue 14 [test_queue.BaseQueueTestMixin.test_shutdown_allowed_transitions] */
static void queue_shutdown_transitions(void **state)
{
    (void)state;
    weft_queue *q = make(WEFT_QUEUE_FIFO, 0);
    assert_false(weft_queue_is_shutdown(q));
    assert_int_equal(weft_queue_shutdown(q, false), WEFT_OK);
    assert_true(weft_queue_is_shutdown(q));
    assert_int_equal(weft_queue_shutdown(q, true), WEFT_OK);
    assert_int_equal(weft_queue_shutdown(q, false), WEFT_OK);
    assert_true(weft_queue_is_shutdown(q));
    weft_queue_free(q);
}

/* Queue 15 [test_queue.BaseQueueTestMixin.test_shutdown_empty] */
static void queue_shutdown_empty_fails_put_and_get(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 0);
        void *item;
        weft_queue_shutdown(q, false);
        double t0 = weft_monotonic();
        assert_int_equal(weft_queue_put(q, ITEM(1)), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
        assert_true(weft_monotonic() - t0 < IMMEDIATE);
        weft_queue_free(q);
    }
}

/* Queue 16 [test_queue.BaseQueueTestMixin.test_shutdown_nonempty, test_shutdown_immediate] */
static void queue_shutdown_drains_unless_immediate(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        void *item;
        weft_queue *q = make(kinds[k], 0);
        weft_queue_put(q, ITEM(5));
        weft_queue_shutdown(q, false);
        assert_int_equal(weft_queue_get(q, &item), WEFT_OK);
        assert_int_equal(VALUE(item), 5);
        assert_int_equal(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
        weft_queue_free(q);
        q = make(kinds[k], 0);
        weft_queue_put(q, ITEM(5));
        weft_queue_shutdown(q, true);
        assert_int_equal(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
        weft_queue_free(q);
    }
}

/* Queue 17 [test_queue.BaseQueueTestMixin.test_shutdown_all_methods_in_one_thread] */
static void queue_shutdown_all_methods_in_one_thread(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 2);
        void *item;
        weft_queue_put(q, ITEM(1));
        weft_queue_put(q, ITEM(2));
        weft_queue_shutdown(q, false);
        assert_int_equal(weft_queue_put(q, ITEM(3)), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_put_nowait(q, ITEM(3)), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_get(q, &item), WEFT_OK);
        assert_int_equal(weft_queue_get(q, &item), WEFT_OK);
        assert_int_equal(weft_queue_task_done(q), WEFT_OK);
        assert_int_equal(weft_queue_task_done(q), WEFT_OK);
        assert_int_equal(weft_queue_join(q), WEFT_OK);
        double t0 = weft_monotonic();
        assert_int_equal(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_get_nowait(q, &item), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_get_timeout(q, &item, 1.0), WEFT_ESHUTDOWN);
        assert_true(weft_monotonic() - t0 < IMMEDIATE);
        weft_queue_free(q);
    }
}

static atomic_int discarded;
static void count_discard(void *item)
{
    (void)item;
    atomic_fetch_add(&discarded, 1);
}

/* Queue 18 [test_queue.BaseQueueTestMixin.test_shutdown_immediate_all_methods_in_one_thread] */
static void queue_immediate_shutdown_all_methods_in_one_thread(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue_options o = {.maxsize = 2, .kind = kinds[k], .discard = count_discard};
        weft_queue *q;
        void *item;
        weft_queue_new_with(&q, &o);
        atomic_store(&discarded, 0);
        weft_queue_put(q, ITEM(1));
        weft_queue_put(q, ITEM(2));
        weft_queue_shutdown(q, true);
        assert_int_equal(atomic_load(&discarded), 2); /* dropped items are handed back */
        assert_int_equal(weft_queue_put(q, ITEM(3)), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_put_nowait(q, ITEM(3)), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_get_nowait(q, &item), WEFT_ESHUTDOWN);
        assert_int_equal(weft_queue_task_done(q), WEFT_EINVAL);
        double t0 = weft_monotonic();
        assert_int_equal(weft_queue_join(q), WEFT_OK);
        assert_true(weft_monotonic() - t0 < IMMEDIATE);
        assert_int_equal(weft_queue_qsize(q), 0);
        weft_queue_free(q);
        assert_int_equal(atomic_load(&discarded), 2);
    }
}

static atomic_int got_item, got_shutdown;
static void get_and_classify(int index, void *arg)
{
    (void)index;
    void *item;
    int rc = weft_queue_get(arg, &item);
    atomic_fetch_add(rc == WEFT_OK ? &got_item : rc == WEFT_ESHUTDOWN ? &got_shutdown : &got_item,
                     rc == WEFT_OK || rc == WEFT_ESHUTDOWN ? 1 : 100);
}

static void put_and_classify(int index, void *arg)
{
    (void)index;
    int rc = weft_queue_put(arg, ITEM(9));
    atomic_fetch_add(rc == WEFT_ESHUTDOWN ? &got_shutdown : &got_item, 1);
}

/* Queue 19 [test_queue.BaseQueueTestMixin.test_shutdown_get, test_shutdown_immediate_get] */
static void queue_shutdown_releases_blocked_getters(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 2);
        weft_queue_put(q, ITEM(1));
        weft_queue_put(q, ITEM(2));
        atomic_store(&got_item, 0);
        atomic_store(&got_shutdown, 0);
        bunch *b = bunch_start(3, get_and_classify, q);
        assert_eventually(atomic_load(&got_item) == 2, 10);
        wait_threads_blocked(1);
        weft_queue_shutdown(q, false);
        bunch_join(b);
        assert_int_equal(atomic_load(&got_item), 2);
        assert_int_equal(atomic_load(&got_shutdown), 1);
        weft_queue_free(q);

        q = make(kinds[k], 2);
        atomic_store(&got_item, 0);
        atomic_store(&got_shutdown, 0);
        b = bunch_start(2, get_and_classify, q);
        wait_threads_blocked(2);
        weft_queue_shutdown(q, true);
        bunch_join(b);
        assert_int_equal(atomic_load(&got_shutdown), 2);
        assert_int_equal(atomic_load(&got_item), 0);
        weft_queue_free(q);
    }
}

/* Queue 20 [test_queue.BaseQueueTestMixin.test_shutdown_put] */
static void queue_shutdown_releases_blocked_putters(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 2);
        weft_queue_put(q, ITEM(1));
        weft_queue_put(q, ITEM(2));
        atomic_store(&got_item, 0);
        atomic_store(&got_shutdown, 0);
        bunch *b = bunch_start(2, put_and_classify, q);
        wait_threads_blocked(2);
        assert_int_equal(weft_queue_free(q), WEFT_ESTATE); /* threads wait in it */
        weft_queue_shutdown(q, false);
        bunch_join(b);
        assert_int_equal(atomic_load(&got_shutdown), 2);
        assert_int_equal(weft_queue_qsize(q), 2);
        weft_queue_free(q);
    }
}

static atomic_int joins_returned;
static void join_it(int index, void *arg)
{
    (void)index;
    if (weft_queue_join(arg) == WEFT_OK)
        atomic_fetch_add(&joins_returned, 1);
}

/* Queue 21 [test_queue.BaseQueueTestMixin.test_shutdown_immediate_join, test_shutdown_join] */
static void queue_shutdown_and_joiners(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 0);
        weft_queue_put(q, ITEM(1));
        atomic_store(&joins_returned, 0);
        bunch *b = bunch_start(2, join_it, q);
        wait_threads_blocked(2);
        weft_queue_shutdown(q, true);
        bunch_join(b);
        assert_int_equal(atomic_load(&joins_returned), 2);
        weft_queue_free(q);

        q = make(kinds[k], 0);
        weft_queue_put(q, ITEM(1));
        atomic_store(&joins_returned, 0);
        b = bunch_start(2, join_it, q);
        wait_threads_blocked(2);
        weft_queue_shutdown(q, false);
        wait_threads_blocked(2);
        assert_int_equal(atomic_load(&joins_returned), 0); /* join never fails */
        get_value(q);
        weft_queue_task_done(q);
        bunch_join(b);
        assert_int_equal(atomic_load(&joins_returned), 2);
        weft_queue_free(q);
    }
}

/* Queue 22 [test_queue.BaseQueueTestMixin.test_shutdown_immediate_put_join,
 * test_shutdown_put_join] */
static void queue_shutdown_with_putter_and_joiner(void **state)
{
    (void)state;
    for (int immediate = 0; immediate < 2; immediate++) {
        weft_queue *q = make(WEFT_QUEUE_FIFO, 2);
        void *item;
        weft_queue_put(q, ITEM(1));
        weft_queue_put(q, ITEM(2)); /* full: the putter blocks */
        atomic_store(&got_item, 0);
        atomic_store(&got_shutdown, 0);
        atomic_store(&joins_returned, 0);
        bunch *putter = bunch_start(1, put_and_classify, q);
        bunch *joiner = bunch_start(1, join_it, q);
        wait_threads_blocked(2);
        weft_queue_shutdown(q, immediate);
        bunch_join(putter);
        assert_int_equal(atomic_load(&got_shutdown), 1);
        if (immediate) {
            assert_int_equal(weft_queue_get_nowait(q, &item), WEFT_ESHUTDOWN);
        } else {
            assert_int_equal(weft_queue_get(q, &item), WEFT_OK);
            assert_int_equal(weft_queue_get(q, &item), WEFT_OK);
            weft_queue_task_done(q);
            weft_queue_task_done(q);
        }
        bunch_join(joiner);
        assert_int_equal(atomic_load(&joins_returned), 1);
        weft_queue_free(q);
    }
}

static void get_task_done(int index, void *arg)
{
    (void)index;
    void *item;
    if (weft_queue_get(arg, &item) == WEFT_OK)
        weft_queue_task_done(arg);
}

static void get_or_join(int index, void *arg)
{
    if (index < 2)
        get_task_done(index, arg);
    else
        join_it(index, arg);
}

/* Queue 23 [test_queue.BaseQueueTestMixin.test_shutdown_get_task_done_join] */
static void queue_shutdown_with_getters_and_joiners(void **state)
{
    (void)state;
    FOR_EACH_KIND(k) {
        weft_queue *q = make(kinds[k], 2);
        weft_queue_put(q, ITEM(1));
        weft_queue_put(q, ITEM(2));
        atomic_store(&joins_returned, 0);
        bunch *b = bunch_start(4, get_or_join, q);
        weft_queue_shutdown(q, false);
        bunch_join(b);
        assert_int_equal(atomic_load(&joins_returned), 2);
        assert_int_equal(weft_queue_unfinished_tasks(q), 0);
        weft_queue_free(q);
    }
}

/* Queue 24 [test_queue.BaseQueueTestMixin.test_shutdown_pending_get] */
static void queue_shutdown_wakes_pending_get(void **state)
{
    (void)state;
    weft_queue *q = make(WEFT_QUEUE_FIFO, 0);
    atomic_store(&got_shutdown, 0);
    atomic_store(&got_item, 0);
    bunch *b = bunch_start(1, get_and_classify, q);
    wait_threads_blocked(1);
    double t0 = weft_monotonic();
    weft_queue_shutdown(q, false);
    bunch_join(b);
    assert_true(weft_monotonic() - t0 < 10);
    assert_int_equal(atomic_load(&got_shutdown), 1);
    weft_queue_free(q);
}

/* Queue 25, 26 [test_queue.BaseQueueTestMixin.test_shutdown_all_methods_in_many_threads,
 * test_shutdown_immediate_all_methods_in_many_threads]: 4 producers x 16k
 * items, 6 polling consumers; halfway through one producer has another
 * thread shut the queue down.  Everything accepted is received (or, after
 * an immediate shutdown, handed to discard); consumers end with ShutDown. */
#define SD_PRODUCERS 4
#define SD_ITEMS 16384
static weft_queue *sd_queue;
static weft_event sd_halfway;
static atomic_long sd_accepted, sd_received, sd_refused;
static atomic_int sd_consumers_saw_shutdown;

static void sd_producer(int index, void *arg)
{
    (void)arg;
    for (long i = 0; i < SD_ITEMS; i++) {
        if (index == 0 && i == SD_ITEMS / 2) {
            /* Hand over to the shutdown thread and let it act before going
             * on, so that this producer's later puts meet the shutdown. */
            weft_event_set(&sd_halfway);
            while (!weft_queue_is_shutdown(sd_queue))
                nap(0.0001);
        }
        if (weft_queue_put(sd_queue, ITEM(i + 1)) == WEFT_OK)
            atomic_fetch_add(&sd_accepted, 1);
        else
            atomic_fetch_add(&sd_refused, 1);
    }
}

static void sd_consumer(int index, void *arg)
{
    (void)index;
    (void)arg;
    for (;;) {
        void *item;
        int rc = weft_queue_get_nowait(sd_queue, &item);
        if (rc == WEFT_OK) {
            atomic_fetch_add(&sd_received, 1);
            weft_queue_task_done(sd_queue);
        } else if (rc == WEFT_ESHUTDOWN) {
            atomic_fetch_add(&sd_consumers_saw_shutdown, 1);
            return;
        } else {
            nap(0.0001);
        }
    }
}

static bool sd_immediate;
static void sd_role(int index, void *arg)
{
    if (index < SD_PRODUCERS) {
        sd_producer(index, arg);
    } else if (index < SD_PRODUCERS + 6) {
        sd_consumer(index, arg);
    } else if (index == SD_PRODUCERS + 6) {
        weft_event_wait(&sd_halfway);
        weft_queue_shutdown(sd_queue, sd_immediate);
        if (sd_immediate && weft_queue_qsize(sd_queue) != 0)
            atomic_fetch_add(&sd_refused, 1000000000); /* fails the test */
    } else {
        weft_event_wait(&sd_halfway);
        join_it(index, arg);
    }
}

static void queue_shutdown_in_the_middle_loses_nothing(void **state)
{
    (void)state;
    for (int immediate = 0; immediate < 2; immediate++) {
        weft_queue_options o = {.discard = count_discard};
        weft_queue_new_with(&sd_queue, &o);
        weft_event_init(&sd_halfway);
        sd_immediate = immediate;
        atomic_store(&sd_accepted, 0);
        atomic_store(&sd_received, 0);
        atomic_store(&sd_refused, 0);
        atomic_store(&sd_consumers_saw_shutdown, 0);
        atomic_store(&discarded, 0);
        atomic_store(&joins_returned, 0);
        bunch_join(bunch_start(SD_PRODUCERS + 6 + 1 + (immediate ? 2 : 0), sd_role, sd_queue));
        assert_true(atomic_load(&sd_refused) >= SD_ITEMS / 2);
        assert_true(atomic_load(&sd_refused) < 1000000000);
        assert_int_equal(atomic_load(&sd_accepted) + atomic_load(&sd_refused),
                         SD_PRODUCERS * SD_ITEMS);
        assert_int_equal(atomic_load(&sd_received) + atomic_load(&discarded),
                         atomic_load(&sd_accepted));
        assert_int_equal(atomic_load(&sd_consumers_saw_shutdown), 6);
        if (immediate)
            assert_int_equal(atomic_load(&joins_returned), 2);
        assert_int_equal(weft_queue_free(sd_queue), WEFT_OK);
    }
}

/* PriorityQueue with a comparison, and stability for equal priorities. */
struct job {
    int priority;
    int serial;
};
static int by_priority(const void *a, const void *b, void *arg)
{
    (void)arg;
    return ((const struct job *)a)->priority - ((const struct job *)b)->priority;
}
static void priority_queue_orders_by_comparison_stably(void **state)
{
    (void)state;
    weft_queue *q;
    assert_int_equal(weft_priority_queue_new(&q, 0, by_priority, NULL), WEFT_OK);
    struct job jobs[200];
    for (int i = 0; i < 200; i++) {
        jobs[i] = (struct job){.priority = (i * 7919) % 5, .serial = i};
        weft_queue_put(q, &jobs[i]);
    }
    struct job *last = NULL;
    for (int i = 0; i < 200; i++) {
        struct job *j = get_value(q);
        if (last) {
            assert_true(last->priority <= j->priority);
            if (last->priority == j->priority)
                assert_true(last->serial < j->serial); /* insertion order */
        }
        last = j;
    }
    weft_queue_free(q);
}

static void queue_bad_input(void **state)
{
    (void)state;
    weft_queue *q;
    void *item;
    weft_queue_options bad = {.kind = 9};
    assert_int_equal(weft_queue_new(NULL, 0), WEFT_EINVAL);
    assert_int_equal(weft_queue_new_with(&q, &bad), WEFT_EINVAL);
    assert_int_equal(weft_queue_put(NULL, ITEM(1)), WEFT_EINVAL);
    assert_int_equal(weft_queue_put_nowait(NULL, ITEM(1)), WEFT_EINVAL);
    assert_int_equal(weft_queue_put_timeout(NULL, ITEM(1), 1), WEFT_EINVAL);
    assert_int_equal(weft_queue_get(NULL, &item), WEFT_EINVAL);
    assert_int_equal(weft_queue_get_timeout(NULL, &item, 1), WEFT_EINVAL);
    assert_int_equal(weft_queue_get_nowait(NULL, &item), WEFT_EINVAL);
    assert_int_equal(weft_queue_task_done(NULL), WEFT_EINVAL);
    assert_int_equal(weft_queue_join(NULL), WEFT_EINVAL);
    assert_int_equal(weft_queue_shutdown(NULL, false), WEFT_EINVAL);
    assert_int_equal(weft_queue_set_maxsize(NULL, 1), WEFT_EINVAL);
    assert_int_equal(weft_queue_free(NULL), WEFT_EINVAL);
    assert_int_equal(weft_queue_qsize(NULL), 0);
    assert_false(weft_queue_full(NULL));
    assert_false(weft_queue_is_shutdown(NULL));
    weft_queue_new(&q, 0);
    assert_int_equal(weft_queue_get(q, NULL), WEFT_EINVAL);
    assert_int_equal(weft_queue_get_nowait(q, NULL), WEFT_EINVAL);
    weft_queue_free(q);
}

/* ---- SimpleQueue --------------------------------------------------------------- */

/* SimpleQueue 1, 8 [test_queue.BaseSimpleQueueTest.test_basic] */
static void simple_queue_basic(void **state)
{
    (void)state;
    weft_simple_queue *q;
    void *item;
    assert_int_equal(weft_simple_queue_new(&q), WEFT_OK);
    assert_true(weft_simple_queue_empty(q));
    assert_int_equal(weft_simple_queue_qsize(q), 0);
    for (int i = 1; i <= 4; i++) {
        assert_int_equal(weft_simple_queue_put(q, ITEM(i)), WEFT_OK); /* never blocks */
        assert_int_equal(weft_simple_queue_qsize(q), i);
    }
    assert_int_equal(weft_simple_queue_get(q, &item), WEFT_OK);
    assert_int_equal(VALUE(item), 1);
    assert_int_equal(weft_simple_queue_get_nowait(q, &item), WEFT_OK);
    assert_int_equal(VALUE(item), 2);
    assert_int_equal(weft_simple_queue_get_timeout(q, &item, 0), WEFT_OK);
    assert_int_equal(VALUE(item), 3);
    assert_int_equal(weft_simple_queue_get_timeout(q, &item, 0.1), WEFT_OK);
    assert_int_equal(VALUE(item), 4);
    assert_true(weft_simple_queue_empty(q));
    weft_simple_queue_free(q, NULL);
}

/* SimpleQueue 2, 3 [test_queue.BaseSimpleQueueTest.test_basic,
 * test_negative_timeout_raises_exception] */
static void simple_queue_empty_and_timeout_rules(void **state)
{
    (void)state;
    weft_simple_queue *q;
    void *item;
    weft_simple_queue_new(&q);
    assert_int_equal(weft_simple_queue_get_nowait(q, &item), WEFT_EEMPTY);
    assert_int_equal(weft_simple_queue_get_timeout(q, &item, 1e-3), WEFT_EEMPTY);
    weft_simple_queue_put(q, ITEM(1));
    assert_int_equal(weft_simple_queue_get_timeout(q, &item, -1), WEFT_EINVAL);
    assert_int_equal(weft_simple_queue_qsize(q), 1);
    weft_simple_queue_free(q, NULL);
}

static weft_simple_queue *order_queue;
static void slow_producer(int index, void *arg)
{
    (void)index;
    (void)arg;
    unsigned seed = 17;
    for (int i = 1; i <= 100; i++) {
        seed = seed * 1103515245u + 12345u;
        if (seed & 0x30000)
            nap(((seed >> 16) % 100) * 1e-5);
        weft_simple_queue_put(order_queue, ITEM(i));
    }
}

/* SimpleQueue 4 [test_queue.BaseSimpleQueueTest.test_order] */
static void simple_queue_keeps_order(void **state)
{
    (void)state;
    weft_simple_queue_new(&order_queue);
    bunch *b = bunch_start(1, slow_producer, NULL);
    for (uintptr_t i = 1; i <= 100; i++) {
        void *item;
        assert_int_equal(weft_simple_queue_get(order_queue, &item), WEFT_OK);
        assert_int_equal(VALUE(item), i);
    }
    bunch_join(b);
    weft_simple_queue_free(order_queue, NULL);
}

/* SimpleQueue 5 [test_queue.BaseSimpleQueueTest.test_many_threads,
 * test_many_threads_nonblock, test_many_threads_timeout] */
static weft_simple_queue *many_queue;
static atomic_uchar *seen_items;
static atomic_int many_duplicates;
static long many_items;
static int many_mode; /* 0 blocking, 1 polling, 2 timed */

static void many_role(int index, void *arg)
{
    (void)arg;
    if (index < 50) {
        for (long i = index; i < many_items; i += 50)
            weft_simple_queue_put(many_queue, ITEM(i + 1));
        return;
    }
    long share = many_items / 50;
    for (long got = 0; got < share;) {
        void *item;
        int rc = many_mode == 0   ? weft_simple_queue_get(many_queue, &item)
                 : many_mode == 1 ? weft_simple_queue_get_nowait(many_queue, &item)
                                  : weft_simple_queue_get_timeout(many_queue, &item, 1e-5);
        if (rc != WEFT_OK)
            continue;
        if (atomic_exchange(&seen_items[VALUE(item) - 1], 1))
            atomic_fetch_add(&many_duplicates, 1);
        got++;
    }
}

static void simple_queue_many_producers_and_consumers(void **state)
{
    (void)state;
    long sizes[] = {10000, 10000, 1000};
    for (many_mode = 0; many_mode < 3; many_mode++) {
        many_items = sizes[many_mode];
        seen_items = calloc((size_t)many_items, sizeof *seen_items);
        weft_simple_queue_new(&many_queue);
        bunch_join(bunch_start(100, many_role, NULL));
        for (long i = 0; i < many_items; i++)
            assert_int_equal(atomic_load(&seen_items[i]), 1);
        assert_int_equal(atomic_load(&many_duplicates), 0);
        assert_true(weft_simple_queue_empty(many_queue));
        weft_simple_queue_free(many_queue, NULL);
        free(seen_items);
    }
}

/* SimpleQueue 6 [test_queue.BaseSimpleQueueTest.test_references]: an item
 * taken out is no longer the queue's; free discards only what is left. */
static void simple_queue_keeps_nothing_it_gave_out(void **state)
{
    (void)state;
    weft_simple_queue *q;
    void *item;
    weft_simple_queue_new(&q);
    weft_simple_queue_put(q, ITEM(1));
    weft_simple_queue_put(q, ITEM(2));
    weft_simple_queue_put(q, ITEM(3));
    weft_simple_queue_get(q, &item);
    atomic_store(&discarded, 0);
    assert_int_equal(weft_simple_queue_free(q, count_discard), WEFT_OK);
    assert_int_equal(atomic_load(&discarded), 2);
}

static void simple_queue_bad_input(void **state)
{
    (void)state;
    void *item;
    assert_int_equal(weft_simple_queue_new(NULL), WEFT_EINVAL);
    assert_int_equal(weft_simple_queue_put(NULL, ITEM(1)), WEFT_EINVAL);
    assert_int_equal(weft_simple_queue_get(NULL, &item), WEFT_EINVAL);
    assert_int_equal(weft_simple_queue_get_nowait(NULL, &item), WEFT_EINVAL);
    assert_int_equal(weft_simple_queue_get_timeout(NULL, &item, 1), WEFT_EINVAL);
    assert_int_equal(weft_simple_queue_free(NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_simple_queue_qsize(NULL), 0);
}

/* ---- stress ------------------------------------------------------------------- */

/* 8 producers x 8 consumers, 1M items, each item received exactly once and
 * in order per producer.  Items encode (producer, sequence). */
#define S_PRODUCERS 8
#define S_CONSUMERS 8
#define S_ITEMS 1000000
#define S_PER_PRODUCER (S_ITEMS / S_PRODUCERS)
static weft_queue *s_queue;
static atomic_uchar *s_seen;
static atomic_long s_errors, s_received;
static int s_get_mode; /* 0 blocking, 1 mixed polling/timed */

static void s_producer(int p)
{
    for (uintptr_t i = 0; i < S_PER_PRODUCER; i++)
        if (weft_queue_put(s_queue, ITEM(((uintptr_t)p << 32) | (i + 1))) != WEFT_OK)
            atomic_fetch_add(&s_errors, 1);
}

static void s_consumer(int c)
{
    uintptr_t last[S_PRODUCERS] = {0};
    for (;;) {
        void *item;
        int rc;
        if (s_get_mode == 0)
            rc = weft_queue_get(s_queue, &item);
        else if ((c + atomic_load(&s_received)) % 2)
            rc = weft_queue_get_nowait(s_queue, &item);
        else
            rc = weft_queue_get_timeout(s_queue, &item, 0.001);
        if (rc == WEFT_ESHUTDOWN)
            return;
        if (rc != WEFT_OK)
            continue;
        uintptr_t p = VALUE(item) >> 32, seq = VALUE(item) & 0xffffffffu;
        if (p >= S_PRODUCERS || seq <= last[p] ||
            atomic_exchange(&s_seen[p * S_PER_PRODUCER + seq - 1], 1))
            atomic_fetch_add(&s_errors, 1);
        last[p] = seq;
        atomic_fetch_add(&s_received, 1);
    }
}

static void s_role(int index, void *arg)
{
    (void)arg;
    if (index < S_PRODUCERS)
        s_producer(index);
    else
        s_consumer(index - S_PRODUCERS);
}

static void stress_run(long maxsize, int get_mode)
{
    weft_queue_new(&s_queue, maxsize);
    s_seen = calloc(S_ITEMS, sizeof *s_seen);
    s_get_mode = get_mode;
    atomic_store(&s_errors, 0);
    atomic_store(&s_received, 0);
    bunch *b = bunch_start(S_PRODUCERS + S_CONSUMERS, s_role, NULL);
    while (atomic_load(&s_received) < S_ITEMS && bunch_finished(b) < S_PRODUCERS + S_CONSUMERS)
        nap(0.001);
    weft_queue_shutdown(s_queue, false); /* the consumers leave on ShutDown */
    bunch_join(b);
    assert_int_equal(atomic_load(&s_errors), 0);
    assert_int_equal(atomic_load(&s_received), S_ITEMS);
    for (long i = 0; i < S_ITEMS; i++)
        if (!atomic_load(&s_seen[i]))
            fail_msg("item %ld never arrived", i);
    assert_int_equal(weft_queue_unfinished_tasks(s_queue), S_ITEMS);
    assert_int_equal(weft_queue_free(s_queue), WEFT_OK);
    free(s_seen);
}

static void queue_stress_bounded_blocking(void **state)
{
    (void)state;
    stress_run(64, 0);
}

static void queue_stress_unbounded_polling_and_timed(void **state)
{
    (void)state;
    stress_run(0, 1);
}

/* Out-parameters hold NULL on every status but WEFT_OK. */
static void queue_out_parameters_on_failure(void **state)
{
    (void)state;
    weft_queue *q = (weft_queue *)1;
    assert_int_equal(weft_queue_new_with(&q, &(weft_queue_options){.kind = 99}), WEFT_EINVAL);
    assert_null(q);
    weft_simple_queue *sq = (weft_simple_queue *)1;
    assert_int_equal(weft_simple_queue_new(&sq), WEFT_OK);
    assert_int_equal(weft_queue_new(&q, 0), WEFT_OK);
    void *item = (void *)1;
    assert_int_equal(weft_queue_get_nowait(q, &item), WEFT_EEMPTY);
    assert_null(item);
    item = (void *)1;
    assert_int_equal(weft_queue_get_timeout(q, &item, 0.01), WEFT_EEMPTY);
    assert_null(item);
    item = (void *)1;
    assert_int_equal(weft_queue_get_timeout(q, &item, -1), WEFT_EINVAL);
    assert_null(item);
    item = (void *)1;
    assert_int_equal(weft_simple_queue_get_nowait(sq, &item), WEFT_EEMPTY);
    assert_null(item);
    weft_queue_shutdown(q, false);
    item = (void *)1;
    assert_int_equal(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
    assert_null(item);
    weft_queue_free(q);
    weft_simple_queue_free(sq, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queue_new_is_empty_and_unbounded_when_maxsize_not_positive),
        cmocka_unit_test(queue_out_parameters_on_failure),
        cmocka_unit_test(queue_order_by_kind),
        cmocka_unit_test(queue_full_refuses_put),
        cmocka_unit_test(queue_blocking_put_waits_for_a_get),
        cmocka_unit_test(queue_empty_get_fails_or_waits_for_a_put),
        cmocka_unit_test(queue_nowait_forms),
        cmocka_unit_test(queue_timeout_rules),
        cmocka_unit_test(queue_maxsize_is_read_on_every_put),
        cmocka_unit_test(queue_raising_maxsize_wakes_putters),
        cmocka_unit_test(queue_task_done_on_fresh_queue_is_an_error),
        cmocka_unit_test(queue_join_waits_for_task_done),
        cmocka_unit_test(queue_join_timeout),
        cmocka_unit_test(queue_unfinished_tasks_counts_puts),
        cmocka_unit_test(queue_shutdown_transitions),
        cmocka_unit_test(queue_shutdown_empty_fails_put_and_get),
        cmocka_unit_test(queue_shutdown_drains_unless_immediate),
        cmocka_unit_test(queue_shutdown_all_methods_in_one_thread),
        cmocka_unit_test(queue_immediate_shutdown_all_methods_in_one_thread),
        cmocka_unit_test(queue_shutdown_releases_blocked_getters),
        cmocka_unit_test(queue_shutdown_releases_blocked_putters),
        cmocka_unit_test(queue_shutdown_and_joiners),
        cmocka_unit_test(queue_shutdown_with_putter_and_joiner),
        cmocka_unit_test(queue_shutdown_with_getters_and_joiners),
        cmocka_unit_test(queue_shutdown_wakes_pending_get),
        cmocka_unit_test(queue_shutdown_in_the_middle_loses_nothing),
        cmocka_unit_test(priority_queue_orders_by_comparison_stably),
        cmocka_unit_test(queue_bad_input),
        cmocka_unit_test(simple_queue_basic),
        cmocka_unit_test(simple_queue_empty_and_timeout_rules),
        cmocka_unit_test(simple_queue_keeps_order),
        cmocka_unit_test(simple_queue_many_producers_and_consumers),
        cmocka_unit_test(simple_queue_keeps_nothing_it_gave_out),
        cmocka_unit_test(simple_queue_bad_input),
        cmocka_unit_test(queue_stress_bounded_blocking),
        cmocka_unit_test(queue_stress_unbounded_polling_and_timed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
