/* SPDX-License-Identifier: MIT */
/* weft/event.h — Event.  Python: threading.Event.
 *
 * A flag that threads wait for: set() wakes every waiter, clear() resets it.
 * A wait in progress when set() runs always returns WEFT_OK, even if clear()
 * follows at once.  Caller-owned struct:
 *
 *     static weft_event ready = WEFT_EVENT_INIT;
 */
#ifndef WEFT_EVENT_H
#define WEFT_EVENT_H

#include "weft/atomic_field.h"
#include "weft/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fields are private. */
typedef struct weft_event {
    WEFT_ATOMIC_FIELD_(uint32_t) word_;     /* bit 0: the flag; above: count of sets */
    WEFT_ATOMIC_FIELD_(uint32_t) sleepers_;
} weft_event;

#define WEFT_EVENT_INIT { 0, 0 }

/* Initialize, not set.  WEFT_OK or WEFT_EINVAL for NULL. */
WEFT_API int weft_event_init(weft_event *event);

/* WEFT_OK; WEFT_ESTATE while threads wait on it; WEFT_EINVAL for NULL. */
WEFT_API int weft_event_destroy(weft_event *event);

/* Set the flag and wake every waiter.  WEFT_OK or WEFT_EINVAL (NULL).
 * Python: event.set(). */
WEFT_API int weft_event_set(weft_event *event);

/* Reset the flag.  WEFT_OK or WEFT_EINVAL (NULL).  Python: event.clear(). */
WEFT_API int weft_event_clear(weft_event *event);

/* Whether the flag is set; false for NULL.  Python: event.is_set(). */
WEFT_API bool weft_event_is_set(const weft_event *event);

/* Wait until the flag is set.  WEFT_OK, or WEFT_EINVAL for NULL.
 * Python: event.wait(). */
WEFT_API int weft_event_wait(weft_event *event);

/* Wait at most `timeout` seconds.  WEFT_OK: the flag was set (Python's
 * True); WEFT_ETIMEDOUT: it was not (False; 0 or a negative timeout only
 * looks); WEFT_EINVAL: NULL, NaN, or a finite timeout above
 * WEFT_TIMEOUT_MAX.  Python: event.wait(timeout). */
WEFT_API int weft_event_wait_timeout(weft_event *event, double timeout);

/* "<weft_event at 0x…: set>" or "…: unset>".  Python: repr(event). */
WEFT_API int weft_event_repr(const weft_event *event, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_EVENT_H */
