/* SPDX-License-Identifier: MIT */
/* queues.c — the guides' queue programs: producer/consumer ended by a
 * sentinel, the same ended by shutdown (Python 3.13), task_done/join to
 * wait until every item was processed, and a priority queue.
 *
 * Usage: queues [items]   (default 20)
 */
#include <weft.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int items = 20;
#define SENTINEL ((void *)-1) /* Python's None put at the end */

/* A weft call that failed: say which and why, and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

/* As check, for a call on a queue that threads use: shut it down first, so
 * that they stop instead of waiting forever for the rest (exit joins them). */
static void check_on(weft_queue *q, int rc, const char *what)
{
    if (rc != WEFT_OK)
        weft_queue_shutdown(q, true);
    check(rc, what);
}

/* Start fn(q) on a new thread. */
static weft_thread *start(weft_thread_fn fn, weft_queue *q)
{
    weft_thread *t;
    check_on(q, weft_thread_new(&t, fn, q, NULL), "weft_thread_new");
    check_on(q, weft_thread_start(t), "weft_thread_start"); /* WEFT_EAGAIN: no thread */
    return t;
}

static void *finish(weft_thread *t)
{
    void *r;
    check(weft_thread_join(t, &r), "weft_thread_join");
    weft_thread_free(t);
    return r;
}

/* Consumers add up what they get; they stop at a sentinel or at shutdown. */
static void *consume_until_sentinel(void *arg)
{
    weft_queue *q = arg;
    uintptr_t sum = 0;
    void *item;
    while (weft_queue_get(q, &item) == WEFT_OK && item != SENTINEL)
        sum += (uintptr_t)item;
    return (void *)sum;
}

static void *consume_until_shutdown(void *arg)
{
    weft_queue *q = arg;
    uintptr_t sum = 0;
    void *item;
    while (weft_queue_get(q, &item) == WEFT_OK) /* WEFT_ESHUTDOWN once drained */
        sum += (uintptr_t)item;
    return (void *)sum;
}

/* A worker for task_done/join: never stops by itself (a daemon in Python). */
static uintptr_t processed;
static weft_lock processed_lock = WEFT_LOCK_INIT;
static void *worker(void *arg)
{
    weft_queue *q = arg;
    void *item;
    while (weft_queue_get(q, &item) == WEFT_OK) {
        WEFT_WITH(&processed_lock) { processed += (uintptr_t)item; }
        weft_queue_task_done(q); /* this item is finished */
    }
    return NULL;
}

struct job {
    int priority;
    const char *name;
};

static int by_priority(const void *a, const void *b, void *arg)
{
    (void)arg;
    const struct job *x = a, *y = b;
    return (x->priority > y->priority) - (x->priority < y->priority);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        items = atoi(argv[1]);
    if (items < 1 || items > 1000000) {
        fprintf(stderr, "usage: %s [items 1-1000000]\n", argv[0]);
        return 2;
    }
    uintptr_t expected = (uintptr_t)items * (items + 1) / 2;

    /* 1. A sentinel tells the consumer there is no more. */
    weft_queue *q;
    /* Queue(maxsize=5): the producer waits when it is full */
    check(weft_queue_new(&q, 5), "weft_queue_new");
    weft_thread *consumer = start(consume_until_sentinel, q);
    for (uintptr_t i = 1; i <= (uintptr_t)items; i++)
        check_on(q, weft_queue_put(q, (void *)i), "weft_queue_put"); /* WEFT_ENOMEM */
    check_on(q, weft_queue_put(q, SENTINEL), "weft_queue_put");
    printf("sentinel: consumer summed %lu (expected %lu)\n", (unsigned long)(uintptr_t)finish(consumer),
           (unsigned long)expected);
    weft_queue_free(q);

    /* 2. shutdown() ends every consumer once the queue is drained. */
    check(weft_queue_new(&q, 5), "weft_queue_new");
    weft_thread *c1 = start(consume_until_shutdown, q), *c2 = start(consume_until_shutdown, q);
    for (uintptr_t i = 1; i <= (uintptr_t)items; i++)
        check_on(q, weft_queue_put(q, (void *)i), "weft_queue_put");
    weft_queue_shutdown(q, false);
    uintptr_t sum = (uintptr_t)finish(c1) + (uintptr_t)finish(c2);
    printf("shutdown: two consumers summed %lu (expected %lu)\n", (unsigned long)sum,
           (unsigned long)expected);
    weft_queue_free(q);

    /* 3. join() waits until task_done was called for every item put. */
    check(weft_queue_new(&q, 0), "weft_queue_new");
    weft_thread *w1 = start(worker, q), *w2 = start(worker, q);
    for (uintptr_t i = 1; i <= (uintptr_t)items; i++)
        check_on(q, weft_queue_put(q, (void *)i), "weft_queue_put");
    weft_queue_join(q);
    uintptr_t done = 0;
    WEFT_WITH(&processed_lock) { done = processed; }
    printf("task_done/join: all %d items processed, sum %lu\n", items, (unsigned long)done);
    weft_queue_shutdown(q, false); /* let the workers end */
    finish(w1);
    finish(w2);
    weft_queue_free(q);

    /* 4. A priority queue: the smallest priority comes out first. */
    static struct job jobs[] = {{3, "write report"}, {1, "fix outage"}, {2, "review code"}};
    check(weft_priority_queue_new(&q, 0, by_priority, NULL), "weft_priority_queue_new");
    for (int i = 0; i < 3; i++)
        check(weft_queue_put(q, &jobs[i]), "weft_queue_put");
    printf("priority:");
    void *item;
    while (weft_queue_get_nowait(q, &item) == WEFT_OK)
        printf(" %d %s;", ((struct job *)item)->priority, ((struct job *)item)->name);
    printf("\n");
    weft_queue_free(q);
    return 0;
}
