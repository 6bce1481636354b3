/* SPDX-License-Identifier: MIT */
/* coro_internal.h — a task's record (coro.c), for the rest of layer 9. */
#ifndef WEFT_CORO_INTERNAL_H
#define WEFT_CORO_INTERNAL_H

#include "loop.h"

#include "weft/coro.h"

#include "park.h"
#include "platform/shared_stack.h"
#include "platform/stack.h"
#include "weft/lock.h"

#include <pthread.h>

/* A task.  The record lives as long as its future (freed by the future's
 * last release); its stack only while it runs. */
typedef struct weft_coro {
    weft_parker parker;         /* its waits (park.h) */
    weft_runnable run;          /* queued on its loop to be resumed */
    weft_loop_timer wake_timer; /* the deadline of its current wait (or a past one's) */
    int64_t wait_deadline;      /* its current wait's; WEFT_NO_DEADLINE: none */
    weft_ctx ctx;
    weft_stack *stack;     /* its own, or NULL on a shared one */
    weft_stack_save save;  /* on a shared stack: its live part while away */
    weft_loop *loop;
    weft_future *future;
    weft_task_fn fn;
    void *arg;
    char *name;      /* NULL until asked for: "Task-<number>" */
    uint64_t number; /* its place among the loop's tasks, from 1 */
    char *cancel_message;
    weft_list_node link; /* loop->tasks */
    void *scopes;        /* coro_scope.c: its innermost deadline scope */
    weft_lock message_lock; /* guards cancel_message (any thread cancels) */
    bool ended;
    bool check_stack; /* its stack has no guard page: look at its red zone at each switch */
    bool debug; /* its loop's debug mode, for the report at its end */
} weft_coro;

/* The running task's record (NULL outside a coroutine), and the record of
 * a parker that is a task's. */
weft_coro *weft__coro_running(void);
weft_coro *weft__coro_of_parker(weft_parker *p);

/* The loop's shared stacks (memory mode), made at the first task that
 * uses them; freed with the loop. */
typedef struct weft_shared_stacks {
    unsigned count, next;
    weft_shared_stack *stacks[];
} weft_shared_stacks;

void weft__coro_free_shared_stacks(weft_loop *loop);

/* A malloc'd copy of a string (NULL when out of memory): names, messages. */
char *weft__coro_copy_of(const char *text);

/* weft_spawn on `loop`, from its own thread. */
int weft__coro_spawn(weft_loop *loop, weft_task_fn fn, void *arg, const weft_task_options *o,
                     weft_future **task);

/* Make t's next wait report the cancellation requests still outstanding
 * (one that a task group or a scope used up on its way out). */
void weft__coro_rearm_cancel(weft_coro *t);

/* Close the deadline scopes a task left open when it ended (coro_scope.c):
 * their timers must not fire on it. */
void weft__coro_drop_scopes(weft_coro *t);

/* Check a loop's options: WEFT_OK or WEFT_EINVAL (coro_call.c). */
int weft__loop_check_options(const weft_loop_options *o);

/* weft_loop_call_soon_threadsafe, with dropped(arg) called instead of
 * fn(arg) if the loop goes before it runs fn (coro_call.c). */
int weft__loop_call_soon_threadsafe_or_drop(weft_loop *loop, weft_callback_fn fn,
                                            weft_callback_fn dropped, void *arg);

/* A done-callback: give `to` (a plain future; the callback's reference,
 * which it drops) the outcome of `from`. */
void weft__coro_copy_outcome(weft_future *from, void *to);

#endif
