/* generator.c — the generator interface (model/generator.h): lama-fourier defaults, option
 * checks and dispatch by kind, as the official saicinpainting/training/modules/__init__.py
 * make_generator. The networks live in model/ffc.c (ffc_resnet) and model/pix2pixhd.c. */
#include "model/generator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/ffc.h"
#include "model/lt_err.h"
#include "model/pix2pixhd.h"

struct lm_generator {
    lm_ffc_gen *ffc; /* exactly one of the two is set */
    lm_pix2pixhd_gen *p2p;
    char kind[32];   /* opts.kind */
};

static int check_kwargs(const lm_ffc_kwargs *k, const char *group) {
    lt_fft_norm n;
    if (k->use_se)
        return lm_err_code(LM_ENOTSUP, "generator.%s.use_se: squeeze-excitation is not supported "
                           "by lamac", group);
    if (lm_fft_norm_parse(k->fft_norm, &n) < 0)
        return lm_err_code(LM_EINVAL, "generator.%s.fft_norm: '%s' (expected ortho, backward or "
                           "forward)", group, k->fft_norm);
    return 0;
}

int lm_generator_create(lm_generator **out, lm_params *p, const lm_generator_opts *o) {
    *out = NULL;
    if (o->add_out_act != LM_ACT_NONE && o->add_out_act != LM_ACT_SIGMOID &&
        o->add_out_act != LM_ACT_TANH)
        return lm_err_code(LM_EINVAL, "generator.add_out_act: bad value %d", (int)o->add_out_act);
    lm_generator *g = calloc(1, sizeof *g);
    if (!g) return lm_err_code(LM_ENOMEM, "generator: out of memory");
    int rc;
    if (!strcmp(o->kind, "ffc_resnet")) {
        rc = check_kwargs(&o->init_conv_kwargs, "init_conv_kwargs");
        if (!rc) rc = check_kwargs(&o->downsample_conv_kwargs, "downsample_conv_kwargs");
        if (!rc) rc = check_kwargs(&o->resnet_conv_kwargs, "resnet_conv_kwargs");
        if (!rc) rc = lm_ffc_gen_create(&g->ffc, p, o);
    } else if (!strcmp(o->kind, "pix2pixhd_global") || !strcmp(o->kind, "pix2pixhd_multidilated")) {
        rc = lm_pix2pixhd_gen_create(&g->p2p, p, o);
    } else {
        rc = lm_err_code(LM_ENOTSUP, "generator.kind: '%s' is not supported by lamac (supported: "
                         "ffc_resnet, pix2pixhd_global, pix2pixhd_multidilated)", o->kind);
    }
    if (rc) {
        free(g);
        return rc;
    }
    snprintf(g->kind, sizeof g->kind, "%s", o->kind);
    *out = g;
    return 0;
}

lt_tensor *lm_generator_forward(lm_generator *g, lt_tensor *x, int training) {
    if (!x) {
        lm_err_lt("generator forward: no input");
        return NULL;
    }
    lt_tensor *y = g->ffc ? lm_ffc_gen_forward(g->ffc, x, training)
                          : lm_pix2pixhd_gen_forward(g->p2p, x, training);
    if (!y) lm_err_lt("generator forward");
    return y;
}

int lm_generator_layers(const lm_generator *g) {
    return g->ffc ? lm_ffc_gen_layers(g->ffc) : lm_pix2pixhd_gen_layers(g->p2p);
}

const char *lm_generator_layer_kind(const lm_generator *g, int i) {
    return g->ffc ? lm_ffc_gen_layer_kind(g->ffc, i) : lm_pix2pixhd_gen_layer_kind(g->p2p, i);
}

int lm_generator_emit(const lm_generator *g, lm_graph *out) {
    int rc = g->ffc ? lm_ffc_gen_emit(g->ffc, out) : lm_pix2pixhd_gen_emit(g->p2p, out);
    if (rc < 0) lm_graph_free(out);
    return rc;
}

void lm_generator_free(lm_generator *g) {
    if (!g) return;
    lm_ffc_gen_free(g->ffc);
    lm_pix2pixhd_gen_free(g->p2p);
    free(g);
}

const char *lm_generator_kind(const lm_generator *g) { return g->kind; }

/* The split exists for ffc_resnet only: an error naming the kind otherwise. */
static int need_split(const lm_generator *g, const char *what) {
    if (g->ffc) return 0;
    return lm_err_code(LM_ENOTSUP, "generator %s: the refiner's front/rear split needs an "
                       "ffc_resnet generator, this one is %s (no (local, global) feature pair "
                       "before its residual blocks)", what, g->kind);
}

int lm_generator_front(lm_generator *g, lt_tensor *x, int training, lt_tensor **z_l, lt_tensor **z_g) {
    *z_l = *z_g = NULL;
    if (need_split(g, "front") < 0) return LM_ENOTSUP;
    if (lm_ffc_gen_front(g->ffc, x, training, z_l, z_g) < 0) return lm_err_lt("generator front");
    return 0;
}

lt_tensor *lm_generator_rear(lm_generator *g, lt_tensor *z_l, lt_tensor *z_g, int training) {
    if (need_split(g, "rear") < 0) return NULL;
    lt_tensor *y = lm_ffc_gen_rear(g->ffc, z_l, z_g, training);
    if (!y) lm_err_lt("generator rear");
    return y;
}

int lm_generator_rear_blocks(const lm_generator *g) {
    if (need_split(g, "rear") < 0) return -1;
    return lm_ffc_gen_blocks(g->ffc);
}

int lm_generator_rear_block(lm_generator *g, int i, lt_tensor *x_l, lt_tensor *x_g, int training,
                            lt_tensor **out_l, lt_tensor **out_g) {
    *out_l = *out_g = NULL;
    if (need_split(g, "rear") < 0) return LM_ENOTSUP;
    if (lm_ffc_gen_block(g->ffc, i, x_l, x_g, training, out_l, out_g) < 0)
        return lm_err_lt("generator rear block %d", i);
    return 0;
}

lt_tensor *lm_generator_rear_tail(lm_generator *g, lt_tensor *x_l, lt_tensor *x_g, int training) {
    if (need_split(g, "rear") < 0) return NULL;
    lt_tensor *y = lm_ffc_gen_tail(g->ffc, x_l, x_g, training);
    if (!y) lm_err_lt("generator rear tail");
    return y;
}
