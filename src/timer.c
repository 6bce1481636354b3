/* SPDX-License-Identifier: MIT */
/* timer.c — Timer, served by one shared timer thread that hands its job
 * on when a timer's function runs long.
 *
 * Pending timers sit in a binary min-heap ordered by due time; each knows
 * its heap position so cancel removes it in O(log n).  The thread holding
 * the server role parks on a word until the earliest due time; start()
 * bumps the word when it puts a new earliest timer at the top.  The server
 * runs a fired timer's function itself, outside the lock.
 *
 * Hand-off, as Go's runtime takes the P away from a thread blocked in a
 * system call: while the server runs a function, a watcher thread sleeps
 * until that function has run RUN_BUDGET_NS and another timer is due.  If
 * the function still runs then, the watcher takes the server role over and
 * serves the heap from then on; the old server finishes the function and
 * retires.  So a function that blocks (sleeps, joins a later timer, waits
 * on a lock) delays the other timers by at most the budget, and costs a
 * thread of its own only when it would delay one, as each Python Timer is
 * a thread of its own.  start() wakes the watcher when it adds a timer due
 * sooner than the watcher would look.
 *
 * The server and the watcher are daemon weft threads on cached OS threads
 * (weft__thread_set_reusable), and both go back to the cache when no timer
 * is pending.  start() starts a server when there is none, and the server
 * a watcher when it runs a function while other timers are pending.  An
 * idle program holds no timer thread.
 */
#include "timer_impl.h"
#include "lock_internal.h"

#include "lifecycle.h"
#include "park.h"
#include "thread_internal.h"
#include "weft/event.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/thread.h"
#include "weft/time.h"

#include <stdint.h>
#include <stdlib.h>


/* How long the server may run a function before the watcher may take its
 * job over.  Measured here (2 shared vCPUs under a VM, Linux, release
 * build): setting an event or printing a line, what a timer's function
 * typically does, takes under 1 us, so an ordinary function never hands
 * off.  One look of the watcher (wake, lock, park) costs 16-24 us of CPU,
 * and while functions run back to back it looks once per budget: about 2%
 * of a CPU with 1 ms, 20% with 100 us.  A timer due behind a blocked
 * function fires 1.2 ms (mean; at worst 1.9 ms) after it was due, about
 * what a thread's wake-up is late by on a busy machine.  (200,000 timers
 * due at once still fire at 0.25-0.37 us each; timers 5 ms apart cost about
 * 10 us more CPU per fire than with one plain timer thread, the watcher's
 * look after each.) */
#define RUN_BUDGET_NS 1000000 /* 1 ms */

/* All under sched_lock. */
static weft_lock sched_lock = WEFT_LOCK_INIT;
static struct timer_heap heap; /* pending timers, earliest first */
static weft_list running = WEFT_LIST_INIT(running); /* timers whose function runs */
static bool serving;               /* a thread holds the server role */
static uint64_t server_gen;        /* changes whenever the role changes hands */
static weft_timer *server_task;    /* the timer whose function the server runs */
static int64_t server_task_since;  /* ... since then */
static bool server_starting;       /* a start() is starting the server thread */
static bool watching;              /* the watcher thread is up (or starting) */
static int64_t watch_at;           /* when it looks next (0: about to) */

static _Atomic uint32_t wake_word;  /* bumped to wake the server */
static _Atomic uint32_t watch_word; /* bumped to wake the watcher */
static _Atomic uint32_t start_word; /* bumped when a server start ends */
static bool stopping;               /* process exit: the timer threads leave */
static size_t timer_threads;        /* started (or starting) as server or
                                       watcher, and not yet left */
static _Atomic uint32_t left_word;  /* bumped when one of them leaves */

/* The timer whose function this thread runs: joining it is an error. */
static _Thread_local weft_timer *current_timer;

static void unref(weft_timer *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
}

static weft_timer *running_timer(weft_list_node *node)
{
    return WEFT_LIST_ENTRY(node, weft_timer, run_link);
}

/* In the child of a fork: the timer's thread (or the schedule holding it)
 * did not cross, so drop the reference it held. */
static void orphan(weft_timer *t)
{
    t->state = ORPHANED;
    unref(t);
}

/* In the child, alone.  The timer threads did not cross: the child starts
 * its own when it starts a timer, and the parent's timers never fire here.
 * Only a function that was forking goes on, on this thread; if it was the
 * server's, the new generation makes this thread retire after it. */
static void forget_parent_timers(void)
{
    for (size_t i = 0; i < heap.size; i++)
        orphan(heap.items[i]);
    heap.size = 0;
    WEFT_LIST_FOR_EACH(node, next, &running) {
        weft_timer *t = running_timer(node);
        if (t != current_timer) {
            weft__list_remove(&t->run_link);
            orphan(t);
        }
    }
    serving = server_starting = watching = stopping = false;
    timer_threads = current_timer ? 1 : 0; /* this thread, if a server */
    watch_at = 0;
    server_task = NULL;
    server_gen++;
}

static void timer_atfork(int phase)
{
    weft__lock_atfork(&sched_lock, phase);
    if (phase == WEFT_FORK_CHILD)
        forget_parent_timers();
}

static void wait_for_non_daemon_timers(void);
static void wait_then_stop_timers(void);
static weft_lifecycle_hooks lifecycle = WEFT_LIFECYCLE_HOOKS_INIT(
    WEFT_RANK_TIMER, timer_atfork, wait_for_non_daemon_timers, wait_then_stop_timers);

int weft_timer_new(weft_timer **timer, double interval, weft_timer_fn fn, void *arg)
{
    if (timer)
        *timer = NULL; /* what it holds on every status but WEFT_OK */
    if (!timer || !fn || isnan(interval) || interval > WEFT_TIMEOUT_MAX)
        return WEFT_EINVAL;
    /* Before any use of sched_lock: the fork hook; and the exit hooks,
     * which wait for the non-daemon timers. */
    int rc = weft__lifecycle_register(&lifecycle);
    if (rc != WEFT_OK)
        return rc;
    weft_timer *t = calloc(1, sizeof *t);
    if (!t)
        return WEFT_ENOMEM;
    atomic_init(&t->refs, 1);
    weft__list_node_init(&t->run_link);
    t->interval = interval;
    t->fn = fn;
    t->arg = arg;
    t->state = NEW;
    weft_event_init(&t->finished);
    *timer = t;
    return WEFT_OK;
}

void weft_timer_free(weft_timer *timer)
{
    if (timer)
        unref(timer);
}

/* ---- the server and the watcher ------------------------------------------ */

static void finish(weft_timer *t)
{
    t->state = DONE;
    weft_event_set(&t->finished);
}

/* Never with sched_lock held: a thread start may create an OS thread (tens
 * of microseconds), and every timer start and cancel would wait for it. */
static int start_timer_thread(weft_thread_fn role)
{
    static const weft_thread_options options = {.name = "weft-timer", .daemon = WEFT_DAEMON};
    weft_thread *thread;
    int rc = weft_thread_new(&thread, role, NULL, &options);
    if (rc != WEFT_OK)
        return rc;
    weft__thread_set_managed(thread); /* nobody joins it, by design */
    weft__thread_set_reusable(thread);
    rc = weft_thread_start(thread);
    weft_thread_free(thread);
    return rc;
}

static int64_t later(int64_t a, int64_t b) { return a > b ? a : b; }

static int64_t plus_budget(int64_t t)
{
    return t >= WEFT_NO_DEADLINE - RUN_BUDGET_NS ? WEFT_NO_DEADLINE : t + RUN_BUDGET_NS;
}

/* sched_lock held.  When the watcher must look next: once the server's
 * function has run the budget, but no sooner than a pending timer is due
 * (until then the function delays nothing); with no function running,
 * once the next one can have run the budget. */
static int64_t next_look(int64_t now)
{
    int64_t top = heap.size ? heap.items[0]->due : WEFT_NO_DEADLINE;
    if (server_task)
        return later(plus_budget(server_task_since), top);
    return top == WEFT_NO_DEADLINE ? top : plus_budget(later(top, now));
}

static void *watch(void *unused);

static void poke(_Atomic uint32_t *word)
{
    atomic_fetch_add(word, 1);
    weft__unpark_one(word);
}

/* sched_lock held.  Make the watcher look by `when`: wake it if it sleeps
 * longer, or, if there is none, return true: the caller then calls
 * start_watcher once it has released sched_lock. */
static bool watch_by(int64_t when)
{
    if (when == WEFT_NO_DEADLINE)
        return false;
    if (!watching) {
        watching = true;
        timer_threads++; /* counted from now: exit waits for it to leave */
        watch_at = 0; /* it looks as it starts */
        return true;
    }
    if (watch_at > when) {
        watch_at = when;
        poke(&watch_word);
    }
    return false;
}

/* If no watcher can be started, the function runs unwatched and delays the
 * timers due after it; the next function or start() tries again. */
static void start_watcher(void)
{
    if (start_timer_thread(watch) != WEFT_OK) {
        weft__lock_take(&sched_lock);
        watching = false;
        timer_threads--;
        weft_lock_release(&sched_lock);
        poke(&left_word);
    }
}

/* sched_lock held; released while the function runs. */
static void run_due_timer(uint64_t gen, int64_t now)
{
    weft_timer *t = heap.items[0];
    weft__timer_heap_remove(&heap, t);
    t->state = RUNNING;
    weft__list_push_front(&running, &t->run_link);
    server_task = t;
    server_task_since = now;
    bool need_watcher = watch_by(next_look(now));
    weft_lock_release(&sched_lock);
    if (need_watcher)
        start_watcher();

    current_timer = t;
    t->fn(t->arg);
    current_timer = NULL;

    weft__lock_take(&sched_lock);
    weft__list_remove(&t->run_link);
    finish(t);
    if (server_gen == gen)
        server_task = NULL;
    weft_lock_release(&sched_lock);
    unref(t); /* the schedule's reference */
    weft__lock_take(&sched_lock);
}

/* sched_lock held on entry and return.  Fires due timers while this thread
 * holds the server role of generation gen; gives the role up when no timer
 * is pending.  The role changes hands only while the server runs a function. */
static void serve(uint64_t gen)
{
    while (server_gen == gen && !stopping) {
        if (heap.size == 0) {
            serving = false;
            if (watching)
                poke(&watch_word); /* to retire */
            return;
        }
        int64_t now = weft__now_ns();
        if (heap.items[0]->due > now) {
            int64_t due = heap.items[0]->due;
            uint32_t seen = atomic_load(&wake_word);
            weft_lock_release(&sched_lock);
            weft__park(&wake_word, seen, due);
            weft__lock_take(&sched_lock);
            continue;
        }
        run_due_timer(gen, now);
    }
    if (stopping && server_gen == gen)
        serving = false;
}

/* sched_lock held on entry, released.  A timer thread leaves: marked as
 * returning first, so that the exit's thread closing, once it sees the
 * count drop, waits for this OS thread to be back in the cache.  The mark
 * takes the cache's lock: after sched_lock is released, so that the
 * timers' lock is never held across the platform's. */
static void *leave_timer_thread(void)
{
    weft_lock_release(&sched_lock);
    weft__pf_thread_returning();
    weft__lock_take(&sched_lock);
    timer_threads--;
    weft_lock_release(&sched_lock);
    poke(&left_word);
    return NULL;
}

static void *server_main(void *unused)
{
    (void)unused;
    weft__lock_take(&sched_lock);
    /* start_server set the generation, and it cannot move on before this
     * thread has run a function. */
    serve(server_gen);
    return leave_timer_thread();
}

/* Watch whichever thread holds the server role; take the role over when
 * its function has run past the budget and a timer is due.  Retire when
 * nobody serves. */
static void *watch(void *unused)
{
    (void)unused;
    weft__lock_take(&sched_lock);
    while (serving && !stopping) {
        int64_t now = weft__now_ns();
        int64_t look = next_look(now);
        if (server_task && look <= now) {
            server_task = NULL; /* now the old server's own business */
            watching = false;
            serve(++server_gen);
            return leave_timer_thread();
        }
        watch_at = look;
        uint32_t seen = atomic_load(&watch_word);
        weft_lock_release(&sched_lock);
        weft__park(&watch_word, seen, look);
        weft__lock_take(&sched_lock);
    }
    watching = false;
    return leave_timer_thread();
}

/* At exit, wait for started non-daemon timers, as Python waits for a
 * Timer's (non-daemon) thread.  Not for one whose function is calling
 * exit(): it would wait for itself. */
static weft_timer *first_to_wait_for(void)
{
    WEFT_LIST_FOR_EACH(node, next, &running) {
        weft_timer *t = running_timer(node);
        if (!t->daemon && t != current_timer)
            return t;
    }
    for (size_t i = 0; i < heap.size; i++)
        if (!heap.items[i]->daemon)
            return heap.items[i];
    return NULL;
}

static void wait_for_non_daemon_timers(void)
{
    for (;;) {
        weft__lock_take(&sched_lock);
        weft_timer *wait = first_to_wait_for();
        if (wait)
            atomic_fetch_add(&wait->refs, 1);
        weft_lock_release(&sched_lock);
        if (!wait)
            return;
        weft_event_wait(&wait->finished);
        unref(wait);
    }
}

static size_t running_count(void)
{
    size_t n = 0;
    WEFT_LIST_FOR_EACH(node, next, &running)
        n++;
    return n;
}

/* How long exit waits at most for the idle timer threads to leave: they
 * only have to wake and return, so this only keeps a bug from hanging
 * exit. */
#define STOP_WAIT_NS (2 * (int64_t)1000000000)

/* At exit, once no non-daemon timer is left: the timer threads that are
 * not running a (daemon) timer's function leave, so that the OS threads go
 * back to the cache, which the exit then closes (valgrind would report a
 * thread still parked here as "possibly lost").  A thread running a
 * function is left to end with the process, as a daemon thread is. */
static void stop_timer_threads(void)
{
    int64_t deadline = weft__now_ns() + STOP_WAIT_NS;
    weft__lock_take(&sched_lock);
    stopping = true;
    poke(&wake_word);
    poke(&watch_word);
    while (timer_threads > running_count()) {
        uint32_t seen = atomic_load(&left_word);
        weft_lock_release(&sched_lock);
        int rc = weft__park(&left_word, seen, deadline);
        weft__lock_take(&sched_lock);
        if (rc == WEFT_ETIMEDOUT)
            break;
    }
    weft_lock_release(&sched_lock);
}

/* At exit, once the threads are joined: the non-daemon timers they
 * started too, then no more timer threads. */
static void wait_then_stop_timers(void)
{
    wait_for_non_daemon_timers();
    stop_timer_threads();
}

/* sched_lock held, released while the thread starts.  The timer is in the
 * heap, so that the new server finds it; other start() calls wait for the
 * outcome (server_starting), so that none counts on a server that could not
 * be started.  On failure the timer is taken back out. */
static int start_server(weft_timer *timer)
{
    server_starting = serving = true;
    server_gen++;
    timer_threads++; /* counted from now: exit waits for it to leave */
    weft_lock_release(&sched_lock);
    int rc = start_timer_thread(server_main);
    weft__lock_take(&sched_lock);
    server_starting = false;
    atomic_fetch_add(&start_word, 1);
    weft__unpark_all(&start_word);
    if (rc == WEFT_OK)
        return WEFT_OK;
    serving = false;
    timer_threads--;
    poke(&left_word);
    if (watching)
        poke(&watch_word); /* a watcher still retiring from the last server */
    if (timer->state == PENDING) {
        weft__timer_heap_remove(&heap, timer);
        timer->state = NEW;
        unref(timer); /* the schedule's reference: the caller holds another */
    }
    return rc;
}

/* sched_lock held, released while waiting. */
static void await_server_start(void)
{
    uint32_t seen = atomic_load(&start_word);
    weft_lock_release(&sched_lock);
    weft__park(&start_word, seen, WEFT_NO_DEADLINE);
    weft__lock_take(&sched_lock);
}

/* sched_lock held.  Put a NEW timer in the heap; true if the watcher must
 * be started (start_watcher, after releasing sched_lock). */
static int schedule(weft_timer *timer, int64_t due, bool *need_watcher)
{
    timer->due = due;
    if (!weft__timer_heap_push(&heap, timer))
        return WEFT_ENOMEM;
    timer->state = PENDING;
    atomic_fetch_add(&timer->refs, 1); /* the schedule's */
    if (!serving)
        return start_server(timer);
    if (timer->slot == 0) {
        poke(&wake_word);
        if (server_task) /* the server is busy: it may have to be relieved */
            *need_watcher = watch_by(next_look(weft__now_ns()));
    }
    return WEFT_OK;
}

/* ---- API -------------------------------------------------------------- */

int weft_timer_set_daemon(weft_timer *timer, bool daemon)
{
    if (!timer)
        return WEFT_EINVAL;
    weft__lock_take(&sched_lock);
    int rc = timer->started ? WEFT_ESTATE : WEFT_OK;
    if (rc == WEFT_OK)
        timer->daemon = daemon;
    weft_lock_release(&sched_lock);
    return rc;
}

bool weft_timer_daemon(const weft_timer *timer) { return timer && timer->daemon; }

int weft_timer_start(weft_timer *timer)
{
    if (!timer)
        return WEFT_EINVAL;
    int64_t delay;
    if (weft__deadline_after(timer->interval, &delay) != WEFT_OK)
        return WEFT_EINVAL; /* new lets no such interval through */
    bool need_watcher = false;
    weft__lock_take(&sched_lock);
    while (server_starting && !timer->started)
        await_server_start();
    int rc = timer->started ? WEFT_ESTATE : stopping ? WEFT_ESHUTDOWN : WEFT_OK;
    if (rc == WEFT_OK && timer->state == NEW)
        rc = schedule(timer, delay, &need_watcher);
    if (rc == WEFT_OK)
        timer->started = true;
    weft_lock_release(&sched_lock);
    if (need_watcher)
        start_watcher();
    return rc;
}

int weft_timer_cancel(weft_timer *timer)
{
    if (!timer)
        return WEFT_EINVAL;
    bool drop = false;
    weft__lock_take(&sched_lock);
    if (timer->state == PENDING) {
        weft__timer_heap_remove(&heap, timer);
        drop = true;
        if (heap.size == 0)
            poke(&wake_word); /* to retire now, not at the cancelled due time */
    }
    if (timer->state == NEW || timer->state == PENDING)
        finish(timer);
    weft_lock_release(&sched_lock);
    if (drop)
        unref(timer);
    return WEFT_OK;
}

int weft_timer_join_timeout(weft_timer *timer, double timeout)
{
    if (!timer)
        return WEFT_EINVAL;
    if (isnan(timeout))
        return WEFT_EINVAL;
    weft__lock_take(&sched_lock);
    bool started = timer->started;
    bool orphaned = timer->state == ORPHANED;
    weft_lock_release(&sched_lock);
    if (!started || timer == current_timer)
        return WEFT_ESTATE;
    if (orphaned)
        return WEFT_OK;
    return weft_event_wait_timeout(&timer->finished, timeout < 0 ? 0 : timeout);
}

int weft_timer_join(weft_timer *timer) { return weft_timer_join_timeout(timer, WEFT_FOREVER); }

bool weft_timer_finished(const weft_timer *timer)
{
    return timer && weft_event_is_set(&timer->finished);
}

bool weft_timer_is_alive(const weft_timer *timer)
{
    if (!timer)
        return false;
    weft__lock_take(&sched_lock);
    bool alive = timer->started && timer->state != DONE && timer->state != ORPHANED;
    weft_lock_release(&sched_lock);
    return alive;
}
