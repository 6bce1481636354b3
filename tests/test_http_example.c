/* SPDX-License-Identifier: MIT */
/* test_http_example.c — examples/http_server as its clients see it: the
 * server runs as a child process on a free loopback port, serving a
 * directory made here, and each test talks HTTP to it over plain sockets.
 *
 * Usage: test_http_example PATH-OF-http_server [SERVER-OPTIONS...]
 * (the options, such as --threads 2, are passed on to the server).
 *
 * Every socket has a 10 s receive and send timeout, so a server that
 * stops answering fails the test instead of hanging it. */
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

extern char **environ;

static const char *server_path;
static char **server_options;
static int server_option_count;
static pid_t server_pid;
static int server_port;
static char root[256];

static const char file_text[] = "the contents of file.txt\n";
static const char index_text[] = "<p>the index of sub/</p>\n";

/* ---- the served directory ------------------------------------------------ */

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* root/file.txt, root/sub/index.html, and root/escape, a link to /etc:
 * inside the root by name, outside it in truth. */
static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/weft-http-test-XXXXXX");
    assert_non_null(mkdtemp(root));
    char path[512];
    snprintf(path, sizeof path, "%s/sub", root);
    assert_int_equal(mkdir(path, 0700), 0);
    write_file("file.txt", file_text);
    write_file("sub/index.html", index_text);
    snprintf(path, sizeof path, "%s/escape", root);
    assert_int_equal(symlink("/etc", path), 0);
}

static void remove_root(void)
{
    const char *names[] = {"file.txt", "sub/index.html", "escape", "sub"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(root);
}

/* ---- the server process ------------------------------------------------- */

/* Its first line says where it listens: "... http://127.0.0.1:PORT/ ...". */
static int read_port(int fd)
{
    char line[1024];
    size_t len = 0;
    double end = weft_monotonic() + 30;
    while (len < sizeof line - 1 && !memchr(line, '\n', len) && weft_monotonic() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t n = read(fd, line + len, sizeof line - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    line[len] = '\0';
    const char *at = strstr(line, "http://127.0.0.1:");
    return at ? atoi(at + strlen("http://127.0.0.1:")) : -1;
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int start_server(void **state)
{
    (void)state;
    make_root();
    int out[2];
    assert_int_equal(pipe(out), 0);
    char *argv[16] = {(char *)server_path, "--port", "0"};
    int argc = 3;
    for (int i = 0; i < server_option_count && argc < 14; i++)
        argv[argc++] = server_options[i];
    argv[argc++] = root;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    int rc = posix_spawn(&server_pid, server_path, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    assert_int_equal(rc, 0);
    server_port = read_port(out[0]);
    close(out[0]);
    assert_true(server_port > 0);
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    kill(server_pid, SIGTERM);
    int status;
    pid_t done = 0;
    for (int i = 0; i < 1000 && (done = waitpid(server_pid, &status, WNOHANG)) == 0; i++)
        nap(0.01);
    if (done == 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, &status, 0);
    }
    remove_root();
    return 0;
}

/* ---- a client ------------------------------------------------------------- */

struct conn {
    int fd;
    char buf[1 << 16];
    size_t len; /* bytes received and not yet consumed */
};

struct response {
    int status;
    long length;
    bool closes;
    char type[64];
    char body[1 << 12];
    size_t body_len;
};

static struct conn *dial(void)
{
    struct conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    return c;
}

static void hang_up(struct conn *c)
{
    close(c->fd);
    free(c);
}

static void send_text(struct conn *c, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, text, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        text += n;
        len -= (size_t)n;
    }
}

static void send_str(struct conn *c, const char *text) { send_text(c, text, strlen(text)); }

/* More bytes into the buffer: how many (0 at end of file; -1 on a reset or
 * the 10 s timeout). */
static ssize_t fill(struct conn *c)
{
    assert_true(c->len < sizeof c->buf);
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Whether the server closed the connection (end of file, or a reset after
 * it), with nothing more sent. */
static bool closed_by_server(struct conn *c)
{
    ssize_t n;
    while ((n = fill(c)) > 0) {
    }
    return c->len == 0 && (n == 0 || (n < 0 && errno == ECONNRESET));
}

static const char *header(const char *head, const char *name)
{
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, strlen(name)) == 0 && p[2 + strlen(name)] == ':')
            return p + 3 + strlen(name);
    return NULL;
}

/* The end of the head ("\r\n\r\n") in the buffer, NULL if not there yet. */
static char *head_end(struct conn *c)
{
    for (size_t i = 0; i + 4 <= c->len; i++)
        if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0)
            return c->buf + i;
    return NULL;
}

/* One answer: its head, then its body (none for a HEAD request). */
static void read_response(struct conn *c, bool head_request, struct response *r)
{
    char *end;
    *r = (struct response){.length = -1};
    while (!(end = head_end(c)))
        assert_true(fill(c) > 0);
    size_t head_len = (size_t)(end - c->buf) + 4;
    char head[4096];
    assert_true(head_len < sizeof head);
    memcpy(head, c->buf, head_len);
    head[head_len] = '\0';
    consume(c, head_len);
    assert_int_equal(sscanf(head, "HTTP/1.1 %d ", &r->status), 1);
    const char *v = header(head, "Content-Length");
    assert_non_null(v);
    r->length = atol(v);
    v = header(head, "Connection");
    r->closes = v && strncmp(v, " close", 6) == 0;
    if ((v = header(head, "Content-Type")))
        sscanf(v, " %63[^\r;]", r->type);
    if (head_request)
        return;
    assert_true(r->length >= 0 && (size_t)r->length < sizeof r->body);
    while (c->len < (size_t)r->length)
        assert_true(fill(c) > 0);
    memcpy(r->body, c->buf, (size_t)r->length);
    r->body_len = (size_t)r->length;
    r->body[r->body_len] = '\0';
    consume(c, r->body_len);
}

static void request(struct conn *c, const char *method, const char *target, const char *extra,
                    struct response *r)
{
    char text[2048];
    snprintf(text, sizeof text, "%s %s HTTP/1.1\r\nHost: test\r\n%s\r\n", method, target, extra);
    send_str(c, text);
    read_response(c, strcmp(method, "HEAD") == 0, r);
}

/* One request on a connection of its own. */
static void get(const char *target, struct response *r)
{
    struct conn *c = dial();
    request(c, "GET", target, "", r);
    hang_up(c);
}

/* ---- the tests ------------------------------------------------------------- */

/* /hello answers "Hello, world!", 13 bytes of text/plain. */
static void test_hello(void **state)
{
    (void)state;
    struct response r;
    get("/hello", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.length, 13);
    assert_string_equal(r.body, "Hello, world!");
    assert_string_equal(r.type, "text/plain");
    assert_false(r.closes);
}

/* A file under the root comes back byte for byte; a directory gives its
 * index.html. */
static void test_file(void **state)
{
    (void)state;
    struct response r;
    get("/file.txt", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, file_text);
    assert_string_equal(r.type, "text/plain");
    get("/sub/", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, index_text);
    get("/file.txt?x=1", &r); /* the query is not part of the path */
    assert_int_equal(r.status, 200);
}

/* HTTP/1.1 keeps the connection open: requests one after another on it,
 * and two sent at once (pipelined), are all answered, in order. */
static void test_keep_alive(void **state)
{
    (void)state;
    struct response r;
    struct conn *c = dial();
    request(c, "GET", "/hello", "", &r);
    assert_int_equal(r.status, 200);
    request(c, "GET", "/file.txt", "", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, file_text);
    send_str(c, "GET /file.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    read_response(c, false, &r);
    assert_string_equal(r.body, file_text);
    read_response(c, false, &r);
    assert_string_equal(r.body, "Hello, world!");
    hang_up(c);
}

/* HEAD gives GET's headers (the length of the body it would send) and no
 * body: the next bytes on the connection are the next answer's. */
static void test_head(void **state)
{
    (void)state;
    struct response r;
    struct conn *c = dial();
    request(c, "HEAD", "/file.txt", "", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.length, (long)strlen(file_text));
    request(c, "HEAD", "/hello", "", &r);
    assert_int_equal(r.length, 13);
    request(c, "GET", "/hello", "", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "Hello, world!");
    hang_up(c);
}

/* A missing file is 404, and the connection goes on. */
static void test_not_found(void **state)
{
    (void)state;
    struct response r;
    struct conn *c = dial();
    request(c, "GET", "/nothing-here.txt", "", &r);
    assert_int_equal(r.status, 404);
    request(c, "GET", "/hello", "", &r);
    assert_int_equal(r.status, 200);
    hang_up(c);
}

/* No path leads outside the root: a ".." segment, percent-encoded or not,
 * and a link inside the root that points outside, are refused (403 or
 * 404), and no byte of the file outside is sent. */
static void test_traversal_refused(void **state)
{
    (void)state;
    const char *paths[] = {"/../etc/passwd",     "/%2e%2e/etc/passwd", "/a/../../x",
                           "/%2E%2e%2Fetc%2fpasswd", "/sub/../../etc/passwd", "/escape/passwd",
                           "/..",                "/sub/%2e%2e/%2e%2e/etc/passwd"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct response r;
        get(paths[i], &r);
        if (r.status != 403 && r.status != 404)
            fail_msg("%s: status %d", paths[i], r.status);
        assert_null(strstr(r.body, "root:"));
    }
}

/* A header line longer than the server's limit (8 KiB) is refused with
 * 431, and the connection is closed. */
static void test_oversized_header_line(void **state)
{
    (void)state;
    size_t big = 20000;
    char *text = malloc(big + 64);
    assert_non_null(text);
    int n = snprintf(text, 64, "GET /hello HTTP/1.1\r\nX-Big: ");
    memset(text + n, 'a', big);
    memcpy(text + n + big, "\r\n\r\n", 5);
    struct conn *c = dial();
    send_str(c, text);
    free(text);
    struct response r;
    read_response(c, false, &r);
    assert_int_equal(r.status, 431);
    assert_true(r.closes);
    assert_true(closed_by_server(c));
    hang_up(c);
}

/* Too many headers: 431 too. */
static void test_too_many_headers(void **state)
{
    (void)state;
    struct conn *c = dial();
    send_str(c, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 150; i++)
        send_str(c, "X-A: b\r\n");
    send_str(c, "\r\n");
    struct response r;
    read_response(c, false, &r);
    assert_int_equal(r.status, 431);
    assert_true(closed_by_server(c));
    hang_up(c);
}

/* Garbage is answered 400 and closes that connection only: one opened
 * before it is still served, and so is one opened after. */
static void test_garbage_closes_only_that_connection(void **state)
{
    (void)state;
    struct response r;
    struct conn *good = dial();
    request(good, "GET", "/hello", "", &r);
    assert_int_equal(r.status, 200);
    const char *garbage[] = {"\x16\x03\x01\x02\x01garbage\r\n\r\n", "GET\r\n\r\n",
                             "GET /hello HTTP/1.1\r\nno colon here\r\n\r\n",
                             "GET hello HTTP/1.1\r\n\r\n", "GET /hello HTTP/9.9\r\n\r\n"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        struct conn *bad = dial();
        send_str(bad, garbage[i]);
        read_response(bad, false, &r);
        if (r.status != 400 && r.status != 505)
            fail_msg("garbage %zu: status %d", i, r.status);
        assert_true(closed_by_server(bad));
        hang_up(bad);
    }
    request(good, "GET", "/hello", "", &r);
    assert_int_equal(r.status, 200);
    hang_up(good);
    get("/hello", &r);
    assert_int_equal(r.status, 200);
}

/* "Connection: close" ends the connection after its answer; so does an
 * HTTP/1.0 request (its default); a method other than GET and HEAD is 501. */
static void test_connection_close(void **state)
{
    (void)state;
    struct response r;
    struct conn *c = dial();
    request(c, "GET", "/hello", "Connection: close\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_true(r.closes);
    assert_true(closed_by_server(c));
    hang_up(c);
    c = dial();
    send_str(c, "GET /hello HTTP/1.0\r\n\r\n");
    read_response(c, false, &r);
    assert_string_equal(r.body, "Hello, world!");
    assert_true(closed_by_server(c));
    hang_up(c);
    c = dial();
    request(c, "DELETE", "/file.txt", "", &r);
    assert_int_equal(r.status, 501);
    assert_true(closed_by_server(c));
    hang_up(c);
}

/* Many connections at once, each kept alive for a few requests, all
 * served; when they are gone the server holds no more descriptors than at
 * its start (none leaked). */
static void test_many_connections_no_fd_leak(void **state)
{
    (void)state;
    enum { N = 50 };
    struct conn *c[N];
    struct response r;
    /* The baseline: after the tests before, whose connections the server
     * may still be closing (the loop's own descriptors exist by now). */
    int at_start = count_fds(server_pid);
    for (int i = 0; i < 100 && at_start != count_fds(server_pid); i++) {
        nap(0.05);
        at_start = count_fds(server_pid);
    }
    for (int i = 0; i < N; i++)
        c[i] = dial();
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            request(c[i], "GET", i % 2 ? "/hello" : "/file.txt", "", &r);
            assert_int_equal(r.status, 200);
        }
    for (int i = 0; i < N; i++)
        hang_up(c[i]);
    if (at_start > 0) /* /proc is there */
        assert_eventually(count_fds(server_pid) <= at_start, 10.0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-OF-http_server [SERVER-OPTIONS...]\n", argv[0]);
        return 2;
    }
    server_path = argv[1];
    server_options = argv + 2;
    server_option_count = argc - 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_traversal_refused),
        cmocka_unit_test(test_oversized_header_line),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_garbage_closes_only_that_connection),
        cmocka_unit_test(test_connection_close),
        cmocka_unit_test(test_many_connections_no_fd_leak),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
