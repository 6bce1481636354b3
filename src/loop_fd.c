/* SPDX-License-Identifier: MIT */
/* loop_fd.c — the descriptors a loop watches (see loop.h): a table by fd
 * number, each entry the tasks waiting on that fd and its owner.
 *
 * Registration is edge-triggered and stays (one epoll_ctl at the first
 * wait, none per wait after), since a connection's task waits on its
 * socket once per request: the system-call count per request is what a
 * server's speed comes down to (docs/benchmarks.md, W12). */
#include "loop.h"

#include "weft/status.h"

#include <stdlib.h>
#include <string.h>

static int grow_to(weft_loop *loop, int fd)
{
    if ((size_t)fd < loop->fd_capacity)
        return WEFT_OK;
    size_t n = loop->fd_capacity ? loop->fd_capacity : 64;
    while (n <= (size_t)fd)
        n *= 2;
    weft_loop_fd *fds = realloc(loop->fds, n * sizeof *fds);
    if (!fds)
        return WEFT_ENOMEM;
    memset(fds + loop->fd_capacity, 0, (n - loop->fd_capacity) * sizeof *fds);
    loop->fds = fds;
    loop->fd_capacity = n;
    return WEFT_OK;
}

/* Make sure fd is registered: at its first use, and (for an fd nobody
 * keeps) again when the poller lost it because it was closed meanwhile. */
static int ensure_registered(weft_loop *loop, int fd)
{
    if (fd < 0)
        return WEFT_EINVAL;
    int rc = grow_to(loop, fd);
    if (rc != WEFT_OK)
        return rc;
    weft_loop_fd *e = &loop->fds[fd];
    if (e->registered && (e->kept || weft__poller_recheck(loop->poller, fd) == WEFT_OK))
        return WEFT_OK;
    rc = weft__poller_add(loop->poller, fd);
    if (rc != WEFT_OK)
        return rc;
    loop->watching += !e->registered;
    e->registered = true;
    return WEFT_OK;
}

int weft__loop_fd_wait(weft_loop *loop, weft_parker *p, int fd, unsigned events)
{
    int rc = ensure_registered(loop, fd);
    if (rc != WEFT_OK)
        return rc;
    weft_loop_fd *e = &loop->fds[fd];
    p->fd_events = events;
    p->fd_next = e->waiters;
    p->fd_listed = true;
    e->waiters = p;
    return WEFT_OK;
}

void weft__loop_fd_unwait(weft_loop *loop, weft_parker *p, int fd)
{
    if (!p->fd_listed)
        return; /* woken: taken off already */
    weft_parker **link = &loop->fds[fd].waiters;
    while (*link && *link != p)
        link = &(*link)->fd_next;
    if (*link)
        *link = p->fd_next;
    p->fd_listed = false;
}

int weft__loop_fd_keep(weft_loop *loop, int fd, weft_fd_owner *owner)
{
    int rc = ensure_registered(loop, fd);
    if (rc != WEFT_OK)
        return rc;
    loop->fds[fd].kept = true;
    loop->fds[fd].owner = owner;
    return WEFT_OK;
}

/* Wake the waiters of e that want any of events (all of them: ALL). */
static void wake_waiters(weft_loop_fd *e, unsigned events)
{
    weft_parker **link = &e->waiters;
    while (*link) {
        weft_parker *p = *link;
        if (!(p->fd_events & events)) {
            link = &p->fd_next;
            continue;
        }
        *link = p->fd_next;
        p->fd_listed = false;
        weft__park_wake(p);
    }
}

void weft__loop_fd_forget(weft_loop *loop, int fd)
{
    if (!loop || fd < 0 || (size_t)fd >= loop->fd_capacity || !loop->fds[fd].registered)
        return;
    weft_loop_fd *e = &loop->fds[fd];
    weft__poller_remove(loop->poller, fd);
    wake_waiters(e, WEFT_PF_READ | WEFT_PF_WRITE);
    memset(e, 0, sizeof *e);
    loop->watching--;
}

void weft__loop_fd_ready(int fd, unsigned events, void *ctx)
{
    weft_loop *loop = ctx;
    if (fd < 0 || (size_t)fd >= loop->fd_capacity)
        return;
    weft_loop_fd *e = &loop->fds[fd];
    e->read_events += (events & WEFT_PF_READ) != 0;
    e->hung_up |= (events & WEFT_PF_HUP) != 0;
    wake_waiters(e, events);
    if (e->owner && (events & WEFT_PF_WRITE))
        e->owner->writable(e->owner);
}

void weft__loop_flush_later(weft_loop *loop, weft_fd_owner *owner)
{
    if (!weft__list_linked(&owner->pending))
        weft__list_push_back(&loop->flushes, &owner->pending);
}

void weft__loop_flush_cancel(weft_fd_owner *owner) { weft__list_remove(&owner->pending); }

void weft__loop_flush_all(weft_loop *loop)
{
    while (!weft__list_empty(&loop->flushes)) {
        weft_fd_owner *o = WEFT_LIST_ENTRY(loop->flushes.next, weft_fd_owner, pending);
        weft__loop_flush_cancel(o);
        o->flush(o);
    }
}

void weft__loop_fd_free(weft_loop *loop)
{
    free(loop->fds);
    loop->fds = NULL;
    loop->fd_capacity = 0;
}
