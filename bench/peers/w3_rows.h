/* SPDX-License-Identifier: MIT */
/* w3_rows.h — the rows every W3 queue peer prints (C and C++ alike): docs/benchmarks.md's
 * "W3 1P/1C" and "W3 2P/2C", and, when --threads asks for more than 2,
 * "W3 NP/NC" with N = --threads producers and as many consumers.  run(pairs,
 * items) moves about `items` items in all (items / pairs per producer) and
 * returns ns per item; it checks the items itself.  A peer that cannot run
 * more producers than CPUs sets w3_max_pairs: the NP/NC row above it is
 * skipped, with a line on stderr saying why. */
#ifndef WEFT_BENCH_W3_ROWS_H
#define WEFT_BENCH_W3_ROWS_H

#include "../bench_util.h"

static double (*w3_run)(int pairs, long items);
static int w3_pairs;
static int w3_max_pairs = BENCH_MAX_THREADS;
static const char *w3_why_not = "-"; /* why rows above w3_max_pairs are skipped */

static double w3_sample(long items) { return w3_run(w3_pairs, items); }

static inline void w3_rows(const char *impl, double (*run)(int pairs, long items), long items,
                           int reps)
{
    int shapes[3] = {1, 2, bench_threads};
    w3_run = run;
    for (int i = 0; i < (bench_threads > 2 ? 3 : 2); i++) {
        char workload[48];
        w3_pairs = shapes[i];
        if (i == 2 && w3_pairs > w3_max_pairs) {
            fprintf(stderr, "W3 %dP/%dC %s: not run (%s)\n", w3_pairs, w3_pairs, impl,
                    w3_why_not);
            continue;
        }
        snprintf(workload, sizeof workload, "W3 %dP/%dC", w3_pairs, w3_pairs);
        bench_peer_row(workload, impl, w3_sample, items, reps);
    }
}

/* What the consumers' sums must add up to: each producer sends 1..per. */
static inline unsigned long long w3_expected(int pairs, long per)
{
    unsigned long long n = (unsigned long long)per;
    return (unsigned long long)pairs * n * (n + 1) / 2;
}

#endif
