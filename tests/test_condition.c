/* SPDX-License-Identifier: MIT */
/* test_condition.c — weft_condition against the Python behaviours (docs/python.md)
 * "Condition". */
#include "testutil.h"

/* Condition 1 [lock_tests.ConditionTests.test_acquire] */
static void condition_default_lock_is_reentrant(void **state)
{
    (void)state;
    weft_condition c;
    weft_condition_init(&c);
    assert_int_equal(weft_condition_acquire(&c), WEFT_OK);
    assert_int_equal(weft_condition_acquire(&c), WEFT_OK);
    weft_condition_release(&c);
    weft_condition_release(&c);
    assert_int_equal(weft_condition_destroy(&c), WEFT_OK);
}

/* Condition 2 [lock_tests.ConditionTests.test_acquire] */
static void condition_over_a_plain_lock_uses_it(void **state)
{
    (void)state;
    weft_lock lock = WEFT_LOCK_INIT;
    weft_condition c;
    weft_condition_init_lock(&c, &lock);
    weft_condition_acquire(&c);
    assert_int_equal(weft_lock_try_acquire(&lock), WEFT_ETIMEDOUT);
    weft_condition_release(&c);
    assert_int_equal(weft_lock_try_acquire(&lock), WEFT_OK);
    weft_lock_release(&lock);
    WEFT_WITH(&c) {
        assert_true(weft_lock_locked(&lock));
    }
    assert_false(weft_lock_locked(&lock));
}

/* Condition 3 [lock_tests.ConditionTests.test_unacquired_wait, test_unacquired_notify] */
static void condition_wait_or_notify_without_lock_is_an_error(void **state)
{
    (void)state;
    weft_condition c = WEFT_CONDITION_INIT;
    assert_int_equal(weft_condition_wait(&c), WEFT_ENOTOWNER);
    assert_int_equal(weft_condition_wait_timeout(&c, 0.1), WEFT_ENOTOWNER);
    assert_int_equal(weft_condition_notify(&c, 1), WEFT_ENOTOWNER);
    assert_int_equal(weft_condition_notify_all(&c), WEFT_ENOTOWNER);
    weft_lock lock = WEFT_LOCK_INIT;
    weft_condition over_lock;
    weft_condition_init_lock(&over_lock, &lock);
    assert_int_equal(weft_condition_wait(&over_lock), WEFT_ENOTOWNER);
    assert_int_equal(weft_condition_notify(&over_lock, 1), WEFT_ENOTOWNER);
}

/* The notify scenario: waiters record (phase, status) in arrival order of
 * their wake-up; `ready` counts threads that are inside wait() (counted
 * under the lock just before waiting, so once the main thread holds the
 * lock and sees n, all n are queued). */
static weft_condition cond = WEFT_CONDITION_INIT;
static int ready;
static int results[2][16];
static int result_count[2];

static void waiter_two_phases(int index, void *arg)
{
    (void)index;
    (void)arg;
    for (int phase = 0; phase < 2; phase++) {
        weft_condition_acquire(&cond);
        ready++;
        int rc = weft_condition_wait(&cond);
        results[phase][result_count[phase]++] = rc;
        weft_condition_release(&cond);
    }
}

static int count_ready(void)
{
    weft_condition_acquire(&cond);
    int n = ready;
    weft_condition_release(&cond);
    return n;
}

static int count_results(int phase)
{
    weft_condition_acquire(&cond);
    int n = result_count[phase];
    weft_condition_release(&cond);
    return n;
}

/* Condition 4, 5, 6 [lock_tests.ConditionTests.test_notify] */
static void condition_notify_n_then_all(void **state)
{
    (void)state;
    for (int scenario = 0; scenario < 2; scenario++) { /* 6: twice on one condition */
        ready = 0;
        memset(result_count, 0, sizeof result_count);
        bunch *b = bunch_start(5, waiter_two_phases, NULL);
        assert_eventually(count_ready() == 5, 10);
        /* 4: notify(3) wakes exactly 3 */
        weft_condition_acquire(&cond);
        weft_condition_notify(&cond, 3);
        weft_condition_release(&cond);
        assert_eventually(count_results(0) == 3 && count_ready() == 8, 10);
        wait_threads_blocked(5);
        assert_int_equal(count_results(0), 3);
        /* 5: notify(5) wakes the 2 first-phase and the 3 second-phase */
        weft_condition_acquire(&cond);
        weft_condition_notify(&cond, 5);
        weft_condition_release(&cond);
        assert_eventually(count_results(0) == 5 && count_results(1) == 3, 10);
        assert_eventually(count_ready() == 10, 10);
        /* 6: notify_all wakes the rest */
        weft_condition_acquire(&cond);
        weft_condition_notify_all(&cond);
        weft_condition_release(&cond);
        bunch_join(b);
        assert_int_equal(result_count[0], 5);
        assert_int_equal(result_count[1], 5);
        for (int i = 0; i < 5; i++) {
            assert_int_equal(results[0][i], WEFT_OK);
            assert_int_equal(results[1][i], WEFT_OK);
        }
    }
    assert_int_equal(weft_condition_destroy(&cond), WEFT_OK);
}

/* FIFO: notify(1) wakes the thread that has waited longest. */
static int wake_order[5], woken;
static void ordered_waiter(int index, void *arg)
{
    (void)arg;
    weft_condition_acquire(&cond);
    while (ready != index) { /* queue up in index order */
        weft_condition_release(&cond);
        nap(0.001);
        weft_condition_acquire(&cond);
    }
    ready++;
    weft_condition_wait(&cond);
    wake_order[woken++] = index;
    weft_condition_release(&cond);
}

static void condition_notify_wakes_oldest_first(void **state)
{
    (void)state;
    ready = 0;
    woken = 0;
    bunch *b = bunch_start(5, ordered_waiter, NULL);
    assert_eventually(count_ready() == 5, 10);
    for (int i = 0; i < 5; i++) {
        weft_condition_acquire(&cond);
        weft_condition_notify(&cond, 1);
        weft_condition_release(&cond);
        weft_condition_acquire(&cond);
        while (woken != i + 1) {
            weft_condition_release(&cond);
            nap(0.001);
            weft_condition_acquire(&cond);
        }
        weft_condition_release(&cond);
    }
    bunch_join(b);
    for (int i = 0; i < 5; i++)
        assert_int_equal(wake_order[i], i);
}

static atomic_int timeouts_ok;
static double max_elapsed, min_elapsed;
static void timed_waiter(int index, void *arg)
{
    (void)index;
    (void)arg;
    weft_condition_acquire(&cond);
    double t0 = weft_monotonic();
    int rc = weft_condition_wait_timeout(&cond, 0.5);
    double dt = weft_monotonic() - t0;
    if (rc == WEFT_ETIMEDOUT && weft_rlock_recursion_count(&cond.own_) == 1)
        atomic_fetch_add(&timeouts_ok, 1);
    if (dt > max_elapsed)
        max_elapsed = dt;
    if (dt < min_elapsed)
        min_elapsed = dt;
    weft_condition_release(&cond);
}

/* Condition 7 [lock_tests.ConditionTests.test_timeout] */
static void condition_wait_times_out(void **state)
{
    (void)state;
    max_elapsed = 0;
    min_elapsed = 100;
    bunch_join(bunch_start(5, timed_waiter, NULL));
    assert_int_equal(atomic_load(&timeouts_ok), 5);
    assert_true(min_elapsed >= 0.5);
    assert_timeout(max_elapsed, 0.5);
}

/* Condition 8 [probe, src] */
static void condition_nonpositive_timeout_polls(void **state)
{
    (void)state;
    weft_condition c = WEFT_CONDITION_INIT;
    weft_condition_acquire(&c);
    double t0 = weft_monotonic();
    assert_int_equal(weft_condition_wait_timeout(&c, 0), WEFT_ETIMEDOUT);
    assert_int_equal(weft_condition_wait_timeout(&c, -1), WEFT_ETIMEDOUT);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    assert_true(weft_condition_locked(&c));
    assert_int_equal(weft_condition_wait_timeout(&c, NAN), WEFT_EINVAL);
    weft_condition_release(&c);
}

static int shared_state;
static int state_is_four(void *arg)
{
    (void)arg;
    return shared_state == 4;
}
static void bump_state(int index, void *arg)
{
    (void)index;
    (void)arg;
    for (int i = 0; i < 4; i++) {
        nap(0.01);
        weft_condition_acquire(&cond);
        shared_state++;
        weft_condition_notify(&cond, 1);
        weft_condition_release(&cond);
    }
}

/* Condition 9 [lock_tests.ConditionTests.test_waitfor] */
static void condition_wait_for_predicate(void **state)
{
    (void)state;
    shared_state = 0;
    bunch *b = bunch_start(1, bump_state, NULL);
    weft_condition_acquire(&cond);
    assert_int_equal(weft_condition_wait_for(&cond, state_is_four, NULL), WEFT_OK);
    assert_int_equal(shared_state, 4);
    assert_true(weft_rlock_is_owned(&cond.own_));
    weft_condition_release(&cond);
    bunch_join(b);
}

static int never(void *arg)
{
    (*(int *)arg)++;
    return 0;
}

/* Condition 10 [lock_tests.ConditionTests.test_waitfor_timeout] */
static void condition_wait_for_times_out(void **state)
{
    (void)state;
    int calls = 0;
    weft_condition_acquire(&cond);
    double t0 = weft_monotonic();
    assert_int_equal(weft_condition_wait_for_timeout(&cond, never, &calls, 0.1), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    assert_true(dt >= 0.1);
    assert_true(dt < 1.0);
    assert_true(calls >= 2); /* checked before waiting and after the timeout */
    weft_condition_release(&cond);
    assert_int_equal(weft_condition_wait_for(&cond, NULL, NULL), WEFT_EINVAL);
}

/* Condition 11 [doc, probe] */
static void condition_notify_without_waiters_or_nonpositive(void **state)
{
    (void)state;
    weft_condition c = WEFT_CONDITION_INIT;
    weft_condition_acquire(&c);
    assert_int_equal(weft_condition_notify(&c, 1), WEFT_OK);
    assert_int_equal(weft_condition_notify(&c, 0), WEFT_OK);
    assert_int_equal(weft_condition_notify(&c, -3), WEFT_OK);
    assert_int_equal(weft_condition_notify_all(&c), WEFT_OK);
    weft_condition_release(&c);
}

static weft_rlock outer_rlock = WEFT_RLOCK_INIT;
static weft_condition rcond;
static atomic_int waiter_state; /* 1 waiting, 2 returned */
static unsigned long depth_after_wait;
static void deep_waiter(int index, void *arg)
{
    (void)index;
    (void)arg;
    weft_rlock_acquire(&outer_rlock);
    weft_rlock_acquire(&outer_rlock);
    weft_rlock_acquire(&outer_rlock);
    atomic_store(&waiter_state, 1);
    weft_condition_wait(&rcond);
    atomic_store(&waiter_state, 2);
    depth_after_wait = weft_rlock_recursion_count(&outer_rlock);
    for (int i = 0; i < 3; i++)
        weft_rlock_release(&outer_rlock);
}

/* Condition 12 [doc] — a notified waiter returns only once the notifier
 * releases; an rlock held 3 deep is fully released by wait and restored. */
static void condition_wait_releases_rlock_fully_and_restores(void **state)
{
    (void)state;
    weft_condition_init_rlock(&rcond, &outer_rlock);
    bunch *b = bunch_start(1, deep_waiter, NULL);
    assert_eventually(atomic_load(&waiter_state) == 1, 10);
    /* The waiter holds the rlock 3 deep, yet we can take it: wait released it. */
    assert_int_equal(weft_rlock_acquire_timeout(&outer_rlock, 10), WEFT_OK);
    weft_condition_notify(&rcond, 1);
    nap(0.05);
    assert_int_equal(atomic_load(&waiter_state), 1); /* still blocked on the lock */
    weft_rlock_release(&outer_rlock);
    bunch_join(b);
    assert_int_equal(atomic_load(&waiter_state), 2);
    assert_int_equal(depth_after_wait, 3);
}

static void condition_bad_input(void **state)
{
    (void)state;
    weft_condition c;
    assert_int_equal(weft_condition_init(NULL), WEFT_EINVAL);
    assert_int_equal(weft_condition_init_lock(&c, NULL), WEFT_EINVAL);
    assert_int_equal(weft_condition_init_rlock(&c, NULL), WEFT_EINVAL);
    assert_int_equal(weft_condition_wait(NULL), WEFT_EINVAL);
    assert_int_equal(weft_condition_notify(NULL, 1), WEFT_EINVAL);
    assert_int_equal(weft_condition_acquire(NULL), WEFT_EINVAL);
    assert_int_equal(weft_condition_destroy(NULL), WEFT_EINVAL);
    weft_condition_init(&c);
    weft_condition_acquire(&c);
    assert_int_equal(weft_condition_destroy(&c), WEFT_ESTATE);
    weft_condition_release(&c);
}

/* Stress: 4 producers and 4 consumers through a bounded buffer guarded by
 * one lock and two conditions; every item arrives exactly once. */
#define CAPACITY 16
static weft_lock buf_lock = WEFT_LOCK_INIT;
static weft_condition not_full, not_empty;
static long buffer[CAPACITY];
static int buf_head, buf_count;
static long consumed_sum, consumed_count;
static int has_room(void *arg)
{
    (void)arg;
    return buf_count < CAPACITY;
}
static int has_item(void *arg)
{
    (void)arg;
    return buf_count > 0;
}

static void producer(int index, void *arg)
{
    (void)arg;
    for (long i = 0; i < STRESS_OPS; i++) {
        weft_lock_acquire(&buf_lock);
        weft_condition_wait_for(&not_full, has_room, NULL);
        buffer[(buf_head + buf_count++) % CAPACITY] = (long)index * STRESS_OPS + i;
        weft_condition_notify(&not_empty, 1);
        weft_lock_release(&buf_lock);
    }
}

static void consumer(int index, void *arg)
{
    (void)index;
    (void)arg;
    for (long i = 0; i < STRESS_OPS; i++) {
        weft_lock_acquire(&buf_lock);
        /* alternate plain and timed waits */
        while (!has_item(NULL))
            if (i % 2)
                weft_condition_wait(&not_empty);
            else
                weft_condition_wait_timeout(&not_empty, 0.001);
        consumed_sum += buffer[buf_head];
        buf_head = (buf_head + 1) % CAPACITY;
        buf_count--;
        consumed_count++;
        weft_condition_notify(&not_full, 1);
        weft_lock_release(&buf_lock);
    }
}

static void both_roles(int index, void *arg)
{
    if (index % 2)
        consumer(index / 2, arg);
    else
        producer(index / 2, arg);
}

static void condition_stress_producers_consumers(void **state)
{
    (void)state;
    weft_condition_init_lock(&not_full, &buf_lock);
    weft_condition_init_lock(&not_empty, &buf_lock);
    bunch_join(bunch_start(STRESS_THREADS, both_roles, NULL));
    long n = (long)(STRESS_THREADS / 2) * STRESS_OPS;
    assert_int_equal(consumed_count, n);
    assert_int_equal(consumed_sum, n * (n - 1) / 2);
    assert_int_equal(buf_count, 0);
    assert_int_equal(weft_condition_destroy(&not_full), WEFT_OK);
    assert_int_equal(weft_condition_destroy(&not_empty), WEFT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(condition_default_lock_is_reentrant),
        cmocka_unit_test(condition_over_a_plain_lock_uses_it),
        cmocka_unit_test(condition_wait_or_notify_without_lock_is_an_error),
        cmocka_unit_test(condition_notify_n_then_all),
        cmocka_unit_test(condition_notify_wakes_oldest_first),
        cmocka_unit_test(condition_wait_times_out),
        cmocka_unit_test(condition_nonpositive_timeout_polls),
        cmocka_unit_test(condition_wait_for_predicate),
        cmocka_unit_test(condition_wait_for_times_out),
        cmocka_unit_test(condition_notify_without_waiters_or_nonpositive),
        cmocka_unit_test(condition_wait_releases_rlock_fully_and_restores),
        cmocka_unit_test(condition_bad_input),
        cmocka_unit_test(condition_stress_producers_consumers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
