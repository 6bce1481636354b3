/* SPDX-License-Identifier: MIT */
/* w3_ck.c — docs/benchmarks.md W3 peer: a lock-free bounded MPMC ring, Concurrency
 * Kit's ck_ring (Debian libck-dev), 1024 slots, 1P/1C and 2P/2C (and NP/NC
 * for --threads N above 2: w3_rows.h), ns per item, the consumers' checksum
 * verified.  CSV rows through bench_peer_row.
 *
 * ck_ring only has try-operations: enqueue fails when the ring is full,
 * dequeue when it is empty, and what a thread does then is its user's
 * choice.  Two rows show the two ways ck's users wait (ck_ring_*_mpmc in
 * both, the variant for any number of producers and consumers):
 *
 * - "spin then yield": retry with ck_pr_stall() (the pause instruction) a
 *   bounded number of times — the hand-off is usually a few hundred ns
 *   away — then sched_yield() before each further retry, so a waiter never
 *   spins for ever on a CPU its peer needs (an oversubscribed or busy
 *   machine).  It still never sleeps: the CPU column shows what that costs.
 * - "+ ck_ec": ck's own blocking companion for lock-free structures, the
 *   event count (ck_ec.h, "lets us integrate OS-level blocking (e.g.,
 *   futexes) in lock-free protocols").  One event count counts items put,
 *   one counts slots freed; a waiter snapshots the count, retries the ring,
 *   then waits for the count to move: ck_ec spins ~100 iterations, then
 *   futex-waits.  Every put and get pays an increment of an event count
 *   (a plain one when there is one producer per count, ck_ec's single-
 *   producer mode; atomic otherwise) and a futex wake only when a waiter
 *   flagged itself.  ck_ec needs the OS primitives from its user: the futex
 *   calls below.
 *
 * ck_ring keeps one slot free to tell full from empty, so 1024 slots hold
 * 1023 items.
 *
 * Not run: the NP/NC row (--threads N above 2) when N producers outnumber
 * the CPUs.  ck_ring's multi-producer enqueue publishes slots in the order
 * they were reserved, spinning inside ck_ring (no way to yield) until the
 * producer before it has published; with more producers than CPUs that one
 * is often preempted, and every item waits for a scheduler time slice
 * (measured here: 8P/8C on 2 CPUs moved ~400 items in 30 s).  2P/2C, docs/benchmarks.md's
 * shape, always runs. */
#define _GNU_SOURCE
#include "w3_rows.h"

#include <ck_ec.h>
#include <ck_pr.h>
#include <ck_ring.h>

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 1024
#define SPINS 256 /* pause instructions before a waiter starts yielding */

/* ---- the OS side of ck_ec: monotonic time and futexes ----------------------- */

static int ec_gettime(const struct ck_ec_ops *ops, struct timespec *out)
{
    (void)ops;
    return clock_gettime(CLOCK_MONOTONIC, out);
}

/* Wait while *address == expected, until the absolute CLOCK_MONOTONIC
 * deadline (none when NULL); may return early, as ck_ec allows. */
static void ec_wait32(const struct ck_ec_wait_state *state, const uint32_t *address,
                      uint32_t expected, const struct timespec *deadline)
{
    (void)state;
    syscall(SYS_futex, address, FUTEX_WAIT_BITSET_PRIVATE, expected, deadline, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

static void ec_wake32(const struct ck_ec_ops *ops, const uint32_t *address)
{
    (void)ops;
    syscall(SYS_futex, address, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static void ec_wait64(const struct ck_ec_wait_state *state, const uint64_t *address,
                      uint64_t expected, const struct timespec *deadline)
{
    /* the low half on little-endian x86-64, as ck_ec.h describes */
    ec_wait32(state, (const uint32_t *)(const void *)address, (uint32_t)expected, deadline);
}

static void ec_wake64(const struct ck_ec_ops *ops, const uint64_t *address)
{
    ec_wake32(ops, (const uint32_t *)(const void *)address);
}

static const struct ck_ec_ops ec_ops = {
    .gettime = ec_gettime,
    .wait32 = ec_wait32,
    .wait64 = ec_wait64,
    .wake32 = ec_wake32,
    .wake64 = ec_wake64,
};

/* ---- one run ------------------------------------------------------------------ */

struct run {
    ck_ring_t ring;
    ck_ring_buffer_t slots[SLOTS];
    bool blocking;          /* wait on the event counts (else spin then yield) */
    struct ck_ec_mode mode; /* single-producer when each count has one incrementer */
    ck_ec32_t items_put, slots_freed;
    long per;
    uint64_t total;
};

static void spin_or_yield(unsigned *tries)
{
    if (++*tries < SPINS)
        ck_pr_stall();
    else
        sched_yield();
}

static void put(struct run *r, uintptr_t v)
{
    unsigned tries = 0;
    for (;;) {
        uint32_t seen = r->blocking ? ck_ec32_value(&r->slots_freed) : 0;
        if (ck_ring_enqueue_mpmc(&r->ring, r->slots, (void *)v))
            break;
        if (r->blocking)
            ck_ec32_wait(&r->slots_freed, &r->mode, seen, NULL);
        else
            spin_or_yield(&tries);
    }
    if (r->blocking)
        ck_ec32_inc(&r->items_put, &r->mode);
}

static uintptr_t get(struct run *r)
{
    unsigned tries = 0;
    void *v;
    for (;;) {
        uint32_t seen = r->blocking ? ck_ec32_value(&r->items_put) : 0;
        if (ck_ring_dequeue_mpmc(&r->ring, r->slots, &v))
            break;
        if (r->blocking)
            ck_ec32_wait(&r->items_put, &r->mode, seen, NULL);
        else
            spin_or_yield(&tries);
    }
    if (r->blocking)
        ck_ec32_inc(&r->slots_freed, &r->mode);
    return (uintptr_t)v;
}

static void *producer(void *arg)
{
    struct run *r = arg;
    for (long i = 1; i <= r->per; i++)
        put(r, (uintptr_t)i);
    return NULL;
}

static void *consumer(void *arg)
{
    struct run *r = arg;
    uint64_t sum = 0;
    for (long i = 0; i < r->per; i++)
        sum += get(r);
    ck_pr_add_64(&r->total, sum);
    return NULL;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double run(int pairs, long items, bool blocking)
{
    struct run *r = calloc(1, sizeof *r);
    pthread_t *threads = calloc((size_t)(2 * pairs), sizeof *threads);
    if (!r || !threads) {
        fprintf(stderr, "W3 ck: out of memory\n");
        exit(1);
    }
    ck_ring_init(&r->ring, SLOTS);
    r->blocking = blocking;
    r->mode = (struct ck_ec_mode){.ops = &ec_ops, .single_producer = pairs == 1};
    ck_ec32_init(&r->items_put, 0);
    ck_ec32_init(&r->slots_freed, 0);
    r->per = items >= pairs ? items / pairs : 1;
    double t0 = seconds();
    for (int i = 0; i < pairs; i++)
        if (pthread_create(&threads[2 * i], NULL, consumer, r) ||
            pthread_create(&threads[2 * i + 1], NULL, producer, r)) {
            fprintf(stderr, "W3 ck: pthread_create failed\n");
            exit(1);
        }
    for (int i = 0; i < 2 * pairs; i++)
        pthread_join(threads[i], NULL);
    double dt = seconds() - t0;
    if (r->total != w3_expected(pairs, r->per) || ck_ring_size(&r->ring) != 0) {
        fprintf(stderr, "W3 ck: items lost\n");
        exit(1);
    }
    double ns = dt * 1e9 / (double)(r->per * pairs);
    free(threads);
    free(r);
    return ns;
}

static double spinning(int pairs, long items) { return run(pairs, items, false); }
static double blocking(int pairs, long items) { return run(pairs, items, true); }

int main(int argc, char **argv)
{
    long items = 2000000;
    int reps = 9;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    w3_max_pairs = cpus > 0 ? (int)cpus : 1;
    w3_why_not = "more producers than CPUs: ck_ring's in-order publish stalls on a preempted "
                 "producer";
    w3_rows("ck_ring MPMC (spin then yield)", spinning, items, reps);
    w3_rows("ck_ring MPMC + ck_ec (blocking)", blocking, items, reps);
    return 0;
}
