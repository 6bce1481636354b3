/* SPDX-License-Identifier: MIT */
/* cpu_three_ways.c — the guides' CPU-bound program, sum(i * i for i in
 * range(n)) over 8 values of n from 10,000,000, run three ways: on one
 * thread, on the thread pool, and on the process pool.
 *
 * In Python the GIL makes the thread pool no faster than one thread, and
 * the process pool is how CPU-bound work gets parallel.  C has no GIL: the
 * thread pool already uses every core.  The process pool gets about the
 * same speed-up, plus isolation — a task that crashes takes down only its
 * worker (shown at the end) — at the cost of a fork per worker and copying
 * arguments and results between processes.
 *
 * Usage: cpu_three_ways [n]   (default 10000000; the 8 values are n..n+7)
 */
#include <weft.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define VALUES 8

/* Python's cpu_bound_task(number).  The arguments and results are numbers,
 * so they cross to a worker process as they are. */
static void *cpu_bound_task(void *arg)
{
    uint64_t n = (uintptr_t)arg, sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += i * i;
#if defined(__GNUC__) || defined(__clang__)
        __asm__ volatile("" : "+r"(sum)); /* keep the loop a loop, as Python's */
#endif
    }
    return (void *)(uintptr_t)sum;
}

/* Run the 8 tasks with executor.map (or in this thread when pool is NULL);
 * returns the seconds taken and stores the results. */
static double run(weft_executor *pool, long base, uint64_t results[VALUES])
{
    void *args[VALUES];
    for (int i = 0; i < VALUES; i++)
        args[i] = (void *)(uintptr_t)(base + i);
    double start = weft_perf_counter();
    if (!pool) {
        for (int i = 0; i < VALUES; i++)
            results[i] = (uintptr_t)cpu_bound_task(args[i]);
        return weft_perf_counter() - start;
    }
    weft_map *it;
    if (weft_executor_map(pool, cpu_bound_task, args, VALUES, WEFT_FOREVER, NULL, &it) !=
        WEFT_OK) {
        fprintf(stderr, "map failed\n");
        exit(1);
    }
    void *r;
    for (int i = 0; weft_map_next(it, &r) == WEFT_OK; i++)
        results[i] = (uintptr_t)r;
    weft_map_free(it);
    return weft_perf_counter() - start;
}

static void *crash(void *arg)
{
    (void)arg;
    raise(SIGSEGV); /* a bug in the task */
    return NULL;
}

int main(int argc, char **argv)
{
    long base = argc > 1 ? atol(argv[1]) : 10000000;
    if (base < 1) {
        fprintf(stderr, "usage: %s [n >= 1]\n", argv[0]);
        return 2;
    }
    uint64_t one[VALUES], threads[VALUES], processes[VALUES];

    double t_one = run(NULL, base, one);
    printf("one thread:    %.2f s\n", t_one);

    weft_executor *thread_pool, *process_pool;
    weft_thread_pool_new(&thread_pool, NULL); /* ThreadPoolExecutor() */
    double t_threads = run(thread_pool, base, threads);
    weft_executor_free(thread_pool);
    printf("thread pool:   %.2f s (%.1fx)\n", t_threads, t_one / t_threads);

    if (weft_process_pool_new(&process_pool, NULL) != WEFT_OK) { /* ProcessPoolExecutor() */
        fprintf(stderr, "could not start the process pool\n");
        return 1;
    }
    double t_processes = run(process_pool, base, processes);
    printf("process pool:  %.2f s (%.1fx)\n", t_processes, t_one / t_processes);

    for (int i = 0; i < VALUES; i++)
        if (threads[i] != one[i] || processes[i] != one[i]) {
            printf("results differ at %d\n", i);
            return 1;
        }
    printf("all three computed the same %d sums\n", VALUES);

    /* Isolation: a crashing task fails its own future; the pool goes on. */
    weft_future *f;
    weft_executor_submit(process_pool, crash, NULL, &f);
    if (weft_future_result(f, NULL) == WEFT_EFAILED)
        printf("a crashing task: %s\n", weft_future_error_message(f));
    weft_future_release(f);
    void *r;
    weft_executor_submit(process_pool, cpu_bound_task, (void *)(uintptr_t)10, &f);
    weft_future_result(f, &r);
    weft_future_release(f);
    printf("the process pool still works: sum of squares below 10 = %lu\n",
           (unsigned long)(uintptr_t)r);
    weft_executor_free(process_pool);
    return 0;
}
