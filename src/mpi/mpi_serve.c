/* SPDX-License-Identifier: MIT */
/* mpi_serve.c — a serving rank: greeted by a client, it starts a weft
 * process pool of its own, runs each task the client sends in it (so a
 * crash kills a forked child, not the rank) and sends each result back as
 * soon as it is known; cancels and the pool's end come as messages too.
 *
 * One thread does the MPI side.  Results come from the process pool's
 * done-callbacks (on whichever thread completes the future), which queue
 * them and wake the serving thread if it naps.  While tasks run and
 * events are recent, the serving thread waits on its oldest task's future
 * for a few microseconds at a time: that wait takes the process pool's
 * replies itself (its poller), so a short task costs no thread wake-up.
 * With run_in_rank there is no process pool: the serving thread runs each
 * task itself as it arrives and answers at once. */
#include "mpi_internal.h"
#include "task_internal.h"

#include "weft/process_pool.h"
#include "weft/status.h"
#include "weft/time.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct srec { /* one task this rank runs */
    weft_list_node link;      /* the running list (serving thread only) */
    struct srec *done_next;   /* the done list (under the server's lock) */
    struct server *server;
    uint64_t id;
    uint32_t kind;
    weft_future *future;
};

struct server {
    MPI_Comm comm;
    int client, rank;
    weft_executor *pool;
    long *fn_map; /* the client's registry index -> ours */
    uint32_t *fn_kind;
    size_t nfn;
    weft_list running;   /* struct srec, oldest first */
    weft_lock lock;      /* guards done_head/done_tail */
    struct srec *done_head, *done_tail;
    weft_event wake;
    struct mpi_sends sends;
    bool released, exit_after, broken;
    bool in_rank; /* tasks run here, one at a time, no process pool */
};

static void on_done(weft_future *f, void *arg)
{
    (void)f;
    struct srec *r = arg;
    struct server *s = r->server;
    weft_lock_acquire(&s->lock);
    r->done_next = NULL;
    if (s->done_tail)
        s->done_tail->done_next = r;
    else
        s->done_head = r;
    s->done_tail = r;
    weft_lock_release(&s->lock);
    weft_event_set(&s->wake); /* r may be gone now: s is not */
}

/* Send one result (held: weft__mpi_lock). */
static void send_result(struct server *s, uint64_t id, const struct wire_result *res,
                        const void *payload, size_t size)
{
    size_t len;
    struct wire_result h = *res;
    h.id = id;
    void *msg = weft__mpi_message(&h, sizeof h, payload, size, &len);
    if (!msg) { /* too big or no memory: say so instead */
        static const char why[] = "the result could not be sent: out of memory or over 2 GiB";
        h = (struct wire_result){.id = id, .code = WEFT_ENOMEM, .kind = RESULT_FAILED};
        msg = weft__mpi_message(&h, sizeof h, why, sizeof why, &len);
        if (!msg) {
            s->broken = true;
            return;
        }
    }
    if (weft__mpi_send(&s->sends, s->comm, s->client, TAG_RESULT, msg, len) != WEFT_OK)
        s->broken = true;
}

static void send_failure(struct server *s, uint64_t id, int code, const char *message)
{
    struct wire_result res = {.code = code, .kind = RESULT_FAILED};
    send_result(s, id, &res, message, strlen(message) + 1);
}

/* The pool's own failures name the rank: the user's weft_fail messages
 * come back as they were raised. */
static bool pool_made(int code)
{
    return code == WEFT_EBROKEN || code == WEFT_ETIMEDOUT || code == WEFT_ECANCELLED ||
           code == WEFT_ENOMEM;
}

static void report(struct server *s, struct srec *r)
{
    weft_future *f = r->future;
    int code = weft_future_error_code(f);
    if (weft_future_cancelled(f)) {
        send_failure(s, r->id, WEFT_ECANCELLED, "cancelled before it started");
    } else if (code) {
        char message[512];
        if (pool_made(code))
            snprintf(message, sizeof message, "rank %d: %s", s->rank,
                     weft_future_error_message(f));
        else
            snprintf(message, sizeof message, "%s", weft_future_error_message(f));
        send_failure(s, r->id, code, message);
    } else if (r->kind == FN_BYTES) {
        const weft_bytes *b = NULL;
        weft_future_result_bytes(f, &b);
        struct wire_result res = {.kind = b ? RESULT_BYTES : RESULT_NO_BYTES};
        send_result(s, r->id, &res, b ? b->data : NULL, b ? b->size : 0);
    } else {
        void *v = NULL;
        weft_future_result(f, &v);
        struct wire_result res = {.kind = RESULT_VALUE, .value = (uint64_t)(uintptr_t)v};
        send_result(s, r->id, &res, NULL, 0);
    }
}

/* Send the results the callbacks queued (held: weft__mpi_lock). */
static bool send_done(struct server *s)
{
    weft_lock_acquire(&s->lock);
    struct srec *r = s->done_head;
    s->done_head = s->done_tail = NULL;
    weft_lock_release(&s->lock);
    bool any = r != NULL;
    while (r) {
        struct srec *next = r->done_next;
        report(s, r);
        weft__list_remove(&r->link);
        weft_future_release(r->future);
        free(r);
        r = next;
    }
    return any;
}

struct bytes_call {
    weft_bytes_fn fn;
    const void *data;
    size_t size;
};

static void *call_bytes_fn(void *arg)
{
    struct bytes_call *c = arg;
    return c->fn(c->data, c->size);
}

/* Run a task in this thread (run_in_rank), as a task (weft_fail records
 * its failure), and answer at once. */
static void run_here(struct server *s, const struct wire_task *t, struct mpi_function fn,
                     const void *payload, size_t size)
{
    struct bytes_call call = {fn.bytes_fn, payload, size};
    weft_task_outcome o = t->kind == FN_BYTES
                              ? weft__task_run(call_bytes_fn, &call, NULL)
                              : weft__task_run(fn.task_fn, (void *)(uintptr_t)t->value, NULL);
    void *out = o.result;
    if (o.code || out == WEFT_FAILED) {
        send_failure(s, t->id, o.code ? o.code : WEFT_EFAILED,
                     o.message ? o.message : "task failed");
        free(o.message);
    } else if (t->kind == FN_BYTES) {
        weft_bytes *b = out;
        struct wire_result res = {.kind = b ? RESULT_BYTES : RESULT_NO_BYTES};
        send_result(s, t->id, &res, b ? b->data : NULL, b ? b->size : 0);
        weft_bytes_free(b);
    } else {
        struct wire_result res = {.kind = RESULT_VALUE, .value = (uint64_t)(uintptr_t)out};
        send_result(s, t->id, &res, NULL, 0);
    }
}

static void start_task(struct server *s, const struct mpi_message *m)
{
    struct wire_task t;
    if (m->len < sizeof t) {
        s->broken = true;
        return;
    }
    memcpy(&t, m->buf, sizeof t);
    const unsigned char *payload = (const unsigned char *)m->buf + sizeof t;
    size_t size = m->len - sizeof t;
    if (t.fn >= s->nfn || s->fn_kind[t.fn] != t.kind) {
        send_failure(s, t.id, WEFT_EINVAL, "no such function in this rank");
        return;
    }
    struct mpi_function fn = weft__mpi_function_at((size_t)s->fn_map[t.fn]);
    if (s->in_rank) {
        run_here(s, &t, fn, payload, size);
        return;
    }
    struct srec *r = calloc(1, sizeof *r);
    if (!r) {
        send_failure(s, t.id, WEFT_ENOMEM, "out of memory in the serving rank");
        return;
    }
    *r = (struct srec){.server = s, .id = t.id, .kind = t.kind};
    int rc = t.kind == FN_BYTES
                 ? weft_process_pool_submit_bytes(s->pool, fn.bytes_fn, payload, size, &r->future)
                 : weft_executor_submit(s->pool, fn.task_fn, (void *)(uintptr_t)t.value,
                                        &r->future);
    if (rc != WEFT_OK) {
        free(r);
        send_failure(s, t.id, rc, "the serving rank could not start the task");
        return;
    }
    weft__list_push_back(&s->running, &r->link); /* before the callback can run */
    if (weft_future_add_done_callback(r->future, on_done, r) != WEFT_OK)
        s->broken = true; /* its answer would never be sent: end the job instead */
}

static void cancel_task(struct server *s, const struct mpi_message *m)
{
    uint64_t id;
    if (m->len < sizeof id)
        return;
    memcpy(&id, m->buf, sizeof id);
    WEFT_LIST_FOR_EACH(node, next, &s->running) {
        struct srec *r = WEFT_LIST_ENTRY(node, struct srec, link);
        if (r->id == id) {
            weft_future_cancel(r->future); /* a running one: its child is killed */
            return;
        }
    }
}

/* Take every message the client sent (held: weft__mpi_lock). */
static bool take_messages(struct server *s)
{
    bool any = false;
    for (;;) {
        struct mpi_message m;
        bool got;
        if (weft__mpi_receive(s->comm, s->client, MPI_ANY_TAG, &m, &got) != WEFT_OK)
            s->broken = true;
        if (!got || s->broken)
            return any;
        any = true;
        if (m.tag == TAG_TASK)
            start_task(s, &m);
        else if (m.tag == TAG_CANCEL)
            cancel_task(s, &m);
        else if (m.tag == TAG_RELEASE || m.tag == TAG_EXIT) {
            s->released = true;
            s->exit_after = m.tag == TAG_EXIT;
        }
        free(m.buf);
        if (s->released) /* what follows is the next pool's greeting */
            return true;
    }
}

/* The oldest task not yet reported, or NULL. */
static weft_future *oldest_running(struct server *s)
{
    weft_list_node *first = weft__list_first(&s->running);
    return first ? WEFT_LIST_ENTRY(first, struct srec, link)->future : NULL;
}

static void serve_tasks(struct server *s)
{
    struct mpi_backoff b;
    weft__mpi_backoff_reset(&b);
    while (!s->released && !s->broken) {
        weft_lock_acquire(&weft__mpi_lock);
        bool did = weft__mpi_sends_progress(&s->sends) != WEFT_OK ? (s->broken = true) : false;
        did |= take_messages(s);
        did |= send_done(s);
        weft_lock_release(&weft__mpi_lock);
        weft_future *oldest = oldest_running(s);
        if (did) {
            weft__mpi_backoff_reset(&b);
        } else if (oldest && weft__mpi_backoff_spinning(&b)) {
            int code;
            const char *message;
            weft_future_ref(oldest); /* a callback may report it meanwhile */
            weft_future_exception_timeout(oldest, 0, &code, &message); /* takes replies */
            weft_future_release(oldest);
            sched_yield(); /* the child may need this CPU */
        } else {
            weft__mpi_backoff_idle(&b, &s->wake);
        }
    }
}

/* Read the greeting: map the client's functions to ours, start the
 * process pool.  WEFT_OK, or why not (detail: the missing name). */
static int accept_hello(struct server *s, const struct mpi_message *m, char *detail)
{
    struct wire_hello h;
    if (m->len < sizeof h)
        return WEFT_EINVAL;
    memcpy(&h, m->buf, sizeof h);
    if ((m->len - sizeof h) / sizeof(struct wire_name) < h.nfunctions)
        return WEFT_EINVAL;
    s->nfn = h.nfunctions;
    s->fn_map = calloc(s->nfn ? s->nfn : 1, sizeof *s->fn_map);
    s->fn_kind = calloc(s->nfn ? s->nfn : 1, sizeof *s->fn_kind);
    if (!s->fn_map || !s->fn_kind)
        return WEFT_ENOMEM;
    const unsigned char *names = (const unsigned char *)m->buf + sizeof h;
    for (size_t i = 0; i < s->nfn; i++) {
        struct wire_name n;
        memcpy(&n, names + i * sizeof n, sizeof n);
        n.name[WEFT_MPI_NAME_MAX] = '\0';
        s->fn_kind[i] = n.kind;
        if ((s->fn_map[i] = weft__mpi_find_name(n.name, (int)n.kind)) < 0) {
            strcpy(detail, n.name);
            return WEFT_EINVAL;
        }
    }
    if ((s->in_rank = h.in_rank))
        return WEFT_OK; /* no process pool */
    weft_process_pool_options po = {.max_workers = h.workers,
                                    .max_tasks_per_child = h.max_tasks_per_child,
                                    .task_timeout = h.task_timeout,
                                    .max_memory = h.max_memory};
    return weft_process_pool_new(&s->pool, &po);
}

static void end_pool(struct server *s)
{
    bool unanswered = !weft__list_empty(&s->running);
    WEFT_LIST_FOR_EACH(node, next, &s->running) /* released early: nobody wants them */
        weft_future_cancel(WEFT_LIST_ENTRY(node, struct srec, link)->future);
    if (s->pool)
        weft_executor_free(s->pool); /* every callback has run after this */
    weft_lock_acquire(&weft__mpi_lock);
    for (weft_list_node *node; (node = weft__list_pop_front(&s->running));) {
        struct srec *r = WEFT_LIST_ENTRY(node, struct srec, link);
        weft_future_release(r->future);
        free(r);
    }
    /* Released with answers unsent, the client takes no more: waiting for
     * a large one could wait forever. */
    weft__mpi_sends_finish(&s->sends, s->broken || unanswered);
    weft_lock_release(&weft__mpi_lock);
    free(s->fn_map);
    free(s->fn_kind);
}

static void wait_for_release(struct server *s)
{
    while (!s->released) {
        struct mpi_message m;
        if (weft__mpi_receive_wait(s->comm, s->client, MPI_ANY_TAG, -1, &m) != WEFT_OK) {
            s->broken = true;
            return;
        }
        s->released = m.tag == TAG_RELEASE || m.tag == TAG_EXIT;
        s->exit_after = m.tag == TAG_EXIT;
        free(m.buf);
    }
}

/* Serve the pool the greeting in m starts.  Returns whether to exit;
 * *broken when it cannot go on. */
static bool serve_pool(MPI_Comm comm, int client, const struct mpi_message *m, bool *broken)
{
    struct server s = {.comm = comm, .client = client};
    MPI_Comm_rank(comm, &s.rank);
    weft__list_init(&s.running);
    weft_lock_init(&s.lock);
    weft_event_init(&s.wake);
    struct wire_ready ready = {0};
    ready.code = accept_hello(&s, m, ready.detail);
    struct wire_hello h = {0};
    if (m->len >= sizeof h)
        memcpy(&h, m->buf, sizeof h);
    ready.epoch = h.epoch;
    if (weft__mpi_send_now(comm, client, TAG_READY, &ready, sizeof ready) != WEFT_OK)
        s.broken = true;
    if (ready.code == WEFT_OK && !s.broken)
        serve_tasks(&s);
    else if (!s.broken)
        wait_for_release(&s); /* the client releases every rank it greeted */
    end_pool(&s);
    *broken = s.broken;
    return s.exit_after || s.broken;
}

bool weft__mpi_serve(MPI_Comm comm, int client, bool one_pool)
{
    for (;;) {
        struct mpi_message m;
        if (weft__mpi_receive_wait(comm, client, MPI_ANY_TAG, -1, &m) != WEFT_OK)
            return false;
        bool broken = false;
        /* A spawned worker released before its greeting (the client's
         * spawn or greeting failed) ends too. */
        bool stop = m.tag == TAG_EXIT || (one_pool && m.tag == TAG_RELEASE);
        if (m.tag == TAG_HELLO)
            stop = serve_pool(comm, client, &m, &broken) || one_pool;
        free(m.buf); /* anything else is left from a pool that is over */
        if (broken)
            return false;
        if (stop)
            return true;
    }
}
