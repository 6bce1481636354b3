/* SPDX-License-Identifier: MIT */
/* socket_posix.c — weft__pf_ socket calls (see socket.h). */
#define _GNU_SOURCE
#include "socket.h"

#include "platform.h"
#include "weft/status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

int weft__pf_status_of_errno(int error)
{
    switch (error) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINPROGRESS:
        return WEFT_PF_WOULD_BLOCK;
    case ECONNREFUSED:
        return WEFT_ECONNREFUSED;
    case ECONNRESET:
    case ECONNABORTED:
        return WEFT_ECONNRESET;
    case EPIPE:
        return WEFT_EPIPE;
    case EADDRINUSE:
        return WEFT_EADDRINUSE;
    case ETIMEDOUT:
        return WEFT_ETIMEDOUT;
    case ENOMEM:
    case ENOBUFS:
        return WEFT_ENOMEM;
    case EMFILE:
    case ENFILE:
        return WEFT_EAGAIN;
    case EBADF:
    case ENOTSOCK:
    case EINVAL:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case EDESTADDRREQ:
        return WEFT_EINVAL;
    default:
        return WEFT_EOS;
    }
}

/* The status of the call that just failed; errno stays as the system set it. */
static int failed(void) { return weft__pf_status_of_errno(errno); }

int weft__pf_sock_open(int family, int type, int *fd)
{
    int s = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return failed();
    *fd = s;
    return WEFT_OK;
}

int weft__pf_sock_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return failed();
    return WEFT_OK;
}

int weft__pf_sock_nodelay(int fd)
{
    int on = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0 ? WEFT_OK : failed();
}

bool weft__pf_is_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_NONBLOCK);
}

int weft__pf_sock_close(int fd)
{
    /* Linux frees the descriptor even when close reports EINTR: never retry. */
    return close(fd) == 0 || errno == EINTR ? WEFT_OK : failed();
}

int weft__pf_recv(int fd, void *buf, size_t n, size_t *got)
{
    ssize_t r;
    do
        r = recv(fd, buf, n, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ENOTSOCK) /* a pipe: read(2), on its non-blocking mode */
        do
            r = read(fd, buf, n);
        while (r < 0 && errno == EINTR);
    if (r < 0)
        return failed();
    *got = (size_t)r;
    return WEFT_OK;
}

int weft__pf_send(int fd, const void *buf, size_t n, size_t *sent)
{
    ssize_t r;
    do
        r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return failed();
    *sent = (size_t)r;
    return WEFT_OK;
}

int weft__pf_recvfrom(int fd, void *buf, size_t n, size_t *got, struct sockaddr *addr,
                      socklen_t *len)
{
    ssize_t r;
    do
        r = recvfrom(fd, buf, n, MSG_DONTWAIT, addr, addr ? len : NULL);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return failed();
    *got = (size_t)r;
    return WEFT_OK;
}

int weft__pf_sendto(int fd, const void *buf, size_t n, const struct sockaddr *addr,
                    socklen_t len)
{
    ssize_t r;
    do
        r = sendto(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, addr, len);
    while (r < 0 && errno == EINTR);
    return r < 0 ? failed() : WEFT_OK;
}

int weft__pf_accept(int fd, int *conn, struct sockaddr *addr, socklen_t *len)
{
    int c;
    do
        c = accept4(fd, addr, addr ? len : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (c < 0 && errno == EINTR);
    if (c < 0)
        return failed();
    *conn = c;
    return WEFT_OK;
}

int weft__pf_connect_start(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (connect(fd, addr, len) == 0)
        return WEFT_OK;
    /* EINTR: the connection goes on in the background, as EINPROGRESS;
     * EALREADY: an earlier attempt (abandoned by a timeout) goes on. */
    if (errno == EINTR || errno == EALREADY)
        return WEFT_PF_WOULD_BLOCK;
    if (errno == EAGAIN) /* a Unix listener's queue is full: nothing started */
        return WEFT_PF_CONNECT_LATER;
    return errno == EISCONN ? WEFT_OK : failed();
}

int weft__pf_connect_result(int fd)
{
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
        return failed();
    if (error == 0)
        return WEFT_OK;
    errno = error;
    return failed();
}

static int set_flag(int fd, int level, int name)
{
    int on = 1;
    return setsockopt(fd, level, name, &on, sizeof on);
}

int weft__pf_listen(const struct sockaddr *addr, socklen_t len, int backlog, bool reuse_port,
                    int *fd)
{
    int s = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return failed();
    bool ok = true;
    if (addr->sa_family == AF_UNIX) {
        weft__pf_unlink_path(((const struct sockaddr_un *)(const void *)addr)->sun_path);
    } else {
        ok = set_flag(s, SOL_SOCKET, SO_REUSEADDR) == 0;
        if (ok && reuse_port)
            ok = set_flag(s, SOL_SOCKET, SO_REUSEPORT) == 0;
        if (ok && addr->sa_family == AF_INET6)
            ok = set_flag(s, IPPROTO_IPV6, IPV6_V6ONLY) == 0;
    }
    if (!ok || bind(s, addr, len) != 0 || listen(s, backlog) != 0) {
        int rc = failed();
        int error = errno;
        close(s);
        errno = error;
        return rc;
    }
    *fd = s;
    return WEFT_OK;
}

void weft__pf_unlink_path(const char *path)
{
    if (path && path[0]) /* an abstract socket (leading NUL) has no file */
        unlink(path);
}

int weft__pf_sock_shutdown_write(int fd)
{
    return shutdown(fd, SHUT_WR) == 0 ? WEFT_OK : failed();
}

int weft__pf_sockname(int fd, bool peer, struct sockaddr *addr, socklen_t *len)
{
    int r = peer ? getpeername(fd, addr, len) : getsockname(fd, addr, len);
    return r == 0 ? WEFT_OK : failed();
}

int weft__pf_wait_fd(int fd, unsigned events, int64_t deadline_ns)
{
    short want = (short)(((events & WEFT_PF_READ) ? POLLIN : 0) |
                         ((events & WEFT_PF_WRITE) ? POLLOUT : 0));
    for (;;) {
        int timeout_ms = weft__pf_timeout_ms(deadline_ns);
        struct pollfd p = {.fd = fd, .events = want};
        int n = poll(&p, 1, timeout_ms);
        if (n > 0)
            return WEFT_OK; /* POLLNVAL too: the call that follows reports it */
        if (n == 0 && timeout_ms == 0)
            return WEFT_ETIMEDOUT;
        /* n == 0 with time left (rounding) or EINTR: look again */
    }
}

static int status_of_gai(int error)
{
    switch (error) {
    case EAI_MEMORY:
        return WEFT_ENOMEM;
    case EAI_SYSTEM:
        return failed();
    case EAI_FAMILY:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
        return WEFT_EINVAL;
    default: /* EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_SERVICE, EAI_NODATA */
        return WEFT_ENAME;
    }
}

int weft__pf_getaddrinfo(const char *host, const char *port, int family, int type,
                         bool passive, bool numeric_only, weft_address *out, size_t capacity,
                         size_t *count)
{
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_flags = (passive ? AI_PASSIVE : 0) | (numeric_only ? AI_NUMERICHOST : 0);
    if (family == AF_UNSPEC && !numeric_only)
        hints.ai_flags |= AI_ADDRCONFIG;
    int rc = getaddrinfo(host, port ? port : "0", &hints, &list);
    if (rc != 0)
        return status_of_gai(rc);
    size_t n = 0;
    for (struct addrinfo *a = list; a && n < capacity; a = a->ai_next) {
        if (a->ai_addrlen > sizeof out[n].storage)
            continue;
        memset(&out[n], 0, sizeof out[n]);
        memcpy(&out[n].storage, a->ai_addr, a->ai_addrlen);
        out[n].len = a->ai_addrlen;
        n++;
    }
    freeaddrinfo(list);
    *count = n;
    return n ? WEFT_OK : WEFT_ENAME;
}

int weft__pf_unix_address(const char *path, weft_address *out)
{
    struct sockaddr_un *un = (struct sockaddr_un *)(void *)&out->storage;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof un->sun_path)
        return WEFT_EINVAL;
    memset(out, 0, sizeof *out);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return WEFT_OK;
}

int weft__pf_address_format(const struct sockaddr *addr, socklen_t len, char *text,
                            size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (addr->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)addr;
        size_t room = len > offsetof(struct sockaddr_un, sun_path)
                          ? len - offsetof(struct sockaddr_un, sun_path)
                          : 0;
        if (room > sizeof un->sun_path) /* a length past the path: no further */
            room = sizeof un->sun_path;
        snprintf(text, size, "%.*s", (int)strnlen(un->sun_path, room), un->sun_path);
        return WEFT_OK;
    }
    if (addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(text, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
        return WEFT_OK;
    }
    if (addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(text, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
        return WEFT_OK;
    }
    text[0] = '\0';
    return WEFT_EINVAL;
}

int weft__pf_address_port(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)addr)->sin_port);
    if (addr->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)addr)->sin6_port);
    return 0;
}

void weft__pf_address_set_port(struct sockaddr *addr, int port)
{
    if (addr->sa_family == AF_INET)
        ((struct sockaddr_in *)(void *)addr)->sin_port = htons((uint16_t)port);
    else if (addr->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)addr)->sin6_port = htons((uint16_t)port);
}

int weft__pf_sock_dup(int fd, int *copy)
{
    int c = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (c < 0)
        return failed();
    *copy = c;
    return WEFT_OK;
}
