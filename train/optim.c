/* optim.c — Adam / AdamW and global-norm gradient clipping (see optim.h). */
#include "train/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"

typedef struct slot {
    lt_tensor *param;                      /* borrowed from the parameter registry */
    lt_tensor *exp_avg, *exp_avg_sq, *max_sq, *step; /* owned by o->state */
    float step_host; /* the value of step, kept on the host so that no step reads it back */
} slot;

struct lm_optim {
    lm_optim_opts opts;
    lm_params *params;
    lm_params state;
    slot *slots;
    int n;
    int steps_stale; /* the state was written from outside (lm_optim_state_loaded): re-read step */
};

const char *lm_optim_kind_name(lm_optim_kind k) { return k == LM_OPTIM_ADAMW ? "adamw" : "adam"; }

static int lt_fail(const char *ctx) { return lm_err_lt("%s", ctx); }

int lm_optim_create(lm_optim **out, lm_params *p, const lm_optim_opts *oo) {
    *out = NULL;
    if (!(oo->lr >= 0) || !(oo->eps >= 0) || !(oo->beta1 >= 0 && oo->beta1 < 1) ||
        !(oo->beta2 >= 0 && oo->beta2 < 1) || !(oo->weight_decay >= 0))
        return lm_err_code(LM_EINVAL, "optimizer: invalid lr %g / betas (%g, %g) / eps %g / "
                           "weight_decay %g", oo->lr, oo->beta1, oo->beta2, oo->eps, oo->weight_decay);
    lm_optim *o = calloc(1, sizeof *o);
    if (!o) return lm_err_code(LM_ENOMEM, "optimizer: out of memory");
    o->opts = *oo;
    o->params = p;
    lm_params_init(&o->state, p->dtype, p->device);
    o->slots = calloc((size_t)(p->n ? p->n : 1), sizeof *o->slots);
    int rc = o->slots ? 0 : lm_err_code(LM_ENOMEM, "optimizer: out of memory");
    for (int i = 0; i < p->n && !rc; i++) {
        if (p->items[i].kind != LM_PARAM) continue;
        slot *s = &o->slots[o->n++];
        lt_tensor *t = p->items[i].t;
        int64_t shape[8];
        int nd = lt_shape(t, shape, 8);
        lt_dtype dt = lt_type(t);
        lt_device dev = lt_device_of(t);
        s->param = t;
        lm_params_push(&o->state, "%s", p->items[i].name);
        s->step = lm_params_add(&o->state, "step", lt_zeros(NULL, 0, LT_F32, LT_CPU), LM_BUFFER);
        s->exp_avg = lm_params_add(&o->state, "exp_avg", lt_zeros(shape, nd, dt, dev), LM_BUFFER);
        s->exp_avg_sq = lm_params_add(&o->state, "exp_avg_sq", lt_zeros(shape, nd, dt, dev), LM_BUFFER);
        if (oo->amsgrad)
            s->max_sq = lm_params_add(&o->state, "max_exp_avg_sq", lt_zeros(shape, nd, dt, dev), LM_BUFFER);
        lm_params_pop(&o->state);
        if (!s->step || !s->exp_avg || !s->exp_avg_sq || (oo->amsgrad && !s->max_sq))
            rc = lm_err_prefix("optimizer state");
    }
    if (rc) {
        lm_optim_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

void lm_optim_free(lm_optim *o) {
    if (!o) return;
    lm_params_free(&o->state);
    free(o->slots);
    free(o);
}

lm_params *lm_optim_state(lm_optim *o) { return &o->state; }
const lm_optim_opts *lm_optim_options(const lm_optim *o) { return &o->opts; }

void lm_optim_state_loaded(lm_optim *o) { o->steps_stale = 1; }

/* The host copies of the step counters from the state tensors (one read each, after a load). */
static int reread_steps(lm_optim *o) {
    for (int i = 0; i < o->n; i++) {
        double v = lt_item(o->slots[i].step);
        if (isnan(v)) return lm_err_lt("optimizer state %d", i);
        o->slots[i].step_host = (float)v;
    }
    o->steps_stale = 0;
    return 0;
}

/* One parameter, torch 1.13's _single_tensor_adam / _single_tensor_adamw (non-capturable): the
 * bias corrections are host doubles of the float32 counter (step_t += 1; step = step_t.item()),
 * which lamac keeps on the host (step_host) instead of reading the tensor back. */
static int update(const lm_optim_opts *o, slot *s, lt_tensor *grad) {
    lt_tensor *p = s->param;
    s->step_host = s->step_host + 1.0f; /* float32 arithmetic, as the counter tensor's */
    double step = s->step_host;
    if (!lt_fill_(s->step, step)) return -1;
    if (o->weight_decay != 0) {
        if (o->kind == LM_OPTIM_ADAMW) {
            if (!lt_mul_scalar_(p, 1 - o->lr * o->weight_decay)) return -1;
        } else {
            /* grad = grad.add(param, alpha=weight_decay): the same fused kernel as add_ */
            grad = lt_add_(lt_clone(grad), p, o->weight_decay);
        }
    }
    if (!lt_add_(lt_mul_scalar_(s->exp_avg, o->beta1), grad, 1 - o->beta1)) return -1;
    if (!lt_addcmul_(lt_mul_scalar_(s->exp_avg_sq, o->beta2), grad, grad, 1 - o->beta2)) return -1;
    double bc1 = 1 - pow(o->beta1, step), bc2 = 1 - pow(o->beta2, step);
    double step_size = o->lr / bc1, bc2_sqrt = sqrt(bc2);
    lt_tensor *sq = s->exp_avg_sq;
    if (o->amsgrad) {
        lt_tensor *mx = lt_where(lt_gt(s->max_sq, s->exp_avg_sq), s->max_sq, s->exp_avg_sq);
        if (!lt_copy_(s->max_sq, mx)) return -1;
        sq = s->max_sq;
    }
    lt_tensor *denom = lt_add_scalar_(lt_div(lt_sqrt(sq), lt_scalar(bc2_sqrt, LT_F64, LT_CPU)), o->eps);
    return lt_addcdiv_(p, s->exp_avg, denom, -step_size) ? 0 : -1;
}

int lm_optim_step(lm_optim *o) {
    if (o->steps_stale && reread_steps(o) < 0) return lm_err_prefix("optimizer step");
    int rc = 0;
    lt_no_grad_push();
    for (int i = 0; i < o->n && !rc; i++) {
        slot *s = &o->slots[i];
        if (!lt_has_grad(s->param)) continue;
        lt_scope_push();
        if (update(&o->opts, s, lt_grad_of(s->param)) < 0) rc = lt_fail("optimizer step");
        lt_scope_pop();
    }
    lt_no_grad_pop();
    return rc;
}

int lm_clip_grad_norm(lm_params *p, double max_norm, lt_tensor **total_norm) {
    *total_norm = NULL;
    int n = 0;
    for (int i = 0; i < p->n; i++) n += p->items[i].kind == LM_PARAM && lt_has_grad(p->items[i].t);
    if (!n) return 0;
    lt_tensor **norms = calloc((size_t)n, sizeof *norms);
    if (!norms) return lm_err_code(LM_ENOMEM, "clip_grad_norm: out of memory");
    int rc = 0;
    lt_no_grad_push();
    lt_scope_push();
    int k = 0;
    for (int i = 0; i < p->n; i++)
        if (p->items[i].kind == LM_PARAM && lt_has_grad(p->items[i].t))
            norms[k++] = lt_norm(lt_grad_of(p->items[i].t), 2.0);
    lt_tensor *total = lt_norm(lt_stack(norms, n, 0), 2.0); // 0-dim
    if (max_norm > 0 && total) {
        /* clip_coef = max_norm / (total_norm + 1e-6), clamped to 1.0, in float32 (a float divided
         * by a tensor is reciprocal() * max_norm in PyTorch); every gradient is multiplied by it,
         * on the device (multiplying by the clamped 1.0 is exact) */
        lt_tensor *coef = lt_clamp(lt_mul_scalar(lt_div(lt_scalar(1.0, LT_F32, LT_CPU), lt_add_scalar(total, 1e-6)),
                                                 max_norm), -INFINITY, 1.0); // 0-dim
        for (int i = 0; i < p->n && !rc; i++)
            if (p->items[i].kind == LM_PARAM && lt_has_grad(p->items[i].t))
                if (!lt_mul_(lt_grad_of(p->items[i].t), coef)) rc = lt_fail("clip_grad_norm");
    }
    if (!total) rc = lt_fail("clip_grad_norm");
    if (!rc && !(*total_norm = lt_keep(total))) rc = lt_fail("clip_grad_norm");
    lt_scope_pop();
    lt_no_grad_pop();
    free(norms);
    return rc;
}
