/* SPDX-License-Identifier: MIT */
/* synchronization.c — the guides' synchronization primitives, one small
 * program each: a bank account behind a lock, an RLock taken again by
 * nested calls, a semaphore letting 3 of 6 workers in at once, an event
 * that starts everyone together, and a condition for producer/consumer.
 *
 * Usage: synchronization [seconds-per-step]   (default 0.1)
 */
#include <weft.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static double step = 0.1;

/* A weft call that failed: say which and why, and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

/* Start fn(arg) on a new thread: WEFT_OK and *t set, or why not. */
static int spawn(weft_thread **t, weft_thread_fn fn, void *arg)
{
    int rc = weft_thread_new(t, fn, arg, NULL);
    if (rc == WEFT_OK && (rc = weft_thread_start(*t)) != WEFT_OK)
        weft_thread_free(*t);
    return rc;
}

static void join(weft_thread *t)
{
    check(weft_thread_join(t, NULL), "weft_thread_join");
    weft_thread_free(t);
}

static void run_threads(int n, weft_thread_fn fn, void *arg)
{
    weft_thread *threads[16];
    for (int i = 0; i < n; i++)
        check(spawn(&threads[i], fn, arg), "starting a thread");
    for (int i = 0; i < n; i++)
        join(threads[i]);
}

/* ---- a bank account: a lock around each read-modify-write ------------------ */

typedef struct account {
    weft_rlock lock; /* an RLock: transfer takes it, then deposit takes it again */
    long balance;
} account;

static void deposit(account *a, long amount)
{
    WEFT_WITH(&a->lock) { a->balance += amount; }
}

static int withdraw(account *a, long amount)
{
    int ok = 0;
    WEFT_WITH(&a->lock) {
        if (a->balance >= amount) {
            a->balance -= amount;
            ok = 1;
        }
    }
    return ok;
}

static account checking = {WEFT_RLOCK_INIT, 0}, savings = {WEFT_RLOCK_INIT, 0};

/* Moves between the two accounts, always locking checking first (the same
 * order everywhere: no deadlock), and calling withdraw/deposit, which take
 * the locks again: with a plain Lock this would deadlock on itself. */
static void transfer_to_savings(long amount)
{
    WEFT_WITH(&checking.lock) {
        WEFT_WITH(&savings.lock) {
            if (withdraw(&checking, amount))
                deposit(&savings, amount);
        }
    }
}

static void *bank_customer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        deposit(&checking, 3);
        transfer_to_savings(1);
    }
    return NULL;
}

/* ---- a semaphore: at most 3 of 6 workers at once ---------------------------- */

static weft_semaphore pool_slots = WEFT_BOUNDED_SEMAPHORE_INIT(3);
static _Atomic int inside, most_inside;

static void *limited_worker(void *arg)
{
    (void)arg;
    WEFT_WITH(&pool_slots) {
        int now = atomic_fetch_add(&inside, 1) + 1;
        int seen = atomic_load(&most_inside);
        while (now > seen && !atomic_compare_exchange_weak(&most_inside, &seen, now)) {
        }
        weft_sleep(step);
        atomic_fetch_sub(&inside, 1);
    }
    return NULL;
}

/* ---- an event: everyone waits for the starting signal ------------------------ */

static weft_event start_signal = WEFT_EVENT_INIT;
static _Atomic int started_early, started;

static void *runner(void *arg)
{
    (void)arg;
    if (weft_event_is_set(&start_signal))
        atomic_fetch_add(&started_early, 1);
    weft_event_wait(&start_signal);
    atomic_fetch_add(&started, 1);
    return NULL;
}

/* ---- a condition: producer and consumer of a 4-slot buffer ------------------- */

#define SLOTS 4
#define ITEMS 100
static weft_condition changed = WEFT_CONDITION_INIT;
static int buffer[SLOTS], head, count;

static int has_room(void *arg) { return (void)arg, count < SLOTS; }
static int has_item(void *arg) { return (void)arg, count > 0; }

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= ITEMS; i++) {
        WEFT_WITH(&changed) {
            weft_condition_wait_for(&changed, has_room, NULL);
            buffer[(head + count++) % SLOTS] = i;
            weft_condition_notify_all(&changed);
        }
    }
    return NULL;
}

static void *consumer(void *arg)
{
    long *sum = arg;
    for (int i = 0; i < ITEMS; i++) {
        WEFT_WITH(&changed) {
            weft_condition_wait_for(&changed, has_item, NULL);
            *sum += buffer[head];
            head = (head + 1) % SLOTS;
            count--;
            weft_condition_notify_all(&changed);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        step = atof(argv[1]);
    if (!(step > 0 && step < 10)) {
        fprintf(stderr, "usage: %s [seconds-per-step, 0..10]\n", argv[0]);
        return 2;
    }

    run_threads(8, bank_customer, NULL);
    printf("bank: checking %ld + savings %ld = %ld (8 customers x 1000 x 3 = 24000)\n",
           checking.balance, savings.balance, checking.balance + savings.balance);

    double t0 = weft_perf_counter();
    run_threads(6, limited_worker, NULL);
    printf("semaphore: 6 workers, at most %d inside at once, %.1f steps\n",
           atomic_load(&most_inside), (weft_perf_counter() - t0) / step);

    weft_thread *runners[5];
    for (int i = 0; i < 5; i++) {
        int rc = spawn(&runners[i], runner, NULL);
        if (rc != WEFT_OK) {
            weft_event_set(&start_signal); /* or those started wait forever, and exit joins them */
            check(rc, "starting a runner");
        }
    }
    weft_sleep(step);
    int before = atomic_load(&started);
    weft_event_set(&start_signal); /* go! */
    for (int i = 0; i < 5; i++)
        join(runners[i]);
    printf("event: %d started before the signal, %d after it\n", before + started_early,
           atomic_load(&started));

    long sum = 0;
    weft_thread *p, *c;
    check(spawn(&c, consumer, &sum), "starting the consumer");
    int rc = spawn(&p, producer, NULL);
    if (rc != WEFT_OK) {
        producer(NULL); /* or the consumer waits forever for its items, and exit joins it */
        check(rc, "starting the producer");
    }
    join(p);
    join(c);
    printf("condition: consumed %d items through %d slots, sum %ld (expected %d)\n", ITEMS,
           SLOTS, sum, ITEMS * (ITEMS + 1) / 2);
    return 0;
}
