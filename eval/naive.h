/* naive.h — naive inpainting baselines for reports and the demo (no official counterpart;
 * the paper's tables compare against learned methods): 
 *   mean:  every hole pixel gets the mean colour of the known pixels;
 *   blur:  diffusion fill — hole pixels start at the mean colour and are replaced, 300 times,
 *          by the average of their 4 neighbours (known pixels fixed): a smooth membrane that
 *          matches the colours at the hole's border (what a blur-based fill converges to).
 * HWC uint8 in and out; the mask is nonzero in the hole. */
#ifndef LM_NAIVE_H
#define LM_NAIVE_H

#include <stdint.h>

typedef enum lm_naive_kind { LM_NAIVE_MEAN = 0, LM_NAIVE_BLUR = 1 } lm_naive_kind;

/* out (h, w, 3) = img with the holes filled. 0, or LM_ENOMEM / LM_EINVAL. */
int lm_naive_fill(uint8_t *out, const uint8_t *img, const uint8_t *mask, int w, int h, lm_naive_kind kind);

#endif
