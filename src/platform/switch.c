/* SPDX-License-Identifier: MIT */
/* switch.c — the context switch's front: the sanitizers' and valgrind's
 * hooks around the backend's swap (docs/coroutines.md says why each). */
#define _GNU_SOURCE
#include "switch.h"
#include "sanitize.h"
#include "shared_stack.h"
#include "weft/status.h"

#include <stdlib.h>
#include <unistd.h>

#ifdef WEFT__ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef WEFT__TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef WEFT_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#ifdef WEFT__ASAN
/* The context being left, so that the one resumed can record the bounds of
 * its stack: ASan tells them only to the side that arrives (a thread's own
 * stack is learned this way, at the first switch away from it). */
static _Thread_local weft_ctx *asan_leaving;

static void asan_leave(weft_ctx *from, weft_ctx *to, int finished)
{
    asan_leaving = from;
    __sanitizer_start_switch_fiber(finished ? NULL : &from->fake_stack_,
                                   to->stack_bottom_, to->stack_size_);
}

static void asan_arrive(void *fake_stack)
{
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(fake_stack, &bottom, &size);
    if (asan_leaving) {
        asan_leaving->stack_bottom_ = (void *)bottom;
        asan_leaving->stack_size_ = size;
    }
}
#endif

int weft__ctx_init_current(weft_ctx *ctx)
{
    if (!ctx)
        return WEFT_EINVAL;
    *ctx = (weft_ctx){0};
#ifdef WEFT__TSAN
    ctx->tsan_fiber_ = __tsan_get_current_fiber();
#endif
    return weft__ctx_backend_init_current(ctx);
}

/* The fields, the backend's state and TSan's fiber of a new context; the
 * first frame too when lay_frame (else it is only reserved for). */
static int make_context(weft_ctx *ctx, void *stack_base, size_t size,
                        void (*entry)(void *), void *arg, int lay_frame)
{
    if (!ctx || !stack_base || !entry || size < WEFT__CTX_MIN_STACK)
        return WEFT_EINVAL;
    *ctx = (weft_ctx){.entry_ = entry, .arg_ = arg,
                      .stack_bottom_ = stack_base, .stack_size_ = size};
    int status = lay_frame ? weft__ctx_backend_make(ctx, stack_base, size)
                           : weft__ctx_backend_reserve(ctx);
    if (status != WEFT_OK)
        return status;
#ifdef WEFT__TSAN
    ctx->tsan_fiber_ = __tsan_create_fiber(0);
    ctx->owns_fiber_ = 1;
#endif
    return WEFT_OK;
}

int weft__ctx_make(weft_ctx *ctx, void *stack_base, size_t size,
                   void (*entry)(void *), void *arg)
{
    int status = make_context(ctx, stack_base, size, entry, arg, 1);
#ifdef WEFT_HAVE_VALGRIND_H
    if (status == WEFT_OK)
        ctx->valgrind_id_ = VALGRIND_STACK_REGISTER(stack_base, (char *)stack_base + size);
#endif
    return status;
}

int weft__ctx_make_unlaid(weft_ctx *ctx, void *stack_base, size_t size,
                          void (*entry)(void *), void *arg)
{
    return make_context(ctx, stack_base, size, entry, arg, 0);
}

/* Tell the sanitizers that `from` is left for `to` (for good when
 * finished), then swap. */
static void leave_and_swap(weft_ctx *from, weft_ctx *to, int finished)
{
#ifdef WEFT__ASAN
    asan_leave(from, to, finished);
#else
    (void)finished;
#endif
#ifdef WEFT__TSAN
    __tsan_switch_to_fiber(to->tsan_fiber_, 0);
#endif
    weft__ctx_backend_swap(from, to);
}

void weft__ctx_switch(weft_ctx *from, weft_ctx *to)
{
    leave_and_swap(from, to, 0);
#ifdef WEFT__ASAN
    asan_arrive(from->fake_stack_);
#endif
}

_Noreturn void weft__ctx_exit(weft_ctx *from, weft_ctx *to)
{
    if (from->shared_)
        weft__shared_stack_on_exit(from->shared_);
    leave_and_swap(from, to, 1);
    abort(); /* a finished context was resumed: a bug of the caller's */
}

void weft__ctx_destroy(weft_ctx *ctx)
{
    if (!ctx)
        return;
#ifdef WEFT__TSAN
    if (ctx->owns_fiber_)
        __tsan_destroy_fiber(ctx->tsan_fiber_);
#endif
    if (ctx->shared_)
        weft__shared_stack_on_destroy(ctx->shared_); /* before the backend's state goes */
#ifdef WEFT_HAVE_VALGRIND_H
    else if (ctx->entry_)
        VALGRIND_STACK_DEREGISTER(ctx->valgrind_id_);
#endif
    weft__ctx_backend_destroy(ctx);
    *ctx = (weft_ctx){0};
}

_Noreturn void weft__ctx_boot(weft_ctx *ctx)
{
#ifdef WEFT__ASAN
    asan_arrive(NULL);
#endif
    ctx->entry_(ctx->arg_);
    static const char msg[] = "weft: a coroutine's entry returned (it must end "
                              "with weft__ctx_exit)\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    abort();
}
