/* SPDX-License-Identifier: MIT */
/* bench_queue.c — docs/benchmarks.md W3, queue hand-off: producers put N items into a
 * queue of capacity 1024 with blocking put/get, consumers take them; ns per
 * item.  weft_queue against the classic pthread mutex + two condition
 * variables ring, side by side in one run (median of interleaved runs after
 * a warm-up, [min..max]).  Each run checks that every item arrived once:
 * the sum of what the consumers took must equal the sum of what was put.
 * Each row also carries the process's CPU time per item over the timed
 * runs; weft and the ring take turns going first (ABBA).
 *
 * The rows every W3 peer prints (bench/peers/w3_rows.h): docs/benchmarks.md's 1
 * producer / 1 consumer and 2P/2C, and, with --threads N above 2, N
 * producers / N consumers ("W3 NP/NC").
 *
 * Usage: bench_queue [--quick] [--scale N] [--reps N] [--threads N] [--csv FILE]
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
    pthread_t *threads = malloc(2 * (size_t)pairs * sizeof *threads);
    if (!threads)
        abort();
    double t0 = weft_perf_counter();
    for (int i = 0; i < pairs; i++) {
        if (pthread_create(&threads[2 * i], NULL, consumer, &r) ||
            pthread_create(&threads[2 * i + 1], NULL, producer, &r)) {
            fprintf(stderr, "W3: cannot create threads\n");
            exit(1);
        }
    }
    for (int i = 0; i < 2 * pairs; i++)
        pthread_join(threads[i], NULL);
    double dt = weft_perf_counter() - t0;
    free(threads);
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
           "median of %d [min..max], CPU ns per item\n", CAPACITY, args.reps);
    printf("%-10s %24s %9s %24s %9s %s\n", "", "weft_queue", "cpu", "pthread mutex+cond ring",
           "cpu", "weft/peer");
    /* The rows every W3 peer prints too (bench/peers/w3_rows.h). */
    int counts[3] = {1, 2, args.threads};
    for (int row = 0; row < (args.threads > 2 ? 3 : 2); row++) {
        int pairs = counts[row];
        if (items / pairs < 1) {
            fprintf(stderr, "W3: fewer items than producers\n");
            return 1;
        }
        double w[BENCH_MAX_REPS], p[BENCH_MAX_REPS], cw = 0, cp = 0;
        run_pairs(true, pairs, items / 4 + 1); /* warm-up: a quarter of the work */
        run_pairs(false, pairs, items / 4 + 1);
        for (int i = 0; i < args.reps; i++) { /* ABBA: drift hits both alike */
            for (int step = 0; step < 2; step++) {
                bool weft_now = (i % 2 == 0) == (step == 0);
                double c0 = bench_cpu_ns();
                double ns = run_pairs(weft_now, pairs, items);
                *(weft_now ? &cw : &cp) += bench_cpu_ns() - c0;
                (weft_now ? w : p)[i] = ns;
            }
        }
        /* every run hands over items / pairs * pairs items */
        double handed = (double)(items / pairs * pairs) * args.reps;
        struct bench_figure fw = bench_summarize(w, args.reps), fp = bench_summarize(p, args.reps);
        fw.cpu = cw / handed;
        fp.cpu = cp / handed;
        char wt[48], pt[48], label[40];
        snprintf(label, sizeof label, "W3 %dP/%dC", pairs, pairs);
        printf("%-10s %24s %9.1f %24s %9.1f %.2f\n", label + 3, bench_text(fw, wt, sizeof wt),
               fw.cpu, bench_text(fp, pt, sizeof pt), fp.cpu, fw.median / fp.median);
        bench_csv(&args, label, "weft", fw);
        bench_csv(&args, label, "pthread mutex+cond ring", fp);
    }
    bench_done(&args);
    return 0;
}
