/* SPDX-License-Identifier: MIT */
/* weft/export.h — private: WEFT_API, the mark of what libweft exports.
 *
 * The library is compiled with hidden visibility (-fvisibility=hidden), so
 * libweft.so exports only the functions and variables whose declaration in
 * these headers starts with WEFT_API; weft's internal names stay inside
 * it, where no program can come to depend on them or clash with them.
 *
 * The mark is GCC's and Clang's visibility attribute while the library
 * itself is compiled (its build defines WEFT_BUILDING_LIBRARY), and empty
 * everywhere else: in a program using weft, in C++ (any standard), with
 * other compilers.  So a program that links the static library into a
 * shared library of its own decides itself what that one exports.
 * tests/exported_symbols.py checks that libweft.so exports exactly the
 * declarations so marked.
 */
#ifndef WEFT_EXPORT_H
#define WEFT_EXPORT_H

#if defined(WEFT_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#endif /* WEFT_EXPORT_H */
