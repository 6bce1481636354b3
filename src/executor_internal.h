/* SPDX-License-Identifier: MIT */
/* executor_internal.h — the interface every executor backend implements
 * (layer 7 of README.md's Layout).  submit, shutdown and friends are written once
 * over this table of operations. */
#ifndef WEFT_EXECUTOR_INTERNAL_H
#define WEFT_EXECUTOR_INTERNAL_H

#include "backend.h"
#include "list.h"
#include "weft/executor.h"

#include <stdatomic.h>
#include <stdint.h>

struct weft_executor_ops {
    /* Queue fn(arg); wait for room until `deadline` (a weft deadline). */
    int (*submit)(weft_executor *ex, weft_task_fn fn, void *arg, int64_t deadline,
                  weft_future **future);
    /* Stop taking work; with wait, wait for the workers to end, giving up
     * with WEFT_ETIMEDOUT at `deadline` (WEFT_NO_DEADLINE: never), or with
     * WEFT_ECANCELLED in a cancelled cancellable task. */
    int (*shutdown)(weft_executor *ex, bool wait, int64_t deadline, bool cancel_futures);
    /* True when the calling thread is one of the executor's workers. */
    bool (*is_worker)(weft_executor *ex);
    /* Free everything; called after a waiting shutdown. */
    void (*destroy)(weft_executor *ex);
    void (*stats)(weft_executor *ex, weft_executor_stats *stats);
    int (*resize)(weft_executor *ex, long max_workers); /* may be NULL */
};

struct weft_executor {
    /* Live executors, shut down at exit.  First: a list node at the start
     * of a block makes an executor never freed "still reachable" for
     * valgrind, where one inside the block is "possibly lost". */
    weft_list_node live;
    const struct weft_executor_ops *ops;
    const char *name;                  /* for debug mode's reports */
    _Atomic bool shut_down;            /* weft_executor_shutdown was called */
};

/* Register a new executor (for the exit shutdown) / unregister it.
 * Register returns WEFT_OK, or WEFT_ENOMEM when the fork and exit handlers
 * could not be installed (weft__executor_install_hooks); the executor is
 * then not registered, and unregistering it does nothing. */
WEFT_BACKEND int weft__executor_register(weft_executor *ex,
                                        const struct weft_executor_ops *ops, const char *name);
WEFT_BACKEND void weft__executor_unregister(weft_executor *ex);

/* Add the executors' fork and exit hooks and install the handlers
 * (lifecycle.h): WEFT_OK or WEFT_ENOMEM.  weft__executor_register does it;
 * a backend that forks before it registers (the process pool) calls it
 * first. */
int weft__executor_install_hooks(void);

/* Join one of a pool's threads (nothing to do for NULL or the caller's own)
 * before the deadline: WEFT_OK or WEFT_ETIMEDOUT.  With cancellable, a
 * cancelled cancellable task gives up with WEFT_ECANCELLED (shutdown);
 * without, cancellation is ignored (destroy: a pool is freed only once its
 * threads have ended, whoever frees it). */
struct weft_thread;
WEFT_BACKEND int weft__executor_join_thread(struct weft_thread *thread, int64_t deadline,
                                            bool cancellable);

#endif
