/* bench_queue.c — BENCH.md W3, queue hand-off: producers put N items into a
 * queue of capacity 1024 with blocking put/get, consumers take them; ns per
 * item.  weft_queue against the classic pthread mutex + two condition
 * variables ring, side by side in one run (median of interleaved runs after
 * a warm-up, [min..max]).  Each run checks that every item arrived once:
 * the sum of what the consumers took must equal the sum of what was put.
 *
 * Usage: bench_queue [--quick] [--reps N] [--csv FILE]
 */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>

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

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int reps = 9;
    long items = 2000000;
    const char *csv_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            reps = 3;
            items = 100000;
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv_path = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--csv FILE]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 64)
        return 2;
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv)
        fprintf(csv, "workload,implementation,median_ns,min_ns,max_ns\n");
    printf("W3 queue hand-off, capacity %d, blocking put/get, ns per item: "
           "median of %d [min..max]\n", CAPACITY, reps);
    printf("%-10s %24s %24s %s\n", "", "weft_queue", "pthread mutex+cond ring", "weft/peer");
    for (int pairs = 1; pairs <= 2; pairs++) {
        double w[64], p[64];
        run_pairs(true, pairs, items / 4);
        run_pairs(false, pairs, items / 4);
        for (int i = 0; i < reps; i++) {
            w[i] = run_pairs(true, pairs, items);
            p[i] = run_pairs(false, pairs, items);
        }
        qsort(w, (size_t)reps, sizeof *w, by_value);
        qsort(p, (size_t)reps, sizeof *p, by_value);
        char wt[48], pt[48], label[16];
        snprintf(wt, sizeof wt, "%.1f [%.1f..%.1f]", w[reps / 2], w[0], w[reps - 1]);
        snprintf(pt, sizeof pt, "%.1f [%.1f..%.1f]", p[reps / 2], p[0], p[reps - 1]);
        snprintf(label, sizeof label, "%dP/%dC", pairs, pairs);
        printf("%-10s %24s %24s %.2f\n", label, wt, pt, w[reps / 2] / p[reps / 2]);
        if (csv) {
            fprintf(csv, "W3 %s,weft,%.2f,%.2f,%.2f\n", label, w[reps / 2], w[0], w[reps - 1]);
            fprintf(csv, "W3 %s,pthread mutex+cond ring,%.2f,%.2f,%.2f\n", label, p[reps / 2], p[0],
                    p[reps - 1]);
        }
    }
    if (csv)
        fclose(csv);
    return 0;
}
