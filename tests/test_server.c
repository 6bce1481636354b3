/* SPDX-License-Identifier: MIT */
/* test_server.c — servers (weft_start_server, weft_server_*): serving on
 * the caller's loop and on threads, IPv4, IPv6 and Unix sockets, closing
 * and waiting, handler failures, and the limits that keep hostile clients
 * from holding a server: max_connections, first_byte_timeout,
 * read_timeout, peers that vanish, running out of descriptors.
 *
 * Clients use the low-level socket calls (weft_sock_*), which work in a
 * coroutine (on the server's own loop) and in a plain thread alike; every
 * wait a client makes has a timeout, so a server that does not answer
 * fails the test instead of hanging it.  Everything is loopback. */
#include "coro_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#define WAIT 10.0 /* the bound of a wait that should end much sooner */

/* ---- helpers --------------------------------------------------------------- */

/* Open descriptors, counted in /proc/self/fd (the count's own included). */
static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Connect to the loopback of family (AF_INET, AF_INET6) at port, or to
 * the Unix socket at path.  A status; *fd on WEFT_OK. */
static int dial(int family, int port, const char *path, int *fd)
{
    weft_address a;
    size_t n = 0;
    int rc = WEFT_OK;
    *fd = -1;
    if (path) {
        struct sockaddr_un *un = (struct sockaddr_un *)(void *)&a.storage;
        memset(&a, 0, sizeof a);
        un->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof un->sun_path)
            return WEFT_EINVAL;
        memcpy(un->sun_path, path, strlen(path) + 1);
        a.len = sizeof *un;
        family = AF_UNIX;
    } else {
        char text[16];
        snprintf(text, sizeof text, "%d", port);
        rc = weft_getaddrinfo(family == AF_INET6 ? "::1" : "127.0.0.1", text, family,
                              SOCK_STREAM, false, &a, 1, &n, WAIT);
    }
    if (rc == WEFT_OK)
        rc = weft_sock_open(family, SOCK_STREAM, fd);
    if (rc != WEFT_OK)
        return rc;
    rc = weft_sock_connect(*fd, (struct sockaddr *)&a.storage, a.len, WAIT);
    if (rc != WEFT_OK) {
        weft_sock_close(*fd);
        *fd = -1;
    }
    return rc;
}

static int dial4(int port, int *fd) { return dial(AF_INET, port, NULL, fd); }

static int send_text(int fd, const char *text)
{
    return weft_sock_sendall(fd, text, strlen(text), NULL, WAIT);
}

/* Receive until a '\n' or end of file, into buf (NUL-terminated). */
static int recv_line(int fd, char *buf, size_t size)
{
    size_t have = 0;
    buf[0] = '\0';
    while (have + 1 < size) {
        size_t got = 0;
        int rc = weft_sock_recv(fd, buf + have, 1, &got, WAIT);
        if (rc != WEFT_OK || got == 0)
            return rc;
        have += got;
        buf[have] = '\0';
        if (buf[have - 1] == '\n')
            break;
    }
    return WEFT_OK;
}

/* One line there and back. */
static bool echoes(int fd, const char *line)
{
    char back[256];
    return CO_CHECK_RC(send_text(fd, line), WEFT_OK) &&
           CO_CHECK_RC(recv_line(fd, back, sizeof back), WEFT_OK) &&
           CO_CHECK(strcmp(back, line) == 0);
}

/* Whether the server ends the connection within `timeout` (end of file or
 * a reset; bytes it still sends are skipped). */
static bool ended_within(int fd, double timeout)
{
    double end = weft_monotonic() + timeout;
    char buf[4096];
    while (weft_monotonic() < end) {
        size_t got = 0;
        int rc = weft_sock_recv(fd, buf, sizeof buf, &got, end - weft_monotonic());
        if ((rc == WEFT_OK && got == 0) || rc == WEFT_ECONNRESET)
            return true;
        if (rc != WEFT_OK)
            return false;
    }
    return false;
}

/* Dial, echo one line, close: a whole client. */
static bool one_echo(int family, int port, const char *path)
{
    int fd;
    if (!CO_CHECK_RC(dial(family, port, path, &fd), WEFT_OK))
        return false;
    bool ok = echoes(fd, "hello\n") && echoes(fd, "world\n");
    weft_sock_close(fd);
    return ok;
}

static weft_server_options options_on(const char *host)
{
    weft_server_options o = WEFT_SERVER_OPTIONS_INIT;
    o.host = host;
    o.port = "0";
    return o;
}

/* ---- handlers ------------------------------------------------------------- */

static atomic_int handled;  /* handler calls */
static atomic_int last_rc;  /* the status that ended the last handler */

/* Echo lines until end of file or an error. */
static void echo_handler(weft_stream *s, void *arg)
{
    (void)arg;
    atomic_fetch_add(&handled, 1);
    for (;;) {
        const char *line;
        size_t len = 0;
        int rc = weft_stream_readline(s, &line, &len, WEFT_FOREVER);
        if (rc == WEFT_OK && len == 0)
            rc = WEFT_ESTOP; /* end of file */
        if (rc == WEFT_OK && (rc = weft_stream_write(s, line, len)) == WEFT_OK)
            rc = weft_stream_drain(s, WEFT_FOREVER);
        if (rc != WEFT_OK) {
            atomic_store(&last_rc, rc);
            return;
        }
    }
}

/* Returns at once: the server closes the connection. */
static void quit_handler(weft_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    atomic_fetch_add(&handled, 1);
}

/* Writes until the peer stops it (a vanished peer, abort_clients). */
static void flood_handler(weft_stream *s, void *arg)
{
    static char chunk[65536];
    (void)arg;
    atomic_fetch_add(&handled, 1);
    for (int i = 0; i < 4096; i++) { /* 256 MiB at most */
        int rc = weft_stream_write(s, chunk, sizeof chunk);
        if (rc == WEFT_OK)
            rc = weft_stream_drain(s, WAIT);
        if (rc != WEFT_OK) {
            atomic_store(&last_rc, rc);
            return;
        }
    }
    atomic_store(&last_rc, WEFT_OK);
}

static void reset_counts(void)
{
    atomic_store(&handled, 0);
    atomic_store(&last_rc, -1);
}

/* ---- behaviour: a request and its answer over open_connection ---------- */

/* Answers one HTTP/1.0 request and ends the connection. */
static void http_handler(weft_stream *s, void *arg)
{
    (void)arg;
    const char *line;
    size_t len = 0;
    while (weft_stream_readline(s, &line, &len, WAIT) == WEFT_OK && len > 2) {
    }
    static const char answer[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    weft_stream_write(s, answer, sizeof answer - 1);
}

static void *http_main(void *arg)
{
    (void)arg;
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    if (!CO_CHECK_RC(weft_start_server(http_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", weft_server_port(server));
    weft_stream *c = NULL;
    if (CO_CHECK_RC(weft_open_connection("127.0.0.1", port, NULL, WAIT, &c), WEFT_OK)) {
        static const char request[] = "GET / HTTP/1.0\r\n\r\n";
        CO_CHECK_RC(weft_stream_write(c, request, sizeof request - 1), WEFT_OK);
        const char *line;
        size_t len = 0;
        CO_CHECK_RC(weft_stream_readline(c, &line, &len, WAIT), WEFT_OK);
        CO_CHECK(len == 17 && memcmp(line, "HTTP/1.0 200 OK\r\n", 17) == 0);
        void *rest = NULL;
        CO_CHECK_RC(weft_stream_read_all(c, &rest, &len, WAIT), WEFT_OK);
        static const char rest_expected[] = "Content-Length: 5\r\n\r\nhello";
        CO_CHECK(rest && len == sizeof rest_expected - 1 &&
                 memcmp(rest, rest_expected, len) == 0);
        free(rest);
        weft_stream_free(c);
    }
    weft_server_free(server);
    return NULL;
}

/* A client gets the status line with readline and the rest up to end of
 * file with read_all. */
static void test_http_request(void **state)
{
    (void)state;
    run_coro(http_main, NULL);
}

/* ---- behaviour: echo, close, wait_closed, then the port refuses -------- */

static void *echo_then_refused_main(void *arg)
{
    const char *host = arg;
    int family = strchr(host, ':') ? AF_INET6 : AF_INET;
    weft_server *server = NULL;
    weft_server_options o = options_on(host);
    reset_counts();
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    int port = weft_server_port(server);
    CO_CHECK(port > 0);
    CO_CHECK(weft_server_is_serving(server));
    one_echo(family, port, NULL);
    weft_server_close(server);
    CO_CHECK(!weft_server_is_serving(server));
    CO_CHECK_RC(weft_server_wait_closed(server, WAIT), WEFT_OK);
    int fd;
    CO_CHECK_RC(dial(family, port, NULL, &fd), WEFT_ECONNREFUSED);
    CO_CHECK_INT(atomic_load(&handled), 1);
    weft_server_free(server);
    return NULL;
}

/* A client's line comes back; after close and wait_closed, connecting to
 * the port is refused. */
static void test_echo_ipv4(void **state)
{
    (void)state;
    run_coro(echo_then_refused_main, "127.0.0.1");
}

static bool have_ipv6(void)
{
    weft_address a;
    size_t n;
    int fd;
    if (weft_getaddrinfo("::1", "0", AF_INET6, SOCK_STREAM, true, &a, 1, &n, WAIT) != WEFT_OK ||
        weft_sock_open(AF_INET6, SOCK_STREAM, &fd) != WEFT_OK)
        return false;
    bool ok = bind(fd, (struct sockaddr *)&a.storage, a.len) == 0;
    weft_sock_close(fd);
    return ok;
}

static void test_echo_ipv6(void **state)
{
    (void)state;
    if (!have_ipv6())
        skip();
    run_coro(echo_then_refused_main, "::1");
}

static char unix_dir[64];
static char unix_path[128];

static void *echo_unix_main(void *arg)
{
    (void)arg;
    weft_server *server = NULL;
    weft_server_options o = WEFT_SERVER_OPTIONS_INIT;
    o.path = unix_path;
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    CO_CHECK_INT(weft_server_port(server), 0);
    CO_CHECK(access(unix_path, F_OK) == 0);
    one_echo(AF_UNIX, 0, unix_path);
    weft_server_close(server);
    CO_CHECK_RC(weft_server_wait_closed(server, WAIT), WEFT_OK);
    CO_CHECK(access(unix_path, F_OK) != 0); /* its file went with it */
    weft_server_free(server);
    return NULL;
}

/* A Unix socket: an old file at the path is replaced, and the server's
 * file is removed when it closes. */
static void test_echo_unix(void **state)
{
    (void)state;
    snprintf(unix_dir, sizeof unix_dir, "/tmp/weft-server-XXXXXX");
    assert_non_null(mkdtemp(unix_dir));
    snprintf(unix_path, sizeof unix_path, "%s/sock", unix_dir);
    FILE *old = fopen(unix_path, "w");
    assert_non_null(old);
    fclose(old);
    run_coro(echo_unix_main, NULL);
    rmdir(unix_dir);
}

static void *every_interface_main(void *arg)
{
    (void)arg;
    weft_server *server = NULL;
    weft_server_options o = options_on(NULL);
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    one_echo(AF_INET, weft_server_port(server), NULL);
    if (have_ipv6())
        one_echo(AF_INET6, weft_server_port(server), NULL);
    weft_server_free(server);
    return NULL;
}

/* host NULL listens on every interface, IPv4 and IPv6, on one port. */
static void test_every_interface(void **state)
{
    (void)state;
    run_coro(every_interface_main, NULL);
}

/* ---- behaviour: a handler's failure is reported, its cancellation not --- */

static void failing_handler(weft_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    weft_fail(WEFT_EINVAL, "bad request %d", 42);
    atomic_fetch_add(&handled, 1);
}

/* Cancels itself, as a handler that gives up by cancellation does. */
static void cancelled_handler(weft_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    weft_task_cancel(weft_current_task(), NULL);
    CO_CHECK_RC(weft_sleep(WAIT), WEFT_ECANCELLED);
    atomic_fetch_add(&handled, 1);
}

static void *one_client_main(void *arg)
{
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    reset_counts();
    if (!CO_CHECK_RC(weft_start_server((weft_stream_handler)(uintptr_t)arg, NULL, &o, &server),
                     WEFT_OK))
        return NULL;
    int fd;
    if (CO_CHECK_RC(dial4(weft_server_port(server), &fd), WEFT_OK)) {
        CO_CHECK(ended_within(fd, WAIT));
        weft_sock_close(fd);
    }
    wait_until(atomic_load(&handled) == 1 && weft_server_connections(server) == 0, WAIT);
    CO_CHECK_INT(weft_server_connections(server), 0);
    weft_server_free(server);
    return NULL;
}

/* stderr into a file while fn runs; its text into out. */
static void capture_stderr(weft_stream_handler handler, char *out, size_t size)
{
    char path[] = "/tmp/weft-stderr-XXXXXX";
    int file = mkstemp(path);
    assert_true(file >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(file, 2);
    run_coro(one_client_main, (void *)(uintptr_t)handler);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(file, out, size - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(file);
    unlink(path);
}

/* A handler that fails is reported on stderr with its status and message;
 * one that is cancelled is not reported at all. */
static void test_handler_failure_reported(void **state)
{
    (void)state;
    char text[1024];
    capture_stderr(failing_handler, text, sizeof text);
    assert_non_null(strstr(text, "Unhandled exception in client_connected_cb: WEFT_EINVAL "
                                 "bad request 42"));
    capture_stderr(cancelled_handler, text, sizeof text);
    assert_string_equal(text, "");
}

/* ---- behaviour: delay_start, start_serving, serve_forever ---------------- */

static weft_server *forever_server;
static atomic_int forever_rc;

static void *serve_forever_task(void *arg)
{
    (void)arg;
    atomic_store(&forever_rc, weft_server_serve_forever(forever_server));
    return NULL;
}

static void *delay_start_main(void *arg)
{
    (void)arg;
    weft_server_options o = options_on("127.0.0.1");
    o.delay_start = true;
    reset_counts();
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &forever_server), WEFT_OK))
        return NULL;
    int port = weft_server_port(forever_server), fd;
    CO_CHECK(!weft_server_is_serving(forever_server));
    /* The system takes the connection into the backlog; nobody serves it. */
    CO_CHECK_RC(dial4(port, &fd), WEFT_OK);
    CO_CHECK_RC(weft_sleep(0.1), WEFT_OK);
    CO_CHECK_INT(atomic_load(&handled), 0);
    CO_CHECK_RC(weft_server_start_serving(forever_server), WEFT_OK);
    CO_CHECK_RC(weft_server_start_serving(forever_server), WEFT_OK); /* idempotent */
    CO_CHECK(weft_server_is_serving(forever_server));
    echoes(fd, "late\n");
    weft_sock_close(fd);

    weft_future *forever = co_spawn(serve_forever_task, NULL);
    co_yield(3);
    /* A second serve_forever while one waits is refused. */
    CO_CHECK_RC(weft_server_serve_forever(forever_server), WEFT_ESTATE);
    CO_CHECK(!weft_future_done(forever));
    /* Cancelling the one that waits closes the server. */
    weft_future_cancel(forever);
    CO_CHECK_RC(co_finish(forever, WAIT), WEFT_ECANCELLED);
    CO_CHECK_INT(atomic_load(&forever_rc), WEFT_ECANCELLED);
    CO_CHECK(!weft_server_is_serving(forever_server));
    CO_CHECK_RC(weft_server_wait_closed(forever_server, WAIT), WEFT_OK);
    CO_CHECK_RC(dial4(port, &fd), WEFT_ECONNREFUSED);
    /* On a closed server: refused. */
    CO_CHECK_RC(weft_server_serve_forever(forever_server), WEFT_ESTATE);
    CO_CHECK_RC(weft_server_start_serving(forever_server), WEFT_ESTATE);
    weft_server_free(forever_server);
    return NULL;
}

static void test_delay_start_and_serve_forever(void **state)
{
    (void)state;
    run_coro(delay_start_main, NULL);
}

static void *serve_forever_closed_main(void *arg)
{
    (void)arg;
    weft_server_options o = options_on("127.0.0.1");
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &forever_server), WEFT_OK))
        return NULL;
    weft_future *forever = co_spawn(serve_forever_task, NULL);
    co_yield(3);
    one_echo(AF_INET, weft_server_port(forever_server), NULL);
    weft_server_close(forever_server); /* serve_forever returns WEFT_OK */
    CO_CHECK_RC(co_finish(forever, WAIT), WEFT_OK);
    CO_CHECK_INT(atomic_load(&forever_rc), WEFT_OK);
    weft_server_free(forever_server);
    return NULL;
}

/* serve_forever returns WEFT_OK once weft_server_close is called. */
static void test_serve_forever_until_close(void **state)
{
    (void)state;
    run_coro(serve_forever_closed_main, NULL);
}

/* ---- behaviour: wait_closed, close_clients, abort_clients ---------------- */

static void *wait_closed_main(void *arg)
{
    bool abort = arg != NULL;
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    reset_counts();
    if (!CO_CHECK_RC(weft_start_server(abort ? flood_handler : echo_handler, NULL, &o, &server),
                     WEFT_OK))
        return NULL;
    /* Open, with no connection: wait_closed waits. */
    CO_CHECK_RC(weft_server_wait_closed(server, 0.05), WEFT_ETIMEDOUT);
    int fd;
    if (!CO_CHECK_RC(dial4(weft_server_port(server), &fd), WEFT_OK))
        return NULL;
    wait_until(atomic_load(&handled) == 1, WAIT);
    if (!abort)
        echoes(fd, "hi\n");
    else /* the flood fills both socket buffers: the handler waits in drain */
        CO_CHECK_RC(weft_sleep(0.1), WEFT_OK);
    weft_server_close(server);
    int refused;
    CO_CHECK_RC(dial4(weft_server_port(server), &refused), WEFT_ECONNREFUSED);
    /* Closed, but a connection is still going (and still served): it
     * waits. */
    if (!abort)
        echoes(fd, "after close\n");
    CO_CHECK_RC(weft_server_wait_closed(server, 0.05), WEFT_ETIMEDOUT);
    CO_CHECK_INT(weft_server_connections(server), 1);
    double t0 = weft_monotonic();
    if (abort)
        weft_server_abort_clients(server);
    else
        weft_server_close_clients(server);
    CO_CHECK_RC(weft_server_wait_closed(server, WAIT), WEFT_OK);
    CO_CHECK(weft_monotonic() - t0 < IMMEDIATE * 4);
    CO_CHECK_INT(weft_server_connections(server), 0);
    /* The handler saw end of file, or the reset. */
    if (!abort)
        CO_CHECK_INT(atomic_load(&last_rc), WEFT_ESTOP);
    else
        CO_CHECK(atomic_load(&last_rc) != WEFT_OK);
    /* Later calls return at once. */
    CO_CHECK_RC(weft_server_wait_closed(server, 0), WEFT_OK);
    CO_CHECK(ended_within(fd, WAIT));
    weft_sock_close(fd);
    weft_server_free(server);
    return NULL;
}

/* wait_closed waits while the server is open, then while a connection
 * lasts after close; close_clients ends the connections gracefully (the
 * handler reads end of file) and abort_clients at once, even with full
 * socket buffers; wait_closed then returns promptly, and at once later. */
static void test_wait_closed_close_clients(void **state)
{
    (void)state;
    run_coro(wait_closed_main, NULL);
}

static void test_wait_closed_abort_clients(void **state)
{
    (void)state;
    run_coro(wait_closed_main, "abort");
}

/* ---- threads -------------------------------------------------------------- */

#define SPREAD_CLIENTS 200

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t seen_thread[8];
static int seen_count[8];

static void counting_handler(weft_stream *s, void *arg)
{
    uint64_t me = weft_get_ident();
    pthread_mutex_lock(&seen_lock);
    for (int i = 0; i < 8; i++) {
        if (seen_thread[i] == me || seen_thread[i] == 0) {
            seen_thread[i] = me;
            seen_count[i]++;
            break;
        }
    }
    pthread_mutex_unlock(&seen_lock);
    echo_handler(s, arg);
}

static void *close_from_thread(void *arg)
{
    weft_server_close(arg);
    return NULL;
}

/* Two threads, each with its own loop and listener on one port: the
 * system spreads the connections between them.  A plain thread waits in
 * serve_forever, another closes the server (serve_forever returns), the
 * test's thread waits for it and frees it.  No descriptor is left. */
static void test_threads_spread(void **state)
{
    (void)state;
    int before = fd_count();
    memset(seen_thread, 0, sizeof seen_thread);
    memset(seen_count, 0, sizeof seen_count);
    co_reset();
    reset_counts();
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    o.threads = 2;
    assert_int_equal(weft_start_server(counting_handler, NULL, &o, &server), WEFT_OK);
    assert_true(weft_server_is_serving(server));
    int port = weft_server_port(server);
    for (int i = 0; i < SPREAD_CLIENTS; i++)
        if (!one_echo(AF_INET, port, NULL))
            break;
    assert_co_clean();
    assert_int_equal(atomic_load(&handled), SPREAD_CLIENTS);
    assert_int_equal(seen_count[0] + seen_count[1], SPREAD_CLIENTS);
    assert_true(seen_count[0] > 0 && seen_count[1] > 0);
    assert_int_equal(seen_thread[2], 0);
    forever_server = server;
    atomic_store(&forever_rc, -1);
    weft_thread *forever = start_thread(serve_forever_task, NULL);
    wait_threads_blocked(1);
    weft_thread *closer = start_thread(close_from_thread, server);
    join_thread(closer);
    join_thread(forever);
    assert_int_equal(atomic_load(&forever_rc), WEFT_OK);
    assert_int_equal(weft_server_wait_closed(server, WAIT), WEFT_OK);
    assert_int_equal(weft_server_connections(server), 0);
    weft_server_free(server);
    assert_int_equal(fd_count(), before);
}

/* A Unix socket served by two threads: both watch the one socket. */
static void test_threads_unix(void **state)
{
    (void)state;
    snprintf(unix_dir, sizeof unix_dir, "/tmp/weft-server-XXXXXX");
    assert_non_null(mkdtemp(unix_dir));
    snprintf(unix_path, sizeof unix_path, "%s/sock", unix_dir);
    int before = fd_count();
    co_reset();
    weft_server *server = NULL;
    weft_server_options o = WEFT_SERVER_OPTIONS_INIT;
    o.path = unix_path;
    o.threads = 2;
    assert_int_equal(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK);
    for (int i = 0; i < 20; i++)
        one_echo(AF_UNIX, 0, unix_path);
    assert_co_clean();
    weft_server_free(server);
    assert_true(access(unix_path, F_OK) != 0);
    assert_int_equal(fd_count(), before);
    rmdir(unix_dir);
}

/* ---- many connections, and a server closed under its clients ------------- */

#define MANY 10000
#define MANY_CLIENTS 4

static weft_server *many_server;

static void *many_client(void *arg)
{
    (void)arg;
    int port = weft_server_port(many_server);
    for (int i = 0; i < MANY / MANY_CLIENTS; i++) {
        int fd;
        if (!CO_CHECK_RC(dial4(port, &fd), WEFT_OK))
            return NULL;
        bool ended = ended_within(fd, WAIT);
        weft_sock_close(fd);
        if (!CO_CHECK(ended))
            return NULL;
    }
    return NULL;
}

static void *many_main(void *arg)
{
    (void)arg;
    weft_server_options o = options_on("127.0.0.1");
    if (!CO_CHECK_RC(weft_start_server(quit_handler, NULL, &o, &many_server), WEFT_OK))
        return NULL;
    weft_future *clients[MANY_CLIENTS];
    for (int i = 0; i < MANY_CLIENTS; i++)
        clients[i] = co_spawn(many_client, NULL);
    for (int i = 0; i < MANY_CLIENTS; i++)
        CO_CHECK_RC(co_finish(clients[i], 120), WEFT_OK);
    wait_until(weft_server_connections(many_server) == 0, WAIT);
    CO_CHECK_INT(weft_server_connections(many_server), 0);
    weft_server_free(many_server);
    return NULL;
}

/* 10,000 connections opened and ended: every one is served, and not one
 * descriptor is left behind. */
static void test_many_connections_no_leak(void **state)
{
    (void)state;
    reset_counts();
    int before = fd_count();
    double t0 = weft_monotonic();
    run_coro(many_main, NULL);
    assert_int_equal(atomic_load(&handled), MANY);
    assert_int_equal(fd_count(), before);
    print_message("  %d connections in %.2f s\n", MANY, weft_monotonic() - t0);
}

#define HELD 5

static void *free_with_clients_main(void *arg)
{
    (void)arg;
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    reset_counts();
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    int fds[HELD];
    for (int i = 0; i < HELD; i++)
        if (CO_CHECK_RC(dial4(weft_server_port(server), &fds[i]), WEFT_OK))
            echoes(fds[i], "held\n");
    CO_CHECK_INT(weft_server_connections(server), HELD);
    double t0 = weft_monotonic();
    weft_server_free(server); /* close, abort the clients, wait for them */
    CO_CHECK(weft_monotonic() - t0 < IMMEDIATE * 4);
    for (int i = 0; i < HELD; i++) {
        if (fds[i] >= 0) {
            CO_CHECK(ended_within(fds[i], WAIT));
            weft_sock_close(fds[i]);
        }
    }
    return NULL;
}

/* Freeing a server whose clients are connected ends them at once, and
 * leaves no descriptor behind. */
static void test_free_with_clients(void **state)
{
    (void)state;
    int before = fd_count();
    run_coro(free_with_clients_main, NULL);
    assert_int_equal(atomic_load(&handled), HELD);
    assert_int_equal(fd_count(), before);
}

/* ---- hostile clients ------------------------------------------------------- */

#define LIMIT 3

static void *max_connections_main(void *arg)
{
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    o.max_connections = LIMIT;
    o.threads = (unsigned)(uintptr_t)arg;
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    int port = weft_server_port(server), fds[LIMIT], extra;
    for (int i = 0; i < LIMIT; i++)
        if (CO_CHECK_RC(dial4(port, &fds[i]), WEFT_OK))
            echoes(fds[i], "in\n");
    CO_CHECK_INT(weft_server_connections(server), LIMIT);
    /* One over the limit: taken and ended at once. */
    if (CO_CHECK_RC(dial4(port, &extra), WEFT_OK)) {
        double t0 = weft_monotonic();
        CO_CHECK(ended_within(extra, WAIT));
        CO_CHECK(weft_monotonic() - t0 < IMMEDIATE * 4);
        weft_sock_close(extra);
    }
    /* The others are still served. */
    for (int i = 0; i < LIMIT; i++)
        if (fds[i] >= 0)
            echoes(fds[i], "still\n");
    CO_CHECK_INT(weft_server_connections(server), LIMIT);
    /* One leaves: its place is free for the next. */
    weft_sock_close(fds[0]);
    wait_until(weft_server_connections(server) == LIMIT - 1, WAIT);
    if (CO_CHECK_RC(dial4(port, &fds[0]), WEFT_OK))
        echoes(fds[0], "next\n");
    for (int i = 0; i < LIMIT; i++)
        weft_sock_close(fds[i]);
    weft_server_free(server);
    return NULL;
}

/* max_connections: the connection over the limit is closed at once, the
 * others go on, and a place freed is taken by the next client; with
 * threads the limit is for all of them together. */
static void test_max_connections(void **state)
{
    (void)state;
    int before = fd_count();
    run_coro(max_connections_main, (void *)(uintptr_t)0);
    run_coro(max_connections_main, (void *)(uintptr_t)2);
    assert_int_equal(fd_count(), before);
}

#define FIRST_BYTE 0.2

static void *silent_client_main(void *arg)
{
    (void)arg;
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    o.first_byte_timeout = FIRST_BYTE;
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    int silent, talker;
    double t0 = weft_monotonic();
    if (CO_CHECK_RC(dial4(weft_server_port(server), &silent), WEFT_OK) &&
        CO_CHECK_RC(dial4(weft_server_port(server), &talker), WEFT_OK)) {
        echoes(talker, "quick\n");
        /* The one that sends nothing is cut off after first_byte_timeout. */
        CO_CHECK(ended_within(silent, WAIT));
        double took = weft_monotonic() - t0;
        CO_CHECK(took >= 0.6 * FIRST_BYTE && took < 10 * FIRST_BYTE);
        weft_sock_close(silent);
        /* The one that sent its first byte in time is not bound by it. */
        CO_CHECK_RC(weft_sleep(2 * FIRST_BYTE), WEFT_OK);
        echoes(talker, "later\n");
        weft_sock_close(talker);
    }
    wait_until(weft_server_connections(server) == 0, WAIT);
    CO_CHECK_INT(weft_server_connections(server), 0);
    weft_server_free(server);
    return NULL;
}

/* first_byte_timeout: a client that connects and sends nothing is closed
 * after it; one that sent something keeps its connection. */
static void test_first_byte_timeout(void **state)
{
    (void)state;
    run_coro(silent_client_main, NULL);
}

#define READ_TIMEOUT 0.5

static void *slowloris_main(void *arg)
{
    (void)arg;
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    o.read_timeout = READ_TIMEOUT;
    o.max_connections = 1;
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    int fd;
    if (!CO_CHECK_RC(dial4(weft_server_port(server), &fd), WEFT_OK))
        return NULL;
    /* A first line, at once: from here on read_timeout bounds each read. */
    echoes(fd, "first\n");
    /* Then one byte every 100 ms, never a whole line: at most 60 (6 s). */
    double t0 = weft_monotonic();
    bool cut = false;
    for (int i = 0; i < 60 && !cut; i++) {
        char buf[16];
        size_t got = 0;
        int rc = weft_sock_sendall(fd, "x", 1, NULL, WAIT);
        if (rc == WEFT_OK)
            rc = weft_sock_recv(fd, buf, sizeof buf, &got, 0.1);
        cut = (rc == WEFT_OK && got == 0) || rc == WEFT_ECONNRESET || rc == WEFT_EPIPE;
    }
    double took = weft_monotonic() - t0;
    CO_CHECK(cut);
    CO_CHECK(took >= 0.6 * READ_TIMEOUT && took < 10 * READ_TIMEOUT);
    CO_CHECK_INT(atomic_load(&last_rc), WEFT_ETIMEDOUT);
    weft_sock_close(fd);
    /* Its place (the only one) is free again. */
    wait_until(weft_server_connections(server) == 0, WAIT);
    CO_CHECK_INT(weft_server_connections(server), 0);
    one_echo(AF_INET, weft_server_port(server), NULL);
    weft_server_free(server);
    return NULL;
}

/* read_timeout: a client trickling a line a byte every 100 ms is cut off
 * when one read has waited read_timeout, and its place is freed. */
static void test_slowloris(void **state)
{
    (void)state;
    reset_counts();
    run_coro(slowloris_main, NULL);
}

static void *vanishing_peer_main(void *arg)
{
    (void)arg;
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    if (!CO_CHECK_RC(weft_start_server(flood_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    for (int round = 0; round < 3; round++) {
        int fd;
        char buf[1000];
        size_t got = 0;
        if (!CO_CHECK_RC(dial4(weft_server_port(server), &fd), WEFT_OK))
            break;
        CO_CHECK_RC(weft_sock_recv(fd, buf, sizeof buf, &got, WAIT), WEFT_OK);
        /* Gone with unread data and no lingering: the server sees a reset. */
        struct linger now = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
        weft_sock_close(fd);
        wait_until(weft_server_connections(server) == 0, WAIT);
        CO_CHECK_INT(weft_server_connections(server), 0);
        int rc = atomic_load(&last_rc);
        CO_CHECK(rc == WEFT_ECONNRESET || rc == WEFT_EPIPE);
        atomic_store(&last_rc, -1);
    }
    weft_server_free(server);
    return NULL;
}

/* A peer that vanishes while the handler writes: the handler's write or
 * drain fails (no SIGPIPE kills the process), and nothing leaks. */
static void test_peer_vanishes_mid_write(void **state)
{
    (void)state;
    reset_counts();
    int before = fd_count();
    run_coro(vanishing_peer_main, NULL);
    assert_int_equal(atomic_load(&handled), 3);
    assert_int_equal(fd_count(), before);
}

static void *out_of_descriptors_main(void *arg)
{
    (void)arg;
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    reset_counts();
    if (!CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK))
        return NULL;
    int fd, probe;
    if (!CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &fd), WEFT_OK))
        return NULL;
    /* No descriptor left below the limit: accept fails with EMFILE. */
    struct rlimit was, tight;
    getrlimit(RLIMIT_NOFILE, &was);
    probe = dup(0);
    close(probe);
    tight = was;
    tight.rlim_cur = (rlim_t)probe;
    CO_CHECK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
    weft_address a;
    size_t n;
    char port[16];
    snprintf(port, sizeof port, "%d", weft_server_port(server));
    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", port, AF_INET, SOCK_STREAM, false, &a, 1, &n, 0),
                WEFT_OK);
    CO_CHECK_RC(weft_sock_connect(fd, (struct sockaddr *)&a.storage, a.len, WAIT), WEFT_OK);
    /* The server waits between tries: it does not spin on the error. */
    double cpu0 = thread_cpu_seconds(), t0 = weft_monotonic();
    CO_CHECK_RC(weft_sleep(0.35), WEFT_OK);
    double cpu = thread_cpu_seconds() - cpu0, wall = weft_monotonic() - t0;
    CO_CHECK(cpu < 0.5 * wall);
    CO_CHECK_INT(atomic_load(&handled), 0);
    CO_CHECK(setrlimit(RLIMIT_NOFILE, &was) == 0);
    /* Descriptors again: the waiting client is served. */
    echoes(fd, "served\n");
    weft_sock_close(fd);
    weft_server_free(server);
    return NULL;
}

/* Out of descriptors, the server pauses and tries again instead of
 * spinning, and serves the client once a descriptor is free. */
static void test_out_of_descriptors(void **state)
{
    (void)state;
    run_coro(out_of_descriptors_main, NULL);
}

/* ---- bad input --------------------------------------------------------------- */

static void *bad_input_main(void *arg)
{
    (void)arg;
    weft_server *server = (weft_server *)&server, *other = NULL;
    weft_server_options o = options_on("127.0.0.1");
    CO_CHECK_RC(weft_start_server(NULL, NULL, &o, &server), WEFT_EINVAL);
    CO_CHECK(server == NULL);
    CO_CHECK_RC(weft_start_server(echo_handler, NULL, NULL, &server), WEFT_EINVAL);
    CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, NULL), WEFT_EINVAL);
    o.read_timeout = NAN;
    CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_EINVAL);
    o.read_timeout = 0;
    o.backlog = -1;
    CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_EINVAL);
    o.backlog = 0;
    o.stream.high_water = 1024; /* water marks the wrong way round */
    o.stream.low_water = 4096;
    CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_EINVAL);
    o.stream.high_water = o.stream.low_water = 0;
    o.host = "no-such-host.invalid";
    CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_ENAME);
    o.host = "127.0.0.1";
    /* The port of a server listening now is taken. */
    if (CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &other), WEFT_OK)) {
        char port[16];
        snprintf(port, sizeof port, "%d", weft_server_port(other));
        o.port = port;
        CO_CHECK_RC(weft_start_server(echo_handler, NULL, &o, &server), WEFT_EADDRINUSE);
        CO_CHECK(server == NULL);
        CO_CHECK_RC(weft_server_wait_closed(other, NAN), WEFT_EINVAL);
        weft_server_free(other);
    }
    CO_CHECK_RC(weft_server_serve_forever(NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_server_start_serving(NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_server_wait_closed(NULL, 0), WEFT_EINVAL);
    CO_CHECK(!weft_server_is_serving(NULL));
    CO_CHECK_INT(weft_server_connections(NULL), 0);
    CO_CHECK_INT(weft_server_port(NULL), 0);
    weft_server_close(NULL);
    weft_server_close_clients(NULL);
    weft_server_abort_clients(NULL);
    weft_server_free(NULL);
    return NULL;
}

/* Bad arguments are statuses; threads 0 outside a coroutine is
 * WEFT_ESTATE (it serves on the caller's loop). */
static void test_bad_input(void **state)
{
    (void)state;
    int before = fd_count();
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    assert_int_equal(weft_start_server(echo_handler, NULL, &o, &server), WEFT_ESTATE);
    assert_null(server);
    run_coro(bad_input_main, NULL);
    assert_int_equal(fd_count(), before);
}

/* ---- found in review -------------------------------------------------------- */

#define ROUND_CLIENTS 12

/* Dial n clients and echo a line on each (their handlers have started). */
static bool dial_round(int port, int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        fds[i] = -1;
        if (!CO_CHECK_RC(dial4(port, &fds[i]), WEFT_OK) || !echoes(fds[i], "round\n"))
            return false;
    }
    return true;
}

static void end_round(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            CO_CHECK(ended_within(fds[i], WAIT));
            weft_sock_close(fds[i]);
        }
    }
}

/* A server on three threads, reached from a plain thread: close_clients
 * ends every connection on every thread gracefully, abort_clients at
 * once, the server still serving between rounds; free ends the last
 * round.  The count of connections comes back to 0 each time, and no
 * descriptor is left. */
/* An echo server on loopback with threads of its own, and its port. */
static weft_server *echo_on_threads(unsigned threads, int *port)
{
    weft_server *server = NULL;
    weft_server_options o = options_on("127.0.0.1");
    o.threads = threads;
    assert_int_equal(weft_start_server(echo_handler, NULL, &o, &server), WEFT_OK);
    *port = weft_server_port(server);
    return server;
}

/* close_clients and abort_clients end the connections there are when
 * they are called: a loop that gets the call late (threads N) must not
 * end one it accepted meanwhile.  Called with no connection at all, then
 * clients dialled at once: every one is served. */
static void test_clients_closing_spares_later_connections(void **state)
{
    (void)state;
    int before = fd_count();
    co_reset();
    int port;
    weft_server *server = echo_on_threads(2, &port);
    int fds[ROUND_CLIENTS];
    for (int round = 0; round < 20; round++) {
        if (round % 2)
            weft_server_abort_clients(server);
        else
            weft_server_close_clients(server);
        if (!dial_round(port, fds, ROUND_CLIENTS))
            break;
        for (int i = 0; i < ROUND_CLIENTS; i++)
            weft_sock_close(fds[i]);
    }
    weft_server_free(server);
    assert_co_clean();
    assert_int_equal(fd_count(), before);
}

static void test_threads_close_and_abort_clients(void **state)
{
    (void)state;
    int before = fd_count();
    co_reset();
    reset_counts();
    int port;
    weft_server *server = echo_on_threads(3, &port);
    int fds[ROUND_CLIENTS];
    for (int round = 0; round < 3; round++) {
        if (!dial_round(port, fds, ROUND_CLIENTS))
            break;
        CO_CHECK_INT(weft_server_connections(server), ROUND_CLIENTS);
        if (round == 0)
            weft_server_close_clients(server);
        else if (round == 1)
            weft_server_abort_clients(server);
        else
            weft_server_free(server);
        end_round(fds, ROUND_CLIENTS);
        if (round < 2) {
            wait_until(weft_server_connections(server) == 0, WAIT);
            CO_CHECK_INT(weft_server_connections(server), 0);
            CO_CHECK(weft_server_is_serving(server));
        }
    }
    assert_co_clean();
    assert_int_equal(atomic_load(&handled), 3 * ROUND_CLIENTS);
    assert_int_equal(fd_count(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_request),
        cmocka_unit_test(test_echo_ipv4),
        cmocka_unit_test(test_echo_ipv6),
        cmocka_unit_test(test_echo_unix),
        cmocka_unit_test(test_every_interface),
        cmocka_unit_test(test_handler_failure_reported),
        cmocka_unit_test(test_delay_start_and_serve_forever),
        cmocka_unit_test(test_serve_forever_until_close),
        cmocka_unit_test(test_wait_closed_close_clients),
        cmocka_unit_test(test_wait_closed_abort_clients),
        cmocka_unit_test(test_threads_spread),
        cmocka_unit_test(test_threads_unix),
        cmocka_unit_test(test_many_connections_no_leak),
        cmocka_unit_test(test_free_with_clients),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_first_byte_timeout),
        cmocka_unit_test(test_slowloris),
        cmocka_unit_test(test_peer_vanishes_mid_write),
        cmocka_unit_test(test_out_of_descriptors),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_threads_close_and_abort_clients),
        cmocka_unit_test(test_clients_closing_spares_later_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
