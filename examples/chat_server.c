/* SPDX-License-Identifier: MIT */
/* chat_server.c — a chat server: each client is a coroutine, and every
 * message crosses to a worker thread and back through weft queues.
 *
 *   client tasks --put--> [inbox] --get--> worker thread (numbers, stamps
 *   and filters each message) --put--> [outbox] --get--> broadcaster task
 *   --write--> every client's stream
 *
 * The same weft_queue serves both sides: the client tasks' put and the
 * broadcaster's get suspend only their coroutine, the worker's get blocks
 * its thread.  Python needs asyncio.Queue on one side, queue.Queue on the
 * other and call_soon_threadsafe in between for this.  One worker and one
 * broadcaster make one order of messages that every client sees.
 *
 * Everything about the clients (the list, their streams) is touched on the
 * loop's thread only, by the coroutines, so it needs no lock: a coroutine
 * runs until it waits, and the broadcaster never waits while it walks the
 * list (weft_stream_write never waits).  A client too slow to take its
 * messages is cut off rather than stalling everyone.
 *
 * The protocol, in lines: a client's first line is its name; every line
 * after it is a message, which every client (the sender too) receives as
 * "#SEQ HH:MM:SS name: text"; "/quit" leaves.  Arrivals and departures
 * come as "#SEQ HH:MM:SS * name joined" / "left".
 *
 * Usage: chat_server [--host ADDR] [--port N]     (default 127.0.0.1 7000;
 *                                                  try it with nc)
 *        chat_server --demo                       (three clients talk)
 */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NAME_MAX_LEN 31
#define TEXT_MAX 400            /* the longest message kept (a longer line is refused) */
#define LINE_LIMIT 512          /* the stream's limit: the longest line read */
#define SLOW_CLIENT (256 * 1024) /* bytes waiting for a client before it is cut off */
#define IDLE_TIMEOUT 600.0      /* a client that says nothing for 10 minutes is let go */

enum kind { SAY, JOIN, LEAVE };

struct message {
    enum kind kind;
    char name[NAME_MAX_LEN + 1];
    char text[TEXT_MAX + 1];
    char line[TEXT_MAX + NAME_MAX_LEN + 64]; /* what is sent: made by the worker */
    size_t len;
};

struct client {
    weft_stream *stream;
    char name[NAME_MAX_LEN + 1];
    bool cut_off;
    struct client *next;
};

static weft_queue *inbox;      /* client tasks -> the worker thread */
static weft_queue *outbox;     /* the worker thread -> the broadcaster task */
static struct client *clients; /* the loop's thread only */

/* ---- the worker thread -------------------------------------------------- */

/* Mask the words this server will not pass on, and control characters. */
static void filter(char *text)
{
    static const char *const banned[] = {"darn", "heck"};
    for (char *p = text; *p; p++)
        if (iscntrl((unsigned char)*p))
            *p = '?';
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++) {
        size_t n = strlen(banned[i]);
        for (char *p = text; *p; p++)
            if (strncasecmp(p, banned[i], n) == 0)
                memset(p, '*', n);
    }
}

static void stamp(struct message *m, unsigned long seq)
{
    char when[16];
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(when, sizeof when, "%H:%M:%S", &tm))
        strcpy(when, "--:--:--");
    int n;
    if (m->kind == SAY) {
        filter(m->text);
        n = snprintf(m->line, sizeof m->line, "#%lu %s %s: %s\n", seq, when, m->name, m->text);
    } else {
        n = snprintf(m->line, sizeof m->line, "#%lu %s * %s %s\n", seq, when, m->name,
                     m->kind == JOIN ? "joined" : "left");
    }
    m->len = (size_t)n < sizeof m->line ? (size_t)n : sizeof m->line - 1;
}

/* Until the inbox is shut down and empty. */
static void *work(void *arg)
{
    (void)arg;
    unsigned long seq = 0;
    void *item;
    while (weft_queue_get(inbox, &item) == WEFT_OK) { /* blocks this thread */
        stamp(item, ++seq);
        if (weft_queue_put(outbox, item) != WEFT_OK)
            free(item);
    }
    return NULL;
}

/* ---- the loop's coroutines ---------------------------------------------- */

/* A message for the worker.  The put suspends this client's task while
 * the inbox is full: a flood from one client slows that client only. */
static int post(enum kind kind, const char *name, const char *text, size_t len)
{
    struct message *m = calloc(1, sizeof *m);
    if (!m)
        return WEFT_ENOMEM;
    m->kind = kind;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->text, sizeof m->text, "%.*s", (int)len, text);
    int rc = weft_queue_put(inbox, m);
    if (rc != WEFT_OK)
        free(m);
    return rc;
}

static void deliver(struct client *c, const struct message *m)
{
    if (c->cut_off)
        return;
    if (weft_stream_write_buffer_size(c->stream) > SLOW_CLIENT ||
        weft_stream_write(c->stream, m->line, m->len) != WEFT_OK) {
        /* Its task, waiting for its next line, gets this failure and leaves. */
        c->cut_off = true;
        weft_stream_set_exception(c->stream, WEFT_ECONNRESET);
    }
}

/* Until the outbox is shut down and empty. */
static void *broadcast(void *arg)
{
    (void)arg;
    void *item;
    while (weft_queue_get(outbox, &item) == WEFT_OK) { /* suspends this task only */
        for (struct client *c = clients; c; c = c->next)
            deliver(c, item);
        free(item);
    }
    return NULL;
}

static void add_client(struct client *c)
{
    c->next = clients;
    clients = c;
}

static void remove_client(struct client *c)
{
    struct client **link = &clients;
    while (*link != c)
        link = &(*link)->next;
    *link = c->next;
}

/* The line without its end ("\n" or "\r\n"). */
static size_t trim(const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    return len;
}

static bool valid_name(const char *name, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
            return false;
    return true;
}

/* Read the client's lines until it leaves: 0 when it left as it should. */
static void chat(struct client *c)
{
    for (;;) {
        const char *line;
        size_t len;
        int rc = weft_stream_readline(c->stream, &line, &len, IDLE_TIMEOUT);
        if (rc == WEFT_ELIMIT) { /* the line was dropped: say so, go on */
            weft_stream_write(c->stream, "* line too long\n", 16);
            continue;
        }
        if (rc != WEFT_OK || len == 0)
            return; /* gone, quiet too long, or cut off */
        len = trim(line, len);
        if (len == 5 && memcmp(line, "/quit", 5) == 0)
            return;
        if (len > 0 && post(SAY, c->name, line, len) != WEFT_OK)
            return;
    }
}

/* The server's handler: one task per client. */
static void handle_client(weft_stream *stream, void *arg)
{
    (void)arg;
    const char *line;
    size_t len;
    if (weft_stream_write(stream, "name?\n", 6) != WEFT_OK ||
        weft_stream_readline(stream, &line, &len, 30.0) != WEFT_OK)
        return;
    len = trim(line, len);
    if (!valid_name(line, len)) {
        weft_stream_write(stream, "* a name is 1-31 letters, digits, - or _\n", 41);
        return;
    }
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->stream = stream;
    memcpy(c->name, line, len);
    add_client(c); /* before its own "joined", which it then receives */
    if (post(JOIN, c->name, "", 0) == WEFT_OK)
        chat(c);
    remove_client(c);
    post(LEAVE, c->name, "", 0);
    free(c);
}

/* ---- starting and stopping ------------------------------------------------ */

struct chat {
    weft_server *server;
    weft_thread *worker;
    weft_future *broadcaster;
};

static void discard(void *item) { free(item); }

static int start_chat(struct chat *chat, const char *host, const char *port)
{
    weft_queue_options q = {.maxsize = 1024, .discard = discard};
    weft_server_options o = WEFT_SERVER_OPTIONS_INIT;
    o.host = host;
    o.port = port;
    o.stream.limit = LINE_LIMIT;
    o.read_timeout = -1; /* quiet clients are normal in a chat: IDLE_TIMEOUT bounds them */
    *chat = (struct chat){0};
    int rc = weft_queue_new_with(&inbox, &q);
    if (rc == WEFT_OK)
        rc = weft_queue_new_with(&outbox, &q);
    if (rc == WEFT_OK && (rc = weft_thread_new(&chat->worker, work, NULL, NULL)) == WEFT_OK &&
        (rc = weft_thread_start(chat->worker)) != WEFT_OK) {
        weft_thread_free(chat->worker);
        chat->worker = NULL;
    }
    if (rc == WEFT_OK)
        rc = weft_spawn(broadcast, NULL, NULL, &chat->broadcaster);
    if (rc == WEFT_OK)
        rc = weft_start_server(handle_client, NULL, &o, &chat->server);
    return rc;
}

/* The server first (its clients' tasks end, each posting its "left"),
 * then the worker (once it has passed on all that was posted), then the
 * broadcaster (once it has sent all that was passed on). */
static void stop_chat(struct chat *chat)
{
    weft_server_free(chat->server);
    if (inbox)
        weft_queue_shutdown(inbox, false);
    if (chat->worker) {
        weft_thread_join(chat->worker, NULL); /* suspends this coroutine only */
        weft_thread_free(chat->worker);
    }
    if (outbox)
        weft_queue_shutdown(outbox, false);
    if (chat->broadcaster) {
        weft_future_result(chat->broadcaster, NULL);
        weft_future_release(chat->broadcaster);
    }
    weft_queue_free(inbox);
    weft_queue_free(outbox);
    inbox = outbox = NULL;
}

struct config {
    const char *host, *port;
    bool demo;
};

static void *serve(void *arg)
{
    const struct config *cfg = arg;
    struct chat chat;
    int rc = start_chat(&chat, cfg->host, cfg->port);
    if (rc == WEFT_OK) {
        printf("chat on %s port %d: connect with  nc %s %d\n", cfg->host,
               weft_server_port(chat.server), cfg->host, weft_server_port(chat.server));
        fflush(stdout);
        rc = weft_server_serve_forever(chat.server);
    }
    stop_chat(&chat);
    return rc == WEFT_OK ? NULL : weft_fail(rc, "chat server");
}

/* ---- the demo: three clients, each a coroutine ----------------------------- */

#define DEMO_CLIENTS 3
#define DEMO_MESSAGES 4

static weft_barrier all_joined; /* the clients wait there for one another */

struct demo_client {
    const char *name;
    int index; /* which texts of demo_text it says */
    char port[16];
    char got[DEMO_CLIENTS * DEMO_MESSAGES][TEXT_MAX + NAME_MAX_LEN + 4]; /* "name: text" */
    int count;
    const char *failure;
};

static const char *demo_text(int client, int i)
{
    static const char *const texts[DEMO_CLIENTS][DEMO_MESSAGES] = {
        {"hello, all", "darn, the build broke", "fixed it", "bye"},
        {"hi alice", "which test?", "thanks", "see you"},
        {"good morning", "the http one", "nice", "later"},
    };
    return texts[client][i];
}

/* The next line from the server, without its stamp ("name: text" or
 * "* name joined"), into out[size]: WEFT_OK or why not. */
static int next_line(weft_stream *conn, char *out, size_t size)
{
    const char *line;
    size_t len;
    int rc = weft_stream_readline(conn, &line, &len, 5.0);
    if (rc != WEFT_OK || len == 0)
        return rc != WEFT_OK ? rc : WEFT_EINCOMPLETE;
    len = trim(line, len);
    const char *p = memchr(line, ' ', len);             /* after "#SEQ" */
    p = p ? memchr(p + 1, ' ', len - (size_t)(p + 1 - line)) : NULL; /* after the time */
    if (line[0] != '#' || !p)
        return WEFT_EINVAL;
    snprintf(out, size, "%.*s", (int)(len - (size_t)(p + 1 - line)), p + 1);
    return WEFT_OK;
}

/* Connect, give the name, wait for "* NAME joined": then this client is
 * on the list and every message from now on reaches it. */
static int join(struct demo_client *me, weft_stream **conn)
{
    char line[256], joined[64];
    int rc = weft_open_connection("127.0.0.1", me->port, NULL, 5.0, conn);
    if (rc != WEFT_OK)
        return rc;
    const char *prompt;
    size_t len;
    if ((rc = weft_stream_readline(*conn, &prompt, &len, 5.0)) != WEFT_OK ||
        (rc = weft_stream_write(*conn, me->name, strlen(me->name))) != WEFT_OK ||
        (rc = weft_stream_write(*conn, "\n", 1)) != WEFT_OK)
        return rc;
    snprintf(joined, sizeof joined, "* %s joined", me->name);
    while ((rc = next_line(*conn, line, sizeof line)) == WEFT_OK && strcmp(line, joined) != 0) {
    }
    return rc;
}

static void *demo_client(void *arg)
{
    struct demo_client *me = arg;
    weft_stream *conn = NULL;
    int rc = join(me, &conn);
    if (rc == WEFT_OK) /* suspends this coroutine until all three have joined */
        rc = weft_barrier_wait(&all_joined, NULL);
    for (int i = 0; rc == WEFT_OK && i < DEMO_MESSAGES; i++) {
        char line[128];
        int n = snprintf(line, sizeof line, "%s\n", demo_text(me->index, i));
        rc = weft_stream_write(conn, line, (size_t)n);
    }
    /* Read until every client's every message has come (others' arrivals
     * may come in between). */
    char line[sizeof me->got[0]];
    while (rc == WEFT_OK && me->count < DEMO_CLIENTS * DEMO_MESSAGES)
        if ((rc = next_line(conn, line, sizeof line)) == WEFT_OK && line[0] != '*')
            strcpy(me->got[me->count++], line);
    if (rc == WEFT_OK)
        rc = weft_stream_write(conn, "/quit\n", 6);
    while (rc == WEFT_OK) /* until the server closes the connection */
        rc = next_line(conn, line, sizeof line);
    if (rc == WEFT_EINCOMPLETE)
        rc = WEFT_OK;
    if (rc != WEFT_OK)
        me->failure = weft_strerror(rc);
    weft_stream_free(conn);
    return NULL;
}

/* Did each client get each message once, masked where it should be, in
 * the same order as the first client? */
static bool check_demo(const struct demo_client *c)
{
    bool ok = true;
    for (int k = 0; k < DEMO_CLIENTS; k++) {
        int found = 0;
        for (int from = 0; from < DEMO_CLIENTS; from++)
            for (int i = 0; i < DEMO_MESSAGES; i++) {
                char want[128];
                snprintf(want, sizeof want, "%s: %s", c[from].name, demo_text(from, i));
                filter(want);
                for (int j = 0; j < c[k].count; j++)
                    found += strcmp(c[k].got[j], want) == 0;
            }
        bool same = c[k].count == c[0].count &&
                    memcmp(c[k].got, c[0].got, sizeof c[0].got) == 0;
        printf("%s got %d of %d messages%s%s\n", c[k].name, found, DEMO_CLIENTS * DEMO_MESSAGES,
               same ? ", in the same order as alice" : ", in another order",
               c[k].failure ? c[k].failure : "");
        ok = ok && !c[k].failure && same && found == DEMO_CLIENTS * DEMO_MESSAGES;
    }
    return ok;
}

static void *demo(void *arg)
{
    (void)arg;
    static struct demo_client c[DEMO_CLIENTS] = {
        {.name = "alice", .index = 0}, {.name = "bob", .index = 1}, {.name = "carol", .index = 2}};
    struct chat chat = {0};
    int rc = weft_barrier_init(&all_joined, DEMO_CLIENTS, NULL, NULL, 10.0);
    if (rc == WEFT_OK)
        rc = start_chat(&chat, "127.0.0.1", "0");
    weft_future *tasks[DEMO_CLIENTS];
    int started = 0;
    for (; rc == WEFT_OK && started < DEMO_CLIENTS; started++) {
        snprintf(c[started].port, sizeof c[started].port, "%d", weft_server_port(chat.server));
        rc = weft_spawn(demo_client, &c[started], NULL, &tasks[started]);
    }
    if (rc == WEFT_OK) {
        double t0 = weft_perf_counter();
        rc = weft_gather(tasks, DEMO_CLIENTS, true, NULL);
        printf("demo: %d clients, %d messages each, through a worker thread, in %.3f s\n",
               DEMO_CLIENTS, DEMO_MESSAGES, weft_perf_counter() - t0);
        printf("what alice saw:\n");
        for (int j = 0; j < c[0].count; j++)
            printf("  %s\n", c[0].got[j]);
    }
    for (int i = 0; i < started; i++)
        weft_future_release(tasks[i]);
    stop_chat(&chat);
    weft_barrier_destroy(&all_joined);
    if (rc != WEFT_OK)
        return weft_fail(rc, "demo");
    bool ok = check_demo(c);
    printf("demo: %s\n", ok ? "every client got every message" : "messages went missing");
    return ok ? NULL : weft_fail(WEFT_EFAILED, "messages went missing");
}

int main(int argc, char **argv)
{
    struct config cfg = {.host = "127.0.0.1", .port = "7000"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0) {
            cfg.demo = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--host") == 0) {
            cfg.host = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
            cfg.port = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--host ADDR] [--port N] | --demo\n", argv[0]);
            return 2;
        }
    }
    int rc = weft_run(cfg.demo ? demo : serve, &cfg, NULL, NULL);
    if (rc != WEFT_OK)
        fprintf(stderr, "chat_server: %s\n", weft_strerror(rc));
    return rc == WEFT_OK ? 0 : 1;
}
