/* SPDX-License-Identifier: MIT */
/* mpi_wire.c — messages between the client and the serving ranks, the
 * sends in flight, and the backoff of a side that found nothing to do.
 * Every call here is made holding weft__mpi_lock. */
#define _POSIX_C_SOURCE 200809L /* readlink, getpid, clock_gettime */
#include "mpi_internal.h"

#include "weft/status.h"
#include "weft/time.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t weft__mpi_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void *weft__mpi_message(const void *header, size_t header_size, const void *payload,
                        size_t size, size_t *total)
{
    if (size > SIZE_MAX - header_size || header_size + size > (size_t)INT_MAX)
        return NULL; /* one MPI message holds at most INT_MAX bytes */
    unsigned char *buf = malloc(header_size + size);
    if (!buf)
        return NULL;
    memcpy(buf, header, header_size);
    if (size)
        memcpy(buf + header_size, payload, size);
    *total = header_size + size;
    return buf;
}

int weft__mpi_send(struct mpi_sends *s, MPI_Comm comm, int dest, int tag, void *buf, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        MPI_Request *requests = realloc(s->requests, cap * sizeof *requests);
        if (requests)
            s->requests = requests;
        void **buffers = requests ? realloc(s->buffers, cap * sizeof *buffers) : NULL;
        if (!buffers) {
            free(buf);
            return WEFT_ENOMEM;
        }
        s->buffers = buffers;
        s->cap = cap;
    }
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, tag, comm, &s->requests[s->n]) != MPI_SUCCESS) {
        free(buf);
        return WEFT_EBROKEN;
    }
    s->buffers[s->n++] = buf;
    return WEFT_OK;
}

int weft__mpi_sends_progress(struct mpi_sends *s)
{
    for (size_t i = 0; i < s->n;) {
        int done = 0;
        if (MPI_Test(&s->requests[i], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return WEFT_EBROKEN;
        if (!done) {
            i++;
            continue;
        }
        free(s->buffers[i]);
        s->n--; /* the last one takes its place: order does not matter */
        s->requests[i] = s->requests[s->n];
        s->buffers[i] = s->buffers[s->n];
    }
    return WEFT_OK;
}

void weft__mpi_sends_finish(struct mpi_sends *s, bool broken)
{
    if (broken) { /* MPI may still read the buffers, and waiting may not end: */
        *s = (struct mpi_sends){0}; /* leave them (a broken pool's last bytes) */
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        MPI_Wait(&s->requests[i], MPI_STATUS_IGNORE);
        free(s->buffers[i]);
    }
    free(s->requests);
    free(s->buffers);
    *s = (struct mpi_sends){0};
}

int weft__mpi_receive(MPI_Comm comm, int source, int tag, struct mpi_message *m, bool *got)
{
    int found = 0;
    MPI_Message handle;
    MPI_Status status;
    *got = false;
    if (MPI_Improbe(source, tag, comm, &found, &handle, &status) != MPI_SUCCESS)
        return WEFT_EBROKEN;
    if (!found)
        return WEFT_OK;
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    void *buf = malloc(count > 0 ? (size_t)count : 1);
    if (!buf) { /* take it anyway, or it blocks every later message */
        char scratch;
        MPI_Mrecv(count > 0 ? NULL : &scratch, 0, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
        return WEFT_ENOMEM;
    }
    if (MPI_Mrecv(buf, count, MPI_BYTE, &handle, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        free(buf);
        return WEFT_EBROKEN;
    }
    *m = (struct mpi_message){buf, (size_t)count, status.MPI_SOURCE, status.MPI_TAG};
    *got = true;
    return WEFT_OK;
}

int weft__mpi_send_now(MPI_Comm comm, int dest, int tag, const void *buf, size_t len)
{
    weft_lock_acquire(&weft__mpi_lock);
    int rc = MPI_Send(buf, (int)len, MPI_BYTE, dest, tag, comm);
    weft_lock_release(&weft__mpi_lock);
    return rc == MPI_SUCCESS ? WEFT_OK : WEFT_EBROKEN;
}

int weft__mpi_receive_wait(MPI_Comm comm, int source, int tag, double timeout,
                           struct mpi_message *m)
{
    struct mpi_backoff b;
    weft__mpi_backoff_reset(&b);
    int64_t deadline = timeout < 0 ? INT64_MAX : weft__mpi_now_ns() + (int64_t)(timeout * 1e9);
    for (;;) {
        bool got;
        weft_lock_acquire(&weft__mpi_lock);
        int rc = weft__mpi_receive(comm, source, tag, m, &got);
        weft_lock_release(&weft__mpi_lock);
        if (rc != WEFT_OK || got)
            return rc;
        if (weft__mpi_now_ns() >= deadline)
            return WEFT_ETIMEDOUT;
        weft__mpi_backoff_idle(&b, NULL);
    }
}

/* ---- the backoff ------------------------------------------------------------ */

/* After the last event a side spins (a probe costs about 0.1 us), then
 * spins yielding the CPU to whatever else is runnable, then naps for
 * growing periods.  The yielding phase is what keeps a stream of tasks
 * fast on a machine with fewer CPUs than processes: a client and a rank
 * in a stream each see the other's next message within microseconds, and
 * a rank that sleeps as soon as it is idle for a moment makes the next
 * hop slow, which makes the other side nap too (measured: 2 ms hops with
 * naps after 100 us, against ~10 us with the yielding phase).  An idle
 * rank wakes 1000 times a second at most (about 0.1% of a CPU), and its
 * next task waits at most a millisecond for it. */
#define YIELD_NS 1000000
#define NAP_MIN 50e-6
#define NAP_MAX 1e-3

void weft__mpi_backoff_reset(struct mpi_backoff *b)
{
    b->idle_since_ns = 0;
    b->nap = NAP_MIN;
}

bool weft__mpi_backoff_spinning(const struct mpi_backoff *b)
{
    return !b->idle_since_ns || weft__mpi_now_ns() - b->idle_since_ns < YIELD_NS;
}

bool weft__mpi_backoff_idle(struct mpi_backoff *b, weft_event *wake)
{
    int64_t now = weft__mpi_now_ns();
    if (!b->idle_since_ns)
        b->idle_since_ns = now;
    if (now - b->idle_since_ns < YIELD_NS) {
        sched_yield();
        return false;
    }
    if (wake) {
        weft_event_wait_timeout(wake, b->nap);
        weft_event_clear(wake);
    } else {
        weft_sleep(b->nap);
    }
    b->nap = b->nap * 2 < NAP_MAX ? b->nap * 2 : NAP_MAX;
    return true;
}
