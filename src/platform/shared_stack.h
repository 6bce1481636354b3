/* SPDX-License-Identifier: MIT */
/* shared_stack.h — the coroutines' memory mode: many contexts take turns on
 * one stack (layer 1; see docs/coroutines.md, "Shared stacks").
 *
 * A shared stack is one weft_stack that several contexts run on, one at a
 * time.  The one whose frames are on it is its occupant.  Before a loop
 * switches to a context of a shared stack, weft__shared_stack_enter (or
 * weft__ctx_switch_in, which also switches) makes that context the
 * occupant: the previous occupant's live region, from its saved stack
 * pointer up to the stack's top, is copied out to the heap buffer of its
 * save record, and the new one's is copied back to the very addresses it
 * had.  A suspended context thus costs only the bytes its frames use.
 *
 *     weft_shared_stack *ss;
 *     weft__shared_stack_new(256 * 1024, &ss);
 *     weft__ctx_make_shared(&co->ctx, ss, &co->save, body, co);
 *     weft__ctx_switch_in(&loop, &co->ctx);   evict, restore, switch
 *         inside body: weft__ctx_switch(&co->ctx, &loop)   suspend
 *         at its end:  weft__ctx_exit(&co->ctx, &loop)     frees its copy
 *     weft__ctx_destroy(&co->ctx);            the stack forgets it
 *     weft__shared_stack_free(ss);            once no context uses it
 *
 * The rules:
 *  - The copy runs on the calling thread's own stack: enter (and switch
 *    in) only from a stack that is not the shared one (a loop's thread),
 *    never from a coroutine that runs on it.
 *  - While a context is suspended, nothing may use the address of anything
 *    on its stack: another context's frames may be there instead.
 *  - A shared stack, its contexts and their save records belong to the
 *    thread that made the stack; a context and its save record must not
 *    move in memory once made, and weft__ctx_destroy comes before the save
 *    record's memory is freed.
 *  - weft__ctx_destroy may also drop a context that is suspended (resident
 *    or evicted): its frames are forgotten, its copy freed.
 */
#ifndef WEFT_SHARED_STACK_H
#define WEFT_SHARED_STACK_H

#include "stack.h"
#include "switch.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct weft_shared_stack weft_shared_stack;

/* A context's turn on its shared stack.  The caller gives the memory (the
 * coroutine's own record, on the heap); weft__ctx_make_shared fills it. */
typedef struct weft_stack_save {
    weft_shared_stack *stack_; /* the stack it runs on */
    weft_ctx *ctx_;            /* the context it saves for */
    unsigned char *copy_;      /* the live region while evicted (heap) */
    size_t len_;               /* bytes in copy_ while evicted */
    size_t cap_;               /* bytes allocated at copy_ */
    unsigned state_;           /* fresh, resident, evicted or finished */
} weft_stack_save;

/* Whether this build can run contexts on shared stacks: the backend tells
 * a suspended context's stack pointer (the assembly one, and ucontext on
 * x86-64 and aarch64 Linux).  When false, weft__ctx_make_shared returns
 * WEFT_ESTATE and a loop gives its coroutines their own stacks. */
bool weft__shared_stack_supported(void);

/* A shared stack of at least size usable bytes (weft__stack_new's rounding
 * and minimum), into *out.  Returns WEFT_OK, WEFT_EINVAL (out NULL, size 0
 * or too large) or WEFT_ENOMEM; *out is NULL but on WEFT_OK. */
int weft__shared_stack_new(size_t size, weft_shared_stack **out);

/* Free the stack (its memory goes to the thread's stack pool).  Returns
 * WEFT_OK; WEFT_EINVAL (NULL, or another thread's stack: left as it is);
 * WEFT_ESTATE while a context made on it is not destroyed yet. */
int weft__shared_stack_free(weft_shared_stack *ss);

/* The usable area of the stack (as weft__stack_base and _size). */
void *weft__shared_stack_base(const weft_shared_stack *ss);
size_t weft__shared_stack_size(const weft_shared_stack *ss);

/* Contexts made on ss and not destroyed yet (for tests). */
size_t weft__shared_stack_users(const weft_shared_stack *ss);

/* Prepare *ctx to run entry(arg) on the shared stack ss, with *save as its
 * save record, as weft__ctx_make does for a stack of its own (entry ends
 * with weft__ctx_exit).  Nothing is written on ss now (a context running
 * on it may call this): the first frame is laid at its first entry.
 * Returns WEFT_OK; WEFT_EINVAL (a NULL pointer, or ss another thread's);
 * WEFT_ESTATE (!weft__shared_stack_supported()); WEFT_ENOMEM (ucontext
 * backend).  Free it with weft__ctx_destroy. */
int weft__ctx_make_shared(weft_ctx *ctx, weft_shared_stack *ss, weft_stack_save *save,
                          void (*entry)(void *), void *arg);

/* Make *ctx the occupant of its shared stack, so that a switch to it
 * resumes it: copy the occupant's live region out to its save record (the
 * record's buffer grows as needed) and ctx's back (a fresh context gets its
 * first frame instead); nothing when ctx already is the occupant or has a
 * stack of its own.  Call it on a stack other than ctx's shared one, with
 * no context of that stack running.  Returns WEFT_OK; WEFT_EINVAL (ctx
 * NULL, another thread's stack, or called on the shared stack itself);
 * WEFT_ESTATE (ctx has finished); WEFT_ENOMEM (no memory for the
 * occupant's copy: nothing changed, the occupant stays, try again later). */
int weft__shared_stack_enter(weft_ctx *ctx);

/* weft__shared_stack_enter(to), then weft__ctx_switch(from, to): returns
 * WEFT_OK when some context has switched back to *from, or at once with
 * enter's error (no switch then). */
int weft__ctx_switch_in(weft_ctx *from, weft_ctx *to);

/* Bytes the save record holds on the heap (its buffer's capacity: 0 while
 * it is fresh, and once it has finished), and the bytes of its live region
 * while evicted (0 otherwise).  For the loop's figures and the tests. */
size_t weft__stack_save_held(const weft_stack_save *save);
size_t weft__stack_save_live(const weft_stack_save *save);

/* The stack a context made on a shared stack runs on (for the overflow
 * checks of weft__stack_intact), NULL for one of its own. */
const weft_stack *weft__shared_stack_of(const weft_stack_save *save);

/* switch.c's calls into the shared stacks: when the context of save ends
 * (weft__ctx_exit: its copy is freed) and when it is destroyed (the stack
 * forgets it). */
void weft__shared_stack_on_exit(weft_stack_save *save);
void weft__shared_stack_on_destroy(weft_stack_save *save);

#endif
