/* SPDX-License-Identifier: MIT */
/* future_impl.h — what future.c (a future's state, completion, waits on
 * one, running its task) and future_wait.c (waits on many: weft_wait,
 * as_completed) share: the future's layout and the one wait loop. */
#ifndef WEFT_FUTURE_IMPL_H
#define WEFT_FUTURE_IMPL_H

#include "future_internal.h"

#include "park.h"
#include "weft/lock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    FUTURE_OWNS_RESULT = 1, /* result is a malloc'd block, freed with the future */
    FUTURE_HAS_POLLER = 2,  /* work.poll/arg hold a poller (weft__future_set_poller), not a task */
    FUTURE_IS_TASK = 4,     /* a coroutine's task: owner is its record (weft__future_make_task) */
    FUTURE_RETRIEVED = 8,   /* its failure was read (result or exception) */
};

struct callback_node {
    weft_future_callback fn;
    void *arg;
    struct callback_node *next;
};

/* A thread in weft_wait or as_completed. */
struct waiter {
    weft_lock lock;
    weft_eventcount changed;
    size_t done, failed;         /* completions seen (under lock) */
    weft_future **ready;         /* as_completed: completed, not yet yielded */
    size_t ready_head, ready_count;
    /* Wake the waiting thread only once done reaches wake_at (0: at every
     * completion) or, with wake_on_failure, at a failure: a wait for all of
     * 1000 futures is woken once, not 1000 times. */
    size_t wake_at;
    bool wake_on_failure;
};

/* One registration of a waiter on one future. */
struct waiter_node {
    struct waiter *waiter;
    struct waiter_node *next;
    weft_future *future;
};

/* At most 120 bytes, so that glibc's malloc keeps freed futures in its
 * fast bins for reuse rather than merging and returning them to the system
 * (W1 of docs/benchmarks.md: a 136-byte future spent a third of the submitting
 * thread's time in page faults). */
struct weft_future {
    weft_work_node work_node; /* first: see future_internal.h */
    _Atomic int refs;
    weft_lock lock;
    _Atomic int state;
    int error_code;
    uint16_t result_waiters; /* saturates: then every completion notifies */
    uint16_t flags;          /* FUTURE_OWNS_RESULT */
    weft_eventcount done_ec;
    weft_cancel_source cancel; /* cancel() of a running future fires it */
    void *result;
    char *error_message;
    struct callback_node *callbacks; /* newest first */
    struct waiter_node *waiters;
    /* What runs the future (flags say which): its task, which
     * weft__future_run calls with arg, or (FUTURE_HAS_POLLER) the poller
     * its waiters call with arg as ctx.  A union: a future has at most
     * one, and a second pointer would cost the fast bins (see above). */
    union {
        weft_task_fn task;
        weft_future_poller poll;
    } work;
    void *arg;
    void *owner;
    int64_t queued_at;
};

_Static_assert(sizeof(struct weft_future) <= 120, "keep a future in malloc's fast bins");

_Static_assert(offsetof(struct weft_future, work_node) == 0,
               "a future's work node must come first (future_internal.h)");

static inline bool is_cancelled_state(int s)
{
    return s == WEFT_FUTURE_CANCELLED || s == WEFT_FUTURE_CANCELLED_AND_NOTIFIED;
}

static inline int state_of(weft_future *f)
{
    return atomic_load_explicit(&f->state, memory_order_acquire);
}

/* What one wait waits for.  Every future wait (result, exception,
 * weft_wait, as_completed) goes through weft__future_wait_until with one of
 * these, so each of them helps its pool in the same way. */
struct wait_spot {
    weft_lock *lock;          /* guards what ready() reads */
    weft_eventcount *changed; /* notified when ready() may have become true */
    uint16_t *sleepers;       /* counted while asleep, saturating (NULL: none) */
    bool (*ready)(const void *ctx);
    const void *ctx;
    bool can_help; /* some awaited future is of the pool this thread serves */
};

/* Wait until ready() or the deadline passes (WEFT_ETIMEDOUT) or this
 * thread's own cancellable task is cancelled (WEFT_ECANCELLED); the spot's
 * lock is held on entry and return.  A pool thread waiting on futures of
 * its own pool runs that pool's queued tasks meanwhile. */
int weft__future_wait_until(const struct wait_spot *w, int64_t deadline);

/* Whether this thread may help with any of fs (some is of the pool it
 * serves), and which pool it serves (NULL: none). */
bool weft__future_can_help_any(weft_future *const *fs, size_t n);
void *weft__future_helped_pool(void);

#endif
