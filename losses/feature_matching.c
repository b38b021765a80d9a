/* feature_matching.c — feature matching, plain and masked (see feature_matching.h). */
#include "losses/feature_matching.h"

#include <stdio.h>

#define FM_MAX 32

lt_tensor *lm_feature_matching_loss(lt_tensor *const *fake, lt_tensor *const *real, int n,
                                    lt_tensor *mask) {
    if (n < 1 || n > FM_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "feature matching: %d feature pairs (expected 1..%d)", n, FM_MAX);
        lt_set_error(msg);
        return NULL;
    }
    if (!mask) { /* torch.stack([mse_loss(f, r) ...]).mean() */
        lt_tensor *terms[FM_MAX];
        for (int i = 0; i < n; i++) terms[i] = lt_mse_loss(fake[i], real[i]);
        return lt_mean(lt_stack(terms, n, 0));
    }
    lt_tensor *res = NULL;
    for (int i = 0; i < n; i++) {
        lt_tensor *m = lt_interpolate(mask, lt_size(fake[i], -2), lt_size(fake[i], -1),
                                      LT_BILINEAR); // (N, 1, h_i, w_i)
        lt_tensor *d = lt_sub(fake[i], real[i]);
        lt_tensor *v = lt_mean(lt_mul(lt_mul(d, d), lt_rsub_scalar(m, 1.0)));
        res = res ? lt_add(res, v) : v; /* res = 0 + v: the first add is exact */
        if (!res) return NULL;
    }
    return lt_div(res, lt_scalar((double)n, LT_F64, LT_CPU)); /* res / norm */
}
