/* checkpoint.h — the trainer's checkpoint: everything a resumed run needs to continue exactly,
 * in one safetensors file (what Lightning's ModelCheckpoint writes as a .ckpt: state_dict,
 * optimizer_states, epoch, global_step; plus what Lightning does not keep: the data position
 * and the random generator state). Tensor names follow the convention that `lamac export`,
 * `lamac predict` and run/predictor.c read (DESIGN §6, notes/f.md):
 *     generator.*                       official state_dict keys (BatchNorm buffers included)
 *     discriminator.*
 *     generator_average.*               the EMA generator, when averaging has started
 *     optimizer.generator.state.*       Adam moments and step counters (train/optim.h)
 *     optimizer.discriminator.state.*
 *     loss_resnet_pl.*                  the HRF encoder (its BatchNorm statistics drift in training)
 * Metadata (strings): format "lamac-ckpt-1", step (global step = iterations done), epoch and
 * batch (the next batch to draw: epoch, index within the epoch), data_seed, rng_torch (hex of
 * libtorch's CPU generator state), topk (train/ckptfiles.h state), monitor (the metric key
 * that topk ranks by, as settled at the run's first validation: the configured monitor or its
 * fallback val_ssim_total_mean; "" before any validation), nonfinite_skips, ema_last_step,
 * config (the resolved YAML), dtype. A checkpoint without "monitor" (older lamac) loads with "".
 * Writes are atomic (temp file, fsync, rename): a kill at any moment leaves the previous file. */
#ifndef LM_TRAIN_CHECKPOINT_H
#define LM_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "train/step.h"

#define LM_CKPT_FORMAT "lamac-ckpt-1"
#define LM_CKPT_PREFIX "lamac-ckpt-"

typedef struct lm_ckpt_meta {
    int64_t step;            /* iterations done */
    int64_t epoch, batch;    /* next batch to draw */
    uint64_t data_seed;
    int64_t nonfinite_skips;
    char topk[4096];         /* lm_topk_state; "" when none */
    char monitor[256];       /* the key topk ranks by; "" when not settled yet */
} lm_ckpt_meta;

/* Writes the state of step (networks, optimizers, EMA) and nets->resnet_pl (if any) to path. */
int lm_ckpt_save(const char *path, lm_step *step, const lm_step_nets *nets, const lm_ckpt_meta *m,
                 const char *config_yaml);
/* Loads a checkpoint written by lm_ckpt_save into step / nets (strict: every tensor must be
 * there with its shape; a mismatch names the key) and restores libtorch's generator state and
 * the global step. m receives the metadata. */
int lm_ckpt_load(lm_ckpt_meta *m, const char *path, lm_step *step, const lm_step_nets *nets);

#endif
