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

#include "ident.h"
#include "platform/platform.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#define WEFT_NO_DEADLINE WEFT_PF_NO_DEADLINE

/* The largest finite timeout in seconds a deadline can be made from: the
 * public WEFT_TIMEOUT_MAX (weft/time.h, a layer above), which time.c checks
 * equals this one. */
#define WEFT_PARK_TIMEOUT_MAX 9.2e9

/* ---- who waits -----------------------------------------------------
 *
 * A parker is whoever runs code that may wait: a thread (its own parker,
 * kept by park.c) or a coroutine (one per task, in the task's record, set
 * current by its loop while the task runs).  Each wait is a record in the
 * parker (never on a stack: a coroutine's stack may be copied away while
 * it waits), queued in park.c's table of words under the word's bucket
 * lock.  A thread sleeps in the kernel on its record; a coroutine gives its
 * thread back to its loop through the parker's ops. */
typedef struct weft_parker weft_parker;

/* A cancellation request a task's future fires and that the waits of the
 * parker running the task honour (see weft_cancellable). */
typedef struct weft_cancel_source {
    _Atomic(bool) requested; /* fired, not yet reported (a coroutine's) */
    _Atomic(int) requests;   /* a coroutine task's requests (weft_task_cancelling) */
    _Atomic(weft_parker *) parker; /* running the task now (NULL: none) */
} weft_cancel_source;

/* One wait: which word, and how it ended (WEFT__WAIT_*, under the word's
 * bucket lock while queued). */
typedef struct weft_waiter {
    struct weft_waiter *next, *prev;  /* the bucket's queue; once claimed,
                                         next links the waker's list */
    _Atomic(_Atomic uint32_t *) word; /* NULL when not waiting */
    _Atomic uint32_t state;
    weft_cancel_source *source; /* the cancellation this wait ends on */
    void *home;                 /* the waiting thread's (fork: whose records stay) */
    bool queued;                /* in its bucket's queue (not a sleep) */
} weft_waiter;

/* What a coroutine's loop does for park (layer 9 fills it in).
 * suspend: the calling coroutine gives its thread back to its loop until
 * resume(p) is called; with a finite deadline the loop calls
 * weft__park_expire(p) at that time.  resume: make p runnable; called once
 * per suspend, from any thread, by whoever ended the wait.  yield: run the
 * other ready coroutines once, then come back (weft_sleep(0)). */
typedef struct weft_parker_ops {
    void (*suspend)(weft_parker *p, int64_t deadline);
    void (*resume)(weft_parker *p);
    void (*yield)(weft_parker *p);
    /* Watch fd for p's next wait, calling weft__park_wake when it turns
     * ready for `events` (WEFT_PF_READ / WRITE: WEFT_OK; a failure: the
     * wait polls instead), or stop watching (events 0). */
    int (*watch)(weft_parker *p, int fd, unsigned events);
} weft_parker_ops;

struct weft_parker {
    const weft_parker_ops *ops; /* NULL: a thread, sleeping in the kernel */
    uint64_t ident;             /* who owns an RLock it takes (0: the thread) */
    void *task;                 /* a coroutine's task future (layer 9's) */
    void *awaiting;             /* the future whose outcome it waits for (layer 8's) */
    /* The cancellation its waits honour now (NULL: none), and whether a
     * reported cancellation is used up (a coroutine: asyncio's rule, one
     * WEFT_ECANCELLED per request) or stays (a pool task's flag). */
    weft_cancel_source *cancel;
    bool cancel_once;
    weft_waiter wait;
    _Atomic uint32_t sleep_word; /* what a sleep parks on: never changes */
    /* task.c's: the running task's cancel source (weft_cancelled) and the
     * failure its weft_fail recorded. */
    weft_cancel_source *task_cancel;
    int fail_code;
    char *fail_message;
    /* A coroutine's node area (weft__park_node), made at its first use
     * (malloc'd; the task frees it). */
    void *node;
    size_t node_size;
    /* While it waits for an fd (weft__park_fd), in a coroutine: the loop's
     * list of the fd's waiters, and what it waits for. */
    weft_parker *fd_next;
    unsigned fd_events;
    bool fd_listed;
};

/* The parker of the running coroutine, NULL in a plain thread. */
extern _Thread_local weft_parker *weft__parker_now;

/* The calling thread's or coroutine's parker. */
weft_parker *weft__parker_current(void);

/* Make p the running coroutine's parker (NULL: the thread runs itself
 * again); returns the previous one.  Only loops call it. */
static inline weft_parker *weft__parker_switch(weft_parker *p)
{
    weft_parker *was = weft__parker_now;
    weft__parker_now = p;
    return was;
}

static inline bool weft__in_coroutine(void) { return weft__parker_now != NULL; }

/* Who owns what the caller takes (an RLock): the running task inside a
 * coroutine, the thread outside. */
static inline uint64_t weft__park_owner(void)
{
    weft_parker *p = weft__parker_now;
    if (!p)
        return weft__self_ident();
    if (!p->ident) /* a task's, given at its first need (most never take an RLock) */
        p->ident = weft__ident_new();
    return p->ident;
}

/* Room for a primitive's per-wait node that others write to while it
 * waits (a condition's queue entry): in a coroutine the parker's node
 * area, since its stack may be copied away while it waits; NULL in a
 * thread (use the stack) and when out of memory (then too).  Valid until
 * the caller's next weft__park_node. */
void *weft__park_node(size_t size);

/* Park while *word == expected, until unparked or the deadline passes.
 * Returns WEFT_OK (woken, changed, or spurious: re-check) or
 * WEFT_ETIMEDOUT (the deadline has passed).  A wake-up that reaches a
 * waiter as its deadline passes is never lost: the waiter returns WEFT_OK. */
int weft__park(_Atomic uint32_t *word, uint32_t expected, int64_t deadline);

/* As weft__park, but WEFT_ECANCELLED once the parker's cancel source
 * fires (at once: the firing wakes it).  A waiter woken, then cancelled
 * before it ran again, returns WEFT_ECANCELLED too and passes the wake-up
 * on to another waiter of the word, so none is lost. */
int weft__park_cancellable(_Atomic uint32_t *word, uint32_t expected, int64_t deadline);

/* Sleep until the deadline: WEFT_OK then, WEFT_ECANCELLED once the
 * parker's cancel source fires (weft_sleep in a coroutine or a cancellable
 * task).  Sleepers are not queued where wakers look. */
int weft__park_sleep(int64_t deadline);

/* Wait until fd is ready for `events` (WEFT_PF_READ, WEFT_PF_WRITE or
 * both; a hang-up or an error counts as ready): WEFT_OK (ready, or
 * spurious: try the call again), WEFT_ETIMEDOUT once the deadline passes,
 * WEFT_ECANCELLED once the parker's cancel source fires.  A coroutine
 * suspends while its loop watches the fd; a thread polls it (in slices of
 * 50 ms while it has a cancel source, to see it fire). */
int weft__park_fd(int fd, unsigned events, int64_t deadline);

/* weft__park_fd(fd, WEFT_PF_READ, deadline). */
int weft__park_readable(int fd, int64_t deadline);

/* End p's current wait as woken (its loop saw the fd it watches ready). */
void weft__park_wake(weft_parker *p);

/* The running coroutine's loop reached the deadline of p's wait: end it
 * with WEFT_ETIMEDOUT and resume p, unless something ended it already. */
void weft__park_expire(weft_parker *p);

/* In a coroutine: let the loop run the other ready coroutines, then come
 * back.  In a thread: yield the CPU. */
void weft__park_yield(void);

/* The calling parker's cancel source (NULL makes every cancellable park an
 * ordinary one), and a new one. */
void weft__park_set_cancel_source(weft_cancel_source *source);
weft_cancel_source *weft__park_cancel_source(void);

/* Whether the caller's source has fired (a peek), and the same but using
 * the request up for a coroutine (for the waits that report it). */
bool weft__park_cancel_requested(void);
bool weft__park_take_cancel(void);

/* Set the flag and wake the waiter of the parker running its task, if it
 * waits on this source. */
void weft__cancel_source_fire(weft_cancel_source *source);

/* Unpark one / every / n waiters parked on word. */
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
    /* A coroutine never spins: what it waits for may be another coroutine
     * of its own thread, which runs only once it parks. */
    if (b->pauses > WEFT_BACKOFF_MAX || weft__in_coroutine())
        return false;
    for (unsigned i = 0; i < b->pauses; i++)
        weft__pf_cpu_relax();
    b->pauses *= 2;
    return true;
}

/* Wait out another thread that is a few instructions from done (an adder
 * between its exchange and its link, a cell claimed but not yet filled):
 * pause, and once the budget is spent yield, since it must have been
 * preempted there (or the caller is a coroutine, which never spins). */
static inline void weft__backoff_pause_or_yield(weft_backoff *b)
{
    if (!weft__backoff_pause(b))
        weft__pf_yield();
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
#ifndef WEFT_POLL_SHORT_NS
#define WEFT_POLL_SHORT_NS (WEFT_POLL_NS < 6500 ? WEFT_POLL_NS : 6500)
#endif
_Static_assert(WEFT_POLL_SHORT_NS <= WEFT_POLL_NS, "the short poll is the long one's start");
#ifndef WEFT_POLL_GAP_MAX
#define WEFT_POLL_GAP_MAX 8
#endif

/* ---- when polling does not pay: the spin judge --------------------------
 *
 * Polling pays while the thread that will end the wait runs on another
 * CPU.  When every CPU is taken (another process, more runnable threads than
 * CPUs), the poller holds the CPU that thread needs: each side polls its
 * whole budget, then parks, and every hand-off costs two budgets and two
 * wake-ups (W2 with one busy loop beside it: 7-17 µs per round trip,
 * against 2.9 µs when nobody polls at all; idle, not polling costs 42 µs,
 * since waking a halted vCPU is what is slow).  The two machines are told
 * apart by what polling achieves, measured per thread: of the last
 * WEFT_SPIN_WINDOW polls that lasted long enough to read the clock, how
 * many ended without their event (W2 idle: about 1 in 70; with the busy
 * loop: a third or more).  More than WEFT_SPIN_MISSES_MAX, and the thread polls
 * only WEFT_POLL_BRIEF_NS (enough for a partner that is running to answer)
 * before it parks.  A brief poller cannot tell whether long polls would
 * pay again (on an idle VM its partner, parked too, wakes too slowly for a
 * brief poll to see it, so brief polls miss there as well): every
 * WEFT_SPIN_TRIAL_AFTER windows it polls at full length for one window, and
 * goes back to full-length polls if that window missed no more than
 * allowed.  The thresholds do not depend on the machine's wake-up latency:
 * a poll misses or not, whatever its length. */
#define WEFT_SPIN_WINDOW 64
#ifndef WEFT_SPIN_MISSES_MAX /* (-D for experiments) */
#define WEFT_SPIN_MISSES_MAX 16
#endif
#ifndef WEFT_SPIN_STRIKES
#define WEFT_SPIN_STRIKES 2
#endif
#ifndef WEFT_SPIN_TRIAL_AFTER
#define WEFT_SPIN_TRIAL_AFTER 8
#endif
#ifndef WEFT_POLL_BRIEF_NS
#define WEFT_POLL_BRIEF_NS 500
#endif

typedef enum weft_spin_mode {
    WEFT_SPIN_FULL,  /* polls pay: WEFT_POLL_SHORT_NS, leased WEFT_POLL_NS */
    WEFT_SPIN_BRIEF, /* they did not: WEFT_POLL_BRIEF_NS */
    WEFT_SPIN_TRIAL, /* one window at full length, to see */
} weft_spin_mode;

typedef struct weft_spin_judge {
    uint8_t mode;    /* weft_spin_mode */
    uint8_t windows; /* brief windows since the last trial */
    uint8_t strikes; /* full windows in a row that did not pay */
    uint16_t polls, misses; /* in the current window */
} weft_spin_judge;

/* A poll starts (its first clock read): count it, and say whether it may
 * poll at full length.  weft__spin_judge_* act on a judge given (tests);
 * weft__poll_* on the calling thread's. */
bool weft__spin_judge_start(weft_spin_judge *j);
/* That poll ended without its event (the thread parks). */
void weft__spin_judge_missed(weft_spin_judge *j);
bool weft__poll_start(void);
void weft__poll_missed(void);
/* The calling thread's mode (tests, stats). */
weft_spin_mode weft__poll_mode(void);

typedef struct weft_poll {
    unsigned gap;
    bool leased;   /* polling on to WEFT_POLL_NS */
    bool brief;    /* polling WEFT_POLL_BRIEF_NS only */
    int64_t until; /* 0 until the first clock read */
} weft_poll;
#define WEFT_POLL_INIT { 1, false, false, 0 }
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
/* The poll's time is spent at `now`: extend it with a lease or end it
 * (false: park), counting a miss for the judge. */
bool weft__poll_extend(weft_poll *p, int64_t now);
/* Pause for one gap; false when the polling time is spent (park then).
 * The clock is read once the gaps have reached their longest. */
static inline bool weft__poll_pause(weft_poll *p)
{
    if (weft__in_coroutine())
        return false; /* as weft__backoff_pause */
    unsigned pauses = p->gap;
    if (p->gap < WEFT_POLL_GAP_MAX) {
        p->gap *= 2;
    } else {
        int64_t now = weft__pf_now_ns();
        if (!p->until) {
            p->brief = !weft__poll_start();
            p->until = now + (p->brief ? WEFT_POLL_BRIEF_NS : WEFT_POLL_SHORT_NS);
        } else if (now >= p->until && !weft__poll_extend(p, now)) {
            return false;
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
