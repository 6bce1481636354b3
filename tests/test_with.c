/* SPDX-License-Identifier: MIT */
/* test_with.c — WEFT_WITH / WEFT_SCOPED, Python's `with lock:`. */
#include "testutil.h"

static int leave_by_return(weft_rlock *r)
{
    WEFT_WITH(r) {
        if (weft_rlock_recursion_count(r) == 1)
            return 1;
    }
    return 0;
}

static int leave_by_goto(weft_lock *l)
{
    WEFT_WITH(l) {
        goto out;
    }
    return -1;
out:
    return weft_lock_locked(l);
}

static int scoped(weft_condition *c)
{
    WEFT_SCOPED(c);
    return weft_condition_locked(c);
}

static void with_releases_on_every_exit(void **state)
{
    (void)state;
    weft_lock l = WEFT_LOCK_INIT;
    weft_rlock r = WEFT_RLOCK_INIT;
    weft_condition c = WEFT_CONDITION_INIT;
    int runs = 0;
    WEFT_WITH(&l) {
        runs++;
    }
    assert_int_equal(runs, 1);
    assert_false(weft_lock_locked(&l));
    WEFT_WITH(&l) {
        runs++;
        break;
    }
    assert_int_equal(runs, 2);
    assert_false(weft_lock_locked(&l));
    assert_int_equal(leave_by_return(&r), 1);
    assert_false(weft_rlock_locked(&r));
    assert_int_equal(leave_by_goto(&l), 0);
    assert_int_equal(scoped(&c), 1);
    assert_false(weft_condition_locked(&c));
    WEFT_WITH(&r) {
        WEFT_WITH(&r) { /* an rlock nests */
            assert_int_equal(weft_rlock_recursion_count(&r), 2);
        }
    }
    assert_false(weft_rlock_locked(&r));
}

static void with_null_skips_the_block(void **state)
{
    (void)state;
    weft_lock *none = NULL;
    int runs = 0;
    WEFT_WITH(none) {
        runs++;
    }
    assert_int_equal(runs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(with_releases_on_every_exit),
        cmocka_unit_test(with_null_skips_the_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
