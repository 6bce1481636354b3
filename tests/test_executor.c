/* SPDX-License-Identifier: MIT */
/* test_executor.c — the thread-pool executor against the Python behaviours (docs/python.md)
 * "ThreadPoolExecutor", plus wait/as_completed over pool futures and what
 * docs/python.md lists beyond Python (helping, back-pressure, stats, resize). */
#include "testutil.h"

#include "future_internal.h" /* weft__future_refs: who holds a future */
#include "lock_internal.h"   /* weft__lock_take: the internal form under test */

#include <math.h>
#include <unistd.h>

static weft_executor *pool_with(long max_workers, const char *prefix)
{
    weft_executor *ex = NULL;
    weft_thread_pool_options o = {.max_workers = max_workers, .thread_name_prefix = prefix};
    assert_int_equal(weft_thread_pool_new(&ex, &o), WEFT_OK);
    return ex;
}

static size_t workers_of(weft_executor *ex)
{
    weft_executor_stats s;
    weft_executor_stats_get(ex, &s);
    return s.workers;
}

static size_t idle_of(weft_executor *ex)
{
    weft_executor_stats s;
    weft_executor_stats_get(ex, &s);
    return s.idle;
}

static void *power_of_two(void *arg)
{
    uintptr_t e = (uintptr_t)arg, r = 1;
    while (e--)
        r *= 2;
    return (void *)r;
}

static void *identity(void *arg) { return arg; }

static weft_event gate = WEFT_EVENT_INIT;
static void *wait_for_gate(void *arg)
{
    weft_event_wait(&gate);
    return arg;
}

/* ThreadPool 1 [cf.executor.ExecutorTest.test_submit] */
static void pool_submit_returns_result(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(0, NULL);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, power_of_two, (void *)8, &f), WEFT_OK);
    void *result;
    assert_int_equal(weft_future_result(f, &result), WEFT_OK);
    assert_int_equal((uintptr_t)result, 256);
    weft_future_release(f);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* ThreadPool 3, 4 [cf.executor.ExecutorTest.test_max_workers_negative,
 * cf.test_thread_pool.ThreadPoolExecutorTest.test_default_workers] */
static void pool_max_workers_validation_and_default(void **state)
{
    (void)state;
    weft_executor *ex;
    weft_thread_pool_options bad = {.max_workers = -1}, bad_pending = {.max_pending = -2};
    assert_int_equal(weft_thread_pool_new(&ex, &bad), WEFT_EINVAL);
    assert_int_equal(weft_thread_pool_new(&ex, &bad_pending), WEFT_EINVAL);
    assert_int_equal(weft_thread_pool_new(NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_thread_pool_new(&ex, NULL), WEFT_OK);
    weft_executor_stats s;
    weft_executor_stats_get(ex, &s);
    /* min(32, cpus + 4): at least 5, at most 32 */
    assert_true(s.max_workers >= 5 && s.max_workers <= 32);
    weft_executor_free(ex);
}

/* ThreadPool 5 [cf.test_thread_pool.ThreadPoolExecutorTest.test_saturation] */
static void pool_saturates_at_max_workers(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(4, NULL);
    weft_event_clear(&gate);
    weft_future *fs[60];
    for (int i = 0; i < 60; i++)
        weft_executor_submit(ex, wait_for_gate, NULL, &fs[i]);
    assert_int_equal(workers_of(ex), 4);
    weft_event_set(&gate);
    assert_int_equal(weft_wait(fs, 60, 30, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    for (int i = 0; i < 60; i++)
        weft_future_release(fs[i]);
    weft_executor_free(ex);
}

/* ThreadPool 6 [cf.test_thread_pool.ThreadPoolExecutorTest.test_idle_thread_reuse] */
static void pool_reuses_idle_worker(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(0, NULL);
    for (int i = 0; i < 3; i++) {
        weft_future *f;
        weft_executor_submit(ex, identity, NULL, &f);
        weft_future_result(f, NULL);
        weft_future_release(f);
        nap(0.01); /* let the worker go idle, as the Python test does */
    }
    assert_int_equal(workers_of(ex), 1);
    weft_executor_free(ex);
}

/* ThreadPool 7 [cf.test_shutdown.ThreadPoolShutdownTest.test_threads_terminate] */
static void pool_threads_end_at_shutdown(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(0, NULL);
    weft_event_clear(&gate);
    weft_future *fs[3];
    for (int i = 0; i < 3; i++)
        weft_executor_submit(ex, wait_for_gate, NULL, &fs[i]);
    assert_int_equal(workers_of(ex), 3);
    weft_event_set(&gate);
    assert_int_equal(weft_executor_shutdown(ex, true, false), WEFT_OK);
    assert_int_equal(workers_of(ex), 0);
    for (int i = 0; i < 3; i++)
        weft_future_release(fs[i]);
    weft_executor_free(ex);
}

/* ThreadPool 8 [cf.executor.ExecutorTest.test_no_stale_references]: once
 * a task finished, the pool holds no reference to its future (which holds
 * the task's fn and arg); a future nobody asked for is freed then
 * (LeakSanitizer checks that in the ASan build). */
static void pool_keeps_no_reference_after_a_task(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, identity, (void *)5, &f), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 10, NULL), WEFT_OK);
    assert_eventually(weft__future_refs(f) == 1, 10); /* the caller's own */
    weft_future_release(f);
    for (int i = 0; i < 100; i++)
        assert_int_equal(weft_executor_submit(ex, identity, NULL, NULL), WEFT_OK);
    weft_executor_free(ex);
}

/* ThreadPool 9 [cf.test_shutdown.ExecutorShutdownTest.test_run_after_shutdown] */
static void pool_submit_after_shutdown_fails(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    weft_executor_shutdown(ex, true, false);
    weft_future *f = (weft_future *)1;
    assert_int_equal(weft_executor_submit(ex, identity, NULL, &f), WEFT_ESHUTDOWN);
    assert_int_equal(weft_executor_shutdown(ex, true, false), WEFT_OK); /* again: fine */
    weft_executor_free(ex);
}

/* ThreadPool 10 [cf.test_shutdown.ExecutorShutdownTest.test_hang_issue12364] */
static void pool_shutdown_completes_queued_work(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(3, NULL);
    weft_future *fs[50];
    for (uintptr_t i = 0; i < 50; i++)
        weft_executor_submit(ex, identity, (void *)(i + 1), &fs[i]);
    weft_executor_shutdown(ex, true, false);
    for (uintptr_t i = 0; i < 50; i++) {
        void *r;
        assert_int_equal(weft_future_result_timeout(fs[i], 0, &r), WEFT_OK);
        assert_int_equal((uintptr_t)r, i + 1);
        weft_future_release(fs[i]);
    }
    weft_executor_free(ex);
}

static void *sleep_a_tenth(void *arg)
{
    weft_sleep(0.1);
    return arg;
}

/* ThreadPool 11 [cf.test_shutdown.ExecutorShutdownTest.test_cancel_futures] */
static void pool_shutdown_cancel_futures(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(5, NULL);
    weft_future *fs[50];
    for (int i = 0; i < 50; i++)
        weft_executor_submit(ex, sleep_a_tenth, NULL, &fs[i]);
    /* CPython relies on its slow submit letting workers start; weft's
     * submits outrun thread start-up, so wait until one task runs: running
     * tasks must complete, not be cancelled. */
    assert_eventually(weft_future_running(fs[0]), 10);
    weft_executor_shutdown(ex, true, true);
    int cancelled = 0, completed = 0;
    for (int i = 0; i < 50; i++) {
        if (weft_future_cancelled(fs[i])) {
            cancelled++;
            /* notified, so weft_wait counts it done */
            assert_int_equal(weft_future_get_state(fs[i]), WEFT_FUTURE_CANCELLED_AND_NOTIFIED);
        } else {
            assert_true(weft_future_done(fs[i]));
            assert_int_equal(weft_future_error_code(fs[i]), 0);
            completed++;
        }
        weft_future_release(fs[i]);
    }
    assert_true(cancelled > 20);
    assert_true(completed >= 1);
    weft_executor_free(ex);
}

/* Beyond Python: shutdown that gives up waiting after a timeout, and
 * holds anyway. */
static void pool_shutdown_timeout(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    weft_event_clear(&gate);
    weft_future *busy, *queued[3];
    assert_int_equal(weft_executor_submit(ex, wait_for_gate, NULL, &busy), WEFT_OK);
    assert_eventually(weft_future_running(busy), 10);
    assert_int_equal(weft_executor_shutdown_timeout(NULL, 1, false), WEFT_EINVAL);
    assert_int_equal(weft_executor_shutdown_timeout(ex, NAN, false), WEFT_EINVAL);
    double t0 = weft_monotonic();
    assert_int_equal(weft_executor_shutdown_timeout(ex, 0.1, false), WEFT_ETIMEDOUT);
    double waited = weft_monotonic() - t0;
    assert_true(waited >= 0.1 && waited < 5);
    assert_false(weft_future_done(busy));
    weft_future *f = (weft_future *)1;
    assert_int_equal(weft_executor_submit(ex, identity, NULL, &f), WEFT_ESHUTDOWN);
    assert_null(f);
    assert_int_equal(weft_executor_shutdown_timeout(ex, -1, false), WEFT_ETIMEDOUT);
    weft_event_set(&gate);
    assert_int_equal(weft_executor_shutdown_timeout(ex, 30, false), WEFT_OK);
    assert_true(weft_future_done(busy));
    weft_future_release(busy);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);

    /* with cancel_futures, what has not started is cancelled at once */
    ex = pool_with(1, NULL);
    weft_event_clear(&gate);
    assert_int_equal(weft_executor_submit(ex, wait_for_gate, NULL, &busy), WEFT_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(weft_executor_submit(ex, identity, NULL, &queued[i]), WEFT_OK);
    assert_eventually(weft_future_running(busy), 10);
    assert_int_equal(weft_executor_shutdown_timeout(ex, 0.05, true), WEFT_ETIMEDOUT);
    for (int i = 0; i < 3; i++) {
        assert_true(weft_future_cancelled(queued[i]));
        weft_future_release(queued[i]);
    }
    weft_event_set(&gate);
    assert_int_equal(weft_executor_shutdown_timeout(ex, 30, false), WEFT_OK);
    weft_future_release(busy);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* A cancelled cancellable task shuts another pool down and frees it: the
 * shutdown's wait gives up with WEFT_ECANCELLED, and free still waits for
 * the busy worker before it frees the pool (it used to free it under the
 * worker: ASan's use-after-free). */
static weft_event other_started, stays_unset;
static void *busy_a_while(void *arg)
{
    weft_event_set(&other_started);
    weft_sleep(0.3);
    return arg;
}

struct freeing {
    weft_executor *other;
    weft_future *other_task;
    atomic_int shutdown_rc, other_done_at_free;
};

static void *cancelled_then_frees(void *arg)
{
    struct freeing *fr = arg;
    weft_cancellable(true);
    weft_event_wait(&stays_unset); /* returns WEFT_ECANCELLED once cancelled */
    atomic_store(&fr->shutdown_rc, weft_executor_shutdown(fr->other, true, false));
    weft_executor_free(fr->other);
    atomic_store(&fr->other_done_at_free, weft_future_done(fr->other_task));
    return NULL;
}

static void pool_free_from_a_cancelled_task_waits(void **state)
{
    (void)state;
    weft_event_clear(&other_started);
    struct freeing fr = {.other = pool_with(1, NULL), .shutdown_rc = -1};
    weft_executor *ex = pool_with(1, NULL);
    assert_int_equal(weft_executor_submit(fr.other, busy_a_while, NULL, &fr.other_task), WEFT_OK);
    assert_int_equal(weft_event_wait_timeout(&other_started, 10), WEFT_OK);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, cancelled_then_frees, &fr, &f), WEFT_OK);
    assert_eventually(weft_future_running(f), 10);
    weft_future_cancel(f); /* running: the task sees it */
    assert_int_equal(weft_future_result_timeout(f, 10, NULL), WEFT_OK);
    assert_int_equal(atomic_load(&fr.shutdown_rc), WEFT_ECANCELLED);
    assert_true(atomic_load(&fr.other_done_at_free));
    weft_future_release(f);
    weft_future_release(fr.other_task);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* No worker can start and none runs: submit fails with WEFT_EAGAIN, hands
 * back no future, and the task never runs later, when a worker can start
 * (it is cancelled, not left in the queue for the next worker). */
static atomic_int never_ran;
static void *must_not_run(void *arg)
{
    (void)arg;
    atomic_fetch_add(&never_ran, 1);
    return NULL;
}

static void pool_submit_without_any_worker(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    size_t before = weft_get_stack_size();
    if (weft_set_stack_size((size_t)1 << 45) != WEFT_OK) /* 32 TiB: no thread */
        skip();
    weft_future *f = (weft_future *)1;
    int rc = weft_executor_submit(ex, must_not_run, NULL, &f);
    assert_int_equal(weft_set_stack_size(before), WEFT_OK);
    if (rc == WEFT_OK) { /* this system starts such threads after all */
        weft_future_release(f);
        weft_executor_free(ex);
        skip();
    }
    assert_int_equal(rc, WEFT_EAGAIN);
    assert_null(f);
    void *r;
    assert_int_equal(weft_executor_submit(ex, identity, (void *)7, &f), WEFT_OK); /* a worker now */
    assert_int_equal(weft_future_result_timeout(f, 10, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 7);
    weft_future_release(f);
    assert_int_equal(weft_executor_shutdown(ex, true, false), WEFT_OK);
    assert_int_equal(atomic_load(&never_ran), 0);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* ThreadPool 12 [cf.test_shutdown.ExecutorShutdownTest.test_hang_gh94440] */
static void pool_shutdown_after_cancel_returns(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(1, NULL);
    weft_event_clear(&gate);
    weft_future *busy, *f;
    weft_executor_submit(ex, wait_for_gate, NULL, &busy);
    weft_executor_submit(ex, identity, NULL, &f);
    assert_true(weft_future_cancel(f));
    weft_event_set(&gate);
    double t0 = weft_monotonic();
    weft_executor_shutdown(ex, true, false);
    assert_true(weft_monotonic() - t0 < 5);
    assert_true(weft_future_cancelled(f));
    weft_future_release(busy);
    weft_future_release(f);
    weft_executor_free(ex);
}

/* ThreadPool 13, 14 [cf.test_shutdown.ExecutorShutdownTest.test_interpreter_shutdown,
 * test_hang_gh83386, test_cancel_futures_wait_false, test_submit_after_interpreter_shutdown] */
static void pool_work_completes_at_process_exit(void **state)
{
    (void)state;
    char out[256];
    double seconds;
    assert_int_equal(run_helper("pool_exit", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\napple\n");
    assert_int_equal(run_helper("pool_exit_nowait", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\napple\n");
    assert_int_equal(run_helper("pool_exit_cancel", out, sizeof out, &seconds), 0);
    assert_true(!strcmp(out, "end of main\n") || !strcmp(out, "end of main\napple\n"));
    assert_int_equal(run_helper("pool_submit_at_exit", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\nsubmit at exit: WEFT_ESHUTDOWN\n");
}

/* ThreadPool 15 [cf.test_shutdown.ThreadPoolShutdownTest.test_shutdown_no_wait] */
static void pool_shutdown_without_wait_still_finishes(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(3, NULL);
    weft_future *fs[10];
    for (uintptr_t i = 0; i < 10; i++)
        weft_executor_submit(ex, identity, (void *)(i + 100), &fs[i]);
    weft_executor_shutdown(ex, false, false);
    for (uintptr_t i = 0; i < 10; i++) {
        void *r;
        assert_int_equal(weft_future_result_timeout(fs[i], 10, &r), WEFT_OK);
        assert_int_equal((uintptr_t)r, i + 100);
        weft_future_release(fs[i]);
    }
    weft_executor_free(ex); /* joins the workers */
}

static void *my_name(void *arg)
{
    (void)arg;
    const char *name = weft_thread_name(weft_current_thread());
    char *copy = malloc(strlen(name) + 1);
    strcpy(copy, name);
    return copy;
}

/* ThreadPool 16 [cf.test_shutdown.ThreadPoolShutdownTest.test_thread_names_assigned,
 * test_thread_names_default] */
static void pool_thread_names(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        weft_executor *ex = pool_with(1, k ? NULL : "SpecialPool");
        weft_future *f;
        weft_executor_submit(ex, my_name, NULL, &f);
        char *name;
        weft_future_result(f, (void **)&name);
        if (k == 0) {
            assert_string_equal(name, "SpecialPool_0");
        } else {
            unsigned long n, worker;
            assert_int_equal(sscanf(name, "ThreadPoolExecutor-%lu_%lu", &n, &worker), 2);
            assert_int_equal(worker, 0);
        }
        free(name);
        weft_future_release(f);
        weft_executor_free(ex);
    }
}

static _Thread_local const char *init_state;
static int initialize(void *arg)
{
    init_state = arg;
    return 0;
}
static void *read_init_state(void *arg)
{
    (void)arg;
    return (void *)init_state;
}

/* ThreadPool 17 [cf.test_init.InitializerMixin.test_initializer] */
static void pool_initializer_runs_in_every_worker(void **state)
{
    (void)state;
    weft_executor *ex;
    weft_thread_pool_options o = {
        .max_workers = 4, .initializer = initialize, .initializer_arg = "initialized"};
    weft_thread_pool_new(&ex, &o);
    weft_event_clear(&gate);
    weft_future *block[4], *fs[20];
    for (int i = 0; i < 4; i++) /* start all 4 workers */
        weft_executor_submit(ex, wait_for_gate, NULL, &block[i]);
    for (int i = 0; i < 20; i++)
        weft_executor_submit(ex, read_init_state, NULL, &fs[i]);
    weft_event_set(&gate);
    for (int i = 0; i < 20; i++) {
        const char *seen;
        weft_future_result(fs[i], (void **)&seen);
        assert_string_equal(seen, "initialized");
        weft_future_release(fs[i]);
    }
    for (int i = 0; i < 4; i++)
        weft_future_release(block[i]);
    weft_executor_free(ex);
}

static int failing_initializer(void *arg)
{
    (void)arg;
    return 1;
}

/* ThreadPool 18 [cf.test_init.FailingInitializerMixin.test_initializer] */
static void pool_failing_initializer_breaks_it(void **state)
{
    (void)state;
    weft_executor *ex;
    weft_thread_pool_options o = {.max_workers = 2, .initializer = failing_initializer};
    weft_thread_pool_new(&ex, &o);
    weft_future *f;
    weft_executor_submit(ex, identity, NULL, &f);
    assert_int_equal(weft_future_result_timeout(f, 10, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EBROKEN);
    assert_non_null(strstr(weft_future_error_message(f), "initializer failed"));
    weft_future_release(f);
    weft_future *g = NULL;
    assert_int_equal(weft_executor_submit(ex, identity, NULL, &g), WEFT_EBROKEN);
    assert_null(g);
    weft_executor_free(ex);
}

/* ThreadPool 19 [doc], beyond Python: a task waiting on another task of its
 * own pool runs queued work meanwhile instead of deadlocking. */
static weft_executor *nested_pool;
static void *leaf(void *arg) { return (void *)((uintptr_t)arg * 10); }
static void *parent(void *arg)
{
    weft_future *child;
    weft_executor_submit(nested_pool, leaf, arg, &child);
    void *r = NULL;
    weft_future_result(child, &r);
    weft_future_release(child);
    return r;
}
static void pool_nested_waits_do_not_deadlock(void **state)
{
    (void)state;
    for (long workers = 1; workers <= 2; workers++) {
        nested_pool = pool_with(workers, NULL);
        weft_future *fs[8];
        for (uintptr_t i = 0; i < 8; i++) /* every worker waits on a child */
            weft_executor_submit(nested_pool, parent, (void *)(i + 1), &fs[i]);
        for (uintptr_t i = 0; i < 8; i++) {
            void *r;
            assert_int_equal(weft_future_result_timeout(fs[i], 30, &r), WEFT_OK);
            assert_int_equal((uintptr_t)r, (i + 1) * 10);
            weft_future_release(fs[i]);
        }
        weft_executor_free(nested_pool);
    }
}

static void *failing_task(void *arg)
{
    return weft_fail(WEFT_EINVAL, "row %d is bad", (int)(intptr_t)arg);
}

/* A failing task's error comes back from result (Python re-raises). */
static void pool_task_failure_reaches_caller(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    weft_future *f;
    weft_executor_submit(ex, failing_task, (void *)17, &f);
    assert_int_equal(weft_future_result(f, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EINVAL);
    assert_string_equal(weft_future_error_message(f), "row 17 is bad");
    int code;
    const char *message;
    assert_int_equal(weft_future_exception_timeout(f, 1, &code, &message), WEFT_OK);
    assert_int_equal(code, WEFT_EINVAL);
    weft_future_release(f);
    weft_executor_free(ex);
}

static atomic_int saw_cancel;
static void *poll_cancel(void *arg)
{
    (void)arg;
    weft_event_set(&gate); /* "I am running" */
    for (int i = 0; i < 10000 && !weft_cancelled(); i++)
        weft_sleep(0.001);
    atomic_store(&saw_cancel, weft_cancelled());
    return NULL;
}

/* Beyond Python: cancelling a running task sets a flag it can poll. */
static void pool_running_task_sees_cancel(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(1, NULL);
    weft_event_clear(&gate);
    weft_future *f;
    weft_executor_submit(ex, poll_cancel, NULL, &f);
    weft_event_wait(&gate);
    assert_false(weft_future_cancel(f)); /* running: Python's False */
    weft_future_result(f, NULL);
    assert_int_equal(atomic_load(&saw_cancel), 1);
    weft_future_release(f);
    weft_executor_free(ex);
}

/* Beyond Python: bounded pending work; submit blocks, times out or fails
 * fast. */
static void pool_bounded_pending_work(void **state)
{
    (void)state;
    weft_executor *ex;
    weft_thread_pool_options o = {.max_workers = 1, .max_pending = 2};
    weft_thread_pool_new(&ex, &o);
    weft_event_clear(&gate);
    weft_future *fs[4];
    assert_int_equal(weft_executor_submit(ex, wait_for_gate, NULL, &fs[0]), WEFT_OK);
    assert_eventually(weft_future_running(fs[0]), 10);
    assert_int_equal(weft_executor_submit(ex, identity, NULL, &fs[1]), WEFT_OK);
    assert_int_equal(weft_executor_submit(ex, identity, NULL, &fs[2]), WEFT_OK);
    weft_future *extra = NULL;
    assert_int_equal(weft_executor_submit_timeout(ex, identity, NULL, 0, &extra), WEFT_EFULL);
    double t0 = weft_monotonic();
    assert_int_equal(weft_executor_submit_timeout(ex, identity, NULL, 0.05, &extra), WEFT_EFULL);
    assert_timeout(weft_monotonic() - t0, 0.05);
    assert_null(extra);
    weft_executor_stats s;
    weft_executor_stats_get(ex, &s);
    assert_int_equal(s.queued, 2);
    assert_int_equal(s.running, 1);
    weft_event_set(&gate);
    assert_int_equal(weft_executor_submit(ex, identity, NULL, &fs[3]), WEFT_OK); /* room again */
    assert_int_equal(weft_wait(fs, 4, 10, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    weft_executor_stats_get(ex, &s);
    assert_int_equal(s.completed, 4);
    assert_true(s.queued_seconds >= 0);
    for (int i = 0; i < 4; i++)
        weft_future_release(fs[i]);
    weft_executor_free(ex);
}

/* Beyond Python: resize while running. */
static void pool_resize_while_running(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(1, NULL);
    weft_event_clear(&gate);
    weft_future *fs[3];
    weft_executor_submit(ex, wait_for_gate, NULL, &fs[0]);
    assert_int_equal(weft_executor_resize(ex, 3), WEFT_OK);
    weft_executor_submit(ex, wait_for_gate, NULL, &fs[1]);
    weft_executor_submit(ex, wait_for_gate, NULL, &fs[2]);
    assert_int_equal(workers_of(ex), 3);
    weft_event_set(&gate);
    weft_wait(fs, 3, 10, WEFT_ALL_COMPLETED, NULL);
    assert_eventually(idle_of(ex) == 3, 5);
    assert_int_equal(weft_executor_resize(ex, 1), WEFT_OK);
    assert_eventually(workers_of(ex) == 1, 5); /* idle surplus leave at once */
    weft_future *f;
    weft_executor_submit(ex, identity, NULL, &f); /* the one left still works */
    assert_int_equal(weft_future_result_timeout(f, 5, NULL), WEFT_OK);
    weft_future_release(f);
    assert_int_equal(weft_executor_resize(ex, 0), WEFT_EINVAL);
    for (int i = 0; i < 3; i++)
        weft_future_release(fs[i]);
    weft_executor_shutdown(ex, true, false);
    assert_int_equal(weft_executor_resize(ex, 2), WEFT_ESHUTDOWN);
    weft_executor_free(ex);
}

static atomic_int shutdown_rc = -1, free_rc = -1;
static weft_executor *self_pool;
static void *shut_own_pool(void *arg)
{
    (void)arg;
    atomic_store(&free_rc, weft_executor_free(self_pool));
    atomic_store(&shutdown_rc, weft_executor_shutdown(self_pool, true, false));
    return NULL;
}

/* Shutting down from a task of the same pool does not deadlock. */
static void pool_shutdown_from_own_task(void **state)
{
    (void)state;
    self_pool = pool_with(2, NULL);
    weft_future *f;
    weft_executor_submit(self_pool, shut_own_pool, NULL, &f);
    assert_int_equal(weft_future_result_timeout(f, 10, NULL), WEFT_OK);
    assert_int_equal(atomic_load(&free_rc), WEFT_ESTATE);
    assert_int_equal(atomic_load(&shutdown_rc), WEFT_OK);
    weft_future_release(f);
    weft_executor_free(self_pool);
}

/* wait and as_completed work on pool futures (any executor's). */
static void pool_futures_with_wait_and_as_completed(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(4, NULL);
    weft_future *fs[20];
    for (uintptr_t i = 0; i < 20; i++)
        weft_executor_submit(ex, i % 2 ? failing_task : identity, (void *)i, &fs[i]);
    weft_as_completed *it;
    weft_as_completed_new(&it, fs, 20, 30);
    int n = 0, rc;
    weft_future *f;
    while ((rc = weft_as_completed_next(it, &f)) == WEFT_OK) {
        n++;
        weft_future_release(f);
    }
    assert_int_equal(rc, WEFT_ESTOP);
    assert_int_equal(n, 20);
    weft_as_completed_free(it);
    bool done[20];
    assert_int_equal(weft_wait(fs, 20, 0, WEFT_FIRST_EXCEPTION, done), WEFT_OK);
    for (int i = 0; i < 20; i++)
        weft_future_release(fs[i]);
    weft_executor_free(ex);
}

/* ---- cancellable waits (beyond Python) ------------------------------------ */

enum { W_EVENT, W_LOCK, W_RLOCK, W_QUEUE, W_SEMAPHORE, W_CONDITION, W_FUTURE, W_SLEEP,
       W_JOIN, W_BARRIER, W_WAIT, W_KINDS };

static weft_event never_set = WEFT_EVENT_INIT;
static weft_lock held_lock = WEFT_LOCK_INIT;
static weft_rlock held_rlock = WEFT_RLOCK_INIT;
static weft_semaphore empty_sem = WEFT_SEMAPHORE_INIT(0);
static weft_condition quiet_cond = WEFT_CONDITION_INIT;
static weft_queue *empty_queue;
static weft_future *never_done;
static weft_thread *blocked_thread;
static weft_barrier two_party;
static atomic_int wait_rc[W_KINDS];
static atomic_int cond_lock_held_after;
static atomic_int opt_in = 1;

static void *blocked_on_gate(void *arg)
{
    (void)arg;
    weft_event_wait(&gate);
    return NULL;
}

static void *block_in(void *arg)
{
    int kind = (int)(intptr_t)arg;
    weft_cancellable(atomic_load(&opt_in) != 0);
    void *item;
    int rc = -1;
    switch (kind) {
    case W_EVENT: rc = weft_event_wait(atomic_load(&opt_in) ? &never_set : &gate); break;
    case W_LOCK: rc = weft_lock_acquire(&held_lock); break;
    case W_RLOCK: rc = weft_rlock_acquire(&held_rlock); break;
    case W_QUEUE: rc = weft_queue_get(empty_queue, &item); break;
    case W_SEMAPHORE: rc = weft_semaphore_acquire(&empty_sem); break;
    case W_CONDITION:
        weft_condition_acquire(&quiet_cond);
        rc = weft_condition_wait(&quiet_cond);
        atomic_store(&cond_lock_held_after, weft_rlock_is_owned(&quiet_cond.own_));
        weft_condition_release(&quiet_cond);
        break;
    case W_FUTURE: rc = weft_future_result(never_done, NULL); break;
    case W_SLEEP: rc = weft_sleep(atomic_load(&opt_in) ? 30 : 0.2); break;
    case W_JOIN: rc = weft_thread_join(blocked_thread, NULL); break;
    case W_BARRIER: rc = weft_barrier_wait(&two_party, NULL); break;
    case W_WAIT: rc = weft_wait(&never_done, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL); break;
    }
    atomic_store(&wait_rc[kind], rc);
    return NULL;
}

static void cancellable_waits_scenario(bool cancellable)
{
    weft_executor *ex = pool_with(W_KINDS, NULL);
    weft_event_clear(&gate);
    weft_event_clear(&never_set);
    weft_lock_init(&held_lock);
    weft_lock_acquire(&held_lock);
    weft_rlock_init(&held_rlock);
    weft_rlock_acquire(&held_rlock); /* owned by this thread, not the tasks' */
    weft_semaphore_init(&empty_sem, 0);
    weft_queue_new(&empty_queue, 0);
    weft_future_new(&never_done);
    weft_barrier_init(&two_party, 2, NULL, NULL, WEFT_FOREVER);
    weft_thread_new(&blocked_thread, blocked_on_gate, NULL, NULL);
    weft_thread_start(blocked_thread);
    atomic_store(&opt_in, cancellable);
    weft_future *fs[W_KINDS];
    for (intptr_t k = 0; k < W_KINDS; k++) {
        atomic_store(&wait_rc[k], -1);
        weft_executor_submit(ex, block_in, (void *)k, &fs[k]);
    }
    for (int k = 0; k < W_KINDS; k++)
        assert_eventually(weft_future_running(fs[k]), 10);
    nap(0.05); /* let them block */
    double t0 = weft_monotonic();
    for (int k = 0; k < W_KINDS; k++)
        assert_false(weft_future_cancel(fs[k])); /* running: false, flag set */
    if (cancellable) {
        assert_int_equal(weft_wait(fs, W_KINDS, 10, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
        assert_true(weft_monotonic() - t0 < 1.0);
        for (int k = 0; k < W_KINDS; k++)
            if (atomic_load(&wait_rc[k]) != WEFT_ECANCELLED)
                fail_msg("wait kind %d returned %d", k, atomic_load(&wait_rc[k]));
        assert_int_equal(atomic_load(&cond_lock_held_after), 1);
        assert_true(weft_barrier_broken(&two_party));
    } else {
        /* Not opted in: the cancel request does not interrupt the waits. */
        nap(0.1);
        assert_int_equal(atomic_load(&wait_rc[W_EVENT]), -1);
        assert_int_equal(atomic_load(&wait_rc[W_LOCK]), -1);
        weft_event_set(&gate);
        weft_lock_release(&held_lock);
        assert_int_equal(weft_future_result_timeout(fs[W_EVENT], 10, NULL), WEFT_OK);
        assert_int_equal(atomic_load(&wait_rc[W_EVENT]), WEFT_OK);
        assert_int_equal(weft_future_result_timeout(fs[W_LOCK], 10, NULL), WEFT_OK);
        assert_int_equal(atomic_load(&wait_rc[W_LOCK]), WEFT_OK); /* the task holds it now */
        /* unblock the rest so the pool can finish */
        weft_rlock_release(&held_rlock);
        weft_semaphore_release_n(&empty_sem, 1);
        weft_queue_put(empty_queue, NULL);
        weft_condition_acquire(&quiet_cond);
        weft_condition_notify_all(&quiet_cond);
        weft_condition_release(&quiet_cond);
        weft_future_set_result(never_done, NULL);
        weft_barrier_abort(&two_party);
        assert_int_equal(weft_wait(fs, W_KINDS, 60, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    }
    weft_event_set(&gate);
    weft_thread_join(blocked_thread, NULL);
    weft_thread_free(blocked_thread);
    weft_lock_release(&held_lock);
    if (cancellable)
        weft_rlock_release(&held_rlock);
    for (int k = 0; k < W_KINDS; k++)
        weft_future_release(fs[k]);
    weft_executor_free(ex);
    weft_queue_free(empty_queue);
    weft_future_release(never_done);
}

static void pool_cancellable_waits_return_cancelled(void **state)
{
    (void)state;
    cancellable_waits_scenario(true);
}

static void pool_waits_not_cancellable_unless_asked(void **state)
{
    (void)state;
    cancellable_waits_scenario(false);
}

/* Regression: weft's internal locks are never cancelled.  In a cancelled
 * task that asked for cancellable waits, the public acquire gives up with
 * WEFT_ECANCELLED, but the internal form every library lock uses must
 * still wait for the lock and get it. */
static weft_lock internal_lock = WEFT_LOCK_INIT;
static atomic_int public_rc = -1, internal_got_it;
static void *cancelled_task_takes_locks(void *arg)
{
    (void)arg;
    weft_cancellable(true);
    weft_event_wait(&never_set); /* returns once cancelled */
    atomic_store(&public_rc, weft_lock_acquire(&internal_lock));
    weft__lock_take(&internal_lock); /* must wait, not give up */
    atomic_store(&internal_got_it, weft_lock_locked(&internal_lock));
    weft_lock_release(&internal_lock);
    return NULL;
}
static void internal_locks_are_not_cancelled(void **state)
{
    (void)state;
    weft_event_clear(&never_set);
    weft_lock_acquire(&internal_lock);
    weft_executor *ex = pool_with(1, NULL);
    weft_future *f;
    weft_executor_submit(ex, cancelled_task_takes_locks, NULL, &f);
    assert_eventually(weft_future_running(f), 10);
    weft_future_cancel(f);
    assert_eventually(atomic_load(&public_rc) != -1, 10);
    assert_int_equal(atomic_load(&public_rc), WEFT_ECANCELLED);
    nap(0.05); /* the task is now waiting in weft__lock_take */
    assert_false(weft_future_done(f));
    weft_lock_release(&internal_lock);
    assert_int_equal(weft_future_result_timeout(f, 10, NULL), WEFT_OK);
    assert_int_equal(atomic_load(&internal_got_it), 1);
    weft_future_release(f);
    weft_executor_free(ex);
}

/* In a cancelled cancellable task, an event or condition wait reports the
 * cancellation even when it only polls (timeout 0): their waits have
 * always looked at the cancellation before the deadline. */
static weft_condition polled_cond = WEFT_CONDITION_INIT;
static atomic_int polled_event_rc = -1, polled_cond_rc = -1;
static void *cancelled_task_polls(void *arg)
{
    (void)arg;
    weft_cancellable(true);
    int locked = weft_condition_acquire(&polled_cond);
    weft_event_wait(&never_set); /* returns once cancelled */
    atomic_store(&polled_event_rc, weft_event_wait_timeout(&never_set, 0));
    atomic_store(&polled_cond_rc, locked == WEFT_OK ? weft_condition_wait_timeout(&polled_cond, 0)
                                                    : locked + 100);
    if (locked == WEFT_OK)
        weft_condition_release(&polled_cond);
    return NULL;
}
static void cancelled_task_polls_are_cancelled(void **state)
{
    (void)state;
    weft_event_clear(&never_set);
    weft_executor *ex = pool_with(1, NULL);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, cancelled_task_polls, NULL, &f), WEFT_OK);
    assert_eventually(weft_future_running(f), 10);
    weft_future_cancel(f);
    assert_eventually(atomic_load(&polled_cond_rc) != -1, 10);
    assert_int_equal(atomic_load(&polled_event_rc), WEFT_ECANCELLED);
    assert_int_equal(atomic_load(&polled_cond_rc), WEFT_ECANCELLED);
    assert_int_equal(weft_future_result_timeout(f, 10, NULL), WEFT_OK);
    weft_future_release(f);
    weft_executor_free(ex);
}

/* ---- map ----------------------------------------------------------------- */

static void *square(void *arg)
{
    uintptr_t x = (uintptr_t)arg;
    return (void *)(x * x);
}

static void **args_0_to(size_t n, void **storage)
{
    for (size_t i = 0; i < n; i++)
        storage[i] = (void *)(uintptr_t)i;
    return storage;
}

/* map 1, 15 [cf.executor.ExecutorTest.test_map; ProcessPool test_map_chunksize],
 * and 11's value check (buffersize < 0 is WEFT_EINVAL; 0 means unbounded,
 * as a zeroed options struct means the defaults). */
static void map_results_in_input_order(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(4, NULL);
    void *args[50];
    args_0_to(50, args);
    long chunks[] = {0, 1, 3};
    for (int c = 0; c < 3; c++) {
        weft_map_options o = {.chunksize = chunks[c]};
        weft_map *m;
        assert_int_equal(weft_executor_map(ex, square, args, 50, WEFT_FOREVER, &o, &m), WEFT_OK);
        void *r;
        for (uintptr_t i = 0; i < 50; i++) {
            assert_int_equal(weft_map_next(m, &r), WEFT_OK);
            assert_int_equal((uintptr_t)r, i * i);
        }
        assert_int_equal(weft_map_next(m, &r), WEFT_ESTOP);
        assert_int_equal(weft_map_next(m, &r), WEFT_ESTOP);
        weft_map_free(m);
    }
    weft_map_options negative = {.chunksize = -1}, bad_buffer = {.buffersize = -1};
    weft_map *m;
    assert_int_equal(weft_executor_map(ex, square, args, 50, 1, &negative, &m), WEFT_EINVAL);
    assert_int_equal(weft_executor_map(ex, square, args, 50, 1, &bad_buffer, &m), WEFT_EINVAL);
    weft_executor_free(ex);
}

static atomic_int map_calls;
static void *count_call(void *arg)
{
    atomic_fetch_add(&map_calls, 1);
    return arg;
}

/* map 2 [cf.test_thread_pool.ThreadPoolExecutorTest.test_map_submits_without_iteration] */
static void map_submits_everything_at_once(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    void *args[10];
    args_0_to(10, args);
    weft_map *m;
    atomic_store(&map_calls, 0);
    weft_executor_map(ex, count_call, args, 10, WEFT_FOREVER, NULL, &m);
    weft_executor_shutdown(ex, true, false);
    assert_int_equal(atomic_load(&map_calls), 10);
    weft_map_free(m);
    weft_executor_free(ex);
}

static void *divide_100_by(void *arg)
{
    uintptr_t d = (uintptr_t)arg;
    if (d == 0)
        return weft_fail(WEFT_EINVAL, "division by zero");
    return (void *)(100 / d);
}

/* map 3, 4 [cf.executor.ExecutorTest.test_map_exception (3.15-dev)]: an
 * element's failure is reported for that element; the rest still come. */
static void map_failure_is_per_element(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    void *args[] = {(void *)2, (void *)0, (void *)5, (void *)10};
    weft_map *m;
    weft_executor_map(ex, divide_100_by, args, 4, WEFT_FOREVER, NULL, &m);
    void *r;
    assert_int_equal(weft_map_next(m, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 50);
    assert_int_equal(weft_map_next(m, &r), WEFT_EFAILED);
    assert_int_equal(weft_map_error_code(m), WEFT_EINVAL);
    assert_string_equal(weft_map_error_message(m), "division by zero");
    assert_int_equal(weft_map_next(m, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 20);
    assert_int_equal(weft_map_next(m, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 10);
    assert_int_equal(weft_map_error_code(m), 0);
    assert_int_equal(weft_map_next(m, &r), WEFT_ESTOP);
    weft_map_free(m);
    weft_executor_free(ex);
}

static void *sleep_for(void *arg)
{
    weft_sleep((double)(uintptr_t)arg / 1000);
    return arg;
}

/* map 5, 6 [cf.executor.ExecutorTest.test_map_timeout; doc]: the timeout
 * counts from the map call; then the iteration is over. */
static void map_timeout_ends_iteration(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(3, NULL);
    void *args[] = {(void *)0, (void *)0, (void *)3000}; /* ms */
    weft_map *m;
    double t0 = weft_monotonic();
    weft_executor_map(ex, sleep_for, args, 3, 0.5, NULL, &m);
    void *r;
    int ok = 0, rc;
    while ((rc = weft_map_next(m, &r)) == WEFT_OK)
        ok++;
    assert_int_equal(rc, WEFT_ETIMEDOUT);
    assert_int_equal(ok, 2);
    double dt = weft_monotonic() - t0;
    assert_true(dt >= 0.5);
    assert_timeout(dt, 0.5);
    assert_int_equal(weft_map_next(m, &r), WEFT_ESTOP);
    weft_map_free(m);
    weft_executor_free(ex);
}

static void *time_out_inside(void *arg)
{
    (void)arg;
    return weft_fail(WEFT_ETIMEDOUT, "the task's own timeout");
}

/* map 7 [cf.executor.ExecutorTest.test_map_timeout_from_callable (3.15-dev)] */
static void map_task_timeout_is_an_element_error(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    void *args[] = {NULL, NULL};
    weft_map *m;
    weft_executor_map(ex, time_out_inside, args, 2, 10, NULL, &m);
    void *r;
    assert_int_equal(weft_map_next(m, &r), WEFT_EFAILED);
    assert_int_equal(weft_map_error_code(m), WEFT_ETIMEDOUT);
    assert_int_equal(weft_map_next(m, &r), WEFT_EFAILED);
    assert_int_equal(weft_map_next(m, &r), WEFT_ESTOP);
    weft_map_free(m);
    weft_executor_free(ex);
}

/* map 8, 9 [cf.test_thread_pool.ThreadPoolExecutorTest.test_executor_map_current_future_cancel,
 * cf.executor.ExecutorTest.test_map_close]: a saturated pool, timeout 0;
 * freeing the iterator cancels what never started. */
static void map_timeout_and_free_cancel_the_rest(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(1, NULL);
    weft_event_clear(&gate);
    weft_future *busy;
    weft_executor_submit(ex, wait_for_gate, NULL, &busy);
    void *args[3] = {NULL, NULL, NULL};
    weft_map *m;
    atomic_store(&map_calls, 0);
    weft_executor_map(ex, count_call, args, 3, 0, NULL, &m);
    void *r;
    assert_int_equal(weft_map_next(m, &r), WEFT_ETIMEDOUT);
    weft_map_free(m);
    weft_event_set(&gate);
    weft_executor_shutdown(ex, true, false);
    assert_int_equal(atomic_load(&map_calls), 0); /* none ever started */

    weft_future_release(busy);
    weft_executor_free(ex);
}

/* map 10: nothing yielded is kept (ASan checks the releases). */

struct counter_source {
    uintptr_t next, limit; /* limit 0: endless */
    int taken;
};
static bool count_up(void *ctx, void **arg)
{
    struct counter_source *c = ctx;
    if (c->limit && c->next >= c->limit)
        return false;
    c->taken++;
    *arg = (void *)c->next++;
    return true;
}

/* map 12, 13 [cf.executor.ExecutorTest.test_map_buffersize*, _on_infinite_iterable] */
static void map_buffersize_and_endless_input(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    long sizes[] = {1, 2, 10, 20};
    for (int k = 0; k < 4; k++) {
        struct counter_source c = {0, 10, 0};
        weft_map_options o = {.buffersize = sizes[k]};
        weft_map *m;
        weft_executor_map_source(ex, square, count_up, &c, WEFT_FOREVER, &o, &m);
        void *r;
        for (uintptr_t i = 0; i < 10; i++) {
            assert_int_equal(weft_map_next(m, &r), WEFT_OK);
            assert_int_equal((uintptr_t)r, i * i);
        }
        assert_int_equal(weft_map_next(m, &r), WEFT_ESTOP);
        weft_map_free(m);
    }
    struct counter_source endless = {0, 0, 0};
    weft_map_options two = {.buffersize = 2};
    weft_map *m;
    weft_executor_map_source(ex, square, count_up, &endless, WEFT_FOREVER, &two, &m);
    void *r;
    for (uintptr_t i = 0; i < 3; i++) {
        assert_int_equal(weft_map_next(m, &r), WEFT_OK);
        assert_int_equal((uintptr_t)r, i * i);
    }
    weft_map_free(m);
    void *none = NULL;
    assert_int_equal(weft_executor_map(ex, square, NULL, 0, 1, &two, &m), WEFT_OK);
    assert_int_equal(weft_map_next(m, &none), WEFT_ESTOP);
    weft_map_free(m);
    weft_executor_free(ex);
}

/* map 14 [cf.executor.ExecutorTest.test_map_buffersize_when_buffer_is_full] */
static void map_buffersize_consumes_lazily(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    struct counter_source c = {0, 4, 0};
    weft_map_options two = {.buffersize = 2};
    weft_map *m;
    weft_executor_map_source(ex, square, count_up, &c, WEFT_FOREVER, &two, &m);
    weft_executor_shutdown(ex, true, false);
    assert_int_equal(c.taken, 2); /* exactly two inputs consumed */
    void *r;
    assert_int_equal(weft_map_next(m, &r), WEFT_ESHUTDOWN); /* the next submit fails */
    weft_map_free(m);
    weft_executor_free(ex);
}

/* ThreadPool 9: map after shutdown fails at call time. */
static void map_after_shutdown_fails(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(2, NULL);
    weft_executor_shutdown(ex, true, false);
    void *args[2] = {NULL, NULL};
    weft_map *m = NULL;
    assert_int_equal(weft_executor_map(ex, square, args, 2, 1, NULL, &m), WEFT_ESHUTDOWN);
    assert_null(m);
    assert_int_equal(weft_executor_map(ex, square, NULL, 2, 1, NULL, &m), WEFT_EINVAL);
    weft_executor_free(ex);
}

/* Out-parameters [executor.h]: on every status but WEFT_OK, map_next's
 * *result, submit's *future and map's *it are NULL, so a loop never
 * handles an earlier element's result twice.  Before, map_next left the
 * previous result there after a failed element, and a failed submit left
 * *future as it was. */
static void map_and_submit_out_parameters_on_every_status(void **state)
{
    (void)state;
    static int stale;
    weft_executor *ex = pool_with(1, NULL);
    void *args[] = {(void *)2, (void *)0};
    weft_map *m;
    assert_int_equal(weft_executor_map(ex, divide_100_by, args, 2, 10, NULL, &m), WEFT_OK);
    void *r = NULL;
    assert_int_equal(weft_map_next(m, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 50);
    assert_int_equal(weft_map_next(m, &r), WEFT_EFAILED);
    assert_null(r); /* not the 50 of the element before */
    r = &stale;
    assert_int_equal(weft_map_next(m, &r), WEFT_ESTOP);
    assert_null(r);
    weft_map_free(m);

    weft_event_clear(&gate); /* a busy pool: time out, then cancel */
    weft_future *busy;
    weft_executor_submit(ex, wait_for_gate, NULL, &busy);
    assert_int_equal(weft_executor_map(ex, identity, args, 2, 0, NULL, &m), WEFT_OK);
    r = &stale;
    assert_int_equal(weft_map_next(m, &r), WEFT_ETIMEDOUT);
    assert_null(r);
    weft_map_free(m);
    assert_int_equal(weft_executor_map(ex, identity, args, 2, 10, NULL, &m), WEFT_OK);
    weft_executor_shutdown(ex, false, true); /* cancels both queued calls */
    r = &stale;
    assert_int_equal(weft_map_next(m, &r), WEFT_ECANCELLED);
    assert_null(r);
    weft_map_free(m);

    weft_future *f = (weft_future *)&stale;
    assert_int_equal(weft_executor_submit(ex, identity, NULL, &f), WEFT_ESHUTDOWN);
    assert_null(f);
    f = (weft_future *)&stale;
    assert_int_equal(weft_executor_submit_timeout(ex, identity, NULL, NAN, &f), WEFT_EINVAL);
    assert_null(f);
    f = (weft_future *)&stale;
    assert_int_equal(weft_executor_submit(ex, NULL, NULL, &f), WEFT_EINVAL);
    assert_null(f);
    m = (weft_map *)&stale;
    assert_int_equal(weft_executor_map(ex, identity, args, 2, 1, NULL, &m), WEFT_ESHUTDOWN);
    assert_null(m);
    m = (weft_map *)&stale;
    assert_int_equal(weft_executor_map(ex, identity, args, 2, NAN, NULL, &m), WEFT_EINVAL);
    assert_null(m);
    assert_int_equal(weft_map_next(NULL, &r), WEFT_EINVAL);
    assert_null(r);
    weft_event_set(&gate);
    weft_future_release(busy);
    weft_executor_free(ex);

    weft_thread_pool_options bounded = {.max_workers = 1, .max_pending = 1};
    assert_int_equal(weft_thread_pool_new(&ex, &bounded), WEFT_OK);
    weft_event_clear(&gate);
    weft_executor_submit(ex, wait_for_gate, NULL, &busy);
    assert_eventually(weft_future_running(busy), 5);
    weft_executor_submit(ex, identity, NULL, NULL); /* fills the one place */
    f = (weft_future *)&stale;
    assert_int_equal(weft_executor_submit_timeout(ex, identity, NULL, 0, &f), WEFT_EFULL);
    assert_null(f);
    weft_event_set(&gate);
    weft_future_release(busy);
    weft_executor_free(ex);
    ex = (weft_executor *)&stale;
    weft_thread_pool_options bad = {.max_workers = -1};
    assert_int_equal(weft_thread_pool_new(&ex, &bad), WEFT_EINVAL);
    assert_null(ex);
}

static void executor_bad_input(void **state)
{
    (void)state;
    weft_executor *ex = pool_with(1, NULL);
    weft_future *f;
    assert_int_equal(weft_executor_submit(NULL, identity, NULL, &f), WEFT_EINVAL);
    assert_int_equal(weft_executor_submit(ex, NULL, NULL, &f), WEFT_EINVAL);
    assert_int_equal(weft_executor_submit_timeout(ex, identity, NULL, NAN, &f), WEFT_EINVAL);
    assert_int_equal(weft_executor_shutdown(NULL, true, false), WEFT_EINVAL);
    assert_int_equal(weft_executor_stats_get(ex, NULL), WEFT_EINVAL);
    assert_int_equal(weft_executor_resize(NULL, 2), WEFT_EINVAL);
    assert_int_equal(weft_executor_free(NULL), WEFT_EINVAL);
    assert_int_equal(weft_executor_submit(ex, identity, NULL, NULL), WEFT_OK); /* no future */
    weft_executor_free(ex);
}

/* Stress: 8 threads submit 1M tasks in all to one pool, with callbacks,
 * random cancels and waits; every future ends exactly once, every callback
 * runs exactly once, nothing leaks (ASan). */
#define S_BATCH 64
#define S_BATCHES 1954 /* per thread: 8 x 64 x 1954 = 1,000,448 tasks */
#define S_TOTAL ((long)STRESS_THREADS * S_BATCH * S_BATCHES)
static weft_executor *s_pool;
static atomic_long s_callbacks, s_finished, s_cancelled, s_errors;
static void s_done(weft_future *f, void *arg)
{
    (void)arg;
    atomic_fetch_add(&s_callbacks, 1);
    if (!weft_future_done(f))
        atomic_fetch_add(&s_errors, 1);
}
static void *s_task(void *arg) { return arg; }

static void s_submitter(int index, void *arg)
{
    (void)arg;
    unsigned seed = (unsigned)index * 2654435761u + 1;
    weft_future *batch[S_BATCH];
    for (long b = 0; b < S_BATCHES; b++) {
        for (int k = 0; k < S_BATCH; k++) {
            if (weft_executor_submit(s_pool, s_task, (void *)(uintptr_t)(k + 1), &batch[k]) !=
                WEFT_OK) {
                atomic_fetch_add(&s_errors, 1);
                batch[k] = NULL;
                continue;
            }
            weft_future_add_done_callback(batch[k], s_done, NULL);
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 8 == 0)
                weft_future_cancel(batch[k]);
        }
        seed = seed * 1103515245u + 12345u;
        weft_return_when when = (seed >> 16) % 2 ? WEFT_ALL_COMPLETED : WEFT_FIRST_COMPLETED;
        weft_wait(batch, S_BATCH, 30, when, NULL);
        for (int k = 0; k < S_BATCH; k++) {
            if (!batch[k])
                continue;
            void *r = NULL;
            int rc = weft_future_result_timeout(batch[k], 30, &r);
            if (rc == WEFT_OK && (uintptr_t)r == (uintptr_t)(k + 1))
                atomic_fetch_add(&s_finished, 1);
            else if (rc == WEFT_ECANCELLED)
                atomic_fetch_add(&s_cancelled, 1);
            else
                atomic_fetch_add(&s_errors, 1);
            weft_future_release(batch[k]);
        }
    }
}

static void executor_stress_million_tasks(void **state)
{
    (void)state;
    s_pool = pool_with(4, NULL);
    bunch_join(bunch_start(STRESS_THREADS, s_submitter, NULL));
    assert_int_equal(weft_executor_free(s_pool), WEFT_OK);
    assert_int_equal(atomic_load(&s_errors), 0);
    assert_int_equal(atomic_load(&s_finished) + atomic_load(&s_cancelled), S_TOTAL);
    assert_int_equal(atomic_load(&s_callbacks), S_TOTAL);
    assert_true(atomic_load(&s_cancelled) > 0);
}

/* ---- idle worker threads reused across pools (beyond Python) ---------- */

struct seen_worker {
    long native_id;
    uint64_t ident;
    char name[32];
    void *local_before;
};

static weft_local reuse_local = WEFT_LOCAL_INIT(NULL);
static weft_barrier reuse_barrier;
static struct seen_worker seen[4];
static _Atomic int seen_count;

/* Each of 4 tasks waits for the other 3: 4 distinct workers run them. */
static void *record_worker(void *arg)
{
    int i = atomic_fetch_add(&seen_count, 1);
    seen[i].native_id = weft_get_native_id();
    seen[i].ident = weft_get_ident();
    snprintf(seen[i].name, sizeof seen[i].name, "%s", weft_thread_name(weft_current_thread()));
    seen[i].local_before = weft_local_get(&reuse_local);
    weft_local_set(&reuse_local, arg);
    weft_barrier_wait_timeout(&reuse_barrier, 10, NULL);
    return NULL;
}

static void run_four_workers(const char *prefix, struct seen_worker out[4])
{
    weft_executor *ex = pool_with(4, prefix);
    weft_future *fs[4];
    atomic_store(&seen_count, 0);
    assert_int_equal(weft_barrier_init(&reuse_barrier, 4, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(weft_executor_submit(ex, record_worker, (void *)(uintptr_t)(i + 1), &fs[i]),
                         WEFT_OK);
    assert_int_equal(weft_wait(fs, 4, 10, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(weft_future_result(fs[i], NULL), WEFT_OK);
        weft_future_release(fs[i]);
    }
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
    weft_barrier_destroy(&reuse_barrier);
    memcpy(out, seen, sizeof seen);
}

static void idle_threads_serve_the_next_pool(void **state)
{
    (void)state;
    struct seen_worker a[4], b[4];
    weft_local_init(&reuse_local, NULL, NULL, NULL);
    /* Start from an empty cache: end the threads earlier tests left idle
     * (and let any still on their way out of a pool arrive and leave). */
    assert_int_equal(weft_thread_pool_set_idle_keep(0), WEFT_OK);
    nap(0.05);
    assert_int_equal(weft_thread_pool_idle_threads(), 0);
    assert_int_equal(weft_thread_pool_set_idle_keep(30), WEFT_OK);
    run_four_workers("first", a);
    /* shutdown waited for the workers; their OS threads park right after */
    assert_eventually(weft_thread_pool_idle_threads() == 4, 5);
    run_four_workers("second", b);
    assert_eventually(weft_thread_pool_idle_threads() == 4, 5); /* took 4, gave 4 back */
    for (int i = 0; i < 4; i++) {
        bool reused = false;
        for (int j = 0; j < 4; j++) {
            reused |= b[i].native_id == a[j].native_id;
            assert_true(b[i].ident != a[j].ident); /* a new weft thread each time */
        }
        assert_true(reused);                       /* the same OS thread */
        assert_non_null(strstr(b[i].name, "second_"));
        assert_null(a[i].local_before);
        assert_null(b[i].local_before); /* weft_local values ended with pool one */
    }
    weft_local_destroy(&reuse_local);
}

static void *nothing(void *arg) { return arg; }

static void run_two_tasks(void)
{
    weft_executor *ex = pool_with(2, "short");
    for (int i = 0; i < 2; i++)
        assert_int_equal(weft_executor_submit(ex, wait_for_gate, NULL, NULL), WEFT_OK);
    weft_event_set(&gate);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
    weft_event_clear(&gate);
}

static void idle_keep_zero_and_expiry(void **state)
{
    (void)state;
    assert_int_equal(weft_thread_pool_set_idle_keep(-1), WEFT_EINVAL);
    assert_int_equal(weft_thread_pool_set_idle_keep(NAN), WEFT_EINVAL);
    /* 0: Python's behaviour, and the idle ones end now */
    assert_int_equal(weft_thread_pool_set_idle_keep(0), WEFT_OK);
    assert_int_equal(weft_thread_pool_idle_threads(), 0);
    run_two_tasks();
    assert_int_equal(weft_thread_pool_idle_threads(), 0);
    /* a short keep: they park, then leave by themselves */
    assert_int_equal(weft_thread_pool_set_idle_keep(0.05), WEFT_OK);
    run_two_tasks();
    assert_eventually(weft_thread_pool_idle_threads() == 0, 5);
    assert_int_equal(weft_thread_pool_set_idle_keep(30), WEFT_OK);
    (void)nothing;
}

/* A child forked while idle threads are parked has none (they did not cross
 * the fork) and must start its own workers instead of handing work to
 * threads that do not exist. */
static void fork_child_starts_its_own_workers(void **state)
{
    (void)state;
#ifdef UNDER_TSAN
    skip(); /* TSan does not support threads started after fork */
#else
    run_two_tasks();
    assert_eventually(weft_thread_pool_idle_threads() >= 2, 5); /* parking after the join */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10); /* a hang fails the test instead of stalling it */
        if (weft_thread_pool_idle_threads() != 0)
            _exit(3);
        weft_executor *ex;
        weft_future *f;
        void *r = NULL;
        if (weft_thread_pool_new(&ex, NULL) != WEFT_OK ||
            weft_executor_submit(ex, power_of_two, (void *)5, &f) != WEFT_OK ||
            weft_future_result(f, &r) != WEFT_OK)
            _exit(4);
        _exit((uintptr_t)r == 32 ? 0 : 5);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

/* Helping [executor.h]: every wait on futures of the caller's own pool
 * helps, not only result().  A task of a one-worker pool submits siblings
 * and waits on them with weft_wait (ALL_COMPLETED, FIRST_COMPLETED) or
 * as_completed: no other worker exists to run them, so the wait must run
 * them itself.  Without helping the inner wait times out (10 s) and the
 * task reports WEFT_ETIMEDOUT. */
static weft_executor *one_worker_pool;
enum { SIBLINGS = 3 };
static void submit_siblings(weft_future **fs)
{
    for (uintptr_t i = 0; i < SIBLINGS; i++)
        weft_executor_submit(one_worker_pool, identity, (void *)(i + 1), &fs[i]);
}
static void release_all(weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weft_future_release(fs[i]);
}
static void *wait_on_siblings(void *arg)
{
    weft_return_when when = (weft_return_when)(uintptr_t)arg;
    weft_future *fs[SIBLINGS];
    bool done[SIBLINGS] = {false};
    submit_siblings(fs);
    int rc = weft_wait(fs, SIBLINGS, 10, when, done);
    size_t n_done = 0;
    for (int i = 0; i < SIBLINGS; i++)
        n_done += done[i];
    release_all(fs, SIBLINGS);
    if (rc != WEFT_OK)
        return weft_fail(rc, "weft_wait returned %s", weft_status_name(rc));
    return (void *)n_done;
}
static void *iterate_siblings(void *arg)
{
    (void)arg;
    weft_future *fs[SIBLINGS];
    submit_siblings(fs);
    weft_as_completed *it;
    weft_as_completed_new(&it, fs, SIBLINGS, 10);
    release_all(fs, SIBLINGS); /* the iterator holds them */
    uintptr_t sum = 0;
    weft_future *f;
    int rc;
    while ((rc = weft_as_completed_next(it, &f)) == WEFT_OK) {
        void *r = NULL;
        weft_future_result(f, &r);
        sum += (uintptr_t)r;
        weft_future_release(f);
    }
    weft_as_completed_free(it);
    if (rc != WEFT_ESTOP)
        return weft_fail(rc, "as_completed returned %s", weft_status_name(rc));
    return (void *)sum;
}
static void pool_every_wait_helps(void **state)
{
    (void)state;
    one_worker_pool = pool_with(1, NULL);
    struct {
        weft_task_fn fn;
        uintptr_t arg, expected_at_least;
    } cases[] = {
        {wait_on_siblings, WEFT_ALL_COMPLETED, SIBLINGS},
        {wait_on_siblings, WEFT_FIRST_COMPLETED, 1},
        {wait_on_siblings, WEFT_FIRST_EXCEPTION, SIBLINGS},
        {iterate_siblings, 0, 1 + 2 + 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        weft_future *f;
        assert_int_equal(weft_executor_submit(one_worker_pool, cases[k].fn,
                                              (void *)cases[k].arg, &f),
                         WEFT_OK);
        void *r = NULL;
        int rc = weft_future_result_timeout(f, 60, &r);
        if (rc != WEFT_OK)
            fail_msg("case %zu: %s (%s)", k, weft_status_name(rc), weft_future_error_message(f));
        assert_true((uintptr_t)r >= cases[k].expected_at_least);
        weft_future_release(f);
    }
    assert_int_equal(weft_executor_free(one_worker_pool), WEFT_OK);
}

/* Resize [executor.h]: growing a pool with a backlog starts workers for
 * the backlog at once.  N tasks that each wait at an N-party barrier are
 * queued on a one-worker pool; after resize(N) they must all run at the
 * same time.  Before, resize started nobody: one task waited at the
 * barrier alone until its timeout broke it for the others. */
enum { BACKLOG = 4 };
static weft_barrier backlog_barrier;
static void *meet_at_barrier(void *arg)
{
    (void)arg;
    int rc = weft_barrier_wait_timeout(&backlog_barrier, 20, NULL);
    return rc == WEFT_OK ? NULL : weft_fail(rc, "barrier: %s", weft_status_name(rc));
}
static void pool_resize_up_serves_the_backlog(void **state)
{
    (void)state;
    weft_barrier_init(&backlog_barrier, BACKLOG, NULL, NULL, WEFT_FOREVER);
    weft_executor *ex = pool_with(1, NULL);
    weft_future *fs[BACKLOG];
    for (int i = 0; i < BACKLOG; i++)
        assert_int_equal(weft_executor_submit(ex, meet_at_barrier, NULL, &fs[i]), WEFT_OK);
    assert_eventually(weft_future_running(fs[0]), 5); /* the rest are queued */
    assert_int_equal(workers_of(ex), 1);
    assert_int_equal(weft_executor_resize(ex, BACKLOG), WEFT_OK);
    assert_int_equal(weft_wait(fs, BACKLOG, 30, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    for (int i = 0; i < BACKLOG; i++) {
        int rc = weft_future_result(fs[i], NULL);
        if (rc != WEFT_OK)
            fail_msg("task %d: %s", i, weft_future_error_message(fs[i]));
        weft_future_release(fs[i]);
    }
    assert_int_equal(workers_of(ex), BACKLOG);
    weft_executor_free(ex);
    weft_barrier_destroy(&backlog_barrier);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_submit_returns_result),
        cmocka_unit_test(pool_max_workers_validation_and_default),
        cmocka_unit_test(pool_saturates_at_max_workers),
        cmocka_unit_test(pool_reuses_idle_worker),
        cmocka_unit_test(pool_threads_end_at_shutdown),
        cmocka_unit_test(pool_submit_after_shutdown_fails),
        cmocka_unit_test(pool_shutdown_completes_queued_work),
        cmocka_unit_test(pool_shutdown_cancel_futures),
        cmocka_unit_test(pool_shutdown_after_cancel_returns),
        cmocka_unit_test(pool_shutdown_timeout),
        cmocka_unit_test(pool_free_from_a_cancelled_task_waits),
        cmocka_unit_test(pool_submit_without_any_worker),
        cmocka_unit_test(pool_work_completes_at_process_exit),
        cmocka_unit_test(pool_shutdown_without_wait_still_finishes),
        cmocka_unit_test(pool_thread_names),
        cmocka_unit_test(pool_initializer_runs_in_every_worker),
        cmocka_unit_test(pool_failing_initializer_breaks_it),
        cmocka_unit_test(pool_nested_waits_do_not_deadlock),
        cmocka_unit_test(pool_task_failure_reaches_caller),
        cmocka_unit_test(pool_running_task_sees_cancel),
        cmocka_unit_test(pool_bounded_pending_work),
        cmocka_unit_test(pool_resize_while_running),
        cmocka_unit_test(pool_resize_up_serves_the_backlog),
        cmocka_unit_test(pool_every_wait_helps),
        cmocka_unit_test(pool_keeps_no_reference_after_a_task),
        cmocka_unit_test(pool_shutdown_from_own_task),
        cmocka_unit_test(pool_futures_with_wait_and_as_completed),
        cmocka_unit_test(pool_cancellable_waits_return_cancelled),
        cmocka_unit_test(cancelled_task_polls_are_cancelled),
        cmocka_unit_test(pool_waits_not_cancellable_unless_asked),
        cmocka_unit_test(internal_locks_are_not_cancelled),
        cmocka_unit_test(map_results_in_input_order),
        cmocka_unit_test(map_submits_everything_at_once),
        cmocka_unit_test(map_failure_is_per_element),
        cmocka_unit_test(map_timeout_ends_iteration),
        cmocka_unit_test(map_task_timeout_is_an_element_error),
        cmocka_unit_test(map_timeout_and_free_cancel_the_rest),
        cmocka_unit_test(map_buffersize_and_endless_input),
        cmocka_unit_test(map_buffersize_consumes_lazily),
        cmocka_unit_test(map_after_shutdown_fails),
        cmocka_unit_test(map_and_submit_out_parameters_on_every_status),
        cmocka_unit_test(executor_bad_input),
        cmocka_unit_test(executor_stress_million_tasks),
        cmocka_unit_test(idle_threads_serve_the_next_pool),
        cmocka_unit_test(idle_keep_zero_and_expiry),
        cmocka_unit_test(fork_child_starts_its_own_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
