/* SPDX-License-Identifier: MIT */
/* work_list.h — the queue between an executor's submitters and its workers.
 *
 * A general weft_queue serves any number of threads through one lock; a
 * pool's queue has a known shape instead: submitters that only add, and a
 * few workers that only take.  This list is built for that shape
 * (docs/benchmarks.md W1: one thread submitting to two workers):
 *
 *   - Adding takes no lock: the item is linked with one atomic exchange on
 *     the tail (an intrusive multi-producer list, after Dmitry Vyukov's),
 *     so a submitter never waits for a worker holding a lock.
 *   - Taking is serialised among the takers by a lock that submitters never
 *     touch.
 *   - Idle workers spin, at most one at a time, before they park; a
 *     submitter wakes a parked one only when nobody spins, and each wake-up
 *     claims one particular parked worker, so a stream of submits costs no
 *     system call while a worker is spinning and one per parked worker at
 *     most otherwise.  While two woken workers are on their way, an adder
 *     wakes no more: a woken worker that finds more work than its own wakes
 *     two more, so a burst brings up a tree of workers while the adder goes
 *     on adding.  An adder that finds the spinner polling hands it
 *     the item through one word instead of the list (W2: one cache line
 *     goes to the worker and back, where linking and taking move four).
 *   - Closing waits for the submitters already inside, so an item is either
 *     refused (WEFT_ESHUTDOWN) or taken by a worker: never stranded.
 *   - Optionally bounded: adding then waits for room (cancellable).
 *
 * Items are weft_work_node structures embedded in the caller's objects. */
#ifndef WEFT_WORK_LIST_H
#define WEFT_WORK_LIST_H

#include "list.h"
#include "park.h"
#include "weft/lock.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct weft_work_node {
    _Atomic(struct weft_work_node *) next;
} weft_work_node;

typedef struct weft_work_list {
    /* Written by submitters. */
    _Alignas(64) _Atomic(weft_work_node *) tail;
    /* Bit 0: closed.  Bits 1-31: submitters inside, times 2.  Bits 32-63:
     * items added so far (mod 2^32), counted as each one enters. */
    _Atomic uint64_t gate;
    /* Written by takers, under take_lock. */
    _Alignas(64) weft_lock take_lock;
    weft_work_node *head;
    _Atomic uint32_t taken; /* items taken so far (mod 2^32) */
    weft_work_node stub;    /* keeps the list non-empty for the algorithm */
    _Atomic bool sealed;    /* closed and no submitter inside: final */
    /* Idle workers: the spinner, and the parked ones, newest first.  The
     * role on a line of its own: workers take and give it up at every
     * task while a backlog lasts, and adders read it only when some worker
     * is parked (W1, bench_pool --quick, 8 interleaved runs: 261-354 -> 159
     * ns per task, CPU 536-624 -> 305). */
    /* Bit 0: the role is held.  Bits 1-31: pokes (work announced
     * elsewhere, weft__work_list_poke), counted in steps of 2.  One word,
     * so that a poke and the holder giving the role up are ordered: either
     * the poke finds the role given up, or the holder sees the poke. */
    _Alignas(64) _Atomic uint32_t role;
    _Alignas(64) _Atomic uint32_t parked; /* entries in `idle` */
    _Atomic uint32_t waking; /* woken for work, not yet looking */
    /* While the spinner polls: MAILBOX_OPEN, or the item an adder handed
     * it directly (0: closed). */
    _Atomic uintptr_t mailbox;
    /* Work the list does not hold (workers' own deques). */
    const struct weft_other_work *other;
    void *other_ctx;
    weft_lock idle_lock;
    weft_list idle; /* of struct weft_idle_worker, newest first */
    /* Bounded lists only. */
    _Alignas(64) long capacity; /* 0: unbounded */
    _Atomic long room;
    _Atomic uint32_t room_waiters;
    weft_eventcount room_changed;
} weft_work_list;

/* A worker's state between its calls to take: whether it holds the
 * spinner's role (see weft__work_list_claim_spinner).  Zero-initialise. */
typedef struct weft_work_taker {
    bool spinning;
    uint32_t pokes; /* the list's pokes when it took the role */
} weft_work_taker;

/* capacity 0 for an unbounded list. */
void weft__work_list_init(weft_work_list *list, long capacity);

/* Work held elsewhere, which the list's idle workers must know of. */
typedef struct weft_other_work {
    /* Whether some is there now; an idle worker asks after it says it is
     * idle (see weft__work_list_poke). */
    bool (*present)(void *ctx);
    /* The list is closing: return once every addition begun elsewhere
     * before `closed` turned true is visible to present().  Called after
     * the list's own adders are done, before workers may see it sealed. */
    void (*quiesce)(void *ctx);
} weft_other_work;

/* Tell the list about work held elsewhere.  Before the first take. */
void weft__work_list_set_other_work(weft_work_list *list, const weft_other_work *other,
                                    void *ctx);

/* Whether the list is closed (a sequentially consistent read): work added
 * elsewhere checks it after saying it adds, as weft_other_work.quiesce
 * expects. */
bool weft__work_list_closed(weft_work_list *list);

/* Work was added elsewhere (other_work turned true): get an idle worker to
 * look, the spinner by a poke, else a parked one by a wake-up.  Call after
 * the work is visible (a sequentially consistent store): an idle worker
 * says it is idle, then looks at other_work, so one of the two sees the
 * other.  Costs two reads when no worker is idle. */
void weft__work_list_poke(weft_work_list *list);

/* Add an item, waiting for room until `deadline` when the list is bounded
 * and full.  WEFT_OK; WEFT_ESHUTDOWN once closed; WEFT_EFULL when no room
 * came by the deadline; WEFT_ECANCELLED in a cancelled task. */
int weft__work_list_add(weft_work_list *list, weft_work_node *node, int64_t deadline);

/* Take the oldest item.  With wait, block until there is one.  `taker` is
 * the calling worker's state, or NULL for a one-off take (it then never
 * spins).  A taker holding the spinner's role keeps it through an
 * WEFT_EEMPTY answer and gives it up with any other.
 * WEFT_OK; WEFT_EEMPTY (not waiting, nothing there); WEFT_ESHUTDOWN (closed
 * and drained: the worker should leave); WEFT_EAGAIN (waiting, woken by
 * weft__work_list_wake_all, by a poke, for other work, or for an item
 * another worker took first: look at whatever else may have changed, then
 * take again). */
int weft__work_list_take(weft_work_list *list, weft_work_taker *taker, weft_work_node **node,
                        bool wait);

/* A worker whose task has returned, and whose future is about to complete,
 * claims the spinner's role if nobody holds it: a submit made in reaction
 * to that completion (a caller waiting on each result in turn: docs/benchmarks.md W2)
 * then sees a worker about to look for work and wakes no parked one. */
void weft__work_list_claim_spinner(weft_work_list *list, weft_work_taker *taker);

/* Give the role up (a worker leaving, or busy with work found elsewhere):
 * what the role's holder was told meanwhile (items, pokes) goes to a parked
 * worker. */
void weft__work_list_release_spinner(weft_work_list *list, weft_work_taker *taker);

/* Refuse further items; wait for submitters inside to finish adding, then
 * wake every worker.  Items already added stay to be taken. */
void weft__work_list_close(weft_work_list *list);

/* Wake every parked worker (after a change they must look at). */
void weft__work_list_wake_all(weft_work_list *list);

/* Items added and not yet taken (a snapshot). */
size_t weft__work_list_count(weft_work_list *list);

#endif
