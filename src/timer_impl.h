/* SPDX-License-Identifier: MIT */
/* timer_impl.h — what timer.c (the timers, their server and watcher) and
 * timer_heap.c (the pending timers, earliest first) share. */
#ifndef WEFT_TIMER_IMPL_H
#define WEFT_TIMER_IMPL_H

#include "list.h"
#include "weft/event.h"
#include "weft/timer.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ORPHANED: pending or running in the parent of a fork; in the child it is
 * neither alive nor finished, and joining it returns at once (Python's
 * _after_fork marks such threads stopped). */
enum { NEW, PENDING, RUNNING, DONE, ORPHANED };

struct weft_timer {
    /* In `running` while RUNNING.  First, as in struct weft_executor:
     * valgrind then counts a timer running at exit as reachable. */
    weft_list_node run_link;
    _Atomic int refs;
    double interval;
    weft_timer_fn fn;
    void *arg;
    bool daemon;
    bool started;   /* guarded by sched_lock */
    int state;      /* guarded by sched_lock */
    int64_t due;
    size_t slot;    /* index in the heap while PENDING */
    weft_event finished;
};

/* The pending timers ordered by due time, on heap.h's min-heap (items[0]
 * is the earliest); each timer knows its position (slot), so that cancel
 * removes it in O(log n).  The caller holds the timers' schedule lock. */
struct timer_heap {
    weft_timer **items;
    size_t size, capacity;
};

/* Add t (false: no memory) / take t out. */
bool weft__timer_heap_push(struct timer_heap *h, weft_timer *t);
void weft__timer_heap_remove(struct timer_heap *h, weft_timer *t);

#endif
