/* SPDX-License-Identifier: MIT */
/* bench_fanout.c — docs/benchmarks.md W8, the coroutines' fan-out (issue 16),
 * for weft's event loop (weft/coro.h), against bench/peers/coro_go.go and
 * coro_python.py:
 *
 *   W8 <n>: n tasks that each weft_sleep(1.0), then all awaited (each
 *       task's weft_future_result in turn), in a fresh process (this
 *       program run again with --w8-child), as for every W8
 *       implementation: the wall time from the first spawn to the last
 *       result (the child's own clock: its start is excluded), ms; the
 *       child's CPU per task; and, in the "W8 <n> RSS" row, its peak
 *       resident set (wait4's ru_maxrss), MB (10^6 bytes).
 *
 * The smaller size (100k, divided by --scale) runs in the default stack
 * mode (row "weft") and in memory mode (weft_loop_options.stack_mode =
 * WEFT_STACK_SHARED, row "weft memory mode"); the larger (1M) in memory
 * mode only (row "weft": a 256 KiB mapping per task a million times over
 * is what memory mode is for).  Each size runs once per program run (a
 * fresh process has nothing to warm up; compare.py's rounds give the
 * spread), so --reps is accepted and unused; the note gives the bytes per
 * task above an empty run's (n = 0).  A child that fails (a spawn refused,
 * a task's wrong result) is reported, the other sizes still run, and the
 * program exits 1.
 *
 * Usage: bench_fanout [--quick] [--scale N] [--reps N] [--threads N] [--csv FILE]
 * (--threads is accepted like every program's and unused: a loop is one
 * thread.)  bench_fanout --w8-child N own|shared is the child. */
#define _GNU_SOURCE
#include "weft/coro.h"
#include "weft/future.h"
#include "weft/status.h"
#include "weft/time.h"

#include "bench_util.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* docs/benchmarks.md's sizes, divided by --scale. */
#define FANOUT_SMALL 100000L
#define FANOUT_LARGE 1000000L

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- the child ----------------------------------------------------------- */

static char slept; /* what a task whose sleep went well returns */

static void *sleeper(void *arg)
{
    (void)arg;
    int rc = weft_sleep(1.0);
    return rc == WEFT_OK ? &slept : weft_fail(rc, "weft_sleep(1.0): status %d", rc);
}

struct fanout {
    long n;
    double elapsed_ns;
};

/* The child's main task: 0 with f->elapsed_ns, or a failure. */
static void *fanout_main(void *arg)
{
    struct fanout *f = arg;
    weft_future **tasks = malloc((size_t)(f->n > 0 ? f->n : 1) * sizeof *tasks);
    if (!tasks)
        return weft_fail(WEFT_ENOMEM, "no memory for %ld futures", f->n);
    double t0 = now_ns();
    for (long i = 0; i < f->n; i++) {
        int rc = weft_spawn(sleeper, NULL, NULL, &tasks[i]);
        if (rc != WEFT_OK) {
            fprintf(stderr, "bench_fanout: weft_spawn: %s at task %ld of %ld\n",
                    weft_strerror(rc), i, f->n);
            for (long j = 0; j < i; j++) /* weft_run cancels them at its end */
                weft_future_release(tasks[j]);
            free(tasks);
            return weft_fail(rc, "weft_spawn failed at task %ld", i);
        }
    }
    long wrong = 0;
    for (long i = 0; i < f->n; i++) {
        void *result = NULL;
        if (weft_future_result(tasks[i], &result) != WEFT_OK || result != &slept)
            wrong++;
        weft_future_release(tasks[i]);
    }
    f->elapsed_ns = now_ns() - t0;
    free(tasks);
    if (wrong)
        return weft_fail(WEFT_EFAILED, "%ld of %ld sleeping tasks failed", wrong, f->n);
    if (f->n > 0 && f->elapsed_ns < 1e9)
        return weft_fail(WEFT_EFAILED, "%ld sleeps of 1 s ended after %.0f ns", f->n,
                         f->elapsed_ns);
    return f;
}

/* One fan-out of n sleeps in the given stack mode; prints the wall ns. */
static int w8_child(const char *count, const char *mode)
{
    char *end;
    long n = strtol(count, &end, 10);
    bool shared = !strcmp(mode, "shared");
    if (*end || n < 0 || (!shared && strcmp(mode, "own"))) {
        fprintf(stderr, "usage: bench_fanout --w8-child N own|shared\n");
        return 2;
    }
    weft_loop_options options = WEFT_LOOP_OPTIONS_INIT;
    options.stack_mode = shared ? WEFT_STACK_SHARED : WEFT_STACK_OWN;
    struct fanout f = {n, 0};
    void *result = NULL;
    int rc = weft_run(fanout_main, &f, &options, &result);
    if (rc != WEFT_OK || result != &f) {
        fprintf(stderr, "bench_fanout: %ld tasks, %s stacks: weft_run: %s\n", n, mode,
                weft_strerror(rc));
        return 1;
    }
    printf("%.0f\n", f.elapsed_ns);
    return 0;
}

/* ---- the parent ------------------------------------------------------------ */

struct child_run {
    double wall_ns, cpu_ns, rss_bytes;
};

/* Run this program again as a child of n sleeps; true with its figures. */
static bool run_child(long n, const char *mode, struct child_run *c)
{
    char self[PATH_MAX], count[32];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    int out[2];
    if (len < 0 || pipe(out) != 0) {
        fprintf(stderr, "bench_fanout: cannot start a child: %s\n", strerror(errno));
        return false;
    }
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
    if (rc != 0) {
        close(out[0]);
        fprintf(stderr, "bench_fanout: posix_spawn: %s\n", strerror(rc));
        return false;
    }
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
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_fanout: the child of %ld sleeps (%s stacks) failed\n", n, mode);
        return false;
    }
    *c = (struct child_run){strtod(text, NULL), 0, (double)usage.ru_maxrss * 1024.0};
    c->cpu_ns = ((double)usage.ru_utime.tv_sec + (double)usage.ru_stime.tv_sec) * 1e9 +
                ((double)usage.ru_utime.tv_usec + (double)usage.ru_stime.tv_usec) * 1e3;
    if (n > 0 && c->wall_ns < 1e9) {
        fprintf(stderr, "bench_fanout: the child of %ld sleeps printed no time\n", n);
        return false;
    }
    return true;
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

/* One child run of n sleeps: its two rows and a line of the table; false
 * if the child failed. */
static bool fanout_rows(const struct bench_args *args, long n, const char *mode,
                        const char *impl, const struct child_run *empty)
{
    char label[48], rss_label[64], note[160];
    size_label(n, label, sizeof label);
    struct child_run c;
    if (!run_child(n, mode, &c)) {
        printf("%-12s %-22s FAILED (%s stacks)\n", label, impl, mode);
        return false;
    }
    snprintf(rss_label, sizeof rss_label, "%s RSS", label);
    snprintf(note, sizeof note,
             "%s stacks; peak RSS %.1f MB; %.0f bytes per task above an empty run's %.1f MB",
             mode, c.rss_bytes / 1e6, (c.rss_bytes - empty->rss_bytes) / (double)n,
             empty->rss_bytes / 1e6);
    double ms = c.wall_ns / 1e6, mb = c.rss_bytes / 1e6;
    struct bench_figure wall = {ms, ms, ms, c.cpu_ns / (double)n};
    struct bench_figure rss = {mb, mb, mb, -1};
    printf("%-12s %-22s %10.1f ms %10.1f MB %9.0f  %s\n", label, impl, ms, mb, wall.cpu, note);
    snprintf(bench_note, sizeof bench_note, "%s", note);
    bench_csv(args, label, impl, wall);
    snprintf(bench_note, sizeof bench_note, "%s", note);
    bench_csv(args, rss_label, impl, rss);
    return true;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--w8-child"))
        return w8_child(argv[2], argv[3]);
    struct bench_args args;
    if (bench_parse(argc, argv, 5, 10, &args))
        return 2;
    long small = FANOUT_SMALL / args.scale, large = FANOUT_LARGE / args.scale;
    small = small < 1 ? 1 : small;
    large = large < 1 ? 1 : large;

    printf("weft bench_fanout: n tasks x weft_sleep(1.0), then all awaited; one child "
           "process per row\n\n%-12s %-22s %13s %13s %9s\n",
           "W8", "", "wall", "peak RSS", "cpu/task");
    struct child_run empty;
    bool ok = run_child(0, "own", &empty);
    if (ok) {
        ok &= fanout_rows(&args, small, "own", "weft", &empty);
        ok &= fanout_rows(&args, small, "shared", "weft memory mode", &empty);
        ok &= fanout_rows(&args, large, "shared", "weft", &empty);
    }
    bench_done(&args);
    return ok ? 0 : 1;
}
