/* check_onnx.c — io/protobuf (wire format), io/onnx (ModelProto field numbers, decoded by
 * python3-onnx's checker), model/dft (the DFT matrices against torch.fft in float64) and
 * model/export_onnx (`lamac export --format onnx`): hand-built inference graphs exported at a
 * small size, checked with onnx.checker, run in onnxruntime-node and compared with the same
 * graph evaluated with the shim (lm_graph_run, float32) under the LaMa-ONNX contract, in both
 * FFT lowerings (matmul; dft-op, run at another size than the export's too); real generators
 * (ffc_resnet variants, pix2pixhd_global) against lm_generator_forward in float32 and float64,
 * within 0.5 grey levels; refusals (size, unsupported op, output shape) leave no file; a
 * symlink at the target is replaced.
 * Runtimes: python3-onnx (tests/rt/onnx_check.py) and onnxruntime-node in .rt/
 * (tests/rt/ort_run.js), both installed by scripts/setup-deps.sh; a test whose runtime is
 * missing says so and does not compare. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "io/onnx.h"
#include "io/protobuf.h"
#include "model/dft.h"
#include "model/export_onnx.h"
#include "model/graph.h"
#include "shim/lt.h"
#include "eval/predict.h"
#include "tests/testutil.h"

/* ---- protobuf ------------------------------------------------------------------------------ */

static void expect_bytes(const lm_pb *b, const uint8_t *e, size_t n, const char *what) {
    ck_assert_msg(!b->oom, "%s: oom", what);
    ck_assert_msg(b->n == n, "%s: %zu bytes, expected %zu", what, b->n, n);
    for (size_t i = 0; i < n; i++) ck_assert_msg(b->p[i] == e[i], "%s: byte %zu = %02x, expected %02x", what, i, b->p[i], e[i]);
}

START_TEST(test_pb_varints) {
    lm_pb b = {0};
    lm_pb_varint(&b, 0);
    lm_pb_varint(&b, 1);
    lm_pb_varint(&b, 127);
    lm_pb_varint(&b, 128);
    lm_pb_varint(&b, 300);
    const uint8_t e1[] = {0x00, 0x01, 0x7f, 0x80, 0x01, 0xac, 0x02};
    expect_bytes(&b, e1, sizeof e1, "varints");
    lm_pb_free(&b);
    lm_pb_int(&b, 1, 150); /* the encoding guide's example */
    lm_pb_int(&b, 2, -1);  /* int64 -1: ten bytes */
    const uint8_t e2[] = {0x08, 0x96, 0x01, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_bytes(&b, e2, sizeof e2, "int fields");
    lm_pb_free(&b);
    lm_pb_float(&b, 2, 1.0f);  /* tag 0x15, 00 00 80 3f */
    lm_pb_str(&b, 20, "ab");   /* field 20: tag varint 0xa2 0x01 */
    int64_t v[3] = {1, 300, -2};
    lm_pb_packed_i64(&b, 8, v, 3);
    float f[2] = {0.5f, -2.0f};
    lm_pb_packed_f32(&b, 7, f, 2);
    const uint8_t e3[] = {0x15, 0x00, 0x00, 0x80, 0x3f, 0xa2, 0x01, 0x02, 'a', 'b',
                          0x42, 13, 0x01, 0xac, 0x02, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                          0x3a, 8, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    expect_bytes(&b, e3, sizeof e3, "float, string, packed");
    ck_assert_int_eq(lm_pb_varint_len(UINT64_MAX), 10);
    ck_assert_int_eq(lm_pb_varint_len(16383), 2);
    ck_assert_int_eq(lm_pb_varint_len(16384), 3);
    lm_pb_free(&b);
}
END_TEST

START_TEST(test_pb_nested_lengths) {
    /* outer{ inner{ 200 bytes } , int } : inner's length takes two bytes, outer's too */
    lm_pb b = {0};
    uint8_t body[200];
    for (int i = 0; i < 200; i++) body[i] = (uint8_t)i;
    size_t o = lm_pb_begin(&b, 1);
    size_t in = lm_pb_begin(&b, 2);
    lm_pb_raw(&b, body, 200);
    lm_pb_end(&b, in);
    lm_pb_int(&b, 3, 5);
    size_t empty = lm_pb_begin(&b, 4);
    lm_pb_end(&b, empty);
    lm_pb_end(&b, o);
    /* inner: 0x12 c8 01 + 200; int: 0x18 05; empty: 0x22 00 -> outer body 203 + 2 + 2 = 207 */
    ck_assert(!b.oom);
    ck_assert_int_eq(b.n, 3 + 207);
    ck_assert_int_eq(b.p[0], 0x0a);
    ck_assert_int_eq(b.p[1], 0xcf); /* 207 = 0xcf 0x01 */
    ck_assert_int_eq(b.p[2], 0x01);
    ck_assert_int_eq(b.p[3], 0x12);
    ck_assert_int_eq(b.p[4], 0xc8);
    ck_assert_int_eq(b.p[5], 0x01);
    ck_assert(!memcmp(b.p + 6, body, 200));
    const uint8_t tail[] = {0x18, 0x05, 0x22, 0x00};
    ck_assert(!memcmp(b.p + 206, tail, 4));
    lm_pb_free(&b);
}
END_TEST

/* ---- runtimes ------------------------------------------------------------------------------- */

/* onnx.checker on path; 0 when the checker is absent (message printed), 1 when it passed. */
static int onnx_check(const char *path, char *out, size_t cap, int dump) {
    int rc = lm_test_sh(out, cap, "/usr/bin/python3 tests/rt/onnx_check.py %s%s", path, dump ? " --dump" : "");
    if (rc == 3 || rc == 127) {
        printf("onnx: onnx.checker did not run (%s): install python3-onnx (scripts/setup-deps.sh)\n", out);
        return 0;
    }
    ck_assert_msg(rc == 0, "onnx.checker on %s failed:\n%s", path, out);
    return 1;
}

/* ---- DFT matrices vs torch.fft (float64) -------------------------------------------------- */

static lt_tensor *mat(const double *v, int64_t r, int64_t c) {
    int64_t s[2] = {r, c};
    return lt_from_buffer(v, s, 2, LT_F64);
}

static double max_diff(lt_tensor *a, lt_tensor *b) {
    lt_tensor *d = lt_max(lt_abs(lt_sub(a, b)));
    ck_assert_msg(d != NULL, "%s", lt_error());
    return lt_item(d);
}

/* The exporter's RFFT2 / IRFFT2 lowering (model/export_onnx.c) in float64 shim ops. */
static lt_tensor *rfft2_mm(lt_tensor *x, lt_fft_norm norm) {
    int64_t N = lt_size(x, 0), C = lt_size(x, 1), H = lt_size(x, 2), W = lt_size(x, 3), Wf = W / 2 + 1;
    double *re = malloc(sizeof(double) * W * Wf), *im = malloc(sizeof(double) * W * Wf), *m = malloc(sizeof(double) * 4 * H * H);
    lm_dft_r2c(W, norm, re, im);
    lm_dft_c2c(H, norm, 0, m);
    lt_tensor *p[2] = {lt_matmul(x, mat(re, W, Wf)), lt_matmul(x, mat(im, W, Wf))};
    lt_tensor *y = lt_matmul(mat(m, 2 * H, 2 * H), lt_cat(p, 2, 2));
    free(re);
    free(im);
    free(m);
    int64_t s[4] = {N, 2 * C, H, Wf};
    return lt_reshape(y, s, 4);
}
static lt_tensor *irfft2_mm(lt_tensor *f, int64_t W, lt_fft_norm norm) {
    int64_t N = lt_size(f, 0), C = lt_size(f, 1) / 2, H = lt_size(f, 2), Wf = lt_size(f, 3);
    double *cr = malloc(sizeof(double) * W * Wf), *ci = malloc(sizeof(double) * W * Wf), *m = malloc(sizeof(double) * 4 * H * H);
    lm_dft_c2r(W, norm, cr, ci);
    lm_dft_c2c(H, norm, 1, m);
    int64_t s[4] = {N, C, 2 * H, Wf};
    lt_tensor *z = lt_matmul(mat(m, 2 * H, 2 * H), lt_reshape(f, s, 4));
    lt_tensor *y = lt_add(lt_matmul(lt_narrow(z, 2, 0, H), mat(cr, Wf, W)), lt_matmul(lt_narrow(z, 2, H, H), mat(ci, Wf, W)));
    free(cr);
    free(ci);
    free(m);
    return y;
}
/* The FourierUnit's torch path (model/fourier.c). */
static lt_tensor *rfft2_torch(lt_tensor *x, lt_fft_norm norm) {
    int64_t N = lt_size(x, 0), C = lt_size(x, 1), H = lt_size(x, 2);
    int64_t dims[2] = {-2, -1}, perm[5] = {0, 1, 4, 2, 3};
    lt_tensor *z = lt_rfftn(x, dims, 2, norm);
    int64_t s[4] = {N, 2 * C, H, lt_size(z, 3)};
    return lt_reshape(lt_permute(lt_view_as_real(z), perm, 5), s, 4);
}
static lt_tensor *irfft2_torch(lt_tensor *f, int64_t W, lt_fft_norm norm) {
    int64_t N = lt_size(f, 0), C = lt_size(f, 1) / 2, H = lt_size(f, 2), Wf = lt_size(f, 3);
    int64_t s5[5] = {N, C, 2, H, Wf}, dims[2] = {-2, -1}, hw[2] = {H, W};
    lt_tensor *g = lt_reshape(f, s5, 5);
    return lt_irfftn(lt_complex(lt_select(g, 2, 0), lt_select(g, 2, 1)), hw, dims, 2, norm);
}

START_TEST(test_dft_matrices_vs_torch) {
    const int64_t sizes[][2] = {{6, 8}, {5, 7}, {8, 9}, {1, 2}, {4, 1}, {7, 10}};
    const lt_fft_norm norms[3] = {LT_FFT_ORTHO, LT_FFT_BACKWARD, LT_FFT_FORWARD};
    double worst_f = 0, worst_i = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (int q = 0; q < 3; q++) {
            lt_scope_push();
            int64_t H = sizes[k][0], W = sizes[k][1], Wf = W / 2 + 1;
            int64_t xs[4] = {2, 3, H, W}, fs[4] = {2, 6, H, Wf};
            lt_tensor *x = lt_randn(xs, 4, LT_F64, LT_CPU);
            /* a spectrum that is not Hermitian-consistent: imaginary DC / Nyquist bins set */
            lt_tensor *f = lt_randn(fs, 4, LT_F64, LT_CPU);
            double a = max_diff(rfft2_mm(x, norms[q]), rfft2_torch(x, norms[q]));
            double b = max_diff(irfft2_mm(f, W, norms[q]), irfft2_torch(f, W, norms[q]));
            ck_assert_msg(a <= 1e-10 && b <= 1e-10, "%lldx%lld norm %d: rfft2 %.3g, irfft2 %.3g", (long long)H,
                          (long long)W, (int)norms[q], a, b);
            worst_f = fmax(worst_f, a);
            worst_i = fmax(worst_i, b);
            lt_scope_pop();
        }
    printf("onnx: DFT matrices vs torch.fft (float64, even and odd sizes, 3 norms): rfft2 %.3g, irfft2 %.3g\n", worst_f, worst_i);
}
END_TEST

/* ---- the reference: a graph evaluated with the shim -------------------------------------- */

/* The contract on the shim: clip(255 * (m * G(cat(img * (1 - m), m)) + (1 - m) * img), 0, 255). */
typedef lt_tensor *(*gen_fn)(const void *ctx, lt_tensor *x);

/* The contract with the shim, in the dtype of gen (float32 when gen is NULL: lm_graph_run),
 * returned as float32. */
static lt_tensor *contract_ref(const lm_graph *g, lt_tensor *img, lt_tensor *mask, gen_fn gen, const void *ctx, lt_dtype dt) {
    img = lt_to_dtype(img, dt);
    lt_tensor *m = lt_to_dtype(lt_gt_scalar(mask, 0), dt), *inv = lt_rsub_scalar(m, 1);
    lt_tensor *p[2] = {lt_mul(img, inv), m};
    lt_tensor *x = lt_cat(p, 2, 1);
    lt_tensor *y = gen ? gen(ctx, x) : lm_graph_run(g, x);
    return lt_to_dtype(lt_clamp(lt_mul_scalar(lt_add(lt_mul(m, y), lt_mul(inv, img)), 255), 0, 255), LT_F32);
}

/* ---- hand-built graphs --------------------------------------------------------------------- */

static lt_tensor *keep_randn(const int64_t *s, int n, double scale) { return lt_keep(lt_mul_scalar(lt_randn(s, n, LT_F32, LT_CPU), scale)); }

typedef struct owned { lt_tensor *t[128]; int n; } owned;
static lt_tensor *own(owned *o, lt_tensor *t) {
    ck_assert(t != NULL && o->n < 128);
    return o->t[o->n++] = t;
}
static void owned_free(owned *o) {
    for (int i = 0; i < o->n; i++) lt_free(o->t[i]);
    o->n = 0;
}

static int conv(lm_graph *g, owned *o, int x, int cin, int cout, int k, int stride, int pad, int bias, const char *what) {
    int64_t ws[4] = {cout, cin, k, k}, bs[1] = {cout};
    lm_gnode n = {.op = LM_GOP_CONV, .n_in = 1, .in = {x}, .c = cout, .a = {stride, pad, 1, 1},
                  .w = own(o, keep_randn(ws, 4, 1.0 / sqrt((double)cin * k * k))),
                  .b = bias ? own(o, keep_randn(bs, 1, 0.1)) : NULL, .what = what};
    return lm_graph_add(g, n);
}
static int convt(lm_graph *g, owned *o, int x, int cin, int cout, const char *what) {
    int64_t ws[4] = {cin, cout, 3, 3}, bs[1] = {cout};
    lm_gnode n = {.op = LM_GOP_CONVT, .n_in = 1, .in = {x}, .c = cout, .a = {2, 1, 1, 1, 1},
                  .w = own(o, keep_randn(ws, 4, 1.0 / sqrt((double)cout * 9))), .b = own(o, keep_randn(bs, 1, 0.1)), .what = what};
    return lm_graph_add(g, n);
}
static int bn(lm_graph *g, owned *o, int x, int c, const char *what) {
    int64_t s[1] = {c};
    lm_gnode n = {.op = LM_GOP_BN, .n_in = 1, .in = {x}, .c = c, .eps = 1e-5, .what = what,
                  .w = own(o, lt_keep(lt_add_scalar(lt_mul_scalar(lt_rand(s, 1, LT_F32, LT_CPU), 1.5), 0.25))),
                  .b = own(o, keep_randn(s, 1, 0.2)), .mean = own(o, keep_randn(s, 1, 0.3)),
                  .var = own(o, lt_keep(lt_add_scalar(lt_rand(s, 1, LT_F32, LT_CPU), 0.3)))};
    return lm_graph_add(g, n);
}
static int fft(lm_graph *g, lm_gop op, int x, int like, int c, lt_fft_norm norm) {
    lm_gnode n = {.op = op, .n_in = op == LM_GOP_IRFFT2 ? 2 : 1, .in = {x, like}, .c = c, .norm = norm, .what = "fu"};
    return lm_graph_add(g, n);
}

/* conv + BN folds (7x7 after a reflection pad, strided), a transposed conv + BN, a BN that
 * cannot fold (after a ReLU), a BN after a conv whose output is used twice, sigmoid. */
static void build_convs(lm_graph *g, owned *o) {
    ck_assert_int_eq(lm_graph_init(g, 4), 0);
    g->output_nc = 3;
    g->modulo = 4;
    int x = lm_graph_pad(g, 0, 3, LT_PAD_REFLECT);
    x = conv(g, o, x, 4, 8, 7, 1, 0, 1, "model.1");
    x = lm_graph_unary(g, LM_GOP_RELU, bn(g, o, x, 8, "model.2"));
    x = conv(g, o, x, 8, 12, 3, 2, 1, 0, "model.4");
    x = lm_graph_unary(g, LM_GOP_RELU, bn(g, o, x, 12, "model.5"));
    x = conv(g, o, x, 12, 16, 3, 2, 1, 1, "model.7");
    x = lm_graph_unary(g, LM_GOP_RELU, bn(g, o, x, 16, "model.8"));
    x = convt(g, o, x, 16, 8, "model.10");
    x = lm_graph_unary(g, LM_GOP_RELU, bn(g, o, x, 8, "model.11"));
    int c = conv(g, o, x, 8, 8, 3, 1, 1, 1, "model.13");
    int b = bn(g, o, c, 8, "model.14"); /* c is used by the Add too: not folded */
    x = lm_graph_binary(g, LM_GOP_ADD, b, c);
    x = bn(g, o, lm_graph_unary(g, LM_GOP_RELU, x), 8, "model.16"); /* after a ReLU: Mul + Add */
    x = convt(g, o, x, 8, 6, "model.17");
    x = bn(g, o, x, 6, "model.18");
    x = lm_graph_pad(g, x, 1, LT_PAD_REFLECT);
    x = conv(g, o, x, 6, 3, 3, 1, 0, 1, "model.20");
    g->out = lm_graph_unary(g, LM_GOP_SIGMOID, x);
    ck_assert_msg(g->out > 0, "%s", lm_err_msg());
}

/* The FourierUnit with spectral_pos_encoding and an LFU-like tile: conv, rfft2, coords,
 * conv+BN+ReLU on the spectrum, irfft2, a residual, avgpool, repeat2, cat / slice on every
 * axis, a 1-channel broadcast Mul, constant pad, tanh. */
static void build_fft(lm_graph *g, owned *o, lt_fft_norm norm) {
    ck_assert_int_eq(lm_graph_init(g, 4), 0);
    g->output_nc = 3;
    g->modulo = 2;
    int x = lm_graph_unary(g, LM_GOP_RELU, bn(g, o, conv(g, o, 0, 4, 8, 1, 1, 0, 0, "conv1"), 8, "bn1"));
    int f = fft(g, LM_GOP_RFFT2, x, -1, 16, norm);
    int cc = lm_graph_add(g, (lm_gnode){.op = LM_GOP_COORDS, .n_in = 1, .in = {f}, .c = 2, .what = "spe"});
    int parts[2] = {cc, f};
    f = lm_graph_cat(g, parts, 2, 1);
    f = lm_graph_unary(g, LM_GOP_RELU, bn(g, o, conv(g, o, f, 18, 16, 1, 1, 0, 0, "fu.conv"), 16, "fu.bn"));
    int y = fft(g, LM_GOP_IRFFT2, f, x, 8, norm);
    y = lm_graph_binary(g, LM_GOP_ADD, y, x);
    /* an LFU-like branch: quadrants on channels, a small FU at half size, tiled back */
    int q = lm_graph_slice(g, y, 1, 0, 2);
    int r0 = lm_graph_add(g, (lm_gnode){.op = LM_GOP_HALF, .n_in = 1, .in = {q}, .c = 2, .a = {2, 0}});
    int r1 = lm_graph_add(g, (lm_gnode){.op = LM_GOP_HALF, .n_in = 1, .in = {q}, .c = 2, .a = {2, 1}});
    int rows[2] = {r0, r1};
    int xs = lm_graph_cat(g, rows, 2, 1);
    int c0 = lm_graph_slice(g, xs, 3, 0, 16), c1 = lm_graph_slice(g, xs, 3, 16, 16);
    int cols[2] = {c0, c1};
    xs = lm_graph_cat(g, cols, 2, 1); /* (N, 8, 16, 16) */
    int lf = fft(g, LM_GOP_RFFT2, xs, -1, 16, LT_FFT_ORTHO);
    lf = lm_graph_unary(g, LM_GOP_RELU, bn(g, o, conv(g, o, lf, 16, 16, 1, 1, 0, 0, "lfu.conv"), 16, "lfu.bn"));
    lf = fft(g, LM_GOP_IRFFT2, lf, xs, 8, LT_FFT_ORTHO);
    lf = lm_graph_unary(g, LM_GOP_REPEAT2, lf);
    y = lm_graph_binary(g, LM_GOP_ADD, y, lf);
    int p = lm_graph_unary(g, LM_GOP_AVGPOOL2, y);
    p = lm_graph_unary(g, LM_GOP_REPEAT2, p);
    int gate = lm_graph_unary(g, LM_GOP_SIGMOID, lm_graph_slice(g, p, 1, 3, 1));
    y = lm_graph_binary(g, LM_GOP_MUL, y, gate); /* 1-channel broadcast */
    int hs[2] = {lm_graph_slice(g, y, 2, 0, 8), lm_graph_slice(g, y, 2, 8, 24)};
    y = lm_graph_cat(g, hs, 2, 2);
    y = lm_graph_pad(g, y, 1, LT_PAD_CONSTANT);
    y = conv(g, o, y, 8, 3, 3, 1, 0, 1, "out");
    g->out = lm_graph_unary(g, LM_GOP_TANH, y);
    ck_assert_msg(g->out > 0, "%s", lm_err_msg());
}

/* Runs model in onnxruntime on image (B, 3, S, S) and mask (B, 1, S, S) (files in dir); the
 * output (B, 3, S, S) in the current scope, or NULL when the runtime is missing (said so).
 * log receives the runner's timing line. */
static lt_tensor *ort_output(const char *dir, const char *model, lt_tensor *image, lt_tensor *mask, const char *tag,
                             char *log, size_t cap) {
    char img[300], msk[300], out[300];
    int64_t B = lt_size(image, 0), S = lt_size(image, 2), si[4] = {B, 3, S, S};
    snprintf(img, sizeof img, "%s/image.f32", dir);
    snprintf(msk, sizeof msk, "%s/mask.f32", dir);
    snprintf(out, sizeof out, "%s/out.f32", dir);
    lm_test_write_f32(img, image);
    lm_test_write_f32(msk, mask);
    int rc = lm_test_sh(log, cap, "node tests/rt/ort_run.js %s %s %s %lld %lld %s", model, img, msk, (long long)B,
                        (long long)S, out);
    if (rc == 3 || rc == 127) {
        printf("onnx: %s: onnxruntime did not run (%s): scripts/setup-deps.sh installs onnxruntime-node into .rt/\n", tag, log);
        return NULL;
    }
    ck_assert_msg(rc == 0, "%s: onnxruntime failed:\n%s", tag, log);
    lt_tensor *got = lm_test_read_f32(out, si, 4);
    log[strcspn(log, "\n")] = 0;
    return got;
}

/* Exports g (fft mode, at S_export), checks it, runs it in onnxruntime on a random batch of B
 * at S and compares with the shim (gen NULL: lm_graph_run). Returns the max abs difference on
 * the 0..255 output, or -1 when a runtime is missing. */
static double export_and_compare(const lm_graph *g, int fft, int S_export, int S, int B, const char *tag, gen_fn gen,
                                 const void *ctx, gen_fn gen64, const void *ctx64, double tol) {
    char dir[256], model[300], log[16384];
    lm_test_tmpdir(dir, sizeof dir, "onnx");
    snprintf(model, sizeof model, "%s/%s.onnx", dir, tag);
    lm_export_onnx_opts o = lm_export_onnx_defaults();
    o.size = S_export;
    o.fft = fft;
    ck_assert_msg(lm_export_onnx(g, &o, model) == 0, "%s: %s", tag, lm_err_msg());
    double diff = -1;
    if (onnx_check(model, log, sizeof log, 0)) {
        lt_scope_push();
        int64_t si[4] = {B, 3, S, S}, sm[4] = {B, 1, S, S};
        lt_tensor *image = lt_rand(si, 4, LT_F32, LT_CPU);
        lt_tensor *u = lt_rand(sm, 4, LT_F32, LT_CPU);
        lt_tensor *mask = lt_mul(lt_to_dtype(lt_gt_scalar(u, 0.6), LT_F32), u); /* 0, or a value in (0.6, 1) */
        lt_tensor *got = ort_output(dir, model, image, mask, tag, log, sizeof log);
        if (got) {
            lt_no_grad_push();
            lt_tensor *ref = contract_ref(g, image, mask, gen, ctx, LT_F32);
            lt_tensor *ref64 = gen64 ? contract_ref(g, image, mask, gen64, ctx64, LT_F64) : NULL;
            lt_no_grad_pop();
            ck_assert_msg(ref != NULL && (!gen64 || ref64), "%s", lt_error());
            diff = max_diff(got, ref);
            double d64 = ref64 ? max_diff(got, ref64) : -1, s64 = ref64 ? max_diff(ref, ref64) : -1;
            printf("onnx: %s at %dx%d, batch %d: max |onnxruntime - shim float32| = %.3g grey levels", tag, S, S, B, diff);
            if (ref64) printf(", |onnxruntime - float64| = %.3g (shim float32 - float64: %.3g)", d64, s64);
            printf(" (%s)\n", log);
            ck_assert_msg(diff <= tol, "%s: onnxruntime differs from the shim by %.4g (> %.3g) on the 0..255 output", tag, diff, tol);
            ck_assert_msg(d64 <= tol, "%s: onnxruntime differs from float64 by %.4g (> %.3g) on the 0..255 output", tag, d64, tol);
        }
        lt_scope_pop();
    }
    lm_test_rmtree(dir);
    return diff;
}

#define TOL_255 (255 * 1e-4)

START_TEST(test_export_convs) {
    lm_graph g;
    owned o = {0};
    build_convs(&g, &o);
    export_and_compare(&g, LM_ONNX_FFT_MATMUL, 32, 32, 2, "convs", NULL, NULL, NULL, NULL, TOL_255);
    export_and_compare(&g, LM_ONNX_FFT_DFT_OP, 32, 48, 1, "convs_dynamic", NULL, NULL, NULL, NULL, TOL_255);
    lm_graph_free(&g);
    owned_free(&o);
}
END_TEST

START_TEST(test_export_fft_norms) {
    const lt_fft_norm norms[3] = {LT_FFT_ORTHO, LT_FFT_BACKWARD, LT_FFT_FORWARD};
    const char *names[3] = {"fft_ortho", "fft_backward", "fft_forward"};
    for (int q = 0; q < 3; q++) {
        lm_graph g;
        owned o = {0};
        build_fft(&g, &o, norms[q]);
        export_and_compare(&g, LM_ONNX_FFT_MATMUL, 32, 32, 2, names[q], NULL, NULL, NULL, NULL, TOL_255);
        char dn[64];
        snprintf(dn, sizeof dn, "%s_dft_op", names[q]);
        export_and_compare(&g, LM_ONNX_FFT_DFT_OP, 32, 32, 2, dn, NULL, NULL, NULL, NULL, TOL_255);
        lm_graph_free(&g);
        owned_free(&o);
    }
}
END_TEST

START_TEST(test_model_fields_decode) {
    /* every field kind of io/onnx, decoded by python3-onnx */
    char dir[256], path[300], log[16384];
    lm_test_tmpdir(dir, sizeof dir, "onnx");
    snprintf(path, sizeof path, "%s/tiny.onnx", dir);
    lm_onnx m;
    ck_assert_int_eq(lm_onnx_init(&m, "tiny", "doc"), 0);
    lm_onnx_dim d[2] = {{0, "batch"}, {3, NULL}};
    ck_assert_int_eq(lm_onnx_input(&m, "x", LM_ONNX_FLOAT, d, 2), 0);
    ck_assert_int_eq(lm_onnx_output(&m, "y", LM_ONNX_FLOAT, d, 2), 0);
    float w[3] = {0.5f, -1.0f, 2.0f};
    int64_t three = 3, perm[2] = {0, 1}, cdims[1] = {3};
    lm_onnx_tensor wt = {"w", LM_ONNX_FLOAT, &three, 1, w};
    ck_assert_int_eq(lm_onnx_initializer(&m, &wt), 0);
    lm_onnx_tensor ct = {NULL, LM_ONNX_FLOAT, cdims, 1, w};
    lm_onnx_attr cv = {.name = "value", .type = LM_ONNX_A_TENSOR, .t = &ct};
    const char *o0[1] = {"k"};
    ck_assert_int_eq(lm_onnx_node(&m, "Constant", "const", NULL, 0, o0, 1, &cv, 1), 0);
    const char *i1[2] = {"x", "w"}, *o1[1] = {"a"};
    ck_assert_int_eq(lm_onnx_node(&m, "Mul", "mul", i1, 2, o1, 1, NULL, 0), 0);
    const char *i2[2] = {"a", "k"}, *o2[1] = {"b"};
    ck_assert_int_eq(lm_onnx_node(&m, "Add", "add", i2, 2, o2, 1, NULL, 0), 0);
    lm_onnx_attr al = LM_ONNX_FLT("alpha", 0.25f);
    const char *i3[1] = {"b"}, *o3[1] = {"c"};
    ck_assert_int_eq(lm_onnx_node(&m, "LeakyRelu", "lrelu", i3, 1, o3, 1, &al, 1), 0);
    lm_onnx_attr pa = LM_ONNX_INTS("perm", perm, 2);
    const char *i4[1] = {"c"}, *o4[1] = {"y"};
    ck_assert_int_eq(lm_onnx_node(&m, "Transpose", "tr", i4, 1, o4, 1, &pa, 1), 0);
    lm_pb b = {0};
    ck_assert_int_eq(lm_onnx_serialize(&m, &b), 0);
    FILE *f = fopen(path, "wb");
    ck_assert(f && fwrite(b.p, 1, b.n, f) == b.n);
    fclose(f);
    lm_pb_free(&b);
    lm_onnx_free(&m);
    if (onnx_check(path, log, sizeof log, 1)) {
        const char *want[] = {"ir_version 8\n", "producer lamac\n", "opset -:17\n", "graph tiny nodes 5 initializers 1\n",
                              "input x 1 ['batch', 3]\n", "output y 1 ['batch', 3]\n",
                              "node const Constant [] ['k'] {'value': dims: 3\n",
                              "node mul Mul ['x', 'w'] ['a'] {}\n", "node lrelu LeakyRelu ['b'] ['c'] {'alpha': 0.25}\n",
                              "node tr Transpose ['c'] ['y'] {'perm': [0, 1]}\n", "init w float32 [3] [0.5, -1.0, 2.0]\n",
                              "check ok"};
        for (size_t i = 0; i < sizeof want / sizeof *want; i++)
            ck_assert_msg(strstr(log, want[i]) != NULL, "python onnx decoded no '%s' in:\n%s", want[i], log);
        printf("onnx: a tiny model's fields decode in python3-onnx as written\n");
    }
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_export_refusals) {
    lm_graph g;
    owned o = {0};
    build_convs(&g, &o);
    char dir[256], path[300], target[300];
    lm_test_tmpdir(dir, sizeof dir, "onnx");
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    struct stat st;
    lm_export_onnx_opts op = lm_export_onnx_defaults();
    op.size = 36; /* multiple of the modulo 4, not of 8 */
    ck_assert_int_eq(lm_export_onnx(&g, &op, path), LM_EINVAL);
    ck_assert_msg(strstr(lm_err_msg(), "multiple of 8"), "%s", lm_err_msg());
    ck_assert(stat(path, &st) != 0);
    g.modulo = 16;
    op.size = 40;
    ck_assert_int_eq(lm_export_onnx(&g, &op, path), LM_EINVAL);
    ck_assert_msg(strstr(lm_err_msg(), "modulo 16"), "%s", lm_err_msg());
    g.modulo = 4;
    op.size = 32;
    int fm = -1;
    ck_assert_int_eq(lm_export_onnx_fft_parse("dft-op", &fm), 0);
    ck_assert_int_eq(fm, LM_ONNX_FFT_DFT_OP);
    ck_assert_int_eq(lm_export_onnx_fft_parse("matmul", &fm), 0);
    ck_assert_int_eq(fm, LM_ONNX_FFT_MATMUL);
    ck_assert_int_eq(lm_export_onnx_fft_parse("fftw", &fm), LM_EINVAL);
    op.fft = 7;
    ck_assert_int_eq(lm_export_onnx(&g, &op, path), LM_EINVAL);
    ck_assert(stat(path, &st) != 0);
    op.fft = LM_ONNX_FFT_MATMUL;
    /* an irfft2 to another size than its spectrum's: not expressible, named */
    int small = lm_graph_unary(&g, LM_GOP_AVGPOOL2, g.out);
    int s = fft(&g, LM_GOP_RFFT2, small, -1, 6, LT_FFT_ORTHO);
    int bad = fft(&g, LM_GOP_IRFFT2, s, g.out, 3, LT_FFT_ORTHO);
    int saved = g.out;
    g.out = bad;
    ck_assert_int_eq(lm_export_onnx(&g, &op, path), LM_ENOTSUP);
    ck_assert_msg(strstr(lm_err_msg(), "irfft2 in fu"), "%s", lm_err_msg());
    ck_assert(stat(path, &st) != 0);
    g.out = saved;
    /* a symlink at the target is replaced, its target untouched */
    snprintf(target, sizeof target, "%s/victim", dir);
    FILE *f = fopen(target, "w");
    fputs("keep", f);
    fclose(f);
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_msg(lm_export_onnx(&g, &op, path) == 0, "%s", lm_err_msg());
    ck_assert(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
    /* the graph's output must be the image: a 1-channel or downsampled output is refused */
    g.out = small;
    ck_assert_int_eq(lm_export_onnx(&g, &op, target), LM_EINVAL);
    ck_assert_msg(strstr(lm_err_msg(), "not 3x32x32"), "%s", lm_err_msg());
    g.out = saved;
    char *v = lm_test_read_file(target);
    ck_assert_str_eq(v, "keep");
    free(v);
    lm_test_rmtree(dir);
    lm_graph_free(&g);
    owned_free(&o);
}
END_TEST

/* ---- real generators ----------------------------------------------------------------------- */

static lt_tensor *gen_forward(const void *ctx, lt_tensor *x) {
    lt_tensor *y = lm_generator_forward(((const lm_test_gen *)ctx)->g, x, 0);
    ck_assert_msg(y != NULL, "%s", lm_err_msg());
    return y;
}

/* Exported at S (matmul), and with --fft dft-op at S run at S and at S + 32 (dynamic H, W). */
static void expect_generator(const lm_generator_opts *o, int S, const char *tag) {
    lm_test_gen m32, m64;
    lm_test_gen_open(&m32, o, LT_F32, 7);
    lm_test_gen_open(&m64, o, LT_F64, 7);
    lm_graph g;
    ck_assert_msg(lm_generator_emit(m32.g, &g) == 0, "%s", lm_err_msg());
    export_and_compare(&g, LM_ONNX_FFT_MATMUL, S, S, 2, tag, gen_forward, &m32, gen_forward, &m64, 0.5);
    char dn[96];
    for (int k = 0; k < 2; k++) {
        snprintf(dn, sizeof dn, "%s_dft_op_at_%d", tag, S + 32 * k);
        export_and_compare(&g, LM_ONNX_FFT_DFT_OP, S, S + 32 * k, 1, dn, gen_forward, &m32, gen_forward, &m64, 0.5);
    }
    lm_graph_free(&g);
    lm_test_gen_close(&m64);
    lm_test_gen_close(&m32);
}

START_TEST(test_generator_ffc) {
    lm_generator_opts o = lm_test_small_ffc_opts(2);
    expect_generator(&o, 64, "ffc_resnet");
}
END_TEST

START_TEST(test_generator_variants) {
    lm_generator_opts o = lm_test_small_ffc_opts(2);
    o.ngf = 16; /* the LFU needs cout/2 divisible by 4 */
    o.resnet_conv_kwargs.enable_lfu = 1;
    o.resnet_conv_kwargs.spectral_pos_encoding = 1;
    strcpy(o.resnet_conv_kwargs.fft_norm, "backward");
    o.add_out_act = LM_ACT_TANH;
    expect_generator(&o, 64, "ffc_resnet_lfu_spe_backward");
    o = lm_test_small_ffc_opts(2);
    o.n_downsampling = 3; /* big-lama's shape */
    o.resnet_conv_kwargs.gated = 1;
    strcpy(o.resnet_conv_kwargs.fft_norm, "forward");
    expect_generator(&o, 64, "ffc_resnet_big_gated_forward");
    o = lm_test_small_ffc_opts(2);
    strcpy(o.kind, "pix2pixhd_global");
    expect_generator(&o, 64, "pix2pixhd_global");
}
END_TEST

START_TEST(test_generator_vs_predict) {
    /* the official predict semantics (eval/predict.h, lm_predict_image_float) on one 8-bit
     * image and mask (any nonzero gray is a hole), the exported model fed image / 255 and
     * mask / 255: the same 0..255 values within 0.5 */
    const int S = 64;
    lm_generator_opts o = lm_test_small_ffc_opts(2);
    lm_test_gen m;
    lm_test_gen_open(&m, &o, LT_F32, 7);
    lm_graph g;
    ck_assert_msg(lm_generator_emit(m.g, &g) == 0, "%s", lm_err_msg());
    char dir[256], model[300], log[16384];
    lm_test_tmpdir(dir, sizeof dir, "onnx");
    snprintf(model, sizeof model, "%s/predict.onnx", dir);
    lm_export_onnx_opts eo = lm_export_onnx_defaults();
    eo.size = S;
    ck_assert_msg(lm_export_onnx(&g, &eo, model) == 0, "%s", lm_err_msg());
    size_t n = (size_t)S * S;
    uint8_t *img = malloc(3 * n), *msk = malloc(n);
    float *want = malloc(3 * n * sizeof *want), *fi = malloc(3 * n * sizeof *fi), *fm = malloc(n * sizeof *fm);
    uint32_t r = 12345;
    for (size_t i = 0; i < 3 * n; i++) r = r * 1664525u + 1013904223u, img[i] = (uint8_t)(r >> 24);
    for (size_t i = 0; i < n; i++) {
        int y = (int)(i / S), x = (int)(i % S);
        msk[i] = (x > 10 && x < 40 && y > 20 && y < 50) ? (uint8_t)(1 + (x * 7 + y) % 255) : 0;
    }
    lm_predict_opts po = lm_predict_defaults();
    ck_assert_msg(lm_predict_image_float(want, m.g, img, msk, S, S, &po) == 0, "%s", lm_err_msg());
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < 3; c++) fi[c * n + i] = (float)img[i * 3 + c] / 255.0f; /* HWC -> CHW */
        fm[i] = (float)msk[i] / 255.0f;
    }
    lt_scope_push();
    int64_t si[4] = {1, 3, S, S}, sm[4] = {1, 1, S, S};
    lt_tensor *got = ort_output(dir, model, lt_from_buffer(fi, si, 4, LT_F32), lt_from_buffer(fm, sm, 4, LT_F32), "predict", log, sizeof log);
    if (got) {
        float *v = malloc(3 * n * sizeof *v);
        ck_assert(lt_to_buffer(got, v, 3 * n * sizeof *v) == 0);
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) {
                double e = fmin(fmax(255.0 * want[i * 3 + c], 0), 255);
                worst = fmax(worst, fabs(v[c * n + i] - e));
            }
        free(v);
        printf("onnx: exported model vs lm_predict_image_float at %dx%d: max %.3g grey levels\n", S, S, worst);
        ck_assert_msg(worst <= 0.5, "onnx vs predict: %.4g grey levels", worst);
    }
    lt_scope_pop();
    free(img);
    free(msk);
    free(want);
    free(fi);
    free(fm);
    lm_test_rmtree(dir);
    lm_graph_free(&g);
    lm_test_gen_close(&m);
}
END_TEST

Suite *check_onnx_suite(void) {
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("onnx");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_pb_varints);
    tcase_add_test(tc, test_pb_nested_lengths);
    tcase_add_test(tc, test_model_fields_decode);
    tcase_add_test(tc, test_dft_matrices_vs_torch);
    tcase_add_test(tc, test_export_convs);
    tcase_add_test(tc, test_export_fft_norms);
    tcase_add_test(tc, test_export_refusals);
    tcase_add_test(tc, test_generator_ffc);
    tcase_add_test(tc, test_generator_variants);
    tcase_add_test(tc, test_generator_vs_predict);
    suite_add_tcase(s, tc);
    return s;
}
