/* resnet_pl.c — the high-receptive-field perceptual loss (official
 * saicinpainting/training/losses/perceptual.py ResNetPL, encoder from models/ade20k/base.py
 * ModelBuilder.get_encoder), see resnet_pl.h. */
#include "losses/resnet_pl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "model/lt_err.h"
#include "model/pretrained.h"
#include "model/resnet50.h"

struct lm_resnet_pl {
    lm_resnet_pl_opts o;
    lm_params params; /* "impl.conv1.weight", ... */
    lm_resnet50 *enc;
    lt_tensor *mean, *std; /* (1, 3, 1, 1), owned */
    char source[4200];
};

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

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
    if (o->weights_path[0] && (is_file(o->weights_path) || has_weights_ext(o->weights_path))) {
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

static lt_tensor *chan_const(double a, double b, double c, lt_dtype dt, lt_device dev) {
    float v[3] = {(float)a, (float)b, (float)c};
    int64_t s[4] = {1, 3, 1, 1};
    lt_tensor *t = lt_from_buffer(v, s, 4, LT_F32);
    lt_tensor *r = (dt == LT_F32 && dev == LT_CPU) ? t : lt_to_device(lt_to_dtype(t, dt), dev);
    return lt_keep(r);
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
    lm_params_init(&pl->params, dt, dev);
    char cands[3][PATH_CAP];
    int n = 0, rc;
    lt_scope_push();
    lm_params_push(&pl->params, "impl");
    rc = lm_resnet50_create(&pl->enc, &pl->params, o->arch_encoder);
    lm_params_pop(&pl->params);
    if (rc < 0) goto fail;
    if (!(pl->mean = chan_const(0.485, 0.456, 0.406, dt, dev)) ||
        !(pl->std = chan_const(0.229, 0.224, 0.225, dt, dev))) {
        rc = lm_err_lt("resnet_pl");
        goto fail;
    }
    if ((rc = candidates(o, cands, &n)) < 0) goto fail;
    const char *cp[3] = {cands[0], cands[1], cands[2]};
    /* frozen: for w in self.impl.parameters(): w.requires_grad_(False) */
    if ((rc = lm_pretrained_attach(&pl->params, "impl.", "", "resnet_pl", "encoder", cp, n,
                                   flags & LM_PL_RANDOM_IF_MISSING, pl->source, sizeof pl->source)) < 0)
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
    if (!pred || !target) return NULL;
    int64_t ps[8], ts[8];
    int pn = lt_shape(pred, ps, 8), tn = lt_shape(target, ts, 8);
    int same = pn == tn;
    for (int i = 0; same && i < pn; i++) same = ps[i] == ts[i];
    if (pn != 4 || ps[1] != 3 || !same) {
        char a[128], b[128];
        char msg[400];
        snprintf(msg, sizeof msg, "resnet_pl: pred %s and target %s must both be (N, 3, H, W)",
                 lt_describe(pred, a, sizeof a), lt_describe(target, b, sizeof b));
        lt_set_error(msg);
        return NULL;
    }
    int tr = bn_train ? 1 : 0;
    lt_tensor *res = NULL;
    lt_scope_push();
    /* pred = (pred - IMAGENET_MEAN) / IMAGENET_STD, same for target */
    lt_tensor *p = lt_div(lt_sub(pred, pl->mean), pl->std);
    lt_tensor *pf[4], *tf[4], *mse[4];
    if (lm_resnet50_forward(pl->enc, p, tr, pf) < 0) goto done;
    lt_no_grad_push(); /* the target's graph is never needed: only pred gets a gradient */
    lt_tensor *t = lt_div(lt_sub(target, pl->mean), pl->std);
    int rc = lm_resnet50_forward(pl->enc, t, tr, tf);
    lt_no_grad_pop();
    if (rc < 0) goto done;
    for (int i = 0; i < 4; i++) mse[i] = lt_mse_loss(pf[i], tf[i]);
    /* torch.stack([...]).sum() * self.weight */
    res = lt_keep(lt_mul_scalar(lt_sum(lt_stack(mse, 4, 0)), pl->o.weight));
done:
    lt_scope_pop();
    if (!res) return NULL;
    lt_tensor *r = lt_alias(res); /* into the caller's scope */
    lt_free(res);
    return r;
}

lm_params *lm_resnet_pl_params(lm_resnet_pl *pl) { return &pl->params; }

const char *lm_resnet_pl_source(const lm_resnet_pl *pl) { return pl->source; }

void lm_resnet_pl_free(lm_resnet_pl *pl) {
    if (!pl) return;
    lm_resnet50_free(pl->enc);
    lm_params_free(&pl->params);
    lt_free(pl->mean);
    lt_free(pl->std);
    free(pl);
}
