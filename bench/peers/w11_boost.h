/* SPDX-License-Identifier: MIT */
/* w11_boost.h — docs/benchmarks.md W11(a) peer, Boost.Context's
 * jump_fcontext (w11_boost.cpp), as C functions that bench_switch times
 * beside weft's switch and swapcontext in the same repetitions. */
#ifndef WEFT_W11_BOOST_H
#define WEFT_W11_BOOST_H

#ifdef __cplusplus
extern "C" {
#endif

/* Make the coroutine on a malloc'd stack of stack_size bytes and enter it
 * once; 0, or -1 when the stack cannot be had. */
int w11_boost_start(unsigned long stack_size);

/* n round trips into the coroutine and back (2n jump_fcontext calls);
 * returns the round trips the coroutine counted, which must be n. */
long w11_boost_trips(long n);

#ifdef __cplusplus
}
#endif

#endif
