/* SPDX-License-Identifier: MIT */
/* w12_uv.c — docs/benchmarks.md W1 and W2 peer: libuv's uv_queue_work on its
 * threadpool of --threads threads (default 2, as weft's pool).  W1: queue N
 * no-op works, run the loop until every after-work callback ran; W2: queue
 * one, run the loop, repeat.  CSV rows through bench_peer_row.
 *
 * Fairness:
 * - The pool size: libuv reads UV_THREADPOOL_SIZE once, when the first work
 *   is queued.  compare.py sets it, and main sets it from --threads as well
 *   (before any uv call), so the program is right when run on its own.
 * - W1's requests: a uv_work_t per work is libuv's model (the caller owns
 *   the request until its after-work callback).  The array is allocated and
 *   touched once, before any repetition, and reused: allocating it per
 *   repetition cost ~31k page faults (fresh mmap'd pages) inside the clock,
 *   which is the allocator's and the kernel's time, not libuv's.  A request
 *   may be queued again once its after-work callback has run, which
 *   uv_run(UV_RUN_DEFAULT) guarantees before it returns. */
#define _POSIX_C_SOURCE 200809L
#include "../bench_util.h"
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long completed;
static uv_work_t *reqs; /* W1's requests, room for the largest n */
static long reqs_room;

static void work(uv_work_t *req) { (void)req; }

static void after(uv_work_t *req, int status)
{
    (void)req;
    if (status == 0)
        completed++;
}

static double w1(long n)
{
    if (n > reqs_room) {
        fprintf(stderr, "W1 uv: %ld works, room for %ld\n", n, reqs_room);
        exit(1);
    }
    uv_loop_t *loop = uv_default_loop();
    completed = 0;
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < n; i++)
        uv_queue_work(loop, &reqs[i], work, after);
    uv_run(loop, UV_RUN_DEFAULT);
    double ns = (double)(uv_hrtime() - t0);
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
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    char size[16];
    snprintf(size, sizeof size, "%d", bench_threads);
    setenv("UV_THREADPOOL_SIZE", size, 1); /* read when the first work is queued */
    reqs_room = items;
    reqs = malloc((size_t)items * sizeof *reqs);
    if (!reqs) {
        fprintf(stderr, "W1 uv: out of memory\n");
        return 1;
    }
    memset(reqs, 0, (size_t)items * sizeof *reqs); /* fault every page in now */
    bench_peer_row("W1", "libuv uv_queue_work", w1, items, reps);
    bench_peer_row("W2", "libuv uv_queue_work", w2, items >= 10 ? items / 10 : 1, reps);
    free(reqs);
    return 0;
}
