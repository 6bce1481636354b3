/* SPDX-License-Identifier: MIT */
/* park.h — the one way a weft primitive waits and is woken (layer 2 of
 * README.md's Layout).
 *
 * A waiter parks on a 32-bit word while it holds an expected value; a waker
 * changes the word and then unparks.  Every blocking primitive is written
 * against these calls only, so when coroutines arrive they park by switching
 * back to their loop behind this same interface, and no primitive changes.
 */
#ifndef WEFT_PARK_H
#define WEFT_PARK_H

#include "platform/platform.h"

#include <math.h>
#include <stdbool.h>

#define WEFT_NO_DEADLINE WEFT_PF_NO_DEADLINE

/* The largest finite timeout in seconds a deadline can be made from: the
 * public WEFT_TIMEOUT_MAX (weft/time.h, a layer above), which time.c checks
 * equals this one. */
#define WEFT_PARK_TIMEOUT_MAX 9.2e9

/* Park while *word == expected, until unparked or the deadline passes.
 * Returns WEFT_OK (woken, changed, or spurious: re-check) or
 * WEFT_ETIMEDOUT (the deadline has passed). */
int weft__park(_Atomic uint32_t *word, uint32_t expected, int64_t deadline);

/* ---- cancellable waits ------------------------------------------------
 *
 * A thread running a cancellable task (weft_cancellable) has a cancel
 * source: the flag its future's cancel() sets, and the word the thread is
 * parked on, so that firing the source wakes it.  A cancellable park
 * returns WEFT_ECANCELLED once the flag is set.  It also sleeps in slices
 * of at most 10 ms, so a wake-up that raced with going to sleep costs at
 * most that. */
typedef struct weft_cancel_source {
    _Atomic(bool) requested;
    _Atomic(_Atomic uint32_t *) parked_on;
} weft_cancel_source;

/* The calling thread's source: NULL (the default) makes every cancellable
 * park an ordinary one. */
void weft__park_set_cancel_source(weft_cancel_source *source);
weft_cancel_source *weft__park_cancel_source(void);

/* Whether the calling thread runs a cancellable task whose future was
 * cancelled. */
static inline bool weft__park_cancel_requested(void)
{
    weft_cancel_source *src = weft__park_cancel_source();
    return src && atomic_load(&src->requested);
}

/* Set the flag and wake the thread if it is parked. */
void weft__cancel_source_fire(weft_cancel_source *source);

/* As weft__park, but WEFT_ECANCELLED once the thread's source fires. */
int weft__park_cancellable(_Atomic uint32_t *word, uint32_t expected, int64_t deadline);

/* Unpark one / every waiter parked on word. */
void weft__unpark_one(_Atomic uint32_t *word);
void weft__unpark_all(_Atomic uint32_t *word);
void weft__unpark_n(_Atomic uint32_t *word, uint32_t n);

/* Exponential backoff for spin loops before parking.  Between two looks
 * at a contended word the spinner pauses 1, 2, 4, ... up to
 * WEFT_BACKOFF_MAX times (about 7 µs in all on a current x86), so it pulls
 * the word's cache line away from the thread working on it only a handful
 * of times.  Measured on W5 (docs/benchmarks.md): 6-8 ns per contended add against
 * 12-15 ns without spinning and ~20 ns spinning on every pause. */
#define WEFT_BACKOFF_MAX 128

typedef struct weft_backoff {
    unsigned pauses;
} weft_backoff;

#define WEFT_BACKOFF_INIT { 1 }

/* Pause once more; false when the spinning budget is spent (park then). */
static inline bool weft__backoff_pause(weft_backoff *b)
{
    if (b->pauses > WEFT_BACKOFF_MAX)
        return false;
    for (unsigned i = 0; i < b->pauses; i++)
        weft__pf_cpu_relax();
    b->pauses *= 2;
    return true;
}

/* Polling for an event another thread causes (a flag it sets, an item it
 * adds) before parking.  The gaps between looks grow 1, 2, 4, 8 pauses
 * and stay at 8 (~200 ns here): a look at a line its writer keeps
 * writing (a queue's count while a producer adds) pulls the line away
 * from it, so not every pause, but the event is still seen within
 * ~200 ns, not within the backoff's gaps of up to 3 µs.
 *
 * Every poller polls for WEFT_POLL_SHORT_NS.  Then it may go on to
 * WEFT_POLL_NS, about what parking and being woken cost on a VM (25-35
 * µs measured here), if it gets one of the process-wide leases (one per
 * CPU: more pollers than CPUs only take time from the threads they wait
 * for) and its last leased poll did not end in parking anyway.  That
 * bridges the short stalls (a vCPU taken away for a few µs) that used to
 * put both sides of a hand-off to sleep (W2: 37,000-75,000 futex calls
 * per 1.6M round trips with 6.5 µs, ~10,000 with this), while a crowd of
 * waiters does not spin the CPUs away from the threads that would end
 * their wait (64 threads waiting on 20 µs tasks of a 2-worker pool:
 * 0.39-0.47 s with 6.5 µs for all, 0.60-0.65 s with 30 µs for all,
 * 0.41-0.47 s with the leases). */
#ifndef WEFT_POLL_NS /* (-D for experiments) */
#define WEFT_POLL_NS 30000
#endif
#define WEFT_POLL_SHORT_NS 6500
#ifndef WEFT_POLL_GAP_MAX
#define WEFT_POLL_GAP_MAX 8
#endif

typedef struct weft_poll {
    unsigned gap;
    bool leased;   /* polling on to WEFT_POLL_NS */
    int64_t until; /* 0 until the first clock read */
} weft_poll;

#define WEFT_POLL_INIT { 1, false, 0 }

/* Take one of the process-wide leases to poll on until `until`; false if
 * all are in use, or while this thread is skipping leases.  A lease ends
 * by itself at its time: a poller that sees its event early gives nothing
 * back. */
bool weft__poll_lease(int64_t now, int64_t until);

/* A leased poll ended without its event: this thread's waits are longer
 * than polling can bridge (more waiters than CPUs, say), so it takes no
 * lease for its next WEFT_POLL_SKIP polls. */
void weft__poll_lease_wasted(void);
#define WEFT_POLL_SKIP 16

/* Pause for one gap; false when the polling time is spent (park then).
 * The clock is read once the gaps have reached their longest. */
static inline bool weft__poll_pause(weft_poll *p)
{
    unsigned pauses = p->gap;
    if (p->gap < WEFT_POLL_GAP_MAX) {
        p->gap *= 2;
    } else {
        int64_t now = weft__pf_now_ns();
        if (!p->until) {
            p->until = now + WEFT_POLL_SHORT_NS;
        } else if (now >= p->until) {
            int64_t until = now + (WEFT_POLL_NS - WEFT_POLL_SHORT_NS);
            if (p->leased) {
                weft__poll_lease_wasted();
                return false;
            }
            if (!weft__poll_lease(now, until))
                return false;
            p->leased = true;
            p->until = until;
        }
    }
    for (unsigned i = 0; i < pauses; i++)
        weft__pf_cpu_relax();
    return true;
}

/* Poll while *word == value (weft_poll).  True if it changed. */
bool weft__spin_while_equal(_Atomic uint32_t *word, uint32_t value);

/* An eventcount: a way to wait for "something changed" without a lock
 * held, and to announce a change cheaply.  A waiter reads the count
 * (weft__eventcount_prepare) while it holds whatever protects its
 * condition, lets go of that, and waits for the count to move; a notifier
 * changes the condition, then calls notify.
 *
 * At most one waiter spins at a time; the others park at once.  A spinner
 * sees a change within a few hundred nanoseconds and costs the notifier
 * nothing, so notify_one wakes a sleeper only when nobody spins.  Two
 * spinners would only take CPU from the thread that is producing the work
 * (on 2 cores, one producer and two idle workers: W1 in docs/benchmarks.md).  Users
 * that leave work behind for others must notify again (the queue does). */
typedef struct weft_eventcount {
    _Atomic(uint32_t) seq;
    _Atomic(uint32_t) sleepers;
    _Atomic(uint32_t) spinners;
} weft_eventcount;

#define WEFT_EVENTCOUNT_INIT { 0, 0, 0 }

static inline uint32_t weft__eventcount_prepare(weft_eventcount *ec)
{
    return atomic_load_explicit(&ec->seq, memory_order_acquire);
}

/* Wait until the count differs from `seen` or the deadline passes.
 * WEFT_OK (changed, or spurious: re-check), WEFT_ETIMEDOUT, or
 * WEFT_ECANCELLED in a cancellable task whose future was cancelled (every
 * eventcount wait is a user-facing one). */
int weft__eventcount_wait(weft_eventcount *ec, uint32_t seen, int64_t deadline);

/* Move the count and wake one / all waiters. */
void weft__eventcount_notify_one(weft_eventcount *ec);
void weft__eventcount_notify_all(weft_eventcount *ec);

/* Now on the monotonic clock, in nanoseconds. */
static inline int64_t weft__now_ns(void) { return weft__pf_now_ns(); }

/* A deadline that has always passed, known without reading the clock: a
 * poll (a queue's put_nowait, a timeout of 0). */
#define WEFT_DEADLINE_POLL 0

/* Whether the deadline has passed: never for WEFT_NO_DEADLINE, at once for
 * WEFT_DEADLINE_POLL (or earlier), otherwise by the clock. */
static inline bool weft__deadline_passed(int64_t deadline)
{
    return deadline != WEFT_NO_DEADLINE &&
           (deadline <= WEFT_DEADLINE_POLL || deadline <= weft__now_ns());
}

/* Turn a timeout in seconds into an absolute deadline.
 * +inf gives WEFT_NO_DEADLINE; a negative timeout gives "now" (poll); the
 * caller applies its own Python rule for negatives before calling.
 * Returns WEFT_EINVAL for NaN or a finite timeout above WEFT_PARK_TIMEOUT_MAX. */
int weft__deadline_after(double timeout, int64_t *deadline);

/* The other way: the seconds left before a deadline, for the calls that take
 * a timeout (+inf for WEFT_NO_DEADLINE, 0 once it has passed). */
static inline double weft__seconds_until(int64_t deadline)
{
    if (deadline == WEFT_NO_DEADLINE)
        return HUGE_VAL;
    int64_t left = deadline - weft__now_ns();
    return left > 0 ? (double)left / 1e9 : 0;
}

/* ---- the wait loop ------------------------------------------------------
 *
 * Every blocking primitive waits in the same loop, weft__wait_for: look at
 * the condition; if it holds, done; if the last sleep was cancelled,
 * WEFT_ECANCELLED; if the deadline has passed, WEFT_ETIMEDOUT; otherwise
 * sleep (on an eventcount, or parked on a word) and look again.  As in
 * nsync, the deadline and the cancellation travel down to that one wait;
 * the primitive keeps its fast path (the first look, inline, before it
 * calls weft__wait_for) and its own statuses (a queue's WEFT_EEMPTY for
 * WEFT_ETIMEDOUT, an event's false...). */
typedef struct weft_wait_spec {
    /* The condition, looked at before every sleep (for an eventcount
     * after reading its count, so no change is missed); true ends the
     * wait.  A word wait stores in *expected the value the word holds
     * while the condition is false: it sleeps only while it still does. */
    bool (*ready)(void *ctx, uint32_t *expected);
    /* Optional: work to do instead of sleeping (a pool thread running its
     * pool's queued tasks); true if it did some: look again at once. */
    bool (*help)(void *ctx);
    /* Optional: called with true just before each sleep (count the
     * sleeper, release a lock) and with false just after (retake it,
     * uncount). */
    void (*sleeping)(void *ctx, bool asleep);
    void *ctx;
    weft_eventcount *ec;    /* wait for this count to move, or else ... */
    _Atomic uint32_t *word; /* ... park on this word */
    /* Word waits: end with WEFT_ECANCELLED in a cancelled task (eventcount
     * waits always do: they are all user-facing). */
    bool cancellable;
    /* In a cancelled task, WEFT_ECANCELLED even once the deadline has
     * passed (a poll): events and conditions, whose waits have always
     * reported the cancellation first; the queues, semaphores and futures
     * report a spent deadline first, as they always have. */
    bool cancel_beats_deadline;
    /* 0, or the longest sleep before looking again even unwoken (a helper
     * checks back for new work). */
    int64_t recheck_ns;
} weft_wait_spec;

/* Wait until spec->ready (WEFT_OK), the deadline passes (WEFT_ETIMEDOUT; a
 * deadline already passed never sleeps) or, where cancellable, this
 * thread's cancellable task is cancelled (WEFT_ECANCELLED).  The caller
 * has looked at the condition already and found it false. */
int weft__wait_for(const weft_wait_spec *spec, int64_t deadline);

#endif
