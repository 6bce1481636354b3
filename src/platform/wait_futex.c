/* SPDX-License-Identifier: MIT */
/* wait_futex.c — weft__pf_wait/wake on the Linux futex system call.
 * FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wait
 * that is interrupted and restarted never drifts. */
#define _GNU_SOURCE
#include "platform.h"
#include "weft/status.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int weft__pf_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ns)
{
    struct timespec ts, *tsp = NULL;
    if (deadline_ns != WEFT_PF_NO_DEADLINE) {
        if (deadline_ns <= weft__pf_now_ns())
            return WEFT_ETIMEDOUT;
        ts.tv_sec = (time_t)(deadline_ns / 1000000000);
        ts.tv_nsec = (long)(deadline_ns % 1000000000);
        tsp = &ts;
    }
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                     expected, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == -1 && errno == ETIMEDOUT)
        return WEFT_ETIMEDOUT;
    return WEFT_OK; /* woken, value changed (EAGAIN), or a signal (EINTR) */
}

void weft__pf_wake(_Atomic uint32_t *word, int32_t n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

void weft__pf_wait_atfork(int phase) { (void)phase; /* the kernel keeps no state to fix */ }
