/* SPDX-License-Identifier: MIT */
/* test_coro_a_util.h — helpers shared by the coroutine tests of
 * asyncio's behaviours (docs/python.md), sections "asyncio.run / Runner" to "TaskGroup"
 * (test_coro_run.c, _task, _cancel, _gather, _a_wait, _timeout, _group).
 *
 * Checks inside coroutines.  cmocka's assertions longjmp back to the test
 * runner; from a coroutine that would leave its loop in the middle of a
 * switch.  So code running on a loop uses CHECK*: the first failed check is
 * recorded (where, what, the values), the coroutine carries on, and the
 * test asserts on its own stack once the loop has returned (run_ok,
 * run_status).  Helper threads use CHECK* too.
 *
 * Stack modes.  Everything a coroutine shares with another task, a
 * callback or a thread lives in static storage, never on a coroutine's
 * stack: the same tests also run with WEFT_STACK_SHARED
 * (WEFT_TEST_STACK=shared, registered so in tests/CMakeLists.txt), whose
 * rule forbids using a suspended task's stack from elsewhere.
 *
 * Timing.  A "long" wait (LONG_WAIT) is one the test expects to be cut
 * short: if it is not, the test still ends (and fails) in seconds.  Short
 * waits that order events are 10-100 ms; time assertions are generous
 * bounds (IMMEDIATE of testutil.h, or "well under LONG_WAIT"), and
 * orderings are asserted rather than exact times.
 */
#ifndef WEFT_TEST_CORO_A_UTIL_H
#define WEFT_TEST_CORO_A_UTIL_H

#include "testutil.h"

#include "weft/coro.h"

#include <math.h>

/* A wait the test expects to be interrupted (cancelled, timed out). */
#define LONG_WAIT 10.0
/* "Much sooner than LONG_WAIT": what an interrupted wait must beat. */
#define SOON 5.0

#define IPTR(x) ((void *)(intptr_t)(x))
#define PINT(p) ((long long)(intptr_t)(p))

/* ---- checks that do not longjmp ------------------------------------- */

/* The first few failed checks are kept, each in its own slot. */
#define CHECK_MESSAGES 6
static atomic_int checks_failed_;
static char check_message_[CHECK_MESSAGES][768];

static inline void check_fail_(const char *file, int line, const char *what)
{
    int n = atomic_fetch_add(&checks_failed_, 1);
    if (n < CHECK_MESSAGES) {
        const char *base = strrchr(file, '/');
        snprintf(check_message_[n], sizeof check_message_[n], "\n    %s:%d: %s",
                 base ? base + 1 : file, line, what);
    }
}

#define CHECK(cond)                                                            \
    do {                                                                      \
        if (!(cond))                                                          \
            check_fail_(__FILE__, __LINE__, "CHECK(" #cond ")");              \
    } while (0)

#define CHECK_INT(a, b)                                                        \
    do {                                                                      \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);       \
        if (check_a_ != check_b_) {                                           \
            char check_w_[512];                                               \
            snprintf(check_w_, sizeof check_w_, "%s == %s: %lld != %lld", #a, \
                     #b, check_a_, check_b_);                                 \
            check_fail_(__FILE__, __LINE__, check_w_);                        \
        }                                                                     \
    } while (0)

/* Statuses, reported by name. */
#define CHECK_STATUS(a, b)                                                     \
    do {                                                                      \
        int check_a_ = (a), check_b_ = (b);                                   \
        if (check_a_ != check_b_) {                                           \
            char check_w_[512];                                               \
            snprintf(check_w_, sizeof check_w_, "%s == %s: got %s, expected %s", \
                     #a, #b, weft_status_name(check_a_),                      \
                     weft_status_name(check_b_));                             \
            check_fail_(__FILE__, __LINE__, check_w_);                        \
        }                                                                     \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                      \
        const char *check_a_ = (a), *check_b_ = (b);                          \
        if (!check_a_ || strcmp(check_a_, check_b_) != 0) {                   \
            char check_w_[512];                                               \
            snprintf(check_w_, sizeof check_w_, "%s == \"%s\": got \"%s\"", #a, \
                     check_b_, check_a_ ? check_a_ : "(null)");               \
            check_fail_(__FILE__, __LINE__, check_w_);                        \
        }                                                                     \
    } while (0)

static inline void checks_reset(void)
{
    atomic_store(&checks_failed_, 0);
    for (int i = 0; i < CHECK_MESSAGES; i++)
        check_message_[i][0] = '\0';
}

#define assert_checks_passed()                                                 \
    do {                                                                      \
        if (atomic_load(&checks_failed_) != 0)                                \
            fail_msg("%d failed check(s):%s%s%s%s%s%s",                       \
                     atomic_load(&checks_failed_), check_message_[0],         \
                     check_message_[1], check_message_[2], check_message_[3], \
                     check_message_[4], check_message_[5]);                   \
    } while (0)

/* ---- running a loop ----------------------------------------------------- */

/* The loop options of every test: the default, or shared stacks when
 * WEFT_TEST_STACK=shared. */
static inline weft_loop_options test_loop_options(void)
{
    weft_loop_options options = WEFT_LOOP_OPTIONS_INIT;
    const char *mode = getenv("WEFT_TEST_STACK");
    if (mode && strcmp(mode, "shared") == 0)
        options.stack_mode = WEFT_STACK_SHARED;
    return options;
}

/* weft_run with the test's options; then the checks made on the loop must
 * have passed.  Returns weft_run's status. */
static inline int run_status(weft_task_fn main, void *arg, void **result)
{
    checks_reset();
    weft_loop_options options = test_loop_options();
    int rc = weft_run(main, arg, &options, result);
    assert_checks_passed();
    return rc;
}

/* run_status that must return WEFT_OK; returns main's result. */
static inline void *run_ok(weft_task_fn main, void *arg)
{
    void *result = NULL;
    int rc = run_status(main, arg, &result);
    if (rc != WEFT_OK)
        fail_msg("weft_run returned %s", weft_status_name(rc));
    return result;
}

/* ---- inside a coroutine --------------------------------------------- */

/* Spawn a task, checking that it worked; the caller releases it. */
static inline weft_future *spawn(weft_task_fn fn, void *arg)
{
    weft_future *task = NULL;
    CHECK_STATUS(weft_spawn(fn, arg, NULL, &task), WEFT_OK);
    return task;
}

/* Wait (bounded) for a future and return its status; *result may be NULL. */
static inline int await_status(weft_future *f, void **result)
{
    return weft_future_result_timeout(f, 3 * LONG_WAIT, result);
}

/* Wait for a future that must succeed; its result. */
static inline void *await_ok(weft_future *f)
{
    void *result = NULL;
    CHECK_STATUS(await_status(f, &result), WEFT_OK);
    return result;
}

/* A plain future (a promise); the caller releases it. */
static inline weft_future *promise(void)
{
    weft_future *f = NULL;
    CHECK_STATUS(weft_future_new(&f), WEFT_OK);
    return f;
}

/* weft_sleep(0) n times: let every ready task take n steps (Python's
 * run_briefly / `await asyncio.sleep(0)`). */
static inline void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        CHECK_STATUS(weft_sleep(0), WEFT_OK);
}

/* Keep the loop's thread busy for `seconds` without suspending (a
 * computation, or a blocking call that is not weft's). */
static inline void busy(double seconds)
{
    double end = weft_monotonic() + seconds;
    while (weft_monotonic() < end) {
    }
}

static inline double loop_now(void) { return weft_loop_time(weft_get_running_loop()); }

/* Done-callback and loop callbacks that cancel the task in their arg. */
static inline void cancel_cb(void *task) { (void)weft_task_cancel(task, NULL); }

/* The C form of asyncio's "raise SomeError in `except CancelledError` /
 * `finally`": a task that got WEFT_ECANCELLED returns a failure instead of
 * letting the cancellation go on.  asyncio ends such a task failed with
 * that error, not cancelled ([test_tasks.BaseTaskTests
 * .test_cancellation_exception_context]; TaskGroup 3, 6; wait_for 10). */
static inline void *fail_in_cleanup(int code, const char *message)
{
    return weft_fail(code, "%s", message);
}

#endif
