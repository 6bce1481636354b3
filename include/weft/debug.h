/* SPDX-License-Identifier: MIT */
/* weft/debug.h — debug mode: potential deadlocks and forgotten threads.
 *
 * Off by default, and then it costs one predictable branch per lock
 * operation.  Turned on by WEFT_DEBUG=1 in the environment (read at the
 * first lock operation) or by weft_debug_enable(true), it
 *
 *   - reports lock-order inversions before they deadlock: when a thread
 *     takes lock B while holding lock A, and somewhere, earlier, locks
 *     were taken in an order leading from B back to A (B then A, or B then
 *     C then A, ...), the program could deadlock; weft reports it once
 *     per pair, naming the locks and the threads that took them in each
 *     order;
 *   - reports, at normal process exit, weft threads still running that
 *     were never joined (non-daemon ones are joined then, as in Python,
 *     and daemon ones are killed with the process: either way, usually not
 *     what the program meant).
 *
 * It watches weft_lock and everything built on it (weft_rlock,
 * weft_condition, weft_barrier, queues, futures).  A lock's identity is
 * its address: weft_lock_destroy forgets it, so reuse of the memory does
 * not create false reports.  Beyond Python, which has no such mode.
 */
#ifndef WEFT_DEBUG_H
#define WEFT_DEBUG_H

#include "weft/export.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Turn debug mode on or off; returns the previous setting.  Turning it on
 * while locks are held only misses the orders taken before. */
WEFT_API bool weft_debug_enable(bool on);

/* Whether debug mode is on. */
WEFT_API bool weft_debug_enabled(void);

/* Where reports go: fn(message, arg) with a one-line message, called with
 * no weft lock held by weft.  NULL restores the default, which writes
 * "weft debug: <message>" to stderr. */
typedef void (*weft_debug_reporter)(const char *message, void *arg);
WEFT_API void weft_debug_set_reporter(weft_debug_reporter fn, void *arg);

/* How many lock-order inversions have been reported so far. */
WEFT_API size_t weft_debug_inversions(void);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_DEBUG_H */
