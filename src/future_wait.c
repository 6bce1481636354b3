/* SPDX-License-Identifier: MIT */
/* future_wait.c — waiting on many futures: weft_wait and the as_completed
 * iterator.  A waiter registers on every future it waits for and is told
 * of each completion (future.c's notify_waiter); the wait itself is the
 * one every future wait uses (weft__future_wait_until), so that a pool
 * thread helps its pool here too. */
#include "future_impl.h"
#include "lock_internal.h"

#include "park.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stdlib.h>
#include <string.h>


static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (weft_future *const *)a, y = (uintptr_t) * (weft_future *const *)b;
    return (x > y) - (x < y);
}

/* The distinct futures of fs[0..n-1], in a new array; NULL on ENOMEM. */
static weft_future **distinct(weft_future *const *fs, size_t n, size_t *count)
{
    weft_future **copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return NULL;
    if (n)
        memcpy(copy, fs, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, by_address);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || copy[k - 1] != copy[i])
            copy[k++] = copy[i];
    *count = k;
    return copy;
}

static bool counts_as_done(int s)
{
    return s == WEFT_FUTURE_FINISHED || s == WEFT_FUTURE_CANCELLED_AND_NOTIFIED;
}

/* Register w on every future not yet done; count those already done. */
static void register_waiter(struct waiter *w, weft_future **fs, size_t n,
                            struct waiter_node *nodes)
{
    for (size_t i = 0; i < n; i++) {
        weft_future *f = fs[i];
        nodes[i] = (struct waiter_node){w, NULL, NULL};
        weft__lock_take(&f->lock);
        if (counts_as_done(state_of(f))) {
            weft__lock_take(&w->lock);
            w->done++;
            w->failed += state_of(f) == WEFT_FUTURE_FINISHED && f->error_code != 0;
            if (w->ready)
                w->ready[w->ready_head + w->ready_count++] = weft_future_ref(f);
            weft_lock_release(&w->lock);
        } else {
            nodes[i].future = f;
            nodes[i].next = f->waiters;
            f->waiters = &nodes[i];
        }
        weft_lock_release(&f->lock);
    }
}

/* Take w off every future it is still registered on.  With `alive`, only
 * off those with alive[i] set: the others may be freed already (as_completed
 * holds no reference to what it yielded; a yielded future was done, and its
 * completion took every waiter off it). */
static void unregister_waiter(struct waiter_node *nodes, size_t n, const bool *alive)
{
    for (size_t i = 0; i < n; i++) {
        weft_future *f = nodes[i].future;
        if (!f || (alive && !alive[i]))
            continue;
        weft__lock_take(&f->lock);
        for (struct waiter_node **link = &f->waiters; *link; link = &(*link)->next) {
            if (*link == &nodes[i]) {
                *link = nodes[i].next;
                break;
            }
        }
        weft_lock_release(&f->lock);
    }
}

static bool condition_met(const struct waiter *w, size_t n, weft_return_when when)
{
    if (w->done == n)
        return true;
    if (when == WEFT_FIRST_COMPLETED)
        return w->done > 0;
    return when == WEFT_FIRST_EXCEPTION && w->failed > 0;
}

/* Wait on the waiter's eventcount until `ready(w, ctx)` or the deadline;
 * can_help as for wait_until. */
struct waiter_goal {
    const struct waiter *waiter;
    bool (*ready)(const struct waiter *, const void *);
    const void *ctx;
};

static bool waiter_goal_met(const void *goal)
{
    const struct waiter_goal *g = goal;
    return g->ready(g->waiter, g->ctx);
}

static int wait_waiter(struct waiter *w, int64_t deadline, bool can_help,
                       bool (*ready)(const struct waiter *, const void *), const void *ctx)
{
    struct waiter_goal goal = {w, ready, ctx};
    struct wait_spot spot = {&w->lock, &w->changed, NULL, waiter_goal_met, &goal, can_help};
    weft__lock_take(&w->lock);
    int rc = weft__future_wait_until(&spot, deadline);
    weft_lock_release(&w->lock);
    return rc;
}

struct wait_goal {
    size_t n;
    weft_return_when when;
};

static bool wait_goal_met(const struct waiter *w, const void *ctx)
{
    const struct wait_goal *g = ctx;
    return condition_met(w, g->n, g->when);
}

int weft_wait(weft_future *const *futures, size_t n, double timeout, weft_return_when when,
              bool *done)
{
    if (done && n) /* what it says when the wait could not be made */
        memset(done, 0, n * sizeof *done);
    int64_t deadline;
    if ((n && !futures) || weft__deadline_after(timeout, &deadline) != WEFT_OK)
        return WEFT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!futures[i])
            return WEFT_EINVAL;
    size_t count;
    weft_future **fs = distinct(futures, n, &count);
    /* The waiter is on the heap with its nodes, not on the stack: the
     * futures write to it while this waits, and a coroutine's stack may be
     * copied away meanwhile (park.h). */
    struct wait_record {
        struct waiter w;
        struct waiter_node nodes[];
    } *record = malloc(sizeof *record + (count ? count : 1) * sizeof(struct waiter_node));
    if (!fs || !record) {
        free(fs);
        free(record);
        return WEFT_ENOMEM;
    }
    struct waiter_node *nodes = record->nodes;
    record->w = (struct waiter){
        .ready = NULL,
        .wake_at = when == WEFT_FIRST_COMPLETED ? 1 : count,
        .wake_on_failure = when == WEFT_FIRST_EXCEPTION,
    };
    struct waiter *w = &record->w;
    weft_lock_init(&w->lock);
    register_waiter(w, fs, count, nodes);
    struct wait_goal goal = {count, when};
    int rc;
    weft__lock_take(&w->lock); /* futures may be notifying already */
    bool met = condition_met(w, count, when);
    weft_lock_release(&w->lock);
    if (met)
        rc = WEFT_OK;
    else if (when < WEFT_ALL_COMPLETED || when > WEFT_FIRST_EXCEPTION)
        rc = WEFT_EINVAL; /* Python: only checked when it has to wait */
    else
        rc = wait_waiter(w, deadline, weft__future_can_help_any(fs, count), wait_goal_met, &goal);
    unregister_waiter(nodes, count, NULL);
    for (size_t i = 0; done && i < n; i++)
        done[i] = counts_as_done(state_of(futures[i]));
    free(record);
    free(fs);
    return rc;
}

struct weft_as_completed {
    struct waiter waiter;
    struct waiter_node *nodes;
    weft_future **futures; /* the distinct ones, sorted, each held until yielded */
    bool *held;
    size_t total, yielded;
    int64_t deadline;
    void *help_checked_for; /* the pool can_help was last worked out for */
    bool can_help;
};

int weft_as_completed_new(weft_as_completed **it, weft_future *const *futures, size_t n,
                          double timeout)
{
    int64_t deadline;
    if (it)
        *it = NULL;
    if (!it || (n && !futures) || weft__deadline_after(timeout, &deadline) != WEFT_OK)
        return WEFT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!futures[i])
            return WEFT_EINVAL;
    weft_as_completed *a = calloc(1, sizeof *a);
    size_t count = 0;
    weft_future **fs = a ? distinct(futures, n, &count) : NULL;
    struct waiter_node *nodes = fs ? malloc((count ? count : 1) * sizeof *nodes) : NULL;
    weft_future **ready = nodes ? malloc((count ? count : 1) * sizeof *ready) : NULL;
    bool *held = ready ? malloc((count ? count : 1) * sizeof *held) : NULL;
    if (!held) {
        free(ready);
        free(nodes);
        free(fs);
        free(a);
        return WEFT_ENOMEM;
    }
    weft_lock_init(&a->waiter.lock);
    a->waiter.ready = ready;
    a->nodes = nodes;
    a->futures = fs;
    a->held = held;
    for (size_t i = 0; i < count; i++) {
        weft_future_ref(fs[i]);
        held[i] = true;
    }
    a->total = count;
    a->deadline = deadline;
    register_waiter(&a->waiter, fs, count, nodes);
    *it = a;
    return WEFT_OK;
}

static bool has_ready(const struct waiter *w, const void *ctx)
{
    (void)ctx;
    return w->ready_count > 0;
}

/* Whether the calling thread may help: worked out again only when it
 * serves another pool than the last caller's. */
static bool as_completed_can_help(weft_as_completed *it)
{
    void *pool = weft__future_helped_pool();
    if (!pool)
        return false;
    if (it->help_checked_for != pool) {
        it->help_checked_for = pool;
        it->can_help = weft__future_can_help_any(it->futures, it->total);
    }
    return it->can_help;
}

int weft_as_completed_next(weft_as_completed *it, weft_future **future)
{
    if (future)
        *future = NULL;
    if (!it || !future)
        return WEFT_EINVAL;
    if (it->yielded == it->total)
        return WEFT_ESTOP;
    int rc = wait_waiter(&it->waiter, it->deadline, as_completed_can_help(it), has_ready, NULL);
    if (rc != WEFT_OK)
        return rc;
    weft__lock_take(&it->waiter.lock);
    *future = it->waiter.ready[it->waiter.ready_head++];
    it->waiter.ready_count--;
    weft_lock_release(&it->waiter.lock);
    it->yielded++;
    /* Keep no hold on what was yielded (Python's as_completed does not). */
    weft_future **slot = bsearch(future, it->futures, it->total, sizeof *it->futures, by_address);
    if (slot && it->held[slot - it->futures]) {
        it->held[slot - it->futures] = false;
        weft_future_release(*slot);
    }
    return WEFT_OK;
}

size_t weft_as_completed_unfinished(const weft_as_completed *it)
{
    return it ? it->total - it->yielded : 0;
}

size_t weft_as_completed_total(const weft_as_completed *it) { return it ? it->total : 0; }

void weft_as_completed_free(weft_as_completed *it)
{
    if (!it)
        return;
    unregister_waiter(it->nodes, it->total, it->held);
    for (size_t i = 0; i < it->waiter.ready_count; i++)
        weft_future_release(it->waiter.ready[it->waiter.ready_head + i]);
    for (size_t i = 0; i < it->total; i++)
        if (it->held[i])
            weft_future_release(it->futures[i]);
    free(it->waiter.ready);
    free(it->nodes);
    free(it->futures);
    free(it->held);
    free(it);
}
