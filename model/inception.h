/* inception.h — the FID Inception network as pytorch-fid defines it (official
 * saicinpainting/evaluation/losses/fid/inception.py InceptionV3([3]) with fid_inception_v3():
 * torchvision's Inception3 with FIDInceptionA (Mixed_5b/c/d), FIDInceptionC (Mixed_6b..e),
 * FIDInceptionE_1 (Mixed_7b), FIDInceptionE_2 (Mixed_7c): average pools that exclude the
 * zero padding, and a max pool in Mixed_7c's pool branch). BasicConv2d = Conv (no bias) +
 * BatchNorm(eps 1e-3, eval mode) + ReLU.
 * Forward (block index 3, the 2048-d pool3 features): bilinear resize to 299x299
 * (align_corners False), 2x - 1, blocks 0..3, adaptive average pool to 1x1.
 * Registry keys as pt_inception-2015-12-05-6726825d.pth: Conv2d_1a_3x3.conv.weight,
 * Conv2d_1a_3x3.bn.{weight,bias,running_mean,running_var}, Mixed_5b.branch1x1.conv.weight...
 * (the file's fc.* are not used: load non-strict and require no missing key). */
#ifndef LM_INCEPTION_H
#define LM_INCEPTION_H

#include "model/layers.h"

typedef struct lm_inception lm_inception;

int lm_inception_create(lm_inception **out, lt_dtype dt, lt_device dev);
void lm_inception_free(lm_inception *n); /* accepts NULL */
lm_params *lm_inception_params(lm_inception *n);
/* x (N, 3, H, W) in [0, 1] -> (N, 2048) pool3 features (current scope). resize = 0 skips the
 * resize to 299 (tests on reduced inputs; the official evaluator always resizes). */
lt_tensor *lm_inception_features(const lm_inception *n, lt_tensor *x, int resize);

#endif
