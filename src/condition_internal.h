/* SPDX-License-Identifier: MIT */
/* condition_internal.h — the condition calls the rest of the library uses
 * inside it (condition.c). */
#ifndef WEFT_CONDITION_INTERNAL_H
#define WEFT_CONDITION_INTERNAL_H

#include "weft/condition.h"

#include <stdint.h>

/* Condition waits with an absolute deadline (the barrier counts one
 * deadline across several waits). */
int weft__condition_wait_until(weft_condition *cond, int64_t deadline);
int weft__condition_wait_for_until(weft_condition *cond, weft_predicate predicate, void *arg,
                                  int64_t deadline);

#endif
