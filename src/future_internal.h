/* SPDX-License-Identifier: MIT */
/* future_internal.h — what executors need from futures. */
#ifndef WEFT_FUTURE_INTERNAL_H
#define WEFT_FUTURE_INTERNAL_H

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
int weft__future_set_owned_result(weft_future *future, void *result);

/* A poller lets a waiter finish the work itself instead of sleeping: a
 * thread waiting on the future first spins a while calling poll(ctx,
 * STEP), between poll(ctx, BEGIN) (called while the future is not done,
 * under its lock: only quick, lock-free work) and poll(ctx, END).  The
 * process pool uses it to take a worker's reply in the waiting thread.  For
 * futures no executor runs with weft__future_run; set before the future is
 * handed out. */
enum { WEFT_POLL_BEGIN, WEFT_POLL_STEP, WEFT_POLL_END };
typedef void (*weft_future_poller)(void *ctx, int phase);
void weft__future_set_poller(weft_future *future, weft_future_poller poll, void *ctx);

/* Whether the future was completed by weft__future_set_owned_result. */
bool weft__future_owns_result(weft_future *future);

/* Whether cancel() was called on the future while it ran. */
bool weft__future_cancel_requested(weft_future *future);

#endif
