/* SPDX-License-Identifier: MIT */
/* test_park.c — the park layer's polling (src/park.h): a poll sees a
 * change another thread makes, gives up within its time when none comes,
 * and the long-poll leases are one per CPU, end by themselves, and are
 * skipped by a thread whose last long poll was wasted. */
#include "testutil.h"

#include "park.h"

static _Atomic uint32_t flag;

static void *raise_flag_soon(void *arg)
{
    (void)arg;
    weft_sleep(0.000002);
    atomic_store(&flag, 1);
    return NULL;
}

/* A change made while the poller looks is seen; with no change it gives up
 * after its time (6.5 µs, or 30 µs with a lease), not at once and not
 * after long. */
static void poll_sees_a_change_and_gives_up_without_one(void **state)
{
    (void)state;
    atomic_store(&flag, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raise_flag_soon, NULL), 0);
    bool changed = false;
    for (int i = 0; i < 100000 && !changed; i++) /* polls of up to 30 µs each */
        changed = weft_spin_while_equal(&flag, 0);
    pthread_join(t, NULL);
    assert_true(changed);

    atomic_store(&flag, 0);
    double t0 = weft_monotonic();
    assert_false(weft_spin_while_equal(&flag, 0));
    double dt = weft_monotonic() - t0;
    assert_true(dt >= WEFT_POLL_SHORT_NS * 1e-9);
    assert_true(dt < 0.5); /* generous: a loaded machine may preempt us */
}

struct lease_round {
    int64_t now;
    int granted;
};

/* The leases: as many as CPUs at one moment, free again once their time
 * has passed; a thread that wasted one skips the next WEFT_POLL_SKIP. */
static void *take_leases(void *arg)
{
    struct lease_round *r = arg;
    int cpus = weft_pf_cpu_count();
    for (int i = 0; i < cpus + 3; i++)
        r->granted += weft_poll_lease(r->now, r->now + 1000);
    return NULL;
}

static void *skip_after_waste(void *arg)
{
    int64_t now = *(int64_t *)arg;
    weft_poll_lease_wasted();
    for (int i = 0; i < WEFT_POLL_SKIP; i++)
        if (weft_poll_lease(now, now + 1))
            return (void *)1; /* granted while it should skip */
    return weft_poll_lease(now, now + 1) ? NULL : (void *)2;
}

static void poll_leases_one_per_cpu(void **state)
{
    (void)state;
    /* Far in the future of every lease taken so far (others are 30 µs). */
    int64_t now = weft_pf_now_ns() + 3600 * (int64_t)1000000000;
    struct lease_round r = {.now = now, .granted = 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, take_leases, &r), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.granted, weft_pf_cpu_count());
    /* at the same moment, none is left for another thread */
    assert_false(weft_poll_lease(now, now + 1000));
    /* once they have ended, they are there again */
    r = (struct lease_round){.now = now + 1000, .granted = 0};
    assert_int_equal(pthread_create(&t, NULL, take_leases, &r), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.granted, weft_pf_cpu_count());
    /* skipping, on a thread of its own (the count is per thread) */
    int64_t later = now + 5000;
    void *outcome = (void *)3;
    assert_int_equal(pthread_create(&t, NULL, skip_after_waste, &later), 0);
    pthread_join(t, &outcome);
    assert_null(outcome);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(poll_sees_a_change_and_gives_up_without_one),
        cmocka_unit_test(poll_leases_one_per_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
