/* SPDX-License-Identifier: MIT */
/* work_deque.h — one worker's own queue of tasks, which other workers may
 * steal from (layer 6, beside work_list.h).
 *
 * A task a pool's task submits goes to the deque of the worker running it:
 * the owner pushes and pops at the bottom (newest first: the task it just
 * made is the one whose data is in its cache, and the one a nested wait is
 * likely waiting for), while idle workers steal at the top (oldest first,
 * one at a time).  Only thieves contend, on one word; the owner's push and
 * pop touch its own lines (each with one sequentially consistent store: a
 * full barrier on x86), with a compare-and-swap only when a pop races a
 * steal for the last item.  This is the deque of Chase and Lev ("Dynamic Circular
 * Work-Stealing Deque", 2005) in the form Lê, Pop, Cohen and Zappa Nardelli
 * proved for C11 ("Correct and Efficient Work-Stealing for Weak Memory
 * Models", 2013), with sequentially consistent accesses where they use
 * fences (so that thread sanitizers understand it) and a fixed ring: a full
 * deque refuses the push and the pool sends the task to its shared list
 * instead, so no ring is ever freed under a thief's feet.
 *
 * Items are weft_work_node structures, as in the work list. */
#ifndef WEFT_WORK_DEQUE_H
#define WEFT_WORK_DEQUE_H

#include "work_list.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Slots per deque: 256 (Go's per-P run queue holds as many).  A task that
 * submits more than this before the others catch up sends the rest to the
 * shared list, where they are still taken in order. */
#define WEFT_DEQUE_SLOTS 256

typedef struct weft_work_deque {
    _Alignas(64) _Atomic int64_t top; /* next to steal; thieves advance it */
    _Alignas(64) _Atomic int64_t bottom; /* next free slot; the owner's */
    _Atomic(weft_work_node *) slots[WEFT_DEQUE_SLOTS];
} weft_work_deque;

void weft__deque_init(weft_work_deque *d);

/* Owner only: add at the bottom.  False when the deque is full. */
bool weft__deque_push(weft_work_deque *d, weft_work_node *node);

/* Owner only: take the newest item; NULL when empty. */
weft_work_node *weft__deque_pop(weft_work_deque *d);

/* Any thread: take the oldest item.  WEFT_OK with *node; WEFT_EEMPTY; or
 * WEFT_EAGAIN when another thread took it first (look again). */
int weft__deque_steal(weft_work_deque *d, weft_work_node **node);

/* Items in it now (a snapshot, exact when nobody changes it). */
size_t weft__deque_count(weft_work_deque *d);

#endif
