/* lpips.c — LPIPS net-lin v0.1 (official losses/lpips.py PNetLin, ScalingLayer, NetLinLayer). */
#include "eval/lpips.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "model/lt_err.h"
#include "model/alexnet.h"
#include "model/pretrained.h"
#include "model/vgg.h"
#include "model/weights.h"

#define LPIPS_L 5

struct lm_lpips {
    lm_lpips_net net;
    lm_alexnet alex;   /* net == LM_LPIPS_ALEX */
    lm_params vggp;    /* net == LM_LPIPS_VGG: features.0 .. features.28 */
    lm_vgg *vgg;
    lm_params lin;
    lt_tensor *linw[LPIPS_L]; /* (1, C_k, 1, 1) */
    lt_tensor *shift, *scale; /* (1, 3, 1, 1) */
};

static const int CH_ALEX[LPIPS_L] = {64, 192, 384, 256, 256};
static const int CH_VGG[LPIPS_L] = {64, 128, 256, 512, 512};

int lm_lpips_find_lin(char *out, size_t cap, const char *net) {
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        const char *rel[2] = {"..", "../share/lamac"};
        for (int i = 0; i < 2; i++)
            if (snprintf(out, cap, "%s/%s/weights/lpips/%s.pth", exe, rel[i], net) < (int)cap &&
                stat(out, &st) == 0)
                return 0;
    }
    if (snprintf(out, cap, "weights/lpips/%s.pth", net) < (int)cap && stat(out, &st) == 0) return 0;
    return lm_err_code(LM_EIO, "LPIPS linear layers %s.pth not found beside the lamac binary (%s/../weights/lpips/) "
                       "nor in ./weights/lpips/; pass --lpips-lin", net, k > 0 ? exe : "?");
}

const char *lm_lpips_net_name(lm_lpips_net net) { return net == LM_LPIPS_ALEX ? "alex" : "vgg"; }

int lm_lpips_create(lm_lpips **out, lm_lpips_net net, lt_dtype dt, lt_device dev) {
    *out = NULL;
    lm_lpips *l = calloc(1, sizeof *l);
    if (!l) return lm_err_code(LM_ENOMEM, "lpips: out of memory");
    l->net = net;
    lm_params_init(&l->lin, dt, dev);
    const int *ch = net == LM_LPIPS_ALEX ? CH_ALEX : CH_VGG;
    int rc;
    if (net == LM_LPIPS_ALEX) {
        rc = lm_alexnet_init(&l->alex, dt, dev);
    } else { /* vgg16 features[:30]: relu1_2 (3), relu2_2 (8), relu3_3 (15), relu4_3 (22), relu5_3 (29) */
        lm_params_init(&l->vggp, dt, dev);
        lm_params_push(&l->vggp, "features");
        rc = lm_vgg_create(&l->vgg, &l->vggp, 16, 30, 0);
        lm_params_pop(&l->vggp);
    }
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
        return lm_err_lt("lpips: building the network");
    }
    lm_params_set_trainable(lm_lpips_backbone(l), 0);
    lm_params_set_trainable(&l->lin, 0);
    *out = l;
    return 0;
}

void lm_lpips_free(lm_lpips *l) {
    if (!l) return;
    if (l->net == LM_LPIPS_ALEX) lm_alexnet_free(&l->alex);
    lm_vgg_free(l->vgg);
    if (l->net == LM_LPIPS_VGG) lm_params_free(&l->vggp);
    lm_params_free(&l->lin);
    lt_free(l->shift);
    lt_free(l->scale);
    free(l);
}

lm_params *lm_lpips_backbone(lm_lpips *l) { return l->net == LM_LPIPS_ALEX ? &l->alex.p : &l->vggp; }
lm_params *lm_lpips_lin(lm_lpips *l) { return &l->lin; }

int lm_lpips_load(lm_lpips *l, const char *backbone, const char *lin) {
    char path[4096];
    struct stat st;
    if (!backbone) {
        if (lm_lpips_default_backbone(path, sizeof path, l->net) < 0) return lm_err_prefix("lpips");
        backbone = path;
    }
    if (stat(backbone, &st) != 0)
        return lm_err_code(LM_EIO, "lpips: backbone weights not found: %s (fetch with %s %s)", backbone,
                           LM_PRETRAINED_FETCHER, l->net == LM_LPIPS_ALEX ? "alexnet" : "vgg16");
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

int lm_lpips_default_backbone(char *out, size_t cap, lm_lpips_net net) {
    char home[4096];
    if (lm_torch_home(home, sizeof home) < 0) return LM_EINVAL;
    int n = snprintf(out, cap, "%s/hub/checkpoints/%s", home,
                     net == LM_LPIPS_ALEX ? "alexnet-owt-7be5be79.pth" : "vgg16-397923af.pth");
    if (n < 0 || (size_t)n >= cap) return lm_err_code(LM_EINVAL, "pretrained path too long: %s", home);
    return 0;
}

/* The five relu outputs of the backbone. */
static int slices(const lm_lpips *l, lt_tensor *x, lt_tensor **out) {
    if (l->net == LM_LPIPS_ALEX) return lm_alexnet_slices(&l->alex, x, out);
    static const int taps[LPIPS_L] = {3, 8, 15, 22, 29};
    int k = 0;
    for (int i = 0; i < 30 && x; i++) {
        x = lm_vgg_layer_forward(l->vgg, i, x); // (N, C_i, H_i, W_i)
        if (k < LPIPS_L && i == taps[k]) out[k++] = x;
    }
    return x && k == LPIPS_L ? 0 : -1;
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
    if (slices(l, in0, o0) < 0 || slices(l, in1, o1) < 0)
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
