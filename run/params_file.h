/* params_file.h — the gradients and buffers of parameter sets (model/param.h) as named
 * float32 tensors in a safetensors file, the files `lamac ddp-check` writes so that ranks
 * (and the float64 reference of tests/check_ddp.c) can be compared tensor by tensor. No
 * official counterpart. */
#ifndef LM_PARAMS_FILE_H
#define LM_PARAMS_FILE_H

#include "io/safetensors.h"
#include "model/param.h"

/* Writes the gradient of every trainable parameter that has one, of each of the n sets,
 * named prefixes[k] + name, to path. 0 or negative (nothing is left at path). */
int lm_params_file_grads(const char *path, lm_params *const *ps, const char *const *prefixes, int n);

/* Adds the float32 tensors of p to w: the gradients of the parameters (kind LM_PARAM; those
 * that have one) or the buffers (LM_BUFFER), named prefix + name. */
int lm_params_file_add(lm_safetensors_writer *w, lm_params *p, int kind, const char *prefix);

#endif
