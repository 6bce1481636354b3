/* SPDX-License-Identifier: MIT */
/* loop.h — the event loop inside (layer 9): what loop.c (the loop: ready
 * queue, timers, sleeping, callbacks) and coro.c (tasks) share.
 *
 * The loop runs runnables: a task to resume or a callback to call.  Its
 * own thread appends them to the ready queue directly; other threads push
 * them onto a lock-free inbox and wake the poller, and the loop moves the
 * inbox onto the ready queue before each round. */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include "weft/executor.h"

#include "list.h"
#include "park.h"
#include "platform/poller.h"
#include "platform/switch.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct weft_loop weft_loop; /* also weft/coro.h's */

typedef struct weft_runnable {
    struct weft_runnable *next;
    void (*run)(struct weft_runnable *self);
    void (*drop)(struct weft_runnable *self); /* NULL, or: the loop goes without running it */
} weft_runnable;

/* A timer of the loop: fire(timer) at `when` (monotonic ns); equal times
 * fire in the order they were armed. */
typedef struct weft_loop_timer {
    int64_t when;
    uint64_t seq;
    size_t slot; /* its index in the heap while armed */
    bool armed;
    void (*fire)(struct weft_loop_timer *self); /* also when the loop goes first */
} weft_loop_timer;

struct weft_loop {
    weft_ctx ctx; /* the loop's own: the thread's stack */
    weft_runnable *ready_head, *ready_tail;
    _Atomic(weft_runnable *) inbox;
    _Atomic int remote_pushers; /* in weft__loop_push_remote now */
    _Atomic int sleeping;       /* in the poller, or about to be */
    weft_poller *poller;
    size_t watching; /* fds registered with the poller (loop_fd.c) */
    weft_list flushes; /* owners whose flush is due (loop_fd.c) */
    struct weft_loop_fd *fds; /* by descriptor number (loop_fd.c) */
    size_t fd_capacity;
    weft_loop_timer **timers;
    size_t timer_count, timer_capacity;
    uint64_t timer_seq;
    int64_t round_now; /* the clock as this round began (weft__net_cap_deadline) */
    weft_list tasks; /* the tasks not ended (coro.c) */
    size_t task_count;
    void *current;       /* the task running now (coro.c), NULL between */
    size_t stack_size; /* weft_loop_options' (coro.h) */
    int stack_mode;
    unsigned shared_stacks;
    bool debug;
    int64_t slow_ns; /* debug: a task running longer is named */
    _Atomic bool running;
    _Atomic uint64_t owner; /* the thread that first ran it (weft__self_ident); 0: none yet */
    _Atomic bool closed;
    weft_executor *default_pool;
    void *shared; /* coro.c: the memory mode's stacks */
    /* The streams' spare read buffers (stream_read.c), freed with the loop. */
    void *net_cache;
    void (*net_cache_free)(void *cache);
};

/* The loop running on this thread (NULL: none). */
weft_loop *weft__loop_here(void);

/* Append to the ready queue: from the loop's own thread only. */
void weft__loop_push_ready(weft_loop *loop, weft_runnable *r);

/* Move what other threads pushed onto the ready queue, oldest first (the
 * loop's thread; each round does it first). */
void weft__loop_take_inbox(weft_loop *loop);

/* From any thread: the loop's own appends at once, others go through the
 * inbox and wake the loop. */
void weft__loop_push(weft_loop *loop, weft_runnable *r);

/* Arm / disarm a timer (the loop's thread).  Arm returns WEFT_OK or
 * WEFT_ENOMEM. */
int weft__loop_timer_arm(weft_loop *loop, weft_loop_timer *t, int64_t when);
void weft__loop_timer_disarm(weft_loop *loop, weft_loop_timer *t);

/* Arm a task's wait timer, in the room its spawn reserved (never fails). */
void weft__loop_timer_arm_reserved(weft_loop *loop, weft_loop_timer *t, int64_t when);

/* Make room for `count` armed timers at once.  WEFT_OK or WEFT_ENOMEM. */
int weft__loop_timer_reserve(weft_loop *loop, size_t count);

/* Run the loop on this thread until done(ctx) is true, looked at after
 * each runnable.  The caller made the loop this thread's (running). */
void weft__loop_run_until(weft_loop *loop, bool (*done)(void *ctx), void *ctx);

/* Make `loop` this thread's running loop (NULL: none); the previous one. */
weft_loop *weft__loop_enter(weft_loop *loop);

/* ---- descriptors (loop_fd.c) ------------------------------------------
 *
 * The loop registers an fd with its poller at the first wait on it and
 * keeps it registered (edge-triggered: no system call per wait), until
 * weft__loop_fd_forget, which whoever closes the fd calls first.  An fd
 * closed without it may have its number reused: so at each wait on an fd
 * not kept by an owner, the loop asks the poller whether it is still
 * registered (one cheap call) and registers it again if not. */

/* Told when an owned fd turns writable (a stream's background send), and,
 * when it asked for it (weft__loop_flush_later), before the loop next
 * looks at its fds: a stream's writes of one task step go out in one send. */
typedef struct weft_fd_owner {
    void (*writable)(struct weft_fd_owner *self);
    void (*flush)(struct weft_fd_owner *self);
    weft_list_node pending; /* in its loop's flush list (self-linked: not) */
} weft_fd_owner;

/* One fd's state in its loop. */
typedef struct weft_loop_fd {
    weft_parker *waiters;  /* the tasks waiting on it now (fd_next) */
    weft_fd_owner *owner;  /* NULL, or kept by its owner */
    /* How many times the poller reported it readable (wrapping), and
     * whether it ever reported a hang-up.  An edge the poller reports
     * while nobody waits is gone: an owner that drained the fd and sees
     * this count unchanged since knows that no edge was lost, so it may
     * wait without trying the call first, unless the peer hung up (end
     * of file after the data that one edge reported: a state, which no
     * later edge announces). */
    unsigned read_events;
    bool hung_up;
    bool registered, kept;
} weft_loop_fd;

/* Task p (of loop) waits for fd to be ready for events / stops waiting:
 * the parker ops' watch.  WEFT_OK, WEFT_EINVAL (fd cannot be polled),
 * WEFT_EAGAIN, WEFT_ENOMEM. */
int weft__loop_fd_wait(weft_loop *loop, weft_parker *p, int fd, unsigned events);
void weft__loop_fd_unwait(weft_loop *loop, weft_parker *p, int fd);

/* Keep fd registered for its owner (owner may be NULL: only skip the
 * checks), who calls weft__loop_fd_forget before closing it.  WEFT_OK,
 * WEFT_EINVAL, WEFT_EAGAIN, WEFT_ENOMEM. */
int weft__loop_fd_keep(weft_loop *loop, int fd, weft_fd_owner *owner);

/* Stop watching fd (it is about to be closed): the tasks waiting on it
 * are woken (their next call on it fails).  Nothing if never watched. */
void weft__loop_fd_forget(weft_loop *loop, int fd);

/* Call owner->flush before the loop next looks at its fds (once, however
 * often asked), unless cancelled first; run them all now.  The owner's
 * pending node must have been initialised (weft__list_node_init). */
void weft__loop_flush_later(weft_loop *loop, weft_fd_owner *owner);
void weft__loop_flush_cancel(weft_fd_owner *owner);
void weft__loop_flush_all(weft_loop *loop);

/* The poller's ready(): wake fd's waiters for events, tell its owner. */
void weft__loop_fd_ready(int fd, unsigned events, void *loop);

/* Free the table (the loop goes). */
void weft__loop_fd_free(weft_loop *loop);

/* Release the resources of a loop whose tasks have all ended. */
void weft__loop_destroy(weft_loop *loop);

#endif
