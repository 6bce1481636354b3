/* SPDX-License-Identifier: MIT */
/* switch_ucontext.c — the portable backend: getcontext, makecontext and
 * swapcontext (each swap also saves the signal mask, a system call: the
 * assembly backend is some ten times faster, docs/coroutines.md). */
#define _GNU_SOURCE
#include "switch.h"
#include "weft/status.h"

#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

int weft__ctx_backend_init_current(weft_ctx *ctx)
{
    ctx->sp_ = calloc(1, sizeof(ucontext_t));
    return ctx->sp_ ? WEFT_OK : WEFT_ENOMEM;
}

/* makecontext passes int arguments only: the context comes in two halves. */
static void trampoline(unsigned hi, unsigned lo)
{
    uintptr_t bits = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo;
    weft__ctx_boot((weft_ctx *)bits);
}

/* A context of a shared stack has its ucontext_t from
 * weft__ctx_backend_reserve already; any other gets it here. */
int weft__ctx_backend_make(weft_ctx *ctx, void *stack_base, size_t size)
{
    ucontext_t *uc = ctx->sp_ ? ctx->sp_ : calloc(1, sizeof *uc);
    if (!uc)
        return WEFT_ENOMEM;
    if (getcontext(uc) != 0) {
        if (uc != ctx->sp_)
            free(uc);
        return WEFT_ENOMEM;
    }
    uc->uc_stack.ss_sp = stack_base;
    uc->uc_stack.ss_size = size;
    uc->uc_link = NULL;
    uintptr_t bits = (uintptr_t)ctx;
    makecontext(uc, (void (*)(void))trampoline, 2, (unsigned)(bits >> 16 >> 16),
                (unsigned)(bits & 0xFFFFFFFFu));
    ctx->sp_ = uc;
    return WEFT_OK;
}

void weft__ctx_backend_swap(weft_ctx *from, weft_ctx *to)
{
    if (swapcontext(from->sp_, to->sp_) != 0)
        abort(); /* only for a bad context: never with these */
}

void weft__ctx_backend_destroy(weft_ctx *ctx)
{
    free(ctx->sp_);
}

/* Shared stacks: swapcontext keeps the registers in the ucontext_t (on the
 * heap), the stack pointer among them, as it is after the call returns; the
 * return address is kept there too, so the live region starts at it. */
#if defined(__x86_64__) && defined(__linux__) && defined(REG_RSP)
#define WEFT__UC_SP(uc) ((void *)(uintptr_t)(uc)->uc_mcontext.gregs[REG_RSP])
#elif defined(__aarch64__) && defined(__linux__)
#define WEFT__UC_SP(uc) ((void *)(uintptr_t)(uc)->uc_mcontext.sp)
#endif

int weft__ctx_backend_knows_sp(void)
{
#ifdef WEFT__UC_SP
    return 1;
#else
    return 0;
#endif
}

void *weft__ctx_backend_saved_sp(const weft_ctx *ctx)
{
#ifdef WEFT__UC_SP
    return WEFT__UC_SP((const ucontext_t *)ctx->sp_);
#else
    (void)ctx;
    return NULL;
#endif
}

int weft__ctx_backend_reserve(weft_ctx *ctx)
{
    ctx->sp_ = calloc(1, sizeof(ucontext_t));
    return ctx->sp_ ? WEFT_OK : WEFT_ENOMEM;
}
