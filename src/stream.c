/* SPDX-License-Identifier: MIT */
/* stream.c — a stream's life: making one (over an fd, or by connecting),
 * its registration with a loop, its loss, and freeing it.  The read calls
 * are in stream_read.c, the writing side in stream_write.c.
 *
 * Registration.  In a coroutine the stream's fd is registered with the
 * running loop once, at its first wait (or its first buffered write),
 * edge-triggered and kept for the stream's life: no system call per wait.
 * The stream is the fd's owner, so the loop tells it each time the fd
 * turns writable and the stream sends its buffer in the background
 * (stream_write.c).  From then on the stream belongs to that loop.  In a
 * plain thread nothing is registered: waits poll the fd. */
#include "stream_internal.h"

#include "weft/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT ((size_t)65536)
#define DEFAULT_HIGH_WATER ((size_t)65536)
#define DEFAULT_LOW_WATER ((size_t)16384)
#define MAX_ADDRESSES 16

int weft__stream_home(const weft_stream *s)
{
    weft_loop *here = weft__loop_here();
    if (!s->loop)
        return WEFT_OK;
    if (s->loop != here)
        return WEFT_ESTATE;
    /* Its loop may have ended and a later one been given the same memory:
     * only its own loop keeps the fd for it (until the fd closes). */
    if (s->fd >= 0 &&
        ((size_t)s->fd >= here->fd_capacity || here->fds[s->fd].owner != &s->owner))
        return WEFT_ESTATE;
    return WEFT_OK;
}

/* Register the fd with the running loop, for good.  A failure (an fd the
 * poller refuses, no memory) leaves it unregistered: waits then poll, and
 * the stream's own calls do all the sending. */
void weft__stream_register(weft_stream *s)
{
    weft_loop *loop = weft__loop_here();
    if (s->loop || !loop || s->fd < 0 || !weft__in_coroutine())
        return;
    if (weft__loop_fd_keep(loop, s->fd, &s->owner) != WEFT_OK)
        return;
    s->loop = loop;
    s->background = true;
}

int weft__stream_wait(weft_stream *s, unsigned events, int64_t deadline)
{
    weft__stream_flush_now(s); /* a reply written just before: out first */
    if (s->fd < 0)
        return WEFT_OK; /* that send lost the connection: the caller sees it, no wait */
    weft__stream_register(s);
    return weft__net_wait(s->fd, events, deadline);
}

/* The loop forgets the fd (its waiters wake and find it closed), then it
 * closes.  Unregistered, the running loop may still have seen it (a
 * connect's wait): that one forgets it. */
void weft__stream_close_fd(weft_stream *s)
{
    if (s->fd < 0)
        return;
    weft__loop_fd_forget(s->loop ? s->loop : weft__loop_here(), s->fd);
    weft__pf_sock_close(s->fd);
    s->fd = -1;
    s->background = false;
    s->eof = true; /* nothing more will be received */
}

void weft__stream_lose(weft_stream *s, int status)
{
    if (!s->lost)
        s->lost = status;
    if (s->read_failure == WEFT_OK)
        s->read_failure = status;
    s->out.start = s->out.end = 0;
    s->paused = false;
    weft__stream_close_fd(s);
}

void weft__stream_wake_readers(weft_stream *s)
{
    /* As if the poller had reported the fd readable: the readers waiting
     * on it wake and look at the stream again. */
    if (s->loop && s->fd >= 0)
        weft__loop_fd_ready(s->fd, WEFT_PF_READ, s->loop);
}

/* ---- the loop's spare buffers -------------------------------------------
 *
 * A stream about to wait for data with nothing buffered gives its read
 * buffer back to its loop, and takes one again when data comes; its write
 * queue does the same once sent.  So an idle connection holds no buffer,
 * and the busy ones of a round share a few, hot in the cache (taken last
 * in, first out): at 10,000 keep-alive connections each had cold buffers
 * of its own (W12's peak RSS was 154 MB, and the copies into them missed
 * the cache). */
#define SPARE_BUFFERS 64

typedef struct spare_buffers {
    size_t count;
    char *buffer[SPARE_BUFFERS];
} spare_buffers;

static void free_spares(void *cache)
{
    spare_buffers *c = cache;
    for (size_t i = 0; i < c->count; i++)
        free(c->buffer[i]);
    free(c);
}

void weft__stream_give_spare(weft_stream *s, weft_stream_buffer *b)
{
    if (!s->loop || b->start != b->end || b->capacity != WEFT_STREAM_RECV_ROOM)
        return;
    if (!s->loop->net_cache && (s->loop->net_cache = calloc(1, sizeof(spare_buffers))))
        s->loop->net_cache_free = free_spares;
    spare_buffers *c = s->loop->net_cache;
    if (c && c->count < SPARE_BUFFERS)
        c->buffer[c->count++] = b->data;
    else
        free(b->data); /* enough spares: an idle connection still holds none */
    b->data = NULL;
    b->capacity = b->start = b->end = 0;
}

bool weft__stream_take_spare(weft_stream *s, weft_stream_buffer *b)
{
    spare_buffers *c = s->loop ? s->loop->net_cache : NULL;
    if (!c || !c->count)
        return false;
    b->data = c->buffer[--c->count];
    b->capacity = WEFT_STREAM_RECV_ROOM;
    b->start = b->end = 0;
    return true;
}

void weft__stream_buffer_compact(weft_stream_buffer *b)
{
    if (b->start == 0)
        return;
    memmove(b->data, b->data + b->start, b->end - b->start);
    b->end -= b->start;
    b->start = 0;
}

int weft__stream_buffer_reserve(weft_stream_buffer *b, size_t n)
{
    if (b->capacity - b->end >= n)
        return WEFT_OK;
    if (n > SIZE_MAX / 2 - b->end)
        return WEFT_ENOMEM;
    size_t capacity = b->capacity ? b->capacity : WEFT_STREAM_RECV_ROOM;
    while (capacity - b->end < n)
        capacity *= 2;
    char *grown = realloc(b->data, capacity);
    if (!grown)
        return WEFT_ENOMEM;
    b->data = grown;
    b->capacity = capacity;
    return WEFT_OK;
}

/* ---- making -------------------------------------------------------------- */

/* The options with their defaults filled in: WEFT_OK, or WEFT_EINVAL for
 * water marks the wrong way round. */
static int resolve_options(const weft_stream_options *o, weft_stream_options *out)
{
    weft_stream_options given = WEFT_STREAM_OPTIONS_INIT;
    if (o)
        given = *o;
    out->limit = given.limit ? given.limit : DEFAULT_LIMIT;
    if (!given.high_water && !given.low_water) {
        out->high_water = DEFAULT_HIGH_WATER;
        out->low_water = DEFAULT_LOW_WATER;
    } else if (!given.high_water) {
        out->low_water = given.low_water;
        out->high_water = given.low_water > SIZE_MAX / 4 ? SIZE_MAX : 4 * given.low_water;
    } else {
        out->high_water = given.high_water;
        out->low_water = given.low_water ? given.low_water : given.high_water / 4;
    }
    return out->low_water <= out->high_water ? WEFT_OK : WEFT_EINVAL;
}

int weft__stream_check_options(const weft_stream_options *options)
{
    weft_stream_options resolved;
    return resolve_options(options, &resolved);
}

int weft_stream_from_fd(int fd, const weft_stream_options *options, weft_stream **stream)
{
    weft_stream_options o;
    if (stream)
        *stream = NULL;
    if (fd < 0)
        return WEFT_EINVAL;
    int rc = stream ? resolve_options(options, &o) : WEFT_EINVAL;
    /* The accepted and connected sockets weft makes are non-blocking
     * already: one fcntl to see it, three to set it otherwise. */
    if (rc == WEFT_OK && !weft__pf_is_nonblocking(fd))
        rc = weft__pf_sock_nonblocking(fd);
    weft_stream *s = rc == WEFT_OK ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        weft__sock_close(fd); /* the stream owned it, even though it failed */
        return rc == WEFT_OK ? WEFT_ENOMEM : rc;
    }
    weft__pf_sock_nodelay(fd); /* fails harmlessly on a Unix socket */
    s->fd = fd;
    s->limit = o.limit;
    s->high_water = o.high_water;
    s->low_water = o.low_water;
    s->cap_first_byte = s->cap_each = -1;
    s->owner.writable = weft__stream_on_writable;
    s->owner.flush = weft__stream_on_flush;
    weft__list_node_init(&s->owner.pending);
    *stream = s;
    return WEFT_OK;
}

void weft_stream_free(weft_stream *stream)
{
    if (!stream)
        return;
    /* Freed from elsewhere than its loop, the loop cannot be told (it may
     * be gone): the fd is closed all the same. */
    if (weft__stream_home(stream) != WEFT_OK)
        stream->loop = NULL;
    else
        weft__stream_flush_now(stream); /* the last writes: what the socket takes now */
    weft__loop_flush_cancel(&stream->owner);
    weft__stream_close_fd(stream);
    free(stream->in.data);
    free(stream->out.data);
    free(stream);
}

/* ---- connecting ---------------------------------------------------------- */

/* Connect a new socket to addr within the deadline: WEFT_OK with *fd. */
static int connect_one(const weft_address *addr, int64_t deadline, int *fd)
{
    int rc = weft__pf_sock_open(addr->storage.ss_family, SOCK_STREAM, fd);
    if (rc != WEFT_OK)
        return rc;
    rc = weft__sock_connect_until(*fd, (const struct sockaddr *)&addr->storage, addr->len,
                                  deadline);
    if (rc != WEFT_OK) {
        weft__sock_close(*fd);
        *fd = -1;
    }
    return rc;
}

/* Each address in turn until one connects; the last failure if none
 * does.  A timeout or a cancellation ends the attempts: they share the
 * deadline, and a cancelled task wants no more. */
static int connect_any(const weft_address *addrs, size_t count, int64_t deadline, int *fd)
{
    int rc = WEFT_ECONNREFUSED;
    for (size_t i = 0; i < count; i++) {
        rc = connect_one(&addrs[i], deadline, fd);
        if (rc == WEFT_OK || rc == WEFT_ETIMEDOUT || rc == WEFT_ECANCELLED)
            break;
    }
    return rc;
}

/* Check what every connecting call takes: WEFT_OK with the deadline. */
static int start_connect(const weft_stream_options *options, double timeout,
                         weft_stream **stream, int64_t *deadline)
{
    weft_stream_options o;
    if (!stream)
        return WEFT_EINVAL;
    *stream = NULL;
    int rc = resolve_options(options, &o);
    return rc != WEFT_OK ? rc : weft__net_deadline(timeout, deadline);
}

int weft_open_connection(const char *host, const char *port, const weft_stream_options *options,
                         double timeout, weft_stream **stream)
{
    int64_t deadline;
    int rc = start_connect(options, timeout, stream, &deadline);
    if (rc != WEFT_OK || !port)
        return rc != WEFT_OK ? rc : WEFT_EINVAL;
    weft_address *addrs = malloc(MAX_ADDRESSES * sizeof *addrs);
    if (!addrs)
        return WEFT_ENOMEM;
    size_t count = 0;
    int fd = -1;
    rc = weft__getaddrinfo_until(host, port, AF_UNSPEC, SOCK_STREAM, false, addrs,
                                 MAX_ADDRESSES, &count, deadline);
    if (rc == WEFT_OK)
        rc = connect_any(addrs, count, deadline, &fd);
    free(addrs);
    return rc != WEFT_OK ? rc : weft_stream_from_fd(fd, options, stream);
}

int weft_open_unix_connection(const char *path, const weft_stream_options *options,
                              double timeout, weft_stream **stream)
{
    int64_t deadline;
    weft_address addr;
    int rc = start_connect(options, timeout, stream, &deadline);
    if (rc != WEFT_OK || !path)
        return rc != WEFT_OK ? rc : WEFT_EINVAL;
    int fd = -1;
    rc = weft__pf_unix_address(path, &addr);
    if (rc == WEFT_OK)
        rc = connect_one(&addr, deadline, &fd);
    return rc != WEFT_OK ? rc : weft_stream_from_fd(fd, options, stream);
}

/* ---- what it is ---------------------------------------------------------- */

int weft_stream_fd(const weft_stream *stream) { return stream ? stream->fd : -1; }

static int name_of(const weft_stream *s, bool peer, weft_address *address)
{
    if (!s || !address)
        return WEFT_EINVAL;
    if (s->fd < 0)
        return WEFT_EOS;
    address->len = sizeof address->storage;
    return weft__pf_sockname(s->fd, peer, (struct sockaddr *)&address->storage, &address->len);
}

int weft_stream_peername(const weft_stream *stream, weft_address *address)
{
    return name_of(stream, true, address);
}

int weft_stream_sockname(const weft_stream *stream, weft_address *address)
{
    return name_of(stream, false, address);
}

/* ---- the server's hooks ------------------------------------------------- */

/* A cap in seconds as nanoseconds; -1 for none (negative, NaN, infinite,
 * or past 30 years). */
static int64_t cap_ns(double seconds)
{
    if (!(seconds >= 0) || seconds > 1e9)
        return -1;
    return (int64_t)ceil(seconds * 1e9);
}

void weft__stream_cap_reads(weft_stream *s, double first_byte, double each)
{
    if (!s)
        return;
    s->cap_first_byte = cap_ns(first_byte);
    s->cap_each = cap_ns(each);
}

void weft__stream_hang_up(weft_stream *s)
{
    if (s)
        weft_stream_close(s); /* close stops the receiving too (stream_write.c) */
}

void weft__stream_abort(weft_stream *s)
{
    if (s && weft__stream_home(s) == WEFT_OK)
        weft__stream_lose(s, WEFT_ECONNRESET);
}
