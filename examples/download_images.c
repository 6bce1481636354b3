/* SPDX-License-Identifier: MIT */
/* download_images.c — the guides' "download images concurrently": the same
 * downloads one after another, then on a thread pool, with libcurl.  The
 * images come from file_server's code, started here in a child process
 * (weft_process) with a per-request delay, so the run needs no internet and
 * the difference shows: each download mostly waits, and waiting overlaps.
 *
 * Usage: download_images [count] [delay-seconds]   (default 10 0.2)
 */
#include "threaded_http.h"

#include <weft.h>

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int port;

struct download {
    int n;             /* photo-n.jpg */
    unsigned char *data;
    size_t size;
};

static size_t keep_bytes(char *bytes, size_t size, size_t count, void *arg)
{
    struct download *d = arg;
    size_t n = size * count;
    unsigned char *grown = realloc(d->data, d->size + n);
    if (!grown)
        return 0; /* libcurl then fails the transfer */
    memcpy(grown + d->size, bytes, n);
    d->data = grown;
    d->size += n;
    return n;
}

/* Python's download_image(url): fetch one image into memory.  Returns the
 * download, or weft_fail(...) for the pool to report. */
static void *download_image(void *arg)
{
    struct download *d = arg;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/images/photo-%d.jpg", port, d->n);
    CURL *curl = curl_easy_init(); /* one handle per thread: libcurl's rule */
    if (!curl)
        return weft_fail(WEFT_ENOMEM, "curl_easy_init failed");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_bytes);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* no signals in threads */
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK)
        return weft_fail(WEFT_EFAILED, "%s: %s", url, curl_easy_strerror(rc));
    return d;
}

/* Every byte as the server made it? */
static int complete(const struct download *d)
{
    if (d->size != http_image_size(d->n))
        return 0;
    for (size_t i = 0; i < d->size; i++)
        if (d->data[i] != http_image_byte(d->n, i))
            return 0;
    return 1;
}

static void forget(struct download *d, int count)
{
    for (int i = 0; i < count; i++) {
        free(d[i].data);
        d[i] = (struct download){.n = i + 1};
    }
}

/* A weft call that failed: say which and why, and end the program (the
 * server, a daemon process, is terminated at exit). */
static void check(int rc, const char *what)
{
    if (rc != WEFT_OK) {
        fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
        exit(1);
    }
}

/* The server's child process: serve until terminated. */
static int serve(void *arg)
{
    int *setup = arg; /* {listening socket, delay in ms} */
    http_serve(setup[0], setup[1] / 1000.0);
    return 1; /* accept failed */
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 10;
    double delay = argc > 2 ? atof(argv[2]) : 0.2;
    if (count < 1 || count > 100 || !(delay >= 0 && delay <= 10)) {
        fprintf(stderr, "usage: %s [count 1-100] [delay 0..10 s]\n", argv[0]);
        return 2;
    }
    int fd = http_listen(&port);
    if (fd < 0)
        return 1;
    int setup[2] = {fd, (int)(delay * 1000)};
    weft_process *server;
    weft_process_options daemon = {.name = "file-server", .daemon = WEFT_DAEMON};
    check(weft_process_new(&server, serve, setup, &daemon), "weft_process_new");
    check(weft_process_start(server), "starting the server"); /* WEFT_EAGAIN: no fork */
    close(fd); /* the child serves on it */
    CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT); /* once, before any thread uses it */
    if (init != CURLE_OK) {
        fprintf(stderr, "curl_global_init: %s\n", curl_easy_strerror(init));
        return 1;
    }

    struct download d[100] = {{0}};
    forget(d, count);
    int ok = 0;

    double start = weft_perf_counter();
    for (int i = 0; i < count; i++) {
        if (download_image(&d[i]) == &d[i] && complete(&d[i]))
            ok++;
        else /* outside a pool, weft_fail's message goes nowhere */
            fprintf(stderr, "failed: photo-%d.jpg\n", d[i].n);
    }
    double sequential = weft_perf_counter() - start;
    printf("sequential: %d of %d images complete\n", ok, count);
    forget(d, count);

    /* with ThreadPoolExecutor(max_workers=count) as executor: map(...) */
    weft_executor *pool;
    weft_thread_pool_options o = {.max_workers = count};
    check(weft_thread_pool_new(&pool, &o), "weft_thread_pool_new");
    void *args[100];
    for (int i = 0; i < count; i++)
        args[i] = &d[i];
    start = weft_perf_counter();
    weft_map *results;
    check(weft_executor_map(pool, download_image, args, (size_t)count, 60, NULL, &results),
          "weft_executor_map");
    void *r;
    int pooled_ok = 0, rc;
    while ((rc = weft_map_next(results, &r)) != WEFT_ESTOP) { /* one failure stops no other */
        if (rc != WEFT_OK) /* WEFT_ETIMEDOUT after 60 s: the rest are cancelled */
            fprintf(stderr, "failed: %s\n",
                    rc == WEFT_EFAILED ? weft_map_error_message(results) : weft_strerror(rc));
        else if (complete(r))
            pooled_ok++;
        else
            fprintf(stderr, "failed: photo-%d.jpg is incomplete\n", ((struct download *)r)->n);
    }
    double pooled = weft_perf_counter() - start;
    weft_map_free(results);
    weft_executor_free(pool);
    printf("thread pool: %d of %d images complete\n", pooled_ok, count);
    forget(d, count);

    printf("%d downloads: sequential %.2f s, pool %.2f s\n", count, sequential, pooled);
    weft_process_terminate(server);
    weft_process_join(server);
    weft_process_free(server);
    curl_global_cleanup();
    return ok == count && pooled_ok == count ? 0 : 1;
}
