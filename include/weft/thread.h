/* SPDX-License-Identifier: MIT */
/* weft/thread.h — threads.  Python: threading.Thread and the threading
 * module's functions.
 *
 *     void *work(void *arg) { ...; return result; }
 *
 *     weft_thread *t;
 *     weft_thread_new(&t, work, arg, NULL);   // Thread(target=work, args=…)
 *     weft_thread_start(t);
 *     void *result;
 *     weft_thread_join(t, &result);           // join(); result is work's return
 *     weft_thread_free(t);
 *
 * As in Python, a thread that is not a daemon keeps the program alive: when
 * the program exits normally (main returns or exit() is called), weft joins
 * every non-daemon thread it started first.  Daemon threads are simply
 * stopped with the process.
 *
 * Subclassing Thread and overriding run() becomes struct embedding: put a
 * weft_thread pointer and your fields in a struct, and pass the struct as
 * the target's argument (see examples/).
 *
 * Not applicable to C: exceptions escaping the target (there are none:
 * return a result or status), and so threading.excepthook; the target's name
 * in the default name ("Thread-N (func)"): C cannot find a function's name,
 * so the default is "Thread-N"; Thread(context=…) (Python contextvars);
 * interpreter-finalization errors.
 */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include "weft/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_thread weft_thread;

/* A thread's target: receives the argument given to weft_thread_new; what
 * it returns is handed to weft_thread_join.  Python: target(*args). */
typedef void *(*weft_thread_fn)(void *arg);

/* Whether the thread is a daemon.  The zero value inherits the creating
 * thread's flag, as Python's daemon=None does. */
typedef enum weft_daemon_mode {
    WEFT_DAEMON_INHERIT = 0,
    WEFT_NON_DAEMON = 1,
    WEFT_DAEMON = 2,
} weft_daemon_mode;

/* Options; a zeroed struct (or NULL) gives Python's defaults. */
typedef struct weft_thread_options {
    const char *name;        /* NULL or "" gives "Thread-N"; copied */
    weft_daemon_mode daemon; /* default: inherit */
    size_t stack_size;       /* 0: weft_get_stack_size() */
} weft_thread_options;

/* Create a thread, not yet started.  target may be NULL (the thread then
 * does nothing, as Thread() with no target).  The target ends by
 * returning; it must not call pthread_exit or be cancelled with
 * pthread_cancel (weft could then neither report its end nor reclaim the
 * OS thread).  WEFT_OK and *thread set;
 * WEFT_EINVAL for a NULL `thread`, an unknown daemon mode or a stack size
 * below the minimum (32 KiB, as Python's stack_size); WEFT_ENOMEM;
 * *thread is NULL on every status but WEFT_OK.
 * Python: threading.Thread(target=, args=, name=, daemon=). */
WEFT_API int weft_thread_new(weft_thread **thread, weft_thread_fn target, void *arg,
                             const weft_thread_options *options);

/* Give back a handle from weft_thread_new or weft_enumerate.  A running
 * thread keeps running (and is still joined at exit if it is not a daemon);
 * its memory goes when it has finished and every handle is given back.
 * NULL is ignored.  Never pass the result of weft_current_thread() or
 * weft_main_thread(): those are borrowed. */
WEFT_API void weft_thread_free(weft_thread *thread);

/* Start the thread; it runs target(arg).  The OS thread name is set from the
 * thread's name.  WEFT_OK; WEFT_ESTATE if already started (Python's
 * RuntimeError "threads can only be started once"), or for the main thread
 * or a thread weft did not start; WEFT_EAGAIN if the OS refused a thread
 * (the thread stays unstarted and may be started later); WEFT_ENOMEM;
 * WEFT_EINVAL for NULL.  Python: thread.start(). */
WEFT_API int weft_thread_start(weft_thread *thread);

/* Wait until the thread finishes; *result (may be NULL) receives the
 * target's return value.  WEFT_OK; WEFT_ESTATE when joining the calling
 * thread ("cannot join current thread"), a thread not started ("cannot join
 * thread before it is started") or one weft did not start; WEFT_EINVAL for
 * NULL.  Python: thread.join(). */
WEFT_API int weft_thread_join(weft_thread *thread, void **result);

/* As weft_thread_join, waiting at most `timeout` seconds (0 or negative:
 * only look).  WEFT_ETIMEDOUT if still running (Python returns None and the
 * caller checks is_alive()).  Both join forms leave *result NULL on every
 * status but WEFT_OK.  Python: thread.join(timeout). */
WEFT_API int weft_thread_join_timeout(weft_thread *thread, double timeout, void **result);

/* Whether started and not yet finished.  Python: thread.is_alive(). */
WEFT_API bool weft_thread_is_alive(const weft_thread *thread);

/* The thread's name.  The pointer stays valid until the name is changed or
 * the handle given back.  Python: thread.name. */
WEFT_API const char *weft_thread_name(const weft_thread *thread);

/* Rename; a running thread's OS name follows (truncated to 15 bytes on
 * Linux).  WEFT_OK; WEFT_EINVAL for NULL; WEFT_ENOMEM.
 * Python: thread.name = name. */
WEFT_API int weft_thread_set_name(weft_thread *thread, const char *name);

/* weft's identifier of the thread: nonzero once started, unique in the
 * process and never reused; 0 before start (Python's None).
 * Python: thread.ident. */
WEFT_API uint64_t weft_thread_ident(const weft_thread *thread);

/* The kernel's id of the thread (Linux TID, as in `top -H`); 0 before
 * start.  Python: thread.native_id. */
WEFT_API long weft_thread_native_id(const weft_thread *thread);

/* The daemon flag.  Python: thread.daemon. */
WEFT_API bool weft_thread_daemon(const weft_thread *thread);

/* Set the daemon flag before start.  WEFT_OK; WEFT_ESTATE once started
 * (Python's RuntimeError "cannot set daemon status of active thread");
 * WEFT_EINVAL for NULL.  Python: thread.daemon = flag. */
WEFT_API int weft_thread_set_daemon(weft_thread *thread, bool daemon);

/* "<weft_thread(worker, started daemon 7)>", as snprintf; the state is
 * initial, started or stopped.  Python: repr(thread). */
WEFT_API int weft_thread_repr(const weft_thread *thread, char *buf, size_t size);

/* ---- module functions ------------------------------------------------- */

/* The calling thread's object (borrowed: do not free).  For a thread weft
 * did not start, a "dummy" object named "Dummy-N" is made on first call: it
 * is alive, a daemon, cannot be joined, and disappears when the thread
 * exits.  NULL only when memory ran out.  Python: current_thread(). */
WEFT_API weft_thread *weft_current_thread(void);

/* The process's initial thread, named "MainThread" (borrowed).
 * Python: main_thread(). */
WEFT_API weft_thread *weft_main_thread(void);

/* The number of live threads: the main thread, started weft threads that
 * have not finished, and dummies.  Python: active_count(). */
WEFT_API size_t weft_active_count(void);

/* Store handles of up to `capacity` live threads in `threads`; returns how
 * many threads are alive (which may exceed capacity).  Each stored handle
 * must be given back with weft_thread_free.  Python: enumerate(). */
WEFT_API size_t weft_enumerate(weft_thread **threads, size_t capacity);

/* The calling thread's weft identifier (never 0; the main thread's is 1).
 * Python: get_ident(). */
WEFT_API uint64_t weft_get_ident(void);

/* The calling thread's kernel id.  Python: get_native_id(). */
WEFT_API long weft_get_native_id(void);

/* The stack size for threads created without an explicit one (0: the
 * system default).  Python: stack_size(). */
WEFT_API size_t weft_get_stack_size(void);

/* Set it: 0 restores the system default; otherwise at least 32 KiB.
 * WEFT_OK or WEFT_EINVAL (Python's ValueError).  Python: stack_size(n). */
WEFT_API int weft_set_stack_size(size_t size);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_THREAD_H */
