/* SPDX-License-Identifier: MIT */
/* test_shared_stack.c — the coroutines' memory mode: contexts taking turns
 * on a few shared stacks, each one's live region copied out while it is
 * suspended (src/platform/shared_stack.h).
 *
 * cmocka's assertions longjmp to the runner, so coroutines never assert:
 * they count what they saw wrong and the test asserts on its own stack. */
#include "testutil.h"

#include "platform/shared_stack.h"
#include "platform/stack.h"
#include "platform/switch.h"

#define NOINLINE __attribute__((noinline))

#ifdef UNDER_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* How many contexts.  TSan gives each a fiber of its own, near 1 MiB
 * there; ASan with detect_stack_use_after_return=1 a fake stack, some
 * 18 KiB resident (the shared_stack_use_after_return test): fewer then. */
#ifdef UNDER_TSAN
enum { SCALE_DOWN = 500 };
#else
enum { SCALE_DOWN = 1 };
#endif

static size_t scaled(size_t n)
{
    size_t by = SCALE_DOWN;
#ifdef UNDER_ASAN
    if (__asan_get_current_fake_stack())
        by = 25;
#endif
    return n / by > 50 ? n / by : 50;
}

#define SHARED_SIZE ((size_t)256 * 1024)

struct co {
    weft_ctx ctx;
    weft_stack_save save;
    weft_ctx *loop;
    long id;
    long rounds;     /* suspensions the body makes */
    long resumed;    /* times it went on after one */
    long bad;        /* values it found changed */
    long result;
    int done;
    int depth;       /* for the bodies whose depth the loop chooses */
};

static void suspend(struct co *c)
{
    weft__ctx_switch(&c->ctx, c->loop);
    c->resumed++;
}

static void finish(struct co *c)
{
    c->done = 1;
    weft__ctx_exit(&c->ctx, c->loop);
}

/* A small deterministic generator (xorshift64*), for the orders. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

static void shuffle(size_t *order, size_t n, uint64_t *state)
{
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(next_random(state) % (i + 1));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static size_t *identity(size_t n)
{
    size_t *order = malloc(n * sizeof *order);
    for (size_t i = 0; order && i < n; i++)
        order[i] = i;
    return order;
}

/* ---- many contexts on two stacks, in a shuffled order ---- */

/* Three frames, each with locals of its own that say whose they are; the
 * innermost suspends, and each checks its locals after, and its callers'
 * through the pointers they passed down. */
NOINLINE static long level3(struct co *c, volatile long *mid, long r)
{
    volatile char tag[24];
    for (int i = 0; i < 24; i++)
        tag[i] = (char)(c->id * 13 + i + r);
    suspend(c);
    for (int i = 0; i < 24; i++)
        c->bad += tag[i] != (char)(c->id * 13 + i + r);
    for (int k = 0; k < 4; k++)
        c->bad += mid[k] != c->id * 31 + k * 1000 + r;
    return tag[3] + r;
}

NOINLINE static long level2(struct co *c, const volatile long *outer, long r)
{
    volatile long mid[4];
    for (int k = 0; k < 4; k++)
        mid[k] = c->id * 31 + k * 1000 + r;
    long got = level3(c, mid, r);
    for (int k = 0; k < 4; k++)
        c->bad += mid[k] != c->id * 31 + k * 1000 + r;
    c->bad += *outer != c->id * 7919 + 1;
    return got + mid[0];
}

static long expected_result(long id, long rounds)
{
    long sum = 0;
    for (long r = 0; r < rounds; r++)
        sum += (char)(id * 13 + 3 + r) + r + id * 31 + r;
    return sum;
}

static void many_body(void *arg)
{
    struct co *c = arg;
    volatile long outer = c->id * 7919 + 1;
    for (long r = 0; r < c->rounds; r++)
        c->result += level2(c, &outer, r);
    c->bad += outer != c->id * 7919 + 1;
    finish(c);
}

/* Makes n contexts of body on the stacks (round-robin), each with rounds. */
static struct co *make_all(size_t n, weft_shared_stack **stacks, size_t nstacks,
                           weft_ctx *loop, void (*body)(void *), long rounds)
{
    struct co *cos = calloc(n, sizeof *cos);
    assert_non_null(cos);
    for (size_t i = 0; i < n; i++) {
        cos[i] = (struct co){.loop = loop, .id = (long)i, .rounds = rounds};
        assert_int_equal(weft__ctx_make_shared(&cos[i].ctx, stacks[i % nstacks], &cos[i].save,
                                               body, &cos[i]), WEFT_OK);
    }
    return cos;
}

/* Runs every context to its end: rounds + 1 turns each, in a fresh shuffled
 * order every turn.  Returns the number of failed switch-ins. */
static long run_shuffled(struct co *cos, size_t n, long turns, uint64_t seed)
{
    size_t *order = identity(n);
    assert_non_null(order);
    long failed = 0;
    for (long t = 0; t < turns; t++) {
        shuffle(order, n, &seed);
        for (size_t i = 0; i < n; i++)
            if (!cos[order[i]].done)
                failed += weft__ctx_switch_in(cos[order[i]].loop, &cos[order[i]].ctx) != WEFT_OK;
    }
    free(order);
    return failed;
}

static void destroy_all(struct co *cos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weft__ctx_destroy(&cos[i].ctx);
    free(cos);
}

static void many_contexts_take_turns_on_two_stacks(void **state)
{
    (void)state;
    enum { ROUNDS = 6 };
    const size_t many = scaled(10000);
    weft_ctx loop;
    weft_shared_stack *stacks[2];
    assert_int_equal(weft__ctx_init_current(&loop), WEFT_OK);
    for (int s = 0; s < 2; s++)
        assert_int_equal(weft__shared_stack_new(SHARED_SIZE, &stacks[s]), WEFT_OK);
    struct co *cos = make_all(many, stacks, 2, &loop, many_body, ROUNDS);
    assert_int_equal(weft__shared_stack_users(stacks[0]), many / 2);
    assert_int_equal(run_shuffled(cos, many, ROUNDS + 1, 42), 0);
    for (size_t i = 0; i < many; i++) {
        assert_int_equal(cos[i].done, 1);
        assert_int_equal(cos[i].bad, 0);
        assert_int_equal(cos[i].resumed, ROUNDS);
        assert_int_equal(cos[i].result, expected_result((long)i, ROUNDS));
        assert_int_equal(weft__stack_save_held(&cos[i].save), 0); /* freed at its end */
    }
    destroy_all(cos, many);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(weft__shared_stack_users(stacks[s]), 0);
        assert_int_equal(weft__shared_stack_free(stacks[s]), WEFT_OK);
    }
    weft__ctx_destroy(&loop);
}

/* ---- a context whose depth changes from one suspension to the next ---- */

enum { FRAME_BYTES = 96 };

/* Recurse to c->depth frames of FRAME_BYTES each, suspend at the bottom,
 * check every frame on the way back up. */
NOINLINE static long dive(struct co *c, int level)
{
    volatile unsigned char frame[FRAME_BYTES];
    for (int i = 0; i < FRAME_BYTES; i++)
        frame[i] = (unsigned char)(c->id * 7 + level * 3 + i);
    long below = level < c->depth ? dive(c, level + 1) : (suspend(c), 0);
    for (int i = 0; i < FRAME_BYTES; i++)
        c->bad += frame[i] != (unsigned char)(c->id * 7 + level * 3 + i);
    return below + 1;
}

static void diving_body(void *arg)
{
    struct co *c = arg;
    for (long r = 0; r < c->rounds; r++)
        c->result += dive(c, 0);
    finish(c);
}

static void depth_changes_between_suspensions(void **state)
{
    (void)state;
    static const int depths[] = {0, 40, 3, 200, 1, 120, 0, 0, 60};
    enum { STEPS = sizeof depths / sizeof depths[0] };
    weft_ctx loop;
    weft_shared_stack *ss;
    assert_int_equal(weft__ctx_init_current(&loop), WEFT_OK);
    assert_int_equal(weft__shared_stack_new(SHARED_SIZE, &ss), WEFT_OK);
    struct co *cos = make_all(2, &ss, 1, &loop, diving_body, STEPS);
    struct co *a = &cos[0], *b = &cos[1];
    size_t live[STEPS], held[STEPS];
    long want = 0;
    for (int k = 0; k < STEPS; k++) {
        a->depth = depths[k];
        b->depth = depths[STEPS - 1 - k];
        assert_int_equal(weft__ctx_switch_in(&loop, &a->ctx), WEFT_OK);
        assert_int_equal(weft__stack_save_live(&a->save), 0); /* resident */
        assert_int_equal(weft__ctx_switch_in(&loop, &b->ctx), WEFT_OK); /* evicts a */
        live[k] = weft__stack_save_live(&a->save);
        held[k] = weft__stack_save_held(&a->save);
        assert_true(held[k] >= live[k]);
        want += depths[k] + 1;
    }
    /* The copy follows the depth: each frame is at least FRAME_BYTES. */
    for (int k = 0; k < STEPS; k++)
        for (int j = 0; j < STEPS; j++)
            if (depths[j] > depths[k]) {
                assert_true(live[j] >= live[k] + (size_t)(depths[j] - depths[k]) * FRAME_BYTES);
            } else if (depths[j] == depths[k]) {
                assert_int_equal(live[j], live[k]);
            }
    /* Deep at step 3 (200 frames), shallow again at 6: the copy was cut. */
    assert_true(held[3] >= 200 * FRAME_BYTES);
    assert_true(held[6] < 2 * live[6] + 64);
    assert_true(held[6] < 4096);
    assert_int_equal(weft__ctx_switch_in(&loop, &a->ctx), WEFT_OK); /* both end */
    assert_int_equal(weft__ctx_switch_in(&loop, &b->ctx), WEFT_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cos[i].done, 1);
        assert_int_equal(cos[i].bad, 0);
    }
    assert_int_equal(a->result, want);
    destroy_all(cos, 2);
    assert_int_equal(weft__shared_stack_free(ss), WEFT_OK);
    weft__ctx_destroy(&loop);
}

/* ---- contexts that end while others are evicted ---- */

static void two_step_body(void *arg)
{
    struct co *c = arg;
    volatile long mine[3] = {c->id, c->id * 2, c->id * 3};
    for (long r = 0; r < c->rounds; r++)
        suspend(c);
    c->bad += mine[0] != c->id || mine[1] != c->id * 2 || mine[2] != c->id * 3;
    finish(c);
}

static void one_ends_while_others_are_evicted(void **state)
{
    (void)state;
    weft_ctx loop;
    weft_shared_stack *ss;
    assert_int_equal(weft__ctx_init_current(&loop), WEFT_OK);
    assert_int_equal(weft__shared_stack_new(SHARED_SIZE, &ss), WEFT_OK);
    struct co *cos = make_all(5, &ss, 1, &loop, two_step_body, 2);
    struct co *a = &cos[0], *b = &cos[1], *c = &cos[2], *d = &cos[3], *e = &cos[4];
    c->rounds = 0; /* c ends at its first turn */
    assert_int_equal(weft__stack_save_held(&a->save), 0); /* fresh: nothing yet */
    assert_int_equal(weft__ctx_switch_in(&loop, &a->ctx), WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(&loop, &b->ctx), WEFT_OK);
    assert_true(weft__stack_save_live(&a->save) > 0);
    assert_int_equal(weft__ctx_switch_in(&loop, &c->ctx), WEFT_OK); /* runs and ends */
    assert_true(c->done);
    assert_true(weft__stack_save_live(&b->save) > 0);
    assert_int_equal(weft__stack_save_held(&c->save), 0);
    assert_int_equal(weft__shared_stack_enter(&c->ctx), WEFT_ESTATE); /* it has ended */
    /* A fresh one starts over the ended one's frames, before its destroy. */
    assert_int_equal(weft__ctx_switch_in(&loop, &d->ctx), WEFT_OK);
    weft__ctx_destroy(&c->ctx);
    assert_int_equal(weft__shared_stack_users(ss), 4);
    /* The others resume, in another order than they came. */
    assert_int_equal(weft__ctx_switch_in(&loop, &b->ctx), WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(&loop, &a->ctx), WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(&loop, &d->ctx), WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(&loop, &a->ctx), WEFT_OK); /* a ends */
    assert_true(a->done);
    /* The ended occupant destroyed first: the stack is empty for b. */
    weft__ctx_destroy(&a->ctx);
    assert_int_equal(weft__ctx_switch_in(&loop, &b->ctx), WEFT_OK); /* b ends */
    assert_true(b->done);
    /* A suspended context may be destroyed, resident or evicted: it is
     * dropped, its copy freed. */
    assert_int_equal(weft__ctx_switch_in(&loop, &e->ctx), WEFT_OK);
    assert_true(weft__stack_save_held(&d->save) > 0);
    weft__ctx_destroy(&d->ctx);
    weft__ctx_destroy(&e->ctx);
    weft__ctx_destroy(&b->ctx);
    assert_int_equal(weft__shared_stack_users(ss), 0);
    /* A fresh one over the frames of e, dropped while resident (ASan: their
     * redzones' shadow was dropped with them). */
    struct co f = {.loop = &loop, .id = 77, .rounds = 1};
    assert_int_equal(weft__ctx_make_shared(&f.ctx, ss, &f.save, two_step_body, &f), WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(&loop, &f.ctx), WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(&loop, &f.ctx), WEFT_OK);
    assert_true(f.done && !f.bad);
    weft__ctx_destroy(&f.ctx);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cos[i].bad, 0);
    assert_int_equal(weft__shared_stack_free(ss), WEFT_OK);
    free(cos);
    weft__ctx_destroy(&loop);
}

/* ---- eviction of deep stacks, many times ---- */

enum { DEEP_FRAME = 512, DEEP_MAX = 16 };

NOINLINE static long deep_dive(struct co *c, int level, long r)
{
    volatile unsigned char frame[DEEP_FRAME];
    unsigned char seed = (unsigned char)(c->id * 11 + level * 5 + r);
    for (int i = 0; i < DEEP_FRAME; i++)
        frame[i] = (unsigned char)(seed + i);
    long below = level < c->depth ? deep_dive(c, level + 1, r) : (suspend(c), 0);
    for (int i = 0; i < DEEP_FRAME; i++)
        c->bad += frame[i] != (unsigned char)(seed + i);
    return below + frame[DEEP_FRAME - 1];
}

static void deep_body(void *arg)
{
    struct co *c = arg;
    for (long r = 0; r < c->rounds; r++) {
        c->depth = (int)((c->id * 7 + r * 3) % DEEP_MAX) + 1;
        c->result += deep_dive(c, 0, r);
    }
    finish(c);
}

static void eviction_of_deep_stacks_stress(void **state)
{
    (void)state;
    enum { COROS = 64, ROUNDS = 150 };
    weft_ctx loop;
    weft_shared_stack *ss;
    assert_int_equal(weft__ctx_init_current(&loop), WEFT_OK);
    assert_int_equal(weft__shared_stack_new(SHARED_SIZE, &ss), WEFT_OK);
    struct co *cos = make_all(COROS, &ss, 1, &loop, deep_body, ROUNDS);
    size_t *order = identity(COROS);
    assert_non_null(order);
    uint64_t seed = 7;
    size_t deepest = 0;
    long failed = 0;
    for (long t = 0; t <= ROUNDS; t++) {
        shuffle(order, COROS, &seed);
        for (size_t i = 0; i < COROS; i++) {
            failed += weft__ctx_switch_in(&loop, &cos[order[i]].ctx) != WEFT_OK;
            for (size_t j = 0; j < COROS; j++) {
                size_t live = weft__stack_save_live(&cos[j].save);
                deepest = live > deepest ? live : deepest;
            }
        }
    }
    free(order);
    assert_int_equal(failed, 0);
    assert_true(deepest >= DEEP_MAX * DEEP_FRAME); /* several KiB were copied */
    for (size_t i = 0; i < COROS; i++) {
        long want = 0;
        for (long r = 0; r < ROUNDS; r++) {
            int depth = (int)(((long)i * 7 + r * 3) % DEEP_MAX) + 1;
            for (int level = 0; level <= depth; level++)
                want += (unsigned char)((unsigned char)(i * 11 + level * 5 + r) + DEEP_FRAME - 1);
        }
        assert_int_equal(cos[i].done, 1);
        assert_int_equal(cos[i].bad, 0);
        assert_int_equal(cos[i].result, want);
    }
    destroy_all(cos, COROS);
    assert_int_equal(weft__shared_stack_free(ss), WEFT_OK);
    weft__ctx_destroy(&loop);
}

/* ---- what a suspended context costs ---- */

NOINLINE static void waiting(struct co *c)
{
    volatile long here = c->id;
    suspend(c);
    c->bad += here != c->id;
}

NOINLINE static void working(struct co *c)
{
    volatile long mark = c->id ^ 0x5a5a;
    waiting(c);
    c->bad += mark != (c->id ^ 0x5a5a);
}

static void suspend_two_calls_deep(void *arg)
{
    struct co *c = arg;
    working(c);
    finish(c);
}

static void hundred_thousand_suspended_contexts_are_small(void **state)
{
    (void)state;
    enum { STACKS = 4 };
    const size_t hundred_k = scaled(100000);
    weft_ctx loop;
    weft_shared_stack *stacks[STACKS];
    assert_int_equal(weft__ctx_init_current(&loop), WEFT_OK);
    for (int s = 0; s < STACKS; s++)
        assert_int_equal(weft__shared_stack_new(SHARED_SIZE, &stacks[s]), WEFT_OK);
    struct co *cos = make_all(hundred_k, stacks, STACKS, &loop, suspend_two_calls_deep, 1);
    long failed = 0;
    for (size_t i = 0; i < hundred_k; i++)
        failed += weft__ctx_switch_in(&loop, &cos[i].ctx) != WEFT_OK;
    assert_int_equal(failed, 0);
    /* Resident ones (the last of each stack) hold nothing copied: touch
     * every stack once more with a fresh context, so that all are evicted. */
    struct co extra[STACKS];
    for (int s = 0; s < STACKS; s++) {
        extra[s] = (struct co){.loop = &loop, .id = -1 - s, .rounds = 1};
        assert_int_equal(weft__ctx_make_shared(&extra[s].ctx, stacks[s], &extra[s].save,
                                               suspend_two_calls_deep, &extra[s]), WEFT_OK);
        assert_int_equal(weft__ctx_switch_in(&loop, &extra[s].ctx), WEFT_OK);
    }
    size_t held = 0, live = 0, most = 0;
    for (size_t i = 0; i < hundred_k; i++) {
        held += weft__stack_save_held(&cos[i].save);
        live += weft__stack_save_live(&cos[i].save);
        if (weft__stack_save_held(&cos[i].save) > most)
            most = weft__stack_save_held(&cos[i].save);
    }
    print_message("%zu suspended contexts: %zu bytes copied each, %zu held (most %zu), "
                  "records %zu + %zu bytes\n", hundred_k, live / hundred_k, held / hundred_k,
                  most, sizeof(weft_ctx), sizeof(weft_stack_save));
    assert_true(live > 0);
    assert_true(held >= live);
    assert_true(held < (size_t)hundred_k * 2048);
    for (int s = 0; s < STACKS; s++)
        assert_int_equal(weft__ctx_switch_in(&loop, &extra[s].ctx), WEFT_OK);
    for (size_t i = 0; i < hundred_k; i++)
        failed += weft__ctx_switch_in(&loop, &cos[i].ctx) != WEFT_OK;
    assert_int_equal(failed, 0);
    for (size_t i = 0; i < hundred_k; i++)
        if (!cos[i].done || cos[i].bad)
            fail_msg("context %zu: done %d, bad %ld", i, cos[i].done, cos[i].bad);
    for (int s = 0; s < STACKS; s++) {
        assert_true(extra[s].done && !extra[s].bad);
        weft__ctx_destroy(&extra[s].ctx);
    }
    destroy_all(cos, hundred_k);
    for (int s = 0; s < STACKS; s++)
        assert_int_equal(weft__shared_stack_free(stacks[s]), WEFT_OK);
    weft__ctx_destroy(&loop);
}

/* ---- bad input ---- */

static void noop_body(void *arg)
{
    finish(arg);
}

/* A context on the shared stack that tries to enter a sibling of it. */
struct nested_try {
    struct co self;
    weft_ctx *sibling;
    int status;
};

static void nested_try_body(void *arg)
{
    struct nested_try *n = arg;
    n->status = weft__shared_stack_enter(n->sibling);
    finish(&n->self);
}

static void *other_thread_uses(void *ss)
{
    weft_ctx ctx;
    weft_stack_save save;
    long wrong = 0;
    wrong += weft__shared_stack_free(ss) != WEFT_EINVAL;
    wrong += weft__ctx_make_shared(&ctx, ss, &save, noop_body, NULL) != WEFT_EINVAL;
    return (void *)(intptr_t)wrong;
}

static void bad_input_is_refused(void **state)
{
    (void)state;
    weft_shared_stack *ss = (weft_shared_stack *)&ss;
    assert_true(weft__shared_stack_supported());
    assert_int_equal(weft__shared_stack_new(0, &ss), WEFT_EINVAL);
    assert_null(ss);
    assert_int_equal(weft__shared_stack_new(4096, NULL), WEFT_EINVAL);
    assert_int_equal(weft__shared_stack_new(SIZE_MAX, &ss), WEFT_EINVAL);
    assert_int_equal(weft__shared_stack_new(SIZE_MAX / 8, &ss), WEFT_ENOMEM);
    assert_null(ss);
    assert_int_equal(weft__shared_stack_free(NULL), WEFT_EINVAL);
    assert_int_equal(weft__shared_stack_new(4096, &ss), WEFT_OK);
    assert_true(weft__shared_stack_size(ss) >= WEFT__STACK_MIN);
    assert_non_null(weft__shared_stack_base(ss));

    weft_ctx loop, ctx;
    weft_stack_save save;
    struct co c = {.loop = &loop};
    assert_int_equal(weft__ctx_init_current(&loop), WEFT_OK);
    assert_int_equal(weft__ctx_make_shared(NULL, ss, &save, noop_body, &c), WEFT_EINVAL);
    assert_int_equal(weft__ctx_make_shared(&ctx, NULL, &save, noop_body, &c), WEFT_EINVAL);
    assert_int_equal(weft__ctx_make_shared(&ctx, ss, NULL, noop_body, &c), WEFT_EINVAL);
    assert_int_equal(weft__ctx_make_shared(&ctx, ss, &save, NULL, &c), WEFT_EINVAL);
    assert_int_equal(weft__shared_stack_enter(NULL), WEFT_EINVAL);
    assert_int_equal(weft__ctx_switch_in(&loop, NULL), WEFT_EINVAL);
    assert_int_equal(weft__stack_save_held(NULL), 0);
    assert_int_equal(weft__stack_save_live(NULL), 0);

    /* Another thread may neither free the stack nor make contexts on it. */
    pthread_t t;
    void *rc;
    assert_int_equal(pthread_create(&t, NULL, other_thread_uses, ss), 0);
    assert_int_equal(pthread_join(t, &rc), 0);
    assert_int_equal((long)(intptr_t)rc, 0);

    /* Not freed while a context of it is not destroyed. */
    assert_int_equal(weft__ctx_make_shared(&c.ctx, ss, &c.save, noop_body, &c), WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(NULL, &c.ctx), WEFT_EINVAL);
    assert_int_equal(weft__shared_stack_free(ss), WEFT_ESTATE);

    /* Entering from the shared stack itself is refused. */
    static struct nested_try n;
    n = (struct nested_try){.self = {.loop = &loop}, .sibling = &c.ctx, .status = -1};
    assert_int_equal(weft__ctx_make_shared(&n.self.ctx, ss, &n.self.save, nested_try_body, &n),
                     WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(&loop, &n.self.ctx), WEFT_OK);
    assert_int_equal(n.status, WEFT_EINVAL);
    assert_true(n.self.done);
    weft__ctx_destroy(&n.self.ctx);

    /* A context of its own stack enters as a no-op. */
    weft_stack *own;
    struct co o = {.loop = &loop};
    assert_int_equal(weft__stack_new(64 * 1024, "own", &own), WEFT_OK);
    assert_int_equal(weft__ctx_make(&o.ctx, weft__stack_base(own), weft__stack_size(own),
                                    noop_body, &o), WEFT_OK);
    assert_int_equal(weft__shared_stack_enter(&o.ctx), WEFT_OK);
    assert_int_equal(weft__ctx_switch_in(&loop, &o.ctx), WEFT_OK);
    assert_true(o.done);
    weft__ctx_destroy(&o.ctx);
    assert_int_equal(weft__stack_free(own), WEFT_OK);

    /* A finished context is not entered again. */
    assert_int_equal(weft__ctx_switch_in(&loop, &c.ctx), WEFT_OK);
    assert_true(c.done);
    assert_int_equal(weft__ctx_switch_in(&loop, &c.ctx), WEFT_ESTATE);
    weft__ctx_destroy(&c.ctx);
    assert_int_equal(weft__shared_stack_free(ss), WEFT_OK);
    weft__ctx_destroy(&loop);
}

/* ---- threads, each with its own loop and shared stacks ---- */

enum { THREADS = 4 };

static void *thread_takes_turns(void *arg)
{
    (void)arg;
    const size_t per_thread = scaled(300);
    weft_ctx loop;
    weft_shared_stack *stacks[2] = {NULL, NULL};
    long wrong = -1;
    if (weft__ctx_init_current(&loop) != WEFT_OK ||
        weft__shared_stack_new(64 * 1024, &stacks[0]) != WEFT_OK ||
        weft__shared_stack_new(64 * 1024, &stacks[1]) != WEFT_OK)
        return (void *)(intptr_t)wrong;
    struct co *cos = calloc(per_thread, sizeof *cos);
    size_t *order = identity(per_thread);
    if (!cos || !order)
        return (void *)(intptr_t)wrong;
    wrong = 0;
    for (size_t i = 0; i < per_thread; i++) {
        cos[i] = (struct co){.loop = &loop, .id = (long)i, .rounds = 20};
        wrong += weft__ctx_make_shared(&cos[i].ctx, stacks[i % 2], &cos[i].save, many_body,
                                       &cos[i]) != WEFT_OK;
    }
    uint64_t seed = (uint64_t)(uintptr_t)&loop | 1;
    for (int t = 0; t <= 20; t++) {
        shuffle(order, per_thread, &seed);
        for (size_t i = 0; i < per_thread; i++)
            wrong += weft__ctx_switch_in(&loop, &cos[order[i]].ctx) != WEFT_OK;
    }
    for (size_t i = 0; i < per_thread; i++) {
        wrong += !cos[i].done + cos[i].bad + (cos[i].result != expected_result((long)i, 20));
        weft__ctx_destroy(&cos[i].ctx);
    }
    wrong += weft__shared_stack_free(stacks[0]) != WEFT_OK;
    wrong += weft__shared_stack_free(stacks[1]) != WEFT_OK;
    weft__ctx_destroy(&loop);
    weft__stack_pool_clear();
    free(order);
    free(cos);
    return (void *)(intptr_t)wrong;
}

static void threads_take_turns_on_their_own_stacks(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_takes_turns, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_int_equal((long)(intptr_t)rc, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_contexts_take_turns_on_two_stacks),
        cmocka_unit_test(depth_changes_between_suspensions),
        cmocka_unit_test(one_ends_while_others_are_evicted),
        cmocka_unit_test(eviction_of_deep_stacks_stress),
        cmocka_unit_test(hundred_thousand_suspended_contexts_are_small),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(threads_take_turns_on_their_own_stacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
