/* SPDX-License-Identifier: MIT */
/* http_uv.c — docs/benchmarks.md W12 peer: an HTTP/1.1 keep-alive server on
 * libuv with a minimal hand parser, answering GET /hello with "Hello,
 * world!" (13 bytes, text/plain).  bench/http_bench.py starts it pinned to
 * one CPU and loads it with wrk and h2load.
 *
 * How libuv users write it: one loop, uv_listen, a uv_tcp_t per connection
 * whose alloc callback hands out the connection's own buffer, and a read
 * callback that answers every complete request head ("\r\n\r\n") in what
 * arrived with one uv_write of prebuilt responses (uv_write sends at once
 * when the socket has room, and queues the rest).
 *
 * Fairness:
 * - One thread, one loop: the one worker every W12 server gets.
 * - uv_listen's backlog is 4096 (libuv's examples use 128, which drops
 *   connections when 1,000 clients connect at once), the backlog every
 *   server is given.
 * - TCP_NODELAY on each connection, as nginx, Go and asyncio set it.
 * - The parse is as small as weft's bench server's (bench/bench_http.c): the
 *   method, the path and "Connection: close"; no Date header in the answer.
 *
 * Usage: http_uv --port P [--host 127.0.0.1] */
#define _GNU_SOURCE /* memmem */
#include <uv.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../http_answer.h"

/* The longest request head a connection buffers; a longer one is refused. */
#define HEAD_ROOM 8192
/* Responses one uv_write carries (pipelined requests in one read). */
#define BATCH 16

struct conn {
    uv_tcp_t tcp;
    size_t used; /* bytes of an unfinished request head in buf */
    bool closing;
    char buf[HEAD_ROOM];
};

struct batch {
    uv_write_t req;
    bool close_after;
    unsigned n;
    uv_buf_t bufs[BATCH];
};

static void on_closed(uv_handle_t *h) { free(h->data); }

static void close_conn(struct conn *c)
{
    if (!c->closing) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct batch *b = req->data;
    struct conn *c = req->handle->data;
    if (status < 0 || b->close_after)
        close_conn(c);
    free(b);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = h->data;
    *buf = uv_buf_init(c->buf + c->used, (unsigned)(HEAD_ROOM - c->used));
}

static void send_batch(struct conn *c, struct batch *b)
{
    b->req.data = b;
    if (uv_write(&b->req, (uv_stream_t *)&c->tcp, b->bufs, b->n, on_written) < 0) {
        free(b);
        close_conn(c);
    }
}

static struct batch *new_batch(void)
{
    struct batch *b = malloc(sizeof *b);
    if (b) {
        b->n = 0;
        b->close_after = false;
    }
    return b;
}

/* Answer every complete head in c->buf; keep the unfinished tail. */
static void serve(struct conn *c)
{
    struct batch *b = NULL;
    size_t start = 0;
    char *found;
    while (!c->closing &&
           (found = memmem(c->buf + start, c->used - start, "\r\n\r\n", 4)) != NULL) {
        size_t len = (size_t)(found + 4 - (c->buf + start));
        if (!b && !(b = new_batch())) {
            close_conn(c);
            return;
        }
        bool close = false;
        const char *r = answer(c->buf + start, len, &close);
        b->bufs[b->n++] = uv_buf_init((char *)r, (unsigned)strlen(r));
        start += len;
        if (close) {
            b->close_after = true;
            uv_read_stop((uv_stream_t *)&c->tcp);
            break;
        }
        if (b->n == BATCH) {
            send_batch(c, b);
            b = NULL;
        }
    }
    if (b)
        send_batch(c, b);
    memmove(c->buf, c->buf + start, c->used - start);
    c->used -= start;
    if (c->used == HEAD_ROOM && !c->closing) { /* a head too long to serve */
        struct batch *bad = new_batch();
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (!bad) {
            close_conn(c);
            return;
        }
        bad->bufs[bad->n++] = uv_buf_init((char *)BAD_REQUEST, sizeof BAD_REQUEST - 1);
        bad->close_after = true;
        send_batch(c, bad);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = s->data;
    if (nread < 0) { /* UV_EOF or an error */
        close_conn(c);
        return;
    }
    c->used += (size_t)nread;
    serve(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof *c);
    if (!c)
        return;
    c->used = 0;
    c->closing = false;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        close_conn(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--host"))
            host = argv[i + 1];
        else
            port = -1;
    }
    if (port <= 0 || port > 65535 || argc % 2 == 0) {
        fprintf(stderr, "usage: %s --port P [--host H]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* libuv writes with write(2): a vanished peer is EPIPE */
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    int rc = uv_ip4_addr(host, port, &addr);
    if (!rc)
        rc = uv_tcp_init(loop, &server);
    if (!rc)
        rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (rc) {
        fprintf(stderr, "http_uv: %s:%d: %s\n", host, port, uv_strerror(rc));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
