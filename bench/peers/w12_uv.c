/* w12_uv.c — BENCH.md W1 and W2 peer: libuv's uv_queue_work on a 2-thread
 * pool (UV_THREADPOOL_SIZE=2).  W1: queue N no-op works, run the loop until
 * every after-work callback ran; W2: queue one, run the loop, repeat.  CSV
 * rows like the other peers. */
#define _POSIX_C_SOURCE 200809L
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

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long items = 1000000;
    int reps = 5;
    setenv("UV_THREADPOOL_SIZE", "2", 1);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--items"))
            items = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 64)
        return 2;
    struct {
        const char *id;
        double (*fn)(long);
        long n;
    } rows[] = {{"W1", w1, items}, {"W2", w2, items / 10}};
    for (int r = 0; r < 2; r++) {
        double s[64];
        rows[r].fn(rows[r].n / 4 + 1);
        for (int i = 0; i < reps; i++)
            s[i] = rows[r].fn(rows[r].n);
        qsort(s, (size_t)reps, sizeof *s, by_value);
        printf("%s,libuv uv_queue_work,%.2f,%.2f,%.2f\n", rows[r].id, s[reps / 2], s[0],
               s[reps - 1]);
    }
    return 0;
}
