/* SPDX-License-Identifier: MIT */
/* coro_scope.c — structured concurrency: task groups (Python 3.11's
 * TaskGroup) and deadline scopes (asyncio.timeout / timeout_at).  Both
 * belong to one task on one loop, so nothing here is shared across
 * threads: their children's done-callbacks run on the same loop. */
#include "coro_internal.h"

#include "weft/status.h"

#include <math.h>
#include <stdlib.h>

/* ---- task groups ---------------------------------------------------------------- */

struct weft_task_group {
    weft_coro *parent;
    weft_future **tasks; /* references */
    size_t count, capacity;
    weft_future **failed; /* borrowed from tasks[], in the order they failed */
    size_t failed_count;
    size_t pending;
    _Atomic uint32_t changed; /* the parent parks on it while it waits */
    int cancelling_at_new;    /* the parent's weft_task_cancelling when made */
    bool aborting;            /* a child failed: the others are being cancelled */
    bool cancelled_parent;    /* this group asked the parent to cancel */
    bool waited;
};

int weft_task_group_new(weft_task_group **group)
{
    if (!group)
        return WEFT_EINVAL;
    *group = NULL;
    weft_coro *parent = weft__coro_running();
    if (!parent)
        return WEFT_ESTATE;
    weft_task_group *g = calloc(1, sizeof *g);
    if (!g)
        return WEFT_ENOMEM;
    g->parent = parent;
    g->cancelling_at_new = weft_task_cancelling(parent->future);
    *group = g;
    return WEFT_OK;
}

static void cancel_children(weft_task_group *g)
{
    for (size_t i = 0; i < g->count; i++)
        if (!weft_future_done(g->tasks[i]))
            weft_task_cancel(g->tasks[i], NULL);
}

/* A child ended (on the group's loop). */
static void child_done(weft_future *task, void *arg)
{
    weft_task_group *g = arg;
    g->pending--;
    if (!weft_future_cancelled(task) && weft_future_error_code(task) != 0) {
        g->failed[g->failed_count++] = task;
        if (!g->aborting) {
            g->aborting = true;
            cancel_children(g);
            if (!weft_future_done(g->parent->future)) {
                g->cancelled_parent = true;
                weft_task_cancel(g->parent->future, NULL);
            }
        }
    }
    atomic_fetch_add(&g->changed, 1);
    weft__unpark_all(&g->changed);
}

static int make_room(weft_task_group *g)
{
    if (g->count < g->capacity)
        return WEFT_OK;
    size_t n = g->capacity ? 2 * g->capacity : 8;
    weft_future **tasks = realloc(g->tasks, n * sizeof *tasks);
    if (!tasks)
        return WEFT_ENOMEM;
    g->tasks = tasks;
    weft_future **failed = realloc(g->failed, n * sizeof *failed);
    if (!failed)
        return WEFT_ENOMEM;
    g->failed = failed;
    g->capacity = n;
    return WEFT_OK;
}

int weft_task_group_spawn(weft_task_group *group, weft_task_fn fn, void *arg,
                          const weft_task_options *options, weft_future **task)
{
    if (task)
        *task = NULL;
    if (!group || !fn)
        return WEFT_EINVAL;
    if (group->waited || group->aborting)
        return WEFT_ESTATE; /* Python: "TaskGroup is finished" / "shutting down" */
    if (weft__loop_here() != group->parent->loop)
        return WEFT_ESTATE;
    int rc = make_room(group);
    weft_future *t = NULL;
    if (rc == WEFT_OK)
        rc = weft__coro_spawn(group->parent->loop, fn, arg, options, &t);
    if (rc == WEFT_OK)
        rc = weft_future_add_done_callback(t, child_done, group);
    if (rc != WEFT_OK) {
        if (t) {
            weft_task_cancel(t, NULL); /* it has not run: it never will */
            weft_future_release(t);
        }
        return rc;
    }
    group->tasks[group->count++] = t;
    group->pending++;
    if (task)
        *task = weft_future_ref(t);
    return WEFT_OK;
}

int weft_task_group_wait(weft_task_group *group)
{
    if (!group)
        return WEFT_EINVAL;
    if (weft__coro_running() != group->parent || group->waited)
        return WEFT_ESTATE;
    /* A request the group did not make: the body is leaving because its
     * task is being cancelled (asyncio's __aexit__ with CancelledError). */
    bool cancelled_outside = weft_task_cancelling(group->parent->future) >
                             group->cancelling_at_new + group->cancelled_parent;
    if (cancelled_outside)
        cancel_children(group);
    while (group->pending) {
        uint32_t seen = atomic_load(&group->changed);
        if (!group->pending)
            break;
        if (weft__park_cancellable(&group->changed, seen, WEFT_NO_DEADLINE) != WEFT_ECANCELLED)
            continue;
        if (!group->cancelled_parent) { /* from outside: the children go too */
            cancelled_outside = true;
            cancel_children(group);
        }
    }
    group->waited = true;
    if (group->cancelled_parent)
        weft_task_uncancel(group->parent->future); /* the group's own request */
    if (cancelled_outside) /* the outside request still stands: the next wait reports it */
        weft__coro_rearm_cancel(group->parent);
    if (group->failed_count)
        return WEFT_EFAILED;
    return cancelled_outside ? WEFT_ECANCELLED : WEFT_OK;
}

size_t weft_task_group_failures(const weft_task_group *group, weft_future **tasks,
                                size_t capacity)
{
    if (!group)
        return 0;
    for (size_t i = 0; tasks && i < group->failed_count && i < capacity; i++)
        tasks[i] = group->failed[i];
    return group->failed_count;
}

int weft_task_group_free(weft_task_group *group)
{
    if (!group)
        return WEFT_OK;
    if (!group->waited && group->pending)
        return WEFT_ESTATE;
    for (size_t i = 0; i < group->count; i++)
        weft_future_release(group->tasks[i]);
    free(group->tasks);
    free(group->failed);
    free(group);
    return WEFT_OK;
}

/* ---- deadline scopes ---------------------------------------------------------------- */

enum { SCOPE_OPEN, SCOPE_EXPIRED };

struct weft_timeout {
    weft_loop_timer timer;
    weft_coro *task;
    struct weft_timeout *outer;
    double when; /* loop time; +inf: none */
    int cancelling_at_enter;
    int state;
};

static void scope_expired(weft_loop_timer *timer)
{
    weft_timeout *s = (weft_timeout *)(void *)timer;
    s->state = SCOPE_EXPIRED;
    weft_task_cancel(s->task->future, "deadline scope expired");
}

static int64_t ns_of(double when)
{
    double ns = when * 1e9;
    return ns >= 9.2e18 ? INT64_MAX - 1 : ns <= 0 ? 0 : (int64_t)ns;
}

static int arm(weft_timeout *s)
{
    if (isinf(s->when) && s->when > 0)
        return WEFT_OK;
    return weft__loop_timer_arm(s->task->loop, &s->timer, ns_of(s->when));
}

int weft_timeout_enter_at(double when, weft_timeout **scope)
{
    if (!scope)
        return WEFT_EINVAL;
    *scope = NULL;
    if (isnan(when))
        return WEFT_EINVAL;
    weft_coro *task = weft__coro_running();
    if (!task)
        return WEFT_ESTATE;
    weft_timeout *s = calloc(1, sizeof *s);
    if (!s)
        return WEFT_ENOMEM;
    s->timer.fire = scope_expired;
    s->task = task;
    s->when = when;
    s->cancelling_at_enter = weft_task_cancelling(task->future);
    int rc = arm(s);
    if (rc != WEFT_OK) {
        free(s);
        return rc;
    }
    s->outer = task->scopes;
    task->scopes = s;
    *scope = s;
    return WEFT_OK;
}

int weft_timeout_enter(double delay, weft_timeout **scope)
{
    if (isnan(delay)) {
        if (scope)
            *scope = NULL;
        return WEFT_EINVAL;
    }
    return weft_timeout_enter_at(weft_loop_time(NULL) + delay, scope);
}

int weft_timeout_reschedule(weft_timeout *scope, double when)
{
    if (!scope || isnan(when))
        return WEFT_EINVAL;
    if (scope->state != SCOPE_OPEN)
        return WEFT_ESTATE;
    weft__loop_timer_disarm(scope->task->loop, &scope->timer);
    scope->when = when;
    return arm(scope);
}

double weft_timeout_when(const weft_timeout *scope) { return scope ? scope->when : NAN; }

bool weft_timeout_expired(const weft_timeout *scope)
{
    return scope && scope->state == SCOPE_EXPIRED;
}

int weft_timeout_exit(weft_timeout *scope)
{
    if (!scope)
        return WEFT_EINVAL;
    weft_coro *task = weft__coro_running();
    if (task != scope->task || task->scopes != scope)
        return WEFT_ESTATE;
    weft__loop_timer_disarm(task->loop, &scope->timer);
    task->scopes = scope->outer;
    int rc = WEFT_OK;
    if (scope->state == SCOPE_EXPIRED) {
        /* Withdraw the scope's own request; if others are outstanding the
         * task is still being cancelled from outside: say so. */
        int left = weft_task_uncancel(task->future);
        rc = left <= scope->cancelling_at_enter ? WEFT_ETIMEDOUT : WEFT_ECANCELLED;
    }
    free(scope);
    return rc;
}

void weft__coro_drop_scopes(weft_coro *t)
{
    while (t->scopes) {
        weft_timeout *s = t->scopes;
        weft__loop_timer_disarm(t->loop, &s->timer);
        t->scopes = s->outer;
        free(s);
    }
}
