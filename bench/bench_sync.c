/* SPDX-License-Identifier: MIT */
/* bench_sync.c — BENCH.md W4 (uncontended lock), W5 (contended lock) and
 * W10 (thread start + join): weft and plain pthreads side by side in one
 * run.  Each figure is the median of several repetitions after a warm-up,
 * with the spread (min..max); each workload checks its own result.
 *
 * Usage: bench_sync [--quick] [--scale N] [--reps N] [--csv FILE]
 */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>

#include "bench_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef double (*workload_fn)(long n); /* returns ns per operation */

static int reps = 11;

/* ---- W4: uncontended acquire + release on one thread ---------------------- */

static double w4_weft(long n)
{
    weft_lock lock = WEFT_LOCK_INIT;
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        weft_lock_acquire(&lock);
        weft_lock_release(&lock);
    }
    double dt = weft_perf_counter() - t0;
    if (weft_lock_locked(&lock))
        abort();
    return dt * 1e9 / (double)n;
}

static double w4_pthread(long n)
{
    pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mutex);
        pthread_mutex_unlock(&mutex);
    }
    double dt = weft_perf_counter() - t0;
    pthread_mutex_destroy(&mutex);
    return dt * 1e9 / (double)n;
}

/* ---- W5: two threads add 1 to a shared counter under the lock ------------- */

struct contended {
    weft_lock wlock;
    pthread_mutex_t mutex;
    long per_thread;
    long counter;
    bool use_weft;
};

static void *w5_adder(void *arg)
{
    struct contended *c = arg;
    if (c->use_weft) {
        for (long i = 0; i < c->per_thread; i++) {
            weft_lock_acquire(&c->wlock);
            c->counter++;
            weft_lock_release(&c->wlock);
        }
    } else {
        for (long i = 0; i < c->per_thread; i++) {
            pthread_mutex_lock(&c->mutex);
            c->counter++;
            pthread_mutex_unlock(&c->mutex);
        }
    }
    return NULL;
}

static double w5_run(long n, bool use_weft)
{
    struct contended c = {.wlock = WEFT_LOCK_INIT, .per_thread = n, .use_weft = use_weft};
    pthread_mutex_init(&c.mutex, NULL);
    pthread_t a, b;
    double t0 = weft_perf_counter();
    pthread_create(&a, NULL, w5_adder, &c);
    pthread_create(&b, NULL, w5_adder, &c);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    double dt = weft_perf_counter() - t0;
    pthread_mutex_destroy(&c.mutex);
    if (c.counter != 2 * n) {
        fprintf(stderr, "W5: counter %ld, expected %ld\n", c.counter, 2 * n);
        exit(1);
    }
    return dt * 1e9 / (double)(2 * n);
}

static double w5_weft(long n) { return w5_run(n, true); }
static double w5_pthread(long n) { return w5_run(n, false); }

/* ---- W10: thread start + join ---------------------------------------------- */

static void *identity(void *arg) { return arg; }

static double w10_weft(long n)
{
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        weft_thread *t;
        void *result = NULL;
        if (weft_thread_new(&t, identity, (void *)(i + 1), NULL) != WEFT_OK ||
            weft_thread_start(t) != WEFT_OK || weft_thread_join(t, &result) != WEFT_OK ||
            result != (void *)(i + 1))
            abort();
        weft_thread_free(t);
    }
    return (weft_perf_counter() - t0) * 1e9 / (double)n;
}

static double w10_pthread(long n)
{
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        pthread_t t;
        void *result = NULL;
        if (pthread_create(&t, NULL, identity, (void *)(i + 1)) != 0 ||
            pthread_join(t, &result) != 0 || result != (void *)(i + 1))
            abort();
    }
    return (weft_perf_counter() - t0) * 1e9 / (double)n;
}

/* ---- driver ---------------------------------------------------------------- */

/* Warm both up, then alternate them, so that drift on a shared machine
 * falls on both sides alike. */
static void measure_pair(workload_fn a, workload_fn b, long n, struct bench_figure *fa,
                         struct bench_figure *fb)
{
    double sa[BENCH_MAX_REPS], sb[BENCH_MAX_REPS];
    a(n / 4 + 1);
    b(n / 4 + 1);
    for (int i = 0; i < reps; i++) {
        sa[i] = a(n);
        sb[i] = b(n);
    }
    *fa = bench_summarize(sa, reps);
    *fb = bench_summarize(sb, reps);
}

struct row {
    const char *id, *what;
    workload_fn weft, peer;
    const char *peer_name;
    long n;
};

int main(int argc, char **argv)
{
    struct bench_args args;
    if (bench_parse(argc, argv, 11, 20, &args))
        return 2;
    reps = args.reps;
    long scale = args.scale;
    const struct row rows[] = {
        {"W4", "uncontended lock, ns per acquire+release", w4_weft, w4_pthread,
         "pthread_mutex", 20000000 / scale},
        {"W5", "contended lock, 2 threads, ns per add", w5_weft, w5_pthread, "pthread_mutex",
         2000000 / scale},
        {"W10", "thread start + join, ns", w10_weft, w10_pthread, "pthread_create+join",
         4000 / scale},
    };
    char model[128] = "unknown CPU";
    FILE *info = fopen("/proc/cpuinfo", "r");
    for (char line[256]; info && fgets(line, sizeof line, info);) {
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (info)
        fclose(info);
    printf("weft bench_sync on %ld cpus (%s); median of %d runs after a warm-up, [min..max]\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, reps);
    printf("%-4s %-42s %22s %22s %-20s %s\n", "id", "workload", "weft", "peer", "peer is",
           "weft/peer");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct bench_figure w, p;
        char wtext[48], ptext[48];
        measure_pair(r->weft, r->peer, r->n, &w, &p);
        printf("%-4s %-42s %22s %22s %-20s %.2f\n", r->id, r->what,
               bench_text(w, wtext, sizeof wtext), bench_text(p, ptext, sizeof ptext),
               r->peer_name, w.median / p.median);
        bench_csv(&args, r->id, "weft", w);
        bench_csv(&args, r->id, r->peer_name, p);
    }
    bench_done(&args);
    return 0;
}
