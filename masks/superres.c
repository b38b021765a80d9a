/* superres.c — RandomSuperresMaskGenerator / make_random_superres_mask
 * (saicinpainting/training/data/masks.py): a regular grid of hole rows and columns. */
#include <string.h>

#include "core/err.h"
#include "masks/mask.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int lm_mask_superres(uint8_t *out, int h, int w, const lm_mask_superres_cfg *c, lm_rng *rng) {
    if (c->min_step < 1 || c->max_step < c->min_step || c->min_width < 0 ||
        c->min_width >= min64(c->min_step, (int64_t)c->max_width + 1))
        return lm_err_code(LM_EINVAL, "superres mask: need 1 <= min_step <= max_step and "
                                      "min_width < min(min_step, max_width + 1)");
    memset(out, 0, (size_t)h * w);
    int64_t step_x = lm_rng_randint(rng, c->min_step, (int64_t)c->max_step + 1);
    int64_t width_x = lm_rng_randint(rng, c->min_width, min64(step_x, (int64_t)c->max_width + 1));
    int64_t off_x = lm_rng_randint(rng, 0, step_x);
    int64_t step_y = lm_rng_randint(rng, c->min_step, (int64_t)c->max_step + 1);
    int64_t width_y = lm_rng_randint(rng, c->min_width, min64(step_y, (int64_t)c->max_width + 1));
    int64_t off_y = lm_rng_randint(rng, 0, step_y);
    for (int64_t d = 0; d < width_y; d++)
        for (int64_t y = off_y + d; y < h; y += step_y) memset(out + y * w, 1, (size_t)w);
    for (int64_t d = 0; d < width_x; d++)
        for (int64_t x = off_x + d; x < w; x += step_x)
            for (int64_t y = 0; y < h; y++) out[y * w + x] = 1;
    return 0;
}
