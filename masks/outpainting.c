/* outpainting.c — OutpaintingMaskGenerator and DumbAreaMaskGenerator
 * (saicinpainting/training/data/masks.py): border bands on random sides, and the
 * "dumb" single rectangle. Their quirks are kept: the left/right bands take their width
 * from a padding drawn for the height (and top/bottom from one drawn for the width), and the
 * dumb generator indexes rows with the vector drawn for the width. */
#include <math.h>
#include <string.h>

#include "core/err.h"
#include "masks/mask.h"

static void fill_rect(uint8_t *m, int h, int w, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    if (y1 > h) y1 = h;
    if (x1 > w) x1 = w;
    for (int64_t y = y0; y < y1; y++)
        if (x1 > x0) memset(m + y * w + x0, 1, (size_t)(x1 - x0));
}

/* The official constructor's asserts (min <= max, both in [0, 1], max > 0, each side
 * probability in [0, 1], at least one positive). */
int lm_mask_outpainting_check(const lm_mask_outpainting_cfg *c) {
    const double probs[4] = {c->left_padding_prob, c->top_padding_prob, c->right_padding_prob,
                             c->bottom_padding_prob};
    if (c->is_fixed_randomness)
        return lm_err_code(LM_ENOTSUP, "outpainting mask: is_fixed_randomness is not supported");
    if (!(c->min_padding_percent >= 0 && c->min_padding_percent <= c->max_padding_percent &&
          c->max_padding_percent > 0 && c->max_padding_percent <= 1))
        return lm_err_code(LM_EINVAL, "outpainting mask: need 0 <= min_padding_percent (%g) <= "
                                      "max_padding_percent (%g) <= 1 and max_padding_percent > 0",
                           c->min_padding_percent, c->max_padding_percent);
    double psum = 0;
    for (int k = 0; k < 4; k++) {
        if (!(probs[k] >= 0 && probs[k] <= 1))
            return lm_err_code(LM_EINVAL, "outpainting mask: side probability %g is not in [0, 1]", probs[k]);
        psum += probs[k];
    }
    if (!(psum > 0)) return lm_err_code(LM_EINVAL, "outpainting mask: all side probabilities are 0");
    return 0;
}

int lm_mask_outpainting(uint8_t *out, int h, int w, const lm_mask_outpainting_cfg *c, lm_rng *rng) {
    const double probs[4] = {c->left_padding_prob, c->top_padding_prob, c->right_padding_prob,
                             c->bottom_padding_prob};
    double psum = probs[0] + probs[1] + probs[2] + probs[3];
    int rc = lm_mask_outpainting_check(c);
    if (rc < 0) return rc;
    memset(out, 0, (size_t)h * w);
    /* get_padding for h, w, h, w (in the order the official coords list is built) */
    double pad[4];
    for (int k = 0; k < 4; k++) {
        int size = k % 2 ? w : h;
        int64_t n1 = (int64_t)(c->min_padding_percent * size), n2 = (int64_t)(c->max_padding_percent * size);
        if (n2 <= n1)
            return lm_err_code(LM_EINVAL, "outpainting mask: padding range [%g, %g) of %d pixels is empty",
                               c->min_padding_percent, c->max_padding_percent, size);
        pad[k] = (double)lm_rng_randint(rng, n1, n2) / size;
    }
    /* coords as (row0, col0), (row1, col1) fractions */
    const double co[4][4] = {{0, 0, 1, pad[0]}, {0, 0, pad[1], 1}, {0, 1 - pad[2], 1, 1},
                             {1 - pad[3], 0, 1, 1}};
    int any = 0;
    for (int k = 0; k < 4; k++)
        if (lm_rng_uniform(rng) < probs[k]) {
            any = 1;
            fill_rect(out, h, w, (int64_t)(co[k][0] * h), (int64_t)(co[k][2] * h),
                      (int64_t)(co[k][1] * w), (int64_t)(co[k][3] * w));
        }
    if (!any) {
        double u = lm_rng_uniform(rng), acc = 0;
        int k = 0;
        for (; k < 3; k++) {
            acc += probs[k] / psum;
            if (u < acc) break;
        }
        fill_rect(out, h, w, (int64_t)(co[k][0] * h), (int64_t)(co[k][2] * h),
                  (int64_t)(co[k][1] * w), (int64_t)(co[k][3] * w));
    }
    return 0;
}

/* DumbAreaMaskGenerator._random_vector; Python's round() is round-half-even (rint). */
static int dumb_vector(int64_t *u, int64_t *v, int dim, int training, lm_rng *rng) {
    if (training) {
        double lo = sqrt(0.1), hi = sqrt(0.35);
        int64_t side = (int64_t)rint((lm_rng_uniform(rng) * (hi - lo) + lo) * dim);
        if (dim - side - 1 < 0)
            return lm_err_code(LM_EINVAL, "dumb mask: image side %d is too small", dim);
        *u = lm_rng_randint(rng, 0, dim - side); /* random.randint is inclusive */
        *v = *u + side;
    } else {
        double margin = sqrt(0.225) / 2 * dim;
        *u = (int64_t)rint(dim / 2.0 - margin);
        *v = (int64_t)rint(dim / 2.0 + margin);
    }
    return 0;
}

int lm_mask_dumb(uint8_t *out, int h, int w, int is_training, lm_rng *rng) {
    int64_t x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    int rc;
    if ((rc = dumb_vector(&x1, &x2, w, is_training, rng)) < 0) return rc;
    if ((rc = dumb_vector(&y1, &y2, h, is_training, rng)) < 0) return rc;
    memset(out, 0, (size_t)h * w);
    fill_rect(out, h, w, x1, x2, y1, y2); /* official: mask[x1:x2, y1:y2] */
    return 0;
}
