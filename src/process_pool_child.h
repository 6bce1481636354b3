/* SPDX-License-Identifier: MIT */
/* process_pool_child.h — a process-pool worker's loop, run in its forked
 * child (process_pool_child.c).  It knows only the wire format: what it
 * needs of its pool comes in a struct ppool_worker. */
#ifndef WEFT_PROCESS_POOL_CHILD_H
#define WEFT_PROCESS_POOL_CHILD_H

#include "process_pool_wire.h"

#include <stddef.h>
#include <stdint.h>

/* What a worker knows of its pool and slot, filled by the parent before
 * the fork (the child runs on its own copy of it). */
struct ppool_worker {
    struct shared_slot *shared; /* the page it shares with its parent */
    uint32_t first_task_seq;    /* task_seq when it was forked */
    long max_tasks_per_child;   /* 0: no limit */
    size_t max_memory;          /* 0: no cap */
    int (*initializer)(void *);
    void *initializer_arg;
};

/* The worker's whole life in its forked child: body of
 * weft__pf_fork_child, arg its struct ppool_worker; its exit status. */
int weft__process_pool_worker(void *worker, int channel);

#endif
