/* SPDX-License-Identifier: MIT */
/* server_internal.h — a server's records, shared by server.c (making,
 * closing and waiting on a server, from any thread) and server_conn.c
 * (what runs on the server's loops: the accept tasks and the
 * connections' tasks).
 *
 * A server has one slot per loop it serves on: the calling coroutine's
 * loop (threads 0), or each of its N threads' loops.  A slot's listeners
 * and connections are touched only on the slot's loop thread; the other
 * threads reach a slot through weft_loop_call_soon_threadsafe.  What the
 * threads share (the flags, the counts) is guarded by the server's lock
 * or is atomic. */
#ifndef WEFT_SERVER_INTERNAL_H
#define WEFT_SERVER_INTERNAL_H

#include "net_internal.h"

#include "list.h"
#include "weft/coro.h"
#include "weft/event.h"
#include "weft/lock.h"
#include "weft/thread.h"

#include <stdatomic.h>
#include <stdbool.h>

typedef struct weft_server_slot weft_server_slot;

/* One listening socket and the task that accepts on it. */
typedef struct weft_server_listener {
    int fd;             /* -1 once closed */
    bool unlink_path;   /* the Unix socket's file goes with it */
    weft_future *task;  /* its accept task; NULL until serving starts */
    bool stop;          /* closed: its task ends */
    weft_server_slot *slot;
} weft_server_listener;

/* One connection: its stream and the task running the handler. */
typedef struct weft_server_conn {
    weft_list_node link; /* the slot's conns */
    weft_server_slot *slot;
    weft_stream *stream;
    weft_future *task;
    bool running, aborted; /* the task has started; abort_clients came first */
    uint64_t number;       /* its place among the server's connections, from 1 */
} weft_server_conn;

struct weft_server_slot {
    weft_server *server;
    weft_loop *loop; /* NULL while its thread's loop does not run (lock) */
    bool ran;        /* its loop ran (lock): a slot that never ran has no tasks */
    weft_thread *thread;
    weft_event ready;  /* its thread's loop runs, or could not start */
    int run_status;    /* its thread's weft_run failed with it */
    weft_server_listener *listeners;
    size_t listener_count;
    weft_list conns;
    bool accepting, closed; /* on its loop thread */
    /* close_clients / abort_clients reach this loop later than they are
     * called: they end its connections numbered up to these, the ones
     * there were at the call, not the ones accepted since. */
    atomic_uint_fast64_t hang_up_upto, abort_upto;
};

struct weft_server {
    weft_stream_handler handler;
    void *arg;
    char *path;                 /* the Unix socket's, copied; NULL for TCP */
    int port;                   /* the first listener's */
    size_t max_connections;
    double first_byte_timeout;  /* < 0: none */
    double read_timeout;        /* < 0: none */
    weft_stream_options stream;
    size_t handler_stack_size;
    weft_lock lock;             /* guards what follows, and slots' loop */
    atomic_bool serving, closed;
    bool forever_waiting;       /* a serve_forever waits */
    size_t listeners_open;
    atomic_size_t active;       /* connections, all slots together */
    atomic_uint_fast64_t conn_number; /* connections numbered so far */
    weft_event closed_event;    /* close was called: serve_forever returns */
    weft_event done_event;      /* closed, no listener, no connection */
    unsigned slot_count;
    weft_server_slot slots[];
};

/* On the slot's loop thread: start accepting on its listeners (once), stop
 * (the listeners close as their tasks end), hang up or abort every
 * connection. */
void weft__server_slot_start(weft_server_slot *slot);
void weft__server_slot_close(weft_server_slot *slot);
void weft__server_slot_hang_up(weft_server_slot *slot);
void weft__server_slot_abort(weft_server_slot *slot);

/* A listener or a connection is gone: count it out, and tell wait_closed
 * once the server is closed and nothing is left (server.c). */
void weft__server_listener_gone(weft_server *s);
void weft__server_conn_gone(weft_server *s);

#endif
