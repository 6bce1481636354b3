/* SPDX-License-Identifier: MIT */
/* lifecycle.c — the fork-hook and exit-hook registry (see lifecycle.h).
 *
 * The records form a lock-free stack: a record is pushed once and never
 * removed, so a walk from any head it read sees a fixed set.  A fork's
 * prepare phase reads the head once and its parent and child phases walk
 * that same set (kept per thread: the phases all run in the forking
 * thread), so a record pushed meanwhile gets no parent or child call for a
 * prepare it never had.  Adders and forks keep out of each other's way
 * with two counters instead of a lock: an adder counts itself in `adding`
 * and backs off while `forking` is nonzero; prepare counts itself in
 * `forking` and waits for `adding` to drop to zero.  Each side writes its
 * own counter before it reads the other's (sequentially consistent), so at
 * least one of them sees the other.
 */
#include "lifecycle.h"

#include "platform/once.h"
#include "platform/platform.h"
#include "weft/status.h"

#include <stdint.h>

static _Atomic(weft_lifecycle_hooks *) records;
static _Atomic uint32_t adding;  /* adders between their check and their push */
static _Atomic uint32_t forking; /* forks between their prepare and parent phases */
static _Thread_local weft_lifecycle_hooks *fork_seen; /* this thread's fork's set */
static weft_once fork_installed = WEFT_ONCE_INIT;
static weft_once exit_installed = WEFT_ONCE_INIT;

/* ---- adding ------------------------------------------------------------ */

static void leave_adding(void)
{
    atomic_fetch_sub(&adding, 1);
    weft__pf_wake(&adding, INT32_MAX); /* a prepare may wait for zero */
}

/* Count the caller in, once no fork is between prepare and parent. */
static void enter_adding(void)
{
    for (;;) {
        atomic_fetch_add(&adding, 1);
        uint32_t forks = atomic_load(&forking);
        if (forks == 0)
            return;
        leave_adding();
        weft__pf_wait(&forking, forks, WEFT_PF_NO_DEADLINE);
    }
}

/* Until no adder is between its check and its push. */
static void wait_for_adders(void)
{
    for (uint32_t n; (n = atomic_load(&adding)) != 0;)
        weft__pf_wait(&adding, n, WEFT_PF_NO_DEADLINE);
}

static void push(weft_lifecycle_hooks *hooks)
{
    weft_lifecycle_hooks *top = atomic_load_explicit(&records, memory_order_relaxed);
    do
        hooks->next_ = top;
    while (!atomic_compare_exchange_weak_explicit(&records, &top, hooks, memory_order_release,
                                                  memory_order_relaxed));
}

static weft_lifecycle_hooks *all_records(void)
{
    return atomic_load_explicit(&records, memory_order_acquire);
}

void weft__lifecycle_add(weft_lifecycle_hooks *hooks)
{
    if (atomic_load_explicit(&hooks->added_, memory_order_acquire))
        return;
    enter_adding();
    /* A second adder of the same record may return before the push: a
     * fork's prepare still waits for the push (the first adder is counted
     * in `adding`). */
    if (!atomic_exchange(&hooks->added_, true))
        push(hooks);
    leave_adding();
}

/* ---- fork -------------------------------------------------------------- */

static void call_fork_hooks(weft_lifecycle_hooks *set, int rank, int phase)
{
    for (weft_lifecycle_hooks *h = set; h; h = h->next_)
        if (h->rank == rank && h->fork)
            h->fork(phase);
}

/* Highest rank first; the platform's locks (its thread cache, the
 * portable wait's buckets) last of all (a weft lock taken before may need
 * them). */
static void before_fork(void)
{
    atomic_fetch_add(&forking, 1);
    wait_for_adders();
    fork_seen = all_records();
    for (int rank = WEFT_RANK_COUNT - 1; rank >= 0; rank--)
        call_fork_hooks(fork_seen, rank, WEFT_FORK_PREPARE);
    weft__pf_atfork(WEFT_FORK_PREPARE);
}

static void after_fork(int phase)
{
    weft__pf_atfork(phase);
    for (int rank = 0; rank < WEFT_RANK_COUNT; rank++)
        call_fork_hooks(fork_seen, rank, phase);
}

static void after_fork_parent(void)
{
    after_fork(WEFT_FORK_PARENT);
    atomic_fetch_sub(&forking, 1);
    weft__pf_wake(&forking, INT32_MAX); /* adders that backed off */
}

/* The child's only thread is this one: no adder or other fork is under
 * way here, and its own exit is still to come. */
static void after_fork_child(void)
{
    atomic_store(&adding, 0);
    atomic_store(&forking, 0);
    for (weft_lifecycle_hooks *h = all_records(); h; h = h->next_)
        h->ran_ = false;
    after_fork(WEFT_FORK_CHILD);
}

/* ---- exit -------------------------------------------------------------- */

/* Every run hook, highest rank first.  A module first used during exit
 * (an executor's task starting the first timer) adds its record then: the
 * walk of each rank reads the records afresh, and a further pass runs any
 * that came after its rank was passed. */
static void run_exit_hooks(void)
{
    bool ran;
    do {
        ran = false;
        for (int rank = WEFT_RANK_COUNT - 1; rank >= 0; rank--) {
            wait_for_adders();
            for (weft_lifecycle_hooks *h = all_records(); h; h = h->next_) {
                if (h->rank == rank && h->exit_run && !h->ran_) {
                    h->ran_ = true;
                    h->exit_run();
                    ran = true;
                }
            }
        }
    } while (ran);
}

static void stop_exit_hooks(void)
{
    wait_for_adders();
    weft_lifecycle_hooks *set = all_records();
    for (int rank = WEFT_RANK_COUNT - 1; rank >= 0; rank--)
        for (weft_lifecycle_hooks *h = set; h; h = h->next_)
            if (h->rank == rank && h->exit_stop)
                h->exit_stop();
}

static void at_process_exit(void)
{
    run_exit_hooks();
    stop_exit_hooks();
    weft__pf_threads_close();
}

void weft__lifecycle_exit_now(void) { at_process_exit(); }

/* ---- installing -------------------------------------------------------- */

static int install_fork_handlers(void)
{
    return weft__pf_at_fork(before_fork, after_fork_parent, after_fork_child);
}

static int install_exit_handler(void) { return weft__pf_at_exit(at_process_exit); }

/* Two onces: a retry after a failed exit install must not install the
 * fork handlers twice. */
int weft__lifecycle_install(void)
{
    int rc = weft__once_run(&fork_installed, install_fork_handlers);
    return rc != WEFT_OK ? rc : weft__once_run(&exit_installed, install_exit_handler);
}

int weft__lifecycle_register(weft_lifecycle_hooks *hooks)
{
    weft__lifecycle_add(hooks);
    return weft__lifecycle_install();
}
