/* SPDX-License-Identifier: MIT */
/* bench_util.h — what weft's bench programs and the C peers share: command
 * line, median and spread, CPU time, CSV rows (read by bench/compare.py).
 *
 * A row is "workload,implementation,median_ns,min_ns,max_ns,cpu_ns,note":
 * the wall-time figures are per operation; cpu_ns is the process's CPU time
 * (user + system) per operation over the timed repetitions, empty when not
 * measured; note is free text without commas (e.g. how often a lock
 * changed hands), often empty. */
#ifndef WEFT_BENCH_UTIL_H
#define WEFT_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define BENCH_MAX_REPS 64

/* Threads a multi-threaded workload uses unless told: docs/benchmarks.md's 2. */
#define BENCH_DEFAULT_THREADS 2
#define BENCH_MAX_THREADS 1024

struct bench_args {
    int reps;    /* repetitions after the warm-up */
    long scale;  /* --quick divides workload sizes by this */
    int threads; /* --threads N: workers (or producer/consumer pairs' total) */
    FILE *csv;   /* --csv FILE, or NULL */
};

/* Parse [--quick] [--scale N] [--reps N] [--threads N] [--csv FILE]:
 * --quick divides the workload sizes by quick_scale and runs 3
 * repetitions; --scale divides them by N.  Returns 0, or 2 after printing
 * the usage on a bad command line. */
static inline int bench_parse(int argc, char **argv, int reps, long quick_scale,
                              struct bench_args *a)
{
    *a = (struct bench_args){
        .reps = reps, .scale = 1, .threads = BENCH_DEFAULT_THREADS, .csv = NULL};
    const char *csv_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            a->scale = quick_scale;
            a->reps = 3;
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            a->reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
            a->scale = atol(argv[++i]);
            if (a->scale < 1)
                a->reps = 0;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            a->threads = atoi(argv[++i]);
            if (a->threads < 1 || a->threads > BENCH_MAX_THREADS)
                a->reps = 0;
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv_path = argv[++i];
        } else {
            a->reps = 0;
        }
    }
    if (a->reps < 1 || a->reps > BENCH_MAX_REPS) {
        fprintf(stderr,
                "usage: %s [--quick] [--scale N] [--reps 1-%d] [--threads 1-%d] [--csv FILE]\n",
                argv[0], BENCH_MAX_REPS, BENCH_MAX_THREADS);
        return 2;
    }
    if (csv_path) {
        a->csv = fopen(csv_path, "w");
        if (a->csv)
            fprintf(a->csv, "workload,implementation,median_ns,min_ns,max_ns,cpu_ns,note\n");
    }
    return 0;
}

/* cpu: CPU ns per operation over the timed repetitions, < 0 when not
 * measured. */
struct bench_figure {
    double median, min, max, cpu;
};

/* The process's CPU time so far, user + system, in ns. */
static inline double bench_cpu_ns(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return 0;
    return ((double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec) * 1e9 +
           ((double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_usec) * 1e3;
}

/* CPU ns per operation since `since` (a bench_cpu_ns reading), over `ops`
 * operations in all. */
static inline double bench_cpu_per_op(double since, double ops)
{
    return ops > 0 ? (bench_cpu_ns() - since) / ops : -1;
}

/* A row's note, filled by a workload while it runs (free text, no commas);
 * printed with the row and cleared. */
static char bench_note[160];

static inline void bench_print_row(FILE *out, const char *workload, const char *impl,
                                   const struct bench_figure *f)
{
    char cpu[32] = "";
    if (f->cpu >= 0)
        snprintf(cpu, sizeof cpu, "%.2f", f->cpu);
    for (char *c = bench_note; *c; c++)
        if (*c == ',')
            *c = ';';
    fprintf(out, "%s,%s,%.2f,%.2f,%.2f,%s,%s\n", workload, impl, f->median, f->min, f->max, cpu,
            bench_note);
    bench_note[0] = '\0';
}

static inline int bench_by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and spread of n samples (sorts them). */
static inline struct bench_figure bench_summarize(double *samples, int n)
{
    qsort(samples, (size_t)n, sizeof *samples, bench_by_value);
    return (struct bench_figure){samples[n / 2], samples[0], samples[n - 1], -1};
}

/* "median [min..max]" into buf. */
static inline const char *bench_text(struct bench_figure f, char *buf, size_t size)
{
    snprintf(buf, size, "%.1f [%.1f..%.1f]", f.median, f.min, f.max);
    return buf;
}

static inline void bench_csv(const struct bench_args *a, const char *workload, const char *impl,
                             struct bench_figure f)
{
    if (a->csv)
        bench_print_row(a->csv, workload, impl, &f);
}

/* ---- for the C peer programs: --items N --reps R --threads T, rows on stdout */

/* The peer's --threads (BENCH_DEFAULT_THREADS unless told). */
static int bench_threads = BENCH_DEFAULT_THREADS;

/* Parse --items N --reps R [--threads T] into *items, *reps and
 * bench_threads (defaults kept); 0, or 2 on a bad value. */
static inline int bench_peer_args(int argc, char **argv, long *items, int *reps)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--items"))
            *items = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            *reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            bench_threads = atoi(argv[i + 1]);
    }
    return *reps >= 1 && *reps <= BENCH_MAX_REPS && *items >= 1 && bench_threads >= 1 &&
                   bench_threads <= BENCH_MAX_THREADS
               ? 0
               : 2;
}

/* Warm up fn (on a quarter of the work, as every program does), time it
 * `reps` times, and print its CSV row with the CPU time per operation
 * (fn(n) does n operations). */
static inline void bench_peer_row(const char *workload, const char *impl, double (*fn)(long),
                                  long n, int reps)
{
    double samples[BENCH_MAX_REPS];
    fn(n / 4 + 1);
    bench_note[0] = '\0';
    double cpu = bench_cpu_ns();
    for (int i = 0; i < reps; i++)
        samples[i] = fn(n);
    struct bench_figure f = bench_summarize(samples, reps);
    f.cpu = bench_cpu_per_op(cpu, (double)n * reps);
    bench_print_row(stdout, workload, impl, &f);
}

static inline void bench_done(struct bench_args *a)
{
    if (a->csv)
        fclose(a->csv);
}

#endif
