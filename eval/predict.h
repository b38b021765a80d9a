/* predict.h — inpainting one image with a generator, with the official prediction semantics
 * (bin/predict.py + saicinpainting/evaluation/data.py InpaintingDataset + the trainer's
 * forward, DESIGN §5 "Prediction"):
 *   image = RGB / 255 (float32), mask = gray / 255 > 0;
 *   both padded bottom/right to a multiple of pad_multiple in numpy's 'symmetric' mode
 *   (mirror including the edge pixel; NOT PyTorch's reflect);
 *   pred = G(cat(image * (1 - mask), mask)) in eval mode, no grad;
 *   inpainted = mask * pred + (1 - mask) * image, cropped back;
 *   written as uint8(clip(x * 255, 0, 255)) (truncation, not rounding).
 * Works on plain HWC uint8 buffers; no file I/O here (cli/cmd_predict.c does that). */
#ifndef LM_PREDICT_H
#define LM_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "model/generator.h"

typedef struct lm_predict_opts {
    int pad_multiple;  /* 8 (official pad_out_to_modulo); 1 = no padding */
    lt_device device;  /* where the forward runs */
    lt_dtype precision; /* LT_F32 (official); LT_F64: the forward in float64 (a predictor opened
                         * with LT_F64 weights); LT_BF16: under autocast, FFTs in float32 */
} lm_predict_opts;

lm_predict_opts lm_predict_defaults(void); /* pad 8, CPU */

/* numpy.pad(src, ((0, H - h), (0, W - w), (0, 0)), mode='symmetric') for an (h, w, c) float
 * buffer into dst (H, W, c); H >= h, W >= w (any amount: the mirror repeats with period 2h). */
void lm_pad_symmetric_hwc(float *dst, const float *src, int h, int w, int c, int H, int W);

/* Smallest multiple of m that is >= x (official ceil_modulo). */
int lm_ceil_modulo(int x, int m);

/* out (h, w, 3) uint8 = inpainting of img (h, w, 3) RGB uint8 under mask (h, w) uint8
 * (nonzero = hole). g must expect 4 input channels (3 + mask). */
int lm_predict_image(uint8_t *out, lm_generator *g, const uint8_t *img, const uint8_t *mask,
                     int w, int h, const lm_predict_opts *o);
/* The same before the 8-bit conversion: out (h, w, 3) float32, the composited inpainting in
 * 0-1 (what the exported TorchScript / ONNX files are compared with). */
/* uint8(clip(x * 255, 0, 255)) of n floats (truncation; NaN -> 0, as numpy's cast). */
void lm_predict_to_u8(uint8_t *out, const float *f, size_t n);
int lm_predict_image_float(float *out, lm_generator *g, const uint8_t *img, const uint8_t *mask,
                           int w, int h, const lm_predict_opts *o);

#endif
