/* SPDX-License-Identifier: MIT */
/* task.c — running a task (see task.h): the running-task thread-locals,
 * weft_fail, weft_cancelled and weft_cancellable. */
#include "task_internal.h"

#include "park.h"
#include "weft/status.h"

#include <stdio.h>
#include <stdlib.h>

char weft_failed_marker_;

/* The cancel source of the task this thread runs (NULL: none, or a task
 * that cannot be cancelled), and the failure its weft_fail recorded. */
static _Thread_local weft_cancel_source *running_cancel;
static _Thread_local int fail_code;
static _Thread_local char *fail_message;

char *weft__format_message(const char *format, va_list ap)
{
    if (!format)
        return NULL;
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, format, copy);
    va_end(copy);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (text)
        vsnprintf(text, (size_t)n + 1, format, ap);
    return text;
}

void *weft_fail(int code, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char *message = weft__format_message(format, ap);
    va_end(ap);
    free(fail_message);
    fail_code = code ? code : WEFT_EFAILED;
    fail_message = message;
    return WEFT_FAILED;
}

bool weft__take_failure(void *result, int *code, char **message)
{
    if (result != WEFT_FAILED || !fail_code)
        return false;
    *code = fail_code;
    *message = fail_message;
    fail_code = 0;
    fail_message = NULL;
    return true;
}

bool weft_cancelled(void)
{
    return running_cancel && atomic_load_explicit(&running_cancel->requested, memory_order_relaxed);
}

bool weft_cancellable(bool on)
{
    weft_cancel_source *now = weft__park_cancel_source();
    if (running_cancel)
        weft__park_set_cancel_source(on ? running_cancel : NULL);
    return now != NULL;
}

weft_task_outcome weft__task_run(weft_task_fn fn, void *arg, weft_cancel_source *cancel)
{
    weft_cancel_source *outer = running_cancel;
    weft_cancel_source *outer_source = weft__park_cancel_source();
    running_cancel = cancel;
    weft__park_set_cancel_source(NULL); /* until the task asks for it */
    fail_code = 0;
    weft_task_outcome out = {fn(arg), 0, NULL};
    running_cancel = outer;
    weft__park_set_cancel_source(outer_source);
    if (weft__take_failure(out.result, &out.code, &out.message))
        out.result = NULL;
    return out;
}
