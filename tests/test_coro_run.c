/* SPDX-License-Identifier: MIT */
/* test_coro_run.c — weft_run and the Runner-like loop calls (weft_loop_new,
 * weft_loop_run, weft_loop_close, weft_loop_free) against
 * asyncio's behaviours (docs/python.md), section "asyncio.run / Runner".  Each test's
 * comment names the item ("Runner 4") and the CPython test it comes from;
 * the items that do not apply to C are listed in docs/python.md. */
#include "test_coro_a_util.h"

/* State shared between the coroutines of one test (static: see
 * test_coro_a_util.h, "Stack modes"). */
static struct {
    atomic_int ran, cleaned_up, counter, steps_in_second_run;
    int sleep_status, second_status, to_thread_status;
    weft_future *task;
    weft_task_fn leftover;
    weft_loop *loop, *seen_loop[2];
    atomic_int worker_done;
    int worker_done_at_cleanup;
} S;

static void reset(void)
{
    memset(&S, 0, sizeof S);
}

static void *return_42_after_yield(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return IPTR(42);
}

static void *fail_spam(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return weft_fail(WEFT_EINVAL, "spam");
}

static void *fail_without_code(void *arg)
{
    (void)arg;
    return weft_fail(0, "spam");
}

static void *count_run(void *arg)
{
    (void)arg;
    atomic_fetch_add(&S.ran, 1);
    return IPTR(1);
}

/* Runner 1 [test_runners.RunTests.test_asyncio_run_return, test_asyncio_run_raises] */
static void run_returns_result_or_failure(void **state)
{
    (void)state;
    reset();
    assert_int_equal(PINT(run_ok(return_42_after_yield, NULL)), 42);
    void *result = IPTR(1);
    assert_int_equal(run_status(fail_spam, NULL, &result), WEFT_EINVAL);
    assert_null(result);
    assert_int_equal(run_status(fail_without_code, NULL, NULL), WEFT_EFAILED);
    /* result may be NULL */
    assert_int_equal(run_status(return_42_after_yield, NULL, NULL), WEFT_OK);
}

/* Runner 2 [test_runners.RunTests.test_asyncio_run_only_coro, RunnerTests.test_run_non_coro,
 * test_run_future] (C's form: a NULL main, a bad option; types are C's) */
static void run_rejects_missing_main_and_bad_options(void **state)
{
    (void)state;
    reset();
    assert_int_equal(weft_run(NULL, NULL, NULL, NULL), WEFT_EINVAL);
    weft_loop_options bad = WEFT_LOOP_OPTIONS_INIT;
    bad.stack_mode = (weft_stack_mode)99;
    assert_int_equal(weft_run(count_run, NULL, &bad, NULL), WEFT_EINVAL);
    weft_loop *loop = NULL;
    assert_int_equal(weft_loop_new(&bad, &loop), WEFT_EINVAL);
    assert_null(loop);
    assert_int_equal(weft_loop_new(NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_loop_new(NULL, &loop), WEFT_OK);
    assert_int_equal(weft_loop_run(loop, NULL, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_loop_run(NULL, count_run, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(atomic_load(&S.ran), 0);
    /* the loop is still usable after the refusals */
    assert_int_equal(weft_loop_run(loop, count_run, NULL, NULL), WEFT_OK);
    assert_int_equal(atomic_load(&S.ran), 1);
    assert_int_equal(weft_loop_close(loop), WEFT_OK);
    assert_int_equal(weft_loop_free(loop), WEFT_OK);
}

static void *nested_run_main(void *arg)
{
    (void)arg;
    void *result = IPTR(7);
    CHECK_STATUS(weft_run(count_run, NULL, NULL, &result), WEFT_ESTATE);
    CHECK(result == NULL);
    /* Runner.run() inside its own loop */
    CHECK_STATUS(weft_loop_run(weft_get_running_loop(), count_run, NULL, NULL), WEFT_ESTATE);
    /* a second, idle loop inside a task of the running one */
    CHECK_STATUS(weft_loop_run(S.loop, count_run, NULL, NULL), WEFT_ESTATE);
    return IPTR(5);
}

static void *nested_loop_run_main(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_loop_run(S.loop, count_run, NULL, NULL), WEFT_ESTATE);
    CHECK_STATUS(weft_run(count_run, NULL, NULL, NULL), WEFT_ESTATE);
    return IPTR(6);
}

/* Runner 3 [test_runners.RunTests.test_asyncio_run_from_running_loop,
 * RunnerTests.test_recursive_run, test_events.EventLoopTestsMixin.test_run_until_complete_nesting,
 * test_base_events.RunningLoopTests.test_running_loop_within_a_loop] */
static void run_inside_a_running_loop_is_refused(void **state)
{
    (void)state;
    reset();
    assert_int_equal(weft_loop_new(NULL, &S.loop), WEFT_OK);
    assert_int_equal(PINT(run_ok(nested_run_main, NULL)), 5);
    assert_int_equal(atomic_load(&S.ran), 0);
    /* the same refusals inside a Runner-style loop */
    weft_loop *outer = NULL;
    weft_loop_options options = test_loop_options();
    assert_int_equal(weft_loop_new(&options, &outer), WEFT_OK);
    void *result = NULL;
    checks_reset();
    assert_int_equal(weft_loop_run(outer, nested_loop_run_main, NULL, &result), WEFT_OK);
    assert_checks_passed();
    assert_int_equal(PINT(result), 6);
    assert_int_equal(atomic_load(&S.ran), 0);
    assert_int_equal(weft_loop_close(outer), WEFT_OK);
    assert_int_equal(weft_loop_free(outer), WEFT_OK);
    assert_int_equal(weft_loop_close(S.loop), WEFT_OK);
    assert_int_equal(weft_loop_free(S.loop), WEFT_OK);
}

static void *hanging_sleeper(void *arg)
{
    (void)arg;
    S.sleep_status = weft_sleep(LONG_WAIT);
    atomic_store(&S.cleaned_up, 1); /* `except CancelledError` / `finally` */
    return NULL;
}

static void *hanging_sleeper_failing(void *arg)
{
    (void)arg;
    S.sleep_status = weft_sleep(LONG_WAIT);
    atomic_store(&S.cleaned_up, 1);
    return fail_in_cleanup(WEFT_EINVAL, "division by zero");
}

static void *leave_a_task_behind(void *arg)
{
    (void)arg;
    S.task = spawn(S.leftover, NULL);
    CHECK_STATUS(weft_sleep(0.01), WEFT_OK); /* it is now in its sleep */
    return IPTR(123);
}

/* Runner 4 [test_runners.RunTests.test_asyncio_run_cancels_hanging_tasks,
 * test_asyncio_run_reports_hanging_tasks_errors] */
static void run_cancels_leftover_tasks(void **state)
{
    (void)state;
    for (int failing = 0; failing < 2; failing++) {
        reset();
        double t0 = weft_monotonic();
        S.leftover = failing ? hanging_sleeper_failing : hanging_sleeper;
        assert_int_equal(PINT(run_ok(leave_a_task_behind, NULL)), 123);
        assert_true(weft_monotonic() - t0 < SOON);
        assert_int_equal(atomic_load(&S.cleaned_up), 1);
        assert_int_equal(S.sleep_status, WEFT_ECANCELLED);
        assert_true(weft_future_done(S.task));
        if (!failing)
            assert_true(weft_future_cancelled(S.task));
        weft_future_release(S.task);
    }
}

static void *slow_cleanup(void *arg)
{
    (void)arg;
    S.sleep_status = weft_sleep(LONG_WAIT);
    /* the shutdown's cancel is one request: this second wait is not cut */
    S.second_status = weft_sleep(0.1);
    atomic_store(&S.cleaned_up, 1);
    return NULL;
}

/* Runner 5 [probe] [src] */
static void run_waits_for_leftover_cleanup_and_cancels_once(void **state)
{
    (void)state;
    reset();
    S.leftover = slow_cleanup;
    double t0 = weft_monotonic();
    assert_int_equal(PINT(run_ok(leave_a_task_behind, NULL)), 123);
    double dt = weft_monotonic() - t0;
    assert_int_equal(S.sleep_status, WEFT_ECANCELLED);
    assert_int_equal(S.second_status, WEFT_OK);
    assert_int_equal(atomic_load(&S.cleaned_up), 1);
    assert_true(dt >= 0.06 && dt < SOON);
    assert_true(weft_future_done(S.task));
    weft_future_release(S.task);
}

static void *slow_worker(void *arg)
{
    (void)arg;
    (void)weft_sleep(0.3); /* a pool thread: not cut by the cancel */
    atomic_store(&S.worker_done, 1);
    return IPTR(3);
}

static void *to_thread_then_cleanup(void *arg)
{
    (void)arg;
    S.to_thread_status = weft_to_thread(slow_worker, NULL, NULL);
    S.worker_done_at_cleanup = atomic_load(&S.worker_done);
    atomic_store(&S.cleaned_up, 1);
    return NULL;
}

static void *leave_a_thread_job_behind(void *arg)
{
    (void)arg;
    S.task = spawn(to_thread_then_cleanup, NULL);
    CHECK_STATUS(weft_sleep(0.05), WEFT_OK); /* the job is running */
    return IPTR(9);
}

/* Runner 6 [doc] [src] [probe]: cancel the tasks, then shut the default
 * executor down (waiting for its job), then close */
static void run_teardown_cancels_then_waits_for_executor(void **state)
{
    (void)state;
    reset();
    double t0 = weft_monotonic();
    assert_int_equal(PINT(run_ok(leave_a_thread_job_behind, NULL)), 9);
    double dt = weft_monotonic() - t0;
    assert_int_equal(S.to_thread_status, WEFT_ECANCELLED);
    assert_int_equal(atomic_load(&S.cleaned_up), 1);
    assert_int_equal(S.worker_done_at_cleanup, 0); /* tasks first ... */
    assert_int_equal(atomic_load(&S.worker_done), 1); /* ... then the pool */
    assert_true(dt >= 0.6 * 0.3 && dt < SOON);
    weft_future_release(S.task);
}

/* Runner 7 [test_runners.RunTests.test_asyncio_run_debug, RunnerTests.test_debug,
 * test_non_debug] (only the option: weft has no get_debug) */
static void run_with_debug_option(void **state)
{
    (void)state;
    reset();
    weft_loop_options options = test_loop_options();
    options.debug = true;
    options.slow_callback_duration = 10; /* nothing here is slow */
    void *result = NULL;
    checks_reset();
    assert_int_equal(weft_run(return_42_after_yield, NULL, &options, &result), WEFT_OK);
    assert_checks_passed();
    assert_int_equal(PINT(result), 42);
}

static void *record_loop(void *arg)
{
    S.seen_loop[(intptr_t)arg] = weft_get_running_loop();
    CHECK(weft_current_task() != NULL);
    return IPTR(8);
}

/* Runner 8 [test_runners.RunTests.test_asyncio_run_loop_factory] (weft_loop_new is the
 * factory: main runs on the loop given to weft_loop_run) */
static void loop_run_runs_main_on_that_loop(void **state)
{
    (void)state;
    reset();
    weft_loop_options options = test_loop_options();
    assert_int_equal(weft_loop_new(&options, &S.loop), WEFT_OK);
    void *result = NULL;
    checks_reset();
    assert_int_equal(weft_loop_run(S.loop, record_loop, IPTR(0), &result), WEFT_OK);
    assert_checks_passed();
    assert_int_equal(PINT(result), 8);
    assert_ptr_equal(S.seen_loop[0], S.loop);
    assert_null(weft_get_running_loop());
    assert_int_equal(weft_loop_close(S.loop), WEFT_OK);
    assert_int_equal(weft_loop_free(S.loop), WEFT_OK);
}

static void *background_counter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        if (weft_sleep(0.005) != WEFT_OK)
            break;
        atomic_fetch_add(&S.counter, 1);
    }
    atomic_store(&S.cleaned_up, 1);
    return NULL;
}

static void *first_run(void *arg)
{
    (void)arg;
    S.seen_loop[0] = weft_get_running_loop();
    S.task = spawn(background_counter, NULL);
    CHECK_STATUS(weft_sleep(0.02), WEFT_OK);
    return IPTR(1);
}

static void *second_run(void *arg)
{
    (void)arg;
    S.seen_loop[1] = weft_get_running_loop();
    CHECK(!weft_future_done(S.task)); /* not cancelled between the runs */
    int before = atomic_load(&S.counter);
    CHECK_STATUS(weft_sleep(0.1), WEFT_OK);
    atomic_store(&S.steps_in_second_run, atomic_load(&S.counter) - before);
    return IPTR(2);
}

/* Runner 9 [test_runners.RunnerTests.test_run] [probe] */
static void loop_runs_several_mains_and_keeps_tasks(void **state)
{
    (void)state;
    reset();
    weft_loop_options options = test_loop_options();
    assert_int_equal(weft_loop_new(&options, &S.loop), WEFT_OK);
    void *r1 = NULL, *r2 = NULL;
    checks_reset();
    assert_int_equal(weft_loop_run(S.loop, first_run, NULL, &r1), WEFT_OK);
    assert_int_equal(weft_loop_run(S.loop, second_run, NULL, &r2), WEFT_OK);
    assert_checks_passed();
    assert_int_equal(PINT(r1), 1);
    assert_int_equal(PINT(r2), 2);
    assert_ptr_equal(S.seen_loop[0], S.loop);
    assert_ptr_equal(S.seen_loop[1], S.loop);
    assert_true(atomic_load(&S.steps_in_second_run) > 0); /* it made progress */
    assert_false(weft_future_done(S.task));
    assert_int_equal(weft_loop_close(S.loop), WEFT_OK); /* cancels it */
    assert_true(weft_future_cancelled(S.task));
    assert_int_equal(atomic_load(&S.cleaned_up), 1);
    assert_int_equal(weft_loop_free(S.loop), WEFT_OK);
    weft_future_release(S.task);
}

static void *leave_background(void *arg)
{
    (void)arg;
    S.task = spawn(background_counter, NULL);
    return NULL;
}

/* Runner 10 [test_runners.RunnerTests.test_run, test_explicit_close, test_double_close,
 * test_second_with_block_raises] */
static void closed_loop_cannot_run(void **state)
{
    (void)state;
    reset();
    weft_loop_options options = test_loop_options();
    assert_int_equal(weft_loop_new(&options, &S.loop), WEFT_OK);
    checks_reset();
    assert_int_equal(weft_loop_run(S.loop, leave_background, NULL, NULL), WEFT_OK);
    assert_checks_passed();
    /* a task not ended: free refuses, nothing freed */
    assert_int_equal(weft_loop_free(S.loop), WEFT_ESTATE);
    assert_int_equal(weft_loop_close(S.loop), WEFT_OK);
    assert_int_equal(weft_loop_close(S.loop), WEFT_OK); /* a no-op */
    assert_true(weft_future_cancelled(S.task));
    void *result = IPTR(1);
    assert_int_equal(weft_loop_run(S.loop, count_run, NULL, &result), WEFT_ESTATE);
    assert_null(result);
    assert_int_equal(atomic_load(&S.ran), 0); /* the body never runs */
    assert_int_equal(weft_loop_free(S.loop), WEFT_OK);
    assert_int_equal(weft_loop_free(NULL), WEFT_OK);
    weft_future_release(S.task);
}

static void *outside_observer(void *arg)
{
    (void)arg;
    CHECK(weft_get_running_loop() == NULL);
    CHECK(weft_current_task() == NULL);
    return NULL;
}

/* Runner 14 [test_tasks.BaseCurrentLoopTests.test_current_task_no_running_loop_implicit]
 * (NULL where Python raises) */
static void no_running_loop_outside(void **state)
{
    (void)state;
    reset();
    checks_reset();
    assert_null(weft_get_running_loop());
    assert_null(weft_current_task());
    pthread_t thread; /* and on a thread that never ran a loop */
    assert_int_equal(pthread_create(&thread, NULL, outside_observer, NULL), 0);
    pthread_join(thread, NULL);
    assert_checks_passed();
    assert_int_equal(PINT(run_ok(record_loop, IPTR(0))), 8);
    assert_non_null(S.seen_loop[0]);
    assert_null(weft_get_running_loop()); /* gone once run returned */
    assert_null(weft_current_task());
}

static void noop_cb(void *arg) { (void)arg; }

static void *close_from_inside(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_loop_close(weft_get_running_loop()), WEFT_ESTATE);
    CHECK_STATUS(weft_loop_free(weft_get_running_loop()), WEFT_ESTATE);
    return IPTR(4);
}

/* Runner 16 [test_base_events.BaseEventLoopTests.test_close,
 * test_events.EventLoopTestsMixin.test_close_running_event_loop] */
static void close_is_idempotent_and_refused_inside(void **state)
{
    (void)state;
    reset();
    weft_loop_options options = test_loop_options();
    assert_int_equal(weft_loop_new(&options, &S.loop), WEFT_OK);
    void *result = NULL;
    checks_reset();
    assert_int_equal(weft_loop_run(S.loop, close_from_inside, NULL, &result), WEFT_OK);
    assert_checks_passed();
    assert_int_equal(PINT(result), 4);
    assert_int_equal(weft_loop_close(S.loop), WEFT_OK);
    assert_int_equal(weft_loop_close(S.loop), WEFT_OK);
    assert_int_equal(weft_loop_run(S.loop, count_run, NULL, NULL), WEFT_ESTATE);
    weft_handle *handle = (weft_handle *)&S; /* must be reset to NULL */
    assert_int_equal(weft_loop_call_soon(S.loop, noop_cb, NULL, &handle), WEFT_ESTATE);
    assert_null(handle);
    assert_int_equal(weft_loop_call_later(S.loop, 0.01, noop_cb, NULL, NULL), WEFT_ESTATE);
    assert_int_equal(weft_loop_call_at(S.loop, 0, noop_cb, NULL, NULL), WEFT_ESTATE);
    assert_int_equal(weft_loop_call_soon_threadsafe(S.loop, noop_cb, NULL), WEFT_ESTATE);
    weft_future *f = NULL;
    assert_int_equal(weft_run_coroutine_threadsafe(S.loop, count_run, NULL, NULL, &f),
                     WEFT_ESTATE);
    assert_null(f);
    assert_int_equal(atomic_load(&S.ran), 0);
    assert_int_equal(weft_loop_free(S.loop), WEFT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_returns_result_or_failure),
        cmocka_unit_test(run_rejects_missing_main_and_bad_options),
        cmocka_unit_test(run_inside_a_running_loop_is_refused),
        cmocka_unit_test(run_cancels_leftover_tasks),
        cmocka_unit_test(run_waits_for_leftover_cleanup_and_cancels_once),
        cmocka_unit_test(run_teardown_cancels_then_waits_for_executor),
        cmocka_unit_test(run_with_debug_option),
        cmocka_unit_test(loop_run_runs_main_on_that_loop),
        cmocka_unit_test(loop_runs_several_mains_and_keeps_tasks),
        cmocka_unit_test(closed_loop_cannot_run),
        cmocka_unit_test(no_running_loop_outside),
        cmocka_unit_test(close_is_idempotent_and_refused_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
