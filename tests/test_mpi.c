/* SPDX-License-Identifier: MIT */
/* test_mpi.c — the executor over MPI (weft/mpi.h).
 *
 * Run as `mpiexec -n 4 test_mpi`: every rank registers the same
 * functions and calls weft_mpi_serve_or_run; ranks 1-3 serve, rank 0 runs
 * the tests (the executor behaviours of the thread-pool tests that apply,
 * a crash, a timeout, cancelling, 100,000 tiny tasks, spawned workers).
 * Run on its own (no mpiexec), only the spawning tests run: a job of one
 * rank has nobody to serve it otherwise. */
#include "testutil.h"

#include "weft/mpi.h"
#include "weft/process_pool.h"

#include <signal.h>
#include <unistd.h>

/* ---- the functions, registered in every rank --------------------------------- */

static weft_bytes *upper(const void *data, size_t size)
{
    weft_bytes *b = weft_bytes_alloc(size);
    if (!b)
        return weft_fail(WEFT_ENOMEM, "no memory");
    for (size_t i = 0; i < size; i++) {
        unsigned char c = ((const unsigned char *)data)[i];
        b->data[i] = c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
    }
    return b;
}

static weft_bytes *nothing(const void *data, size_t size)
{
    (void)data;
    (void)size;
    return NULL;
}

static weft_bytes *refuse(const void *data, size_t size)
{
    return weft_fail(WEFT_EINVAL, "bad input: %.*s", (int)size, (const char *)data);
}

static weft_bytes *crash(const void *data, size_t size)
{
    (void)data;
    (void)size;
    raise(SIGSEGV);
    return NULL;
}

static weft_bytes *kill_my_rank(const void *data, size_t size)
{
    (void)data;
    (void)size;
    kill(getppid(), SIGKILL); /* the serving rank: the job's launcher ends the job */
    return NULL;
}

static void *twice(void *arg) { return (void *)((uintptr_t)arg * 2); }

static void *nap_ms(void *arg)
{
    weft_sleep((double)(uintptr_t)arg / 1000.0);
    return arg;
}

static void *fail_odd(void *arg)
{
    uintptr_t n = (uintptr_t)arg;
    return n % 2 ? weft_fail(WEFT_ESTATE, "odd %u", (unsigned)n) : arg;
}

static void *my_rank(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)weft_mpi_world_rank();
}

static int register_all(void)
{
    int rc = weft_mpi_register_bytes("upper", upper);
    rc |= weft_mpi_register_bytes("nothing", nothing);
    rc |= weft_mpi_register_bytes("refuse", refuse);
    rc |= weft_mpi_register_bytes("crash", crash);
    rc |= weft_mpi_register_bytes("kill_my_rank", kill_my_rank);
    rc |= weft_mpi_register_task("twice", twice);
    rc |= weft_mpi_register_task("nap_ms", nap_ms);
    rc |= weft_mpi_register_task("fail_odd", fail_odd);
    rc |= weft_mpi_register_task("my_rank", my_rank);
    return rc;
}

static bool in_job(void) { return weft_mpi_world_size() >= 2; }

#define NEEDS_JOB()                                                                    \
    do {                                                                               \
        if (!in_job())                                                                 \
            skip();                                                                    \
    } while (0)

static weft_executor *job_pool(const weft_mpi_pool_options *o)
{
    weft_executor *pool;
    assert_int_equal(weft_mpi_pool_new(&pool, o), WEFT_OK);
    return pool;
}

/* ---- behaviours ----------------------------------------------------------------- */

/* upper() on `text` comes back upper-cased, nothing() with no bytes. */
static void check_bytes_round_trips(weft_executor *pool, const char *text, const char *want)
{
    weft_future *f;
    const weft_bytes *out;
    size_t n = strlen(text);
    assert_int_equal(weft_mpi_submit_bytes(pool, upper, text, n, &f), WEFT_OK);
    assert_int_equal(weft_future_result_bytes(f, &out), WEFT_OK);
    assert_int_equal(out->size, n);
    assert_memory_equal(out->data, want, n);
    weft_future_release(f);
    assert_int_equal(weft_mpi_submit_bytes(pool, nothing, NULL, 0, &f), WEFT_OK);
    assert_int_equal(weft_future_result_bytes(f, &out), WEFT_OK);
    assert_null(out);
    weft_future_release(f);
}

static void test_bytes_round_trip(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    check_bytes_round_trips(pool, "hello, ranks", "HELLO, RANKS");
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_large_bytes(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    size_t n = 3u << 20; /* past every eager limit: MPI's rendezvous path */
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    weft_future *f;
    assert_int_equal(weft_mpi_submit_bytes(pool, upper, big, n, &f), WEFT_OK);
    const weft_bytes *out;
    assert_int_equal(weft_future_result_bytes(f, &out), WEFT_OK);
    assert_int_equal(out->size, n);
    for (size_t i = 0; i < n; i += 4097)
        assert_int_equal(out->data[i], 'A' + i % 26);
    weft_future_release(f);
    free(big);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_task_failure_keeps_code_and_message(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    weft_future *f;
    assert_int_equal(weft_mpi_submit_bytes(pool, refuse, "row 7", 5, &f), WEFT_OK);
    const weft_bytes *out;
    assert_int_equal(weft_future_result_bytes(f, &out), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EINVAL);
    assert_string_equal(weft_future_error_message(f), "bad input: row 7");
    weft_future_release(f);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_plain_tasks_by_value_and_map(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    weft_future *f;
    assert_int_equal(weft_executor_submit(pool, twice, (void *)21, &f), WEFT_OK);
    void *r;
    assert_int_equal(weft_future_result(f, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 42);
    weft_future_release(f);
    enum { N = 200 };
    void *args[N];
    for (uintptr_t i = 0; i < N; i++)
        args[i] = (void *)i;
    for (long buffersize = 0; buffersize <= 8; buffersize += 8) {
        weft_map_options mo = {.chunksize = 4, .buffersize = buffersize};
        weft_map *it;
        assert_int_equal(weft_executor_map(pool, fail_odd, args, N, 60, &mo, &it), WEFT_OK);
        for (uintptr_t i = 0; i < N; i++) {
            int rc = weft_map_next(it, &r);
            if (i % 2) {
                assert_int_equal(rc, WEFT_EFAILED);
                assert_int_equal(weft_map_error_code(it), WEFT_ESTATE);
                char want[32];
                snprintf(want, sizeof want, "odd %u", (unsigned)i);
                assert_string_equal(weft_map_error_message(it), want);
            } else {
                assert_int_equal(rc, WEFT_OK);
                assert_int_equal((uintptr_t)r, i);
            }
        }
        assert_int_equal(weft_map_next(it, &r), WEFT_ESTOP);
        weft_map_free(it);
    }
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_every_rank_serves(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    enum { N = 24 };
    weft_future *fs[N];
    for (int i = 0; i < N; i++) /* slow enough that all ranks are needed */
        assert_int_equal(weft_executor_submit(pool, nap_ms, (void *)20, &fs[i]), WEFT_OK);
    assert_int_equal(weft_wait(fs, N, 60, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    weft_future *ranks[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(weft_executor_submit(pool, my_rank, NULL, &ranks[i]), WEFT_OK);
    bool seen[64] = {false};
    for (int i = 0; i < N; i++) {
        void *r;
        assert_int_equal(weft_future_result(ranks[i], &r), WEFT_OK);
        assert_true((uintptr_t)r >= 1 && (uintptr_t)r < (uintptr_t)weft_mpi_world_size());
        seen[(uintptr_t)r] = true;
        weft_future_release(ranks[i]);
        weft_future_release(fs[i]);
    }
    for (int rank = 1; rank < weft_mpi_world_size() && rank < 64; rank++)
        assert_true(seen[rank]);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_crash_fails_only_its_task(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    weft_future *f;
    assert_int_equal(weft_mpi_submit_bytes(pool, crash, NULL, 0, &f), WEFT_OK);
    const weft_bytes *out;
    assert_int_equal(weft_future_result_bytes(f, &out), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EBROKEN);
    assert_non_null(strstr(weft_future_error_message(f), "rank "));
    assert_non_null(strstr(weft_future_error_message(f), "killed by signal 11"));
    weft_future_release(f);
    for (int i = 0; i < 10; i++) { /* the pool carries on */
        assert_int_equal(weft_mpi_submit_bytes(pool, upper, "ok", 2, &f), WEFT_OK);
        assert_int_equal(weft_future_result_bytes(f, &out), WEFT_OK);
        assert_memory_equal(out->data, "OK", 2);
        weft_future_release(f);
    }
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_task_timeout(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_mpi_pool_options o = {.task_timeout = 0.3};
    weft_executor *pool = job_pool(&o);
    weft_future *slow, *quick;
    double t0 = weft_monotonic();
    assert_int_equal(weft_executor_submit(pool, nap_ms, (void *)30000, &slow), WEFT_OK);
    void *r;
    assert_int_equal(weft_future_result(slow, &r), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(slow), WEFT_ETIMEDOUT);
    assert_true(weft_monotonic() - t0 < 20);
    assert_int_equal(weft_executor_submit(pool, twice, (void *)5, &quick), WEFT_OK);
    assert_int_equal(weft_future_result(quick, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 10);
    weft_future_release(slow);
    weft_future_release(quick);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_cancel_running_task(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    weft_future *f;
    assert_int_equal(weft_executor_submit(pool, nap_ms, (void *)30000, &f), WEFT_OK);
    weft_sleep(0.3); /* sent and started in its rank */
    assert_true(weft_future_running(f));
    double t0 = weft_monotonic();
    assert_false(weft_future_cancel(f)); /* running: Python returns False */
    void *r;
    assert_int_equal(weft_future_result_timeout(f, 20, &r), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_ECANCELLED);
    assert_true(weft_monotonic() - t0 < 20);
    weft_future_release(f);
    assert_int_equal(weft_executor_submit(pool, twice, (void *)4, &f), WEFT_OK);
    assert_int_equal(weft_future_result(f, &r), WEFT_OK);
    weft_future_release(f);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_queued_task_cancels_and_shutdown(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_mpi_pool_options o = {.max_in_flight = 1};
    weft_executor *pool = job_pool(&o);
    size_t ranks = (size_t)weft_mpi_world_size() - 1;
    enum { N = 16 };
    weft_future *fs[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(weft_executor_submit(pool, nap_ms, (void *)200, &fs[i]), WEFT_OK);
    weft_executor_stats st;
    assert_int_equal(weft_executor_stats_get(pool, &st), WEFT_OK);
    assert_int_equal(st.workers, ranks);
    assert_int_equal(st.running, ranks);
    assert_int_equal(st.queued, N - ranks);
    assert_true(weft_future_cancel(fs[N - 1])); /* still queued in the client */
    assert_true(weft_future_cancelled(fs[N - 1]));
    assert_int_equal(weft_executor_shutdown(pool, true, true), WEFT_OK);
    size_t ran = 0, cancelled = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        int rc = weft_future_result(fs[i], &r);
        assert_true(rc == WEFT_OK || rc == WEFT_ECANCELLED);
        ran += rc == WEFT_OK;
        cancelled += rc == WEFT_ECANCELLED;
        weft_future_release(fs[i]);
    }
    assert_true(ran >= ranks);
    assert_int_equal(ran + cancelled, N);
    weft_future *late;
    assert_int_equal(weft_executor_submit(pool, twice, NULL, &late), WEFT_ESHUTDOWN);
    assert_null(late);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void test_bounded_pending_fails_fast(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_mpi_pool_options o = {.max_in_flight = 1, .max_pending = 2};
    weft_executor *pool = job_pool(&o);
    size_t ranks = (size_t)weft_mpi_world_size() - 1;
    weft_future *fs[64] = {NULL};
    size_t n = 0;
    for (; n < ranks + 2; n++)
        assert_int_equal(weft_executor_submit(pool, nap_ms, (void *)300, &fs[n]), WEFT_OK);
    weft_future *f;
    assert_int_equal(weft_executor_submit_timeout(pool, nap_ms, (void *)1, 0, &f), WEFT_EFULL);
    assert_null(f);
    /* room comes when a queued task is sent */
    assert_int_equal(weft_executor_submit_timeout(pool, nap_ms, (void *)1, 30, &fs[n++]), WEFT_OK);
    assert_int_equal(weft_wait(fs, n, 60, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    for (size_t i = 0; i < n; i++)
        weft_future_release(fs[i]);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

static void *not_registered(void *arg) { return arg; }

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_mpi_register_bytes(NULL, upper), WEFT_EINVAL);
    assert_int_equal(weft_mpi_register_bytes("", upper), WEFT_EINVAL);
    assert_int_equal(weft_mpi_register_bytes("upper", nothing), WEFT_EINVAL); /* name taken */
    assert_int_equal(weft_mpi_register_bytes("upper2", upper), WEFT_EINVAL);  /* fn taken */
    assert_int_equal(weft_mpi_register_task("x", NULL), WEFT_EINVAL);
    char long_name[WEFT_MPI_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(weft_mpi_register_task(long_name, twice), WEFT_EINVAL);
    assert_int_equal(weft_mpi_serve_or_run(NULL, NULL), WEFT_ESTATE); /* twice */
    weft_executor *pool = (weft_executor *)1;
    weft_mpi_pool_options bad = {.workers_per_rank = -1};
    assert_int_equal(weft_mpi_pool_new(&pool, &bad), WEFT_EINVAL);
    assert_null(pool);
    assert_int_equal(weft_mpi_pool_new(NULL, NULL), WEFT_EINVAL);
    if (!in_job()) {
        assert_int_equal(weft_mpi_pool_new(&pool, NULL), WEFT_EINVAL); /* nobody to serve */
        return;
    }
    pool = job_pool(NULL);
    weft_executor *second;
    assert_int_equal(weft_mpi_pool_new(&second, NULL), WEFT_ESTATE); /* the ranks are taken */
    weft_future *f = (weft_future *)1;
    assert_int_equal(weft_executor_submit(pool, not_registered, NULL, &f), WEFT_EINVAL);
    assert_null(f);
    assert_int_equal(weft_mpi_submit_bytes(pool, NULL, "x", 1, &f), WEFT_EINVAL);
    assert_int_equal(weft_mpi_submit_bytes(pool, upper, NULL, 1, &f), WEFT_EINVAL);
    weft_executor *threads;
    assert_int_equal(weft_thread_pool_new(&threads, NULL), WEFT_OK);
    assert_int_equal(weft_mpi_submit_bytes(threads, upper, "x", 1, &f), WEFT_EINVAL);
    weft_executor_free(threads);
    assert_int_equal(weft_executor_resize(pool, 3), WEFT_EINVAL);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

/* ---- stress: every future completed exactly once ----------------------------------- */

enum { TINY = 100000 };
static _Atomic int completions[TINY];
static _Atomic long wrong;

static void count_done(weft_future *f, void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    void *r = NULL;
    if (weft_future_result_timeout(f, 0, &r) != WEFT_OK || (uintptr_t)r != 2 * i)
        atomic_fetch_add(&wrong, 1);
    atomic_fetch_add(&completions[i], 1);
}

static void test_100000_tiny_tasks_complete_once(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    size_t n = TINY;
#ifdef UNDER_SANITIZER
    n = TINY / 5; /* the sanitizers slow each task's path ten times */
#endif
    for (uintptr_t i = 0; i < n; i++) {
        weft_future *f;
        assert_int_equal(weft_executor_submit(pool, twice, (void *)i, &f), WEFT_OK);
        assert_int_equal(weft_future_add_done_callback(f, count_done, (void *)i), WEFT_OK);
        weft_future_release(f);
    }
    assert_int_equal(weft_executor_shutdown_timeout(pool, 300, false), WEFT_OK);
    weft_executor_stats st;
    weft_executor_stats_get(pool, &st);
    assert_int_equal(st.completed, n);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(atomic_load(&completions[i]), 1);
    assert_int_equal(atomic_load(&wrong), 0);
}

/* Many client threads submitting and waiting at once. */
struct submitter {
    weft_executor *pool;
    int base;
    long bad;
};

static void *submit_and_wait(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < 500; i++) {
        weft_future *f;
        void *r;
        uintptr_t v = (uintptr_t)(s->base + i);
        if (weft_executor_submit(s->pool, twice, (void *)v, &f) != WEFT_OK) {
            s->bad++;
            continue;
        }
        if (weft_future_result(f, &r) != WEFT_OK || (uintptr_t)r != 2 * v)
            s->bad++;
        weft_future_release(f);
    }
    return NULL;
}

static void test_threads_share_a_pool(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    enum { T = 8 };
    weft_thread *th[T];
    struct submitter s[T];
    for (int i = 0; i < T; i++) {
        s[i] = (struct submitter){pool, i * 1000, 0};
        assert_int_equal(weft_thread_new(&th[i], submit_and_wait, &s[i], NULL), WEFT_OK);
        assert_int_equal(weft_thread_start(th[i]), WEFT_OK);
    }
    for (int i = 0; i < T; i++) {
        assert_int_equal(weft_thread_join(th[i], NULL), WEFT_OK);
        weft_thread_free(th[i]);
        assert_int_equal(s[i].bad, 0);
    }
    weft_executor_stats st;
    weft_executor_stats_get(pool, &st);
    assert_int_equal(st.completed, T * 500);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

/* A done-callback that submits to its own pool (on whichever thread
 * completes the future: a waiter's, or the progress thread) must not
 * deadlock; one that frees it gets WEFT_ESTATE on the progress thread. */
static weft_executor *chain_pool;
static _Atomic int chained;
static weft_future *_Atomic chain_next;

static void submit_more(weft_future *f, void *arg)
{
    (void)f;
    uintptr_t left = (uintptr_t)arg;
    if (!left)
        return;
    weft_future *g = NULL;
    if (weft_executor_submit(chain_pool, twice, (void *)left, &g) == WEFT_OK) {
        atomic_fetch_add(&chained, 1);
        weft_future_add_done_callback(g, submit_more, (void *)(left - 1));
        weft_future *old = atomic_exchange(&chain_next, g);
        if (old)
            weft_future_release(old);
    }
}

static void test_callback_submits_to_its_pool(void **state)
{
    (void)state;
    NEEDS_JOB();
    chain_pool = job_pool(NULL);
    atomic_store(&chained, 0);
    weft_future *f;
    assert_int_equal(weft_executor_submit(chain_pool, twice, (void *)1, &f), WEFT_OK);
    assert_int_equal(weft_future_add_done_callback(f, submit_more, (void *)50), WEFT_OK);
    double t0 = weft_monotonic();
    while (atomic_load(&chained) < 50 && weft_monotonic() - t0 < 60)
        weft_sleep(0.001);
    assert_int_equal(atomic_load(&chained), 50);
    assert_int_equal(weft_executor_shutdown_timeout(chain_pool, 60, false), WEFT_OK);
    weft_future_release(f);
    weft_future *last = atomic_exchange(&chain_next, NULL);
    assert_true(weft_future_done(last));
    weft_future_release(last);
    assert_int_equal(weft_executor_free(chain_pool), WEFT_OK);
}

static void test_map_timeout_cancels_the_rest(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_mpi_pool_options o = {.max_in_flight = 1};
    weft_executor *pool = job_pool(&o);
    enum { N = 40 };
    void *args[N];
    for (int i = 0; i < N; i++)
        args[i] = (void *)(uintptr_t)(i == 0 ? 5 : 500); /* ms */
    weft_map *it;
    assert_int_equal(weft_executor_map(pool, nap_ms, args, N, 0.3, NULL, &it), WEFT_OK);
    void *r;
    assert_int_equal(weft_map_next(it, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 5);
    int rc = WEFT_OK;
    for (int i = 1; i < N && rc == WEFT_OK; i++)
        rc = weft_map_next(it, &r);
    assert_int_equal(rc, WEFT_ETIMEDOUT);
    assert_int_equal(weft_map_next(it, &r), WEFT_ESTOP);
    weft_map_free(it);
    double t0 = weft_monotonic(); /* the queued ones were cancelled: no 40 x 0.5 s */
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
    assert_true(weft_monotonic() - t0 < 10);
}

static void test_shutdown_without_wait_then_free(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_executor *pool = job_pool(NULL);
    weft_future *fs[12];
    for (uintptr_t i = 0; i < 12; i++)
        assert_int_equal(weft_executor_submit(pool, nap_ms, (void *)20, &fs[i]), WEFT_OK);
    assert_int_equal(weft_executor_shutdown(pool, false, false), WEFT_OK);
    for (int i = 0; i < 12; i++) { /* queued tasks still run */
        void *r;
        assert_int_equal(weft_future_result_timeout(fs[i], 60, &r), WEFT_OK);
        weft_future_release(fs[i]);
    }
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

/* weft_executor_free from a done-callback on one of the pool's threads
 * (a waiter taking answers, or the progress thread) cannot wait for that
 * thread: WEFT_ESTATE, and nothing is freed. */
static weft_executor *freed_pool;
static _Atomic int free_rc = -1;
static _Atomic int finalize_rc = -1;

static void free_from_callback(weft_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_store(&free_rc, weft_executor_free(freed_pool));
    atomic_store(&finalize_rc, weft_mpi_finalize());
}

static void test_free_from_a_callback_refused(void **state)
{
    (void)state;
    NEEDS_JOB();
    freed_pool = job_pool(NULL);
    weft_future *f;
    assert_int_equal(weft_executor_submit(freed_pool, nap_ms, (void *)100, &f), WEFT_OK);
    assert_int_equal(weft_future_add_done_callback(f, free_from_callback, NULL), WEFT_OK);
    void *r;
    assert_int_equal(weft_future_result(f, &r), WEFT_OK);
    double t0 = weft_monotonic();
    while (atomic_load(&free_rc) == -1 && weft_monotonic() - t0 < 30)
        weft_sleep(0.001);
    assert_int_equal(atomic_load(&free_rc), WEFT_ESTATE);
    assert_int_equal(atomic_load(&finalize_rc), WEFT_ESTATE);
    weft_future_release(f);
    assert_int_equal(weft_executor_free(freed_pool), WEFT_OK);
}

/* run_in_rank: the ranks run tasks themselves, as mpi4py.futures does. */
static void test_tasks_run_in_the_rank(void **state)
{
    (void)state;
    NEEDS_JOB();
    weft_mpi_pool_options o = {.run_in_rank = true};
    weft_executor *pool = job_pool(&o);
    check_bytes_round_trips(pool, "in rank", "IN RANK");
    weft_future *f;
    const weft_bytes *out;
    assert_int_equal(weft_mpi_submit_bytes(pool, refuse, "row 9", 5, &f), WEFT_OK);
    assert_int_equal(weft_future_result_bytes(f, &out), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EINVAL);
    assert_string_equal(weft_future_error_message(f), "bad input: row 9");
    weft_future_release(f);
    enum { N = 2000 };
    void *args[N];
    for (uintptr_t i = 0; i < N; i++)
        args[i] = (void *)i;
    weft_map *it;
    assert_int_equal(weft_executor_map(pool, twice, args, N, 60, NULL, &it), WEFT_OK);
    void *r;
    for (uintptr_t i = 0; i < N; i++) {
        assert_int_equal(weft_map_next(it, &r), WEFT_OK);
        assert_int_equal((uintptr_t)r, 2 * i);
    }
    weft_map_free(it);
    weft_executor_stats st;
    weft_executor_stats_get(pool, &st);
    assert_int_equal(st.workers, (size_t)weft_mpi_world_size() - 1);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
    /* what it cannot do is refused */
    weft_mpi_pool_options bad[] = {{.run_in_rank = true, .workers_per_rank = 2},
                                   {.run_in_rank = true, .task_timeout = 1},
                                   {.run_in_rank = true, .max_tasks_per_child = 1},
                                   {.run_in_rank = true, .max_memory = 1 << 24}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(weft_mpi_pool_new(&pool, &bad[i]), WEFT_EINVAL);
        assert_null(pool);
    }
}

/* ---- spawned workers ------------------------------------------------------------ */

static void test_spawned_workers(void **state)
{
    (void)state;
    weft_mpi_pool_options o = {.spawn = 2};
    weft_executor *pool;
    assert_int_equal(weft_mpi_pool_new(&pool, &o), WEFT_OK);
    weft_executor_stats st;
    weft_executor_stats_get(pool, &st);
    assert_int_equal(st.workers, 2);
    weft_future *fs[8];
    for (uintptr_t i = 0; i < 8; i++)
        assert_int_equal(weft_executor_submit(pool, twice, (void *)i, &fs[i]), WEFT_OK);
    weft_as_completed *it;
    assert_int_equal(weft_as_completed_new(&it, fs, 8, 60), WEFT_OK);
    int seen = 0;
    weft_future *f;
    while (weft_as_completed_next(it, &f) == WEFT_OK) {
        void *r;
        assert_int_equal(weft_future_result(f, &r), WEFT_OK);
        weft_future_release(f); /* as_completed hands out a new reference */
        seen++;
    }
    weft_as_completed_free(it);
    assert_int_equal(seen, 8);
    for (int i = 0; i < 8; i++)
        weft_future_release(fs[i]);
    weft_future *c;
    assert_int_equal(weft_mpi_submit_bytes(pool, crash, NULL, 0, &c), WEFT_OK);
    const weft_bytes *out;
    assert_int_equal(weft_future_result_bytes(c, &out), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(c), WEFT_EBROKEN);
    weft_future_release(c);
    assert_int_equal(weft_executor_free(pool), WEFT_OK);
}

/* Last: registers a function the serving ranks lack, so every later pool
 * of the job's ranks would be refused too. */
static void *client_only(void *arg) { return arg; }

static void test_rank_lacking_a_function_refuses(void **state)
{
    (void)state;
    NEEDS_JOB();
    assert_int_equal(weft_mpi_register_task("client_only", client_only), WEFT_OK);
    weft_executor *pool;
    assert_int_equal(weft_mpi_pool_new(&pool, NULL), WEFT_EINVAL);
    assert_null(pool);
}

int main(int argc, char **argv)
{
    if (register_all() != WEFT_OK)
        return 1;
    if (weft_mpi_serve_or_run(&argc, &argv) != WEFT_OK)
        return 1;
    if (argc > 1 && strcmp(argv[1], "--kill-a-rank") == 0) {
        /* The rank-death check (tests/mpi_rank_death.sh): the launcher
         * must end the whole job, this program included. */
        weft_executor *pool;
        if (weft_mpi_pool_new(&pool, NULL) != WEFT_OK)
            return 1;
        weft_future *f;
        weft_mpi_submit_bytes(pool, kill_my_rank, NULL, 0, &f);
        const weft_bytes *out;
        weft_future_result_bytes_timeout(f, 120, &out);
        return 0; /* reached only if the job was not ended: the check fails */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_bytes_round_trip),
        cmocka_unit_test(test_large_bytes),
        cmocka_unit_test(test_task_failure_keeps_code_and_message),
        cmocka_unit_test(test_plain_tasks_by_value_and_map),
        cmocka_unit_test(test_every_rank_serves),
        cmocka_unit_test(test_crash_fails_only_its_task),
        cmocka_unit_test(test_task_timeout),
        cmocka_unit_test(test_cancel_running_task),
        cmocka_unit_test(test_queued_task_cancels_and_shutdown),
        cmocka_unit_test(test_bounded_pending_fails_fast),
        cmocka_unit_test(test_threads_share_a_pool),
        cmocka_unit_test(test_callback_submits_to_its_pool),
        cmocka_unit_test(test_map_timeout_cancels_the_rest),
        cmocka_unit_test(test_shutdown_without_wait_then_free),
        cmocka_unit_test(test_free_from_a_callback_refused),
        cmocka_unit_test(test_tasks_run_in_the_rank),
        cmocka_unit_test(test_100000_tiny_tasks_complete_once),
        cmocka_unit_test(test_spawned_workers),
        cmocka_unit_test(test_rank_lacking_a_function_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
