/* SPDX-License-Identifier: MIT */
/* test_lock.c — weft_lock and weft_rlock against the Python behaviours (docs/python.md)
 * "Lock" and "RLock" (CPython Lib/test/lock_tests.py). */
#include "testutil.h"

static char text[128];

/* ---- Lock -------------------------------------------------------------- */

/* Lock 1 [lock_tests.BaseLockTests.test_repr, test_locked_repr] */
static void lock_repr_shows_state(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    assert_non_null(strstr(REPR(weft_lock_repr, &lock, text), "<weft_lock at 0x"));
    assert_non_null(strstr(text, ": unlocked>"));
    weft_lock_acquire(&lock);
    assert_non_null(strstr(REPR(weft_lock_repr, &lock, text), ": locked>"));
    weft_lock_release(&lock);
}

static void hold_lock_briefly(int index, void *arg)
{
    (void)index;
    weft_lock *lock = arg;
    weft_lock_acquire(lock);
    weft_lock_release(lock);
}

static atomic_int try_result;
static void try_acquire_from_thread(int index, void *arg)
{
    (void)index;
    atomic_store(&try_result, weft_lock_try_acquire(arg));
}

/* Lock 2 [lock_tests.BaseLockTests.test_try_acquire, test_try_acquire_contended] */
static void lock_try_acquire_free_and_contended(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    assert_int_equal(weft_lock_try_acquire(&lock), WEFT_OK);
    bunch_join(bunch_start(1, try_acquire_from_thread, &lock));
    assert_int_equal(atomic_load(&try_result), WEFT_ETIMEDOUT);
    assert_int_equal(weft_lock_release(&lock), WEFT_OK);
}

/* Lock 3 [lock_tests.BaseLockTests.test_acquire_contended] */
static void lock_contended_waiters_all_get_it_after_release(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    weft_lock_acquire(&lock);
    bunch *b = bunch_start(5, hold_lock_briefly, &lock);
    wait_threads_blocked(5);
    assert_int_equal(bunch_finished(b), 0);
    weft_lock_release(&lock);
    bunch_join(b);
    assert_false(weft_lock_locked(&lock));
}

static int with_returns_early(weft_lock *lock)
{
    WEFT_WITH(lock) {
        if (weft_lock_locked(lock))
            return 7;
    }
    return 0;
}

/* Lock 4 [lock_tests.BaseLockTests.test_with] — released on normal exit and
 * on `return` out of the block (C's form of an exception leaving it). */
static void lock_with_releases_on_exit_and_return(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    WEFT_WITH(&lock) {
        assert_true(weft_lock_locked(&lock));
    }
    assert_false(weft_lock_locked(&lock));
    assert_int_equal(with_returns_early(&lock), 7);
    assert_false(weft_lock_locked(&lock));
}

/* Lock 5 [lock_tests.BaseLockTests.test_thread_leak] */
static void lock_from_raw_threads_adds_no_thread_objects(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    size_t before = weft_active_count();
    bunch_join(bunch_start(15, hold_lock_briefly, &lock));
    assert_int_equal(weft_active_count(), before);
}

/* Lock 6, 7 [lock_tests.BaseLockTests.test_timeout] */
static void lock_timeout_argument_rules(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    assert_int_equal(weft_lock_acquire_timeout(&lock, -100), WEFT_EINVAL);
    assert_int_equal(weft_lock_acquire_timeout(&lock, -0.5), WEFT_EINVAL);
    assert_int_equal(weft_lock_acquire_timeout(&lock, NAN), WEFT_EINVAL);
    assert_int_equal(weft_lock_acquire_timeout(&lock, 1e100), WEFT_EINVAL);
    assert_int_equal(weft_lock_acquire_timeout(&lock, WEFT_TIMEOUT_MAX * 2), WEFT_EINVAL);
    assert_false(weft_lock_locked(&lock));
    /* -1 is Python's "forever" and is accepted */
    assert_int_equal(weft_lock_acquire_timeout(&lock, -1), WEFT_OK);
    weft_lock_release(&lock);
    double t0 = weft_monotonic();
    assert_int_equal(weft_lock_acquire_timeout(&lock, WEFT_TIMEOUT_MAX), WEFT_OK);
    weft_lock_release(&lock);
    assert_int_equal(weft_lock_acquire_timeout(&lock, 5), WEFT_OK);
    weft_lock_release(&lock);
    assert_int_equal(weft_lock_acquire_timeout(&lock, WEFT_FOREVER), WEFT_OK);
    weft_lock_release(&lock);
    assert_true(weft_monotonic() - t0 < 1.0);
}

static atomic_int timed_result;
static double timed_elapsed;
static void timed_acquire_half_second(int index, void *arg)
{
    (void)index;
    double t0 = weft_monotonic();
    atomic_store(&timed_result, weft_lock_acquire_timeout(arg, 0.5));
    timed_elapsed = weft_monotonic() - t0;
}

/* Lock 8 [lock_tests.BaseLockTests.test_timeout] */
static void lock_timed_acquire_fails_after_timeout(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    weft_lock_acquire(&lock);
    bunch_join(bunch_start(1, timed_acquire_half_second, &lock));
    assert_int_equal(atomic_load(&timed_result), WEFT_ETIMEDOUT);
    assert_true(timed_elapsed >= 0.5); /* never early */
    assert_timeout(timed_elapsed, 0.5);
    weft_lock_release(&lock);
}

/* Lock 9 [probe] */
static void lock_zero_timeout_polls(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    weft_lock_acquire(&lock);
    double t0 = weft_monotonic();
    assert_int_equal(weft_lock_acquire_timeout(&lock, 0), WEFT_ETIMEDOUT);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    weft_lock_release(&lock);
}

static atomic_int reacquired;
static void acquire_twice(int index, void *arg)
{
    (void)index;
    weft_lock_acquire(arg);
    weft_lock_acquire(arg); /* blocks: not reentrant */
    atomic_store(&reacquired, 1);
    weft_lock_release(arg);
}

/* Lock 10 [lock_tests.LockTests.test_reacquire] */
static void lock_is_not_reentrant(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    atomic_store(&reacquired, 0);
    bunch *b = bunch_start(1, acquire_twice, &lock);
    wait_threads_blocked(1);
    assert_int_equal(atomic_load(&reacquired), 0);
    assert_int_equal(weft_lock_release(&lock), WEFT_OK);
    bunch_join(b);
    assert_int_equal(atomic_load(&reacquired), 1);
}

static atomic_int release_result;
static void release_from_thread(int index, void *arg)
{
    (void)index;
    atomic_store(&release_result, weft_lock_release(arg));
}

/* Lock 11 [lock_tests.LockTests.test_different_thread] */
static void lock_release_from_another_thread(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    weft_lock_acquire(&lock);
    bunch_join(bunch_start(1, release_from_thread, &lock));
    assert_int_equal(atomic_load(&release_result), WEFT_OK);
    assert_int_equal(weft_lock_try_acquire(&lock), WEFT_OK);
    weft_lock_release(&lock);
}

/* Lock 12 [lock_tests.LockTests.test_state_after_timeout] */
static void lock_timed_out_acquire_leaves_no_residue(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    weft_lock_acquire(&lock);
    assert_int_equal(weft_lock_acquire_timeout(&lock, 0.01), WEFT_ETIMEDOUT);
    weft_lock_release(&lock);
    assert_false(weft_lock_locked(&lock));
    assert_int_equal(weft_lock_try_acquire(&lock), WEFT_OK);
    weft_lock_release(&lock);
}

/* Lock 13 [test_threading.ThreadingExceptionTests.test_releasing_unacquired_lock] */
static void lock_release_unlocked_is_an_error(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    assert_int_equal(weft_lock_release(&lock), WEFT_ENOTOWNER);
    assert_false(weft_lock_locked(&lock));
}

/* bad input gets a status, never a crash. */
static void lock_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_lock_init(NULL), WEFT_EINVAL);
    assert_int_equal(weft_lock_acquire(NULL), WEFT_EINVAL);
    assert_int_equal(weft_lock_acquire_timeout(NULL, 1), WEFT_EINVAL);
    assert_int_equal(weft_lock_try_acquire(NULL), WEFT_EINVAL);
    assert_int_equal(weft_lock_release(NULL), WEFT_EINVAL);
    assert_int_equal(weft_lock_destroy(NULL), WEFT_EINVAL);
    assert_false(weft_lock_locked(NULL));
    weft_lock lock;
    assert_int_equal(weft_lock_init(&lock), WEFT_OK);
    weft_lock_acquire(&lock);
    assert_int_equal(weft_lock_destroy(&lock), WEFT_ESTATE);
    weft_lock_release(&lock);
    assert_int_equal(weft_lock_destroy(&lock), WEFT_OK);
}

/* ---- RLock ------------------------------------------------------------- */

/* RLock 1 [lock_tests.RLockTests.test_reacquire] */
static void rlock_nests(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    assert_int_equal(weft_rlock_acquire(&r), WEFT_OK);
    assert_int_equal(weft_rlock_acquire(&r), WEFT_OK);
    assert_int_equal(weft_rlock_release(&r), WEFT_OK);
    assert_int_equal(weft_rlock_acquire(&r), WEFT_OK);
    assert_int_equal(weft_rlock_release(&r), WEFT_OK);
    assert_int_equal(weft_rlock_release(&r), WEFT_OK);
    assert_false(weft_rlock_locked(&r));
}

/* RLock 2 [lock_tests.RLockTests.test_release_unacquired] */
static void rlock_release_unacquired_is_an_error(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    assert_int_equal(weft_rlock_release(&r), WEFT_ENOTOWNER);
    weft_rlock_acquire(&r);
    weft_rlock_acquire(&r);
    weft_rlock_release(&r);
    weft_rlock_release(&r);
    assert_int_equal(weft_rlock_release(&r), WEFT_ENOTOWNER);
}

static void rlock_acquire_and_keep(int index, void *arg)
{
    (void)index;
    weft_rlock_acquire(arg);
}

static void rlock_release_from_thread(int index, void *arg)
{
    (void)index;
    atomic_store(&release_result, weft_rlock_release(arg));
}

/* RLock 3 [lock_tests.RLockTests.test_different_thread] */
static void rlock_release_by_non_owner_is_an_error(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    bunch_join(bunch_start(1, rlock_acquire_and_keep, &r)); /* exits holding it */
    assert_int_equal(weft_rlock_release(&r), WEFT_ENOTOWNER);
    assert_true(weft_rlock_locked(&r));
    weft_rlock r2 = WEFT_RLOCK_INIT;
    weft_rlock_acquire(&r2);
    bunch_join(bunch_start(1, rlock_release_from_thread, &r2));
    assert_int_equal(atomic_load(&release_result), WEFT_ENOTOWNER);
    assert_int_equal(weft_rlock_release(&r2), WEFT_OK);
}

/* RLock 4 [lock_tests.RLockTests.test_locked] */
static void rlock_locked_tracks_depth(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    assert_false(weft_rlock_locked(&r));
    weft_rlock_acquire(&r);
    assert_true(weft_rlock_locked(&r));
    weft_rlock_acquire(&r);
    assert_true(weft_rlock_locked(&r));
    weft_rlock_release(&r);
    assert_true(weft_rlock_locked(&r));
    weft_rlock_release(&r);
    assert_false(weft_rlock_locked(&r));
}

/* RLock 5 [lock_tests.RLockTests.test_locked_with_2threads] */
static void rlock_locked_seen_from_other_thread(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    assert_false(weft_rlock_locked(&r));
    bunch_join(bunch_start(1, rlock_acquire_and_keep, &r));
    assert_true(weft_rlock_locked(&r));
    assert_false(weft_rlock_is_owned(&r));
}

static void rlock_repr_from_thread(int index, void *arg)
{
    (void)index;
    static char other[128];
    weft_rlock_repr(arg, other, sizeof other);
    atomic_store(&release_result, strstr(other, "<weft_rlock at 0x") && strstr(other, "locked") &&
                                      strstr(other, "count=2"));
}

/* RLock 6 [lock_tests.RLockTests.test_repr_count] */
static void rlock_repr_shows_count(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    REPR(weft_rlock_repr, &r, text);
    assert_non_null(strstr(text, "<weft_rlock at 0x"));
    assert_non_null(strstr(text, ": unlocked"));
    assert_non_null(strstr(text, "count=0"));
    weft_rlock_acquire(&r);
    weft_rlock_acquire(&r);
    REPR(weft_rlock_repr, &r, text);
    assert_non_null(strstr(text, ": locked"));
    assert_non_null(strstr(text, "count=2"));
    bunch_join(bunch_start(1, rlock_repr_from_thread, &r));
    assert_int_equal(atomic_load(&release_result), 1);
    weft_rlock_release(&r);
    weft_rlock_release(&r);
}

static void rlock_timed_from_thread(int index, void *arg)
{
    (void)index;
    double t0 = weft_monotonic();
    atomic_store(&timed_result, weft_rlock_acquire_timeout(arg, 0.5));
    timed_elapsed = weft_monotonic() - t0;
}

/* RLock 7 [lock_tests.BaseLockTests.test_timeout] */
static void rlock_timeout_rules(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    assert_int_equal(weft_rlock_acquire_timeout(&r, -5), WEFT_EINVAL);
    assert_int_equal(weft_rlock_acquire_timeout(&r, 1e100), WEFT_EINVAL);
    assert_int_equal(weft_rlock_acquire_timeout(&r, -1), WEFT_OK);
    assert_int_equal(weft_rlock_acquire_timeout(&r, 0), WEFT_OK); /* owner: nests */
    bunch_join(bunch_start(1, rlock_timed_from_thread, &r));
    assert_int_equal(atomic_load(&timed_result), WEFT_ETIMEDOUT);
    assert_timeout(timed_elapsed, 0.5);
    weft_rlock_release(&r);
    weft_rlock_release(&r);
    assert_int_equal(weft_rlock_try_acquire(&r), WEFT_OK);
    weft_rlock_release(&r);
}

static atomic_int owned_elsewhere;
static void check_not_owned(int index, void *arg)
{
    (void)index;
    atomic_store(&owned_elsewhere, weft_rlock_is_owned(arg) || weft_rlock_recursion_count(arg));
}

/* RLock 8 [lock_tests.RLockTests.test__is_owned, test_recursion_count] */
static void rlock_ownership_and_depth(void **state)
{
    (void)state;
    weft_rlock r = WEFT_RLOCK_INIT;
    assert_false(weft_rlock_is_owned(&r));
    assert_int_equal(weft_rlock_recursion_count(&r), 0);
    weft_rlock_acquire(&r);
    assert_int_equal(weft_rlock_recursion_count(&r), 1);
    weft_rlock_acquire(&r);
    weft_rlock_acquire(&r);
    assert_int_equal(weft_rlock_recursion_count(&r), 3);
    assert_true(weft_rlock_is_owned(&r));
    atomic_store(&owned_elsewhere, -1);
    bunch_join(bunch_start(1, check_not_owned, &r));
    assert_int_equal(atomic_load(&owned_elsewhere), 0);
    weft_rlock_release(&r);
    assert_int_equal(weft_rlock_recursion_count(&r), 2);
    weft_rlock_release(&r);
    weft_rlock_release(&r);
    assert_int_equal(weft_rlock_recursion_count(&r), 0);
    assert_false(weft_rlock_is_owned(&r));
}

/* RLock 9 [test_threading.ConditionAsRLockTests] — a default condition
 * used as a lock is an rlock. */
static void condition_used_as_rlock(void **state)
{
    (void)state;
    weft_condition c = WEFT_CONDITION_INIT;
    assert_int_equal(weft_condition_acquire(&c), WEFT_OK);
    assert_int_equal(weft_condition_acquire(&c), WEFT_OK);
    assert_true(weft_condition_locked(&c));
    assert_int_equal(weft_condition_release(&c), WEFT_OK);
    assert_int_equal(weft_condition_release(&c), WEFT_OK);
    assert_false(weft_condition_locked(&c));
    assert_int_equal(weft_condition_release(&c), WEFT_ENOTOWNER);
    assert_int_equal(weft_condition_acquire_timeout(&c, -2), WEFT_EINVAL);
}

static void rlock_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_rlock_init(NULL), WEFT_EINVAL);
    assert_int_equal(weft_rlock_acquire(NULL), WEFT_EINVAL);
    assert_int_equal(weft_rlock_release(NULL), WEFT_EINVAL);
    assert_int_equal(weft_rlock_destroy(NULL), WEFT_EINVAL);
    weft_rlock r;
    weft_rlock_init(&r);
    weft_rlock_acquire(&r);
    assert_int_equal(weft_rlock_destroy(&r), WEFT_ESTATE);
    weft_rlock_release(&r);
    assert_int_equal(weft_rlock_destroy(&r), WEFT_OK);
}

/* ---- stress ------------------------------------------------------------ */

static weft_lock stress_lock = WEFT_LOCK_INIT;
static weft_rlock stress_rlock = WEFT_RLOCK_INIT;
static long stress_counter;
static atomic_int stress_inside;
static atomic_int stress_overlap;

static void enter_critical(void)
{
    if (atomic_fetch_add(&stress_inside, 1) != 0)
        atomic_store(&stress_overlap, 1);
    stress_counter++;
    atomic_fetch_sub(&stress_inside, 1);
}

/* Blocking, timed and polling acquires all mixed. */
static void lock_hammer(int index, void *arg)
{
    (void)arg;
    for (int i = 0; i < STRESS_OPS; i++) {
        int mode = (i + index) % 3;
        if (mode == 0)
            weft_lock_acquire(&stress_lock);
        else if (mode == 1)
            while (weft_lock_acquire_timeout(&stress_lock, 0.001) != WEFT_OK) {
            }
        else
            while (weft_lock_try_acquire(&stress_lock) != WEFT_OK) {
            }
        enter_critical();
        weft_lock_release(&stress_lock);
    }
}

static void lock_stress_counter_is_exact(void **state)
{
    (void)state;
    stress_counter = 0;
    bunch_join(bunch_start(STRESS_THREADS, lock_hammer, NULL));
    assert_int_equal(stress_counter, (long)STRESS_THREADS * STRESS_OPS);
    assert_int_equal(atomic_load(&stress_overlap), 0);
    assert_false(weft_lock_locked(&stress_lock));
}

static void rlock_hammer(int index, void *arg)
{
    (void)index;
    (void)arg;
    for (int i = 0; i < STRESS_OPS; i++) {
        weft_rlock_acquire(&stress_rlock);
        if (i % 2)
            weft_rlock_acquire(&stress_rlock);
        enter_critical();
        if (i % 2)
            weft_rlock_release(&stress_rlock);
        weft_rlock_release(&stress_rlock);
    }
}

static void rlock_stress_counter_is_exact(void **state)
{
    (void)state;
    stress_counter = 0;
    bunch_join(bunch_start(STRESS_THREADS, rlock_hammer, NULL));
    assert_int_equal(stress_counter, (long)STRESS_THREADS * STRESS_OPS);
    assert_int_equal(atomic_load(&stress_overlap), 0);
    assert_false(weft_rlock_locked(&stress_rlock));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lock_repr_shows_state),
        cmocka_unit_test(lock_try_acquire_free_and_contended),
        cmocka_unit_test(lock_contended_waiters_all_get_it_after_release),
        cmocka_unit_test(lock_with_releases_on_exit_and_return),
        cmocka_unit_test(lock_from_raw_threads_adds_no_thread_objects),
        cmocka_unit_test(lock_timeout_argument_rules),
        cmocka_unit_test(lock_timed_acquire_fails_after_timeout),
        cmocka_unit_test(lock_zero_timeout_polls),
        cmocka_unit_test(lock_is_not_reentrant),
        cmocka_unit_test(lock_release_from_another_thread),
        cmocka_unit_test(lock_timed_out_acquire_leaves_no_residue),
        cmocka_unit_test(lock_release_unlocked_is_an_error),
        cmocka_unit_test(lock_bad_input),
        cmocka_unit_test(rlock_nests),
        cmocka_unit_test(rlock_release_unacquired_is_an_error),
        cmocka_unit_test(rlock_release_by_non_owner_is_an_error),
        cmocka_unit_test(rlock_locked_tracks_depth),
        cmocka_unit_test(rlock_locked_seen_from_other_thread),
        cmocka_unit_test(rlock_repr_shows_count),
        cmocka_unit_test(rlock_timeout_rules),
        cmocka_unit_test(rlock_ownership_and_depth),
        cmocka_unit_test(condition_used_as_rlock),
        cmocka_unit_test(rlock_bad_input),
        cmocka_unit_test(lock_stress_counter_is_exact),
        cmocka_unit_test(rlock_stress_counter_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
