/* SPDX-License-Identifier: MIT */
/* test_event.c — weft_event against the Python behaviours (docs/python.md) "Event". */
#include "testutil.h"

#include <sched.h>

static char text[128];

/* Event 1 [lock_tests.EventTests.test_is_set] */
static void event_set_and_clear_are_idempotent(void **state)
{
    (void)state;
    weft_event e = WEFT_EVENT_INIT;
    assert_false(weft_event_is_set(&e));
    weft_event_set(&e);
    assert_true(weft_event_is_set(&e));
    weft_event_set(&e);
    assert_true(weft_event_is_set(&e));
    weft_event_clear(&e);
    assert_false(weft_event_is_set(&e));
    weft_event_clear(&e);
    assert_false(weft_event_is_set(&e));
}

static atomic_int waits_ok, waits_done;
static void wait_twice(int index, void *arg)
{
    (void)index;
    for (int i = 0; i < 2; i++)
        if (weft_event_wait(arg) == WEFT_OK)
            atomic_fetch_add(&waits_ok, 1);
    atomic_fetch_add(&waits_done, 1);
}

/* Event 2 [lock_tests.EventTests.test_notify] */
static void event_set_wakes_every_waiter(void **state)
{
    (void)state;
    weft_event e = WEFT_EVENT_INIT;
    for (int round = 0; round < 2; round++) {
        atomic_store(&waits_ok, 0);
        atomic_store(&waits_done, 0);
        bunch *b = bunch_start(5, wait_twice, &e);
        wait_threads_blocked(5);
        assert_int_equal(atomic_load(&waits_done), 0);
        weft_event_set(&e);
        bunch_join(b);
        assert_int_equal(atomic_load(&waits_ok), 10);
        weft_event_clear(&e); /* the scenario again after set(); clear() */
    }
}

/* Event 3, 4 [lock_tests.EventTests.test_timeout] */
static void event_wait_timeout_returns_the_flag(void **state)
{
    (void)state;
    weft_event e = WEFT_EVENT_INIT;
    double t0 = weft_monotonic();
    assert_int_equal(weft_event_wait_timeout(&e, 0.0), WEFT_ETIMEDOUT);
    assert_int_equal(weft_event_wait_timeout(&e, -1), WEFT_ETIMEDOUT);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    t0 = weft_monotonic();
    assert_int_equal(weft_event_wait_timeout(&e, 0.5), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    assert_true(dt >= 0.5);
    assert_timeout(dt, 0.5);
    weft_event_set(&e);
    t0 = weft_monotonic();
    assert_int_equal(weft_event_wait_timeout(&e, 0.0), WEFT_OK);
    assert_int_equal(weft_event_wait_timeout(&e, 0.5), WEFT_OK);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    assert_int_equal(weft_event_wait_timeout(&e, NAN), WEFT_EINVAL);
}

static void wait_long(int index, void *arg)
{
    (void)index;
    if (weft_event_wait_timeout(arg, 300) == WEFT_OK)
        atomic_fetch_add(&waits_ok, 1);
    atomic_fetch_add(&waits_done, 1);
}

/* Event 5 [lock_tests.EventTests.test_set_and_clear] (gh-57711) */
static void event_set_then_clear_still_wakes_waiters(void **state)
{
    (void)state;
    weft_event e = WEFT_EVENT_INIT;
    atomic_store(&waits_ok, 0);
    atomic_store(&waits_done, 0);
    bunch *b = bunch_start(5, wait_long, &e);
    wait_threads_blocked(5);
    weft_event_set(&e);
    weft_event_clear(&e);
    bunch_join(b);
    assert_int_equal(atomic_load(&waits_ok), 5);
}

/* Event 6 [lock_tests.EventTests.test_repr] */
static void event_repr(void **state)
{
    (void)state;
    weft_event e = WEFT_EVENT_INIT;
    assert_non_null(strstr(REPR(weft_event_repr, &e, text), "<weft_event at 0x"));
    assert_non_null(strstr(text, ": unset>"));
    weft_event_set(&e);
    assert_non_null(strstr(REPR(weft_event_repr, &e, text), ": set>"));
}

static void event_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_event_init(NULL), WEFT_EINVAL);
    assert_int_equal(weft_event_set(NULL), WEFT_EINVAL);
    assert_int_equal(weft_event_clear(NULL), WEFT_EINVAL);
    assert_int_equal(weft_event_wait(NULL), WEFT_EINVAL);
    assert_int_equal(weft_event_wait_timeout(NULL, 1), WEFT_EINVAL);
    assert_int_equal(weft_event_destroy(NULL), WEFT_EINVAL);
    assert_false(weft_event_is_set(NULL));
}

/* Stress 1: a ping-pong of set/wait/clear between two threads.  A lost
 * wake-up hangs it, and CTest's timeout fails the test. */
static weft_event ping = WEFT_EVENT_INIT, pong = WEFT_EVENT_INIT;
static void ponger(int index, void *arg)
{
    (void)index;
    (void)arg;
    for (int i = 0; i < STRESS_OPS; i++) {
        weft_event_wait(&ping);
        weft_event_clear(&ping);
        weft_event_set(&pong);
    }
}

static void event_stress_ping_pong_loses_no_wakeup(void **state)
{
    (void)state;
    bunch *b = bunch_start(1, ponger, NULL);
    for (int i = 0; i < STRESS_OPS; i++) {
        weft_event_set(&ping);
        assert_int_equal(weft_event_wait(&pong), WEFT_OK);
        weft_event_clear(&pong);
    }
    bunch_join(b);
}

/* Stress 2: 8 waiters, many rounds; every waiter sees every round. */
#define ROUNDS 2000
static weft_event go = WEFT_EVENT_INIT;
static atomic_int round_acks;
static atomic_int round_no;
static atomic_int round_errors;
static void round_waiter(int index, void *arg)
{
    (void)index;
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        if (weft_event_wait(&go) != WEFT_OK || atomic_load(&round_no) != r)
            atomic_fetch_add(&round_errors, 1);
        atomic_fetch_add(&round_acks, 1);
        while (atomic_load(&round_no) == r) /* wait for the next round */
            sched_yield();
    }
}

static void event_stress_every_waiter_sees_every_round(void **state)
{
    (void)state;
    bunch *b = bunch_start(STRESS_THREADS, round_waiter, NULL);
    for (int r = 0; r < ROUNDS; r++) {
        weft_event_set(&go);
        while (atomic_load(&round_acks) < STRESS_THREADS * (r + 1))
            sched_yield();
        weft_event_clear(&go);
        atomic_store(&round_no, r + 1);
    }
    bunch_join(b);
    assert_int_equal(atomic_load(&round_errors), 0);
    assert_int_equal(atomic_load(&round_acks), STRESS_THREADS * ROUNDS);
    assert_int_equal(weft_event_destroy(&go), WEFT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(event_set_and_clear_are_idempotent),
        cmocka_unit_test(event_set_wakes_every_waiter),
        cmocka_unit_test(event_wait_timeout_returns_the_flag),
        cmocka_unit_test(event_set_then_clear_still_wakes_waiters),
        cmocka_unit_test(event_repr),
        cmocka_unit_test(event_bad_input),
        cmocka_unit_test(event_stress_ping_pong_loses_no_wakeup),
        cmocka_unit_test(event_stress_every_waiter_sees_every_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
