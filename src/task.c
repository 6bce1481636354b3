/* SPDX-License-Identifier: MIT */
/* task.c — running a task (see task.h): the running-task thread-locals,
 * weft_fail, weft_cancelled and weft_cancellable. */
#include "task_internal.h"

#include "park.h"
#include "weft/status.h"

#include <stdio.h>
#include <stdlib.h>

char weft_failed_marker_;

/* The running task's state lives in its parker (park.h): the thread's
 * own, or the coroutine's, so that coroutines sharing a thread keep their
 * own cancel sources and failures. */

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
    weft_parker *p = weft__parker_current();
    free(p->fail_message);
    p->fail_code = code ? code : WEFT_EFAILED;
    p->fail_message = message;
    return WEFT_FAILED;
}

bool weft__take_failure(void *result, int *code, char **message)
{
    weft_parker *p = weft__parker_current();
    if (result != WEFT_FAILED || !p->fail_code)
        return false;
    *code = p->fail_code;
    *message = p->fail_message;
    p->fail_code = 0;
    p->fail_message = NULL;
    return true;
}

bool weft_cancelled(void)
{
    weft_cancel_source *c = weft__parker_current()->task_cancel;
    return c && (atomic_load_explicit(&c->requested, memory_order_relaxed) ||
                 atomic_load_explicit(&c->requests, memory_order_relaxed) > 0);
}

bool weft_cancellable(bool on)
{
    weft_parker *p = weft__parker_current();
    weft_cancel_source *now = p->cancel;
    if (p->task_cancel && !p->cancel_once) /* a coroutine's waits always are */
        p->cancel = on ? p->task_cancel : NULL;
    return now != NULL;
}

weft_task_outcome weft__task_run(weft_task_fn fn, void *arg, weft_cancel_source *cancel)
{
    weft_parker *p = weft__parker_current();
    weft_cancel_source *outer = p->task_cancel, *outer_source = p->cancel;
    weft_parker *outer_parker = cancel ? atomic_load(&cancel->parker) : NULL;
    p->task_cancel = cancel;
    p->cancel = NULL; /* until the task asks for it */
    if (cancel)
        atomic_store(&cancel->parker, p);
    p->fail_code = 0;
    weft_task_outcome out = {fn(arg), 0, NULL};
    if (cancel)
        atomic_store(&cancel->parker, outer_parker);
    p->task_cancel = outer;
    p->cancel = outer_source;
    if (weft__take_failure(out.result, &out.code, &out.message))
        out.result = NULL;
    return out;
}
