/* irregular.c — RandomIrregularMaskGenerator / make_random_irregular_mask
 * (saicinpainting/training/data/masks.py): random polylines of thick strokes with round caps
 * (or filled circles / squares for the other draw methods), with the LinearRamp schedule on
 * max_len, max_width and max_times. */
#include <math.h>
#include <string.h>

#include "core/err.h"
#include "masks/mask.h"
#include "masks/ramp.h"
#include "masks/raster.h"

/* Python slice bounds [a:b] on a length-n axis, normalised like list slicing. */
static void py_slice(int64_t *a, int64_t *b, int64_t n) {
    if (*a < 0) *a += n;
    if (*a < 0) *a = 0;
    if (*a > n) *a = n;
    if (*b < 0) *b += n;
    if (*b < 0) *b = 0;
    if (*b > n) *b = n;
}

static int64_t clip64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

int lm_mask_irregular(uint8_t *out, int h, int w, const lm_mask_irregular_cfg *c, lm_rng *rng,
                      int64_t iter) {
    double coef = (c->ramp.enabled && iter >= 0) ? lm_ramp_value(&c->ramp, (double)iter) : 1.0;
    /* RandomIrregularMaskGenerator.__call__ */
    int64_t max_len = (int64_t)fmax(1.0, c->max_len * coef);
    int64_t max_width = (int64_t)fmax(1.0, c->max_width * coef);
    int64_t max_times = (int64_t)(c->min_times + 1 + (c->max_times - c->min_times) * coef);
    if (c->max_angle < 1 || max_times + 1 <= c->min_times || c->min_times < 0)
        return lm_err_code(LM_EINVAL, "irregular mask: need max_angle >= 1 and 0 <= min_times <= max_times");
    memset(out, 0, (size_t)h * w);
    /* make_random_irregular_mask */
    int64_t times = lm_rng_randint(rng, c->min_times, max_times + 1);
    for (int64_t i = 0; i < times; i++) {
        int64_t sx = lm_rng_randint(rng, 0, w), sy = lm_rng_randint(rng, 0, h);
        int64_t nseg = 1 + lm_rng_randint(rng, 0, 5);
        for (int64_t j = 0; j < nseg; j++) {
            double angle = 0.01 + (double)lm_rng_randint(rng, 0, c->max_angle);
            if (i % 2 == 0) angle = 2 * 3.1415926 - angle;
            int64_t length = 10 + lm_rng_randint(rng, 0, max_len);
            int64_t brush_w = 5 + lm_rng_randint(rng, 0, max_width);
            /* numpy: float64 → astype(int32) truncates, then clip to [0, size] */
            int64_t ex = clip64((int32_t)((double)sx + (double)length * sin(angle)), 0, w);
            int64_t ey = clip64((int32_t)((double)sy + (double)length * cos(angle)), 0, h);
            if (c->draw_method == LM_DRAW_LINE) {
                lm_raster_line(out, h, w, (int)sx, (int)sy, (int)ex, (int)ey, (int)brush_w, 1);
            } else if (c->draw_method == LM_DRAW_CIRCLE) {
                lm_raster_circle(out, h, w, (int)sx, (int)sy, (int)brush_w, 1);
            } else {
                int64_t r = brush_w / 2, y0 = sy - r, y1 = sy + r, x0 = sx - r, x1 = sx + r;
                py_slice(&y0, &y1, h);
                py_slice(&x0, &x1, w);
                for (int64_t y = y0; y < y1; y++)
                    if (x1 > x0) memset(out + y * w + x0, 1, (size_t)(x1 - x0));
            }
            sx = ex, sy = ey;
        }
    }
    return 0;
}
