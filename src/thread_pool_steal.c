/* SPDX-License-Identifier: MIT */
/* thread_pool_steal.c — a pool's tasks that its own tasks submit: queued
 * on the running worker's deque, found there newest first, stolen by idle
 * workers oldest first (docs/pool.md). */
#include "thread_pool_internal.h"

#include "platform/platform.h"
#include "weft/status.h"

/* Sequentially consistent: an idle worker's look at the deques must see a
 * worker listed before its push (see list_stealable). */
static struct worker *first_stealable(struct pool *p) { return atomic_load(&p->stealable); }

/* Steal the oldest task of another worker's deque (`self` is skipped; NULL
 * for a thread that is no worker).  A victim with more left gets another
 * idle worker to look: wake-ups follow the work, one per task found. */
weft_future *weft__pool_steal(struct pool *p, struct worker *self)
{
    for (struct worker *v = first_stealable(p); v; v = v->next_stealable) {
        if (v == self)
            continue;
        weft_work_node *node = NULL;
        int rc;
        while ((rc = weft__deque_steal(&v->deque, &node)) == WEFT_EAGAIN)
            weft__pf_cpu_relax();
        if (rc == WEFT_OK) {
            if (weft__deque_count(&v->deque))
                weft__work_list_poke(&p->work);
            return weft__future_of_work_node(node);
        }
    }
    return NULL;
}

size_t weft__pool_deque_items(struct pool *p)
{
    size_t n = 0;
    for (struct worker *v = first_stealable(p); v; v = v->next_stealable)
        n += weft__deque_count(&v->deque);
    return n;
}

static bool deque_work_present(void *ctx) { return weft__pool_deque_items(ctx) > 0; }

/* The work list is closing: wait out the pushes begun before (each worker
 * says it pushes, then looks at `closed`: see push_local). */
static void quiesce_pushes(void *ctx)
{
    struct pool *p = ctx;
    for (struct worker *v = first_stealable(p); v; v = v->next_stealable)
        while (atomic_load(&v->pushing))
            weft__pf_yield(); /* a few instructions, unless it was preempted */
}

const weft_other_work weft__pool_deque_work = {deque_work_present, quiesce_pushes};

/* Join the stealable list: before the first push, so that a worker that
 * looks for work after the push finds this deque. */
static void list_stealable(struct pool *p, struct worker *w)
{
    struct worker *head = atomic_load(&p->stealable);
    do
        w->next_stealable = head;
    while (!atomic_compare_exchange_weak(&p->stealable, &head, w));
    w->listed = true;
}

/* A task of this pool submits: queue on the running worker's own deque.
 * False to use the shared list instead: not a worker of this pool; a pool
 * of one worker (a serial executor: nobody would steal, and its tasks keep
 * Python's order, so a task waiting for one submitted before it cannot
 * block it); a bounded pool (max_pending counts the shared list); a full
 * deque; or the pool closing (the shared list then refuses with the right
 * status). */
bool weft__pool_push_local(struct pool *p, struct worker *w, weft_future *f)
{
    if (!w || w->pool != p || p->work.capacity ||
        atomic_load_explicit(&p->max_workers, memory_order_relaxed) == 1)
        return false;
    if (!w->listed)
        list_stealable(p, w);
    atomic_store(&w->pushing, true);
    bool pushed = !weft__work_list_closed(&p->work) &&
                  weft__deque_push(&w->deque, weft__future_work_node(f));
    atomic_store(&w->pushing, false);
    if (pushed)
        weft__work_list_poke(&p->work);
    return pushed;
}

/* The next task for worker w, or NULL (*rc: WEFT_EEMPTY, or WEFT_ESHUTDOWN
 * once the shared list is closed and drained).  Its own deque first, newest
 * first; but one pick in 61 looks at the shared list first (Go's scheduler
 * does the same), so tasks that keep submitting tasks do not starve those
 * submitted from outside; then steal. */
weft_future *weft__pool_find_work(struct pool *p, struct worker *w, int *rc)
{
    weft_future *f = NULL;
    weft_work_node *node;
    if (++w->picks % 61 == 0 && (*rc = weft__pool_take(p, w, &f, false)) == WEFT_OK)
        return f; /* (a take gives the spinner's role up) */
    if ((node = weft__deque_pop(&w->deque)))
        f = weft__future_of_work_node(node);
    else if ((*rc = weft__pool_take(p, w, &f, false)) == WEFT_OK)
        return f;
    else
        f = weft__pool_steal(p, w);
    /* Busy now: whoever holds the role must be looking for work, or the
     * submits that count on it would leave their tasks waiting. */
    if (f)
        weft__work_list_release_spinner(&p->work, &w->taker);
    return f;
}

