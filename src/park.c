/* SPDX-License-Identifier: MIT */
/* park.c — the waiting records of threads and coroutines (see park.h).
 *
 * Every wait is a record (weft_waiter) in its parker, queued in a bucket of
 * a fixed table hashed by the word's address, under the bucket's lock.
 * Whoever ends a wait — a waker, the waiter's own deadline, a cancellation
 * — takes the record off its queue under that lock first, so exactly one
 * of them ends each wait: a waiter that times out as it is woken keeps the
 * wake-up (it returns WEFT_OK and looks again), one cancelled passes it
 * on, and no wake-up goes to a waiter that has left.  A thread sleeps on its record's
 * state word in the kernel; a coroutine suspends to its loop.
 *
 * A waker marks the records it takes CLAIMED under the lock and ends them
 * after letting go of it (a futex wake is a system call: not under a lock
 * every waiter of 1/256th of the words needs), so a waiter that wakes up
 * by its deadline meanwhile waits for the claim to complete. */
#include "park.h"

#include "lifecycle.h"
#include "platform/process.h"
#include "platform/socket.h"
#include "weft/status.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

enum { W_IDLE, W_WAITING, W_CLAIMED, W_WOKEN, W_TIMEDOUT, W_CANCELLED };

#define BUCKET_BITS 8
#define BUCKETS (1u << BUCKET_BITS)
#define BUCKET_SPINS 64

struct bucket {
    _Alignas(64) _Atomic uint32_t lock; /* 0 free, 1 held, 2 held and waited for */
    _Atomic uint32_t queued;            /* records in the queue */
    weft_waiter *head, *tail;
};

static struct bucket buckets[BUCKETS];

_Thread_local weft_parker *weft__parker_now;
static _Thread_local weft_parker thread_parker;

weft_parker *weft__parker_current(void)
{
    weft_parker *p = weft__parker_now;
    return p ? p : &thread_parker;
}

void *weft__park_node(size_t size)
{
    weft_parker *p = weft__parker_now;
    if (!p)
        return NULL;
    if (p->node_size < size) {
        void *grown = realloc(p->node, size);
        if (!grown)
            return NULL;
        p->node = grown;
        p->node_size = size;
    }
    return p->node;
}

static weft_parker *parker_of(weft_waiter *w)
{
    return (weft_parker *)(void *)((char *)w - offsetof(weft_parker, wait));
}

static struct bucket *bucket_of(const void *word)
{
    uint64_t h = (uint64_t)(uintptr_t)word >> 2;
    return &buckets[(h * 0x9E3779B97F4A7C15u) >> (64 - BUCKET_BITS)];
}

/* ---- bucket locks: held for a few dozen instructions, never across a
 * sleep, so a short spin nearly always gets them. */

static void bucket_lock_slow(struct bucket *b)
{
    for (int i = 0; i < BUCKET_SPINS; i++) {
        weft__pf_cpu_relax();
        uint32_t free = 0;
        if (atomic_load_explicit(&b->lock, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&b->lock, &free, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    while (atomic_exchange_explicit(&b->lock, 2, memory_order_acquire) != 0)
        weft__pf_wait(&b->lock, 2, WEFT_NO_DEADLINE);
}

static void bucket_lock(struct bucket *b)
{
    uint32_t free = 0;
    if (!atomic_compare_exchange_strong_explicit(&b->lock, &free, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        bucket_lock_slow(b);
}

static void bucket_unlock(struct bucket *b)
{
    if (atomic_exchange_explicit(&b->lock, 0, memory_order_release) == 2)
        weft__pf_wake(&b->lock, 1);
}

static void enqueue(struct bucket *b, weft_waiter *w)
{
    w->queued = true;
    w->next = NULL;
    w->prev = b->tail;
    if (b->tail)
        b->tail->next = w;
    else
        b->head = w;
    b->tail = w;
}

static void dequeue(struct bucket *b, weft_waiter *w)
{
    if (!w->queued)
        return; /* a sleep: only its bucket's lock guards it */
    w->queued = false;
    if (w->prev)
        w->prev->next = w->next;
    else
        b->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        b->tail = w->prev;
    atomic_fetch_sub_explicit(&b->queued, 1, memory_order_relaxed);
}

/* ---- fork: a bucket lock held by another thread would stay held in the
 * child, and that thread's records would stay queued for wake-ups nobody
 * can take. */

static void park_atfork(int phase)
{
    for (unsigned i = 0; i < BUCKETS; i++) {
        struct bucket *b = &buckets[i];
        if (phase == WEFT_FORK_PREPARE) {
            bucket_lock(b);
            continue;
        }
        if (phase == WEFT_FORK_CHILD) {
            /* The forking thread's own coroutines stay queued; every other
             * thread is gone. */
            for (weft_waiter *w = b->head, *next; w; w = next) {
                next = w->next;
                if (w->home != (void *)&thread_parker)
                    dequeue(b, w);
            }
        }
        bucket_unlock(b);
    }
}

static weft_lifecycle_hooks park_hooks =
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_PARK, park_atfork, NULL, NULL);
static _Atomic bool park_hooked;

static void hook_fork_once(void)
{
    if (!atomic_load_explicit(&park_hooked, memory_order_relaxed)) {
        atomic_store(&park_hooked, true);
        weft__lifecycle_register(&park_hooks); /* a failure leaves fork unprotected only */
    }
}

/* ---- cancellation ---------------------------------------------------- */

void weft__park_set_cancel_source(weft_cancel_source *source)
{
    weft_parker *p = weft__parker_current();
    if (source)
        atomic_store(&source->parker, p); /* so that firing it finds p's wait */
    p->cancel = source;
}

weft_cancel_source *weft__park_cancel_source(void) { return weft__parker_current()->cancel; }

static bool fired(const weft_cancel_source *src)
{
    return src && atomic_load(&src->requested);
}

bool weft__park_cancel_requested(void) { return fired(weft__parker_current()->cancel); }

/* One WEFT_ECANCELLED reported by a wait of p on src: a coroutine's request
 * is used up by it. */
static void use_cancel(weft_parker *p, weft_cancel_source *src)
{
    if (p->cancel_once)
        atomic_store(&src->requested, false);
}

bool weft__park_take_cancel(void)
{
    weft_parker *p = weft__parker_current();
    if (!fired(p->cancel))
        return false;
    use_cancel(p, p->cancel);
    return true;
}

/* End the records on a waker's list (taken off their queues, CLAIMED) with
 * `how`.  Once a thread's record says how, the thread may return at once,
 * so read what is needed first; a coroutine runs only once resumed. */
static void end_claimed(weft_waiter *w, uint32_t how)
{
    while (w) {
        weft_waiter *next = w->next; /* off the queue: next links the waker's list */
        weft_parker *p = parker_of(w);
        const weft_parker_ops *ops = p->ops;
        atomic_store_explicit(&w->state, how, memory_order_release);
        if (ops)
            ops->resume(p);
        else
            weft__pf_wake(&w->state, 1); /* on a dead thread's record: harmless */
        w = next;
    }
}

/* Take p's wait off its queue if it still is `state_now` on the same word
 * (and, with src, waits on that source); true if so (then CLAIMED). */
static bool claim_wait_of(weft_parker *p, const weft_cancel_source *src)
{
    weft_waiter *w = &p->wait;
    _Atomic uint32_t *word = atomic_load(&w->word);
    if (!word)
        return false;
    struct bucket *b = bucket_of(word);
    bucket_lock(b);
    bool hit = atomic_load_explicit(&w->word, memory_order_relaxed) == word &&
               atomic_load_explicit(&w->state, memory_order_relaxed) == W_WAITING &&
               (!src || w->source == src);
    if (hit) {
        dequeue(b, w);
        atomic_store_explicit(&w->state, W_CLAIMED, memory_order_relaxed);
        w->next = NULL;
    }
    bucket_unlock(b);
    return hit;
}

void weft__cancel_source_fire(weft_cancel_source *source)
{
    /* Sequentially consistent, as the parker's store of its record's word
     * and its look at the flag: either it sees the flag before it sleeps,
     * or this sees its record. */
    atomic_store(&source->requested, true);
    weft_parker *p = atomic_load(&source->parker);
    if (p && claim_wait_of(p, source))
        end_claimed(&p->wait, W_CANCELLED);
}

void weft__park_wake(weft_parker *p)
{
    if (claim_wait_of(p, NULL))
        end_claimed(&p->wait, W_WOKEN);
}

void weft__park_expire(weft_parker *p)
{
    if (claim_wait_of(p, NULL))
        end_claimed(&p->wait, W_TIMEDOUT);
}

/* ---- parking ------------------------------------------------------------ */

/* A thread sleeps on its record until someone ends the wait; at its
 * deadline it ends the wait itself, unless a waker claimed it first. */
static void sleep_thread(struct bucket *b, weft_waiter *w, int64_t deadline)
{
    for (;;) {
        uint32_t s = atomic_load_explicit(&w->state, memory_order_acquire);
        if (s == W_CLAIMED) {
            weft__pf_wait(&w->state, W_CLAIMED, WEFT_NO_DEADLINE); /* a few instructions */
            continue;
        }
        if (s != W_WAITING)
            return;
        if (weft__pf_wait(&w->state, W_WAITING, deadline) != WEFT_ETIMEDOUT)
            continue;
        bucket_lock(b);
        if (atomic_load_explicit(&w->state, memory_order_relaxed) == W_WAITING) {
            dequeue(b, w);
            atomic_store_explicit(&w->state, W_TIMEDOUT, memory_order_relaxed);
        }
        bucket_unlock(b);
    }
}

static int finish(weft_parker *p, weft_waiter *w)
{
    uint32_t how = atomic_load_explicit(&w->state, memory_order_acquire);
    _Atomic uint32_t *word = atomic_load(&w->word);
    atomic_store(&w->word, NULL);
    atomic_store_explicit(&w->state, W_IDLE, memory_order_relaxed);
    if (how == W_TIMEDOUT)
        return WEFT_ETIMEDOUT;
    if (how == W_WOKEN && fired(w->source)) {
        /* Woken, then cancelled before it ran again: asyncio reports the
         * cancellation, and the wake-up goes on to another waiter (who
         * looks for itself), so nothing meant for one is lost. */
        weft__unpark_n(word, 1);
        how = W_CANCELLED;
    }
    if (how == W_CANCELLED) {
        use_cancel(p, w->source);
        return WEFT_ECANCELLED;
    }
    return WEFT_OK;
}

/* Park on word while it holds expected; a sleep (queue false) is not
 * queued where wakers look, since none will come: only its deadline or a
 * cancellation ends it. */
static int park_on(_Atomic uint32_t *word, uint32_t expected, int64_t deadline, bool cancellable,
                   bool queue)
{
    if (deadline != WEFT_NO_DEADLINE && deadline <= weft__now_ns())
        return WEFT_ETIMEDOUT;
    hook_fork_once();
    weft_parker *p = weft__parker_current();
    weft_waiter *w = &p->wait;
    weft_cancel_source *src = cancellable ? p->cancel : NULL;
    struct bucket *b = bucket_of(word);
    bucket_lock(b);
    /* Counted before the word is looked at, and the word published before
     * the cancel flag is: a waker changes the word before it looks at the
     * count (weft__unpark_n), a canceller sets its flag before it looks at
     * the word; each side sees the other's change or is seen. */
    atomic_fetch_add(&b->queued, queue);
    atomic_store(&w->word, word);
    bool changed = atomic_load(word) != expected;
    if (changed || fired(src)) {
        atomic_fetch_sub_explicit(&b->queued, queue, memory_order_relaxed);
        atomic_store(&w->word, NULL);
        bucket_unlock(b);
        if (changed)
            return WEFT_OK;
        use_cancel(p, src);
        return WEFT_ECANCELLED;
    }
    w->source = src;
    w->home = &thread_parker;
    atomic_store_explicit(&w->state, W_WAITING, memory_order_relaxed);
    if (queue)
        enqueue(b, w);
    bucket_unlock(b);
    if (p->ops)
        p->ops->suspend(p, deadline);
    else
        sleep_thread(b, w, deadline);
    return finish(p, w);
}

int weft__park(_Atomic uint32_t *word, uint32_t expected, int64_t deadline)
{
    return park_on(word, expected, deadline, false, true);
}

int weft__park_cancellable(_Atomic uint32_t *word, uint32_t expected, int64_t deadline)
{
    return park_on(word, expected, deadline, true, true);
}

int weft__park_sleep(int64_t deadline)
{
    weft_parker *p = weft__parker_current();
    if (p->ops && deadline <= weft__now_ns()) {
        weft__park_yield(); /* asyncio: a sleep always lets the others run */
        return weft__park_take_cancel() ? WEFT_ECANCELLED : WEFT_OK;
    }
    int rc;
    while ((rc = park_on(&p->sleep_word, 0, deadline, true, false)) == WEFT_OK) {
    }
    return rc == WEFT_ECANCELLED ? rc : WEFT_OK;
}

/* How often a wait on an fd that cannot be woken looks again: a
 * coroutine's whose loop refused the fd, a cancellable thread's. */
#define FD_POLL_SLICE_NS 2000000
#define FD_CANCEL_SLICE_NS 50000000

/* Poll fd between waits that the cancel source ends: in a coroutine,
 * cancellable sleeps (the loop runs meanwhile); in a thread, slices. */
static int poll_fd(int fd, unsigned events, int64_t deadline, bool coroutine)
{
    int64_t slice = coroutine ? FD_POLL_SLICE_NS : FD_CANCEL_SLICE_NS;
    for (;;) {
        if (!coroutine && weft__park_take_cancel())
            return WEFT_ECANCELLED;
        int64_t soon = weft__now_ns() + slice;
        int64_t until = coroutine ? WEFT_DEADLINE_POLL : deadline < soon ? deadline : soon;
        if (weft__pf_wait_fd(fd, events, until) == WEFT_OK)
            return WEFT_OK;
        if (weft__deadline_passed(deadline))
            return WEFT_ETIMEDOUT;
        if (coroutine && weft__park_sleep(deadline < soon ? deadline : soon) == WEFT_ECANCELLED)
            return WEFT_ECANCELLED;
    }
}

int weft__park_fd(int fd, unsigned events, int64_t deadline)
{
    weft_parker *p = weft__parker_now;
    if (!p || !p->ops->watch) {
        if (weft__parker_current()->cancel)
            return poll_fd(fd, events, deadline, false);
        return weft__pf_wait_fd(fd, events, deadline);
    }
    if (p->ops->watch(p, fd, events) != WEFT_OK)
        return poll_fd(fd, events, deadline, true);
    int rc = park_on(&p->sleep_word, 0, deadline, true, false);
    p->ops->watch(p, fd, 0);
    return rc;
}

int weft__park_readable(int fd, int64_t deadline)
{
    return weft__park_fd(fd, WEFT_PF_READ, deadline);
}

void weft__park_yield(void)
{
    weft_parker *p = weft__parker_now;
    if (p && p->ops->yield)
        p->ops->yield(p);
    else
        weft__pf_yield();
}

/* ---- unparking ---------------------------------------------------------- */

void weft__unpark_n(_Atomic uint32_t *word, uint32_t n)
{
    struct bucket *b = bucket_of(word);
    /* The caller changed the word (with any order): see park_on. */
    atomic_thread_fence(memory_order_seq_cst);
    if (n == 0 || atomic_load(&b->queued) == 0)
        return;
    weft_waiter *claimed = NULL, **tail = &claimed;
    bucket_lock(b);
    for (weft_waiter *w = b->head, *next; w && n; w = next) {
        next = w->next;
        if (atomic_load_explicit(&w->word, memory_order_relaxed) != word)
            continue;
        dequeue(b, w);
        atomic_store_explicit(&w->state, W_CLAIMED, memory_order_relaxed);
        w->next = NULL; /* the queue's link, now the claimed list's */
        *tail = w;
        tail = &w->next;
        n--;
    }
    bucket_unlock(b);
    end_claimed(claimed, W_WOKEN);
}

void weft__unpark_one(_Atomic uint32_t *word) { weft__unpark_n(word, 1); }

void weft__unpark_all(_Atomic uint32_t *word) { weft__unpark_n(word, UINT32_MAX); }
