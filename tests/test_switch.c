/* SPDX-License-Identifier: MIT */
/* test_switch.c — the coroutines' context switch and stacks
 * (src/platform/switch.h, stack.h).
 *
 * cmocka's assertions longjmp to the runner, so coroutines never assert:
 * they record what they saw and the test asserts on its own stack. */
#include "testutil.h"

#include "platform/stack.h"
#include "platform/switch.h"

#include <fenv.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE ((size_t)256 * 1024)

/* ---- ping-pong: values both ways, many times ---- */

struct pingpong {
    weft_ctx loop, co;
    long to_co, from_co;
    long rounds, bad;
};

static void pingpong_body(void *arg)
{
    struct pingpong *p = arg;
    for (long i = 0; i < p->rounds; i++) {
        if (p->to_co != i * 7)
            p->bad++;
        p->from_co = i * 3 + 1;
        weft__ctx_switch(&p->co, &p->loop);
    }
    p->from_co = -1;
    weft__ctx_exit(&p->co, &p->loop);
}

/* Returns the number of values seen wrong on either side, or -1 when a
 * set-up call failed.  Usable from any thread (no assertion). */
static long run_pingpong(long rounds)
{
    struct pingpong *p = calloc(1, sizeof *p);
    weft_stack *stack;
    if (!p || weft__stack_new(STACK_SIZE, "pingpong", &stack) != WEFT_OK) {
        free(p);
        return -1;
    }
    p->rounds = rounds;
    long wrong = -1;
    if (weft__ctx_init_current(&p->loop) != WEFT_OK ||
        weft__ctx_make(&p->co, weft__stack_base(stack), weft__stack_size(stack),
                       pingpong_body, p) != WEFT_OK)
        goto out;
    wrong = 0;
    for (long i = 0; i < p->rounds; i++) {
        p->to_co = i * 7;
        weft__ctx_switch(&p->loop, &p->co);
        if (p->from_co != i * 3 + 1)
            wrong++;
    }
    p->to_co = p->rounds * 7;
    weft__ctx_switch(&p->loop, &p->co); /* the body finishes */
    wrong += p->bad + (p->from_co != -1);
out:
    weft__ctx_destroy(&p->co);
    weft__ctx_destroy(&p->loop);
    if (weft__stack_free(stack) != WEFT_OK)
        wrong = -1;
    free(p);
    return wrong;
}

static void ping_pong_many_times(void **state)
{
    (void)state;
    assert_int_equal(run_pingpong(100000), 0);
}

/* ---- several coroutines, round-robin, each with its own state ---- */

enum { RR_COROS = 8, RR_TURNS = 2000 };

struct rr_coro {
    weft_ctx ctx;
    weft_ctx *loop;
    weft_stack *stack;
    int id;
    long turns_seen, sum, done;
};

static void rr_body(void *arg)
{
    struct rr_coro *c = arg;
    long local = 0; /* lives on this coroutine's stack across switches */
    int id = c->id;
    for (int t = 0; t < RR_TURNS; t++) {
        local += id * 1000 + t;
        c->turns_seen++;
        weft__ctx_switch(&c->ctx, c->loop);
    }
    c->sum = local;
    c->done = 1;
    weft__ctx_exit(&c->ctx, c->loop);
}

static void round_robin_keeps_each_coroutine_state(void **state)
{
    (void)state;
    static weft_ctx loop;
    static struct rr_coro coros[RR_COROS];
    assert_int_equal(weft__ctx_init_current(&loop), WEFT_OK);
    for (int i = 0; i < RR_COROS; i++) {
        coros[i] = (struct rr_coro){.loop = &loop, .id = i};
        assert_int_equal(weft__stack_new(64 * 1024, "rr", &coros[i].stack), WEFT_OK);
        assert_int_equal(weft__ctx_make(&coros[i].ctx, weft__stack_base(coros[i].stack),
                                        weft__stack_size(coros[i].stack), rr_body, &coros[i]),
                         WEFT_OK);
    }
    for (int t = 0; t <= RR_TURNS; t++)
        for (int i = 0; i < RR_COROS; i++)
            weft__ctx_switch(&loop, &coros[i].ctx);
    for (int i = 0; i < RR_COROS; i++) {
        long expected = (long)i * 1000 * RR_TURNS + (long)RR_TURNS * (RR_TURNS - 1) / 2;
        assert_int_equal(coros[i].done, 1);
        assert_int_equal(coros[i].turns_seen, RR_TURNS);
        assert_int_equal(coros[i].sum, expected);
        weft__ctx_destroy(&coros[i].ctx);
        assert_int_equal(weft__stack_free(coros[i].stack), WEFT_OK);
    }
    weft__ctx_destroy(&loop);
}

/* ---- registers: many live longs and doubles, and the FP control ---- */

static volatile double seed_loop = 5.0, seed_co = 17.0;

/* A computation whose values stay live across each switch (more than the
 * caller-saved registers hold: the callee-saved ones carry the rest). */
#define LIVE_COMPUTE(SEED, YIELD, DOUT, LOUT)                                 \
    do {                                                                      \
        double seed = (SEED);                                                 \
        double d0 = seed, d1 = seed * 2, d2 = seed + 3, d3 = seed / 4;        \
        double d4 = seed - 5, d5 = seed * 6, d6 = seed + 7, d7 = seed / 8;    \
        long l0 = (long)seed, l1 = l0 * 3, l2 = l0 + 5, l3 = l0 ^ 7;          \
        long l4 = l0 - 9, l5 = l0 * 11, l6 = l0 + 13, l7 = l0 | 15;           \
        for (int k = 0; k < 50; k++) {                                        \
            YIELD;                                                            \
            d0 += d1 * 0.5; d1 -= d2 * 0.25; d2 += d3; d3 = d3 * 0.99 + d4;   \
            d4 += d5 * 0.125; d5 -= d6; d6 += d7 * 0.5; d7 = d7 * 0.9 + d0;   \
            l0 += l1; l1 ^= l2; l2 += l3 * 3; l3 -= l4; l4 += l5 ^ k;         \
            l5 += l6; l6 ^= l7 + k; l7 += l0 >> 3;                            \
        }                                                                     \
        DOUT = d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7;                         \
        LOUT = l0 + l1 + l2 + l3 + l4 + l5 + l6 + l7;                         \
    } while (0)

struct regs {
    weft_ctx loop, co;
    double dsum;
    long lsum;
};

static void regs_body(void *arg)
{
    struct regs *r = arg;
    LIVE_COMPUTE(seed_co, weft__ctx_switch(&r->co, &r->loop), r->dsum, r->lsum);
    weft__ctx_exit(&r->co, &r->loop);
}

static void callee_saved_registers_survive_switches(void **state)
{
    (void)state;
    static struct regs r;
    weft_stack *stack;
    assert_int_equal(weft__stack_new(STACK_SIZE, "regs", &stack), WEFT_OK);
    assert_int_equal(weft__ctx_init_current(&r.loop), WEFT_OK);
    assert_int_equal(weft__ctx_make(&r.co, weft__stack_base(stack), weft__stack_size(stack),
                                    regs_body, &r), WEFT_OK);
    double loop_d, want_d, co_d;
    long loop_l, want_l, co_l;
    LIVE_COMPUTE(seed_loop, weft__ctx_switch(&r.loop, &r.co), loop_d, loop_l);
    weft__ctx_switch(&r.loop, &r.co); /* the body's last round; it ends */
    LIVE_COMPUTE(seed_loop, (void)0, want_d, want_l);
    LIVE_COMPUTE(seed_co, (void)0, co_d, co_l);
    assert_true(loop_d == want_d);
    assert_int_equal(loop_l, want_l);
    assert_true(r.dsum == co_d);
    assert_int_equal(r.lsum, co_l);
    weft__ctx_destroy(&r.co);
    weft__ctx_destroy(&r.loop);
    assert_int_equal(weft__stack_free(stack), WEFT_OK);
}

/* Each context keeps its own rounding mode (MXCSR and the x87 control
 * word on x86-64, FPCR on aarch64). */
struct rounding {
    weft_ctx loop, co;
    int wrong;
};

static void rounding_body(void *arg)
{
    struct rounding *r = arg;
    fesetround(FE_UPWARD);
    for (int i = 0; i < 10; i++) {
        weft__ctx_switch(&r->co, &r->loop);
        if (fegetround() != FE_UPWARD)
            r->wrong++;
    }
    weft__ctx_exit(&r->co, &r->loop);
}

static void each_context_keeps_its_rounding_mode(void **state)
{
    (void)state;
    static struct rounding r;
    weft_stack *stack;
    assert_int_equal(weft__stack_new(STACK_SIZE, "rounding", &stack), WEFT_OK);
    assert_int_equal(weft__ctx_init_current(&r.loop), WEFT_OK);
    assert_int_equal(weft__ctx_make(&r.co, weft__stack_base(stack), weft__stack_size(stack),
                                    rounding_body, &r), WEFT_OK);
    fesetround(FE_TOWARDZERO);
    int loop_wrong = 0;
    for (int i = 0; i < 11; i++) {
        weft__ctx_switch(&r.loop, &r.co);
        if (fegetround() != FE_TOWARDZERO)
            loop_wrong++;
    }
    fesetround(FE_TONEAREST);
    assert_int_equal(loop_wrong, 0);
    assert_int_equal(r.wrong, 0);
    weft__ctx_destroy(&r.co);
    weft__ctx_destroy(&r.loop);
    assert_int_equal(weft__stack_free(stack), WEFT_OK);
}

/* ---- a coroutine that recurses deep within its stack ---- */

static volatile long recursion_limit = 2000;

static long recurse(long n)
{
    volatile char frame[200];
    frame[0] = (char)n;
    if (n >= recursion_limit)
        return 0;
    return recurse(n + 1) + frame[0] % 2 + 1;
}

struct deep {
    weft_ctx loop, co;
    long result;
    long *seen_local; /* the address of a local of the body, across a switch */
    long local_after;
};

static void deep_body(void *arg)
{
    struct deep *d = arg;
    long local = 42;
    d->seen_local = &local; /* kept on a fake stack under ASan's UAR mode */
    weft__ctx_switch(&d->co, &d->loop);
    d->result = recurse(0);
    d->local_after = local;
    weft__ctx_exit(&d->co, &d->loop);
}

static void deep_recursion_within_the_stack(void **state)
{
    (void)state;
    static struct deep d;
    weft_stack *stack;
    assert_int_equal(weft__stack_new(2 * 1024 * 1024, "deep", &stack), WEFT_OK);
    assert_int_equal(weft__ctx_init_current(&d.loop), WEFT_OK);
    assert_int_equal(weft__ctx_make(&d.co, weft__stack_base(stack), weft__stack_size(stack),
                                    deep_body, &d), WEFT_OK);
    weft__ctx_switch(&d.loop, &d.co);
    assert_int_equal(*d.seen_local, 42); /* its frame is alive while suspended */
    *d.seen_local = 43;
    weft__ctx_switch(&d.loop, &d.co);
    assert_int_equal(d.local_after, 43);
    /* Each frame adds 1 or 2: the depth was reached, and returned from. */
    assert_true(d.result >= 2000 && d.result <= 4000);
    weft__ctx_destroy(&d.co);
    weft__ctx_destroy(&d.loop);
    assert_int_equal(weft__stack_free(stack), WEFT_OK);
}

/* ---- a finished coroutine's stack goes to the pool and is reused ---- */

struct once_co {
    weft_ctx loop, co;
    int ran;
};

static void once_body(void *arg)
{
    struct once_co *o = arg;
    o->ran++;
    weft__ctx_exit(&o->co, &o->loop);
}

static void run_once_on(weft_stack *stack, struct once_co *o)
{
    assert_int_equal(weft__ctx_init_current(&o->loop), WEFT_OK);
    assert_int_equal(weft__ctx_make(&o->co, weft__stack_base(stack), weft__stack_size(stack),
                                    once_body, o), WEFT_OK);
    weft__ctx_switch(&o->loop, &o->co);
    weft__ctx_destroy(&o->co);
    weft__ctx_destroy(&o->loop);
}

static void finished_stack_is_reused_from_the_pool(void **state)
{
    (void)state;
    static struct once_co o;
    weft__stack_pool_clear();
    weft_stack *a, *b, *c;
    assert_int_equal(weft__stack_new(100 * 1000, "first", &a), WEFT_OK);
    assert_true(weft__stack_size(a) >= 100 * 1000);
    run_once_on(a, &o);
    void *base = weft__stack_base(a);
    assert_int_equal(weft__stack_free(a), WEFT_OK);
    assert_int_equal(weft__stack_pool_count(), 1);
    assert_int_equal(weft__stack_free(a), WEFT_EINVAL); /* freed twice */
    assert_int_equal(weft__stack_new(100 * 1000, "second", &b), WEFT_OK);
    assert_ptr_equal(weft__stack_base(b), base);
    assert_int_equal(weft__stack_pool_count(), 0);
    run_once_on(b, &o);
    assert_int_equal(o.ran, 2);
    /* Another size is not taken from the pool. */
    assert_int_equal(weft__stack_free(b), WEFT_OK);
    assert_int_equal(weft__stack_new(400 * 1000, "third", &c), WEFT_OK);
    assert_ptr_not_equal(weft__stack_base(c), base);
    assert_int_equal(weft__stack_pool_count(), 1);
    assert_int_equal(weft__stack_free(c), WEFT_OK);
    /* The pool keeps at most WEFT__STACK_POOL_MAX. */
    weft_stack *many[WEFT__STACK_POOL_MAX + 4];
    for (int i = 0; i < WEFT__STACK_POOL_MAX + 4; i++)
        assert_int_equal(weft__stack_new(WEFT__STACK_MIN, "many", &many[i]), WEFT_OK);
    for (int i = 0; i < WEFT__STACK_POOL_MAX + 4; i++)
        assert_int_equal(weft__stack_free(many[i]), WEFT_OK);
    assert_int_equal(weft__stack_pool_count(), WEFT__STACK_POOL_MAX);
    assert_int_equal(weft__stack_pool_clear(), WEFT__STACK_POOL_MAX);
    assert_int_equal(weft__stack_pool_count(), 0);
}

/* ---- a stack overflow names the coroutine and its size, then aborts ---- */

static volatile long endless = LONG_MAX;

static void overflow_body(void *arg)
{
    (void)arg;
    recursion_limit = endless;
    recurse(0);
    abort(); /* not reached */
}

static void overflow_child(int fd)
{
    dup2(fd, 2);
    static weft_ctx loop, co;
    weft_stack *stack;
    /* cmocka catches SIGSEGV during a test: weft's handler goes first. */
    if (weft__stack_new(64 * 1024, "deep-diver", &stack) != WEFT_OK ||
        weft__stack_catch_overflows() != WEFT_OK)
        _exit(3);
    weft__ctx_init_current(&loop);
    weft__ctx_make(&co, weft__stack_base(stack), weft__stack_size(stack), overflow_body, NULL);
    dprintf(2, "size=%zu\n", weft__stack_size(stack));
    weft__ctx_switch(&loop, &co);
    _exit(4); /* not reached */
}

static void stack_overflow_names_the_coroutine_and_aborts(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        overflow_child(fds[1]);
    }
    close(fds[1]);
    char out[4096];
    size_t len = 0;
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    time_t give_up = time(NULL) + 60;
    while (len < sizeof out - 1 && time(NULL) < give_up && poll(&pfd, 1, 1000) >= 0) {
        if (!(pfd.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t n = read(fds[0], out + len, sizeof out - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && time(NULL) < give_up)
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the child did not end: %s", out);
    }
    size_t size = 0;
    const char *line = strstr(out, "size=");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "size=%zu", &size), 1);
    char want[128];
    snprintf(want, sizeof want, "weft: coroutine 'deep-diver' overflowed its stack of %zu bytes",
             size);
    if (!strstr(out, want))
        fail_msg("no \"%s\" in: %s", want, out);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ---- bad input ---- */

static void noop_body(void *arg)
{
    (void)arg;
}

static void *other_thread_frees(void *stack)
{
    return (void *)(intptr_t)weft__stack_free(stack);
}

static void bad_input_is_refused(void **state)
{
    (void)state;
    weft_stack *s = (weft_stack *)&s;
    assert_int_equal(weft__stack_new(0, "x", &s), WEFT_EINVAL);
    assert_null(s);
    assert_int_equal(weft__stack_new(4096, "x", NULL), WEFT_EINVAL);
    assert_int_equal(weft__stack_new(SIZE_MAX, "x", &s), WEFT_EINVAL);
    assert_int_equal(weft__stack_new(SIZE_MAX / 8, "x", &s), WEFT_ENOMEM);
    assert_null(s);
    assert_int_equal(weft__stack_free(NULL), WEFT_EINVAL);

    static char area[8192];
    weft_ctx ctx;
    assert_int_equal(weft__ctx_init_current(NULL), WEFT_EINVAL);
    assert_int_equal(weft__ctx_make(NULL, area, sizeof area, noop_body, NULL), WEFT_EINVAL);
    assert_int_equal(weft__ctx_make(&ctx, NULL, sizeof area, noop_body, NULL), WEFT_EINVAL);
    assert_int_equal(weft__ctx_make(&ctx, area, 0, noop_body, NULL), WEFT_EINVAL);
    assert_int_equal(weft__ctx_make(&ctx, area, WEFT__CTX_MIN_STACK - 1, noop_body, NULL),
                     WEFT_EINVAL);
    assert_int_equal(weft__ctx_make(&ctx, area, sizeof area, NULL, NULL), WEFT_EINVAL);
    weft__ctx_destroy(NULL);

    /* A stack is freed by the thread that made it; a name is cut to fit. */
    char long_name[200];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(weft__stack_new(4096, long_name, &s), WEFT_OK);
    assert_true(weft__stack_size(s) >= WEFT__STACK_MIN);
    pthread_t t;
    void *rc;
    assert_int_equal(pthread_create(&t, NULL, other_thread_frees, s), 0);
    assert_int_equal(pthread_join(t, &rc), 0);
    assert_int_equal((int)(intptr_t)rc, WEFT_EINVAL);
    assert_int_equal(weft__stack_free(s), WEFT_OK);
    assert_int_equal(weft__stack_new(4096, NULL, &s), WEFT_OK);
    assert_int_equal(weft__stack_free(s), WEFT_OK);
}

/* ---- threads, each with its own loop and coroutines at once ---- */

enum { THREADS = 4 };

static void *thread_pingpong(void *arg)
{
    (void)arg;
    long wrong = run_pingpong(20000);
    weft__stack_pool_clear();
    return (void *)(intptr_t)wrong;
}

static void threads_switch_their_own_coroutines(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_pingpong, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_int_equal((long)(intptr_t)rc, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ping_pong_many_times),
        cmocka_unit_test(round_robin_keeps_each_coroutine_state),
        cmocka_unit_test(callee_saved_registers_survive_switches),
        cmocka_unit_test(each_context_keeps_its_rounding_mode),
        cmocka_unit_test(deep_recursion_within_the_stack),
        cmocka_unit_test(finished_stack_is_reused_from_the_pool),
        cmocka_unit_test(stack_overflow_names_the_coroutine_and_aborts),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(threads_switch_their_own_coroutines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
