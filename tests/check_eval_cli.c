/* check_eval_cli.c — `lamac eval` end to end: the official folder layout scored against the
 * official InpaintingEvaluator's table (tests/fixtures/eval/e2e.csv, from
 * tests/ref/gen_eval_fixtures.py: SSIMScore, LPIPSScore vgg with the real vgg.pth, FIDScore,
 * lpips_fid100_f1, with the same formula backbone weights written here into a temporary
 * $TORCH_HOME under torch hub's file names), and bad input: a missing prediction, a prediction
 * of another size, missing weights files (metrics skipped, the path and the fetch script
 * named), too few images for a full-rank covariance (warning). */
#define _GNU_SOURCE
#include <check.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "data/image.h"
#include "tests/testutil.h"

#define FX "tests/fixtures/eval/"

static char g_tmp[64];

/* $g_tmp/th/hub/checkpoints/{vgg16-397923af,pt_inception-2015-12-05-6726825d}.pth with formula weights */
static void setup(void) {
    lm_test_tmpdir(g_tmp, sizeof g_tmp, "evalcli");
    char th[256];
    snprintf(th, sizeof th, "%s/th", g_tmp);
    lm_test_write_torch_home(th, lm_test_fill_formula, 0);
}

static void teardown(void) { lm_test_rmtree(g_tmp); }

typedef struct row { char metric[32], group[32]; double mean, std; } row;

static int read_csv(row *rows, int cap, const char *path, int has_n) {
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[512];
    int n = 0;
    ck_assert(fgets(line, sizeof line, f) != NULL); /* header */
    while (fgets(line, sizeof line, f) && n < cap) {
        char *m = strtok(line, ","), *g = strtok(NULL, ","), *a = strtok(NULL, ","), *b = strtok(NULL, ",\n");
        ck_assert(m && g);
        snprintf(rows[n].metric, sizeof rows[n].metric, "%s", m);
        snprintf(rows[n].group, sizeof rows[n].group, "%s", g);
        rows[n].mean = a && *a ? strtod(a, NULL) : NAN;
        rows[n].std = b && *b ? strtod(b, NULL) : NAN;
        n++;
    }
    (void)has_n;
    fclose(f);
    return n;
}

static int same(double a, double e, double atol, double rtol) {
    if (isnan(e)) return isnan(a);
    return fabs(a - e) <= atol + rtol * fabs(e);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

START_TEST(test_eval_matches_official_table) {
    char out[16384], th[128];
    snprintf(th, sizeof th, "%s/th", g_tmp);
    setenv("TORCH_HOME", th, 1);
    int rc = lm_test_run(out, sizeof out,
                         "eval --images " FX "e2e/images --predictions " FX "e2e/predictions --out %s/rep "
                         "--lpips-lin weights/lpips/vgg.pth --quiet", g_tmp);
    unsetenv("TORCH_HOME");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    char path[256];
    snprintf(path, sizeof path, "%s/rep/metrics.csv", g_tmp);
    row ours[200], off[200];
    int no = read_csv(ours, 200, path, 1), ne = read_csv(off, 200, FX "e2e.csv", 0);
    ck_assert_int_gt(ne, 20);
    double worst[3] = {0, 0, 0};
    for (int i = 0; i < ne; i++) {
        int found = -1;
        for (int j = 0; j < no; j++)
            if (!strcmp(ours[j].metric, off[i].metric) && !strcmp(ours[j].group, off[i].group)) found = j;
        ck_assert_msg(found >= 0, "official row %s/%s missing from metrics.csv", off[i].metric, off[i].group);
        int fid = !strcmp(off[i].metric, "fid");
        double atol = fid ? 1e-3 : 1e-5, rtol = fid ? 1e-4 : 1e-4;
        ck_assert_msg(same(ours[found].mean, off[i].mean, atol, rtol), "%s/%s mean %.10g official %.10g",
                      off[i].metric, off[i].group, ours[found].mean, off[i].mean);
        if (!fid && strcmp(off[i].metric, "lpips_fid100_f1"))
            ck_assert_msg(same(ours[found].std, off[i].std, 1e-5, 1e-4), "%s/%s std %.10g official %.10g",
                          off[i].metric, off[i].group, ours[found].std, off[i].std);
        if (!isnan(off[i].mean)) {
            double e = fabs(ours[found].mean - off[i].mean);
            int k = fid ? 2 : !strcmp(off[i].metric, "lpips") ? 1 : 0;
            if (e > worst[k]) worst[k] = e;
        }
    }
    /* every group we report exists in the official table too (same bins populated) */
    for (int j = 0; j < no; j++) {
        if (strcmp(ours[j].metric, "ssim") && strcmp(ours[j].metric, "lpips") && strcmp(ours[j].metric, "fid")) continue;
        int found = 0;
        for (int i = 0; i < ne; i++)
            found |= !strcmp(ours[j].metric, off[i].metric) && !strcmp(ours[j].group, off[i].group);
        ck_assert_msg(found, "we report %s/%s, the official table has no such row", ours[j].metric, ours[j].group);
    }
    printf("eval e2e vs official: max |err| ssim %.3g lpips %.3g fid %.3g\n", worst[0], worst[1], worst[2]);
    snprintf(path, sizeof path, "%s/rep/metrics.json", g_tmp);
    const char *js = slurp(path);
    ck_assert(strstr(js, "\"command\": \"lamac eval --images") != NULL);
    ck_assert(strstr(js, "vgg16-397923af.pth\", \"sha256\": \"") != NULL);
    ck_assert(strstr(js, "rank at most 9") != NULL); /* 10 images: warned, still reported */
    snprintf(path, sizeof path, "%s/rep/metrics.md", g_tmp);
    ck_assert(strstr(slurp(path), "| ssim | 80-90% |") != NULL);
}
END_TEST

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    ck_assert(a && b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) ck_assert(fwrite(buf, 1, n, b) == n);
    fclose(a);
    ck_assert_int_eq(fclose(b), 0);
}

START_TEST(test_eval_bad_input_and_missing_weights) {
    char pd[256], path[512], from[512], out[16384];
    snprintf(pd, sizeof pd, "%s/preds", g_tmp);
    ck_assert_int_eq(mkdir(pd, 0777), 0);
    const char *names[] = {"img1_mask000", "img1_mask001", "img2_mask000"};
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, FX "e2e/predictions/%s.png", names[i]);
        snprintf(path, sizeof path, "%s/%s.png", pd, names[i]);
        copy_file(from, path);
    }
    /* img2_mask001: a 10x12 prediction for a 48x40 image */
    lm_image small = {0};
    ck_assert_int_eq(lm_image_alloc(&small, 10, 12, 3), 0);
    memset(small.data, 128, 10 * 12 * 3);
    snprintf(path, sizeof path, "%s/img2_mask001.png", pd);
    ck_assert_int_eq(lm_image_write_png(path, &small), 0);
    lm_image_free(&small);
    setenv("TORCH_HOME", "/nonexistent/torchhome", 1);
    int rc = lm_test_run(out, sizeof out,
                         "eval --images " FX "e2e/images --predictions %s --out %s/bad "
                         "--lpips-lin weights/lpips/vgg.pth --quiet", pd, g_tmp);
    unsetenv("TORCH_HOME");
    ck_assert_msg(rc == 1, "exit %d (want 1: images left out): %s", rc, out);
    ck_assert_msg(strstr(out, "prediction missing") && strstr(out, "img0_mask000.png"), "%s", out);
    ck_assert_msg(strstr(out, "is 10x12 but the image is 48x40"), "%s", out);
    ck_assert_msg(strstr(out, "/nonexistent/torchhome/hub/checkpoints/vgg16-397923af.pth") &&
                      strstr(out, "/nonexistent/torchhome/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth") &&
                      strstr(out, "scripts/download-weights.sh"), "%s", out);
    snprintf(path, sizeof path, "%s/bad/metrics.json", g_tmp);
    const char *js = slurp(path);
    ck_assert(strstr(js, "\"images_evaluated\": 3") != NULL);
    ck_assert(strstr(js, "\"lpips\": {\"skipped\": true") != NULL);
    ck_assert(strstr(js, "\"fid\": {\"skipped\": true") != NULL);
    ck_assert(strstr(js, "\"ssim_fid100_f1\": {\"skipped\": true") != NULL);
    ck_assert(strstr(js, "\"ssim\": {\"total\": {\"mean\": ") != NULL);
    snprintf(path, sizeof path, "%s/bad/metrics.csv", g_tmp);
    ck_assert(strstr(slurp(path), "lpips,total,,,0") != NULL);
    /* nothing to evaluate at all: an error, no report */
    rc = lm_test_run(out, sizeof out, "eval --images %s --predictions %s --out %s/none --quiet", pd, pd, g_tmp);
    ck_assert_msg(rc == 1 && strstr(out, "mask"), "%s", out);
    rc = lm_test_run(out, sizeof out, "eval --images %s --quiet", pd);
    ck_assert_msg(rc == 1 && strstr(out, "required"), "%s", out);
}
END_TEST

/* --model: predictions as lamac predict / the official predict.py (pixel-equal to the predict
 * parity fixture's expected outputs), then scored */
START_TEST(test_eval_model_predicts_then_scores) {
    char out[16384], path[512], victim[512];
    /* a symlink planted at the report's metrics.json is replaced, never followed (atomic write) */
    snprintf(path, sizeof path, "%s/withmodel", g_tmp);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(victim, sizeof victim, "%s/victim.txt", g_tmp);
    FILE *vf = fopen(victim, "w");
    ck_assert_ptr_nonnull(vf);
    fputs("keep", vf);
    fclose(vf);
    snprintf(path, sizeof path, "%s/withmodel/metrics.json", g_tmp);
    ck_assert_int_eq(symlink(victim, path), 0);
    int rc = lm_test_run(out, sizeof out,
                         "eval --model tests/fixtures/predict/gen.safetensors --images tests/fixtures/predict/indir "
                         "--out %s/withmodel --no-lpips --no-fid --quiet", g_tmp);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    const char *names[2] = {"scene_mask", "sub/tiny_mask001"};
    for (int k = 0; k < 2; k++) {
        lm_image a = {0}, e = {0};
        snprintf(path, sizeof path, "%s/withmodel/predictions/%s.png", g_tmp, names[k]);
        ck_assert_msg(lm_image_read(&a, path, 3) == 0, "%s", lm_err_msg());
        snprintf(path, sizeof path, "tests/fixtures/predict/expected/%s.png", names[k]);
        ck_assert_msg(lm_image_read(&e, path, 3) == 0, "%s", lm_err_msg());
        ck_assert(a.w == e.w && a.h == e.h);
        ck_assert_msg(!memcmp(a.data, e.data, (size_t)a.w * a.h * 3), "%s differs from the official prediction", names[k]);
        lm_image_free(&a);
        lm_image_free(&e);
    }
    snprintf(path, sizeof path, "%s/withmodel/metrics.json", g_tmp);
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_msg(S_ISREG(st.st_mode), "metrics.json is still a symlink");
    ck_assert_str_eq(slurp(victim), "keep");
    const char *js = slurp(path);
    ck_assert(strstr(js, "\"images_evaluated\": 2") != NULL);
    ck_assert(strstr(js, "\"lpips\": {\"skipped\": true, \"reason\": \"disabled (--no-lpips)\"") != NULL);
    /* --model and --predictions together: refused */
    rc = lm_test_run(out, sizeof out, "eval --model x --predictions y --images z --out %s/w2", g_tmp);
    ck_assert_msg(rc == 1 && strstr(out, "one of --predictions / --model"), "%s", out);
}
END_TEST

Suite *check_eval_cli_suite(void) {
    Suite *s = suite_create("eval_cli");
    TCase *tc = tcase_create("eval_cli");
    tcase_set_timeout(tc, 900);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_eval_matches_official_table);
    tcase_add_test(tc, test_eval_bad_input_and_missing_weights);
    tcase_add_test(tc, test_eval_model_predicts_then_scores);
    suite_add_tcase(s, tc);
    return s;
}
