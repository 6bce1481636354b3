/* SPDX-License-Identifier: MIT */
/* bench_queue.c — BENCH.md W3, queue hand-off: producers put N items into a
 * queue of capacity 1024 with blocking put/get, consumers take them; ns per
 * item.  weft_queue against the classic pthread mutex + two condition
 * variables ring, side by side in one run (median of interleaved runs after
 * a warm-up, [min..max]).  Each run checks that every item arrived once:
 * the sum of what the consumers took must equal the sum of what was put.
 *
 * Usage: bench_queue [--quick] [--scale N] [--reps N] [--csv FILE]
 */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>

#include "bench_util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAPACITY 1024

/* ---- the peer: a pthread mutex + condition variable ring ------------------ */

struct ring {
    pthread_mutex_t mutex;
    pthread_cond_t not_empty, not_full;
    void *slots[CAPACITY];
    size_t head, count;
};

static void ring_put(struct ring *r, void *item)
{
    pthread_mutex_lock(&r->mutex);
    while (r->count == CAPACITY)
        pthread_cond_wait(&r->not_full, &r->mutex);
    r->slots[(r->head + r->count++) % CAPACITY] = item;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->mutex);
}

static void *ring_get(struct ring *r)
{
    pthread_mutex_lock(&r->mutex);
    while (r->count == 0)
        pthread_cond_wait(&r->not_empty, &r->mutex);
    void *item = r->slots[r->head];
    r->head = (r->head + 1) % CAPACITY;
    r->count--;
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->mutex);
    return item;
}

/* ---- one run ------------------------------------------------------------------ */

struct run {
    bool use_weft;
    weft_queue *queue;
    struct ring *ring;
    long per_producer;
    long per_consumer;
    _Atomic uint64_t taken_sum;
};

static void *producer(void *arg)
{
    struct run *r = arg;
    for (long i = 1; i <= r->per_producer; i++) {
        if (r->use_weft)
            weft_queue_put(r->queue, (void *)(uintptr_t)i);
        else
            ring_put(r->ring, (void *)(uintptr_t)i);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct run *r = arg;
    uint64_t sum = 0;
    for (long i = 0; i < r->per_consumer; i++) {
        void *item = NULL;
        if (r->use_weft)
            weft_queue_get(r->queue, &item);
        else
            item = ring_get(r->ring);
        sum += (uintptr_t)item;
    }
    atomic_fetch_add(&r->taken_sum, sum);
    return NULL;
}

static double run_pairs(bool use_weft, int pairs, long items)
{
    struct run r = {.use_weft = use_weft, .per_producer = items / pairs,
                    .per_consumer = items / pairs};
    struct ring *ring = NULL;
    if (use_weft) {
        weft_queue_new(&r.queue, CAPACITY);
    } else {
        ring = calloc(1, sizeof *ring);
        pthread_mutex_init(&ring->mutex, NULL);
        pthread_cond_init(&ring->not_empty, NULL);
        pthread_cond_init(&ring->not_full, NULL);
        r.ring = ring;
    }
    pthread_t threads[8];
    double t0 = weft_perf_counter();
    for (int i = 0; i < pairs; i++) {
        pthread_create(&threads[2 * i], NULL, consumer, &r);
        pthread_create(&threads[2 * i + 1], NULL, producer, &r);
    }
    for (int i = 0; i < 2 * pairs; i++)
        pthread_join(threads[i], NULL);
    double dt = weft_perf_counter() - t0;
    uint64_t n = (uint64_t)r.per_producer;
    if (atomic_load(&r.taken_sum) != (uint64_t)pairs * n * (n + 1) / 2) {
        fprintf(stderr, "W3: items lost or duplicated\n");
        exit(1);
    }
    if (use_weft) {
        weft_queue_free(r.queue);
    } else {
        pthread_mutex_destroy(&ring->mutex);
        pthread_cond_destroy(&ring->not_empty);
        pthread_cond_destroy(&ring->not_full);
        free(ring);
    }
    return dt * 1e9 / (double)(n * (uint64_t)pairs);
}

/* ---- driver ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct bench_args args;
    if (bench_parse(argc, argv, 9, 20, &args))
        return 2;
    long items = 2000000 / args.scale;
    printf("W3 queue hand-off, capacity %d, blocking put/get, ns per item: "
           "median of %d [min..max]\n", CAPACITY, args.reps);
    printf("%-10s %24s %24s %s\n", "", "weft_queue", "pthread mutex+cond ring", "weft/peer");
    for (int pairs = 1; pairs <= 2; pairs++) {
        double w[BENCH_MAX_REPS], p[BENCH_MAX_REPS];
        run_pairs(true, pairs, items / 4);
        run_pairs(false, pairs, items / 4);
        for (int i = 0; i < args.reps; i++) { /* interleaved: drift hits both */
            w[i] = run_pairs(true, pairs, items);
            p[i] = run_pairs(false, pairs, items);
        }
        struct bench_figure fw = bench_summarize(w, args.reps), fp = bench_summarize(p, args.reps);
        char wt[48], pt[48], label[16];
        snprintf(label, sizeof label, "W3 %dP/%dC", pairs, pairs);
        printf("%-10s %24s %24s %.2f\n", label + 3, bench_text(fw, wt, sizeof wt),
               bench_text(fp, pt, sizeof pt), fw.median / fp.median);
        bench_csv(&args, label, "weft", fw);
        bench_csv(&args, label, "pthread mutex+cond ring", fp);
    }
    bench_done(&args);
    return 0;
}
