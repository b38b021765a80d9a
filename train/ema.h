/* ema.h — generator averaging (official trainers/base.py: average_generator,
 * generator_avg_beta, average_generator_start_step, average_generator_period; off by default,
 * as in every official config). At the first due step the average is a copy of the
 * generator; afterwards avg = beta·avg + (1 − beta)·current for every parameter.
 *
 * Deviation (documented): the official update_running_average averages named_parameters()
 * only, so the averaged generator keeps the BatchNorm statistics of the step it was copied
 * at. lamac averages the floating-point buffers (running_mean, running_var) the same way
 * and copies num_batches_tracked, so the average is usable in eval mode. */
#ifndef LM_EMA_H
#define LM_EMA_H

#include <stdint.h>

#include "model/param.h"

typedef struct lm_ema_opts {
    int enabled;        /* training_model.average_generator (false) */
    double beta;        /* generator_avg_beta (0.999) */
    int64_t start_step; /* average_generator_start_step (30000) */
    int64_t period;     /* average_generator_period (10) */
} lm_ema_opts;


typedef struct lm_ema lm_ema;

/* src: the generator's registry (borrowed). The average registry has the same keys. */
int lm_ema_create(lm_ema **out, const lm_params *src, const lm_ema_opts *o);
void lm_ema_free(lm_ema *e);
/* Called once per iteration with the global step before the generator update (the official
 * training_step_end runs before the optimizer step); updates when due. *updated (may be NULL)
 * says whether it did. */
int lm_ema_update(lm_ema *e, int64_t global_step, int *updated);
/* The averaged registry (NULL until the first update), and the step it was last updated at. */
lm_params *lm_ema_params(lm_ema *e);
int64_t lm_ema_last_step(const lm_ema *e);
/* For a resume: makes the average exist (a copy of the generator, which the caller then
 * overwrites with the saved average through lm_ema_params) and sets its last update step. */
int lm_ema_restore(lm_ema *e, int64_t last_step);

#endif
