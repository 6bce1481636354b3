/* SPDX-License-Identifier: MIT */
/* sock.c — the low-level socket calls of weft/net.h: each tries its
 * system call first and waits for readiness only when it would block
 * (the fast path costs no poll and no epoll_ctl), then tries again. */
#include "net_internal.h"

#include "coro_internal.h"
#include "weft/status.h"

#include <math.h>

int weft__net_deadline(double timeout, int64_t *deadline)
{
    if (isnan(timeout))
        return WEFT_EINVAL;
    if (timeout <= 0) {
        *deadline = WEFT_DEADLINE_POLL;
        return WEFT_OK;
    }
    return weft__deadline_after(timeout, deadline);
}

int64_t weft__net_cap_deadline(int64_t cap_ns)
{
    weft_loop *loop = weft__loop_here();
    int64_t now = loop && weft__in_coroutine() ? loop->round_now : weft__now_ns();
    return cap_ns > INT64_MAX - now ? WEFT_NO_DEADLINE : now + cap_ns;
}

int weft__net_wait(int fd, unsigned events, int64_t deadline)
{
    /* A poll (timeout 0) is over without reading the clock; a finite
     * deadline that has passed is the park's to see (one clock read per
     * wait fewer: 0.5% of W12's server CPU). */
    if (deadline == WEFT_DEADLINE_POLL)
        return WEFT_ETIMEDOUT;
    return weft__park_fd(fd, events, deadline);
}

int weft__net_check_fd(int fd)
{
    if (fd < 0)
        return WEFT_EINVAL;
    weft_loop *loop = weft__loop_here();
    if (loop && loop->debug && !weft__pf_is_nonblocking(fd))
        return WEFT_EINVAL;
    return WEFT_OK;
}

int weft_sock_open(int family, int type, int *fd)
{
    if (!fd || (family != AF_INET && family != AF_INET6 && family != AF_UNIX) ||
        (type != SOCK_STREAM && type != SOCK_DGRAM))
        return WEFT_EINVAL;
    return weft__pf_sock_open(family, type, fd);
}

int weft_sock_set_nonblocking(int fd)
{
    return fd < 0 ? WEFT_EINVAL : weft__pf_sock_nonblocking(fd);
}

int weft__sock_close(int fd)
{
    weft__loop_fd_forget(weft__loop_here(), fd);
    return weft__pf_sock_close(fd);
}

int weft_sock_close(int fd) { return fd < 0 ? WEFT_EINVAL : weft__sock_close(fd); }

static int wait_ready(int fd, unsigned events, double timeout)
{
    int64_t deadline;
    int rc = fd < 0 ? WEFT_EINVAL : weft__net_deadline(timeout, &deadline);
    if (rc != WEFT_OK)
        return rc;
    /* Edge-triggered registration reports changes, not a state: look at
     * the state first. */
    while (weft__pf_wait_fd(fd, events, WEFT_DEADLINE_POLL) != WEFT_OK)
        if ((rc = weft__net_wait(fd, events, deadline)) != WEFT_OK)
            return rc;
    return WEFT_OK;
}

int weft_sock_wait_readable(int fd, double timeout)
{
    return wait_ready(fd, WEFT_PF_READ, timeout);
}

int weft_sock_wait_writable(int fd, double timeout)
{
    return wait_ready(fd, WEFT_PF_WRITE, timeout);
}

int weft__sock_recv_until(int fd, void *buf, size_t n, size_t *got, int64_t deadline)
{
    *got = 0;
    for (;;) {
        int rc = weft__pf_recv(fd, buf, n, got);
        if (rc != WEFT_PF_WOULD_BLOCK)
            return rc;
        if ((rc = weft__net_wait(fd, WEFT_PF_READ, deadline)) != WEFT_OK)
            return rc;
    }
}

/* Check the arguments every call takes and make its deadline. */
static int start_call(int fd, const void *buf, size_t n, const void *count, double timeout,
                      int64_t *deadline)
{
    if (!buf || n == 0 || !count)
        return WEFT_EINVAL;
    int rc = weft__net_check_fd(fd);
    return rc != WEFT_OK ? rc : weft__net_deadline(timeout, deadline);
}

int weft_sock_recv(int fd, void *buf, size_t n, size_t *got, double timeout)
{
    int64_t deadline;
    int rc = start_call(fd, buf, n, got, timeout, &deadline);
    if (rc != WEFT_OK) {
        if (got)
            *got = 0;
        return rc;
    }
    return weft__sock_recv_until(fd, buf, n, got, deadline);
}

int weft__sock_sendall_until(int fd, const void *buf, size_t n, size_t *sent,
                             int64_t deadline)
{
    const char *p = buf;
    size_t done = 0;
    int rc = WEFT_OK;
    while (done < n) {
        size_t k = 0;
        rc = weft__pf_send(fd, p + done, n - done, &k);
        if (rc == WEFT_OK) {
            done += k;
            continue;
        }
        if (rc != WEFT_PF_WOULD_BLOCK || (rc = weft__net_wait(fd, WEFT_PF_WRITE, deadline)))
            break;
    }
    if (sent)
        *sent = done;
    return done == n ? WEFT_OK : rc;
}

int weft_sock_sendall(int fd, const void *buf, size_t n, size_t *sent, double timeout)
{
    int64_t deadline;
    if (sent)
        *sent = 0;
    if (n == 0 && buf && fd >= 0)
        return WEFT_OK;
    int rc = start_call(fd, buf, n, "", timeout, &deadline);
    return rc != WEFT_OK ? rc : weft__sock_sendall_until(fd, buf, n, sent, deadline);
}

int weft_sock_send(int fd, const void *buf, size_t n, size_t *sent, double timeout)
{
    int64_t deadline;
    if (sent)
        *sent = 0;
    int rc = start_call(fd, buf, n, sent, timeout, &deadline);
    while (rc == WEFT_OK) {
        rc = weft__pf_send(fd, buf, n, sent);
        if (rc != WEFT_PF_WOULD_BLOCK)
            return rc;
        rc = weft__net_wait(fd, WEFT_PF_WRITE, deadline);
    }
    return rc;
}

int weft__sock_accept_until(int fd, int *conn, struct sockaddr *addr, socklen_t *len,
                            int64_t deadline)
{
    for (;;) {
        int rc = weft__pf_accept(fd, conn, addr, len);
        if (rc != WEFT_PF_WOULD_BLOCK)
            return rc;
        if ((rc = weft__net_wait(fd, WEFT_PF_READ, deadline)) != WEFT_OK)
            return rc;
    }
}

int weft_sock_accept(int fd, int *conn, struct sockaddr *addr, socklen_t *len, double timeout)
{
    int64_t deadline;
    if (!conn || (addr && !len))
        return WEFT_EINVAL;
    *conn = -1;
    int rc = weft__net_check_fd(fd);
    if (rc == WEFT_OK)
        rc = weft__net_deadline(timeout, &deadline);
    return rc != WEFT_OK ? rc : weft__sock_accept_until(fd, conn, addr, len, deadline);
}

/* The longest pause between two tries of a connect that could not start. */
#define CONNECT_RETRY_MAX_NS 32000000

/* Start a connect, trying again while it cannot even start (a full Unix
 * listener), after pauses growing from 1 ms: nothing else says when the
 * listener has room.  The pauses are sleeps that a cancel ends. */
static int start_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline)
{
    int64_t pause = 1000000;
    for (;;) {
        int rc = weft__pf_connect_start(fd, addr, len);
        if (rc != WEFT_PF_CONNECT_LATER)
            return rc;
        if (weft__deadline_passed(deadline))
            return WEFT_ETIMEDOUT;
        int64_t until = weft__now_ns() + pause;
        if (deadline != WEFT_NO_DEADLINE && deadline < until)
            until = deadline;
        if (weft__park_sleep(until) == WEFT_ECANCELLED)
            return WEFT_ECANCELLED;
        pause = pause * 2 > CONNECT_RETRY_MAX_NS ? CONNECT_RETRY_MAX_NS : pause * 2;
    }
}

int weft__sock_connect_until(int fd, const struct sockaddr *addr, socklen_t len,
                             int64_t deadline)
{
    int rc = start_connect(fd, addr, len, deadline);
    while (rc == WEFT_PF_WOULD_BLOCK) {
        if ((rc = weft__net_wait(fd, WEFT_PF_WRITE, deadline)) != WEFT_OK)
            return rc;
        /* Writable, or woken spuriously: still in progress reads as 0
         * with no error, so ask whether it is connected yet. */
        rc = weft__pf_connect_result(fd);
        if (rc == WEFT_OK && weft__pf_wait_fd(fd, WEFT_PF_WRITE, WEFT_DEADLINE_POLL) != WEFT_OK)
            rc = WEFT_PF_WOULD_BLOCK;
    }
    return rc;
}

int weft_sock_connect(int fd, const struct sockaddr *addr, socklen_t len, double timeout)
{
    int64_t deadline;
    if (!addr || len == 0)
        return WEFT_EINVAL;
    int rc = weft__net_check_fd(fd);
    if (rc == WEFT_OK)
        rc = weft__net_deadline(timeout, &deadline);
    return rc != WEFT_OK ? rc : weft__sock_connect_until(fd, addr, len, deadline);
}

int weft_sock_sendto(int fd, const void *buf, size_t n, const struct sockaddr *addr,
                     socklen_t len, double timeout)
{
    int64_t deadline;
    /* Not start_call: n 0 is an empty datagram, which is one too (Python's
     * sock_sendto(sock, b'', address)). */
    if (!buf)
        return WEFT_EINVAL;
    int rc = weft__net_check_fd(fd);
    if (rc == WEFT_OK)
        rc = weft__net_deadline(timeout, &deadline);
    while (rc == WEFT_OK) {
        rc = weft__pf_sendto(fd, buf, n, addr, len);
        if (rc != WEFT_PF_WOULD_BLOCK)
            return rc;
        rc = weft__net_wait(fd, WEFT_PF_WRITE, deadline);
    }
    return rc;
}

int weft_sock_recvfrom(int fd, void *buf, size_t n, size_t *got, struct sockaddr *addr,
                       socklen_t *len, double timeout)
{
    int64_t deadline;
    if (got)
        *got = 0;
    if (addr && !len)
        return WEFT_EINVAL;
    int rc = start_call(fd, buf, n, got, timeout, &deadline);
    while (rc == WEFT_OK) {
        rc = weft__pf_recvfrom(fd, buf, n, got, addr, len);
        if (rc != WEFT_PF_WOULD_BLOCK)
            return rc;
        rc = weft__net_wait(fd, WEFT_PF_READ, deadline);
    }
    return rc;
}

int weft_address_format(const struct sockaddr *addr, socklen_t len, char *text, size_t size)
{
    if (!text || size == 0)
        return WEFT_EINVAL;
    /* Too short to hold even its family: no address (and sa_family would
     * be read beyond it). */
    if (!addr || len < (socklen_t)sizeof addr->sa_family) {
        text[0] = '\0';
        return WEFT_EINVAL;
    }
    return weft__pf_address_format(addr, len, text, size);
}
