/* SPDX-License-Identifier: MIT */
/* stack.h — coroutine stacks (layer 1; see docs/coroutines.md).
 *
 * A stack is an anonymous mapping, committed page by page as it is touched,
 * with a PROT_NONE guard page below it.  A coroutine that runs into the
 * guard page stops the process with a message naming it and its stack's
 * size (a SIGSEGV handler on an alternate signal stack); any other SIGSEGV
 * goes on to the handler that was there before (the default: a core).
 *
 * A stack belongs to the thread that creates it, which runs its coroutine
 * and frees it (one loop per thread): a freed stack goes to that thread's
 * pool, up to WEFT__STACK_POOL_MAX of them, for the next stack of the same
 * size; a thread's pool is unmapped when the thread ends.
 */
#ifndef WEFT_STACK_H
#define WEFT_STACK_H

#include <stdbool.h>
#include <stddef.h>

/* The smallest stack (after rounding up to pages). */
#define WEFT__STACK_MIN ((size_t)16384)
/* Freed stacks a thread keeps for reuse. */
#define WEFT__STACK_POOL_MAX 16
/* The longest name kept (longer ones are cut). */
#define WEFT__STACK_NAME_MAX 47

typedef struct weft_stack weft_stack;

/* A stack of at least size usable bytes (rounded up to pages; at least
 * WEFT__STACK_MIN) for the coroutine called name (NULL: "?"; copied),
 * into *out.  The first on a thread also gives the thread its alternate
 * signal stack and installs the overflow handler (once per process).
 * Returns WEFT_OK, WEFT_EINVAL (out NULL, size 0 or too large) or
 * WEFT_ENOMEM (no memory for the mapping); *out is NULL but on WEFT_OK. */
int weft__stack_new(size_t size, const char *name, weft_stack **out);

/* Give the stack back: to this thread's pool, or unmapped when the pool is
 * full.  Returns WEFT_OK, or WEFT_EINVAL (NULL, or a stack of another
 * thread's: left as it is). */
int weft__stack_free(weft_stack *stack);

/* The usable area: from the lowest usable byte, size bytes (for
 * weft__ctx_make). */
void *weft__stack_base(const weft_stack *stack);
size_t weft__stack_size(const weft_stack *stack);

/* Whether the stack has not overflowed: always, for one with a guard page
 * (an overflow faults there); a stack from a slab (past the process's
 * budget of guarded ones, stack.c) checks the canary at the top of its
 * lowest page.  The loop looks each time a coroutine switches out. */
bool weft__stack_intact(const weft_stack *stack);

/* Whether it has a guard page (then weft__stack_intact needs no look). */
bool weft__stack_guarded(const weft_stack *stack);

/* As weft__stack_intact, looking at the whole red zone (4 KiB: the loop
 * does it once, when the task ends). */
bool weft__stack_intact_fully(const weft_stack *stack);

/* How many guarded stacks all threads may hold before stacks come from
 * slabs (0: a quarter of vm.max_map_count, the default).  For tests. */
void weft__stack_set_guard_budget(long stacks);

/* Report an overflow of `stack` as the guard page's handler does, and
 * abort. */
_Noreturn void weft__stack_overflowed(const weft_stack *stack);

/* Unmap this thread's pooled stacks now.  Returns how many. */
int weft__stack_pool_clear(void);

/* Stacks in this thread's pool (for tests). */
int weft__stack_pool_count(void);

/* The calling thread's alternate signal stack and the process's overflow
 * handler (weft__stack_new does it on first use; a loop may call it early).
 * Returns WEFT_OK or WEFT_ENOMEM. */
int weft__stack_thread_prepare(void);

/* Install the overflow handler again if another has replaced it since
 * (a program's own, a test framework's); the one found is the one a fault
 * outside the guard pages goes to.  Returns WEFT_OK, or WEFT_EINVAL when
 * sigaction refuses. */
int weft__stack_catch_overflows(void);

#endif
