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
 * With max_memory the child caps its own memory (weft__pf_cap_memory): a
 * task that fails with WEFT_ENOMEM there, or that crashes after an
 * allocation was refused, is reported as over the cap and its worker is
 * replaced.
 * Shutting down closes each idle child's socket for writing: the child sees
 * the end of its input and exits; its minder reaps it and leaves.
 *
 * The files, each using only those below it: this one (the executor
 * operations) -> process_pool_poll.c (the waiters' poller) ->
 * process_pool_minder.c (the parent's side of each worker) ->
 * process_pool_child.c (the worker's loop) -> process_pool_wire.c (the
 * messages and the shared page); process_pool_state.h holds the parent's
 * records that the upper three share.
 */
#include "executor_internal.h"
#include "future_internal.h"
#include "platform/platform.h"
#include "platform/process.h"
#include "process_pool_minder.h"
#include "process_pool_poll.h"
#include "process_pool_state.h"
#include "lock_internal.h"
#include "thread_internal.h"
#include "weft/process_pool.h"
#include "weft/status.h"
#include "weft/thread.h"
#include "weft/time.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic unsigned long pool_counter;

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
    weft__future_set_poller(t->future, weft__ppool_poll, p);
    t->msg = (struct task_msg){.kind = kind, .fn = fn, .arg = arg, .size = size};
    if (out)
        *out = weft_future_ref(t->future);
    *task = t;
    return WEFT_OK;
}

/* Hand t to an idle worker (writing to its socket here) or queue it. */
static int submit_task(struct ppool *p, struct ptask *t, weft_future **out)
{
    weft__lock_take(&p->lock);
    int rc = p->broken ? WEFT_EBROKEN : p->shutting_down || p->forced ? WEFT_ESHUTDOWN : WEFT_OK;
    struct slot *s = NULL;
    if (rc == WEFT_OK && (s = p->idle)) {
        p->idle = s->next_idle;
        s->idle = false;
        weft__ppool_begin_sending_locked(s);
        t->started_ns = weft__pf_now_ns(); /* before the minder can see it */
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
        weft__ppool_free_task(t);
        return rc;
    }
    if (s) {
        weft__ppool_send_task(s, t);
        weft__ppool_end_sending(s);
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
 * the deadline (or at cancellation): see weft__executor_join_thread. */
static int join_minders(struct ppool *p, int64_t deadline, bool cancellable)
{
    for (size_t i = 0; i < p->nslots; i++) {
        int rc = weft__executor_join_thread(p->slots[i].minder, deadline, cancellable);
        if (rc != WEFT_OK)
            return rc;
    }
    return WEFT_OK;
}

/* Cancel every queued task's future and take them out (lock held): the
 * caller notifies them with weft__ppool_finish_detached after unlocking. */
static struct ptask *cancel_queued_locked(struct ppool *p)
{
    for (struct ptask *t = p->head; t; t = t->next)
        weft_future_cancel(t->future);
    return weft__ppool_detach_all_locked(p);
}

static int ppool_shutdown(weft_executor *ex, bool wait, int64_t deadline, bool cancel_futures)
{
    struct ppool *p = pool_of(ex);
    weft__lock_take(&p->lock);
    p->shutting_down = true;
    struct ptask *queued = cancel_futures ? cancel_queued_locked(p) : NULL;
    for (struct slot *s = p->idle; s; s = s->next_idle)
        weft__ppool_stop_child_locked(s);
    weft_lock_release(&p->lock);
    weft__ppool_finish_detached(queued, WEFT_ECANCELLED, "cancelled at shutdown");
    /* From a done-callback on a thread taking this pool's replies, waiting
     * could wait for that very thread (or a lock it holds): do not. */
    return wait && !weft__ppool_serving(p) ? join_minders(p, deadline, true) : WEFT_OK;
}

/* Its workers are other processes; what may not free the pool is a
 * done-callback running on a thread taking its replies. */
static bool ppool_is_worker(weft_executor *ex) { return weft__ppool_serving(pool_of(ex)); }

static void ppool_destroy(weft_executor *ex)
{
    struct ppool *p = pool_of(ex);
    join_minders(p, WEFT_NO_DEADLINE, false);
    /* A waiter still polling, its future done, has its last look at the
     * slots to finish.  Yield, not park: its decrement must be its last
     * touch of the pool, and a wake-up after it would reach freed memory. */
    while (atomic_load(&p->pollers))
        weft__pf_yield();
    for (size_t i = 0; i < p->nslots; i++)
        weft_thread_free(p->slots[i].minder);
    weft__pf_shared_free(p->shared, p->nslots * sizeof *p->shared);
    free(p->slots);
    free(p);
}

static void ppool_stats(weft_executor *ex, weft_executor_stats *st)
{
    struct ppool *p = pool_of(ex);
    weft__lock_take(&p->lock);
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
        int rc = weft__ppool_fork_worker(s);
        if (rc != WEFT_OK)
            return rc;
        weft__lock_take(&p->lock); /* earlier minders already run */
        p->alive++;
        weft_lock_release(&p->lock);
        char name[96];
        snprintf(name, sizeof name, "%s_minder_%zu", p->name, i);
        weft_thread_options o = {.name = name, .daemon = WEFT_NON_DAEMON};
        rc = weft_thread_new(&s->minder, weft__ppool_minder_main, s, &o);
        if (rc == WEFT_OK) {
            weft__thread_set_managed(s->minder);
            rc = weft_thread_start(s->minder);
            if (rc != WEFT_OK) {
                weft_thread_free(s->minder);
                s->minder = NULL;
            }
        }
        if (rc != WEFT_OK) {
            /* this child has no minder: stop and reap it here */
            weft__pf_shutdown_write(s->child.channel);
            int code;
            weft__pf_reap(s->child.pid, true, &code);
            weft__pf_close(s->child.channel);
            weft__pf_close(s->child.watch_fd);
            s->alive = false;
            weft__lock_take(&p->lock);
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
                      weft__pf_memory_cap_supported());
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
    /* Before the first fork: the workers must be forked with weft's fork
     * handlers in place. */
    int rc = weft__executor_install_hooks();
    if (rc != WEFT_OK)
        return rc;
    struct ppool *p = calloc(1, sizeof *p);
    size_t n = options->max_workers ? (size_t)options->max_workers
                                    : (size_t)weft__pf_cpu_count();
    if (p)
        p->slots = calloc(n, sizeof *p->slots);
    if (p && p->slots)
        p->shared = weft__pf_shared_alloc(n * sizeof *p->shared);
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
    rc = start_workers(p);
    /* Registered whatever the start gave, so that free can shut down the
     * workers started (cannot fail: the hooks are installed). */
    int registered = weft__executor_register(&p->base, &process_pool_ops, p->name);
    if (rc == WEFT_OK)
        rc = registered;
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
    if (rc == WEFT_OK && !weft__future_owns_result(future))
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
    weft__lock_take(&p->lock);
    p->forced = true;
    p->shutting_down = true;
    struct ptask *queued = cancel_queued_locked(p);
    for (size_t i = 0; i < p->nslots; i++) {
        struct slot *s = &p->slots[i];
        if (!s->alive)
            continue;
        s->forced = true;
        weft__pf_signal(s->child.pid, how);
    }
    weft_lock_release(&p->lock);
    weft__ppool_finish_detached(queued, WEFT_ECANCELLED, "cancelled: the pool's workers were stopped");
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

