/* SPDX-License-Identifier: MIT */
/* threads_and_coroutines.c — threads and coroutines sharing one queue.
 * Producer threads put jobs into a weft_queue; many consumer coroutines on
 * one thread's loop take them, each job a short wait (a request to some
 * server), and put the results into a second queue, which a collector
 * thread adds up.
 *
 * The same weft_queue serves both sides: a thread that calls
 * weft_queue_put on a full queue blocks its thread; a coroutine that calls
 * weft_queue_get on an empty one suspends only itself, and the loop runs
 * the other consumers.  No second family of async queues is needed
 * (Python needs asyncio.Queue plus call_soon_threadsafe for this).
 *
 * Usage: threads_and_coroutines [jobs] [consumers] [seconds-per-job]
 *        (default 2000 100 0.01)
 */
#include <weft.h>
#include <weft/coro.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PRODUCERS 4

static weft_queue *jobs;    /* producer threads -> consumer coroutines */
static weft_queue *results; /* consumer coroutines -> the collector thread */
static long job_count;

/* A weft call that failed: stop both queues, so that no thread waits
 * forever on them (exit joins the threads), and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        if (jobs)
            weft_queue_shutdown(jobs, true);
        if (results)
            weft_queue_shutdown(results, true);
        exit(1);
    }
}

/* ---- the threads ------------------------------------------------------ */

/* Producer p puts jobs p+1, p+1+PRODUCERS, ...: all of 1..job_count in all. */
static void *produce(void *arg)
{
    for (long n = (long)(intptr_t)arg + 1; n <= job_count; n += PRODUCERS)
        if (weft_queue_put(jobs, (void *)(intptr_t)n) != WEFT_OK) /* blocks while full */
            break;
    return NULL;
}

/* The collector adds up the results until the queue is shut down and empty. */
struct total {
    long count;
    long long sum;
};

static void *collect(void *arg)
{
    struct total *total = arg;
    void *item;
    while (weft_queue_get(results, &item) == WEFT_OK) { /* WEFT_ESHUTDOWN ends it */
        total->count++;
        total->sum += (long long)(intptr_t)item;
    }
    return NULL;
}

static weft_thread *start_thread(weft_thread_fn fn, void *arg)
{
    weft_thread *t;
    check(weft_thread_new(&t, fn, arg, NULL), "weft_thread_new");
    check(weft_thread_start(t), "weft_thread_start");
    return t;
}

/* ---- the coroutines --------------------------------------------------- */

struct consumer {
    double seconds; /* how long a job waits */
    long handled;
};

static void *consume(void *arg)
{
    struct consumer *me = arg; /* on the heap: safe with any stack mode */
    void *job;
    while (weft_queue_get(jobs, &job) == WEFT_OK) { /* suspends this coroutine only */
        int rc = weft_sleep(me->seconds);          /* the request */
        if (rc == WEFT_OK)
            rc = weft_queue_put(results, job);
        if (rc != WEFT_OK)
            return weft_fail(rc, "job %ld: %s", (long)(intptr_t)job, weft_strerror(rc));
        me->handled++;
    }
    return NULL; /* WEFT_ESHUTDOWN: shut down and drained */
}

struct setup {
    long consumers;
    double seconds;
};

static void *amain(void *arg)
{
    const struct setup *setup = arg;
    double start = weft_perf_counter();
    struct total total = {0, 0};
    weft_thread *collector = start_thread(collect, &total);
    weft_thread *producers[PRODUCERS];
    for (intptr_t p = 0; p < PRODUCERS; p++)
        producers[p] = start_thread(produce, (void *)p);

    struct consumer *consumers = calloc((size_t)setup->consumers, sizeof *consumers);
    weft_future **tasks = calloc((size_t)setup->consumers, sizeof *tasks);
    if (!consumers || !tasks)
        check(WEFT_ENOMEM, "calloc");
    for (long i = 0; i < setup->consumers; i++) {
        consumers[i].seconds = setup->seconds;
        check(weft_spawn(consume, &consumers[i], NULL, &tasks[i]), "weft_spawn");
    }

    /* Joining a thread from a coroutine suspends the coroutine: the
     * consumers keep running while this one waits for the producers. */
    for (int p = 0; p < PRODUCERS; p++) {
        check(weft_thread_join(producers[p], NULL), "weft_thread_join");
        weft_thread_free(producers[p]);
    }
    check(weft_queue_shutdown(jobs, false), "weft_queue_shutdown"); /* no more jobs */
    check(weft_gather(tasks, (size_t)setup->consumers, false, NULL), "weft_gather");
    check(weft_queue_shutdown(results, false), "weft_queue_shutdown"); /* no more results */
    check(weft_thread_join(collector, NULL), "weft_thread_join");
    weft_thread_free(collector);
    double took = weft_perf_counter() - start;

    long least = job_count, most = 0;
    for (long i = 0; i < setup->consumers; i++) {
        least = consumers[i].handled < least ? consumers[i].handled : least;
        most = consumers[i].handled > most ? consumers[i].handled : most;
        weft_future_release(tasks[i]);
    }
    free(tasks);
    free(consumers);
    long long expected = (long long)job_count * (job_count + 1) / 2;
    printf("%d producer threads -> %ld consumer coroutines (each job %.3f s) -> 1 collector "
           "thread\n",
           PRODUCERS, setup->consumers, setup->seconds);
    printf("  each coroutine handled %ld to %ld jobs\n", least, most);
    printf("collected %ld of %ld results, sum %lld (expected %lld), in %.2f s (one at a time: "
           "%.2f s)\n",
           total.count, job_count, total.sum, expected, took, (double)job_count * setup->seconds);
    return total.count == job_count && total.sum == expected ? NULL
                                                             : weft_fail(0, "results lost");
}

int main(int argc, char **argv)
{
    job_count = argc > 1 ? atol(argv[1]) : 2000;
    struct setup setup = {argc > 2 ? atol(argv[2]) : 100, argc > 3 ? atof(argv[3]) : 0.01};
    if (job_count < 1 || job_count > 10000000 || setup.consumers < 1 ||
        setup.consumers > 100000 || !(setup.seconds >= 0 && setup.seconds <= 1)) {
        fprintf(stderr, "usage: %s [jobs 1..1e7] [consumers 1..100000] [seconds 0..1]\n",
                argv[0]);
        return 2;
    }
    check(weft_queue_new(&jobs, 64), "weft_queue_new"); /* bounded: producers wait */
    check(weft_queue_new(&results, 0), "weft_queue_new");
    int rc = weft_run(amain, &setup, NULL, NULL);
    if (rc != WEFT_OK)
        fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    weft_queue_free(jobs);
    weft_queue_free(results);
    return rc == WEFT_OK ? 0 : 1;
}
