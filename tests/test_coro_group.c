/* SPDX-License-Identifier: MIT */
/* test_coro_group.c — task groups (weft_task_group_*) against
 * asyncio's behaviours (docs/python.md), section "TaskGroup".  Each test's comment names
 * the item ("TaskGroup 3") and the CPython test it comes from; the items
 * that do not apply to C are listed in docs/python.md.
 *
 * C's form of `async with TaskGroup() as g: body`: weft_task_group_new,
 * the body (spawning into the group, waiting on other things), then
 * weft_task_group_wait (the exit: its status is the ExceptionGroup, with
 * weft_task_group_failures its members) and weft_task_group_free. */
#include "test_coro_a_util.h"

#define STRESS_CHILDREN 500
#define REPLICAS 10

static struct {
    weft_task_group *group, *inner_group;
    weft_future *parent, *kids[8];
    int status[8];
    int cancelling[8];
    atomic_int cleaned_up, ran, replicas;
    weft_event go, failed;
    double elapsed;
    weft_future *failures[8];
    size_t n_failures[2];
    weft_future *stress_failed;
} S;

static void reset(void)
{
    memset(&S, 0, sizeof S);
    assert_int_equal(weft_event_init(&S.go), WEFT_OK);
    assert_int_equal(weft_event_init(&S.failed), WEFT_OK);
}

static void teardown(void)
{
    weft_event_destroy(&S.go);
    weft_event_destroy(&S.failed);
}

static int cancelling_now(void) { return weft_task_cancelling(weft_current_task()); }

/* A group failure status: weft_task_group_wait returns WEFT_EFAILED or the
 * first failed task's own code. */
static bool is_group_failure(int rc, int code)
{
    return rc == WEFT_EFAILED || rc == code;
}

static weft_future *group_spawn(weft_task_group *g, weft_task_fn fn, void *arg)
{
    weft_future *t = NULL;
    CHECK_STATUS(weft_task_group_spawn(g, fn, arg, NULL, &t), WEFT_OK);
    return t;
}

static void *sleep_ms_return(void *arg)
{
    /* arg: milliseconds to sleep, returned */
    int rc = weft_sleep((double)(intptr_t)arg / 1000.0);
    atomic_fetch_add(&S.cleaned_up, 1);
    return rc == WEFT_OK ? arg : IPTR(-1);
}

static void *sleep_long(void *arg)
{
    int rc = weft_sleep(LONG_WAIT);
    atomic_fetch_add(&S.cleaned_up, 1); /* its handler ran */
    return rc == WEFT_OK ? arg : IPTR(-1);
}

static void *fail_after_ms(void *arg)
{
    CHECK_STATUS(weft_sleep((double)(intptr_t)arg / 1000.0), WEFT_OK);
    return weft_fail(WEFT_EINVAL, "ValueError");
}

static void *crash_in_cleanup(void *arg)
{
    (void)arg;
    int rc = weft_sleep(LONG_WAIT);
    atomic_fetch_add(&S.cleaned_up, 1);
    if (rc == WEFT_ECANCELLED)
        return fail_in_cleanup(WEFT_ESTATE, "ZeroDivisionError");
    return NULL;
}

static void *two_children(void *arg)
{
    (void)arg;
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    double t0 = weft_monotonic();
    weft_future *a = group_spawn(g, sleep_ms_return, IPTR(42));
    CHECK_STATUS(weft_sleep(0.01), WEFT_OK); /* spawning after a wait */
    weft_task_options named = WEFT_TASK_OPTIONS_INIT;
    named.name = "yolo";
    weft_future *b = NULL;
    CHECK_STATUS(weft_task_group_spawn(g, sleep_ms_return, IPTR(90), &named, &b), WEFT_OK);
    CHECK_STR(weft_task_name(b), "yolo");
    CHECK_STATUS(weft_task_group_wait(g), WEFT_OK);
    CHECK(weft_monotonic() - t0 >= 0.6 * 0.1); /* after both */
    CHECK(weft_future_done(a) && weft_future_done(b));
    CHECK_INT(PINT(await_ok(a)), 42);
    CHECK_INT(PINT(await_ok(b)), 90);
    CHECK_INT(weft_task_group_failures(g, NULL, 0), 0);
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    /* task may be NULL */
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    CHECK_STATUS(weft_task_group_spawn(g, sleep_ms_return, IPTR(1), NULL, NULL), WEFT_OK);
    CHECK_STATUS(weft_task_group_wait(g), WEFT_OK);
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    weft_future_release(a);
    weft_future_release(b);
    return NULL;
}

/* TaskGroup 1 [test_taskgroups.TestTaskGroup.test_taskgroup_01, test_taskgroup_02,
 * test_taskgroup_task_name] */
static void group_waits_for_its_children(void **state)
{
    (void)state;
    reset();
    run_ok(two_children, NULL);
    assert_int_equal(atomic_load(&S.cleaned_up), 3);
    teardown();
}

static void *cancel_one_child(void *arg)
{
    (void)arg;
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    weft_future *a = group_spawn(g, sleep_long, IPTR(1)), *b = group_spawn(g, sleep_ms_return, IPTR(11));
    CHECK_STATUS(weft_sleep(0.01), WEFT_OK);
    CHECK(weft_task_cancel(a, NULL));
    CHECK_STATUS(weft_task_group_wait(g), WEFT_OK); /* carries on, no error */
    CHECK(weft_future_cancelled(a));
    CHECK_INT(PINT(await_ok(b)), 11);
    CHECK_INT(weft_task_group_failures(g, NULL, 0), 0);
    CHECK_INT(cancelling_now(), 0);
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    weft_future_release(a);
    weft_future_release(b);
    return NULL;
}

/* TaskGroup 2 [test_taskgroups.TestTaskGroup.test_taskgroup_03] [probe] */
static void group_child_cancelled_by_the_body(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_one_child, NULL);
    teardown();
}

static void *child_error(void *arg)
{
    (void)arg;
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    weft_future *bad = group_spawn(g, fail_after_ms, IPTR(20));
    weft_future *crash = group_spawn(g, crash_in_cleanup, NULL);
    weft_future *quiet = group_spawn(g, sleep_long, IPTR(3));
    double t0 = weft_monotonic();
    S.status[0] = weft_sleep(LONG_WAIT); /* the body's own wait is cut */
    S.elapsed = weft_monotonic() - t0;
    S.status[1] = weft_task_group_wait(g);
    weft_future *failed[4] = {NULL, NULL, NULL, NULL};
    S.n_failures[0] = weft_task_group_failures(g, failed, 4);
    CHECK(failed[0] == bad && failed[1] == crash); /* in the order they ended */
    CHECK_INT(weft_task_group_failures(g, failed, 1), 2); /* the count, with less room */
    CHECK(weft_future_cancelled(quiet)); /* cancelled ones are not failures */
    CHECK_INT(weft_future_error_code(bad), WEFT_EINVAL);
    CHECK_INT(weft_future_error_code(crash), WEFT_ESTATE);
    S.cancelling[0] = cancelling_now();
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    weft_future_release(bad);
    weft_future_release(crash);
    weft_future_release(quiet);
    return IPTR(8);
}

/* TaskGroup 3 [test_taskgroups.TestTaskGroup.test_taskgroup_04, test_cancel_children_on_child_error]
 * [doc] [probe] */
static void group_child_failure_cancels_the_rest(void **state)
{
    (void)state;
    reset();
    assert_int_equal(PINT(run_ok(child_error, NULL)), 8);
    assert_int_equal(S.status[0], WEFT_ECANCELLED);
    assert_true(S.elapsed < SOON);
    assert_true(is_group_failure(S.status[1], WEFT_EINVAL));
    assert_int_equal(S.n_failures[0], 2);
    assert_int_equal(atomic_load(&S.cleaned_up), 2); /* crash's and quiet's handlers */
    assert_int_equal(S.cancelling[0], 0); /* TaskGroup 14 */
    teardown();
}

static void *parent_with_group(void *arg)
{
    bool cancel_in_body = arg != NULL;
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    for (int i = 0; i < 5; i++)
        S.kids[i] = group_spawn(g, sleep_long, IPTR(i));
    CHECK_STATUS(weft_event_set(&S.go), WEFT_OK);
    if (cancel_in_body)
        S.status[0] = weft_sleep(LONG_WAIT);
    double t0 = weft_monotonic();
    S.status[1] = weft_task_group_wait(g);
    S.elapsed = weft_monotonic() - t0;
    S.cancelling[0] = cancelling_now();
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    return IPTR(1);
}

static void *cancel_parent(void *arg)
{
    (void)arg;
    for (int in_body = 0; in_body < 2; in_body++) {
        atomic_store(&S.cleaned_up, 0);
        CHECK_STATUS(weft_event_clear(&S.go), WEFT_OK);
        weft_future *p = spawn(parent_with_group, in_body ? IPTR(1) : NULL);
        CHECK_STATUS(weft_event_wait_timeout(&S.go, LONG_WAIT), WEFT_OK);
        yield_n(2);
        CHECK(weft_task_cancel(p, NULL));
        CHECK_STATUS(weft_future_result(p, NULL), WEFT_ECANCELLED);
        CHECK(weft_future_cancelled(p)); /* the parent ends cancelled */
        CHECK_STATUS(S.status[1], WEFT_ECANCELLED); /* not a group failure */
        CHECK(S.elapsed < SOON);
        CHECK_INT(S.cancelling[0], 1);
        CHECK_INT(atomic_load(&S.cleaned_up), 5); /* every handler ran */
        for (int i = 0; i < 5; i++) {
            CHECK(weft_future_cancelled(S.kids[i]));
            weft_future_release(S.kids[i]);
        }
        if (in_body)
            CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
        weft_future_release(p);
    }
    return NULL;
}

/* TaskGroup 5 [test_taskgroups.TestTaskGroup.test_cancellation, test_taskgroup_07,
 * test_taskgroup_17, test_taskgroup_22] (cancelled in group_wait, and in the body before it) */
static void group_of_a_cancelled_parent(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_parent, NULL);
    teardown();
}

static void *parent_children_crash(void *arg)
{
    (void)arg;
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    for (int i = 0; i < 3; i++)
        S.kids[i] = group_spawn(g, crash_in_cleanup, NULL);
    S.status[1] = weft_task_group_wait(g);
    S.n_failures[0] = weft_task_group_failures(g, NULL, 0);
    S.cancelling[0] = cancelling_now(); /* the outer cancel is kept */
    S.status[2] = weft_sleep(LONG_WAIT); /* and still cuts the next wait */
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    return IPTR(1);
}

static void *cancel_while_children_crash(void *arg)
{
    (void)arg;
    weft_future *p = spawn(parent_children_crash, NULL);
    yield_n(3);
    CHECK(weft_task_cancel(p, NULL));
    CHECK_STATUS(await_status(p, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(p));
    CHECK(is_group_failure(S.status[1], WEFT_ESTATE)); /* errors win */
    CHECK_INT(S.n_failures[0], 3);
    CHECK_INT(S.cancelling[0], 1);
    CHECK_STATUS(S.status[2], WEFT_ECANCELLED);
    for (int i = 0; i < 3; i++)
        weft_future_release(S.kids[i]);
    weft_future_release(p);
    return NULL;
}

/* TaskGroup 6 [test_taskgroups.TestTaskGroup.test_taskgroup_08] [doc] */
static void group_errors_win_over_the_parent_cancel(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_while_children_crash, NULL);
    teardown();
}

static void *parent_catches_then_sleeps(void *arg)
{
    (void)arg;
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    S.kids[0] = group_spawn(g, fail_after_ms, IPTR(100));
    CHECK_STATUS(weft_event_set(&S.go), WEFT_OK);
    S.status[0] = weft_sleep(LONG_WAIT); /* the outer cancel, caught */
    S.status[1] = weft_sleep(0.5);       /* cut by the child's crash */
    S.status[2] = weft_task_group_wait(g);
    S.n_failures[0] = weft_task_group_failures(g, S.failures, 8);
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    return IPTR(1);
}

static void *cancel_then_child_crashes(void *arg)
{
    (void)arg;
    weft_future *p = spawn(parent_catches_then_sleeps, NULL);
    CHECK_STATUS(weft_event_wait_timeout(&S.go, LONG_WAIT), WEFT_OK);
    yield_n(1);
    CHECK(weft_task_cancel(p, NULL));
    (void)await_status(p, NULL);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK_STATUS(S.status[1], WEFT_ECANCELLED);
    CHECK(is_group_failure(S.status[2], WEFT_EINVAL));
    CHECK_INT(S.n_failures[0], 1);
    CHECK(S.failures[0] == S.kids[0]);
    weft_future_release(S.kids[0]);
    weft_future_release(p);
    return NULL;
}

/* TaskGroup 8 [test_taskgroups.TestTaskGroup.test_taskgroup_15, test_taskgroup_16] */
static void group_child_crash_after_the_parent_caught_a_cancel(void **state)
{
    (void)state;
    reset();
    run_ok(cancel_then_child_crashes, NULL);
    teardown();
}

static void *nested_inner_crashes_on_cancel(void *arg)
{
    (void)arg;
    weft_task_group *g1 = NULL, *g2 = NULL;
    CHECK_STATUS(weft_task_group_new(&g1), WEFT_OK);
    CHECK_STATUS(weft_task_group_new(&g2), WEFT_OK);
    for (int i = 0; i < 5; i++)
        S.kids[i] = group_spawn(g2, crash_in_cleanup, NULL);
    CHECK_STATUS(weft_event_set(&S.go), WEFT_OK);
    S.status[0] = weft_sleep(LONG_WAIT);
    S.status[1] = weft_task_group_wait(g2);
    S.n_failures[1] = weft_task_group_failures(g2, NULL, 0);
    (void)weft_task_group_wait(g1); /* the body's error has no way into g1 in C */
    CHECK_STATUS(weft_task_group_free(g2), WEFT_OK);
    CHECK_STATUS(weft_task_group_free(g1), WEFT_OK);
    return NULL;
}

static void *nested_outer_child_crashes_first(void *arg)
{
    (void)arg;
    weft_task_group *g1 = NULL, *g2 = NULL;
    CHECK_STATUS(weft_task_group_new(&g1), WEFT_OK);
    S.kids[0] = group_spawn(g1, fail_after_ms, IPTR(30));
    CHECK_STATUS(weft_task_group_new(&g2), WEFT_OK);
    S.kids[1] = group_spawn(g2, sleep_long, NULL); /* would crash at 10 s */
    S.status[0] = weft_task_group_wait(g2); /* cut by g1's failure */
    S.status[1] = weft_task_group_wait(g1);
    S.n_failures[0] = weft_task_group_failures(g1, S.failures, 8);
    S.n_failures[1] = weft_task_group_failures(g2, NULL, 0);
    S.cancelling[0] = cancelling_now();
    CHECK_STATUS(weft_task_group_free(g2), WEFT_OK);
    CHECK_STATUS(weft_task_group_free(g1), WEFT_OK);
    return IPTR(2);
}

static void *nested_groups(void *arg)
{
    (void)arg;
    weft_future *r = spawn(nested_inner_crashes_on_cancel, NULL);
    CHECK_STATUS(weft_event_wait_timeout(&S.go, LONG_WAIT), WEFT_OK);
    yield_n(1);
    CHECK(!weft_future_done(r));
    CHECK(weft_task_cancel(r, NULL));
    (void)await_status(r, NULL);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(is_group_failure(S.status[1], WEFT_ESTATE));
    CHECK_INT(S.n_failures[1], 5);
    for (int i = 0; i < 5; i++)
        weft_future_release(S.kids[i]);
    weft_future_release(r);

    memset(S.status, 0, sizeof S.status);
    r = spawn(nested_outer_child_crashes_first, NULL);
    CHECK_INT(PINT(await_ok(r)), 2);
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(is_group_failure(S.status[1], WEFT_EINVAL));
    CHECK_INT(S.n_failures[0], 1);
    CHECK(S.failures[0] == S.kids[0]);
    CHECK_INT(S.n_failures[1], 0);
    CHECK(weft_future_cancelled(S.kids[1]));
    CHECK_INT(S.cancelling[0], 0);
    weft_future_release(S.kids[0]);
    weft_future_release(S.kids[1]);
    weft_future_release(r);
    return NULL;
}

/* TaskGroup 10 [test_taskgroups.TestTaskGroup.test_taskgroup_11, test_taskgroup_12] (nested
 * in one task; test_taskgroup_13 needs the body's error to reach the outer group, which C
 * cannot express) */
static void nested_groups_in_one_task(void **state)
{
    (void)state;
    reset();
    run_ok(nested_groups, NULL);
    teardown();
}

static void *replicate(void *arg)
{
    bool crash_last = arg != NULL;
    int n = atomic_fetch_add(&S.replicas, 1) + 1;
    CHECK_STATUS(weft_sleep(0.001), WEFT_OK);
    if (n < REPLICAS) {
        CHECK_STATUS(weft_task_group_spawn(S.group, replicate, arg, NULL, NULL), WEFT_OK);
        return NULL;
    }
    return crash_last ? weft_fail(WEFT_EINVAL, "ZeroDivisionError") : NULL;
}

static void *self_replicating(void *arg)
{
    (void)arg;
    for (int crash = 0; crash < 2; crash++) {
        atomic_store(&S.replicas, 0);
        CHECK_STATUS(weft_task_group_new(&S.group), WEFT_OK);
        CHECK_STATUS(weft_task_group_spawn(S.group, replicate, crash ? IPTR(1) : NULL, NULL, NULL),
                     WEFT_OK);
        int rc = weft_task_group_wait(S.group); /* tasks added meanwhile too */
        CHECK_INT(atomic_load(&S.replicas), REPLICAS);
        if (crash) {
            CHECK(is_group_failure(rc, WEFT_EINVAL));
            CHECK_INT(weft_task_group_failures(S.group, NULL, 0), 1);
        } else {
            CHECK_STATUS(rc, WEFT_OK);
        }
        CHECK_INT(cancelling_now(), 0);
        CHECK_STATUS(weft_task_group_free(S.group), WEFT_OK);
    }
    return NULL;
}

/* TaskGroup 11 [test_taskgroups.TestTaskGroup.test_taskgroup_23, test_taskgroup_24,
 * test_taskgroup_25] [probe] (children spawning while the group waits; that finished children
 * leave the group is internal) */
static void group_awaits_tasks_spawned_while_it_waits(void **state)
{
    (void)state;
    reset();
    run_ok(self_replicating, NULL);
    teardown();
}

static void *count_ran(void *arg)
{
    atomic_fetch_add(&S.ran, 1);
    return arg;
}

static void *spawn_too_late(void *arg)
{
    (void)arg;
    weft_task_group *g = NULL;
    /* after a failure started the abort */
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    weft_future *bad = group_spawn(g, fail_after_ms, IPTR(0));
    weft_future *other = group_spawn(g, sleep_long, NULL);
    CHECK_STATUS(weft_sleep(LONG_WAIT), WEFT_ECANCELLED); /* the failure cut it */
    weft_future *t = (weft_future *)&S;
    CHECK_STATUS(weft_task_group_spawn(g, count_ran, NULL, NULL, &t), WEFT_ESTATE);
    CHECK(t == NULL);
    CHECK(is_group_failure(weft_task_group_wait(g), WEFT_EINVAL));
    /* after the group finished (waited, not freed yet) */
    CHECK_STATUS(weft_task_group_spawn(g, count_ran, NULL, NULL, NULL), WEFT_ESTATE);
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    CHECK_STATUS(weft_task_group_wait(g), WEFT_OK); /* an empty group */
    CHECK_STATUS(weft_task_group_spawn(g, count_ran, NULL, NULL, NULL), WEFT_ESTATE);
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    CHECK_STATUS(weft_sleep(0.01), WEFT_OK);
    CHECK_INT(atomic_load(&S.ran), 0); /* the refused ones never run */
    weft_future_release(bad);
    weft_future_release(other);
    return NULL;
}

/* TaskGroup 12 [test_taskgroups.TestTaskGroup.test_taskgroup_finished,
 * test_taskgroup_no_create_task_after_failure, test_coro_closed_when_tg_closed] [probe] */
static void group_refuses_spawn_once_closing_or_failed(void **state)
{
    (void)state;
    reset();
    run_ok(spawn_too_late, NULL);
    assert_int_equal(atomic_load(&S.ran), 0);
    teardown();
}

static void *group_misuse(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_task_group_new(NULL), WEFT_EINVAL);
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    CHECK_STATUS(weft_task_group_spawn(g, NULL, NULL, NULL, NULL), WEFT_EINVAL);
    CHECK_STATUS(weft_task_group_spawn(NULL, count_ran, NULL, NULL, NULL), WEFT_EINVAL);
    CHECK_STATUS(weft_task_group_spawn(g, sleep_ms_return, IPTR(1), NULL, NULL), WEFT_OK);
    CHECK_STATUS(weft_task_group_free(g), WEFT_ESTATE); /* not waited for */
    CHECK_STATUS(weft_task_group_wait(g), WEFT_OK);
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    CHECK_STATUS(weft_task_group_free(NULL), WEFT_OK);
    return NULL;
}

/* TaskGroup 13 [test_taskgroups.TestTaskGroup.test_taskgroup_without_parent_task] (new is
 * C's enter: "entered twice" has no C form) */
static void group_needs_a_task(void **state)
{
    (void)state;
    reset();
    weft_task_group *g = (weft_task_group *)&S;
    assert_int_equal(weft_task_group_new(&g), WEFT_ESTATE); /* outside a coroutine */
    assert_null(g);
    run_ok(group_misuse, NULL);
    teardown();
}

static void *fail_after_yield(void *arg)
{
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return weft_fail((int)(intptr_t)arg, "child error");
}

static void *cancel_level(void *arg)
{
    (void)arg;
    /* a failed group leaves the parent's count as it was */
    weft_task_group *g1 = NULL, *g2 = NULL;
    CHECK_STATUS(weft_task_group_new(&g1), WEFT_OK);
    weft_future *bad = group_spawn(g1, fail_after_ms, IPTR(0));
    CHECK(is_group_failure(weft_task_group_wait(g1), WEFT_EINVAL));
    CHECK_INT(cancelling_now(), 0);
    CHECK_STATUS(weft_task_group_free(g1), WEFT_OK);
    weft_future_release(bad);
    /* nested groups failing in the same iteration (the inner's child
     * first), while the parent waits in the inner group */
    CHECK_STATUS(weft_task_group_new(&g1), WEFT_OK);
    CHECK_STATUS(weft_task_group_new(&g2), WEFT_OK);
    weft_future *inner_bad = group_spawn(g2, fail_after_yield, IPTR(WEFT_ESTATE));
    weft_future *outer_bad = group_spawn(g1, fail_after_yield, IPTR(WEFT_EINVAL));
    int rc2 = weft_task_group_wait(g2);
    weft_future *failed[4] = {NULL, NULL, NULL, NULL};
    CHECK_INT(weft_task_group_failures(g2, failed, 4), 1); /* only its own */
    CHECK(failed[0] == inner_bad);
    CHECK(is_group_failure(rc2, WEFT_ESTATE));
    CHECK_INT(cancelling_now(), 1); /* g1's cancel of the parent */
    int rc1 = weft_task_group_wait(g1);
    CHECK(is_group_failure(rc1, WEFT_EINVAL));
    CHECK_INT(weft_task_group_failures(g1, failed, 4), 1);
    CHECK(failed[0] == outer_bad);
    CHECK_INT(cancelling_now(), 0);
    CHECK_STATUS(weft_task_group_free(g2), WEFT_OK);
    CHECK_STATUS(weft_task_group_free(g1), WEFT_OK);
    weft_future_release(outer_bad);
    weft_future_release(inner_bad);
    return IPTR(3);
}

/* TaskGroup 14 [test_taskgroups.TestTaskGroup.test_cancelling_level_preserved,
 * test_nested_groups_both_cancelled] [probe] (3.13) */
static void group_preserves_the_cancel_count(void **state)
{
    (void)state;
    reset();
    assert_int_equal(PINT(run_ok(cancel_level, NULL)), 3);
    teardown();
}

static void *raise_error(void *arg)
{
    (void)arg;
    CHECK_STATUS(weft_event_set(&S.failed), WEFT_OK);
    CHECK_STATUS(weft_sleep(0), WEFT_OK);
    return weft_fail(WEFT_ESTATE, "RuntimeError");
}

static void *error_and_cancel_inner(void *arg)
{
    (void)arg;
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    S.kids[0] = group_spawn(g, raise_error, NULL);
    S.status[0] = weft_sleep(1); /* cut */
    S.status[1] = weft_task_group_wait(g);
    S.cancelling[0] = cancelling_now();
    double t0 = weft_monotonic();
    S.status[2] = weft_sleep(1); /* the outer cancel is not lost */
    S.elapsed = weft_monotonic() - t0;
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    return IPTR(1);
}

static void *error_and_cancel(void *arg)
{
    (void)arg;
    weft_future *t = spawn(error_and_cancel_inner, NULL);
    CHECK_STATUS(weft_event_wait_timeout(&S.failed, LONG_WAIT), WEFT_OK);
    CHECK_INT(weft_task_cancelling(t), 0);
    CHECK(weft_task_cancel(t, NULL));
    CHECK_INT(weft_task_cancelling(t), 1);
    CHECK_STATUS(weft_future_result(t, NULL), WEFT_ECANCELLED);
    CHECK(weft_future_cancelled(t));
    CHECK_STATUS(S.status[0], WEFT_ECANCELLED);
    CHECK(is_group_failure(S.status[1], WEFT_ESTATE));
    CHECK_INT(S.cancelling[0], 1);
    CHECK_STATUS(S.status[2], WEFT_ECANCELLED);
    CHECK(S.elapsed < 0.5);
    weft_future_release(S.kids[0]);
    weft_future_release(t);
    return NULL;
}

/* TaskGroup 15 [test_taskgroups.TestTaskGroup.test_error_and_cancel] [doc] (3.13) */
static void group_error_and_outer_cancel_together(void **state)
{
    (void)state;
    reset();
    run_ok(error_and_cancel, NULL);
    teardown();
}

static void *stress_child(void *arg)
{
    intptr_t i = (intptr_t)arg;
    if (i == STRESS_CHILDREN / 2) {
        CHECK_STATUS(weft_event_wait(&S.go), WEFT_OK);
        return weft_fail(WEFT_EINVAL, "the one");
    }
    int rc = weft_sleep(LONG_WAIT);
    atomic_fetch_add(&S.cleaned_up, 1);
    return rc == WEFT_OK ? arg : NULL;
}

static void *stress_group(void *arg)
{
    (void)arg;
    static weft_future *kids[STRESS_CHILDREN];
    weft_task_group *g = NULL;
    CHECK_STATUS(weft_task_group_new(&g), WEFT_OK);
    for (intptr_t i = 0; i < STRESS_CHILDREN; i++)
        kids[i] = group_spawn(g, stress_child, IPTR(i));
    yield_n(1);
    CHECK_STATUS(weft_event_set(&S.go), WEFT_OK);
    CHECK(is_group_failure(weft_task_group_wait(g), WEFT_EINVAL));
    weft_future *failed[2] = {NULL, NULL};
    CHECK_INT(weft_task_group_failures(g, failed, 2), 1);
    CHECK(failed[0] == kids[STRESS_CHILDREN / 2]);
    for (int i = 0; i < STRESS_CHILDREN; i++) {
        CHECK(weft_future_done(kids[i]));
        if (i != STRESS_CHILDREN / 2)
            CHECK(weft_future_cancelled(kids[i]));
        weft_future_release(kids[i]);
    }
    CHECK_INT(atomic_load(&S.cleaned_up), STRESS_CHILDREN - 1);
    CHECK_INT(cancelling_now(), 0);
    CHECK_STATUS(weft_task_group_free(g), WEFT_OK);
    return NULL;
}

/* TaskGroup 3 under load: one failure among hundreds of children cancels
 * every other one exactly once. */
static void stress_group_one_failure_among_many(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        reset();
        run_ok(stress_group, NULL);
        teardown();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_waits_for_its_children),
        cmocka_unit_test(group_child_cancelled_by_the_body),
        cmocka_unit_test(group_child_failure_cancels_the_rest),
        cmocka_unit_test(group_of_a_cancelled_parent),
        cmocka_unit_test(group_errors_win_over_the_parent_cancel),
        cmocka_unit_test(group_child_crash_after_the_parent_caught_a_cancel),
        cmocka_unit_test(nested_groups_in_one_task),
        cmocka_unit_test(group_awaits_tasks_spawned_while_it_waits),
        cmocka_unit_test(group_refuses_spawn_once_closing_or_failed),
        cmocka_unit_test(group_needs_a_task),
        cmocka_unit_test(group_preserves_the_cancel_count),
        cmocka_unit_test(group_error_and_outer_cancel_together),
        cmocka_unit_test(stress_group_one_failure_among_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
