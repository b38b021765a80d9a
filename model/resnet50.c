/* resnet50.c — the deep-stem ResNet50 encoder of official models/ade20k (resnet.py ResNet,
 * Bottleneck; base.py ResnetDilated / Resnet), see resnet50.h. */
#include "model/resnet50.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"
#include "model/layers.h"

typedef struct rn_block {
    lm_conv c1, c2, c3, ds;
    lm_bn b1, b2, b3, dsb;
    int has_ds;
} rn_block;

enum { RN_BLOCKS = 3 + 4 + 6 + 3 };

struct lm_resnet50 {
    int dilated;
    lm_conv conv1, conv2, conv3;
    lm_bn bn1, bn2, bn3;
    rn_block blocks[RN_BLOCKS];
    int stage_end[4]; /* index one past the last block of each stage */
};

void lm_resnet50_free(lm_resnet50 *r) { free(r); }

int lm_resnet50_dilated(const lm_resnet50 *r) { return r ? r->dilated : 0; }

/* resnet.py: m.weight.data.normal_(0, math.sqrt(2. / n)), n = k * k * out_channels. */
static int normal_init(lt_tensor *w, int k, int cout) {
    int64_t s[4];
    int nd = lt_shape(w, s, 4);
    if (nd != 4) return lm_err_lt("resnet50 init");
    lt_scope_push();
    lt_no_grad_push();
    lt_tensor *r = lt_randn(s, 4, lt_type(w), lt_device_of(w));
    int rc = lt_copy_(w, lt_mul_scalar(r, sqrt(2.0 / ((double)k * k * cout)))) ? 0
             : lm_err_lt("resnet50 init");
    lt_no_grad_pop();
    lt_scope_pop();
    return rc;
}

static int conv_bn(lm_conv *c, lm_bn *bn, lm_params *p, const char *cname, const char *bname,
                   int cin, int cout, int k, int stride, int pad, int dil) {
    lm_conv_opts o = lm_conv_defaults();
    o.bias = 0;
    o.stride = stride;
    o.padding = pad;
    o.dilation = dil;
    int rc = lm_conv_init(c, p, cname, cin, cout, k, o);
    if (!rc) rc = normal_init(c->w, k, cout);
    if (!rc) rc = lm_bn_init(bn, p, bname, cout);
    return rc;
}

/* ResNet._make_layer + ResnetDilated._nostride_dilate(dilate) when dilate > 1. */
static int make_stage(lm_resnet50 *r, lm_params *p, int stage, int *bi, int *inplanes, int planes,
                      int blocks, int stride, int dilate) {
    int rc = 0;
    lm_params_push(p, "layer%d", stage + 1);
    for (int j = 0; j < blocks && !rc; j++) {
        rn_block *b = &r->blocks[(*bi)++];
        int s = j == 0 ? stride : 1, dil = 1;
        int ds = j == 0 && (stride != 1 || *inplanes != planes * 4);
        if (dilate > 1) {
            if (s == 2) {
                s = 1;
                dil = dilate / 2; /* the strided 3x3 conv: half the dilation */
            } else {
                dil = dilate;
            }
        }
        lm_params_push(p, "%d", j);
        rc = conv_bn(&b->c1, &b->b1, p, "conv1", "bn1", *inplanes, planes, 1, 1, 0, 1);
        if (!rc) rc = conv_bn(&b->c2, &b->b2, p, "conv2", "bn2", planes, planes, 3, s, dil, dil);
        if (!rc) rc = conv_bn(&b->c3, &b->b3, p, "conv3", "bn3", planes, planes * 4, 1, 1, 0, 1);
        b->has_ds = ds;
        if (!rc && ds) /* the 1x1 downsample conv loses its stride too when dilated */
            rc = conv_bn(&b->ds, &b->dsb, p, "downsample.0", "downsample.1", *inplanes, planes * 4,
                         1, dilate > 1 ? 1 : stride, 0, 1);
        lm_params_pop(p);
        *inplanes = planes * 4;
    }
    lm_params_pop(p);
    r->stage_end[stage] = *bi;
    return rc;
}

int lm_resnet50_create(lm_resnet50 **out, lm_params *p, const char *arch) {
    *out = NULL;
    int dilated;
    if (!strcmp(arch, "resnet50dilated"))
        dilated = 1;
    else if (!strcmp(arch, "resnet50"))
        dilated = 0;
    else
        return lm_err_code(LM_ENOTSUP, "resnet50: arch_encoder '%s' not supported "
                           "(resnet50dilated, resnet50)", arch);
    lm_resnet50 *r = calloc(1, sizeof *r);
    if (!r) return lm_err_code(LM_ENOMEM, "resnet50: out of memory");
    r->dilated = dilated;
    int rc = conv_bn(&r->conv1, &r->bn1, p, "conv1", "bn1", 3, 64, 3, 2, 1, 1);
    if (!rc) rc = conv_bn(&r->conv2, &r->bn2, p, "conv2", "bn2", 64, 64, 3, 1, 1, 1);
    if (!rc) rc = conv_bn(&r->conv3, &r->bn3, p, "conv3", "bn3", 64, 128, 3, 1, 1, 1);
    int bi = 0, inplanes = 128;
    if (!rc) rc = make_stage(r, p, 0, &bi, &inplanes, 64, 3, 1, 1);
    if (!rc) rc = make_stage(r, p, 1, &bi, &inplanes, 128, 4, 2, 1);
    if (!rc) rc = make_stage(r, p, 2, &bi, &inplanes, 256, 6, 2, dilated ? 2 : 1);
    if (!rc) rc = make_stage(r, p, 3, &bi, &inplanes, 512, 3, 2, dilated ? 4 : 1);
    if (rc) {
        free(r);
        return lm_err_prefix("resnet50");
    }
    *out = r;
    return 0;
}

/* relu?(bn(conv(x))), intermediates' handles freed (autograd keeps what it needs). */
static lt_tensor *cbr(const lm_conv *c, const lm_bn *bn, lt_tensor *x, int training, int relu) {
    lt_tensor *y = lm_conv_forward(c, x);
    lt_tensor *z = lm_bn_forward(bn, y, training);
    lt_free(y);
    return relu ? lt_relu_(z) : z; /* in place, as the official ReLU(inplace=True) */
}

/* Bottleneck.forward: relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1 x)))))) + residual). */
static lt_tensor *block_forward(const rn_block *b, lt_tensor *x, int training) {
    lt_tensor *h1 = cbr(&b->c1, &b->b1, x, training, 1);
    lt_tensor *h2 = cbr(&b->c2, &b->b2, h1, training, 1);
    lt_free(h1);
    lt_tensor *h3 = cbr(&b->c3, &b->b3, h2, training, 0);
    lt_free(h2);
    lt_tensor *res = b->has_ds ? cbr(&b->ds, &b->dsb, x, training, 0) : x;
    lt_tensor *s = lt_add(h3, res);
    lt_free(h3);
    if (res != x) lt_free(res);
    return lt_relu_(s);
}

int lm_resnet50_forward(const lm_resnet50 *r, lt_tensor *x, int training, lt_tensor *feats[4]) {
    for (int i = 0; i < 4; i++) feats[i] = NULL;
    if (!x) return -1;
    if (lt_dim(x) != 4 || lt_size(x, 1) != 3) {
        lt_set_error("resnet50: expected an input of shape (N, 3, H, W)");
        return -1;
    }
    lt_tensor *h = cbr(&r->conv1, &r->bn1, x, training, 1); /* (N, 64, H/2, W/2) */
    lt_tensor *t = cbr(&r->conv2, &r->bn2, h, training, 1);
    lt_free(h);
    h = cbr(&r->conv3, &r->bn3, t, training, 1); /* (N, 128, H/2, W/2) */
    lt_free(t);
    t = lt_max_pool2d(h, 3, 2, 1, 1, 0); /* (N, 128, H/4, W/4) */
    lt_free(h);
    h = t;
    int bi = 0;
    for (int s = 0; s < 4; s++) {
        for (; bi < r->stage_end[s]; bi++) {
            lt_tensor *y = block_forward(&r->blocks[bi], h, training);
            if (!(s > 0 && bi == r->stage_end[s - 1])) lt_free(h); /* keep the previous stage output */
            h = y;
        }
        feats[s] = h; /* (N, 256 * 2^s, h_s, w_s) */
    }
    if (!h) {
        for (int i = 0; i < 4; i++) lt_free(feats[i]), feats[i] = NULL;
        return -1;
    }
    return 0;
}
