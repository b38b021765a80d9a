/* step_setup.h — everything one training iteration needs, built from a composed training
 * config (the official DefaultInpaintingTrainingModule's constructor + configure_optimizers):
 * the generator (generator.*), the discriminator (discriminator.*), the perceptual losses
 * when their weight is > 0 (losses.resnet_pl, losses.perceptual), the step options (losses,
 * optimizers, gradient clipping, averaging) and the step itself. Part of run/, the layer that
 * assembles modules from a composed config: used by `lamac step`, `lamac bench step`,
 * `lamac ddp-check` and run/run.c (`lamac train`). */
#ifndef LM_STEP_SETUP_H
#define LM_STEP_SETUP_H

#include <stdio.h>

#include "config/config.h"
#include "config/fill.h"
#include "model/weights.h"
#include "train/ddp.h"
#include "train/step.h"

typedef struct lm_step_setup {
    lm_generator_opts gopts;
    lm_discriminator_opts dopts;
    lm_step_opts sopts;
    lm_loss_opts lopts;
    lm_params gp, dp;
    lm_generator *g;
    lm_discriminator *d;
    lm_resnet_pl *resnet_pl; /* NULL unless losses.resnet_pl.weight > 0 */
    lm_vgg_pl *vgg_pl;       /* NULL unless losses.perceptual.weight > 0 */
    lm_step *step;
    lt_device device;
} lm_step_setup;

/* pl_flags: LM_PL_RANDOM_IF_MISSING (benchmarks) or 0. Networks are freshly initialised
 * (libtorch's generator: seed it first). */
int lm_step_setup_create(lm_step_setup **out, const lm_cfg *c, lt_device dev, int pl_flags);
/* The networks alone (`lamac model`): generator.* and, when with_discriminator, discriminator.*
 * of c, freshly initialised, parameters in dt on dev, built as lm_step_setup_create builds
 * them; no losses, no step (s->step, s->resnet_pl, s->vgg_pl NULL; s->d NULL without the
 * discriminator). Free with lm_step_setup_free. */
int lm_step_setup_create_nets(lm_step_setup **out, const lm_cfg *c, lt_dtype dt, lt_device dev,
                              int with_discriminator);
void lm_step_setup_free(lm_step_setup *s);
/* The GPU speed switches of o (train/step.h tf32, channels_last, cuda_graph) on dev, checked:
 * trainer.cuda_graph is refused ("needs a CUDA device (got cpu)" on the CPU; on CUDA, not
 * available in this build and why). Needs no device (a test asks it about LT_CUDA on a CPU
 * machine). lm_step_setup_create calls it, then applies tf32 (lt_set_tf32; a note on stderr
 * when it is set on the CPU, where it does nothing) and channels_last (every 4-D parameter and
 * buffer of G, D, ResNetPL and VGG converted in place, before the optimizers are made; loading
 * weights later copies into them and keeps the format). 0 or LM_EINVAL. */
int lm_step_switches_check(const lm_step_opts *o, lt_device dev);
/* One line: the switches of o and the TF32 state libtorch has now (for `lamac bench step`). */
void lm_step_switches_describe(char *buf, size_t cap, const lm_step_opts *o);

/* Loads generator.* and discriminator.* (strict; and loss_resnet_pl.* when the file has them and
 * ResNetPL is used) from a weights file. On a mismatch the table is printed to report (if
 * not NULL) and nothing is loaded into the failing network. */
int lm_step_setup_load(lm_step_setup *s, const char *path, FILE *report);
/* Fine-tuning (init_from): the generator (keys generator.*, or unprefixed for a bare generator
 * state_dict) and, when the file has discriminator.* tensors, the discriminator from what
 * `path` names (a weights file, a lamac run directory, an official model directory:
 * run/predictor.h lm_model_resolve). strict: every tensor must fit (LM_WEIGHTS_STRICT);
 * otherwise what fits loads and the rest is listed. What loaded, and each mismatch table, is
 * printed to report. */
int lm_step_setup_init_from(lm_step_setup *s, const char *path, int strict, FILE *report);
/* Data parallelism: G's and D's parameters and buffers from rank 0 on every rank, and the
 * step's DDP hooks (train/ddp.h lm_ddp_step_hooks; sync_grads 0: without the gradient
 * averaging, a control). A NULL or one-rank ddp changes nothing but the hooks. */
int lm_step_setup_join(lm_step_setup *s, lm_ddp *ddp, int sync_grads);
/* The generator's masked L1 + adversarial terms on one batch as the generator step computes
 * them (train/step.c), under the step's precision (trainer.precision bf16: autocast, network
 * outputs in float32): pred = G(cat(img * (1 - mask), mask)) with BatchNorm in training mode
 * (train 1) or eval mode, D on pred alike. Returns the loss (a scalar) and sets *pred (B, 3, H,
 * W); in the current scope; NULL (the shim's error set) on a failure. For the self-checks of
 * data parallelism (`lamac ddp-check`), which take gradients of these terms alone. */
lt_tensor *lm_step_setup_generator_loss(lt_tensor **pred, lm_step_setup *s, lt_tensor *img, lt_tensor *mask, int train);
/* The discriminator's adversarial loss with R1 (create_graph) on real img and the detached
 * pred, D in training mode, under the step's precision; D's gradients zeroed first. In the
 * current scope. 0, or negative with the message set. */
int lm_step_setup_discriminator_loss(lm_adv_discr *out, lm_step_setup *s, lt_tensor *img, lt_tensor *pred,
                                     lt_tensor *mask);
/* Writes generator.*, discriminator.* and (if used) loss_resnet_pl.* to path (atomic), in
 * float32, or float64 for trainer.precision 64. */
int lm_step_setup_save(const lm_step_setup *s, const char *path, const char *config_yaml, int64_t step);

#endif
