/* color.c — CLAHE, brightness/contrast and HSV shifts on RGB uint8 (see color.h).
 * Mirrors albumentations 0.5 (A.CLAHE, A.RandomBrightnessContrast, A.HueSaturationValue)
 * over OpenCV's uint8 conversions, as used by the official get_transforms(). */
#include "data/color.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static inline uint8_t sat_round(float x) { /* OpenCV saturate_cast<uchar>: round, clamp */
    if (x <= 0) return 0;
    if (x >= 255) return 255;
    float r = x + 12582912.f;        /* 1.5 * 2^23: rounds to an integer, half to even, */
    return (uint8_t)(int)(r - 12582912.f); /* like cvRound, without a libm call */
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

enum { HSV_SHIFT = 12 };
static int g_sdiv[256], g_hdiv[256], g_tabs_ready;

static void hsv_tables(void) {
    if (g_tabs_ready) return; /* benign race: every thread writes the same values */
    g_sdiv[0] = g_hdiv[0] = 0;
    for (int i = 1; i < 256; i++) {
        g_sdiv[i] = (int)lrint((255 << HSV_SHIFT) / (1. * i));
        g_hdiv[i] = (int)lrint((180 << HSV_SHIFT) / (6. * i));
    }
    g_tabs_ready = 1;
}

void lm_color_rgb2hsv(const uint8_t rgb[3], uint8_t hsv[3]) {
    hsv_tables();
    int r = rgb[0], g = rgb[1], b = rgb[2];
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
    hsv[0] = (uint8_t)hh;
    hsv[1] = (uint8_t)s;
    hsv[2] = (uint8_t)v;
}

void lm_color_hsv2rgb(const uint8_t hsv[3], uint8_t rgb[3]) {
    static const int sector_data[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};
    float h = hsv[0] * (6.f / 180.f), s = hsv[1] * (1.f / 255.f), v = hsv[2] * (1.f / 255.f);
    float r, g, b;
    if (s == 0) {
        r = g = b = v;
    } else {
        int sector = (int)floorf(h);
        h -= (float)sector;
        if ((unsigned)sector >= 6u) {
            sector = sector < 0 ? sector + 6 : sector - 6;
            if ((unsigned)sector >= 6u) sector = 0;
        }
        float tab[4] = {v, v * (1.f - s), v * (1.f - s * h), v * (1.f - s * (1.f - h))};
        b = tab[sector_data[sector][0]];
        g = tab[sector_data[sector][1]];
        r = tab[sector_data[sector][2]];
    }
    rgb[0] = sat_round(r * 255.f);
    rgb[1] = sat_round(g * 255.f);
    rgb[2] = sat_round(b * 255.f);
}

void lm_color_hsv_shift(uint8_t *img, int h, int w, double dh, double ds, double dv) {
    if (dh == 0 && ds == 0 && dv == 0) return; /* albumentations returns the input */
    uint8_t lh[256], ls[256], lv[256];
    for (int i = 0; i < 256; i++) {
        double x = fmod(i + dh, 180.0);
        if (x < 0) x += 180.0;
        lh[i] = dh != 0 ? (uint8_t)x : (uint8_t)i;
        double y = i + ds, z = i + dv;
        ls[i] = ds != 0 ? (uint8_t)(y < 0 ? 0 : y > 255 ? 255 : y) : (uint8_t)i;
        lv[i] = dv != 0 ? (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z) : (uint8_t)i;
    }
    size_t n = (size_t)h * w;
    for (size_t i = 0; i < n; i++) {
        uint8_t hsv[3];
        lm_color_rgb2hsv(img + 3 * i, hsv);
        hsv[0] = lh[hsv[0]];
        hsv[1] = ls[hsv[1]];
        hsv[2] = lv[hsv[2]];
        lm_color_hsv2rgb(hsv, img + 3 * i);
    }
}

/* ---- CLAHE (OpenCV algorithm) ---------------------------------------------------------- */

static inline int reflect101(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

int lm_color_clahe_gray(uint8_t *g, int h, int w, double clip_limit, int tiles) {
    int tw = (w + tiles - 1) / tiles, th = (h + tiles - 1) / tiles; /* padded tile size */
    int *lut = malloc(sizeof(int) * 256 * (size_t)tiles * tiles);
    if (!lut) return lm_err_code(LM_ENOMEM, "clahe: out of memory");
    int total = tw * th;
    int clip = 0;
    if (clip_limit > 0) {
        clip = (int)(clip_limit * total / 256);
        if (clip < 1) clip = 1;
    }
    float scale = 255.f / (float)total;
    for (int ty = 0; ty < tiles; ty++)
        for (int tx = 0; tx < tiles; tx++) {
            int hist[256] = {0};
            for (int y = ty * th; y < (ty + 1) * th; y++) {
                const uint8_t *row = g + (size_t)reflect101(y, h) * w;
                for (int x = tx * tw; x < (tx + 1) * tw; x++) hist[row[x < w ? x : reflect101(x, w)]]++;
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
            int *l = lut + 256 * (ty * tiles + tx), sum = 0;
            for (int i = 0; i < 256; i++) {
                sum += hist[i];
                l[i] = sat_round((float)sum * scale);
            }
        }
    float inv_tw = 1.f / tw, inv_th = 1.f / th;
    for (int y = 0; y < h; y++) {
        float tyf = y * inv_th - 0.5f;
        int ty1 = (int)floorf(tyf), ty2 = ty1 + 1;
        float ya = tyf - ty1, ya1 = 1.f - ya;
        ty1 = ty1 < 0 ? 0 : ty1;
        ty2 = ty2 > tiles - 1 ? tiles - 1 : ty2;
        uint8_t *row = g + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float txf = x * inv_tw - 0.5f;
            int tx1 = (int)floorf(txf), tx2 = tx1 + 1;
            float xa = txf - tx1, xa1 = 1.f - xa;
            tx1 = tx1 < 0 ? 0 : tx1;
            tx2 = tx2 > tiles - 1 ? tiles - 1 : tx2;
            int v = row[x];
            float res = (lut[256 * (ty1 * tiles + tx1) + v] * xa1 + lut[256 * (ty1 * tiles + tx2) + v] * xa) * ya1 +
                        (lut[256 * (ty2 * tiles + tx1) + v] * xa1 + lut[256 * (ty2 * tiles + tx2) + v] * xa) * ya;
            row[x] = sat_round(res);
        }
    }
    free(lut);
    return 0;
}

/* sRGB <-> linear via tables; Lab with the D65 white point (OpenCV's constants).
 * g_lin: decode of each 8-bit value; g_enc_thr[k]: the linear value whose encoding is
 * k + 0.5 (so encode + round = count of thresholds below, exact); g_cbrt: lab_f on a fine
 * grid with linear interpolation (error < 1e-5, far below one Lab level). */
#define CBRT_N 8192
#define CBRT_MAX 1.25f
#define ENC_N 16384
static float g_lin[256], g_enc_thr[256], g_cbrt[CBRT_N + 2];
static uint8_t g_enc_bucket[ENC_N + 1];
static int g_lin_ready;
static double srgb_dec(double c) { return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4); }
static void lin_table(void) {
    if (g_lin_ready) return; /* benign race: every thread writes the same values */
    for (int i = 0; i < 256; i++) {
        g_lin[i] = (float)srgb_dec(i / 255.0);
        g_enc_thr[i] = (float)srgb_dec((i + 0.5) / 255.0);
    }
    for (int b = 0, k = 0; b <= ENC_N; b++) {
        while (k < 255 && g_enc_thr[k] < (float)b / ENC_N) k++;
        g_enc_bucket[b] = (uint8_t)(k > 0 ? k - 1 : 0); /* conservative: the loop fixes up */
    }
    for (int i = 0; i <= CBRT_N + 1; i++) {
        double t = (double)i * CBRT_MAX / CBRT_N;
        g_cbrt[i] = (float)(t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0);
    }
    g_lin_ready = 1;
}
static inline float lab_f(float t) {
    if (t <= 0) return 16.f / 116.f + 7.787f * t;
    float x = t * (CBRT_N / CBRT_MAX);
    if (x >= CBRT_N) return cbrtf(t);
    int i = (int)x;
    float a = x - (float)i;
    return g_cbrt[i] + a * (g_cbrt[i + 1] - g_cbrt[i]);
}
static inline float lab_finv(float f) { return f > 0.206893f ? f * f * f : (f - 16.f / 116.f) / 7.787f; }
static inline uint8_t srgb_enc8(float c) { /* round(encode(c) * 255) = #thresholds < c */
    if (c <= g_enc_thr[0]) return 0;
    if (c > g_enc_thr[254]) return 255;
    int k = g_enc_bucket[(int)(c * ENC_N)]; /* thresholds <= bucket start; <= 1 more inside */
    while (k < 255 && g_enc_thr[k] < c) k++;
    return (uint8_t)k;
}

int lm_color_clahe(uint8_t *img, int h, int w, double clip_limit, int tiles) {
    static const float Xn = 0.950456f, Zn = 1.088754f;
    lin_table();
    size_t n = (size_t)h * w;
    uint8_t *lab = malloc(3 * n);
    if (!lab) return lm_err_code(LM_ENOMEM, "clahe: out of memory");
    uint8_t *L = lab, *A = lab + n, *B = lab + 2 * n;
    for (size_t i = 0; i < n; i++) {
        float r = g_lin[img[3 * i]], g = g_lin[img[3 * i + 1]], b = g_lin[img[3 * i + 2]];
        float X = (0.412453f * r + 0.357580f * g + 0.180423f * b) / Xn;
        float Y = 0.212671f * r + 0.715160f * g + 0.072169f * b;
        float Z = (0.019334f * r + 0.119193f * g + 0.950227f * b) / Zn;
        float fx = lab_f(X), fy = lab_f(Y), fz = lab_f(Z);
        float l = Y > 0.008856f ? 116.f * fy - 16.f : 903.3f * Y;
        L[i] = sat_round(l * 255.f / 100.f);
        A[i] = sat_round(500.f * (fx - fy) + 128.f);
        B[i] = sat_round(200.f * (fy - fz) + 128.f);
    }
    int rc = lm_color_clahe_gray(L, h, w, clip_limit, tiles);
    if (rc < 0) {
        free(lab);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        float l = L[i] * (100.f / 255.f), a = A[i] - 128.f, bb = B[i] - 128.f;
        float fy = (l + 16.f) / 116.f;
        float Y = l > 7.9996f ? fy * fy * fy : l / 903.3f;
        if (l <= 7.9996f) fy = 7.787f * Y + 16.f / 116.f;
        float X = lab_finv(fy + a / 500.f) * Xn, Z = lab_finv(fy - bb / 200.f) * Zn;
        float r = 3.240479f * X - 1.53715f * Y - 0.498535f * Z;
        float g = -0.969256f * X + 1.875991f * Y + 0.041556f * Z;
        float b = 0.055648f * X - 0.204043f * Y + 1.057311f * Z;
        img[3 * i] = srgb_enc8(r);
        img[3 * i + 1] = srgb_enc8(g);
        img[3 * i + 2] = srgb_enc8(b);
    }
    free(lab);
    return 0;
}
