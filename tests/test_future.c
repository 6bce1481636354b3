/* SPDX-License-Identifier: MIT */
/* test_future.c — weft_future, weft_wait and as_completed against
 * the Python behaviours (docs/python.md) "Future", "wait" and "as_completed".  Futures here are
 * completed by hand or by helper threads; the executor tests cover them
 * coming from pools. */
#include "testutil.h"

static char text[256];

static weft_future *fresh(void)
{
    weft_future *f = NULL;
    assert_int_equal(weft_future_new(&f), WEFT_OK);
    return f;
}

static weft_future *in_state(weft_future_state s)
{
    weft_future *f = fresh();
    switch (s) {
    case WEFT_FUTURE_PENDING:
        break;
    case WEFT_FUTURE_RUNNING:
        weft_future_set_running_or_notify_cancel(f);
        break;
    case WEFT_FUTURE_CANCELLED:
        weft_future_cancel(f);
        break;
    case WEFT_FUTURE_CANCELLED_AND_NOTIFIED:
        weft_future_cancel(f);
        weft_future_set_running_or_notify_cancel(f);
        break;
    case WEFT_FUTURE_FINISHED:
        weft_future_set_result(f, (void *)42);
        break;
    }
    assert_int_equal(weft_future_get_state(f), s);
    return f;
}

static weft_future *failed(void)
{
    weft_future *f = fresh();
    weft_future_set_exception(f, WEFT_EINVAL, "bad value %d", 7);
    return f;
}

/* Future 1 [cf.test_future.FutureTests.test_repr] */
static void future_new_is_pending(void **state)
{
    (void)state;
    weft_future *f = fresh();
    assert_false(weft_future_done(f));
    assert_false(weft_future_running(f));
    assert_false(weft_future_cancelled(f));
    assert_non_null(strstr(REPR(weft_future_repr, f, text), "<weft_future at 0x"));
    assert_non_null(strstr(text, "state=pending>"));
    weft_future_release(f);
}

/* Future 2 [cf.test_future.FutureTests.test_cancelled, test_done, test_running, test_repr] */
static void future_flags_and_repr_by_state(void **state)
{
    (void)state;
    weft_future *r = in_state(WEFT_FUTURE_RUNNING), *c = in_state(WEFT_FUTURE_CANCELLED),
                *cn = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED),
                *ok = in_state(WEFT_FUTURE_FINISHED), *bad = failed();
    assert_true(weft_future_running(r) && !weft_future_done(r) && !weft_future_cancelled(r));
    assert_non_null(strstr(REPR(weft_future_repr, r, text), "state=running>"));
    for (int i = 0; i < 2; i++) {
        weft_future *x = i ? cn : c;
        assert_true(weft_future_done(x) && weft_future_cancelled(x) && !weft_future_running(x));
        assert_non_null(strstr(REPR(weft_future_repr, x, text), "state=cancelled>"));
    }
    assert_true(weft_future_done(ok) && !weft_future_cancelled(ok) && !weft_future_running(ok));
    assert_non_null(strstr(REPR(weft_future_repr, ok, text), "state=finished returned 0x2a>"));
    assert_non_null(strstr(REPR(weft_future_repr, bad, text),
                           "state=finished raised WEFT_EINVAL: bad value 7>"));
    weft_future *all[] = {r, c, cn, ok, bad};
    for (int i = 0; i < 5; i++)
        weft_future_release(all[i]);
}

/* Future 3 [cf.test_future.FutureTests.test_cancel] */
static void future_cancel_by_state(void **state)
{
    (void)state;
    weft_future *p = in_state(WEFT_FUTURE_PENDING), *r = in_state(WEFT_FUTURE_RUNNING),
                *c = in_state(WEFT_FUTURE_CANCELLED),
                *cn = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED),
                *ok = in_state(WEFT_FUTURE_FINISHED), *bad = failed();
    assert_true(weft_future_cancel(p));
    assert_int_equal(weft_future_get_state(p), WEFT_FUTURE_CANCELLED);
    assert_false(weft_future_cancel(r));
    assert_int_equal(weft_future_get_state(r), WEFT_FUTURE_RUNNING);
    assert_true(weft_future_cancel(c));
    assert_int_equal(weft_future_get_state(c), WEFT_FUTURE_CANCELLED);
    assert_true(weft_future_cancel(cn));
    assert_int_equal(weft_future_get_state(cn), WEFT_FUTURE_CANCELLED_AND_NOTIFIED);
    assert_false(weft_future_cancel(ok));
    assert_false(weft_future_cancel(bad));
    weft_future *all[] = {p, r, c, cn, ok, bad};
    for (int i = 0; i < 6; i++)
        weft_future_release(all[i]);
}

/* Future 4 [cf.test_future.FutureTests.test_result_with_timeout] */
static void future_result_with_zero_timeout(void **state)
{
    (void)state;
    void *result = NULL;
    weft_future *p = in_state(WEFT_FUTURE_PENDING), *r = in_state(WEFT_FUTURE_RUNNING),
                *c = in_state(WEFT_FUTURE_CANCELLED),
                *cn = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED),
                *ok = in_state(WEFT_FUTURE_FINISHED), *bad = failed();
    assert_int_equal(weft_future_result_timeout(p, 0, &result), WEFT_ETIMEDOUT);
    assert_int_equal(weft_future_result_timeout(r, 0, &result), WEFT_ETIMEDOUT);
    assert_int_equal(weft_future_result_timeout(c, 0, &result), WEFT_ECANCELLED);
    assert_int_equal(weft_future_result_timeout(cn, 0, &result), WEFT_ECANCELLED);
    assert_int_equal(weft_future_result_timeout(bad, 0, &result), WEFT_EFAILED);
    assert_int_equal(weft_future_error_code(bad), WEFT_EINVAL);
    assert_string_equal(weft_future_error_message(bad), "bad value 7");
    assert_int_equal(weft_future_result_timeout(ok, 0, &result), WEFT_OK);
    assert_ptr_equal(result, (void *)42);
    double t0 = weft_monotonic();
    assert_int_equal(weft_future_result_timeout(p, -1, &result), WEFT_ETIMEDOUT);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    assert_int_equal(weft_future_result_timeout(p, NAN, &result), WEFT_EINVAL);
    weft_future *all[] = {p, r, c, cn, ok, bad};
    for (int i = 0; i < 6; i++)
        weft_future_release(all[i]);
}

/* Future 5 [cf.test_future.FutureTests.test_exception_with_timeout] */
static void future_exception_with_zero_timeout(void **state)
{
    (void)state;
    int code = -1;
    const char *message = NULL;
    weft_future *p = in_state(WEFT_FUTURE_PENDING), *r = in_state(WEFT_FUTURE_RUNNING),
                *c = in_state(WEFT_FUTURE_CANCELLED), *ok = in_state(WEFT_FUTURE_FINISHED),
                *bad = failed();
    assert_int_equal(weft_future_exception_timeout(p, 0, &code, &message), WEFT_ETIMEDOUT);
    assert_int_equal(weft_future_exception_timeout(r, 0, &code, &message), WEFT_ETIMEDOUT);
    assert_int_equal(weft_future_exception_timeout(c, 0, &code, &message), WEFT_ECANCELLED);
    assert_int_equal(weft_future_exception_timeout(bad, 0, &code, &message), WEFT_OK);
    assert_int_equal(code, WEFT_EINVAL);
    assert_string_equal(message, "bad value 7");
    assert_int_equal(weft_future_exception_timeout(ok, 0, &code, &message), WEFT_OK);
    assert_int_equal(code, 0); /* None */
    weft_future *all[] = {p, r, c, ok, bad};
    for (int i = 0; i < 5; i++)
        weft_future_release(all[i]);
}

/* Out-parameters [future.h]: on every status but WEFT_OK, result() and
 * exception() leave NULL (and code 0) in what they were given, so a loop
 * never sees a stale value from an earlier call.  Before, they were left
 * as they were. */
#define STALE ((void *)&text)
static void future_out_parameters_on_every_status(void **state)
{
    (void)state;
    weft_future *p = in_state(WEFT_FUTURE_PENDING), *c = in_state(WEFT_FUTURE_CANCELLED),
                *bad = failed();
    struct {
        weft_future *f;
        double timeout;
        int rc;
    } cases[] = {
        {p, 0, WEFT_ETIMEDOUT},   {p, NAN, WEFT_EINVAL},     {c, 0, WEFT_ECANCELLED},
        {bad, 0, WEFT_EFAILED},   {NULL, 0, WEFT_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *r = STALE;
        assert_int_equal(weft_future_result_timeout(cases[i].f, cases[i].timeout, &r),
                         cases[i].rc);
        assert_null(r);
        if (cases[i].rc == WEFT_EFAILED)
            continue; /* exception() succeeds on it: see below */
        int code = -1;
        const char *message = STALE;
        assert_int_equal(weft_future_exception_timeout(cases[i].f, cases[i].timeout, &code,
                                                       &message),
                         cases[i].rc);
        assert_int_equal(code, 0);
        assert_null(message);
    }
    void *r = STALE;
    assert_int_equal(weft_future_result(c, &r), WEFT_ECANCELLED);
    assert_null(r);
    r = STALE;
    assert_int_equal(weft_future_result(bad, &r), WEFT_EFAILED);
    assert_null(r);
    int code = -1;
    const char *message = STALE;
    assert_int_equal(weft_future_exception(c, &code, &message), WEFT_ECANCELLED);
    assert_int_equal(code, 0);
    assert_null(message);
    assert_int_equal(weft_future_exception(NULL, &code, &message), WEFT_EINVAL);
    /* weft_wait: done[] says "not done" when the wait could not be made */
    bool done[2] = {true, true};
    weft_future *with_null[] = {bad, NULL};
    assert_int_equal(weft_wait(with_null, 2, 0, WEFT_ALL_COMPLETED, done), WEFT_EINVAL);
    assert_false(done[0]);
    assert_false(done[1]);
    weft_as_completed *it = STALE;
    assert_int_equal(weft_as_completed_new(&it, with_null, 2, 0), WEFT_EINVAL);
    assert_null(it);
    weft_future_release(p);
    weft_future_release(c);
    weft_future_release(bad);
}

/* Future 5 [cf.test_future.FutureTests.test_exception_with_success]:
 * exception() without a timeout waits for the outcome. */
static void future_exception_waits_forever(void **state)
{
    (void)state;
    weft_future *ok = in_state(WEFT_FUTURE_FINISHED), *bad = failed();
    int code = -1;
    const char *message = STALE;
    assert_int_equal(weft_future_exception(ok, &code, &message), WEFT_OK);
    assert_int_equal(code, 0); /* None */
    assert_null(message);
    assert_int_equal(weft_future_exception(bad, &code, &message), WEFT_OK);
    assert_int_equal(code, WEFT_EINVAL);
    assert_string_equal(message, "bad value 7");
    assert_int_equal(weft_future_exception(bad, NULL, NULL), WEFT_OK);
    weft_future_release(ok);
    weft_future_release(bad);
}

struct late {
    int kind;
    weft_future *f;
};
static void *late_completer(void *arg)
{
    struct late *l = arg;
    nap(0.2);
    if (l->kind == 0)
        weft_future_set_result(l->f, (void *)42);
    else if (l->kind == 1)
        weft_future_set_exception(l->f, WEFT_EAGAIN, "late failure");
    else
        weft_future_cancel(l->f);
    return NULL;
}

/* Future 6, 7 [cf.test_future.FutureTests.test_result_with_success,
 * test_exception_with_success, test_result_with_cancel] */
static void future_waiters_see_late_outcomes(void **state)
{
    (void)state;
    int expected[] = {WEFT_OK, WEFT_EFAILED, WEFT_ECANCELLED};
    for (int kind = 0; kind < 3; kind++) {
        struct late l = {kind, fresh()};
        pthread_t t;
        pthread_create(&t, NULL, late_completer, &l);
        void *result = NULL;
        int rc = weft_future_result_timeout(l.f, 5, &result);
        assert_int_equal(rc, expected[kind]);
        if (kind == 0)
            assert_ptr_equal(result, (void *)42);
        pthread_join(t, NULL);
        if (kind == 1) { /* exception() of a failed future */
            int code;
            assert_int_equal(weft_future_exception_timeout(l.f, 5, &code, NULL), WEFT_OK);
            assert_int_equal(code, WEFT_EAGAIN);
        }
        weft_future_release(l.f);
    }
    /* exception() without a timeout waits for a late failure */
    struct late l = {1, fresh()};
    pthread_t t;
    pthread_create(&t, NULL, late_completer, &l);
    int code = 0;
    const char *message = NULL;
    assert_int_equal(weft_future_exception(l.f, &code, &message), WEFT_OK);
    assert_int_equal(code, WEFT_EAGAIN);
    assert_string_equal(message, "late failure");
    pthread_join(t, NULL);
    weft_future_release(l.f);
}

/* Future 8, 9 [cf.test_future.FutureTests.test_multiple_set_result,
 * test_multiple_set_exception; probe] */
static void future_second_completion_is_invalid_state(void **state)
{
    (void)state;
    weft_future *f = fresh();
    void *result;
    assert_int_equal(weft_future_set_result(f, (void *)1), WEFT_OK);
    assert_int_equal(weft_future_set_result(f, (void *)2), WEFT_ESTATE);
    assert_int_equal(weft_future_set_exception(f, WEFT_EINVAL, "x"), WEFT_ESTATE);
    weft_future_result(f, &result);
    assert_ptr_equal(result, (void *)1);
    weft_future_release(f);

    f = fresh();
    assert_int_equal(weft_future_set_exception(f, WEFT_EINVAL, "first"), WEFT_OK);
    assert_int_equal(weft_future_set_exception(f, WEFT_EAGAIN, "second"), WEFT_ESTATE);
    assert_string_equal(weft_future_error_message(f), "first");
    weft_future_release(f);

    f = in_state(WEFT_FUTURE_CANCELLED);
    assert_int_equal(weft_future_set_result(f, NULL), WEFT_ESTATE);
    assert_int_equal(weft_future_set_exception(f, WEFT_EINVAL, NULL), WEFT_ESTATE);
    assert_int_equal(weft_future_set_exception(f, 0, NULL), WEFT_EINVAL); /* code 0 is no error */
    weft_future_release(f);
}

/* Future 10 [doc, probe] */
static void future_set_running_or_notify_cancel(void **state)
{
    (void)state;
    weft_future *p = fresh(), *c = in_state(WEFT_FUTURE_CANCELLED);
    assert_int_equal(weft_future_set_running_or_notify_cancel(p), WEFT_OK);
    assert_true(weft_future_running(p));
    assert_int_equal(weft_future_set_running_or_notify_cancel(p), WEFT_ESTATE);
    assert_int_equal(weft_future_set_running_or_notify_cancel(c), WEFT_ECANCELLED);
    assert_int_equal(weft_future_get_state(c), WEFT_FUTURE_CANCELLED_AND_NOTIFIED);
    assert_int_equal(weft_future_set_running_or_notify_cancel(c), WEFT_ESTATE);
    weft_future_set_result(p, NULL);
    assert_int_equal(weft_future_set_running_or_notify_cancel(p), WEFT_ESTATE);
    weft_future_release(p);
    weft_future_release(c);
}

static int calls;
static int order[8];
static bool saw_cancelled;
static void record(weft_future *f, void *arg)
{
    order[calls++] = (int)(intptr_t)arg;
    saw_cancelled = weft_future_cancelled(f);
}

/* Future 11 [cf.test_future.FutureTests.test_done_callback_with_result,
 * _with_exception, _with_cancel] and 14 (in order) */
static void future_callbacks_run_once_in_order(void **state)
{
    (void)state;
    for (int how = 0; how < 3; how++) {
        weft_future *f = fresh();
        calls = 0;
        for (int i = 0; i < 3; i++)
            weft_future_add_done_callback(f, record, (void *)(intptr_t)(i + 1));
        assert_int_equal(calls, 0);
        if (how == 0)
            weft_future_set_result(f, (void *)5);
        else if (how == 1)
            weft_future_set_exception(f, WEFT_EINVAL, "boom");
        else
            weft_future_cancel(f);
        assert_int_equal(calls, 3);
        assert_int_equal(order[0], 1);
        assert_int_equal(order[1], 2);
        assert_int_equal(order[2], 3);
        assert_int_equal(saw_cancelled, how == 2);
        weft_future_set_result(f, NULL); /* no second run */
        assert_int_equal(calls, 3);
        weft_future_release(f);
    }
}

/* Future 12 [cf.test_future.FutureTests.test_done_callback_already_successful,
 * _already_failed, _already_cancelled] */
static void future_callback_on_done_future_runs_at_once(void **state)
{
    (void)state;
    weft_future *done[] = {in_state(WEFT_FUTURE_FINISHED), failed(),
                           in_state(WEFT_FUTURE_CANCELLED)};
    for (int i = 0; i < 3; i++) {
        calls = 0;
        assert_int_equal(weft_future_add_done_callback(done[i], record, (void *)9), WEFT_OK);
        assert_int_equal(calls, 1);
        weft_future_release(done[i]);
    }
}

/* Future 13 [cf.test_future.FutureTests.test_done_callback_raises]: in C a
 * callback cannot raise; one that fails in its own way cannot break the
 * future or the callbacks after it.  What we check: a callback that
 * releases its own reference and one that completes another future both
 * leave the rest running. */
static weft_future *chained;
static void complete_chained(weft_future *f, void *arg)
{
    (void)f;
    (void)arg;
    weft_future_set_result(chained, (void *)7);
}
static void future_callbacks_may_use_futures(void **state)
{
    (void)state;
    weft_future *f = fresh();
    chained = fresh();
    calls = 0;
    weft_future_add_done_callback(f, complete_chained, NULL);
    weft_future_add_done_callback(f, record, (void *)1);
    weft_future_add_done_callback(chained, record, (void *)2);
    weft_future_set_result(f, NULL);
    assert_int_equal(calls, 2);
    assert_int_equal(order[0], 2); /* chained's callback ran inside the first */
    assert_int_equal(order[1], 1);
    assert_true(weft_future_done(chained));
    weft_future_release(f);
    weft_future_release(chained);
}

/* Future 15 [cf.executor.ExecutorTest.test_swallows_falsey_exceptions]: an
 * error is an error whatever its message (even none). */
static void future_error_without_message_still_fails(void **state)
{
    (void)state;
    weft_future *f = fresh();
    weft_future_set_exception(f, WEFT_ECANCELLED, NULL);
    assert_int_equal(weft_future_result(f, NULL), WEFT_EFAILED);
    assert_string_equal(weft_future_error_message(f), "");
    weft_future_release(f);
}

/* Future 16 [doc]: the statuses stand for the exception classes. */
static void future_statuses_name_the_exceptions(void **state)
{
    (void)state;
    assert_string_equal(weft_status_name(WEFT_ECANCELLED), "WEFT_ECANCELLED");
    assert_string_equal(weft_status_name(WEFT_ETIMEDOUT), "WEFT_ETIMEDOUT");
    assert_string_equal(weft_status_name(WEFT_EBROKEN), "WEFT_EBROKEN");
    assert_string_equal(weft_status_name(WEFT_ESTATE), "WEFT_ESTATE");
}

/* weft_fail and weft_cancelled outside a task. */
static void fail_outside_a_task_only_returns_the_marker(void **state)
{
    (void)state;
    assert_ptr_equal(weft_fail(WEFT_EINVAL, "x"), WEFT_FAILED);
    assert_false(weft_cancelled());
}

static void future_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_future_new(NULL), WEFT_EINVAL);
    assert_int_equal(weft_future_result(NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_future_set_result(NULL, NULL), WEFT_EINVAL);
    assert_int_equal(weft_future_add_done_callback(NULL, record, NULL), WEFT_EINVAL);
    assert_int_equal(weft_future_set_running_or_notify_cancel(NULL), WEFT_EINVAL);
    assert_false(weft_future_cancel(NULL));
    assert_false(weft_future_done(NULL));
    weft_future_release(NULL);
    weft_future *f = fresh();
    assert_int_equal(weft_future_add_done_callback(f, NULL, NULL), WEFT_EINVAL);
    weft_future_release(f);
}

/* ---- wait --------------------------------------------------------------- */

/* A helper thread that completes futures on cue: "fast" ones at once,
 * "blocked" ones only when the test says. */
static weft_event release_blocked = WEFT_EVENT_INIT;
struct plan {
    weft_future *f;
    int action; /* 0 succeed now, 1 fail now, 2 succeed when released */
};
static void *carry_out(void *arg)
{
    struct plan *p = arg;
    weft_future_set_running_or_notify_cancel(p->f);
    if (p->action == 2)
        weft_event_wait(&release_blocked);
    if (p->action == 1)
        weft_future_set_exception(p->f, WEFT_EINVAL, "failed");
    else
        weft_future_set_result(p->f, NULL);
    return NULL;
}

static pthread_t start_plan(struct plan *p)
{
    pthread_t t;
    pthread_create(&t, NULL, carry_out, p);
    return t;
}

/* wait 1, 10 [cf.test_wait.WaitTests.test_20369; probe] */
static void wait_duplicates_and_empty(void **state)
{
    (void)state;
    weft_future *f = in_state(WEFT_FUTURE_FINISHED);
    weft_future *twice[] = {f, f};
    bool done[2] = {false, false};
    assert_int_equal(weft_wait(twice, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), WEFT_OK);
    assert_true(done[0] && done[1]);
    assert_int_equal(weft_wait(NULL, 0, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    weft_future *p = fresh();
    bool d;
    assert_int_equal(weft_wait(&p, 1, 0, WEFT_ALL_COMPLETED, &d), WEFT_ETIMEDOUT);
    assert_false(d);
    weft_future_release(f);
    weft_future_release(p);
}

/* wait 2 [cf.test_wait.WaitTests.test_first_completed] */
static void wait_first_completed_ignores_bare_cancelled(void **state)
{
    (void)state;
    weft_event_clear(&release_blocked);
    struct plan fast = {fresh(), 0}, blocked = {fresh(), 2};
    weft_future *cancelled = in_state(WEFT_FUTURE_CANCELLED);
    pthread_t t1 = start_plan(&blocked);
    nap(0.02);
    pthread_t t2 = start_plan(&fast);
    weft_future *fs[] = {cancelled, fast.f, blocked.f};
    bool done[3];
    assert_int_equal(weft_wait(fs, 3, 5, WEFT_FIRST_COMPLETED, done), WEFT_OK);
    assert_false(done[0]);
    assert_true(done[1]);
    assert_false(done[2]);
    weft_event_set(&release_blocked);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    weft_future_release(fast.f);
    weft_future_release(blocked.f);
    weft_future_release(cancelled);
}

/* wait 3 [cf.test_wait.WaitTests.test_first_completed_some_already_completed,
 * test_first_exception_one_already_failed] */
static void wait_returns_at_once_when_already_satisfied(void **state)
{
    (void)state;
    weft_future *cn = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED),
                *ok = in_state(WEFT_FUTURE_FINISHED), *bad = failed(), *p = fresh();
    weft_future *fs[] = {cn, ok, p};
    bool done[3];
    double t0 = weft_monotonic();
    assert_int_equal(weft_wait(fs, 3, 5, WEFT_FIRST_COMPLETED, done), WEFT_OK);
    assert_true(done[0] && done[1] && !done[2]);
    weft_future *gs[] = {bad, p};
    assert_int_equal(weft_wait(gs, 2, 5, WEFT_FIRST_EXCEPTION, done), WEFT_OK);
    assert_true(done[0] && !done[1]);
    assert_true(weft_monotonic() - t0 < IMMEDIATE);
    weft_future *all[] = {cn, ok, bad, p};
    for (int i = 0; i < 4; i++)
        weft_future_release(all[i]);
}

/* wait 4, 5 [cf.test_wait.WaitTests.test_first_exception,
 * test_first_exception_some_already_complete] */
static void wait_first_exception(void **state)
{
    (void)state;
    weft_event_clear(&release_blocked);
    struct plan ok = {fresh(), 0}, failing = {fresh(), 1}, blocked = {fresh(), 2};
    weft_future *cancelled = in_state(WEFT_FUTURE_CANCELLED),
                *notified = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED);
    pthread_t t0 = start_plan(&ok);
    pthread_join(t0, NULL);
    pthread_t t1 = start_plan(&blocked);
    pthread_t t2 = start_plan(&failing);
    weft_future *fs[] = {ok.f, cancelled, notified, failing.f, blocked.f};
    bool done[5];
    assert_int_equal(weft_wait(fs, 5, 5, WEFT_FIRST_EXCEPTION, done), WEFT_OK);
    assert_true(done[0] && !done[1] && done[2] && done[3] && !done[4]);
    weft_event_set(&release_blocked);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    weft_future *all[] = {ok.f, failing.f, blocked.f, cancelled, notified};
    for (int i = 0; i < 5; i++)
        weft_future_release(all[i]);
}

/* wait 6 [doc, probe]: no failure: FIRST_EXCEPTION waits like ALL_COMPLETED;
 * a cancelled future is not an exception. */
static void wait_first_exception_without_failure_waits_for_all(void **state)
{
    (void)state;
    weft_future *notified = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED), *p = fresh();
    weft_future *fs[] = {notified, p};
    double t0 = weft_monotonic();
    assert_int_equal(weft_wait(fs, 2, 0.1, WEFT_FIRST_EXCEPTION, NULL), WEFT_ETIMEDOUT);
    assert_timeout(weft_monotonic() - t0, 0.1);
    weft_future_release(notified);
    weft_future_release(p);
}

/* wait 7, 8 [cf.test_wait.WaitTests.test_all_completed, test_timeout] */
static void wait_all_completed_and_timeout(void **state)
{
    (void)state;
    struct plan a = {fresh(), 1}, b = {fresh(), 0};
    weft_future *ok = in_state(WEFT_FUTURE_FINISHED),
                *notified = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED), *bad = failed();
    pthread_t t1 = start_plan(&a), t2 = start_plan(&b);
    weft_future *fs[] = {ok, notified, bad, a.f, b.f};
    bool done[5];
    assert_int_equal(weft_wait(fs, 5, 5, WEFT_ALL_COMPLETED, done), WEFT_OK);
    for (int i = 0; i < 5; i++)
        assert_true(done[i]);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);

    weft_event_clear(&release_blocked);
    struct plan blocked = {fresh(), 2};
    pthread_t t3 = start_plan(&blocked);
    weft_future *gs[] = {ok, notified, bad, blocked.f};
    double t0 = weft_monotonic();
    assert_int_equal(weft_wait(gs, 4, 0.05, WEFT_ALL_COMPLETED, done), WEFT_ETIMEDOUT);
    assert_timeout(weft_monotonic() - t0, 0.05);
    assert_true(done[0] && done[1] && done[2] && !done[3]);
    weft_event_set(&release_blocked);
    pthread_join(t3, NULL);
    weft_future *all[] = {a.f, b.f, ok, notified, bad, blocked.f};
    for (int i = 0; i < 6; i++)
        weft_future_release(all[i]);
}

/* wait 9 [cf.test_wait.ThreadPoolWaitTests.test_pending_calls_race]: 100
 * futures completing together; no lost wake-up. */
static weft_future *race[100];
static void complete_share(int index, void *arg)
{
    (void)arg;
    for (int i = index; i < 100; i += 4)
        weft_future_set_result(race[i], NULL);
}
static void wait_many_completing_together(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 100; i++)
            race[i] = fresh();
        bunch *b = bunch_start(4, complete_share, NULL);
        assert_int_equal(weft_wait(race, 100, 30, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
        bunch_join(b);
        for (int i = 0; i < 100; i++)
            weft_future_release(race[i]);
    }
}

/* wait 11 [probe, src] */
static void wait_invalid_return_when_only_when_waiting(void **state)
{
    (void)state;
    weft_future *ok = in_state(WEFT_FUTURE_FINISHED), *p = fresh();
    assert_int_equal(weft_wait(&ok, 1, 1, (weft_return_when)42, NULL), WEFT_OK);
    assert_int_equal(weft_wait(&p, 1, 1, (weft_return_when)42, NULL), WEFT_EINVAL);
    weft_future *null_entry[] = {ok, NULL};
    assert_int_equal(weft_wait(null_entry, 2, 1, WEFT_ALL_COMPLETED, NULL), WEFT_EINVAL);
    assert_int_equal(weft_wait(NULL, 3, 1, WEFT_ALL_COMPLETED, NULL), WEFT_EINVAL);
    weft_future_release(ok);
    weft_future_release(p);
}

/* ---- as_completed ------------------------------------------------------------- */

/* as_completed 1, 3, 4 [cf.test_as_completed.AsCompletedTests.test_no_timeout,
 * test_duplicate_futures; doc] */
static void as_completed_yields_each_once(void **state)
{
    (void)state;
    struct plan a = {fresh(), 0}, b = {fresh(), 1};
    weft_future *cn = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED), *bad = failed(),
                *ok = in_state(WEFT_FUTURE_FINISHED);
    weft_as_completed *it;
    weft_future *fs[] = {a.f, cn, bad, ok, b.f, ok, ok};
    assert_int_equal(weft_as_completed_new(&it, fs, 7, WEFT_FOREVER), WEFT_OK);
    assert_int_equal(weft_as_completed_total(it), 5);
    /* the three already done come first */
    for (int i = 0; i < 3; i++) {
        weft_future *f;
        assert_int_equal(weft_as_completed_next(it, &f), WEFT_OK);
        assert_true(f == cn || f == bad || f == ok);
        weft_future_release(f);
    }
    pthread_t t1 = start_plan(&a), t2 = start_plan(&b);
    int seen = 0;
    weft_future *f;
    int rc;
    while ((rc = weft_as_completed_next(it, &f)) == WEFT_OK) {
        assert_true(f == a.f || f == b.f);
        seen++;
        weft_future_release(f);
    }
    assert_int_equal(rc, WEFT_ESTOP); /* StopIteration, and again after it */
    assert_null(f);
    f = (weft_future *)1;
    assert_int_equal(weft_as_completed_next(it, &f), WEFT_ESTOP);
    assert_null(f);
    assert_int_equal(seen, 2);
    assert_int_equal(weft_as_completed_unfinished(it), 0);
    weft_as_completed_free(it);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    weft_future *all[] = {a.f, b.f, cn, bad, ok};
    for (int i = 0; i < 5; i++)
        weft_future_release(all[i]);
}

/* as_completed 2, 5, 7 [cf.test_as_completed.AsCompletedTests.test_future_times_out,
 * test_correct_timeout_exception_msg; doc] */
static void as_completed_times_out_with_unfinished_count(void **state)
{
    (void)state;
    double timeouts[] = {0, 0.1};
    for (int k = 0; k < 2; k++) {
        weft_future *cn = in_state(WEFT_FUTURE_CANCELLED_AND_NOTIFIED), *bad = failed(),
                    *ok = in_state(WEFT_FUTURE_FINISHED), *slow = fresh();
        weft_future *fs[] = {cn, bad, ok, slow};
        weft_as_completed *it;
        double t0 = weft_monotonic();
        weft_as_completed_new(&it, fs, 4, timeouts[k]);
        int yielded = 0;
        weft_future *f = NULL;
        int rc;
        while ((rc = weft_as_completed_next(it, &f)) == WEFT_OK) {
            assert_true(f != slow);
            yielded++;
            weft_future_release(f);
        }
        assert_int_equal(rc, WEFT_ETIMEDOUT);
        assert_null(f);
        assert_int_equal(yielded, 3);
        assert_true(weft_monotonic() - t0 >= timeouts[k]); /* from the call, not per next */
        assert_int_equal(weft_as_completed_unfinished(it), 1);
        assert_int_equal(weft_as_completed_total(it), 4);
        weft_as_completed_free(it);
        weft_future *all[] = {cn, bad, ok, slow};
        for (int i = 0; i < 4; i++)
            weft_future_release(all[i]);
    }
}

/* as_completed 6 [cf.test_as_completed.AsCompletedTests.test_free_reference_yielded_future]:
 * the iterator holds no reference to what it yielded, and holds the rest
 * even when the caller lets go of them. */
static void as_completed_keeps_no_reference_to_yielded(void **state)
{
    (void)state;
    weft_future *ok = in_state(WEFT_FUTURE_FINISHED), *p = fresh();
    weft_future *fs[] = {ok, p};
    weft_as_completed *it;
    weft_as_completed_new(&it, fs, 2, WEFT_FOREVER);
    weft_future *keep_p = weft_future_ref(p);
    weft_future_release(p); /* the iterator still holds p */
    weft_future *f;
    weft_as_completed_next(it, &f);
    assert_ptr_equal(f, ok);
    weft_future_release(f);
    weft_future_release(ok); /* the last reference: freed now (ASan checks) */
    weft_future_set_result(keep_p, NULL);
    weft_as_completed_next(it, &f);
    assert_ptr_equal(f, keep_p);
    weft_future_release(f);
    weft_as_completed_free(it);
    weft_future_release(keep_p);
}

/* as_completed 6 [probe]: futures that complete while the iterator waits
 * on them, yielded and released by the caller (their last reference), are
 * gone when the iterator is freed; freeing it must not touch them (it did:
 * a use after free that ASan reports). */
static void as_completed_free_after_yielded_futures_are_gone(void **state)
{
    (void)state;
    weft_future *fs[3] = {fresh(), fresh(), fresh()};
    weft_as_completed *it;
    assert_int_equal(weft_as_completed_new(&it, fs, 3, WEFT_FOREVER), WEFT_OK);
    for (int i = 0; i < 3; i++)
        weft_future_release(fs[i]); /* only the iterator holds them now */
    weft_future_set_result(fs[0], NULL);
    weft_future_set_result(fs[1], NULL);
    weft_future *f;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(weft_as_completed_next(it, &f), WEFT_OK);
        weft_future_release(f); /* the last reference: freed */
    }
    weft_as_completed_free(it); /* still holds fs[2], registered on it */
}

/* as_completed 8 [probe] */
static void as_completed_empty_and_negative_timeout(void **state)
{
    (void)state;
    weft_as_completed *it;
    weft_future *f = (weft_future *)1;
    assert_int_equal(weft_as_completed_new(&it, NULL, 0, WEFT_FOREVER), WEFT_OK);
    assert_int_equal(weft_as_completed_next(it, &f), WEFT_ESTOP);
    assert_null(f);
    weft_as_completed_free(it);
    weft_future *p = fresh();
    weft_as_completed_new(&it, &p, 1, -1);
    f = (weft_future *)1;
    assert_int_equal(weft_as_completed_next(it, &f), WEFT_ETIMEDOUT);
    assert_null(f);
    f = (weft_future *)1;
    assert_int_equal(weft_as_completed_next(NULL, &f), WEFT_EINVAL);
    assert_null(f);
    assert_int_equal(weft_as_completed_next(it, NULL), WEFT_EINVAL);
    weft_as_completed_free(it);
    weft_future_release(p);
    assert_int_equal(weft_as_completed_new(NULL, &p, 1, 1), WEFT_EINVAL);
}

/* Stress: 8 threads complete, cancel and wait on 100k futures in all with
 * callbacks; every future ends exactly once, every callback runs once. */
#define S_FUTURES 100000
static weft_future *s_futures[S_FUTURES];
static atomic_int s_callback_runs[S_FUTURES];
static atomic_int s_wins, s_errors;
static void s_callback(weft_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add(&s_callback_runs[(intptr_t)arg], 1);
}
static void s_worker(int index, void *arg)
{
    (void)arg;
    for (int i = 0; i < S_FUTURES; i++) {
        weft_future *f = s_futures[(i * 7 + index * 13) % S_FUTURES];
        switch ((i + index) % 4) {
        case 0:
            atomic_fetch_add(&s_wins, weft_future_set_result(f, (void *)1) == WEFT_OK);
            break;
        case 1:
            atomic_fetch_add(&s_wins, weft_future_cancel(f) &&
                                          weft_future_set_running_or_notify_cancel(f) ==
                                              WEFT_ECANCELLED);
            break;
        case 2:
            atomic_fetch_add(&s_wins, weft_future_set_exception(f, WEFT_EINVAL, "e") == WEFT_OK);
            break;
        default:
            if (weft_future_result_timeout(f, 0, NULL) == WEFT_EINVAL)
                atomic_fetch_add(&s_errors, 1);
        }
    }
}

static void future_stress_each_ends_once(void **state)
{
    (void)state;
    for (intptr_t i = 0; i < S_FUTURES; i++) {
        s_futures[i] = fresh();
        weft_future_add_done_callback(s_futures[i], s_callback, (void *)i);
    }
    bunch_join(bunch_start(STRESS_THREADS, s_worker, NULL));
    assert_int_equal(atomic_load(&s_errors), 0);
    assert_int_equal(weft_wait(s_futures, S_FUTURES, 0, WEFT_ALL_COMPLETED, NULL), WEFT_OK);
    assert_int_equal(atomic_load(&s_wins), S_FUTURES); /* exactly one outcome each */
    for (int i = 0; i < S_FUTURES; i++) {
        assert_int_equal(atomic_load(&s_callback_runs[i]), 1);
        weft_future_release(s_futures[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(future_new_is_pending),
        cmocka_unit_test(future_flags_and_repr_by_state),
        cmocka_unit_test(future_cancel_by_state),
        cmocka_unit_test(future_result_with_zero_timeout),
        cmocka_unit_test(future_exception_with_zero_timeout),
        cmocka_unit_test(future_out_parameters_on_every_status),
        cmocka_unit_test(future_exception_waits_forever),
        cmocka_unit_test(future_waiters_see_late_outcomes),
        cmocka_unit_test(future_second_completion_is_invalid_state),
        cmocka_unit_test(future_set_running_or_notify_cancel),
        cmocka_unit_test(future_callbacks_run_once_in_order),
        cmocka_unit_test(future_callback_on_done_future_runs_at_once),
        cmocka_unit_test(future_callbacks_may_use_futures),
        cmocka_unit_test(future_error_without_message_still_fails),
        cmocka_unit_test(future_statuses_name_the_exceptions),
        cmocka_unit_test(fail_outside_a_task_only_returns_the_marker),
        cmocka_unit_test(future_bad_input),
        cmocka_unit_test(wait_duplicates_and_empty),
        cmocka_unit_test(wait_first_completed_ignores_bare_cancelled),
        cmocka_unit_test(wait_returns_at_once_when_already_satisfied),
        cmocka_unit_test(wait_first_exception),
        cmocka_unit_test(wait_first_exception_without_failure_waits_for_all),
        cmocka_unit_test(wait_all_completed_and_timeout),
        cmocka_unit_test(wait_many_completing_together),
        cmocka_unit_test(wait_invalid_return_when_only_when_waiting),
        cmocka_unit_test(as_completed_yields_each_once),
        cmocka_unit_test(as_completed_times_out_with_unfinished_count),
        cmocka_unit_test(as_completed_keeps_no_reference_to_yielded),
        cmocka_unit_test(as_completed_free_after_yielded_futures_are_gone),
        cmocka_unit_test(as_completed_empty_and_negative_timeout),
        cmocka_unit_test(future_stress_each_ends_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
