/* SPDX-License-Identifier: MIT */
/* test_coro_callbacks.c — weft_sleep in coroutines, callbacks on a loop
 * (call_soon, call_later, call_at, call_soon_threadsafe), and spawning on
 * another thread's loop (run_coroutine_threadsafe), against asyncio's
 * "sleep" and "call_soon / call_later / call_at / call_soon_threadsafe /
 * run_coroutine_threadsafe" behaviours (the asyncio checklist,
 * docs/python.md). */
#include "coro_harness.h"

/* ---- a log that callbacks and tasks append to (loop thread only) ------- */

typedef struct cb_log {
    weft_loop *loop;
    int v[64];
    int n;
    double when[64];
} cb_log;

typedef struct cb_entry {
    cb_log *log;
    int value;
} cb_entry;

static void log_value(void *p)
{
    cb_entry *e = p;
    if (e->log->n < 64) {
        e->log->when[e->log->n] = weft_monotonic();
        e->log->v[e->log->n++] = e->value;
    }
}

static bool co_check_values_(const cb_log *log, int n, const int *want, const char *file, int line)
{
    bool same = log->n == n;
    for (int i = 0; same && i < n; i++)
        same = log->v[i] == want[i];
    if (same)
        return true;
    char text[256];
    int len = snprintf(text, sizeof text, "log is [");
    for (int i = 0; i < log->n && len < 200; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, "%s%d", i ? " " : "", log->v[i]);
    snprintf(text + len, sizeof text - (size_t)len, "], %d expected", n);
    return co_fail_(file, line, text);
}

#define VALUES_(...) ((const int[]){__VA_ARGS__})
#define CO_CHECK_VALUES(log, ...)                                              \
    co_check_values_((log), (int)(sizeof VALUES_(__VA_ARGS__) / sizeof(int)),   \
                     VALUES_(__VA_ARGS__), __FILE__, __LINE__)

#define CORO_TEST(name)                                                       \
    static void *name##_main(void *arg);                                      \
    static void name(void **state)                                            \
    {                                                                         \
        (void)state;                                                          \
        run_coro(name##_main, NULL);                                          \
    }                                                                         \
    static void *name##_main(void *arg)

/* ---- sleep -------------------------------------------------------------- */

/* asyncio sleep 1 (not the result argument: docs/python.md)
 * [test_tasks.BaseTaskTests.test_sleep] */
CORO_TEST(sleep_two_sleeps_add_up)
{
    (void)arg;
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_sleep(0.05), WEFT_OK);
    CO_CHECK_RC(weft_sleep(0.05), WEFT_OK);
    double dt = weft_monotonic() - t0;
    CO_CHECK(dt >= 0.1);
    CO_CHECK(dt < 2.0);
    return NULL;
}

typedef struct alternation {
    cb_log *log;
    int base;
} alternation;

static void *step_three_times(void *p)
{
    alternation *a = p;
    for (int i = 0; i < 3; i++) {
        cb_entry e = {a->log, a->base + i};
        log_value(&e);
        CO_CHECK_RC(weft_sleep(0), WEFT_OK);
    }
    return NULL;
}

/* asyncio sleep 2 (not the result argument) [test_tasks.SleepTests.test_sleep_zero] */
CORO_TEST(sleep_zero_yields_exactly_one_iteration)
{
    (void)arg;
    cb_log log = {.loop = weft_get_running_loop()};
    cb_entry e = {&log, 1};
    CO_CHECK_RC(weft_loop_call_soon(log.loop, log_value, &e, NULL), WEFT_OK);
    CO_CHECK_INT(log.n, 0);
    CO_CHECK_RC(weft_sleep(0), WEFT_OK);
    CO_CHECK_VALUES(&log, 1); /* the callback queued before has run */

    log.n = 0;
    alternation a = {&log, 10}, b = {&log, 20};
    weft_future *ta = co_spawn(step_three_times, &a);
    weft_future *tb = co_spawn(step_three_times, &b);
    CO_CHECK_RC(co_finish(ta, 5), WEFT_OK);
    CO_CHECK_RC(co_finish(tb, 5), WEFT_OK);
    CO_CHECK_VALUES(&log, 10, 20, 11, 21, 12, 22);
    return NULL;
}

/* asyncio sleep 3 and 4 (weft's rule: weft_sleep is time.sleep, which
 * refuses a negative length; docs/python.md) [probe, src,
 * test_tasks.BaseTaskTests.test_sleep_when_delay_is_nan] */
CORO_TEST(sleep_refuses_nan_negative_and_infinite)
{
    (void)arg;
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_sleep(NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_sleep(-1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sleep(WEFT_FOREVER), WEFT_EINVAL);
    CO_CHECK(weft_monotonic() - t0 < IMMEDIATE);
    return NULL;
}

typedef struct sleeper {
    double seconds;
    atomic_int rc;
} sleeper;

static void *sleep_for(void *p)
{
    sleeper *s = p;
    atomic_store(&s->rc, weft_sleep(s->seconds));
    return NULL;
}

static void cancel_task(void *p) { weft_task_cancel(p, NULL); }

/* asyncio sleep 5 [test_tasks.BaseTaskTests.test_sleep_cancel,
 * test_task_cancel_sleeping_task] */
CORO_TEST(sleep_cancelled_by_a_timer_ends_at_the_timer)
{
    (void)arg;
    sleeper s = {5000, -1};
    weft_future *t = co_spawn(sleep_for, &s);
    CO_CHECK_RC(weft_loop_call_later(weft_get_running_loop(), 0.1, cancel_task, t, NULL),
                WEFT_OK);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_future_result(t, NULL), WEFT_ECANCELLED);
    double dt = weft_monotonic() - t0;
    CO_CHECK(dt >= 0.09);
    CO_CHECK(dt < 2.0);
    CO_CHECK_RC(atomic_load(&s.rc), WEFT_ECANCELLED);
    CO_CHECK(weft_future_cancelled(t));
    weft_future_release(t);
    return NULL;
}

static void count_call(void *p) { (*(int *)p)++; }

/* asyncio sleep 6 [doc, test_events.EventLoopTestsMixin.test_timeout_rounding] */
CORO_TEST(sleep_always_suspends_and_never_spins)
{
    (void)arg;
    weft_loop *loop = weft_get_running_loop();
    int calls = 0;
    const double delays[] = {1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 0};
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        co_set_context("weft_sleep(%g)", delays[i]); /* this loop's tasks only */
        int before = calls;
        CO_CHECK_RC(weft_loop_call_soon(loop, count_call, &calls, NULL), WEFT_OK);
        double t0 = weft_monotonic();
        CO_CHECK_RC(weft_sleep(delays[i]), WEFT_OK);
        CO_CHECK(weft_monotonic() - t0 < IMMEDIATE + delays[i]);
        CO_CHECK_INT(calls, before + 1); /* the loop ran: it suspended */
    }
    co_set_context(NULL);
    /* A loop with nothing else to do sleeps in the kernel, not in a loop. */
    double cpu0 = thread_cpu_seconds();
    CO_CHECK_RC(weft_sleep(0.2), WEFT_OK);
    CO_CHECK(thread_cpu_seconds() - cpu0 < 0.05);
    return NULL;
}

/* ---- call_soon / call_later / call_at ------------------------------------ */

typedef struct chain {
    cb_log *log;
    cb_entry next;
} chain;

static void log_then_schedule(void *p)
{
    chain *c = p;
    cb_entry self = {c->log, 1};
    log_value(&self);
    CO_CHECK_RC(weft_loop_call_soon(c->log->loop, log_value, &c->next, NULL), WEFT_OK);
}

/* asyncio call_soon 1 [test_events.EventLoopTestsMixin.test_call_soon,
 * test_base_events.BaseEventLoopTests.test_call_soon, test__run_once_schedule_handle] */
CORO_TEST(call_soon_runs_once_each_in_order_after_what_is_queued)
{
    (void)arg;
    cb_log log = {.loop = weft_get_running_loop()};
    chain first = {&log, {&log, 4}};
    cb_entry two = {&log, 2}, three = {&log, 3};
    weft_handle *h = NULL;
    CO_CHECK_RC(weft_loop_call_soon(log.loop, log_then_schedule, &first, &h), WEFT_OK);
    CO_CHECK(h != NULL);
    CO_CHECK_RC(weft_loop_call_soon(log.loop, log_value, &two, NULL), WEFT_OK);
    CO_CHECK_RC(weft_loop_call_soon(log.loop, log_value, &three, NULL), WEFT_OK);
    CO_CHECK_INT(log.n, 0);
    CO_CHECK_RC(weft_sleep(0), WEFT_OK);
    /* 4 was queued by 1 as it ran: behind this task's own wake-up. */
    CO_CHECK_VALUES(&log, 1, 2, 3);
    CO_CHECK_RC(weft_sleep(0), WEFT_OK);
    CO_CHECK_VALUES(&log, 1, 2, 3, 4);
    co_yield(3);
    CO_CHECK_INT(log.n, 4); /* each exactly once */
    CO_CHECK(!weft_handle_cancelled(h));
    weft_handle_release(h);
    return NULL;
}

/* asyncio call_soon 2 [test_base_events.BaseEventLoopTests.test__add_callback_cancelled_handle] */
CORO_TEST(call_soon_cancelled_handle_never_runs)
{
    (void)arg;
    weft_loop *loop = weft_get_running_loop();
    int calls = 0;
    weft_handle *h = NULL;
    CO_CHECK_RC(weft_loop_call_soon(loop, count_call, &calls, &h), WEFT_OK);
    weft_handle_cancel(h);
    CO_CHECK(weft_handle_cancelled(h));
    weft_handle_cancel(h); /* twice: no effect */
    co_yield(3);
    CO_CHECK_INT(calls, 0);
    weft_handle_release(h);

    CO_CHECK_RC(weft_loop_call_soon(loop, count_call, &calls, &h), WEFT_OK);
    co_yield(2);
    CO_CHECK_INT(calls, 1);
    weft_handle_cancel(h); /* after it ran: no effect */
    co_yield(2);
    CO_CHECK_INT(calls, 1);
    weft_handle_release(h);

    CO_CHECK_RC(weft_loop_call_later(loop, 0.01, count_call, &calls, &h), WEFT_OK);
    weft_handle_cancel(h);
    CO_CHECK_RC(weft_sleep(0.05), WEFT_OK);
    CO_CHECK_INT(calls, 1);
    weft_handle_release(h);
    return NULL;
}

/* asyncio call_soon 3 (C: NaN for None; no when() accessor: docs/python.md)
 * [test_base_events.BaseEventLoopTests.test_call_later, test_time_and_call_at] */
CORO_TEST(call_later_waits_until_due_and_call_at_uses_the_loop_clock)
{
    (void)arg;
    weft_loop *loop = weft_get_running_loop();
    int calls = 0;
    weft_handle *h = NULL;
    CO_CHECK_RC(weft_loop_call_later(loop, 10.0, count_call, &calls, &h), WEFT_OK);
    CO_CHECK_RC(weft_sleep(0.05), WEFT_OK);
    CO_CHECK_INT(calls, 0);
    weft_handle_cancel(h);
    weft_handle_release(h);

    CO_CHECK_RC(weft_loop_call_later(loop, NAN, count_call, &calls, NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_loop_call_at(loop, NAN, count_call, &calls, NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_loop_call_soon(loop, NULL, &calls, NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_loop_call_later(loop, 1, NULL, &calls, NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_loop_call_soon(NULL, count_call, &calls, NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_loop_call_soon_threadsafe(loop, NULL, &calls), WEFT_EINVAL);

    double now = weft_loop_time(loop);
    CO_CHECK(fabs(now - weft_monotonic()) < 0.01); /* the loop's clock is monotonic */
    cb_log log = {.loop = loop};
    cb_entry e = {&log, 1};
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_loop_call_at(loop, now + 0.1, log_value, &e, NULL), WEFT_OK);
    wait_until(log.n == 1, 5);
    CO_CHECK_INT(log.n, 1);
    CO_CHECK(log.when[0] - t0 >= 0.1 - 0.002);
    CO_CHECK(log.when[0] - t0 < 2.0);
    return NULL;
}

/* asyncio call_soon 4 [test_base_events.BaseEventLoopTests.test_call_later_negative_delays] */
CORO_TEST(call_later_negative_delays_run_by_deadline)
{
    (void)arg;
    cb_log log = {.loop = weft_get_running_loop()};
    cb_entry a = {&log, 'a'}, b = {&log, 'b'};
    CO_CHECK_RC(weft_loop_call_later(log.loop, -1, log_value, &a, NULL), WEFT_OK);
    CO_CHECK_RC(weft_loop_call_later(log.loop, -2, log_value, &b, NULL), WEFT_OK);
    wait_until(log.n == 2, 2);
    CO_CHECK_VALUES(&log, 'b', 'a');
    return NULL;
}

/* asyncio call_soon 5 (weft chooses call order: coro.h) [doc, probe] */
CORO_TEST(call_at_equal_deadlines_run_in_call_order)
{
    (void)arg;
    cb_log log = {.loop = weft_get_running_loop()};
    cb_entry e[20];
    double when = weft_loop_time(log.loop) + 0.02;
    for (int i = 0; i < 20; i++) {
        e[i] = (cb_entry){&log, i};
        CO_CHECK_RC(weft_loop_call_at(log.loop, when, log_value, &e[i], NULL), WEFT_OK);
    }
    wait_until(log.n == 20, 5);
    CO_CHECK_VALUES(&log, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19);
    return NULL;
}

/* asyncio call_soon 6 [probe, src] */
CORO_TEST(call_later_zero_runs_behind_callbacks_already_queued)
{
    (void)arg;
    cb_log log = {.loop = weft_get_running_loop()};
    cb_entry timer = {&log, 'T'}, soon = {&log, 'S'};
    CO_CHECK_RC(weft_loop_call_later(log.loop, 0, log_value, &timer, NULL), WEFT_OK);
    CO_CHECK_RC(weft_loop_call_soon(log.loop, log_value, &soon, NULL), WEFT_OK);
    wait_until(log.n == 2, 2);
    CO_CHECK_VALUES(&log, 'S', 'T');
    return NULL;
}

static void *schedule_and_cancel_a_late_timer(void *arg)
{
    int *calls = arg;
    weft_handle *h = NULL;
    CO_CHECK_RC(weft_loop_call_later(weft_get_running_loop(), 5, count_call, calls, &h), WEFT_OK);
    weft_handle_cancel(h);
    weft_handle_release(h);
    return NULL;
}

/* asyncio call_soon 7 (the observable part) [test_base_events.BaseEventLoopTests.test__run_once] */
static void call_later_cancelled_timer_keeps_nothing_waiting(void **state)
{
    (void)state;
    int calls = 0;
    double t0 = weft_monotonic();
    run_coro(schedule_and_cancel_a_late_timer, &calls);
    assert_true(weft_monotonic() - t0 < 2.0);
    assert_int_equal(calls, 0);
}

/* ---- call_soon_threadsafe --------------------------------------------------- */

typedef struct threadsafe_ctx {
    cb_log log;
    cb_entry hello, world;
    weft_future *main_task;
    double called_at, ran_at;
    atomic_int rc;
} threadsafe_ctx;

static void *call_hello_from_thread(void *p)
{
    threadsafe_ctx *c = p;
    atomic_store(&c->rc, weft_loop_call_soon_threadsafe(c->log.loop, log_value, &c->hello));
    return NULL;
}

/* Runs on the loop: wake the sleeping main task. */
static void note_time_and_cancel_main(void *p)
{
    threadsafe_ctx *c = p;
    c->ran_at = weft_monotonic();
    weft_task_cancel(c->main_task, NULL);
}

static void *wake_loop_from_thread(void *p)
{
    threadsafe_ctx *c = p;
    weft_sleep(0.05);
    c->called_at = weft_monotonic();
    atomic_store(&c->rc, weft_loop_call_soon_threadsafe(c->log.loop, note_time_and_cancel_main, c));
    return NULL;
}

/* asyncio call_soon 10 [test_events.EventLoopTestsMixin.test_call_soon_threadsafe,
 * test_call_soon_threadsafe_same_thread] */
CORO_TEST(call_soon_threadsafe_shares_the_fifo_and_wakes_the_loop)
{
    (void)arg;
    threadsafe_ctx c = {.log = {.loop = weft_get_running_loop()}};
    c.hello = (cb_entry){&c.log, 'h'};
    c.world = (cb_entry){&c.log, 'w'};
    atomic_store(&c.rc, -1);
    join_thread(start_thread(call_hello_from_thread, &c));
    CO_CHECK_RC(atomic_load(&c.rc), WEFT_OK);
    CO_CHECK_RC(weft_loop_call_soon(c.log.loop, log_value, &c.world, NULL), WEFT_OK);
    wait_until(c.log.n == 2, 2);
    CO_CHECK_VALUES(&c.log, 'h', 'w');

    /* The same from the loop's own thread. */
    c.log.n = 0;
    CO_CHECK_RC(weft_loop_call_soon_threadsafe(c.log.loop, log_value, &c.hello), WEFT_OK);
    CO_CHECK_RC(weft_loop_call_soon(c.log.loop, log_value, &c.world, NULL), WEFT_OK);
    wait_until(c.log.n == 2, 2);
    CO_CHECK_VALUES(&c.log, 'h', 'w');

    /* A loop asleep (its only task sleeping 10 s) wakes at once. */
    c.main_task = weft_current_task();
    weft_thread *t = start_thread(wake_loop_from_thread, &c);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_sleep(10), WEFT_ECANCELLED);
    CO_CHECK(weft_monotonic() - t0 < 5);
    CO_CHECK_INT(weft_task_uncancel(c.main_task), 0);
    join_thread(t);
    CO_CHECK_RC(atomic_load(&c.rc), WEFT_OK);
    CO_CHECK(c.ran_at - c.called_at < 0.5);
    return NULL;
}

static void *do_nothing(void *arg) { return arg; }

/* asyncio call_soon 11 (not the signal-handler part: docs/python.md)
 * [doc, probe] */
static void call_soon_threadsafe_on_a_closed_loop_is_refused(void **state)
{
    (void)state;
    weft_loop *loop = NULL;
    int calls = 0;
    assert_int_equal(weft_loop_new(NULL, &loop), WEFT_OK);
    co_reset();
    assert_int_equal(weft_loop_run(loop, do_nothing, NULL, NULL), WEFT_OK);
    assert_int_equal(weft_loop_close(loop), WEFT_OK);
    assert_int_equal(weft_loop_call_soon_threadsafe(loop, count_call, &calls), WEFT_ESTATE);
    assert_int_equal(weft_loop_run(loop, do_nothing, NULL, NULL), WEFT_ESTATE);
    assert_int_equal(weft_loop_free(loop), WEFT_OK);
    assert_int_equal(calls, 0);
    assert_co_clean();
}

typedef struct wrong_thread {
    weft_loop *loop;
    int calls;
    atomic_int rc_soon, rc_later, rc_at;
} wrong_thread;

static void *schedule_from_wrong_thread(void *p)
{
    wrong_thread *w = p;
    atomic_store(&w->rc_soon, weft_loop_call_soon(w->loop, count_call, &w->calls, NULL));
    atomic_store(&w->rc_later, weft_loop_call_later(w->loop, 0, count_call, &w->calls, NULL));
    atomic_store(&w->rc_at, weft_loop_call_at(w->loop, 0, count_call, &w->calls, NULL));
    return NULL;
}

/* asyncio call_soon 12 (checked always, not only in debug mode; a coroutine
 * where a callback belongs is a compile error in C: docs/python.md)
 * [test_base_events.BaseEventLoopTests.test_check_thread, test_call_soon_non_callable] */
CORO_TEST(call_soon_from_another_thread_is_refused)
{
    (void)arg;
    wrong_thread w = {.loop = weft_get_running_loop()};
    join_thread(start_thread(schedule_from_wrong_thread, &w));
    CO_CHECK_RC(atomic_load(&w.rc_soon), WEFT_ESTATE);
    CO_CHECK_RC(atomic_load(&w.rc_later), WEFT_ESTATE);
    CO_CHECK_RC(atomic_load(&w.rc_at), WEFT_ESTATE);
    co_yield(3);
    CO_CHECK_INT(w.calls, 0);
    return NULL;
}

/* ---- run_coroutine_threadsafe ------------------------------------------------ */

typedef struct remote_loop {
    atomic_bool stop;
    _Atomic(weft_loop *) loop;
    atomic_bool sleeping;
    atomic_int sleep_rc;
    atomic_size_t tasks_left;
    loop_thread thread;
} remote_loop;

static void *remote_main(void *p)
{
    remote_loop *r = p;
    atomic_store(&r->loop, weft_get_running_loop());
    wait_until(atomic_load(&r->stop), 60);
    atomic_store(&r->tasks_left, weft_all_tasks(NULL, 0));
    return NULL;
}

static void *return_three(void *arg)
{
    (void)arg;
    CO_CHECK(weft_current_task() != NULL); /* it runs as a task of that loop */
    weft_sleep(0);
    return ITEM(3);
}

static void *fail_on_purpose(void *arg)
{
    (void)arg;
    weft_sleep(0);
    return weft_fail(WEFT_EINVAL, "Fail!");
}

static void *sleep_long(void *p)
{
    remote_loop *r = p;
    atomic_store(&r->sleeping, true);
    atomic_store(&r->sleep_rc, weft_sleep(10));
    return NULL;
}

static void *cancel_self(void *arg)
{
    (void)arg;
    weft_task_cancel(weft_current_task(), NULL);
    int rc = weft_sleep(0);
    CO_CHECK_RC(rc, WEFT_ECANCELLED);
    return NULL;
}

/* The checks run on the test's thread but record with CO_CHECK, so that a
 * failure still stops and joins the other loop before the test ends. */
static void check_run_coroutine_threadsafe(remote_loop *r)
{
    weft_loop *loop = atomic_load(&r->loop);
    weft_future *f = NULL;
    void *result = NULL;
    if (!CO_CHECK(loop != NULL))
        return;
    CO_CHECK_RC(weft_run_coroutine_threadsafe(loop, return_three, NULL, NULL, &f), WEFT_OK);
    CO_CHECK_RC(weft_future_result_timeout(f, 10, &result), WEFT_OK);
    CO_CHECK_INT(VALUE(result), 3);
    weft_future_release(f);

    CO_CHECK_RC(weft_run_coroutine_threadsafe(loop, fail_on_purpose, NULL, NULL, &f), WEFT_OK);
    CO_CHECK_RC(weft_future_result_timeout(f, 10, NULL), WEFT_EFAILED);
    CO_CHECK_INT(weft_future_error_code(f), WEFT_EINVAL);
    CO_CHECK(strcmp(weft_future_error_message(f), "Fail!") == 0);
    weft_future_release(f);

    /* The task cancels itself: the future ends cancelled. */
    co_set_context("a task cancelling itself");
    CO_CHECK_RC(weft_run_coroutine_threadsafe(loop, cancel_self, NULL, NULL, &f), WEFT_OK);
    CO_CHECK_RC(weft_future_result_timeout(f, 10, NULL), WEFT_ECANCELLED);
    weft_future_release(f);

    /* result(timeout=0) times out; cancelling the future cancels the
     * task, there in its sleep. */
    co_set_context("cancelling the future");
    atomic_store(&r->sleep_rc, -1);
    CO_CHECK_RC(weft_run_coroutine_threadsafe(loop, sleep_long, r, NULL, &f), WEFT_OK);
    CO_CHECK_RC(weft_future_result_timeout(f, 0, NULL), WEFT_ETIMEDOUT);
    wait_until(atomic_load(&r->sleeping), 10);
    CO_CHECK(weft_future_cancel(f));
    CO_CHECK_RC(weft_future_result_timeout(f, 10, NULL), WEFT_ECANCELLED);
    wait_until(atomic_load(&r->sleep_rc) != -1, 10);
    CO_CHECK_RC(atomic_load(&r->sleep_rc), WEFT_ECANCELLED);
    weft_future_release(f);

    co_set_context(NULL);
    CO_CHECK_RC(weft_run_coroutine_threadsafe(NULL, return_three, NULL, NULL, &f), WEFT_EINVAL);
    CO_CHECK_RC(weft_run_coroutine_threadsafe(loop, NULL, NULL, NULL, &f), WEFT_EINVAL);
}

/* asyncio call_soon 13 [test_tasks.RunCoroutineThreadsafeTests.test_run_coroutine_threadsafe,
 * test_run_coroutine_threadsafe_with_exception, test_run_coroutine_threadsafe_with_timeout,
 * test_run_coroutine_threadsafe_task_cancelled] */
static void run_coroutine_threadsafe_from_a_worker_thread(void **state)
{
    (void)state;
    remote_loop *r = calloc(1, sizeof *r);
    assert_non_null(r);
    co_reset();
    start_loop_thread(&r->thread, remote_main, r);
    wait_until(atomic_load(&r->loop) != NULL, 10);
    check_run_coroutine_threadsafe(r);
    atomic_store(&r->stop, true);
    int join_rc = weft_thread_join(r->thread.thread, NULL);
    weft_thread_free(r->thread.thread);
    int run_rc = r->thread.rc;
    size_t tasks_left = atomic_load(&r->tasks_left);
    free(r);
    assert_co_clean();
    assert_int_equal(join_rc, WEFT_OK);
    assert_int_equal(run_rc, WEFT_OK);
    assert_int_equal(tasks_left, 1); /* only its main: none left pending */
}

/* ---- futures of other threads (wrap_future) ---------------------------------- */

typedef struct pool_wait {
    weft_event release;
    weft_future *future;
    atomic_int rc;
    atomic_uint_fast64_t worker_ident;
} pool_wait;

static void *block_worker(void *p)
{
    pool_wait *w = p;
    weft_event_wait_timeout(&w->release, 10);
    return NULL;
}

static void *return_42_from_pool(void *p)
{
    pool_wait *w = p;
    atomic_store(&w->worker_ident, weft_get_ident());
    return ITEM(42);
}

static void *wait_on_future(void *p)
{
    pool_wait *w = p;
    void *result = NULL;
    atomic_store(&w->rc, weft_future_result(w->future, &result));
    return result;
}

/* asyncio call_soon 15 [test_futures.BaseFutureTests.test_wrap_future,
 * test_wrap_future_cancel, test_wrap_future_cancel2] */
CORO_TEST(pool_future_awaited_by_a_task_follows_its_cancellation)
{
    (void)arg;
    weft_executor *pool = NULL;
    weft_thread_pool_options o = {.max_workers = 1};
    CO_CHECK_RC(weft_thread_pool_new(&pool, &o), WEFT_OK);
    pool_wait w;
    memset(&w, 0, sizeof w);
    weft_event_init(&w.release);

    /* The result crosses from the worker thread. */
    weft_future *f = NULL;
    void *result = NULL;
    CO_CHECK_RC(weft_executor_submit(pool, return_42_from_pool, &w, &f), WEFT_OK);
    CO_CHECK_RC(weft_future_result(f, &result), WEFT_OK);
    CO_CHECK_INT(VALUE(result), 42);
    CO_CHECK(atomic_load(&w.worker_ident) != weft_get_ident());
    weft_future_release(f);

    /* Cancelling the task that waits cancels the pending pool future. */
    weft_future *blocker = NULL;
    CO_CHECK_RC(weft_executor_submit(pool, block_worker, &w, &blocker), WEFT_OK);
    CO_CHECK_RC(weft_executor_submit(pool, return_42_from_pool, &w, &w.future), WEFT_OK);
    atomic_store(&w.rc, -1);
    weft_future *t = co_spawn(wait_on_future, &w);
    co_yield(3);
    CO_CHECK(weft_task_cancel(t, NULL));
    CO_CHECK_RC(co_finish(t, 5), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&w.rc), WEFT_ECANCELLED);
    CO_CHECK(weft_future_cancelled(w.future));
    weft_future_release(w.future);
    weft_event_set(&w.release);
    CO_CHECK_RC(weft_future_result(blocker, NULL), WEFT_OK);
    weft_future_release(blocker);

    /* Unless it already had its result: then it keeps it. */
    CO_CHECK_RC(weft_future_new(&w.future), WEFT_OK);
    atomic_store(&w.rc, -1);
    t = co_spawn(wait_on_future, &w);
    co_yield(3);
    CO_CHECK_RC(weft_future_set_result(w.future, ITEM(42)), WEFT_OK);
    CO_CHECK(weft_task_cancel(t, NULL));
    co_finish(t, 5);
    CO_CHECK_RC2(atomic_load(&w.rc), WEFT_OK, WEFT_ECANCELLED);
    CO_CHECK(!weft_future_cancelled(w.future));
    CO_CHECK_RC(weft_future_result(w.future, &result), WEFT_OK);
    CO_CHECK_INT(VALUE(result), 42);
    weft_future_release(w.future);
    CO_CHECK_RC(weft_executor_free(pool), WEFT_OK);
    return NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sleep_two_sleeps_add_up),
        cmocka_unit_test(sleep_zero_yields_exactly_one_iteration),
        cmocka_unit_test(sleep_refuses_nan_negative_and_infinite),
        cmocka_unit_test(sleep_cancelled_by_a_timer_ends_at_the_timer),
        cmocka_unit_test(sleep_always_suspends_and_never_spins),
        cmocka_unit_test(call_soon_runs_once_each_in_order_after_what_is_queued),
        cmocka_unit_test(call_soon_cancelled_handle_never_runs),
        cmocka_unit_test(call_later_waits_until_due_and_call_at_uses_the_loop_clock),
        cmocka_unit_test(call_later_negative_delays_run_by_deadline),
        cmocka_unit_test(call_at_equal_deadlines_run_in_call_order),
        cmocka_unit_test(call_later_zero_runs_behind_callbacks_already_queued),
        cmocka_unit_test(call_later_cancelled_timer_keeps_nothing_waiting),
        cmocka_unit_test(call_soon_threadsafe_shares_the_fifo_and_wakes_the_loop),
        cmocka_unit_test(call_soon_threadsafe_on_a_closed_loop_is_refused),
        cmocka_unit_test(call_soon_from_another_thread_is_refused),
        cmocka_unit_test(run_coroutine_threadsafe_from_a_worker_thread),
        cmocka_unit_test(pool_future_awaited_by_a_task_follows_its_cancellation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
