/* SPDX-License-Identifier: MIT */
/* process_pool_impl.h — what the process pool's two sides share: the wire
 * format between parent and worker (socket tags, messages, the shared
 * page), and the pool's records (process_pool.c, the executor operations;
 * process_pool_minder.c, the parent's side of each worker;
 * process_pool_child.c, the worker's loop). */
#ifndef WEFT_PROCESS_POOL_IMPL_H
#define WEFT_PROCESS_POOL_IMPL_H

#include "executor_internal.h"
#include "future_internal.h"
#include "platform/platform.h"
#include "platform/process.h"
#include "lock_internal.h"
#include "thread_internal.h"
#include "weft/process_pool.h"
#include "weft/status.h"
#include "weft/thread.h"
#include "weft/time.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a worker spins for its next task before it sleeps. */
#define CHILD_SPIN_NS 100000

enum { TASK_PLAIN = 1, TASK_BYTES = 2 };
enum { REPLY_RESULT = 1, REPLY_FAILED = 2, REPLY_INIT_FAILED = 3 };

/* On the socket, each message starts with a one-byte tag: a doorbell is the
 * tag alone, sent without waiting (a full socket already holds doorbells
 * enough: dropping one loses nothing); a message is the tag, its struct,
 * then its payload. */
enum { TAG_DOORBELL = 'd', TAG_MESSAGE = 'm' };

static inline int send_message(int channel, const void *msg, size_t size, const void *data,
                        size_t data_size)
{
    unsigned char tag = TAG_MESSAGE;
    int rc = weft_pf_send_all(channel, &tag, 1);
    if (rc == WEFT_OK)
        rc = weft_pf_send_all(channel, msg, size);
    if (rc == WEFT_OK && data_size)
        rc = weft_pf_send_all(channel, data, data_size);
    return rc;
}

static inline void ring_doorbell(int channel) { weft_pf_send_byte_nowait(channel, TAG_DOORBELL); }

/* Read a tag; WEFT_ESTATE when the other end is gone. */
static inline int read_tag(int channel, unsigned char *tag) { return weft_pf_recv_all(channel, tag, 1); }

/* On the wire, parent to child, then `size` bytes of payload. */
struct task_msg {
    uint32_t kind;
    uint32_t unused;
    uint64_t fn;
    uint64_t arg;
    uint64_t size;
};

/* Child to parent, then `size` bytes: the result bytes or error message. */
struct reply_msg {
    uint32_t kind;
    int32_t code;
    uint64_t value;
    uint64_t size;
    uint32_t has_bytes;
    uint32_t unused;
};

/* The page a worker shares with its parent.  The parent writes `task`
 * and `task_data`, then bumps task_seq; the worker writes `reply` and
 * `reply_data`, then bumps reply_seq.  Each writes its side only while the
 * other waits for it, so the sequence numbers are the only shared race. */
#define SHARED_PAGE 4096
#define TASK_INLINE 1024
struct shared_slot {
    _Atomic uint32_t task_seq;
    _Atomic uint32_t reply_seq;
    _Atomic uint32_t worker_spinning; /* 1 while the worker spins for a task */
    _Atomic uint32_t parent_spinning; /* threads of the parent taking replies */
    /* Written by the worker before it dies of its memory cap: the signal
     * that ends it, or OVER_CAP_EXITED; 0 otherwise (reset before a fork). */
    _Atomic int32_t over_cap;
    uint32_t unused;
    struct task_msg task;
    struct reply_msg reply;
    unsigned char task_data[TASK_INLINE];
    unsigned char reply_data[SHARED_PAGE - TASK_INLINE - 24 - sizeof(struct task_msg) -
                             sizeof(struct reply_msg)];
};
_Static_assert(sizeof(struct shared_slot) == SHARED_PAGE, "one page per worker");

/* shared_slot.over_cap: the worker ran out of its cap in weft's own code
 * (a large task's payload) and exits. */
#define OVER_CAP_EXITED (-1)

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
    /* A submitter is handing the task over (set under the pool lock,
     * cleared with a release store once it is done writing). */
    _Atomic bool sending;
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



/* A capped worker whose task failed with WEFT_ENOMEM ran into its cap (the
 * cap is what makes malloc return NULL there): the worker and its parent
 * both apply this rule to the same reply, so the worker exits after it and
 * the parent gives it no further task. */
static inline bool fails_over_cap(const struct ppool *p, int code)
{
    return p->max_memory && code == WEFT_ENOMEM;
}


static inline struct ppool *pool_of(weft_executor *ex) { return (struct ppool *)ex; }

/* ---- the parent's side (process_pool_minder.c), for the operations ---- */

/* Give back a task and its future reference. */
void weft_ppool_free_task(struct ptask *t);
/* Hand t to the idle worker of slot s (the shared page or the socket). */
void weft_ppool_send_task(struct slot *s, struct ptask *t);
/* Take every queued task out (lock held) / fail or cancel such a list. */
struct ptask *weft_ppool_detach_all_locked(struct ppool *p);
void weft_ppool_finish_detached(struct ptask *list, int code, const char *why);
/* Close an idle child's input so that it exits (lock held). */
void weft_ppool_stop_child_locked(struct slot *s);
/* Fork slot s's worker. */
int weft_ppool_fork_worker(struct slot *s);
/* A slot's minder thread, and the poller of the pool's futures. */
void *weft_ppool_minder_main(void *slot);
void weft_ppool_poll(void *pool, int phase);
/* Whether the calling thread takes p's replies now (a minder, or a waiter
 * polling): a done-callback there must not wait for p nor free it. */
bool weft_ppool_serving(const struct ppool *p);

/* The worker's whole life in its forked child: fn of weft_pf_fork_child,
 * arg the worker's struct slot; its exit status. */
int weft_process_pool_worker(void *arg, int channel);

#endif
