/* SPDX-License-Identifier: MIT */
/* cxx_headers_use.cpp — compiled (not run) by cxx_headers.cmake under every
 * C++ standard and compiler: expands each public macro of weft.h in C++,
 * so the macros, not only the declarations, are checked. */
#include "weft.h"

#if __cplusplus >= 202002L
#define USE_CONSTINIT constinit
#else
#define USE_CONSTINIT
#endif

namespace {

USE_CONSTINIT weft_lock lock = WEFT_LOCK_INIT;
USE_CONSTINIT weft_rlock rlock = WEFT_RLOCK_INIT;
USE_CONSTINIT weft_condition cond = WEFT_CONDITION_INIT;
USE_CONSTINIT weft_semaphore sem = WEFT_SEMAPHORE_INIT(1);
USE_CONSTINIT weft_semaphore bounded = WEFT_BOUNDED_SEMAPHORE_INIT(3);
USE_CONSTINIT weft_event event = WEFT_EVENT_INIT;

void *make_value(void *arg) { return arg; }
void drop_value(void *) {}
USE_CONSTINIT weft_local local = WEFT_LOCAL_INIT(drop_value);
USE_CONSTINIT weft_local local_with = WEFT_LOCAL_INIT_WITH(make_value, nullptr, drop_value);

} /* namespace */

int use_every_macro(weft_bytes *bytes);
int use_every_macro(weft_bytes *bytes)
{
    int n = 0;
    WEFT_WITH(&lock) {
        n++;
    }
    WEFT_WITH(&rlock) {
        n++;
    }
    WEFT_WITH(&cond) {
        n++;
    }
    WEFT_WITH(&sem) {
        WEFT_SCOPED(&bounded);
        n++;
    }
    weft_event_set(&event);
    weft_local_set(&local, weft_local_get(&local_with));
    if (weft_fail(WEFT_EINVAL, "x %d", n) == WEFT_FAILED)
        n++;
    if (weft_lock_acquire_timeout(&lock, WEFT_FOREVER) == WEFT_OK)
        weft_lock_release(&lock);
    static_assert(WEFT_VERSION_MAJOR >= 0 && WEFT_HAVE_WITH == 1, "version, with");
    return n + bytes->data[0] + static_cast<int>(WEFT_SEMAPHORE_VALUE_MAX > 0);
}
