/* check_generator.c — the generators against the official modules (ffc.py FFCResNetGenerator,
 * pix2pixhd.py GlobalGenerator / MultiDilatedGlobalGenerator):
 *   - parameter counts of the full-size configs (lama-fourier 27,048,835, big-lama 50,975,875,
 *     pix2pixhd_global 45,617,731, multidilated 45,645,379) and official state_dict keys;
 *   - parity on small variants (tests/ref/gen_generator_fixtures.py): training-mode output,
 *     gradients of every parameter for L = sum(out * c), BatchNorm running stats and
 *     num_batches_tracked after that forward, and the eval-mode output;
 *   - unsupported options and the LFU size quirk are clear errors;
 *   - the forward keeps only stage outputs alive (no-grad), and leaks nothing;
 *   - `lamac model summary` prints the official counts.
 * Tolerances |a - e| <= atol + rtol |e|: outputs atol 1e-5 rtol 1e-4; BN statistics
 * atol 1e-5 rtol 1e-4; gradients atol 1e-5 * G rtol 1e-3, G the largest |gradient| of the
 * fixture (the biases of convs followed by training-mode BN have a zero gradient in exact
 * arithmetic: what both sides hold there is rounding noise of that scale). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/generator.h"
#include "io/safetensors.h"
#include "config/config.h"
#include "config/fill.h"
#include "tests/testutil.h"

#define FIX_DIR "tests/fixtures/generator/"

static lm_ffc_kwargs kw(double rin, double rout, int lfu) {
    lm_ffc_kwargs k = lm_test_generator_opts().resnet_conv_kwargs;
    k.ratio_gin = rin;
    k.ratio_gout = rout;
    k.enable_lfu = lfu;
    return k;
}

/* The options of each fixture (same as gen_generator_fixtures.py). */
static lm_generator_opts fixture_opts(const char *name) {
    lm_generator_opts o = lm_test_generator_opts();
    o.ngf = 8;
    if (!strcmp(name, "ffc_a")) {
        o.n_blocks = 2;
    } else if (!strcmp(name, "ffc_lfu")) {
        o.n_blocks = 1;
        o.init_conv_kwargs = kw(0, 0.5, 1);
        o.downsample_conv_kwargs = kw(0.5, 0.5, 1);
        o.resnet_conv_kwargs = kw(0.75, 0.75, 1);
    } else if (!strcmp(name, "ffc_gated")) {
        o.n_blocks = 1;
        o.max_features = 32;
        o.add_out_act = LM_ACT_TANH;
        o.resnet_conv_kwargs.gated = 1;
        o.resnet_conv_kwargs.spectral_pos_encoding = 1;
        snprintf(o.resnet_conv_kwargs.fft_norm, sizeof o.resnet_conv_kwargs.fft_norm, "backward");
    } else if (!strcmp(name, "global")) {
        snprintf(o.kind, sizeof o.kind, "pix2pixhd_global");
        o.ngf = 4;
        o.n_blocks = 2;
        o.add_out_act = LM_ACT_TANH;
    } else if (!strcmp(name, "multidil")) {
        snprintf(o.kind, sizeof o.kind, "pix2pixhd_multidilated");
        o.n_downsampling = 2;
        o.n_blocks = 2;
    } else {
        ck_abort_msg("unknown fixture %s", name);
    }
    return o;
}

static void parity(const char *name) {
    long live = lt_live_count();
    char path[256], key[300];
    snprintf(path, sizeof path, FIX_DIR "%s.safetensors", name);
    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, path) == 0, "%s", lm_err_msg());
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_generator *g = NULL;
    lm_generator_opts o = fixture_opts(name);
    ck_assert_msg(lm_generator_create(&g, &p, &o) == 0, "%s: %s", name, lm_err_msg());
    const char *np = lm_safetensors_meta(f, "params");
    ck_assert_ptr_nonnull(np);
    ck_assert_int_eq(lm_params_numel(&p, LM_PARAM), atoll(np));
    lm_test_errs gout = {"out_train", 0, 0, 0}, ggrad = {"grads", 0, 0, 0}, gst = {"bn_stats", 0, 0, 0},
          gev = {"out_eval", 0, 0, 0};
    lt_scope_push();
    lm_test_load_weights(&p, f, "w.");
    lt_tensor *y = lm_generator_forward(g, lm_test_fixture(f, "x"), 1);
    ck_assert_msg(y != NULL, "%s: %s", name, lm_err_msg());
    lm_test_expect_close(&gout, y, lm_test_fixture(f, "out_train"), 1e-5, 1e-4, "out_train");
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(y, lm_test_fixture(f, "c")))), 0);
    double gmax = 0;
    for (int i = 0; i < p.n; i++) {
        if (p.items[i].kind != LM_PARAM) continue;
        snprintf(key, sizeof key, "g.%s", p.items[i].name);
        double m = lt_item(lt_max(lt_abs(lm_test_fixture(f, key))));
        if (m > gmax) gmax = m;
    }
    for (int i = 0; i < p.n; i++) {
        if (p.items[i].kind == LM_PARAM) {
            snprintf(key, sizeof key, "g.%s", p.items[i].name);
            lm_test_expect_close(&ggrad, lt_grad_of(p.items[i].t), lm_test_fixture(f, key), 1e-5 * gmax, 1e-3, key);
        } else {
            snprintf(key, sizeof key, "after.%s", p.items[i].name);
            lm_test_expect_close(&gst, p.items[i].t, lm_test_fixture(f, key), 1e-5, 1e-4, key);
        }
    }
    lt_no_grad_push();
    y = lm_generator_forward(g, lm_test_fixture(f, "x"), 0);
    lt_no_grad_pop();
    lm_test_expect_close(&gev, y, lm_test_fixture(f, "out_eval"), 1e-5, 1e-4, "out_eval");
    lt_scope_pop();
    lm_test_errs_print(name, &gout);
    lm_test_errs_print(name, &ggrad);
    lm_test_errs_print(name, &gst);
    lm_test_errs_print(name, &gev);
    lm_generator_free(g);
    lm_params_free(&p);
    lm_safetensors_close(f);
    ck_assert_int_eq(lt_live_count(), live);
}

START_TEST(test_parity_ffc_a) { parity("ffc_a"); }
END_TEST
START_TEST(test_parity_ffc_lfu) { parity("ffc_lfu"); }
END_TEST
START_TEST(test_parity_ffc_gated) { parity("ffc_gated"); }
END_TEST
START_TEST(test_parity_global) { parity("global"); }
END_TEST
START_TEST(test_parity_multidil) { parity("multidil"); }
END_TEST

static int64_t count_for(lm_generator_opts o, lm_params *keep) {
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_generator *g = NULL;
    ck_assert_msg(lm_generator_create(&g, &p, &o) == 0, "%s", lm_err_msg());
    int64_t n = lm_params_numel(&p, LM_PARAM);
    lm_generator_free(g);
    if (keep) *keep = p;
    else lm_params_free(&p);
    return n;
}

START_TEST(test_counts_and_keys) {
    long live = lt_live_count();
    lm_generator_opts o = lm_test_generator_opts();
    lm_params p;
    ck_assert_int_eq(count_for(o, &p), 27048835);
    struct { const char *key; int64_t shape[4]; int nd; } want[] = {
        {"model.1.ffc.convl2l.weight", {64, 4, 7, 7}, 4},
        {"model.1.bn_l.num_batches_tracked", {0}, 0},
        {"model.4.ffc.convl2g.weight", {384, 256, 3, 3}, 4},
        {"model.4.bn_g.running_var", {384}, 1},
        {"model.5.conv1.ffc.convl2l.weight", {128, 128, 3, 3}, 4},
        {"model.5.conv1.ffc.convg2l.weight", {128, 384, 3, 3}, 4},
        {"model.5.conv1.ffc.convg2g.conv1.0.weight", {192, 384, 1, 1}, 4},
        {"model.5.conv1.ffc.convg2g.conv1.1.running_mean", {192}, 1},
        {"model.5.conv1.ffc.convg2g.fu.conv_layer.weight", {384, 384, 1, 1}, 4},
        {"model.5.conv1.ffc.convg2g.fu.bn.num_batches_tracked", {0}, 0},
        {"model.5.conv1.ffc.convg2g.conv2.weight", {384, 192, 1, 1}, 4},
        {"model.13.conv2.bn_g.bias", {384}, 1},
        {"model.15.weight", {512, 256, 3, 3}, 4}, /* ConvTranspose2d (in, out, k, k) */
        {"model.15.bias", {256}, 1},
        {"model.16.running_mean", {256}, 1},
        {"model.21.weight", {128, 64, 3, 3}, 4},
        {"model.25.weight", {3, 64, 7, 7}, 4},
        {"model.25.bias", {3}, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        lm_param *e = lm_params_find(&p, want[i].key);
        ck_assert_msg(e != NULL, "missing %s", want[i].key);
        int64_t s[8];
        ck_assert_int_eq(lt_shape(e->t, s, 8), want[i].nd);
        for (int d = 0; d < want[i].nd; d++) ck_assert_int_eq(s[d], want[i].shape[d]);
    }
    ck_assert_ptr_null(lm_params_find(&p, "model.1.bn_g.weight")); /* ratio_gout 0: Identity */
    ck_assert_ptr_null(lm_params_find(&p, "model.5.conv1.ffc.convg2g.lfu.bn.weight"));
    ck_assert_ptr_null(lm_params_find(&p, "model.14.weight"));     /* ConcatTupleLayer */
    lm_params_free(&p);
    o.n_blocks = 18;
    ck_assert_int_eq(count_for(o, NULL), 50975875);
    o = lm_test_generator_opts();
    snprintf(o.kind, sizeof o.kind, "pix2pixhd_global");
    ck_assert_int_eq(count_for(o, &p), 45617731);
    ck_assert_ptr_nonnull(lm_params_find(&p, "model.13.conv_block.5.weight"));
    ck_assert_ptr_nonnull(lm_params_find(&p, "model.13.conv_block.6.num_batches_tracked"));
    lm_params_free(&p);
    o.n_blocks = 15; /* big-lama-regular */
    ck_assert_int_eq(count_for(o, NULL), 73947715);
    o.n_blocks = 9;
    snprintf(o.kind, sizeof o.kind, "pix2pixhd_multidilated");
    ck_assert_int_eq(count_for(o, &p), 45645379);
    ck_assert_ptr_nonnull(lm_params_find(&p, "model.13.conv_block.3.convs.3.weight"));
    ck_assert_ptr_nonnull(lm_params_find(&p, "model.13.conv_block.4.running_var"));
    lm_params_free(&p);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* create() must fail with `code` and a message containing `needle`, registering nothing
 * that outlives the registry. */
static void expect_reject(lm_generator_opts o, int code, const char *needle) {
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_generator *g = (lm_generator *)&p; /* must be reset to NULL */
    ck_assert_int_eq(lm_generator_create(&g, &p, &o), code);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(lm_err_msg(), needle) != NULL, "message '%s' lacks '%s'", lm_err_msg(),
                  needle);
    lm_params_free(&p);
}

START_TEST(test_unsupported_options) {
    long live = lt_live_count();
    lm_generator_opts o = lm_test_generator_opts();
    o.out_ffc = 1;
    expect_reject(o, LM_ENOTSUP, "out_ffc");
    o = lm_test_generator_opts();
    o.spatial_transform = 1;
    expect_reject(o, LM_ENOTSUP, "spatial_transform");
    o = lm_test_generator_opts();
    o.resnet_conv_kwargs.use_se = 1;
    expect_reject(o, LM_ENOTSUP, "resnet_conv_kwargs.use_se");
    o = lm_test_generator_opts();
    snprintf(o.resnet_conv_kwargs.fft_norm, sizeof o.resnet_conv_kwargs.fft_norm, "l2");
    expect_reject(o, LM_EINVAL, "resnet_conv_kwargs.fft_norm");
    o = lm_test_generator_opts();
    snprintf(o.kind, sizeof o.kind, "ffc_unet");
    expect_reject(o, LM_ENOTSUP, "ffc_unet");
    o = lm_test_generator_opts();
    o.downsample_conv_kwargs.ratio_gin = 0.5; /* init conv gives no global branch */
    expect_reject(o, LM_EINVAL, "downsample_conv_kwargs.ratio_gin");
    o = lm_test_generator_opts();
    o.resnet_conv_kwargs.gated = 1;
    o.downsample_conv_kwargs.gated = 1; /* stride 2, no global input */
    expect_reject(o, LM_ENOTSUP, "downsample_conv_kwargs.gated");
    o = lm_test_generator_opts();
    snprintf(o.kind, sizeof o.kind, "pix2pixhd_global");
    snprintf(o.conv_kind, sizeof o.conv_kind, "depthwise");
    expect_reject(o, LM_ENOTSUP, "conv_kind");
    o = lm_test_generator_opts();
    snprintf(o.kind, sizeof o.kind, "pix2pixhd_multidilated");
    snprintf(o.multidilation_comb_mode, sizeof o.multidilation_comb_mode, "sum");
    expect_reject(o, LM_ENOTSUP, "comb_mode");
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* The LFU works on square maps with an even side only (as the official code); others are an
 * error naming the LFU, not a crash. */
START_TEST(test_lfu_needs_square) {
    long live = lt_live_count();
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_generator *g = NULL;
    lm_generator_opts o = fixture_opts("ffc_lfu");
    ck_assert_int_eq(lm_generator_create(&g, &p, &o), 0);
    lt_scope_push();
    lt_no_grad_push();
    int64_t ok[4] = {1, 4, 32, 32}, bad[4] = {1, 4, 32, 48}, odd[4] = {1, 4, 24, 24};
    ck_assert_ptr_nonnull(lm_generator_forward(g, lt_rand(ok, 4, LT_F32, LT_CPU), 0));
    ck_assert_ptr_null(lm_generator_forward(g, lt_rand(bad, 4, LT_F32, LT_CPU), 0));
    ck_assert_msg(strstr(lm_err_msg(), "LFU") && strstr(lm_err_msg(), "square"), "%s", lm_err_msg());
    ck_assert_ptr_null(lm_generator_forward(g, lt_rand(odd, 4, LT_F32, LT_CPU), 0)); /* 3x3 */
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "3x3"));
    lt_no_grad_pop();
    lt_scope_pop();
    lm_generator_free(g);
    lm_params_free(&p);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* Under no-grad only the output survives a forward: every stage's intermediates are freed. */
START_TEST(test_forward_is_lean) {
    const char *kinds[3] = {"ffc_resnet", "pix2pixhd_global", "pix2pixhd_multidilated"};
    for (int k = 0; k < 3; k++) {
        long live = lt_live_count();
        lm_params p;
        lm_params_init(&p, LT_F32, LT_CPU);
        lm_generator *g = NULL;
        lm_generator_opts o = lm_test_generator_opts();
        snprintf(o.kind, sizeof o.kind, "%s", kinds[k]);
        o.ngf = 8;
        ck_assert_int_eq(lm_generator_create(&g, &p, &o), 0);
        ck_assert_int_gt(lm_generator_layers(g), 20);
        ck_assert_str_eq(lm_generator_layer_kind(g, 0), "ReflectionPad2d");
        ck_assert_ptr_null(lm_generator_layer_kind(g, lm_generator_layers(g)));
        lt_scope_push();
        int64_t s[4] = {2, 4, 128, 96};
        lt_tensor *x = lt_rand(s, 4, LT_F32, LT_CPU);
        long before = lt_live_count();
        lt_no_grad_push();
        lt_tensor *y = lm_generator_forward(g, x, 0);
        lt_no_grad_pop();
        ck_assert_msg(y != NULL, "%s", lm_err_msg());
        ck_assert_int_eq(lt_live_count(), before + 1);
        ck_assert_int_eq(lt_size(y, 1), 3);
        ck_assert_int_eq(lt_size(y, 2), 128);
        ck_assert_int_eq(lt_size(y, 3), 96);
        ck_assert(lt_item(lt_min(y)) >= 0 && lt_item(lt_max(y)) <= 1); /* sigmoid */
        lt_scope_pop();
        lm_generator_free(g);
        lm_params_free(&p);
        ck_assert_int_eq(lt_live_count(), live);
    }
}
END_TEST

/* Options from the official experiment configs (config/fill.c). */
static lm_generator_opts opts_of(const char *config, const char *override) {
    lm_cfg *c = NULL;
    const char *ov[1] = {override};
    ck_assert_msg(lm_cfg_load(&c, config, ov, override ? 1 : 0) == 0, "%s", lm_err_msg());
    lm_generator_opts o;
    ck_assert_msg(lm_cfg_fill(&o, LM_OPTS_GENERATOR, c) == 0, "%s", lm_err_msg());
    lm_discriminator_opts d;
    ck_assert_msg(lm_cfg_fill(&d, LM_OPTS_DISCRIMINATOR, c) == 0, "%s", lm_err_msg());
    ck_assert_str_eq(d.kind, "pix2pixhd_nlayer");
    ck_assert_int_eq(d.ndf, 64);
    ck_assert_int_eq(d.n_layers, 4);
    ck_assert_int_eq(d.input_nc, 3);
    lm_cfg_free(c);
    return o;
}

START_TEST(test_opts_from_config) {
    lm_generator_opts o = opts_of("configs/training/lama-fourier.yaml", NULL);
    ck_assert_str_eq(o.kind, "ffc_resnet");
    ck_assert_int_eq(o.ngf, 64);
    ck_assert_int_eq(o.n_blocks, 9);
    ck_assert_int_eq(o.n_downsampling, 3);
    ck_assert_int_eq(o.input_nc, 4);
    ck_assert_int_eq(o.add_out_act, LM_ACT_SIGMOID);
    ck_assert(o.init_conv_kwargs.ratio_gout == 0 && o.downsample_conv_kwargs.ratio_gin == 0);
    ck_assert(o.resnet_conv_kwargs.ratio_gin == 0.75 && o.resnet_conv_kwargs.ratio_gout == 0.75);
    ck_assert(!o.resnet_conv_kwargs.enable_lfu && !o.init_conv_kwargs.enable_lfu);
    ck_assert_str_eq(o.resnet_conv_kwargs.fft_norm, "ortho");
    o = opts_of("configs/training/big-lama.yaml", NULL);
    ck_assert_int_eq(o.n_blocks, 18);
    o = opts_of("configs/training/ablv2_work_md.yaml", NULL);
    ck_assert_str_eq(o.kind, "pix2pixhd_multidilated");
    ck_assert_int_eq(o.multidilation_dilation_num, 4);
    ck_assert_str_eq(o.multidilation_comb_mode, "cat_in");
    ck_assert_int_eq(o.add_out_act, LM_ACT_SIGMOID);
    /* pix2pixhd_global.yaml has no add_out_act: the official default True means tanh */
    o = opts_of("configs/training/lama-regular.yaml", "generator=pix2pixhd_global");
    ck_assert_str_eq(o.kind, "pix2pixhd_global");
    ck_assert_int_eq(o.add_out_act, LM_ACT_TANH);
}
END_TEST

/* `lamac model summary CONFIG` prints the official totals. */
static void summary_expect(const char *config, const char *gen, const char *disc) {
    static char out[1 << 16];
    ck_assert_int_eq(lm_test_run(out, sizeof out, "model summary %s", config), 0);
    int got_g = 0, got_d = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "generator total", 15) && strstr(line, gen)) got_g = 1;
        if (!strncmp(line, "discriminator total", 19) && strstr(line, disc)) got_d = 1;
    }
    ck_assert_msg(got_g && got_d, "%s: totals %s / %s not printed", config, gen, disc);
}

/* `lamac model init`: seeded random weights with the config in the metadata, which
 * lamac predict / export open as they are; the same seed writes the same tensors. */
START_TEST(test_cli_model_init) {
    static char out[1 << 16];
    char dir[256], a[300], b[300];
    lm_test_tmpdir(dir, sizeof dir, "modelinit");
    snprintf(a, sizeof a, "%s/a.safetensors", dir);
    snprintf(b, sizeof b, "%s/b.safetensors", dir);
    ck_assert_msg(lm_test_run(out, sizeof out, "model init configs/training/demo.yaml generator.ngf=8 --seed 3 --out %s", a) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "random (seed 3)"));
    ck_assert_int_eq(lm_test_run(out, sizeof out, "model init configs/training/demo.yaml --seed 3 generator.ngf=8 --out %s", b), 0);
    ck_assert_int_eq(lm_test_run(out, sizeof out, "weights show %s --diff %s", a, b), 0);
    ck_assert_ptr_nonnull(strstr(out, "max |a - b| = 0"));
    ck_assert_int_eq(lm_test_run(out, sizeof out, "model init configs/training/demo.yaml generator.ngf=8 --seed 4 --out %s", b), 0);
    ck_assert_int_eq(lm_test_run(out, sizeof out, "weights show %s --diff %s", a, b), 3);
    ck_assert_int_eq(lm_test_run(out, sizeof out, "model init configs/training/demo.yaml"), 2);
    ck_assert_int_eq(lm_test_run(out, sizeof out, "model init configs/training/demo.yaml generator.kind=nope --out %s", b), 1);
    /* the metadata config is enough to open it */
    snprintf(b, sizeof b, "%s/p.png", dir);
    ck_assert_msg(lm_test_run(out, sizeof out, "predict --model %s --image tests/fixtures/predict/indir/scene.png "
                              "--mask tests/fixtures/predict/indir/scene_mask.png --out %s --quiet", a, b) == 0, "%s", out);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_cli_summary) {
    summary_expect("configs/training/lama-fourier.yaml", "27,048,835", "6,962,369");
    summary_expect("configs/training/big-lama.yaml", "50,975,875", "6,962,369");
    summary_expect("configs/training/lama-regular.yaml", "45,617,731", "6,962,369");
    summary_expect("configs/training/lama-fourier.yaml generator.n_blocks=18", "50,975,875",
                   "6,962,369");
    /* an unsupported generator kind is a one-line error, exit status 1 */
    char out[4096];
    ck_assert_int_ne(lm_test_run(out, sizeof out, "model summary configs/training/no-such.yaml"), 0);
    ck_assert_ptr_nonnull(strstr(out, "no-such.yaml"));
}
END_TEST

Suite *check_generator_suite(void) {
    Suite *s = suite_create("generator");
    TCase *tc = tcase_create("generator");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_counts_and_keys);
    tcase_add_test(tc, test_parity_ffc_a);
    tcase_add_test(tc, test_parity_ffc_lfu);
    tcase_add_test(tc, test_parity_ffc_gated);
    tcase_add_test(tc, test_parity_global);
    tcase_add_test(tc, test_parity_multidil);
    tcase_add_test(tc, test_unsupported_options);
    tcase_add_test(tc, test_lfu_needs_square);
    tcase_add_test(tc, test_cli_model_init);
    tcase_add_test(tc, test_forward_is_lean);
    tcase_add_test(tc, test_opts_from_config);
    tcase_add_test(tc, test_cli_summary);
    suite_add_tcase(s, tc);
    return s;
}
