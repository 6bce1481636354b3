/* SPDX-License-Identifier: MIT */
/* testutil.h — helpers shared by the weft tests.
 *
 * cmocka's assertions jump back to the test runner, so they may only be
 * used on the test's own thread: helper threads record what they saw in
 * shared variables, and the test asserts after joining them.
 *
 * Timing follows CPython's lock_tests: a timed wait of t seconds must take
 * between 0.6 t and 10 t; "the threads are blocked" is approximated by a
 * short sleep, as CPython's wait_threads_blocked does.
 */
#ifndef WEFT_TESTUTIL_H
#define WEFT_TESTUTIL_H

#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "weft.h"

/* UNDER_SANITIZER: built with ASan or TSan, whose runtimes make a fork
 * child that starts threads unsafe (see test_process.c and test_timer.c);
 * UNDER_TSAN, UNDER_ASAN: with that one. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Stress sizes: the issue asks for 8+ threads x 100k operations. */
#define STRESS_THREADS 8
#define STRESS_OPS 100000

/* A group of raw pthreads running fn(index, arg), like lock_tests.Bunch. */
typedef void (*bunch_fn)(int index, void *arg);

typedef struct bunch {
    int n;
    pthread_t *threads;
    struct bunch_slot {
        bunch_fn fn;
        void *arg;
        int index;
        struct bunch *owner;
    } *slots;
    atomic_int started;
    atomic_int finished;
} bunch;

static void *bunch_entry(void *p)
{
    struct bunch_slot *slot = p;
    atomic_fetch_add(&slot->owner->started, 1);
    slot->fn(slot->index, slot->arg);
    atomic_fetch_add(&slot->owner->finished, 1);
    return NULL;
}

static inline bunch *bunch_start(int n, bunch_fn fn, void *arg)
{
    bunch *b = calloc(1, sizeof *b);
    b->n = n;
    b->threads = calloc((size_t)n, sizeof *b->threads);
    b->slots = calloc((size_t)n, sizeof *b->slots);
    for (int i = 0; i < n; i++) {
        b->slots[i] = (struct bunch_slot){fn, arg, i, b};
        if (pthread_create(&b->threads[i], NULL, bunch_entry, &b->slots[i]) != 0)
            abort();
    }
    return b;
}

static inline void bunch_join(bunch *b)
{
    for (int i = 0; i < b->n; i++)
        pthread_join(b->threads[i], NULL);
    free(b->threads);
    free(b->slots);
    free(b);
}

static inline int bunch_finished(bunch *b) { return atomic_load(&b->finished); }

/* Sleep for the given seconds (weft_sleep cannot fail for these). */
static inline void nap(double seconds) { (void)weft_sleep(seconds); }

/* Let threads reach their blocking call: CPython's wait_threads_blocked. */
static inline void wait_threads_blocked(int n) { nap(0.01 * (n > 5 ? n : 5)); }

/* Poll `cond` every millisecond for up to `timeout` seconds. */
#define wait_until(cond, timeout)                                              \
    do {                                                                      \
        double wait_until_end_ = weft_monotonic() + (timeout);               \
        while (!(cond) && weft_monotonic() < wait_until_end_)                 \
            nap(0.001);                                                       \
    } while (0)

/* Fail unless `cond` comes true within `timeout` seconds. */
#define assert_eventually(cond, timeout)                                       \
    do {                                                                      \
        wait_until(cond, timeout);                                            \
        assert_true(cond);                                                    \
    } while (0)

/* Upper bound for a call that must not wait ("returns immediately"): far
 * below any timeout the tests use, far above scheduling noise on a loaded
 * 2-core CI machine running sanitizers. */
#define IMMEDIATE 0.25

/* CPython's assertTimeout: 0.6 t <= dt < 10 t. */
#define assert_timeout(dt, t)                                                  \
    do {                                                                      \
        assert_true((dt) >= 0.6 * (t));                                       \
        assert_true((dt) < 10 * (t));                                         \
    } while (0)

/* Text of a repr-style call, for assertions. */
#define REPR(fn, obj, buf) (fn((obj), (buf), sizeof(buf)), (buf))

#ifdef EXIT_HELPER
/* Run tests/exit_helper MODE with stderr merged into stdout, with `env`
 * ("NAME=value ..." or "") as its only weft setting: WEFT_DEBUG is cleared
 * unless env sets it.  `out` gets the output, *seconds (may be NULL) how
 * long it ran.  Returns its exit status, or -1 if it did not exit normally. */
static inline int run_helper_env(const char *env, const char *mode, char *out, size_t size,
                                 double *seconds)
{
    char command[512];
    snprintf(command, sizeof command, "env -u WEFT_DEBUG %s %s %s 2>&1", env, EXIT_HELPER, mode);
    double t0 = weft_monotonic();
    FILE *p = popen(command, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    if (seconds)
        *seconds = weft_monotonic() - t0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline int run_helper(const char *mode, char *out, size_t size, double *seconds)
{
    return run_helper_env("", mode, out, size, seconds);
}
#endif

#endif
