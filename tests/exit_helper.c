/* SPDX-License-Identifier: MIT */
/* exit_helper.c — tiny programs whose exit behaviour the thread and timer
 * tests check from outside (the Python behaviours (docs/python.md) Thread 19-21, Timer).
 * Usage: exit_helper MODE */
#define _POSIX_C_SOURCE 200809L
#include "weft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say(const char *text)
{
    printf("%s\n", text);
    fflush(stdout);
}

static void *sleep_then_say(void *text)
{
    weft_sleep(0.3);
    say(text);
    return NULL;
}

static void *join_main_then_say(void *unused)
{
    (void)unused;
    weft_thread_join(weft_main_thread(), NULL);
    say("thread saw main end");
    return NULL;
}

static void *start_grandchild(void *unused)
{
    (void)unused;
    weft_thread *t;
    weft_thread_new(&t, sleep_then_say, "end of grandchild", NULL);
    weft_thread_start(t);
    weft_thread_free(t);
    return NULL;
}

static void *busy_daemon(void *unused)
{
    (void)unused;
    FILE *sink = fopen("/dev/null", "w");
    for (;;) {
        fputs("working\n", sink);
        fflush(sink);
        weft_sleep(0.001);
    }
    return NULL;
}

static void timer_says(void *text) { say(text); }

static void *sleep_then_say_apple(void *unused)
{
    (void)unused;
    weft_sleep(0.3);
    say("apple");
    return NULL;
}

static void *never_runs(void *unused)
{
    (void)unused;
    say("this task must not run");
    return NULL;
}

static weft_executor *exit_pool;

/* A pool task still queued when main returns starts a timer and joins it:
 * the exit's joining of the pool must leave the timers running. */
static void *timer_in_a_task(void *unused)
{
    (void)unused;
    weft_sleep(0.2);
    weft_timer *t;
    if (weft_timer_new(&t, 0.01, timer_says, "the task's timer fired") != WEFT_OK ||
        weft_timer_start(t) != WEFT_OK || weft_timer_join_timeout(t, 5) != WEFT_OK)
        say("the task's timer failed");
    weft_timer_free(t);
    return NULL;
}

/* A non-daemon thread, left running when main returns, waits for an
 * event a daemon timer sets. */
static weft_event rung = WEFT_EVENT_INIT;
static void ring(void *unused)
{
    (void)unused;
    weft_event_set(&rung);
}

static void *wait_for_ring(void *unused)
{
    (void)unused;
    say(weft_event_wait_timeout(&rung, 5) == WEFT_OK ? "the daemon timer rang"
                                                     : "the daemon timer never rang");
    return NULL;
}

static void *quiet_task(void *unused)
{
    (void)unused;
    return NULL;
}

/* A non-daemon timer due after main returns submits to the pool. */
static void timer_submits(void *unused)
{
    (void)unused;
    int rc = weft_executor_submit(exit_pool, quiet_task, NULL, NULL);
    printf("timer's submit: %s\n", weft_status_name(rc));
    fflush(stdout);
}

static void start_submitting_timer(void)
{
    weft_timer *t;
    weft_timer_new(&t, 0.2, timer_submits, NULL);
    weft_timer_start(t);
    weft_timer_free(t);
}

/* Registered before the pool exists, so it runs after weft's exit hooks. */
static void submit_at_exit(void)
{
    int rc = weft_executor_submit(exit_pool, never_runs, NULL, NULL);
    printf("submit at exit: %s\n", weft_status_name(rc));
    fflush(stdout);
}

static int child_sleeps(void *arg)
{
    weft_sleep(*(double *)arg);
    return 0;
}

/* A daemon child that would sleep for a minute and a non-daemon one that
 * sleeps 0.3 s, both left running when main returns. */
static void start_children(void)
{
    static double minute = 60, short_nap = 0.3;
    weft_process *daemon, *plain;
    weft_process_options d = {.daemon = WEFT_DAEMON}, n = {.daemon = WEFT_NON_DAEMON};
    weft_process_new(&daemon, child_sleeps, &minute, &d);
    weft_process_new(&plain, child_sleeps, &short_nap, &n);
    weft_process_start(daemon);
    weft_process_start(plain);
    printf("daemon %ld plain %ld\n", weft_process_pid(daemon), weft_process_pid(plain));
    fflush(stdout);
    weft_process_free(daemon); /* still running: weft keeps them */
    weft_process_free(plain);
}

static void start(weft_thread_fn fn, void *arg, weft_daemon_mode daemon)
{
    weft_thread *t;
    weft_thread_options options = {.daemon = daemon};
    weft_thread_new(&t, fn, arg, &options);
    weft_thread_start(t);
    weft_thread_free(t);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "nondaemon")) {
        start(sleep_then_say, "end of thread", WEFT_DAEMON_INHERIT);
    } else if (!strcmp(mode, "join_main")) {
        start(join_main_then_say, NULL, WEFT_DAEMON_INHERIT);
    } else if (!strcmp(mode, "thread_from_thread")) {
        start(start_grandchild, NULL, WEFT_DAEMON_INHERIT);
    } else if (!strcmp(mode, "daemons")) {
        for (int i = 0; i < 40; i++)
            start(busy_daemon, NULL, WEFT_DAEMON);
        weft_sleep(0.05);
        say("end of main");
        exit(0);
    } else if (!strcmp(mode, "exit_call")) {
        start(sleep_then_say, "end of thread", WEFT_NON_DAEMON);
        say("end of main");
        exit(3);
    } else if (!strcmp(mode, "unjoined")) {
        /* debug mode (WEFT_DEBUG=1) names the daemon left running */
        weft_thread_options forgotten = {.name = "forgotten", .daemon = WEFT_DAEMON};
        weft_thread_options joined = {.name = "joined-one"};
        weft_thread *t;
        weft_thread_new(&t, busy_daemon, NULL, &forgotten);
        weft_thread_start(t);
        weft_thread_free(t);
        weft_thread_new(&t, NULL, NULL, &joined);
        weft_thread_start(t);
        weft_thread_join(t, NULL);
        weft_thread_free(t);
    } else if (!strncmp(mode, "pool_", 5)) {
        /* Python's interpreter shutdown with a ThreadPoolExecutor in use */
        if (!strcmp(mode, "pool_submit_at_exit"))
            atexit(submit_at_exit);
        weft_thread_pool_options one = {.max_workers = 1};
        weft_thread_pool_new(&exit_pool, &one);
        if (!strcmp(mode, "pool_exit_cancel")) {
            /* it may have started before the cancel (CPython gh-116682) */
            weft_executor_submit(exit_pool, sleep_then_say_apple, NULL, NULL);
            weft_executor_shutdown(exit_pool, false, true);
            say("end of main");
            return 0;
        }
        if (strcmp(mode, "pool_submit_at_exit"))
            weft_executor_submit(exit_pool, sleep_then_say_apple, NULL, NULL);
        if (!strcmp(mode, "pool_exit_nowait"))
            weft_executor_shutdown(exit_pool, false, false);
    } else if (!strcmp(mode, "timer_in_exit_task")) {
        weft_timer *t; /* timers in use before the exit, too */
        weft_timer_new(&t, 0.001, timer_says, "main's timer fired");
        weft_timer_start(t);
        weft_timer_join(t);
        weft_timer_free(t);
        weft_thread_pool_new(&exit_pool, NULL);
        weft_executor_submit(exit_pool, timer_in_a_task, NULL, NULL);
    } else if (!strcmp(mode, "daemon_timer_wakes_thread")) {
        weft_timer *t;
        weft_timer_new(&t, 0.3, ring, NULL);
        weft_timer_set_daemon(t, true);
        weft_timer_start(t);
        weft_timer_free(t);
        start(wait_for_ring, NULL, WEFT_NON_DAEMON);
    } else if (!strcmp(mode, "timer_submits_timer_first")) {
        /* the exit order is the same whichever was used first */
        start_submitting_timer();
        weft_thread_pool_new(&exit_pool, NULL);
    } else if (!strcmp(mode, "timer_submits_pool_first")) {
        weft_thread_pool_new(&exit_pool, NULL);
        start_submitting_timer();
    } else if (!strcmp(mode, "children")) {
        start_children();
    } else if (!strcmp(mode, "timer") || !strcmp(mode, "daemon_timer")) {
        weft_timer *t;
        bool daemon = !strcmp(mode, "daemon_timer");
        weft_timer_new(&t, daemon ? 5.0 : 0.2, timer_says, "timer fired");
        weft_timer_set_daemon(t, daemon);
        weft_timer_start(t);
        weft_timer_free(t);
    } else {
        fprintf(stderr, "unknown mode '%s'\n", mode);
        return 2;
    }
    say("end of main");
    return 0;
}
