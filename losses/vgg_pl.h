/* vgg_pl.h — the VGG19 perceptual loss of the ablation configs (official
 * saicinpainting/training/losses/perceptual.py PerceptualLoss, torchvision vgg19 features,
 * weights vgg19-dcbb9e9d.pth), used by the trainer as loss(pred, img, mask).sum() * weight. */
#ifndef LM_VGG_PL_H
#define LM_VGG_PL_H

#include "model/param.h"

typedef struct lm_vgg_pl_opts {
    double weight;           /* losses.perceptual.weight (0 in the main configs) */
    int normalize_inputs;    /* ImageNet mean/std first (official default true) */
    char weights_path[4096]; /* a file; "" = $TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth */
} lm_vgg_pl_opts;


typedef struct lm_vgg_pl lm_vgg_pl;

/* flags: LM_PL_RANDOM_IF_MISSING (losses/resnet_pl.h). */
int lm_vgg_pl_create(lm_vgg_pl **out, const lm_vgg_pl_opts *o, lt_dtype dt, lt_device dev,
                     int flags);
/* pred, target (N, 3, H, W) in [0, 1]; mask (N, 1, H, W) or NULL -> 0-dim weighted loss. */
lt_tensor *lm_vgg_pl_loss(lm_vgg_pl *pl, lt_tensor *pred, lt_tensor *target, lt_tensor *mask);
const char *lm_vgg_pl_source(const lm_vgg_pl *pl);
/* The VGG registry, keys as the official LightningModule's state_dict has them under
 * "loss_pl.": "vgg.0.weight", "vgg.0.bias", ..., "vgg.28.bias" (frozen). */
lm_params *lm_vgg_pl_params(lm_vgg_pl *pl);
void lm_vgg_pl_free(lm_vgg_pl *pl);

#endif
