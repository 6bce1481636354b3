/* SPDX-License-Identifier: MIT */
/* sanitize.h — WEFT__ASAN and WEFT__TSAN: defined when this file is built
 * with AddressSanitizer or ThreadSanitizer (gcc says so with
 * __SANITIZE_*__, clang with __has_feature), for the code that tells them
 * of its stack switches and copies (switch.c, shared_stack.c). */
#ifndef WEFT_SANITIZE_H
#define WEFT_SANITIZE_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define WEFT__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(WEFT__ASAN)
#define WEFT__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(WEFT__TSAN)
#define WEFT__TSAN 1
#endif

#endif
