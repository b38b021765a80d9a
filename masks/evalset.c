/* evalset.c — mask selection of bin/gen_mask_dataset.py and propose_random_square_crop
 * (saicinpainting/evaluation/masks/mask.py); see evalset.h. */
#include "masks/evalset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void lm_evalset_cfg_default(lm_evalset_cfg *c) {
    lm_mask_cfg_default(&c->mask);
    c->variants_n = 2;
    c->max_masks_per_image = 1;
    c->out_min_size = 256;
    c->drop_small = 0;
    c->out_square_crop = 1;
    c->crop_min_overlap = 1;
    c->max_tamper_area = 1;
}

int lm_evalset_preset(lm_evalset_cfg *c, const char *name) {
    lm_evalset_cfg_default(c);
    if (strncmp(name, "random_", 7) != 0)
        return lm_err_code(LM_EINVAL, "'%s' is not an evaluation-set preset (use random_{thin,medium,"
                                      "thick}_{256,512})", name);
    int rc = lm_mask_preset(&c->mask, name);
    if (rc < 0) return rc;
    c->variants_n = 5;
    c->out_min_size = strstr(name, "512") ? 512 : 256;
    c->max_tamper_area = 0.5;
    return 0;
}

int lm_evalset_square_crop(int *x, int *y, const uint8_t *m, int h, int w, double min_overlap,
                           lm_rng *rng) {
    int lo = -1, hi = -1; /* extent of holes along the long axis */
    if (h < w) {
        for (int xx = 0; xx < w; xx++)
            for (int yy = 0; yy < h; yy++)
                if (m[(size_t)yy * w + xx]) {
                    if (lo < 0) lo = xx;
                    hi = xx;
                    break;
                }
    } else {
        for (int yy = 0; yy < h; yy++)
            if (memchr(m + (size_t)yy * w, 1, (size_t)w)) {
                if (lo < 0) lo = yy;
                hi = yy;
            }
    }
    if (lo < 0 && h != w) return 1; /* the official code raises on an empty mask */
    if (lo < 0) lo = hi = 0;
    int len = h < w ? w : h, crop = h < w ? h : w;
    double ext = (double)(hi - lo) * min_overlap;
    double a = fmax(0, fmin(len - crop - 1, lo + ext - crop));
    double b = fmax(a + 1, fmin(len - crop, lo + ext));
    int64_t s = lm_rng_randint(rng, (int64_t)a, (int64_t)b);
    if (h < w) *x = (int)s, *y = 0;
    else *x = 0, *y = (int)s;
    return 0;
}

int lm_evalset_masks(lm_evalset_pick *picks, int *n, const lm_evalset_cfg *c, int h, int w,
                     lm_rng *rng) {
    int rc = 0, kept = 0, nv = c->variants_n;
    *n = 0;
    if (nv < 1 || c->max_masks_per_image < 1)
        return lm_err_code(LM_EINVAL, "evaluation set: variants_n and max_masks_per_image must be >= 1");
    uint8_t *full = malloc((size_t)h * w);
    lm_evalset_pick *v = calloc((size_t)nv, sizeof *v);
    int *order = malloc(sizeof(int) * nv);
    if (!full || !v || !order) {
        rc = lm_err_code(LM_ENOMEM, "evaluation set: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < nv; i++) {
        if ((rc = lm_mask_generate(full, h, w, &c->mask, rng, -1)) < 0) goto cleanup;
        int x = 0, y = 0, cw = w, ch = h;
        if (c->out_square_crop) {
            if (lm_evalset_square_crop(&x, &y, full, h, w, c->crop_min_overlap, rng)) continue;
            cw = ch = h < w ? h : w;
        }
        size_t holes = 0;
        for (int yy = 0; yy < ch; yy++)
            for (int xx = 0; xx < cw; xx++) holes += full[(size_t)(y + yy) * w + x + xx];
        if ((double)holes / ((double)cw * ch) > c->max_tamper_area) continue;
        lm_evalset_pick *p = &v[kept];
        p->mask = malloc((size_t)cw * ch);
        if (!p->mask) {
            rc = lm_err_code(LM_ENOMEM, "evaluation set: out of memory");
            goto cleanup;
        }
        for (int yy = 0; yy < ch; yy++)
            memcpy(p->mask + (size_t)yy * cw, full + (size_t)(y + yy) * w + x, (size_t)cw);
        p->x = x, p->y = y, p->w = cw, p->h = ch;
        kept++;
    }
    /* np.random.choice(kept, size=min(kept, k), replace=False): a random permutation prefix */
    for (int i = 0; i < kept; i++) order[i] = i;
    int take = kept < c->max_masks_per_image ? kept : c->max_masks_per_image;
    for (int i = 0; i < take; i++) {
        int j = i + (int)lm_rng_randint(rng, 0, kept - i), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (int i = 0; i < take; i++) {
        picks[i] = v[order[i]];
        v[order[i]].mask = NULL;
    }
    *n = take;
cleanup:
    if (v)
        for (int i = 0; i < nv; i++) free(v[i].mask);
    free(v), free(order), free(full);
    return rc;
}
