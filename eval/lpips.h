/* lpips.h — LPIPS 'net-lin', version 0.1 (official saicinpainting/evaluation/losses/lpips.py
 * PerceptualLoss -> DistModel -> PNetLin, as LPIPSScore uses it): inputs in [0, 1] mapped to
 * [-1, 1], the ScalingLayer ((x - shift) / scale, shift (-.030, -.088, -.188), scale (.458,
 * .448, .450)), backbone slices (AlexNet relu1..5 or VGG16 relu1_2..relu5_3), each feature
 * normalised over channels (x / (sqrt(sum x^2) + 1e-10)), squared difference, the learned
 * 1x1 conv lin_k (no bias; Dropout is inactive in eval), spatial mean, sum over the layers.
 * Linear layers: the official legacy files (weights/lpips/{alex,vgg}.pth, keys
 * lin{0..4}.model.1.weight). Backbone: torchvision's state_dict (features.N.weight). */
#ifndef LM_LPIPS_H
#define LM_LPIPS_H

#include <stddef.h>

#include "model/param.h"

typedef enum lm_lpips_net { LM_LPIPS_VGG = 0, LM_LPIPS_ALEX = 1 } lm_lpips_net;

typedef struct lm_lpips lm_lpips;

/* Builds the network with zero weights (load them with lm_lpips_load or fill the registries). */
int lm_lpips_create(lm_lpips **out, lm_lpips_net net, lt_dtype dt, lt_device dev);
void lm_lpips_free(lm_lpips *l); /* accepts NULL */
/* backbone: a torchvision-layout file (.pth / safetensors) or NULL for
 * $TORCH_HOME/hub/checkpoints/<torch hub name>; lin: the LPIPS linear-layer file. A missing
 * backbone file fails with LM_EIO and a message naming the path and the fetch script. */
int lm_lpips_load(lm_lpips *l, const char *backbone, const char *lin);
lm_params *lm_lpips_backbone(lm_lpips *l); /* keys features.N.{weight,bias} */
/* $TORCH_HOME/hub/checkpoints/{alexnet-owt-7be5be79,vgg16-397923af}.pth */
int lm_lpips_default_backbone(char *out, size_t cap, lm_lpips_net net);
/* The shipped LPIPS linear layers NET.pth ("vgg" / "alex"): beside the binary's tree
 * (build/lamac -> weights/lpips, or ../share/lamac/weights/lpips), else ./weights/lpips.
 * Not found: LM_EIO naming where it looked. */
int lm_lpips_find_lin(char *out, size_t cap, const char *net);
lm_params *lm_lpips_lin(lm_lpips *l);      /* keys lin{0..4}.model.1.weight */
const char *lm_lpips_net_name(lm_lpips_net net); /* "vgg" | "alex" */
/* pred, target (N, 3, H, W) in [0, 1] -> (N) distances (current scope). */
lt_tensor *lm_lpips_forward(const lm_lpips *l, lt_tensor *pred, lt_tensor *target);

#endif
