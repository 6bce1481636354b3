/* SPDX-License-Identifier: MIT */
/* test_coro_queue.c — weft_queue used from coroutines, against asyncio's
 * "Queue family" behaviours (the asyncio checklist, docs/python.md).
 * asyncio.Queue is a weft_queue: the same queue carries items between
 * threads and coroutines.  Every test runs on a fresh loop (run_coro) and
 * checks with CO_CHECK (coro_harness.h). */
#include "coro_harness.h"

static const weft_queue_kind kinds[] = {WEFT_QUEUE_FIFO, WEFT_QUEUE_LIFO, WEFT_QUEUE_PRIORITY};

static weft_queue *make_queue(weft_queue_kind kind, long maxsize)
{
    weft_queue *q = NULL;
    weft_queue_options o = {.maxsize = maxsize, .kind = kind};
    CO_CHECK_RC(weft_queue_new_with(&q, &o), WEFT_OK);
    return q;
}

/* One task working on a queue. */
typedef struct qwaiter {
    weft_queue *q;
    void *item;  /* what it puts, or what it got */
    void *item2; /* what a retry got */
    atomic_int rc;
    atomic_int rc2;
    atomic_bool done;
    weft_future *task;
} qwaiter;

static qwaiter *qstart(qwaiter *w, weft_queue *q, void *item, weft_task_fn fn)
{
    w->q = q;
    w->item = item;
    w->item2 = NULL;
    atomic_store(&w->rc, -1);
    atomic_store(&w->rc2, -1);
    atomic_store(&w->done, false);
    w->task = co_spawn(fn, w);
    return w;
}

static bool qdone(qwaiter *w) { return atomic_load(&w->done); }

static bool qwait(qwaiter *w, double timeout)
{
    wait_until(qdone(w), timeout);
    return qdone(w);
}

/* Cancel those still waiting, collect every task. */
static void qfinish(qwaiter *w, int n)
{
    for (int i = 0; i < n; i++) {
        if (!w[i].task)
            continue;
        if (!qdone(&w[i]))
            weft_task_cancel(w[i].task, NULL);
        CO_CHECK(co_finish(w[i].task, 10) != WEFT_ETIMEDOUT);
        w[i].task = NULL;
    }
}

static void *q_getter(void *p)
{
    qwaiter *w = p;
    void *item = NULL;
    int rc = weft_queue_get(w->q, &item);
    w->item = item;
    atomic_store(&w->rc, rc);
    atomic_store(&w->done, true);
    return NULL;
}

/* A get that, once cancelled, tries again (the request is delivered once). */
static void *q_getter_retry(void *p)
{
    qwaiter *w = p;
    void *item = NULL;
    int rc = weft_queue_get(w->q, &item);
    w->item = item;
    atomic_store(&w->rc, rc);
    if (rc == WEFT_ECANCELLED) {
        item = NULL;
        atomic_store(&w->rc2, weft_queue_get(w->q, &item));
        w->item2 = item;
    }
    atomic_store(&w->done, true);
    return NULL;
}

static void *q_putter(void *p)
{
    qwaiter *w = p;
    atomic_store(&w->rc, weft_queue_put(w->q, w->item));
    atomic_store(&w->done, true);
    return NULL;
}

static void *q_putter_retry(void *p)
{
    qwaiter *w = p;
    int rc = weft_queue_put(w->q, w->item);
    atomic_store(&w->rc, rc);
    if (rc == WEFT_ECANCELLED)
        atomic_store(&w->rc2, weft_queue_put(w->q, w->item));
    atomic_store(&w->done, true);
    return NULL;
}

static void *q_joiner(void *p)
{
    qwaiter *w = p;
    atomic_store(&w->rc, weft_queue_join(w->q));
    atomic_store(&w->done, true);
    return NULL;
}

static void *q_noop(void *p)
{
    qwaiter *w = p;
    atomic_store(&w->rc, WEFT_OK);
    atomic_store(&w->done, true);
    return NULL;
}

static void *take(weft_queue *q)
{
    void *item = NULL;
    CO_CHECK_RC(weft_queue_get_timeout(q, &item, 5), WEFT_OK);
    return item;
}

#define CORO_TEST(name)                                                       \
    static void *name##_main(void *arg);                                      \
    static void name(void **state)                                            \
    {                                                                         \
        (void)state;                                                          \
        run_coro(name##_main, NULL);                                          \
    }                                                                         \
    static void *name##_main(void *arg)

/* asyncio Queue 1 [test_queues.QueueBasicTests.test_empty, test_full,
 * QueueGetTests.test_nonblocking_get_exception,
 * QueuePutTests.test_nonblocking_put_exception] */
CORO_TEST(queue_empty_full_and_the_nowait_errors)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        const long unbounded[] = {0, -1};
        for (int u = 0; u < 2; u++) {
            weft_queue *q = make_queue(kinds[k], unbounded[u]);
            CO_CHECK(weft_queue_empty(q));
            CO_CHECK(!weft_queue_full(q));
            void *item = ITEM(5);
            CO_CHECK_RC(weft_queue_get_nowait(q, &item), WEFT_EEMPTY);
            CO_CHECK(item == NULL);
            for (int i = 0; i < 100; i++)
                CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(i + 1)), WEFT_OK);
            CO_CHECK(!weft_queue_full(q));
            CO_CHECK(!weft_queue_empty(q));
            weft_queue_free(q);
        }
        weft_queue *q = make_queue(kinds[k], 1);
        CO_CHECK(!weft_queue_full(q));
        CO_CHECK_RC(weft_queue_put(q, ITEM(1)), WEFT_OK);
        CO_CHECK(weft_queue_full(q));
        CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(2)), WEFT_EFULL);
        CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    }
    return NULL;
}

/* asyncio Queue 2 [test_queues.QueueBasicTests.test_order,
 * LifoQueueTests.test_order, PriorityQueueTests.test_order] */
CORO_TEST(queue_order_by_kind)
{
    (void)arg;
    const uintptr_t expected[3][3] = {{1, 3, 2}, {2, 3, 1}, {1, 2, 3}};
    for (int k = 0; k < 3; k++) {
        weft_queue *q = make_queue(kinds[k], 0);
        CO_CHECK_RC(weft_queue_put(q, ITEM(1)), WEFT_OK);
        CO_CHECK_RC(weft_queue_put(q, ITEM(3)), WEFT_OK);
        CO_CHECK_RC(weft_queue_put(q, ITEM(2)), WEFT_OK);
        for (int i = 0; i < 3; i++)
            CO_CHECK_INT(VALUE(take(q)), expected[k][i]);
        weft_queue_free(q);
    }
    return NULL;
}

static void *put_three(void *p)
{
    qwaiter *w = p;
    int rc = WEFT_OK;
    for (uintptr_t i = 0; i < 3 && rc == WEFT_OK; i++) {
        rc = weft_queue_put(w->q, ITEM(10 + i));
        if (rc == WEFT_OK)
            atomic_fetch_add(&w->rc2, 1);
    }
    atomic_store(&w->rc, rc);
    atomic_store(&w->done, true);
    return NULL;
}

static void *put_after_10ms(void *p)
{
    qwaiter *w = p;
    weft_sleep(0.01);
    atomic_store(&w->rc, weft_queue_put_nowait(w->q, w->item));
    atomic_store(&w->done, true);
    return NULL;
}

static void *get_after_10ms(void *p)
{
    qwaiter *w = p;
    void *item = NULL;
    weft_sleep(0.01);
    atomic_store(&w->rc, weft_queue_get_nowait(w->q, &item));
    w->item = item;
    atomic_store(&w->done, true);
    return NULL;
}

/* asyncio Queue 3 [test_queues.QueueBasicTests.test_maxsize,
 * QueueGetTests.test_blocking_get_wait, QueuePutTests.test_blocking_put_wait] */
CORO_TEST(queue_bounded_put_and_empty_get_wait_for_each_other)
{
    (void)arg;
    qwaiter w[2];
    memset(w, 0, sizeof w);
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 2);
    qstart(&w[0], q, NULL, put_three);
    atomic_store(&w[0].rc2, 0);
    co_yield(3);
    CO_CHECK_INT(atomic_load(&w[0].rc2), 2); /* blocked on the third */
    CO_CHECK(!qdone(&w[0]));
    CO_CHECK(weft_queue_full(q));
    CO_CHECK_INT(VALUE(take(q)), 10);
    CO_CHECK(qwait(&w[0], 2));
    CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_OK);
    CO_CHECK_INT(VALUE(take(q)), 11);
    CO_CHECK_INT(VALUE(take(q)), 12);
    qfinish(w, 1);

    /* A blocking get waits for a put_nowait 10 ms later. */
    qstart(&w[1], q, ITEM(7), put_after_10ms);
    double t0 = weft_monotonic();
    void *item = NULL;
    CO_CHECK_RC(weft_queue_get(q, &item), WEFT_OK);
    CO_CHECK(weft_monotonic() - t0 >= 0.009);
    CO_CHECK_INT(VALUE(item), 7);
    qfinish(&w[1], 1);

    /* A blocking put on a full queue waits for a get_nowait. */
    CO_CHECK_RC(weft_queue_put(q, ITEM(1)), WEFT_OK);
    CO_CHECK_RC(weft_queue_put(q, ITEM(2)), WEFT_OK);
    qstart(&w[1], q, NULL, get_after_10ms);
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_queue_put(q, ITEM(3)), WEFT_OK);
    CO_CHECK(weft_monotonic() - t0 >= 0.009);
    CO_CHECK(qwait(&w[1], 2));
    CO_CHECK_INT(VALUE(w[1].item), 1);
    CO_CHECK_INT(VALUE(take(q)), 2);
    CO_CHECK_INT(VALUE(take(q)), 3);
    qfinish(&w[1], 1);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

/* asyncio Queue 4 [test_queues.QueuePutTests.test_get_cancel_drop_many_pending_readers] */
CORO_TEST(queue_each_item_reaches_exactly_one_blocked_getter)
{
    (void)arg;
    qwaiter w[3];
    memset(w, 0, sizeof w);
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 0);
    for (int i = 0; i < 3; i++)
        qstart(&w[i], q, NULL, q_getter);
    co_yield(3);
    for (int i = 1; i <= 3; i++)
        CO_CHECK_RC(weft_queue_put(q, ITEM(i)), WEFT_OK);
    uintptr_t sum = 0, product = 1;
    for (int i = 0; i < 3; i++) {
        CO_CHECK(qwait(&w[i], 2));
        CO_CHECK_RC(atomic_load(&w[i].rc), WEFT_OK);
        sum += VALUE(w[i].item);
        product *= VALUE(w[i].item);
    }
    CO_CHECK_INT(sum, 6);
    CO_CHECK_INT(product, 6); /* 1, 2 and 3 once each */
    CO_CHECK(weft_queue_empty(q));
    qfinish(w, 3);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

/* asyncio Queue 5 [src, probe] */
CORO_TEST(queue_woken_getter_does_not_reserve_the_item)
{
    (void)arg;
    qwaiter w[1];
    memset(w, 0, sizeof w);
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 0);
    qstart(&w[0], q, NULL, q_getter);
    co_yield(3);
    /* In one step: put, then take it back before the getter runs. */
    CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(1)), WEFT_OK);
    void *item = NULL;
    CO_CHECK_RC(weft_queue_get_nowait(q, &item), WEFT_OK);
    CO_CHECK_INT(VALUE(item), 1);
    co_yield(5);
    CO_CHECK(!qdone(&w[0])); /* it simply waits again */
    CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(2)), WEFT_OK);
    CO_CHECK(qwait(&w[0], 2));
    CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_OK);
    CO_CHECK_INT(VALUE(w[0].item), 2);
    qfinish(w, 1);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

static void *put_four(void *p)
{
    qwaiter *w = p;
    int rc = WEFT_OK;
    for (uintptr_t i = 0; i < 4 && rc == WEFT_OK; i++)
        rc = weft_queue_put(w->q, ITEM(100 + i));
    atomic_store(&w->rc, rc);
    atomic_store(&w->done, true);
    return NULL;
}

/* asyncio Queue 6 [test_queues.QueueGetTests.test_get_with_waiting_putters] */
CORO_TEST(queue_blocked_putters_items_come_out_in_put_order)
{
    (void)arg;
    qwaiter w[1];
    memset(w, 0, sizeof w);
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 1);
    CO_CHECK_RC(weft_queue_put(q, ITEM('a')), WEFT_OK);
    qstart(&w[0], q, ITEM('b'), q_putter);
    co_yield(3);
    CO_CHECK(!qdone(&w[0]));
    CO_CHECK_INT(VALUE(take(q)), 'a');
    CO_CHECK_INT(VALUE(take(q)), 'b');
    CO_CHECK(qwait(&w[0], 2));
    qfinish(w, 1);
    CO_CHECK_RC(weft_queue_set_maxsize(q, 2), WEFT_OK);
    qstart(&w[0], q, NULL, put_four);
    for (uintptr_t i = 0; i < 4; i++)
        CO_CHECK_INT(VALUE(take(q)), 100 + i);
    CO_CHECK(qwait(&w[0], 2));
    qfinish(w, 1);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

/* asyncio Queue 7 [test_queues.QueuePutTests.test_get_cancel_drop_one_pending_reader,
 * test_get_cancel_drop_many_pending_readers, QueueGetTests.test_get_cancelled_race] */
CORO_TEST(queue_cancelled_getter_loses_no_item)
{
    (void)arg;
    qwaiter w[3];
    memset(w, 0, sizeof w);
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 0);

    /* Woken by put 1 (then put 2) and cancelled before it runs: its retry
     * gets 1, not 2 (or its first get already had 1). */
    qstart(&w[0], q, NULL, q_getter_retry);
    co_yield(3);
    CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(1)), WEFT_OK);
    CO_CHECK(weft_task_cancel(w[0].task, NULL));
    CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(2)), WEFT_OK);
    CO_CHECK(qwait(&w[0], 2));
    if (atomic_load(&w[0].rc) == WEFT_ECANCELLED) {
        CO_CHECK_RC(atomic_load(&w[0].rc2), WEFT_OK);
        CO_CHECK_INT(VALUE(w[0].item2), 1);
    } else {
        CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_OK);
        CO_CHECK_INT(VALUE(w[0].item), 1);
    }
    CO_CHECK_INT(VALUE(take(q)), 2);
    qfinish(w, 1);

    /* Three getters, two puts, the first getter cancelled: the two items
     * are delivered, once each. */
    for (int i = 0; i < 3; i++)
        qstart(&w[i], q, NULL, q_getter);
    co_yield(3);
    CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(1)), WEFT_OK);
    CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(2)), WEFT_OK);
    CO_CHECK(weft_task_cancel(w[0].task, NULL));
    CO_CHECK(qwait(&w[0], 2));
    if (atomic_load(&w[0].rc) == WEFT_ECANCELLED) {
        CO_CHECK(qwait(&w[1], 2));
        CO_CHECK(qwait(&w[2], 2));
    } else {
        wait_until(qdone(&w[1]) || qdone(&w[2]), 2);
    }
    co_yield(5);
    uintptr_t got = 0;
    int delivered = 0;
    for (int i = 0; i < 3; i++)
        if (qdone(&w[i]) && atomic_load(&w[i].rc) == WEFT_OK) {
            got += VALUE(w[i].item);
            delivered++;
        }
    CO_CHECK_INT(delivered, 2);
    CO_CHECK_INT(got, 3);
    CO_CHECK(weft_queue_empty(q));
    qfinish(w, 3);

    /* Cancelled before the put: the other getter gets it. */
    qstart(&w[0], q, NULL, q_getter);
    qstart(&w[1], q, NULL, q_getter);
    co_yield(3);
    CO_CHECK(weft_task_cancel(w[0].task, NULL));
    CO_CHECK_RC(weft_queue_put_nowait(q, ITEM('a')), WEFT_OK);
    CO_CHECK(qwait(&w[0], 2));
    CO_CHECK(qwait(&w[1], 2));
    CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&w[1].rc), WEFT_OK);
    CO_CHECK_INT(VALUE(w[1].item), 'a');
    qfinish(w, 2);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

/* asyncio Queue 8 [test_queues.QueuePutTests.test_put_cancel_drop,
 * test_cancelled_puts_not_being_held_in_self_putters,
 * test_cancelled_put_silence_value_error_exception, test_put_cancelled_race] */
CORO_TEST(queue_cancelled_putter_neither_loses_nor_duplicates)
{
    (void)arg;
    qwaiter w[2];
    memset(w, 0, sizeof w);
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 1);

    /* Woken by a get_nowait and cancelled: 2 goes in exactly once. */
    CO_CHECK_RC(weft_queue_put(q, ITEM(1)), WEFT_OK);
    qstart(&w[0], q, ITEM(2), q_putter_retry);
    co_yield(3);
    void *item = NULL;
    CO_CHECK_RC(weft_queue_get_nowait(q, &item), WEFT_OK);
    CO_CHECK_INT(VALUE(item), 1);
    CO_CHECK(weft_task_cancel(w[0].task, NULL));
    CO_CHECK(qwait(&w[0], 2));
    if (atomic_load(&w[0].rc) == WEFT_ECANCELLED)
        CO_CHECK_RC(atomic_load(&w[0].rc2), WEFT_OK);
    else
        CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_OK);
    CO_CHECK_INT(weft_queue_qsize(q), 1);
    CO_CHECK_INT(VALUE(take(q)), 2);
    CO_CHECK(weft_queue_empty(q));
    qfinish(w, 1);

    /* A cancelled blocked putter leaves nothing behind. */
    CO_CHECK_RC(weft_queue_put(q, ITEM(1)), WEFT_OK);
    qstart(&w[0], q, ITEM(2), q_putter);
    co_yield(3);
    CO_CHECK_RC(weft_queue_free(q), WEFT_ESTATE); /* someone waits */
    CO_CHECK(weft_task_cancel(w[0].task, NULL));
    CO_CHECK(qwait(&w[0], 2));
    CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_ECANCELLED);
    CO_CHECK_INT(weft_queue_qsize(q), 1);
    CO_CHECK_INT(VALUE(take(q)), 1);
    qfinish(w, 1);

    /* 'a' queued, putters 'b' and 'X', X cancelled: a, b, never X. */
    CO_CHECK_RC(weft_queue_put(q, ITEM('a')), WEFT_OK);
    qstart(&w[0], q, ITEM('b'), q_putter);
    co_yield(2);
    qstart(&w[1], q, ITEM('X'), q_putter);
    co_yield(3);
    CO_CHECK(weft_task_cancel(w[1].task, NULL));
    co_yield(2);
    CO_CHECK_INT(VALUE(take(q)), 'a');
    CO_CHECK_INT(VALUE(take(q)), 'b');
    CO_CHECK(qwait(&w[0], 2));
    CO_CHECK(qwait(&w[1], 2));
    CO_CHECK_RC(atomic_load(&w[1].rc), WEFT_ECANCELLED);
    co_yield(3);
    item = NULL;
    CO_CHECK_RC(weft_queue_get_nowait(q, &item), WEFT_EEMPTY);
    qfinish(w, 2);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

static void *produce_100(void *p)
{
    qwaiter *w = p;
    int rc = WEFT_OK;
    for (uintptr_t i = 1; i <= 100 && rc == WEFT_OK; i++)
        rc = weft_queue_put(w->q, ITEM(i));
    atomic_store(&w->rc, rc);
    atomic_store(&w->done, true);
    return NULL;
}

static void *consume_100(void *p)
{
    qwaiter *w = p;
    int rc = WEFT_OK;
    uintptr_t sum = 0;
    for (int i = 0; i < 100 && rc == WEFT_OK; i++) {
        void *item = NULL;
        rc = weft_queue_get(w->q, &item);
        sum += VALUE(item);
    }
    w->item = ITEM(sum);
    atomic_store(&w->rc, rc);
    atomic_store(&w->done, true);
    return NULL;
}

/* asyncio Queue 9 [test_queues.QueueGetTests.test_cancelled_getters_not_being_held_in_self_getters,
 * test_why_are_getters_waiting, QueuePutTests.test_why_are_putters_waiting] */
CORO_TEST(queue_timed_out_getter_leaves_no_waiter_and_pairs_finish)
{
    (void)arg;
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 0);
    /* asyncio.timeout around a get. */
    weft_timeout *scope = NULL;
    CO_CHECK_RC(weft_timeout_enter(0.1, &scope), WEFT_OK);
    void *item = ITEM(1);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_queue_get(q, &item), WEFT_ECANCELLED);
    CO_CHECK_RC(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 >= 0.09);
    CO_CHECK(item == NULL);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK); /* no getter left in it */

    /* wait_for of a getter task. */
    q = make_queue(WEFT_QUEUE_FIFO, 0);
    qwaiter w[2];
    memset(w, 0, sizeof w);
    qstart(&w[0], q, NULL, q_getter);
    CO_CHECK_RC(weft_wait_for(w[0].task, 0.1, NULL), WEFT_ETIMEDOUT);
    CO_CHECK(qdone(&w[0]));
    CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_ECANCELLED);
    qfinish(w, 1);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);

    /* Producer and consumer over Queue(1) and Queue(2) finish. */
    for (long maxsize = 1; maxsize <= 2; maxsize++) {
        q = make_queue(WEFT_QUEUE_FIFO, maxsize);
        qstart(&w[0], q, NULL, produce_100);
        qstart(&w[1], q, NULL, consume_100);
        CO_CHECK(qwait(&w[0], 5));
        CO_CHECK(qwait(&w[1], 5));
        CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_OK);
        CO_CHECK_RC(atomic_load(&w[1].rc), WEFT_OK);
        CO_CHECK_INT(VALUE(w[1].item), 5050);
        qfinish(w, 2);
        CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    }
    return NULL;
}

/* Gets and marks done until it gets the NULL item. */
static void *worker_until_null(void *p)
{
    qwaiter *w = p;
    int rc;
    for (;;) {
        void *item = NULL;
        rc = weft_queue_get(w->q, &item);
        if (rc != WEFT_OK || item == NULL)
            break;
        weft_sleep(0);
        atomic_fetch_add(&w->rc2, (int)VALUE(item));
        weft_queue_task_done(w->q);
    }
    if (rc == WEFT_OK)
        weft_queue_task_done(w->q);
    atomic_store(&w->rc, rc);
    atomic_store(&w->done, true);
    return NULL;
}

/* asyncio Queue 10 [test_queues._QueueJoinTestMixin.test_task_done_underflow,
 * test_join_empty_queue, test_task_done] */
CORO_TEST(queue_join_waits_for_every_task_done)
{
    (void)arg;
    qwaiter w[3];
    memset(w, 0, sizeof w);
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 0);
    CO_CHECK_RC(weft_queue_task_done(q), WEFT_EINVAL);
    /* join on an empty queue returns at once, without suspending. */
    qstart(&w[0], q, NULL, q_noop);
    CO_CHECK_RC(weft_queue_join(q), WEFT_OK);
    CO_CHECK_RC(weft_queue_join(q), WEFT_OK);
    CO_CHECK(!qdone(&w[0]));
    qfinish(w, 1);

    /* 100 items, two workers: join returns once all are done. */
    for (int i = 0; i < 2; i++) {
        qstart(&w[i], q, NULL, worker_until_null);
        atomic_store(&w[i].rc2, 0);
    }
    for (uintptr_t i = 1; i <= 100; i++)
        CO_CHECK_RC(weft_queue_put(q, ITEM(i)), WEFT_OK);
    CO_CHECK_RC(weft_queue_join(q), WEFT_OK);
    CO_CHECK_INT(atomic_load(&w[0].rc2) + atomic_load(&w[1].rc2), 5050);
    CO_CHECK_INT(weft_queue_unfinished_tasks(q), 0);
    CO_CHECK_RC(weft_queue_put(q, NULL), WEFT_OK);
    CO_CHECK_RC(weft_queue_put(q, NULL), WEFT_OK);
    CO_CHECK(qwait(&w[0], 2));
    CO_CHECK(qwait(&w[1], 2));
    qfinish(w, 2);

    /* Still blocked after two of three. */
    for (uintptr_t i = 1; i <= 3; i++)
        CO_CHECK_RC(weft_queue_put(q, ITEM(i)), WEFT_OK);
    qstart(&w[2], q, NULL, q_joiner);
    for (int i = 0; i < 3; i++) {
        co_yield(3);
        CO_CHECK(!qdone(&w[2]));
        take(q);
        CO_CHECK_RC(weft_queue_task_done(q), WEFT_OK);
    }
    CO_CHECK(qwait(&w[2], 2));
    CO_CHECK_RC(atomic_load(&w[2].rc), WEFT_OK);
    qfinish(&w[2], 1);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

/* asyncio Queue 11 [test_queues._QueueShutdownTestMixin.test_shutdown_empty] */
CORO_TEST(queue_shutdown_empty_fails_the_getter_and_everything_after)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        qwaiter w[1];
        memset(w, 0, sizeof w);
        weft_queue *q = make_queue(kinds[k], 0);
        qstart(&w[0], q, NULL, q_getter);
        co_yield(3);
        CO_CHECK_RC(weft_queue_shutdown(q, false), WEFT_OK);
        CO_CHECK(qwait(&w[0], 2));
        CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_ESHUTDOWN);
        CO_CHECK_RC(weft_queue_join(q), WEFT_OK);
        void *item = NULL;
        CO_CHECK_RC(weft_queue_put(q, ITEM(1)), WEFT_ESHUTDOWN);
        CO_CHECK_RC(weft_queue_put_nowait(q, ITEM(1)), WEFT_ESHUTDOWN);
        CO_CHECK_RC(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
        CO_CHECK_RC(weft_queue_get_nowait(q, &item), WEFT_ESHUTDOWN);
        qfinish(w, 1);
        CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    }
    return NULL;
}

/* asyncio Queue 12 [test_queues._QueueShutdownTestMixin.test_shutdown_nonempty] */
CORO_TEST(queue_shutdown_nonempty_still_hands_out_what_is_left)
{
    (void)arg;
    for (int k = 0; k < 3; k++) {
        qwaiter w[2];
        memset(w, 0, sizeof w);
        weft_queue *q = make_queue(kinds[k], 1);
        CO_CHECK_RC(weft_queue_put(q, ITEM('a')), WEFT_OK);
        qstart(&w[0], q, ITEM('b'), q_putter);
        qstart(&w[1], q, NULL, q_joiner);
        co_yield(3);
        CO_CHECK_RC(weft_queue_shutdown(q, false), WEFT_OK);
        CO_CHECK(qwait(&w[0], 2));
        CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_ESHUTDOWN);
        CO_CHECK_INT(VALUE(take(q)), 'a');
        co_yield(3);
        CO_CHECK(!qdone(&w[1])); /* waits for the task_done */
        CO_CHECK_RC(weft_queue_task_done(q), WEFT_OK);
        CO_CHECK(qwait(&w[1], 2));
        CO_CHECK_RC(atomic_load(&w[1].rc), WEFT_OK);
        void *item = NULL;
        CO_CHECK_RC(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
        CO_CHECK_RC(weft_queue_task_done(q), WEFT_EINVAL);
        qfinish(w, 2);
        CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    }
    return NULL;
}

static atomic_int discarded;
static void count_discard(void *item)
{
    (void)item;
    atomic_fetch_add(&discarded, 1);
}

/* asyncio Queue 13 [test_queues._QueueShutdownTestMixin.test_shutdown_immediate] */
CORO_TEST(queue_shutdown_immediate_drains_and_releases_join)
{
    (void)arg;
    qwaiter w[2];
    memset(w, 0, sizeof w);
    weft_queue *q = NULL;
    weft_queue_options o = {.maxsize = 0, .discard = count_discard};
    atomic_store(&discarded, 0);
    CO_CHECK_RC(weft_queue_new_with(&q, &o), WEFT_OK);
    for (uintptr_t i = 1; i <= 3; i++)
        CO_CHECK_RC(weft_queue_put(q, ITEM(i)), WEFT_OK);
    qstart(&w[0], q, NULL, q_joiner);
    co_yield(3);
    CO_CHECK(!qdone(&w[0]));
    CO_CHECK_RC(weft_queue_shutdown(q, true), WEFT_OK);
    CO_CHECK_INT(weft_queue_qsize(q), 0);
    CO_CHECK_INT(weft_queue_unfinished_tasks(q), 0);
    CO_CHECK_INT(atomic_load(&discarded), 3);
    CO_CHECK(qwait(&w[0], 2));
    CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_OK);
    void *item = NULL;
    CO_CHECK_RC(weft_queue_get(q, &item), WEFT_ESHUTDOWN);
    CO_CHECK_RC(weft_queue_task_done(q), WEFT_EINVAL);
    qfinish(w, 1);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);

    /* A blocked getter fails at once. */
    q = make_queue(WEFT_QUEUE_FIFO, 0);
    qstart(&w[1], q, NULL, q_getter);
    co_yield(3);
    CO_CHECK_RC(weft_queue_shutdown(q, true), WEFT_OK);
    CO_CHECK(qwait(&w[1], 2));
    CO_CHECK_RC(atomic_load(&w[1].rc), WEFT_ESHUTDOWN);
    qfinish(&w[1], 1);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

/* asyncio Queue 14 [test_queues._QueueShutdownTestMixin.test_shutdown_immediate_with_unfinished] */
CORO_TEST(queue_shutdown_immediate_join_waits_for_the_taken_item)
{
    (void)arg;
    qwaiter w[1];
    memset(w, 0, sizeof w);
    weft_queue *q = make_queue(WEFT_QUEUE_FIFO, 0);
    CO_CHECK_RC(weft_queue_put(q, ITEM(1)), WEFT_OK);
    CO_CHECK_RC(weft_queue_put(q, ITEM(2)), WEFT_OK);
    CO_CHECK_INT(VALUE(take(q)), 1);
    qstart(&w[0], q, NULL, q_joiner);
    co_yield(3);
    CO_CHECK_RC(weft_queue_shutdown(q, true), WEFT_OK);
    CO_CHECK_INT(weft_queue_unfinished_tasks(q), 1);
    co_yield(5);
    CO_CHECK(!qdone(&w[0]));
    CO_CHECK_RC(weft_queue_task_done(q), WEFT_OK);
    CO_CHECK(qwait(&w[0], 2));
    CO_CHECK_RC(atomic_load(&w[0].rc), WEFT_OK);
    qfinish(w, 1);
    CO_CHECK_RC(weft_queue_free(q), WEFT_OK);
    return NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queue_empty_full_and_the_nowait_errors),
        cmocka_unit_test(queue_order_by_kind),
        cmocka_unit_test(queue_bounded_put_and_empty_get_wait_for_each_other),
        cmocka_unit_test(queue_each_item_reaches_exactly_one_blocked_getter),
        cmocka_unit_test(queue_woken_getter_does_not_reserve_the_item),
        cmocka_unit_test(queue_blocked_putters_items_come_out_in_put_order),
        cmocka_unit_test(queue_cancelled_getter_loses_no_item),
        cmocka_unit_test(queue_cancelled_putter_neither_loses_nor_duplicates),
        cmocka_unit_test(queue_timed_out_getter_leaves_no_waiter_and_pairs_finish),
        cmocka_unit_test(queue_join_waits_for_every_task_done),
        cmocka_unit_test(queue_shutdown_empty_fails_the_getter_and_everything_after),
        cmocka_unit_test(queue_shutdown_nonempty_still_hands_out_what_is_left),
        cmocka_unit_test(queue_shutdown_immediate_drains_and_releases_join),
        cmocka_unit_test(queue_shutdown_immediate_join_waits_for_the_taken_item),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
