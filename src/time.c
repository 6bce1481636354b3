/* SPDX-License-Identifier: MIT */
/* time.c — Python's time.monotonic, perf_counter and sleep. */
#include "weft/time.h"

#include "park.h"
#include "weft/status.h"

/* park.c turns timeouts into deadlines below weft/time.h, with its own
 * limit: the two must agree.  (Cast: a static assertion takes integers.) */
_Static_assert((long long)WEFT_PARK_TIMEOUT_MAX == (long long)WEFT_TIMEOUT_MAX,
               "WEFT_PARK_TIMEOUT_MAX (park.h) differs from WEFT_TIMEOUT_MAX (weft/time.h)");

double weft_monotonic(void) { return (double)weft__now_ns() / 1e9; }

double weft_perf_counter(void) { return (double)weft__now_ns() / 1e9; }

int weft_sleep(double seconds)
{
    if (seconds < 0 || isinf(seconds))
        return WEFT_EINVAL;
    int64_t deadline;
    int rc = weft__deadline_after(seconds, &deadline);
    if (rc != WEFT_OK)
        return rc;
    if (weft__in_coroutine() && seconds == 0) {
        weft__park_yield(); /* asyncio.sleep(0): let the others run */
        return weft__park_take_cancel() ? WEFT_ECANCELLED : WEFT_OK;
    }
    if (!weft__park_cancel_source() && !weft__in_coroutine()) {
        weft__pf_sleep_until(deadline);
        return WEFT_OK;
    }
    /* In a cancellable task or a coroutine: sleep by parking, so that
     * cancel wakes it (and a coroutine's loop runs the others). */
    return weft__park_sleep(deadline);
}
