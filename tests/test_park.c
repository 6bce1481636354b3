/* SPDX-License-Identifier: MIT */
/* test_park.c — the park layer's polling (src/park.h): a poll sees a
 * change another thread makes, gives up within its time when none comes,
 * and the long-poll leases are one per CPU, end by themselves, and are
 * skipped by a thread whose last long poll was wasted; deadlines and the
 * one wait loop every primitive waits in (weft__wait_for). */
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

static void *time_a_poll_that_misses(void *arg)
{
    double t0 = weft_monotonic();
    bool changed = weft__spin_while_equal(&flag, 0);
    *(double *)arg = changed ? -1 : weft_monotonic() - t0;
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
        changed = weft__spin_while_equal(&flag, 0);
    pthread_join(t, NULL);
    assert_true(changed);

    /* On a thread of its own: the polls above may have missed on a loaded
     * machine, and this thread's spin judge turned them brief. */
    atomic_store(&flag, 0);
    double dt = -1;
    assert_int_equal(pthread_create(&t, NULL, time_a_poll_that_misses, &dt), 0);
    pthread_join(t, NULL);
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
    int cpus = weft__pf_cpu_count();
    for (int i = 0; i < cpus + 3; i++)
        r->granted += weft__poll_lease(r->now, r->now + 1000);
    return NULL;
}

static void *skip_after_waste(void *arg)
{
    int64_t now = *(int64_t *)arg;
    weft__poll_lease_wasted();
    for (int i = 0; i < WEFT_POLL_SKIP; i++)
        if (weft__poll_lease(now, now + 1))
            return (void *)1; /* granted while it should skip */
    return weft__poll_lease(now, now + 1) ? NULL : (void *)2;
}

static void poll_leases_one_per_cpu(void **state)
{
    (void)state;
    /* Far in the future of every lease taken so far (others are 30 µs). */
    int64_t now = weft__pf_now_ns() + 3600 * (int64_t)1000000000;
    struct lease_round r = {.now = now, .granted = 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, take_leases, &r), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.granted, weft__pf_cpu_count());
    /* at the same moment, none is left for another thread */
    assert_false(weft__poll_lease(now, now + 1000));
    /* once they have ended, they are there again */
    r = (struct lease_round){.now = now + 1000, .granted = 0};
    assert_int_equal(pthread_create(&t, NULL, take_leases, &r), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.granted, weft__pf_cpu_count());
    /* skipping, on a thread of its own (the count is per thread) */
    int64_t later = now + 5000;
    void *outcome = (void *)3;
    assert_int_equal(pthread_create(&t, NULL, skip_after_waste, &later), 0);
    pthread_join(t, &outcome);
    assert_null(outcome);
}

/* The spin judge: WEFT_SPIN_STRIKES windows in a row with more misses than
 * allowed turn polls brief (one such window among good ones does not);
 * after WEFT_SPIN_TRIAL_AFTER brief windows one window polls at full
 * length, and polling stays full if that window paid. */
static void judge_window_of(weft_spin_judge *j, int misses, bool full_expected)
{
    for (int i = 0; i < WEFT_SPIN_WINDOW; i++) {
        assert_int_equal(weft__spin_judge_start(j), full_expected);
        if (i < misses)
            weft__spin_judge_missed(j);
    }
}

static void spin_judge_turns_brief_and_tries_again(void **state)
{
    (void)state;
    weft_spin_judge j = {0};
    judge_window_of(&j, WEFT_SPIN_MISSES_MAX, true); /* at the limit: still pays */
    for (int w = 0; w < 3; w++) {
        for (int k = 0; k + 1 < WEFT_SPIN_STRIKES; k++)
            judge_window_of(&j, WEFT_SPIN_MISSES_MAX + 1, true); /* not enough strikes */
        judge_window_of(&j, 0, true);
    }
    for (int k = 0; k < WEFT_SPIN_STRIKES; k++)
        judge_window_of(&j, WEFT_SPIN_MISSES_MAX + 1, true); /* too many, in a row */
    for (int w = 0; w < WEFT_SPIN_TRIAL_AFTER; w++)
        judge_window_of(&j, WEFT_SPIN_WINDOW, false);    /* brief, missing */
    judge_window_of(&j, WEFT_SPIN_WINDOW, true);         /* the trial, failed */
    for (int w = 0; w < WEFT_SPIN_TRIAL_AFTER; w++)
        judge_window_of(&j, 0, false);                   /* brief, however it goes */
    judge_window_of(&j, 1, true);                        /* the trial, paid */
    judge_window_of(&j, 0, true);
    assert_int_equal(j.mode, WEFT_SPIN_FULL);
}

/* On a thread whose polls all miss (a flag nobody raises), polling turns
 * brief after WEFT_SPIN_STRIKES windows: its polls then give up well before
 * the full WEFT_POLL_SHORT_NS (the median, so a preemption does not decide
 * it). */
static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *poll_until_brief(void *arg)
{
    (void)arg;
    _Atomic uint32_t never = 0;
    for (int i = 0; i < WEFT_SPIN_STRIKES * WEFT_SPIN_WINDOW + 1; i++)
        if (weft__spin_while_equal(&never, 0))
            return (void *)1;
    if (weft__poll_mode() != WEFT_SPIN_BRIEF)
        return (void *)2;
    double dt[31];
    for (int i = 0; i < 31; i++) {
        double t0 = weft_monotonic();
        weft__spin_while_equal(&never, 0);
        dt[i] = weft_monotonic() - t0;
    }
    qsort(dt, 31, sizeof dt[0], compare_double);
    return dt[15] < WEFT_POLL_SHORT_NS * 1e-9 ? NULL : (void *)3;
}

static void polls_that_miss_turn_brief(void **state)
{
    (void)state;
    pthread_t t;
    void *outcome = (void *)4;
    assert_int_equal(pthread_create(&t, NULL, poll_until_brief, NULL), 0);
    pthread_join(t, &outcome);
    assert_null(outcome);
}


/* ---- deadlines and weft__wait_for ------------------------------------------------ */

static void deadline_passed_by_kind(void **state)
{
    (void)state;
    assert_false(weft__deadline_passed(WEFT_NO_DEADLINE));
    assert_true(weft__deadline_passed(WEFT_DEADLINE_POLL));
    assert_true(weft__deadline_passed(weft__now_ns()));
    assert_true(weft__deadline_passed(weft__now_ns() - 1000));
    assert_false(weft__deadline_passed(weft__now_ns() + 3600 * (int64_t)1000000000));
}

/* A condition on `flag`, counting its looks, its sleeps and its helps. */
struct probe {
    _Atomic uint32_t flag;
    weft_eventcount ec;
    atomic_int looks, asleep, sleeps, helps, helps_left;
};

static bool flag_up(void *ctx, uint32_t *expected)
{
    struct probe *p = ctx;
    atomic_fetch_add(&p->looks, 1);
    *expected = 0;
    return atomic_load(&p->flag) != 0;
}

static void count_sleeps(void *ctx, bool asleep)
{
    struct probe *p = ctx;
    if (asleep) {
        assert_int_equal(atomic_fetch_add(&p->asleep, 1), 0); /* paired */
        atomic_fetch_add(&p->sleeps, 1);
    } else {
        assert_int_equal(atomic_fetch_sub(&p->asleep, 1), 1);
    }
}

static bool help_a_few(void *ctx)
{
    struct probe *p = ctx;
    if (atomic_load(&p->helps_left) == 0)
        return false;
    atomic_fetch_sub(&p->helps_left, 1);
    atomic_fetch_add(&p->helps, 1);
    return true;
}

static weft_wait_spec on_word(struct probe *p)
{
    return (weft_wait_spec){.ready = flag_up, .sleeping = count_sleeps, .ctx = p,
                            .word = &p->flag, .cancellable = true};
}

static weft_wait_spec on_eventcount(struct probe *p)
{
    return (weft_wait_spec){.ready = flag_up, .sleeping = count_sleeps, .ctx = p, .ec = &p->ec};
}

static void *raise_probe_later(void *arg)
{
    struct probe *p = arg;
    nap(0.02);
    atomic_store(&p->flag, 1);
    weft__unpark_all(&p->flag);
    weft__eventcount_notify_all(&p->ec);
    return NULL;
}

static int64_t in_seconds(double s) { return weft__now_ns() + (int64_t)(s * 1e9); }

/* Woken by the change, on a word and on an eventcount; a condition already
 * true ends the wait even past its deadline; a passed deadline never
 * sleeps. */
static void wait_for_ends_on_the_condition(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        struct probe p = {.ec = WEFT_EVENTCOUNT_INIT};
        weft_wait_spec spec = kind ? on_eventcount(&p) : on_word(&p);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, raise_probe_later, &p), 0);
        assert_int_equal(weft__wait_for(&spec, in_seconds(30)), WEFT_OK);
        pthread_join(t, NULL);
        assert_true(atomic_load(&p.sleeps) >= 1);
        assert_int_equal(atomic_load(&p.asleep), 0);
        assert_int_equal(weft__wait_for(&spec, WEFT_DEADLINE_POLL), WEFT_OK);

        atomic_store(&p.flag, 0);
        atomic_store(&p.sleeps, 0);
        assert_int_equal(weft__wait_for(&spec, WEFT_DEADLINE_POLL), WEFT_ETIMEDOUT);
        assert_int_equal(weft__wait_for(&spec, weft__now_ns() - 1), WEFT_ETIMEDOUT);
        assert_int_equal(atomic_load(&p.sleeps), 0);
    }
}

static void wait_for_times_out(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        struct probe p = {.ec = WEFT_EVENTCOUNT_INIT};
        weft_wait_spec spec = kind ? on_eventcount(&p) : on_word(&p);
        int64_t t0 = weft__now_ns();
        assert_int_equal(weft__wait_for(&spec, t0 + 20000000), WEFT_ETIMEDOUT);
        assert_true(weft__now_ns() - t0 >= 20000000);
        assert_int_equal(atomic_load(&p.asleep), 0);
    }
}

static void *fire_later(void *source)
{
    nap(0.02);
    weft__cancel_source_fire(source);
    return NULL;
}

/* In a cancellable task, the wait ends with WEFT_ECANCELLED when the task
 * is cancelled: parked on a word, or on an eventcount; a word wait that is
 * not cancellable goes on to its deadline. */
static void wait_for_is_cancelled(void **state)
{
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        struct probe p = {.ec = WEFT_EVENTCOUNT_INIT};
        weft_wait_spec spec = kind == 1 ? on_eventcount(&p) : on_word(&p);
        spec.cancellable = kind != 2;
        weft_cancel_source source = {false, 0, NULL};
        weft__park_set_cancel_source(&source);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, fire_later, &source), 0);
        int64_t deadline = in_seconds(kind == 2 ? 0.2 : 30);
        int rc = weft__wait_for(&spec, deadline);
        pthread_join(t, NULL);
        weft__park_set_cancel_source(NULL);
        assert_int_equal(rc, kind == 2 ? WEFT_ETIMEDOUT : WEFT_ECANCELLED);
        if (kind == 2)
            assert_true(weft__now_ns() >= deadline);
    }
}

static void *raise_quietly_later(void *arg)
{
    struct probe *p = arg;
    nap(0.02);
    atomic_store(&p->flag, 1); /* no wake-up: only a recheck sees it */
    return NULL;
}

/* Help runs instead of sleeping while it finds work, with a look at the
 * condition after each; recheck_ns bounds every sleep. */
static void wait_for_helps_and_rechecks(void **state)
{
    (void)state;
    struct probe p = {.ec = WEFT_EVENTCOUNT_INIT, .helps_left = 3};
    weft_wait_spec spec = on_eventcount(&p);
    spec.help = help_a_few;
    spec.recheck_ns = 1000000;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raise_quietly_later, &p), 0);
    int64_t t0 = weft__now_ns();
    assert_int_equal(weft__wait_for(&spec, t0 + 30 * (int64_t)1000000000), WEFT_OK);
    pthread_join(t, NULL);
    assert_true(weft__now_ns() - t0 < 20 * (int64_t)1000000000); /* not the deadline */
    assert_int_equal(atomic_load(&p.helps), 3);
    assert_true(atomic_load(&p.looks) >= 4 + atomic_load(&p.sleeps));
    assert_true(atomic_load(&p.sleeps) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(poll_sees_a_change_and_gives_up_without_one),
        cmocka_unit_test(poll_leases_one_per_cpu),
        cmocka_unit_test(spin_judge_turns_brief_and_tries_again),
        cmocka_unit_test(polls_that_miss_turn_brief),
        cmocka_unit_test(deadline_passed_by_kind),
        cmocka_unit_test(wait_for_ends_on_the_condition),
        cmocka_unit_test(wait_for_times_out),
        cmocka_unit_test(wait_for_is_cancelled),
        cmocka_unit_test(wait_for_helps_and_rechecks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
