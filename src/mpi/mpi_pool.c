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
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "future_internal.h"
#include "mpi_client.h"

#include "weft/status.h"
#include "weft/time.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct weft_executor_ops mpi_ops;

/* How often a pool looks for running tasks whose cancel was asked. */
#define CANCEL_SCAN_NS 1000000
/* A progress thread with nothing in flight for this long sleeps until a
 * submit wakes it (a stream of tasks never pays for that wake-up). */
#define SLEEP_AFTER_NS 20000000

static struct mpi_pool *pool_of(weft_executor *ex) { return (struct mpi_pool *)(void *)ex; }

static bool is_mpi_pool(weft_executor *ex) { return ex && ex->ops == &mpi_ops; }

/* ---- slots and messages (held: weft__mpi_lock) ------------------------------ */

static uint64_t task_id(const struct mpi_pool *p, size_t slot)
{
    return (uint64_t)p->generation[slot] << 32 | slot;
}

static void occupy_locked(struct mpi_pool *p, struct mtask *t, size_t rank)
{
    t->slot = p->free_slots[--p->nfree];
    t->rank = rank;
    p->slots[t->slot] = t;
    p->in_flight_at[rank]++;
    p->in_flight++;
}

static void vacate_locked(struct mpi_pool *p, struct mtask *t)
{
    p->slots[t->slot] = NULL;
    p->generation[t->slot]++;
    p->free_slots[p->nfree++] = t->slot;
    p->in_flight_at[t->rank]--;
    p->in_flight--;
}

static void push(struct mtask **list, struct mtask *t)
{
    t->next = *list;
    *list = t;
}

static int send_task_locked(struct mpi_pool *p, struct mtask *t)
{
    uint64_t id = task_id(p, t->slot);
    memcpy(t->msg, &id, sizeof id); /* wire_task.id comes first */
    int rc = weft__mpi_send(&p->sends, p->comm, p->ranks[t->rank], TAG_TASK, t->msg, t->msg_len);
    t->msg = NULL; /* the sends own it now, or freed it */
    return rc;
}

/* Fail everything in flight or queued: MPI reported an error.  The tasks
 * go onto *done with a failure to complete outside the lock. */
static void break_locked(struct mpi_pool *p, int code, struct mtask **done)
{
    (void)code;
    p->broken = true;
    for (size_t i = 0; i < p->nranks * (size_t)p->max_in_flight; i++) {
        struct mtask *t = p->slots[i];
        if (t && !t->sending) { /* send_chosen has the ones being sent */
            vacate_locked(p, t);
            t->result = (struct wire_result){.code = WEFT_EBROKEN, .kind = RESULT_FAILED};
            push(done, t);
        }
    }
    while (p->head) {
        struct mtask *t = p->head;
        p->head = t->next;
        p->queued--;
        t->result = (struct wire_result){.code = WEFT_EBROKEN, .kind = RESULT_FAILED};
        push(done, t);
    }
    p->tail = NULL;
}

static void take_result_locked(struct mpi_pool *p, struct mpi_message *m, struct mtask **done)
{
    struct wire_result r;
    if (m->len < sizeof r) {
        free(m->buf);
        return;
    }
    memcpy(&r, m->buf, sizeof r);
    size_t slot = (size_t)(r.id & 0xffffffffu);
    struct mtask *t = slot < p->nranks * (size_t)p->max_in_flight ? p->slots[slot] : NULL;
    if (!t || task_id(p, slot) != r.id) {
        free(m->buf); /* not ours: cannot happen with a well-behaved rank */
        return;
    }
    vacate_locked(p, t);
    t->result = r;
    t->reply = m->buf;
    t->reply_len = m->len;
    p->completed++;
    push(done, t);
}

/* Tell ranks of the running tasks whose cancel was asked, once each. */
static void scan_cancels_locked(struct mpi_pool *p)
{
    int64_t now = weft__mpi_now_ns();
    if (now < p->next_cancel_scan_ns)
        return;
    p->next_cancel_scan_ns = now + CANCEL_SCAN_NS;
    for (size_t i = 0; i < p->nranks * (size_t)p->max_in_flight && !p->broken; i++) {
        struct mtask *t = p->slots[i];
        if (!t || t->cancel_sent || !weft__future_cancel_requested(t->future))
            continue;
        t->cancel_sent = true;
        uint64_t id = task_id(p, i);
        size_t len;
        void *msg = weft__mpi_message(&id, sizeof id, NULL, 0, &len);
        if (msg)
            weft__mpi_send(&p->sends, p->comm, p->ranks[t->rank], TAG_CANCEL, msg, len);
    }
}

/* ---- completing futures (outside the lock) ---------------------------------- */

static void free_task(struct mtask *t)
{
    free(t->msg);
    free(t->reply);
    weft_future_release(t->future);
    free(t);
}

static void complete(struct mtask *t)
{
    const unsigned char *payload = t->reply ? (unsigned char *)t->reply + sizeof t->result : NULL;
    size_t size = t->reply ? t->reply_len - sizeof t->result : 0;
    weft_future *f = t->future;
    if (t->result.kind == RESULT_BYTES || t->result.kind == RESULT_NO_BYTES) {
        weft_bytes *b = t->result.kind == RESULT_BYTES ? weft_bytes_new(payload, size) : NULL;
        if (t->result.kind == RESULT_BYTES && !b)
            weft_future_set_exception(f, WEFT_ENOMEM, "no memory for the task's result");
        else if (weft__future_set_owned_result(f, b) != WEFT_OK)
            weft_bytes_free(b);
    } else if (t->result.kind == RESULT_VALUE) {
        weft_future_set_result(f, (void *)(uintptr_t)t->result.value);
    } else if (!payload) {
        weft_future_set_exception(f, t->result.code,
                                  "the MPI pool is broken: an MPI call failed");
    } else {
        weft_future_set_exception(f, t->result.code, "%.*s", (int)strnlen((const char *)payload, size),
                                  (const char *)payload);
    }
    free_task(t);
}

static void complete_all(struct mtask *done)
{
    while (done) {
        struct mtask *next = done->next;
        complete(done);
        done = next;
    }
}

/* ---- progress ----------------------------------------------------------------- */

/* Take every answer, choose ranks for queued tasks (held). */
static size_t gather_locked(struct mpi_pool *p, struct mtask **done, struct mtask **chosen)
{
    int rc = weft__mpi_sends_progress(&p->sends);
    for (bool got = true; rc == WEFT_OK && got;) {
        struct mpi_message m;
        rc = weft__mpi_receive(p->comm, MPI_ANY_SOURCE, TAG_RESULT, &m, &got);
        if (rc == WEFT_OK && got)
            take_result_locked(p, &m, done);
    }
    if (rc == WEFT_EBROKEN)
        break_locked(p, rc, done);
    size_t n = 0, rank;
    while (!p->broken && p->head && (rank = weft__mpi_pick_rank(p)) != (size_t)-1) {
        struct mtask *t = p->head;
        if (!(p->head = t->next))
            p->tail = NULL;
        p->queued--;
        occupy_locked(p, t, rank);
        t->sending = true;
        push(chosen, t);
        n++;
    }
    if (!p->broken)
        scan_cancels_locked(p);
    return n;
}

/* Mark the chosen tasks running (outside the lock: a cancelled one's
 * callbacks run), then send them.  Returns the cancelled ones. */
static struct mtask *send_chosen(struct mpi_pool *p, struct mtask *chosen, struct mtask **done)
{
    struct mtask *dropped = NULL;
    for (struct mtask *t = chosen; t; t = t->next)
        t->cancel_sent = weft_future_set_running_or_notify_cancel(t->future) != WEFT_OK;
    weft_lock_acquire(&weft__mpi_lock);
    while (chosen) {
        struct mtask *t = chosen;
        chosen = t->next;
        t->sending = false;
        if (t->cancel_sent || p->broken) { /* cancelled, or broken, before it was sent */
            vacate_locked(p, t);
            t->result = (struct wire_result){.code = WEFT_EBROKEN, .kind = RESULT_FAILED};
            push(t->cancel_sent ? &dropped : done, t);
        } else if (send_task_locked(p, t) != WEFT_OK) {
            break_locked(p, WEFT_EBROKEN, done);
        }
    }
    weft_lock_release(&weft__mpi_lock);
    return dropped;
}

/* Do what there is to do; with `try`, only if nobody else is at it.
 * Returns whether anything happened. */
static bool progress(struct mpi_pool *p, bool try)
{
    if (try ? weft_lock_try_acquire(&weft__mpi_lock) != WEFT_OK
            : weft_lock_acquire(&weft__mpi_lock) != WEFT_OK)
        return false;
    struct mtask *done = NULL, *chosen = NULL;
    size_t n = p->released ? 0 : gather_locked(p, &done, &chosen);
    weft_lock_release(&weft__mpi_lock);
    struct mtask *dropped = chosen ? send_chosen(p, chosen, &done) : NULL;
    bool any = done || n;
    complete_all(done);
    for (; dropped; dropped = chosen) {
        chosen = dropped->next;
        free_task(dropped);
    }
    if (p->max_pending && n)
        weft_semaphore_release_n(&p->room, (long)n);
    return any;
}

static void poll_replies(void *ctx, int phase)
{
    struct mpi_pool *p = ctx;
    if (phase == WEFT_POLL_BEGIN) {
        atomic_fetch_add(&p->pollers, 1); /* the pool stays until we are done */
        return;
    }
    if (!progress(p, true) && phase == WEFT_POLL_STEP)
        sched_yield(); /* the answer needs other processes to run first */
    if (phase == WEFT_POLL_END) {
        weft_event_set(&p->wake); /* the progress thread takes over */
        atomic_fetch_sub(&p->pollers, 1);
    }
}

/* ---- the progress thread -------------------------------------------------- */

/* Whether the pool is over: shut down and drained, or broken (held). */
static bool over_locked(struct mpi_pool *p)
{
    return p->broken || (p->shutting_down && !p->head && !p->in_flight);
}

static void sleep_until_woken(struct mpi_pool *p)
{
    weft_event_clear(&p->wake);
    atomic_store(&p->sleeping, true);
    weft_lock_acquire(&weft__mpi_lock);
    bool idle = !p->head && !p->in_flight && !over_locked(p);
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
        bool did = progress(p, false);
        weft_lock_acquire(&weft__mpi_lock);
        bool over = over_locked(p), idle = !p->head && !p->in_flight;
        if (over)
            weft__mpi_pool_release_ranks(p);
        weft_lock_release(&weft__mpi_lock);
        if (over)
            break;
        int64_t now = weft__mpi_now_ns();
        if (did || !idle)
            busy_at = now;
        if (did)
            weft__mpi_backoff_reset(&b);
        else if (idle && now - busy_at > SLEEP_AFTER_NS)
            sleep_until_woken(p);
        else if (atomic_load(&p->pollers)) { /* a waiter is at it: stay out of its way */
            weft_event_wait_timeout(&p->wake, 1e-3);
            weft_event_clear(&p->wake);
        }
        else
            weft__mpi_backoff_idle(&b, &p->wake);
    }
    weft__mpi_live_remove(&p->live);
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
    weft__future_set_poller(t->future, poll_replies, p);
    *out = t;
    return WEFT_OK;
}

static int wait_for_room(struct mpi_pool *p, int64_t deadline)
{
    if (!p->max_pending)
        return WEFT_OK;
    double left = deadline == WEFT_NO_DEADLINE
                      ? WEFT_FOREVER
                      : (double)(deadline - weft__mpi_now_ns()) / 1e9;
    int rc = weft_semaphore_acquire_timeout(&p->room, left > 0 ? left : 0);
    return rc == WEFT_ETIMEDOUT ? WEFT_EFULL : rc;
}

/* Send t now if a rank has room and nothing waits before it, else queue
 * it.  Takes t (freed on failure). */
static int submit_task(struct mpi_pool *p, struct mtask *t, int64_t deadline, weft_future **out)
{
    int rc = wait_for_room(p, deadline);
    struct mtask *done = NULL;
    bool sent = false;
    weft_lock_acquire(&weft__mpi_lock);
    if (rc == WEFT_OK)
        rc = p->broken ? WEFT_EBROKEN : p->shutting_down ? WEFT_ESHUTDOWN : WEFT_OK;
    size_t rank = rc == WEFT_OK && !p->head ? weft__mpi_pick_rank(p) : (size_t)-1;
    if (out && rc == WEFT_OK)
        *out = weft_future_ref(t->future);
    if (rank != (size_t)-1) {
        occupy_locked(p, t, rank); /* nobody else has its future yet: */
        weft_future_set_running_or_notify_cancel(t->future); /* no callback runs */
        sent = true;
        if (send_task_locked(p, t) != WEFT_OK)
            break_locked(p, WEFT_EBROKEN, &done);
    } else if (rc == WEFT_OK) {
        t->next = NULL;
        if (p->tail)
            p->tail->next = t;
        else
            p->head = t;
        p->tail = t;
        p->queued++;
    }
    weft_lock_release(&weft__mpi_lock);
    if (rc != WEFT_OK) {
        if (p->max_pending && rc != WEFT_EFULL)
            weft_semaphore_release(&p->room);
        free_task(t);
        return rc;
    }
    if (sent && p->max_pending)
        weft_semaphore_release(&p->room);
    if (atomic_load(&p->sleeping))
        weft_event_set(&p->wake);
    complete_all(done);
    return WEFT_OK;
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

static int mpi_shutdown(weft_executor *ex, bool wait, int64_t deadline, bool cancel_futures)
{
    struct mpi_pool *p = pool_of(ex);
    weft_lock_acquire(&weft__mpi_lock);
    p->shutting_down = true;
    struct mtask *queued = cancel_futures ? p->head : NULL;
    size_t n = cancel_futures ? p->queued : 0;
    if (cancel_futures) {
        p->head = p->tail = NULL;
        p->queued = 0;
    }
    weft_lock_release(&weft__mpi_lock);
    while (queued) {
        struct mtask *next = queued->next;
        weft_future_cancel(queued->future);
        free_task(queued);
        queued = next;
    }
    if (p->max_pending && n)
        weft_semaphore_release_n(&p->room, (long)n);
    weft_event_set(&p->wake);
    if (!wait || weft_current_thread() == p->thread)
        return WEFT_OK;
    double left = deadline == WEFT_NO_DEADLINE ? WEFT_FOREVER
                                               : (double)(deadline - weft__mpi_now_ns()) / 1e9;
    return weft_thread_join_timeout(p->thread, left > 0 ? left : 0, NULL);
}

static bool mpi_is_worker(weft_executor *ex)
{
    return weft_current_thread() == pool_of(ex)->thread;
}

static void mpi_destroy(weft_executor *ex)
{
    struct mpi_pool *p = pool_of(ex);
    weft_thread_join(p->thread, NULL);
    weft_thread_free(p->thread);
    while (atomic_load(&p->pollers)) /* a waiter still in its last poll */
        sched_yield();
    weft_event_destroy(&p->wake);
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
    mpi_shutdown(&p->base, true, WEFT_NO_DEADLINE, false);
    weft__mpi_live_remove(l);
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
        weft__mpi_live_remove(&p->live);
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
    struct mpi_pool *p;
    int rc = weft__mpi_pool_create(&p, options ? options : &defaults);
    if (rc != WEFT_OK)
        return rc;
    if ((rc = start(p)) != WEFT_OK) {
        weft__mpi_pool_abandon(p);
        return rc;
    }
    *executor = &p->base;
    return WEFT_OK;
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
