/* SPDX-License-Identifier: MIT */
/* bench_coro.c — docs/benchmarks.md's coroutine workloads (issue 16) for
 * weft's event loop (weft/coro.h), against bench/peers/coro_go.go,
 * coro_python.py and w11b_greenlet.py:
 *
 *   W11 yield (W11(b)): two tasks that yield to each other through the loop
 *       with weft_sleep(0) (asyncio.sleep(0)); ns per yield.  Each notes
 *       whether the other ran since its own last yield: fewer than half of
 *       the yields handing over exits 1 (a yield that comes straight back
 *       is no switch), and the note says what share did.
 *   W13: weft_spawn an empty task, then weft_future_result and
 *       weft_future_release, one task at a time, in a coroutine; ns per
 *       task, every result checked.
 *   W8 <n>: n tasks that each weft_sleep(1.0), then all awaited (each
 *       task's weft_future_result in turn), in a fresh process (this
 *       program run again with --w8-child), as for every W8
 *       implementation: the wall time from the first spawn to the last
 *       result (the child's own clock: its start is excluded), ms; the
 *       child's CPU per task; and, in the "W8 <n> RSS" row, its peak
 *       resident set (wait4's ru_maxrss), MB (10^6 bytes).  The smaller
 *       size (100k) runs in the default stack mode (row "weft") and in
 *       memory mode (WEFT_STACK_SHARED, row "weft memory mode"); the larger
 *       (1M) in memory mode only (row "weft": a 256 KiB mapping per task a
 *       million times over is what memory mode is for).  One child run per
 *       size per program run (a fresh process has nothing to warm up;
 *       compare.py's rounds give the spread); the note gives the bytes per
 *       task above an empty run's.
 *
 * W11 and W13 follow the harness rule: a warm-up on a quarter of the work,
 * then `reps` timed runs, all in one weft_run (one loop, as one Go process
 * or one asyncio.run), with the process's CPU time taken around each timed
 * run.  Rows go to --csv in bench_util.h's format for bench/compare.py.
 *
 * Usage: bench_coro [--quick] [--scale N] [--reps N] [--threads N] [--csv FILE]
 * (--threads is accepted like every program's and unused: a loop is one
 * thread.)  bench_coro --w8-child N own|shared is the W8 child. */
#define _GNU_SOURCE
#include "weft/coro.h"
#include "weft/future.h"
#include "weft/status.h"
#include "weft/time.h"

#include "bench_util.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* docs/benchmarks.md's sizes, divided by --scale. */
#define YIELDS 2000000L
#define SPAWNS 1000000L
#define FANOUT_SMALL 100000L
#define FANOUT_LARGE 1000000L

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

/* ---- W8: the fan-out, in a child process ----------------------------------- */

static void *sleeper(void *arg)
{
    (void)arg;
    int rc = weft_sleep(1.0);
    return rc == WEFT_OK ? &task_done : weft_fail(rc, "weft_sleep(1.0): status %d", rc);
}

struct fanout {
    long n;
    double elapsed_ns;
};

static void *fanout_main(void *arg)
{
    struct fanout *f = arg;
    weft_future **tasks = malloc((size_t)(f->n > 0 ? f->n : 1) * sizeof *tasks);
    if (!tasks)
        die("W8: no memory for %ld tasks", f->n);
    double t0 = now_ns();
    for (long i = 0; i < f->n; i++) {
        int rc = weft_spawn(sleeper, NULL, NULL, &tasks[i]);
        if (rc != WEFT_OK)
            die("W8: weft_spawn: status %d (%s) at task %ld of %ld", rc, weft_strerror(rc), i, f->n);
    }
    for (long i = 0; i < f->n; i++)
        await_done(tasks[i], "W8: a sleeping task");
    f->elapsed_ns = now_ns() - t0;
    free(tasks);
    if (f->n > 0 && f->elapsed_ns < 1e9)
        die("W8: %ld sleeps of 1 s ended after %.0f ns", f->n, f->elapsed_ns);
    return f;
}

/* The child: one fan-out of n sleeps in the given stack mode; prints the
 * wall ns. */
static int w8_child(const char *count, const char *mode)
{
    char *end;
    long n = strtol(count, &end, 10);
    bool shared = !strcmp(mode, "shared");
    if (*end || n < 0 || (!shared && strcmp(mode, "own"))) {
        fprintf(stderr, "usage: bench_coro --w8-child N own|shared\n");
        return 2;
    }
    weft_loop_options options = WEFT_LOOP_OPTIONS_INIT;
    options.stack_mode = shared ? WEFT_STACK_SHARED : WEFT_STACK_OWN;
    struct fanout f = {n, 0};
    void *result = NULL;
    int rc = weft_run(fanout_main, &f, &options, &result);
    if (rc != WEFT_OK || result != &f) {
        fprintf(stderr, "bench_coro: W8 child: weft_run: status %d (%s)\n", rc,
                weft_strerror(rc));
        return 1;
    }
    printf("%.0f\n", f.elapsed_ns);
    return 0;
}

struct child_run {
    double wall_ns, cpu_ns, rss_bytes;
};

/* Run this program again as a W8 child; its figures, or exit 1. */
static struct child_run run_child(long n, const char *mode)
{
    char self[PATH_MAX], count[32];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    int out[2];
    if (len < 0 || pipe(out) != 0)
        die("W8: cannot start a child: %s", strerror(errno));
    self[len] = '\0';
    snprintf(count, sizeof count, "%ld", n);
    char *argv[] = {self, "--w8-child", count, (char *)mode, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, self, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (rc != 0)
        die("W8: posix_spawn: %s", strerror(rc));
    char text[64] = "";
    size_t got = 0;
    ssize_t r;
    while ((r = read(out[0], text + got, sizeof text - 1 - got)) > 0)
        got += (size_t)r;
    close(out[0]);
    text[got] = '\0';
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        die("W8: the child of %ld sleeps failed (wait status %d)", n, status);
    struct child_run c = {strtod(text, NULL), 0, (double)usage.ru_maxrss * 1024.0};
    c.cpu_ns = ((double)usage.ru_utime.tv_sec + (double)usage.ru_stime.tv_sec) * 1e9 +
               ((double)usage.ru_utime.tv_usec + (double)usage.ru_stime.tv_usec) * 1e3;
    if (n > 0 && c.wall_ns < 1e9)
        die("W8: the child of %ld sleeps printed no time", n);
    return c;
}

static void size_label(long n, char *buf, size_t size)
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(buf, size, "W8 %ldM", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(buf, size, "W8 %ldk", n / 1000);
    else
        snprintf(buf, size, "W8 %ld", n);
}

/* One child run of n sleeps: its two rows, and a line of the table. */
static void fanout_rows(const struct bench_args *args, long n, const char *mode,
                        const char *impl, const struct child_run *empty)
{
    struct child_run c = run_child(n, mode);
    char label[48], rss_label[64], note[160];
    size_label(n, label, sizeof label);
    snprintf(rss_label, sizeof rss_label, "%s RSS", label);
    snprintf(note, sizeof note,
             "%s stacks; peak RSS %.1f MB; %.0f bytes per task above an empty run's %.1f MB",
             strcmp(mode, "shared") ? "own" : "shared", c.rss_bytes / 1e6,
             (c.rss_bytes - empty->rss_bytes) / (double)n, empty->rss_bytes / 1e6);
    struct bench_figure wall = {c.wall_ns / 1e6, c.wall_ns / 1e6, c.wall_ns / 1e6,
                                c.cpu_ns / (double)n};
    struct bench_figure rss = {c.rss_bytes / 1e6, c.rss_bytes / 1e6, c.rss_bytes / 1e6, -1};
    printf("%-12s %-22s %10.1f ms %10.1f MB %9.0f  %s\n", label, impl, wall.median, rss.median,
           wall.cpu, note);
    snprintf(bench_note, sizeof bench_note, "%s", note);
    bench_csv(args, label, impl, wall);
    snprintf(bench_note, sizeof bench_note, "%s", note);
    bench_csv(args, rss_label, impl, rss);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--w8-child"))
        return w8_child(argv[2], argv[3]);
    struct bench_args args;
    if (bench_parse(argc, argv, 5, 10, &args))
        return 2;
    long yields = YIELDS / args.scale, spawns = SPAWNS / args.scale;
    long small = FANOUT_SMALL / args.scale, large = FANOUT_LARGE / args.scale;
    yields = yields < 2 ? 2 : yields;
    spawns = spawns < 1 ? 1 : spawns;
    small = small < 1 ? 1 : small;
    large = large < 1 ? 1 : large;

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
    printf("%-12s %-22s %28s ns %9.2f\n", "W13", "weft spawn + result", bench_text(f, text,
                                                                                   sizeof text),
           f.cpu);
    bench_csv(&args, "W13", "weft", f);

    printf("\n%-12s %-22s %13s %13s %9s\n", "W8", "", "wall", "peak RSS", "cpu/task");
    struct child_run empty = run_child(0, "own");
    fanout_rows(&args, small, "own", "weft", &empty);
    fanout_rows(&args, small, "shared", "weft memory mode", &empty);
    fanout_rows(&args, large, "shared", "weft", &empty);
    bench_done(&args);
    return 0;
}
