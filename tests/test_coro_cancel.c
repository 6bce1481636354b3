/* SPDX-License-Identifier: MIT */
/* test_coro_cancel.c — cancelling tasks (weft_task_cancel, cancelling,
 * uncancel) and weft_shield against asyncio's behaviours (docs/python.md), sections
 * "Cancellation" and "shield".  Each test's comment names the item
 * ("Cancellation 7") and the CPython test it comes from; the items that do
 * not apply to C are listed in docs/python.md.
 *
 * C's forms of asyncio's idioms, as weft/coro.h defines them: a blocking
 * call returning WEFT_ECANCELLED is CancelledError raised at the await
 * point; a task that returns while weft_task_cancelling() > 0 has let it
 * propagate (it ends cancelled); weft_task_uncancel then carrying on is
 * swallowing it. */
#include "test_coro_a_util.h"

#define STRESS_WAITERS 500

static struct {
    int status[4];
    int cancelling_seen[4];
    atomic_int ran, cleaned_up, proof;
    weft_future *task, *a, *b, *f, *g, *nested, *outer1, *outer2;
    weft_event release, started;
    double elapsed, elapsed_a;
    bool flag[4];
    weft_future *waiters[STRESS_WAITERS];
    atomic_int stress_cleanups;
} S;

static void reset(void)
{
    memset(&S, 0, sizeof S);
    assert_int_equal(weft_event_init(&S.release), WEFT_OK);
    assert_int_equal(weft_event_init(&S.started), WEFT_OK);
}

static void teardown(void)
{
    weft_event_destroy(&S.release);
    weft_event_destroy(&S.started);
}

/* Sleep long; record the status and the cancel count seen; return (ending
 * cancelled if the wait was cancelled and nothing uncancelled it). */
static void *sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    double t0 = weft_monotonic();
    S.status[i] = weft_sleep(LONG_WAIT);
    S.elapsed = weft_monotonic() - t0;
    S.cancelling_seen[i] = weft_task_cancelling(weft_current_task());
    atomic_fetch_add(&S.cleaned_up, 1);
    return IPTR(100 + i);
}

static void *cancel_pending(void *arg)
{
    (void)arg;
    weft_future *t = spawn(sleeper, IPTR(0));
    yield_n(1); /* it is in its sleep */
    CHECK(weft_task_cancel(t, NULL));
    /* "cancelling": not cancelled, not done, until the coroutine ends */
    CHECK(!weft_future_cancelled(t));
    CHECK(!weft_future_done(t));
    CHECK_INT(weft_task_cancelling(t), 1);
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(t) && weft_future_done(t));
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_INT(S.cancelling_seen[0], 1);
    CHECK(S.elapsed < SOON);
    weft_future_release(t);
    return NULL;
}

/* Cancellation 1 [test_tasks.BaseTaskTests.test_task_repr, test_cancelling] [doc] */
static void cancel_takes_effect_at_the_next_wait(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_pending, NULL);
    teardown();
}

static void *return_5(void *arg)
{
    (void)arg;
    return IPTR(5);
}

static void *fail_now(void *arg)
{
    (void)arg;
    return weft_fail(WEFT_EINVAL, "no");
}

static void *cancel_from_thread(void *arg)
{
    weft_future *t = arg;
    (void)weft_sleep(0.05);
    CHECK(weft_task_cancel(t, NULL));
    return NULL;
}

static void *cancel_sleeping(void *arg)
{
    (void)arg;
    /* from a callback of the loop */
    S.task = spawn(sleeper, IPTR(0));
    yield_n(1);
    CHECK_STATUS(weft_loop_call_soon(weft_get_running_loop(), cancel_cb, S.task, NULL), WEFT_OK);
    CHECK_STATUS(weft_future_result(S.task, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_done(S.task) && weft_future_cancelled(S.task));
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    /* from another thread, while the loop sleeps */
    weft_future *t2 = spawn(sleeper, IPTR(1));
    pthread_t thread;
    CHECK_INT(pthread_create(&thread, NULL, cancel_from_thread, t2), 0);
    CHECK_STATUS(weft_future_result(t2, NULL), WEFT_ECANCELLED);
    pthread_join(thread, NULL);
    CHECK(weft_future_cancelled(t2));
    CHECK_STATUS(S.status[1], WEFT_ECANCELLED);
    CHECK(S.elapsed < SOON);
    /* a task that ended: cancel is false and changes nothing */
    weft_future *ok = spawn(return_5, NULL), *bad = spawn(fail_now, NULL);
    CHECK_INT(PINT(await_ok(ok)), 5);
    CHECK_STATUS(await_status(bad, NULL), WEFT_EFAILED);
    CHECK(!weft_task_cancel(ok, NULL));
    CHECK(!weft_task_cancel(bad, "late"));
    CHECK(!weft_future_cancel(ok));
    CHECK(!weft_task_cancel(S.task, NULL));
    CHECK(!weft_future_cancelled(ok) && !weft_future_cancelled(bad));
    CHECK_INT(PINT(await_ok(ok)), 5);
    CHECK_INT(weft_future_error_code(bad), WEFT_EINVAL);
    CHECK_INT(weft_task_cancelling(ok), 0);
    weft_future *all[] = {S.task, t2, ok, bad};
    for (int i = 0; i < 4; i++)
        weft_future_release(all[i]);
    return NULL;
}

/* Cancellation 2 [test_tasks.BaseTaskTests.test_cancel, test_cancel_yield,
 * test_futures.BaseFutureTests.test_result, test_exception] [doc] (also from another thread:
 * weft_task_cancel is safe from any) */
static void cancel_a_sleeping_task(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_sleeping, NULL);
    teardown();
}

static void *sleep_twice(void *arg)
{
    (void)arg;
    S.status[0] = weft_sleep(LONG_WAIT);
    S.status[1] = weft_sleep(0.02); /* one delivery for both requests */
    S.cancelling_seen[0] = weft_task_cancelling(weft_current_task());
    return NULL;
}

static void *cancel_twice(void *arg)
{
    (void)arg;
    weft_future *t = spawn(sleep_twice, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK(weft_task_cancel(t, NULL));
    CHECK_INT(weft_task_cancelling(t), 2);
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_STATUS(S.status[1], WEFT_OK);
    CHECK_INT(S.cancelling_seen[0], 2);
    CHECK(weft_future_cancelled(t));
    weft_future_release(t);
    return NULL;
}

/* Cancellation 3 [test_tasks.BaseTaskTests.test_cancelling] [probe] */
static void cancel_twice_counts_two_delivers_one(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_twice, NULL);
    teardown();
}

static void *count_ran(void *arg)
{
    (void)arg;
    atomic_fetch_add(&S.ran, 1);
    return IPTR(1);
}

static void *cancel_before_start(void *arg)
{
    (void)arg;
    weft_future *t = spawn(count_ran, NULL);
    CHECK(weft_task_cancel(t, "early"));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(t));
    CHECK_INT(atomic_load(&S.ran), 0);
    weft_future_release(t);
    return NULL;
}

/* Cancellation 4 [test_tasks.BaseTaskTests.test_cancel_with_message_before_starting_task] */
static void cancel_before_first_step_skips_the_body(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_before_start, NULL);
    assert_int_equal(atomic_load(&S.ran), 0);
    teardown();
}

static void *cancel_messages(void *arg)
{
    (void)arg;
    char message[32] = "my message";
    weft_future *t = spawn(sleeper, IPTR(0));
    yield_n(1);
    CHECK(weft_task_cancel(t, message));
    message[0] = 'X'; /* copied */
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STR(weft_future_error_message(t), "my message");
    int code = -1;
    const char *text = "x";
    CHECK_STATUS(weft_future_exception(t, &code, &text), WEFT_ECANCELLED);
    CHECK_STR(weft_future_error_message(t), "my message");
    /* no message: "" (args ()) */
    weft_future *u = spawn(sleeper, IPTR(1));
    yield_n(1);
    CHECK(weft_task_cancel(u, NULL));
    CHECK_STATUS(weft_future_result(u, NULL), WEFT_ECANCELLED);
    CHECK_STR(weft_future_error_message(u), "");
    weft_future_release(t);
    weft_future_release(u);
    return NULL;
}

/* Cancellation 5 [test_tasks.BaseTaskTests.test_cancel_with_message_then_future_result,
 * test_cancel_with_message_then_future_exception, test_task_cancel_message_getter] */
static void cancel_message_reaches_the_future(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_messages, NULL);
    teardown();
}

static void *cancel_self_then_sleep(void *arg)
{
    double seconds = arg ? LONG_WAIT : 0.0;
    CHECK(weft_task_cancel(weft_current_task(), NULL));
    S.flag[0] = true; /* still running synchronously */
    double t0 = weft_monotonic();
    S.status[arg ? 0 : 1] = weft_sleep(seconds);
    S.elapsed = weft_monotonic() - t0;
    return NULL;
}

static void *cancel_self_then_return(void *arg)
{
    (void)arg;
    CHECK(weft_task_cancel(weft_current_task(), NULL));
    return IPTR(12);
}

static void *cancel_current(void *arg)
{
    (void)arg;
    weft_future *t = spawn(cancel_self_then_sleep, IPTR(1));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK(S.flag[0]);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(S.elapsed < SOON);
    weft_future *z = spawn(cancel_self_then_sleep, NULL);
    CHECK_STATUS(weft_future_result(z, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[1], WEFT_ECANCELLED);
    weft_future *r = spawn(cancel_self_then_return, NULL);
    void *result = IPTR(1);
    CHECK_STATUS(weft_future_result(r, &result), WEFT_ECANCELLED); /* 12 discarded */
    CHECK(result == NULL);
    CHECK(weft_future_cancelled(r));
    weft_future_release(t);
    weft_future_release(z);
    weft_future_release(r);
    return NULL;
}

/* Cancellation 6 [test_tasks.BaseTaskTests.test_cancel_current_task, test_cancel_at_end] [probe] */
static void task_cancelling_itself(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_current, NULL);
    teardown();
}

/* Wait on S.f; record the status. */
static void *wait_on_f(void *arg)
{
    int i = (int)(intptr_t)arg;
    void *result = NULL;
    S.status[i] = weft_future_result(S.f, &result);
    S.cancelling_seen[i] = weft_task_cancelling(weft_current_task());
    return result;
}

static void *wait_release_plain(void *arg)
{
    return weft_event_wait(&S.release) == WEFT_OK ? arg : NULL;
}

/* Wait on the task S.g, then sleep: the status of each. */
static void *wait_on_g_then_sleep(void *arg)
{
    (void)arg;
    S.status[2] = weft_future_result(S.g, NULL);
    S.status[3] = weft_sleep(1.0);
    return NULL;
}

static void *cancel_waiter(void *arg)
{
    (void)arg;
    S.f = promise();
    weft_future *t = spawn(wait_on_f, IPTR(0));
    yield_n(1);
    CHECK(!weft_future_done(S.f));
    CHECK(weft_task_cancel(t, NULL));
    CHECK(weft_future_cancelled(S.f)); /* at once, inside the cancel */
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(t));
    weft_future_release(t);
    weft_future_release(S.f);
    /* the awaited is a task that is ready to go on (not yet resumed) when
     * the cancel comes: the cancel reaches it first, and the waiter's wait
     * says WEFT_ECANCELLED */
    S.g = spawn(wait_release_plain, IPTR(1));
    t = spawn(wait_on_g_then_sleep, NULL);
    yield_n(1);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK); /* g is runnable */
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(await_status(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[2], WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(S.g));
    /* whatever the order, the request is not lost: the wait or the sleep
     * after it reports it */
    CHECK(S.status[2] == WEFT_ECANCELLED || S.status[3] == WEFT_ECANCELLED);
    weft_future_release(t);
    weft_future_release(S.g);
    return NULL;
}

/* Cancellation 7 [test_tasks.BaseTaskTests.test_cancel_task_catching,
 * test_task_cancel_waiter_future] */
static void cancel_reaches_the_awaited_future(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_waiter, NULL);
    teardown();
}

/* Wait on S.f; on WEFT_ECANCELLED, let it propagate: in C a task that
 * nobody cancelled does so by cancelling itself before it returns. */
static void *wait_on_f_propagating(void *arg)
{
    int i = (int)(intptr_t)arg;
    S.status[i] = weft_future_result(S.f, NULL);
    S.cancelling_seen[i] = weft_task_cancelling(weft_current_task());
    if (S.status[i] == WEFT_ECANCELLED && S.cancelling_seen[i] == 0)
        (void)weft_task_cancel(weft_current_task(), NULL);
    return IPTR(1);
}

static void *cancel_inner_future(void *arg)
{
    (void)arg;
    S.f = promise();
    weft_future *t = spawn(wait_on_f_propagating, IPTR(0));
    yield_n(1);
    CHECK(weft_future_cancel(S.f));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_INT(S.cancelling_seen[0], 0); /* the task itself was not asked */
    CHECK(weft_future_cancelled(t));
    weft_future_release(t);
    weft_future_release(S.f);
    /* both the future and the task: one outcome */
    S.f = promise();
    t = spawn(wait_on_f_propagating, IPTR(1));
    yield_n(1);
    CHECK(weft_future_cancel(S.f));
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[1], WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(t));
    weft_future_release(t);
    weft_future_release(S.f);
    return NULL;
}

/* Cancellation 8 [test_tasks.BaseTaskTests.test_cancel_inner_future,
 * test_cancel_both_task_and_inner_future] */
static void cancelled_inner_future_cancels_the_wait(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_inner_future, NULL);
    teardown();
}

static void *catch_and_return(void *arg)
{
    (void)arg;
    S.status[0] = weft_future_result(S.f, NULL);
    S.cancelling_seen[0] = weft_task_uncancel(weft_current_task());
    return IPTR(42);
}

static void *catch_and_continue(void *arg)
{
    (void)arg;
    S.status[0] = weft_future_result(S.f, NULL); /* cancelled: swallowed */
    S.status[1] = weft_future_result(S.g, NULL); /* fut3 */
    S.cancelling_seen[1] = weft_task_cancelling(weft_current_task());
    return IPTR(42);
}

static void *cancel_catching(void *arg)
{
    (void)arg;
    S.f = promise();
    weft_future *t = spawn(catch_and_return, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_INT(PINT(await_ok(t)), 42);
    CHECK(!weft_future_cancelled(t));
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_INT(S.cancelling_seen[0], 0);
    weft_future_release(t);
    weft_future_release(S.f);
    /* swallowed without uncancel: the next wait is not cut, the count
     * stays 1, and returning with it ends the task cancelled (weft's rule:
     * asyncio would give 42 here) */
    S.f = promise();
    S.g = promise();
    t = spawn(catch_and_continue, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    yield_n(2); /* it is waiting on fut3 now */
    CHECK(weft_future_cancelled(S.f));
    CHECK(!weft_future_done(S.g));
    CHECK_STATUS(weft_future_set_result(S.g, IPTR(3)), WEFT_OK);
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_STATUS(S.status[1], WEFT_OK);
    CHECK(!weft_future_cancelled(S.g));
    CHECK_INT(S.cancelling_seen[1], 1); /* nothing reset it */
    CHECK_INT(weft_task_cancelling(t), 1);
    weft_future_release(t);
    weft_future_release(S.f);
    weft_future_release(S.g);
    return NULL;
}

/* Cancellation 9 [test_tasks.BaseTaskTests.test_cancel_task_catching, test_cancel_task_ignoring]
 * [probe] */
static void cancel_caught_by_the_task(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_catching, NULL);
    teardown();
}

static int inner_call(void)
{
    int rc = weft_future_result(S.f, NULL);
    if (rc == WEFT_ECANCELLED)
        atomic_store(&S.proof, 1); /* inner's handler first */
    return rc;
}

static void *outer_call(void *arg)
{
    (void)arg;
    int rc = inner_call();
    if (rc == WEFT_ECANCELLED)
        atomic_fetch_add(&S.proof, 100); /* then outer's */
    return NULL;
}

static void *call_chain(void *arg)
{
    (void)arg;
    S.f = promise();
    weft_future *t = spawn(outer_call, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(S.f));
    CHECK_INT(atomic_load(&S.proof), 101);
    weft_future_release(t);
    weft_future_release(S.f);
    return NULL;
}

/* Cancellation 10 [test_tasks.BaseTaskTests.test_yield_future_passes_cancel] */
static void cancel_passes_down_a_call_chain(void **state)
{
    (void)state;
    reset();
    run_ok(call_chain, NULL);
    teardown();
}

static void *await_b(void *arg)
{
    (void)arg;
    double t0 = weft_monotonic();
    S.status[0] = weft_future_result(S.b, NULL);
    S.elapsed_a = weft_monotonic() - t0;
    if (S.status[0] == WEFT_ECANCELLED && weft_task_cancelling(weft_current_task()) == 0)
        return IPTR(-1); /* caught: "cancelled" */
    return IPTR(1);
}

static void *task_awaits_task(void *arg)
{
    (void)arg;
    /* A.cancel(): B is cancelled too */
    S.b = spawn(sleeper, IPTR(1));
    S.a = spawn(await_b, NULL);
    yield_n(2);
    CHECK(weft_task_cancel(S.a, NULL));
    CHECK_STATUS(weft_future_result(S.a, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(await_status(S.b, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(S.a) && weft_future_cancelled(S.b));
    weft_future_release(S.a);
    weft_future_release(S.b);
    /* B.cancel() (by a timer): A's wait is cut, A catches it */
    S.b = spawn(sleeper, IPTR(1));
    S.a = spawn(await_b, NULL);
    yield_n(2);
    CHECK_STATUS(weft_loop_call_later(weft_get_running_loop(), 0.05, cancel_cb, S.b, NULL),
                 WEFT_OK);
    CHECK_INT(PINT(await_ok(S.a)), -1);
    CHECK(!weft_future_cancelled(S.a));
    CHECK_INT(weft_task_cancelling(S.a), 0);
    CHECK(weft_future_cancelled(S.b));
    CHECK(S.elapsed_a >= 0.6 * 0.05 && S.elapsed_a < SOON);
    weft_future_release(S.a);
    weft_future_release(S.b);
    return NULL;
}

/* Cancellation 11 [test_tasks.BaseTaskTests.test_task_cancel_sleeping_task] [doc] [probe] */
static void cancel_between_tasks_awaiting_tasks(void **state)
{
    (void)state;
    reset();
    run_ok(task_awaits_task, NULL);
    teardown();
}

static void *await_b_status(void *arg)
{
    int i = (int)(intptr_t)arg;
    S.status[i] = weft_future_result(S.b, NULL);
    S.cancelling_seen[i] = weft_task_cancelling(weft_current_task());
    return NULL;
}

static void *shared_child(void *arg)
{
    (void)arg;
    S.b = spawn(sleeper, IPTR(3));
    weft_future *a1 = spawn(await_b_status, IPTR(0)), *a2 = spawn(await_b_status, IPTR(1));
    yield_n(2);
    CHECK(weft_task_cancel(a1, NULL));
    CHECK_STATUS(weft_future_result(a1, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(await_status(S.b, NULL), WEFT_ECANCELLED);
    await_status(a2, NULL);
    CHECK_STATUS(S.status[1], WEFT_ECANCELLED); /* no counting of awaiters */
    CHECK_INT(S.cancelling_seen[1], 0);
    CHECK(!weft_future_cancelled(a2));
    weft_future_release(a1);
    weft_future_release(a2);
    weft_future_release(S.b);
    return NULL;
}

/* Cancellation 12 [probe] */
static void cancel_through_a_shared_child(void **state)
{
    (void)state;
    reset();
    run_ok(shared_child, NULL);
    teardown();
}

static void *nested_waits_g(void *arg)
{
    (void)arg;
    S.status[1] = weft_future_result(S.g, NULL);
    return NULL;
}

static void *cancel_self_then_await_nested(void *arg)
{
    (void)arg;
    S.nested = spawn(nested_waits_g, NULL);
    CHECK_STATUS(weft_sleep(0), WEFT_OK); /* it runs, and waits on g */
    CHECK(weft_task_cancel(weft_current_task(), NULL));
    double t0 = weft_monotonic();
    S.status[0] = weft_future_result(S.nested, NULL);
    S.elapsed = weft_monotonic() - t0;
    return NULL;
}

static void *cancel_awaited(void *arg)
{
    (void)arg;
    S.g = promise();
    weft_future *t = spawn(cancel_self_then_await_nested, NULL);
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(t));
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(S.elapsed < SOON);
    CHECK_STATUS(await_status(S.nested, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(S.nested));
    CHECK_STATUS(S.status[1], WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(S.g));
    weft_future_release(t);
    weft_future_release(S.nested);
    weft_future_release(S.g);
    return NULL;
}

/* Cancellation 13 [test_tasks.BaseTaskTests.test_cancel_awaited_task] (bpo-34872) */
static void pending_self_cancel_reaches_the_next_awaited_task(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_awaited, NULL);
    teardown();
}

static void *cancel_after_result(void *arg)
{
    (void)arg;
    S.f = promise();
    weft_future *t = spawn(wait_on_f, IPTR(0));
    yield_n(1);
    CHECK_STATUS(weft_future_set_result(S.f, "R"), WEFT_OK);
    CHECK(weft_task_cancel(t, NULL)); /* before it resumes */
    void *result = IPTR(1);
    CHECK_STATUS(weft_future_result(t, &result), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    void *r = NULL;
    CHECK_STATUS(weft_future_result(S.f, &r), WEFT_OK); /* keeps its result */
    CHECK(r != NULL && strcmp(r, "R") == 0);
    weft_future_release(t);
    weft_future_release(S.f);
    return NULL;
}

/* Cancellation 14 [probe] [test_tasks.BaseTaskTests.test_uncancel_resets_must_cancel] */
static void cancel_after_the_result_arrived_wins(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_after_result, NULL);
    teardown();
}

static void *catch_then_wait_release(void *arg)
{
    (void)arg;
    S.status[0] = weft_sleep(LONG_WAIT);
    S.status[1] = weft_event_wait(&S.release);
    return IPTR(5);
}

static void *catch_uncancel_then_sleep(void *arg)
{
    (void)arg;
    S.status[0] = weft_sleep(LONG_WAIT);
    S.cancelling_seen[0] = weft_task_uncancel(weft_current_task());
    S.status[1] = weft_sleep(0.01); /* awaits normally again */
    CHECK_STATUS(weft_event_set(&S.started), WEFT_OK);
    S.status[2] = weft_sleep(LONG_WAIT); /* a later cancel ends it */
    return IPTR(6);
}

static void *uncancel_counts(void *arg)
{
    (void)arg;
    weft_future *t = spawn(catch_then_wait_release, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK(weft_task_cancel(t, NULL));
    yield_n(2); /* delivered: it waits on the event now */
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_INT(weft_task_uncancel(t), 1);
    CHECK_INT(weft_task_uncancel(t), 0);
    CHECK_INT(weft_task_uncancel(t), 0); /* never below 0 */
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(t)), 5);
    CHECK_INT(weft_task_uncancel(t), 0); /* finished: no effect */
    CHECK(!weft_task_cancel(t, NULL));
    CHECK_INT(weft_task_cancelling(t), 0);
    weft_future_release(t);

    t = spawn(catch_uncancel_then_sleep, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_event_wait_timeout(&S.started, LONG_WAIT), WEFT_OK);
    CHECK_INT(S.cancelling_seen[0], 0);
    CHECK_STATUS(S.status[1], WEFT_OK);
    CHECK_INT(weft_task_cancelling(t), 0);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[2], WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(t));
    weft_future_release(t);
    return NULL;
}

/* Cancellation 15 [test_tasks.BaseTaskTests.test_uncancel_basic] [probe] */
static void uncancel_counts_down(void **state)
{
    (void)state;
    reset();
    run_ok(uncancel_counts, NULL);
    teardown();
}

static void *rescind(void *arg)
{
    (void)arg;
    S.f = promise();
    weft_future *t = spawn(wait_on_f, IPTR(0));
    yield_n(1);
    CHECK_STATUS(weft_future_set_result(S.f, IPTR(42)), WEFT_OK); /* it is runnable */
    CHECK(weft_task_cancel(t, NULL));
    CHECK_INT(weft_task_cancelling(t), 1);
    CHECK_INT(weft_task_uncancel(t), 0); /* before it was delivered */
    CHECK_INT(PINT(await_ok(t)), 42);
    CHECK_STATUS(S.status[0], WEFT_OK);
    CHECK(!weft_future_cancelled(t));
    weft_future_release(t);
    weft_future_release(S.f);
    return NULL;
}

/* Cancellation 16 [test_tasks.BaseTaskTests.test_uncancel_resets_must_cancel] [probe] (3.13) */
static void uncancel_before_delivery_rescinds(void **state)
{
    (void)state;
    reset();
    run_ok(rescind, NULL);
    teardown();
}

static void fire_and_cancel(void *arg)
{
    (void)arg;
    S.flag[0] = true;
    (void)weft_task_cancel(S.task, NULL);
}

/* asyncio's structured block, by hand: a timer cancels the task; a
 * cancellation that is only the timer's becomes a timeout. */
static void *structured_block(void *arg)
{
    double delay = arg ? 0.05 : LONG_WAIT;
    weft_handle *timer = NULL;
    S.flag[0] = false;
    CHECK_STATUS(weft_loop_call_later(weft_get_running_loop(), delay, fire_and_cancel, NULL,
                                      &timer),
                 WEFT_OK);
    int rc = weft_sleep(arg ? LONG_WAIT : 0.01);
    weft_handle_cancel(timer); /* finally: */
    weft_handle_release(timer);
    bool timed_out = false;
    if (S.flag[0] && weft_task_uncancel(weft_current_task()) == 0 && rc == WEFT_ECANCELLED)
        timed_out = true;
    S.flag[1] = timed_out;
    S.status[0] = rc;
    S.status[1] = weft_sleep(0.01); /* runs on to completion */
    S.cancelling_seen[0] = weft_task_cancelling(weft_current_task());
    return IPTR(7);
}

static void *structured(void *arg)
{
    (void)arg;
    for (int fires = 1; fires >= 0; fires--) {
        S.task = spawn(structured_block, IPTR(fires));
        CHECK_INT(PINT(await_ok(S.task)), 7);
        CHECK(!weft_future_cancelled(S.task));
        CHECK(S.flag[1] == (fires == 1));
        CHECK_STATUS(S.status[0], fires ? WEFT_ECANCELLED : WEFT_OK);
        CHECK_STATUS(S.status[1], WEFT_OK);
        CHECK_INT(S.cancelling_seen[0], 0);
        weft_future_release(S.task);
    }
    return NULL;
}

/* Cancellation 17 [test_tasks.BaseTaskTests.test_uncancel_structured_blocks] */
static void uncancel_in_a_structured_block(void **state)
{
    (void)state;
    reset();
    run_ok(structured, NULL);
    teardown();
}

static void *convert_cancel(void *arg)
{
    (void)arg;
    if (weft_sleep(LONG_WAIT) == WEFT_ECANCELLED)
        return fail_in_cleanup(WEFT_EINVAL, "converted");
    return NULL;
}

static void *converted(void *arg)
{
    (void)arg;
    weft_future *t = spawn(convert_cancel, NULL);
    yield_n(1);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(await_status(t, NULL), WEFT_EFAILED);
    CHECK(!weft_future_cancelled(t));
    CHECK_INT(weft_future_error_code(t), WEFT_EINVAL);
    CHECK_STR(weft_future_error_message(t), "converted");
    weft_future_release(t);
    return NULL;
}

/* Cancellation 18 [test_tasks.BaseTaskTests.test_cancellation_exception_context] [probe] */
static void cancel_converted_into_a_failure(void **state)
{
    (void)state;
    reset();
    run_ok(converted, NULL);
    teardown();
}

static void *raise_cancelled(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    (void)weft_task_cancel(weft_current_task(), "manual");
    return NULL;
}

static void *manual_cancel(void *arg)
{
    (void)arg;
    weft_future *t = spawn(raise_cancelled, NULL);
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(t));
    CHECK_STR(weft_future_error_message(t), "manual");
    CHECK(WEFT_ECANCELLED != WEFT_EFAILED); /* a status of its own */
    CHECK_INT(weft_future_error_code(t), 0);
    weft_future_release(t);
    return NULL;
}

/* Cancellation 20 [doc] [probe] (C's "raise CancelledError('manual')": cancel
 * yourself with a message, then return) */
static void task_ending_itself_cancelled(void **state)
{
    (void)state;
    reset();
    run_ok(manual_cancel, NULL);
    teardown();
}

static void *stress_waiter(void *arg)
{
    int rc = weft_event_wait(&S.release);
    atomic_fetch_add(&S.stress_cleanups, 1);
    return rc == WEFT_OK ? arg : IPTR(-1);
}

static void *stress_cancel(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < STRESS_WAITERS; i++)
        S.waiters[i] = spawn(stress_waiter, IPTR(i));
    yield_n(1);
    for (int i = 0; i < STRESS_WAITERS; i += 2)
        CHECK(weft_task_cancel(S.waiters[i], NULL));
    for (int i = 0; i < STRESS_WAITERS; i += 4) /* again: still one delivery */
        CHECK(weft_task_cancel(S.waiters[i], NULL));
    yield_n(1);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    for (intptr_t i = 0; i < STRESS_WAITERS; i++) {
        void *result = NULL;
        int rc = await_status(S.waiters[i], &result);
        if (i % 2 == 0) {
            CHECK_STATUS(rc, WEFT_ECANCELLED);
        } else {
            CHECK_STATUS(rc, WEFT_OK);
            CHECK(result == IPTR(i));
        }
        weft_future_release(S.waiters[i]);
    }
    CHECK_INT(atomic_load(&S.stress_cleanups), STRESS_WAITERS);
    return NULL;
}

/* Cancellation 1, 2, 3 under load: hundreds of waiters on one event, half of
 * them cancelled (some twice): each ends once, the right way. */
static void stress_cancel_half_of_many_waiters(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        reset();
        run_ok(stress_cancel, NULL);
        teardown();
    }
}

/* ---- shield ------------------------------------------------------------ */

/* Wait for S.release (some tests cancel this wait); count the ends. */
static void *wait_release_return(void *arg)
{
    if (weft_event_wait(&S.release) != WEFT_OK)
        return NULL;
    atomic_fetch_add(&S.proof, 1);
    return arg;
}

static void *fail_boom(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return weft_fail(WEFT_EINVAL, "boom");
}

static void *shield_outcomes(void *arg)
{
    (void)arg;
    weft_future *inner = spawn(wait_release_return, IPTR(42)), *outer = NULL;
    CHECK_STATUS(weft_shield(inner, &outer), WEFT_OK);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(outer)), 42);
    weft_future_release(outer);
    weft_future *bad = spawn(fail_boom, NULL);
    CHECK_STATUS(weft_shield(bad, &outer), WEFT_OK);
    CHECK_STATUS(await_status(outer, NULL), WEFT_EFAILED);
    CHECK_INT(weft_future_error_code(outer), WEFT_EINVAL);
    CHECK_STR(weft_future_error_message(outer), "boom");
    weft_future_release(outer);
    /* inner already done: the outer is at once */
    CHECK_STATUS(weft_shield(inner, &outer), WEFT_OK);
    CHECK(weft_future_done(outer));
    void *result = NULL;
    CHECK_STATUS(weft_future_result_timeout(outer, 0, &result), WEFT_OK);
    CHECK_INT(PINT(result), 42);
    weft_future_release(outer);
    CHECK_STATUS(weft_shield(NULL, &outer), WEFT_EINVAL);
    CHECK_STATUS(weft_shield(inner, NULL), WEFT_EINVAL);
    weft_future_release(inner);
    weft_future_release(bad);
    return NULL;
}

/* shield 1 [test_tasks.BaseTaskTests.test_shield_result, test_shield_exception,
 * test_shield_shortcut] */
static void shield_passes_the_outcome(void **state)
{
    (void)state;
    reset();
    run_ok(shield_outcomes, NULL);
    teardown();
}

static void *shield_cancels(void *arg)
{
    (void)arg;
    weft_future *inner = spawn(wait_release_return, IPTR(1)), *outer = NULL;
    CHECK_STATUS(weft_shield(inner, &outer), WEFT_OK);
    yield_n(1);
    CHECK(weft_task_cancel(inner, NULL));
    CHECK_STATUS(await_status(outer, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(outer));
    weft_future_release(outer);
    weft_future_release(inner);
    /* cancelling the outer leaves the inner alone */
    inner = spawn(wait_release_return, IPTR(2));
    CHECK_STATUS(weft_shield(inner, &outer), WEFT_OK);
    yield_n(1);
    CHECK(weft_future_cancel(outer));
    CHECK(weft_future_cancelled(outer));
    yield_n(2);
    CHECK(!weft_future_done(inner));
    CHECK_INT(weft_task_cancelling(inner), 0);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(inner)), 2);
    CHECK(weft_future_cancelled(outer)); /* stays so */
    weft_future_release(outer);
    weft_future_release(inner);
    return NULL;
}

/* shield 2 [test_tasks.BaseTaskTests.test_shield_cancel_inner, test_shield_cancel_outer] [probe] */
static void shield_cancel_inner_or_outer(void **state)
{
    (void)state;
    reset();
    run_ok(shield_cancels, NULL);
    teardown();
}

static void *await_outer(void *arg)
{
    S.status[0] = weft_future_result(arg, NULL);
    return NULL;
}

static void *shield_effect(void *arg)
{
    (void)arg;
    weft_future *inner = spawn(wait_release_return, IPTR(1)), *outer = NULL;
    CHECK_STATUS(weft_shield(inner, &outer), WEFT_OK);
    weft_future *waiter = spawn(await_outer, outer);
    yield_n(2);
    CHECK(weft_task_cancel(waiter, NULL));
    CHECK_STATUS(weft_future_result(waiter, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(!weft_future_done(inner));
    CHECK_INT(atomic_load(&S.proof), 0);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(inner)), 1); /* completes later */
    CHECK_INT(atomic_load(&S.proof), 1);
    weft_future_release(waiter);
    weft_future_release(outer);
    weft_future_release(inner);
    return NULL;
}

/* shield 3 [test_tasks.BaseTaskTests.test_shield_effect] [probe] */
static void shield_keeps_the_inner_running(void **state)
{
    (void)state;
    reset();
    run_ok(shield_effect, NULL);
    teardown();
}

static void *gather_a_b(void *arg)
{
    (void)arg;
    static void *results[2];
    weft_future *both[] = {S.a, S.b};
    int rc = weft_gather(both, 2, false, results);
    if (rc != WEFT_OK)
        return weft_fail(rc, "gather");
    return IPTR(PINT(results[0]) * 10 + PINT(results[1])); /* [1, 2] -> 12 */
}

static void *shield_of_gather(void *arg)
{
    (void)arg;
    S.a = spawn(wait_release_return, IPTR(1));
    S.b = spawn(wait_release_return, IPTR(2));
    weft_future *gathering = spawn(gather_a_b, NULL), *outer = NULL;
    CHECK_STATUS(weft_shield(gathering, &outer), WEFT_OK);
    weft_future *waiter = spawn(await_outer, outer);
    yield_n(3);
    CHECK(weft_task_cancel(waiter, NULL));
    CHECK_STATUS(weft_future_result(waiter, NULL), WEFT_ECANCELLED);
    CHECK(!weft_future_done(gathering));
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(gathering)), 12);
    CHECK(!weft_future_cancelled(S.a) && !weft_future_cancelled(S.b));
    weft_future *all[] = {S.a, S.b, gathering, outer, waiter};
    for (int i = 0; i < 5; i++)
        weft_future_release(all[i]);
    return NULL;
}

/* shield 4 [test_tasks.BaseTaskTests.test_shield_gather] (C's gather is a call: it runs in a
 * task, and the task is shielded) */
static void shield_of_a_gathering_task(void **state)
{
    (void)state;
    reset();
    run_ok(shield_of_gather, NULL);
    teardown();
}

static void *gather_shields(void *arg)
{
    (void)arg;
    weft_future *both[] = {S.outer1, S.outer2};
    S.status[0] = weft_gather(both, 2, false, NULL);
    return NULL;
}

static void *gather_of_shields(void *arg)
{
    (void)arg;
    S.a = spawn(wait_release_return, IPTR(1));
    S.b = spawn(wait_release_return, IPTR(2));
    CHECK_STATUS(weft_shield(S.a, &S.outer1), WEFT_OK);
    CHECK_STATUS(weft_shield(S.b, &S.outer2), WEFT_OK);
    weft_future *gathering = spawn(gather_shields, NULL);
    yield_n(2);
    CHECK(weft_task_cancel(gathering, NULL));
    CHECK_STATUS(weft_future_result(gathering, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(S.outer1) && weft_future_cancelled(S.outer2));
    CHECK(!weft_future_done(S.a) && !weft_future_done(S.b));
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(S.a)), 1);
    CHECK_INT(PINT(await_ok(S.b)), 2);
    weft_future *all[] = {S.a, S.b, S.outer1, S.outer2, gathering};
    for (int i = 0; i < 5; i++)
        weft_future_release(all[i]);
    return NULL;
}

/* shield 5 [test_tasks.BaseTaskTests.test_gather_shield] */
static void gather_of_shields_cancels_the_wrappers_only(void **state)
{
    (void)state;
    reset();
    run_ok(gather_of_shields, NULL);
    teardown();
}

static void *return_done_later(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0.1), WEFT_OK);
    return "done";
}

static void *wait_for_shield(void *arg)
{
    (void)arg;
    weft_future *t = spawn(return_done_later, NULL), *outer = NULL;
    CHECK_STATUS(weft_shield(t, &outer), WEFT_OK);
    CHECK_STATUS(weft_wait_for(outer, 0.01, NULL), WEFT_ETIMEDOUT);
    CHECK(!weft_future_done(t) && !weft_future_cancelled(t));
    void *result = await_ok(t);
    CHECK(result && strcmp(result, "done") == 0);
    weft_future_release(outer);
    weft_future_release(t);
    /* timeout 0: the wrapper is cancelled at once, the task goes on */
    t = spawn(return_done_later, NULL);
    CHECK_STATUS(weft_shield(t, &outer), WEFT_OK);
    CHECK_STATUS(weft_wait_for(outer, 0, NULL), WEFT_ETIMEDOUT);
    CHECK(weft_future_cancelled(outer));
    CHECK(!weft_future_done(t));
    result = await_ok(t);
    CHECK(result && strcmp(result, "done") == 0);
    weft_future_release(outer);
    weft_future_release(t);
    /* no timeout: a plain wait */
    t = spawn(return_done_later, NULL);
    CHECK_STATUS(weft_shield(t, &outer), WEFT_OK);
    result = NULL;
    CHECK_STATUS(weft_wait_for(outer, WEFT_FOREVER, &result), WEFT_OK);
    CHECK(result && strcmp(result, "done") == 0);
    weft_future_release(outer);
    weft_future_release(t);
    return NULL;
}

/* shield 6 [test_waitfor.WaitForShieldTests.test_shielded_timeout, test_zero_timeout,
 * test_none_timeout] (3.12) */
static void wait_for_a_shielded_task(void **state)
{
    (void)state;
    reset();
    run_ok(wait_for_shield, NULL);
    teardown();
}

static void *fire_and_forget(void *arg)
{
    (void)arg;
    weft_future *t = spawn(wait_release_return, IPTR(4)), *outer = NULL;
    CHECK_STATUS(weft_shield(t, &outer), WEFT_OK);
    weft_future_release(t); /* the loop keeps its own reference */
    weft_future *lone = spawn(wait_release_return, IPTR(5));
    weft_future_release(lone); /* nobody holds this one at all */
    yield_n(2);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(outer)), 4);
    for (int i = 0; i < 1000 && atomic_load(&S.proof) < 2; i++)
        CHECK_STATUS(weft_sleep(0.001), WEFT_OK);
    CHECK_INT(atomic_load(&S.proof), 2);
    weft_future_release(outer);
    return NULL;
}

/* shield 7 [doc] (weft's loop holds its tasks strongly: a shielded or
 * unreferenced task runs to its end) */
static void released_tasks_still_run_to_the_end(void **state)
{
    (void)state;
    reset();
    run_ok(fire_and_forget, NULL);
    teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cancel_takes_effect_at_the_next_wait),
        cmocka_unit_test(cancel_a_sleeping_task),
        cmocka_unit_test(cancel_twice_counts_two_delivers_one),
        cmocka_unit_test(cancel_before_first_step_skips_the_body),
        cmocka_unit_test(cancel_message_reaches_the_future),
        cmocka_unit_test(task_cancelling_itself),
        cmocka_unit_test(cancel_reaches_the_awaited_future),
        cmocka_unit_test(cancelled_inner_future_cancels_the_wait),
        cmocka_unit_test(cancel_caught_by_the_task),
        cmocka_unit_test(cancel_passes_down_a_call_chain),
        cmocka_unit_test(cancel_between_tasks_awaiting_tasks),
        cmocka_unit_test(cancel_through_a_shared_child),
        cmocka_unit_test(pending_self_cancel_reaches_the_next_awaited_task),
        cmocka_unit_test(cancel_after_the_result_arrived_wins),
        cmocka_unit_test(uncancel_counts_down),
        cmocka_unit_test(uncancel_before_delivery_rescinds),
        cmocka_unit_test(uncancel_in_a_structured_block),
        cmocka_unit_test(cancel_converted_into_a_failure),
        cmocka_unit_test(task_ending_itself_cancelled),
        cmocka_unit_test(stress_cancel_half_of_many_waiters),
        cmocka_unit_test(shield_passes_the_outcome),
        cmocka_unit_test(shield_cancel_inner_or_outer),
        cmocka_unit_test(shield_keeps_the_inner_running),
        cmocka_unit_test(shield_of_a_gathering_task),
        cmocka_unit_test(gather_of_shields_cancels_the_wrappers_only),
        cmocka_unit_test(wait_for_a_shielded_task),
        cmocka_unit_test(released_tasks_still_run_to_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
