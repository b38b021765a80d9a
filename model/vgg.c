/* vgg.c — torchvision VGG16/19 `features` (see vgg.h). */
#include "model/vgg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "model/layers.h"

#define VGG_MAX 37

struct lm_vgg {
    int n, avg_pool;
    lm_vgg_layer_kind kind[VGG_MAX];
    lm_conv conv[VGG_MAX];
};

void lm_vgg_free(lm_vgg *v) { free(v); }
int lm_vgg_n_layers(const lm_vgg *v) { return v->n; }
lm_vgg_layer_kind lm_vgg_layer(const lm_vgg *v, int i) { return v->kind[i]; }

int lm_vgg_create(lm_vgg **out, lm_params *p, int depth, int n_layers, int avg_pool) {
    static const int cfg16[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0,
                                512, 512, 512, 0};
    static const int cfg19[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512,
                                512, 0, 512, 512, 512, 512, 0};
    const int *cfg;
    int ncfg;
    *out = NULL;
    if (depth == 16)
        cfg = cfg16, ncfg = (int)(sizeof cfg16 / sizeof *cfg16);
    else if (depth == 19)
        cfg = cfg19, ncfg = (int)(sizeof cfg19 / sizeof *cfg19);
    else
        return lm_err_code(LM_ENOTSUP, "vgg: depth %d not supported (16, 19)", depth);
    lm_vgg *v = calloc(1, sizeof *v);
    if (!v) return lm_err_code(LM_ENOMEM, "vgg: out of memory");
    v->avg_pool = avg_pool;
    int cin = 3, rc = 0;
    for (int c = 0; c < ncfg && v->n < n_layers && !rc; c++) {
        if (!cfg[c]) {
            v->kind[v->n++] = LM_VGG_POOL;
            continue;
        }
        lm_conv_opts o = lm_conv_defaults();
        o.padding = 1;
        char name[16];
        snprintf(name, sizeof name, "%d", v->n);
        rc = lm_conv_init(&v->conv[v->n], p, name, cin, cfg[c], 3, o);
        if (!rc) { /* nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu'); bias 0 */
            int64_t s[4] = {cfg[c], cin, 3, 3};
            lt_scope_push();
            lt_no_grad_push();
            if (!lt_copy_(v->conv[v->n].w, lt_mul_scalar(lt_randn(s, 4, p->dtype, p->device),
                                                         sqrt(2.0 / (cfg[c] * 9.0)))) ||
                !lt_zero_(v->conv[v->n].b))
                rc = lm_err_set("vgg init: %s", lt_error());
            lt_no_grad_pop();
            lt_scope_pop();
        }
        v->kind[v->n++] = LM_VGG_CONV;
        if (v->n < n_layers) v->kind[v->n++] = LM_VGG_RELU;
        cin = cfg[c];
    }
    if (!rc && v->n < n_layers)
        rc = lm_err_code(LM_EINVAL, "vgg%d: %d layers asked, it has %d", depth, n_layers, v->n);
    if (rc) {
        free(v);
        return lm_err_prefix("vgg%d", depth);
    }
    *out = v;
    return 0;
}

lt_tensor *lm_vgg_layer_forward(const lm_vgg *v, int i, lt_tensor *x) {
    switch (v->kind[i]) {
    case LM_VGG_CONV: return lm_conv_forward(&v->conv[i], x);
    case LM_VGG_RELU: return lt_relu(x);
    case LM_VGG_POOL:
        return v->avg_pool ? lt_avg_pool2d(x, 2, 2, 0, 0, 1) : lt_max_pool2d(x, 2, 2, 0, 1, 0);
    }
    return NULL;
}
