/* SPDX-License-Identifier: MIT */
/* w3_glib.c — BENCH.md W3 peer: GLib's GAsyncQueue (unbounded), 1P/1C and
 * 2P/2C, ns per item.  Prints CSV rows like the weft benches. */
#include "../bench_util.h"
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run {
    GAsyncQueue *queue;
    long per;
    guint64 total;
    GMutex lock;
};

static gpointer producer(gpointer arg)
{
    struct run *r = arg;
    for (long i = 1; i <= r->per; i++)
        g_async_queue_push(r->queue, (gpointer)(uintptr_t)i);
    return NULL;
}

static gpointer consumer(gpointer arg)
{
    struct run *r = arg;
    guint64 sum = 0;
    for (long i = 0; i < r->per; i++)
        sum += (uintptr_t)g_async_queue_pop(r->queue);
    g_mutex_lock(&r->lock);
    r->total += sum;
    g_mutex_unlock(&r->lock);
    return NULL;
}

static double run(int pairs, long items)
{
    struct run r = {.queue = g_async_queue_new(), .per = items / pairs};
    g_mutex_init(&r.lock);
    GThread *threads[8];
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < pairs; i++) {
        threads[2 * i] = g_thread_new("consumer", consumer, &r);
        threads[2 * i + 1] = g_thread_new("producer", producer, &r);
    }
    for (int i = 0; i < 2 * pairs; i++)
        g_thread_join(threads[i]);
    double us = (double)(g_get_monotonic_time() - t0);
    guint64 n = (guint64)r.per;
    if (r.total != (guint64)pairs * n * (n + 1) / 2) {
        fprintf(stderr, "W3 glib: items lost\n");
        exit(1);
    }
    g_async_queue_unref(r.queue);
    g_mutex_clear(&r.lock);
    return us * 1000.0 / (double)(r.per * pairs);
}

static double one_pair(long items) { return run(1, items); }
static double two_pairs(long items) { return run(2, items); }

int main(int argc, char **argv)
{
    long items = 2000000;
    int reps = 9;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    bench_peer_row("W3 1P/1C", "GLib GAsyncQueue", one_pair, items, reps);
    bench_peer_row("W3 2P/2C", "GLib GAsyncQueue", two_pairs, items, reps);
    return 0;
}
