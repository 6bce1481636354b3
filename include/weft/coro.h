/* SPDX-License-Identifier: MIT */
/* weft/coro.h — coroutines and the event loop.  Python: asyncio.
 *
 * A coroutine is a weft_task_fn that runs on its own small stack on a
 * thread's event loop; one loop per thread, and a coroutine never moves to
 * another thread.  There is no `await`: every blocking weft call made in a
 * coroutine (a lock, condition, semaphore, event or barrier wait, a queue
 * put or get, a future's result, a thread or process join, weft_sleep)
 * suspends that coroutine only, and the loop runs the others meanwhile.
 * The same objects serve threads and coroutines: a weft_queue carries work
 * from threads to coroutines and back, and a thread may wait on a task.
 *
 * A task (weft_spawn) is a weft_future: weft_future_result, weft_wait,
 * as_completed, done-callbacks and cancel all work on it, from coroutines
 * and from threads.
 *
 * Cancellation (asyncio's): weft_task_cancel (or weft_future_cancel) on a
 * task that has not ended makes its current or next blocking weft call
 * return WEFT_ECANCELLED, once per request.  The task may clean up and
 * return, which ends it cancelled while a request is outstanding
 * (weft_task_cancelling > 0: C's form of letting CancelledError propagate),
 * or call weft_task_uncancel and carry on (swallowing it).  A task
 * cancelled while it waits on a future's outcome (weft_future_result,
 * weft_future_exception, weft_gather) cancels that future too, as `await`
 * does in Python; the waits on many that only watch (weft_wait,
 * as_completed) cancel nothing, as asyncio.wait.  A cancelled wait takes
 * nothing, even when what it waited for came just before the task ran
 * again (a permit, an item, a future's result: asyncio reports the
 * cancellation then too): the wake-up goes on to another waiter.
 *
 * Calls that a coroutine makes but that are not weft's (read(2), sleep(3),
 * a long computation) block the whole loop, as in asyncio.
 */
#ifndef WEFT_CORO_H
#define WEFT_CORO_H

#include "weft/export.h"
#include "weft/future.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_loop weft_loop;

/* Where a coroutine's stack lives. */
typedef enum weft_stack_mode {
    WEFT_STACK_DEFAULT = 0, /* a task: its loop's mode; a loop: WEFT_STACK_OWN */
    /* Its own mmap'd stack with a guard page below, committed as it is
     * touched, reused from a pool when the task ends.  Any pointer into it
     * stays valid while the task lives. */
    WEFT_STACK_OWN,
    /* Memory mode: the loop's few shared stacks; while the task is
     * suspended the used part of its stack is copied out to the heap (only
     * what it uses: a few hundred bytes for a task suspended in a sleep).
     * The rule: while a task is suspended, no one else may use the address
     * of anything on its stack (a local passed to another task, a local
     * queue item, a callback's argument); copy such data to the heap.
     * Costs a copy of the used stack at each switch. */
    WEFT_STACK_SHARED,
} weft_stack_mode;

/* Options of a loop (weft_run, weft_loop_new).  Zero is the default for
 * every field: start from WEFT_LOOP_OPTIONS_INIT. */
typedef struct weft_loop_options {
    size_t stack_size;     /* default stack size of its tasks; 0: 256 KiB */
    weft_stack_mode stack_mode;
    unsigned shared_stacks; /* WEFT_STACK_SHARED: how many (0: 4) */
    /* asyncio's debug mode (also on with WEFT_DEBUG=1): name a coroutine
     * that runs longer than slow_callback_duration seconds (0: 0.1) without
     * suspending; report a task that failed and whose failure nobody
     * retrieved, and a task still pending when its loop is freed. */
    bool debug;
    double slow_callback_duration;
} weft_loop_options;

#define WEFT_LOOP_OPTIONS_INIT {0, WEFT_STACK_DEFAULT, 0, false, 0.0}

/* Options of one task (weft_spawn).  Zero is the default for every field. */
typedef struct weft_task_options {
    const char *name;   /* copied; NULL: "Task-N" */
    size_t stack_size;  /* 0: the loop's */
    weft_stack_mode stack_mode;
} weft_task_options;

#define WEFT_TASK_OPTIONS_INIT {NULL, 0, WEFT_STACK_DEFAULT}

/* ---- running a loop ------------------------------------------------- */

/* Run `main(arg)` as a task on a new loop on the calling thread until it
 * ends, then cancel the tasks still pending and wait for them, shut the
 * loop's default thread pool down and free the loop.  options may be NULL.
 * WEFT_OK with *result main's result (result may be NULL); main's failure
 * code when it failed (WEFT_EFAILED for weft_fail(0, ...)); WEFT_ECANCELLED
 * when it was cancelled; WEFT_ESTATE when this thread already runs a loop
 * (Python: "asyncio.run() cannot be called from a running event loop");
 * WEFT_EINVAL (NULL main, a bad option); WEFT_ENOMEM.
 * Python: asyncio.run(main()). */
WEFT_API int weft_run(weft_task_fn main, void *arg, const weft_loop_options *options,
                      void **result);

/* A loop that can run several mains in turn (Python: asyncio.Runner).
 * It belongs to the thread that first runs it: only that thread may run,
 * close or free it (WEFT_ESTATE from others), since its tasks' stacks
 * are that thread's.  WEFT_OK, WEFT_EINVAL (NULL loop, a bad option),
 * WEFT_ENOMEM. */
WEFT_API int weft_loop_new(const weft_loop_options *options, weft_loop **loop);

/* Run `main(arg)` as a task on `loop`, on the calling thread, until it ends
 * (other tasks run meanwhile and stay when it ends).  Statuses as
 * weft_run's; WEFT_ESTATE also when the loop is closed or already running.
 * Python: Runner.run(main()), loop.run_until_complete(). */
WEFT_API int weft_loop_run(weft_loop *loop, weft_task_fn main, void *arg, void **result);

/* Cancel the loop's pending tasks, run it until they end, shut down its
 * default thread pool, and close it (it can no longer run).  Idempotent.
 * WEFT_OK; WEFT_ESTATE (nothing done) while the loop runs, from a thread
 * that is not the loop's, or from inside any loop while this one has
 * tasks pending (they cannot run on a thread that runs another loop).
 * Python: Runner.close(). */
WEFT_API int weft_loop_close(weft_loop *loop);

/* Free a loop.  WEFT_OK; WEFT_ESTATE (nothing freed) while it runs, has
 * tasks not ended (close it first), or from a thread that is not the
 * loop's.  NULL is WEFT_OK. */
WEFT_API int weft_loop_free(weft_loop *loop);

/* The loop running on the calling thread, NULL if none.
 * Python: asyncio.get_running_loop() (which raises instead of NULL). */
WEFT_API weft_loop *weft_get_running_loop(void);

/* The loop's clock, in seconds: weft_monotonic.  Python: loop.time(). */
WEFT_API double weft_loop_time(const weft_loop *loop);

/* ---- tasks ---------------------------------------------------------- */

/* Start `fn(arg)` as a task on the running loop: it runs when the loop
 * next gets to it (after what is ready already), and *task is a new
 * reference to its future (release it; the loop keeps its own until the
 * task ends).  options may be NULL.  WEFT_OK; WEFT_ESTATE outside a loop
 * ("no running event loop") or on a closed loop; WEFT_EINVAL (NULL fn or
 * task, a bad option); WEFT_ENOMEM.  Python: asyncio.create_task(). */
WEFT_API int weft_spawn(weft_task_fn fn, void *arg, const weft_task_options *options,
                        weft_future **task);

/* The task running now, borrowed; NULL outside a coroutine.
 * Python: asyncio.current_task(). */
WEFT_API weft_future *weft_current_task(void);

/* Whether `future` is a task made by weft_spawn.  Python: isinstance(f,
 * asyncio.Task). */
WEFT_API bool weft_is_task(weft_future *future);

/* Ask a task to cancel, with a message (copied; NULL for none) that its
 * future's error message then carries.  true if the task had not ended
 * (each call counts one request: weft_task_cancelling), false if it had.
 * Safe from any thread.  weft_future_cancel(task) is this with no message.
 * Python: task.cancel(msg). */
WEFT_API bool weft_task_cancel(weft_future *task, const char *message);

/* How many cancellation requests are outstanding; one fewer (never below
 * 0), returning the new count.  Python: task.cancelling(), task.uncancel(). */
WEFT_API int weft_task_cancelling(weft_future *task);
WEFT_API int weft_task_uncancel(weft_future *task);

/* The task's name (borrowed: valid while the task is), and a new one
 * (copied).  WEFT_OK, WEFT_EINVAL (not a task, NULL name), WEFT_ENOMEM.
 * Python: task.get_name(), task.set_name(). */
WEFT_API const char *weft_task_name(weft_future *task);
WEFT_API int weft_task_set_name(weft_future *task, const char *name);

/* New references to the running loop's tasks not ended, at most `capacity`
 * of them into tasks[]; returns how many there are in all (call again with
 * more room if that is above capacity).  0 outside a loop.
 * Python: asyncio.all_tasks(). */
WEFT_API size_t weft_all_tasks(weft_future **tasks, size_t capacity);

/* ---- waiting on tasks ------------------------------------------------
 * These work on any futures (a pool's too), from a coroutine or a thread. */

/* Wait for all n futures; results[i] is futures[i]'s result (NULL for one
 * that failed, was cancelled or is not done); results may be NULL.
 * Without return_exceptions it returns as soon as one fails or is
 * cancelled, with that status (WEFT_EFAILED: the error is on that future;
 * WEFT_ECANCELLED), leaving the others running, as Python does; with it,
 * it waits for all and returns WEFT_OK (look at each future for its
 * outcome).  Cancelling the task waiting in gather
 * cancels every future not done and returns WEFT_ECANCELLED.
 * WEFT_EINVAL (NULL futures with n > 0, a NULL entry).
 * Python: asyncio.gather(*fs, return_exceptions=...). */
WEFT_API int weft_gather(weft_future *const *futures, size_t n, bool return_exceptions,
                         void **results);

/* Wait at most `timeout` seconds for the future's result (as
 * weft_future_result); when the time runs out, cancel the future, wait for
 * it to end, and return WEFT_ETIMEDOUT (unless it managed to finish
 * anyway: then its outcome).  WEFT_EINVAL for a NaN timeout or a NULL
 * future.  Python 3.12: asyncio.wait_for(aw, timeout). */
WEFT_API int weft_wait_for(weft_future *future, double timeout, void **result);

/* A new future (*outer, a new reference) that ends as `inner` ends, with
 * its outcome, but whose cancellation does not reach inner: a task waiting
 * on outer that is cancelled stops waiting and inner carries on.
 * WEFT_OK, WEFT_EINVAL, WEFT_ENOMEM.  Python: asyncio.shield(). */
WEFT_API int weft_shield(weft_future *inner, weft_future **outer);

/* Run fn(arg) on the running loop's default thread pool (made at first use,
 * shut down by weft_run/weft_loop_close) and wait for it: the calling
 * coroutine is suspended, the loop runs the others.  WEFT_OK with *result
 * fn's result; fn's failure code; WEFT_ECANCELLED when the waiting task is
 * cancelled (fn keeps running on its thread: C cannot stop a thread, but
 * weft_cancelled() turns true in fn, and weft_cancellable(true) makes its
 * weft waits return); WEFT_ESTATE outside a loop.
 * Python: asyncio.to_thread(fn, arg). */
WEFT_API int weft_to_thread(weft_task_fn fn, void *arg, void **result);

/* ---- task groups (Python 3.11's TaskGroup) --------------------------- */

typedef struct weft_task_group weft_task_group;

/* A group in the running task.  WEFT_OK, WEFT_ESTATE outside a coroutine,
 * WEFT_EINVAL, WEFT_ENOMEM.  Python: `async with asyncio.TaskGroup() as g`. */
WEFT_API int weft_task_group_new(weft_task_group **group);

/* Spawn a task in the group (as weft_spawn; task may be NULL).  WEFT_ESTATE
 * once the group is closing (weft_task_group_wait has begun and found every
 * task ended) or has failed; otherwise as weft_spawn.
 * Python: group.create_task(). */
WEFT_API int weft_task_group_spawn(weft_task_group *group, weft_task_fn fn, void *arg,
                                   const weft_task_options *options, weft_future **task);

/* Wait for every task of the group (including those spawned meanwhile).
 * The first task that fails cancels the others and the group's task (so
 * its body's current wait returns WEFT_ECANCELLED: it should come here);
 * WEFT_EFAILED is returned once all have ended, and
 * weft_task_group_failures lists every failed task (each has its error);
 * the group's own cancellation of its task is withdrawn.  WEFT_OK
 * when all succeeded; WEFT_ECANCELLED when the waiting task itself was
 * cancelled from outside (the group's tasks are cancelled and awaited
 * first).  Python: leaving the `async with` (ExceptionGroup). */
WEFT_API int weft_task_group_wait(weft_task_group *group);

/* Borrowed pointers to the tasks that failed (not those cancelled), in the
 * order they ended, at most `capacity`; returns how many there are. */
WEFT_API size_t weft_task_group_failures(const weft_task_group *group, weft_future **tasks,
                                         size_t capacity);

/* Free a group that has been waited for (WEFT_ESTATE otherwise).  NULL is
 * WEFT_OK. */
WEFT_API int weft_task_group_free(weft_task_group *group);

/* ---- deadline scopes (asyncio.timeout) ------------------------------- */

typedef struct weft_timeout weft_timeout;

/* Open a scope in the running task that cancels it when `delay` seconds
 * have passed (+inf: never, until rescheduled).  Inside, the task's waits
 * return WEFT_ECANCELLED once it expires.  Scopes nest.  WEFT_OK,
 * WEFT_ESTATE outside a coroutine, WEFT_EINVAL (NaN), WEFT_ENOMEM.
 * Python: `async with asyncio.timeout(delay)`. */
WEFT_API int weft_timeout_enter(double delay, weft_timeout **scope);

/* As enter, with an absolute time on the loop's clock (weft_loop_time).
 * Python: asyncio.timeout_at(when). */
WEFT_API int weft_timeout_enter_at(double when, weft_timeout **scope);

/* Move the deadline (absolute; +inf for none).  WEFT_OK; WEFT_ESTATE once
 * expired or exited.  Python: cm.reschedule(when). */
WEFT_API int weft_timeout_reschedule(weft_timeout *scope, double when);

/* The deadline (+inf for none) and whether it has expired.
 * Python: cm.when(), cm.expired(). */
WEFT_API double weft_timeout_when(const weft_timeout *scope);
WEFT_API bool weft_timeout_expired(const weft_timeout *scope);

/* Leave (and free) the innermost scope: WEFT_ETIMEDOUT if it expired (its
 * cancellation is withdrawn: the task is not cancelled by it any more),
 * WEFT_OK otherwise; WEFT_ECANCELLED if it expired while another
 * cancellation of the task is outstanding too; WEFT_ESTATE (nothing freed)
 * when it is not the innermost open scope of the running task.  A scope
 * its task never exits is freed when the task ends.
 * Python: leaving the `async with` (TimeoutError). */
WEFT_API int weft_timeout_exit(weft_timeout *scope);

/* ---- callbacks on a loop ---------------------------------------------- */

typedef void (*weft_callback_fn)(void *arg);
typedef struct weft_handle weft_handle;

/* Run fn(arg) on the loop's thread, between tasks: soon (after what is
 * ready, in call order), after `delay` seconds, or at loop time `when`
 * (equal times in call order).  From the loop's own thread only (use
 * call_soon_threadsafe from others).  handle may be NULL; else *handle is
 * a reference the caller releases (weft_handle_release) and can cancel.
 * WEFT_OK; WEFT_EINVAL (NULL loop or fn, NaN); WEFT_ESTATE (another
 * thread, a closed loop); WEFT_ENOMEM.
 * Python: loop.call_soon(), call_later(), call_at(). */
WEFT_API int weft_loop_call_soon(weft_loop *loop, weft_callback_fn fn, void *arg,
                                 weft_handle **handle);
WEFT_API int weft_loop_call_later(weft_loop *loop, double delay, weft_callback_fn fn, void *arg,
                                  weft_handle **handle);
WEFT_API int weft_loop_call_at(weft_loop *loop, double when, weft_callback_fn fn, void *arg,
                               weft_handle **handle);

/* call_soon from any thread; wakes the loop if it sleeps.  WEFT_OK,
 * WEFT_EINVAL, WEFT_ESTATE (closed loop), WEFT_ENOMEM.
 * Python: loop.call_soon_threadsafe(). */
WEFT_API int weft_loop_call_soon_threadsafe(weft_loop *loop, weft_callback_fn fn, void *arg);

/* Cancel a callback not yet run (no effect once it ran); whether it is
 * cancelled.  Release the caller's reference.  From the loop's thread.
 * Python: handle.cancel(), handle.cancelled(). */
WEFT_API void weft_handle_cancel(weft_handle *handle);
WEFT_API bool weft_handle_cancelled(const weft_handle *handle);
WEFT_API void weft_handle_release(weft_handle *handle);

/* Spawn fn(arg) on another thread's running `loop`, from any thread, and
 * return its task's future (*future, a new reference) to wait on.
 * WEFT_OK, WEFT_EINVAL, WEFT_ESTATE (closed loop), WEFT_ENOMEM.
 * Python: asyncio.run_coroutine_threadsafe(coro, loop). */
WEFT_API int weft_run_coroutine_threadsafe(weft_loop *loop, weft_task_fn fn, void *arg,
                                           const weft_task_options *options,
                                           weft_future **future);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_CORO_H */
