/* SPDX-License-Identifier: MIT */
/* bench_switch.c — nanoseconds per context switch: weft's switch
 * (src/platform/switch.h) against glibc's swapcontext, in interleaved
 * rounds so both see the same machine.  A round trip is two switches.
 *   bench_switch [round_trips] [rounds] */
#define _GNU_SOURCE
#include "platform/switch.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

static weft_ctx w_loop, w_co;
static ucontext_t u_loop, u_co;
static long trips;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void weft_body(void *arg)
{
    (void)arg;
    for (;;)
        weft__ctx_switch(&w_co, &w_loop);
}

static void uc_body(void)
{
    for (;;)
        swapcontext(&u_co, &u_loop);
}

static double weft_round(void)
{
    double t0 = now_ns();
    for (long i = 0; i < trips; i++)
        weft__ctx_switch(&w_loop, &w_co);
    return (now_ns() - t0) / (2.0 * (double)trips);
}

static double uc_round(void)
{
    double t0 = now_ns();
    for (long i = 0; i < trips; i++)
        swapcontext(&u_loop, &u_co);
    return (now_ns() - t0) / (2.0 * (double)trips);
}

int main(int argc, char **argv)
{
    trips = argc > 1 ? atol(argv[1]) : 2000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    size_t size = 64 * 1024;
    char *w_stack = malloc(size), *u_stack = malloc(size);
    if (!w_stack || !u_stack || trips <= 0 || rounds <= 0)
        return 1;
    if (weft__ctx_init_current(&w_loop) != 0 ||
        weft__ctx_make(&w_co, w_stack, size, weft_body, NULL) != 0 || getcontext(&u_co) != 0)
        return 1;
    u_co.uc_stack.ss_sp = u_stack;
    u_co.uc_stack.ss_size = size;
    makecontext(&u_co, uc_body, 0);
    double best_w = 1e30, best_u = 1e30;
    for (int r = 0; r < rounds; r++) {
        double w = r % 2 ? weft_round() : 0, u = uc_round();
        if (r % 2 == 0)
            w = weft_round();
        best_w = w < best_w ? w : best_w;
        best_u = u < best_u ? u : best_u;
        printf("round %d: weft %.2f ns/switch, swapcontext %.2f ns/switch\n", r, w, u);
    }
    printf("best: weft %.2f ns/switch, swapcontext %.2f ns/switch (%.1fx)\n", best_w, best_u,
           best_u / best_w);
    return 0;
}
