/* SPDX-License-Identifier: MIT */
/* coro_call.c — the loop as weft/coro.h shows it: the running loop, its
 * clock, its options, and callbacks (call_soon, call_later, call_at,
 * call_soon_threadsafe, handles). */
#include "coro_internal.h"

#include "weft/coro.h"
#include "weft/status.h"
#include "weft/time.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

weft_loop *weft_get_running_loop(void)
{
    weft_loop *here = weft__loop_here();
    return here && here->running ? here : NULL;
}

double weft_loop_time(const weft_loop *loop)
{
    (void)loop; /* every loop keeps the monotonic clock */
    return weft_monotonic();
}

int weft__loop_check_options(const weft_loop_options *o)
{
    if (o->stack_mode != WEFT_STACK_DEFAULT && o->stack_mode != WEFT_STACK_OWN &&
        o->stack_mode != WEFT_STACK_SHARED)
        return WEFT_EINVAL;
    if (o->stack_size > ((size_t)1 << 30) || o->shared_stacks > 1024)
        return WEFT_EINVAL;
    if (!(o->slow_callback_duration >= 0) || isinf(o->slow_callback_duration))
        return WEFT_EINVAL;
    return WEFT_OK;
}

/* ---- callbacks --------------------------------------------------------- */

struct weft_handle {
    weft_runnable run;
    weft_loop_timer timer;
    weft_loop *loop;
    weft_callback_fn fn;
    weft_callback_fn dropped; /* NULL, or called instead of fn when the loop goes first */
    void *arg;
    _Atomic int refs; /* the loop's until it runs or is dropped, the caller's */
    bool cancelled;
};

void weft_handle_release(weft_handle *h)
{
    if (h && atomic_fetch_sub(&h->refs, 1) == 1)
        free(h);
}

static void run_handle(weft_runnable *r)
{
    weft_handle *h = (weft_handle *)(void *)r;
    if (!h->cancelled)
        h->fn(h->arg);
    weft_handle_release(h);
}

/* A closed loop drops what it has not run: the loop's reference goes. */
static void drop_handle(weft_runnable *r)
{
    weft_handle *h = (weft_handle *)(void *)r;
    if (h->dropped && !h->cancelled)
        h->dropped(h->arg);
    weft_handle_release(h);
}


static void handle_due(weft_loop_timer *t)
{
    weft_handle *h = (weft_handle *)(void *)((char *)t - offsetof(weft_handle, timer));
    weft__loop_push_ready(h->loop, &h->run);
}

/* A handle with `refs` references (the loop's, and the caller's). */
static weft_handle *handle_alloc(weft_loop *loop, weft_callback_fn fn, void *arg, int refs)
{
    weft_handle *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->run.run = run_handle;
    h->run.drop = drop_handle;
    h->timer.fire = handle_due;
    h->loop = loop;
    h->fn = fn;
    h->arg = arg;
    atomic_init(&h->refs, refs);
    return h;
}

static int handle_new(weft_loop *loop, weft_callback_fn fn, void *arg, weft_handle **handle,
                      weft_handle **out)
{
    if (handle)
        *handle = NULL;
    if (!loop || !fn)
        return WEFT_EINVAL;
    if (loop->closed || weft__loop_here() != loop)
        return WEFT_ESTATE;
    weft_handle *h = handle_alloc(loop, fn, arg, handle ? 2 : 1);
    if (!h)
        return WEFT_ENOMEM;
    if (handle)
        *handle = h;
    *out = h;
    return WEFT_OK;
}

int weft_loop_call_soon(weft_loop *loop, weft_callback_fn fn, void *arg, weft_handle **handle)
{
    weft_handle *h;
    int rc = handle_new(loop, fn, arg, handle, &h);
    if (rc != WEFT_OK)
        return rc;
    /* Behind what other threads asked for before (call_soon_threadsafe):
     * one FIFO in call order, as asyncio's. */
    weft__loop_take_inbox(loop);
    weft__loop_push_ready(loop, &h->run);
    return WEFT_OK;
}

int weft_loop_call_at(weft_loop *loop, double when, weft_callback_fn fn, void *arg,
                      weft_handle **handle)
{
    if (handle)
        *handle = NULL;
    if (isnan(when))
        return WEFT_EINVAL;
    weft_handle *h;
    int rc = handle_new(loop, fn, arg, handle, &h);
    if (rc != WEFT_OK)
        return rc;
    double ns = when * 1e9;
    int64_t at = ns >= 9.2e18 ? INT64_MAX - 1 : ns <= 0 ? 0 : (int64_t)ns;
    rc = weft__loop_timer_arm(loop, &h->timer, at);
    if (rc != WEFT_OK) {
        if (handle)
            *handle = NULL;
        free(h);
    }
    return rc;
}

int weft_loop_call_later(weft_loop *loop, double delay, weft_callback_fn fn, void *arg,
                         weft_handle **handle)
{
    if (isnan(delay)) {
        if (handle)
            *handle = NULL;
        return WEFT_EINVAL;
    }
    return weft_loop_call_at(loop, weft_monotonic() + delay, fn, arg, handle);
}

int weft_loop_call_soon_threadsafe(weft_loop *loop, weft_callback_fn fn, void *arg)
{
    return weft__loop_call_soon_threadsafe_or_drop(loop, fn, NULL, arg);
}

int weft__loop_call_soon_threadsafe_or_drop(weft_loop *loop, weft_callback_fn fn,
                                            weft_callback_fn dropped, void *arg)
{
    if (!loop || !fn)
        return WEFT_EINVAL;
    weft_handle *h = handle_alloc(loop, fn, arg, 1);
    if (!h)
        return WEFT_ENOMEM;
    h->dropped = dropped;
    /* Counted as a pusher before closed is looked at: a loop that closes
     * meanwhile waits for this push and then drops what it pushed. */
    atomic_fetch_add(&loop->remote_pushers, 1);
    bool closed = atomic_load(&loop->closed);
    if (!closed)
        weft__loop_push(loop, &h->run);
    atomic_fetch_sub(&loop->remote_pushers, 1);
    if (closed)
        free(h);
    return closed ? WEFT_ESTATE : WEFT_OK;
}

void weft_handle_cancel(weft_handle *h)
{
    if (!h || h->cancelled)
        return;
    h->cancelled = true;
    if (h->timer.armed) {
        weft__loop_timer_disarm(h->loop, &h->timer);
        weft_handle_release(h); /* the loop's: it will never run */
    }
}

bool weft_handle_cancelled(const weft_handle *h) { return h && h->cancelled; }
