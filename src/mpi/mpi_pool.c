/* SPDX-License-Identifier: MIT */
/* mpi_pool.c — the MPI pool as an executor, in the client.
 *
 * A task is sent to the serving rank with the fewest tasks in flight, as
 * long as one has fewer than max_in_flight: a rank keeps a few tasks
 * queued in its own process pool, so its workers never wait for a round
 * trip.  Otherwise the task waits in the client's queue until an answer
 * frees room.  Whoever finds something to do does it ("progress"): the
 * submitting thread sends, a thread waiting on one of the pool's futures
 * takes answers, dispatches queued tasks and completes futures while it
 * spins (the future's poller), and the pool's progress thread does the
 * same for everyone else (callbacks, as_completed, fire and forget),
 * spinning while events are recent and napping when they are not.  Every
 * MPI call is made holding weft__mpi_lock; futures are completed, and
 * their callbacks run, outside it. */
#include "future_internal.h"
#include "mpi_client.h"

#include "weft/status.h"
#include "weft/time.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct weft_executor_ops mpi_ops;

/* A progress thread with nothing in flight for this long sleeps until a
 * submit wakes it (a stream of tasks never pays for that wake-up). */
#define SLEEP_AFTER_NS 20000000
/* How long the progress thread naps while it has nothing to do. */
#define NAP_WHILE_WAITERS 1e-3

static struct mpi_pool *pool_of(weft_executor *ex) { return (struct mpi_pool *)(void *)ex; }

static bool is_mpi_pool(weft_executor *ex) { return ex && ex->ops == &mpi_ops; }

/* ---- the progress thread -------------------------------------------------- */

/* Whether the pool is over: shut down and drained, or broken (held). */
static bool over_locked(struct mpi_pool *p)
{
    return p->broken || (p->shutting_down && !p->queued && !p->in_flight);
}

static void sleep_until_woken(struct mpi_pool *p)
{
    weft_event_clear(&p->wake);
    atomic_store(&p->sleeping, true);
    weft_lock_acquire(&weft__mpi_lock);
    bool idle = !p->queued && !p->in_flight && !over_locked(p);
    weft_lock_release(&weft__mpi_lock);
    if (idle)
        weft_event_wait(&p->wake);
    atomic_store(&p->sleeping, false);
}

static void *progress_thread(void *arg)
{
    struct mpi_pool *p = arg;
    weft__mpi_on_pool_thread = true;
    struct mpi_backoff b;
    weft__mpi_backoff_reset(&b);
    int64_t busy_at = weft__mpi_now_ns();
    for (;;) {
        bool did = weft__mpi_progress(p, false);
        weft_lock_acquire(&weft__mpi_lock);
        bool over = over_locked(p), idle = !p->queued && !p->in_flight;
        if (over)
            weft__mpi_pool_release_ranks(p);
        weft_lock_release(&weft__mpi_lock);
        if (over)
            break;
        int64_t now = weft__mpi_now_ns();
        if (did || !idle)
            busy_at = now;
        if (did) {
            weft__mpi_backoff_reset(&b);
        } else if (idle && now - busy_at > SLEEP_AFTER_NS) {
            sleep_until_woken(p);
        } else if (idle || atomic_load(&p->pollers)) {
            /* Nothing due, or a waiter is taking the answers: stay out of
             * the way, but look now and then (a submit does not wake this
             * thread, which would cost every submit a system call; the
             * last waiter to stop polling with answers due does). */
            weft_event_wait_timeout(&p->wake, NAP_WHILE_WAITERS);
            weft_event_clear(&p->wake);
        } else {
            weft__mpi_backoff_idle(&b, &p->wake);
        }
    }
    weft__mpi_live_remove(&p->live, false);
    return NULL;
}

/* ---- the executor operations ------------------------------------------------ */

static int new_task(struct mpi_pool *p, uint32_t fn, uint32_t kind, uint64_t value,
                    const void *data, size_t size, struct mtask **out)
{
    (void)p;
    struct mtask *t = calloc(1, sizeof *t);
    if (!t)
        return WEFT_ENOMEM;
    struct wire_task h = {.fn = fn, .kind = kind, .value = value};
    if (!(t->msg = weft__mpi_message(&h, sizeof h, data, size, &t->msg_len)) ||
        weft_future_new(&t->future) != WEFT_OK) {
        free(t->msg);
        free(t);
        return WEFT_ENOMEM;
    }
    weft__future_set_poller(t->future, weft__mpi_poll_replies, p);
    *out = t;
    return WEFT_OK;
}

/* Whether this thread is one of the pool's own: its progress thread, or
 * one completing its futures (running their callbacks). */
static bool on_pool_thread(struct mpi_pool *p)
{
    return weft_current_thread() == p->thread || weft__mpi_completing_here(p);
}

static int state_locked(struct mpi_pool *p)
{
    return p->broken ? WEFT_EBROKEN : p->shutting_down ? WEFT_ESHUTDOWN : WEFT_OK;
}

/* Take room for one more queued task (max_pending).  The pool's own
 * threads do not wait: the room they would wait for is theirs to free. */
static int wait_for_room(struct mpi_pool *p, int64_t deadline)
{
    if (!p->max_pending)
        return WEFT_OK;
    weft_lock_acquire(&weft__mpi_lock);
    int rc = state_locked(p); /* a shut-down or broken pool frees no more room */
    weft_lock_release(&weft__mpi_lock);
    if (rc != WEFT_OK)
        return rc;
    double left = on_pool_thread(p)                ? 0
                  : deadline == WEFT_NO_DEADLINE ? WEFT_FOREVER
                                                 : (double)(deadline - weft__mpi_now_ns()) / 1e9;
    rc = weft_semaphore_acquire_timeout(&p->room, left > 0 ? left : 0);
    return rc == WEFT_ETIMEDOUT ? WEFT_EFULL : rc;
}

/* Send t now if a rank has room and nothing waits before it, else queue
 * it.  Takes t (freed on failure). */
static int submit_counted(struct mpi_pool *p, struct mtask *t, int64_t deadline,
                          weft_future **out)
{
    int rc = wait_for_room(p, deadline);
    if (rc != WEFT_OK) {
        weft__mpi_free_task(t);
        return rc;
    }
    struct mtask *done = NULL;
    size_t room = p->max_pending ? 1 : 0; /* ours, unless t waits in the queue */
    weft_lock_acquire(&weft__mpi_lock);
    rc = state_locked(p);
    size_t rank = rc == WEFT_OK && !p->queued ? weft__mpi_pick_rank(p) : (size_t)-1;
    if (out && rc == WEFT_OK)
        *out = weft_future_ref(t->future);
    if (rank != (size_t)-1) {
        weft__mpi_occupy_locked(p, t, rank); /* nobody else has its future yet: */
        weft_future_set_running_or_notify_cancel(t->future); /* no callback runs */
        if (weft__mpi_send_task_locked(p, t) != WEFT_OK)
            room += weft__mpi_break_locked(p, &done);
    } else if (rc == WEFT_OK) {
        weft__mpi_enqueue_locked(p, t);
        room = 0; /* taken by t until it leaves the queue */
    }
    atomic_fetch_add(&p->completing, 1);
    weft_lock_release(&weft__mpi_lock);
    if (rc != WEFT_OK)
        weft__mpi_free_task(t);
    else if (atomic_load(&p->sleeping))
        weft_event_set(&p->wake);
    weft__mpi_complete_all(p, done, room);
    return rc;
}

static int submit_task(struct mpi_pool *p, struct mtask *t, int64_t deadline, weft_future **out)
{
    atomic_fetch_add(&p->submitting, 1); /* free waits for it */
    int rc = submit_counted(p, t, deadline, out);
    atomic_fetch_sub(&p->submitting, 1);
    return rc;
}

static int mpi_submit(weft_executor *ex, weft_task_fn fn, void *arg, int64_t deadline,
                      weft_future **future)
{
    struct mpi_pool *p = pool_of(ex);
    long index = weft__mpi_find_task(fn);
    if (index < 0)
        return WEFT_EINVAL;
    struct mtask *t;
    int rc = new_task(p, (uint32_t)index, FN_TASK, (uint64_t)(uintptr_t)arg, NULL, 0, &t);
    return rc == WEFT_OK ? submit_task(p, t, deadline, future) : rc;
}

/* After shutdown no task is queued again: give every waiting submitter
 * room (each then sees the shutdown). */
static void open_room(struct mpi_pool *p)
{
    long v = weft_semaphore_value(&p->room);
    long n = WEFT_SEMAPHORE_VALUE_MAX - v < 1L << 20 ? WEFT_SEMAPHORE_VALUE_MAX - v : 1L << 20;
    if (v >= 0 && n > 0)
        weft_semaphore_release_n(&p->room, n);
}

static int mpi_shutdown(weft_executor *ex, bool wait, int64_t deadline, bool cancel_futures)
{
    struct mpi_pool *p = pool_of(ex);
    weft_lock_acquire(&weft__mpi_lock);
    p->shutting_down = true;
    struct mtask *queued = NULL, **end = &queued;
    size_t n = 0;
    for (struct mtask *t; cancel_futures && (t = weft__mpi_dequeue_locked(p)); n++) {
        *end = t; /* in their order: their callbacks run oldest first */
        end = &t->next;
    }
    *end = NULL;
    atomic_fetch_add(&p->completing, 1);
    weft_lock_release(&weft__mpi_lock);
    weft__mpi_cancel_all(p, queued, n);
    if (p->max_pending) /* submitters waiting for room: to WEFT_ESHUTDOWN */
        open_room(p);
    weft_event_set(&p->wake);
    if (!wait || on_pool_thread(p))
        return WEFT_OK;
    return weft__executor_join_thread(p->thread, deadline, true);
}

static bool mpi_is_worker(weft_executor *ex) { return on_pool_thread(pool_of(ex)); }

static void mpi_destroy(weft_executor *ex)
{
    struct mpi_pool *p = pool_of(ex);
    weft__executor_join_thread(p->thread, WEFT_NO_DEADLINE, false); /* even if cancelled */
    weft__mpi_live_remove(&p->live, true); /* weft_mpi_finalize may be joining it too */
    weft_thread_free(p->thread);
    /* Every future is done now; wait out the threads still completing
     * some (their callbacks), the waiters still in their last poll and the
     * submitters on their way out (WEFT_ESHUTDOWN). */
    while (atomic_load(&p->completing) || atomic_load(&p->pollers) ||
           atomic_load(&p->submitting))
        sched_yield();
    weft__mpi_pool_destroy_records(p);
}

static void mpi_stats(weft_executor *ex, weft_executor_stats *s)
{
    struct mpi_pool *p = pool_of(ex);
    weft_lock_acquire(&weft__mpi_lock);
    size_t workers = p->released ? 0 : p->nranks * (size_t)p->workers_per_rank;
    *s = (weft_executor_stats){.workers = workers,
                               .queued = p->queued,
                               .running = p->in_flight,
                               .completed = p->completed,
                               .max_workers = (long)(p->nranks * (size_t)p->workers_per_rank)};
    s->idle = workers > p->in_flight ? workers - p->in_flight : 0;
    weft_lock_release(&weft__mpi_lock);
}

static const struct weft_executor_ops mpi_ops = {
    .submit = mpi_submit,
    .shutdown = mpi_shutdown,
    .is_worker = mpi_is_worker,
    .destroy = mpi_destroy,
    .stats = mpi_stats,
};

/* ---- the public calls ----------------------------------------------------------- */

static void shut_down_at_finalize(struct mpi_live *l)
{
    struct mpi_pool *p = (struct mpi_pool *)(void *)((char *)l - offsetof(struct mpi_pool, live));
    mpi_shutdown(&p->base, false, WEFT_NO_DEADLINE, false);
    weft__executor_join_thread(p->thread, WEFT_NO_DEADLINE, false); /* MPI is finalized next */
    weft__mpi_live_remove(l, false);
}

static int start(struct mpi_pool *p)
{
    p->live.shutdown = shut_down_at_finalize;
    int rc = weft__executor_register(&p->base, &mpi_ops, "MPIPoolExecutor");
    if (rc != WEFT_OK)
        return rc;
    weft_thread_options to = {.name = "weft-mpi-progress"};
    rc = weft_thread_new(&p->thread, progress_thread, p, &to);
    if (rc == WEFT_OK && (rc = weft__mpi_live_add(&p->live)) == WEFT_OK &&
        (rc = weft_thread_start(p->thread)) != WEFT_OK)
        weft__mpi_live_remove(&p->live, false);
    if (rc != WEFT_OK) {
        weft_thread_free(p->thread);
        weft__executor_unregister(&p->base);
    }
    return rc;
}

int weft_mpi_pool_new(weft_executor **executor, const weft_mpi_pool_options *options)
{
    static const weft_mpi_pool_options defaults;
    if (executor)
        *executor = NULL;
    if (!executor)
        return WEFT_EINVAL;
    int rc = weft__mpi_making_begin();
    if (rc != WEFT_OK)
        return rc;
    struct mpi_pool *p;
    rc = weft__mpi_pool_create(&p, options ? options : &defaults);
    if (rc == WEFT_OK && (rc = start(p)) != WEFT_OK)
        weft__mpi_pool_abandon(p);
    if (rc == WEFT_OK)
        *executor = &p->base;
    weft__mpi_making_end();
    return rc;
}

int weft_mpi_submit_bytes(weft_executor *executor, weft_bytes_fn fn, const void *data,
                          size_t size, weft_future **future)
{
    if (future)
        *future = NULL;
    if (!is_mpi_pool(executor) || !fn || (!data && size) || size > WEFT_MPI_BYTES_MAX)
        return WEFT_EINVAL;
    long index = weft__mpi_find_bytes(fn);
    if (index < 0)
        return WEFT_EINVAL;
    struct mpi_pool *p = pool_of(executor);
    struct mtask *t;
    int rc = new_task(p, (uint32_t)index, FN_BYTES, 0, data, size, &t);
    return rc == WEFT_OK ? submit_task(p, t, WEFT_NO_DEADLINE, future) : rc;
}
