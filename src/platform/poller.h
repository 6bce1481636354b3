/* SPDX-License-Identifier: MIT */
/* poller.h — where an event loop sleeps (layer 1): until a deadline, a
 * wake-up from another thread, or an fd's readiness.
 * Linux: epoll with an eventfd for the wake-ups. */
#ifndef WEFT_POLLER_H
#define WEFT_POLLER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct weft_poller weft_poller;

/* A poller.  WEFT_OK, WEFT_EAGAIN (the system refused an fd), WEFT_ENOMEM. */
int weft__poller_new(weft_poller **out);
void weft__poller_free(weft_poller *p);

/* Sleep until woken, a registered fd becomes ready, or the deadline
 * (monotonic ns; WEFT_PF_NO_DEADLINE: none; a passed one: only look).
 * ready(fd, events, ctx) is called for each registered fd that became
 * ready, events WEFT_PF_READ and / or WEFT_PF_WRITE (a hang-up or an error
 * is both, with WEFT_PF_HUP).  Returns true if a wake-up arrived (it is used up). */
bool weft__poller_wait(weft_poller *p, int64_t deadline,
                       void (*ready)(int fd, unsigned events, void *ctx), void *ctx);

/* Register fd for both readiness kinds, edge-triggered: ready() is called
 * each time it turns readable or writable (new data, room, a hang-up), not
 * while it stays so.  So a caller tries its call first and waits only when
 * the call would block.  WEFT_OK, WEFT_EINVAL (fd cannot be polled: a
 * regular file), WEFT_EAGAIN (refused).  Registering an fd registered
 * already is WEFT_OK. */
int weft__poller_add(weft_poller *p, int fd);

/* Look again at a registered fd (ready() is called once more if it is
 * ready now): WEFT_OK, or WEFT_ESTATE when it is not registered any more
 * (it was closed, and its number maybe reused). */
int weft__poller_recheck(weft_poller *p, int fd);

/* Stop watching fd (before it is closed). */
void weft__poller_remove(weft_poller *p, int fd);

/* Wake the poller's sleeper, or make its next wait return at once; from
 * any thread, async-signal-safe. */
void weft__poller_wake(weft_poller *p);

#endif
