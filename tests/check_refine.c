/* check_refine.c — `lamac predict --refine` (eval/refine.c) against the official refiner
 * (tests/ref/gen_refine_fixtures.py: saicinpainting/evaluation/refinement.py refine_predict on
 * an official FFCResNetGenerator, ngf 8, 2 blocks, with kornia 0.5.0's three functions from
 * tests/ref/kornia_stub). Cases: a (3 levels), b (budget resize, 2 levels), c (1 level).
 *   - the plan (size after the budget, number of levels) and the OpenCV ellipse;
 *   - float64: every level's result and the output equal the official float64 run to
 *     REFINE_F64_RTOL relative (+ 1e-12 absolute), with checkpointing on and off, and the two
 *     equal each other to 1e-12;
 *   - float32: the output within LM_TEST_ENV_K x the official float32 envelope
 *     (tests/fixtures/refine/envelope.safetensors) + the floor (tests/testutil.h);
 *   - the refinement really moves the result (case a differs from the unrefined forward);
 *   - a pix2pixhd generator is refused naming its kind; the front/rear split composes to the
 *     plain forward exactly;
 *   - the CLI: --refine with flags and with --predict-config, against the official float32
 *     output to a grey level; the notes for a budget resize and a single level. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/err.h"
#include "data/image.h"
#include "eval/predict.h"
#include "eval/refine.h"
#include "io/safetensors.h"
#include "model/lt_err.h"
#include "run/predictor.h"
#include "tests/testutil.h"

#define FX "tests/fixtures/refine"
/* float64: measured max |diff| 3.3e-16 (max |diff| / |value| ~1e-15; test_f64_parity prints
 * both); a wrong constant (an Adam beta, the erosion size, a threshold) moves values by 1e-6
 * or more (tests/mutate.sh refine_erode, refine_adam_b2) */
#define REFINE_F64_RTOL 1e-9

typedef struct case_opts {
    const char *name;
    double px_budget;
    int min_side, levels, h, w;
} case_opts;

static const case_opts CASES[3] = {
    {"a", 1800000, 32, 3, 100, 116},
    {"b", 6000, 32, 2, 71, 83},
    {"c", 1800000, 200, 1, 100, 116},
};

static lm_refine_opts case_refine_opts(const case_opts *c) {
    lm_refine_opts o = lm_refine_defaults(); /* modulo 8, max_scales 3 */
    o.n_iters = 3;
    o.lr = 0.01;
    o.min_side = c->min_side;
    o.px_budget = c->px_budget;
    return o;
}

static const uint8_t *fixture_u8(const lm_safetensors_file *f, const char *name, int64_t numel) {
    const lm_safetensors_entry *e = lm_safetensors_find(f, name);
    ck_assert_msg(e != NULL, "fixture lacks %s", name);
    ck_assert_int_eq((int64_t)e->nbytes, numel);
    return e->data;
}

/* max |a - e| / (|e| + tiny) style error: the largest |a - e| - atol over rtol * |e|, i.e. the
 * rtol at which the check would just pass, and the max absolute difference. */
static void max_err(lt_tensor *a, lt_tensor *e, double atol, double *rel, double *abs_) {
    lt_scope_push();
    ck_assert_msg(lt_same_shape(a, e), "shape differs");
    lt_tensor *d = lt_abs(lt_sub(lt_to_dtype(a, LT_F64), lt_to_dtype(e, LT_F64)));
    *abs_ = lt_item(lt_max(d));
    lt_tensor *r = lt_div(lt_clamp(lt_add_scalar(d, -atol), 0, INFINITY),
                          lt_add_scalar(lt_abs(lt_to_dtype(e, LT_F64)), 1e-300));
    *rel = lt_item(lt_max(r));
    lt_scope_pop();
}

/* Each level's result, kept for comparison with the fixture's X_D_level<k>. */
typedef struct levels {
    lt_tensor *t[4];
    int n;
} levels;

static void keep_level(void *ctx, int scale, int n_scales, lt_tensor *result) {
    levels *l = ctx;
    ck_assert_int_lt(scale, 4);
    ck_assert_int_eq(scale, l->n);
    (void)n_scales;
    l->t[l->n++] = lt_keep(lt_clone(result));
}

static void levels_free(levels *l) {
    for (int i = 0; i < l->n; i++) lt_free(l->t[i]);
    l->n = 0;
}

/* Runs case c on the fixture's inputs converted as the official loader does (RGB / 255,
 * grey / 255 in float32): float32 through lm_refine_image (the CLI's path), float64 through
 * lm_refine_predict (a float32 buffer would round the result). *out kept (caller frees). */
static void run_case(lt_tensor **out, levels *lv, lm_predictor *pr, const lm_safetensors_file *f,
                     const case_opts *c, lt_dtype dt, int checkpoint) {
    lm_refine_opts o = case_refine_opts(c);
    o.checkpoint = checkpoint;
    o.on_scale = lv ? keep_level : NULL;
    o.ctx = lv;
    const int H = 100, W = 116;
    const uint8_t *img = fixture_u8(f, "image", H * W * 3), *msk = fixture_u8(f, "mask", H * W);
    int64_t perm[4] = {0, 3, 1, 2};
    lt_scope_push();
    if (dt == LT_F32) {
        float *res = NULL;
        int ow, oh;
        ck_assert_msg(lm_refine_image(&res, &ow, &oh, pr->gen, img, msk, W, H, LT_CPU, dt, &o) == 0, "%s",
                      lm_err_msg());
        ck_assert_int_eq(ow, c->w);
        ck_assert_int_eq(oh, c->h);
        int64_t shp[4] = {1, oh, ow, 3};
        *out = lt_keep(lt_contiguous(lt_permute(lt_from_buffer(res, shp, 4, LT_F32), perm, 4)));
        free(res);
    } else {
        int64_t si[4] = {1, H, W, 3}, sm[4] = {1, 1, H, W};
        float *src = malloc((size_t)H * W * 4 * sizeof *src);
        for (int i = 0; i < H * W * 3; i++) src[i] = (float)img[i] / 255.0f;
        for (int i = 0; i < H * W; i++) src[H * W * 3 + i] = (float)msk[i] / 255.0f;
        lt_tensor *x = lt_to_dtype(lt_contiguous(lt_permute(lt_from_buffer(src, si, 4, LT_F32), perm, 4)), dt);
        lt_tensor *m = lt_to_dtype(lt_from_buffer(src + H * W * 3, sm, 4, LT_F32), dt);
        lt_tensor *y = NULL;
        ck_assert_msg(lm_refine_predict(&y, pr->gen, x, m, &o) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(lt_size(y, 2), c->h);
        ck_assert_int_eq(lt_size(y, 3), c->w);
        *out = lt_keep(lt_clone(y));
        free(src);
    }
    lt_scope_pop();
}

START_TEST(test_plan_and_ellipse) {
    lm_refine_opts o = lm_refine_defaults();
    int rh, rw, rs, n;
    ck_assert_int_eq(o.n_iters, 15);
    ck_assert_int_eq(o.min_side, 512);
    ck_assert_int_eq(o.max_scales, 3);
    ck_assert(o.lr == 0.002 && o.px_budget == 1800000 && o.modulo == 8 && o.checkpoint == 1);
    struct { int h, w, rh, rw, resized, n; } cases[] = {
        {1024, 1024, 1024, 1024, 0, 2}, {2048, 2048, 1341, 1341, 1, 2}, {512, 512, 512, 512, 0, 1},
        {512, 724, 512, 724, 0, 1},     {724, 900, 724, 900, 0, 1},     {725, 900, 725, 900, 0, 2},
        {1200, 1500, 1200, 1500, 0, 2}, {300, 800, 300, 800, 0, 1},     {1448, 1240, 1448, 1240, 0, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(lm_refine_plan(&o, cases[i].h, cases[i].w, &rh, &rw, &rs, &n), 0);
        ck_assert_msg(rh == cases[i].rh && rw == cases[i].rw && rs == cases[i].resized && n == cases[i].n,
                      "%dx%d: got %dx%d resized %d, %d levels", cases[i].w, cases[i].h, rw, rh, rs, n);
    }
    o.max_scales = 5;
    o.px_budget = 1e8;
    ck_assert_int_eq(lm_refine_plan(&o, 4096, 8192, &rh, &rw, &rs, &n), 0);
    ck_assert_int_eq(n, 4); /* 1 + round(log2(8)) */
    for (int i = 0; i < 3; i++) {
        lm_refine_opts c = case_refine_opts(&CASES[i]);
        ck_assert_int_eq(lm_refine_plan(&c, 100, 116, &rh, &rw, &rs, &n), 0);
        ck_assert_int_eq(n, CASES[i].levels);
        ck_assert_int_eq(rh, CASES[i].h);
        ck_assert_int_eq(rw, CASES[i].w);
    }
    o = lm_refine_defaults();
    o.n_iters = 0;
    ck_assert_int_eq(lm_refine_plan(&o, 64, 64, &rh, &rw, &rs, &n), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "refiner.n_iters"));
    o = lm_refine_defaults();
    o.max_scales = 0;
    ck_assert_int_eq(lm_refine_plan(&o, 64, 64, &rh, &rw, &rs, &n), LM_EINVAL);
    /* the ellipse equals cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)) of the fixture */
    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, FX "/refine.safetensors") == 0, "%s", lm_err_msg());
    uint8_t k[225];
    lm_refine_ellipse(k, 15);
    ck_assert(!memcmp(k, fixture_u8(f, "ellipse", 225), 225));
    int ones = 0;
    for (int i = 0; i < 225; i++) ones += k[i];
    printf("  ellipse 15x15: %d of 225 set, equal to the fixture's cv2 kernel\n", ones);
    lm_safetensors_close(f);
}
END_TEST

/* A level's fixture (the official _infer's result, padded to 8) cropped to the level's size. */
static lt_tensor *level_fixture(const lm_safetensors_file *f, const char *key, lt_tensor *level) {
    lt_tensor *want = lm_test_fixture(f, key);
    return lt_narrow(lt_narrow(want, 2, 0, lt_size(level, 2)), 3, 0, lt_size(level, 3));
}

START_TEST(test_f64_parity) {
    long live = lt_live_count();
    lm_predictor *pr = NULL;
    ck_assert_msg(lm_predictor_open(&pr, FX "/gen.safetensors", NULL, LT_CPU, LT_F64, stderr) == 0, "%s",
                  lm_err_msg());
    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, FX "/refine.safetensors") == 0, "%s", lm_err_msg());
    lt_set_num_threads(1); /* as the fixture script */
    for (int i = 0; i < 3; i++) {
        const case_opts *c = &CASES[i];
        lt_tensor *out[2];
        levels lv[2] = {{{0}, 0}, {{0}, 0}};
        for (int ck = 0; ck < 2; ck++) {
            run_case(&out[ck], &lv[ck], pr, f, c, LT_F64, !ck);
            ck_assert_int_eq(lv[ck].n, c->levels);
            char key[64];
            double rel, ab, worst = 0;
            for (int k = 0; k < c->levels; k++) {
                snprintf(key, sizeof key, "%s_f64_level%d", c->name, k);
                lt_scope_push();
                max_err(lv[ck].t[k], level_fixture(f, key, lv[ck].t[k]), 1e-12, &rel, &ab);
                lt_scope_pop();
                ck_assert_msg(rel <= REFINE_F64_RTOL, "case %s level %d (checkpoint %s): rel %.3g abs %.3g",
                              c->name, k, ck ? "off" : "on", rel, ab);
                if (rel > worst) worst = rel;
            }
            snprintf(key, sizeof key, "%s_f64_out", c->name);
            lt_scope_push();
            double rel0, ab0;
            max_err(out[ck], lm_test_fixture(f, key), 0, &rel0, &ab0); /* the measured error */
            max_err(out[ck], lm_test_fixture(f, key), 1e-12, &rel, &ab);
            lt_scope_pop();
            printf("  float64 case %s (%d level%s, checkpoint %s): output max |diff| %.3g, max |diff| / |value| "
                   "%.3g; levels within rtol %.3g + 1e-12\n", c->name, c->levels, c->levels > 1 ? "s" : "",
                   ck ? "off" : "on ", ab0, rel0, worst);
            ck_assert_msg(rel <= REFINE_F64_RTOL, "case %s: output rel %.3g", c->name, rel);
        }
        double rel, ab;
        max_err(out[0], out[1], 0, &rel, &ab);
        printf("  float64 case %s: checkpoint on vs off max |diff| %.3g\n", c->name, ab);
        ck_assert_msg(ab <= 1e-12, "checkpointing changes the result by %.3g", ab);
        for (int ck = 0; ck < 2; ck++) {
            lt_free(out[ck]);
            levels_free(&lv[ck]);
        }
    }
    /* the refinement moves the result: case a against its coarsest level's plain forward, and
     * the official refined output against the official unrefined one (case c = 1 level) */
    lt_scope_push();
    double rel, ab;
    max_err(lm_test_fixture(f, "a_f64_out"), lm_test_fixture(f, "c_f64_out"), 0, &rel, &ab);
    printf("  refined (3 levels) vs plain forward: max |diff| %.3g\n", ab);
    ck_assert(ab > 1e-3);
    lt_scope_pop();
    lm_safetensors_close(f);
    lm_predictor_close(pr);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_f32_envelope) {
    long live = lt_live_count();
    lm_predictor *pr = NULL;
    ck_assert_msg(lm_predictor_open(&pr, FX "/gen.safetensors", NULL, LT_CPU, LT_F32, stderr) == 0, "%s",
                  lm_err_msg());
    lm_safetensors_file *f = NULL, *env = NULL;
    ck_assert_msg(lm_safetensors_open(&f, FX "/refine.safetensors") == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_safetensors_open(&env, FX "/envelope.safetensors") == 0, "%s", lm_err_msg());
    lt_set_num_threads(1);
    for (int i = 0; i < 3; i++) {
        const case_opts *c = &CASES[i];
        char key[64];
        snprintf(key, sizeof key, "%s_f32_env", c->name);
        double e = lm_test_envelope(env, key, 0);
        for (int ck = 0; ck < 2; ck++) {
            lt_tensor *out;
            levels lv = {{0}, 0};
            run_case(&out, &lv, pr, f, c, LT_F32, !ck);
            lt_scope_push();
            for (int k = 0; k < lv.n; k++) {
                double rel, ab;
                snprintf(key, sizeof key, "%s_f32_level%d", c->name, k);
                max_err(lv.t[k], level_fixture(f, key, lv.t[k]), 0, &rel, &ab);
                printf("    level %d: max |diff| %.3g\n", k, ab);
            }
            lt_scope_pop();
            levels_free(&lv);
            snprintf(key, sizeof key, "%s_f32_out", c->name);
            lt_scope_push();
            lt_tensor *want = lm_test_fixture(f, key);
            double rel, ab;
            max_err(out, want, 0, &rel, &ab);
            /* tol = K x envelope + floor at the largest value (outputs are in 0-1) */
            double tol = lm_test_envelope_tol(e, 1.0);
            printf("  float32 case %s (checkpoint %s): max |diff| %.3g, envelope %.3g, tolerance %.3g\n",
                   c->name, ck ? "off" : "on ", ab, e, tol);
            ck_assert_msg(ab <= tol, "case %s: max |diff| %.3g over %.3g", c->name, ab, tol);
            lt_scope_pop();
            lt_free(out);
        }
    }
    lm_safetensors_close(env);
    lm_safetensors_close(f);
    lm_predictor_close(pr);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_split_and_kinds) {
    long live = lt_live_count();
    lm_predictor *pr = NULL;
    ck_assert_msg(lm_predictor_open(&pr, FX "/gen.safetensors", NULL, LT_CPU, LT_F64, stderr) == 0, "%s",
                  lm_err_msg());
    lt_scope_push();
    lt_no_grad_push();
    int64_t shp[4] = {1, 4, 40, 48};
    lt_manual_seed(3);
    lt_tensor *x = lt_rand(shp, 4, LT_F64, LT_CPU), *zl, *zg, *bl, *bg, *cl, *cg;
    lt_tensor *y = lm_generator_forward(pr->gen, x, 0);
    ck_assert_int_eq(lm_generator_front(pr->gen, x, 0, &zl, &zg), 0);
    ck_assert_int_eq(lt_size(zl, 1), 16);  /* 64 channels at the bottleneck, ratio 0.75 */
    ck_assert_int_eq(lt_size(zg, 1), 48);
    ck_assert_int_eq(lt_size(zl, 2), 5);
    lt_tensor *y2 = lm_generator_rear(pr->gen, zl, zg, 0);
    ck_assert_int_eq(lm_generator_rear_blocks(pr->gen), 2);
    ck_assert_int_eq(lm_generator_rear_block(pr->gen, 0, zl, zg, 0, &bl, &bg), 0);
    ck_assert_int_eq(lm_generator_rear_block(pr->gen, 1, bl, bg, 0, &cl, &cg), 0);
    lt_tensor *y3 = lm_generator_rear_tail(pr->gen, cl, cg, 0);
    double rel, ab;
    max_err(y2, y, 0, &rel, &ab);
    ck_assert_msg(ab == 0, "rear(front(x)) differs from forward(x) by %.3g", ab);
    max_err(y3, y, 0, &rel, &ab);
    ck_assert_msg(ab == 0, "blocks + tail differ from forward(x) by %.3g", ab);
    ck_assert_int_lt(lm_generator_rear_block(pr->gen, 2, zl, zg, 0, &bl, &bg), 0);
    lt_no_grad_pop();
    lt_scope_pop();
    lm_predictor_close(pr);
    /* pix2pixhd has no (local, global) front: refused with its kind named, before any work */
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_generator_opts go = lm_test_generator_opts();
    snprintf(go.kind, sizeof go.kind, "pix2pixhd_global");
    go.ngf = 4;
    go.n_blocks = 1;
    lm_generator *g = NULL;
    ck_assert_int_eq(lm_generator_create(&g, &p, &go), 0);
    uint8_t img[32 * 32 * 3] = {0}, msk[32 * 32] = {0};
    msk[100] = 255;
    float *out = NULL;
    int ow, oh;
    lm_refine_opts o = lm_refine_defaults();
    ck_assert_int_eq(lm_refine_image(&out, &ow, &oh, g, img, msk, 32, 32, LT_CPU, LT_F32, &o), LM_ENOTSUP);
    printf("  pix2pixhd: %s\n", lm_err_msg());
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "pix2pixhd_global"));
    ck_assert_ptr_null(out);
    lm_generator_free(g);
    lm_params_free(&p);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* ---- the CLI ------------------------------------------------------------------------------- */

static char g_tmp[64];

static void teardown(void) {
    if (g_tmp[0]) lm_test_rmtree(g_tmp);
    g_tmp[0] = 0;
}

/* `lamac predict ARGS` with stderr into *err; the exit status. */
static int run_cli(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_cli(char **err, const char *fmt, ...) {
    if (!g_tmp[0]) lm_test_tmpdir(g_tmp, sizeof g_tmp, "refine");
    char args[8192], cmd[12288], errf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(errf, sizeof errf, "%s/stderr.txt", g_tmp);
    snprintf(cmd, sizeof cmd, "%s predict %s >/dev/null 2>%s", lm_test_lamac_bin(), args, errf);
    int st = system(cmd);
    *err = lm_test_read_file(errf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* max |png - uint8(clip(fixture * 255))| over all samples */
static int max_diff_u8(const char *png, const char *key) {
    lm_safetensors_file *f = NULL;
    ck_assert_int_eq(lm_safetensors_open(&f, FX "/refine.safetensors"), 0);
    lm_image im = {0};
    ck_assert_msg(lm_image_read(&im, png, 3) == 0, "%s", lm_err_msg());
    const lm_safetensors_entry *e = lm_safetensors_find(f, key);
    ck_assert(e && e->ndim == 4 && e->shape[2] == im.h && e->shape[3] == im.w);
    const float *v = e->data;
    size_t n = (size_t)im.w * im.h;
    int m = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            float x = v[k * n + i] * 255.0f;
            int want = (int)(x < 0 ? 0 : x > 255 ? 255 : x);
            int d = abs(want - (int)im.data[i * 3 + k]);
            if (d > m) m = d;
        }
    lm_image_free(&im);
    lm_safetensors_close(f);
    return m;
}

START_TEST(test_cli) {
    char *err = NULL, out[256], cfg[256];
    if (!g_tmp[0]) lm_test_tmpdir(g_tmp, sizeof g_tmp, "refine");
    snprintf(out, sizeof out, "%s/a.png", g_tmp);
    const char *in = "--model " FX "/gen.safetensors --image " FX "/image.png --mask " FX "/image_mask.png";
    ck_assert_int_eq(run_cli(&err, "%s --out %s --threads 1 --refine --refine-iters 3 --refine-lr 0.01 "
                                   "--refine-min-side 32", in, out), 0);
    ck_assert_msg(strstr(err, "level 3/3") != NULL, "%s", err);
    free(err);
    int d = max_diff_u8(out, "a_f32_out");
    printf("  CLI --refine case a: max %d grey levels from the official float32 output\n", d);
    ck_assert_int_le(d, 1);
    /* the official prediction config's names; flags given after it win */
    snprintf(cfg, sizeof cfg, "%s/predict.yaml", g_tmp);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("indir: no\noutdir: no\ndataset:\n  kind: default\n  img_suffix: .png\n  pad_out_to_modulo: 8\n"
          "device: cuda\nout_key: inpainted\nrefine: True\nrefiner:\n  gpu_ids: 0,1\n"
          "  modulo: ${dataset.pad_out_to_modulo}\n  n_iters: 3\n  lr: 0.01\n  min_side: 32\n"
          "  max_scales: 3\n  px_budget: 6000\n", f);
    fclose(f);
    ck_assert_int_eq(run_cli(&err, "%s --out %s --threads 1 --predict-config %s", in, out, cfg), 0);
    ck_assert_msg(strstr(err, "resized to 83x71") != NULL, "%s", err);
    free(err);
    d = max_diff_u8(out, "b_f32_out");
    printf("  CLI --predict-config case b: max %d grey levels\n", d);
    ck_assert_int_le(d, 1);
    ck_assert_int_eq(run_cli(&err, "%s --out %s --threads 1 --predict-config %s --refine-px-budget 1.8e6 "
                                   "--refine-min-side 200 --refine-checkpoint off", in, out, cfg), 0);
    ck_assert_msg(strstr(err, "one level") != NULL, "%s", err);
    free(err);
    ck_assert_int_le(max_diff_u8(out, "c_f32_out"), 1);
    /* errors before any work */
    ck_assert_int_eq(run_cli(&err, "%s --out %s --refine --precision bf16", in, out), 1);
    ck_assert_msg(strstr(err, "--refine") != NULL, "%s", err);
    free(err);
    ck_assert_int_eq(run_cli(&err, "%s --out %s --refine --refine-checkpoint maybe", in, out), 1);
    ck_assert_msg(strstr(err, "--refine-checkpoint") != NULL, "%s", err);
    free(err);
    f = fopen(cfg, "w");
    fputs("refine: true\nrefiner:\n  n_iters: many\n", f);
    fclose(f);
    ck_assert_int_eq(run_cli(&err, "%s --out %s --predict-config %s", in, out, cfg), 1);
    ck_assert_msg(strstr(err, "refiner.n_iters") != NULL, "%s", err);
    free(err);
}
END_TEST

Suite *check_refine_suite(void) {
    Suite *s = suite_create("refine");
    TCase *tc = tcase_create("refine");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_plan_and_ellipse);
    tcase_add_test(tc, test_f64_parity);
    tcase_add_test(tc, test_f32_envelope);
    tcase_add_test(tc, test_split_and_kinds);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    return s;
}
