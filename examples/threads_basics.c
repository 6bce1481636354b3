/* SPDX-License-Identifier: MIT */
/* threads_basics.c — the guides' first thread programs: create and start
 * two threads, join them, pass an argument, and keep many threads in a
 * list.
 *
 * Usage: threads_basics [seconds]   (default 1.0: how long each one sleeps)
 */
#include <weft.h>

#include <stdio.h>
#include <stdlib.h>

/* Python's do_something(seconds).  A C thread takes one void *: point it at
 * the argument (or at a struct, for several). */
static void *do_something(void *arg)
{
    double seconds = *(const double *)arg;
    printf("  %s: sleeping %.2f second(s)\n", weft_thread_name(weft_current_thread()), seconds);
    weft_sleep(seconds);
    return NULL;
}

/* A weft call that failed: say which and why, and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1); /* not return: threads still running use main's `seconds` */
    }
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(seconds >= 0 && seconds <= 60)) {
        fprintf(stderr, "usage: %s [seconds 0..60]\n", argv[0]);
        return 2;
    }

    /* thread1 = Thread(target=do_something, args=[seconds]); start; join */
    double start = weft_perf_counter();
    weft_thread *thread1, *thread2;
    check(weft_thread_new(&thread1, do_something, &seconds, NULL), "weft_thread_new");
    check(weft_thread_new(&thread2, do_something, &seconds, NULL), "weft_thread_new");
    check(weft_thread_start(thread1), "weft_thread_start"); /* WEFT_EAGAIN: no thread */
    check(weft_thread_start(thread2), "weft_thread_start");
    check(weft_thread_join(thread1, NULL), "weft_thread_join"); /* wait for both */
    check(weft_thread_join(thread2, NULL), "weft_thread_join");
    weft_thread_free(thread1);
    weft_thread_free(thread2);
    printf("2 threads finished in %.2f s (one sleep, not two)\n", weft_perf_counter() - start);

    /* threads = []; 10 x (Thread(...).start(); append); then join them all */
    start = weft_perf_counter();
    weft_thread *threads[10];
    for (int i = 0; i < 10; i++) {
        check(weft_thread_new(&threads[i], do_something, &seconds, NULL), "weft_thread_new");
        check(weft_thread_start(threads[i]), "weft_thread_start");
    }
    for (int i = 0; i < 10; i++) {
        check(weft_thread_join(threads[i], NULL), "weft_thread_join");
        weft_thread_free(threads[i]);
    }
    printf("10 threads finished in %.2f s\n", weft_perf_counter() - start);
    return 0;
}
