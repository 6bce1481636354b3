/* SPDX-License-Identifier: MIT */
/* weft/mpi.h — the executor over MPI: the optional weft-mpi library.
 * Python: mpi4py.futures.MPIPoolExecutor.
 *
 *     static weft_bytes *square(const void *data, size_t size) { ... }
 *
 *     int main(int argc, char **argv)
 *     {
 *         weft_mpi_register_bytes("square", square);  // in every rank
 *         weft_mpi_serve_or_run(&argc, &argv);        // ranks > 0 serve here
 *         weft_executor *pool;
 *         weft_mpi_pool_new(&pool, NULL);             // MPIPoolExecutor()
 *         weft_future *f;
 *         weft_mpi_submit_bytes(pool, square, "7", 1, &f);
 *         const weft_bytes *out;
 *         weft_future_result_bytes(f, &out);          // owned by f
 *         ...
 *     }
 *
 *     mpiexec -n 4 ./prog        # rank 0 runs main, ranks 1-3 run tasks
 *
 * An MPI pool is a weft_executor (weft/executor.h): weft_executor_submit,
 * _submit_timeout, map, shutdown, free, stats, weft_wait and as_completed
 * work on it as on the thread and process pools, and its futures are plain
 * weft_futures.  MPI (Open MPI, MPICH) launches the ranks, places them and
 * carries the bytes; weft adds the pool on top.  Link with weft-mpi
 * (pkg-config weft-mpi, CMake weft::weft-mpi); this header needs no MPI
 * header of its own.
 *
 * Tasks are named.  A function pointer means nothing in another program
 * image, so every rank registers the same functions under the same names
 * before weft_mpi_serve_or_run, and a task names its function: either a
 * bytes function (weft_bytes_fn: the argument and the result are bytes, as
 * with weft_process_pool_submit_bytes) or a plain task (weft_task_fn) whose
 * argument and result cross by value, as numbers (weft_executor_submit and
 * weft_executor_map with a registered function).
 *
 * Crashes stay in their task (unless run_in_rank is set: see the
 * options).  By default each serving rank runs its tasks in a weft
 * process pool of its own (weft/process_pool.h), so a task that crashes,
 * aborts or exits kills a forked child, not the rank: its future fails
 * with WEFT_EBROKEN and a message naming the rank and the signal, and the
 * rank carries on.  task_timeout and cancelling a running task work as in
 * the process pool (the child is killed: WEFT_ETIMEDOUT, WEFT_ECANCELLED).
 * A whole rank that dies is another matter: Open MPI's launcher then ends
 * the whole job (its default; every process gets SIGTERM), so the program
 * ends with an error status instead of waiting forever.  Where the MPI
 * library reports an error to weft instead, every future the pool has
 * running or queued fails with WEFT_EBROKEN and the pool is broken.
 *
 * Threads: the MPI calls are weft's own, made under one lock, so MPI needs
 * only MPI_THREAD_SERIALIZED; weft_mpi_serve_or_run asks for
 * MPI_THREAD_MULTIPLE.  A program that initializes MPI itself must ask for
 * MPI_THREAD_MULTIPLE if it makes MPI calls of its own while a pool runs.
 */
#ifndef WEFT_MPI_H
#define WEFT_MPI_H

#include "weft/bytes.h"
#include "weft/executor.h"
#include "weft/export.h"
#include "weft/future.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest name a function may be registered under. */
#define WEFT_MPI_NAME_MAX 63

/* The most bytes a task's argument or result may hold: one MPI message
 * carries at most INT_MAX bytes, the header included. */
#define WEFT_MPI_BYTES_MAX ((size_t)0x7fff0000)

/* Register fn under `name` in this rank, for tasks that take and return
 * bytes (weft_mpi_submit_bytes).  Do it in every rank, before
 * weft_mpi_serve_or_run (a serving rank enters its loop there).  WEFT_OK;
 * WEFT_EINVAL (NULL or empty name, a name longer than WEFT_MPI_NAME_MAX,
 * NULL fn, or a name or function registered already); WEFT_ENOMEM.
 * Python: none (mpi4py pickles functions by their module and name). */
WEFT_API int weft_mpi_register_bytes(const char *name, weft_bytes_fn fn);

/* Register a plain task under `name`: weft_executor_submit(pool, fn, arg)
 * and weft_executor_map on an MPI pool run it in a serving rank with arg
 * passed by value, and its result comes back by value (as numbers: a
 * pointer means nothing in the client).  Statuses as
 * weft_mpi_register_bytes. */
WEFT_API int weft_mpi_register_task(const char *name, weft_task_fn fn);

/* The first call of an MPI program, at the top of main (after the
 * registrations): initializes MPI (with MPI_THREAD_MULTIPLE) unless the
 * program did already, then decides this process's part.
 *   - Rank 0 of an `mpiexec -n N` job, or a program started on its own:
 *     returns WEFT_OK; run the program, whose MPI pools use ranks 1..N-1.
 *   - Any other rank, and every worker spawned by a pool (spawn option):
 *     serves tasks until the client ends, then finalizes MPI and exits the
 *     process with status 0.  It never returns.
 * In the client MPI is finalized at exit, after every MPI pool has been
 * shut down (queued tasks complete) and the serving ranks told to exit;
 * weft_mpi_finalize does it sooner.  A serving rank that cannot go on (an
 * MPI call failed) calls MPI_Abort: the job ends with an error rather
 * than waiting forever.  argc and argv may be NULL.  WEFT_OK;
 * WEFT_ESTATE (called twice, or after weft_mpi_finalize); WEFT_EBROKEN (MPI
 * could not be initialized, or gives less than MPI_THREAD_SERIALIZED);
 * WEFT_ENOMEM.  Python: `mpiexec -n N python -m mpi4py.futures prog.py`. */
WEFT_API int weft_mpi_serve_or_run(int *argc, char ***argv);

/* Shut every MPI pool down (waiting for their tasks), tell the serving
 * ranks to exit and finalize MPI (if weft initialized it), now rather than
 * at exit.  Afterwards no MPI pool can be made.  A program that
 * initialized MPI itself calls this before its own MPI_Finalize (which
 * would otherwise wait for ranks that are still serving).  WEFT_OK (also
 * when MPI was never initialized, or this was done already); WEFT_ESTATE
 * from a serving rank, or from a done-callback of an MPI pool's future
 * (it runs on a thread the shutdown would wait for). */
WEFT_API int weft_mpi_finalize(void);

/* The number of ranks in this job (MPI_COMM_WORLD's size) and this
 * process's rank; 1 and 0 before weft_mpi_serve_or_run. */
WEFT_API int weft_mpi_world_size(void);
WEFT_API int weft_mpi_world_rank(void);

/* MPI pool options; a zeroed struct (or NULL) serves tasks on the other
 * ranks of this job, one worker process each. */
typedef struct weft_mpi_pool_options {
    long spawn;              /* 0: use ranks 1..N-1 of the job (N from
                                mpiexec; at least 2); > 0: start this many
                                new worker processes with MPI_Comm_spawn
                                (Python: MPIPoolExecutor(max_workers)) */
    const char *command;     /* what spawned workers run: NULL for this
                                program (/proc/self/exe), which must call
                                weft_mpi_serve_or_run and register the same
                                functions */
    char *const *argv;       /* its arguments, NULL-terminated (NULL: none) */
    long workers_per_rank;   /* 0: 1; the process-pool workers of each rank */
    long max_in_flight;      /* 0: 4 per worker; the most tasks sent to one
                                rank and not yet answered (sent tasks wait
                                there, so a round trip never leaves a worker
                                idle) */
    long max_pending;        /* 0: unbounded; else at most this many tasks
                                (up to INT32_MAX) wait in the client to be
                                sent: submit waits for room
                                (weft_executor_submit_timeout: WEFT_EFULL
                                when none comes in time; from a done-callback
                                of the pool's futures, WEFT_EFULL at once) */
    double task_timeout;     /* 0: none; as the process pool's */
    long max_tasks_per_child; /* 0: no limit; as the process pool's */
    size_t max_memory;       /* 0: none; as the process pool's */
    bool run_in_rank;        /* false: each rank runs tasks in a process pool
                                of its own (a crash fails one task); true:
                                the rank runs them itself, one at a time, as
                                mpi4py.futures does: no process hop (a no-op
                                round trip of a few microseconds instead of
                                tens), but a task that crashes ends the job,
                                and a sent task cannot be cancelled or timed
                                out; needs workers_per_rank 0 or 1 and no
                                task_timeout, max_tasks_per_child or
                                max_memory (else WEFT_EINVAL) */
} weft_mpi_pool_options;

/* Create an MPI pool: greet every serving rank (each checks that it has
 * every function this rank registered, under the same name and kind, and
 * starts its process pool unless run_in_rank) and return once all have
 * answered.  Only one
 * pool at a time can use the job's ranks (spawned pools have their own).
 * A program that did not call weft_mpi_serve_or_run gets MPI initialized
 * here (spawning needs nothing more).  WEFT_OK; WEFT_EINVAL (NULL executor,
 * negative options, NaN timeout, spawn 0 in a job of one rank, a serving
 * rank that lacks a function or whose process pool refused the options,
 * run_in_rank with workers_per_rank above 1, task_timeout,
 * max_tasks_per_child or max_memory);
 * WEFT_ESTATE (the job's ranks are in use by another
 * pool, called in a serving rank, or after weft_mpi_finalize); WEFT_EAGAIN
 * (MPI_Comm_spawn failed); WEFT_EBROKEN (MPI could not be initialized or
 * reported an error); WEFT_ENOMEM.  *executor is NULL on every status but
 * WEFT_OK.  Python: MPIPoolExecutor(max_workers, ...). */
WEFT_API int weft_mpi_pool_new(weft_executor **executor, const weft_mpi_pool_options *options);

/* Submit the bytes function fn (registered with weft_mpi_register_bytes)
 * on a copy of data[0..size): the future's result is a weft_bytes (NULL if
 * fn returned NULL), read with weft_future_result_bytes and owned by the
 * future.  Waits for room as weft_executor_submit does.  WEFT_OK;
 * WEFT_ESHUTDOWN; WEFT_EBROKEN; WEFT_EINVAL (NULL executor or fn, fn not
 * registered, data NULL with size > 0, size over WEFT_MPI_BYTES_MAX, not
 * an MPI pool); WEFT_ENOMEM.
 * *future is NULL on every status but WEFT_OK.
 * Python: executor.submit(fn, data) with bytes. */
WEFT_API int weft_mpi_submit_bytes(weft_executor *executor, weft_bytes_fn fn, const void *data,
                                   size_t size, weft_future **future);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_MPI_H */
