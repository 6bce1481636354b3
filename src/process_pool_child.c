/* SPDX-License-Identifier: MIT */
/* process_pool_child.c — a process-pool worker's loop, in its forked
 * child: take the next task (from the shared page, spinning a while, or
 * the socket), run it, send the reply back the same way, and exit when the
 * input ends, when the parent is gone, or after a task over the worker's
 * memory cap (see process_pool.c for the whole design). */
#include "process_pool_child.h"

#include "platform/platform.h"
#include "platform/process.h"
#include "process_pool_wire.h"
#include "task_internal.h"
#include "weft/bytes.h"
#include "weft/status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* How long a worker spins for its next task before it sleeps.  It yields
 * the CPU every few microseconds while it spins: with more runnable
 * processes than CPUs (an MPI rank and its children, several pools) a
 * worker spinning without yielding can hold the CPU its parent needs to
 * send the next task, until the scheduler's time slice ends (MPI no-op
 * round trips of 40-180 us instead of 17 us, at random; W9 is unchanged:
 * docs/processes.md). */
#define CHILD_SPIN_NS 100000

/* The worker's reply: through the shared page when it fits, else (and
 * for an initializer failure) on the socket.  false: the parent is gone. */
static bool send_reply(int channel, struct shared_slot *sh, uint32_t kind, int code,
                       uint64_t value, const void *data, size_t size, bool has_bytes)
{
    struct reply_msg r = {.kind = kind, .code = code, .value = value, .size = size,
                          .has_bytes = has_bytes};
    if (kind != REPLY_INIT_FAILED && size <= sizeof sh->reply_data) {
        sh->reply = r;
        if (size)
            memcpy(sh->reply_data, data, size);
        weft__ppool_announce(&sh->reply_seq, &sh->parent_spinning, channel);
        return true;
    }
    return weft__ppool_send_message(channel, &r, sizeof r, data, size) == WEFT_OK;
}

/* Run one task; false when the parent is gone, or when the task failed
 * over the worker's memory cap: the worker then exits. */
static bool serve_one(const struct ppool_worker *w, int channel, struct shared_slot *sh,
                      const struct task_msg *m, void *payload)
{
    void *result;
    /* A crash with ENOMEM in errno is taken for the memory cap's: only
     * this task's failed allocations may leave it there. */
    errno = 0;
    if (m->kind == TASK_BYTES) {
        weft_bytes_fn fn = (weft_bytes_fn)(uintptr_t)m->fn;
        result = fn(payload, (size_t)m->size);
    } else {
        weft_task_fn fn = (weft_task_fn)(uintptr_t)m->fn;
        result = fn((void *)(uintptr_t)m->arg);
    }
    atomic_store(&sh->worker_spinning, 1); /* see weft__process_pool_worker */
    int code;
    char *message;
    if (weft__take_failure(result, &code, &message)) {
        bool ok = send_reply(channel, sh, REPLY_FAILED, code, 0, message,
                             message ? strlen(message) + 1 : 0, false);
        free(message);
        return ok && !weft__ppool_fails_over_cap(w->max_memory, code);
    }
    if (m->kind == TASK_BYTES) {
        weft_bytes *b = result;
        bool ok = send_reply(channel, sh, REPLY_RESULT, 0, 0, b ? b->data : NULL,
                             b ? b->size : 0, b != NULL);
        weft_bytes_free(b);
        return ok;
    }
    return send_reply(channel, sh, REPLY_RESULT, 0, (uint64_t)(uintptr_t)result, NULL, 0, false);
}

/* The worker's next task: from the shared page (spinning a while, then
 * sleeping until a doorbell) or in full from the socket.  *payload is the
 * shared page's copy or a malloc'd one (*owned).  false: the input ended. */
static bool next_task_in_worker(int channel, struct shared_slot *sh, uint32_t *seen,
                                struct task_msg *m, void **payload, bool *owned)
{
    *owned = false;
    for (;;) {
        atomic_store(&sh->worker_spinning, 1); /* (already 1 after a reply) */
        int64_t until = weft__pf_now_ns() + CHILD_SPIN_NS;
        for (unsigned i = 0; atomic_load_explicit(&sh->task_seq, memory_order_acquire) == *seen;
             i++) {
            if ((i & 63) == 63) { /* about every 3 us */
                if (weft__pf_now_ns() >= until)
                    break;
                weft__pf_yield(); /* see CHILD_SPIN_NS */
            }
            weft__pf_cpu_relax();
        }
        atomic_store(&sh->worker_spinning, 0); /* then look once more */
        if (atomic_load(&sh->task_seq) != *seen) {
            (*seen)++;
            *m = sh->task;
            *payload = sh->task_data;
            return true;
        }
        unsigned char tag;
        if (weft__ppool_read_tag(channel, &tag) != WEFT_OK)
            return false; /* shut down (or the parent is gone) */
        if (tag == TAG_DOORBELL)
            continue;
        if (weft__pf_recv_all(channel, m, sizeof *m) != WEFT_OK)
            return false;
        *payload = NULL;
        if (m->size) {
            *payload = malloc((size_t)m->size);
            *owned = true;
            if (!*payload)
                atomic_store(&sh->over_cap, OVER_CAP_EXITED); /* read only under a cap */
            if (!*payload || weft__pf_recv_all(channel, *payload, (size_t)m->size) != WEFT_OK)
                return false;
        }
        return true;
    }
}

int weft__process_pool_worker(void *worker, int channel)
{
    const struct ppool_worker *w = worker;
    struct shared_slot *sh = w->shared;
    /* A crash must end the worker, whatever handler the parent installed
     * (a crash reporter, a test framework): its minder reports it. */
    weft__pf_default_fatal_signals();
    /* The cap counts what the initializer maps too.  A worker that cannot
     * set it breaks the pool, as a failing initializer does. */
    if (w->max_memory && weft__pf_cap_memory(w->max_memory, &sh->over_cap) != WEFT_OK) {
        send_reply(channel, sh, REPLY_INIT_FAILED, WEFT_EBROKEN, 0, NULL, 0, false);
        return 1;
    }
    if (w->initializer && w->initializer(w->initializer_arg) != 0) {
        send_reply(channel, sh, REPLY_INIT_FAILED, WEFT_EBROKEN, 0, NULL, 0, false);
        return 1;
    }
    uint32_t seen = w->first_task_seq;
    for (long done = 0; !w->max_tasks_per_child || done < w->max_tasks_per_child; done++) {
        struct task_msg m;
        void *payload;
        bool owned;
        if (!next_task_in_worker(channel, sh, &seen, &m, &payload, &owned))
            return 0;
        /* Spinning for the next task counts from before the reply is
         * published: else the parent, answering at once, would ring a
         * doorbell the worker never needs. */
        bool ok = serve_one(w, channel, sh, &m, payload);
        if (owned)
            free(payload);
        if (!ok)
            return 0; /* (over the cap: its memory may be full or leaked) */
    }
    return 0; /* max_tasks_per_child reached: the minder starts another */
}

