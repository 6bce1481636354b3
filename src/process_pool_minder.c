/* SPDX-License-Identifier: MIT */
/* process_pool_minder.c — the parent's side of each process-pool worker:
 * handing it tasks, its minder thread (replies, the child's end, task
 * timeouts and cancels, replacements) and taking its replies, which the
 * minder and waiting threads (process_pool_poll.c) do alike.
 * process_pool.c describes the design. */
#include "process_pool_minder.h"

#include "future_internal.h"
#include "park.h"
#include "platform/platform.h"
#include "platform/process.h"
#include "process_pool_child.h"
#include "process_pool_state.h"
#include "process_pool_wire.h"
#include "lock_internal.h"
#include "weft/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a minder looks at its running task's cancel flag and timeout,
 * and (less often) whether an idle worker was handed a task meanwhile. */
#define BUSY_CHECK_NS (20 * 1000000LL)
#define IDLE_CHECK_NS (100 * 1000000LL)

/* The pools whose replies this thread takes now (process_pool_minder.h).
 * Done-callbacks run on such a thread, inside that work: they must not
 * wait for the pool's minders nor free it (ppool_is_worker). */
static _Thread_local struct ppool_serving *serving;

void weft__ppool_serving_begin(struct ppool_serving *sv, struct ppool *p)
{
    *sv = (struct ppool_serving){.pool = p, .outer = serving};
    serving = sv;
}

void weft__ppool_serving_end(struct ppool_serving *sv) { serving = sv->outer; }

bool weft__ppool_serving(const struct ppool *p)
{
    for (const struct ppool_serving *sv = serving; sv; sv = sv->outer)
        if (sv->pool == p)
            return true;
    return false;
}


/* A forked worker: the forking thread's (a minder's) serving list belongs
 * to the parent.  arg: a struct ppool_worker. */
static int worker_entry(void *arg, int channel)
{
    serving = NULL;
    return weft__process_pool_worker(arg, channel);
}

/* ---- the sending word ------------------------------------------------------
 *
 * slot.sending says whether a submitter is still handing the slot its task
 * (writing it to the socket: a large payload's last send() may still be
 * returning while the worker has already read it, run the task and
 * replied).  Whoever then takes the task off the slot must wait until the
 * sender is done before it frees the task, and does so parked on the word:
 *
 *   NOT_SENDING: no hand-over in progress;
 *   SENDING: a submitter hands the task over, nobody waits for it;
 *   SENDING_WATCHED: and somebody waits (parked, or about to park).
 *
 * The sender ends with an exchange to NOT_SENDING and unparks only when it
 * took SENDING_WATCHED, so a hand-over nobody waits for (nearly all of
 * them) makes no system call.  No wake-up is lost: a waiter parks only
 * while the word is SENDING_WATCHED, which only a waiter sets, and only
 * with a compare-exchange from SENDING.  If that exchange came before the
 * sender's, the sender sees SENDING_WATCHED and unparks; if after, the
 * waiter's compare-exchange fails (the word is NOT_SENDING) or its park
 * finds the word changed and returns at once (weft__park compares and
 * sleeps atomically); after every wake-up the waiter re-reads the word.
 * A new hand-over cannot begin meanwhile: the slot is off the idle stack,
 * and only the holder of its `own` lock (the waiter) puts it back. */
enum { NOT_SENDING = 0, SENDING = 1, SENDING_WATCHED = 2 };

void weft__ppool_begin_sending_locked(struct slot *s)
{
    /* Relaxed: whoever waits for the sender first takes the pool lock that
     * the submitter holds here, and so sees this store. */
    atomic_store_explicit(&s->sending, SENDING, memory_order_relaxed);
}

void weft__ppool_end_sending(struct slot *s)
{
    /* release: the sender's reads of the task come before its freeing */
    if (atomic_exchange_explicit(&s->sending, NOT_SENDING, memory_order_release) ==
        SENDING_WATCHED)
        weft__unpark_all(&s->sending);
}

/* Wait until the submitter that gave this slot its task has returned from
 * writing it (no lock held: the sender takes none to finish). */
static void wait_for_sender(struct slot *s)
{
    uint32_t v = atomic_load_explicit(&s->sending, memory_order_acquire);
    while (v != NOT_SENDING) {
        if (v == SENDING &&
            !atomic_compare_exchange_weak_explicit(&s->sending, &v, SENDING_WATCHED,
                                                   memory_order_acquire, memory_order_acquire))
            continue; /* v is the word's new value */
        weft__park(&s->sending, SENDING_WATCHED, WEFT_NO_DEADLINE);
        v = atomic_load_explicit(&s->sending, memory_order_acquire);
    }
}

/* ---- the parent's side ----------------------------------------------------- */

void weft__ppool_free_task(struct ptask *t)
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
void weft__ppool_send_task(struct slot *s, struct ptask *t)
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
        weft__ppool_announce(&sh->task_seq, &sh->worker_spinning, s->child.channel);
        return;
    }
    mark_handed(s);
    (void)weft__ppool_send_message(s->child.channel, &m, sizeof m, payload->data, payload->size);
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
struct ptask *weft__ppool_detach_all_locked(struct ppool *p)
{
    struct ptask *all = p->head;
    p->head = p->tail = NULL;
    p->queued = 0;
    return all;
}

/* Lock not held (futures may run done-callbacks): end detached tasks, with
 * an error, or as cancelled for those whose cancel was asked. */
void weft__ppool_finish_detached(struct ptask *list, int code, const char *why)
{
    for (struct ptask *t = list, *next; t; t = next) {
        next = t->next;
        if (weft_future_set_running_or_notify_cancel(t->future) == WEFT_OK)
            weft_future_set_exception(t->future, code, "%s", why);
        weft__ppool_free_task(t);
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
void weft__ppool_stop_child_locked(struct slot *s)
{
    if (s->alive && !s->stopping) {
        s->stopping = true;
        weft__pf_shutdown_write(s->child.channel);
    }
}

/* Mark the pool broken (lock held); returns the queued tasks, for the
 * caller to fail with weft__ppool_finish_detached once it has unlocked. */
static struct ptask *break_pool_locked(struct ppool *p)
{
    if (p->broken)
        return NULL;
    p->broken = true;
    for (struct slot *s = p->idle; s; s = s->next_idle)
        weft__ppool_stop_child_locked(s);
    return weft__ppool_detach_all_locked(p);
}

/* Pool lock held: take the slot's running task off it (NULL if none),
 * counting it as done.  The caller then waits for its sender
 * (wait_for_sender) before it completes or frees it. */
static struct ptask *take_running_locked(struct ppool *p, struct slot *s)
{
    struct ptask *t = s->task;
    s->task = NULL;
    if (t) {
        p->running--;
        p->completed++;
    }
    return t;
}

int weft__ppool_fork_worker(struct slot *s)
{
    s->tasks_done = 0;
    s->kill_reason = 0;
    s->stopping = false;
    s->over_cap = false;
    atomic_store(&s->shared->over_cap, 0); /* the old child is reaped */
    /* The child counts tasks from here: read before the fork, as a task
     * given right after it may bump the count before the child runs. */
    s->first_task_seq = atomic_load(&s->shared->task_seq);
    struct ppool *p = s->pool;
    /* On this thread's stack: the child runs on its copy of it. */
    struct ppool_worker w = {.shared = s->shared,
                             .first_task_seq = s->first_task_seq,
                             .max_tasks_per_child = p->max_tasks_per_child,
                             .max_memory = p->max_memory,
                             .initializer = p->initializer,
                             .initializer_arg = p->initializer_arg};
    int rc = weft__pf_fork_child(worker_entry, &w, true, &s->child);
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
    weft__pf_reap(s->child.pid, true, &code);
    weft__lock_take(&p->lock);
    remove_idle_locked(p, s);
    struct ptask *t = take_running_locked(p, s);
    s->alive = false;
    p->alive--;
    weft_lock_release(&p->lock);
    wait_for_sender(s); /* before its socket closes and its task is failed */
    weft__pf_close(s->child.channel);
    weft__pf_close(s->child.watch_fd);
    if (!t)
        return NULL;
    char how[96];
    if (code < 0)
        snprintf(how, sizeof how, "was killed by signal %d (%s)", -code,
                 weft__pf_signal_name(-code));
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
        weft__lock_take(&p->lock);
        struct ptask *queued = break_pool_locked(p);
        /* a task handed over before the failure was known */
        struct ptask *given = take_running_locked(p, s);
        weft_lock_release(&p->lock);
        wait_for_sender(s);
        if (given) { /* running already: fail it as it is */
            weft_future_set_exception(given->future, WEFT_EBROKEN, "%s", why);
            weft__ppool_free_task(given);
        }
        weft__ppool_finish_detached(queued, WEFT_EBROKEN, why);
        weft_bytes_free(data);
        return false;
    }
    weft__lock_take(&p->lock);
    struct ptask *t = take_running_locked(p, s);
    weft_lock_release(&p->lock);
    wait_for_sender(s);
    s->tasks_done++;
    if (!t) {
        weft_bytes_free(data);
        return false; /* a reply without a task: not our protocol */
    }
    if (r->size && !data) {
        weft_future_set_exception(t->future, WEFT_ENOMEM, "no memory for the task's result");
    } else if (r->kind == REPLY_FAILED && weft__ppool_fails_over_cap(p->max_memory, r->code)) {
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
        if (weft__future_set_owned_result(t->future, data) != WEFT_OK)
            weft_bytes_free(data);
    } else {
        weft_future_set_result(t->future, (void *)(uintptr_t)r->value);
        weft_bytes_free(data);
    }
    weft__ppool_free_task(t);
    return true;
}

/* Read one message from the child's socket (`own` held): a doorbell
 * (*doorbell), or a reply in full.  false: the child ended. */
static bool read_socket(struct slot *s, bool *doorbell, struct reply_msg *r, weft_bytes **data)
{
    *data = NULL;
    unsigned char tag;
    if (weft__ppool_read_tag(s->child.channel, &tag) != WEFT_OK)
        return false;
    *doorbell = tag == TAG_DOORBELL;
    if (*doorbell)
        return true;
    if (weft__pf_recv_all(s->child.channel, r, sizeof *r) != WEFT_OK)
        return false;
    if (!(r->size || r->has_bytes))
        return true;
    *data = weft_bytes_alloc((size_t)r->size);
    if (*data && weft__pf_recv_all(s->child.channel, (*data)->data, (size_t)r->size) == WEFT_OK)
        return true;
    weft_bytes_free(*data);
    *data = NULL;
    return false;
}

static void next_task(struct slot *s);

/* Any thread may take a shared reply: the minder, or a thread waiting on a
 * future (process_pool_poll.c). */
bool weft__ppool_take_shared_reply(struct slot *s, bool wait)
{
    struct shared_slot *sh = s->shared;
    /* seq_cst: a poller's last look pairs with the worker's "bump the reply,
     * then see whether anyone spins" (no doorbell is lost). */
    if (atomic_load(&sh->reply_seq) == atomic_load_explicit(&s->replies_taken, memory_order_relaxed))
        return false;
    if (wait)
        weft__lock_take(&s->own);
    else if (!weft__lock_try_take(&s->own))
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
        weft__lock_take(&p->lock);
        struct ptask *t = NULL;
        if (!retiring && !p->broken && !p->forced) /* a retiring child exits by itself */
            t = detach_first_locked(p);
        if (!t) {
            if (p->shutting_down || p->broken || p->forced)
                weft__ppool_stop_child_locked(s);
            else if (!retiring)
                push_idle_locked(p, s);
            weft_lock_release(&p->lock);
            return;
        }
        weft_lock_release(&p->lock);
        if (weft_future_set_running_or_notify_cancel(t->future) != WEFT_OK) {
            weft__ppool_free_task(t); /* cancelled while queued */
            continue;
        }
        weft__lock_take(&p->lock);
        t->started_ns = weft__pf_now_ns(); /* before the minder can see it */
        s->task = t;
        p->running++;
        weft_lock_release(&p->lock);
        weft__ppool_send_task(s, t);
        return;
    }
}

/* Look at the running task: kill the child if the task was cancelled or
 * ran out of time. */
static void check_running(struct slot *s)
{
    struct ppool *p = s->pool;
    weft__lock_take(&p->lock);
    struct ptask *t = s->task;
    int reason = 0;
    if (t && !s->kill_reason) {
        if (weft__future_cancel_requested(t->future))
            reason = WEFT_ECANCELLED;
        else if (p->task_timeout_ns && weft__pf_now_ns() - t->started_ns >= p->task_timeout_ns)
            reason = WEFT_ETIMEDOUT;
        s->kill_reason = reason;
    }
    if (reason)
        weft__pf_signal(s->child.pid, WEFT_PF_SIGKILL);
    weft_lock_release(&p->lock);
}

/* After a child ended: start another, unless the pool is done. */
static bool replace_child(struct slot *s)
{
    struct ppool *p = s->pool;
    weft__lock_take(&p->lock);
    bool done = p->broken || p->forced || (p->shutting_down && !p->head);
    weft_lock_release(&p->lock);
    if (done)
        return false;
    static const char why[] =
        "A worker process could not be started, the process pool is not usable anymore";
    int rc = weft__ppool_fork_worker(s);
    struct ptask *queued = NULL;
    weft__lock_take(&p->lock);
    if (rc == WEFT_OK)
        p->alive++;
    else
        queued = break_pool_locked(p);
    weft_lock_release(&p->lock);
    weft__ppool_finish_detached(queued, WEFT_EBROKEN, why);
    return rc == WEFT_OK;
}

/* The child ended: take a reply it left in the shared page (answered,
 * then ended: max_tasks_per_child, or a crash after), reap it, start a
 * replacement; then, unlocked, fail the task it was running.  Takes and
 * releases `own` itself.  false: the pool is done with this slot. */
static bool handle_child_end(struct slot *s)
{
    weft__ppool_take_shared_reply(s, true);
    weft__lock_take(&s->own);
    int error = 0;
    char why[320];
    struct ptask *lost = child_ended(s, &error, why, sizeof why);
    /* nothing stale for the replacement */
    atomic_store(&s->replies_taken, atomic_load(&s->shared->reply_seq));
    bool replaced = replace_child(s);
    if (replaced)
        next_task(s);
    weft_lock_release(&s->own);
    if (lost) {
        weft_future_set_exception(lost->future, error, "%s", why);
        weft__ppool_free_task(lost);
    }
    return replaced;
}

/* Take what the child's socket brings: a doorbell, a reply (completed,
 * then the child's next task), or the child's end (handle_child_end).
 * false: the pool is done with this slot. */
static bool serve_socket(struct slot *s)
{
    weft__lock_take(&s->own);
    struct reply_msg r;
    weft_bytes *data;
    bool doorbell = false;
    bool ended = !read_socket(s, &doorbell, &r, &data);
    if (!ended && !doorbell && complete_reply(s, &r, data))
        next_task(s);
    weft_lock_release(&s->own);
    return !ended || handle_child_end(s);
}

void *weft__ppool_minder_main(void *arg)
{
    struct slot *s = arg;
    struct ppool *p = s->pool;
    struct ppool_serving sv;
    weft__ppool_serving_begin(&sv, p);
    weft__lock_take(&s->own);
    next_task(s);
    weft_lock_release(&s->own);
    for (bool more = true; more;) {
        weft__lock_take(&p->lock);
        bool busy = s->task != NULL;
        weft_lock_release(&p->lock);
        int64_t deadline = weft__pf_now_ns() + (busy ? BUSY_CHECK_NS : IDLE_CHECK_NS);
        int rc = weft__pf_wait_readable(s->child.channel, deadline);
        if (weft__ppool_take_shared_reply(s, true))
            continue;
        if (rc != WEFT_ETIMEDOUT) {
            more = serve_socket(s);
            continue;
        }
        weft__lock_take(&s->own);
        check_running(s);
        weft_lock_release(&s->own);
    }
    weft__ppool_serving_end(&sv);
    return NULL;
}
