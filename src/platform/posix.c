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

int64_t weft_pf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void weft_pf_sleep_until(int64_t deadline_ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline_ns / 1000000000),
        .tv_nsec = (long)(deadline_ns % 1000000000),
    };
    /* clock_nanosleep returns the error number; retry on signals. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

void weft_pf_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

void weft_pf_yield(void) { sched_yield(); }

struct start_box {
    void (*fn)(void *);
    void *arg;
    size_t stack_size;
};

static void *thread_entry(void *p)
{
    struct start_box box = *(struct start_box *)p;
    free(p);
    box.fn(box.arg);
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
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
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

int weft_pf_thread_start(void (*fn)(void *), void *arg, size_t stack_size,
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

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct idle_thread *idle_top; /* under idle_lock */
static size_t idle_count;            /* under idle_lock */
static _Atomic int64_t keep_ns = 30 * (int64_t)1000000000;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void before_fork(void) { pthread_mutex_lock(&idle_lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&idle_lock); }
static void after_fork_child(void)
{
    /* The idle threads did not cross the fork: only their stacks did. */
    idle_top = NULL;
    idle_count = 0;
    pthread_mutex_unlock(&idle_lock);
}
static void install_fork_handlers(void)
{
    (void)pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Take me out of the list if I am still in it (under idle_lock). */
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

/* Park until handed work (true) or told / timed out to exit (false). */
static bool wait_for_work(struct idle_thread *me)
{
    atomic_store_explicit(&me->word, IDLE_WAITING, memory_order_relaxed);
    me->since_ns = weft_pf_now_ns();
    pthread_mutex_lock(&idle_lock);
    /* Read under the lock that weft_pf_thread_cache_keep holds while it
     * ends the idle threads: a thread parking now sees the new keep, or
     * is in the list it ends. */
    int64_t keep = atomic_load_explicit(&keep_ns, memory_order_relaxed);
    if (keep <= 0) {
        pthread_mutex_unlock(&idle_lock);
        return false;
    }
    me->next = idle_top;
    idle_top = me;
    idle_count++;
    pthread_mutex_unlock(&idle_lock);
    int64_t deadline = keep >= WEFT_PF_NO_DEADLINE - me->since_ns ? WEFT_PF_NO_DEADLINE
                                                                  : me->since_ns + keep;
    for (;;) {
        uint32_t w = atomic_load_explicit(&me->word, memory_order_acquire);
        if (w != IDLE_WAITING)
            return w == IDLE_HANDED;
        if (weft_pf_wait(&me->word, IDLE_WAITING, deadline) == WEFT_ETIMEDOUT) {
            pthread_mutex_lock(&idle_lock);
            bool mine = unlink_idle(me);
            pthread_mutex_unlock(&idle_lock);
            if (mine)
                return false;
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

int weft_pf_thread_start_reusable(void (*fn)(void *), void *arg, size_t stack_size,
                                  weft_pf_thread *handle)
{
    pthread_once(&fork_once, install_fork_handlers);
    struct idle_thread *t = NULL;
    pthread_mutex_lock(&idle_lock);
    for (struct idle_thread **p = &idle_top; *p; p = &(*p)->next)
        if ((*p)->stack_size == stack_size) {
            t = *p;
            *p = t->next;
            idle_count--;
            break;
        }
    pthread_mutex_unlock(&idle_lock);
    if (!t)
        return create_thread(reusable_entry, fn, arg, stack_size, handle);
    set_handle(handle, t->tid);
    t->fn = fn;
    t->arg = arg;
    atomic_store_explicit(&t->word, IDLE_HANDED, memory_order_release);
    weft_pf_wake(&t->word, 1);
    return WEFT_OK;
}

int64_t weft_pf_thread_cache_keep(int64_t keep)
{
    if (keep < 0)
        keep = 0;
    int64_t now = weft_pf_now_ns();
    pthread_mutex_lock(&idle_lock);
    int64_t old = atomic_exchange(&keep_ns, keep);
    for (struct idle_thread **p = &idle_top; *p;) {
        struct idle_thread *t = *p;
        if (now - t->since_ns >= keep) {
            *p = t->next;
            idle_count--;
            atomic_store_explicit(&t->word, IDLE_EXIT, memory_order_release);
            weft_pf_wake(&t->word, 1);
        } else {
            p = &t->next;
        }
    }
    pthread_mutex_unlock(&idle_lock);
    return old;
}

size_t weft_pf_thread_cache_idle(void)
{
    pthread_mutex_lock(&idle_lock);
    size_t n = idle_count;
    pthread_mutex_unlock(&idle_lock);
    return n;
}

weft_pf_thread weft_pf_thread_self(void)
{
    weft_pf_thread h;
    pthread_t self = pthread_self();
    memset(&h, 0, sizeof h);
    memcpy(h.bytes_, &self, sizeof self);
    return h;
}

long weft_pf_native_id(void)
{
#ifdef __linux__
    return (long)syscall(SYS_gettid);
#else
    return (long)getpid();
#endif
}

long weft_pf_main_native_id(void) { return (long)getpid(); }

#ifndef __linux__
static pthread_t first_thread;
static pthread_once_t first_once = PTHREAD_ONCE_INIT;
static void remember_first(void) { first_thread = pthread_self(); }
#endif

int weft_pf_is_main_thread(void)
{
#ifdef __linux__
    return weft_pf_native_id() == (long)getpid();
#else
    /* Without a portable test, the first thread to ask is the main one. */
    pthread_once(&first_once, remember_first);
    return pthread_equal(first_thread, pthread_self());
#endif
}

void weft_pf_set_thread_name(weft_pf_thread thread, const char *name)
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

size_t weft_pf_min_stack_size(void)
{
#ifdef PTHREAD_STACK_MIN
    return (size_t)PTHREAD_STACK_MIN;
#else
    return 16384;
#endif
}

int weft_pf_cpu_count(void)
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

int weft_pf_exit_hook_arm(weft_pf_exit_hook *hook, void *value)
{
    int state = atomic_load_explicit(&hook->state_, memory_order_acquire);
    while (state != 2) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&hook->state_, &expected, 1)) {
            pthread_key_t key;
            if (pthread_key_create(&key, hook->dtor_) != 0) {
                atomic_store(&hook->state_, 0);
                return WEFT_ENOMEM;
            }
            hook->key_ = (unsigned)key;
            atomic_store_explicit(&hook->state_, 2, memory_order_release);
        } else {
            weft_pf_yield();
        }
        state = atomic_load_explicit(&hook->state_, memory_order_acquire);
    }
    return pthread_setspecific((pthread_key_t)hook->key_, value) ? WEFT_ENOMEM
                                                                 : WEFT_OK;
}

void weft_pf_exit_hook_disarm(weft_pf_exit_hook *hook)
{
    if (atomic_load_explicit(&hook->state_, memory_order_acquire) == 2)
        (void)pthread_setspecific((pthread_key_t)hook->key_, NULL);
}

int weft_pf_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    return pthread_atfork(prepare, parent, child) == 0 ? WEFT_OK : WEFT_ENOMEM;
}

int weft_pf_at_exit(void (*fn)(void))
{
    return atexit(fn) == 0 ? WEFT_OK : WEFT_ENOMEM;
}
