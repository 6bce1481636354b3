/* SPDX-License-Identifier: MIT */
/* process.c — weft_process (multiprocessing.Process). */
#include "weft/process.h"

#include "lifecycle.h"
#include "list.h"
#include "platform/platform.h"
#include "platform/process.h"
#include "park.h"
#include "lock_internal.h"
#include "weft/lock.h"
#include "weft/status.h"
#include "weft/time.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- weft_process ----------------------------------------------------------- */

enum { NEW, STARTED, ENDED, CLOSED };

struct weft_process {
    /* In `children`: started, not yet reaped.  First, as in struct
     * weft_executor: valgrind then counts an unfreed one as reachable. */
    weft_list_node link;
    weft_lock lock; /* state, exitcode, reaping */
    weft_process_fn target;
    void *arg;
    char *name;
    bool daemon;
    int state;
    int exitcode;
    weft_pf_child child;
    bool orphan; /* freed while running: the child list owns it */
};

/* Started children not yet reaped, for the exit hook. */
static weft_lock children_lock = WEFT_LOCK_INIT;
static weft_list children = WEFT_LIST_INIT(children); /* newest first */
static _Atomic unsigned long process_counter;
static const char *my_name = "MainProcess";
static bool i_am_daemon;

static void process_atfork(int phase)
{
    weft__lock_atfork(&children_lock, phase);
    /* The parent's children are not this process's: each leaves the list
     * (popped, it reads as unlinked: freeing its copy here unlinks nothing). */
    if (phase == WEFT_FORK_CHILD)
        while (weft__list_pop_front(&children))
            continue;
}

static void end_children_at_exit(void);
static weft_lifecycle_hooks lifecycle =
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_PROCESS, process_atfork, end_children_at_exit, NULL);

static weft_process *process_of(weft_list_node *node)
{
    return WEFT_LIST_ENTRY(node, weft_process, link);
}

static void link_child(weft_process *p)
{
    weft__lock_take(&children_lock);
    weft__list_push_front(&children, &p->link);
    weft_lock_release(&children_lock);
}

/* Removing a child already taken out does nothing. */
static void unlink_child(weft_process *p)
{
    weft__lock_take(&children_lock);
    weft__list_remove(&p->link);
    weft_lock_release(&children_lock);
}

static void destroy(weft_process *p)
{
    if (p->child.watch_fd >= 0)
        weft__pf_close(p->child.watch_fd);
    free(p->name);
    free(p);
}

/* Collect the exit status if the child has ended (block: wait for it).
 * Lock held.  Returns true once it has ended. */
static bool reap_locked(weft_process *p, bool block)
{
    if (p->state != STARTED)
        return p->state != NEW;
    int code;
    int rc = weft__pf_reap(p->child.pid, block, &code);
    if (rc == WEFT_EAGAIN)
        return false;
    p->exitcode = code; /* ESTATE (SIGCHLD ignored: reaped by the system): 0 */
    p->state = ENDED;
    return true;
}

/* Reap p; frees it if it was orphaned.  Returns true when it has ended. */
static bool reap(weft_process *p, bool block)
{
    weft__lock_take(&p->lock);
    bool was_started = p->state == STARTED;
    bool ended = reap_locked(p, block);
    bool orphan = p->orphan;
    weft_lock_release(&p->lock);
    if (ended && was_started) {
        unlink_child(p);
        if (orphan)
            destroy(p);
    }
    return ended;
}

/* At normal exit, as multiprocessing's atexit handler: terminate daemon
 * children, then wait for every child. */
static void end_children_at_exit(void)
{
    weft__lock_take(&children_lock);
    WEFT_LIST_FOR_EACH(node, next, &children)
        if (process_of(node)->daemon)
            weft__pf_signal(process_of(node)->child.pid, WEFT_PF_SIGTERM);
    weft_lock_release(&children_lock);
    for (;;) {
        weft__lock_take(&children_lock);
        weft_list_node *first = weft__list_first(&children);
        weft_lock_release(&children_lock);
        if (!first)
            break;
        reap(process_of(first), true);
    }
}

/* Orphans that have ended since: reap them so they leave no zombie. */
static void reap_ended_orphans(void)
{
    weft_process *ended = NULL;
    weft__lock_take(&children_lock);
    WEFT_LIST_FOR_EACH(node, next, &children) {
        weft_process *p = process_of(node);
        if (ended)
            break;
        if (!p->orphan)
            continue;
        weft__lock_take(&p->lock);
        if (reap_locked(p, false))
            ended = p;
        weft_lock_release(&p->lock);
    }
    weft_lock_release(&children_lock);
    if (ended) {
        unlink_child(ended);
        destroy(ended);
        reap_ended_orphans();
    }
}

int weft_process_new(weft_process **process, weft_process_fn target, void *arg,
                     const weft_process_options *options)
{
    if (process)
        *process = NULL; /* what it holds on every status but WEFT_OK */
    weft_process_options none = {0};
    if (!options)
        options = &none;
    if (!process || options->daemon < WEFT_DAEMON_INHERIT ||
        options->daemon > WEFT_DAEMON)
        return WEFT_EINVAL;
    weft_process *p = calloc(1, sizeof *p);
    if (!p)
        return WEFT_ENOMEM;
    char made[32];
    const char *name = options->name;
    if (!name || !*name) {
        snprintf(made, sizeof made, "Process-%lu", atomic_fetch_add(&process_counter, 1) + 1);
        name = made;
    }
    p->name = malloc(strlen(name) + 1);
    if (!p->name) {
        free(p);
        return WEFT_ENOMEM;
    }
    strcpy(p->name, name);
    weft_lock_init(&p->lock);
    weft__list_node_init(&p->link);
    p->target = target;
    p->arg = arg;
    p->daemon = options->daemon == WEFT_DAEMON_INHERIT ? i_am_daemon : options->daemon == WEFT_DAEMON;
    p->child.watch_fd = p->child.channel = -1;
    *process = p;
    return WEFT_OK;
}

static int child_body(void *arg, int channel)
{
    (void)channel;
    weft_process *p = arg;
    my_name = p->name;
    i_am_daemon = p->daemon;
    int status = p->target ? p->target(p->arg) : 0;
    weft__lifecycle_exit_now();
    return status;
}

int weft_process_start(weft_process *process)
{
    if (!process)
        return WEFT_EINVAL;
    int rc = weft__lifecycle_register(&lifecycle); /* waited for at exit */
    if (rc != WEFT_OK)
        return rc;
    reap_ended_orphans();
    weft__lock_take(&process->lock);
    if (process->state != NEW) {
        weft_lock_release(&process->lock);
        return WEFT_ESTATE;
    }
    rc = weft__pf_fork_child(child_body, process, false, &process->child);
    if (rc == WEFT_OK)
        process->state = STARTED;
    weft_lock_release(&process->lock);
    if (rc == WEFT_OK)
        link_child(process);
    return rc;
}

int weft_process_join_timeout(weft_process *process, double timeout)
{
    if (!process || isnan(timeout))
        return WEFT_EINVAL;
    weft__lock_take(&process->lock);
    int state = process->state;
    int fd = process->child.watch_fd;
    weft_lock_release(&process->lock);
    if (state == NEW || state == CLOSED)
        return WEFT_ESTATE;
    if (state == ENDED)
        return WEFT_OK;
    int64_t deadline;
    if (weft__deadline_after(timeout < 0 ? 0 : timeout, &deadline) != WEFT_OK)
        return WEFT_EINVAL;
    for (;;) {
        int rc = weft__park_readable(fd, deadline); /* a coroutine suspends */
        if (rc == WEFT_ECANCELLED)
            return rc;
        if (rc == WEFT_ETIMEDOUT || reap(process, false))
            break;
        /* Readable but not reapable: with the sentinel pipe (no pidfd), the
         * child closed its end and runs on.  Poll, within the timeout. */
        if (weft__deadline_passed(deadline))
            break;
        weft_sleep(0.001);
    }
    return reap(process, false) ? WEFT_OK : WEFT_ETIMEDOUT;
}

int weft_process_join(weft_process *process)
{
    return weft_process_join_timeout(process, WEFT_FOREVER);
}

bool weft_process_is_alive(weft_process *process)
{
    if (!process)
        return false;
    weft__lock_take(&process->lock);
    bool started = process->state == STARTED;
    weft_lock_release(&process->lock);
    return started && !reap(process, false);
}

int weft_process_exitcode(weft_process *process, int *exitcode)
{
    if (!process || !exitcode)
        return WEFT_EINVAL;
    weft__lock_take(&process->lock);
    int state = process->state;
    weft_lock_release(&process->lock);
    if (state == CLOSED)
        return WEFT_ESTATE;
    if (state == NEW || (state == STARTED && !reap(process, false)))
        return WEFT_EAGAIN;
    weft__lock_take(&process->lock);
    *exitcode = process->exitcode;
    weft_lock_release(&process->lock);
    return WEFT_OK;
}

long weft_process_pid(const weft_process *process)
{
    return process && process->state != NEW ? process->child.pid : 0;
}

const char *weft_process_name(const weft_process *process)
{
    return process ? process->name : NULL;
}

bool weft_process_daemon(const weft_process *process) { return process && process->daemon; }

int weft_process_set_daemon(weft_process *process, bool daemon)
{
    if (!process)
        return WEFT_EINVAL;
    weft__lock_take(&process->lock);
    int rc = process->state == NEW ? WEFT_OK : WEFT_ESTATE;
    if (rc == WEFT_OK)
        process->daemon = daemon;
    weft_lock_release(&process->lock);
    return rc;
}

/* Signal the child if it has not been reaped (its pid is still ours). */
static int send_signal(weft_process *process, int how)
{
    if (!process)
        return WEFT_EINVAL;
    weft__lock_take(&process->lock);
    int rc = process->state == NEW || process->state == CLOSED ? WEFT_ESTATE : WEFT_OK;
    if (rc == WEFT_OK && !reap_locked(process, false))
        weft__pf_signal(process->child.pid, how);
    weft_lock_release(&process->lock);
    return rc;
}

int weft_process_terminate(weft_process *process) { return send_signal(process, WEFT_PF_SIGTERM); }
int weft_process_kill(weft_process *process) { return send_signal(process, WEFT_PF_SIGKILL); }
int weft_process_interrupt(weft_process *process) { return send_signal(process, WEFT_PF_SIGINT); }

int weft_process_sentinel(const weft_process *process, int *fd)
{
    if (!process || !fd)
        return WEFT_EINVAL;
    if (process->state == NEW || process->state == CLOSED)
        return WEFT_ESTATE;
    *fd = process->child.watch_fd;
    return WEFT_OK;
}

int weft_process_close(weft_process *process)
{
    if (!process)
        return WEFT_EINVAL;
    if (weft_process_is_alive(process))
        return WEFT_ESTATE;
    weft__lock_take(&process->lock);
    if (process->state != CLOSED) {
        if (process->child.watch_fd >= 0)
            weft__pf_close(process->child.watch_fd);
        process->child.watch_fd = -1;
        process->state = CLOSED;
    }
    weft_lock_release(&process->lock);
    return WEFT_OK;
}

void weft_process_free(weft_process *process)
{
    if (!process)
        return;
    if (weft_process_is_alive(process)) {
        weft__lock_take(&process->lock);
        process->orphan = true;
        weft_lock_release(&process->lock);
        /* it may have ended in between: reap now if so */
        reap_ended_orphans();
        return;
    }
    destroy(process);
}

int weft_process_repr(const weft_process *process, char *buf, size_t size)
{
    if (!process)
        return snprintf(buf, size, "<weft_process(NULL)>");
    static const char *const states[] = {"initial", "started", "stopped", "closed"};
    char detail[48] = "";
    if (process->state == STARTED)
        snprintf(detail, sizeof detail, " %ld", process->child.pid);
    else if (process->state == ENDED)
        snprintf(detail, sizeof detail, " exitcode=%d", process->exitcode);
    return snprintf(buf, size, "<weft_process(%s, %s%s%s)>", process->name,
                    states[process->state], detail, process->daemon ? " daemon" : "");
}

const char *weft_process_current_name(void) { return my_name; }
