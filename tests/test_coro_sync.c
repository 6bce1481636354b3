/* SPDX-License-Identifier: MIT */
/* test_coro_sync.c — weft's locks, events, conditions, semaphores and
 * barriers used from coroutines, against asyncio's behaviours (the "Lock",
 * "Event", "Condition", "Semaphore / BoundedSemaphore" and "Barrier" items
 * of the asyncio checklist, docs/python.md).  There are no asyncio-only
 * primitives in weft: asyncio.Lock is a weft_lock used from a coroutine, and
 * so on.  Items that do not apply to C are listed in docs/python.md.
 *
 * Every test runs on a fresh loop (run_coro); coroutines record failures
 * with CO_CHECK (coro_harness.h).  "In one step" below means the main
 * coroutine does both actions without suspending in between, as one asyncio
 * callback or task step does. */
#include "coro_harness.h"

/* ---- shared context ------------------------------------------------------- */

typedef struct sync_ctx sync_ctx;

typedef struct waiter {
    sync_ctx *ctx;
    int id;
    atomic_int rc;  /* what its blocking call returned (-1: not yet) */
    atomic_int rc2; /* a second status: its release, its retry */
    atomic_bool done;
    size_t index; /* a barrier index */
    weft_future *task;
} waiter;

struct sync_ctx {
    weft_lock lock;
    weft_rlock rlock;
    weft_condition cond;
    weft_semaphore sem;
    weft_event event;
    weft_barrier barrier;
    weft_barrier barrier2;
    int state;
    int log[32];
    int nlog;
    int holders, max_holders, acquired;
    atomic_bool go;
    waiter w[8];
};

static void ctx_init(sync_ctx *c)
{
    memset(c, 0, sizeof *c);
    weft_lock_init(&c->lock);
    weft_rlock_init(&c->rlock);
    weft_condition_init(&c->cond);
    weft_semaphore_init(&c->sem, 0);
    weft_event_init(&c->event);
    atomic_init(&c->go, false);
}

static void log_add(sync_ctx *c, int v)
{
    if (c->nlog < 32)
        c->log[c->nlog++] = v;
}

static bool co_check_log_(const sync_ctx *c, int n, const int *want, const char *file, int line)
{
    bool same = c->nlog == n;
    for (int i = 0; same && i < n; i++)
        same = c->log[i] == want[i];
    if (same)
        return true;
    char text[256];
    int len = snprintf(text, sizeof text, "log is [");
    for (int i = 0; i < c->nlog && len < 200; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, "%s%d", i ? " " : "", c->log[i]);
    len += snprintf(text + len, sizeof text - (size_t)len, "], expected [");
    for (int i = 0; i < n && len < 240; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, "%s%d", i ? " " : "", want[i]);
    snprintf(text + len, sizeof text - (size_t)len, "]");
    return co_fail_(file, line, text);
}

#define LOG_LIST_(...) ((const int[]){__VA_ARGS__})
#define CO_CHECK_LOG(c, ...)                                                   \
    co_check_log_((c), (int)(sizeof LOG_LIST_(__VA_ARGS__) / sizeof(int)),     \
                  LOG_LIST_(__VA_ARGS__), __FILE__, __LINE__)

/* The log holds each of 1..n once, in any order. */
static bool log_is_permutation(const sync_ctx *c, int n)
{
    if (c->nlog != n)
        return false;
    for (int v = 1; v <= n; v++) {
        int seen = 0;
        for (int i = 0; i < c->nlog; i++)
            seen += c->log[i] == v;
        if (seen != 1)
            return false;
    }
    return true;
}

static waiter *start_waiter(sync_ctx *c, int i, weft_task_fn fn)
{
    waiter *w = &c->w[i];
    w->ctx = c;
    w->id = i + 1;
    atomic_store(&w->rc, -1);
    atomic_store(&w->rc2, -1);
    atomic_store(&w->done, false);
    w->task = co_spawn(fn, w);
    return w;
}

static void waiter_done(waiter *w, int rc)
{
    atomic_store(&w->rc, rc);
    atomic_store(&w->done, true);
}

static bool wait_done(waiter *w, double timeout)
{
    wait_until(atomic_load(&w->done), timeout);
    return atomic_load(&w->done);
}

static bool is_done(waiter *w) { return atomic_load(&w->done); }

/* Cancel the waiters still waiting and collect every task. */
static void finish_waiters(sync_ctx *c)
{
    for (int i = 0; i < 8; i++) {
        waiter *w = &c->w[i];
        if (!w->task)
            continue;
        if (!is_done(w))
            weft_task_cancel(w->task, NULL);
        CO_CHECK(co_finish(w->task, 10) != WEFT_ETIMEDOUT);
        w->task = NULL;
    }
}

/* The main coroutine of a test and the cmocka test that runs it. */
#define CORO_TEST(name)                                                       \
    static void *name##_main(void *arg);                                      \
    static void name(void **state)                                            \
    {                                                                         \
        (void)state;                                                          \
        run_coro(name##_main, NULL);                                          \
    }                                                                         \
    static void *name##_main(void *arg)

/* ---- Lock ----------------------------------------------------------------- */

/* Takes the lock and keeps it (the test releases it). */
static void *lock_keeper(void *p)
{
    waiter *w = p;
    int rc = weft_lock_acquire(&w->ctx->lock);
    if (rc == WEFT_OK)
        log_add(w->ctx, w->id);
    waiter_done(w, rc);
    return NULL;
}

/* Takes the lock, holds it across a suspension, gives it back. */
static void *lock_taker(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    int rc = weft_lock_acquire(&c->lock);
    if (rc == WEFT_OK) {
        c->acquired++;
        if (++c->holders > c->max_holders)
            c->max_holders = c->holders;
        log_add(c, w->id);
        weft_sleep(0.002);
        c->holders--;
        atomic_store(&w->rc2, weft_lock_release(&c->lock));
    }
    waiter_done(w, rc);
    return NULL;
}

#if WEFT_HAVE_WITH
static int hold_and_return_early(weft_lock *lock, bool *was_locked)
{
    WEFT_WITH(lock) {
        *was_locked = weft_lock_locked(lock);
        return 7; /* the lock is released on the way out */
    }
    return 0;
}
#endif

/* asyncio Lock 1 [test_locks.LockTests.test_release_no_waiters,
 * test_release_not_acquired, test_context_manager, test_repr] */
CORO_TEST(lock_acquire_release_with_and_repr)
{
    (void)arg;
    char text[128];
    weft_lock lock = WEFT_LOCK_INIT;
    CO_CHECK(!weft_lock_locked(&lock));
    CO_CHECK(strstr(REPR(weft_lock_repr, &lock, text), ": unlocked>"));
    CO_CHECK_RC(weft_lock_acquire(&lock), WEFT_OK);
    CO_CHECK(weft_lock_locked(&lock));
    CO_CHECK(strstr(REPR(weft_lock_repr, &lock, text), ": locked>"));
    CO_CHECK_RC(weft_lock_release(&lock), WEFT_OK);
    CO_CHECK(!weft_lock_locked(&lock));
    CO_CHECK_RC(weft_lock_release(&lock), WEFT_ENOTOWNER);
#if WEFT_HAVE_WITH
    bool inside = false;
    CO_CHECK_INT(hold_and_return_early(&lock, &inside), 7);
    CO_CHECK(inside);
    CO_CHECK(!weft_lock_locked(&lock));
#endif
    CO_CHECK_RC(weft_lock_destroy(&lock), WEFT_OK);
    return NULL;
}

/* asyncio Lock 2 (one per release; the order is in docs/python.md)
 * [test_locks.LockTests.test_acquire] */
CORO_TEST(lock_each_release_admits_exactly_one_waiter)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_lock_acquire(&c.lock), WEFT_OK);
    start_waiter(&c, 0, lock_keeper);
    start_waiter(&c, 1, lock_keeper);
    co_yield(3);
    CO_CHECK_INT(c.nlog, 0);
    for (int round = 1; round <= 3; round++) {
        if (round == 2)
            start_waiter(&c, 2, lock_keeper); /* arrives later */
        co_yield(3);
        /* Any task may release a weft_lock, as any thread may. */
        CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
        wait_until(c.nlog >= round, 2);
        co_yield(5);
        CO_CHECK_INT(c.nlog, round);
        CO_CHECK(weft_lock_locked(&c.lock));
    }
    CO_CHECK(log_is_permutation(&c, 3));
    CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
    finish_waiters(&c);
    return NULL;
}

/* asyncio Lock 4 [test_locks.LockTests.test_acquire_cancel] */
CORO_TEST(lock_cancelled_acquire_leaves_no_residue)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_lock_acquire(&c.lock), WEFT_OK);
    waiter *w = start_waiter(&c, 0, lock_keeper);
    co_yield(3);
    CO_CHECK(!is_done(w));
    CO_CHECK(weft_task_cancel(w->task, NULL));
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(atomic_load(&w->rc), WEFT_ECANCELLED);
    CO_CHECK_RC(co_finish(w->task, 2), WEFT_ECANCELLED);
    w->task = NULL;
    CO_CHECK(weft_lock_locked(&c.lock)); /* still the main task's */
    CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
    CO_CHECK(!weft_lock_locked(&c.lock));
    /* The lock works as new: a waiter after the cancelled one gets it. */
    CO_CHECK_RC(weft_lock_acquire(&c.lock), WEFT_OK);
    w = start_waiter(&c, 1, lock_keeper);
    co_yield(3);
    CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(atomic_load(&w->rc), WEFT_OK);
    CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
    CO_CHECK_RC(weft_lock_destroy(&c.lock), WEFT_OK);
    finish_waiters(&c);
    return NULL;
}

/* asyncio Lock 5 [test_locks.LockTests.test_cancel_race] */
CORO_TEST(lock_waiter_cancelled_as_the_lock_is_released_passes_it_on)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_lock_acquire(&c.lock), WEFT_OK);
    waiter *b = start_waiter(&c, 0, lock_taker);
    waiter *cw = start_waiter(&c, 1, lock_taker);
    co_yield(3);
    /* In one step: cancel B, then release. */
    CO_CHECK(weft_task_cancel(b->task, NULL));
    CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
    CO_CHECK(wait_done(cw, 2));
    CO_CHECK(wait_done(b, 2));
    CO_CHECK_RC(atomic_load(&b->rc), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&cw->rc), WEFT_OK);
    CO_CHECK_INT(c.max_holders, 1);
    CO_CHECK(!weft_lock_locked(&c.lock));
    finish_waiters(&c);
    return NULL;
}

/* asyncio Lock 6 [test_locks.LockTests.test_finished_waiter_cancelled] */
CORO_TEST(lock_woken_waiter_cancelled_before_it_runs_loses_nothing)
{
    (void)arg;
    for (int others = 0; others <= 1; others++) {
        sync_ctx c;
        ctx_init(&c);
        CO_CHECK_RC(weft_lock_acquire(&c.lock), WEFT_OK);
        waiter *b = start_waiter(&c, 0, lock_taker);
        waiter *cw = others ? start_waiter(&c, 1, lock_taker) : NULL;
        co_yield(3);
        /* In one step: release (which wakes B), then cancel B. */
        CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
        CO_CHECK(weft_task_cancel(b->task, NULL));
        CO_CHECK(wait_done(b, 2));
        /* B either took the lock first (and released it) or was cancelled:
         * either way the lock goes on to C, or ends unlocked. */
        CO_CHECK_RC2(atomic_load(&b->rc), WEFT_OK, WEFT_ECANCELLED);
        if (cw) {
            CO_CHECK(wait_done(cw, 2));
            CO_CHECK_RC(atomic_load(&cw->rc), WEFT_OK);
        }
        wait_until(!weft_lock_locked(&c.lock), 2);
        CO_CHECK(!weft_lock_locked(&c.lock));
        CO_CHECK_INT(c.max_holders, c.acquired ? 1 : 0);
        finish_waiters(&c);
    }
    return NULL;
}

/* asyncio Lock 7 [test_locks.LockTests.test_cancel_release_race] */
CORO_TEST(lock_cancel_and_release_in_one_step_never_gives_two_holders)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_lock_acquire(&c.lock), WEFT_OK);
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, lock_taker);
    co_yield(3);
    CO_CHECK(weft_task_cancel(c.w[0].task, NULL));
    CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
    for (int i = 0; i < 3; i++)
        CO_CHECK(wait_done(&c.w[i], 2));
    CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&c.w[1].rc), WEFT_OK);
    CO_CHECK_RC(atomic_load(&c.w[2].rc), WEFT_OK);
    CO_CHECK_INT(c.acquired, 2);
    CO_CHECK_INT(c.max_holders, 1);
    CO_CHECK(!weft_lock_locked(&c.lock));
    finish_waiters(&c);
    return NULL;
}

/* ---- RLock: the owner is the task ----------------------------------------- */

static void *rlock_holder(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    int rc = weft_rlock_acquire(&c->rlock);
    if (rc == WEFT_OK) {
        CO_CHECK_RC(weft_rlock_acquire(&c->rlock), WEFT_OK); /* its own: nests */
        CO_CHECK(weft_rlock_is_owned(&c->rlock));
        CO_CHECK_INT(weft_rlock_recursion_count(&c->rlock), 2);
        log_add(c, w->id);
        wait_until(atomic_load(&c->go), 10);
        CO_CHECK_RC(weft_rlock_release(&c->rlock), WEFT_OK);
        CO_CHECK_RC(weft_rlock_release(&c->rlock), WEFT_OK);
    }
    waiter_done(w, rc);
    return NULL;
}

static void *cond_holder(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    int rc = weft_condition_acquire(&c->cond);
    if (rc == WEFT_OK) {
        log_add(c, w->id);
        wait_until(atomic_load(&c->go), 10);
        CO_CHECK_RC(weft_condition_release(&c->cond), WEFT_OK);
    }
    waiter_done(w, rc);
    return NULL;
}

/* Issue 16: two coroutines of one thread do not share an rlock (nor a
 * condition's own rlock): the owner is the task, not the thread. */
CORO_TEST(rlock_is_owned_by_the_task_not_by_its_thread)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    waiter *a = start_waiter(&c, 0, rlock_holder);
    wait_until(c.nlog == 1, 2);
    CO_CHECK(weft_rlock_locked(&c.rlock));
    CO_CHECK(!weft_rlock_is_owned(&c.rlock));
    CO_CHECK_INT(weft_rlock_recursion_count(&c.rlock), 0);
    CO_CHECK_RC(weft_rlock_try_acquire(&c.rlock), WEFT_ETIMEDOUT);
    CO_CHECK_RC(weft_rlock_release(&c.rlock), WEFT_ENOTOWNER);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_rlock_acquire_timeout(&c.rlock, 0.05), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 >= 0.05);
    /* A third task blocks in acquire until A lets go. */
    waiter *b = start_waiter(&c, 1, rlock_holder);
    co_yield(3);
    CO_CHECK(!is_done(b));
    CO_CHECK_INT(c.nlog, 1);
    atomic_store(&c.go, true);
    CO_CHECK(wait_done(a, 2));
    CO_CHECK(wait_done(b, 2));
    CO_CHECK_RC(atomic_load(&a->rc), WEFT_OK);
    CO_CHECK_RC(atomic_load(&b->rc), WEFT_OK);
    CO_CHECK_LOG(&c, 1, 2);
    CO_CHECK(!weft_rlock_locked(&c.rlock));
    finish_waiters(&c);

    /* The same for a condition's own rlock. */
    ctx_init(&c);
    a = start_waiter(&c, 0, cond_holder);
    wait_until(c.nlog == 1, 2);
    CO_CHECK(weft_condition_locked(&c.cond));
    CO_CHECK_RC(weft_condition_try_acquire(&c.cond), WEFT_ETIMEDOUT);
    CO_CHECK_RC(weft_condition_notify(&c.cond, 1), WEFT_ENOTOWNER);
    CO_CHECK_RC(weft_condition_notify_all(&c.cond), WEFT_ENOTOWNER);
    CO_CHECK_RC(weft_condition_wait_timeout(&c.cond, 0.01), WEFT_ENOTOWNER);
    CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_ENOTOWNER);
    atomic_store(&c.go, true);
    CO_CHECK(wait_done(a, 2));
    CO_CHECK(!weft_condition_locked(&c.cond));
    finish_waiters(&c);
    return NULL;
}

/* ---- Event ---------------------------------------------------------------- */

static void *event_waiter(void *p)
{
    waiter *w = p;
    int rc = weft_event_wait(&w->ctx->event);
    if (rc == WEFT_OK)
        log_add(w->ctx, w->id);
    waiter_done(w, rc);
    return NULL;
}

static void *log_self(void *p)
{
    waiter *w = p;
    log_add(w->ctx, w->id);
    waiter_done(w, WEFT_OK);
    return NULL;
}

/* asyncio Event 1 [test_locks.EventTests.test_clear, test_repr] */
CORO_TEST(event_set_clear_and_repr)
{
    (void)arg;
    char text[128];
    weft_event event = WEFT_EVENT_INIT;
    CO_CHECK(!weft_event_is_set(&event));
    CO_CHECK(strstr(REPR(weft_event_repr, &event, text), ": unset>"));
    CO_CHECK_RC(weft_event_set(&event), WEFT_OK);
    CO_CHECK(weft_event_is_set(&event));
    CO_CHECK(strstr(REPR(weft_event_repr, &event, text), ": set>"));
    CO_CHECK_RC(weft_event_clear(&event), WEFT_OK);
    CO_CHECK(!weft_event_is_set(&event));
    CO_CHECK_RC(weft_event_destroy(&event), WEFT_OK);
    return NULL;
}

/* asyncio Event 2 [test_locks.EventTests.test_wait_on_set] */
CORO_TEST(event_wait_on_a_set_event_does_not_suspend)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_event_set(&c.event), WEFT_OK);
    waiter *other = start_waiter(&c, 0, log_self); /* ready, not run yet */
    CO_CHECK_RC(weft_event_wait(&c.event), WEFT_OK);
    CO_CHECK_RC(weft_event_wait_timeout(&c.event, 10), WEFT_OK);
    CO_CHECK(!is_done(other)); /* nothing else ran: no suspension */
    finish_waiters(&c);
    return NULL;
}

/* asyncio Event 3 [test_locks.EventTests.test_wait] */
CORO_TEST(event_set_wakes_every_waiter_behind_the_ready_tasks)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    start_waiter(&c, 0, event_waiter);
    start_waiter(&c, 1, event_waiter);
    co_yield(2);
    CO_CHECK_INT(c.nlog, 0);
    start_waiter(&c, 2, log_self); /* created, not started */
    CO_CHECK_RC(weft_event_set(&c.event), WEFT_OK);
    co_yield(1);
    CO_CHECK_LOG(&c, 3, 1, 2);
    finish_waiters(&c);
    return NULL;
}

static void *event_waiter_twice(void *p)
{
    waiter *w = p;
    int rc = weft_event_wait(&w->ctx->event);
    if (rc == WEFT_OK) {
        log_add(w->ctx, w->id);
        rc = weft_event_wait(&w->ctx->event);
        if (rc == WEFT_OK)
            log_add(w->ctx, w->id);
    }
    waiter_done(w, rc);
    return NULL;
}

/* asyncio Event 4 [test_locks.EventTests.test_clear_with_waiters] */
CORO_TEST(event_set_then_clear_still_wakes_every_waiter_once)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, event_waiter);
    co_yield(3);
    CO_CHECK_RC(weft_event_set(&c.event), WEFT_OK);
    CO_CHECK_RC(weft_event_clear(&c.event), WEFT_OK);
    for (int i = 0; i < 3; i++) {
        CO_CHECK(wait_done(&c.w[i], 2));
        CO_CHECK_RC(atomic_load(&c.w[i].rc), WEFT_OK);
    }
    CO_CHECK(log_is_permutation(&c, 3));
    finish_waiters(&c);

    /* Two sets in a row wake a waiter once: its next wait blocks. */
    ctx_init(&c);
    waiter *w = start_waiter(&c, 0, event_waiter_twice);
    co_yield(3);
    CO_CHECK_RC(weft_event_set(&c.event), WEFT_OK);
    CO_CHECK_RC(weft_event_set(&c.event), WEFT_OK);
    CO_CHECK_RC(weft_event_clear(&c.event), WEFT_OK);
    wait_until(c.nlog == 1, 2);
    co_yield(5);
    CO_CHECK_INT(c.nlog, 1);
    CO_CHECK(!is_done(w));
    CO_CHECK_RC(weft_event_set(&c.event), WEFT_OK);
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_LOG(&c, 1, 1);
    finish_waiters(&c);
    return NULL;
}

/* asyncio Event 5 [test_locks.EventTests.test_wait_cancel] */
CORO_TEST(event_cancelled_wait_leaves_no_residue)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    waiter *w = start_waiter(&c, 0, event_waiter);
    co_yield(3);
    CO_CHECK_RC(weft_event_destroy(&c.event), WEFT_ESTATE); /* someone waits */
    CO_CHECK(weft_task_cancel(w->task, NULL));
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(atomic_load(&w->rc), WEFT_ECANCELLED);
    CO_CHECK_RC(co_finish(w->task, 2), WEFT_ECANCELLED);
    w->task = NULL;
    CO_CHECK_RC(weft_event_destroy(&c.event), WEFT_OK); /* nobody left waiting */
    CO_CHECK_INT(c.nlog, 0);
    finish_waiters(&c);
    return NULL;
}

/* ---- Condition ------------------------------------------------------------ */

/* acquire; wait once; log; release.  rc: the wait's status; rc2: the
 * release's (WEFT_OK shows the waiter held the lock on return). */
static void *cond_waiter(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    CO_CHECK_RC(weft_condition_acquire(&c->cond), WEFT_OK);
    int rc = weft_condition_wait(&c->cond);
    if (rc == WEFT_OK)
        log_add(c, w->id);
    atomic_store(&w->rc2, weft_condition_release(&c->cond));
    waiter_done(w, rc);
    return NULL;
}

/* A consumer of c->state: waits while it is 0, then takes one. */
static void *cond_consumer(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    int rc = WEFT_OK;
    CO_CHECK_RC(weft_condition_acquire(&c->cond), WEFT_OK);
    while (c->state == 0 && rc == WEFT_OK)
        rc = weft_condition_wait(&c->cond);
    if (rc == WEFT_OK) {
        c->state--;
        log_add(c, w->id);
    }
    atomic_store(&w->rc2, weft_condition_release(&c->cond));
    waiter_done(w, rc);
    return NULL;
}

/* asyncio Condition 1 [test_locks.ConditionTests.test_wait_unacquired,
 * test_notify_unacquired, test_notify_all_unacquired] */
CORO_TEST(condition_wait_and_notify_need_the_lock)
{
    (void)arg;
    weft_condition cond = WEFT_CONDITION_INIT;
    CO_CHECK_RC(weft_condition_wait(&cond), WEFT_ENOTOWNER);
    CO_CHECK_RC(weft_condition_wait_timeout(&cond, 0.01), WEFT_ENOTOWNER);
    CO_CHECK_RC(weft_condition_notify(&cond, 1), WEFT_ENOTOWNER);
    CO_CHECK_RC(weft_condition_notify_all(&cond), WEFT_ENOTOWNER);
    CO_CHECK(!weft_condition_locked(&cond));
    CO_CHECK_RC(weft_condition_destroy(&cond), WEFT_OK);
    return NULL;
}

/* asyncio Condition 2 [test_locks.ConditionTests.test_wait, test_notify,
 * test_notify_all] */
CORO_TEST(condition_notified_waiters_resume_after_release_oldest_first)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, cond_waiter);
    co_yield(3);
    CO_CHECK_RC(weft_condition_acquire(&c.cond), WEFT_OK);
    CO_CHECK_RC(weft_condition_notify(&c.cond, 1), WEFT_OK);
    co_yield(5);
    CO_CHECK_INT(c.nlog, 0); /* nobody resumes while the notifier holds it */
    CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_OK);
    wait_until(c.nlog == 1, 2);
    co_yield(5);
    CO_CHECK_LOG(&c, 1);
    CO_CHECK_RC(weft_condition_acquire(&c.cond), WEFT_OK);
    CO_CHECK_RC(weft_condition_notify(&c.cond, 1), WEFT_OK);
    CO_CHECK_RC(weft_condition_notify(&c.cond, 2048), WEFT_OK); /* more than wait */
    CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_OK);
    wait_until(c.nlog == 3, 2);
    CO_CHECK_LOG(&c, 1, 2, 3);
    for (int i = 0; i < 3; i++)
        CO_CHECK_RC(atomic_load(&c.w[i].rc2), WEFT_OK);
    finish_waiters(&c);

    ctx_init(&c);
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, cond_waiter);
    co_yield(3);
    CO_CHECK_RC(weft_condition_acquire(&c.cond), WEFT_OK);
    CO_CHECK_RC(weft_condition_notify_all(&c.cond), WEFT_OK);
    CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_OK);
    wait_until(c.nlog == 3, 2);
    CO_CHECK(log_is_permutation(&c, 3));
    finish_waiters(&c);
    return NULL;
}

static int state_at_least_two(void *arg) { return ((sync_ctx *)arg)->state >= 2; }

static void *cond_wait_for_two(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    CO_CHECK_RC(weft_condition_acquire(&c->cond), WEFT_OK);
    int rc = weft_condition_wait_for(&c->cond, state_at_least_two, c);
    if (rc == WEFT_OK)
        log_add(c, c->state);
    atomic_store(&w->rc2, weft_condition_release(&c->cond));
    waiter_done(w, rc);
    return NULL;
}

/* asyncio Condition 3 [test_locks.ConditionTests.test_wait_for,
 * test_wait_for_unacquired] */
CORO_TEST(condition_wait_for_rechecks_the_predicate)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    waiter *w = start_waiter(&c, 0, cond_wait_for_two);
    co_yield(3);
    for (int value = 1; value <= 2; value++) {
        CO_CHECK_RC(weft_condition_acquire(&c.cond), WEFT_OK);
        c.state = value;
        CO_CHECK_RC(weft_condition_notify(&c.cond, 1), WEFT_OK);
        CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_OK);
        co_yield(5);
        if (value == 1) {
            CO_CHECK(!is_done(w)); /* woken, predicate false: waits again */
            CO_CHECK_INT(c.nlog, 0);
        }
    }
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(atomic_load(&w->rc), WEFT_OK);
    CO_CHECK_LOG(&c, 2);
    /* Without the lock: a true predicate returns at once, a false one is
     * the unacquired-lock error. */
    CO_CHECK_RC(weft_condition_wait_for(&c.cond, state_at_least_two, &c), WEFT_OK);
    c.state = 0;
    CO_CHECK_RC(weft_condition_wait_for(&c.cond, state_at_least_two, &c), WEFT_ENOTOWNER);
    finish_waiters(&c);
    return NULL;
}

/* asyncio Condition 4 [test_locks.ConditionTests.test_wait_cancel] */
CORO_TEST(condition_cancelled_wait_returns_only_with_the_lock_held)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    waiter *w = start_waiter(&c, 0, cond_waiter);
    co_yield(3);
    CO_CHECK_RC(weft_condition_acquire(&c.cond), WEFT_OK);
    CO_CHECK(weft_task_cancel(w->task, NULL));
    weft_sleep(0.02);
    CO_CHECK(!is_done(w)); /* cancelled, but the lock is the main task's */
    CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_OK);
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(atomic_load(&w->rc), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&w->rc2), WEFT_OK); /* it held the lock */
    CO_CHECK(!weft_condition_locked(&c.cond));
    CO_CHECK_RC(co_finish(w->task, 2), WEFT_ECANCELLED);
    w->task = NULL;
    CO_CHECK_RC(weft_condition_destroy(&c.cond), WEFT_OK); /* no waiter left */
    finish_waiters(&c);
    return NULL;
}

/* asyncio Condition 5 [test_locks.ConditionTests.test_wait_cancel_contested,
 * test_wait_cancel_after_notify] */
CORO_TEST(condition_notified_then_cancelled_waiter_holds_the_lock_on_return)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    waiter *w = start_waiter(&c, 0, cond_waiter);
    co_yield(3);
    CO_CHECK_RC(weft_condition_acquire(&c.cond), WEFT_OK);
    CO_CHECK_RC(weft_condition_notify(&c.cond, 1), WEFT_OK);
    co_yield(3); /* the waiter now waits to retake the lock */
    CO_CHECK(weft_task_cancel(w->task, NULL));
    co_yield(3);
    CO_CHECK(!is_done(w));
    CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_OK);
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC2(atomic_load(&w->rc), WEFT_OK, WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&w->rc2), WEFT_OK);
    /* It never withdrew the request: the task ends cancelled either way. */
    CO_CHECK_RC(co_finish(w->task, 2), WEFT_ECANCELLED);
    w->task = NULL;
    CO_CHECK(!weft_condition_locked(&c.cond));
    finish_waiters(&c);
    return NULL;
}

/* asyncio Condition 6 [test_locks.ConditionTests.test_cancelled_wakeup,
 * test_cancelled_wakeup_relock] (gh-112202): both orders, in one step while
 * the notifier holds the lock. */
CORO_TEST(condition_notify_never_lost_to_a_cancelled_waiter)
{
    (void)arg;
    for (int cancel_first = 0; cancel_first <= 1; cancel_first++) {
        sync_ctx c;
        ctx_init(&c);
        waiter *w1 = start_waiter(&c, 0, cond_consumer);
        waiter *w2 = start_waiter(&c, 1, cond_consumer);
        co_yield(3);
        CO_CHECK_RC(weft_condition_acquire(&c.cond), WEFT_OK);
        c.state = 1;
        if (cancel_first)
            CO_CHECK(weft_task_cancel(w1->task, NULL));
        CO_CHECK_RC(weft_condition_notify(&c.cond, 1), WEFT_OK);
        if (!cancel_first)
            CO_CHECK(weft_task_cancel(w1->task, NULL));
        CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_OK);
        /* One of them consumes the state: W1 if it won the notification,
         * else W2, which the notification must reach. */
        wait_until(c.state == 0 && is_done(w1), 2);
        CO_CHECK_INT(c.state, 0);
        CO_CHECK_INT(c.nlog, 1);
        CO_CHECK(is_done(w1));
        if (cancel_first)
            CO_CHECK_RC(atomic_load(&w1->rc), WEFT_ECANCELLED);
        CO_CHECK_RC(atomic_load(&w1->rc2), WEFT_OK);
        if (atomic_load(&w1->rc) == WEFT_ECANCELLED) {
            CO_CHECK(wait_done(w2, 2));
            CO_CHECK_RC(atomic_load(&w2->rc), WEFT_OK);
        }
        finish_waiters(&c);
    }
    return NULL;
}

static void *cond_wait_for_forever(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    CO_CHECK_RC(weft_condition_acquire(&c->cond), WEFT_OK);
    int rc = weft_condition_wait_for(&c->cond, state_at_least_two, c);
    atomic_store(&w->rc2, weft_condition_release(&c->cond));
    waiter_done(w, rc);
    return NULL;
}

/* asyncio Condition 7 (C: the message reaches the task's future)
 * [test_locks.ConditionTests.test_cancelled_error_wakeup,
 * test_cancelled_error_re_aquire] */
CORO_TEST(condition_cancel_message_reaches_the_task)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    waiter *w = start_waiter(&c, 0, cond_wait_for_forever);
    co_yield(3);
    CO_CHECK(weft_task_cancel(w->task, "foo"));
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(atomic_load(&w->rc), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&w->rc2), WEFT_OK);
    CO_CHECK_RC(weft_future_result_timeout(w->task, 2, NULL), WEFT_ECANCELLED);
    CO_CHECK(weft_future_cancelled(w->task));
    CO_CHECK(strstr(weft_future_error_message(w->task), "foo"));
    finish_waiters(&c);
    return NULL;
}

static void *cond_lock_waiter(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    CO_CHECK_RC(weft_condition_acquire(&c->cond), WEFT_OK);
    CO_CHECK(weft_lock_locked(&c->lock));
    int rc = weft_condition_wait(&c->cond);
    CO_CHECK(weft_lock_locked(&c->lock));
    atomic_store(&w->rc2, weft_condition_release(&c->cond));
    waiter_done(w, rc);
    return NULL;
}

/* asyncio Condition 8 [test_locks.ConditionTests.test_explicit_lock,
 * test_context_manager] */
CORO_TEST(condition_over_a_given_lock_mirrors_it)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_condition_init_lock(&c.cond, &c.lock), WEFT_OK);
    CO_CHECK_RC(weft_condition_acquire(&c.cond), WEFT_OK);
    CO_CHECK(weft_lock_locked(&c.lock));
    CO_CHECK_RC(weft_condition_release(&c.cond), WEFT_OK);
    CO_CHECK(!weft_lock_locked(&c.lock));
    CO_CHECK_RC(weft_lock_acquire(&c.lock), WEFT_OK);
    CO_CHECK(weft_condition_locked(&c.cond));
    CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
    CO_CHECK(!weft_condition_locked(&c.cond));
#if WEFT_HAVE_WITH
    WEFT_WITH(&c.cond) {
        CO_CHECK(weft_lock_locked(&c.lock));
    }
    CO_CHECK(!weft_lock_locked(&c.lock));
#endif
    waiter *w = start_waiter(&c, 0, cond_lock_waiter);
    co_yield(3);
    CO_CHECK(!weft_lock_locked(&c.lock)); /* the wait released it */
    CO_CHECK_RC(weft_lock_acquire(&c.lock), WEFT_OK);
    CO_CHECK_RC(weft_condition_notify(&c.cond, 1), WEFT_OK);
    CO_CHECK_RC(weft_lock_release(&c.lock), WEFT_OK);
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(atomic_load(&w->rc), WEFT_OK);
    CO_CHECK_RC(atomic_load(&w->rc2), WEFT_OK);
    CO_CHECK(!weft_lock_locked(&c.lock));
    finish_waiters(&c);
    return NULL;
}

/* ---- Semaphore / BoundedSemaphore ------------------------------------------ */

/* Takes a permit and keeps it. */
static void *sem_keeper(void *p)
{
    waiter *w = p;
    int rc = weft_semaphore_acquire(&w->ctx->sem);
    if (rc == WEFT_OK)
        log_add(w->ctx, w->id);
    waiter_done(w, rc);
    return NULL;
}

/* Takes a permit, holds it across a suspension, gives it back. */
static void *sem_user(void *p)
{
    waiter *w = p;
    int rc = weft_semaphore_acquire(&w->ctx->sem);
    if (rc == WEFT_OK) {
        log_add(w->ctx, w->id);
        weft_sleep(0.001);
        atomic_store(&w->rc2, weft_semaphore_release(&w->ctx->sem));
    }
    waiter_done(w, rc);
    return NULL;
}

/* asyncio Semaphore 1 [test_locks.SemaphoreTests.test_semaphore_value,
 * test_initial_value_zero, test_repr] */
CORO_TEST(semaphore_initial_value_and_repr)
{
    (void)arg;
    char text[128];
    weft_semaphore sem;
    CO_CHECK_RC(weft_semaphore_init(&sem, -1), WEFT_EINVAL);
    CO_CHECK_RC(weft_semaphore_init_bounded(&sem, -1), WEFT_EINVAL);
    CO_CHECK_RC(weft_semaphore_init(&sem, 0), WEFT_OK);
    CO_CHECK_INT(weft_semaphore_value(&sem), 0);
    CO_CHECK_RC(weft_semaphore_try_acquire(&sem), WEFT_ETIMEDOUT);
    CO_CHECK_RC(weft_semaphore_init(&sem, 1), WEFT_OK);
    CO_CHECK(strstr(REPR(weft_semaphore_repr, &sem, text), "value=1"));
    CO_CHECK_RC(weft_semaphore_acquire(&sem), WEFT_OK);
    CO_CHECK(strstr(REPR(weft_semaphore_repr, &sem, text), "value=0"));
    CO_CHECK_RC(weft_semaphore_init_bounded(&sem, 3), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_acquire(&sem), WEFT_OK);
    CO_CHECK(strstr(REPR(weft_semaphore_repr, &sem, text), "value=2/3"));
    return NULL;
}

/* asyncio Semaphore 2 [test_locks.SemaphoreTests.test_acquire] */
CORO_TEST(semaphore_release_wakes_exactly_as_many_waiters)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_semaphore_init(&c.sem, 3), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_acquire(&c.sem), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_acquire(&c.sem), WEFT_OK);
    CO_CHECK_INT(weft_semaphore_value(&c.sem), 1);
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, sem_keeper);
    co_yield(5);
    CO_CHECK_INT(c.nlog, 1);
    CO_CHECK_INT(weft_semaphore_value(&c.sem), 0);
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    wait_until(c.nlog == 3, 2);
    co_yield(3);
    CO_CHECK(log_is_permutation(&c, 3));
    CO_CHECK_INT(weft_semaphore_value(&c.sem), 0);
    finish_waiters(&c);
    return NULL;
}

/* asyncio Semaphore 3 [test_locks.SemaphoreTests.test_release_not_acquired] */
CORO_TEST(semaphore_unbounded_grows_bounded_refuses_extra_release)
{
    (void)arg;
    weft_semaphore sem;
    CO_CHECK_RC(weft_semaphore_init(&sem, 0), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_release(&sem), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_release(&sem), WEFT_OK);
    CO_CHECK_INT(weft_semaphore_value(&sem), 2);
    CO_CHECK_RC(weft_semaphore_init_bounded(&sem, 1), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_release(&sem), WEFT_EINVAL);
    CO_CHECK_INT(weft_semaphore_value(&sem), 1);
    CO_CHECK_RC(weft_semaphore_acquire(&sem), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_release(&sem), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_release(&sem), WEFT_EINVAL);
    return NULL;
}

/* asyncio Semaphore 5 (the cancelled-first part; the order is in
 * docs/python.md) [test_locks.SemaphoreTests.test_acquire_fifo_order_3] */
CORO_TEST(semaphore_cancelled_first_waiter_leaves_the_permits_to_the_others)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, sem_keeper);
    co_yield(3);
    CO_CHECK(weft_task_cancel(c.w[0].task, NULL));
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    for (int i = 0; i < 3; i++)
        CO_CHECK(wait_done(&c.w[i], 2));
    CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&c.w[1].rc), WEFT_OK);
    CO_CHECK_RC(atomic_load(&c.w[2].rc), WEFT_OK);
    CO_CHECK_INT(weft_semaphore_value(&c.sem), 0);
    finish_waiters(&c);
    return NULL;
}

/* asyncio Semaphore 7 [test_locks.SemaphoreTests.test_acquire_cancel] */
CORO_TEST(semaphore_cancelled_acquire_leaves_no_waiter)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    waiter *w = start_waiter(&c, 0, sem_keeper);
    co_yield(3);
    CO_CHECK_RC(weft_semaphore_destroy(&c.sem), WEFT_ESTATE); /* someone waits */
    CO_CHECK(weft_task_cancel(w->task, NULL));
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(atomic_load(&w->rc), WEFT_ECANCELLED);
    CO_CHECK_RC(weft_semaphore_destroy(&c.sem), WEFT_OK);
    CO_CHECK_INT(weft_semaphore_value(&c.sem), 0);
    finish_waiters(&c);
    return NULL;
}

/* asyncio Semaphore 8 [test_locks.SemaphoreTests.test_acquire_cancel_before_awoken,
 * test_acquire_hang, test_acquire_no_hang] (gh-90155) */
CORO_TEST(semaphore_permit_is_never_lost_to_a_cancelled_waiter)
{
    (void)arg;
    /* Four waiters, the first two cancelled, one release: one of the two
     * others takes it and the last still waits. */
    sync_ctx c;
    ctx_init(&c);
    for (int i = 0; i < 4; i++)
        start_waiter(&c, i, sem_keeper);
    co_yield(3);
    CO_CHECK(weft_task_cancel(c.w[0].task, NULL));
    CO_CHECK(weft_task_cancel(c.w[1].task, NULL));
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    wait_until(c.nlog == 1 && is_done(&c.w[0]) && is_done(&c.w[1]), 2);
    co_yield(5);
    CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_ECANCELLED);
    CO_CHECK_RC(atomic_load(&c.w[1].rc), WEFT_ECANCELLED);
    CO_CHECK_INT(c.nlog, 1);
    CO_CHECK(c.nlog == 1 && (c.log[0] == 3 || c.log[0] == 4));
    CO_CHECK_INT(is_done(&c.w[2]) + is_done(&c.w[3]), 1);
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    CO_CHECK(wait_done(&c.w[2], 2));
    CO_CHECK(wait_done(&c.w[3], 2));
    CO_CHECK_INT(weft_semaphore_value(&c.sem), 0);
    finish_waiters(&c);

    /* A waiter woken by a release and cancelled before it runs: the
     * permit passes on, or it took the permit itself. */
    ctx_init(&c);
    start_waiter(&c, 0, sem_keeper);
    start_waiter(&c, 1, sem_keeper);
    co_yield(3);
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    CO_CHECK(weft_task_cancel(c.w[0].task, NULL));
    CO_CHECK(wait_done(&c.w[0], 2));
    if (atomic_load(&c.w[0].rc) == WEFT_ECANCELLED) {
        CO_CHECK(wait_done(&c.w[1], 2));
        CO_CHECK_RC(atomic_load(&c.w[1].rc), WEFT_OK);
    } else {
        CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_OK);
    }
    co_yield(3);
    CO_CHECK_INT(c.nlog, 1);
    CO_CHECK_INT(weft_semaphore_value(&c.sem), 0);
    finish_waiters(&c);

    /* The holder releases, then cancels the blocked task: the semaphore
     * is whole again. */
    ctx_init(&c);
    CO_CHECK_RC(weft_semaphore_init(&c.sem, 1), WEFT_OK);
    CO_CHECK_RC(weft_semaphore_acquire(&c.sem), WEFT_OK);
    waiter *w = start_waiter(&c, 0, sem_user);
    co_yield(3);
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    CO_CHECK(weft_task_cancel(w->task, NULL));
    CO_CHECK(wait_done(w, 2));
    CO_CHECK_RC(weft_semaphore_acquire_timeout(&c.sem, 1.0), WEFT_OK);
    CO_CHECK_INT(weft_semaphore_value(&c.sem), 0);
    CO_CHECK_RC(weft_semaphore_release(&c.sem), WEFT_OK);
    finish_waiters(&c);
    return NULL;
}

/* ---- Barrier -------------------------------------------------------------- */

static void *barrier_waiter(void *p)
{
    waiter *w = p;
    int rc = weft_barrier_wait(&w->ctx->barrier, &w->index);
    if (rc == WEFT_OK)
        log_add(w->ctx, w->id);
    waiter_done(w, rc);
    return NULL;
}

static void *barrier_waiter_twice(void *p)
{
    waiter *w = p;
    size_t second = 99;
    int rc = weft_barrier_wait(&w->ctx->barrier, &w->index);
    if (rc == WEFT_OK)
        rc = weft_barrier_wait(&w->ctx->barrier, &second);
    if (rc == WEFT_OK)
        log_add(w->ctx, w->id);
    CO_CHECK(rc != WEFT_OK || second < weft_barrier_parties(&w->ctx->barrier));
    waiter_done(w, rc);
    return NULL;
}

/* The indices of waiters [0, n) are 0..n-1 in some order. */
static bool indices_distinct(const sync_ctx *c, int n)
{
    unsigned seen = 0;
    for (int i = 0; i < n; i++) {
        if (c->w[i].index >= (size_t)n || (seen & (1u << c->w[i].index)))
            return false;
        seen |= 1u << c->w[i].index;
    }
    return true;
}

/* asyncio Barrier 1 [test_locks.BarrierTests.test_barrier_parties] */
CORO_TEST(barrier_needs_at_least_one_party)
{
    (void)arg;
    weft_barrier b;
    CO_CHECK_RC(weft_barrier_init(&b, 0, NULL, NULL, WEFT_FOREVER), WEFT_EINVAL);
    CO_CHECK_RC(weft_barrier_init(&b, -4, NULL, NULL, WEFT_FOREVER), WEFT_EINVAL);
    return NULL;
}

/* asyncio Barrier 2 [test_locks.BarrierTests.test_context_manager,
 * test_filling_tasks_wait_twice, test_filling_tasks_check_return_value,
 * test_filling_one_task, test_filling_one_task_twice] */
CORO_TEST(barrier_gives_each_task_its_own_index_and_is_reusable)
{
    (void)arg;
    enum { N = 5 };
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_barrier_init(&c.barrier, N, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    for (int i = 0; i < N; i++)
        start_waiter(&c, i, barrier_waiter_twice);
    for (int i = 0; i < N; i++) {
        CO_CHECK(wait_done(&c.w[i], 5));
        CO_CHECK_RC(atomic_load(&c.w[i].rc), WEFT_OK);
    }
    CO_CHECK(indices_distinct(&c, N));
    CO_CHECK_INT(c.nlog, N);
    CO_CHECK_INT(weft_barrier_n_waiting(&c.barrier), 0);
    CO_CHECK(!weft_barrier_broken(&c.barrier));
    CO_CHECK_RC(weft_barrier_destroy(&c.barrier), WEFT_OK);
    finish_waiters(&c);

    weft_barrier one;
    size_t index = 9;
    CO_CHECK_RC(weft_barrier_init(&one, 1, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    CO_CHECK_RC(weft_barrier_wait(&one, &index), WEFT_OK);
    CO_CHECK_INT(index, 0);
    CO_CHECK_RC(weft_barrier_wait(&one, &index), WEFT_OK);
    CO_CHECK_INT(index, 0);
    return NULL;
}

/* asyncio Barrier 3 (what weft shows of the states: n_waiting, broken,
 * repr) [test_locks.BarrierTests.test_repr, test_filling_task_by_task] */
CORO_TEST(barrier_counts_arrivals_while_filling)
{
    (void)arg;
    char text[128];
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_barrier_init(&c.barrier, 3, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    CO_CHECK_INT(weft_barrier_n_waiting(&c.barrier), 0);
    start_waiter(&c, 0, barrier_waiter);
    co_yield(2);
    CO_CHECK_INT(weft_barrier_n_waiting(&c.barrier), 1);
    start_waiter(&c, 1, barrier_waiter);
    co_yield(2);
    CO_CHECK_INT(weft_barrier_n_waiting(&c.barrier), 2);
    CO_CHECK(strstr(REPR(weft_barrier_repr, &c.barrier, text), "waiters=2/3"));
    start_waiter(&c, 2, barrier_waiter);
    for (int i = 0; i < 3; i++)
        CO_CHECK(wait_done(&c.w[i], 2));
    CO_CHECK_INT(weft_barrier_n_waiting(&c.barrier), 0);
    CO_CHECK(!weft_barrier_broken(&c.barrier));
    CO_CHECK_RC(weft_barrier_abort(&c.barrier), WEFT_OK);
    CO_CHECK(strstr(REPR(weft_barrier_repr, &c.barrier, text), "broken"));
    finish_waiters(&c);
    return NULL;
}

/* asyncio Barrier 4 [test_locks.BarrierTests.test_blocking_tasks_while_draining] */
CORO_TEST(barrier_arrivals_while_draining_wait_for_the_next_round)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_barrier_init(&c.barrier, 2, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    start_waiter(&c, 0, barrier_waiter);
    co_yield(2);
    /* In one step: the second party arrives (the round fills and drains)
     * and a third task is started, which arrives before the first one
     * has left. */
    start_waiter(&c, 1, barrier_waiter);
    start_waiter(&c, 2, barrier_waiter);
    wait_until(is_done(&c.w[0]) && is_done(&c.w[1]), 2);
    co_yield(5);
    CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_OK);
    CO_CHECK_RC(atomic_load(&c.w[1].rc), WEFT_OK);
    CO_CHECK(!is_done(&c.w[2])); /* the next round's first party */
    CO_CHECK_INT(weft_barrier_n_waiting(&c.barrier), 1);
    start_waiter(&c, 3, barrier_waiter);
    CO_CHECK(wait_done(&c.w[2], 2));
    CO_CHECK(wait_done(&c.w[3], 2));
    CO_CHECK_RC(atomic_load(&c.w[2].rc), WEFT_OK);
    CO_CHECK_RC(atomic_load(&c.w[3].rc), WEFT_OK);
    finish_waiters(&c);
    return NULL;
}

/* asyncio Barrier 5 [test_locks.BarrierTests.test_filling_tasks_cancel_one],
 * where weft keeps threading.Barrier's rule (docs/python.md, "Where weft's
 * objects keep threading's semantics"): a party that leaves a filling
 * round, cancelled as when timed out, breaks the barrier for the others,
 * and reset mends it. */
CORO_TEST(barrier_task_cancelled_while_filling_breaks_it_as_threading_does)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_barrier_init(&c.barrier, 3, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    start_waiter(&c, 0, barrier_waiter);
    start_waiter(&c, 1, barrier_waiter);
    co_yield(3);
    CO_CHECK_INT(weft_barrier_n_waiting(&c.barrier), 2);
    CO_CHECK(weft_task_cancel(c.w[0].task, NULL));
    CO_CHECK(wait_done(&c.w[0], 2));
    CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_ECANCELLED);
    CO_CHECK(wait_done(&c.w[1], 2));
    CO_CHECK_RC(atomic_load(&c.w[1].rc), WEFT_EBROKEN);
    CO_CHECK(weft_barrier_broken(&c.barrier));
    CO_CHECK_RC(weft_barrier_reset(&c.barrier), WEFT_OK);
    CO_CHECK(!weft_barrier_broken(&c.barrier));
    finish_waiters(&c);
    return NULL;
}

/* Arrives at the barrier, then resets it in the same step. */
static void *barrier_waiter_then_reset(void *p)
{
    waiter *w = p;
    int rc = weft_barrier_wait(&w->ctx->barrier, &w->index);
    CO_CHECK_RC(weft_barrier_reset(&w->ctx->barrier), WEFT_OK);
    waiter_done(w, rc);
    return NULL;
}

/* asyncio Barrier 6 [test_locks.BarrierTests.test_reset_barrier,
 * test_reset_barrier_while_tasks_waiting,
 * test_reset_barrier_when_tasks_half_draining,
 * test_reset_barrier_while_tasks_waiting_and_waiting_again] */
CORO_TEST(barrier_reset_breaks_the_waiters_lets_the_drainers_pass)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_barrier_init(&c.barrier, 3, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    CO_CHECK_RC(weft_barrier_reset(&c.barrier), WEFT_OK); /* nobody waits: harmless */
    CO_CHECK(!weft_barrier_broken(&c.barrier));
    start_waiter(&c, 0, barrier_waiter);
    start_waiter(&c, 1, barrier_waiter);
    co_yield(3);
    CO_CHECK_RC(weft_barrier_reset(&c.barrier), WEFT_OK);
    CO_CHECK(wait_done(&c.w[0], 2));
    CO_CHECK(wait_done(&c.w[1], 2));
    CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_EBROKEN);
    CO_CHECK_RC(atomic_load(&c.w[1].rc), WEFT_EBROKEN);
    CO_CHECK(!weft_barrier_broken(&c.barrier));
    CO_CHECK_INT(weft_barrier_n_waiting(&c.barrier), 0);
    finish_waiters(&c);
    /* Usable again. */
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, barrier_waiter);
    for (int i = 0; i < 3; i++) {
        CO_CHECK(wait_done(&c.w[i], 2));
        CO_CHECK_RC(atomic_load(&c.w[i].rc), WEFT_OK);
    }
    finish_waiters(&c);
    /* A reset while the round drains: those released still pass. */
    CO_CHECK_RC(weft_barrier_init(&c.barrier, 2, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    start_waiter(&c, 0, barrier_waiter);
    co_yield(2);
    start_waiter(&c, 1, barrier_waiter_then_reset);
    CO_CHECK(wait_done(&c.w[0], 2));
    CO_CHECK(wait_done(&c.w[1], 2));
    CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_OK);
    CO_CHECK_RC(atomic_load(&c.w[1].rc), WEFT_OK);
    CO_CHECK(!weft_barrier_broken(&c.barrier));
    finish_waiters(&c);
    return NULL;
}

/* asyncio Barrier 7 (not the mid-drain part: docs/python.md)
 * [test_locks.BarrierTests.test_abort_barrier] */
CORO_TEST(barrier_abort_breaks_current_and_future_waits_until_reset)
{
    (void)arg;
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_barrier_init(&c.barrier, 3, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    start_waiter(&c, 0, barrier_waiter);
    co_yield(2);
    CO_CHECK_RC(weft_barrier_abort(&c.barrier), WEFT_OK);
    CO_CHECK(wait_done(&c.w[0], 2));
    CO_CHECK_RC(atomic_load(&c.w[0].rc), WEFT_EBROKEN);
    CO_CHECK(weft_barrier_broken(&c.barrier));
    CO_CHECK_RC(weft_barrier_wait(&c.barrier, NULL), WEFT_EBROKEN);
    CO_CHECK_RC(weft_barrier_reset(&c.barrier), WEFT_OK);
    CO_CHECK(!weft_barrier_broken(&c.barrier));
    finish_waiters(&c);
    /* Usable again after the reset. */
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, barrier_waiter);
    for (int i = 0; i < 3; i++) {
        CO_CHECK(wait_done(&c.w[i], 2));
        CO_CHECK_RC(atomic_load(&c.w[i].rc), WEFT_OK);
    }
    finish_waiters(&c);
    return NULL;
}

/* Waits on the barrier; the task with index N/2 aborts it (C's form of
 * raising), then everyone meets on barrier2, one resets, and all pass the
 * first barrier again. */
static void *barrier_abort_then_reset_party(void *p)
{
    waiter *w = p;
    sync_ctx *c = w->ctx;
    size_t parties = weft_barrier_parties(&c->barrier);
    size_t index = 99, index2 = 99;
    int rc = WEFT_OK;
    if (w->id - 1 == (int)(parties / 2))
        CO_CHECK_RC(weft_barrier_abort(&c->barrier), WEFT_OK);
    else
        rc = weft_barrier_wait(&c->barrier, &index);
    atomic_store(&w->rc2, rc);
    CO_CHECK_RC(weft_barrier_wait(&c->barrier2, &index2), WEFT_OK);
    if (index2 == 0)
        CO_CHECK_RC(weft_barrier_reset(&c->barrier), WEFT_OK);
    CO_CHECK_RC(weft_barrier_wait(&c->barrier2, NULL), WEFT_OK);
    waiter_done(w, weft_barrier_wait(&c->barrier, &w->index));
    return NULL;
}

/* asyncio Barrier 8 [test_locks.BarrierTests.test_abort_barrier_when_exception,
 * test_abort_barrier_when_exception_then_resetting] */
CORO_TEST(barrier_one_party_aborting_breaks_the_rest_reset_mends_it)
{
    (void)arg;
    enum { N = 5 };
    sync_ctx c;
    ctx_init(&c);
    CO_CHECK_RC(weft_barrier_init(&c.barrier, N, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    CO_CHECK_RC(weft_barrier_init(&c.barrier2, N, NULL, NULL, WEFT_FOREVER), WEFT_OK);
    for (int i = 0; i < N; i++)
        start_waiter(&c, i, barrier_abort_then_reset_party);
    for (int i = 0; i < N; i++) {
        CO_CHECK(wait_done(&c.w[i], 5));
        CO_CHECK_RC(atomic_load(&c.w[i].rc), WEFT_OK);
        if (i != N / 2)
            CO_CHECK_RC(atomic_load(&c.w[i].rc2), WEFT_EBROKEN);
    }
    CO_CHECK(indices_distinct(&c, N));
    CO_CHECK(!weft_barrier_broken(&c.barrier));
    finish_waiters(&c);
    return NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lock_acquire_release_with_and_repr),
        cmocka_unit_test(lock_each_release_admits_exactly_one_waiter),
        cmocka_unit_test(lock_cancelled_acquire_leaves_no_residue),
        cmocka_unit_test(lock_waiter_cancelled_as_the_lock_is_released_passes_it_on),
        cmocka_unit_test(lock_woken_waiter_cancelled_before_it_runs_loses_nothing),
        cmocka_unit_test(lock_cancel_and_release_in_one_step_never_gives_two_holders),
        cmocka_unit_test(rlock_is_owned_by_the_task_not_by_its_thread),
        cmocka_unit_test(event_set_clear_and_repr),
        cmocka_unit_test(event_wait_on_a_set_event_does_not_suspend),
        cmocka_unit_test(event_set_wakes_every_waiter_behind_the_ready_tasks),
        cmocka_unit_test(event_set_then_clear_still_wakes_every_waiter_once),
        cmocka_unit_test(event_cancelled_wait_leaves_no_residue),
        cmocka_unit_test(condition_wait_and_notify_need_the_lock),
        cmocka_unit_test(condition_notified_waiters_resume_after_release_oldest_first),
        cmocka_unit_test(condition_wait_for_rechecks_the_predicate),
        cmocka_unit_test(condition_cancelled_wait_returns_only_with_the_lock_held),
        cmocka_unit_test(condition_notified_then_cancelled_waiter_holds_the_lock_on_return),
        cmocka_unit_test(condition_notify_never_lost_to_a_cancelled_waiter),
        cmocka_unit_test(condition_cancel_message_reaches_the_task),
        cmocka_unit_test(condition_over_a_given_lock_mirrors_it),
        cmocka_unit_test(semaphore_initial_value_and_repr),
        cmocka_unit_test(semaphore_release_wakes_exactly_as_many_waiters),
        cmocka_unit_test(semaphore_unbounded_grows_bounded_refuses_extra_release),
        cmocka_unit_test(semaphore_cancelled_first_waiter_leaves_the_permits_to_the_others),
        cmocka_unit_test(semaphore_cancelled_acquire_leaves_no_waiter),
        cmocka_unit_test(semaphore_permit_is_never_lost_to_a_cancelled_waiter),
        cmocka_unit_test(barrier_needs_at_least_one_party),
        cmocka_unit_test(barrier_gives_each_task_its_own_index_and_is_reusable),
        cmocka_unit_test(barrier_counts_arrivals_while_filling),
        cmocka_unit_test(barrier_arrivals_while_draining_wait_for_the_next_round),
        cmocka_unit_test(barrier_task_cancelled_while_filling_breaks_it_as_threading_does),
        cmocka_unit_test(barrier_reset_breaks_the_waiters_lets_the_drainers_pass),
        cmocka_unit_test(barrier_abort_breaks_current_and_future_waits_until_reset),
        cmocka_unit_test(barrier_one_party_aborting_breaks_the_rest_reset_mends_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
