/* SPDX-License-Identifier: MIT */
/* shared_counter.c — the guides' race condition and its fix.
 *
 * Ten threads each read a shared counter, pause (the guides' "simulate some
 * processing"), and write back the value plus one.  Without a lock they
 * all read the same old value and the final count is far below ten: nine
 * updates are lost.  With a lock around the read-pause-write, the final
 * count is exactly ten.
 *
 * Usage: shared_counter [pause-seconds]   (default 0.1)
 */
#include <weft.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 10

static double pause_seconds = 0.1;
static long counter;
static weft_lock lock = WEFT_LOCK_INIT; /* lock = threading.Lock() */

/* Without a lock: read, pause, write.  Each read and each write is atomic
 * (a plain variable written by several threads would be undefined behaviour
 * in C), yet updates are lost: what must be atomic is the whole
 * read-pause-write, and only the lock makes it so. */
static _Atomic long racy_counter;

static void *increment_unsafely(void *arg)
{
    (void)arg;
    long local_counter = atomic_load(&racy_counter);
    weft_sleep(pause_seconds);
    atomic_store(&racy_counter, local_counter + 1);
    return NULL;
}

/* With the lock (Python's `with lock:`). */
static void *increment_counter(void *arg)
{
    (void)arg;
    WEFT_WITH(&lock) {
        long local_counter = counter;
        weft_sleep(pause_seconds / THREADS);
        counter = local_counter + 1;
    }
    return NULL;
}

/* A weft call that failed: say which and why, and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

static void run(weft_thread_fn fn)
{
    weft_thread *threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        check(weft_thread_new(&threads[i], fn, NULL, NULL), "weft_thread_new");
        check(weft_thread_start(threads[i]), "weft_thread_start");
    }
    for (int i = 0; i < THREADS; i++) {
        check(weft_thread_join(threads[i], NULL), "weft_thread_join");
        weft_thread_free(threads[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1)
        pause_seconds = atof(argv[1]);
    if (!(pause_seconds > 0 && pause_seconds < 10)) {
        fprintf(stderr, "usage: %s [pause-seconds, 0..10]\n", argv[0]);
        return 2;
    }
    run(increment_unsafely);
    long racy = atomic_load(&racy_counter);
    printf("without a lock: final counter %ld of %d (%ld updates lost)\n", racy, THREADS,
           THREADS - racy);
    run(increment_counter);
    long safe = counter;
    printf("with a lock:    final counter %ld of %d\n", safe, THREADS);
    return safe == THREADS ? 0 : 1;
}
