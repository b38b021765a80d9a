/* check_layers.c — the parameter registry and the basic layers: names, counts, default init
 * equal to torch.nn's for the same seed (tests/fixtures/layers/init.safetensors), reflect-padded
 * convolution, BatchNorm bookkeeping. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "core/err.h"
#include "model/layers.h"
#include "tests/testutil.h"

START_TEST(test_registry_names_and_counts) {
    long live = lt_live_count();
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_params_push(&p, "model.%d", 1);
    lm_params_push(&p, "ffc");
    lm_conv c;
    lm_conv_opts o = lm_conv_defaults();
    o.bias = 0;
    ck_assert_int_eq(lm_conv_init(&c, &p, "convl2l", 4, 8, 7, o), 0);
    lm_params_pop(&p);
    lm_bn bn;
    ck_assert_int_eq(lm_bn_init(&bn, &p, "bn_l", 8), 0);
    lm_params_pop(&p);
    lm_convt t;
    lm_params_push(&p, "model.%d", 20);
    ck_assert_int_eq(lm_convt_init(&t, &p, "", 8, 4, 3, 2, 1, 1, 1), 0);
    lm_params_pop(&p);
    ck_assert_str_eq(p.prefix, "");
    const char *want[] = {"model.1.ffc.convl2l.weight", "model.1.bn_l.weight", "model.1.bn_l.bias",
                          "model.1.bn_l.running_mean", "model.1.bn_l.running_var",
                          "model.1.bn_l.num_batches_tracked", "model.20.weight", "model.20.bias"};
    ck_assert_int_eq(p.n, 8);
    for (int i = 0; i < 8; i++) ck_assert_str_eq(p.items[i].name, want[i]);
    ck_assert_int_eq(lm_params_numel(&p, LM_PARAM), 4 * 8 * 49 + 16 + 8 * 4 * 9 + 4);
    ck_assert_int_eq(lm_params_numel(&p, LM_BUFFER), 17);
    ck_assert_int_eq(lt_requires_grad(c.w), 1);
    ck_assert_int_eq(lt_requires_grad(bn.mean), 0);
    ck_assert_int_eq(lt_size(t.w, 0), 8); /* ConvTranspose weight stored (in, out, k, k) */
    /* duplicates are refused */
    lm_params_push(&p, "model.%d", 1);
    lm_params_push(&p, "ffc");
    ck_assert_int_eq(lm_conv_init(&c, &p, "convl2l", 4, 8, 7, o), LM_EFAIL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "model.1.ffc.convl2l.weight registered twice"));
    lm_params_free(&p);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* Init parity: with the same seed, lamac's layers draw exactly what torch.nn's
 * reset_parameters draws (tests/ref/gen_layer_init_fixture.py, torch 1.13): kaiming_uniform_
 * (a = sqrt(5)) then the bias, each U(-1/sqrt(fan_in), +); ConvTranspose2d's fan_in from weight
 * dim 1 (Cout/groups · k · k). A wrong fan, bound or draw order changes every value. Tolerance:
 * rtol 1e-6 (the bound is computed as 1/sqrt(fan) here, gain·sqrt(3/fan) in PyTorch: last-bit
 * differences), measured max abs error printed. */
START_TEST(test_default_init_matches_pytorch) {
    long live = lt_live_count();
    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, "tests/fixtures/layers/init.safetensors") == 0, "%s", lm_err_msg());
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_conv c, g;
    lm_convt t;
    lm_bn bn;
    lt_manual_seed(11);
    ck_assert_int_eq(lm_conv_init(&c, &p, "conv", 4, 6, 3, lm_conv_defaults()), 0);
    lm_conv_opts o = lm_conv_defaults();
    o.groups = 2;
    o.bias = 0;
    lt_manual_seed(12);
    ck_assert_int_eq(lm_conv_init(&g, &p, "gconv", 4, 6, 3, o), 0);
    lt_manual_seed(13);
    ck_assert_int_eq(lm_convt_init(&t, &p, "convt", 6, 4, 3, 2, 1, 1, 1), 0);
    ck_assert_int_eq(lm_bn_init(&bn, &p, "bn", 5), 0);
    lt_scope_push();
    lm_test_errs e = {.name = "init"};
    lt_tensor *got[] = {c.w, c.b, g.w, t.w, t.b, bn.w, bn.b, bn.mean, bn.var};
    const char *key[] = {"conv.weight", "conv.bias", "gconv.weight", "convt.weight", "convt.bias",
                         "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};
    /* the same random draws; uniform_(-b, b) scales them in float32, which rounds by an ulp of b
     * differently on another kernel path (1.49e-8 with ATEN_CPU_CAPABILITY=default): the
     * float32 floor of the parity policy. A wrong bound moves values by 1% or more. */
    for (int i = 0; i < 9; i++)
        lm_test_expect_close(&e, got[i], lm_test_fixture(f, key[i]), LM_TEST_ENV_FLOOR_ABS, LM_TEST_ENV_FLOOR_REL,
                             key[i]);
    lm_test_errs_print("layers/init.safetensors", &e);
    /* the ConvTranspose bound is 1/sqrt(4·9) (dim 1), reached within 5% by 216 draws */
    double bound = 1.0 / sqrt(4.0 * 9);
    ck_assert(lt_item(lt_max(lt_abs(t.w))) <= bound);
    ck_assert(lt_item(lt_max(lt_abs(t.w))) > 0.95 * bound);
    lt_scope_pop();
    lm_params_free(&p);
    lm_safetensors_close(f);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_reflect_conv_and_bn_tracking) {
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_conv c;
    lm_conv_opts o = lm_conv_defaults();
    o.padding = 1;
    o.pad_mode = LT_PAD_REFLECT;
    o.bias = 0;
    ck_assert_int_eq(lm_conv_init(&c, &p, "c", 1, 1, 3, o), 0);
    lm_bn bn;
    ck_assert_int_eq(lm_bn_init(&bn, &p, "bn", 1), 0);
    lt_scope_push();
    /* a sum kernel on a constant image with reflect padding gives 9 everywhere (zeros would not) */
    lt_no_grad_push();
    lt_fill_(c.w, 1);
    lt_no_grad_pop();
    int64_t s[4] = {1, 1, 4, 5};
    lt_tensor *y = lm_conv_forward(&c, lt_ones(s, 4, LT_F32, LT_CPU));
    ck_assert_int_eq(lt_size(y, 3), 5);
    ck_assert_double_eq_tol(lt_item(lt_min(y)), 9, 1e-6);
    ck_assert_double_eq_tol(lt_item(lt_max(y)), 9, 1e-6);
    lt_tensor *x = lt_randn(s, 4, LT_F32, LT_CPU);
    lm_bn_forward(&bn, x, 1);
    lm_bn_forward(&bn, x, 1);
    lm_bn_forward(&bn, x, 0);
    ck_assert_int_eq((int)lt_item(bn.nbt), 2);
    ck_assert_double_eq_tol(lt_item(bn.mean), lt_item(lt_mean(x)) * (1 - 0.81), 1e-5);
    lt_scope_pop();
    lm_params_free(&p);
}
END_TEST

Suite *check_layers_suite(void) {
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, test_registry_names_and_counts);
    tcase_add_test(tc, test_default_init_matches_pytorch);
    tcase_add_test(tc, test_reflect_conv_and_bn_tracking);
    suite_add_tcase(s, tc);
    return s;
}
