/* layers.h — the basic layers every network is built from: Conv2d (zeros or reflect
 * padding mode), ConvTranspose2d and BatchNorm2d, with PyTorch's default initialisation
 * and state_dict names (weight, bias, running_mean, running_var, num_batches_tracked).
 * Each layer registers its tensors in an lm_params under the current prefix + `name`. */
#ifndef LM_LAYERS_H
#define LM_LAYERS_H

#include "model/graph.h"
#include "model/param.h"

typedef struct lm_conv {
    lt_tensor *w, *b; /* w (Cout, Cin/groups, k, k); b (Cout) or NULL; owned by the registry */
    int k, stride, padding, dilation, groups;
    lt_pad_mode pad_mode; /* LT_PAD_CONSTANT (zeros) or LT_PAD_REFLECT, as Conv2d padding_mode */
} lm_conv;

typedef struct lm_conv_opts {
    int stride, padding, dilation, groups, bias;
    lt_pad_mode pad_mode;
} lm_conv_opts;

/* Default: stride 1, padding 0, dilation 1, groups 1, bias on, zero padding. */
lm_conv_opts lm_conv_defaults(void);

/* Conv2d: registers "<name>.weight" (and "<name>.bias"). name may be "" for the
 * current prefix itself (e.g. "model.0" layers register "model.0.weight"). */
int lm_conv_init(lm_conv *c, lm_params *p, const char *name, int cin, int cout, int k,
                 lm_conv_opts o);
lt_tensor *lm_conv_forward(const lm_conv *c, lt_tensor *x); /* (N,Cin,H,W) -> (N,Cout,H',W') */
/* The graph twins of the forwards (model/graph.h): append the eval-mode computation to g after
 * node x, return the new id (what: the module name for messages, static storage). */
int lm_conv_emit(const lm_conv *c, lm_graph *g, int x, const char *what);

typedef struct lm_convt {
    lt_tensor *w, *b; /* w (Cin, Cout/groups, k, k) as PyTorch stores it; b (Cout) or NULL */
    int k, stride, padding, output_padding, groups, dilation;
} lm_convt;

/* ConvTranspose2d with PyTorch's default init (fan_in from weight dim 1). */
int lm_convt_init(lm_convt *c, lm_params *p, const char *name, int cin, int cout, int k,
                  int stride, int padding, int output_padding, int bias);
lt_tensor *lm_convt_forward(const lm_convt *c, lt_tensor *x);
int lm_convt_emit(const lm_convt *c, lm_graph *g, int x, const char *what);

typedef struct lm_bn {
    lt_tensor *w, *b, *mean, *var, *nbt; /* (C) x4, num_batches_tracked () I64 */
    double momentum, eps;
} lm_bn;

/* BatchNorm2d(C): weight 1, bias 0, running mean 0 / var 1, momentum 0.1, eps 1e-5. */
int lm_bn_init(lm_bn *bn, lm_params *p, const char *name, int c);
/* training=1: batch statistics, running stats and num_batches_tracked updated as PyTorch.
 * With a SyncBatchNorm group set on this thread (lm_bn_set_sync_group) and training=1, the
 * batch statistics are those of the batches of every rank together. */
lt_tensor *lm_bn_forward(const lm_bn *bn, lt_tensor *x, int training);
int lm_bn_emit(const lm_bn *bn, lm_graph *g, int x, const char *what); /* eval mode: running statistics */

/* SyncBatchNorm (torch.nn.SyncBatchNorm; trainer.sync_bn): while a group of world size > 1
 * is set on this thread, every lm_bn_forward in training mode computes the per-channel sum,
 * sum of squares and count of its input (in float64), adds them over the group's ranks with
 * the differentiable all-reduce (lt_pgroup_allreduce_sum_grad), and normalises with the
 * global mean and biased variance; the running statistics take the global mean and the
 * unbiased global variance (momentum as BatchNorm2d). Gradients (and the gradient of a
 * gradient, R1) flow across ranks through the all-reduce. Eval mode and NULL (the default)
 * are plain BatchNorm. Every rank must run the same BatchNorm layers in the same order, and
 * the backward of every loss that depends on them. A group of more than 1 value per channel
 * in total is required (an error otherwise). The group is borrowed. */
void lm_bn_set_sync_group(lt_pgroup *g);
lt_pgroup *lm_bn_sync_group(void);

#endif
