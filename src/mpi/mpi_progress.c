/* SPDX-License-Identifier: MIT */
/* mpi_progress.c — the client's progress: putting tasks in flight,
 * taking answers, telling ranks of cancels, failing everything when MPI
 * fails, and completing futures outside the lock; the pool's futures'
 * poller.  Whoever finds something to do does it: a submitter, a waiter
 * spinning on one of the pool's futures, or the pool's progress thread
 * (mpi_pool.c). */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "future_internal.h"
#include "mpi_client.h"

#include "weft/status.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* How often a pool looks for running tasks whose cancel was asked. */
#define CANCEL_SCAN_NS 1000000
/* How long a waiter goes on taking answers after the future's own spin. */
#define WAITER_POLL_NS 500000

/* The pools whose futures this thread is completing (their callbacks run
 * here; a callback of one may complete another's), innermost first: such
 * a thread is one of each pool's, which shutdown and free cannot wait for. */
struct completing_scope {
    struct mpi_pool *pool;
    struct completing_scope *outer;
    bool outer_pool_thread;
};
static _Thread_local struct completing_scope *completing;

bool weft__mpi_completing_here(const struct mpi_pool *p)
{
    for (const struct completing_scope *c = completing; c; c = c->outer)
        if (c->pool == p)
            return true;
    return false;
}

/* ---- slots and messages (held: weft__mpi_lock) ------------------------------ */

/* A task's id: the pool's epoch (an answer left from an earlier pool on
 * the same ranks is not taken for one of ours), the slot's generation,
 * the slot. */
static uint64_t task_id(const struct mpi_pool *p, size_t slot)
{
    return (uint64_t)p->epoch << 48 | (uint64_t)(p->generation[slot] & 0xffff) << 32 | slot;
}

void weft__mpi_occupy_locked(struct mpi_pool *p, struct mtask *t, size_t rank)
{
    t->slot = p->free_slots[--p->nfree];
    t->rank = rank;
    p->slots[t->slot] = t;
    p->in_flight_at[rank]++;
    atomic_fetch_add_explicit(&p->in_flight, 1, memory_order_relaxed);
}

static void vacate_locked(struct mpi_pool *p, struct mtask *t)
{
    p->slots[t->slot] = NULL;
    p->generation[t->slot]++;
    p->free_slots[p->nfree++] = t->slot;
    p->in_flight_at[t->rank]--;
    atomic_fetch_sub_explicit(&p->in_flight, 1, memory_order_relaxed);
}

void weft__mpi_enqueue_locked(struct mpi_pool *p, struct mtask *t)
{
    weft__list_push_back(&p->queue, &t->queued);
    p->queued++;
}

struct mtask *weft__mpi_dequeue_locked(struct mpi_pool *p)
{
    weft_list_node *node = weft__list_pop_front(&p->queue);
    if (!node)
        return NULL;
    p->queued--;
    return WEFT_LIST_ENTRY(node, struct mtask, queued);
}

static void push(struct mtask **list, struct mtask *t)
{
    t->next = *list;
    *list = t;
}

int weft__mpi_send_task_locked(struct mpi_pool *p, struct mtask *t)
{
    uint64_t id = task_id(p, t->slot);
    memcpy(t->msg, &id, sizeof id); /* wire_task.id comes first */
    int rc = weft__mpi_send(&p->sends, p->comm, p->ranks[t->rank], TAG_TASK, t->msg, t->msg_len);
    t->msg = NULL; /* the sends own it now, or freed it */
    return rc;
}

/* Fail everything in flight or queued: an MPI call failed (or memory
 * ran out where an answer would be lost).  The tasks go onto *done, to
 * complete outside the lock; returns how many came from the queue (their
 * room is given back with them). */
size_t weft__mpi_break_locked(struct mpi_pool *p, struct mtask **done)
{
    p->broken = true;
    for (size_t i = 0; i < p->nranks * (size_t)p->max_in_flight; i++) {
        struct mtask *t = p->slots[i];
        if (t && !t->sending) { /* send_chosen has the ones being sent */
            vacate_locked(p, t);
            t->result = (struct wire_result){.code = WEFT_EBROKEN, .kind = RESULT_FAILED};
            push(done, t);
        }
    }
    size_t queued = 0;
    for (struct mtask *t; (t = weft__mpi_dequeue_locked(p)); queued++) {
        t->result = (struct wire_result){.code = WEFT_EBROKEN, .kind = RESULT_FAILED};
        push(done, t);
    }
    return queued;
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
    if (!t || t->sending || task_id(p, slot) != r.id) {
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
        if (!t || t->sending || t->cancel_sent || !weft__future_cancel_requested(t->future))
            continue; /* (one being sent is looked at in the next scan) */
        t->cancel_sent = true;
        uint64_t id = task_id(p, i);
        size_t len;
        void *msg = weft__mpi_message(&id, sizeof id, NULL, 0, &len);
        if (msg)
            weft__mpi_send(&p->sends, p->comm, p->ranks[t->rank], TAG_CANCEL, msg, len);
    }
}

/* ---- completing futures (outside the lock) ---------------------------------- */

void weft__mpi_free_task(struct mtask *t)
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
    weft__mpi_free_task(t);
}

/* Callbacks run between these two as on one of the pool's threads.  The
 * caller took p->completing under the lock; leaving drops it. */
static void enter_completing(struct mpi_pool *p, struct completing_scope *c, size_t room)
{
    if (p->max_pending && room) /* first: a callback may submit */
        weft_semaphore_release_n(&p->room, (long)room);
    *c = (struct completing_scope){p, completing, weft__mpi_on_pool_thread};
    completing = c;
    weft__mpi_on_pool_thread = true;
}

static void leave_completing(struct mpi_pool *p, const struct completing_scope *c)
{
    completing = c->outer;
    weft__mpi_on_pool_thread = c->outer_pool_thread;
    atomic_fetch_sub(&p->completing, 1);
}

static void complete_list(struct mtask *done)
{
    while (done) {
        struct mtask *next = done->next;
        complete(done);
        done = next;
    }
}

void weft__mpi_complete_all(struct mpi_pool *p, struct mtask *done, size_t room)
{
    struct completing_scope c;
    enter_completing(p, &c, room);
    complete_list(done);
    leave_completing(p, &c);
}

void weft__mpi_cancel_all(struct mpi_pool *p, struct mtask *queued, size_t room)
{
    struct completing_scope c;
    enter_completing(p, &c, room);
    while (queued) {
        struct mtask *next = queued->next;
        weft_future_cancel(queued->future);
        weft__mpi_free_task(queued);
        queued = next;
    }
    leave_completing(p, &c);
}

/* ---- progress ----------------------------------------------------------------- */

/* Take every answer, choose ranks for queued tasks (held).  Returns how
 * many left the queue (chosen, or failed by a break). */
static size_t gather_locked(struct mpi_pool *p, struct mtask **done, struct mtask **chosen)
{
    int rc = weft__mpi_sends_progress(&p->sends);
    for (bool got = true; rc == WEFT_OK && got;) {
        struct mpi_message m;
        rc = weft__mpi_receive(p->comm, MPI_ANY_SOURCE, TAG_RESULT, &m, &got);
        if (rc == WEFT_OK && got)
            take_result_locked(p, &m, done);
    }
    size_t n = rc != WEFT_OK ? weft__mpi_break_locked(p, done) : 0; /* an answer is lost */
    size_t rank;
    while (!p->broken && p->queued && (rank = weft__mpi_pick_rank(p)) != (size_t)-1) {
        struct mtask *t = weft__mpi_dequeue_locked(p);
        weft__mpi_occupy_locked(p, t, rank);
        t->sending = true;
        push(chosen, t);
        n++;
    }
    if (!p->broken)
        scan_cancels_locked(p);
    return n;
}

/* Mark the chosen tasks running (outside the lock: a cancelled one's
 * callbacks run), then send them.  Returns the cancelled ones, to free. */
static struct mtask *send_chosen(struct mpi_pool *p, struct mtask *chosen, struct mtask **done,
                                 size_t *room)
{
    struct mtask *dropped = NULL;
    for (struct mtask *t = chosen; t; t = t->next) /* only this thread sees t->dropped */
        t->dropped = weft_future_set_running_or_notify_cancel(t->future) != WEFT_OK;
    weft_lock_acquire(&weft__mpi_lock);
    while (chosen) {
        struct mtask *t = chosen;
        chosen = t->next;
        t->sending = false;
        if (t->dropped || p->broken) { /* cancelled, or broken, before it was sent */
            vacate_locked(p, t);
            t->result = (struct wire_result){.code = WEFT_EBROKEN, .kind = RESULT_FAILED};
            push(t->dropped ? &dropped : done, t);
        } else if (weft__mpi_send_task_locked(p, t) != WEFT_OK) {
            *room += weft__mpi_break_locked(p, done);
        }
    }
    weft_lock_release(&weft__mpi_lock);
    return dropped;
}

/* Do what there is to do; with `try`, only if nobody else is at it.
 * Returns whether anything happened. */
bool weft__mpi_progress(struct mpi_pool *p, bool try)
{
    if (try ? weft_lock_try_acquire(&weft__mpi_lock) != WEFT_OK
            : weft_lock_acquire(&weft__mpi_lock) != WEFT_OK)
        return false;
    struct mtask *done = NULL, *chosen = NULL;
    size_t room = p->released ? 0 : gather_locked(p, &done, &chosen);
    atomic_fetch_add(&p->completing, 1); /* the pool stays until these are done */
    weft_lock_release(&weft__mpi_lock);
    /* Marking chosen tasks running runs a cancelled one's callbacks: they
     * too run as on one of the pool's threads, with the room given back. */
    struct completing_scope c;
    enter_completing(p, &c, room);
    size_t more_room = 0; /* queued tasks failed by a break while sending */
    struct mtask *dropped = chosen ? send_chosen(p, chosen, &done, &more_room) : NULL;
    if (p->max_pending && more_room)
        weft_semaphore_release_n(&p->room, (long)more_room);
    bool any = done || chosen;
    complete_list(done);
    while (dropped) {
        struct mtask *next = dropped->next;
        weft__mpi_free_task(dropped);
        dropped = next;
    }
    leave_completing(p, &c);
    return any;
}

void weft__mpi_poll_replies(void *ctx, int phase)
{
    struct mpi_pool *p = ctx;
    if (phase == WEFT_POLL_BEGIN) {
        atomic_fetch_add(&p->pollers, 1); /* the pool stays until we are done */
        return;
    }
    if (!weft__mpi_progress(p, true) && phase == WEFT_POLL_STEP)
        sched_yield(); /* the answer needs other processes to run first */
    if (phase == WEFT_POLL_END) {
        /* The future's own spin is over and the waiter would sleep, to be
         * woken by the progress thread: a wake-up costs 50-100 us here,
         * which makes the next round trip slower than the serving rank's
         * children spin for their next task, which makes it slower again
         * (measured: round trips of 17 us or of 40-180 us, at random).  So
         * go on taking answers, yielding, while answers are due, until one
         * comes or WAITER_POLL_NS have passed. */
        int64_t until = weft__mpi_now_ns() + WAITER_POLL_NS;
        while (atomic_load(&p->in_flight) && !weft__mpi_progress(p, true) &&
               weft__mpi_now_ns() < until)
            sched_yield();
        if (atomic_load(&p->pollers) == 1 && atomic_load(&p->in_flight))
            weft_event_set(&p->wake); /* answers are due: the progress thread takes over */
        atomic_fetch_sub(&p->pollers, 1); /* last: p may be freed from here on */
    }
}

