/* color.h — the photometric augmentations of the official training pipeline
 * (albumentations 0.5 as used by saicinpainting/training/data/datasets.py get_transforms):
 * CLAHE, RandomBrightnessContrast, HueSaturationValue, on interleaved RGB uint8 (h, w, 3),
 * in place. Each follows the OpenCV/albumentations uint8 arithmetic (LUTs, truncation
 * where numpy's astype truncates, rounding where OpenCV's saturate_cast rounds). */
#ifndef LM_COLOR_H
#define LM_COLOR_H

#include <stdint.h>

/* A.RandomBrightnessContrast, brightness_by_max=True: lut[i] = clip(i·alpha + beta·255, 0, 255)
 * computed in float32 and truncated to uint8 (numpy astype), applied to every channel. */
void lm_color_brightness_contrast(uint8_t *img, int h, int w, double alpha, double beta);

/* A.HueSaturationValue on uint8: RGB -> 8-bit HSV (OpenCV, H in [0, 180)), then
 * H' = (H + dh) mod 180, S' = clip(S + ds), V' = clip(V + dv) (float then truncated, as the
 * albumentations LUTs), back to RGB (OpenCV HSV2RGB, rounded). A zero shift leaves that
 * channel's LUT out, like the official code. */
void lm_color_hsv_shift(uint8_t *img, int h, int w, double dh, double ds, double dv);

/* A.CLAHE on RGB: RGB -> 8-bit Lab, OpenCV's CLAHE (clip_limit, tiles x tiles) on L,
 * Lab -> RGB. Approximation: the Lab conversion uses float sRGB/D65 formulas instead of
 * OpenCV's fixed-point tables (differences of ~1 grey level). CLAHE itself follows OpenCV
 * (histogram clipping with residual redistribution, bilinear LUT interpolation; images not
 * divisible by tiles are padded with reflect-101 for the histograms). Returns <0 on OOM. */
int lm_color_clahe(uint8_t *img, int h, int w, double clip_limit, int tiles);
/* CLAHE on one 8-bit channel (h, w), in place; exposed for tests. */
int lm_color_clahe_gray(uint8_t *g, int h, int w, double clip_limit, int tiles);

/* OpenCV 8-bit RGB<->HSV for one pixel (exposed for tests). */
void lm_color_rgb2hsv(const uint8_t rgb[3], uint8_t hsv[3]);
void lm_color_hsv2rgb(const uint8_t hsv[3], uint8_t rgb[3]);

#endif
