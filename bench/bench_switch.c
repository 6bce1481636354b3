/* SPDX-License-Identifier: MIT */
/* bench_switch.c — docs/benchmarks.md W11(a), the raw context switch: weft's
 * (src/platform/switch.h, the assembly backend unless built with
 * -DWEFT_UCONTEXT_SWITCH=ON) against glibc's swapcontext and, when Boost is
 * found, Boost.Context's jump_fcontext (bench/peers/w11_boost.cpp, the
 * ceiling).  Each does n round trips between the main context and a
 * coroutine that counts its entries (checked: a wrong count exits 1); a
 * round trip is two switches, and the figure is ns per one-way switch.
 *
 * As in bench_sync, every implementation warms up on a quarter of the
 * work, then the implementations are timed `reps` times each, in forward
 * order on even repetitions and backward on odd ones (ABBA), with the
 * process's CPU time taken around each timed call.  Rows go to --csv in
 * bench_util.h's format for bench/compare.py.
 *
 * Usage: bench_switch [--quick] [--scale N] [--reps N] [--threads N] [--csv FILE]
 * (--threads is accepted like every program's and unused: one thread.) */
#define _GNU_SOURCE
#include "platform/switch.h"

#include "bench_util.h"
#ifdef WEFT_BENCH_BOOST_CONTEXT
#include "peers/w11_boost.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#define ROUND_TRIPS 2000000L /* docs/benchmarks.md's size, divided by --scale */
#define STACK_SIZE (64 * 1024)
#define MAX_IMPLS 3

static weft_ctx w_main, w_co;
static ucontext_t u_main, u_co;
static long entries; /* the coroutine's count of its entries */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void wrong_count(const char *who, long got, long want)
{
    fprintf(stderr, "W11 switch: %s: the coroutine counted %ld entries, expected %ld\n", who,
            got, want);
    exit(1);
}

static void weft_body(void *arg)
{
    (void)arg;
    for (;;) {
        entries++;
        weft__ctx_switch(&w_co, &w_main);
    }
}

static void uc_body(void)
{
    for (;;) {
        entries++;
        swapcontext(&u_co, &u_main);
    }
}

/* Each returns ns per one-way switch over n round trips. */
static double weft_trips(long n)
{
    entries = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        weft__ctx_switch(&w_main, &w_co);
    double dt = now_ns() - t0;
    if (entries != n)
        wrong_count("weft", entries, n);
    return dt / (2.0 * (double)n);
}

static double uc_trips(long n)
{
    entries = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        swapcontext(&u_main, &u_co);
    double dt = now_ns() - t0;
    if (entries != n)
        wrong_count("swapcontext", entries, n);
    return dt / (2.0 * (double)n);
}

#ifdef WEFT_BENCH_BOOST_CONTEXT
static double boost_trips(long n)
{
    double t0 = now_ns();
    long counted = w11_boost_trips(n);
    double dt = now_ns() - t0;
    if (counted != n)
        wrong_count("Boost.Context", counted, n);
    return dt / (2.0 * (double)n);
}
#endif

struct impl {
    const char *name;
    double (*fn)(long n);
};

static const struct impl impls[] = {
    {"weft", weft_trips},
    {"glibc swapcontext", uc_trips},
#ifdef WEFT_BENCH_BOOST_CONTEXT
    {"Boost.Context jump_fcontext", boost_trips},
#endif
};
enum { IMPLS = sizeof impls / sizeof impls[0] };

/* Every coroutine made and entered once, so that a timed call only
 * switches; 0, or -1. */
static int start_coroutines(void)
{
    char *w_stack = malloc(STACK_SIZE), *u_stack = malloc(STACK_SIZE);
    if (!w_stack || !u_stack || weft__ctx_init_current(&w_main) != 0 ||
        weft__ctx_make(&w_co, w_stack, STACK_SIZE, weft_body, NULL) != 0 ||
        getcontext(&u_co) != 0)
        return -1;
    u_co.uc_stack.ss_sp = u_stack;
    u_co.uc_stack.ss_size = STACK_SIZE;
    u_co.uc_link = NULL;
    makecontext(&u_co, uc_body, 0);
    weft__ctx_switch(&w_main, &w_co);
    swapcontext(&u_main, &u_co);
#ifdef WEFT_BENCH_BOOST_CONTEXT
    if (w11_boost_start(STACK_SIZE) != 0)
        return -1;
#endif
    return 0;
}

/* Warm-up, then `reps` timed calls of each in ABBA order; CPU per switch. */
static void measure(long n, int reps, struct bench_figure *out)
{
    double s[MAX_IMPLS][BENCH_MAX_REPS], cpu[MAX_IMPLS] = {0};
    for (int j = 0; j < IMPLS; j++)
        impls[j].fn(n / 4 + 1);
    for (int i = 0; i < reps; i++) {
        for (int step = 0; step < IMPLS; step++) {
            int j = i % 2 ? IMPLS - 1 - step : step;
            double c0 = bench_cpu_ns();
            s[j][i] = impls[j].fn(n);
            cpu[j] += bench_cpu_ns() - c0;
        }
    }
    for (int j = 0; j < IMPLS; j++) {
        out[j] = bench_summarize(s[j], reps);
        out[j].cpu = cpu[j] / (2.0 * (double)n * reps);
    }
}

int main(int argc, char **argv)
{
    struct bench_args args;
    if (bench_parse(argc, argv, 5, 10, &args))
        return 2;
    long n = ROUND_TRIPS / args.scale;
    if (n < 1)
        n = 1;
    if (start_coroutines() != 0) {
        fprintf(stderr, "W11 switch: cannot make the coroutines\n");
        return 1;
    }
    struct bench_figure f[MAX_IMPLS];
    measure(n, args.reps, f);
    printf("weft bench_switch: %ld round trips (2 switches each), median of %d runs after a "
           "warm-up, [min..max], CPU ns per switch\n\n",
           n, args.reps);
    printf("%-4s %-36s %-30s %24s %9s %9s\n", "id", "workload", "implementation",
           "wall ns/switch", "cpu ns", "weft/it");
    for (int j = 0; j < IMPLS; j++) {
        char text[64], ratio[16] = "";
        if (j > 0)
            snprintf(ratio, sizeof ratio, "%.2f", f[0].median / f[j].median);
        printf("%-4s %-36s %-30s %24s %9.2f %9s\n", j ? "" : "W11", j ? "" : "raw context switch",
               impls[j].name, bench_text(f[j], text, sizeof text), f[j].cpu, ratio);
        bench_csv(&args, "W11 switch", impls[j].name, f[j]);
    }
    bench_done(&args);
    return 0;
}
