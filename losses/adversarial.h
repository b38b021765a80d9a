/* adversarial.h — the adversarial losses (official saicinpainting/training/losses/adversarial.py):
 *
 *   r1  NonSaturatingWithR1. Generator: softplus(−D(fake)) [· mask or · (1 + mask·extra)],
 *       mean, · weight. Discriminator: mean(softplus(−D(real)) + gp_coef·R1 + fake term),
 *       fake term = softplus(D(fake)) [· mask [+ (1−mask)·softplus(−D(fake)) with
 *       mask_as_fake_target]]; R1 = mean over samples of |∂ΣD(real)/∂real|², computed every
 *       step by double backward (create_graph) whenever grad mode is on, else 0.
 *   bce BCELoss. Generator: BCEWithLogits(D(fake), 0) · weight. Discriminator:
 *       (BCEWithLogits(D(real), 0) + BCEWithLogits(D(fake), mask)) / 2, no weight.
 *
 * Masks are resized to the logits' size by interpolate_mask (mask_scale_mode: nearest,
 * bilinear, area, or maxpool = adaptive max pool), which the official code allows only with
 * allow_scale_mask. Deviation (documented): the official default trainer calls BCELoss with
 * keyword arguments it does not accept (a TypeError); lamac computes the class's formula with
 * the mask resized as interpolate_mask would. */
#ifndef LM_LOSSES_ADVERSARIAL_H
#define LM_LOSSES_ADVERSARIAL_H

#include "shim/lt.h"

typedef enum lm_adv_kind { LM_ADV_R1 = 0, LM_ADV_BCE } lm_adv_kind;
typedef enum lm_mask_scale {
    LM_MASK_SCALE_NEAREST = 0, LM_MASK_SCALE_BILINEAR, LM_MASK_SCALE_AREA, LM_MASK_SCALE_MAXPOOL
} lm_mask_scale;

typedef struct lm_adv_opts {
    lm_adv_kind kind;               /* losses.adversarial.kind */
    double weight;                  /* 10 (official class default 1) */
    double gp_coef;                 /* 0.001 (class default 5) */
    int mask_as_fake_target;        /* 1 (class default 0) */
    int allow_scale_mask;           /* 1 (class default 0) */
    lm_mask_scale mask_scale_mode;  /* nearest */
    double extra_mask_weight_for_gen; /* 0 */
    int use_unmasked_for_gen;       /* 1 */
    int use_unmasked_for_discr;     /* 1 */
} lm_adv_opts;

/* The official constructor's assertions: use_unmasked_for_discr implies use_unmasked_for_gen...
 * Returns 0 or LM_EINVAL with a message naming the options. */
int lm_adv_check(const lm_adv_opts *o);
/* "nearest" | "bilinear" | "area" | "maxpool" -> *out; LM_EINVAL otherwise. */
int lm_mask_scale_parse(lm_mask_scale *out, const char *s);
const char *lm_mask_scale_name(lm_mask_scale m);

/* interpolate_mask: mask (N, 1, H, W) -> (N, 1, h, w). Same size: mask itself (a new handle).
 * Different size without allow_scale_mask: NULL with an error (the official assertion). */
lt_tensor *lm_adv_interpolate_mask(const lm_adv_opts *o, lt_tensor *mask, int64_t h, int64_t w);

/* Weighted generator term (0-dim). fake_logits (N, 1, h, w); mask (N, 1, H, W) (may be NULL
 * when no option needs it). NULL on failure (lt_error()). */
lt_tensor *lm_adv_generator_loss(const lm_adv_opts *o, lt_tensor *fake_logits, lt_tensor *mask);

/* The discriminator term and the official metrics (all 0-dim, owned by the current scope). */
typedef struct lm_adv_discr {
    lt_tensor *loss;     /* discr_adv */
    lt_tensor *real_out; /* adv_discr_real_out = mean D(real) */
    lt_tensor *fake_out; /* adv_discr_fake_out = mean D(fake) */
    lt_tensor *gp;       /* adv_discr_real_gp = gp_coef · R1 (0 for bce, or without grad mode) */
} lm_adv_discr;

/* real (N, 3, H, W) must require grad for r1 (pre_discriminator_step), real_logits = D(real)
 * computed from it; fake_logits = D(fake.detach()); mask (N, 1, H, W). Returns 0 or -1
 * (lt_error()). */
int lm_adv_discriminator_loss(lm_adv_discr *out, const lm_adv_opts *o, lt_tensor *real,
                              lt_tensor *real_logits, lt_tensor *fake_logits, lt_tensor *mask);

#endif
