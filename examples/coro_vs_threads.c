/* SPDX-License-Identifier: MIT */
/* coro_vs_threads.c — why coroutines: 10,000 concurrent waits on one
 * thread, against 10,000 threads doing the same waits.  Each way runs in a
 * child process of its own (weft_process), so that its peak memory is its
 * own; the child sends back its time and peak resident memory (getrusage's
 * ru_maxrss) through a pipe.  Three ways:
 *
 *   coroutines, own stacks     one task per wait, each on its own stack
 *                              (committed as it is touched)
 *   coroutines, shared stacks  WEFT_STACK_SHARED: a suspended task keeps
 *                              only the used part of its stack, copied out
 *   threads                    one thread per wait, stacks of the same size
 *
 * Usage: coro_vs_threads [count] [seconds]   (default 10000 0.5)
 */
#define _POSIX_C_SOURCE 200809L /* pipe, read, write */
#include <weft.h>
#include <weft/coro.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define STACK_SIZE (256 * 1024) /* the loop's default, given to threads too */

/* What a child reports. */
struct measure {
    double seconds; /* from the first start to the last end */
    long started;   /* how many waits ran (threads: the OS may refuse) */
    long base_kib;  /* resident memory when the child began */
    long peak_kib;  /* its peak */
};

/* One way to run, and what the child measured of it. */
struct run {
    long count;     /* how many waits */
    double seconds; /* how long each */
    int mode;       /* 0, 1: coroutines, own or shared stacks; 2: threads */
    int fd;         /* the pipe the child reports through */
    struct measure m;
};

static const char *const mode_names[] = {"coroutines, own stacks", "coroutines, shared stacks",
                                         "threads"};

/* The process's peak resident memory so far, in KiB. */
static long peak_rss_kib(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
#ifdef __APPLE__
    return (long)(usage.ru_maxrss / 1024); /* bytes there, KiB elsewhere */
#else
    return (long)usage.ru_maxrss;
#endif
}

/* One waiter, a coroutine or a thread: the same function. */
static void *wait_a_while(void *arg)
{
    weft_sleep(*(const double *)arg);
    return NULL;
}

/* ---- coroutines ------------------------------------------------------- */

/* The main task: spawn every waiter, then gather them. */
static void *spawn_and_gather(void *arg)
{
    struct run *run = arg; /* on the child's own thread stack: safe in both modes */
    struct measure *m = &run->m;
    weft_future **tasks = calloc((size_t)run->count, sizeof *tasks);
    if (!tasks)
        return weft_fail(WEFT_ENOMEM, "no memory for %ld tasks", run->count);
    for (m->started = 0; m->started < run->count; m->started++)
        if (weft_spawn(wait_a_while, &run->seconds, NULL, &tasks[m->started]) != WEFT_OK)
            break;
    int rc = weft_gather(tasks, (size_t)m->started, false, NULL);
    for (long i = 0; i < m->started; i++)
        weft_future_release(tasks[i]);
    free(tasks);
    return rc == WEFT_OK ? NULL : weft_fail(rc, "gather: %s", weft_strerror(rc));
}

static int run_coroutines(struct run *run)
{
    weft_loop_options options = WEFT_LOOP_OPTIONS_INIT;
    options.stack_size = STACK_SIZE;
    options.stack_mode = run->mode == 0 ? WEFT_STACK_OWN : WEFT_STACK_SHARED;
    return weft_run(spawn_and_gather, run, &options, NULL); /* asyncio.run(main()) */
}

/* ---- threads ---------------------------------------------------------- */

static int run_threads(struct run *run, struct measure *m)
{
    weft_thread **threads = calloc((size_t)run->count, sizeof *threads);
    if (!threads)
        return WEFT_ENOMEM;
    weft_thread_options options = {NULL, WEFT_DAEMON_INHERIT, STACK_SIZE};
    int rc = WEFT_OK;
    for (m->started = 0; m->started < run->count; m->started++) {
        weft_thread **t = &threads[m->started];
        rc = weft_thread_new(t, wait_a_while, &run->seconds, &options);
        if (rc == WEFT_OK && (rc = weft_thread_start(*t)) != WEFT_OK) /* EAGAIN: OS limit */
            weft_thread_free(*t);
        if (rc != WEFT_OK)
            break;
    }
    for (long i = 0; i < m->started; i++) {
        weft_thread_join(threads[i], NULL);
        weft_thread_free(threads[i]);
    }
    free(threads);
    return m->started > 0 ? WEFT_OK : rc; /* a limit is a finding, not a failure */
}

/* ---- the child, and the parent that compares ---------------------------- */

/* The child's target: run one way, report through the pipe. */
static int measure_one(void *arg)
{
    struct run *run = arg;
    struct measure *m = &run->m;
    m->base_kib = peak_rss_kib(); /* what the fork gave us */
    double start = weft_perf_counter();
    int rc = run->mode == 2 ? run_threads(run, m) : run_coroutines(run);
    m->seconds = weft_perf_counter() - start;
    m->peak_kib = peak_rss_kib();
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", mode_names[run->mode], weft_strerror(rc));
        return 1;
    }
    struct measure report = *m;
    return write(run->fd, &report, sizeof report) == (ssize_t)sizeof report ? 0 : 1;
}

/* Run `run` in a child; *m is what it reported.  false if it failed. */
static bool in_a_child(struct run *run, struct measure *m)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return false;
    }
    run->fd = fds[1];
    weft_process *child;
    int rc = weft_process_new(&child, measure_one, run, NULL);
    if (rc == WEFT_OK && (rc = weft_process_start(child)) != WEFT_OK)
        weft_process_free(child);
    close(fds[1]); /* the child's now: EOF once it ends */
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft_process_start: %s\n", weft_strerror(rc));
        close(fds[0]);
        return false;
    }
    bool got = read(fds[0], m, sizeof *m) == (ssize_t)sizeof *m;
    close(fds[0]);
    int code = -1;
    weft_process_join(child);
    weft_process_exitcode(child, &code);
    weft_process_free(child);
    return got && code == 0;
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 10000;
    double seconds = argc > 2 ? atof(argv[2]) : 0.5;
    if (count < 1 || count > 1000000 || !(seconds >= 0 && seconds <= 60)) {
        fprintf(stderr, "usage: %s [count 1..1000000] [seconds 0..60]\n", argv[0]);
        return 2;
    }
    printf("%ld concurrent sleeps of %.2f s (stacks of %d KiB):\n", count, seconds,
           STACK_SIZE / 1024);
    printf("  %-26s %8s %12s %14s\n", "", "time", "peak memory", "per sleeper");
    int failures = 0;
    for (int mode = 0; mode < 3; mode++) {
        struct run run = {count, seconds, mode, -1, {0, 0, 0, 0}};
        struct measure m;
        if (!in_a_child(&run, &m)) {
            printf("  %-26s failed\n", mode_names[mode]);
            failures++;
            continue;
        }
        long grown = m.peak_kib - m.base_kib;
        printf("  %-26s %6.2f s %8.1f MiB %10.1f KiB", mode_names[mode], m.seconds,
               grown / 1024.0, m.started ? (double)grown / (double)m.started : 0.0);
        if (m.started < count)
            printf("  (only %ld started: the OS refused more)", m.started);
        printf("\n");
    }
    printf("(memory: peak resident set of each child, above what it had at its start)\n");
    return failures ? 1 : 0;
}
