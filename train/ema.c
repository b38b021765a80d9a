/* ema.c — generator averaging (see ema.h; official trainers/base.py update_running_average). */
#include "train/ema.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"

struct lm_ema {
    lm_ema_opts opts;
    const lm_params *src;
    lm_params avg;
    int have;
    int64_t last;
};

int lm_ema_create(lm_ema **out, const lm_params *src, const lm_ema_opts *o) {
    *out = NULL;
    if (!(o->beta >= 0 && o->beta <= 1) || o->period < 0)
        return lm_err_code(LM_EINVAL, "generator averaging: beta %g (0..1) / period %lld (>= 0)",
                           o->beta, (long long)o->period);
    lm_ema *e = calloc(1, sizeof *e);
    if (!e) return lm_err_code(LM_ENOMEM, "generator averaging: out of memory");
    e->opts = *o;
    e->src = src;
    e->last = -1;
    lm_params_init(&e->avg, src->dtype, src->device);
    *out = e;
    return 0;
}

void lm_ema_free(lm_ema *e) {
    if (!e) return;
    lm_params_free(&e->avg);
    free(e);
}

lm_params *lm_ema_params(lm_ema *e) { return e->have ? &e->avg : NULL; }
int64_t lm_ema_last_step(const lm_ema *e) { return e->last; }

static int is_float(lt_dtype d) { return d == LT_F32 || d == LT_F64 || d == LT_F16 || d == LT_BF16; }

int lm_ema_update(lm_ema *e, int64_t step, int *updated) {
    if (updated) *updated = 0;
    if (!e->opts.enabled || step < e->opts.start_step || step < e->last + e->opts.period) return 0;
    int rc = 0;
    lt_no_grad_push();
    lt_scope_push();
    if (!e->have) { /* copy.deepcopy(generator) */
        for (int i = 0; i < e->src->n && !rc; i++) {
            const lm_param *p = &e->src->items[i];
            lt_tensor *c = lt_detach(lt_clone(p->t));
            if (!lm_params_add(&e->avg, p->name, c, LM_BUFFER)) rc = lm_err_prefix("generator averaging");
        }
        e->have = !rc;
    } else {
        for (int i = 0; i < e->src->n && !rc; i++) {
            const lm_param *p = &e->src->items[i];
            lt_tensor *a = e->avg.items[i].t;
            if (is_float(lt_type(p->t))) {
                /* res.mul_(decay).add_(new, alpha=1 - decay) */
                if (!lt_add_(lt_mul_scalar_(a, e->opts.beta), p->t, 1 - e->opts.beta))
                    rc = lm_err_lt("generator averaging %s", p->name);
            } else if (!lt_copy_(a, p->t)) {
                rc = lm_err_lt("generator averaging %s", p->name);
            }
        }
    }
    lt_scope_pop();
    lt_no_grad_pop();
    if (!rc) {
        e->last = step;
        if (updated) *updated = 1;
    }
    return rc;
}

int lm_ema_restore(lm_ema *e, int64_t last_step) {
    int rc = 0;
    if (!e->have) {
        lt_no_grad_push();
        for (int i = 0; i < e->src->n && !rc; i++) {
            const lm_param *p = &e->src->items[i];
            lt_tensor *c = lt_detach(lt_clone(p->t));
            if (!lm_params_add(&e->avg, p->name, c, LM_BUFFER)) rc = lm_err_prefix("generator averaging");
        }
        lt_no_grad_pop();
        e->have = !rc;
    }
    if (!rc) e->last = last_step;
    return rc;
}
