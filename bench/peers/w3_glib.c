/* SPDX-License-Identifier: MIT */
/* w3_glib.c — docs/benchmarks.md W3 peer: GLib's GAsyncQueue (unbounded), 1P/1C and
 * 2P/2C (and NP/NC for --threads N above 2: w3_rows.h), ns per item, the
 * consumers' checksum verified.  CSV rows through bench_peer_row. */
#include "w3_rows.h"
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
    struct run r = {.queue = g_async_queue_new(), .per = items >= pairs ? items / pairs : 1};
    g_mutex_init(&r.lock);
    GThread **threads = g_new(GThread *, 2 * pairs);
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < pairs; i++) {
        threads[2 * i] = g_thread_new("consumer", consumer, &r);
        threads[2 * i + 1] = g_thread_new("producer", producer, &r);
    }
    for (int i = 0; i < 2 * pairs; i++)
        g_thread_join(threads[i]);
    double us = (double)(g_get_monotonic_time() - t0);
    g_free(threads);
    if (r.total != w3_expected(pairs, r.per)) {
        fprintf(stderr, "W3 glib: items lost\n");
        exit(1);
    }
    g_async_queue_unref(r.queue);
    g_mutex_clear(&r.lock);
    return us * 1000.0 / (double)(r.per * pairs);
}

int main(int argc, char **argv)
{
    long items = 2000000;
    int reps = 9;
    if (bench_peer_args(argc, argv, &items, &reps))
        return 2;
    w3_rows("GLib GAsyncQueue", run, items, reps);
    return 0;
}
