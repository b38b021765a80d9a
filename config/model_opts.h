/* model_opts.h — fills the plain option structs of model/ (generator.h, discriminator.h) from
 * the composed configuration's `generator:` and `discriminator:` groups, as the official
 * make_generator(config, **config.generator) / make_discriminator(**config.discriminator). */
#ifndef LM_MODEL_OPTS_H
#define LM_MODEL_OPTS_H

#include "model/discriminator.h"
#include "model/generator.h"
#include "config/config.h"

/* generator.* -> o (starting from lm_generator_defaults()). An absent add_out_act means the
 * official default True, i.e. tanh; `true` / `false` are accepted as in the official code. */
int lm_generator_opts_from_cfg(lm_generator_opts *o, const lm_cfg *c);
/* discriminator.* -> o (starting from lm_discriminator_defaults()). */
int lm_discriminator_opts_from_cfg(lm_discriminator_opts *o, const lm_cfg *c);

#endif
