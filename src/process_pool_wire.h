/* SPDX-License-Identifier: MIT */
/* process_pool_wire.h — the wire format between the process pool's parent
 * and each of its workers: the messages and tags on their socket, the page
 * of memory they share, and the rules both sides apply to the same reply.
 * The bottom of the process pool's files: it knows neither side. */
#ifndef WEFT_PROCESS_POOL_WIRE_H
#define WEFT_PROCESS_POOL_WIRE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { TASK_PLAIN = 1, TASK_BYTES = 2 };
enum { REPLY_RESULT = 1, REPLY_FAILED = 2, REPLY_INIT_FAILED = 3 };

/* On the socket, each message starts with a one-byte tag: a doorbell is the
 * tag alone, sent without waiting (a full socket already holds doorbells
 * enough: dropping one loses nothing); a message is the tag, its struct,
 * then its payload. */
enum { TAG_DOORBELL = 'd', TAG_MESSAGE = 'm' };

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

/* Send a message: its tag, msg (size bytes), then data_size bytes of
 * payload.  WEFT_OK, or the status of the failed write (the other end is
 * gone). */
int weft__ppool_send_message(int channel, const void *msg, size_t size, const void *data,
                            size_t data_size);

/* Announce what was just written to the shared page: bump *seq, then ring
 * the other side's doorbell unless it is spinning (*peer_spinning).  The
 * order pairs with the spinner's "stop spinning, then look once more", so
 * that no announcement goes unseen. */
void weft__ppool_announce(_Atomic uint32_t *seq, _Atomic uint32_t *peer_spinning, int channel);

/* Read a tag; WEFT_ESTATE when the other end is gone. */
int weft__ppool_read_tag(int channel, unsigned char *tag);

/* A capped worker whose task failed with WEFT_ENOMEM ran into its cap (the
 * cap is what makes malloc return NULL there): the worker and its parent
 * both apply this rule to the same reply, so the worker exits after it and
 * the parent gives it no further task.  max_memory 0: no cap. */
bool weft__ppool_fails_over_cap(size_t max_memory, int code);

#endif
