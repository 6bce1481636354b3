/* SPDX-License-Identifier: MIT */
/* thread.c — threads, their registry, and joining non-daemon threads at
 * process exit.
 *
 * A weft_thread is reference counted: the creator's handle, each handle from
 * weft_enumerate, and the running thread itself each hold one.  Live threads
 * (plus the main thread and dummies) are linked in a registry for
 * enumerate/active_count.  A finishing thread destroys its weft_local values,
 * leaves the registry and only then sets its `finished` event, so that once
 * join returns the thread is gone from enumerate and its locals are freed.
 */
#include "weft/thread.h"
#include "lock_internal.h"

#include "debug_internal.h"
#include "ident.h"
#include "lifecycle.h"
#include "list.h"
#include "local_internal.h"
#include "park.h"
#include "thread_internal.h"
#include "weft/event.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_STACK_SIZE 32768

enum { INITIAL, STARTED, STOPPED };
enum { KIND_WEFT, KIND_MAIN, KIND_DUMMY };

struct weft_thread {
    /* In the registry while alive.  First, as in struct weft_executor:
     * valgrind then counts an unjoined thread's object as reachable. */
    weft_list_node link;
    _Atomic int refs;
    int kind;
    weft_thread_fn target;
    void *arg;
    void *result;
    bool daemon;
    size_t stack_size;
    _Atomic int state;
    _Atomic bool joined;  /* some join returned: debug mode's exit report */
    bool reusable;        /* on a cached OS thread (executor workers) */
    _Atomic uint64_t ident;
    _Atomic long native_id;
    weft_event finished; /* the target returned and the thread cleaned up */
    weft_lock name_lock; /* name, and the OS handle while running */
    char *name;
    bool name_owned;     /* false only for the main thread's initial name */
    weft_pf_thread handle;
};

static weft_lock registry_lock = WEFT_LOCK_INIT;
static weft_list registry = WEFT_LIST_INIT(registry); /* newest first */
static size_t registry_count;
static bool registry_ready;

static _Atomic unsigned long thread_counter, dummy_counter;
static _Atomic size_t default_stack_size;

static weft_thread main_thread;
static _Thread_local weft_thread *current;

static void thread_atfork(int phase);
static void join_leftover_threads(void);
static weft_lifecycle_hooks lifecycle =
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_THREAD, thread_atfork, join_leftover_threads, NULL);

/* ---- registry ---------------------------------------------------------- */

static void link_locked(weft_thread *t)
{
    weft__list_push_front(&registry, &t->link);
    registry_count++;
}

static void unlink_locked(weft_thread *t)
{
    weft__list_remove(&t->link);
    registry_count--;
}

static weft_thread *thread_of(weft_list_node *node)
{
    return WEFT_LIST_ENTRY(node, weft_thread, link);
}

static _Thread_local bool known_not_main;

/* Debug mode's namer: the main thread is "MainThread" even before it asked
 * for weft_current_thread.  Installed only once main_thread is set up, so
 * it may point `current` at it; takes no lock. */
static const char *current_name(void)
{
    if (!current && !known_not_main) {
        if (weft__pf_is_main_thread())
            current = &main_thread;
        else
            known_not_main = true; /* a foreign thread: ask the OS once */
    }
    return current ? current->name : NULL;
}

/* The main thread's object exists from the registry's first use on.  The
 * fork hook is added before the lock is first taken (weft_thread_start
 * reports a failure to install the handlers). */
static void lock_registry(void)
{
    weft__lifecycle_add(&lifecycle);
    weft__lock_take(&registry_lock);
    if (registry_ready)
        return;
    registry_ready = true;
    atomic_init(&main_thread.refs, 1);
    main_thread.kind = KIND_MAIN;
    main_thread.name = "MainThread";
    atomic_init(&main_thread.state, STARTED);
    atomic_init(&main_thread.ident, WEFT_MAIN_IDENT);
    atomic_init(&main_thread.native_id, weft__pf_main_native_id());
    weft_event_init(&main_thread.finished);
    weft_lock_init(&main_thread.name_lock);
    link_locked(&main_thread);
    /* Last: the namer reads main_thread without the lock. */
    weft__debug_set_thread_namer(current_name);
}

static void unlock_registry(void) { weft_lock_release(&registry_lock); }

static void unref(weft_thread *t);

/* In the child, alone: only the forking thread crossed.  The others are
 * gone, unjoinable and never to be waited for at exit.  Their objects are
 * left to whoever holds them (as Python's _after_fork does); the reference
 * each running thread held on its own object goes with it. */
static void forget_other_threads(void)
{
    WEFT_LIST_FOR_EACH(node, next, &registry) {
        weft_thread *t = thread_of(node);
        if (t != current) {
            unlink_locked(t);
            atomic_store(&t->state, STOPPED);
            unref(t);
        }
    }
}

static void thread_atfork(int phase)
{
    weft__lock_atfork(&registry_lock, phase);
    if (phase == WEFT_FORK_CHILD)
        forget_other_threads();
}

/* ---- lifetime ---------------------------------------------------------- */

static void ref(weft_thread *t) { atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed); }

static void unref(weft_thread *t)
{
    if (t->kind == KIND_MAIN)
        return;
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        if (t->name_owned)
            free(t->name);
        free(t);
    }
}

void weft_thread_free(weft_thread *thread)
{
    if (thread)
        unref(thread);
}

/* strdup is POSIX, not C11. */
static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    return copy ? memcpy(copy, s, n) : NULL;
}

static char *numbered_name(const char *prefix, _Atomic unsigned long *counter)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%s-%lu", prefix, atomic_fetch_add(counter, 1) + 1);
    return copy_string(buf);
}

static weft_thread *alloc_thread(int kind, const char *name)
{
    weft_thread *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->name = name && *name ? copy_string(name)
                            : numbered_name(kind == KIND_DUMMY ? "Dummy" : "Thread",
                                            kind == KIND_DUMMY ? &dummy_counter : &thread_counter);
    if (!t->name) {
        free(t);
        return NULL;
    }
    t->name_owned = true;
    atomic_init(&t->refs, 1);
    t->kind = kind;
    weft__list_node_init(&t->link);
    weft_event_init(&t->finished);
    weft_lock_init(&t->name_lock);
    return t;
}

int weft_thread_new(weft_thread **thread, weft_thread_fn target, void *arg,
                    const weft_thread_options *options)
{
    if (thread)
        *thread = NULL; /* what it holds on every status but WEFT_OK */
    static const weft_thread_options defaults;
    if (!options)
        options = &defaults;
    if (!thread || options->daemon < WEFT_DAEMON_INHERIT || options->daemon > WEFT_DAEMON ||
        (options->stack_size && options->stack_size < MIN_STACK_SIZE))
        return WEFT_EINVAL;
    weft_thread *t = alloc_thread(KIND_WEFT, options->name);
    if (!t)
        return WEFT_ENOMEM;
    t->target = target;
    t->arg = arg;
    t->stack_size = options->stack_size;
    if (options->daemon == WEFT_DAEMON_INHERIT) {
        weft_thread *creator = weft_current_thread();
        t->daemon = creator && creator->daemon;
    } else {
        t->daemon = options->daemon == WEFT_DAEMON;
    }
    *thread = t;
    return WEFT_OK;
}

/* ---- running ----------------------------------------------------------- */

static void thread_main(void *arg)
{
    weft_thread *t = arg;
    current = t;
    weft__ident_adopt(atomic_load_explicit(&t->ident, memory_order_relaxed));
    atomic_store_explicit(&t->native_id, weft__pf_native_id(), memory_order_release);
    weft__lock_take(&t->name_lock);
    weft__pf_set_thread_name(weft__pf_thread_self(), t->name);
    weft_lock_release(&t->name_lock);

    t->result = t->target ? t->target(t->arg) : NULL;

    weft__local_thread_exit();
    weft__debug_thread_exit();
    /* Under name_lock so that a rename never touches an exited thread. */
    weft__lock_take(&t->name_lock);
    lock_registry();
    unlink_locked(t);
    atomic_store_explicit(&t->state, STOPPED, memory_order_release);
    unlock_registry();
    weft_lock_release(&t->name_lock);
    /* Joiners may let the process exit as soon as the event is set: the
     * exit waits for this OS thread to be gone (weft__pf_threads_close). */
    weft__pf_thread_returning();
    weft_event_set(&t->finished);
    current = NULL;
    unref(t);
}

int weft_thread_start(weft_thread *thread)
{
    if (!thread)
        return WEFT_EINVAL;
    if (thread->kind != KIND_WEFT)
        return WEFT_ESTATE;
    int expected = INITIAL;
    if (!atomic_compare_exchange_strong(&thread->state, &expected, STARTED))
        return WEFT_ESTATE;
    int rc = weft__lifecycle_register(&lifecycle); /* joined at exit */
    if (rc != WEFT_OK) {
        atomic_store(&thread->state, INITIAL);
        return rc;
    }
    atomic_store_explicit(&thread->ident, weft__ident_new(), memory_order_relaxed);
    ref(thread); /* the running thread's own reference */
    lock_registry();
    link_locked(thread);
    unlock_registry();

    size_t stack = thread->stack_size ? thread->stack_size : atomic_load(&default_stack_size);
    weft__lock_take(&thread->name_lock);
    rc = thread->reusable
             ? weft__pf_thread_start_reusable(thread_main, thread, stack, &thread->handle)
             : weft__pf_thread_start(thread_main, thread, stack, &thread->handle);
    weft_lock_release(&thread->name_lock);
    if (rc != WEFT_OK) {
        lock_registry();
        unlink_locked(thread);
        unlock_registry();
        atomic_store(&thread->ident, 0);
        atomic_store(&thread->state, INITIAL);
        unref(thread);
    }
    return rc;
}

int weft_thread_join_timeout(weft_thread *thread, double timeout, void **result)
{
    if (result)
        *result = NULL; /* what it holds on every status but WEFT_OK */
    if (!thread)
        return WEFT_EINVAL;
    if (isnan(timeout))
        return WEFT_EINVAL;
    if (thread->kind == KIND_DUMMY || atomic_load(&thread->state) == INITIAL ||
        thread == weft_current_thread())
        return WEFT_ESTATE;
    int rc = weft_event_wait_timeout(&thread->finished, timeout < 0 ? 0 : timeout);
    if (rc == WEFT_OK) {
        atomic_store(&thread->joined, true);
        if (result)
            *result = thread->result;
    }
    return rc;
}

int weft_thread_join(weft_thread *thread, void **result)
{
    return weft_thread_join_timeout(thread, WEFT_FOREVER, result);
}

bool weft_thread_is_alive(const weft_thread *thread)
{
    return thread && atomic_load(&thread->state) == STARTED;
}

/* ---- attributes -------------------------------------------------------- */

const char *weft_thread_name(const weft_thread *thread)
{
    return thread ? thread->name : NULL;
}

int weft_thread_set_name(weft_thread *thread, const char *name)
{
    if (!thread || !name)
        return WEFT_EINVAL;
    char *copy = copy_string(name);
    if (!copy)
        return WEFT_ENOMEM;
    weft__lock_take(&thread->name_lock);
    char *old = thread->name_owned ? thread->name : NULL;
    thread->name = copy;
    thread->name_owned = true;
    if (thread == current)
        weft__pf_set_thread_name(weft__pf_thread_self(), copy);
    else if (thread->kind == KIND_WEFT && atomic_load(&thread->state) == STARTED)
        weft__pf_set_thread_name(thread->handle, copy);
    weft_lock_release(&thread->name_lock);
    free(old);
    return WEFT_OK;
}

uint64_t weft_thread_ident(const weft_thread *thread)
{
    return thread ? atomic_load_explicit(&thread->ident, memory_order_relaxed) : 0;
}

long weft_thread_native_id(const weft_thread *thread)
{
    if (!thread || atomic_load(&thread->state) == INITIAL)
        return 0;
    /* The new thread publishes it first thing: at most a moment to wait,
     * and no wait to cancel. */
    long id;
    while ((id = atomic_load_explicit(&thread->native_id, memory_order_acquire)) == 0 &&
           atomic_load(&thread->state) != INITIAL) /* INITIAL again: the start failed */
        weft__pf_yield();
    return id;
}

bool weft_thread_daemon(const weft_thread *thread) { return thread && thread->daemon; }

int weft_thread_set_daemon(weft_thread *thread, bool daemon)
{
    if (!thread)
        return WEFT_EINVAL;
    if (thread->kind != KIND_WEFT || atomic_load(&thread->state) != INITIAL)
        return WEFT_ESTATE;
    thread->daemon = daemon;
    return WEFT_OK;
}

int weft_thread_repr(const weft_thread *thread, char *buf, size_t size)
{
    if (!thread)
        return snprintf(buf, size, "<weft_thread(NULL)>");
    static const char *const states[] = {"initial", "started", "stopped"};
    int state = atomic_load(&thread->state);
    char ident[32] = "";
    if (state != INITIAL)
        snprintf(ident, sizeof ident, " %llu", (unsigned long long)weft_thread_ident(thread));
    return snprintf(buf, size, "<weft_thread(%s, %s%s%s)>", thread->name, states[state],
                    thread->daemon ? " daemon" : "", ident);
}

void weft__thread_set_managed(weft_thread *thread) { atomic_store(&thread->joined, true); }

void weft__thread_set_reusable(weft_thread *thread) { thread->reusable = true; }

/* ---- module functions -------------------------------------------------- */

static void dummy_exited(void *arg)
{
    weft_thread *t = arg;
    lock_registry();
    unlink_locked(t);
    atomic_store(&t->state, STOPPED);
    unlock_registry();
    weft_event_set(&t->finished);
    current = NULL;
    unref(t);
}

static weft_pf_exit_hook dummy_hook = WEFT_PF_EXIT_HOOK_INIT(dummy_exited);

weft_thread *weft_current_thread(void)
{
    if (current)
        return current;
    if (weft__pf_is_main_thread()) {
        lock_registry();
        unlock_registry();
        return current = &main_thread;
    }
    weft_thread *t = alloc_thread(KIND_DUMMY, NULL);
    if (!t)
        return NULL;
    if (weft__pf_exit_hook_arm(&dummy_hook, t) != WEFT_OK) {
        unref(t);
        return NULL;
    }
    t->daemon = true;
    atomic_init(&t->state, STARTED);
    atomic_init(&t->ident, weft__self_ident());
    atomic_init(&t->native_id, weft__pf_native_id());
    t->handle = weft__pf_thread_self();
    lock_registry();
    link_locked(t);
    unlock_registry();
    return current = t;
}

weft_thread *weft_main_thread(void)
{
    lock_registry();
    unlock_registry();
    return &main_thread;
}

size_t weft_active_count(void)
{
    lock_registry();
    size_t n = registry_count;
    unlock_registry();
    return n;
}

size_t weft_enumerate(weft_thread **threads, size_t capacity)
{
    lock_registry();
    size_t i = 0;
    WEFT_LIST_FOR_EACH(node, next, &registry) {
        if (i == capacity)
            break;
        weft_thread *t = thread_of(node);
        ref(t);
        threads[i++] = t;
    }
    size_t n = registry_count;
    unlock_registry();
    return n;
}

uint64_t weft_get_ident(void) { return weft__self_ident(); }

long weft_get_native_id(void) { return weft__pf_native_id(); }

size_t weft_get_stack_size(void) { return atomic_load(&default_stack_size); }

int weft_set_stack_size(size_t size)
{
    if (size && size < MIN_STACK_SIZE)
        return WEFT_EINVAL;
    atomic_store(&default_stack_size, size);
    return WEFT_OK;
}

/* ---- process exit ------------------------------------------------------ */

/* Debug mode: name the weft threads still running that nobody joined. */
static void report_unjoined_threads(void)
{
    char names[16][64];
    size_t n = 0, more = 0;
    lock_registry();
    WEFT_LIST_FOR_EACH(node, next, &registry) {
        weft_thread *t = thread_of(node);
        if (t->kind != KIND_WEFT || t == current || atomic_load(&t->joined))
            continue;
        if (n < 16)
            snprintf(names[n++], sizeof names[0], "%s", t->name);
        else
            more++;
    }
    unlock_registry();
    for (size_t i = 0; i < n; i++)
        weft__debug_report("thread '%s' is still running at exit and was never joined",
                          names[i]);
    if (more)
        weft__debug_report("... and %zu more threads never joined", more);
}

/* A non-daemon weft thread still to join (with a reference), or NULL. */
static weft_thread *next_to_join(void)
{
    weft_thread *found = NULL;
    lock_registry();
    WEFT_LIST_FOR_EACH(node, next, &registry) {
        weft_thread *t = thread_of(node);
        if (t->kind == KIND_WEFT && !t->daemon && t != current) {
            ref(t);
            found = t;
            break;
        }
    }
    unlock_registry();
    return found;
}

/* The thread module's exit run hook, Python's threading._shutdown: the
 * main thread counts as finished (so threads joining it return), then
 * every non-daemon thread is joined, including ones started meanwhile by
 * the threads being joined. */
static void join_leftover_threads(void)
{
    if (weft__debug_on())
        report_unjoined_threads();
    lock_registry();
    if (atomic_load(&main_thread.state) == STARTED) {
        unlink_locked(&main_thread);
        atomic_store(&main_thread.state, STOPPED);
    }
    unlock_registry();
    weft_event_set(&main_thread.finished);

    for (weft_thread *t; (t = next_to_join());) {
        weft_event_wait(&t->finished);
        unref(t);
    }
}
