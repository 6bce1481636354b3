/* SPDX-License-Identifier: MIT */
/* valgrind_exit.c — a program that uses a thread pool, a timer, a process
 * pool and threads, and then exits in one of several ways.  CTest runs it
 * under `valgrind --leak-check=full --error-exitcode=1`: at exit no OS
 * thread of weft's may be left alive with nothing to do (valgrind reports
 * its TLS as "possibly lost"), and exit must not hang.
 *
 *   valgrind_exit all        everything used, shut down and freed
 *   valgrind_exit unfreed    pools never shut down, a daemon timer pending
 *   valgrind_exit worker     exit() called from a thread-pool task
 *   valgrind_exit timer      exit() called from a daemon timer's function
 *   valgrind_exit timer_nondaemon   the same from a non-daemon timer's
 *   valgrind_exit fork       after all that, a fork()ed child calls exit()
 *
 * Children forked by the process pool (and by mode fork) are checked by
 * their exit, not by valgrind's report on them: see tests/CMakeLists.txt.
 *
 * Prints "done <mode>" just before it exits; a check fails with status 2.
 * With a second argument "count" (modes all, unfreed, fork), it also
 * counts the OS threads weft started that are still there after weft's
 * exit handler ran, and exits 3 unless there are none: a check that needs
 * no valgrind, run in every build. */
#define _POSIX_C_SOURCE 200809L
#include "weft.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mode = "";

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "valgrind_exit %s: %s failed\n", mode, what);
        exit(2);
    }
}

static void done(void)
{
    printf("done %s\n", mode);
    fflush(stdout);
}

static void read_line(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, (int)size, f))
            buf[0] = '\0';
        fclose(f);
    }
}

/* Linux: the threads in /proc/self/task that weft started, told by the
 * names weft gives them (the process's own name on the others: the main
 * thread, a sanitizer's helper thread).  0 elsewhere. */
static size_t count_threads(void)
{
    char own[64], name[64], path[96];
    read_line("/proc/self/comm", own, sizeof own);
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%.32s/comm", e->d_name);
        read_line(path, name, sizeof name);
        n += name[0] && strcmp(name, own) != 0;
    }
    closedir(d);
    return n;
}

static size_t threads_at_start;

/* Registered before weft's own handler, so it runs after it.  A thread
 * that ended may linger a moment in /proc; a parked one never leaves. */
static void check_threads_at_exit(void)
{
    size_t n = 0;
    for (int i = 0; i < 200; i++) {
        n = count_threads();
        if (n <= threads_at_start)
            return;
        weft_sleep(0.01);
    }
    fprintf(stderr, "valgrind_exit %s: %zu threads at exit, %zu at start\n", mode, n,
            threads_at_start);
    fflush(stderr);
    _exit(3);
}

static void *square(void *arg)
{
    intptr_t n = (intptr_t)arg;
    return (void *)(n * n);
}

static void *exit_from_task(void *arg)
{
    (void)arg;
    done();
    exit(0);
}

static weft_event timer_fired = WEFT_EVENT_INIT;
static void note_timer(void *arg)
{
    (void)arg;
    weft_event_set(&timer_fired);
}

static void exit_from_timer(void *arg)
{
    (void)arg;
    done();
    exit(0);
}

static void *short_nap(void *arg)
{
    (void)arg;
    weft_sleep(0.05);
    return NULL;
}

static void use_pool(weft_executor *pool, int tasks)
{
    for (intptr_t i = 1; i <= tasks; i++) {
        weft_future *f;
        void *result = NULL;
        check(weft_executor_submit(pool, square, (void *)i, &f) == WEFT_OK, "submit");
        check(weft_future_result(f, &result) == WEFT_OK && (intptr_t)result == i * i,
              "a task's result");
        weft_future_release(f);
    }
}

static void start_timer(double interval, weft_timer_fn fn, bool daemon)
{
    weft_timer *t;
    check(weft_timer_new(&t, interval, fn, NULL) == WEFT_OK, "timer_new");
    check(weft_timer_set_daemon(t, daemon) == WEFT_OK, "timer_set_daemon");
    check(weft_timer_start(t) == WEFT_OK, "timer_start");
    weft_timer_free(t);
}

/* A thread joined right before exit: its OS thread is still ending. */
static void join_one_thread(void)
{
    weft_thread *t;
    check(weft_thread_new(&t, short_nap, NULL, NULL) == WEFT_OK, "thread_new");
    check(weft_thread_start(t) == WEFT_OK, "thread_start");
    check(weft_thread_join(t, NULL) == WEFT_OK, "thread_join");
    weft_thread_free(t);
}

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "all";
    if (argc > 2 && !strcmp(argv[2], "count")) {
        threads_at_start = count_threads();
        check(atexit(check_threads_at_exit) == 0, "atexit");
    }
    weft_executor *threads, *processes;
    weft_thread_pool_options four = {.max_workers = 4};
    weft_process_pool_options two = {.max_workers = 2};
    check(weft_thread_pool_new(&threads, &four) == WEFT_OK, "thread_pool_new");
    check(weft_process_pool_new(&processes, &two) == WEFT_OK, "process_pool_new");
    use_pool(threads, 8);
    use_pool(processes, 4);
    start_timer(0.01, note_timer, false);
    check(weft_event_wait_timeout(&timer_fired, 30) == WEFT_OK, "the timer");

    if (!strcmp(mode, "worker")) {
        weft_executor_free(processes);
        check(weft_executor_submit(threads, exit_from_task, NULL, NULL) == WEFT_OK, "submit");
        for (;;)
            weft_sleep(1);
    }
    if (!strncmp(mode, "timer", 5)) {
        weft_executor_free(processes);
        weft_executor_free(threads);
        start_timer(0.01, exit_from_timer, !strcmp(mode, "timer"));
        for (;;)
            weft_sleep(1);
    }
    if (!strcmp(mode, "unfreed")) {
        start_timer(60, note_timer, true); /* pending at exit: a daemon */
        done();
        return 0; /* the pools too are shut down by weft at exit */
    }
    check(weft_executor_free(threads) == WEFT_OK, "free the thread pool");
    check(weft_executor_free(processes) == WEFT_OK, "free the process pool");
    if (!strcmp(mode, "fork")) {
        pid_t pid = fork();
        check(pid >= 0, "fork");
        if (pid == 0)
            exit(0); /* weft's exit handler runs in the child */
        int status;
        check(waitpid(pid, &status, 0) == pid, "waitpid");
        /* It exited, without hanging (CTest's timeout) or crashing.  Not
         * necessarily 0: valgrind makes it 1 for leaks, and a thread that
         * was ending when fork() copied the process leaves its objects
         * unreachable in the child, as any thread's allocations in flight
         * would be: an artefact of fork, not weft's to mend. */
        check(WIFEXITED(status) && WEXITSTATUS(status) <= 1, "the child's exit");
    } else {
        check(!strcmp(mode, "all"), "a known mode");
    }
    join_one_thread();
    done();
    return 0;
}
