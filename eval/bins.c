/* bins.c — mask-area groups and statistics of the official evaluators (evaluator.py). */
#include "eval/bins.h"

#include <math.h>
#include <stdio.h>

float lm_mask_area_u8(const uint8_t *m, size_t n) {
    /* torch: (mask.float() / 255).mean(). For 0/255 masks the float32 sum is exact and the
     * mean is round_f32(count / n); an integer sum then one rounding reproduces it. For grey
     * values torch's float32 summation may differ from this in the last bit. */
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += m[i];
    if (s % 255 == 0) return (float)((double)(s / 255) / (double)n);
    return (float)((double)s / 255.0 / (double)n);
}

double lm_bin_edge(int i, int bins) {
    if (i >= bins) return 1.0;         /* numpy sets the endpoint exactly */
    return (double)i * (1.0 / bins);   /* arange(num) * step + start */
}

int lm_area_bin(float area, int bins, lm_bin_rule rule) {
    double a = (double)area;
    int k = 0; /* number of edges e with e <= a (right) or e < a (left) */
    for (int i = 0; i <= bins; i++) {
        double e = lm_bin_edge(i, bins);
        if (rule == LM_BINS_OFFLINE ? e <= a : e < a) k++;
    }
    int b = k - 1;
    if (rule == LM_BINS_OFFLINE) {
        if (b == bins) b = bins - 1;
        if (b < 0) b = 0; /* not reachable for areas in [0, 1] */
    } else {
        if (b < 0) b = 0;
        if (b > bins - 1) b = bins - 1;
    }
    return b;
}

char *lm_bin_name(char *buf, size_t cap, int bin, int bins) {
    /* num_digits = max(0, ceil(log10(bins)) - 1); '{:.{n}f}' of round(100 * edge, n) */
    int nd = (int)ceil(log10((double)bins)) - 1;
    if (nd < 0) nd = 0;
    snprintf(buf, cap, "%.*f-%.*f%%", nd, 100.0 * lm_bin_edge(bin, bins), nd,
             100.0 * lm_bin_edge(bin + 1, bins));
    return buf;
}

lm_stat lm_group_stat(const double *v, const int *g, int n, int group) {
    lm_stat s = {NAN, NAN, 0};
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        if (group < 0 || g[i] == group) {
            sum += v[i];
            s.n++;
        }
    if (!s.n) return s;
    s.mean = sum / s.n;
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        if (group < 0 || g[i] == group) ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.std = sqrt(ss / s.n);
    return s;
}

static double f1(double s, double fid) {
    double r = (100.0 - fid > 0.0 ? 100.0 - fid : 0.0) / 100.0;
    return 2.0 * s * r / (s + r + 1e-3);
}
double lm_ssim_fid100_f1(double ssim, double fid) { return f1(ssim, fid); }
double lm_lpips_fid100_f1(double lpips, double fid) { return f1(1.0 - lpips, fid); }
