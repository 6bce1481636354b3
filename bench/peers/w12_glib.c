/* SPDX-License-Identifier: MIT */
/* w12_glib.c — docs/benchmarks.md W1 and W2 peer: GLib's GThreadPool with --threads
 * exclusive worker threads (default 2, as weft's pool).  GLib has no future;
 * each row waits the way GLib's own API and its users wait:
 *
 * W1 (push N no-op tasks, wait for all): g_thread_pool_free(pool, FALSE,
 *   TRUE), the one wait-for-everything GLib documents ("does not return
 *   before all tasks to be processed are ready").  The tasks do no locking
 *   and wake nobody; the old version took a global GMutex and signalled a
 *   GCond in every task, so the submitter was woken up to N times — a cost
 *   no GLib user pays for a wait-for-all.  The pool (its threads start at
 *   g_thread_pool_new, exclusive) is made before the clock; its shutdown is
 *   inside it, a few thread exits spread over N tasks.
 * W2 (push one task, wait for it, repeat): the task pushes its result onto
 *   a GAsyncQueue and the submitter pops it — GLib's inter-thread channel,
 *   the GLib spelling of a reply channel or a future.  One pool serves
 *   every round trip.
 *
 * Each row counts that every task ran.  CSV rows through bench_peer_row. */
#include "../bench_util.h"
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static gint ran; /* tasks run, checked after each repetition */

static GThreadPool *new_pool(GFunc fn, gpointer user)
{
    GError *error = NULL;
    GThreadPool *pool = g_thread_pool_new(fn, user, bench_threads, TRUE, &error);
    if (!pool) {
        fprintf(stderr, "glib: g_thread_pool_new: %s\n", error->message);
        exit(1);
    }
    return pool;
}

static void check_ran(const char *w, long n)
{
    if (g_atomic_int_get(&ran) != (gint)n) {
        fprintf(stderr, "%s glib: %d tasks ran, expected %ld\n", w, g_atomic_int_get(&ran), n);
        exit(1);
    }
}

static void noop_task(gpointer data, gpointer user)
{
    (void)data;
    (void)user;
    g_atomic_int_inc(&ran);
}

static double w1(long n)
{
    GThreadPool *pool = new_pool(noop_task, NULL);
    g_atomic_int_set(&ran, 0);
    gint64 t0 = g_get_monotonic_time();
    for (long i = 0; i < n; i++)
        g_thread_pool_push(pool, GINT_TO_POINTER(1), NULL);
    g_thread_pool_free(pool, FALSE, TRUE); /* wait for every task */
    double us = (double)(g_get_monotonic_time() - t0);
    check_ran("W1", n);
    return us * 1000.0 / (double)n;
}

/* W2's task: its reply goes to the GAsyncQueue the pool was made with. */
static void reply_task(gpointer data, gpointer user)
{
    g_atomic_int_inc(&ran);
    g_async_queue_push((GAsyncQueue *)user, data);
}

static double w2(long n)
{
    GAsyncQueue *replies = g_async_queue_new();
    GThreadPool *pool = new_pool(reply_task, replies);
    g_atomic_int_set(&ran, 0);
    gint64 t0 = g_get_monotonic_time();
    for (long i = 1; i <= n; i++) {
        g_thread_pool_push(pool, GSIZE_TO_POINTER(i), NULL);
        if (g_async_queue_pop(replies) != GSIZE_TO_POINTER(i)) {
            fprintf(stderr, "W2 glib: wrong reply\n");
            exit(1);
        }
    }
    double us = (double)(g_get_monotonic_time() - t0);
    g_thread_pool_free(pool, FALSE, TRUE);
    g_async_queue_unref(replies);
    check_ran("W2", n);
    return us * 1000.0 / (double)n;
}

int main(int argc, char **argv)
{
    long items = 1000000;
    int reps = 5;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    bench_peer_row("W1", "GLib GThreadPool (no future; wait by pool free)", w1, items, reps);
    bench_peer_row("W2", "GLib GThreadPool (GAsyncQueue reply)", w2, items >= 10 ? items / 10 : 1,
                   reps);
    return 0;
}
