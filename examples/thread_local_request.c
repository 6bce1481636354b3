/* SPDX-License-Identifier: MIT */
/* thread_local_request.c — thread-local data, as the guides use it for
 * per-request state: each thread handling a request keeps its own request
 * id and user in a weft_local (Python's threading.local()), so that deep
 * helper functions can read "the current request" without passing it
 * down, and no thread ever sees another's.
 *
 * Usage: thread_local_request [requests]   (default 8)
 */
#include <weft.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct request {
    int id;
    char user[16];
};

/* request_data = threading.local(); each thread's value is freed with it. */
static weft_local request_data = WEFT_LOCAL_INIT(free);
static _Atomic int mismatches, failures;

/* Deep inside the handler: no request parameter, yet the right one. */
static void log_line(const char *what, int expected_id)
{
    const struct request *r = weft_local_get(&request_data);
    if (!r || r->id != expected_id)
        atomic_fetch_add(&mismatches, 1);
    printf("  [request %d, user %s] %s\n", r ? r->id : -1, r ? r->user : "?", what);
}

static void *handle_request(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct request *r = malloc(sizeof *r);
    if (!r) {
        fprintf(stderr, "request %d: out of memory\n", id);
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    r->id = id;
    snprintf(r->user, sizeof r->user, "user%d", id * 7 % 10);
    int rc = weft_local_set(&request_data, r); /* request_data.request = ... */
    if (rc != WEFT_OK) {
        fprintf(stderr, "request %d: %s\n", id, weft_strerror(rc));
        atomic_fetch_add(&failures, 1);
        free(r); /* not stored, so not freed with the thread */
        return NULL;
    }
    log_line("started", id);
    weft_sleep(0.01 * (id % 3)); /* other requests run meanwhile */
    log_line("finished", id);
    return NULL; /* the thread's value is freed when it ends */
}

/* A weft call that failed: say which and why, and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int requests = argc > 1 ? atoi(argv[1]) : 8;
    if (requests < 1 || requests > 64) {
        fprintf(stderr, "usage: %s [requests 1-64]\n", argv[0]);
        return 2;
    }
    weft_thread *threads[64];
    for (int i = 0; i < requests; i++) {
        check(weft_thread_new(&threads[i], handle_request, (void *)(intptr_t)(i + 1), NULL),
              "weft_thread_new");
        check(weft_thread_start(threads[i]), "weft_thread_start");
    }
    for (int i = 0; i < requests; i++) {
        check(weft_thread_join(threads[i], NULL), "weft_thread_join");
        weft_thread_free(threads[i]);
    }
    printf("%d requests, %d saw another request's data\n", requests, atomic_load(&mismatches));
    printf("the main thread has no request: %s\n",
           weft_local_get(&request_data) ? "wrong" : "right");
    check(weft_local_destroy(&request_data), "weft_local_destroy"); /* WEFT_ENOMEM */
    return atomic_load(&mismatches) != 0 || atomic_load(&failures) != 0;
}
