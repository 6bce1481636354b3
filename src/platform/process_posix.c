/* process_posix.c — fork, channels, waiting and reaping over POSIX (with
 * Linux's pidfd when there is one). */
#define _GNU_SOURCE
#include "process.h"
#include "platform.h"
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

int weft_pf_fork_child(int (*body)(void *arg, int channel), void *arg, bool want_channel,
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
        weft_pf_child_exit(body(arg, want_channel ? pair[1] : -1));
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

_Noreturn void weft_pf_child_exit(int status)
{
    /* Only the standard streams, as Python's child does: other streams may
     * hold the parent's buffered data, which the parent writes itself. */
    fflush(stdout);
    fflush(stderr);
    _exit(status & 0xff);
}

void weft_pf_default_fatal_signals(void)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        (void)signal(fatal[i], SIG_DFL);
}

void *weft_pf_shared_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void weft_pf_shared_free(void *p, size_t size)
{
    if (p)
        (void)munmap(p, size);
}

void weft_pf_close(int fd)
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

int weft_pf_send_all(int fd, const void *data, size_t size)
{
    return transfer_all(fd, (char *)(uintptr_t)data, size, true); /* only read */
}

int weft_pf_recv_all(int fd, void *data, size_t size) { return transfer_all(fd, data, size, false); }

void weft_pf_send_byte_nowait(int fd, unsigned char byte)
{
    ssize_t n;
    do
        n = send(fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
}

void weft_pf_shutdown_write(int fd) { (void)shutdown(fd, SHUT_WR); }

int weft_pf_wait_readable(int fd, int64_t deadline_ns)
{
    for (;;) {
        int timeout_ms = -1;
        if (deadline_ns != WEFT_PF_NO_DEADLINE) {
            int64_t left = deadline_ns - weft_pf_now_ns();
            if (left <= 0)
                timeout_ms = 0;
            else
                timeout_ms = left / 1000000 >= 1000000000 ? 1000000000
                                                          : (int)((left + 999999) / 1000000);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, timeout_ms);
        if (n > 0)
            return WEFT_OK;
        if (n == 0 && timeout_ms == 0)
            return WEFT_ETIMEDOUT;
        /* n == 0 with time left (rounding) or EINTR: look again */
    }
}

int weft_pf_reap(long pid, bool block, int *exitcode)
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

void weft_pf_signal(long pid, int which)
{
    static const int signals[] = {SIGTERM, SIGKILL, SIGINT};
    (void)kill((pid_t)pid, signals[which]);
}

const char *weft_pf_signal_name(int signo)
{
    const char *s = strsignal(signo);
    return s ? s : "unknown signal";
}

