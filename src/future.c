/* SPDX-License-Identifier: MIT */
/* future.c — a future's state, completion and callbacks (waits on one
 * future's outcome (future_result.c), and weft__future_run, which runs a
 * future's task (task.c) and completes the future with its outcome.  Waits
 * on many are future_wait.c's.
 *
 * Each future has a small lock guarding its state, outcome, callbacks and
 * the list of multi-future waiters (weft_wait, as_completed) registered on
 * it.  Threads in result() wait on an eventcount.  Completion happens under
 * the lock; callbacks then run outside it, in the order they were added.
 */
#include "future_impl.h"

#include "park.h"
#include "platform/platform.h"
#include "lock_internal.h"
#include "task_internal.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const weft_future_task_hooks *task_hooks;


/* ---- lifetime ------------------------------------------------------------ */

int weft_future_new(weft_future **future)
{
    if (!future)
        return WEFT_EINVAL;
    *future = NULL;
    weft_future *f = malloc(sizeof *f);
    if (!f)
        return WEFT_ENOMEM;
    memset(f, 0, sizeof *f);
    atomic_init(&f->refs, 1);
    weft_lock_init(&f->lock);
    atomic_init(&f->state, WEFT_FUTURE_PENDING);
    *future = f;
    return WEFT_OK;
}

weft_future *weft_future_ref(weft_future *future)
{
    if (future)
        atomic_fetch_add_explicit(&future->refs, 1, memory_order_relaxed);
    return future;
}

void weft_future_release(weft_future *future)
{
    if (!future || atomic_fetch_sub_explicit(&future->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (struct callback_node *c = future->callbacks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    if (future->flags & FUTURE_IS_TASK)
        task_hooks->free(future->owner, future);
    free(future->error_message);
    if (future->flags & FUTURE_OWNS_RESULT)
        free(future->result);
    free(future);
}

void weft__future_set_task(weft_future *future, weft_task_fn fn, void *arg, void *owner,
                          int64_t queued_at)
{
    future->work.task = fn;
    future->arg = arg;
    future->owner = owner;
    future->queued_at = queued_at;
}

int weft__future_refs(weft_future *future) { return atomic_load(&future->refs); }

int64_t weft__future_queued_at(weft_future *future) { return future->queued_at; }

/* ---- state queries ----------------------------------------------------- */

bool weft_future_cancelled(weft_future *future)
{
    return future && is_cancelled_state(state_of(future));
}

bool weft_future_running(weft_future *future)
{
    return future && state_of(future) == WEFT_FUTURE_RUNNING;
}

bool weft_future_done(weft_future *future)
{
    if (!future)
        return false;
    int s = state_of(future);
    return s == WEFT_FUTURE_FINISHED || is_cancelled_state(s);
}

weft_future_state weft_future_get_state(weft_future *future)
{
    return future ? (weft_future_state)state_of(future) : WEFT_FUTURE_PENDING;
}

int weft_future_error_code(weft_future *future)
{
    return future && state_of(future) == WEFT_FUTURE_FINISHED ? future->error_code : 0;
}

const char *weft_future_error_message(weft_future *future)
{
    if (!future || !future->error_message)
        return "";
    int s = state_of(future);
    if (s != WEFT_FUTURE_FINISHED && !is_cancelled_state(s))
        return "";
    return future->error_message;
}

/* ---- completion ---------------------------------------------------------- */

/* Tell a multi-future waiter that f is done (f's lock held). */
static void notify_waiter(struct waiter *w, weft_future *f, bool failed)
{
    weft__lock_take(&w->lock);
    w->done++;
    w->failed += failed;
    if (w->ready)
        w->ready[(w->ready_head + w->ready_count++)] = weft_future_ref(f);
    if (w->done >= w->wake_at || (failed && w->wake_on_failure))
        weft__eventcount_notify_all(&w->changed);
    weft_lock_release(&w->lock);
}

/* Each node is read before its waiter is told: once told, an as_completed
 * iterator may yield f and be freed, nodes and all, without taking f's
 * lock again (see unregister_waiter). */
static void notify_all_waiters(weft_future *f)
{
    for (struct waiter_node *n = f->waiters, *next; n; n = next) {
        next = n->next;
        notify_waiter(n->waiter, f, f->error_code != 0);
    }
    f->waiters = NULL;
}

/* Move to `state` (lock held) and wake result() waiters; the callbacks are
 * detached and returned for the caller to run after unlocking. */
static struct callback_node *finish_locked(weft_future *f, int state)
{
    atomic_store_explicit(&f->state, state, memory_order_release);
    if (f->result_waiters)
        weft__eventcount_notify_all(&f->done_ec);
    struct callback_node *callbacks = f->callbacks;
    f->callbacks = NULL;
    return callbacks;
}

/* Callbacks run in the order they were added, outside the lock, with a
 * reference held. */
static void run_callbacks(weft_future *f, struct callback_node *callbacks)
{
    struct callback_node *oldest_first = NULL;
    for (struct callback_node *c = callbacks, *next; c; c = next) {
        next = c->next;
        c->next = oldest_first;
        oldest_first = c;
    }
    for (struct callback_node *c = oldest_first, *next; c; c = next) {
        next = c->next;
        c->fn(f, c->arg);
        free(c);
    }
}

/* Complete f.  before(ctx, callbacks_follow), if given, runs under f's
 * lock just before the waiters are told (see weft__future_run). */
static int complete_then(weft_future *f, void *result, int code, char *message,
                         void (*before)(void *ctx, bool callbacks_follow), void *ctx)
{
    weft__lock_take(&f->lock);
    int s = state_of(f);
    if (s == WEFT_FUTURE_FINISHED || is_cancelled_state(s)) {
        weft_lock_release(&f->lock);
        free(message);
        return WEFT_ESTATE;
    }
    if (before)
        before(ctx, f->callbacks != NULL);
    f->result = result;
    f->error_code = code;
    f->error_message = message;
    notify_all_waiters(f);
    struct callback_node *callbacks = finish_locked(f, WEFT_FUTURE_FINISHED);
    if (!callbacks) {
        weft_lock_release(&f->lock);
        return WEFT_OK;
    }
    weft_future_ref(f); /* callbacks may drop the last outside reference */
    weft_lock_release(&f->lock);
    run_callbacks(f, callbacks);
    weft_future_release(f);
    return WEFT_OK;
}

static int complete(weft_future *f, void *result, int code, char *message)
{
    return complete_then(f, result, code, message, NULL, NULL);
}

int weft_future_set_result(weft_future *future, void *result)
{
    if (!future)
        return WEFT_EINVAL;
    if (future->flags & FUTURE_IS_TASK)
        return WEFT_ESTATE; /* asyncio: a task's outcome is its coroutine's */
    return complete(future, result, 0, NULL);
}

int weft_future_set_exception(weft_future *future, int code, const char *format, ...)
{
    if (!future || code == 0)
        return WEFT_EINVAL;
    if (future->flags & FUTURE_IS_TASK)
        return WEFT_ESTATE;
    va_list ap;
    va_start(ap, format);
    char *message = weft__format_message(format, ap);
    va_end(ap);
    return complete(future, NULL, code, message);
}

bool weft_future_cancel(weft_future *future)
{
    if (!future)
        return false;
    if (future->flags & FUTURE_IS_TASK) {
        if (weft_future_done(future)) { /* asyncio: looked at, no report */
            weft__lock_take(&future->lock);
            future->flags |= FUTURE_RETRIEVED;
            weft_lock_release(&future->lock);
        }
        return task_hooks->cancel(future, NULL);
    }
    weft__lock_take(&future->lock);
    int s = state_of(future);
    if (s == WEFT_FUTURE_RUNNING)
        weft__cancel_source_fire(&future->cancel);
    if (s == WEFT_FUTURE_RUNNING || s == WEFT_FUTURE_FINISHED) {
        weft_lock_release(&future->lock);
        return false;
    }
    if (is_cancelled_state(s)) {
        weft_lock_release(&future->lock);
        return true;
    }
    struct callback_node *callbacks = finish_locked(future, WEFT_FUTURE_CANCELLED);
    weft_future_ref(future);
    weft_lock_release(&future->lock);
    run_callbacks(future, callbacks);
    weft_future_release(future);
    return true;
}

int weft_future_set_running_or_notify_cancel(weft_future *future)
{
    if (!future)
        return WEFT_EINVAL;
    int rc;
    weft__lock_take(&future->lock);
    switch (state_of(future)) {
    case WEFT_FUTURE_PENDING:
        atomic_store_explicit(&future->state, WEFT_FUTURE_RUNNING, memory_order_release);
        rc = WEFT_OK;
        break;
    case WEFT_FUTURE_CANCELLED:
        atomic_store_explicit(&future->state, WEFT_FUTURE_CANCELLED_AND_NOTIFIED,
                              memory_order_release);
        notify_all_waiters(future);
        rc = WEFT_ECANCELLED;
        break;
    default:
        rc = WEFT_ESTATE;
    }
    weft_lock_release(&future->lock);
    return rc;
}

int weft_future_add_done_callback(weft_future *future, weft_future_callback fn, void *arg)
{
    if (!future || !fn)
        return WEFT_EINVAL;
    struct callback_node *node = malloc(sizeof *node);
    if (!node)
        return WEFT_ENOMEM;
    *node = (struct callback_node){fn, arg, NULL};
    weft__lock_take(&future->lock);
    if (!weft_future_done(future)) {
        node->next = future->callbacks;
        future->callbacks = node;
        weft_lock_release(&future->lock);
        return WEFT_OK;
    }
    weft_lock_release(&future->lock);
    free(node);
    fn(future, arg);
    return WEFT_OK;
}

int weft_future_repr(weft_future *future, char *buf, size_t size)
{
    if (!future)
        return snprintf(buf, size, "<weft_future at (nil)>");
    static const char *const names[] = {"pending", "running", "cancelled", "cancelled",
                                        "finished"};
    weft__lock_take(&future->lock);
    int s = state_of(future);
    int n;
    if (s != WEFT_FUTURE_FINISHED)
        n = snprintf(buf, size, "<weft_future at %p: state=%s>", (void *)future, names[s]);
    else if (future->error_code)
        n = snprintf(buf, size, "<weft_future at %p: state=finished raised %s: %s>",
                     (void *)future, weft_status_name(future->error_code),
                     future->error_message ? future->error_message : "");
    else
        n = snprintf(buf, size, "<weft_future at %p: state=finished returned %p>",
                     (void *)future, future->result);
    weft_lock_release(&future->lock);
    return n;
}

/* Run under the future's lock as it completes (complete_then). */
static void mark_result_owned(void *future, bool callbacks_follow)
{
    (void)callbacks_follow;
    ((weft_future *)future)->flags |= FUTURE_OWNS_RESULT;
}

int weft__future_set_owned_result(weft_future *future, void *result)
{
    return complete_then(future, result, 0, NULL, mark_result_owned, future);
}

void weft__future_set_poller(weft_future *future, weft_future_poller poll, void *ctx)
{
    future->work.poll = poll;
    future->arg = ctx;
    future->flags |= FUTURE_HAS_POLLER;
}

bool weft__future_owns_result(weft_future *future)
{
    weft__lock_take(&future->lock);
    bool owns = future->flags & FUTURE_OWNS_RESULT;
    weft_lock_release(&future->lock);
    return owns;
}

bool weft__future_cancel_requested(weft_future *future)
{
    return atomic_load_explicit(&future->cancel.requested, memory_order_relaxed);
}

/* ---- coroutine tasks --------------------------------------------------------- */

void weft__future_set_task_hooks(const weft_future_task_hooks *hooks) { task_hooks = hooks; }

void weft__future_make_task(weft_future *future, void *record)
{
    future->flags |= FUTURE_IS_TASK;
    future->owner = record;
    atomic_store_explicit(&future->state, WEFT_FUTURE_RUNNING, memory_order_release);
}

bool weft__future_failure_unseen(weft_future *future)
{
    return state_of(future) == WEFT_FUTURE_FINISHED && future->error_code &&
           !(future->flags & FUTURE_RETRIEVED);
}

void *weft__future_task_record(weft_future *future)
{
    return future->flags & FUTURE_IS_TASK ? future->owner : NULL;
}

weft_cancel_source *weft__future_cancel_source(weft_future *future) { return &future->cancel; }

int weft__future_finish(weft_future *future, void *result, int code, char *message)
{
    return complete(future, result, code, message);
}

int weft__future_finish_cancelled(weft_future *future, char *message)
{
    weft__lock_take(&future->lock);
    if (weft_future_done(future)) {
        weft_lock_release(&future->lock);
        free(message);
        return WEFT_ESTATE;
    }
    future->error_message = message;
    notify_all_waiters(future);
    /* Cancelled and notified at once: nobody will call
     * set_running_or_notify_cancel on a task, and weft_wait counts it done. */
    struct callback_node *callbacks = finish_locked(future, WEFT_FUTURE_CANCELLED_AND_NOTIFIED);
    weft_future_ref(future);
    weft_lock_release(&future->lock);
    run_callbacks(future, callbacks);
    weft_future_release(future);
    return WEFT_OK;
}

/* ---- running its task ------------------------------------------------------ */

void weft__future_run(weft_future *future, void (*before_complete)(void *ctx, bool callbacks_follow),
                     void *ctx)
{
    if (weft_future_set_running_or_notify_cancel(future) != WEFT_OK)
        return;
    /* The task's function and argument are the caller's: the future keeps
     * no hold on them once the task has run. */
    weft_task_fn fn = future->work.task;
    void *arg = future->arg;
    future->work.task = NULL;
    future->arg = NULL;
    weft_task_outcome out = weft__task_run(fn, arg, &future->cancel);
    complete_then(future, out.result, out.code, out.message, before_complete, ctx);
}
