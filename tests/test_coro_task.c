/* SPDX-License-Identifier: MIT */
/* test_coro_task.c — tasks (weft_spawn, weft_current_task, weft_all_tasks,
 * names, a task as a weft_future) against asyncio's behaviours (docs/python.md), section
 * "Task and create_task".  Each test's comment names the item ("Task 5")
 * and the CPython test it comes from; the items that do not apply to C are
 * listed in docs/python.md. */
#include "test_coro_a_util.h"

#define STRESS_TASKS 2000
#define STRESS_STEPS 3

static struct {
    atomic_int started, ran, order_n;
    int order[8];
    weft_future *a, *b, *c, *self_seen[4];
    weft_future *task, *other_loop_task, *returned;
    weft_event published, release;
    int self_status, set_result_status, set_exception_status, notify_status;
    int ok_status, fail_status, cancel_status;
    char names[4][64];
    char buf[256];
    int callback_runs[4];
    bool done_in_callback;
    weft_future *stress[STRESS_TASKS];
} S;

static void reset(void)
{
    memset(&S, 0, sizeof S);
    assert_int_equal(weft_event_init(&S.published), WEFT_OK);
    assert_int_equal(weft_event_init(&S.release), WEFT_OK);
}

static void teardown(void)
{
    weft_event_destroy(&S.published);
    weft_event_destroy(&S.release);
}

static void *mark_started(void *arg)
{
    atomic_fetch_add(&S.started, 1);
    return arg;
}

static void *spawn_and_look(void *arg)
{
    (void)arg;
    weft_future *child = spawn(mark_started, IPTR(1));
    /* not started: the creator has not suspended yet */
    CHECK_INT(atomic_load(&S.started), 0);
    busy(0.01);
    CHECK_INT(atomic_load(&S.started), 0);
    CHECK(!weft_future_done(child));
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    CHECK_INT(atomic_load(&S.started), 1);
    CHECK_INT(PINT(await_ok(child)), 1);
    weft_future_release(child);
    return NULL;
}

/* Task 1 [doc] [probe] */
static void spawned_task_starts_when_creator_suspends(void **state)
{
    (void)state;
    reset();
    run_ok(spawn_and_look, NULL);
    assert_int_equal(atomic_load(&S.started), 1);
    teardown();
}

static void *spawn_refusals(void *arg)
{
    (void)arg;
    weft_future *t = (weft_future *)&S;
    CHECK_STATUS(weft_spawn(NULL, NULL, NULL, &t), WEFT_EINVAL);
    CHECK(t == NULL);
    CHECK_STATUS(weft_spawn(NULL, NULL, NULL, &t), WEFT_EINVAL); /* again */
    CHECK_STATUS(weft_spawn(mark_started, NULL, NULL, NULL), WEFT_EINVAL);
    weft_task_options bad = WEFT_TASK_OPTIONS_INIT;
    bad.stack_mode = (weft_stack_mode)99;
    CHECK_STATUS(weft_spawn(mark_started, NULL, &bad, &t), WEFT_EINVAL);
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    CHECK_INT(atomic_load(&S.started), 0);
    return NULL;
}

/* Task 2 [test_tasks.BaseTaskTests.test_ensure_future_coroutine, test_shield_coroutine_without_loop,
 * FutureGatherTests.test_constructor_empty_sequence_without_loop,
 * BaseTaskTests.test_create_task_with_noncoroutine] (weft's gather and shield work from threads
 * by design) */
static void spawn_needs_a_running_loop_and_a_function(void **state)
{
    (void)state;
    reset();
    weft_future *t = (weft_future *)&S;
    assert_int_equal(weft_spawn(mark_started, NULL, NULL, &t), WEFT_ESTATE);
    assert_null(t);
    run_ok(spawn_refusals, NULL);
    assert_int_equal(atomic_load(&S.started), 0);
    /* no loop needed: gather of nothing, shield of a plain future */
    assert_int_equal(weft_gather(NULL, 0, false, NULL), WEFT_OK);
    weft_future *inner = NULL, *outer = NULL;
    assert_int_equal(weft_future_new(&inner), WEFT_OK);
    assert_int_equal(weft_shield(inner, &outer), WEFT_OK);
    assert_int_equal(weft_future_set_result(inner, IPTR(3)), WEFT_OK);
    void *result = NULL;
    assert_int_equal(weft_future_result_timeout(outer, LONG_WAIT, &result), WEFT_OK);
    assert_int_equal(PINT(result), 3);
    weft_future_release(outer);
    weft_future_release(inner);
    teardown();
}

static long task_number(const char *name)
{
    if (!name || strncmp(name, "Task-", 5) != 0)
        return -1;
    char *end;
    long n = strtol(name + 5, &end, 10);
    return *end == '\0' ? n : -1;
}

static void *names(void *arg)
{
    (void)arg;
    snprintf(S.names[0], sizeof S.names[0], "%s", weft_task_name(weft_current_task()));
    weft_future *a = spawn(mark_started, NULL), *b = spawn(mark_started, NULL);
    snprintf(S.names[1], sizeof S.names[1], "%s", weft_task_name(a));
    snprintf(S.names[2], sizeof S.names[2], "%s", weft_task_name(b));
    weft_task_options named = WEFT_TASK_OPTIONS_INIT;
    char given[16] = "No-op";
    named.name = given;
    weft_future *c = NULL;
    CHECK_STATUS(weft_spawn(mark_started, NULL, &named, &c), WEFT_OK);
    given[0] = 'X'; /* copied */
    CHECK_STR(weft_task_name(c), "No-op");
    char other[16] = "123456789";
    CHECK_STATUS(weft_task_set_name(c, other), WEFT_OK);
    other[0] = 'X';
    CHECK_STR(weft_task_name(c), "123456789");
    CHECK_STATUS(weft_task_set_name(c, NULL), WEFT_EINVAL);
    CHECK_STR(weft_task_name(c), "123456789");
    weft_future *plain = promise();
    CHECK_STATUS(weft_task_set_name(plain, "x"), WEFT_EINVAL);
    CHECK_STATUS(weft_task_set_name(NULL, "x"), WEFT_EINVAL);
    weft_future *all[] = {a, b, c};
    CHECK_STATUS(weft_gather(all, 3, false, NULL), WEFT_OK);
    CHECK_STR(weft_task_name(c), "123456789"); /* still valid once ended */
    weft_future_release(plain);
    weft_future_release(a);
    weft_future_release(b);
    weft_future_release(c);
    return NULL;
}

static void *one_more_name(void *arg)
{
    (void)arg;
    weft_future *d = spawn(mark_started, NULL);
    snprintf(S.names[3], sizeof S.names[3], "%s", weft_task_name(d));
    await_ok(d);
    weft_future_release(d);
    return NULL;
}

/* Task 3 [test_tasks.BaseTaskTests.test_task_repr_autogenerated, test_bare_create_named_task,
 * test_task_set_name_pylong, test_task_repr_name_not_str] */
static void task_names_default_and_given(void **state)
{
    (void)state;
    reset();
    run_ok(names, NULL);
    run_ok(one_more_name, NULL); /* N grows across loops too */
    long n[4];
    for (int i = 0; i < 4; i++) {
        n[i] = task_number(S.names[i]);
        assert_true(n[i] > 0);
    }
    assert_true(n[0] < n[1] && n[1] < n[2] && n[2] < n[3]);
    teardown();
}

/* Wait for S.release (some tests cancel this wait). */
static void *wait_release(void *arg)
{
    return weft_event_wait(&S.release) == WEFT_OK ? arg : NULL;
}

static void *repr_by_state(void *arg)
{
    (void)arg;
    weft_future *ok = spawn(mark_started, IPTR(42)), *failing = spawn(wait_release, NULL);
    weft_future *cancelled = spawn(wait_release, NULL);
    yield_n(2);
    weft_future_repr(ok, S.buf, sizeof S.buf);
    CHECK(strstr(S.buf, "finished") != NULL && strstr(S.buf, "0x2a") != NULL);
    CHECK(weft_task_cancel(cancelled, NULL));
    CHECK_STATUS(await_status(cancelled, NULL), WEFT_ECANCELLED);
    weft_future_repr(cancelled, S.buf, sizeof S.buf);
    CHECK(strstr(S.buf, "cancelled") != NULL);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    await_ok(failing);
    weft_future_release(ok);
    weft_future_release(failing);
    weft_future_release(cancelled);
    return NULL;
}

/* Task 4 [test_tasks.BaseTaskTests.test_task_repr, test_task_repr_wait_for, test_cancelling]
 * (the states weft_future_repr shows: no "cancelling" or "wait_for=" in weft) */
static void task_repr_shows_its_state(void **state)
{
    (void)state;
    reset();
    run_ok(repr_by_state, NULL);
    teardown();
}

static void *return_42(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return IPTR(42);
}

static void *return_1000(void *arg)
{
    (void)arg;
    return IPTR(1000);
}

static void *fail_e(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return weft_fail(WEFT_EINVAL, "E %d", 7);
}

static void *outer_sum(void *arg)
{
    (void)arg;
    weft_future *i1 = spawn(return_42, NULL);
    long long r = PINT(await_ok(i1));
    weft_future *i2 = spawn(return_1000, NULL);
    r += PINT(await_ok(i2));
    weft_future_release(i1);
    weft_future_release(i2);
    return IPTR(r);
}

static void *await_shared(void *arg)
{
    void *result = NULL;
    CHECK_STATUS(weft_future_result(arg, &result), WEFT_OK);
    return result;
}

static void *basics(void *arg)
{
    (void)arg;
    weft_future *outer = spawn(outer_sum, NULL);
    CHECK_INT(PINT(await_ok(outer)), 1042);
    weft_future *ok = spawn(return_42, NULL);
    /* two tasks awaiting one task both get its result */
    weft_future *w1 = spawn(await_shared, ok), *w2 = spawn(await_shared, ok);
    CHECK_INT(PINT(await_ok(w1)), 42);
    CHECK_INT(PINT(await_ok(w2)), 42);
    CHECK(weft_future_done(ok) && !weft_future_cancelled(ok));
    int code = -1;
    const char *message = "x";
    CHECK_STATUS(weft_future_exception(ok, &code, &message), WEFT_OK);
    CHECK_INT(code, 0);
    CHECK(message == NULL);
    weft_future *bad = spawn(fail_e, NULL);
    void *result = IPTR(1);
    CHECK_STATUS(weft_future_result(bad, &result), WEFT_EFAILED);
    CHECK(result == NULL);
    CHECK_STATUS(weft_future_exception(bad, &code, &message), WEFT_OK);
    CHECK_INT(code, WEFT_EINVAL);
    CHECK_STR(message, "E 7");
    CHECK_INT(weft_future_error_code(bad), WEFT_EINVAL);
    CHECK(weft_future_done(bad) && !weft_future_cancelled(bad));
    weft_future *all[] = {outer, ok, w1, w2, bad};
    for (int i = 0; i < 5; i++)
        weft_future_release(all[i]);
    return NULL;
}

/* Task 5 [test_tasks.BaseTaskTests.test_task_basics, test_task_class, test_exception_traceback,
 * test_futures.BaseFutureTests.test_exception] [probe] */
static void task_result_and_failure(void **state)
{
    (void)state;
    reset();
    run_ok(basics, NULL);
    teardown();
}

static void *pending_queries(void *arg)
{
    (void)arg;
    weft_future *t = spawn(wait_release, NULL);
    yield_n(1);
    void *result = IPTR(1);
    int code = -1;
    const char *message = "x";
    CHECK_STATUS(weft_future_result_timeout(t, 0, &result), WEFT_ETIMEDOUT);
    CHECK(result == NULL);
    CHECK_STATUS(weft_future_exception_timeout(t, 0, &code, &message), WEFT_ETIMEDOUT);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_STATUS(await_status(t, NULL), WEFT_ECANCELLED);
    CHECK_STATUS(weft_future_result_timeout(t, 0, &result), WEFT_ECANCELLED);
    CHECK_STATUS(weft_future_result(t, &result), WEFT_ECANCELLED);
    CHECK_STATUS(weft_future_exception_timeout(t, 0, &code, &message), WEFT_ECANCELLED);
    CHECK_STATUS(weft_future_exception(t, &code, &message), WEFT_ECANCELLED);
    weft_future_release(t);
    return NULL;
}

/* Task 6 [test_futures.BaseFutureTests.test_result, test_exception, test_cancel] [probe]
 * (a poll of a pending task is WEFT_ETIMEDOUT: weft's result() waits) */
static void task_queries_pending_and_cancelled(void **state)
{
    (void)state;
    reset();
    run_ok(pending_queries, NULL);
    teardown();
}

static void *set_methods(void *arg)
{
    (void)arg;
    weft_future *t = spawn(wait_release, IPTR(5));
    yield_n(1);
    CHECK_STATUS(weft_future_set_result(t, IPTR(9)), WEFT_ESTATE);
    CHECK_STATUS(weft_future_set_exception(t, WEFT_EINVAL, "no"), WEFT_ESTATE);
    CHECK_STATUS(weft_future_set_running_or_notify_cancel(t), WEFT_ESTATE);
    CHECK(!weft_future_done(t));
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    CHECK_INT(PINT(await_ok(t)), 5); /* its own result, not 9 */
    weft_future_release(t);
    return NULL;
}

/* Task 7 [test_tasks.BaseTaskTests.test_task_set_methods,
 * SetMethodsTest.test_set_result_causes_invalid_state] {internal} (RuntimeError: WEFT_ESTATE) */
static void task_cannot_be_completed_by_hand(void **state)
{
    (void)state;
    reset();
    run_ok(set_methods, NULL);
    teardown();
}

static void *await_self(void *arg)
{
    (void)arg;
    S.self_status = weft_future_result(weft_current_task(), NULL);
    return NULL;
}

static void *other_loop_child(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_sleep(0.05), WEFT_OK);
    return IPTR(7);
}

static void *other_loop_main(void *arg)
{
    (void)arg;
    S.other_loop_task = spawn(other_loop_child, NULL);
    CHECK_STATUS(weft_event_set(&S.published), WEFT_OK);
    await_ok(S.other_loop_task);
    return NULL;
}

static void *other_loop_thread(void *arg)
{
    (void)arg;
    weft_loop_options options = test_loop_options();
    CHECK_STATUS(weft_run(other_loop_main, NULL, &options, NULL), WEFT_OK);
    return NULL;
}

static void *awaits(void *arg)
{
    (void)arg;
    weft_future *t = spawn(await_self, NULL);
    /* bounded: a task stuck on itself is cut after 2 s (and then reports
     * WEFT_ECANCELLED instead of WEFT_ESTATE) */
    int rc = weft_wait_for(t, 2.0, NULL);
    CHECK_STATUS(S.self_status, WEFT_ESTATE);
    CHECK_STATUS(rc, WEFT_OK);
    weft_future_release(t);
    /* a task of another thread's loop: weft allows it */
    pthread_t thread;
    CHECK_INT(pthread_create(&thread, NULL, other_loop_thread, NULL), 0);
    CHECK_STATUS(weft_event_wait_timeout(&S.published, LONG_WAIT), WEFT_OK);
    void *result = NULL;
    CHECK_STATUS(weft_future_result(S.other_loop_task, &result), WEFT_OK);
    CHECK_INT(PINT(result), 7);
    pthread_join(thread, NULL);
    weft_future_release(S.other_loop_task);
    return NULL;
}

/* Task 8 [test_tasks.BaseTaskTests.test_task_awaits_on_itself, test_other_loop_future]
 * (the other-loop part differs by design: a weft task may wait on any future) */
static void task_awaiting_itself_is_refused(void **state)
{
    (void)state;
    reset();
    run_ok(awaits, NULL);
    teardown();
}

static void *return_a_future(void *arg)
{
    (void)arg;
    S.returned = promise();
    return S.returned; /* returned, not awaited */
}

static void *future_as_result(void *arg)
{
    (void)arg;
    weft_future *t = spawn(return_a_future, NULL);
    void *result = await_ok(t);
    CHECK(result == S.returned);
    CHECK(!weft_future_done(S.returned));
    weft_future_release(t);
    weft_future_release(S.returned);
    return NULL;
}

/* Task 9 [test_tasks.BaseTaskTests.test_coroutine_non_gen_function_return_future] */
static void task_returning_a_future_has_it_as_result(void **state)
{
    (void)state;
    reset();
    run_ok(future_as_result, NULL);
    teardown();
}

static void record_callback(weft_future *f, void *arg)
{
    int n = atomic_fetch_add(&S.order_n, 1);
    if (n < 8)
        S.order[n] = (int)(intptr_t)arg;
    if (!weft_future_done(f))
        S.done_in_callback = false;
}

static void *done_callbacks(void *arg)
{
    (void)arg;
    S.done_in_callback = true;
    weft_future *t = spawn(return_42, NULL);
    CHECK_STATUS(weft_future_add_done_callback(t, record_callback, IPTR(42)), WEFT_OK);
    CHECK_STATUS(weft_future_add_done_callback(t, record_callback, IPTR(17)), WEFT_OK);
    CHECK_INT(atomic_load(&S.order_n), 0);
    await_ok(t);
    yield_n(2);
    CHECK_INT(atomic_load(&S.order_n), 2);
    /* on a task already done: it still runs, by the next suspension */
    CHECK_STATUS(weft_future_add_done_callback(t, record_callback, IPTR(3)), WEFT_OK);
    yield_n(2);
    CHECK_INT(atomic_load(&S.order_n), 3);
    weft_future_release(t);
    return NULL;
}

/* Task 10 [test_futures.BaseFutureDoneCallbackTests.test_callbacks_invoked_on_set_result,
 * test_callbacks_invoked_on_set_exception] [doc] [probe] (order and "after completion"; see
 * docs/python.md on when weft runs them) */
static void task_done_callbacks_in_order(void **state)
{
    (void)state;
    reset();
    run_ok(done_callbacks, NULL);
    assert_int_equal(atomic_load(&S.order_n), 3);
    assert_int_equal(S.order[0], 42);
    assert_int_equal(S.order[1], 17);
    assert_int_equal(S.order[2], 3);
    assert_true(S.done_in_callback);
    teardown();
}

static void counting_callback(weft_future *f, void *arg)
{
    (void)f;
    S.callback_runs[(intptr_t)arg]++;
}

static void adding_callback(weft_future *f, void *arg)
{
    S.callback_runs[(intptr_t)arg]++;
    CHECK_STATUS(weft_future_add_done_callback(f, counting_callback, IPTR(3)), WEFT_OK);
}

static void *mutating_callbacks(void *arg)
{
    (void)arg;
    weft_future *t = spawn(return_42, NULL);
    CHECK_STATUS(weft_future_add_done_callback(t, counting_callback, IPTR(0)), WEFT_OK);
    CHECK_STATUS(weft_future_add_done_callback(t, adding_callback, IPTR(1)), WEFT_OK);
    CHECK_STATUS(weft_future_add_done_callback(t, counting_callback, IPTR(2)), WEFT_OK);
    await_ok(t);
    yield_n(3);
    weft_future_release(t);
    return NULL;
}

/* Task 12 [test_futures.BaseFutureDoneCallbackTests.test_schedule_callbacks_list_mutation_1,
 * test_schedule_callbacks_list_mutation_2] (a callback adding one mid-dispatch; C callbacks
 * cannot raise, and weft has no remove_done_callback) */
static void task_callback_adding_a_callback(void **state)
{
    (void)state;
    reset();
    run_ok(mutating_callbacks, NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(S.callback_runs[i], 1);
    teardown();
}

static void *see_self(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int step = 0; step < 3; step++) {
        if (weft_current_task() != S.self_seen[i])
            return IPTR(-1);
        CHECK_STATUS(weft_sleep(0), WEFT_OK);
    }
    return weft_current_task() == S.self_seen[i] ? IPTR(1) : IPTR(-1);
}

static void *current_tasks(void *arg)
{
    (void)arg;
    weft_future *me = weft_current_task();
    CHECK(me != NULL);
    CHECK(weft_is_task(me));
    CHECK_STATUS(weft_sleep(0.001), WEFT_OK);
    CHECK(weft_current_task() == me); /* also after resuming */
    /* two interleaving tasks see themselves across suspensions */
    S.self_seen[0] = spawn(see_self, IPTR(0));
    S.self_seen[1] = spawn(see_self, IPTR(1));
    CHECK_INT(PINT(await_ok(S.self_seen[0])), 1);
    CHECK_INT(PINT(await_ok(S.self_seen[1])), 1);
    CHECK(weft_current_task() == me);
    weft_future_release(S.self_seen[0]);
    weft_future_release(S.self_seen[1]);
    return NULL;
}

static void outside_task_cb(void *arg)
{
    (void)arg;
    S.self_status = weft_current_task() == NULL ? 1 : 2;
}

static void *callback_sees_no_task(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_loop_call_soon(weft_get_running_loop(), outside_task_cb, NULL, NULL),
                 WEFT_OK);
    yield_n(2);
    CHECK_INT(S.self_status, 1);
    return NULL;
}

/* Task 13 [test_tasks.BaseTaskTests.test_current_task, test_current_task_with_interleaving_tasks,
 * BaseCurrentLoopTests.test_current_task_no_running_loop, test_current_task_with_implicit_loop] */
static void current_task_is_the_running_one(void **state)
{
    (void)state;
    reset();
    run_ok(current_tasks, NULL);
    run_ok(callback_sees_no_task, NULL); /* a callback is not in a task */
    assert_null(weft_current_task());
    teardown();
}

static bool listed(weft_future **tasks, size_t n, weft_future *t)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i] == t)
            return true;
    return false;
}

static void release_all(weft_future **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weft_future_release(tasks[i]);
}

static void *all_tasks(void *arg)
{
    (void)arg;
    weft_future *list[8] = {0};
    weft_future *me = weft_current_task();
    size_t n = weft_all_tasks(list, 8);
    CHECK_INT(n, 1);
    CHECK(listed(list, n < 8 ? n : 8, me));
    release_all(list, n < 8 ? n : 8);
    weft_future *a = spawn(mark_started, NULL), *b = spawn(wait_release, NULL);
    n = weft_all_tasks(list, 8);
    CHECK_INT(n, 3);
    CHECK(listed(list, 3, me) && listed(list, 3, a) && listed(list, 3, b));
    release_all(list, n < 8 ? n : 8);
    CHECK_INT(weft_all_tasks(list, 1), 3); /* the count, with less room */
    weft_future_release(list[0]);
    CHECK_INT(weft_all_tasks(NULL, 0), 3);
    await_ok(a); /* a done task leaves */
    n = weft_all_tasks(list, 8);
    CHECK_INT(n, 2);
    CHECK(!listed(list, n < 8 ? n : 8, a));
    release_all(list, n < 8 ? n : 8);
    CHECK_STATUS(weft_event_set(&S.release), WEFT_OK);
    await_ok(b);
    CHECK_INT(weft_all_tasks(NULL, 0), 1);
    weft_future_release(a);
    weft_future_release(b);
    return NULL;
}

/* Task 14 [doc] [probe] [test_tasks.BaseTaskTests.test_log_destroyed_pending_task] */
static void all_tasks_lists_tasks_not_ended(void **state)
{
    (void)state;
    reset();
    run_ok(all_tasks, NULL);
    assert_int_equal(weft_all_tasks(NULL, 0), 0); /* outside a loop */
    teardown();
}

static void *task_is_a_future(void *arg)
{
    (void)arg;
    weft_future *plain = promise();
    CHECK(!weft_is_task(plain));
    CHECK(!weft_is_task(NULL));
    weft_future *t = spawn(return_42, NULL);
    CHECK(weft_is_task(t));
    CHECK(!weft_future_done(t));
    CHECK_STATUS(weft_future_add_done_callback(t, counting_callback, IPTR(0)), WEFT_OK);
    /* a thread-style wait on many works on tasks */
    bool done = false;
    CHECK_STATUS(weft_wait(&t, 1, LONG_WAIT, WEFT_ALL_COMPLETED, &done), WEFT_OK);
    CHECK(done);
    CHECK(weft_future_done(t) && !weft_future_cancelled(t) && !weft_future_running(t));
    CHECK_INT(weft_future_get_state(t), WEFT_FUTURE_FINISHED);
    CHECK_INT(PINT(await_ok(t)), 42);
    yield_n(1);
    CHECK_INT(S.callback_runs[0], 1);
    CHECK(weft_is_task(weft_current_task()));
    weft_future_release(plain);
    weft_future_release(t);
    return NULL;
}

/* Task 15 [test_tasks.GenericTaskTests.test_future_subclass, BaseTaskTests.test_task_class,
 * test_ensure_future_future] [doc] (no get_loop in weft; ensure_future has no C form) */
static void task_is_a_weft_future(void **state)
{
    (void)state;
    reset();
    run_ok(task_is_a_future, NULL);
    teardown();
}

static void *stress_step(void *arg)
{
    for (int i = 0; i < STRESS_STEPS; i++)
        if (weft_sleep(0) != WEFT_OK)
            return weft_fail(WEFT_ESTATE, "sleep(0) failed");
    atomic_fetch_add(&S.ran, 1);
    return arg;
}

static void *stress(void *arg)
{
    (void)arg;
    for (intptr_t i = 0; i < STRESS_TASKS; i++)
        S.stress[i] = spawn(stress_step, IPTR(i));
    static void *results[STRESS_TASKS];
    CHECK_STATUS(weft_gather(S.stress, STRESS_TASKS, false, results), WEFT_OK);
    for (intptr_t i = 0; i < STRESS_TASKS; i++) {
        CHECK(results[i] == IPTR(i));
        weft_future_release(S.stress[i]);
    }
    CHECK_INT(weft_all_tasks(NULL, 0), 1);
    return NULL;
}

/* Task 1, 5, 14 under load: thousands of tasks interleaving on one loop, each
 * ending once with its own result, none left behind. */
static void stress_many_tasks_interleave(void **state)
{
    (void)state;
    reset();
    for (int round = 0; round < 3; round++)
        run_ok(stress, NULL);
    assert_int_equal(atomic_load(&S.ran), 3 * STRESS_TASKS);
    teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spawned_task_starts_when_creator_suspends),
        cmocka_unit_test(spawn_needs_a_running_loop_and_a_function),
        cmocka_unit_test(task_names_default_and_given),
        cmocka_unit_test(task_repr_shows_its_state),
        cmocka_unit_test(task_result_and_failure),
        cmocka_unit_test(task_queries_pending_and_cancelled),
        cmocka_unit_test(task_cannot_be_completed_by_hand),
        cmocka_unit_test(task_awaiting_itself_is_refused),
        cmocka_unit_test(task_returning_a_future_has_it_as_result),
        cmocka_unit_test(task_done_callbacks_in_order),
        cmocka_unit_test(task_callback_adding_a_callback),
        cmocka_unit_test(current_task_is_the_running_one),
        cmocka_unit_test(all_tasks_lists_tasks_not_ended),
        cmocka_unit_test(task_is_a_weft_future),
        cmocka_unit_test(stress_many_tasks_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
