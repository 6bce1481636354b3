/* SPDX-License-Identifier: MIT */
/* test_sock.c — the low-level socket calls of weft/net.h (weft_sock_*,
 * weft_getaddrinfo, weft_address_format), in coroutines and in plain
 * threads, over loopback only: 127.0.0.1, ::1 (skipped where the machine
 * has none), socketpairs and Unix sockets in a fresh temporary directory.
 *
 * Most scenarios are written once and run twice:
 *   - in coroutines: the scenario is the main coroutine of a loop, and the
 *     parties it starts (a tiny server, a reader, a waiter to cancel) are
 *     tasks of that loop, cancelled with weft_future_cancel;
 *   - in threads: the scenario runs on the test's own thread (its calls
 *     block it, with timeouts), and the parties are tasks of a weft thread
 *     pool made cancellable (weft_cancellable), cancelled through their
 *     futures in the same way.
 *
 * Every wait has a timeout (a long one where the test expects the wait to
 * be cut short), so a hang fails by a timeout; each test counts the
 * process's descriptors before and after, so none may leak.
 */
#include "coro_harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A wait the test expects to be cut short (cancelled, woken). */
#define LONG_WAIT 20.0
/* How soon a cancelled or woken call must be back: on an idle machine a
 * coroutine's is at once and a pool task's within 50 ms; the margin is for
 * a loaded machine running sanitizers. */
#define PROMPTLY 1.0

#define SA(a) ((struct sockaddr *)(void *)&(a)->storage)

/* ---- descriptors ------------------------------------------------------ */

/* Open descriptors of this process, not counting the directory read. */
static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

/* The count must come back to `before` (a lookup thread or a pool worker
 * may still be letting go of what it used: give it a moment). */
static void assert_fds_back(int before)
{
    wait_until(fd_count() == before, 5.0);
    assert_int_equal(fd_count(), before);
}

/* ---- addresses and sockets -------------------------------------------- */

static char sock_dir[64];   /* mkdtemp'd in main, for the Unix sockets */
static atomic_int path_serial;
static bool have_ipv6;

static const int families[] = {AF_INET, AF_INET6, AF_UNIX};
#define FAMILIES (sizeof families / sizeof families[0])

static const char *family_name(int family)
{
    return family == AF_INET ? "AF_INET" : family == AF_INET6 ? "AF_INET6" : "AF_UNIX";
}

/* The families this machine can test (::1 may be missing). */
static bool family_testable(int family) { return family != AF_INET6 || have_ipv6; }

/* A loopback address of family with port 0, or a new path in sock_dir. */
static void fresh_address(int family, weft_address *a)
{
    memset(a, 0, sizeof *a);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)&a->storage;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->len = sizeof *in;
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&a->storage;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        a->len = sizeof *in6;
    } else {
        struct sockaddr_un *un = (struct sockaddr_un *)(void *)&a->storage;
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof un->sun_path, "%s/s%d", sock_dir,
                 atomic_fetch_add(&path_serial, 1));
        a->len = (socklen_t)sizeof *un;
    }
}

/* A bound socket (and where it is bound), or a listening one. */
typedef struct endpoint {
    int fd;
    int family;
    weft_address addr;
} endpoint;

static bool bind_endpoint(int family, int type, endpoint *e)
{
    e->fd = -1;
    e->family = family;
    fresh_address(family, &e->addr);
    if (!CO_CHECK_RC(weft_sock_open(family, type, &e->fd), WEFT_OK))
        return false;
    if (!CO_CHECK_INT(bind(e->fd, SA(&e->addr), e->addr.len), 0))
        return false;
    e->addr.len = sizeof e->addr.storage;
    return CO_CHECK_INT(getsockname(e->fd, SA(&e->addr), &e->addr.len), 0);
}

static bool listen_endpoint(int family, int backlog, endpoint *e)
{
    return bind_endpoint(family, SOCK_STREAM, e) && CO_CHECK_INT(listen(e->fd, backlog), 0);
}

/* Close it (weft_sock_close: the loop forgets it) and remove its path. */
static void close_endpoint(endpoint *e)
{
    if (e->fd >= 0)
        CO_CHECK_RC(weft_sock_close(e->fd), WEFT_OK);
    e->fd = -1;
    if (e->family == AF_UNIX)
        unlink(((struct sockaddr_un *)(void *)&e->addr.storage)->sun_path);
}

static void close_fd(int fd)
{
    if (fd >= 0)
        CO_CHECK_RC(weft_sock_close(fd), WEFT_OK);
}

/* A connected stream pair of family: client and server ends. */
static bool connected_pair(int family, int *client, int *server)
{
    endpoint l;
    *client = *server = -1;
    bool ok = listen_endpoint(family, 16, &l) &&
              CO_CHECK_RC(weft_sock_open(family, SOCK_STREAM, client), WEFT_OK) &&
              CO_CHECK_RC(weft_sock_connect(*client, SA(&l.addr), l.addr.len, 10), WEFT_OK) &&
              CO_CHECK_RC(weft_sock_accept(l.fd, server, NULL, NULL, 10), WEFT_OK);
    close_endpoint(&l);
    return ok;
}

/* A Unix stream socketpair made non-blocking by weft_sock_set_nonblocking. */
static void stream_pair(int sv[2])
{
    CO_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CO_CHECK_RC(weft_sock_set_nonblocking(sv[0]), WEFT_OK);
    CO_CHECK_RC(weft_sock_set_nonblocking(sv[1]), WEFT_OK);
}

static void close_pair(int sv[2])
{
    close_fd(sv[0]);
    close_fd(sv[1]);
}

static void format_of(const weft_address *a, char *text, size_t size)
{
    CO_CHECK_RC(weft_address_format((const struct sockaddr *)(const void *)&a->storage, a->len,
                                    text, size),
                WEFT_OK);
}

/* getsockname / getpeername, formatted. */
static void name_of(int fd, bool peer, char *text, size_t size)
{
    weft_address a;
    a.len = sizeof a.storage;
    int r = peer ? getpeername(fd, SA(&a), &a.len) : getsockname(fd, SA(&a), &a.len);
    CO_CHECK_INT(r, 0);
    format_of(&a, text, size);
}

/* Send until the socket takes no more, then again after a pause (the
 * peer's kernel may still be taking some in) until it stays full.  How
 * many bytes (zeros) went. */
static size_t fill_send_buffer(int fd)
{
    static const char zeros[65536];
    size_t filled = 0, before;
    int rounds = 0;
    do {
        before = filled;
        for (int i = 0; i < 4096; i++) {
            size_t sent = 0;
            int rc = weft_sock_send(fd, zeros, sizeof zeros, &sent, 0);
            if (rc == WEFT_ETIMEDOUT)
                break;
            if (!CO_CHECK_RC(rc, WEFT_OK))
                return filled;
            filled += sent;
        }
        nap(0.05);
    } while (filled != before && ++rounds < 100);
    return filled;
}

/* ---- running a scenario in coroutines or in threads -------------------- */

typedef enum run_mode { IN_COROUTINES, IN_THREADS } run_mode;
static run_mode mode;
static weft_executor *pool; /* the parties' in IN_THREADS */

/* Start a party: a task of the running loop, or a pool task. */
static weft_future *party_start(weft_task_fn fn, void *arg)
{
    if (mode == IN_COROUTINES)
        return co_spawn(fn, arg);
    weft_future *f = NULL;
    CO_CHECK_RC(weft_executor_submit(pool, fn, arg, &f), WEFT_OK);
    return f;
}

/* The first thing a party does: a pool task's waits become cancellable
 * (a coroutine's are always). */
static void party_begin(void)
{
    if (mode == IN_THREADS)
        weft_cancellable(true);
}

/* Wait for a party to end (a party records its own statuses; a cancelled
 * coroutine ends cancelled) and release it. */
static void party_join(weft_future *f)
{
    if (!f)
        return;
    int rc = weft_future_result_timeout(f, 60, NULL);
    if (rc != WEFT_ECANCELLED)
        CO_CHECK_RC(rc, WEFT_OK);
    weft_future_release(f);
}

/* A party's progress through its blocking call. */
enum { NOT_YET, BLOCKING, RETURNED };

/* Cancel f once its party is in its blocking call; how long the call then
 * took to return. */
static double cancel_when_blocked(weft_future *f, atomic_int *phase)
{
    wait_until(atomic_load(phase) == BLOCKING, 10);
    CO_CHECK_INT(atomic_load(phase), BLOCKING);
    nap(0.05); /* into the call's wait */
    double t0 = weft_monotonic();
    weft_future_cancel(f);
    wait_until(atomic_load(phase) == RETURNED, LONG_WAIT + 5);
    return weft_monotonic() - t0;
}

typedef void (*scenario_fn)(void);
typedef struct scenario {
    scenario_fn fn;
} scenario;

static void *scenario_main(void *arg)
{
    ((scenario *)arg)->fn();
    return NULL;
}

static void run_in(run_mode m, scenario_fn fn)
{
    int before = fd_count();
    mode = m;
    if (m == IN_COROUTINES) {
        scenario s = {fn};
        run_coro(scenario_main, &s);
    } else {
        weft_thread_pool_options o = {16, "sock-party", NULL, NULL, 0};
        assert_int_equal(weft_thread_pool_new(&pool, &o), WEFT_OK);
        co_reset();
        fn();
        assert_int_equal(weft_executor_shutdown(pool, true, false), WEFT_OK);
        assert_int_equal(weft_executor_free(pool), WEFT_OK);
        pool = NULL;
        assert_co_clean();
    }
    assert_fds_back(before);
}

#define IN_BOTH(fn)                                                            \
    static void fn##_in_coroutines(void **state)                              \
    {                                                                         \
        (void)state;                                                          \
        run_in(IN_COROUTINES, fn);                                            \
    }                                                                         \
    static void fn##_in_threads(void **state)                                 \
    {                                                                         \
        (void)state;                                                          \
        run_in(IN_THREADS, fn);                                               \
    }

#define IN_COROUTINES_ONLY(fn)                                                 \
    static void fn##_in_coroutines(void **state)                              \
    {                                                                         \
        (void)state;                                                          \
        run_in(IN_COROUTINES, fn);                                            \
    }

/* ---- a debug-mode loop refuses blocking sockets ------------------------ */

/* In debug mode a call that would wait on a socket in blocking mode is a
 * mistake (it would block the whole loop): connect, sendall, send, recv,
 * accept, sendto and recvfrom refuse it with WEFT_EINVAL, before doing
 * anything; the same socket made non-blocking is accepted. */
static void *debug_main(void *unused)
{
    (void)unused;
    int sv[2];
    CO_CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0); /* blocking */
    endpoint l;
    if (!listen_endpoint(AF_INET, 4, &l))
        return NULL;
    CO_CHECK_INT(fcntl(l.fd, F_SETFL, 0), 0); /* blocking listener */
    int blocking_client = socket(AF_INET, SOCK_STREAM, 0);
    CO_CHECK(blocking_client >= 0);
    char buf[8] = "x";
    size_t got = 99, sent = 99;
    int conn = 99;

    CO_CHECK_RC(weft_sock_recv(sv[0], buf, sizeof buf, &got, 1), WEFT_EINVAL);
    CO_CHECK_INT(got, 0);
    CO_CHECK_RC(weft_sock_sendall(sv[0], buf, 1, &sent, 1), WEFT_EINVAL);
    CO_CHECK_INT(sent, 0);
    CO_CHECK_RC(weft_sock_send(sv[0], buf, 1, &sent, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_sendto(sv[0], buf, 1, NULL, 0, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recvfrom(sv[0], buf, sizeof buf, &got, NULL, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_accept(l.fd, &conn, NULL, NULL, 1), WEFT_EINVAL);
    CO_CHECK_INT(conn, -1);
    CO_CHECK_RC(weft_sock_connect(blocking_client, SA(&l.addr), l.addr.len, 1), WEFT_EINVAL);
    /* Nothing was sent, nor connected. */
    CO_CHECK_RC(weft_sock_set_nonblocking(sv[1]), WEFT_OK);
    CO_CHECK_RC(weft_sock_recv(sv[1], buf, sizeof buf, &got, 0), WEFT_ETIMEDOUT);

    /* Non-blocking now: accepted. */
    CO_CHECK_RC(weft_sock_set_nonblocking(sv[0]), WEFT_OK);
    CO_CHECK_RC(weft_sock_sendall(sv[0], "ok", 2, &sent, 1), WEFT_OK);
    CO_CHECK_RC(weft_sock_recv(sv[1], buf, sizeof buf, &got, 5), WEFT_OK);
    CO_CHECK_INT(got, 2);
    CO_CHECK_RC(weft_sock_set_nonblocking(blocking_client), WEFT_OK);
    CO_CHECK_RC(weft_sock_set_nonblocking(l.fd), WEFT_OK);
    CO_CHECK_RC(weft_sock_connect(blocking_client, SA(&l.addr), l.addr.len, 5), WEFT_OK);
    CO_CHECK_RC(weft_sock_accept(l.fd, &conn, NULL, NULL, 5), WEFT_OK);
    close_fd(conn);
    close_fd(blocking_client);
    close_endpoint(&l);
    close_pair(sv);
    return NULL;
}

static void debug_mode_refuses_blocking_sockets(void **state)
{
    (void)state;
    int before = fd_count();
    weft_loop_options o = WEFT_LOOP_OPTIONS_INIT;
    o.debug = true;
    mode = IN_COROUTINES;
    run_coro_with(debug_main, NULL, &o);
    assert_fds_back(before);
}

/* ---- a client against a tiny server ------------------------------------ */

static const char request_text[] = "GET / HTTP/1.0\r\n\r\n";
static const char reply_text[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";

typedef struct tiny_server {
    int listener;
    char request[128];
    size_t request_len;
} tiny_server;

/* Accept one client, read its request to the blank line, answer, shut
 * the sending side down, wait for the client's end of file, close. */
static void *tiny_server_run(void *arg)
{
    tiny_server *s = arg;
    party_begin();
    int conn = -1;
    if (!CO_CHECK_RC(weft_sock_accept(s->listener, &conn, NULL, NULL, 10), WEFT_OK))
        return NULL;
    while (s->request_len < sizeof s->request - 1 && !strstr(s->request, "\r\n\r\n")) {
        size_t got = 0;
        if (!CO_CHECK_RC(weft_sock_recv(conn, s->request + s->request_len,
                                        sizeof s->request - 1 - s->request_len, &got, 10),
                         WEFT_OK) ||
            got == 0)
            break;
        s->request_len += got;
        s->request[s->request_len] = '\0';
    }
    CO_CHECK_RC(weft_sock_sendall(conn, reply_text, sizeof reply_text - 1, NULL, 10), WEFT_OK);
    CO_CHECK_INT(shutdown(conn, SHUT_WR), 0);
    char rest[16];
    size_t got = 1;
    while (got > 0 && CO_CHECK_RC(weft_sock_recv(conn, rest, sizeof rest, &got, 10), WEFT_OK)) {
    }
    close_fd(conn);
    return NULL;
}

/* connect, sendall the request, recv the reply (which starts with the
 * status line; recv fills the buffer it is given and says how much), then
 * end of file once the server has shut its side down: got == 0, and again
 * on the next call. */
static void client_against(int family)
{
    endpoint l;
    if (!listen_endpoint(family, 4, &l))
        return;
    tiny_server s = {.listener = l.fd};
    weft_future *server = party_start(tiny_server_run, &s);
    int c = -1;
    CO_CHECK_RC(weft_sock_open(family, SOCK_STREAM, &c), WEFT_OK);
    CO_CHECK_RC(weft_sock_connect(c, SA(&l.addr), l.addr.len, 10), WEFT_OK);
    size_t sent = 0;
    CO_CHECK_RC(weft_sock_sendall(c, request_text, sizeof request_text - 1, &sent, 10), WEFT_OK);
    CO_CHECK_INT(sent, sizeof request_text - 1);
    char reply[256];
    size_t total = 0, got = 0;
    do {
        if (!CO_CHECK_RC(weft_sock_recv(c, reply + total, sizeof reply - 1 - total, &got, 10),
                         WEFT_OK))
            break;
        total += got;
    } while (got > 0 && total < sizeof reply - 1);
    reply[total] = '\0';
    CO_CHECK(strncmp(reply, "HTTP/1.0 200 OK", 15) == 0);
    CO_CHECK(strcmp(reply, reply_text) == 0);
    CO_CHECK_RC(weft_sock_recv(c, reply, sizeof reply, &got, 10), WEFT_OK);
    CO_CHECK_INT(got, 0);
    CO_CHECK_INT(shutdown(c, SHUT_WR), 0);
    party_join(server);
    CO_CHECK(strcmp(s.request, request_text) == 0);
    close_fd(c);
    close_endpoint(&l);
}

static void client_ops(void)
{
    for (size_t i = 0; i < FAMILIES; i++)
        if (family_testable(families[i]))
            client_against(families[i]);
}
IN_BOTH(client_ops)

/* ---- a cancelled recv takes nothing ------------------------------------ */

typedef struct waiter {
    int fd;
    atomic_int phase;
    int rc;
    size_t got;
    char buf[64];
} waiter;

static void *recv_waiter(void *arg)
{
    waiter *w = arg;
    party_begin();
    atomic_store(&w->phase, BLOCKING);
    w->rc = weft_sock_recv(w->fd, w->buf, sizeof w->buf, &w->got, LONG_WAIT);
    atomic_store(&w->phase, RETURNED);
    return NULL;
}

static void expect_to_read(int fd, const char *text)
{
    char buf[64];
    size_t got = 0, n = strlen(text);
    CO_CHECK_RC(weft_sock_recv(fd, buf, sizeof buf, &got, 5), WEFT_OK);
    CO_CHECK_INT(got, n);
    CO_CHECK(got == n && memcmp(buf, text, n) == 0);
}

static void *cancel_from_thread(void *arg)
{
    weft_future_cancel(arg);
    return NULL;
}

/* A recv waiting for data is cancelled: it returns WEFT_ECANCELLED
 * promptly with nothing taken; data sent afterwards is all there for the
 * next recv (also when a coroutine is cancelled from another thread).  And
 * when the data comes just as the cancel does (both before the waiter
 * runs again), the cancelled call still takes nothing. */
static void cancelled_recv_takes_nothing(void)
{
    int sv[2];
    stream_pair(sv);
    waiter w = {.fd = sv[0]};
    weft_future *f = party_start(recv_waiter, &w);
    double took = cancel_when_blocked(f, &w.phase);
    party_join(f);
    CO_CHECK_RC(w.rc, WEFT_ECANCELLED);
    CO_CHECK_INT(w.got, 0);
    CO_CHECK(took < PROMPTLY);
    CO_CHECK_RC(weft_sock_sendall(sv[1], "abcdef", 6, NULL, 5), WEFT_OK);
    expect_to_read(sv[0], "abcdef");

    if (mode == IN_COROUTINES) { /* cancelled from a plain thread */
        waiter w3 = {.fd = sv[0]};
        f = party_start(recv_waiter, &w3);
        wait_until(atomic_load(&w3.phase) == BLOCKING, 10);
        nap(0.05);
        weft_thread *t = start_thread(cancel_from_thread, f);
        join_thread(t); /* before f is released: the thread uses it */
        party_join(f);
        CO_CHECK_RC(w3.rc, WEFT_ECANCELLED);
        CO_CHECK_INT(w3.got, 0);
        CO_CHECK_RC(weft_sock_sendall(sv[1], "ghi", 3, NULL, 5), WEFT_OK);
        expect_to_read(sv[0], "ghi");
    }

    waiter w2 = {.fd = sv[0]};
    f = party_start(recv_waiter, &w2);
    wait_until(atomic_load(&w2.phase) == BLOCKING, 10);
    nap(0.05);
    CO_CHECK_RC(weft_sock_sendall(sv[1], "xyz", 3, NULL, 5), WEFT_OK);
    weft_future_cancel(f);
    party_join(f);
    if (mode == IN_COROUTINES || w2.rc == WEFT_ECANCELLED) {
        /* A coroutine cannot have run between the two: cancelled. */
        CO_CHECK_RC(w2.rc, WEFT_ECANCELLED);
        CO_CHECK_INT(w2.got, 0);
        expect_to_read(sv[0], "xyz");
    } else { /* a thread may have seen the data first */
        CO_CHECK_RC(w2.rc, WEFT_OK);
        CO_CHECK(w2.got == 3 && memcmp(w2.buf, "xyz", 3) == 0);
    }
    close_pair(sv);
}
IN_BOTH(cancelled_recv_takes_nothing)

/* Wait on fd (a recv) while, a little later, `from` sends `text`. */
static void recv_while_sent(int fd, int from, const char *text)
{
    waiter w = {.fd = fd};
    weft_future *f = party_start(recv_waiter, &w);
    wait_until(atomic_load(&w.phase) == BLOCKING, 10);
    nap(0.05);
    double t0 = weft_monotonic();
    size_t n = strlen(text);
    CO_CHECK_RC(weft_sock_sendall(from, text, n, NULL, 5), WEFT_OK);
    party_join(f);
    CO_CHECK(weft_monotonic() - t0 < PROMPTLY);
    CO_CHECK_RC(w.rc, WEFT_OK);
    CO_CHECK(w.got == n && memcmp(w.buf, text, n) == 0);
}

/* ---- a cancelled sendall, then another --------------------------------- */

typedef struct sender {
    int fd;
    const char *data;
    size_t n;
    atomic_int phase;
    int rc;
    size_t sent;
} sender;

static void *sendall_waiter(void *arg)
{
    sender *s = arg;
    party_begin();
    atomic_store(&s->phase, BLOCKING);
    s->rc = weft_sock_sendall(s->fd, s->data, s->n, &s->sent, LONG_WAIT);
    atomic_store(&s->phase, RETURNED);
    return NULL;
}

/* Reads everything until end of file: how much, and the last bytes. */
typedef struct drainer {
    int fd;
    int rc;
    size_t total;
    char tail[16];
    size_t tail_len;
} drainer;

static void keep_tail(drainer *d, const char *buf, size_t got)
{
    if (got >= sizeof d->tail) {
        memcpy(d->tail, buf + got - sizeof d->tail, sizeof d->tail);
        d->tail_len = sizeof d->tail;
        return;
    }
    size_t keep = d->tail_len + got > sizeof d->tail ? sizeof d->tail - got : d->tail_len;
    memmove(d->tail, d->tail + d->tail_len - keep, keep);
    memcpy(d->tail + keep, buf, got);
    d->tail_len = keep + got;
}

static void *drain_all(void *arg)
{
    drainer *d = arg;
    party_begin();
    char *buf = malloc(65536);
    for (;;) {
        size_t got = 0;
        d->rc = weft_sock_recv(d->fd, buf, 65536, &got, 30);
        if (d->rc != WEFT_OK || got == 0)
            break;
        d->total += got;
        keep_tail(d, buf, got);
    }
    free(buf);
    return NULL;
}

/* The send buffer is full; a sendall("hello") waiting for room is
 * cancelled (WEFT_ECANCELLED, *sent saying how much of it went: maybe
 * none); then sendall("world") once the peer reads: the peer receives
 * exactly the filling, the part of "hello" that was sent, and "world",
 * which ends the data. */
static void cancelled_sendall_then_another(void)
{
    int c, s;
    if (!connected_pair(AF_INET, &c, &s))
        return;
    size_t filled = fill_send_buffer(c);
    CO_CHECK(filled > 0);
    sender h = {.fd = c, .data = "hello", .n = 5};
    weft_future *f = party_start(sendall_waiter, &h);
    double took = cancel_when_blocked(f, &h.phase);
    party_join(f);
    CO_CHECK_RC(h.rc, WEFT_ECANCELLED);
    CO_CHECK(h.sent <= 5);
    CO_CHECK(took < PROMPTLY);

    drainer d = {.fd = s};
    weft_future *reader = party_start(drain_all, &d);
    size_t sent = 0;
    CO_CHECK_RC(weft_sock_sendall(c, "world", 5, &sent, 30), WEFT_OK);
    CO_CHECK_INT(sent, 5);
    CO_CHECK_INT(shutdown(c, SHUT_WR), 0);
    party_join(reader);
    CO_CHECK_RC(d.rc, WEFT_OK);
    CO_CHECK_INT(d.total, filled + h.sent + 5);
    char want[16] = {0};
    memcpy(want + sizeof want - 5 - h.sent, "hello", h.sent);
    memcpy(want + sizeof want - 5, "world", 5);
    CO_CHECK_INT(d.tail_len, sizeof d.tail);
    CO_CHECK(memcmp(d.tail, want, sizeof want) == 0);
    close_fd(c);
    close_fd(s);
}
IN_BOTH(cancelled_sendall_then_another)

/* ---- a cancelled connect, then a retry ---------------------------------- */

typedef struct connector {
    int fd;
    const weft_address *to;
    atomic_int phase;
    int rc;
} connector;

static void *connect_waiter(void *arg)
{
    connector *k = arg;
    party_begin();
    atomic_store(&k->phase, BLOCKING);
    k->rc = weft_sock_connect(k->fd, (const struct sockaddr *)(const void *)&k->to->storage,
                              k->to->len, LONG_WAIT);
    atomic_store(&k->phase, RETURNED);
    return NULL;
}

static void accept_and_close(int listener)
{
    int conn = -1;
    CO_CHECK_RC(weft_sock_accept(listener, &conn, NULL, NULL, 5), WEFT_OK);
    close_fd(conn);
}

/* A connect that cannot complete yet (the listener's accept queue is
 * full, so the handshake waits) times out, or is cancelled promptly
 * (WEFT_ECANCELLED); once the listener has room, a new socket connects.
 * And a connect made before the listener listens, cancelled, is followed
 * by one that succeeds once it listens. */
static void cancelled_connect_then_retry(void)
{
    endpoint l;
    if (!listen_endpoint(AF_INET, 0, &l))
        return;
    int queued[16], nqueued = 0, pending = -1;
    while (nqueued < 16 && pending < 0) {
        int c = -1;
        CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &c), WEFT_OK);
        int rc = weft_sock_connect(c, SA(&l.addr), l.addr.len, 0.3);
        if (rc == WEFT_OK) {
            queued[nqueued++] = c;
            continue;
        }
        CO_CHECK_RC(rc, WEFT_ETIMEDOUT);
        pending = c;
    }
    CO_CHECK(pending >= 0);
    close_fd(pending);

    connector k = {.to = &l.addr};
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &k.fd), WEFT_OK);
    weft_future *f = party_start(connect_waiter, &k);
    double took = cancel_when_blocked(f, &k.phase);
    party_join(f);
    CO_CHECK_RC(k.rc, WEFT_ECANCELLED);
    CO_CHECK(took < PROMPTLY);
    close_fd(k.fd);

    for (int i = 0; i < nqueued; i++) {
        accept_and_close(l.fd);
        close_fd(queued[i]);
    }
    int c = -1;
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &c), WEFT_OK);
    CO_CHECK_RC(weft_sock_connect(c, SA(&l.addr), l.addr.len, 10), WEFT_OK);
    accept_and_close(l.fd);
    close_fd(c);
    close_endpoint(&l);

    /* Before the listener listens: refused at once, or cancelled. */
    endpoint b;
    if (!bind_endpoint(AF_INET, SOCK_STREAM, &b))
        return;
    connector early = {.to = &b.addr};
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &early.fd), WEFT_OK);
    f = party_start(connect_waiter, &early);
    wait_until(atomic_load(&early.phase) != NOT_YET, 10);
    weft_future_cancel(f);
    party_join(f);
    CO_CHECK_RC2(early.rc, WEFT_ECONNREFUSED, WEFT_ECANCELLED);
    close_fd(early.fd);
    CO_CHECK_INT(listen(b.fd, 4), 0);
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &c), WEFT_OK);
    CO_CHECK_RC(weft_sock_connect(c, SA(&b.addr), b.addr.len, 10), WEFT_OK);
    accept_and_close(b.fd);
    close_fd(c);
    close_endpoint(&b);
}
IN_BOTH(cancelled_connect_then_retry)

/* Whether fd is connected (it has a peer). */
static bool has_peer(int fd)
{
    weft_address a;
    a.len = sizeof a.storage;
    return getpeername(fd, SA(&a), &a.len) == 0;
}

/* A Unix listener whose queue is full refuses a connect for now (the
 * system says "try again": EAGAIN, nothing in progress).  weft_sock_connect
 * waits until there is room, or until its timeout (WEFT_ETIMEDOUT), or its
 * cancellation (WEFT_ECANCELLED); it never says WEFT_OK for a socket that
 * is not connected.  Once the listener accepts one, the waiting connect
 * completes, and the connection works. */
static void unix_connect_waits_for_room(void)
{
    endpoint l;
    if (!listen_endpoint(AF_UNIX, 0, &l))
        return;
    int queued[16], nqueued = 0, full = 0;
    while (nqueued < 16 && !full) {
        int c = -1;
        CO_CHECK_RC(weft_sock_open(AF_UNIX, SOCK_STREAM, &c), WEFT_OK);
        int rc = weft_sock_connect(c, SA(&l.addr), l.addr.len, 0.3);
        if (rc == WEFT_OK) {
            CO_CHECK(has_peer(c)); /* a connect that said so is connected */
            queued[nqueued++] = c;
            continue;
        }
        CO_CHECK_RC(rc, WEFT_ETIMEDOUT);
        close_fd(c);
        full = 1;
    }
    CO_CHECK(full);

    connector k = {.to = &l.addr};
    CO_CHECK_RC(weft_sock_open(AF_UNIX, SOCK_STREAM, &k.fd), WEFT_OK);
    weft_future *f = party_start(connect_waiter, &k);
    CO_CHECK(cancel_when_blocked(f, &k.phase) < PROMPTLY);
    party_join(f);
    CO_CHECK_RC(k.rc, WEFT_ECANCELLED);
    close_fd(k.fd);

    connector w = {.to = &l.addr};
    CO_CHECK_RC(weft_sock_open(AF_UNIX, SOCK_STREAM, &w.fd), WEFT_OK);
    f = party_start(connect_waiter, &w);
    wait_until(atomic_load(&w.phase) == BLOCKING, 10);
    nap(0.1);
    CO_CHECK_INT(atomic_load(&w.phase), BLOCKING); /* waiting for room */
    accept_and_close(l.fd); /* room for one */
    wait_until(atomic_load(&w.phase) == RETURNED, 10);
    party_join(f);
    CO_CHECK_RC(w.rc, WEFT_OK);
    CO_CHECK(has_peer(w.fd));
    for (int i = 1; i < nqueued; i++)
        accept_and_close(l.fd);
    int conn = -1;
    CO_CHECK_RC(weft_sock_accept(l.fd, &conn, NULL, NULL, 5), WEFT_OK);
    CO_CHECK_RC(weft_sock_sendall(w.fd, "room", 4, NULL, 5), WEFT_OK);
    expect_to_read(conn, "room");
    close_fd(conn);
    close_fd(w.fd);
    for (int i = 0; i < nqueued; i++)
        close_fd(queued[i]);
    close_endpoint(&l);
}
IN_BOTH(unix_connect_waits_for_room)

/* ---- 1 MB each way -------------------------------------------------------- */

#define HUGE_SIZE (1u << 20)

static unsigned char pattern_at(size_t i) { return (unsigned char)(i % 251u + i / 251u); }

/* Sends back what it receives, until end of file; then shuts down. */
typedef struct echo {
    int fd;
    size_t total;
} echo;

static void *echo_run(void *arg)
{
    echo *e = arg;
    party_begin();
    char *buf = malloc(65536);
    for (;;) {
        size_t got = 0;
        if (!CO_CHECK_RC(weft_sock_recv(e->fd, buf, 65536, &got, 30), WEFT_OK) || got == 0)
            break;
        if (!CO_CHECK_RC(weft_sock_sendall(e->fd, buf, got, NULL, 30), WEFT_OK))
            break;
        e->total += got;
    }
    free(buf);
    CO_CHECK_INT(shutdown(e->fd, SHUT_WR), 0);
    return NULL;
}

/* Reads until end of file, checking each byte against the pattern. */
typedef struct checker {
    int fd;
    size_t total, wrong;
} checker;

static void check_pattern(checker *k, const unsigned char *buf, size_t got)
{
    for (size_t i = 0; i < got; i++)
        k->wrong += buf[i] != pattern_at(k->total + i);
    k->total += got;
}

static void *pattern_reader(void *arg)
{
    checker *k = arg;
    party_begin();
    unsigned char *buf = malloc(65536);
    for (;;) {
        size_t got = 0;
        if (!CO_CHECK_RC(weft_sock_recv(k->fd, buf, 65536, &got, 30), WEFT_OK) || got == 0)
            break;
        check_pattern(k, buf, got);
    }
    free(buf);
    return NULL;
}

static unsigned char *huge_pattern(void)
{
    unsigned char *big = malloc(HUGE_SIZE);
    for (size_t i = 0; i < HUGE_SIZE; i++)
        big[i] = pattern_at(i);
    return big;
}

/* sendall of 1 MB to an echo while another party reads the echo: it
 * returns WEFT_OK having sent all, and every byte comes back in order. */
static void huge_sendall_with_reader(void)
{
    int c, s;
    if (!connected_pair(AF_INET, &c, &s))
        return;
    unsigned char *big = huge_pattern();
    echo e = {.fd = s};
    checker k = {.fd = c};
    weft_future *fe = party_start(echo_run, &e);
    weft_future *fk = party_start(pattern_reader, &k);
    size_t sent = 0;
    CO_CHECK_RC(weft_sock_sendall(c, big, HUGE_SIZE, &sent, 60), WEFT_OK);
    CO_CHECK_INT(sent, HUGE_SIZE);
    CO_CHECK_INT(shutdown(c, SHUT_WR), 0);
    party_join(fe);
    party_join(fk);
    CO_CHECK_INT(e.total, HUGE_SIZE);
    CO_CHECK_INT(k.total, HUGE_SIZE);
    CO_CHECK_INT(k.wrong, 0);
    free(big);
    close_fd(c);
    close_fd(s);
}
IN_BOTH(huge_sendall_with_reader)

/* The same with one party doing both: it sends what the socket takes
 * (weft_sock_send, which reports partial sends) and reads what came back,
 * in turn, waiting a little for the reply when neither moved. */
static void huge_send_interleaved(void)
{
    int c, s;
    if (!connected_pair(AF_INET, &c, &s))
        return;
    unsigned char *big = huge_pattern(), *buf = malloc(65536);
    echo e = {.fd = s};
    checker k = {.fd = c};
    weft_future *fe = party_start(echo_run, &e);
    size_t out = 0;
    double end = weft_monotonic() + 60;
    while (k.total < HUGE_SIZE && weft_monotonic() < end) {
        bool moved = false;
        size_t n = 0;
        if (out < HUGE_SIZE) {
            int rc = weft_sock_send(c, big + out, HUGE_SIZE - out, &n, 0);
            if (rc != WEFT_ETIMEDOUT && !CO_CHECK_RC(rc, WEFT_OK))
                break;
            out += n;
            moved = n > 0;
            if (out == HUGE_SIZE)
                CO_CHECK_INT(shutdown(c, SHUT_WR), 0);
        }
        int rc = weft_sock_recv(c, buf, 65536, &n, 0);
        if (rc == WEFT_OK && n == 0)
            break;
        if (rc == WEFT_OK) {
            check_pattern(&k, buf, n);
            moved = true;
        } else if (!CO_CHECK_RC(rc, WEFT_ETIMEDOUT)) {
            break;
        }
        if (!moved)
            CO_CHECK_RC2(weft_sock_wait_readable(c, 0.01), WEFT_OK, WEFT_ETIMEDOUT);
    }
    party_join(fe);
    CO_CHECK_INT(out, HUGE_SIZE);
    CO_CHECK_INT(k.total, HUGE_SIZE);
    CO_CHECK_INT(k.wrong, 0);
    free(big);
    free(buf);
    close_fd(c);
    close_fd(s);
}
IN_BOTH(huge_send_interleaved)

/* ---- refused, accepted, timed out --------------------------------------- */

/* connect to an address nothing listens on: WEFT_ECONNREFUSED (a bound
 * TCP port that does not listen; a Unix socket file with no listener);
 * to a path that does not exist: WEFT_EOS with errno ENOENT. */
static void connect_refused(void)
{
    for (size_t i = 0; i < FAMILIES; i++) {
        if (!family_testable(families[i]))
            continue;
        endpoint b;
        if (!bind_endpoint(families[i], SOCK_STREAM, &b))
            return;
        int c = -1;
        CO_CHECK_RC(weft_sock_open(families[i], SOCK_STREAM, &c), WEFT_OK);
        CO_CHECK_RC(weft_sock_connect(c, SA(&b.addr), b.addr.len, 10), WEFT_ECONNREFUSED);
        close_fd(c);
        close_endpoint(&b);
    }
    weft_address nowhere;
    fresh_address(AF_UNIX, &nowhere);
    int c = -1;
    CO_CHECK_RC(weft_sock_open(AF_UNIX, SOCK_STREAM, &c), WEFT_OK);
    errno = 0;
    CO_CHECK_RC(weft_sock_connect(c, SA(&nowhere), nowhere.len, 10), WEFT_EOS);
    CO_CHECK_INT(errno, ENOENT);
    close_fd(c);
}
IN_BOTH(connect_refused)

typedef struct dialer {
    const weft_address *to;
    int family;
    int fd;
    int rc;
    char name[128];
} dialer;

/* Connects a new socket to `to` and leaves it open; its own address. */
static void *dial(void *arg)
{
    dialer *d = arg;
    party_begin();
    CO_CHECK_RC(weft_sock_open(d->family, SOCK_STREAM, &d->fd), WEFT_OK);
    d->rc = weft_sock_connect(d->fd, (const struct sockaddr *)(const void *)&d->to->storage,
                              d->to->len, 10);
    if (d->rc == WEFT_OK)
        name_of(d->fd, false, d->name, sizeof d->name);
    return NULL;
}

/* accept waits for a client and gives a connection that is non-blocking
 * and close-on-exec, with the client's address (as the client sees its
 * own); data then flows both ways. */
static void accept_gives_client(void)
{
    for (size_t i = 0; i < FAMILIES; i++) {
        if (!family_testable(families[i]))
            continue;
        endpoint l;
        if (!listen_endpoint(families[i], 4, &l))
            return;
        dialer d = {.to = &l.addr, .family = families[i], .fd = -1};
        weft_future *f = party_start(dial, &d);
        weft_address peer;
        peer.len = sizeof peer.storage;
        int conn = -1;
        CO_CHECK_RC(weft_sock_accept(l.fd, &conn, SA(&peer), &peer.len, 10), WEFT_OK);
        party_join(f);
        CO_CHECK_RC(d.rc, WEFT_OK);
        CO_CHECK(fcntl(conn, F_GETFL) & O_NONBLOCK);
        CO_CHECK(fcntl(conn, F_GETFD) & FD_CLOEXEC);
        char text[128];
        format_of(&peer, text, sizeof text);
        co_set_context("%s", family_name(families[i]));
        CO_CHECK(strcmp(text, d.name) == 0);
        co_set_context(NULL);
        CO_CHECK_RC(weft_sock_sendall(d.fd, "ping", 4, NULL, 5), WEFT_OK);
        expect_to_read(conn, "ping");
        CO_CHECK_RC(weft_sock_sendall(conn, "pong", 4, NULL, 5), WEFT_OK);
        expect_to_read(d.fd, "pong");
        close_fd(conn);
        close_fd(d.fd);
        close_endpoint(&l);
    }
}
IN_BOTH(accept_gives_client)

typedef struct acceptor {
    int fd;
    atomic_int phase;
    int rc;
    int conn;
} acceptor;

static void *accept_waiter(void *arg)
{
    acceptor *a = arg;
    party_begin();
    atomic_store(&a->phase, BLOCKING);
    a->rc = weft_sock_accept(a->fd, &a->conn, NULL, NULL, LONG_WAIT);
    atomic_store(&a->phase, RETURNED);
    return NULL;
}

/* accept with a timeout of 0.1 s and no client: WEFT_ETIMEDOUT after about
 * that long (0: at once); a waiting accept cancelled: WEFT_ECANCELLED.  No
 * registration is left behind: a client then connects and is accepted;
 * and once the listener is closed a connect is refused. */
static void accept_timeout_leaves_nothing(void)
{
    endpoint l;
    if (!listen_endpoint(AF_INET, 4, &l))
        return;
    int conn = 7;
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_accept(l.fd, &conn, NULL, NULL, 0.1), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    CO_CHECK(dt >= 0.06 && dt < 2.0);
    CO_CHECK_INT(conn, -1);
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_accept(l.fd, &conn, NULL, NULL, 0), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 < IMMEDIATE);

    acceptor a = {.fd = l.fd, .conn = -1};
    weft_future *f = party_start(accept_waiter, &a);
    CO_CHECK(cancel_when_blocked(f, &a.phase) < PROMPTLY);
    party_join(f);
    CO_CHECK_RC(a.rc, WEFT_ECANCELLED);
    CO_CHECK_INT(a.conn, -1);

    dialer d = {.to = &l.addr, .family = AF_INET, .fd = -1};
    f = party_start(dial, &d);
    CO_CHECK_RC(weft_sock_accept(l.fd, &conn, NULL, NULL, 10), WEFT_OK);
    party_join(f);
    CO_CHECK_RC(d.rc, WEFT_OK);
    close_fd(conn);
    close_fd(d.fd);

    weft_address at = l.addr;
    close_endpoint(&l);
    int c = -1;
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &c), WEFT_OK);
    CO_CHECK_RC(weft_sock_connect(c, SA(&at), at.len, 10), WEFT_ECONNREFUSED);
    close_fd(c);
}
IN_BOTH(accept_timeout_leaves_nothing)

/* A peer that vanished: sending to it is WEFT_EPIPE or WEFT_ECONNRESET
 * (never SIGPIPE, which would end the test); a peer that reset the
 * connection (closed with a zero linger) makes recv WEFT_ECONNRESET. */
static void peer_vanishes(void)
{
    int c, s;
    if (!connected_pair(AF_INET, &c, &s))
        return;
    close_fd(s);
    static const char data[4096];
    int rc = WEFT_OK;
    for (int i = 0; i < 100 && rc == WEFT_OK; i++) {
        rc = weft_sock_sendall(c, data, sizeof data, NULL, 5);
        nap(0.001);
    }
    CO_CHECK_RC2(rc, WEFT_EPIPE, WEFT_ECONNRESET);
    close_fd(c);

    if (!connected_pair(AF_INET, &c, &s))
        return;
    struct linger hard = {1, 0};
    CO_CHECK_INT(setsockopt(s, SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
    char buf[16];
    size_t got = 99;
    waiter w = {.fd = c};
    weft_future *f = party_start(recv_waiter, &w);
    wait_until(atomic_load(&w.phase) == BLOCKING, 10);
    nap(0.05);
    close_fd(s);
    party_join(f);
    CO_CHECK_RC(w.rc, WEFT_ECONNRESET);
    CO_CHECK_INT(w.got, 0);
    rc = weft_sock_recv(c, buf, sizeof buf, &got, 1);
    if (rc != WEFT_OK || got != 0) /* the reset is reported once, then end of file */
        CO_CHECK_RC(rc, WEFT_ECONNRESET);
    close_fd(c);
}
IN_BOTH(peer_vanishes)

/* Out of descriptors: accept says WEFT_EAGAIN at once, and the client's
 * connection stays queued for the accept that follows once there are
 * descriptors again. */
static void accept_out_of_descriptors(void)
{
    int c, conn = 99;
    endpoint l;
    if (!listen_endpoint(AF_INET, 4, &l))
        return;
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &c), WEFT_OK);
    CO_CHECK_RC(weft_sock_connect(c, SA(&l.addr), l.addr.len, 10), WEFT_OK);
    struct rlimit was, now;
    CO_CHECK_INT(getrlimit(RLIMIT_NOFILE, &was), 0);
    int lowest = dup(0); /* the number the next descriptor would get */
    close(lowest);
    now = was;
    now.rlim_cur = (rlim_t)lowest;
    CO_CHECK_INT(setrlimit(RLIMIT_NOFILE, &now), 0);
    double t0 = weft_monotonic();
    int rc = weft_sock_accept(l.fd, &conn, NULL, NULL, 5);
    CO_CHECK_INT(setrlimit(RLIMIT_NOFILE, &was), 0);
    CO_CHECK_RC(rc, WEFT_EAGAIN);
    CO_CHECK(weft_monotonic() - t0 < IMMEDIATE);
    CO_CHECK_INT(conn, -1);
    CO_CHECK_RC(weft_sock_accept(l.fd, &conn, NULL, NULL, 5), WEFT_OK);
    close_fd(conn);
    close_fd(c);
    close_endpoint(&l);
}
IN_BOTH(accept_out_of_descriptors)

/* A socket with a high number (the loop's table grows to it) is waited on
 * as any other. */
static void high_numbered_socket(void)
{
    int sv[2];
    stream_pair(sv);
    int high = fcntl(sv[0], F_DUPFD_CLOEXEC, 5000);
    CO_CHECK(high >= 5000);
    close(sv[0]);
    recv_while_sent(high, sv[1], "high");
    close_fd(high);
    close_fd(sv[1]);
}
IN_BOTH(high_numbered_socket)

/* ---- several receivers on one socket ------------------------------------ */

/* weft's rule for several calls waiting on one socket: all wait, and data
 * wakes them all; each tries again, one gets the data and the others wait
 * on.  So nothing hangs and no byte is lost, whatever the number. */
#define MAX_READERS 16
typedef struct shared_reader {
    int fd;
    atomic_int *seen; /* by byte value */
    atomic_int phase;
    size_t mine;
    int rc;
} shared_reader;

static void *read_bytes_until_eof(void *arg)
{
    shared_reader *r = arg;
    party_begin();
    atomic_store(&r->phase, BLOCKING);
    for (;;) {
        unsigned char b;
        size_t got = 0;
        r->rc = weft_sock_recv(r->fd, &b, 1, &got, LONG_WAIT);
        if (r->rc != WEFT_OK || got == 0)
            break;
        atomic_fetch_add(&r->seen[b], 1);
        r->mine++;
    }
    atomic_store(&r->phase, RETURNED);
    return NULL;
}

/* `readers` parties read one byte at a time from one socket while 256
 * bytes come (one at a time with pauses, or all at once), `cancelled` of
 * them are cancelled half-way; then end of file.  Every byte is read
 * exactly once, by a reader or (what was left) by the test. */
static void share_one_socket(int readers, bool one_by_one, int cancelled)
{
    int sv[2];
    stream_pair(sv);
    static atomic_int seen[256];
    for (int i = 0; i < 256; i++)
        atomic_store(&seen[i], 0);
    shared_reader r[MAX_READERS];
    weft_future *f[MAX_READERS];
    for (int i = 0; i < readers; i++) {
        r[i] = (shared_reader){.fd = sv[0], .seen = seen};
        f[i] = party_start(read_bytes_until_eof, &r[i]);
    }
    for (int i = 0; i < readers; i++)
        wait_until(atomic_load(&r[i].phase) == BLOCKING, 10);
    nap(0.05);
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (int i = 0; i < 256; i++) {
        if (i == 128)
            for (int j = 0; j < cancelled; j++)
                weft_future_cancel(f[j]);
        if (one_by_one) {
            CO_CHECK_RC(weft_sock_sendall(sv[1], &all[i], 1, NULL, 5), WEFT_OK);
            if (i % 8 == 0)
                nap(0.002);
        } else if (i % 128 == 0) {
            CO_CHECK_RC(weft_sock_sendall(sv[1], all + i, 128, NULL, 5), WEFT_OK);
        }
    }
    for (int j = 0; j < cancelled; j++) /* the cancelled have stopped */
        wait_until(atomic_load(&r[j].phase) == RETURNED, LONG_WAIT);
    nap(0.1);
    CO_CHECK_INT(shutdown(sv[1], SHUT_WR), 0);
    size_t total = 0;
    for (int i = 0; i < readers; i++) {
        party_join(f[i]);
        if (i < cancelled) {
            CO_CHECK_RC2(r[i].rc, WEFT_ECANCELLED, WEFT_OK);
        } else {
            CO_CHECK_RC(r[i].rc, WEFT_OK);
        }
        total += r[i].mine;
    }
    unsigned char b;
    size_t got = 0;
    /* What was left unread (no reader remained, say) is still there. */
    while (CO_CHECK_RC(weft_sock_recv(sv[0], &b, 1, &got, 5), WEFT_OK) && got == 1) {
        atomic_fetch_add(&seen[b], 1);
        total++;
    }
    CO_CHECK_INT(total, 256);
    int wrong = 0;
    for (int i = 0; i < 256; i++)
        wrong += atomic_load(&seen[i]) != 1;
    CO_CHECK_INT(wrong, 0);
    close_pair(sv);
}

static void two_receivers_on_one_socket(void)
{
    share_one_socket(2, true, 0);
    share_one_socket(2, false, 0);
}
IN_BOTH(two_receivers_on_one_socket)

static void many_receivers_on_one_socket(void)
{
    share_one_socket(MAX_READERS, true, 0);
    share_one_socket(MAX_READERS, false, 0);
    share_one_socket(MAX_READERS, true, 5);
    share_one_socket(MAX_READERS, false, MAX_READERS);
}
IN_BOTH(many_receivers_on_one_socket)

/* ---- datagrams ---------------------------------------------------------- */

typedef struct udp_echo {
    int fd;
    int rc;
    char from[128];
} udp_echo;

/* Receive one datagram and send it back to its sender. */
static void *udp_echo_once(void *arg)
{
    udp_echo *u = arg;
    party_begin();
    char buf[4096];
    size_t got = 0;
    weft_address from;
    from.len = sizeof from.storage;
    u->rc = weft_sock_recvfrom(u->fd, buf, sizeof buf, &got, SA(&from), &from.len, 10);
    if (u->rc != WEFT_OK)
        return NULL;
    format_of(&from, u->from, sizeof u->from);
    u->rc = weft_sock_sendto(u->fd, buf, got, SA(&from), from.len, 10);
    return NULL;
}

/* sendto then recvfrom (waiting in it): the datagram and who sent it;
 * a datagram longer than the buffer is cut to it; an empty datagram is one
 * too; recvfrom with nothing to receive times out. */
static void datagrams_on(int family)
{
    endpoint srv, cli;
    if (!bind_endpoint(family, SOCK_DGRAM, &srv) || !bind_endpoint(family, SOCK_DGRAM, &cli))
        return;
    char srv_name[128], cli_name[128], text[128];
    format_of(&srv.addr, srv_name, sizeof srv_name);
    format_of(&cli.addr, cli_name, sizeof cli_name);
    udp_echo u = {.fd = srv.fd};
    weft_future *f = party_start(udp_echo_once, &u);
    nap(0.02); /* let it wait in recvfrom */
    CO_CHECK_RC(weft_sock_sendto(cli.fd, "ping", 4, SA(&srv.addr), srv.addr.len, 5), WEFT_OK);
    char buf[4096];
    size_t got = 0;
    weft_address from;
    from.len = sizeof from.storage;
    CO_CHECK_RC(weft_sock_recvfrom(cli.fd, buf, sizeof buf, &got, SA(&from), &from.len, 10),
                WEFT_OK);
    party_join(f);
    CO_CHECK_RC(u.rc, WEFT_OK);
    CO_CHECK(strcmp(u.from, cli_name) == 0);
    CO_CHECK(got == 4 && memcmp(buf, "ping", 4) == 0);
    format_of(&from, text, sizeof text);
    CO_CHECK(strcmp(text, srv_name) == 0);

    CO_CHECK_RC(weft_sock_sendto(cli.fd, "0123456789", 10, SA(&srv.addr), srv.addr.len, 5),
                WEFT_OK);
    CO_CHECK_RC(weft_sock_recvfrom(srv.fd, buf, 4, &got, NULL, NULL, 10), WEFT_OK);
    CO_CHECK(got == 4 && memcmp(buf, "0123", 4) == 0);

    CO_CHECK_RC(weft_sock_sendto(cli.fd, buf, 0, SA(&srv.addr), srv.addr.len, 5), WEFT_OK);
    got = 99;
    from.len = sizeof from.storage;
    CO_CHECK_RC(weft_sock_recvfrom(srv.fd, buf, sizeof buf, &got, SA(&from), &from.len, 10),
                WEFT_OK);
    CO_CHECK_INT(got, 0);
    format_of(&from, text, sizeof text);
    CO_CHECK(strcmp(text, cli_name) == 0);

    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_recvfrom(srv.fd, buf, sizeof buf, &got, NULL, NULL, 0.1),
                WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 >= 0.06);
    CO_CHECK_INT(got, 0);
    close_endpoint(&srv);
    close_endpoint(&cli);
}

static void datagrams(void)
{
    datagrams_on(AF_INET);
    if (have_ipv6)
        datagrams_on(AF_INET6);
}
IN_BOTH(datagrams)

typedef struct dgram_sender {
    int fd;
    atomic_int phase;
    int rc;
} dgram_sender;

static void *send_last_datagram(void *arg)
{
    dgram_sender *s = arg;
    party_begin();
    atomic_store(&s->phase, BLOCKING);
    s->rc = weft_sock_sendto(s->fd, "last", 4, NULL, 0, LONG_WAIT);
    atomic_store(&s->phase, RETURNED);
    return NULL;
}

/* A sendto that would block (the peer's queue of datagrams is full: a
 * Unix datagram pair) waits, and goes once the peer has taken some (Linux
 * says there is room after one; other kernels, gVisor's, after most);
 * every datagram arrives, the waiting one last. */
static void sendto_that_would_block(void)
{
    int sv[2];
    CO_CHECK_INT(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    CO_CHECK_RC(weft_sock_set_nonblocking(sv[0]), WEFT_OK);
    CO_CHECK_RC(weft_sock_set_nonblocking(sv[1]), WEFT_OK);
    char d[64] = "filler";
    int filled = 0;
    while (filled < 100000) {
        int rc = weft_sock_sendto(sv[0], d, sizeof d, NULL, 0, 0);
        if (rc == WEFT_ETIMEDOUT)
            break;
        if (!CO_CHECK_RC(rc, WEFT_OK))
            break;
        filled++;
    }
    CO_CHECK(filled > 0 && filled < 100000);
    dgram_sender s = {.fd = sv[0]};
    weft_future *f = party_start(send_last_datagram, &s);
    wait_until(atomic_load(&s.phase) == BLOCKING, 10);
    nap(0.1);
    CO_CHECK_INT(atomic_load(&s.phase), BLOCKING); /* still waiting for room */
    char buf[128];
    size_t got = 0;
    int count = 0;
    while (count < filled && atomic_load(&s.phase) == BLOCKING) {
        CO_CHECK_RC(weft_sock_recvfrom(sv[1], buf, sizeof buf, &got, NULL, NULL, 5), WEFT_OK);
        CO_CHECK_INT(got, sizeof d);
        count++;
        wait_until(atomic_load(&s.phase) == RETURNED, 0.002);
    }
    party_join(f);
    CO_CHECK_RC(s.rc, WEFT_OK);
    for (;;) {
        int rc = weft_sock_recvfrom(sv[1], buf, sizeof buf, &got, NULL, NULL, 0);
        if (rc == WEFT_ETIMEDOUT || !CO_CHECK_RC(rc, WEFT_OK))
            break;
        count++;
        if (got == 4)
            break;
    }
    CO_CHECK_INT(count, filled + 1);
    CO_CHECK(got == 4 && memcmp(buf, "last", 4) == 0);
    close_pair(sv);
}
IN_BOTH(sendto_that_would_block)

/* ---- timeouts ------------------------------------------------------------ */

/* Every call that waits stops at its timeout (0 and negative: do not wait)
 * with WEFT_ETIMEDOUT, having taken nothing (recv) or saying how much it
 * sent (sendall: the rest then goes with the next call, and the peer
 * receives exactly everything). */
static void calls_time_out(void)
{
    int sv[2];
    stream_pair(sv);
    char buf[16];
    size_t got = 99;
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_recv(sv[0], buf, sizeof buf, &got, 0.2), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    CO_CHECK(dt >= 0.12 && dt < 2.0);
    CO_CHECK_INT(got, 0);
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_recv(sv[0], buf, sizeof buf, &got, 0), WEFT_ETIMEDOUT);
    CO_CHECK_RC(weft_sock_recv(sv[0], buf, sizeof buf, &got, -1), WEFT_ETIMEDOUT);
    CO_CHECK_RC(weft_sock_wait_readable(sv[0], 0), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 < IMMEDIATE);
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_wait_readable(sv[0], 0.1), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 >= 0.06);
    CO_CHECK_RC(weft_sock_wait_writable(sv[0], 0), WEFT_OK);
    CO_CHECK_RC(weft_sock_sendall(sv[1], "k", 1, NULL, 0), WEFT_OK);
    CO_CHECK_RC(weft_sock_wait_readable(sv[0], WEFT_FOREVER), WEFT_OK);
    CO_CHECK_RC(weft_sock_recv(sv[0], buf, sizeof buf, &got, WEFT_FOREVER), WEFT_OK);
    CO_CHECK_INT(got, 1);
    close_pair(sv);

    int c, s;
    if (!connected_pair(AF_INET, &c, &s))
        return;
    size_t filled = fill_send_buffer(c);
    CO_CHECK_RC(weft_sock_wait_writable(c, 0.1), WEFT_ETIMEDOUT);
    static char more[1 << 16];
    size_t sent = 99;
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_sendall(c, more, sizeof more, &sent, 0.2), WEFT_ETIMEDOUT);
    dt = weft_monotonic() - t0;
    CO_CHECK(dt >= 0.12 && dt < 2.0);
    CO_CHECK(sent < sizeof more);
    drainer d = {.fd = s};
    weft_future *reader = party_start(drain_all, &d);
    size_t rest = 0;
    CO_CHECK_RC(weft_sock_sendall(c, more + sent, sizeof more - sent, &rest, 30), WEFT_OK);
    CO_CHECK_INT(rest, sizeof more - sent);
    CO_CHECK_INT(shutdown(c, SHUT_WR), 0);
    party_join(reader);
    CO_CHECK_INT(d.total, filled + sizeof more);
    close_fd(c);
    close_fd(s);
}
IN_BOTH(calls_time_out)

/* A weft thread-pool task made cancellable, blocked in weft_sock_recv,
 * returns WEFT_ECANCELLED within about 50 ms of its future being
 * cancelled (the best of three tries; each well under a second on a
 * loaded machine), and the cancelled call took nothing. */
static void pool_task_cancel_is_prompt(void)
{
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        int sv[2];
        stream_pair(sv);
        waiter w = {.fd = sv[0]};
        weft_future *f = party_start(recv_waiter, &w);
        double took = cancel_when_blocked(f, &w.phase);
        party_join(f);
        CO_CHECK_RC(w.rc, WEFT_ECANCELLED);
        CO_CHECK(took < PROMPTLY);
        best = took < best ? took : best;
        CO_CHECK_RC(weft_sock_sendall(sv[1], "all", 3, NULL, 5), WEFT_OK);
        expect_to_read(sv[0], "all");
        close_pair(sv);
    }
    CO_CHECK(best < 0.2);
}

static void pool_task_cancel_is_prompt_in_threads(void **state)
{
    (void)state;
    run_in(IN_THREADS, pool_task_cancel_is_prompt);
}

/* ---- the loop's table of descriptors ------------------------------------ */

/* A new socketpair whose first end has the number `want` (the lowest free
 * number is the next one given). */
static bool pair_numbered(int want, int sv[2])
{
    stream_pair(sv);
    if (sv[1] == want) {
        int t = sv[0];
        sv[0] = sv[1];
        sv[1] = t;
    }
    return CO_CHECK_INT(sv[0], want);
}

/* A socket the loop waited on is closed with plain close(2) (the loop not
 * told) and its number reused by a new socket: waiting on the new one
 * works (the loop registers it again).  Also when the old socket is still
 * open under another number (dup): the old one's readiness may wake the
 * new one's waiter, which then waits on, and gets its own data. */
static void plain_close_and_reuse(void)
{
    int sv[2];
    stream_pair(sv);
    recv_while_sent(sv[0], sv[1], "first");
    int number = sv[0];
    close(sv[0]);
    close(sv[1]);
    int nv[2];
    if (!pair_numbered(number, nv))
        return;
    recv_while_sent(nv[0], nv[1], "second");

    int old_peer = nv[1];
    int kept = dup(nv[0]);
    CO_CHECK(kept >= 0);
    close(nv[0]);
    int mv[2];
    if (!pair_numbered(number, mv))
        return;
    waiter w = {.fd = mv[0]};
    weft_future *f = party_start(recv_waiter, &w);
    wait_until(atomic_load(&w.phase) == BLOCKING, 10);
    nap(0.05);
    CO_CHECK_RC(weft_sock_sendall(old_peer, "stale", 5, NULL, 5), WEFT_OK);
    nap(0.1);
    CO_CHECK_INT(atomic_load(&w.phase), BLOCKING); /* not for it */
    CO_CHECK_RC(weft_sock_sendall(mv[1], "third", 5, NULL, 5), WEFT_OK);
    party_join(f);
    CO_CHECK_RC(w.rc, WEFT_OK);
    CO_CHECK(w.got == 5 && memcmp(w.buf, "third", 5) == 0);
    expect_to_read(kept, "stale");
    close(kept);
    close(old_peer);
    close_pair(mv);
}
IN_BOTH(plain_close_and_reuse)

static void *readable_waiter(void *arg)
{
    waiter *w = arg;
    party_begin();
    atomic_store(&w->phase, BLOCKING);
    w->rc = weft_sock_wait_readable(w->fd, LONG_WAIT);
    atomic_store(&w->phase, RETURNED);
    return NULL;
}

/* weft_sock_close of a socket that another task waits on (in recv, in
 * wait_readable, in sendall with a full buffer) wakes that task promptly:
 * its call fails (the socket is gone) or, for wait_readable, reports it
 * ready so that the next call fails; nothing hangs. */
static void close_wakes_waiter(void)
{
    int sv[2];
    stream_pair(sv);
    waiter w = {.fd = sv[0]};
    weft_future *f = party_start(recv_waiter, &w);
    wait_until(atomic_load(&w.phase) == BLOCKING, 10);
    nap(0.05);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_close(sv[0]), WEFT_OK);
    party_join(f);
    CO_CHECK(weft_monotonic() - t0 < PROMPTLY);
    CO_CHECK(w.rc != WEFT_OK && w.rc != WEFT_ETIMEDOUT);
    CO_CHECK_INT(w.got, 0);
    close_fd(sv[1]);

    stream_pair(sv);
    waiter r = {.fd = sv[0]};
    f = party_start(readable_waiter, &r);
    wait_until(atomic_load(&r.phase) == BLOCKING, 10);
    nap(0.05);
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_close(sv[0]), WEFT_OK);
    party_join(f);
    CO_CHECK(weft_monotonic() - t0 < PROMPTLY);
    CO_CHECK(r.rc != WEFT_ETIMEDOUT);
    close_fd(sv[1]);

    stream_pair(sv);
    fill_send_buffer(sv[0]);
    sender s = {.fd = sv[0], .data = "hello", .n = 5};
    f = party_start(sendall_waiter, &s);
    wait_until(atomic_load(&s.phase) == BLOCKING, 10);
    nap(0.05);
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_sock_close(sv[0]), WEFT_OK);
    party_join(f);
    CO_CHECK(weft_monotonic() - t0 < PROMPTLY);
    CO_CHECK(s.rc != WEFT_OK && s.rc != WEFT_ETIMEDOUT);
    close_fd(sv[1]);
}
IN_COROUTINES_ONLY(close_wakes_waiter)

/* Many tasks, each waiting on its own socketpair, are woken in a random
 * order, round after round; in the last round some are cancelled first.
 * At the end: every byte was received once, by its task or (for a
 * cancelled task, whose call took nothing) by the test; no call timed out. */
#define STRESS_PAIRS 200
#define STRESS_ROUNDS 5

typedef struct stress_task {
    int fd;
    int index;
    atomic_int round; /* rounds done */
    atomic_int phase;
    int wrong, failed;
    int last_rc;
} stress_task;

static void *stress_run(void *arg)
{
    stress_task *t = arg;
    party_begin();
    for (int r = 0; r < STRESS_ROUNDS; r++) {
        unsigned char b;
        size_t got = 0;
        atomic_store(&t->phase, BLOCKING);
        t->last_rc = weft_sock_recv(t->fd, &b, 1, &got, 60);
        if (t->last_rc != WEFT_OK || got != 1) {
            t->failed++;
            break;
        }
        t->wrong += b != (unsigned char)(t->index + r);
        atomic_store(&t->round, r + 1);
    }
    atomic_store(&t->phase, RETURNED);
    return NULL;
}

static uint32_t rand_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void shuffle(int *order, int n, uint32_t *seed)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rand_next(seed) % (uint32_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static void many_waiters_random_order(void)
{
    static int pairs[STRESS_PAIRS][2];
    static stress_task tasks[STRESS_PAIRS];
    static weft_future *futures[STRESS_PAIRS];
    static int order[STRESS_PAIRS];
    static bool cancelled[STRESS_PAIRS];
    uint32_t seed = 0x9e3779b9u;
    for (int i = 0; i < STRESS_PAIRS; i++) {
        stream_pair(pairs[i]);
        tasks[i] = (stress_task){.fd = pairs[i][0], .index = i};
        futures[i] = party_start(stress_run, &tasks[i]);
        order[i] = i;
        cancelled[i] = false;
    }
    for (int r = 0; r < STRESS_ROUNDS; r++) {
        for (int i = 0; i < STRESS_PAIRS; i++)
            wait_until(atomic_load(&tasks[i].round) == r &&
                           atomic_load(&tasks[i].phase) == BLOCKING,
                       30);
        if (r == STRESS_ROUNDS - 1)
            for (int i = 0; i < STRESS_PAIRS; i++)
                if (rand_next(&seed) % 4 == 0) {
                    cancelled[i] = true;
                    weft_future_cancel(futures[i]);
                }
        shuffle(order, STRESS_PAIRS, &seed);
        for (int k = 0; k < STRESS_PAIRS; k++) {
            int i = order[k];
            unsigned char b = (unsigned char)(i + r);
            CO_CHECK_RC(weft_sock_sendall(pairs[i][1], &b, 1, NULL, 5), WEFT_OK);
            if (rand_next(&seed) % 16 == 0)
                nap(0);
        }
    }
    int done = 0, wrong = 0, failed = 0, leftover_ok = 0;
    for (int i = 0; i < STRESS_PAIRS; i++) {
        party_join(futures[i]);
        wrong += tasks[i].wrong;
        if (cancelled[i]) {
            /* Cancelled in its last recv: that byte is still there. */
            CO_CHECK_RC(tasks[i].last_rc, WEFT_ECANCELLED);
            unsigned char b = 0;
            size_t got = 0;
            CO_CHECK_RC(weft_sock_recv(pairs[i][0], &b, 1, &got, 5), WEFT_OK);
            leftover_ok += got == 1 && b == (unsigned char)(i + STRESS_ROUNDS - 1);
            done += atomic_load(&tasks[i].round) == STRESS_ROUNDS - 1;
        } else {
            failed += tasks[i].failed;
            done += atomic_load(&tasks[i].round) == STRESS_ROUNDS;
        }
        close_pair(pairs[i]);
    }
    int ncancelled = 0;
    for (int i = 0; i < STRESS_PAIRS; i++)
        ncancelled += cancelled[i];
    CO_CHECK_INT(done, STRESS_PAIRS);
    CO_CHECK_INT(wrong, 0);
    CO_CHECK_INT(failed, 0);
    CO_CHECK_INT(leftover_ok, ncancelled);
    CO_CHECK(ncancelled > 0 && ncancelled < STRESS_PAIRS);
}
IN_COROUTINES_ONLY(many_waiters_random_order)

/* ---- names and addresses -------------------------------------------------- */

static void expect_one(const char *host, const char *port, int family, bool passive,
                       const char *want)
{
    weft_address a[4];
    size_t n = 99;
    double t0 = weft_monotonic();
    co_set_context("getaddrinfo(%s, %s)", host ? host : "NULL", port ? port : "NULL");
    CO_CHECK_RC(weft_getaddrinfo(host, port, family, SOCK_STREAM, passive, a, 4, &n, 5),
                WEFT_OK);
    CO_CHECK(weft_monotonic() - t0 < IMMEDIATE); /* parsed, not looked up */
    CO_CHECK_INT(n, 1);
    char text[128] = "";
    if (n >= 1)
        format_of(&a[0], text, sizeof text);
    CO_CHECK(strcmp(text, want) == 0);
    co_set_context(NULL);
}

/* Numeric hosts are parsed at once, IPv4 and IPv6, with a port number or
 * a service name; NULL host: the wildcard when passive, else loopback;
 * "localhost" is looked up and gives loopback addresses; an unknown name
 * or service: WEFT_ENAME; bad arguments: WEFT_EINVAL. */
static void getaddrinfo_cases(void)
{
    expect_one("127.0.0.1", "8080", AF_UNSPEC, false, "127.0.0.1:8080");
    expect_one("127.0.0.1", "8080", AF_INET, false, "127.0.0.1:8080");
    expect_one("::1", "80", AF_UNSPEC, false, "[::1]:80");
    expect_one("::1", "80", AF_INET6, true, "[::1]:80");
    expect_one("127.0.0.1", NULL, AF_INET, false, "127.0.0.1:0");
    expect_one(NULL, "8080", AF_INET, true, "0.0.0.0:8080");
    expect_one(NULL, "8080", AF_INET6, true, "[::]:8080");
    expect_one(NULL, "8080", AF_INET, false, "127.0.0.1:8080");
    expect_one(NULL, "8080", AF_INET6, false, "[::1]:8080");

    weft_address a[8];
    size_t n = 0;
    CO_CHECK_RC(weft_getaddrinfo("localhost", "80", AF_UNSPEC, SOCK_STREAM, false, a, 8, &n,
                                 30),
                WEFT_OK);
    CO_CHECK(n >= 1);
    for (size_t i = 0; i < n; i++) {
        char text[128];
        format_of(&a[i], text, sizeof text);
        CO_CHECK(strcmp(text, "127.0.0.1:80") == 0 || strcmp(text, "[::1]:80") == 0);
    }
    CO_CHECK_RC(weft_getaddrinfo("localhost", "80", AF_INET, SOCK_DGRAM, false, a, 1, &n, 30),
                WEFT_OK);
    CO_CHECK_INT(n, 1);
    CO_CHECK_RC(weft_getaddrinfo("no-such-host.invalid", "80", AF_UNSPEC, SOCK_STREAM, false,
                                 a, 8, &n, 60),
                WEFT_ENAME);
    CO_CHECK_INT(n, 0);
    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", "no-such-service-here", AF_INET, SOCK_STREAM,
                                 false, a, 8, &n, 30),
                WEFT_ENAME);

    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", "80", AF_INET, 0, false, NULL, 8, &n, 5),
                WEFT_EINVAL);
    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", "80", AF_INET, 0, false, a, 0, &n, 5),
                WEFT_EINVAL);
    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", "80", AF_INET, 0, false, a, 8, NULL, 5),
                WEFT_EINVAL);
    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", "80", AF_UNIX, 0, false, a, 8, &n, 5),
                WEFT_EINVAL);
    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", "80", 12345, 0, false, a, 8, &n, 5), WEFT_EINVAL);
    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", "80", AF_INET, SOCK_RAW, false, a, 8, &n, 5),
                WEFT_EINVAL);
    n = 99;
    CO_CHECK_RC(weft_getaddrinfo("localhost", "80", AF_INET, 0, false, a, 8, &n, NAN),
                WEFT_EINVAL);
    CO_CHECK_INT(n, 0);
}
IN_BOTH(getaddrinfo_cases)

/* A capacity larger than any answer (even one whose product with an
 * address's size overflows) is fine: the lookup keeps what the resolver
 * gives, never more than it has room for. */
static void getaddrinfo_huge_capacity(void)
{
    weft_address a[4];
    size_t n = 0;
    /* size * huge == 0 modulo 2^64: the power of two that divides size, times
     * huge, is 2^64. */
    size_t size = sizeof(weft_address), huge = SIZE_MAX / (size & (~size + 1)) + 1;
    CO_CHECK_RC(weft_getaddrinfo("localhost", "80", AF_INET, SOCK_STREAM, false, a, huge, &n,
                                 30),
                WEFT_OK);
    CO_CHECK(n >= 1 && n <= 4);
    CO_CHECK_RC(weft_getaddrinfo("127.0.0.1", "80", AF_INET, SOCK_STREAM, false, a, huge, &n,
                                 30),
                WEFT_OK);
    CO_CHECK_INT(n, 1);
}
IN_BOTH(getaddrinfo_huge_capacity)

typedef struct resolver {
    atomic_int phase;
    bool cancel_first;
    int rc;
    size_t n;
    weft_address a[4];
} resolver;

static void *resolve_localhost(void *arg)
{
    resolver *r = arg;
    party_begin();
    if (r->cancel_first)
        weft_future_cancel(weft_current_task());
    atomic_store(&r->phase, BLOCKING);
    r->rc = weft_getaddrinfo("localhost", "80", AF_UNSPEC, SOCK_STREAM, false, r->a, 4, &r->n,
                             30);
    atomic_store(&r->phase, RETURNED);
    return NULL;
}

/* A coroutine cancelled while it waits for a lookup gets WEFT_ECANCELLED
 * (at once when the cancel came first; a lookup that finished first may
 * win the race otherwise), and the abandoned lookup, finishing on its
 * thread, frees what it used (the sanitizer's leak check at exit). */
static void getaddrinfo_cancelled(void)
{
    for (int i = 0; i < 20; i++) {
        resolver r = {.cancel_first = i % 2 == 0};
        weft_future *f = party_start(resolve_localhost, &r);
        wait_until(atomic_load(&r.phase) != NOT_YET, 10);
        weft_future_cancel(f);
        party_join(f);
        if (r.cancel_first)
            CO_CHECK_RC(r.rc, WEFT_ECANCELLED);
        else
            CO_CHECK_RC2(r.rc, WEFT_ECANCELLED, WEFT_OK);
        CO_CHECK(r.rc != WEFT_ECANCELLED || r.n == 0);
    }
    nap(0.5); /* the abandoned lookups end */
}
IN_COROUTINES_ONLY(getaddrinfo_cancelled)

/* "host:port", "[v6]:port", the path of a Unix socket (empty when it has
 * none); cut to fit and always terminated; an unknown family, a length
 * too short for the family, NULL text or size 0: WEFT_EINVAL. */
static void address_format_cases(void **state)
{
    (void)state;
    weft_address a;
    char text[64];
    fresh_address(AF_INET, &a);
    ((struct sockaddr_in *)(void *)&a.storage)->sin_port = htons(8080);
    assert_int_equal(weft_address_format(SA(&a), a.len, text, sizeof text), WEFT_OK);
    assert_string_equal(text, "127.0.0.1:8080");
    assert_int_equal(weft_address_format(SA(&a), a.len, text, 5), WEFT_OK);
    assert_string_equal(text, "127.");
    assert_int_equal(weft_address_format(SA(&a), a.len, text, 1), WEFT_OK);
    assert_string_equal(text, "");
    strcpy(text, "junk");
    assert_int_equal(weft_address_format(SA(&a), a.len - 1, text, sizeof text), WEFT_EINVAL);
    assert_string_equal(text, "");

    fresh_address(AF_INET6, &a);
    ((struct sockaddr_in6 *)(void *)&a.storage)->sin6_port = htons(443);
    assert_int_equal(weft_address_format(SA(&a), a.len, text, sizeof text), WEFT_OK);
    assert_string_equal(text, "[::1]:443");
    assert_int_equal(weft_address_format(SA(&a), a.len - 1, text, sizeof text), WEFT_EINVAL);

    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, "/tmp/weft.sock");
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 15);
    assert_int_equal(weft_address_format((struct sockaddr *)&un, len, text, sizeof text),
                     WEFT_OK);
    assert_string_equal(text, "/tmp/weft.sock");
    /* An unnamed Unix socket (a socketpair's end): its family only. */
    len = (socklen_t)sizeof(sa_family_t);
    assert_int_equal(weft_address_format((struct sockaddr *)&un, len, text, sizeof text),
                     WEFT_OK);
    assert_string_equal(text, "");
    /* A length that holds not even the family is no address. */
    assert_int_equal(weft_address_format((struct sockaddr *)&un, 0, text, sizeof text),
                     WEFT_EINVAL);

    memset(&a, 0, sizeof a);
    a.storage.ss_family = 12345;
    a.len = sizeof a.storage;
    assert_int_equal(weft_address_format(SA(&a), a.len, text, sizeof text), WEFT_EINVAL);
    assert_int_equal(weft_address_format(NULL, 16, text, sizeof text), WEFT_EINVAL);
    fresh_address(AF_INET, &a);
    assert_int_equal(weft_address_format(SA(&a), a.len, NULL, 16), WEFT_EINVAL);
    assert_int_equal(weft_address_format(SA(&a), a.len, text, 0), WEFT_EINVAL);
}

/* ---- bad input ------------------------------------------------------------- */

/* Bad input to every call is WEFT_EINVAL with nothing done, never a crash
 * or a wait: NULL buffers and counts, n 0 where data is needed, negative
 * and closed descriptors, NaN timeouts, a descriptor that does not listen
 * given to accept, unknown families and types. */
static void bad_input(void)
{
    int sv[2];
    stream_pair(sv);
    int closed = -1;
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, &closed), WEFT_OK);
    close_fd(closed); /* a number that is not open now */
    char buf[8] = "abc";
    size_t got = 99, sent = 99;
    int fd = 99, conn = 99;
    weft_address a;
    fresh_address(AF_INET, &a);
    double t0 = weft_monotonic();

    CO_CHECK_RC(weft_sock_open(12345, SOCK_STREAM, &fd), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_RAW, &fd), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_open(AF_INET, SOCK_STREAM, NULL), WEFT_EINVAL);
    CO_CHECK_INT(fd, 99);
    CO_CHECK_RC(weft_sock_set_nonblocking(-1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_set_nonblocking(closed), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_close(-1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_close(closed), WEFT_EINVAL);

    CO_CHECK_RC(weft_sock_wait_readable(-1, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_wait_readable(sv[0], NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_wait_writable(-1, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_wait_writable(sv[0], NAN), WEFT_EINVAL);

    CO_CHECK_RC(weft_sock_recv(sv[0], NULL, 8, &got, 1), WEFT_EINVAL);
    CO_CHECK_INT(got, 0);
    CO_CHECK_RC(weft_sock_recv(sv[0], buf, 0, &got, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recv(sv[0], buf, 8, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recv(-1, buf, 8, &got, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recv(sv[0], buf, 8, &got, NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recv(closed, buf, 8, &got, 1), WEFT_EINVAL);

    CO_CHECK_RC(weft_sock_sendall(sv[0], NULL, 8, &sent, 1), WEFT_EINVAL);
    CO_CHECK_INT(sent, 0);
    CO_CHECK_RC(weft_sock_sendall(-1, buf, 3, &sent, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_sendall(-1, buf, 0, &sent, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_sendall(sv[0], buf, 3, &sent, NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_sendall(closed, buf, 3, &sent, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_sendall(sv[0], buf, 0, &sent, 1), WEFT_OK); /* nothing to send */

    CO_CHECK_RC(weft_sock_send(sv[0], NULL, 3, &sent, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_send(sv[0], buf, 0, &sent, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_send(sv[0], buf, 3, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_send(-1, buf, 3, &sent, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_send(sv[0], buf, 3, &sent, NAN), WEFT_EINVAL);

    CO_CHECK_RC(weft_sock_accept(sv[0], NULL, NULL, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_accept(sv[0], &conn, SA(&a), NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_accept(-1, &conn, NULL, NULL, 1), WEFT_EINVAL);
    CO_CHECK_INT(conn, -1);
    CO_CHECK_RC(weft_sock_accept(sv[0], &conn, NULL, NULL, NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_accept(sv[0], &conn, NULL, NULL, 1), WEFT_EINVAL); /* not listening */
    CO_CHECK_RC(weft_sock_accept(closed, &conn, NULL, NULL, 1), WEFT_EINVAL);

    CO_CHECK_RC(weft_sock_connect(sv[0], NULL, 16, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_connect(sv[0], SA(&a), 0, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_connect(-1, SA(&a), a.len, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_connect(sv[0], SA(&a), a.len, NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_connect(closed, SA(&a), a.len, 1), WEFT_EINVAL);

    CO_CHECK_RC(weft_sock_sendto(sv[0], NULL, 3, NULL, 0, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_sendto(-1, buf, 3, NULL, 0, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_sendto(sv[0], buf, 3, NULL, 0, NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_sendto(closed, buf, 3, NULL, 0, 1), WEFT_EINVAL);

    CO_CHECK_RC(weft_sock_recvfrom(sv[0], NULL, 8, &got, NULL, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recvfrom(sv[0], buf, 0, &got, NULL, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recvfrom(sv[0], buf, 8, NULL, NULL, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recvfrom(sv[0], buf, 8, &got, SA(&a), NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recvfrom(-1, buf, 8, &got, NULL, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recvfrom(sv[0], buf, 8, &got, NULL, NULL, NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_sock_recvfrom(closed, buf, 8, &got, NULL, NULL, 1), WEFT_EINVAL);

    CO_CHECK(weft_monotonic() - t0 < 0.5); /* none of them waited */
    /* And nothing was sent: the peer has nothing to read. */
    CO_CHECK_RC(weft_sock_recv(sv[1], buf, sizeof buf, &got, 0), WEFT_ETIMEDOUT);
    close_pair(sv);
}
IN_BOTH(bad_input)

int main(void)
{
    snprintf(sock_dir, sizeof sock_dir, "/tmp/weft-test-sock-XXXXXX");
    if (!mkdtemp(sock_dir)) {
        perror("mkdtemp");
        return 1;
    }
    int probe = socket(AF_INET6, SOCK_DGRAM, 0);
    if (probe >= 0) {
        struct sockaddr_in6 in6;
        memset(&in6, 0, sizeof in6);
        in6.sin6_family = AF_INET6;
        in6.sin6_addr = in6addr_loopback;
        have_ipv6 = bind(probe, (struct sockaddr *)&in6, sizeof in6) == 0;
        close(probe);
    }
    if (!have_ipv6)
        fprintf(stderr, "test_sock: no ::1 here, the IPv6 cases are skipped\n");

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(debug_mode_refuses_blocking_sockets),
        cmocka_unit_test(client_ops_in_coroutines),
        cmocka_unit_test(client_ops_in_threads),
        cmocka_unit_test(cancelled_recv_takes_nothing_in_coroutines),
        cmocka_unit_test(cancelled_recv_takes_nothing_in_threads),
        cmocka_unit_test(cancelled_sendall_then_another_in_coroutines),
        cmocka_unit_test(cancelled_sendall_then_another_in_threads),
        cmocka_unit_test(cancelled_connect_then_retry_in_coroutines),
        cmocka_unit_test(cancelled_connect_then_retry_in_threads),
        cmocka_unit_test(unix_connect_waits_for_room_in_coroutines),
        cmocka_unit_test(unix_connect_waits_for_room_in_threads),
        cmocka_unit_test(huge_sendall_with_reader_in_coroutines),
        cmocka_unit_test(huge_sendall_with_reader_in_threads),
        cmocka_unit_test(huge_send_interleaved_in_coroutines),
        cmocka_unit_test(huge_send_interleaved_in_threads),
        cmocka_unit_test(connect_refused_in_coroutines),
        cmocka_unit_test(connect_refused_in_threads),
        cmocka_unit_test(accept_gives_client_in_coroutines),
        cmocka_unit_test(accept_gives_client_in_threads),
        cmocka_unit_test(accept_timeout_leaves_nothing_in_coroutines),
        cmocka_unit_test(accept_timeout_leaves_nothing_in_threads),
        cmocka_unit_test(peer_vanishes_in_coroutines),
        cmocka_unit_test(peer_vanishes_in_threads),
        cmocka_unit_test(accept_out_of_descriptors_in_coroutines),
        cmocka_unit_test(accept_out_of_descriptors_in_threads),
        cmocka_unit_test(high_numbered_socket_in_coroutines),
        cmocka_unit_test(high_numbered_socket_in_threads),
        cmocka_unit_test(two_receivers_on_one_socket_in_coroutines),
        cmocka_unit_test(two_receivers_on_one_socket_in_threads),
        cmocka_unit_test(many_receivers_on_one_socket_in_coroutines),
        cmocka_unit_test(many_receivers_on_one_socket_in_threads),
        cmocka_unit_test(datagrams_in_coroutines),
        cmocka_unit_test(datagrams_in_threads),
        cmocka_unit_test(sendto_that_would_block_in_coroutines),
        cmocka_unit_test(sendto_that_would_block_in_threads),
        cmocka_unit_test(calls_time_out_in_coroutines),
        cmocka_unit_test(calls_time_out_in_threads),
        cmocka_unit_test(pool_task_cancel_is_prompt_in_threads),
        cmocka_unit_test(plain_close_and_reuse_in_coroutines),
        cmocka_unit_test(plain_close_and_reuse_in_threads),
        cmocka_unit_test(close_wakes_waiter_in_coroutines),
        cmocka_unit_test(many_waiters_random_order_in_coroutines),
        cmocka_unit_test(getaddrinfo_cases_in_coroutines),
        cmocka_unit_test(getaddrinfo_cases_in_threads),
        cmocka_unit_test(getaddrinfo_huge_capacity_in_coroutines),
        cmocka_unit_test(getaddrinfo_huge_capacity_in_threads),
        cmocka_unit_test(getaddrinfo_cancelled_in_coroutines),
        cmocka_unit_test(address_format_cases),
        cmocka_unit_test(bad_input_in_coroutines),
        cmocka_unit_test(bad_input_in_threads),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(sock_dir);
    return failed;
}
