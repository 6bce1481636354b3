/* SPDX-License-Identifier: MIT */
/* coro_run.c — running loops: weft_run, the loop object (asyncio.Runner),
 * closing and freeing, and spawning onto another thread's loop. */
#include "coro_internal.h"

#include "debug_internal.h"
#include "future_internal.h"
#include "weft/executor.h"
#include "weft/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int weft_loop_new(const weft_loop_options *options, weft_loop **out)
{
    static const weft_loop_options none = WEFT_LOOP_OPTIONS_INIT;
    if (!out)
        return WEFT_EINVAL;
    *out = NULL;
    const weft_loop_options *o = options ? options : &none;
    if (weft__loop_check_options(o) != WEFT_OK)
        return WEFT_EINVAL;
    weft_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return WEFT_ENOMEM;
    int rc = weft__poller_new(&loop->poller);
    if (rc != WEFT_OK) {
        free(loop);
        return rc;
    }
    loop->stack_size = o->stack_size;
    loop->stack_mode = o->stack_mode == WEFT_STACK_DEFAULT ? WEFT_STACK_OWN : (int)o->stack_mode;
    loop->shared_stacks = o->shared_stacks ? o->shared_stacks : 4;
    loop->debug = o->debug || weft__debug_on();
    double slow = o->slow_callback_duration > 0 ? o->slow_callback_duration : 0.1;
    loop->slow_ns = (int64_t)(slow * 1e9);
    weft__list_init(&loop->tasks);
    *out = loop;
    return WEFT_OK;
}

static bool future_done(void *f) { return weft_future_done(f); }

/* Run the loop on this thread until done(ctx). */
static int run_here(weft_loop *loop, bool (*done)(void *), void *ctx)
{
    if (loop->running || weft__loop_here())
        return WEFT_ESTATE;
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
    if (loop->running || atomic_load(&loop->closed) || weft__loop_here())
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
static void cancel_and_drain(weft_loop *loop)
{
    while (loop->task_count) {
            WEFT_LIST_FOR_EACH(node, next, &loop->tasks) {
            weft_coro *t = WEFT_LIST_ENTRY(node, weft_coro, link);
            weft_task_cancel(t->future, NULL);
        }
        run_here(loop, no_tasks_left, loop);
    }
}

int weft_loop_close(weft_loop *loop)
{
    if (!loop)
        return WEFT_EINVAL;
    if (weft__loop_here() == loop)
        return WEFT_ESTATE;
    if (atomic_load(&loop->closed))
        return WEFT_OK;
    if (loop->task_count)
        cancel_and_drain(loop);
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
    if (loop->running || loop->task_count) {
        if (loop->debug && loop->task_count)
            fprintf(stderr, "weft: loop %p freed with %zu tasks pending (close it first)\n",
                    (void *)loop, loop->task_count);
        return WEFT_ESTATE;
    }
    int rc = weft_loop_close(loop);
    if (rc != WEFT_OK)
        return rc;
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

static void spawn_here(void *arg)
{
    struct remote_spawn *r = arg;
    weft_future *task = NULL;
    int rc = weft_future_set_running_or_notify_cancel(r->outer);
    if (rc == WEFT_OK)
        rc = weft__coro_spawn(r->loop, r->fn, r->arg, &r->options, &task);
    else
        rc = WEFT_OK; /* cancelled before it started: nothing to run */
    if (rc != WEFT_OK)
        weft_future_set_exception(r->outer, rc, "could not start the task: %s", weft_strerror(rc));
    if (task) {
        weft_future_add_done_callback(task, weft__coro_copy_outcome, weft_future_ref(r->outer));
        weft_future_add_done_callback(r->outer, forward_cancel, weft_future_ref(task));
        weft_future_release(task);
    }
    weft_future_release(r->outer);
    free(r->name);
    free(r);
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
        if (options->name) {
            size_t n = strlen(options->name) + 1;
            if (!(r->name = malloc(n))) {
                free(r);
                return WEFT_ENOMEM;
            }
            memcpy(r->name, options->name, n);
        }
        r->options.name = r->name;
    }
    int rc = weft_future_new(&r->outer);
    if (rc == WEFT_OK) {
        *future = weft_future_ref(r->outer);
        rc = weft_loop_call_soon_threadsafe(loop, spawn_here, r);
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
