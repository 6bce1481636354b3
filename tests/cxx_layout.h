/* SPDX-License-Identifier: MIT */
/* cxx_layout.h — the layout of weft's public structs, as one translation
 * unit sees it: built once as C (cxx_layout.c, the library's view) and once
 * as C++ (test_cxx.cpp), so the test can check that a C++ program lays the
 * structs out as the C library does (see weft/atomic_field.h).
 *
 * Every public struct and enum whose definition is in a header: its size
 * and alignment; and the offset of every field of the structs that hold
 * atomic fields (the only fields declared differently in C++), and of
 * weft_bytes.data (a flexible array member, an extension in C++). */
#ifndef WEFT_TEST_CXX_LAYOUT_H
#define WEFT_TEST_CXX_LAYOUT_H

#include "weft.h"

#include <stddef.h>

#ifdef __cplusplus
#define WEFT_LAYOUT_ALIGNOF_(T) alignof(T)
extern "C" {
#else
#define WEFT_LAYOUT_ALIGNOF_(T) _Alignof(T)
#endif

#define WEFT_LAYOUT_TYPES_(X)                                                 \
    X(weft_lock) X(weft_rlock) X(weft_condition_waiter_) X(weft_condition)   \
    X(weft_event) X(weft_semaphore) X(weft_local) X(weft_barrier)            \
    X(weft_guard_) X(weft_bytes) X(weft_thread_options)                       \
    X(weft_queue_options) X(weft_thread_pool_options) X(weft_map_options)    \
    X(weft_executor_stats) X(weft_process_options)                           \
    X(weft_process_pool_options) X(weft_future_state) X(weft_return_when)    \
    X(weft_queue_kind) X(weft_daemon_mode)

#define WEFT_LAYOUT_FIELDS_(X)                                                \
    X(weft_lock, state_)                                                      \
    X(weft_rlock, lock_) X(weft_rlock, owner_) X(weft_rlock, depth_)         \
    X(weft_condition_waiter_, next) X(weft_condition_waiter_, notified)      \
    X(weft_condition, kind_) X(weft_condition, lock_)                        \
    X(weft_condition, rlock_) X(weft_condition, own_)                        \
    X(weft_condition, head_) X(weft_condition, tail_)                        \
    X(weft_event, word_) X(weft_event, sleepers_)                            \
    X(weft_semaphore, value_) X(weft_semaphore, sleepers_)                   \
    X(weft_semaphore, bound_) X(weft_semaphore, bounded_)                    \
    X(weft_local, slot_) X(weft_local, init_) X(weft_local, init_arg_)      \
    X(weft_local, destroy_)                                                   \
    X(weft_barrier, lock_) X(weft_barrier, cond_) X(weft_barrier, parties_) \
    X(weft_barrier, count_) X(weft_barrier, state_)                          \
    X(weft_barrier, timeout_) X(weft_barrier, action_)                       \
    X(weft_barrier, action_arg_)                                              \
    X(weft_bytes, size) X(weft_bytes, data)

#define WEFT_LAYOUT_SIZE_(T)                                                  \
    { "sizeof " #T, sizeof(T) }, { "alignof " #T, WEFT_LAYOUT_ALIGNOF_(T) },
#define WEFT_LAYOUT_OFFSET_(T, f) { "offsetof " #T "." #f, offsetof(T, f) },

/* The table's initializer: the same text in C and in C++. */
#define WEFT_LAYOUT_TABLE_                                                    \
    { WEFT_LAYOUT_TYPES_(WEFT_LAYOUT_SIZE_) WEFT_LAYOUT_FIELDS_(WEFT_LAYOUT_OFFSET_) }

typedef struct weft_layout_entry {
    const char *what;
    size_t value;
} weft_layout_entry;

/* The table as the C compiler sees it (cxx_layout.c). */
extern const weft_layout_entry weft_layout_c[];
extern const size_t weft_layout_c_count;

#ifdef __cplusplus
}
#endif
#endif /* WEFT_TEST_CXX_LAYOUT_H */
