/* trainer_opts.h — fills the training loop's options (train/loop.h) from a composed config:
 * trainer.kwargs (Lightning 1.2 Trainer arguments: max_epochs, max_steps, limit_train_batches,
 * limit_val_batches, val_check_interval, check_val_every_n_epoch, log_every_n_steps),
 * trainer.checkpoint_kwargs (save_top_k, save_last, monitor, mode), trainer.on_nonfinite,
 * training_model.visualize_each_iters, data.val.dataloader_kwargs.batch_size and seed. */
#ifndef LM_CONFIG_TRAINER_OPTS_H
#define LM_CONFIG_TRAINER_OPTS_H

#include "config/config.h"
#include "train/loop.h"

/* o starts from lm_train_opts_default(); monitor is borrowed from c. */
int lm_train_opts_from_cfg(lm_train_opts *o, const lm_cfg *c);

#endif
