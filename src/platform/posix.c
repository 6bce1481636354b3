/* SPDX-License-Identifier: MIT */
/* posix.c — clocks, threads, names and ids over POSIX (+ Linux extras). */
#define _GNU_SOURCE
#include "platform.h"
#include "weft/status.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

_Static_assert(sizeof(pthread_t) <= sizeof(((weft_pf_thread *)0)->bytes_),
               "pthread_t must fit in weft_pf_thread");

int64_t weft__pf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int weft__pf_timeout_ms(int64_t deadline_ns)
{
    if (deadline_ns == WEFT_PF_NO_DEADLINE)
        return -1;
    int64_t left = deadline_ns - weft__pf_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > 86400000 ? 86400000 : (int)ms;
}

void weft__pf_sleep_until(int64_t deadline_ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline_ns / 1000000000),
        .tv_nsec = (long)(deadline_ns % 1000000000),
    };
    /* clock_nanosleep returns the error number; retry on signals. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

void weft__pf_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

void weft__pf_yield(void) { sched_yield(); }

struct start_box {
    void (*fn)(void *);
    void *arg;
    size_t stack_size;
};

/* ---- the end of weft's OS threads -----------------------------------------
 * An OS thread still alive when the process exits keeps its TLS block, and
 * valgrind reports it as "possibly lost".  So weft's OS threads are
 * joinable, and at exit weft__pf_threads_close waits for the ones that are
 * ending or idle to be gone.  A thread that ends joins the one that ended
 * before it (gone, or about to be) and leaves itself to be joined by the
 * next: at most one ended thread waits to be joined, and joining the last
 * one waits for the whole chain.
 *
 * All of it is under threads_lock: the chain, the cache of idle reusable
 * threads below, and the counts the closer waits on. */

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t threads_changed = PTHREAD_COND_INITIALIZER;
static pthread_t last_ended;     /* under threads_lock */
static bool have_last_ended;     /* under threads_lock */
static size_t returning_count;   /* marked returning, not yet ended or parked */
static size_t exiting_count;     /* idle threads told to leave, not yet ended */
static bool threads_closed;      /* process exit: idle threads leave */
static bool threads_close_done;  /* and the chain is joined: later ends detach */
static _Thread_local bool marked_returning;


/* The caller's fn has returned for good (threads_lock held): leave myself
 * to be joined; returns whether *previous is a thread for me to join. */
static bool end_me_locked(pthread_t *previous)
{
    if (marked_returning) {
        marked_returning = false;
        returning_count--;
    }
    if (threads_close_done) {
        /* A daemon thread ending after the exit's close joined the chain:
         * nobody is left to join it, so it must not be left joinable (a
         * thread leak to TSan at exit). */
        (void)pthread_detach(pthread_self());
        pthread_cond_broadcast(&threads_changed);
        return false;
    }
    bool join = have_last_ended;
    *previous = last_ended;
    last_ended = pthread_self();
    have_last_ended = true;
    pthread_cond_broadcast(&threads_changed);
    return join;
}

static void join_previous(bool join, pthread_t previous)
{
    if (join)
        (void)pthread_join(previous, NULL);
}

static void end_me(void)
{
    pthread_t previous;
    pthread_mutex_lock(&threads_lock);
    bool join = end_me_locked(&previous);
    pthread_mutex_unlock(&threads_lock);
    join_previous(join, previous);
}

void weft__pf_thread_returning(void)
{
    pthread_mutex_lock(&threads_lock);
    if (!marked_returning) {
        marked_returning = true;
        returning_count++;
    }
    pthread_mutex_unlock(&threads_lock);
}

static void *thread_entry(void *p)
{
    struct start_box box = *(struct start_box *)p;
    free(p);
    box.fn(box.arg);
    end_me();
    return NULL;
}

static int status_from_errno(int err)
{
    switch (err) {
    case 0: return WEFT_OK;
    case ENOMEM: return WEFT_ENOMEM;
    case EINVAL: return WEFT_EINVAL;
    default: return WEFT_EAGAIN;
    }
}

static void set_handle(weft_pf_thread *handle, pthread_t tid)
{
    if (handle) {
        memset(handle, 0, sizeof *handle);
        memcpy(handle->bytes_, &tid, sizeof tid);
    }
}

/* Joinable: see "the end of weft's OS threads". */
static int create_thread(void *(*entry)(void *), void (*fn)(void *), void *arg,
                         size_t stack_size, weft_pf_thread *handle)
{
    struct start_box *box = malloc(sizeof *box);
    if (!box)
        return WEFT_ENOMEM;
    box->fn = fn;
    box->arg = arg;
    box->stack_size = stack_size;

    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err) {
        free(box);
        return status_from_errno(err);
    }
    if (stack_size)
        err = pthread_attr_setstacksize(&attr, stack_size);
    pthread_t tid;
    if (!err)
        err = pthread_create(&tid, &attr, entry, box);
    pthread_attr_destroy(&attr);
    if (err) {
        free(box);
        return status_from_errno(err);
    }
    set_handle(handle, tid);
    return WEFT_OK;
}

int weft__pf_thread_start(void (*fn)(void *), void *arg, size_t stack_size,
                         weft_pf_thread *handle)
{
    return create_thread(thread_entry, fn, arg, stack_size, handle);
}

/* ---- the cache of idle reusable threads ---------------------------------
 * Creating an OS thread costs 30-70 us here (stack mmap, clone, and the
 * teardown of the last one competing for the same address-space lock); a
 * program that fans out to a fresh pool again and again pays it every time.
 * An idle thread instead waits on its own word, on its own stack, in a LIFO
 * list (the most recently used stack is the one still in cache). */

enum { IDLE_WAITING, IDLE_HANDED, IDLE_EXIT };

struct idle_thread {
    _Atomic uint32_t word; /* IDLE_* */
    void (*fn)(void *);
    void *arg;
    size_t stack_size;
    int64_t since_ns;
    pthread_t tid;
    struct idle_thread *next;
};

static struct idle_thread *idle_top; /* under threads_lock */
static size_t idle_count;            /* under threads_lock */
static _Atomic int64_t keep_ns = 30 * (int64_t)1000000000;

static void after_fork_child(void)
{
    /* The other threads did not cross the fork: only their stacks did.
     * None of them is to be joined or waited for here. */
    idle_top = NULL;
    idle_count = 0;
    have_last_ended = false;
    returning_count = 0;
    exiting_count = 0;
    threads_closed = false;
    threads_close_done = false;
    marked_returning = false;
    pthread_cond_init(&threads_changed, NULL);
    pthread_mutex_unlock(&threads_lock);
}
/* The thread cache's lock is a pthread mutex that no weft lock is taken
 * under, while weft's locks are held around thread starts: it is taken
 * after every module's (the registry calls this last), the portable wait's
 * buckets after it. */
void weft__pf_atfork(int phase)
{
    if (phase == 0) {
        pthread_mutex_lock(&threads_lock);
        weft__pf_wait_atfork(phase);
        return;
    }
    weft__pf_wait_atfork(phase);
    if (phase == 1)
        pthread_mutex_unlock(&threads_lock);
    else
        after_fork_child();
}

/* Take me out of the list if I am still in it (under threads_lock). */
static bool unlink_idle(struct idle_thread *me)
{
    for (struct idle_thread **p = &idle_top; *p; p = &(*p)->next)
        if (*p == me) {
            *p = me->next;
            idle_count--;
            return true;
        }
    return false;
}

/* Told to leave (IDLE_EXIT): I was counted in exiting_count. */
static bool leave_told(void)
{
    pthread_t previous;
    pthread_mutex_lock(&threads_lock);
    exiting_count--;
    bool join = end_me_locked(&previous);
    pthread_mutex_unlock(&threads_lock);
    join_previous(join, previous);
    return false;
}

/* Park until handed work (true) or told / timed out to exit (false, and
 * this thread has ended its part: it only has to return). */
static bool wait_for_work(struct idle_thread *me)
{
    atomic_store_explicit(&me->word, IDLE_WAITING, memory_order_relaxed);
    me->since_ns = weft__pf_now_ns();
    pthread_mutex_lock(&threads_lock);
    if (marked_returning) {
        marked_returning = false;
        returning_count--;
        pthread_cond_broadcast(&threads_changed);
    }
    /* Read under the lock that weft__pf_thread_cache_keep holds while it
     * ends the idle threads: a thread parking now sees the new keep, or
     * is in the list it ends. */
    int64_t keep = atomic_load_explicit(&keep_ns, memory_order_relaxed);
    if (keep <= 0 || threads_closed) {
        pthread_t previous;
        bool join = end_me_locked(&previous);
        pthread_mutex_unlock(&threads_lock);
        join_previous(join, previous);
        return false;
    }
    me->next = idle_top;
    idle_top = me;
    idle_count++;
    pthread_mutex_unlock(&threads_lock);
    int64_t deadline = keep >= WEFT_PF_NO_DEADLINE - me->since_ns ? WEFT_PF_NO_DEADLINE
                                                                  : me->since_ns + keep;
    for (;;) {
        uint32_t w = atomic_load_explicit(&me->word, memory_order_acquire);
        if (w == IDLE_HANDED)
            return true;
        if (w == IDLE_EXIT)
            return leave_told();
        if (weft__pf_wait(&me->word, IDLE_WAITING, deadline) == WEFT_ETIMEDOUT) {
            pthread_t previous;
            pthread_mutex_lock(&threads_lock);
            bool mine = unlink_idle(me);
            bool join = mine && end_me_locked(&previous);
            pthread_mutex_unlock(&threads_lock);
            if (mine) {
                join_previous(join, previous);
                return false;
            }
            deadline = WEFT_PF_NO_DEADLINE; /* a starter took me: its word comes */
        }
    }
}

static void *reusable_entry(void *p)
{
    struct start_box box = *(struct start_box *)p;
    free(p);
    struct idle_thread me = {.stack_size = box.stack_size, .tid = pthread_self()};
    box.fn(box.arg);
    while (wait_for_work(&me))
        me.fn(me.arg);
    return NULL;
}

int weft__pf_thread_start_reusable(void (*fn)(void *), void *arg, size_t stack_size,
                                  weft_pf_thread *handle)
{
    struct idle_thread *t = NULL;
    pthread_mutex_lock(&threads_lock);
    for (struct idle_thread **p = &idle_top; *p; p = &(*p)->next)
        if ((*p)->stack_size == stack_size) {
            t = *p;
            *p = t->next;
            idle_count--;
            break;
        }
    pthread_mutex_unlock(&threads_lock);
    if (!t)
        return create_thread(reusable_entry, fn, arg, stack_size, handle);
    set_handle(handle, t->tid);
    t->fn = fn;
    t->arg = arg;
    atomic_store_explicit(&t->word, IDLE_HANDED, memory_order_release);
    weft__pf_wake(&t->word, 1);
    return WEFT_OK;
}

/* Tell an idle thread, already out of the list, to leave (threads_lock
 * held). */
static void tell_to_leave_locked(struct idle_thread *t)
{
    exiting_count++;
    atomic_store_explicit(&t->word, IDLE_EXIT, memory_order_release);
    weft__pf_wake(&t->word, 1);
}

int64_t weft__pf_thread_cache_keep(int64_t keep)
{
    if (keep < 0)
        keep = 0;
    int64_t now = weft__pf_now_ns();
    pthread_mutex_lock(&threads_lock);
    int64_t old = atomic_exchange(&keep_ns, keep);
    for (struct idle_thread **p = &idle_top; *p;) {
        struct idle_thread *t = *p;
        if (now - t->since_ns >= keep) {
            *p = t->next;
            idle_count--;
            tell_to_leave_locked(t);
        } else {
            p = &t->next;
        }
    }
    pthread_mutex_unlock(&threads_lock);
    return old;
}

size_t weft__pf_thread_cache_idle(void)
{
    pthread_mutex_lock(&threads_lock);
    size_t n = idle_count;
    pthread_mutex_unlock(&threads_lock);
    return n;
}

/* How long the closer waits at most for threads that are ending: they
 * never block on anything, so this is only a guard against a bug turning
 * into a hang at exit. */
#define CLOSE_WAIT_MAX_S 2

void weft__pf_threads_close(void)
{
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += CLOSE_WAIT_MAX_S;
    pthread_mutex_lock(&threads_lock);
    threads_closed = true;
    while (idle_top) {
        struct idle_thread *t = idle_top;
        idle_top = t->next;
        idle_count--;
        tell_to_leave_locked(t);
    }
    int err = 0;
    while ((returning_count > 0 || exiting_count > 0) && err != ETIMEDOUT)
        err = pthread_cond_timedwait(&threads_changed, &threads_lock, &limit);
    bool join = have_last_ended;
    pthread_t last = last_ended;
    have_last_ended = false;
    threads_close_done = true;
    pthread_mutex_unlock(&threads_lock);
    if (join && !pthread_equal(last, pthread_self()))
        (void)pthread_join(last, NULL);
}

weft_pf_thread weft__pf_thread_self(void)
{
    weft_pf_thread h;
    pthread_t self = pthread_self();
    memset(&h, 0, sizeof h);
    memcpy(h.bytes_, &self, sizeof self);
    return h;
}

long weft__pf_native_id(void)
{
#ifdef __linux__
    return (long)syscall(SYS_gettid);
#else
    return (long)getpid();
#endif
}

long weft__pf_main_native_id(void) { return (long)getpid(); }

#ifndef __linux__
static pthread_t first_thread;
static pthread_once_t first_once = PTHREAD_ONCE_INIT;
static void remember_first(void) { first_thread = pthread_self(); }
#endif

int weft__pf_is_main_thread(void)
{
#ifdef __linux__
    return weft__pf_native_id() == (long)getpid();
#else
    /* Without a portable test, the first thread to ask is the main one. */
    pthread_once(&first_once, remember_first);
    return pthread_equal(first_thread, pthread_self());
#endif
}

void weft__pf_set_thread_name(weft_pf_thread thread, const char *name)
{
#if defined(__linux__) || defined(__GLIBC__)
    char shortname[16];
    size_t n = strnlen(name, sizeof shortname - 1);
    memcpy(shortname, name, n);
    shortname[n] = '\0';
    pthread_t tid;
    memcpy(&tid, thread.bytes_, sizeof tid);
    (void)pthread_setname_np(tid, shortname);
#else
    (void)thread;
    (void)name;
#endif
}

size_t weft__pf_min_stack_size(void)
{
#ifdef PTHREAD_STACK_MIN
    return (size_t)PTHREAD_STACK_MIN;
#else
    return 16384;
#endif
}

int weft__pf_cpu_count(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* weft_once's function takes no argument: the hook whose key is to be
 * made is handed over in the calling thread, which is the one that runs
 * the function if any does. */
static _Thread_local weft_pf_exit_hook *key_to_make;

static int make_key(void)
{
    pthread_key_t key;
    if (pthread_key_create(&key, key_to_make->dtor_) != 0)
        return WEFT_ENOMEM;
    key_to_make->key_ = (unsigned)key;
    return WEFT_OK;
}

int weft__pf_exit_hook_arm(weft_pf_exit_hook *hook, void *value)
{
    key_to_make = hook;
    int rc = weft__once_run(&hook->key_made_, make_key);
    if (rc != WEFT_OK)
        return rc;
    return pthread_setspecific((pthread_key_t)hook->key_, value) ? WEFT_ENOMEM : WEFT_OK;
}

/* Nothing to do before the first arm made the key. */
void weft__pf_exit_hook_disarm(weft_pf_exit_hook *hook)
{
    if (atomic_load_explicit(&hook->key_made_.state, memory_order_acquire) == WEFT_ONCE_DONE)
        (void)pthread_setspecific((pthread_key_t)hook->key_, NULL);
}

int weft__pf_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    return pthread_atfork(prepare, parent, child) == 0 ? WEFT_OK : WEFT_ENOMEM;
}

int weft__pf_at_exit(void (*fn)(void))
{
    return atexit(fn) == 0 ? WEFT_OK : WEFT_ENOMEM;
}
