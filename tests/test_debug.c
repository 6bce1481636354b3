/* SPDX-License-Identifier: MIT */
/* test_debug.c — debug mode (beyond Python, docs/python.md): lock-order
 * inversions are reported before they deadlock; threads never joined are
 * reported at exit. */
#include "testutil.h"

#include <unistd.h>

static char last[512];
static int reports;
static void capture(const char *message, void *arg)
{
    (void)arg;
    snprintf(last, sizeof last, "%s", message);
    reports++;
}

static int setup(void **state)
{
    (void)state;
    reports = 0;
    last[0] = '\0';
    weft_debug_set_reporter(capture, NULL);
    weft_debug_enable(true);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    weft_debug_enable(false);
    weft_debug_set_reporter(NULL, NULL);
    return 0;
}

static void take_in_order(weft_lock *first, weft_lock *second)
{
    weft_lock_acquire(first);
    weft_lock_acquire(second);
    weft_lock_release(second);
    weft_lock_release(first);
}

static void debug_reports_two_lock_inversion_once(void **state)
{
    (void)state;
    weft_lock a = WEFT_LOCK_INIT, b = WEFT_LOCK_INIT;
    size_t before = weft_debug_inversions();
    take_in_order(&a, &b);
    assert_int_equal(reports, 0);
    take_in_order(&b, &a); /* could deadlock against the first order */
    assert_int_equal(reports, 1);
    assert_non_null(strstr(last, "potential deadlock"));
    assert_int_equal(weft_debug_inversions(), before + 1);
    take_in_order(&b, &a);
    take_in_order(&a, &b);
    assert_int_equal(reports, 1); /* once per pair */
    weft_lock_destroy(&a);
    weft_lock_destroy(&b);
}

/* The main thread is "MainThread" in reports even though it never called
 * weft_current_thread: these two tests run first, before anything in this
 * process asks for it on the main thread.  It used to be "unnamed". */
static void debug_names_main_thread_before_any_thread_call(void **state)
{
    (void)state;
    weft_lock a = WEFT_LOCK_INIT, b = WEFT_LOCK_INIT;
    take_in_order(&a, &b);
    take_in_order(&b, &a);
    assert_int_equal(reports, 1);
    assert_non_null(strstr(last, "thread 'MainThread'"));
    assert_null(strstr(last, "unnamed"));
    weft_lock_destroy(&a);
    weft_lock_destroy(&b);
}

static weft_lock early_a = WEFT_LOCK_INIT, early_b = WEFT_LOCK_INIT;
static atomic_bool early_done;
static void *early_order(void *arg)
{
    (void)arg;
    take_in_order(&early_a, &early_b);
    atomic_store(&early_done, true);
    return NULL;
}

/* Same once a weft thread exists (the thread layer is set up), as long as
 * the main thread itself has not asked: no join before the report, since
 * join asks for the current thread. */
static void debug_names_main_thread_beside_a_weft_thread(void **state)
{
    (void)state;
    weft_thread *t;
    weft_thread_options o = {.name = "early-ab", .daemon = WEFT_NON_DAEMON};
    assert_int_equal(weft_thread_new(&t, early_order, NULL, &o), WEFT_OK);
    assert_int_equal(weft_thread_start(t), WEFT_OK);
    assert_eventually(atomic_load(&early_done), 30);
    take_in_order(&early_b, &early_a);
    assert_int_equal(reports, 1);
    assert_non_null(strstr(last, "thread 'MainThread'"));
    assert_non_null(strstr(last, "'early-ab'"));
    assert_int_equal(weft_thread_join(t, NULL), WEFT_OK);
    weft_thread_free(t);
    weft_lock_destroy(&early_a);
    weft_lock_destroy(&early_b);
}

static void debug_consistent_order_is_quiet(void **state)
{
    (void)state;
    weft_lock a = WEFT_LOCK_INIT, b = WEFT_LOCK_INIT, c = WEFT_LOCK_INIT;
    for (int i = 0; i < 3; i++) {
        weft_lock_acquire(&a);
        weft_lock_acquire(&b);
        weft_lock_acquire(&c);
        weft_lock_release(&c);
        weft_lock_release(&b);
        weft_lock_release(&a);
        take_in_order(&a, &c);
    }
    assert_int_equal(reports, 0);
    weft_lock_destroy(&a);
    weft_lock_destroy(&b);
    weft_lock_destroy(&c);
}

static void debug_reports_longer_cycles(void **state)
{
    (void)state;
    weft_lock a = WEFT_LOCK_INIT, b = WEFT_LOCK_INIT, c = WEFT_LOCK_INIT;
    take_in_order(&a, &b);
    take_in_order(&b, &c);
    assert_int_equal(reports, 0);
    take_in_order(&c, &a); /* a -> b -> c -> a */
    assert_int_equal(reports, 1);
    weft_lock_destroy(&a);
    weft_lock_destroy(&b);
    weft_lock_destroy(&c);
}

static weft_lock shared_a = WEFT_LOCK_INIT, shared_b = WEFT_LOCK_INIT;
static void *first_order(void *arg)
{
    (void)arg;
    take_in_order(&shared_a, &shared_b);
    return NULL;
}

static void debug_names_both_threads(void **state)
{
    (void)state;
    weft_thread *t;
    weft_thread_options o = {.name = "order-ab"};
    weft_thread_new(&t, first_order, NULL, &o);
    weft_thread_start(t);
    weft_thread_join(t, NULL);
    weft_thread_free(t);
    take_in_order(&shared_b, &shared_a);
    assert_int_equal(reports, 1);
    assert_non_null(strstr(last, "'order-ab'"));
    assert_non_null(strstr(last, "'MainThread'"));
    weft_lock_destroy(&shared_a);
    weft_lock_destroy(&shared_b);
}

static void debug_off_reports_nothing(void **state)
{
    (void)state;
    weft_debug_enable(false);
    assert_false(weft_debug_enabled());
    weft_lock a = WEFT_LOCK_INIT, b = WEFT_LOCK_INIT;
    take_in_order(&a, &b);
    take_in_order(&b, &a);
    assert_int_equal(reports, 0);
    assert_false(weft_debug_enable(true)); /* returns the old setting */
    assert_true(weft_debug_enabled());
}

/* A destroyed lock is forgotten, so memory reuse makes no false report. */
static void debug_destroy_forgets_the_lock(void **state)
{
    (void)state;
    weft_lock a = WEFT_LOCK_INIT, b = WEFT_LOCK_INIT;
    take_in_order(&a, &b);
    weft_lock_destroy(&a);
    weft_lock_init(&a); /* "a new lock at the same address" */
    take_in_order(&b, &a);
    assert_int_equal(reports, 0);
    weft_lock_destroy(&a);
    weft_lock_destroy(&b);
}

/* A lock made free again by _init is held by nobody, its caller included:
 * no order is recorded from it. */
static void debug_init_releases_the_lock(void **state)
{
    (void)state;
    weft_lock a = WEFT_LOCK_INIT, b = WEFT_LOCK_INIT, c = WEFT_LOCK_INIT;
    weft_lock_acquire(&a);
    weft_lock_init(&a); /* free again: nobody holds it */
    take_in_order(&b, &c); /* would record a -> b if a still counted as held */
    take_in_order(&b, &a); /* b -> a: an inversion only against a -> b */
    assert_int_equal(reports, 0);
}

/* In a fork child, the locks weft's fork handlers took and made free again
 * are not held: a child that takes its own lock and then one of weft's
 * (the thread registry's, by weft_active_count) reports nothing. */
static void debug_fork_child_holds_no_handler_lock(void **state)
{
    (void)state;
#ifdef UNDER_TSAN
    /* TSan's fork child reports the parent's last ended thread, which
     * weft joins later (at the next thread's end, or at exit), as leaked. */
    skip();
#endif
    weft_current_thread(); /* the thread layer's fork handler is in place */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        weft_lock mine = WEFT_LOCK_INIT;
        reports = 0;
        weft_lock_acquire(&mine);
        weft_lock_release(&mine);
        weft_lock_acquire(&mine);
        (void)weft_active_count();
        weft_lock_release(&mine);
        _exit(reports == 0 ? 0 : 10 + reports);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Reentrant acquisitions and condition waits make no false reports. */
static weft_condition cond = WEFT_CONDITION_INIT;
static int flag;
static void *set_flag(void *arg)
{
    (void)arg;
    weft_condition_acquire(&cond);
    flag = 1;
    weft_condition_notify_all(&cond);
    weft_condition_release(&cond);
    return NULL;
}
static int flag_set(void *arg)
{
    (void)arg;
    return flag;
}

static void debug_rlock_and_condition_are_quiet(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    weft_lock l = WEFT_LOCK_INIT;
    weft_rlock_acquire(&r);
    weft_rlock_acquire(&r);
    weft_lock_acquire(&l);
    weft_lock_release(&l);
    weft_rlock_release(&r);
    weft_rlock_release(&r);
    weft_thread *t;
    weft_condition_acquire(&cond);
    weft_thread_new(&t, set_flag, NULL, NULL);
    weft_thread_start(t);
    weft_condition_wait_for(&cond, flag_set, NULL);
    weft_condition_release(&cond);
    weft_thread_join(t, NULL);
    weft_thread_free(t);
    assert_int_equal(reports, 0);
}

/* Threads still running at exit and never joined are named. */
static void debug_reports_unjoined_threads_at_exit(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(run_helper_env("WEFT_DEBUG=1", "unjoined", out, sizeof out, NULL), 0);
    assert_non_null(strstr(out, "weft debug: thread 'forgotten' is still running at exit and "
                                "was never joined"));
    assert_null(strstr(out, "'joined-one'"));
    /* an executor left running is named, not its worker threads */
    assert_int_equal(run_helper_env("WEFT_DEBUG=1", "pool_exit", out, sizeof out, NULL), 0);
    assert_non_null(strstr(out, "weft debug: executor 'ThreadPoolExecutor-0' was never shut down"));
    assert_null(strstr(out, "ThreadPoolExecutor-0_0"));
    assert_int_equal(run_helper("unjoined", out, sizeof out, NULL), 0); /* off: silent */
    assert_null(strstr(out, "weft debug"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: nothing before them may call weft_current_thread here. */
        cmocka_unit_test_setup_teardown(debug_names_main_thread_before_any_thread_call, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(debug_names_main_thread_beside_a_weft_thread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(debug_reports_two_lock_inversion_once, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_consistent_order_is_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_reports_longer_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_names_both_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_off_reports_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_destroy_forgets_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_rlock_and_condition_are_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_init_releases_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_fork_child_holds_no_handler_lock, setup, teardown),
        cmocka_unit_test(debug_reports_unjoined_threads_at_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
