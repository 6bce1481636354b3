/* SPDX-License-Identifier: MIT */
/* switch.h — the context switch under the coroutines (layer 1; see
 * docs/coroutines.md).
 *
 * A context is a place to resume: a stack and the callee-saved registers
 * on it.  One thread (its loop) starts, suspends, resumes and finishes
 * coroutines by switching between its own context and theirs:
 *
 *     weft_ctx loop, co;
 *     weft__ctx_init_current(&loop);
 *     weft__ctx_make(&co, stack_base, stack_size, body, arg);
 *     weft__ctx_switch(&loop, &co);    start (then resume) body(arg)
 *         inside body: weft__ctx_switch(&co, &loop)   suspend
 *         at its end:  weft__ctx_exit(&co, &loop)     finish, never returns
 *     weft__ctx_destroy(&co);          once it has finished
 *
 * The backend is hand-written assembly on x86-64 and aarch64 (switch_asm.S)
 * and ucontext elsewhere or with -DWEFT_UCONTEXT_SWITCH=ON; the sanitizers
 * (ASan, TSan) and valgrind are told of every stack and every switch.  The
 * layout below is the same in every build, so code built with and without
 * the hooks agrees on it.
 */
#ifndef WEFT_SWITCH_H
#define WEFT_SWITCH_H

#include <stddef.h>

/* The smallest stack weft__ctx_make accepts (the first frame and the
 * saved registers need far less; the rest is for the body). */
#define WEFT__CTX_MIN_STACK 4096u

typedef struct weft_ctx {
    void *sp_;                /* asm: saved stack pointer; ucontext: its ucontext_t */
    void (*entry_)(void *);   /* the body and its argument, for the first entry */
    void *arg_;
    void *stack_bottom_;      /* ASan: the stack's bounds (learned for the thread's own) */
    size_t stack_size_;
    void *fake_stack_;        /* ASan: the fake stack saved while suspended */
    void *tsan_fiber_;        /* TSan: the fiber of this context */
    unsigned valgrind_id_;    /* valgrind: the registered stack's id */
    unsigned owns_fiber_;     /* TSan: created by weft__ctx_make, destroyed by us */
    struct weft_stack_save *shared_; /* on a shared stack: its save record */
} weft_ctx;

/* Ask the cache for the top of a suspended context's stack, which the
 * switch back to it reads first: the loop calls it as it makes a task
 * ready, so that the lines arrive while it handles the other events of a
 * batch (W12 at 10,000 connections: the switch's first load from a cold
 * stack was 5.5% of the server's CPU).  A hint: it never faults. */
static inline void weft__ctx_prefetch(const weft_ctx *ctx)
{
#if defined(__GNUC__) || defined(__clang__)
    const char *sp = (const char *)ctx->sp_;
    for (int line = 0; line < 4; line++)
        __builtin_prefetch(sp + 64 * line);
#else
    (void)ctx;
#endif
}

/* Make *ctx the context of the calling thread as it runs now, so that it
 * can be switched away from and back to.  Returns WEFT_OK, WEFT_EINVAL (ctx
 * NULL) or WEFT_ENOMEM (ucontext backend).  Free it with weft__ctx_destroy. */
int weft__ctx_init_current(weft_ctx *ctx);

/* Prepare *ctx to run entry(arg) on the stack [stack_base, stack_base +
 * size) at its first weft__ctx_switch to it.  entry must never return: it
 * ends with weft__ctx_exit (a return aborts the process with a message).
 * Returns WEFT_OK, WEFT_EINVAL (a NULL pointer, size below
 * WEFT__CTX_MIN_STACK) or WEFT_ENOMEM (ucontext backend). */
int weft__ctx_make(weft_ctx *ctx, void *stack_base, size_t size,
                   void (*entry)(void *), void *arg);

/* Save the running context into *from and resume *to; returns when some
 * context switches back to *from.  Both on the calling thread. */
void weft__ctx_switch(weft_ctx *from, weft_ctx *to);

/* Like weft__ctx_switch, for a context that has finished: *from is never
 * resumed, and the sanitizers free what they kept for it. */
_Noreturn void weft__ctx_exit(weft_ctx *from, weft_ctx *to);

/* Free what *ctx holds (not its stack).  For a context of weft__ctx_make:
 * only once it has finished or was never started; never the running one. */
void weft__ctx_destroy(weft_ctx *ctx);

/* weft__ctx_make but for the first frame, for a context of a shared stack
 * (shared_stack.c lays the frame at its first entry, with
 * weft__ctx_backend_make: nothing may be written on a shared stack that
 * another context occupies).  Valgrind is told of the shared stack once,
 * not of each context.  Same returns as weft__ctx_make. */
int weft__ctx_make_unlaid(weft_ctx *ctx, void *stack_base, size_t size,
                          void (*entry)(void *), void *arg);

/* The backend's part (switch_asm.c + switch_asm.S, or switch_ucontext.c);
 * switch.c adds the sanitizers' hooks around it. */
int weft__ctx_backend_init_current(weft_ctx *ctx);
int weft__ctx_backend_make(weft_ctx *ctx, void *stack_base, size_t size);
void weft__ctx_backend_swap(weft_ctx *from, weft_ctx *to);
void weft__ctx_backend_destroy(weft_ctx *ctx);
/* For shared stacks: whether the backend can tell a suspended context's
 * stack pointer; that stack pointer (where its live region starts); and
 * what weft__ctx_backend_make will need, allocated ahead (ucontext: its
 * ucontext_t, so that laying the first frame later cannot fail). */
int weft__ctx_backend_knows_sp(void);
void *weft__ctx_backend_saved_sp(const weft_ctx *ctx);
int weft__ctx_backend_reserve(weft_ctx *ctx);

/* The first code to run on a new context (the backends' trampoline calls
 * it): tells the sanitizers the switch is done, then runs the entry. */
_Noreturn void weft__ctx_boot(weft_ctx *ctx);

#endif
