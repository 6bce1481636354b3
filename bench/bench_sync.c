/* SPDX-License-Identifier: MIT */
/* bench_sync.c — docs/benchmarks.md W4 (uncontended lock), W5 (contended lock) and
 * W10 (thread start + join): weft and plain pthreads side by side in one
 * run.  Each figure is the median of several repetitions after a warm-up
 * on a quarter of the work, with the spread (min..max), and the process's
 * CPU time per operation over the timed repetitions; the implementations'
 * order alternates between repetitions (ABBA), so that drift on a shared
 * machine falls on all of them alike.  Each workload checks its own result
 * and exits non-zero on a wrong one.
 *
 * Usage: bench_sync [--quick] [--scale N] [--reps N] [--threads N] [--csv FILE]
 * (--threads: W5's contending threads, 2 by default as docs/benchmarks.md's).
 */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include <weft.h>

#include "bench_util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef double (*workload_fn)(long n); /* returns ns per operation */

static int reps = 11;
static int threads = BENCH_DEFAULT_THREADS; /* --threads: W5's */

/* What the last call of a workload did, beyond its time: operations (when
 * not n), and for W5 the lock's hand-overs and the adds they came in. */
static double run_ops, run_handovers, run_adds;

/* ---- W4: uncontended acquire + release on one thread ---------------------- */

static double w4_weft(long n)
{
    weft_lock lock = WEFT_LOCK_INIT;
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        weft_lock_acquire(&lock);
        weft_lock_release(&lock);
    }
    double dt = weft_perf_counter() - t0;
    if (weft_lock_locked(&lock)) {
        fprintf(stderr, "W4: weft lock left locked\n");
        exit(1);
    }
    return dt * 1e9 / (double)n;
}

static double w4_pthread(long n)
{
    pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mutex);
        pthread_mutex_unlock(&mutex);
    }
    double dt = weft_perf_counter() - t0;
    if (pthread_mutex_trylock(&mutex) != 0) { /* it must have been left unlocked */
        fprintf(stderr, "W4: pthread mutex left locked\n");
        exit(1);
    }
    pthread_mutex_unlock(&mutex);
    pthread_mutex_destroy(&mutex);
    return dt * 1e9 / (double)n;
}

/* ---- W5: `threads` threads add 1 to a shared counter under the lock ------- */

enum w5_kind { W5_WEFT, W5_PTHREAD, W5_ADAPTIVE };

struct contended {
    weft_lock wlock;
    pthread_mutex_t mutex;
    atomic_int arrived; /* the start line: threads spin until all are here */
    long per_thread;
    enum w5_kind kind;
    /* written under the lock only: */
    long counter;
    long last_owner; /* the id of the thread that held the lock last */
    long handovers;  /* how often the holder differed from the last one */
};

struct adder {
    struct contended *c;
    long id;
    double began, ended; /* weft_perf_counter, when it passed the start line and finished */
};

/* Under the lock: one add, and a hand-over counted when this thread is not
 * the one that held the lock last (the same two loads and stores for every
 * implementation; they share the counter's cache line). */
#define W5_CRITICAL(c, me)                                                                        \
    do {                                                                                          \
        if ((c)->last_owner != (me)) {                                                            \
            (c)->last_owner = (me);                                                               \
            (c)->handovers++;                                                                     \
        }                                                                                         \
        (c)->counter++;                                                                           \
    } while (0)

static void *w5_adder(void *arg)
{
    struct adder *a = arg;
    struct contended *c = a->c;
    long me = a->id;
    /* every thread starts together: a spinning barrier, as a sleeping one
     * wakes its waiters one by one, long enough for the first to finish
     * alone; it yields, for runs with more threads than CPUs */
    atomic_fetch_add(&c->arrived, 1);
    while (atomic_load(&c->arrived) < threads)
        sched_yield();
    a->began = weft_perf_counter();
    if (c->kind == W5_WEFT) {
        for (long i = 0; i < c->per_thread; i++) {
            weft_lock_acquire(&c->wlock);
            W5_CRITICAL(c, me);
            weft_lock_release(&c->wlock);
        }
    } else {
        for (long i = 0; i < c->per_thread; i++) {
            pthread_mutex_lock(&c->mutex);
            W5_CRITICAL(c, me);
            pthread_mutex_unlock(&c->mutex);
        }
    }
    a->ended = weft_perf_counter();
    return NULL;
}

/* n adds in all, n / threads by each thread.  The threads are created
 * before the clock and wait at a barrier: the time is from the first
 * thread's start to the last one's end, as the threads measure them, so
 * that no thread runs alone while the others are still being created (a
 * lock nobody contends would win that way). */
static double w5_run(long n, enum w5_kind kind)
{
    struct contended c = {.wlock = WEFT_LOCK_INIT,
                          .per_thread = n / threads > 0 ? n / threads : 1,
                          .kind = kind,
                          .last_owner = -1};
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
#ifdef __GLIBC__
    if (kind == W5_ADAPTIVE)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(&c.mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    atomic_init(&c.arrived, 0);
    pthread_t *t = malloc((size_t)threads * sizeof *t);
    struct adder *a = malloc((size_t)threads * sizeof *a);
    if (!t || !a)
        abort();
    for (int i = 0; i < threads; i++) {
        a[i] = (struct adder){.c = &c, .id = i};
        if (pthread_create(&t[i], NULL, w5_adder, &a[i]) != 0) {
            fprintf(stderr, "W5: cannot create thread %d\n", i);
            exit(1);
        }
    }
    double t0 = 0, t1 = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (i == 0 || a[i].began < t0)
            t0 = a[i].began;
        if (i == 0 || a[i].ended > t1)
            t1 = a[i].ended;
    }
    double dt = t1 - t0;
    free(t);
    free(a);
    pthread_mutex_destroy(&c.mutex);
    long total = c.per_thread * threads;
    if (c.counter != total) {
        fprintf(stderr, "W5: counter %ld, expected %ld\n", c.counter, total);
        exit(1);
    }
    run_ops = (double)total;
    run_handovers = (double)(c.handovers - 1); /* the first acquisition is no hand-over */
    run_adds = (double)total;
    return dt * 1e9 / (double)total;
}

static double w5_weft(long n) { return w5_run(n, W5_WEFT); }
static double w5_pthread(long n) { return w5_run(n, W5_PTHREAD); }
#ifdef __GLIBC__
static double w5_adaptive(long n) { return w5_run(n, W5_ADAPTIVE); }
#endif

/* ---- W10: thread start + join ---------------------------------------------- */

static void *identity(void *arg) { return arg; }

static void w10_wrong(const char *who)
{
    fprintf(stderr, "W10: %s: a thread failed to start or returned a wrong result\n", who);
    exit(1);
}

static double w10_weft(long n)
{
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        weft_thread *t;
        void *result = NULL;
        if (weft_thread_new(&t, identity, (void *)(i + 1), NULL) != WEFT_OK ||
            weft_thread_start(t) != WEFT_OK || weft_thread_join(t, &result) != WEFT_OK ||
            result != (void *)(i + 1))
            w10_wrong("weft");
        weft_thread_free(t);
    }
    return (weft_perf_counter() - t0) * 1e9 / (double)n;
}

static double w10_pthread(long n)
{
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        pthread_t t;
        void *result = NULL;
        if (pthread_create(&t, NULL, identity, (void *)(i + 1)) != 0 ||
            pthread_join(t, &result) != 0 || result != (void *)(i + 1))
            w10_wrong("pthread_create+join");
    }
    return (weft_perf_counter() - t0) * 1e9 / (double)n;
}

/* The same work as weft's start + join: a detached thread (nothing to
 * reap), which stores its result and signals a semaphore at its end; the
 * starter waits on the semaphore and reads the result. */
struct w10_slot {
    sem_t done;
    void *arg, *result;
};

static void *w10_detached_body(void *p)
{
    struct w10_slot *s = p;
    s->result = identity(s->arg);
    sem_post(&s->done);
    return NULL;
}

static double w10_detached(long n)
{
    /* One semaphore for every run: a thread may still be inside sem_post
     * when its starter's sem_wait has returned. */
    static struct w10_slot slot;
    static bool ready;
    if (!ready && sem_init(&slot.done, 0, 0) != 0)
        w10_wrong("sem_init");
    ready = true;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    double t0 = weft_perf_counter();
    for (long i = 0; i < n; i++) {
        pthread_t t;
        slot.arg = (void *)(i + 1);
        slot.result = NULL;
        if (pthread_create(&t, &attr, w10_detached_body, &slot) != 0)
            w10_wrong("pthread detached+sem_post");
        while (sem_wait(&slot.done) != 0)
            if (errno != EINTR)
                w10_wrong("pthread detached+sem_post");
        if (slot.result != (void *)(i + 1))
            w10_wrong("pthread detached+sem_post");
    }
    double dt = weft_perf_counter() - t0;
    pthread_attr_destroy(&attr);
    return dt * 1e9 / (double)n;
}

/* ---- driver ---------------------------------------------------------------- */

#define MAX_IMPLS 4

struct impl {
    const char *name;
    workload_fn fn;
};

struct row {
    const char *id, *what;
    struct impl impls[MAX_IMPLS]; /* the first is weft's */
    long n;
};

struct result {
    struct bench_figure f;
    char note[sizeof bench_note];
};

/* Warm every implementation up on a quarter of the work, then time them
 * `reps` times each, in forward order on even repetitions and backward on
 * odd ones; CPU time is taken around each timed call. */
static void measure(const struct row *r, int k, struct result *out)
{
    double s[MAX_IMPLS][BENCH_MAX_REPS], cpu[MAX_IMPLS] = {0}, ops[MAX_IMPLS] = {0},
                                          hand[MAX_IMPLS] = {0}, adds[MAX_IMPLS] = {0};
    for (int j = 0; j < k; j++)
        r->impls[j].fn(r->n / 4 + 1);
    for (int i = 0; i < reps; i++) {
        for (int step = 0; step < k; step++) {
            int j = i % 2 ? k - 1 - step : step;
            run_ops = (double)r->n;
            run_handovers = run_adds = 0;
            double c0 = bench_cpu_ns();
            s[j][i] = r->impls[j].fn(r->n);
            cpu[j] += bench_cpu_ns() - c0;
            ops[j] += run_ops;
            hand[j] += run_handovers;
            adds[j] += run_adds;
        }
    }
    for (int j = 0; j < k; j++) {
        out[j].f = bench_summarize(s[j], reps);
        out[j].f.cpu = cpu[j] / ops[j];
        out[j].note[0] = '\0';
        if (adds[j] > 0)
            snprintf(out[j].note, sizeof out[j].note, "hand-overs per 10 adds: %.2f",
                     10.0 * hand[j] / adds[j]);
    }
}

static void *started_thread(void *arg) { return arg; }

int main(int argc, char **argv)
{
    /* W4's rule: every implementation runs in a process that has already
     * started a thread.  glibc's pthread_mutex skips its atomic operations
     * while a process has never had a second thread (measured here: 3.6 ns
     * a lock+unlock before any thread exists, 10.4 ns after), and a
     * concurrent program is never in that state; so one thread is started
     * and joined here, before any measurement. */
    pthread_t first;
    if (pthread_create(&first, NULL, started_thread, NULL) != 0 || pthread_join(first, NULL))
        return 1;

    struct bench_args args;
    if (bench_parse(argc, argv, 11, 20, &args))
        return 2;
    reps = args.reps;
    threads = args.threads;
    long scale = args.scale;
    char w5_what[64];
    snprintf(w5_what, sizeof w5_what, "contended lock, %d threads, ns per add", threads);
    const struct row rows[] = {
        {"W4",
         "uncontended lock, ns per acquire+release",
         {{"weft", w4_weft}, {"pthread_mutex", w4_pthread}},
         20000000 / scale},
        {"W5",
         w5_what,
         {{"weft", w5_weft},
          {"pthread_mutex", w5_pthread},
#ifdef __GLIBC__
          /* the mutex a C programmer reaches for under contention: it
           * spins a while before sleeping */
          {"pthread_mutex adaptive", w5_adaptive},
#endif
         },
         4000000 / scale},
        {"W10",
         "thread start + join, ns",
         {{"weft", w10_weft},
          {"pthread_create+join", w10_pthread},
          {"pthread detached+sem_post", w10_detached}},
         4000 / scale},
    };
    char model[128] = "unknown CPU";
    FILE *info = fopen("/proc/cpuinfo", "r");
    for (char line[256]; info && fgets(line, sizeof line, info);) {
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (info)
        fclose(info);
    printf("weft bench_sync on %ld cpus (%s); median of %d runs after a warm-up, [min..max], "
           "CPU ns per operation\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, reps);
    printf("%-4s %-40s %-26s %24s %9s %9s  %s\n", "id", "workload", "implementation", "wall ns",
           "cpu ns", "weft/it", "note");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        int k = 0;
        while (k < MAX_IMPLS && r->impls[k].name)
            k++;
        struct result res[MAX_IMPLS];
        measure(r, k, res);
        for (int j = 0; j < k; j++) {
            char text[64], ratio[16] = "";
            if (j > 0)
                snprintf(ratio, sizeof ratio, "%.2f", res[0].f.median / res[j].f.median);
            printf("%-4s %-40s %-26s %24s %9.1f %9s  %s\n", j ? "" : r->id, j ? "" : r->what,
                   r->impls[j].name, bench_text(res[j].f, text, sizeof text), res[j].f.cpu,
                   ratio, res[j].note);
            snprintf(bench_note, sizeof bench_note, "%s", res[j].note);
            bench_csv(&args, r->id, r->impls[j].name, res[j].f);
            bench_note[0] = '\0';
        }
    }
    bench_done(&args);
    return 0;
}
