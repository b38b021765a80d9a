/* optim.h — Adam and AdamW over a parameter registry, with torch.optim's numerics (torch 1.13
 * single-tensor path: step += 1; [Adam: g += wd·p | AdamW: p *= 1 − lr·wd];
 * m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; [amsgrad: v̂ = max(v̂, v)];
 * denom = sqrt(v) / sqrt(1 − β2^t) + eps; p −= lr / (1 − β1^t) · m / denom), and gradient
 * clipping by global norm (torch.nn.utils.clip_grad_norm_, as Lightning 1.2 applies
 * trainer.kwargs.gradient_clip_val to each optimizer's parameters).
 * Official: saicinpainting/training/trainers/base.py make_optimizer, configs/training/optimizers.
 *
 * The state lives in its own registry (lm_optim_state) with keys "<param key>.exp_avg",
 * "<param key>.exp_avg_sq", "<param key>.step" (F32 0-dim, as torch 1.13 keeps it) and, with
 * amsgrad, "<param key>.max_exp_avg_sq"; a trainer saves it with lm_weights_save under
 * "optimizer.generator.state." and restores it exactly with lm_weights_load. A parameter
 * without a gradient is skipped (as torch does for grad None). */
#ifndef LM_OPTIM_H
#define LM_OPTIM_H

#include "model/param.h"

typedef enum lm_optim_kind { LM_OPTIM_ADAM = 0, LM_OPTIM_ADAMW } lm_optim_kind;

typedef struct lm_optim_opts {
    lm_optim_kind kind;   /* optimizers.<net>.kind */
    double lr;            /* optimizers.<net>.lr */
    double beta1, beta2;  /* optimizers.<net>.betas (0.9, 0.999) */
    double eps;           /* 1e-8 */
    double weight_decay;  /* Adam 0 (L2 added to the gradient); AdamW 0.01 (decoupled) */
    int amsgrad;          /* 0 */
} lm_optim_opts;

const char *lm_optim_kind_name(lm_optim_kind k);

typedef struct lm_optim lm_optim;

/* Optimizes every LM_PARAM of p (borrowed; must outlive the optimizer). State tensors are
 * zeros (step 0), which gives the same first step as torch's lazily created state. */
int lm_optim_create(lm_optim **out, lm_params *p, const lm_optim_opts *o);
void lm_optim_free(lm_optim *o);
/* One update of every parameter that has a gradient; runs under no-grad. 0 or negative. */
int lm_optim_step(lm_optim *o);
/* The state registry (see above). The step counters are also kept on the host (no step reads
 * them back): whoever writes the state registry (a checkpoint load) calls lm_optim_state_loaded
 * afterwards, and the next step reads the counters once. */
lm_params *lm_optim_state(lm_optim *o);
void lm_optim_state_loaded(lm_optim *o);
const lm_optim_opts *lm_optim_options(const lm_optim *o);

/* clip_grad_norm_(params, max_norm): total = ‖(‖g_i‖₂)_i‖₂ over parameters with a gradient;
 * coef = max_norm / (total + 1e-6), clamped to 1, multiplies every gradient; all on the device,
 * nothing read to the host (a non-finite total makes the gradients non-finite, as torch's
 * error_if_nonfinite=False does: the step's checks report it). *total_norm gets the norm before
 * clipping as a 0-dim tensor the caller owns (lt_free), or NULL when no parameter has a gradient.
 * max_norm <= 0 clips nothing (Lightning) but still gives the norm. */
int lm_clip_grad_norm(lm_params *p, double max_norm, lt_tensor **total_norm);

#endif
