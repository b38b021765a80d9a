/* color.c — CLAHE, brightness/contrast and HSV shifts on RGB uint8 (see color.h).
 * Mirrors albumentations 0.5 (A.CLAHE, A.RandomBrightnessContrast, A.HueSaturationValue)
 * over OpenCV's uint8 conversions, as used by the official get_transforms(). */
#include "data/color.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#include "data/vectorize.h"

static inline uint8_t sat_round(float x) { /* OpenCV saturate_cast<uchar>: round, clamp */
    if (x <= 0) return 0;
    if (x >= 255) return 255;
    float r = x + 12582912.f;        /* 1.5 * 2^23: rounds to an integer, half to even, */
    return (uint8_t)(int)(r - 12582912.f); /* like cvRound, without a libm call */
}
/* The same value without branches (clamp first), for loops meant to vectorise. */
static inline uint8_t sat_round_v(float x) {
    x = x > 0 ? x : 0;
    x = x < 255 ? x : 255;
    return (uint8_t)(int)((x + 12582912.f) - 12582912.f);
}

void lm_color_brightness_contrast(uint8_t *img, int h, int w, double alpha, double beta) {
    uint8_t lut[256];
    for (int i = 0; i < 256; i++) {
        float v = (float)i;
        if (alpha != 1) v *= (float)alpha;
        if (beta != 0) v += (float)(beta * 255.0);
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        lut[i] = (uint8_t)v; /* astype(uint8) truncates */
    }
    size_t n = (size_t)h * w * 3;
    for (size_t i = 0; i < n; i++) img[i] = lut[img[i]];
}

/* ---- HSV (OpenCV 8-bit, H in [0, 180)) ------------------------------------------------ */

/* Tables built once (pthread_once), shared read-only by every thread:
 *  - rgb2hsv: OpenCV's fixed-point reciprocals g_sdiv, g_hdiv;
 *  - hsv2rgb: per hue the sector and fractional part (h·6/180 in float, as the per-pixel
 *    code computes them), per value sat_round(v·255);
 *  - Lab (CLAHE): see the Lab section below. */
enum { HSV_SHIFT = 12 };
static int g_sdiv[256], g_hdiv[256];
static int g_h_sector[256];
static float g_h_frac[256];
static int g_v8[256];
static pthread_once_t g_tables_once = PTHREAD_ONCE_INIT;
static void tables_init(void);
static inline void tables(void) { pthread_once(&g_tables_once, tables_init); }

static void hsv_tables_init(void) {
    g_sdiv[0] = g_hdiv[0] = 0;
    for (int i = 1; i < 256; i++) {
        g_sdiv[i] = (int)lrint((255 << HSV_SHIFT) / (1. * i));
        g_hdiv[i] = (int)lrint((180 << HSV_SHIFT) / (6. * i));
    }
    for (int i = 0; i < 256; i++) {
        float h = i * (6.f / 180.f);
        int sector = (int)floorf(h);
        h -= (float)sector;
        if ((unsigned)sector >= 6u) {
            sector = sector < 0 ? sector + 6 : sector - 6;
            if ((unsigned)sector >= 6u) sector = 0;
        }
        g_h_sector[i] = sector;
        g_h_frac[i] = h;
        g_v8[i] = sat_round((i * (1.f / 255.f)) * 255.f);
    }
}

static inline void rgb2hsv_px(int r, int g, int b, int *H, int *S, int *V) {
    int v = r > g ? r : g;
    v = v > b ? v : b;
    int vmin = r < g ? r : g;
    vmin = vmin < b ? vmin : b;
    int diff = v - vmin;
    int vr = v == r ? -1 : 0, vg = v == g ? -1 : 0;
    int s = (diff * g_sdiv[v] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
    int hh = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + ((~vg) & (r - g + 4 * diff))));
    hh = (hh * g_hdiv[diff] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
    hh += hh < 0 ? 180 : 0;
    *H = hh;
    *S = s;
    *V = v;
}

void lm_color_rgb2hsv(const uint8_t rgb[3], uint8_t hsv[3]) {
    tables();
    int H, S, V;
    rgb2hsv_px(rgb[0], rgb[1], rgb[2], &H, &S, &V);
    hsv[0] = (uint8_t)H;
    hsv[1] = (uint8_t)S;
    hsv[2] = (uint8_t)V;
}

/* OpenCV HSV2RGB_f's sector table: which of {v, v(1-s), v(1-sh), v(1-s(1-h))} is b, g, r. */
static const int g_sector_data[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};

/* One pixel of OpenCV's HSV2RGB (float formulas, rounded). s == 0 needs no special case:
 * then every entry of tab equals v exactly (1 - 0·h = 1). */
static inline void hsv2rgb_px(int H, int S, int V, uint8_t *rgb) {
    float s = S * (1.f / 255.f), v = V * (1.f / 255.f), h = g_h_frac[H];
    uint8_t tab[4] = {g_v8[V], sat_round(v * (1.f - s) * 255.f), sat_round(v * (1.f - s * h) * 255.f),
                      sat_round(v * (1.f - s * (1.f - h)) * 255.f)};
    const int *sd = g_sector_data[g_h_sector[H]];
    rgb[0] = tab[sd[2]];
    rgb[1] = tab[sd[1]];
    rgb[2] = tab[sd[0]];
}

void lm_color_hsv2rgb(const uint8_t hsv[3], uint8_t rgb[3]) {
    tables();
    hsv2rgb_px(hsv[0], hsv[1], hsv[2], rgb);
}

enum { HSV_BLOCK = 256 };

LM_CLONES void lm_color_hsv_shift(uint8_t *img, int h, int w, double dh, double ds, double dv) {
    if (dh == 0 && ds == 0 && dv == 0) return; /* albumentations returns the input */
    tables();
    int lh[256], ls[256], lv[256];
    for (int i = 0; i < 256; i++) {
        double x = fmod(i + dh, 180.0);
        if (x < 0) x += 180.0;
        lh[i] = dh != 0 ? (uint8_t)x : (uint8_t)i;
        double y = i + ds, z = i + dv;
        ls[i] = ds != 0 ? (uint8_t)(y < 0 ? 0 : y > 255 ? 255 : y) : (uint8_t)i;
        lv[i] = dv != 0 ? (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z) : (uint8_t)i;
    }
    /* per block: deinterleave; RGB -> shifted HSV (integer, vectorised); HSV -> RGB (float,
     * vectorised: the sector picks each channel among t0..t3); interleave */
    int R[HSV_BLOCK], G[HSV_BLOCK], B[HSV_BLOCK], Hh[HSV_BLOCK], Ss[HSV_BLOCK], Vv[HSV_BLOCK];
    uint8_t ro[HSV_BLOCK], go[HSV_BLOCK], bo[HSV_BLOCK];
    size_t n = (size_t)h * w;
    for (size_t i0 = 0; i0 < n; i0 += HSV_BLOCK) {
        int m = n - i0 < HSV_BLOCK ? (int)(n - i0) : HSV_BLOCK;
        uint8_t *p = img + 3 * i0;
        for (int i = 0; i < m; i++) {
            R[i] = p[3 * i];
            G[i] = p[3 * i + 1];
            B[i] = p[3 * i + 2];
        }
#pragma omp simd
        for (int i = 0; i < m; i++) {
            int H, S, V;
            rgb2hsv_px(R[i], G[i], B[i], &H, &S, &V);
            Hh[i] = lh[H];
            Ss[i] = ls[S];
            Vv[i] = lv[V];
        }
#pragma omp simd
        for (int i = 0; i < m; i++) {
            int H = Hh[i], sec = g_h_sector[H];
            float s = Ss[i] * (1.f / 255.f), v = Vv[i] * (1.f / 255.f), hf = g_h_frac[H];
            int t0 = g_v8[Vv[i]], t1 = sat_round_v(v * (1.f - s) * 255.f), t2 = sat_round_v(v * (1.f - s * hf) * 255.f),
                t3 = sat_round_v(v * (1.f - s * (1.f - hf)) * 255.f);
            /* g_sector_data: (b, g, r) = (t1,t3,t0) (t1,t0,t2) (t3,t0,t1) (t0,t2,t1) (t0,t1,t3) (t2,t1,t0) */
            int r = sec == 0 || sec == 5 ? t0 : sec == 1 ? t2 : sec == 4 ? t3 : t1;
            int g = sec == 0 ? t3 : sec == 1 || sec == 2 ? t0 : sec == 3 ? t2 : t1;
            int b = sec <= 1 ? t1 : sec == 2 ? t3 : sec == 5 ? t2 : t0;
            ro[i] = (uint8_t)r;
            go[i] = (uint8_t)g;
            bo[i] = (uint8_t)b;
        }
        for (int i = 0; i < m; i++) {
            p[3 * i] = ro[i];
            p[3 * i + 1] = go[i];
            p[3 * i + 2] = bo[i];
        }
    }
}

/* ---- CLAHE (OpenCV algorithm) ---------------------------------------------------------- */

static inline int reflect101(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* Per-tile clipped-histogram LUTs (OpenCV CLAHE_CalcLut_Body) into lut (tiles², 256). */
static void clahe_luts(uint8_t *lut, const uint8_t *g, int h, int w, int th, int tw, int tiles, double clip_limit) {
    int total = tw * th, clip = 0;
    if (clip_limit > 0) {
        clip = (int)(clip_limit * total / 256);
        if (clip < 1) clip = 1;
    }
    float scale = 255.f / (float)total;
    for (int ty = 0; ty < tiles; ty++)
        for (int tx = 0; tx < tiles; tx++) {
            int hist[256] = {0}, x0 = tx * tw, x1 = (tx + 1) * tw;
            for (int y = ty * th; y < (ty + 1) * th; y++) {
                const uint8_t *row = g + (size_t)reflect101(y, h) * w;
                int xe = x1 < w ? x1 : w, x = x0;
                for (; x < xe; x++) hist[row[x]]++;
                for (; x < x1; x++) hist[row[reflect101(x, w)]]++;
            }
            if (clip > 0) {
                int clipped = 0;
                for (int i = 0; i < 256; i++)
                    if (hist[i] > clip) {
                        clipped += hist[i] - clip;
                        hist[i] = clip;
                    }
                int batch = clipped / 256, residual = clipped - batch * 256;
                for (int i = 0; i < 256; i++) hist[i] += batch;
                if (residual) {
                    int step = 256 / residual;
                    if (step < 1) step = 1;
                    for (int i = 0; i < 256 && residual > 0; i += step, residual--) hist[i]++;
                }
            }
            uint8_t *l = lut + 256 * (ty * tiles + tx);
            int sum = 0;
            for (int i = 0; i < 256; i++) {
                sum += hist[i];
                l[i] = sat_round((float)sum * scale);
            }
        }
}

/* Bilinear blend of the four neighbouring tiles' LUTs (OpenCV CLAHE_Interpolation_Body),
 * with the column terms (tile offsets, weights) computed once per column. */
/* always_inline: expanded inside each clone of lm_color_clahe */
static inline __attribute__((always_inline)) void clahe_apply(uint8_t *g, int h, int w, int th, int tw, int tiles,
                                                             const uint8_t *lut, int *cx, float *cw) {
    float inv_tw = 1.f / tw, inv_th = 1.f / th;
    int *c1 = cx, *c2 = cx + w;
    float *wa = cw, *wa1 = cw + w;
    for (int x = 0; x < w; x++) {
        float txf = x * inv_tw - 0.5f;
        int tx1 = (int)floorf(txf), tx2 = tx1 + 1;
        wa[x] = txf - tx1;
        wa1[x] = 1.f - wa[x];
        c1[x] = 256 * (tx1 < 0 ? 0 : tx1);
        c2[x] = 256 * (tx2 > tiles - 1 ? tiles - 1 : tx2);
    }
    for (int y = 0; y < h; y++) {
        float tyf = y * inv_th - 0.5f;
        int ty1 = (int)floorf(tyf), ty2 = ty1 + 1;
        float ya = tyf - ty1, ya1 = 1.f - ya;
        ty1 = ty1 < 0 ? 0 : ty1;
        ty2 = ty2 > tiles - 1 ? tiles - 1 : ty2;
        const uint8_t *l1 = lut + 256 * ty1 * tiles, *l2 = lut + 256 * ty2 * tiles;
        uint8_t *row = g + (size_t)y * w;
#pragma omp simd
        for (int x = 0; x < w; x++) {
            int v = row[x];
            float res = ((float)l1[c1[x] + v] * wa1[x] + (float)l1[c2[x] + v] * wa[x]) * ya1 +
                        ((float)l2[c1[x] + v] * wa1[x] + (float)l2[c2[x] + v] * wa[x]) * ya;
            row[x] = sat_round_v(res);
        }
    }
}

/* scratch: tiles² · 256 bytes of LUT + w ints ×2 + w floats ×2 */
static inline int clahe_gray_run(uint8_t *g, int h, int w, double clip_limit, int tiles) {
    int tw = (w + tiles - 1) / tiles, th = (h + tiles - 1) / tiles; /* padded tile size */
    size_t lut_n = 256 * (size_t)tiles * tiles;
    uint8_t *buf = malloc(lut_n + sizeof(int) * 2 * (size_t)w + sizeof(float) * 2 * (size_t)w + 16);
    if (!buf) return lm_err_code(LM_ENOMEM, "clahe: out of memory");
    int *cx = (int *)(buf + ((lut_n + 15) & ~(size_t)15));
    float *cw = (float *)(cx + 2 * (size_t)w);
    clahe_luts(buf, g, h, w, th, tw, tiles, clip_limit);
    clahe_apply(g, h, w, th, tw, tiles, buf, cx, cw);
    free(buf);
    return 0;
}

int lm_color_clahe_gray(uint8_t *g, int h, int w, double clip_limit, int tiles) {
    return clahe_gray_run(g, h, w, clip_limit, tiles);
}

/* sRGB <-> linear and Lab with the D65 white point (OpenCV's constants), in float; the
 * results are those of the per-pixel formulas below, evaluated through tables built once:
 *  - g_lin: decode of each 8-bit value;
 *  - g_cbrt: lab_f on a fine grid with linear interpolation (error < 1e-5, far below one
 *    Lab level); inputs from 8-bit RGB lie in [0, 1.0001], inside the grid;
 *  - Lab -> RGB: X depends only on (L, a), Z on (L, b), Y on L: g_lab_x[L][a], g_lab_z[L][b],
 *    g_lab_y[L] hold them, evaluated with the exact per-pixel expressions;
 *  - encoding: round(encode(c)·255) = the number of thresholds g_enc_thr[k] (the linear
 *    value whose encoding is k + 0.5) below c. Buckets of width 1/ENC_N hold at most one
 *    threshold each (checked when building), so the count is g_enc_base[bucket] plus one
 *    comparison: exact, branch-free. */
#define CBRT_N 8192
#define CBRT_MAX 1.25f
#define ENC_N 16384
static float g_lin[256], g_enc_thr[256], g_cbrt[CBRT_N + 2];
static int g_enc_base[ENC_N];
static float g_enc_t[ENC_N];
static float g_lab_x[256 * 256], g_lab_z[256 * 256], g_lab_y[256];
static const float Xn = 0.950456f, Zn = 1.088754f;
static double srgb_dec(double c) { return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4); }
static inline float lab_finv(float f) { return f > 0.206893f ? f * f * f : (f - 16.f / 116.f) / 7.787f; }

static void lab_tables_init(void) {
    for (int i = 0; i < 256; i++) {
        g_lin[i] = (float)srgb_dec(i / 255.0);
        g_enc_thr[i] = (float)srgb_dec((i + 0.5) / 255.0);
    }
    for (int b = 0, k = 0; b < ENC_N; b++) {
        float lo = (float)b / ENC_N, hi = (float)(b + 1) / ENC_N;
        while (k < 255 && g_enc_thr[k] < lo) k++;
        g_enc_base[b] = k; /* thresholds below the bucket */
        g_enc_t[b] = k < 255 && g_enc_thr[k] < hi ? g_enc_thr[k] : INFINITY;
        /* spacing of the thresholds (>= 3e-4) exceeds the bucket width (6e-5) */
        assert(!(k < 254 && g_enc_thr[k + 1] < hi));
    }
    for (int i = 0; i <= CBRT_N + 1; i++) {
        double t = (double)i * CBRT_MAX / CBRT_N;
        g_cbrt[i] = (float)(t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0);
    }
    for (int L = 0; L < 256; L++) {
        float l = L * (100.f / 255.f);
        float fy = (l + 16.f) / 116.f;
        float Y = l > 7.9996f ? fy * fy * fy : l / 903.3f;
        if (l <= 7.9996f) fy = 7.787f * Y + 16.f / 116.f;
        g_lab_y[L] = Y;
        for (int c = 0; c < 256; c++) {
            float a = c - 128.f, bb = c - 128.f;
            g_lab_x[L * 256 + c] = lab_finv(fy + a / 500.f) * Xn;
            g_lab_z[L * 256 + c] = lab_finv(fy - bb / 200.f) * Zn;
        }
    }
}

static void tables_init(void) {
    hsv_tables_init();
    lab_tables_init();
}

/* lab_f for t in [0, CBRT_MAX): the grid value for t = 0 is 16/116 as the formula's. */
static inline float lab_f(float t) {
    float x = t * (CBRT_N / CBRT_MAX);
    int i = (int)x;
    float a = x - (float)i;
    return g_cbrt[i] + a * (g_cbrt[i + 1] - g_cbrt[i]);
}

static inline uint8_t srgb_enc8(float c) { /* round(encode(c) * 255) = #thresholds < c */
    float cc = c < 0 ? 0 : c > 1.f - 1.f / ENC_N ? 1.f - 1.f / ENC_N : c;
    int b = (int)(cc * ENC_N);
    return (uint8_t)(g_enc_base[b] + (g_enc_t[b] < c));
}

enum { LAB_BLOCK = 256 };

/* RGB (n, 3) -> 8-bit L, a, b planes. */
static inline __attribute__((always_inline)) void rgb_to_lab(const uint8_t *img, size_t n, uint8_t *L, uint8_t *A,
                                                             uint8_t *B) {
    float r[LAB_BLOCK], g[LAB_BLOCK], b[LAB_BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += LAB_BLOCK) {
        int m = n - i0 < LAB_BLOCK ? (int)(n - i0) : LAB_BLOCK;
        const uint8_t *p = img + 3 * i0;
        for (int i = 0; i < m; i++) {
            r[i] = g_lin[p[3 * i]];
            g[i] = g_lin[p[3 * i + 1]];
            b[i] = g_lin[p[3 * i + 2]];
        }
        uint8_t *Lo = L + i0, *Ao = A + i0, *Bo = B + i0;
#pragma omp simd
        for (int i = 0; i < m; i++) {
            float X = (0.412453f * r[i] + 0.357580f * g[i] + 0.180423f * b[i]) / Xn;
            float Y = 0.212671f * r[i] + 0.715160f * g[i] + 0.072169f * b[i];
            float Z = (0.019334f * r[i] + 0.119193f * g[i] + 0.950227f * b[i]) / Zn;
            float fx = lab_f(X), fy = lab_f(Y), fz = lab_f(Z);
            float l = Y > 0.008856f ? 116.f * fy - 16.f : 903.3f * Y;
            Lo[i] = sat_round_v(l * 255.f / 100.f);
            Ao[i] = sat_round_v(500.f * (fx - fy) + 128.f);
            Bo[i] = sat_round_v(200.f * (fy - fz) + 128.f);
        }
    }
}

/* 8-bit L, a, b planes -> RGB (n, 3). Table offsets first, then the (vectorised) arithmetic. */
static inline __attribute__((always_inline)) void lab_to_rgb(uint8_t *img, size_t n, const uint8_t *L,
                                                             const uint8_t *A, const uint8_t *B) {
    int ix[LAB_BLOCK], iz[LAB_BLOCK], iy[LAB_BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += LAB_BLOCK) {
        int m = n - i0 < LAB_BLOCK ? (int)(n - i0) : LAB_BLOCK;
        const uint8_t *Li = L + i0, *Ai = A + i0, *Bi = B + i0;
        for (int i = 0; i < m; i++) {
            iy[i] = Li[i];
            ix[i] = Li[i] * 256 + Ai[i];
            iz[i] = Li[i] * 256 + Bi[i];
        }
        uint8_t ro[LAB_BLOCK], go[LAB_BLOCK], bo[LAB_BLOCK], *o = img + 3 * i0;
#pragma omp simd
        for (int i = 0; i < m; i++) {
            float X = g_lab_x[ix[i]], Y = g_lab_y[iy[i]], Z = g_lab_z[iz[i]];
            float r = 3.240479f * X - 1.53715f * Y - 0.498535f * Z;
            float g = -0.969256f * X + 1.875991f * Y + 0.041556f * Z;
            float b = 0.055648f * X - 0.204043f * Y + 1.057311f * Z;
            ro[i] = srgb_enc8(r);
            go[i] = srgb_enc8(g);
            bo[i] = srgb_enc8(b);
        }
        for (int i = 0; i < m; i++) {
            o[3 * i] = ro[i];
            o[3 * i + 1] = go[i];
            o[3 * i + 2] = bo[i];
        }
    }
}

LM_CLONES int lm_color_clahe(uint8_t *img, int h, int w, double clip_limit, int tiles) {
    tables();
    size_t n = (size_t)h * w;
    uint8_t *lab = malloc(3 * n);
    if (!lab) return lm_err_code(LM_ENOMEM, "clahe: out of memory");
    uint8_t *L = lab, *A = lab + n, *B = lab + 2 * n;
    rgb_to_lab(img, n, L, A, B);
    int rc = clahe_gray_run(L, h, w, clip_limit, tiles);
    if (rc == 0) lab_to_rgb(img, n, L, A, B);
    free(lab);
    return rc;
}
