/* metrics.h — per-image pairwise metrics of the official evaluator
 * (saicinpainting/evaluation/losses/ssim.py SSIM with size_average=False, as SSIMScore
 * uses it), plus PSNR and L1, which the official table does not have:
 *   SSIM: 11x11 Gaussian window (sigma 1.5, built in float32 as the official _create_window),
 *         depthwise conv per channel with zero padding 5, C1 = 0.01^2, C2 = 0.03^2, the map
 *         averaged over channels and pixels; images in [0, 1];
 *   PSNR: 10 log10(1 / MSE) over channels and pixels, data range 1; an exact match (MSE 0)
 *         gives LM_PSNR_MAX rather than infinity (reports stay valid JSON);
 *   L1:   mean |a - b| over channels and pixels.
 * Inputs (N, C, H, W) float in [0, 1]; results (N) float32 tensors in the current scope. */
#ifndef LM_METRICS_H
#define LM_METRICS_H

#include "shim/lt.h"

#define LM_PSNR_MAX 100.0

/* The official window: (C, 1, 11, 11) float32 on dev. */
lt_tensor *lm_ssim_window(int channels, lt_device dev);
lt_tensor *lm_ssim(lt_tensor *a, lt_tensor *b);  // (N,C,H,W) x2 -> (N)
lt_tensor *lm_psnr(lt_tensor *a, lt_tensor *b);  // (N,C,H,W) x2 -> (N)
lt_tensor *lm_l1(lt_tensor *a, lt_tensor *b);    // (N,C,H,W) x2 -> (N)

#endif
