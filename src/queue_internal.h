/* SPDX-License-Identifier: MIT */
/* queue_internal.h — what queue.c (every kind of queue, under one lock)
 * and queue_ring.c (a bounded FIFO queue's lock-free ring for put and get)
 * share. */
#ifndef WEFT_QUEUE_INTERNAL_H
#define WEFT_QUEUE_INTERNAL_H

#include "park.h"
#include "weft/lock.h"
#include "weft/queue.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heap_entry {
    void *item;
    uint64_t order; /* insertion number: ties leave first-in first-out */
};

/* The items, detachable as a whole (see shutdown). */
struct store {
    void **ring;              /* FIFO / LIFO */
    struct heap_entry *heap;  /* PRIORITY */
    size_t capacity, head, count;
};

struct weft_queue {
    _Alignas(64) weft_lock lock;
    _Atomic int ring_on; /* the lock-free ring serves put and get (queue_ring.c) */
    struct weft_queue_ring *ring; /* NULL: the locked store only */
    weft_queue_kind kind;
    long maxsize;
    struct store store;
    uint64_t next_order;
    weft_queue_compare_fn compare;
    void *compare_arg;
    weft_queue_discard_fn discard;
    size_t unfinished;
    bool shutdown;
    unsigned getters_waiting, putters_waiting, joiners_waiting;
    _Alignas(64) weft_eventcount not_empty;
    weft_eventcount not_full;
    weft_eventcount all_done;
};

/* One put, get or join that may wait: what it works on and, once over,
 * its status. */
struct attempt {
    weft_queue *q;
    void *item;        /* put */
    void **out;        /* get */
    unsigned *waiting; /* the count of those waiting for the same */
    int rc;
};

/* ---- the ring (queue_ring.c) ----------------------------------------------
 *
 * A FIFO queue with 0 < maxsize <= WEFT_QUEUE_RING_MAX starts with a ring of
 * cells that put and get use without the lock (Dmitry Vyukov's bounded
 * queue: a sequence number per cell says whose turn it is), so a producer
 * and a consumer touch the lock's line never and each other's lines only
 * where their cells meet (W3 of docs/benchmarks.md: with the lock, half of
 * a hand-off's time went to taking and releasing it).  What needs the
 * queue's whole state at once (task_done, join, shutdown, set_maxsize)
 * first moves the items into the locked store, for good (weft__queue_ring_
 * leave); the queue then works under its lock as every other queue does. */
#define WEFT_QUEUE_RING_MAX 4096

/* Not a status: the ring is left, take the lock path. */
#define WEFT__QUEUE_LOCKED (-1)

/* Give q its ring if it qualifies (at creation): WEFT_OK or WEFT_ENOMEM. */
int weft__queue_ring_init(weft_queue *q);
void weft__queue_ring_free(weft_queue *q);

static inline bool weft__queue_ring_on(weft_queue *q)
{
    return atomic_load_explicit(&q->ring_on, memory_order_acquire) != 0;
}

/* put and get on the ring: a status (as put_until and get_until return),
 * or WEFT__QUEUE_LOCKED once the ring is left. */
int weft__queue_ring_put(weft_queue *q, void *item, int64_t deadline);
int weft__queue_ring_get(weft_queue *q, void **item, int64_t deadline);

/* Move the ring's items into the locked store and stop using the ring
 * (lock held; nothing if already left). */
void weft__queue_ring_leave(weft_queue *q);

/* Items in the ring now; whether it holds maxsize; tasks put and not done
 * (the ring's puts). */
size_t weft__queue_ring_count(weft_queue *q);
bool weft__queue_ring_full(weft_queue *q);
size_t weft__queue_ring_puts(weft_queue *q);

/* Threads waiting in the ring's put or get (free refuses while any do). */
bool weft__queue_ring_busy(weft_queue *q);

/* The locked store's push (queue.c), for leaving the ring. */
int weft__queue_push(weft_queue *q, void *item);

#endif
