/* executor.c — the executor calls, written once over the backends' table
 * of operations, and the shutdown of live executors at process exit. */
#include "executor_internal.h"

#include "park.h"
#include "thread_internal.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/time.h"

static weft_lock live_lock = WEFT_LOCK_INIT;
static weft_executor *live;
static bool exit_hook_added;
static weft_exit_hook exit_hook;

/* At exit, as Python's interpreter does: no new work, queued work still
 * runs, then the workers end (and the thread layer joins them). */
static void shut_down_live_executors(void)
{
    weft_lock_acquire(&live_lock);
    for (weft_executor *ex = live; ex; ex = ex->next)
        ex->ops->shutdown(ex, false, false);
    weft_lock_release(&live_lock);
}

int weft_executor_register(weft_executor *ex, const struct weft_executor_ops *ops)
{
    ex->ops = ops;
    weft_lock_acquire(&live_lock);
    if (!exit_hook_added) {
        exit_hook.run = shut_down_live_executors;
        weft_add_exit_hook(&exit_hook);
        exit_hook_added = true;
    }
    ex->prev = NULL;
    ex->next = live;
    if (live)
        live->prev = ex;
    live = ex;
    weft_lock_release(&live_lock);
    return WEFT_OK;
}

void weft_executor_unregister(weft_executor *ex)
{
    weft_lock_acquire(&live_lock);
    if (ex->prev)
        ex->prev->next = ex->next;
    else
        live = ex->next;
    if (ex->next)
        ex->next->prev = ex->prev;
    weft_lock_release(&live_lock);
}

int weft_executor_submit(weft_executor *executor, weft_task_fn fn, void *arg,
                         weft_future **future)
{
    if (!executor || !fn)
        return WEFT_EINVAL;
    return executor->ops->submit(executor, fn, arg, WEFT_NO_DEADLINE, future);
}

int weft_executor_submit_timeout(weft_executor *executor, weft_task_fn fn, void *arg,
                                 double timeout, weft_future **future)
{
    int64_t deadline;
    if (!executor || !fn || weft_deadline_after(timeout, &deadline) != WEFT_OK)
        return WEFT_EINVAL;
    return executor->ops->submit(executor, fn, arg, deadline, future);
}

int weft_executor_shutdown(weft_executor *executor, bool wait, bool cancel_futures)
{
    if (!executor)
        return WEFT_EINVAL;
    return executor->ops->shutdown(executor, wait, cancel_futures);
}

int weft_executor_free(weft_executor *executor)
{
    if (!executor)
        return WEFT_EINVAL;
    if (executor->ops->is_worker(executor))
        return WEFT_ESTATE;
    executor->ops->shutdown(executor, true, false);
    weft_executor_unregister(executor);
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
