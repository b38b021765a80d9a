/* vgg.h — torchvision's VGG `features` (torchvision/models/vgg.py, cfgs 'D' = vgg16 and
 * 'E' = vgg19, no batch norm): Conv2d 3x3 pad 1 (bias) + ReLU, MaxPool2d(2, 2) between
 * blocks, with its state_dict keys "<i>.weight" / "<i>.bias" (i = index in the Sequential)
 * under the caller's prefix ("features." for torchvision files). Only the first n_layers
 * modules are built (PerceptualLoss uses vgg[:30]); pooling can be replaced by
 * AvgPool2d(2, 2), as the official PerceptualLoss does. */
#ifndef LM_VGG_H
#define LM_VGG_H

#include "model/param.h"

typedef enum lm_vgg_layer_kind { LM_VGG_CONV = 1, LM_VGG_RELU, LM_VGG_POOL } lm_vgg_layer_kind;

typedef struct lm_vgg lm_vgg;

/* depth 16 or 19; n_layers 1..(31 for 16, 37 for 19); avg_pool 1 = AvgPool2d instead of
 * MaxPool2d. Parameters get torchvision's init (kaiming_normal_ fan_out relu, bias 0). */
int lm_vgg_create(lm_vgg **out, lm_params *p, int depth, int n_layers, int avg_pool);
int lm_vgg_n_layers(const lm_vgg *v);
lm_vgg_layer_kind lm_vgg_layer(const lm_vgg *v, int i);
/* Module i applied to x (N, C, H, W); NULL (message in lt_error()) on failure. */
lt_tensor *lm_vgg_layer_forward(const lm_vgg *v, int i, lt_tensor *x);
void lm_vgg_free(lm_vgg *v);

#endif
