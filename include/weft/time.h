/* SPDX-License-Identifier: MIT */
/* weft/time.h — clocks, sleeping and the timeout convention.
 *
 * Durations and timeouts are `double` seconds, as in Python.  Every blocking
 * weft call comes in a plain form that waits forever and a `_timeout` form:
 *   - WEFT_FOREVER (positive infinity) waits forever,
 *   - 0 does not block (the `_nowait` / `blocking=False` forms),
 *   - a positive value waits at least that long, measured on the monotonic
 *     clock: a timed wait never returns early.
 * Negative timeouts follow each Python counterpart (documented per call).
 * NaN, and finite timeouts above WEFT_TIMEOUT_MAX, are WEFT_EINVAL
 * (Python's ValueError / OverflowError).
 */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include "weft/export.h"

#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Wait forever.  Python: timeout=None. */
#ifdef __cplusplus
#define WEFT_FOREVER (static_cast<double>(INFINITY))
#else
#define WEFT_FOREVER ((double)INFINITY)
#endif

/* The largest finite timeout accepted (about 292 years).  Python:
 * threading.TIMEOUT_MAX. */
#define WEFT_TIMEOUT_MAX 9.2e9

/* weft_monotonic — seconds on a clock that never goes backwards and is not
 * affected by system clock changes.  Only differences are meaningful.
 * Python: time.monotonic(). */
WEFT_API double weft_monotonic(void);

/* weft_perf_counter — seconds on the highest-resolution monotonic clock, for
 * timing code.  Python: time.perf_counter(). */
WEFT_API double weft_perf_counter(void);

/* weft_sleep — suspend the calling thread for at least `seconds`; in a
 * coroutine, only the coroutine (its loop runs the others), and 0 lets
 * the other ready tasks run first (asyncio.sleep(0)).
 * Returns WEFT_OK, or WEFT_EINVAL if seconds is negative, NaN or above
 * WEFT_TIMEOUT_MAX (infinity is also WEFT_EINVAL: a sleep must end), or
 * WEFT_ECANCELLED in a cancellable task (weft_cancellable) whose future is
 * cancelled, or in a coroutine whose task is cancelled.
 * Python: time.sleep(seconds) (ValueError for a negative length);
 * asyncio.sleep(seconds) in a coroutine. */
WEFT_API int weft_sleep(double seconds);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_TIME_H */
