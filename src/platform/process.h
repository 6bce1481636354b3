/* SPDX-License-Identifier: MIT */
/* process.h — the OS services weft's processes need (layer 1 of README.md's Layout):
 * forking a child under weft's fork lock, a channel (a stream socket pair)
 * between parent and child, waiting for readability with a deadline,
 * reaping, signalling.  Nothing above includes an OS header. */
#ifndef WEFT_PLATFORM_PROCESS_H
#define WEFT_PLATFORM_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A forked child as its parent sees it. */
typedef struct weft_pf_child {
    long pid;
    int watch_fd; /* readable (or hung up) once the child has exited */
    int channel;  /* the parent's end of the child's channel, or -1 */
} weft_pf_child;

/* Fork.  In the child, body(arg, channel) runs (channel: the child's end of
 * a fresh socket pair when want_channel, else -1) and its return value is
 * the exit status (see weft__pf_child_exit); every channel end weft's parent
 * holds for other children is closed first, so that those children see
 * their parent's end close when the parent's does.  In the parent, *child
 * is filled in.  WEFT_OK; WEFT_EAGAIN (process limit); WEFT_ENOMEM. */
int weft__pf_fork_child(int (*body)(void *arg, int channel), void *arg, bool want_channel,
                       weft_pf_child *child);

/* End the calling (child) process at once with this status, after flushing
 * stdout and stderr; atexit handlers do not run (as Python's os._exit after
 * a multiprocessing child's target).  The parent flushes the same two
 * streams before every fork, so the child does not repeat their output. */
_Noreturn void weft__pf_child_exit(int status);

/* Restore the default action of the signals that end a process (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT): in a pool worker, the
 * parent's handlers for them make no sense. */
void weft__pf_default_fatal_signals(void);

/* Zeroed memory shared with children forked after this call (an anonymous
 * shared mapping), or NULL.  Free with weft__pf_shared_free(p, size). */
void *weft__pf_shared_alloc(size_t size);
void weft__pf_shared_free(void *p, size_t size);

/* Close a descriptor from weft__pf_fork_child (watch_fd or channel). */
void weft__pf_close(int fd);

/* Send or receive exactly size bytes on a channel.  WEFT_OK; WEFT_ESTATE
 * when the other end is gone (EOF or broken pipe; never SIGPIPE). */
int weft__pf_send_all(int fd, const void *data, size_t size);
int weft__pf_recv_all(int fd, void *data, size_t size);

/* Send one byte if the channel has room for it now; else nothing. */
void weft__pf_send_byte_nowait(int fd, unsigned char byte);

/* Close the sending direction of a channel: the other end reads EOF. */
void weft__pf_shutdown_write(int fd);

/* Wait until fd is readable or hung up.  WEFT_OK, or WEFT_ETIMEDOUT when the
 * deadline (monotonic ns; WEFT_PF_NO_DEADLINE) passes first. */
int weft__pf_wait_readable(int fd, int64_t deadline_ns);

/* Collect the child's exit status without blocking (block = false) or
 * waiting for it.  WEFT_OK with *exitcode: the exit status, or minus the
 * signal number that ended it (Python's Process.exitcode); WEFT_EAGAIN:
 * still running; WEFT_ESTATE: not our child any more (already reaped, or
 * SIGCHLD is ignored): *exitcode is 0. */
int weft__pf_reap(long pid, bool block, int *exitcode);

/* Send a signal to a child.  Callers only signal children they have not
 * reaped (a reaped child's pid may have been reused). */
enum { WEFT_PF_SIGTERM, WEFT_PF_SIGKILL, WEFT_PF_SIGINT };
void weft__pf_signal(long pid, int which);

/* The name of a signal ("Segmentation fault"). */
const char *weft__pf_signal_name(int signo);

/* ---- a memory cap for a child (the process pool's max_memory) ---------------- */

/* Whether weft__pf_cap_memory works in this build: on Linux (RLIMIT_DATA
 * counts every private writable mapping since Linux 4.7, and /proc says how
 * much is mapped), and not under AddressSanitizer, ThreadSanitizer or
 * MemorySanitizer, whose shadow memory and own allocators make such a limit
 * meaningless (their allocators abort instead of returning NULL). */
bool weft__pf_memory_cap_supported(void);

/* In a child: cap its private writable memory (heap, anonymous mappings,
 * thread stacks; not shared or read-only mappings, nor the main stack) at
 * what it has mapped now plus `extra` bytes (RLIMIT_DATA, never raising a
 * lower limit already set): past it, mapping more fails and malloc returns
 * NULL with errno ENOMEM.  Also handle SIGSEGV, SIGBUS and SIGABRT (on an
 * alternate stack): when such a crash follows a refused allocation (errno
 * ENOMEM at the crash, or less than 1 MiB left under the cap), the handler
 * stores the signal's number in *noted; either way the crash then goes on
 * (default action: the child dies by that signal).  WEFT_OK; WEFT_EINVAL
 * where unsupported; WEFT_ENOMEM (no room for the alternate stack);
 * WEFT_EAGAIN (the limit could not be set). */
int weft__pf_cap_memory(size_t extra, _Atomic int32_t *noted);

#endif
