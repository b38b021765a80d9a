/* check_progress.c — train/progress: the training progress line's text (rate, ETA, losses,
 * truncation), in-place redraws on a terminal at most 4 times a second, plain lines only on
 * log steps otherwise. Times are passed in: nothing depends on the wall clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/progress.h"

START_TEST(test_format) {
    char b[256];
    lm_kv v[2] = {{"gen_total", 1.23456}, {"discr_total", 0.5}};
    lm_train_progress_format(b, sizeof b, 1200, 25000, 3, 3.41, v, 2);
    ck_assert_str_eq(b, "step 1200/25000 (epoch 3) | 3.41 it/s | ETA 1:56:19 | gen_total 1.235 discr_total 0.5");
    lm_train_progress_format(b, sizeof b, 5, 0, -1, 0.5, NULL, 0);
    ck_assert_str_eq(b, "step 5 | 2.00 s/it");
    lm_train_progress_format(b, sizeof b, 5, 10, -1, 0, NULL, 0); /* no rate yet: no ETA */
    ck_assert_str_eq(b, "step 5/10");
    char s[16];
    size_t n = lm_train_progress_format(s, sizeof s, 1200, 25000, 3, 3.41, v, 2);
    ck_assert_uint_eq(n, 15);
    ck_assert_str_eq(s, "step 1200/25...");
}
END_TEST

START_TEST(test_tty_and_log) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    lm_train_progress p;
    lm_kv v = {"gen_total", 2};
    lm_train_progress_start(&p, f, 1, 100, 200, 10.0);
    ck_assert_int_eq(lm_train_progress_update(&p, 101, 0, 10.5, &v, 1, 0), 1);
    ck_assert_int_eq(lm_train_progress_update(&p, 102, 0, 10.6, &v, 1, 0), 0); /* < 0.25 s later */
    ck_assert_int_eq(lm_train_progress_update(&p, 110, 0, 11.0, &v, 1, 0), 1);
    lm_train_progress_break(&p);
    fflush(f);
    ck_assert_str_eq(buf, "\rstep 101/200 (epoch 0) | 2.00 it/s | ETA 0:00:50 | gen_total 2\033[K"
                          "\rstep 110/200 (epoch 0) | 10.00 it/s | ETA 0:00:09 | gen_total 2\033[K\n");
    fclose(f);
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    lm_train_progress_start(&p, f, 0, 0, 0, 0.0);
    ck_assert_int_eq(lm_train_progress_update(&p, 1, 0, 1.0, NULL, 0, 0), 0); /* not a log step */
    ck_assert_int_eq(lm_train_progress_update(&p, 2, 0, 1.0, NULL, 0, 1), 1);
    lm_train_progress_break(&p); /* nothing to end */
    fflush(f);
    ck_assert_str_eq(buf, "step 2 (epoch 0) | 2.00 it/s\n");
    fclose(f);
    free(buf);
}
END_TEST

Suite *check_progress_suite(void) {
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("progress");
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_tty_and_log);
    suite_add_tcase(s, tc);
    return s;
}
