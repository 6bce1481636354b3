/* SPDX-License-Identifier: MIT */
/* test_process.c — weft_process against the Python behaviours (docs/python.md)
 * "multiprocessing.Process", and the process pool against
 * "ProcessPoolExecutor" plus what weft adds beyond Python (docs/python.md)
 * (a crash fails only its task, timeouts and cancels kill the worker). */
#include "testutil.h"

#include "platform/process.h" /* weft__pf_shared_alloc: a flag the workers see */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* The sanitizers' runtimes do not make thread creation fork-safe: a
 * thread another thread was creating or ending at the fork can leave the
 * runtime's own thread registry locked in the child (a thread started there
 * then never runs).  Under them (UNDER_SANITIZER, testutil.h), the
 * fork-safety test does not start threads in the child. */

/* Whether a process with this pid exists (a zombie counts: it does). */
static bool pid_exists(long pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%ld", pid);
    return stat(path, &st) == 0;
}

/* ---- weft_process ---------------------------------------------------------- */

static int return_arg(void *arg) { return (int)(uintptr_t)arg; }

static int sleep_forever(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

static int sleep_tenth(void *arg)
{
    (void)arg;
    weft_sleep(0.1);
    return 0;
}

/* [mp._TestProcess.test_process] */
static void process_lifecycle_and_exitcode(void **state)
{
    (void)state;
    weft_process *p;
    weft_process_options o = {.name = "worker-7"};
    assert_int_equal(weft_process_new(&p, return_arg, (void *)7, &o), WEFT_OK);
    int code = -100;
    assert_false(weft_process_is_alive(p));
    assert_int_equal(weft_process_exitcode(p, &code), WEFT_EAGAIN); /* None */
    assert_int_equal(weft_process_pid(p), 0);
    assert_string_equal(weft_process_name(p), "worker-7");
    assert_int_equal(weft_process_start(p), WEFT_OK);
    assert_true(weft_process_pid(p) > 0);
    assert_int_equal(weft_process_start(p), WEFT_ESTATE); /* cannot start twice */
    assert_int_equal(weft_process_join(p), WEFT_OK);
    assert_false(weft_process_is_alive(p));
    assert_int_equal(weft_process_exitcode(p, &code), WEFT_OK);
    assert_int_equal(code, 7);
    assert_false(pid_exists(weft_process_pid(p))); /* reaped: no zombie */
    assert_int_equal(weft_process_join(p), WEFT_OK); /* again: fine */
    weft_process_free(p);
}

static void *write_late(void *fd)
{
    weft_sleep(0.05);
    ssize_t n = write((int)(intptr_t)fd, "x", 1);
    return (void *)(intptr_t)n;
}

/* The target leaves a non-daemon thread running and returns. */
static int start_thread_and_return(void *fd)
{
    weft_thread *t;
    if (weft_thread_new(&t, write_late, fd, NULL) != WEFT_OK || weft_thread_start(t) != WEFT_OK)
        return 3;
    return 0;
}

/* A child joins its non-daemon threads before it ends, as Python's does
 * (Process._bootstrap calls threading._shutdown after the target). */
static void process_child_joins_its_threads(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    weft_process *p;
    assert_int_equal(weft_process_new(&p, start_thread_and_return, (void *)(intptr_t)fds[1], NULL),
                     WEFT_OK);
    assert_int_equal(weft_process_start(p), WEFT_OK);
    close(fds[1]);
    assert_int_equal(weft_process_join(p), WEFT_OK);
    int code = -1;
    assert_int_equal(weft_process_exitcode(p, &code), WEFT_OK);
    assert_int_equal(code, 0);
    char c = 0;
    assert_int_equal(read(fds[0], &c, 1), 1); /* written before the child ended */
    assert_int_equal(c, 'x');
    close(fds[0]);
    weft_process_free(p);
}

/* [mp._TestProcess._kill_process, test_terminate, test_kill, test_interrupt_no_handler] */
static void process_join_timeout_and_signals(void **state)
{
    (void)state;
    int (*stop[])(weft_process *) = {weft_process_terminate, weft_process_kill,
                                     weft_process_interrupt};
    int expected[] = {-SIGTERM, -SIGKILL, -SIGINT};
    for (int i = 0; i < 3; i++) {
        weft_process *p;
        assert_int_equal(weft_process_new(&p, sleep_forever, NULL, NULL), WEFT_OK);
        assert_int_equal(stop[i](p), WEFT_ESTATE); /* not started */
        assert_int_equal(weft_process_start(p), WEFT_OK);
        double t0 = weft_monotonic();
        assert_int_equal(weft_process_join_timeout(p, 0), WEFT_ETIMEDOUT);
        assert_int_equal(weft_process_join_timeout(p, -1), WEFT_ETIMEDOUT);
        assert_true(weft_monotonic() - t0 < IMMEDIATE);
        assert_true(weft_process_is_alive(p));
        int code;
        assert_int_equal(weft_process_exitcode(p, &code), WEFT_EAGAIN);
        assert_int_equal(stop[i](p), WEFT_OK);
        assert_int_equal(weft_process_join_timeout(p, 10), WEFT_OK);
        assert_int_equal(weft_process_exitcode(p, &code), WEFT_OK);
        assert_int_equal(code, expected[i]);
        assert_int_equal(stop[i](p), WEFT_OK); /* ended: nothing sent */
        weft_process_free(p);
    }
}

/* [mp._TestProcess.test_close, test_sentinel] */
static void process_close_and_sentinel(void **state)
{
    (void)state;
    weft_process *p;
    int fd;
    assert_int_equal(weft_process_new(&p, sleep_tenth, NULL, NULL), WEFT_OK);
    assert_int_equal(weft_process_sentinel(p, &fd), WEFT_ESTATE);
    assert_int_equal(weft_process_start(p), WEFT_OK);
    assert_int_equal(weft_process_sentinel(p, &fd), WEFT_OK);
    assert_int_equal(weft_process_close(p), WEFT_ESTATE); /* still running */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);     /* not ready while it runs */
    assert_int_equal(poll(&pfd, 1, 10000), 1); /* ready when it ends */
    assert_int_equal(weft_process_join(p), WEFT_OK);
    assert_int_equal(weft_process_close(p), WEFT_OK);
    assert_int_equal(weft_process_close(p), WEFT_OK); /* idempotent */
    assert_false(weft_process_is_alive(p));
    assert_int_equal(weft_process_join(p), WEFT_ESTATE);
    assert_int_equal(weft_process_terminate(p), WEFT_ESTATE);
    assert_int_equal(weft_process_sentinel(p, &fd), WEFT_ESTATE);
    int code;
    assert_int_equal(weft_process_exitcode(p, &code), WEFT_ESTATE);
    weft_process_free(p);
}

static int check_my_name(void *arg)
{
    return strcmp(weft_process_current_name(), arg) == 0 ? 0 : 1;
}

/* [mp._TestProcess.test_process (name), test_daemon_argument, test_current] */
static void process_name_daemon_and_bad_input(void **state)
{
    (void)state;
    assert_string_equal(weft_process_current_name(), "MainProcess");
    weft_process *p, *q;
    weft_process_options named = {.name = "reader"};
    assert_int_equal(weft_process_new(&p, check_my_name, "reader", &named), WEFT_OK);
    assert_false(weft_process_daemon(p)); /* inherits the main process's: no */
    assert_int_equal(weft_process_set_daemon(p, true), WEFT_OK);
    assert_true(weft_process_daemon(p));
    assert_int_equal(weft_process_start(p), WEFT_OK);
    assert_int_equal(weft_process_set_daemon(p, false), WEFT_ESTATE);
    assert_int_equal(weft_process_join(p), WEFT_OK);
    int code = -1;
    assert_int_equal(weft_process_exitcode(p, &code), WEFT_OK);
    assert_int_equal(code, 0);
    char repr[96];
    assert_non_null(strstr(REPR(weft_process_repr, p, repr), "reader"));
    weft_process_free(p);
    assert_int_equal(weft_process_new(&q, NULL, NULL, NULL), WEFT_OK); /* default name */
    assert_non_null(strstr(weft_process_name(q), "Process-"));
    weft_process_free(q);

    weft_process_options bad = {.daemon = 7};
    assert_int_equal(weft_process_new(&p, return_arg, NULL, &bad), WEFT_EINVAL);
    assert_int_equal(weft_process_new(NULL, return_arg, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_process_start(NULL), WEFT_EINVAL);
    assert_int_equal(weft_process_join_timeout(NULL, 1), WEFT_EINVAL);
    assert_int_equal(weft_process_exitcode(NULL, &code), WEFT_EINVAL);
    assert_false(weft_process_is_alive(NULL));
    weft_process_free(NULL);
}

/* Freed while running: reaped later, never left a zombie. */
static void process_freed_while_running_is_reaped(void **state)
{
    (void)state;
    weft_process *p, *q;
    assert_int_equal(weft_process_new(&p, sleep_tenth, NULL, NULL), WEFT_OK);
    assert_int_equal(weft_process_start(p), WEFT_OK);
    long pid = weft_process_pid(p);
    weft_process_free(p);
    nap(0.3);
    /* the next start reaps ended orphans */
    assert_int_equal(weft_process_new(&q, return_arg, NULL, NULL), WEFT_OK);
    assert_int_equal(weft_process_start(q), WEFT_OK);
    assert_int_equal(weft_process_join(q), WEFT_OK);
    weft_process_free(q);
    assert_false(pid_exists(pid));
}

/* [multiprocessing's atexit] At normal exit, daemon children are
 * terminated and the others waited for; none is left behind. */
static void process_children_at_exit(void **state)
{
    (void)state;
    char out[512];
    double seconds;
    assert_int_equal(run_helper("children", out, sizeof out, &seconds), 0);
    long daemon = 0, plain = 0;
    assert_int_equal(sscanf(out, "daemon %ld plain %ld", &daemon, &plain), 2);
    assert_non_null(strstr(out, "end of main"));
    assert_true(seconds >= 0.25); /* waited for the non-daemon child */
    assert_true(seconds < 30);    /* not for the daemon's minute */
    assert_false(pid_exists(daemon));
    assert_false(pid_exists(plain));
}

/* ---- the process pool -------------------------------------------------------- */

static void *square(void *arg)
{
    uintptr_t n = (uintptr_t)arg;
    return (void *)(n * n);
}

static void *my_pid(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)getpid();
}

static void *segfault(void *arg)
{
    (void)arg;
    raise(SIGSEGV);
    return NULL;
}

static void *aborts(void *arg)
{
    (void)arg;
    abort();
}

static void *exits(void *arg) { _exit((int)(uintptr_t)arg); }

static void *hangs(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void *fails(void *arg) { return weft_fail(42, "row %d is bad", (int)(uintptr_t)arg); }

static weft_bytes *reverse(const void *data, size_t size)
{
    weft_bytes *out = weft_bytes_alloc(size);
    if (!out)
        return weft_fail(WEFT_ENOMEM, "no memory");
    for (size_t i = 0; i < size; i++)
        out->data[i] = ((const unsigned char *)data)[size - 1 - i];
    return out;
}

static weft_executor *process_pool(long workers, double task_timeout)
{
    weft_executor *ex = NULL;
    weft_process_pool_options o = {.max_workers = workers, .task_timeout = task_timeout};
    assert_int_equal(weft_process_pool_new(&ex, &o), WEFT_OK);
    return ex;
}

static uintptr_t result_of(weft_executor *ex, weft_task_fn fn, uintptr_t arg)
{
    weft_future *f;
    void *r = NULL;
    assert_int_equal(weft_executor_submit(ex, fn, (void *)arg, &f), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 20, &r), WEFT_OK);
    weft_future_release(f);
    return (uintptr_t)r;
}

/* Pool workers' pids, from tasks that block until all have reported.
 * ProcessPool 8: as with Python's fork context, every worker is forked
 * when the pool is made. */
static void workers_of_pool(weft_executor *ex, size_t n, long *pids)
{
    weft_executor_stats s;
    weft_executor_stats_get(ex, &s);
    assert_int_equal(s.workers, n); /* forked at creation, as Python's fork context */
    for (size_t i = 0; i < n; i++)
        pids[i] = 0;
    /* ask many times: every worker answers at least once in practice */
    for (int round = 0; round < 200; round++) {
        long pid = (long)result_of(ex, my_pid, 0);
        for (size_t i = 0; i < n; i++)
            if (pids[i] == pid || pids[i] == 0) {
                pids[i] = pid;
                break;
            }
    }
}

/* ProcessPool 1 [cf.executor.ExecutorTest.test_submit, test_map] */
static void pool_submit_map_and_bytes(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(2, 0);
    assert_int_equal(result_of(ex, square, 12), 144);
    void *args[10];
    for (int i = 0; i < 10; i++)
        args[i] = (void *)(uintptr_t)i;
    weft_map *it;
    assert_int_equal(weft_executor_map(ex, square, args, 10, 20, NULL, &it), WEFT_OK);
    for (uintptr_t i = 0; i < 10; i++) {
        void *r;
        assert_int_equal(weft_map_next(it, &r), WEFT_OK);
        assert_int_equal((uintptr_t)r, i * i); /* in input order */
    }
    void *r = (void *)1;
    assert_int_equal(weft_map_next(it, &r), WEFT_ESTOP);
    assert_null(r);
    weft_map_free(it);

    /* bytes both ways, larger than a socket buffer */
    size_t n = 3 * 1000 * 1000;
    unsigned char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 7);
    weft_future *f;
    assert_int_equal(weft_process_pool_submit_bytes(ex, reverse, big, n, &f), WEFT_OK);
    const weft_bytes *out;
    assert_int_equal(weft_future_result_bytes_timeout(f, 20, &out), WEFT_OK);
    assert_int_equal(out->size, n);
    for (size_t i = 0; i < n; i += 4099)
        assert_int_equal(out->data[i], big[n - 1 - i]);
    weft_future_release(f); /* frees the result bytes (ASan checks) */
    assert_int_equal(weft_process_pool_submit_bytes(ex, reverse, NULL, 0, &f), WEFT_OK);
    assert_int_equal(weft_future_result_bytes(f, &out), WEFT_OK); /* waits forever */
    assert_int_equal(out->size, 0);
    weft_future_release(f);
    /* a plain task's future holds no bytes: an error, not a bad pointer */
    assert_int_equal(weft_executor_submit(ex, square, (void *)3, &f), WEFT_OK);
    out = (const weft_bytes *)&n;
    assert_int_equal(weft_future_result_bytes_timeout(f, 20, &out), WEFT_EINVAL);
    assert_null(out);
    out = (const weft_bytes *)&n;
    assert_int_equal(weft_future_result_bytes(f, &out), WEFT_EINVAL);
    assert_null(out);
    out = (const weft_bytes *)&n;
    assert_int_equal(weft_future_result_bytes(NULL, &out), WEFT_EINVAL);
    assert_null(out);
    weft_future_release(f);
    free(big);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

static void *nap_then_square(void *arg)
{
    weft_sleep(0.01 * (double)(uintptr_t)arg);
    return square(arg);
}

/* Beyond Python: a shutdown that stops waiting at its timeout, and holds. */
static void pool_shutdown_timeout(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(1, 0);
    weft_future *slow;
    assert_int_equal(weft_executor_submit(ex, nap_then_square, (void *)50, &slow), WEFT_OK);
    double t0 = weft_monotonic();
    assert_int_equal(weft_executor_shutdown_timeout(ex, 0.05, false), WEFT_ETIMEDOUT);
    double waited = weft_monotonic() - t0;
    assert_true(waited >= 0.05 && waited < 5);
    assert_int_equal(weft_executor_submit(ex, square, (void *)2, NULL), WEFT_ESHUTDOWN);
    assert_int_equal(weft_executor_shutdown_timeout(ex, 60, false), WEFT_OK);
    void *r;
    assert_int_equal(weft_future_result_timeout(slow, 0, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, 2500);
    weft_future_release(slow);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* wait and as_completed take process-pool futures like any others. */
static void pool_futures_with_wait_and_as_completed(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(2, 0);
    weft_future *fs[6];
    for (uintptr_t i = 0; i < 6; i++)
        assert_int_equal(weft_executor_submit(ex, nap_then_square, (void *)(5 - i), &fs[i]),
                         WEFT_OK);
    assert_int_equal(weft_wait(fs, 6, 20, WEFT_FIRST_COMPLETED, NULL), WEFT_OK);
    weft_as_completed *it;
    assert_int_equal(weft_as_completed_new(&it, fs, 6, 20), WEFT_OK);
    uintptr_t sum = 0;
    weft_future *f;
    int n = 0, rc;
    while ((rc = weft_as_completed_next(it, &f)) == WEFT_OK) {
        void *r;
        assert_int_equal(weft_future_result(f, &r), WEFT_OK);
        sum += (uintptr_t)r;
        weft_future_release(f);
        n++;
    }
    assert_int_equal(rc, WEFT_ESTOP);
    assert_null(f);
    weft_as_completed_free(it);
    assert_int_equal(n, 6);
    assert_int_equal(sum, 0 + 1 + 4 + 9 + 16 + 25);
    bool done[6];
    assert_int_equal(weft_wait(fs, 6, 20, WEFT_ALL_COMPLETED, done), WEFT_OK);
    for (int i = 0; i < 6; i++) {
        assert_true(done[i]);
        weft_future_release(fs[i]);
    }
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* ProcessPool 5, 15 (crashes and exits in the function): beyond Python, a
 * crash, an abort or an exit fails only its own task; the message says
 * how the worker ended, as 3.15's "terminated abruptly with exit code". */
static void pool_crash_fails_only_its_task(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(2, 0);
    struct {
        weft_task_fn fn;
        uintptr_t arg;
        const char *says;
    } deaths[] = {
        {segfault, 0, "signal 11"},
        {aborts, 0, "signal 6"},
        {exits, 3, "status 3"},
    };
    for (size_t i = 0; i < 3; i++) {
        weft_future *f;
        assert_int_equal(weft_executor_submit(ex, deaths[i].fn, (void *)deaths[i].arg, &f),
                         WEFT_OK);
        assert_int_equal(weft_future_result_timeout(f, 20, NULL), WEFT_EFAILED);
        assert_int_equal(weft_future_error_code(f), WEFT_EBROKEN);
        assert_non_null(strstr(weft_future_error_message(f), deaths[i].says));
        weft_future_release(f);
        /* the pool replaced the worker and keeps serving */
        assert_int_equal(result_of(ex, square, 9), 81);
        weft_executor_stats s;
        weft_executor_stats_get(ex, &s);
        assert_int_equal(s.workers, 2);
    }
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* Beyond Python: task_timeout kills a hung task's worker. */
static void pool_task_timeout_kills_the_worker(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(1, 0.2);
    weft_future *f;
    double t0 = weft_monotonic();
    assert_int_equal(weft_executor_submit(ex, hangs, NULL, &f), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 20, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_ETIMEDOUT);
    assert_true(weft_monotonic() - t0 >= 0.2);
    assert_true(weft_monotonic() - t0 < 5);
    weft_future_release(f);
    assert_int_equal(result_of(ex, square, 5), 25);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* Beyond Python: cancelling a running task kills its worker. */
static void pool_cancel_running_kills_the_worker(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(1, 0);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, hangs, NULL, &f), WEFT_OK);
    assert_eventually(weft_future_running(f), 10);
    assert_false(weft_future_cancel(f)); /* running: Python's False */
    assert_int_equal(weft_future_result_timeout(f, 20, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_ECANCELLED);
    weft_future_release(f);
    assert_int_equal(result_of(ex, square, 6), 36);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* ProcessPool 6 (an error raised in the task reaches the caller). */
static void pool_task_failure_crosses_back(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(1, 0);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, fails, (void *)17, &f), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 20, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), 42);
    assert_string_equal(weft_future_error_message(f), "row 17 is bad");
    weft_future_release(f);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

static int failing_initializer(void *arg)
{
    (void)arg;
    return 1;
}

/* ProcessPool 19 [cf.test_init.FailingInitializerMixin.test_initializer],
 * 4 (every pending future fails with its own error) and 14's "on a broken
 * pool, terminate/kill_workers is no error". */
static void pool_failing_initializer_breaks_it(void **state)
{
    (void)state;
    weft_executor *ex;
    weft_process_pool_options o = {.max_workers = 2, .initializer = failing_initializer};
    assert_int_equal(weft_process_pool_new(&ex, &o), WEFT_OK);
    weft_future *fs[3];
    int submitted = 0;
    for (int i = 0; i < 3; i++) {
        int rc = weft_executor_submit(ex, square, (void *)2, &fs[submitted]);
        if (rc == WEFT_OK)
            submitted++; /* submitted before the failure was known */
        else
            assert_int_equal(rc, WEFT_EBROKEN);
    }
    for (int i = 0; i < submitted; i++) {
        assert_int_equal(weft_future_result_timeout(fs[i], 20, NULL), WEFT_EFAILED);
        assert_int_equal(weft_future_error_code(fs[i]), WEFT_EBROKEN);
        assert_non_null(strstr(weft_future_error_message(fs[i]), "initializer failed"));
    }
    for (int i = 0; i < submitted; i++)
        weft_future_release(fs[i]);
    assert_eventually(weft_executor_submit(ex, square, (void *)2, NULL) == WEFT_EBROKEN, 10);
    assert_int_equal(weft_process_pool_terminate_workers(ex), WEFT_OK);
    assert_int_equal(weft_process_pool_kill_workers(ex), WEFT_OK);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* ProcessPool 10 [cf.test_process_pool.ProcessPoolExecutorTest.test_max_tasks_per_child] */
static void pool_max_tasks_per_child(void **state)
{
    (void)state;
    weft_executor *ex;
    weft_process_pool_options o = {.max_workers = 1, .max_tasks_per_child = 3};
    assert_int_equal(weft_process_pool_new(&ex, &o), WEFT_OK);
    uintptr_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = result_of(ex, my_pid, 0);
    assert_int_equal(pids[0], pids[1]);
    assert_int_equal(pids[1], pids[2]);
    assert_int_not_equal(pids[2], pids[3]);
    weft_executor_stats s;
    weft_executor_stats_get(ex, &s);
    assert_int_equal(s.workers, 1);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
    assert_false(pid_exists((long)pids[0]));
}

/* ProcessPool 7, 20 [test_saturation; test_context_manager_shutdown]: the
 * workers exist from the start; shutdown reaps every one. */
static void pool_workers_and_shutdown_leave_no_child(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(3, 0);
    long pids[3];
    workers_of_pool(ex, 3, pids);
    assert_int_equal(weft_executor_shutdown(ex, true, false), WEFT_OK);
    assert_int_equal(weft_executor_submit(ex, square, (void *)2, NULL), WEFT_ESHUTDOWN);
    weft_future *f = (weft_future *)&pids; /* any non-NULL value */
    assert_int_equal(weft_executor_submit(ex, square, (void *)2, &f), WEFT_ESHUTDOWN);
    assert_null(f); /* no future on a failed submit */
    f = (weft_future *)&pids;
    assert_int_equal(weft_process_pool_submit_bytes(ex, reverse, "ab", 2, &f), WEFT_ESHUTDOWN);
    assert_null(f);
    for (int i = 0; i < 3; i++)
        if (pids[i])
            assert_false(pid_exists(pids[i]));
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
    /* and nothing of ours is left to reap */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* shutdown(cancel_futures) cancels what waits; terminate_workers stops
 * what runs.  [cf.test_process_pool.test_force_shutdown_workers] */
static void pool_cancel_futures_and_terminate_workers(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(1, 0);
    weft_future *running, *queued[3];
    assert_int_equal(weft_executor_submit(ex, hangs, NULL, &running), WEFT_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(weft_executor_submit(ex, square, (void *)2, &queued[i]), WEFT_OK);
    assert_eventually(weft_future_running(running), 10);
    assert_int_equal(weft_executor_shutdown(ex, false, true), WEFT_OK);
    for (int i = 0; i < 3; i++) {
        assert_true(weft_future_cancelled(queued[i]));
        weft_future_release(queued[i]);
    }
    assert_int_equal(weft_process_pool_kill_workers(ex), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(running, 20, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(running), WEFT_ECANCELLED);
    weft_future_release(running);
    assert_int_equal(weft_executor_submit(ex, square, (void *)2, NULL), WEFT_ESHUTDOWN);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
    assert_int_equal(weft_process_pool_kill_workers(NULL), WEFT_EINVAL);
}

/* Done-callbacks that shut down and free their own pool.  They run on a
 * thread taking the pool's replies: its minder, or a thread waiting in
 * result() that takes the reply itself.  Such a thread must neither free
 * the pool under itself nor wait for itself. */
static weft_executor *callback_pool;
static atomic_int callback_shutdown_rc, callback_free_rc, callbacks_run;
static _Atomic uint32_t *flags; /* shared with the workers: started, go */

static void shut_and_free_own_pool(weft_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_store(&callback_shutdown_rc, weft_executor_shutdown(callback_pool, true, false));
    atomic_store(&callback_free_rc, weft_executor_free(callback_pool));
    atomic_fetch_add(&callbacks_run, 1);
}

/* In a worker: say it started, then spin until the parent says go (10 s
 * at most). */
static void *wait_for_go(void *arg)
{
    atomic_store(&flags[0], 1);
    double end = weft_monotonic() + 10;
    while (!atomic_load(&flags[1]) && weft_monotonic() < end)
        ;
    end = weft_monotonic() + 20e-6; /* the parent is polling by then */
    while (weft_monotonic() < end)
        ;
    return arg;
}

/* One pool: the callback is added while the task cannot finish yet, then
 * the future is waited on.  by_waiter: the task is let go once it runs, so
 * that it ends within the waiter's spin (the waiter takes the reply, in
 * most runs); else it naps and the minder takes the reply. */
static void callback_frees_pool(bool by_waiter)
{
    callback_pool = process_pool(2, 0);
    atomic_store(&callback_shutdown_rc, -1);
    atomic_store(&callback_free_rc, -1);
    atomic_store(&callbacks_run, 0);
    atomic_store(&flags[0], 0);
    atomic_store(&flags[1], 0);
    weft_future *f;
    assert_int_equal(
        weft_executor_submit(callback_pool, by_waiter ? wait_for_go : nap_then_square, (void *)3, &f),
        WEFT_OK);
    assert_int_equal(weft_future_add_done_callback(f, shut_and_free_own_pool, NULL), WEFT_OK);
    if (by_waiter)
        assert_eventually(atomic_load(&flags[0]), 20);
    atomic_store(&flags[1], 1);
    void *r = NULL;
    assert_int_equal(weft_future_result_timeout(f, 20, &r), WEFT_OK);
    assert_int_equal((uintptr_t)r, by_waiter ? 3 : 9);
    assert_eventually(atomic_load(&callbacks_run) == 1, 20);
    assert_int_equal(atomic_load(&callback_shutdown_rc), WEFT_OK);
    assert_int_equal(atomic_load(&callback_free_rc), WEFT_ESTATE);
    assert_int_equal(weft_executor_submit(callback_pool, square, (void *)2, NULL), WEFT_ESHUTDOWN);
    weft_future_release(f);
    assert_int_equal(weft_executor_free(callback_pool), WEFT_OK);
}

/* Beyond Python (whose shutdown(wait=True) there raises "cannot join
 * current thread"): from a done-callback on the pool's own thread, free is
 * WEFT_ESTATE and shutdown does not wait; neither hangs nor frees early. */
static void pool_shutdown_and_free_from_done_callback(void **state)
{
    (void)state;
    flags = weft__pf_shared_alloc(2 * sizeof *flags);
    assert_non_null(flags);
    for (int i = 0; i < 10; i++)
        callback_frees_pool(true);
    for (int i = 0; i < 3; i++)
        callback_frees_pool(false);
    weft__pf_shared_free((void *)flags, 2 * sizeof *flags);
}

static void *nap_then_crash(void *arg)
{
    (void)arg;
    weft_sleep(0.1);
    raise(SIGSEGV);
    return NULL;
}

static void *fails_on_three(void *arg)
{
    if ((uintptr_t)arg == 3)
        return weft_fail(7, "three");
    return square(arg);
}

/* Workers that retire after each task, a backlog of n tasks (the fourth
 * fails), and shutdown right away: replacements are forked during the
 * shutdown and every result arrives; with wait, before shutdown returns. */
static void retiring_workers_deliver_all(long workers, uintptr_t n, bool wait)
{
    weft_executor *ex;
    weft_process_pool_options o = {.max_workers = workers, .max_tasks_per_child = 1};
    assert_int_equal(weft_process_pool_new(&ex, &o), WEFT_OK);
    weft_future *fs[8];
    assert_true(n <= 8);
    for (uintptr_t i = 0; i < n; i++)
        assert_int_equal(weft_executor_submit(ex, fails_on_three, (void *)i, &fs[i]), WEFT_OK);
    assert_int_equal(weft_executor_shutdown(ex, wait, false), WEFT_OK);
    for (uintptr_t i = 0; i < n; i++) {
        void *r = NULL;
        int rc = weft_future_result_timeout(fs[i], wait ? 0 : 20, &r);
        if (i == 3) {
            assert_int_equal(rc, WEFT_EFAILED);
            assert_int_equal(weft_future_error_code(fs[i]), 7);
        } else {
            assert_int_equal(rc, WEFT_OK);
            assert_int_equal((uintptr_t)r, i * i);
        }
        weft_future_release(fs[i]);
    }
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* every child reaped */
}

/* ProcessPool 11 [test_max_tasks_early_shutdown]: 3 workers, 6 tasks,
 * shutdown(wait). */
static void pool_max_tasks_early_shutdown(void **state)
{
    (void)state;
    retiring_workers_deliver_all(3, 6, true);
}

/* ProcessPool 12, 13 [test_shutdown_no_wait_max_tasks_gh119592,
 * test_shutdown_gh_132969]: the same with shutdown(wait=false): nothing
 * hangs, the one failure stays its task's. */
static void pool_retiring_workers_after_shutdown_no_wait(void **state)
{
    (void)state;
    retiring_workers_deliver_all(2, 8, false);
}

/* ProcessPool 3 [test_killed_child]: a worker killed from outside while its
 * task runs fails that task (Python breaks the whole pool; weft replaces
 * the worker, as for a crash). */
static void pool_worker_killed_from_outside(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(1, 0);
    long pid = (long)result_of(ex, my_pid, 0);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, hangs, NULL, &f), WEFT_OK);
    assert_eventually(weft_future_running(f), 10);
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    assert_int_equal(weft_future_result_timeout(f, 20, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EBROKEN);
    assert_non_null(strstr(weft_future_error_message(f), "signal 9"));
    weft_future_release(f);
    assert_int_equal(result_of(ex, square, 4), 16);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

static weft_bytes *crash_on_bytes(const void *data, size_t size)
{
    (void)data;
    (void)size;
    raise(SIGSEGV);
    return NULL;
}

/* ProcessPool 18 [test_crash_big_data, test_gh105829]: a worker crashing
 * with a payload larger than a socket buffer fails its task; a hundred
 * such payloads in a row all arrive and come back. */
static void pool_big_payloads(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(2, 0);
    enum { BIG = 1 << 20 };
    unsigned char *data = malloc(BIG);
    assert_non_null(data);
    for (size_t i = 0; i < BIG; i++)
        data[i] = (unsigned char)(i * 7);
    weft_future *f;
    assert_int_equal(weft_process_pool_submit_bytes(ex, crash_on_bytes, data, BIG, &f), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 20, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EBROKEN);
    const weft_bytes *none = (const weft_bytes *)data; /* a failed bytes task: NULL */
    assert_int_equal(weft_future_result_bytes(f, &none), WEFT_EFAILED);
    assert_null(none);
    weft_future_release(f);
    enum { N = 100, SIZE = 100000 };
    weft_future *fs[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(weft_process_pool_submit_bytes(ex, reverse, data + i, SIZE, &fs[i]),
                         WEFT_OK);
    for (int i = 0; i < N; i++) {
        const weft_bytes *b = NULL;
        assert_int_equal(weft_future_result_bytes_timeout(fs[i], 20, &b), WEFT_OK);
        assert_int_equal(b->size, SIZE);
        const unsigned char *out = b->data;
        assert_int_equal(out[0], data[i + SIZE - 1]);
        assert_int_equal(out[SIZE - 1], data[i]);
        weft_future_release(fs[i]);
    }
    free(data);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* ProcessPool 17 [test_shutdown_deadlock]: a worker crashing during
 * shutdown(wait) does not hang it; its future fails. */
static void pool_crash_during_shutdown(void **state)
{
    (void)state;
    weft_executor *ex = process_pool(1, 0);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, nap_then_crash, NULL, &f), WEFT_OK);
    assert_int_equal(weft_executor_shutdown(ex, true, false), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 0, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EBROKEN);
    weft_future_release(f);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

static void pool_bad_input(void **state)
{
    (void)state;
    weft_executor *ex = (weft_executor *)1;
    weft_process_pool_options neg = {.max_workers = -1}, tasks = {.max_tasks_per_child = -1},
                              timeout = {.task_timeout = NAN};
    assert_int_equal(weft_process_pool_new(&ex, &neg), WEFT_EINVAL);
    assert_null(ex); /* out-parameters: NULL on every status but WEFT_OK */
    weft_process *proc = (weft_process *)1;
    weft_process_options bad = {.daemon = (weft_daemon_mode)42};
    assert_int_equal(weft_process_new(&proc, sleep_tenth, NULL, &bad), WEFT_EINVAL);
    assert_null(proc);
    assert_int_equal(weft_process_pool_new(&ex, &tasks), WEFT_EINVAL);
    assert_int_equal(weft_process_pool_new(&ex, &timeout), WEFT_EINVAL);
    assert_int_equal(weft_process_pool_new(NULL, NULL), WEFT_EINVAL);
    weft_executor *threads;
    assert_int_equal(weft_thread_pool_new(&threads, NULL), WEFT_OK);
    assert_int_equal(weft_process_pool_submit_bytes(threads, reverse, "x", 1, NULL), WEFT_EINVAL);
    weft_executor_free(threads);
    ex = process_pool(1, 0);
    assert_int_equal(weft_process_pool_submit_bytes(ex, NULL, "x", 1, NULL), WEFT_EINVAL);
    assert_int_equal(weft_process_pool_submit_bytes(ex, reverse, NULL, 1, NULL), WEFT_EINVAL);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
    assert_null(weft_bytes_new(NULL, 3));
}

/* ---- the memory cap (beyond Python) ------------------------------------------ */

/* The cap is refused where the build cannot enforce it (see weft/process_pool.h). */
#ifdef UNDER_SANITIZER
#define CAP_SUPPORTED 0
#else
#define CAP_SUPPORTED 1
#endif

#define MIB ((size_t)1 << 20)

/* Fill a 1 MiB block, a page at a time, so that it is really mapped. */
static void touch_block(void **block)
{
    for (size_t i = 0; i < MIB; i += 4096)
        ((volatile char *)block)[i] = 1;
}

static void free_blocks(void **list)
{
    while (list) {
        void **next = *list;
        free(list);
        list = next;
    }
}

/* Allocate and touch `arg` MiB in 1 MiB blocks, checking malloc: on NULL,
 * give them back and fail with WEFT_ENOMEM.  Returns the MiB count. */
static void *eats_memory_checked(void *arg)
{
    size_t want = (uintptr_t)arg, got = 0;
    void **list = NULL;
    for (; got < want; got++) {
        void **block = malloc(MIB);
        if (!block)
            break;
        touch_block(block);
        *block = list;
        list = block;
    }
    free_blocks(list);
    if (got < want)
        return weft_fail(WEFT_ENOMEM, "malloc returned NULL after %zu MiB", got);
    return (void *)(uintptr_t)got;
}

/* The same without looking at malloc's result: past the cap it writes
 * through NULL. */
static void *eats_memory_unchecked(void *arg)
{
    size_t want = (uintptr_t)arg;
    void **list = NULL;
    for (size_t got = 0; got < want; got++) {
        void **block = malloc(MIB);
        touch_block(block);
        *block = list;
        list = block;
    }
    free_blocks(list);
    return arg;
}

/* One allocation of `arg` MiB, used unchecked. */
static void *one_huge_block_unchecked(void *arg)
{
    volatile char *p = malloc((uintptr_t)arg * MIB);
    p[0] = 1;
    free((void *)p);
    return arg;
}

/* A pool whose workers have this cap; NULL where the build refuses it
 * (asserted: WEFT_EINVAL). */
static weft_executor *capped_pool(long workers, size_t cap)
{
    weft_executor *ex = NULL;
    weft_process_pool_options o = {.max_workers = workers, .max_memory = cap};
    int rc = weft_process_pool_new(&ex, &o);
    if (!CAP_SUPPORTED) {
        assert_int_equal(rc, WEFT_EINVAL);
        return NULL;
    }
    assert_int_equal(rc, WEFT_OK);
    return ex;
}

/* Submit fn(arg); its future must fail with WEFT_ENOMEM saying the cap. */
static void assert_over_cap(weft_executor *ex, weft_task_fn fn, uintptr_t arg, size_t cap,
                            const char *also)
{
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, fn, (void *)arg, &f), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 60, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_ENOMEM);
    char says[96];
    snprintf(says, sizeof says, "exceeded its memory cap of %zu bytes", cap);
    const char *message = weft_future_error_message(f);
    if (!strstr(message, says) || !strstr(message, also))
        fail_msg("unexpected message: %s", message);
    weft_future_release(f);
}

/* A task that allocates and touches four times the cap, checking malloc,
 * fails with WEFT_ENOMEM and the cap in the message; its worker is
 * replaced and the pool serves tasks under the cap again, the worker's
 * inherited memory not counted against them. */
static void pool_memory_cap_fails_the_task(void **state)
{
    (void)state;
    size_t cap = 64 * MIB;
    weft_executor *ex = capped_pool(1, cap);
    if (!ex)
        return;
    assert_int_equal(result_of(ex, eats_memory_checked, 48), 48); /* under the cap */
    long before = (long)result_of(ex, my_pid, 0);
    assert_over_cap(ex, eats_memory_checked, 4 * cap / MIB, cap, "malloc returned NULL after");
    long after = (long)result_of(ex, my_pid, 0);
    assert_true(after != before); /* replaced */
    assert_false(pid_exists(before)); /* and reaped */
    assert_int_equal(result_of(ex, eats_memory_checked, 48), 48);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    assert_int_equal(st.workers, 1);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* A task that writes through malloc's NULL crashes; its crash is reported
 * as the cap's, whether it ran out block by block or with one huge
 * request.  A crash that has nothing to do with memory is still a crash. */
static void pool_memory_cap_crash_on_null(void **state)
{
    (void)state;
    size_t cap = 32 * MIB;
    weft_executor *ex = capped_pool(2, cap);
    if (!ex)
        return;
    assert_over_cap(ex, eats_memory_unchecked, 4 * cap / MIB, cap, "signal 11");
    assert_int_equal(result_of(ex, eats_memory_checked, 16), 16);
    assert_over_cap(ex, one_huge_block_unchecked, 1024, cap, "signal 11");
    assert_int_equal(result_of(ex, square, 7), 49);
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, segfault, NULL, &f), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 20, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EBROKEN); /* not the cap's */
    assert_null(strstr(weft_future_error_message(f), "memory cap"));
    weft_future_release(f);
    weft_executor_stats st; /* the crashed worker's replacement may still be starting */
    assert_eventually((weft_executor_stats_get(ex, &st), st.workers == 2), 20);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* A refused allocation the task got over (a fallback that worked). */
static void *falls_back_after_a_refusal(void *arg)
{
    (void)arg;
    void *huge = malloc(1024 * MIB); /* past the cap: NULL, errno ENOMEM */
    void *small = malloc(4096);
    bool refused = huge == NULL;
    free(huge);
    free(small);
    return (void *)(uintptr_t)refused;
}

/* Touch `arg` MiB (under the cap), then crash on a NULL pointer. */
static void *touches_then_segfaults(void *arg)
{
    void **list = NULL;
    for (uintptr_t i = 0; i < (uintptr_t)arg; i++) {
        void **block = malloc(MIB);
        assert_non_null(block);
        touch_block(block);
        *block = list;
        list = block;
    }
    return segfault(list);
}

static void assert_plain_crash(weft_executor *ex, weft_task_fn fn, uintptr_t arg)
{
    weft_future *f;
    assert_int_equal(weft_executor_submit(ex, fn, (void *)arg, &f), WEFT_OK);
    assert_int_equal(weft_future_result_timeout(f, 20, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_EBROKEN);
    assert_null(strstr(weft_future_error_message(f), "memory cap"));
    weft_future_release(f);
}

/* A crash is the cap's only for what the crashing task did: an ENOMEM an
 * earlier task of the same worker left in errno does not count, nor does
 * a crash well under a small cap. */
static void pool_memory_cap_blames_only_its_own(void **state)
{
    (void)state;
    weft_executor *ex = capped_pool(1, 64 * MIB);
    if (!ex)
        return;
    assert_int_equal(result_of(ex, falls_back_after_a_refusal, 0), 1);
    assert_plain_crash(ex, segfault, 0);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);

    ex = capped_pool(1, 2 * MIB); /* 1 MiB touched leaves ~1 MiB of room */
    assert_plain_crash(ex, touches_then_segfaults, 1);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* A bytes task whose payload does not fit under the worker's cap. */
static void pool_memory_cap_payload_too_big(void **state)
{
    (void)state;
    size_t cap = 2 * MIB;
    weft_executor *ex = capped_pool(1, cap);
    if (!ex)
        return;
    size_t n = 8 * MIB;
    unsigned char *big = calloc(1, n);
    weft_future *f;
    assert_int_equal(weft_process_pool_submit_bytes(ex, reverse, big, n, &f), WEFT_OK);
    assert_int_equal(weft_future_result_bytes_timeout(f, 60, NULL), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(f), WEFT_ENOMEM);
    assert_non_null(strstr(weft_future_error_message(f), "exceeded its memory cap"));
    weft_future_release(f);
    assert_int_equal(weft_process_pool_submit_bytes(ex, reverse, big, 1000, &f), WEFT_OK);
    assert_int_equal(weft_future_result_bytes_timeout(f, 60, NULL), WEFT_OK);
    weft_future_release(f);
    free(big);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

static void pool_memory_cap_bad_options(void **state)
{
    (void)state;
    weft_executor *ex;
    size_t bad[] = {1, 4096, WEFT_PROCESS_POOL_MIN_MEMORY - 1, (size_t)-1, SIZE_MAX / 2 + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weft_process_pool_options o = {.max_workers = 1, .max_memory = bad[i]};
        assert_int_equal(weft_process_pool_new(&ex, &o), WEFT_EINVAL);
    }
    ex = capped_pool(1, WEFT_PROCESS_POOL_MIN_MEMORY); /* the smallest works */
    if (ex) {
        assert_int_equal(result_of(ex, square, 3), 9);
        assert_int_equal(weft_executor_free(ex), WEFT_OK);
    }
}

#define CAP_STRESS_TASKS 48
static _Atomic int cap_stress_done[CAP_STRESS_TASKS];

static void count_done(weft_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add(&cap_stress_done[(uintptr_t)arg], 1);
}

/* Several workers, over-cap tasks (checked and crashing) among good ones
 * submitted at once: each future completes exactly once, with its own
 * outcome, and the pool ends at full strength. */
static void pool_memory_cap_stress(void **state)
{
    (void)state;
    size_t cap = 32 * MIB;
    weft_executor *ex = capped_pool(3, cap);
    if (!ex)
        return;
    weft_future *fs[CAP_STRESS_TASKS];
    for (uintptr_t i = 0; i < CAP_STRESS_TASKS; i++) {
        atomic_store(&cap_stress_done[i], 0);
        weft_task_fn fn = i % 4 == 0   ? eats_memory_checked
                          : i % 4 == 1 ? eats_memory_unchecked
                          : i % 4 == 2 ? eats_memory_checked
                                       : square;
        uintptr_t arg = i % 4 < 2 ? 4 * cap / MIB : i % 4 == 2 ? 8 : i;
        assert_int_equal(weft_executor_submit(ex, fn, (void *)arg, &fs[i]), WEFT_OK);
        assert_int_equal(weft_future_add_done_callback(fs[i], count_done, (void *)i), WEFT_OK);
    }
    assert_int_equal(weft_wait(fs, CAP_STRESS_TASKS, 240, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    for (uintptr_t i = 0; i < CAP_STRESS_TASKS; i++) {
        void *r = NULL;
        int rc = weft_future_result_timeout(fs[i], 0, &r);
        if (i % 4 < 2) {
            assert_int_equal(rc, WEFT_EFAILED);
            assert_int_equal(weft_future_error_code(fs[i]), WEFT_ENOMEM);
            assert_non_null(strstr(weft_future_error_message(fs[i]), "memory cap"));
        } else {
            assert_int_equal(rc, WEFT_OK);
            assert_int_equal((uintptr_t)r, i % 4 == 2 ? 8 : i * i);
        }
        weft_future_release(fs[i]);
    }
    /* Done-callbacks run after the waiters are woken (as in Python), so
     * the last ones may still be running here. */
    for (int i = 0; i < CAP_STRESS_TASKS; i++) {
        assert_eventually(atomic_load(&cap_stress_done[i]) != 0, 20);
        assert_int_equal(atomic_load(&cap_stress_done[i]), 1); /* exactly once */
    }
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    assert_int_equal(st.completed, CAP_STRESS_TASKS);
    /* the last over-cap worker's replacement may still be starting */
    assert_eventually((weft_executor_stats_get(ex, &st), st.workers == 3), 20);
    assert_int_equal(weft_executor_free(ex), WEFT_OK);
}

/* ---- fork safety --------------------------------------------------------------- */

static _Atomic bool busy_stop;

/* Holds libc's locks (malloc, a stdio stream) and weft's (thread registry,
 * a weft lock) as often as it can while the main thread forks pools. */
static void busy_with_locks(int index, void *arg)
{
    (void)index;
    FILE *sink = arg;
    weft_lock *lock = malloc(sizeof *lock);
    weft_lock_init(lock);
    while (!atomic_load(&busy_stop)) {
        void *p = malloc(100);
        fprintf(sink, "%p\n", p);
        free(p);
        weft_lock_acquire(lock);
        weft_lock_release(lock);
#ifndef UNDER_SANITIZER
        weft_thread *t;
        if (weft_thread_new(&t, NULL, NULL, NULL) == WEFT_OK) {
            weft_thread_start(t);
            weft_thread_join(t, NULL);
            weft_thread_free(t);
        }
#endif
    }
    free(lock);
}

static FILE *child_sink;

/* In the child: malloc, stdio, and (outside TSan) a weft thread. */
static void *use_libc_and_weft(void *arg)
{
    char *s = malloc(64);
    snprintf(s, 64, "%lu", (unsigned long)(uintptr_t)arg);
    fprintf(child_sink, "%s\n", s);
    fflush(child_sink);
    free(s);
#ifndef UNDER_SANITIZER
    weft_thread *t;
    int rc = weft_thread_new(&t, NULL, NULL, NULL);
    if (rc != WEFT_OK)
        return weft_fail(rc, "could not make a thread in the child");
    if ((rc = weft_thread_start(t)) != WEFT_OK)
        return weft_fail(rc, "could not start a thread in the child: %s", weft_status_name(rc));
    if ((rc = weft_thread_join_timeout(t, 5, NULL)) != WEFT_OK)
        return weft_fail(rc, "could not join a thread in the child: %s", weft_status_name(rc));
    weft_thread_free(t);
#endif
    return (void *)((uintptr_t)arg + 1);
}

static void pool_fork_while_other_threads_hold_locks(void **state)
{
    (void)state;
    child_sink = fopen("/dev/null", "w");
    assert_non_null(child_sink);
    atomic_store(&busy_stop, false);
    bunch *b = bunch_start(2, busy_with_locks, child_sink);
    for (int round = 0; round < 10; round++) {
        weft_executor *ex = process_pool(2, 0);
        weft_future *fs[4];
        for (uintptr_t i = 0; i < 4; i++)
            assert_int_equal(weft_executor_submit(ex, use_libc_and_weft, (void *)i, &fs[i]),
                             WEFT_OK);
        for (uintptr_t i = 0; i < 4; i++) {
            void *r;
            /* a deadlocked child would time out here */
            int rc = weft_future_result_timeout(fs[i], 20, &r);
            if (rc != WEFT_OK)
                fprintf(stderr, "task %lu: %s\n", (unsigned long)i, weft_future_error_message(fs[i]));
            assert_int_equal(rc, WEFT_OK);
            assert_int_equal((uintptr_t)r, i + 1);
            weft_future_release(fs[i]);
        }
        assert_int_equal(weft_executor_free(ex), WEFT_OK);
    }
    atomic_store(&busy_stop, true);
    bunch_join(b);
    fclose(child_sink);
}

/* Run fn((void *)i) on n threads, i from 0, and join them (each within
 * 300 s: a hang fails the test). */
static void run_threads(void *(*fn)(void *), uintptr_t n)
{
    weft_thread *t[16];
    assert_true(n <= 16);
    for (uintptr_t i = 0; i < n; i++) {
        assert_int_equal(weft_thread_new(&t[i], fn, (void *)i, NULL), WEFT_OK);
        assert_int_equal(weft_thread_start(t[i]), WEFT_OK);
    }
    for (uintptr_t i = 0; i < n; i++) {
        assert_int_equal(weft_thread_join_timeout(t[i], 300, NULL), WEFT_OK);
        weft_thread_free(t[i]);
    }
}

/* ---- stress ----------------------------------------------------------------------- */

#define STRESS_TASKS 10000
#define STRESS_SUBMITTERS 4

static weft_executor *stress_pool;
static _Atomic unsigned long stress_sum;

static void *submit_share(void *arg)
{
    uintptr_t first = (uintptr_t)arg;
    enum { BATCH = 250 };
    for (uintptr_t base = first; base < STRESS_TASKS; base += STRESS_SUBMITTERS * BATCH) {
        weft_future *fs[BATCH];
        size_t n = 0;
        for (uintptr_t i = base; i < base + BATCH && i < STRESS_TASKS; i++)
            if (weft_executor_submit(stress_pool, square, (void *)i, &fs[n]) == WEFT_OK)
                n++;
        for (size_t k = 0; k < n; k++) {
            void *r;
            if (weft_future_result_timeout(fs[k], 60, &r) == WEFT_OK)
                atomic_fetch_add(&stress_sum, (unsigned long)(uintptr_t)r);
            weft_future_release(fs[k]);
        }
    }
    return NULL;
}

static void *start_share(void *arg)
{
    return submit_share((void *)((uintptr_t)arg * 250));
}

static void pool_stress_ten_thousand_tasks(void **state)
{
    (void)state;
    stress_pool = process_pool(2, 0);
    atomic_store(&stress_sum, 0);
    run_threads(start_share, STRESS_SUBMITTERS);
    unsigned long expected = 0;
    for (unsigned long i = 0; i < STRESS_TASKS; i++)
        expected += i * i;
    assert_int_equal(atomic_load(&stress_sum), expected); /* every task, exactly once */
    weft_executor_stats s;
    weft_executor_stats_get(stress_pool, &s);
    assert_int_equal(s.completed, STRESS_TASKS);
    assert_int_equal(weft_executor_free(stress_pool), WEFT_OK);
}

/* ---- handing over while workers are replaced --------------------------------- */

/* Many threads hand large payloads (written on the socket, so that a worker
 * can read one, run it and reply while its submitter's send() is still
 * returning), small ones (the shared page) and crashing ones to workers
 * that retire after every second task (see HANDOVER_REPLACES): each
 * reply, each crash and each child's end waits for the task's submitter to be done (the pool's
 * sending word).  A lost wake-up there leaves a minder parked forever:
 * its futures then time out here instead of completing. */
#define HANDOVER_SUBMITTERS 12
#define HANDOVER_ROUNDS 8
#define HANDOVER_BATCH 6
#define HANDOVER_BIG (300 * 1000)

/* Under the sanitizers a child forked while other threads allocate can
 * deadlock in the runtime's allocator on its first malloc (see the top of
 * this file): there the workers are forked only with the pool, before any
 * submitter runs, so none retires and no task crashes. */
#ifdef UNDER_SANITIZER
#define HANDOVER_REPLACES 0
#else
#define HANDOVER_REPLACES 1
#endif

static unsigned char *handover_data;
static weft_executor *handover_pool;
static _Atomic unsigned handover_ok, handover_crashed, handover_wrong;

/* The sum of the bytes and their count, as 16 bytes. */
static weft_bytes *checksum(const void *data, size_t size)
{
    uint64_t sum[2] = {0, size};
    for (size_t i = 0; i < size; i++)
        sum[0] += ((const unsigned char *)data)[i];
    weft_bytes *out = weft_bytes_new(sum, sizeof sum);
    return out ? out : weft_fail(WEFT_ENOMEM, "no memory");
}

static uint64_t checksum_here(size_t offset, size_t size)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < size; i++)
        sum += handover_data[offset + i];
    return sum;
}

/* Task k of a batch: every fifth crashes; the sizes take turns at one
 * larger than a socket buffer, one for the shared page, one for a single
 * socket message. */
static size_t handover_size(unsigned k)
{
    return k % 3 == 1 ? 500 : k % 3 == 2 ? 4000 : HANDOVER_BIG;
}
static bool handover_crashes(unsigned k) { return HANDOVER_REPLACES && k % 5 == 4; }

/* Check one finished task against what was sent; false if it is wrong. */
static bool handover_check(weft_future *f, unsigned k, size_t offset)
{
    const weft_bytes *b = NULL;
    int rc = weft_future_result_bytes_timeout(f, 60, &b);
    if (handover_crashes(k)) {
        atomic_fetch_add(&handover_crashed, 1);
        return rc == WEFT_EFAILED && weft_future_error_code(f) == WEFT_EBROKEN;
    }
    if (rc != WEFT_OK || b->size != 16)
        return false;
    uint64_t sum[2];
    memcpy(sum, b->data, sizeof sum);
    atomic_fetch_add(&handover_ok, 1);
    return sum[1] == handover_size(k) && sum[0] == checksum_here(offset, handover_size(k));
}

static void *handover_submitter(void *arg)
{
    uintptr_t me = (uintptr_t)arg;
    for (unsigned round = 0; round < HANDOVER_ROUNDS; round++) {
        weft_future *fs[HANDOVER_BATCH] = {0};
        size_t offsets[HANDOVER_BATCH];
        for (unsigned k = 0; k < HANDOVER_BATCH; k++) {
            offsets[k] = (me * 131 + round * 17 + k) % 1000;
            weft_bytes_fn fn = handover_crashes(k) ? crash_on_bytes : checksum;
            if (weft_process_pool_submit_bytes(handover_pool, fn, handover_data + offsets[k],
                                               handover_size(k), &fs[k]) != WEFT_OK)
                atomic_fetch_add(&handover_wrong, 1);
        }
        for (unsigned k = 0; k < HANDOVER_BATCH; k++) {
            if (fs[k] && !handover_check(fs[k], k, offsets[k]))
                atomic_fetch_add(&handover_wrong, 1);
            weft_future_release(fs[k]);
        }
    }
    return NULL;
}

static void pool_stress_handover_while_workers_are_replaced(void **state)
{
    (void)state;
    handover_data = malloc(HANDOVER_BIG + 1000);
    assert_non_null(handover_data);
    for (size_t i = 0; i < HANDOVER_BIG + 1000; i++)
        handover_data[i] = (unsigned char)(i * 13 + 5);
    weft_process_pool_options o = {.max_workers = 3,
                                   .max_tasks_per_child = HANDOVER_REPLACES ? 2 : 0};
    assert_int_equal(weft_process_pool_new(&handover_pool, &o), WEFT_OK);
    atomic_store(&handover_ok, 0);
    atomic_store(&handover_crashed, 0);
    atomic_store(&handover_wrong, 0);
    run_threads(handover_submitter, HANDOVER_SUBMITTERS);
    unsigned total = HANDOVER_SUBMITTERS * HANDOVER_ROUNDS * HANDOVER_BATCH;
    unsigned crashing = HANDOVER_REPLACES * HANDOVER_SUBMITTERS * HANDOVER_ROUNDS; /* 1 a batch */
    assert_int_equal(atomic_load(&handover_wrong), 0);
    assert_int_equal(atomic_load(&handover_crashed), crashing);
    assert_int_equal(atomic_load(&handover_ok), total - crashing);
    weft_executor_stats st;
    weft_executor_stats_get(handover_pool, &st);
    assert_int_equal(st.completed, total); /* each counted once */
    assert_int_equal(st.running, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(weft_executor_free(handover_pool), WEFT_OK);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* every child reaped */
    free(handover_data);
}

/* The same with workers whose initializer fails after a pause: a task handed
 * over meanwhile, larger than a socket buffer, keeps its submitter writing
 * to a child that never reads it until that child, having reported the
 * failure, exits.  The minder taking that report must wait for the
 * submitter before it fails the task (nearly every round parks on the
 * sending word).  Every future ends broken, none is left running. */
#define FAILING_ROUNDS 12
#define FAILING_SUBMITTERS 4
#define FAILING_BIG (1000 * 1000)

static _Atomic unsigned failing_broken, failing_wrong;

static int fail_after_a_pause(void *arg)
{
    (void)arg;
    weft_sleep(0.01);
    return 1;
}

static void *failing_submitter(void *arg)
{
    (void)arg;
    weft_future *f;
    int rc = weft_process_pool_submit_bytes(handover_pool, checksum, handover_data, FAILING_BIG,
                                            &f);
    if (rc == WEFT_EBROKEN) { /* the failure was known before this submit */
        atomic_fetch_add(&failing_broken, 1);
        return NULL;
    }
    if (rc == WEFT_OK && weft_future_result_timeout(f, 30, NULL) == WEFT_EFAILED &&
        weft_future_error_code(f) == WEFT_EBROKEN)
        atomic_fetch_add(&failing_broken, 1);
    else
        atomic_fetch_add(&failing_wrong, 1);
    if (rc == WEFT_OK)
        weft_future_release(f);
    return NULL;
}

static void pool_stress_handover_to_failing_workers(void **state)
{
    (void)state;
    handover_data = calloc(1, FAILING_BIG);
    assert_non_null(handover_data);
    atomic_store(&failing_broken, 0);
    atomic_store(&failing_wrong, 0);
    for (int round = 0; round < FAILING_ROUNDS; round++) {
        weft_process_pool_options o = {.max_workers = 2, .initializer = fail_after_a_pause};
        assert_int_equal(weft_process_pool_new(&handover_pool, &o), WEFT_OK);
        run_threads(failing_submitter, FAILING_SUBMITTERS);
        weft_executor_stats st;
        weft_executor_stats_get(handover_pool, &st);
        assert_int_equal(st.running + st.queued, 0);
        /* before the free, which would wait for a minder parked for good */
        assert_int_equal(atomic_load(&failing_wrong), 0);
        assert_int_equal(weft_executor_free(handover_pool), WEFT_OK);
    }
    assert_int_equal(atomic_load(&failing_broken), FAILING_ROUNDS * FAILING_SUBMITTERS);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* every child reaped */
    free(handover_data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(process_lifecycle_and_exitcode),
        cmocka_unit_test(process_child_joins_its_threads),
        cmocka_unit_test(process_join_timeout_and_signals),
        cmocka_unit_test(process_close_and_sentinel),
        cmocka_unit_test(process_name_daemon_and_bad_input),
        cmocka_unit_test(process_freed_while_running_is_reaped),
        cmocka_unit_test(process_children_at_exit),
        cmocka_unit_test(pool_submit_map_and_bytes),
        cmocka_unit_test(pool_futures_with_wait_and_as_completed),
        cmocka_unit_test(pool_shutdown_timeout),
        cmocka_unit_test(pool_crash_fails_only_its_task),
        cmocka_unit_test(pool_task_timeout_kills_the_worker),
        cmocka_unit_test(pool_cancel_running_kills_the_worker),
        cmocka_unit_test(pool_task_failure_crosses_back),
        cmocka_unit_test(pool_failing_initializer_breaks_it),
        cmocka_unit_test(pool_max_tasks_per_child),
        cmocka_unit_test(pool_workers_and_shutdown_leave_no_child),
        cmocka_unit_test(pool_cancel_futures_and_terminate_workers),
        cmocka_unit_test(pool_shutdown_and_free_from_done_callback),
        cmocka_unit_test(pool_max_tasks_early_shutdown),
        cmocka_unit_test(pool_retiring_workers_after_shutdown_no_wait),
        cmocka_unit_test(pool_worker_killed_from_outside),
        cmocka_unit_test(pool_big_payloads),
        cmocka_unit_test(pool_crash_during_shutdown),
        cmocka_unit_test(pool_bad_input),
        cmocka_unit_test(pool_memory_cap_fails_the_task),
        cmocka_unit_test(pool_memory_cap_crash_on_null),
        cmocka_unit_test(pool_memory_cap_blames_only_its_own),
        cmocka_unit_test(pool_memory_cap_payload_too_big),
        cmocka_unit_test(pool_memory_cap_bad_options),
        cmocka_unit_test(pool_memory_cap_stress),
        cmocka_unit_test(pool_fork_while_other_threads_hold_locks),
        cmocka_unit_test(pool_stress_ten_thousand_tasks),
        cmocka_unit_test(pool_stress_handover_while_workers_are_replaced),
        cmocka_unit_test(pool_stress_handover_to_failing_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
