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

lt_tensor *lm_bn_forward(const lm_bn *bn, lt_tensor *x, int training) {
    if (training && x) {
        lt_no_grad_push();
        lt_add_scalar_(bn->nbt, 1);
        lt_no_grad_pop();
    }
    return lt_batch_norm(x, bn->w, bn->b, bn->mean, bn->var, training, bn->momentum, bn->eps);
}
