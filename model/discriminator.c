/* discriminator.c — PatchGAN discriminator `pix2pixhd_nlayer`, mirroring the official
 * NLayerDiscriminator (saicinpainting/training/modules/pix2pixhd.py):
 *   model0: Conv4x4 s2 p2 (input_nc -> ndf) + LeakyReLU 0.2
 *   model1..model{n-1}: Conv4x4 s2 p2 (nf -> min(2nf, 512)) + BatchNorm + LeakyReLU 0.2
 *   model{n}: Conv4x4 s1 p2 (-> min(2nf, 512)) + BatchNorm + LeakyReLU 0.2
 *   model{n+1}: Conv4x4 s1 p2 (-> 1)
 * Every conv has a bias and zero padding, as the official code. forward() returns the logits
 * (model{n+1}) and the activations of model0..model{n} (feature matching). */
#include "model/discriminator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/layers.h"
#include "model/lt_err.h"

#define LM_DISC_MAX_STAGES (LM_DISC_MAX_FEATS + 1)

typedef struct lm_disc_stage {
    lm_conv conv;
    lm_bn bn;
    int has_bn, has_act;
} lm_disc_stage;

struct lm_discriminator {
    int n_stages; /* n_layers + 2 */
    lm_disc_stage st[LM_DISC_MAX_STAGES];
};

static int stage_init(lm_disc_stage *s, lm_params *p, int idx, int cin, int cout, int stride,
                      int bn, int act) {
    lm_conv_opts co = lm_conv_defaults();
    co.stride = stride;
    co.padding = 2; /* int(ceil((4 - 1) / 2)) */
    s->has_bn = bn;
    s->has_act = act;
    lm_params_push(p, "model%d", idx);
    int rc = lm_conv_init(&s->conv, p, "0", cin, cout, 4, co);
    if (!rc && bn) rc = lm_bn_init(&s->bn, p, "1", cout);
    lm_params_pop(p);
    return rc;
}

int lm_discriminator_create(lm_discriminator **out, lm_params *p, const lm_discriminator_opts *o) {
    *out = NULL;
    if (strcmp(o->kind, "pix2pixhd_nlayer") != 0)
        return lm_err_code(LM_ENOTSUP, "discriminator: kind '%s' is not built by lamac "
                           "(supported: pix2pixhd_nlayer)", o->kind);
    if (o->n_layers < 1 || o->n_layers + 1 > LM_DISC_MAX_FEATS)
        return lm_err_code(LM_EINVAL, "discriminator: n_layers %d out of range 1..%d", o->n_layers,
                           LM_DISC_MAX_FEATS - 1);
    if (o->ndf < 1 || o->input_nc < 1)
        return lm_err_code(LM_EINVAL, "discriminator: ndf %d / input_nc %d must be positive",
                           o->ndf, o->input_nc);
    lm_discriminator *d = calloc(1, sizeof *d);
    if (!d) return lm_err_code(LM_ENOMEM, "discriminator: out of memory");
    d->n_stages = o->n_layers + 2;
    int nf = o->ndf, rc = stage_init(&d->st[0], p, 0, o->input_nc, o->ndf, 2, 0, 1);
    for (int n = 1; !rc && n < o->n_layers; n++) {
        int prev = nf;
        nf = nf * 2 < 512 ? nf * 2 : 512;
        rc = stage_init(&d->st[n], p, n, prev, nf, 2, 1, 1);
    }
    if (!rc) {
        int prev = nf;
        nf = nf * 2 < 512 ? nf * 2 : 512;
        rc = stage_init(&d->st[o->n_layers], p, o->n_layers, prev, nf, 1, 1, 1);
    }
    if (!rc) rc = stage_init(&d->st[o->n_layers + 1], p, o->n_layers + 1, nf, 1, 1, 0, 0);
    if (rc) {
        free(d);
        return lm_err_prefix("discriminator");
    }
    *out = d;
    return 0;
}

lt_tensor *lm_discriminator_forward(lm_discriminator *d, lt_tensor *x, int training,
                                    lt_tensor **feats, int *n_feats) {
    if (n_feats) *n_feats = 0;
    lt_tensor *h = x; /* (N, input_nc, H, W) */
    for (int i = 0; i < d->n_stages; i++) {
        const lm_disc_stage *s = &d->st[i];
        h = lm_conv_forward(&s->conv, h);
        if (s->has_bn) h = lm_bn_forward(&s->bn, h, training);
        if (s->has_act) h = lt_leaky_relu(h, 0.2);
        if (!h) {
            lm_err_lt("discriminator forward: model%d", i);
            return NULL;
        }
        if (i < d->n_stages - 1 && feats) feats[i] = h; /* model_i activation (N, C_i, h_i, w_i) */
    }
    if (n_feats) *n_feats = d->n_stages - 1;
    return h; /* (N, 1, h, w) logits */
}

void lm_discriminator_free(lm_discriminator *d) { free(d); }
