/* check_torchscript.c — the TorchScript exporter (model/export_torchscript.c) and the shim's
 * lt_jit_* group:
 *   - hand-built graphs covering every op (reflect / zero / replicate pad, conv, BN, ReLU,
 *     stride-2 conv, avg-pool, RFFT2 + COORDS + IRFFT2, the LFU's quadrant slices and cats,
 *     REPEAT2, HALF, conv-transpose, sigmoid, tanh, add, channel-broadcast mul) exported, loaded
 *     back with lt_jit_load and run: the output equals the same graph computed with lt_*
 *     ops (lm_graph_run) and composited with the IOPaint contract, within 1e-5
 *     in float32 and 1e-12 in float64, on square and non-square sizes;
 *   - the real generators (lm_generator_emit, random weights and BN statistics): ffc_resnet as
 *     lama-fourier, with spectral position encoding + backward norm + tanh, gated + forward
 *     norm, the LFU (square); pix2pixhd_global and _multidilated: the archive's output equals
 *     the composite around the eval-mode lm_generator_forward within 1e-5 on square and
 *     non-square sizes, and an odd-size image padded symmetric to a multiple of 8 and cropped
 *     back (IOPaint's side of the contract) equals lm_predict_image_float within 1e-5; a
 *     float64 archive (lm_ts_opts.dtype) equals the float64 forward within 1e-12;
 *   - the same archive run by Python's torch.jit.load (tests/rt/ts_forward.py, fed an int64
 *     mask as IOPaint does), when /usr/bin/python3 has torch (else it says it did not run);
 *   - errors: an op the exporter cannot express, a BN without statistics, a wrong-size input
 *     at run time, each naming the node; no file left behind; a symlink at the target is
 *     replaced and its target untouched; an unwritable folder leaves no temporary file. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/err.h"
#include "model/export_torchscript.h"
#include "model/graph.h"
#include "eval/predict.h"
#include "tests/testutil.h"

#define PY "/usr/bin/python3"

/* ---- tensors owned by the test (outside scopes) --------------------------------------------- */
#define MAX_OWNED 64
static lt_tensor *g_owned[MAX_OWNED];
static int g_n_owned;

static lt_tensor *owned(lt_tensor *t) {
    ck_assert_msg(t != NULL, "%s", lt_error());
    ck_assert_int_lt(g_n_owned, MAX_OWNED);
    return g_owned[g_n_owned++] = lt_keep(t);
}

static void free_owned(void) {
    for (int i = 0; i < g_n_owned; i++) lt_free(g_owned[i]);
    g_n_owned = 0;
}

/* Before each test: what a failed test (no fork) left behind. */
static void setup(void) {
    free_owned();
    while (lt_scope_depth() > 0) lt_scope_pop();
}

static lt_tensor *randn(lt_dtype dt, double scale, int n, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t s[4] = {d0, d1, d2, d3};
    return owned(lt_mul_scalar(lt_randn(s, n, dt, LT_CPU), scale));
}

static lt_tensor *randu(lt_dtype dt, double lo, double hi, int64_t c) {
    int64_t s[1] = {c};
    return owned(lt_uniform_(lt_empty(s, 1, dt, LT_CPU), lo, hi));
}

/* ---- graph building --------------------------------------------------------------------------- */
static int conv(lm_graph *g, lt_dtype dt, int x, int cin, int cout, int k, int stride, int pad, int bias) {
    lm_gnode n = {.op = LM_GOP_CONV, .n_in = 1, .in = {x}, .c = cout, .a = {stride, pad, 1, 1}, .what = "test.conv"};
    n.w = randn(dt, 1.0 / sqrt((double)(cin * k * k)), 4, cout, cin, k, k);
    n.b = bias ? randn(dt, 0.1, 1, cout, 0, 0, 0) : NULL;
    return lm_graph_add(g, n);
}

static int convt(lm_graph *g, lt_dtype dt, int x, int cin, int cout) {
    lm_gnode n = {.op = LM_GOP_CONVT, .n_in = 1, .in = {x}, .c = cout, .a = {2, 1, 1, 1, 1}, .what = "test.convt"};
    n.w = randn(dt, 1.0 / sqrt((double)(cin * 9)), 4, cin, cout, 3, 3);
    n.b = randn(dt, 0.1, 1, cout, 0, 0, 0);
    return lm_graph_add(g, n);
}

static int bn(lm_graph *g, lt_dtype dt, int x, int c) {
    lm_gnode n = {.op = LM_GOP_BN, .n_in = 1, .in = {x}, .c = c, .eps = 1e-5, .what = "test.bn"};
    n.w = randu(dt, 0.5, 1.5, c);
    n.b = randu(dt, -0.2, 0.2, c);
    n.mean = randu(dt, -0.3, 0.3, c);
    n.var = randu(dt, 0.5, 2.0, c);
    return lm_graph_add(g, n);
}

static int fft(lm_graph *g, lm_gop op, int x, int like, int c, lt_fft_norm norm) {
    lm_gnode n = {.op = op, .n_in = op == LM_GOP_IRFFT2 ? 2 : 1, .in = {x, like}, .c = c, .norm = norm, .what = "test.fu"};
    return lm_graph_add(g, n);
}

static int half(lm_graph *g, int x, int dim, int which) {
    lm_gnode n = {.op = LM_GOP_HALF, .n_in = 1, .in = {x}, .c = g->n[x].c, .a = {dim, which}, .what = "test.lfu"};
    return lm_graph_add(g, n);
}

/* Every op of lm_gop, in the arrangement the generators use them (an FFC-like block with a
 * FourierUnit with coordinates and an LFU, a stride-2 conv and avg-pool down, conv-transposes
 * up). h, w: the input size (the static slices over H and W depend on it). */
static void build_mix(lm_graph *g, lt_dtype dt, int64_t h, int64_t w) {
    ck_assert_int_eq(lm_graph_init(g, 4), 0);
    g->output_nc = 3;
    g->modulo = 8;
    int x = lm_graph_pad(g, 0, 3, LT_PAD_REFLECT);                      /* (4, h+6, w+6) */
    x = lm_graph_unary(g, LM_GOP_RELU, bn(g, dt, conv(g, dt, x, 4, 8, 7, 1, 0, 1), 8)); /* (8, h, w) */
    x = lm_graph_unary(g, LM_GOP_RELU, bn(g, dt, conv(g, dt, x, 8, 16, 3, 2, 1, 0), 16)); /* (16, h/2, w/2) */
    x = lm_graph_unary(g, LM_GOP_AVGPOOL2, x);                          /* (16, h/4, w/4) */
    int s = conv(g, dt, x, 16, 8, 1, 1, 0, 0);                          /* (8, q, r) */
    int f = fft(g, LM_GOP_RFFT2, s, -1, 16, LT_FFT_ORTHO);              /* (16, q, r/2+1) */
    int parts[2] = {lm_graph_unary(g, LM_GOP_COORDS, f), f};
    f = lm_graph_cat(g, parts, 2, 1);                                   /* (18, ..) */
    f = lm_graph_unary(g, LM_GOP_RELU, bn(g, dt, conv(g, dt, f, 18, 16, 1, 1, 0, 0), 16));
    int y = lm_graph_binary(g, LM_GOP_ADD, s, fft(g, LM_GOP_IRFFT2, f, s, 8, LT_FFT_ORTHO)); /* (8, q, r) */
    /* the LFU: first C/4 channels cut in quadrants, a FourierUnit (backward norm), tiled 2x2 */
    int64_t q = h / 8, r = w / 8;
    int xq = lm_graph_slice(g, s, 1, 0, 2);                             /* (2, 2q, 2r) */
    int rows[2] = {half(g, xq, 2, 0), half(g, xq, 2, 1)};
    int xs = lm_graph_cat(g, rows, 2, 1);                               /* (4, q, 2r) */
    int cols[2] = {half(g, xs, 3, 0), half(g, xs, 3, 1)};
    xs = lm_graph_cat(g, cols, 2, 1);                                   /* (8, q, r) */
    int lf = fft(g, LM_GOP_RFFT2, xs, -1, 16, LT_FFT_BACKWARD);
    lf = lm_graph_unary(g, LM_GOP_RELU, bn(g, dt, conv(g, dt, lf, 16, 16, 1, 1, 0, 0), 16));
    lf = lm_graph_unary(g, LM_GOP_REPEAT2, fft(g, LM_GOP_IRFFT2, lf, xs, 8, LT_FFT_BACKWARD)); /* (8, 2q, 2r) */
    y = lm_graph_binary(g, LM_GOP_ADD, y, lf);
    /* a cat and slice over H and W */
    int hw[2] = {y, y};
    y = lm_graph_slice(g, lm_graph_cat(g, hw, 2, 3), 3, r, 2 * r);
    hw[0] = hw[1] = y;
    y = lm_graph_slice(g, lm_graph_cat(g, hw, 2, 2), 2, q / 2, 2 * q);
    y = lm_graph_unary(g, LM_GOP_TANH, convt(g, dt, y, 8, 8));          /* (8, h/2, w/2) */
    int gate = lm_graph_unary(g, LM_GOP_SIGMOID, lm_graph_slice(g, y, 1, 0, 1));
    y = lm_graph_binary(g, LM_GOP_MUL, y, gate);                        /* broadcast over C */
    y = lm_graph_unary(g, LM_GOP_RELU, convt(g, dt, y, 8, 8));          /* (8, h, w) */
    y = conv(g, dt, lm_graph_pad(g, y, 1, LT_PAD_CONSTANT), 8, 8, 3, 1, 0, 1);
    y = conv(g, dt, lm_graph_pad(g, y, 2, LT_PAD_REPLICATE), 8, 3, 5, 1, 0, 1);
    g->out = lm_graph_unary(g, LM_GOP_SIGMOID, y);                      /* (3, h, w) */
    ck_assert_msg(g->out > 0, "%s", lm_err_msg());
    int64_t(*d)[3] = malloc((size_t)g->len * sizeof *d);
    ck_assert_msg(lm_graph_infer(g, h, w, d) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(d[g->out][0], 3);
    ck_assert_int_eq(d[g->out][1], h);
    ck_assert_int_eq(d[g->out][2], w);
    free(d);
}

/* ---- the reference: the graph run with the shim's ops (model/graph_run.c lm_graph_run, which
 * the graph suite holds to the eval forwards) ------------------------------------------------ */
/* The IOPaint contract around the reference generator. */
static lt_tensor *ref_composite(const lm_graph *g, lt_tensor *img, lt_tensor *mask) {
    lt_tensor *m = lt_to_dtype(lt_gt_scalar(mask, 0), lt_type(img));
    lt_tensor *inv = lt_rsub_scalar(m, 1.0);
    lt_tensor *x[2] = {lt_mul(img, inv), m};
    lt_tensor *pred = lm_graph_run(g, lt_cat(x, 2, 1));
    ck_assert_msg(pred != NULL, "lm_graph_run: %s", lt_error());
    return lt_add(lt_mul(m, pred), lt_mul(inv, img));
}

static double max_abs_diff(lt_tensor *a, lt_tensor *b) {
    ck_assert_msg(a && b, "%s", lt_error());
    ck_assert_msg(lt_same_shape(a, b), "shapes differ");
    double d = lt_item(lt_max(lt_abs(lt_sub(lt_to_dtype(a, LT_F64), lt_to_dtype(b, LT_F64)))));
    ck_assert_msg(!isnan(d), "%s", lt_error());
    return d;
}

/* image (1, 3, h, w) in [0, 1], mask (1, 1, h, w) in [0, 1) with about half above 0.5
 * (binarised inside: > 0, so all but exact zeros; a quarter set to exactly 0) */
static void inputs(lt_dtype dt, int64_t h, int64_t w, lt_tensor **img, lt_tensor **mask) {
    int64_t si[4] = {1, 3, h, w}, sm[4] = {1, 1, h, w};
    *img = lt_rand(si, 4, dt, LT_CPU);
    lt_tensor *u = lt_rand(sm, 4, dt, LT_CPU);
    *mask = lt_where(lt_lt_scalar(u, 0.5), lt_zeros(sm, 4, dt, LT_CPU), u);
}

static int python_has_torch(void) {
    static int has = -1;
    if (has < 0) has = system(PY " -c 'import torch' >/dev/null 2>&1") == 0;
    if (!has) printf("torchscript: %s has no torch: the torch.jit.load check did NOT run\n", PY);
    return has;
}

/* Runs the archive with Python's torch.jit.load (IOPaint's way) on img/mask; returns its
 * output, or NULL when Python has no torch. */
static lt_tensor *python_forward(const char *dir, const char *model, lt_tensor *img, lt_tensor *mask) {
    if (!python_has_torch()) return NULL;
    char ip[600], mp[600], op[600], out[4096];
    snprintf(ip, sizeof ip, "%s/image.f32", dir);
    snprintf(mp, sizeof mp, "%s/mask.f32", dir);
    snprintf(op, sizeof op, "%s/out.f32", dir);
    lm_test_write_f32(ip, img);
    lm_test_write_f32(mp, mask);
    int64_t h = lt_size(img, 2), w = lt_size(img, 3);
    int st = lm_test_sh(out, sizeof out, PY " tests/rt/ts_forward.py %s %s %s %lld %lld %s", model, ip, mp,
                        (long long)h, (long long)w, op);
    ck_assert_msg(st == 0, "ts_forward.py %s failed:\n%s", model, out);
    int64_t shape[4] = {1, 3, h, w};
    return lm_test_read_f32(op, shape, 4);
}

/* Exports build_mix at h x w, runs the archive in C (and Python in float32), compares to the
 * lt_* reference. */
static void check_mix(lt_dtype dt, int64_t h, int64_t w, double tol) {
    char dir[256], path[600];
    lm_test_tmpdir(dir, sizeof dir, "ts");
    snprintf(path, sizeof path, "%s/mix.pt", dir);
    lt_manual_seed(1000 + (uint64_t)h * 7 + (uint64_t)w);
    lm_graph g;
    build_mix(&g, dt, h, w);
    lm_ts_opts o = lm_ts_defaults();
    o.dtype = dt;
    ck_assert_msg(lm_export_torchscript(&g, path, &o) == 0, "%s", lm_err_msg());
    lt_jit *m = lt_jit_load(path, LT_CPU);
    ck_assert_msg(m != NULL, "%s", lt_error());
    lt_scope_push();
    lt_no_grad_push();
    lt_tensor *img, *mask;
    inputs(dt, h, w, &img, &mask);
    lt_tensor *in[2] = {img, mask};
    lt_tensor *y = lt_jit_forward(m, in, 2);
    ck_assert_msg(y != NULL, "%s", lt_error());
    ck_assert_int_eq(lt_type(y), dt);
    lt_tensor *e = ref_composite(&g, img, mask);
    double d = max_abs_diff(y, e);
    /* the hole is really filled (the comparison is not of the kept pixels alone) */
    double dk = max_abs_diff(y, img);
    printf("torchscript: mix %s %lldx%lld: max |jit - lt ops| = %.3g (output vs image %.3g)\n",
           lt_dtype_name(dt), (long long)h, (long long)w, d, dk);
    ck_assert_msg(d <= tol, "mix %lldx%lld: max abs diff %g > %g", (long long)h, (long long)w, d, tol);
    ck_assert(dk > 0.05);
    /* a second run (the profiling executor optimises from the second call on) */
    ck_assert_double_le(max_abs_diff(lt_jit_forward(m, in, 2), e), tol);
    if (dt == LT_F32) {
        lt_tensor *py = python_forward(dir, path, img, mask);
        if (py) {
            double dp = max_abs_diff(py, e);
            printf("torchscript: mix %lldx%lld: max |python torch.jit.load - lt ops| = %.3g\n", (long long)h,
                   (long long)w, dp);
            ck_assert_double_le(dp, tol);
        }
    }
    lt_no_grad_pop();
    lt_scope_pop();
    lt_jit_free(m);
    lm_graph_free(&g);
    free_owned();
    lm_test_rmtree(dir);
}

START_TEST(test_mix_f32) {
    check_mix(LT_F32, 64, 64, 1e-5);
    check_mix(LT_F32, 48, 80, 1e-5);
}
END_TEST

START_TEST(test_mix_f64) {
    check_mix(LT_F64, 32, 48, 1e-12);
}
END_TEST

/* The archive keeps the weights' values (a copy: changing the graph's tensors afterwards
 * does not reach it), as parameters and buffers with the node-derived names. */
START_TEST(test_module_holds_copies) {
    char dir[256], path[600];
    lm_test_tmpdir(dir, sizeof dir, "ts");
    snprintf(path, sizeof path, "%s/m.pt", dir);
    lm_graph g;
    build_mix(&g, LT_F32, 16, 16);
    lt_jit *m = NULL;
    ck_assert_msg(lm_ts_module(&m, &g, NULL) == 0, "%s", lm_err_msg());
    lt_scope_push();
    lt_no_grad_push();
    lt_tensor *img, *mask;
    inputs(LT_F32, 16, 16, &img, &mask);
    lt_tensor *e = ref_composite(&g, img, mask);
    lt_tensor *in[2] = {img, mask};
    for (int i = 0; i < g.len; i++)
        if (g.n[i].w) lt_fill_(g.n[i].w, 0.25); /* the graph's weights change after the module was built */
    ck_assert_double_le(max_abs_diff(lt_jit_forward(m, in, 2), e), 1e-5);
    void *data = NULL;
    size_t size = 0;
    ck_assert_int_eq(lt_jit_save_buffer(m, &data, &size), 0);
    ck_assert_uint_gt(size, 1000);
    free(data);
    lt_no_grad_pop();
    lt_scope_pop();
    lt_jit_free(m);
    lm_graph_free(&g);
    free_owned();
    lm_test_rmtree(dir);
}
END_TEST

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

START_TEST(test_errors) {
    char dir[256], path[600];
    lm_test_tmpdir(dir, sizeof dir, "ts");
    snprintf(path, sizeof path, "%s/bad.pt", dir);
    /* an op the exporter cannot express: named with its module, nothing written */
    lm_graph g;
    build_mix(&g, LT_F32, 16, 16);
    lm_gnode odd = {.op = LM_GOP_COUNT, .n_in = 1, .in = {g.out}, .c = 3, .what = "model.99.weird"};
    g.out = lm_graph_add(&g, odd);
    ck_assert_int_lt(lm_export_torchscript(&g, path, NULL), 0);
    printf("torchscript: unsupported op: %s\n", lm_err_msg());
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "model.99.weird"));
    ck_assert_int_eq(lm_err_last_code(), LM_ENOTSUP);
    ck_assert_int_eq(dir_entries(dir), 0);
    lm_graph_free(&g);
    free_owned();
    /* a BN without running statistics */
    build_mix(&g, LT_F32, 16, 16);
    for (int i = 0; i < g.len; i++)
        if (g.n[i].op == LM_GOP_BN) {
            g.n[i].var = NULL;
            g.n[i].what = "model.3.bn";
            break;
        }
    ck_assert_int_lt(lm_export_torchscript(&g, path, NULL), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "model.3.bn"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "running statistics"));
    ck_assert_int_eq(dir_entries(dir), 0);
    lm_graph_free(&g);
    free_owned();
    /* a generator without the IOPaint channels */
    ck_assert_int_eq(lm_graph_init(&g, 3), 0);
    g.output_nc = 3;
    g.out = lm_graph_unary(&g, LM_GOP_SIGMOID, 0);
    ck_assert_int_lt(lm_export_torchscript(&g, path, NULL), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "input_nc 4"));
    lm_graph_free(&g);
    /* a size that is not a multiple of the modulo: the module says so at run time */
    build_mix(&g, LT_F32, 16, 16);
    lt_jit *m = NULL;
    ck_assert_msg(lm_ts_module(&m, &g, NULL) == 0, "%s", lm_err_msg());
    lt_scope_push();
    lt_tensor *img, *mask;
    inputs(LT_F32, 16, 20, &img, &mask);
    lt_tensor *in[2] = {img, mask};
    ck_assert_ptr_null(lt_jit_forward(m, in, 2));
    printf("torchscript: 16x20 input: %s\n", lt_error());
    ck_assert_ptr_nonnull(strstr(lt_error(), "multiples of 8"));
    lt_error_clear();
    lt_scope_pop();
    lt_jit_free(m);
    lm_graph_free(&g);
    free_owned();
    /* the shim: a compile error names the line; NULL in, NULL out */
    m = lt_jit_new("__torch__.T");
    ck_assert_ptr_nonnull(m);
    ck_assert_int_lt(lt_jit_define(m, "def forward(self, x: Tensor) -> Tensor:\n    return torch.no_such_op(x)\n"), 0);
    printf("torchscript: compile error: %s\n", lt_error());
    ck_assert_ptr_nonnull(strstr(lt_error(), "no_such_op"));
    ck_assert_ptr_null(strchr(lt_error(), '\n'));
    ck_assert_ptr_null(lt_jit_forward(NULL, in, 0));
    ck_assert_int_lt(lt_jit_register(m, "x", NULL, 0), 0);
    ck_assert_ptr_null(lt_jit_load("/nonexistent/m.pt", LT_CPU));
    lt_jit_free(m);
    lt_jit_free(NULL);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_atomic_write) {
    char dir[256], outside[600], target[700], sub[600], bad[700];
    lm_test_tmpdir(dir, sizeof dir, "ts");
    snprintf(outside, sizeof outside, "%s/outside.txt", dir);
    snprintf(sub, sizeof sub, "%s/out", dir);
    ck_assert_int_eq(mkdir(sub, 0777), 0);
    snprintf(target, sizeof target, "%s/big-lama.pt", sub);
    ck_assert_int_eq(lm_atomic_write_file(outside, "keep", 4), 0);
    ck_assert_int_eq(symlink(outside, target), 0);
    lm_graph g;
    build_mix(&g, LT_F32, 16, 16);
    /* a symlink at the target is replaced, its target untouched */
    ck_assert_msg(lm_export_torchscript(&g, target, NULL) == 0, "%s", lm_err_msg());
    struct stat st;
    ck_assert_int_eq(lstat(target, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    char *kept = lm_test_read_file(outside);
    ck_assert_str_eq(kept, "keep");
    free(kept);
    ck_assert_int_eq(dir_entries(sub), 1);
    lt_jit *m = lt_jit_load(target, LT_CPU);
    ck_assert_msg(m != NULL, "%s", lt_error());
    lt_jit_free(m);
    /* a folder that cannot hold the file: an error, no temporary file left */
    snprintf(bad, sizeof bad, "%s/outside.txt/m.pt", dir); /* a path through a regular file */
    ck_assert_int_lt(lm_export_torchscript(&g, bad, NULL), 0);
    printf("torchscript: unwritable: %s\n", lm_err_msg());
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(sub, 0500), 0);
        snprintf(bad, sizeof bad, "%s/again.pt", sub);
        ck_assert_int_lt(lm_export_torchscript(&g, bad, NULL), 0);
        ck_assert_int_eq(chmod(sub, 0700), 0);
    } else {
        printf("torchscript: running as root: the read-only folder case did not run\n");
    }
    ck_assert_int_eq(dir_entries(sub), 1);
    ck_assert_int_eq(dir_entries(dir), 2);
    lm_graph_free(&g);
    free_owned();
    lm_test_rmtree(dir);
}
END_TEST

/* ---- the real generators (lm_generator_emit) ------------------------------------------------- */
/* A generator with seeded random weights (tests/testutil.h) and its inference graph. */
typedef struct gen {
    lm_test_gen m;
    lm_graph graph;
} gen;

static void gen_open(gen *m, const lm_generator_opts *o, lt_dtype dtype, uint64_t seed) {
    lm_test_gen_open(&m->m, o, dtype, seed);
    ck_assert_msg(lm_generator_emit(m->m.g, &m->graph) == 0, "%s", lm_err_msg());
}

static void gen_close(gen *m) {
    lm_graph_free(&m->graph);
    lm_test_gen_close(&m->m);
}

/* mask * G(cat(image * (1 - mask), mask)) + (1 - mask) * image with the eval-mode forward. */
static lt_tensor *forward_composite(lm_generator *g, lt_tensor *img, lt_tensor *mask) {
    lt_tensor *m = lt_to_dtype(lt_gt_scalar(mask, 0), LT_F32);
    lt_tensor *inv = lt_rsub_scalar(m, 1.0);
    lt_tensor *x[2] = {lt_mul(img, inv), m};
    lt_tensor *pred = lm_generator_forward(g, lt_cat(x, 2, 1), 0);
    ck_assert_msg(pred != NULL, "%s", lm_err_msg());
    return lt_add(lt_mul(m, pred), lt_mul(inv, img));
}

/* Exports o's generator, loads it back, compares with the eval forward at each size (and with
 * Python's torch.jit.load at the first size when py). Returns the largest difference. */
static double check_generator(const char *name, const lm_generator_opts *o, const int (*sizes)[2], int n, int py) {
    char dir[256], path[600];
    lm_test_tmpdir(dir, sizeof dir, "ts");
    snprintf(path, sizeof path, "%s/%s.pt", dir, name);
    long live = lt_live_count();
    gen m;
    gen_open(&m, o, LT_F32, 21);
    ck_assert_msg(lm_export_torchscript(&m.graph, path, NULL) == 0, "%s: %s", name, lm_err_msg());
    lt_jit *jm = lt_jit_load(path, LT_CPU);
    ck_assert_msg(jm != NULL, "%s", lt_error());
    double worst = 0;
    lt_no_grad_push();
    for (int s = 0; s < n; s++) {
        lt_scope_push();
        lt_manual_seed(31 + (uint64_t)s);
        lt_tensor *img, *mask;
        inputs(LT_F32, sizes[s][0], sizes[s][1], &img, &mask);
        lt_tensor *in[2] = {img, mask};
        lt_tensor *y = lt_jit_forward(jm, in, 2);
        ck_assert_msg(y != NULL, "%s %dx%d: %s", name, sizes[s][0], sizes[s][1], lt_error());
        lt_tensor *e = forward_composite(m.m.g, img, mask);
        double d = max_abs_diff(y, e);
        printf("torchscript: %s %dx%d: max |jit - eval forward composite| = %.3g\n", name, sizes[s][0], sizes[s][1], d);
        ck_assert_msg(d <= 1e-5, "%s %dx%d: max abs diff %g", name, sizes[s][0], sizes[s][1], d);
        if (d > worst) worst = d;
        if (py && s == 0) {
            lt_tensor *p = python_forward(dir, path, img, mask);
            if (p) {
                double dp = max_abs_diff(p, e);
                printf("torchscript: %s %dx%d: max |python torch.jit.load - eval forward composite| = %.3g\n", name,
                       sizes[s][0], sizes[s][1], dp);
                ck_assert_double_le(dp, 1e-5);
            }
        }
        lt_scope_pop();
    }
    lt_no_grad_pop();
    lt_jit_free(jm);
    gen_close(&m);
    ck_assert_int_eq(lt_live_count(), live); /* the export and the runs leak no handle */
    lm_test_rmtree(dir);
    return worst;
}

static const int SIZES[2][2] = {{64, 64}, {48, 80}};
static const int SQUARE[2][2] = {{64, 64}, {32, 32}};

START_TEST(test_ffc_lama_fourier) {
    lm_generator_opts o = lm_test_small_ffc_opts(3);
    check_generator("lama-fourier", &o, SIZES, 2, 1);
}
END_TEST

START_TEST(test_ffc_variants) {
    lm_generator_opts o = lm_test_small_ffc_opts(3);
    o.resnet_conv_kwargs.spectral_pos_encoding = 1;
    strcpy(o.resnet_conv_kwargs.fft_norm, "backward");
    o.add_out_act = LM_ACT_TANH;
    check_generator("ffc-spe-backward-tanh", &o, SIZES, 2, 0);
    o = lm_test_small_ffc_opts(3);
    strcpy(o.resnet_conv_kwargs.fft_norm, "forward");
    o.add_out_act = LM_ACT_NONE;
    o.resnet_conv_kwargs.gated = 1;
    check_generator("ffc-gated-forward", &o, SIZES, 2, 0);
    o = lm_test_small_ffc_opts(3);
    o.ngf = 16; /* the LFU needs cout/2 divisible by 4 in the global branch */
    o.resnet_conv_kwargs.enable_lfu = 1;
    check_generator("ffc-lfu", &o, SQUARE, 2, 1);
}
END_TEST

START_TEST(test_pix2pixhd) {
    lm_generator_opts o = lm_test_small_ffc_opts(3);
    strcpy(o.kind, "pix2pixhd_global");
    check_generator("pix2pixhd_global", &o, SIZES, 2, 1);
    strcpy(o.kind, "pix2pixhd_multidilated");
    o.multidilation_dilation_num = 4;
    static const int WIDE[2][2] = {{80, 80}, {72, 96}}; /* reflect padding up to 8 at 1/8 size: 9 and more */
    check_generator("pix2pixhd_multidilated", &o, WIDE, 2, 0);
}
END_TEST

/* lm_ts_opts.dtype LT_F64: a float64 archive equals the float64 eval forward to 1e-12. */
START_TEST(test_ffc_f64) {
    char dir[256], path[600];
    lm_test_tmpdir(dir, sizeof dir, "ts");
    snprintf(path, sizeof path, "%s/f64.pt", dir);
    lm_generator_opts o = lm_test_small_ffc_opts(3);
    o.resnet_conv_kwargs.spectral_pos_encoding = 1;
    gen m;
    gen_open(&m, &o, LT_F64, 9);
    lm_ts_opts to = lm_ts_defaults();
    to.dtype = LT_F64;
    ck_assert_msg(lm_export_torchscript(&m.graph, path, &to) == 0, "%s", lm_err_msg());
    lt_jit *jm = lt_jit_load(path, LT_CPU);
    ck_assert_msg(jm != NULL, "%s", lt_error());
    lt_scope_push();
    lt_no_grad_push();
    lt_tensor *img, *mask;
    inputs(LT_F64, 48, 80, &img, &mask);
    lt_tensor *in[2] = {img, mask};
    lt_tensor *y = lt_jit_forward(jm, in, 2);
    ck_assert_msg(y != NULL, "%s", lt_error());
    ck_assert_int_eq(lt_type(y), LT_F64);
    lt_tensor *mb = lt_to_dtype(lt_gt_scalar(mask, 0), LT_F64), *inv = lt_rsub_scalar(mb, 1.0);
    lt_tensor *x[2] = {lt_mul(img, inv), mb};
    lt_tensor *e = lt_add(lt_mul(mb, lm_generator_forward(m.m.g, lt_cat(x, 2, 1), 0)), lt_mul(inv, img));
    double d = max_abs_diff(y, e);
    printf("torchscript: lama-fourier+spe F64 48x80: max |jit - eval forward composite| = %.3g\n", d);
    ck_assert_double_le(d, 1e-12);
    lt_no_grad_pop();
    lt_scope_pop();
    lt_jit_free(jm);
    gen_close(&m);
    lm_test_rmtree(dir);
}
END_TEST

/* An odd-size image as IOPaint feeds it (padded bottom/right to a multiple of 8 in numpy's
 * 'symmetric' mode, then cropped), against eval/predict's official semantics before the
 * 8-bit conversion (lm_predict_image_float). */
START_TEST(test_predict_semantics) {
    enum { h = 45, w = 59 };
    const int H = lm_ceil_modulo(h, 8), W = lm_ceil_modulo(w, 8);
    char dir[256], path[600];
    lm_test_tmpdir(dir, sizeof dir, "ts");
    snprintf(path, sizeof path, "%s/lama.pt", dir);
    lm_generator_opts o = lm_test_small_ffc_opts(3);
    gen m;
    gen_open(&m, &o, LT_F32, 5);
    ck_assert_msg(lm_export_torchscript(&m.graph, path, NULL) == 0, "%s", lm_err_msg());
    uint8_t *img = malloc((size_t)h * w * 3), *mask = malloc((size_t)h * w);
    uint64_t st = 12345;
    for (int i = 0; i < h * w * 3; i++) img[i] = (uint8_t)((st = st * 6364136223846793005ULL + 1442695040888963407ULL) >> 56);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) mask[y * w + x] = (x - 30) * (x - 30) + (y - 20) * (y - 20) < 150 || (x > 50 && y > 38) ? 255 : 0;
    float *want = malloc((size_t)h * w * 3 * sizeof *want);
    lm_predict_opts po = lm_predict_defaults();
    ck_assert_msg(lm_predict_image_float(want, m.m.g, img, mask, w, h, &po) == 0, "%s", lm_err_msg());
    /* the caller's side of the contract: 0-1 floats, symmetric pad, NCHW */
    float *src = malloc((size_t)h * w * 4 * sizeof *src), *pad = malloc((size_t)H * W * 4 * sizeof *pad);
    for (int i = 0; i < h * w; i++) {
        for (int k = 0; k < 3; k++) src[i * 4 + k] = (float)img[i * 3 + k] / 255.0f;
        src[i * 4 + 3] = (float)mask[i] / 255.0f;
    }
    lm_pad_symmetric_hwc(pad, src, h, w, 4, H, W);
    lt_jit *jm = lt_jit_load(path, LT_CPU);
    ck_assert_msg(jm != NULL, "%s", lt_error());
    lt_scope_push();
    lt_no_grad_push();
    int64_t shp[4] = {1, H, W, 4}, perm[4] = {0, 3, 1, 2};
    lt_tensor *x = lt_contiguous(lt_permute(lt_from_buffer(pad, shp, 4, LT_F32), perm, 4)); /* (1, 4, H, W) */
    lt_tensor *in[2] = {lt_contiguous(lt_narrow(x, 1, 0, 3)), lt_contiguous(lt_narrow(x, 1, 3, 1))};
    lt_tensor *y = lt_jit_forward(jm, in, 2);
    ck_assert_msg(y != NULL, "%s", lt_error());
    int64_t hwc[4] = {0, 2, 3, 1};
    lt_tensor *got = lt_permute(lt_narrow(lt_narrow(y, 2, 0, h), 3, 0, w), hwc, 4); /* (1, h, w, 3) */
    int64_t ws[4] = {1, h, w, 3};
    lt_tensor *e = lt_from_buffer(want, ws, 4, LT_F32);
    double d = max_abs_diff(got, e);
    printf("torchscript: predict %dx%d (padded %dx%d): max |jit - lm_predict_image_float| = %.3g\n", h, w, H, W, d);
    ck_assert_double_le(d, 1e-5);
    lt_tensor *py = python_forward(dir, path, in[0], in[1]);
    if (py) {
        double dp = max_abs_diff(lt_permute(lt_narrow(lt_narrow(py, 2, 0, h), 3, 0, w), hwc, 4), e);
        printf("torchscript: predict %dx%d: max |python torch.jit.load - lm_predict_image_float| = %.3g\n", h, w, dp);
        ck_assert_double_le(dp, 1e-5);
    }
    lt_no_grad_pop();
    lt_scope_pop();
    lt_jit_free(jm);
    free(src);
    free(pad);
    free(want);
    free(img);
    free(mask);
    gen_close(&m);
    lm_test_rmtree(dir);
}
END_TEST

Suite *check_torchscript_suite(void) {
    Suite *s = suite_create("torchscript");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_mix_f32);
    tcase_add_test(tc, test_mix_f64);
    tcase_add_test(tc, test_module_holds_copies);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_atomic_write);
    suite_add_tcase(s, tc);
    TCase *gen = tcase_create("generator");
    tcase_set_timeout(gen, 600);
    tcase_add_checked_fixture(gen, setup, NULL);
    tcase_add_test(gen, test_ffc_lama_fourier);
    tcase_add_test(gen, test_ffc_variants);
    tcase_add_test(gen, test_pix2pixhd);
    tcase_add_test(gen, test_ffc_f64);
    tcase_add_test(gen, test_predict_semantics);
    suite_add_tcase(s, gen);
    return s;
}
