/* SPDX-License-Identifier: MIT */
/* weft/barrier.h — Barrier.  Python: threading.Barrier.
 *
 * `parties` threads each call wait; all are released together when the last
 * one arrives, and the barrier is ready for the next round.  The last thread
 * to arrive runs the optional action first.  A timeout, abort() or a failing
 * action breaks the barrier: every current and future wait returns
 * WEFT_EBROKEN until reset().
 *
 *     weft_barrier round;
 *     weft_barrier_init(&round, 4, NULL, NULL, WEFT_FOREVER);
 *     ...in each of 4 threads:
 *     size_t index;
 *     if (weft_barrier_wait(&round, &index) == WEFT_OK && index == 0)
 *         puts("everyone arrived");
 */
#ifndef WEFT_BARRIER_H
#define WEFT_BARRIER_H

#include "weft/condition.h"
#include "weft/export.h"
#include "weft/lock.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The action: return 0 on success.  A nonzero return breaks the barrier;
 * the thread that ran the action gets that value from its wait, the others
 * get WEFT_EBROKEN (Python: the action's exception reaches the thread that
 * ran it, BrokenBarrierError the rest). */
typedef int (*weft_barrier_action)(void *arg);

/* Fields are private. */
typedef struct weft_barrier {
    weft_lock lock_;
    weft_condition cond_;
    size_t parties_;
    size_t count_;
    int state_; /* 0 filling, 1 draining, -1 resetting, -2 broken */
    double timeout_;
    weft_barrier_action action_;
    void *action_arg_;
} weft_barrier;

/* Initialize for `parties` threads, with an optional action (NULL for none)
 * and a default timeout for weft_barrier_wait (WEFT_FOREVER for none).
 * WEFT_OK; WEFT_EINVAL for NULL, parties < 1 (Python's ValueError "parties
 * must be >= 1"), or a NaN timeout.
 * Python: Barrier(parties, action, timeout). */
WEFT_API int weft_barrier_init(weft_barrier *barrier, long parties, weft_barrier_action action,
                               void *action_arg, double timeout);

/* WEFT_OK; WEFT_ESTATE while threads wait on it; WEFT_EINVAL for NULL. */
WEFT_API int weft_barrier_destroy(weft_barrier *barrier);

/* Wait for all parties, at most the default timeout.  On WEFT_OK, *index
 * (may be NULL) receives a distinct number in 0..parties-1 for each thread
 * of the round.  WEFT_EBROKEN: the barrier is or became broken (Python's
 * BrokenBarrierError), including when this wait timed out, which breaks it
 * for everyone as in Python; the action's own nonzero status for the thread
 * that ran a failing action; WEFT_EINVAL for NULL.  Python: barrier.wait(). */
WEFT_API int weft_barrier_wait(weft_barrier *barrier, size_t *index);

/* As weft_barrier_wait with this timeout in seconds (0 or negative: do not
 * wait, which breaks the barrier unless this thread is the last party).
 * Python: barrier.wait(timeout). */
WEFT_API int weft_barrier_wait_timeout(weft_barrier *barrier, double timeout, size_t *index);

/* Return the barrier to its initial state.  Threads waiting in it get
 * WEFT_EBROKEN.  WEFT_OK or WEFT_EINVAL (NULL).  Python: barrier.reset(). */
WEFT_API int weft_barrier_reset(weft_barrier *barrier);

/* Break the barrier: current and future waits return WEFT_EBROKEN until
 * reset().  WEFT_OK or WEFT_EINVAL (NULL).  Python: barrier.abort(). */
WEFT_API int weft_barrier_abort(weft_barrier *barrier);

/* The number of parties (0 for NULL).  Python: barrier.parties. */
WEFT_API size_t weft_barrier_parties(const weft_barrier *barrier);

/* The number of threads waiting for the current round to fill (0 while it
 * drains or resets; 0 for NULL).  Inside the action it is `parties`: the
 * thread running it counts, as in Python.  This and the two calls below
 * never block and may be called from any thread at any time, the action
 * included; while threads arrive or leave the answer is a snapshot, as
 * Python's.  Python: barrier.n_waiting. */
WEFT_API size_t weft_barrier_n_waiting(weft_barrier *barrier);

/* Whether the barrier is broken (false for NULL).  Python: barrier.broken. */
WEFT_API bool weft_barrier_broken(weft_barrier *barrier);

/* "<weft_barrier at 0x…: waiters=2/3>" or "…: broken>", as snprintf does.
 * Python: repr(barrier). */
WEFT_API int weft_barrier_repr(weft_barrier *barrier, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_BARRIER_H */
