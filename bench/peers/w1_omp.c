/* SPDX-License-Identifier: MIT */
/* w1_omp.c — docs/benchmarks.md W1 peer: OpenMP tasks (no future): one thread of a
 * team creates N no-op tasks, taskwait waits for all.  CSV rows through
 * bench_peer_row.
 *
 * Fairness:
 * - Threads: the team has --threads threads (default 2), the number of
 *   threads that run tasks in weft's pool.  OpenMP's model counts the
 *   submitting thread as one of them: it runs tasks at the taskwait, and
 *   libgomp also runs a task at once, on the submitter, when too many are
 *   queued.  compare.py also sets OMP_NUM_THREADS to the same N.
 * - The note says what fraction of the tasks ran inline on the submitting
 *   thread (omp_get_thread_num() equal to the single thread's), over the
 *   timed repetitions: the work the submitter did itself rather than hand
 *   to another thread. */
#include "../bench_util.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static long done_count, inline_count;

/* Over the repetitions of one size (the warm-up is another size). */
static long totals_n, total_tasks, total_inline;

static void note_inline(long n)
{
    if (n != totals_n) {
        totals_n = n;
        total_tasks = 0;
        total_inline = 0;
    }
    total_tasks += n;
    total_inline += inline_count;
    snprintf(bench_note, sizeof bench_note, "inline on the submitter: %.1f%%",
             100.0 * (double)total_inline / (double)total_tasks);
}

static double w1(long n)
{
    done_count = 0;
    inline_count = 0;
    double t0 = omp_get_wtime();
#pragma omp parallel num_threads(bench_threads)
#pragma omp single
    {
        int submitter = omp_get_thread_num();
        for (long i = 0; i < n; i++) {
#pragma omp task
            {
                if (omp_get_thread_num() == submitter) {
#pragma omp atomic
                    inline_count++;
                }
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
    note_inline(n);
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
