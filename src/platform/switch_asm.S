/* SPDX-License-Identifier: MIT */
/* switch_asm.S — weft__ctx_swap_asm(void **save_sp, void *load_sp) and the
 * first-entry trampoline, for x86-64 (System V) and aarch64 (AAPCS64).
 *
 * A swap pushes the callee-saved registers onto the running stack, stores
 * the stack pointer in *save_sp, loads load_sp and pops the other context's
 * registers: the caller-saved ones are dead across the call by the ABI.  The
 * stack pointer is lowered before anything is stored below it, so it never
 * points below live data (nothing may live under it on SysV: signals).
 * switch_asm.c lays out a new stack so that its first pop lands in
 * weft__ctx_trampoline with the context in a callee-saved register. */

#if defined(__x86_64__)

#if defined(__CET__)
#define WEFT_ENDBR endbr64
#else
#define WEFT_ENDBR
#endif

    .text
    .globl  weft__ctx_swap_asm
    .hidden weft__ctx_swap_asm
    .type   weft__ctx_swap_asm, @function
    .p2align 4
weft__ctx_swap_asm:
    WEFT_ENDBR
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)              /* MXCSR: SSE rounding and exception masks */
    fnstcw  4(%rsp)             /* x87 control word */
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .size   weft__ctx_swap_asm, .-weft__ctx_swap_asm

/* Reached by the first swap's ret, with %rsp 16-byte aligned and %rbx the
 * context: the call below enters weft__ctx_boot as a normal call would. */
    .globl  weft__ctx_trampoline
    .hidden weft__ctx_trampoline
    .type   weft__ctx_trampoline, @function
    .p2align 4
weft__ctx_trampoline:
    WEFT_ENDBR
    movq    %rbx, %rdi
    call    weft__ctx_boot
    ud2                         /* weft__ctx_boot never returns */
    .size   weft__ctx_trampoline, .-weft__ctx_trampoline

#elif defined(__aarch64__)

    .text
    .globl  weft__ctx_swap_asm
    .hidden weft__ctx_swap_asm
    .type   weft__ctx_swap_asm, %function
    .p2align 4
weft__ctx_swap_asm:
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr            /* rounding mode and trap enables */
    str     x9, [sp, #160]
    mov     x9, sp
    str     x9, [x0]
    mov     sp, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x9, [sp, #160]
    msr     fpcr, x9
    add     sp, sp, #176
    ret                         /* to x30: the caller, or the trampoline */
    .size   weft__ctx_swap_asm, .-weft__ctx_swap_asm

/* Reached by the first swap's ret, with sp 16-byte aligned and x19 the
 * context; x29 = 0 ends the frame chain for unwinders. */
    .globl  weft__ctx_trampoline
    .hidden weft__ctx_trampoline
    .type   weft__ctx_trampoline, %function
    .p2align 4
weft__ctx_trampoline:
    mov     x0, x19
    bl      weft__ctx_boot
    brk     #0                  /* weft__ctx_boot never returns */
    .size   weft__ctx_trampoline, .-weft__ctx_trampoline

#else
#error "switch_asm.S: no assembly for this architecture (build with -DWEFT_UCONTEXT_SWITCH=ON)"
#endif

    .section .note.GNU-stack, "", %progbits
