/* SPDX-License-Identifier: MIT */
/* w12_glib.c — BENCH.md W1 and W2 peer: GLib's GThreadPool with 2 threads
 * (no future: completion is counted).  W1: push N no-op tasks, wait for all;
 * W2: push one, wait for it, repeat.  Prints CSV rows like the others. */
#include "../bench_util.h"
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

int main(int argc, char **argv)
{
    long items = 1000000;
    int reps = 5;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    bench_peer_row("W1", "GLib GThreadPool (no future)", w1, items, reps);
    bench_peer_row("W2", "GLib GThreadPool (no future)", w2, items / 10, reps);
    return 0;
}
