/* masked.h — per-pixel reconstruction losses with separate weights for the known and the
 * missing region (official saicinpainting/training/losses/feature_matching.py masked_l1_loss,
 * masked_l2_loss):  mean(w · |pred − target|^p), w = mask·weight_missing + (1−mask)·weight_known,
 * the mean taken over every element of (N, C, H, W). */
#ifndef LM_LOSSES_MASKED_H
#define LM_LOSSES_MASKED_H

#include "shim/lt.h"

typedef struct lm_masked_loss_opts {
    double weight_known;   /* losses.l1.weight_known (10 in the official configs) */
    double weight_missing; /* losses.l1.weight_missing (0) */
} lm_masked_loss_opts;

/* pred, target (N, C, H, W); mask (N, 1, H, W) in {0, 1} (1 = missing) -> 0-dim, or NULL
 * (lt_error() says why). */
lt_tensor *lm_masked_l1_loss(lt_tensor *pred, lt_tensor *target, lt_tensor *mask,
                             const lm_masked_loss_opts *o);
lt_tensor *lm_masked_l2_loss(lt_tensor *pred, lt_tensor *target, lt_tensor *mask,
                             const lm_masked_loss_opts *o);

#endif
