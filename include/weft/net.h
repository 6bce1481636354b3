/* SPDX-License-Identifier: MIT */
/* weft/net.h — sockets, streams and servers.  Python: asyncio's
 * loop.sock_* calls, open_connection / start_server, StreamReader and
 * StreamWriter, Server.
 *
 * Every call here works in a coroutine and in a plain thread.  In a
 * coroutine a call that must wait for the network suspends the coroutine
 * while its loop watches the descriptor (epoll); in a thread it blocks the
 * thread (poll).  Every call that waits takes a timeout in seconds
 * (WEFT_FOREVER: none, 0: do not wait) and returns WEFT_ETIMEDOUT when it
 * runs out; in a coroutine it returns WEFT_ECANCELLED when its task is
 * cancelled (in a weft thread-pool task made cancellable, within 50 ms).
 * A call that times out or is cancelled leaves the socket usable and loses
 * no byte: what it had sent or received before is reported through its
 * count argument, the rest is still in the socket (or the stream's
 * buffer) for the next call.
 *
 * Errors from the system map onto weft statuses (weft/status.h):
 * ECONNREFUSED -> WEFT_ECONNREFUSED, ECONNRESET / ECONNABORTED ->
 * WEFT_ECONNRESET, EPIPE -> WEFT_EPIPE, EADDRINUSE -> WEFT_EADDRINUSE, a
 * name that does not resolve -> WEFT_ENAME, any other -> WEFT_EOS with
 * errno left set to the system's code.  Writing never raises SIGPIPE
 * (MSG_NOSIGNAL): a peer that vanished is WEFT_EPIPE or WEFT_ECONNRESET.
 *
 * Descriptors are plain ints.  A socket that a loop has waited on must be
 * closed with weft_sock_close (or be wrapped in a stream, which closes it),
 * so that the loop forgets it before the number is reused.
 */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include "weft/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- low-level socket calls (Python: loop.sock_*) --------------------- */

/* A new socket: non-blocking and close-on-exec, as the calls below expect.
 * family AF_INET, AF_INET6 or AF_UNIX; type SOCK_STREAM or SOCK_DGRAM.
 * WEFT_OK with *fd; WEFT_EINVAL (a bad family or type, NULL fd); WEFT_EOS.
 * Python: socket.socket(family, type) + setblocking(False). */
WEFT_API int weft_sock_open(int family, int type, int *fd);

/* Make an existing descriptor non-blocking and close-on-exec (one made by
 * someone else: a socketpair, an inherited fd).  WEFT_OK, WEFT_EINVAL (not
 * an open descriptor), WEFT_EOS.  Python: sock.setblocking(False). */
WEFT_API int weft_sock_set_nonblocking(int fd);

/* Close fd, telling the running loop (if any) to forget it first: its
 * tasks waiting on fd wake, and their calls fail.  Close it on the loop or
 * thread that uses it: another loop's tasks, or a thread blocked in a call
 * on it, are not woken by a close (shutdown(2) first wakes them).
 * WEFT_OK, WEFT_EINVAL (negative or not open), WEFT_EOS.
 * Python: sock.close(). */
WEFT_API int weft_sock_close(int fd);

/* Wait until fd can be read (or has hung up) / can be written without
 * blocking.  WEFT_OK, WEFT_ETIMEDOUT, WEFT_ECANCELLED, WEFT_EINVAL (a
 * negative fd, a NaN timeout).  Python: loop.add_reader / add_writer with
 * a future. */
WEFT_API int weft_sock_wait_readable(int fd, double timeout);
WEFT_API int weft_sock_wait_writable(int fd, double timeout);

/* Receive up to n bytes (n > 0) into buf: waits until some arrive, then
 * returns what is there.  WEFT_OK with *got > 0, or *got == 0 when the peer
 * shut its side down (end of file); WEFT_ETIMEDOUT / WEFT_ECANCELLED with
 * *got == 0 (nothing was taken); WEFT_ECONNRESET; WEFT_EINVAL (NULL buf or
 * got, n == 0, a bad timeout); WEFT_EOS.
 * Python: loop.sock_recv_into(sock, buf); sock_recv(sock, n). */
WEFT_API int weft_sock_recv(int fd, void *buf, size_t n, size_t *got, double timeout);

/* Send all n bytes (n may be 0), waiting for room as needed.  *sent (may be NULL) is
 * how many were handed to the system, also on failure, timeout or
 * cancellation (the rest was not sent: send it again to go on).
 * WEFT_OK, WEFT_ETIMEDOUT, WEFT_ECANCELLED, WEFT_EPIPE, WEFT_ECONNRESET,
 * WEFT_EINVAL, WEFT_EOS.  Python: loop.sock_sendall(sock, data). */
WEFT_API int weft_sock_sendall(int fd, const void *buf, size_t n, size_t *sent,
                               double timeout);

/* Send at least one byte (n > 0) and at most n, waiting for room first if
 * there is none: *sent is how many.  Statuses as weft_sock_sendall's.
 * Python: loop.sock_send (socket.send with waiting). */
WEFT_API int weft_sock_send(int fd, const void *buf, size_t n, size_t *sent, double timeout);

/* Accept a connection on a listening socket.  *conn is the new socket,
 * non-blocking and close-on-exec; the peer's address goes to addr / *len
 * when addr is not NULL (*len: its room on entry, as accept(2)).
 * WEFT_OK, WEFT_ETIMEDOUT, WEFT_ECANCELLED, WEFT_EINVAL (NULL conn, fd not
 * listening), WEFT_EAGAIN (out of descriptors: EMFILE / ENFILE), WEFT_EOS.
 * Python: loop.sock_accept(sock) -> (conn, address). */
WEFT_API int weft_sock_accept(int fd, int *conn, struct sockaddr *addr, socklen_t *len,
                              double timeout);

/* Connect fd to addr, waiting until the connection is made.
 * WEFT_OK, WEFT_ECONNREFUSED, WEFT_ETIMEDOUT, WEFT_ECANCELLED (the attempt
 * is abandoned: connect a new socket to retry), WEFT_EINVAL, WEFT_EOS.
 * Python: loop.sock_connect(sock, address). */
WEFT_API int weft_sock_connect(int fd, const struct sockaddr *addr, socklen_t len,
                               double timeout);

/* Datagrams: send one (all of it, waiting for room; n 0 sends an empty
 * datagram, as Python's sock_sendto(b'')), receive one (up to n
 * bytes: *got; a longer one is cut, as recvfrom(2); the sender's address
 * to addr / *len when addr is not NULL).  Statuses as weft_sock_sendall's
 * and weft_sock_recv's.  Python: loop.sock_sendto, sock_recvfrom_into. */
WEFT_API int weft_sock_sendto(int fd, const void *buf, size_t n, const struct sockaddr *addr,
                              socklen_t len, double timeout);
WEFT_API int weft_sock_recvfrom(int fd, void *buf, size_t n, size_t *got,
                                struct sockaddr *addr, socklen_t *len, double timeout);

/* ---- addresses ---------------------------------------------------------- */

/* A socket address big enough for every family. */
typedef struct weft_address {
    struct sockaddr_storage storage;
    socklen_t len;
} weft_address;

/* Resolve host and port (a number or a service name) to at most `capacity`
 * addresses (family AF_UNSPEC, AF_INET or AF_INET6; type SOCK_STREAM or
 * SOCK_DGRAM), in the resolver's order; *count is how many.  A numeric
 * host ("127.0.0.1", "::1") is parsed at once.  Other names are looked up
 * on a thread, as asyncio does, so a coroutine's loop runs on meanwhile,
 * and the wait is bounded by timeout (the lookup itself finishes on its
 * thread).  host NULL: the wildcard address with passive, else loopback.
 * WEFT_OK, WEFT_ENAME (unknown host or service), WEFT_ETIMEDOUT,
 * WEFT_ECANCELLED, WEFT_EINVAL, WEFT_ENOMEM.  Python: loop.getaddrinfo(). */
WEFT_API int weft_getaddrinfo(const char *host, const char *port, int family, int type,
                              bool passive, weft_address *addresses, size_t capacity,
                              size_t *count, double timeout);

/* "host:port" ("[::1]:80" for IPv6, the path for AF_UNIX) into text[size]
 * (cut to fit, always terminated).  WEFT_OK, WEFT_EINVAL (an unknown
 * family, NULL text, size 0). */
WEFT_API int weft_address_format(const struct sockaddr *addr, socklen_t len, char *text,
                                 size_t size);

/* ---- streams (Python: StreamReader + StreamWriter) ---------------------
 *
 * A weft_stream is one connection: a buffered reader and a buffered
 * writer over a connected socket, which it owns.  Use it from one thread,
 * or from the coroutines of one loop (several tasks may use it: one
 * reading, one writing, others waiting their turn).  Once a coroutine has
 * waited on it, it belongs to that loop: calls from another loop or a
 * thread return WEFT_ESTATE, and it must be freed on its loop.  In a coroutine the
 * writer also sends its buffer in the background when the socket has room;
 * in a thread the buffer is sent by write, drain and close.
 *
 * The read calls that hand back a view (readline, readuntil) return a
 * pointer into the stream's buffer, valid until the next read call on the
 * stream or weft_stream_free. */
typedef struct weft_stream weft_stream;

typedef struct weft_stream_options {
    /* The longest line / record readline and readuntil accept, not
     * counting the separator (as Python: limit 7 takes "1234567\n");
     * 0: 64 KiB.  Python: limit=. */
    size_t limit;
    /* The writer's water marks: drain waits while more than high bytes are
     * buffered, until at most low are.  0, 0: 64 KiB, 16 KiB (asyncio's);
     * high 0 with low > 0: 4 * low; low 0 with high > 0: high / 4.
     * Python: transport.set_write_buffer_limits(high, low). */
    size_t high_water, low_water;
} weft_stream_options;

#define WEFT_STREAM_OPTIONS_INIT {0, 0, 0}

/* Connect to host:port (resolved by weft_getaddrinfo; each address tried
 * in turn until one connects) and make a stream of it, within timeout for
 * everything.  options may be NULL.  WEFT_OK with *stream (free it with
 * weft_stream_free); WEFT_ECONNREFUSED, WEFT_ENAME, WEFT_ETIMEDOUT,
 * WEFT_ECANCELLED, WEFT_EINVAL, WEFT_ENOMEM, WEFT_EOS.
 * Python: asyncio.open_connection(host, port, limit=). */
WEFT_API int weft_open_connection(const char *host, const char *port,
                                  const weft_stream_options *options, double timeout,
                                  weft_stream **stream);

/* The same over a Unix socket at path.  Python: open_unix_connection(). */
WEFT_API int weft_open_unix_connection(const char *path, const weft_stream_options *options,
                                       double timeout, weft_stream **stream);

/* A stream over fd, a connected stream socket (made non-blocking here),
 * which the stream then owns (weft_stream_free closes it, also when this
 * call fails).  WEFT_OK, WEFT_EINVAL, WEFT_ENOMEM. */
WEFT_API int weft_stream_from_fd(int fd, const weft_stream_options *options,
                                 weft_stream **stream);

/* Close if not closed, then free: what is still queued is sent if the
 * socket takes it at once, else dropped (weft_stream_close and
 * weft_stream_wait_closed first send it all).  NULL: nothing.
 * No other task may be waiting on the stream or use it afterwards; free it
 * on its loop.  Python: dropping the writer (after close()). */
WEFT_API void weft_stream_free(weft_stream *stream);

/* The socket; the peer's and the local address (WEFT_OK, WEFT_EOS). */
WEFT_API int weft_stream_fd(const weft_stream *stream);
WEFT_API int weft_stream_peername(const weft_stream *stream, weft_address *address);
WEFT_API int weft_stream_sockname(const weft_stream *stream, weft_address *address);

/* -- reading.  Every read call returns, once the stream has failed (a
 * reset, an error given to weft_stream_set_exception), that failure's
 * status; data read before it stays read.  -- */

/* Up to n bytes (n > 0) into buf, as soon as any are buffered or arrive:
 * WEFT_OK with *got > 0, or *got == 0 at end of file.  n == 0: WEFT_OK with
 * *got == 0 at once, nothing taken.  Python: reader.read(n). */
WEFT_API int weft_stream_read(weft_stream *stream, void *buf, size_t n, size_t *got,
                              double timeout);

/* Everything until end of file, in a malloc'd buffer (*data, free() it;
 * never NULL on WEFT_OK, *len may be 0).  On a timeout, cancellation or
 * failure what was read stays buffered for the next read.
 * WEFT_ENOMEM.  Python: reader.read(-1). */
WEFT_API int weft_stream_read_all(weft_stream *stream, void **data, size_t *len,
                                  double timeout);

/* Exactly n bytes into buf.  WEFT_EINCOMPLETE when end of file comes
 * first: *got bytes (fewer than n) are in buf, and the stream's buffer is
 * empty.  On a timeout or cancellation nothing is taken (*got == 0).
 * Python: reader.readexactly(n), IncompleteReadError(partial, expected). */
WEFT_API int weft_stream_readexactly(weft_stream *stream, void *buf, size_t n, size_t *got,
                                     double timeout);

/* A line: the bytes up to and including the next '\n', as a view (*line,
 * *len).  At end of file: the last partial line, then *len == 0.  A line
 * longer than the limit: WEFT_ELIMIT, and it is discarded (through its
 * '\n' if one was buffered, else the whole buffer).
 * Python: reader.readline() (whose ValueError is WEFT_ELIMIT here). */
WEFT_API int weft_stream_readline(weft_stream *stream, const char **line, size_t *len,
                                  double timeout);

/* The bytes up to and including the separator (seplen > 0), as a view.
 * WEFT_EINCOMPLETE at end of file before the separator: the view is what
 * was buffered (all of it, now taken).  WEFT_ELIMIT when the separator is
 * not found within the limit, or found beyond it: nothing is taken (read
 * again with a larger limit, or read it out) and *len is how many bytes
 * were looked at (Python's `consumed`).  WEFT_EINVAL for an empty
 * separator.  Python: reader.readuntil(separator). */
WEFT_API int weft_stream_readuntil(weft_stream *stream, const void *separator, size_t seplen,
                                   const char **data, size_t *len, double timeout);

/* The same with several separators: the match that ends first wins.
 * WEFT_EINVAL for count 0 or an empty one.
 * Python 3.13: reader.readuntil((sep1, sep2, ...)). */
WEFT_API int weft_stream_readuntil_any(weft_stream *stream, const void *const *separators,
                                       const size_t *seplens, size_t count, const char **data,
                                       size_t *len, double timeout);

/* True once end of file was received and the buffer is empty.
 * Python: reader.at_eof(). */
WEFT_API bool weft_stream_at_eof(const weft_stream *stream);

/* Make the stream failed with status (not WEFT_OK): readers waiting now
 * and later reads get it.  WEFT_OK, WEFT_EINVAL.
 * Python: reader.set_exception(exc). */
WEFT_API int weft_stream_set_exception(weft_stream *stream, int status);

/* -- writing -- */

/* Queue n bytes to send; never waits.  In a thread what the socket takes
 * is sent at once.  In a coroutine the queue goes out when the task next
 * waits on the stream (a read, a drain) or, at the latest, when the loop
 * next looks at its descriptors (after the ready tasks have run): so the
 * pieces one task writes in a row go out in one send.  WEFT_OK; WEFT_ECONNRESET after close or once the connection was
 * lost (or the failure that lost it: WEFT_EPIPE), WEFT_ESTATE after
 * write_eof; WEFT_ENOMEM; WEFT_EINVAL.  Python: writer.write(data). */
WEFT_API int weft_stream_write(weft_stream *stream, const void *data, size_t n);

/* Wait while more than the high water mark is buffered, until at most the
 * low mark is (back-pressure).  In a thread, send the whole buffer.
 * WEFT_OK; the connection's failure (WEFT_ECONNRESET, WEFT_EPIPE) if it
 * was lost, or the status given to weft_stream_set_exception;
 * WEFT_ETIMEDOUT; WEFT_ECANCELLED.  Any number of tasks may drain at once: all resume.
 * Python: await writer.drain(). */
WEFT_API int weft_stream_drain(weft_stream *stream, double timeout);

/* Bytes queued and not yet sent.  Python: transport.get_write_buffer_size(). */
WEFT_API size_t weft_stream_write_buffer_size(const weft_stream *stream);

/* Shut the sending side down once the buffer is sent (the peer reads end
 * of file; this side can still read).  WEFT_OK, WEFT_ESTATE (closed).
 * Python: writer.write_eof(). */
WEFT_API int weft_stream_write_eof(weft_stream *stream);

/* Start closing: no more writes (WEFT_ECONNRESET) and no more reading
 * (reads return what is buffered, then end of file); the write buffer is
 * still sent, then the socket closes.  Idempotent.
 * Python: writer.close(). */
WEFT_API void weft_stream_close(weft_stream *stream);

/* Whether close was called (or the connection lost).
 * Python: writer.is_closing(). */
WEFT_API bool weft_stream_is_closing(const weft_stream *stream);

/* Wait until a closing stream has sent its buffer and closed its socket.
 * WEFT_OK (also when the connection was lost: the socket is closed);
 * WEFT_ESTATE if close was not called; WEFT_ETIMEDOUT (then the
 * rest is dropped and the socket closed anyway); WEFT_ECANCELLED.
 * Python: await writer.wait_closed(). */
WEFT_API int weft_stream_wait_closed(weft_stream *stream, double timeout);

/* ---- servers (Python: asyncio.start_server, Server) -------------------- */

typedef struct weft_server weft_server;

/* The coroutine run for each connection, in a task of its own.  The server
 * owns the stream: when the handler returns, the stream is closed (what it
 * wrote is still sent) and freed, so tasks the handler started must be
 * done with it by then.  The return value is ignored; a
 * handler that ends failed is reported on stderr as "Unhandled exception
 * in client_connected_cb" with its status (cancelled: nothing reported). */
typedef void (*weft_stream_handler)(weft_stream *stream, void *arg);

typedef struct weft_server_options {
    /* Where to listen: host (NULL: every interface, as Python's None) and
     * port (NULL or "0": a free one, see weft_server_port); or path (a
     * Unix socket, made afresh: an old file there is removed; host and
     * port are then ignored).  Every address host resolves to gets a
     * listener. */
    const char *host, *port, *path;
    int backlog; /* listen(2)'s backlog; 0: 4096 */
    /* 0: serve on the calling coroutine's loop.  N >= 1: on N threads of
     * the server's own, each running a loop with its own listening socket
     * on the same address (SO_REUSEPORT: the kernel spreads connections),
     * so one server uses N cores; the server may then be made, closed and
     * waited on from any thread. */
    unsigned threads;
    /* Connections open at once, all threads together; one more is
     * accepted and closed at once (the others go on).  0: 10,000. */
    size_t max_connections;
    /* Hostile clients: caps on how long a read call on a connection's
     * stream may wait, whatever timeout the handler gave it (the call then
     * returns WEFT_ETIMEDOUT, and a handler that gives up on it returns;
     * the server then closes the connection and frees its slot).
     * first_byte_timeout: until the connection's first byte has arrived
     * (0: 10 s; < 0: no cap).  read_timeout: every read after that, one
     * call as a whole, so a client trickling a line byte by byte is cut
     * off too (0: 60 s; < 0: no cap).  The server also waits at most
     * read_timeout for a closed connection's last bytes to be sent.  A
     * cap counts from the start of the loop's current round (no clock
     * read per request), so a handler that computes for longer than its
     * cap without waiting finds it run out. */
    double first_byte_timeout, read_timeout;
    weft_stream_options stream; /* each connection's stream */
    /* Do not accept until weft_server_start_serving or serve_forever.
     * Python: start_serving=False. */
    bool delay_start;
    size_t handler_stack_size; /* 0: the loop's default */
} weft_server_options;

#define WEFT_SERVER_OPTIONS_INIT {NULL, NULL, NULL, 0, 0, 0, 0.0, 0.0, WEFT_STREAM_OPTIONS_INIT, false, 0}

/* Listen as options say and serve each connection with handler(stream,
 * arg).  threads 0: from a coroutine only (WEFT_ESTATE otherwise).
 * WEFT_OK with *server (free it with weft_server_free); WEFT_EADDRINUSE,
 * WEFT_ENAME, WEFT_EINVAL (NULL handler, options or server; a bad
 * option), WEFT_ENOMEM, WEFT_EAGAIN (a thread could not start), WEFT_EOS.
 * Python: asyncio.start_server(handler, host, port, limit=, backlog=,
 * start_serving=, reuse_port=). */
WEFT_API int weft_start_server(weft_stream_handler handler, void *arg,
                               const weft_server_options *options, weft_server **server);

/* The port of the first listener (the one the system chose for port
 * "0"); 0 for a Unix socket.  Python: server.sockets[0].getsockname()[1]. */
WEFT_API int weft_server_port(const weft_server *server);

/* Start accepting (if delay_start) and wait until the server is closed.
 * Cancelling the waiting task closes the server (WEFT_ECANCELLED).
 * WEFT_OK (closed by weft_server_close), WEFT_ESTATE (closed already, or
 * another serve_forever is waiting: Python's RuntimeErrors).
 * Python: server.serve_forever(). */
WEFT_API int weft_server_serve_forever(weft_server *server);

/* Start accepting; idempotent.  WEFT_OK, WEFT_ESTATE (closed).
 * Python: server.start_serving(). */
WEFT_API int weft_server_start_serving(weft_server *server);

/* Whether it accepts connections now.  Python: server.is_serving(). */
WEFT_API bool weft_server_is_serving(const weft_server *server);

/* Connections open now. */
WEFT_API size_t weft_server_connections(const weft_server *server);

/* Stop listening (the sockets close); connections go on.  Idempotent.
 * Python: server.close(). */
WEFT_API void weft_server_close(weft_server *server);

/* Close every connection: gracefully (their streams close, buffered data
 * is still sent, handlers see end of file or WEFT_ECONNRESET) or at once
 * (abort: buffers dropped, handlers are cancelled).
 * Python 3.13: server.close_clients(), server.abort_clients(). */
WEFT_API void weft_server_close_clients(weft_server *server);
WEFT_API void weft_server_abort_clients(weft_server *server);

/* Wait until the server is closed and its last connection has ended.
 * WEFT_OK, WEFT_ETIMEDOUT, WEFT_ECANCELLED.
 * Python 3.12.1: server.wait_closed(). */
WEFT_API int weft_server_wait_closed(weft_server *server, double timeout);

/* Close, abort the connections left, wait for them, and free.  NULL:
 * nothing.  From a coroutine of its loop (threads 0) or any thread (N);
 * never from one of its own handlers (it would wait for itself).  A
 * serve_forever waiting elsewhere returns WEFT_OK, and free waits until
 * it has. */
WEFT_API void weft_server_free(weft_server *server);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_NET_H */
