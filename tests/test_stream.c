/* SPDX-License-Identifier: MIT */
/* test_stream.c — weft_stream_* (asyncio's StreamReader / StreamWriter)
 * over socketpairs and loopback TCP: what each read call takes and
 * leaves, the limits, failures, back-pressure, closing, the same calls
 * from a plain thread, and hostile peers (closing mid-read, resetting,
 * never reading, trickling bytes), cancellation, descriptors not leaked.
 *
 * The peer end of a pair is a plain blocking socket that the test writes
 * and reads with the system calls; what the peer does later is done by
 * helper threads (peer_*), which the coroutine joins (suspending only
 * itself).  Every wait has a timeout: a broken stream fails a check
 * instead of hanging, and ctest's TIMEOUT bounds the rest. */
#include "coro_harness.h"

#include "net_internal.h" /* the server's hooks: weft__stream_cap_reads, ... */

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A wait the test expects to be cut short; what cutting it must beat. */
#define LONG 10.0
#define SOON 5.0

/* ---- helpers ------------------------------------------------------------- */

static int open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;
    if (!dir)
        return -1;
    while (readdir(dir))
        n++;
    closedir(dir);
    return n - 3; /* ".", ".." and the directory's own fd */
}

static bool fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

typedef struct pair {
    weft_stream *s;
    int peer; /* the other end: blocking, the test's */
} pair;

static void make_pair_with(pair *p, const weft_stream_options *options)
{
    int sv[2] = {-1, -1};
    p->s = NULL;
    p->peer = -1;
    if (!CO_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0))
        return;
    CO_CHECK_RC(weft_stream_from_fd(sv[0], options, &p->s), WEFT_OK);
    p->peer = sv[1];
}

static void make_pair(pair *p) { make_pair_with(p, NULL); }

/* A pair whose stream a first (timed-out) wait has given to the running
 * coroutine's loop: from then on its writes are deferred to the next wait. */
static void make_deferring_pair(pair *p)
{
    char byte;
    size_t got = 0;
    make_pair(p);
    CO_CHECK_RC(weft_stream_read(p->s, &byte, 1, &got, 0.01), WEFT_ETIMEDOUT);
}

static void free_pair(pair *p)
{
    weft_stream_free(p->s);
    p->s = NULL;
    if (p->peer >= 0)
        close(p->peer);
    p->peer = -1;
}

static void peer_send_n(int fd, const void *data, size_t n)
{
    const char *c = data;
    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (!CO_CHECK(k > 0))
            return;
        c += k;
        n -= (size_t)k;
    }
}

static void peer_send(int fd, const char *text) { peer_send_n(fd, text, strlen(text)); }

/* Read up to n bytes from the peer end within timeout: how many. */
static size_t peer_recv(int fd, void *buf, size_t n, double timeout)
{
    size_t got = 0;
    double end = weft_monotonic() + timeout;
    while (got < n && weft_monotonic() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t k = recv(fd, (char *)buf + got, n - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

/* Whether the peer end reads end of file (or a reset) within timeout. */
static bool peer_sees_eof(int fd, double timeout)
{
    char c;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)(timeout * 1000)) <= 0)
        return false;
    return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static bool view_is(const char *data, size_t len, const char *want)
{
    return data && len == strlen(want) && memcmp(data, want, len) == 0;
}

#define CO_CHECK_VIEW(data, len, want)                                         \
    co_check_(view_is((data), (len), (want)), #data " is \"" want "\"", __FILE__, __LINE__)

/* The bytes of a long test message: position i holds pattern(i). */
static unsigned char pattern(size_t i) { return (unsigned char)((i * 7 + i / 251) % 253); }

static void fill_pattern(unsigned char *buf, size_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(from + i);
}

/* A peer thread: after `delay`, send chunks (each after `gap`), then
 * close the peer end if asked. */
typedef struct peer_script {
    int fd;
    double delay, gap;
    const char *chunks[8];
    bool close_after;
} peer_script;

static void *peer_script_run(void *arg)
{
    peer_script *ps = arg;
    nap(ps->delay);
    for (int i = 0; i < 8 && ps->chunks[i]; i++) {
        if (i)
            nap(ps->gap);
        peer_send(ps->fd, ps->chunks[i]);
    }
    if (ps->close_after)
        shutdown(ps->fd, SHUT_WR);
    return NULL;
}

/* A peer thread that reads everything until end of file (at most
 * `timeout` s), after `delay` s, checking the pattern. */
typedef struct peer_reader {
    int fd;
    double delay, timeout;
    size_t got;
    bool pattern_ok, eof;
} peer_reader;

static void *peer_reader_run(void *arg)
{
    peer_reader *pr = arg;
    unsigned char buf[65536];
    double end = weft_monotonic() + pr->timeout;
    pr->pattern_ok = true;
    nap(pr->delay);
    while (weft_monotonic() < end) {
        struct pollfd p = {.fd = pr->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t k = recv(pr->fd, buf, sizeof buf, 0);
        if (k <= 0) {
            pr->eof = true;
            break;
        }
        for (ssize_t i = 0; i < k; i++)
            pr->pattern_ok &= buf[i] == pattern(pr->got + (size_t)i);
        pr->got += (size_t)k;
    }
    return NULL;
}

/* Write n pattern bytes to s in pieces of 4096 (never waits). */
static void write_pattern(weft_stream *s, size_t n)
{
    unsigned char piece[4096];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof piece ? n - done : sizeof piece;
        fill_pattern(piece, done, k);
        if (!CO_CHECK_RC(weft_stream_write(s, piece, k), WEFT_OK))
            return;
        done += k;
    }
}

/* Make the socket buffers of a pair small, so that a few hundred KiB
 * fill them (the kernel doubles what it is given, and rounds up). */
static void small_buffers(pair *p)
{
    int size = 16384;
    setsockopt(weft_stream_fd(p->s), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(p->peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

/* A loopback TCP listener on a free port. */
typedef struct listener {
    int fd;
    char port[16];
} listener;

static void listen_tcp(listener *l)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CO_CHECK(l->fd >= 0 && bind(l->fd, (struct sockaddr *)&a, sizeof a) == 0);
    CO_CHECK(listen(l->fd, 16) == 0 && getsockname(l->fd, (struct sockaddr *)&a, &len) == 0);
    snprintf(l->port, sizeof l->port, "%u", (unsigned)ntohs(a.sin_port));
}

/* A stream connected over loopback TCP, and the accepted peer end. */
static void make_tcp_pair(pair *p)
{
    listener l;
    listen_tcp(&l);
    p->s = NULL;
    p->peer = -1;
    CO_CHECK_RC(weft_open_connection("127.0.0.1", l.port, NULL, 5, &p->s), WEFT_OK);
    p->peer = accept(l.fd, NULL, NULL);
    CO_CHECK(p->peer >= 0);
    close(l.fd);
}

/* ==== reading ==== */

/* A test whose body runs as the main coroutine of a fresh loop. */
#define CORO_TEST(name)                                                        \
    static void *name##_main(void *arg);                                      \
    static void name(void **state)                                            \
    {                                                                         \
        (void)state;                                                          \
        run_coro(name##_main, NULL);                                          \
    }                                                                         \
    static void *name##_main(void *arg)

/* read(n) gives what is buffered at once, up to n (2 of 100 asked); read
 * of 0 bytes takes nothing; read_all takes everything up to end of file;
 * at end of file read gives 0 bytes. */
CORO_TEST(read_takes_what_is_there)
{
    (void)arg;
    pair p;
    char buf[100];
    size_t got = 99;
    make_pair(&p);
    peer_send(p.peer, "ab");
    CO_CHECK_RC(weft_stream_read(p.s, buf, sizeof buf, &got, LONG), WEFT_OK);
    CO_CHECK(got == 2 && memcmp(buf, "ab", 2) == 0);
    peer_send(p.peer, "cd");
    CO_CHECK_RC(weft_stream_read(p.s, buf, 1, &got, LONG), WEFT_OK);
    CO_CHECK(got == 1 && buf[0] == 'c');
    CO_CHECK_RC(weft_stream_read(p.s, buf, 0, &got, LONG), WEFT_OK);
    CO_CHECK_INT(got, 0);
    CO_CHECK_INT(weft_stream_at_eof(p.s), false);
    peer_send(p.peer, "efgh\nijk");
    shutdown(p.peer, SHUT_WR);
    void *all = NULL;
    size_t len = 0;
    CO_CHECK_RC(weft_stream_read_all(p.s, &all, &len, LONG), WEFT_OK);
    CO_CHECK(all && len == 9 && memcmp(all, "defgh\nijk", 9) == 0);
    free(all);
    CO_CHECK_RC(weft_stream_read(p.s, buf, sizeof buf, &got, LONG), WEFT_OK);
    CO_CHECK_INT(got, 0);
    CO_CHECK_RC(weft_stream_read_all(p.s, &all, &len, LONG), WEFT_OK);
    CO_CHECK(all != NULL && len == 0);
    free(all);
    CO_CHECK(weft_stream_at_eof(p.s));
    free_pair(&p);
    return NULL;
}

/* A read with nothing buffered waits for the bytes (suspending only its
 * coroutine), and times out with nothing taken. */
CORO_TEST(read_waits_and_times_out)
{
    (void)arg;
    pair p;
    char buf[16];
    size_t got = 5;
    make_pair(&p);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_read(p.s, buf, sizeof buf, &got, 0.2), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 >= 0.15 && got == 0);
    CO_CHECK_RC(weft_stream_read(p.s, buf, sizeof buf, &got, 0), WEFT_ETIMEDOUT);
    peer_script ps = {p.peer, 0.05, 0, {"late", NULL}, false};
    weft_thread *t = start_thread(peer_script_run, &ps);
    CO_CHECK_RC(weft_stream_read(p.s, buf, sizeof buf, &got, LONG), WEFT_OK);
    CO_CHECK(got == 4 && memcmp(buf, "late", 4) == 0);
    join_thread(t);
    free_pair(&p);
    return NULL;
}

/* readline gathers a line across chunks, up to and including '\n', and
 * leaves the rest buffered; at end of file it gives the partial last
 * line, then empty lines. */
CORO_TEST(readline_across_chunks)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len;
    make_pair(&p);
    peer_script ps = {p.peer, 0.02, 0.02, {"li", "ne1\nli", "ne2\nta", "il"}, true};
    weft_thread *t = start_thread(peer_script_run, &ps);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "line1\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "line2\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "tail");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_INT(len, 0);
    CO_CHECK(weft_stream_at_eof(p.s));
    join_thread(t);
    free_pair(&p);
    return NULL;
}

/* readline's limit bounds the bytes before the '\n': limit 7 takes
 * "1234567\n" and refuses "12345678\n" with WEFT_ELIMIT, discarding it
 * through its '\n' (the next line is kept); a long line with no '\n' yet
 * is refused and the whole buffer discarded. */
CORO_TEST(readline_limit)
{
    (void)arg;
    weft_stream_options o = WEFT_STREAM_OPTIONS_INIT;
    pair p;
    const char *line;
    size_t len;
    o.limit = 7;
    make_pair_with(&p, &o);
    peer_send(p.peer, "1234567\n12345678\nline2\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "1234567\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_ELIMIT);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "line2\n");
    peer_send(p.peer, "123456789");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_ELIMIT);
    peer_send(p.peer, "ab\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "ab\n");
    free_pair(&p);
    return NULL;
}

/* readuntil returns the data through the separator however it was cut
 * into chunks, leaving the rest; end of file first: WEFT_EINCOMPLETE with
 * all that was buffered (taken: the stream is then at end of file). */
CORO_TEST(readuntil_separator)
{
    (void)arg;
    pair p;
    const char *data;
    size_t len;
    char rest[8];
    size_t got;
    make_pair(&p);
    peer_script ps = {p.peer, 0.02, 0.02, {"xxA", "A", "Axxx", NULL}, false};
    weft_thread *t = start_thread(peer_script_run, &ps);
    CO_CHECK_RC(weft_stream_readuntil(p.s, "AAA", 3, &data, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(data, len, "xxAAA");
    join_thread(t);
    CO_CHECK_RC(weft_stream_readexactly(p.s, rest, 3, &got, LONG), WEFT_OK);
    CO_CHECK(got == 3 && memcmp(rest, "xxx", 3) == 0);
    peer_send(p.peer, "noseparator");
    shutdown(p.peer, SHUT_WR);
    CO_CHECK_RC(weft_stream_readuntil(p.s, "AAA", 3, &data, &len, LONG), WEFT_EINCOMPLETE);
    CO_CHECK_VIEW(data, len, "noseparator");
    CO_CHECK(weft_stream_at_eof(p.s));
    CO_CHECK_RC(weft_stream_readuntil(p.s, "AAA", 3, &data, &len, LONG), WEFT_EINCOMPLETE);
    CO_CHECK_INT(len, 0);
    free_pair(&p);
    return NULL;
}

/* A separator not found within the limit, or found beyond it: WEFT_ELIMIT,
 * nothing taken (a later read gets it all), *len how far it looked. */
CORO_TEST(readuntil_limit_keeps_data)
{
    (void)arg;
    weft_stream_options o = WEFT_STREAM_OPTIONS_INIT;
    pair p;
    const char *data;
    size_t len = 0, got;
    char buf[32];
    o.limit = 5;
    make_pair_with(&p, &o);
    peer_send(p.peer, "0123456789");
    CO_CHECK_RC(weft_stream_readuntil(p.s, "!!", 2, &data, &len, LONG), WEFT_ELIMIT);
    CO_CHECK_INT(len, 9); /* all but the last byte, which may start "!!" */
    CO_CHECK_RC(weft_stream_read(p.s, buf, sizeof buf, &got, LONG), WEFT_OK);
    CO_CHECK(got == 10 && memcmp(buf, "0123456789", 10) == 0);
    peer_send(p.peer, "abcdefg!!");
    CO_CHECK_RC(weft_stream_readuntil(p.s, "!!", 2, &data, &len, LONG), WEFT_ELIMIT);
    CO_CHECK_INT(len, 7); /* where the separator starts */
    CO_CHECK_RC(weft_stream_readuntil(p.s, "g", 1, &data, &len, LONG), WEFT_ELIMIT);
    CO_CHECK_RC(weft_stream_readexactly(p.s, buf, 9, &got, LONG), WEFT_OK);
    CO_CHECK(got == 9 && memcmp(buf, "abcdefg!!", 9) == 0);
    peer_send(p.peer, "abcde!!");
    CO_CHECK_RC(weft_stream_readuntil(p.s, "!!", 2, &data, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(data, len, "abcde!!");
    free_pair(&p);
    return NULL;
}

/* Separators: an empty one, or none, is WEFT_EINVAL; of several, the
 * match that ends first wins ("DEF" or "BCDE" in "ABCDEFG": "ABCDE"). */
CORO_TEST(readuntil_several_separators)
{
    (void)arg;
    pair p;
    const char *data;
    size_t len;
    make_pair(&p);
    CO_CHECK_RC(weft_stream_readuntil(p.s, "", 0, &data, &len, LONG), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readuntil(p.s, NULL, 1, &data, &len, LONG), WEFT_EINVAL);
    const void *seps[] = {"DEF", "BCDE", ""};
    const size_t lens[] = {3, 4, 0};
    CO_CHECK_RC(weft_stream_readuntil_any(p.s, seps, lens, 0, &data, &len, LONG), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readuntil_any(p.s, seps, lens, 3, &data, &len, LONG), WEFT_EINVAL);
    peer_send(p.peer, "ABCDEFG");
    CO_CHECK_RC(weft_stream_readuntil_any(p.s, seps, lens, 2, &data, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(data, len, "ABCDE");
    /* One that starts first but ends later loses. */
    peer_send(p.peer, "xxBCDEF");
    const void *seps2[] = {"GxxBCD", "xB"};
    const size_t lens2[] = {6, 2};
    CO_CHECK_RC(weft_stream_readuntil_any(p.s, seps2, lens2, 2, &data, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(data, len, "FGxxB");
    free_pair(&p);
    return NULL;
}

/* readexactly waits for exactly n bytes, leaving the rest; 0 bytes at
 * once; end of file first: WEFT_EINCOMPLETE with the 18 of 36 bytes that
 * came, the buffer empty.  The limit bounds only separator searches. */
CORO_TEST(readexactly_counts)
{
    (void)arg;
    weft_stream_options o = WEFT_STREAM_OPTIONS_INIT;
    pair p;
    char buf[64];
    size_t got = 1;
    o.limit = 3;
    make_pair_with(&p, &o);
    CO_CHECK_RC(weft_stream_readexactly(p.s, NULL, 0, &got, LONG), WEFT_OK);
    CO_CHECK_INT(got, 0);
    peer_script ps = {p.peer, 0.02, 0.02, {"chu", "nk", "chunkchunk", NULL}, false};
    weft_thread *t = start_thread(peer_script_run, &ps);
    CO_CHECK_RC(weft_stream_readexactly(p.s, buf, 5, &got, LONG), WEFT_OK);
    CO_CHECK(got == 5 && memcmp(buf, "chunk", 5) == 0);
    CO_CHECK_RC(weft_stream_read(p.s, buf, 5, &got, LONG), WEFT_OK);
    CO_CHECK(got == 5 && memcmp(buf, "chunk", 5) == 0);
    join_thread(t);
    CO_CHECK_RC(weft_stream_readexactly(p.s, buf, 2, &got, LONG), WEFT_OK);
    CO_CHECK(got == 2 && memcmp(buf, "ch", 2) == 0);
    peer_send(p.peer, "0123456789abcde");
    shutdown(p.peer, SHUT_WR);
    CO_CHECK_RC(weft_stream_readexactly(p.s, buf, 36, &got, LONG), WEFT_EINCOMPLETE);
    CO_CHECK(got == 18 && memcmp(buf, "unk0123456789abcde", 18) == 0);
    CO_CHECK(weft_stream_at_eof(p.s));
    free_pair(&p);
    return NULL;
}

/* set_exception: a reader blocked in readline wakes with the status,
 * later reads get it too, what was read before stays read; setting it
 * after the reader was cancelled is harmless. */
static weft_stream *blocked_stream;
static int blocked_rc;

static void *blocked_readline(void *arg)
{
    (void)arg;
    const char *line;
    size_t len;
    blocked_rc = weft_stream_readline(blocked_stream, &line, &len, LONG);
    return NULL;
}

CORO_TEST(set_exception_wakes_reader)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len;
    char buf[4];
    make_pair(&p);
    peer_send(p.peer, "first\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "first\n");
    blocked_stream = p.s;
    blocked_rc = -1;
    weft_future *reader = co_spawn(blocked_readline, NULL);
    co_yield(3);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_set_exception(p.s, WEFT_EPIPE), WEFT_OK);
    CO_CHECK_RC(co_finish(reader, SOON), WEFT_OK);
    CO_CHECK_RC(blocked_rc, WEFT_EPIPE);
    CO_CHECK(weft_monotonic() - t0 < SOON);
    peer_send(p.peer, "more\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_EPIPE);
    CO_CHECK_RC(weft_stream_read(p.s, buf, 4, &len, LONG), WEFT_EPIPE);
    CO_CHECK_RC(weft_stream_set_exception(p.s, WEFT_OK), WEFT_EINVAL);
    free_pair(&p);

    /* A reader cancelled first, then the exception: nothing goes wrong. */
    make_pair(&p);
    blocked_stream = p.s;
    reader = co_spawn(blocked_readline, NULL);
    co_yield(3);
    weft_future_cancel(reader);
    CO_CHECK_RC(co_finish(reader, SOON), WEFT_ECANCELLED);
    CO_CHECK_RC(blocked_rc, WEFT_ECANCELLED);
    CO_CHECK_RC(weft_stream_set_exception(p.s, WEFT_ECONNRESET), WEFT_OK);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_ECONNRESET);
    free_pair(&p);
    return NULL;
}

/* at_eof only once end of file came and the buffer is empty; reading
 * line by line gives "a\n", "b\n", "c", then nothing. */
CORO_TEST(at_eof_and_lines)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len;
    const char *want[] = {"a\n", "b\n", "c"};
    make_pair(&p);
    CO_CHECK(!weft_stream_at_eof(p.s));
    peer_send(p.peer, "a\nb\nc");
    shutdown(p.peer, SHUT_WR);
    int n = 0;
    for (; n < 10; n++) {
        CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
        if (len == 0)
            break;
        CO_CHECK(n < 3 && view_is(line, len, want[n]));
        if (n == 0)
            CO_CHECK(!weft_stream_at_eof(p.s)); /* end of file came, lines remain */
    }
    CO_CHECK_INT(n, 3);
    CO_CHECK(weft_stream_at_eof(p.s));
    free_pair(&p);
    return NULL;
}

/* Views stay valid until the next read call: a line can be written back
 * as it is.  Many lines of every length, cut into chunks of every size,
 * make the buffer compact and grow under views handed out before. */
static void *send_numbered_lines(void *arg)
{
    int fd = *(int *)arg;
    char *text = malloc(4 * 1024 * 1024);
    size_t n = 0;
    if (!text)
        return NULL;
    for (int i = 0; i < 3000; i++) {
        int width = (i * 37) % 700;
        n += (size_t)sprintf(text + n, "%d:", i);
        for (int k = 0; k < width; k++)
            text[n++] = (char)('a' + (i + k) % 26);
        text[n++] = '\n';
    }
    for (size_t done = 0, cut = 1; done < n; cut = cut * 3 % 40000 + 1) {
        size_t k = n - done < cut ? n - done : cut;
        peer_send_n(fd, text + done, k);
        done += k;
    }
    shutdown(fd, SHUT_WR);
    free(text);
    return NULL;
}

CORO_TEST(views_stay_valid)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len;
    char want[1024];
    make_pair(&p);
    weft_thread *t = start_thread(send_numbered_lines, &p.peer);
    int i = 0;
    for (; i < 3100; i++) {
        if (!CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK) || len == 0)
            break;
        int width = (i * 37) % 700;
        size_t n = (size_t)sprintf(want, "%d:", i);
        for (int k = 0; k < width; k++)
            want[n++] = (char)('a' + (i + k) % 26);
        want[n++] = '\n';
        if (!CO_CHECK(len == n && memcmp(line, want, n) == 0))
            break;
    }
    CO_CHECK_INT(i, 3000);
    join_thread(t);
    free_pair(&p);

    /* A view written back to the peer, then the next line read. */
    make_pair(&p);
    peer_send(p.peer, "echo me\nnext\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_RC(weft_stream_write(p.s, line, len), WEFT_OK);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "echo me\n");
    char back[8];
    CO_CHECK_INT(peer_recv(p.peer, back, 8, SOON), 8);
    CO_CHECK(memcmp(back, "echo me\n", 8) == 0);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "next\n");
    free_pair(&p);
    return NULL;
}

/* ==== writing ==== */

#define MIB ((size_t)1 << 20)

/* Back-pressure with asyncio's marks (64 KiB high, 16 KiB low): a peer
 * that never reads leaves the buffer above the high mark, so drain waits
 * and times out (WEFT_ETIMEDOUT, the stream still usable); once the peer
 * reads, drain returns with the buffer at or below the low mark, and
 * every byte arrives, in order. */
CORO_TEST(drain_waits_for_a_slow_peer)
{
    (void)arg;
    pair p;
    make_pair(&p);
    small_buffers(&p);
    write_pattern(p.s, MIB);
    CO_CHECK(weft_stream_write_buffer_size(p.s) > 65536);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_drain(p.s, 0.3), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 >= 0.25);
    CO_CHECK_RC(weft_stream_drain(p.s, 0), WEFT_ETIMEDOUT);
    CO_CHECK(weft_stream_write_buffer_size(p.s) > 65536);
    peer_reader pr = {p.peer, 0.1, 30, 0, false, false};
    weft_thread *t = start_thread(peer_reader_run, &pr);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_OK);
    CO_CHECK(weft_stream_write_buffer_size(p.s) <= 16384);
    /* Below the high mark, drain does not wait. */
    CO_CHECK_RC(weft_stream_drain(p.s, 0), WEFT_OK);
    weft_stream_close(p.s);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
    join_thread(t);
    CO_CHECK(pr.got == MIB && pr.pattern_ok && pr.eof);
    free_pair(&p);
    return NULL;
}

/* Water marks given: high and low, high alone (low = high / 4), low
 * alone (high = 4 * low); the wrong way round is WEFT_EINVAL. */
CORO_TEST(water_marks_from_options)
{
    (void)arg;
    weft_stream_options o = WEFT_STREAM_OPTIONS_INIT;
    pair p;
    weft_stream *s = NULL;
    int sv[2];
    o.high_water = 1000;
    o.low_water = 2000;
    CO_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CO_CHECK_RC(weft_stream_from_fd(sv[0], &o, &s), WEFT_EINVAL);
    CO_CHECK(s == NULL && !fd_is_open(sv[0])); /* closed, as it was given */
    close(sv[1]);
    o.low_water = 0;
    o.high_water = 400000;
    make_pair_with(&p, &o);
    small_buffers(&p);
    write_pattern(p.s, 300000);
    CO_CHECK_RC(weft_stream_drain(p.s, 0), WEFT_OK); /* under 400000 */
    write_pattern(p.s, 300000);
    CO_CHECK_RC(weft_stream_drain(p.s, 0.05), WEFT_ETIMEDOUT);
    peer_reader pr = {p.peer, 0, 30, 0, false, false};
    weft_thread *t = start_thread(peer_reader_run, &pr);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_OK);
    CO_CHECK(weft_stream_write_buffer_size(p.s) <= 100000);
    weft_stream_close(p.s);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
    join_thread(t);
    CO_CHECK_INT(pr.got, 600000);
    free_pair(&p);
    return NULL;
}

/* Ten tasks in drain while writing is paused: all ten resume. */
static weft_stream *drain_stream;
static int drain_rcs[10];

static void *drainer(void *arg)
{
    drain_rcs[VALUE(arg)] = weft_stream_drain(drain_stream, LONG);
    return NULL;
}

CORO_TEST(ten_drainers_all_resume)
{
    (void)arg;
    pair p;
    weft_future *tasks[10];
    make_pair(&p);
    small_buffers(&p);
    write_pattern(p.s, MIB);
    drain_stream = p.s;
    for (int i = 0; i < 10; i++) {
        drain_rcs[i] = -1;
        tasks[i] = co_spawn(drainer, ITEM(i));
    }
    co_yield(5);
    for (int i = 0; i < 10; i++)
        CO_CHECK(!weft_future_done(tasks[i]));
    peer_reader pr = {p.peer, 0, 30, 0, false, false};
    weft_thread *t = start_thread(peer_reader_run, &pr);
    for (int i = 0; i < 10; i++) {
        CO_CHECK_RC(co_finish(tasks[i], LONG), WEFT_OK);
        CO_CHECK_RC(drain_rcs[i], WEFT_OK);
    }
    weft_stream_close(p.s);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
    join_thread(t);
    CO_CHECK(pr.got == MIB && pr.pattern_ok);
    free_pair(&p);
    return NULL;
}

/* A peer that closes while the writer loops write + drain: the writer
 * gets WEFT_EPIPE or WEFT_ECONNRESET (from write or drain) instead of
 * going on forever; over a socketpair and over TCP. */
static void write_until_refused(pair *p)
{
    unsigned char piece[4096];
    int rc = WEFT_OK;
    fill_pattern(piece, 0, sizeof piece);
    for (int i = 0; i < 20000 && rc == WEFT_OK; i++) {
        rc = weft_stream_write(p->s, piece, sizeof piece);
        if (rc == WEFT_OK)
            rc = weft_stream_drain(p->s, LONG);
    }
    CO_CHECK_RC2(rc, WEFT_EPIPE, WEFT_ECONNRESET);
    CO_CHECK(weft_stream_is_closing(p->s));
    CO_CHECK_RC2(weft_stream_drain(p->s, LONG), WEFT_EPIPE, WEFT_ECONNRESET);
    CO_CHECK_RC2(weft_stream_write(p->s, "x", 1), WEFT_EPIPE, WEFT_ECONNRESET);
}

CORO_TEST(drain_fails_when_peer_closes)
{
    (void)arg;
    pair p;
    make_pair(&p);
    small_buffers(&p);
    close(p.peer);
    p.peer = -1;
    write_until_refused(&p);
    free_pair(&p);
    make_tcp_pair(&p);
    close(p.peer);
    p.peer = -1;
    write_until_refused(&p);
    free_pair(&p);
    return NULL;
}

/* close: is_closing at once; writes and drains after it are
 * WEFT_ECONNRESET; wait_closed completes, also with unread data there;
 * then the reader is at end of file.  What was written before close is
 * still sent, then the peer reads end of file. */
/* In a coroutine a stream's writes wait for the task's next wait on it,
 * or for the loop's next look at its fds, and then go out in one send:
 * the peer's one recv gets both pieces; a task that writes and then waits
 * on something else (a sleep) still has its bytes sent meanwhile; free
 * sends what the socket takes at once. */
CORO_TEST(writes_of_a_step_go_out_together)
{
    (void)arg;
    pair p;
    char buf[64];
    size_t got = 0;
    make_deferring_pair(&p);
    CO_CHECK_RC(weft_stream_write(p.s, "head|", 5), WEFT_OK);
    CO_CHECK_RC(weft_stream_write(p.s, "body", 4), WEFT_OK);
    CO_CHECK_INT(weft_stream_write_buffer_size(p.s), 9); /* queued, not sent yet */
    struct pollfd pf = {.fd = p.peer, .events = POLLIN};
    CO_CHECK_INT(poll(&pf, 1, 0), 0);
    CO_CHECK_RC(weft_stream_read(p.s, buf, 1, &got, 0.05), WEFT_ETIMEDOUT); /* a wait: sent */
    ssize_t k = recv(p.peer, buf, sizeof buf, MSG_DONTWAIT);
    CO_CHECK_INT(k, 9); /* one send: one recv takes both */
    CO_CHECK(k == 9 && memcmp(buf, "head|body", 9) == 0);
    CO_CHECK_RC(weft_stream_write(p.s, "later", 5), WEFT_OK);
    weft_sleep(0.02); /* no wait on the stream: the loop sends it */
    CO_CHECK_INT(weft_stream_write_buffer_size(p.s), 0);
    CO_CHECK_INT(peer_recv(p.peer, buf, 5, SOON), 5);
    CO_CHECK_RC(weft_stream_write(p.s, "last", 4), WEFT_OK);
    weft_stream_free(p.s); /* sends what the socket takes */
    p.s = NULL;
    CO_CHECK_INT(peer_recv(p.peer, buf, 4, SOON), 4);
    CO_CHECK(memcmp(buf, "last", 4) == 0 && peer_sees_eof(p.peer, SOON));
    free_pair(&p);
    return NULL;
}

CORO_TEST(close_and_wait_closed)
{
    (void)arg;
    pair p;
    char buf[8];
    size_t got = 1;
    make_pair(&p);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_ESTATE);
    peer_send(p.peer, "never read\n");
    CO_CHECK_RC(weft_stream_write(p.s, "bye", 3), WEFT_OK);
    CO_CHECK(!weft_stream_is_closing(p.s));
    weft_stream_close(p.s);
    CO_CHECK(weft_stream_is_closing(p.s));
    CO_CHECK_RC(weft_stream_write(p.s, "more", 4), WEFT_ECONNRESET);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_ECONNRESET);
    CO_CHECK_RC(weft_stream_write_eof(p.s), WEFT_ESTATE);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, 0), WEFT_OK);
    weft_stream_close(p.s); /* again: nothing */
    CO_CHECK_INT(weft_stream_fd(p.s), -1);
    CO_CHECK_RC(weft_stream_read(p.s, buf, sizeof buf, &got, LONG), WEFT_OK);
    CO_CHECK_INT(got, 0);
    CO_CHECK(weft_stream_at_eof(p.s));
    CO_CHECK_INT(peer_recv(p.peer, buf, 3, SOON), 3);
    CO_CHECK(memcmp(buf, "bye", 3) == 0 && peer_sees_eof(p.peer, SOON));
    free_pair(&p);

    /* A big buffer is sent in the background after close. */
    make_pair(&p);
    small_buffers(&p);
    write_pattern(p.s, MIB / 2);
    weft_stream_close(p.s);
    peer_reader pr = {p.peer, 0.05, 30, 0, false, false};
    weft_thread *t = start_thread(peer_reader_run, &pr);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
    join_thread(t);
    CO_CHECK(pr.got == MIB / 2 && pr.pattern_ok && pr.eof);
    free_pair(&p);

    /* A peer that never reads: wait_closed times out, drops the rest
     * and closes anyway. */
    make_pair(&p);
    small_buffers(&p);
    write_pattern(p.s, MIB / 2);
    weft_stream_close(p.s);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, 0.2), WEFT_ETIMEDOUT);
    CO_CHECK_INT(weft_stream_fd(p.s), -1);
    CO_CHECK_INT(weft_stream_write_buffer_size(p.s), 0);
    pr = (peer_reader){p.peer, 0, 30, 0, false, false};
    peer_reader_run(&pr);
    CO_CHECK(pr.eof && pr.got < MIB / 2);
    free_pair(&p);
    return NULL;
}

/* write_eof: the peer reads what was written, then end of file, and
 * this side still reads; writing after it is WEFT_ESTATE.  With a big
 * buffer the end of file follows its last byte. */
CORO_TEST(write_eof_half_closes)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len;
    char buf[8];
    make_pair(&p);
    CO_CHECK_RC(weft_stream_write(p.s, "last", 4), WEFT_OK);
    CO_CHECK_RC(weft_stream_write_eof(p.s), WEFT_OK);
    CO_CHECK_RC(weft_stream_write(p.s, "x", 1), WEFT_ESTATE);
    CO_CHECK_INT(peer_recv(p.peer, buf, 4, SOON), 4);
    CO_CHECK(memcmp(buf, "last", 4) == 0 && peer_sees_eof(p.peer, SOON));
    peer_send(p.peer, "reply\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "reply\n");
    free_pair(&p);

    make_pair(&p);
    small_buffers(&p);
    write_pattern(p.s, MIB / 2);
    CO_CHECK_RC(weft_stream_write_eof(p.s), WEFT_OK);
    peer_reader pr = {p.peer, 0, 30, 0, false, false};
    weft_thread *t = start_thread(peer_reader_run, &pr);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_OK);
    join_thread(t);
    CO_CHECK(pr.got == MIB / 2 && pr.pattern_ok && pr.eof);
    peer_send(p.peer, "still\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "still\n");
    free_pair(&p);
    return NULL;
}

/* ==== hostile peers, cancellation, threads, connecting ==== */

/* Cancelling a task blocked in a read: it returns WEFT_ECANCELLED having
 * taken nothing, and the next read gets every byte, the ones that came
 * before the cancellation too. */
static weft_stream *cancel_stream;
static int cancel_rc;
static size_t cancel_got;

static void *cancelled_readexactly(void *arg)
{
    char *buf = arg;
    cancel_rc = weft_stream_readexactly(cancel_stream, buf, 10, &cancel_got, LONG);
    return NULL;
}

static void *cancelled_drain(void *arg)
{
    (void)arg;
    cancel_rc = weft_stream_drain(cancel_stream, LONG);
    return NULL;
}

CORO_TEST(cancel_in_read_loses_nothing)
{
    (void)arg;
    pair p;
    static char buf[16];
    const char *line;
    size_t len, got;
    make_pair(&p);
    cancel_stream = p.s;
    peer_send(p.peer, "abcd");
    weft_future *task = co_spawn(cancelled_readexactly, buf);
    co_yield(5);
    CO_CHECK(!weft_future_done(task));
    weft_future_cancel(task);
    CO_CHECK_RC(co_finish(task, SOON), WEFT_ECANCELLED);
    CO_CHECK_RC(cancel_rc, WEFT_ECANCELLED);
    CO_CHECK_INT(cancel_got, 0);
    peer_send(p.peer, "efghij");
    CO_CHECK_RC(weft_stream_readexactly(p.s, buf, 10, &got, LONG), WEFT_OK);
    CO_CHECK(got == 10 && memcmp(buf, "abcdefghij", 10) == 0);

    peer_send(p.peer, "par");
    blocked_stream = p.s;
    task = co_spawn(blocked_readline, NULL);
    co_yield(5);
    weft_future_cancel(task);
    CO_CHECK_RC(co_finish(task, SOON), WEFT_ECANCELLED);
    CO_CHECK_RC(blocked_rc, WEFT_ECANCELLED);
    peer_send(p.peer, "tial\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "partial\n");
    free_pair(&p);
    return NULL;
}

/* Cancelling a task blocked in drain: WEFT_ECANCELLED, the buffer kept;
 * the stream goes on and every byte arrives in order. */
CORO_TEST(cancel_in_drain_loses_nothing)
{
    (void)arg;
    pair p;
    make_pair(&p);
    small_buffers(&p);
    cancel_stream = p.s;
    write_pattern(p.s, MIB / 2);
    weft_future *task = co_spawn(cancelled_drain, NULL);
    co_yield(5);
    CO_CHECK(!weft_future_done(task));
    weft_future_cancel(task);
    CO_CHECK_RC(co_finish(task, SOON), WEFT_ECANCELLED);
    CO_CHECK_RC(cancel_rc, WEFT_ECANCELLED);
    /* The second half continues the pattern where the first stopped. */
    unsigned char piece[4096];
    for (size_t done = MIB / 2; done < MIB; done += sizeof piece) {
        fill_pattern(piece, done, sizeof piece);
        CO_CHECK_RC(weft_stream_write(p.s, piece, sizeof piece), WEFT_OK);
    }
    peer_reader pr = {p.peer, 0, 30, 0, false, false};
    weft_thread *t = start_thread(peer_reader_run, &pr);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_OK);
    weft_stream_close(p.s);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
    join_thread(t);
    CO_CHECK(pr.got == MIB && pr.pattern_ok && pr.eof);
    free_pair(&p);
    return NULL;
}

/* A peer that resets the connection (SO_LINGER 0, then close): a reader
 * blocked then wakes with WEFT_ECONNRESET, so do later reads, writes and
 * drains; the stream is closing. */
static void reset_peer(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

CORO_TEST(reset_connection)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len;
    make_tcp_pair(&p);
    blocked_stream = p.s;
    blocked_rc = -1;
    weft_future *task = co_spawn(blocked_readline, NULL);
    co_yield(5);
    reset_peer(p.peer);
    p.peer = -1;
    CO_CHECK_RC(co_finish(task, SOON), WEFT_OK);
    CO_CHECK_RC(blocked_rc, WEFT_ECONNRESET);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_ECONNRESET);
    CO_CHECK_RC(weft_stream_write(p.s, "x", 1), WEFT_ECONNRESET);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_ECONNRESET);
    CO_CHECK(weft_stream_is_closing(p.s));
    free_pair(&p);

    /* Reset before the read starts, with data sent before it. */
    make_tcp_pair(&p);
    peer_send(p.peer, "data\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "data\n");
    reset_peer(p.peer);
    p.peer = -1;
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_ECONNRESET);
    free_pair(&p);
    return NULL;
}

/* A peer that closes in the middle of a line or a record: the reader
 * gets what came (the partial line; WEFT_EINCOMPLETE with the bytes). */
CORO_TEST(peer_closes_mid_read)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len, got;
    char buf[32];
    make_pair(&p);
    peer_script ps = {p.peer, 0.05, 0, {"half a li", NULL}, true};
    weft_thread *t = start_thread(peer_script_run, &ps);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "half a li");
    join_thread(t);
    free_pair(&p);

    make_pair(&p);
    ps = (peer_script){p.peer, 0.05, 0.02, {"0123", "4567", NULL}, true};
    t = start_thread(peer_script_run, &ps);
    CO_CHECK_RC(weft_stream_readexactly(p.s, buf, 32, &got, LONG), WEFT_EINCOMPLETE);
    CO_CHECK(got == 8 && memcmp(buf, "01234567", 8) == 0);
    join_thread(t);
    free_pair(&p);
    return NULL;
}

/* A peer sending one byte at a time: readline and readuntil still get
 * the whole line / record. */
static void *trickle(void *arg)
{
    pair *p = arg;
    const char *text = "hello, world\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (const char *c = text; *c; c++) {
        peer_send_n(p->peer, c, 1);
        nap(0.002);
    }
    return NULL;
}

CORO_TEST(peer_trickles_bytes)
{
    (void)arg;
    pair p;
    const char *data;
    size_t len;
    make_pair(&p);
    weft_thread *t = start_thread(trickle, &p);
    CO_CHECK_RC(weft_stream_readline(p.s, &data, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(data, len, "hello, world\n");
    CO_CHECK_RC(weft_stream_readuntil(p.s, "\r\n\r\n", 4, &data, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(data, len, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    join_thread(t);
    free_pair(&p);
    return NULL;
}

/* Data that arrives right after a recv that emptied the socket, while
 * the reading task is away (asleep: the loop looks at its fds meanwhile,
 * with nobody waiting on this one), must still be read at once.  A
 * stream that skipped its recv after a short one without knowing that
 * the loop had seen the fd readable since would wait for an edge that
 * had come and gone (here: time out). */
static void *send_after(void *arg)
{
    pair *p = arg;
    peer_send(p->peer, "two\n");
    return NULL;
}

CORO_TEST(data_right_after_a_short_recv)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len;
    make_pair(&p);
    for (int round = 0; round < 20; round++) {
        peer_send(p.peer, "one\n");
        CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
        CO_CHECK_VIEW(line, len, "one\n");
        if (round == 0) /* the registration comes with the first wait */
            CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, 0.01), WEFT_ETIMEDOUT);
        weft_thread *t = start_thread(send_after, &p);
        join_thread(t);
        nap(0.02); /* away: the loop sees the fd readable, nobody waits */
        double t0 = weft_monotonic();
        CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, 3), WEFT_OK);
        CO_CHECK_VIEW(line, len, "two\n");
        CO_CHECK(weft_monotonic() - t0 < 2);
    }
    /* The end of file that came with the last line's data (one edge for
     * both, reported while the task was away): after the short recv that
     * took the line, the next read still sees it at once. */
    peer_send(p.peer, "last\n");
    shutdown(p.peer, SHUT_WR);
    nap(0.02);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, 3), WEFT_OK);
    CO_CHECK_VIEW(line, len, "last\n");
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, 3), WEFT_OK);
    CO_CHECK_INT(len, 0);
    CO_CHECK(weft_monotonic() - t0 < 2);
    free_pair(&p);
    return NULL;
}

/* Many connections in one loop, each a client task and an echo task
 * (both ends streams): request, reply, request ... the keep-alive
 * pattern, where every read follows a short one.  Every reply matches
 * its request. */
#define ECHO_PAIRS 20
#define ECHO_ROUNDS 300

static weft_stream *echo_client[ECHO_PAIRS], *echo_server[ECHO_PAIRS];
static int echo_done[ECHO_PAIRS];

static void *echo_serve(void *arg)
{
    weft_stream *s = echo_server[VALUE(arg)];
    const char *line;
    size_t len;
    while (weft_stream_readline(s, &line, &len, LONG) == WEFT_OK && len > 0) {
        if (!CO_CHECK_RC(weft_stream_write(s, line, len), WEFT_OK))
            break;
        CO_CHECK_RC(weft_stream_drain(s, LONG), WEFT_OK);
    }
    weft_stream_close(s);
    CO_CHECK_RC(weft_stream_wait_closed(s, LONG), WEFT_OK);
    return NULL;
}

static void *echo_call(void *arg)
{
    size_t i = VALUE(arg);
    weft_stream *s = echo_client[i];
    char request[64];
    const char *line;
    size_t len;
    for (int r = 0; r < ECHO_ROUNDS; r++) {
        int n = sprintf(request, "request %zu.%d %s\n", i, r, r % 7 ? "" : "with more text");
        if (!CO_CHECK_RC(weft_stream_write(s, request, (size_t)n), WEFT_OK) ||
            !CO_CHECK_RC(weft_stream_readline(s, &line, &len, LONG), WEFT_OK) ||
            !CO_CHECK(len == (size_t)n && memcmp(line, request, len) == 0))
            break;
        echo_done[i]++;
    }
    CO_CHECK_RC(weft_stream_write_eof(s), WEFT_OK);
    CO_CHECK_RC(weft_stream_readline(s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_INT(len, 0);
    return NULL;
}

CORO_TEST(many_keep_alive_connections)
{
    (void)arg;
    weft_future *tasks[2 * ECHO_PAIRS];
    int before = open_fds();
    for (size_t i = 0; i < ECHO_PAIRS; i++) {
        int sv[2];
        CO_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        CO_CHECK_RC(weft_stream_from_fd(sv[0], NULL, &echo_client[i]), WEFT_OK);
        CO_CHECK_RC(weft_stream_from_fd(sv[1], NULL, &echo_server[i]), WEFT_OK);
        echo_done[i] = 0;
        tasks[2 * i] = co_spawn(echo_serve, ITEM(i));
        tasks[2 * i + 1] = co_spawn(echo_call, ITEM(i));
    }
    for (size_t i = 0; i < 2 * ECHO_PAIRS; i++)
        CO_CHECK_RC(co_finish(tasks[i], 60), WEFT_OK);
    for (size_t i = 0; i < ECHO_PAIRS; i++) {
        CO_CHECK_INT(echo_done[i], ECHO_ROUNDS);
        weft_stream_free(echo_client[i]);
        weft_stream_free(echo_server[i]);
    }
    CO_CHECK_INT(open_fds(), before);
    return NULL;
}

/* The server's read caps: a read call waits at most first_byte seconds
 * until the stream's first byte came, then at most `each`, whatever its
 * own timeout (WEFT_ETIMEDOUT); negative caps are none. */
CORO_TEST(read_caps)
{
    (void)arg;
    pair p;
    const char *line;
    size_t len;
    make_pair(&p);
    weft__stream_cap_reads(p.s, 0.2, 2.0);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, WEFT_FOREVER), WEFT_ETIMEDOUT);
    double waited = weft_monotonic() - t0;
    CO_CHECK(waited >= 0.15 && waited < SOON);
    peer_send(p.peer, "a");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, WEFT_FOREVER), WEFT_ETIMEDOUT);
    /* A byte came: now each call may wait 2 s; the rest comes in 0.3. */
    peer_script ps = {p.peer, 0.3, 0, {"b\n", NULL}, false};
    weft_thread *t = start_thread(peer_script_run, &ps);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, WEFT_FOREVER), WEFT_OK);
    CO_CHECK_VIEW(line, len, "ab\n");
    join_thread(t);
    /* The call's own timeout when it is the sooner. */
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, 0.05), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 < 1.5);
    weft__stream_cap_reads(p.s, -1, -1);
    t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, 0.7), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 >= 0.6);
    free_pair(&p);
    return NULL;
}

/* The server's abort: the buffer dropped, the tasks reading and
 * draining wake with WEFT_ECONNRESET, the socket closed (the peer reads
 * end of file); the stream stays until freed. */
CORO_TEST(abort_wakes_everyone)
{
    (void)arg;
    pair p;
    make_pair(&p);
    small_buffers(&p);
    blocked_stream = cancel_stream = p.s;
    blocked_rc = cancel_rc = -1;
    write_pattern(p.s, MIB / 2);
    weft_future *reader = co_spawn(blocked_readline, NULL);
    weft_future *writer = co_spawn(cancelled_drain, NULL);
    co_yield(5);
    CO_CHECK(!weft_future_done(reader) && !weft_future_done(writer));
    weft__stream_abort(p.s);
    CO_CHECK_RC(co_finish(reader, SOON), WEFT_OK);
    CO_CHECK_RC(co_finish(writer, SOON), WEFT_OK);
    CO_CHECK_RC(blocked_rc, WEFT_ECONNRESET);
    CO_CHECK_RC(cancel_rc, WEFT_ECONNRESET);
    CO_CHECK_INT(weft_stream_fd(p.s), -1);
    CO_CHECK_INT(weft_stream_write_buffer_size(p.s), 0);
    CO_CHECK(weft_stream_is_closing(p.s));
    peer_reader pr = {p.peer, 0, 30, 0, false, false};
    peer_reader_run(&pr);
    CO_CHECK(pr.eof && pr.got < MIB / 2);
    free_pair(&p);
    return NULL;
}

/* The server's hang-up: a reader waiting sees what is buffered, then end
 * of file; what was written is still sent, then the socket closes;
 * writes after it are WEFT_ECONNRESET. */
static void *hung_up_readexactly(void *arg)
{
    char *buf = arg;
    cancel_rc = weft_stream_readexactly(cancel_stream, buf, 100, &cancel_got, LONG);
    return NULL;
}

CORO_TEST(hang_up_ends_gracefully)
{
    (void)arg;
    pair p;
    static char buf[100];
    make_pair(&p);
    small_buffers(&p);
    cancel_stream = p.s;
    peer_send(p.peer, "abc");
    weft_future *reader = co_spawn(hung_up_readexactly, buf);
    co_yield(5);
    write_pattern(p.s, MIB / 4);
    weft__stream_hang_up(p.s);
    CO_CHECK_RC(co_finish(reader, SOON), WEFT_OK);
    CO_CHECK_RC(cancel_rc, WEFT_EINCOMPLETE);
    CO_CHECK(cancel_got == 3 && memcmp(buf, "abc", 3) == 0);
    CO_CHECK_RC(weft_stream_write(p.s, "x", 1), WEFT_ECONNRESET);
    peer_reader pr = {p.peer, 0, 30, 0, false, false};
    weft_thread *t = start_thread(peer_reader_run, &pr);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
    join_thread(t);
    CO_CHECK(pr.got == MIB / 4 && pr.pattern_ok && pr.eof);
    free_pair(&p);
    return NULL;
}

/* The same calls from a plain thread (no loop): reads wait by polling,
 * write queues what the socket does not take, drain sends all of it,
 * write_eof, close and wait_closed finish the job. */
static void thread_mode_body(void)
{
    pair p;
    const char *line;
    size_t len, got;
    char buf[8];
    make_pair(&p);
    peer_script ps = {p.peer, 0.05, 0.02, {"hello\nwor", "ld", NULL}, false};
    weft_thread *t = start_thread(peer_script_run, &ps);
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "hello\n");
    CO_CHECK_RC(weft_stream_readexactly(p.s, buf, 5, &got, LONG), WEFT_OK);
    CO_CHECK(got == 5 && memcmp(buf, "world", 5) == 0);
    join_thread(t);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_read(p.s, buf, 8, &got, 0.1), WEFT_ETIMEDOUT);
    CO_CHECK(weft_monotonic() - t0 >= 0.08);

    small_buffers(&p);
    write_pattern(p.s, MIB);
    CO_CHECK(weft_stream_write_buffer_size(p.s) > 0);
    CO_CHECK_RC(weft_stream_drain(p.s, 0.1), WEFT_ETIMEDOUT);
    peer_reader pr = {p.peer, 0.05, 30, 0, false, false};
    t = start_thread(peer_reader_run, &pr);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_OK);
    CO_CHECK_INT(weft_stream_write_buffer_size(p.s), 0);
    CO_CHECK_RC(weft_stream_write_eof(p.s), WEFT_OK);
    join_thread(t);
    CO_CHECK(pr.got == MIB && pr.pattern_ok && pr.eof);
    peer_send(p.peer, "after eof\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "after eof\n");
    free_pair(&p);

    /* close with a queue: wait_closed sends it, then closes. */
    make_pair(&p);
    small_buffers(&p);
    write_pattern(p.s, MIB / 2);
    weft_stream_close(p.s);
    CO_CHECK(weft_stream_is_closing(p.s));
    pr = (peer_reader){p.peer, 0.05, 30, 0, false, false};
    t = start_thread(peer_reader_run, &pr);
    CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
    join_thread(t);
    CO_CHECK(pr.got == MIB / 2 && pr.pattern_ok && pr.eof);
    CO_CHECK_INT(weft_stream_fd(p.s), -1);
    free_pair(&p);

    /* TCP, connected from the thread. */
    make_tcp_pair(&p);
    CO_CHECK_RC(weft_stream_write(p.s, "ping\n", 5), WEFT_OK);
    CO_CHECK_RC(weft_stream_drain(p.s, LONG), WEFT_OK);
    CO_CHECK_INT(peer_recv(p.peer, buf, 5, SOON), 5);
    peer_send(p.peer, "pong\n");
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, len, "pong\n");
    reset_peer(p.peer);
    p.peer = -1;
    CO_CHECK_RC(weft_stream_readline(p.s, &line, &len, LONG), WEFT_ECONNRESET);
    free_pair(&p);
}

static void thread_mode(void **state)
{
    (void)state;
    co_reset();
    int before = open_fds();
    thread_mode_body();
    assert_co_clean();
    assert_int_equal(open_fds(), before);
}

/* A cancellable pool task blocked in a stream read returns
 * WEFT_ECANCELLED when its future is cancelled (the thread polls in
 * slices to see it). */
static atomic_int pool_read_rc = -1;

static void *pool_read(void *arg)
{
    char buf[4];
    size_t got;
    weft_cancellable(true);
    atomic_store(&pool_read_rc, weft_stream_read(arg, buf, sizeof buf, &got, LONG));
    return NULL;
}

static void thread_read_cancelled(void **state)
{
    (void)state;
    pair p;
    weft_executor *pool = NULL;
    weft_future *f = NULL;
    void *result = NULL;
    co_reset();
    make_pair(&p);
    assert_int_equal(weft_thread_pool_new(&pool, NULL), WEFT_OK);
    assert_int_equal(weft_executor_submit(pool, pool_read, p.s, &f), WEFT_OK);
    nap(0.1);
    double t0 = weft_monotonic();
    weft_future_cancel(f);
    (void)weft_future_result_timeout(f, SOON, &result);
    assert_true(weft_monotonic() - t0 < SOON);
    weft_future_release(f);
    weft_executor_free(pool);
    assert_int_equal(atomic_load(&pool_read_rc), WEFT_ECANCELLED);
    free_pair(&p);
    assert_co_clean();
}

/* open_connection: to 127.0.0.1 and to "localhost" (each address in turn
 * until one connects), the names of both ends; a port nobody listens on
 * is WEFT_ECONNREFUSED; a Unix socket path too. */
CORO_TEST(open_connections)
{
    (void)arg;
    listener l;
    weft_stream *s = NULL;
    weft_address peer, mine;
    char text[64];
    listen_tcp(&l);
    CO_CHECK_RC(weft_open_connection("127.0.0.1", l.port, NULL, 5, &s), WEFT_OK);
    CO_CHECK_RC(weft_stream_peername(s, &peer), WEFT_OK);
    CO_CHECK_RC(weft_address_format((struct sockaddr *)&peer.storage, peer.len, text,
                                    sizeof text), WEFT_OK);
    CO_CHECK(strcmp(text + strlen(text) - strlen(l.port), l.port) == 0);
    CO_CHECK(strncmp(text, "127.0.0.1:", 10) == 0);
    CO_CHECK_RC(weft_stream_sockname(s, &mine), WEFT_OK);
    int conn = accept(l.fd, NULL, NULL);
    struct sockaddr_in far;
    socklen_t len = sizeof far;
    CO_CHECK(conn >= 0 && getpeername(conn, (struct sockaddr *)&far, &len) == 0);
    CO_CHECK(far.sin_port == ((struct sockaddr_in *)&mine.storage)->sin_port);
    weft_stream_free(s);
    close(conn);

    s = NULL;
    int rc = weft_open_connection("localhost", l.port, NULL, 5, &s);
    CO_CHECK_RC2(rc, WEFT_OK, WEFT_ENAME); /* a box with no "localhost" */
    if (rc == WEFT_OK) {
        conn = accept(l.fd, NULL, NULL);
        CO_CHECK(conn >= 0);
        close(conn);
    }
    weft_stream_free(s);
    char port[16];
    snprintf(port, sizeof port, "%s", l.port);
    close(l.fd);
    CO_CHECK_RC(weft_open_connection("127.0.0.1", port, NULL, 5, &s), WEFT_ECONNREFUSED);
    CO_CHECK(s == NULL);
    CO_CHECK_RC(weft_open_connection("no-such-host.invalid", port, NULL, 5, &s), WEFT_ENAME);

    char dir[] = "/tmp/weft_stream_XXXXXX";
    CO_CHECK(mkdtemp(dir) != NULL);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s/sock", dir);
    int ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CO_CHECK(bind(ufd, (struct sockaddr *)&un, sizeof un) == 0 && listen(ufd, 4) == 0);
    CO_CHECK_RC(weft_open_unix_connection(un.sun_path, NULL, 5, &s), WEFT_OK);
    conn = accept(ufd, NULL, NULL);
    peer_send(conn, "over unix\n");
    const char *line;
    size_t n;
    CO_CHECK_RC(weft_stream_readline(s, &line, &n, LONG), WEFT_OK);
    CO_CHECK_VIEW(line, n, "over unix\n");
    weft_stream_free(s);
    close(conn);
    close(ufd);
    unlink(un.sun_path);
    CO_CHECK_RC(weft_open_unix_connection(un.sun_path, NULL, 5, &s), WEFT_EOS);
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    CO_CHECK_RC(weft_open_unix_connection(longpath, NULL, 5, &s), WEFT_EINVAL);
    rmdir(dir);
    return NULL;
}

/* Bad input is an error status, never a crash. */
CORO_TEST(bad_input)
{
    (void)arg;
    char buf[4];
    size_t got = 7, len = 7;
    const char *view = "x";
    void *data = buf;
    weft_address a;
    weft_stream *s = (weft_stream *)buf;
    CO_CHECK_RC(weft_stream_from_fd(-1, NULL, &s), WEFT_EINVAL);
    CO_CHECK(s == NULL);
    CO_CHECK_RC(weft_open_connection("127.0.0.1", NULL, NULL, 1, &s), WEFT_EINVAL);
    CO_CHECK_RC(weft_open_connection("127.0.0.1", "1", NULL, 1, NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_open_unix_connection(NULL, NULL, 1, &s), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_read(NULL, buf, 4, &got, 1), WEFT_EINVAL);
    CO_CHECK_INT(got, 0);
    CO_CHECK_RC(weft_stream_read_all(NULL, &data, &len, 1), WEFT_EINVAL);
    CO_CHECK(data == NULL && len == 0);
    CO_CHECK_RC(weft_stream_readexactly(NULL, buf, 4, &got, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readline(NULL, &view, &len, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readuntil(NULL, "a", 1, &view, &len, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readuntil_any(NULL, NULL, NULL, 0, &view, &len, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_set_exception(NULL, WEFT_EOS), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_write(NULL, "a", 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_drain(NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_write_eof(NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_wait_closed(NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_peername(NULL, &a), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_sockname(NULL, &a), WEFT_EINVAL);
    CO_CHECK_INT(weft_stream_fd(NULL), -1);
    CO_CHECK_INT(weft_stream_write_buffer_size(NULL), 0);
    CO_CHECK(!weft_stream_at_eof(NULL) && !weft_stream_is_closing(NULL));
    weft_stream_close(NULL);
    weft_stream_free(NULL);
    weft__stream_cap_reads(NULL, 1, 1);
    weft__stream_hang_up(NULL);
    weft__stream_abort(NULL);

    pair p;
    make_pair(&p);
    CO_CHECK_RC(weft_stream_read(p.s, NULL, 4, &got, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_read(p.s, buf, 4, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_read(p.s, buf, 4, &got, NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_read_all(p.s, NULL, &len, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readexactly(p.s, NULL, 4, &got, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readline(p.s, NULL, &len, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readline(p.s, &view, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_readuntil(p.s, "a", 1, NULL, &len, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_write(p.s, NULL, 1), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_write(p.s, NULL, 0), WEFT_OK);
    CO_CHECK_RC(weft_stream_drain(p.s, NAN), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_peername(p.s, NULL), WEFT_EINVAL);
    CO_CHECK_RC(weft_stream_peername(p.s, &a), WEFT_OK);
    weft_stream_close(p.s);
    CO_CHECK_RC(weft_stream_peername(p.s, &a), WEFT_EOS);
    free_pair(&p);
    return NULL;
}

/* A stream that waited in a coroutine belongs to that loop: another
 * loop's coroutine gets WEFT_ESTATE from its calls. */
static weft_stream *other_loop_stream;

static void *use_from_other_loop(void *arg)
{
    (void)arg;
    char buf[4];
    size_t got;
    CO_CHECK_RC(weft_stream_read(other_loop_stream, buf, 4, &got, 0.1), WEFT_ESTATE);
    CO_CHECK_RC(weft_stream_write(other_loop_stream, "a", 1), WEFT_ESTATE);
    CO_CHECK_RC(weft_stream_drain(other_loop_stream, 0.1), WEFT_ESTATE);
    return NULL;
}

CORO_TEST(other_loop_is_refused)
{
    (void)arg;
    pair p;
    char buf[4];
    size_t got;
    loop_thread lt;
    make_pair(&p);
    CO_CHECK_RC(weft_stream_read(p.s, buf, 4, &got, 0.01), WEFT_ETIMEDOUT);
    other_loop_stream = p.s;
    start_loop_thread(&lt, use_from_other_loop, NULL);
    join_loop_thread(&lt);
    peer_send(p.peer, "ok");
    CO_CHECK_RC(weft_stream_read(p.s, buf, 4, &got, LONG), WEFT_OK);
    CO_CHECK_INT(got, 2);
    free_pair(&p);
    return NULL;
}

/* No descriptor is left open by any way a stream ends: freed, closed,
 * reset, aborted, refused, failed to make. */
CORO_TEST(no_descriptor_leaks)
{
    (void)arg;
    int before = open_fds();
    for (int i = 0; i < 20; i++) {
        pair p;
        char buf[8];
        size_t got;
        weft_stream *s = NULL;
        make_pair(&p);
        CO_CHECK_RC(weft_stream_read(p.s, buf, 8, &got, 0.001), WEFT_ETIMEDOUT);
        free_pair(&p);
        make_pair(&p);
        weft_stream_close(p.s);
        CO_CHECK_RC(weft_stream_wait_closed(p.s, LONG), WEFT_OK);
        free_pair(&p);
        make_tcp_pair(&p);
        reset_peer(p.peer);
        p.peer = -1;
        CO_CHECK_RC(weft_stream_read(p.s, buf, 8, &got, LONG), WEFT_ECONNRESET);
        free_pair(&p);
        make_pair(&p);
        weft__stream_abort(p.s);
        free_pair(&p);
        listener l;
        listen_tcp(&l);
        char port[16];
        memcpy(port, l.port, sizeof port);
        close(l.fd);
        CO_CHECK_RC(weft_open_connection("127.0.0.1", port, NULL, 5, &s), WEFT_ECONNREFUSED);
        int sv[2];
        weft_stream_options bad = {0, 10, 20};
        CO_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        CO_CHECK_RC(weft_stream_from_fd(sv[0], &bad, &s), WEFT_EINVAL);
        close(sv[1]);
    }
    CO_CHECK_INT(open_fds(), before);
    return NULL;
}

/* ==== found in review ==== */

/* A stream that waited on a loop belongs to it, also once that loop has
 * ended: a later loop on the same thread (which may well be given the
 * old one's memory) gets WEFT_ESTATE, and the stream can still be
 * freed.  The stream must not take the new loop's descriptor table for
 * its own. */
static weft_stream *outlived_stream;

static void *wait_on_first_loop(void *arg)
{
    (void)arg;
    char buf[4];
    size_t got;
    CO_CHECK_RC(weft_stream_read(outlived_stream, buf, 4, &got, 0.01), WEFT_ETIMEDOUT);
    return NULL;
}

static void *use_on_second_loop(void *arg)
{
    (void)arg;
    char buf[4];
    size_t got;
    CO_CHECK_RC(weft_stream_read(outlived_stream, buf, 4, &got, 0.01), WEFT_ESTATE);
    CO_CHECK_RC(weft_stream_write(outlived_stream, "a", 1), WEFT_ESTATE);
    return NULL;
}

static void stream_outlives_its_loop(void **state)
{
    (void)state;
    for (int i = 0; i < 16; i++) { /* tries at being given the same memory */
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(weft_stream_from_fd(sv[0], NULL, &outlived_stream), WEFT_OK);
        run_coro(wait_on_first_loop, NULL);
        run_coro(use_on_second_loop, NULL);
        weft_stream_free(outlived_stream);
        close(sv[1]);
    }
}

/* A write left for the task's next wait on the stream, whose send fails
 * there (the peer stopped reading: EPIPE): the read that waits reports
 * the loss at once, instead of waiting on the closed descriptor until
 * its timeout (or for ever). */
CORO_TEST(failed_deferred_send_ends_the_read)
{
    (void)arg;
    pair p;
    char buf[4];
    size_t got = 0;
    make_deferring_pair(&p);
    CO_CHECK(shutdown(p.peer, SHUT_RD) == 0); /* a send to it now fails */
    CO_CHECK_RC(weft_stream_write(p.s, "lost", 4), WEFT_OK);
    double t0 = weft_monotonic();
    CO_CHECK_RC(weft_stream_read(p.s, buf, sizeof buf, &got, 3.0), WEFT_EPIPE);
    CO_CHECK(weft_monotonic() - t0 < 1.5);
    CO_CHECK_INT(weft_stream_fd(p.s), -1);
    CO_CHECK_RC(weft_stream_write(p.s, "x", 1), WEFT_EPIPE);
    free_pair(&p);
    return NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_takes_what_is_there),
        cmocka_unit_test(read_waits_and_times_out),
        cmocka_unit_test(readline_across_chunks),
        cmocka_unit_test(readline_limit),
        cmocka_unit_test(readuntil_separator),
        cmocka_unit_test(readuntil_limit_keeps_data),
        cmocka_unit_test(readuntil_several_separators),
        cmocka_unit_test(readexactly_counts),
        cmocka_unit_test(set_exception_wakes_reader),
        cmocka_unit_test(at_eof_and_lines),
        cmocka_unit_test(views_stay_valid),
        cmocka_unit_test(drain_waits_for_a_slow_peer),
        cmocka_unit_test(water_marks_from_options),
        cmocka_unit_test(ten_drainers_all_resume),
        cmocka_unit_test(drain_fails_when_peer_closes),
        cmocka_unit_test(writes_of_a_step_go_out_together),
        cmocka_unit_test(close_and_wait_closed),
        cmocka_unit_test(write_eof_half_closes),
        cmocka_unit_test(cancel_in_read_loses_nothing),
        cmocka_unit_test(cancel_in_drain_loses_nothing),
        cmocka_unit_test(reset_connection),
        cmocka_unit_test(peer_closes_mid_read),
        cmocka_unit_test(peer_trickles_bytes),
        cmocka_unit_test(data_right_after_a_short_recv),
        cmocka_unit_test(many_keep_alive_connections),
        cmocka_unit_test(read_caps),
        cmocka_unit_test(abort_wakes_everyone),
        cmocka_unit_test(hang_up_ends_gracefully),
        cmocka_unit_test(thread_mode),
        cmocka_unit_test(thread_read_cancelled),
        cmocka_unit_test(open_connections),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(other_loop_is_refused),
        cmocka_unit_test(no_descriptor_leaks),
        cmocka_unit_test(stream_outlives_its_loop),
        cmocka_unit_test(failed_deferred_send_ends_the_read),
    };
    const char *only = getenv("WEFT_TEST_FILTER"); /* one test, by name */
    if (only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
