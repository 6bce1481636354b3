/* SPDX-License-Identifier: MIT */
/* w12_uv.c — BENCH.md W1 and W2 peer: libuv's uv_queue_work on a 2-thread
 * pool (UV_THREADPOOL_SIZE=2).  W1: queue N no-op works, run the loop until
 * every after-work callback ran; W2: queue one, run the loop, repeat.  CSV
 * rows like the other peers. */
#define _POSIX_C_SOURCE 200809L
#include "../bench_util.h"
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long completed;

static void work(uv_work_t *req) { (void)req; }

static void after(uv_work_t *req, int status)
{
    (void)req;
    if (status == 0)
        completed++;
}

static double w1(long n)
{
    uv_loop_t *loop = uv_default_loop();
    uv_work_t *reqs = calloc((size_t)n, sizeof *reqs);
    completed = 0;
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < n; i++)
        uv_queue_work(loop, &reqs[i], work, after);
    uv_run(loop, UV_RUN_DEFAULT);
    double ns = (double)(uv_hrtime() - t0);
    free(reqs);
    if (completed != n) {
        fprintf(stderr, "W1 uv: works lost\n");
        exit(1);
    }
    return ns / (double)n;
}

static double w2(long n)
{
    uv_loop_t *loop = uv_default_loop();
    uv_work_t req;
    completed = 0;
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < n; i++) {
        uv_queue_work(loop, &req, work, after);
        uv_run(loop, UV_RUN_DEFAULT);
    }
    double ns = (double)(uv_hrtime() - t0);
    if (completed != n) {
        fprintf(stderr, "W2 uv: works lost\n");
        exit(1);
    }
    return ns / (double)n;
}

int main(int argc, char **argv)
{
    long items = 1000000;
    int reps = 5;
    setenv("UV_THREADPOOL_SIZE", "2", 1); /* read when the pool starts */
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    bench_peer_row("W1", "libuv uv_queue_work", w1, items, reps);
    bench_peer_row("W2", "libuv uv_queue_work", w2, items / 10, reps);
    return 0;
}
