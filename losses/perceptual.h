/* perceptual.h — what the two perceptual losses (resnet_pl.h, vgg_pl.h) share, as the
 * official saicinpainting/training/losses/perceptual.py shares it between ResNetPL and
 * PerceptualLoss: the frozen network's parameter registry, the ImageNet normalisation of
 * the inputs (IMAGENET_MEAN, IMAGENET_STD), where the weights came from, and handing the
 * loss out of the scope the loss function opened. */
#ifndef LM_PERCEPTUAL_H
#define LM_PERCEPTUAL_H

#include "model/param.h"

typedef struct lm_perceptual {
    lm_params params;      /* the frozen network's registry */
    lt_tensor *mean, *std; /* (1, 3, 1, 1), owned */
    char source[4200];     /* where the weights came from (lm_pretrained_attach) */
} lm_perceptual;

/* Creates the ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) as
 * (1, 3, 1, 1) tensors of dt on dev, kept outside the current scope (call it inside one: the
 * float32 staging tensors belong to it). On failure the shim's message gets the prefix who;
 * what was created is freed by lm_perceptual_free. */
int lm_perceptual_norm_init(lm_perceptual *pc, lt_dtype dt, lt_device dev, const char *who);
/* Checks a loss's inputs: pred and target both (N, 3, H, W); with_mask: mask (N, 1, H, W) or
 * NULL. 0, or -1 with the shim's error set, naming who ("resnet_pl: pred ... and target ...
 * must both be (N, 3, H, W)", with ", mask ... (N, 1, H, W) or none" when with_mask). */
int lm_perceptual_check(const char *who, int with_mask, lt_tensor *pred, lt_tensor *target,
                        lt_tensor *mask);
/* (x - mean) / std. */ // (N, 3, H, W)
lt_tensor *lm_perceptual_normalize(const lm_perceptual *pc, lt_tensor *x);
/* Pops the scope the loss function pushed and returns res (kept inside it) as a tensor of
 * the caller's scope; NULL stays NULL. */
lt_tensor *lm_perceptual_scope_end(lt_tensor *res);
/* Frees the registry, mean and std (not pc itself). */
void lm_perceptual_free(lm_perceptual *pc);

#endif
