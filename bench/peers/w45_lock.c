/* SPDX-License-Identifier: MIT */
/* w45_lock.c — BENCH.md W4 (uncontended lock) and W5 (contended lock)
 * peer for a C library's mutex, built once per library: -DPEER_GLIB
 * (GMutex) or -DPEER_UV (uv_mutex_t).  W4: acquire + release on one
 * thread, ns per pair; W5: two threads each add 1 to a shared counter
 * under the lock n times, ns per add, the count checked.  CSV rows. */
#define _POSIX_C_SOURCE 200809L
#include "../bench_util.h"

#include <pthread.h>
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

static peer_lock counter_lock;
static volatile long counter;
static long per_thread;

static void *adder(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_thread; i++) {
        peer_acquire(&counter_lock);
        counter = counter + 1;
        peer_release(&counter_lock);
    }
    return NULL;
}

static double w5(long n)
{
    peer_init(&counter_lock);
    counter = 0;
    per_thread = n;
    pthread_t t[2];
    double t0 = seconds();
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, adder, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    double dt = seconds() - t0;
    if (counter != 2 * n) {
        fprintf(stderr, "W5 %s: count %ld, expected %ld\n", PEER_NAME, counter, 2 * n);
        exit(1);
    }
    peer_destroy(&counter_lock);
    return dt * 1e9 / (double)(2 * n);
}

int main(int argc, char **argv)
{
    long items = 20000000; /* as bench_sync */
    int reps = 11;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    bench_peer_row("W4", PEER_NAME, w4, items, reps);
    bench_peer_row("W5", PEER_NAME, w5, items / 10, reps);
    return 0;
}
