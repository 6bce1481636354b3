/* SPDX-License-Identifier: MIT */
/* stream_write.c — a stream's writing side: write, drain, write_eof,
 * close, wait_closed, and the background send.
 *
 * In a thread, write sends at once what the socket takes when nothing is
 * queued, and queues the rest.  In a coroutine whose loop holds the
 * stream, write only queues, and the queue goes out in one send when the
 * task next waits on the stream (its next read, a drain) or, at the
 * latest, before the loop next looks at its fds: a reply written in two
 * pieces (a head, a body) is one send and one packet, not two (the HTTP
 * example: two sends per request before).  Then, in a coroutine, the loop calls the stream's
 * writable callback (on its own thread) each time the fd turns writable,
 * and the callback sends the queue: drain only waits.  That edge is never
 * lost, since the callback hears every one, and one is always due while
 * bytes are queued: they are queued only after a send that would block
 * or took part (the socket is full).  In a plain thread there is no
 * callback: write tries again at each call, drain and wait_closed send
 * everything, waiting (poll) for room between sends. */
#include "stream_internal.h"

#include "weft/status.h"

#include <stdlib.h>
#include <string.h>

static size_t queued(const weft_stream *s) { return s->out.end - s->out.start; }

/* Back-pressure's marks: paused above high water, resumed at low. */
static void update_pause(weft_stream *s)
{
    if (queued(s) > s->high_water)
        s->paused = true;
    else if (queued(s) <= s->low_water)
        s->paused = false;
}

/* The queue is empty: what waited for that happens (a closing stream's
 * socket closes; write_eof's FIN goes). */
static void queue_emptied(weft_stream *s)
{
    s->out.start = s->out.end = 0;
    weft__stream_give_spare(s, &s->out);
    s->send_blocked = false; /* all went: the next write tries at once */
    if (s->closing) {
        weft__stream_close_fd(s);
    } else if (s->eof_wanted && !s->eof_sent && s->fd >= 0) {
        s->eof_sent = true;
        weft__pf_sock_shutdown_write(s->fd); /* a peer gone: the next call says so */
    }
}

/* Send the queue until it is empty or the socket is full (then
 * send_blocked).  WEFT_OK, or the status of the send that lost the
 * connection. */
static int flush(weft_stream *s)
{
    weft_stream_buffer *b = &s->out;
    while (b->start < b->end && s->fd >= 0) {
        size_t sent = 0;
        int rc = weft__pf_send(s->fd, b->data + b->start, b->end - b->start, &sent);
        if (rc == WEFT_PF_WOULD_BLOCK) {
            s->send_blocked = true;
            break;
        }
        if (rc != WEFT_OK) {
            weft__stream_lose(s, rc);
            return rc;
        }
        b->start += sent;
        if (b->start < b->end) { /* took part: full, the next try would block */
            s->send_blocked = true;
            break;
        }
    }
    if (b->start == b->end)
        queue_emptied(s);
    update_pause(s);
    return WEFT_OK;
}

void weft__stream_on_flush(weft_fd_owner *owner)
{
    weft_stream *s = (weft_stream *)(void *)((char *)owner - offsetof(weft_stream, owner));
    if (queued(s) && !s->send_blocked)
        flush(s);
}

void weft__stream_flush_now(weft_stream *s)
{
    if (!weft__list_linked(&s->owner.pending))
        return;
    weft__loop_flush_cancel(&s->owner);
    weft__stream_on_flush(&s->owner);
}

void weft__stream_on_writable(weft_fd_owner *owner)
{
    weft_stream *s = (weft_stream *)(void *)((char *)owner - offsetof(weft_stream, owner));
    s->send_blocked = false;
    if (queued(s))
        flush(s);
}

/* Bytes are queued and more is to happen once they are sent (close,
 * write_eof): in a coroutine the background send does it (a queue
 * written from a thread gets one now); else try now, and drain or
 * wait_closed finish. */
static void send_queue(weft_stream *s)
{
    weft__stream_register(s);
    if (!s->background && !s->send_blocked)
        flush(s);
}

/* Append n bytes to the queue, making room (compacting first).  WEFT_OK,
 * WEFT_ENOMEM. */
static int enqueue(weft_stream *s, weft_stream_buffer *b, const char *data, size_t n)
{
    if (!b->capacity && n <= WEFT_STREAM_RECV_ROOM)
        weft__stream_take_spare(s, b); /* a hot one, from the loop (else made below) */
    if (b->capacity - b->end < n)
        weft__stream_buffer_compact(b);
    int rc = weft__stream_buffer_reserve(b, n);
    if (rc != WEFT_OK)
        return rc;
    memcpy(b->data + b->end, data, n);
    b->end += n;
    return WEFT_OK;
}

/* Why s cannot be written now (WEFT_OK: it can). */
static int write_refused(const weft_stream *s)
{
    if (s->lost)
        return s->lost;
    if (s->closing || s->fd < 0)
        return WEFT_ECONNRESET;
    return s->eof_wanted ? WEFT_ESTATE : WEFT_OK;
}

/* With nothing queued: send at once, and say how much went. */
static int send_now(weft_stream *s, const char *data, size_t n, size_t *sent)
{
    *sent = 0;
    int rc = weft__pf_send(s->fd, data, n, sent);
    if (rc == WEFT_PF_WOULD_BLOCK) {
        *sent = 0;
        s->send_blocked = true;
        return WEFT_OK;
    }
    if (rc != WEFT_OK) {
        weft__stream_lose(s, rc);
        return rc;
    }
    if (*sent < n)
        s->send_blocked = true;
    return WEFT_OK;
}

int weft_stream_write(weft_stream *stream, const void *data, size_t n)
{
    if (!stream || (!data && n))
        return WEFT_EINVAL;
    int rc = weft__stream_home(stream);
    if (rc == WEFT_OK)
        rc = write_refused(stream);
    if (rc != WEFT_OK || n == 0)
        return rc;
    size_t sent = 0;
    bool was_empty = queued(stream) == 0;
    if (stream->background && !stream->send_blocked) { /* the loop's: send later */
        if ((rc = enqueue(stream, &stream->out, data, n)) != WEFT_OK)
            return rc;
        weft__loop_flush_later(stream->loop, &stream->owner);
        update_pause(stream);
        return WEFT_OK;
    }
    if (was_empty && (rc = send_now(stream, data, n, &sent)) != WEFT_OK)
        return rc;
    if (sent == n)
        return WEFT_OK;
    if ((rc = enqueue(stream, &stream->out, (const char *)data + sent, n - sent)) != WEFT_OK) {
        /* Part of it went and the rest cannot follow: the byte stream
         * is broken, so is the connection. */
        if (sent)
            weft__stream_lose(stream, rc);
        return rc;
    }
    weft__stream_register(stream); /* in a coroutine: the background send */
    if (!stream->background && !was_empty)
        return flush(stream);
    update_pause(stream);
    return WEFT_OK;
}

size_t weft_stream_write_buffer_size(const weft_stream *stream)
{
    return stream ? queued(stream) : 0;
}

/* What drain returns now, or WEFT_PF_WOULD_BLOCK to go on waiting: with
 * the background send, until the queue is down to the low mark (if it
 * passed the high one); without it, until it is all sent. */
static int drain_state(const weft_stream *s)
{
    if (s->read_failure)
        return s->read_failure; /* as asyncio: the reader's exception first */
    if (s->lost)
        return s->lost;
    if (s->closing || s->fd < 0)
        return WEFT_ECONNRESET;
    bool done = s->background ? !s->paused : queued(s) == 0;
    return done ? WEFT_OK : WEFT_PF_WOULD_BLOCK;
}

/* Wait for room after a send would have blocked.  A poll (a thread, or
 * an fd the loop could not take) reports the state, so try again after
 * it; the background send clears send_blocked itself. */
static int wait_room(weft_stream *s, int64_t deadline)
{
    int rc = weft__stream_wait(s, WEFT_PF_WRITE, deadline);
    if (rc == WEFT_OK && !s->background)
        s->send_blocked = false;
    return rc;
}

int weft_stream_drain(weft_stream *stream, double timeout)
{
    int64_t deadline;
    if (!stream)
        return WEFT_EINVAL;
    int rc = weft__stream_home(stream);
    if (rc == WEFT_OK)
        rc = weft__net_deadline(timeout, &deadline);
    if (rc != WEFT_OK)
        return rc;
    for (;;) {
        if ((rc = drain_state(stream)) != WEFT_PF_WOULD_BLOCK)
            return rc;
        /* Send first: wait only once a send would block (edges). */
        if (!stream->send_blocked) {
            flush(stream);
            continue;
        }
        if ((rc = wait_room(stream, deadline)) != WEFT_OK)
            return rc;
    }
}

int weft_stream_write_eof(weft_stream *stream)
{
    if (!stream)
        return WEFT_EINVAL;
    int rc = weft__stream_home(stream);
    if (rc != WEFT_OK)
        return rc;
    if (stream->closing || stream->fd < 0)
        return WEFT_ESTATE;
    stream->eof_wanted = true;
    if (!queued(stream))
        queue_emptied(stream);
    else
        send_queue(stream);
    return WEFT_OK;
}

void weft_stream_close(weft_stream *stream)
{
    if (!stream || stream->closing || weft__stream_home(stream) != WEFT_OK)
        return;
    stream->closing = true;
    /* asyncio stops reading at close: readers get what is buffered, then
     * end of file. */
    stream->eof = true;
    weft__stream_wake_readers(stream);
    if (!queued(stream))
        queue_emptied(stream);
    else
        send_queue(stream);
}

bool weft_stream_is_closing(const weft_stream *stream)
{
    return stream && (stream->closing || stream->lost || stream->fd < 0);
}

/* A closing stream whose queue did not go in time: drop it, close. */
static int give_up_closing(weft_stream *s)
{
    s->out.start = s->out.end = 0;
    s->paused = false;
    weft__stream_close_fd(s);
    return WEFT_ETIMEDOUT;
}

int weft_stream_wait_closed(weft_stream *stream, double timeout)
{
    int64_t deadline;
    if (!stream)
        return WEFT_EINVAL;
    int rc = weft__stream_home(stream);
    if (rc == WEFT_OK && !stream->closing && stream->fd >= 0)
        rc = WEFT_ESTATE;
    if (rc == WEFT_OK)
        rc = weft__net_deadline(timeout, &deadline);
    while (rc == WEFT_OK && stream->fd >= 0) {
        if (!stream->send_blocked) {
            flush(stream); /* closes the fd once the queue is out, or lost */
            continue;
        }
        rc = wait_room(stream, deadline);
        if (rc == WEFT_ETIMEDOUT)
            return give_up_closing(stream);
    }
    return rc;
}
