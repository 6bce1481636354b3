/* SPDX-License-Identifier: MIT */
/* test_barrier.c — weft_barrier against the Python behaviours (docs/python.md) "Barrier". */
#include "testutil.h"

#define N 5
static char text[128];
static weft_barrier barrier;

/* Barrier 1 [lock_tests.BarrierTests.test_constructor] */
static void barrier_rejects_fewer_than_one_party(void **state)
{
    (void)state;
    weft_barrier b;
    assert_int_equal(weft_barrier_init(&b, 0, NULL, NULL, WEFT_FOREVER), WEFT_EINVAL);
    assert_int_equal(weft_barrier_init(&b, -1, NULL, NULL, WEFT_FOREVER), WEFT_EINVAL);
    assert_int_equal(weft_barrier_init(&b, 1, NULL, NULL, NAN), WEFT_EINVAL);
    assert_int_equal(weft_barrier_init(NULL, 1, NULL, NULL, WEFT_FOREVER), WEFT_EINVAL);
    assert_int_equal(weft_barrier_init(&b, 3, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    assert_int_equal(weft_barrier_parties(&b), 3);
}

/* Lockstep: each thread records its phase; after each wait every thread
 * must see all others in the same phase. */
static atomic_int phase_of[N];
static atomic_int lockstep_errors;
static int rounds_to_run;

static void lockstep_worker(int index, void *arg)
{
    (void)arg;
    for (int r = 0; r < rounds_to_run; r++) {
        atomic_store(&phase_of[index], 2 * r);
        weft_barrier_wait(&barrier, NULL);
        for (int j = 0; j < N; j++)
            if (atomic_load(&phase_of[j]) != 2 * r)
                atomic_fetch_add(&lockstep_errors, 1);
        weft_barrier_wait(&barrier, NULL);
    }
}

/* Barrier 2 [lock_tests.BarrierTests.test_barrier, test_barrier_10] */
static void barrier_keeps_threads_in_lockstep(void **state)
{
    (void)state;
    int rounds[] = {1, 10};
    for (int k = 0; k < 2; k++) {
        rounds_to_run = rounds[k];
        weft_barrier_init(&barrier, N, NULL, NULL, WEFT_FOREVER);
        bunch_join(bunch_start(N, lockstep_worker, NULL));
        assert_int_equal(atomic_load(&lockstep_errors), 0);
        assert_int_equal(weft_barrier_n_waiting(&barrier), 0);
        assert_false(weft_barrier_broken(&barrier));
    }
}

static atomic_int index_sum, index_seen_mask;
static void record_index(int index, void *arg)
{
    (void)index;
    (void)arg;
    size_t i = 99;
    if (weft_barrier_wait(&barrier, &i) == WEFT_OK) {
        atomic_fetch_add(&index_sum, (int)i);
        atomic_fetch_or(&index_seen_mask, 1 << i);
    }
}

/* Barrier 3 [lock_tests.BarrierTests.test_wait_return] */
static void barrier_wait_returns_distinct_indices(void **state)
{
    (void)state;
    weft_barrier_init(&barrier, N, NULL, NULL, WEFT_FOREVER);
    bunch_join(bunch_start(N, record_index, NULL));
    assert_int_equal(atomic_load(&index_sum), 10);
    assert_int_equal(atomic_load(&index_seen_mask), 0x1f);
}

static atomic_int action_runs, returned_before_action;
static int count_action(void *arg)
{
    (void)arg;
    atomic_fetch_add(&action_runs, 1);
    return 0;
}
static void wait_and_check_action(int index, void *arg)
{
    (void)index;
    (void)arg;
    weft_barrier_wait(&barrier, NULL);
    if (atomic_load(&action_runs) != 1)
        atomic_fetch_add(&returned_before_action, 1);
}

/* Barrier 4 [lock_tests.BarrierTests.test_action] */
static void barrier_action_runs_once_before_release(void **state)
{
    (void)state;
    weft_barrier_init(&barrier, N, count_action, NULL, WEFT_FOREVER);
    bunch_join(bunch_start(N, wait_and_check_action, NULL));
    assert_int_equal(atomic_load(&action_runs), 1);
    assert_int_equal(atomic_load(&returned_before_action), 0);
}

/* The action reads the barrier's state, as a Python action may. */
static weft_barrier reading_barrier;
static atomic_size_t waiting_in_action = 99;
static atomic_int broken_in_action = -1;
static char repr_in_action[128];
static int reading_action(void *arg)
{
    (void)arg;
    atomic_store(&waiting_in_action, weft_barrier_n_waiting(&reading_barrier));
    atomic_store(&broken_in_action, weft_barrier_broken(&reading_barrier));
    weft_barrier_repr(&reading_barrier, repr_in_action, sizeof repr_in_action);
    return 0;
}
static atomic_int reading_ok;
static void wait_for_reading_round(int index, void *arg)
{
    (void)index;
    (void)arg;
    if (weft_barrier_wait_timeout(&reading_barrier, 30, NULL) == WEFT_OK)
        atomic_fetch_add(&reading_ok, 1);
}

/* Barrier 4b [probe: CPython's action sees n_waiting == parties, not
 * broken, repr "waiters=3/3"]: the action may call n_waiting, broken and
 * repr; they used to take the lock the action runs under and hung. */
static void barrier_action_may_read_the_barrier(void **state)
{
    (void)state;
    weft_barrier_init(&reading_barrier, 3, reading_action, NULL, WEFT_FOREVER);
    bunch *three = bunch_start(3, wait_for_reading_round, NULL);
    /* A deadlock fails here, by this timeout, instead of hanging. */
    assert_eventually(bunch_finished(three) == 3, 30);
    bunch_join(three);
    assert_int_equal(atomic_load(&reading_ok), 3);
    assert_int_equal(atomic_load(&waiting_in_action), 3);
    assert_int_equal(atomic_load(&broken_in_action), 0);
    assert_non_null(strstr(repr_in_action, ": waiters=3/3>"));
    assert_int_equal(weft_barrier_n_waiting(&reading_barrier), 0);
    assert_int_equal(weft_barrier_destroy(&reading_barrier), WEFT_OK);
}

/* Readers racing with the waits never block and stay in range. */
static weft_barrier raced_barrier;
static atomic_bool racing_done;
static atomic_int out_of_range;
static void race_rounds(int index, void *arg)
{
    (void)arg;
    if (index == STRESS_THREADS) {
        char buf[128];
        while (!atomic_load(&racing_done)) {
            if (weft_barrier_n_waiting(&raced_barrier) > STRESS_THREADS ||
                weft_barrier_broken(&raced_barrier))
                atomic_fetch_add(&out_of_range, 1);
            weft_barrier_repr(&raced_barrier, buf, sizeof buf);
            nap(0.0001);
        }
        return;
    }
    for (int r = 0; r < 1000; r++)
        weft_barrier_wait(&raced_barrier, NULL);
}

static void barrier_readers_race_with_waits(void **state)
{
    (void)state;
    weft_barrier_init(&raced_barrier, STRESS_THREADS, NULL, NULL, WEFT_FOREVER);
    bunch *b = bunch_start(STRESS_THREADS + 1, race_rounds, NULL);
    assert_eventually(bunch_finished(b) == STRESS_THREADS, 120);
    atomic_store(&racing_done, true);
    bunch_join(b);
    assert_int_equal(atomic_load(&out_of_range), 0);
    assert_int_equal(weft_barrier_n_waiting(&raced_barrier), 0);
}

static int failing_action(void *arg)
{
    (void)arg;
    return 1234;
}
static atomic_int got_action_error, got_broken;
static void wait_and_classify(int index, void *arg)
{
    (void)index;
    (void)arg;
    int rc = weft_barrier_wait(&barrier, NULL);
    if (rc == 1234)
        atomic_fetch_add(&got_action_error, 1);
    else if (rc == WEFT_EBROKEN)
        atomic_fetch_add(&got_broken, 1);
}

/* Barrier 5 [doc, probe] */
static void barrier_failing_action_breaks_it(void **state)
{
    (void)state;
    weft_barrier_init(&barrier, N, failing_action, NULL, WEFT_FOREVER);
    bunch_join(bunch_start(N, wait_and_classify, NULL));
    assert_int_equal(atomic_load(&got_action_error), 1);
    assert_int_equal(atomic_load(&got_broken), N - 1);
    assert_true(weft_barrier_broken(&barrier));
}

static atomic_int passed_second, broken_second;
static void abort_in_second_round(int index, void *arg)
{
    (void)arg;
    weft_barrier_wait(&barrier, NULL);
    if (index == N - 1) {
        weft_barrier_abort(&barrier);
        return;
    }
    int rc = weft_barrier_wait(&barrier, NULL);
    atomic_fetch_add(rc == WEFT_OK ? &passed_second : &broken_second, 1);
}

/* Barrier 6 [lock_tests.BarrierTests.test_abort] */
static void barrier_abort_breaks_waiters(void **state)
{
    (void)state;
    weft_barrier_init(&barrier, N, NULL, NULL, WEFT_FOREVER);
    bunch_join(bunch_start(N, abort_in_second_round, NULL));
    assert_int_equal(atomic_load(&passed_second), 0);
    assert_int_equal(atomic_load(&broken_second), N - 1);
    assert_true(weft_barrier_broken(&barrier));
}

static atomic_int reset_broken, reset_passed;
static void reset_scenario(int index, void *arg)
{
    (void)arg;
    if (index == N - 1) {
        while (weft_barrier_n_waiting(&barrier) < N - 1)
            nap(0.001);
        weft_barrier_reset(&barrier);
    } else if (weft_barrier_wait(&barrier, NULL) == WEFT_EBROKEN) {
        atomic_fetch_add(&reset_broken, 1);
    }
    /* then everyone passes the same barrier normally */
    if (weft_barrier_wait(&barrier, NULL) == WEFT_OK)
        atomic_fetch_add(&reset_passed, 1);
}

/* Barrier 7 [lock_tests.BarrierTests.test_reset] */
static void barrier_reset_breaks_current_waiters_then_works(void **state)
{
    (void)state;
    weft_barrier_init(&barrier, N, NULL, NULL, WEFT_FOREVER);
    bunch_join(bunch_start(N, reset_scenario, NULL));
    assert_int_equal(atomic_load(&reset_broken), N - 1);
    assert_int_equal(atomic_load(&reset_passed), N);
}

static weft_barrier sync_barrier;
static atomic_int after_reset_passed;
static void abort_then_reset(int index, void *arg)
{
    (void)arg;
    if (index == N - 1)
        weft_barrier_abort(&barrier);
    else
        weft_barrier_wait(&barrier, NULL);
    size_t i;
    weft_barrier_wait(&sync_barrier, &i);
    if (i == N - 1)
        weft_barrier_reset(&barrier);
    weft_barrier_wait(&sync_barrier, NULL);
    if (weft_barrier_wait(&barrier, NULL) == WEFT_OK)
        atomic_fetch_add(&after_reset_passed, 1);
}

/* Barrier 8 [lock_tests.BarrierTests.test_abort_and_reset] */
static void barrier_abort_then_reset_is_usable(void **state)
{
    (void)state;
    weft_barrier_init(&barrier, N, NULL, NULL, WEFT_FOREVER);
    weft_barrier_init(&sync_barrier, N, NULL, NULL, WEFT_FOREVER);
    bunch_join(bunch_start(N, abort_then_reset, NULL));
    assert_int_equal(atomic_load(&after_reset_passed), N);
    assert_false(weft_barrier_broken(&barrier));
}

static atomic_int timeout_broken;
static void one_late_thread(int index, void *arg)
{
    (void)arg;
    int rc;
    if (index == N - 1) {
        nap(1.0);
        rc = weft_barrier_wait(&barrier, NULL);
    } else {
        rc = weft_barrier_wait_timeout(&barrier, 0.5, NULL);
    }
    if (rc == WEFT_EBROKEN)
        atomic_fetch_add(&timeout_broken, 1);
}

/* Barrier 9 [lock_tests.BarrierTests.test_timeout] */
static void barrier_timeout_breaks_it_for_all(void **state)
{
    (void)state;
    weft_barrier_init(&barrier, N, NULL, NULL, 2.0);
    bunch_join(bunch_start(N, one_late_thread, NULL));
    assert_int_equal(atomic_load(&timeout_broken), N);
}

/* Barrier 10 [lock_tests.BarrierTests.test_default_timeout] */
static void barrier_default_timeout_applies(void **state)
{
    (void)state;
    weft_barrier b;
    weft_barrier_init(&b, 2, NULL, NULL, 0.1);
    double t0 = weft_monotonic();
    assert_int_equal(weft_barrier_wait(&b, NULL), WEFT_EBROKEN);
    double dt = weft_monotonic() - t0;
    assert_true(dt >= 0.1);
    assert_timeout(dt, 0.1);
}

/* Barrier 11 [probe] */
static void barrier_zero_timeout_breaks_at_once(void **state)
{
    (void)state;
    weft_barrier b;
    weft_barrier_init(&b, 2, NULL, NULL, WEFT_FOREVER);
    double t0 = weft_monotonic();
    assert_int_equal(weft_barrier_wait_timeout(&b, 0, NULL), WEFT_EBROKEN);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    assert_true(weft_barrier_broken(&b));
    assert_int_equal(weft_barrier_wait(&b, NULL), WEFT_EBROKEN);
    weft_barrier_reset(&b);
    assert_false(weft_barrier_broken(&b));
    assert_int_equal(weft_barrier_n_waiting(&b), 0);
    assert_int_equal(weft_barrier_wait_timeout(&b, NAN, NULL), WEFT_EINVAL);
}

/* Barrier 12 [lock_tests.BarrierTests.test_single_thread] */
static void barrier_of_one_never_blocks(void **state)
{
    (void)state;
    weft_barrier b;
    weft_barrier_init(&b, 1, NULL, NULL, WEFT_FOREVER);
    for (int i = 0; i < 3; i++) {
        size_t index = 99;
        assert_int_equal(weft_barrier_wait(&b, &index), WEFT_OK);
        assert_int_equal(index, 0);
    }
}

static void just_wait(int index, void *arg)
{
    (void)index;
    weft_barrier_wait(arg, NULL);
}

/* Barrier 13, 14 [lock_tests.BarrierTests.test_repr, src] */
static void barrier_repr_and_n_waiting(void **state)
{
    (void)state;
    weft_barrier b;
    weft_barrier_init(&b, 3, NULL, NULL, WEFT_FOREVER);
    assert_non_null(strstr(REPR(weft_barrier_repr, &b, text), ": waiters=0/3>"));
    bunch *two = bunch_start(2, just_wait, &b);
    assert_eventually(weft_barrier_n_waiting(&b) == 2, 10);
    assert_non_null(strstr(REPR(weft_barrier_repr, &b, text), ": waiters=2/3>"));
    assert_int_equal(weft_barrier_destroy(&b), WEFT_ESTATE);
    weft_barrier_wait(&b, NULL);
    bunch_join(two);
    assert_non_null(strstr(REPR(weft_barrier_repr, &b, text), ": waiters=0/3>"));
    weft_barrier_abort(&b);
    assert_non_null(strstr(REPR(weft_barrier_repr, &b, text), ": broken>"));
    assert_int_equal(weft_barrier_destroy(&b), WEFT_OK);
}

static void barrier_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_barrier_wait(NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_barrier_wait_timeout(NULL, 1, NULL), WEFT_EINVAL);
    assert_int_equal(weft_barrier_reset(NULL), WEFT_EINVAL);
    assert_int_equal(weft_barrier_abort(NULL), WEFT_EINVAL);
    assert_int_equal(weft_barrier_destroy(NULL), WEFT_EINVAL);
    assert_int_equal(weft_barrier_parties(NULL), 0);
    assert_int_equal(weft_barrier_n_waiting(NULL), 0);
    assert_false(weft_barrier_broken(NULL));
}

/* Stress: 8 threads, many rounds; generations never mix. */
#define STRESS_ROUNDS 10000
static weft_barrier stress_barrier;
static atomic_int generation_of[STRESS_THREADS];
static atomic_int mixed;
static void generation_worker(int index, void *arg)
{
    (void)arg;
    for (int r = 0; r < STRESS_ROUNDS; r++) {
        atomic_store(&generation_of[index], r);
        weft_barrier_wait(&stress_barrier, NULL);
        for (int j = 0; j < STRESS_THREADS; j++)
            if (atomic_load(&generation_of[j]) != r)
                atomic_fetch_add(&mixed, 1);
        weft_barrier_wait(&stress_barrier, NULL);
    }
}

static void barrier_stress_generations_never_mix(void **state)
{
    (void)state;
    weft_barrier_init(&stress_barrier, STRESS_THREADS, NULL, NULL, WEFT_FOREVER);
    bunch_join(bunch_start(STRESS_THREADS, generation_worker, NULL));
    assert_int_equal(atomic_load(&mixed), 0);
    assert_false(weft_barrier_broken(&stress_barrier));
    assert_int_equal(weft_barrier_destroy(&stress_barrier), WEFT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(barrier_rejects_fewer_than_one_party),
        cmocka_unit_test(barrier_keeps_threads_in_lockstep),
        cmocka_unit_test(barrier_wait_returns_distinct_indices),
        cmocka_unit_test(barrier_action_runs_once_before_release),
        cmocka_unit_test(barrier_action_may_read_the_barrier),
        cmocka_unit_test(barrier_readers_race_with_waits),
        cmocka_unit_test(barrier_failing_action_breaks_it),
        cmocka_unit_test(barrier_abort_breaks_waiters),
        cmocka_unit_test(barrier_reset_breaks_current_waiters_then_works),
        cmocka_unit_test(barrier_abort_then_reset_is_usable),
        cmocka_unit_test(barrier_timeout_breaks_it_for_all),
        cmocka_unit_test(barrier_default_timeout_applies),
        cmocka_unit_test(barrier_zero_timeout_breaks_at_once),
        cmocka_unit_test(barrier_of_one_never_blocks),
        cmocka_unit_test(barrier_repr_and_n_waiting),
        cmocka_unit_test(barrier_bad_input),
        cmocka_unit_test(barrier_stress_generations_never_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
