/* metrics.c — SSIM (official saicinpainting/evaluation/losses/ssim.py), PSNR, L1. */
#include "eval/metrics.h"

#include <math.h>

#define SSIM_K 11

lt_tensor *lm_ssim_window(int channels, lt_device dev) {
    /* official: gauss = torch.Tensor([exp(-(x - 5)^2 / (2 * 1.5^2))]) (double -> float32),
     * gauss / gauss.sum() in float32, window = g g^T (float32 mm), expanded per channel. */
    float g[SSIM_K], w[SSIM_K * SSIM_K], s = 0.0f;
    for (int i = 0; i < SSIM_K; i++) {
        double d = (double)(i - SSIM_K / 2);
        g[i] = (float)exp(-d * d / (2.0 * 1.5 * 1.5));
    }
    for (int i = 0; i < SSIM_K; i++) s += g[i];
    for (int i = 0; i < SSIM_K; i++) g[i] /= s;
    for (int i = 0; i < SSIM_K; i++)
        for (int j = 0; j < SSIM_K; j++) w[i * SSIM_K + j] = g[i] * g[j];
    int64_t shp[4] = {1, 1, SSIM_K, SSIM_K}, rep[4] = {channels, 1, 1, 1};
    lt_tensor *t = lt_from_buffer(w, shp, 4, LT_F32); // (1, 1, 11, 11)
    if (dev != LT_CPU) t = lt_to_device(t, dev);
    return lt_contiguous(lt_repeat(t, rep, 4)); // (C, 1, 11, 11)
}

static lt_tensor *blur(lt_tensor *x, lt_tensor *win, int c) {
    return lt_conv2d(x, win, NULL, 1, SSIM_K / 2, 1, c);
}

lt_tensor *lm_ssim(lt_tensor *a, lt_tensor *b) {
    if (!a || !b) return NULL;
    if (lt_dim(a) != 4 || !lt_same_shape(a, b)) {
        lt_set_error("ssim: expected two (N, C, H, W) tensors of the same shape");
        return NULL;
    }
    int c = (int)lt_size(a, 1);
    lt_tensor *win = lm_ssim_window(c, lt_device_of(a));
    if (win && lt_type(a) != LT_F32) win = lt_to_dtype(win, lt_type(a));
    lt_tensor *mu1 = blur(a, win, c), *mu2 = blur(b, win, c); // (N, C, H, W)
    lt_tensor *mu1_sq = lt_mul(mu1, mu1), *mu2_sq = lt_mul(mu2, mu2), *mu12 = lt_mul(mu1, mu2);
    lt_tensor *s1 = lt_sub(blur(lt_mul(a, a), win, c), mu1_sq);
    lt_tensor *s2 = lt_sub(blur(lt_mul(b, b), win, c), mu2_sq);
    lt_tensor *s12 = lt_sub(blur(lt_mul(a, b), win, c), mu12);
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    lt_tensor *num = lt_mul(lt_add_scalar(lt_mul_scalar(mu12, 2.0), C1),
                            lt_add_scalar(lt_mul_scalar(s12, 2.0), C2));
    lt_tensor *den = lt_mul(lt_add_scalar(lt_add(mu1_sq, mu2_sq), C1),
                            lt_add_scalar(lt_add(s1, s2), C2));
    lt_tensor *map = lt_div(num, den); // (N, C, H, W)
    /* official: ssim_map.mean(1).mean(1).mean(1) */
    int64_t d1[1] = {1};
    return lt_mean_dims(lt_mean_dims(lt_mean_dims(map, d1, 1, 0), d1, 1, 0), d1, 1, 0); // (N)
}

lt_tensor *lm_psnr(lt_tensor *a, lt_tensor *b) {
    if (!a || !b) return NULL;
    if (lt_dim(a) != 4 || !lt_same_shape(a, b)) {
        lt_set_error("psnr: expected two (N, C, H, W) tensors of the same shape");
        return NULL;
    }
    int64_t dims[3] = {1, 2, 3};
    lt_tensor *d = lt_sub(lt_to_dtype(a, LT_F64), lt_to_dtype(b, LT_F64));
    lt_tensor *mse = lt_mean_dims(lt_mul(d, d), dims, 3, 0); // (N) double
    /* 10 log10(1 / mse) = -10 / ln 10 * ln(mse); mse 0 -> LM_PSNR_MAX */
    lt_tensor *p = lt_mul_scalar(lt_log(lt_clamp(mse, 1e-300, 1e300)), -10.0 / log(10.0));
    lt_tensor *cap = lt_full((int64_t[]){1}, 1, LM_PSNR_MAX, LT_F64, lt_device_of(a));
    p = lt_where(lt_gt_scalar(mse, 0.0), lt_clamp(p, -1e300, LM_PSNR_MAX), cap);
    return lt_to_dtype(p, LT_F32);
}

lt_tensor *lm_l1(lt_tensor *a, lt_tensor *b) {
    if (!a || !b) return NULL;
    if (lt_dim(a) != 4 || !lt_same_shape(a, b)) {
        lt_set_error("l1: expected two (N, C, H, W) tensors of the same shape");
        return NULL;
    }
    int64_t dims[3] = {1, 2, 3};
    return lt_mean_dims(lt_abs(lt_sub(a, b)), dims, 3, 0); // (N)
}
