/* SPDX-License-Identifier: MIT */
/* test_coro_waits.c — every blocking call of the public headers, made in a
 * coroutine, suspends only that coroutine: the loop runs its other tasks
 * meanwhile, and the call returns once woken by a coroutine of the same
 * loop, a coroutine of another loop (another thread running weft_run) or a
 * plain thread; cancelled by any of them it returns WEFT_ECANCELLED at once
 * (issue 16).  And a cancelled waiter never swallows a wake-up, a permit or
 * an item meant for another waiter.
 *
 * The matrix is a table of blocking calls (`calls`), each run once per kind
 * of actor.  A run has three parties on the test's loop and one actor:
 *   - a ticker task, which counts loop iterations (sleeps of 1 ms);
 *   - the waiter task, which makes the blocking call;
 *   - the actor, which first takes what it will give back (prepare: the
 *     lock it will release), waits until the waiter has blocked and the
 *     ticker has ticked three more times (so the loop runs while the
 *     waiter is suspended: a call that blocked the thread would stop the
 *     ticker), then wakes the waiter or cancels it. */
#include "coro_harness.h"

#include <time.h>

#ifdef UNDER_TSAN
/* TSan's fork child (the process-join rows) reports the threads that had
 * ended but were not yet joined when fork() copied the process as leaked
 * (and exits 66): an artefact of fork, as test_lifecycle.c says. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "report_thread_leaks=0"; }
#endif

/* Cancellation must wake a waiter at once: well under 10 ms on an idle
 * machine.  The best of several tries must beat this. */
#define CANCEL_LATENCY 0.005
#define CANCEL_TRIES 10

enum phase { STARTING, PREPARED, BLOCKING, RETURNED, FINISHED };

typedef struct mrun mrun;

typedef struct blocking_call {
    const char *name;
    double timeout;              /* > 0: the call's _timeout form, with this */
    void (*setup)(mrun *);       /* on the test's thread, before the loop */
    void (*prepare)(mrun *);     /* the actor, before the waiter blocks */
    int (*block)(mrun *);        /* the waiter's blocking call */
    void (*wake)(mrun *);        /* the actor's wake-up (NULL: none needed) */
    void (*undo)(mrun *);        /* the actor, after cancelling: undo prepare */
    int woken_rc;                /* block's status once woken */
    void (*check)(mrun *);       /* in the loop, after the run */
    void (*teardown)(mrun *);    /* on the test's thread, after the loop */
} blocking_call;

struct mrun {
    const blocking_call *call;
    actor_kind by;
    bool cancel;
    /* the objects */
    weft_lock lock;
    weft_rlock rlock;
    weft_condition cond;
    int flag;
    weft_semaphore sem;
    weft_event event;
    weft_barrier barrier;
    weft_queue *queue;
    weft_simple_queue *squeue;
    weft_future *future;
    weft_as_completed *iterator;
    weft_thread *thread;
    weft_event thread_release;
    weft_process *process;
    void *got;
    int code;
    size_t index, actor_index;
    int actor_rc;
    /* the run */
    atomic_int phase;
    atomic_long ticks;
    atomic_long ticks_at_block;
    weft_future *waiter_task;
    atomic_int rc;
    double t_block, t_act, t_return;
};

/* ---- the calls ------------------------------------------------------------ */

static bool timed(mrun *r) { return r->call->timeout > 0; }

static void lock_setup(mrun *r) { weft_lock_init(&r->lock); }
static void lock_prepare(mrun *r) { CO_CHECK_RC(weft_lock_acquire(&r->lock), WEFT_OK); }
static void lock_wake(mrun *r) { CO_CHECK_RC(weft_lock_release(&r->lock), WEFT_OK); }
static int lock_block(mrun *r)
{
    int rc = timed(r) ? weft_lock_acquire_timeout(&r->lock, r->call->timeout)
                      : weft_lock_acquire(&r->lock);
    if (rc == WEFT_OK)
        CO_CHECK_RC(weft_lock_release(&r->lock), WEFT_OK);
    return rc;
}
static void lock_check(mrun *r) { CO_CHECK(!weft_lock_locked(&r->lock)); }

static void rlock_setup(mrun *r) { weft_rlock_init(&r->rlock); }
static void rlock_prepare(mrun *r) { CO_CHECK_RC(weft_rlock_acquire(&r->rlock), WEFT_OK); }
static void rlock_wake(mrun *r) { CO_CHECK_RC(weft_rlock_release(&r->rlock), WEFT_OK); }
static int rlock_block(mrun *r)
{
    /* For a waiter of the actor's own thread, this is where an rlock owned
     * by the thread rather than the task would nest instead of waiting. */
    int rc = timed(r) ? weft_rlock_acquire_timeout(&r->rlock, r->call->timeout)
                      : weft_rlock_acquire(&r->rlock);
    if (rc == WEFT_OK) {
        CO_CHECK_INT(weft_rlock_recursion_count(&r->rlock), 1);
        CO_CHECK_RC(weft_rlock_release(&r->rlock), WEFT_OK);
    }
    return rc;
}
static void rlock_check(mrun *r) { CO_CHECK(!weft_rlock_locked(&r->rlock)); }

static void cond_setup(mrun *r)
{
    weft_condition_init(&r->cond);
    r->flag = 0;
}
static int cond_block(mrun *r)
{
    int rc = WEFT_OK;
    CO_CHECK_RC(weft_condition_acquire(&r->cond), WEFT_OK);
    while (!r->flag && rc == WEFT_OK)
        rc = timed(r) ? weft_condition_wait_timeout(&r->cond, r->call->timeout)
                      : weft_condition_wait(&r->cond);
    /* Held again on every return, a cancelled one included. */
    CO_CHECK_RC(weft_condition_release(&r->cond), WEFT_OK);
    return rc;
}
static void cond_wake(mrun *r)
{
    CO_CHECK_RC(weft_condition_acquire(&r->cond), WEFT_OK);
    r->flag = 1;
    CO_CHECK_RC(weft_condition_notify(&r->cond, 1), WEFT_OK);
    CO_CHECK_RC(weft_condition_release(&r->cond), WEFT_OK);
}
static void cond_check(mrun *r)
{
    CO_CHECK(!weft_condition_locked(&r->cond));
    CO_CHECK_RC(weft_condition_destroy(&r->cond), WEFT_OK);
}

static void cond_wait_for_setup(mrun *r) { cond_setup(r); }
static int flag_set(void *arg) { return ((mrun *)arg)->flag; }
static int cond_wait_for_block(mrun *r)
{
    CO_CHECK_RC(weft_condition_acquire(&r->cond), WEFT_OK);
    int rc = timed(r) ? weft_condition_wait_for_timeout(&r->cond, flag_set, r, r->call->timeout)
                      : weft_condition_wait_for(&r->cond, flag_set, r);
    CO_CHECK_RC(weft_condition_release(&r->cond), WEFT_OK);
    return rc;
}

static void sem_setup(mrun *r) { weft_semaphore_init(&r->sem, 0); }
static int sem_block(mrun *r)
{
    return timed(r) ? weft_semaphore_acquire_timeout(&r->sem, r->call->timeout)
                    : weft_semaphore_acquire(&r->sem);
}
static void sem_wake(mrun *r) { CO_CHECK_RC(weft_semaphore_release(&r->sem), WEFT_OK); }
static void sem_check(mrun *r)
{
    CO_CHECK_INT(weft_semaphore_value(&r->sem), 0);
    CO_CHECK_RC(weft_semaphore_destroy(&r->sem), WEFT_OK);
}

static void bsem_setup(mrun *r) { weft_semaphore_init_bounded(&r->sem, 1); }
static void bsem_prepare(mrun *r) { CO_CHECK_RC(weft_semaphore_acquire(&r->sem), WEFT_OK); }
static int bsem_block(mrun *r)
{
    int rc = sem_block(r);
    if (rc == WEFT_OK)
        CO_CHECK_RC(weft_semaphore_release(&r->sem), WEFT_OK);
    return rc;
}
static void bsem_check(mrun *r)
{
    CO_CHECK_INT(weft_semaphore_value(&r->sem), 1);
    CO_CHECK_RC(weft_semaphore_destroy(&r->sem), WEFT_OK);
}

static void event_setup(mrun *r) { weft_event_init(&r->event); }
static int event_block(mrun *r)
{
    return timed(r) ? weft_event_wait_timeout(&r->event, r->call->timeout)
                    : weft_event_wait(&r->event);
}
static void event_wake(mrun *r) { CO_CHECK_RC(weft_event_set(&r->event), WEFT_OK); }
static void event_check(mrun *r)
{
    CO_CHECK_INT(weft_event_is_set(&r->event), !r->cancel);
    CO_CHECK_RC(weft_event_destroy(&r->event), WEFT_OK);
}

static void barrier_setup(mrun *r) { weft_barrier_init(&r->barrier, 2, NULL, NULL, WEFT_FOREVER); }
static int barrier_block(mrun *r)
{
    return timed(r) ? weft_barrier_wait_timeout(&r->barrier, r->call->timeout, &r->index)
                    : weft_barrier_wait(&r->barrier, &r->index);
}
static void barrier_wake(mrun *r) { r->actor_rc = weft_barrier_wait(&r->barrier, &r->actor_index); }
static void barrier_check(mrun *r)
{
    if (r->cancel)
        return; /* whether a cancelled party breaks it: test_coro_sync.c */
    CO_CHECK_RC(r->actor_rc, WEFT_OK);
    CO_CHECK(r->index + r->actor_index == 1);
    CO_CHECK_RC(weft_barrier_destroy(&r->barrier), WEFT_OK);
}

static void queue_full_setup(mrun *r)
{
    weft_queue_new(&r->queue, 1);
    weft_queue_put(r->queue, ITEM(1));
}
static int queue_put_block(mrun *r)
{
    return timed(r) ? weft_queue_put_timeout(r->queue, ITEM(2), r->call->timeout)
                    : weft_queue_put(r->queue, ITEM(2));
}
static void queue_put_wake(mrun *r)
{
    void *item = NULL;
    CO_CHECK_RC(weft_queue_get(r->queue, &item), WEFT_OK);
    r->got = item;
}
static void queue_put_check(mrun *r)
{
    void *item = NULL;
    CO_CHECK_RC(weft_queue_get_nowait(r->queue, &item), WEFT_OK);
    if (r->cancel) {
        CO_CHECK_INT(VALUE(item), 1); /* the cancelled put left nothing */
    } else {
        CO_CHECK_INT(VALUE(r->got), 1);
        CO_CHECK_INT(VALUE(item), 2);
    }
    CO_CHECK(weft_queue_empty(r->queue));
}
static void queue_teardown(mrun *r)
{
    assert_int_equal(weft_queue_free(r->queue), WEFT_OK);
    r->queue = NULL;
}

static void queue_empty_setup(mrun *r) { weft_queue_new(&r->queue, 0); }
static int queue_get_block(mrun *r)
{
    return timed(r) ? weft_queue_get_timeout(r->queue, &r->got, r->call->timeout)
                    : weft_queue_get(r->queue, &r->got);
}
static void queue_get_wake(mrun *r) { CO_CHECK_RC(weft_queue_put(r->queue, ITEM(7)), WEFT_OK); }
static void queue_get_check(mrun *r)
{
    if (!r->cancel)
        CO_CHECK_INT(VALUE(r->got), 7);
    else
        CO_CHECK(r->got == NULL);
    CO_CHECK(weft_queue_empty(r->queue));
}

static void queue_join_setup(mrun *r)
{
    void *item;
    weft_queue_new(&r->queue, 0);
    weft_queue_put(r->queue, ITEM(1));
    weft_queue_get(r->queue, &item);
}
static int queue_join_block(mrun *r)
{
    return timed(r) ? weft_queue_join_timeout(r->queue, r->call->timeout)
                    : weft_queue_join(r->queue);
}
static void queue_join_wake(mrun *r) { CO_CHECK_RC(weft_queue_task_done(r->queue), WEFT_OK); }
static void queue_join_check(mrun *r)
{
    CO_CHECK_INT(weft_queue_unfinished_tasks(r->queue), r->cancel ? 1 : 0);
    if (r->cancel)
        CO_CHECK_RC(weft_queue_task_done(r->queue), WEFT_OK);
}

static void squeue_setup(mrun *r) { weft_simple_queue_new(&r->squeue); }
static int squeue_block(mrun *r)
{
    return timed(r) ? weft_simple_queue_get_timeout(r->squeue, &r->got, r->call->timeout)
                    : weft_simple_queue_get(r->squeue, &r->got);
}
static void squeue_wake(mrun *r) { CO_CHECK_RC(weft_simple_queue_put(r->squeue, ITEM(7)), WEFT_OK); }
static void squeue_check(mrun *r)
{
    if (!r->cancel)
        CO_CHECK_INT(VALUE(r->got), 7);
    CO_CHECK(weft_simple_queue_empty(r->squeue));
}
static void squeue_teardown(mrun *r)
{
    assert_int_equal(weft_simple_queue_free(r->squeue, NULL), WEFT_OK);
    r->squeue = NULL;
}

static void future_setup(mrun *r) { weft_future_new(&r->future); }
static int future_result_block(mrun *r)
{
    return timed(r) ? weft_future_result_timeout(r->future, r->call->timeout, &r->got)
                    : weft_future_result(r->future, &r->got);
}
static void future_wake(mrun *r) { CO_CHECK_RC(weft_future_set_result(r->future, ITEM(7)), WEFT_OK); }
static void future_result_check(mrun *r)
{
    if (r->cancel) {
        /* A task cancelled while it waits on a future cancels the future
         * (coro.h, as `await` does). */
        CO_CHECK(weft_future_cancelled(r->future));
    } else {
        CO_CHECK_INT(VALUE(r->got), 7);
    }
}
static void future_teardown(mrun *r)
{
    weft_future_release(r->future);
    r->future = NULL;
}

static int future_exception_block(mrun *r)
{
    const char *message = NULL;
    return timed(r) ? weft_future_exception_timeout(r->future, r->call->timeout, &r->code,
                                                    &message)
                    : weft_future_exception(r->future, &r->code, &message);
}
static void future_fail(mrun *r)
{
    CO_CHECK_RC(weft_future_set_exception(r->future, WEFT_EINVAL, "no"), WEFT_OK);
}
static void future_exception_check(mrun *r)
{
    if (!r->cancel) /* (coro.h promises the future's cancellation for result only) */
        CO_CHECK_INT(r->code, WEFT_EINVAL);
}

static int wait_block(mrun *r)
{
    bool done = false;
    int rc = weft_wait(&r->future, 1, timed(r) ? r->call->timeout : WEFT_FOREVER,
                       WEFT_ALL_COMPLETED, &done);
    if (rc == WEFT_OK)
        CO_CHECK(done);
    return rc;
}
/* weft_wait and as_completed only watch: cancelling the waiting task
 * leaves the future alone, as asyncio.wait (coro.h). */
static void wait_check(mrun *r)
{
    if (r->cancel)
        CO_CHECK(!weft_future_done(r->future));
    else
        CO_CHECK(weft_future_done(r->future));
}

static void as_completed_setup(mrun *r)
{
    weft_future_new(&r->future);
    weft_as_completed_new(&r->iterator, &r->future, 1, WEFT_FOREVER);
}
static int as_completed_block(mrun *r)
{
    weft_future *next = NULL;
    int rc = weft_as_completed_next(r->iterator, &next);
    if (rc == WEFT_OK) {
        CO_CHECK(next == r->future);
        weft_future_release(next);
    }
    return rc;
}
static void as_completed_teardown(mrun *r)
{
    weft_as_completed_free(r->iterator);
    r->iterator = NULL;
    future_teardown(r);
}

static void *thread_waits_for_release(void *p)
{
    mrun *r = p;
    weft_event_wait_timeout(&r->thread_release, 30);
    return ITEM(42);
}
static void thread_setup(mrun *r)
{
    weft_event_init(&r->thread_release);
    assert_int_equal(weft_thread_new(&r->thread, thread_waits_for_release, r, NULL), WEFT_OK);
    assert_int_equal(weft_thread_start(r->thread), WEFT_OK);
}
static int thread_join_block(mrun *r)
{
    return timed(r) ? weft_thread_join_timeout(r->thread, r->call->timeout, &r->got)
                    : weft_thread_join(r->thread, &r->got);
}
static void thread_wake(mrun *r) { CO_CHECK_RC(weft_event_set(&r->thread_release), WEFT_OK); }
static void thread_check(mrun *r)
{
    if (!r->cancel)
        CO_CHECK_INT(VALUE(r->got), 42);
    else
        CO_CHECK(weft_thread_is_alive(r->thread));
}
static void thread_teardown(mrun *r)
{
    weft_event_set(&r->thread_release);
    if (r->cancel)
        assert_int_equal(weft_thread_join(r->thread, NULL), WEFT_OK);
    weft_thread_free(r->thread);
    r->thread = NULL;
}

static int child_sleeps(void *arg)
{
    (void)arg;
    /* Long enough for any run; short, should a join block its loop. */
    for (int i = 0; i < 50; i++) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
static void process_setup(mrun *r)
{
    assert_int_equal(weft_process_new(&r->process, child_sleeps, NULL, NULL), WEFT_OK);
    assert_int_equal(weft_process_start(r->process), WEFT_OK);
}
static int process_join_block(mrun *r)
{
    return timed(r) ? weft_process_join_timeout(r->process, r->call->timeout)
                    : weft_process_join(r->process);
}
static void process_wake(mrun *r) { CO_CHECK_RC(weft_process_terminate(r->process), WEFT_OK); }
static void process_check(mrun *r)
{
    int code = 0;
    if (r->cancel) {
        CO_CHECK(weft_process_is_alive(r->process));
        return;
    }
    CO_CHECK_RC(weft_process_exitcode(r->process, &code), WEFT_OK);
    CO_CHECK_INT(code, -15);
}
static void process_teardown(mrun *r)
{
    weft_process_terminate(r->process);
    assert_int_equal(weft_process_join_timeout(r->process, 30), WEFT_OK);
    weft_process_free(r->process);
    r->process = NULL;
}

static int sleep_block(mrun *r) { return weft_sleep(r->cancel ? 30 : 0.1); }
static void sleep_check(mrun *r)
{
    if (!r->cancel)
        CO_CHECK(r->t_return - r->t_block >= 0.1);
}

#define T 30.0 /* the timeout of the _timeout forms: never reached */

static const blocking_call calls[] = {
    {"lock acquire", 0, lock_setup, lock_prepare, lock_block, lock_wake, lock_wake, WEFT_OK,
     lock_check, NULL},
    {"lock acquire_timeout", T, lock_setup, lock_prepare, lock_block, lock_wake, lock_wake,
     WEFT_OK, lock_check, NULL},
    {"rlock acquire", 0, rlock_setup, rlock_prepare, rlock_block, rlock_wake, rlock_wake,
     WEFT_OK, rlock_check, NULL},
    {"rlock acquire_timeout", T, rlock_setup, rlock_prepare, rlock_block, rlock_wake,
     rlock_wake, WEFT_OK, rlock_check, NULL},
    {"condition wait", 0, cond_setup, NULL, cond_block, cond_wake, NULL, WEFT_OK, cond_check,
     NULL},
    {"condition wait_timeout", T, cond_setup, NULL, cond_block, cond_wake, NULL, WEFT_OK,
     cond_check, NULL},
    {"condition wait_for", 0, cond_wait_for_setup, NULL, cond_wait_for_block, cond_wake, NULL,
     WEFT_OK, cond_check, NULL},
    {"semaphore acquire", 0, sem_setup, NULL, sem_block, sem_wake, NULL, WEFT_OK, sem_check,
     NULL},
    {"semaphore acquire_timeout", T, sem_setup, NULL, sem_block, sem_wake, NULL, WEFT_OK,
     sem_check, NULL},
    {"bounded semaphore acquire", 0, bsem_setup, bsem_prepare, bsem_block, sem_wake, sem_wake,
     WEFT_OK, bsem_check, NULL},
    {"event wait", 0, event_setup, NULL, event_block, event_wake, NULL, WEFT_OK, event_check,
     NULL},
    {"event wait_timeout", T, event_setup, NULL, event_block, event_wake, NULL, WEFT_OK,
     event_check, NULL},
    {"barrier wait", 0, barrier_setup, NULL, barrier_block, barrier_wake, NULL, WEFT_OK,
     barrier_check, NULL},
    {"barrier wait_timeout", T, barrier_setup, NULL, barrier_block, barrier_wake, NULL, WEFT_OK,
     barrier_check, NULL},
    {"queue put (full)", 0, queue_full_setup, NULL, queue_put_block, queue_put_wake, NULL,
     WEFT_OK, queue_put_check, queue_teardown},
    {"queue put_timeout (full)", T, queue_full_setup, NULL, queue_put_block, queue_put_wake,
     NULL, WEFT_OK, queue_put_check, queue_teardown},
    {"queue get (empty)", 0, queue_empty_setup, NULL, queue_get_block, queue_get_wake, NULL,
     WEFT_OK, queue_get_check, queue_teardown},
    {"queue get_timeout (empty)", T, queue_empty_setup, NULL, queue_get_block, queue_get_wake,
     NULL, WEFT_OK, queue_get_check, queue_teardown},
    {"queue join", 0, queue_join_setup, NULL, queue_join_block, queue_join_wake, NULL, WEFT_OK,
     queue_join_check, queue_teardown},
    {"queue join_timeout", T, queue_join_setup, NULL, queue_join_block, queue_join_wake, NULL,
     WEFT_OK, queue_join_check, queue_teardown},
    {"simple queue get", 0, squeue_setup, NULL, squeue_block, squeue_wake, NULL, WEFT_OK,
     squeue_check, squeue_teardown},
    {"simple queue get_timeout", T, squeue_setup, NULL, squeue_block, squeue_wake, NULL,
     WEFT_OK, squeue_check, squeue_teardown},
    {"future result", 0, future_setup, NULL, future_result_block, future_wake, NULL, WEFT_OK,
     future_result_check, future_teardown},
    {"future result_timeout", T, future_setup, NULL, future_result_block, future_wake, NULL,
     WEFT_OK, future_result_check, future_teardown},
    {"future exception", 0, future_setup, NULL, future_exception_block, future_fail, NULL,
     WEFT_OK, future_exception_check, future_teardown},
    {"weft_wait", 0, future_setup, NULL, wait_block, future_wake, NULL, WEFT_OK, wait_check,
     future_teardown},
    {"as_completed next", 0, as_completed_setup, NULL, as_completed_block, future_wake, NULL,
     WEFT_OK, wait_check, as_completed_teardown},
    {"thread join", 0, thread_setup, NULL, thread_join_block, thread_wake, NULL, WEFT_OK,
     thread_check, thread_teardown},
    {"thread join_timeout", T, thread_setup, NULL, thread_join_block, thread_wake, NULL,
     WEFT_OK, thread_check, thread_teardown},
    {"process join", 0, process_setup, NULL, process_join_block, process_wake, NULL, WEFT_OK,
     process_check, process_teardown},
    {"process join_timeout", T, process_setup, NULL, process_join_block, process_wake, NULL,
     WEFT_OK, process_check, process_teardown},
    {"weft_sleep", 0, NULL, NULL, sleep_block, NULL, NULL, WEFT_OK, sleep_check, NULL},
};

#define N_CALLS (sizeof calls / sizeof calls[0])

/* ---- one run -------------------------------------------------------------- */

static void *ticker(void *p)
{
    mrun *r = p;
    while (atomic_load(&r->phase) < FINISHED) {
        weft_sleep(0.001);
        atomic_fetch_add(&r->ticks, 1);
    }
    return NULL;
}

static void *waiter(void *p)
{
    mrun *r = p;
    wait_until(atomic_load(&r->phase) >= PREPARED, 10);
    CO_CHECK(atomic_load(&r->phase) == PREPARED);
    atomic_store(&r->ticks_at_block, atomic_load(&r->ticks));
    r->t_block = weft_monotonic();
    atomic_store(&r->phase, BLOCKING);
    int rc = r->call->block(r);
    r->t_return = weft_monotonic();
    atomic_store(&r->rc, rc);
    atomic_store(&r->phase, RETURNED);
    return NULL;
}

static void actor(void *p)
{
    mrun *r = p;
    if (r->call->prepare)
        r->call->prepare(r);
    atomic_store(&r->phase, PREPARED);
    /* The waiter is suspended once the loop runs the ticker again. */
    wait_until((atomic_load(&r->phase) == BLOCKING &&
                atomic_load(&r->ticks) >= atomic_load(&r->ticks_at_block) + 3) ||
                   atomic_load(&r->phase) >= RETURNED,
               10);
    if (!CO_CHECK(atomic_load(&r->phase) == BLOCKING))
        return; /* it returned without being woken */
    CO_CHECK(atomic_load(&r->ticks) >= atomic_load(&r->ticks_at_block) + 3);
    r->t_act = weft_monotonic();
    if (r->cancel) {
        CO_CHECK(weft_task_cancel(r->waiter_task, NULL));
        wait_until(atomic_load(&r->phase) == RETURNED, 10);
        if (r->call->undo)
            r->call->undo(r);
    } else if (r->call->wake) {
        r->call->wake(r);
    }
}

static void *matrix_main(void *p)
{
    mrun *r = p;
    weft_future *ticking = co_spawn(ticker, r);
    r->waiter_task = co_spawn(waiter, r);
    actor_run a;
    actor_start(&a, r->by, actor, r);
    /* A cancelled task that returns without withdrawing the request ends
     * cancelled. */
    CO_CHECK_RC(weft_future_result_timeout(r->waiter_task, 30, NULL),
                r->cancel ? WEFT_ECANCELLED : WEFT_OK);
    actor_join(&a);
    atomic_store(&r->phase, FINISHED);
    CO_CHECK_RC(co_finish(ticking, 10), WEFT_OK);
    weft_future_release(r->waiter_task);
    r->waiter_task = NULL;
    int want = r->cancel ? WEFT_ECANCELLED : r->call->woken_rc;
    CO_CHECK_RC(atomic_load(&r->rc), want);
    if (r->call->check)
        r->call->check(r);
    return NULL;
}

/* The failures of a table-driven test: every row runs, each failing row
 * adds a line, and the test fails at the end with all of them. */
static char summary[8192];
static size_t summary_len;
static int summary_count;

static void summary_reset(void)
{
    summary[0] = '\0';
    summary_len = 0;
    summary_count = 0;
}

static void summary_add(const char *text)
{
    summary_count++;
    if (summary_len < sizeof summary - 1) {
        int n = snprintf(summary + summary_len, sizeof summary - summary_len, "\n  %s", text);
        if (n > 0)
            summary_len += (size_t)n;
        if (summary_len > sizeof summary - 1)
            summary_len = sizeof summary - 1;
    }
}

/* Record the failures of the run just ended (CO_CHECK's); whether there were. */
static bool summary_take_failures(void)
{
    pthread_mutex_lock(&co_failure_lock);
    int n = co_failure_count;
    char text[1100];
    if (n)
        snprintf(text, sizeof text, "%s (%d failed check%s)", co_failure_text, n,
                 n == 1 ? "" : "s");
    pthread_mutex_unlock(&co_failure_lock);
    if (n)
        summary_add(text);
    co_reset();
    return n > 0;
}

#define assert_summary_clean()                                                 \
    do {                                                                      \
        if (summary_count) {                                                  \
            printf("%d failing case%s:%s\n", summary_count,                   \
                   summary_count == 1 ? "" : "s", summary);                   \
            fflush(stdout);                                                   \
            fail_msg("%d failing case%s (listed above)", summary_count,        \
                     summary_count == 1 ? "" : "s");                          \
        }                                                                     \
    } while (0)

/* Run one call with one actor; the latency of its wake-up or cancel, or
 * -1 when it failed (recorded in the summary). */
static double run_one(const blocking_call *call, actor_kind by, bool cancel)
{
    mrun *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->call = call;
    r->by = by;
    r->cancel = cancel;
    atomic_store(&r->rc, -1);
    co_reset();
    co_set_context("%s, %s by %s", call->name, cancel ? "cancelled" : "woken", actor_name(by));
    if (call->setup)
        call->setup(r);
    int rc = weft_run(matrix_main, r, NULL, NULL);
    if (call->teardown)
        call->teardown(r);
    if (rc != WEFT_OK)
        co_fail_(__FILE__, __LINE__, weft_status_name(rc)); /* weft_run's */
    double latency = summary_take_failures() ? -1 : r->t_return - r->t_act;
    free(r);
    co_set_context(NULL);
    return latency;
}

/* Issue 16: each blocking call suspends only its coroutine and is woken by
 * each kind of actor. */
static void every_blocking_call_suspends_only_its_coroutine(void **state)
{
    (void)state;
    summary_reset();
    for (size_t i = 0; i < N_CALLS; i++)
        for (int by = 0; by < ACTOR_KINDS; by++)
            run_one(&calls[i], (actor_kind)by, false);
    assert_summary_clean();
}

/* Issue 16: cancelled by each kind of actor, each blocking call returns
 * WEFT_ECANCELLED at once (best of several tries, for a loaded machine). */
static void every_blocking_call_returns_at_once_when_cancelled(void **state)
{
    (void)state;
    summary_reset();
    for (size_t i = 0; i < N_CALLS; i++)
        for (int by = 0; by < ACTOR_KINDS; by++) {
            double best = 1e9;
            int try = 0;
            for (; try < CANCEL_TRIES && best >= CANCEL_LATENCY; try++) {
                double latency = run_one(&calls[i], (actor_kind)by, true);
                if (latency < 0)
                    break; /* failed otherwise: recorded */
                if (latency < best)
                    best = latency;
            }
            if (best >= CANCEL_LATENCY && best < 1e9) {
                char text[256];
                snprintf(text, sizeof text,
                         "%s cancelled by %s: best of %d tries %.1f ms, expected < %.1f ms",
                         calls[i].name, actor_name((actor_kind)by), try, best * 1e3,
                         CANCEL_LATENCY * 1e3);
                summary_add(text);
            }
        }
    assert_summary_clean();
}

/* ---- timed waits that expire ------------------------------------------------ */

typedef struct expiry {
    const char *name;
    int (*call)(mrun *, double timeout);
    int expired_rc;
} expiry;

static int expire_lock(mrun *r, double t) { return weft_lock_acquire_timeout(&r->lock, t); }
static int expire_rlock(mrun *r, double t) { return weft_rlock_acquire_timeout(&r->rlock, t); }
static int expire_sem(mrun *r, double t) { return weft_semaphore_acquire_timeout(&r->sem, t); }
static int expire_event(mrun *r, double t) { return weft_event_wait_timeout(&r->event, t); }
static int expire_cond(mrun *r, double t)
{
    CO_CHECK_RC(weft_condition_acquire(&r->cond), WEFT_OK);
    int rc = weft_condition_wait_timeout(&r->cond, t);
    CO_CHECK_RC(weft_condition_release(&r->cond), WEFT_OK);
    return rc;
}
static int expire_barrier(mrun *r, double t)
{
    return weft_barrier_wait_timeout(&r->barrier, t, NULL);
}
static int expire_get(mrun *r, double t)
{
    void *item;
    return weft_queue_get_timeout(r->queue, &item, t);
}
static int expire_put(mrun *r, double t)
{
    CO_CHECK_RC(weft_queue_put_nowait(r->queue, ITEM(1)), WEFT_OK);
    int rc = weft_queue_put_timeout(r->queue, ITEM(2), t);
    void *item;
    CO_CHECK_RC(weft_queue_get_nowait(r->queue, &item), WEFT_OK);
    return rc;
}
static int expire_join(mrun *r, double t)
{
    CO_CHECK_RC(weft_queue_put_nowait(r->queue, ITEM(1)), WEFT_OK);
    int rc = weft_queue_join_timeout(r->queue, t);
    void *item;
    CO_CHECK_RC(weft_queue_get_nowait(r->queue, &item), WEFT_OK);
    CO_CHECK_RC(weft_queue_task_done(r->queue), WEFT_OK);
    return rc;
}
static int expire_simple_get(mrun *r, double t)
{
    void *item;
    return weft_simple_queue_get_timeout(r->squeue, &item, t);
}
static int expire_result(mrun *r, double t)
{
    return weft_future_result_timeout(r->future, t, NULL);
}
static int expire_wait(mrun *r, double t)
{
    return weft_wait(&r->future, 1, t, WEFT_ALL_COMPLETED, NULL);
}
static int expire_thread_join(mrun *r, double t)
{
    return weft_thread_join_timeout(r->thread, t, NULL);
}
static int expire_process_join(mrun *r, double t)
{
    return weft_process_join_timeout(r->process, t);
}

static const expiry expiries[] = {
    {"lock acquire_timeout", expire_lock, WEFT_ETIMEDOUT},
    {"rlock acquire_timeout", expire_rlock, WEFT_ETIMEDOUT},
    {"semaphore acquire_timeout", expire_sem, WEFT_ETIMEDOUT},
    {"event wait_timeout", expire_event, WEFT_ETIMEDOUT},
    {"condition wait_timeout", expire_cond, WEFT_ETIMEDOUT},
    {"barrier wait_timeout", expire_barrier, WEFT_EBROKEN},
    {"queue get_timeout", expire_get, WEFT_EEMPTY},
    {"queue put_timeout", expire_put, WEFT_EFULL},
    {"queue join_timeout", expire_join, WEFT_ETIMEDOUT},
    {"simple queue get_timeout", expire_simple_get, WEFT_EEMPTY},
    {"future result_timeout", expire_result, WEFT_ETIMEDOUT},
    {"weft_wait", expire_wait, WEFT_ETIMEDOUT},
    {"thread join_timeout", expire_thread_join, WEFT_ETIMEDOUT},
    {"process join_timeout", expire_process_join, WEFT_ETIMEDOUT},
};

typedef struct expiry_run {
    mrun objects;
    const expiry *e;
    weft_thread *holder;
    atomic_bool holding;
    atomic_bool let_go;
} expiry_run;

/* A thread that holds the lock and the rlock, so that the waits on them
 * time out. */
static void *hold_locks(void *p)
{
    expiry_run *x = p;
    weft_lock_acquire(&x->objects.lock);
    weft_rlock_acquire(&x->objects.rlock);
    atomic_store(&x->holding, true);
    wait_until(atomic_load(&x->let_go), 60);
    weft_rlock_release(&x->objects.rlock);
    weft_lock_release(&x->objects.lock);
    return NULL;
}

static void *expiry_main(void *p)
{
    expiry_run *x = p;
    mrun *r = &x->objects;
    weft_future *ticking = co_spawn(ticker, r);
    const double t = 0.05;
    for (size_t i = 0; i < sizeof expiries / sizeof expiries[0]; i++) {
        /* Only this loop's tasks check here: the context may change, and
         * each row's failures are taken as it ends. */
        summary_take_failures();
        co_set_context("%s", expiries[i].name);
        long ticks = atomic_load(&r->ticks);
        double t0 = weft_monotonic();
        int rc = expiries[i].call(r, t);
        double dt = weft_monotonic() - t0;
        CO_CHECK_RC(rc, expiries[i].expired_rc);
        CO_CHECK(dt >= t && dt < 10 * t + 1);
        CO_CHECK(atomic_load(&r->ticks) > ticks); /* the loop ran meanwhile */
    }
    summary_take_failures();
    co_set_context(NULL);
    atomic_store(&r->phase, FINISHED);
    CO_CHECK_RC(co_finish(ticking, 10), WEFT_OK);
    return NULL;
}

/* Issue 16: a timed wait in a coroutine returns its timeout status after
 * its time, never early, while the loop runs its other tasks. */
static void timed_waits_expire_without_blocking_the_loop(void **state)
{
    (void)state;
    expiry_run *x = calloc(1, sizeof *x);
    mrun *r = &x->objects;
    weft_lock_init(&r->lock);
    weft_rlock_init(&r->rlock);
    weft_semaphore_init(&r->sem, 0);
    weft_event_init(&r->event);
    weft_condition_init(&r->cond);
    weft_barrier_init(&r->barrier, 2, NULL, NULL, WEFT_FOREVER);
    weft_queue_new(&r->queue, 1);
    weft_simple_queue_new(&r->squeue);
    weft_future_new(&r->future);
    thread_setup(r);
    process_setup(r);
    assert_int_equal(weft_thread_new(&x->holder, hold_locks, x, NULL), WEFT_OK);
    assert_int_equal(weft_thread_start(x->holder), WEFT_OK);
    wait_until(atomic_load(&x->holding), 10);
    assert_true(atomic_load(&x->holding));
    summary_reset();
    run_coro(expiry_main, x);
    atomic_store(&x->let_go, true);
    assert_int_equal(weft_thread_join(x->holder, NULL), WEFT_OK);
    weft_thread_free(x->holder);
    r->cancel = true; /* the thread is still waiting: let it go and join it */
    thread_teardown(r);
    process_teardown(r);
    future_teardown(r);
    squeue_teardown(r);
    queue_teardown(r);
    free(x);
    assert_summary_clean();
}

/* ---- a cancelled waiter swallows nothing -------------------------------------- */

typedef struct srun srun;

typedef struct swallow_case {
    const char *name;
    void (*setup)(srun *);          /* in the loop, before the waiters */
    int (*block)(srun *, int who);  /* waiter `who` (0 is cancelled) */
    void (*wake)(srun *);           /* one unit: a release, an item, a notify */
    void (*again)(srun *);          /* a second unit, when waiter 0 took the first */
    void (*check)(srun *);          /* conservation, once both have ended */
    void (*teardown)(srun *);
} swallow_case;

struct srun {
    const swallow_case *c;
    bool cancel_first;
    weft_lock lock;
    weft_semaphore sem;
    weft_event event;
    weft_condition cond;
    int state;
    weft_queue *queue;
    void *got[2];
    void *taken[4];
    int ntaken;
    atomic_int rc[2];
    atomic_bool done[2];
    weft_future *task[2];
};

static int sw_lock_block(srun *s, int who)
{
    int rc = weft_lock_acquire(&s->lock);
    if (rc == WEFT_OK) {
        s->got[who] = ITEM(1);
        weft_sleep(0.001);
        CO_CHECK_RC(weft_lock_release(&s->lock), WEFT_OK);
    }
    return rc;
}
static void sw_lock_setup(srun *s)
{
    weft_lock_init(&s->lock);
    CO_CHECK_RC(weft_lock_acquire(&s->lock), WEFT_OK);
}
static void sw_lock_wake(srun *s) { CO_CHECK_RC(weft_lock_release(&s->lock), WEFT_OK); }
static void sw_lock_check(srun *s)
{
    wait_until(!weft_lock_locked(&s->lock), 2);
    CO_CHECK(!weft_lock_locked(&s->lock));
}

static void sw_sem_setup(srun *s) { weft_semaphore_init(&s->sem, 0); }
static int sw_sem_block(srun *s, int who)
{
    int rc = weft_semaphore_acquire(&s->sem);
    if (rc == WEFT_OK)
        s->got[who] = ITEM(1);
    return rc;
}
static void sw_sem_wake(srun *s) { CO_CHECK_RC(weft_semaphore_release(&s->sem), WEFT_OK); }
static void sw_sem_check(srun *s)
{
    CO_CHECK_INT(weft_semaphore_value(&s->sem), 0);
    CO_CHECK_RC(weft_semaphore_destroy(&s->sem), WEFT_OK);
}

static void sw_event_setup(srun *s) { weft_event_init(&s->event); }
static int sw_event_block(srun *s, int who)
{
    int rc = weft_event_wait(&s->event);
    if (rc == WEFT_OK)
        s->got[who] = ITEM(1);
    return rc;
}
static void sw_event_wake(srun *s) { CO_CHECK_RC(weft_event_set(&s->event), WEFT_OK); }
static void sw_event_check(srun *s) { CO_CHECK_RC(weft_event_destroy(&s->event), WEFT_OK); }

static void sw_cond_setup(srun *s)
{
    weft_condition_init(&s->cond);
    s->state = 0;
}
static int sw_cond_block(srun *s, int who)
{
    int rc = WEFT_OK;
    CO_CHECK_RC(weft_condition_acquire(&s->cond), WEFT_OK);
    while (s->state == 0 && rc == WEFT_OK)
        rc = weft_condition_wait(&s->cond);
    if (rc == WEFT_OK) {
        s->state--;
        s->got[who] = ITEM(1);
    }
    CO_CHECK_RC(weft_condition_release(&s->cond), WEFT_OK);
    return rc;
}
static void sw_cond_wake(srun *s)
{
    CO_CHECK_RC(weft_condition_acquire(&s->cond), WEFT_OK);
    s->state++;
    CO_CHECK_RC(weft_condition_notify(&s->cond, 1), WEFT_OK);
    CO_CHECK_RC(weft_condition_release(&s->cond), WEFT_OK);
}
static void sw_cond_check(srun *s)
{
    CO_CHECK_INT(s->state, 0);
    CO_CHECK_RC(weft_condition_destroy(&s->cond), WEFT_OK);
}

static void sw_get_setup(srun *s) { CO_CHECK_RC(weft_queue_new(&s->queue, 0), WEFT_OK); }
static int sw_get_block(srun *s, int who) { return weft_queue_get(s->queue, &s->got[who]); }
static void sw_get_wake(srun *s) { CO_CHECK_RC(weft_queue_put(s->queue, ITEM(1)), WEFT_OK); }
static void sw_get_again(srun *s) { CO_CHECK_RC(weft_queue_put(s->queue, ITEM(2)), WEFT_OK); }
static void sw_get_check(srun *s)
{
    CO_CHECK(weft_queue_empty(s->queue));
    CO_CHECK_INT(VALUE(s->got[0]) + VALUE(s->got[1]),
                 atomic_load(&s->rc[0]) == WEFT_OK ? 3 : 1);
}
static void sw_queue_teardown(srun *s)
{
    CO_CHECK_RC(weft_queue_free(s->queue), WEFT_OK);
    s->queue = NULL;
}

static void sw_put_setup(srun *s)
{
    CO_CHECK_RC(weft_queue_new(&s->queue, 1), WEFT_OK);
    CO_CHECK_RC(weft_queue_put(s->queue, ITEM(100)), WEFT_OK);
}
static int sw_put_block(srun *s, int who)
{
    int rc = weft_queue_put(s->queue, ITEM(who + 1));
    if (rc == WEFT_OK)
        s->got[who] = ITEM(who + 1);
    return rc;
}
static void sw_put_wake(srun *s)
{
    void *item = NULL;
    CO_CHECK_RC(weft_queue_get(s->queue, &item), WEFT_OK);
    s->taken[s->ntaken++] = item;
}
static void sw_put_check(srun *s)
{
    /* What came out, the wakes' and what is left: 100 and 2, and 1 only
     * if putter 0 got in. */
    void *item = NULL;
    while (s->ntaken < 4 && weft_queue_get_nowait(s->queue, &item) == WEFT_OK)
        s->taken[s->ntaken++] = item;
    bool first_in = atomic_load(&s->rc[0]) == WEFT_OK;
    uintptr_t sum = 0;
    for (int i = 0; i < s->ntaken; i++)
        sum += VALUE(s->taken[i]);
    CO_CHECK_INT(VALUE(s->taken[0]), 100);
    CO_CHECK_INT(s->ntaken, first_in ? 3 : 2);
    CO_CHECK_INT(sum, first_in ? 103 : 102);
}

static const swallow_case swallow_cases[] = {
    {"lock", sw_lock_setup, sw_lock_block, sw_lock_wake, NULL, sw_lock_check, NULL},
    {"semaphore", sw_sem_setup, sw_sem_block, sw_sem_wake, sw_sem_wake, sw_sem_check, NULL},
    {"event", sw_event_setup, sw_event_block, sw_event_wake, NULL, sw_event_check, NULL},
    {"condition notify", sw_cond_setup, sw_cond_block, sw_cond_wake, sw_cond_wake,
     sw_cond_check, NULL},
    {"queue get", sw_get_setup, sw_get_block, sw_get_wake, sw_get_again, sw_get_check,
     sw_queue_teardown},
    {"queue put", sw_put_setup, sw_put_block, sw_put_wake, sw_put_wake, sw_put_check,
     sw_queue_teardown},
};

typedef struct swallow_waiter {
    srun *s;
    int who;
} swallow_waiter;

static void *swallow_waiter_main(void *p)
{
    swallow_waiter *w = p;
    atomic_store(&w->s->rc[w->who], w->s->c->block(w->s, w->who));
    atomic_store(&w->s->done[w->who], true);
    return NULL;
}

/* The actor's step: cancel waiter 0 and wake one, in either order. */
static void cancel_and_wake(void *p)
{
    srun *s = p;
    if (s->cancel_first)
        CO_CHECK(weft_task_cancel(s->task[0], NULL));
    s->c->wake(s);
    if (!s->cancel_first) /* (from another thread, waiter 0 may have ended already) */
        weft_task_cancel(s->task[0], NULL);
}

typedef struct swallow_run {
    srun s;
    actor_kind by;
    swallow_waiter w[2];
} swallow_run;

static void *swallow_main(void *p)
{
    swallow_run *run = p;
    srun *s = &run->s;
    s->c->setup(s);
    for (int i = 0; i < 2; i++) {
        run->w[i] = (swallow_waiter){s, i};
        atomic_store(&s->rc[i], -1);
        s->task[i] = co_spawn(swallow_waiter_main, &run->w[i]);
    }
    co_yield(3);
    CO_CHECK(!atomic_load(&s->done[0]) && !atomic_load(&s->done[1]));
    if (run->by == BY_SAME_LOOP) {
        cancel_and_wake(s); /* in one step */
    } else {
        actor_run a;
        actor_start(&a, run->by, cancel_and_wake, s);
        actor_join(&a);
    }
    wait_until(atomic_load(&s->done[0]), 2);
    CO_CHECK(atomic_load(&s->done[0]));
    int rc0 = atomic_load(&s->rc[0]);
    if (s->cancel_first)
        CO_CHECK_RC(rc0, WEFT_ECANCELLED); /* cancelled while it waited */
    else
        CO_CHECK_RC2(rc0, WEFT_ECANCELLED, WEFT_OK);
    if (rc0 == WEFT_OK && s->c->again)
        s->c->again(s); /* it took the first unit: give the other one its own */
    /* The unit meant for someone reaches waiter 1. */
    wait_until(atomic_load(&s->done[1]), 2);
    CO_CHECK(atomic_load(&s->done[1]));
    CO_CHECK_RC(atomic_load(&s->rc[1]), WEFT_OK);
    for (int i = 0; i < 2; i++) {
        if (!atomic_load(&s->done[i]))
            weft_task_cancel(s->task[i], NULL);
        co_finish(s->task[i], 10);
    }
    s->c->check(s);
    if (s->c->teardown)
        s->c->teardown(s);
    return NULL;
}

/* Issue 16 (and asyncio's gh-112202, gh-90155, bpo-32734): a waiter
 * cancelled as a wake-up comes, before or after it, never keeps the
 * wake-up, the permit or the item from the other waiter. */
static void cancelled_waiter_never_swallows_a_wake_up(void **state)
{
    (void)state;
    summary_reset();
    for (size_t i = 0; i < sizeof swallow_cases / sizeof swallow_cases[0]; i++)
        for (int by = 0; by < ACTOR_KINDS; by++)
            for (int order = 0; order < 2; order++) {
                swallow_run *run = calloc(1, sizeof *run);
                run->s.c = &swallow_cases[i];
                run->s.cancel_first = order == 0;
                run->by = (actor_kind)by;
                co_reset();
                co_set_context("%s, %s by %s", swallow_cases[i].name,
                               order == 0 ? "cancel then wake" : "wake then cancel",
                               actor_name((actor_kind)by));
                int rc = weft_run(swallow_main, run, NULL, NULL);
                if (rc != WEFT_OK)
                    co_fail_(__FILE__, __LINE__, weft_status_name(rc)); /* weft_run's */
                summary_take_failures();
                co_set_context(NULL);
                free(run);
            }
    assert_summary_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_blocking_call_suspends_only_its_coroutine),
        cmocka_unit_test(every_blocking_call_returns_at_once_when_cancelled),
        cmocka_unit_test(timed_waits_expire_without_blocking_the_loop),
        cmocka_unit_test(cancelled_waiter_never_swallows_a_wake_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
