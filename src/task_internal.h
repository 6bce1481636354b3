/* SPDX-License-Identifier: MIT */
/* task_internal.h — running a task: the calling thread's running-task context (the
 * cancel source weft_cancelled and weft_cancellable see, the failure
 * weft_fail records) around one call of the task's function.
 *
 * This unit knows nothing of futures: future.c's weft__future_run binds a
 * task's outcome to its future, a process-pool worker runs tasks without
 * any future, and a coroutine layer can run a task step with it alone. */
#ifndef WEFT_TASK_INTERNAL_H
#define WEFT_TASK_INTERNAL_H

#include "backend.h"
#include "park.h"
#include "weft/task.h"

#include <stdarg.h>
#include <stdbool.h>

/* What one run of a task came to: its result, or (code != 0) the failure
 * its weft_fail recorded, with that call's message (NULL if it had none or
 * there was no memory for it), which the caller then owns and frees. */
typedef struct weft_task_outcome {
    void *result; /* NULL on failure */
    int code;
    char *message;
} weft_task_outcome;

/* Run fn(arg) as the calling thread's task: inside it weft_cancelled()
 * reads `cancel`'s flag and weft_cancellable(true) makes `cancel` the
 * thread's park cancel source (cancel NULL: as outside a task).  The
 * thread's own context (an outer task's: runs nest) is restored after. */
WEFT_BACKEND weft_task_outcome weft__task_run(weft_task_fn fn, void *arg,
                                             weft_cancel_source *cancel);

/* After a task returned `result` outside weft__task_run (a process-pool
 * worker calls its tasks itself): if it failed with weft_fail, take its
 * code and message (the caller frees the message) and return true. */
bool weft__take_failure(void *result, int *code, char **message);

/* vsnprintf into a new malloc'd string: NULL when format is NULL or there
 * is no memory (weft_fail's and weft_future_set_exception's messages). */
char *weft__format_message(const char *format, va_list ap);

#endif
