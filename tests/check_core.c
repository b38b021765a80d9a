/* check_core.c — core/: err (messages, codes, context prefixes), flags (integer flag
 * values), path (mkdir -p), progress (the progress line), clock. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/flags.h"
#include "core/path.h"
#include "core/progress.h"
#include "core/readall.h"
#include "core/strbuf.h"
#include "tests/testutil.h"

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
    ck_assert_str_eq(lm_err_code_name(LM_ENONFINITE), "non-finite value");
    ck_assert_int_eq(lm_err_code(LM_ENONFINITE, "loss"), LM_ENONFINITE);
    ck_assert_int_eq(lm_err_prefix("step 3"), LM_ENONFINITE); /* kept through context */
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

START_TEST(test_flags) {
    long l = 7;
    int i = 7;
    ck_assert_int_eq(lm_flag_long("--count", "42", 0, 100, &l), 0);
    ck_assert_int_eq(l, 42);
    ck_assert_int_eq(lm_flag_int("--n", "-3", -5, 5, &i), 0);
    ck_assert_int_eq(i, -3);
    const char *bad[] = {"", "abc", "12x", "1.5", " 4", "4 ", "0x10", "101", "-1",
                         "99999999999999999999999", NULL};
    for (int k = 0; bad[k]; k++) {
        l = 7;
        lm_err_clear();
        ck_assert_msg(lm_flag_long("--count", bad[k], 0, 100, &l) == LM_EINVAL, "'%s' accepted", bad[k]);
        ck_assert_int_eq(l, 7); /* untouched */
        char want[128];
        snprintf(want, sizeof want, "--count: expected an integer in 0..100, got '%s'", bad[k]);
        ck_assert_str_eq(lm_err_msg(), want);
    }
    ck_assert_int_eq(lm_flag_long("--x", NULL, 0, 1, &l), LM_EINVAL);
    /* overflow of long, and of int through lm_flag_int's range */
    ck_assert_int_eq(lm_flag_long("--big", "9223372036854775808", LONG_MIN, LONG_MAX, &l), LM_EINVAL);
    ck_assert_int_eq(lm_flag_long("--big", "9223372036854775807", LONG_MIN, LONG_MAX, &l), 0);
    ck_assert(l == LONG_MAX);
    ck_assert_int_eq(lm_flag_int("--threads", "4294967297", 0, INT_MAX, &i), LM_EINVAL); /* wraps to 1 as int */
    ck_assert_int_eq(i, -3);
}
END_TEST

START_TEST(test_mkdirs) {
    char tmp[256], p[512];
    lm_test_tmpdir(tmp, sizeof tmp, "core");
    snprintf(p, sizeof p, "%s/a/b//c/", tmp);
    ck_assert_msg(lm_path_mkdirs(p) == 0, "%s", lm_err_msg());
    snprintf(p, sizeof p, "%s/a/b/c", tmp);
    ck_assert(lm_path_is_dir(p));
    ck_assert_int_eq(lm_path_mkdirs(p), 0); /* existing: fine */
    /* the directory part of a file path */
    snprintf(p, sizeof p, "%s/x/y/out.png", tmp);
    ck_assert_int_eq(lm_path_mkparents(p), 0);
    snprintf(p, sizeof p, "%s/x/y", tmp);
    ck_assert(lm_path_is_dir(p));
    snprintf(p, sizeof p, "%s/x/y/out.png", tmp);
    ck_assert(!lm_path_is_dir(p));
    ck_assert_int_eq(lm_path_mkparents("plain.png"), 0);
    /* a file in the way, as a component and as the last name */
    snprintf(p, sizeof p, "%s/file", tmp);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    lm_err_clear();
    ck_assert_int_eq(lm_path_mkdirs(p), LM_EIO);
    ck_assert_msg(strstr(lm_err_msg(), "exists and is not a directory") != NULL, "%s", lm_err_msg());
    snprintf(p, sizeof p, "%s/file/sub/dir", tmp);
    ck_assert_int_eq(lm_path_mkdirs(p), LM_EIO);
    ck_assert_msg(strstr(lm_err_msg(), "/file") != NULL, "%s", lm_err_msg());
    /* too long: an error before anything is created */
    char *longp = malloc(5000);
    int n = snprintf(longp, 5000, "%s/long", tmp);
    while (n < 4500) n += snprintf(longp + n, (size_t)(5000 - n), "/d");
    lm_err_clear();
    ck_assert_int_eq(lm_path_mkdirs(longp), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "path too long"));
    free(longp);
    snprintf(p, sizeof p, "%s/long", tmp);
    ck_assert_int_ne(access(p, F_OK), 0);
    lm_test_rmtree(tmp);
}
END_TEST

START_TEST(test_progress_and_clock) {
    double t0 = lm_clock_now(), c0 = lm_clock_cpu();
    ck_assert(t0 > 0 && c0 >= 0);
    /* into a file (not a terminal): one line per tenth, and the final line */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    lm_progress p;
    lm_progress_start(&p, f, "masks", "images");
    for (int i = 1; i <= 100; i++) lm_progress_update(&p, i, 100);
    rewind(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        ck_assert_ptr_null(strchr(line, '\r'));
        ck_assert_msg(!strncmp(line, "masks: ", 7) && strstr(line, " images (") && strstr(line, " images/s)\n"),
                      "%s", line);
        if (lines == 10) ck_assert_msg(!strncmp(line, "masks: 100/100 images", 21), "%s", line);
    }
    ck_assert_int_eq(lines, 10);
    fclose(f);
    ck_assert(lm_clock_now() >= t0);
    ck_assert(lm_clock_cpu() >= c0);
}
END_TEST

START_TEST(test_strbuf) {
    lm_strbuf b = {0};
    char long_key[600];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    lm_strbuf_fmt(&b, "{%s:%d}", long_key, 42); /* longer than the formatter's stack buffer */
    ck_assert_int_eq(b.n, 599 + 5);
    ck_assert_str_eq(b.p + 600, ":42}");
    b.n = 0;
    lm_strbuf_json(&b, "a\"b\\c\n\x01");
    ck_assert_str_eq(b.p, "\"a\\\"b\\\\c\\u000a\\u0001\"");
    for (int i = 0; i < 10000; i++) lm_strbuf_put(&b, "xy", 2); /* growth keeps the text */
    ck_assert_int_eq(b.n, strlen(b.p));
    ck_assert(!b.oom);
    lm_strbuf_free(&b);
    ck_assert_ptr_null(b.p);
}
END_TEST

/* lm_read_all: empty, exactly one buffer's worth, and across several buffer growths; the
 * bytes (NULs included) come back with a NUL after them. */
START_TEST(test_read_all) {
    const size_t sizes[] = {0, 1, 8191, 8192, 20000, 70001};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        FILE *f = tmpfile();
        ck_assert_ptr_nonnull(f);
        for (size_t i = 0; i < n; i++) fputc((int)(i * 7 % 251), f);
        rewind(f);
        char *buf;
        size_t len;
        ck_assert_int_eq(lm_read_all(f, &buf, &len), 0);
        fclose(f);
        ck_assert_uint_eq(len, n);
        for (size_t i = 0; i < n; i++) ck_assert_int_eq((unsigned char)buf[i], (int)(i * 7 % 251));
        ck_assert_int_eq(buf[n], 0);
        free(buf);
    }
}
END_TEST

Suite *check_core_suite(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("err");
    tcase_add_test(tc, test_err_prefix_keeps_lower_message);
    tcase_add_test(tc, test_err_codes_survive_context);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_mkdirs);
    tcase_add_test(tc, test_progress_and_clock);
    tcase_add_test(tc, test_strbuf);
    tcase_add_test(tc, test_read_all);
    suite_add_tcase(s, tc);
    return s;
}
