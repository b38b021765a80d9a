/* layers.c — Conv2d, ConvTranspose2d, BatchNorm2d over the shim (torch.nn equivalents). */
#include "model/layers.h"

#include <math.h>
#include <stdio.h>

#include "core/err.h"

static void join(char *out, size_t cap, const char *name, const char *leaf) {
    snprintf(out, cap, "%s%s%s", name, name[0] ? "." : "", leaf);
}

/* kaiming_uniform_(a=sqrt(5)) and the default bias init both reduce to U(-1/sqrt(fan_in), +). */
static lt_tensor *uniform_param(lm_params *p, const int64_t *shape, int n, double fan_in) {
    double bound = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0;
    return lt_uniform_(lt_empty(shape, n, p->dtype, p->device), -bound, bound);
}

lm_conv_opts lm_conv_defaults(void) {
    return (lm_conv_opts){.stride = 1, .padding = 0, .dilation = 1, .groups = 1, .bias = 1,
                          .pad_mode = LT_PAD_CONSTANT};
}

int lm_conv_init(lm_conv *c, lm_params *p, const char *name, int cin, int cout, int k,
                 lm_conv_opts o) {
    char key[160];
    if (o.groups < 1 || cin % o.groups || cout % o.groups)
        return lm_err_set("conv %s%s: %d/%d channels not divisible by groups %d", p->prefix, name,
                          cin, cout, o.groups);
    *c = (lm_conv){NULL, NULL, k, o.stride, o.padding, o.dilation, o.groups, o.pad_mode};
    int64_t ws[4] = {cout, cin / o.groups, k, k}, bs[1] = {cout};
    double fan_in = (double)(cin / o.groups) * k * k;
    join(key, sizeof key, name, "weight");
    if (!(c->w = lm_params_add(p, key, uniform_param(p, ws, 4, fan_in), LM_PARAM))) return LM_EFAIL;
    if (o.bias) {
        join(key, sizeof key, name, "bias");
        if (!(c->b = lm_params_add(p, key, uniform_param(p, bs, 1, fan_in), LM_PARAM))) return LM_EFAIL;
    }
    return 0;
}

lt_tensor *lm_conv_forward(const lm_conv *c, lt_tensor *x) {
    if (c->pad_mode != LT_PAD_CONSTANT && c->padding > 0) {
        int64_t pad[4] = {c->padding, c->padding, c->padding, c->padding};
        lt_tensor *xp = lt_pad(x, pad, 4, c->pad_mode, 0); /* (N, Cin, H+2p, W+2p) */
        lt_tensor *y = lt_conv2d(xp, c->w, c->b, c->stride, 0, c->dilation, c->groups);
        lt_free(xp); /* freed now, not at the end of the scope (autograd keeps what it needs) */
        return y;
    }
    return lt_conv2d(x, c->w, c->b, c->stride, c->padding, c->dilation, c->groups);
}

int lm_conv_emit(const lm_conv *c, lm_graph *g, int x, const char *what) {
    int64_t pad = c->padding;
    if (c->pad_mode != LT_PAD_CONSTANT && c->padding > 0) {
        x = lm_graph_pad(g, x, c->padding, c->pad_mode);
        pad = 0;
    }
    lm_gnode n = {.op = LM_GOP_CONV, .n_in = 1, .in = {x}, .c = (int)lt_size(c->w, 0), .w = c->w,
                  .b = c->b, .a = {c->stride, pad, c->dilation, c->groups}, .what = what};
    return lm_graph_add(g, n);
}

int lm_convt_init(lm_convt *c, lm_params *p, const char *name, int cin, int cout, int k,
                  int stride, int padding, int output_padding, int bias) {
    char key[160];
    *c = (lm_convt){NULL, NULL, k, stride, padding, output_padding, 1, 1};
    int64_t ws[4] = {cin, cout, k, k}, bs[1] = {cout};
    double fan_in = (double)cout * k * k; /* PyTorch computes fan_in from weight dim 1 */
    join(key, sizeof key, name, "weight");
    if (!(c->w = lm_params_add(p, key, uniform_param(p, ws, 4, fan_in), LM_PARAM))) return LM_EFAIL;
    if (bias) {
        join(key, sizeof key, name, "bias");
        if (!(c->b = lm_params_add(p, key, uniform_param(p, bs, 1, fan_in), LM_PARAM))) return LM_EFAIL;
    }
    return 0;
}

lt_tensor *lm_convt_forward(const lm_convt *c, lt_tensor *x) {
    return lt_conv_transpose2d(x, c->w, c->b, c->stride, c->padding, c->output_padding, c->groups,
                               c->dilation);
}

int lm_convt_emit(const lm_convt *c, lm_graph *g, int x, const char *what) {
    lm_gnode n = {.op = LM_GOP_CONVT, .n_in = 1, .in = {x}, .c = (int)(lt_size(c->w, 1) * c->groups),
                  .w = c->w, .b = c->b, .what = what,
                  .a = {c->stride, c->padding, c->output_padding, c->groups, c->dilation}};
    return lm_graph_add(g, n);
}

int lm_bn_init(lm_bn *bn, lm_params *p, const char *name, int c) {
    char key[160];
    int64_t s[1] = {c};
    *bn = (lm_bn){.momentum = 0.1, .eps = 1e-5};
    struct { const char *leaf; lt_tensor **dst; lt_tensor *t; lm_param_kind kind; } items[5] = {
        {"weight", &bn->w, lt_ones(s, 1, p->dtype, p->device), LM_PARAM},
        {"bias", &bn->b, lt_zeros(s, 1, p->dtype, p->device), LM_PARAM},
        {"running_mean", &bn->mean, lt_zeros(s, 1, p->dtype, p->device), LM_BUFFER},
        {"running_var", &bn->var, lt_ones(s, 1, p->dtype, p->device), LM_BUFFER},
        {"num_batches_tracked", &bn->nbt, lt_zeros(NULL, 0, LT_I64, p->device), LM_BUFFER},
    };
    int rc = 0;
    for (int i = 0; i < 5; i++) {
        if (rc) {
            lt_free(items[i].t);
            continue;
        }
        join(key, sizeof key, name, items[i].leaf);
        if (!(*items[i].dst = lm_params_add(p, key, items[i].t, items[i].kind))) rc = LM_EFAIL;
    }
    return rc;
}

static _Thread_local lt_pgroup *g_sync_bn;

void lm_bn_set_sync_group(lt_pgroup *g) { g_sync_bn = g; }
lt_pgroup *lm_bn_sync_group(void) { return g_sync_bn; }

/* SyncBatchNorm in training mode over g (layers.h). x (N, C, ...) */
static lt_tensor *bn_sync_forward(const lm_bn *bn, lt_tensor *x, lt_pgroup *g) {
    int nd = lt_dim(x);
    if (nd < 2) return NULL; /* message set by lt_dim for NULL */
    int64_t c = lt_size(x, 1), dims[8];
    int nr = 0;
    for (int i = 0; i < nd && nr < 8; i++)
        if (i != 1) dims[nr++] = i;
    int64_t one[1] = {1}, cshape[8] = {1, c, 1, 1, 1, 1, 1, 1};
    lt_tensor *xs = lt_to_dtype(x, LT_F64); // (N, C, H, W) in float64 for the sums
    lt_tensor *parts[3] = {
        lt_sum_dims(xs, dims, nr, 0),                                            // (C)
        lt_sum_dims(lt_mul(xs, xs), dims, nr, 0),                                // (C)
        lt_full(one, 1, (double)(lt_numel(x) / (c > 0 ? c : 1)), LT_F64, lt_device_of(x)), // (1)
    };
    lt_tensor *tot = lt_pgroup_allreduce_sum_grad(g, lt_cat(parts, 3, 0)); // (2C + 1), all ranks
    if (!tot) return NULL;
    double n = lt_item(lt_narrow(tot, 0, 2 * c, 1));
    if (!(n > 1)) {
        char msg[128];
        snprintf(msg, sizeof msg, "SyncBatchNorm: expected more than 1 value per channel over all ranks, got %g", n);
        lt_set_error(msg);
        return NULL;
    }
    lt_tensor *mean = lt_mul_scalar(lt_narrow(tot, 0, 0, c), 1.0 / n);                         // (C)
    lt_tensor *var = lt_sub(lt_mul_scalar(lt_narrow(tot, 0, c, c), 1.0 / n), lt_mul(mean, mean)); // (C), biased
    lt_tensor *scale = lt_pow_scalar(lt_add_scalar(var, bn->eps), -0.5);                        // (C)
    if (bn->w) scale = lt_mul(scale, lt_to_dtype(bn->w, LT_F64));
    lt_tensor *shift = lt_neg(lt_mul(mean, scale));                                           // (C)
    if (bn->b) shift = lt_add(shift, lt_to_dtype(bn->b, LT_F64));
    lt_dtype xt = lt_type(x);
    lt_tensor *y = lt_add(lt_mul(x, lt_reshape(lt_to_dtype(scale, xt), cshape, nd)),
                          lt_reshape(lt_to_dtype(shift, xt), cshape, nd)); // (N, C, H, W)
    if (!y) return NULL;
    if (bn->mean && bn->var) {
        double m = bn->momentum;
        lt_no_grad_push();
        lt_tensor *ok = lt_add_(lt_mul_scalar_(bn->mean, 1 - m), lt_to_dtype(mean, lt_type(bn->mean)), m);
        if (ok) ok = lt_add_(lt_mul_scalar_(bn->var, 1 - m), lt_to_dtype(lt_mul_scalar(var, n / (n - 1)),
                                                                     lt_type(bn->var)), m);
        lt_no_grad_pop();
        if (!ok) return NULL;
    }
    return y;
}

lt_tensor *lm_bn_forward(const lm_bn *bn, lt_tensor *x, int training) {
    if (training && x) {
        lt_no_grad_push();
        lt_add_scalar_(bn->nbt, 1);
        lt_no_grad_pop();
    }
    if (training && g_sync_bn && lt_pgroup_size(g_sync_bn) > 1) return bn_sync_forward(bn, x, g_sync_bn);
    return lt_batch_norm(x, bn->w, bn->b, bn->mean, bn->var, training, bn->momentum, bn->eps);
}

int lm_bn_emit(const lm_bn *bn, lm_graph *g, int x, const char *what) {
    lm_gnode n = {.op = LM_GOP_BN, .n_in = 1, .in = {x}, .c = (int)lt_size(bn->mean, 0), .w = bn->w,
                  .b = bn->b, .mean = bn->mean, .var = bn->var, .eps = bn->eps, .what = what};
    return lm_graph_add(g, n);
}
