/* SPDX-License-Identifier: MIT */
/* process_pool.c — the process-pool backend of the executor interface.
 *
 * Each worker is a forked child with a stream socket to the parent, a page
 * of memory shared with it, and a "minder" thread in the parent that owns
 * the child: it reaps it when it ends, completes futures, and hands the
 * child its next task.  A submit that finds a worker idle hands the task
 * over itself.
 *
 * Fast path (docs/benchmarks.md W9): small tasks and replies travel through the
 * shared page, each announced by bumping a sequence number.  A worker spins
 * a while for its next task before it sleeps in recv() on its socket; a
 * thread waiting on a future spins a while taking replies itself (the
 * future's poller) before it sleeps.  Each side rings the other's doorbell
 * (a small message on the socket) only when nobody on that side is
 * spinning, so a busy round trip makes no system call at all, while a wake
 * from sleep (25-35 us on a small VM) happens only after a pause.  Large
 * payloads, initializer failure and every sleeping side use the socket.
 *
 * The socket closing tells the minder its child has ended: it reaps it
 * (no zombie), fails only the task the child was running, and forks a
 * replacement.  The minder also watches the running task: past the pool's
 * task_timeout, or once its future's cancel was asked, it kills the child.
 * With max_memory the child caps its own memory (weft_pf_cap_memory): a
 * task that fails with WEFT_ENOMEM there, or that crashes after an
 * allocation was refused, is reported as over the cap and its worker is
 * replaced.
 * Shutting down closes each idle child's socket for writing: the child sees
 * the end of its input and exits; its minder reaps it and leaves.
 */
#include "executor_internal.h"
#include "future_internal.h"
#include "platform/platform.h"
#include "platform/process.h"
#include "sync_internal.h"
#include "thread_internal.h"
#include "weft/process.h"
#include "weft/status.h"
#include "weft/thread.h"
#include "weft/time.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a minder looks at its running task's cancel flag and timeout,
 * and (less often) whether an idle worker was handed a task meanwhile. */
#define BUSY_CHECK_NS (20 * 1000000LL)
#define IDLE_CHECK_NS (100 * 1000000LL)

/* How long a worker spins for its next task before it sleeps. */
#define CHILD_SPIN_NS 100000

enum { TASK_PLAIN = 1, TASK_BYTES = 2 };
enum { REPLY_RESULT = 1, REPLY_FAILED = 2, REPLY_INIT_FAILED = 3 };

/* On the socket, each message starts with a one-byte tag: a doorbell is the
 * tag alone, sent without waiting (a full socket already holds doorbells
 * enough: dropping one loses nothing); a message is the tag, its struct,
 * then its payload. */
enum { TAG_DOORBELL = 'd', TAG_MESSAGE = 'm' };

static int send_message(int channel, const void *msg, size_t size, const void *data,
                        size_t data_size)
{
    unsigned char tag = TAG_MESSAGE;
    int rc = weft_pf_send_all(channel, &tag, 1);
    if (rc == WEFT_OK)
        rc = weft_pf_send_all(channel, msg, size);
    if (rc == WEFT_OK && data_size)
        rc = weft_pf_send_all(channel, data, data_size);
    return rc;
}

static void ring_doorbell(int channel) { weft_pf_send_byte_nowait(channel, TAG_DOORBELL); }

/* Read a tag; WEFT_ESTATE when the other end is gone. */
static int read_tag(int channel, unsigned char *tag) { return weft_pf_recv_all(channel, tag, 1); }

/* On the wire, parent to child, then `size` bytes of payload. */
struct task_msg {
    uint32_t kind;
    uint32_t unused;
    uint64_t fn;
    uint64_t arg;
    uint64_t size;
};

/* Child to parent, then `size` bytes: the result bytes or error message. */
struct reply_msg {
    uint32_t kind;
    int32_t code;
    uint64_t value;
    uint64_t size;
    uint32_t has_bytes;
    uint32_t unused;
};

/* The page a worker shares with its parent.  The parent writes `task`
 * and `task_data`, then bumps task_seq; the worker writes `reply` and
 * `reply_data`, then bumps reply_seq.  Each writes its side only while the
 * other waits for it, so the sequence numbers are the only shared race. */
#define SHARED_PAGE 4096
#define TASK_INLINE 1024
struct shared_slot {
    _Atomic uint32_t task_seq;
    _Atomic uint32_t reply_seq;
    _Atomic uint32_t worker_spinning; /* 1 while the worker spins for a task */
    _Atomic uint32_t parent_spinning; /* threads of the parent taking replies */
    /* Written by the worker before it dies of its memory cap: the signal
     * that ends it, or OVER_CAP_EXITED; 0 otherwise (reset before a fork). */
    _Atomic int32_t over_cap;
    uint32_t unused;
    struct task_msg task;
    struct reply_msg reply;
    unsigned char task_data[TASK_INLINE];
    unsigned char reply_data[SHARED_PAGE - TASK_INLINE - 24 - sizeof(struct task_msg) -
                             sizeof(struct reply_msg)];
};
_Static_assert(sizeof(struct shared_slot) == SHARED_PAGE, "one page per worker");

/* shared_slot.over_cap: the worker ran out of its cap in weft's own code
 * (a large task's payload) and exits. */
#define OVER_CAP_EXITED (-1)

struct ptask {
    struct ptask *next;
    weft_future *future;
    struct task_msg msg;
    weft_bytes *payload; /* TASK_BYTES: a copy of the submitted bytes */
    int64_t started_ns;  /* when handed to a worker */
};

struct ppool;

struct slot {
    struct ppool *pool;
    struct shared_slot *shared;
    weft_lock own;                 /* taking replies, ending and replacing the child */
    _Atomic uint32_t replies_taken; /* shared replies taken (written under own) */
    uint32_t first_task_seq;        /* task_seq when the child was forked */
    /* Bumped (release) by whoever hands the child a task, read (acquire) by
     * whoever takes its reply: the hand-over really goes through the child,
     * where the parent's tools (ThreadSanitizer) cannot see it. */
    _Atomic uint32_t tasks_handed;
    weft_thread *minder;
    weft_pf_child child;
    bool alive;           /* a child is running in this slot */
    bool idle;            /* on the idle stack (under the pool lock) */
    /* A submitter is handing the task over (set under the pool lock,
     * cleared with a release store once it is done writing). */
    _Atomic bool sending;
    bool stopping;        /* its socket was closed for writing */
    struct slot *next_idle;
    struct ptask *task;   /* running task (pool lock) */
    long tasks_done;      /* by the current child */
    bool over_cap;        /* its child replied over its memory cap: it exits */
    int kill_reason;      /* 0, WEFT_ETIMEDOUT or WEFT_ECANCELLED */
    bool forced;          /* killed by terminate/kill_workers */
};

struct ppool {
    weft_executor base; /* first: the executor handle points here */
    weft_lock lock;
    struct ptask *head, *tail;
    size_t queued, running, completed;
    struct slot *idle;
    struct slot *slots;
    struct shared_slot *shared; /* nslots pages */
    _Atomic size_t pollers;     /* waiting threads polling the slots */
    size_t nslots, alive;
    bool shutting_down, broken, forced;
    long max_tasks_per_child;
    int64_t task_timeout_ns;
    size_t max_memory; /* 0: no cap */
    int (*initializer)(void *);
    void *initializer_arg;
    char name[48];
};

static struct ppool *pool_of(weft_executor *ex) { return (struct ppool *)ex; }

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

static bool serving_pool(const struct ppool *p)
{
    for (const struct serving *sv = serving; sv; sv = sv->outer)
        if (sv->pool == p)
            return true;
    return false;
}

static _Atomic unsigned long pool_counter;

/* A capped worker whose task failed with WEFT_ENOMEM ran into its cap (the
 * cap is what makes malloc return NULL there): the worker and its parent
 * both apply this rule to the same reply, so the worker exits after it and
 * the parent gives it no further task. */
static bool fails_over_cap(const struct ppool *p, int code)
{
    return p->max_memory && code == WEFT_ENOMEM;
}

/* ---- the child's side ------------------------------------------------------ */

/* The worker's reply: through the shared page when it fits, else (and
 * for an initializer failure) on the socket.  false: the parent is gone. */
static bool send_reply(int channel, struct shared_slot *sh, uint32_t kind, int code,
                       uint64_t value, const void *data, size_t size, bool has_bytes)
{
    struct reply_msg r = {.kind = kind, .code = code, .value = value, .size = size,
                          .has_bytes = has_bytes};
    if (kind != REPLY_INIT_FAILED && size <= sizeof sh->reply_data) {
        sh->reply = r;
        if (size)
            memcpy(sh->reply_data, data, size);
        atomic_fetch_add(&sh->reply_seq, 1); /* then look for a spinner */
        if (!atomic_load(&sh->parent_spinning))
            ring_doorbell(channel);
        return true;
    }
    return send_message(channel, &r, sizeof r, data, size) == WEFT_OK;
}

/* Run one task; false when the parent is gone, or when the task failed
 * over the worker's memory cap: the worker then exits. */
static bool serve_one(const struct ppool *p, int channel, struct shared_slot *sh,
                      const struct task_msg *m, void *payload)
{
    void *result;
    /* A crash with ENOMEM in errno is taken for the memory cap's: only
     * this task's failed allocations may leave it there. */
    errno = 0;
    if (m->kind == TASK_BYTES) {
        weft_bytes_fn fn = (weft_bytes_fn)(uintptr_t)m->fn;
        result = fn(payload, (size_t)m->size);
    } else {
        weft_task_fn fn = (weft_task_fn)(uintptr_t)m->fn;
        result = fn((void *)(uintptr_t)m->arg);
    }
    atomic_store(&sh->worker_spinning, 1); /* see worker_body */
    int code;
    char *message;
    if (weft_take_failure(result, &code, &message)) {
        bool ok = send_reply(channel, sh, REPLY_FAILED, code, 0, message,
                             message ? strlen(message) + 1 : 0, false);
        free(message);
        return ok && !fails_over_cap(p, code);
    }
    if (m->kind == TASK_BYTES) {
        weft_bytes *b = result;
        bool ok = send_reply(channel, sh, REPLY_RESULT, 0, 0, b ? b->data : NULL,
                             b ? b->size : 0, b != NULL);
        weft_bytes_free(b);
        return ok;
    }
    return send_reply(channel, sh, REPLY_RESULT, 0, (uint64_t)(uintptr_t)result, NULL, 0, false);
}

/* The worker's next task: from the shared page (spinning a while, then
 * sleeping until a doorbell) or in full from the socket.  *payload is the
 * shared page's copy or a malloc'd one (*owned).  false: the input ended. */
static bool next_task_in_worker(int channel, struct shared_slot *sh, uint32_t *seen,
                                struct task_msg *m, void **payload, bool *owned)
{
    *owned = false;
    for (;;) {
        atomic_store(&sh->worker_spinning, 1); /* (already 1 after a reply) */
        int64_t until = weft_pf_now_ns() + CHILD_SPIN_NS;
        for (unsigned i = 0; atomic_load_explicit(&sh->task_seq, memory_order_acquire) == *seen;
             i++) {
            if ((i & 63) == 63 && weft_pf_now_ns() >= until)
                break;
            weft_pf_cpu_relax();
        }
        atomic_store(&sh->worker_spinning, 0); /* then look once more */
        if (atomic_load(&sh->task_seq) != *seen) {
            (*seen)++;
            *m = sh->task;
            *payload = sh->task_data;
            return true;
        }
        unsigned char tag;
        if (read_tag(channel, &tag) != WEFT_OK)
            return false; /* shut down (or the parent is gone) */
        if (tag == TAG_DOORBELL)
            continue;
        if (weft_pf_recv_all(channel, m, sizeof *m) != WEFT_OK)
            return false;
        *payload = NULL;
        if (m->size) {
            *payload = malloc((size_t)m->size);
            *owned = true;
            if (!*payload)
                atomic_store(&sh->over_cap, OVER_CAP_EXITED); /* read only under a cap */
            if (!*payload || weft_pf_recv_all(channel, *payload, (size_t)m->size) != WEFT_OK)
                return false;
        }
        return true;
    }
}

static int worker_body(void *arg, int channel)
{
    struct slot *s = arg;
    struct ppool *p = s->pool;
    struct shared_slot *sh = s->shared;
    serving = NULL; /* the forking thread's (a minder's) belongs to the parent */
    /* A crash must end the worker, whatever handler the parent installed
     * (a crash reporter, a test framework): its minder reports it. */
    weft_pf_default_fatal_signals();
    /* The cap counts what the initializer maps too.  A worker that cannot
     * set it breaks the pool, as a failing initializer does. */
    if (p->max_memory && weft_pf_cap_memory(p->max_memory, &sh->over_cap) != WEFT_OK) {
        send_reply(channel, sh, REPLY_INIT_FAILED, WEFT_EBROKEN, 0, NULL, 0, false);
        return 1;
    }
    if (p->initializer && p->initializer(p->initializer_arg) != 0) {
        send_reply(channel, sh, REPLY_INIT_FAILED, WEFT_EBROKEN, 0, NULL, 0, false);
        return 1;
    }
    uint32_t seen = s->first_task_seq;
    for (long done = 0; !p->max_tasks_per_child || done < p->max_tasks_per_child; done++) {
        struct task_msg m;
        void *payload;
        bool owned;
        if (!next_task_in_worker(channel, sh, &seen, &m, &payload, &owned))
            return 0;
        /* Spinning for the next task counts from before the reply is
         * published: else the parent, answering at once, would ring a
         * doorbell the worker never needs. */
        bool ok = serve_one(p, channel, sh, &m, payload);
        if (owned)
            free(payload);
        if (!ok)
            return 0; /* (over the cap: its memory may be full or leaked) */
    }
    return 0; /* max_tasks_per_child reached: the minder starts another */
}

/* ---- the parent's side ----------------------------------------------------- */

static void free_task(struct ptask *t)
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
static void send_task(struct slot *s, struct ptask *t)
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
static struct ptask *detach_all_locked(struct ppool *p)
{
    struct ptask *all = p->head;
    p->head = p->tail = NULL;
    p->queued = 0;
    return all;
}

/* Lock not held (futures may run done-callbacks): end detached tasks, with
 * an error, or as cancelled for those whose cancel was asked. */
static void finish_detached(struct ptask *list, int code, const char *why)
{
    for (struct ptask *t = list, *next; t; t = next) {
        next = t->next;
        if (weft_future_set_running_or_notify_cancel(t->future) == WEFT_OK)
            weft_future_set_exception(t->future, code, "%s", why);
        free_task(t);
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
static void stop_child_locked(struct slot *s)
{
    if (s->alive && !s->stopping) {
        s->stopping = true;
        weft_pf_shutdown_write(s->child.channel);
    }
}

/* Mark the pool broken (lock held); returns the queued tasks, for the
 * caller to fail with finish_detached once it has unlocked. */
static struct ptask *break_pool_locked(struct ppool *p)
{
    if (p->broken)
        return NULL;
    p->broken = true;
    for (struct slot *s = p->idle; s; s = s->next_idle)
        stop_child_locked(s);
    return detach_all_locked(p);
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

static int fork_worker(struct slot *s)
{
    s->tasks_done = 0;
    s->kill_reason = 0;
    s->stopping = false;
    s->over_cap = false;
    atomic_store(&s->shared->over_cap, 0); /* the old child is reaped */
    /* The child counts tasks from here: read before the fork, as a task
     * given right after it may bump the count before the child runs. */
    s->first_task_seq = atomic_load(&s->shared->task_seq);
    int rc = weft_pf_fork_child(worker_body, s, true, &s->child);
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
            free_task(given);
        }
        finish_detached(queued, WEFT_EBROKEN, why);
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
    free_task(t);
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
                stop_child_locked(s);
            else if (!retiring)
                push_idle_locked(p, s);
            weft_lock_release(&p->lock);
            return;
        }
        weft_lock_release(&p->lock);
        if (weft_future_set_running_or_notify_cancel(t->future) != WEFT_OK) {
            free_task(t); /* cancelled while queued */
            continue;
        }
        weft_lock_take(&p->lock);
        t->started_ns = weft_pf_now_ns(); /* before the minder can see it */
        s->task = t;
        p->running++;
        weft_lock_release(&p->lock);
        send_task(s, t);
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
    int rc = fork_worker(s);
    struct ptask *queued = NULL;
    weft_lock_take(&p->lock);
    if (rc == WEFT_OK)
        p->alive++;
    else
        queued = break_pool_locked(p);
    weft_lock_release(&p->lock);
    finish_detached(queued, WEFT_EBROKEN, why);
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
        free_task(lost);
    }
    weft_lock_take(&s->own);
    return replaced;
}

static void *minder_main(void *arg)
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
static void poll_pool(void *ctx, int phase)
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
    bool may_wait = last && !serving_pool(p);
    struct serving sv;
    serving_begin(&sv, p);
    for (size_t i = 0; i < p->nslots; i++)
        take_shared_reply(&p->slots[i], may_wait);
    serving_end(&sv);
    if (last)
        atomic_fetch_sub(&p->pollers, 1);
}

/* ---- the executor operations ------------------------------------------------ */

static int new_task(struct ppool *p, weft_future **out, uint32_t kind, uintptr_t fn,
                    uintptr_t arg, const void *data, size_t size, struct ptask **task)
{
    struct ptask *t = calloc(1, sizeof *t);
    if (!t)
        return WEFT_ENOMEM;
    if (kind == TASK_BYTES && !(t->payload = weft_bytes_new(data, size))) {
        free(t);
        return WEFT_ENOMEM;
    }
    if (weft_future_new(&t->future) != WEFT_OK) {
        weft_bytes_free(t->payload);
        free(t);
        return WEFT_ENOMEM;
    }
    weft_future_set_poller(t->future, poll_pool, p);
    t->msg = (struct task_msg){.kind = kind, .fn = fn, .arg = arg, .size = size};
    if (out)
        *out = weft_future_ref(t->future);
    *task = t;
    return WEFT_OK;
}

/* Hand t to an idle worker (writing to its socket here) or queue it. */
static int submit_task(struct ppool *p, struct ptask *t, weft_future **out)
{
    weft_lock_take(&p->lock);
    int rc = p->broken ? WEFT_EBROKEN : p->shutting_down || p->forced ? WEFT_ESHUTDOWN : WEFT_OK;
    struct slot *s = NULL;
    if (rc == WEFT_OK && (s = p->idle)) {
        p->idle = s->next_idle;
        s->idle = false;
        atomic_store_explicit(&s->sending, true, memory_order_relaxed);
        t->started_ns = weft_pf_now_ns(); /* before the minder can see it */
        s->task = t;
        p->running++;
        weft_future_set_running_or_notify_cancel(t->future);
    } else if (rc == WEFT_OK) {
        t->next = NULL;
        if (p->tail)
            p->tail->next = t;
        else
            p->head = t;
        p->tail = t;
        p->queued++;
    }
    weft_lock_release(&p->lock);
    if (rc != WEFT_OK) {
        if (out) {
            weft_future_release(*out);
            *out = NULL; /* no future on a failed submit */
        }
        free_task(t);
        return rc;
    }
    if (s) {
        send_task(s, t);
        atomic_store_explicit(&s->sending, false, memory_order_release);
    }
    return WEFT_OK;
}

static int ppool_submit(weft_executor *ex, weft_task_fn fn, void *arg, int64_t deadline,
                        weft_future **future)
{
    (void)deadline; /* the queue is unbounded */
    struct ptask *t;
    int rc = new_task(pool_of(ex), future, TASK_PLAIN, (uintptr_t)fn, (uintptr_t)arg, NULL, 0, &t);
    return rc == WEFT_OK ? submit_task(pool_of(ex), t, future) : rc;
}

/* Join every minder (each ends once its worker is reaped), or give up at
 * the deadline (or at cancellation): see weft_executor_join_thread. */
static int join_minders(struct ppool *p, int64_t deadline, bool cancellable)
{
    for (size_t i = 0; i < p->nslots; i++) {
        int rc = weft_executor_join_thread(p->slots[i].minder, deadline, cancellable);
        if (rc != WEFT_OK)
            return rc;
    }
    return WEFT_OK;
}

/* Cancel every queued task's future and take them out (lock held): the
 * caller notifies them with finish_detached after unlocking. */
static struct ptask *cancel_queued_locked(struct ppool *p)
{
    for (struct ptask *t = p->head; t; t = t->next)
        weft_future_cancel(t->future);
    return detach_all_locked(p);
}

static int ppool_shutdown(weft_executor *ex, bool wait, int64_t deadline, bool cancel_futures)
{
    struct ppool *p = pool_of(ex);
    weft_lock_take(&p->lock);
    p->shutting_down = true;
    struct ptask *queued = cancel_futures ? cancel_queued_locked(p) : NULL;
    for (struct slot *s = p->idle; s; s = s->next_idle)
        stop_child_locked(s);
    weft_lock_release(&p->lock);
    finish_detached(queued, WEFT_ECANCELLED, "cancelled at shutdown");
    /* From a done-callback on a thread taking this pool's replies, waiting
     * could wait for that very thread (or a lock it holds): do not. */
    return wait && !serving_pool(p) ? join_minders(p, deadline, true) : WEFT_OK;
}

/* Its workers are other processes; what may not free the pool is a
 * done-callback running on a thread taking its replies. */
static bool ppool_is_worker(weft_executor *ex) { return serving_pool(pool_of(ex)); }

static void ppool_destroy(weft_executor *ex)
{
    struct ppool *p = pool_of(ex);
    join_minders(p, WEFT_NO_DEADLINE, false);
    while (atomic_load(&p->pollers)) /* a waiter still polling, its future done */
        weft_pf_yield();
    for (size_t i = 0; i < p->nslots; i++)
        weft_thread_free(p->slots[i].minder);
    weft_pf_shared_free(p->shared, p->nslots * sizeof *p->shared);
    free(p->slots);
    free(p);
}

static void ppool_stats(weft_executor *ex, weft_executor_stats *st)
{
    struct ppool *p = pool_of(ex);
    weft_lock_take(&p->lock);
    st->workers = p->alive;
    st->queued = p->queued;
    st->running = p->running;
    st->completed = p->completed;
    st->idle = 0;
    for (struct slot *s = p->idle; s; s = s->next_idle)
        st->idle++;
    st->max_workers = (long)p->nslots;
    st->queued_seconds = 0;
    weft_lock_release(&p->lock);
}

static const struct weft_executor_ops process_pool_ops = {
    .submit = ppool_submit,
    .shutdown = ppool_shutdown,
    .is_worker = ppool_is_worker,
    .destroy = ppool_destroy,
    .stats = ppool_stats,
    .resize = NULL,
};

static bool is_process_pool(weft_executor *ex) { return ex && ex->ops == &process_pool_ops; }

/* Fork the workers and start their minders. */
static int start_workers(struct ppool *p)
{
    for (size_t i = 0; i < p->nslots; i++) {
        struct slot *s = &p->slots[i];
        s->pool = p;
        s->shared = &p->shared[i];
        weft_lock_init(&s->own);
        int rc = fork_worker(s);
        if (rc != WEFT_OK)
            return rc;
        weft_lock_take(&p->lock); /* earlier minders already run */
        p->alive++;
        weft_lock_release(&p->lock);
        char name[96];
        snprintf(name, sizeof name, "%s_minder_%zu", p->name, i);
        weft_thread_options o = {.name = name, .daemon = WEFT_NON_DAEMON};
        rc = weft_thread_new(&s->minder, minder_main, s, &o);
        if (rc == WEFT_OK) {
            weft_thread_set_managed(s->minder);
            rc = weft_thread_start(s->minder);
            if (rc != WEFT_OK) {
                weft_thread_free(s->minder);
                s->minder = NULL;
            }
        }
        if (rc != WEFT_OK) {
            /* this child has no minder: stop and reap it here */
            weft_pf_shutdown_write(s->child.channel);
            int code;
            weft_pf_reap(s->child.pid, true, &code);
            weft_pf_close(s->child.channel);
            weft_pf_close(s->child.watch_fd);
            s->alive = false;
            weft_lock_take(&p->lock);
            p->alive--;
            weft_lock_release(&p->lock);
            return rc;
        }
    }
    return WEFT_OK;
}

/* 0 (no cap), or a cap this build can set that is not absurdly small or
 * a negative number converted. */
static bool valid_max_memory(size_t bytes)
{
    return !bytes || (bytes >= WEFT_PROCESS_POOL_MIN_MEMORY && bytes <= SIZE_MAX / 2 &&
                      weft_pf_memory_cap_supported());
}

int weft_process_pool_new(weft_executor **executor, const weft_process_pool_options *options)
{
    if (executor)
        *executor = NULL; /* what it holds on every status but WEFT_OK */
    static const weft_process_pool_options defaults;
    if (!options)
        options = &defaults;
    if (!executor || options->max_workers < 0 || options->max_tasks_per_child < 0 ||
        !(options->task_timeout >= 0) || !valid_max_memory(options->max_memory))
        return WEFT_EINVAL;
    weft_install_fork_handlers();
    struct ppool *p = calloc(1, sizeof *p);
    size_t n = options->max_workers ? (size_t)options->max_workers
                                    : (size_t)weft_pf_cpu_count();
    if (p)
        p->slots = calloc(n, sizeof *p->slots);
    if (p && p->slots)
        p->shared = weft_pf_shared_alloc(n * sizeof *p->shared);
    if (!p || !p->slots || !p->shared) {
        if (p)
            free(p->slots);
        free(p);
        return WEFT_ENOMEM;
    }
    weft_lock_init(&p->lock);
    p->nslots = n;
    p->max_tasks_per_child = options->max_tasks_per_child;
    double ns = options->task_timeout * 1e9;
    p->task_timeout_ns = ns >= (double)INT64_MAX ? INT64_MAX : (int64_t)ns;
    p->max_memory = options->max_memory;
    p->initializer = options->initializer;
    p->initializer_arg = options->initializer_arg;
    snprintf(p->name, sizeof p->name, "ProcessPoolExecutor-%lu",
             atomic_fetch_add(&pool_counter, 1));
    int rc = start_workers(p);
    weft_executor_register(&p->base, &process_pool_ops, p->name);
    if (rc != WEFT_OK) {
        weft_executor_free(&p->base); /* shuts down the ones started */
        return rc;
    }
    *executor = &p->base;
    return WEFT_OK;
}

int weft_process_pool_submit_bytes(weft_executor *executor, weft_bytes_fn fn, const void *data,
                                   size_t size, weft_future **future)
{
    if (future)
        *future = NULL; /* what it holds on every status but WEFT_OK */
    if (!is_process_pool(executor) || !fn || (!data && size))
        return WEFT_EINVAL;
    struct ptask *t;
    int rc = new_task(pool_of(executor), future, TASK_BYTES, (uintptr_t)fn, 0, data, size, &t);
    return rc == WEFT_OK ? submit_task(pool_of(executor), t, future) : rc;
}

int weft_future_result_bytes_timeout(weft_future *future, double timeout,
                                     const weft_bytes **result)
{
    void *r = NULL;
    int rc = weft_future_result_timeout(future, timeout, &r);
    if (rc == WEFT_OK && !weft_future_owns_result(future))
        rc = WEFT_EINVAL; /* finished, but not with bytes */
    if (result)
        *result = rc == WEFT_OK ? r : NULL;
    return rc;
}

int weft_future_result_bytes(weft_future *future, const weft_bytes **result)
{
    return weft_future_result_bytes_timeout(future, WEFT_FOREVER, result);
}

static int stop_workers(weft_executor *executor, int how)
{
    if (!is_process_pool(executor))
        return WEFT_EINVAL;
    struct ppool *p = pool_of(executor);
    weft_lock_take(&p->lock);
    p->forced = true;
    p->shutting_down = true;
    struct ptask *queued = cancel_queued_locked(p);
    for (size_t i = 0; i < p->nslots; i++) {
        struct slot *s = &p->slots[i];
        if (!s->alive)
            continue;
        s->forced = true;
        weft_pf_signal(s->child.pid, how);
    }
    weft_lock_release(&p->lock);
    finish_detached(queued, WEFT_ECANCELLED, "cancelled: the pool's workers were stopped");
    atomic_store(&p->base.shut_down, true);
    return WEFT_OK;
}

int weft_process_pool_terminate_workers(weft_executor *executor)
{
    return stop_workers(executor, WEFT_PF_SIGTERM);
}

int weft_process_pool_kill_workers(weft_executor *executor)
{
    return stop_workers(executor, WEFT_PF_SIGKILL);
}
