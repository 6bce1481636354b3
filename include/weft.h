/* SPDX-License-Identifier: MIT */
/* weft.h — Python's concurrency toolkit for C.  Include this one header.
 *
 * Python name            weft
 * time.monotonic etc.    weft/time.h
 * Lock, RLock            weft/lock.h
 * Semaphore(s)           weft/semaphore.h
 * Event                  weft/event.h
 * Condition              weft/condition.h
 * Barrier                weft/barrier.h
 * `with lock:`           weft/with.h
 * threading.local        weft/local.h
 * Thread + functions     weft/thread.h
 * Timer                  weft/timer.h
 * queue module           weft/queue.h
 * Future, wait, as_completed  weft/future.h
 * ThreadPoolExecutor     weft/executor.h
 * exceptions             weft/status.h
 * debug mode (beyond Python)  weft/debug.h
 */
#ifndef WEFT_H
#define WEFT_H

#include "weft/barrier.h"
#include "weft/condition.h"
#include "weft/debug.h"
#include "weft/event.h"
#include "weft/executor.h"
#include "weft/future.h"
#include "weft/local.h"
#include "weft/lock.h"
#include "weft/process.h"
#include "weft/queue.h"
#include "weft/semaphore.h"
#include "weft/status.h"
#include "weft/thread.h"
#include "weft/time.h"
#include "weft/timer.h"
#include "weft/with.h"

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION "0.1.0"

#endif /* WEFT_H */
