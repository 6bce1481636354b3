/* SPDX-License-Identifier: MIT */
/* net_internal.h — what the sockets (sock.c), streams (stream*.c) and
 * servers (server*.c) of layer 10 share. */
#ifndef WEFT_NET_INTERNAL_H
#define WEFT_NET_INTERNAL_H

#include "weft/net.h"

#include "park.h"
#include "platform/socket.h"

#include <stdint.h>

/* The deadline of a network call's timeout: WEFT_FOREVER none, 0 or
 * negative a poll (do not wait).  WEFT_OK or WEFT_EINVAL (NaN, too big). */
int weft__net_deadline(double timeout, int64_t *deadline);

/* The deadline cap_ns from now, for a cap that may end a round late (the
 * server's read caps, seconds long): in a coroutine "now" is when the
 * loop's round began, so it costs no clock read per request.
 * WEFT_NO_DEADLINE if it would overflow. */
int64_t weft__net_cap_deadline(int64_t cap_ns);

/* Wait until fd is ready for events after a call on it would have
 * blocked: WEFT_OK (try again: in a thread also when the deadline has
 * passed but the fd is ready), WEFT_ETIMEDOUT (at once for a passed
 * deadline, without waiting), WEFT_ECANCELLED. */
int weft__net_wait(int fd, unsigned events, int64_t deadline);

/* In a debug-mode loop, a blocking fd is a mistake (it would block the
 * loop): WEFT_EINVAL; else WEFT_OK.  Python: "the socket must be
 * non-blocking". */
int weft__net_check_fd(int fd);

/* The calls of weft/net.h with a deadline instead of a timeout, for the
 * streams and servers, whose calls are made of several. */
int weft__sock_recv_until(int fd, void *buf, size_t n, size_t *got, int64_t deadline);
int weft__sock_sendall_until(int fd, const void *buf, size_t n, size_t *sent,
                             int64_t deadline);
int weft__sock_accept_until(int fd, int *conn, struct sockaddr *addr, socklen_t *len,
                            int64_t deadline);
int weft__sock_connect_until(int fd, const struct sockaddr *addr, socklen_t len,
                             int64_t deadline);
int weft__getaddrinfo_until(const char *host, const char *port, int family, int type,
                            bool passive, weft_address *out, size_t capacity, size_t *count,
                            int64_t deadline);

/* Close fd after the running loop (if any) forgot it. */
int weft__sock_close(int fd);

/* ---- what a server asks of its connections' streams (stream*.c) ------
 * All three are called on the thread (the loop) that uses the stream. */

/* Cap the wait of every read call on s, whatever timeout its caller gave
 * (the call then returns WEFT_ETIMEDOUT): first_byte seconds until the
 * stream's first byte has arrived, each after (< 0: no cap).  The hostile
 * client defences of weft_server_options. */
void weft__stream_cap_reads(weft_stream *s, double first_byte, double each);

/* Hang up gracefully: readers (waiting now or later) see end of file once
 * the buffer is read, no more is received, and the stream closes once
 * what was written is sent (writes after it: WEFT_ECONNRESET).
 * Server.close_clients. */
void weft__stream_hang_up(weft_stream *s);

/* WEFT_OK, or WEFT_EINVAL for stream options weft_stream_from_fd would
 * refuse (a server checks its connections' options before it listens). */
int weft__stream_check_options(const weft_stream_options *options);

/* Drop the unsent buffer and shut the socket down both ways: every task
 * waiting on s wakes (reads and drains return WEFT_ECONNRESET) and the
 * socket is closed; s stays until freed.  Server.abort_clients. */
void weft__stream_abort(weft_stream *s);

#endif
