/* discriminator.h — PatchGAN discriminators (official pix2pixhd.py):
 *   pix2pixhd_nlayer               NLayerDiscriminator (ndf 64, n_layers 4)
 *   pix2pixhd_nlayer_multidilated  MultidilatedNLayerDiscriminator (optional)
 * Keys registered without the "discriminator." prefix: "model0.0.weight", ... */
#ifndef LM_DISCRIMINATOR_H
#define LM_DISCRIMINATOR_H

#include "model/param.h"

typedef struct lm_discriminator_opts {
    char kind[40];
    int input_nc, ndf, n_layers;
} lm_discriminator_opts;


typedef struct lm_discriminator lm_discriminator;

#define LM_DISC_MAX_FEATS 8

int lm_discriminator_create(lm_discriminator **out, lm_params *p, const lm_discriminator_opts *o);
/* x (N, 3, H, W) -> logits (N, 1, h, w); feats[0..*n_feats) are the activations of
 * model0 .. model{n_layers} (for feature matching), owned by the current scope.
 * NULL on failure, with the lm_err message set ("discriminator forward: modelI: <shim
 * message>", code LM_ETORCH; see model/lt_err.h). */
lt_tensor *lm_discriminator_forward(lm_discriminator *d, lt_tensor *x, int training,
                                    lt_tensor **feats, int *n_feats);
void lm_discriminator_free(lm_discriminator *d);

#endif
