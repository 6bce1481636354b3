/* SPDX-License-Identifier: MIT */
/* stream_read.c — a stream's read calls (asyncio's StreamReader).
 *
 * Each call takes what it needs from the buffer, and while that is not
 * enough receives more: one recv per wake-up, straight into the buffer's
 * free room.  The fd is registered edge-triggered (stream.c): only a
 * change wakes a waiter, so a call always tries recv first and waits only
 * after it would block (one exception: weft__stream_fill's drained socket).
 *
 * The views readline and readuntil hand back point into the buffer and
 * stay valid until the next read call: so the buffer is compacted or
 * grown only inside a read call, when a recv needs room. */
#include "stream_internal.h"

#include "weft/status.h"

#include <stdlib.h>
#include <string.h>

static size_t buffered(const weft_stream *s) { return s->in.end - s->in.start; }

static const char *unread(const weft_stream *s)
{
    return s->in.data ? s->in.data + s->in.start : "";
}

/* Take n buffered bytes (the view stays readable until the next call). */
static void take(weft_stream *s, size_t n) { s->in.start += n; }

int weft__stream_read_deadline(weft_stream *s, double timeout, int64_t *deadline)
{
    int rc = weft__stream_home(s);
    if (rc == WEFT_OK)
        rc = weft__net_deadline(timeout, deadline);
    int64_t cap = s->got_byte ? s->cap_each : s->cap_first_byte;
    if (rc == WEFT_OK && cap >= 0) {
        int64_t capped = weft__net_cap_deadline(cap);
        if (capped < *deadline)
            *deadline = capped;
    }
    return rc;
}

/* Free room after the data for a recv: compact when the room is short of
 * WEFT_STREAM_RECV_ROOM (no view is out during a read call), and grow
 * when even then it is short of a quarter of it (a partial line of a few
 * bytes does not double the buffer).  WEFT_OK, WEFT_ENOMEM. */
static int make_room(weft_stream *s)
{
    weft_stream_buffer *b = &s->in;
    if (b->start == b->end)
        b->start = b->end = 0;
    if (b->capacity - b->end >= WEFT_STREAM_RECV_ROOM)
        return WEFT_OK;
    if (!b->capacity && weft__stream_take_spare(s, b))
        return WEFT_OK;
    weft__stream_buffer_compact(b);
    if (b->capacity && b->capacity - b->end >= WEFT_STREAM_RECV_ROOM / 4)
        return WEFT_OK;
    return weft__stream_buffer_reserve(b, WEFT_STREAM_RECV_ROOM);
}

/* The socket had nothing more after this recv (it would block, or gave
 * less than its room): remember the loop's count of readable reports. */
static void note_drained(weft_stream *s, bool drained)
{
    s->drained = drained && s->background;
    if (s->drained)
        s->drained_mark = s->loop->fds[s->fd].read_events;
}

/* Whether the recv can be skipped and the wait begun at once.  After a
 * recv that drained the socket, any byte that arrives raises a new
 * readable edge.  If the loop has reported none for the fd since (its
 * count is unchanged), that edge is still to come and will wake the
 * wait, so the recv would only say "would block": skipping it saves one
 * system call per request on a keep-alive connection.  If the loop did
 * report one meanwhile (while the task was away and nobody waited), that
 * report is gone: only a recv can tell, so it is made.  So it is once the
 * peer hung up: its end of file may have come with the data of the last
 * edge, and no edge will tell of it again.  Only with the
 * stream's loop watching: a thread's poll sees the state, not changes. */
static bool recv_skippable(const weft_stream *s)
{
    const weft_loop_fd *e = s->drained && s->background ? &s->loop->fds[s->fd] : NULL;
    return e && weft__in_coroutine() && e->read_events == s->drained_mark && !e->hung_up;
}

/* One recv into the free room.  WEFT_OK (bytes came, or end of file:
 * s->eof), WEFT_PF_WOULD_BLOCK, or the failure (the connection lost). */
static int receive(weft_stream *s)
{
    int rc = make_room(s);
    if (rc != WEFT_OK)
        return rc;
    size_t room = s->in.capacity - s->in.end, got = 0;
    rc = weft__pf_recv(s->fd, s->in.data + s->in.end, room, &got);
    if (rc == WEFT_PF_WOULD_BLOCK) {
        note_drained(s, true);
        return rc;
    }
    if (rc != WEFT_OK) {
        weft__stream_lose(s, rc);
        return rc;
    }
    if (got == 0) {
        s->eof = true;
        return WEFT_OK;
    }
    s->in.end += got;
    s->got_byte = true;
    note_drained(s, got < room);
    return WEFT_OK;
}

int weft__stream_fill(weft_stream *s, int64_t deadline)
{
    for (;;) {
        if (s->read_failure)
            return s->read_failure;
        if (s->eof)
            return WEFT_OK;
        if (!recv_skippable(s)) {
            int rc = receive(s);
            if (rc != WEFT_PF_WOULD_BLOCK)
                return rc;
        }
        weft__stream_give_spare(s, &s->in);
        int rc = weft__stream_wait(s, WEFT_PF_READ, deadline);
        if (rc != WEFT_OK)
            return rc;
        s->drained = false; /* woken: something changed, look */
    }
}

/* ---- the calls ---------------------------------------------------------- */

int weft_stream_read(weft_stream *stream, void *buf, size_t n, size_t *got, double timeout)
{
    int64_t deadline;
    if (got)
        *got = 0;
    if (!stream || !got || (!buf && n))
        return WEFT_EINVAL;
    int rc = weft__stream_read_deadline(stream, timeout, &deadline);
    while (rc == WEFT_OK && !stream->read_failure) {
        size_t k = buffered(stream) < n ? buffered(stream) : n;
        if (k || stream->eof || n == 0) {
            if (k)
                memcpy(buf, unread(stream), k);
            take(stream, k);
            *got = k;
            return WEFT_OK;
        }
        rc = weft__stream_fill(stream, deadline);
    }
    return rc != WEFT_OK ? rc : stream->read_failure;
}

/* read_all's result: the buffer itself, handed over (it moves to the
 * front first); a 1-byte allocation when empty, as *data is never NULL. */
static int hand_over(weft_stream *s, void **data, size_t *len)
{
    weft_stream_buffer *b = &s->in;
    size_t n = b->end - b->start;
    if (n == 0) {
        *data = malloc(1);
        if (!*data)
            return WEFT_ENOMEM;
        b->start = b->end = 0;
        return WEFT_OK;
    }
    memmove(b->data, b->data + b->start, n);
    *data = b->data;
    *len = n;
    memset(b, 0, sizeof *b);
    return WEFT_OK;
}

int weft_stream_read_all(weft_stream *stream, void **data, size_t *len, double timeout)
{
    int64_t deadline;
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!stream || !data || !len)
        return WEFT_EINVAL;
    int rc = weft__stream_read_deadline(stream, timeout, &deadline);
    while (rc == WEFT_OK && !stream->read_failure) {
        if (stream->eof)
            return hand_over(stream, data, len);
        rc = weft__stream_fill(stream, deadline);
    }
    return rc != WEFT_OK ? rc : stream->read_failure;
}

int weft_stream_readexactly(weft_stream *stream, void *buf, size_t n, size_t *got,
                            double timeout)
{
    int64_t deadline;
    if (got)
        *got = 0;
    if (!stream || !got || (!buf && n))
        return WEFT_EINVAL;
    int rc = weft__stream_read_deadline(stream, timeout, &deadline);
    while (rc == WEFT_OK && !stream->read_failure) {
        size_t k = buffered(stream);
        if (k >= n || stream->eof) {
            k = k < n ? k : n;
            if (k)
                memcpy(buf, unread(stream), k);
            take(stream, k);
            *got = k;
            return k == n ? WEFT_OK : WEFT_EINCOMPLETE;
        }
        rc = weft__stream_fill(stream, deadline);
    }
    return rc != WEFT_OK ? rc : stream->read_failure;
}

bool weft_stream_at_eof(const weft_stream *stream)
{
    return stream && stream->eof && buffered(stream) == 0;
}

int weft_stream_set_exception(weft_stream *stream, int status)
{
    if (!stream || status == WEFT_OK)
        return WEFT_EINVAL;
    int rc = weft__stream_home(stream);
    if (rc != WEFT_OK)
        return rc;
    stream->read_failure = status;
    weft__stream_wake_readers(stream);
    return WEFT_OK;
}
