/* SPDX-License-Identifier: MIT */
/* coro_wait.c — waiting on tasks the asyncio way: gather, wait_for,
 * shield, to_thread, and the outcome copy they and run_coroutine_threadsafe
 * share.  (Task groups and deadline scopes: coro_scope.c.) */
#include "coro_internal.h"

#include "weft/executor.h"
#include "weft/time.h"
#include "weft/status.h"

#include <stdlib.h>

/* A done future's outcome: WEFT_OK, WEFT_EFAILED or WEFT_ECANCELLED. */
static int status_of(weft_future *f, void **value)
{
    return weft_future_result_timeout(f, 0, value);
}

void weft__coro_copy_outcome(weft_future *from, void *to)
{
    void *value = NULL;
    int rc = weft_future_result_timeout(from, 0, &value);
    if (rc == WEFT_OK) {
        weft_future_set_result(to, value);
    } else if (rc == WEFT_ECANCELLED) {
        weft_future_cancel(to);
    } else {
        const char *message = weft_future_error_message(from);
        if (message)
            weft_future_set_exception(to, weft_future_error_code(from), "%s", message);
        else
            weft_future_set_exception(to, weft_future_error_code(from), NULL);
    }
    weft_future_release(to);
}

/* ---- gather ------------------------------------------------------------------- */

static void cancel_unfinished(weft_future *const *fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!weft_future_done(fs[i]))
            weft_future_cancel(fs[i]);
}

/* Wait for each to complete, stopping at the first failure or cancellation
 * unless all are wanted. */
static int wait_all(weft_future *const *fs, size_t n, bool return_exceptions)
{
    weft_as_completed *it;
    int rc = weft_as_completed_new(&it, fs, n, WEFT_FOREVER);
    if (rc != WEFT_OK)
        return rc;
    weft_future *f;
    while ((rc = weft_as_completed_next(it, &f)) == WEFT_OK) {
        int outcome = return_exceptions ? WEFT_OK : status_of(f, NULL);
        weft_future_release(f);
        if (outcome != WEFT_OK) {
            rc = outcome;
            break;
        }
    }
    weft_as_completed_free(it);
    return rc == WEFT_ESTOP ? WEFT_OK : rc;
}

int weft_gather(weft_future *const *futures, size_t n, bool return_exceptions, void **results)
{
    if (n && !futures)
        return WEFT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!futures[i])
            return WEFT_EINVAL;
        if (results)
            results[i] = NULL;
    }
    int rc = wait_all(futures, n, return_exceptions);
    if (rc == WEFT_ECANCELLED && !return_exceptions) {
        /* Either a child was cancelled (its status) or the gathering task
         * itself was: then its children go too. */
        bool child = false;
        for (size_t i = 0; i < n && !child; i++)
            child = weft_future_cancelled(futures[i]);
        if (!child)
            cancel_unfinished(futures, n);
    } else if (rc == WEFT_ECANCELLED) {
        cancel_unfinished(futures, n);
    }
    if (results)
        for (size_t i = 0; i < n; i++)
            if (weft_future_done(futures[i]))
                status_of(futures[i], &results[i]);
    return rc;
}

/* ---- wait_for, shield ----------------------------------------------------------- */

/* Wait for f to end whatever comes (cancellations of the waiting task
 * included: asyncio's wait_for does not leave before the awaited ends). */
static bool wait_until_done(weft_future *f)
{
    weft_future *me = weft_current_task();
    int before = me ? weft_task_cancelling(me) : 0;
    while (!weft_future_done(f))
        weft_future_exception(f, NULL, NULL);
    return me && weft_task_cancelling(me) > before; /* the caller was cancelled meanwhile */
}

int weft_wait_for(weft_future *future, double timeout, void **result)
{
    if (result)
        *result = NULL;
    if (!future || timeout != timeout)
        return WEFT_EINVAL;
    void *value = NULL;
    int rc = weft_future_result_timeout(future, timeout, &value);
    if (rc == WEFT_ETIMEDOUT) {
        bool cancelled = weft_future_cancel(future);
        if (!weft_is_task(future)) /* cancelled at once, or it finished meanwhile */
            return cancelled || !weft_future_done(future) ? WEFT_ETIMEDOUT
                                                          : status_of(future, result);
        bool caller_cancelled = wait_until_done(future);
        rc = status_of(future, &value);
        if (rc == WEFT_ECANCELLED) /* the caller's own cancellation wins over the timeout */
            return caller_cancelled ? WEFT_ECANCELLED : WEFT_ETIMEDOUT;
    }
    if (result)
        *result = rc == WEFT_OK ? value : NULL;
    return rc;
}

int weft_shield(weft_future *inner, weft_future **outer)
{
    if (outer)
        *outer = NULL;
    if (!inner || !outer)
        return WEFT_EINVAL;
    weft_future *f;
    int rc = weft_future_new(&f);
    if (rc != WEFT_OK)
        return rc;
    rc = weft_future_add_done_callback(inner, weft__coro_copy_outcome, weft_future_ref(f));
    if (rc != WEFT_OK) {
        weft_future_release(f);
        weft_future_release(f);
        return rc;
    }
    *outer = f;
    return WEFT_OK;
}

/* ---- to_thread ------------------------------------------------------------------ */

int weft_to_thread(weft_task_fn fn, void *arg, void **result)
{
    if (result)
        *result = NULL;
    if (!fn)
        return WEFT_EINVAL;
    weft_loop *loop = weft_get_running_loop();
    if (!loop || !weft__coro_running())
        return WEFT_ESTATE;
    if (!loop->default_pool) {
        int rc = weft_thread_pool_new(&loop->default_pool, NULL);
        if (rc != WEFT_OK)
            return rc;
    }
    weft_future *f;
    int rc = weft_executor_submit(loop->default_pool, fn, arg, &f);
    if (rc != WEFT_OK)
        return rc;
    void *value = NULL;
    rc = weft_future_result(f, &value);
    if (rc == WEFT_EFAILED)
        rc = weft_future_error_code(f);
    if (result)
        *result = rc == WEFT_OK ? value : NULL;
    weft_future_release(f);
    return rc;
}
