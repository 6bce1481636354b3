/* SPDX-License-Identifier: MIT */
/* executor.c — the executor calls, written once over the backends' table
 * of operations: submit, shutdown, free, stats, resize and map; and the
 * shutdown of live executors at process exit. */
#include "executor_internal.h"
#include "lock_internal.h"

#include "debug_internal.h"
#include "lifecycle.h"
#include "park.h"
#include "weft/lock.h"
#include "weft/queue.h"
#include "weft/status.h"
#include "weft/thread.h"
#include "weft/time.h"

#include <stdlib.h>
#include <string.h>

static weft_lock live_lock = WEFT_LOCK_INIT;
static weft_list live = WEFT_LIST_INIT(live);

/* At exit, as Python's interpreter does: no new work, queued work still
 * runs, then the workers end (and the thread layer joins them). */
static void shut_down_live_executors(void)
{
    weft__lock_take(&live_lock);
    WEFT_LIST_FOR_EACH(node, next, &live) {
        weft_executor *ex = WEFT_LIST_ENTRY(node, weft_executor, live);
        if (!atomic_load(&ex->shut_down) && weft__debug_on())
            weft__debug_report("executor '%s' was never shut down", ex->name);
        ex->ops->shutdown(ex, false, WEFT_NO_DEADLINE, false);
    }
    weft_lock_release(&live_lock);
}

static void executor_atfork(int phase)
{
    weft__lock_atfork(&live_lock, phase);
    /* The parent's executors have no workers here; each leaves the list
     * (popped, it reads as unlinked: freeing its copy unlinks nothing). */
    if (phase == WEFT_FORK_CHILD)
        while (weft__list_pop_front(&live))
            continue;
}

static weft_lifecycle_hooks lifecycle = WEFT_LIFECYCLE_HOOKS_INIT(
    WEFT_RANK_EXECUTOR, executor_atfork, shut_down_live_executors, NULL);

int weft__executor_install_hooks(void) { return weft__lifecycle_register(&lifecycle); }

int weft__executor_register(weft_executor *ex, const struct weft_executor_ops *ops,
                           const char *name)
{
    ex->ops = ops;
    ex->name = name;
    atomic_init(&ex->shut_down, false);
    weft__list_node_init(&ex->live);
    int rc = weft__executor_install_hooks();
    if (rc != WEFT_OK)
        return rc;
    weft__lock_take(&live_lock);
    weft__list_push_front(&live, &ex->live);
    weft_lock_release(&live_lock);
    return WEFT_OK;
}

void weft__executor_unregister(weft_executor *ex)
{
    weft__lock_take(&live_lock);
    weft__list_remove(&ex->live);
    weft_lock_release(&live_lock);
}

/* Submit until `deadline`.  *future is NULL on every status but WEFT_OK:
 * a backend that fails has dropped the reference it may have stored. */
static int submit_until(weft_executor *executor, weft_task_fn fn, void *arg, int64_t deadline,
                        weft_future **future)
{
    int rc = executor->ops->submit(executor, fn, arg, deadline, future);
    if (rc != WEFT_OK && future)
        *future = NULL;
    return rc;
}

int weft_executor_submit(weft_executor *executor, weft_task_fn fn, void *arg,
                         weft_future **future)
{
    if (future)
        *future = NULL;
    if (!executor || !fn)
        return WEFT_EINVAL;
    return submit_until(executor, fn, arg, WEFT_NO_DEADLINE, future);
}

int weft_executor_submit_timeout(weft_executor *executor, weft_task_fn fn, void *arg,
                                 double timeout, weft_future **future)
{
    int64_t deadline;
    if (future)
        *future = NULL;
    if (!executor || !fn || weft__deadline_after(timeout, &deadline) != WEFT_OK)
        return WEFT_EINVAL;
    return submit_until(executor, fn, arg, deadline, future);
}

int weft__executor_join_thread(weft_thread *thread, int64_t deadline, bool cancellable)
{
    if (!thread || thread == weft_current_thread())
        return WEFT_OK;
    weft_cancel_source *source = weft__park_cancel_source();
    if (!cancellable)
        weft__park_set_cancel_source(NULL);
    int rc = weft_thread_join_timeout(thread, weft__seconds_until(deadline), NULL);
    if (!cancellable)
        weft__park_set_cancel_source(source);
    return rc;
}

int weft_executor_shutdown(weft_executor *executor, bool wait, bool cancel_futures)
{
    if (!executor)
        return WEFT_EINVAL;
    atomic_store(&executor->shut_down, true);
    return executor->ops->shutdown(executor, wait, WEFT_NO_DEADLINE, cancel_futures);
}

int weft_executor_shutdown_timeout(weft_executor *executor, double timeout, bool cancel_futures)
{
    int64_t deadline;
    if (!executor || weft__deadline_after(timeout < 0 ? 0 : timeout, &deadline) != WEFT_OK)
        return WEFT_EINVAL;
    atomic_store(&executor->shut_down, true);
    return executor->ops->shutdown(executor, true, deadline, cancel_futures);
}

int weft_executor_free(weft_executor *executor)
{
    if (!executor)
        return WEFT_EINVAL;
    if (executor->ops->is_worker(executor))
        return WEFT_ESTATE;
    executor->ops->shutdown(executor, true, WEFT_NO_DEADLINE, false);
    weft__executor_unregister(executor);
    executor->ops->destroy(executor);
    return WEFT_OK;
}

int weft_executor_stats_get(weft_executor *executor, weft_executor_stats *stats)
{
    if (!executor || !stats)
        return WEFT_EINVAL;
    executor->ops->stats(executor, stats);
    return WEFT_OK;
}

int weft_executor_resize(weft_executor *executor, long max_workers)
{
    if (!executor || max_workers < 1 || !executor->ops->resize)
        return WEFT_EINVAL;
    return executor->ops->resize(executor, max_workers);
}

/* ---- map: written once over submit ---------------------------------------- */

struct weft_map {
    weft_executor *executor;
    weft_task_fn fn;
    weft_map_source source;
    void *ctx;
    struct array_cursor { /* the array form's source */
        void *const *args;
        size_t n, next;
    } cursor;
    bool input_done;
    long buffersize;
    int64_t deadline;
    weft_queue *pending; /* futures submitted, not yet yielded, in input order */
    bool over;
    int error_code;
    char *error_message;
};

static bool array_source(void *ctx, void **arg)
{
    struct array_cursor *c = ctx;
    if (c->next == c->n)
        return false;
    *arg = c->args[c->next++];
    return true;
}

/* The oldest future not yet yielded, or NULL. */
static weft_future *take_pending(weft_map *m)
{
    void *f = NULL;
    return weft_queue_get_nowait(m->pending, &f) == WEFT_OK ? f : NULL;
}

/* Submit the next input, if any.  WEFT_OK also when the input is over. */
static int submit_next(weft_map *m)
{
    void *arg;
    if (m->input_done || !m->source(m->ctx, &arg)) {
        m->input_done = true;
        return WEFT_OK;
    }
    weft_future *f;
    int rc = weft_executor_submit(m->executor, m->fn, arg, &f);
    if (rc == WEFT_OK && (rc = weft_queue_put_nowait(m->pending, f)) != WEFT_OK) {
        weft_future_cancel(f);
        weft_future_release(f);
    }
    return rc;
}

/* Cancel and drop every future not yet yielded; the iteration is over. */
static void cancel_rest(weft_map *m)
{
    for (weft_future *f; (f = take_pending(m));) {
        weft_future_cancel(f);
        weft_future_release(f);
    }
    m->over = true;
}

/* Make the iterator and submit the first tasks.  With source NULL the
 * arguments come from args[0..n-1]. */
static int map_start(weft_executor *executor, weft_task_fn fn, weft_map_source source,
                     void *ctx, void *const *args, size_t n, double timeout,
                     const weft_map_options *options, weft_map **it)
{
    static const weft_map_options defaults;
    int64_t deadline;
    if (it)
        *it = NULL;
    if (!options)
        options = &defaults;
    if (!executor || !fn || !it || options->chunksize < 0 || options->buffersize < 0 ||
        weft__deadline_after(timeout, &deadline) != WEFT_OK)
        return WEFT_EINVAL;
    weft_map *m = calloc(1, sizeof *m);
    if (!m)
        return WEFT_ENOMEM;
    *m = (weft_map){.executor = executor, .fn = fn, .source = source, .ctx = ctx,
                    .cursor = {args, n, 0}, .buffersize = options->buffersize,
                    .deadline = deadline};
    if (!source) {
        m->source = array_source;
        m->ctx = &m->cursor;
    }
    int rc = weft_queue_new(&m->pending, 0);
    if (rc != WEFT_OK) {
        free(m);
        return rc;
    }
    while (rc == WEFT_OK && !m->input_done &&
           (m->buffersize == 0 || (long)weft_queue_qsize(m->pending) < m->buffersize))
        rc = submit_next(m);
    if (rc != WEFT_OK) {
        weft_map_free(m);
        return rc;
    }
    *it = m;
    return WEFT_OK;
}

int weft_executor_map_source(weft_executor *executor, weft_task_fn fn, weft_map_source source,
                             void *ctx, double timeout, const weft_map_options *options,
                             weft_map **it)
{
    if (!source)
        return WEFT_EINVAL;
    return map_start(executor, fn, source, ctx, NULL, 0, timeout, options, it);
}

int weft_executor_map(weft_executor *executor, weft_task_fn fn, void *const *args, size_t n,
                      double timeout, const weft_map_options *options, weft_map **it)
{
    if (n && !args)
        return WEFT_EINVAL;
    return map_start(executor, fn, NULL, NULL, args, n, timeout, options, it);
}

int weft_map_next(weft_map *it, void **result)
{
    if (result)
        *result = NULL; /* what it holds on every status but WEFT_OK */
    if (!it || !result)
        return WEFT_EINVAL;
    if (it->over)
        return WEFT_ESTOP;
    if (it->buffersize) { /* 3.14: one more in flight before waiting */
        int rc = submit_next(it);
        if (rc != WEFT_OK) {
            cancel_rest(it);
            return rc;
        }
    }
    weft_future *f = take_pending(it);
    if (!f) {
        it->over = true;
        return WEFT_ESTOP;
    }
    double left = it->deadline == WEFT_NO_DEADLINE ? WEFT_FOREVER
                                                   : (double)(it->deadline - weft__now_ns()) / 1e9;
    int rc = weft_future_result_timeout(f, left > 0 ? left : 0, result);
    if (rc == WEFT_ETIMEDOUT) {
        weft_future_cancel(f);
        weft_future_release(f);
        cancel_rest(it);
        return WEFT_ETIMEDOUT;
    }
    free(it->error_message);
    it->error_message = NULL;
    it->error_code = weft_future_error_code(f);
    if (rc == WEFT_EFAILED) {
        const char *message = weft_future_error_message(f);
        it->error_message = malloc(strlen(message) + 1);
        if (it->error_message)
            strcpy(it->error_message, message);
    }
    weft_future_release(f); /* the iterator keeps nothing it yielded */
    return rc;
}

int weft_map_error_code(const weft_map *it) { return it ? it->error_code : 0; }

const char *weft_map_error_message(const weft_map *it)
{
    return it && it->error_message ? it->error_message : "";
}

void weft_map_free(weft_map *it)
{
    if (!it)
        return;
    cancel_rest(it);
    weft_queue_free(it->pending);
    free(it->error_message);
    free(it);
}
