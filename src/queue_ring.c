/* SPDX-License-Identifier: MIT */
/* queue_ring.c — a bounded FIFO queue's lock-free ring for put and get (see
 * queue_internal.h).
 *
 * Cells carry a sequence number: a cell at position pos is free for the
 * producer of pos when its number is pos, holds that producer's item when
 * it is pos + 1, and is free again for position pos + capacity once
 * consumed.  Producers claim positions on `tail`, consumers on `head`, each
 * with one compare-and-swap; neither reads the other's index except when
 * the queue looks full (a producer then reads head to check maxsize
 * exactly).  Waiting is the eventcounts' (park.h): a waiter counts itself
 * for the whole wait, and an operation that succeeded notifies only when
 * somebody waits on the other side.
 *
 * Leaving the ring (under the queue's lock) freezes both indices with a
 * flag bit, so that every compare-and-swap after it fails and the caller
 * takes the lock path; waits for the operations that claimed a cell before
 * it to finish theirs; and moves the items left to the locked store.  The
 * cells stay allocated until the queue is freed. */
#include "queue_internal.h"

#include "weft/status.h"

#include <stdlib.h>

#define FROZEN ((uint64_t)1 << 63)

struct cell {
    _Atomic uint64_t seq;
    _Atomic(void *) item;
};

struct weft_queue_ring {
    _Alignas(64) _Atomic uint64_t tail; /* next position to fill */
    _Atomic uint64_t head_seen;         /* head as a producer last read it */
    _Alignas(64) _Atomic uint64_t head; /* next position to empty */
    /* Read by every success, written only as waits begin and end: a line
     * of their own (beside tail and head they cost W3 a miss per item). */
    _Alignas(64) _Atomic uint32_t putters; /* waiting in put */
    _Atomic uint32_t getters;              /* waiting in get */
    _Alignas(64) uint64_t mask;            /* capacity - 1: a power of two */
    uint64_t limit;                     /* maxsize */
    struct cell *cells;
};

int weft__queue_ring_init(weft_queue *q)
{
    if (q->kind != WEFT_QUEUE_FIFO || q->maxsize <= 0 || q->maxsize > WEFT_QUEUE_RING_MAX)
        return WEFT_OK;
    /* At least 2: with one cell, "filled at pos" and "free for pos + 1"
     * would be the same number. */
    uint64_t capacity = 2;
    while (capacity < (uint64_t)q->maxsize)
        capacity *= 2;
    struct weft_queue_ring *r = aligned_alloc(64, (sizeof *r + 63) / 64 * 64);
    struct cell *cells = aligned_alloc(64, (capacity * sizeof *cells + 63) / 64 * 64);
    if (!r || !cells) {
        free(r);
        free(cells);
        return WEFT_ENOMEM;
    }
    atomic_init(&r->tail, 0);
    atomic_init(&r->head, 0);
    atomic_init(&r->head_seen, 0);
    atomic_init(&r->putters, 0);
    atomic_init(&r->getters, 0);
    r->mask = capacity - 1;
    r->limit = (uint64_t)q->maxsize;
    r->cells = cells;
    for (uint64_t i = 0; i < capacity; i++) {
        atomic_init(&cells[i].seq, i);
        atomic_init(&cells[i].item, NULL);
    }
    /* The locked store, with room for maxsize already, so that leaving the
     * ring cannot fail for want of memory. */
    q->store.ring = malloc((size_t)q->maxsize * sizeof *q->store.ring);
    if (!q->store.ring) {
        free(r);
        free(cells);
        return WEFT_ENOMEM;
    }
    q->store.capacity = (size_t)q->maxsize;
    q->ring = r;
    atomic_init(&q->ring_on, 1);
    return WEFT_OK;
}

void weft__queue_ring_free(weft_queue *q)
{
    if (q->ring)
        free(q->ring->cells);
    free(q->ring);
}

static struct cell *cell_at(struct weft_queue_ring *r, uint64_t pos)
{
    return &r->cells[pos & r->mask];
}

enum { RING_DONE, RING_FULL, RING_EMPTY, RING_LEFT };

/* Whether filling position pos would put more than maxsize items in.  With
 * maxsize a power of two the cells say so themselves; otherwise head is
 * read only when the last value a producer saw says the queue may be full
 * (head only grows, so that value errs on the full side). */
static bool over_limit(struct weft_queue_ring *r, uint64_t pos)
{
    if (r->limit == r->mask + 1)
        return false;
    uint64_t head = atomic_load_explicit(&r->head_seen, memory_order_relaxed);
    if (head >= pos || pos - head < r->limit)
        return false; /* (head past pos: pos is stale, the claim will fail) */
    head = atomic_load(&r->head) & ~FROZEN;
    atomic_store_explicit(&r->head_seen, head, memory_order_relaxed);
    return head < pos && pos - head >= r->limit;
}

/* A cell another thread has claimed but not yet filled (emptied) is a few
 * instructions from done: try_put and try_get wait for it (backoff, then
 * yield) rather than report the ring full (empty) while an operation that
 * began before is still finishing one that ended after it, which a queue
 * under a lock never does. */

/* One attempt to put.  The cells' numbers are read and written
 * sequentially consistent: a waiter counts itself, then looks at the cells;
 * a producer fills its cell, then looks for waiters (see notify). */
static int try_put(struct weft_queue_ring *r, void *item)
{
    weft_backoff backoff = WEFT_BACKOFF_INIT;
    for (;;) {
        uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (pos & FROZEN)
            return RING_LEFT;
        if (over_limit(r, pos))
            return RING_FULL;
        struct cell *c = cell_at(r, pos);
        uint64_t seq = atomic_load(&c->seq);
        if (seq == pos) {
            if (atomic_compare_exchange_weak(&r->tail, &pos, pos + 1)) {
                atomic_store_explicit(&c->item, item, memory_order_relaxed);
                atomic_store(&c->seq, pos + 1);
                return RING_DONE;
            }
        } else if (seq < pos) {
            /* Still holding the item of pos - capacity: full, unless its
             * consumer has claimed it and is reading it now. */
            uint64_t capacity = r->mask + 1;
            if (pos < capacity || (atomic_load(&r->head) & ~FROZEN) <= pos - capacity)
                return RING_FULL;
            weft__backoff_pause_or_yield(&backoff);
        }
    }
}

static int try_get(struct weft_queue_ring *r, void **item)
{
    weft_backoff backoff = WEFT_BACKOFF_INIT;
    for (;;) {
        uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
        if (pos & FROZEN)
            return RING_LEFT;
        struct cell *c = cell_at(r, pos);
        uint64_t seq = atomic_load(&c->seq);
        if (seq == pos + 1) {
            if (atomic_compare_exchange_weak(&r->head, &pos, pos + 1)) {
                *item = atomic_load_explicit(&c->item, memory_order_relaxed);
                atomic_store(&c->seq, pos + r->mask + 1);
                return RING_DONE;
            }
        } else if (seq < pos + 1) {
            /* Not filled yet: empty, unless its producer has claimed it. */
            if ((atomic_load(&r->tail) & ~FROZEN) <= pos)
                return RING_EMPTY;
            weft__backoff_pause_or_yield(&backoff);
        }
    }
}

/* ---- waiting ---------------------------------------------------------------- */

struct ring_attempt {
    struct weft_queue_ring *r;
    void *item;
    void **out;
    int outcome; /* RING_* */
};

static bool put_ready(void *ctx, uint32_t *expected)
{
    (void)expected;
    struct ring_attempt *a = ctx;
    a->outcome = try_put(a->r, a->item);
    return a->outcome != RING_FULL;
}

static bool get_ready(void *ctx, uint32_t *expected)
{
    (void)expected;
    struct ring_attempt *a = ctx;
    a->outcome = try_get(a->r, a->out);
    return a->outcome != RING_EMPTY;
}

static uint64_t items_in(struct weft_queue_ring *r)
{
    uint64_t head = atomic_load(&r->head) & ~FROZEN, tail = atomic_load(&r->tail) & ~FROZEN;
    return tail > head ? tail - head : 0;
}

static bool items_left(struct weft_queue_ring *r) { return items_in(r) > 0; }

static bool room_left(struct weft_queue_ring *r) { return items_in(r) < r->limit; }

/* One side of the ring: put (it waits for room, tells getters) or get. */
struct side {
    bool (*ready)(void *attempt, uint32_t *expected); /* one try */
    bool (*more_left)(struct weft_queue_ring *r);     /* for this side, after a success */
    _Atomic uint32_t *waiting, *others;               /* this side's waiters, the other's */
    weft_eventcount *changed, *tell;                  /* what it waits on, what it notifies */
    int timed_out;                                    /* WEFT_EFULL or WEFT_EEMPTY */
};

/* Try, wait if the ring is busy (counted in the side's waiters for the
 * whole wait: before the first look, see try_put), and on success wake one
 * waiter of the other side if any waits.  A waiter that another one's
 * success leaves behind is woken by the next success, or finds the item
 * itself: every success notifies while anyone waits. */
static int ring_call(struct ring_attempt *a, const struct side *s, int64_t deadline)
{
    int status = WEFT_OK;
    if (!s->ready(a, NULL)) {
        if (weft__deadline_passed(deadline))
            return s->timed_out;
        atomic_fetch_add(s->waiting, 1);
        weft_wait_spec spec = {.ready = s->ready, .ctx = a, .ec = s->changed};
        int rc = weft__wait_for(&spec, deadline);
        atomic_fetch_sub(s->waiting, 1);
        status = rc == WEFT_ETIMEDOUT ? s->timed_out : rc;
        if (rc != WEFT_OK)
            return status;
    }
    if (a->outcome == RING_LEFT)
        return WEFT__QUEUE_LOCKED;
    if (atomic_load(s->others))
        weft__eventcount_notify_one(s->tell);
    /* A notify goes to a sleeper only while nobody spins (park.h): if this
     * thread was the spinner and more is left for its side (items for
     * getters, room for putters), pass the wake-up on. */
    if (atomic_load(s->waiting) && s->more_left(a->r))
        weft__eventcount_notify_one(s->changed);
    return WEFT_OK;
}

int weft__queue_ring_put(weft_queue *q, void *item, int64_t deadline)
{
    struct ring_attempt a = {.r = q->ring, .item = item};
    const struct side put = {put_ready,    room_left,     &a.r->putters, &a.r->getters,
                             &q->not_full, &q->not_empty, WEFT_EFULL};
    return ring_call(&a, &put, deadline);
}

int weft__queue_ring_get(weft_queue *q, void **item, int64_t deadline)
{
    struct ring_attempt a = {.r = q->ring, .out = item};
    const struct side get = {get_ready,     items_left,   &a.r->getters, &a.r->putters,
                             &q->not_empty, &q->not_full, WEFT_EEMPTY};
    return ring_call(&a, &get, deadline);
}

/* ---- leaving the ring ---------------------------------------------------------- */

/* Wait until the cell at pos holds at least `seq`: the operation that
 * claimed it before the freeze is a few instructions from done. */
static void wait_for_cell(struct weft_queue_ring *r, uint64_t pos, uint64_t seq)
{
    weft_backoff backoff = WEFT_BACKOFF_INIT;
    while (atomic_load(&cell_at(r, pos)->seq) < seq)
        weft__backoff_pause_or_yield(&backoff);
}

void weft__queue_ring_leave(weft_queue *q)
{
    struct weft_queue_ring *r = q->ring;
    if (!weft__queue_ring_on(q))
        return;
    uint64_t tail = atomic_fetch_or(&r->tail, FROZEN) & ~FROZEN;
    uint64_t head = atomic_fetch_or(&r->head, FROZEN) & ~FROZEN;
    uint64_t capacity = r->mask + 1;
    /* Consumers that claimed a cell before the freeze have read it once
     * they give it back; producers have filled theirs once numbered. */
    for (uint64_t pos = head > capacity ? head - capacity : 0; pos < head; pos++)
        wait_for_cell(r, pos, pos + capacity);
    for (uint64_t pos = head; pos < tail; pos++) {
        wait_for_cell(r, pos, pos + 1);
        /* (cannot fail: the store has room for maxsize from the start) */
        (void)weft__queue_push(q, atomic_load_explicit(&cell_at(r, pos)->item,
                                                       memory_order_relaxed));
    }
    /* Every ring put is a task not yet done: task_done leaves the ring
     * before it counts one. */
    q->unfinished = tail;
    atomic_store_explicit(&q->ring_on, 0, memory_order_release);
    /* Waiters in the ring look again, and take the lock path. */
    weft__eventcount_notify_all(&q->not_empty);
    weft__eventcount_notify_all(&q->not_full);
}

size_t weft__queue_ring_count(weft_queue *q) { return (size_t)items_in(q->ring); }

bool weft__queue_ring_full(weft_queue *q) { return !room_left(q->ring); }

size_t weft__queue_ring_puts(weft_queue *q)
{
    return (size_t)(atomic_load(&q->ring->tail) & ~FROZEN);
}

bool weft__queue_ring_busy(weft_queue *q)
{
    return q->ring && (atomic_load(&q->ring->putters) || atomic_load(&q->ring->getters));
}
