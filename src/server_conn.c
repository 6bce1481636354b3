/* SPDX-License-Identifier: MIT */
/* server_conn.c — what runs on a server's loops: one accept task per
 * listener, one task per connection running the handler, and the slot
 * operations that close, hang up or abort them (see server_internal.h).
 * Everything here runs on the slot's loop thread. */
#include "server_internal.h"

#include "task_internal.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stdio.h>
#include <stdlib.h>

/* Accepts in a row before the accept task lets the handlers run. */
#define ACCEPT_BURST 64
/* The pause before accepting again when out of descriptors (or after an
 * unexpected error): long enough not to spin, short enough to recover. */
#define ACCEPT_PAUSE 0.1

/* ---- a connection's task -------------------------------------------------- */

/* A handler that ended with weft_fail is reported, as asyncio reports an
 * exception escaping client_connected_cb; a cancelled one is not. */
static void report_failure(void)
{
    int code = 0;
    char *message = NULL;
    if (!weft__take_failure(WEFT_FAILED, &code, &message))
        return;
    if (code != WEFT_ECANCELLED)
        fprintf(stderr, "Unhandled exception in client_connected_cb: %s%s%s\n",
                weft_status_name(code), message ? " " : "", message ? message : "");
    free(message);
}

/* How long the end of a connection may take to send what the handler
 * wrote: as long as a read may wait (a peer that does not read is as
 * hostile as one that does not write). */
static double close_bound(const weft_server *s)
{
    return s->read_timeout < 0 ? WEFT_FOREVER : s->read_timeout;
}

static void conn_free(weft_server_conn *c)
{
    weft__list_remove(&c->link);
    weft_stream_free(c->stream);
    weft_future_release(c->task);
    free(c);
}

static void *conn_main(void *arg)
{
    weft_server_conn *c = arg;
    weft_server *s = c->slot->server;
    c->running = true;
    if (!c->aborted) {
        s->handler(c->stream, s->arg);
        report_failure();
        weft_stream_close(c->stream);
        (void)weft_stream_wait_closed(c->stream, close_bound(s));
    }
    conn_free(c);
    weft__server_conn_gone(s);
    return NULL;
}

static int spawn_conn(weft_server_conn *c)
{
    char name[32];
    snprintf(name, sizeof name, "conn-%llu", (unsigned long long)c->number);
    weft_task_options options = WEFT_TASK_OPTIONS_INIT;
    options.name = name;
    options.stack_size = c->slot->server->handler_stack_size;
    return weft_spawn(conn_main, c, &options, &c->task);
}

/* A new connection, counted in s->active already: its stream and task. */
static void serve_connection(weft_server_slot *slot, int fd)
{
    weft_server *s = slot->server;
    weft_server_conn *c = calloc(1, sizeof *c);
    if (!c) {
        weft__sock_close(fd);
        weft__server_conn_gone(s);
        return;
    }
    c->slot = slot;
    c->number = atomic_fetch_add(&s->conn_number, 1) + 1;
    weft__list_node_init(&c->link);
    if (weft_stream_from_fd(fd, &s->stream, &c->stream) != WEFT_OK) { /* it closed fd */
        free(c);
        weft__server_conn_gone(s);
        return;
    }
    weft__stream_cap_reads(c->stream, s->first_byte_timeout, s->read_timeout);
    weft__list_push_back(&slot->conns, &c->link);
    if (spawn_conn(c) != WEFT_OK) {
        conn_free(c);
        weft__server_conn_gone(s);
    }
}

/* Over the limit (all threads together): taken and closed at once, so the
 * client learns at once and the backlog does not fill with it. */
static void take_connection(weft_server_slot *slot, int fd)
{
    weft_server *s = slot->server;
    if (atomic_fetch_add(&s->active, 1) >= s->max_connections) {
        atomic_fetch_sub(&s->active, 1);
        weft__sock_close(fd);
        return;
    }
    serve_connection(slot, fd);
}

/* ---- a listener's accept task ------------------------------------------ */

/* Take the next connection: WEFT_OK with *fd, or why not.  Its own loop
 * rather than weft__sock_accept_until's: the listener may be closed by
 * weft__server_slot_close while this waits (its wait then ends), and the
 * number must not be touched again once it was. */
static int accept_next(weft_server_listener *l, int *fd)
{
    for (;;) {
        if (l->stop)
            return WEFT_ECANCELLED;
        int rc = weft__pf_accept(l->fd, fd, NULL, NULL);
        if (rc != WEFT_PF_WOULD_BLOCK)
            return rc;
        rc = weft__net_wait(l->fd, WEFT_PF_READ, WEFT_NO_DEADLINE);
        if (rc != WEFT_OK)
            return rc;
    }
}

/* One step: WEFT_OK to go on, WEFT_ECANCELLED to stop. */
static int accept_once(weft_server_listener *l, unsigned *burst)
{
    int fd = -1;
    int rc = accept_next(l, &fd);
    if (rc == WEFT_OK) {
        take_connection(l->slot, fd);
        if (++*burst % ACCEPT_BURST == 0)
            return weft_sleep(0) == WEFT_ECANCELLED ? WEFT_ECANCELLED : WEFT_OK;
        return WEFT_OK;
    }
    if (rc == WEFT_ECANCELLED || l->stop)
        return WEFT_ECANCELLED;
    if (rc == WEFT_ECONNRESET) /* the client gave up before it was taken */
        return WEFT_OK;
    /* Out of descriptors (WEFT_EAGAIN: the connection waits in the
     * backlog), or an error that would come back at once: pause, never
     * spin. */
    return weft_sleep(ACCEPT_PAUSE) == WEFT_ECANCELLED ? WEFT_ECANCELLED : WEFT_OK;
}

/* Close the listener now (its Unix file goes too). */
static void listener_close(weft_server_listener *l)
{
    l->stop = true;
    if (l->fd < 0)
        return;
    weft__sock_close(l->fd); /* wakes its accept task, if waiting on it */
    l->fd = -1;
    if (l->unlink_path)
        weft__pf_unlink_path(l->slot->server->path);
}

/* Accept until the listener is closed (weft__server_slot_close closes it,
 * which wakes this task) or the task is cancelled (its loop ends).  The
 * listener is counted out here, once the task no longer touches it. */
static void *accept_main(void *arg)
{
    weft_server_listener *l = arg;
    unsigned burst = 0;
    while (accept_once(l, &burst) == WEFT_OK && !l->stop) {
    }
    listener_close(l);
    weft__server_listener_gone(l->slot->server);
    return NULL;
}

/* ---- the slot operations --------------------------------------------- */

void weft__server_slot_start(weft_server_slot *slot)
{
    if (slot->accepting || slot->closed)
        return;
    slot->accepting = true;
    weft_task_options options = WEFT_TASK_OPTIONS_INIT;
    options.name = "server-accept";
    for (size_t i = 0; i < slot->listener_count; i++) {
        weft_server_listener *l = &slot->listeners[i];
        /* Without memory for its task the listener stays open, unserved,
         * until close: its clients wait in the backlog, as when the
         * server is full. */
        if (l->fd >= 0 && !l->task &&
            weft_spawn(accept_main, l, &options, &l->task) != WEFT_OK)
            l->task = NULL;
    }
}

void weft__server_slot_close(weft_server_slot *slot)
{
    if (slot->closed)
        return;
    slot->closed = true;
    /* Closed at once, as asyncio's close closes its sockets: a client
     * connecting after it is refused.  An accept task waiting on its
     * listener wakes; one pausing (out of descriptors) sees it within the
     * pause; one not started yet sees it at its start.  None is cancelled:
     * a task cancelled before it starts never runs, and the listener is
     * counted out only when its task ends. */
    for (size_t i = 0; i < slot->listener_count; i++) {
        weft_server_listener *l = &slot->listeners[i];
        bool had_fd = l->fd >= 0;
        listener_close(l);
        if (!l->task && had_fd)
            weft__server_listener_gone(slot->server);
    }
}

void weft__server_slot_hang_up(weft_server_slot *slot)
{
    uint64_t upto = atomic_load(&slot->hang_up_upto);
    WEFT_LIST_FOR_EACH(node, next, &slot->conns) {
        weft_server_conn *c = WEFT_LIST_ENTRY(node, weft_server_conn, link);
        if (c->number <= upto)
            weft__stream_hang_up(c->stream);
    }
}

void weft__server_slot_abort(weft_server_slot *slot)
{
    uint64_t upto = atomic_load(&slot->abort_upto);
    WEFT_LIST_FOR_EACH(node, next, &slot->conns) {
        weft_server_conn *c = WEFT_LIST_ENTRY(node, weft_server_conn, link);
        if (c->number > upto)
            continue; /* accepted after the call */
        weft__stream_abort(c->stream);
        if (c->running)
            weft_task_cancel(c->task, NULL);
        else
            c->aborted = true;
    }
}
