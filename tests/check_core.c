/* check_core.c — core/err: messages, codes, context prefixes. */
#include <check.h>

#include "core/err.h"

START_TEST(test_err_prefix_keeps_lower_message) {
    lm_err_clear();
    ck_assert_str_eq(lm_err_msg(), "");
    ck_assert_int_eq(lm_err_set("bad value %d", 3), LM_EFAIL);
    lm_err_prefix("config %s", "a.yaml");
    ck_assert_str_eq(lm_err_msg(), "config a.yaml: bad value 3");
    ck_assert_int_eq(lm_err_code(LM_EIO, "x"), LM_EIO);
    ck_assert_str_eq(lm_err_msg(), "x");
}
END_TEST

Suite *check_core_suite(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("err");
    tcase_add_test(tc, test_err_prefix_keeps_lower_message);
    suite_add_tcase(s, tc);
    return s;
}
