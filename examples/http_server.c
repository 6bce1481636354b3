/* SPDX-License-Identifier: MIT */
/* http_server.c — an HTTP/1.1 server on coroutines.  weft_start_server
 * runs handle_connection in a task of its own for each connection; every
 * wait in it (the next line of a request, room to send a file) suspends
 * that task only, and the loop serves the other connections meanwhile.
 * Python: asyncio.start_server(handler, host, port) with a handler that
 * reads the request with reader.readuntil(b"\r\n").
 *
 * What it does: keeps connections alive (HTTP/1.1's default; a
 * "Connection: close" header ends one after its answer), answers GET and
 * HEAD, says "Hello, world!" at /hello, and serves the files under a root
 * directory.  What it refuses, since a server on the network meets hostile
 * clients too:
 *   - a request line or header line longer than the stream's limit, or too
 *     many headers: 431 (a request line: 414), then the connection closes;
 *   - a malformed request: 400, another method: 501, another version: 505,
 *     a request with a body: 400 (this server takes none), each then
 *     closing the connection, whose framing can no longer be trusted;
 *   - a path with a ".." segment (percent-encoded ones included) or a NUL:
 *     403; a path whose real location (symbolic links followed, checked
 *     with realpath) is outside the root: 403.
 * The server's own limits (weft_server_options) close a connection that
 * sends nothing, or that trickles a line a byte at a time.
 *
 * Usage: http_server [--host ADDR] [--port N] [--threads N] [ROOT]
 *        http_server --demo [--threads N]
 *   ROOT       the directory to serve (default: the current directory)
 *   --host     the address to listen on (default 127.0.0.1: this machine
 *              only; "::" or "0.0.0.0" for every interface)
 *   --port     default 8080; 0 lets the system choose (the port is printed)
 *   --threads  0 (default): serve on the main thread's loop; N: on N
 *              threads, each a loop with its own listening socket
 *   --demo     start the server on a free loopback port, make a few
 *              requests to it from a coroutine client, print them, stop
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <weft.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_LIMIT 8192      /* the longest request or header line, CRLF included */
#define MAX_HEADERS 100      /* header lines in one request */
#define TARGET_MAX 2048      /* the longest request target (path and query) */
#define IDLE_TIMEOUT 30.0    /* a kept-alive connection's wait for its next request */
#define HEADER_TIMEOUT 10.0  /* each line of a request once it has begun */
#define SEND_TIMEOUT 30.0    /* a client that reads nothing for this long is dropped */

static const char hello[] = "Hello, world!";

/* What the handlers serve; set before the server starts, then read only
 * (the server's threads share it). */
static struct site {
    char root[PATH_MAX]; /* the root's real path: no link, no "..", no trailing '/' */
} site;

struct request {
    char method[8];
    char target[TARGET_MAX];
    bool head;       /* HEAD: the answer's headers only */
    bool keep_alive; /* serve another request on this connection after this one */
    bool has_body;
};

/* ---- reading a request ----------------------------------------------- */

/* One line into *line / *len, its CRLF cut off.  0; -1 when the client
 * left, reset the connection or went quiet (close without answering);
 * 431 for a line longer than the stream's limit. */
static int read_line(weft_stream *stream, const char **line, size_t *len, double timeout)
{
    int rc = weft_stream_readuntil(stream, "\r\n", 2, line, len, timeout);
    if (rc == WEFT_OK) {
        *len -= 2;
        return 0;
    }
    return rc == WEFT_ELIMIT ? 431 : -1;
}

/* Bytes allowed in a request line outside its two separating spaces:
 * visible ASCII (anything else must come percent-encoded). */
static bool visible(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* "METHOD SP target SP HTTP/1.x": 0, or the status that refuses it. */
static int parse_request_line(const char *line, size_t len, struct request *req)
{
    const char *sp1 = memchr(line, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
    if (!sp2)
        return 400;
    size_t mlen = (size_t)(sp1 - line), tlen = (size_t)(sp2 - sp1 - 1);
    const char *version = sp2 + 1;
    size_t vlen = len - (size_t)(version - line);
    if (mlen == 0 || mlen >= sizeof req->method || tlen == 0 || !visible(line, mlen) ||
        !visible(sp1 + 1, tlen) || !visible(version, vlen) || sp1[1] != '/')
        return 400;
    if (tlen >= sizeof req->target)
        return 414;
    if (vlen != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.')
        return 400;
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
        return 505;
    memcpy(req->method, line, mlen);
    req->method[mlen] = '\0';
    memcpy(req->target, sp1 + 1, tlen);
    req->target[tlen] = '\0';
    req->keep_alive = version[7] == '1'; /* HTTP/1.0 closes unless asked not to */
    return 0;
}

static bool token_char(char c)
{
    return c > ' ' && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

/* Does the comma-separated list value[0..n) hold `token` (any case)? */
static bool list_has(const char *value, size_t n, const char *token)
{
    size_t tlen = strlen(token);
    for (size_t i = 0; i < n;) {
        while (i < n && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < n && value[i] != ',' && value[i] != ' ' && value[i] != '\t')
            i++;
        if (i - start == tlen && strncasecmp(value + start, token, tlen) == 0)
            return true;
    }
    return false;
}

/* "Name: value": 0, or 400.  Only the headers that change how this server
 * answers are looked at. */
static int parse_header(const char *line, size_t len, struct request *req)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return 400; /* a line folded onto the previous one is refused here too */
    size_t nlen = (size_t)(colon - line);
    for (size_t i = 0; i < nlen; i++)
        if (!token_char(line[i]))
            return 400; /* "Name :" included: RFC 9112 says reject it */
    const char *value = colon + 1;
    size_t vlen = len - nlen - 1;
    if (nlen == 10 && strncasecmp(line, "connection", 10) == 0) {
        if (list_has(value, vlen, "close"))
            req->keep_alive = false;
        else if (list_has(value, vlen, "keep-alive"))
            req->keep_alive = true;
    } else if ((nlen == 14 && strncasecmp(line, "content-length", 14) == 0 &&
                !list_has(value, vlen, "0")) ||
               (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0)) {
        req->has_body = true;
    }
    return 0;
}

/* Read one request's line and headers.  0: *req is ready; -1: the
 * connection ended or went quiet; else the status that refuses it. */
static int read_request(weft_stream *stream, struct request *req)
{
    const char *line;
    size_t len;
    int rc;
    *req = (struct request){.keep_alive = false};
    /* A kept-alive connection idles here; empty lines before a request
     * are allowed (RFC 9112, 2.2), a few of them. */
    for (int blank = 0; blank < 4; blank++) {
        if ((rc = read_line(stream, &line, &len, IDLE_TIMEOUT)) != 0)
            return rc == 431 ? 414 : rc;
        if (len > 0)
            break;
    }
    if (len == 0)
        return 400;
    if ((rc = parse_request_line(line, len, req)) != 0)
        return rc;
    for (int n = 0;; n++) {
        if ((rc = read_line(stream, &line, &len, HEADER_TIMEOUT)) != 0)
            return rc;
        if (len == 0)
            break;
        if (n == MAX_HEADERS)
            return 431;
        if ((rc = parse_header(line, len, req)) != 0)
            return rc;
    }
    req->head = strcmp(req->method, "HEAD") == 0;
    if (!req->head && strcmp(req->method, "GET") != 0)
        return 501;
    return req->has_body ? 400 : 0;
}

/* ---- answering ------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

static int send_head(weft_stream *stream, int status, const char *type, long long length,
                     bool keep_alive)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nServer: weft-example\r\nContent-Type: %s\r\n"
                     "Content-Length: %lld\r\nConnection: %s\r\n\r\n",
                     status, reason(status), type, length, keep_alive ? "keep-alive" : "close");
    return weft_stream_write(stream, head, (size_t)n);
}

/* A whole answer held in memory. */
static int send_body(weft_stream *stream, int status, const char *type, const char *body,
                     size_t len, const struct request *req)
{
    int rc = send_head(stream, status, type, (long long)len, req->keep_alive);
    if (rc == WEFT_OK && !req->head)
        rc = weft_stream_write(stream, body, len);
    return rc == WEFT_OK ? weft_stream_drain(stream, SEND_TIMEOUT) : rc;
}

static int send_status(weft_stream *stream, int status, const struct request *req)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason(status));
    return send_body(stream, status, "text/plain", body, (size_t)n, req);
}

/* Refuse a request whose framing can no longer be trusted: answer, stop
 * sending, and read (and drop) what the client still sends for a moment
 * before the handler returns and the server closes the socket.  Closing
 * with unread bytes would make the system reset the connection, and a
 * reset can destroy the answer before the client has read it. */
static void refuse(weft_stream *stream, int status)
{
    struct request req = {.keep_alive = false};
    if (send_status(stream, status, &req) != WEFT_OK || weft_stream_write_eof(stream) != WEFT_OK)
        return;
    double end = weft_monotonic() + 2.0;
    char sink[4096];
    size_t got, total = 0;
    while (total < (1 << 20) && weft_monotonic() < end &&
           weft_stream_read(stream, sink, sizeof sink, &got, end - weft_monotonic()) == WEFT_OK &&
           got > 0)
        total += got;
}

/* ---- files under the root --------------------------------------------- */

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool has_dot_dot_segment(const char *path)
{
    for (const char *seg = path; seg; seg = strchr(seg, '/'), seg = seg ? seg + 1 : NULL)
        if (seg[0] == '.' && seg[1] == '.' && (seg[2] == '/' || seg[2] == '\0'))
            return true;
    return false;
}

/* The target's path (the query dropped), percent-decoded, into
 * path[size]: 0, or the status that refuses it.  The ".." check comes
 * after decoding, so "%2e%2e" is a ".." too. */
static int decode_path(const char *target, char *path, size_t size)
{
    size_t n = 0;
    for (const char *p = target; *p && *p != '?' && *p != '#'; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int hi = hex(p[1]), lo = hi < 0 ? -1 : hex(p[2]);
            if (lo < 0)
                return 400;
            c = hi * 16 + lo;
            p += 2;
        }
        if (c == '\0')
            return 403;
        if (n + 1 >= size)
            return 414;
        path[n++] = (char)c;
    }
    path[n] = '\0';
    return has_dot_dot_segment(path) ? 403 : 0;
}

/* The real path of root + rel into out[PATH_MAX]: 0, 404 (no such file),
 * or 403 (it is outside the root, through a symbolic link say). */
static int resolve_inside(const char *rel, char *out)
{
    char joined[PATH_MAX + TARGET_MAX];
    snprintf(joined, sizeof joined, "%s/%s", site.root, rel);
    if (!realpath(joined, out))
        return errno == EACCES ? 403 : 404;
    size_t n = strlen(site.root);
    bool inside = strcmp(site.root, "/") == 0 ||
                  (strncmp(out, site.root, n) == 0 && (out[n] == '/' || out[n] == '\0'));
    return inside ? 0 : 403;
}

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"}, {".txt", "text/plain; charset=utf-8"},
        {".css", "text/css"}, {".js", "text/javascript"}, {".json", "application/json"},
        {".png", "image/png"}, {".jpg", "image/jpeg"}, {".svg", "image/svg+xml"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

/* Open the file the request names (a directory: its index.html): the open
 * descriptor into *fd and its real path into real, or the status. */
static int open_file(const struct request *req, char *real, int *fd)
{
    char path[TARGET_MAX];
    int status = decode_path(req->target, path, sizeof path);
    if (status == 0)
        status = resolve_inside(path, real);
    struct stat st;
    if (status == 0 && stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
        strncat(path, "/index.html", sizeof path - strlen(path) - 1);
        status = resolve_inside(path, real);
    }
    if (status != 0)
        return status;
    /* The file could still be swapped for a link between realpath and
     * open: O_NOFOLLOW refuses a link at its last step at least. */
    *fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (*fd < 0)
        return errno == EACCES ? 403 : 404;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(*fd);
        return 404;
    }
    return 0;
}

/* Send the file in pieces, waiting for room (drain) so that a slow client
 * holds one piece of it in memory, not the whole file.  Reading the disk
 * blocks the loop for a moment each time: fine for small files; a server
 * of large ones would read with weft_to_thread. */
static int send_file(weft_stream *stream, int fd, const struct request *req, const char *real)
{
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? WEFT_OK : WEFT_EOS;
    if (rc == WEFT_OK)
        rc = send_head(stream, 200, content_type(real), (long long)st.st_size, req->keep_alive);
    char piece[16384];
    for (off_t left = req->head ? 0 : st.st_size; rc == WEFT_OK && left > 0;) {
        ssize_t n = read(fd, piece, sizeof piece);
        if (n <= 0)
            return WEFT_EOS; /* the file shrank: the length sent is wrong, close */
        if ((rc = weft_stream_write(stream, piece, (size_t)n)) == WEFT_OK)
            rc = weft_stream_drain(stream, SEND_TIMEOUT);
        left -= n;
    }
    return rc == WEFT_OK ? weft_stream_drain(stream, SEND_TIMEOUT) : rc;
}

/* Answer one parsed request: WEFT_OK to go on with the connection. */
static int respond(weft_stream *stream, const struct request *req)
{
    if (strcmp(req->target, "/hello") == 0)
        return send_body(stream, 200, "text/plain", hello, sizeof hello - 1, req);
    char real[PATH_MAX];
    int fd;
    int status = open_file(req, real, &fd);
    if (status != 0)
        return send_status(stream, status, req);
    int rc = send_file(stream, fd, req, real);
    close(fd);
    return rc;
}

/* The handler: one task per connection, one request after another.  The
 * server closes and frees the stream when it returns. */
static void handle_connection(weft_stream *stream, void *arg)
{
    (void)arg;
    for (;;) {
        struct request req;
        int status = read_request(stream, &req);
        if (status < 0)
            return; /* the client left or went quiet */
        if (status > 0) {
            refuse(stream, status);
            return;
        }
        if (respond(stream, &req) != WEFT_OK || !req.keep_alive)
            return;
    }
}

/* ---- starting ---------------------------------------------------------- */

struct config {
    const char *host, *port, *root;
    unsigned threads;
    bool demo;
};

static int start(const struct config *cfg, const char *port, weft_server **server)
{
    weft_server_options o = WEFT_SERVER_OPTIONS_INIT;
    o.host = cfg->host;
    o.port = port;
    o.threads = cfg->threads;
    o.stream.limit = LINE_LIMIT;
    int rc = weft_start_server(handle_connection, NULL, &o, server);
    if (rc != WEFT_OK)
        fprintf(stderr, "http_server: cannot listen on %s port %s: %s\n", cfg->host, port,
                weft_strerror(rc));
    return rc;
}

static int set_root(const char *root)
{
    if (!realpath(root, site.root)) {
        perror(root);
        return WEFT_EINVAL;
    }
    return WEFT_OK;
}

/* The main coroutine: serve until killed. */
static void *serve(void *arg)
{
    const struct config *cfg = arg;
    weft_server *server;
    int rc = set_root(cfg->root);
    if (rc != WEFT_OK || (rc = start(cfg, cfg->port, &server)) != WEFT_OK)
        return weft_fail(rc, "cannot start");
    printf("serving %s on http://%s%s%s:%d/ (%u thread%s)\n", site.root,
           strchr(cfg->host, ':') ? "[" : "", cfg->host, strchr(cfg->host, ':') ? "]" : "",
           weft_server_port(server), cfg->threads, cfg->threads == 1 ? "" : "s");
    fflush(stdout);
    rc = weft_server_serve_forever(server);
    weft_server_free(server);
    return rc == WEFT_OK ? NULL : weft_fail(rc, "serve_forever");
}

/* ---- the demo: a coroutine client ------------------------------------- */

struct response {
    int status;
    bool closes; /* the server said "Connection: close" */
    char body[256];
    size_t len;
};

/* The answer's status line and headers, then its body (none for HEAD). */
static int read_response(weft_stream *conn, bool head, struct response *r)
{
    const char *line;
    size_t len;
    long long length = 0;
    int rc = weft_stream_readuntil(conn, "\r\n", 2, &line, &len, 5.0);
    if (rc != WEFT_OK || sscanf(line, "HTTP/1.1 %d", &r->status) != 1)
        return rc != WEFT_OK ? rc : WEFT_EINVAL;
    while ((rc = weft_stream_readuntil(conn, "\r\n", 2, &line, &len, 5.0)) == WEFT_OK && len > 2) {
        if (len > 16 && strncasecmp(line, "Content-Length:", 15) == 0)
            length = atoll(line + 15);
        if (len > 11 && strncasecmp(line, "Connection:", 11) == 0)
            r->closes = list_has(line + 11, len - 13, "close");
    }
    if (rc != WEFT_OK)
        return rc;
    if (head)
        return WEFT_OK;
    if (length < 0 || (size_t)length >= sizeof r->body)
        return WEFT_ELIMIT;
    rc = weft_stream_readexactly(conn, r->body, (size_t)length, &r->len, 5.0);
    r->body[r->len] = '\0';
    return rc;
}

/* One request on conn, printed with its answer; true when the status is
 * the one expected. */
static bool fetch(weft_stream *conn, const char *method, const char *target, const char *extra,
                  int expected, struct response *r)
{
    char request[512];
    int n = snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n",
                     method, target, extra);
    *r = (struct response){0};
    int rc = weft_stream_write(conn, request, (size_t)n);
    if (rc == WEFT_OK)
        rc = read_response(conn, strcmp(method, "HEAD") == 0, r);
    if (rc != WEFT_OK) {
        printf("  %s %s -> %s\n", method, target, weft_strerror(rc));
        return false;
    }
    char *nl = strchr(r->body, '\n');
    printf("  %-4s %-22s -> %d %s, %zu body bytes%s%.*s\n", method, target, r->status,
           reason(r->status), r->len, r->len ? ": " : "", nl ? (int)(nl - r->body) : (int)r->len,
           r->body);
    return r->status == expected;
}

/* A directory to serve, made afresh: index.html and notes.txt. */
static int make_demo_root(char *dir, size_t size)
{
    snprintf(dir, size, "%s/weft-http-demo-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return WEFT_EOS;
    static const char *const files[][2] = {
        {"index.html", "<h1>weft</h1>\n"},
        {"notes.txt", "Coroutines serve every connection.\n"},
    };
    for (size_t i = 0; i < 2; i++) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i][0]) >= (int)sizeof path)
            return WEFT_EINVAL;
        FILE *f = fopen(path, "w");
        if (!f)
            return WEFT_EOS;
        bool written = fputs(files[i][1], f) >= 0;
        if (fclose(f) != 0 || !written)
            return WEFT_EOS;
    }
    return WEFT_OK;
}

static void remove_demo_root(const char *dir)
{
    static const char *const names[] = {"index.html", "notes.txt"};
    char path[PATH_MAX];
    for (size_t i = 0; i < 2; i++)
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) < (int)sizeof path)
            unlink(path);
    rmdir(dir);
}

/* Five requests on one kept-alive connection, then one that closes its
 * own: how many answers were as expected. */
static int demo_requests(const char *port)
{
    weft_stream *conn;
    struct response r;
    int ok = 0;
    int rc = weft_open_connection("127.0.0.1", port, NULL, 5.0, &conn);
    if (rc != WEFT_OK) {
        printf("connect: %s\n", weft_strerror(rc));
        return 0;
    }
    printf("one connection, kept alive:\n");
    ok += fetch(conn, "GET", "/hello", "", 200, &r) && r.len == 13;
    ok += fetch(conn, "HEAD", "/hello", "", 200, &r) && r.len == 0;
    ok += fetch(conn, "GET", "/notes.txt", "", 200, &r);
    ok += fetch(conn, "GET", "/missing.txt", "", 404, &r);
    ok += fetch(conn, "GET", "/%2e%2e/etc/passwd", "", 403, &r);
    weft_stream_free(conn);
    if (weft_open_connection("127.0.0.1", port, NULL, 5.0, &conn) != WEFT_OK)
        return ok;
    printf("another, closed after its request:\n");
    ok += fetch(conn, "GET", "/", "Connection: close\r\n", 200, &r) && r.closes;
    size_t got = 1;
    char byte;
    rc = weft_stream_read(conn, &byte, 1, &got, 5.0);
    bool closed = rc == WEFT_OK && got == 0; /* end of file */
    printf("  and then the server closed it: %s\n",
           closed ? "yes" : rc != WEFT_OK ? weft_strerror(rc) : "no, it sent more");
    ok += closed;
    weft_stream_free(conn);
    return ok;
}

static void *demo(void *arg)
{
    const struct config *cfg = arg;
    char dir[PATH_MAX];
    weft_server *server;
    int rc = make_demo_root(dir, sizeof dir);
    if (rc != WEFT_OK || (rc = set_root(dir)) != WEFT_OK ||
        (rc = start(cfg, "0", &server)) != WEFT_OK) {
        remove_demo_root(dir);
        return weft_fail(rc, "cannot start the demo");
    }
    char port[16];
    snprintf(port, sizeof port, "%d", weft_server_port(server));
    printf("demo: serving a made-up directory on http://127.0.0.1:%s/ (%u thread%s)\n", port,
           cfg->threads, cfg->threads == 1 ? "" : "s");
    double t0 = weft_perf_counter();
    int ok = demo_requests(port);
    printf("demo: %d of 7 answers as expected in %.3f s\n", ok, weft_perf_counter() - t0);
    weft_server_free(server);
    remove_demo_root(dir);
    return ok == 7 ? NULL : weft_fail(WEFT_EFAILED, "wrong answers");
}

/* ---- the command line ------------------------------------------------- */

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--host ADDR] [--port N] [--threads N] [ROOT]\n"
            "       %s --demo [--threads N]\n",
            prog, prog);
    return 2;
}

static bool number(const char *text, long max, long *value)
{
    char *end;
    errno = 0;
    *value = strtol(text, &end, 10);
    return errno == 0 && end != text && *end == '\0' && *value >= 0 && *value <= max;
}

/* The command line into *cfg: false when it is wrong. */
static bool parse_args(int argc, char **argv, struct config *cfg)
{
    bool have_root = false;
    for (int i = 1; i < argc; i++) {
        long v;
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--demo") == 0) {
            cfg->demo = true;
        } else if (strcmp(argv[i], "--host") == 0 && next) {
            cfg->host = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && next && number(next, 65535, &v)) {
            cfg->port = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && next && number(next, 256, &v)) {
            cfg->threads = (unsigned)v;
            i++;
        } else if (argv[i][0] != '-' && !have_root) {
            cfg->root = argv[i];
            have_root = true;
        } else {
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    struct config cfg = {.host = "127.0.0.1", .port = "8080", .root = "."};
    if (!parse_args(argc, argv, &cfg))
        return usage(argv[0]);
    if (cfg.demo)
        cfg.host = "127.0.0.1"; /* the demo stays on this machine */
    int rc = weft_run(cfg.demo ? demo : serve, &cfg, NULL, NULL);
    if (rc != WEFT_OK)
        fprintf(stderr, "http_server: %s\n", weft_strerror(rc));
    return rc == WEFT_OK ? 0 : 1;
}
