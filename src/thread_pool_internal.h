/* SPDX-License-Identifier: MIT */
/* thread_pool_internal.h — what thread_pool.c (the executor: workers,
 * submit, shutdown, stats) and thread_pool_steal.c (the workers' own
 * deques: pushing, finding work, stealing) share. */
#ifndef WEFT_THREAD_POOL_INTERNAL_H
#define WEFT_THREAD_POOL_INTERNAL_H

#include "executor_internal.h"
#include "future_internal.h"
#include "work_deque.h"
#include "work_list.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/thread.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

/* One worker.  Its counters sit on its own cache line, so no counter is
 * written by every task of the pool; its deque's ends on lines of their
 * own. */
struct worker {
    _Alignas(64) _Atomic size_t completed;
    _Atomic size_t running;
    struct pool *pool;
    weft_thread *thread;
    weft_work_taker taker;
    unsigned picks;                /* tasks found: see find_work */
    bool listed;                   /* in pool->stealable */
    _Atomic bool pushing;          /* between saying so and its push */
    struct worker *next_stealable; /* set before it is listed */
    weft_work_deque deque;
};

/* Fields every submit reads come first; what workers write sits on lines
 * of its own, so a worker going idle or sampling a queue time does not
 * take the line away from the submitters. */
struct pool {
    weft_executor base;
    _Atomic long max_workers;
    _Atomic size_t alive; /* workers that have not exited */
    _Atomic bool shut_down, broken;
    weft_lock lock;          /* guards the fields up to `next_index` */
    struct worker **workers; /* every worker started, for joining and stats */
    size_t started, capacity;
    char *prefix;
    unsigned long next_index;
    int (*initializer)(void *arg);
    void *initializer_arg;
    /* Workers that have pushed to their deques, newest first: where idle
     * workers look and steal (a worker joins once, and stays until the
     * pool is freed). */
    _Atomic(struct worker *) stealable;
    _Alignas(64) _Atomic long idle_tokens; /* Python's _idle_semaphore */
    _Atomic size_t idle_now;
    _Alignas(64) _Atomic int64_t queued_ns; /* over the sampled tasks */
    _Atomic size_t queue_samples;
    weft_work_list work;
};


/* Take the next future from the shared work list; `w` is the calling
 * worker, or NULL for a thread taking once (helping, cancelling, breaking). */
static inline int weft__pool_take(struct pool *p, struct worker *w, weft_future **f, bool wait)
{
    weft_work_node *node = NULL;
    int rc = weft__work_list_take(&p->work, w ? &w->taker : NULL, &node, wait);
    *f = rc == WEFT_OK ? weft__future_of_work_node(node) : NULL;
    return rc;
}

/* Queue f on the deque of worker w (the caller's, NULL if it is none)
 * when w serves p; false to use the shared list instead (see
 * thread_pool_steal.c). */
bool weft__pool_push_local(struct pool *p, struct worker *w, weft_future *f);

/* The next task for worker w, or NULL (*rc: WEFT_EEMPTY, or WEFT_ESHUTDOWN
 * once the shared list is closed and drained). */
weft_future *weft__pool_find_work(struct pool *p, struct worker *w, int *rc);

/* Steal a task from another worker's deque (`self` skipped; NULL: none). */
weft_future *weft__pool_steal(struct pool *p, struct worker *self);

/* Tasks in the workers' deques now. */
size_t weft__pool_deque_items(struct pool *p);

/* What the shared list must know of the deques (weft_other_work). */
extern const weft_other_work weft__pool_deque_work;

#endif
