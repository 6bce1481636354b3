/* SPDX-License-Identifier: MIT */
/* weft/timer.h — Timer.  Python: threading.Timer.
 *
 * Runs a function once after an interval, unless cancelled first.  All
 * timers share one timer thread, so ten thousand pending timers cost ten
 * thousand small records, not ten thousand threads.  The function runs on
 * that shared thread; one that has run about a millisecond when another
 * timer is due (it sleeps, waits on a lock, joins a later timer, or just
 * computes) hands the timer thread's job to another thread and finishes
 * on its own, so it delays the other timers by at most that millisecond,
 * as if each timer were a thread of its own as in Python.  Such a function
 * costs a thread while it runs.  The functions run on reused daemon weft
 * threads named "weft-timer" (listed by weft_enumerate while they serve):
 * keep no thread-local state from one call to the next.
 *
 *     weft_timer *t;
 *     weft_timer_new(&t, 2.5, say_hello, "world");  // Timer(2.5, hello, …)
 *     weft_timer_start(t);
 *     ...
 *     weft_timer_cancel(t);                          // if still pending
 *     weft_timer_free(t);
 *
 * As with Python's Timer (a non-daemon Thread), a started timer that is
 * neither finished nor cancelled keeps the program alive at exit until it
 * has fired, unless it was made a daemon.
 *
 * Not applicable to C: the args/kwargs containers (one `void *` argument).
 */
#ifndef WEFT_TIMER_H
#define WEFT_TIMER_H

#include "weft/export.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_timer weft_timer;

typedef void (*weft_timer_fn)(void *arg);

/* Create a timer that will call fn(arg) `interval` seconds after start (a
 * negative interval fires at once).  WEFT_OK and *timer set; WEFT_EINVAL for
 * NULL timer or fn, NaN or an interval above WEFT_TIMEOUT_MAX; WEFT_ENOMEM;
 * *timer is NULL on every status but WEFT_OK.
 * Python: threading.Timer(interval, function, args). */
WEFT_API int weft_timer_new(weft_timer **timer, double interval, weft_timer_fn fn, void *arg);

/* Give back the handle.  A started timer still fires (Python: dropping the
 * Timer object does not cancel it).  NULL is ignored. */
WEFT_API void weft_timer_free(weft_timer *timer);

/* Whether the timer keeps the program alive at exit.  Default false: like
 * Python's Timer created from the main thread.  WEFT_ESTATE after start;
 * WEFT_EINVAL for NULL.  Python: timer.daemon = flag. */
WEFT_API int weft_timer_set_daemon(weft_timer *timer, bool daemon);
WEFT_API bool weft_timer_daemon(const weft_timer *timer);

/* Start the countdown.  WEFT_OK; WEFT_ESTATE if already started (Python's
 * RuntimeError "threads can only be started once"); WEFT_ENOMEM or
 * WEFT_EAGAIN if the timer thread could not be started; WEFT_ESHUTDOWN
 * late in process exit, once every non-daemon thread and timer is done and
 * the timer threads have stopped (Python's RuntimeError "can't create new
 * thread at interpreter shutdown"; timers started by threads and pool
 * tasks the exit still waits for run as usual); WEFT_EINVAL for NULL.
 * Python: timer.start(). */
WEFT_API int weft_timer_start(weft_timer *timer);

/* Stop the timer if its function has not started yet; no effect otherwise
 * (also before start: it then never runs).  WEFT_OK or WEFT_EINVAL (NULL).
 * Python: timer.cancel(). */
WEFT_API int weft_timer_cancel(weft_timer *timer);

/* Wait until the timer has fired (its function returned) or was
 * cancelled.  WEFT_OK (also at once in the child of a fork for a timer the
 * parent had pending or running: it never fires there); WEFT_ESTATE before
 * start, or when called from the timer's own function (Python's
 * RuntimeError "cannot join current thread"); WEFT_ETIMEDOUT; WEFT_EINVAL
 * for NULL or a NaN timeout.  A function may join any other timer, also one
 * due after it.  Python: timer.join(timeout). */
WEFT_API int weft_timer_join(weft_timer *timer);
WEFT_API int weft_timer_join_timeout(weft_timer *timer, double timeout);

/* Started and neither fired nor cancelled (false in the child of a fork for
 * the parent's timers).  Python: timer.is_alive(). */
WEFT_API bool weft_timer_is_alive(const weft_timer *timer);

/* Fired or cancelled.  Python: timer.finished.is_set(). */
WEFT_API bool weft_timer_finished(const weft_timer *timer);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_TIMER_H */
