/* precision.h — the autocast region of a training precision (trainer.precision, the official
 * Lightning `precision`): float32 does nothing; bfloat16 runs the ops inside under autocast
 * (shim lt_autocast_*, torch.autocast's semantics), and a network output goes back to float32
 * before it reaches a loss. Shared by the training step (train/step.c) and `lamac ddp-check`.
 * No official counterpart (Lightning's native AMP plugin does this there). */
#ifndef LM_PRECISION_H
#define LM_PRECISION_H

#include "shim/lt.h"

/* Opens the region on dev for precision (LT_F32: nothing). 0, or -1 with the shim's message
 * (the caller adds its context, e.g. lm_err_lt). */
int lm_precision_begin(lt_dtype precision, lt_device dev);
/* Closes what lm_precision_begin opened (LT_F32: nothing). */
void lm_precision_end(lt_dtype precision);
/* t in float32 (t itself for LT_F32 or NULL). */
lt_tensor *lm_precision_f32(lt_dtype precision, lt_tensor *t);

#endif
