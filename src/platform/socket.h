/* SPDX-License-Identifier: MIT */
/* socket.h — the socket system calls (layer 1), each one attempt that
 * never blocks, with errno turned into a weft status (see weft/net.h for
 * the map).  The layers above wait for readiness (park.h) and try again.
 *
 * WEFT_PF_WOULD_BLOCK is not a weft status: the call would have had to
 * wait (EAGAIN, EWOULDBLOCK, EINPROGRESS).  Addresses are struct sockaddr
 * as in weft/net.h, which every caller includes. */
#ifndef WEFT_PF_SOCKET_H
#define WEFT_PF_SOCKET_H

#include "platform.h"
#include "weft/net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT_PF_WOULD_BLOCK (-1)

/* The weft status of a system error code (errno). */
int weft__pf_status_of_errno(int error);

int weft__pf_sock_open(int family, int type, int *fd);
int weft__pf_sock_nonblocking(int fd); /* and close-on-exec */
int weft__pf_sock_close(int fd);

/* One recv / send (MSG_DONTWAIT; send with MSG_NOSIGNAL): *got / *sent
 * bytes, 0 from recv at end of file. */
int weft__pf_recv(int fd, void *buf, size_t n, size_t *got);
int weft__pf_send(int fd, const void *buf, size_t n, size_t *sent);
int weft__pf_recvfrom(int fd, void *buf, size_t n, size_t *got, struct sockaddr *addr,
                      socklen_t *len);
int weft__pf_sendto(int fd, const void *buf, size_t n, const struct sockaddr *addr,
                    socklen_t len);

/* accept4 (non-blocking, close-on-exec).  EMFILE / ENFILE: WEFT_EAGAIN. */
int weft__pf_accept(int fd, int *conn, struct sockaddr *addr, socklen_t *len);

/* Start a connect (WEFT_OK: made already; WEFT_PF_WOULD_BLOCK: in
 * progress), and, once the socket is writable, its outcome (SO_ERROR). */
int weft__pf_connect_start(int fd, const struct sockaddr *addr, socklen_t len);
int weft__pf_connect_result(int fd);

/* A listening socket on addr: SO_REUSEADDR, SO_REUSEPORT when reuse_port,
 * IPV6_V6ONLY for AF_INET6 (so :: and 0.0.0.0 can both be bound), a Unix
 * path's old file removed first.  WEFT_OK with *fd, WEFT_EADDRINUSE, ... */
int weft__pf_listen(const struct sockaddr *addr, socklen_t len, int backlog, bool reuse_port,
                    int *fd);

/* Remove a Unix socket's file (a listener's, when it closes). */
void weft__pf_unlink_path(const char *path);

/* shutdown(SHUT_WR) / the socket's own and its peer's address. */
int weft__pf_sock_shutdown_write(int fd);
int weft__pf_sockname(int fd, bool peer, struct sockaddr *addr, socklen_t *len);

/* Turn Nagle's algorithm off on a TCP socket (TCP_NODELAY), as asyncio
 * does for every TCP transport: a reply written in two pieces would
 * otherwise wait for the peer's delayed ACK.  WEFT_OK; a failure (not a
 * TCP socket) changes nothing. */
int weft__pf_sock_nodelay(int fd);

/* Whether fd is in non-blocking mode (false for a bad fd too). */
bool weft__pf_is_nonblocking(int fd);

/* Wait until fd is ready for `events` (WEFT_PF_READ / WRITE; a hang-up or
 * error counts as ready), or the deadline (monotonic ns,
 * WEFT_PF_NO_DEADLINE) passes: WEFT_OK, WEFT_ETIMEDOUT.  poll(2). */
int weft__pf_wait_fd(int fd, unsigned events, int64_t deadline_ns);

/* getaddrinfo into out[capacity] (*count).  numeric_only: AI_NUMERICHOST
 * (never blocks; WEFT_ENAME when host is not a numeric address).
 * WEFT_OK, WEFT_ENAME, WEFT_ENOMEM, WEFT_EOS. */
int weft__pf_getaddrinfo(const char *host, const char *port, int family, int type,
                         bool passive, bool numeric_only, weft_address *out, size_t capacity,
                         size_t *count);

/* A Unix socket address for path: WEFT_OK, WEFT_EINVAL (too long). */
int weft__pf_unix_address(const char *path, weft_address *out);

/* The port of an AF_INET / AF_INET6 address (0 for other families), and
 * a new one put in it (nothing for other families): a server's listeners
 * after the first bind the port the first one was given. */
int weft__pf_address_port(const struct sockaddr *addr);
void weft__pf_address_set_port(struct sockaddr *addr, int port);

/* Another descriptor for the same socket (close-on-exec): a Unix
 * listener served by several loops, each watching its own number.
 * WEFT_OK with *copy, WEFT_EAGAIN (out of descriptors), WEFT_EOS. */
int weft__pf_sock_dup(int fd, int *copy);

/* "host:port" for addr (see weft_address_format). */
int weft__pf_address_format(const struct sockaddr *addr, socklen_t len, char *text,
                            size_t size);

#endif
