/* SPDX-License-Identifier: MIT */
/* weft/atomic_field.h — private: how the public structs declare their atomic
 * fields, so that the headers are valid C11 and valid C++11 and later.
 *
 * In C a field declared WEFT_ATOMIC_FIELD_(T) is _Atomic(T), exactly as
 * before.  C++ has no _Atomic before C++23 (and `<stdatomic.h>` only from
 * C++23), and `std::atomic<T>` would not do either: it is not copyable, so
 * WEFT_LOCK_INIT and the other brace initializers could not fill it in
 * C++11/14, and `<atomic>` holds templates that cannot sit in the headers'
 * extern "C" blocks.  So in C++ the field is a plain T aligned as GCC and
 * Clang align _Atomic(T) (to its size, for the 4- and 8-byte integers used
 * here): the struct keeps the size, alignment and field offsets the C
 * library was built with, and the brace initializers stay constant
 * expressions, so a namespace-scope static is constant-initialized.
 *
 * C++ code never reads or writes these fields (they are private); only
 * weft's C code does, through the atomic operations of <stdatomic.h>.
 * tests/test_cxx.cpp checks that the C and C++ layouts agree.
 */
#ifndef WEFT_ATOMIC_FIELD_H
#define WEFT_ATOMIC_FIELD_H

#ifdef __cplusplus
#define WEFT_ATOMIC_FIELD_(T) alignas(sizeof(T)) T
#else
#include <stdatomic.h>
#define WEFT_ATOMIC_FIELD_(T) _Atomic(T)
#endif

#endif /* WEFT_ATOMIC_FIELD_H */
