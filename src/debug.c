/* SPDX-License-Identifier: MIT */
/* debug.c — lock-order inversion detection and the reporter.
 *
 * Each thread keeps the weft locks it holds on a small stack.  Taking lock
 * B while holding A adds the edge A -> B to a global graph, remembering the
 * thread that first did so.  A new edge A -> B closes a cycle when B
 * already reaches A: that order could deadlock, and it is reported.  The
 * graph has its own spinlock (not a weft_lock, which would recurse into
 * these hooks); reports are made after letting go of it.
 */
#define _POSIX_C_SOURCE 200809L
#include "debug_internal.h"

#include "ident.h"
#include "platform/platform.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Atomic int weft__debug_state_ = -1;

static _Atomic size_t inversions;
static weft_debug_reporter reporter;
static void *reporter_arg;
static _Atomic(weft_debug_name_fn) namer;

#define HELD_MAX 64
static _Thread_local const void *held[HELD_MAX];
static _Thread_local unsigned held_count;
static _Thread_local bool inside; /* a report may take locks: do not recurse */

struct edge {
    const void *from, *to;
    uint64_t ident;
    char thread[40];
};

static atomic_flag graph_guard = ATOMIC_FLAG_INIT;
static struct edge *edges;
static size_t edge_count, edge_capacity;

static void guard_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&graph_guard, memory_order_acquire))
        weft__pf_yield();
}

static void guard_unlock(void) { atomic_flag_clear_explicit(&graph_guard, memory_order_release); }

int weft__debug_read_environment(void)
{
    const char *v = getenv("WEFT_DEBUG");
    int on = v && *v && strcmp(v, "0") != 0;
    int expected = -1;
    atomic_compare_exchange_strong(&weft__debug_state_, &expected, on);
    return atomic_load(&weft__debug_state_);
}

bool weft_debug_enable(bool on)
{
    int old = atomic_exchange(&weft__debug_state_, on ? 1 : 0);
    return old > 0;
}

bool weft_debug_enabled(void) { return weft__debug_on(); }

void weft_debug_set_reporter(weft_debug_reporter fn, void *arg)
{
    guard_lock();
    reporter = fn;
    reporter_arg = arg;
    guard_unlock();
}

size_t weft_debug_inversions(void) { return atomic_load(&inversions); }

void weft__debug_thread_exit(void) { held_count = 0; }

void weft__debug_set_thread_namer(weft_debug_name_fn fn) { atomic_store(&namer, fn); }

void weft__debug_report(const char *format, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, format);
    vsnprintf(line, sizeof line, format, ap);
    va_end(ap);
    guard_lock();
    weft_debug_reporter fn = reporter;
    void *arg = reporter_arg;
    guard_unlock();
    bool was_inside = inside;
    inside = true;
    if (fn)
        fn(line, arg);
    else
        fprintf(stderr, "weft debug: %s\n", line);
    inside = was_inside;
}

static void name_me(char *buf, size_t size)
{
    weft_debug_name_fn fn = atomic_load(&namer);
    const char *name = fn ? fn() : NULL;
    /* No namer yet: the thread layer was never used, and the main thread
     * still has Python's name for it. */
    if (!name && !fn && weft__pf_is_main_thread())
        name = "MainThread";
    snprintf(buf, size, "%s", name ? name : "unnamed");
}

static struct edge *find_edge(const void *from, const void *to)
{
    for (size_t i = 0; i < edge_count; i++)
        if (edges[i].from == from && edges[i].to == to)
            return &edges[i];
    return NULL;
}

/* Depth-first: a path from `from` to `target`?  *first receives the path's
 * first edge, for the report.  `seen` holds visited locks. */
static bool reaches(const void *from, const void *target, const void **seen, size_t *nseen,
                    size_t cap, const struct edge **first)
{
    for (size_t i = 0; i < *nseen; i++)
        if (seen[i] == from)
            return false;
    if (*nseen == cap)
        return false;
    seen[(*nseen)++] = from;
    for (size_t i = 0; i < edge_count; i++) {
        if (edges[i].from != from)
            continue;
        const struct edge *sub = NULL;
        if (edges[i].to == target ||
            reaches(edges[i].to, target, seen, nseen, cap, &sub)) {
            *first = &edges[i];
            return true;
        }
    }
    return false;
}

/* Record held -> lock; report if it closes a cycle. */
static void add_edge(const void *from, const void *to)
{
    char me[40];
    name_me(me, sizeof me);
    char report[400] = "";
    guard_lock();
    if (!find_edge(from, to)) {
        const void *seen[256];
        size_t nseen = 0;
        const struct edge *back = NULL;
        if (reaches(to, from, seen, &nseen, 256, &back))
            snprintf(report, sizeof report,
                     "potential deadlock: thread '%s' (ident %llu) takes lock %p while "
                     "holding lock %p, but thread '%s' (ident %llu) took lock %p while "
                     "holding lock %p",
                     me, (unsigned long long)weft__self_ident(), to, from, back->thread,
                     (unsigned long long)back->ident, back->to, back->from);
        if (edge_count == edge_capacity) {
            size_t cap = edge_capacity ? edge_capacity * 2 : 64;
            struct edge *grown = realloc(edges, cap * sizeof *grown);
            if (grown) {
                edges = grown;
                edge_capacity = cap;
            }
        }
        if (edge_count < edge_capacity) {
            struct edge *e = &edges[edge_count++];
            e->from = from;
            e->to = to;
            e->ident = weft__self_ident();
            memcpy(e->thread, me, sizeof e->thread);
        }
    }
    guard_unlock();
    if (report[0]) {
        atomic_fetch_add(&inversions, 1);
        weft__debug_report("%s", report);
    }
}

void weft__debug_acquired(const void *lock)
{
    if (inside)
        return;
    inside = true;
    for (unsigned i = 0; i < held_count && i < HELD_MAX; i++)
        if (held[i] != lock)
            add_edge(held[i], lock);
    if (held_count < HELD_MAX)
        held[held_count] = lock;
    held_count++;
    inside = false;
}

void weft__debug_released(const void *lock)
{
    if (inside)
        return;
    /* Remove the most recent entry for this lock; a lock released by
     * another thread than the one that took it is simply not found. */
    unsigned n = held_count < HELD_MAX ? held_count : HELD_MAX;
    for (unsigned i = n; i-- > 0;) {
        if (held[i] == lock) {
            memmove(&held[i], &held[i + 1], (n - i - 1) * sizeof held[0]);
            held_count--;
            return;
        }
    }
}

void weft__debug_forget(const void *lock)
{
    guard_lock();
    size_t kept = 0;
    for (size_t i = 0; i < edge_count; i++)
        if (edges[i].from != lock && edges[i].to != lock)
            edges[kept++] = edges[i];
    edge_count = kept;
    guard_unlock();
}
