/* augment.c — parameter draws and the composed geometric map of the official
 * get_transforms() variants (datasets.py, aug.py). Approximations: see augment.h. */
#include "data/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/color.h"

#include "data/vectorize.h"

static const char *const g_names[LM_AUG_N_VARIANTS] = {
    "default", "distortions", "distortions_scale05_1", "distortions_scale03_12", "distortions_scale03_07",
    "distortions_light", "non_space_transform", "no_augs"};

int lm_aug_variant_parse(lm_aug_variant *out, const char *name) {
    for (int i = 0; i < LM_AUG_N_VARIANTS; i++)
        if (!strcmp(name, g_names[i])) {
            *out = (lm_aug_variant)i;
            return 0;
        }
    return lm_err_code(LM_EINVAL,
                       "unknown transform_variant '%s' (default, distortions, distortions_scale05_1, "
                       "distortions_scale03_12, distortions_scale03_07, distortions_light, "
                       "non_space_transform, no_augs)",
                       name);
}

const char *lm_aug_variant_name(lm_aug_variant v) {
    return (unsigned)v < LM_AUG_N_VARIANTS ? g_names[v] : "?";
}

/* ---- small linear algebra ------------------------------------------------------------- */

/* Homography H (3x3) with H·(x_i, y_i, 1) ~ (u_i, v_i, 1) for 4 points (cv2.getPerspectiveTransform). */
static void homography(double H[9], const double xy[8], const double uv[8]) {
    double A[8][9];
    for (int i = 0; i < 4; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1], u = uv[2 * i], v = uv[2 * i + 1];
        double r0[9] = {x, y, 1, 0, 0, 0, -x * u, -y * u, u};
        double r1[9] = {0, 0, 0, x, y, 1, -x * v, -y * v, v};
        memcpy(A[2 * i], r0, sizeof r0);
        memcpy(A[2 * i + 1], r1, sizeof r1);
    }
    for (int c = 0; c < 8; c++) { /* Gauss-Jordan with partial pivoting */
        int piv = c;
        for (int r = c + 1; r < 8; r++)
            if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
        if (piv != c)
            for (int k = 0; k < 9; k++) {
                double t = A[c][k];
                A[c][k] = A[piv][k];
                A[piv][k] = t;
            }
        double d = A[c][c];
        if (fabs(d) < 1e-12) d = d < 0 ? -1e-12 : 1e-12;
        for (int k = c; k < 9; k++) A[c][k] /= d;
        for (int r = 0; r < 8; r++)
            if (r != c && A[r][c] != 0) {
                double f = A[r][c];
                for (int k = c; k < 9; k++) A[r][k] -= f * A[c][k];
            }
    }
    for (int i = 0; i < 8; i++) H[i] = A[i][8];
    H[8] = 1;
}

static void mat3_mul(double out[9], const double a[9], const double b[9]) {
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) t[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(out, t, sizeof t);
}

/* Inverse of the affine part of a 3x3 (last row 0 0 1) into 2x3. */
static void affine_invert(double inv[6], const double m[6]) {
    double det = m[0] * m[4] - m[1] * m[3];
    if (fabs(det) < 1e-12) det = 1e-12;
    double a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det;
    inv[0] = a;
    inv[1] = b;
    inv[2] = -(a * m[2] + b * m[5]);
    inv[3] = d;
    inv[4] = e;
    inv[5] = -(d * m[2] + e * m[5]);
}

/* skimage.transform.AffineTransform(scale, rotation, shear, translation) as 3x3. */
static void sk_affine(double M[9], double sx, double sy, double rot, double shear, double tx, double ty) {
    double m[9] = {sx * cos(rot), -sy * sin(rot + shear), tx, sx * sin(rot), sy * cos(rot + shear), ty, 0, 0, 1};
    memcpy(M, m, sizeof m);
}

/* ---- parameter draws ---------------------------------------------------------------------- */

typedef struct {
    double persp_lo, persp_hi, persp_p;
    double sc_lo, sc_hi, rot, shear, affine_p;
    int optical, space;
} variant_cfg;

static variant_cfg cfg_of(lm_aug_variant v) {
    variant_cfg c = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    switch (v) {
    case LM_AUG_DEFAULT: c.space = 1; break;
    case LM_AUG_DISTORTIONS:
        c = (variant_cfg){0, 0.06, 0.5, 0.7, 1.3, 40, 0.1, 0.5, 1, 1};
        break;
    case LM_AUG_DISTORTIONS_SCALE05_1: c = (variant_cfg){0, 0.06, 0.5, 0.5, 1.0, 40, 0.1, 1.0, 1, 1}; break;
    case LM_AUG_DISTORTIONS_SCALE03_12: c = (variant_cfg){0, 0.06, 0.5, 0.3, 1.2, 40, 0.1, 1.0, 1, 1}; break;
    case LM_AUG_DISTORTIONS_SCALE03_07: c = (variant_cfg){0, 0.06, 0.5, 0.3, 0.7, 40, 0.1, 1.0, 1, 1}; break;
    case LM_AUG_DISTORTIONS_LIGHT: c = (variant_cfg){0, 0.02, 0.5, 0.8, 1.8, 20, 0.03, 0.5, 0, 1}; break;
    default: break;
    }
    return c;
}

static void draw_perspective(lm_aug_plan *p, const variant_cfg *c, lm_rng *r) {
    int h = p->src_h, w = p->src_w;
    double sigma = lm_rng_range(r, c->persp_lo, c->persp_hi), j[8];
    for (int i = 0; i < 8; i++) j[i] = fmod(fabs(lm_rng_normal(r) * sigma), 1.0);
    /* quad corners tl, tr, br, bl in source pixels */
    double q[8] = {j[0] * w, j[1] * h, (1 - j[2]) * w, j[3] * h, (1 - j[4]) * w, (1 - j[5]) * h, j[6] * w, (1 - j[7]) * h};
    double wa = hypot(q[4] - q[6], q[5] - q[7]), wb = hypot(q[2] - q[0], q[3] - q[1]);
    double ha = hypot(q[2] - q[4], q[3] - q[5]), hb = hypot(q[0] - q[6], q[1] - q[7]);
    int mw = (int)wa > (int)wb ? (int)wa : (int)wb, mh = (int)ha > (int)hb ? (int)ha : (int)hb;
    if (mw < 2) mw = 2;
    if (mh < 2) mh = 2;
    double rect[8] = {0, 0, mw - 1, 0, mw - 1, mh - 1, 0, mh - 1};
    double H[9], S[9] = {(double)mw / w, 0, 0.5 * mw / w - 0.5, 0, (double)mh / h, 0.5 * mh / h - 0.5, 0, 0, 1};
    homography(H, rect, q); /* warped rect -> quad in source */
    /* keep_size resize (w, h) -> (mw, mh) with cv2 linear coordinates, then H */
    mat3_mul(p->persp_h, H, S);
}

static void draw_affine(lm_aug_plan *p, const variant_cfg *c, lm_rng *r) {
    int h = p->src_h, w = p->src_w;
    double sx = lm_rng_range(r, c->sc_lo, c->sc_hi), sy = lm_rng_range(r, c->sc_lo, c->sc_hi);
    double rot = lm_rng_range(r, -c->rot, c->rot) * M_PI / 180.0;
    double shx = lm_rng_range(r, -c->shear, c->shear) * M_PI / 180.0;
    double shy = lm_rng_range(r, -c->shear, c->shear) * M_PI / 180.0;
    double cx = w / 2.0 - 0.5, cy = h / 2.0 - 0.5;
    double T[9], Rm[9], Sy[9], Ri[9], Mt[9], C[9], M[9];
    sk_affine(T, 1, 1, 0, 0, -cx, -cy);
    sk_affine(Rm, 1, 1, -M_PI / 2, 0, 0, 0);
    sk_affine(Sy, 1, 1, 0, shy, 0, 0);
    sk_affine(Ri, 1, 1, M_PI / 2, 0, 0, 0);
    sk_affine(Mt, sx, sy, rot, shx, 0, 0);
    sk_affine(C, 1, 1, 0, 0, cx, cy);
    /* skimage `a + b` applies a then b: M = C · Mt · Ri · Sy · Rm · T */
    mat3_mul(M, Rm, T);
    mat3_mul(M, Sy, M);
    mat3_mul(M, Ri, M);
    mat3_mul(M, Mt, M);
    mat3_mul(M, C, M);
    double m6[6] = {M[0], M[1], M[2], M[3], M[4], M[5]};
    affine_invert(p->affine_inv, m6);
}

void lm_aug_plan_draw(lm_aug_plan *p, lm_aug_variant v, int out_size, int h, int w, lm_rng *r) {
    memset(p, 0, sizeof *p);
    p->variant = v;
    p->out_size = out_size;
    p->src_h = h;
    p->src_w = w;
    variant_cfg c = cfg_of(v);
    /* 1. IAAPerspective2, 2. IAAAffine2 */
    if (c.persp_p > 0 && lm_rng_uniform(r) < c.persp_p) {
        p->persp_on = 1;
        draw_perspective(p, &c, r);
    }
    if (c.affine_p > 0 && lm_rng_uniform(r) < c.affine_p) {
        p->affine_on = 1;
        draw_affine(p, &c, r);
    }
    /* default: A.RandomScale(scale_limit=0.2) */
    p->scaled_h = h;
    p->scaled_w = w;
    if (v == LM_AUG_DEFAULT && lm_rng_uniform(r) < 0.5) {
        double s = lm_rng_range(r, 0.8, 1.2);
        p->scale_on = 1;
        p->scaled_h = (int)(h * s) > 0 ? (int)(h * s) : 1;
        p->scaled_w = (int)(w * s) > 0 ? (int)(w * s) : 1;
    }
    /* A.PadIfNeeded(out, out), centred */
    int sh = p->scaled_h, sw = p->scaled_w;
    p->padded_h = sh < out_size ? out_size : sh;
    p->padded_w = sw < out_size ? out_size : sw;
    p->pad_top = (p->padded_h - sh) / 2;
    p->pad_left = (p->padded_w - sw) / 2;
    /* A.OpticalDistortion() */
    if (c.optical && lm_rng_uniform(r) < 0.5) {
        p->optical_on = 1;
        p->optical_k = lm_rng_range(r, -0.05, 0.05);
        p->optical_dx = round(lm_rng_range(r, -0.05, 0.05)); /* always 0: albumentations 0.5 */
        p->optical_dy = round(lm_rng_range(r, -0.05, 0.05));
    }
    /* A.RandomCrop, A.HorizontalFlip */
    if (c.space) {
        double hs = lm_rng_uniform(r), ws = lm_rng_uniform(r);
        p->crop_y = (int)((p->padded_h - out_size) * hs);
        p->crop_x = (int)((p->padded_w - out_size) * ws);
        p->flip = lm_rng_uniform(r) < 0.5;
    }
    /* A.CLAHE, A.RandomBrightnessContrast, A.HueSaturationValue */
    if (v != LM_AUG_NO_AUGS) {
        if (lm_rng_uniform(r) < 0.5) {
            p->clahe_on = 1;
            p->clahe_clip = lm_rng_range(r, 1.0, 4.0);
        }
        if (lm_rng_uniform(r) < 0.5) {
            p->bc_on = 1;
            p->bc_alpha = 1.0 + lm_rng_range(r, -0.2, 0.2);
            p->bc_beta = lm_rng_range(r, -0.2, 0.2);
        }
        if (lm_rng_uniform(r) < 0.5) {
            p->hsv_on = 1;
            p->hsv_h = lm_rng_range(r, -5, 5);
            p->hsv_s = lm_rng_range(r, -30, 30);
            p->hsv_v = lm_rng_range(r, -5, 5);
        }
    }
}

/* ---- the composed map ------------------------------------------------------------------- */

static inline double fold101(double x, int n) { /* continuous BORDER_REFLECT_101 */
    if (n <= 1) return 0;
    double per = 2.0 * (n - 1);
    if (x >= 0 && x <= n - 1) return x;
    x = fmod(fabs(x), per);
    return x > n - 1 ? per - x : x;
}
static inline double clampd(double x, int n) { return x < 0 ? 0 : x > n - 1 ? n - 1 : x; }

/* Reference form of the map, one pixel at a time (any plan). */
static void geometry_px(float *out, const lm_aug_plan *p, int u, int v) {
    int n = p->out_size, H = p->padded_h, W = p->padded_w, h = p->src_h, w = p->src_w;
    double ocx = (W - 1) * 0.5, ocy = (H - 1) * 0.5, k = p->optical_k, iW = 1.0 / W, iH = 1.0 / H;
    double rs_x = (double)w / p->scaled_w, rs_y = (double)h / p->scaled_h;
    const double *A = p->affine_inv, *P = p->persp_h;
    double X = (p->flip ? n - 1 - u : u) + p->crop_x, Y = v + p->crop_y;
    if (p->optical_on) { /* cv2.initUndistortRectifyMap + remap(BORDER_REFLECT_101) */
        double x = (X - ocx) * iW, y = (Y - ocy) * iH, r2 = x * x + y * y, kr = 1 + k * r2 * (1 + r2);
        X = fold101(W * x * kr + W * 0.5 + p->optical_dx, W);
        Y = fold101(H * y * kr + H * 0.5 + p->optical_dy, H);
    }
    X = fold101(X - p->pad_left, p->scaled_w); /* PadIfNeeded, reflect-101 */
    Y = fold101(Y - p->pad_top, p->scaled_h);
    if (p->scale_on) { /* cv2.resize INTER_LINEAR coordinates */
        X = clampd((X + 0.5) * rs_x - 0.5, w);
        Y = clampd((Y + 0.5) * rs_y - 0.5, h);
    }
    if (p->affine_on) { /* imgaug Affine, mode reflect (cv2 BORDER_REFLECT_101) */
        double x = A[0] * X + A[1] * Y + A[2], y = A[3] * X + A[4] * Y + A[5];
        X = fold101(x, w);
        Y = fold101(y, h);
    }
    if (p->persp_on) { /* imgaug PerspectiveTransform, mode replicate */
        double d = P[6] * X + P[7] * Y + P[8];
        if (fabs(d) < 1e-12) d = 1e-12;
        double x = (P[0] * X + P[1] * Y + P[2]) / d, y = (P[3] * X + P[4] * Y + P[5]) / d;
        X = clampd(x, w);
        Y = clampd(y, h);
    }
    out[0] = (float)X;
    out[1] = (float)Y;
}

/* fold101 for |x| < 2·per (per = 2(n-1), n > 1) without fmod or branches: fmod(|x|, per)
 * is |x| or |x| - per (exact, Sterbenz), so the value is fold101's. */
static inline double fold_near(double x, double per, double last) {
    double ax = fabs(x);
    double r = ax >= per ? ax - per : ax;
    return r > last ? per - r : r;
}
static inline double far_max(double m, double a, double b) { /* max without fmax's NaN rules */
    m = a > m ? a : m;
    return b > m ? b : m;
}
static inline double clamp_v(double x, double last) {
    x = x < 0 ? 0 : x;
    return x > last ? last : x;
}

/* One output row of the map with the stage flags as compile-time constants (each caller
 * below is specialised), vectorised. Returns 1 if some intermediate coordinate was 2
 * periods or more outside its image (then the caller redoes the row with geometry_px). */
enum { GEOM_MAX_ROW = 1024 }; /* longer rows take the reference path */

static inline __attribute__((always_inline)) int geometry_row(float *row, const lm_aug_plan *p, int v,
                                                              const int optical, const int scale,
                                                              const int affine, const int persp) {
    int n = p->out_size, H = p->padded_h, W = p->padded_w, h = p->src_h, w = p->src_w;
    double ocx = (W - 1) * 0.5, ocy = (H - 1) * 0.5, k = p->optical_k, iW = 1.0 / W, iH = 1.0 / H;
    double rs_x = (double)w / p->scaled_w, rs_y = (double)h / p->scaled_h;
    double perW = 2.0 * (W - 1), perH = 2.0 * (H - 1), lastW = W - 1, lastH = H - 1;
    double persw = 2.0 * (p->scaled_w - 1), persh = 2.0 * (p->scaled_h - 1);
    double lastsw = p->scaled_w - 1, lastsh = p->scaled_h - 1;
    double perw = 2.0 * (w - 1), perh = 2.0 * (h - 1), lastw = w - 1, lasth = h - 1;
    double A0 = p->affine_inv[0], A1 = p->affine_inv[1], A2 = p->affine_inv[2];
    double A3 = p->affine_inv[3], A4 = p->affine_inv[4], A5 = p->affine_inv[5];
    const double *P = p->persp_h;
    double P0 = P[0], P1 = P[1], P2 = P[2], P3 = P[3], P4 = P[4], P5 = P[5], P6 = P[6], P7 = P[7], P8 = P[8];
    double odx = p->optical_dx, ody = p->optical_dy, Yrow = (double)(v + p->crop_y);
    int pl = p->pad_left, pt = p->pad_top;
    double xs0[GEOM_MAX_ROW], farm = -1; /* farm >= 0: some coordinate 2 periods out */
    double fx[GEOM_MAX_ROW], fy[GEOM_MAX_ROW];
    for (int u = 0; u < n; u++) xs0[u] = (double)((p->flip ? n - 1 - u : u) + p->crop_x);
#pragma omp simd reduction(max : farm)
    for (int u = 0; u < n; u++) {
        double X = xs0[u], Y = Yrow;
        if (optical) {
            double x = (X - ocx) * iW, y = (Y - ocy) * iH, r2 = x * x + y * y, kr = 1 + k * r2 * (1 + r2);
            double xs = W * x * kr + W * 0.5 + odx, ys = H * y * kr + H * 0.5 + ody;
            farm = far_max(farm, fabs(xs) - 2 * perW, fabs(ys) - 2 * perH);
            X = fold_near(xs, perW, lastW);
            Y = fold_near(ys, perH, lastH);
        }
        X -= pl;
        Y -= pt;
        farm = far_max(farm, fabs(X) - 2 * persw, fabs(Y) - 2 * persh);
        X = fold_near(X, persw, lastsw);
        Y = fold_near(Y, persh, lastsh);
        if (scale) {
            X = clamp_v((X + 0.5) * rs_x - 0.5, lastw);
            Y = clamp_v((Y + 0.5) * rs_y - 0.5, lasth);
        }
        if (affine) {
            double x = A0 * X + A1 * Y + A2, y = A3 * X + A4 * Y + A5;
            farm = far_max(farm, fabs(x) - 2 * perw, fabs(y) - 2 * perh);
            X = fold_near(x, perw, lastw);
            Y = fold_near(y, perh, lasth);
        }
        if (persp) {
            double d = P6 * X + P7 * Y + P8;
            d = fabs(d) < 1e-12 ? 1e-12 : d;
            double x = (P0 * X + P1 * Y + P2) / d, y = (P3 * X + P4 * Y + P5) / d;
            X = clamp_v(x, lastw);
            Y = clamp_v(y, lasth);
        }
        fx[u] = X;
        fy[u] = Y;
    }
    for (int u = 0; u < n; u++) {
        row[2 * u] = (float)fx[u];
        row[2 * u + 1] = (float)fy[u];
    }
    return farm >= 0;
}

#define GEOM_CASE(o, s, a, q)                                                                                \
    case (o) | (s) << 1 | (a) << 2 | (q) << 3:                                                             \
        for (int v = 0; v < n; v++) {                                                                      \
            float *row = map + 2 * (size_t)v * n;                                                          \
            if (geometry_row(row, p, v, o, s, a, q))                                                       \
                for (int u = 0; u < n; u++) geometry_px(row + 2 * u, p, u, v);                             \
        }                                                                                                  \
        break;

LM_CLONES void lm_aug_geometry(float *map, const lm_aug_plan *p) {
    int n = p->out_size;
    /* a side of 1 pixel (fold period 0) takes the reference path */
    if (n > GEOM_MAX_ROW || p->padded_h < 2 || p->padded_w < 2 || p->scaled_h < 2 || p->scaled_w < 2 ||
        p->src_h < 2 || p->src_w < 2) {
        for (int v = 0; v < n; v++)
            for (int u = 0; u < n; u++) geometry_px(map + 2 * ((size_t)v * n + u), p, u, v);
        return;
    }
    switch ((p->optical_on != 0) | (p->scale_on != 0) << 1 | (p->affine_on != 0) << 2 | (p->persp_on != 0) << 3) {
        GEOM_CASE(0, 0, 0, 0) GEOM_CASE(1, 0, 0, 0) GEOM_CASE(0, 1, 0, 0) GEOM_CASE(1, 1, 0, 0)
        GEOM_CASE(0, 0, 1, 0) GEOM_CASE(1, 0, 1, 0) GEOM_CASE(0, 1, 1, 0) GEOM_CASE(1, 1, 1, 0)
        GEOM_CASE(0, 0, 0, 1) GEOM_CASE(1, 0, 0, 1) GEOM_CASE(0, 1, 0, 1) GEOM_CASE(1, 1, 0, 1)
        GEOM_CASE(0, 0, 1, 1) GEOM_CASE(1, 0, 1, 1) GEOM_CASE(0, 1, 1, 1) GEOM_CASE(1, 1, 1, 1)
    }
}
#undef GEOM_CASE

void lm_aug_map_bbox(const float *map, int n_pixels, int h, int w, int *y0, int *x0, int *rh, int *rw) {
    float mnx = 1e30f, mny = 1e30f, mxx = -1e30f, mxy = -1e30f;
#pragma omp simd reduction(min : mnx, mny) reduction(max : mxx, mxy)
    for (int i = 0; i < n_pixels; i++) {
        float x = map[2 * i], y = map[2 * i + 1];
        mnx = x < mnx ? x : mnx;
        mxx = x > mxx ? x : mxx;
        mny = y < mny ? y : mny;
        mxy = y > mxy ? y : mxy;
    }
    int ax = (int)floorf(mnx), bx = (int)floorf(mxx) + 1, ay = (int)floorf(mny), by = (int)floorf(mxy) + 1;
    ax = ax < 0 ? 0 : ax;
    ay = ay < 0 ? 0 : ay;
    bx = bx > w - 1 ? w - 1 : bx;
    by = by > h - 1 ? h - 1 : by;
    if (bx < ax) bx = ax;
    if (by < ay) by = ay;
    *x0 = ax;
    *y0 = ay;
    *rw = bx - ax + 1;
    *rh = by - ay + 1;
}

enum { REMAP_BLOCK = 256 };

void lm_aug_remap(uint8_t *out, int out_h, int out_w, const float *map, const uint8_t *src, int y0, int x0, int rh,
                  int rw) {
    /* OpenCV's fixed point: coordinates quantised to 1/32 pixel (INTER_BITS 5), weights in
     * 1/2^15 (INTER_REMAP_COEF_BITS), result rounded half up. Per block of pixels: the
     * integer offsets and weights first (vectorised), then the 2x2 blend. */
    int off[REMAP_BLOCK], dxo[REMAP_BLOCK], dyo[REMAP_BLOCK], wx[REMAP_BLOCK], wy[REMAP_BLOCK];
    size_t n = (size_t)out_h * out_w;
    float fx0 = (float)x0, fy0 = (float)y0;
    for (size_t i0 = 0; i0 < n; i0 += REMAP_BLOCK) {
        int m = n - i0 < REMAP_BLOCK ? (int)(n - i0) : REMAP_BLOCK;
        const float *mp = map + 2 * i0;
#pragma omp simd
        for (int i = 0; i < m; i++) {
            int qx = (int)((mp[2 * i] - fx0) * 32.f + 0.5f), qy = (int)((mp[2 * i + 1] - fy0) * 32.f + 0.5f);
            int ix = qx >> 5, iy = qy >> 5, ax = qx & 31, ay = qy & 31;
            int cx = ix >= rw - 1, cy = iy >= rh - 1;
            ix = cx ? rw - 1 : ix;
            ax = cx ? 0 : ax;
            iy = cy ? rh - 1 : iy;
            ay = cy ? 0 : ay;
            off[i] = 3 * (iy * rw + ix);
            dxo[i] = ax ? 3 : 0;
            dyo[i] = ay ? 3 * rw : 0;
            wx[i] = ax;
            wy[i] = ay;
        }
        uint8_t *o = out + 3 * i0;
        for (int i = 0; i < m; i++) {
            const uint8_t *a = src + off[i], *b = a + dxo[i], *c = a + dyo[i], *d = c + dxo[i];
            int ax = wx[i], ay = wy[i];
            /* (1 - ax/32)(1 - ay/32) 2^15 = (32 - ax)(32 - ay) 2^5 */
            int w00 = (32 - ax) * (32 - ay) * 32, w01 = ax * (32 - ay) * 32, w10 = (32 - ax) * ay * 32,
                w11 = ax * ay * 32;
            for (int ch = 0; ch < 3; ch++)
                o[3 * i + ch] = (uint8_t)((a[ch] * w00 + b[ch] * w01 + c[ch] * w10 + d[ch] * w11 + (1 << 14)) >> 15);
        }
    }
}

int lm_aug_color(uint8_t *img, const lm_aug_plan *p) {
    int n = p->out_size;
    if (p->clahe_on) {
        int rc = lm_color_clahe(img, n, n, p->clahe_clip, 8);
        if (rc < 0) return rc;
    }
    if (p->bc_on) lm_color_brightness_contrast(img, n, n, p->bc_alpha, p->bc_beta);
    if (p->hsv_on) lm_color_hsv_shift(img, n, n, p->hsv_h, p->hsv_s, p->hsv_v);
    return 0;
}

int lm_aug_sample(uint8_t *out, const lm_aug_plan *p, lm_aug_read_fn read, void *ctx) {
    int n = p->out_size, rc = 0, y0, x0, rh, rw;
    float *map = malloc(sizeof(float) * 2 * (size_t)n * n);
    uint8_t *reg = NULL;
    if (!map) return lm_err_code(LM_ENOMEM, "augment: out of memory");
    lm_aug_geometry(map, p);
    lm_aug_map_bbox(map, n * n, p->src_h, p->src_w, &y0, &x0, &rh, &rw);
    reg = malloc((size_t)rh * rw * 3);
    if (!reg) {
        rc = lm_err_code(LM_ENOMEM, "augment: out of memory");
        goto cleanup;
    }
    if ((rc = read(ctx, reg, y0, x0, rh, rw)) < 0) goto cleanup;
    lm_aug_remap(out, n, n, map, reg, y0, x0, rh, rw);
    rc = lm_aug_color(out, p);
cleanup:
    free(map);
    free(reg);
    return rc;
}

int lm_aug_warp_affine(uint8_t *dst, int dh, int dw, const uint8_t *src, int h, int w, const double M[6],
                       int border) {
    float *map = malloc(sizeof(float) * 2 * (size_t)dh * dw);
    if (!map) return lm_err_code(LM_ENOMEM, "augment: out of memory");
    double inv[6];
    affine_invert(inv, M);
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            double sx = inv[0] * x + inv[1] * y + inv[2], sy = inv[3] * x + inv[4] * y + inv[5];
            map[2 * ((size_t)y * dw + x)] = (float)(border ? clampd(sx, w) : fold101(sx, w));
            map[2 * ((size_t)y * dw + x) + 1] = (float)(border ? clampd(sy, h) : fold101(sy, h));
        }
    lm_aug_remap(dst, dh, dw, map, src, 0, 0, h, w);
    free(map);
    return 0;
}
