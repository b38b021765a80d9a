/* check_discriminator.c — pix2pixhd_nlayer against the official NLayerDiscriminator:
 * parameter count and keys of the default (ndf 64, n_layers 4), and parity on a small one
 * (ndf 4, n_layers 4, input (2, 3, 64, 64); tests/ref/gen_discriminator_fixtures.py):
 * training-mode logits and features, parameter gradients of a scalar loss, BatchNorm running
 * statistics after the forward, and the R1 penalty (create_graph, double backward). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "model/discriminator.h"
#include "io/safetensors.h"
#include "tests/testutil.h"

#define FIXTURE "tests/fixtures/discriminator/nlayer_small.safetensors"

static lm_discriminator_opts small_opts(void) {
    lm_discriminator_opts o = lm_test_discriminator_opts();
    o.ndf = 4;
    o.n_layers = 4;
    return o;
}

START_TEST(test_default_count_and_keys) {
    long live = lt_live_count();
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_discriminator *d = NULL;
    lm_discriminator_opts o = lm_test_discriminator_opts();
    ck_assert_int_eq(lm_discriminator_create(&d, &p, &o), 0);
    ck_assert_int_eq(lm_params_numel(&p, LM_PARAM), 6962369);
    const char *keys[] = {"model0.0.weight", "model0.0.bias", "model1.0.weight", "model1.1.weight",
                          "model1.1.running_mean", "model1.1.running_var",
                          "model1.1.num_batches_tracked", "model4.1.bias", "model5.0.weight",
                          "model5.0.bias"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ck_assert_msg(lm_params_find(&p, keys[i]) != NULL, "missing %s", keys[i]);
    ck_assert_ptr_null(lm_params_find(&p, "model0.1.weight")); /* no BN in model0 */
    ck_assert_ptr_null(lm_params_find(&p, "model5.1.weight")); /* nor in the last conv */
    /* 4 convs of stride 2 keep 64 -> 33 -> 17 -> 9 -> 5, then two stride-1 convs +1 each */
    lt_scope_push();
    int64_t s[4] = {1, 3, 64, 64};
    lt_tensor *feats[LM_DISC_MAX_FEATS];
    int nf = 0;
    lt_no_grad_push();
    lt_tensor *y = lm_discriminator_forward(d, lt_rand(s, 4, LT_F32, LT_CPU), 0, feats, &nf);
    lt_no_grad_pop();
    ck_assert_msg(y != NULL, "%s", lt_error());
    ck_assert_int_eq(nf, 5);
    ck_assert_int_eq(lt_size(y, 1), 1);
    ck_assert_int_eq(lt_size(y, 2), 7);
    ck_assert_int_eq(lt_size(feats[0], 1), 64);
    ck_assert_int_eq(lt_size(feats[3], 1), 512);
    ck_assert_int_eq(lt_size(feats[4], 1), 512);
    ck_assert_int_eq(lt_size(feats[4], 3), 6);
    lt_scope_pop();
    lm_discriminator_free(d);
    lm_params_free(&p);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_unsupported_kind) {
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_discriminator *d = NULL;
    lm_discriminator_opts o = lm_test_discriminator_opts();
    snprintf(o.kind, sizeof o.kind, "pix2pixhd_nlayer_multidilated");
    ck_assert_int_eq(lm_discriminator_create(&d, &p, &o), LM_ENOTSUP);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "pix2pixhd_nlayer_multidilated"));
    ck_assert_ptr_null(d);
    ck_assert_int_eq(p.n, 0);
    lm_params_free(&p);
}
END_TEST

START_TEST(test_parity_forward_backward) {
    long live = lt_live_count();
    lm_st_file *f = NULL;
    ck_assert_msg(lm_st_open(&f, FIXTURE) == 0, "%s", lm_err_msg());
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_discriminator *d = NULL;
    lm_discriminator_opts o = small_opts();
    ck_assert_int_eq(lm_discriminator_create(&d, &p, &o), 0);
    lt_scope_push();
    lm_test_load_weights(&p, f, "w.");
    lt_tensor *feats[LM_DISC_MAX_FEATS];
    int nf = 0;
    lt_tensor *y = lm_discriminator_forward(d, lm_test_fixture(f, "x"), 1, feats, &nf);
    ck_assert_int_eq(nf, 5);
    lm_test_expect_close(NULL, y, lm_test_fixture(f, "logits"), 1e-5, 1e-4, "logits");
    char key[300];
    lt_tensor *loss = lt_sum(lt_mul(y, lm_test_fixture(f, "c")));
    for (int i = 0; i < nf; i++) {
        snprintf(key, sizeof key, "f%d", i);
        lm_test_expect_close(NULL, feats[i], lm_test_fixture(f, key), 1e-5, 1e-4, key);
        loss = lt_add(loss, lt_mean(lt_mul(feats[i], feats[i])));
    }
    ck_assert_int_eq(lt_backward(loss), 0);
    for (int i = 0; i < p.n; i++) {
        if (p.items[i].kind == LM_PARAM) {
            snprintf(key, sizeof key, "g.%s", p.items[i].name);
            lm_test_expect_close(NULL, lt_grad_of(p.items[i].t), lm_test_fixture(f, key), 1e-5, 1e-3, key);
        } else {
            snprintf(key, sizeof key, "after.%s", p.items[i].name);
            lm_test_expect_close(NULL, p.items[i].t, lm_test_fixture(f, key), 1e-6, 1e-5, key);
        }
    }
    lt_scope_pop();
    lm_discriminator_free(d);
    lm_params_free(&p);
    lm_st_close(f);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_parity_r1_double_backward) {
    long live = lt_live_count();
    lm_st_file *f = NULL;
    ck_assert_msg(lm_st_open(&f, FIXTURE) == 0, "%s", lm_err_msg());
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_discriminator *d = NULL;
    lm_discriminator_opts o = small_opts();
    ck_assert_int_eq(lm_discriminator_create(&d, &p, &o), 0);
    lt_scope_push();
    lm_test_load_weights(&p, f, "w.");
    lt_tensor *real = lm_test_fixture(f, "x"); /* (2, 3, 64, 64), a leaf */
    ck_assert_int_eq(lt_set_requires_grad(real, 1), 0);
    lt_tensor *y = lm_discriminator_forward(d, real, 1, NULL, NULL);
    lt_tensor *sum = lt_sum(y), *g = NULL;
    ck_assert_int_eq(lt_grad(&sum, 1, &real, 1, LT_GRAD_CREATE_GRAPH, &g), 0);
    lm_test_expect_close(NULL, g, lm_test_fixture(f, "r1.grad_real"), 1e-6, 1e-3, "r1 grad_real");
    /* per-sample squared L2 norm, averaged over the batch */
    lt_tensor *pen = lt_mul_scalar(lt_sum(lt_mul(g, g)), 1.0 / (double)lt_size(g, 0));
    int64_t one[1] = {1};
    lm_test_expect_close(NULL, lt_reshape(pen, one, 1), lm_test_fixture(f, "r1.penalty"), 1e-6, 1e-4, "r1 penalty");
    ck_assert_int_eq(lt_backward(pen), 0);
    char key[300];
    int checked = 0;
    for (int i = 0; i < p.n; i++) {
        if (p.items[i].kind != LM_PARAM) continue;
        snprintf(key, sizeof key, "r1g.%s", p.items[i].name);
        lt_tensor *ref = lm_test_fixture(f, key);
        /* an undefined grad (the last conv's bias) means zeros */
        lt_tensor *gp = lt_has_grad(p.items[i].t) ? lt_grad_of(p.items[i].t) : lt_mul_scalar(ref, 0);
        /* biases directly before a training-mode BN get a gradient that is zero in exact
         * arithmetic: both sides are rounding noise, compared with an absolute tolerance */
        lm_test_expect_close(NULL, gp, ref, 1e-4, 2e-3, key);
        checked++;
    }
    ck_assert_int_eq(checked, 20);
    lt_scope_pop();
    lm_discriminator_free(d);
    lm_params_free(&p);
    lm_st_close(f);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* A failing forward reports through lm_err like the generator's (one error channel,
 * model/lt_err.h): context + the shim's message, code LM_ETORCH. */
START_TEST(test_forward_failure_sets_lm_err) {
    long live = lt_live_count();
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_discriminator *d = NULL;
    lm_discriminator_opts o = small_opts();
    ck_assert_int_eq(lm_discriminator_create(&d, &p, &o), 0);
    lt_scope_push();
    int64_t s[4] = {1, 5, 32, 32}; /* 5 channels, the first conv wants 3 */
    lm_err_clear();
    lt_error_clear();
    ck_assert_ptr_null(lm_discriminator_forward(d, lt_rand(s, 4, LT_F32, LT_CPU), 1, NULL, NULL));
    ck_assert_int_eq(lm_err_last_code(), LM_ETORCH);
    ck_assert_msg(!strncmp(lm_err_msg(), "discriminator forward: model0: ", 31), "%s", lm_err_msg());
    ck_assert_msg(strstr(lm_err_msg(), lt_error()) != NULL && lt_error()[0], "%s", lm_err_msg());
    lm_err_clear();
    ck_assert_ptr_null(lm_discriminator_forward(d, NULL, 1, NULL, NULL));
    ck_assert_int_eq(lm_err_last_code(), LM_ETORCH);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "discriminator forward"));
    lt_scope_pop();
    lm_discriminator_free(d);
    lm_params_free(&p);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

Suite *check_discriminator_suite(void) {
    Suite *s = suite_create("discriminator");
    TCase *tc = tcase_create("discriminator");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_default_count_and_keys);
    tcase_add_test(tc, test_unsupported_kind);
    tcase_add_test(tc, test_forward_failure_sets_lm_err);
    tcase_add_test(tc, test_parity_forward_backward);
    tcase_add_test(tc, test_parity_r1_double_backward);
    suite_add_tcase(s, tc);
    return s;
}
