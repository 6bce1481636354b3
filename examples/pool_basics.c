/* SPDX-License-Identifier: MIT */
/* pool_basics.c — the guides' thread-pool programs: executor.map, submit
 * and result, as_completed, and how map and submit differ.
 *
 * Five tasks sleep 5, 4, 3, 2 and 1 "seconds" (scaled by the argument, so
 * that a test can run them fast).  map hands results back in input order;
 * as_completed hands futures back as they finish: shortest first.
 *
 * Usage: pool_basics [seconds-per-unit]   (default 1.0)
 */
#include <weft.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static double unit = 1.0; /* seconds per "second" of the guides' program */

/* Python's do_something(seconds): sleeps, returns "Done sleeping N". */
static void *do_something(void *arg)
{
    static const char *const done[] = {"Done sleeping 0", "Done sleeping 1", "Done sleeping 2",
                                       "Done sleeping 3", "Done sleeping 4", "Done sleeping 5"};
    uintptr_t seconds = (uintptr_t)arg;
    weft_sleep((double)seconds * unit);
    return (void *)done[seconds];
}

int main(int argc, char **argv)
{
    if (argc > 1)
        unit = atof(argv[1]);
    if (!(unit >= 0 && unit <= 10)) {
        fprintf(stderr, "usage: %s [seconds-per-unit, 0..10]\n", argv[0]);
        return 2;
    }
    void *seconds[] = {(void *)5, (void *)4, (void *)3, (void *)2, (void *)1};
    weft_executor *executor;
    weft_thread_pool_new(&executor, NULL); /* ThreadPoolExecutor(): min(32, CPUs + 4) */

    /* executor.map(do_something, seconds): results in input order. */
    double start = weft_perf_counter();
    weft_map *results;
    weft_executor_map(executor, do_something, seconds, 5, WEFT_FOREVER, NULL, &results);
    printf("map order:");
    void *result;
    while (weft_map_next(results, &result) == WEFT_OK)
        printf(" %s", (const char *)result + sizeof "Done sleeping " - 1);
    weft_map_free(results);
    printf("  (%.2f units)\n", (weft_perf_counter() - start) / (unit ? unit : 1));

    /* f = executor.submit(do_something, n); f.result() blocks until done. */
    weft_future *f1, *f2;
    weft_executor_submit(executor, do_something, (void *)2, &f1);
    weft_executor_submit(executor, do_something, (void *)1, &f2);
    weft_future_result(f1, &result);
    printf("submit: %s", (const char *)result);
    weft_future_result(f2, &result);
    printf(", %s\n", (const char *)result);
    weft_future_release(f1);
    weft_future_release(f2);

    /* as_completed(futures): each future as soon as it is done. */
    weft_future *futures[5];
    for (int i = 0; i < 5; i++)
        weft_executor_submit(executor, do_something, seconds[i], &futures[i]);
    weft_as_completed *it;
    weft_as_completed_new(&it, futures, 5, WEFT_FOREVER);
    printf("as_completed order:");
    weft_future *done;
    while (weft_as_completed_next(it, &done) == WEFT_OK) { /* until WEFT_ESTOP */
        weft_future_result(done, &result);
        printf(" %s", (const char *)result + sizeof "Done sleeping " - 1);
        weft_future_release(done);
    }
    printf("\n");
    weft_as_completed_free(it);
    for (int i = 0; i < 5; i++)
        weft_future_release(futures[i]);

    /* Leaving Python's `with` block: shut down, waiting for the workers. */
    weft_executor_free(executor);
    printf("map keeps input order; as_completed gives the shortest first\n");
    return 0;
}
