/* SPDX-License-Identifier: MIT */
/* test_coro_stress.c — one object shared by many coroutines on two loops
 * (the test's thread and another running weft_run) and by plain threads:
 * a lock, an rlock, a semaphore, a bounded queue.  Each is hammered twice,
 * the second time with a thread cancelling random coroutines all along
 * (they withdraw the request and retry, as a task swallowing
 * CancelledError would); the invariants are checked at the end: counts,
 * sums, every item exactly once, the object back at rest (issue 16). */
#include "coro_harness.h"

enum {
    CORO_PER_LOOP = 16,
    THREADS = 2,
    WORKERS = 2 * CORO_PER_LOOP + THREADS,
    OPS = 2000,
    PRODUCERS = WORKERS / 2, /* the even workers; the odd ones consume */
};

typedef struct stress stress;

typedef struct stress_kind {
    const char *name;
    void (*init)(stress *);
    void (*work)(stress *, int worker);
    void (*coordinate)(stress *); /* loop 0's main, while the workers run */
    void (*check)(stress *);      /* the test's thread, at the end */
} stress_kind;

struct stress {
    const stress_kind *kind;
    bool cancelling;
    weft_lock lock;
    weft_rlock rlock;
    weft_semaphore sem;
    weft_queue *queue;
    long counter; /* guarded by the object under test */
    atomic_int in_cs;
    atomic_int max_in_cs;
    atomic_long ops;
    atomic_int seen[PRODUCERS * OPS + 1];
    atomic_llong sum_put, sum_got;
    atomic_int producers_done;
    atomic_long cancelled_calls;
    /* the started tasks the canceller picks from (references of their own) */
    pthread_mutex_t tasks_lock;
    weft_future *tasks[WORKERS];
    int ntasks;
    long requests[WORKERS];  /* cancellations asked of tasks[i] */
    long delivered[WORKERS]; /* its calls that returned WEFT_ECANCELLED */
    atomic_bool stop_cancelling;
    atomic_long cancels;
    weft_event start;           /* every worker waits for it, so all overlap */
    atomic_int finished[WORKERS]; /* which workers got through their work */
    atomic_int spawned;
};

/* ---- retrying what a cancellation interrupted ------------------------------ */

/* A call returned WEFT_ECANCELLED: count it against the task's requests
 * (each request is delivered once) and withdraw it. */
static void withdraw_cancellation(stress *s)
{
    weft_future *self = weft_current_task();
    if (self) {
        pthread_mutex_lock(&s->tasks_lock);
        for (int i = 0; i < s->ntasks; i++)
            if (s->tasks[i] == self)
                s->delivered[i]++;
        pthread_mutex_unlock(&s->tasks_lock);
        weft_task_uncancel(self);
    }
    atomic_fetch_add(&s->cancelled_calls, 1);
}

#define RETRYING(s, rc, call)                                                  \
    do {                                                                      \
        (rc) = (call);                                                        \
        if ((rc) == WEFT_ECANCELLED)                                          \
            withdraw_cancellation(s);                                         \
    } while ((rc) == WEFT_ECANCELLED)

static void yield_now(stress *s)
{
    if (weft_sleep(0) == WEFT_ECANCELLED)
        withdraw_cancellation(s);
}

static void enter(stress *s, int limit)
{
    int n = atomic_fetch_add(&s->in_cs, 1) + 1;
    int max = atomic_load(&s->max_in_cs);
    while (n > max && !atomic_compare_exchange_weak(&s->max_in_cs, &max, n)) {
    }
    CO_CHECK(n <= limit);
}

static void leave(stress *s) { atomic_fetch_sub(&s->in_cs, 1); }

/* ---- lock ------------------------------------------------------------------ */

static void lock_init(stress *s) { weft_lock_init(&s->lock); }

static void lock_work(stress *s, int worker)
{
    (void)worker;
    for (int i = 0; i < OPS; i++) {
        int rc;
        RETRYING(s, rc, weft_lock_acquire(&s->lock));
        CO_CHECK_RC(rc, WEFT_OK);
        enter(s, 1);
        long c = s->counter;
        if (i % 8 == 0)
            yield_now(s); /* suspended while holding it */
        s->counter = c + 1;
        leave(s);
        CO_CHECK_RC(weft_lock_release(&s->lock), WEFT_OK);
    }
}

static void lock_check(stress *s)
{
    if (s->counter != (long)WORKERS * OPS)
        fail_msg("counter %ld, expected %ld (at most %d holders at once)", s->counter,
                 (long)WORKERS * OPS, atomic_load(&s->max_in_cs));
    assert_int_equal(atomic_load(&s->max_in_cs), 1);
    assert_false(weft_lock_locked(&s->lock));
}

/* ---- rlock ------------------------------------------------------------------ */

static void rlock_init(stress *s) { weft_rlock_init(&s->rlock); }

static void rlock_work(stress *s, int worker)
{
    (void)worker;
    for (int i = 0; i < OPS; i++) {
        int rc;
        RETRYING(s, rc, weft_rlock_acquire(&s->rlock));
        CO_CHECK_RC(rc, WEFT_OK);
        RETRYING(s, rc, weft_rlock_acquire(&s->rlock)); /* nests: its own */
        CO_CHECK_RC(rc, WEFT_OK);
        enter(s, 1);
        CO_CHECK(weft_rlock_is_owned(&s->rlock));
        CO_CHECK_INT(weft_rlock_recursion_count(&s->rlock), 2);
        long c = s->counter;
        if (i % 8 == 0)
            yield_now(s);
        s->counter = c + 1;
        leave(s);
        CO_CHECK_RC(weft_rlock_release(&s->rlock), WEFT_OK);
        CO_CHECK_RC(weft_rlock_release(&s->rlock), WEFT_OK);
    }
}

static void rlock_check(stress *s)
{
    if (s->counter != (long)WORKERS * OPS)
        fail_msg("counter %ld, expected %ld (at most %d holders at once)", s->counter,
                 (long)WORKERS * OPS, atomic_load(&s->max_in_cs));
    assert_int_equal(atomic_load(&s->max_in_cs), 1);
    assert_false(weft_rlock_locked(&s->rlock));
}

/* ---- semaphore --------------------------------------------------------------- */

enum { PERMITS = 3 };

static void sem_init(stress *s) { weft_semaphore_init(&s->sem, PERMITS); }

static void sem_work(stress *s, int worker)
{
    (void)worker;
    for (int i = 0; i < OPS; i++) {
        int rc;
        RETRYING(s, rc, weft_semaphore_acquire(&s->sem));
        CO_CHECK_RC(rc, WEFT_OK);
        enter(s, PERMITS);
        atomic_fetch_add(&s->ops, 1);
        if (i % 4 == 0)
            yield_now(s);
        leave(s);
        CO_CHECK_RC(weft_semaphore_release(&s->sem), WEFT_OK);
    }
}

static void sem_check(stress *s)
{
    assert_int_equal(atomic_load(&s->ops), (long)WORKERS * OPS);
    assert_true(atomic_load(&s->max_in_cs) <= PERMITS);
    assert_int_equal(weft_semaphore_value(&s->sem), PERMITS);
    assert_int_equal(weft_semaphore_destroy(&s->sem), WEFT_OK);
}

/* ---- queue --------------------------------------------------------------------- */

static void queue_init(stress *s) { weft_queue_new(&s->queue, 8); }

static void queue_work(stress *s, int worker)
{
    int rc;
    if (worker % 2 == 0) {
        int first = worker / 2 * OPS + 1;
        for (int i = 0; i < OPS; i++) {
            RETRYING(s, rc, weft_queue_put(s->queue, ITEM(first + i)));
            CO_CHECK_RC(rc, WEFT_OK);
            atomic_fetch_add(&s->sum_put, first + i);
        }
        atomic_fetch_add(&s->producers_done, 1);
        return;
    }
    for (;;) {
        void *item = NULL;
        RETRYING(s, rc, weft_queue_get(s->queue, &item));
        if (!CO_CHECK_RC(rc, WEFT_OK))
            return;
        if (item == NULL) { /* the end */
            weft_queue_task_done(s->queue);
            return;
        }
        uintptr_t id = VALUE(item);
        if (CO_CHECK(id >= 1 && id <= PRODUCERS * OPS))
            atomic_fetch_add(&s->seen[id], 1);
        atomic_fetch_add(&s->sum_got, (long long)id);
        if (id % 16 == 0)
            yield_now(s);
        CO_CHECK_RC(weft_queue_task_done(s->queue), WEFT_OK);
    }
}

/* Once every producer is done and everything is processed, one end
 * marker per consumer. */
static void queue_coordinate(stress *s)
{
    wait_until(atomic_load(&s->producers_done) == PRODUCERS, 120);
    CO_CHECK_INT(atomic_load(&s->producers_done), PRODUCERS);
    CO_CHECK_RC(weft_queue_join_timeout(s->queue, 120), WEFT_OK);
    for (int i = 0; i < WORKERS - PRODUCERS; i++)
        CO_CHECK_RC(weft_queue_put(s->queue, NULL), WEFT_OK);
}

static void queue_check(stress *s)
{
    for (int id = 1; id <= PRODUCERS * OPS; id++)
        if (atomic_load(&s->seen[id]) != 1)
            fail_msg("item %d came out %d times", id, atomic_load(&s->seen[id]));
    assert_true(atomic_load(&s->sum_got) == atomic_load(&s->sum_put));
    assert_int_equal(weft_queue_unfinished_tasks(s->queue), 0);
    assert_true(weft_queue_empty(s->queue));
    assert_int_equal(weft_queue_free(s->queue), WEFT_OK);
    s->queue = NULL;
}

static const stress_kind kinds[] = {
    {"lock", lock_init, lock_work, NULL, lock_check},
    {"rlock", rlock_init, rlock_work, NULL, rlock_check},
    {"semaphore", sem_init, sem_work, NULL, sem_check},
    {"queue", queue_init, queue_work, queue_coordinate, queue_check},
};

/* ---- running it ---------------------------------------------------------------- */

typedef struct worker_arg {
    stress *s;
    int id;
} worker_arg;

static void *worker_body(void *p)
{
    worker_arg *w = p;
    int rc;
    /* Only tasks that have started are cancelled: one cancelled before it
     * ever ran would never run (as in asyncio), and its work would be lost
     * to the counts. */
    weft_future *self = weft_current_task();
    if (self) {
        pthread_mutex_lock(&w->s->tasks_lock);
        w->s->tasks[w->s->ntasks++] = weft_future_ref(self);
        pthread_mutex_unlock(&w->s->tasks_lock);
    }
    RETRYING(w->s, rc, weft_event_wait(&w->s->start));
    CO_CHECK_RC(rc, WEFT_OK);
    w->s->kind->work(w->s, w->id);
    atomic_fetch_add(&w->s->finished[w->id], 1);
    return NULL;
}

/* Which workers did not finish exactly once, for a failure's message. */
static void print_unfinished(stress *s)
{
    for (int i = 0; i < WORKERS; i++)
        if (atomic_load(&s->finished[i]) != 1)
            print_message("worker %d (%s) finished %d times\n", i,
                          i < CORO_PER_LOOP       ? "a coroutine of loop 0"
                          : i < 2 * CORO_PER_LOOP ? "a coroutine of loop 1"
                                                  : "a thread",
                          atomic_load(&s->finished[i]));
}

static void *canceller(void *p)
{
    stress *s = p;
    unsigned seed = 12345;
    while (!atomic_load(&s->stop_cancelling)) {
        pthread_mutex_lock(&s->tasks_lock);
        if (s->ntasks > 0) {
            seed = seed * 1103515245u + 12345u;
            unsigned i = (seed >> 8) % (unsigned)s->ntasks;
            if (weft_task_cancel(s->tasks[i], NULL)) {
                atomic_fetch_add(&s->cancels, 1);
                s->requests[i]++;
            }
        }
        pthread_mutex_unlock(&s->tasks_lock);
        nap(0.0002);
    }
    return NULL;
}

typedef struct loop_arg {
    stress *s;
    int loop;
} loop_arg;

static void *stress_loop_main(void *p)
{
    loop_arg *a = p;
    stress *s = a->s;
    worker_arg args[CORO_PER_LOOP];
    weft_future *mine[CORO_PER_LOOP];
    for (int k = 0; k < CORO_PER_LOOP; k++) {
        args[k] = (worker_arg){s, a->loop * CORO_PER_LOOP + k};
        mine[k] = co_spawn(worker_body, &args[k]);
        atomic_fetch_add(&s->spawned, 1);
    }
    loop_thread other;
    worker_arg thread_args[THREADS];
    weft_thread *threads[THREADS];
    weft_thread *cancelling = NULL;
    memset(&other, 0, sizeof other);
    memset(threads, 0, sizeof threads);
    loop_arg other_arg = {s, 1};
    if (a->loop == 0) {
        start_loop_thread(&other, stress_loop_main, &other_arg);
        for (int t = 0; t < THREADS; t++) {
            thread_args[t] = (worker_arg){s, 2 * CORO_PER_LOOP + t};
            threads[t] = start_thread(worker_body, &thread_args[t]);
        }
        if (s->cancelling)
            cancelling = start_thread(canceller, s);
        /* Every worker task has spawned before all start. */
        wait_until(atomic_load(&s->spawned) == 2 * CORO_PER_LOOP, 30);
        CO_CHECK_INT(atomic_load(&s->spawned), 2 * CORO_PER_LOOP);
        CO_CHECK_RC(weft_event_set(&s->start), WEFT_OK);
        if (s->kind->coordinate)
            s->kind->coordinate(s);
    }
    for (int k = 0; k < CORO_PER_LOOP; k++) {
        CO_CHECK(weft_future_result_timeout(mine[k], 120, NULL) != WEFT_ETIMEDOUT);
        weft_future_release(mine[k]);
    }
    if (a->loop == 0) {
        for (int t = 0; t < THREADS; t++)
            join_thread(threads[t]);
        join_loop_thread(&other);
        atomic_store(&s->stop_cancelling, true);
        if (cancelling)
            join_thread(cancelling);
    }
    return NULL;
}

static void run_stress(const stress_kind *kind, bool cancelling)
{
    stress *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->kind = kind;
    s->cancelling = cancelling;
    pthread_mutex_init(&s->tasks_lock, NULL);
    kind->init(s);
    weft_event_init(&s->start);
    loop_arg a = {s, 0};
    co_set_context("%s%s", kind->name, cancelling ? ", with cancellations" : "");
    double t0 = weft_monotonic();
    run_coro(stress_loop_main, &a);
    print_unfinished(s);
    kind->check(s);
    print_message("%s%s: %.2f s, %ld cancels, %ld calls cancelled\n", kind->name,
                  cancelling ? " with cancellations" : "", weft_monotonic() - t0,
                  atomic_load(&s->cancels), atomic_load(&s->cancelled_calls));
    if (cancelling)
        assert_true(atomic_load(&s->cancels) > 0);
    /* "Once per request" (coro.h): never more cancelled calls than requests. */
    for (int i = 0; i < s->ntasks; i++)
        if (s->delivered[i] > s->requests[i])
            fail_msg("task %d: %ld calls returned WEFT_ECANCELLED for %ld requests", i,
                     s->delivered[i], s->requests[i]);
    co_set_context(NULL);
    for (int i = 0; i < s->ntasks; i++)
        weft_future_release(s->tasks[i]);
    pthread_mutex_destroy(&s->tasks_lock);
    free(s);
}

/* Issue 16: stress tests for objects shared by threads and coroutines. */
static void stress_lock(void **state)
{
    (void)state;
    run_stress(&kinds[0], false);
    run_stress(&kinds[0], true);
}

static void stress_rlock(void **state)
{
    (void)state;
    run_stress(&kinds[1], false);
    run_stress(&kinds[1], true);
}

static void stress_semaphore(void **state)
{
    (void)state;
    run_stress(&kinds[2], false);
    run_stress(&kinds[2], true);
}

static void stress_queue(void **state)
{
    (void)state;
    run_stress(&kinds[3], false);
    run_stress(&kinds[3], true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stress_lock),
        cmocka_unit_test(stress_rlock),
        cmocka_unit_test(stress_semaphore),
        cmocka_unit_test(stress_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
