/* loss_opts.c — config -> loss options (see loss_opts.h). */
#include "config/loss_opts.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

static int get_str(const lm_cfg *c, const char *path, char *out, size_t cap, int nullable) {
    const char *s = NULL;
    if (lm_cfg_get_str(c, path, &s) < 0) return LM_EINVAL;
    if (!s) {
        if (nullable) {
            out[0] = 0;
            return 0;
        }
        return lm_err_code(LM_EINVAL, "config: key '%s': must not be null", path);
    }
    if (strlen(s) >= cap) return lm_err_code(LM_EINVAL, "config: key '%s': '%s' is too long", path, s);
    snprintf(out, cap, "%s", s);
    return 0;
}

int lm_loss_opts_from_cfg(lm_loss_opts *o, const lm_cfg *c) {
    memset(o, 0, sizeof *o);
    o->adv = lm_adv_defaults();
    o->resnet_pl = lm_resnet_pl_defaults();
    o->perceptual = lm_vgg_pl_defaults();
    int rc = lm_cfg_get_float(c, "losses.l1.weight_known", &o->l1.weight_known);
    if (!rc) rc = lm_cfg_get_float(c, "losses.l1.weight_missing", &o->l1.weight_missing);
    char buf[32];
    if (!rc) rc = get_str(c, "losses.adversarial.kind", buf, sizeof buf, 0);
    if (!rc) o->adv.kind = !strcmp(buf, "bce") ? LM_ADV_BCE : LM_ADV_R1;
    if (!rc) rc = lm_cfg_get_float(c, "losses.adversarial.weight", &o->adv.weight);
    if (!rc) rc = lm_cfg_get_float(c, "losses.adversarial.gp_coef", &o->adv.gp_coef);
    if (!rc) rc = lm_cfg_get_bool(c, "losses.adversarial.mask_as_fake_target", &o->adv.mask_as_fake_target);
    if (!rc) rc = lm_cfg_get_bool(c, "losses.adversarial.allow_scale_mask", &o->adv.allow_scale_mask);
    if (!rc) rc = get_str(c, "losses.adversarial.mask_scale_mode", buf, sizeof buf, 0);
    if (!rc && (rc = lm_mask_scale_parse(&o->adv.mask_scale_mode, buf)) < 0)
        lm_err_prefix("config: losses.adversarial");
    if (!rc) rc = lm_cfg_get_float(c, "losses.adversarial.extra_mask_weight_for_gen",
                                   &o->adv.extra_mask_weight_for_gen);
    if (!rc) rc = lm_cfg_get_bool(c, "losses.adversarial.use_unmasked_for_gen", &o->adv.use_unmasked_for_gen);
    if (!rc) rc = lm_cfg_get_bool(c, "losses.adversarial.use_unmasked_for_discr", &o->adv.use_unmasked_for_discr);
    if (!rc) rc = lm_adv_check(&o->adv);
    if (!rc) rc = lm_cfg_get_float(c, "losses.feature_matching.weight", &o->fm.weight);
    if (!rc) rc = lm_cfg_get_bool(c, "losses.feature_matching.pass_mask", &o->fm.pass_mask);
    if (!rc) rc = lm_cfg_get_float(c, "losses.perceptual.weight", &o->perceptual.weight);
    if (!rc) rc = lm_cfg_get_float(c, "losses.resnet_pl.weight", &o->resnet_pl.weight);
    /* read only when the loss is on, as the official code builds ResNetPL(**losses.resnet_pl)
     * only then: its ${env:TORCH_HOME} (no default) needs TORCH_HOME only then */
    if (!rc && o->resnet_pl.weight > 0)
        rc = get_str(c, "losses.resnet_pl.weights_path", o->resnet_pl.weights_path,
                     sizeof o->resnet_pl.weights_path, 1);
    if (!rc) rc = get_str(c, "losses.resnet_pl.arch_encoder", o->resnet_pl.arch_encoder,
                          sizeof o->resnet_pl.arch_encoder, 0);
    if (!rc) rc = lm_cfg_get_bool(c, "losses.resnet_pl.segmentation", &o->resnet_pl.segmentation);
    if (!rc) rc = lm_cfg_get_bool(c, "losses.resnet_pl.bn_train", &o->resnet_pl.bn_train);
    return rc < 0 ? rc : 0;
}
