/* timer.c — Timer, served by one shared timer thread.
 *
 * Pending timers sit in a binary min-heap ordered by due time; each knows
 * its heap position so cancel removes it in O(log n).  The timer thread
 * parks on a word until the earliest due time; start() bumps the word when
 * it puts a new earliest timer at the top.  A fired timer's function runs on
 * the timer thread outside the lock.
 */
#include "weft/timer.h"
#include "sync_internal.h"

#include "park.h"
#include "thread_internal.h"
#include "weft/event.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stdint.h>
#include <stdlib.h>

enum { NEW, PENDING, RUNNING, DONE };

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
    weft_event finished;
};

static weft_lock sched_lock = WEFT_LOCK_INIT;
static weft_timer **heap;
static size_t heap_size, heap_capacity;
static weft_timer *firing;             /* the timer whose function runs */
static _Atomic uint32_t wake_word;     /* bumped to wake the timer thread */
static bool thread_started;
static bool stopping;                  /* process exit: the thread returns */
static weft_exit_hook exit_hook;
static weft_service service;
static _Thread_local bool on_timer_thread;

void weft_timer_atfork(int phase)
{
    if (phase == WEFT_FORK_PREPARE) {
        weft_lock_take(&sched_lock);
    } else if (phase == WEFT_FORK_PARENT) {
        weft_lock_release(&sched_lock);
    } else {
        /* The timer thread did not cross: the child starts its own when it
         * starts a timer, and the parent's timers never fire here. */
        heap_size = 0;
        firing = NULL;
        thread_started = false;
        weft_lock_init(&sched_lock);
    }
}

static void unref(weft_timer *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
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

/* ---- the timer thread ----------------------------------------------------- */

static void finish(weft_timer *t)
{
    t->state = DONE;
    weft_event_set(&t->finished);
}

static void timer_thread(void *unused)
{
    (void)unused;
    weft_pf_set_thread_name(weft_pf_thread_self(), "weft-timer");
    on_timer_thread = true;
    weft_lock_take(&sched_lock);
    for (;;) {
        if (stopping) {
            weft_lock_release(&sched_lock);
            return;
        }
        int64_t now = weft_now_ns();
        if (heap_size == 0 || heap[0]->due > now) {
            int64_t deadline = heap_size ? heap[0]->due : WEFT_NO_DEADLINE;
            uint32_t seen = atomic_load(&wake_word);
            weft_lock_release(&sched_lock);
            weft_park(&wake_word, seen, deadline);
            weft_lock_take(&sched_lock);
            continue;
        }
        weft_timer *t = heap[0];
        heap_remove(t);
        t->state = RUNNING;
        firing = t;
        weft_lock_release(&sched_lock);

        t->fn(t->arg);

        weft_lock_take(&sched_lock);
        firing = NULL;
        finish(t);
        weft_lock_release(&sched_lock);
        unref(t); /* the schedule's reference */
        weft_lock_take(&sched_lock);
    }
}

static void poke_timer_thread(void)
{
    atomic_fetch_add(&wake_word, 1);
    weft_unpark_one(&wake_word);
}

/* At exit, wait for started non-daemon timers, as Python waits for a
 * Timer's (non-daemon) thread. */
static void wait_for_timers(void)
{
    for (;;) {
        weft_timer *wait = NULL;
        weft_lock_take(&sched_lock);
        /* exit() called from the firing timer's function: it cannot wait
         * for itself. */
        if (firing && !firing->daemon && !on_timer_thread)
            wait = firing;
        for (size_t i = 0; !wait && i < heap_size; i++)
            if (!heap[i]->daemon)
                wait = heap[i];
        if (wait)
            atomic_fetch_add(&wait->refs, 1);
        weft_lock_release(&sched_lock);
        if (!wait)
            return;
        weft_event_wait(&wait->finished);
        unref(wait);
    }
}

/* At exit, after wait_for_timers: the thread ends unless a (daemon)
 * timer's function is running on it. */
static bool stop_timer_thread(void *unused)
{
    (void)unused;
    weft_lock_take(&sched_lock);
    bool idle = !firing;
    if (idle) {
        stopping = true;
        poke_timer_thread();
    }
    weft_lock_release(&sched_lock);
    return idle;
}

/* sched_lock held. */
static int ensure_timer_thread(void)
{
    if (thread_started)
        return WEFT_OK;
    service = (weft_service){.loop = timer_thread, .stop = stop_timer_thread};
    int rc = weft_service_start(&service);
    if (rc == WEFT_OK) {
        thread_started = true;
        exit_hook.run = wait_for_timers;
        weft_add_exit_hook(&exit_hook);
    }
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
    int rc = timer->started ? WEFT_ESTATE : ensure_timer_thread();
    if (rc == WEFT_OK && timer->state == NEW) {
        timer->due = delay;
        if (!heap_push(timer)) {
            rc = WEFT_ENOMEM;
        } else {
            timer->state = PENDING;
            atomic_fetch_add(&timer->refs, 1);
            if (timer->slot == 0)
                poke_timer_thread();
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
    weft_lock_take(&sched_lock);
    bool started = timer->started;
    weft_lock_release(&sched_lock);
    if (!started)
        return WEFT_ESTATE;
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
    bool alive = timer->started && timer->state != DONE;
    weft_lock_release(&sched_lock);
    return alive;
}
