/* SPDX-License-Identifier: MIT */
/* coro.c — tasks: coroutines on a loop, each the weft_future of its
 * outcome (see weft/coro.h and docs/coroutines.md).
 *
 * A task's record holds its parker (park.h): while the loop runs the
 * task, the record's parker is the thread's current one, so every weft
 * wait the task makes queues the record's waiter and suspends the task
 * through the ops below, instead of sleeping the thread. */
#include "coro_internal.h"

#include "future_internal.h"
#include "lock_internal.h"
#include "platform/stack.h"
#include "task_internal.h"
#include "weft/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STACK ((size_t)256 * 1024)

weft_coro *weft__coro_of_parker(weft_parker *p)
{
    return (weft_coro *)(void *)((char *)p - offsetof(weft_coro, parker));
}

weft_coro *weft__coro_running(void)
{
    weft_parker *p = weft__parker_now;
    return p ? weft__coro_of_parker(p) : NULL;
}

static _Atomic uint64_t tasks_made;

char *weft__coro_copy_of(const char *name)
{
    size_t n = strlen(name) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, name, n);
    return copy;
}

/* "Task-N" into text[32], without printf (every unnamed task's stack is
 * named so, for the overflow report). */
static const char *default_name(const weft_coro *t, char text[32])
{
    char digits[24];
    int n = 0;
    uint64_t v = t->number;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 24);
    memcpy(text, "Task-", 5);
    for (int i = 0; i < n; i++)
        text[5 + i] = digits[n - 1 - i];
    text[5 + n] = '\0';
    return text;
}

/* A task given no name is "Task-N", written out only when asked for (a
 * million tasks need no million names). */
static const char *name_of(weft_coro *t)
{
    if (!t->name) {
        char text[32];
        t->name = weft__coro_copy_of(default_name(t, text));
    }
    return t->name ? t->name : "Task-?";
}

/* ---- switching ----------------------------------------------------------- */

static void to_loop(weft_coro *t) { weft__ctx_switch(&t->ctx, &t->loop->ctx); }

/* A wait's timer is lazy: it stays armed after the wait, and a later wait
 * whose deadline is not earlier keeps it (moving it out when it fires
 * early), since a connection's reads each have a deadline a little later
 * than the last (the server's read cap): two timer-heap operations per
 * request saved (W12, 1.2% of the server's CPU). */
static void task_suspend(weft_parker *p, int64_t deadline)
{
    weft_coro *t = weft__coro_of_parker(p);
    t->wait_deadline = deadline;
    if (deadline != WEFT_NO_DEADLINE && (!t->wake_timer.armed || t->wake_timer.when > deadline)) {
        weft__loop_timer_disarm(t->loop, &t->wake_timer);
        weft__loop_timer_arm_reserved(t->loop, &t->wake_timer, deadline);
    }
    to_loop(t);
    t->wait_deadline = WEFT_NO_DEADLINE;
}

static void task_resume(weft_parker *p)
{
    weft_coro *t = weft__coro_of_parker(p);
    if (weft__loop_here() == t->loop) /* another thread's cache gains nothing */
        weft__ctx_prefetch(&t->ctx);
    weft__loop_push(t->loop, &t->run);
}

static void task_yield(weft_parker *p)
{
    weft_coro *t = weft__coro_of_parker(p);
    weft__loop_push_ready(t->loop, &t->run);
    to_loop(t);
}

static int task_watch(weft_parker *p, int fd, unsigned events)
{
    weft_loop *loop = weft__coro_of_parker(p)->loop;
    if (!events) {
        weft__loop_fd_unwait(loop, p, fd);
        return WEFT_OK;
    }
    return weft__loop_fd_wait(loop, p, fd, events);
}

static const weft_parker_ops task_ops = {task_suspend, task_resume, task_yield, task_watch};

static void wake_timer_fired(weft_loop_timer *timer)
{
    weft_coro *t = (weft_coro *)(void *)((char *)timer - offsetof(weft_coro, wake_timer));
    if (t->wait_deadline == WEFT_NO_DEADLINE)
        return; /* a lazy timer, left by a wait that is over */
    if (t->wait_deadline > timer->when) { /* left by an earlier wait: move it out */
        weft__loop_timer_arm_reserved(t->loop, timer, t->wait_deadline);
        return;
    }
    weft__park_expire(&t->parker);
}

/* ---- a task's life --------------------------------------------------------- */

/* How the task ends: its failure if it failed, cancelled if a request is
 * outstanding (C's way of letting CancelledError out: returning), else its
 * result. */
static void finish(weft_coro *t, void *result, int code, char *message)
{
    weft_cancel_source *src = weft__future_cancel_source(t->future);
    if (code) {
        weft__future_finish(t->future, NULL, code, message);
    } else if (atomic_load(&src->requests) > 0) {
        char *why = NULL;
        weft__lock_take(&t->message_lock);
        why = t->cancel_message;
        t->cancel_message = NULL;
        weft_lock_release(&t->message_lock);
        weft__future_finish_cancelled(t->future, why);
    } else {
        weft__future_finish(t->future, result, 0, NULL);
    }
}

/* The first thing on the task's own stack. */
static void task_main(void *arg)
{
    weft_coro *t = arg;
    weft_cancel_source *src = weft__future_cancel_source(t->future);
    void *result = NULL;
    int code = 0;
    char *message = NULL;
    /* Cancelled before it ever ran: it never starts (asyncio throws
     * CancelledError in at its first step). */
    if (!atomic_load(&src->requested)) {
        result = t->fn(t->arg);
        if (!weft__take_failure(result, &code, &message) && result == WEFT_FAILED)
            code = WEFT_EFAILED; /* WEFT_FAILED returned without weft_fail */
        if (code)
            result = NULL;
    }
    /* Ended only once its future is complete: a done-callback run here
     * may wait (and suspend this coroutine) meanwhile. */
    finish(t, result, code, message);
    weft__loop_timer_disarm(t->loop, &t->wake_timer); /* lazy: it may still be armed */
    t->ended = true;
    weft__ctx_exit(&t->ctx, &t->loop->ctx);
}

/* The stack the task runs on: its own, or its shared one (both may come
 * from a slab, with canaries instead of a guard page). */
static const weft_stack *stack_of(const weft_coro *t)
{
    return t->stack ? t->stack : weft__shared_stack_of(&t->save);
}

static void release_stack(weft_coro *t)
{
    const weft_stack *stack = stack_of(t);
    if (stack && !weft__stack_intact_fully(stack))
        weft__stack_overflowed(stack);
    weft__ctx_destroy(&t->ctx);
    if (t->stack)
        weft__stack_free(t->stack);
    t->stack = NULL;
}

/* After the task's last switch back: give its stack back, take it off the
 * loop's list and drop the loop's reference. */
static void reap(weft_coro *t)
{
    weft_loop *loop = t->loop;
    weft__coro_drop_scopes(t);
    release_stack(t);
    weft__list_remove(&t->link);
    loop->task_count--;
    weft_future_release(t->future);
}

static void report_slow(weft_coro *t, int64_t ran)
{
    fprintf(stderr, "weft: task %s ran %.3f s without suspending (asyncio: slow callback)\n",
            name_of(t), (double)ran / 1e9);
}

static void run_task(weft_runnable *r)
{
    weft_coro *t = (weft_coro *)(void *)((char *)r - offsetof(weft_coro, run));
    weft_loop *loop = t->loop;
    int64_t began = loop->debug ? weft__now_ns() : 0;
    loop->current = t;
    weft__parker_switch(&t->parker);
    int rc = weft__ctx_switch_in(&loop->ctx, &t->ctx);
    weft__parker_switch(NULL);
    loop->current = NULL;
    if (rc != WEFT_OK) { /* no memory to copy the shared stack's occupant out */
        weft__loop_push_ready(loop, r);
        return;
    }
    if (t->check_stack) {
        const weft_stack *stack = stack_of(t);
        if (stack && !weft__stack_intact(stack))
            weft__stack_overflowed(stack);
    }
    if (loop->debug) {
        int64_t ran = weft__now_ns() - began;
        if (ran > loop->slow_ns)
            report_slow(t, ran);
    }
    if (t->ended)
        reap(t);
}

/* ---- making tasks ---------------------------------------------------------- */

static void free_record(weft_coro *t);

/* asyncio's "Task exception was never retrieved", at the task's end. */
static void report_unseen(weft_coro *t, weft_future *task)
{
    fprintf(stderr, "weft: task %s failed and nobody retrieved its failure: %s (%s)\n",
            name_of(t), weft_future_error_message(task),
            weft_strerror(weft_future_error_code(task)));
}

static void free_task(void *record, weft_future *task)
{
    weft_coro *t = record;
    if (t->debug && task && weft__future_failure_unseen(task))
        report_unseen(t, task);
    free_record(t);
}

static void free_record(weft_coro *t)
{
    weft_lock_destroy(&t->message_lock);
    free(t->parker.node);
    free(t->parker.fail_message); /* a weft_fail the task did not return */
    free(t->cancel_message);
    free(t->name);
    free(t);
}

static bool cancel_task(weft_future *task, const char *message);

static const weft_future_task_hooks hooks = {cancel_task, free_task};

static int check_task_options(const weft_task_options *o)
{
    if (o->stack_mode != WEFT_STACK_DEFAULT && o->stack_mode != WEFT_STACK_OWN &&
        o->stack_mode != WEFT_STACK_SHARED)
        return WEFT_EINVAL;
    return o->stack_size > ((size_t)1 << 30) ? WEFT_EINVAL : WEFT_OK;
}


static weft_coro *record_new(weft_loop *loop, weft_task_fn fn, void *arg, const char *name)
{
    weft_coro *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->number = atomic_fetch_add(&tasks_made, 1) + 1; /* asyncio counts across loops */
    if ((name && !(t->name = weft__coro_copy_of(name))) || weft_future_new(&t->future) != WEFT_OK) {
        free(t->name);
        free(t);
        return NULL;
    }
    t->loop = loop;
    t->debug = loop->debug;
    t->fn = fn;
    t->arg = arg;
    weft_lock_init(&t->message_lock);
    t->run.run = run_task;
    t->wake_timer.fire = wake_timer_fired;
    t->wait_deadline = WEFT_NO_DEADLINE;
    t->parker.ops = &task_ops;
    t->parker.task = t->future;
    weft_cancel_source *src = weft__future_cancel_source(t->future);
    atomic_store(&src->parker, &t->parker);
    t->parker.cancel = src; /* every wait of a coroutine is a cancellation point */
    t->parker.task_cancel = src;
    t->parker.cancel_once = true;
    return t;
}

/* Memory mode: the next of the loop's shared stacks, in turn. */
static weft_shared_stack *shared_stack_for(weft_loop *loop, size_t size)
{
    weft_shared_stacks *s = loop->shared;
    if (!s) {
        s = calloc(1, sizeof *s + loop->shared_stacks * sizeof s->stacks[0]);
        if (!s)
            return NULL;
        for (; s->count < loop->shared_stacks; s->count++)
            if (weft__shared_stack_new(size, &s->stacks[s->count]) != WEFT_OK)
                break;
        if (!s->count) {
            free(s);
            return NULL;
        }
        loop->shared = s;
    }
    return s->stacks[s->next++ % s->count];
}

void weft__coro_free_shared_stacks(weft_loop *loop)
{
    weft_shared_stacks *s = loop->shared;
    if (!s)
        return;
    for (unsigned i = 0; i < s->count; i++)
        weft__shared_stack_free(s->stacks[i]);
    free(s);
    loop->shared = NULL;
}

static int give_stack(weft_coro *t, const weft_task_options *o)
{
    weft_loop *loop = t->loop;
    size_t size = o->stack_size ? o->stack_size : loop->stack_size ? loop->stack_size : DEFAULT_STACK;
    int mode = o->stack_mode != WEFT_STACK_DEFAULT ? (int)o->stack_mode : loop->stack_mode;
    if (mode == WEFT_STACK_SHARED && weft__shared_stack_supported()) {
        /* A task asking for its own size gets its own stack. */
        weft_shared_stack *ss = o->stack_size ? NULL : shared_stack_for(loop, size);
        if (ss) {
            t->check_stack = true;
            return weft__ctx_make_shared(&t->ctx, ss, &t->save, task_main, t);
        }
    }
    char number[32];
    int rc = weft__stack_new(size, t->name ? t->name : default_name(t, number), &t->stack);
    if (rc == WEFT_OK) {
        /* A guard page needs no look at each switch: one cache miss fewer
         * per resume (W12 at 10,000 connections: 1.2% of the server's CPU). */
        t->check_stack = !weft__stack_guarded(t->stack);
        rc = weft__ctx_make(&t->ctx, weft__stack_base(t->stack), weft__stack_size(t->stack),
                            task_main, t);
        if (rc != WEFT_OK) {
            weft__stack_free(t->stack);
            t->stack = NULL;
        }
    }
    return rc;
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static void set_hooks(void) { weft__future_set_task_hooks(&hooks); }

int weft__coro_spawn(weft_loop *loop, weft_task_fn fn, void *arg, const weft_task_options *o,
                     weft_future **task)
{
    static const weft_task_options none = WEFT_TASK_OPTIONS_INIT;
    *task = NULL;
    if (!o)
        o = &none;
    if (!fn || check_task_options(o) != WEFT_OK)
        return WEFT_EINVAL;
    if (atomic_load(&loop->closed))
        return WEFT_ESTATE;
    pthread_once(&hooks_once, set_hooks);
    /* Room for the task's deadline timer now, so a wait never lacks it. */
    if (weft__loop_timer_reserve(loop, loop->timer_count + loop->task_count + 1) != WEFT_OK)
        return WEFT_ENOMEM;
    weft_coro *t = record_new(loop, fn, arg, o->name);
    if (!t)
        return WEFT_ENOMEM;
    int rc = give_stack(t, o);
    if (rc != WEFT_OK) {
        weft_future_release(t->future); /* not a task yet: frees only the future */
        free_record(t);
        return rc;
    }
    weft__future_make_task(t->future, t);
    weft__list_push_back(&loop->tasks, &t->link);
    loop->task_count++;
    weft__loop_push_ready(loop, &t->run);
    *task = weft_future_ref(t->future); /* the loop keeps the first */
    return WEFT_OK;
}

int weft_spawn(weft_task_fn fn, void *arg, const weft_task_options *options, weft_future **task)
{
    if (!task)
        return WEFT_EINVAL;
    *task = NULL;
    weft_loop *loop = weft_get_running_loop();
    if (!loop)
        return WEFT_ESTATE; /* "no running event loop" */
    return weft__coro_spawn(loop, fn, arg, options, task);
}

/* ---- cancellation ------------------------------------------------------------ */

static weft_coro *record_of(weft_future *task)
{
    return task ? weft__future_task_record(task) : NULL;
}

static bool cancel_task(weft_future *task, const char *message)
{
    weft_coro *t = record_of(task);
    if (weft_future_done(task))
        return false;
    char *copy = message ? weft__coro_copy_of(message) : NULL;
    weft__lock_take(&t->message_lock);
    free(t->cancel_message);
    t->cancel_message = copy;
    weft_lock_release(&t->message_lock);
    weft_cancel_source *src = weft__future_cancel_source(task);
    atomic_fetch_add(&src->requests, 1);
    weft__cancel_source_fire(src);
    /* asyncio cancels the future the task awaits at once.  Only from the
     * task's own loop: elsewhere the task may be done waiting on it by
     * now (it cancels it itself when its wait returns). */
    if (weft__loop_here() == t->loop && t->parker.awaiting) { /* only its loop's thread reads it */
        weft_future *awaited = t->parker.awaiting;
        t->parker.awaiting = NULL; /* its wait knows then not to cancel it again */
        weft_future_cancel(awaited);
    }
    return true;
}

void weft__coro_rearm_cancel(weft_coro *t)
{
    weft_cancel_source *src = weft__future_cancel_source(t->future);
    if (atomic_load(&src->requests) > 0)
        atomic_store(&src->requested, true);
}

bool weft_task_cancel(weft_future *task, const char *message)
{
    return record_of(task) ? cancel_task(task, message) : false;
}

int weft_task_cancelling(weft_future *task)
{
    if (!record_of(task))
        return 0;
    return atomic_load(&weft__future_cancel_source(task)->requests);
}

int weft_task_uncancel(weft_future *task)
{
    if (!record_of(task))
        return 0;
    weft_cancel_source *src = weft__future_cancel_source(task);
    int n = atomic_load(&src->requests);
    while (n > 0 && !atomic_compare_exchange_weak(&src->requests, &n, n - 1)) {
    }
    if (n <= 1) {
        atomic_store(&src->requested, false); /* nothing left to report ... */
        if (atomic_load(&src->requests) > 0) /* ... unless a cancel came meanwhile */
            atomic_store(&src->requested, true);
    }
    return n > 0 ? n - 1 : 0;
}

/* ---- looking at tasks ---------------------------------------------------------- */

weft_future *weft_current_task(void)
{
    weft_coro *t = weft__coro_running();
    return t ? t->future : NULL;
}

bool weft_is_task(weft_future *future) { return record_of(future) != NULL; }

const char *weft_task_name(weft_future *task)
{
    weft_coro *t = record_of(task);
    return t ? name_of(t) : NULL;
}

int weft_task_set_name(weft_future *task, const char *name)
{
    weft_coro *t = record_of(task);
    if (!t || !name)
        return WEFT_EINVAL;
    char *copy = weft__coro_copy_of(name);
    if (!copy)
        return WEFT_ENOMEM;
    free(t->name);
    t->name = copy;
    return WEFT_OK;
}

size_t weft_all_tasks(weft_future **tasks, size_t capacity)
{
    weft_loop *loop = weft_get_running_loop();
    if (!loop)
        return 0;
    size_t n = 0;
    WEFT_LIST_FOR_EACH(node, next, &loop->tasks) {
        weft_coro *t = WEFT_LIST_ENTRY(node, weft_coro, link);
        if (weft_future_done(t->future))
            continue;
        if (tasks && n < capacity)
            tasks[n] = weft_future_ref(t->future);
        n++;
    }
    return n;
}
