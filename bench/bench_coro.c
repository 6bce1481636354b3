/* SPDX-License-Identifier: MIT */
/* bench_coro.c — docs/benchmarks.md's coroutine switch and spawn workloads
 * (issue 16) for weft's event loop (weft/coro.h), against
 * bench/peers/coro_go.go, coro_python.py and w11b_greenlet.py (W8, the
 * fan-out, is bench_fanout.c):
 *
 *   W11 yield (W11(b)): two tasks that yield to each other through the loop
 *       with weft_sleep(0) (asyncio.sleep(0)); ns per yield.  Each notes
 *       whether the other ran since its own last yield: fewer than half of
 *       the yields handing over exits 1 (a yield that comes straight back
 *       is no switch), and the note says what share did.
 *   W13: weft_spawn an empty task, then weft_future_result and
 *       weft_future_release, one task at a time, in a coroutine; ns per
 *       task, every result checked.
 *
 * Both follow the harness rule: a warm-up on a quarter of the work, then
 * `reps` timed runs, all in one weft_run (one loop, as one Go process or
 * one asyncio.run), with the process's CPU time taken around each timed
 * run; the tasks have the loop's default stacks.  Rows go to --csv in
 * bench_util.h's format for bench/compare.py.
 *
 * Usage: bench_coro [--quick] [--scale N] [--reps N] [--threads N] [--csv FILE]
 * (--threads is accepted like every program's and unused: a loop is one
 * thread.) */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "weft/coro.h"
#include "weft/future.h"
#include "weft/status.h"
#include "weft/time.h"

#include "bench_util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* docs/benchmarks.md's sizes, divided by --scale. */
#define YIELDS 2000000L
#define SPAWNS 1000000L

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A wrong result or a failed call: the figures would mean nothing. */
static void die(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    fprintf(stderr, "bench_coro: ");
    vfprintf(stderr, format, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- W11 yield --------------------------------------------------------- */

/* The ping-pong's state: both tasks run on the loop's one thread. */
static struct {
    long per; /* yields of each task */
    int last; /* the task that ran last */
    long handed, handed_total, yields_total;
} pp;

static char task_done; /* what a task that did its work returns */
static int task_ids[2] = {0, 1};

static void *yielder(void *arg)
{
    int me = *(int *)arg;
    for (long i = 0; i < pp.per; i++) {
        pp.last = me;
        int rc = weft_sleep(0);
        if (rc != WEFT_OK)
            return weft_fail(rc, "weft_sleep(0): status %d", rc);
        if (pp.last != me)
            pp.handed++;
    }
    return &task_done;
}

/* A spawned task awaited and released; a wrong result exits. */
static void await_done(weft_future *task, const char *what)
{
    void *result = NULL;
    int rc = weft_future_result(task, &result);
    weft_future_release(task);
    if (rc != WEFT_OK || result != &task_done)
        die("%s ended with status %d (%s)", what, rc, weft_strerror(rc));
}

/* 2 * (n / 2) yields in all; ns per yield. */
static double ping_pong(long n)
{
    weft_future *a, *b;
    pp.per = n / 2 > 0 ? n / 2 : 1;
    pp.last = -1;
    pp.handed = 0;
    if (weft_spawn(yielder, &task_ids[0], NULL, &a) != WEFT_OK ||
        weft_spawn(yielder, &task_ids[1], NULL, &b) != WEFT_OK)
        die("W11 yield: weft_spawn failed");
    double t0 = now_ns();
    await_done(a, "W11 yield: the first task");
    await_done(b, "W11 yield: the second task");
    double dt = now_ns() - t0;
    if (2 * pp.handed < 2 * pp.per)
        die("W11 yield: only %ld of %ld yields let the other task run", pp.handed, 2 * pp.per);
    pp.handed_total += pp.handed;
    pp.yields_total += 2 * pp.per;
    return dt / (2.0 * (double)pp.per);
}

/* ---- W13 --------------------------------------------------------------- */

static void *empty_task(void *arg)
{
    return arg;
}

static double spawn_await(long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        weft_future *task;
        void *want = (void *)(uintptr_t)(i + 1), *got = NULL;
        int rc = weft_spawn(empty_task, want, NULL, &task);
        if (rc != WEFT_OK)
            die("W13: weft_spawn: status %d at task %ld", rc, i);
        rc = weft_future_result(task, &got);
        weft_future_release(task);
        if (rc != WEFT_OK || got != want)
            die("W13: task %ld ended with status %d or a wrong result", i, rc);
    }
    return (now_ns() - t0) / (double)n;
}

/* ---- the harness, in a coroutine ----------------------------------------- */

struct measured {
    double (*once)(long n); /* does the work, returns ns per operation */
    long n;
    int reps;
    double samples[BENCH_MAX_REPS];
    double cpu_ns;
};

static void *measure_main(void *arg)
{
    struct measured *m = arg;
    m->once(m->n / 4 + 1);
    pp.handed_total = pp.yields_total = 0;
    for (int i = 0; i < m->reps; i++) {
        double c0 = bench_cpu_ns();
        m->samples[i] = m->once(m->n);
        m->cpu_ns += bench_cpu_ns() - c0;
    }
    return m;
}

/* Warm-up and `reps` timed runs of once(n) in one weft_run; ops: the
 * operations of one timed run, for the CPU figure. */
static struct bench_figure measure(double (*once)(long), long n, int reps, double ops)
{
    struct measured m = {once, n, reps, {0}, 0};
    void *result = NULL;
    int rc = weft_run(measure_main, &m, NULL, &result);
    if (rc != WEFT_OK || result != &m)
        die("weft_run: status %d (%s)", rc, weft_strerror(rc));
    struct bench_figure f = bench_summarize(m.samples, reps);
    f.cpu = m.cpu_ns / (ops * reps);
    return f;
}

int main(int argc, char **argv)
{
    struct bench_args args;
    if (bench_parse(argc, argv, 5, 10, &args))
        return 2;
    long yields = YIELDS / args.scale, spawns = SPAWNS / args.scale;
    yields = yields < 2 ? 2 : yields;
    spawns = spawns < 1 ? 1 : spawns;

    printf("weft bench_coro: median of %d runs after a warm-up, [min..max], CPU ns per "
           "operation\n\n",
           args.reps);
    char text[64];
    struct bench_figure f = measure(ping_pong, yields, args.reps, 2.0 * (double)(yields / 2));
    snprintf(bench_note, sizeof bench_note, "yields that let the other run: %.1f%%",
             100.0 * (double)pp.handed_total / (double)pp.yields_total);
    printf("%-12s %-22s %28s ns %9.2f  %s\n", "W11 yield", "weft weft_sleep(0)",
           bench_text(f, text, sizeof text), f.cpu, bench_note);
    bench_csv(&args, "W11 yield", "weft", f);
    f = measure(spawn_await, spawns, args.reps, (double)spawns);
    printf("%-12s %-22s %28s ns %9.2f\n", "W13", "weft spawn + result",
           bench_text(f, text, sizeof text), f.cpu);
    bench_csv(&args, "W13", "weft", f);
    bench_done(&args);
    return 0;
}
