/* SPDX-License-Identifier: MIT */
/* mpi_client.c — making a client's MPI pool: its ranks (the job's, or
 * workers spawned with MPI_Comm_spawn), its in-flight slots, the greeting
 * that tells each rank the options and the functions; choosing a rank for
 * a task; releasing the ranks at the end. */
#define _POSIX_C_SOURCE 200809L /* readlink, getpid, clock_gettime */
#include "mpi_client.h"

#include "weft/status.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long the greeting waits for a rank's answer: a rank starts its
 * process pool first (a fork per worker), slow under sanitizers. */
#define GREETING_TIMEOUT 120.0

/* This program's path, for MPI_Comm_spawn (whose launcher is another
 * process: /proc/self/exe would name the launcher). */
static int own_path(char *path, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", path, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return WEFT_EINVAL;
    path[n] = '\0';
    return WEFT_OK;
}

static int spawn_workers(struct mpi_pool *p, const weft_mpi_pool_options *o)
{
    char path[PATH_MAX];
    const char *command = o->command;
    if (!command) {
        if (own_path(path, sizeof path) != WEFT_OK)
            return WEFT_EINVAL;
        command = path;
    }
    int *errors = calloc((size_t)o->spawn, sizeof *errors);
    if (!errors)
        return WEFT_ENOMEM;
    weft_lock_acquire(&weft__mpi_lock);
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
    int rc = MPI_Comm_spawn(command, o->argv ? (char **)o->argv : MPI_ARGV_NULL, (int)o->spawn,
                            MPI_INFO_NULL, 0, MPI_COMM_SELF, &p->comm, errors);
    weft_lock_release(&weft__mpi_lock);
    bool all = rc == MPI_SUCCESS;
    for (long i = 0; all && i < o->spawn; i++)
        all = errors[i] == MPI_SUCCESS;
    free(errors);
    if (rc != MPI_SUCCESS)
        return WEFT_EAGAIN;
    p->spawned = true; /* those that did start are released with the pool */
    weft_lock_acquire(&weft__mpi_lock);
    MPI_Comm_set_errhandler(p->comm, MPI_ERRORS_RETURN);
    weft_lock_release(&weft__mpi_lock);
    return all ? WEFT_OK : WEFT_EAGAIN;
}

/* The greeting for every rank: the options, then the functions. */
static void *hello_message(const struct mpi_pool *p, const weft_mpi_pool_options *o,
                           size_t *len)
{
    size_t n = weft__mpi_functions();
    struct wire_name *names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        struct mpi_function f = weft__mpi_function_at(i);
        names[i].kind = (uint32_t)f.kind;
        strcpy(names[i].name, f.name);
    }
    struct wire_hello h = {.epoch = p->epoch,
                           .nfunctions = (uint32_t)n,
                           .workers = (uint32_t)p->workers_per_rank,
                           .in_rank = o->run_in_rank,
                           .max_tasks_per_child = o->max_tasks_per_child,
                           .max_memory = o->max_memory,
                           .task_timeout = o->task_timeout};
    void *msg = weft__mpi_message(&h, sizeof h, names, n * sizeof *names, len);
    free(names);
    return msg;
}

/* Each rank's answer to this pool's greeting (an answer left from an
 * earlier greeting that timed out is skipped). */
static int read_answer(struct mpi_pool *p, size_t i, struct wire_ready *ready)
{
    for (;;) {
        struct mpi_message m;
        int rc = weft__mpi_receive_wait(p->comm, p->ranks[i], TAG_READY, GREETING_TIMEOUT, &m);
        if (rc != WEFT_OK)
            return rc == WEFT_ETIMEDOUT ? WEFT_EBROKEN : rc; /* it cannot serve */
        *ready = (struct wire_ready){.code = WEFT_EBROKEN};
        if (m.len >= sizeof *ready)
            memcpy(ready, m.buf, sizeof *ready);
        free(m.buf);
        if (ready->epoch == p->epoch)
            return WEFT_OK;
    }
}

static int greet(struct mpi_pool *p, const weft_mpi_pool_options *o)
{
    size_t len;
    void *hello = hello_message(p, o, &len);
    if (!hello)
        return WEFT_ENOMEM;
    int rc = WEFT_OK;
    for (size_t i = 0; i < p->nranks && rc == WEFT_OK; i++)
        rc = weft__mpi_send_now(p->comm, p->ranks[i], TAG_HELLO, hello, len);
    free(hello);
    int first = rc;
    for (size_t i = 0; i < p->nranks && rc == WEFT_OK; i++) {
        struct wire_ready ready;
        rc = read_answer(p, i, &ready);
        if (rc == WEFT_OK && ready.code != WEFT_OK && first == WEFT_OK)
            first = ready.code; /* the others still answer: read every answer */
    }
    return rc != WEFT_OK ? rc : first;
}

static int make_slots(struct mpi_pool *p)
{
    size_t n = p->nranks * (size_t)p->max_in_flight;
    p->slots = calloc(n, sizeof *p->slots);
    p->generation = calloc(n, sizeof *p->generation);
    p->free_slots = calloc(n, sizeof *p->free_slots);
    p->in_flight_at = calloc(p->nranks, sizeof *p->in_flight_at);
    if (!p->slots || !p->generation || !p->free_slots || !p->in_flight_at)
        return WEFT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        p->free_slots[i] = n - 1 - i; /* slot 0 first */
    p->nfree = n;
    return WEFT_OK;
}

static int find_ranks(struct mpi_pool *p, const weft_mpi_pool_options *o)
{
    int rc = o->spawn ? spawn_workers(p, o) : weft__mpi_take_world(&p->comm);
    if (p->comm == MPI_COMM_NULL)
        return rc;
    int size = 0;
    weft_lock_acquire(&weft__mpi_lock);
    if (p->spawned)
        MPI_Comm_remote_size(p->comm, &size);
    else
        MPI_Comm_size(p->comm, &size);
    weft_lock_release(&weft__mpi_lock);
    int first = p->spawned ? 0 : 1; /* rank 0 of the job is this client */
    p->nranks = (size_t)(size - first);
    p->ranks = calloc(p->nranks ? p->nranks : 1, sizeof *p->ranks);
    if (!p->ranks)
        return WEFT_ENOMEM;
    for (size_t i = 0; i < p->nranks; i++)
        p->ranks[i] = first + (int)i;
    return rc; /* a partial spawn fails, its workers known for the release */
}

static bool options_valid(const weft_mpi_pool_options *o)
{
    return o->spawn >= 0 && o->spawn <= INT_MAX && o->workers_per_rank >= 0 &&
           o->workers_per_rank <= 4096 && o->max_in_flight >= 0 &&
           o->max_in_flight <= 1 << 20 && o->max_pending >= 0 && o->max_pending <= INT32_MAX &&
           o->max_tasks_per_child >= 0 &&
           o->task_timeout >= 0 && o->task_timeout == o->task_timeout &&
           (!o->run_in_rank || (o->workers_per_rank <= 1 && !o->task_timeout &&
                                !o->max_tasks_per_child && !o->max_memory));
}

int weft__mpi_pool_create(struct mpi_pool **out, const weft_mpi_pool_options *o)
{
    *out = NULL;
    if (!options_valid(o))
        return WEFT_EINVAL;
    int rc = weft__mpi_ensure_init();
    if (rc != WEFT_OK)
        return rc;
    struct mpi_pool *p = calloc(1, sizeof *p);
    if (!p)
        return WEFT_ENOMEM;
    weft__list_init(&p->queue);
    weft__list_node_init(&p->live.link);
    static _Atomic uint16_t epochs;
    p->epoch = atomic_fetch_add(&epochs, 1);
    p->comm = MPI_COMM_NULL;
    p->workers_per_rank = o->workers_per_rank ? o->workers_per_rank : 1;
    p->max_in_flight = o->max_in_flight ? o->max_in_flight : 4 * p->workers_per_rank;
    p->max_pending = o->max_pending;
    if (weft_semaphore_init(&p->room, o->max_pending) != WEFT_OK ||
        weft_event_init(&p->wake) != WEFT_OK) {
        free(p);
        return WEFT_ENOMEM;
    }
    rc = find_ranks(p, o);
    if (rc == WEFT_OK)
        rc = make_slots(p);
    if (rc == WEFT_OK && (rc = greet(p, o)) == WEFT_EBROKEN)
        p->broken = true; /* a rank did not answer: disconnecting could wait forever */
    if (rc != WEFT_OK) {
        weft__mpi_pool_abandon(p);
        return rc;
    }
    *out = p;
    return WEFT_OK;
}

void weft__mpi_pool_abandon(struct mpi_pool *p)
{
    weft_lock_acquire(&weft__mpi_lock);
    weft__mpi_pool_release_ranks(p);
    weft_lock_release(&weft__mpi_lock);
    weft__mpi_pool_destroy_records(p);
}

void weft__mpi_pool_destroy_records(struct mpi_pool *p)
{
    free(p->ranks);
    free(p->in_flight_at);
    free(p->slots);
    free(p->generation);
    free(p->free_slots);
    weft_semaphore_destroy(&p->room);
    weft_event_destroy(&p->wake);
    free(p);
}

size_t weft__mpi_pick_rank(const struct mpi_pool *p)
{
    size_t best = (size_t)-1;
    for (size_t i = 0; i < p->nranks; i++)
        if (p->in_flight_at[i] < p->max_in_flight &&
            (best == (size_t)-1 || p->in_flight_at[i] < p->in_flight_at[best]))
            best = i;
    return best;
}

void weft__mpi_pool_release_ranks(struct mpi_pool *p)
{
    if (p->released || p->comm == MPI_COMM_NULL)
        return;
    p->released = true;
    weft__mpi_sends_finish(&p->sends, p->broken);
    /* Even broken: a rank that still listens goes back to waiting (an
     * empty message is sent at once, or fails at once). */
    for (size_t i = 0; i < p->nranks; i++)
        MPI_Send(NULL, 0, MPI_BYTE, p->ranks[i], TAG_RELEASE, p->comm);
    if (p->spawned && !p->broken)
        MPI_Comm_disconnect(&p->comm); /* broken, it could wait forever: left */
    else if (!p->spawned)
        weft__mpi_give_world();
    p->comm = MPI_COMM_NULL;
}
