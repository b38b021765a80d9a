/* check_eval.c — evaluation metrics against the official code (fixtures from
 * tests/ref/gen_eval_fixtures.py): SSIM / PSNR / L1 per image, mask-area bins under both
 * official conventions at exact bin edges, group mean/std, the integral metrics, LPIPS 'alex'
 * with the real linear layers, the FID Inception's 2048-d features (formula weights computed
 * here as in the script), the Fréchet distance against scipy's sqrtm, and the torchvision /
 * pt_inception key layouts (expanded-tensor .pth files) loading into our registries. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/sha256.h"
#include "eval/bins.h"
#include "eval/fid.h"
#include "eval/lpips.h"
#include "eval/metrics.h"
#include "model/alexnet.h"
#include "model/inception.h"
#include "model/weights.h"
#include "tests/testutil.h"

#define FX "tests/fixtures/eval/"

static lm_safetensors_file *open_fx(const char *name) {
    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, name) == 0, "%s", lm_err_msg());
    return f;
}

static double meta_d(const lm_safetensors_file *f, const char *k) {
    const char *v = lm_safetensors_meta(f, k);
    ck_assert_msg(v != NULL, "fixture metadata %s missing", k);
    return strtod(v, NULL);
}

/* ---- SSIM, PSNR, L1 -------------------------------------------------------------------------- */
START_TEST(test_ssim_psnr_l1_parity) {
    lm_safetensors_file *f = open_fx(FX "ssim.safetensors");
    lt_scope_push();
    lt_tensor *a = lm_test_fixture(f, "a"), *b = lm_test_fixture(f, "b");
    lt_tensor *s = lm_ssim(a, b), *p = lm_psnr(a, b), *l = lm_l1(a, b);
    ck_assert_msg(s && p && l, "%s", lt_error());
    lm_test_expect_close(NULL, s, lm_test_fixture(f, "ssim"), 1e-6, 1e-5, "ssim");
    lm_test_expect_close(NULL, p, lm_test_fixture(f, "psnr"), 1e-4, 1e-5, "psnr");
    lm_test_expect_close(NULL, l, lm_test_fixture(f, "l1"), 1e-7, 1e-5, "l1");
    /* identical images: SSIM 1, PSNR capped, L1 0 */
    float sv[4];
    ck_assert_int_eq(lt_to_buffer(s, sv, sizeof sv), 0);
    ck_assert(fabs(sv[3] - 1.0) < 1e-6);
    /* a shape mismatch is an error, not a number */
    ck_assert_ptr_null(lm_ssim(a, lt_narrow(b, 3, 0, 10)));
    ck_assert(strstr(lt_error(), "same shape") != NULL);
    lt_scope_pop();
    lm_safetensors_close(f);
}
END_TEST

/* ---- bins --------------------------------------------------------------------------------------- */
START_TEST(test_bins_at_edges_both_conventions) {
    lm_safetensors_file *f = open_fx(FX "bins.safetensors");
    lt_scope_push();
    lt_tensor *counts = lm_test_fixture(f, "counts"), *off = lm_test_fixture(f, "offline"),
              *onl = lm_test_fixture(f, "online"), *area = lm_test_fixture(f, "area");
    int n = (int)lt_numel(counts);
    int32_t *c = lt_data(counts), *eo = lt_data(off), *el = lt_data(onl);
    float *ea = lt_data(area);
    uint8_t m[500];
    int differ = 0;
    for (int i = 0; i < n; i++) {
        memset(m, 0, sizeof m);
        memset(m, 255, (size_t)c[i]);
        float a = lm_mask_area_u8(m, 500);
        ck_assert_msg(a == ea[i], "area of %d/500: %.9g, official %.9g", c[i], a, ea[i]);
        int bo = lm_area_bin(a, 10, LM_BINS_OFFLINE), bl = lm_area_bin(a, 10, LM_BINS_ONLINE);
        ck_assert_msg(bo == eo[i], "offline bin of %d/500: %d, official %d", c[i], bo, eo[i]);
        ck_assert_msg(bl == el[i], "online bin of %d/500: %d, official %d", c[i], bl, el[i]);
        differ += bo != bl;
    }
    ck_assert_msg(differ > 0, "the fixture must hold an area where the conventions disagree");
    /* names */
    char name[32];
    const char *names = lm_safetensors_meta(f, "names");
    ck_assert_ptr_nonnull(names);
    char want[256] = "";
    for (int b = 0; b < 10; b++) {
        if (b) strcat(want, ",");
        strcat(want, lm_bin_name(name, sizeof name, b, 10));
    }
    ck_assert_str_eq(want, names);
    /* group statistics (official PairwiseScore.get_value) */
    lt_tensor *vals = lm_test_fixture(f, "values");
    float *vf = lt_data(vals);
    double *v = malloc(sizeof(double) * (size_t)n);
    int *g = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        v[i] = vf[i];
        g[i] = eo[i];
    }
    float *gm = lt_data(lm_test_fixture(f, "group_mean")), *gs = lt_data(lm_test_fixture(f, "group_std"));
    for (int b = 0; b < 10; b++) {
        lm_stat s = lm_group_stat(v, g, n, b);
        ck_assert_msg(fabs(s.mean - gm[b]) < 1e-6 && fabs(s.std - gs[b]) < 1e-6,
                      "bin %d: %g/%g vs %g/%g", b, s.mean, s.std, gm[b], gs[b]);
    }
    lm_stat t = lm_group_stat(v, g, n, -1);
    ck_assert(fabs(t.mean - meta_d(f, "total_mean")) < 1e-12);
    ck_assert(fabs(t.std - meta_d(f, "total_std")) < 1e-12);
    lm_stat e = lm_group_stat(v, g, n, 42);
    ck_assert(e.n == 0 && isnan(e.mean));
    /* integral metrics */
    ck_assert(fabs(lm_ssim_fid100_f1(0.8, 12.5) - meta_d(f, "ssim_fid100_f1")) < 1e-12);
    ck_assert(fabs(lm_lpips_fid100_f1(0.2, 12.5) - meta_d(f, "lpips_fid100_f1")) < 1e-12);
    ck_assert(fabs(lm_ssim_fid100_f1(0.8, 150.0) - meta_d(f, "ssim_fid100_f1_big_fid")) < 1e-12);
    free(v);
    free(g);
    lt_scope_pop();
    lm_safetensors_close(f);
}
END_TEST

/* ---- LPIPS -------------------------------------------------------------------------------------- */
static void lpips_parity(lm_lpips_net net, const char *linfile, const char *fixture) {
    lm_lpips *l = NULL;
    ck_assert_msg(lm_lpips_create(&l, net, LT_F32, LT_CPU) == 0, "%s", lm_err_msg());
    lm_test_fill_formula(lm_lpips_backbone(l));
    lm_weights_src *s = NULL;
    ck_assert_msg(lm_weights_open(&s, linfile) == 0, "%s", lm_err_msg());
    ck_assert_str_eq(lm_weights_kind(s), "pth-legacy");
    ck_assert_msg(lm_weights_load(lm_lpips_lin(l), s, "", LM_WEIGHTS_STRICT, NULL) == 0, "%s", lm_err_msg());
    lm_weights_close(s);
    lm_safetensors_file *f = open_fx(fixture);
    lt_scope_push();
    lt_no_grad_push();
    lt_tensor *d = lm_lpips_forward(l, lm_test_fixture(f, "pred"), lm_test_fixture(f, "target"));
    ck_assert_msg(d != NULL, "%s", lt_error());
    lm_test_expect_close(NULL, d, lm_test_fixture(f, "lpips"), 1e-6, 1e-4, lm_lpips_net_name(net));
    lt_no_grad_pop();
    lt_scope_pop();
    lm_safetensors_close(f);
    lm_lpips_free(l);
}

START_TEST(test_lpips_alex_parity) {
    lpips_parity(LM_LPIPS_ALEX, "weights/lpips/alex.pth", FX "lpips_alex.safetensors");
}
END_TEST

START_TEST(test_lpips_vgg_parity) {
    lpips_parity(LM_LPIPS_VGG, "weights/lpips/vgg.pth", FX "lpips_vgg.safetensors");
}
END_TEST

/* torchvision's vgg16 key layout: features.{0,2,5,...,28} load, classifier.* ignored. */
START_TEST(test_vgg16_layout_file) {
    lm_lpips *l = NULL;
    ck_assert_int_eq(lm_lpips_create(&l, LM_LPIPS_VGG, LT_F32, LT_CPU), 0);
    int rc = lm_lpips_load(l, FX "vgg16_layout.pth", "weights/lpips/vgg.pth");
    ck_assert_msg(rc == 0, "%s", lm_err_msg());
    lm_param *w = lm_params_find(lm_lpips_backbone(l), "features.28.bias"); /* 26th tensor */
    ck_assert_ptr_nonnull(w);
    lt_scope_push();
    float v = (float)lt_item(lt_select(w->t, 0, 9));
    ck_assert_msg(fabsf(v - 0.001f * 10 * 26) < 1e-6, "%g", v);
    lt_scope_pop();
    /* a layout whose shapes do not fit (alexnet into vgg) is refused with the key */
    ck_assert_int_eq(lm_lpips_load(l, FX "alexnet_layout.pth", "weights/lpips/vgg.pth"), LM_EINVAL);
    ck_assert_msg(strstr(lm_err_msg(), "features.0.weight") != NULL, "%s", lm_err_msg());
    lm_lpips_free(l);
}
END_TEST

START_TEST(test_lpips_missing_backbone_names_path) {
    lm_lpips *l = NULL;
    ck_assert_int_eq(lm_lpips_create(&l, LM_LPIPS_ALEX, LT_F32, LT_CPU), 0);
    setenv("TORCH_HOME", "/nonexistent/th", 1);
    int rc = lm_lpips_load(l, NULL, "weights/lpips/alex.pth");
    unsetenv("TORCH_HOME");
    ck_assert_int_eq(rc, LM_EIO);
    ck_assert_msg(strstr(lm_err_msg(), "/nonexistent/th/hub/checkpoints/alexnet-owt-7be5be79.pth") &&
                      strstr(lm_err_msg(), "scripts/download-weights.sh"),
                  "%s", lm_err_msg());
    lm_lpips_free(l);
}
END_TEST

/* torchvision's alexnet key layout (an expanded-tensor torch.save file: every features.* loads,
 * classifier.* is ignored; values are 0.001 * (channel + 1) * (index in state_dict + 1)). */
START_TEST(test_alexnet_layout_file) {
    lm_lpips *l = NULL;
    ck_assert_int_eq(lm_lpips_create(&l, LM_LPIPS_ALEX, LT_F32, LT_CPU), 0);
    int rc = lm_lpips_load(l, FX "alexnet_layout.pth", "weights/lpips/alex.pth");
    ck_assert_msg(rc == 0, "%s", lm_err_msg());
    lm_params *p = lm_lpips_backbone(l);
    lm_param *w = lm_params_find(p, "features.3.weight"); /* 3rd tensor of the state_dict */
    ck_assert_ptr_nonnull(w);
    lt_scope_push();
    float v = (float)lt_item(lt_select(lt_flatten(w->t, 0, 3), 0, 5 * 64 * 25 + 7));
    ck_assert_msg(fabsf(v - 0.001f * 6 * 3) < 1e-7, "%g", v);
    lt_scope_pop();
    lm_lpips_free(l);
}
END_TEST

/* ---- Inception ---------------------------------------------------------------------------------- */
START_TEST(test_inception_features_parity) {
    lm_inception *n = NULL;
    ck_assert_msg(lm_inception_create(&n, LT_F32, LT_CPU) == 0, "%s", lm_err_msg());
    lm_test_fill_formula(lm_inception_params(n));
    lm_safetensors_file *f = open_fx(FX "inception.safetensors");
    lt_scope_push();
    lt_no_grad_push();
    lt_tensor *x = lm_test_fixture(f, "x");
    lt_tensor *feats = lm_inception_features(n, x, 1); // (8, 2048)
    ck_assert_msg(feats != NULL, "%s", lt_error());
    lt_tensor *e = lm_test_fixture(f, "feats");
    lm_test_expect_close(NULL, feats, e, 1e-4, 1e-4, "inception pool3");
    /* FID of the first 4 against the last 4 (2048-d, rank-deficient covariances), against the
     * official value from scipy's sqrtm */
    float *fv = lt_data(lt_contiguous(feats));
    double fid = 0;
    ck_assert_msg(lm_fid_from_features(&fid, fv, 4, fv + 4 * 2048, 4, 2048) == 0, "%s", lm_err_msg());
    double want = meta_d(f, "fid_4v4");
    printf("inception fid 4v4: %.10g official (scipy sqrtm) %.10g rel err %.3g\n", fid, want,
           fabs(fid - want) / want);
    ck_assert(fabs(fid - want) <= 1e-3 * want);
    lt_no_grad_pop();
    lt_scope_pop();
    lm_safetensors_close(f);
    lm_inception_free(n);
}
END_TEST

START_TEST(test_inception_layout_file) {
    lm_inception *n = NULL;
    ck_assert_int_eq(lm_inception_create(&n, LT_F32, LT_CPU), 0);
    lm_weights_src *s = NULL;
    ck_assert_msg(lm_weights_open(&s, FX "inception_layout.pth") == 0, "%s", lm_err_msg());
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    ck_assert_int_eq(lm_weights_load(lm_inception_params(n), s, "", LM_WEIGHTS_NONSTRICT, &rep), 0);
    for (int i = 0; i < rep.n; i++) /* only fc.weight / fc.bias are the file's extras */
        ck_assert_msg(rep.items[i].problem == LM_WP_UNEXPECTED && !strncmp(rep.items[i].key, "fc.", 3),
                      "%s: %s", rep.items[i].key, lm_weights_problem_name(rep.items[i].problem));
    ck_assert_int_eq(rep.n, 2);
    ck_assert_int_eq(rep.loaded, lm_inception_params(n)->n);
    lm_weights_report_free(&rep);
    lm_weights_close(s);
    lm_inception_free(n);
}
END_TEST

/* ---- Fréchet distance --------------------------------------------------------------------------- */
START_TEST(test_frechet_vs_scipy) {
    lm_safetensors_file *f = open_fx(FX "frechet.safetensors");
    lt_scope_push();
    lt_tensor *a = lm_test_fixture(f, "a"), *b = lm_test_fixture(f, "b");
    double fid = 0, self = 0;
    ck_assert_msg(lm_fid_from_features(&fid, lt_data(a), 300, lt_data(b), 250, 64) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_fid_from_features(&self, lt_data(a), 300, lt_data(a), 300, 64), 0);
    double want = meta_d(f, "fid");
    printf("frechet 64-d: %.12g scipy %.12g rel err %.3g; self %.3g (scipy %s)\n", fid, want,
           fabs(fid - want) / want, self, lm_safetensors_meta(f, "fid_self"));
    ck_assert(fabs(fid - want) <= 1e-9 * want);
    ck_assert(fabs(self) < 1e-8);
    /* one row is not enough */
    ck_assert_int_eq(lm_fid_from_features(&fid, lt_data(a), 1, lt_data(b), 250, 64), LM_EINVAL);
    lt_scope_pop();
    lm_safetensors_close(f);
}
END_TEST

START_TEST(test_sha256_vectors) {
    /* FIPS 180-2 examples: "abc", the 448-bit message, and "" */
    const char *msg[3] = {"abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", ""};
    const char *want[3] = {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
                           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
    for (int k = 0; k < 3; k++) {
        lm_sha256 s;
        uint8_t d[32];
        char hex[65];
        lm_sha256_init(&s);
        /* fed in two pieces to cross the block buffer */
        size_t n = strlen(msg[k]), h = n / 3;
        lm_sha256_update(&s, msg[k], h);
        lm_sha256_update(&s, msg[k] + h, n - h);
        lm_sha256_final(&s, d);
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
        ck_assert_str_eq(hex, want[k]);
    }
    char hex[65];
    ck_assert_int_eq(lm_sha256_file(hex, "/nonexistent/x"), LM_EIO);
}
END_TEST

Suite *check_eval_suite(void) {
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_ssim_psnr_l1_parity);
    tcase_add_test(tc, test_bins_at_edges_both_conventions);
    tcase_add_test(tc, test_lpips_alex_parity);
    tcase_add_test(tc, test_lpips_vgg_parity);
    tcase_add_test(tc, test_vgg16_layout_file);
    tcase_add_test(tc, test_lpips_missing_backbone_names_path);
    tcase_add_test(tc, test_alexnet_layout_file);
    tcase_add_test(tc, test_inception_features_parity);
    tcase_add_test(tc, test_inception_layout_file);
    tcase_add_test(tc, test_frechet_vs_scipy);
    tcase_add_test(tc, test_sha256_vectors);
    suite_add_tcase(s, tc);
    return s;
}
