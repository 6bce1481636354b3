/* SPDX-License-Identifier: MIT */
/* switch_asm.c — the assembly backend's C side: the first frame of a new
 * stack, laid out for switch_asm.S's pops. */
#include "switch.h"
#include "weft/status.h"

#include <stdint.h>
#include <string.h>

void weft__ctx_swap_asm(void **save_sp, void *load_sp);
void weft__ctx_trampoline(void);

#if defined(__x86_64__)
/* From the stack pointer up: MXCSR and x87 control word (their ABI
 * defaults: all exceptions masked, round to nearest, double extended),
 * r15 r14 r13 r12 rbx rbp, the return address, then 16 bytes of zeros (a
 * null return address ends the frame chain) at the aligned top. */
enum { FRAME_WORDS = 8, PAD_WORDS = 2, RBX_WORD = 5, RET_WORD = 7 };
static const uint32_t X86_MXCSR = 0x1F80, X86_FPUCW = 0x037F;
#elif defined(__aarch64__)
/* From the stack pointer up: x19..x28, x29 (0: end of the frame chain),
 * x30 (the trampoline), d8..d15, FPCR (0: round to nearest, no traps) and
 * padding: 176 bytes, leaving sp at the aligned top at the trampoline. */
enum { FRAME_WORDS = 22, PAD_WORDS = 0, RBX_WORD = 0, RET_WORD = 11 };
#endif

int weft__ctx_backend_init_current(weft_ctx *ctx)
{
    (void)ctx; /* the first swap away saves its stack pointer */
    return WEFT_OK;
}

int weft__ctx_backend_make(weft_ctx *ctx, void *stack_base, size_t size)
{
    uintptr_t top = ((uintptr_t)stack_base + size) & ~(uintptr_t)15;
    uintptr_t *frame = (uintptr_t *)top - FRAME_WORDS - PAD_WORDS;
    memset(frame, 0, (FRAME_WORDS + PAD_WORDS) * sizeof *frame);
#if defined(__x86_64__)
    uint32_t controls[2] = {X86_MXCSR, X86_FPUCW};
    memcpy(frame, controls, sizeof controls);
#endif
    frame[RBX_WORD] = (uintptr_t)ctx;
    frame[RET_WORD] = (uintptr_t)weft__ctx_trampoline;
    ctx->sp_ = frame;
    return WEFT_OK;
}

void weft__ctx_backend_swap(weft_ctx *from, weft_ctx *to)
{
    weft__ctx_swap_asm(&from->sp_, to->sp_);
}

void weft__ctx_backend_destroy(weft_ctx *ctx)
{
    (void)ctx;
}

/* Shared stacks: the swap leaves the stack pointer at the callee-saved
 * registers it pushed, the lowest live byte (nothing lives below it). */
int weft__ctx_backend_knows_sp(void)
{
    return 1;
}

void *weft__ctx_backend_saved_sp(const weft_ctx *ctx)
{
    return ctx->sp_;
}

int weft__ctx_backend_reserve(weft_ctx *ctx)
{
    (void)ctx; /* the first frame needs nothing but the stack */
    return WEFT_OK;
}
