/* masked.c — masked L1 / L2 (see masked.h; official feature_matching.py). */
#include "losses/masked.h"

/* mask * weight_missing + (1 - mask) * weight_known  // (N, 1, H, W) */
static lt_tensor *pixel_weights(lt_tensor *mask, const lm_masked_loss_opts *o) {
    return lt_add(lt_mul_scalar(mask, o->weight_missing),
                  lt_mul_scalar(lt_rsub_scalar(mask, 1.0), o->weight_known));
}

lt_tensor *lm_masked_l1_loss(lt_tensor *pred, lt_tensor *target, lt_tensor *mask,
                             const lm_masked_loss_opts *o) {
    lt_tensor *per_pixel = lt_abs(lt_sub(pred, target)); // (N, C, H, W)
    return lt_mean(lt_mul(pixel_weights(mask, o), per_pixel));
}

lt_tensor *lm_masked_l2_loss(lt_tensor *pred, lt_tensor *target, lt_tensor *mask,
                             const lm_masked_loss_opts *o) {
    lt_tensor *d = lt_sub(pred, target);
    lt_tensor *per_pixel = lt_mul(d, d); // (N, C, H, W)
    return lt_mean(lt_mul(pixel_weights(mask, o), per_pixel));
}
