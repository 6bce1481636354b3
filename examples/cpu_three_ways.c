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

#include "cpu_bound_task.h"

/* A weft call or a task that failed: say which and why, and end the
 * program. */
static void fail(const char *what, const char *why)
{
    fprintf(stderr, "%s: %s\n", what, why);
    exit(1);
}

static void check(int rc, const char *what)
{
    if (rc != WEFT_OK)
        fail(what, weft_strerror(rc));
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
    check(weft_executor_map(pool, cpu_bound_task, args, VALUES, WEFT_FOREVER, NULL, &it),
          "weft_executor_map");
    void *r;
    int rc;
    for (int i = 0; (rc = weft_map_next(it, &r)) != WEFT_ESTOP; i++) {
        if (rc != WEFT_OK) /* no sum to compare (a worker process may have died) */
            fail("cpu_bound_task",
                 rc == WEFT_EFAILED ? weft_map_error_message(it) : weft_strerror(rc));
        results[i] = (uintptr_t)r;
    }
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
    /* ThreadPoolExecutor() */
    check(weft_thread_pool_new(&thread_pool, NULL), "weft_thread_pool_new");
    double t_threads = run(thread_pool, base, threads);
    weft_executor_free(thread_pool);
    printf("thread pool:   %.2f s (%.1fx)\n", t_threads, t_one / t_threads);

    /* ProcessPoolExecutor() */
    check(weft_process_pool_new(&process_pool, NULL), "weft_process_pool_new");
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
    check(weft_executor_submit(process_pool, crash, NULL, &f), "weft_executor_submit");
    int rc = weft_future_result(f, NULL);
    if (rc != WEFT_EFAILED) /* the one outcome expected here */
        fail("a crashing task", rc == WEFT_OK ? "did not fail" : weft_strerror(rc));
    printf("a crashing task: %s\n", weft_future_error_message(f));
    weft_future_release(f);
    void *r;
    check(weft_executor_submit(process_pool, cpu_bound_task, (void *)(uintptr_t)10, &f),
          "weft_executor_submit");
    if ((rc = weft_future_result(f, &r)) != WEFT_OK)
        fail("cpu_bound_task",
             rc == WEFT_EFAILED ? weft_future_error_message(f) : weft_strerror(rc));
    weft_future_release(f);
    printf("the process pool still works: sum of squares below 10 = %lu\n",
           (unsigned long)(uintptr_t)r);
    weft_executor_free(process_pool);
    return 0;
}
