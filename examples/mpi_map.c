/* SPDX-License-Identifier: MIT */
/* mpi_map.c — the guides' CPU-bound map, sum(i * i for i in range(n)) over
 * 8 values of n, on the process pool and then on the MPI pool: the same
 * executor calls, the work spread over the ranks of an MPI job instead of
 * the children of one process.  Python: ProcessPoolExecutor, then
 * mpi4py.futures.MPIPoolExecutor.
 *
 *     mpiexec -n 4 ./mpi_map [n]     (rank 0 runs this; ranks 1-3 serve)
 *
 * Every rank runs main from the top: each registers the task under its
 * name (a function pointer means nothing in another program image), then
 * weft_mpi_serve_or_run keeps ranks 1-3 serving until rank 0 is done.  On
 * a cluster the ranks are on other machines: the program does not change.
 */
#include <weft.h>
#include <weft/mpi.h>

#include "cpu_bound_task.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define VALUES 8

static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

/* executor.map over the 8 values; the seconds taken, the sums stored. */
static double run(weft_executor *pool, long base, uint64_t sums[VALUES])
{
    void *args[VALUES];
    for (int i = 0; i < VALUES; i++)
        args[i] = (void *)(uintptr_t)(base + i);
    double start = weft_perf_counter();
    weft_map *it;
    check(weft_executor_map(pool, cpu_bound_task, args, VALUES, WEFT_FOREVER, NULL, &it),
          "weft_executor_map");
    void *r;
    for (int i = 0; i < VALUES; i++) {
        check(weft_map_next(it, &r), "cpu_bound_task");
        sums[i] = (uintptr_t)r;
    }
    weft_map_free(it);
    return weft_perf_counter() - start;
}

int main(int argc, char **argv)
{
    check(weft_mpi_register_task("cpu_bound_task", cpu_bound_task), "weft_mpi_register_task");
    check(weft_mpi_serve_or_run(&argc, &argv), "weft_mpi_serve_or_run"); /* ranks > 0 stay */
    long base = argc > 1 ? atol(argv[1]) : 10000000;
    int ranks = weft_mpi_world_size() - 1;
    if (base < 1 || ranks < 1) {
        fprintf(stderr, "usage: mpiexec -n N %s [n >= 1]   (N >= 2)\n", argv[0]);
        return 2;
    }
    uint64_t local[VALUES], spread[VALUES];

    weft_process_pool_options po = {.max_workers = ranks};
    weft_executor *processes;
    check(weft_process_pool_new(&processes, &po), "weft_process_pool_new");
    printf("process pool (%d workers): %.2f s\n", ranks, run(processes, base, local));
    weft_executor_free(processes);

    weft_executor *mpi; /* MPIPoolExecutor(): ranks 1..N-1, one worker each */
    check(weft_mpi_pool_new(&mpi, NULL), "weft_mpi_pool_new");
    printf("MPI pool (%d ranks):       %.2f s\n", ranks, run(mpi, base, spread));
    weft_executor_free(mpi);

    for (int i = 0; i < VALUES; i++)
        if (local[i] != spread[i]) {
            printf("the sums differ at n = %ld\n", base + i);
            return 1;
        }
    printf("same sums both ways, e.g. n = %ld: %llu\n", base, (unsigned long long)local[0]);
    return 0;
}
