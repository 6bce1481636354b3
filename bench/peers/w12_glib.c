/* w12_glib.c — BENCH.md W1 and W2 peer: GLib's GThreadPool with 2 threads
 * (no future: completion is counted).  W1: push N no-op tasks, wait for all;
 * W2: push one, wait for it, repeat.  Prints CSV rows like the others. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMutex lock;
static GCond cond;
static long done;

static void task(gpointer data, gpointer user)
{
    (void)data;
    (void)user;
    g_mutex_lock(&lock);
    done++;
    g_cond_signal(&cond);
    g_mutex_unlock(&lock);
}

static void wait_for(long n)
{
    g_mutex_lock(&lock);
    while (done < n)
        g_cond_wait(&cond, &lock);
    g_mutex_unlock(&lock);
}

static double w1(long n)
{
    GThreadPool *pool = g_thread_pool_new(task, NULL, 2, TRUE, NULL);
    done = 0;
    gint64 t0 = g_get_monotonic_time();
    for (long i = 0; i < n; i++)
        g_thread_pool_push(pool, GINT_TO_POINTER(1), NULL);
    wait_for(n);
    double us = (double)(g_get_monotonic_time() - t0);
    g_thread_pool_free(pool, FALSE, TRUE);
    return us * 1000.0 / (double)n;
}

static double w2(long n)
{
    GThreadPool *pool = g_thread_pool_new(task, NULL, 2, TRUE, NULL);
    done = 0;
    gint64 t0 = g_get_monotonic_time();
    for (long i = 0; i < n; i++) {
        g_thread_pool_push(pool, GINT_TO_POINTER(1), NULL);
        wait_for(i + 1);
    }
    double us = (double)(g_get_monotonic_time() - t0);
    g_thread_pool_free(pool, FALSE, TRUE);
    return us * 1000.0 / (double)n;
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
        printf("%s,GLib GThreadPool (no future),%.2f,%.2f,%.2f\n", rows[r].id, s[reps / 2], s[0],
               s[reps - 1]);
    }
    return 0;
}
