/* train_opts.h — fills the trainer's option structs (train/step.h, train/optim.h, train/ema.h)
 * from the composed configuration: optimizers.{generator,discriminator} (official
 * trainers/base.py make_optimizer(kind, **kwargs): adam | adamw, lr, betas, eps, weight_decay,
 * amsgrad), trainer.kwargs.gradient_clip_val (Lightning's per-optimizer clipping), the
 * training_model averaging keys, and losses.* through config/loss_opts.h. */
#ifndef LM_CONFIG_TRAIN_OPTS_H
#define LM_CONFIG_TRAIN_OPTS_H

#include "config/config.h"
#include "config/loss_opts.h"
#include "train/step.h"

/* optimizers.<net>.* -> o (net: "generator" or "discriminator"). */
int lm_optim_opts_from_cfg(lm_optim_opts *o, const lm_cfg *c, const char *net);
/* Everything one iteration needs: step options (losses, optimizers, clipping, averaging) and
 * the perceptual losses' options (lo may be NULL). */
int lm_step_opts_from_cfg(lm_step_opts *so, lm_loss_opts *lo, const lm_cfg *c);
/* trainer.precision / trainer.kwargs.precision -> LT_F32 (32, the default), LT_F64 (64,
 * 64-true) or LT_BF16 (bf16, bf16-mixed); 16 is an error ("fp16 not supported, use bf16"). */
int lm_precision_from_cfg(lt_dtype *out, const lm_cfg *c);

#endif
