/* SPDX-License-Identifier: MIT */
/* test_coro_thread.c — running blocking work on threads from coroutines
 * (weft_to_thread, and waiting on an executor's futures), against asyncio's
 * "to_thread / run_in_executor" behaviours (the asyncio checklist,
 * docs/python.md). */
#include "coro_harness.h"

#define CORO_TEST(name)                                                       \
    static void *name##_main(void *arg);                                      \
    static void name(void **state)                                            \
    {                                                                         \
        (void)state;                                                          \
        run_coro(name##_main, NULL);                                          \
    }                                                                         \
    static void *name##_main(void *arg)

typedef struct work {
    atomic_int calls;
    atomic_int finished;
    atomic_bool started;
    atomic_bool saw_cancelled;
    atomic_int wait_rc;
    atomic_bool on_loop_thread;
    uint64_t loop_ident;
    weft_event release;
    int numbers[2];
    atomic_size_t active_inside;
} work;

static void work_init(work *w)
{
    memset(w, 0, sizeof *w);
    weft_event_init(&w->release);
    w->loop_ident = weft_get_ident();
    atomic_store(&w->wait_rc, -1);
}

static void *sum_numbers(void *p)
{
    work *w = p;
    atomic_fetch_add(&w->calls, 1);
    if (weft_get_ident() == w->loop_ident)
        atomic_store(&w->on_loop_thread, true);
    return ITEM(w->numbers[0] + w->numbers[1]);
}

static void *raise_runtime_error(void *p)
{
    work *w = p;
    atomic_fetch_add(&w->calls, 1);
    return weft_fail(WEFT_ESTATE, "test");
}

static void *sleep_and_count(void *p)
{
    work *w = p;
    atomic_fetch_add(&w->calls, 1);
    if (weft_get_ident() == w->loop_ident)
        atomic_store(&w->on_loop_thread, true);
    weft_sleep(0.02);
    atomic_fetch_add(&w->finished, 1);
    return NULL;
}

typedef struct ticker {
    atomic_bool stop;
    atomic_long ticks;
} ticker;

static void *tick(void *p)
{
    ticker *t = p;
    while (!atomic_load(&t->stop)) {
        weft_sleep(0.001);
        atomic_fetch_add(&t->ticks, 1);
    }
    return NULL;
}

static void *to_thread_sum(void *p)
{
    void *result = NULL;
    CO_CHECK_RC(weft_to_thread(sleep_and_count, p, &result), WEFT_OK);
    return result;
}

/* asyncio to_thread 1 (one void * argument: docs/python.md)
 * [test_threads.ToThreadTests.test_to_thread, test_to_thread_exception,
 * test_to_thread_once, test_to_thread_args_kwargs, test_to_thread_concurrent] */
CORO_TEST(to_thread_returns_the_result_or_the_failure_and_runs_once)
{
    (void)arg;
    work w;
    work_init(&w);
    w.numbers[0] = 40;
    w.numbers[1] = 2;
    void *result = NULL;
    CO_CHECK_RC(weft_to_thread(sum_numbers, &w, &result), WEFT_OK);
    CO_CHECK_INT(VALUE(result), 42);
    CO_CHECK_INT(atomic_load(&w.calls), 1);
    CO_CHECK(!atomic_load(&w.on_loop_thread));

    atomic_store(&w.calls, 0);
    result = ITEM(1);
    CO_CHECK_RC(weft_to_thread(raise_runtime_error, &w, &result), WEFT_ESTATE);
    CO_CHECK(result == NULL);
    CO_CHECK_INT(atomic_load(&w.calls), 1);

    /* Ten at once, gathered; the loop keeps running meanwhile. */
    atomic_store(&w.calls, 0);
    ticker tk = {false, 0};
    weft_future *ticking = co_spawn(tick, &tk);
    weft_future *tasks[10];
    for (int i = 0; i < 10; i++)
        tasks[i] = co_spawn(to_thread_sum, &w);
    CO_CHECK_RC(weft_gather(tasks, 10, false, NULL), WEFT_OK);
    CO_CHECK_INT(atomic_load(&w.calls), 10);
    CO_CHECK_INT(atomic_load(&w.finished), 10);
    CO_CHECK(!atomic_load(&w.on_loop_thread));
    CO_CHECK(atomic_load(&tk.ticks) > 0);
    for (int i = 0; i < 10; i++)
        weft_future_release(tasks[i]);
    atomic_store(&tk.stop, true);
    CO_CHECK_RC(co_finish(ticking, 5), WEFT_OK);
    return NULL;
}

/* asyncio to_thread 2 (run_in_executor is submit plus a wait on the
 * future) [test_events.EventLoopTestsMixin.test_run_in_executor] */
CORO_TEST(executor_future_awaited_from_a_coroutine_runs_on_another_thread)
{
    (void)arg;
    work w;
    work_init(&w);
    w.numbers[0] = 'y';
    w.numbers[1] = 'o';
    weft_executor *pool = NULL;
    CO_CHECK_RC(weft_thread_pool_new(&pool, NULL), WEFT_OK);
    ticker tk = {false, 0};
    weft_future *ticking = co_spawn(tick, &tk);
    weft_future *f = NULL;
    CO_CHECK_RC(weft_executor_submit(pool, sleep_and_count, &w, &f), WEFT_OK);
    CO_CHECK_RC(weft_future_result(f, NULL), WEFT_OK);
    CO_CHECK(atomic_load(&tk.ticks) > 0); /* the loop ran other tasks */
    weft_future_release(f);
    void *result = NULL;
    CO_CHECK_RC(weft_executor_submit(pool, sum_numbers, &w, &f), WEFT_OK);
    CO_CHECK_RC(weft_future_result(f, &result), WEFT_OK);
    CO_CHECK_INT(VALUE(result), 'y' + 'o');
    CO_CHECK(!atomic_load(&w.on_loop_thread));
    weft_future_release(f);
    atomic_store(&tk.stop, true);
    CO_CHECK_RC(co_finish(ticking, 5), WEFT_OK);
    CO_CHECK_RC(weft_executor_free(pool), WEFT_OK);
    return NULL;
}

/* Runs on: the default pool; keeps going after its waiter is cancelled. */
static void *run_until_released(void *p)
{
    work *w = p;
    atomic_store(&w->started, true);
    weft_event_wait_timeout(&w->release, 10);
    atomic_store(&w->saw_cancelled, weft_cancelled());
    atomic_fetch_add(&w->finished, 1);
    return NULL;
}

/* As run_until_released, with its weft waits cancellable. */
static void *wait_cancellably(void *p)
{
    work *w = p;
    weft_cancellable(true);
    atomic_store(&w->started, true);
    atomic_store(&w->wait_rc, weft_event_wait_timeout(&w->release, 10));
    atomic_fetch_add(&w->finished, 1);
    return NULL;
}

typedef struct to_thread_call {
    weft_task_fn fn;
    work *w;
    atomic_int rc;
    double returned_at;
    weft_thread *later;
} to_thread_call;

static void *call_to_thread(void *p)
{
    to_thread_call *c = p;
    atomic_store(&c->rc, weft_to_thread(c->fn, c->w, NULL));
    c->returned_at = weft_monotonic();
    return NULL;
}

/* asyncio to_thread 3 [probe, doc] */
CORO_TEST(to_thread_cancelled_returns_at_once_while_the_function_runs_on)
{
    (void)arg;
    work w;
    work_init(&w);
    to_thread_call call = {run_until_released, &w, -1, 0, NULL};
    weft_future *t = co_spawn(call_to_thread, &call);
    wait_until(atomic_load(&w.started), 5);
    CO_CHECK(atomic_load(&w.started));
    double t0 = weft_monotonic();
    CO_CHECK(weft_task_cancel(t, NULL));
    CO_CHECK_RC(co_finish(t, 5), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&call.rc), WEFT_ECANCELLED);
    CO_CHECK(call.returned_at - t0 < 0.5);
    CO_CHECK_INT(atomic_load(&w.finished), 0); /* still running */
    CO_CHECK_RC(weft_event_set(&w.release), WEFT_OK);
    wait_until(atomic_load(&w.finished) == 1, 5);
    CO_CHECK_INT(atomic_load(&w.finished), 1);
    CO_CHECK(atomic_load(&w.saw_cancelled));

    /* With weft_cancellable(true), the function's own waits return. */
    work_init(&w);
    to_thread_call call2 = {wait_cancellably, &w, -1, 0, NULL};
    t = co_spawn(call_to_thread, &call2);
    wait_until(atomic_load(&w.started), 5);
    CO_CHECK(weft_task_cancel(t, NULL));
    CO_CHECK_RC(co_finish(t, 5), WEFT_ECANCELLED);
    wait_until(atomic_load(&w.finished) == 1, 5);
    CO_CHECK_RC(atomic_load(&w.wait_rc), WEFT_ECANCELLED);
    return NULL;
}

static void *start_and_cancel_a_to_thread(void *p)
{
    work *w = p;
    to_thread_call *call = malloc(sizeof *call);
    *call = (to_thread_call){run_until_released, w, -1, 0, NULL};
    weft_future *t = co_spawn(call_to_thread, call);
    wait_until(atomic_load(&w->started), 5);
    CO_CHECK(weft_task_cancel(t, NULL));
    CO_CHECK_RC(co_finish(t, 5), WEFT_ECANCELLED);
    free(call);
    return NULL;
}

static void *set_event_later(void *p)
{
    weft_sleep(0.1);
    weft_event_set(p);
    return NULL;
}

/* asyncio to_thread 4 and 6 [test_events.EventLoopTestsMixin.test_run_in_executor_cancel,
 * doc, probe] */
static void to_thread_function_ending_after_close_touches_nothing(void **state)
{
    (void)state;
    work w;
    work_init(&w);
    weft_loop *loop = NULL;
    co_reset();
    assert_int_equal(weft_loop_new(NULL, &loop), WEFT_OK);
    assert_int_equal(weft_loop_run(loop, start_and_cancel_a_to_thread, &w, NULL), WEFT_OK);
    assert_int_equal(atomic_load(&w.finished), 0);
    weft_thread *later = NULL;
    assert_int_equal(weft_thread_new(&later, set_event_later, &w.release, NULL), WEFT_OK);
    assert_int_equal(weft_thread_start(later), WEFT_OK);
    /* Close shuts the default pool down: it waits for the function. */
    assert_int_equal(weft_loop_close(loop), WEFT_OK);
    assert_int_equal(atomic_load(&w.finished), 1);
    assert_int_equal(weft_loop_free(loop), WEFT_OK);
    assert_int_equal(weft_thread_join(later, NULL), WEFT_OK);
    weft_thread_free(later);
    assert_co_clean();
}

static void *leave_a_to_thread_running(void *p)
{
    work *w = p;
    weft_future *t = NULL;
    to_thread_call *call = malloc(sizeof *call);
    *call = (to_thread_call){run_until_released, w, -1, 0, NULL};
    CO_CHECK_RC(weft_spawn(call_to_thread, call, NULL, &t), WEFT_OK);
    wait_until(atomic_load(&w->started), 5);
    call->later = start_thread(set_event_later, &w->release);
    weft_future_release(t);
    /* main returns: weft_run cancels the waiting task, then shuts the
     * default pool down, which waits for the function. */
    return call;
}

/* asyncio to_thread 6 (weft_run waits for the default pool) [doc,
 * test_base_events.BaseEventLoopTests.test_shutdown_default_executor_timeout] */
static void weft_run_waits_for_its_default_pool(void **state)
{
    (void)state;
    work w;
    work_init(&w);
    double t0 = weft_monotonic();
    to_thread_call *call = run_coro(leave_a_to_thread_running, &w);
    assert_true(weft_monotonic() - t0 >= 0.09);
    assert_int_equal(atomic_load(&w.finished), 1);
    assert_int_equal(atomic_load(&call->rc), WEFT_ECANCELLED);
    assert_int_equal(weft_thread_join(call->later, NULL), WEFT_OK);
    weft_thread_free(call->later);
    free(call);
}

static void *count_threads(void *p)
{
    work *w = p;
    atomic_store(&w->active_inside, weft_active_count());
    return NULL;
}

typedef struct lazy {
    size_t before_run;
    work w;
} lazy;

static void *check_pool_is_lazy(void *p)
{
    lazy *l = p;
    co_yield(3);
    CO_CHECK_INT(weft_active_count(), l->before_run); /* no pool yet */
    CO_CHECK_RC(weft_to_thread(count_threads, &l->w, NULL), WEFT_OK);
    CO_CHECK(atomic_load(&l->w.active_inside) > l->before_run);
    return NULL;
}

/* asyncio to_thread 5 (the lazy creation; weft has no set_default_executor:
 * docs/python.md) [doc] */
static void to_thread_pool_is_made_at_first_use(void **state)
{
    (void)state;
    lazy l;
    work_init(&l.w);
    l.before_run = weft_active_count();
    run_coro(check_pool_is_lazy, &l);
}

/* weft_to_thread outside a loop: asyncio's "no running event loop". */
static void to_thread_outside_a_loop_is_refused(void **state)
{
    (void)state;
    work w;
    work_init(&w);
    void *result = ITEM(1);
    assert_int_equal(weft_to_thread(sum_numbers, &w, &result), WEFT_ESTATE);
    assert_null(result);
    assert_int_equal(atomic_load(&w.calls), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(to_thread_returns_the_result_or_the_failure_and_runs_once),
        cmocka_unit_test(executor_future_awaited_from_a_coroutine_runs_on_another_thread),
        cmocka_unit_test(to_thread_cancelled_returns_at_once_while_the_function_runs_on),
        cmocka_unit_test(to_thread_function_ending_after_close_touches_nothing),
        cmocka_unit_test(weft_run_waits_for_its_default_pool),
        cmocka_unit_test(to_thread_pool_is_made_at_first_use),
        cmocka_unit_test(to_thread_outside_a_loop_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
