/* SPDX-License-Identifier: MIT */
/* cpu_bound_task.h — the guides' CPU-bound task, sum(i * i for i in
 * range(n)), shared by cpu_three_ways.c and mpi_map.c. */
#ifndef CPU_BOUND_TASK_H
#define CPU_BOUND_TASK_H

#include <stdint.h>

/* Python's cpu_bound_task(number).  The arguments and results are numbers,
 * so they cross to a worker process as they are. */
static inline void *cpu_bound_task(void *arg)
{
    uint64_t n = (uintptr_t)arg, sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += i * i;
#if defined(__GNUC__) || defined(__clang__)
        __asm__ volatile("" : "+r"(sum)); /* keep the loop a loop, as Python's */
#endif
    }
    return (void *)(uintptr_t)sum;
}

#endif
