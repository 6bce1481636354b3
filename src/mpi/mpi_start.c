/* SPDX-License-Identifier: MIT */
/* mpi_start.c — MPI in this process: initializing it, deciding whether
 * this process is the client or serves, the job's ranks for a pool, the
 * live pools, and finalizing at the end (or at exit). */
#define _POSIX_C_SOURCE 200809L /* readlink, getpid, clock_gettime */
#include "mpi_internal.h"

#include "weft/status.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

weft_lock weft__mpi_lock = WEFT_LOCK_INIT;
_Thread_local bool weft__mpi_on_pool_thread;

/* Guards g.  Taken before weft__mpi_lock where both are held (MPI calls
 * made while deciding this process's part); never taken under it. */
static weft_lock state_lock = WEFT_LOCK_INIT;
static struct {
    bool initialized;     /* MPI is usable by weft */
    bool we_initialized;  /* weft called MPI_Init_thread: it finalizes */
    bool started;         /* weft_mpi_serve_or_run was called */
    bool serving;         /* this process serves */
    bool finalizing, finalized;
    _Atomic bool world_taken; /* given back under weft__mpi_lock: no state_lock */
    int making;           /* pools being made (weft_mpi_pool_new under way) */
    MPI_Comm world;       /* weft's duplicate of MPI_COMM_WORLD, or MPI_COMM_NULL */
    int rank, size;
    pid_t pid;
    weft_list live;       /* struct mpi_live */
    struct mpi_live *finalizing_pool; /* the one weft_mpi_finalize is shutting down */
    bool exit_handler;    /* finalize_at_exit is registered */
} g = {.size = 1, .world = MPI_COMM_NULL, .live = WEFT_LIST_INIT(g.live)};

static void finalize_at_exit(void);

/* Initialize MPI, or find it initialized (held: state_lock). */
static int init_locked(int *argc, char ***argv)
{
    if (g.finalizing || g.finalized)
        return WEFT_ESTATE;
    if (g.initialized)
        return WEFT_OK;
    int flag = 0, provided = MPI_THREAD_SINGLE;
    MPI_Finalized(&flag);
    if (flag)
        return WEFT_ESTATE;
    MPI_Initialized(&flag);
    if (!flag) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
            return WEFT_EBROKEN;
        g.we_initialized = true;
    } else {
        MPI_Query_thread(&provided);
    }
    if (provided < MPI_THREAD_SERIALIZED)
        return WEFT_EBROKEN;
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    g.pid = getpid();
    g.initialized = true;
    if (!g.exit_handler) /* pools drain and MPI is finalized at exit */
        g.exit_handler = atexit(finalize_at_exit) == 0;
    return g.exit_handler ? WEFT_OK : WEFT_ENOMEM;
}

int weft__mpi_ensure_init(void)
{
    weft_lock_acquire(&state_lock);
    int rc = g.serving ? WEFT_ESTATE : init_locked(NULL, NULL);
    weft_lock_release(&state_lock);
    return rc;
}

int weft_mpi_world_size(void) { return g.size; }
int weft_mpi_world_rank(void) { return g.rank; }

/* Serve, then end the process as a serving rank ends: all of MPI's work
 * done, status 0. */
static _Noreturn void serve_and_exit(MPI_Comm comm, bool spawned)
{
    if (!weft__mpi_serve(comm, 0, spawned)) /* it cannot go on: end the job, not hang it */
        MPI_Abort(comm, 1);
    if (spawned)
        MPI_Comm_disconnect(&comm);
    else
        MPI_Comm_free(&comm);
    MPI_Finalize();
    exit(0);
}

static void finalize_at_exit(void)
{
    if (getpid() == g.pid) /* not in a forked child of the client */
        weft_mpi_finalize();
}

int weft_mpi_serve_or_run(int *argc, char ***argv)
{
    weft_lock_acquire(&state_lock);
    int rc = g.started || g.serving ? WEFT_ESTATE : init_locked(argc, argv);
    MPI_Comm parent = MPI_COMM_NULL;
    if (rc == WEFT_OK) {
        weft_lock_acquire(&weft__mpi_lock); /* a spawned pool may run already */
        g.started = true;
        MPI_Comm_get_parent(&parent);
        if (parent != MPI_COMM_NULL) {
            g.serving = true;
        } else if (MPI_Comm_dup(MPI_COMM_WORLD, &g.world) != MPI_SUCCESS) {
            rc = WEFT_EBROKEN; /* every rank of the job calls this: a collective call */
        } else {
            MPI_Comm_set_errhandler(g.world, MPI_ERRORS_RETURN);
            g.serving = g.rank != 0;
        }
        weft_lock_release(&weft__mpi_lock);
    }
    weft_lock_release(&state_lock);
    if (rc != WEFT_OK)
        return rc;
    if (parent != MPI_COMM_NULL) {
        MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
        serve_and_exit(parent, true);
    }
    if (g.serving)
        serve_and_exit(g.world, false);
    return WEFT_OK;
}

int weft__mpi_take_world(MPI_Comm *comm)
{
    weft_lock_acquire(&state_lock);
    int rc = g.serving || g.finalizing || g.finalized ? WEFT_ESTATE
             : g.world == MPI_COMM_NULL             ? (g.size > 1 ? WEFT_ESTATE : WEFT_EINVAL)
             : g.size < 2                           ? WEFT_EINVAL
             : g.world_taken                        ? WEFT_ESTATE
                                                    : WEFT_OK;
    if (rc == WEFT_OK) {
        g.world_taken = true;
        *comm = g.world;
    }
    weft_lock_release(&state_lock);
    return rc;
}

void weft__mpi_give_world(void) { atomic_store(&g.world_taken, false); }

int weft__mpi_making_begin(void)
{
    weft_lock_acquire(&state_lock);
    int rc = g.finalizing || g.finalized ? WEFT_ESTATE : WEFT_OK;
    g.making += rc == WEFT_OK;
    weft_lock_release(&state_lock);
    return rc;
}

void weft__mpi_making_end(void)
{
    weft_lock_acquire(&state_lock);
    g.making--;
    weft_lock_release(&state_lock);
}

int weft__mpi_live_add(struct mpi_live *l)
{
    weft_lock_acquire(&state_lock);
    int rc = g.finalizing || g.finalized ? WEFT_ESTATE : WEFT_OK;
    if (rc == WEFT_OK) {
        weft__list_push_back(&g.live, &l->link);
    }
    weft_lock_release(&state_lock);
    return rc;
}

void weft__mpi_live_remove(struct mpi_live *l, bool wait)
{
    weft_lock_acquire(&state_lock);
    while (wait && g.finalizing_pool == l) { /* finalize still uses it */
        weft_lock_release(&state_lock);
        sched_yield();
        weft_lock_acquire(&state_lock);
    }
    weft__list_remove(&l->link); /* (not linked: nothing) */
    weft_lock_release(&state_lock);
}

/* Shut down each live pool, waiting; each removes itself when its ranks
 * are released. */
static void shut_down_live_pools(void)
{
    for (;;) {
        weft_lock_acquire(&state_lock);
        weft_list_node *first = weft__list_first(&g.live);
        struct mpi_live *l = first ? WEFT_LIST_ENTRY(first, struct mpi_live, link) : NULL;
        g.finalizing_pool = l; /* freeing it waits for us */
        weft_lock_release(&state_lock);
        if (!l)
            return;
        l->shutdown(l); /* removes l */
        weft_lock_acquire(&state_lock);
        g.finalizing_pool = NULL;
        weft_lock_release(&state_lock);
    }
}

/* A pool still being made (spawning, greeting) makes MPI calls until it
 * is live or has given up (it cannot become live once finalizing began). */
static void wait_for_pools_being_made(void)
{
    weft_lock_acquire(&state_lock);
    while (g.making) {
        weft_lock_release(&state_lock);
        sched_yield();
        weft_lock_acquire(&state_lock);
    }
    weft_lock_release(&state_lock);
}

int weft_mpi_finalize(void)
{
    weft_lock_acquire(&state_lock);
    int rc = g.serving || weft__mpi_on_pool_thread ? WEFT_ESTATE : WEFT_OK;
    bool first = rc == WEFT_OK && !g.finalizing && !g.finalized;
    bool initialized = g.initialized;
    if (first)
        g.finalizing = true; /* no pool can be made from now on */
    if (first && !initialized)
        g.finalized = true;
    weft_lock_release(&state_lock);
    if (!first || !initialized)
        return rc;
    wait_for_pools_being_made();
    shut_down_live_pools();
    int done = 0;
    weft_lock_acquire(&weft__mpi_lock);
    MPI_Finalized(&done); /* by a program that initialized MPI itself */
    if (!done && g.world != MPI_COMM_NULL) {
        for (int r = 1; r < g.size; r++)
            MPI_Send(NULL, 0, MPI_BYTE, r, TAG_EXIT, g.world);
        MPI_Comm_free(&g.world);
    }
    if (!done && g.we_initialized)
        MPI_Finalize();
    weft_lock_release(&weft__mpi_lock);
    weft_lock_acquire(&state_lock);
    g.finalized = true;
    weft_lock_release(&state_lock);
    return WEFT_OK;
}
