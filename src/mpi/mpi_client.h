/* SPDX-License-Identifier: MIT */
/* mpi_client.h — the client's MPI pool (mpi_pool.c: the executor
 * operations and the progress; mpi_client.c: making the pool). */
#ifndef WEFT_MPI_CLIENT_H
#define WEFT_MPI_CLIENT_H

#include "executor_internal.h"
#include "mpi_internal.h"

#include "weft/semaphore.h"
#include "weft/thread.h"

#include <stdatomic.h>

struct mtask {
    weft_list_node queued; /* in the pool's queue, waiting to be sent */
    struct mtask *next;  /* a list being sent, completed or cancelled */
    weft_future *future;
    void *msg;           /* the task message, until sent */
    size_t msg_len;
    struct wire_result result; /* once answered */
    void *reply;         /* the result message (payload after the header) */
    size_t reply_len;
    size_t slot;         /* while in flight */
    size_t rank;         /* index into ranks[] while in flight */
    bool cancel_sent;    /* the rank was told of a cancel (under the lock) */
    bool sending;        /* chosen from the queue, being sent outside the lock */
    bool dropped;        /* cancelled before it was sent (send_chosen's own) */
};

struct mpi_pool {
    weft_executor base;
    struct mpi_live live;
    MPI_Comm comm;
    bool spawned;        /* comm is an intercommunicator to spawned workers */
    int *ranks;          /* the serving ranks in comm */
    long *in_flight_at;  /* tasks sent to each and not yet answered */
    size_t nranks;
    long workers_per_rank, max_in_flight, max_pending;
    uint16_t epoch;      /* this pool's number, in every task id and greeting */
    _Atomic int submitting; /* submits under way (one may wait for room) */
    /* Under weft__mpi_lock: */
    weft_list queue;     /* struct mtask, oldest first */
    size_t queued, completed;
    _Atomic size_t in_flight; /* written under the lock; read without it too */
    struct mtask **slots; /* in flight, by slot; nranks * max_in_flight */
    uint32_t *generation;
    size_t *free_slots, nfree;
    struct mpi_sends sends;
    bool shutting_down, broken, released;
    int64_t next_cancel_scan_ns;
    /* Outside it: */
    weft_semaphore room; /* max_pending */
    weft_event wake;     /* ends the progress thread's nap or sleep */
    _Atomic bool sleeping; /* the progress thread sleeps until woken */
    _Atomic int pollers;   /* threads taking replies while they wait */
    _Atomic int completing; /* threads completing the pool's futures outside the lock */
    weft_thread *thread;
};

/* mpi_client.c: make the pool's records and its ranks (spawning them if
 * asked), greet the ranks; free them again. */
int weft__mpi_pool_create(struct mpi_pool **out, const weft_mpi_pool_options *o);
void weft__mpi_pool_destroy_records(struct mpi_pool *p);
/* A pool that could not start: release its ranks, free its records. */
void weft__mpi_pool_abandon(struct mpi_pool *p);
/* The rank index with the fewest tasks in flight and room for one more,
 * or (size_t)-1 (held: weft__mpi_lock). */
size_t weft__mpi_pick_rank(const struct mpi_pool *p);
/* Release the ranks (RELEASE to each; a spawned pool's workers then exit)
 * and give back the communicator (held: weft__mpi_lock). */
void weft__mpi_pool_release_ranks(struct mpi_pool *p);

/* mpi_progress.c: the progress, shared by submitters, waiters and the
 * progress thread. */
void weft__mpi_occupy_locked(struct mpi_pool *p, struct mtask *t, size_t rank);
/* The client's queue (held): add at the back, take the oldest (or NULL). */
void weft__mpi_enqueue_locked(struct mpi_pool *p, struct mtask *t);
struct mtask *weft__mpi_dequeue_locked(struct mpi_pool *p);
int weft__mpi_send_task_locked(struct mpi_pool *p, struct mtask *t);
size_t weft__mpi_break_locked(struct mpi_pool *p, struct mtask **done);
void weft__mpi_free_task(struct mtask *t);
/* Give back `room` (max_pending), complete the tasks on `done` and free
 * them, then drop the `completing` count the caller took under the lock. */
void weft__mpi_complete_all(struct mpi_pool *p, struct mtask *done, size_t room);
/* As weft__mpi_complete_all for queued tasks being cancelled (shutdown). */
void weft__mpi_cancel_all(struct mpi_pool *p, struct mtask *queued, size_t room);
bool weft__mpi_progress(struct mpi_pool *p, bool try);
void weft__mpi_poll_replies(void *ctx, int phase);
/* Whether this thread is completing futures of p (in a callback's stack). */
bool weft__mpi_completing_here(const struct mpi_pool *p);

#endif
