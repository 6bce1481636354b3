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
 * until that function has run RUN_BUDGET_NS.  If it still runs then, the
 * watcher takes the server role over and serves the heap from then on; the
 * old server finishes the function and retires.  So a function that blocks
 * (sleeps, joins a later timer, waits on a lock) delays the other timers by
 * at most the budget, and costs a thread only while it runs past it, as
 * each Python Timer is a thread of its own.
 *
 * The server and the watcher are daemon weft threads on cached OS threads
 * (weft_thread_set_reusable), and each goes back to the cache as soon as
 * it has nothing to do: the server when no timer is pending, the watcher
 * when the server runs no function.  start() starts a server when there is
 * none, and the server a watcher before it runs a function.  Pending timers
 * cost one thread in all, and an idle program holds no timer thread.
 */
#include "weft/timer.h"
#include "sync_internal.h"

#include "park.h"
#include "thread_internal.h"
#include "weft/event.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/thread.h"
#include "weft/time.h"

#include <stdint.h>
#include <stdlib.h>

/* ORPHANED: pending or running in the parent of a fork; in the child it is
 * neither alive nor finished, and joining it returns at once (Python's
 * _after_fork marks such threads stopped). */
enum { NEW, PENDING, RUNNING, DONE, ORPHANED };

struct weft_timer {
    _Atomic int refs;
    double interval;
    weft_timer_fn fn;
    void *arg;
    bool daemon;
    bool started;   /* guarded by sched_lock */
    int state;      /* guarded by sched_lock */
    int64_t due;
    size_t slot;    /* index in the heap while PENDING */
    weft_timer *run_prev, *run_next; /* in `running` while RUNNING */
    weft_event finished;
};

/* How long the server lets a function run before the watcher takes its
 * job over.  The longer, the later a timer due behind a blocking function
 * fires; the shorter, the more functions that merely compute a while cost
 * a hand-off (a thread for the rest of the function, and a new watcher).
 * Measured here (2 vCPUs, Linux): the function of a typical timer (set an
 * event, submit to a pool, print a line) returns in 1-20 us; a watcher's
 * wake-up, look and sleep cost about 5 us of CPU, so watching back-to-back
 * functions costs under 0.5% of one CPU; a hand-off fires the blocked
 * timer's successor RUN_BUDGET_NS plus 0.1-0.3 ms after it was due, within
 * the scheduling delay a Python Timer thread sees on a busy machine. */
#define RUN_BUDGET_NS 1000000 /* 1 ms */

/* All under sched_lock. */
static weft_lock sched_lock = WEFT_LOCK_INIT;
static weft_timer **heap;
static size_t heap_size, heap_capacity;
static weft_timer *running;        /* timers whose function runs, any thread */
static bool serving;               /* a thread holds the server role */
static uint64_t server_gen;        /* changes whenever the role changes hands */
static weft_timer *server_task;    /* the timer whose function the server runs */
static int64_t server_task_since;  /* ... since then */
static bool watching;              /* the watcher thread is up */
static bool exit_hook_added;       /* not reset by fork: the hook list crosses */
static weft_exit_hook exit_hook;

static _Atomic uint32_t wake_word; /* bumped to wake the server */

/* The timer whose function this thread runs: joining it is an error. */
static _Thread_local weft_timer *current_timer;

static void unref(weft_timer *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
}

static void running_link(weft_timer *t)
{
    t->run_prev = NULL;
    t->run_next = running;
    if (running)
        running->run_prev = t;
    running = t;
}

static void running_unlink(weft_timer *t)
{
    if (t->run_prev)
        t->run_prev->run_next = t->run_next;
    else
        running = t->run_next;
    if (t->run_next)
        t->run_next->run_prev = t->run_prev;
    t->run_prev = t->run_next = NULL;
}

/* In the child of a fork: the timer's thread (or the schedule holding it)
 * did not cross, so drop the reference it held. */
static void orphan(weft_timer *t)
{
    t->state = ORPHANED;
    unref(t);
}

void weft_timer_atfork(int phase)
{
    if (phase == WEFT_FORK_PREPARE) {
        weft_lock_take(&sched_lock);
    } else if (phase == WEFT_FORK_PARENT) {
        weft_lock_release(&sched_lock);
    } else {
        /* The timer threads did not cross: the child starts its own when it
         * starts a timer, and the parent's timers never fire here.  Only a
         * function that was forking goes on, on this thread; if it was the
         * server's, the new generation makes this thread retire after it. */
        for (size_t i = 0; i < heap_size; i++)
            orphan(heap[i]);
        heap_size = 0;
        for (weft_timer *t = running, *next; t; t = next) {
            next = t->run_next;
            if (t != current_timer) {
                running_unlink(t);
                orphan(t);
            }
        }
        serving = watching = false;
        server_task = NULL;
        server_gen++;
        weft_lock_init(&sched_lock);
    }
}

int weft_timer_new(weft_timer **timer, double interval, weft_timer_fn fn, void *arg)
{
    if (!timer || !fn || isnan(interval) || interval > WEFT_TIMEOUT_MAX)
        return WEFT_EINVAL;
    weft_timer *t = calloc(1, sizeof *t);
    if (!t)
        return WEFT_ENOMEM;
    atomic_init(&t->refs, 1);
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

/* ---- heap (sched_lock held) --------------------------------------------- */

static void place(size_t i, weft_timer *t)
{
    heap[i] = t;
    t->slot = i;
}

static void sift_up(size_t i)
{
    weft_timer *t = heap[i];
    while (i > 0 && heap[(i - 1) / 2]->due > t->due) {
        place(i, heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(i, t);
}

static void sift_down(size_t i)
{
    weft_timer *t = heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap_size)
            break;
        if (child + 1 < heap_size && heap[child + 1]->due < heap[child]->due)
            child++;
        if (heap[child]->due >= t->due)
            break;
        place(i, heap[child]);
        i = child;
    }
    place(i, t);
}

static bool heap_push(weft_timer *t)
{
    if (heap_size == heap_capacity) {
        size_t cap = heap_capacity ? heap_capacity * 2 : 64;
        weft_timer **grown = realloc(heap, cap * sizeof *grown);
        if (!grown)
            return false;
        heap = grown;
        heap_capacity = cap;
    }
    place(heap_size++, t);
    sift_up(t->slot);
    return true;
}

static void heap_remove(weft_timer *t)
{
    size_t i = t->slot;
    weft_timer *last = heap[--heap_size];
    if (i == heap_size)
        return;
    place(i, last);
    sift_up(i);
    sift_down(last->slot);
}

/* ---- the server and the watcher ------------------------------------------ */

static void finish(weft_timer *t)
{
    t->state = DONE;
    weft_event_set(&t->finished);
}

static int start_timer_thread(weft_thread_fn role)
{
    static const weft_thread_options options = {.name = "weft-timer", .daemon = WEFT_DAEMON};
    weft_thread *thread;
    int rc = weft_thread_new(&thread, role, NULL, &options);
    if (rc != WEFT_OK)
        return rc;
    weft_thread_set_managed(thread); /* nobody joins it, by design */
    weft_thread_set_reusable(thread);
    rc = weft_thread_start(thread);
    weft_thread_free(thread);
    return rc;
}

static void *watch(void *unused);

/* sched_lock held.  Without a watcher (none could be started) the function
 * runs unwatched: it then delays the timers due after it, as before. */
static void ensure_watcher(void)
{
    if (!watching && start_timer_thread(watch) == WEFT_OK)
        watching = true;
}

/* sched_lock held; released while the function runs. */
static void run_due_timer(uint64_t gen, int64_t now)
{
    weft_timer *t = heap[0];
    heap_remove(t);
    t->state = RUNNING;
    running_link(t);
    server_task = t;
    server_task_since = now;
    ensure_watcher();
    weft_lock_release(&sched_lock);

    current_timer = t;
    t->fn(t->arg);
    current_timer = NULL;

    weft_lock_take(&sched_lock);
    running_unlink(t);
    finish(t);
    if (server_gen == gen)
        server_task = NULL;
    weft_lock_release(&sched_lock);
    unref(t); /* the schedule's reference */
    weft_lock_take(&sched_lock);
}

/* sched_lock held on entry and return.  Fires due timers while this thread
 * holds the server role of generation gen; gives the role up when no timer
 * is pending.  The role changes hands only while the server runs a function. */
static void serve(uint64_t gen)
{
    while (server_gen == gen) {
        if (heap_size == 0) {
            serving = false;
            return;
        }
        int64_t now = weft_now_ns();
        if (heap[0]->due > now) {
            int64_t due = heap[0]->due;
            uint32_t seen = atomic_load(&wake_word);
            weft_lock_release(&sched_lock);
            weft_park(&wake_word, seen, due);
            weft_lock_take(&sched_lock);
            continue;
        }
        run_due_timer(gen, now);
    }
}

static void *server_main(void *unused)
{
    (void)unused;
    weft_lock_take(&sched_lock);
    /* ensure_server set the generation, and it cannot move on before this
     * thread has run a function. */
    serve(server_gen);
    weft_lock_release(&sched_lock);
    return NULL;
}

/* Sleep until the server's function has run the budget; then, if it still
 * runs, become the server.  Retire when the server runs no function. */
static void *watch(void *unused)
{
    (void)unused;
    weft_lock_take(&sched_lock);
    while (server_task) {
        int64_t over = server_task_since + RUN_BUDGET_NS;
        if (weft_now_ns() >= over) {
            server_task = NULL; /* now the old server's own business */
            watching = false;
            serve(++server_gen);
            weft_lock_release(&sched_lock);
            return NULL;
        }
        weft_lock_release(&sched_lock);
        weft_pf_sleep_until(over);
        weft_lock_take(&sched_lock);
    }
    watching = false;
    weft_lock_release(&sched_lock);
    return NULL;
}

static void poke_server(void)
{
    atomic_fetch_add(&wake_word, 1);
    weft_unpark_one(&wake_word);
}

/* At exit, wait for started non-daemon timers, as Python waits for a
 * Timer's (non-daemon) thread.  Not for one whose function is calling
 * exit(): it would wait for itself. */
static weft_timer *first_to_wait_for(void)
{
    for (weft_timer *t = running; t; t = t->run_next)
        if (!t->daemon && t != current_timer)
            return t;
    for (size_t i = 0; i < heap_size; i++)
        if (!heap[i]->daemon)
            return heap[i];
    return NULL;
}

static void wait_for_timers(void)
{
    for (;;) {
        weft_lock_take(&sched_lock);
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

/* sched_lock held. */
static int ensure_server(void)
{
    if (serving)
        return WEFT_OK;
    if (!exit_hook_added) {
        exit_hook.run = wait_for_timers;
        weft_add_exit_hook(&exit_hook);
        exit_hook_added = true;
    }
    server_gen++;
    serving = true;
    int rc = start_timer_thread(server_main);
    if (rc != WEFT_OK)
        serving = false;
    return rc;
}

/* ---- API -------------------------------------------------------------- */

int weft_timer_set_daemon(weft_timer *timer, bool daemon)
{
    if (!timer)
        return WEFT_EINVAL;
    weft_lock_take(&sched_lock);
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
    weft_deadline_after(timer->interval, &delay); /* validated in new */
    weft_lock_take(&sched_lock);
    int rc = timer->started ? WEFT_ESTATE : WEFT_OK;
    if (rc == WEFT_OK && timer->state == NEW) {
        timer->due = delay;
        if (!heap_push(timer)) {
            rc = WEFT_ENOMEM;
        } else if ((rc = ensure_server()) != WEFT_OK) {
            heap_remove(timer);
        } else {
            timer->state = PENDING;
            atomic_fetch_add(&timer->refs, 1);
            if (timer->slot == 0)
                poke_server();
        }
    }
    if (rc == WEFT_OK)
        timer->started = true;
    weft_lock_release(&sched_lock);
    return rc;
}

int weft_timer_cancel(weft_timer *timer)
{
    if (!timer)
        return WEFT_EINVAL;
    bool drop = false;
    weft_lock_take(&sched_lock);
    if (timer->state == PENDING) {
        heap_remove(timer);
        drop = true;
        if (heap_size == 0)
            poke_server(); /* to retire now, not at the cancelled due time */
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
    weft_lock_take(&sched_lock);
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
    weft_lock_take(&sched_lock);
    bool alive = timer->started && timer->state != DONE && timer->state != ORPHANED;
    weft_lock_release(&sched_lock);
    return alive;
}
