/* SPDX-License-Identifier: MIT */
/* weft.h — Python's concurrency toolkit for C.  Include this one header.
 *
 * Every header of weft/, the layer of the library that implements it (a
 * layer uses only those below it, docs/architecture.md; 3 park has no
 * public header) and its Python counterpart (Future and the executors are
 * concurrent.futures'):
 *
 * header               layer         Python
 * weft/export.h        -             (private: WEFT_API, the exported calls)
 * weft/atomic_field.h  -             (private: atomic fields for C and C++)
 * weft/status.h        1 platform    the exceptions, as status codes
 * weft/debug.h         2 base        (beyond Python: debug mode)
 * weft/lock.h          4 locks       threading.Lock, RLock
 * weft/time.h          5 sync        time.monotonic, perf_counter, sleep
 * weft/condition.h     5 sync        threading.Condition
 * weft/semaphore.h     5 sync        threading.Semaphore, BoundedSemaphore
 * weft/event.h         5 sync        threading.Event
 * weft/barrier.h       5 sync        threading.Barrier
 * weft/with.h          5 sync        the `with lock:` statement
 * weft/queue.h         6 queues      the queue module
 * weft/local.h         7 threads     threading.local
 * weft/thread.h        7 threads     threading.Thread and functions
 * weft/timer.h         7 threads     threading.Timer
 * weft/process.h       7 threads     multiprocessing.Process
 * weft/task.h          8 executors   the submitted function; raising in it
 * weft/future.h        8 executors   Future, wait, as_completed
 * weft/executor.h      8 executors   Executor, ThreadPoolExecutor
 * weft/bytes.h         8 executors   the pickled data a process pool carries
 * weft/process_pool.h  8 executors   ProcessPoolExecutor
 * weft/coro.h         9 coroutines  asyncio: run, create_task, gather, TaskGroup, ...
 * weft/net.h         10 net         asyncio: sock_*, open_connection, start_server, streams
 */
#ifndef WEFT_H
#define WEFT_H

#include "weft/barrier.h"
#include "weft/bytes.h"
#include "weft/condition.h"
#include "weft/coro.h"
#include "weft/debug.h"
#include "weft/event.h"
#include "weft/executor.h"
#include "weft/future.h"
#include "weft/local.h"
#include "weft/lock.h"
#include "weft/net.h"
#include "weft/process.h"
#include "weft/process_pool.h"
#include "weft/queue.h"
#include "weft/semaphore.h"
#include "weft/status.h"
#include "weft/task.h"
#include "weft/thread.h"
#include "weft/time.h"
#include "weft/timer.h"
#include "weft/with.h"

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION "0.1.0"

#endif /* WEFT_H */
