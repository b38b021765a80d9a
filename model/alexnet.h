/* alexnet.h — torchvision's AlexNet `features` (the LPIPS 'alex' backbone, official
 * saicinpainting/evaluation/losses/lpips.py class alexnet): Conv 11x11/4 (3->64) ReLU MaxPool,
 * Conv 5x5 (64->192) ReLU MaxPool, Conv 3x3 (192->384) ReLU, Conv 3x3 (384->256) ReLU,
 * Conv 3x3 (256->256) ReLU. Registry keys as torchvision's state_dict:
 * features.{0,3,6,8,10}.{weight,bias} (alexnet-owt-7be5be79.pth loads under prefix ""). */
#ifndef LM_ALEXNET_H
#define LM_ALEXNET_H

#include "model/layers.h"

typedef struct lm_alexnet {
    lm_params p;
    lm_conv conv[5];
} lm_alexnet;

int lm_alexnet_init(lm_alexnet *a, lt_dtype dt, lt_device dev);
void lm_alexnet_free(lm_alexnet *a); /* accepts NULL */
/* The five LPIPS slices' outputs relu1..relu5: x (N, 3, H, W) -> out[0..4]
 * (N, 64|192|384|256|256, h_k, w_k). Returns 0 or -1 (lt_error()). */
int lm_alexnet_slices(const lm_alexnet *a, lt_tensor *x, lt_tensor **out);

#endif
