/* adversarial.c — NonSaturatingWithR1 and BCELoss (see adversarial.h; official
 * saicinpainting/training/losses/adversarial.py). */
#include "losses/adversarial.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

int lm_adv_check(const lm_adv_opts *o) {
    if (o->kind != LM_ADV_R1) return 0;
    if (!(o->use_unmasked_for_gen || !o->use_unmasked_for_discr))
        return lm_err_code(LM_EINVAL, "losses.adversarial: use_unmasked_for_discr=true needs "
                           "use_unmasked_for_gen=true (official assertion)");
    if (!(o->use_unmasked_for_discr || !o->mask_as_fake_target))
        return lm_err_code(LM_EINVAL, "losses.adversarial: mask_as_fake_target=true needs "
                           "use_unmasked_for_discr=true (official assertion)");
    return 0;
}

static const char *const SCALE_NAMES[] = {"nearest", "bilinear", "area", "maxpool"};

int lm_mask_scale_parse(lm_mask_scale *out, const char *s) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, SCALE_NAMES[i])) {
            *out = (lm_mask_scale)i;
            return 0;
        }
    return lm_err_code(LM_EINVAL, "mask_scale_mode '%s': expected nearest, bilinear, area or "
                       "maxpool", s);
}

const char *lm_mask_scale_name(lm_mask_scale m) {
    return (unsigned)m < 4 ? SCALE_NAMES[m] : "?";
}

lt_tensor *lm_adv_interpolate_mask(const lm_adv_opts *o, lt_tensor *mask, int64_t h, int64_t w) {
    if (!mask) {
        lt_set_error("adversarial loss: this option needs the mask");
        return NULL;
    }
    if (lt_size(mask, -2) == h && lt_size(mask, -1) == w) return lt_alias(mask);
    if (!o->allow_scale_mask) {
        char msg[160];
        snprintf(msg, sizeof msg, "adversarial loss: mask is %lldx%lld but the logits are %lldx%lld "
                 "and allow_scale_mask is false", (long long)lt_size(mask, -2),
                 (long long)lt_size(mask, -1), (long long)h, (long long)w);
        lt_set_error(msg);
        return NULL;
    }
    switch (o->mask_scale_mode) {
    case LM_MASK_SCALE_MAXPOOL: return lt_adaptive_max_pool2d(mask, h, w);
    case LM_MASK_SCALE_AREA: return lt_adaptive_avg_pool2d(mask, h, w); /* F.interpolate 'area' */
    case LM_MASK_SCALE_BILINEAR: return lt_interpolate(mask, h, w, LT_BILINEAR);
    default: return lt_interpolate(mask, h, w, LT_NEAREST);
    }
}

/* BCEWithLogits(x, t), mean = mean((1 − t)·x + log(1 + e^(−x))) = mean(softplus(x) − t·x) */
static lt_tensor *bce_logits(lt_tensor *x, lt_tensor *t) {
    lt_tensor *l = lt_softplus(x);
    if (t) l = lt_sub(l, lt_mul(t, x));
    return lt_mean(l);
}

lt_tensor *lm_adv_generator_loss(const lm_adv_opts *o, lt_tensor *fake_logits, lt_tensor *mask) {
    if (!fake_logits) return NULL;
    if (o->kind == LM_ADV_BCE) return lt_mul_scalar(bce_logits(fake_logits, NULL), o->weight);
    lt_tensor *fake_loss = lt_softplus(lt_neg(fake_logits)); // (N, 1, h, w)
    if ((o->mask_as_fake_target && o->extra_mask_weight_for_gen > 0) || !o->use_unmasked_for_gen) {
        lt_tensor *m = lm_adv_interpolate_mask(o, mask, lt_size(fake_logits, -2), lt_size(fake_logits, -1));
        if (!o->use_unmasked_for_gen)
            fake_loss = lt_mul(fake_loss, m);
        else
            fake_loss = lt_mul(fake_loss, lt_add_scalar(lt_mul_scalar(m, o->extra_mask_weight_for_gen), 1.0));
    }
    return lt_mul_scalar(lt_mean(fake_loss), o->weight);
}

/* make_r1_gp: mean over samples of the squared L2 norm of d(sum D(real))/d(real), with
 * create_graph so the penalty can be differentiated again. */
static lt_tensor *r1_penalty(lt_tensor *real_logits, lt_tensor *real) {
    lt_tensor *sum = lt_sum(real_logits), *g = NULL;
    if (!sum || lt_grad(&sum, 1, &real, 1, 1, &g) < 0) return NULL;
    int64_t shape[2] = {lt_size(g, 0), -1};
    lt_tensor *flat = lt_reshape(g, shape, 2); // (N, 3·H·W)
    const int64_t dim1[1] = {1};
    return lt_mean(lt_sum_dims(lt_mul(flat, flat), dim1, 1, 0)); /* norm(2, dim=1) ** 2, mean */
}

int lm_adv_discriminator_loss(lm_adv_discr *out, const lm_adv_opts *o, lt_tensor *real,
                              lt_tensor *real_logits, lt_tensor *fake_logits, lt_tensor *mask) {
    memset(out, 0, sizeof *out);
    if (!real_logits || !fake_logits) return -1;
    out->real_out = lt_mean(real_logits);
    out->fake_out = lt_mean(fake_logits);
    int64_t h = lt_size(fake_logits, -2), w = lt_size(fake_logits, -1);
    if (o->kind == LM_ADV_BCE) {
        lt_tensor *m = lm_adv_interpolate_mask(o, mask, h, w);
        out->gp = lt_scalar(0.0, lt_type(real_logits), LT_CPU);
        out->loss = lt_mul_scalar(lt_add(bce_logits(real_logits, NULL), bce_logits(fake_logits, m)), 0.5);
        return out->loss && out->gp && out->real_out && out->fake_out ? 0 : -1;
    }
    lt_tensor *real_loss = lt_softplus(lt_neg(real_logits)); // (N, 1, h, w)
    lt_tensor *gp = lt_grad_enabled() ? r1_penalty(real_logits, real) : lt_scalar(0.0, LT_F32, LT_CPU);
    gp = lt_mul_scalar(gp, o->gp_coef);
    lt_tensor *fake_loss = lt_softplus(fake_logits);
    if (!o->use_unmasked_for_discr || o->mask_as_fake_target) {
        lt_tensor *m = lm_adv_interpolate_mask(o, mask, h, w);
        fake_loss = lt_mul(fake_loss, m);
        if (o->mask_as_fake_target)
            fake_loss = lt_add(fake_loss, lt_mul(lt_rsub_scalar(m, 1.0), lt_softplus(lt_neg(fake_logits))));
    }
    out->gp = gp;
    out->loss = lt_mean(lt_add(lt_add(real_loss, gp), fake_loss));
    return out->loss && out->real_out && out->fake_out ? 0 : -1;
}
