/* SPDX-License-Identifier: MIT */
/* poller.h — where an event loop sleeps (layer 1): until a deadline, a
 * wake-up from another thread, or (the sockets, later) an fd's readiness.
 * Linux: epoll with an eventfd for the wake-ups. */
#ifndef WEFT_POLLER_H
#define WEFT_POLLER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct weft_poller weft_poller;

/* A poller.  WEFT_OK, WEFT_EAGAIN (the system refused an fd), WEFT_ENOMEM. */
int weft__poller_new(weft_poller **out);
void weft__poller_free(weft_poller *p);

/* Sleep until woken or the deadline (monotonic ns; WEFT_PF_NO_DEADLINE:
 * none; a passed one: only look).  Returns true if a wake-up arrived (it
 * is used up). */
bool weft__poller_wait(weft_poller *p, int64_t deadline);

/* Wake the poller's sleeper, or make its next wait return at once; from
 * any thread, async-signal-safe. */
void weft__poller_wake(weft_poller *p);

#endif
