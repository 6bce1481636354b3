/* SPDX-License-Identifier: MIT */
/* process_pool_minder.c — the parent's side of each process-pool worker:
 * handing it tasks, its minder thread (replies, the child's end, task
 * timeouts and cancels, replacements) and the poller a waiting thread
 * runs to take replies itself.  process_pool.c describes the design. */
#include "process_pool_impl.h"

#include <math.h>

/* How often a minder looks at its running task's cancel flag and timeout,
 * and (less often) whether an idle worker was handed a task meanwhile. */
#define BUSY_CHECK_NS (20 * 1000000LL)
#define IDLE_CHECK_NS (100 * 1000000LL)

/* The pools whose replies this thread takes now, innermost first: a
 * minder's pool for the minder's whole life, and a waiting thread's while
 * it polls.  Done-callbacks run on such a thread, inside that work: they
 * must not wait for the pool's minders nor free it (ppool_is_worker). */
struct serving {
    struct ppool *pool;
    struct serving *outer;
};
static _Thread_local struct serving *serving;

static void serving_begin(struct serving *sv, struct ppool *p)
{
    *sv = (struct serving){.pool = p, .outer = serving};
    serving = sv;
}

static void serving_end(struct serving *sv) { serving = sv->outer; }

bool weft_ppool_serving(const struct ppool *p)
{
    for (const struct serving *sv = serving; sv; sv = sv->outer)
        if (sv->pool == p)
            return true;
    return false;
}


/* A forked worker: the forking thread's (a minder's) serving list belongs
 * to the parent. */
static int worker_entry(void *arg, int channel)
{
    serving = NULL;
    return weft_process_pool_worker(arg, channel);
}

/* ---- the parent's side ----------------------------------------------------- */

void weft_ppool_free_task(struct ptask *t)
{
    weft_future_release(t->future);
    weft_bytes_free(t->payload);
    free(t);
}

/* One thread at a time gives a slot its task: a store, not a locked add. */
static void mark_handed(struct slot *s)
{
    uint32_t n = atomic_load_explicit(&s->tasks_handed, memory_order_relaxed);
    atomic_store_explicit(&s->tasks_handed, n + 1, memory_order_release);
}

/* Hand the task to the slot's child: through the shared page (ringing the
 * worker's doorbell only if it is not spinning), or on the socket when the
 * payload is too large for the page.  A failed write means the child is
 * gone: its minder sees the socket close and fails the task.  One thread at
 * a time gives a slot its task: the submitter that took it idle, or the
 * holder of the slot's `own` lock. */
void weft_ppool_send_task(struct slot *s, struct ptask *t)
{
    /* Once handed over, the task may be answered and freed by another
     * thread: read nothing of it after that. */
    struct task_msg m = t->msg;
    weft_bytes *payload = t->payload;
    struct shared_slot *sh = s->shared;
    if (m.size <= TASK_INLINE) {
        sh->task = m;
        if (m.size)
            memcpy(sh->task_data, payload->data, m.size);
        mark_handed(s);
        atomic_fetch_add(&sh->task_seq, 1); /* then look for a spinning worker */
        if (!atomic_load(&sh->worker_spinning))
            ring_doorbell(s->child.channel);
        return;
    }
    mark_handed(s);
    (void)send_message(s->child.channel, &m, sizeof m, payload->data, payload->size);
}

/* Pool lock held: take the queue's first task, or NULL. */
static struct ptask *detach_first_locked(struct ppool *p)
{
    struct ptask *t = p->head;
    if (t) {
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        t->next = NULL;
    }
    return t;
}

/* Pool lock held: take the whole queue. */
struct ptask *weft_ppool_detach_all_locked(struct ppool *p)
{
    struct ptask *all = p->head;
    p->head = p->tail = NULL;
    p->queued = 0;
    return all;
}

/* Lock not held (futures may run done-callbacks): end detached tasks, with
 * an error, or as cancelled for those whose cancel was asked. */
void weft_ppool_finish_detached(struct ptask *list, int code, const char *why)
{
    for (struct ptask *t = list, *next; t; t = next) {
        next = t->next;
        if (weft_future_set_running_or_notify_cancel(t->future) == WEFT_OK)
            weft_future_set_exception(t->future, code, "%s", why);
        weft_ppool_free_task(t);
    }
}

static void push_idle_locked(struct ppool *p, struct slot *s)
{
    s->idle = true;
    s->next_idle = p->idle;
    p->idle = s;
}

static void remove_idle_locked(struct ppool *p, struct slot *s)
{
    if (!s->idle)
        return;
    for (struct slot **q = &p->idle; *q; q = &(*q)->next_idle)
        if (*q == s) {
            *q = s->next_idle;
            break;
        }
    s->idle = false;
}

/* Close the child's input: it finishes and exits (pool lock held). */
void weft_ppool_stop_child_locked(struct slot *s)
{
    if (s->alive && !s->stopping) {
        s->stopping = true;
        weft_pf_shutdown_write(s->child.channel);
    }
}

/* Mark the pool broken (lock held); returns the queued tasks, for the
 * caller to fail with weft_ppool_finish_detached once it has unlocked. */
static struct ptask *break_pool_locked(struct ppool *p)
{
    if (p->broken)
        return NULL;
    p->broken = true;
    for (struct slot *s = p->idle; s; s = s->next_idle)
        weft_ppool_stop_child_locked(s);
    return weft_ppool_detach_all_locked(p);
}

/* Pool lock held: wait until the submitter that gave this slot its task
 * has returned from writing it.  A payload too large for the shared page
 * goes on the socket, and the worker can read it, run the task and reply
 * while the submitter's last send() is still returning: the task (and
 * its payload) must not be freed under it. */
static void wait_for_sender_locked(struct ppool *p, struct slot *s)
{
    while (atomic_load_explicit(&s->sending, memory_order_acquire)) {
        weft_lock_release(&p->lock);
        weft_pf_yield();
        weft_lock_take(&p->lock);
    }
}

/* Pool lock held: take the slot's running task off it (NULL if none),
 * counting it as done, once its submitter has finished handing it over. */
static struct ptask *take_running_locked(struct ppool *p, struct slot *s)
{
    wait_for_sender_locked(p, s);
    struct ptask *t = s->task;
    s->task = NULL;
    if (t) {
        p->running--;
        p->completed++;
    }
    return t;
}

int weft_ppool_fork_worker(struct slot *s)
{
    s->tasks_done = 0;
    s->kill_reason = 0;
    s->stopping = false;
    s->over_cap = false;
    atomic_store(&s->shared->over_cap, 0); /* the old child is reaped */
    /* The child counts tasks from here: read before the fork, as a task
     * given right after it may bump the count before the child runs. */
    s->first_task_seq = atomic_load(&s->shared->task_seq);
    int rc = weft_pf_fork_child(worker_entry, s, true, &s->child);
    s->alive = rc == WEFT_OK;
    return rc;
}

/* The child ended: reap it, close its descriptors; returns the task it was
 * running (NULL if none) with its error in code/why, for the caller to fail
 * once a replacement runs (so that whoever sees the failure also sees the
 * pool back at full strength). */
static struct ptask *child_ended(struct slot *s, int *error, char *why, size_t why_size)
{
    struct ppool *p = s->pool;
    int code = 0;
    weft_pf_reap(s->child.pid, true, &code);
    weft_lock_take(&p->lock);
    remove_idle_locked(p, s);
    struct ptask *t = take_running_locked(p, s); /* (the old socket's sender done) */
    s->alive = false;
    p->alive--;
    weft_lock_release(&p->lock);
    weft_pf_close(s->child.channel);
    weft_pf_close(s->child.watch_fd);
    if (!t)
        return NULL;
    char how[96];
    if (code < 0)
        snprintf(how, sizeof how, "was killed by signal %d (%s)", -code,
                 weft_pf_signal_name(-code));
    else
        snprintf(how, sizeof how, "exited with status %d", code);
    if (s->forced) {
        *error = WEFT_ECANCELLED;
        snprintf(why, why_size, "the pool's workers were stopped: worker %ld %s", s->child.pid,
                 how);
    } else if (s->kill_reason == WEFT_ETIMEDOUT) {
        *error = WEFT_ETIMEDOUT;
        snprintf(why, why_size, "the task ran longer than %.3f s: worker %ld was killed",
                 (double)p->task_timeout_ns / 1e9, s->child.pid);
    } else if (s->kill_reason == WEFT_ECANCELLED) {
        *error = WEFT_ECANCELLED;
        snprintf(why, why_size, "cancelled while running: worker %ld was killed", s->child.pid);
    } else if (p->max_memory && atomic_load(&s->shared->over_cap)) {
        *error = WEFT_ENOMEM;
        snprintf(why, why_size,
                 "the worker process %ld running this task exceeded its memory cap of %zu "
                 "bytes: an allocation was refused, then it %s",
                 s->child.pid, p->max_memory, how);
    } else {
        *error = WEFT_EBROKEN;
        snprintf(why, why_size, "the worker process %ld running this task %s", s->child.pid, how);
    }
    return t;
}

/* Complete the slot's running task with the worker's reply (`own` held).
 * false: the pool broke (a failing initializer) or the reply made no sense. */
static bool complete_reply(struct slot *s, const struct reply_msg *r, weft_bytes *data)
{
    struct ppool *p = s->pool;
    (void)atomic_load_explicit(&s->tasks_handed, memory_order_acquire); /* see its field */
    if (r->kind == REPLY_INIT_FAILED) {
        static const char why[] =
            "A process initializer failed, the process pool is not usable anymore";
        weft_lock_take(&p->lock);
        struct ptask *queued = break_pool_locked(p);
        /* a task handed over before the failure was known */
        struct ptask *given = take_running_locked(p, s);
        weft_lock_release(&p->lock);
        if (given) { /* running already: fail it as it is */
            weft_future_set_exception(given->future, WEFT_EBROKEN, "%s", why);
            weft_ppool_free_task(given);
        }
        weft_ppool_finish_detached(queued, WEFT_EBROKEN, why);
        weft_bytes_free(data);
        return false;
    }
    weft_lock_take(&p->lock);
    struct ptask *t = take_running_locked(p, s);
    weft_lock_release(&p->lock);
    s->tasks_done++;
    if (!t) {
        weft_bytes_free(data);
        return false; /* a reply without a task: not our protocol */
    }
    if (r->size && !data) {
        weft_future_set_exception(t->future, WEFT_ENOMEM, "no memory for the task's result");
    } else if (r->kind == REPLY_FAILED && fails_over_cap(p, r->code)) {
        s->over_cap = true; /* the worker exits after this reply */
        weft_future_set_exception(
            t->future, WEFT_ENOMEM,
            "the worker process %ld running this task exceeded its memory cap of %zu bytes: %s",
            s->child.pid, p->max_memory,
            data && data->size ? (const char *)data->data : "an allocation failed");
        weft_bytes_free(data);
    } else if (r->kind == REPLY_FAILED) {
        weft_future_set_exception(t->future, r->code ? r->code : WEFT_EFAILED, "%s",
                                  data && data->size ? (const char *)data->data : "task failed");
        weft_bytes_free(data);
    } else if (t->msg.kind == TASK_BYTES) {
        if (weft_future_set_owned_result(t->future, data) != WEFT_OK)
            weft_bytes_free(data);
    } else {
        weft_future_set_result(t->future, (void *)(uintptr_t)r->value);
        weft_bytes_free(data);
    }
    weft_ppool_free_task(t);
    return true;
}

/* Read one message from the child's socket (`own` held): a doorbell
 * (*doorbell), or a reply in full.  false: the child ended. */
static bool read_socket(struct slot *s, bool *doorbell, struct reply_msg *r, weft_bytes **data)
{
    *data = NULL;
    unsigned char tag;
    if (read_tag(s->child.channel, &tag) != WEFT_OK)
        return false;
    *doorbell = tag == TAG_DOORBELL;
    if (*doorbell)
        return true;
    if (weft_pf_recv_all(s->child.channel, r, sizeof *r) != WEFT_OK)
        return false;
    if (!(r->size || r->has_bytes))
        return true;
    *data = weft_bytes_alloc((size_t)r->size);
    if (*data && weft_pf_recv_all(s->child.channel, (*data)->data, (size_t)r->size) == WEFT_OK)
        return true;
    weft_bytes_free(*data);
    *data = NULL;
    return false;
}

static void next_task(struct slot *s);

/* Take the reply waiting in the shared page, if there is one: complete its
 * future and give the worker its next task.  Any thread may do it (the
 * minder, or a thread waiting on a future); `wait` says whether to wait for
 * the slot's lock or give up when another thread holds it. */
static bool take_shared_reply(struct slot *s, bool wait)
{
    struct shared_slot *sh = s->shared;
    /* seq_cst: a poller's last look pairs with the worker's "bump the reply,
     * then see whether anyone spins" (no doorbell is lost). */
    if (atomic_load(&sh->reply_seq) == atomic_load_explicit(&s->replies_taken, memory_order_relaxed))
        return false;
    if (wait)
        weft_lock_take(&s->own);
    else if (!weft_lock_try_take(&s->own))
        return false;
    uint32_t taken = atomic_load_explicit(&s->replies_taken, memory_order_relaxed);
    bool took = s->alive && atomic_load(&sh->reply_seq) != taken;
    if (took) {
        atomic_store_explicit(&s->replies_taken, taken + 1, memory_order_relaxed);
        struct reply_msg r = sh->reply;
        weft_bytes *data =
            r.size || r.has_bytes ? weft_bytes_new(sh->reply_data, (size_t)r.size) : NULL;
        if (complete_reply(s, &r, data))
            next_task(s);
    }
    weft_lock_release(&s->own);
    return took;
}

/* Give the slot's live child its next task, or put it on the idle stack, or
 * stop it when the pool is done with it. */
static void next_task(struct slot *s)
{
    struct ppool *p = s->pool;
    bool retiring =
        s->over_cap || (p->max_tasks_per_child && s->tasks_done >= p->max_tasks_per_child);
    for (;;) {
        weft_lock_take(&p->lock);
        struct ptask *t = NULL;
        if (!retiring && !p->broken && !p->forced) /* a retiring child exits by itself */
            t = detach_first_locked(p);
        if (!t) {
            if (p->shutting_down || p->broken || p->forced)
                weft_ppool_stop_child_locked(s);
            else if (!retiring)
                push_idle_locked(p, s);
            weft_lock_release(&p->lock);
            return;
        }
        weft_lock_release(&p->lock);
        if (weft_future_set_running_or_notify_cancel(t->future) != WEFT_OK) {
            weft_ppool_free_task(t); /* cancelled while queued */
            continue;
        }
        weft_lock_take(&p->lock);
        t->started_ns = weft_pf_now_ns(); /* before the minder can see it */
        s->task = t;
        p->running++;
        weft_lock_release(&p->lock);
        weft_ppool_send_task(s, t);
        return;
    }
}

/* Look at the running task: kill the child if the task was cancelled or
 * ran out of time. */
static void check_running(struct slot *s)
{
    struct ppool *p = s->pool;
    weft_lock_take(&p->lock);
    struct ptask *t = s->task;
    int reason = 0;
    if (t && !s->kill_reason) {
        if (weft_future_cancel_requested(t->future))
            reason = WEFT_ECANCELLED;
        else if (p->task_timeout_ns && weft_pf_now_ns() - t->started_ns >= p->task_timeout_ns)
            reason = WEFT_ETIMEDOUT;
        s->kill_reason = reason;
    }
    if (reason)
        weft_pf_signal(s->child.pid, WEFT_PF_SIGKILL);
    weft_lock_release(&p->lock);
}

/* After a child ended: start another, unless the pool is done. */
static bool replace_child(struct slot *s)
{
    struct ppool *p = s->pool;
    weft_lock_take(&p->lock);
    bool done = p->broken || p->forced || (p->shutting_down && !p->head);
    weft_lock_release(&p->lock);
    if (done)
        return false;
    static const char why[] =
        "A worker process could not be started, the process pool is not usable anymore";
    int rc = weft_ppool_fork_worker(s);
    struct ptask *queued = NULL;
    weft_lock_take(&p->lock);
    if (rc == WEFT_OK)
        p->alive++;
    else
        queued = break_pool_locked(p);
    weft_lock_release(&p->lock);
    weft_ppool_finish_detached(queued, WEFT_EBROKEN, why);
    return rc == WEFT_OK;
}

/* The child ended (`own` held): take a reply it left in the shared page,
 * reap it, start a replacement; then, unlocked, fail the task it was
 * running.  false: the pool is done with this slot. */
static bool handle_child_end(struct slot *s)
{
    struct shared_slot *sh = s->shared;
    if (atomic_load(&sh->reply_seq) != atomic_load(&s->replies_taken)) {
        /* answered, then ended (max_tasks_per_child, or a crash after) */
        weft_lock_release(&s->own);
        take_shared_reply(s, true);
        weft_lock_take(&s->own);
    }
    int error = 0;
    char why[320];
    struct ptask *lost = child_ended(s, &error, why, sizeof why);
    atomic_store(&s->replies_taken, atomic_load(&sh->reply_seq)); /* nothing stale */
    bool replaced = replace_child(s);
    if (replaced)
        next_task(s);
    weft_lock_release(&s->own);
    if (lost) {
        weft_future_set_exception(lost->future, error, "%s", why);
        weft_ppool_free_task(lost);
    }
    weft_lock_take(&s->own);
    return replaced;
}

void *weft_ppool_minder_main(void *arg)
{
    struct slot *s = arg;
    struct ppool *p = s->pool;
    struct serving sv;
    serving_begin(&sv, p);
    weft_lock_take(&s->own);
    next_task(s);
    weft_lock_release(&s->own);
    for (;;) {
        weft_lock_take(&p->lock);
        bool busy = s->task != NULL;
        weft_lock_release(&p->lock);
        int64_t deadline = weft_pf_now_ns() + (busy ? BUSY_CHECK_NS : IDLE_CHECK_NS);
        int rc = weft_pf_wait_readable(s->child.channel, deadline);
        if (take_shared_reply(s, true))
            continue;
        weft_lock_take(&s->own);
        if (rc == WEFT_ETIMEDOUT) {
            check_running(s);
            weft_lock_release(&s->own);
            continue;
        }
        struct reply_msg r;
        weft_bytes *data;
        bool more = true, doorbell = false;
        if (!read_socket(s, &doorbell, &r, &data))
            more = handle_child_end(s);
        else if (!doorbell && complete_reply(s, &r, data))
            next_task(s);
        weft_lock_release(&s->own);
        if (!more) {
            serving_end(&sv);
            return NULL;
        }
    }
}

/* A future's poller (see future_internal.h): a thread waiting on one of
 * this pool's futures spins taking replies from the shared pages, so that
 * a quick task costs no wake-up; while it spins, workers ring no doorbell. */
void weft_ppool_poll(void *ctx, int phase)
{
    struct ppool *p = ctx;
    if (phase == WEFT_POLL_BEGIN) {
        atomic_fetch_add(&p->pollers, 1); /* the pool stays until we are done */
        for (size_t i = 0; i < p->nslots; i++)
            atomic_fetch_add(&p->shared[i].parent_spinning, 1);
        return;
    }
    bool last = phase == WEFT_POLL_END;
    if (last) /* then look once more: a worker may have counted on us */
        for (size_t i = 0; i < p->nslots; i++)
            atomic_fetch_sub(&p->shared[i].parent_spinning, 1);
    /* Already taking this pool's replies further up (a done-callback that
     * waits): it may hold a slot's lock, so never wait for one. */
    bool may_wait = last && !weft_ppool_serving(p);
    struct serving sv;
    serving_begin(&sv, p);
    for (size_t i = 0; i < p->nslots; i++)
        take_shared_reply(&p->slots[i], may_wait);
    serving_end(&sv);
    if (last)
        atomic_fetch_sub(&p->pollers, 1);
}

