/* SPDX-License-Identifier: MIT */
/* test_pool_steal.c — tasks a pool's own tasks submit: they go to the
 * running worker's deque (newest first there), idle workers steal them,
 * tasks from outside are not starved by them, shutdown runs or cancels
 * them, stats count them; and a fork-join stress where every task of many
 * trees must run exactly once. */
#include "testutil.h"

static weft_executor *pool_of(long max_workers)
{
    weft_executor *ex = NULL;
    weft_thread_pool_options o = {.max_workers = max_workers};
    assert_int_equal(weft_thread_pool_new(&ex, &o), WEFT_OK);
    return ex;
}

static weft_executor *the_pool; /* the pool the running test's tasks submit to */

/* ---- keeping one of two workers busy, so that nobody steals --------------- */

static weft_event occupied, release_occupier;

static void *occupy(void *arg)
{
    (void)arg;
    weft_event_set(&occupied);
    return weft_event_wait_timeout(&release_occupier, 20.0) == WEFT_OK ? (void *)1 : NULL;
}

static weft_future *occupy_a_worker(void)
{
    weft_event_init(&occupied);
    weft_event_init(&release_occupier);
    weft_future *f;
    assert_int_equal(weft_executor_submit(the_pool, occupy, NULL, &f), WEFT_OK);
    assert_int_equal(weft_event_wait_timeout(&occupied, 10.0), WEFT_OK);
    return f;
}

/* Set the event that task f waits for; f must then end well. */
static void release_and_check(weft_event *e, weft_future *f)
{
    weft_event_set(e);
    void *r = NULL;
    assert_int_equal(weft_future_result_timeout(f, 20.0, &r), WEFT_OK);
    assert_non_null(r);
    weft_future_release(f);
}

static void free_the_worker(weft_future *f)
{
    release_and_check(&release_occupier, f);
    weft_event_destroy(&occupied);
    weft_event_destroy(&release_occupier);
}

/* ---- a child stolen while its parent blocks (not on a future) --------------- */

static void *put_one(void *arg)
{
    weft_queue_put(arg, (void *)(uintptr_t)1);
    return NULL;
}

/* Submits a child that puts to a queue, then blocks on the queue (not on
 * the child's future, so it cannot run the child itself): only another
 * worker stealing the child lets it finish. */
static void *submit_then_block(void *arg)
{
    weft_queue *q = arg;
    weft_future *child = NULL;
    if (weft_executor_submit(the_pool, put_one, q, &child) != WEFT_OK)
        return NULL;
    void *item = NULL;
    int rc = weft_queue_get_timeout(q, &item, 10.0);
    weft_future_release(child);
    return rc == WEFT_OK ? item : NULL;
}

static void child_is_stolen_while_its_parent_blocks(void **state)
{
    (void)state;
    the_pool = pool_of(2);
    weft_queue *q;
    assert_int_equal(weft_queue_new(&q, 0), WEFT_OK);
    for (int round = 0; round < 300; round++) {
        weft_future *f;
        assert_int_equal(weft_executor_submit(the_pool, submit_then_block, q, &f), WEFT_OK);
        void *r = NULL;
        assert_int_equal(weft_future_result_timeout(f, 20.0, &r), WEFT_OK);
        assert_ptr_equal(r, (void *)(uintptr_t)1);
        weft_future_release(f);
        if (round % 50 == 0)
            weft_sleep(0.002); /* let both workers park: the child must wake one */
    }
    weft_executor_free(the_pool);
    weft_queue_free(q);
}

/* Two outside threads, each submitting such parents one after another, to
 * a pool of four: two workers are free for the children at any moment, and
 * they are found whatever the other workers are doing (taking the shared
 * list's items, holding the spinner's role, being woken for them). */
static void parents_from_two_threads(int index, void *arg)
{
    (void)index;
    atomic_int *failures = arg;
    weft_queue *q;
    if (weft_queue_new(&q, 0) != WEFT_OK) {
        atomic_fetch_add(failures, 1);
        return;
    }
    for (int round = 0; round < 1000; round++) {
        weft_future *f;
        void *r = NULL;
        if (weft_executor_submit(the_pool, submit_then_block, q, &f) != WEFT_OK) {
            atomic_fetch_add(failures, 1);
            break;
        }
        if (weft_future_result_timeout(f, 20.0, &r) != WEFT_OK || r != (void *)(uintptr_t)1)
            atomic_fetch_add(failures, 1);
        weft_future_release(f);
    }
    weft_queue_free(q);
}

static void children_stolen_while_parents_block_on_a_busy_pool(void **state)
{
    (void)state;
    the_pool = pool_of(4);
    atomic_int failures = 0;
    bunch *b = bunch_start(2, parents_from_two_threads, &failures);
    bunch_join(b);
    assert_int_equal(atomic_load(&failures), 0);
    weft_executor_free(the_pool);
}

/* ---- order on one worker -------------------------------------------------------- */

static atomic_int ran[8], ran_count;

static void *record_run(void *arg)
{
    ran[atomic_fetch_add(&ran_count, 1)] = (int)(uintptr_t)arg;
    return NULL;
}

static void *submit_five(void *arg)
{
    (void)arg;
    for (uintptr_t i = 1; i <= 5; i++)
        if (weft_executor_submit(the_pool, record_run, (void *)i, NULL) != WEFT_OK)
            return NULL;
    return (void *)1;
}

/* With nobody to steal (the other worker is kept busy), a worker runs the
 * tasks its task submitted newest first (the last one's data is the one in
 * its cache); a pool of one worker keeps Python's order instead. */
static void run_five(long workers, bool newest_first)
{
    the_pool = pool_of(workers);
    weft_future *occupier = workers > 1 ? occupy_a_worker() : NULL;
    atomic_store(&ran_count, 0);
    weft_future *f;
    assert_int_equal(weft_executor_submit(the_pool, submit_five, NULL, &f), WEFT_OK);
    void *r = NULL;
    assert_int_equal(weft_future_result_timeout(f, 20.0, &r), WEFT_OK);
    assert_non_null(r);
    weft_future_release(f);
    for (int i = 0; i < 2000 && atomic_load(&ran_count) < 5; i++)
        weft_sleep(0.001);
    if (occupier)
        free_the_worker(occupier);
    assert_int_equal(weft_executor_shutdown(the_pool, true, false), WEFT_OK);
    assert_int_equal(atomic_load(&ran_count), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ran[i], newest_first ? 5 - i : i + 1);
    weft_executor_free(the_pool);
}

static void nested_tasks_run_newest_first_on_a_busy_pool(void **state)
{
    (void)state;
    run_five(2, true);
    run_five(1, false);
}

/* ---- a pool of one worker as a serial executor ------------------------------------ */

static weft_event first_ran;

static void *set_first(void *arg)
{
    (void)arg;
    weft_event_set(&first_ran);
    return (void *)1;
}

static void *wait_for_first(void *arg)
{
    (void)arg;
    return weft_event_wait_timeout(&first_ran, 10.0) == WEFT_OK ? (void *)1 : NULL;
}

static void *submit_first_then_its_waiter(void *arg)
{
    weft_future **fs = arg;
    if (weft_executor_submit(the_pool, set_first, NULL, &fs[0]) != WEFT_OK ||
        weft_executor_submit(the_pool, wait_for_first, NULL, &fs[1]) != WEFT_OK)
        return NULL;
    return (void *)1;
}

/* A task submits A, then B that waits for A: on one worker, B must not run
 * first (it would wait for A forever, as Python's order never makes it). */
static void one_worker_keeps_submission_order(void **state)
{
    (void)state;
    the_pool = pool_of(1);
    weft_event_init(&first_ran);
    weft_future *fs[2] = {NULL, NULL}, *parent;
    assert_int_equal(weft_executor_submit(the_pool, submit_first_then_its_waiter, fs, &parent),
                     WEFT_OK);
    void *r = NULL;
    assert_int_equal(weft_future_result_timeout(parent, 20.0, &r), WEFT_OK);
    assert_non_null(r);
    for (int i = 0; i < 2; i++) {
        r = NULL;
        assert_int_equal(weft_future_result_timeout(fs[i], 20.0, &r), WEFT_OK);
        assert_non_null(r);
        weft_future_release(fs[i]);
    }
    weft_future_release(parent);
    weft_executor_free(the_pool);
    weft_event_destroy(&first_ran);
}

/* ---- no starvation of outside tasks ---------------------------------------------- */

#define CHAIN 2000
static atomic_int chain_runs, chain_runs_when_outside_ran;

static void *chain_link(void *arg)
{
    (void)arg;
    if (atomic_fetch_add(&chain_runs, 1) + 1 < CHAIN)
        weft_executor_submit(the_pool, chain_link, NULL, NULL);
    return NULL;
}

static void *outside_task(void *arg)
{
    (void)arg;
    atomic_store(&chain_runs_when_outside_ran, atomic_load(&chain_runs));
    return NULL;
}

static void *start_chain_then_wait(void *arg)
{
    weft_event *go = arg;
    weft_executor_submit(the_pool, chain_link, NULL, NULL);
    return weft_event_wait_timeout(go, 10.0) == WEFT_OK ? (void *)1 : NULL;
}

/* One worker free (the other kept busy); a task that keeps submitting the
 * next link of a chain, and a task from outside queued behind it: the
 * outside task runs long before the chain ends (one pick in 61 looks at
 * the shared list first). */
static void outside_tasks_are_not_starved(void **state)
{
    (void)state;
    the_pool = pool_of(2);
    weft_future *occupier = occupy_a_worker();
    atomic_store(&chain_runs, 0);
    atomic_store(&chain_runs_when_outside_ran, -1);
    weft_event go;
    weft_event_init(&go);
    weft_future *starter;
    assert_int_equal(weft_executor_submit(the_pool, start_chain_then_wait, &go, &starter),
                     WEFT_OK);
    weft_future *outside;
    assert_int_equal(weft_executor_submit(the_pool, outside_task, NULL, &outside), WEFT_OK);
    weft_event_set(&go);
    assert_int_equal(weft_future_result_timeout(outside, 20.0, NULL), WEFT_OK);
    /* (a link submitted after shutdown would be refused: wait for the end) */
    for (int i = 0; i < 20000 && atomic_load(&chain_runs) < CHAIN; i++)
        weft_sleep(0.001);
    assert_int_equal(atomic_load(&chain_runs), CHAIN);
    free_the_worker(occupier);
    assert_int_equal(weft_executor_shutdown(the_pool, true, false), WEFT_OK);
    int when = atomic_load(&chain_runs_when_outside_ran);
    assert_true(when >= 0 && when <= 2 * 61);
    weft_future_release(starter);
    weft_future_release(outside);
    weft_executor_free(the_pool);
    weft_event_destroy(&go);
}

/* ---- shutdown, cancel and stats see the deques ------------------------------------- */

#define CHILDREN 50
static weft_future *children[CHILDREN];
static atomic_int children_run;
static weft_event submitted, release_parent;

static void *count_child(void *arg)
{
    (void)arg;
    atomic_fetch_add(&children_run, 1);
    return NULL;
}

/* Submits CHILDREN children (kept in `children`), says so, and blocks until
 * released: its children stay in its deque unless another worker steals. */
static void *parent_of_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < CHILDREN; i++)
        if (weft_executor_submit(the_pool, count_child, NULL, &children[i]) != WEFT_OK)
            return NULL;
    weft_event_set(&submitted);
    return weft_event_wait_timeout(&release_parent, 10.0) == WEFT_OK ? (void *)1 : NULL;
}

static weft_future *occupier_now;

/* A parent of many on a pool of two: with `busy`, the other worker is kept
 * busy, so the children stay in the parent's deque. */
static weft_future *start_parent(bool busy)
{
    the_pool = pool_of(2);
    occupier_now = busy ? occupy_a_worker() : NULL;
    atomic_store(&children_run, 0);
    weft_event_init(&submitted);
    weft_event_init(&release_parent);
    weft_future *parent;
    assert_int_equal(weft_executor_submit(the_pool, parent_of_many, NULL, &parent), WEFT_OK);
    assert_int_equal(weft_event_wait_timeout(&submitted, 10.0), WEFT_OK);
    return parent;
}

static void end_parent(weft_future *parent)
{
    release_and_check(&release_parent, parent);
    if (occupier_now)
        free_the_worker(occupier_now);
    for (int i = 0; i < CHILDREN; i++)
        weft_future_release(children[i]);
    weft_executor_free(the_pool);
    weft_event_destroy(&submitted);
    weft_event_destroy(&release_parent);
}

static void stats_count_tasks_in_deques(void **state)
{
    (void)state;
    weft_future *parent = start_parent(true);
    weft_executor_stats s;
    assert_int_equal(weft_executor_stats_get(the_pool, &s), WEFT_OK);
    assert_int_equal(s.queued, CHILDREN);
    assert_int_equal(s.running, 2);
    end_parent(parent);
    assert_int_equal(atomic_load(&children_run), CHILDREN);
}

static void shutdown_cancel_futures_cancels_tasks_in_deques(void **state)
{
    (void)state;
    weft_future *parent = start_parent(true);
    assert_int_equal(weft_executor_shutdown(the_pool, false, true), WEFT_OK);
    for (int i = 0; i < CHILDREN; i++)
        assert_true(weft_future_cancelled(children[i]));
    end_parent(parent);
    assert_int_equal(atomic_load(&children_run), 0);
}

static void *shutdown_and_wait(void *arg)
{
    return (void *)(intptr_t)weft_executor_shutdown(arg, true, false);
}

/* Shutdown with wait runs what the deques hold: the parent submitted its
 * children before shutdown began, and they all run. */
static void shutdown_runs_tasks_in_deques(void **state)
{
    (void)state;
    weft_future *parent = start_parent(false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, shutdown_and_wait, the_pool), 0);
    weft_sleep(0.05); /* shutdown has begun, waiting for the parent */
    weft_event_set(&release_parent);
    void *rc = (void *)-1;
    pthread_join(t, &rc);
    assert_int_equal((intptr_t)rc, WEFT_OK);
    assert_int_equal(atomic_load(&children_run), CHILDREN);
    for (int i = 0; i < CHILDREN; i++)
        assert_true(weft_future_done(children[i]) && !weft_future_cancelled(children[i]));
    end_parent(parent);
}

/* ---- fork-join stress ------------------------------------------------------------- */

static atomic_long tree_nodes;

/* A node of a binary tree of tasks: submits its two children and waits for
 * both (the wait runs queued tasks meanwhile), returns the subtree's size. */
static void *tree(void *arg)
{
    uintptr_t depth = (uintptr_t)arg;
    atomic_fetch_add(&tree_nodes, 1);
    if (depth == 0)
        return (void *)1;
    weft_future *l = NULL, *r = NULL;
    if (weft_executor_submit(the_pool, tree, (void *)(depth - 1), &l) != WEFT_OK ||
        weft_executor_submit(the_pool, tree, (void *)(depth - 1), &r) != WEFT_OK)
        return NULL;
    void *a = NULL, *b = NULL;
    weft_future_result_timeout(l, 60.0, &a);
    weft_future_result_timeout(r, 60.0, &b);
    weft_future_release(l);
    weft_future_release(r);
    return (void *)((uintptr_t)a + (uintptr_t)b + 1);
}

#define TREE_DEPTH 9
#define OUTSIDE_THREADS 4
#define TREES_EACH 5

static void *submit_trees(void *arg)
{
    (void)arg;
    for (int i = 0; i < TREES_EACH; i++) {
        weft_future *f;
        if (weft_executor_submit(the_pool, tree, (void *)(uintptr_t)TREE_DEPTH, &f) != WEFT_OK)
            return NULL;
        void *size = NULL;
        int rc = weft_future_result_timeout(f, 60.0, &size);
        weft_future_release(f);
        if (rc != WEFT_OK || (uintptr_t)size != ((uintptr_t)1 << (TREE_DEPTH + 1)) - 1)
            return NULL;
    }
    return (void *)1;
}

static void fork_join_trees_from_many_threads(void **state)
{
    (void)state;
    for (long workers = 1; workers <= 8; workers *= 2) {
        the_pool = pool_of(workers);
        atomic_store(&tree_nodes, 0);
        pthread_t t[OUTSIDE_THREADS];
        for (int i = 0; i < OUTSIDE_THREADS; i++)
            assert_int_equal(pthread_create(&t[i], NULL, submit_trees, NULL), 0);
        for (int i = 0; i < OUTSIDE_THREADS; i++) {
            void *ok = NULL;
            pthread_join(t[i], &ok);
            assert_non_null(ok);
        }
        assert_int_equal(weft_executor_shutdown(the_pool, true, false), WEFT_OK);
        weft_executor_stats s;
        weft_executor_stats_get(the_pool, &s);
        long expected = OUTSIDE_THREADS * TREES_EACH * ((1L << (TREE_DEPTH + 1)) - 1);
        assert_int_equal(atomic_load(&tree_nodes), expected);
        assert_int_equal(s.completed, (size_t)expected);
        assert_int_equal(s.queued, 0);
        weft_executor_free(the_pool);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(child_is_stolen_while_its_parent_blocks),
        cmocka_unit_test(children_stolen_while_parents_block_on_a_busy_pool),
        cmocka_unit_test(nested_tasks_run_newest_first_on_a_busy_pool),
        cmocka_unit_test(one_worker_keeps_submission_order),
        cmocka_unit_test(outside_tasks_are_not_starved),
        cmocka_unit_test(stats_count_tasks_in_deques),
        cmocka_unit_test(shutdown_cancel_futures_cancels_tasks_in_deques),
        cmocka_unit_test(shutdown_runs_tasks_in_deques),
        cmocka_unit_test(fork_join_trees_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
