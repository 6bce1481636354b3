/* SPDX-License-Identifier: MIT */
/* loop.c — the event loop (see loop.h): the ready queue in FIFO order,
 * timers in a heap (equal times in the order set), the inbox other threads
 * push to, and sleeping in the poller when there is nothing to do. */
#include "loop.h"

#include "heap.h"
#include "park.h"
#include "weft/status.h"

#include <stdlib.h>

static _Thread_local weft_loop *here;

weft_loop *weft__loop_here(void) { return here; }

weft_loop *weft__loop_enter(weft_loop *loop)
{
    weft_loop *was = here;
    here = loop;
    return was;
}

/* ---- the ready queue and the inbox ------------------------------------ */

void weft__loop_push_ready(weft_loop *loop, weft_runnable *r)
{
    r->next = NULL;
    if (loop->ready_tail)
        loop->ready_tail->next = r;
    else
        loop->ready_head = r;
    loop->ready_tail = r;
}

/* Another thread's push: onto the inbox (a lock-free stack), then wake the
 * loop if it sleeps or is about to.  Counted in remote_pushers, so that a
 * loop being freed waits for the last waker to be done with it. */
static void push_remote(weft_loop *loop, weft_runnable *r)
{
    atomic_fetch_add(&loop->remote_pushers, 1);
    weft_runnable *top = atomic_load_explicit(&loop->inbox, memory_order_relaxed);
    do
        r->next = top;
    while (!atomic_compare_exchange_weak_explicit(&loop->inbox, &top, r, memory_order_seq_cst,
                                                  memory_order_relaxed));
    if (atomic_load(&loop->sleeping))
        weft__poller_wake(loop->poller);
    atomic_fetch_sub_explicit(&loop->remote_pushers, 1, memory_order_release);
}

void weft__loop_push(weft_loop *loop, weft_runnable *r)
{
    if (here == loop)
        weft__loop_push_ready(loop, r);
    else
        push_remote(loop, r);
}

/* Move the inbox, oldest first, to the end of the ready queue. */
void weft__loop_take_inbox(weft_loop *loop)
{
    if (!atomic_load_explicit(&loop->inbox, memory_order_relaxed))
        return;
    weft_runnable *r = atomic_exchange_explicit(&loop->inbox, NULL, memory_order_acquire);
    weft_runnable *oldest_first = NULL;
    while (r) {
        weft_runnable *next = r->next;
        r->next = oldest_first;
        oldest_first = r;
        r = next;
    }
    while (oldest_first) {
        weft_runnable *next = oldest_first->next;
        weft__loop_push_ready(loop, oldest_first);
        oldest_first = next;
    }
}

/* ---- timers ---------------------------------------------------------- */

static bool fires_first(const void *a, const void *b, const void *ctx)
{
    (void)ctx;
    const weft_loop_timer *x = *(weft_loop_timer *const *)a, *y = *(weft_loop_timer *const *)b;
    return x->when < y->when || (x->when == y->when && x->seq < y->seq);
}

static void set_slot(void *entry, size_t index) { (*(weft_loop_timer **)entry)->slot = index; }

static const weft_heap_kind timer_kind = {sizeof(weft_loop_timer *), fires_first, set_slot};

int weft__loop_timer_reserve(weft_loop *loop, size_t count)
{
    while (count > loop->timer_capacity) {
        void *items = loop->timers;
        if (!weft__heap_reserve(&items, &loop->timer_capacity, loop->timer_capacity, 64,
                                &timer_kind))
            return WEFT_ENOMEM;
        loop->timers = items;
    }
    return WEFT_OK;
}

/* Every task may arm its wait's timer at any time (coro.c reserves room
 * for them at spawn), so the other timers must leave that room free: the
 * capacity never falls below the other timers armed plus the tasks. */
int weft__loop_timer_arm(weft_loop *loop, weft_loop_timer *t, int64_t when)
{
    if (weft__loop_timer_reserve(loop, loop->timer_count + 1 + loop->task_count) != WEFT_OK)
        return WEFT_ENOMEM;
    weft__loop_timer_arm_reserved(loop, t, when);
    return WEFT_OK;
}

void weft__loop_timer_arm_reserved(weft_loop *loop, weft_loop_timer *t, int64_t when)
{
    t->when = when;
    t->seq = loop->timer_seq++;
    t->armed = true;
    weft__heap_push(loop->timers, &loop->timer_count, &t, &timer_kind, NULL);
}

void weft__loop_timer_disarm(weft_loop *loop, weft_loop_timer *t)
{
    if (!t->armed)
        return;
    weft__heap_remove(loop->timers, &loop->timer_count, t->slot, NULL, &timer_kind, NULL);
    t->armed = false;
}

/* Fire every timer due by now, earliest first. */
static void fire_due_timers(weft_loop *loop)
{
    int64_t now = weft__now_ns();
    loop->round_now = now;
    if (!loop->timer_count)
        return;
    while (loop->timer_count && loop->timers[0]->when <= now) {
        weft_loop_timer *t;
        weft__heap_pop(loop->timers, &loop->timer_count, &t, &timer_kind, NULL);
        t->armed = false;
        t->fire(t);
    }
}

/* ---- running ----------------------------------------------------------- */

/* Nothing is ready: sleep in the poller until the next timer or a push.
 * `sleeping` is set before the inbox is looked at, as push_remote pushes
 * before it looks at `sleeping`: one of the two sees the other. */
static void sleep_until_work(weft_loop *loop)
{
    atomic_store(&loop->sleeping, 1);
    if (!atomic_load(&loop->inbox)) {
        int64_t until = loop->timer_count ? loop->timers[0]->when : WEFT_NO_DEADLINE;
        weft__poller_wait(loop->poller, until, weft__loop_fd_ready, loop);
    }
    atomic_store_explicit(&loop->sleeping, 0, memory_order_relaxed);
}

void weft__loop_run_until(weft_loop *loop, bool (*done)(void *ctx), void *ctx)
{
    bool slept = false; /* the last round slept in the poller: it has just looked */
    while (!done(ctx)) {
        weft__loop_flush_all(loop); /* the last round's writes, before the fds */
        weft__loop_take_inbox(loop);
        /* Busy: still look at the fds each round, but not right after a
         * sleep, which looked: one epoll_wait per round, not two (W12's
         * keep-alive server at 100 connections, under strace: 2,030 calls
         * per 100k requests before). */
        if (loop->watching && loop->ready_head && !slept)
            weft__poller_wait(loop->poller, WEFT_DEADLINE_POLL, weft__loop_fd_ready, loop);
        fire_due_timers(loop);
        if (!loop->ready_head) {
            sleep_until_work(loop);
            slept = true;
            continue;
        }
        slept = false;
        /* One round runs what is ready now; what it makes ready runs in
         * the next (after the timers and the inbox have had their turn). */
        weft_runnable *last = loop->ready_tail;
        for (;;) {
            weft_runnable *r = loop->ready_head;
            loop->ready_head = r->next;
            if (!loop->ready_head)
                loop->ready_tail = NULL;
            r->run(r);
            if (r == last || done(ctx))
                break;
        }
    }
    weft__loop_flush_all(loop);
}

/* ---- options, making and destroying --------------------------------- */

/* What is still queued when the loop goes: callbacks are dropped (as
 * asyncio drops them with a closed loop); tasks have all ended by then. */
static void drop_ready(weft_loop *loop)
{
    /* A callback's timer makes it ready when it fires: then it is dropped
     * with the others. */
    while (loop->timer_count) {
        weft_loop_timer *t;
        weft__heap_pop(loop->timers, &loop->timer_count, &t, &timer_kind, NULL);
        t->armed = false;
        t->fire(t);
    }
    while (loop->ready_head) {
        weft_runnable *r = loop->ready_head;
        loop->ready_head = r->next;
        if (r->drop)
            r->drop(r);
    }
    loop->ready_tail = NULL;
}

void weft__loop_destroy(weft_loop *loop)
{
    atomic_store(&loop->sleeping, 0);
    while (atomic_load(&loop->remote_pushers))
        weft__pf_yield();
    weft__loop_take_inbox(loop);
    drop_ready(loop);
    free(loop->timers);
    weft__loop_flush_all(loop); /* what was written last still goes, */
    if (loop->net_cache_free)   /* and may give buffers back: then free them */
        loop->net_cache_free(loop->net_cache);
    weft__loop_fd_free(loop);
    weft__poller_free(loop->poller);
    free(loop);
}

