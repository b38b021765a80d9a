/* resnet50.h — the "deep stem" ResNet50 encoder of the ADE20k segmentation models that LaMa's
 * ResNetPL uses (official models/ade20k/resnet.py ResNet(Bottleneck, [3, 4, 6, 3]) wrapped by
 * models/ade20k/base.py ResnetDilated (dilate_scale 8) or Resnet):
 *   conv1 3x3 s2 (3->64) bn1 relu, conv2 3x3 (64->64) bn2 relu, conv3 3x3 (64->128) bn3 relu,
 *   maxpool 3 s2 p1, layer1..layer4 of Bottlenecks (expansion 4, downsample conv1x1 + BN).
 * "resnet50dilated": ResnetDilated._nostride_dilate on layer3 (dilate 2) and layer4 (dilate 4):
 * stride-2 convs become stride 1 (a 3x3 one gets dilation = padding = dilate/2), every other
 * 3x3 conv gets dilation = padding = dilate. "resnet50": strides kept.
 * Keys are registered under the caller's prefix: conv1.weight, bn1.*, layer1.0.conv1.weight,
 * layer1.0.downsample.0.weight, layer1.0.downsample.1.*, ... (no avgpool/fc: the encoder drops
 * them). Parameters get the official init (conv N(0, sqrt(2 / (k*k*Cout))), BN 1/0). */
#ifndef LM_RESNET50_H
#define LM_RESNET50_H

#include "model/param.h"

typedef struct lm_resnet50 lm_resnet50;

/* arch: "resnet50dilated" or "resnet50" (anything else: LM_ENOTSUP naming it). */
int lm_resnet50_create(lm_resnet50 **out, lm_params *p, const char *arch);
/* x (N, 3, H, W) -> feats[0..3] = outputs of layer1..layer4 (return_feature_maps=True):
 * (N, 256, H/4, W/4), (N, 512, H/8, W/8), (N, 1024, H/8 or H/16, ..), (N, 2048, H/8 or H/32, ..)
 * (sizes rounded as the convolutions do), owned by the current scope. training = 1: BN with
 * batch statistics, running statistics advanced. Returns 0, or -1 with the message in
 * lt_error(). */
int lm_resnet50_forward(const lm_resnet50 *r, lt_tensor *x, int training, lt_tensor *feats[4]);
int lm_resnet50_dilated(const lm_resnet50 *r);
void lm_resnet50_free(lm_resnet50 *r);

#endif
