/* resnet_pl.h — the high-receptive-field perceptual loss (official
 * saicinpainting/training/losses/perceptual.py ResNetPL): ImageNet mean/std normalisation, the
 * frozen ADE20k ResNet50-dilated encoder (model/resnet50.h), SUM over its four stages of
 * MSE(pred features, target features), times the weight.
 *
 * The official encoder's constructor calls .eval(), but Lightning 1.2 puts the whole module
 * back in training mode, so during official training its BatchNorm layers use batch
 * statistics (pred and target separately) and their running statistics drift (DESIGN §5).
 * bn_train = 1 does the same (the default, parity); bn_train = 0 is an eval-mode encoder
 * (a documented deviation). */
#ifndef LM_RESNET_PL_H
#define LM_RESNET_PL_H

#include "model/param.h"

typedef struct lm_resnet_pl_opts {
    double weight;            /* losses.resnet_pl.weight (30 in lama-fourier / big-lama) */
    char weights_path[4096];  /* losses.resnet_pl.weights_path: a directory holding
                                 ade20k/ade20k-<arch_encoder>-ppm_deepsup/encoder_epoch_20.pth
                                 (as the official code resolves it), or a file; "" = $TORCH_HOME */
    char arch_encoder[32];    /* "resnet50dilated" (default) | "resnet50" */
    int segmentation;         /* 1: ADE20k encoder weights; 0: ImageNet resnet50 weights */
    int bn_train;             /* 1 (official): batch statistics; 0: eval-mode encoder */
} lm_resnet_pl_opts;


typedef struct lm_resnet_pl lm_resnet_pl;

enum { LM_PL_RANDOM_IF_MISSING = 1 }; /* random encoder weights when the file is missing (benchmarks) */

/* Builds the encoder and loads its weights (non-strict, as the official code). A missing file
 * is an error naming the paths looked for and the command that fetches it, unless
 * LM_PL_RANDOM_IF_MISSING is given. */
int lm_resnet_pl_create(lm_resnet_pl **out, const lm_resnet_pl_opts *o, lt_dtype dt,
                        lt_device dev, int flags);
/* pred, target (N, 3, H, W) in [0, 1] -> 0-dim weighted loss. Gradient flows to pred only. */
lt_tensor *lm_resnet_pl_loss(lm_resnet_pl *pl, lt_tensor *pred, lt_tensor *target);
/* Same with the BatchNorm mode given per call (1 batch statistics, 0 running statistics),
 * whatever opts.bn_train says: official validation runs the LightningModule in eval mode, so
 * the val loss uses the encoder's (drifted) running statistics: call this with 0 there. */
lt_tensor *lm_resnet_pl_loss_mode(lm_resnet_pl *pl, lt_tensor *pred, lt_tensor *target,
                                  int bn_train);
/* The encoder's registry, keys as the official LightningModule's state_dict has them under
 * "loss_resnet_pl.": "impl.conv1.weight", "impl.layer1.0.bn1.running_mean", ... */
lm_params *lm_resnet_pl_params(lm_resnet_pl *pl);
/* Where the weights came from (a path, or "random (file missing)"). */
const char *lm_resnet_pl_source(const lm_resnet_pl *pl);
void lm_resnet_pl_free(lm_resnet_pl *pl);

#endif
