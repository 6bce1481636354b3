/* SPDX-License-Identifier: MIT */
/* weft/status.h — status codes returned by every weft call that can fail.
 *
 * C has no exceptions, so each Python exception a call can raise becomes one
 * status code.  WEFT_OK is 0; every error is a small positive number, so the
 * idiom is `if (weft_lock_acquire(&l) != WEFT_OK) ...`.
 */
#ifndef WEFT_STATUS_H
#define WEFT_STATUS_H

#include "weft/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The statuses, each with the Python exception it stands for. */
enum weft_status {
    WEFT_OK = 0,          /* success                                         */
    WEFT_ETIMEDOUT,       /* TimeoutError; also a lock/semaphore acquire or
                             event/condition wait that returned False         */
    WEFT_ECANCELLED,      /* concurrent.futures.CancelledError               */
    WEFT_EEMPTY,          /* queue.Empty                                     */
    WEFT_EFULL,           /* queue.Full                                      */
    WEFT_ESHUTDOWN,       /* queue.ShutDown; submit after executor shutdown  */
    WEFT_EBROKEN,         /* threading.BrokenBarrierError, BrokenExecutor    */
    WEFT_EINVAL,          /* ValueError, TypeError, OverflowError: bad input */
    WEFT_ESTATE,          /* RuntimeError / InvalidStateError: the object is
                             in the wrong state for this call (start twice,
                             join before start, destroy while in use)       */
    WEFT_ENOTOWNER,       /* RuntimeError: release of a lock not held, or
                             held by another thread; wait/notify on a
                             condition whose lock is not held                */
    WEFT_ENOMEM,          /* MemoryError: an allocation failed               */
    WEFT_EFAILED,         /* the task raised: its error is on its future     */
    WEFT_EAGAIN,          /* RuntimeError("can't start new thread"): the OS
                             refused a resource                              */
    WEFT_ESTOP,           /* StopIteration: an iterator has nothing left     */
    WEFT_ECONNREFUSED,    /* ConnectionRefusedError                          */
    WEFT_ECONNRESET,      /* ConnectionResetError, ConnectionAbortedError;
                             also a write on a closed stream                 */
    WEFT_EPIPE,           /* BrokenPipeError: the peer is gone              */
    WEFT_EADDRINUSE,      /* OSError(EADDRINUSE): the address is taken      */
    WEFT_ENAME,           /* socket.gaierror: a name that does not resolve  */
    WEFT_EINCOMPLETE,     /* asyncio.IncompleteReadError: end of file came
                             before what was asked for                       */
    WEFT_ELIMIT,          /* asyncio.LimitOverrunError: a line or record
                             longer than the stream's limit                  */
    WEFT_EOS,             /* OSError: any other system error (errno says
                             which)                                          */
    WEFT_STATUS_COUNT_    /* not a status: one past the last                 */
};

/* weft_strerror — a short, constant English description of a status.
 * Never NULL: an unknown value gives "unknown weft status".
 * Python: the exception's class name and message. */
WEFT_API const char *weft_strerror(int status);

/* weft_status_name — the enumerator's name ("WEFT_ETIMEDOUT"), or
 * "WEFT_UNKNOWN" for a value that is not a weft status. */
WEFT_API const char *weft_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_STATUS_H */
