// SPDX-License-Identifier: MIT
// w11_boost.cpp — docs/benchmarks.md W11(a) peer: Boost.Context's raw
// context switch, make_fcontext / jump_fcontext (Debian
// libboost-context-dev), the ceiling for weft's switch.
//
// Written as Boost.Context's own fcontext performance test uses it: the
// coroutine is a loop of `t = jump_fcontext(t.fctx, ...)` that jumps back
// to whoever jumped to it, and the caller keeps the context each jump
// returns (`ctx = jump_fcontext(ctx, ...).fctx`).  The data word carries a
// counter the coroutine bumps on every entry, so the work is checked.
// jump_fcontext saves what weft's switch saves (rbx rbp r12-r15, MXCSR and
// the x87 control word on x86-64); it is one call with nothing around it.
#include "w11_boost.h"

#include <boost/context/detail/fcontext.hpp>

#include <cstdlib>

namespace ctx = boost::context::detail;

static ctx::fcontext_t coroutine;
static long entries;

static void body(ctx::transfer_t t)
{
    for (;;) {
        ++*static_cast<long *>(t.data);
        t = ctx::jump_fcontext(t.fctx, t.data);
    }
}

int w11_boost_start(unsigned long stack_size)
{
    void *stack = std::malloc(stack_size); // kept for the process's life
    if (!stack)
        return -1;
    // make_fcontext takes the top of the stack: it grows down.
    coroutine = ctx::make_fcontext(static_cast<char *>(stack) + stack_size, stack_size, body);
    coroutine = ctx::jump_fcontext(coroutine, &entries).fctx; // first entry: the loop starts
    return 0;
}

long w11_boost_trips(long n)
{
    entries = 0;
    for (long i = 0; i < n; i++)
        coroutine = ctx::jump_fcontext(coroutine, &entries).fctx;
    return entries;
}
