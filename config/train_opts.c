/* train_opts.c — config -> optimizer, clipping, averaging and step options (see train_opts.h). */
#include "config/train_opts.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

int lm_optim_opts_from_cfg(lm_optim_opts *o, const lm_cfg *c, const char *net) {
    char p[96];
    const char *kind = NULL;
    snprintf(p, sizeof p, "optimizers.%s.kind", net);
    if (lm_cfg_get_str(c, p, &kind) < 0) return LM_EINVAL;
    *o = lm_optim_defaults(kind && !strcmp(kind, "adamw") ? LM_OPTIM_ADAMW : LM_OPTIM_ADAM);
    snprintf(p, sizeof p, "optimizers.%s.lr", net);
    int rc = lm_cfg_get_float(c, p, &o->lr);
    snprintf(p, sizeof p, "optimizers.%s.eps", net);
    if (!rc) rc = lm_cfg_get_float(c, p, &o->eps);
    snprintf(p, sizeof p, "optimizers.%s.amsgrad", net);
    if (!rc) rc = lm_cfg_get_bool(c, p, &o->amsgrad);
    snprintf(p, sizeof p, "optimizers.%s.weight_decay", net);
    if (!rc && lm_cfg_has(c, p)) rc = lm_cfg_get_float(c, p, &o->weight_decay);
    snprintf(p, sizeof p, "optimizers.%s.betas", net);
    const lm_cfg_node *b = NULL;
    if (!rc) rc = lm_cfg_get_list(c, p, &b);
    if (!rc && b) {
        double v[2];
        if (b->n != 2) return lm_err_code(LM_EINVAL, "config: %s:%d: key '%s': expected two numbers",
                                          b->file, b->line, p);
        for (int i = 0; i < 2; i++)
            if (lm_cfg_scalar_float(b->kids[i]->text, &v[i]) < 0 || !(v[i] >= 0 && v[i] < 1))
                return lm_err_code(LM_EINVAL, "config: %s:%d: key '%s.%d': expected a number in [0, 1), "
                                   "got '%s'", b->file, b->line, p, i, b->kids[i]->text);
        o->beta1 = v[0];
        o->beta2 = v[1];
    }
    return rc < 0 ? rc : 0;
}

/* One precision value: 32 (32-true) -> LT_F32, 64 (64-true) -> LT_F64 (every network, loss
 * and optimizer state in float64: the parity checks and gradient debugging), bf16 (bf16-mixed)
 * -> LT_BF16; 16 is refused with its reason. */
static int parse_precision(const lm_cfg *c, const char *key, const char *v, lt_dtype *out) {
    if (!strcmp(v, "32") || !strcmp(v, "32-true")) *out = LT_F32;
    else if (!strcmp(v, "64") || !strcmp(v, "64-true")) *out = LT_F64;
    else if (!strcmp(v, "bf16") || !strcmp(v, "bf16-mixed")) *out = LT_BF16;
    else {
        const lm_cfg_node *n = lm_cfg_find(c, key);
        char where[300] = "";
        if (n && n->file) snprintf(where, sizeof where, "%s:%d: ", n->file, n->line);
        if (!strcmp(v, "16") || !strcmp(v, "16-mixed"))
            return lm_err_code(LM_EINVAL, "config: %skey '%s': precision %s: fp16 not supported, use bf16 "
                               "(the official FFT problems: LaMa's FourierUnit fails or overflows in float16)",
                               where, key, v);
        return lm_err_code(LM_EINVAL, "config: %skey '%s': precision '%s' is not one of 32 | 64 | bf16 (bf16-mixed)",
                           where, key, v);
    }
    return 0;
}

/* trainer.precision (lamac; wins when set, so `trainer.precision=bf16` overrides the
 * `precision: 32` of the official trainer files) or trainer.kwargs.precision (the official
 * Lightning key). Both are checked. */
int lm_precision_from_cfg(lt_dtype *out, const lm_cfg *c) {
    const char *a = NULL, *b = NULL;
    lt_dtype da = LT_F32, db = LT_F32;
    int rc = lm_cfg_get_str(c, "trainer.precision", &a);
    if (!rc) rc = lm_cfg_get_str(c, "trainer.kwargs.precision", &b);
    if (!rc && a) rc = parse_precision(c, "trainer.precision", a, &da);
    if (!rc && b) rc = parse_precision(c, "trainer.kwargs.precision", b, &db);
    if (rc) return rc;
    *out = a ? da : db;
    return 0;
}

int lm_step_opts_from_cfg(lm_step_opts *so, lm_loss_opts *lo, const lm_cfg *c) {
    lm_loss_opts local;
    if (!lo) lo = &local;
    *so = lm_step_defaults();
    int rc = lm_loss_opts_from_cfg(lo, c);
    if (rc) return rc;
    so->l1 = lo->l1;
    so->adv = lo->adv;
    so->fm = lo->fm;
    if ((rc = lm_optim_opts_from_cfg(&so->opt_g, c, "generator")) < 0) return rc;
    if ((rc = lm_optim_opts_from_cfg(&so->opt_d, c, "discriminator")) < 0) return rc;
    if ((rc = lm_cfg_get_float(c, "trainer.kwargs.gradient_clip_val", &so->gradient_clip_val)) < 0) return rc;
    int64_t v;
    if ((rc = lm_cfg_get_bool(c, "training_model.average_generator", &so->ema.enabled)) < 0) return rc;
    if ((rc = lm_cfg_get_float(c, "training_model.generator_avg_beta", &so->ema.beta)) < 0) return rc;
    if ((rc = lm_cfg_get_int(c, "training_model.average_generator_start_step", &v)) < 0) return rc;
    so->ema.start_step = v;
    if ((rc = lm_cfg_get_int(c, "training_model.average_generator_period", &v)) < 0) return rc;
    so->ema.period = v;
    if ((rc = lm_cfg_get_bool(c, "training_model.reuse_generator_output", &so->reuse_pred)) < 0) return rc;
    if ((rc = lm_cfg_get_bool(c, "trainer.sync_bn", &so->sync_bn)) < 0) return rc;
    int lightning_sync = 0; /* Lightning's Trainer(sync_batchnorm=True) means the same */
    if ((rc = lm_cfg_get_bool(c, "trainer.kwargs.sync_batchnorm", &lightning_sync)) < 0) return rc;
    so->sync_bn = so->sync_bn || lightning_sync;
    if ((rc = lm_cfg_get_bool(c, "trainer.ddp_overlap", &so->ddp_overlap)) < 0) return rc;
    if ((rc = lm_precision_from_cfg(&so->precision, c)) < 0) return rc;
    return 0;
}
