/* SPDX-License-Identifier: MIT */
/* threaded_http.c — see threaded_http.h. */
#define _POSIX_C_SOURCE 200809L
#include "threaded_http.h"

#include <weft.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

size_t http_image_size(int n) { return 20000 + (size_t)n * 1000; }

unsigned char http_image_byte(int n, size_t i) { return (unsigned char)(i * 31 + (size_t)n); }

int http_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("http_listen");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

static int write_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size) {
        ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

struct connection {
    int fd;
    double delay;
};

/* One client: read the request line, wait, answer, close. */
static void *handle_connection(void *arg)
{
    struct connection c = *(struct connection *)arg;
    free(arg);
    char request[1024];
    size_t got = 0;
    while (got < sizeof request - 1 && !memchr(request, '\n', got)) {
        ssize_t n = recv(c.fd, request + got, sizeof request - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    request[got] = '\0';
    int n;
    weft_sleep(c.delay); /* a slow server, or a long way away */
    if (sscanf(request, "GET /images/photo-%d.jpg", &n) == 1 && n >= 0 && n < 1000) {
        size_t size = http_image_size(n);
        unsigned char *body = malloc(size);
        char header[128];
        int h = snprintf(header, sizeof header,
                         "HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n",
                         size);
        if (body) {
            for (size_t i = 0; i < size; i++)
                body[i] = http_image_byte(n, i);
            if (write_all(c.fd, header, (size_t)h) == 0)
                (void)write_all(c.fd, body, size);
        }
        free(body);
    } else {
        static const char missing[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        (void)write_all(c.fd, missing, sizeof missing - 1);
    }
    close(c.fd);
    return NULL;
}

void http_serve(int listen_fd, double delay)
{
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            perror("http_serve: accept");
            return;
        }
        /* Without memory or a thread, drop this client (it sees the
         * connection close) and serve the next. */
        struct connection *c = malloc(sizeof *c);
        weft_thread *t;
        weft_thread_options daemon = {.daemon = WEFT_DAEMON};
        int rc = c ? weft_thread_new(&t, handle_connection, c, &daemon) : WEFT_ENOMEM;
        if (rc != WEFT_OK) {
            fprintf(stderr, "http_serve: dropping a connection: %s\n", weft_strerror(rc));
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->delay = delay;
        if ((rc = weft_thread_start(t)) != WEFT_OK) {
            fprintf(stderr, "http_serve: dropping a connection: %s\n", weft_strerror(rc));
            free(c);
            close(fd);
        }
        weft_thread_free(t); /* the thread runs on; nobody joins a daemon */
    }
}
