/* SPDX-License-Identifier: MIT */
/* test_status.c — weft_strerror and weft_status_name. */
#include "testutil.h"

static void every_status_has_a_distinct_name_and_text(void **state)
{
    (void)state;
    for (int s = WEFT_OK; s < WEFT_STATUS_COUNT_; s++) {
        assert_non_null(weft_strerror(s));
        assert_true(strncmp(weft_status_name(s), "WEFT_", 5) == 0);
        assert_string_not_equal(weft_strerror(s), "unknown weft status");
        for (int t = WEFT_OK; t < s; t++) {
            assert_string_not_equal(weft_strerror(s), weft_strerror(t));
            assert_string_not_equal(weft_status_name(s), weft_status_name(t));
        }
    }
    assert_string_equal(weft_status_name(WEFT_ETIMEDOUT), "WEFT_ETIMEDOUT");
    assert_string_equal(weft_strerror(WEFT_OK), "success");
}

static void unknown_statuses_are_named_so(void **state)
{
    (void)state;
    assert_string_equal(weft_strerror(-1), "unknown weft status");
    assert_string_equal(weft_strerror(WEFT_STATUS_COUNT_), "unknown weft status");
    assert_string_equal(weft_status_name(9999), "WEFT_UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_status_has_a_distinct_name_and_text),
        cmocka_unit_test(unknown_statuses_are_named_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
