/* SPDX-License-Identifier: MIT */
/* test_coro_timeout.c — deadline scopes (weft_timeout_enter, _enter_at,
 * _reschedule, _when, _expired, _exit) against asyncio's behaviours (docs/python.md),
 * section "asyncio.timeout / timeout_at".  Each test's comment names the
 * item ("timeout 6") and the CPython test it comes from; the items that do
 * not apply to C are listed in docs/python.md.
 *
 * C's form of `async with timeout(d): body`: enter, the body (its waits
 * return WEFT_ECANCELLED once the deadline passed), exit, whose
 * WEFT_ETIMEDOUT is asyncio's TimeoutError.  Queries of a scope are made
 * before its exit, which frees it. */
#include "test_coro_a_util.h"

static struct {
    int status[6];
    int cancelling[6];
    bool expired[4];
    double when[4], t[4];
    weft_timeout *scope;
    weft_future *task, *f;
    atomic_int cleaned_up;
    weft_event release;
} S;

static void reset(void)
{
    memset(&S, 0, sizeof S);
    assert_int_equal(weft_event_init(&S.release), WEFT_OK);
}

static void teardown(void) { weft_event_destroy(&S.release); }

static int cancelling_now(void) { return weft_task_cancelling(weft_current_task()); }

static void *basic(void *arg)
{
    (void)arg;
    weft_timeout *scope = NULL;
    double t0 = loop_now();
    CHECK_STATUS(weft_timeout_enter(0.02, &scope), WEFT_OK);
    double t1 = loop_now();
    double when = weft_timeout_when(scope);
    CHECK(when >= t0 + 0.02 && when <= t1 + 0.02);
    CHECK(!weft_timeout_expired(scope));
    double w0 = weft_monotonic();
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED);
    CHECK(weft_monotonic() - w0 < SOON);
    CHECK(weft_timeout_expired(scope));
    CHECK(weft_timeout_when(scope) == when);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    /* timeout_at */
    double deadline = loop_now() + 0.02;
    CHECK_STATUS(weft_timeout_enter_at(deadline, &scope), WEFT_OK);
    CHECK(weft_timeout_when(scope) == deadline);
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED);
    CHECK(weft_timeout_expired(scope));
    CHECK(loop_now() >= deadline);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    CHECK_INT(cancelling_now(), 0);
    return NULL;
}

/* timeout 1 [test_timeouts.TimeoutTests.test_timeout_basic, test_timeout_at_basic] */
static void timeout_cuts_a_long_wait(void **state)
{
    (void)state;
    reset();
    run_ok(basic, NULL);
    teardown();
}

static void *waiter_cancelled(void *arg)
{
    (void)arg;
    weft_timeout *scope = NULL;
    weft_future *f = promise();
    CHECK_STATUS(weft_timeout_enter(0.02, &scope), WEFT_OK);
    /* the wait sees the cancellation, not a timeout */
    CHECK_STATUS(weft_future_result(f, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(f)); /* awaited: cancelled with the task */
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    weft_future_release(f);
    return NULL;
}

/* timeout 2 [test_timeouts.TimeoutTests.test_waiter_cancelled] [doc] */
static void timeout_shows_as_cancel_inside_the_block(void **state)
{
    (void)state;
    reset();
    run_ok(waiter_cancelled, NULL);
    teardown();
}

static void *not_called(void *arg)
{
    (void)arg;
    weft_timeout *scope = NULL;
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &scope), WEFT_OK);
    CHECK_STATUS(weft_sleep(0.01), WEFT_OK);
    CHECK(!weft_timeout_expired(scope));
    CHECK(weft_timeout_when(scope) > loop_now());
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_OK);
    /* disabled: +inf */
    CHECK_STATUS(weft_timeout_enter(WEFT_FOREVER, &scope), WEFT_OK);
    CHECK(isinf(weft_timeout_when(scope)));
    CHECK_STATUS(weft_sleep(0.02), WEFT_OK);
    CHECK(!weft_timeout_expired(scope));
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_OK);
    CHECK_STATUS(weft_timeout_enter_at(WEFT_FOREVER, &scope), WEFT_OK);
    CHECK(isinf(weft_timeout_when(scope)));
    CHECK_STATUS(weft_sleep(0.02), WEFT_OK);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_OK);
    CHECK_INT(cancelling_now(), 0);
    return NULL;
}

/* timeout 3 [test_timeouts.TimeoutTests.test_timeout_not_called, test_timeout_disabled,
 * test_timeout_at_disabled, test_repr_disabled] */
static void timeout_not_reached_or_disabled(void **state)
{
    (void)state;
    reset();
    run_ok(not_called, NULL);
    teardown();
}

static void *zero(void *arg)
{
    (void)arg;
    weft_timeout *scope = NULL;
    /* timeout(0) around sleep(10) */
    double t0 = loop_now();
    CHECK_STATUS(weft_timeout_enter(0, &scope), WEFT_OK);
    double t1 = loop_now();
    CHECK(weft_timeout_when(scope) >= t0 && weft_timeout_when(scope) <= t1);
    double w0 = weft_monotonic();
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED);
    CHECK(weft_monotonic() - w0 < SOON);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    /* timeout(0) around sleep(0) */
    CHECK_STATUS(weft_timeout_enter(0, &scope), WEFT_OK);
    CHECK_STATUS(weft_sleep(0), WEFT_ECANCELLED);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    /* timeout(-11) around sleep(0): a deadline in the past */
    t0 = loop_now();
    CHECK_STATUS(weft_timeout_enter(-11, &scope), WEFT_OK);
    CHECK(weft_timeout_when(scope) < t0);
    CHECK_STATUS(weft_sleep(0), WEFT_ECANCELLED);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    /* a body that never suspends: fires at the next iteration, not here */
    CHECK_STATUS(weft_timeout_enter(0, &scope), WEFT_OK);
    busy(0.001);
    CHECK(!weft_timeout_expired(scope));
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_OK);
    CHECK_STATUS(weft_sleep(0.01), WEFT_OK); /* nothing left behind */
    CHECK_INT(cancelling_now(), 0);
    return NULL;
}

/* timeout 4 [test_timeouts.TimeoutTests.test_timeout_zero, test_timeout_zero_sleep_zero,
 * test_timeout_in_the_past_sleep_zero] [probe] [doc] */
static void timeout_zero_or_in_the_past(void **state)
{
    (void)state;
    reset();
    run_ok(zero, NULL);
    teardown();
}

static void *fail_soon(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return weft_fail(WEFT_EINVAL, "KeyError");
}

static void *foreign_cancel_body(void *arg)
{
    (void)arg;
    weft_timeout *scope = NULL;
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &scope), WEFT_OK);
    S.status[0] = weft_sleep(LONG_WAIT);
    S.expired[0] = weft_timeout_expired(scope);
    S.status[1] = weft_timeout_exit(scope);
    S.cancelling[0] = cancelling_now();
    return IPTR(1);
}

static void *foreign(void *arg)
{
    (void)arg;
    /* a foreign failure inside: passes unchanged */
    weft_timeout *scope = NULL;
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &scope), WEFT_OK);
    weft_future *t = spawn(fail_soon, NULL);
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_EFAILED);
    CHECK_INT(weft_future_error_code(t), WEFT_EINVAL);
    CHECK(!weft_timeout_expired(scope));
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_OK);
    weft_future_release(t);
    /* a foreign cancel inside an unexpired scope: stays a cancel */
    t = spawn(foreign_cancel_body, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(!S.expired[0]);
    CHECK_STATUS(S.status[1], WEFT_OK);
    CHECK_INT(S.cancelling[0], 1);
    CHECK(weft_future_cancelled(t));
    weft_future_release(t);
    return NULL;
}

/* timeout 5 [test_timeouts.TimeoutTests.test_foreign_exception_passed,
 * test_foreign_cancel_doesnt_timeout_if_not_expired] */
static void timeout_lets_foreign_errors_and_cancels_through(void **state)
{
    (void)state;
    reset();
    run_ok(foreign, NULL);
    teardown();
}

static void *expire_and_cancel_body(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_timeout_enter(0.05, &S.scope), WEFT_OK);
    S.when[0] = weft_timeout_when(S.scope);
    S.status[0] = weft_sleep(LONG_WAIT);
    S.expired[0] = weft_timeout_expired(S.scope);
    S.status[1] = weft_timeout_exit(S.scope);
    S.cancelling[0] = cancelling_now();
    return IPTR(1);
}

static void *expire_and_cancel(void *arg)
{
    (void)arg;
    weft_future *t = spawn(expire_and_cancel_body, NULL);
    yield_n(1); /* it entered its scope and sleeps */
    /* hold the loop past the deadline, then cancel: both land before the
     * task resumes */
    while (loop_now() < S.when[0] + 0.02)
        busy(0.005);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED); /* the cancel wins */
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(S.expired[0]);
    CHECK(S.status[1] != WEFT_OK);
    CHECK_INT(S.cancelling[0], 1); /* the foreign request is kept */
    CHECK(weft_future_cancelled(t));
    weft_future_release(t);
    return NULL;
}

/* timeout 6 [probe] [src] */
static void timeout_and_foreign_cancel_together(void **state)
{
    (void)state;
    reset();
    run_ok(expire_and_cancel, NULL);
    teardown();
}

static void *catch_timeout(void *arg)
{
    (void)arg;
    weft_timeout *scope = NULL;
    CHECK_STATUS(weft_timeout_enter(0.01, &scope), WEFT_OK);
    S.status[0] = weft_sleep(LONG_WAIT);
    S.status[1] = weft_timeout_exit(scope);
    S.cancelling[0] = cancelling_now();
    S.status[2] = weft_sleep(0.01); /* carries on */
    return IPTR(3);
}

static void *outer_not_cancelled(void *arg)
{
    (void)arg;
    weft_future *t = spawn(catch_timeout, NULL);
    CHECK_INT(PINT(await_ok(t)), 3);
    CHECK(!weft_future_cancelled(t));
    CHECK_INT(weft_task_cancelling(t), 0);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_STATUS(S.status[1], WEFT_ETIMEDOUT);
    CHECK_INT(S.cancelling[0], 0);
    CHECK_STATUS(S.status[2], WEFT_OK);
    weft_future_release(t);
    return NULL;
}

/* timeout 7 [test_timeouts.TimeoutTests.test_outer_task_is_not_cancelled] [probe] */
static void task_that_timed_out_is_not_cancelled(void **state)
{
    (void)state;
    reset();
    run_ok(outer_not_cancelled, NULL);
    teardown();
}

static void *nested(void *arg)
{
    (void)arg;
    /* the same deadline: only the outermost converts */
    weft_timeout *outer = NULL, *inner = NULL;
    double deadline = loop_now() + 0.02;
    CHECK_STATUS(weft_timeout_enter_at(deadline, &outer), WEFT_OK);
    CHECK_STATUS(weft_timeout_enter_at(deadline, &inner), WEFT_OK);
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED);
    CHECK(weft_timeout_expired(inner) && weft_timeout_expired(outer));
    CHECK(weft_timeout_exit(inner) != WEFT_OK);
    CHECK_STATUS(weft_timeout_exit(outer), WEFT_ETIMEDOUT);
    CHECK_INT(cancelling_now(), 0);
    /* outer 0.02 around inner 10 s: the inner is not expired */
    CHECK_STATUS(weft_timeout_enter(0.02, &outer), WEFT_OK);
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &inner), WEFT_OK);
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED);
    CHECK(!weft_timeout_expired(inner));
    CHECK_STATUS(weft_timeout_exit(inner), WEFT_OK);
    CHECK(weft_timeout_expired(outer));
    CHECK_STATUS(weft_timeout_exit(outer), WEFT_ETIMEDOUT);
    CHECK_INT(cancelling_now(), 0);
    /* blocking work passes the outer's deadline before the first wait */
    CHECK_STATUS(weft_timeout_enter(0.02, &outer), WEFT_OK);
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &inner), WEFT_OK);
    busy(0.05);
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED);
    CHECK(!weft_timeout_expired(inner));
    CHECK_STATUS(weft_timeout_exit(inner), WEFT_OK);
    CHECK_STATUS(weft_timeout_exit(outer), WEFT_ETIMEDOUT);
    CHECK_INT(cancelling_now(), 0);
    return NULL;
}

/* timeout 8 [test_timeouts.TimeoutTests.test_nested_timeouts, test_nested_timeouts_concurrent]
 * [probe] */
static void nested_timeouts_only_the_expired_converts(void **state)
{
    (void)state;
    reset();
    run_ok(nested, NULL);
    teardown();
}

static void *loop_busy(void *arg)
{
    (void)arg;
    double t0 = weft_monotonic();
    weft_timeout *outer = NULL, *inner = NULL;
    CHECK_STATUS(weft_timeout_enter(0.3, &outer), WEFT_OK);
    CHECK_STATUS(weft_timeout_enter(0.02, &inner), WEFT_OK);
    busy(0.04); /* crunching numbers past the inner deadline */
    CHECK_STATUS(weft_sleep(1), WEFT_ECANCELLED);
    CHECK_STATUS(weft_timeout_exit(inner), WEFT_ETIMEDOUT); /* caught */
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED); /* cut by the outer */
    CHECK_STATUS(weft_timeout_exit(outer), WEFT_ETIMEDOUT);
    CHECK(weft_monotonic() - t0 < SOON);
    CHECK_INT(cancelling_now(), 0);
    return NULL;
}

/* timeout 9 [test_timeouts.TimeoutTests.test_nested_timeouts_loop_busy] */
static void nested_timeouts_with_a_busy_loop(void **state)
{
    (void)state;
    reset();
    run_ok(loop_busy, NULL);
    teardown();
}

static void *reschedule_body(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &S.scope), WEFT_OK);
    double d2 = loop_now() + 2 * LONG_WAIT;
    CHECK_STATUS(weft_timeout_reschedule(S.scope, d2), WEFT_OK);
    CHECK(weft_timeout_when(S.scope) == d2);
    CHECK_STATUS(weft_timeout_reschedule(S.scope, WEFT_FOREVER), WEFT_OK);
    CHECK(isinf(weft_timeout_when(S.scope)));
    S.status[0] = weft_sleep(LONG_WAIT); /* cancelled from outside */
    S.expired[0] = weft_timeout_expired(S.scope);
    S.status[1] = weft_timeout_exit(S.scope);
    return NULL;
}

static void *reschedule(void *arg)
{
    (void)arg;
    weft_future *t = spawn(reschedule_body, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(!S.expired[0]);
    CHECK_STATUS(S.status[1], WEFT_OK);
    weft_future_release(t);
    /* into the past: fires at the next iteration */
    weft_timeout *scope = NULL;
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &scope), WEFT_OK);
    CHECK_STATUS(weft_timeout_reschedule(scope, loop_now() - 1), WEFT_OK);
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED);
    CHECK(weft_timeout_expired(scope));
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    /* later, then sooner */
    CHECK_STATUS(weft_timeout_enter(0.01, &scope), WEFT_OK);
    CHECK_STATUS(weft_timeout_reschedule(scope, loop_now() + LONG_WAIT), WEFT_OK);
    CHECK_STATUS(weft_sleep(0.05), WEFT_OK); /* the old deadline is gone */
    CHECK_STATUS(weft_timeout_reschedule(scope, loop_now() + 0.01), WEFT_OK);
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    CHECK_INT(cancelling_now(), 0);
    return NULL;
}

/* timeout 10 [test_timeouts.TimeoutTests.test_reschedule] [probe] */
static void timeout_reschedule(void **state)
{
    (void)state;
    reset();
    run_ok(reschedule, NULL);
    teardown();
}

static void *scope_errors(void *arg)
{
    (void)arg;
    weft_timeout *scope = (weft_timeout *)&S;
    CHECK_STATUS(weft_timeout_enter(NAN, &scope), WEFT_EINVAL);
    CHECK(scope == NULL);
    CHECK_STATUS(weft_timeout_enter_at(NAN, &scope), WEFT_EINVAL);
    CHECK_STATUS(weft_timeout_enter(1, NULL), WEFT_EINVAL);
    /* expired (or expiring: the cancel delivered): no reschedule */
    CHECK_STATUS(weft_timeout_enter(0, &scope), WEFT_OK);
    CHECK_STATUS(weft_sleep(0), WEFT_ECANCELLED);
    CHECK_STATUS(weft_timeout_reschedule(scope, loop_now() + LONG_WAIT), WEFT_ESTATE);
    CHECK_STATUS(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
    /* leaving out of order: refused, nothing freed */
    weft_timeout *outer = NULL, *inner = NULL;
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &outer), WEFT_OK);
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &inner), WEFT_OK);
    CHECK_STATUS(weft_timeout_exit(outer), WEFT_ESTATE);
    CHECK(!weft_timeout_expired(outer));
    CHECK_STATUS(weft_timeout_exit(inner), WEFT_OK);
    CHECK_STATUS(weft_timeout_exit(outer), WEFT_OK);
    CHECK_INT(cancelling_now(), 0);
    return NULL;
}

static void *exit_other_tasks_scope(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_timeout_exit(S.scope), WEFT_ESTATE); /* not this task's */
    return NULL;
}

static void *scope_of_another_task(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_timeout_enter(LONG_WAIT, &S.scope), WEFT_OK);
    weft_future *t = spawn(exit_other_tasks_scope, NULL);
    await_ok(t);
    weft_future_release(t);
    CHECK_STATUS(weft_timeout_exit(S.scope), WEFT_OK);
    return NULL;
}

/* timeout 11 [test_timeouts.TimeoutTests.test_timeout_expired, test_timeout_expiring,
 * test_timeout_without_task] (enter creates the scope, so "not entered",
 * "entered twice" and "finished" have no C form) */
static void timeout_misuse_is_refused(void **state)
{
    (void)state;
    reset();
    weft_timeout *scope = (weft_timeout *)&S;
    assert_int_equal(weft_timeout_enter(1, &scope), WEFT_ESTATE); /* outside a task */
    assert_null(scope);
    assert_int_equal(weft_timeout_enter_at(1, &scope), WEFT_ESTATE);
    run_ok(scope_errors, NULL);
    run_ok(scope_of_another_task, NULL);
    teardown();
}

static void *swallow(void *arg)
{
    (void)arg;
    weft_timeout *scope = NULL;
    CHECK_STATUS(weft_timeout_enter(0.01, &scope), WEFT_OK);
    S.status[0] = weft_sleep(LONG_WAIT); /* swallowed: */
    S.status[1] = weft_sleep(0.01);      /* the body goes on normally */
    S.expired[0] = weft_timeout_expired(scope);
    S.status[2] = weft_timeout_exit(scope);
    S.cancelling[0] = cancelling_now();
    return IPTR(4);
}

static void *swallowed(void *arg)
{
    (void)arg;
    weft_future *t = spawn(swallow, NULL);
    CHECK_INT(PINT(await_ok(t)), 4);
    CHECK(!weft_future_cancelled(t));
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_STATUS(S.status[1], WEFT_OK);
    CHECK(S.expired[0]);
    CHECK_STATUS(S.status[2], WEFT_ETIMEDOUT); /* C: the caller may ignore it */
    CHECK_INT(S.cancelling[0], 0);
    weft_future_release(t);
    return NULL;
}

/* timeout 12 [probe] [src] (exit cannot know the body swallowed it: it says
 * WEFT_ETIMEDOUT, and the count is restored all the same) */
static void timeout_swallowed_by_the_body(void **state)
{
    (void)state;
    reset();
    run_ok(swallowed, NULL);
    teardown();
}

static void *after_cancellation(void *arg)
{
    (void)arg;
    S.status[0] = weft_sleep(LONG_WAIT); /* a foreign cancel, absorbed */
    S.cancelling[0] = cancelling_now();
    weft_timeout *scope = NULL;
    CHECK_STATUS(weft_timeout_enter(0.0, &scope), WEFT_OK); /* finally: */
    S.status[1] = weft_sleep(0.01);
    S.status[2] = weft_timeout_exit(scope);
    S.cancelling[1] = cancelling_now();
    CHECK_STATUS(weft_timeout_enter(1.0, &scope), WEFT_OK);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    S.status[3] = weft_sleep(LONG_WAIT); /* a fresh cancel inside */
    S.status[4] = weft_timeout_exit(scope);
    S.cancelling[2] = cancelling_now();
    return NULL;
}

static void *timeouts_after_cancel(void *arg)
{
    (void)arg;
    weft_future *t = spawn(after_cancellation, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_event_wait_timeout(&S.release, LONG_WAIT), WEFT_OK);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_INT(S.cancelling[0], 1);
    CHECK_STATUS(S.status[1], WEFT_ECANCELLED);
    CHECK_STATUS(S.status[2], WEFT_ETIMEDOUT); /* still a timeout */
    CHECK_INT(S.cancelling[1], 1);             /* back to its entry value */
    CHECK_STATUS(S.status[3], WEFT_ECANCELLED);
    CHECK_STATUS(S.status[4], WEFT_OK); /* a cancel, not a timeout */
    CHECK_INT(S.cancelling[2], 2);
    weft_future_release(t);
    return NULL;
}

/* timeout 13 [test_timeouts.TimeoutTests.test_timeout_after_cancellation,
 * test_cancel_in_timeout_after_cancellation] */
static void timeout_after_an_absorbed_cancel(void **state)
{
    (void)state;
    reset();
    run_ok(timeouts_after_cancel, NULL);
    teardown();
}

static void *crash_in_cleanup(void *arg)
{
    (void)arg;
    int rc = weft_sleep(LONG_WAIT);
    atomic_fetch_add(&S.cleaned_up, 1);
    if (rc == WEFT_ECANCELLED)
        return fail_in_cleanup(WEFT_EINVAL, "ZeroDivisionError");
    return NULL;
}

static void *timeout_around_group(void *arg)
{
    (void)arg;
    weft_timeout *scope = NULL;
    weft_task_group *group = NULL;
    CHECK_STATUS(weft_timeout_enter(0.02, &scope), WEFT_OK);
    CHECK_STATUS(weft_task_group_new(&group), WEFT_OK);
    weft_future *child = NULL;
    CHECK_STATUS(weft_task_group_spawn(group, crash_in_cleanup, NULL, NULL, &child), WEFT_OK);
    int rc = weft_task_group_wait(group);
    CHECK(rc != WEFT_OK && rc != WEFT_ECANCELLED && rc != WEFT_ETIMEDOUT); /* the error wins */
    weft_future *failed[2] = {NULL, NULL};
    CHECK_INT(weft_task_group_failures(group, failed, 2), 1);
    CHECK(failed[0] == child);
    CHECK(weft_timeout_expired(scope));
    (void)weft_timeout_exit(scope);
    CHECK_INT(cancelling_now(), 0);
    CHECK_STATUS(weft_task_group_free(group), WEFT_OK);
    CHECK_INT(atomic_load(&S.cleaned_up), 1);
    weft_future_release(child);
    return NULL;
}

/* timeout 15 [test_timeouts.TimeoutTests.test_timeout_taskgroup,
 * test_foreign_exception_on_timeout] (3.13) */
static void timeout_around_a_failing_group(void **state)
{
    (void)state;
    reset();
    run_ok(timeout_around_group, NULL);
    teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timeout_cuts_a_long_wait),
        cmocka_unit_test(timeout_shows_as_cancel_inside_the_block),
        cmocka_unit_test(timeout_not_reached_or_disabled),
        cmocka_unit_test(timeout_zero_or_in_the_past),
        cmocka_unit_test(timeout_lets_foreign_errors_and_cancels_through),
        cmocka_unit_test(timeout_and_foreign_cancel_together),
        cmocka_unit_test(task_that_timed_out_is_not_cancelled),
        cmocka_unit_test(nested_timeouts_only_the_expired_converts),
        cmocka_unit_test(nested_timeouts_with_a_busy_loop),
        cmocka_unit_test(timeout_reschedule),
        cmocka_unit_test(timeout_misuse_is_refused),
        cmocka_unit_test(timeout_swallowed_by_the_body),
        cmocka_unit_test(timeout_after_an_absorbed_cancel),
        cmocka_unit_test(timeout_around_a_failing_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
