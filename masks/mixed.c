/* mixed.c — MixedMaskGenerator and get_mask_generator (saicinpainting/training/data/masks.py),
 * the official defaults and their validation. */
#include <string.h>

#include "core/err.h"
#include "masks/mask.h"
#include "masks/ramp.h"

void lm_mask_irregular_default(lm_mask_irregular_cfg *c) {
    c->max_angle = 4, c->max_len = 60, c->max_width = 20, c->min_times = 0, c->max_times = 10;
    lm_ramp_default(&c->ramp);
    c->draw_method = LM_DRAW_LINE;
}

void lm_mask_box_default(lm_mask_box_cfg *c) {
    c->margin = 10, c->bbox_min_size = 30, c->bbox_max_size = 100, c->min_times = 0, c->max_times = 3;
    lm_ramp_default(&c->ramp);
}

void lm_mask_cfg_default(lm_mask_cfg *c) {
    memset(c, 0, sizeof *c);
    c->kind = LM_MASK_MIXED;
    c->irregular_proba = 1.0 / 3, c->box_proba = 1.0 / 3, c->segm_proba = 1.0 / 3;
    lm_mask_irregular_default(&c->irregular_kwargs);
    lm_mask_box_default(&c->box_kwargs);
    lm_mask_irregular_default(&c->squares_kwargs);
    c->squares_kwargs.draw_method = LM_DRAW_SQUARE;
    c->superres_kwargs = (lm_mask_superres_cfg){2, 4, 1, 3};
    c->outpainting_kwargs = (lm_mask_outpainting_cfg){0.04, 0.25, 0.5, 0.5, 0.5, 0.5, 0};
}

int lm_mask_uses_folder(const lm_mask_cfg *c) {
    return c->kind == LM_MASK_FOLDER || (c->kind == LM_MASK_MIXED && c->folder_proba > 0);
}

int lm_mask_folder(uint8_t *out, int h, int w, const lm_mask_folder_cfg *c, lm_rng *rng) {
    if (!c->source)
        return lm_err_code(LM_EINVAL, "folder masks (%s): no mask source attached (folder masks are read by the "
                                      "data loader)", c->indir ? c->indir : "no indir");
    return c->source(c->source_ctx, out, h, w, rng);
}

static int folder_check(const lm_mask_folder_cfg *f) {
    if (!f->indir || !*f->indir) return lm_err_code(LM_EINVAL, "folder_kwargs.indir: a folder of mask PNGs is required");
    if (f->mode != LM_MASK_FOLDER_RESIZE && f->mode != LM_MASK_FOLDER_CROP)
        return lm_err_code(LM_EINVAL, "folder_kwargs.mode: unknown mode %d", f->mode);
    if (f->threshold < 0 || f->threshold > 254)
        return lm_err_code(LM_EINVAL, "folder_kwargs.threshold: must be in [0, 254], got %d", f->threshold);
    return 0;
}

int lm_mask_cfg_check(const lm_mask_cfg *c) {
    int rc;
    if (c->kind == LM_MASK_OUTPAINTING) return lm_mask_outpainting_check(&c->outpainting_kwargs);
    if (c->kind == LM_MASK_DUMB) return 0;
    if (c->kind == LM_MASK_FOLDER) {
        if (!(c->invert_proba >= 0 && c->invert_proba <= 1))
            return lm_err_code(LM_EINVAL, "invert_proba: must be in [0, 1], got %g", c->invert_proba);
        return folder_check(&c->folder_kwargs);
    }
    if (c->kind != LM_MASK_MIXED) return lm_err_code(LM_EINVAL, "mask kind %d: unknown", c->kind);
    if (c->segm_proba > 0)
        return lm_err_code(LM_ENOTSUP, "segm_proba: not supported: segmentation masks need "
                                       "detectron2 (set segm_proba: 0)");
    const double p[] = {c->irregular_proba, c->box_proba, c->squares_proba, c->superres_proba,
                        c->outpainting_proba, c->folder_proba};
    const char *names[] = {"irregular_proba", "box_proba", "squares_proba", "superres_proba",
                           "outpainting_proba", "folder_proba"};
    double sum = 0;
    for (int k = 0; k < 6; k++) {
        if (!(p[k] >= 0)) return lm_err_code(LM_EINVAL, "%s: must be >= 0, got %g", names[k], p[k]);
        sum += p[k];
    }
    if (!(sum > 0)) return lm_err_code(LM_EINVAL, "mask generator: all probabilities are 0");
    if (!(c->invert_proba >= 0 && c->invert_proba <= 1))
        return lm_err_code(LM_EINVAL, "invert_proba: must be in [0, 1], got %g", c->invert_proba);
    const lm_mask_irregular_cfg *ir[2] = {&c->irregular_kwargs, &c->squares_kwargs};
    const char *irn[2] = {"irregular_kwargs", "squares_kwargs"};
    for (int k = 0; k < 2; k++) {
        if (p[k ? 2 : 0] <= 0) continue;
        if (ir[k]->max_angle < 1) return lm_err_code(LM_EINVAL, "%s.max_angle: must be >= 1", irn[k]);
        if (ir[k]->min_times < 0 || ir[k]->max_times < ir[k]->min_times)
            return lm_err_code(LM_EINVAL, "%s: need 0 <= min_times <= max_times", irn[k]);
        if (ir[k]->max_len < 0 || ir[k]->max_width < 0)
            return lm_err_code(LM_EINVAL, "%s: max_len and max_width must be >= 0", irn[k]);
    }
    if (c->box_proba > 0) {
        const lm_mask_box_cfg *b = &c->box_kwargs;
        if (b->margin < 0 || b->bbox_min_size < 0 || b->bbox_max_size < b->bbox_min_size)
            return lm_err_code(LM_EINVAL, "box_kwargs: need margin >= 0 and 0 <= bbox_min_size <= bbox_max_size");
        if (b->min_times < 0 || b->max_times < b->min_times)
            return lm_err_code(LM_EINVAL, "box_kwargs: need 0 <= min_times <= max_times");
    }
    if (c->folder_proba > 0 && (rc = folder_check(&c->folder_kwargs)) < 0) return rc;
    if (c->outpainting_proba > 0 && (rc = lm_mask_outpainting_check(&c->outpainting_kwargs)) < 0) {
        lm_err_prefix("outpainting_kwargs");
        return rc;
    }
    return 0;
}

int lm_mask_generate(uint8_t *out, int h, int w, const lm_mask_cfg *c, lm_rng *rng, int64_t iter) {
    int rc;
    if (h <= 0 || w <= 0) return lm_err_code(LM_EINVAL, "mask: bad size %dx%d", h, w);
    if (c->kind == LM_MASK_OUTPAINTING) return lm_mask_outpainting(out, h, w, &c->outpainting_kwargs, rng);
    if (c->kind == LM_MASK_DUMB) return lm_mask_dumb(out, h, w, c->dumb_is_training, rng);
    if ((rc = lm_mask_cfg_check(c)) < 0) return rc;
    if (c->kind == LM_MASK_FOLDER) {
        if ((rc = lm_mask_folder(out, h, w, &c->folder_kwargs, rng)) < 0) return rc;
        goto invert;
    }
    /* probabilities of the enabled generators, float32 as in the official np.array(dtype='float32') */
    enum { IRR, BOX, SQ, SR, OUT, FOLDER };
    const double praw[6] = {c->irregular_proba, c->box_proba, c->squares_proba, c->superres_proba,
                            c->outpainting_proba, c->folder_proba};
    int kinds[6], n = 0;
    float pf[6], sum = 0;
    for (int k = 0; k < 6; k++)
        if (praw[k] > 0) kinds[n] = k, pf[n] = (float)praw[k], sum += pf[n], n++;
    /* np.random.choice: cdf = cumsum(p), cdf /= cdf[-1], searchsorted(uniform, 'right') */
    float cdf[6], acc = 0;
    for (int k = 0; k < n; k++) acc += pf[k] / sum, cdf[k] = acc;
    double u = lm_rng_uniform(rng);
    int pick = 0;
    while (pick < n - 1 && (double)(cdf[pick] / cdf[n - 1]) <= u) pick++;
    lm_mask_irregular_cfg sq;
    switch (kinds[pick]) {
    case IRR: {
        lm_mask_irregular_cfg ir = c->irregular_kwargs;
        ir.draw_method = LM_DRAW_LINE;
        rc = lm_mask_irregular(out, h, w, &ir, rng, iter);
        break;
    }
    case BOX: rc = lm_mask_box(out, h, w, &c->box_kwargs, rng, iter); break;
    case SQ:
        sq = c->squares_kwargs;
        sq.draw_method = LM_DRAW_SQUARE;
        rc = lm_mask_irregular(out, h, w, &sq, rng, iter);
        break;
    case SR: rc = lm_mask_superres(out, h, w, &c->superres_kwargs, rng); break;
    case FOLDER: rc = lm_mask_folder(out, h, w, &c->folder_kwargs, rng); break;
    default: rc = lm_mask_outpainting(out, h, w, &c->outpainting_kwargs, rng); break;
    }
    if (rc < 0) return rc;
invert:
    if (c->invert_proba > 0 && lm_rng_uniform(rng) < c->invert_proba)
        for (size_t i = 0, N = (size_t)h * w; i < N; i++) out[i] = (uint8_t)(1 - out[i]);
    return 0;
}
