/* SPDX-License-Identifier: MIT */
/* queue.c — Queue, LifoQueue, PriorityQueue and SimpleQueue.
 *
 * One lock guards the items, the counters and the flags; it is held only to
 * move one pointer in or out.  Threads that must wait (empty, full, tasks
 * unfinished) count themselves under the lock and wait on an eventcount
 * (park.h) with the lock released, so a put or get touches no extra shared
 * word unless somebody waits, and makes a system call only if a waiter is
 * actually asleep rather than spinning.  Notifications happen while the
 * lock is held, so a thread that returns from put or get never touches the
 * queue afterwards: a queue can be freed as soon as its users are done.
 *
 * FIFO and LIFO items live in a ring buffer that doubles as needed; a
 * PriorityQueue is a binary min-heap (heap.h) whose entries carry an
 * insertion number, so equal items leave in the order they came (stable).
 */
#include "queue_internal.h"

#include "heap.h"
#include "park.h"
#include "lock_internal.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAPACITY 16

/* put's and get's fast paths (try_put, try_get, with push, pop and the
 * heap's sifting; wait_locked's poll) go whole into put_until and
 * get_until (and the waits' callbacks): the compiler would otherwise call
 * them out of line, a tenth of an uncontended put + get. */
#if defined(__GNUC__)
#define FAST_PATH static inline __attribute__((always_inline))
#else
#define FAST_PATH static inline
#endif

struct weft_simple_queue {
    struct weft_queue base;
};

/* ---- storage (lock held) --------------------------------------------------- */

/* PriorityQueue's order: the caller's comparison (or the items' addresses),
 * then insertion order, so that equal items leave first-in first-out. */
WEFT_HEAP_INLINE bool leaves_first(const void *a, const void *b, const void *queue)
{
    const struct heap_entry *x = a, *y = b;
    const weft_queue *q = queue;
    int c;
    if (q->compare) {
        c = q->compare(x->item, y->item, q->compare_arg);
    } else {
        uintptr_t i = (uintptr_t)x->item, j = (uintptr_t)y->item;
        c = (i > j) - (i < j);
    }
    return c ? c < 0 : x->order < y->order;
}

static const weft_heap_kind entries = {sizeof(struct heap_entry), leaves_first, NULL};

static int grow(weft_queue *q)
{
    struct store *s = &q->store;
    if (q->kind == WEFT_QUEUE_PRIORITY) {
        void *heap = s->heap;
        bool ok = weft__heap_reserve(&heap, &s->capacity, s->count, FIRST_CAPACITY, &entries);
        s->heap = heap;
        return ok ? WEFT_OK : WEFT_ENOMEM;
    }
    /* Unwrap into a fresh ring so that head becomes 0. */
    size_t capacity = s->capacity ? s->capacity * 2 : FIRST_CAPACITY;
    void **ring = malloc(capacity * sizeof *ring);
    if (!ring)
        return WEFT_ENOMEM;
    for (size_t i = 0; i < s->count; i++)
        ring[i] = s->ring[(s->head + i) % s->capacity];
    free(s->ring);
    s->ring = ring;
    s->head = 0;
    s->capacity = capacity;
    return WEFT_OK;
}

FAST_PATH int push(weft_queue *q, void *item)
{
    struct store *s = &q->store;
    if (s->count == s->capacity) {
        int rc = grow(q);
        if (rc != WEFT_OK)
            return rc;
    }
    if (q->kind == WEFT_QUEUE_PRIORITY) {
        struct heap_entry e = {item, q->next_order++};
        weft__heap_push(s->heap, &s->count, &e, &entries, q);
    } else {
        s->ring[(s->head + s->count++) % s->capacity] = item;
    }
    return WEFT_OK;
}

int weft__queue_push(weft_queue *q, void *item) { return push(q, item); }

FAST_PATH void *pop(weft_queue *q)
{
    struct store *s = &q->store;
    if (q->kind == WEFT_QUEUE_PRIORITY) {
        struct heap_entry top;
        weft__heap_pop(s->heap, &s->count, &top, &entries, q);
        return top.item;
    }
    if (q->kind == WEFT_QUEUE_LIFO)
        return s->ring[(s->head + --s->count) % s->capacity];
    void *item = s->ring[s->head];
    s->head = (s->head + 1) % s->capacity;
    s->count--;
    return item;
}

/* Hand every item of a detached store to `discard`, then free it. */
static void discard_store(struct store *s, weft_queue_kind kind, weft_queue_discard_fn discard)
{
    for (size_t i = 0; discard && i < s->count; i++)
        discard(kind == WEFT_QUEUE_PRIORITY ? s->heap[i].item
                                            : s->ring[(s->head + i) % s->capacity]);
    free(s->ring);
    free(s->heap);
}

/* ---- waiting (lock held on entry and on return) -------------------------------- */

/* Count this thread among the waiters and let go of the lock while it
 * sleeps (weft_wait_spec.sleeping). */
static void sleeping(void *ctx, bool asleep)
{
    struct attempt *a = ctx;
    if (asleep) {
        ++*a->waiting;
        weft_lock_release(&a->q->lock);
    } else {
        weft__lock_acquire_until(&a->q->lock, WEFT_NO_DEADLINE);
        --*a->waiting;
    }
}

/* Wait on ec until `ready` ends the attempt: its status then, `timed_out`
 * if the deadline passed first, or WEFT_ECANCELLED. */
static int wait_for_change(struct attempt *a, weft_eventcount *ec,
                           bool (*ready)(void *, uint32_t *), int64_t deadline, int timed_out)
{
    weft_wait_spec spec = {.ready = ready, .sleeping = sleeping, .ctx = a, .ec = ec};
    int rc = weft__wait_for(&spec, deadline);
    return rc == WEFT_OK ? a->rc : rc == WEFT_ETIMEDOUT ? timed_out : rc;
}

/* The attempt's fast look failed.  A passed deadline (a poll) is answered
 * here, inline, before the attempt is even built in memory. */
FAST_PATH int wait_locked(struct attempt a, weft_eventcount *ec,
                          bool (*ready)(void *, uint32_t *), int64_t deadline, int timed_out)
{
    if (weft__deadline_passed(deadline))
        return timed_out;
    return wait_for_change(&a, ec, ready, deadline, timed_out);
}

/* ---- create and free -------------------------------------------------------- */

int weft_queue_new_with(weft_queue **queue, const weft_queue_options *options)
{
    if (queue)
        *queue = NULL; /* what it holds on every status but WEFT_OK */
    static const weft_queue_options defaults;
    if (!options)
        options = &defaults;
    if (!queue || options->kind < WEFT_QUEUE_FIFO || options->kind > WEFT_QUEUE_PRIORITY)
        return WEFT_EINVAL;
    weft_queue *q = aligned_alloc(64, (sizeof *q + 63) / 64 * 64);
    if (!q)
        return WEFT_ENOMEM;
    memset(q, 0, sizeof *q);
    weft_lock_init(&q->lock);
    q->kind = options->kind;
    q->maxsize = options->maxsize;
    q->compare = options->compare;
    q->compare_arg = options->compare_arg;
    q->discard = options->discard;
    if (weft__queue_ring_init(q) != WEFT_OK) {
        free(q);
        return WEFT_ENOMEM;
    }
    *queue = q;
    return WEFT_OK;
}

int weft_queue_new(weft_queue **queue, long maxsize)
{
    weft_queue_options o = {.maxsize = maxsize, .kind = WEFT_QUEUE_FIFO};
    return weft_queue_new_with(queue, &o);
}

int weft_lifo_queue_new(weft_queue **queue, long maxsize)
{
    weft_queue_options o = {.maxsize = maxsize, .kind = WEFT_QUEUE_LIFO};
    return weft_queue_new_with(queue, &o);
}

int weft_priority_queue_new(weft_queue **queue, long maxsize, weft_queue_compare_fn compare,
                            void *compare_arg)
{
    weft_queue_options o = {.maxsize = maxsize,
                            .kind = WEFT_QUEUE_PRIORITY,
                            .compare = compare,
                            .compare_arg = compare_arg};
    return weft_queue_new_with(queue, &o);
}

static int free_queue(weft_queue *q, weft_queue_discard_fn discard)
{
    weft__lock_take(&q->lock);
    bool busy = q->getters_waiting || q->putters_waiting || q->joiners_waiting ||
                weft__queue_ring_busy(q);
    if (!busy)
        weft__queue_ring_leave(q); /* its items are discarded with the store's */
    weft_lock_release(&q->lock);
    if (busy)
        return WEFT_ESTATE;
    discard_store(&q->store, q->kind, discard);
    weft__queue_ring_free(q);
    free(q);
    return WEFT_OK;
}

int weft_queue_free(weft_queue *queue)
{
    return queue ? free_queue(queue, queue->discard) : WEFT_EINVAL;
}

/* ---- put and get ---------------------------------------------------------------- */

/* Push if there is room; true once the put is over (*rc: WEFT_OK,
 * WEFT_ESHUTDOWN or WEFT_ENOMEM). */
FAST_PATH bool try_put(weft_queue *q, void *item, int *rc)
{
    if (q->shutdown) {
        *rc = WEFT_ESHUTDOWN;
        return true;
    }
    if (q->maxsize > 0 && q->store.count >= (size_t)q->maxsize)
        return false;
    *rc = push(q, item);
    /* Room is left and other putters wait: pass the wake-up on. */
    if (*rc == WEFT_OK && q->putters_waiting && q->maxsize > 0 &&
        q->store.count < (size_t)q->maxsize)
        weft__eventcount_notify_one(&q->not_full);
    return true;
}

static bool put_ready(void *attempt, uint32_t *expected)
{
    (void)expected;
    struct attempt *a = attempt;
    return try_put(a->q, a->item, &a->rc);
}

static int put_until(weft_queue *q, void *item, int64_t deadline)
{
    if (weft__queue_ring_on(q)) {
        int rc = weft__queue_ring_put(q, item, deadline);
        if (rc != WEFT__QUEUE_LOCKED)
            return rc;
    }
    weft__lock_acquire_until(&q->lock, WEFT_NO_DEADLINE);
    int rc;
    if (!try_put(q, item, &rc))
        rc = wait_locked((struct attempt){.q = q, .item = item, .waiting = &q->putters_waiting},
                         &q->not_full, put_ready, deadline, WEFT_EFULL);
    if (rc == WEFT_OK) {
        q->unfinished++;
        if (q->getters_waiting)
            weft__eventcount_notify_one(&q->not_empty);
    }
    weft_lock_release(&q->lock);
    return rc;
}

/* Pop if there is an item; true once the get is over (*rc: WEFT_OK or
 * WEFT_ESHUTDOWN). */
FAST_PATH bool try_get(weft_queue *q, void **item, int *rc)
{
    if (q->store.count) {
        *item = pop(q);
        *rc = WEFT_OK;
        if (q->putters_waiting)
            weft__eventcount_notify_one(&q->not_full);
        /* A notify may have gone to this thread's spin alone: items are
         * left and others wait, so pass the wake-up on. */
        if (q->store.count && q->getters_waiting)
            weft__eventcount_notify_one(&q->not_empty);
        return true;
    }
    if (q->shutdown) {
        *rc = WEFT_ESHUTDOWN;
        return true;
    }
    return false;
}

static bool get_ready(void *attempt, uint32_t *expected)
{
    (void)expected;
    struct attempt *a = attempt;
    return try_get(a->q, a->out, &a->rc);
}

static int get_until(weft_queue *q, void **item, int64_t deadline)
{
    if (weft__queue_ring_on(q)) {
        int rc = weft__queue_ring_get(q, item, deadline);
        if (rc != WEFT__QUEUE_LOCKED)
            return rc;
    }
    weft__lock_acquire_until(&q->lock, WEFT_NO_DEADLINE);
    int rc;
    if (!try_get(q, item, &rc))
        rc = wait_locked((struct attempt){.q = q, .out = item, .waiting = &q->getters_waiting},
                         &q->not_empty, get_ready, deadline, WEFT_EEMPTY);
    weft_lock_release(&q->lock);
    return rc;
}

int weft_queue_put(weft_queue *queue, void *item)
{
    return queue ? put_until(queue, item, WEFT_NO_DEADLINE) : WEFT_EINVAL;
}

int weft_queue_put_timeout(weft_queue *queue, void *item, double timeout)
{
    int64_t deadline;
    if (!queue)
        return WEFT_EINVAL;
    /* Python rejects a negative timeout only where put could block. */
    if (timeout < 0 && queue->maxsize <= 0)
        timeout = 0;
    if (timeout < 0)
        return WEFT_EINVAL;
    int rc = weft__deadline_after(timeout, &deadline);
    return rc ? rc : put_until(queue, item, timeout == 0 ? WEFT_DEADLINE_POLL : deadline);
}

int weft_queue_put_nowait(weft_queue *queue, void *item)
{
    return queue ? put_until(queue, item, WEFT_DEADLINE_POLL) : WEFT_EINVAL;
}

/* *item is NULL on every status but WEFT_OK. */
static void clear_item(void **item)
{
    if (item)
        *item = NULL;
}

int weft_queue_get(weft_queue *queue, void **item)
{
    clear_item(item);
    return queue && item ? get_until(queue, item, WEFT_NO_DEADLINE) : WEFT_EINVAL;
}

int weft_queue_get_timeout(weft_queue *queue, void **item, double timeout)
{
    int64_t deadline;
    clear_item(item);
    if (!queue || !item || timeout < 0)
        return WEFT_EINVAL;
    int rc = weft__deadline_after(timeout, &deadline);
    return rc ? rc : get_until(queue, item, timeout == 0 ? WEFT_DEADLINE_POLL : deadline);
}

int weft_queue_get_nowait(weft_queue *queue, void **item)
{
    clear_item(item);
    return queue && item ? get_until(queue, item, WEFT_DEADLINE_POLL) : WEFT_EINVAL;
}

/* ---- tasks ------------------------------------------------------------------------ */

int weft_queue_task_done(weft_queue *queue)
{
    if (!queue)
        return WEFT_EINVAL;
    weft__lock_take(&queue->lock);
    weft__queue_ring_leave(queue);
    int rc = queue->unfinished ? WEFT_OK : WEFT_EINVAL;
    if (rc == WEFT_OK && --queue->unfinished == 0 && queue->joiners_waiting)
        weft__eventcount_notify_all(&queue->all_done);
    weft_lock_release(&queue->lock);
    return rc;
}

static bool all_done(void *attempt, uint32_t *expected)
{
    (void)expected;
    struct attempt *a = attempt;
    a->rc = WEFT_OK;
    return a->q->unfinished == 0;
}

static int join_until(weft_queue *q, int64_t deadline)
{
    weft__lock_take(&q->lock);
    weft__queue_ring_leave(q);
    struct attempt a = {.q = q, .waiting = &q->joiners_waiting};
    int rc = WEFT_OK;
    if (!all_done(&a, NULL))
        rc = wait_locked(a, &q->all_done, all_done, deadline, WEFT_ETIMEDOUT);
    weft_lock_release(&q->lock);
    return rc;
}

int weft_queue_join(weft_queue *queue)
{
    return queue ? join_until(queue, WEFT_NO_DEADLINE) : WEFT_EINVAL;
}

int weft_queue_join_timeout(weft_queue *queue, double timeout)
{
    int64_t deadline;
    if (!queue)
        return WEFT_EINVAL;
    int rc = weft__deadline_after(timeout, &deadline);
    return rc ? rc : join_until(queue, timeout <= 0 ? WEFT_DEADLINE_POLL : deadline);
}

/* ---- shutdown and introspection ------------------------------------------------- */

int weft_queue_shutdown(weft_queue *queue, bool immediate)
{
    if (!queue)
        return WEFT_EINVAL;
    struct store dropped = {0};
    weft__lock_take(&queue->lock);
    weft__queue_ring_leave(queue);
    queue->shutdown = true;
    if (immediate) {
        /* Take the items out whole; they are discarded after unlocking, so
         * a discard function may use the queue. */
        dropped = queue->store;
        memset(&queue->store, 0, sizeof queue->store);
        queue->unfinished -= dropped.count < queue->unfinished ? dropped.count
                                                                : queue->unfinished;
        if (queue->joiners_waiting)
            weft__eventcount_notify_all(&queue->all_done);
    }
    if (queue->getters_waiting)
        weft__eventcount_notify_all(&queue->not_empty);
    if (queue->putters_waiting)
        weft__eventcount_notify_all(&queue->not_full);
    weft_queue_discard_fn discard = queue->discard;
    weft_queue_kind kind = queue->kind;
    weft_lock_release(&queue->lock);
    discard_store(&dropped, kind, discard);
    return WEFT_OK;
}

/* Read one field under the lock. */
#define LOCKED_READ(q, type, expr)                                                        \
    do {                                                                                  \
        weft__lock_take(&(q)->lock);                                                    \
        type value_ = (expr);                                                             \
        weft_lock_release(&(q)->lock);                                                    \
        return value_;                                                                    \
    } while (0)

bool weft_queue_is_shutdown(weft_queue *queue)
{
    if (!queue)
        return false;
    LOCKED_READ(queue, bool, queue->shutdown);
}

size_t weft_queue_qsize(weft_queue *queue)
{
    if (!queue)
        return 0;
    if (weft__queue_ring_on(queue))
        return weft__queue_ring_count(queue); /* maxsize never changes while it is */
    LOCKED_READ(queue, size_t, queue->store.count);
}

bool weft_queue_empty(weft_queue *queue) { return weft_queue_qsize(queue) == 0; }

bool weft_queue_full(weft_queue *queue)
{
    if (!queue)
        return false;
    if (weft__queue_ring_on(queue))
        return weft__queue_ring_full(queue); /* (maxsize may be changing: the ring's own) */
    LOCKED_READ(queue, bool, queue->maxsize > 0 && queue->store.count >= (size_t)queue->maxsize);
}

size_t weft_queue_unfinished_tasks(weft_queue *queue)
{
    if (!queue)
        return 0;
    if (weft__queue_ring_on(queue))
        return weft__queue_ring_puts(queue);
    LOCKED_READ(queue, size_t, queue->unfinished);
}

long weft_queue_maxsize(weft_queue *queue)
{
    if (!queue)
        return 0;
    LOCKED_READ(queue, long, queue->maxsize);
}

int weft_queue_set_maxsize(weft_queue *queue, long maxsize)
{
    if (!queue)
        return WEFT_EINVAL;
    weft__lock_take(&queue->lock);
    weft__queue_ring_leave(queue);
    queue->maxsize = maxsize;
    if (queue->putters_waiting)
        weft__eventcount_notify_all(&queue->not_full);
    weft_lock_release(&queue->lock);
    return WEFT_OK;
}

/* ---- SimpleQueue: an unbounded FIFO weft_queue without the extras -------------- */

int weft_simple_queue_new(weft_simple_queue **queue)
{
    if (queue)
        *queue = NULL; /* what it holds on every status but WEFT_OK */
    if (!queue)
        return WEFT_EINVAL;
    weft_queue *q;
    int rc = weft_queue_new(&q, 0);
    if (rc == WEFT_OK)
        *queue = (weft_simple_queue *)q;
    return rc;
}

static weft_queue *base_of(weft_simple_queue *queue) { return queue ? &queue->base : NULL; }

int weft_simple_queue_free(weft_simple_queue *queue, weft_queue_discard_fn discard)
{
    return queue ? free_queue(base_of(queue), discard) : WEFT_EINVAL;
}

int weft_simple_queue_put(weft_simple_queue *queue, void *item)
{
    return weft_queue_put_nowait(base_of(queue), item);
}

int weft_simple_queue_get(weft_simple_queue *queue, void **item)
{
    return weft_queue_get(base_of(queue), item);
}

int weft_simple_queue_get_timeout(weft_simple_queue *queue, void **item, double timeout)
{
    return weft_queue_get_timeout(base_of(queue), item, timeout);
}

int weft_simple_queue_get_nowait(weft_simple_queue *queue, void **item)
{
    return weft_queue_get_nowait(base_of(queue), item);
}

size_t weft_simple_queue_qsize(weft_simple_queue *queue)
{
    return weft_queue_qsize(base_of(queue));
}

bool weft_simple_queue_empty(weft_simple_queue *queue)
{
    return weft_queue_empty(base_of(queue));
}
