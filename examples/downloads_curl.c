/* SPDX-License-Identifier: MIT */
/* downloads_curl.c — the guides' "download many images", two ways, timed:
 *   1. coroutines on one thread driving libcurl's multi-socket interface:
 *      every download in flight at once, one thread, no blocking call;
 *   2. a weft thread pool, one blocking curl_easy_perform per task.
 * It needs no internet: it starts its own weft HTTP server on loopback (on
 * a thread of the server's own: threads = 1), which serves made-up images
 * and waits a little before each answer, as a distant server would, so
 * that overlapping the waits is what makes a way fast.  Every byte of
 * every image is checked.
 *
 * How the coroutines drive libcurl.  libcurl does the HTTP; it asks its
 * host program to watch sockets and keep one timer, through two callbacks:
 *   - the socket callback (CURLMOPT_SOCKETFUNCTION) says which sockets to
 *     watch, and for what: reading, writing, both, or no longer.  For each
 *     direction it wants, a "watcher" task waits on the socket with
 *     weft_sock_wait_readable / weft_sock_wait_writable (which suspend that
 *     task only, while the loop's epoll watches the socket), then tells
 *     libcurl with curl_multi_socket_action, and waits again.  When libcurl
 *     no longer wants a direction, its watcher is told to stop: a flag,
 *     and a cancellation if it is waiting (its wait then returns
 *     WEFT_ECANCELLED);
 *   - the timer callback (CURLMOPT_TIMERFUNCTION) says when libcurl wants
 *     to be called next whatever the sockets do (timeouts, retries): one
 *     timer task sleeps until then, on an event the callback sets when the
 *     time changes.
 * Callbacks run inside libcurl's calls, so they only record what libcurl
 * wants and start or stop tasks; every call into libcurl is made by a task
 * (the watchers, the timer, the main task).  After each call, finished
 * transfers are collected (curl_multi_info_read).  libcurl closes its
 * sockets through CURLOPT_CLOSESOCKETFUNCTION, here weft_sock_close, so
 * the loop forgets each socket before its number is used again.
 *
 * Usage: downloads_curl [count] [KiB] [delay-ms] [workers]
 *        (default 50 images of 100 KiB, 20 ms per request, a pool of
 *        `count` workers: the same concurrency both ways)
 */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGES 1000

static struct {
    int count;
    size_t size;  /* of every image, in bytes */
    double delay; /* before each answer, in seconds */
    long workers;
    char port[16];
} cfg = {50, 100 * 1024, 0.020, 0, ""};

/* Byte i of image n. */
static unsigned char image_byte(int n, size_t i)
{
    return (unsigned char)(i * 31 + (i >> 9) + (size_t)n * 7);
}

/* ---- the server (its own thread, its own loop) ------------------------ */

static int send_image(weft_stream *stream, int n)
{
    char head[160];
    int len = snprintf(head, sizeof head,
                       "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
                       "Content-Length: %zu\r\n\r\n",
                       cfg.size);
    unsigned char *body = malloc(cfg.size);
    if (!body)
        return WEFT_ENOMEM;
    for (size_t i = 0; i < cfg.size; i++)
        body[i] = image_byte(n, i);
    int rc = weft_stream_write(stream, head, (size_t)len);
    if (rc == WEFT_OK)
        rc = weft_stream_write(stream, body, cfg.size);
    free(body);
    return rc == WEFT_OK ? weft_stream_drain(stream, 30.0) : rc;
}

/* One task per connection: GET /images/N.jpg, as many as the connection
 * brings (libcurl keeps connections alive). */
static void serve_images(weft_stream *stream, void *arg)
{
    (void)arg;
    for (;;) {
        const char *head;
        size_t len;
        if (weft_stream_readuntil(stream, "\r\n\r\n", 4, &head, &len, 30.0) != WEFT_OK)
            return; /* the client is done (or sent something too long) */
        int n;
        bool ok = sscanf(head, "GET /images/%d.jpg ", &n) == 1 && n >= 0 && n < MAX_IMAGES;
        weft_sleep(cfg.delay); /* a distant server: this connection's task waits */
        if (!ok) {
            static const char missing[] =
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            weft_stream_write(stream, missing, sizeof missing - 1);
            return;
        }
        if (send_image(stream, n) != WEFT_OK)
            return;
    }
}

/* ---- one download ------------------------------------------------------ */

struct download {
    int n;
    unsigned char *data;
    size_t size, capacity;
    CURLcode result;
    bool done;
};

static size_t keep_bytes(char *bytes, size_t size, size_t count, void *arg)
{
    struct download *d = arg;
    size_t n = size * count;
    if (d->size + n > d->capacity) {
        size_t capacity = d->capacity ? d->capacity : 16384;
        while (capacity < d->size + n)
            capacity *= 2;
        unsigned char *grown = realloc(d->data, capacity);
        if (!grown)
            return 0; /* libcurl then fails the transfer */
        d->data = grown;
        d->capacity = capacity;
    }
    memcpy(d->data + d->size, bytes, n);
    d->size += n;
    return n;
}

static int close_socket(void *arg, curl_socket_t fd)
{
    (void)arg;
    return weft_sock_close(fd) == WEFT_OK ? 0 : 1;
}

static CURL *new_transfer(struct download *d)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/images/%d.jpg", cfg.port, d->n);
    CURL *easy = curl_easy_init();
    if (!easy)
        return NULL;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, keep_bytes);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, d);
    curl_easy_setopt(easy, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    return easy;
}

/* Every byte as the server made it? */
static bool complete(const struct download *d)
{
    if (!d->done || d->result != CURLE_OK || d->size != cfg.size)
        return false;
    for (size_t i = 0; i < d->size; i++)
        if (d->data[i] != image_byte(d->n, i))
            return false;
    return true;
}

/* ---- way 1: coroutines and curl's multi-socket interface ----------------- */

static CURLM *multi;
static int transfers_left;
static weft_event all_done;       /* set when transfers_left reaches 0 */
static weft_event timer_changed;  /* set by the timer callback */
static double timer_due = -1;     /* weft_monotonic() time for libcurl's timer; < 0: none */
static bool downloading;          /* the timer task runs while true */

struct socket_watch;

/* A task watching one socket in one direction. */
struct watcher {
    curl_socket_t fd;
    int direction;              /* CURL_CSELECT_IN or CURL_CSELECT_OUT */
    bool stop;                  /* libcurl no longer wants this direction */
    struct socket_watch *owner; /* NULL once stopped */
    weft_future *task;          /* borrowed: valid until the task ends (it frees this) */
};

/* What libcurl keeps for a socket (curl_multi_assign): its two watchers. */
struct socket_watch {
    struct watcher *dir[2]; /* [0] reading, [1] writing; NULL: not watched */
};

/* Finished transfers: record their outcome and take them off. */
static void collect_finished(void)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *private;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &private);
        struct download *d = (struct download *)private;
        d->result = msg->data.result;
        d->done = true;
        curl_multi_remove_handle(multi, msg->easy_handle);
        if (--transfers_left == 0)
            weft_event_set(&all_done);
    }
}

static void tell_curl(curl_socket_t fd, int events)
{
    int running;
    curl_multi_socket_action(multi, fd, events, &running);
    collect_finished();
}

static void *watch(void *arg)
{
    struct watcher *w = arg;
    while (!w->stop) {
        int rc = w->direction == CURL_CSELECT_IN ? weft_sock_wait_readable(w->fd, WEFT_FOREVER)
                                                 : weft_sock_wait_writable(w->fd, WEFT_FOREVER);
        if (w->stop || rc == WEFT_ECANCELLED)
            break;
        tell_curl(w->fd, rc == WEFT_OK ? w->direction : CURL_CSELECT_ERR);
        if (rc != WEFT_OK)
            break;
    }
    return NULL;
}

/* The watcher's task has ended, however it did: forget and free it. */
static void watcher_ended(weft_future *task, void *arg)
{
    (void)task;
    struct watcher *w = arg;
    if (w->owner)
        w->owner->dir[w->direction == CURL_CSELECT_OUT] = NULL;
    free(w);
}

static int start_watcher(struct socket_watch *s, curl_socket_t fd, int d)
{
    struct watcher *w = calloc(1, sizeof *w);
    if (!w)
        return WEFT_ENOMEM;
    *w = (struct watcher){.fd = fd, .direction = d ? CURL_CSELECT_OUT : CURL_CSELECT_IN, .owner = s};
    weft_future *task;
    int rc = weft_spawn(watch, w, NULL, &task);
    if (rc != WEFT_OK) {
        free(w);
        return rc;
    }
    if ((rc = weft_future_add_done_callback(task, watcher_ended, w)) != WEFT_OK) {
        weft_task_cancel(task, NULL); /* it has not run yet: now it never will */
        free(w);
    } else {
        w->task = task; /* the loop holds the task until it ends */
        s->dir[d] = w;
    }
    weft_future_release(task);
    return rc;
}

static void stop_watcher(struct watcher *w)
{
    w->stop = true;
    w->owner->dir[w->direction == CURL_CSELECT_OUT] = NULL;
    w->owner = NULL;
    if (w->task != weft_current_task()) /* waiting: end its wait; running: it sees the flag */
        weft_task_cancel(w->task, NULL);
}

/* libcurl is done with fd (it closes it next): stop both watchers. */
static void forget_socket(curl_socket_t fd, struct socket_watch *s)
{
    if (!s)
        return;
    for (int d = 0; d < 2; d++)
        if (s->dir[d])
            stop_watcher(s->dir[d]);
    free(s);
    curl_multi_assign(multi, fd, NULL);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for `what` from now on. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *socketp)
{
    (void)easy;
    (void)arg;
    struct socket_watch *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        forget_socket(fd, s);
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return -1;
        curl_multi_assign(multi, fd, s);
    }
    for (int d = 0; d < 2; d++) {
        bool wanted = what & (d ? CURL_POLL_OUT : CURL_POLL_IN);
        if (wanted && !s->dir[d] && start_watcher(s, fd, d) != WEFT_OK)
            return -1;
        if (!wanted && s->dir[d])
            stop_watcher(s->dir[d]);
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: call libcurl again in timeout_ms (-1: never). */
static int on_timer(CURLM *m, long timeout_ms, void *arg)
{
    (void)m;
    (void)arg;
    timer_due = timeout_ms < 0 ? -1 : weft_monotonic() + (double)timeout_ms / 1000;
    weft_event_set(&timer_changed);
    return 0;
}

static void *run_timer(void *arg)
{
    (void)arg;
    while (downloading) {
        weft_event_clear(&timer_changed);
        double now = weft_monotonic();
        if (timer_due >= 0 && now >= timer_due) {
            timer_due = -1;
            tell_curl(CURL_SOCKET_TIMEOUT, 0);
            continue;
        }
        /* Until the time comes or libcurl changes it (the event). */
        if (timer_due < 0)
            weft_event_wait(&timer_changed);
        else
            weft_event_wait_timeout(&timer_changed, timer_due - now);
    }
    return NULL;
}

/* The main coroutine: every download added at once, then wait. */
static void *download_all(void *arg)
{
    struct download *d = arg;
    CURL *easy[MAX_IMAGES] = {0};
    weft_future *timer = NULL;
    multi = curl_multi_init();
    int rc = multi ? WEFT_OK : WEFT_ENOMEM;
    if (rc == WEFT_OK) {
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
        downloading = true;
        rc = weft_spawn(run_timer, NULL, NULL, &timer);
    }
    transfers_left = cfg.count;
    for (int i = 0; rc == WEFT_OK && i < cfg.count; i++)
        if (!(easy[i] = new_transfer(&d[i])) || curl_multi_add_handle(multi, easy[i]) != CURLM_OK)
            rc = WEFT_ENOMEM;
    if (rc == WEFT_OK) /* the timer task makes the first call into libcurl */
        rc = weft_event_wait_timeout(&all_done, 60.0);
    downloading = false;
    weft_event_set(&timer_changed);
    if (timer) {
        weft_future_result(timer, NULL);
        weft_future_release(timer);
    }
    for (int i = 0; i < cfg.count; i++)
        if (easy[i] && !d[i].done) /* only after a failure or the 60 s timeout */
            curl_multi_remove_handle(multi, easy[i]);
    curl_multi_cleanup(multi); /* closes the connections: watchers are stopped */
    for (int i = 0; i < cfg.count; i++)
        curl_easy_cleanup(easy[i]);
    return rc == WEFT_OK ? NULL : weft_fail(rc, "the downloads did not finish");
}

/* ---- way 2: a thread pool, one blocking transfer per task ---------------- */

static void *download_blocking(void *arg)
{
    struct download *d = arg;
    CURL *easy = new_transfer(d);
    if (!easy)
        return weft_fail(WEFT_ENOMEM, "curl_easy_init failed");
    d->result = curl_easy_perform(easy); /* blocks this worker thread */
    d->done = true;
    curl_easy_cleanup(easy);
    return d;
}

static int download_on_pool(struct download *d)
{
    weft_executor *pool;
    weft_thread_pool_options o = {.max_workers = cfg.workers};
    int rc = weft_thread_pool_new(&pool, &o);
    if (rc != WEFT_OK)
        return rc;
    void *args[MAX_IMAGES];
    for (int i = 0; i < cfg.count; i++)
        args[i] = &d[i];
    weft_map *results;
    if ((rc = weft_executor_map(pool, download_blocking, args, (size_t)cfg.count, 60.0, NULL,
                                &results)) == WEFT_OK) {
        void *r;
        while (weft_map_next(results, &r) != WEFT_ESTOP) {
        }
        weft_map_free(results);
    }
    weft_executor_free(pool);
    return rc;
}

/* ---- main ------------------------------------------------------------------ */

static void reset(struct download *d)
{
    for (int i = 0; i < cfg.count; i++) {
        free(d[i].data);
        d[i] = (struct download){.n = i};
    }
}

static int report(const char *way, const struct download *d, double seconds)
{
    int ok = 0;
    for (int i = 0; i < cfg.count; i++) {
        if (complete(&d[i]))
            ok++;
        else
            fprintf(stderr, "%s: image %d: %s\n", way, i,
                    d[i].done ? curl_easy_strerror(d[i].result) : "not finished");
    }
    printf("%-34s %d of %d images complete, %.1f MiB in %.3f s\n", way, ok, cfg.count,
           (double)cfg.size * ok / (1 << 20), seconds);
    return ok;
}

static bool parse(int argc, char **argv)
{
    long kib = 100, ms = 20;
    if (argc > 1)
        cfg.count = atoi(argv[1]);
    if (argc > 2)
        kib = atol(argv[2]);
    if (argc > 3)
        ms = atol(argv[3]);
    cfg.workers = argc > 4 ? atol(argv[4]) : cfg.count;
    cfg.size = (size_t)kib * 1024;
    cfg.delay = (double)ms / 1000;
    return argc <= 5 && cfg.count >= 1 && cfg.count <= MAX_IMAGES && kib >= 1 &&
           kib <= 10240 && ms >= 0 && ms <= 10000 && cfg.workers >= 1 && cfg.workers <= 1000;
}

int main(int argc, char **argv)
{
    if (!parse(argc, argv)) {
        fprintf(stderr, "usage: %s [count 1-%d] [KiB 1-10240] [delay-ms 0-10000] [workers]\n",
                argv[0], MAX_IMAGES);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) /* before any thread uses libcurl */
        return 1;
    weft_server *server;
    weft_server_options o = WEFT_SERVER_OPTIONS_INIT;
    o.host = "127.0.0.1";
    o.port = "0";
    o.threads = 1; /* its own thread and loop, apart from the downloads' */
    int rc = weft_start_server(serve_images, NULL, &o, &server);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft_start_server: %s\n", weft_strerror(rc));
        return 1;
    }
    snprintf(cfg.port, sizeof cfg.port, "%d", weft_server_port(server));
    printf("server: %d images of %zu KiB on 127.0.0.1:%s, %.0f ms before each answer\n",
           cfg.count, cfg.size / 1024, cfg.port, cfg.delay * 1000);

    static struct download d[MAX_IMAGES];
    reset(d);
    /* libcurl's calls run on the tasks' stacks: give them room. */
    weft_loop_options lo = WEFT_LOOP_OPTIONS_INIT;
    lo.stack_size = 1 << 20;
    double t0 = weft_perf_counter();
    rc = weft_run(download_all, d, &lo, NULL);
    double coroutines = weft_perf_counter() - t0;
    int ok = report("coroutines + curl multi, 1 thread:", d, coroutines);
    if (rc != WEFT_OK)
        fprintf(stderr, "coroutines: %s\n", weft_strerror(rc));

    reset(d);
    t0 = weft_perf_counter();
    rc = download_on_pool(d);
    double pooled = weft_perf_counter() - t0;
    char way[64];
    snprintf(way, sizeof way, "thread pool, %ld workers:", cfg.workers);
    int pooled_ok = report(way, d, pooled);
    if (rc != WEFT_OK)
        fprintf(stderr, "pool: %s\n", weft_strerror(rc));
    reset(d);

    printf("%d downloads: coroutines %.3f s, thread pool %.3f s (one after another: at least "
           "%.2f s of waiting)\n",
           cfg.count, coroutines, pooled, cfg.count * cfg.delay);
    weft_server_free(server);
    curl_global_cleanup();
    return ok == cfg.count && pooled_ok == cfg.count ? 0 : 1;
}
