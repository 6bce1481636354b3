/* SPDX-License-Identifier: MIT */
/* w1_omp.c — BENCH.md W1 peer: OpenMP tasks on 2 threads (no future): one
 * thread creates N no-op tasks, taskwait waits for all.  CSV rows. */
#include "../bench_util.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long done_count;

static double w1(long n)
{
    done_count = 0;
    double t0 = omp_get_wtime();
#pragma omp parallel num_threads(2)
#pragma omp single
    {
        for (long i = 0; i < n; i++) {
#pragma omp task
            {
#pragma omp atomic
                done_count++;
            }
        }
#pragma omp taskwait
    }
    double dt = omp_get_wtime() - t0;
    if (done_count != n) {
        fprintf(stderr, "W1 omp: tasks lost\n");
        exit(1);
    }
    return dt * 1e9 / (double)n;
}

int main(int argc, char **argv)
{
    long items = 1000000;
    int reps = 5;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    bench_peer_row("W1", "OpenMP task (no future)", w1, items, reps);
    return 0;
}
