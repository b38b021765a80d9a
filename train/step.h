/* step.h — one training iteration with the official semantics (saicinpainting/training/
 * trainers/default.py DefaultInpaintingTrainingModule + base.py _do_step + the Lightning 1.2
 * loop; DESIGN §5 "Step order"):
 *
 *   1. generator step: G trainable, D frozen. pred = G(cat(img·(1−mask), mask)).
 *      total = gen_l1 [+ gen_pl (VGG, if its weight > 0)] + gen_adv [+ gen_fm (if weight > 0)]
 *              [+ gen_resnet_pl (if used)], in that order; D sees img, then the raw pred;
 *      backward, clip G's gradients to trainer.kwargs.gradient_clip_val, Adam(W) step.
 *   2. discriminator step (if losses.adversarial.weight > 0): G frozen, D trainable. G runs
 *      again on the same input (its BatchNorm statistics advance again); real = img as a leaf
 *      that requires grad (R1); D(real), D(pred detached); discr_adv; backward, clip, step.
 *
 * Every network runs in training mode (BatchNorm batch statistics; G twice, D four times per
 * iteration); the ResNetPL encoder's mode is its own option (losses/resnet_pl.h bn_train).
 * Optimizer updates run under no-grad; clipping and the optimizers compute on the device.
 *
 * Checks, two modes (lm_step_set_deferred):
 *   immediate (the default): every loss term and gradient norm is read to the host as it is
 *     computed, and the batch's values are checked; a non-finite term stops the iteration
 *     before that step's backward (a gradient norm: before its optimizer update) with the
 *     error code LM_ENONFINITE (core/err.h) and a message naming the term (the generator
 *     update of the same iteration has happened if the discriminator's term is the bad one).
 *     On CUDA each read waits for the device: about a dozen per iteration.
 *   deferred (the training loop with trainer.on_nonfinite: stop): an iteration reads nothing
 *     from the device (lt_host_reads() does not move; the batch's shapes are checked, its
 *     values are the caller's: data/loader.h lm_batch_check, which the training loop's
 *     prefetcher runs on the host). The terms stay on the device and each term's first
 *     non-finite step is recorded there; lm_step_read reads both at once. A
 *     non-finite iteration still updates the weights (as the official code does), so the
 *     caller reads before every checkpoint it writes. */
#ifndef LM_STEP_H
#define LM_STEP_H

#include <stdint.h>

#include "losses/adversarial.h"
#include "losses/feature_matching.h"
#include "losses/masked.h"
#include "losses/resnet_pl.h"
#include "losses/vgg_pl.h"
#include "model/discriminator.h"
#include "model/generator.h"
#include "train/ema.h"
#include "train/optim.h"

typedef struct lm_step_opts {
    lm_masked_loss_opts l1;   /* losses.l1 */
    lm_adv_opts adv;          /* losses.adversarial */
    lm_fm_opts fm;            /* losses.feature_matching */
    lm_optim_opts opt_g;      /* optimizers.generator */
    lm_optim_opts opt_d;      /* optimizers.discriminator */
    double gradient_clip_val; /* trainer.kwargs.gradient_clip_val (1; 0 = no clipping) */
    lm_ema_opts ema;          /* generator averaging (off) */
    /* training_model.reuse_generator_output (lamac option, off = official): the discriminator
     * step uses the generator step's prediction (detached) instead of running the generator
     * again. Saves one generator forward per iteration, but changes the semantics: D sees the
     * prediction of G before its Adam update, and G's BatchNorm statistics advance once. */
    int reuse_pred;
    /* trainer.sync_bn (lamac option; off = the official per-rank statistics): with a data-
     * parallel group in the hooks (bn_group), every BatchNorm in training mode during the
     * iteration — generator, discriminator and the ResNetPL encoder when it runs in training
     * mode, as Lightning's sync_batchnorm converts every BatchNorm of the module — uses the
     * statistics of all ranks' batches (model/layers.h lm_bn_set_sync_group). */
    int sync_bn;
    /* trainer.ddp_overlap (lamac option, off): with the hooks' grads_begin/grads_finish, the
     * gradient all-reduce runs during backward (bucket by bucket) instead of after it. */
    int ddp_overlap;
    /* trainer.precision (trainer.kwargs.precision): LT_F32 = 32, the official numerics (no
     * autocast; the default), or LT_BF16: the forward passes and loss computations of both
     * steps (R1's gradient penalty included) run under autocast to bfloat16 on the batch's
     * device, with the FourierUnit's FFTs in float32 (model/fourier.c) and the networks'
     * outputs cast to float32 before the losses; backward, clipping and the optimizers run
     * outside autocast, and parameters, gradients and optimizer state stay float32. LT_F64 =
     * 64 (lamac): no autocast; the networks must have float64 parameters (run/step_setup.c
     * builds them so) and the batch is converted to float64, so every loss, gradient and
     * optimizer update is float64 — rounding ~1e-16, the same on every CPU (the parity
     * checks' precision, docs in README "Tests"; also a debugging aid). */
    lt_dtype precision;
    /* GPU speed switches (lamac options; docs/gpu.md), applied by run/step_setup.c:
     * tf32 (trainer.tf32): -1 (null, the default) leaves libtorch's defaults (cuDNN convolutions
     * in TF32, cuBLAS matmuls not), 1 both on, 0 both off; process-wide; no effect on the CPU.
     * channels_last (trainer.channels_last, off): the networks' 4-D parameters in channels-last
     * memory format, and lm_step_run converts the batch to it; the values are the same.
     * cuda_graph (trainer.cuda_graph, off): refused with the reason (not implemented). */
    int tf32, channels_last, cuda_graph;
} lm_step_opts;


/* The networks (all borrowed; they must outlive the step). */
typedef struct lm_step_nets {
    lm_generator *g;
    lm_params *g_params;
    lm_discriminator *d;
    lm_params *d_params;
    lm_resnet_pl *resnet_pl; /* NULL: losses.resnet_pl.weight is 0 */
    lm_vgg_pl *vgg_pl;       /* NULL: losses.perceptual.weight is 0 */
} lm_step_nets;

#define LM_STEP_MAX_TERMS 16

/* The loss terms of one iteration, named as the official metrics (without the "train_"
 * prefix): gen_l1, [gen_pl], gen_adv, [gen_fm], [gen_resnet_pl], gen_total, discr_adv,
 * adv_discr_real_out, adv_discr_fake_out, adv_discr_real_gp, plus gen_grad_norm and
 * discr_grad_norm (global gradient norms before clipping). */
typedef struct lm_step_losses {
    int n;
    const char *name[LM_STEP_MAX_TERMS];
    double value[LM_STEP_MAX_TERMS];
} lm_step_losses;

double lm_step_losses_get(const lm_step_losses *l, const char *name); /* NaN if absent */

/* Seconds spent in the parts of the last iteration (the profile of `lamac bench step`). */
typedef struct lm_step_times {
    double g_fwd;     /* G forward (generator step) */
    double g_losses;  /* loss terms incl. both D forwards and the perceptual losses */
    double pl_fwd;    /* of which the ResNetPL / VGG forwards */
    double g_bwd;     /* backward of the generator loss */
    double g_opt;     /* clipping + optimizer step of G */
    double d_gfwd;    /* G re-run in the discriminator step */
    double d_fwd;     /* D forwards + discriminator loss incl. the R1 gradient (create_graph) */
    double d_bwd;     /* backward of the discriminator loss (double backward through R1) */
    double d_opt;     /* clipping + optimizer step of D */
    double total;
} lm_step_times;

/* Optional calls into data parallelism (train/ddp.h lm_ddp_step_hooks fills them); all NULL,
 * the default, is the single-process step. Each returns 0 or negative (message set); a
 * failure stops the iteration like a failing loss term.
 *   sync_buffers: at the start of the generator step and of the discriminator step, for the
 *     generator's, the discriminator's and (if used) the ResNetPL encoder's registries: the
 *     buffers of rank 0 (DDP's broadcast_buffers before each forward of the wrapped module).
 *   sync_grads: after each backward (gradients exist only then; for the discriminator that
 *     is after the double backward through R1) and before clipping, for the registry being
 *     trained: gradients averaged across ranks. */
typedef struct lm_step_hooks {
    void *ctx;
    int (*sync_buffers)(void *ctx, lm_params *p);
    int (*sync_grads)(void *ctx, lm_params *p);
    /* Overlapped averaging (used instead of sync_grads when lm_step_opts.ddp_overlap):
     * grads_begin before each backward, grads_finish after it (also after a failed one). */
    int (*grads_begin)(void *ctx, lm_params *p);
    int (*grads_finish)(void *ctx, lm_params *p);
    /* The process group for SyncBatchNorm (used when lm_step_opts.sync_bn), or NULL. */
    lt_pgroup *bn_group;
} lm_step_hooks;

typedef struct lm_step lm_step;

int lm_step_create(lm_step **out, const lm_step_nets *nets, const lm_step_opts *o);
void lm_step_free(lm_step *s);
/* One iteration on img (N, 3, H, W) in [0, 1] and mask (N, 1, H, W) in {0, 1} (checked).
 * losses may be NULL. 0 or negative (message names the term or the shape). */
int lm_step_run(lm_step_losses *losses, lm_step *s, lt_tensor *img, lt_tensor *mask);
/* Deferred checks on or off (see the top). Switching is allowed between iterations. */
void lm_step_set_deferred(lm_step *s, int on);
int lm_step_deferred(const lm_step *s);
/* Deferred checks: the last finished iteration's terms into *L (may be NULL; L->n = 0 before
 * the first iteration), one host read. LM_ENONFINITE when a term was non-finite in any
 * iteration since the previous lm_step_read (the message names it and its first step); the
 * flags are cleared either way. */
int lm_step_read(lm_step *s, lm_step_losses *L);
/* 0: generator's optimizer, 1: discriminator's. */
lm_optim *lm_step_optim(lm_step *s, int which);
lm_ema *lm_step_ema(lm_step *s);
const lm_step_times *lm_step_last_times(const lm_step *s);
int64_t lm_step_global_step(const lm_step *s);
void lm_step_set_global_step(lm_step *s, int64_t step);
/* Installs the hooks (copied); NULL removes them. */
void lm_step_set_hooks(lm_step *s, const lm_step_hooks *h);

/* Checks a batch: img (N, 3, H, W) float, mask (N, 1, H, W) with values in {0, 1}, same N,
 * H, W, H and W multiples of `multiple`. 0 or LM_EINVAL naming the problem. */
int lm_step_check_batch(lt_tensor *img, lt_tensor *mask, int multiple);

#endif
