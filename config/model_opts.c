/* model_opts.c — config -> generator / discriminator options (see model_opts.h). */
#include "config/model_opts.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

static int get_int(const lm_cfg *c, const char *path, int *out) {
    int64_t v;
    if (lm_cfg_get_int(c, path, &v) < 0) return LM_EINVAL;
    if (v < -2147483647 || v > 2147483647) return lm_err_code(LM_EINVAL, "config: key '%s': out of range", path);
    *out = (int)v;
    return 0;
}

static int get_str(const lm_cfg *c, const char *path, char *out, size_t cap) {
    const char *s = NULL;
    if (lm_cfg_get_str(c, path, &s) < 0) return LM_EINVAL;
    if (!s) return lm_err_code(LM_EINVAL, "config: key '%s': must not be null", path);
    if (strlen(s) >= cap) return lm_err_code(LM_EINVAL, "config: key '%s': '%s' is too long", path, s);
    snprintf(out, cap, "%s", s);
    return 0;
}

/* A scalar that may be absent from the schema (read straight from the tree); 0 if absent. */
static int opt_bool(const lm_cfg *c, const char *path, int *out) {
    int rc = lm_cfg_check(c, path);
    if (rc < 0) return rc;
    const lm_cfg_node *n = lm_cfg_find(c, path);
    if (!n || n->kind != LM_CFG_SCALAR || lm_cfg_scalar_type(n) == LM_CFG_NULL) return 0;
    if (lm_cfg_scalar_bool(n->text, out) < 0)
        return lm_err_code(LM_EINVAL, "config: %s:%d: key '%s': expected true or false, got '%s'",
                           n->file, n->line, path, n->text);
    return 0;
}

static int kwargs(lm_ffc_kwargs *k, const lm_cfg *c, const char *group) {
    char p[128];
    int rc = 0;
    snprintf(p, sizeof p, "generator.%s.ratio_gin", group);
    rc = rc ? rc : lm_cfg_get_float(c, p, &k->ratio_gin);
    snprintf(p, sizeof p, "generator.%s.ratio_gout", group);
    rc = rc ? rc : lm_cfg_get_float(c, p, &k->ratio_gout);
    snprintf(p, sizeof p, "generator.%s.enable_lfu", group);
    rc = rc ? rc : lm_cfg_get_bool(c, p, &k->enable_lfu);
    snprintf(p, sizeof p, "generator.%s.gated", group);
    rc = rc ? rc : opt_bool(c, p, &k->gated);
    snprintf(p, sizeof p, "generator.%s.spectral_pos_encoding", group);
    rc = rc ? rc : opt_bool(c, p, &k->spectral_pos_encoding);
    snprintf(p, sizeof p, "generator.%s.use_se", group);
    rc = rc ? rc : opt_bool(c, p, &k->use_se);
    snprintf(p, sizeof p, "generator.%s.fft_norm", group);
    rc = rc ? rc : lm_cfg_check(c, p);
    const lm_cfg_node *n = lm_cfg_find(c, p);
    if (!rc && n && n->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(n) != LM_CFG_NULL)
        snprintf(k->fft_norm, sizeof k->fft_norm, "%s", n->text);
    return rc < 0 ? rc : 0;
}

int lm_generator_opts_from_cfg(lm_generator_opts *o, const lm_cfg *c) {
    *o = lm_generator_defaults();
    int rc = get_str(c, "generator.kind", o->kind, sizeof o->kind);
    if (!rc) rc = get_int(c, "generator.input_nc", &o->input_nc);
    if (!rc) rc = get_int(c, "generator.output_nc", &o->output_nc);
    if (!rc) rc = get_int(c, "generator.ngf", &o->ngf);
    if (!rc) rc = get_int(c, "generator.n_downsampling", &o->n_downsampling);
    if (!rc) rc = get_int(c, "generator.n_blocks", &o->n_blocks);
    if (!rc) rc = get_int(c, "generator.max_features", &o->max_features);
    if (rc) return rc;
    /* add_out_act: official default True -> tanh; a string names the activation */
    if ((rc = lm_cfg_check(c, "generator.add_out_act")) < 0) return rc;
    const lm_cfg_node *n = lm_cfg_find(c, "generator.add_out_act");
    o->add_out_act = LM_ACT_TANH;
    if (n && n->kind == LM_CFG_SCALAR) {
        int b;
        if (lm_cfg_scalar_type(n) == LM_CFG_NULL || !strcmp(n->text, "none"))
            o->add_out_act = LM_ACT_NONE;
        else if (!strcmp(n->text, "sigmoid")) o->add_out_act = LM_ACT_SIGMOID;
        else if (!strcmp(n->text, "tanh")) o->add_out_act = LM_ACT_TANH;
        else if (lm_cfg_scalar_bool(n->text, &b) == 0) o->add_out_act = b ? LM_ACT_TANH : LM_ACT_NONE;
        else
            return lm_err_code(LM_EINVAL, "config: %s:%d: key 'generator.add_out_act': '%s' "
                               "(expected sigmoid, tanh, none, true or false)", n->file, n->line,
                               n->text);
    }
    if (!strcmp(o->kind, "ffc_resnet")) {
        rc = kwargs(&o->init_conv_kwargs, c, "init_conv_kwargs");
        if (!rc) rc = kwargs(&o->downsample_conv_kwargs, c, "downsample_conv_kwargs");
        if (!rc) rc = kwargs(&o->resnet_conv_kwargs, c, "resnet_conv_kwargs");
        if (!rc) rc = opt_bool(c, "generator.out_ffc", &o->out_ffc);
        if (!rc) rc = lm_cfg_check(c, "generator.spatial_transform_layers");
        n = lm_cfg_find(c, "generator.spatial_transform_layers");
        if (n && !(n->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(n) == LM_CFG_NULL))
            o->spatial_transform = 1;
    } else {
        rc = get_str(c, "generator.conv_kind", o->conv_kind, sizeof o->conv_kind);
        if (!rc && !strcmp(o->kind, "pix2pixhd_multidilated")) {
            rc = get_str(c, "generator.multidilation_kwargs.comb_mode", o->multidilation_comb_mode,
                         sizeof o->multidilation_comb_mode);
            if (!rc) rc = get_int(c, "generator.multidilation_kwargs.dilation_num",
                                  &o->multidilation_dilation_num);
        }
    }
    return rc;
}

int lm_discriminator_opts_from_cfg(lm_discriminator_opts *o, const lm_cfg *c) {
    *o = lm_discriminator_defaults();
    int rc = get_str(c, "discriminator.kind", o->kind, sizeof o->kind);
    if (!rc) rc = get_int(c, "discriminator.input_nc", &o->input_nc);
    if (!rc) rc = get_int(c, "discriminator.ndf", &o->ndf);
    if (!rc) rc = get_int(c, "discriminator.n_layers", &o->n_layers);
    return rc;
}
