/* SPDX-License-Identifier: MIT */
/* bench_http.c — docs/benchmarks.md W12's weft server: an HTTP/1.1
 * keep-alive server on weft's coroutines (weft/net.h) answering GET /hello
 * with "Hello, world!" (13 bytes, text/plain).  bench/http_bench.py starts
 * it pinned to one CPU, loads it with wrk and h2load and measures it from
 * outside (requests/s, latency, its CPU time and RSS from /proc), as it does
 * every peer in bench/peers/http_*; this program prints no rows.
 *
 * What it does is what a weft user writes: weft_start_server on one loop
 * (threads 0, inside weft_run; --server-threads 1: the server's own loop
 * thread), and a handler per connection that loops: weft_stream_readuntil
 * "\r\n\r\n" (the request head), a minimal parse (the method, the path,
 * "Connection: close"), weft_stream_write of a prebuilt response, and
 * weft_stream_drain only when more than the high water mark is buffered
 * (drain would return at once below it), until end of file or an error.
 *
 * Fairness:
 * - One thread runs the loop: the one worker every W12 server gets.
 * - backlog 4096, as every W12 server is given; room for 65,536
 *   connections, so that the 10,000-connection runs are not refused.
 * - The server's hostile-client limits stay at their defaults (a first
 *   byte within 10 s, a read within 60 s, heads of at most 64 KiB): a real
 *   server keeps them, as nginx keeps its timeouts.
 * - TCP_NODELAY on each connection, as nginx, Go, asyncio and the libuv
 *   peer set it: weft's streams set it themselves.
 * - The parse and the answers are the libuv peer's (bench/http_answer.h, one
 *   copy for both); no Date header.
 *
 * Usage: bench_http --port P [--host 127.0.0.1] [--server-threads 0|1] */
#define _POSIX_C_SOURCE 200809L
#include "weft/coro.h"
#include "weft/net.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_answer.h"

/* The stream's water marks (asyncio's defaults), set explicitly so that the
 * handler's "drain only above high" test and the stream agree. */
#define HIGH_WATER (64 * 1024)
#define LOW_WATER (16 * 1024)

struct config {
    const char *host, *port;
    unsigned threads;
};

/* One connection: answer request heads until end of file or an error.  The
 * server closes and frees the stream when this returns. */
static void serve(weft_stream *stream, void *arg)
{
    (void)arg;
    for (;;) {
        const char *head;
        size_t len;
        int status = weft_stream_readuntil(stream, "\r\n\r\n", 4, &head, &len, WEFT_FOREVER);
        if (status == WEFT_ELIMIT) { /* a head longer than the stream's limit */
            (void)weft_stream_write(stream, BAD_REQUEST, sizeof BAD_REQUEST - 1);
            return;
        }
        if (status != WEFT_OK) /* end of file (WEFT_EINCOMPLETE), a reset, a timeout */
            return;
        bool close = false;
        const char *response = answer(head, len, &close);
        if (weft_stream_write(stream, response, strlen(response)) != WEFT_OK)
            return;
        if (weft_stream_write_buffer_size(stream) > HIGH_WATER &&
            weft_stream_drain(stream, WEFT_FOREVER) != WEFT_OK)
            return;
        if (close)
            return;
    }
}

static weft_server_options server_options(const struct config *config)
{
    weft_server_options o = WEFT_SERVER_OPTIONS_INIT;
    o.host = config->host;
    o.port = config->port;
    o.backlog = 4096;
    o.threads = config->threads;
    o.max_connections = 65536;
    o.stream.high_water = HIGH_WATER;
    o.stream.low_water = LOW_WATER;
    return o;
}

static int start(const struct config *config, weft_server **server)
{
    weft_server_options o = server_options(config);
    int status = weft_start_server(serve, NULL, &o, server);
    if (status != WEFT_OK) {
        fprintf(stderr, "bench_http: %s:%s: %s\n", config->host, config->port,
                weft_status_name(status));
        return status;
    }
    fprintf(stderr, "bench_http: serving on %s:%d (%u server threads)\n", config->host,
            weft_server_port(*server), config->threads);
    return WEFT_OK;
}

/* threads 0: the server lives on this coroutine's loop until killed. */
static void *serve_on_this_loop(void *arg)
{
    weft_server *server;
    int status = start(arg, &server);
    if (status != WEFT_OK)
        return (void *)(size_t)status;
    status = weft_server_serve_forever(server);
    weft_server_free(server);
    return (void *)(size_t)status;
}

static int usage(const char *me)
{
    fprintf(stderr, "usage: %s --port P [--host H] [--server-threads 0|1]\n", me);
    return 2;
}

int main(int argc, char **argv)
{
    struct config config = {"127.0.0.1", NULL, 0};
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage(argv[0]);
        if (!strcmp(argv[i], "--port"))
            config.port = argv[i + 1];
        else if (!strcmp(argv[i], "--host"))
            config.host = argv[i + 1];
        else if (!strcmp(argv[i], "--server-threads") && !strcmp(argv[i + 1], "0"))
            config.threads = 0;
        else if (!strcmp(argv[i], "--server-threads") && !strcmp(argv[i + 1], "1"))
            config.threads = 1;
        else
            return usage(argv[0]);
    }
    if (!config.port || atoi(config.port) <= 0 || atoi(config.port) > 65535)
        return usage(argv[0]);
    if (config.threads == 0) {
        void *result = NULL;
        int status = weft_run(serve_on_this_loop, &config, NULL, &result);
        return status == WEFT_OK && result == NULL ? 0 : 1;
    }
    weft_server *server;
    if (start(&config, &server) != WEFT_OK)
        return 1;
    int status = weft_server_wait_closed(server, WEFT_FOREVER);
    weft_server_free(server);
    return status == WEFT_OK ? 0 : 1;
}
