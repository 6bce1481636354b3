/* SPDX-License-Identifier: MIT */
/* shared_stack.c — contexts taking turns on one stack, each one's live
 * region copied out to its save record while another runs there.
 *
 * A stack grows down from its top, so a suspended context's live region is
 * [its saved stack pointer, the top): its frames and, lowest, the registers
 * the swap pushed.  Nothing below the stack pointer is live (the swap and
 * its caller keep nothing in a red zone: the caller calls, the swap pushes
 * only after lowering the pointer).  The region goes back to the same
 * addresses, so pointers into it (frame links, a local's address passed to
 * a callee) hold again once it is restored. */
#define _GNU_SOURCE
#include "shared_stack.h"
#include "sanitize.h"
#include "weft/status.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef WEFT__ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef WEFT_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define WEFT__MEMCHECK 1
#endif
#endif
#endif

enum save_state {
    SAVE_FRESH,    /* made, never entered: no frame anywhere yet */
    SAVE_RESIDENT, /* the occupant: its frames are on the stack */
    SAVE_EVICTED,  /* its live region is in its copy */
    SAVE_FINISHED, /* ended (or destroyed): nothing to keep */
};

/* A copy this large that a quarter of it would hold is cut down. */
enum { SHRINK_ABOVE = 4096 };

struct weft_shared_stack {
    weft_stack *stack;
    unsigned char *base, *top;   /* the usable area */
    weft_stack_save *occupant;   /* whose frames are on it, or NULL */
    size_t users;                /* contexts made on it, not destroyed */
    const void *thread;          /* its thread's tag */
    unsigned valgrind_id;
};

/* One address per live thread: a stack and its contexts are its thread's. */
static _Thread_local char thread_tag;

static int mine(const weft_shared_stack *ss)
{
    return ss->thread == &thread_tag;
}

bool weft__shared_stack_supported(void)
{
    return weft__ctx_backend_knows_sp() != 0;
}

/* ---- the stack ---- */

/* ASan: the shadow of a region of the shared stack said which bytes of the
 * frames that were there are redzones; those frames leave (copied out) or
 * come back over others', so the region is made plain again before it is
 * copied either way.  The copies themselves then are ordinary memcpy calls,
 * which ASan checks on the heap side (the save buffer) as everywhere.  The
 * price: a restored frame's redzones are no longer watched (until it
 * returns and its function's next call poisons them afresh). */
static void forget_shadow(const unsigned char *from, size_t n)
{
#ifdef WEFT__ASAN
    __asan_unpoison_memory_region(from, n);
#else
    (void)from;
    (void)n;
#endif
}

int weft__shared_stack_new(size_t size, weft_shared_stack **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return WEFT_EINVAL;
    weft_shared_stack *ss = calloc(1, sizeof *ss);
    if (!ss)
        return WEFT_ENOMEM;
    int status = weft__stack_new(size, "(shared stack)", &ss->stack);
    if (status != WEFT_OK) {
        free(ss);
        return status;
    }
    ss->base = weft__stack_base(ss->stack);
    ss->top = ss->base + weft__stack_size(ss->stack);
    ss->thread = &thread_tag;
#ifdef WEFT_HAVE_VALGRIND_H
    /* Once for all its contexts: valgrind looks stacks up in a list. */
    ss->valgrind_id = VALGRIND_STACK_REGISTER(ss->base, ss->top);
#endif
    *out = ss;
    return WEFT_OK;
}

int weft__shared_stack_free(weft_shared_stack *ss)
{
    if (!ss || !mine(ss))
        return WEFT_EINVAL;
    if (ss->users)
        return WEFT_ESTATE;
#ifdef WEFT_HAVE_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(ss->valgrind_id);
#endif
    forget_shadow(ss->base, (size_t)(ss->top - ss->base)); /* pooled, for anyone */
    int status = weft__stack_free(ss->stack);
    free(ss);
    return status;
}

void *weft__shared_stack_base(const weft_shared_stack *ss)
{
    return ss->base;
}

size_t weft__shared_stack_size(const weft_shared_stack *ss)
{
    return (size_t)(ss->top - ss->base);
}

size_t weft__shared_stack_users(const weft_shared_stack *ss)
{
    return ss->users;
}

/* ---- the contexts ---- */

int weft__ctx_make_shared(weft_ctx *ctx, weft_shared_stack *ss, weft_stack_save *save,
                          void (*entry)(void *), void *arg)
{
    if (!ctx || !ss || !save || !entry || !mine(ss))
        return WEFT_EINVAL;
    if (!weft__shared_stack_supported())
        return WEFT_ESTATE;
    int status = weft__ctx_make_unlaid(ctx, ss->base, weft__shared_stack_size(ss), entry, arg);
    if (status != WEFT_OK)
        return status;
    *save = (weft_stack_save){.stack_ = ss, .ctx_ = ctx, .state_ = SAVE_FRESH};
    ctx->shared_ = save;
    ss->users++;
    return WEFT_OK;
}

/* Where the live region of the occupant starts.  A stack pointer outside
 * its stack means a context was moved or overwritten: nothing safe is left
 * to do. */
static unsigned char *live_start(const weft_shared_stack *ss, const weft_stack_save *save)
{
    unsigned char *sp = weft__ctx_backend_saved_sp(save->ctx_);
    if ((uintptr_t)sp < (uintptr_t)ss->base || (uintptr_t)sp > (uintptr_t)ss->top) {
        static const char msg[] = "weft: a context of a shared stack has its stack "
                                  "pointer outside it (moved or overwritten)\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        abort();
    }
    return sp;
}

/* Room for need bytes in the copy: grown by half again at least (a context
 * that goes deeper step by step reallocates rarely), exact the first time
 * (most stay small: a tight fit is what lets many be suspended), cut down
 * when it has become four times too large.  WEFT_ENOMEM leaves it as it
 * was. */
static int fit_copy(weft_stack_save *save, size_t need)
{
    size_t cap = save->cap_;
    int shrink = cap > SHRINK_ABOVE && need <= cap / 4;
    if (need <= cap && !shrink)
        return WEFT_OK;
    size_t want = shrink ? need + need / 2 : cap + cap / 2;
    if (want < need)
        want = need;
    want = (want + 15) & ~(size_t)15;
    unsigned char *copy = realloc(save->copy_, want);
    if (!copy)
        return need <= cap ? WEFT_OK : WEFT_ENOMEM; /* a failed cut is no loss */
    save->copy_ = copy;
    save->cap_ = want;
    return WEFT_OK;
}

/* Copy the occupant's live region out: the stack is then free. */
static int evict(weft_shared_stack *ss, weft_stack_save *occupant)
{
    unsigned char *sp = live_start(ss, occupant);
    size_t n = (size_t)(ss->top - sp);
    int status = fit_copy(occupant, n);
    if (status != WEFT_OK)
        return status;
    forget_shadow(sp, n);
    memcpy(occupant->copy_, sp, n);
    occupant->len_ = n;
    occupant->state_ = SAVE_EVICTED;
    ss->occupant = NULL;
    return WEFT_OK;
}

/* A finished or destroyed occupant's frames are just left behind. */
static void abandon(weft_shared_stack *ss, weft_stack_save *occupant)
{
    unsigned char *sp = live_start(ss, occupant);
    forget_shadow(sp, (size_t)(ss->top - sp));
    ss->occupant = NULL;
}

/* Memcheck: the part of a stack below where its stack pointer last rose
 * to is no-access; a region copied back may reach down there, and the
 * resume may write just below it (glibc's setcontext pushes the return
 * address there).  The copy then brings each byte's definedness back from
 * the save buffer. */
enum { BELOW_SP = 256 };

static void allow_access(const weft_shared_stack *ss, unsigned char *from)
{
#ifdef WEFT__MEMCHECK
    unsigned char *low = (size_t)(from - ss->base) > BELOW_SP ? from - BELOW_SP : ss->base;
    VALGRIND_MAKE_MEM_UNDEFINED(low, (size_t)(ss->top - low));
#else
    (void)ss;
    (void)from;
#endif
}

static void restore(weft_shared_stack *ss, weft_stack_save *save)
{
    unsigned char *to = ss->top - save->len_;
    forget_shadow(to, save->len_);
    allow_access(ss, to);
    memcpy(to, save->copy_, save->len_);
    save->len_ = 0;
    save->state_ = SAVE_RESIDENT;
}

/* Whether the caller runs on ss (its frame address is in it). */
static int running_on(const weft_shared_stack *ss)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    return here >= (uintptr_t)ss->base && here < (uintptr_t)ss->top;
}

int weft__shared_stack_enter(weft_ctx *ctx)
{
    if (!ctx)
        return WEFT_EINVAL;
    weft_stack_save *save = ctx->shared_;
    if (!save)
        return WEFT_OK; /* a stack of its own */
    weft_shared_stack *ss = save->stack_;
    if (!mine(ss) || running_on(ss))
        return WEFT_EINVAL;
    if (save->state_ == SAVE_FINISHED)
        return WEFT_ESTATE;
    if (ss->occupant == save)
        return WEFT_OK;
    weft_stack_save *occupant = ss->occupant;
    if (occupant && occupant->state_ == SAVE_FINISHED)
        abandon(ss, occupant);
    else if (occupant) {
        int status = evict(ss, occupant);
        if (status != WEFT_OK)
            return status;
    }
    if (save->state_ == SAVE_FRESH) {
        int status = weft__ctx_backend_make(ctx, ss->base, weft__shared_stack_size(ss));
        if (status != WEFT_OK)
            return status;
        save->state_ = SAVE_RESIDENT;
    } else {
        restore(ss, save);
    }
    ss->occupant = save;
    return WEFT_OK;
}

int weft__ctx_switch_in(weft_ctx *from, weft_ctx *to)
{
    if (!from)
        return WEFT_EINVAL;
    int status = weft__shared_stack_enter(to);
    if (status == WEFT_OK)
        weft__ctx_switch(from, to);
    return status;
}

size_t weft__stack_save_held(const weft_stack_save *save)
{
    return save ? save->cap_ : 0;
}

size_t weft__stack_save_live(const weft_stack_save *save)
{
    return save && save->state_ == SAVE_EVICTED ? save->len_ : 0;
}

static void drop_copy(weft_stack_save *save)
{
    free(save->copy_);
    save->copy_ = NULL;
    save->len_ = save->cap_ = 0;
}

/* Runs on the ending context's own stack, just before it leaves: its
 * frames stay there, as the occupant's, until another context comes or it
 * is destroyed (its stack pointer then says what to forget). */
void weft__shared_stack_on_exit(weft_stack_save *save)
{
    drop_copy(save);
    save->state_ = SAVE_FINISHED;
}

void weft__shared_stack_on_destroy(weft_stack_save *save)
{
    weft_shared_stack *ss = save->stack_;
    if (ss->occupant == save)
        abandon(ss, save);
    drop_copy(save);
    save->state_ = SAVE_FINISHED;
    save->stack_ = NULL;
    ss->users--;
}

const weft_stack *weft__shared_stack_of(const weft_stack_save *save)
{
    return save && save->stack_ ? save->stack_->stack : NULL;
}
