/* check_rundir.c — train/rundir (run directory, config.yaml, metrics.jsonl) and
 * train/ckptfiles (checkpoint discovery for resume, torn files, keep-best-k). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/path.h"
#include "io/safetensors.h"
#include "testutil.h"
#include "train/ckptfiles.h"
#include "train/rundir.h"

START_TEST(test_rundir_name_and_create) {
    char tmp[256], dir[4096], p[4200];
    lm_test_tmpdir(tmp, sizeof tmp, "rundir");
    /* 2021-03-04 05:06:07 local time */
    struct tm tm = {.tm_year = 121, .tm_mon = 2, .tm_mday = 4, .tm_hour = 5, .tm_min = 6, .tm_sec = 7, .tm_isdst = -1};
    time_t t = mktime(&tm);
    snprintf(p, sizeof p, "%s/runs", tmp);
    ck_assert_int_eq(lm_rundir_name(dir, sizeof dir, p, "lama-fourier", t), 0);
    snprintf(p, sizeof p, "%s/runs/2021-03-04_05-06-07_lama-fourier", tmp);
    ck_assert_str_eq(dir, p);
    ck_assert_int_eq(lm_rundir_name(dir, sizeof dir, tmp, "a/b", t), LM_EINVAL);
    ck_assert_int_eq(lm_rundir_name(dir, sizeof dir, tmp, "", t), LM_EINVAL);
    char small[16];
    ck_assert_int_eq(lm_rundir_name(small, sizeof small, tmp, "x", t), LM_EINVAL);

    ck_assert_int_eq(lm_rundir_name(dir, sizeof dir, p, "x", t), 0); /* parents are created */
    ck_assert_int_eq(lm_rundir_create(dir, sizeof dir, "a: 1\n", 1), 0);
    const char *subs[] = {"checkpoints", "samples", "tb"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
        ck_assert(lm_path_is_dir(p));
    }
    snprintf(p, sizeof p, "%s/config.yaml", dir);
    char *s = lm_test_slurp(p);
    ck_assert_str_eq(s, "a: 1\n");
    free(s);
    /* a second run in the same second gets a fresh directory */
    char dir2[4096];
    strcpy(dir2, dir);
    char first[4096];
    strcpy(first, dir);
    ck_assert_int_eq(lm_rundir_create(dir2, sizeof dir2, "b: 2\n", 1), 0);
    snprintf(p, sizeof p, "%s_1", first);
    ck_assert_str_eq(dir2, p);
    /* an explicit existing dir is reused; NULL config keeps config.yaml */
    ck_assert_int_eq(lm_rundir_create(dir, sizeof dir, NULL, 0), 0);
    snprintf(p, sizeof p, "%s/config.yaml", dir);
    s = lm_test_slurp(p);
    ck_assert_str_eq(s, "a: 1\n");
    free(s);
    /* a file where the run dir should be */
    snprintf(p, sizeof p, "%s/file", tmp);
    fclose(fopen(p, "w"));
    char bad[4400];
    snprintf(bad, sizeof bad, "%s/sub", p);
    ck_assert_int_lt(lm_rundir_create(bad, sizeof bad, "x", 0), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), p));
    lm_test_rmtree(tmp);
}
END_TEST

START_TEST(test_metrics_jsonl) {
    char tmp[256], p[512];
    lm_test_tmpdir(tmp, sizeof tmp, "rundir");
    lm_metrics_log *m;
    ck_assert_int_eq(lm_metrics_open(&m, tmp), 0);
    lm_kv losses[] = {{"gen_total", 1.5}, {"discr \"q\"", 0.1f}, {"bad", NAN}};
    lm_kv metrics[] = {{"ssim_total", 0.75}, {"inf", INFINITY}};
    ck_assert_int_eq(lm_metrics_write(m, 10, 0, "train", losses, 2, NULL, 0), 0);
    ck_assert_int_eq(lm_metrics_write(m, 20, 1, "val", losses, 3, metrics, 2), 0);
    ck_assert_int_eq(lm_metrics_write(m, 30, 1, "test", losses, 1, NULL, 0), LM_EINVAL);
    lm_kv empty = {"", 1};
    ck_assert_int_eq(lm_metrics_write(m, 30, 1, "train", &empty, 1, NULL, 0), LM_EINVAL);
    ck_assert_int_eq(lm_metrics_write(m, 30, 1, "train", losses, 1, NULL, 0), 0);
    ck_assert_int_eq(lm_metrics_close(m), 0);
    ck_assert_int_eq(lm_metrics_close(NULL), 0);
    snprintf(p, sizeof p, "%s/metrics.jsonl", tmp);
    char *s = lm_test_slurp(p);
    const char *want =
        "{\"step\":10,\"epoch\":0,\"kind\":\"train\",\"losses\":{\"gen_total\":1.5,\"discr \\\"q\\\"\":0.100000001},"
        "\"metrics\":{},\"nonfinite\":[]}\n"
        "{\"step\":20,\"epoch\":1,\"kind\":\"val\",\"losses\":{\"gen_total\":1.5,\"discr \\\"q\\\"\":0.100000001,"
        "\"bad\":null},\"metrics\":{\"ssim_total\":0.75,\"inf\":null},\"nonfinite\":[\"losses.bad\",\"metrics.inf\"]}\n"
        "{\"step\":30,\"epoch\":1,\"kind\":\"train\",\"losses\":{\"gen_total\":1.5},\"metrics\":{},\"nonfinite\":[]}\n";
    ck_assert_str_eq(s, want);
    free(s);
    /* python3's json module parses every line, when present */
    if (system("python3 -c 'import json' >/dev/null 2>&1") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' %s", p);
        ck_assert_int_eq(system(cmd), 0);
    }
    /* appending reopens; a resume at step 20 drops step 30 and a torn last line */
    ck_assert_int_eq(lm_metrics_open(&m, tmp), 0);
    ck_assert_int_eq(lm_metrics_write(m, 40, 2, "train", losses, 1, NULL, 0), 0);
    ck_assert_int_eq(lm_metrics_close(m), 0);
    FILE *f = fopen(p, "ab");
    fputs("{\"step\":50,\"epoch\":2,\"kind\":\"tr", f);
    fclose(f);
    int dropped;
    ck_assert_int_eq(lm_metrics_truncate_after(tmp, 20, &dropped), 0);
    ck_assert_int_eq(dropped, 3);
    s = lm_test_slurp(p);
    size_t keep = (size_t)(strstr(want, "{\"step\":30") - want);
    ck_assert_uint_eq(strlen(s), keep);
    ck_assert_int_eq(strncmp(s, want, keep), 0);
    ck_assert_ptr_null(strstr(s, "\"step\":30"));
    ck_assert_ptr_null(strstr(s, "\"step\":50"));
    ck_assert_ptr_nonnull(strstr(s, "\"step\":20"));
    free(s);
    /* nothing to drop: file untouched; missing file: fine */
    ck_assert_int_eq(lm_metrics_truncate_after(tmp, 20, &dropped), 0);
    ck_assert_int_eq(dropped, 0);
    unlink(p);
    ck_assert_int_eq(lm_metrics_truncate_after(tmp, 20, &dropped), 0);
    lm_test_rmtree(tmp);
}
END_TEST

/* a small checkpoint-like safetensors file */
static void write_ckpt(const char *path, const char *format, const char *step) {
    lm_safetensors_writer *w;
    ck_assert_int_eq(lm_safetensors_writer_open(&w, path), 0);
    float data[256];
    for (int i = 0; i < 256; i++) data[i] = (float)i;
    int64_t shape[1] = {256};
    ck_assert_int_eq(lm_safetensors_writer_add(w, "generator.w", 0, shape, 1, data, sizeof data), 0);
    if (format) ck_assert_int_eq(lm_safetensors_writer_meta(w, "format", format), 0);
    if (step) ck_assert_int_eq(lm_safetensors_writer_meta(w, "step", step), 0);
    ck_assert_int_eq(lm_safetensors_writer_close(w), 0);
}

START_TEST(test_ckpt_find_skips_torn_latest) {
    char tmp[256], ck[300], p[512];
    lm_test_tmpdir(tmp, sizeof tmp, "rundir");
    snprintf(ck, sizeof ck, "%s/checkpoints", tmp);
    mkdir(ck, 0755);
    snprintf(p, sizeof p, "%s/epoch=0-step=10.safetensors", ck);
    write_ckpt(p, "lamac-ckpt-1", "10");
    snprintf(p, sizeof p, "%s/epoch=1-step=20.safetensors", ck);
    write_ckpt(p, "lamac-ckpt-1", "20");
    snprintf(p, sizeof p, "%s/last.safetensors", ck);
    write_ckpt(p, "lamac-ckpt-1", "20");
    snprintf(p, sizeof p, "%s/notes.txt", ck);
    fclose(fopen(p, "w"));
    lm_ckpt_found f;
    /* the run dir resolves to checkpoints/; ties prefer last.safetensors */
    ck_assert_int_eq(lm_ckpt_find(&f, tmp, "lamac-ckpt-", NULL), 0);
    ck_assert_int_eq(f.step, 20);
    ck_assert_ptr_nonnull(strstr(f.path, "/last.safetensors"));
    ck_assert_int_eq(f.skipped, 0);
    lm_ckpt_found_free(&f);
    /* a torn latest: truncate both step-20 files (valid header, data cut short) */
    struct stat st;
    snprintf(p, sizeof p, "%s/last.safetensors", ck);
    stat(p, &st);
    ck_assert_int_eq(truncate(p, st.st_size - 100), 0);
    snprintf(p, sizeof p, "%s/epoch=1-step=20.safetensors", ck);
    ck_assert_int_eq(truncate(p, 5), 0); /* header length cut */
    char *buf = NULL;
    size_t bn = 0;
    FILE *warn = open_memstream(&buf, &bn);
    ck_assert_int_eq(lm_ckpt_find(&f, ck, "lamac-ckpt-", warn), 0);
    fclose(warn);
    printf("%s", buf);
    ck_assert_int_eq(f.step, 10);
    ck_assert_ptr_nonnull(strstr(f.path, "epoch=0-step=10.safetensors"));
    ck_assert_int_eq(f.skipped, 2);
    ck_assert_ptr_nonnull(strstr(buf, "warning: skipping checkpoint"));
    ck_assert_ptr_nonnull(strstr(buf, "last.safetensors"));
    ck_assert_ptr_nonnull(strstr(buf, "epoch=1-step=20.safetensors"));
    free(buf);
    lm_ckpt_found_free(&f);
    /* an explicit torn file is an error, not a fallback */
    snprintf(p, sizeof p, "%s/last.safetensors", ck);
    ck_assert_int_lt(lm_ckpt_find(&f, p, "lamac-ckpt-", NULL), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "last.safetensors"));
    ck_assert_ptr_null(f.path);
    /* wrong format and missing/garbled step are rejected */
    snprintf(p, sizeof p, "%s/w.safetensors", ck);
    write_ckpt(p, "lamac-weights-1", "30");
    ck_assert_int_eq(lm_ckpt_validate(p, "lamac-ckpt-", NULL), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "lamac-weights-1"));
    write_ckpt(p, "lamac-ckpt-1", NULL);
    ck_assert_int_eq(lm_ckpt_validate(p, "lamac-ckpt-", NULL), LM_EINVAL);
    write_ckpt(p, "lamac-ckpt-1", "12x");
    ck_assert_int_eq(lm_ckpt_validate(p, "lamac-ckpt-", NULL), LM_EINVAL);
    write_ckpt(p, NULL, "5");
    ck_assert_int_eq(lm_ckpt_validate(p, NULL, NULL), LM_EINVAL);
    int64_t step;
    write_ckpt(p, "lamac-ckpt-1", "99");
    ck_assert_int_eq(lm_ckpt_validate(p, "lamac-ckpt-", &step), 0);
    ck_assert_int_eq(step, 99);
    lm_test_rmtree(tmp);
}
END_TEST

START_TEST(test_ckpt_find_none_is_an_error) {
    char tmp[256], p[512];
    lm_test_tmpdir(tmp, sizeof tmp, "rundir");
    lm_ckpt_found f;
    /* empty folder */
    ck_assert_int_eq(lm_ckpt_find(&f, tmp, NULL, NULL), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "no valid checkpoint"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), tmp));
    /* only a torn file */
    snprintf(p, sizeof p, "%s/last.safetensors", tmp);
    FILE *fp = fopen(p, "wb");
    fputs("\x10\0\0\0\0\0\0\0{\"a\":", fp);
    fclose(fp);
    ck_assert_int_eq(lm_ckpt_find(&f, tmp, NULL, NULL), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "1 rejected"));
    /* missing path */
    snprintf(p, sizeof p, "%s/nope", tmp);
    ck_assert_int_lt(lm_ckpt_find(&f, p, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), p));
    ck_assert_int_lt(lm_ckpt_find(&f, "", NULL, NULL), 0);
    lm_test_rmtree(tmp);
}
END_TEST

static int exists(const char *dir, int64_t epoch, int64_t step) {
    char p[600];
    snprintf(p, sizeof p, "%s/epoch=%lld-step=%lld.safetensors", dir, (long long)epoch, (long long)step);
    return access(p, F_OK) == 0;
}

/* offers (epoch, step, value); writes the file when kept */
static int offer(lm_topk *t, int64_t e, int64_t s, double v) {
    char p[600];
    int keep;
    ck_assert_int_eq(lm_topk_offer(t, e, s, v, p, sizeof p, &keep), 0);
    if (keep) {
        fclose(fopen(p, "w"));
        ck_assert_int_eq(lm_topk_commit(t), 0);
    }
    return keep;
}

START_TEST(test_topk) {
    char tmp[256];
    lm_test_tmpdir(tmp, sizeof tmp, "rundir");
    lm_topk *t;
    ck_assert_int_eq(lm_topk_create(&t, tmp, 3, LM_TOPK_MAX), 0);
    ck_assert(offer(t, 0, 1, 0.5));
    ck_assert(offer(t, 0, 2, 0.7));
    ck_assert(offer(t, 0, 3, 0.6));
    ck_assert(!offer(t, 0, 4, 0.5)); /* ties with the worst: not kept (strict) */
    ck_assert(!offer(t, 0, 5, NAN));
    ck_assert(offer(t, 1, 6, 0.9)); /* evicts step 1 (0.5) */
    ck_assert(!exists(tmp, 0, 1));
    ck_assert(exists(tmp, 0, 2) && exists(tmp, 0, 3) && exists(tmp, 1, 6));
    ck_assert_int_eq(lm_topk_count(t), 3);
    int64_t s;
    double v;
    lm_topk_get(t, 0, NULL, &s, &v);
    ck_assert_int_eq(s, 6);
    lm_topk_get(t, 2, NULL, &s, &v);
    ck_assert_int_eq(s, 3);
    ck_assert_str_eq(lm_topk_state(t), "1:6:0.90000000000000002;0:2:0.69999999999999996;0:3:0.59999999999999998");
    /* commit without offer */
    ck_assert_int_eq(lm_topk_commit(t), LM_EINVAL);
    /* restore into a fresh tracker (resume), then continue */
    lm_topk *r;
    ck_assert_int_eq(lm_topk_create(&r, tmp, 3, LM_TOPK_MAX), 0);
    ck_assert_int_eq(lm_topk_restore(r, lm_topk_state(t)), 0);
    ck_assert_int_eq(lm_topk_count(r), 3);
    ck_assert(offer(r, 1, 7, 0.65)); /* evicts step 3 */
    ck_assert(!exists(tmp, 0, 3));
    ck_assert(exists(tmp, 1, 7));
    ck_assert_int_eq(lm_topk_restore(r, "1:2"), LM_EINVAL);
    ck_assert_int_eq(lm_topk_restore(r, "a:2:3"), LM_EINVAL);
    ck_assert_int_eq(lm_topk_restore(r, "1:2:nan"), LM_EINVAL);
    ck_assert_int_eq(lm_topk_count(r), 3); /* unchanged by the failures */
    ck_assert_int_eq(lm_topk_restore(r, ""), 0);
    ck_assert_int_eq(lm_topk_count(r), 0);
    lm_topk_free(r);
    lm_topk_free(t);
    /* mode min, k = 1, and the same step again replaces itself */
    ck_assert_int_eq(lm_topk_create(&t, tmp, 1, LM_TOPK_MIN), 0);
    ck_assert(offer(t, 5, 100, 2.0));
    ck_assert(!offer(t, 5, 101, 3.0));
    ck_assert(offer(t, 5, 102, 1.0));
    ck_assert(!exists(tmp, 5, 100) && exists(tmp, 5, 102));
    ck_assert(offer(t, 5, 102, 5.0)); /* re-validated */
    ck_assert_int_eq(lm_topk_count(t), 1);
    ck_assert(exists(tmp, 5, 102));
    lm_topk_free(t);
    /* k = 0 keeps none, k = -1 all */
    ck_assert_int_eq(lm_topk_create(&t, tmp, 0, LM_TOPK_MAX), 0);
    ck_assert(!offer(t, 9, 1, 1.0));
    lm_topk_free(t);
    ck_assert_int_eq(lm_topk_create(&t, tmp, -1, LM_TOPK_MAX), 0);
    for (int i = 0; i < 10; i++) ck_assert(offer(t, 9, 200 + i, i % 3));
    ck_assert_int_eq(lm_topk_count(t), 10);
    lm_topk_free(t);
    ck_assert_int_eq(lm_topk_create(&t, tmp, -2, LM_TOPK_MAX), LM_EINVAL);
    lm_topk_free(NULL);
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_rundir_suite(void) {
    Suite *s = suite_create("rundir");
    TCase *tc = tcase_create("rundir");
    tcase_add_test(tc, test_rundir_name_and_create);
    tcase_add_test(tc, test_metrics_jsonl);
    tcase_add_test(tc, test_ckpt_find_skips_torn_latest);
    tcase_add_test(tc, test_ckpt_find_none_is_an_error);
    tcase_add_test(tc, test_topk);
    suite_add_tcase(s, tc);
    return s;
}
