/* SPDX-License-Identifier: MIT */
/* test_thread.c — weft_thread and the module functions against
 * the Python behaviours (docs/python.md) "Thread". */
#include "testutil.h"

#include <unistd.h>

static char text[256];

static void *return_arg(void *arg) { return arg; }

static weft_thread *started(weft_thread_fn fn, void *arg, const weft_thread_options *o)
{
    weft_thread *t = NULL;
    assert_int_equal(weft_thread_new(&t, fn, arg, o), WEFT_OK);
    assert_int_equal(weft_thread_start(t), WEFT_OK);
    return t;
}

/* Thread 1 [test_threading.ThreadTests.test_name] */
static void thread_takes_given_name(void **state)
{
    (void)state;
    weft_thread *t;
    weft_thread_options o = {.name = "myname1"};
    weft_thread_new(&t, NULL, NULL, &o);
    assert_string_equal(weft_thread_name(t), "myname1");
    assert_int_equal(weft_thread_set_name(t, "renamed"), WEFT_OK);
    assert_string_equal(weft_thread_name(t), "renamed");
    assert_int_equal(weft_thread_set_name(t, NULL), WEFT_EINVAL);
    weft_thread_free(t);
}

/* Thread 2 [test_threading.ThreadTests.test_name] */
static void thread_default_names_count_up(void **state)
{
    (void)state;
    weft_thread *a, *b, *c;
    weft_thread_options empty = {.name = ""};
    weft_thread_new(&a, NULL, NULL, NULL);
    weft_thread_new(&b, return_arg, NULL, &empty);
    weft_thread_new(&c, NULL, NULL, NULL);
    unsigned long na, nb, nc;
    assert_int_equal(sscanf(weft_thread_name(a), "Thread-%lu", &na), 1);
    assert_int_equal(sscanf(weft_thread_name(b), "Thread-%lu", &nb), 1);
    assert_int_equal(sscanf(weft_thread_name(c), "Thread-%lu", &nc), 1);
    assert_true(na < nb && nb < nc);
    weft_thread_free(a);
    weft_thread_free(b);
    weft_thread_free(c);
}

/* Thread 3 [test_threading.ThreadTests.test_args_argument]; the target's
 * return value reaches join. */
static void thread_passes_argument_and_result(void **state)
{
    (void)state;
    int payload[3] = {1, 2, 3};
    weft_thread *t = started(return_arg, payload, NULL);
    void *result = NULL;
    assert_int_equal(weft_thread_join(t, &result), WEFT_OK);
    assert_ptr_equal(result, payload);
    weft_thread_free(t);
}

/* Thread 4 [test_threading.ThreadTests.test_various_ops] */
static void thread_before_start_has_no_ident(void **state)
{
    (void)state;
    weft_thread *t;
    weft_thread_new(&t, NULL, NULL, NULL);
    assert_int_equal(weft_thread_ident(t), 0);
    assert_int_equal(weft_thread_native_id(t), 0);
    assert_false(weft_thread_is_alive(t));
    assert_non_null(strstr(REPR(weft_thread_repr, t, text), ", initial)>"));
    weft_thread_free(t);
}

static weft_event release_all = WEFT_EVENT_INIT;
static void *wait_for_release(void *arg)
{
    (void)arg;
    weft_event_wait(&release_all);
    return NULL;
}

/* Thread 5 [test_threading.ThreadTests.test_various_ops] */
static void thread_native_ids_are_distinct(void **state)
{
    (void)state;
    weft_event_clear(&release_all);
    weft_thread *t[10];
    long ids[11];
    for (int i = 0; i < 10; i++) {
        t[i] = started(wait_for_release, NULL, NULL);
        ids[i] = weft_thread_native_id(t[i]);
    }
    ids[10] = weft_get_native_id();
    for (int i = 0; i < 11; i++) {
        assert_true(ids[i] > 0);
        for (int j = 0; j < i; j++)
            assert_true(ids[i] != ids[j]);
    }
    weft_event_set(&release_all);
    for (int i = 0; i < 10; i++) {
        weft_thread_join(t[i], NULL);
        weft_thread_free(t[i]);
    }
}

/* Thread 6 [test_threading.ThreadTests.test_various_ops, test_repr_daemon] */
static void thread_after_join_keeps_ident_and_says_stopped(void **state)
{
    (void)state;
    weft_thread_options daemon = {.daemon = WEFT_DAEMON};
    weft_thread *t = started(NULL, NULL, NULL);
    weft_thread *d = started(NULL, NULL, &daemon);
    weft_thread_join(t, NULL);
    weft_thread_join(d, NULL);
    assert_false(weft_thread_is_alive(t));
    assert_true(weft_thread_ident(t) != 0);
    REPR(weft_thread_repr, t, text);
    assert_non_null(strstr(text, "stopped"));
    assert_null(strstr(text, "daemon"));
    assert_non_null(strstr(REPR(weft_thread_repr, d, text), "daemon"));
    weft_thread_free(t);
    weft_thread_free(d);
}

static void *deep_recursion(void *arg)
{
    volatile char frame[8192];
    int depth = *(int *)arg;
    frame[0] = (char)depth;
    if (depth > 0) {
        int next = depth - 1;
        deep_recursion(&next);
    }
    return (void *)(uintptr_t)frame[0];
}

/* Thread 7 [test_threading.ThreadTests.test_various_ops_small_stack, _large_stack] */
static void thread_stack_sizes(void **state)
{
    (void)state;
    assert_int_equal(weft_set_stack_size(1000), WEFT_EINVAL);
    /* glibc carves static TLS out of the thread's stack, and ThreadSanitizer's
     * runtime keeps a large per-thread state there: give it that room. */
#ifdef UNDER_TSAN
    size_t tls_room = 1024 * 1024;
#else
    size_t tls_room = 0;
#endif
    size_t sizes[] = {256 * 1024 + tls_room, 1024 * 1024 + tls_room};
    int depths[] = {8, 40}; /* ~64 KiB and ~320 KiB: room for sanitizer frames */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(weft_set_stack_size(sizes[i]), WEFT_OK);
        assert_int_equal(weft_get_stack_size(), sizes[i]);
        weft_thread *t = started(deep_recursion, &depths[i], NULL);
        assert_int_equal(weft_thread_join(t, NULL), WEFT_OK);
        weft_thread_free(t);
    }
    assert_int_equal(weft_set_stack_size(0), WEFT_OK);
    assert_int_equal(weft_get_stack_size(), 0);
    weft_thread *t;
    weft_thread_options tiny = {.stack_size = 100};
    assert_int_equal(weft_thread_new(&t, NULL, NULL, &tiny), WEFT_EINVAL);
}

static atomic_uint_fast64_t foreign_ident, foreign_current_ident;
static atomic_int foreign_alive, foreign_daemon, foreign_join_rc, foreign_named_dummy;
static weft_event foreign_go = WEFT_EVENT_INIT;
static void *foreign_thread(void *arg)
{
    (void)arg;
    weft_thread *me = weft_current_thread();
    atomic_store(&foreign_ident, weft_get_ident());
    atomic_store(&foreign_current_ident, weft_thread_ident(me));
    atomic_store(&foreign_alive, weft_thread_is_alive(me));
    atomic_store(&foreign_daemon, weft_thread_daemon(me));
    atomic_store(&foreign_named_dummy, strncmp(weft_thread_name(me), "Dummy-", 6) == 0);
    atomic_store(&foreign_join_rc, weft_thread_join(me, NULL));
    weft_event_wait(&foreign_go);
    return NULL;
}

/* Thread 8 [test_threading.ThreadTests.test_ident_of_no_threading_threads, test_foreign_thread] */
static void thread_foreign_thread_gets_a_dummy(void **state)
{
    (void)state;
    size_t before = weft_active_count();
    pthread_t raw;
    pthread_create(&raw, NULL, foreign_thread, NULL);
    assert_eventually(atomic_load(&foreign_ident) != 0 && weft_active_count() == before + 1, 10);
    assert_int_equal(atomic_load(&foreign_current_ident), atomic_load(&foreign_ident));
    assert_true(atomic_load(&foreign_ident) != weft_get_ident());
    assert_int_equal(atomic_load(&foreign_alive), 1);
    assert_int_equal(atomic_load(&foreign_daemon), 1);
    assert_int_equal(atomic_load(&foreign_named_dummy), 1);
    assert_int_equal(atomic_load(&foreign_join_rc), WEFT_ESTATE);
    weft_thread *all[64];
    size_t n = weft_enumerate(all, 64);
    bool found = false;
    for (size_t i = 0; i < n && i < 64; i++) {
        found |= weft_thread_ident(all[i]) == atomic_load(&foreign_ident);
        weft_thread_free(all[i]);
    }
    assert_true(found);
    weft_event_set(&foreign_go);
    pthread_join(raw, NULL);
    assert_int_equal(weft_active_count(), before); /* gone when it exits */
}

static bool listed(weft_thread *t)
{
    weft_thread *all[256];
    size_t n = weft_enumerate(all, 256);
    bool found = false;
    for (size_t i = 0; i < n && i < 256; i++) {
        found |= all[i] == t;
        weft_thread_free(all[i]);
    }
    return found;
}

/* Thread 9 [test_threading.ThreadTests.test_enumerate_after_join] */
static void thread_not_listed_after_join(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        weft_thread *t = started(NULL, NULL, NULL);
        weft_thread_join(t, NULL);
        assert_false(listed(t));
        weft_thread_free(t);
    }
}

static weft_thread *shared_target;
static atomic_int joiners_ok;
static void join_shared(int index, void *arg)
{
    (void)index;
    (void)arg;
    if (weft_thread_join(shared_target, NULL) == WEFT_OK)
        atomic_fetch_add(&joiners_ok, 1);
}

/* Thread 10 [test_threading.ThreadTests.test_join_from_multiple_threads] */
static void thread_joined_by_many_threads(void **state)
{
    (void)state;
    for (int n = 2; n < 20; n += 5) {
        weft_event_clear(&release_all);
        atomic_store(&joiners_ok, 0);
        shared_target = started(wait_for_release, NULL, NULL);
        bunch *b = bunch_start(n, join_shared, NULL);
        wait_threads_blocked(n);
        weft_event_set(&release_all);
        bunch_join(b);
        assert_int_equal(atomic_load(&joiners_ok), n);
        weft_thread_free(shared_target);
    }
}

static weft_lock blocker = WEFT_LOCK_INIT;
static void *block_on_lock(void *arg)
{
    (void)arg;
    weft_lock_acquire(&blocker);
    weft_lock_release(&blocker);
    return NULL;
}

/* Thread 11, 12 [test_threading.ThreadTests.test_join_with_timeout; doc] */
static void thread_join_timeout(void **state)
{
    (void)state;
    weft_lock_acquire(&blocker);
    weft_thread *t = started(block_on_lock, NULL, NULL);
    double t0 = weft_monotonic();
    assert_int_equal(weft_thread_join_timeout(t, 0.01, NULL), WEFT_ETIMEDOUT);
    double dt = weft_monotonic() - t0;
    assert_true(dt >= 0.01);
    assert_timeout(dt, 0.01);
    assert_true(weft_thread_is_alive(t));
    t0 = weft_monotonic();
    assert_int_equal(weft_thread_join_timeout(t, -1, NULL), WEFT_ETIMEDOUT); /* like 0 */
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    assert_int_equal(weft_thread_join_timeout(t, NAN, NULL), WEFT_EINVAL);
    weft_lock_release(&blocker);
    assert_int_equal(weft_thread_join(t, NULL), WEFT_OK);
    assert_false(weft_thread_is_alive(t));
    weft_thread_free(t);
}

/* Thread 13 [test_threading.ThreadTests.test_leak_without_join]: threads
 * whose handles are given back unjoined clean up after themselves (the
 * ASan build checks that nothing leaks). */
static void thread_unjoined_threads_leak_nothing(void **state)
{
    (void)state;
    size_t before = weft_active_count();
    for (int i = 0; i < 100; i++)
        weft_thread_free(started(return_arg, NULL, NULL));
    assert_eventually(weft_active_count() == before, 10);
}

static atomic_int child_daemon = -1;
static void *record_child_daemon(void *arg)
{
    (void)arg;
    weft_thread *child;
    weft_thread_new(&child, NULL, NULL, NULL); /* inherits */
    atomic_store(&child_daemon, weft_thread_daemon(child));
    weft_thread_free(child);
    return NULL;
}

/* Thread 14 [test_threading.ThreadTests.test_daemon_param] */
static void thread_daemon_defaults_and_inheritance(void **state)
{
    (void)state;
    weft_thread *t;
    weft_thread_new(&t, NULL, NULL, NULL);
    assert_false(weft_thread_daemon(t));
    weft_thread_free(t);
    weft_thread_options yes = {.daemon = WEFT_DAEMON}, no = {.daemon = WEFT_NON_DAEMON};
    weft_thread_new(&t, NULL, NULL, &yes);
    assert_true(weft_thread_daemon(t));
    weft_thread_free(t);
    weft_thread_new(&t, NULL, NULL, &no);
    assert_false(weft_thread_daemon(t));
    weft_thread_free(t);
    t = started(record_child_daemon, NULL, &yes);
    weft_thread_join(t, NULL);
    weft_thread_free(t);
    assert_int_equal(atomic_load(&child_daemon), 1);
    weft_thread_options bad = {.daemon = 7};
    assert_int_equal(weft_thread_new(&t, NULL, NULL, &bad), WEFT_EINVAL);
}

static atomic_uint_fast64_t worker_ident;
static void *record_ident(void *arg)
{
    (void)arg;
    atomic_store(&worker_ident, weft_get_ident());
    return NULL;
}

/* Thread 15 [test_threading.ThreadTests.test_main_thread] */
static void thread_main_thread_identity(void **state)
{
    (void)state;
    weft_thread *main_t = weft_main_thread();
    assert_string_equal(weft_thread_name(main_t), "MainThread");
    assert_int_equal(weft_thread_ident(main_t), weft_get_ident());
    assert_ptr_equal(weft_current_thread(), main_t);
    assert_int_equal(weft_thread_native_id(main_t), weft_get_native_id());
    weft_thread *t = started(record_ident, NULL, NULL);
    weft_thread_join(t, NULL);
    assert_true(atomic_load(&worker_ident) != weft_get_ident());
    assert_int_equal(atomic_load(&worker_ident), weft_thread_ident(t));
    weft_thread_free(t);
    assert_int_equal(weft_thread_start(main_t), WEFT_ESTATE);
}

/* Thread 16 [test_threading.ThreadTests.test_repr_stopped] */
static void thread_repr_says_stopped_without_join(void **state)
{
    (void)state;
    weft_event_clear(&release_all);
    weft_thread *t = started(wait_for_release, NULL, NULL);
    assert_non_null(strstr(REPR(weft_thread_repr, t, text), "started"));
    weft_event_set(&release_all);
    assert_eventually(strstr(REPR(weft_thread_repr, t, text), "stopped") != NULL, 5);
    weft_thread_join(t, NULL);
    weft_thread_free(t);
}

/* Thread 17 [test_threading.ThreadingExceptionTests.test_start_thread_again,
 * test_daemonize_active_thread] */
static void thread_start_twice_and_late_daemon_are_errors(void **state)
{
    (void)state;
    weft_thread *t = started(NULL, NULL, NULL);
    assert_int_equal(weft_thread_start(t), WEFT_ESTATE);
    assert_int_equal(weft_thread_set_daemon(t, true), WEFT_ESTATE);
    weft_thread_join(t, NULL);
    assert_int_equal(weft_thread_start(t), WEFT_ESTATE);
    weft_thread_free(t);
}

static atomic_int self_join_rc;
static void *join_self(void *arg)
{
    (void)arg;
    atomic_store(&self_join_rc, weft_thread_join(weft_current_thread(), NULL));
    return NULL;
}

/* Thread 18 [test_threading.ThreadingExceptionTests.test_joining_current_thread,
 * test_joining_inactive_thread] */
static void thread_join_self_or_unstarted_is_an_error(void **state)
{
    (void)state;
    weft_thread *t = started(join_self, NULL, NULL);
    weft_thread_join(t, NULL);
    assert_int_equal(atomic_load(&self_join_rc), WEFT_ESTATE);
    weft_thread_free(t);
    weft_thread_new(&t, NULL, NULL, NULL);
    assert_int_equal(weft_thread_join(t, NULL), WEFT_ESTATE);
    assert_int_equal(weft_thread_join_timeout(t, 1, NULL), WEFT_ESTATE);
    weft_thread_free(t);
    assert_int_equal(weft_thread_join(weft_main_thread(), NULL), WEFT_ESTATE); /* self */
}

/* Thread 19 [test_threading.ThreadTests.test_join_nondaemon_on_shutdown] */
static void process_exit_waits_for_nondaemon_threads(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(run_helper("nondaemon", out, sizeof out, NULL), 0);
    assert_string_equal(out, "end of main\nend of thread\n");
    assert_int_equal(run_helper("exit_call", out, sizeof out, NULL), 3);
    assert_string_equal(out, "end of main\nend of thread\n");
}

/* Thread 20 [test_threading.ThreadJoinOnShutdown.test_1_join_on_shutdown,
 * test_thread_from_thread] */
static void process_exit_main_joinable_and_grandchildren_waited(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(run_helper("join_main", out, sizeof out, NULL), 0);
    assert_string_equal(out, "end of main\nthread saw main end\n");
    assert_int_equal(run_helper("thread_from_thread", out, sizeof out, NULL), 0);
    assert_string_equal(out, "end of main\nend of grandchild\n");
}

/* Thread 21 [test_threading.ThreadJoinOnShutdown.test_4_daemon_threads] */
static void process_exit_with_busy_daemon_threads_is_clean(void **state)
{
    (void)state;
    char out[256];
    double seconds;
    assert_int_equal(run_helper("daemons", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\n"); /* stderr merged: empty */
    assert_true(seconds < 10);
}

/* Thread 25 [test_threading.ThreadTests.test_start_new_thread_failed]: the
 * OS refuses the thread (here: an impossible stack); state stays
 * consistent and nothing runs. */
static void thread_start_failure_leaves_it_unstarted(void **state)
{
    (void)state;
    weft_thread *t;
    weft_thread_options huge = {.stack_size = (size_t)1 << 46};
    assert_int_equal(weft_thread_new(&t, return_arg, NULL, &huge), WEFT_OK);
    size_t before = weft_active_count();
    int rc = weft_thread_start(t);
    assert_true(rc == WEFT_EAGAIN || rc == WEFT_ENOMEM || rc == WEFT_EINVAL);
    assert_false(weft_thread_is_alive(t));
    assert_int_equal(weft_thread_ident(t), 0);
    assert_int_equal(weft_active_count(), before);
    assert_int_equal(weft_thread_join(t, NULL), WEFT_ESTATE);
    weft_thread_free(t);
}

static void read_os_name(long tid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", tid);
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (f) {
        if (fgets(buf, (int)size, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
}

/* Thread 27 [test_threading.MiscTestCase.test_set_name, test_change_name] */
static void thread_name_reaches_the_os(void **state)
{
    (void)state;
    weft_event_clear(&release_all);
    weft_thread_options o = {.name = "a-rather-long-thread-name"};
    weft_thread *t = started(wait_for_release, NULL, &o);
    long tid = weft_thread_native_id(t);
    char os_name[64];
    assert_eventually((read_os_name(tid, os_name, sizeof os_name),
                       strcmp(os_name, "a-rather-long-t") == 0), 5); /* 15 bytes */
    weft_thread_set_name(t, "renamed");
    read_os_name(tid, os_name, sizeof os_name);
    assert_string_equal(os_name, "renamed");
    weft_event_set(&release_all);
    weft_thread_join(t, NULL);
    weft_thread_free(t);
}

/* Thread 28 [doc] */
static void thread_enumerate_lists_exactly_the_live_threads(void **state)
{
    (void)state;
    weft_event_clear(&release_all);
    weft_thread_options daemon = {.daemon = WEFT_DAEMON};
    weft_thread *live = started(wait_for_release, NULL, NULL);
    weft_thread *live_daemon = started(wait_for_release, NULL, &daemon);
    weft_thread *unstarted, *finished = started(NULL, NULL, NULL);
    weft_thread_new(&unstarted, NULL, NULL, NULL);
    weft_thread_join(finished, NULL);
    assert_true(listed(weft_main_thread()));
    assert_true(listed(live));
    assert_true(listed(live_daemon));
    assert_false(listed(unstarted));
    assert_false(listed(finished));
    weft_thread *all[4];
    size_t n = weft_enumerate(all, 2); /* capacity smaller than the count */
    assert_int_equal(n, weft_active_count());
    weft_thread_free(all[0]);
    weft_thread_free(all[1]);
    weft_event_set(&release_all);
    weft_thread_join(live, NULL);
    weft_thread_join(live_daemon, NULL);
    weft_thread *threads[] = {live, live_daemon, unstarted, finished};
    for (int i = 0; i < 4; i++)
        weft_thread_free(threads[i]);
}

static void thread_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_thread_new(NULL, NULL, NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_thread_start(NULL), WEFT_EINVAL);
    assert_int_equal(weft_thread_join(NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_thread_set_daemon(NULL, true), WEFT_EINVAL);
    assert_int_equal(weft_thread_set_name(NULL, "x"), WEFT_EINVAL);
    assert_false(weft_thread_is_alive(NULL));
    assert_null(weft_thread_name(NULL));
    assert_int_equal(weft_thread_ident(NULL), 0);
    weft_thread_free(NULL);
}

/* Stress: 8 threads each start and join many short threads while the main
 * thread enumerates; every result comes back and nothing stays listed. */
static atomic_long stress_sum;
static void *add_one(void *arg)
{
    atomic_fetch_add(&stress_sum, 1);
    return arg;
}
static void spawner(int index, void *arg)
{
    (void)index;
    (void)arg;
    for (int i = 0; i < 500; i++) {
        weft_thread *t;
        void *result = NULL;
        weft_thread_new(&t, add_one, (void *)(uintptr_t)(i + 1), NULL);
        weft_thread_start(t);
        weft_thread_join(t, &result);
        if ((uintptr_t)result != (uintptr_t)(i + 1))
            atomic_fetch_add(&stress_sum, 1000000);
        weft_thread_free(t);
    }
}

static void thread_stress_start_join_enumerate(void **state)
{
    (void)state;
    size_t before = weft_active_count();
    bunch *b = bunch_start(STRESS_THREADS, spawner, NULL);
    while (bunch_finished(b) < STRESS_THREADS) {
        weft_thread *all[64];
        size_t n = weft_enumerate(all, 64);
        for (size_t i = 0; i < n && i < 64; i++)
            weft_thread_free(all[i]);
    }
    bunch_join(b);
    assert_int_equal(atomic_load(&stress_sum), STRESS_THREADS * 500);
    assert_eventually(weft_active_count() == before, 5);
}

/* Out-parameters hold NULL on every status but WEFT_OK. */
static void thread_out_parameters_on_failure(void **state)
{
    (void)state;
    weft_thread *t = (weft_thread *)1;
    weft_thread_options bad = {.daemon = (weft_daemon_mode)42};
    assert_int_equal(weft_thread_new(&t, return_arg, NULL, &bad), WEFT_EINVAL);
    assert_null(t);
    weft_event_clear(&release_all);
    t = started(wait_for_release, NULL, NULL);
    void *result = (void *)1;
    assert_int_equal(weft_thread_join_timeout(t, 0.01, &result), WEFT_ETIMEDOUT);
    assert_null(result);
    weft_event_set(&release_all);
    assert_int_equal(weft_thread_join(t, NULL), WEFT_OK);
    weft_thread_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thread_takes_given_name),
        cmocka_unit_test(thread_out_parameters_on_failure),
        cmocka_unit_test(thread_default_names_count_up),
        cmocka_unit_test(thread_passes_argument_and_result),
        cmocka_unit_test(thread_before_start_has_no_ident),
        cmocka_unit_test(thread_native_ids_are_distinct),
        cmocka_unit_test(thread_after_join_keeps_ident_and_says_stopped),
        cmocka_unit_test(thread_stack_sizes),
        cmocka_unit_test(thread_foreign_thread_gets_a_dummy),
        cmocka_unit_test(thread_not_listed_after_join),
        cmocka_unit_test(thread_joined_by_many_threads),
        cmocka_unit_test(thread_join_timeout),
        cmocka_unit_test(thread_unjoined_threads_leak_nothing),
        cmocka_unit_test(thread_daemon_defaults_and_inheritance),
        cmocka_unit_test(thread_main_thread_identity),
        cmocka_unit_test(thread_repr_says_stopped_without_join),
        cmocka_unit_test(thread_start_twice_and_late_daemon_are_errors),
        cmocka_unit_test(thread_join_self_or_unstarted_is_an_error),
        cmocka_unit_test(process_exit_waits_for_nondaemon_threads),
        cmocka_unit_test(process_exit_main_joinable_and_grandchildren_waited),
        cmocka_unit_test(process_exit_with_busy_daemon_threads_is_clean),
        cmocka_unit_test(thread_start_failure_leaves_it_unstarted),
        cmocka_unit_test(thread_name_reaches_the_os),
        cmocka_unit_test(thread_enumerate_lists_exactly_the_live_threads),
        cmocka_unit_test(thread_bad_input),
        cmocka_unit_test(thread_stress_start_join_enumerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
