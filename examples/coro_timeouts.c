/* SPDX-License-Identifier: MIT */
/* coro_timeouts.c — giving up on coroutines: wait_for, a deadline scope
 * (asyncio.timeout), cancelling a task that cleans up, a task that refuses
 * one cancellation (uncancel), and a task group in which one task fails.
 *
 * Cancelling a task makes its current (or next) blocking weft call return
 * WEFT_ECANCELLED: C's form of the CancelledError raised at its `await`.
 * The task cleans up and returns; while the request is outstanding
 * (weft_task_cancelling > 0) that ends it cancelled, as letting the
 * exception propagate does in Python.
 *
 * Usage: coro_timeouts [seconds]   (default 0.1: the short deadlines)
 */
#include <weft.h>
#include <weft/coro.h>

#include <stdio.h>
#include <stdlib.h>

static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

/* A slow coroutine: waits 20 times the deadline, and says how it ended. */
static void *slow(void *arg)
{
    double seconds = *(const double *)arg;
    int rc = weft_sleep(seconds * 20);
    if (rc == WEFT_ECANCELLED) { /* except CancelledError: */
        /* The request was delivered once: the cleanup's own waits work. */
        int cleanup = weft_sleep(0.001);
        printf("  slow: cancelled while waiting, cleaned up (its wait: %s)\n",
               weft_status_name(cleanup));
        return NULL; /* cancelling() > 0: the task ends cancelled (raise) */
    }
    return "slow result";
}

/* 1. result = await asyncio.wait_for(slow(), timeout=seconds) */
static void wait_for_slow(double seconds)
{
    weft_future *t;
    check(weft_spawn(slow, &seconds, NULL, &t), "weft_spawn");
    double start = weft_perf_counter();
    int rc = weft_wait_for(t, seconds, NULL); /* cancels t, waits for it to end */
    printf("wait_for: %s after %.2f s; the task is %s\n", weft_status_name(rc),
           weft_perf_counter() - start, weft_future_cancelled(t) ? "cancelled" : "not cancelled");
    weft_future_release(t);
}

/* 2. async with asyncio.timeout(seconds): await asyncio.sleep(20 * seconds) */
static void deadline_scope(double seconds)
{
    weft_timeout *scope;
    double start = weft_perf_counter();
    check(weft_timeout_enter(seconds, &scope), "weft_timeout_enter");
    int rc = weft_sleep(seconds * 20); /* cut short: WEFT_ECANCELLED */
    bool expired = weft_timeout_expired(scope);
    int left = weft_timeout_exit(scope); /* leaving the block: TimeoutError */
    printf("timeout: the sleep returned %s after %.2f s (expired: %s), leaving the scope %s\n",
           weft_status_name(rc), weft_perf_counter() - start, expired ? "yes" : "no",
           weft_status_name(left));
    /* The scope's cancellation is withdrawn on exit: this task carries on. */
    printf("  cancellation requests left on this task: %d\n",
           weft_task_cancelling(weft_current_task()));
}

/* 3. task.cancel("shutting down"), and a task that swallows one request. */
static void *stubborn(void *arg)
{
    double seconds = *(const double *)arg;
    int rc = weft_sleep(seconds * 20);
    if (rc == WEFT_ECANCELLED) {
        /* except CancelledError: task.uncancel(); carry on */
        int left = weft_task_uncancel(weft_current_task());
        printf("  stubborn: cancelled, refusing it (%d requests left)\n", left);
        rc = weft_sleep(seconds);
    }
    return rc == WEFT_OK ? "finished anyway" : weft_fail(rc, "second sleep: %s",
                                                           weft_strerror(rc));
}

static void cancel_two(double seconds)
{
    weft_future *polite, *refuser;
    check(weft_spawn(slow, &seconds, NULL, &polite), "weft_spawn");
    check(weft_spawn(stubborn, &seconds, NULL, &refuser), "weft_spawn");
    check(weft_sleep(seconds), "weft_sleep"); /* let both start waiting */
    weft_task_cancel(polite, "shutting down");
    weft_task_cancel(refuser, "shutting down");
    void *result;
    int rc = weft_future_result(polite, &result);
    printf("cancel: the slow task ended %s (message: '%s')\n", weft_status_name(rc),
           weft_future_error_message(polite));
    rc = weft_future_result(refuser, &result);
    printf("cancel: the stubborn task ended %s: %s\n", weft_status_name(rc),
           rc == WEFT_OK ? (char *)result : weft_future_error_message(refuser));
    weft_future_release(polite);
    weft_future_release(refuser);
}

/* 4. async with asyncio.TaskGroup() as g: one task fails, the rest are
 * cancelled, and the group reports the failure. */
static void *parse(void *arg)
{
    double seconds = *(const double *)arg;
    weft_sleep(seconds);
    return weft_fail(WEFT_EINVAL, "bad record 42");
}

static void failing_group(double seconds)
{
    weft_task_group *group;
    check(weft_task_group_new(&group), "weft_task_group_new");
    weft_future *tasks[3];
    weft_task_options parse_options = WEFT_TASK_OPTIONS_INIT;
    parse_options.name = "parse";
    double start = weft_perf_counter();
    check(weft_task_group_spawn(group, slow, &seconds, NULL, &tasks[0]), "spawn");
    check(weft_task_group_spawn(group, parse, &seconds, &parse_options, &tasks[1]), "spawn");
    check(weft_task_group_spawn(group, slow, &seconds, NULL, &tasks[2]), "spawn");
    int rc = weft_task_group_wait(group); /* leaving the async with */
    weft_future *failed[3];
    size_t n = weft_task_group_failures(group, failed, 3);
    printf("task group: %s after %.2f s; %zu failed ('%s': %s); the others cancelled: %s, %s\n",
           weft_status_name(rc), weft_perf_counter() - start, n,
           n ? weft_task_name(failed[0]) : "-", n ? weft_future_error_message(failed[0]) : "-",
           weft_future_cancelled(tasks[0]) ? "yes" : "no",
           weft_future_cancelled(tasks[2]) ? "yes" : "no");
    for (int i = 0; i < 3; i++)
        weft_future_release(tasks[i]);
    check(weft_task_group_free(group), "weft_task_group_free");
    /* The group cancelled this task too, to wake it; it withdrew that. */
    printf("  cancellation requests left on this task: %d\n",
           weft_task_cancelling(weft_current_task()));
}

static void *amain(void *arg)
{
    double seconds = *(const double *)arg;
    wait_for_slow(seconds);
    deadline_scope(seconds);
    cancel_two(seconds);
    failing_group(seconds);
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.1;
    if (!(seconds > 0 && seconds <= 10)) {
        fprintf(stderr, "usage: %s [seconds, above 0, up to 10]\n", argv[0]);
        return 2;
    }
    check(weft_run(amain, &seconds, NULL, NULL), "weft_run");
    return 0;
}
