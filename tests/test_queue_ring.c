/* SPDX-License-Identifier: MIT */
/* test_queue_ring.c — a bounded FIFO queue's lock-free ring (src/queue_ring.c):
 * maxsize is exact whatever its size (1, 3, 4, the largest the ring takes),
 * leaving the ring (task_done, join, shutdown, set_maxsize, free) keeps
 * every item in order and counts them as unfinished, waiters in the ring
 * follow it out, and a stress where producers and consumers race a leave:
 * every item taken exactly once, each producer's in order. */
#include "testutil.h"

#include "queue_internal.h"

#define ITEM(n) ((void *)(uintptr_t)(n))

static weft_queue *fifo(long maxsize)
{
    weft_queue *q = NULL;
    assert_int_equal(weft_queue_new(&q, maxsize), WEFT_OK);
    return q;
}

/* maxsize items go in, one more is refused, for sizes that are and are not
 * a power of two; FIFO out; qsize and full agree. */
static void maxsize_is_exact(void **state)
{
    (void)state;
    long sizes[] = {1, 2, 3, 4, 5, 1000, WEFT_QUEUE_RING_MAX};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        long n = sizes[k];
        weft_queue *q = fifo(n);
        assert_true(weft__queue_ring_on(q));
        for (int round = 0; round < 3; round++) { /* around the ring */
            for (long i = 0; i < n; i++)
                assert_int_equal(weft_queue_put_nowait(q, ITEM(i + 1)), WEFT_OK);
            assert_int_equal(weft_queue_put_nowait(q, ITEM(0)), WEFT_EFULL);
            assert_int_equal(weft_queue_put_timeout(q, ITEM(0), 0.01), WEFT_EFULL);
            assert_true(weft_queue_full(q));
            assert_int_equal(weft_queue_qsize(q), (size_t)n);
            for (long i = 0; i < n; i++) {
                void *it = NULL;
                assert_int_equal(weft_queue_get_nowait(q, &it), WEFT_OK);
                assert_ptr_equal(it, ITEM(i + 1));
            }
            void *it = ITEM(9);
            assert_int_equal(weft_queue_get_nowait(q, &it), WEFT_EEMPTY);
            assert_null(it);
            assert_true(weft_queue_empty(q));
        }
        assert_int_equal(weft_queue_unfinished_tasks(q), (size_t)(3 * n));
        assert_int_equal(weft_queue_free(q), WEFT_OK);
    }
    /* Too big for a ring, or not FIFO: the locked store serves them. */
    weft_queue *big = fifo(WEFT_QUEUE_RING_MAX + 1), *lifo = NULL;
    assert_false(weft__queue_ring_on(big));
    assert_int_equal(weft_lifo_queue_new(&lifo, 8), WEFT_OK);
    assert_false(weft__queue_ring_on(lifo));
    weft_queue_free(big);
    weft_queue_free(lifo);
}

/* Each call that needs the whole queue leaves the ring with the items in
 * order and every put counted as an unfinished task. */
static void leaving_keeps_items_in_order(void **state)
{
    (void)state;
    for (int how = 0; how < 4; how++) {
        weft_queue *q = fifo(6);
        for (int i = 1; i <= 5; i++)
            assert_int_equal(weft_queue_put(q, ITEM(i)), WEFT_OK);
        void *it = NULL;
        assert_int_equal(weft_queue_get(q, &it), WEFT_OK); /* head moved off 0 */
        assert_ptr_equal(it, ITEM(1));
        assert_int_equal(weft_queue_put(q, ITEM(6)), WEFT_OK);
        switch (how) {
        case 0: assert_int_equal(weft_queue_task_done(q), WEFT_OK); break;
        case 1: assert_int_equal(weft_queue_join_timeout(q, 0), WEFT_ETIMEDOUT); break;
        case 2: assert_int_equal(weft_queue_set_maxsize(q, 7), WEFT_OK); break;
        default: assert_int_equal(weft_queue_shutdown(q, false), WEFT_OK); break;
        }
        assert_false(weft__queue_ring_on(q));
        assert_int_equal(weft_queue_qsize(q), 5);
        assert_int_equal(weft_queue_unfinished_tasks(q), how == 0 ? 5 : 6);
        for (int i = 2; i <= 6; i++) {
            assert_int_equal(weft_queue_get(q, &it), WEFT_OK);
            assert_ptr_equal(it, ITEM(i));
        }
        if (how != 3) { /* and it still works, under its lock */
            assert_int_equal(weft_queue_put(q, ITEM(7)), WEFT_OK);
            assert_int_equal(weft_queue_get(q, &it), WEFT_OK);
            assert_ptr_equal(it, ITEM(7));
        }
        assert_int_equal(weft_queue_free(q), WEFT_OK);
    }
}

static atomic_int discarded;
static void count_discard(void *item)
{
    (void)item;
    atomic_fetch_add(&discarded, 1);
}

/* Items still in the ring reach the discard function: at free, and at an
 * immediate shutdown. */
static void ring_items_are_discarded(void **state)
{
    (void)state;
    for (int immediate = 0; immediate < 2; immediate++) {
        weft_queue_options o = {.maxsize = 8, .discard = count_discard};
        weft_queue *q = NULL;
        assert_int_equal(weft_queue_new_with(&q, &o), WEFT_OK);
        for (int i = 0; i < 5; i++)
            weft_queue_put(q, ITEM(i + 1));
        atomic_store(&discarded, 0);
        if (immediate) {
            assert_int_equal(weft_queue_shutdown(q, true), WEFT_OK);
            assert_int_equal(atomic_load(&discarded), 5);
            assert_int_equal(weft_queue_unfinished_tasks(q), 0);
        }
        assert_int_equal(weft_queue_free(q), WEFT_OK);
        assert_int_equal(atomic_load(&discarded), 5);
    }
}

/* ---- threads -------------------------------------------------------------------- */

static weft_queue *shared_q;
static atomic_int got_rc;
static void *got_item;

static void *get_blocking(void *arg)
{
    (void)arg;
    atomic_store(&got_rc, weft_queue_get_timeout(shared_q, &got_item, 20.0));
    return NULL;
}

static void *put_blocking(void *arg)
{
    atomic_store(&got_rc, weft_queue_put_timeout(shared_q, arg, 20.0));
    return NULL;
}

/* A getter waiting in the ring follows it out when another thread leaves
 * it, and gets the item put after; a putter waiting on a full ring too. */
static void waiters_follow_the_queue_out_of_the_ring(void **state)
{
    (void)state;
    shared_q = fifo(2);
    atomic_store(&got_rc, -1);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, get_blocking, NULL), 0);
    weft_sleep(0.05);
    assert_int_equal(weft_queue_set_maxsize(shared_q, 2), WEFT_OK); /* leaves the ring */
    assert_false(weft__queue_ring_on(shared_q));
    weft_sleep(0.02);
    assert_int_equal(atomic_load(&got_rc), -1); /* still waiting */
    assert_int_equal(weft_queue_put(shared_q, ITEM(42)), WEFT_OK);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&got_rc), WEFT_OK);
    assert_ptr_equal(got_item, ITEM(42));
    weft_queue_free(shared_q);

    shared_q = fifo(2);
    weft_queue_put(shared_q, ITEM(1));
    weft_queue_put(shared_q, ITEM(2));
    atomic_store(&got_rc, -1);
    assert_int_equal(pthread_create(&t, NULL, put_blocking, ITEM(3)), 0);
    weft_sleep(0.05);
    assert_int_equal(weft_queue_task_done(shared_q), WEFT_OK); /* leaves the ring */
    weft_sleep(0.02);
    assert_int_equal(atomic_load(&got_rc), -1);
    void *it = NULL;
    assert_int_equal(weft_queue_get(shared_q, &it), WEFT_OK);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&got_rc), WEFT_OK);
    for (int i = 2; i <= 3; i++) {
        assert_int_equal(weft_queue_get(shared_q, &it), WEFT_OK);
        assert_ptr_equal(it, ITEM(i));
    }
    weft_queue_free(shared_q);
}

/* Two getters wait; two items go in back to back: both getters get one.
 * (A notify wakes a sleeper only while nobody spins: the getter that spun
 * and took the first item must pass the wake-up on.)  And the same for two
 * putters on a full ring and two gets.  Many rounds, so that the getters
 * are caught spinning and parked in every mix. */
#define ROUNDS 3000
static weft_barrier round_start, round_end;
static atomic_int side_failures;

static void waiting_side(int index, void *arg)
{
    bool putting = arg != NULL;
    for (int r = 0; r < ROUNDS; r++) {
        weft_barrier_wait(&round_start, NULL);
        void *it = NULL;
        int rc = putting ? weft_queue_put_timeout(shared_q, ITEM(index + 1), 2.0)
                         : weft_queue_get_timeout(shared_q, &it, 2.0);
        if (rc != WEFT_OK)
            atomic_fetch_add(&side_failures, 1);
        weft_barrier_wait(&round_end, NULL);
        if (atomic_load(&side_failures))
            return; /* every party stops after this round */
    }
}

static void two_waiters_two_changes(void **state)
{
    (void)state;
    for (int putting = 0; putting < 2; putting++) {
        shared_q = fifo(2);
        atomic_store(&side_failures, 0);
        weft_barrier_init(&round_start, 3, NULL, NULL, WEFT_FOREVER);
        weft_barrier_init(&round_end, 3, NULL, NULL, WEFT_FOREVER);
        bunch *b = bunch_start(2, waiting_side, putting ? (void *)1 : NULL);
        for (int r = 0; r < ROUNDS; r++) {
            if (putting) { /* full, so both putters wait */
                weft_queue_put(shared_q, ITEM(8));
                weft_queue_put(shared_q, ITEM(9));
            }
            weft_barrier_wait(&round_start, NULL);
            for (volatile int spin = 0; spin < (r % 64) * 20; spin++) {
            } /* let them spin, or park */
            void *it;
            for (int k = 0; k < 2; k++)
                if (putting)
                    weft_queue_get(shared_q, &it);
                else
                    weft_queue_put(shared_q, ITEM(k + 1));
            weft_barrier_wait(&round_end, NULL);
            if (putting) /* the two they put */
                for (int k = 0; k < 2; k++)
                    weft_queue_get_timeout(shared_q, &it, 2.0);
            if (atomic_load(&side_failures))
                break;
        }
        bunch_join(b);
        assert_int_equal(atomic_load(&side_failures), 0);
        assert_int_equal(weft_queue_qsize(shared_q), 0);
        weft_barrier_destroy(&round_start);
        weft_barrier_destroy(&round_end);
        assert_int_equal(weft_queue_free(shared_q), WEFT_OK);
    }
}

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 50000
static atomic_int seen[PRODUCERS * PER_PRODUCER];
static atomic_int order_errors, stress_got;

static void stress_producer(int index, void *arg)
{
    (void)arg;
    for (long i = 0; i < PER_PRODUCER; i++)
        if (weft_queue_put(shared_q, ITEM(index * PER_PRODUCER + i + 1)) != WEFT_OK)
            atomic_fetch_add(&order_errors, 1000000);
}

static void stress_consumer(int index, void *arg)
{
    (void)index;
    (void)arg;
    long last[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
        last[p] = -1;
    double give_up = weft_monotonic() + 60; /* a lost item fails the test, not hangs it */
    while (atomic_load(&stress_got) < PRODUCERS * PER_PRODUCER && weft_monotonic() < give_up) {
        void *it = NULL;
        if (weft_queue_get_timeout(shared_q, &it, 0.05) != WEFT_OK)
            continue;
        long n = (long)(uintptr_t)it - 1, p = n / PER_PRODUCER, i = n % PER_PRODUCER;
        if (i <= last[p])
            atomic_fetch_add(&order_errors, 1);
        last[p] = i;
        atomic_fetch_add(&seen[n], 1);
        atomic_fetch_add(&stress_got, 1);
    }
}

static void *leave_midway(void *arg)
{
    (void)arg;
    while (atomic_load(&stress_got) < PRODUCERS * PER_PRODUCER / 3)
        weft_sleep(0.001);
    weft_queue_set_maxsize(shared_q, weft_queue_maxsize(shared_q));
    return NULL;
}

/* Four producers, four consumers, on a ring of 3 (not a power of two) and
 * of 64; on one run of each another thread leaves the ring a third of the
 * way through. */
static void stress_every_item_once_in_order(void **state)
{
    (void)state;
    long sizes[] = {3, 64};
    for (int k = 0; k < 2; k++) {
        for (int leave = 0; leave < 2; leave++) {
            shared_q = fifo(sizes[k]);
            memset(seen, 0, sizeof seen);
            atomic_store(&order_errors, 0);
            atomic_store(&stress_got, 0);
            pthread_t leaver;
            if (leave)
                assert_int_equal(pthread_create(&leaver, NULL, leave_midway, NULL), 0);
            bunch *consumers = bunch_start(CONSUMERS, stress_consumer, NULL);
            bunch *producers = bunch_start(PRODUCERS, stress_producer, NULL);
            bunch_join(producers);
            bunch_join(consumers);
            if (leave) {
                pthread_join(leaver, NULL);
                assert_false(weft__queue_ring_on(shared_q));
            }
            assert_int_equal(atomic_load(&order_errors), 0);
            assert_int_equal(atomic_load(&stress_got), PRODUCERS * PER_PRODUCER);
            for (long i = 0; i < PRODUCERS * PER_PRODUCER; i++)
                assert_int_equal(atomic_load(&seen[i]), 1);
            assert_int_equal(weft_queue_qsize(shared_q), 0);
            assert_int_equal(weft_queue_free(shared_q), WEFT_OK);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(maxsize_is_exact),
        cmocka_unit_test(leaving_keeps_items_in_order),
        cmocka_unit_test(ring_items_are_discarded),
        cmocka_unit_test(waiters_follow_the_queue_out_of_the_ring),
        cmocka_unit_test(two_waiters_two_changes),
        cmocka_unit_test(stress_every_item_once_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
