/* check_export_runtimes.c — `lamac export --format torchscript|onnx` end to end, each file run
 * in the runtime its users load it with, compared with `lamac predict`'s float output
 * (eval/predict.h lm_predict_image_float, the composite before the 8-bit conversion):
 *   - torchscript: torch.jit.load in Python, called the way IOPaint calls big-lama.pt
 *     (tests/rt/ts_run.py: pad to a multiple of 8 in numpy 'symmetric' mode, int64 mask,
 *     crop back), and torch::jit::load in C++ (shim lt_jit_load); within 1e-5 on 3 images:
 *     61x45 (odd, padded the IOPaint way), 64x64 and 40x96;
 *   - onnx: onnx.checker.check_model (python3-onnx) and onnxruntime-node (tests/rt/ort_run.js)
 *     at --size 64, a batch of 2, within 0.5 grey levels of 255 x predict's output; with
 *     --fft dft-op (dynamic sizes) at 64 and at 96.
 * Two sources: an official model directory (config.yaml + a Lightning best.ckpt written by
 * the official code, tests/fixtures/predict/official) and a model trained by `lamac train`.
 * The CLI's refusals (a generator the contracts cannot take, a size, a symlink at the target).
 * Threads pinned to 1 on every side. A runtime that is missing makes its check print that it
 * did not run (scripts/setup-deps.sh installs them all, so CI runs every check). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "data/image.h"
#include "eval/predict.h"
#include "run/predictor.h"
#include "shim/lt.h"
#include "tests/testutil.h"

#define PY "/usr/bin/python3"
#define OFFICIAL "tests/fixtures/predict/official"
#define SCENE "tests/fixtures/predict/indir/scene"

static char g_out[1 << 17];

static int have(const char *probe_cmd, int *cache) {
    if (*cache < 0) *cache = system(probe_cmd) == 0;
    return *cache;
}
static int have_torch(void) {
    static int c = -1;
    return have(PY " -c 'import torch' >/dev/null 2>&1", &c);
}
static int have_onnx(void) {
    static int c = -1;
    return have(PY " -c 'import onnx' >/dev/null 2>&1", &c);
}
static int have_ort(void) {
    static int c = -1;
    return have("node -e \"try{require('./.rt/node_modules/onnxruntime-node')}catch(e){require('onnxruntime-node')}\" >/dev/null 2>&1", &c);
}

/* One test image: RGB uint8 (h, w, 3) and mask uint8 (h, w). */
typedef struct timg {
    int w, h;
    uint8_t *rgb, *mask;
} timg;

static void timg_free(timg *t) {
    free(t->rgb);
    free(t->mask);
}

/* A smooth colour field with a few edges, and a mask of a box plus a thick diagonal stroke. */
static timg synth(int w, int h, int seed) {
    timg t = {w, h, malloc((size_t)w * h * 3), malloc((size_t)w * h)};
    ck_assert(t.rgb && t.mask);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            for (int k = 0; k < 3; k++)
                t.rgb[i * 3 + k] = (uint8_t)(127 + 100 * sin(0.11 * (x + 1) * (k + 1) + 0.07 * y * (seed + 1)) +
                                             ((x / 9 + y / 7 + k) % 3 == 0 ? 20 : 0));
            int box = x >= w / 4 && x < w / 2 && y >= h / 3 && y < 2 * h / 3;
            int stroke = abs((x - y * w / h) + seed * 3) < 4;
            t.mask[i] = box || stroke ? 255 : 0;
        }
    return t;
}

static timg scene(void) {
    lm_image im = {0}, mk = {0};
    ck_assert_msg(lm_image_read(&im, SCENE ".png", 3) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_image_read(&mk, SCENE "_mask.png", 1) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(im.w, mk.w);
    ck_assert_int_eq(im.h, mk.h);
    timg t = {im.w, im.h, malloc((size_t)im.w * im.h * 3), malloc((size_t)im.w * im.h)};
    memcpy(t.rgb, im.data, (size_t)im.w * im.h * 3);
    memcpy(t.mask, mk.data, (size_t)im.w * im.h);
    lm_image_free(&im);
    lm_image_free(&mk);
    return t;
}

static void write_raw(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f && fwrite(p, 1, n, f) == n, "cannot write %s", path);
    fclose(f);
}

static float *read_f32(const char *path, size_t n) {
    float *v = malloc(n * sizeof *v);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f && v, "cannot open %s", path);
    ck_assert_msg(fread(v, sizeof *v, n, f) == n, "%s: short", path);
    fclose(f);
    return v;
}

static double max_diff(const float *a, const float *b, size_t n, double scale_b) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - scale_b * b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

/* lamac predict's float output for t (the predictor pinned to 1 thread). */
static float *expected(lm_predictor *p, const timg *t) {
    float *e = malloc((size_t)t->w * t->h * 3 * sizeof *e);
    lm_predict_opts o = lm_predict_defaults();
    ck_assert_msg(lm_predict_image_float(e, p->gen, t->rgb, t->mask, t->w, t->h, &o) == 0, "%s", lm_err_msg());
    return e;
}

/* torch::jit::load in C++: the IOPaint call on the symmetric-padded image, cropped back. */
static float *run_jit_cpp(const char *model, const timg *t) {
    int H = lm_ceil_modulo(t->h, 8), W = lm_ceil_modulo(t->w, 8);
    size_t n = (size_t)t->w * t->h, N = (size_t)W * H;
    float *src = malloc(n * 4 * sizeof *src), *pad = malloc(N * 4 * sizeof *pad);
    float *out = malloc(N * 3 * sizeof *out), *crop = malloc(n * 3 * sizeof *crop);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) src[i * 4 + k] = t->rgb[i * 3 + k] / 255.0f;
        src[i * 4 + 3] = t->mask[i] / 255.0f; /* not binarised: the module does that */
    }
    lm_pad_symmetric_hwc(pad, src, t->h, t->w, 4, H, W);
    lt_jit *m = lt_jit_load(model, LT_CPU);
    ck_assert_msg(m, "torch::jit::load %s: %s", model, lt_error());
    lt_scope_push();
    lt_no_grad_push();
    int64_t shp[4] = {1, H, W, 4}, perm[4] = {0, 3, 1, 2};
    lt_tensor *x = lt_contiguous(lt_permute(lt_from_buffer(pad, shp, 4, LT_F32), perm, 4)); /* (1, 4, H, W) */
    lt_tensor *in[2] = {lt_contiguous(lt_narrow(x, 1, 0, 3)), lt_contiguous(lt_narrow(x, 1, 3, 1))};
    lt_tensor *y = lt_jit_forward(m, in, 2); /* (1, 3, H, W) */
    ck_assert_msg(y && lt_to_buffer(y, out, N * 3 * sizeof *out) == 0, "jit forward: %s", lt_error());
    lt_no_grad_pop();
    lt_scope_pop();
    lt_jit_free(m);
    for (int yy = 0; yy < t->h; yy++)
        for (int xx = 0; xx < t->w; xx++)
            for (int k = 0; k < 3; k++)
                crop[((size_t)yy * t->w + xx) * 3 + k] = out[(size_t)k * N + (size_t)yy * W + xx];
    free(src), free(pad), free(out);
    return crop;
}

static void check_torchscript(const char *src, const char *extra, const char *dir) {
    char model[600], a[700], b[700], c[700];
    snprintf(model, sizeof model, "%s/model.pt", dir);
    int rc = lm_test_run(g_out, sizeof g_out, "export %s --format torchscript --out %s %s", src, model, extra);
    ck_assert_msg(rc == 0, "export torchscript: %s", g_out);
    lm_predictor *p = NULL;
    ck_assert_msg(lm_predictor_open(&p, src, NULL, LT_CPU, LT_F32, stderr) == 0, "%s", lm_err_msg());
    timg imgs[3] = {scene(), synth(64, 64, 1), synth(40, 96, 2)};
    for (int i = 0; i < 3; i++) {
        const timg *t = &imgs[i];
        size_t n = (size_t)t->w * t->h * 3;
        float *e = expected(p, t);
        float *cpp = run_jit_cpp(model, t);
        double d = max_diff(cpp, e, n, 1);
        ck_assert_msg(d <= 1e-5, "%s %dx%d: torch::jit::load output vs lamac predict: max |diff| %g", src, t->w, t->h, d);
        printf("torchscript %s %dx%d: C++ torch::jit::load max |diff| %.3g\n", src, t->w, t->h, d);
        if (have_torch()) {
            snprintf(a, sizeof a, "%s/img.u8", dir);
            snprintf(b, sizeof b, "%s/mask.u8", dir);
            snprintf(c, sizeof c, "%s/out.f32", dir);
            write_raw(a, t->rgb, (size_t)t->w * t->h * 3);
            write_raw(b, t->mask, (size_t)t->w * t->h);
            int st = lm_test_sh(g_out, sizeof g_out, PY " tests/rt/ts_run.py %s %s %s %d %d %s", model, a, b, t->h,
                                t->w, c);
            ck_assert_msg(st == 0, "ts_run.py: %s", g_out);
            float *py = read_f32(c, n);
            d = max_diff(py, e, n, 1);
            ck_assert_msg(d <= 1e-5, "%s %dx%d: torch.jit.load (IOPaint call) vs lamac predict: max |diff| %g", src, t->w, t->h, d);
            printf("torchscript %s %dx%d: Python torch.jit.load max |diff| %.3g\n", src, t->w, t->h, d);
            free(py);
        }
        free(e), free(cpp);
    }
    if (!have_torch()) printf("torchscript: the torch.jit.load check did NOT run (no torch in " PY ")\n");
    for (int i = 0; i < 3; i++) timg_free(&imgs[i]);
    lm_predictor_close(p);
}

/* The ONNX file at --size 64 run on a batch of 2 images of side S (S = 64; with --fft dft-op
 * the graph has dynamic sizes, so other sides run too). */
static void check_onnx(const char *src, const char *extra, const char *dir, const char *fft, int S) {
    char model[600], a[700], b[700], c[700];
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    int rc = lm_test_run(g_out, sizeof g_out, "export %s --format onnx --size 64 --fft %s --out %s %s", src, fft,
                         model, extra);
    ck_assert_msg(rc == 0, "export onnx: %s", g_out);
    if (have_onnx()) {
        ck_assert_msg(lm_test_sh(g_out, sizeof g_out, PY " tests/rt/onnx_check.py %s", model) == 0, "onnx.checker: %s",
                      g_out);
        ck_assert_ptr_nonnull(strstr(g_out, "check ok"));
        ck_assert_ptr_nonnull(strstr(g_out, !strcmp(fft, "matmul") ? "input image 1 ['batch', 3, 64, 64]"
                                                                    : "input image 1 ['batch', 3, 'height', 'width']"));
    } else {
        printf("onnx: onnx.checker did NOT run (no python3-onnx)\n");
    }
    if (!have_ort()) {
        printf("onnx: the onnxruntime check did NOT run (no onnxruntime-node in .rt/)\n");
        return;
    }
    lm_predictor *p = NULL;
    ck_assert_msg(lm_predictor_open(&p, src, NULL, LT_CPU, LT_F32, stderr) == 0, "%s", lm_err_msg());
    enum { B = 2 };
    timg imgs[B] = {synth(S, S, 3), synth(S, S, 4)};
    size_t px = (size_t)S * S;
    float *img = malloc(B * 3 * px * sizeof *img), *msk = malloc(B * px * sizeof *msk);
    float *want = malloc(B * 3 * px * sizeof *want);
    for (int i = 0; i < B; i++) {
        float *e = expected(p, &imgs[i]); /* (S, S, 3) */
        for (size_t j = 0; j < px; j++) {
            for (int k = 0; k < 3; k++) {
                img[(i * 3 + k) * px + j] = imgs[i].rgb[j * 3 + k] / 255.0f;
                want[(i * 3 + k) * px + j] = e[j * 3 + k];
            }
            msk[i * px + j] = imgs[i].mask[j] / 255.0f;
        }
        free(e);
    }
    snprintf(a, sizeof a, "%s/img.f32", dir);
    snprintf(b, sizeof b, "%s/mask.f32", dir);
    snprintf(c, sizeof c, "%s/out.f32", dir);
    write_raw(a, img, B * 3 * px * sizeof *img);
    write_raw(b, msk, B * px * sizeof *msk);
    ck_assert_msg(lm_test_sh(g_out, sizeof g_out, "node tests/rt/ort_run.js %s %s %s %d %d %s", model, a, b, B, S, c) == 0,
                  "ort_run.js: %s", g_out);
    float *out = read_f32(c, B * 3 * px);
    double d = max_diff(out, want, B * 3 * px, 255);
    ck_assert_msg(d <= 0.5, "%s: onnxruntime output vs 255 x lamac predict: max |diff| %g grey levels", src, d);
    printf("onnx (fft %s) %s %dx%d: onnxruntime vs lamac predict max |diff| %.3g grey levels (%s)\n", fft, src, S, S,
           d, strtok(g_out, "\n"));
    free(out), free(img), free(msk), free(want);
    for (int i = 0; i < B; i++) timg_free(&imgs[i]);
    lm_predictor_close(p);
}

START_TEST(test_official_checkpoint) {
    char dir[256];
    lm_test_tmpdir(dir, sizeof dir, "rt_official");
    lt_set_num_threads(1);
    check_torchscript(OFFICIAL, "", dir);
    check_onnx(OFFICIAL, "", dir, "matmul", 64);
    check_onnx(OFFICIAL, "", dir, "dft-op", 64);
    check_onnx(OFFICIAL, "", dir, "dft-op", 96); /* a size other than the export's */
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_trained_by_lamac) {
    char dir[256], run[400];
    lm_test_tmpdir(dir, sizeof dir, "rt_trained");
    lt_set_num_threads(1);
    int rc = lm_test_run(g_out, sizeof g_out, "synth %s/data --train 8 --val 2 --test 2 --train-size 64 --size 64", dir);
    ck_assert_msg(rc == 0, "synth: %s", g_out);
    snprintf(run, sizeof run, "%s/run", dir);
    rc = lm_test_run(g_out, sizeof g_out, "train configs/training/demo.yaml location.data_root_dir=%s/data " LM_TEST_TINY_TRAIN
                     "trainer.kwargs.max_steps=3 trainer.kwargs.limit_val_batches=1 --threads 1 --run-dir %s", dir, run);
    ck_assert_msg(rc == 0, "train: %s", g_out);
    /* --raw: lamac predict (the reference) uses the trained weights, not the EMA copy */
    check_torchscript(run, "--raw", dir);
    check_onnx(run, "--raw", dir, "matmul", 64);
    lm_test_rmtree(dir);
}
END_TEST

/* What the formats cannot express is refused by the CLI with a message naming it, and nothing
 * is left behind; a symlink planted at the target is replaced, never followed. */
START_TEST(test_cli_refusals) {
    char dir[256], w[400], out[400], victim[400];
    lm_test_tmpdir(dir, sizeof dir, "rt_refuse");
    snprintf(w, sizeof w, "%s/w5.safetensors", dir);
    int rc = lm_test_run(g_out, sizeof g_out, "model init configs/training/demo.yaml generator.input_nc=5 generator.ngf=8 --out %s", w);
    ck_assert_msg(rc == 0, "%s", g_out);
    const char *fmts[2] = {"torchscript", "onnx --size 64"};
    for (int i = 0; i < 2; i++) {
        snprintf(out, sizeof out, "%s/m%d", dir, i);
        ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "export %s --format %s --out %s", w, fmts[i], out), 1);
        ck_assert_msg(strstr(g_out, "4 input") || strstr(g_out, "input_nc 4"), "%s", g_out);
        ck_assert_int_ne(access(out, F_OK), 0);
    }
    /* a symlink at the target: replaced by the file, its target untouched */
    snprintf(victim, sizeof victim, "%s/victim", dir);
    FILE *f = fopen(victim, "w");
    ck_assert_ptr_nonnull(f);
    fputs("keep", f);
    fclose(f);
    snprintf(out, sizeof out, "%s/link.onnx", dir);
    ck_assert_int_eq(symlink(victim, out), 0);
    rc = lm_test_run(g_out, sizeof g_out, "export " OFFICIAL " --format onnx --size 64 --out %s", out);
    ck_assert_msg(rc == 0, "%s", g_out);
    struct stat st;
    ck_assert_int_eq(lstat(out, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(stat(victim, &st), 0);
    ck_assert_int_eq(st.st_size, 4);
    /* a size the generator cannot take at all */
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "export " OFFICIAL " --format onnx --size 60 --out %s/x.onnx", dir), 2);
    lm_test_rmtree(dir);
}
END_TEST

/* A run with EMA weights: the file holds generator_average.* by default (as the other export
 * formats), generator.* with --raw; each equals the predictor opened on those weights. */
START_TEST(test_ema_selection) {
    char dir[256], ema[400], raw[400];
    lm_test_tmpdir(dir, sizeof dir, "rt_ema");
    lt_set_num_threads(1);
    const char *src = "tests/fixtures/export/run";
    snprintf(ema, sizeof ema, "%s/ema.pt", dir);
    snprintf(raw, sizeof raw, "%s/raw.pt", dir);
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "export %s --format torchscript --out %s", src, ema), 0);
    ck_assert_ptr_nonnull(strstr(g_out, "(EMA weights, generator_average.*)"));
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "export %s --format torchscript --raw --out %s", src, raw), 0);
    ck_assert_ptr_null(strstr(g_out, "EMA"));
    timg t = synth(64, 64, 5);
    size_t n = (size_t)t.w * t.h * 3;
    for (int use_ema = 0; use_ema < 2; use_ema++) {
        lm_predictor *p = NULL;
        ck_assert_msg(lm_predictor_open_opts(&p, src, NULL, NULL, use_ema, LT_CPU, LT_F32, stderr) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(p->used_ema, use_ema);
        float *e = expected(p, &t), *mine = run_jit_cpp(use_ema ? ema : raw, &t), *other = run_jit_cpp(use_ema ? raw : ema, &t);
        ck_assert_double_le(max_diff(mine, e, n, 1), 1e-5);
        ck_assert_double_gt(max_diff(other, e, n, 1), 1e-3); /* the two weight sets differ */
        free(e), free(mine), free(other);
        lm_predictor_close(p);
    }
    timg_free(&t);
    lm_test_rmtree(dir);
}
END_TEST

Suite *check_export_runtimes_suite(void) {
    Suite *s = suite_create("export_runtimes");
    TCase *tc = tcase_create("runtimes");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_official_checkpoint);
    tcase_add_test(tc, test_trained_by_lamac);
    tcase_add_test(tc, test_cli_refusals);
    tcase_add_test(tc, test_ema_selection);
    suite_add_tcase(s, tc);
    return s;
}
