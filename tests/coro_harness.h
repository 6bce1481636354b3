/* SPDX-License-Identifier: MIT */
/* coro_harness.h — helpers for the tests that run coroutines.
 *
 * cmocka's assertions longjmp back to the test runner: from inside a
 * coroutine that would jump off the coroutine's stack and leave its loop
 * half-run, and from a helper thread it is not allowed at all.  So the code
 * of coroutines and helper threads checks with CO_CHECK*, which records the
 * first failure (and counts them), and the test asserts once weft_run has
 * returned: run_coro does both, assert_co_clean the second.
 *
 * Waiting in these tests is always bounded: a coroutine polls with
 * wait_until (testutil.h), whose weft_sleep suspends only the coroutine, and
 * every object a test blocks on is woken or the waiter cancelled before the
 * test ends (weft_run also cancels what is left), so a hang fails by the
 * test's ctest timeout at worst.
 */
#ifndef WEFT_CORO_HARNESS_H
#define WEFT_CORO_HARNESS_H

#include "testutil.h"

#include "weft/coro.h"

#include <time.h>

/* ---- failures recorded away from the test's own stack ------------------ */

static pthread_mutex_t co_failure_lock = PTHREAD_MUTEX_INITIALIZER;
static int co_failure_count;
static char co_failure_text[1024];
/* What a table-driven test is running now, named in its failures. */
static char co_context[256];

static inline bool co_fail_(const char *file, int line, const char *what)
{
    pthread_mutex_lock(&co_failure_lock);
    if (co_failure_count++ == 0)
        snprintf(co_failure_text, sizeof co_failure_text, "%s%s%s:%d: %s", co_context,
                 co_context[0] ? ": " : "", file, line, what);
    pthread_mutex_unlock(&co_failure_lock);
    return false;
}

/* Set (printf-style) or clear (NULL) the context of later failures; not
 * while coroutines or helper threads of the test run. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2)))
#endif
static inline void co_set_context(const char *format, ...)
{
    va_list ap;
    if (!format) {
        co_context[0] = '\0';
        return;
    }
    va_start(ap, format);
    vsnprintf(co_context, sizeof co_context, format, ap);
    va_end(ap);
}

static inline bool co_check_(bool ok, const char *what, const char *file, int line)
{
    return ok ? true : co_fail_(file, line, what);
}

static inline bool co_check_int_(long long got, long long want, const char *what,
                                 const char *file, int line)
{
    char text[512];
    if (got == want)
        return true;
    snprintf(text, sizeof text, "%s: got %lld, expected %lld", what, got, want);
    return co_fail_(file, line, text);
}

static inline bool co_check_rc_(int got, int want, const char *what, const char *file, int line)
{
    char text[512];
    if (got == want)
        return true;
    snprintf(text, sizeof text, "%s: got %s, expected %s", what, weft_status_name(got),
             weft_status_name(want));
    return co_fail_(file, line, text);
}

#define CO_CHECK(cond) co_check_((cond) ? true : false, #cond, __FILE__, __LINE__)
#define CO_CHECK_INT(got, want)                                                \
    co_check_int_((long long)(got), (long long)(want), #got " == " #want, __FILE__, __LINE__)
#define CO_CHECK_RC(got, want) co_check_rc_((got), (want), #got, __FILE__, __LINE__)
/* A status that may be one of two outcomes. */
#define CO_CHECK_RC2(got, a, b)                                                \
    do {                                                                      \
        int co_rc2_ = (got);                                                  \
        if (co_rc2_ != (a))                                                   \
            CO_CHECK_RC(co_rc2_, (b));                                        \
    } while (0)

static inline void co_reset(void)
{
    pthread_mutex_lock(&co_failure_lock);
    co_failure_count = 0;
    co_failure_text[0] = '\0';
    pthread_mutex_unlock(&co_failure_lock);
}

/* Fail the test (on its own thread) if anything recorded a failure. */
#define assert_co_clean()                                                      \
    do {                                                                      \
        pthread_mutex_lock(&co_failure_lock);                                 \
        int co_n_ = co_failure_count;                                         \
        pthread_mutex_unlock(&co_failure_lock);                               \
        if (co_n_)                                                            \
            fail_msg("%s (%d failed check%s)", co_failure_text, co_n_,        \
                     co_n_ == 1 ? "" : "s");                                  \
    } while (0)

/* Run fn(arg) as the main coroutine of a fresh loop on the test's thread
 * and check that it went well; its result. */
static inline void *run_coro_with(weft_task_fn fn, void *arg, const weft_loop_options *options)
{
    void *result = NULL;
    co_reset();
    int rc = weft_run(fn, arg, options, &result);
    assert_co_clean();
    if (rc != WEFT_OK)
        fail_msg("weft_run: %s", weft_status_name(rc));
    return result;
}

static inline void *run_coro(weft_task_fn fn, void *arg) { return run_coro_with(fn, arg, NULL); }

/* ---- inside coroutines ---------------------------------------------------- */

#define ITEM(n) ((void *)(uintptr_t)(n))
#define VALUE(p) ((uintptr_t)(p))

/* Start a task on the running loop; a reference the caller releases. */
static inline weft_future *co_spawn(weft_task_fn fn, void *arg)
{
    weft_future *task = NULL;
    CO_CHECK_RC(weft_spawn(fn, arg, NULL, &task), WEFT_OK);
    return task;
}

static inline weft_future *co_spawn_named(weft_task_fn fn, void *arg, const char *name)
{
    weft_future *task = NULL;
    weft_task_options options = WEFT_TASK_OPTIONS_INIT;
    options.name = name;
    CO_CHECK_RC(weft_spawn(fn, arg, &options, &task), WEFT_OK);
    return task;
}

/* Let the other ready tasks run, n loop iterations (asyncio.sleep(0)). */
static inline void co_yield(int n)
{
    while (n-- > 0)
        CO_CHECK_RC(weft_sleep(0), WEFT_OK);
}

/* Wait for a task to end (at most `timeout` seconds), then release it.
 * Its status from weft_future_result, or WEFT_ETIMEDOUT. */
static inline int co_finish(weft_future *task, double timeout)
{
    if (!task)
        return WEFT_EINVAL;
    int rc = weft_future_result_timeout(task, timeout, NULL);
    weft_future_release(task);
    return rc;
}

/* Burn CPU without suspending (a coroutine hogging its loop). */
static inline void spin_for(double seconds)
{
    double end = weft_monotonic() + seconds;
    while (weft_monotonic() < end) {
    }
}

/* CPU time of the calling thread, in seconds. */
static inline double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- other threads, and other loops -------------------------------------- */

/* A weft thread running fn(arg); joined with join_thread, which suspends
 * only the calling coroutine. */
static inline weft_thread *start_thread(weft_thread_fn fn, void *arg)
{
    weft_thread *thread = NULL;
    CO_CHECK_RC(weft_thread_new(&thread, fn, arg, NULL), WEFT_OK);
    CO_CHECK_RC(weft_thread_start(thread), WEFT_OK);
    return thread;
}

static inline void *join_thread(weft_thread *thread)
{
    void *result = NULL;
    if (!thread)
        return NULL;
    CO_CHECK_RC(weft_thread_join_timeout(thread, 60, &result), WEFT_OK);
    weft_thread_free(thread);
    return result;
}

/* Another thread running its own loop with fn(arg) as its main. */
typedef struct loop_thread {
    weft_thread *thread;
    weft_task_fn fn;
    void *arg;
    int rc;
    void *result;
} loop_thread;

static inline void *loop_thread_entry_(void *p)
{
    loop_thread *lt = p;
    lt->rc = weft_run(lt->fn, lt->arg, NULL, &lt->result);
    return NULL;
}

static inline void start_loop_thread(loop_thread *lt, weft_task_fn fn, void *arg)
{
    lt->fn = fn;
    lt->arg = arg;
    lt->rc = -1;
    lt->result = NULL;
    lt->thread = start_thread(loop_thread_entry_, lt);
}

/* Join it; WEFT_OK expected from its weft_run. */
static inline void *join_loop_thread(loop_thread *lt)
{
    join_thread(lt->thread);
    lt->thread = NULL;
    CO_CHECK_RC(lt->rc, WEFT_OK);
    return lt->result;
}

/* Who acts on a waiter: a coroutine of the waiter's loop, a coroutine of
 * another loop (another thread running weft_run), or a plain thread. */
typedef enum actor_kind { BY_SAME_LOOP, BY_OTHER_LOOP, BY_THREAD, ACTOR_KINDS } actor_kind;

static inline const char *actor_name(actor_kind kind)
{
    return kind == BY_SAME_LOOP    ? "a coroutine of the same loop"
           : kind == BY_OTHER_LOOP ? "a coroutine of another loop"
                                   : "a plain thread";
}

/* Run fn(arg) as `kind` says, from a coroutine, and wait for it to end
 * (suspending only the calling coroutine).  For BY_SAME_LOOP, fn runs as
 * a task of the caller's loop. */
typedef struct actor_ {
    void (*fn)(void *arg);
    void *arg;
} actor_;

static inline void *actor_body_(void *p)
{
    actor_ *a = p;
    a->fn(a->arg);
    return NULL;
}

typedef struct actor_run {
    actor_kind kind;
    actor_ body;
    weft_future *task;
    loop_thread loop;
    weft_thread *thread;
} actor_run;

static inline void actor_start(actor_run *run, actor_kind kind, void (*fn)(void *), void *arg)
{
    memset(run, 0, sizeof *run);
    run->kind = kind;
    run->body.fn = fn;
    run->body.arg = arg;
    switch (kind) {
    case BY_SAME_LOOP:
        run->task = co_spawn(actor_body_, &run->body);
        break;
    case BY_OTHER_LOOP:
        start_loop_thread(&run->loop, actor_body_, &run->body);
        break;
    default:
        run->thread = start_thread(actor_body_, &run->body);
        break;
    }
}

static inline void actor_join(actor_run *run)
{
    switch (run->kind) {
    case BY_SAME_LOOP:
        CO_CHECK_RC(co_finish(run->task, 60), WEFT_OK);
        break;
    case BY_OTHER_LOOP:
        join_loop_thread(&run->loop);
        break;
    default:
        join_thread(run->thread);
        break;
    }
}

#endif
