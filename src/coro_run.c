/* SPDX-License-Identifier: MIT */
/* coro_run.c — running loops: weft_run, the loop object (asyncio.Runner),
 * closing and freeing, and spawning onto another thread's loop. */
#include "coro_internal.h"

#include "debug_internal.h"
#include "future_internal.h"
#include "lifecycle.h"
#include "weft/executor.h"
#include "weft/status.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fork made by a coroutine (weft_process_start, a process pool's
 * worker, a plain fork()) goes on in the child on the coroutine's stack,
 * but the child has no loop running: the rest runs as a plain thread. */
static void loop_atfork(int phase)
{
    if (phase == WEFT_FORK_CHILD) {
        weft__parker_switch(NULL);
        weft__loop_enter(NULL);
    }
}

static weft_lifecycle_hooks loop_hooks =
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_EXECUTOR, loop_atfork, NULL, NULL);

int weft_loop_new(const weft_loop_options *options, weft_loop **out)
{
    static const weft_loop_options none = WEFT_LOOP_OPTIONS_INIT;
    if (!out)
        return WEFT_EINVAL;
    *out = NULL;
    const weft_loop_options *o = options ? options : &none;
    if (weft__loop_check_options(o) != WEFT_OK)
        return WEFT_EINVAL;
    int rc = weft__lifecycle_register(&loop_hooks);
    if (rc != WEFT_OK)
        return rc;
    weft_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return WEFT_ENOMEM;
    rc = weft__poller_new(&loop->poller);
    if (rc != WEFT_OK) {
        free(loop);
        return rc;
    }
    loop->stack_size = o->stack_size;
    loop->stack_mode = o->stack_mode == WEFT_STACK_DEFAULT ? WEFT_STACK_OWN : (int)o->stack_mode;
    loop->shared_stacks = o->shared_stacks ? o->shared_stacks : 4;
    loop->debug = o->debug || weft__debug_on();
    double slow = o->slow_callback_duration > 0 ? o->slow_callback_duration : 0.1;
    loop->slow_ns = slow >= 9.2e9 ? INT64_MAX : (int64_t)(slow * 1e9);
    weft__list_init(&loop->tasks);
    weft__list_init(&loop->flushes);
    *out = loop;
    return WEFT_OK;
}

static bool future_done(void *f) { return weft_future_done(f); }

/* Run the loop on this thread until done(ctx). */
/* Whether this thread may run, close or free the loop: a loop belongs to
 * the thread that first runs it (its tasks' stacks are that thread's),
 * and a thread runs one loop at a time. */
static bool mine_to_run(weft_loop *loop)
{
    uint64_t owner = atomic_load(&loop->owner);
    return !atomic_load(&loop->running) && !weft__loop_here() &&
           (owner == 0 || owner == weft__self_ident());
}

static bool mine(weft_loop *loop)
{
    uint64_t owner = atomic_load(&loop->owner);
    return owner == 0 || owner == weft__self_ident();
}

static int run_here(weft_loop *loop, bool (*done)(void *), void *ctx)
{
    if (!mine_to_run(loop))
        return WEFT_ESTATE;
    atomic_store(&loop->owner, weft__self_ident());
    int rc = weft__ctx_init_current(&loop->ctx);
    if (rc != WEFT_OK)
        return rc;
    weft__loop_enter(loop);
    loop->running = true;
    weft__loop_run_until(loop, done, ctx);
    loop->running = false;
    weft__loop_enter(NULL);
    weft__ctx_destroy(&loop->ctx);
    return WEFT_OK;
}

static int outcome_of(weft_future *main, void **result)
{
    void *value = NULL;
    int rc = weft_future_result_timeout(main, 0, &value);
    if (rc == WEFT_EFAILED)
        rc = weft_future_error_code(main);
    if (result)
        *result = rc == WEFT_OK ? value : NULL;
    return rc;
}

int weft_loop_run(weft_loop *loop, weft_task_fn main, void *arg, void **result)
{
    if (result)
        *result = NULL;
    if (!loop || !main)
        return WEFT_EINVAL;
    if (!mine_to_run(loop) || atomic_load(&loop->closed))
        return WEFT_ESTATE;
    weft_future *task;
    weft__loop_enter(loop); /* spawning is the loop's own thread's business */
    int rc = weft__coro_spawn(loop, main, arg, NULL, &task);
    weft__loop_enter(NULL);
    if (rc != WEFT_OK)
        return rc;
    rc = run_here(loop, future_done, task);
    if (rc == WEFT_OK)
        rc = outcome_of(task, result);
    weft_future_release(task);
    return rc;
}

static bool no_tasks_left(void *loop) { return ((weft_loop *)loop)->task_count == 0; }

/* Cancel every task not ended and run until they all have. */
static int cancel_and_drain(weft_loop *loop)
{
    while (loop->task_count) {
        WEFT_LIST_FOR_EACH(node, next, &loop->tasks) {
            weft_coro *t = WEFT_LIST_ENTRY(node, weft_coro, link);
            weft_task_cancel(t->future, NULL);
        }
        int rc = run_here(loop, no_tasks_left, loop);
        if (rc != WEFT_OK)
            return rc;
    }
    return WEFT_OK;
}

int weft_loop_close(weft_loop *loop)
{
    if (!loop)
        return WEFT_EINVAL;
    if (atomic_load(&loop->running) || !mine(loop))
        return WEFT_ESTATE;
    if (atomic_load(&loop->closed))
        return WEFT_OK;
    if (loop->task_count && weft__loop_here())
        return WEFT_ESTATE; /* its tasks cannot run on a thread that runs a loop */
    int rc = loop->task_count ? cancel_and_drain(loop) : WEFT_OK;
    if (rc != WEFT_OK)
        return rc; /* from inside another loop: its tasks cannot run here now */
    atomic_store(&loop->closed, true);
    if (loop->default_pool) {
        weft_executor_shutdown(loop->default_pool, true, false);
        weft_executor_free(loop->default_pool);
        loop->default_pool = NULL;
    }
    return WEFT_OK;
}

int weft_loop_free(weft_loop *loop)
{
    if (!loop)
        return WEFT_OK;
    if (atomic_load(&loop->running) || loop->task_count || !mine(loop)) {
        if (loop->debug && loop->task_count)
            fprintf(stderr, "weft: loop %p freed with %zu tasks pending (close it first)\n",
                    (void *)loop, loop->task_count);
        return WEFT_ESTATE;
    }
    int rc = weft_loop_close(loop);
    if (rc != WEFT_OK)
        return rc;
    weft__coro_free_shared_stacks(loop);
    weft__loop_destroy(loop);
    return WEFT_OK;
}

int weft_run(weft_task_fn main, void *arg, const weft_loop_options *options, void **result)
{
    if (result)
        *result = NULL;
    if (!main)
        return WEFT_EINVAL;
    if (weft__loop_here())
        return WEFT_ESTATE; /* asyncio.run() cannot be called from a running event loop */
    weft_loop *loop;
    int rc = weft_loop_new(options, &loop);
    if (rc != WEFT_OK)
        return rc;
    rc = weft_loop_run(loop, main, arg, result);
    weft_loop_close(loop);
    weft_loop_free(loop);
    return rc;
}

/* ---- run_coroutine_threadsafe ---------------------------------------------- */

struct remote_spawn {
    weft_loop *loop;
    weft_task_fn fn;
    void *arg;
    weft_task_options options;
    char *name;
    weft_future *outer; /* a reference for this record */
};

/* Cancelling the outer future cancels the task (from any thread). */
static void forward_cancel(weft_future *outer, void *task)
{
    if (weft_future_cancelled(outer))
        weft_task_cancel(task, NULL);
    weft_future_release(task);
}

static void remote_spawn_free(struct remote_spawn *r)
{
    weft_future_release(r->outer);
    free(r->name);
    free(r);
}

/* On the loop's thread.  The outer future stays pending until the task's
 * outcome is copied to it, so that cancelling it (from any thread) is
 * Python's cancel of a pending concurrent future: it succeeds, and its
 * callback cancels the task. */
static void spawn_here(void *arg)
{
    struct remote_spawn *r = arg;
    weft_future *task = NULL;
    int rc = WEFT_OK;
    if (!weft_future_done(r->outer)) /* cancelled before it started: nothing to run */
        rc = weft__coro_spawn(r->loop, r->fn, r->arg, &r->options, &task);
    if (rc != WEFT_OK)
        weft_future_set_exception(r->outer, rc, "could not start the task: %s", weft_strerror(rc));
    if (task) {
        weft_future_add_done_callback(task, weft__coro_copy_outcome, weft_future_ref(r->outer));
        weft_future_add_done_callback(r->outer, forward_cancel, weft_future_ref(task));
        weft_future_release(task);
    }
    remote_spawn_free(r);
}

/* The loop closed before it ran spawn_here: the task never starts. */
static void spawn_dropped(void *arg)
{
    struct remote_spawn *r = arg;
    weft_future_cancel(r->outer);
    remote_spawn_free(r);
}

int weft_run_coroutine_threadsafe(weft_loop *loop, weft_task_fn fn, void *arg,
                                  const weft_task_options *options, weft_future **future)
{
    if (future)
        *future = NULL;
    if (!loop || !fn || !future)
        return WEFT_EINVAL;
    struct remote_spawn *r = calloc(1, sizeof *r);
    if (!r)
        return WEFT_ENOMEM;
    *r = (struct remote_spawn){loop, fn, arg, WEFT_TASK_OPTIONS_INIT, NULL, NULL};
    if (options) {
        r->options = *options;
        if (options->name && !(r->name = weft__coro_copy_of(options->name))) {
            free(r);
            return WEFT_ENOMEM;
        }
        r->options.name = r->name;
    }
    int rc = weft_future_new(&r->outer);
    if (rc == WEFT_OK) {
        *future = weft_future_ref(r->outer);
        rc = weft__loop_call_soon_threadsafe_or_drop(loop, spawn_here, spawn_dropped, r);
    }
    if (rc != WEFT_OK) {
        if (*future)
            weft_future_release(*future);
        *future = NULL;
        weft_future_release(r->outer);
        free(r->name);
        free(r);
    }
    return rc;
}
