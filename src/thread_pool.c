/* SPDX-License-Identifier: MIT */
/* thread_pool.c — the thread-pool executor (Python's ThreadPoolExecutor).
 *
 * Work travels as futures: each carries its own task and its own link, so a
 * submit allocates one object.  A task submitted from outside the pool goes
 * to the shared work list (work_list.h: lock-free for submitters); a task
 * submitted by one of the pool's own tasks goes to the deque of the worker
 * running it (work_deque.h), which runs its newest first and from which
 * idle workers steal the oldest (docs/pool.md).  Workers start on demand,
 * up to max_workers, with Python's rule for reuse: a worker that finds no
 * work adds an idle token before it blocks, and a submit that can take a
 * token starts no new worker.  A worker waiting on a future of its own pool
 * runs queued tasks meanwhile (the future layer's help hook).
 */
#include "thread_pool_internal.h"

#include "executor_internal.h"
#include "lock_internal.h"
#include "future_internal.h"
#include "park.h"
#include "platform/platform.h"
#include "thread_internal.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/thread.h"
#include "weft/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One task in this many has its time in the queue measured. */
#define QUEUE_TIME_SAMPLE 16

static _Atomic unsigned long pool_counter;
static _Thread_local unsigned submit_tick;
static _Thread_local struct pool *my_pool;
static _Thread_local struct worker *my_worker;

static struct pool *pool_of(weft_executor *ex) { return (struct pool *)ex; }

/* ---- running tasks ---------------------------------------------------------- */

/* Only the owning worker writes its counters: a relaxed load and store
 * instead of a locked read-modify-write. */
static void bump(_Atomic size_t *counter, size_t delta)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

struct finishing {
    struct worker *me;     /* the worker running the task (stats) */
    struct worker *looper; /* the worker whose loop runs it; NULL when helping */
    bool counted;
};

/* The task has returned; its future completes right after this, under its
 * lock.  Count it first, so that whoever sees the future done also sees it
 * in the statistics; then the worker (unless it will run done-callbacks
 * first) claims the spinner's role: it will look for work next. */
static void task_returned(void *ctx, bool callbacks_follow)
{
    struct finishing *fin = ctx;
    bump(&fin->me->running, (size_t)-1);
    bump(&fin->me->completed, 1);
    fin->counted = true;
    if (fin->looper && !callbacks_follow)
        weft__work_list_claim_spinner(&fin->looper->pool->work, &fin->looper->taker);
}

/* Run f; `w` is the worker whose loop runs it, NULL when helping. */
static void run_task(struct pool *p, struct worker *w, weft_future *f)
{
    int64_t queued_at = weft__future_queued_at(f);
    if (queued_at) {
        atomic_fetch_add_explicit(&p->queued_ns, weft__now_ns() - queued_at,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&p->queue_samples, 1, memory_order_relaxed);
    }
    struct finishing fin = {.me = my_worker, .looper = w};
    bump(&fin.me->running, 1);
    weft__future_run(f, task_returned, &fin);
    if (!fin.counted) { /* cancelled before it ran */
        bump(&fin.me->running, (size_t)-1);
        bump(&fin.me->completed, 1);
    }
    weft_future_release(f);
}

/* While a worker waits on a future of its own pool, run queued tasks: its
 * own newest first (likely what it waits for), then the shared list's, then
 * another worker's. */
static bool help_own_pool(void)
{
    struct pool *p = my_pool; /* the future layer only asks for its futures */
    weft_work_node *node = weft__deque_pop(&my_worker->deque);
    weft_future *f = node ? weft__future_of_work_node(node) : NULL;
    if (!f && weft__pool_take(p, NULL, &f, false) != WEFT_OK)
        f = weft__pool_steal(p, my_worker);
    if (!f)
        return false;
    run_task(p, NULL, f);
    return true;
}

/* The initializer failed: no task will ever run here.  Fail what waits. */
static void break_pool(struct pool *p)
{
    atomic_store(&p->broken, true);
    weft__work_list_close(&p->work);
    weft_future *f;
    while (weft__pool_take(p, NULL, &f, false) == WEFT_OK) {
        if (weft_future_set_running_or_notify_cancel(f) == WEFT_OK)
            weft_future_set_exception(f, WEFT_EBROKEN,
                                      "A thread initializer failed, the thread pool is not "
                                      "usable anymore");
        weft_future_release(f);
    }
}

/* Python's _idle_semaphore.acquire(timeout=0): true if a token was taken. */
static bool take_idle_token(struct pool *p)
{
    long tokens = atomic_load_explicit(&p->idle_tokens, memory_order_relaxed);
    while (tokens > 0)
        if (atomic_compare_exchange_weak(&p->idle_tokens, &tokens, tokens - 1))
            return true;
    return false;
}

/* After a resize down, more workers are alive than wanted. */
static bool surplus_workers(struct pool *p)
{
    return (long)atomic_load_explicit(&p->alive, memory_order_relaxed) >
           atomic_load_explicit(&p->max_workers, memory_order_relaxed);
}

/* Leave if surplus (one worker at a time makes the decision). */
static bool leave_if_surplus(struct pool *p)
{
    if (!surplus_workers(p))
        return false;
    weft__lock_take(&p->lock);
    bool surplus = (long)p->alive > p->max_workers;
    if (surplus)
        p->alive--;
    weft_lock_release(&p->lock);
    return surplus;
}

/* No work found: wait for some as an idle worker.  The task, or NULL
 * (*rc: WEFT_EAGAIN to look again, WEFT_ESHUTDOWN to leave). */
static weft_future *wait_for_work(struct pool *p, struct worker *w, int *rc)
{
    weft_future *f = NULL;
    atomic_fetch_add(&p->idle_tokens, 1);
    atomic_fetch_add(&p->idle_now, 1);
    *rc = weft__pool_take(p, w, &f, true);
    atomic_fetch_sub(&p->idle_now, 1);
    if (*rc == WEFT_EAGAIN)
        /* Woken by a resize (to leave) or for work elsewhere: give back the
         * token, or a submit would count on it (it adds one again if it
         * stays idle). */
        take_idle_token(p);
    return f;
}

static void serve(struct worker *w)
{
    struct pool *p = w->pool;
    if (p->initializer && p->initializer(p->initializer_arg) != 0) {
        break_pool(p);
    } else {
        for (;;) {
            /* (with its own tasks run first: nobody may be there to steal) */
            if (!weft__deque_count(&w->deque) && leave_if_surplus(p)) {
                weft__work_list_release_spinner(&p->work, &w->taker);
                return;
            }
            int rc = WEFT_EEMPTY;
            weft_future *f = weft__pool_find_work(p, w, &rc);
            if (!f && rc == WEFT_ESHUTDOWN)
                break; /* shut down and drained, deques too (quiesce_pushes) */
            if (!f && !(f = wait_for_work(p, w, &rc)) && rc == WEFT_ESHUTDOWN)
                continue; /* one more look at the deques, then leave */
            if (f)
                run_task(p, w, f);
        }
    }
    weft__lock_take(&p->lock);
    p->alive--;
    weft_lock_release(&p->lock);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    my_pool = w->pool;
    my_worker = w;
    weft__future_set_help_hook(help_own_pool, w->pool);
    serve(w);
    /* The OS thread may serve another pool next (weft__thread_set_reusable):
     * forget this one. */
    weft__future_set_help_hook(NULL, NULL);
    my_pool = NULL;
    my_worker = NULL;
    return NULL;
}

/* ---- workers ---------------------------------------------------------------- */

/* Start one more worker (lock held). */
static int start_worker(struct pool *p)
{
    if (p->started == p->capacity) {
        size_t cap = p->capacity ? p->capacity * 2 : 8;
        struct worker **grown = realloc(p->workers, cap * sizeof *grown);
        if (!grown)
            return WEFT_ENOMEM;
        p->workers = grown;
        p->capacity = cap;
    }
    struct worker *w = aligned_alloc(64, (sizeof *w + 63) / 64 * 64);
    if (!w)
        return WEFT_ENOMEM;
    memset(w, 0, sizeof *w);
    w->pool = p;
    weft__deque_init(&w->deque);
    char name[96];
    snprintf(name, sizeof name, "%s_%lu", p->prefix, p->next_index);
    weft_thread_options options = {.name = name, .daemon = WEFT_NON_DAEMON};
    int rc = weft_thread_new(&w->thread, worker_main, w, &options);
    if (rc == WEFT_OK) {
        weft__thread_set_managed(w->thread); /* the pool joins it */
        weft__thread_set_reusable(w->thread);
    }
    if (rc == WEFT_OK && (rc = weft_thread_start(w->thread)) != WEFT_OK)
        weft_thread_free(w->thread);
    if (rc != WEFT_OK) {
        free(w);
        return rc;
    }
    p->workers[p->started++] = w;
    p->next_index++;
    p->alive++;
    return WEFT_OK;
}

/* Python's _adjust_thread_count: reuse an idle worker if one is waiting,
 * else start one while under max_workers. */
static int adjust_workers(struct pool *p)
{
    /* At full strength there is nothing to decide (W1's steady state). */
    if ((long)atomic_load_explicit(&p->alive, memory_order_relaxed) >=
        atomic_load_explicit(&p->max_workers, memory_order_relaxed))
        return WEFT_OK;
    if (take_idle_token(p))
        return WEFT_OK;
    int rc = WEFT_OK;
    weft__lock_take(&p->lock);
    if ((long)p->alive < p->max_workers && !atomic_load(&p->shut_down))
        rc = start_worker(p);
    if (rc != WEFT_OK && p->alive > 0)
        rc = WEFT_OK; /* the workers there are will get to it */
    weft_lock_release(&p->lock);
    return rc;
}

/* ---- operations ---------------------------------------------------------------- */

static int pool_submit(weft_executor *ex, weft_task_fn fn, void *arg, int64_t deadline,
                       weft_future **future)
{
    struct pool *p = pool_of(ex);
    if (atomic_load(&p->broken))
        return WEFT_EBROKEN;
    if (atomic_load(&p->shut_down))
        return WEFT_ESHUTDOWN;
    weft_future *f;
    int rc = weft_future_new(&f);
    if (rc != WEFT_OK)
        return rc;
    /* Time spent queued is sampled: reading the clock for every task would
     * cost a third of the pool's throughput (W1: 490 -> 325 ns/task). */
    weft__future_set_task(f, fn, arg, p,
                         (++submit_tick % QUEUE_TIME_SAMPLE) == 0 ? weft__now_ns() : 0);
    weft_future_ref(f); /* the work list's reference */
    rc = weft__pool_push_local(p, my_worker, f) ? WEFT_OK
                          : weft__work_list_add(&p->work, weft__future_work_node(f), deadline);
    if (rc != WEFT_OK) {
        weft_future_release(f);
        weft_future_release(f);
        if (rc == WEFT_ESHUTDOWN && atomic_load(&p->broken))
            rc = WEFT_EBROKEN;
        return rc;
    }
    rc = adjust_workers(p);
    /* No worker could start, none was alive: the task cannot run, unless a
     * worker another submit started meanwhile has taken it.  Cancelled, it
     * never will (a worker skips it), and the caller gets no future. */
    if (rc != WEFT_OK && weft_future_cancel(f)) {
        weft_future_set_running_or_notify_cancel(f);
        weft_future_release(f);
        return rc;
    }
    if (future)
        *future = f;
    else
        weft_future_release(f);
    return WEFT_OK;
}

/* Cancel every task not yet started; their futures are notified. */
static void cancel_queued(struct pool *p)
{
    weft_future *f;
    while (weft__pool_take(p, NULL, &f, false) == WEFT_OK || (f = weft__pool_steal(p, NULL))) {
        if (weft_future_cancel(f))
            weft_future_set_running_or_notify_cancel(f);
        weft_future_release(f);
    }
}

static bool pool_is_worker(weft_executor *ex) { return my_pool == pool_of(ex); }

/* Join every worker but the caller's own, or give up at the deadline (or
 * at cancellation): see weft__executor_join_thread. */
static int join_workers(struct pool *p, int64_t deadline, bool cancellable)
{
    size_t joined = 0;
    for (;;) {
        weft__lock_take(&p->lock);
        weft_thread *t = joined < p->started ? p->workers[joined]->thread : NULL;
        weft_lock_release(&p->lock);
        if (!t)
            return WEFT_OK;
        int rc = weft__executor_join_thread(t, deadline, cancellable);
        if (rc != WEFT_OK)
            return rc;
        joined++;
    }
}

static int pool_shutdown(weft_executor *ex, bool wait, int64_t deadline, bool cancel_futures)
{
    struct pool *p = pool_of(ex);
    atomic_store(&p->shut_down, true);
    weft__work_list_close(&p->work); /* workers drain it, then leave */
    if (cancel_futures)
        cancel_queued(p);
    return wait ? join_workers(p, deadline, true) : WEFT_OK;
}

static void pool_destroy(weft_executor *ex)
{
    struct pool *p = pool_of(ex);
    join_workers(p, WEFT_NO_DEADLINE, false);
    for (size_t i = 0; i < p->started; i++) {
        weft_thread_free(p->workers[i]->thread);
        free(p->workers[i]);
    }
    free(p->workers);
    free(p->prefix);
    free(p);
}

static void pool_stats(weft_executor *ex, weft_executor_stats *s)
{
    struct pool *p = pool_of(ex);
    weft__lock_take(&p->lock);
    s->workers = p->alive;
    s->max_workers = p->max_workers;
    s->running = s->completed = 0;
    for (size_t i = 0; i < p->started; i++) {
        s->running += atomic_load_explicit(&p->workers[i]->running, memory_order_relaxed);
        s->completed += atomic_load_explicit(&p->workers[i]->completed, memory_order_relaxed);
    }
    weft_lock_release(&p->lock);
    s->idle = atomic_load(&p->idle_now);
    s->queued = weft__work_list_count(&p->work) + weft__pool_deque_items(p);
    size_t samples = atomic_load(&p->queue_samples);
    s->queued_seconds = samples ? (double)atomic_load(&p->queued_ns) / 1e9 *
                                      (double)s->completed / (double)samples
                                : 0;
}

/* Start workers for the tasks queued beyond those the idle workers will
 * take, up to max_workers (lock held).  Workers otherwise start only at
 * submit, so a pool grown because of its backlog would leave that backlog
 * to the old workers until more work arrived. */
static void start_workers_for_backlog(struct pool *p)
{
    size_t queued = weft__work_list_count(&p->work) + weft__pool_deque_items(p);
    size_t idle = atomic_load(&p->idle_now);
    for (size_t wanted = queued > idle ? queued - idle : 0;
         wanted > 0 && (long)p->alive < p->max_workers && !atomic_load(&p->shut_down); wanted--)
        if (start_worker(p) != WEFT_OK)
            return; /* the workers there are will get to it */
}

static int pool_resize(weft_executor *ex, long max_workers)
{
    struct pool *p = pool_of(ex);
    if (atomic_load(&p->shut_down))
        return WEFT_ESHUTDOWN;
    weft__lock_take(&p->lock);
    atomic_store(&p->max_workers, max_workers);
    /* Tokens are not kept while the pool is at full strength: start afresh
     * from the workers idle now. */
    atomic_store(&p->idle_tokens, (long)atomic_load(&p->idle_now));
    start_workers_for_backlog(p);
    weft_lock_release(&p->lock);
    weft__work_list_wake_all(&p->work); /* surplus idle workers leave */
    return WEFT_OK;
}

static const struct weft_executor_ops thread_pool_ops = {
    .submit = pool_submit,
    .shutdown = pool_shutdown,
    .is_worker = pool_is_worker,
    .destroy = pool_destroy,
    .stats = pool_stats,
    .resize = pool_resize,
};

/* Python 3.13's default: min(32, process_cpu_count() + 4). */
static long default_max_workers(void)
{
    long n = weft__pf_cpu_count() + 4;
    return n < 32 ? n : 32;
}

int weft_thread_pool_new(weft_executor **executor, const weft_thread_pool_options *options)
{
    static const weft_thread_pool_options defaults;
    if (!options)
        options = &defaults;
    if (executor)
        *executor = NULL;
    if (!executor || options->max_workers < 0 || options->max_pending < 0)
        return WEFT_EINVAL;
    struct pool *p = aligned_alloc(_Alignof(struct pool),
                                   (sizeof *p + _Alignof(struct pool) - 1) /
                                       _Alignof(struct pool) * _Alignof(struct pool));
    if (!p)
        return WEFT_ENOMEM;
    memset(p, 0, sizeof *p);
    char prefix[64];
    if (!options->thread_name_prefix)
        snprintf(prefix, sizeof prefix, "ThreadPoolExecutor-%lu",
                 atomic_fetch_add(&pool_counter, 1));
    const char *chosen = options->thread_name_prefix ? options->thread_name_prefix : prefix;
    p->prefix = malloc(strlen(chosen) + 1);
    if (!p->prefix) {
        free(p->prefix);
        free(p);
        return WEFT_ENOMEM;
    }
    strcpy(p->prefix, chosen);
    weft_lock_init(&p->lock);
    weft__work_list_init(&p->work, options->max_pending);
    weft__work_list_set_other_work(&p->work, &weft__pool_deque_work, p);
    atomic_init(&p->max_workers,
                options->max_workers ? options->max_workers : default_max_workers());
    p->initializer = options->initializer;
    p->initializer_arg = options->initializer_arg;
    int rc = weft__executor_register(&p->base, &thread_pool_ops, p->prefix);
    if (rc != WEFT_OK) {
        pool_destroy(&p->base); /* no worker yet */
        return rc;
    }
    *executor = &p->base;
    return WEFT_OK;
}

int weft_thread_pool_set_idle_keep(double seconds)
{
    if (!(seconds >= 0))
        return WEFT_EINVAL; /* negative or NaN */
    double ns = seconds * 1e9;
    (void)weft__pf_thread_cache_keep(ns >= (double)INT64_MAX ? INT64_MAX : (int64_t)ns);
    return WEFT_OK;
}

size_t weft_thread_pool_idle_threads(void) { return weft__pf_thread_cache_idle(); }
