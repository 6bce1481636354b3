/* w3_glib.c — BENCH.md W3 peer: GLib's GAsyncQueue (unbounded), 1P/1C and
 * 2P/2C, ns per item.  Prints CSV rows like the weft benches. */
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

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long items = 2000000;
    int reps = 9;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--items"))
            items = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 64)
        return 2;
    for (int pairs = 1; pairs <= 2; pairs++) {
        double s[64];
        run(pairs, items / 4);
        for (int i = 0; i < reps; i++)
            s[i] = run(pairs, items);
        qsort(s, (size_t)reps, sizeof *s, by_value);
        printf("W3 %dP/%dC,GLib GAsyncQueue,%.2f,%.2f,%.2f\n", pairs, pairs, s[reps / 2], s[0],
               s[reps - 1]);
    }
    return 0;
}
