/* SPDX-License-Identifier: MIT */
/* w45_lock.c — docs/benchmarks.md W4 (uncontended lock) and W5 (contended lock)
 * peer for a C library's mutex, built once per mutex: -DPEER_GLIB (GMutex,
 * binary w45_glib) or -DPEER_UV (uv_mutex_t, w45_uv).  The pthread_mutex
 * rows, the default and the adaptive one (PTHREAD_MUTEX_ADAPTIVE_NP), are
 * bench_sync's, measured beside weft's in the same process.
 *
 * W4: acquire + release on one thread, ns per pair.  W5: --threads threads
 * (default 2) each add 1 to a shared counter under the lock n times, ns per
 * add, the count checked.  CSV rows through bench_peer_row.
 *
 * Fairness:
 * - W4 runs in a process that has already started (and joined) a thread:
 *   glibc's pthread_mutex skips its atomic operations while a process has
 *   never been multi-threaded (3.6 ns against 10.4 ns measured here), and a
 *   program that needs a lock is never in that state.  main does it first.
 * - W5's threads are created before the clock and wait at a barrier; the
 *   clock starts when the main thread passes it with them, so thread start
 *   is not timed and no thread gets a head start to run alone.
 * - W5's note gives the hand-overs per 10 adds: how often the lock went to
 *   a different thread than its last owner (a word read and written under
 *   the lock).  A lock that never hands over is fast because it starves the
 *   other threads; a strict FIFO hand-off would be 10. */
#define _GNU_SOURCE
#include "../bench_util.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#if defined(PEER_GLIB)
#include <glib.h>
#define PEER_NAME "GLib GMutex"
typedef GMutex peer_lock;
#define peer_init(l) g_mutex_init(l)
#define peer_acquire(l) g_mutex_lock(l)
#define peer_release(l) g_mutex_unlock(l)
#define peer_destroy(l) g_mutex_clear(l)
#elif defined(PEER_UV)
#include <uv.h>
#define PEER_NAME "libuv uv_mutex"
typedef uv_mutex_t peer_lock;
#define peer_init(l) uv_mutex_init(l)
#define peer_acquire(l) uv_mutex_lock(l)
#define peer_release(l) uv_mutex_unlock(l)
#define peer_destroy(l) uv_mutex_destroy(l)
#else
#error "build with -DPEER_GLIB or -DPEER_UV"
#endif

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double w4(long n)
{
    peer_lock lock;
    peer_init(&lock);
    double t0 = seconds();
    for (long i = 0; i < n; i++) {
        peer_acquire(&lock);
        peer_release(&lock);
    }
    double dt = seconds() - t0;
    peer_destroy(&lock);
    return dt * 1e9 / (double)n;
}

/* ---- W5 ---------------------------------------------------------------------- */

static peer_lock counter_lock;
static pthread_barrier_t start_line;
static long per_thread;
/* Written only under counter_lock: */
static long counter;
static long last_owner; /* 1..threads; 0 before the first add */
static long handovers;

static void *adder(void *arg)
{
    long me = (long)(intptr_t)arg;
    pthread_barrier_wait(&start_line);
    for (long i = 0; i < per_thread; i++) {
        peer_acquire(&counter_lock);
        counter++;
        if (last_owner != me) {
            handovers += last_owner != 0;
            last_owner = me;
        }
        peer_release(&counter_lock);
    }
    return NULL;
}

/* Hand-overs over the repetitions of one size (the warm-up is another). */
static long totals_n;
static double total_adds, total_handovers;

static void note_handovers(long n, double adds)
{
    if (n != totals_n) {
        totals_n = n;
        total_adds = 0;
        total_handovers = 0;
    }
    total_adds += adds;
    total_handovers += (double)handovers;
    snprintf(bench_note, sizeof bench_note, "hand-overs per 10 adds: %.2f",
             10.0 * total_handovers / total_adds);
}

static double w5(long n)
{
    int threads = bench_threads;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    if (!t || pthread_barrier_init(&start_line, NULL, (unsigned)threads + 1) != 0) {
        fprintf(stderr, "W5 %s: setup failed\n", PEER_NAME);
        exit(1);
    }
    peer_init(&counter_lock);
    counter = 0;
    last_owner = 0;
    handovers = 0;
    per_thread = n;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, adder, (void *)(intptr_t)(i + 1)) != 0) {
            fprintf(stderr, "W5 %s: pthread_create failed\n", PEER_NAME);
            exit(1);
        }
    pthread_barrier_wait(&start_line);
    double t0 = seconds();
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = seconds() - t0;
    double adds = (double)threads * (double)n;
    if ((double)counter != adds) {
        fprintf(stderr, "W5 %s: count %ld, expected %.0f\n", PEER_NAME, counter, adds);
        exit(1);
    }
    peer_destroy(&counter_lock);
    pthread_barrier_destroy(&start_line);
    free(t);
    note_handovers(n, adds);
    return dt * 1e9 / adds;
}

static void *nothing(void *arg) { return arg; }

int main(int argc, char **argv)
{
    long items = 20000000; /* as bench_sync */
    int reps = 11;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    pthread_t first; /* leave glibc's single-threaded state, as any concurrent program has */
    if (pthread_create(&first, NULL, nothing, NULL) != 0 || pthread_join(first, NULL) != 0)
        return 1;
    bench_peer_row("W4", PEER_NAME, w4, items, reps);
    bench_peer_row("W5", PEER_NAME, w5, items >= 10 ? items / 10 : 1, reps);
    return 0;
}
