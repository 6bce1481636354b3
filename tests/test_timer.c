/* SPDX-License-Identifier: MIT */
/* test_timer.c — weft_timer against the Python behaviours (docs/python.md) "Timer". */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

/* The sanitizers' runtimes do not make thread creation fork-safe (a thread
 * being created or ending at the fork can leave the runtime's own thread
 * registry locked in the child, see test_process.c): under them a fork
 * child starts no threads.  Under LeakSanitizer a fork child's exit also
 * reports the parent's thread objects, which only the threads that did not
 * cross held. */
#ifdef UNDER_ASAN
#include <sanitizer/lsan_interface.h>
#define NOT_LEAKS_IN_FORK_CHILD(stmt) (__lsan_disable(), (stmt), __lsan_enable())
#else
#define NOT_LEAKS_IN_FORK_CHILD(stmt) (stmt)
#endif

static atomic_int fired[16];
static void fire(void *arg) { atomic_fetch_add(&fired[(intptr_t)arg], 1); }

/* Timer 1 [test_threading.TimerTests.test_init_immutable_default_args]:
 * each timer gets its own argument. */
static void timer_each_gets_its_own_argument(void **state)
{
    (void)state;
    weft_timer *a, *b;
    weft_timer_new(&a, 0.01, fire, (void *)1);
    weft_timer_new(&b, 0.01, fire, (void *)2);
    weft_timer_start(a);
    weft_timer_start(b);
    weft_timer_join(a);
    weft_timer_join(b);
    assert_int_equal(atomic_load(&fired[1]), 1);
    assert_int_equal(atomic_load(&fired[2]), 1);
    weft_timer_free(a);
    weft_timer_free(b);
}

/* Timer 2 [doc, probe] */
static void timer_cancel_before_firing(void **state)
{
    (void)state;
    weft_timer *t;
    weft_timer_new(&t, 0.2, fire, (void *)3);
    weft_timer_start(t);
    assert_true(weft_timer_is_alive(t));
    assert_int_equal(weft_timer_cancel(t), WEFT_OK);
    double t0 = weft_monotonic();
    assert_int_equal(weft_timer_join(t), WEFT_OK);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    assert_false(weft_timer_is_alive(t));
    assert_true(weft_timer_finished(t));
    nap(0.3);
    assert_int_equal(atomic_load(&fired[3]), 0);
    weft_timer_free(t);
}

/* Timer 3, 5 [probe, doc]: fires once, not before its interval. */
static double fired_at;
static void stamp(void *arg)
{
    (void)arg;
    fired_at = weft_monotonic();
    atomic_fetch_add(&fired[4], 1);
}
static void timer_fires_once_after_interval(void **state)
{
    (void)state;
    weft_timer *t;
    weft_timer_new(&t, 0.05, stamp, NULL);
    double t0 = weft_monotonic();
    weft_timer_start(t);
    assert_int_equal(weft_timer_join(t), WEFT_OK);
    assert_int_equal(atomic_load(&fired[4]), 1);
    assert_true(fired_at - t0 >= 0.05);
    assert_timeout(fired_at - t0, 0.05);
    weft_timer_free(t);
}

/* Timer 4 [doc, probe] */
static void timer_cancel_after_firing_is_harmless(void **state)
{
    (void)state;
    weft_timer *t;
    weft_timer_new(&t, 0.0, fire, (void *)5);
    weft_timer_start(t);
    weft_timer_join(t);
    assert_int_equal(weft_timer_cancel(t), WEFT_OK);
    assert_int_equal(atomic_load(&fired[5]), 1);
    weft_timer_free(t);
}

/* Timer 5 [doc]: a Timer is a Thread: start once, daemon before start. */
static void timer_start_twice_and_late_daemon_are_errors(void **state)
{
    (void)state;
    weft_timer *t;
    weft_timer_new(&t, 10, fire, (void *)6);
    assert_int_equal(weft_timer_join(t), WEFT_ESTATE); /* before start */
    assert_int_equal(weft_timer_set_daemon(t, true), WEFT_OK);
    assert_true(weft_timer_daemon(t));
    weft_timer_start(t);
    assert_int_equal(weft_timer_start(t), WEFT_ESTATE);
    assert_int_equal(weft_timer_set_daemon(t, false), WEFT_ESTATE);
    assert_int_equal(weft_timer_join_timeout(t, 0.01), WEFT_ETIMEDOUT);
    weft_timer_cancel(t);
    weft_timer_free(t);
    /* cancelled before start: never runs */
    weft_timer_new(&t, 0, fire, (void *)7);
    weft_timer_cancel(t);
    assert_int_equal(weft_timer_start(t), WEFT_OK);
    assert_int_equal(weft_timer_join(t), WEFT_OK);
    assert_int_equal(atomic_load(&fired[7]), 0);
    weft_timer_free(t);
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static atomic_int order_errors, fired_count;
static atomic_long last_fired;
static void ordered_fire(void *arg)
{
    long index = (long)(intptr_t)arg;
    if (index < atomic_load(&last_fired))
        atomic_fetch_add(&order_errors, 1);
    atomic_store(&last_fired, index);
    atomic_fetch_add(&fired_count, 1);
}

/* Timers share one thread: 10,000 pending timers add at most one thread;
 * they fire in due order (checked between groups of due times 50 ms apart,
 * created in reverse order); cancelled ones never fire. */
static void timer_ten_thousand_share_one_thread(void **state)
{
    (void)state;
    enum { COUNT = 10000, GROUPS = 10 };
    static weft_timer *timers[COUNT];
    int threads_before = count_threads();
    double base = weft_monotonic() + 0.3;
    for (int i = 0; i < COUNT; i++) {
        long group = GROUPS - 1 - i * GROUPS / COUNT;
        double interval = base + group * 0.05 - weft_monotonic();
        assert_int_equal(weft_timer_new(&timers[i], interval, ordered_fire,
                                         (void *)(intptr_t)group), WEFT_OK);
        assert_int_equal(weft_timer_start(timers[i]), WEFT_OK);
    }
    assert_true(count_threads() <= threads_before + 1);
    for (int i = 0; i < COUNT; i += 2)
        weft_timer_cancel(timers[i]);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal(weft_timer_join_timeout(timers[i], 30), WEFT_OK);
        weft_timer_free(timers[i]);
    }
    assert_int_equal(atomic_load(&fired_count), COUNT / 2);
    assert_int_equal(atomic_load(&order_errors), 0);
}

/* A pending non-daemon timer keeps the program alive (Python's Timer is a
 * non-daemon thread); a daemon one does not. */
static void timer_keeps_process_alive_unless_daemon(void **state)
{
    (void)state;
    char out[256];
    double seconds;
    assert_int_equal(run_helper("timer", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\ntimer fired\n");
    assert_int_equal(run_helper("daemon_timer", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\n");
    assert_true(seconds < 4);
}

/* What the program still runs at exit (threads joined, pool tasks still
 * queued) may use timers, daemon ones included: the timer threads stop
 * only once nothing is left to wait for. */
static void timer_serves_the_exit_until_its_end(void **state)
{
    (void)state;
    char out[256];
    double seconds;
    assert_int_equal(run_helper("timer_in_exit_task", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "main's timer fired\nend of main\nthe task's timer fired\n");
    assert_int_equal(run_helper("daemon_timer_wakes_thread", out, sizeof out, &seconds), 0);
    assert_string_equal(out, "end of main\nthe daemon timer rang\n");
    assert_true(seconds < 4);
}

/* The exit shuts the executors down before it waits for the non-daemon
 * timers, as Python's concurrent.futures exit callback runs before the
 * threads (Timers) are joined; whichever of the two the program used
 * first (the order used to be that of first use: a timer started before
 * the pool could still submit). */
static void timer_at_exit_finds_executors_shut_down(void **state)
{
    (void)state;
    char out[256];
    double seconds;
    const char *modes[] = {"timer_submits_timer_first", "timer_submits_pool_first"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run_helper(modes[i], out, sizeof out, &seconds), 0);
        assert_string_equal(out, "end of main\ntimer's submit: WEFT_ESHUTDOWN\n");
    }
}

static void timer_bad_input(void **state)
{
    (void)state;
    weft_timer *t = (weft_timer *)1;
    assert_int_equal(weft_timer_new(NULL, 1, fire, NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_new(&t, 1, NULL, NULL), WEFT_EINVAL);
    assert_null(t); /* out-parameters: NULL on every status but WEFT_OK */
    assert_int_equal(weft_timer_new(&t, NAN, fire, NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_new(&t, 1e100, fire, NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_start(NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_cancel(NULL), WEFT_EINVAL);
    assert_int_equal(weft_timer_join(NULL), WEFT_EINVAL);
    assert_false(weft_timer_is_alive(NULL));
    weft_timer_free(NULL);
}

/* Stress: 8 threads start and cancel timers at random moments; each timer
 * ends exactly once: fired or cancelled, never both, never neither. */
static atomic_int stress_fired;
static void stress_fire(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    atomic_fetch_add(&stress_fired, 1);
}
static atomic_int stress_errors;
static void timer_hammer(int index, void *arg)
{
    (void)arg;
    unsigned seed = (unsigned)index * 7919u + 1;
    for (int i = 0; i < 2000; i++) {
        atomic_int *count = malloc(sizeof *count);
        atomic_init(count, 0);
        weft_timer *t;
        seed = seed * 1103515245u + 12345u;
        weft_timer_new(&t, (seed >> 16) % 3 * 1e-4, stress_fire, count);
        weft_timer_start(t);
        if (seed & 0x100)
            weft_timer_cancel(t);
        weft_timer_join(t);
        if (atomic_load(count) > 1 || !weft_timer_finished(t))
            atomic_fetch_add(&stress_errors, 1);
        weft_timer_free(t);
        free(count);
    }
}

static void timer_stress_start_cancel(void **state)
{
    (void)state;
    bunch_join(bunch_start(STRESS_THREADS, timer_hammer, NULL));
    assert_int_equal(atomic_load(&stress_errors), 0);
    assert_true(atomic_load(&stress_fired) > 0);
}


/* Python's Thread.join raises RuntimeError "cannot join current thread":
 * a timer's function joining its own timer gets WEFT_ESTATE, from both
 * join forms, instead of waiting forever.  The untimed join is tried only
 * once the timed one gave WEFT_ESTATE, and the timer is a daemon, so a
 * broken join fails this test by the main thread's timeout, not a hang. */
static weft_timer *self_joiner;
static atomic_int self_join_timed_rc = -1, self_join_rc = -1;
static void join_myself(void *unused)
{
    (void)unused;
    int rc = weft_timer_join_timeout(self_joiner, 1.0);
    atomic_store(&self_join_timed_rc, rc);
    if (rc == WEFT_ESTATE)
        atomic_store(&self_join_rc, weft_timer_join(self_joiner));
}
static void timer_self_join_is_an_error(void **state)
{
    (void)state;
    assert_int_equal(weft_timer_new(&self_joiner, 0, join_myself, NULL), WEFT_OK);
    weft_timer_set_daemon(self_joiner, true);
    double t0 = weft_monotonic();
    assert_int_equal(weft_timer_start(self_joiner), WEFT_OK);
    assert_int_equal(weft_timer_join_timeout(self_joiner, 10), WEFT_OK);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    assert_int_equal(atomic_load(&self_join_timed_rc), WEFT_ESTATE);
    assert_int_equal(atomic_load(&self_join_rc), WEFT_ESTATE);
    weft_timer_free(self_joiner);
}

/* In Python each Timer is a thread of its own, so a function that blocks
 * delays no other timer.  Here one function sleeps 1 s and another waits
 * for an event that only a timer due later sets; a timer due 0.1 s after
 * start still fires on time, and the waiting function sees its event. */
static double quick_fired_at;
static void stamp_quick(void *unused)
{
    (void)unused;
    quick_fired_at = weft_monotonic();
}
static void sleep_one_second(void *unused)
{
    (void)unused;
    nap(1.0);
}
static weft_event late_event;
static atomic_int late_wait_rc = -1;
static void wait_for_late_event(void *unused)
{
    (void)unused;
    atomic_store(&late_wait_rc, weft_event_wait_timeout(&late_event, 3.0));
}
static void set_late_event(void *unused)
{
    (void)unused;
    weft_event_set(&late_event);
}
static void timer_blocking_function_delays_no_other(void **state)
{
    (void)state;
    weft_event_init(&late_event);
    weft_timer *sleeper, *waiter, *setter, *quick;
    weft_timer_new(&sleeper, 0, sleep_one_second, NULL);
    weft_timer_new(&waiter, 0, wait_for_late_event, NULL);
    weft_timer_new(&setter, 0.2, set_late_event, NULL);
    weft_timer_new(&quick, 0.1, stamp_quick, NULL);
    double t0 = weft_monotonic();
    weft_timer_start(sleeper);
    weft_timer_start(waiter);
    weft_timer_start(setter);
    weft_timer_start(quick);
    assert_int_equal(weft_timer_join_timeout(quick, 10), WEFT_OK);
    assert_true(quick_fired_at - t0 >= 0.1);
    assert_true(quick_fired_at - t0 < 0.5); /* the sleeper blocks for 1 s */
    assert_int_equal(weft_timer_join_timeout(waiter, 10), WEFT_OK);
    assert_int_equal(atomic_load(&late_wait_rc), WEFT_OK);
    assert_true(weft_monotonic() - t0 < 0.9); /* the event came at 0.2 s, not 3 s */
    assert_int_equal(weft_timer_join_timeout(sleeper, 10), WEFT_OK);
    assert_int_equal(weft_timer_join_timeout(setter, 10), WEFT_OK);
    weft_timer_free(sleeper);
    weft_timer_free(waiter);
    weft_timer_free(setter);
    weft_timer_free(quick);
    weft_event_destroy(&late_event);
}

/* A function may join a timer due after it: the later timer fires while
 * the earlier function waits (in Python both are threads). */
static weft_timer *later_timer;
static atomic_int join_later_rc = -1;
static void join_the_later_timer(void *unused)
{
    (void)unused;
    atomic_store(&join_later_rc, weft_timer_join_timeout(later_timer, 3.0));
}
static void timer_function_joins_a_later_timer(void **state)
{
    (void)state;
    weft_timer *first;
    weft_timer_new(&first, 0, join_the_later_timer, NULL);
    weft_timer_new(&later_timer, 0.1, fire, (void *)8);
    double t0 = weft_monotonic();
    weft_timer_start(later_timer); /* before `first` joins it */
    weft_timer_start(first);
    assert_int_equal(weft_timer_join_timeout(first, 10), WEFT_OK);
    assert_int_equal(atomic_load(&join_later_rc), WEFT_OK);
    assert_int_equal(atomic_load(&fired[8]), 1);
    assert_true(weft_monotonic() - t0 < 1.5);
    weft_timer_free(first);
    weft_timer_free(later_timer);
}

/* A timer started while a function blocks, with nothing else pending, also
 * fires on time: started from another thread, and started and joined by
 * the blocking function itself. */
static atomic_bool blocker_running;
static atomic_int own_timer_rc = -1;
static void start_join_then_sleep(void *unused)
{
    (void)unused;
    atomic_store(&blocker_running, true);
    weft_timer *own;
    weft_timer_new(&own, 0.05, fire, (void *)11);
    weft_timer_start(own);
    atomic_store(&own_timer_rc, weft_timer_join_timeout(own, 3.0));
    weft_timer_free(own);
    nap(1.0);
}
static void timer_started_while_a_function_blocks_fires_on_time(void **state)
{
    (void)state;
    weft_timer *blocker, *quick;
    weft_timer_new(&blocker, 0, start_join_then_sleep, NULL);
    double t0 = weft_monotonic();
    weft_timer_start(blocker);
    assert_int_equal(weft_timer_join_timeout(blocker, 0.5), WEFT_ETIMEDOUT);
    assert_true(atomic_load(&blocker_running));
    assert_int_equal(atomic_load(&own_timer_rc), WEFT_OK);
    assert_int_equal(atomic_load(&fired[11]), 1);
    weft_timer_new(&quick, 0.05, stamp_quick, NULL);
    double t1 = weft_monotonic();
    weft_timer_start(quick);
    assert_int_equal(weft_timer_join_timeout(quick, 10), WEFT_OK);
    assert_true(quick_fired_at - t1 < 0.3); /* the blocker sleeps on until t0 + 1 s */
    assert_true(weft_monotonic() - t0 < 0.95);
    assert_int_equal(weft_timer_join_timeout(blocker, 10), WEFT_OK);
    weft_timer_free(blocker);
    weft_timer_free(quick);
}

/* Stress: 600 timers due over 0.6 s, every 20th of which blocks: it sleeps
 * 1 s, or waits for a timer due 7 ms after it (for the event that timer
 * sets, or joining it).  Meanwhile another thread cancels a quarter of the
 * others around their due times.  Every function runs at most once, and
 * exactly once unless its cancel won; both outcomes of the race occur; no
 * timer fires more than 0.3 s late (the blocking functions run one after
 * another would make them seconds late). */
enum { MIX_COUNT = 600, MIX_BLOCK_EVERY = 20 };
struct mix_timer {
    weft_timer *timer;
    double due;
    double fired_at;
    atomic_int runs;
    int kind;    /* 0 quick, 1 sleeps, 2 waits for an event, 3 joins a later timer */
    int partner; /* the later timer of kinds 2 and 3 */
    weft_event event;
    bool cancelled;
};
static struct mix_timer mix[MIX_COUNT];
static atomic_int mix_block_errors;
static void mix_fire(void *arg)
{
    struct mix_timer *m = arg;
    m->fired_at = weft_monotonic();
    atomic_fetch_add(&m->runs, 1);
    weft_event_set(&m->event);
    int rc = WEFT_OK;
    if (m->kind == 1)
        nap(1.0);
    else if (m->kind == 2)
        rc = weft_event_wait_timeout(&mix[m->partner].event, 5.0);
    else if (m->kind == 3)
        rc = weft_timer_join_timeout(mix[m->partner].timer, 5.0);
    if (rc != WEFT_OK)
        atomic_fetch_add(&mix_block_errors, 1);
}
static void mix_canceller(int index, void *arg)
{
    (void)index;
    (void)arg;
    unsigned seed = 12345;
    for (int i = 0; i < MIX_COUNT; i++) {
        if (!mix[i].cancelled)
            continue;
        seed = seed * 1103515245u + 12345u;
        double wait = mix[i].due - 0.005 + (seed >> 16) % 8 * 0.001 - weft_monotonic();
        if (wait > 0)
            nap(wait);
        weft_timer_cancel(mix[i].timer);
    }
}
static void timer_stress_blocking_functions(void **state)
{
    (void)state;
    unsigned seed = 99;
    for (int i = 0; i < MIX_COUNT; i++) {
        struct mix_timer *m = &mix[i];
        m->kind = i % MIX_BLOCK_EVERY == 5 ? 1 + i / MIX_BLOCK_EVERY % 3 : 0;
        m->partner = i + 7 < MIX_COUNT ? i + 7 : i; /* kinds 2, 3: a later, quick timer */
        if (m->partner == i)
            m->kind = m->kind ? 1 : 0;
        seed = seed * 1103515245u + 12345u;
        /* Neither a blocker nor a partner of one is cancelled. */
        m->cancelled = !m->kind && (i < 7 || !mix[i - 7].kind) && ((seed >> 16) & 3) == 3;
        weft_event_init(&m->event);
        assert_int_equal(weft_timer_new(&m->timer, 0.001 * i, mix_fire, m), WEFT_OK);
    }
    double t0 = weft_monotonic();
    for (int i = 0; i < MIX_COUNT; i++) {
        mix[i].due = t0 + 0.001 * i;
        assert_int_equal(weft_timer_start(mix[i].timer), WEFT_OK);
    }
    bunch *canceller = bunch_start(1, mix_canceller, NULL);
    int cancels_won = 0, cancels_lost = 0, late_count = 0, blockers = 0;
    double worst = 0;
    for (int i = 0; i < MIX_COUNT; i++) {
        assert_int_equal(weft_timer_join_timeout(mix[i].timer, 30), WEFT_OK);
        assert_true(weft_timer_finished(mix[i].timer));
        assert_false(weft_timer_is_alive(mix[i].timer));
    }
    bunch_join(canceller);
    for (int i = 0; i < MIX_COUNT; i++) {
        struct mix_timer *m = &mix[i];
        int runs = atomic_load(&m->runs);
        assert_true(runs == 1 || (runs == 0 && m->cancelled));
        if (m->cancelled)
            runs ? cancels_lost++ : cancels_won++;
        blockers += m->kind != 0;
        double late = runs ? m->fired_at - m->due : 0;
        if (late > worst)
            worst = late;
        if (late > 0.3)
            late_count++;
        weft_timer_free(m->timer);
        weft_event_destroy(&m->event);
    }
    print_message("timer stress: %d blockers, cancels won %d lost %d, worst lateness %.3f s\n",
                  blockers, cancels_won, cancels_lost, worst);
    assert_int_equal(late_count, 0);
    assert_int_equal(atomic_load(&mix_block_errors), 0);
    /* Which way each cancel's race goes depends on the machine (under TSan
     * every one may win): the counts are printed, and what is asserted,
     * above, is that each timer ran exactly once unless its cancel won. */
}

/* After fork the child has no timer thread: the parent's pending timer is
 * not alive there (Python marks the other threads stopped), cancelling and
 * joining it return at once, a new timer fires, and the child's normal
 * exit, which waits for its own pending timer, ends. */
static int child_checks_timers(weft_timer *parents)
{
    alarm(20); /* a hang fails the test instead of stalling it */
    int code = 0;
    if (weft_timer_is_alive(parents))
        code |= 1;
    if (weft_timer_cancel(parents) != WEFT_OK)
        code |= 2;
    if (weft_timer_join_timeout(parents, 1) != WEFT_OK)
        code |= 4;
#ifdef UNDER_SANITIZER
    return code;
#endif
    weft_timer *t;
    weft_timer_new(&t, 0.01, fire, (void *)10);
    if (weft_timer_start(t) != WEFT_OK || weft_timer_join_timeout(t, 5) != WEFT_OK ||
        atomic_load(&fired[10]) != 1)
        code |= 8;
    weft_timer_free(t);
    weft_timer_new(&t, 0.05, fire, (void *)10); /* waited for by exit() */
    weft_timer_start(t);
    weft_timer_free(t);
    return code;
}
static void timer_fork_child_has_none_of_the_parents(void **state)
{
    (void)state;
    weft_timer *pending;
    weft_timer_new(&pending, 30, fire, (void *)9);
    NOT_LEAKS_IN_FORK_CHILD(weft_timer_start(pending));
    nap(0.05); /* the server thread has started and parked */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        exit(child_checks_timers(pending));
    int status = 0;
    double end = weft_monotonic() + 20;
    pid_t done;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && weft_monotonic() < end)
        nap(0.01);
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the child did not exit within 20 s");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(weft_timer_is_alive(pending)); /* the parent's is untouched */
    weft_timer_cancel(pending);
    assert_int_equal(weft_timer_join_timeout(pending, 1), WEFT_OK);
    assert_int_equal(atomic_load(&fired[9]), 0);
    weft_timer_free(pending);
}

/* Forks while other threads start timers (each start of a lone timer
 * starts a server thread, on a cached OS thread) never deadlock: no timer
 * thread is started under the lock the fork handlers take after the
 * thread cache's.  A deadlock ends the test by the alarm. */
static atomic_bool churn_stop;
static void churn_timers(int index, void *arg)
{
    (void)index;
    (void)arg;
    while (!atomic_load(&churn_stop)) {
        weft_timer *t;
        weft_timer_new(&t, 0, fire, (void *)12);
        weft_timer_start(t);
        weft_timer_join(t);
        weft_timer_free(t);
    }
}
static void timer_fork_while_timers_start(void **state)
{
    (void)state;
    bunch *churn = bunch_start(2, churn_timers, NULL);
    alarm(120);
    int forks = 0;
    for (; forks < 300; forks++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
            break;
    }
    alarm(0);
    atomic_store(&churn_stop, true);
    bunch_join(churn);
    assert_int_equal(forks, 300);
    assert_true(atomic_load(&fired[12]) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timer_each_gets_its_own_argument),
        cmocka_unit_test(timer_cancel_before_firing),
        cmocka_unit_test(timer_fires_once_after_interval),
        cmocka_unit_test(timer_cancel_after_firing_is_harmless),
        cmocka_unit_test(timer_start_twice_and_late_daemon_are_errors),
        cmocka_unit_test(timer_ten_thousand_share_one_thread),
        cmocka_unit_test(timer_keeps_process_alive_unless_daemon),
        cmocka_unit_test(timer_serves_the_exit_until_its_end),
        cmocka_unit_test(timer_at_exit_finds_executors_shut_down),
        cmocka_unit_test(timer_bad_input),
        cmocka_unit_test(timer_stress_start_cancel),
        cmocka_unit_test(timer_self_join_is_an_error),
        cmocka_unit_test(timer_blocking_function_delays_no_other),
        cmocka_unit_test(timer_function_joins_a_later_timer),
        cmocka_unit_test(timer_started_while_a_function_blocks_fires_on_time),
        cmocka_unit_test(timer_stress_blocking_functions),
        cmocka_unit_test(timer_fork_child_has_none_of_the_parents),
        cmocka_unit_test(timer_fork_while_timers_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
