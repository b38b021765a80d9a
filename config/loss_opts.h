/* loss_opts.h — fills the loss option structs from the composed configuration's `losses:`
 * group, as the official trainers/base.py and default.py read config.losses: l1
 * (weight_known, weight_missing), adversarial (make_discrim_loss(**losses.adversarial)),
 * feature_matching (weight, pass_mask), perceptual (VGG, weight), resnet_pl
 * (ResNetPL(**losses.resnet_pl)). */
#ifndef LM_CONFIG_LOSS_OPTS_H
#define LM_CONFIG_LOSS_OPTS_H

#include "config/config.h"
#include "losses/adversarial.h"
#include "losses/feature_matching.h"
#include "losses/masked.h"
#include "losses/resnet_pl.h"
#include "losses/vgg_pl.h"

typedef struct lm_loss_opts {
    lm_masked_loss_opts l1;
    lm_adv_opts adv;
    lm_fm_opts fm;
    lm_vgg_pl_opts perceptual;   /* used when perceptual.weight > 0 */
    lm_resnet_pl_opts resnet_pl; /* used when resnet_pl.weight > 0 */
} lm_loss_opts;

/* losses.* -> o. weights_path null or "" means $TORCH_HOME (lm_resnet_pl_opts). */
int lm_loss_opts_from_cfg(lm_loss_opts *o, const lm_cfg *c);

#endif
