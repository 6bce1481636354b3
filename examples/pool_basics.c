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

/* A weft call or a task that failed: say which and why, and end the
 * program (the pool's tasks still finish: exit shuts it down). */
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

/* A future's result that was not WEFT_OK: the task's own message when it
 * failed (WEFT_EFAILED), else the status's. */
static void check_result(weft_future *f, int rc)
{
    if (rc != WEFT_OK)
        fail("do_something",
             rc == WEFT_EFAILED ? weft_future_error_message(f) : weft_strerror(rc));
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
    weft_executor *executor; /* ThreadPoolExecutor(): min(32, CPUs + 4) workers */
    check(weft_thread_pool_new(&executor, NULL), "weft_thread_pool_new");

    /* executor.map(do_something, seconds): results in input order. */
    double start = weft_perf_counter();
    weft_map *results;
    check(weft_executor_map(executor, do_something, seconds, 5, WEFT_FOREVER, NULL, &results),
          "weft_executor_map");
    printf("map order:");
    void *result;
    int rc, failed = 0;
    while ((rc = weft_map_next(results, &result)) != WEFT_ESTOP) {
        if (rc != WEFT_OK) { /* this call failed; the others go on */
            fprintf(stderr, "do_something: %s\n",
                    rc == WEFT_EFAILED ? weft_map_error_message(results) : weft_strerror(rc));
            failed++;
            continue;
        }
        printf(" %s", (const char *)result + sizeof "Done sleeping " - 1);
    }
    weft_map_free(results);
    printf("  (%.2f units)\n", (weft_perf_counter() - start) / (unit ? unit : 1));
    if (failed) {
        fprintf(stderr, "%d of 5 calls failed\n", failed);
        return 1;
    }

    /* f = executor.submit(do_something, n); f.result() blocks until done. */
    weft_future *f1, *f2;
    check(weft_executor_submit(executor, do_something, (void *)2, &f1), "weft_executor_submit");
    check(weft_executor_submit(executor, do_something, (void *)1, &f2), "weft_executor_submit");
    check_result(f1, weft_future_result(f1, &result));
    printf("submit: %s", (const char *)result);
    check_result(f2, weft_future_result(f2, &result));
    printf(", %s\n", (const char *)result);
    weft_future_release(f1);
    weft_future_release(f2);

    /* as_completed(futures): each future as soon as it is done. */
    weft_future *futures[5];
    for (int i = 0; i < 5; i++)
        check(weft_executor_submit(executor, do_something, seconds[i], &futures[i]),
              "weft_executor_submit");
    weft_as_completed *it;
    check(weft_as_completed_new(&it, futures, 5, WEFT_FOREVER), "weft_as_completed_new");
    printf("as_completed order:");
    weft_future *done;
    while ((rc = weft_as_completed_next(it, &done)) == WEFT_OK) {
        check_result(done, weft_future_result(done, &result)); /* done: does not wait */
        printf(" %s", (const char *)result + sizeof "Done sleeping " - 1);
        weft_future_release(done);
    }
    printf("\n");
    if (rc != WEFT_ESTOP) /* WEFT_ESTOP: every future was yielded */
        check(rc, "weft_as_completed_next");
    weft_as_completed_free(it);
    for (int i = 0; i < 5; i++)
        weft_future_release(futures[i]);

    /* Leaving Python's `with` block: shut down, waiting for the workers. */
    weft_executor_free(executor);
    printf("map keeps input order; as_completed gives the shortest first\n");
    return 0;
}
