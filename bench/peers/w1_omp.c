/* w1_omp.c — BENCH.md W1 peer: OpenMP tasks on 2 threads (no future): one
 * thread creates N no-op tasks, taskwait waits for all.  CSV rows. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long done_count;

static double w1(long n)
{
    done_count = 0;
    double t0 = omp_get_wtime();
#pragma omp parallel num_threads(2)
#pragma omp single
    {
        for (long i = 0; i < n; i++) {
#pragma omp task
            {
#pragma omp atomic
                done_count++;
            }
        }
#pragma omp taskwait
    }
    double dt = omp_get_wtime() - t0;
    if (done_count != n) {
        fprintf(stderr, "W1 omp: tasks lost\n");
        exit(1);
    }
    return dt * 1e9 / (double)n;
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
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--items"))
            items = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 64)
        return 2;
    double s[64];
    w1(items / 4 + 1);
    for (int i = 0; i < reps; i++)
        s[i] = w1(items);
    qsort(s, (size_t)reps, sizeof *s, by_value);
    printf("W1,OpenMP task (no future),%.2f,%.2f,%.2f\n", s[reps / 2], s[0], s[reps - 1]);
    return 0;
}
