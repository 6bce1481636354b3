/* park.h — the one way a weft primitive waits and is woken (DESIGN.md §3,
 * layer 2).
 *
 * A waiter parks on a 32-bit word while it holds an expected value; a waker
 * changes the word and then unparks.  Every blocking primitive is written
 * against these calls only, so when coroutines arrive they park by switching
 * back to their loop behind this same interface, and no primitive changes.
 */
#ifndef WEFT_PARK_H
#define WEFT_PARK_H

#include "platform/platform.h"

#include <stdbool.h>

#define WEFT_NO_DEADLINE WEFT_PF_NO_DEADLINE

/* Park while *word == expected, until unparked or the deadline passes.
 * Returns WEFT_OK (woken, changed, or spurious: re-check) or
 * WEFT_ETIMEDOUT (the deadline has passed). */
int weft_park(_Atomic uint32_t *word, uint32_t expected, int64_t deadline);

/* Unpark one / every waiter parked on word. */
void weft_unpark_one(_Atomic uint32_t *word);
void weft_unpark_all(_Atomic uint32_t *word);
void weft_unpark_n(_Atomic uint32_t *word, uint32_t n);

/* Spin for a short while (a few hundred nanoseconds to a microsecond)
 * waiting for *word to differ from `value`.  Returns true if it changed.
 * Used before parking: a hand-over that happens within the spin costs no
 * system call on either side. */
bool weft_spin_while_equal(_Atomic uint32_t *word, uint32_t value);

/* Now on the monotonic clock, in nanoseconds. */
static inline int64_t weft_now_ns(void) { return weft_pf_now_ns(); }

/* Turn a timeout in seconds into an absolute deadline.
 * +inf gives WEFT_NO_DEADLINE; a negative timeout gives "now" (poll); the
 * caller applies its own Python rule for negatives before calling.
 * Returns WEFT_EINVAL for NaN or a finite timeout above WEFT_TIMEOUT_MAX. */
int weft_deadline_after(double timeout, int64_t *deadline);

#endif
