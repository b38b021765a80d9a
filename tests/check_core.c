/* check_core.c — core/err: messages, codes, context prefixes. */
#include <check.h>
#include <string.h>

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

/* The code travels with the message: context keeps the lower-level code (an I/O error
 * stays LM_EIO, it used to become LM_EFAIL). */
START_TEST(test_err_codes_survive_context) {
    lm_err_clear();
    ck_assert_int_eq(lm_err_last_code(), LM_OK);
    ck_assert_int_eq(lm_err_code(LM_EIO, "cannot open %s", "x.bin"), LM_EIO);
    ck_assert_int_eq(lm_err_prefix("weights"), LM_EIO);
    ck_assert_int_eq(lm_err_prefix("model %d", 2), LM_EIO);
    ck_assert_str_eq(lm_err_msg(), "model 2: weights: cannot open x.bin");
    ck_assert_int_eq(lm_err_last_code(), LM_EIO);
    ck_assert_int_eq(lm_err_code(LM_ETORCH, "forward"), LM_ETORCH);
    ck_assert_int_eq(lm_err_prefix("predict"), LM_ETORCH);
    ck_assert_int_eq(lm_err_set("plain"), LM_EFAIL);
    ck_assert_int_eq(lm_err_last_code(), LM_EFAIL);
    ck_assert_int_eq(lm_err_code(LM_EINVAL, "bad"), LM_EINVAL);
    lm_err_clear();
    ck_assert_int_eq(lm_err_last_code(), LM_OK);
    ck_assert_int_eq(lm_err_prefix("no lower error"), LM_EFAIL); /* still a failure */
    ck_assert_str_eq(lm_err_msg(), "no lower error");
    ck_assert_str_eq(lm_err_code_name(LM_EIO), "I/O");
    ck_assert_str_eq(lm_err_code_name(LM_ETORCH), "libtorch");
    /* the buffer rule: a long message is cut at 1023 bytes, context first */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    lm_err_code(LM_ENOMEM, "%s", big);
    ck_assert_int_eq(lm_err_prefix("ctx"), LM_ENOMEM);
    ck_assert_uint_eq(strlen(lm_err_msg()), 1023);
    ck_assert(!strncmp(lm_err_msg(), "ctx: aaa", 8));
}
END_TEST

Suite *check_core_suite(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("err");
    tcase_add_test(tc, test_err_prefix_keeps_lower_message);
    tcase_add_test(tc, test_err_codes_survive_context);
    suite_add_tcase(s, tc);
    return s;
}
