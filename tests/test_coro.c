/* SPDX-License-Identifier: MIT */
/* test_coro.c — the coroutine runtime's core: running a loop, tasks, the
 * park layer suspending coroutines, and threads and coroutines sharing
 * weft objects.  (asyncio's own behaviours: test_coro_*.c.) */
#include "testutil.h"

#include "platform/stack.h"

#include <signal.h>
#include <unistd.h>

static void *return_arg(void *arg) { return arg; }

static void *main_returns(void *arg) { return arg; }

/* weft_run runs main on this thread and hands back its result. */
static void run_returns_main_result(void **state)
{
    (void)state;
    void *result = NULL;
    int x;
    assert_int_equal(weft_run(main_returns, &x, NULL, &result), WEFT_OK);
    assert_ptr_equal(result, &x);
    assert_null(weft_get_running_loop());
}

static void *fail_main(void *arg)
{
    (void)arg;
    return weft_fail(WEFT_EINVAL, "bad %d", 7);
}

static void run_reports_main_failure(void **state)
{
    (void)state;
    void *result = (void *)1;
    assert_int_equal(weft_run(fail_main, NULL, NULL, &result), WEFT_EINVAL);
    assert_null(result);
}

static void *nested_run(void *arg)
{
    (void)arg;
    int rc = weft_run(main_returns, NULL, NULL, NULL);
    return (void *)(intptr_t)rc;
}

static void run_inside_a_loop_is_refused(void **state)
{
    (void)state;
    void *result;
    assert_int_equal(weft_run(nested_run, NULL, NULL, &result), WEFT_OK);
    assert_int_equal((int)(intptr_t)result, WEFT_ESTATE);
    weft_future *task = (weft_future *)1;
    assert_int_equal(weft_spawn(return_arg, NULL, NULL, &task), WEFT_ESTATE);
    assert_null(task);
}

/* ---- tasks and sleeping ----------------------------------------------- */

struct order {
    int log[64];
    int n;
};

struct sleeper {
    struct order *order;
    int id;
    double seconds;
};

static void *sleep_then_log(void *arg)
{
    struct sleeper *s = arg;
    if (weft_sleep(s->seconds) != WEFT_OK)
        return weft_fail(WEFT_EFAILED, "sleep failed");
    s->order->log[s->order->n++] = s->id;
    return NULL;
}

static void *three_sleepers(void *arg)
{
    struct order *order = arg;
    struct sleeper s[3] = {{order, 1, 0.06}, {order, 2, 0.02}, {order, 3, 0.04}};
    weft_future *t[3];
    double t0 = weft_monotonic();
    for (int i = 0; i < 3; i++)
        if (weft_spawn(sleep_then_log, &s[i], NULL, &t[i]) != WEFT_OK)
            return weft_fail(WEFT_EFAILED, "spawn");
    int rc = weft_gather(t, 3, false, NULL);
    double took = weft_monotonic() - t0;
    for (int i = 0; i < 3; i++)
        weft_future_release(t[i]);
    if (rc != WEFT_OK)
        return weft_fail(rc, "gather");
    /* Concurrent: about the longest, far less than the sum on any machine
     * that is not stalled for the better part of a second. */
    if (took < 0.06 || took > 1.0)
        return weft_fail(WEFT_EFAILED, "took %f", took);
    return NULL;
}

static void sleeping_tasks_run_concurrently(void **state)
{
    (void)state;
    struct order order = {{0}, 0};
    assert_int_equal(weft_run(three_sleepers, &order, NULL, NULL), WEFT_OK);
    assert_int_equal(order.n, 3);
    assert_int_equal(order.log[0], 2);
    assert_int_equal(order.log[1], 3);
    assert_int_equal(order.log[2], 1);
}

/* A wait's timer outlives the wait (coro.c keeps it armed for the next
 * one): each later wait still ends at its own deadline, neither at the old
 * timer's time nor never.  Times in ms since the start. */
struct lazy_times {
    weft_event event;
    int rc[3];
    double at[3];
};

static void *set_soon(void *arg)
{
    weft_sleep(0.02);
    weft_event_set(arg);
    return NULL;
}

static void *lazy_waits(void *arg)
{
    struct lazy_times *lt = arg;
    double t0 = weft_monotonic();
    weft_future *setter;
    weft_spawn(set_soon, &lt->event, NULL, &setter);
    /* 1: a long deadline, ended early by the set (its timer stays armed at +5 s) */
    lt->rc[0] = weft_event_wait_timeout(&lt->event, 5.0);
    lt->at[0] = weft_monotonic() - t0;
    weft_event_clear(&lt->event);
    /* 2: an earlier deadline than the armed timer's: must end at +0.1 s */
    lt->rc[1] = weft_event_wait_timeout(&lt->event, 0.08);
    lt->at[1] = weft_monotonic() - t0;
    weft_future_release(setter);
    weft_spawn(set_soon, &lt->event, NULL, &setter);
    weft_event_wait_timeout(&lt->event, 0.15); /* set at +0.12: timer left at +0.25 */
    weft_event_clear(&lt->event);
    double t1 = weft_monotonic();
    /* 3: a later deadline than the one left armed: it fires at +0.25 and
     * must move out to +0.4, not end the wait there */
    lt->rc[2] = weft_event_wait_timeout(&lt->event, 0.28);
    lt->at[2] = weft_monotonic() - t1;
    weft_future_release(setter);
    return NULL;
}

static void a_wait_ends_at_its_own_deadline_after_earlier_waits(void **state)
{
    (void)state;
    struct lazy_times lt;
    weft_event_init(&lt.event);
    assert_int_equal(weft_run(lazy_waits, &lt, NULL, NULL), WEFT_OK);
    assert_int_equal(lt.rc[0], WEFT_OK);
    assert_true(lt.at[0] < 1.0);
    assert_int_equal(lt.rc[1], WEFT_ETIMEDOUT);
    assert_true(lt.at[1] >= lt.at[0] + 0.075 && lt.at[1] < lt.at[0] + 2.0);
    assert_int_equal(lt.rc[2], WEFT_ETIMEDOUT);
    assert_true(lt.at[2] >= 0.275); /* not at the old timer's time (~0.13 in) */
    assert_true(lt.at[2] < 3.0);
    weft_event_destroy(&lt.event);
}

static void *yield_and_log(void *arg)
{
    struct sleeper *s = arg;
    for (int i = 0; i < 3; i++) {
        s->order->log[s->order->n++] = s->id;
        weft_sleep(0);
    }
    return NULL;
}

/* sleep(0) hands over to the other ready tasks, in FIFO order. */
static void *two_yielders(void *arg)
{
    struct order *order = arg;
    struct sleeper s[2] = {{order, 1, 0}, {order, 2, 0}};
    weft_future *t[2];
    for (int i = 0; i < 2; i++)
        weft_spawn(yield_and_log, &s[i], NULL, &t[i]);
    weft_gather(t, 2, false, NULL);
    for (int i = 0; i < 2; i++)
        weft_future_release(t[i]);
    return NULL;
}

static void sleep_zero_alternates_tasks(void **state)
{
    (void)state;
    struct order order = {{0}, 0};
    assert_int_equal(weft_run(two_yielders, &order, NULL, NULL), WEFT_OK);
    int want[] = {1, 2, 1, 2, 1, 2};
    assert_int_equal(order.n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(order.log[i], want[i]);
}

/* ---- cancellation --------------------------------------------------------- */

static void *sleep_long(void *arg)
{
    int *seen = arg;
    *seen = weft_sleep(30);
    return NULL; /* returning with the request outstanding: cancelled */
}

static void *cancel_a_sleeper(void *arg)
{
    int *seen = arg;
    weft_future *t;
    weft_spawn(sleep_long, seen, NULL, &t);
    weft_sleep(0.01);
    double t0 = weft_monotonic();
    bool first = weft_task_cancel(t, "stop now");
    int rc = weft_future_result(t, NULL);
    double took = weft_monotonic() - t0;
    const char *why = weft_future_error_message(t);
    bool ok = first && rc == WEFT_ECANCELLED && weft_future_cancelled(t) && why &&
              strcmp(why, "stop now") == 0 && took < 1.0;
    weft_future_release(t);
    return ok ? NULL : weft_fail(WEFT_EFAILED, "rc %d took %f", rc, took);
}

static void cancelling_a_sleeping_task_ends_it(void **state)
{
    (void)state;
    int seen = -1;
    assert_int_equal(weft_run(cancel_a_sleeper, &seen, NULL, NULL), WEFT_OK);
    assert_int_equal(seen, WEFT_ECANCELLED);
}

static void *swallow_cancel(void *arg)
{
    (void)arg;
    if (weft_sleep(30) != WEFT_ECANCELLED)
        return weft_fail(WEFT_EFAILED, "not cancelled");
    weft_task_uncancel(weft_current_task());
    if (weft_sleep(0.001) != WEFT_OK) /* a later wait is not cancelled */
        return weft_fail(WEFT_EFAILED, "cancelled twice");
    return (void *)42;
}

static void *cancel_swallower(void *arg)
{
    (void)arg;
    weft_future *t;
    weft_spawn(swallow_cancel, NULL, NULL, &t);
    weft_sleep(0.01);
    weft_future_cancel(t);
    void *r = NULL;
    int rc = weft_future_result(t, &r);
    weft_future_release(t);
    return rc == WEFT_OK && r == (void *)42 ? NULL : weft_fail(WEFT_EFAILED, "rc %d", rc);
}

static void an_uncancelled_task_carries_on(void **state)
{
    (void)state;
    assert_int_equal(weft_run(cancel_swallower, NULL, NULL, NULL), WEFT_OK);
}

/* ---- threads and coroutines share objects ------------------------------------ */

enum { CONSUMERS = 4 };

struct shared {
    weft_queue *q;
    int producers, per_producer;
    long sum;
    atomic_int done;
};

/* The last producer to finish puts one stop per consumer. */
static void produce(int index, void *arg)
{
    struct shared *s = arg;
    for (int i = 1; i <= s->per_producer; i++)
        weft_queue_put(s->q, (void *)(intptr_t)(index * 100000 + i));
    if (atomic_fetch_add(&s->done, 1) == s->producers - 1)
        for (int i = 0; i < CONSUMERS; i++)
            weft_queue_put(s->q, NULL);
}

static void *consume(void *arg)
{
    struct shared *s = arg;
    long sum = 0;
    for (;;) {
        void *item;
        if (weft_queue_get(s->q, &item) != WEFT_OK)
            return weft_fail(WEFT_EFAILED, "get");
        if (!item)
            break;
        sum += (intptr_t)item;
    }
    return (void *)sum;
}

static void *coroutines_consume(void *arg)
{
    struct shared *s = arg;
    weft_future *t[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        weft_spawn(consume, s, NULL, &t[i]);
    bunch *b = bunch_start(s->producers, produce, s);
    void *results[CONSUMERS];
    int rc = weft_gather(t, CONSUMERS, false, results);
    bunch_join(b); /* a plain pthread join blocks the loop: only once they are done */
    for (int i = 0; i < CONSUMERS; i++) {
        s->sum += (long)(intptr_t)results[i];
        weft_future_release(t[i]);
    }
    return rc == WEFT_OK ? NULL : weft_fail(rc, "gather");
}

static void a_queue_carries_work_from_threads_to_coroutines(void **state)
{
    (void)state;
    struct shared s = {NULL, 4, 5000, 0, 0};
    /* Small, so that the producers block too: the coroutines wake them. */
    assert_int_equal(weft_queue_new(&s.q, 8), WEFT_OK);
    assert_int_equal(weft_run(coroutines_consume, &s, NULL, NULL), WEFT_OK);
    long want = 0;
    for (int p = 0; p < s.producers; p++)
        for (int i = 1; i <= s.per_producer; i++)
            want += p * 100000 + i;
    assert_int_equal(s.sum, want);
    weft_queue_free(s.q);
}

/* Two coroutines of one thread contend for a lock one of them holds
 * across a sleep: the other suspends, and the loop goes on. */
struct contended {
    weft_lock lock;
    int inside, most;
    long count;
};

static void *take_lock_often(void *arg)
{
    struct contended *c = arg;
    for (int i = 0; i < 200; i++) {
        if (weft_lock_acquire(&c->lock) != WEFT_OK)
            return weft_fail(WEFT_EFAILED, "acquire");
        if (++c->inside > c->most)
            c->most = c->inside;
        c->count++;
        weft_sleep(i % 10 ? 0 : 0.0005);
        c->inside--;
        weft_lock_release(&c->lock);
    }
    return NULL;
}

static void *lock_contenders(void *arg)
{
    enum { N = 8 };
    weft_future *t[N];
    for (int i = 0; i < N; i++)
        weft_spawn(take_lock_often, arg, NULL, &t[i]);
    int rc = weft_gather(t, N, false, NULL);
    for (int i = 0; i < N; i++)
        weft_future_release(t[i]);
    return rc == WEFT_OK ? NULL : weft_fail(rc, "gather");
}

static void a_lock_suspends_the_coroutines_that_wait(void **state)
{
    (void)state;
    struct contended c = {.lock = WEFT_LOCK_INIT};
    assert_int_equal(weft_run(lock_contenders, &c, NULL, NULL), WEFT_OK);
    assert_int_equal(c.most, 1);
    assert_int_equal(c.count, 8 * 200);
}

/* RLocks are owned by the task: a second task of the same thread does not
 * get in. */
static void *try_rlock(void *arg)
{
    return (void *)(intptr_t)weft_rlock_try_acquire(arg);
}

static void *rlock_owner_is_task(void *arg)
{
    weft_rlock *r = arg;
    weft_rlock_acquire(r);
    weft_future *t;
    weft_spawn(try_rlock, r, NULL, &t);
    void *got = NULL;
    weft_future_result(t, &got);
    weft_future_release(t);
    bool mine = weft_rlock_try_acquire(r) == WEFT_OK; /* reentrant for the owner */
    weft_rlock_release(r);
    weft_rlock_release(r);
    return (int)(intptr_t)got == WEFT_ETIMEDOUT && mine ? NULL
                                                        : weft_fail(WEFT_EFAILED, "shared");
}

static void an_rlock_belongs_to_its_task(void **state)
{
    (void)state;
    weft_rlock r;
    weft_rlock_init(&r);
    assert_int_equal(weft_run(rlock_owner_is_task, &r, NULL, NULL), WEFT_OK);
    weft_rlock_destroy(&r);
}

/* A thread waits on a task's future; the task waits on an event the
 * thread sets. */
struct cross {
    weft_event go;
    weft_future *task;
    weft_event spawned;
    int thread_saw;
};

static void *wait_for_go(void *arg)
{
    struct cross *x = arg;
    if (weft_event_wait(&x->go) != WEFT_OK)
        return weft_fail(WEFT_EFAILED, "wait");
    return (void *)7;
}

static void thread_side(int index, void *arg)
{
    (void)index;
    struct cross *x = arg;
    weft_event_wait(&x->spawned);
    weft_event_set(&x->go);
    void *r = NULL;
    x->thread_saw = weft_future_result(x->task, &r) == WEFT_OK ? (int)(intptr_t)r : -1;
}

static void *spawn_for_thread(void *arg)
{
    struct cross *x = arg;
    weft_spawn(wait_for_go, x, NULL, &x->task);
    bunch *b = bunch_start(1, thread_side, x);
    weft_event_set(&x->spawned);
    void *r = NULL;
    int rc = weft_future_result(x->task, &r);
    bunch_join(b); /* blocks the loop: the task is done by then */
    weft_future_release(x->task);
    return rc == WEFT_OK && r == (void *)7 ? NULL : weft_fail(WEFT_EFAILED, "rc %d", rc);
}

static void a_thread_and_a_task_wait_on_each_other(void **state)
{
    (void)state;
    struct cross x = {.go = WEFT_EVENT_INIT, .spawned = WEFT_EVENT_INIT};
    assert_int_equal(weft_run(spawn_for_thread, &x, NULL, NULL), WEFT_OK);
    assert_int_equal(x.thread_saw, 7);
}

/* ---- a process join suspends only the coroutine -------------------------------- */

/* Runs in the child as a plain thread, though forked from a coroutine:
 * its sleep must not try to switch to a loop the child does not run. */
static int nap_and_exit(void *arg)
{
    (void)arg;
    if (weft_current_task() || weft_get_running_loop())
        return 9;
    weft_sleep(0.2);
    return 5;
}

static void *tick(void *arg)
{
    int *ticks = arg;
    for (int i = 0; i < 1000 && *ticks >= 0; i++) {
        weft_sleep(0.01);
        ++*ticks;
    }
    return NULL;
}

static void *join_beside_a_ticker(void *arg)
{
    int *ticks = arg;
    weft_future *ticker;
    weft_spawn(tick, ticks, NULL, &ticker);
    weft_process *p;
    weft_process_new(&p, nap_and_exit, NULL, NULL);
    weft_process_start(p);
    int rc = weft_process_join(p);
    int code = -1;
    weft_process_exitcode(p, &code);
    weft_process_free(p);
    int seen = *ticks;
    *ticks = -1000000; /* stop it */
    weft_future_result(ticker, NULL);
    weft_future_release(ticker);
    *ticks = seen;
    return rc == WEFT_OK && code == 5 ? NULL : weft_fail(WEFT_EFAILED, "rc %d code %d", rc, code);
}

static void a_process_join_lets_the_loop_run(void **state)
{
    (void)state;
    int ticks = 0;
    assert_int_equal(weft_run(join_beside_a_ticker, &ticks, NULL, NULL), WEFT_OK);
    assert_true(ticks >= 5); /* 0.2 s of 10 ms ticks: the loop was not blocked */
}

/* ---- memory mode --------------------------------------------------------------- */

struct crowd {
    weft_condition cond;
    weft_lock lock;
    int turn, wrong;
};

/* Locals that must survive being copied out and back, a condition wait
 * (its node must not be on the shared stack) and a sleep. */
static void *shared_stack_worker(void *arg)
{
    struct crowd *c = arg;
    weft_future *me = weft_current_task();
    char mark[64];
    memset(mark, (int)((uintptr_t)me >> 4 & 0x7f), sizeof mark);
    weft_lock_acquire(&c->lock);
    while (c->turn == 0)
        weft_condition_wait(&c->cond);
    weft_lock_release(&c->lock);
    weft_sleep(0.001);
    for (size_t i = 0; i < sizeof mark; i++)
        if (mark[i] != (char)((uintptr_t)me >> 4 & 0x7f))
            c->wrong++;
    return NULL;
}

static void *crowd_main(void *arg)
{
    struct crowd *c = arg;
    enum { N = 2000 };
    static weft_future *t[N];
    for (int i = 0; i < N; i++)
        if (weft_spawn(shared_stack_worker, c, NULL, &t[i]) != WEFT_OK)
            return weft_fail(WEFT_ENOMEM, "spawn %d", i);
    weft_sleep(0.01); /* every one waits on the condition now */
    weft_lock_acquire(&c->lock);
    c->turn = 1;
    weft_condition_notify_all(&c->cond);
    weft_lock_release(&c->lock);
    int rc = weft_wait(t, N, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL);
    for (int i = 0; i < N; i++)
        weft_future_release(t[i]);
    return rc == WEFT_OK ? NULL : weft_fail(rc, "wait");
}

static void shared_stacks_keep_each_task_s_frames(void **state)
{
    (void)state;
    struct crowd c = {.lock = WEFT_LOCK_INIT};
    weft_condition_init_lock(&c.cond, &c.lock);
    weft_loop_options o = WEFT_LOOP_OPTIONS_INIT;
    o.stack_mode = WEFT_STACK_SHARED;
    o.shared_stacks = 2;
    assert_int_equal(weft_run(crowd_main, &c, &o, NULL), WEFT_OK);
    assert_int_equal(c.wrong, 0);
    weft_condition_destroy(&c.cond);
}

/* ---- stacks past the guard budget ----------------------------------------------- */

static long use_stack(int depth)
{
    volatile char frame[512];
    for (int i = 0; i < 512; i += 64) /* the whole frame, as a function's locals */
        frame[i] = (char)depth;
    frame[511] = (char)depth;
    long below = depth > 0 ? use_stack(depth - 1) : 0;
    return below + frame[0] + frame[511];
}

static void *deep_then_sleep(void *arg)
{
    int depth = (int)(intptr_t)arg;
    long sum = use_stack(depth);
    weft_sleep(0.001);
    return (void *)(intptr_t)sum;
}

static void *many_deep_tasks(void *arg)
{
    (void)arg;
    enum { N = 40 };
    weft_future *t[N];
    for (int i = 0; i < N; i++)
        if (weft_spawn(deep_then_sleep, (void *)(intptr_t)8, NULL, &t[i]) != WEFT_OK)
            return weft_fail(WEFT_ENOMEM, "spawn");
    void *r[N];
    int rc = weft_gather(t, N, false, r);
    bool ok = rc == WEFT_OK;
    for (int i = 0; i < N; i++) {
        ok = ok && (long)(intptr_t)r[i] == use_stack(8); /* same frames, same sum */
        weft_future_release(t[i]);
    }
    return ok ? NULL : weft_fail(WEFT_EFAILED, "rc %d", rc);
}

/* Past the budget of guarded stacks, tasks get stacks from slabs and run
 * the same. */
static void tasks_past_the_guard_budget_run(void **state)
{
    (void)state;
    weft__stack_set_guard_budget(4);
    int rc = weft_run(many_deep_tasks, NULL, NULL, NULL);
    weft__stack_set_guard_budget(0);
    assert_int_equal(rc, WEFT_OK);
}

static void *overflow_a_slab_stack(void *arg)
{
    (void)arg;
    weft_task_options o = WEFT_TASK_OPTIONS_INIT;
    o.name = "slab-diver";
    o.stack_size = 16384;
    weft_future *t;
    /* 22.5 KiB of frames: past the usable ~20 KiB, inside the red zone. */
    weft_spawn(deep_then_sleep, (void *)(intptr_t)44, &o, &t);
    weft_future_result(t, NULL);
    return NULL;
}

/* An overflow of an unguarded stack is caught when the task switches out:
 * named, then abort. */
static void an_overflow_past_the_budget_is_reported(void **state)
{
    (void)state;
#ifdef UNDER_TSAN
    skip(); /* TSan's larger frames run past the red zone: the fault is not ours to name */
#endif
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        weft__stack_set_guard_budget(1); /* the main task's is the one guarded */
        weft_run(overflow_a_slab_stack, NULL, NULL, NULL);
        _exit(4);
    }
    close(fds[1]);
    char out[2048];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof out - 1 && (n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!strstr(out, "weft: coroutine 'slab-diver' overflowed its stack of"))
        fail_msg("no overflow report in: %s", out);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_returns_main_result),
        cmocka_unit_test(run_reports_main_failure),
        cmocka_unit_test(run_inside_a_loop_is_refused),
        cmocka_unit_test(sleeping_tasks_run_concurrently),
        cmocka_unit_test(sleep_zero_alternates_tasks),
        cmocka_unit_test(a_wait_ends_at_its_own_deadline_after_earlier_waits),
        cmocka_unit_test(cancelling_a_sleeping_task_ends_it),
        cmocka_unit_test(an_uncancelled_task_carries_on),
        cmocka_unit_test(a_queue_carries_work_from_threads_to_coroutines),
        cmocka_unit_test(a_lock_suspends_the_coroutines_that_wait),
        cmocka_unit_test(an_rlock_belongs_to_its_task),
        cmocka_unit_test(a_thread_and_a_task_wait_on_each_other),
        cmocka_unit_test(a_process_join_lets_the_loop_run),
        cmocka_unit_test(shared_stacks_keep_each_task_s_frames),
        cmocka_unit_test(tasks_past_the_guard_budget_run),
        cmocka_unit_test(an_overflow_past_the_budget_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
