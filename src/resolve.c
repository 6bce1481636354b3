/* SPDX-License-Identifier: MIT */
/* resolve.c — weft_getaddrinfo: a numeric address is parsed at once; a
 * name is looked up on a thread of its own (getaddrinfo can block for
 * seconds and cannot be interrupted), which the caller waits for, up to
 * its deadline, on an event (so a coroutine suspends and can be
 * cancelled).  A lookup given up on finishes on its thread and is freed
 * by whichever of the two lets go last. */
#include "net_internal.h"

#include "coro_internal.h"

#include "weft/event.h"
#include "weft/status.h"
#include "weft/thread.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct lookup {
    _Atomic int refs; /* the caller's and the thread's */
    weft_event done;
    char *host, *port; /* copies */
    int family, type;
    bool passive;
    int status;
    size_t count, capacity;
    weft_address addresses[];
} lookup;

static void lookup_release(lookup *l)
{
    if (atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    weft_event_destroy(&l->done);
    free(l->host);
    free(l->port);
    free(l);
}

static void *run_lookup(void *arg)
{
    lookup *l = arg;
    l->status = weft__pf_getaddrinfo(l->host, l->port, l->family, l->type, l->passive, false,
                                     l->addresses, l->capacity, &l->count);
    weft_event_set(&l->done);
    lookup_release(l);
    return NULL;
}

/* A copy of s (NULL for NULL); *failed when out of memory. */
static char *copy_or_null(const char *s, bool *failed)
{
    char *c = s ? weft__coro_copy_of(s) : NULL;
    *failed |= s && !c;
    return c;
}

/* The most addresses a lookup keeps for its caller.  A resolver answers
 * with a handful; the caller's capacity may be anything up to SIZE_MAX,
 * whose product with an address's size would wrap round to a small
 * allocation that the lookup then overran. */
#define LOOKUP_ROOM 256

static lookup *lookup_new(const char *host, const char *port, int family, int type,
                          bool passive, size_t capacity)
{
    if (capacity > LOOKUP_ROOM)
        capacity = LOOKUP_ROOM;
    lookup *l = calloc(1, sizeof *l + capacity * sizeof l->addresses[0]);
    if (!l)
        return NULL;
    bool failed = false;
    l->host = copy_or_null(host, &failed);
    l->port = copy_or_null(port, &failed);
    if (failed || weft_event_init(&l->done) != WEFT_OK) {
        free(l->host);
        free(l->port);
        free(l);
        return NULL;
    }
    atomic_init(&l->refs, 2);
    l->family = family;
    l->type = type;
    l->passive = passive;
    l->capacity = capacity;
    return l;
}

/* Start l on a daemon thread (a stuck resolver must not hold up exit). */
static int start_lookup(lookup *l)
{
    weft_thread_options o = {"weft-getaddrinfo", WEFT_DAEMON, 0};
    weft_thread *t;
    int rc = weft_thread_new(&t, run_lookup, l, &o);
    if (rc != WEFT_OK)
        return rc;
    rc = weft_thread_start(t);
    weft_thread_free(t); /* a started thread runs on, detached */
    return rc;
}

static int look_up_on_thread(const char *host, const char *port, int family, int type,
                             bool passive, weft_address *out, size_t capacity, size_t *count,
                             int64_t deadline)
{
    /* Cancelled already: no thread, and no lookup whose answer, quick
     * enough, would end the wait before it looked at the cancellation (a
     * wait for a set event returns at once; asyncio's await of a
     * cancelled task fails whatever it awaits). */
    if (weft__park_take_cancel())
        return WEFT_ECANCELLED;
    lookup *l = lookup_new(host, port, family, type, passive, capacity);
    if (!l)
        return WEFT_ENOMEM;
    int rc = start_lookup(l);
    if (rc != WEFT_OK) {
        lookup_release(l);
        lookup_release(l);
        return rc;
    }
    rc = weft_event_wait_timeout(&l->done, weft__seconds_until(deadline));
    if (rc == WEFT_OK && (rc = l->status) == WEFT_OK) {
        memcpy(out, l->addresses, l->count * sizeof *out);
        *count = l->count;
    }
    lookup_release(l);
    return rc;
}

int weft__getaddrinfo_until(const char *host, const char *port, int family, int type,
                            bool passive, weft_address *out, size_t capacity, size_t *count,
                            int64_t deadline)
{
    *count = 0;
    int rc = weft__pf_getaddrinfo(host, port, family, type, passive, true, out, capacity,
                                  count);
    if (rc != WEFT_ENAME || !host)
        return rc; /* parsed, or wrong in a way a lookup would not mend */
    return look_up_on_thread(host, port, family, type, passive, out, capacity, count,
                             deadline);
}

int weft_getaddrinfo(const char *host, const char *port, int family, int type, bool passive,
                     weft_address *addresses, size_t capacity, size_t *count, double timeout)
{
    int64_t deadline;
    if (!addresses || capacity == 0 || !count ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) ||
        (type != SOCK_STREAM && type != SOCK_DGRAM && type != 0))
        return WEFT_EINVAL;
    *count = 0;
    int rc = weft__net_deadline(timeout, &deadline);
    return rc != WEFT_OK ? rc
                         : weft__getaddrinfo_until(host, port, family, type, passive,
                                                   addresses, capacity, count, deadline);
}
