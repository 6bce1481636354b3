/* SPDX-License-Identifier: MIT */
/* test_coro_gather.c — weft_gather against asyncio's behaviours (docs/python.md), section
 * "gather".  Each test's comment names the item ("gather 3") and the
 * CPython test it comes from; the items that do not apply to C are listed
 * in docs/python.md.  weft_gather is a call, not a future: where asyncio
 * cancels "the gather", C cancels the task waiting in it. */
#include "test_coro_a_util.h"

#define STRESS_CHILDREN 1000

static struct {
    weft_event a_may_end, b_done, a_done, release;
    atomic_int order_n, ran, proof, cleaned_up;
    int order[8];
    int status[4];
    weft_future *kids[4], *gatherer;
    void *results[8];
    bool return_exceptions;
    weft_future *stress[STRESS_CHILDREN];
    void *stress_results[STRESS_CHILDREN];
    pthread_t thread;
    weft_future *plain;
} S;

static void reset(void)
{
    memset(&S, 0, sizeof S);
    assert_int_equal(weft_event_init(&S.a_may_end), WEFT_OK);
    assert_int_equal(weft_event_init(&S.b_done), WEFT_OK);
    assert_int_equal(weft_event_init(&S.a_done), WEFT_OK);
    assert_int_equal(weft_event_init(&S.release), WEFT_OK);
}

static void teardown(void)
{
    weft_event_destroy(&S.a_may_end);
    weft_event_destroy(&S.b_done);
    weft_event_destroy(&S.a_done);
    weft_event_destroy(&S.release);
}

static void record(int who)
{
    int n = atomic_fetch_add(&S.order_n, 1);
    if (n < 8)
        S.order[n] = who;
}

static void *child_a(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_event_wait(&S.b_done), WEFT_OK);
    record('a');
    CHECK_STATUS(weft_event_set(&S.a_done), WEFT_OK);
    return IPTR(1);
}

static void *child_b(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0.01), WEFT_OK);
    record('b');
    CHECK_STATUS(weft_event_set(&S.b_done), WEFT_OK);
    return IPTR(2);
}

static void *child_c(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_event_wait(&S.a_done), WEFT_OK);
    CHECK_STATUS(weft_sleep(0.01), WEFT_OK);
    record('c');
    return IPTR(3);
}

static void *gather_in_order(void *arg)
{
    (void)arg;
    weft_future *kids[] = {spawn(child_a, NULL), spawn(child_b, NULL), spawn(child_c, NULL)};
    CHECK_STATUS(weft_gather(kids, 3, false, S.results), WEFT_OK);
    for (int i = 0; i < 3; i++) { /* returns only after the last */
        CHECK(weft_future_done(kids[i]));
        weft_future_release(kids[i]);
    }
    return NULL;
}

/* gather 1 [test_tasks.GatherTestsBase.test_success, test_result_exception_success] [probe] */
static void gather_results_in_argument_order(void **state)
{
    (void)state;
    reset();
    run_ok(gather_in_order, NULL);
    assert_int_equal(atomic_load(&S.order_n), 3);
    assert_int_equal(S.order[0], 'b');
    assert_int_equal(S.order[1], 'a');
    assert_int_equal(S.order[2], 'c');
    assert_int_equal(PINT(S.results[0]), 1);
    assert_int_equal(PINT(S.results[1]), 2);
    assert_int_equal(PINT(S.results[2]), 3);
    teardown();
}

static void *count_and_return(void *arg)
{
    atomic_fetch_add(&S.ran, 1);
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return arg;
}

static void *empty_and_duplicates(void *arg)
{
    (void)arg;
    double t0 = weft_monotonic();
    CHECK_STATUS(weft_gather(NULL, 0, false, NULL), WEFT_OK);
    CHECK_STATUS(weft_gather(NULL, 0, true, S.results), WEFT_OK);
    CHECK(weft_monotonic() - t0 < IMMEDIATE);
    weft_future *abc = spawn(count_and_return, "abc"), *def = spawn(count_and_return, "def");
    weft_future *list[] = {abc, abc, def, abc};
    CHECK_STATUS(weft_gather(list, 4, false, S.results), WEFT_OK);
    const char *want[] = {"abc", "abc", "def", "abc"};
    for (int i = 0; i < 4; i++)
        CHECK(S.results[i] && strcmp(S.results[i], want[i]) == 0);
    CHECK_INT(atomic_load(&S.ran), 2); /* each ran once */
    weft_future_release(abc);
    weft_future_release(def);
    return NULL;
}

/* gather 2 [test_tasks.FutureGatherTests.test_constructor_empty_sequence_use_running_loop,
 * CoroutineGatherTests.test_duplicate_coroutines] [probe] */
static void gather_of_nothing_and_of_duplicates(void **state)
{
    (void)state;
    reset();
    run_ok(empty_and_duplicates, NULL);
    teardown();
}

static void *sleep_then_mark(void *arg)
{
    CHECK_STATUS(weft_sleep(0.05), WEFT_OK);
    atomic_fetch_add(&S.proof, 1);
    return arg;
}

static void *wait_release_then_fail(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_event_wait(&S.release), WEFT_OK);
    return weft_fail(WEFT_ESTATE, "late error");
}

static void *fail_at_once(void *arg)
{
    (void)arg;
    return weft_fail(WEFT_EINVAL, "b failed");
}

static void *first_failure(void *arg)
{
    (void)arg;
    weft_future *a = spawn(sleep_then_mark, IPTR(1)), *b = spawn(fail_at_once, NULL);
    weft_future *c = spawn(wait_release_then_fail, NULL);
    weft_future *kids[] = {a, b, c};
    double t0 = weft_monotonic();
    CHECK_STATUS(weft_gather(kids, 3, false, S.results), WEFT_EFAILED);
    CHECK(weft_monotonic() - t0 < SOON);
    CHECK(S.results[1] == NULL);
    /* the others are not cancelled, and keep running */
    CHECK(!weft_future_done(a) && !weft_future_done(c));
    CHECK_INT(weft_task_cancelling(a), 0);
    CHECK_INT(weft_task_cancelling(c), 0);
    CHECK_INT(PINT(await_ok(a)), 1);
    CHECK_INT(atomic_load(&S.proof), 1);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_STATUS(await_status(c, NULL), WEFT_EFAILED); /* its error is its own */
    CHECK_INT(weft_future_error_code(c), WEFT_ESTATE);
    CHECK_INT(weft_future_error_code(b), WEFT_EINVAL);
    weft_future_release(a);
    weft_future_release(b);
    weft_future_release(c);
    return NULL;
}

/* gather 3 [test_tasks.GatherTestsBase.test_one_exception, CoroutineGatherTests
 * .test_exception_marking] [doc] [probe] */
static void gather_returns_at_the_first_failure(void **state)
{
    (void)state;
    reset();
    run_ok(first_failure, NULL);
    teardown();
}

static void *fail_after_sleep(void *arg)
{
    CHECK_STATUS(weft_sleep(0.02), WEFT_OK);
    return weft_fail((int)(intptr_t)arg, "child error");
}

static void *return_exceptions(void *arg)
{
    (void)arg;
    weft_future *kids[] = {spawn(sleep_then_mark, IPTR(3)), spawn(count_and_return, IPTR(1)),
                           spawn(fail_after_sleep, IPTR(WEFT_EINVAL)),
                           spawn(fail_after_sleep, IPTR(WEFT_ESTATE))};
    CHECK_STATUS(weft_gather(kids, 4, true, S.results), WEFT_OK);
    for (int i = 0; i < 4; i++)
        CHECK(weft_future_done(kids[i])); /* done only when all are */
    CHECK_INT(PINT(S.results[0]), 3);
    CHECK_INT(PINT(S.results[1]), 1);
    CHECK(S.results[2] == NULL && S.results[3] == NULL);
    CHECK_INT(weft_future_error_code(kids[2]), WEFT_EINVAL);
    CHECK_INT(weft_future_error_code(kids[3]), WEFT_ESTATE);
    for (int i = 0; i < 4; i++)
        weft_future_release(kids[i]);
    return NULL;
}

/* gather 4 [test_tasks.GatherTestsBase.test_return_exceptions] */
static void gather_return_exceptions_waits_for_all(void **state)
{
    (void)state;
    reset();
    run_ok(return_exceptions, NULL);
    teardown();
}

static void *wait_release_return(void *arg)
{
    int rc = weft_event_wait(&S.release);
    atomic_fetch_add(&S.cleaned_up, 1);
    if (rc == WEFT_OK)
        atomic_fetch_add(&S.proof, 1);
    return arg;
}

static void *gather_two_returning_exceptions(void *arg)
{
    (void)arg;
    S.status[1] = weft_gather(S.kids, 2, true, S.results);
    return NULL;
}

static void *child_cancelled(void *arg)
{
    (void)arg;
    for (int with = 0; with < 2; with++) {
        weft_future *a = spawn(wait_release_return, IPTR(1));
        weft_future *b = spawn(wait_release_return, IPTR(2));
        weft_future *kids[] = {a, b};
        yield_n(1);
        CHECK_STATUS(weft_loop_call_soon(weft_get_running_loop(), cancel_cb, b, NULL), WEFT_OK);
        if (!with) {
            CHECK_STATUS(weft_gather(kids, 2, false, S.results), WEFT_ECANCELLED);
            CHECK(!weft_future_done(a)); /* left running */
            CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
        } else {
            yield_n(2); /* b is cancelled and has ended */
            CHECK(weft_future_cancelled(b));
            CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
            /* in a task, bounded: a gather that missed the cancelled child
             * would wait forever */
            S.kids[0] = a;
            S.kids[1] = b;
            weft_future *g = spawn(gather_two_returning_exceptions, NULL);
            CHECK_STATUS(weft_wait_for(g, LONG_WAIT, NULL), WEFT_OK);
            weft_future_release(g);
            CHECK_STATUS(S.status[1], WEFT_OK);
            CHECK_INT(PINT(S.results[0]), 1);
            CHECK(S.results[1] == NULL);
        }
        CHECK(weft_future_cancelled(b));
        CHECK_INT(PINT(await_ok(a)), 1);
        /* the waiting task itself was not cancelled */
        CHECK_INT(weft_task_cancelling(weft_current_task()), 0);
        CHECK_STATUS(weft_sleep(0.001), WEFT_OK);
        CHECK_STATUS(weft_event_clear(&S.release), WEFT_OK);
        weft_future_release(a);
        weft_future_release(b);
    }
    return IPTR(77);
}

/* gather 5 [test_tasks.FutureGatherTests.test_one_cancellation,
 * test_result_exception_one_cancellation] [probe] */
static void gather_with_a_cancelled_child(void **state)
{
    (void)state;
    reset();
    assert_int_equal(PINT(run_ok(child_cancelled, NULL)), 77);
    teardown();
}

static void *gather_kids(void *arg)
{
    (void)arg;
    S.status[0] = weft_gather(S.kids, 3, S.return_exceptions, S.results);
    return IPTR(1);
}

static void *cancel_the_gatherer(void *arg)
{
    (void)arg;
    for (int with = 0; with < 2; with++) {
        S.return_exceptions = with;
        S.kids[0] = spawn(count_and_return, IPTR(5)); /* ends before the cancel */
        S.kids[1] = spawn(wait_release_return, IPTR(6));
        S.kids[2] = spawn(wait_release_return, IPTR(7));
        weft_future *g = spawn(gather_kids, NULL);
        yield_n(3);
        CHECK(weft_future_done(S.kids[0]));
        CHECK(weft_task_cancel(g, NULL));
        CHECK_STATUS(weft_future_result(g, NULL), WEFT_ECANCELLED);
        CHECK_STATUS(S.status[0], WEFT_ECANCELLED); /* whatever return_exceptions */
        CHECK(!weft_future_cancelled(S.kids[0]));
        CHECK_STATUS(await_status(S.kids[1], NULL), WEFT_ECANCELLED);
        CHECK_STATUS(await_status(S.kids[2], NULL), WEFT_ECANCELLED);
        for (int i = 0; i < 3; i++)
            weft_future_release(S.kids[i]);
        weft_future_release(g);
    }
    return NULL;
}

/* gather 6 [test_tasks.CoroutineGatherTests.test_cancellation_broadcast,
 * BaseTaskTests.test_gather_shield] [doc] [probe] */
static void cancelled_gather_cancels_unfinished_children(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_the_gatherer, NULL);
    teardown();
}

static void *sleep_then_proof(void *arg)
{
    (void)arg;
    if (weft_sleep(0.05) == WEFT_OK)
        atomic_fetch_add(&S.proof, 1);
    return NULL;
}

static void *gather_sleepers(void *arg)
{
    (void)arg;
    weft_future *kids[] = {spawn(sleep_then_proof, NULL), spawn(sleep_then_proof, NULL)};
    S.kids[0] = kids[0];
    S.kids[1] = kids[1];
    S.status[0] = weft_gather(kids, 2, false, NULL);
    return IPTR(1);
}

static void *cancel_task_in_gather(void *arg)
{
    (void)arg;
    weft_future *g = spawn(gather_sleepers, NULL);
    yield_n(2);
    CHECK(weft_task_cancel(g, NULL));
    CHECK_STATUS(weft_future_result(g, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(g));
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_STATUS(weft_sleep(0.1), WEFT_OK); /* past the children's sleep */
    CHECK_INT(atomic_load(&S.proof), 0);
    CHECK(weft_future_cancelled(S.kids[0]) && weft_future_cancelled(S.kids[1]));
    CHECK(!weft_task_cancel(g, NULL)); /* afterwards: false */
    weft_future_release(S.kids[0]);
    weft_future_release(S.kids[1]);
    weft_future_release(g);
    return NULL;
}

/* gather 7 [test_tasks.CoroutineGatherTests.test_cancellation_broadcast] */
static void task_cancelled_in_gather_ends_cancelled(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_task_in_gather, NULL);
    teardown();
}

static void *short_sleep(void *arg)
{
    (void)arg;
    (void)weft_sleep(0.01);
    return NULL;
}

static void *loop_on_gather(void *arg)
{
    (void)arg;
    for (int i = 0; i < 300; i++) { /* 3 s at most */
        weft_future *child = spawn(short_sleep, NULL);
        int rc = weft_gather(&child, 1, true, NULL);
        weft_future_release(child);
        if (rc != WEFT_OK)
            break;
        atomic_fetch_add(&S.ran, 1);
    }
    return IPTR(1);
}

static void *cancel_gather_loop(void *arg)
{
    (void)arg;
    weft_future *g = spawn(loop_on_gather, NULL);
    CHECK_STATUS(weft_sleep(0.05), WEFT_OK);
    CHECK(weft_task_cancel(g, "my msg"));
    CHECK_STATUS(await_status(g, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(g));
    CHECK_STR(weft_future_error_message(g), "my msg");
    CHECK(atomic_load(&S.ran) < 300);
    weft_future_release(g);
    return NULL;
}

/* gather 9 [test_tasks.BaseTaskTests.test_cancel_gather_2] (return_exceptions does not
 * swallow the waiting task's own cancellation) */
static void gather_return_exceptions_keeps_outer_cancel(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_gather_loop, NULL);
    teardown();
}

static void *set_plain_later(void *arg)
{
    (void)arg;
    (void)weft_sleep(0.02);
    CHECK_STATUS(weft_future_set_result(S.plain, IPTR(8)), WEFT_OK);
    return NULL;
}

static void *bad_and_mixed(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_gather(NULL, 2, false, NULL), WEFT_EINVAL);
    weft_future *t = spawn(count_and_return, IPTR(9));
    weft_future *with_null[] = {t, NULL};
    CHECK_STATUS(weft_gather(with_null, 2, false, S.results), WEFT_EINVAL);
    /* futures from anywhere: a task and a promise completed by a thread */
    S.plain = promise();
    CHECK_INT(pthread_create(&S.thread, NULL, set_plain_later, NULL), 0);
    weft_future *mixed[] = {t, S.plain};
    CHECK_STATUS(weft_gather(mixed, 2, false, S.results), WEFT_OK);
    CHECK_INT(PINT(S.results[0]), 9);
    CHECK_INT(PINT(S.results[1]), 8);
    pthread_join(S.thread, NULL);
    weft_future_release(t);
    weft_future_release(S.plain);
    return NULL;
}

/* gather 10 [test_tasks.FutureGatherTests.test_constructor_heterogenous_futures,
 * CoroutineGatherTests.test_issue46672] (bad arguments; futures of other threads are fine
 * in weft by design) */
static void gather_bad_arguments_and_foreign_futures(void **state)
{
    (void)state;
    reset();
    run_ok(bad_and_mixed, NULL);
    teardown();
}

static void *from_a_thread(void *arg)
{
    (void)arg;
    weft_future *list[] = {S.plain, S.plain};
    void *results[2] = {0, 0};
    CHECK_STATUS(weft_gather(list, 2, false, results), WEFT_OK);
    CHECK_INT(PINT(results[0]), 8);
    CHECK_INT(PINT(results[1]), 8);
    return NULL;
}

static void *complete_plain(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0.02), WEFT_OK);
    CHECK_STATUS(weft_future_set_result(S.plain, IPTR(8)), WEFT_OK);
    return NULL;
}

/* gather 1 from a thread: weft_gather also serves threads (weft/coro.h,
 * "waiting on tasks"), here on a future a coroutine completes. */
static void gather_from_a_thread(void **state)
{
    (void)state;
    reset();
    assert_int_equal(weft_future_new(&S.plain), WEFT_OK);
    checks_reset();
    assert_int_equal(pthread_create(&S.thread, NULL, from_a_thread, NULL), 0);
    weft_loop_options options = test_loop_options();
    assert_int_equal(weft_run(complete_plain, NULL, &options, NULL), WEFT_OK);
    pthread_join(S.thread, NULL);
    assert_checks_passed();
    weft_future_release(S.plain);
    teardown();
}

static void *stress_child(void *arg)
{
    intptr_t i = (intptr_t)arg;
    for (int k = 0; k < (int)(i % 4); k++)
        if (weft_sleep(0) != WEFT_OK)
            return weft_fail(WEFT_ESTATE, "sleep(0)");
    if (i % 97 == 0)
        return weft_fail(WEFT_EINVAL, "child %d", (int)i);
    return IPTR(i * 2);
}

static void *stress_gather(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < STRESS_CHILDREN; i++)
        S.stress[i] = spawn(stress_child, IPTR(i));
    CHECK_STATUS(weft_gather(S.stress, STRESS_CHILDREN, true, S.stress_results), WEFT_OK);
    for (intptr_t i = 0; i < STRESS_CHILDREN; i++) {
        if (i % 97 == 0) {
            CHECK(S.stress_results[i] == NULL);
            CHECK_INT(weft_future_error_code(S.stress[i]), WEFT_EINVAL);
        } else {
            CHECK(S.stress_results[i] == IPTR(i * 2));
        }
    }
    /* and again without return_exceptions: the first failure, all done */
    CHECK_STATUS(weft_gather(S.stress, STRESS_CHILDREN, false, NULL), WEFT_EFAILED);
    for (intptr_t i = 0; i < STRESS_CHILDREN; i++)
        weft_future_release(S.stress[i]);
    return NULL;
}

/* gather 1, 4 under load: a thousand children finishing in every order. */
static void stress_gather_many(void **state)
{
    (void)state;
    reset();
    for (int round = 0; round < 3; round++)
        run_ok(stress_gather, NULL);
    teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gather_results_in_argument_order),
        cmocka_unit_test(gather_of_nothing_and_of_duplicates),
        cmocka_unit_test(gather_returns_at_the_first_failure),
        cmocka_unit_test(gather_return_exceptions_waits_for_all),
        cmocka_unit_test(gather_with_a_cancelled_child),
        cmocka_unit_test(cancelled_gather_cancels_unfinished_children),
        cmocka_unit_test(task_cancelled_in_gather_ends_cancelled),
        cmocka_unit_test(gather_return_exceptions_keeps_outer_cancel),
        cmocka_unit_test(gather_bad_arguments_and_foreign_futures),
        cmocka_unit_test(gather_from_a_thread),
        cmocka_unit_test(stress_gather_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
