/* SPDX-License-Identifier: MIT */
/* test_semaphore.c — weft_semaphore against the Python behaviours (docs/python.md)
 * "Semaphore" and "BoundedSemaphore". */
#include "testutil.h"

static char text[128];

/* Semaphore 1 [lock_tests.BaseSemaphoreTests.test_constructor] */
static void semaphore_rejects_negative_value(void **state)
{
    (void)state;
    weft_semaphore s;
    assert_int_equal(weft_semaphore_init(&s, -1), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_init(&s, -2147483647L), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_init_bounded(&s, -1), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_init(&s, WEFT_SEMAPHORE_VALUE_MAX + 1), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_init(NULL, 1), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_init(&s, 0), WEFT_OK);
}

/* Static initializers with values weft_semaphore_init refuses: each one
 * reports WEFT_EINVAL at every use, as init would have (they used to wrap:
 * -1 became 2^32 - 1 and could be acquired). */
static weft_semaphore bad_static[] = {
    WEFT_SEMAPHORE_INIT(-1),
    WEFT_SEMAPHORE_INIT(-2147483647L),
    WEFT_SEMAPHORE_INIT(WEFT_SEMAPHORE_VALUE_MAX + 1),
    WEFT_SEMAPHORE_INIT(0x100000001LL), /* would wrap to 1 */
    WEFT_SEMAPHORE_INIT(0xffffffffffffffffULL),
    WEFT_BOUNDED_SEMAPHORE_INIT(-1),
    WEFT_BOUNDED_SEMAPHORE_INIT(WEFT_SEMAPHORE_VALUE_MAX + 1),
    WEFT_BOUNDED_SEMAPHORE_INIT(0x100000000LL), /* would wrap to 0 */
};

static void assert_invalid_everywhere(weft_semaphore *s)
{
    double t0 = weft_monotonic();
    assert_int_equal(weft_semaphore_acquire_timeout(s, 0.05), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_acquire_timeout(s, 0), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_try_acquire(s), WEFT_EINVAL);
    assert_true(weft_monotonic() - t0 < IMMEDIATE); /* refused, not waited */
    assert_int_equal(weft_semaphore_release(s), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_release_n(s, 1), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_release_n(s, 3), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_value(s), -1);
    assert_int_equal(weft_semaphore_destroy(s), WEFT_EINVAL);
    assert_non_null(strstr(REPR(weft_semaphore_repr, s, text), ": invalid>"));
    /* Still invalid after all that: nothing above changed it. */
    assert_int_equal(weft_semaphore_try_acquire(s), WEFT_EINVAL);
}

/* Semaphore 1b [doc: ValueError at construction; a static object reports
 * it at first use] */
static void semaphore_static_init_rejects_out_of_range(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_static / sizeof bad_static[0]; i++)
        assert_invalid_everywhere(&bad_static[i]);
    /* The plain acquire: the two that wrapped to nonzero values would have
     * returned at once before; now they refuse at once. */
    assert_int_equal(weft_semaphore_acquire(&bad_static[0]), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_acquire(&bad_static[3]), WEFT_EINVAL);
    WEFT_WITH(&bad_static[5]) {
        fail_msg("the body ran on an invalid semaphore");
    }
    /* init makes one valid again. */
    assert_int_equal(weft_semaphore_init(&bad_static[0], 1), WEFT_OK);
    assert_int_equal(weft_semaphore_try_acquire(&bad_static[0]), WEFT_OK);
    assert_int_equal(weft_semaphore_release(&bad_static[0]), WEFT_OK);
}

/* The edges of the range still initialize as values. */
static weft_semaphore edge_zero = WEFT_BOUNDED_SEMAPHORE_INIT(0);
static weft_semaphore edge_max = WEFT_SEMAPHORE_INIT(WEFT_SEMAPHORE_VALUE_MAX);
static weft_semaphore edge_unsigned = WEFT_SEMAPHORE_INIT(3u);

static void semaphore_static_init_accepts_the_range(void **state)
{
    (void)state;
    assert_int_equal(weft_semaphore_value(&edge_zero), 0);
    assert_int_equal(weft_semaphore_try_acquire(&edge_zero), WEFT_ETIMEDOUT);
    assert_int_equal(weft_semaphore_release(&edge_zero), WEFT_EINVAL); /* bound 0 */
    assert_non_null(strstr(REPR(weft_semaphore_repr, &edge_zero, text), ": value=0/0>"));
    assert_int_equal(weft_semaphore_value(&edge_max), WEFT_SEMAPHORE_VALUE_MAX);
    assert_int_equal(weft_semaphore_release(&edge_max), WEFT_EINVAL); /* above the max */
    assert_int_equal(weft_semaphore_try_acquire(&edge_max), WEFT_OK);
    assert_int_equal(weft_semaphore_release(&edge_max), WEFT_OK);
    assert_int_equal(weft_semaphore_value(&edge_max), WEFT_SEMAPHORE_VALUE_MAX);
    assert_int_equal(weft_semaphore_value(&edge_unsigned), 3);
    unsigned char small = 2; /* a small unsigned type: no -Wtype-limits */
    weft_semaphore local = WEFT_BOUNDED_SEMAPHORE_INIT(small);
    assert_int_equal(weft_semaphore_acquire(&local), WEFT_OK);
    assert_non_null(strstr(REPR(weft_semaphore_repr, &local, text), ": value=1/2>"));
}

static atomic_int acquired_count;
static void acquire_once(int index, void *arg)
{
    (void)index;
    weft_semaphore_acquire(arg);
    atomic_fetch_add(&acquired_count, 1);
}

/* Semaphore 2 [lock_tests.BaseSemaphoreTests.test_acquire, test_default_value] */
static void semaphore_acquire_release_and_default_one(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(2);
    assert_int_equal(weft_semaphore_acquire(&s), WEFT_OK);
    assert_int_equal(weft_semaphore_acquire(&s), WEFT_OK);
    assert_int_equal(weft_semaphore_release(&s), WEFT_OK);
    assert_int_equal(weft_semaphore_release(&s), WEFT_OK);
    weft_semaphore one = WEFT_SEMAPHORE_INIT(1); /* Python's default */
    weft_semaphore_acquire(&one);
    atomic_store(&acquired_count, 0);
    bunch *b = bunch_start(1, acquire_once, &one);
    wait_threads_blocked(1);
    assert_int_equal(atomic_load(&acquired_count), 0);
    weft_semaphore_release(&one);
    bunch_join(b);
    assert_int_equal(atomic_load(&acquired_count), 1);
}

static atomic_int sem_results_ok;
static void acquire_twice(int index, void *arg)
{
    (void)index;
    for (int i = 0; i < 2; i++) {
        if (weft_semaphore_acquire(arg) == WEFT_OK)
            atomic_fetch_add(&sem_results_ok, 1);
        atomic_fetch_add(&acquired_count, 1);
    }
}

static void contended_scenario(bool multirelease)
{
    weft_semaphore s = WEFT_SEMAPHORE_INIT(7);
    weft_semaphore_acquire(&s);
    atomic_store(&acquired_count, 0);
    atomic_store(&sem_results_ok, 0);
    bunch *b = bunch_start(10, acquire_twice, &s);
    assert_eventually(atomic_load(&acquired_count) >= 6, 5);
    wait_threads_blocked(10);
    assert_int_equal(atomic_load(&acquired_count), 6);
    if (multirelease)
        weft_semaphore_release_n(&s, 7);
    else
        for (int i = 0; i < 7; i++)
            weft_semaphore_release(&s);
    assert_eventually(atomic_load(&acquired_count) >= 13, 5);
    wait_threads_blocked(10);
    assert_int_equal(atomic_load(&acquired_count), 13);
    if (multirelease)
        weft_semaphore_release_n(&s, 6);
    else
        for (int i = 0; i < 6; i++)
            weft_semaphore_release(&s);
    assert_eventually(atomic_load(&acquired_count) >= 19, 5);
    wait_threads_blocked(10);
    assert_int_equal(atomic_load(&acquired_count), 19);
    assert_int_equal(weft_semaphore_try_acquire(&s), WEFT_ETIMEDOUT);
    weft_semaphore_release(&s);
    bunch_join(b);
    assert_int_equal(atomic_load(&acquired_count), 20);
    assert_int_equal(atomic_load(&sem_results_ok), 20);
}

/* Semaphore 3 [lock_tests.BaseSemaphoreTests.test_acquire_contended] */
static void semaphore_contended_counts(void **state)
{
    (void)state;
    contended_scenario(false);
}

/* Semaphore 4 [lock_tests.BaseSemaphoreTests.test_multirelease] */
static void semaphore_release_n_wakes_n(void **state)
{
    (void)state;
    contended_scenario(true);
}

/* Semaphore 5 [lock_tests.BaseSemaphoreTests.test_try_acquire] */
static void semaphore_try_acquire(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(2);
    assert_int_equal(weft_semaphore_try_acquire(&s), WEFT_OK);
    assert_int_equal(weft_semaphore_try_acquire(&s), WEFT_OK);
    assert_int_equal(weft_semaphore_try_acquire(&s), WEFT_ETIMEDOUT);
    weft_semaphore_release(&s);
    assert_int_equal(weft_semaphore_try_acquire(&s), WEFT_OK);
}

static atomic_int tries_ok, tries_failed;
static void try_twice(int index, void *arg)
{
    (void)index;
    for (int i = 0; i < 2; i++)
        atomic_fetch_add(weft_semaphore_try_acquire(arg) == WEFT_OK ? &tries_ok : &tries_failed, 1);
}

/* Semaphore 6 [lock_tests.BaseSemaphoreTests.test_try_acquire_contended] */
static void semaphore_try_acquire_contended(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(4);
    weft_semaphore_acquire(&s);
    bunch_join(bunch_start(5, try_twice, &s));
    assert_int_equal(atomic_load(&tries_ok), 3);
    assert_int_equal(atomic_load(&tries_failed), 7);
}

/* Semaphore 7, 8 [lock_tests.BaseSemaphoreTests.test_acquire_timeout]
 * (7, a timeout with blocking=False, cannot be written with weft's separate
 * try_acquire and acquire_timeout calls.) */
static void semaphore_acquire_timeout(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(2);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 0.005), WEFT_OK);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 0.005), WEFT_OK);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 0.005), WEFT_ETIMEDOUT);
    weft_semaphore_release(&s);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 0.005), WEFT_OK);
    double t0 = weft_monotonic();
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 0.5), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    assert_true(dt >= 0.5);
    assert_timeout(dt, 0.5);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, NAN), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 1e100), WEFT_EINVAL);
}

/* Semaphore 9 [probe] */
static void semaphore_zero_or_negative_timeout_polls(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(0);
    double t0 = weft_monotonic();
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 0), WEFT_ETIMEDOUT);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, -1), WEFT_ETIMEDOUT);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
}

static int inner_with(weft_semaphore *s)
{
    WEFT_WITH(s) {
        return weft_semaphore_try_acquire(s);
    }
    return -1;
}

/* Semaphore 10 [lock_tests.BaseSemaphoreTests.test_with] */
static void semaphore_with_nesting(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(2);
    WEFT_WITH(&s) {
        assert_int_equal(weft_semaphore_try_acquire(&s), WEFT_OK);
        weft_semaphore_release(&s);
        WEFT_WITH(&s) {
            assert_int_equal(weft_semaphore_try_acquire(&s), WEFT_ETIMEDOUT);
        }
    }
    assert_int_equal(weft_semaphore_value(&s), 2);
    assert_int_equal(inner_with(&s), WEFT_OK); /* returned from inside */
    assert_int_equal(weft_semaphore_value(&s), 1); /* only the with's unit came back */
}

/* Semaphore 11 [lock_tests.SemaphoreTests.test_release_unacquired] */
static void semaphore_unbounded_release_raises_value(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(1);
    assert_int_equal(weft_semaphore_release(&s), WEFT_OK);
    assert_int_equal(weft_semaphore_value(&s), 2);
}

/* Semaphore 12 [src, probe, lock_tests.SemaphoreTests.test_repr] */
static void semaphore_release_n_checks_and_repr(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(3);
    assert_int_equal(weft_semaphore_release_n(&s, 0), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_release_n(&s, -3), WEFT_EINVAL);
    assert_non_null(strstr(REPR(weft_semaphore_repr, &s, text), "<weft_semaphore at 0x"));
    assert_non_null(strstr(text, ": value=3>"));
    weft_semaphore_acquire(&s);
    assert_non_null(strstr(REPR(weft_semaphore_repr, &s, text), ": value=2>"));
    weft_semaphore_release_n(&s, 2);
    assert_non_null(strstr(REPR(weft_semaphore_repr, &s, text), ": value=4>"));
    assert_int_equal(weft_semaphore_release_n(&s, WEFT_SEMAPHORE_VALUE_MAX), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_value(&s), 4);
}

/* BoundedSemaphore 1 [test_threading.BoundedSemaphoreTests] — the shared
 * items hold for the bounded kind too. */
static void bounded_semaphore_shares_semaphore_behaviour(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_BOUNDED_SEMAPHORE_INIT(2);
    assert_int_equal(weft_semaphore_try_acquire(&s), WEFT_OK);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 0.005), WEFT_OK);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, 0.005), WEFT_ETIMEDOUT);
    assert_int_equal(weft_semaphore_acquire_timeout(&s, -1), WEFT_ETIMEDOUT);
    assert_int_equal(weft_semaphore_release_n(&s, 0), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_release_n(&s, 2), WEFT_OK);
}

/* BoundedSemaphore 2 [lock_tests.BoundedSemaphoreTests.test_release_unacquired] */
static void bounded_semaphore_over_release_is_an_error(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_BOUNDED_SEMAPHORE_INIT(1);
    assert_int_equal(weft_semaphore_release(&s), WEFT_EINVAL);
    weft_semaphore_acquire(&s);
    assert_int_equal(weft_semaphore_release(&s), WEFT_OK);
    assert_int_equal(weft_semaphore_release(&s), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_value(&s), 1);
}

static weft_semaphore limit_sem;
static void limit_acquirer(int index, void *arg)
{
    (void)index;
    (void)arg;
    weft_semaphore_acquire(&limit_sem);
}
static void limit_releaser(int index, void *arg)
{
    (void)index;
    (void)arg;
    weft_semaphore_release(&limit_sem);
}

/* BoundedSemaphore 3 [test_threading.ThreadTests.test_BoundedSemaphore_limit] */
static void bounded_semaphore_cross_thread_release_limit(void **state)
{
    (void)state;
    for (int limit = 1; limit < 10; limit++) {
        weft_semaphore_init_bounded(&limit_sem, limit);
        bunch_join(bunch_start(limit, limit_acquirer, NULL));
        bunch_join(bunch_start(limit, limit_releaser, NULL));
        assert_int_equal(weft_semaphore_release(&limit_sem), WEFT_EINVAL);
    }
}

/* BoundedSemaphore 4 [probe, src] */
static void bounded_semaphore_release_n_over_bound(void **state)
{
    (void)state;
    weft_semaphore s = WEFT_BOUNDED_SEMAPHORE_INIT(2);
    weft_semaphore_acquire(&s);
    weft_semaphore_acquire(&s);
    assert_int_equal(weft_semaphore_release_n(&s, 3), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_value(&s), 0);
    assert_int_equal(weft_semaphore_release_n(&s, 2), WEFT_OK);
    assert_int_equal(weft_semaphore_value(&s), 2);
}

/* BoundedSemaphore 5 [lock_tests.BoundedSemaphoreTests.test_repr] */
static void bounded_semaphore_repr(void **state)
{
    (void)state;
    weft_semaphore s;
    weft_semaphore_init_bounded(&s, 3);
    assert_non_null(strstr(REPR(weft_semaphore_repr, &s, text), ": value=3/3>"));
    weft_semaphore_acquire(&s);
    assert_non_null(strstr(REPR(weft_semaphore_repr, &s, text), ": value=2/3>"));
}

static weft_semaphore guard_sem = WEFT_BOUNDED_SEMAPHORE_INIT(3);
static atomic_int inside, max_inside;
static void guarded_worker(int index, void *arg)
{
    (void)index;
    int ops = arg ? *(int *)arg : 1;
    for (int i = 0; i < ops; i++) {
        weft_semaphore_acquire(&guard_sem);
        int now = atomic_fetch_add(&inside, 1) + 1;
        int seen = atomic_load(&max_inside);
        while (now > seen && !atomic_compare_exchange_weak(&max_inside, &seen, now)) {
        }
        if (!arg)
            nap(0.002);
        atomic_fetch_sub(&inside, 1);
        weft_semaphore_release(&guard_sem);
    }
}

/* BoundedSemaphore 6 [test_threading.ThreadTests.test_various_ops] */
static void bounded_semaphore_limits_concurrency(void **state)
{
    (void)state;
    atomic_store(&max_inside, 0);
    bunch_join(bunch_start(10, guarded_worker, NULL));
    assert_true(atomic_load(&max_inside) <= 3);
    assert_true(atomic_load(&max_inside) >= 1);
}

/* Stress: never more than the value inside; the value comes back whole. */
static void semaphore_stress_never_exceeds_value(void **state)
{
    (void)state;
    int ops = STRESS_OPS;
    atomic_store(&max_inside, 0);
    bunch_join(bunch_start(STRESS_THREADS, guarded_worker, &ops));
    assert_true(atomic_load(&max_inside) <= 3);
    assert_int_equal(weft_semaphore_value(&guard_sem), 3);
    assert_int_equal(weft_semaphore_destroy(&guard_sem), WEFT_OK);
}

static void semaphore_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_semaphore_acquire(NULL), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_acquire_timeout(NULL, 1), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_try_acquire(NULL), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_release(NULL), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_destroy(NULL), WEFT_EINVAL);
    assert_int_equal(weft_semaphore_value(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(semaphore_rejects_negative_value),
        cmocka_unit_test(semaphore_static_init_rejects_out_of_range),
        cmocka_unit_test(semaphore_static_init_accepts_the_range),
        cmocka_unit_test(semaphore_acquire_release_and_default_one),
        cmocka_unit_test(semaphore_contended_counts),
        cmocka_unit_test(semaphore_release_n_wakes_n),
        cmocka_unit_test(semaphore_try_acquire),
        cmocka_unit_test(semaphore_try_acquire_contended),
        cmocka_unit_test(semaphore_acquire_timeout),
        cmocka_unit_test(semaphore_zero_or_negative_timeout_polls),
        cmocka_unit_test(semaphore_with_nesting),
        cmocka_unit_test(semaphore_unbounded_release_raises_value),
        cmocka_unit_test(semaphore_release_n_checks_and_repr),
        cmocka_unit_test(bounded_semaphore_shares_semaphore_behaviour),
        cmocka_unit_test(bounded_semaphore_over_release_is_an_error),
        cmocka_unit_test(bounded_semaphore_cross_thread_release_limit),
        cmocka_unit_test(bounded_semaphore_release_n_over_bound),
        cmocka_unit_test(bounded_semaphore_repr),
        cmocka_unit_test(bounded_semaphore_limits_concurrency),
        cmocka_unit_test(semaphore_stress_never_exceeds_value),
        cmocka_unit_test(semaphore_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
