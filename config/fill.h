/* fill.h — the one way a module's plain option struct is filled from a composed config.
 *
 * Each row of the schema (schema.c) that a module reads names its options set and the field
 * (offsetof) it fills, and states the key's default: that row is the only place a default
 * exists. lm_cfg_fill walks the rows of one set: the tree's value, else the row's default,
 * converted to the field's C type. A few rules join keys (the optimizer kind chooses the
 * default weight decay, two spellings of precision and of sync_bn, the resnet_pl weights path
 * read only when the loss is on); they live in this folder's fill.c, named per set.
 *
 *   lm_generator_opts g;  lm_cfg_fill(&g, LM_OPTS_GENERATOR, cfg);
 *   lm_step_opts s;       lm_cfg_defaults(&s, LM_OPTS_STEP);   (an empty config)
 *
 * The sets and their structs:
 *   LM_OPTS_GENERATOR      generator.*                          lm_generator_opts (model/generator.h)
 *   LM_OPTS_DISCRIMINATOR  discriminator.*                      lm_discriminator_opts
 *   LM_OPTS_STEP           losses.{l1,adversarial,feature_matching}.*, optimizers.*,
 *                          trainer.kwargs.gradient_clip_val, training_model.average_*,
 *                          reuse_generator_output, trainer.{sync_bn,ddp_overlap,precision}
 *                                                              lm_step_opts (train/step.h)
 *   LM_OPTS_LOSSES         losses.{perceptual,resnet_pl}.*     lm_loss_opts (below)
 *   LM_OPTS_TRAIN          trainer.kwargs.*, checkpoint_kwargs, on_nonfinite, seed, ...
 *                                                              lm_train_opts (train/loop.h)
 *   LM_OPTS_LOADER         data.train.{indir,out_size,transform_variant,dataloader_kwargs.batch_size}
 *                                                              lm_loader_opts (data/loader.h)
 * The mask generators' keyword mappings are filled by data_opts.h (they also come from
 * configs/data_gen files, outside a composed config). */
#ifndef LM_CONFIG_FILL_H
#define LM_CONFIG_FILL_H

#include "config/config.h"
#include "losses/resnet_pl.h"
#include "losses/vgg_pl.h"
#include "shim/lt.h"

/* The sets (LM_OPTS_*) and the field bindings (LM_BIND_*) are declared beside the schema
 * row type in config.h. */

/* The perceptual losses' options: built only when their weight is > 0. */
typedef struct lm_loss_opts {
    lm_vgg_pl_opts perceptual;   /* losses.perceptual (VGG19) */
    lm_resnet_pl_opts resnet_pl; /* losses.resnet_pl (ResNetPL, ADE20k) */
} lm_loss_opts;

/* Fills *opts (the struct of set) from c: non-config fields to their module's values, then
 * every row of the set, then the set's joining rules. c NULL: the defaults alone. Errors
 * name the key (and file:line where the value came from a file). */
int lm_cfg_fill(void *opts, lm_opts_set set, const lm_cfg *c);
/* lm_cfg_fill(opts, set, NULL); the defaults cannot fail to convert (a test holds that). */
void lm_cfg_defaults(void *opts, lm_opts_set set);
/* sizeof the struct of set; 0 for LM_OPTS_NONE. */
size_t lm_opts_set_size(lm_opts_set set);
const char *lm_opts_set_name(lm_opts_set set);

/* trainer.precision (lamac; wins when set) or trainer.kwargs.precision (the official
 * Lightning key) -> LT_F32 (32, the default), LT_F64 (64) or LT_BF16 (bf16, bf16-mixed);
 * 16 is an error ("fp16 not supported, use bf16"). Both keys are checked. */
int lm_precision_from_cfg(lt_dtype *out, const lm_cfg *c);

#endif
