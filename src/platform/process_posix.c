/* SPDX-License-Identifier: MIT */
/* process_posix.c — fork, channels, waiting and reaping over POSIX (with
 * Linux's pidfd when there is one). */
#define _GNU_SOURCE
#include "process.h"
#include "socket.h"
#include "platform.h"
#include "sanitize.h"
#include "weft/status.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

/* Every fork weft makes, and the creation and closing of the descriptors
 * it hands its children, happen under this lock: so no weft child inherits
 * the child's end of another child's channel (which would keep that
 * channel open after its child died), and the list of the parent's ends
 * that a new child closes is complete. */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static int *parent_ends; /* under fork_lock */
static size_t parent_end_count, parent_end_capacity;

static int remember_parent_end(int fd)
{
    if (parent_end_count == parent_end_capacity) {
        size_t cap = parent_end_capacity ? parent_end_capacity * 2 : 16;
        int *grown = realloc(parent_ends, cap * sizeof *grown);
        if (!grown)
            return WEFT_ENOMEM;
        parent_ends = grown;
        parent_end_capacity = cap;
    }
    parent_ends[parent_end_count++] = fd;
    return WEFT_OK;
}

static void forget_parent_end(int fd)
{
    for (size_t i = 0; i < parent_end_count; i++)
        if (parent_ends[i] == fd) {
            parent_ends[i] = parent_ends[--parent_end_count];
            return;
        }
}

static int status_of_errno(int err)
{
    return err == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
}

static void close_quietly(int fd)
{
    if (fd >= 0)
        (void)close(fd);
}

/* A descriptor that becomes readable when the child exits: a pidfd, else
 * the read end of a pipe whose write end only the child holds. */
static int open_pidfd(pid_t pid)
{
#if defined(__linux__) && defined(SYS_pidfd_open)
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        return (int)fd;
    }
#else
    (void)pid;
#endif
    return -1;
}

int weft__pf_fork_child(int (*body)(void *arg, int channel), void *arg, bool want_channel,
                       weft_pf_child *child)
{
    int pair[2] = {-1, -1}, sentinel[2] = {-1, -1};
    pthread_mutex_lock(&fork_lock);
    int rc = WEFT_OK;
    if (want_channel && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        rc = status_of_errno(errno);
    /* Always made: the pidfd may not exist (old kernel, other system). */
    if (rc == WEFT_OK && pipe2(sentinel, O_CLOEXEC) != 0)
        rc = status_of_errno(errno);
    if (rc == WEFT_OK && want_channel)
        rc = remember_parent_end(pair[0]);
    if (rc == WEFT_OK) {
        /* Else the child would inherit, and print again, what the parent
         * has buffered (Python flushes the same two streams). */
        fflush(stdout);
        fflush(stderr);
    }
    pid_t pid = rc == WEFT_OK ? fork() : -1;
    if (rc == WEFT_OK && pid < 0)
        rc = status_of_errno(errno);
    if (pid == 0) {
        /* The child: only the forking thread exists.  Keep to
         * async-signal-safe calls until body runs. */
        for (size_t i = 0; i < parent_end_count; i++)
            close(parent_ends[i]);
        close(sentinel[0]);
        pthread_mutex_unlock(&fork_lock); /* the child's own copy */
        weft__pf_child_exit(body(arg, want_channel ? pair[1] : -1));
    }
    if (rc != WEFT_OK) {
        if (want_channel && pair[0] >= 0)
            forget_parent_end(pair[0]);
        close_quietly(pair[0]);
        close_quietly(pair[1]);
        close_quietly(sentinel[0]);
        close_quietly(sentinel[1]);
        pthread_mutex_unlock(&fork_lock);
        return rc;
    }
    close_quietly(pair[1]);
    close_quietly(sentinel[1]);
    pthread_mutex_unlock(&fork_lock);
    child->pid = pid;
    child->channel = want_channel ? pair[0] : -1;
    int pidfd = open_pidfd(pid);
    if (pidfd >= 0) {
        close(sentinel[0]); /* the pidfd is exact; the pipe can be kept open by grandchildren */
        child->watch_fd = pidfd;
    } else {
        child->watch_fd = sentinel[0];
    }
    return WEFT_OK;
}

_Noreturn void weft__pf_child_exit(int status)
{
    /* Only the standard streams, as Python's child does: other streams may
     * hold the parent's buffered data, which the parent writes itself. */
    fflush(stdout);
    fflush(stderr);
#if defined(WEFT__TSAN)
    /* TSan's _exit reports as leaked every thread the parent had that had
     * ended but was not joined yet at the fork (a pool's thread on its way
     * out): none is the child's.  Races are reported as they happen, so
     * leaving by the system call loses nothing else. */
    syscall(SYS_exit_group, status & 0xff);
#endif
    _exit(status & 0xff);
}

void weft__pf_default_fatal_signals(void)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        (void)signal(fatal[i], SIG_DFL);
}

void *weft__pf_shared_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void weft__pf_shared_free(void *p, size_t size)
{
    if (p)
        (void)munmap(p, size);
}

void weft__pf_close(int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&fork_lock);
    forget_parent_end(fd);
    close(fd);
    pthread_mutex_unlock(&fork_lock);
}

/* Move exactly size bytes one way; a closed other end is WEFT_ESTATE. */
static int transfer_all(int fd, char *p, size_t size, bool sending)
{
    while (size) {
        ssize_t n = sending ? send(fd, p, size, MSG_NOSIGNAL) : recv(fd, p, size, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return WEFT_ESTATE;
        p += n;
        size -= (size_t)n;
    }
    return WEFT_OK;
}

int weft__pf_send_all(int fd, const void *data, size_t size)
{
    return transfer_all(fd, (char *)(uintptr_t)data, size, true); /* only read */
}

int weft__pf_recv_all(int fd, void *data, size_t size) { return transfer_all(fd, data, size, false); }

void weft__pf_send_byte_nowait(int fd, unsigned char byte)
{
    ssize_t n;
    do
        n = send(fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
}

void weft__pf_shutdown_write(int fd) { (void)shutdown(fd, SHUT_WR); }

int weft__pf_wait_readable(int fd, int64_t deadline_ns)
{
    return weft__pf_wait_fd(fd, WEFT_PF_READ, deadline_ns);
}

int weft__pf_reap(long pid, bool block, int *exitcode)
{
    int status;
    *exitcode = 0;
    for (;;) {
        pid_t r = waitpid((pid_t)pid, &status, block ? 0 : WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return WEFT_ESTATE;
        if (r == 0)
            return WEFT_EAGAIN;
        break;
    }
    if (WIFEXITED(status))
        *exitcode = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        *exitcode = -WTERMSIG(status);
    return WEFT_OK;
}

void weft__pf_signal(long pid, int which)
{
    static const int signals[] = {SIGTERM, SIGKILL, SIGINT};
    (void)kill((pid_t)pid, signals[which]);
}

const char *weft__pf_signal_name(int signo)
{
    const char *s = strsignal(signo);
    return s ? s : "unknown signal";
}


/* ---- a memory cap for a child -------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_PF_SHADOW_MEMORY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define WEFT_PF_SHADOW_MEMORY 1
#endif
#endif

#if defined(__linux__) && !defined(WEFT_PF_SHADOW_MEMORY)
#include <sys/resource.h>

/* Less room than this left under the cap at a crash: the crash is taken
 * as the cap's (a refused allocation leaves at most about one brk or mmap
 * step of room, 128 KiB for small requests).  A sixteenth of a small cap,
 * so that a 2 MiB cap does not take every crash for its own. */
#define CAP_NEARLY_FULL_MAX ((uint64_t)1 << 20)

static _Atomic int32_t *cap_noted;
static uint64_t cap_limit, cap_margin;
static pid_t cap_pid; /* the capped child: not a child it forked itself */

/* The private writable memory mapped now: Linux's "VmData:" in
 * /proc/self/status, in bytes (0 if unknown).  Async-signal-safe: open,
 * read and close, and no library parsing; read in pieces, as the lines
 * before it (Groups:) have no bound. */
static uint64_t private_memory(void)
{
    static const char key[] = "\nVmData:";
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[512];
    size_t matched = 0;
    int phase = 0; /* 0: looking for the key, 1: blanks after it, 2: digits */
    uint64_t kb = 0;
    bool done = false;
    ssize_t n;
    while (!done && (n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n && !done; i++) {
            char c = buf[i];
            if (phase == 0) {
                /* the key's first character occurs in it only once */
                matched = c == key[matched] ? matched + 1 : c == key[0];
                phase = matched == sizeof key - 1;
            } else if (c >= '0' && c <= '9') {
                kb = kb * 10 + (uint64_t)(c - '0');
                phase = 2;
            } else {
                done = phase == 2 || (c != ' ' && c != '\t');
            }
        }
    }
    close(fd);
    return phase == 2 ? kb * 1024 : 0;
}

/* A crash in a capped child: note whether the cap caused it, then let it
 * go on.  errno is the crashing thread's: a task that used malloc's NULL
 * crashes with ENOMEM still in it (the worker clears errno before each
 * task, so an earlier task's ENOMEM does not count). */
static void on_crash(int signo)
{
    int err = errno;
    if (getpid() == cap_pid) {
        uint64_t used = err == ENOMEM ? 0 : private_memory();
        if (err == ENOMEM || (used && used + cap_margin > cap_limit))
            atomic_store(cap_noted, signo);
    }
    /* SA_RESETHAND made the action the default: a fault recurs on return,
     * a raised or sent signal is delivered again once this returns. */
    raise(signo);
    errno = err;
}

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGABRT};

static int handle_crashes(void)
{
    size_t size = SIGSTKSZ > 65536 ? SIGSTKSZ : 65536;
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return WEFT_ENOMEM;
    stack_t alt = {.ss_sp = mem, .ss_size = size};
    if (sigaltstack(&alt, NULL) != 0)
        return WEFT_ENOMEM;
    struct sigaction sa = {.sa_handler = on_crash, .sa_flags = SA_ONSTACK | SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigset_t crashes;
    sigemptyset(&crashes);
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) {
        (void)sigaction(crash_signals[i], &sa, NULL);
        sigaddset(&crashes, crash_signals[i]);
    }
    /* Blocked in the forking thread, a fault would kill the child without
     * the handler. */
    (void)sigprocmask(SIG_UNBLOCK, &crashes, NULL);
    return WEFT_OK;
}

bool weft__pf_memory_cap_supported(void) { return true; }

int weft__pf_cap_memory(size_t extra, _Atomic int32_t *noted)
{
    cap_noted = noted; /* before the handler can run */
    cap_limit = UINT64_MAX;
    cap_margin = extra / 16 < CAP_NEARLY_FULL_MAX ? extra / 16 : CAP_NEARLY_FULL_MAX;
    cap_pid = getpid();
    int rc = handle_crashes(); /* its stack mapped first: under the baseline */
    if (rc != WEFT_OK)
        return rc;
    uint64_t now = private_memory();
    if (!now)
        return WEFT_EAGAIN;
    struct rlimit rl;
    if (getrlimit(RLIMIT_DATA, &rl) != 0)
        return WEFT_EAGAIN;
    uint64_t want = now + extra < now ? UINT64_MAX : now + extra;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > want)
        rl.rlim_cur = (rlim_t)want;
    cap_limit = (uint64_t)rl.rlim_cur;
    return setrlimit(RLIMIT_DATA, &rl) == 0 ? WEFT_OK : WEFT_EAGAIN;
}

#else

bool weft__pf_memory_cap_supported(void) { return false; }

int weft__pf_cap_memory(size_t extra, _Atomic int32_t *noted)
{
    (void)extra;
    (void)noted;
    return WEFT_EINVAL;
}

#endif
