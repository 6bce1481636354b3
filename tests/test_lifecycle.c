/* SPDX-License-Identifier: MIT */
/* test_lifecycle.c — the fork-hook and exit-hook registry (src/lifecycle.h)
 * used directly: hooks run by rank whatever the order they were added in,
 * and adding is safe while other threads fork. */
#include "testutil.h"

#include "lifecycle.h"

#include <unistd.h>

#ifdef UNDER_TSAN
/* TSan's fork child reports the adder threads that had ended but were not
 * yet joined when fork() copied the process as leaked (and exits 66):
 * an artefact of fork, which the child cannot join. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "report_thread_leaks=0"; }
#endif

/* ---- a log of hook calls ------------------------------------------------ */

enum { LOG_MAX = 64 };
static struct entry {
    int rank, phase; /* phase: WEFT_FORK_*, or RUN / STOP below */
} log_entries[LOG_MAX];
static _Atomic int log_size;
enum { RUN = 10, STOP = 11 };

static void log_call(int rank, int phase)
{
    int i = atomic_fetch_add(&log_size, 1);
    if (i < LOG_MAX)
        log_entries[i] = (struct entry){rank, phase};
}

/* Whether log[from, from + n) is `phase` at every rank, in rank order
 * (descending or ascending). */
static bool logged_in_order(int from, int phase, bool descending)
{
    for (int i = 0; i < WEFT_RANK_COUNT; i++) {
        int rank = descending ? WEFT_RANK_COUNT - 1 - i : i;
        if (from + i >= atomic_load(&log_size) || log_entries[from + i].rank != rank ||
            log_entries[from + i].phase != phase)
            return false;
    }
    return true;
}

#define RANKED_HOOKS(name, rank)                                                   \
    static void name##_fork(int phase) { log_call(rank, phase); }                \
    static void name##_run(void) { log_call(rank, RUN); }                        \
    static void name##_stop(void) { log_call(rank, STOP); }
static void park_fork(int phase) { log_call(WEFT_RANK_PARK, phase); }
RANKED_HOOKS(local, WEFT_RANK_LOCAL)
RANKED_HOOKS(thread, WEFT_RANK_THREAD)
RANKED_HOOKS(process, WEFT_RANK_PROCESS)
RANKED_HOOKS(timer, WEFT_RANK_TIMER)
RANKED_HOOKS(executor, WEFT_RANK_EXECUTOR)

/* ---- fork: by rank -------------------------------------------------------- */

static weft_lifecycle_hooks fork_park = WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_PARK, park_fork, NULL, NULL);
static weft_lifecycle_hooks fork_local = WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_LOCAL, local_fork, NULL, NULL);
static weft_lifecycle_hooks fork_thread = WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_THREAD, thread_fork, NULL, NULL);
static weft_lifecycle_hooks fork_process = WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_PROCESS, process_fork, NULL, NULL);
static weft_lifecycle_hooks fork_timer = WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_TIMER, timer_fork, NULL, NULL);
static weft_lifecycle_hooks fork_executor = WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_EXECUTOR, executor_fork, NULL, NULL);

/* Added in no rank order (and one twice): prepare runs from the highest
 * rank down, parent and child from the lowest up. */
static void fork_hooks_run_by_rank(void **state)
{
    (void)state;
    weft_lifecycle_hooks *order[] = {&fork_process, &fork_local, &fork_executor,
                                     &fork_thread, &fork_timer, &fork_local, &fork_park};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        assert_int_equal(weft__lifecycle_register(order[i]), WEFT_OK);
    atomic_store(&log_size, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bool ok = atomic_load(&log_size) == 2 * WEFT_RANK_COUNT &&
                  logged_in_order(0, WEFT_FORK_PREPARE, true) &&
                  logged_in_order(WEFT_RANK_COUNT, WEFT_FORK_CHILD, false);
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(atomic_load(&log_size), 2 * WEFT_RANK_COUNT);
    assert_true(logged_in_order(0, WEFT_FORK_PREPARE, true));
    assert_true(logged_in_order(WEFT_RANK_COUNT, WEFT_FORK_PARENT, false));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- exit: by rank, and hooks added during exit ------------------------------ */

static int exit_pipe[2];
static weft_lifecycle_hooks exit_executor_late =
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_EXECUTOR, NULL, executor_run, NULL);

/* The process rank's run hook first uses a module above it (as a process
 * hook cannot, but a lower module's hook might): its run hook still runs. */
static void process_run_adding(void)
{
    process_run();
    weft__lifecycle_add(&exit_executor_late);
}

/* The last hook to run writes the log to the parent. */
static void local_stop_reporting(void)
{
    local_stop();
    int n = atomic_load(&log_size);
    if (write(exit_pipe[1], log_entries, (size_t)n * sizeof *log_entries) < 0)
        _exit(3);
}

static weft_lifecycle_hooks exit_hooks[] = {
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_THREAD, NULL, thread_run, thread_stop),
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_LOCAL, NULL, local_run, local_stop_reporting),
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_TIMER, NULL, timer_run, timer_stop),
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_PROCESS, NULL, process_run_adding, process_stop),
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_EXECUTOR, NULL, executor_run, executor_stop),
};

/* A child adds exit hooks in no rank order and exits: every run hook runs,
 * highest rank first, then every stop hook in the same order. */
static void exit_hooks_run_by_rank(void **state)
{
    (void)state;
    assert_int_equal(pipe(exit_pipe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(exit_pipe[0]);
        atomic_store(&log_size, 0);
        for (size_t i = 0; i < sizeof exit_hooks / sizeof *exit_hooks; i++)
            if (weft__lifecycle_register(&exit_hooks[i]) != WEFT_OK)
                _exit(2);
        exit(0);
    }
    close(exit_pipe[1]);
    struct entry got[LOG_MAX];
    size_t have = 0;
    for (ssize_t n; (n = read(exit_pipe[0], (char *)got + have, sizeof got - have)) > 0;)
        have += (size_t)n;
    close(exit_pipe[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    static const struct entry expected[] = {
        {WEFT_RANK_EXECUTOR, RUN}, {WEFT_RANK_TIMER, RUN}, {WEFT_RANK_PROCESS, RUN},
        {WEFT_RANK_THREAD, RUN},   {WEFT_RANK_LOCAL, RUN},
        {WEFT_RANK_EXECUTOR, RUN}, /* the late one, in a further pass */
        {WEFT_RANK_EXECUTOR, STOP}, {WEFT_RANK_TIMER, STOP}, {WEFT_RANK_PROCESS, STOP},
        {WEFT_RANK_THREAD, STOP},   {WEFT_RANK_LOCAL, STOP},
    };
    size_t n = sizeof expected / sizeof *expected;
    assert_int_equal(have, n * sizeof *got);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].rank, expected[i].rank);
        assert_int_equal(got[i].phase, expected[i].phase);
    }
}

/* ---- adding during a fork ------------------------------------------------------ */

static _Atomic bool hold_fork, in_prepare, adder_started, parent_done, fork_over_when_added;

static void holding_fork(int phase)
{
    if (!atomic_load(&hold_fork))
        return;
    if (phase == WEFT_FORK_PREPARE) {
        atomic_store(&in_prepare, true);
        wait_until(atomic_load(&adder_started), 10.0);
        nap(0.05); /* the adder is inside weft__lifecycle_add now */
    } else if (phase == WEFT_FORK_PARENT) {
        atomic_store(&parent_done, true);
    }
}

static weft_lifecycle_hooks holder =
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_LOCAL, holding_fork, NULL, NULL);
static weft_lifecycle_hooks added_during_fork =
    WEFT_LIFECYCLE_HOOKS_INIT(WEFT_RANK_TIMER, NULL, NULL, NULL);

static void add_during_fork(int index, void *arg)
{
    (void)index, (void)arg;
    wait_until(atomic_load(&in_prepare), 10.0);
    atomic_store(&adder_started, true);
    weft__lifecycle_add(&added_during_fork);
    atomic_store(&fork_over_when_added, atomic_load(&parent_done));
}

/* A module's first use while another thread forks: adding returns only once
 * the fork is over, so the module cannot take its lock between a prepare
 * phase that did not know it and the fork. */
static void adding_waits_for_a_fork_under_way(void **state)
{
    (void)state;
    assert_int_equal(weft__lifecycle_register(&holder), WEFT_OK);
    atomic_store(&hold_fork, true);
    bunch *b = bunch_start(1, add_during_fork, NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    atomic_store(&hold_fork, false);
    bunch_join(b);
    assert_true(pid > 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(atomic_load(&adder_started));
    assert_true(atomic_load(&fork_over_when_added));
}

/* ---- many adders while forking --------------------------------------------- */

/* Records of every rank, each added by two threads at once, while the main
 * thread forks.  Counted per rank: each fork's parent and child phases
 * call exactly the records its prepare phase called, no record is lost or
 * linked twice, and the ranks stay in order. */
enum { ADDERS = 4, RECORDS = 14 * WEFT_RANK_COUNT, FORKS = 30 };
static weft_lifecycle_hooks records[RECORDS];
static _Atomic int prepared[WEFT_RANK_COUNT], parented[WEFT_RANK_COUNT];
static int childed[WEFT_RANK_COUNT];
static _Atomic int last_prepare_rank = WEFT_RANK_COUNT;
static _Atomic bool out_of_order;

static void count_call(int rank, int phase)
{
    if (phase == WEFT_FORK_PREPARE) {
        if (rank > atomic_exchange(&last_prepare_rank, rank))
            atomic_store(&out_of_order, true);
        atomic_fetch_add(&prepared[rank], 1);
    } else if (phase == WEFT_FORK_PARENT) {
        atomic_fetch_add(&parented[rank], 1);
    } else {
        childed[rank]++;
    }
}

#define COUNTING(rank)                                                              \
    static void count_##rank(int phase) { count_call(rank, phase); }
COUNTING(0)
COUNTING(1)
COUNTING(2)
COUNTING(3)
COUNTING(4)
COUNTING(5)
static void (*const counters[WEFT_RANK_COUNT])(int) = {count_0, count_1, count_2, count_3,
                                                       count_4, count_5};

/* Adder i adds the records of its half of the table, in a stride that
 * another adder shares. */
static void add_records(int index, void *arg)
{
    (void)arg;
    for (int i = index / 2; i < RECORDS; i += ADDERS / 2)
        weft__lifecycle_add(&records[i]);
}

static void fork_and_check(void)
{
    atomic_store(&last_prepare_rank, WEFT_RANK_COUNT);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bool ok = true;
        for (int r = 0; r < WEFT_RANK_COUNT; r++)
            ok = ok && prepared[r] == parented[r] + childed[r];
        _exit(ok ? 0 : 1);
    }
    for (int r = 0; r < WEFT_RANK_COUNT; r++)
        assert_int_equal(atomic_load(&prepared[r]), atomic_load(&parented[r]));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void adding_while_forking(void **state)
{
    (void)state;
    for (int i = 0; i < RECORDS; i++)
        records[i] = (weft_lifecycle_hooks)WEFT_LIFECYCLE_HOOKS_INIT(
            i % WEFT_RANK_COUNT, counters[i % WEFT_RANK_COUNT], NULL, NULL);
    assert_int_equal(weft__lifecycle_install(), WEFT_OK);
    bunch *b = bunch_start(ADDERS, add_records, NULL);
    for (int f = 0; f < FORKS; f++)
        fork_and_check();
    bunch_join(b);
    assert_false(atomic_load(&out_of_order));

    int before[WEFT_RANK_COUNT];
    for (int r = 0; r < WEFT_RANK_COUNT; r++)
        before[r] = atomic_load(&prepared[r]);
    fork_and_check(); /* every record, once */
    for (int r = 0; r < WEFT_RANK_COUNT; r++)
        assert_int_equal(atomic_load(&prepared[r]) - before[r], RECORDS / WEFT_RANK_COUNT);
    assert_false(atomic_load(&out_of_order));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fork_hooks_run_by_rank),
        cmocka_unit_test(exit_hooks_run_by_rank),
        cmocka_unit_test(adding_waits_for_a_fork_under_way),
        cmocka_unit_test(adding_while_forking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
