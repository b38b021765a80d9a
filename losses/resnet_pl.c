/* resnet_pl.c — the high-receptive-field perceptual loss (official
 * saicinpainting/training/losses/perceptual.py ResNetPL, encoder from models/ade20k/base.py
 * ModelBuilder.get_encoder), see resnet_pl.h. */
#include "losses/resnet_pl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/path.h"
#include "losses/perceptual.h"
#include "model/pretrained.h"
#include "model/resnet50.h"

struct lm_resnet_pl {
    lm_resnet_pl_opts o;
    lm_perceptual pc; /* params: "impl.conv1.weight", ... */
    lm_resnet50 *enc;
};

/* A weights_path naming a file that does not exist is reported as that file, not searched
 * as a directory. */
static int has_weights_ext(const char *p) {
    static const char *ext[] = {".pth", ".pt", ".ckpt", ".safetensors"};
    size_t n = strlen(p);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && !strcmp(p + n - e, ext[i])) return 1;
    }
    return 0;
}

#define PATH_CAP 4200

/* Candidate files, as the official code builds them:
 *   segmentation: os.path.join(weights_path, 'ade20k',
 *                              f'ade20k-{arch_encoder}-ppm_deepsup/encoder_epoch_20.pth')
 *   otherwise: resnet.py resnet50(pretrained=True) -> load_url(
 *       'http://sceneparsing.csail.mit.edu/model/pretrained_resnet/resnet50-imagenet.pth',
 *       model_dir='./pretrained'); lamac also looks in $TORCH_HOME/hub/checkpoints (where
 *       scripts/download-weights.sh puts it).
 * weights_path "" means $TORCH_HOME (the official configs pass ${env:TORCH_HOME}); a
 * weights_path that is a file is used as it is. */
static int candidates(const lm_resnet_pl_opts *o, char cands[3][PATH_CAP], int *n) {
    char base[4096];
    *n = 0;
    if (o->weights_path[0] && (lm_path_is_file(o->weights_path) || has_weights_ext(o->weights_path))) {
        snprintf(cands[(*n)++], PATH_CAP, "%s", o->weights_path);
        return 0;
    }
    if (o->weights_path[0])
        snprintf(base, sizeof base, "%s", o->weights_path);
    else if (lm_torch_home(base, sizeof base) < 0)
        return lm_err_prefix("resnet_pl");
    int len;
    if (o->segmentation) {
        len = snprintf(cands[(*n)++], PATH_CAP, "%s/ade20k/ade20k-%s-ppm_deepsup/encoder_epoch_20.pth",
                       base, o->arch_encoder);
    } else {
        len = snprintf(cands[(*n)++], PATH_CAP, "%s/hub/checkpoints/resnet50-imagenet.pth", base);
        snprintf(cands[(*n)++], PATH_CAP, "pretrained/resnet50-imagenet.pth");
    }
    if (len < 0 || len >= PATH_CAP)
        return lm_err_code(LM_EINVAL, "resnet_pl: weights path longer than %d bytes: %s",
                           PATH_CAP - 1, base);
    return 0;
}

int lm_resnet_pl_create(lm_resnet_pl **out, const lm_resnet_pl_opts *o, lt_dtype dt,
                        lt_device dev, int flags) {
    *out = NULL;
    if (strcmp(o->arch_encoder, "resnet50dilated") && strcmp(o->arch_encoder, "resnet50"))
        return lm_err_code(LM_ENOTSUP, "losses.resnet_pl.arch_encoder: '%s' not supported "
                           "(resnet50dilated, resnet50)", o->arch_encoder);
    lm_resnet_pl *pl = calloc(1, sizeof *pl);
    if (!pl) return lm_err_code(LM_ENOMEM, "resnet_pl: out of memory");
    pl->o = *o;
    lm_params_init(&pl->pc.params, dt, dev);
    char cands[3][PATH_CAP];
    int n = 0, rc;
    lt_scope_push();
    lm_params_push(&pl->pc.params, "impl");
    rc = lm_resnet50_create(&pl->enc, &pl->pc.params, o->arch_encoder);
    lm_params_pop(&pl->pc.params);
    if (rc < 0) goto fail;
    if ((rc = lm_perceptual_norm_init(&pl->pc, dt, dev, "resnet_pl")) < 0) goto fail;
    if ((rc = candidates(o, cands, &n)) < 0) goto fail;
    const char *cp[3] = {cands[0], cands[1], cands[2]};
    /* frozen: for w in self.impl.parameters(): w.requires_grad_(False) */
    if ((rc = lm_pretrained_attach(&pl->pc.params, "impl.", "", "resnet_pl", "encoder", cp, n,
                                   flags & LM_PL_RANDOM_IF_MISSING, pl->pc.source,
                                   sizeof pl->pc.source)) < 0)
        goto fail;
    lt_scope_pop();
    *out = pl;
    return 0;
fail:
    lt_scope_pop();
    lm_resnet_pl_free(pl);
    return rc;
}

lt_tensor *lm_resnet_pl_loss(lm_resnet_pl *pl, lt_tensor *pred, lt_tensor *target) {
    return lm_resnet_pl_loss_mode(pl, pred, target, pl->o.bn_train);
}

lt_tensor *lm_resnet_pl_loss_mode(lm_resnet_pl *pl, lt_tensor *pred, lt_tensor *target,
                                  int bn_train) {
    if (!pred || !target || lm_perceptual_check("resnet_pl", 0, pred, target, NULL) < 0) return NULL;
    int tr = bn_train ? 1 : 0;
    lt_tensor *res = NULL;
    lt_scope_push();
    /* pred = (pred - IMAGENET_MEAN) / IMAGENET_STD, same for target */
    lt_tensor *p = lm_perceptual_normalize(&pl->pc, pred);
    lt_tensor *pf[4], *tf[4], *mse[4];
    if (lm_resnet50_forward(pl->enc, p, tr, pf) < 0) goto done;
    lt_no_grad_push(); /* the target's graph is never needed: only pred gets a gradient */
    lt_tensor *t = lm_perceptual_normalize(&pl->pc, target);
    int rc = lm_resnet50_forward(pl->enc, t, tr, tf);
    lt_no_grad_pop();
    if (rc < 0) goto done;
    for (int i = 0; i < 4; i++) mse[i] = lt_mse_loss(pf[i], tf[i]);
    /* torch.stack([...]).sum() * self.weight */
    res = lt_keep(lt_mul_scalar(lt_sum(lt_stack(mse, 4, 0)), pl->o.weight));
done:
    return lm_perceptual_scope_end(res);
}

lm_params *lm_resnet_pl_params(lm_resnet_pl *pl) { return &pl->pc.params; }

const char *lm_resnet_pl_source(const lm_resnet_pl *pl) { return pl->pc.source; }

void lm_resnet_pl_free(lm_resnet_pl *pl) {
    if (!pl) return;
    lm_resnet50_free(pl->enc);
    lm_perceptual_free(&pl->pc);
    free(pl);
}
