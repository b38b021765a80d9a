/* step.c — one official training iteration (see step.h; official trainers/default.py,
 * trainers/base.py, Lightning 1.2's optimizer loop with gradient clipping). */
#include "train/step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "model/layers.h"
#include "model/lt_err.h"
#include "model/precision.h"

struct lm_step {
    lm_step_nets nets;
    lm_step_opts opts;
    lm_optim *og, *od;
    lm_ema *ema;
    int64_t global_step;
    lm_step_times t;
    lm_step_hooks hooks;
    /* Deferred checks (lm_step_set_deferred): the iteration's terms stay on the device. */
    int deferred;
    int n_terms;                           /* terms of the running iteration */
    const char *term_name[LM_STEP_MAX_TERMS];
    lt_tensor *term_t[LM_STEP_MAX_TERMS];  /* 0-dim float64, owned until the iteration's end */
    int last_n;                            /* terms of the last finished iteration */
    const char *last_name[LM_STEP_MAX_TERMS];
    lt_tensor *last;      /* (last_n) float64: the last finished iteration's values, owned */
    lt_tensor *first_bad; /* (last_n) float64: the first step each term was non-finite since the
                           * last lm_step_read, -1 for none; owned */
};

static int lt_fail(const char *ctx) { return lm_err_lt("%s", ctx); }

double lm_step_losses_get(const lm_step_losses *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->name[i], name)) return l->value[i];
    return NAN;
}

int lm_step_create(lm_step **out, const lm_step_nets *nets, const lm_step_opts *o) {
    *out = NULL;
    if (!nets->g || !nets->g_params || !nets->d || !nets->d_params)
        return lm_err_code(LM_EINVAL, "step: generator and discriminator are required");
    int rc = lm_adv_check(&o->adv);
    if (rc) return rc;
    if (o->precision != LT_F32 && o->precision != LT_BF16 && o->precision != LT_F64)
        return lm_err_code(LM_EINVAL, "step: precision %s: expected F32 (32), F64 (64) or BF16 (bf16)",
                           lt_dtype_name(o->precision));
    lm_step *s = calloc(1, sizeof *s);
    if (!s) return lm_err_code(LM_ENOMEM, "step: out of memory");
    s->nets = *nets;
    s->opts = *o;
    if ((rc = lm_optim_create(&s->og, nets->g_params, &o->opt_g)) < 0) lm_err_prefix("optimizers.generator");
    if (!rc && (rc = lm_optim_create(&s->od, nets->d_params, &o->opt_d)) < 0)
        lm_err_prefix("optimizers.discriminator");
    if (!rc && (rc = lm_ema_create(&s->ema, nets->g_params, &o->ema)) < 0) lm_err_prefix("step");
    if (rc) {
        lm_step_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void drop_terms(lm_step *s) {
    for (int i = 0; i < s->n_terms; i++) lt_free(s->term_t[i]);
    s->n_terms = 0;
}

void lm_step_free(lm_step *s) {
    if (!s) return;
    drop_terms(s);
    lt_free(s->last);
    lt_free(s->first_bad);
    lm_optim_free(s->og);
    lm_optim_free(s->od);
    lm_ema_free(s->ema);
    free(s);
}

lm_optim *lm_step_optim(lm_step *s, int which) { return which ? s->od : s->og; }
lm_ema *lm_step_ema(lm_step *s) { return s->ema; }
const lm_step_times *lm_step_last_times(const lm_step *s) { return &s->t; }
int64_t lm_step_global_step(const lm_step *s) { return s->global_step; }
void lm_step_set_global_step(lm_step *s, int64_t step) { s->global_step = step; }
void lm_step_set_deferred(lm_step *s, int on) { s->deferred = !!on; }
int lm_step_deferred(const lm_step *s) { return s->deferred; }

void lm_step_set_hooks(lm_step *s, const lm_step_hooks *h) {
    if (h) s->hooks = *h;
    else memset(&s->hooks, 0, sizeof s->hooks);
}

/* DDP's buffer broadcast before the forward passes of an optimizer step (hooks, step.h). */
static int sync_buffers(lm_step *s) {
    if (!s->hooks.sync_buffers) return 0;
    lm_step_nets *n = &s->nets;
    int rc = s->hooks.sync_buffers(s->hooks.ctx, n->g_params);
    if (!rc) rc = s->hooks.sync_buffers(s->hooks.ctx, n->d_params);
    if (!rc && n->resnet_pl) rc = s->hooks.sync_buffers(s->hooks.ctx, lm_resnet_pl_params(n->resnet_pl));
    return rc < 0 ? lm_err_prefix("step: buffers") : 0;
}

/* The shape and dtype half of lm_step_check_batch (nothing read from the device). */
static int check_batch_shapes(lt_tensor *img, lt_tensor *mask, int multiple) {
    char a[96], b[96];
    if (!img || !mask) return lm_err_code(LM_EINVAL, "batch: image and mask are required");
    lt_describe(img, a, sizeof a);
    lt_describe(mask, b, sizeof b);
    if (lt_dim(img) != 4 || lt_size(img, 1) != 3)
        return lm_err_code(LM_EINVAL, "batch: image is %s, expected (N, 3, H, W)", a);
    if (lt_dim(mask) != 4 || lt_size(mask, 1) != 1)
        return lm_err_code(LM_EINVAL, "batch: mask is %s, expected (N, 1, H, W)", b);
    if (lt_size(img, 0) != lt_size(mask, 0) || lt_size(img, 2) != lt_size(mask, 2) ||
        lt_size(img, 3) != lt_size(mask, 3))
        return lm_err_code(LM_EINVAL, "batch: image %s and mask %s differ in N, H or W", a, b);
    lt_dtype dt = lt_type(img);
    if (dt != LT_F32 && dt != LT_F64 && dt != LT_F16 && dt != LT_BF16)
        return lm_err_code(LM_EINVAL, "batch: image is %s, expected floating point", a);
    if (multiple > 1 && (lt_size(img, 2) % multiple || lt_size(img, 3) % multiple))
        return lm_err_code(LM_EINVAL, "batch: H and W (%lldx%lld) must be multiples of %d",
                           (long long)lt_size(img, 2), (long long)lt_size(img, 3), multiple);
    return 0;
}

int lm_step_check_batch(lt_tensor *img, lt_tensor *mask, int multiple) {
    int rc = check_batch_shapes(img, mask, multiple);
    if (rc) return rc;
    lt_scope_push();
    lt_tensor *bad = lt_sum(lt_mul(lt_gt_scalar(lt_abs(mask), 0), lt_gt_scalar(lt_abs(lt_rsub_scalar(mask, 1.0)), 0)));
    double nbad = lt_item(lt_to_dtype(bad, LT_F64));
    int fin = lt_all_finite(img);
    if (!bad || isnan(nbad)) rc = lt_fail("batch");
    else if (nbad > 0) rc = lm_err_code(LM_EINVAL, "batch: mask has %.0f values outside {0, 1}", nbad);
    else if (fin != 1) rc = fin < 0 ? lt_fail("batch") : lm_err_code(LM_EINVAL, "batch: image has non-finite values");
    lt_scope_pop();
    return rc;
}

/* Records a loss term (or a gradient norm). Immediate checks: read to the host, a non-finite
 * value is an error naming it. Deferred: kept on the device, nothing read (lm_step_read). */
static int term(lm_step *s, lm_step_losses *l, const char *name, lt_tensor *v) {
    if (!v) return lm_err_lt("step: %s", name);
    if (s->deferred) {
        if (s->n_terms >= LM_STEP_MAX_TERMS) return lm_err_code(LM_EFAIL, "step: more than %d loss terms", LM_STEP_MAX_TERMS);
        lt_tensor *k = lt_keep(lt_to_dtype(lt_detach(v), LT_F64)); // 0-dim
        if (!k) return lm_err_lt("step: %s", name);
        s->term_name[s->n_terms] = name;
        s->term_t[s->n_terms++] = k;
        return 0;
    }
    double x = lt_item(v);
    if (!isfinite(x)) return lm_err_code(LM_ENONFINITE, "step: loss term %s is %g (non-finite); nothing updated "
                                         "by this step", name, x);
    if (l->n < LM_STEP_MAX_TERMS) {
        l->name[l->n] = name;
        l->value[l->n++] = x;
    }
    return 0;
}

/* Deferred checks, at a finished iteration's end: its terms become s->last, and first_bad
 * records this step for every term that is non-finite and was not before. Device ops only. */
static int settle_terms(lm_step *s) {
    int n = s->n_terms, rc = 0;
    if (!n) return 0;
    if (s->first_bad && s->last_n != n)
        return lm_err_code(LM_EFAIL, "step: %d loss terms after %d; read them first (lm_step_read)", n, s->last_n);
    lt_scope_push();
    lt_tensor *vals = lt_stack(s->term_t, n, 0); // (n) float64
    if (!s->first_bad) {
        int64_t sh[1] = {n};
        s->first_bad = lt_keep(lt_full(sh, 1, -1.0, LT_F64, lt_device_of(vals))); // (n)
    }
    /* -1 where finite, the step where not */
    lt_tensor *bad_at = lt_add_scalar(lt_mul_scalar(lt_rsub_scalar(lt_to_dtype(lt_isfinite(vals), LT_F64), 1.0),
                                                    (double)s->global_step + 1.0), -1.0); // (n)
    lt_tensor *fb = s->first_bad ? lt_where(lt_lt_scalar(s->first_bad, 0), bad_at, s->first_bad) : NULL;
    if (!fb || !lt_copy_(s->first_bad, fb)) rc = lm_err_lt("step: non-finite flags");
    lt_tensor *kept = rc ? NULL : lt_keep(vals);
    if (!rc && !kept) rc = lm_err_lt("step: loss terms");
    lt_scope_pop();
    if (rc) return rc;
    lt_free(s->last);
    s->last = kept;
    s->last_n = n;
    memcpy(s->last_name, s->term_name, sizeof s->term_name);
    drop_terms(s);
    return 0;
}

int lm_step_read(lm_step *s, lm_step_losses *L) {
    if (L) memset(L, 0, sizeof *L);
    if (!s->last) return 0;
    int n = s->last_n;
    double v[2 * LM_STEP_MAX_TERMS];
    lt_scope_push();
    lt_tensor *parts[2] = {s->last, s->first_bad};
    lt_tensor *both = lt_cat(parts, 2, 0); // (2n): values, then first bad steps
    int rc = !both || lt_to_buffer(both, v, sizeof *v * (size_t)(2 * n)) < 0 ? lm_err_lt("step: reading the losses") : 0;
    if (!rc && !lt_fill_(s->first_bad, -1.0)) rc = lm_err_lt("step: non-finite flags");
    lt_scope_pop();
    if (rc) return rc;
    if (L) {
        L->n = n;
        for (int i = 0; i < n; i++) L->name[i] = s->last_name[i], L->value[i] = v[i];
    }
    int first = -1;
    for (int i = 0; i < n; i++)
        if (v[n + i] >= 0 && (first < 0 || v[n + i] < v[n + first])) first = i;
    if (first < 0) return 0;
    char others[512] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++)
        if (i != first && v[n + i] >= 0 && len + 40 < sizeof others)
            len += (size_t)snprintf(others + len, sizeof others - len, "%s%s", len ? ", " : "", s->last_name[i]);
    return lm_err_code(LM_ENONFINITE, "step: loss term %s is non-finite (first at step %.0f%s%s; found by the check "
                       "after step %lld: the updates since then are in no checkpoint)",
                       s->last_name[first], v[n + first], len ? "; then also " : "", others,
                       (long long)s->global_step - 1);
}

/* Backward of loss into p's gradients, then the data-parallel averaging (hooks): after the
 * backward (sync_grads), or overlapped with it (ddp_overlap: grads_begin/grads_finish). */
static int backward(lm_step *s, lt_tensor *loss, lm_params *p) {
    const lm_step_hooks *h = &s->hooks;
    int overlap = s->opts.ddp_overlap && h->grads_begin && h->grads_finish;
    int rc;
    if (overlap && (rc = h->grads_begin(h->ctx, p)) < 0) return lm_err_prefix("gradients");
    rc = lt_backward(loss) < 0 ? lt_fail("backward") : 0;
    if (overlap) {
        int frc = h->grads_finish(h->ctx, p);
        if (!rc && frc < 0) rc = lm_err_prefix("gradients");
    } else if (!rc && h->sync_grads && (rc = h->sync_grads(h->ctx, p)) < 0) {
        rc = lm_err_prefix("gradients");
    }
    return rc;
}

/* Autocast around a step's forward passes and losses (trainer.precision: bf16). The caller
 * (lm_step_run) closes any region an error path left open. */
static int autocast_begin(const lm_step *s, lt_tensor *img) {
    return lm_precision_begin(s->opts.precision, lt_device_of(img)) < 0 ? lt_fail("step: autocast") : 0;
}
static void autocast_end(const lm_step *s) { lm_precision_end(s->opts.precision); }
/* A network output in float32 for the losses (a no-op without autocast). */
static lt_tensor *f32(const lm_step *s, lt_tensor *t) { return lm_precision_f32(s->opts.precision, t); }
static void f32_all(const lm_step *s, lt_tensor **t, int n) {
    for (int i = 0; i < n; i++) t[i] = f32(s, t[i]);
}

/* cat(img * (1 - mask), mask)  // (N, 4, H, W) */
static lt_tensor *gen_input(lt_tensor *img, lt_tensor *mask) {
    lt_tensor *parts[2] = {lt_mul(img, lt_rsub_scalar(mask, 1.0)), mask};
    return lt_cat(parts, 2, 1);
}

static int generator_step(lm_step *s, lt_tensor *img, lt_tensor *mask, lm_step_losses *L,
                          lt_tensor **keep_pred) {
    const lm_step_opts *o = &s->opts;
    lm_step_nets *n = &s->nets;
    double t0 = lm_clock_now();
    int rc = lm_params_set_trainable(n->g_params, 1);
    if (!rc) rc = lm_params_set_trainable(n->d_params, 0);
    if (!rc) rc = sync_buffers(s);
    if (!rc) rc = autocast_begin(s, img);
    if (rc) return rc;
    lt_tensor *pred = f32(s, lm_generator_forward(n->g, gen_input(img, mask), 1)); // (N, 3, H, W)
    if (!pred) return lt_fail("step: generator forward");
    double t1 = lm_clock_now();
    s->t.g_fwd = t1 - t0;

    lt_tensor *total = lm_masked_l1_loss(pred, img, mask, &o->l1);
    if ((rc = term(s, L, "gen_l1", total)) < 0) return rc;
    double tp = 0;
    if (n->vgg_pl) {
        double a = lm_clock_now();
        lt_tensor *v = lm_vgg_pl_loss(n->vgg_pl, pred, img, mask);
        tp += lm_clock_now() - a;
        if ((rc = term(s, L, "gen_pl", v)) < 0) return rc;
        total = lt_add(total, v);
    }
    lt_tensor *real_feats[LM_DISC_MAX_FEATS], *fake_feats[LM_DISC_MAX_FEATS];
    int nr = 0, nf = 0;
    lt_tensor *real_logits = f32(s, lm_discriminator_forward(n->d, img, 1, real_feats, &nr));
    lt_tensor *fake_logits = f32(s, lm_discriminator_forward(n->d, pred, 1, fake_feats, &nf));
    if (!real_logits || !fake_logits) return lt_fail("step: discriminator forward");
    f32_all(s, real_feats, nr);
    f32_all(s, fake_feats, nf);
    lt_tensor *adv = lm_adv_generator_loss(&o->adv, fake_logits, mask);
    if ((rc = term(s, L, "gen_adv", adv)) < 0) return rc;
    total = lt_add(total, adv);
    if (o->fm.weight > 0) {
        lt_tensor *fm = lt_mul_scalar(lm_feature_matching_loss(fake_feats, real_feats, nf < nr ? nf : nr,
                                                               o->fm.pass_mask ? mask : NULL), o->fm.weight);
        if ((rc = term(s, L, "gen_fm", fm)) < 0) return rc;
        total = lt_add(total, fm);
    }
    if (n->resnet_pl) {
        double a = lm_clock_now();
        lt_tensor *v = lm_resnet_pl_loss(n->resnet_pl, pred, img);
        if (v && !s->deferred) lt_item(v); /* finish the forward before reading the clock (a read follows) */
        tp += lm_clock_now() - a;
        if ((rc = term(s, L, "gen_resnet_pl", v)) < 0) return rc;
        total = lt_add(total, v);
    }
    if ((rc = term(s, L, "gen_total", total)) < 0) return rc;
    autocast_end(s);
    double t2 = lm_clock_now();
    s->t.g_losses = t2 - t1;
    s->t.pl_fwd = tp;

    if (keep_pred && !(*keep_pred = lt_keep(lt_detach(pred)))) return lt_fail("step");
    lm_params_zero_grad(n->g_params);
    if ((rc = backward(s, total, n->g_params)) < 0) return lm_err_prefix("step: generator");
    double t3 = lm_clock_now();
    s->t.g_bwd = t3 - t2;
    lt_tensor *norm = NULL; // 0-dim
    if ((rc = lm_clip_grad_norm(n->g_params, o->gradient_clip_val, &norm)) < 0) return lm_err_prefix("step: generator");
    rc = norm ? term(s, L, "gen_grad_norm", norm) : 0;
    lt_free(norm);
    if (rc) return rc;
    if ((rc = lm_optim_step(s->og)) < 0) return lm_err_prefix("step: generator");
    lm_params_zero_grad(n->g_params);
    s->t.g_opt = lm_clock_now() - t3;
    return 0;
}

static int discriminator_step(lm_step *s, lt_tensor *img, lt_tensor *mask, lm_step_losses *L,
                              lt_tensor *reused_pred) {
    const lm_step_opts *o = &s->opts;
    lm_step_nets *n = &s->nets;
    double t0 = lm_clock_now();
    int rc = lm_params_set_trainable(n->g_params, 0);
    if (!rc) rc = lm_params_set_trainable(n->d_params, 1);
    if (!rc) rc = sync_buffers(s);
    if (!rc) rc = autocast_begin(s, img);
    if (rc) return rc;
    /* _do_step runs the forward again, with grad mode on and G frozen (unless reuse_pred) */
    lt_tensor *pred = reused_pred ? reused_pred : f32(s, lm_generator_forward(n->g, gen_input(img, mask), 1));
    if (!pred) return lt_fail("step: generator forward (discriminator step)");
    double t1 = lm_clock_now();
    s->t.d_gfwd = reused_pred ? 0 : t1 - t0;
    if (!(o->adv.weight > 0)) { /* the official D step computes no loss then */
        autocast_end(s);
        return 0;
    }
    /* pre_discriminator_step: real_batch.requires_grad = True (a leaf sharing img's data) */
    lt_tensor *real = lt_detach(img);
    if (lt_set_requires_grad(real, 1) < 0) return lt_fail("step");
    lt_tensor *real_logits = f32(s, lm_discriminator_forward(n->d, real, 1, NULL, NULL));
    lt_tensor *fake_logits = f32(s, lm_discriminator_forward(n->d, lt_detach(pred), 1, NULL, NULL));
    if (!real_logits || !fake_logits) return lt_fail("step: discriminator forward");
    lm_adv_discr r;
    if (lm_adv_discriminator_loss(&r, &o->adv, real, real_logits, fake_logits, mask) < 0)
        return lt_fail("step: discriminator loss");
    if ((rc = term(s, L, "discr_adv", r.loss)) < 0) return rc;
    if ((rc = term(s, L, "adv_discr_real_out", r.real_out)) < 0) return rc;
    if ((rc = term(s, L, "adv_discr_fake_out", r.fake_out)) < 0) return rc;
    if ((rc = term(s, L, "adv_discr_real_gp", r.gp)) < 0) return rc;
    autocast_end(s);
    double t2 = lm_clock_now();
    s->t.d_fwd = t2 - t1;
    lm_params_zero_grad(n->d_params);
    if ((rc = backward(s, r.loss, n->d_params)) < 0) return lm_err_prefix("step: discriminator");
    double t3 = lm_clock_now();
    s->t.d_bwd = t3 - t2;
    lt_tensor *norm = NULL; // 0-dim
    if ((rc = lm_clip_grad_norm(n->d_params, o->gradient_clip_val, &norm)) < 0) return lm_err_prefix("step: discriminator");
    rc = norm ? term(s, L, "discr_grad_norm", norm) : 0;
    lt_free(norm);
    if (rc) return rc;
    if ((rc = lm_optim_step(s->od)) < 0) return lm_err_prefix("step: discriminator");
    lm_params_zero_grad(n->d_params);
    s->t.d_opt = lm_clock_now() - t3;
    return 0;
}

static int run_checked(lm_step *s, lt_tensor *img, lt_tensor *mask, lm_step_losses *L, double t0);

int lm_step_run(lm_step_losses *losses, lm_step *s, lt_tensor *img, lt_tensor *mask) {
    lm_step_losses local;
    lm_step_losses *L = losses ? losses : &local;
    memset(L, 0, sizeof *L);
    memset(&s->t, 0, sizeof s->t);
    double t0 = lm_clock_now();
    /* deferred checks read nothing: the batch's values are the caller's to check (data/) */
    int rc = s->deferred ? check_batch_shapes(img, mask, 1) : lm_step_check_batch(img, mask, 1);
    if (rc) return rc;
    lt_scope_push(); /* the float64 / channels-last copies of the batch live here */
    if (s->opts.precision == LT_F64 && (lt_type(img) != LT_F64 || lt_type(mask) != LT_F64)) {
        img = lt_to_dtype(img, LT_F64);   // (N, 3, H, W)
        mask = lt_to_dtype(mask, LT_F64); // (N, 1, H, W)
        if (!img || !mask) {
            lt_scope_pop();
            return lt_fail("step: batch to float64");
        }
    }
    if (s->opts.channels_last && (!(img = lt_to_channels_last(img)) || !(mask = lt_to_channels_last(mask)))) {
        lt_scope_pop(); /* trainer.channels_last: the batch in the parameters' memory format */
        return lt_fail("step: batch to channels-last");
    }
    rc = run_checked(s, img, mask, L, t0);
    lt_scope_pop();
    return rc;
}

/* lm_step_run after the batch check (and its float64 conversion). */
static int run_checked(lm_step *s, lt_tensor *img, lt_tensor *mask, lm_step_losses *L, double t0) {
    int rc;
    drop_terms(s);
    /* training_step_end of the generator step: averaging before the update */
    if ((rc = lm_ema_update(s->ema, s->global_step, NULL)) < 0) return rc;
    lt_tensor *pred = NULL; /* the G step's prediction, kept for the D step (reuse_pred) */
    lt_pgroup *bn_prev = lm_bn_sync_group();
    if (s->opts.sync_bn && s->hooks.bn_group) lm_bn_set_sync_group(s->hooks.bn_group);
    int ac_depth = lt_autocast_depth();
    lt_scope_push();
    rc = generator_step(s, img, mask, L, s->opts.reuse_pred ? &pred : NULL);
    while (lt_autocast_depth() > ac_depth) lt_autocast_exit(); /* an error path left it open */
    lt_scope_pop();
    if (!rc) {
        lt_scope_push();
        rc = discriminator_step(s, img, mask, L, pred);
        while (lt_autocast_depth() > ac_depth) lt_autocast_exit();
        lt_scope_pop();
    }
    lt_free(pred);
    if (!rc && s->deferred) rc = settle_terms(s);
    drop_terms(s);
    lm_bn_set_sync_group(bn_prev);
    /* leave both networks trainable, as after construction */
    lm_params_set_trainable(s->nets.g_params, 1);
    lm_params_set_trainable(s->nets.d_params, 1);
    if (!rc) s->global_step++;
    s->t.total = lm_clock_now() - t0;
    return rc;
}
