/* SPDX-License-Identifier: MIT */
/* lifecycle.h — the registry of what each module must do around fork()
 * and at normal process exit (layer 2, "base").
 *
 * Each module that keeps process-wide state gives the registry one
 * statically allocated record: a fork hook (take its global lock before a
 * fork, release it in the parent, make its state right for the one-thread
 * child) and exit hooks.  The record carries the module's rank, so the
 * order of the hooks is fixed by the layers, never by which module the
 * program happened to use first.  The registry installs the platform's
 * fork and exit handlers once, and calls weft__pf_atfork itself, below
 * every module.
 */
#ifndef WEFT_LIFECYCLE_H
#define WEFT_LIFECYCLE_H

#include <stdatomic.h>
#include <stdbool.h>

/* The phases a fork hook is called in. */
enum { WEFT_FORK_PREPARE, WEFT_FORK_PARENT, WEFT_FORK_CHILD };

/* The modules with hooks, lowest first.
 *
 * Fork: prepare runs from the highest rank down, so that a module above
 * takes its lock before the locks of the modules below, in the order its
 * own operations nest them (e.g. the executors' exit shutdown runs pool
 * code with their list's lock held); parent and child run from the lowest
 * up, releasing in the opposite order.
 *
 * Exit: the run hooks run from the highest rank down, then the stop hooks
 * in the same order.  Before the registry this was the order of first use;
 * the fixed order keeps what every program saw where it mattered and is
 * Python's: executors are shut down first (concurrent.futures' exit
 * callback runs in threading._shutdown before the threads are joined, and
 * a timer's function that submits at exit gets WEFT_ESHUTDOWN, as Python's
 * RuntimeError), then the non-daemon timers are waited for, then the child
 * processes (multiprocessing's atexit handler runs after the threads, so a
 * process a timer starts is waited for too), and last the thread module
 * joins the remaining non-daemon threads, after every run hook because
 * those hooks may leave threads to join (the executors' workers).  The
 * process module sits below the timers only for that exit order: none of
 * its locks nests with the thread, timer or local locks, so its place in
 * the fork order does not matter. */
enum weft_lifecycle_rank {
    WEFT_RANK_PARK,     /* park.c's waiting records: below every lock */
    WEFT_RANK_LOCAL,    /* weft_local tables: below threads (thread.c uses them) */
    WEFT_RANK_THREAD,   /* the thread registry; exit: joins non-daemon threads */
    WEFT_RANK_PROCESS,  /* weft_process children */
    WEFT_RANK_TIMER,    /* the timers' schedule */
    WEFT_RANK_EXECUTOR, /* live executors */
    WEFT_RANK_COUNT
};

/* A module's hooks.  Any of the functions may be NULL.
 * fork(phase): around every fork, in the forking thread.
 * exit_run(): at normal exit, e.g. shutting executors down, waiting for
 *   non-daemon timers, joining non-daemon threads.
 * exit_stop(): after every exit_run, when nothing of the program's is left
 *   to wait for (e.g. making the timer threads leave); then the registry
 *   calls weft__pf_threads_close.
 * Several records of one rank run in no particular order among them. */
typedef struct weft_lifecycle_hooks {
    int rank; /* WEFT_RANK_* */
    void (*fork)(int phase);
    void (*exit_run)(void);
    void (*exit_stop)(void);
    /* The registry's. */
    _Atomic bool added_;
    bool ran_; /* exit_run was called (exit only) */
    struct weft_lifecycle_hooks *next_;
} weft_lifecycle_hooks;

#define WEFT_LIFECYCLE_HOOKS_INIT(rank, fork, run, stop) { (rank), (fork), (run), (stop), false, false, NULL }

/* Add hooks to the registry; later calls with the same record return at
 * once.  Never fails, from any thread, at any time: during a fork in
 * another thread it waits for that fork to end, so that a module's lock is
 * never taken between a fork's prepare phase (which did not know the
 * module) and the fork.  Call it before taking the module's locks, with
 * none of weft's locks held.  The hooks run only once the handlers are
 * installed (weft__lifecycle_install). */
void weft__lifecycle_add(weft_lifecycle_hooks *hooks);

/* Install the platform's fork and exit handlers, once.  Returns WEFT_OK,
 * or WEFT_ENOMEM when the platform refused (the next call tries again). */
int weft__lifecycle_install(void);

/* weft__lifecycle_add, then weft__lifecycle_install: a module's first use
 * that can report a failure (starting a thread, a timer, a process;
 * creating an executor) calls this and returns its failure. */
int weft__lifecycle_register(weft_lifecycle_hooks *hooks);

#endif
