/* stats.c — exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012, the
 * algorithm behind OpenCV's DIST_MASK_PRECISE) and the mask statistics built on it. */
#include "masks/stats.h"

#include <math.h>
#include <stdlib.h>

#include "core/err.h"

/* 1-D squared distance transform of f (n samples) into d; v, z scratch. */
static void edt1(double *d, const double *f, int n, int *v, double *z) {
    int k = 0;
    v[0] = 0, z[0] = -INFINITY, z[1] = INFINITY;
    for (int q = 1; q < n; q++) {
        if (f[q] == INFINITY) continue;
        if (f[v[0]] == INFINITY) { /* first finite sample replaces an infinite root */
            v[0] = q;
            continue;
        }
        double s;
        for (;;) {
            int p = v[k];
            s = ((f[q] + (double)q * q) - (f[p] + (double)p * p)) / (2.0 * (q - p));
            if (s <= z[k] && k > 0) k--;
            else break;
        }
        if (s <= z[k]) { /* k == 0: q dominates p everywhere */
            v[0] = q;
            continue;
        }
        k++;
        v[k] = q, z[k] = s, z[k + 1] = INFINITY;
    }
    if (f[v[0]] == INFINITY) {
        for (int q = 0; q < n; q++) d[q] = INFINITY;
        return;
    }
    k = 0;
    for (int q = 0; q < n; q++) {
        while (z[k + 1] < q) k++;
        double t = q - v[k];
        d[q] = t * t + f[v[k]];
    }
}

int lm_mask_edt2(double *d2, const uint8_t *m, int h, int w) {
    int n = h > w ? h : w;
    double *f = malloc(sizeof(double) * (2 * n + n + 2)), *d = f + n, *z = d + n;
    int *v = malloc(sizeof(int) * (n + 1));
    if (!f || !v) {
        free(f), free(v);
        return lm_err_code(LM_ENOMEM, "edt: out of memory");
    }
    for (int x = 0; x < w; x++) { /* columns */
        for (int y = 0; y < h; y++) f[y] = m[(size_t)y * w + x] ? INFINITY : 0;
        edt1(d, f, h, v, z);
        for (int y = 0; y < h; y++) d2[(size_t)y * w + x] = d[y];
    }
    for (int y = 0; y < h; y++) { /* rows */
        double *row = d2 + (size_t)y * w;
        for (int x = 0; x < w; x++) f[x] = row[x];
        edt1(row, f, w, v, z);
    }
    free(f), free(v);
    return 0;
}

double lm_mask_area(const uint8_t *m, int h, int w) {
    size_t n = (size_t)h * w, s = 0;
    for (size_t i = 0; i < n; i++) s += m[i] != 0;
    return (double)s / (double)n;
}

int lm_mask_width(double *width, const uint8_t *m, int h, int w) {
    size_t n = (size_t)h * w, holes = 0;
    for (size_t i = 0; i < n; i++) holes += m[i] != 0;
    if (holes == 0 || holes == n) return 1;
    double *d2 = malloc(sizeof(double) * n);
    if (!d2) return lm_err_code(LM_ENOMEM, "mask width: out of memory");
    int rc = lm_mask_edt2(d2, m, h, w);
    if (rc == 0) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            if (m[i]) s += sqrt(d2[i]);
        *width = s / (double)holes;
    }
    free(d2);
    return rc;
}
