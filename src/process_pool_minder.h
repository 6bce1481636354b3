/* SPDX-License-Identifier: MIT */
/* process_pool_minder.h — the parent's side of each process-pool worker
 * (process_pool_minder.c): handing it tasks, its minder thread, taking
 * its replies; what the executor operations and the poller use of it. */
#ifndef WEFT_PROCESS_POOL_MINDER_H
#define WEFT_PROCESS_POOL_MINDER_H

#include "process_pool_state.h"

#include <stdbool.h>

/* Give back a task and its future reference. */
void weft__ppool_free_task(struct ptask *t);

/* A submitter that took slot s off the idle stack (pool lock held) marks
 * it as sending, hands it its task with weft__ppool_send_task (unlocked),
 * then calls weft__ppool_end_sending: until then, whoever takes the task's
 * reply or the child's end waits before it frees the task. */
void weft__ppool_begin_sending_locked(struct slot *s);
void weft__ppool_end_sending(struct slot *s);

/* Hand t to the idle worker of slot s (the shared page or the socket). */
void weft__ppool_send_task(struct slot *s, struct ptask *t);

/* Take every queued task out (lock held) / fail or cancel such a list. */
struct ptask *weft__ppool_detach_all_locked(struct ppool *p);
void weft__ppool_finish_detached(struct ptask *list, int code, const char *why);

/* Close an idle child's input so that it exits (lock held). */
void weft__ppool_stop_child_locked(struct slot *s);

/* Fork slot s's worker. */
int weft__ppool_fork_worker(struct slot *s);

/* A slot's minder thread (arg: its struct slot). */
void *weft__ppool_minder_main(void *slot);

/* Take the reply waiting in slot s's shared page, if there is one:
 * complete its future and give the worker its next task.  `wait` says
 * whether to wait for the slot's lock or give up when another thread
 * holds it.  Whether a reply was taken. */
bool weft__ppool_take_shared_reply(struct slot *s, bool wait);

/* The pools whose replies this thread takes now, innermost first (a
 * minder's pool for its whole life, a waiting thread's while it polls):
 * weft__ppool_serving_begin/end bracket such work, sv on the caller's
 * stack.  A done-callback there must not wait for p nor free it. */
struct ppool_serving {
    struct ppool *pool;
    struct ppool_serving *outer;
};
void weft__ppool_serving_begin(struct ppool_serving *sv, struct ppool *p);
void weft__ppool_serving_end(struct ppool_serving *sv);
bool weft__ppool_serving(const struct ppool *p);

#endif
