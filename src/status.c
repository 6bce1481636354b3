/* SPDX-License-Identifier: MIT */
/* status.c — names and descriptions of weft statuses. */
#include "weft/status.h"

#include <stddef.h>

static const struct {
    const char *name;
    const char *text;
} statuses[WEFT_STATUS_COUNT_] = {
    [WEFT_OK] = {"WEFT_OK", "success"},
    [WEFT_ETIMEDOUT] = {"WEFT_ETIMEDOUT", "timed out"},
    [WEFT_ECANCELLED] = {"WEFT_ECANCELLED", "cancelled"},
    [WEFT_EEMPTY] = {"WEFT_EEMPTY", "queue is empty"},
    [WEFT_EFULL] = {"WEFT_EFULL", "queue is full"},
    [WEFT_ESHUTDOWN] = {"WEFT_ESHUTDOWN", "shut down"},
    [WEFT_EBROKEN] = {"WEFT_EBROKEN", "broken (barrier or executor)"},
    [WEFT_EINVAL] = {"WEFT_EINVAL", "invalid argument"},
    [WEFT_ESTATE] = {"WEFT_ESTATE", "invalid state for this operation"},
    [WEFT_ENOTOWNER] = {"WEFT_ENOTOWNER", "lock not held by the caller"},
    [WEFT_ENOMEM] = {"WEFT_ENOMEM", "out of memory"},
    [WEFT_EFAILED] = {"WEFT_EFAILED", "task failed"},
    [WEFT_EAGAIN] = {"WEFT_EAGAIN", "resource unavailable (the OS refused a thread)"},
    [WEFT_ESTOP] = {"WEFT_ESTOP", "iteration is over"},
    [WEFT_ECONNREFUSED] = {"WEFT_ECONNREFUSED", "connection refused"},
    [WEFT_ECONNRESET] = {"WEFT_ECONNRESET", "connection reset"},
    [WEFT_EPIPE] = {"WEFT_EPIPE", "broken pipe (the peer is gone)"},
    [WEFT_EADDRINUSE] = {"WEFT_EADDRINUSE", "address already in use"},
    [WEFT_ENAME] = {"WEFT_ENAME", "name or service not known"},
    [WEFT_EINCOMPLETE] = {"WEFT_EINCOMPLETE", "end of file before the bytes expected"},
    [WEFT_ELIMIT] = {"WEFT_ELIMIT", "separator not found within the limit"},
    [WEFT_EOS] = {"WEFT_EOS", "system error (see errno)"},
};

const char *weft_strerror(int status)
{
    if (status < 0 || status >= WEFT_STATUS_COUNT_)
        return "unknown weft status";
    return statuses[status].text;
}

const char *weft_status_name(int status)
{
    if (status < 0 || status >= WEFT_STATUS_COUNT_)
        return "WEFT_UNKNOWN";
    return statuses[status].name;
}
