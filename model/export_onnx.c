/* export_onnx.c — the ONNX exporter of a generator's inference graph (see export_onnx.h).
 * Value names: "image", "mask", "output" for the contract; "v<i>" for graph node i; "t<k>"
 * for the exporter's intermediates and "c<k>" for its constants. */
#include "model/export_onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic.h"
#include "core/err.h"
#include "io/onnx.h"
#include "model/dft.h"
#include "model/ffc.h"
#include "model/lt_err.h"

typedef char name_t[32];

typedef struct ex {
    lm_onnx m;
    const lm_graph *g;
    int64_t (*d)[3]; /* (C, H, W) of every node at S x S */
    int *uses;       /* consumers of each node (the output counts as one) */
    int *fold;       /* fold[conv] = id of the BN folded into it, or -1 */
    int tmp, cst, nodes;
    int dyn;         /* LM_ONNX_FFT_DFT_OP: H and W are dim_params, sizes come from Shape */
} ex;

lm_export_onnx_opts lm_export_onnx_defaults(void) {
    return (lm_export_onnx_opts){.size = 512, .fft = LM_ONNX_FFT_MATMUL};
}

int lm_export_onnx_fft_parse(const char *s, int *out) {
    if (!strcmp(s, "matmul")) *out = LM_ONNX_FFT_MATMUL;
    else if (!strcmp(s, "dft-op")) *out = LM_ONNX_FFT_DFT_OP;
    else return lm_err_code(LM_EINVAL, "--fft '%s': expected matmul or dft-op", s);
    return 0;
}

static const char *vname(name_t b, int id) {
    snprintf(b, sizeof(name_t), "v%d", id);
    return b;
}
static const char *tname(ex *e, name_t b) {
    snprintf(b, sizeof(name_t), "t%d", e->tmp++);
    return b;
}

static int node(ex *e, const char *op, const char *const *in, int n_in, const char *out,
                const lm_onnx_attr *a, int n_a) {
    name_t nm;
    snprintf(nm, sizeof nm, "%s_%d", op, e->nodes++);
    return lm_onnx_node(&e->m, op, nm, in, n_in, &out, 1, a, n_a);
}

/* A float32 / int64 constant (initializer) under a fresh name written into b. */
static int cf32(ex *e, name_t b, const int64_t *dims, int nd, const float *v) {
    snprintf(b, sizeof(name_t), "c%d", e->cst++);
    lm_onnx_tensor t = {b, LM_ONNX_FLOAT, dims, nd, v};
    return lm_onnx_initializer(&e->m, &t);
}
static int ci64(ex *e, name_t b, const int64_t *v, int64_t n) {
    snprintf(b, sizeof(name_t), "c%d", e->cst++);
    lm_onnx_tensor t = {b, LM_ONNX_INT64, &n, 1, v};
    return lm_onnx_initializer(&e->m, &t);
}
/* float64 values stored as a float32 constant. */
static int cf64(ex *e, name_t b, const int64_t *dims, int nd, const double *v) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    if (!f) return lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    for (int64_t i = 0; i < n; i++) f[i] = (float)v[i];
    int rc = cf32(e, b, dims, nd, f);
    free(f);
    return rc;
}

static const char *what(const lm_gnode *n) { return n->what ? n->what : "?"; }

static int fail(const ex *e, int i, int code, const char *why) {
    const lm_gnode *n = &e->g->n[i];
    return lm_err_code(code, "onnx export: node %d (%s in %s): %s", i, lm_gop_name(n->op), what(n), why);
}

/* A parameter tensor's values in float64 (n of them; NULL t -> NULL, *n 0). */
static int read_f64(lt_tensor *t, double **out, int64_t *n) {
    *out = NULL;
    *n = 0;
    if (!t) return 0;
    lt_scope_push();
    lt_tensor *x = lt_contiguous(lt_to_dtype(t, LT_F64));
    int64_t k = lt_numel(x);
    int rc = 0;
    if (k < 0) rc = lm_err_lt("onnx export: reading a parameter");
    else if (!(*out = malloc((size_t)(k ? k : 1) * sizeof **out))) rc = lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    else if (lt_to_buffer(x, *out, (size_t)k * sizeof **out) < 0) rc = lm_err_lt("onnx export: reading a parameter");
    lt_scope_pop();
    if (rc < 0) {
        free(*out);
        *out = NULL;
    } else {
        *n = k;
    }
    return rc;
}

/* The eval BatchNorm of node bn as y = x * scale + shift per channel (float64). */
static int bn_affine(ex *e, int bn, double **scale, double **shift) {
    const lm_gnode *n = &e->g->n[bn];
    double *w = NULL, *b = NULL, *mu = NULL, *var = NULL;
    int64_t nw, nb, nm, nv, c = n->c;
    int rc = read_f64(n->w, &w, &nw);
    if (!rc) rc = read_f64(n->b, &b, &nb);
    if (!rc) rc = read_f64(n->mean, &mu, &nm);
    if (!rc) rc = read_f64(n->var, &var, &nv);
    *scale = malloc((size_t)c * sizeof **scale);
    *shift = malloc((size_t)c * sizeof **shift);
    if (!rc && (!*scale || !*shift)) rc = lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    if (!rc && (nm != c || nv != c || (w && nw != c) || (b && nb != c)))
        rc = fail(e, bn, LM_EINVAL, "statistics do not have one value per channel");
    for (int64_t i = 0; !rc && i < c; i++) {
        double s = (w ? w[i] : 1.0) / sqrt(var[i] + n->eps);
        (*scale)[i] = s;
        (*shift)[i] = (b ? b[i] : 0.0) - mu[i] * s;
    }
    free(w);
    free(b);
    free(mu);
    free(var);
    if (rc < 0) {
        free(*scale);
        free(*shift);
        *scale = *shift = NULL;
    }
    return rc;
}

/* CONV / CONVT node i, with the BN e->fold[i] folded in when there is one. */
static int emit_conv(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    int t = n->op == LM_GOP_CONVT;
    int out_id = e->fold[i] >= 0 ? e->fold[i] : i;
    double *w = NULL, *b = NULL, *sc = NULL, *sh = NULL;
    int64_t nw, nb, ws[4];
    for (int k = 0; k < 4; k++) ws[k] = lt_size(n->w, k);
    int64_t cout = n->c, groups = n->a[3], k = ws[2]; /* a[3] is groups in both */
    int rc = read_f64(n->w, &w, &nw);
    if (!rc) rc = read_f64(n->b, &b, &nb);
    if (!rc && lt_dim(n->w) != 4) rc = fail(e, i, LM_EINVAL, "weight is not 4-D");
    if (!rc && b && nb != cout) rc = fail(e, i, LM_EINVAL, "bias does not match the output channels");
    if (!rc && ws[2] != ws[3]) rc = fail(e, i, LM_ENOTSUP, "non-square kernel");
    if (!rc && !b && e->fold[i] >= 0 && !(b = calloc((size_t)cout, sizeof *b)))
        rc = lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    if (!rc && e->fold[i] >= 0) rc = bn_affine(e, e->fold[i], &sc, &sh);
    if (!rc && sc) {
        /* w' = w * s[oc], b' = (b - mean) * s + beta = b * s + shift */
        int64_t per = ws[2] * ws[3];
        for (int64_t a0 = 0; a0 < ws[0]; a0++)
            for (int64_t a1 = 0; a1 < ws[1]; a1++) {
                int64_t oc = t ? (a0 / (ws[0] / groups)) * ws[1] + a1 : a0; /* ConvT: weight dim 1 */
                double *p = w + (a0 * ws[1] + a1) * per;
                for (int64_t q = 0; q < per; q++) p[q] *= sc[oc];
            }
        for (int64_t oc = 0; oc < cout; oc++) b[oc] = b[oc] * sc[oc] + sh[oc];
    }
    name_t in, wn, bn, out;
    if (!rc) rc = cf64(e, wn, ws, 4, w);
    if (!rc && b) rc = cf64(e, bn, &cout, 1, b);
    if (!rc) {
        int64_t ks[2] = {k, k}, st[2] = {n->a[0], n->a[0]}, pd[4] = {n->a[1], n->a[1], n->a[1], n->a[1]};
        int64_t dl[2], op[2];
        dl[0] = dl[1] = t ? n->a[4] : n->a[2];
        op[0] = op[1] = n->a[2];
        lm_onnx_attr a[6] = {LM_ONNX_INTS("kernel_shape", ks, 2), LM_ONNX_INTS("strides", st, 2),
                             LM_ONNX_INTS("pads", pd, 4), LM_ONNX_INTS("dilations", dl, 2),
                             LM_ONNX_INT("group", groups), LM_ONNX_INTS("output_padding", op, 2)};
        const char *ins[3] = {vname(in, n->in[0]), wn, b ? bn : NULL};
        rc = node(e, t ? "ConvTranspose" : "Conv", ins, b ? 3 : 2, vname(out, out_id), a, t ? 6 : 5);
    }
    free(w);
    free(b);
    free(sc);
    free(sh);
    return rc;
}

static int emit_bn(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    double *sc, *sh;
    int rc = bn_affine(e, i, &sc, &sh);
    if (rc < 0) return rc;
    int64_t dims[4] = {1, n->c, 1, 1};
    name_t cs, ch, x, t, out;
    rc = cf64(e, cs, dims, 4, sc);
    if (!rc) rc = cf64(e, ch, dims, 4, sh);
    free(sc);
    free(sh);
    if (rc < 0) return rc;
    const char *a[2] = {vname(x, n->in[0]), cs};
    if ((rc = node(e, "Mul", a, 2, tname(e, t), NULL, 0)) < 0) return rc;
    const char *b[2] = {t, ch};
    return node(e, "Add", b, 2, vname(out, i), NULL, 0);
}

static int emit_pad(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    /* lm_graph {left, right, top, bottom} -> ONNX [begin(N, C, H, W), end(N, C, H, W)] */
    int64_t p[8] = {0, 0, n->a[2], n->a[0], 0, 0, n->a[3], n->a[1]};
    const char *mode = n->pad_mode == LT_PAD_REFLECT ? "reflect" : n->pad_mode == LT_PAD_REPLICATE ? "edge" : n->pad_mode == LT_PAD_CONSTANT ? "constant" : NULL;
    if (!mode) return fail(e, i, LM_ENOTSUP, "padding mode has no ONNX equivalent");
    name_t pc, x, out;
    int rc = ci64(e, pc, p, 8);
    if (rc < 0) return rc;
    lm_onnx_attr a = LM_ONNX_STR("mode", mode);
    const char *ins[2] = {vname(x, n->in[0]), pc};
    return node(e, "Pad", ins, 2, vname(out, i), &a, 1);
}

/* Slice of x on axis from start, len long, into out. */
static int slice(ex *e, const char *x, int64_t axis, int64_t start, int64_t len, const char *out) {
    name_t s, en, ax;
    int64_t end = start + len;
    int rc = ci64(e, s, &start, 1);
    if (!rc) rc = ci64(e, en, &end, 1);
    if (!rc) rc = ci64(e, ax, &axis, 1);
    if (rc < 0) return rc;
    const char *ins[4] = {x, s, en, ax};
    return node(e, "Slice", ins, 4, out, NULL, 0);
}

static int reshape(ex *e, const char *x, const int64_t *shape, int n, const char *out) {
    name_t s;
    int rc = ci64(e, s, shape, n);
    if (rc < 0) return rc;
    const char *ins[2] = {x, s};
    return node(e, "Reshape", ins, 2, out, NULL, 0);
}

static int matmul(ex *e, const char *a, const char *b, const char *out) {
    const char *ins[2] = {a, b};
    return node(e, "MatMul", ins, 2, out, NULL, 0);
}

/* A (rows x cols) float64 matrix as a float32 constant. */
static int cmat(ex *e, name_t b, int64_t rows, int64_t cols, const double *v) {
    int64_t dims[2] = {rows, cols};
    return cf64(e, b, dims, 2, v);
}

/* RFFT2, matmul form: x (N, C, H, W) -> (N, 2C, H, Wf), channels c0.re, c0.im, ...
 *   re1 = x @ Cw, im1 = x @ (-Sw)       (N, C, H, Wf)     rfft over W
 *   z = cat(re1, im1; axis 2)           (N, C, 2H, Wf)
 *   y = [[A, B], [-B, A]] @ z           (N, C, 2H, Wf)    complex DFT over H: [re; im]
 *   reshape to (N, 2C, H, Wf)           (C, 2, H) order = c0.re, c0.im, ... */
static int emit_rfft2(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    const int64_t *x = e->d[n->in[0]];
    int64_t C = x[0], H = x[1], W = x[2], Wf = W / 2 + 1;
    double *re = malloc((size_t)(W * Wf) * sizeof *re), *im = malloc((size_t)(W * Wf) * sizeof *im);
    double *m = malloc((size_t)(4 * H * H) * sizeof *m);
    int rc = re && im && m ? 0 : lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    name_t cw, sw, mh, xn, r1, i1, z, y, out;
    if (!rc) {
        lm_dft_r2c(W, n->norm, re, im);
        lm_dft_c2c(H, n->norm, 0, m);
        rc = cmat(e, cw, W, Wf, re);
    }
    if (!rc) rc = cmat(e, sw, W, Wf, im);
    if (!rc) rc = cmat(e, mh, 2 * H, 2 * H, m);
    free(re);
    free(im);
    free(m);
    vname(xn, n->in[0]);
    if (!rc) rc = matmul(e, xn, cw, tname(e, r1));
    if (!rc) rc = matmul(e, xn, sw, tname(e, i1));
    if (!rc) {
        const char *ins[2] = {r1, i1};
        lm_onnx_attr ax = LM_ONNX_INT("axis", 2);
        rc = node(e, "Concat", ins, 2, tname(e, z), &ax, 1);
    }
    if (!rc) rc = matmul(e, mh, z, tname(e, y));
    int64_t s[4] = {-1, 2 * C, H, Wf};
    if (!rc) rc = reshape(e, y, s, 4, vname(out, i));
    return rc;
}

/* IRFFT2, matmul form: f (N, 2C, H, Wf) -> (N, C, H, W)
 *   reshape to (N, C, 2H, Wf)           [re; im] along H per channel
 *   z = [[A, -B], [B, A]] @ f           complex inverse DFT over H
 *   out = z[:H] @ Cr + z[H:] @ Ci       C2R over W (torch's irfft) */
static int emit_irfft2(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    const int64_t *x = e->d[n->in[0]], *o = e->d[i];
    int64_t C2 = x[0], H = x[1], Wf = x[2], W = o[2];
    if (C2 % 2) return fail(e, i, LM_EINVAL, "odd channel count of a spectrum");
    if (o[1] != H || W / 2 + 1 != Wf)
        return fail(e, i, LM_ENOTSUP, "output size other than the spectrum's (torch would crop or zero-pad)");
    double *cr = malloc((size_t)(W * Wf) * sizeof *cr), *ci = malloc((size_t)(W * Wf) * sizeof *ci);
    double *m = malloc((size_t)(4 * H * H) * sizeof *m);
    int rc = cr && ci && m ? 0 : lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    name_t crn, cin, mh, xn, f, z, zr, zi, a, b, out;
    if (!rc) {
        lm_dft_c2r(W, n->norm, cr, ci);
        lm_dft_c2c(H, n->norm, 1, m);
        rc = cmat(e, crn, Wf, W, cr);
    }
    if (!rc) rc = cmat(e, cin, Wf, W, ci);
    if (!rc) rc = cmat(e, mh, 2 * H, 2 * H, m);
    free(cr);
    free(ci);
    free(m);
    int64_t s[4] = {-1, C2 / 2, 2 * H, Wf};
    if (!rc) rc = reshape(e, vname(xn, n->in[0]), s, 4, tname(e, f));
    if (!rc) rc = matmul(e, mh, f, tname(e, z));
    if (!rc) rc = slice(e, z, 2, 0, H, tname(e, zr));
    if (!rc) rc = slice(e, z, 2, H, H, tname(e, zi));
    if (!rc) rc = matmul(e, zr, crn, tname(e, a));
    if (!rc) rc = matmul(e, zi, cin, tname(e, b));
    if (!rc) {
        const char *ins[2] = {a, b};
        rc = node(e, "Add", ins, 2, vname(out, i), NULL, 0);
    }
    return rc;
}

/* COORDS: a constant (1, 2, H, W) expanded to (N, 2, H, W), N from the input's shape. */
static int emit_coords(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    int64_t H = e->d[n->in[0]][1], W = e->d[n->in[0]][2];
    float *v = malloc((size_t)(2 * H * W) * sizeof *v), *lh = malloc((size_t)(H + W) * sizeof *lh);
    int rc = v && lh ? 0 : lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    name_t c, rest, xn, sh, shape, out;
    if (!rc) {
        float *lw = lh + H;
        lm_fu_linspace01(lh, H);
        lm_fu_linspace01(lw, W);
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                v[h * W + w] = lh[h];         /* channel 0: along H */
                v[H * W + h * W + w] = lw[w]; /* channel 1: along W */
            }
        int64_t dims[4] = {1, 2, H, W};
        rc = cf32(e, c, dims, 4, v);
    }
    free(v);
    free(lh);
    int64_t r[3] = {2, H, W};
    if (!rc) rc = ci64(e, rest, r, 3);
    if (!rc) {
        lm_onnx_attr a[2] = {LM_ONNX_INT("start", 0), LM_ONNX_INT("end", 1)};
        const char *ins[1] = {vname(xn, n->in[0])};
        rc = node(e, "Shape", ins, 1, tname(e, sh), a, 2);
    }
    if (!rc) {
        const char *ins[2] = {sh, rest};
        lm_onnx_attr ax = LM_ONNX_INT("axis", 0);
        rc = node(e, "Concat", ins, 2, tname(e, shape), &ax, 1);
    }
    if (!rc) {
        const char *ins[2] = {c, shape};
        rc = node(e, "Expand", ins, 2, vname(out, i), NULL, 0);
    }
    return rc;
}

/* ---- the dynamic-size lowering (--fft dft-op) ----------------------------------------------- */

static int op1(ex *e, const char *op, const char *a, const char *out, const lm_onnx_attr *at, int n_at) {
    const char *ins[1] = {a};
    return node(e, op, ins, 1, out, at, n_at);
}
static int op2(ex *e, const char *op, const char *a, const char *b, const char *out) {
    const char *ins[2] = {a, b};
    return node(e, op, ins, 2, out, NULL, 0);
}
/* Shape(x)[start:end] (int64, 1-D). */
static int shape_of(ex *e, const char *x, int64_t start, int64_t end, const char *out) {
    lm_onnx_attr a[2] = {LM_ONNX_INT("start", start), LM_ONNX_INT("end", end)};
    return op1(e, "Shape", x, out, a, 2);
}
/* 0-D constants. */
static int cs_i64(ex *e, name_t b, int64_t v) {
    snprintf(b, sizeof(name_t), "c%d", e->cst++);
    lm_onnx_tensor t = {b, LM_ONNX_INT64, NULL, 0, &v};
    return lm_onnx_initializer(&e->m, &t);
}
static int cs_f32(ex *e, name_t b, float v) { return cf32(e, b, NULL, 0, &v); }

/* y = x * f(n) for the norm of a whole transform over n = prod(Shape(like)[2:4]) points:
 * pw = -0.5 (1/sqrt n), -1 (1/n), 0.5, 1 (sqrt n, n); pw 0 copies x under the name out. */
static int scale_by(ex *e, const char *x, const char *like, double pw, const char *out) {
    name_t hw, n, nf, k, f;
    int rc = shape_of(e, like, 2, 4, tname(e, hw));
    lm_onnx_attr keep = LM_ONNX_INT("keepdims", 0);
    if (!rc) rc = op1(e, "ReduceProd", hw, tname(e, n), &keep, 1);
    lm_onnx_attr to = LM_ONNX_INT("to", LM_ONNX_FLOAT);
    if (!rc) rc = op1(e, "Cast", n, tname(e, nf), &to, 1);
    if (pw == 0) return rc ? rc : op1(e, "Identity", x, out, NULL, 0);
    if (fabs(pw) == 0.5) {
        if (!rc) rc = op1(e, "Sqrt", nf, tname(e, k), NULL, 0);
    } else {
        snprintf(k, sizeof k, "%s", nf);
    }
    if (pw < 0) {
        if (!rc) rc = op1(e, "Reciprocal", k, tname(e, f), NULL, 0);
    } else {
        snprintf(f, sizeof f, "%s", k);
    }
    return rc ? rc : op2(e, "Mul", x, f, out);
}

/* torch's norm as a power of the transform's size: forward transform, then the extra factor
 * after ONNX's inverse DFT (which divides by n, as "backward"). */
static double norm_pow(lt_fft_norm norm, int inverse) {
    if (norm == LT_FFT_ORTHO) return inverse ? 0.5 : -0.5;
    if (norm == LT_FFT_FORWARD) return inverse ? 1.0 : -1.0;
    return 0; /* backward */
}

/* RFFT2 with opset 17's DFT: x (N, C, H, W) -> Unsqueeze (N, C, H, W, 1) -> DFT axis 3
 * onesided (N, C, H, Wf, 2) -> DFT axis 2 (N, C, H, Wf, 2) -> norm -> Transpose
 * (N, C, 2, H, Wf) -> Reshape (N, 2C, H, Wf). */
static int emit_rfft2_dft(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    name_t xn, ax, u, a, b, sc, t, hw, c2, shp, out;
    int64_t last = -1;
    vname(xn, n->in[0]);
    int rc = ci64(e, ax, &last, 1);
    if (!rc) rc = op2(e, "Unsqueeze", xn, ax, tname(e, u));
    lm_onnx_attr d1[2] = {LM_ONNX_INT("axis", 3), LM_ONNX_INT("onesided", 1)};
    if (!rc) rc = op1(e, "DFT", u, tname(e, a), d1, 2);
    lm_onnx_attr d2 = LM_ONNX_INT("axis", 2);
    if (!rc) rc = op1(e, "DFT", a, tname(e, b), &d2, 1);
    if (!rc) rc = scale_by(e, b, xn, norm_pow(n->norm, 0), tname(e, sc));
    int64_t perm[5] = {0, 1, 4, 2, 3};
    lm_onnx_attr pa = LM_ONNX_INTS("perm", perm, 5);
    if (!rc) rc = op1(e, "Transpose", sc, tname(e, t), &pa, 1);
    if (!rc) rc = shape_of(e, t, 3, 5, tname(e, hw));
    int64_t head[2] = {-1, n->c};
    if (!rc) rc = ci64(e, c2, head, 2);
    lm_onnx_attr cat0 = LM_ONNX_INT("axis", 0);
    const char *ins[2] = {c2, hw};
    if (!rc) rc = node(e, "Concat", ins, 2, tname(e, shp), &cat0, 1);
    if (!rc) rc = op2(e, "Reshape", t, shp, vname(out, i));
    return rc;
}

/* IRFFT2 with DFT: f (N, 2C, H, Wf) -> (N, C, 2, H, Wf) -> (N, C, H, Wf, 2) -> inverse DFT
 * axis 2 -> the Hermitian extension along W to the output's W (bins W-Wf .. 1 mirrored and
 * conjugated, appended) -> inverse DFT axis 3 -> real part -> norm. The real part of the full
 * inverse drops the imaginary parts of bin 0 and of the Nyquist bin, as torch's C2R does. */
static int emit_irfft2_dft(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    name_t fn, like, c3, hw, shp, r, t, z, wv, wfv, st, en, ax, stp, mir, conj, cj, full, y, zero, re, out;
    vname(fn, n->in[0]);
    vname(like, n->in[1]);
    int64_t head[3] = {-1, n->c, 2};
    int rc = ci64(e, c3, head, 3);
    if (!rc) rc = shape_of(e, fn, 2, 4, tname(e, hw));
    lm_onnx_attr cat0 = LM_ONNX_INT("axis", 0);
    const char *ins[2] = {c3, hw};
    if (!rc) rc = node(e, "Concat", ins, 2, tname(e, shp), &cat0, 1);
    if (!rc) rc = op2(e, "Reshape", fn, shp, tname(e, r));
    int64_t perm[5] = {0, 1, 3, 4, 2};
    lm_onnx_attr pa = LM_ONNX_INTS("perm", perm, 5);
    if (!rc) rc = op1(e, "Transpose", r, tname(e, t), &pa, 1);
    lm_onnx_attr d1[2] = {LM_ONNX_INT("axis", 2), LM_ONNX_INT("inverse", 1)};
    if (!rc) rc = op1(e, "DFT", t, tname(e, z), d1, 2);
    /* mirrored bins: z[..., W - Wf : 0 : -1, :] */
    if (!rc) rc = shape_of(e, like, 3, 4, tname(e, wv));
    if (!rc) rc = shape_of(e, fn, 3, 4, tname(e, wfv));
    if (!rc) rc = op2(e, "Sub", wv, wfv, tname(e, st));
    int64_t zero_end = 0, axis3 = 3, minus1 = -1;
    if (!rc) rc = ci64(e, en, &zero_end, 1);
    if (!rc) rc = ci64(e, ax, &axis3, 1);
    if (!rc) rc = ci64(e, stp, &minus1, 1);
    const char *sl[5] = {z, st, en, ax, stp};
    if (!rc) rc = node(e, "Slice", sl, 5, tname(e, mir), NULL, 0);
    float cv[2] = {1.0f, -1.0f};
    int64_t two = 2;
    if (!rc) rc = cf32(e, conj, &two, 1, cv);
    if (!rc) rc = op2(e, "Mul", mir, conj, tname(e, cj));
    lm_onnx_attr cat3 = LM_ONNX_INT("axis", 3);
    const char *fl[2] = {z, cj};
    if (!rc) rc = node(e, "Concat", fl, 2, tname(e, full), &cat3, 1);
    lm_onnx_attr d2[2] = {LM_ONNX_INT("axis", 3), LM_ONNX_INT("inverse", 1)};
    if (!rc) rc = op1(e, "DFT", full, tname(e, y), d2, 2);
    if (!rc) rc = cs_i64(e, zero, 0);
    lm_onnx_attr g4 = LM_ONNX_INT("axis", 4);
    const char *ga[2] = {y, zero};
    if (!rc) rc = node(e, "Gather", ga, 2, tname(e, re), &g4, 1);
    if (!rc) rc = scale_by(e, re, like, norm_pow(n->norm, 1), vname(out, i));
    return rc;
}

/* linspace(0, 1, n) in float32 as ATen (model/fourier.c) from the 0-D int64 n, as a 1-D
 * tensor: i < n/2 ? step * i : 1 - step * (n - 1 - i), step = 1 / max(n - 1, 1); 0 when n = 1. */
static int linspace_dyn(ex *e, const char *nn, const char *out) {
    name_t zero, one, onef, r, rf, nm1, den, denf, step, half, two, cond, a, b0, b1, b, bf, v, gt1, gt1f;
    int rc = cs_i64(e, zero, 0);
    if (!rc) rc = cs_i64(e, one, 1);
    if (!rc) rc = cs_i64(e, two, 2);
    if (!rc) rc = cs_f32(e, onef, 1.0f);
    const char *ra[3] = {zero, nn, one};
    if (!rc) rc = node(e, "Range", ra, 3, tname(e, r), NULL, 0);
    lm_onnx_attr to = LM_ONNX_INT("to", LM_ONNX_FLOAT);
    if (!rc) rc = op1(e, "Cast", r, tname(e, rf), &to, 1);
    if (!rc) rc = op2(e, "Sub", nn, one, tname(e, nm1));
    if (!rc) rc = op2(e, "Max", nm1, one, tname(e, den));
    if (!rc) rc = op1(e, "Cast", den, tname(e, denf), &to, 1);
    if (!rc) rc = op2(e, "Div", onef, denf, tname(e, step));
    if (!rc) rc = op2(e, "Div", nn, two, tname(e, half)); /* integer division */
    if (!rc) rc = op2(e, "Less", r, half, tname(e, cond));
    if (!rc) rc = op2(e, "Mul", step, rf, tname(e, a));
    if (!rc) rc = op2(e, "Sub", nm1, r, tname(e, b0));
    if (!rc) rc = op1(e, "Cast", b0, tname(e, bf), &to, 1);
    if (!rc) rc = op2(e, "Mul", step, bf, tname(e, b1));
    if (!rc) rc = op2(e, "Sub", onef, b1, tname(e, b));
    const char *w[3] = {cond, a, b};
    if (!rc) rc = node(e, "Where", w, 3, tname(e, v), NULL, 0);
    if (!rc) rc = op2(e, "Greater", nn, one, tname(e, gt1));
    if (!rc) rc = op1(e, "Cast", gt1, tname(e, gt1f), &to, 1);
    if (!rc) rc = op2(e, "Mul", v, gt1f, out);
    return rc;
}

/* COORDS from the input's shape: (N, 2, h, w), channel 0 linspace along h, 1 along w. */
static int emit_coords_dyn(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    name_t xn, sh, nh, nw, i2, i3, lh, lw, s1, s2, one, t1, t2, nn, full, eh, ew, out;
    vname(xn, n->in[0]);
    int rc = op1(e, "Shape", xn, tname(e, sh), NULL, 0);
    if (!rc) rc = cs_i64(e, i2, 2);
    if (!rc) rc = cs_i64(e, i3, 3);
    const char *g2[2] = {sh, i2}, *g3[2] = {sh, i3};
    if (!rc) rc = node(e, "Gather", g2, 2, tname(e, nh), NULL, 0);
    if (!rc) rc = node(e, "Gather", g3, 2, tname(e, nw), NULL, 0);
    if (!rc) rc = linspace_dyn(e, nh, tname(e, lh));
    if (!rc) rc = linspace_dyn(e, nw, tname(e, lw));
    int64_t v1[4] = {1, 1, -1, 1}, v2[4] = {1, 1, 1, -1}, o1 = 1;
    if (!rc) rc = ci64(e, s1, v1, 4);
    if (!rc) rc = ci64(e, s2, v2, 4);
    if (!rc) rc = op2(e, "Reshape", lh, s1, tname(e, t1));
    if (!rc) rc = op2(e, "Reshape", lw, s2, tname(e, t2));
    if (!rc) rc = shape_of(e, xn, 0, 1, tname(e, nn));
    if (!rc) rc = ci64(e, one, &o1, 1);
    name_t hw;
    if (!rc) rc = shape_of(e, xn, 2, 4, tname(e, hw));
    lm_onnx_attr cat0 = LM_ONNX_INT("axis", 0);
    const char *fs[3] = {nn, one, hw};
    if (!rc) rc = node(e, "Concat", fs, 3, tname(e, full), &cat0, 1);
    if (!rc) rc = op2(e, "Expand", t1, full, tname(e, eh));
    if (!rc) rc = op2(e, "Expand", t2, full, tname(e, ew));
    lm_onnx_attr cat1 = LM_ONNX_INT("axis", 1);
    const char *cs2[2] = {eh, ew};
    if (!rc) rc = node(e, "Concat", cs2, 2, vname(out, i), &cat1, 1);
    return rc;
}

/* HALF with the size from Shape: Slice [0, s/2) or [s/2, end). */
static int emit_half_dyn(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    int64_t d = n->a[0], zero = 0, big = INT64_MAX;
    name_t xn, s, two, h, z, bg, ax, out;
    vname(xn, n->in[0]);
    int rc = shape_of(e, xn, d, d + 1, tname(e, s));
    if (!rc) rc = ci64(e, two, (int64_t[]){2}, 1);
    if (!rc) rc = op2(e, "Div", s, two, tname(e, h));
    if (!rc) rc = n->a[1] ? ci64(e, bg, &big, 1) : ci64(e, z, &zero, 1);
    if (!rc) rc = ci64(e, ax, &d, 1);
    const char *ins[4] = {xn, n->a[1] ? h : z, n->a[1] ? bg : h, ax};
    if (!rc) rc = node(e, "Slice", ins, 4, vname(out, i), NULL, 0);
    return rc;
}

static int emit_simple(ex *e, int i) {
    const lm_gnode *n = &e->g->n[i];
    name_t in[LM_GRAPH_MAX_IN], out, k;
    const char *ins[LM_GRAPH_MAX_IN];
    for (int j = 0; j < n->n_in; j++) ins[j] = vname(in[j], n->in[j]);
    vname(out, i);
    switch (n->op) {
    case LM_GOP_RELU: return node(e, "Relu", ins, 1, out, NULL, 0);
    case LM_GOP_SIGMOID: return node(e, "Sigmoid", ins, 1, out, NULL, 0);
    case LM_GOP_TANH: return node(e, "Tanh", ins, 1, out, NULL, 0);
    case LM_GOP_ADD: return node(e, "Add", ins, 2, out, NULL, 0);
    case LM_GOP_MUL: return node(e, "Mul", ins, 2, out, NULL, 0);
    case LM_GOP_CAT: {
        lm_onnx_attr a = LM_ONNX_INT("axis", n->a[0]);
        return node(e, "Concat", ins, n->n_in, out, &a, 1);
    }
    case LM_GOP_SLICE: return slice(e, ins[0], n->a[0], n->a[1], n->a[2], out);
    case LM_GOP_HALF: {
        if (n->a[0] != 2 && n->a[0] != 3) return fail(e, i, LM_EINVAL, "half along a dim other than H or W");
        int64_t len = e->d[n->in[0]][n->a[0] - 1] / 2;
        return slice(e, ins[0], n->a[0], n->a[1] ? len : 0, len, out);
    }
    case LM_GOP_AVGPOOL2: {
        int64_t two[2] = {2, 2};
        lm_onnx_attr a[2] = {LM_ONNX_INTS("kernel_shape", two, 2), LM_ONNX_INTS("strides", two, 2)};
        return node(e, "AveragePool", ins, 1, out, a, 2);
    }
    case LM_GOP_REPEAT2: {
        int64_t reps[4] = {1, 1, 2, 2};
        int rc = ci64(e, k, reps, 4);
        if (rc < 0) return rc;
        const char *t[2] = {ins[0], k};
        return node(e, "Tile", t, 2, out, NULL, 0);
    }
    default: return fail(e, i, LM_ENOTSUP, "no ONNX lowering for this op");
    }
}

/* Inputs, masking and node 0: v0 = cat(image * (1 - m), m), m = float(mask > 0). */
static int emit_input(ex *e, int64_t S) {
    const char *hp = e->dyn ? "height" : NULL, *wp = e->dyn ? "width" : NULL;
    lm_onnx_dim di[4] = {{0, "batch"}, {3, NULL}, {S, hp}, {S, wp}};
    lm_onnx_dim dm[4] = {{0, "batch"}, {1, NULL}, {S, hp}, {S, wp}};
    int rc = lm_onnx_input(&e->m, "image", LM_ONNX_FLOAT, di, 4);
    if (!rc) rc = lm_onnx_input(&e->m, "mask", LM_ONNX_FLOAT, dm, 4);
    if (!rc) rc = lm_onnx_output(&e->m, "output", LM_ONNX_FLOAT, di, 4);
    name_t zero, one, gt, masked, v0;
    float z = 0, o = 1;
    if (!rc) rc = cf32(e, zero, NULL, 0, &z);
    if (!rc) rc = cf32(e, one, NULL, 0, &o);
    const char *a[2] = {"mask", zero};
    if (!rc) rc = node(e, "Greater", a, 2, tname(e, gt), NULL, 0);
    lm_onnx_attr to = LM_ONNX_INT("to", LM_ONNX_FLOAT);
    const char *b[1] = {gt};
    if (!rc) rc = node(e, "Cast", b, 1, "mask_bin", &to, 1);
    const char *c[2] = {one, "mask_bin"};
    if (!rc) rc = node(e, "Sub", c, 2, "mask_inv", NULL, 0);
    const char *d[2] = {"image", "mask_inv"};
    if (!rc) rc = node(e, "Mul", d, 2, tname(e, masked), NULL, 0);
    lm_onnx_attr ax = LM_ONNX_INT("axis", 1);
    const char *f[2] = {masked, "mask_bin"};
    if (!rc) rc = node(e, "Concat", f, 2, vname(v0, 0), &ax, 1);
    return rc;
}

/* output = clip(255 * (m * G + (1 - m) * image), 0, 255) */
static int emit_output(ex *e) {
    name_t g, a, b, s, k, lo, hi;
    float c255 = 255, z = 0;
    int rc = cf32(e, k, NULL, 0, &c255);
    if (!rc) rc = cf32(e, lo, NULL, 0, &z);
    if (!rc) rc = cf32(e, hi, NULL, 0, &c255);
    const char *p[2] = {"mask_bin", vname(g, e->g->out)};
    if (!rc) rc = node(e, "Mul", p, 2, tname(e, a), NULL, 0);
    const char *q[2] = {"mask_inv", "image"};
    if (!rc) rc = node(e, "Mul", q, 2, tname(e, b), NULL, 0);
    const char *r[2] = {a, b};
    if (!rc) rc = node(e, "Add", r, 2, tname(e, s), NULL, 0);
    name_t sc;
    const char *t[2] = {s, k};
    if (!rc) rc = node(e, "Mul", t, 2, tname(e, sc), NULL, 0);
    const char *u[3] = {sc, lo, hi};
    if (!rc) rc = node(e, "Clip", u, 3, "output", NULL, 0);
    return rc;
}

static int build(ex *e, const lm_export_onnx_opts *o) {
    const lm_graph *g = e->g;
    int64_t S = o->size ? o->size : 512;
    if (o->fft != LM_ONNX_FFT_MATMUL && o->fft != LM_ONNX_FFT_DFT_OP)
        return lm_err_code(LM_EINVAL, "onnx export: unknown fft mode %d", o->fft);
    e->dyn = o->fft == LM_ONNX_FFT_DFT_OP;
    int mod = g->modulo > 8 ? g->modulo : 8;
    if (S < 1 || S % 8 || S % g->modulo)
        return lm_err_code(LM_EINVAL, "onnx export: size %lld is not a positive multiple of %d (8 and the generator's modulo %d)",
                           (long long)S, mod, g->modulo);
    if (g->input_nc != 4 || g->output_nc != 3)
        return lm_err_code(LM_ENOTSUP, "onnx export: the image+mask contract needs a generator of 4 input and 3 output channels, not %d and %d",
                           g->input_nc, g->output_nc);
    if (g->out <= 0 || g->out >= g->len) return lm_err_code(LM_EINVAL, "onnx export: the graph has no output");
    e->d = malloc((size_t)g->len * sizeof *e->d);
    e->uses = calloc((size_t)g->len, sizeof *e->uses);
    e->fold = malloc((size_t)g->len * sizeof *e->fold);
    if (!e->d || !e->uses || !e->fold) return lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    int rc = lm_graph_infer(g, S, S, e->d);
    if (rc < 0) return lm_err_prefix("onnx export at %lldx%lld", (long long)S, (long long)S);
    if (e->d[g->out][0] != 3 || e->d[g->out][1] != S || e->d[g->out][2] != S)
        return lm_err_code(LM_EINVAL, "onnx export: the generator's output is %lldx%lldx%lld at %lldx%lld, not 3x%lldx%lld",
                           (long long)e->d[g->out][0], (long long)e->d[g->out][1], (long long)e->d[g->out][2],
                           (long long)S, (long long)S, (long long)S, (long long)S);
    /* skip[i]: 1 for a node the output does not depend on (not exported), 2 for a BN folded
     * into its conv */
    char *skip = malloc((size_t)g->len);
    if (!skip) return lm_err_code(LM_ENOMEM, "onnx export: out of memory");
    memset(skip, 1, (size_t)g->len);
    skip[g->out] = 0;
    for (int i = g->len - 1; i > 0; i--)
        if (!skip[i])
            for (int j = 0; j < g->n[i].n_in; j++) skip[g->n[i].in[j]] = 0;
    for (int i = 0; i < g->len; i++) {
        e->fold[i] = -1;
        for (int j = 0; !skip[i] && j < g->n[i].n_in; j++) e->uses[g->n[i].in[j]]++;
    }
    e->uses[g->out]++;
    for (int i = 0; i < g->len; i++) {
        const lm_gnode *n = &g->n[i];
        int c = n->n_in ? n->in[0] : -1;
        if (!skip[i] && n->op == LM_GOP_BN && c >= 0 && (g->n[c].op == LM_GOP_CONV || g->n[c].op == LM_GOP_CONVT) &&
            e->uses[c] == 1) {
            e->fold[c] = i;
            skip[i] = 2;
        }
    }
    if (!(rc = lm_onnx_init(&e->m, "lama_generator", "LaMa inpainting (lamac export, LaMa-ONNX contract)")))
        rc = emit_input(e, S);
    for (int i = 1; !rc && i < g->len; i++) {
        if (skip[i]) continue;
        switch (g->n[i].op) {
        case LM_GOP_CONV:
        case LM_GOP_CONVT: rc = emit_conv(e, i); break;
        case LM_GOP_BN: rc = emit_bn(e, i); break;
        case LM_GOP_PAD: rc = emit_pad(e, i); break;
        case LM_GOP_RFFT2: rc = e->dyn ? emit_rfft2_dft(e, i) : emit_rfft2(e, i); break;
        case LM_GOP_IRFFT2: rc = e->dyn ? emit_irfft2_dft(e, i) : emit_irfft2(e, i); break;
        case LM_GOP_COORDS: rc = e->dyn ? emit_coords_dyn(e, i) : emit_coords(e, i); break;
        case LM_GOP_HALF: rc = e->dyn ? emit_half_dyn(e, i) : emit_simple(e, i); break;
        case LM_GOP_INPUT: rc = fail(e, i, LM_EINVAL, "a second input node"); break;
        default: rc = emit_simple(e, i); break;
        }
    }
    free(skip);
    if (!rc) rc = emit_output(e);
    return rc;
}

int lm_export_onnx_bytes(const lm_graph *g, const lm_export_onnx_opts *o, lm_pb *out) {
    lm_export_onnx_opts def = lm_export_onnx_defaults();
    ex e = {.g = g};
    int rc = build(&e, o ? o : &def);
    if (!rc) rc = lm_onnx_serialize(&e.m, out);
    lm_onnx_free(&e.m);
    free(e.d);
    free(e.uses);
    free(e.fold);
    if (rc < 0) lm_pb_free(out);
    return rc;
}

int lm_export_onnx(const lm_graph *g, const lm_export_onnx_opts *o, const char *path) {
    lm_pb b = {0};
    int rc = lm_export_onnx_bytes(g, o, &b);
    if (!rc) rc = lm_atomic_write_file(path, b.p, b.n);
    if (rc < 0 && !lm_err_msg()[0]) rc = lm_err_code(rc, "onnx export: writing %s", path);
    lm_pb_free(&b);
    return rc < 0 ? rc : 0;
}
