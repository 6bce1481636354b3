/* SPDX-License-Identifier: MIT */
/* future_internal.h — what executors need from futures. */
#ifndef WEFT_FUTURE_INTERNAL_H
#define WEFT_FUTURE_INTERNAL_H

#include "backend.h"
#include "park.h"

#include "weft/future.h"
#include "work_list.h"

#include <stdint.h>

/* Every future starts with the link an executor's work list threads it on
 * (a future is queued at most once), so queuing allocates nothing. */
static inline weft_work_node *weft__future_work_node(weft_future *future)
{
    return (weft_work_node *)(void *)future;
}

static inline weft_future *weft__future_of_work_node(weft_work_node *node)
{
    return (weft_future *)(void *)node;
}

/* The task an executor keeps with the future (no separate work item), the
 * executor that owns it, and when it was queued (for statistics). */
void weft__future_set_task(weft_future *future, weft_task_fn fn, void *arg, void *owner,
                          int64_t queued_at);
int64_t weft__future_queued_at(weft_future *future);

/* How many references the future has now (tests: who still holds it). */
int weft__future_refs(weft_future *future);

/* Run the future's task in this thread (task.c's weft__task_run, with the
 * future's cancel source), if it was not cancelled, and complete the
 * future with its result or its weft_fail error.  When the
 * task has returned, before the future completes (and its waiter may
 * react), before_complete(ctx, callbacks_follow) is called if not NULL,
 * under the future's lock; callbacks_follow says the future has
 * done-callbacks, which run in this thread after completion.  It is not
 * called when the task did not run (cancelled). */
void weft__future_run(weft_future *future, void (*before_complete)(void *ctx, bool callbacks_follow),
                     void *ctx);

/* While a thread waits on futures of which one's owner is `owner` (in
 * result, exception, weft_wait or as_completed), it calls the hook instead
 * of only sleeping: the hook runs other work (a queued task of that pool)
 * and returns true if it did any.  Executors set it per worker thread;
 * futures of other owners are waited on normally. */
typedef bool (*weft_future_help_fn)(void);
void weft__future_set_help_hook(weft_future_help_fn hook, void *owner);

/* Complete a future with a malloc'd result that the future then owns
 * (freed with it: the process pool's bytes).  WEFT_ESTATE if it was already
 * done (the caller keeps the result). */
WEFT_BACKEND int weft__future_set_owned_result(weft_future *future, void *result);

/* A poller lets a waiter finish the work itself instead of sleeping: a
 * thread waiting on the future first spins a while calling poll(ctx,
 * STEP), between poll(ctx, BEGIN) (called while the future is not done,
 * under its lock: only quick, lock-free work) and poll(ctx, END).  The
 * process pool uses it to take a worker's reply in the waiting thread.  For
 * futures no executor runs with weft__future_run; set before the future is
 * handed out. */
enum { WEFT_POLL_BEGIN, WEFT_POLL_STEP, WEFT_POLL_END };
typedef void (*weft_future_poller)(void *ctx, int phase);
WEFT_BACKEND void weft__future_set_poller(weft_future *future, weft_future_poller poll, void *ctx);

/* Whether the future was completed by weft__future_set_owned_result. */
bool weft__future_owns_result(weft_future *future);

/* Whether cancel() was called on the future while it ran. */
WEFT_BACKEND bool weft__future_cancel_requested(weft_future *future);

/* ---- coroutine tasks ----------------------------------------------------
 * A task (weft/coro.h) is a future that its coroutine completes.  Its
 * cancel() and its last release go to the coroutine layer through hooks
 * (set once, before the first task is made); its waits honour the future's
 * own cancel source. */
typedef struct weft_future_task_hooks {
    bool (*cancel)(weft_future *task, const char *message); /* weft_future_cancel */
    void (*free)(void *record, weft_future *task);          /* at the last release */
} weft_future_task_hooks;

void weft__future_set_task_hooks(const weft_future_task_hooks *hooks);

/* Make a new future the task of `record`: running from now on. */
void weft__future_make_task(weft_future *future, void *record);

/* The record of a task's future, NULL for other futures. */
void *weft__future_task_record(weft_future *future);

/* Whether the future failed and nobody read its failure (result or
 * exception): asyncio's "Task exception was never retrieved". */
bool weft__future_failure_unseen(weft_future *future);

/* The future's cancel source (the one cancel() of a running future fires). */
weft_cancel_source *weft__future_cancel_source(weft_future *future);

/* Complete the future with a result, or an error (code != 0; message
 * malloc'd or NULL, taken over either way), or as cancelled (message
 * likewise).  WEFT_OK, or WEFT_ESTATE when it was done already. */
int weft__future_finish(weft_future *future, void *result, int code, char *message);
int weft__future_finish_cancelled(weft_future *future, char *message);

#endif
