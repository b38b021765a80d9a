/* perceptual.c — the parts the perceptual losses share (see perceptual.h; official
 * saicinpainting/training/losses/perceptual.py IMAGENET_MEAN / IMAGENET_STD). */
#include "losses/perceptual.h"

#include <stdio.h>

#include "model/lt_err.h"

static lt_tensor *chan_const(double a, double b, double c, lt_dtype dt, lt_device dev) {
    float v[3] = {(float)a, (float)b, (float)c};
    int64_t s[4] = {1, 3, 1, 1};
    lt_tensor *t = lt_from_buffer(v, s, 4, LT_F32);
    lt_tensor *r = (dt == LT_F32 && dev == LT_CPU) ? t : lt_to_device(lt_to_dtype(t, dt), dev);
    return lt_keep(r);
}

int lm_perceptual_norm_init(lm_perceptual *pc, lt_dtype dt, lt_device dev, const char *who) {
    if (!(pc->mean = chan_const(0.485, 0.456, 0.406, dt, dev)) ||
        !(pc->std = chan_const(0.229, 0.224, 0.225, dt, dev)))
        return lm_err_lt("%s", who);
    return 0;
}

int lm_perceptual_check(const char *who, int with_mask, lt_tensor *pred, lt_tensor *target,
                        lt_tensor *mask) {
    int64_t ps[8], ts[8], ms[8];
    int pn = lt_shape(pred, ps, 8), tn = lt_shape(target, ts, 8);
    int same = pn == tn, mok = 1;
    for (int i = 0; same && i < pn; i++) same = ps[i] == ts[i];
    if (mask) {
        int mn = lt_shape(mask, ms, 8);
        mok = pn == 4 && mn == 4 && ms[0] == ps[0] && ms[1] == 1 && ms[2] == ps[2] && ms[3] == ps[3];
    }
    if (pn == 4 && ps[1] == 3 && same && mok) return 0;
    char a[128], b[128], c[128], msg[512];
    if (with_mask)
        snprintf(msg, sizeof msg, "%s: pred %s and target %s must both be (N, 3, H, W), "
                 "mask %s (N, 1, H, W) or none", who, lt_describe(pred, a, sizeof a),
                 lt_describe(target, b, sizeof b), mask ? lt_describe(mask, c, sizeof c) : "-");
    else
        snprintf(msg, sizeof msg, "%s: pred %s and target %s must both be (N, 3, H, W)", who,
                 lt_describe(pred, a, sizeof a), lt_describe(target, b, sizeof b));
    lt_set_error(msg);
    return -1;
}

lt_tensor *lm_perceptual_normalize(const lm_perceptual *pc, lt_tensor *x) {
    return lt_div(lt_sub(x, pc->mean), pc->std);
}

lt_tensor *lm_perceptual_scope_end(lt_tensor *res) {
    lt_scope_pop();
    if (!res) return NULL;
    lt_tensor *r = lt_alias(res); /* into the caller's scope */
    lt_free(res);
    return r;
}

void lm_perceptual_free(lm_perceptual *pc) {
    lm_params_free(&pc->params);
    lt_free(pc->mean);
    lt_free(pc->std);
}
