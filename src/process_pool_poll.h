/* SPDX-License-Identifier: MIT */
/* process_pool_poll.h — the poller of a process pool's futures
 * (process_pool_poll.c): a thread waiting on one takes replies itself. */
#ifndef WEFT_PROCESS_POOL_POLL_H
#define WEFT_PROCESS_POOL_POLL_H

/* A weft_future_poller (future_internal.h); ctx is the struct ppool. */
void weft__ppool_poll(void *pool, int phase);

#endif
