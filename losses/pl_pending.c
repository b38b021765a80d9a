/* pl_pending.c — TEMPORARY placeholders for losses/resnet_pl.h and losses/vgg_pl.h until helper
 * c's implementation is merged (branch wt-c); delete this file in that merge. */
#include "losses/resnet_pl.h"
#include "losses/vgg_pl.h"

#include <string.h>

#include "core/err.h"

lm_resnet_pl_opts lm_resnet_pl_defaults(void) {
    lm_resnet_pl_opts o;
    memset(&o, 0, sizeof o);
    o.weight = 30;
    strcpy(o.arch_encoder, "resnet50dilated");
    o.segmentation = 1;
    o.bn_train = 1;
    return o;
}
int lm_resnet_pl_create(lm_resnet_pl **out, const lm_resnet_pl_opts *o, lt_dtype dt, lt_device dev, int flags) {
    (void)o, (void)dt, (void)dev, (void)flags;
    *out = NULL;
    return lm_err_code(LM_ENOTSUP, "losses.resnet_pl: not built yet (set losses.resnet_pl.weight=0)");
}
lt_tensor *lm_resnet_pl_loss(lm_resnet_pl *pl, lt_tensor *pred, lt_tensor *target) {
    (void)pl, (void)pred, (void)target;
    lt_set_error("resnet_pl: not built");
    return NULL;
}
lm_params *lm_resnet_pl_params(lm_resnet_pl *pl) { (void)pl; return NULL; }
const char *lm_resnet_pl_source(const lm_resnet_pl *pl) { (void)pl; return "none"; }
void lm_resnet_pl_free(lm_resnet_pl *pl) { (void)pl; }

lm_vgg_pl_opts lm_vgg_pl_defaults(void) {
    lm_vgg_pl_opts o;
    memset(&o, 0, sizeof o);
    o.normalize_inputs = 1;
    return o;
}
int lm_vgg_pl_create(lm_vgg_pl **out, const lm_vgg_pl_opts *o, lt_dtype dt, lt_device dev, int flags) {
    (void)o, (void)dt, (void)dev, (void)flags;
    *out = NULL;
    return lm_err_code(LM_ENOTSUP, "losses.perceptual: not built yet (set losses.perceptual.weight=0)");
}
lt_tensor *lm_vgg_pl_loss(lm_vgg_pl *pl, lt_tensor *pred, lt_tensor *target, lt_tensor *mask) {
    (void)pl, (void)pred, (void)target, (void)mask;
    lt_set_error("vgg_pl: not built");
    return NULL;
}
const char *lm_vgg_pl_source(const lm_vgg_pl *pl) { (void)pl; return "none"; }
void lm_vgg_pl_free(lm_vgg_pl *pl) { (void)pl; }
