/* test_timer.c — weft_timer against PYTHON-SEMANTICS.md "Timer". */
#include "testutil.h"

#include <dirent.h>

static atomic_int fired[16];
static void fire(void *arg) { atomic_fetch_add(&fired[(intptr_t)arg], 1); }

/* Timer 1 [test_threading.TimerTests.test_init_immutable_default_args]:
 * each timer gets its own argument. */
static void timer_each_gets_its_own_argument(void **state)
{
    (void)state;
    weft_timer *a, *b;
    weft_timer_new(&a, 0.01, fire, (void *)1);
    weft_timer_new(&b, 0.01, fire, (void *)2);
    weft_timer_start(a);
    weft_timer_start(b);
    weft_timer_join(a);
    weft_timer_join(b);
    assert_int_equal(atomic_load(&fired[1]), 1);
    assert_int_equal(atomic_load(&fired[2]), 1);
    weft_timer_free(a);
    weft_timer_free(b);
}

/* Timer 2 [doc, probe] */
static void timer_cancel_before_firing(void **state)
{
    (void)state;
    weft_timer *t;
    weft_timer_new(&t, 0.2, fire, (void *)3);
    weft_timer_start(t);
    assert_true(weft_timer_is_alive(t));
    assert_int_equal(weft_timer_cancel(t), WEFT_OK);
    double t0 = weft_monotonic();
    assert_int_equal(weft_timer_join(t), WEFT_OK);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    assert_false(weft_timer_is_alive(t));
    assert_true(weft_timer_finished(t));
    nap(0.3);
    assert_int_equal(atomic_load(&fired[3]), 0);
    weft_timer_free(t);
}

/* Timer 3, 5 [probe, doc]: fires once, not before its interval. */
static double fired_at;
static void stamp(void *arg)
{
    (void)arg;
    fired_at = weft_monotonic();
    atomic_fetch_add(&fired[4], 1);
}
static void timer_fires_once_after_interval(void **state)
{
    (void)state;
    weft_timer *t;
    weft_timer_new(&t, 0.05, stamp, NULL);
    double t0 = weft_monotonic();
    weft_timer_start(t);
    assert_int_equal(weft_timer_join(t), WEFT_OK);
    assert_int_equal(atomic_load(&fired[4]), 1);
    assert_true(fired_at - t0 >= 0.05);
    assert_timeout(fired_at - t0, 0.05);
    weft_timer_free(t);
}

/* Timer 4 [doc, probe] */
static void timer_cancel_after_firing_is_harmless(void **state)
{
    (void)state;
    weft_timer *t;
    weft_timer_new(&t, 0.0, fire, (void *)5);
    weft_timer_start(t);
    weft_timer_join(t);
    assert_int_equal(weft_timer_cancel(t), WEFT_OK);
    assert_int_equal(atomic_load(&fired[5]), 1);
    weft_timer_free(t);
}

/* Timer 5 [doc]: a Timer is a Thread: start once, daemon before start. */
static void timer_start_twice_and_late_daemon_are_errors(void **state)
{
    (void)state;
    weft_timer *t;
    weft_timer_new(&t, 10, fire, (void *)6);
    assert_int_equal(weft_timer_join(t), WEFT_ESTATE); /* before start */
    assert_int_equal(weft_timer_set_daemon(t, true), WEFT_OK);
    assert_true(weft_timer_daemon(t));
    weft_timer_start(t);
    assert_int_equal(weft_timer_start(t), WEFT_ESTATE);
    assert_int_equal(weft_timer_set_daemon(t, false), WEFT_ESTATE);
    assert_int_equal(weft_timer_join_timeout(t, 0.01), WEFT_ETIMEDOUT);
    weft_timer_cancel(t);
    weft_timer_free(t);
    /* cancelled before start: never runs */
    weft_timer_new(&t, 0, fire, (void *)7);
    weft_timer_cancel(t);
    assert_int_equal(weft_timer_start(t), WEFT_OK);
    assert_int_equal(weft_timer_join(t), WEFT_OK);
    assert_int_equal(atomic_load(&fired[7]), 0);
    weft_timer_free(t);
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static atomic_int order_errors, fired_count;
static atomic_long last_fired;
static void ordered_fire(void *arg)
{
    long index = (long)(intptr_t)arg;
    if (index < atomic_load(&last_fired))
        atomic_fetch_add(&order_errors, 1);
    atomic_store(&last_fired, index);
    atomic_fetch_add(&fired_count, 1);
}

/* Timers share one thread: 10,000 pending timers add at most one thread;
 * they fire in due order (checked between groups of due times 50 ms apart,
 * created in reverse order); cancelled ones never fire. */
static void timer_ten_thousand_share_one_thread(void **state)
{
    (void)state;
    enum { COUNT = 10000, GROUPS = 10 };
    static weft_timer *timers[COUNT];
    int threads_before = count_threads();
    double base = weft_monotonic() + 0.3;
    for (int i = 0; i < COUNT; i++) {
        long group = GROUPS - 1 - i * GROUPS / COUNT;
        double interval = base + group * 0.05 - weft_monotonic();
        assert_int_equal(weft_timer_new(&timers[i], interval, ordered_fire,
                                         (void *)(intptr_t)group), WEFT_OK);
        assert_int_equal(weft_timer_start(timers[i]), WEFT_OK);
    }
    assert_true(count_threads() <= threads_before + 1);
    for (int i = 0; i < COUNT; i += 2)
        weft_timer_cancel(timers[i]);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal(weft_timer_join_timeout(timers[i], 30), WEFT_OK);
        weft_timer_free(timers[i]);
    }
    assert_int_equal(atomic_load(&fired_count), COUNT / 2);
    assert_int_equal(atomic_load(&order_errors), 0);
}

/* A pending non-daemon timer keeps the program alive (Python's Timer is a
 * non-daemon thread); a daemon one does not. */
static void timer_keeps_process_alive_unless_daemon(void **state)
{
    (void)state;
    char out[256];
    double seconds;
    assert_int_equal(run_helper("timer", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\ntimer fired\n");
    assert_int_equal(run_helper("daemon_timer", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\n");
    assert_true(seconds < 4);
}

static void timer_bad_input(void **state)
{
    (void)state;
    weft_timer *t;
    assert_int_equal(weft_timer_new(NULL, 1, fire, NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_new(&t, 1, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_new(&t, NAN, fire, NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_new(&t, 1e100, fire, NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_start(NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_cancel(NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_join(NULL), WEFT_EINVAL);
    assert_false(weft_timer_is_alive(NULL));
    weft_timer_free(NULL);
}

/* Stress: 8 threads start and cancel timers at random moments; each timer
 * ends exactly once: fired or cancelled, never both, never neither. */
static atomic_int stress_fired;
static void stress_fire(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    atomic_fetch_add(&stress_fired, 1);
}
static atomic_int stress_errors;
static void timer_hammer(int index, void *arg)
{
    (void)arg;
    unsigned seed = (unsigned)index * 7919u + 1;
    for (int i = 0; i < 2000; i++) {
        atomic_int *count = malloc(sizeof *count);
        atomic_init(count, 0);
        weft_timer *t;
        seed = seed * 1103515245u + 12345u;
        weft_timer_new(&t, (seed >> 16) % 3 * 1e-4, stress_fire, count);
        weft_timer_start(t);
        if (seed & 0x100)
            weft_timer_cancel(t);
        weft_timer_join(t);
        if (atomic_load(count) > 1 || !weft_timer_finished(t))
            atomic_fetch_add(&stress_errors, 1);
        weft_timer_free(t);
        free(count);
    }
}

static void timer_stress_start_cancel(void **state)
{
    (void)state;
    bunch_join(bunch_start(STRESS_THREADS, timer_hammer, NULL));
    assert_int_equal(atomic_load(&stress_errors), 0);
    assert_true(atomic_load(&stress_fired) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timer_each_gets_its_own_argument),
        cmocka_unit_test(timer_cancel_before_firing),
        cmocka_unit_test(timer_fires_once_after_interval),
        cmocka_unit_test(timer_cancel_after_firing_is_harmless),
        cmocka_unit_test(timer_start_twice_and_late_daemon_are_errors),
        cmocka_unit_test(timer_ten_thousand_share_one_thread),
        cmocka_unit_test(timer_keeps_process_alive_unless_daemon),
        cmocka_unit_test(timer_bad_input),
        cmocka_unit_test(timer_stress_start_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
