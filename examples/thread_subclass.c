/* SPDX-License-Identifier: MIT */
/* thread_subclass.c — Python's "subclass Thread and override run()" in C.
 *
 *     class Downloader(threading.Thread):
 *         def __init__(self, url):
 *             super().__init__(name=f"get {url}")
 *             self.url, self.size = url, 0
 *         def run(self):
 *             self.size = fetch(self.url)
 *
 * In C the "subclass" is a struct holding the thread handle and its own
 * fields; run() is the target, and it receives the struct.  From a pointer
 * to a member, container_of-style arithmetic finds the struct again.
 */
#include <weft.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct downloader {
    weft_thread *thread; /* the "base class" */
    const char *url;     /* the subclass's own fields */
    size_t size;
};

/* Recover the enclosing struct from a pointer to one of its members. */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static void *downloader_run(void *self)
{
    struct downloader *d = self;
    weft_sleep(0.05);              /* stands in for the network */
    d->size = strlen(d->url) * 1000; /* "downloaded" bytes */
    return NULL;
}

static int downloader_init(struct downloader *d, const char *url)
{
    char name[64];
    snprintf(name, sizeof name, "get %s", url);
    weft_thread_options options = {.name = name};
    d->url = url;
    d->size = 0;
    return weft_thread_new(&d->thread, downloader_run, d, &options);
}

/* A weft call that failed: say which and why, and end the program. */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1); /* not return: running threads use main's `workers` */
    }
}

static void report(const size_t *size_field)
{
    /* Only a pointer to the member is at hand: find the downloader. */
    const struct downloader *d = container_of(size_field, struct downloader, size);
    printf("%-28s %6zu bytes (thread '%s')\n", d->url, *size_field, weft_thread_name(d->thread));
}

int main(void)
{
    const char *urls[] = {"https://example.org/a.jpg", "https://example.org/bb.jpg",
                          "https://example.org/ccc.jpg"};
    struct downloader workers[3];
    for (int i = 0; i < 3; i++) {
        check(downloader_init(&workers[i], urls[i]), "weft_thread_new");
        check(weft_thread_start(workers[i].thread), "weft_thread_start");
    }
    for (int i = 0; i < 3; i++)
        check(weft_thread_join(workers[i].thread, NULL), "weft_thread_join");
    for (int i = 0; i < 3; i++) {
        report(&workers[i].size);
        weft_thread_free(workers[i].thread);
    }
    return 0;
}
