/* SPDX-License-Identifier: MIT */
/* stream_internal.h — a stream's record, shared by stream.c (making,
 * closing, writing) and stream_read.c (the read calls).
 *
 * A stream is used by one thread, or by the tasks of one loop, so nothing
 * here is atomic: the loop's writable callback runs on the loop's thread
 * too, between the tasks. */
#ifndef WEFT_STREAM_INTERNAL_H
#define WEFT_STREAM_INTERNAL_H

#include "loop.h"
#include "net_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The least free room one recv is given, when the buffer can have it. */
#define WEFT_STREAM_RECV_ROOM ((size_t)16384)

/* Bytes [start, end) of data[capacity] are the ones not taken yet. */
typedef struct weft_stream_buffer {
    char *data;
    size_t start, end, capacity;
} weft_stream_buffer;

struct weft_stream {
    int fd; /* -1 once closed */
    weft_stream_buffer in, out;
    /* The reading side: end of file received (or no more is received:
     * closing), and the status every read returns once set (a
     * set_exception, a lost connection). */
    bool eof;
    int read_failure;
    /* The writing side: the connection's loss (0: not lost; else
     * WEFT_ECONNRESET, WEFT_EPIPE, ...), and where the writer is. */
    int lost;
    bool closing, eof_wanted, eof_sent;
    bool paused;       /* more than high water was buffered, not yet down to low */
    bool send_blocked; /* the last send would have blocked: a writable edge is due */
    /* The loop it is registered with (NULL: none yet, or a thread's), its
     * writable callback there, and whether that callback sends for it
     * (then the buffer goes out in the background). */
    weft_loop *loop;
    weft_fd_owner owner;
    bool background;
    /* A short recv emptied the socket, and the loop's count of readable
     * reports for the fd then (see loop.h's read_events). */
    bool drained;
    unsigned drained_mark;
    size_t limit, high_water, low_water;
    /* weft__stream_cap_reads's caps, nanoseconds (< 0: none). */
    int64_t cap_first_byte, cap_each;
    bool got_byte;
};

/* The caller may use s here: not registered with another loop (and not
 * with any loop if the caller is a plain thread).  WEFT_OK, WEFT_ESTATE. */
int weft__stream_home(const weft_stream *s);

/* In a coroutine: register the fd with the running loop, for good (see
 * stream.c), unless it is already. */
void weft__stream_register(weft_stream *s);

/* Wait for the fd to be ready for events after a call would have
 * blocked, registering it with the running loop first if the caller is a
 * coroutine.  The writes left for this wait are sent first; if that loses
 * the connection, WEFT_OK at once (the caller looks at the stream again).
 * Else weft__net_wait's statuses. */
int weft__stream_wait(weft_stream *s, unsigned events, int64_t deadline);

/* The connection is lost with status: no more reads or writes, the
 * buffer is dropped, the socket closed (waiters wake).  The first loss
 * stays. */
void weft__stream_lose(weft_stream *s, int status);

/* Close the fd (the loop forgets it first): no more is received. */
void weft__stream_close_fd(weft_stream *s);

/* The loop's writable callback (stream_write.c): send the buffer. */
void weft__stream_on_writable(weft_fd_owner *owner);

/* Move a buffer's bytes to its start (no view may be out); make room for
 * n more after them, growing it (doubling, from WEFT_STREAM_RECV_ROOM).
 * Reserve: WEFT_OK, WEFT_ENOMEM (nothing changed). */
void weft__stream_buffer_compact(weft_stream_buffer *b);
int weft__stream_buffer_reserve(weft_stream_buffer *b, size_t n);

/* Give an empty buffer of the spare size (WEFT_STREAM_RECV_ROOM) back to
 * the stream's loop (nothing for another, or off a loop), or take one
 * (false: none spare; b must be empty, unallocated). */
void weft__stream_give_spare(weft_stream *s, weft_stream_buffer *b);
bool weft__stream_take_spare(weft_stream *s, weft_stream_buffer *b);

/* The loop's flush callback, and the same at once: send what writes left
 * for the end of the task's step (see weft_stream_write). */
void weft__stream_on_flush(weft_fd_owner *owner);
void weft__stream_flush_now(weft_stream *s);

/* Wake the tasks waiting to read s (a status or end of file for them). */
void weft__stream_wake_readers(weft_stream *s);

/* stream_read.c's, for stream_until.c.  The deadline of a read call: its
 * timeout's, cut short by the server's cap (weft__stream_cap_reads) when
 * that comes first; WEFT_OK, WEFT_ESTATE (weft__stream_home), WEFT_EINVAL. */
int weft__stream_read_deadline(weft_stream *s, double timeout, int64_t *deadline);

/* Get more into the buffer: WEFT_OK once bytes came or end of file did
 * (s->eof), else the stream's failure, WEFT_ETIMEDOUT, WEFT_ECANCELLED,
 * WEFT_ENOMEM. */
int weft__stream_fill(weft_stream *s, int64_t deadline);

#endif
