/* SPDX-License-Identifier: MIT */
/* sequential_vs_threads.c — the first program of the threading guides:
 * five tasks that each wait one second, run one after another and then on
 * five threads.  Waiting (I/O, sleeping) overlaps across threads, so the
 * threaded run takes about as long as one task.
 *
 * Usage: sequential_vs_threads [tasks] [seconds-per-task]   (default 5 1.0)
 */
#include <weft.h>

#include <stdio.h>
#include <stdlib.h>

/* The task: Python's do_something(seconds). */
static void *do_something(void *arg)
{
    double seconds = *(double *)arg;
    printf("  sleeping %.2f second(s) on %s\n", seconds, weft_thread_name(weft_current_thread()));
    weft_sleep(seconds);
    return "done sleeping";
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
    int tasks = argc > 1 ? atoi(argv[1]) : 5;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (tasks < 1 || tasks > 1000 || seconds < 0) {
        fprintf(stderr, "usage: %s [tasks 1-1000] [seconds >= 0]\n", argv[0]);
        return 2;
    }

    printf("%d tasks of %.2f s, one after another:\n", tasks, seconds);
    double start = weft_perf_counter();
    for (int i = 0; i < tasks; i++)
        do_something(&seconds);
    double sequential = weft_perf_counter() - start;
    printf("sequential: finished in %.2f second(s)\n\n", sequential);

    printf("the same %d tasks, one thread each:\n", tasks);
    weft_thread **threads = calloc((size_t)tasks, sizeof *threads);
    if (!threads) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    start = weft_perf_counter();
    for (int i = 0; i < tasks; i++) {
        /* threading.Thread(target=do_something, args=[seconds]).start() */
        check(weft_thread_new(&threads[i], do_something, &seconds, NULL), "weft_thread_new");
        check(weft_thread_start(threads[i]), "weft_thread_start"); /* WEFT_EAGAIN: no thread */
    }
    for (int i = 0; i < tasks; i++) {
        check(weft_thread_join(threads[i], NULL), "weft_thread_join"); /* thread.join() */
        weft_thread_free(threads[i]);
    }
    double threaded = weft_perf_counter() - start;
    free(threads);
    printf("threads: finished in %.2f second(s)\n\n", threaded);
    printf("%d tasks: sequential %.2f s, threads %.2f s (%.1fx faster)\n", tasks, sequential,
           threaded, threaded > 0 ? sequential / threaded : 0.0);
    return 0;
}
