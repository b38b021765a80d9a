/* check_perceptual.c — the perceptual losses against the official
 * saicinpainting/training/losses/perceptual.py (tests/ref/gen_perceptual_fixtures.py):
 * ResNetPL on the ADE20k deep-stem ResNet50 (resnet50dilated and resnet50, training-mode and
 * eval-mode BN): loss, d loss / d pred and the BN running statistics after the call;
 * PerceptualLoss (VGG19) with and without mask; the registry keys; weight lookup and
 * non-strict loading (legacy and zip .pth in the official layout, missing num_batches_tracked,
 * unexpected keys); bad input (missing file, wrong shapes, pred/target mismatch).
 * Full-size weights are not committed: both sides fill them with the same deterministic
 * values (det_fill, the twin of det_values in the generator). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "io/safetensors.h"
#include "losses/resnet_pl.h"
#include "losses/vgg_pl.h"
#include "tests/testutil.h"

#define FIX_DIR "tests/fixtures/perceptual"
#define NOWHERE "/nonexistent/lamac-perceptual-test"

/* ---- deterministic weights (gen_perceptual_fixtures.py det_values) ------------------------ */

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static double det_u(uint32_t seed, uint64_t i) {
    uint64_t h = (i * 2654435761ull + seed) & 0xffffffffull;
    h ^= h >> 15;
    h = (h * 2246822519ull) & 0xffffffffull;
    h ^= h >> 13;
    return (double)((int64_t)(h % 2001) - 1000) / 1000.0;
}

/* Fills t with det values for `key` (the key inside the network: "conv1.weight"). */
static void det_tensor(lt_tensor *t, const char *key) {
    int64_t s[8];
    int nd = lt_shape(t, s, 8);
    int64_t n = lt_numel(t);
    const char *leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
    float *buf = malloc((size_t)n * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    uint32_t seed = fnv1a(key);
    double scale = nd == 4 ? sqrt(6.0 / (double)(s[1] * s[2] * s[3])) : 0;
    for (int64_t i = 0; i < n; i++) {
        double u = det_u(seed, (uint64_t)i), v;
        if (nd == 4)
            v = u * scale;
        else if (!strcmp(leaf, "bias"))
            v = 0.1 * u;
        else if (!strcmp(leaf, "weight"))
            v = 1.0 + 0.2 * u;
        else if (!strcmp(leaf, "running_mean"))
            v = 0.1 * u;
        else if (!strcmp(leaf, "running_var"))
            v = 1.0 + 0.25 * (u + 1.0);
        else
            ck_abort_msg("det: unexpected key %s", key);
        buf[i] = (float)v;
    }
    lt_scope_push();
    lt_no_grad_push();
    ck_assert_ptr_nonnull(lt_copy_(t, lt_from_buffer(buf, s, nd, LT_F32)));
    lt_no_grad_pop();
    lt_scope_pop();
    free(buf);
}

/* Every tensor of a loss registry ("impl.conv1.weight" -> key "conv1.weight"). */
static void det_fill(lm_params *p) {
    for (int i = 0; i < p->n; i++) {
        const char *key = strchr(p->items[i].name, '.') + 1;
        if (strstr(key, "num_batches_tracked")) continue;
        det_tensor(p->items[i].t, key);
    }
}

static lm_resnet_pl_opts pl_opts(const char *arch, int bn_train, const char *wpath) {
    lm_resnet_pl_opts o = lm_test_resnet_pl_opts();
    snprintf(o.arch_encoder, sizeof o.arch_encoder, "%s", arch);
    o.bn_train = bn_train;
    snprintf(o.weights_path, sizeof o.weights_path, "%s", wpath);
    return o;
}

/* ---- ResNetPL ------------------------------------------------------------------------------ */

START_TEST(test_resnet_pl_keys_and_shapes) {
    long live = lt_live_count();
    lm_resnet_pl_opts o = lm_test_resnet_pl_opts();
    ck_assert_double_eq(o.weight, 30);
    ck_assert_str_eq(o.arch_encoder, "resnet50dilated");
    ck_assert_int_eq(o.segmentation, 1);
    ck_assert_int_eq(o.bn_train, 1);
    o = pl_opts("resnet50dilated", 1, NOWHERE);
    lm_resnet_pl *pl = NULL;
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, LM_PL_RANDOM_IF_MISSING), 0);
    ck_assert_str_eq(lm_resnet_pl_source(pl), "random (file missing)");
    lm_params *p = lm_resnet_pl_params(pl);
    /* official encoder: 23,631,808 parameters, 330 state_dict entries, 53,504 running-stat values */
    ck_assert_int_eq(lm_params_numel(p, LM_PARAM), 23631808);
    ck_assert_int_eq(p->n, 330);
    ck_assert_str_eq(p->items[0].name, "impl.conv1.weight");
    ck_assert_str_eq(p->items[p->n - 1].name, "impl.layer4.2.bn3.num_batches_tracked");
    const char *keys[] = {"impl.bn1.running_var", "impl.conv3.weight", "impl.bn3.bias",
                          "impl.layer1.0.downsample.0.weight", "impl.layer1.0.downsample.1.running_mean",
                          "impl.layer3.5.conv2.weight", "impl.layer4.0.downsample.1.num_batches_tracked"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ck_assert_msg(lm_params_find(p, keys[i]) != NULL, "missing %s", keys[i]);
    ck_assert_ptr_null(lm_params_find(p, "impl.layer1.1.downsample.0.weight"));
    ck_assert_ptr_null(lm_params_find(p, "impl.fc.weight"));
    for (int i = 0; i < p->n; i++) ck_assert_int_eq(lt_requires_grad(p->items[i].t), 0); /* frozen */
    lm_resnet_pl_free(pl);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* The tolerance of the official value e of <cfg>.<what> in dtype dt: float32 k × envelope +
 * floor (lm_test_envelope_tol), float64 relative LM_TEST_F64_RTOL + k × the float64 envelope
 * (resnet_pl_envelope.safetensors: <cfg>.* and <cfg>_f64.*). */
static double pl_tol(const lm_st_file *env, const char *cfg, const char *what, lt_dtype dt, double e) {
    char k[400];
    snprintf(k, sizeof k, "%s%s.%s", cfg, dt == LT_F64 ? "_f64" : "", what);
    double v = lm_test_envelope(env, k, 0);
    return dt == LT_F64 ? LM_TEST_ENV_K * v + LM_TEST_F64_RTOL * fabs(e) + 1e-12 : lm_test_envelope_tol(v, e);
}

/* One ResNetPL config in dt against the official values in f (resnet_pl.safetensors, or
 * resnet_pl_f64.safetensors for LT_F64), pred/target from in. mode_call: the opts say
 * bn_train 1 and the mode comes from lm_resnet_pl_loss_mode. d loss / d pred through
 * training-mode BN is ill-conditioned in the official network itself: its float32 gradient
 * moves by 1.2-2.4 % (relative L2) between 1 and 2 threads and by 2.5e-3 in eval mode with
 * ATEN_CPU_CAPABILITY=default, i.e. float32 rounding amplified ~1e5; in float64 that is
 * ~1e-12. So float64 checks the formula tightly and float32 the official numbers within
 * their envelope. */
static void check_resnet_pl_config(const lm_st_file *in, const lm_st_file *f, const lm_st_file *env, lt_dtype dt,
                                   const char *cfg, const char *arch, int train, int mode_call) {
    lm_resnet_pl_opts o = pl_opts(arch, mode_call ? 1 : train, NOWHERE);
    lm_resnet_pl *pl = NULL;
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, dt, LT_CPU, LM_PL_RANDOM_IF_MISSING), 0);
    lm_params *p = lm_resnet_pl_params(pl);
    det_fill(p); /* float32 values, converted (as the fixture script) */
    char key[300];
    lt_scope_push();
    lt_tensor *pred = lt_to_dtype(lm_test_fixture(in, "pred"), dt); /* (2, 3, 64, 96) */
    lt_tensor *target = lt_to_dtype(lm_test_fixture(in, "target"), dt);
    pred = lt_detach(lt_clone(pred));
    ck_assert_int_eq(lt_set_requires_grad(pred, 1), 0);
    lt_tensor *loss = mode_call ? lm_resnet_pl_loss_mode(pl, pred, target, train)
                                : lm_resnet_pl_loss(pl, pred, target);
    ck_assert_msg(loss != NULL, "%s", lt_error());
    ck_assert_int_eq(lt_dim(loss), 0);
    ck_assert_int_eq(lt_type(loss), dt);
    ck_assert_int_eq(lt_backward(loss), 0);
    lm_test_errs errs = {.name = cfg};
    snprintf(key, sizeof key, "%s.loss", cfg);
    double e = lt_item(lm_test_fixture(f, key)), a = lt_item(loss), tol = pl_tol(env, cfg, "loss", dt, e);
    ck_assert_msg(fabs(a - e) <= tol, "%s %s: %.12g vs official %.12g (tolerance %.3g)", key, lt_dtype_name(dt), a,
                  e, tol);
    snprintf(key, sizeof key, "%s.grad", cfg);
    lt_tensor *g = lt_grad_of(pred), *ge = lm_test_fixture(f, key);
    lt_tensor *g64 = lt_to_dtype(g, LT_F64), *ge64 = lt_to_dtype(ge, LT_F64);
    double rel = lt_item(lt_norm(lt_sub(g64, ge64), 2)) / lt_item(lt_norm(ge64, 2));
    double rel_tol = pl_tol(env, cfg, "grad_rel", dt, 0) + (dt == LT_F64 ? LM_TEST_F64_RTOL : LM_TEST_ENV_FLOOR_REL);
    printf("  %-10s %s loss |err| %.3g (tolerance %.3g); grad: relative L2 error %.3g (tolerance %.3g)\n", cfg,
           lt_dtype_name(dt), fabs(a - e), tol, rel, rel_tol);
    ck_assert_msg(rel <= rel_tol, "%s %s: relative L2 error %g > %g", key, lt_dtype_name(dt), rel, rel_tol);
    int n_after = 0;
    for (int i = 0; i < p->n; i++) {
        const char *name = p->items[i].name + 5; /* without "impl." */
        const char *leaf = strrchr(name, '.') + 1;
        int stat = !strcmp(leaf, "running_mean") || !strcmp(leaf, "running_var");
        int nbt = !strcmp(leaf, "num_batches_tracked");
        if (!stat && !nbt) continue;
        if (train) {
            snprintf(key, sizeof key, "%s.after.%s", cfg, name);
            lt_tensor *ex = lm_test_fixture(f, key);
            if (nbt) {
                ck_assert_int_eq((int)lt_item(p->items[i].t), 2); /* pred and target forwards */
                ck_assert_int_eq((int)lt_item(ex), 2);
            } else {
                double atol = pl_tol(env, cfg, key + strlen(cfg) + 1, dt, 0);
                lm_test_expect_close(&errs, p->items[i].t, ex, atol,
                                     dt == LT_F64 ? LM_TEST_F64_RTOL : LM_TEST_ENV_FLOOR_REL, key);
            }
        } else { /* eval mode: nothing moves */
            if (nbt) ck_assert_int_eq((int)lt_item(p->items[i].t), 0);
        }
        n_after++;
    }
    ck_assert_int_eq(n_after, 55 * 3); /* 3 stem + 16 x 3 block + 4 downsample BNs */
    if (train) lm_test_errs_print(cfg, &errs);
    lt_scope_pop();
    lm_resnet_pl_free(pl);
}

/* Both precisions of every config, one thread on both sides (as the fixture script). */
static void resnet_pl_parity(lt_dtype dt) {
    long live = lt_live_count();
    int threads = lt_get_num_threads();
    lt_set_num_threads(1);
    lm_st_file *in = NULL, *f = NULL, *env = NULL;
    ck_assert_int_eq(lm_st_open(&in, FIX_DIR "/resnet_pl.safetensors"), 0);
    ck_assert_int_eq(lm_st_open(&f, dt == LT_F64 ? FIX_DIR "/resnet_pl_f64.safetensors" : FIX_DIR "/resnet_pl.safetensors"), 0);
    ck_assert_int_eq(lm_st_open(&env, FIX_DIR "/resnet_pl_envelope.safetensors"), 0);
    check_resnet_pl_config(in, f, env, dt, "dil_train", "resnet50dilated", 1, 0);
    check_resnet_pl_config(in, f, env, dt, "dil_eval", "resnet50dilated", 0, 0);
    check_resnet_pl_config(in, f, env, dt, "r50_train", "resnet50", 1, 0);
    check_resnet_pl_config(in, f, env, dt, "r50_eval", "resnet50", 0, 0);
    check_resnet_pl_config(in, f, env, dt, "dil_eval", "resnet50dilated", 0, 1); /* validation-style call */
    lt_set_num_threads(threads);
    lm_st_close(env);
    lm_st_close(f);
    lm_st_close(in);
    ck_assert_int_eq(lt_live_count(), live);
}

START_TEST(test_resnet_pl_parity) { resnet_pl_parity(LT_F32); }
END_TEST

START_TEST(test_resnet_pl_parity_f64) { resnet_pl_parity(LT_F64); }
END_TEST

/* Official layout under weights_path, legacy .pth holding a few tensors, no
 * num_batches_tracked, an unexpected fc.weight: loaded non-strictly, as strict=False. */
START_TEST(test_resnet_pl_load_legacy_partial) {
    long live = lt_live_count();
    lm_resnet_pl_opts o = pl_opts("resnet50dilated", 1, FIX_DIR);
    lm_resnet_pl *pl = NULL;
    ck_assert_msg(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, 0) == 0, "%s", lm_err_msg());
    ck_assert_str_eq(lm_resnet_pl_source(pl),
                     FIX_DIR "/ade20k/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth");
    lm_params *p = lm_resnet_pl_params(pl);
    lt_scope_push();
    const char *loaded[] = {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                            "bn1.running_var", "layer1.0.conv1.weight"};
    char key[128];
    for (size_t i = 0; i < sizeof loaded / sizeof *loaded; i++) {
        snprintf(key, sizeof key, "impl.%s", loaded[i]);
        lt_tensor *t = lm_params_find(p, key)->t;
        lt_tensor *e = lt_clone(t);
        det_tensor(e, loaded[i]);
        lm_test_expect_close(NULL, t, e, 0, 0, key); /* exact copy */
    }
    /* not in the file: keeps its random init (differs from the det values) */
    lt_tensor *t = lm_params_find(p, "impl.conv2.weight")->t;
    lt_tensor *e = lt_clone(t);
    det_tensor(e, "conv2.weight");
    ck_assert_double_gt(lt_item(lt_max(lt_abs(lt_sub(t, e)))), 1e-3);
    ck_assert_int_eq((int)lt_item(lm_params_find(p, "impl.bn1.num_batches_tracked")->t), 0);
    lt_scope_pop();
    lm_resnet_pl_free(pl);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_resnet_pl_missing_file) {
    long live = lt_live_count();
    lm_resnet_pl_opts o = pl_opts("resnet50dilated", 1, NOWHERE);
    lm_resnet_pl *pl = NULL;
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, 0), LM_EIO);
    ck_assert_ptr_null(pl);
    const char *m = lm_err_msg();
    ck_assert_msg(strstr(m, NOWHERE "/ade20k/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth") &&
                  strstr(m, "scripts/download-weights.sh"), "%s", m);
    /* "" = $TORCH_HOME, as the official configs' ${env:TORCH_HOME} */
    char dir[512];
    lm_test_tmpdir(dir, sizeof dir, "pl_home");
    const char *old = getenv("TORCH_HOME");
    char *saved = old ? strdup(old) : NULL;
    setenv("TORCH_HOME", dir, 1);
    o = pl_opts("resnet50", 1, "");
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, 0), LM_EIO);
    char want[700];
    snprintf(want, sizeof want, "%s/ade20k/ade20k-resnet50-ppm_deepsup/encoder_epoch_20.pth", dir);
    ck_assert_msg(strstr(lm_err_msg(), want), "%s", lm_err_msg());
    /* segmentation false: the ImageNet weights, where the download script puts them and where
     * the official resnet.py caches them (./pretrained) */
    o.segmentation = 0;
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, 0), LM_EIO);
    snprintf(want, sizeof want, "%s/hub/checkpoints/resnet50-imagenet.pth", dir);
    ck_assert_msg(strstr(lm_err_msg(), want) && strstr(lm_err_msg(), "pretrained/resnet50-imagenet.pth"),
                  "%s", lm_err_msg());
    if (saved) setenv("TORCH_HOME", saved, 1); else unsetenv("TORCH_HOME");
    free(saved);
    lm_test_rmtree(dir);
    /* a weights_path naming a missing file is that file, not a directory to search */
    o = pl_opts("resnet50dilated", 1, NOWHERE "/encoder_epoch_20.pth");
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, 0), LM_EIO);
    ck_assert_msg(strstr(lm_err_msg(), "looked for: " NOWHERE "/encoder_epoch_20.pth (fetch"),
                  "%s", lm_err_msg());
    /* unknown arch */
    o = pl_opts("resnet18dilated", 1, NOWHERE);
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, LM_PL_RANDOM_IF_MISSING), LM_ENOTSUP);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "resnet18dilated"));
    ck_assert_int_eq(lt_live_count(), live); /* failed creates free what they built */
}
END_TEST

START_TEST(test_resnet_pl_bad_shape_file) {
    long live = lt_live_count();
    lm_resnet_pl_opts o = pl_opts("resnet50dilated", 1, FIX_DIR "/bad_shape.pth"); /* a file */
    lm_resnet_pl *pl = NULL;
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, LM_PL_RANDOM_IF_MISSING), LM_EINVAL);
    ck_assert_ptr_null(pl);
    const char *m = lm_err_msg();
    ck_assert_msg(strstr(m, "conv1.weight") && strstr(m, "(64, 3, 5, 5)") && strstr(m, "bad_shape.pth"),
                  "%s", m);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_resnet_pl_bad_input) {
    long live = lt_live_count();
    lm_resnet_pl_opts o = pl_opts("resnet50", 0, NOWHERE);
    lm_resnet_pl *pl = NULL;
    ck_assert_int_eq(lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, LM_PL_RANDOM_IF_MISSING), 0);
    lt_scope_push();
    int64_t a[4] = {2, 3, 32, 48}, b[4] = {2, 3, 32, 32}, c[4] = {2, 1, 32, 48};
    lt_tensor *x = lt_rand(a, 4, LT_F32, LT_CPU);
    ck_assert_ptr_null(lm_resnet_pl_loss(pl, x, lt_rand(b, 4, LT_F32, LT_CPU)));
    ck_assert_msg(strstr(lt_error(), "resnet_pl") && strstr(lt_error(), "(2, 3, 32, 32)"), "%s", lt_error());
    ck_assert_ptr_null(lm_resnet_pl_loss(pl, lt_rand(c, 4, LT_F32, LT_CPU), lt_rand(c, 4, LT_F32, LT_CPU)));
    ck_assert_ptr_null(lm_resnet_pl_loss(pl, NULL, x));
    lt_scope_pop();
    lm_resnet_pl_free(pl);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* ---- VGG19 PerceptualLoss ------------------------------------------------------------------ */

static void check_vgg_case(lm_vgg_pl *pl, lm_st_file *f, const char *cfg, int with_mask) {
    char key[64];
    lt_scope_push();
    lt_tensor *pred = lm_test_fixture(f, "pred"); /* (2, 3, 64, 96) */
    ck_assert_int_eq(lt_set_requires_grad(pred, 1), 0);
    lt_tensor *loss = lm_vgg_pl_loss(pl, pred, lm_test_fixture(f, "target"),
                                     with_mask ? lm_test_fixture(f, "mask") : NULL);
    ck_assert_msg(loss != NULL, "%s", lt_error());
    ck_assert_int_eq(lt_dim(loss), 0);
    ck_assert_int_eq(lt_backward(loss), 0);
    int64_t one[1] = {1};
    lm_test_errs errs = {.name = cfg};
    snprintf(key, sizeof key, "%s.loss", cfg);
    lm_test_expect_close(&errs, lt_reshape(loss, one, 1), lm_test_fixture(f, key), 0, 2e-5, key);
    snprintf(key, sizeof key, "%s.grad", cfg);
    lm_test_expect_close(&errs, lt_grad_of(pred), lm_test_fixture(f, key), 1e-8, 1e-4, key);
    lm_test_errs_print(cfg, &errs);
    lt_scope_pop();
}

START_TEST(test_vgg_pl_parity) {
    long live = lt_live_count();
    lm_st_file *f = NULL;
    ck_assert_int_eq(lm_st_open(&f, FIX_DIR "/vgg_pl.safetensors"), 0);
    lm_vgg_pl_opts o = lm_test_vgg_pl_opts();
    ck_assert_int_eq(o.normalize_inputs, 1);
    o.weight = 1;
    snprintf(o.weights_path, sizeof o.weights_path, NOWHERE "/vgg19.pth");
    lm_vgg_pl *pl = NULL;
    ck_assert_int_eq(lm_vgg_pl_create(&pl, &o, LT_F32, LT_CPU, LM_PL_RANDOM_IF_MISSING), 0);
    lm_params *p = lm_vgg_pl_params(pl);
    ck_assert_int_eq(p->n, 26); /* 13 convs up to vgg[28] */
    ck_assert_str_eq(p->items[0].name, "vgg.0.weight");
    ck_assert_str_eq(p->items[p->n - 1].name, "vgg.28.bias");
    det_fill(p);
    check_vgg_case(pl, f, "nomask", 0);
    check_vgg_case(pl, f, "mask", 1);
    /* weight scales the sum */
    lm_vgg_pl_free(pl);
    o.weight = 0.03;
    ck_assert_int_eq(lm_vgg_pl_create(&pl, &o, LT_F32, LT_CPU, LM_PL_RANDOM_IF_MISSING), 0);
    det_fill(lm_vgg_pl_params(pl));
    lt_scope_push();
    lt_tensor *l = lm_vgg_pl_loss(pl, lm_test_fixture(f, "pred"), lm_test_fixture(f, "target"),
                                  lm_test_fixture(f, "mask"));
    ck_assert_double_eq_tol(lt_item(l), 0.03 * lt_item(lm_test_fixture(f, "mask.loss")), 1e-6);
    /* bad input */
    int64_t s3[4] = {2, 3, 64, 64}, s1[4] = {2, 1, 32, 96};
    ck_assert_ptr_null(lm_vgg_pl_loss(pl, lm_test_fixture(f, "pred"), lt_rand(s3, 4, LT_F32, LT_CPU), NULL));
    ck_assert_ptr_nonnull(strstr(lt_error(), "vgg_pl"));
    ck_assert_ptr_null(lm_vgg_pl_loss(pl, lm_test_fixture(f, "pred"), lm_test_fixture(f, "target"),
                                      lt_rand(s1, 4, LT_F32, LT_CPU)));
    lt_scope_pop();
    lm_vgg_pl_free(pl);
    lm_st_close(f);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_vgg_pl_files) {
    long live = lt_live_count();
    lm_vgg_pl_opts o = lm_test_vgg_pl_opts();
    lm_vgg_pl *pl = NULL;
    /* a zip-format torchvision-style file: features.0.* loaded, classifier.* ignored */
    snprintf(o.weights_path, sizeof o.weights_path, FIX_DIR "/vgg19_part.pth");
    ck_assert_msg(lm_vgg_pl_create(&pl, &o, LT_F32, LT_CPU, 0) == 0, "%s", lm_err_msg());
    ck_assert_str_eq(lm_vgg_pl_source(pl), FIX_DIR "/vgg19_part.pth");
    lt_scope_push();
    lt_tensor *t = lm_params_find(lm_vgg_pl_params(pl), "vgg.0.weight")->t;
    lt_tensor *e = lt_clone(t);
    det_tensor(e, "0.weight");
    lm_test_expect_close(NULL, t, e, 0, 0, "vgg.0.weight");
    lt_scope_pop();
    lm_vgg_pl_free(pl);
    /* default: $TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth */
    char dir[512], want[700];
    lm_test_tmpdir(dir, sizeof dir, "vgg_home");
    const char *old = getenv("TORCH_HOME");
    char *saved = old ? strdup(old) : NULL;
    setenv("TORCH_HOME", dir, 1);
    o.weights_path[0] = 0;
    ck_assert_int_eq(lm_vgg_pl_create(&pl, &o, LT_F32, LT_CPU, 0), LM_EIO);
    ck_assert_ptr_null(pl);
    snprintf(want, sizeof want, "%s/hub/checkpoints/vgg19-dcbb9e9d.pth", dir);
    ck_assert_msg(strstr(lm_err_msg(), want) && strstr(lm_err_msg(), "scripts/download-weights.sh"),
                  "%s", lm_err_msg());
    ck_assert_int_eq(lm_vgg_pl_create(&pl, &o, LT_F32, LT_CPU, LM_PL_RANDOM_IF_MISSING), 0);
    ck_assert_str_eq(lm_vgg_pl_source(pl), "random (file missing)");
    lm_vgg_pl_free(pl);
    if (saved) setenv("TORCH_HOME", saved, 1); else unsetenv("TORCH_HOME");
    free(saved);
    lm_test_rmtree(dir);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

Suite *check_perceptual_suite(void) {
    Suite *s = suite_create("perceptual");
    TCase *tc = tcase_create("perceptual");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_resnet_pl_keys_and_shapes);
    tcase_add_test(tc, test_resnet_pl_parity);
    tcase_add_test(tc, test_resnet_pl_parity_f64);
    tcase_add_test(tc, test_resnet_pl_load_legacy_partial);
    tcase_add_test(tc, test_resnet_pl_missing_file);
    tcase_add_test(tc, test_resnet_pl_bad_shape_file);
    tcase_add_test(tc, test_resnet_pl_bad_input);
    tcase_add_test(tc, test_vgg_pl_parity);
    tcase_add_test(tc, test_vgg_pl_files);
    suite_add_tcase(s, tc);
    return s;
}
