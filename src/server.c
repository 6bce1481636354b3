/* SPDX-License-Identifier: MIT */
/* server.c — weft_start_server and the weft_server_* calls of weft/net.h:
 * making the listeners and the server's threads, and reaching the slots
 * (server_internal.h) from whatever thread calls. */
#include "server_internal.h"

#include "coro_internal.h"
#include "lock_internal.h"
#include "weft/status.h"
#include "weft/time.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BACKLOG 4096
#define DEFAULT_MAX_CONNECTIONS 10000
#define DEFAULT_FIRST_BYTE_TIMEOUT 10.0
#define DEFAULT_READ_TIMEOUT 60.0
/* More threads than this is a mistake, not a server. */
#define MAX_THREADS 1024
/* A handler's stack, as weft_spawn allows. */
#define MAX_STACK ((size_t)1 << 30)
/* The addresses one host may listen on. */
#define MAX_ADDRESSES 16

/* ---- what is shared: counts, and wait_closed's event ------------------ */

/* Under the lock.  Once closed with no listener left, no connection can
 * come (only accept tasks add them), so the last one out tells. */
static void tell_if_done(weft_server *s)
{
    if (atomic_load(&s->closed) && s->listeners_open == 0 && atomic_load(&s->active) == 0)
        weft_event_set(&s->done_event);
}

void weft__server_listener_gone(weft_server *s)
{
    weft__lock_take(&s->lock);
    s->listeners_open--;
    tell_if_done(s);
    weft_lock_release(&s->lock);
}

void weft__server_conn_gone(weft_server *s)
{
    weft__lock_take(&s->lock);
    atomic_fetch_sub(&s->active, 1);
    tell_if_done(s);
    weft_lock_release(&s->lock);
}

/* ---- reaching every slot ------------------------------------------------ */

typedef void (*slot_op)(weft_server_slot *slot);

static void slot_op_start(void *slot) { weft__server_slot_start(slot); }
static void slot_op_close(void *slot) { weft__server_slot_close(slot); }
static void slot_op_hang_up(void *slot) { weft__server_slot_hang_up(slot); }
static void slot_op_abort(void *slot) { weft__server_slot_abort(slot); }

/* Run op on each slot's loop thread: at once on the caller's own loop,
 * else through the loop's inbox.  A slot whose thread never ran a loop
 * has only listeners nobody watched: closing them here is safe. */
static void for_each_slot(weft_server *s, slot_op op, weft_callback_fn posted)
{
    weft_loop *here = weft_get_running_loop();
    for (unsigned i = 0; i < s->slot_count; i++) {
        weft_server_slot *slot = &s->slots[i];
        weft__lock_take(&s->lock);
        weft_loop *loop = slot->loop;
        bool never_ran = !loop && !slot->ran;
        if (loop && loop != here &&
            weft_loop_call_soon_threadsafe(loop, posted, slot) != WEFT_OK)
            loop = NULL; /* its loop is ending: nothing left there to reach */
        weft_lock_release(&s->lock);
        if ((loop && loop == here) || (never_ran && op == weft__server_slot_close))
            op(slot);
    }
}

/* ---- options ----------------------------------------------------------------- */

static bool bad_timeout(double t) { return isnan(t); }

/* 0: the default; < 0 or +inf: none (-1). */
static double timeout_or(double t, double fallback)
{
    if (t == 0)
        return fallback;
    return t < 0 || isinf(t) ? -1 : t;
}

static int check_options(const weft_server_options *o)
{
    if (o->backlog < 0 || o->threads > MAX_THREADS || bad_timeout(o->first_byte_timeout) ||
        bad_timeout(o->read_timeout) || (o->path && !o->path[0]) ||
        o->handler_stack_size > MAX_STACK || weft__stream_check_options(&o->stream) != WEFT_OK)
        return WEFT_EINVAL;
    if (o->threads == 0 && !weft_current_task())
        return WEFT_ESTATE; /* serving on the caller's loop needs one */
    return WEFT_OK;
}

static weft_server *server_new(weft_stream_handler handler, void *arg,
                               const weft_server_options *o)
{
    unsigned slots = o->threads ? o->threads : 1;
    weft_server *s = calloc(1, sizeof *s + slots * sizeof s->slots[0]);
    if (!s)
        return NULL;
    s->handler = handler;
    s->arg = arg;
    s->max_connections = o->max_connections ? o->max_connections : DEFAULT_MAX_CONNECTIONS;
    s->first_byte_timeout = timeout_or(o->first_byte_timeout, DEFAULT_FIRST_BYTE_TIMEOUT);
    s->read_timeout = timeout_or(o->read_timeout, DEFAULT_READ_TIMEOUT);
    s->stream = o->stream;
    s->handler_stack_size = o->handler_stack_size;
    weft_lock_init(&s->lock);
    weft_event_init(&s->closed_event);
    weft_event_init(&s->done_event);
    s->slot_count = slots;
    for (unsigned i = 0; i < slots; i++) {
        s->slots[i].server = s;
        weft__list_init(&s->slots[i].conns);
        weft_event_init(&s->slots[i].ready);
    }
    if (o->path && !(s->path = weft__coro_copy_of(o->path))) {
        free(s);
        return NULL;
    }
    return s;
}

/* ---- listening ------------------------------------------------------------- */

typedef struct addresses {
    weft_address list[MAX_ADDRESSES];
    size_t count;
} addresses;

/* Where to listen: the Unix path, or every distinct address host has. */
static int resolve(const weft_server_options *o, addresses *out)
{
    if (o->path) {
        out->count = 1;
        return weft__pf_unix_address(o->path, &out->list[0]);
    }
    const char *port = o->port && o->port[0] ? o->port : "0";
    size_t n = 0;
    int rc = weft__getaddrinfo_until(o->host, port, AF_UNSPEC, SOCK_STREAM, true, out->list,
                                     MAX_ADDRESSES, &n, WEFT_NO_DEADLINE);
    out->count = 0;
    for (size_t i = 0; rc == WEFT_OK && i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < out->count && !seen; j++)
            seen = out->list[j].len == out->list[i].len &&
                   !memcmp(&out->list[j].storage, &out->list[i].storage, out->list[i].len);
        if (!seen)
            out->list[out->count++] = out->list[i];
    }
    return rc;
}

/* A failure that means this address cannot be had here at all (a family
 * the host lacks, such as IPv6 in some containers), not that it is taken:
 * skipped when another address of the host listens, as asyncio does. */
static bool unavailable(int rc)
{
    return rc == WEFT_EOS || rc == WEFT_EINVAL;
}

static int listen_on(weft_server *s, weft_server_slot *slot, weft_address *a, int backlog,
                     bool reuse_port)
{
    weft_server_listener *l = &slot->listeners[slot->listener_count];
    int fd = -1, rc;
    if (s->path && slot != &s->slots[0]) /* a Unix path binds once: the others watch a copy */
        rc = weft__pf_sock_dup(s->slots[0].listeners[0].fd, &fd);
    else
        rc = weft__pf_listen((struct sockaddr *)&a->storage, a->len, backlog, reuse_port, &fd);
    if (rc != WEFT_OK)
        return rc;
    if (!s->path && s->port == 0) { /* the first: later ones bind its port */
        weft_address bound;
        bound.len = sizeof bound.storage;
        rc = weft__pf_sockname(fd, false, (struct sockaddr *)&bound.storage, &bound.len);
        if (rc != WEFT_OK) {
            weft__pf_sock_close(fd);
            return rc;
        }
        s->port = weft__pf_address_port((struct sockaddr *)&bound.storage);
    }
    *l = (weft_server_listener){fd, s->path && slot == &s->slots[0], NULL, false, slot};
    slot->listener_count++;
    s->listeners_open++;
    return WEFT_OK;
}

/* Every slot listens on every address (threads: SO_REUSEPORT, so the
 * kernel spreads the connections among them). */
static int listen_all(weft_server *s, const weft_server_options *o)
{
    addresses a;
    int rc = resolve(o, &a);
    if (rc != WEFT_OK)
        return rc;
    int backlog = o->backlog ? o->backlog : DEFAULT_BACKLOG;
    bool reuse_port = o->threads > 0;
    for (unsigned i = 0; i < s->slot_count; i++) {
        weft_server_slot *slot = &s->slots[i];
        if (!(slot->listeners = calloc(a.count, sizeof *slot->listeners)))
            return WEFT_ENOMEM;
        for (size_t k = 0; k < a.count; k++) {
            if (s->port)
                weft__pf_address_set_port((struct sockaddr *)&a.list[k].storage, s->port);
            rc = listen_on(s, slot, &a.list[k], backlog, reuse_port);
            if (rc != WEFT_OK && (!unavailable(rc) || a.count == 1))
                return rc;
        }
        if (slot->listener_count == 0)
            return rc;
    }
    return WEFT_OK;
}

/* ---- the server's threads --------------------------------------------------- */

/* A thread's main: serve until the whole server is done. */
static void *slot_main(void *arg)
{
    weft_server_slot *slot = arg;
    weft_server *s = slot->server;
    weft__lock_take(&s->lock);
    slot->loop = weft_get_running_loop();
    slot->ran = true;
    bool serving = atomic_load(&s->serving), closed = atomic_load(&s->closed);
    weft_lock_release(&s->lock);
    weft_event_set(&slot->ready);
    if (closed)
        weft__server_slot_close(slot);
    else if (serving)
        weft__server_slot_start(slot);
    while (weft_event_wait(&s->done_event) != WEFT_OK) {
        /* nothing cancels this task but its loop's end, which waits for it */
    }
    weft__lock_take(&s->lock);
    slot->loop = NULL;
    weft_lock_release(&s->lock);
    return NULL;
}

static void *slot_thread(void *arg)
{
    weft_server_slot *slot = arg;
    int rc = weft_run(slot_main, slot, NULL, NULL);
    if (rc != WEFT_OK && !weft_event_is_set(&slot->ready)) {
        slot->run_status = rc;
        weft_event_set(&slot->ready);
    }
    return NULL;
}

static int start_threads(weft_server *s)
{
    weft_thread_options options = {"weft-server", WEFT_DAEMON, 0};
    int rc = WEFT_OK;
    for (unsigned i = 0; i < s->slot_count && rc == WEFT_OK; i++) {
        weft_server_slot *slot = &s->slots[i];
        rc = weft_thread_new(&slot->thread, slot_thread, slot, &options);
        if (rc == WEFT_OK && (rc = weft_thread_start(slot->thread)) != WEFT_OK) {
            weft_thread_free(slot->thread);
            slot->thread = NULL;
        }
    }
    for (unsigned i = 0; i < s->slot_count; i++) {
        weft_server_slot *slot = &s->slots[i];
        if (!slot->thread)
            continue;
        while (weft_event_wait(&slot->ready) != WEFT_OK) {
            /* the thread sets it soon whatever happens: wait it out */
        }
        if (rc == WEFT_OK && slot->run_status != WEFT_OK)
            rc = slot->run_status;
    }
    return rc == WEFT_OK || rc == WEFT_ENOMEM ? rc : WEFT_EAGAIN;
}

/* ---- the public calls ------------------------------------------------------ */

int weft_start_server(weft_stream_handler handler, void *arg, const weft_server_options *options,
                      weft_server **server)
{
    if (server)
        *server = NULL;
    if (!handler || !options || !server)
        return WEFT_EINVAL;
    int rc = check_options(options);
    if (rc != WEFT_OK)
        return rc;
    weft_server *s = server_new(handler, arg, options);
    if (!s)
        return WEFT_ENOMEM;
    atomic_store(&s->serving, !options->delay_start);
    rc = listen_all(s, options);
    if (rc == WEFT_OK && options->threads)
        rc = start_threads(s);
    if (rc == WEFT_OK && !options->threads) {
        s->slots[0].loop = weft_get_running_loop();
        s->slots[0].ran = true;
        if (!options->delay_start)
            weft__server_slot_start(&s->slots[0]);
    }
    if (rc != WEFT_OK) {
        atomic_store(&s->serving, false);
        weft_server_free(s);
        return rc;
    }
    *server = s;
    return WEFT_OK;
}

int weft_server_port(const weft_server *server) { return server ? server->port : 0; }

int weft_server_start_serving(weft_server *server)
{
    if (!server)
        return WEFT_EINVAL;
    weft__lock_take(&server->lock);
    bool closed = atomic_load(&server->closed);
    if (!closed)
        atomic_store(&server->serving, true);
    weft_lock_release(&server->lock);
    if (closed)
        return WEFT_ESTATE;
    for_each_slot(server, weft__server_slot_start, slot_op_start);
    return WEFT_OK;
}

int weft_server_serve_forever(weft_server *server)
{
    if (!server)
        return WEFT_EINVAL;
    weft__lock_take(&server->lock);
    bool refused = atomic_load(&server->closed) || server->forever_waiting;
    if (!refused)
        server->forever_waiting = true;
    weft_lock_release(&server->lock);
    if (refused) /* closed already, or another serve_forever waits */
        return WEFT_ESTATE;
    int rc = weft_server_start_serving(server);
    if (rc == WEFT_OK)
        rc = weft_event_wait(&server->closed_event);
    if (rc == WEFT_ECANCELLED)
        weft_server_close(server);
    weft__lock_take(&server->lock);
    server->forever_waiting = false;
    weft_lock_release(&server->lock);
    return rc;
}

bool weft_server_is_serving(const weft_server *server)
{
    return server && atomic_load(&server->serving) && !atomic_load(&server->closed);
}

size_t weft_server_connections(const weft_server *server)
{
    return server ? atomic_load(&server->active) : 0;
}

void weft_server_close(weft_server *server)
{
    if (!server)
        return;
    weft__lock_take(&server->lock);
    bool was = atomic_exchange(&server->closed, true);
    atomic_store(&server->serving, false);
    tell_if_done(server);
    weft_lock_release(&server->lock);
    if (was)
        return;
    weft_event_set(&server->closed_event);
    for_each_slot(server, weft__server_slot_close, slot_op_close);
}

/* Make each slot's bound at least upto. */
static void raise_bounds(weft_server *s, bool abort, uint64_t upto)
{
    for (unsigned i = 0; i < s->slot_count; i++) {
        atomic_uint_fast64_t *bound = abort ? &s->slots[i].abort_upto : &s->slots[i].hang_up_upto;
        uint_fast64_t was = atomic_load(bound);
        while (was < upto && !atomic_compare_exchange_weak(bound, &was, upto)) {
        }
    }
}

void weft_server_close_clients(weft_server *server)
{
    if (!server)
        return;
    raise_bounds(server, false, atomic_load(&server->conn_number));
    for_each_slot(server, weft__server_slot_hang_up, slot_op_hang_up);
}

/* Abort the connections numbered up to upto. */
static void abort_upto(weft_server *s, uint64_t upto)
{
    raise_bounds(s, true, upto);
    for_each_slot(s, weft__server_slot_abort, slot_op_abort);
}

void weft_server_abort_clients(weft_server *server)
{
    if (server)
        abort_upto(server, atomic_load(&server->conn_number));
}

int weft_server_wait_closed(weft_server *server, double timeout)
{
    if (!server || isnan(timeout))
        return WEFT_EINVAL;
    return weft_event_wait_timeout(&server->done_event, timeout);
}

static void server_destroy(weft_server *s)
{
    for (unsigned i = 0; i < s->slot_count; i++) {
        weft_server_slot *slot = &s->slots[i];
        for (size_t k = 0; k < slot->listener_count; k++)
            weft_future_release(slot->listeners[k].task);
        free(slot->listeners);
        weft_event_destroy(&slot->ready);
    }
    weft_event_destroy(&s->closed_event);
    weft_event_destroy(&s->done_event);
    weft_lock_destroy(&s->lock);
    free(s->path);
    free(s);
}

static bool forever_waits(weft_server *s)
{
    weft__lock_take(&s->lock);
    bool waits = s->forever_waiting;
    weft_lock_release(&s->lock);
    return waits;
}

void weft_server_free(weft_server *server)
{
    if (!server)
        return;
    weft_server_close(server);
    abort_upto(server, UINT64_MAX); /* also those a loop accepts before it sees the close */
    /* Freeing before the last connection ended would pull its records
     * from under it: wait, whatever cancellation asks meanwhile. */
    while (weft_server_wait_closed(server, WEFT_FOREVER) != WEFT_OK) {
    }
    /* A serve_forever woken by the close (on another thread or task) still
     * takes the lock on its way out: let it leave first. */
    while (forever_waits(server))
        weft_sleep(0.001);
    for (unsigned i = 0; i < server->slot_count; i++) {
        weft_thread *t = server->slots[i].thread;
        if (t) {
            while (weft_thread_join(t, NULL) == WEFT_ECANCELLED) {
            }
            weft_thread_free(t);
        }
    }
    server_destroy(server);
}
