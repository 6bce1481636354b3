/* SPDX-License-Identifier: MIT */
/* test_coro_loop.c — a loop's life across threads (close, free, run on
 * the loop's own thread only), run_coroutine_threadsafe's future, and the
 * races a review found: each of these failed or hung (caught by alarm)
 * before its fix. */
#include "testutil.h"

#include "loop.h"

#include <signal.h>
#include <unistd.h>

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "HANG: test did not finish in time\n";
    ssize_t r = write(2, m, sizeof m - 1);
    (void)r;
    _exit(3);
}

/* ---- 1: weft_loop_close from another thread while the loop runs ---- */
struct running {
    weft_loop *loop;
    atomic_int started;
    int run_rc;
    weft_event tried; /* the other thread is done with the loop */
};

static void *sleep_a_while(void *arg)
{
    struct running *r = arg;
    atomic_store(&r->started, 1);
    weft_sleep(0.5);
    return NULL;
}

static void run_loop_thread(int index, void *arg)
{
    (void)index;
    struct running *r = arg;
    r->run_rc = weft_loop_run(r->loop, sleep_a_while, r, NULL);
    weft_event_wait(&r->tried);
    weft_loop_close(r->loop); /* the loop's own thread */
    weft_loop_free(r->loop);
}

static void close_while_running_elsewhere_is_refused(void **state)
{
    (void)state;
    struct running r = {.tried = WEFT_EVENT_INIT};
    assert_int_equal(weft_loop_new(NULL, &r.loop), WEFT_OK);
    bunch *b = bunch_start(1, run_loop_thread, &r);
    while (!atomic_load(&r.started))
        weft_sleep(0.001);
    alarm(10);
    int rc = weft_loop_close(r.loop); /* asyncio: a running loop cannot be closed */
    weft_event_set(&r.tried);
    bunch_join(b);
    alarm(0);
    assert_int_equal(rc, WEFT_ESTATE);
    assert_int_equal(r.run_rc, WEFT_OK); /* main was not cancelled by the other thread */
}

/* ---- 2: closing another loop (with a pending task) from inside a loop ---- */
static void *child_sleeps(void *arg)
{
    (void)arg;
    weft_sleep(5);
    return NULL;
}

static void *spawn_and_return(void *arg)
{
    (void)arg;
    weft_future *t;
    weft_spawn(child_sleeps, NULL, NULL, &t);
    weft_future_release(t);
    return NULL;
}

static void *close_other(void *arg) { return (void *)(intptr_t)weft_loop_close(arg); }

static void close_other_loop_from_inside_a_loop_returns(void **state)
{
    (void)state;
    weft_loop *other;
    assert_int_equal(weft_loop_new(NULL, &other), WEFT_OK);
    assert_int_equal(weft_loop_run(other, spawn_and_return, NULL, NULL), WEFT_OK);
    void *res = NULL;
    alarm(5);
    assert_int_equal(weft_run(close_other, other, NULL, &res), WEFT_OK);
    alarm(0);
    assert_int_equal((int)(intptr_t)res, WEFT_ESTATE);
    assert_int_equal(weft_loop_close(other), WEFT_OK);
    assert_int_equal(weft_loop_free(other), WEFT_OK);
}

/* ---- 3: cancelling run_coroutine_threadsafe's future cancels the task ---- */
struct remote {
    weft_loop *_Atomic loop;
    atomic_int task_started;
    atomic_int task_rc;
    weft_event stop;
};

static void *remote_task(void *arg)
{
    struct remote *x = arg;
    atomic_store(&x->task_started, 1);
    atomic_store(&x->task_rc, weft_sleep(1.5) + 1000);
    return NULL;
}

static void *host_main(void *arg)
{
    struct remote *x = arg;
    atomic_store(&x->loop, weft_get_running_loop());
    weft_event_wait(&x->stop);
    return NULL;
}

static void host_thread(int index, void *arg)
{
    (void)index;
    weft_run(host_main, arg, NULL, NULL);
}

static void cancelling_the_threadsafe_future_cancels_the_task(void **state)
{
    (void)state;
    struct remote x = {.stop = WEFT_EVENT_INIT};
    atomic_init(&x.task_rc, -1);
    bunch *b = bunch_start(1, host_thread, &x);
    while (!atomic_load(&x.loop))
        weft_sleep(0.001);
    weft_future *f;
    assert_int_equal(weft_run_coroutine_threadsafe(atomic_load(&x.loop), remote_task, &x, NULL, &f),
                     WEFT_OK);
    while (!atomic_load(&x.task_started))
        weft_sleep(0.001);
    bool cancelled = weft_future_cancel(f);
    int rc = weft_future_result_timeout(f, 1.0, NULL);
    weft_future_result_timeout(f, 5, NULL); /* let the task end either way */
    weft_event_set(&x.stop);
    bunch_join(b);
    weft_future_release(f);
    assert_true(cancelled);
    assert_int_equal(rc, WEFT_ECANCELLED);
    assert_int_equal(atomic_load(&x.task_rc), 1000 + WEFT_ECANCELLED);
}

/* ---- 4: run_coroutine_threadsafe to a loop that closes before running it ---- */
static void *never_runs(void *arg)
{
    (void)arg;
    return NULL;
}

static void threadsafe_spawn_on_a_loop_that_closes_completes(void **state)
{
    (void)state;
    weft_loop *loop;
    assert_int_equal(weft_loop_new(NULL, &loop), WEFT_OK);
    weft_future *f;
    assert_int_equal(weft_run_coroutine_threadsafe(loop, never_runs, NULL, NULL, &f), WEFT_OK);
    assert_int_equal(weft_loop_close(loop), WEFT_OK);
    assert_int_equal(weft_loop_free(loop), WEFT_OK);
    int rc = weft_future_result_timeout(f, 0.2, NULL);
    weft_future_release(f);
    assert_int_not_equal(rc, WEFT_ETIMEDOUT); /* nobody will ever complete it */
}

/* ---- 5: an outside cancel racing weft_task_uncancel is lost ---- */
#define RACE_ROUNDS 20000
struct race {
    weft_future *_Atomic task;
    atomic_int acks;
    atomic_int issued;
    atomic_int done;
};

static void *uncanceller(void *arg)
{
    struct race *r = arg;
    weft_future *me = weft_current_task();
    atomic_store(&r->task, me);
    double since = 0;
    while (atomic_load(&r->acks) < RACE_ROUNDS) {
        if (weft_sleep(0) == WEFT_ECANCELLED) {
            atomic_fetch_add(&r->acks, 1); /* the canceller may fire again now */
            weft_task_uncancel(me);
            since = 0;
        } else if (atomic_load(&r->issued) > atomic_load(&r->acks)) {
            /* a cancel was requested (weft_task_cancel returned) but not delivered */
            if (since == 0)
                since = weft_monotonic();
            else if (weft_monotonic() - since > 2.0) {
                printf("lost: issued %d acks %d cancelling %d\n", atomic_load(&r->issued),
                       atomic_load(&r->acks), weft_task_cancelling(me));
                atomic_store(&r->done, -1);
                break;
            }
        }
    }
    return NULL;
}

static void canceller(int index, void *arg)
{
    (void)index;
    struct race *r = arg;
    weft_future *t;
    while (!(t = atomic_load(&r->task)))
        ;
    for (int i = 0; i < RACE_ROUNDS && atomic_load(&r->done) == 0; i++) {
        weft_task_cancel(t, NULL);
        atomic_fetch_add(&r->issued, 1);
        while (atomic_load(&r->acks) <= i && atomic_load(&r->done) == 0)
            ;
    }
}

static void *race_main(void *arg)
{
    bunch *b = bunch_start(1, canceller, arg);
    uncanceller(arg);
    struct race *r = arg;
    if (atomic_load(&r->done) == 0)
        atomic_store(&r->done, 1);
    bunch_join(b);
    return NULL;
}

static void a_cancel_racing_uncancel_is_not_lost(void **state)
{
    (void)state;
    struct race r = {0};
    weft_run(race_main, &r, NULL, NULL);
    assert_int_equal(atomic_load(&r.done), 1);
}

/* ---- 6: a done-callback that waits, run by the ending task ---- */
static weft_lock cb_lock = WEFT_LOCK_INIT;
static atomic_int cb_ran;

static void *ends_at_once(void *arg)
{
    (void)arg;
    return (void *)1;
}

static void takes_the_lock(weft_future *f, void *arg)
{
    (void)f;
    (void)arg;
    weft_lock_acquire(&cb_lock); /* contended: suspends whoever runs this */
    weft_lock_release(&cb_lock);
    atomic_store(&cb_ran, 1);
}

static void *hold_lock_while_task_ends(void *arg)
{
    (void)arg;
    weft_lock_acquire(&cb_lock);
    weft_future *t;
    weft_spawn(ends_at_once, NULL, NULL, &t);
    weft_future_add_done_callback(t, takes_the_lock, NULL);
    weft_sleep(0.1); /* t ends, its callback waits for the lock */
    weft_lock_release(&cb_lock);
    weft_sleep(0.1);
    weft_future_release(t);
    return NULL;
}

static void a_done_callback_that_waits_in_the_ending_task(void **state)
{
    (void)state;
    assert_int_equal(weft_run(hold_lock_while_task_ends, NULL, NULL, NULL), WEFT_OK);
    assert_int_equal(atomic_load(&cb_ran), 1);
}

/* ---- 7: weft_fail in a task that then returns something else ---- */
static void *fail_then_succeed(void *arg)
{
    (void)arg;
    (void)weft_fail(WEFT_EINVAL, "changed my mind %d", 1);
    return NULL;
}

static void a_task_s_unused_failure_is_freed(void **state)
{
    (void)state;
    assert_int_equal(weft_run(fail_then_succeed, NULL, NULL, NULL), WEFT_OK);
}

/* ---- 8: a loop belongs to the thread that first ran it (memory mode) ---- */
struct pinned {
    weft_loop *loop;
    weft_event ran, checked;
    int close_rc, free_rc;
};

static void run_then_close_later(int index, void *arg)
{
    (void)index;
    struct pinned *p = arg;
    weft_loop_run(p->loop, spawn_and_return, NULL, NULL); /* one task left pending */
    weft_event_set(&p->ran);
    weft_event_wait(&p->checked);
    p->close_rc = weft_loop_close(p->loop);
    p->free_rc = weft_loop_free(p->loop);
}

static void a_loop_is_closed_on_its_own_thread_only(void **state)
{
    (void)state;
    weft_loop_options o = WEFT_LOOP_OPTIONS_INIT;
    o.stack_mode = WEFT_STACK_SHARED;
    struct pinned p = {.ran = WEFT_EVENT_INIT, .checked = WEFT_EVENT_INIT};
    assert_int_equal(weft_loop_new(&o, &p.loop), WEFT_OK);
    bunch *b = bunch_start(1, run_then_close_later, &p);
    weft_event_wait(&p.ran);
    alarm(5);
    int elsewhere_close = weft_loop_close(p.loop); /* its tasks' stacks are the other thread's */
    int elsewhere_run = weft_loop_run(p.loop, never_runs, NULL, NULL);
    int elsewhere_free = weft_loop_free(p.loop);
    weft_event_set(&p.checked);
    bunch_join(b);
    alarm(0);
    assert_int_equal(elsewhere_close, WEFT_ESTATE);
    assert_int_equal(elsewhere_run, WEFT_ESTATE);
    assert_int_equal(elsewhere_free, WEFT_ESTATE);
    assert_int_equal(p.close_rc, WEFT_OK);
    assert_int_equal(p.free_rc, WEFT_OK);
}

int main(int argc, char **argv)
{
    signal(SIGALRM, on_alarm);
    const struct CMUnitTest all[] = {
        cmocka_unit_test(close_while_running_elsewhere_is_refused),
        cmocka_unit_test(close_other_loop_from_inside_a_loop_returns),
        cmocka_unit_test(cancelling_the_threadsafe_future_cancels_the_task),
        cmocka_unit_test(threadsafe_spawn_on_a_loop_that_closes_completes),
        cmocka_unit_test(a_cancel_racing_uncancel_is_not_lost),
        cmocka_unit_test(a_done_callback_that_waits_in_the_ending_task),
        cmocka_unit_test(a_task_s_unused_failure_is_freed),
        cmocka_unit_test(a_loop_is_closed_on_its_own_thread_only),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(all, NULL, NULL);
}
