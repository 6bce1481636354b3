/* SPDX-License-Identifier: MIT */
/* coro_basics.c — the guides' asyncio programs in C: three coroutines run
 * together with gather, a task created, left to run while the program does
 * something else, then awaited, and a blocking call handed to a thread with
 * to_thread.  Last, the same blocking call made in a coroutine, to show
 * what asyncio warns about: it stops the whole loop.
 *
 * A coroutine here is an ordinary C function (a weft_task_fn) run as a task
 * on the thread's event loop.  There is no `await`: its weft calls
 * (weft_sleep, weft_future_result, weft_gather...) suspend the task, and
 * the loop runs the other tasks meanwhile.
 *
 * Usage: coro_basics [seconds]   (default 1.0: the longest sleep)
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <weft.h>
#include <weft/coro.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A weft call that failed: say which and why, and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

/* ---- 1. gather: three tasks at once ----------------------------------- */

struct job {
    const char *name;
    double seconds;
    char result[32];
};

/* Python: async def task(name): ...; await asyncio.sleep(2); return ... */
static void *task(void *arg)
{
    struct job *job = arg;
    printf("  task %s starting (%.2f s of waiting)\n", job->name, job->seconds);
    int rc = weft_sleep(job->seconds); /* suspends this task only */
    if (rc != WEFT_OK)
        return weft_fail(rc, "task %s: %s", job->name, weft_strerror(rc));
    printf("  task %s finished\n", job->name);
    snprintf(job->result, sizeof job->result, "Result from %s", job->name);
    return job->result;
}

static void gather_three(double seconds)
{
    /* Locals of this task, pointed at by the others: fine with stacks of
     * their own (the default), which stay put while the task lives. */
    struct job jobs[3] = {{"A", seconds * 0.6, ""}, {"B", seconds, ""}, {"C", seconds * 0.8, ""}};
    weft_future *tasks[3];
    double start = weft_perf_counter();
    for (int i = 0; i < 3; i++) /* asyncio.create_task(task("A")) ... */
        check(weft_spawn(task, &jobs[i], NULL, &tasks[i]), "weft_spawn");
    void *results[3];
    /* results = await asyncio.gather(...): in order, whoever ends first */
    check(weft_gather(tasks, 3, false, results), "weft_gather");
    double took = weft_perf_counter() - start;
    printf("  results: ['%s', '%s', '%s']\n", (char *)results[0], (char *)results[1],
           (char *)results[2]);
    for (int i = 0; i < 3; i++)
        weft_future_release(tasks[i]);
    double sum = jobs[0].seconds + jobs[1].seconds + jobs[2].seconds;
    printf("gather: 3 tasks in %.2f s: the longest waits %.2f s, all three %.2f s in a row\n",
           took, jobs[1].seconds, sum);
}

/* ---- 2. create_task, other work, then await ---------------------------- */

struct nap {
    double seconds;
    bool started;
};

/* Python: async def my_coroutine(): await asyncio.sleep(2); return "Done" */
static void *my_coroutine(void *arg)
{
    struct nap *nap = arg;
    nap->started = true;
    int rc = weft_sleep(nap->seconds);
    return rc == WEFT_OK ? "Done" : weft_fail(rc, "sleep: %s", weft_strerror(rc));
}

static void create_then_await(double seconds)
{
    double start = weft_perf_counter();
    struct nap nap = {seconds, false};
    weft_future *t; /* task = asyncio.create_task(my_coroutine()) */
    check(weft_spawn(my_coroutine, &nap, NULL, &t), "weft_spawn");
    /* The task has not run yet: it starts when this one first suspends. */
    printf("  right after create_task the task has %s\n",
           nap.started ? "started" : "not started yet");
    printf("  Doing something else while waiting...\n");
    check(weft_sleep(seconds * 0.5), "weft_sleep"); /* the other work: it waits too */
    printf("  after the other work's first wait it has %s\n",
           nap.started ? "started" : "not started yet");
    void *result;
    check(weft_future_result(t, &result), "weft_future_result"); /* result = await task */
    weft_future_release(t);
    printf("create_task: task result: %s, after %.2f s (the other work took %.2f s of it)\n",
           (char *)result, weft_perf_counter() - start, seconds * 0.5);
}

/* ---- 3 and 4. a blocking call: on a thread, then on the loop ---------- */

/* A call that is not weft's: it blocks its thread, and knows no loop. */
static void blocking_sleep(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

struct square {
    double seconds;
    long n;
};

/* Python: def cpu_bound_task(n): time.sleep(n); return n * n */
static void *cpu_bound_task(void *arg)
{
    const struct square *sq = arg;
    blocking_sleep(sq->seconds);
    return (void *)(intptr_t)(sq->n * sq->n);
}

/* A coroutine that ticks every `interval` seconds until cancelled: it
 * shows whether the loop is free to run tasks. */
struct ticker {
    double interval;
    int ticks;
};

static void *tick(void *arg)
{
    struct ticker *ticker = arg;
    while (weft_sleep(ticker->interval) == WEFT_OK) /* WEFT_ECANCELLED ends it */
        ticker->ticks++;
    return NULL; /* returning while cancelled: the task ends cancelled */
}

static void stop_ticker(weft_future *t)
{
    weft_task_cancel(t, NULL);
    int rc = weft_future_result(t, NULL); /* wait for it to end */
    if (rc != WEFT_ECANCELLED)
        fprintf(stderr, "the ticker ended with %s, not cancelled\n", weft_status_name(rc));
    weft_future_release(t);
}

static void blocking_call(double seconds)
{
    struct ticker ticker = {seconds / 10, 0};
    weft_future *t;
    check(weft_spawn(tick, &ticker, NULL, &t), "weft_spawn");

    /* result = await asyncio.to_thread(cpu_bound_task, 7) */
    struct square sq = {seconds, 7};
    double start = weft_perf_counter();
    int before = ticker.ticks;
    void *result;
    check(weft_to_thread(cpu_bound_task, &sq, &result), "weft_to_thread");
    printf("to_thread: result %ld after %.2f s; meanwhile the loop ran the ticker %d times\n",
           (long)(intptr_t)result, weft_perf_counter() - start, ticker.ticks - before);

    /* The mistake: the same call made here, on the loop's thread. */
    start = weft_perf_counter();
    before = ticker.ticks;
    blocking_sleep(seconds);
    printf("blocking the loop: nanosleep in a coroutine took %.2f s and the ticker ticked %d "
           "times meanwhile\n",
           weft_perf_counter() - start, ticker.ticks - before);
    stop_ticker(t);
}

/* ---- main ------------------------------------------------------------ */

/* Python: async def main(): ... */
static void *amain(void *arg)
{
    double seconds = *(const double *)arg;
    printf("1. three coroutines gathered (asyncio.gather):\n");
    gather_three(seconds);
    printf("\n2. a task created, then other work, then awaited (asyncio.create_task):\n");
    create_then_await(seconds);
    printf("\n3. a blocking call on a thread (asyncio.to_thread), then on the loop:\n");
    blocking_call(seconds);
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(seconds > 0 && seconds <= 60)) {
        fprintf(stderr, "usage: %s [seconds, above 0, up to 60]\n", argv[0]);
        return 2;
    }
    check(weft_run(amain, &seconds, NULL, NULL), "weft_run"); /* asyncio.run(main()) */
    return 0;
}
