/* SPDX-License-Identifier: MIT */
/* test_coro_a_wait.c — weft_wait, weft_wait_for and as_completed used by
 * coroutines on tasks, against asyncio's behaviours (docs/python.md), section "wait /
 * wait_for / as_completed".  Each test's comment names the item ("wait 8")
 * and the CPython test it comes from; the items that do not apply to C are
 * listed in docs/python.md.  weft_wait and as_completed are
 * concurrent.futures' (weft/future.h): where asyncio returns sets with no
 * error after a timeout, weft says WEFT_ETIMEDOUT and fills done[]. */
#include "test_coro_a_util.h"

static struct {
    weft_event release, release2;
    atomic_int proof, cleaned_up, ran;
    int status[4];
    double elapsed;
    weft_future *inner, *fut;
    bool reached_end;
    weft_lock lock;
    weft_condition cond;
    bool lock_held_after;
} S;

static void reset(void)
{
    memset(&S, 0, sizeof S);
    assert_int_equal(weft_event_init(&S.release), WEFT_OK);
    assert_int_equal(weft_event_init(&S.release2), WEFT_OK);
}

static void teardown(void)
{
    weft_event_destroy(&S.release);
    weft_event_destroy(&S.release2);
}

static void *sleep_return(void *arg)
{
    /* arg: milliseconds to sleep, returned */
    CHECK_STATUS(weft_sleep((double)(intptr_t)arg / 1000.0), WEFT_OK);
    atomic_fetch_add(&S.proof, 1);
    return arg;
}

static void *wait_release(void *arg)
{
    int rc = weft_event_wait(&S.release);
    atomic_fetch_add(&S.cleaned_up, 1);
    return rc == WEFT_OK ? arg : IPTR(-1);
}

static void *fail_after(void *arg)
{
    if ((intptr_t)arg > 0)
        CHECK_STATUS(weft_sleep((double)(intptr_t)arg / 1000.0), WEFT_OK);
    return weft_fail(WEFT_EINVAL, "b");
}

static void *wait_all(void *arg)
{
    (void)arg;
    weft_future *b = spawn(sleep_return, IPTR(60)), *a = spawn(sleep_return, IPTR(20));
    weft_future *fs[] = {b, a};
    bool done[2] = {false, false};
    double t0 = weft_monotonic();
    CHECK_STATUS(weft_wait(fs, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), WEFT_OK);
    double dt = weft_monotonic() - t0;
    CHECK(done[0] && done[1]);
    CHECK(dt >= 0.6 * 0.06 && dt < SOON); /* the later of the two */
    /* again, on finished tasks: at once */
    t0 = weft_monotonic();
    CHECK_STATUS(weft_wait(fs, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), WEFT_OK);
    CHECK(weft_monotonic() - t0 < IMMEDIATE);
    /* a cancelled task is done too (bounded: a wait that does not see it
     * as done times out) */
    weft_future *c = spawn(wait_release, IPTR(3));
    yield_n(1);
    CHECK(weft_task_cancel(c, NULL));
    weft_future *gs[] = {a, c};
    CHECK_STATUS(weft_wait(gs, 2, LONG_WAIT, WEFT_ALL_COMPLETED, done), WEFT_OK);
    CHECK(done[0] && done[1]);
    CHECK(weft_future_cancelled(c));
    weft_future_release(a);
    weft_future_release(b);
    weft_future_release(c);
    return NULL;
}

/* wait 1 [test_tasks.BaseTaskTests.test_wait, test_wait_with_iterator_of_tasks,
 * test_wait_generator] */
static void wait_all_completed(void **state)
{
    (void)state;
    reset();
    run_ok(wait_all, NULL);
    teardown();
}

static void *wait_bad(void *arg)
{
    (void)arg;
    weft_future *c = spawn(sleep_return, IPTR(1)), *other = spawn(wait_release, IPTR(2));
    /* an unknown return_when, when it would have to wait */
    bool d[3] = {true, true, true};
    CHECK_STATUS(weft_wait(&other, 1, WEFT_FOREVER, (weft_return_when)99, d), WEFT_EINVAL);
    CHECK(!d[0]);
    CHECK_STATUS(weft_wait(NULL, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL), WEFT_EINVAL);
    weft_future *with_null[] = {c, NULL};
    CHECK_STATUS(weft_wait(with_null, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL), WEFT_EINVAL);
    CHECK_STATUS(weft_wait(&c, 1, NAN, WEFT_ALL_COMPLETED, NULL), WEFT_EINVAL);
    /* duplicates collapse: [c, c, other] */
    weft_future *dup[] = {c, c, other};
    CHECK_STATUS(weft_wait(dup, 3, WEFT_FOREVER, WEFT_FIRST_COMPLETED, d), WEFT_OK);
    CHECK(d[0] && d[1] && !d[2]);
    /* the empty set: concurrent.futures' answer (asyncio's is ValueError) */
    CHECK_STATUS(weft_wait(NULL, 0, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    await_ok(other);
    weft_future_release(c);
    weft_future_release(other);
    return NULL;
}

/* wait 2 [test_tasks.BaseTaskTests.test_wait_errors, test_wait_invalid_args,
 * test_wait_duplicate_coroutines] [probe] */
static void wait_bad_arguments_and_duplicates(void **state)
{
    (void)state;
    reset();
    run_ok(wait_bad, NULL);
    teardown();
}

static void *sleep_then_yield(void *arg)
{
    CHECK_STATUS(weft_sleep(0.02), WEFT_OK);
    CHECK_STATUS(weft_sleep(0), WEFT_OK); /* one iteration after b */
    return arg;
}

static void *first_completed(void *arg)
{
    (void)arg;
    weft_future *b = spawn(sleep_return, IPTR(20)), *a = spawn(wait_release, IPTR(1));
    weft_future *fs[] = {b, a};
    bool done[2] = {false, true};
    CHECK_STATUS(weft_wait(fs, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done), WEFT_OK);
    CHECK(done[0] && !done[1]);
    CHECK(!weft_future_done(a) && !weft_future_cancelled(a)); /* still running */
    CHECK_INT(weft_task_cancelling(a), 0);
    /* tasks ending in consecutive iterations: done[] is what is done */
    weft_future *c = spawn(sleep_return, IPTR(20)), *e = spawn(sleep_then_yield, IPTR(2));
    weft_future *gs[] = {c, e, a};
    bool d3[3];
    CHECK_STATUS(weft_wait(gs, 3, WEFT_FOREVER, WEFT_FIRST_COMPLETED, d3), WEFT_OK);
    CHECK(d3[0]);
    for (int i = 0; i < 3; i++) /* no suspension since: still true */
        CHECK(d3[i] == weft_future_done(gs[i]));
    CHECK(!d3[2]);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    await_ok(a);
    await_ok(e);
    weft_future *all[] = {a, b, c, e};
    for (int i = 0; i < 4; i++)
        weft_future_release(all[i]);
    return NULL;
}

/* wait 3 [test_tasks.BaseTaskTests.test_wait_first_completed, test_wait_really_done] */
static void wait_first_completed(void **state)
{
    (void)state;
    reset();
    run_ok(first_completed, NULL);
    teardown();
}

static void *first_exception(void *arg)
{
    (void)arg;
    /* already failed: at once */
    weft_future *b = spawn(fail_after, IPTR(0)), *a = spawn(wait_release, IPTR(1));
    yield_n(2);
    CHECK(weft_future_done(b));
    weft_future *fs[] = {b, a};
    bool done[2];
    double t0 = weft_monotonic();
    CHECK_STATUS(weft_wait(fs, 2, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done), WEFT_OK);
    CHECK(weft_monotonic() - t0 < IMMEDIATE);
    CHECK(done[0] && !done[1]);
    weft_future_release(b);
    /* failing while waited on */
    b = spawn(fail_after, IPTR(20));
    fs[0] = b;
    t0 = weft_monotonic();
    CHECK_STATUS(weft_wait(fs, 2, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done), WEFT_OK);
    CHECK(weft_monotonic() - t0 < SOON);
    CHECK(done[0] && !done[1]);
    weft_future_release(b);
    /* none failing: as ALL_COMPLETED */
    weft_future *c = spawn(sleep_return, IPTR(10)), *e = spawn(sleep_return, IPTR(40));
    weft_future *gs[] = {c, e};
    CHECK_STATUS(weft_wait(gs, 2, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done), WEFT_OK);
    CHECK(done[0] && done[1]);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    await_ok(a);
    weft_future_release(a);
    weft_future_release(c);
    weft_future_release(e);
    return NULL;
}

/* wait 4 [test_tasks.BaseTaskTests.test_wait_first_exception,
 * test_wait_first_exception_in_wait] [doc] */
static void wait_first_exception(void **state)
{
    (void)state;
    reset();
    run_ok(first_exception, NULL);
    teardown();
}

static void *wait_timeout(void *arg)
{
    (void)arg;
    weft_future *b = spawn(wait_release, IPTR(1)), *a = spawn(sleep_return, IPTR(10));
    weft_future *fs[] = {b, a};
    bool done[2];
    double t0 = weft_monotonic();
    CHECK_STATUS(weft_wait(fs, 2, 0.1, WEFT_ALL_COMPLETED, done), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    CHECK(dt >= 0.6 * 0.1 && dt < SOON);
    CHECK(!done[0] && done[1]);
    CHECK(!weft_future_done(b) && weft_task_cancelling(b) == 0); /* not cancelled */
    /* timeout 0: a snapshot */
    t0 = weft_monotonic();
    CHECK_STATUS(weft_wait(fs, 2, 0, WEFT_ALL_COMPLETED, done), WEFT_ETIMEDOUT);
    CHECK(weft_monotonic() - t0 < IMMEDIATE);
    CHECK(!done[0] && done[1]);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(b)), 1);
    weft_future_release(a);
    weft_future_release(b);
    return NULL;
}

/* wait 5 [test_tasks.BaseTaskTests.test_wait_with_timeout, test_wait_concurrent_complete]
 * [probe] */
static void wait_with_timeout(void **state)
{
    (void)state;
    reset();
    run_ok(wait_timeout, NULL);
    teardown();
}

static void *waits_on_inner(void *arg)
{
    (void)arg;
    S.status[0] = weft_wait(&S.inner, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL);
    return NULL;
}

static void *wait_not_shielding(void *arg)
{
    (void)arg;
    S.inner = spawn(sleep_return, IPTR(50));
    weft_future *w = spawn(waits_on_inner, NULL);
    yield_n(2);
    CHECK(weft_task_cancel(w, NULL));
    CHECK_STATUS(weft_future_result(w, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(!weft_future_cancelled(S.inner));
    CHECK_INT(PINT(await_ok(S.inner)), 50); /* inner still finishes */
    CHECK_INT(atomic_load(&S.proof), 1);
    weft_future_release(w);
    weft_future_release(S.inner);
    return NULL;
}

/* wait 6 [test_tasks.BaseTaskTests.test_yield_wait_does_not_shield_cancel] [probe] */
static void cancelled_wait_leaves_the_tasks_alone(void **state)
{
    (void)state;
    reset();
    run_ok(wait_not_shielding, NULL);
    teardown();
}

static void set_fut_cb(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_future_set_result(S.fut, "ok"), WEFT_OK);
}

static void *wait_for_plain(void *arg)
{
    (void)arg;
    weft_future *t = spawn(sleep_return, IPTR(10));
    void *result = NULL;
    CHECK_STATUS(weft_wait_for(t, WEFT_FOREVER, &result), WEFT_OK);
    CHECK_INT(PINT(result), 10);
    weft_future_release(t);
    S.fut = promise();
    CHECK_STATUS(weft_loop_call_soon(weft_get_running_loop(), set_fut_cb, NULL, NULL), WEFT_OK);
    result = NULL;
    CHECK_STATUS(weft_wait_for(S.fut, 0.2, &result), WEFT_OK);
    CHECK(result && strcmp(result, "ok") == 0);
    weft_future_release(S.fut);
    return NULL;
}

/* wait 7 [test_waitfor.AsyncioWaitForTest.test_wait_for_blocking, test_wait_for_race_condition] */
static void wait_for_without_timeout_and_in_time(void **state)
{
    (void)state;
    reset();
    run_ok(wait_for_plain, NULL);
    teardown();
}

static void *long_task_with_cleanup(void *arg)
{
    (void)arg;
    int rc = weft_sleep(LONG_WAIT);
    atomic_store(&S.cleaned_up, 1); /* finally: */
    return rc == WEFT_OK ? IPTR(1) : NULL;
}

static void *wait_for_times_out(void *arg)
{
    (void)arg;
    weft_future *t = spawn(long_task_with_cleanup, NULL);
    double t0 = weft_monotonic();
    void *result = IPTR(1);
    CHECK_STATUS(weft_wait_for(t, 0.05, &result), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    CHECK(result == NULL);
    CHECK(dt >= 0.6 * 0.05 && dt < SOON);
    CHECK(weft_future_done(t) && weft_future_cancelled(t));
    CHECK_INT(atomic_load(&S.cleaned_up), 1);
    weft_future_release(t);
    return NULL;
}

/* wait 8 [test_waitfor.AsyncioWaitForTest.test_wait_for, test_wait_for_waits_for_task_cancellation]
 * [probe] */
static void wait_for_timeout_cancels_and_waits(void **state)
{
    (void)state;
    reset();
    run_ok(wait_for_times_out, NULL);
    teardown();
}

static void *slow_to_cancel(void *arg)
{
    (void)arg;
    int rc = weft_sleep(LONG_WAIT);
    if (rc == WEFT_ECANCELLED)
        CHECK_STATUS(weft_sleep(0.2), WEFT_OK); /* a slow cleanup */
    atomic_store(&S.cleaned_up, 1);
    return NULL;
}

static void *wait_for_inner(void *arg)
{
    (void)arg;
    double t0 = weft_monotonic();
    S.status[0] = weft_wait_for(S.inner, LONG_WAIT, NULL);
    S.elapsed = weft_monotonic() - t0;
    S.reached_end = weft_future_done(S.inner);
    return NULL;
}

static void *wait_for_waits(void *arg)
{
    (void)arg;
    for (int zero = 0; zero < 2; zero++) {
        atomic_store(&S.cleaned_up, 0);
        weft_future *t = spawn(slow_to_cancel, NULL);
        yield_n(1);
        double t0 = weft_monotonic();
        CHECK_STATUS(weft_wait_for(t, zero ? 0 : 0.02, NULL), WEFT_ETIMEDOUT);
        double dt = weft_monotonic() - t0;
        CHECK(dt >= 0.6 * 0.2); /* past the timeout, by the cleanup */
        CHECK(weft_future_done(t));
        CHECK_INT(atomic_load(&S.cleaned_up), 1);
        weft_future_release(t);
    }
    /* the task in wait_for is cancelled: it returns once inner has ended */
    atomic_store(&S.cleaned_up, 0);
    S.inner = spawn(slow_to_cancel, NULL);
    weft_future *w = spawn(wait_for_inner, NULL);
    yield_n(2);
    CHECK(weft_task_cancel(w, NULL));
    CHECK_STATUS(weft_future_result(w, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(S.reached_end); /* inner was done when wait_for returned */
    CHECK(S.elapsed >= 0.6 * 0.2);
    weft_future_release(w);
    weft_future_release(S.inner);
    return NULL;
}

/* wait 9 [test_waitfor.AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation,
 * test_wait_for_waits_for_task_cancellation_w_timeout_0, test_asyncio_wait_for_timeout,
 * test_asyncio_wait_for_cancelled] [doc] */
static void wait_for_returns_after_the_inner_ended(void **state)
{
    (void)state;
    reset();
    run_ok(wait_for_waits, NULL);
    teardown();
}

static void *suppress_cancel(void *arg)
{
    (void)arg;
    if (weft_sleep(LONG_WAIT) == WEFT_ECANCELLED)
        (void)weft_task_uncancel(weft_current_task());
    return IPTR(42);
}

static void *fail_during_cancel(void *arg)
{
    (void)arg;
    if (weft_sleep(LONG_WAIT) == WEFT_ECANCELLED)
        return fail_in_cleanup(WEFT_EINVAL, "FooException");
    return NULL;
}

static void *wait_for_suppressed(void *arg)
{
    (void)arg;
    weft_future *t = spawn(suppress_cancel, NULL);
    void *result = NULL;
    CHECK_STATUS(weft_wait_for(t, 0.02, &result), WEFT_OK); /* no timeout */
    CHECK_INT(PINT(result), 42);
    weft_future_release(t);
    t = spawn(fail_during_cancel, NULL);
    CHECK_STATUS(weft_wait_for(t, 0.02, NULL), WEFT_EFAILED);
    CHECK_INT(weft_future_error_code(t), WEFT_EINVAL);
    CHECK_STR(weft_future_error_message(t), "FooException");
    weft_future_release(t);
    return NULL;
}

/* wait 10 [test_waitfor.AsyncioWaitForTest.test_wait_for_cancel_suppressed,
 * test_wait_for_cancellation_race_condition, test_wait_for_reraises_exception_during_cancellation]
 * [doc] */
static void wait_for_gives_the_inner_outcome_if_it_ended_anyway(void **state)
{
    (void)state;
    reset();
    run_ok(wait_for_suppressed, NULL);
    teardown();
}

static void *count_ran(void *arg)
{
    atomic_fetch_add(&S.ran, 1);
    return arg;
}

static void *wait_for_zero(void *arg)
{
    (void)arg;
    for (int negative = 0; negative < 2; negative++) {
        double timeout = negative ? -1 : 0;
        weft_future *done = spawn(count_ran, "done");
        yield_n(1);
        void *result = NULL;
        CHECK_STATUS(weft_wait_for(done, timeout, &result), WEFT_OK);
        CHECK(result && strcmp(result, "done") == 0);
        /* a task not started yet: never starts */
        atomic_store(&S.ran, 0);
        weft_future *fresh = spawn(count_ran, NULL);
        CHECK_STATUS(weft_wait_for(fresh, timeout, NULL), WEFT_ETIMEDOUT);
        CHECK(weft_future_cancelled(fresh));
        CHECK_INT(atomic_load(&S.ran), 0);
        /* a running one: cancelled, awaited */
        atomic_store(&S.cleaned_up, 0);
        weft_future *running = spawn(long_task_with_cleanup, NULL);
        yield_n(1);
        CHECK_STATUS(weft_wait_for(running, timeout, NULL), WEFT_ETIMEDOUT);
        CHECK(weft_future_cancelled(running));
        CHECK_INT(atomic_load(&S.cleaned_up), 1);
        weft_future_release(done);
        weft_future_release(fresh);
        weft_future_release(running);
    }
    return NULL;
}

/* wait 11 [test_waitfor.AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0_future_done,
 * test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started,
 * test_wait_for_timeout_less_then_0_or_0] [probe] */
static void wait_for_zero_or_negative_timeout(void **state)
{
    (void)state;
    reset();
    run_ok(wait_for_zero, NULL);
    teardown();
}

static void *wait_for_then_sleep(void *arg)
{
    S.status[0] = weft_wait_for(S.inner, arg ? 100 : WEFT_FOREVER, NULL);
    if (S.status[0] != WEFT_OK)
        return NULL;
    S.status[1] = weft_sleep(1);
    if (S.status[1] != WEFT_OK)
        return NULL;
    S.reached_end = true;
    return NULL;
}

static void *return_done(void *arg)
{
    (void)arg;
    return "done";
}

static void *cancel_wait_for(void *arg)
{
    (void)arg;
    for (int sixty = 0; sixty < 2; sixty++) {
        S.inner = spawn(long_task_with_cleanup, NULL);
        weft_future *w = spawn(wait_for_then_sleep, IPTR(sixty));
        yield_n(2);
        CHECK(weft_task_cancel(w, NULL));
        CHECK_STATUS(weft_future_result(w, NULL), WEFT_ECANCELLED);
        CHECK(weft_future_cancelled(w));
        CHECK_STATUS(await_status(S.inner, NULL), WEFT_ECANCELLED); /* bpo-23219 */
        weft_future_release(w);
        weft_future_release(S.inner);
    }
    /* gh-86296: inner ends in one iteration, the waiter is cancelled just
     * after; it must not run on, and inner's result stays */
    S.reached_end = false;
    S.inner = spawn(return_done, NULL);
    weft_future *w = spawn(wait_for_then_sleep, IPTR(1));
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    CHECK(weft_task_cancel(w, NULL));
    CHECK_STATUS(weft_future_result(w, NULL), WEFT_ECANCELLED);
    CHECK(!S.reached_end);
    void *result = await_ok(S.inner);
    CHECK(result && strcmp(result, "done") == 0);
    weft_future_release(w);
    weft_future_release(S.inner);
    return NULL;
}

/* wait 12 [test_waitfor.AsyncioWaitForTest.test_cancel_blocking_wait_for, test_cancel_wait_for,
 * test_wait_for_issue86296] */
static void cancelling_the_waiter_of_wait_for(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_wait_for, NULL);
    teardown();
}

static void *condition_timeout(void *arg)
{
    (void)arg;
    /* the timed wait of weft_condition */
    CHECK_STATUS(weft_condition_acquire(&S.cond), WEFT_OK);
    CHECK_STATUS(weft_condition_wait_timeout(&S.cond, 0.05), WEFT_ETIMEDOUT);
    CHECK(weft_condition_locked(&S.cond));
    CHECK_STATUS(weft_condition_release(&S.cond), WEFT_OK);
    /* asyncio 3.12's wait_for: a deadline scope around the wait */
    CHECK_STATUS(weft_condition_acquire(&S.cond), WEFT_OK);
    weft_timeout *scope = NULL;
    CHECK_STATUS(weft_timeout_enter(0.05, &scope), WEFT_OK);
    CHECK_STATUS(weft_condition_wait(&S.cond), WEFT_ECANCELLED);
    S.lock_held_after = weft_condition_locked(&S.cond);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    CHECK_STATUS(weft_condition_release(&S.cond), WEFT_OK); /* it was held */
    return NULL;
}

/* wait 14 [test_locks.ConditionTests.test_timeout_in_block] (bpo-32751) */
static void condition_wait_timed_out_holds_the_lock(void **state)
{
    (void)state;
    reset();
    assert_int_equal(weft_condition_init(&S.cond), WEFT_OK);
    run_ok(condition_timeout, NULL);
    assert_true(S.lock_held_after);
    assert_false(weft_condition_locked(&S.cond));
    assert_int_equal(weft_condition_destroy(&S.cond), WEFT_OK);
    teardown();
}

static void *as_completed_order(void *arg)
{
    (void)arg;
    weft_future *b = spawn(sleep_return, IPTR(10)), *c = spawn(sleep_return, IPTR(150));
    weft_future *a = spawn(sleep_return, IPTR(11));
    weft_future *fs[] = {b, c, a};
    weft_as_completed *it = NULL;
    CHECK_STATUS(weft_as_completed_new(&it, fs, 3, WEFT_FOREVER), WEFT_OK);
    weft_future *got[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        CHECK_STATUS(weft_as_completed_next(it, &got[i]), WEFT_OK);
    weft_future *end = (weft_future *)&S;
    CHECK_STATUS(weft_as_completed_next(it, &end), WEFT_ESTOP);
    CHECK(end == NULL);
    /* a and b first, in either order, then c; the tasks themselves */
    CHECK((got[0] == a && got[1] == b) || (got[0] == b && got[1] == a));
    CHECK(got[2] == c);
    CHECK_INT(PINT(await_ok(got[2])), 150);
    for (int i = 0; i < 3; i++)
        weft_future_release(got[i]);
    weft_as_completed_free(it);
    weft_future_release(a);
    weft_future_release(b);
    weft_future_release(c);
    return NULL;
}

/* wait 15 [test_tasks.BaseTaskTests.test_as_completed] [probe] */
static void as_completed_in_completion_order(void **state)
{
    (void)state;
    reset();
    run_ok(as_completed_order, NULL);
    teardown();
}

static void *as_completed_timeout(void *arg)
{
    (void)arg;
    weft_future *a = spawn(sleep_return, IPTR(10)), *b = spawn(wait_release, IPTR(2));
    weft_future *fs[] = {a, b};
    weft_as_completed *it = NULL;
    double t0 = weft_monotonic();
    CHECK_STATUS(weft_as_completed_new(&it, fs, 2, 0.12), WEFT_OK);
    weft_future *got = NULL;
    CHECK_STATUS(weft_as_completed_next(it, &got), WEFT_OK);
    CHECK(got == a);
    weft_future_release(got);
    CHECK_STATUS(weft_as_completed_next(it, &got), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    CHECK(got == NULL);
    CHECK(dt >= 0.6 * 0.12 && dt < SOON);
    CHECK_INT(weft_as_completed_unfinished(it), 1);
    CHECK(!weft_future_done(b) && weft_task_cancelling(b) == 0); /* not cancelled */
    weft_as_completed_free(it);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(b)), 2);
    /* an unused timeout never fires */
    weft_future *c = spawn(sleep_return, IPTR(10));
    CHECK_STATUS(weft_as_completed_new(&it, &c, 1, LONG_WAIT), WEFT_OK);
    CHECK_STATUS(weft_as_completed_next(it, &got), WEFT_OK);
    weft_future_release(got);
    t0 = weft_monotonic();
    CHECK_STATUS(weft_as_completed_next(it, &got), WEFT_ESTOP);
    CHECK(weft_monotonic() - t0 < IMMEDIATE);
    weft_as_completed_free(it);
    weft_future_release(a);
    weft_future_release(b);
    weft_future_release(c);
    return NULL;
}

/* wait 16 [test_tasks.BaseTaskTests.test_as_completed_with_timeout,
 * test_as_completed_with_unused_timeout] [probe] */
static void as_completed_with_timeout(void **state)
{
    (void)state;
    reset();
    run_ok(as_completed_timeout, NULL);
    teardown();
}

static void *as_completed_same(void *arg)
{
    (void)arg;
    weft_future *fs[] = {spawn(sleep_return, IPTR(30)), spawn(sleep_return, IPTR(5)),
                         spawn(sleep_return, IPTR(15))};
    weft_as_completed *it = NULL;
    CHECK_STATUS(weft_as_completed_new(&it, fs, 3, WEFT_FOREVER), WEFT_OK);
    weft_future *got = NULL;
    int seen = 0;
    while (weft_as_completed_next(it, &got) == WEFT_OK) {
        for (int i = 0; i < 3; i++)
            if (got == fs[i])
                seen |= 1 << i; /* the originals, not wrappers */
        weft_future_release(got);
    }
    CHECK_INT(seen, 7);
    weft_as_completed_free(it);
    for (int i = 0; i < 3; i++)
        weft_future_release(fs[i]);
    return NULL;
}

/* wait 17 [test_tasks.BaseTaskTests.test_as_completed_reverse_wait,
 * test_as_completed_same_tasks_in_as_out] (3.13's form: the tasks themselves) */
static void as_completed_yields_the_tasks(void **state)
{
    (void)state;
    reset();
    run_ok(as_completed_same, NULL);
    teardown();
}

static void *as_completed_dups(void *arg)
{
    (void)arg;
    weft_future *c = spawn(sleep_return, IPTR(5)), *spam = spawn(sleep_return, IPTR(10));
    weft_future *fs[] = {c, c, spam};
    weft_as_completed *it = NULL;
    CHECK_STATUS(weft_as_completed_new(&it, fs, 3, WEFT_FOREVER), WEFT_OK);
    CHECK_INT(weft_as_completed_total(it), 2);
    weft_future *got = NULL;
    CHECK_STATUS(weft_as_completed_next(it, &got), WEFT_OK); /* then "break" */
    weft_future_release(got);
    CHECK_STATUS(weft_sleep(0.02), WEFT_OK); /* other work */
    int more = 0;
    while (weft_as_completed_next(it, &got) == WEFT_OK) { /* resumes */
        more++;
        weft_future_release(got);
    }
    CHECK_INT(more, 1);
    CHECK_STATUS(weft_as_completed_next(it, &got), WEFT_ESTOP);
    weft_as_completed_free(it);
    weft_future_release(c);
    weft_future_release(spam);
    return NULL;
}

/* wait 18 [test_tasks.BaseTaskTests.test_as_completed_duplicate_coroutines,
 * test_as_completed_invalid_args, test_as_completed_resume_iterator] */
static void as_completed_duplicates_and_resuming(void **state)
{
    (void)state;
    reset();
    run_ok(as_completed_dups, NULL);
    teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wait_all_completed),
        cmocka_unit_test(wait_bad_arguments_and_duplicates),
        cmocka_unit_test(wait_first_completed),
        cmocka_unit_test(wait_first_exception),
        cmocka_unit_test(wait_with_timeout),
        cmocka_unit_test(cancelled_wait_leaves_the_tasks_alone),
        cmocka_unit_test(wait_for_without_timeout_and_in_time),
        cmocka_unit_test(wait_for_timeout_cancels_and_waits),
        cmocka_unit_test(wait_for_returns_after_the_inner_ended),
        cmocka_unit_test(wait_for_gives_the_inner_outcome_if_it_ended_anyway),
        cmocka_unit_test(wait_for_zero_or_negative_timeout),
        cmocka_unit_test(cancelling_the_waiter_of_wait_for),
        cmocka_unit_test(condition_wait_timed_out_holds_the_lock),
        cmocka_unit_test(as_completed_in_completion_order),
        cmocka_unit_test(as_completed_with_timeout),
        cmocka_unit_test(as_completed_yields_the_tasks),
        cmocka_unit_test(as_completed_duplicates_and_resuming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
