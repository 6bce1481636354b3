/* SPDX-License-Identifier: MIT */
/* coro_internal.h — a task's record (coro.c), for the rest of layer 9. */
#ifndef WEFT_CORO_INTERNAL_H
#define WEFT_CORO_INTERNAL_H

#include "loop.h"

#include "weft/coro.h"

#include "park.h"
#include "platform/stack.h"
#include "weft/lock.h"

#include <pthread.h>

/* A task.  The record lives as long as its future (freed by the future's
 * last release); its stack only while it runs. */
typedef struct weft_coro {
    weft_parker parker;         /* its waits (park.h) */
    weft_runnable run;          /* queued on its loop to be resumed */
    weft_loop_timer wake_timer; /* the deadline of its current wait */
    weft_ctx ctx;
    weft_stack *stack;
    weft_loop *loop;
    weft_future *future;
    weft_task_fn fn;
    void *arg;
    char *name;
    weft_lock message_lock; /* guards cancel_message (any thread cancels) */
    char *cancel_message;
    weft_list_node link; /* loop->tasks */
    void *scopes;        /* coro_wait.c: its innermost deadline scope */
    bool ended;
} weft_coro;

/* The running task's record (NULL outside a coroutine), and the record of
 * a parker that is a task's. */
weft_coro *weft__coro_running(void);
weft_coro *weft__coro_of_parker(weft_parker *p);

/* weft_spawn on `loop`, from its own thread. */
int weft__coro_spawn(weft_loop *loop, weft_task_fn fn, void *arg, const weft_task_options *o,
                     weft_future **task);

/* Check a loop's options: WEFT_OK or WEFT_EINVAL (coro_call.c). */
int weft__loop_check_options(const weft_loop_options *o);

/* A done-callback: give `to` (a plain future; the callback's reference,
 * which it drops) the outcome of `from`. */
void weft__coro_copy_outcome(weft_future *from, void *to);

#endif
