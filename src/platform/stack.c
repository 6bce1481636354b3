/* SPDX-License-Identifier: MIT */
/* stack.c — mmap'd coroutine stacks with a guard page, a per-thread pool,
 * and the SIGSEGV handler that names the coroutine that overflowed.
 *
 * Layout of one mapping, low to high addresses:
 *     [guard page, PROT_NONE][usable stack ...........][weft_stack record]
 * The record sits at the top, where the stack never reaches, so a stack
 * needs no allocation but its mapping and the handler finds the names
 * without locks: it walks the faulting thread's own list (a stack runs on
 * the thread that made it), which only that thread changes. */
#define _GNU_SOURCE
#include "stack.h"
#include "once.h"
#include "weft/status.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct thread_stacks;

struct weft_stack {
    weft_stack *volatile next; /* the owner's list: in use and pooled */
    weft_stack *prev;
    struct thread_stacks *owner;
    char *map;                 /* the mapping; its first page is the guard */
    size_t map_size;
    size_t size;               /* usable bytes, from map + page */
    int pooled;
    weft_stack *pool_next;     /* the owner's pool, when pooled */
    int guarded;               /* 0: from a slab, with a zero red zone instead (below) */
    char name[WEFT__STACK_NAME_MAX + 1];
};

struct thread_stacks {
    weft_stack *volatile head;
    weft_stack *pool; /* the pooled ones, apart: a thread may have 100,000 in use */
    weft_stack *spare; /* unguarded ones given back (they stay in their slabs) */
    struct slab *slabs;
    char *slab_next, *slab_end; /* what is left of the newest slab */
    int pooled;
    int prepared;
    void *altstack;            /* ours to unmap at thread exit, or NULL */
};

enum { ALTSTACK_SIZE = 64 * 1024 };

static _Thread_local struct thread_stacks mine;
static weft_once install_once = WEFT_ONCE_INIT;
static pthread_key_t exit_key;
static struct sigaction previous_segv;

static size_t page_size(void)
{
    static _Atomic size_t page;
    size_t n = atomic_load_explicit(&page, memory_order_relaxed);
    if (!n) {
        n = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&page, n, memory_order_relaxed);
    }
    return n;
}

/* ---- the overflow handler (async-signal-safe: write(2) and abort) ---- */

static void write_text(const char *text, size_t n)
{
    ssize_t ignored = write(2, text, n);
    (void)ignored;
}

static void write_size(size_t n)
{
    char digits[24];
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    write_text(digits + i, sizeof digits - i);
}

static void report_overflow(const weft_stack *s)
{
    static const char a[] = "weft: coroutine '", b[] = "' overflowed its stack of ",
                      c[] = " bytes\n";
    write_text(a, sizeof a - 1);
    write_text(s->name, strlen(s->name));
    write_text(b, sizeof b - 1);
    write_size(s->size);
    write_text(c, sizeof c - 1);
}

_Noreturn void weft__stack_overflowed(const weft_stack *s)
{
    report_overflow(s);
    abort();
}

static void on_segv(int sig, siginfo_t *info, void *context)
{
    (void)context;
    char *addr = info->si_addr;
    size_t page = page_size();
    for (weft_stack *s = mine.head; s; s = s->next) {
        if (addr >= s->map && addr < s->map + page) {
            report_overflow(s);
            abort();
        }
    }
    /* Not a guard page: the handler before ours takes it.  A fault comes
     * back at once when we return; a sent signal is sent again. */
    sigaction(SIGSEGV, &previous_segv, NULL);
    if (info->si_code <= 0)
        raise(sig);
}

/* ---- per-thread set-up and clean-up ---- */

static _Atomic long guarded_in_use; /* every thread's */

static void unmap(weft_stack *s)
{
    atomic_fetch_sub_explicit(&guarded_in_use, 1, memory_order_relaxed);
    munmap(s->map, s->map_size);
}

static void unlink_stack(weft_stack *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        mine.head = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

static void free_slabs(void);

static void on_thread_exit(void *unused)
{
    (void)unused;
    weft__stack_pool_clear();
    free_slabs(); /* the thread's coroutines have ended with it */
    if (mine.altstack) {
        stack_t off = {.ss_flags = SS_DISABLE};
        sigaltstack(&off, NULL);
        munmap(mine.altstack, ALTSTACK_SIZE);
        mine.altstack = NULL;
    }
}

int weft__stack_catch_overflows(void)
{
    struct sigaction sa, now;
    if (sigaction(SIGSEGV, NULL, &now) != 0)
        return WEFT_EINVAL;
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_segv)
        return WEFT_OK;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    previous_segv = now;
    return sigaction(SIGSEGV, &sa, NULL) == 0 ? WEFT_OK : WEFT_EINVAL;
}

static int install(void)
{
    if (pthread_key_create(&exit_key, on_thread_exit) != 0)
        return WEFT_ENOMEM;
    int status = weft__stack_catch_overflows();
    if (status != WEFT_OK)
        pthread_key_delete(exit_key);
    return status;
}

/* An alternate signal stack unless the thread has one (ASan gives each
 * thread its own). */
static int give_altstack(void)
{
    stack_t now;
    if (sigaltstack(NULL, &now) == 0 && !(now.ss_flags & SS_DISABLE))
        return WEFT_OK;
    void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return WEFT_ENOMEM;
    stack_t alt = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE};
    if (sigaltstack(&alt, NULL) != 0) {
        munmap(mem, ALTSTACK_SIZE);
        return WEFT_ENOMEM;
    }
    mine.altstack = mem;
    return WEFT_OK;
}

int weft__stack_thread_prepare(void)
{
    if (mine.prepared)
        return WEFT_OK;
    int status = weft__once_run(&install_once, install);
    if (status == WEFT_OK)
        status = give_altstack();
    if (status == WEFT_OK && pthread_setspecific(exit_key, &mine) != 0)
        status = WEFT_ENOMEM;
    mine.prepared = status == WEFT_OK;
    return status;
}

/* ---- stacks ---- */

static void set_name(weft_stack *s, const char *name)
{
    size_t n = name ? strlen(name) : 1;
    if (n > WEFT__STACK_NAME_MAX)
        n = WEFT__STACK_NAME_MAX;
    memcpy(s->name, name ? name : "?", n);
    s->name[n] = '\0';
}

static weft_stack *take_pooled(size_t map_size)
{
    for (weft_stack **link = &mine.pool; *link; link = &(*link)->pool_next) {
        weft_stack *s = *link;
        if (s->map_size == map_size) {
            *link = s->pool_next;
            s->pooled = 0;
            mine.pooled--;
            return s;
        }
    }
    return NULL;
}

static weft_stack *map_stack(size_t map_size, size_t page)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_STACK
    flags |= MAP_STACK;
#endif
    char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    if (mprotect(map, page, PROT_NONE) != 0) {
        munmap(map, map_size);
        return NULL;
    }
    uintptr_t top = (uintptr_t)map + map_size - sizeof(weft_stack);
    weft_stack *s = (weft_stack *)(top & ~(uintptr_t)63);
    *s = (weft_stack){.owner = &mine, .map = map, .map_size = map_size,
                      .size = (size_t)((char *)s - map) - page, .guarded = 1};
    atomic_fetch_add_explicit(&guarded_in_use, 1, memory_order_relaxed);
    /* Published last: the handler sees a whole record or none. */
    s->next = mine.head;
    if (s->next)
        s->next->prev = s;
    atomic_signal_fence(memory_order_release);
    mine.head = s;
    return s;
}

/* ---- unguarded stacks, past the guard budget ----
 *
 * A guard page splits its mapping in two, and Linux caps the mappings of a
 * process (vm.max_map_count: 65,530 by default), so a process can hold
 * some 32,000 guarded stacks at most, and nothing else.  Past a budget of
 * a quarter of the cap (all threads together), stacks come from slabs of
 * SLAB_STACKS without guard pages: each keeps the same layout, its lowest
 * page a red zone that must stay all zeros: the loop looks at its top word
 * each time the coroutine switches out and at the whole page when it ends
 * (weft__stack_intact, _fully).  Zero, because a page never written reads
 * as the kernel's shared zero page: the red zone costs no memory (a written
 * canary cost a page per stack: 100,000 tasks held 400 MB more).  An
 * overflow is reported as at a guard page, only after the fact (and not if
 * it wrote only zeros); one that jumps past the red zone may corrupt the
 * stack below first. */
#define SLAB_STACKS 64
#define CANARY ((uint64_t)0)

struct slab {
    struct slab *next;
    char *map;
    size_t size;
};

static _Atomic long budget;

void weft__stack_set_guard_budget(long stacks) { atomic_store(&budget, stacks); }

static long guard_budget(void)
{
    long b = atomic_load_explicit(&budget, memory_order_relaxed);
    if (b)
        return b;
    long cap = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &cap) != 1 || cap < 1024)
            cap = 65530;
        fclose(f);
    }
    b = cap / 4;
    atomic_store_explicit(&budget, b, memory_order_relaxed);
    return b;
}

static uint64_t *canary_of(const weft_stack *s)
{
    return (uint64_t *)(void *)(s->map + page_size()) - 1;
}

bool weft__stack_guarded(const weft_stack *s) { return s->guarded; }

bool weft__stack_intact(const weft_stack *s)
{
    return s->guarded || *canary_of(s) == CANARY;
}

/* The whole red zone holds canaries: a frame that writes only some of its
 * bytes may step over the top one. */
bool weft__stack_intact_fully(const weft_stack *s)
{
    if (s->guarded)
        return true;
    const uint64_t *word = (const uint64_t *)(const void *)s->map;
    for (size_t i = 0; i < page_size() / sizeof *word; i++)
        if (word[i] != CANARY)
            return false;
    return true;
}

#define SLAB_STACK_MAX ((size_t)64 << 20) /* a bigger stack is not worth a slab */

static bool new_slab(size_t map_size)
{
    if (map_size > SLAB_STACK_MAX)
        return false;
    struct slab *slab = malloc(sizeof *slab);
    if (!slab)
        return false;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_STACK
    flags |= MAP_STACK;
#endif
    slab->size = map_size * SLAB_STACKS;
    slab->map = mmap(NULL, slab->size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (slab->map == MAP_FAILED) {
        free(slab);
        return false;
    }
    slab->next = mine.slabs;
    mine.slabs = slab;
    mine.slab_next = slab->map;
    mine.slab_end = slab->map + slab->size;
    return true;
}

static weft_stack *unguarded_stack(size_t map_size, size_t page)
{
    for (weft_stack **link = &mine.spare; *link; link = &(*link)->pool_next) {
        weft_stack *s = *link;
        if (s->map_size == map_size) {
            *link = s->pool_next;
            s->pooled = 0;
            return s;
        }
    }
    if ((size_t)(mine.slab_end - mine.slab_next) < map_size && !new_slab(map_size))
        return NULL;
    char *map = mine.slab_next;
    mine.slab_next += map_size;
    uintptr_t top = (uintptr_t)map + map_size - sizeof(weft_stack);
    weft_stack *s = (weft_stack *)(top & ~(uintptr_t)63);
    *s = (weft_stack){.owner = &mine, .map = map, .map_size = map_size,
                      .size = (size_t)((char *)s - map) - page};
    return s; /* the red zone is fresh memory: zeros (CANARY) */
}

static void free_slabs(void)
{
    while (mine.slabs) {
        struct slab *slab = mine.slabs;
        mine.slabs = slab->next;
        munmap(slab->map, slab->size);
        free(slab);
    }
    mine.spare = NULL;
    mine.slab_next = mine.slab_end = NULL;
}

int weft__stack_new(size_t size, const char *name, weft_stack **out)
{
    if (out)
        *out = NULL;
    size_t page = page_size();
    if (!out || size == 0 || size > SIZE_MAX / 4)
        return WEFT_EINVAL;
    if (size < WEFT__STACK_MIN)
        size = WEFT__STACK_MIN;
    size_t map_size = page + (size + sizeof(weft_stack) + 63 + page - 1) / page * page;
    int status = weft__stack_thread_prepare();
    if (status != WEFT_OK)
        return status;
    weft_stack *s = take_pooled(map_size);
    if (!s && atomic_load_explicit(&guarded_in_use, memory_order_relaxed) < guard_budget())
        s = map_stack(map_size, page);
    if (!s)
        s = unguarded_stack(map_size, page);
    if (!s)
        return WEFT_ENOMEM;
    set_name(s, name);
    *out = s;
    return WEFT_OK;
}

int weft__stack_free(weft_stack *s)
{
    if (!s || s->owner != &mine || s->pooled)
        return WEFT_EINVAL;
    if (!s->guarded) {
        s->pooled = 1;
        s->pool_next = mine.spare;
        mine.spare = s;
        return WEFT_OK;
    }
    if (mine.pooled < WEFT__STACK_POOL_MAX) {
        s->pooled = 1;
        s->pool_next = mine.pool;
        mine.pool = s;
        mine.pooled++;
        return WEFT_OK;
    }
    unlink_stack(s);
    unmap(s);
    return WEFT_OK;
}

void *weft__stack_base(const weft_stack *s)
{
    return s->map + page_size();
}

size_t weft__stack_size(const weft_stack *s)
{
    return s->size;
}

int weft__stack_pool_clear(void)
{
    int n = 0;
    weft_stack *s = mine.head;
    while (s) {
        weft_stack *next = s->next;
        if (s->pooled) {
            unlink_stack(s);
            unmap(s);
            n++;
        }
        s = next;
    }
    mine.pooled = 0;
    mine.pool = NULL;
    return n;
}

int weft__stack_pool_count(void)
{
    return mine.pooled;
}
