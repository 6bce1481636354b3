/* SPDX-License-Identifier: MIT */
/* bench_pool.c — docs/benchmarks.md W1 (pool throughput), W2 (round trip), W6
 * (CPU-bound map speed-up, and "W6 uneven": many tasks of uneven sizes)
 * and W7 (I/O-bound fan-out, "W7 first pool" and "W7 reused pool") for
 * weft's thread pool, and W9 (round trip) for its process pool.  Median of
 * several runs after a warm-up on a quarter of the work, [min..max], and
 * the process's CPU time per operation over the timed runs; each run
 * checks its results and a wrong one exits non-zero.
 *
 * --threads N (2 by default, docs/benchmarks.md's) is the pools' max_workers in W1,
 * W2, W6 and W9, and the number of bare pthreads in W6's ceiling rows; W7
 * keeps its 1000 workers (it is about sleeping, not CPUs).
 *
 * Usage: bench_pool [--quick] [--scale N] [--reps N] [--threads N] [--csv FILE];
 * BENCH_ONLY=W6 (say; or "W6 uneven", "W7") runs one workload. */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>

#include "bench_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static long scale = 1; /* --quick divides the sizes */
static int threads = BENCH_DEFAULT_THREADS;

static void *noop(void *arg) { return arg; }

static _Noreturn void wrong(const char *workload, const char *what)
{
    fprintf(stderr, "%s: %s\n", workload, what);
    exit(1);
}

/* The CPU time of the worker processes a process pool has reaped, so far
 * (getrusage's RUSAGE_CHILDREN), in ns. */
static double children_cpu_ns(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_CHILDREN, &u) != 0)
        return 0;
    return ((double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec) * 1e9 +
           ((double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_usec) * 1e3;
}

/* The harness's array of futures, allocated once for all runs, before the
 * warm-up: freeing and reallocating an array this size (8 MB) between runs
 * makes glibc move its heap top and hand the futures' memory back to the
 * system, so every run would pay ~30,000 page faults that belong to the
 * harness. */
static weft_future **future_array(long n)
{
    static weft_future **fs;
    static long size;
    if (n > size) {
        free(fs);
        fs = malloc((size_t)n * sizeof *fs);
        size = n;
    }
    if (!fs)
        abort();
    return fs;
}

static weft_executor *thread_pool(long workers)
{
    weft_executor *pool = NULL;
    weft_thread_pool_options o = {.max_workers = workers};
    if (weft_thread_pool_new(&pool, &o) != WEFT_OK)
        wrong("pool", "cannot create a thread pool");
    return pool;
}

/* W1: submit n no-op tasks to a pool of `threads` workers, keep every
 * future, wait for all; ns per task. */
static double w1(long n)
{
    weft_executor *pool = thread_pool(threads);
    weft_future **fs = future_array(n);
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++)
        if (weft_executor_submit(pool, noop, (void *)(uintptr_t)(i + 1), &fs[i]) != WEFT_OK)
            wrong("W1", "submit failed");
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        if (weft_future_result(fs[i], &r) != WEFT_OK || (uintptr_t)r != (uintptr_t)(i + 1))
            wrong("W1", "a task failed or returned a wrong result");
    }
    double dt = weft_perf_counter() - t0;
    for (long i = 0; i < n; i++)
        weft_future_release(fs[i]);
    weft_executor_free(pool);
    return dt * 1e9 / (double)n;
}

/* Submit fn(i) to the pool, wait for its result, repeat n times; the pool
 * is freed after.  ns per round trip (W2 with threads, W9 with processes). */
static double round_trips(weft_executor *pool, weft_task_fn fn, long n, const char *workload)
{
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        weft_future *f;
        void *r = NULL;
        if (weft_executor_submit(pool, fn, (void *)(uintptr_t)(i + 1), &f) != WEFT_OK)
            wrong(workload, "submit failed");
        if (weft_future_result(f, &r) != WEFT_OK || (uintptr_t)r != (uintptr_t)(i + 1))
            wrong(workload, "a task failed or returned a wrong result");
        weft_future_release(f);
    }
    double dt = weft_perf_counter() - t0;
    weft_executor_free(pool);
    return dt * 1e9 / (double)n;
}

/* W2: submit one no-op, wait for its result, repeat; ns per round trip. */
static double w2(long n) { return round_trips(thread_pool(threads), noop, n, "W2"); }

/* W9: submit a no-op to a process pool of `threads` workers, wait,
 * repeat; ns per round trip (the pool's creation is not timed). */
static double w9(long n)
{
    weft_executor *pool;
    weft_process_pool_options o = {.max_workers = threads};
    if (weft_process_pool_new(&pool, &o) != WEFT_OK)
        wrong("W9", "cannot create a process pool");
    return round_trips(pool, noop, n, "W9");
}

/* ---- W6 ---------------------------------------------------------------------- */

/* W6: the seed's cpu_bound_task, sum(i*i for i in range(number)), over
 * numbers = [10_000_000 + x for x in range(8)] (scaled down by --quick). */
/* Kept scalar, like Python's loop: a SIMD-vectorized version is limited by
 * the vector units the two vCPUs of this VM share (they appear to be SMT
 * siblings on the host): it gains ~1.1x from a second thread however the
 * pool schedules it, while this loop gains ~1.9x from raw pthreads. */
static void *sum_of_squares(void *arg)
{
    uint64_t n = (uintptr_t)arg, s = 0;
    for (uint64_t i = 0; i < n; i++) {
        s += i * i;
#if defined(__GNUC__) || defined(__clang__)
        __asm__ volatile("" : "+r"(s)); /* no vectorization */
#endif
    }
    return (void *)(uintptr_t)s;
}

/* Called through this pointer on every side, so that the compiler cannot
 * inline (and fold) the single-thread run: all run the same code. */
static void *(*volatile cpu_task)(void *) = sum_of_squares;

/* A W6 job: tasks[i] is the loop length of task i; got[i] its result. */
struct job {
    const char *workload;
    long count;
    uintptr_t *tasks, *got, *expected;
    double steps; /* loop steps in all: the work, for CPU time per step */
};

static void job_check(const struct job *j)
{
    for (long i = 0; i < j->count; i++)
        if (j->got[i] != j->expected[i])
            wrong(j->workload, "a task's result is wrong");
    memset(j->got, 0, (size_t)j->count * sizeof *j->got);
}

/* W6 proper: the eight numbers n .. n+7. */
static struct job w6_job(long n)
{
    struct job j = {.workload = "W6", .count = 8};
    j.tasks = calloc(8, sizeof *j.tasks);
    j.got = calloc(8, sizeof *j.got);
    j.expected = calloc(8, sizeof *j.expected);
    if (!j.tasks || !j.got || !j.expected)
        abort();
    for (int i = 0; i < 8; i++) {
        j.tasks[i] = (uintptr_t)(n + i);
        j.expected[i] = (uintptr_t)sum_of_squares((void *)j.tasks[i]);
        j.steps += (double)j.tasks[i];
    }
    return j;
}

/* "W6 uneven": the same total work as W6 cut into 2,000 tasks whose sizes
 * spread 1:100.  Task i costs c_i units, drawn with a fixed seed uniformly
 * between 1 and a ceiling that rises from 1 to 100 along the list (later
 * tasks tend to be larger, as in a triangular loop or a sorted input), so
 * that how the tasks are shared out matters: a contiguous split by count
 * leaves the last thread with most of the work. */
#define UNEVEN_TASKS 2000

static struct job uneven_job(long n)
{
    struct job j = {.workload = "W6 uneven", .count = UNEVEN_TASKS};
    j.tasks = calloc(UNEVEN_TASKS, sizeof *j.tasks);
    j.got = calloc(UNEVEN_TASKS, sizeof *j.got);
    j.expected = calloc(UNEVEN_TASKS, sizeof *j.expected);
    if (!j.tasks || !j.got || !j.expected)
        abort();
    uint64_t state = 0x9e3779b97f4a7c15u, units = 0; /* xorshift64, fixed seed */
    for (long i = 0; i < UNEVEN_TASKS; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        uint64_t ceiling = 1 + (uint64_t)(99 * i / (UNEVEN_TASKS - 1));
        j.tasks[i] = (uintptr_t)(1 + state % ceiling);
        units += j.tasks[i];
    }
    uint64_t w6_steps = 8 * (uint64_t)n + 28, unit = w6_steps / units ? w6_steps / units : 1;
    for (long i = 0; i < UNEVEN_TASKS; i++) {
        j.tasks[i] *= unit;
        j.expected[i] = (uintptr_t)sum_of_squares((void *)j.tasks[i]);
        j.steps += (double)j.tasks[i];
    }
    return j;
}

static void job_free(struct job *j)
{
    free(j->tasks);
    free(j->got);
    free(j->expected);
}

/* One thread: the tasks in sequence; seconds. */
static double job_serial(struct job *j)
{
    double t0 = weft_perf_counter();
    for (long i = 0; i < j->count; i++)
        j->got[i] = (uintptr_t)cpu_task((void *)j->tasks[i]);
    double dt = weft_perf_counter() - t0;
    job_check(j);
    return dt;
}

/* weft's pool of `threads` workers, submitting every task and waiting for
 * each future, as the seed's executor.map (W6); seconds. */
static double job_pool_submit(struct job *j)
{
    weft_executor *pool = thread_pool(threads);
    weft_future **fs = malloc((size_t)j->count * sizeof *fs);
    if (!fs)
        abort();
    double t0 = weft_perf_counter();
    for (long i = 0; i < j->count; i++)
        if (weft_executor_submit(pool, cpu_task, (void *)j->tasks[i], &fs[i]) != WEFT_OK)
            wrong(j->workload, "submit failed");
    for (long i = 0; i < j->count; i++) {
        void *r = NULL;
        if (weft_future_result(fs[i], &r) != WEFT_OK)
            wrong(j->workload, "a task failed");
        j->got[i] = (uintptr_t)r;
        weft_future_release(fs[i]);
    }
    double dt = weft_perf_counter() - t0;
    free(fs);
    weft_executor_free(pool);
    job_check(j);
    return dt;
}

/* weft's pool through weft_executor_map, results in input order ("W6
 * uneven": the way a user maps a function over many inputs); seconds. */
static double job_pool_map(struct job *j)
{
    weft_executor *pool = thread_pool(threads);
    void **args = malloc((size_t)j->count * sizeof *args);
    if (!args)
        abort();
    for (long i = 0; i < j->count; i++)
        args[i] = (void *)j->tasks[i];
    weft_map *it = NULL;
    void *r = NULL;
    long k = 0;
    double t0 = weft_perf_counter();
    if (weft_executor_map(pool, cpu_task, args, (size_t)j->count, WEFT_FOREVER, NULL, &it) !=
        WEFT_OK)
        wrong(j->workload, "map failed");
    while (weft_map_next(it, &r) == WEFT_OK && k < j->count)
        j->got[k++] = (uintptr_t)r;
    double dt = weft_perf_counter() - t0;
    weft_map_free(it);
    weft_executor_free(pool);
    free(args);
    if (k != j->count)
        wrong(j->workload, "the map gave fewer results than tasks");
    job_check(j);
    return dt;
}

/* The machine's ceilings: `threads` bare pthreads, created before the
 * clock and waiting at a barrier, no futures, no queue.  The time runs
 * from the first thread's start past the barrier to the last one's end,
 * as the threads measure them (this thread may wake from the barrier late
 * on a busy machine; the creation and the joins are not timed): a
 * ceiling, leaving out even the wake-ups that a pool pays.  Static: thread
 * k takes the k-th contiguous share of the task list (the naive C way);
 * dynamic: the threads take task indices from an atomic counter. */
struct crew {
    struct job *job;
    bool dynamic;
    atomic_long next;
    pthread_barrier_t start;
};

struct crew_member {
    struct crew *crew;
    long first, end; /* static: the share [first, end) */
    double began, ended;
};

static void *crew_thread(void *arg)
{
    struct crew_member *m = arg;
    struct crew *c = m->crew;
    struct job *j = c->job;
    pthread_barrier_wait(&c->start);
    m->began = weft_perf_counter();
    if (c->dynamic) {
        for (long i; (i = atomic_fetch_add(&c->next, 1)) < j->count;)
            j->got[i] = (uintptr_t)cpu_task((void *)j->tasks[i]);
    } else {
        for (long i = m->first; i < m->end; i++)
            j->got[i] = (uintptr_t)cpu_task((void *)j->tasks[i]);
    }
    m->ended = weft_perf_counter();
    return NULL;
}

static double job_crew(struct job *j, bool dynamic)
{
    struct crew c = {.job = j, .dynamic = dynamic};
    atomic_init(&c.next, 0);
    pthread_barrier_init(&c.start, NULL, (unsigned)threads);
    pthread_t *t = malloc((size_t)threads * sizeof *t);
    struct crew_member *m = malloc((size_t)threads * sizeof *m);
    if (!t || !m)
        abort();
    for (int k = 0; k < threads; k++) {
        m[k] = (struct crew_member){.crew = &c,
                                    .first = j->count * k / threads,
                                    .end = j->count * (k + 1) / threads};
        if (pthread_create(&t[k], NULL, crew_thread, &m[k]) != 0)
            wrong(j->workload, "cannot create a thread");
    }
    double t0 = 0, t1 = 0;
    for (int k = 0; k < threads; k++) {
        pthread_join(t[k], NULL);
        if (k == 0 || m[k].began < t0)
            t0 = m[k].began;
        if (k == 0 || m[k].ended > t1)
            t1 = m[k].ended;
    }
    free(t);
    free(m);
    pthread_barrier_destroy(&c.start);
    job_check(j);
    return t1 - t0;
}

static double job_crew_static(struct job *j) { return job_crew(j, false); }
static double job_crew_dynamic(struct job *j) { return job_crew(j, true); }

#define MAX_IMPLS 4

struct job_impl {
    const char *name;
    double (*fn)(struct job *);
    const char *note; /* or NULL */
};

/* W6 and "W6 uneven": each row's figure, x1000, is the median of the
 * repetitions' speed-ups, each the one-thread time over the parallel time
 * measured right after it.  In each repetition the one-thread run comes
 * first, then the parallel ones in forward order on even repetitions and
 * backward on odd ones (pool first, then bare; next time bare first).
 * The bare pthreads are what the machine gives at that moment: this VM's
 * host takes its second vCPU away, in part or whole, for seconds at a time
 * (bare pthreads then show 1.0-1.5x as well), so weft's row is to be read
 * against them.  CPU time is per loop step over the parallel runs, and
 * the note gives it against the one-thread run's. */
static void job_rows(struct bench_args *args, const char *id, struct job *j,
                     const struct job_impl *impls, int k)
{
    /* ~0.15 s a repetition: take more, as the machine's state changes
     * within seconds */
    int reps = 2 * args->reps + 1;
    if (reps > BENCH_MAX_REPS)
        reps = BENCH_MAX_REPS;
    double serial[BENCH_MAX_REPS], par[MAX_IMPLS][BENCH_MAX_REPS], cpu[MAX_IMPLS] = {0},
                                                                   serial_cpu = 0;
    /* warm-up: a quarter of the work, the first quarter of the tasks (at
     * least one) */
    struct job quarter = *j;
    quarter.count = j->count / 4 > 0 ? j->count / 4 : 1;
    job_serial(&quarter);
    for (int m = 0; m < k; m++)
        impls[m].fn(&quarter);
    for (int i = 0; i < reps; i++) {
        double c0 = bench_cpu_ns();
        serial[i] = job_serial(j);
        serial_cpu += bench_cpu_ns() - c0;
        for (int step = 0; step < k; step++) {
            int m = i % 2 ? k - 1 - step : step;
            c0 = bench_cpu_ns();
            par[m][i] = impls[m].fn(j);
            cpu[m] += bench_cpu_ns() - c0;
        }
    }
    for (int m = 0; m < k; m++) {
        double ratios[BENCH_MAX_REPS];
        for (int i = 0; i < reps; i++)
            ratios[i] = 1000.0 * serial[i] / par[m][i];
        struct bench_figure f = bench_summarize(ratios, reps);
        f.cpu = cpu[m] / (j->steps * reps);
        char note[sizeof bench_note], text[64];
        snprintf(note, sizeof note, "%s%sCPU %.2fx the one-thread run's",
                 impls[m].note ? impls[m].note : "", impls[m].note ? "; " : "",
                 cpu[m] / serial_cpu);
        printf("%-10s %-44s %-40s %24s %9.2f  %s\n", m ? "" : id,
               m ? "" : "CPU-bound speed-up x1000 (higher is better)", impls[m].name,
               bench_text(f, text, sizeof text), f.cpu, note);
        snprintf(bench_note, sizeof bench_note, "%s", note);
        bench_csv(args, id, impls[m].name, f);
        bench_note[0] = '\0';
    }
}

static void w6_rows(struct bench_args *args, long n)
{
    struct job j = w6_job(n);
    char bare[64];
    snprintf(bare, sizeof bare, "%d bare pthreads (no pool)", threads);
    const struct job_impl impls[] = {
        {"weft", job_pool_submit, NULL},
        {bare, job_crew_dynamic, "created before the clock; at a barrier"},
    };
    job_rows(args, "W6", &j, impls, 2);
    job_free(&j);
}

static void uneven_rows(struct bench_args *args, long n)
{
    struct job j = uneven_job(n);
    char fixed[64], dynamic[64];
    snprintf(fixed, sizeof fixed, "%d bare pthreads static split", threads);
    snprintf(dynamic, sizeof dynamic, "%d bare pthreads atomic counter", threads);
    const struct job_impl impls[] = {
        {"weft", job_pool_map, "weft_executor_map"},
        {fixed, job_crew_static, "contiguous shares; created before the clock"},
        {dynamic, job_crew_dynamic, "index per task; created before the clock"},
    };
    job_rows(args, "W6 uneven", &j, impls, 3);
    job_free(&j);
}

/* ---- W7 ---------------------------------------------------------------------- */

/* W7: n tasks each sleeping 0.1 s on a pool of n workers; wall ms.  Each
 * task measures its own sleep. */
struct sleeper {
    double slept;
};

static void *sleep_tenth(void *arg)
{
    struct sleeper *s = arg;
    double t0 = weft_perf_counter();
    if (weft_sleep(0.1) != WEFT_OK)
        return NULL;
    s->slept = weft_perf_counter() - t0;
    return s;
}

static double w7_longest; /* the longest sleep a task measured, seconds */

/* One round of n sleeps on the pool; wall ms.  Every task must have
 * succeeded, returned its own slot and slept at least 0.1 s. */
static double w7_round(weft_executor *pool, long n, weft_future **fs, struct sleeper *slots)
{
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++)
        if (weft_executor_submit(pool, sleep_tenth, &slots[i], &fs[i]) != WEFT_OK)
            wrong("W7", "submit failed");
    if (weft_wait(fs, (size_t)n, 60, WEFT_ALL_COMPLETED, NULL) != WEFT_OK)
        wrong("W7", "the tasks did not finish within 60 s");
    double dt = weft_perf_counter() - t0;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        if (weft_future_result(fs[i], &r) != WEFT_OK || r != &slots[i])
            wrong("W7", "a task failed");
        if (!(slots[i].slept >= 0.1)) {
            fprintf(stderr, "W7: a task slept %.6f s, less than 0.1 s\n", slots[i].slept);
            exit(1);
        }
        if (slots[i].slept > w7_longest)
            w7_longest = slots[i].slept;
        slots[i].slept = 0;
        weft_future_release(fs[i]);
    }
    return dt * 1000.0;
}

/* "W7 first pool": a new pool of n workers each repetition, its threads
 * started by the round; "W7 reused pool": the same pool's second round of
 * n sleeps, its workers already there (idle after the first round). */
static void w7_rows(struct bench_args *args, long n)
{
    weft_future **fs = malloc((size_t)n * sizeof *fs);
    struct sleeper *slots = calloc((size_t)n, sizeof *slots);
    if (!fs || !slots)
        abort();
    double first[BENCH_MAX_REPS], reused[BENCH_MAX_REPS], cpu_first = 0, cpu_reused = 0;
    for (int i = -1; i < args->reps; i++) { /* -1: the warm-up, a quarter of the work */
        long size = i < 0 ? n / 4 + 1 : n;
        weft_executor *pool = thread_pool(size);
        double c0 = bench_cpu_ns();
        double a = w7_round(pool, size, fs, slots);
        double c1 = bench_cpu_ns();
        double b = w7_round(pool, size, fs, slots);
        double c2 = bench_cpu_ns();
        weft_executor_free(pool);
        if (i < 0)
            continue;
        first[i] = a;
        reused[i] = b;
        cpu_first += c1 - c0;
        cpu_reused += c2 - c1;
    }
    free(fs);
    free(slots);
    struct bench_figure f = bench_summarize(first, args->reps),
                        g = bench_summarize(reused, args->reps);
    f.cpu = cpu_first / ((double)n * args->reps);
    g.cpu = cpu_reused / ((double)n * args->reps);
    char note[sizeof bench_note], text[64];
    snprintf(note, sizeof note, "every task slept >= 0.1 s; longest %.1f ms; cpu per task",
             w7_longest * 1000.0);
    char what[64];
    snprintf(what, sizeof what, "%ld x sleep(0.1) on %ld workers, ms", n, n);
    printf("%-10s %-44s %-40s %24s %9.0f  %s\n", "W7", what, "weft first pool",
           bench_text(f, text, sizeof text), f.cpu, note);
    printf("%-10s %-44s %-40s %24s %9.0f  %s\n", "", "", "weft reused pool",
           bench_text(g, text, sizeof text), g.cpu, note);
    snprintf(bench_note, sizeof bench_note, "%s", note);
    bench_csv(args, "W7 first pool", "weft", f);
    snprintf(bench_note, sizeof bench_note, "%s", note);
    bench_csv(args, "W7 reused pool", "weft", g);
    bench_note[0] = '\0';
}

/* ---- driver ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct bench_args args;
    if (bench_parse(argc, argv, 7, 10, &args))
        return 2;
    scale = args.scale;
    threads = args.threads;
    char w1_what[64], w2_what[64], w9_what[64];
    snprintf(w1_what, sizeof w1_what, "pool throughput, %d workers, ns per task", threads);
    snprintf(w2_what, sizeof w2_what, "submit + wait round trip, %d workers, ns", threads);
    snprintf(w9_what, sizeof w9_what, "process-pool round trip, %d workers, ns", threads);
    struct {
        const char *id, *what;
        double (*fn)(long);
        void (*rows)(struct bench_args *, long); /* workloads with their own rows */
        long n;
        const char *note;
    } rows[] = {
        {"W1", w1_what, w1, NULL, 1000000 / scale, NULL},
        {"W2", w2_what, w2, NULL, 200000 / scale, NULL},
        {"W6", NULL, NULL, w6_rows, 10000000 / scale, NULL},
        {"W6 uneven", NULL, NULL, uneven_rows, 10000000 / scale, NULL},
        {"W7", NULL, NULL, w7_rows, 1000, NULL},
        {"W9", w9_what, w9, NULL, 20000 / scale, "CPU includes the worker processes'"},
    };
    printf("%-10s %-44s %-40s %24s %9s  %s\n", "id", "workload", "implementation",
           "median [min..max]", "cpu ns", "note");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double s[BENCH_MAX_REPS];
        char text[64];
        if (getenv("BENCH_ONLY") && strcmp(getenv("BENCH_ONLY"), rows[r].id))
            continue;
        if (rows[r].rows) {
            rows[r].rows(&args, rows[r].n);
            continue;
        }
        long n = rows[r].n;
        future_array(n); /* allocated before the warm-up: see future_array */
        rows[r].fn(n / 4 + 1);
        /* CPU: this process's, and (W9) the worker processes', reaped when
         * each run frees its pool.  A run creates and frees its pool (not
         * timed for the wall figure), and a process pool's start and exit
         * cost milliseconds of CPU (forks, copy-on-write faults): that cost,
         * measured apart as the mean of three runs of one task, is taken
         * off. */
        double c0 = bench_cpu_ns(), k0 = children_cpu_ns();
        for (int i = 0; i < 3; i++)
            rows[r].fn(1);
        double lifecycle = (bench_cpu_ns() - c0 + children_cpu_ns() - k0) / 3;
        c0 = bench_cpu_ns();
        k0 = children_cpu_ns();
        for (int i = 0; i < args.reps; i++)
            s[i] = rows[r].fn(n);
        double cpu = bench_cpu_ns() - c0 + children_cpu_ns() - k0 - lifecycle * args.reps;
        if (cpu < 0)
            cpu = 0;
        struct bench_figure f = bench_summarize(s, args.reps);
        f.cpu = cpu / ((double)n * args.reps);
        printf("%-10s %-44s %-40s %24s %9.1f  %s\n", rows[r].id, rows[r].what, "weft",
               bench_text(f, text, sizeof text), f.cpu, rows[r].note ? rows[r].note : "");
        if (rows[r].note)
            snprintf(bench_note, sizeof bench_note, "%s", rows[r].note);
        bench_csv(&args, rows[r].id, "weft", f);
        bench_note[0] = '\0';
    }
    bench_done(&args);
    return 0;
}
