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
    if (!weft__park_cancel_source()) {
        weft__pf_sleep_until(deadline);
        return WEFT_OK;
    }
    /* In a cancellable task: sleep by parking, so that cancel wakes it. */
    _Atomic uint32_t never_changes = 0;
    while ((rc = weft__park_cancellable(&never_changes, 0, deadline)) == WEFT_OK) {
    }
    return rc == WEFT_ECANCELLED ? WEFT_ECANCELLED : WEFT_OK;
}
