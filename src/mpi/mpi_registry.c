/* SPDX-License-Identifier: MIT */
/* mpi_registry.c — the functions a task may name: registered under the
 * same names in every rank, found by pointer in the client (which sends
 * the index) and by name in a serving rank (which maps the client's
 * indexes to its own at the greeting). */
#include "mpi_internal.h"

#include "weft/status.h"

#include <stdlib.h>
#include <string.h>

static weft_lock registry_lock = WEFT_LOCK_INIT;
static struct mpi_function *functions;
static size_t count, capacity;

static bool name_taken_locked(const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(functions[i].name, name) == 0)
            return true;
    return false;
}

static bool fn_taken_locked(const struct mpi_function *f)
{
    for (size_t i = 0; i < count; i++)
        if ((f->bytes_fn && functions[i].bytes_fn == f->bytes_fn) ||
            (f->task_fn && functions[i].task_fn == f->task_fn))
            return true;
    return false;
}

static int add(const char *name, const struct mpi_function *f)
{
    if (!name || !*name || strlen(name) > WEFT_MPI_NAME_MAX || (!f->bytes_fn && !f->task_fn))
        return WEFT_EINVAL;
    weft_lock_acquire(&registry_lock);
    int rc = WEFT_OK;
    if (name_taken_locked(name) || fn_taken_locked(f)) {
        rc = WEFT_EINVAL;
    } else if (count == capacity) {
        size_t cap = capacity ? 2 * capacity : 16;
        struct mpi_function *grown = realloc(functions, cap * sizeof *grown);
        if (!grown)
            rc = WEFT_ENOMEM;
        else {
            functions = grown;
            capacity = cap;
        }
    }
    if (rc == WEFT_OK) {
        functions[count] = *f;
        strcpy(functions[count].name, name);
        count++;
    }
    weft_lock_release(&registry_lock);
    return rc;
}

int weft_mpi_register_bytes(const char *name, weft_bytes_fn fn)
{
    struct mpi_function f = {.kind = FN_BYTES, .bytes_fn = fn};
    return add(name, &f);
}

int weft_mpi_register_task(const char *name, weft_task_fn fn)
{
    struct mpi_function f = {.kind = FN_TASK, .task_fn = fn};
    return add(name, &f);
}

static long find(bool (*match)(const struct mpi_function *, const void *), const void *key)
{
    long found = -1;
    weft_lock_acquire(&registry_lock);
    for (size_t i = 0; i < count && found < 0; i++)
        if (match(&functions[i], key))
            found = (long)i;
    weft_lock_release(&registry_lock);
    return found;
}

struct fn_key {
    weft_bytes_fn bytes_fn;
    weft_task_fn task_fn;
};

static bool same_fn(const struct mpi_function *f, const void *key)
{
    const struct fn_key *k = key;
    return (k->bytes_fn && f->bytes_fn == k->bytes_fn) || (k->task_fn && f->task_fn == k->task_fn);
}

long weft__mpi_find_bytes(weft_bytes_fn fn)
{
    struct fn_key k = {.bytes_fn = fn};
    return fn ? find(same_fn, &k) : -1;
}

long weft__mpi_find_task(weft_task_fn fn)
{
    struct fn_key k = {.task_fn = fn};
    return fn ? find(same_fn, &k) : -1;
}

struct name_key {
    const char *name;
    int kind;
};

static bool same_name(const struct mpi_function *f, const void *key)
{
    const struct name_key *k = key;
    return f->kind == k->kind && strcmp(f->name, k->name) == 0;
}

long weft__mpi_find_name(const char *name, int kind)
{
    struct name_key k = {name, kind};
    return find(same_name, &k);
}

size_t weft__mpi_functions(void)
{
    weft_lock_acquire(&registry_lock);
    size_t n = count;
    weft_lock_release(&registry_lock);
    return n;
}

struct mpi_function weft__mpi_function_at(size_t i)
{
    weft_lock_acquire(&registry_lock);
    struct mpi_function f = functions[i];
    weft_lock_release(&registry_lock);
    return f;
}
