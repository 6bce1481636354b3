/* SPDX-License-Identifier: MIT */
/* http_answer.h — W12's request parse and answers, one copy for the weft
 * server (bench_http.c) and the libuv peer (peers/http_uv.c), so that the
 * two differ only by their runtime: the same minimal parse (the method,
 * the path, "Connection: close") and the same prebuilt answers. */
#ifndef WEFT_BENCH_HTTP_ANSWER_H
#define WEFT_BENCH_HTTP_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

static const char HELLO[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 13\r\n\r\nHello, world!";
static const char NOT_FOUND[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                                "Content-Length: 10\r\n\r\nNot found\n";
static const char BAD_REQUEST[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";

/* Whether a header line of the head [p, end) says "Connection: close"
 * (HTTP/1.0's close by default is not looked at: the load generators speak
 * HTTP/1.1).  Only the lines' first bytes are compared. */
static bool asks_close(const char *p, const char *end)
{
    static const char name[] = "connection:";
    const size_t n = sizeof name - 1;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL && (size_t)(end - ++p) > n) {
        if ((*p | 0x20) != 'c' || strncasecmp(p, name, n) != 0)
            continue;
        const char *v = p + n;
        while (v < end && *v == ' ')
            v++;
        return end - v >= 5 && strncasecmp(v, "close", 5) == 0;
    }
    return false;
}

/* The answer to one request head [p, p + len); *close when the connection
 * must close after it. */
static const char *answer(const char *p, size_t len, bool *close)
{
    const char *end = p + len;
    const char *sp = memchr(p, ' ', len);
    const char *sp2 = sp ? memchr(sp + 1, ' ', (size_t)(end - sp - 1)) : NULL;
    if (!sp2) {
        *close = true;
        return BAD_REQUEST;
    }
    *close = asks_close(sp2, end);
    bool hello = sp - p == 3 && memcmp(p, "GET", 3) == 0 && sp2 - sp - 1 == 6 &&
                 memcmp(sp + 1, "/hello", 6) == 0;
    return hello ? HELLO : NOT_FOUND;
}

#endif
