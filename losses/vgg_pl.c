/* vgg_pl.c — the VGG19 perceptual loss (official saicinpainting/training/losses/perceptual.py
 * PerceptualLoss), see vgg_pl.h: torchvision vgg19 features with every MaxPool2d replaced by
 * AvgPool2d(2, 2), the first 30 modules; after each ReLU, MSE (reduction none) of input and
 * target features, times (1 - mask bilinearly resized to the features), mean over the
 * non-batch dimensions; summed over the 13 ReLUs -> (N); the trainer's .sum() * weight. */
#include "losses/vgg_pl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "losses/perceptual.h"
#include "losses/resnet_pl.h"
#include "model/pretrained.h"
#include "model/vgg.h"

#define VGG_PL_LAYERS 30 /* self.vgg[:30] */

struct lm_vgg_pl {
    lm_vgg_pl_opts o;
    lm_perceptual pc; /* params: "vgg.0.weight", ... */
    lm_vgg *vgg;
};

int lm_vgg_pl_create(lm_vgg_pl **out, const lm_vgg_pl_opts *o, lt_dtype dt, lt_device dev,
                     int flags) {
    *out = NULL;
    lm_vgg_pl *pl = calloc(1, sizeof *pl);
    if (!pl) return lm_err_code(LM_ENOMEM, "vgg_pl: out of memory");
    pl->o = *o;
    lm_params_init(&pl->pc.params, dt, dev);
    char cand[4200];
    int rc;
    lt_scope_push();
    lm_params_push(&pl->pc.params, "vgg");
    rc = lm_vgg_create(&pl->vgg, &pl->pc.params, 19, VGG_PL_LAYERS, 1);
    lm_params_pop(&pl->pc.params);
    if (rc < 0) goto fail;
    if ((rc = lm_perceptual_norm_init(&pl->pc, dt, dev, "vgg_pl")) < 0) goto fail;
    if (o->weights_path[0]) {
        snprintf(cand, sizeof cand, "%s", o->weights_path);
    } else {
        char home[4096];
        if ((rc = lm_torch_home(home, sizeof home)) < 0) goto fail;
        int n = snprintf(cand, sizeof cand, "%s/hub/checkpoints/vgg19-dcbb9e9d.pth", home);
        if (n < 0 || (size_t)n >= sizeof cand) {
            rc = lm_err_code(LM_EINVAL, "vgg_pl: weights path longer than %zu bytes",
                             sizeof cand - 1);
            goto fail;
        }
    }
    const char *cp[1] = {cand};
    /* torchvision.models.vgg19(pretrained=True): keys features.N.*, classifier.* */
    if ((rc = lm_pretrained_attach(&pl->pc.params, "vgg.", "features.", "vgg_pl", "VGG19", cp, 1,
                                   flags & LM_PL_RANDOM_IF_MISSING, pl->pc.source,
                                   sizeof pl->pc.source)) < 0)
        goto fail;
    lt_scope_pop();
    *out = pl;
    return 0;
fail:
    lt_scope_pop();
    lm_vgg_pl_free(pl);
    return rc;
}

lt_tensor *lm_vgg_pl_loss(lm_vgg_pl *pl, lt_tensor *pred, lt_tensor *target, lt_tensor *mask) {
    if (!pred || !target || lm_perceptual_check("vgg_pl", 1, pred, target, mask) < 0) return NULL;
    lt_tensor *res = NULL;
    lt_scope_push();
    lt_tensor *fi = pred, *ft = target;
    if (pl->o.normalize_inputs) {
        fi = lm_perceptual_normalize(&pl->pc, pred);
        lt_no_grad_push();
        ft = lm_perceptual_normalize(&pl->pc, target);
        lt_no_grad_pop();
    }
    lt_tensor *losses[VGG_PL_LAYERS];
    int nl = 0;
    const int64_t dims[3] = {1, 2, 3};
    for (int i = 0; i < lm_vgg_n_layers(pl->vgg); i++) {
        lt_tensor *ni = lm_vgg_layer_forward(pl->vgg, i, fi);
        lt_no_grad_push(); /* only pred gets a gradient */
        lt_tensor *nt = lm_vgg_layer_forward(pl->vgg, i, ft);
        lt_no_grad_pop();
        if (!ni || !nt) goto done;
        fi = ni, ft = nt;
        if (lm_vgg_layer(pl->vgg, i) != LM_VGG_RELU) continue;
        lt_dtype ty = lt_type(fi); /* bfloat16 under autocast (trainer.precision: bf16): the loss in float32 */
        lt_tensor *d = ty == LT_BF16 || ty == LT_F16 ? lt_sub(lt_to_dtype(fi, LT_F32), lt_to_dtype(ft, LT_F32))
                                                     : lt_sub(fi, ft);
        lt_tensor *l = lt_mul(d, d); /* F.mse_loss(reduction='none') */ // (N, C, h, w)
        if (mask) {
            lt_tensor *m = lt_interpolate(mask, lt_size(fi, 2), lt_size(fi, 3), LT_BILINEAR);
            l = lt_mul(l, lt_rsub_scalar(m, 1.0)); // (N, C, h, w) * (N, 1, h, w)
        }
        losses[nl++] = lt_mean_dims(l, dims, 3, 0); // (N)
    }
    /* torch.stack(losses).sum(dim=0) -> (N); the trainer: .sum() * weight */
    const int64_t d0[1] = {0};
    res = lt_keep(lt_mul_scalar(lt_sum(lt_sum_dims(lt_stack(losses, nl, 0), d0, 1, 0)),
                                pl->o.weight));
done:
    return lm_perceptual_scope_end(res);
}

lm_params *lm_vgg_pl_params(lm_vgg_pl *pl) { return &pl->pc.params; }

const char *lm_vgg_pl_source(const lm_vgg_pl *pl) { return pl->pc.source; }

void lm_vgg_pl_free(lm_vgg_pl *pl) {
    if (!pl) return;
    lm_vgg_free(pl->vgg);
    lm_perceptual_free(&pl->pc);
    free(pl);
}
