/* SPDX-License-Identifier: MIT */
/* test_time.c — weft_monotonic, weft_perf_counter, weft_sleep. */
#include "testutil.h"

static void clocks_never_go_backwards(void **state)
{
    (void)state;
    double m = weft_monotonic(), p = weft_perf_counter();
    for (int i = 0; i < 100000; i++) {
        double m2 = weft_monotonic(), p2 = weft_perf_counter();
        assert_true(m2 >= m);
        assert_true(p2 >= p);
        m = m2;
        p = p2;
    }
}

static void sleep_never_returns_early(void **state)
{
    (void)state;
    double intervals[] = {0.0, 0.001, 0.02, 0.1};
    for (int i = 0; i < 4; i++) {
        double t0 = weft_perf_counter();
        assert_int_equal(weft_sleep(intervals[i]), WEFT_OK);
        double dt = weft_perf_counter() - t0;
        assert_true(dt >= intervals[i]);
        assert_true(dt < intervals[i] + 1.0);
    }
}

/* Python: time.sleep(-1) is ValueError. */
static void sleep_rejects_bad_lengths(void **state)
{
    (void)state;
    assert_int_equal(weft_sleep(-1), WEFT_EINVAL);
    assert_int_equal(weft_sleep(NAN), WEFT_EINVAL);
    assert_int_equal(weft_sleep(WEFT_FOREVER), WEFT_EINVAL);
    assert_int_equal(weft_sleep(1e100), WEFT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clocks_never_go_backwards),
        cmocka_unit_test(sleep_never_returns_early),
        cmocka_unit_test(sleep_rejects_bad_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
