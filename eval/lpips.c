/* lpips.c — LPIPS net-lin v0.1 (official losses/lpips.py PNetLin, ScalingLayer, NetLinLayer). */
#include "eval/lpips.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "model/alexnet.h"
#include "model/hub.h"
#include "model/weights.h"

#define LPIPS_L 5

struct lm_lpips {
    lm_lpips_net net;
    lm_alexnet alex;
    lm_params lin;
    lt_tensor *linw[LPIPS_L]; /* (1, C_k, 1, 1) */
    lt_tensor *shift, *scale; /* (1, 3, 1, 1) */
};

static const int CH_ALEX[LPIPS_L] = {64, 192, 384, 256, 256};
static const int CH_VGG[LPIPS_L] = {64, 128, 256, 512, 512};

const char *lm_lpips_net_name(lm_lpips_net net) { return net == LM_LPIPS_ALEX ? "alex" : "vgg"; }

int lm_lpips_create(lm_lpips **out, lm_lpips_net net, lt_dtype dt, lt_device dev) {
    *out = NULL;
    if (net == LM_LPIPS_VGG)
        return lm_err_code(LM_ENOTSUP, "lpips: the VGG16 backbone is not built in this tree yet "
                                       "(model/vgg.c); use --lpips-net alex");
    lm_lpips *l = calloc(1, sizeof *l);
    if (!l) return lm_err_code(LM_ENOMEM, "lpips: out of memory");
    l->net = net;
    lm_params_init(&l->lin, dt, dev);
    const int *ch = net == LM_LPIPS_ALEX ? CH_ALEX : CH_VGG;
    int rc = lm_alexnet_init(&l->alex, dt, dev);
    for (int k = 0; !rc && k < LPIPS_L; k++) {
        char key[64];
        snprintf(key, sizeof key, "lin%d.model.1.weight", k);
        int64_t s[4] = {1, ch[k], 1, 1};
        if (!(l->linw[k] = lm_params_add(&l->lin, key, lt_zeros(s, 4, dt, dev), LM_PARAM))) rc = -1;
    }
    const float shift[3] = {-.030f, -.088f, -.188f}, scale[3] = {.458f, .448f, .450f};
    int64_t s4[4] = {1, 3, 1, 1};
    l->shift = lt_keep(lt_to_device(lt_to_dtype(lt_from_buffer(shift, s4, 4, LT_F32), dt), dev));
    l->scale = lt_keep(lt_to_device(lt_to_dtype(lt_from_buffer(scale, s4, 4, LT_F32), dt), dev));
    if (rc || !l->shift || !l->scale) {
        lm_lpips_free(l);
        return lm_err_set("lpips: building the network: %s", lt_error());
    }
    lm_params_set_trainable(&l->alex.p, 0);
    lm_params_set_trainable(&l->lin, 0);
    *out = l;
    return 0;
}

void lm_lpips_free(lm_lpips *l) {
    if (!l) return;
    lm_alexnet_free(&l->alex);
    lm_params_free(&l->lin);
    lt_free(l->shift);
    lt_free(l->scale);
    free(l);
}

lm_params *lm_lpips_backbone(lm_lpips *l) { return &l->alex.p; }
lm_params *lm_lpips_lin(lm_lpips *l) { return &l->lin; }

int lm_lpips_load(lm_lpips *l, const char *backbone, const char *lin) {
    char path[4096];
    struct stat st;
    if (!backbone) {
        if (lm_hub_path(path, sizeof path, l->net == LM_LPIPS_ALEX ? LM_HUB_ALEXNET : LM_HUB_VGG16) < 0)
            return lm_err_prefix("lpips");
        backbone = path;
    }
    if (stat(backbone, &st) != 0)
        return lm_err_code(LM_EIO, "lpips: backbone weights not found: %s (fetch with %s)", backbone,
                           LM_HUB_FETCH_HINT);
    lm_weights_src *s = NULL;
    int rc = lm_weights_open(&s, backbone);
    if (rc < 0) return lm_err_prefix("lpips backbone");
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    /* torchvision's file also holds classifier.*: load non-strict, then require that every
     * backbone tensor was found with its shape */
    rc = lm_weights_load(lm_lpips_backbone(l), s, "", LM_WEIGHTS_NONSTRICT, &rep);
    for (int i = 0; rc == 0 && i < rep.n; i++)
        if (rep.items[i].problem != LM_WP_UNEXPECTED)
            rc = lm_err_code(LM_EINVAL, "lpips backbone %s: %s: %s (expected %s, found %s)", backbone,
                             rep.items[i].key, lm_weights_problem_name(rep.items[i].problem),
                             rep.items[i].expected, rep.items[i].found);
    lm_weights_report_free(&rep);
    lm_weights_close(s);
    if (rc < 0) return rc;
    if ((rc = lm_weights_open(&s, lin)) < 0) return lm_err_prefix("lpips linear layers");
    rc = lm_weights_load(&l->lin, s, "", LM_WEIGHTS_STRICT, NULL);
    lm_weights_close(s);
    return rc < 0 ? lm_err_prefix("lpips linear layers") : 0;
}

static lt_tensor *normalize(lt_tensor *f) { // (N, C, h, w)
    int64_t d1[1] = {1};
    lt_tensor *n = lt_sqrt(lt_sum_dims(lt_mul(f, f), d1, 1, 1)); // (N, 1, h, w)
    return lt_div(f, lt_add_scalar(n, 1e-10));
}

lt_tensor *lm_lpips_forward(const lm_lpips *l, lt_tensor *pred, lt_tensor *target) {
    if (!pred || !target) return NULL;
    if (lt_dim(pred) != 4 || !lt_same_shape(pred, target) || lt_size(pred, 1) != 3) {
        lt_set_error("lpips: expected two (N, 3, H, W) tensors of the same shape");
        return NULL;
    }
    /* official: self.model(target, pred) with normalize=True: 2x - 1, then ScalingLayer */
    lt_tensor *in0 = lt_div(lt_sub(lt_add_scalar(lt_mul_scalar(target, 2.0), -1.0), l->shift), l->scale);
    lt_tensor *in1 = lt_div(lt_sub(lt_add_scalar(lt_mul_scalar(pred, 2.0), -1.0), l->shift), l->scale);
    lt_tensor *o0[LPIPS_L], *o1[LPIPS_L];
    if (lm_alexnet_slices(&l->alex, in0, o0) < 0 || lm_alexnet_slices(&l->alex, in1, o1) < 0)
        return NULL;
    lt_tensor *val = NULL;
    int64_t hw[2] = {2, 3};
    for (int k = 0; k < LPIPS_L; k++) {
        lt_tensor *d = lt_sub(normalize(o0[k]), normalize(o1[k]));
        d = lt_mul(d, d);                                               // (N, C, h, w)
        lt_tensor *r = lt_mean_dims(lt_conv2d(d, l->linw[k], NULL, 1, 0, 1, 1), hw, 2, 1); // (N,1,1,1)
        val = val ? lt_add(val, r) : r;
    }
    return lt_flatten(val, 0, 3); // (N)
}
