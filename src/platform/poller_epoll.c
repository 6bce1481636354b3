/* SPDX-License-Identifier: MIT */
/* poller_epoll.c — weft__poller_* on epoll and an eventfd (see poller.h). */
#define _GNU_SOURCE
#include "poller.h"

#include "platform.h"
#include "weft/status.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define POLL_BATCH 512

struct weft_poller {
    int epoll_fd;
    int wake_fd;
};

int weft__poller_new(weft_poller **out)
{
    weft_poller *p = malloc(sizeof *p);
    if (!p)
        return WEFT_ENOMEM;
    p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = p->wake_fd;
    if (p->epoll_fd < 0 || p->wake_fd < 0 ||
        epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, p->wake_fd, &ev) != 0) {
        weft__poller_free(p);
        return WEFT_EAGAIN;
    }
    *out = p;
    return WEFT_OK;
}

void weft__poller_free(weft_poller *p)
{
    if (!p)
        return;
    if (p->epoll_fd >= 0)
        close(p->epoll_fd);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    free(p);
}

static unsigned readiness_of(uint32_t events)
{
    unsigned r = 0;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        r |= WEFT_PF_READ;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        r |= WEFT_PF_HUP;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        r |= WEFT_PF_WRITE;
    return r;
}

bool weft__poller_wait(weft_poller *p, int64_t deadline,
                       void (*ready)(int fd, unsigned events, void *ctx), void *ctx)
{
    /* Room for many: a busy server's round takes every ready connection in
     * one call (64 made W12's loop call epoll_wait twice per round at 100
     * connections; nginx takes 512). */
    struct epoll_event events[POLL_BATCH];
    int n = epoll_wait(p->epoll_fd, events, POLL_BATCH, weft__pf_timeout_ms(deadline));
    bool woken = false;
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        if (fd != p->wake_fd) {
            ready(fd, readiness_of(events[i].events), ctx);
            continue;
        }
        uint64_t count;
        while (read(p->wake_fd, &count, sizeof count) > 0) {
        }
        woken = true;
    }
    return woken;
}

static struct epoll_event both_edges(int fd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
    ev.data.fd = fd;
    return ev;
}

int weft__poller_add(weft_poller *p, int fd)
{
    struct epoll_event ev = both_edges(fd);
    if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST)
        return WEFT_OK;
    return errno == EPERM || errno == EBADF ? WEFT_EINVAL : WEFT_EAGAIN;
}

int weft__poller_recheck(weft_poller *p, int fd)
{
    struct epoll_event ev = both_edges(fd);
    return epoll_ctl(p->epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ? WEFT_OK : WEFT_ESTATE;
}

void weft__poller_remove(weft_poller *p, int fd)
{
    epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, fd, NULL); /* ENOENT once closed: fine */
}

void weft__poller_wake(weft_poller *p)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(p->wake_fd, &one, sizeof one);
    while (r < 0 && errno == EINTR); /* EAGAIN: the count is full, a wake-up is pending */
}
