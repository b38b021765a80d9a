/* param.h — the parameter registry: every parameter and buffer of a network, named with
 * its official state_dict key (DESIGN.md §5). One registry per network; it owns the
 * tensors. Weight I/O, the optimizer, gradient clipping and the distributed all-reduce
 * all walk this list, so a layer registers its tensors once, at build time.
 *
 *     lm_params p; lm_params_init(&p, LT_F32, LT_CPU);
 *     lm_params_push(&p, "model.%d", 1);           // names below get "model.1." in front
 *     lt_tensor *w = lm_params_add(&p, "weight", lt_zeros(...), LM_PARAM);
 *     lm_params_pop(&p);                           // -> "model.1.weight"
 *
 * Tensors are created outside any scope (or kept): the registry frees them.
 *
 * Names are never cut: a push that would make the prefix longer than LM_PREFIX_MAX − 1
 * bytes, or nest deeper than LM_PREFIX_DEPTH levels, returns an error and LATCHES it:
 * every lm_params_add until the matching pop fails with that message, so builders that
 * chain push/add/pop without checking push still fail at their next add. */
#ifndef LM_PARAM_H
#define LM_PARAM_H

#include <stdint.h>

#include "shim/lt.h"

typedef enum lm_param_kind {
    LM_PARAM = 1, /* trainable (requires_grad) */
    LM_BUFFER = 2 /* running statistics, num_batches_tracked: saved, not trained */
} lm_param_kind;

typedef struct lm_param {
    char *name;   /* full key, e.g. "model.5.conv1.ffc.convl2l.weight" */
    lt_tensor *t; /* owned */
    lm_param_kind kind;
} lm_param;

#define LM_PREFIX_MAX 256
#define LM_PREFIX_DEPTH 32

typedef struct lm_params {
    lm_param *items;
    int n, cap;
    lt_dtype dtype;   /* dtype of new floating-point parameters */
    lt_device device; /* where new parameters live */
    char prefix[LM_PREFIX_MAX];
    int prefix_len[LM_PREFIX_DEPTH]; /* prefix lengths to restore on pop */
    int depth;
    int bad_depth;    /* > 0: the push to this depth failed; adds fail until it is popped */
    char bad_msg[LM_PREFIX_MAX + 160];
} lm_params;

void lm_params_init(lm_params *p, lt_dtype dtype, lt_device device);
void lm_params_free(lm_params *p); /* frees every tensor; accepts NULL */
/* Appends "<fmt>." to the name prefix; lm_params_pop removes it (also after a failed push).
 * Returns 0, or LM_EINVAL with the message set (and latched, see above) when the prefix
 * would not fit. */
int lm_params_push(lm_params *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lm_params_pop(lm_params *p);
/* Registers t (taken out of any scope: the registry owns it) as prefix + name.
 * LM_PARAM tensors get requires_grad. Returns t, or NULL (t freed) on error:
 * NULL t, duplicate name, a name that does not fit, a latched push error. */
lt_tensor *lm_params_add(lm_params *p, const char *name, lt_tensor *t, lm_param_kind kind);
lm_param *lm_params_find(const lm_params *p, const char *name);
/* Total elements of the given kinds (LM_PARAM, LM_BUFFER or LM_PARAM|LM_BUFFER). */
int64_t lm_params_numel(const lm_params *p, int kinds);
/* Sets requires_grad on every LM_PARAM (freezing a network for the other's step). */
int lm_params_set_trainable(lm_params *p, int on);
/* Drops every parameter's gradient. */
void lm_params_zero_grad(lm_params *p);
/* Seeded random values for a network whose pretrained file is absent (tests, benchmarks):
 * reseeds libtorch's default CPU generator with seed, then every float32 tensor gets
 * conv weights (4-D) U(±sqrt(3 / fan_in)), BatchNorm near identity (weight and running_var
 * U(1 ± 0.1) / U(1 ± 0.5)), other 1-D tensors (bias, running_mean) U(±0.05). */
int lm_params_randomize(lm_params *p, uint64_t seed);

#endif
