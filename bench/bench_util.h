/* SPDX-License-Identifier: MIT */
/* bench_util.h — what weft's bench programs share: command line, median
 * and spread, CSV rows (read by bench/compare.py). */
#ifndef WEFT_BENCH_UTIL_H
#define WEFT_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_MAX_REPS 64

struct bench_args {
    int reps;   /* repetitions after the warm-up */
    long scale; /* --quick divides workload sizes by this */
    FILE *csv;  /* --csv FILE, or NULL */
};

/* Parse [--quick] [--scale N] [--reps N] [--csv FILE]: --quick divides the
 * workload sizes by quick_scale and runs 3 repetitions; --scale divides
 * them by N.  Returns 0, or 2 after printing the usage on a bad command
 * line. */
static inline int bench_parse(int argc, char **argv, int reps, long quick_scale,
                              struct bench_args *a)
{
    *a = (struct bench_args){.reps = reps, .scale = 1, .csv = NULL};
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
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv_path = argv[++i];
        } else {
            a->reps = 0;
        }
    }
    if (a->reps < 1 || a->reps > BENCH_MAX_REPS) {
        fprintf(stderr, "usage: %s [--quick] [--scale N] [--reps 1-%d] [--csv FILE]\n", argv[0],
                BENCH_MAX_REPS);
        return 2;
    }
    if (csv_path) {
        a->csv = fopen(csv_path, "w");
        if (a->csv)
            fprintf(a->csv, "workload,implementation,median_ns,min_ns,max_ns\n");
    }
    return 0;
}

struct bench_figure {
    double median, min, max;
};

static inline int bench_by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and spread of n samples (sorts them). */
static inline struct bench_figure bench_summarize(double *samples, int n)
{
    qsort(samples, (size_t)n, sizeof *samples, bench_by_value);
    return (struct bench_figure){samples[n / 2], samples[0], samples[n - 1]};
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
        fprintf(a->csv, "%s,%s,%.2f,%.2f,%.2f\n", workload, impl, f.median, f.min, f.max);
}

/* ---- for the C peer programs: --items N --reps R, rows on stdout ---------- */

/* Parse --items N --reps R into *items and *reps (defaults kept); 0, or 2
 * on a bad value. */
static inline int bench_peer_args(int argc, char **argv, long *items, int *reps)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--items"))
            *items = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            *reps = atoi(argv[i + 1]);
    }
    return *reps >= 1 && *reps <= BENCH_MAX_REPS && *items >= 1 ? 0 : 2;
}

/* Warm up fn, time it `reps` times and print its CSV row. */
static inline void bench_peer_row(const char *workload, const char *impl, double (*fn)(long),
                                  long n, int reps)
{
    double samples[BENCH_MAX_REPS];
    fn(n / 4 + 1);
    for (int i = 0; i < reps; i++)
        samples[i] = fn(n);
    struct bench_figure f = bench_summarize(samples, reps);
    printf("%s,%s,%.2f,%.2f,%.2f\n", workload, impl, f.median, f.min, f.max);
}

static inline void bench_done(struct bench_args *a)
{
    if (a->csv)
        fclose(a->csv);
}

#endif
