/* check_param.c — model/param: the registry's name prefixes. A prefix or name that does not
 * fit is an error with a message, latched until the failing level is popped; names are
 * never cut short (they used to be, silently, at 255 bytes or below 32 levels). */
#include <check.h>
#include <string.h>

#include "core/err.h"
#include "model/param.h"

static lt_tensor *one(void) {
    int64_t s[1] = {1};
    return lt_zeros(s, 1, LT_F32, LT_CPU);
}

START_TEST(test_prefix_overflow_is_an_error) {
    long live = lt_live_count();
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    char part[200];
    memset(part, 'x', sizeof part - 1);
    part[sizeof part - 1] = 0;
    ck_assert_int_eq(lm_params_push(&p, "model.%d", 1), 0);
    ck_assert_ptr_nonnull(lm_params_add(&p, "w", one(), LM_PARAM));
    ck_assert_int_eq(lm_params_push(&p, "%s", part), 0); /* 8 + 200 bytes: fits */
    /* 208 + 200 bytes do not fit in 255: error, latched */
    lm_err_clear();
    ck_assert_int_eq(lm_params_push(&p, "%s", part), LM_EINVAL);
    ck_assert_msg(strstr(lm_err_msg(), "do not fit in 255") != NULL, "%s", lm_err_msg());
    ck_assert_int_eq(lm_params_push(&p, "inner"), LM_EINVAL); /* still failed below it */
    lm_err_clear();
    ck_assert_ptr_null(lm_params_add(&p, "weight", one(), LM_PARAM));
    ck_assert_int_eq(lm_err_last_code(), LM_EINVAL);
    ck_assert_msg(strstr(lm_err_msg(), "parameter prefix model.1.xxx") != NULL, "%s", lm_err_msg());
    lm_params_pop(&p); /* inner */
    ck_assert_ptr_null(lm_params_add(&p, "weight", one(), LM_PARAM));
    lm_params_pop(&p); /* the failed level: the latch goes, the prefix is as before */
    lm_err_clear();
    ck_assert_ptr_nonnull(lm_params_add(&p, "b", one(), LM_PARAM));
    ck_assert_int_eq(p.n, 2);
    ck_assert_uint_eq(strlen(p.items[1].name), 8 + 200 + 1);
    ck_assert(!strncmp(p.items[1].name, "model.1.xxx", 11));
    lm_params_pop(&p);
    lm_params_pop(&p);
    ck_assert_str_eq(p.prefix, "");
    /* a name that does not fit after the prefix */
    char name[420];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    lm_err_clear();
    ck_assert_ptr_null(lm_params_add(&p, name, one(), LM_BUFFER));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "name longer than"));
    /* nesting deeper than LM_PREFIX_DEPTH */
    int rc = 0;
    for (int i = 0; i < LM_PREFIX_DEPTH && !rc; i++) rc = lm_params_push(&p, "%d", i % 10);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(lm_params_push(&p, "deep"), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "nested deeper than 32"));
    ck_assert_ptr_null(lm_params_add(&p, "w", one(), LM_PARAM));
    lm_params_pop(&p);
    lm_err_clear();
    ck_assert_ptr_nonnull(lm_params_add(&p, "w", one(), LM_PARAM));
    ck_assert_str_eq(p.items[p.n - 1].name, "0.1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.7.8.9.0.1.w");
    for (int i = 0; i < LM_PREFIX_DEPTH; i++) lm_params_pop(&p);
    ck_assert_str_eq(p.prefix, "");
    ck_assert_int_eq(p.n, 3);
    lm_params_free(&p);
    ck_assert_int_eq(lt_live_count(), live); /* refused tensors were freed */
}
END_TEST

Suite *check_param_suite(void) {
    Suite *s = suite_create("param");
    TCase *tc = tcase_create("param");
    tcase_add_test(tc, test_prefix_overflow_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}
