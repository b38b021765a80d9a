/* step_setup.c — networks + step from a training config (see step_setup.h). */
#include "run/step_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"
#include "model/precision.h"
#include "config/fill.h"
#include "run/predictor.h"

void lm_step_setup_free(lm_step_setup *s) {
    if (!s) return;
    lm_step_free(s->step);
    lm_resnet_pl_free(s->resnet_pl);
    lm_vgg_pl_free(s->vgg_pl);
    lm_generator_free(s->g);
    lm_discriminator_free(s->d);
    lm_params_free(&s->gp);
    lm_params_free(&s->dp);
    free(s);
}

/* G (and D) from s->gopts / s->dopts, parameters in dt on s->device. */
static int create_nets(lm_step_setup *s, lt_dtype dt, int with_discriminator) {
    int rc;
    lm_params_init(&s->gp, dt, s->device);
    lm_params_init(&s->dp, dt, s->device);
    if ((rc = lm_generator_create(&s->g, &s->gp, &s->gopts)) < 0) lm_err_prefix("generator");
    if (!rc && with_discriminator && (rc = lm_discriminator_create(&s->d, &s->dp, &s->dopts)) < 0)
        lm_err_prefix("discriminator");
    return rc;
}

int lm_step_setup_create_nets(lm_step_setup **out, const lm_cfg *c, lt_dtype dt, lt_device dev,
                              int with_discriminator) {
    *out = NULL;
    lm_step_setup *s = calloc(1, sizeof *s);
    if (!s) return lm_err_code(LM_ENOMEM, "model: out of memory");
    s->device = dev;
    int rc = lm_cfg_fill(&s->gopts, LM_OPTS_GENERATOR, c);
    if (!rc && with_discriminator) rc = lm_cfg_fill(&s->dopts, LM_OPTS_DISCRIMINATOR, c);
    if (!rc) rc = create_nets(s, dt, with_discriminator);
    if (rc) {
        lm_step_setup_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int lm_step_switches_check(const lm_step_opts *o, lt_device dev) {
    if (!o->cuda_graph) return 0;
    if (dev < LT_CUDA) return lm_err_code(LM_EINVAL, "config: trainer.cuda_graph needs a CUDA device (got cpu)");
    return lm_err_code(LM_EINVAL,
                       "config: trainer.cuda_graph: capturing the training iteration in a CUDA graph is not "
                       "available in this build: the optimizers' scalars (Adam's bias corrections, computed on the "
                       "host in double precision each step as torch 1.13's non-capturable Adam does, the official "
                       "numerics) change every step, and a captured graph would replay the first step's values; "
                       "set trainer.cuda_graph=false");
}

/* Every 4-D tensor of p (convolution weights) in channels-last memory format, in place. */
static int params_channels_last(lm_params *p, const char *what) {
    for (int i = 0; p && i < p->n; i++)
        if (lt_set_channels_last_(p->items[i].t) < 0) return lm_err_lt("trainer.channels_last: %s %s", what, p->items[i].name);
    return 0;
}

/* trainer.tf32 (process-wide) and trainer.channels_last (the networks' parameters; the batch is
 * the step's, train/step.c) once the networks exist and before the optimizers see them. */
static int apply_switches(lm_step_setup *s) {
    const lm_step_opts *o = &s->sopts;
    if (o->tf32 >= 0) {
        if (lt_set_tf32(o->tf32, o->tf32) < 0) return lm_err_lt("trainer.tf32");
        if (s->device < LT_CUDA)
            fprintf(stderr, "note: trainer.tf32=%s has no effect on the CPU (TF32 is a CUDA math mode)\n",
                    o->tf32 ? "true" : "false");
    }
    if (!o->channels_last) return 0;
    int rc = params_channels_last(&s->gp, "generator");
    if (!rc) rc = params_channels_last(&s->dp, "discriminator");
    if (!rc && s->resnet_pl) rc = params_channels_last(lm_resnet_pl_params(s->resnet_pl), "losses.resnet_pl");
    if (!rc && s->vgg_pl) rc = params_channels_last(lm_vgg_pl_params(s->vgg_pl), "losses.perceptual");
    return rc;
}

void lm_step_switches_describe(char *buf, size_t cap, const lm_step_opts *o) {
    int conv = -1, mm = -1;
    if (lt_get_tf32(&conv, &mm) < 0) conv = mm = -1;
    snprintf(buf, cap, "trainer.tf32 %s (TF32 now: cuDNN convolutions %s, cuBLAS matmul %s; CUDA only), "
             "trainer.channels_last %s, trainer.cuda_graph %s",
             o->tf32 < 0 ? "null (libtorch's defaults)" : o->tf32 ? "true" : "false", conv < 0 ? "?" : conv ? "on" : "off",
             mm < 0 ? "?" : mm ? "on" : "off", o->channels_last ? "true" : "false", o->cuda_graph ? "true" : "false");
}

int lm_step_setup_create(lm_step_setup **out, const lm_cfg *c, lt_device dev, int pl_flags) {
    *out = NULL;
    lm_step_setup *s = calloc(1, sizeof *s);
    if (!s) return lm_err_code(LM_ENOMEM, "step: out of memory");
    s->device = dev;
    int rc = lm_cfg_fill(&s->gopts, LM_OPTS_GENERATOR, c);
    if (!rc) rc = lm_cfg_fill(&s->dopts, LM_OPTS_DISCRIMINATOR, c);
    if (!rc) rc = lm_cfg_fill(&s->sopts, LM_OPTS_STEP, c);
    if (!rc) rc = lm_cfg_fill(&s->lopts, LM_OPTS_LOSSES, c);
    if (!rc) rc = lm_step_switches_check(&s->sopts, dev);
    /* trainer.precision 64: every network in float64; otherwise float32 parameters */
    lt_dtype pdt = !rc && s->sopts.precision == LT_F64 ? LT_F64 : LT_F32;
    if (!rc) rc = create_nets(s, pdt, 1);
    if (!rc && s->lopts.resnet_pl.weight > 0 &&
        (rc = lm_resnet_pl_create(&s->resnet_pl, &s->lopts.resnet_pl, pdt, dev, pl_flags)) < 0)
        lm_err_prefix("losses.resnet_pl");
    if (!rc && s->lopts.perceptual.weight > 0 &&
        (rc = lm_vgg_pl_create(&s->vgg_pl, &s->lopts.perceptual, pdt, dev, pl_flags)) < 0)
        lm_err_prefix("losses.perceptual");
    if (!rc) rc = apply_switches(s);
    if (!rc) {
        lm_step_nets n = {s->g, &s->gp, s->d, &s->dp, s->resnet_pl, s->vgg_pl};
        rc = lm_step_create(&s->step, &n, &s->sopts);
    }
    if (rc) {
        lm_step_setup_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int load_part(lm_params *p, const lm_weights_src *src, const char *prefix, FILE *report) {
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    int rc = lm_weights_load(p, src, prefix, LM_WEIGHTS_STRICT, &rep);
    if (rc < 0 && report && rep.n) lm_weights_report_print(&rep, report);
    lm_weights_report_free(&rep);
    return rc;
}

int lm_step_setup_load(lm_step_setup *s, const char *path, FILE *report) {
    lm_weights_src *src = NULL;
    int rc = lm_weights_open(&src, path);
    if (rc < 0) return rc;
    if (!lm_weights_count_prefix(src, "generator.") || !lm_weights_count_prefix(src, "discriminator."))
        rc = lm_err_code(LM_EINVAL, "weights %s: expected generator.* and discriminator.* tensors "
                         "(official key names)", path);
    if (!rc) rc = load_part(&s->gp, src, "generator.", report);
    if (!rc) rc = load_part(&s->dp, src, "discriminator.", report);
    if (!rc && s->resnet_pl && lm_weights_count_prefix(src, "loss_resnet_pl."))
        rc = load_part(lm_resnet_pl_params(s->resnet_pl), src, "loss_resnet_pl.", report);
    lm_weights_close(src);
    return rc;
}

/* One network of an init_from file: loads it and reports what loaded (or would have). */
static int init_part(lm_params *p, lm_weights_src *src, const char *w, const char *name, const char *prefix,
                     int strict, FILE *report) {
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    int rc = lm_weights_load(p, src, prefix, strict ? LM_WEIGHTS_STRICT : LM_WEIGHTS_NONSTRICT, &rep);
    if (rep.n) {
        fprintf(report, "init_from %s: %s: %d of %d tensors %s; mismatches:\n", w, name, rc < 0 ? 0 : rep.loaded,
                rep.checked, rc < 0 ? "would load" : "loaded");
        lm_weights_report_print(&rep, report);
    } else {
        fprintf(report, "init_from %s: %s: %d tensors loaded\n", w, name, rep.loaded);
    }
    if (rc < 0) lm_err_prefix("init_from (init_strict=false loads what fits and lists the rest)");
    lm_weights_report_free(&rep);
    return rc;
}

int lm_step_setup_init_from(lm_step_setup *s, const char *path, int strict, FILE *report) {
    char w[4096], cf[4096];
    lm_weights_src *src = NULL;
    int rc = lm_model_resolve(path, w, sizeof w, cf, sizeof cf);
    if (rc < 0) return lm_err_prefix("init_from %s", path);
    if ((rc = lm_weights_open(&src, w)) < 0) return lm_err_prefix("init_from");
    const char *gp = lm_weights_count_prefix(src, "generator.") ? "generator." : "";
    rc = init_part(&s->gp, src, w, "generator", gp, strict, report);
    if (!rc && !lm_weights_count_prefix(src, "discriminator."))
        fprintf(report, "init_from %s: no discriminator.* tensors: the discriminator starts from scratch\n", w);
    else if (!rc)
        rc = init_part(&s->dp, src, w, "discriminator", "discriminator.", strict, report);
    lm_weights_close(src);
    return rc;
}

int lm_step_setup_join(lm_step_setup *s, lm_ddp *ddp, int sync_grads) {
    int rc = lm_ddp_broadcast_params(ddp, &s->gp, LM_PARAM | LM_BUFFER);
    if (!rc) rc = lm_ddp_broadcast_params(ddp, &s->dp, LM_PARAM | LM_BUFFER);
    if (rc) return rc;
    lm_step_hooks hooks = lm_ddp_step_hooks(ddp);
    if (!sync_grads) hooks.sync_grads = NULL;
    lm_step_set_hooks(s->step, &hooks);
    return 0;
}

lt_tensor *lm_step_setup_generator_loss(lt_tensor **pred, lm_step_setup *s, lt_tensor *img, lt_tensor *mask, int train) {
    lt_dtype prec = s->sopts.precision;
    *pred = NULL;
    if (lm_precision_begin(prec, lt_device_of(img)) < 0) return NULL;
    lt_tensor *parts[2] = {lt_mul(img, lt_rsub_scalar(mask, 1.0)), mask};
    *pred = lm_precision_f32(prec, lm_generator_forward(s->g, lt_cat(parts, 2, 1), train)); // (B, 3, H, W)
    lt_tensor *logits = lm_precision_f32(prec, lm_discriminator_forward(s->d, *pred, train, NULL, NULL));
    lt_tensor *loss = lt_add(lm_masked_l1_loss(*pred, img, mask, &s->sopts.l1),
                             lm_adv_generator_loss(&s->sopts.adv, logits, mask));
    lm_precision_end(prec);
    return loss;
}

int lm_step_setup_discriminator_loss(lm_adv_discr *out, lm_step_setup *s, lt_tensor *img, lt_tensor *pred,
                                     lt_tensor *mask) {
    lt_dtype prec = s->sopts.precision;
    memset(out, 0, sizeof *out);
    lm_params_zero_grad(&s->dp);
    lt_tensor *real = lt_detach(img); // (B, 3, H, W), the R1 gradient's input
    if (lt_set_requires_grad(real, 1) < 0) return lm_err_lt("discriminator loss");
    if (lm_precision_begin(prec, lt_device_of(img)) < 0) return lm_err_lt("autocast");
    lt_tensor *rl = lm_precision_f32(prec, lm_discriminator_forward(s->d, real, 1, NULL, NULL));
    lt_tensor *fl = lm_precision_f32(prec, lm_discriminator_forward(s->d, lt_detach(pred), 1, NULL, NULL));
    int rc = !rl || !fl ? -1 : lm_adv_discriminator_loss(out, &s->sopts.adv, real, rl, fl, mask);
    lm_precision_end(prec);
    return rc < 0 ? lm_err_lt("discriminator loss (R1)") : 0;
}

int lm_step_setup_save(const lm_step_setup *s, const char *path, const char *config_yaml, int64_t step) {
    lm_weights_part parts[3] = {{"generator.", &s->gp}, {"discriminator.", &s->dp}, {NULL, NULL}};
    int n = 2;
    if (s->resnet_pl) parts[n++] = (lm_weights_part){"loss_resnet_pl.", lm_resnet_pl_params(s->resnet_pl)};
    lm_weights_save_opts o = lm_weights_save_defaults();
    o.config = config_yaml;
    o.step = step;
    if (s->gp.dtype == LT_F64) o.dtype = LT_F64; /* trainer.precision 64 keeps every digit */
    return lm_weights_save(path, parts, n, &o);
}
