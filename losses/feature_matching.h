/* feature_matching.h — the discriminator feature-matching loss (official
 * saicinpainting/training/losses/feature_matching.py feature_matching_loss):
 *   plain:  mean over layers of MSE(fake_i, real_i)
 *   masked: mean over layers of mean((fake_i − real_i)² · (1 − m_i)), m_i the mask resized to
 *           layer i bilinearly (align_corners=False) — losses.feature_matching.pass_mask.
 * The trainer multiplies the result by losses.feature_matching.weight (100). */
#ifndef LM_LOSSES_FEATURE_MATCHING_H
#define LM_LOSSES_FEATURE_MATCHING_H

#include "shim/lt.h"

typedef struct lm_fm_opts {
    double weight;  /* losses.feature_matching.weight (100); 0 = not computed */
    int pass_mask;  /* losses.feature_matching.pass_mask (official default false) */
} lm_fm_opts;

/* fake[i], real[i] (N, C_i, h_i, w_i), n >= 1 pairs; mask (N, 1, H, W) or NULL (plain).
 * Returns the unweighted 0-dim loss, or NULL (lt_error()). */
lt_tensor *lm_feature_matching_loss(lt_tensor *const *fake, lt_tensor *const *real, int n,
                                    lt_tensor *mask);

#endif
