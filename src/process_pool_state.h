/* SPDX-License-Identifier: MIT */
/* process_pool_state.h — the parent's records of a process pool: the pool,
 * one slot per worker, and each task on its way through them.  Shared by
 * the executor operations (process_pool.c), the waiter-side poller
 * (process_pool_poll.c) and the minder threads (process_pool_minder.c);
 * the worker itself (process_pool_child.c) never sees them. */
#ifndef WEFT_PROCESS_POOL_STATE_H
#define WEFT_PROCESS_POOL_STATE_H

#include "executor_internal.h"
#include "platform/process.h"
#include "process_pool_wire.h"
#include "weft/future.h"
#include "weft/lock.h"
#include "weft/bytes.h"
#include "weft/thread.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ptask {
    struct ptask *next;
    weft_future *future;
    struct task_msg msg;
    weft_bytes *payload; /* TASK_BYTES: a copy of the submitted bytes */
    int64_t started_ns;  /* when handed to a worker */
};

struct ppool;

struct slot {
    struct ppool *pool;
    struct shared_slot *shared;
    weft_lock own;                 /* taking replies, ending and replacing the child */
    _Atomic uint32_t replies_taken; /* shared replies taken (written under own) */
    uint32_t first_task_seq;        /* task_seq when the child was forked */
    /* Bumped (release) by whoever hands the child a task, read (acquire) by
     * whoever takes its reply: the hand-over really goes through the child,
     * where the parent's tools (ThreadSanitizer) cannot see it. */
    _Atomic uint32_t tasks_handed;
    weft_thread *minder;
    weft_pf_child child;
    bool alive;           /* a child is running in this slot */
    bool idle;            /* on the idle stack (under the pool lock) */
    /* A submitter is handing the task over: the protocol of
     * weft__ppool_begin_sending_locked (process_pool_minder.c). */
    _Atomic uint32_t sending;
    bool stopping;        /* its socket was closed for writing */
    struct slot *next_idle;
    struct ptask *task;   /* running task (pool lock) */
    long tasks_done;      /* by the current child */
    bool over_cap;        /* its child replied over its memory cap: it exits */
    int kill_reason;      /* 0, WEFT_ETIMEDOUT or WEFT_ECANCELLED */
    bool forced;          /* killed by terminate/kill_workers */
};

struct ppool {
    weft_executor base; /* first: the executor handle points here */
    weft_lock lock;
    struct ptask *head, *tail;
    size_t queued, running, completed;
    struct slot *idle;
    struct slot *slots;
    struct shared_slot *shared; /* nslots pages */
    _Atomic size_t pollers;     /* waiting threads polling the slots */
    size_t nslots, alive;
    bool shutting_down, broken, forced;
    long max_tasks_per_child;
    int64_t task_timeout_ns;
    size_t max_memory; /* 0: no cap */
    int (*initializer)(void *);
    void *initializer_arg;
    char name[48];
};

static inline struct ppool *pool_of(weft_executor *ex) { return (struct ppool *)ex; }

#endif
