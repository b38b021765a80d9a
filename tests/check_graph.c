/* check_graph.c — model/graph: the inference graph that the exporters translate. For every
 * generator layout lamac builds (ffc_resnet as lama-fourier and big-lama, with the spectral
 * position encoding, the LFU, gating, each fft norm, each output activation; pix2pixhd_global
 * and _multidilated), the graph run with the shim's ops (lm_graph_run) equals the eval-mode
 * forward in float64 to 1e-12 (the same ops in the same order), on square and non-square
 * inputs; lm_graph_infer gives every node's shape as the run does and refuses sizes the network
 * cannot take. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/generator.h"
#include "model/graph.h"
#include "shim/lt.h"
#include "tests/testutil.h"

static double max_abs_diff(lt_tensor *a, lt_tensor *b) {
    return lt_item(lt_max(lt_abs(lt_sub(a, b))));
}

/* graph run == eval forward (float64) at each size; shapes from lm_graph_infer match. */
static void expect_graph_is_forward(const lm_generator_opts *o, const int (*sizes)[2], int n_sizes) {
    lm_test_gen m;
    lm_test_gen_open(&m, o, LT_F64, 7);
    lm_graph g;
    ck_assert_msg(lm_generator_emit(m.g, &g) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(g.input_nc, o->input_nc);
    ck_assert_int_eq(g.output_nc, o->output_nc);
    ck_assert_int_eq(g.modulo, 1 << o->n_downsampling);
    lt_no_grad_push();
    for (int s = 0; s < n_sizes; s++) {
        int64_t H = sizes[s][0], W = sizes[s][1];
        lt_scope_push();
        lt_manual_seed(11 + s);
        int64_t shape[4] = {2, o->input_nc, H, W};
        lt_tensor *x = lt_uniform_(lt_empty(shape, 4, LT_F64, LT_CPU), 0, 1);
        lt_tensor *want = lm_generator_forward(m.g, x, 0), *got = lm_graph_run(&g, x);
        ck_assert_msg(want && got, "%s", lt_error());
        ck_assert_int_eq(lt_dim(got), 4);
        for (int d = 0; d < 4; d++) ck_assert_int_eq(lt_size(got, d), lt_size(want, d));
        double diff = max_abs_diff(got, want);
        ck_assert_msg(diff <= 1e-12, "%s %lldx%lld: graph vs forward max |diff| %g", o->kind,
                      (long long)H, (long long)W, diff);
        int64_t (*dims)[3] = malloc((size_t)g.len * sizeof *dims);
        ck_assert_msg(lm_graph_infer(&g, H, W, dims) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(dims[g.out][0], o->output_nc);
        ck_assert_int_eq(dims[g.out][1], H);
        ck_assert_int_eq(dims[g.out][2], W);
        free(dims);
        lt_scope_pop();
    }
    lt_no_grad_pop();
    lm_graph_free(&g);
    lm_test_gen_close(&m);
}

static const int SIZES[3][2] = {{32, 32}, {24, 40}, {48, 16}};
static const int SQUARE[2][2] = {{32, 32}, {16, 16}};

START_TEST(test_ffc_lama_fourier) {
    lm_generator_opts o = lm_test_small_ffc_opts(2);
    expect_graph_is_forward(&o, SIZES, 3);
}
END_TEST

START_TEST(test_ffc_big_lama_shape) {
    /* big-lama: 3 downsamplings, ratio_gout 0 until the last one, add_out_act sigmoid */
    lm_generator_opts o = lm_test_small_ffc_opts(2);
    o.n_downsampling = 3;
    o.n_blocks = 3;
    expect_graph_is_forward(&o, SIZES, 3);
}
END_TEST

START_TEST(test_ffc_variants) {
    lm_generator_opts o = lm_test_small_ffc_opts(2);
    o.resnet_conv_kwargs.spectral_pos_encoding = 1;
    strcpy(o.resnet_conv_kwargs.fft_norm, "backward");
    o.add_out_act = LM_ACT_TANH;
    expect_graph_is_forward(&o, SIZES, 3);
    o = lm_test_small_ffc_opts(2);
    strcpy(o.resnet_conv_kwargs.fft_norm, "forward");
    o.add_out_act = LM_ACT_NONE;
    o.resnet_conv_kwargs.gated = 1;
    expect_graph_is_forward(&o, SIZES, 3);
    o = lm_test_small_ffc_opts(2);
    o.ngf = 16; /* the LFU needs cout/2 divisible by 4 in the global branch */
    o.resnet_conv_kwargs.enable_lfu = 1;
    expect_graph_is_forward(&o, SQUARE, 2);
}
END_TEST

START_TEST(test_pix2pixhd) {
    lm_generator_opts o = lm_test_small_ffc_opts(2);
    strcpy(o.kind, "pix2pixhd_global");
    expect_graph_is_forward(&o, SIZES, 3);
    strcpy(o.kind, "pix2pixhd_multidilated");
    o.multidilation_dilation_num = 4;
    static const int WIDE[2][2] = {{40, 48}, {64, 40}}; /* reflect padding up to 8 at 1/4 size */
    expect_graph_is_forward(&o, WIDE, 2);
}
END_TEST

START_TEST(test_infer_refuses) {
    lm_generator_opts o = lm_test_small_ffc_opts(2);
    o.resnet_conv_kwargs.enable_lfu = 1;
    o.ngf = 16;
    lm_test_gen m;
    lm_test_gen_open(&m, &o, LT_F32, 7);
    lm_graph g;
    ck_assert_msg(lm_generator_emit(m.g, &g) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(g.needs_square, 1);
    int64_t (*dims)[3] = malloc((size_t)g.len * sizeof *dims);
    ck_assert_int_eq(lm_graph_infer(&g, 32, 32, dims), 0);
    ck_assert_int_lt(lm_graph_infer(&g, 32, 34, dims), 0); /* not a multiple of 4 */
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "multiple"));
    ck_assert_int_lt(lm_graph_infer(&g, 32, 64, dims), 0); /* the LFU: square only */
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "square"));
    free(dims);
    lm_graph_free(&g);
    lm_test_gen_close(&m);
}
END_TEST

START_TEST(test_graph_errors_propagate) {
    lm_graph g;
    ck_assert_int_eq(lm_graph_init(&g, 4), 0);
    int bad = lm_graph_unary(&g, LM_GOP_RELU, 7); /* not an earlier node */
    ck_assert_int_lt(bad, 0);
    ck_assert_int_eq(lm_graph_unary(&g, LM_GOP_RELU, bad), bad); /* an error id passes through */
    int ids[2] = {0, bad};
    ck_assert_int_eq(lm_graph_cat(&g, ids, 2, 1), bad);
    ck_assert_int_eq(g.len, 1);
    lm_graph_free(&g);
}
END_TEST

Suite *check_graph_suite(void) {
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_ffc_lama_fourier);
    tcase_add_test(tc, test_ffc_big_lama_shape);
    tcase_add_test(tc, test_ffc_variants);
    tcase_add_test(tc, test_pix2pixhd);
    tcase_add_test(tc, test_infer_refuses);
    tcase_add_test(tc, test_graph_errors_propagate);
    suite_add_tcase(s, tc);
    return s;
}
