/* SPDX-License-Identifier: MIT */
/* mpi_internal.h — what the files of weft-mpi share (layer 10 of
 * docs/architecture.md): the registry of named functions, the messages
 * between the client and a serving rank, MPI's state in this process, and
 * the sends and the idle backoff both sides use.
 *
 * The files, each using only those below it: mpi_pool.c (the executor
 * operations, the progress thread) -> mpi_progress.c (the client's
 * progress: sending, receiving, completing futures, the poller) ->
 * mpi_client.c (the pool's records, the greeting, choosing a rank) -> mpi_start.c (initializing and finalizing MPI, the live pools,
 * weft_mpi_serve_or_run) -> mpi_serve.c (a serving rank) -> mpi_wire.c
 * (messages, sends, backoff) -> mpi_registry.c. */
#ifndef WEFT_MPI_INTERNAL_H
#define WEFT_MPI_INTERNAL_H

#include "list.h"
#include "weft/event.h"
#include "weft/lock.h"
#include "weft/mpi.h"

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the registry (mpi_registry.c) ----------------------------------------- */

enum { FN_BYTES = 1, FN_TASK = 2 };

struct mpi_function {
    char name[WEFT_MPI_NAME_MAX + 1];
    int kind;                /* FN_BYTES or FN_TASK */
    weft_bytes_fn bytes_fn;
    weft_task_fn task_fn;
};

/* The index of a registered function by pointer (kind FN_BYTES or FN_TASK)
 * or by name and kind, or -1.  The registry only grows, so an index stays
 * valid; entries are read under the registry's lock (it may move). */
long weft__mpi_find_bytes(weft_bytes_fn fn);
long weft__mpi_find_task(weft_task_fn fn);
long weft__mpi_find_name(const char *name, int kind);
/* A copy of the registry now (the count, and the entry at i). */
size_t weft__mpi_functions(void);
struct mpi_function weft__mpi_function_at(size_t i);

/* ---- messages (mpi_wire.c) -------------------------------------------------- */

enum {
    TAG_HELLO = 101, /* client -> server: struct wire_hello, then the names */
    TAG_READY,       /* server -> client: struct wire_ready */
    TAG_TASK,        /* client -> server: struct wire_task, then the payload */
    TAG_CANCEL,      /* client -> server: the task's id (uint64_t) */
    TAG_RESULT,      /* server -> client: struct wire_result, then the payload */
    TAG_RELEASE,     /* client -> server: the pool is over (empty) */
    TAG_EXIT,        /* client -> server: end the process (empty) */
};

struct wire_hello {
    uint32_t epoch;      /* the pool's number, echoed in the answer */
    uint32_t nfunctions;
    uint32_t workers;
    uint32_t in_rank;    /* run tasks in the rank itself, no process pool */
    int64_t max_tasks_per_child;
    uint64_t max_memory;
    double task_timeout;
};

struct wire_name { /* one per function, after the hello */
    uint32_t kind;
    char name[WEFT_MPI_NAME_MAX + 1];
};

struct wire_ready {
    uint32_t epoch;                   /* the greeting's */
    int32_t code;                     /* WEFT_OK, or why the rank cannot serve */
    char detail[WEFT_MPI_NAME_MAX + 1]; /* the missing function's name, if any */
};

struct wire_task {
    uint64_t id;    /* the client's slot and generation */
    uint32_t fn;    /* the client's registry index */
    uint32_t kind;  /* FN_BYTES (payload) or FN_TASK (value) */
    uint64_t value; /* a plain task's argument */
};

enum { RESULT_BYTES = 1, RESULT_NO_BYTES, RESULT_VALUE, RESULT_FAILED };

struct wire_result {
    uint64_t id;
    int32_t code;   /* RESULT_FAILED: the status; else 0 */
    uint32_t kind;  /* RESULT_* */
    uint64_t value; /* RESULT_VALUE: the result */
};                  /* then the bytes, or the failure's message */

/* A message in one malloc'd block: the header, then `size` bytes. */
void *weft__mpi_message(const void *header, size_t header_size, const void *payload,
                        size_t size, size_t *total);

/* Sends in flight: each buffer stays until MPI is done with it. */
struct mpi_sends {
    MPI_Request *requests;
    void **buffers;
    size_t n, cap;
};

/* Send buf[0..len) (malloc'd; freed once sent, or here on failure) without
 * waiting.  WEFT_OK; WEFT_ENOMEM; WEFT_EBROKEN (MPI reported an error). */
int weft__mpi_send(struct mpi_sends *s, MPI_Comm comm, int dest, int tag, void *buf, size_t len);
/* Free what has been sent; WEFT_OK or WEFT_EBROKEN. */
int weft__mpi_sends_progress(struct mpi_sends *s);
/* Wait until every send is done and free all; when broken, leave them
 * (MPI may still read a buffer, and a wait may never end). */
void weft__mpi_sends_finish(struct mpi_sends *s, bool broken);

/* Receive one message from `source` (MPI_ANY_SOURCE) with `tag`
 * (MPI_ANY_TAG) if one has arrived: WEFT_OK with *got true, and *buf
 * (malloc'd, at least 1 byte), *len, *from and *tag_out set; WEFT_OK with
 * *got false when none is there; WEFT_ENOMEM; WEFT_EBROKEN. */
struct mpi_message {
    void *buf;
    size_t len;
    int from, tag;
};
int weft__mpi_receive(MPI_Comm comm, int source, int tag, struct mpi_message *m, bool *got);

/* Blocking forms for the greeting, which nothing else runs beside: send
 * and wait; wait up to `timeout` seconds (< 0: forever) for one message. */
int weft__mpi_send_now(MPI_Comm comm, int dest, int tag, const void *buf, size_t len);
int weft__mpi_receive_wait(MPI_Comm comm, int source, int tag, double timeout,
                           struct mpi_message *m);

/* ---- idle backoff: what either side does when it found nothing to do ------ */

/* Spin (a probe costs about 0.1 us) for a while after the last event, then
 * nap on `wake` for growing periods up to the longest nap: an idle rank
 * costs almost nothing, a busy one answers within microseconds. */
struct mpi_backoff {
    int64_t idle_since_ns; /* 0: something just happened */
    double nap;            /* the next nap, seconds */
};
void weft__mpi_backoff_reset(struct mpi_backoff *b);
/* Called when a look found nothing: spins, or naps on wake (which an
 * event may set to end the nap early); returns whether it napped. */
bool weft__mpi_backoff_idle(struct mpi_backoff *b, weft_event *wake);
/* Whether the backoff is still in its spinning phase. */
bool weft__mpi_backoff_spinning(const struct mpi_backoff *b);

int64_t weft__mpi_now_ns(void);

/* ---- MPI in this process (mpi_start.c) -------------------------------------- */

/* Every MPI call weft makes is made holding this lock, so MPI needs only
 * MPI_THREAD_SERIALIZED. */
extern weft_lock weft__mpi_lock;

/* Initialize MPI if nobody has (weft_mpi_pool_new without
 * weft_mpi_serve_or_run): WEFT_OK, WEFT_ESTATE (finalized), WEFT_EBROKEN. */
int weft__mpi_ensure_init(void);

/* The job's ranks for a pool: the duplicate of MPI_COMM_WORLD weft made,
 * taken by one pool at a time.  WEFT_OK; WEFT_ESTATE (in use, or this is a
 * serving rank); WEFT_EINVAL (a job of one rank). */
int weft__mpi_take_world(MPI_Comm *comm);
void weft__mpi_give_world(void);

/* Around making a pool: WEFT_ESTATE once finalizing began; finalizing
 * waits for the pools being made. */
int weft__mpi_making_begin(void);
void weft__mpi_making_end(void);

/* Whether the current thread is a thread of an MPI pool (its progress
 * thread), where finalizing cannot wait for the pools. */
extern _Thread_local bool weft__mpi_on_pool_thread;

/* The live pools, each shut down (waiting for its tasks) by its own
 * function before MPI is finalized. */
struct mpi_live {
    weft_list_node link;
    void (*shutdown)(struct mpi_live *self);
};
/* Add a pool (WEFT_ESTATE once finalizing began) / remove it (again:
 * nothing); with wait, first wait until weft_mpi_finalize is done with it
 * (a pool being freed). */
int weft__mpi_live_add(struct mpi_live *l);
void weft__mpi_live_remove(struct mpi_live *l, bool wait);

/* ---- a serving rank (mpi_serve.c) ------------------------------------------ */

/* Serve the client `client` of comm: one pool after another until told to
 * exit (world ranks), or one pool only (spawned workers).  Returns true
 * when done (the caller finalizes MPI and exits), false when it cannot go
 * on (an MPI call failed, or memory ran out where an answer would be
 * lost: the caller ends the job). */
bool weft__mpi_serve(MPI_Comm comm, int client, bool one_pool);

#endif
