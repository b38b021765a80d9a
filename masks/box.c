/* box.c — RandomRectangleMaskGenerator / make_random_rectangle_mask
 * (saicinpainting/training/data/masks.py): axis-aligned boxes kept `margin` pixels from the
 * border, with the LinearRamp schedule on bbox_max_size and max_times. */
#include <string.h>

#include "core/err.h"
#include "masks/mask.h"
#include "masks/ramp.h"

int lm_mask_box(uint8_t *out, int h, int w, const lm_mask_box_cfg *c, lm_rng *rng, int64_t iter) {
    double coef = (c->ramp.enabled && iter >= 0) ? lm_ramp_value(&c->ramp, (double)iter) : 1.0;
    int64_t max_size = (int64_t)(c->bbox_min_size + 1 + (c->bbox_max_size - c->bbox_min_size) * coef);
    int64_t max_times = (int64_t)(c->min_times + (c->max_times - c->min_times) * coef);
    /* make_random_rectangle_mask */
    if (max_size > h - 2 * (int64_t)c->margin) max_size = h - 2 * (int64_t)c->margin;
    if (max_size > w - 2 * (int64_t)c->margin) max_size = w - 2 * (int64_t)c->margin;
    if (max_size <= c->bbox_min_size || c->bbox_min_size < 0)
        return lm_err_code(LM_EINVAL,
                           "box mask: %dx%d image with margin %d leaves no room for boxes of "
                           "bbox_min_size %d",
                           h, w, c->margin, c->bbox_min_size);
    if (max_times < c->min_times || c->min_times < 0)
        return lm_err_code(LM_EINVAL, "box mask: need 0 <= min_times <= max_times");
    memset(out, 0, (size_t)h * w);
    int64_t times = lm_rng_randint(rng, c->min_times, max_times + 1);
    for (int64_t i = 0; i < times; i++) {
        int64_t bw = lm_rng_randint(rng, c->bbox_min_size, max_size);
        int64_t bh = lm_rng_randint(rng, c->bbox_min_size, max_size);
        int64_t x0 = lm_rng_randint(rng, c->margin, w - c->margin - bw + 1);
        int64_t y0 = lm_rng_randint(rng, c->margin, h - c->margin - bh + 1);
        for (int64_t y = y0; y < y0 + bh; y++) memset(out + y * w + x0, 1, (size_t)bw);
    }
    return 0;
}
