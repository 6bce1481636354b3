/* SPDX-License-Identifier: MIT */
/* c2c_probe.c — how far apart two CPUs are right now: two threads hand an
 * atomic word back and forth (a ping-pong) for about --ms milliseconds, and
 * the time per round trip is taken; the probe does that --runs times and
 * prints the median, the lowest and the highest, in ns per round trip:
 *
 *     c2c_ns,MEDIAN,MIN,MAX
 *
 * bench/compare.py runs it before every benchmark program, so that a slow
 * figure can be told apart: a slow minute of the machine (the two threads
 * far apart, or the CPU taken by something else) shows here too, a slow
 * design does not.  The threads are not pinned: they go where the
 * scheduler puts them, as the benchmarks' threads do.  A waiting thread
 * spins, and yields the CPU after a thousand spins, so that the probe ends
 * even on one CPU or a machine kept busy.  What the figure says (measured
 * on a 2-vCPU VM): ~100-150 ns, the two threads ran on SMT siblings;
 * ~200-400 ns, on separate cores; ~1.5 us or more, they shared one CPU
 * (the scheduler put them together, or the other CPU was taken) and every
 * hand-over waited for a yield; milliseconds, every CPU was taken by other
 * processes and a hand-over waited for a time slice (compare.py --busy).  The median of the runs is the figure;
 * a run's threads are created afresh, so runs may land differently.
 *
 * Usage: c2c_probe [--runs N] [--ms MS]   (defaults: 5 runs of 20 ms)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RUNS 101
#define SPINS_BEFORE_YIELD 1000

enum { PING = 1, PONG = 0, STOP = 2 };

static _Atomic int word;

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Wait until the word is no longer `from`; its new value. */
static int wait_change(int from)
{
    int spins = 0, v;
    while ((v = atomic_load_explicit(&word, memory_order_acquire)) == from) {
        if (++spins == SPINS_BEFORE_YIELD) {
            spins = 0;
            sched_yield();
        }
    }
    return v;
}

/* The other side: answers every PING with a PONG until told STOP. */
static void *ponger(void *arg)
{
    (void)arg;
    for (;;) {
        if (wait_change(PONG) == STOP)
            return NULL;
        atomic_store_explicit(&word, PONG, memory_order_release);
    }
}

/* One run: ns per round trip over about `ms` milliseconds. */
static double one_run(double ms)
{
    pthread_t t;
    atomic_store(&word, PONG);
    if (pthread_create(&t, NULL, ponger, NULL) != 0) {
        perror("c2c_probe: pthread_create");
        exit(1);
    }
    /* A few round trips first: the other thread is running before the clock. */
    for (int i = 0; i < 100; i++) {
        atomic_store_explicit(&word, PING, memory_order_release);
        wait_change(PING);
    }
    long trips = 0;
    double t0 = now_ns(), end = t0 + ms * 1e6, t1;
    do {
        for (int i = 0; i < 64; i++) {
            atomic_store_explicit(&word, PING, memory_order_release);
            wait_change(PING);
        }
        trips += 64;
        t1 = now_ns();
    } while (t1 < end);
    atomic_store_explicit(&word, STOP, memory_order_release);
    pthread_join(t, NULL);
    return (t1 - t0) / (double)trips;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = 5;
    double ms = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
            ms = atof(argv[++i]);
        } else {
            runs = 0;
            break;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || !(ms > 0 && ms <= 10000)) {
        fprintf(stderr, "usage: %s [--runs 1-%d] [--ms MS]\n", argv[0], MAX_RUNS);
        return 2;
    }
    double samples[MAX_RUNS];
    for (int i = 0; i < runs; i++)
        samples[i] = one_run(ms);
    qsort(samples, (size_t)runs, sizeof *samples, by_value);
    printf("c2c_ns,%.1f,%.1f,%.1f\n", samples[runs / 2], samples[0], samples[runs - 1]);
    return 0;
}
