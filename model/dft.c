/* dft.c — DFT matrices for the FFT-free export (see dft.h). */
#include "model/dft.h"

#include <math.h>

double lm_dft_scale(int64_t n, lt_fft_norm norm, int inverse) {
    if (norm == LT_FFT_ORTHO) return 1.0 / sqrt((double)n);
    if (norm == LT_FFT_BACKWARD) return inverse ? 1.0 / (double)n : 1.0;
    return inverse ? 1.0 : 1.0 / (double)n; /* LT_FFT_FORWARD */
}

/* cos and sin of 2*pi*r/n for 0 <= r < n, exact at the quarter turns. */
static void cs(int64_t r, int64_t n, double *c, double *s) {
    if (r == 0) { *c = 1; *s = 0; return; }
    if (2 * r == n) { *c = -1; *s = 0; return; }
    if (4 * r == n) { *c = 0; *s = 1; return; }
    if (4 * r == 3 * n) { *c = 0; *s = -1; return; }
    double t = 2.0 * M_PI * (double)r / (double)n;
    *c = cos(t);
    *s = sin(t);
}

void lm_dft_r2c(int64_t n, lt_fft_norm norm, double *re, double *im) {
    int64_t nf = n / 2 + 1;
    double f = lm_dft_scale(n, norm, 0);
    for (int64_t j = 0; j < n; j++)
        for (int64_t k = 0; k < nf; k++) {
            double c, s;
            cs(j * k % n, n, &c, &s);
            re[j * nf + k] = f * c;
            im[j * nf + k] = -f * s; /* e^{-i theta} */
        }
}

void lm_dft_c2c(int64_t n, lt_fft_norm norm, int inverse, double *m) {
    double f = lm_dft_scale(n, norm, inverse), sg = inverse ? 1.0 : -1.0; /* e^{sg i theta} */
    int64_t w = 2 * n;
    for (int64_t j = 0; j < n; j++)
        for (int64_t k = 0; k < n; k++) {
            double c, s;
            cs(j * k % n, n, &c, &s);
            /* (a + ib)(c + i sg s) = (a c - sg b s) + i (sg a s + b c) */
            m[j * w + k] = f * c;                /* Yr <- Xr */
            m[j * w + n + k] = -sg * f * s;      /* Yr <- Xi */
            m[(n + j) * w + k] = sg * f * s;     /* Yi <- Xr */
            m[(n + j) * w + n + k] = f * c;      /* Yi <- Xi */
        }
}

void lm_dft_c2r(int64_t n, lt_fft_norm norm, double *cr, double *ci) {
    int64_t nf = n / 2 + 1;
    double f = lm_dft_scale(n, norm, 1);
    for (int64_t k = 0; k < nf; k++) {
        int edge = k == 0 || (n % 2 == 0 && 2 * k == n); /* bins without a conjugate partner */
        double wk = edge ? 1.0 : 2.0;
        for (int64_t j = 0; j < n; j++) {
            double c, s;
            cs(k * j % n, n, &c, &s);
            cr[k * n + j] = f * wk * c;
            ci[k * n + j] = edge ? 0.0 : -f * wk * s; /* Re((a + ib) e^{i theta}) = a c - b s */
        }
    }
}
