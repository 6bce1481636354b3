/* SPDX-License-Identifier: MIT */
/* local.c — thread-local values without a limit on the number of locals.
 *
 * Each local gets a slot number on first use.  Each thread keeps a table of
 * values indexed by slot, created on its first set.  All tables are linked
 * in a registry so that destroying a local can destroy every thread's value
 * for it.  Reads and writes of a thread's own entries take no lock: only
 * growing a table, creating or retiring one, and destroying a local take
 * the registry lock.  Destroy functions always run outside that lock, so
 * they may use weft_local themselves.
 */
#include "weft/local.h"
#include "lock_internal.h"

#include "lifecycle.h"
#include "list.h"
#include "local_internal.h"
#include "platform/platform.h"
#include "weft/lock.h"
#include "weft/status.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A value and the function that destroys it, kept together so that a
 * thread exiting needs nothing but its own table. */
struct entry {
    _Atomic(void *) value;          /* swapped atomically: see weft_local_destroy */
    weft_local_destroy_fn destroy;  /* only the owning thread uses this */
};

struct table {
    /* In `tables`.  First, as in struct weft_executor: valgrind then
     * counts a live thread's table as reachable. */
    weft_list_node link;
    struct entry *entries; /* indexed by slot */
    uint32_t capacity;
};

/* Guarded by `registry`: the list of tables, slot numbers, and the shape of
 * every table.  A thread's own entries are read and written by that thread
 * without the lock; weft_local_destroy takes values out of other threads'
 * tables with an atomic exchange, so each value is destroyed exactly once
 * even if its thread sets a new one at that moment. */
static weft_lock registry = WEFT_LOCK_INIT;
static weft_list tables = WEFT_LIST_INIT(tables);
static uint32_t slots_used;   /* highest slot handed out */
static uint32_t *free_slots;  /* retired slot numbers */
static uint32_t free_count, free_capacity;

static _Thread_local struct table *my_table;

/* The other threads' tables stay in the child's list, as they always
 * have: their values are not this thread's to destroy. */
static void local_atfork(int phase) { weft__lock_atfork(&registry, phase); }

static weft_lifecycle_hooks lifecycle =
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_LOCAL, local_atfork, NULL, NULL);

/* Every use of the registry lock: the fork hook is added before it is
 * first taken.  Adding cannot fail; the handlers are installed by the
 * modules above (a thread's start), and a program that never installs
 * them has no fork handling at all, as before. */
static void take_registry(void)
{
    weft__lifecycle_add(&lifecycle);
    weft__lock_take(&registry);
}

static void exit_hook_fired(void *table);
static weft_pf_exit_hook exit_hook = WEFT_PF_EXIT_HOOK_INIT(exit_hook_fired);

int weft_local_init(weft_local *local, weft_local_init_fn init, void *init_arg,
                    weft_local_destroy_fn destroy)
{
    if (!local)
        return WEFT_EINVAL;
    atomic_init(&local->slot_, 0);
    local->init_ = init;
    local->init_arg_ = init_arg;
    local->destroy_ = destroy;
    return WEFT_OK;
}

/* The local's slot number, handed out on first use. */
static uint32_t slot_of(weft_local *local)
{
    uint32_t slot = atomic_load_explicit(&local->slot_, memory_order_acquire);
    if (slot)
        return slot;
    take_registry();
    slot = atomic_load_explicit(&local->slot_, memory_order_relaxed);
    if (!slot) {
        slot = free_count ? free_slots[--free_count] : ++slots_used;
        atomic_store_explicit(&local->slot_, slot, memory_order_release);
    }
    weft_lock_release(&registry);
    return slot;
}

static struct table *table_of(weft_list_node *node)
{
    return WEFT_LIST_ENTRY(node, struct table, link);
}

/* Make the calling thread's table hold entry `slot`. */
static int reserve(uint32_t slot)
{
    struct table *t = my_table;
    if (t && slot < t->capacity)
        return WEFT_OK;
    bool fresh = !t;
    if (fresh) {
        t = calloc(1, sizeof *t);
        if (!t || weft__pf_exit_hook_arm(&exit_hook, t) != WEFT_OK) {
            free(t);
            return WEFT_ENOMEM;
        }
        weft__list_node_init(&t->link);
    }
    uint32_t cap = t->capacity ? t->capacity : 8;
    while (cap <= slot)
        cap *= 2;
    take_registry();
    struct entry *grown = realloc(t->entries, cap * sizeof *grown);
    if (grown) {
        memset(grown + t->capacity, 0, (cap - t->capacity) * sizeof *grown);
        t->entries = grown;
        t->capacity = cap;
        if (fresh)
            weft__list_push_front(&tables, &t->link);
    }
    weft_lock_release(&registry);
    if (!grown) {
        if (fresh) {
            weft__pf_exit_hook_disarm(&exit_hook);
            free(t);
        }
        return WEFT_ENOMEM;
    }
    my_table = t;
    return WEFT_OK;
}

void *weft_local_get(weft_local *local)
{
    if (!local)
        return NULL;
    uint32_t slot = slot_of(local);
    struct table *t = my_table;
    void *value = t && slot < t->capacity
                      ? atomic_load_explicit(&t->entries[slot].value, memory_order_relaxed)
                      : NULL;
    if (value)
        return value;
    if (!local->init_)
        return NULL;
    value = local->init_(local->init_arg_);
    if (value && weft_local_set(local, value) != WEFT_OK) {
        if (local->destroy_)
            local->destroy_(value);
        return NULL;
    }
    return value;
}

int weft_local_set(weft_local *local, void *value)
{
    if (!local)
        return WEFT_EINVAL;
    uint32_t slot = slot_of(local);
    if (!value && (!my_table || slot >= my_table->capacity))
        return WEFT_OK;
    int rc = reserve(slot);
    if (rc != WEFT_OK)
        return rc;
    struct entry *e = &my_table->entries[slot];
    weft_local_destroy_fn old_destroy = e->destroy;
    e->destroy = local->destroy_;
    void *old = atomic_exchange_explicit(&e->value, value, memory_order_acq_rel);
    if (old && old != value && old_destroy)
        old_destroy(old);
    return WEFT_OK;
}

int weft_local_delete(weft_local *local) { return weft_local_set(local, NULL); }

int weft_local_destroy(weft_local *local)
{
    if (!local)
        return WEFT_EINVAL;
    uint32_t slot = atomic_load_explicit(&local->slot_, memory_order_acquire);
    if (!slot)
        return WEFT_OK;

    take_registry();
    size_t n = 0;
    WEFT_LIST_FOR_EACH(node, next, &tables)
        n += slot < table_of(node)->capacity;
    void **doomed = n ? malloc(n * sizeof *doomed) : NULL;
    bool ok = doomed || !n;
    if (ok && free_count == free_capacity) {
        uint32_t cap = free_capacity ? free_capacity * 2 : 16;
        uint32_t *grown = realloc(free_slots, cap * sizeof *grown);
        ok = grown != NULL;
        if (grown) {
            free_slots = grown;
            free_capacity = cap;
        }
    }
    if (!ok) {
        weft_lock_release(&registry);
        free(doomed);
        return WEFT_ENOMEM;
    }
    n = 0;
    WEFT_LIST_FOR_EACH(node, next, &tables) {
        struct table *t = table_of(node);
        if (slot < t->capacity) {
            void *v = atomic_exchange_explicit(&t->entries[slot].value, NULL,
                                               memory_order_acq_rel);
            if (v)
                doomed[n++] = v;
        }
    }
    free_slots[free_count++] = slot;
    atomic_store_explicit(&local->slot_, 0, memory_order_release);
    weft_lock_release(&registry);

    for (size_t i = 0; local->destroy_ && i < n; i++)
        local->destroy_(doomed[i]);
    free(doomed);
    return WEFT_OK;
}

/* Retire the calling thread's table and destroy its values outside the
 * lock.  A destroy function may set new values, which makes a new table:
 * repeat a few times, as pthread key destructors do. */
void weft__local_thread_exit(void)
{
    for (int round = 0; round < 4 && my_table; round++) {
        struct table *t = my_table;
        my_table = NULL;
        take_registry();
        weft__list_remove(&t->link);
        weft_lock_release(&registry);
        weft__pf_exit_hook_disarm(&exit_hook);
        for (uint32_t slot = 0; slot < t->capacity; slot++) {
            struct entry *e = &t->entries[slot];
            void *v = atomic_exchange_explicit(&e->value, NULL, memory_order_acq_rel);
            if (v && e->destroy)
                e->destroy(v);
        }
        free(t->entries);
        free(t);
    }
}

static void exit_hook_fired(void *table)
{
    (void)table;
    weft__local_thread_exit();
}
