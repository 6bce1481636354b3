/* SPDX-License-Identifier: MIT */
/* bench_mpi.c — W14, the executor over MPI, under `mpiexec -n 4`: rank 0
 * measures, ranks 1-3 serve.  Rows (stdout, bench_util.h's format):
 *   W14 no-op   ns per submit-and-wait of a no-op, one at a time
 *   W14 map     a map of 2,000 tasks of 1 ms (a sleep) with chunksize 1:
 *               ideal time / time taken, x1000 (1000: no overhead at all)
 * for the MPI pool with tasks run in the ranks ("weft": as mpi4py.futures
 * runs them), the MPI pool's default (a process pool in each rank, which
 * contains crashes), and weft's process pool with as many workers as
 * there are serving ranks (one machine, no MPI).  CPU time is rank 0's.
 *
 * Usage: mpiexec -n 4 bench_mpi [--reps R] [--items N] [--tasks M] */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>
#include <weft/mpi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void *noop(void *arg) { return arg; }

static void *sleep_1ms(void *arg)
{
    weft_sleep(0.001);
    return arg;
}

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec +
           ((double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_usec) / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One rep of each: ns per no-op round trip; the map's efficiency x1000. */
static double noop_trips(weft_executor *pool, long n)
{
    double t = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        weft_future *f;
        void *r;
        if (weft_executor_submit(pool, noop, (void *)(uintptr_t)i, &f) != WEFT_OK ||
            weft_future_result(f, &r) != WEFT_OK || (uintptr_t)r != (uintptr_t)i) {
            fprintf(stderr, "bench_mpi: a no-op failed\n");
            exit(1);
        }
        weft_future_release(f);
    }
    return (weft_perf_counter() - t) / (double)n * 1e9;
}

/* What weft_sleep(0.001) really takes here (timer slack, wake-up): the
 * tasks' own floor, which no pool can beat. */
static double measured_sleep_ms(void)
{
    double t = weft_perf_counter();
    for (int i = 0; i < 200; i++)
        weft_sleep(0.001);
    return (weft_perf_counter() - t) / 200 * 1000;
}

static double map_efficiency(weft_executor *pool, long tasks, int workers)
{
    void **args = malloc((size_t)tasks * sizeof *args);
    for (long i = 0; i < tasks; i++)
        args[i] = (void *)(uintptr_t)i;
    weft_map_options mo = {.chunksize = 1};
    double t = weft_perf_counter();
    weft_map *it;
    if (weft_executor_map(pool, sleep_1ms, args, (size_t)tasks, WEFT_FOREVER, &mo, &it) != WEFT_OK)
        exit(1);
    void *r;
    for (long i = 0; i < tasks; i++)
        if (weft_map_next(it, &r) != WEFT_OK || (uintptr_t)r != (uintptr_t)i) {
            fprintf(stderr, "bench_mpi: map result %ld wrong\n", i);
            exit(1);
        }
    weft_map_free(it);
    double took = weft_perf_counter() - t;
    free(args);
    return (double)tasks * 0.001 / workers / took * 1000;
}

static void report(const char *workload, const char *impl, double *v, int reps, double cpu,
                   const char *note)
{
    qsort(v, (size_t)reps, sizeof *v, by_value);
    printf("%s,%s,%.1f,%.1f,%.1f,%.1f,%s\n", workload, impl, v[reps / 2], v[0], v[reps - 1], cpu,
           note);
}

static void measure(weft_executor *pool, const char *impl, int workers, int reps, long items,
                    long tasks)
{
    double v[64], cpu0;
    noop_trips(pool, items / 10 + 1); /* warm up */
    cpu0 = cpu_seconds();
    for (int r = 0; r < reps; r++)
        v[r] = noop_trips(pool, items);
    report("W14 no-op", impl, v, reps, (cpu_seconds() - cpu0) / reps / (double)items * 1e9,
           "cpu_ns: rank 0's");
    cpu0 = cpu_seconds();
    for (int r = 0; r < reps; r++)
        v[r] = map_efficiency(pool, tasks, workers);
    double sleep_ms = measured_sleep_ms();
    char note[160];
    snprintf(note, sizeof note,
             "%ld x 1 ms; %d workers; chunksize 1; a 1 ms sleep takes %.3f ms here: %.3f of that ideal",
             tasks, workers, sleep_ms, v[reps / 2] / 1000 * sleep_ms);
    report("W14 map", impl, v, reps, (cpu_seconds() - cpu0) / reps / (double)tasks * 1e9, note);
}

int main(int argc, char **argv)
{
    weft_mpi_register_task("noop", noop);
    weft_mpi_register_task("sleep_1ms", sleep_1ms);
    if (weft_mpi_serve_or_run(&argc, &argv) != WEFT_OK)
        return 1;
    int reps = 3;
    long items = 20000, tasks = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--items") == 0)
            items = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--tasks") == 0)
            tasks = atol(argv[i + 1]);
    }
    if (reps < 1 || reps > 64 || items < 1 || tasks < 1)
        return 2;
    int workers = weft_mpi_world_size() - 1;
    if (workers < 1) {
        fprintf(stderr, "bench_mpi: run it under mpiexec -n 4\n");
        return 2;
    }
    /* Like for like with mpi4py.futures, whose ranks run tasks themselves;
     * then weft's default, each rank's tasks in a process pool of its own
     * (a crash fails one task instead of ending the job). */
    weft_executor *pool;
    weft_mpi_pool_options in_rank = {.run_in_rank = true};
    if (weft_mpi_pool_new(&pool, &in_rank) != WEFT_OK)
        return 1;
    measure(pool, "weft", workers, reps, items, tasks);
    weft_executor_free(pool);
    if (weft_mpi_pool_new(&pool, NULL) != WEFT_OK)
        return 1;
    measure(pool, "weft isolated (a process pool in each rank)", workers, reps, items, tasks);
    weft_executor_free(pool);
    weft_process_pool_options po = {.max_workers = workers};
    if (weft_process_pool_new(&pool, &po) != WEFT_OK)
        return 1;
    measure(pool, "weft process pool (one machine)", workers, reps, items, tasks);
    weft_executor_free(pool);
    return 0;
}
