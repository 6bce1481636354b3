/* SPDX-License-Identifier: MIT */
/* weft/queue.h — thread-safe queues.  Python: the queue module (Queue,
 * LifoQueue, PriorityQueue, SimpleQueue).
 *
 * Items are `void *`: the queue stores the pointers and never looks at what
 * they point to (except through a PriorityQueue's comparison).
 *
 *     weft_queue *jobs;
 *     weft_queue_new(&jobs, 100);             // queue.Queue(maxsize=100)
 *     weft_queue_put(jobs, job);              // blocks while full
 *     void *next;
 *     weft_queue_get(jobs, &next);            // blocks while empty
 *     weft_queue_task_done(jobs);
 *     weft_queue_join(jobs);                  // every put item processed
 *     weft_queue_free(jobs);
 *
 * Blocking calls come in the weft forms: plain (wait forever), `_timeout`
 * (seconds) and `_nowait`.  Errors are Python's exceptions as statuses:
 * WEFT_EEMPTY (queue.Empty), WEFT_EFULL (queue.Full), WEFT_ESHUTDOWN
 * (queue.ShutDown), WEFT_EINVAL (ValueError), WEFT_ENOMEM.
 *
 * Shutdown follows Python 3.13: after weft_queue_shutdown every put fails
 * with WEFT_ESHUTDOWN; gets return what is left and then fail with
 * WEFT_ESHUTDOWN, at once if the shutdown was immediate (which also drops
 * the remaining items and counts them as done, waking joiners).
 *
 * qsize, empty and full are snapshots: another thread may change the
 * queue a moment later (as in Python).
 */
#ifndef WEFT_QUEUE_H
#define WEFT_QUEUE_H

#include "weft/export.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_queue weft_queue;

/* The order items come out in. */
typedef enum weft_queue_kind {
    WEFT_QUEUE_FIFO = 0,     /* queue.Queue: first in, first out */
    WEFT_QUEUE_LIFO = 1,     /* queue.LifoQueue: last in, first out */
    WEFT_QUEUE_PRIORITY = 2, /* queue.PriorityQueue: lowest first */
} weft_queue_kind;

/* A PriorityQueue's order: negative when `a` comes out before `b`, zero
 * when they are equal (equal items come out in the order they were put),
 * positive otherwise.  Python compares items with `<`. */
typedef int (*weft_queue_compare_fn)(const void *a, const void *b, void *arg);

/* Called for items the queue drops: an immediate shutdown, or items still
 * inside when the queue is freed.  Python: the queue's references die. */
typedef void (*weft_queue_discard_fn)(void *item);

/* Options; a zeroed struct is an unbounded FIFO queue. */
typedef struct weft_queue_options {
    long maxsize;                  /* <= 0: unbounded (Python's default 0) */
    weft_queue_kind kind;
    weft_queue_compare_fn compare; /* PRIORITY only; NULL compares the item
                                      pointers as unsigned integers, so
                                      (void *)(uintptr_t)priority works */
    void *compare_arg;
    weft_queue_discard_fn discard; /* may be NULL */
} weft_queue_options;

/* Create a queue.  WEFT_OK and *queue set; WEFT_EINVAL for NULL or an
 * unknown kind; WEFT_ENOMEM; *queue is NULL on every status but WEFT_OK.
 * Python: Queue(maxsize), LifoQueue(maxsize), PriorityQueue(maxsize). */
WEFT_API int weft_queue_new_with(weft_queue **queue, const weft_queue_options *options);
WEFT_API int weft_queue_new(weft_queue **queue, long maxsize);
WEFT_API int weft_lifo_queue_new(weft_queue **queue, long maxsize);
WEFT_API int weft_priority_queue_new(weft_queue **queue, long maxsize,
                                     weft_queue_compare_fn compare, void *compare_arg);

/* Free the queue; items still inside go to the discard function.
 * WEFT_OK; WEFT_ESTATE (nothing freed) while threads wait in it;
 * WEFT_EINVAL for NULL. */
WEFT_API int weft_queue_free(weft_queue *queue);

/* Put an item, waiting while the queue is full.  WEFT_OK;
 * WEFT_ESHUTDOWN (also when shut down while waiting); WEFT_ENOMEM (the item
 * was not added); WEFT_EINVAL for NULL.  Python: q.put(item). */
WEFT_API int weft_queue_put(weft_queue *queue, void *item);

/* Wait at most `timeout` seconds for room.  WEFT_EFULL when there was none
 * in time (0 does not wait).  A negative timeout is WEFT_EINVAL on a bounded
 * queue and ignored on an unbounded one, as in Python; so are NaN and a
 * finite timeout above WEFT_TIMEOUT_MAX.  Python: q.put(item, timeout=t). */
WEFT_API int weft_queue_put_timeout(weft_queue *queue, void *item, double timeout);

/* Put only if there is room: WEFT_OK or WEFT_EFULL.
 * Python: q.put_nowait(item), q.put(item, block=False). */
WEFT_API int weft_queue_put_nowait(weft_queue *queue, void *item);

/* Take the next item into *item, waiting while the queue is empty.
 * WEFT_OK; WEFT_ESHUTDOWN once shut down and empty (at once after an
 * immediate shutdown); WEFT_EINVAL for NULL arguments.  Every get form
 * leaves *item NULL on every status but WEFT_OK.  Python: q.get(). */
WEFT_API int weft_queue_get(weft_queue *queue, void **item);

/* Wait at most `timeout` seconds: WEFT_EEMPTY when nothing came (0 does
 * not wait).  A negative timeout is WEFT_EINVAL, even when an item is
 * ready, as in Python.  Python: q.get(timeout=t). */
WEFT_API int weft_queue_get_timeout(weft_queue *queue, void **item, double timeout);

/* Take an item only if one is ready: WEFT_OK, WEFT_EEMPTY or
 * WEFT_ESHUTDOWN.  Python: q.get_nowait(), q.get(block=False). */
WEFT_API int weft_queue_get_nowait(weft_queue *queue, void **item);

/* Mark one item taken with get as processed.  WEFT_OK; WEFT_EINVAL when
 * called more times than items were put (Python's ValueError
 * "task_done() called too many times"), or for NULL.
 * Python: q.task_done(). */
WEFT_API int weft_queue_task_done(weft_queue *queue);

/* Wait until every item put has been marked done (or dropped by an
 * immediate shutdown).  WEFT_OK; WEFT_EINVAL for NULL.  Python: q.join(). */
WEFT_API int weft_queue_join(weft_queue *queue);

/* As join, for at most `timeout` seconds: WEFT_ETIMEDOUT if tasks remain
 * (beyond Python, whose join has no timeout). */
WEFT_API int weft_queue_join_timeout(weft_queue *queue, double timeout);

/* Shut the queue down (see the top of this file).  Calling it again, with
 * either flag, is allowed.  WEFT_OK or WEFT_EINVAL (NULL).
 * Python 3.13: q.shutdown(immediate). */
WEFT_API int weft_queue_shutdown(weft_queue *queue, bool immediate);

/* Whether shutdown was called.  Python 3.13: q.is_shutdown. */
WEFT_API bool weft_queue_is_shutdown(weft_queue *queue);

/* Items in the queue now (0 for NULL).  Python: q.qsize(). */
WEFT_API size_t weft_queue_qsize(weft_queue *queue);

/* Python: q.empty(), q.full() (full is always false when unbounded). */
WEFT_API bool weft_queue_empty(weft_queue *queue);
WEFT_API bool weft_queue_full(weft_queue *queue);

/* Items put and not yet marked done.  Python: q.unfinished_tasks. */
WEFT_API size_t weft_queue_unfinished_tasks(weft_queue *queue);

/* The bound, and changing it while the queue is in use (it is read again
 * by every put; raising it wakes waiting putters).  WEFT_OK or WEFT_EINVAL.
 * Python: q.maxsize, q.maxsize = n. */
WEFT_API long weft_queue_maxsize(weft_queue *queue);
WEFT_API int weft_queue_set_maxsize(weft_queue *queue, long maxsize);

/* ---- SimpleQueue -------------------------------------------------------- */

/* An unbounded FIFO queue with no task tracking and no shutdown: put never
 * blocks.  Python: queue.SimpleQueue.  Not applicable to C: SimpleQueue's
 * reentrancy guarantee (a put from a __del__ running inside another put);
 * C runs no code behind the caller's back. */
typedef struct weft_simple_queue weft_simple_queue;

/* WEFT_OK, WEFT_EINVAL (NULL) or WEFT_ENOMEM; *queue is NULL on every
 * status but WEFT_OK.  Python: SimpleQueue(). */
WEFT_API int weft_simple_queue_new(weft_simple_queue **queue);

/* Free; remaining items go to `discard` (may be NULL).  WEFT_OK;
 * WEFT_ESTATE while threads wait in it; WEFT_EINVAL for NULL. */
WEFT_API int weft_simple_queue_free(weft_simple_queue *queue, weft_queue_discard_fn discard);

/* Add an item; never blocks.  WEFT_OK, WEFT_ENOMEM or WEFT_EINVAL.
 * Python: put(item), put_nowait(item) (block and timeout are ignored). */
WEFT_API int weft_simple_queue_put(weft_simple_queue *queue, void *item);

/* Take the oldest item, waiting forever / at most `timeout` seconds / not
 * at all.  WEFT_OK; WEFT_EEMPTY; WEFT_EINVAL for NULL arguments, NaN, or a
 * negative timeout (Python's ValueError "'timeout' must be a non-negative
 * number").  Python: get(), get(timeout=t), get_nowait(). */
WEFT_API int weft_simple_queue_get(weft_simple_queue *queue, void **item);
WEFT_API int weft_simple_queue_get_timeout(weft_simple_queue *queue, void **item, double timeout);
WEFT_API int weft_simple_queue_get_nowait(weft_simple_queue *queue, void **item);

/* Python: qsize(), empty(). */
WEFT_API size_t weft_simple_queue_qsize(weft_simple_queue *queue);
WEFT_API bool weft_simple_queue_empty(weft_simple_queue *queue);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_QUEUE_H */
