/* loop.c — the training loop (see loop.h; Lightning 1.2 Trainer.fit as bin/train.py uses it). */
#include "train/loop.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/memstat.h"
#include "data/image.h"
#include "eval/html.h"
#include "io/tbevents.h"
#include "model/lt_err.h"
#include "train/checkpoint.h"
#include "train/ckptfiles.h"
#include "train/grid.h"
#include "train/progress.h"
#include "train/rundir.h"
#include "train/signals.h"
#include "train/validate.h"

#define MAX_CONSECUTIVE_SKIPS 10

typedef struct run {
    const lm_train_opts *o;
    const lm_train_ctx *c;
    lm_metrics_log *ml;
    lm_tb_writer *tb;
    lm_topk *topk;
    lm_train_progress prog;
    lm_ckpt_meta meta;
    char ckdir[4096], samples[4096];
    const char *monitor;
    lm_eval_acc *acc; /* validation's accumulator: made at the first validation, kept */
    int warned_tb;
    int64_t vepoch; /* the epoch a validation belongs to */
    lm_train_result *res;
    int main; /* rank 0 (or no data parallelism): the one that writes files and logs */
} run;

static void tb_failed(run *r) {
    if (!r->warned_tb) fprintf(r->o->log, "warning: TensorBoard events: %s (training goes on)\n", lm_err_msg());
    r->warned_tb = 1;
}

static int save_ckpt(run *r, const char *path) {
    lm_train_progress_break(&r->prog);
    int rc = lm_ckpt_save(path, r->c->step, &r->c->nets, &r->meta, r->c->config_yaml);
    if (rc < 0) {
        lm_err_prefix("step %" PRId64 " (the previous checkpoint file is kept)", r->meta.step);
        return rc;
    }
    snprintf(r->res->last_ckpt, sizeof r->res->last_ckpt, "%s", path);
    return 0;
}

static int save_last(run *r) {
    char p[4096 + 32];
    snprintf(p, sizeof p, "%s/last.safetensors", r->ckdir);
    return save_ckpt(r, p);
}

/* Copies rows [0, n) of x (n, C, H, W) to a new float buffer. */
static float *to_host(lt_tensor *x, int64_t *numel) {
    lt_tensor *c = lt_contiguous(lt_to_device(x, LT_CPU));
    if (!c) return NULL;
    int64_t k = lt_numel(c);
    float *p = malloc((size_t)k * sizeof *p);
    if (p && lt_to_buffer(c, p, (size_t)k * sizeof *p) < 0) {
        free(p);
        p = NULL;
    }
    if (numel) *numel = k;
    return p;
}

/* Sample grid of the eval-mode prediction (no grad; BatchNorm statistics untouched). */
static int visualize(run *r, lt_tensor *img, lt_tensor *mask, int64_t epoch, int64_t batch) {
    const lm_step_nets *nt = &r->c->nets;
    int64_t shp[4];
    lt_shape(img, shp, 4);
    int n = (int)shp[0] < r->o->vis_max_items ? (int)shp[0] : r->o->vis_max_items;
    int rc = 0;
    float *fi = NULL, *fm = NULL, *fp = NULL, *ff = NULL, *fr = NULL;
    uint8_t *rgb = NULL, *png = NULL;
    lt_scope_push();
    lt_no_grad_push();
    lt_tensor *x = lt_narrow(img, 0, 0, n), *m = lt_narrow(mask, 0, 0, n); // (n, 3, H, W), (n, 1, H, W)
    lt_tensor *parts[2] = {lt_mul(x, lt_rsub_scalar(m, 1.0)), m};
    lt_tensor *pred = lm_generator_forward(nt->g, lt_cat(parts, 2, 1), 0); // (n, 3, H, W)
    lt_tensor *df = pred ? lm_discriminator_forward(nt->d, pred, 0, NULL, NULL) : NULL; // (n, 1, h, w)
    lt_tensor *dr = df ? lm_discriminator_forward(nt->d, x, 0, NULL, NULL) : NULL;
    if (!dr) {
        rc = lm_err_prefix("sample grid");
        goto cleanup;
    }
    int64_t dsh[4];
    lt_shape(df, dsh, 4);
    fi = to_host(x, NULL), fm = to_host(m, NULL), fp = to_host(pred, NULL), ff = to_host(df, NULL), fr = to_host(dr, NULL);
    if (!fi || !fm || !fp || !ff || !fr) {
        rc = lm_err_lt("sample grid: copy");
        goto cleanup;
    }
    lm_grid_input in = {n, (int)shp[2], (int)shp[3], fi, fm, fp, ff, fr, (int)dsh[2], (int)dsh[3]};
    int gw, gh;
    if ((rc = lm_grid_render(&rgb, &gw, &gh, &in, r->o->vis_max_items)) < 0) goto cleanup;
    char path[4096 + 64];
    lm_image im = {gw, gh, 3, rgb};
    if ((rc = lm_grid_path(path, sizeof path, r->samples, epoch, batch, "_train")) < 0 ||
        (rc = lm_image_write_png(path, &im)) < 0) {
        lm_err_prefix("sample grid");
        goto cleanup;
    }
    if (r->tb) {
        size_t np;
        if (lm_image_encode_png(&png, &np, &im) < 0 ||
            lm_tb_image(r->tb, "samples_train", r->meta.step, gh, gw, 3, png, np) < 0)
            tb_failed(r);
    }
cleanup:
    lt_no_grad_pop();
    lt_scope_pop();
    free(fi), free(fm), free(fp), free(ff), free(fr), free(rgb), free(png);
    return rc;
}

/* RUN_DIR/report.html (eval/html.h); a failure is a warning, never a training error. */
static void write_report(run *r) {
    if (lm_report_html(r->c->run_dir, r->c->run_dir) < 0)
        fprintf(r->o->log, "warning: %s (training goes on)\n", lm_err_msg());
}

/* After the monitor is settled (first validation): a resumed run whose checkpoint ranked its
 * best-k by another key (FID / LPIPS weights present then and missing now, or the reverse)
 * restarts the ranking for the key now in effect instead of comparing two metrics in one
 * list; the earlier best files stay on disk (never evicted by this run). The key goes into
 * every checkpoint from here on. */
static int settle_monitor(run *r) {
    const char *was = r->meta.monitor;
    if (was[0] && strcmp(was, r->monitor)) {
        char files[1024] = "";
        size_t off = 0;
        for (int i = 0; i < lm_topk_count(r->topk) && off < sizeof files; i++) {
            int64_t e, s;
            lm_topk_get(r->topk, i, &e, &s, NULL);
            off += (size_t)snprintf(files + off, sizeof files - off, "%sepoch=%" PRId64 "-step=%" PRId64 ".safetensors",
                                    i ? ", " : "", e, s);
        }
        if (off >= sizeof files) snprintf(files + sizeof files - 5, 5, "...");
        /* why: this run fell back (its configured integral lacks FID / LPIPS), the earlier run
         * had fallen back (now they are there), or the configured key itself changed */
        const char *configured = r->o->monitor ? r->o->monitor : "val_ssim_total_mean";
        const char *why = strcmp(r->monitor, configured)
                              ? "validation computes other metrics than when it was written: FID / LPIPS weights or "
                                "evaluator switches"
                          : !strcmp(was, "val_ssim_total_mean") && strstr(configured, "_fid100_")
                              ? "validation computes other metrics than when it was written: FID / LPIPS weights or "
                                "evaluator switches, or trainer.checkpoint_kwargs.monitor changed"
                              : "trainer.checkpoint_kwargs.monitor changed";
        fprintf(r->o->log, "warning: the resumed checkpoint ranked its best checkpoints by %s, this run's monitor is %s "
                           "(%s): the kept-best ranking restarts for "
                           "%s; the earlier best files (%s) stay on disk untouched and best.safetensors follows %s "
                           "from this validation on\n",
                was, r->monitor, why, r->monitor, files[0] ? files : "none kept", r->monitor);
        if (lm_topk_restore(r->topk, "") < 0) return lm_err_prefix("validation");
        r->meta.topk[0] = 0;
    }
    snprintf(r->meta.monitor, sizeof r->meta.monitor, "%s", r->monitor);
    return 0;
}

/* Before the first validation: the metric networks (once per run), one warning per missing
 * one, and the monitor settled for the run (an integral without FID / LPIPS falls back). */
static int first_validation(run *r) {
    lm_eval_opts eo = r->c->val_eval ? *r->c->val_eval : lm_val_eval_defaults(r->c->device);
    if (!r->c->val_eval) eo.lpips = eo.fid = 0;
    eo.bins = LM_VAL_BINS;
    eo.rule = LM_BINS_ONLINE; /* InpaintingEvaluatorOnline, the training evaluator */
    eo.progress = NULL;
    if (lm_eval_acc_new(&r->acc, &eo) < 0) return lm_err_prefix("validation");
    lm_eval_acc_cache_targets(r->acc, 1); /* the same val images every time: their Inception features once */
    const int ms[2] = {LM_M_LPIPS, LM_M_FID};
    const char *what[2] = {"LPIPS", "FID"};
    const int asked[2] = {eo.lpips, eo.fid}; /* off in the config (evaluator.lpips/fid): no warning */
    for (int k = 0; k < 2; k++)
        if (r->c->val_eval && asked[k] && lm_eval_acc_skipped(r->acc, ms[k]))
            fprintf(r->o->log, "warning: validation without %s: %s\n", what[k], lm_eval_acc_why(r->acc, ms[k]));
    int no_fid = lm_eval_acc_skipped(r->acc, LM_M_FID), no_lpips = lm_eval_acc_skipped(r->acc, LM_M_LPIPS);
    int fall = (!strcmp(r->monitor, "val_ssim_fid100_f1_total_mean") && no_fid) ||
               (!strcmp(r->monitor, "val_lpips_fid100_f1_total_mean") && (no_fid || no_lpips));
    if (fall) {
        fprintf(r->o->log, "note: the monitor %s needs %s, which validation does not compute in this run: it falls "
                           "back to val_ssim_total_mean (mode %s) for the whole run\n",
                r->monitor, no_fid && no_lpips && strstr(r->monitor, "lpips") ? "FID and LPIPS" : no_fid ? "FID" : "LPIPS",
                r->o->monitor_max ? "max" : "min");
        r->monitor = "val_ssim_total_mean";
    }
    return settle_monitor(r);
}

/* Validation, then checkpoints (best-k by the monitor, best.safetensors, last), then the
 * run's report.html. */
static int validate_and_save(run *r) {
    const lm_train_opts *o = r->o;
    int rc = 0;
    double value = NAN;
    int have_value = 0;
    if (r->c->val) {
        lm_train_progress_break(&r->prog);
        if (!r->acc && (rc = first_validation(r)) < 0) return rc;
        lm_val_result *vr = malloc(sizeof *vr);
        if (!vr) return lm_err_code(LM_ENOMEM, "validation: out of memory");
        int64_t limit = o->limit_val_batches * (o->val_batch_size > 0 ? o->val_batch_size : 1);
        rc = lm_validate(vr, r->c->nets.g, r->c->val, limit, r->c->pad_multiple, r->c->device, r->acc);
        if (rc < 0) {
            free(vr);
            return lm_err_prefix("step %" PRId64, r->meta.step);
        }
        if (lm_metrics_write(r->ml, r->meta.step, r->vepoch, "val", NULL, 0, vr->metrics, vr->n_metrics) < 0)
            fprintf(o->log, "warning: metrics.jsonl: %s\n", lm_err_msg());
        if (r->tb) {
            for (int i = 0; i < vr->n_metrics; i++)
                if (lm_tb_scalar(r->tb, vr->metrics[i].key, r->meta.step, (float)vr->metrics[i].value) < 0) {
                    tb_failed(r);
                    break;
                }
            lm_tb_flush(r->tb);
        }
        for (int i = 0; i < vr->n_metrics; i++)
            if (!strcmp(vr->metrics[i].key, r->monitor)) value = vr->metrics[i].value, have_value = 1;
        char extra[96] = "";
        if (vr->lpips.n) snprintf(extra, sizeof extra, ", val_lpips_total_mean %.4f", vr->lpips.mean);
        if (!isnan(vr->fid))
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", val_fid_total_mean %.4g", vr->fid);
        fprintf(o->log, "validation at step %" PRId64 " (epoch %" PRId64 "): %d images, val_ssim_total_mean %.4f, "
                        "val_l1_total_mean %.4f%s (%.1f s)\n",
                r->meta.step, r->vepoch, vr->n, vr->ssim.mean, vr->l1.mean, extra, vr->seconds);
        free(vr);
        if (!have_value)
            fprintf(o->log, "warning: monitor %s is not among this validation's metrics: no best-k checkpoint\n",
                    r->monitor);
    }
    if (have_value && o->save_top_k != 0) {
        char p[4096 + 64];
        int keep = 0;
        if ((rc = lm_topk_offer(r->topk, r->vepoch, r->meta.step, value, p, sizeof p, &keep)) < 0) return rc;
        if (keep) {
            snprintf(r->meta.topk, sizeof r->meta.topk, "%s", lm_topk_state(r->topk));
            if ((rc = save_ckpt(r, p)) < 0) return rc;
            if ((rc = lm_topk_commit(r->topk)) < 0) fprintf(o->log, "warning: %s\n", lm_err_msg());
            int64_t be, bs;
            double bv;
            if (lm_topk_get(r->topk, 0, &be, &bs, &bv) == 0 && bs == r->meta.step) {
                snprintf(p, sizeof p, "%s/best.safetensors", r->ckdir);
                if ((rc = save_ckpt(r, p)) < 0) return rc;
                fprintf(o->log, "checkpoint: new best %s %.6g at step %" PRId64 "\n", r->monitor, value,
                        r->meta.step);
            }
        }
        const char *st = lm_topk_state(r->topk);
        snprintf(r->meta.topk, sizeof r->meta.topk, "%s", st ? st : "");
    }
    if (o->save_last) rc = save_last(r);
    if (!rc) write_report(r);
    return rc;
}

int lm_train_run(lm_train_result *res, const lm_train_opts *o, const lm_train_ctx *c, const char *resume) {
    memset(res, 0, sizeof *res);
    run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.c = c;
    r.res = res;
    r.main = lm_ddp_is_main(c->ddp);
    int world = lm_ddp_world_size(c->ddp), on_nonfinite = o->on_nonfinite, hooks = 0;
    lm_loader *ld = NULL;
    int rc = 0, sigs = 0;
    /* test-only: rank LAMAC_TEST_DIE_RANK kills itself (SIGKILL) before step LAMAC_TEST_DIE_STEP */
    const char *die_r = getenv("LAMAC_TEST_DIE_RANK"), *die_s = getenv("LAMAC_TEST_DIE_STEP");
    int64_t die_step = die_r && die_s && atoi(die_r) == lm_ddp_rank(c->ddp) ? atoll(die_s) : -1;
    double t0 = lm_clock_now();
    r.meta.data_seed = o->seed;
    r.meta.step = lm_step_global_step(c->step);
    if (resume) {
        if ((rc = lm_ckpt_load(resume, c->step, &c->nets, &r.meta)) < 0) return lm_err_prefix("resume");
        snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s", resume);
        if (r.main)
            fprintf(o->log, "resuming from %s: step %" PRId64 ", epoch %" PRId64 ", batch %" PRId64 "\n", resume,
                    r.meta.step, r.meta.epoch, r.meta.batch);
    }
    int64_t step0 = r.meta.step;
    if (world > 1) { /* every rank starts from rank 0's weights (fresh, init_from or resumed) */
        if ((rc = lm_ddp_broadcast_params(c->ddp, c->nets.g_params, LM_PARAM | LM_BUFFER)) < 0 ||
            (rc = lm_ddp_broadcast_params(c->ddp, c->nets.d_params, LM_PARAM | LM_BUFFER)) < 0)
            return lm_err_prefix("broadcast of the initial weights");
        lm_step_hooks h = lm_ddp_step_hooks(c->ddp);
        lm_step_set_hooks(c->step, &h);
        hooks = 1;
        if (on_nonfinite == LM_NONFINITE_SKIP) {
            if (r.main) fprintf(o->log, "note: trainer.on_nonfinite skip is treated as stop with %d ranks\n", world);
            on_nonfinite = LM_NONFINITE_STOP;
        }
    }
    if (r.main && ((rc = lm_rundir_join(r.ckdir, sizeof r.ckdir, c->run_dir, "checkpoints")) < 0 ||
                   (rc = lm_rundir_join(r.samples, sizeof r.samples, c->run_dir, "samples")) < 0))
        goto cleanup;
    r.monitor = o->monitor ? o->monitor : "val_ssim_total_mean"; /* settled at the first validation */
    if (strlen(r.monitor) >= sizeof r.meta.monitor) {
        rc = lm_err_code(LM_EINVAL, "monitor: name longer than %zu bytes", sizeof r.meta.monitor - 1);
        goto cleanup;
    }
    if (!r.main) goto files_done; /* ranks > 0 write nothing */
    if ((rc = lm_topk_create(&r.topk, r.ckdir, o->save_top_k, o->monitor_max ? LM_TOPK_MAX : LM_TOPK_MIN)) < 0)
        goto cleanup;
    if (resume && r.meta.topk[0] && (rc = lm_topk_restore(r.topk, r.meta.topk)) < 0) goto cleanup;
    if (resume) {
        int dropped = 0;
        if ((rc = lm_metrics_truncate_after(c->run_dir, r.meta.step, &dropped)) < 0) goto cleanup;
        if (dropped) fprintf(o->log, "metrics.jsonl: dropped %d lines logged after step %" PRId64 "\n", dropped, r.meta.step);
    }
    if ((rc = lm_metrics_open(&r.ml, c->run_dir)) < 0) goto cleanup;
    if (o->tb) {
        char tbd[4096];
        if (lm_rundir_join(tbd, sizeof tbd, c->run_dir, "tb") < 0 || lm_tb_open(&r.tb, tbd) < 0) {
            tb_failed(&r);
            r.tb = NULL;
        }
    }
files_done:;

    lm_loader_opts lo = c->loader;
    lo.seed = r.meta.data_seed;
    lo.start_epoch = r.meta.epoch;
    lo.start_batch = r.meta.batch;
    lo.rank = lm_ddp_rank(c->ddp);
    lo.world_size = world;
    if ((rc = lm_loader_open(&ld, &lo)) < 0) {
        lm_err_prefix("data.train.indir %s", lo.shard_dir);
        goto cleanup;
    }
    int64_t bpe = lm_loader_batches_per_epoch(ld);
    if (bpe <= 0) {
        rc = lm_err_code(LM_EINVAL, "data.train.indir %s: %" PRId64 " images, fewer than one batch of %d",
                         lo.shard_dir, lm_loader_images(ld), lo.batch_size);
        goto cleanup;
    }
    int64_t nb = o->limit_train_batches > 0 && o->limit_train_batches < bpe ? o->limit_train_batches : bpe;
    if (r.meta.batch >= nb) { /* resumed exactly at an epoch's end */
        r.meta.epoch++, r.meta.batch = 0;
        lm_loader_close(ld), ld = NULL;
        lo.start_epoch = r.meta.epoch, lo.start_batch = 0;
        if ((rc = lm_loader_open(&ld, &lo)) < 0) goto cleanup;
    }
    int64_t total = o->max_steps >= 0 ? o->max_steps : (o->max_epochs > 0 ? o->max_epochs * nb : -1);
    if (o->max_epochs > 0 && o->max_steps >= 0 && o->max_epochs * nb < total) total = o->max_epochs * nb;
    lm_signals_install();
    sigs = 1;
    lm_train_progress_start(&r.prog, r.main ? o->log : NULL, -1, step0, total, lm_clock_now());
    int skips_in_row = 0;

    for (;;) {
        if (o->max_epochs > 0 && r.meta.epoch >= o->max_epochs) break;
        if (o->max_steps >= 0 && r.meta.step >= o->max_steps) break;
        res->signal = lm_signals_pending();
        if (world > 1) { /* all ranks stop at the same step when any saw a signal */
            double f = res->signal;
            if ((rc = lm_ddp_mean(c->ddp, &f, 1)) < 0) {
                lm_err_prefix("step %" PRId64, r.meta.step);
                break;
            }
            if (f > 0 && !res->signal) res->signal = SIGTERM;
        }
        if (res->signal) break;
        if (r.meta.step == die_step) raise(SIGKILL);
        const lm_batch *b;
        if ((rc = lm_loader_next(ld, &b)) < 0) {
            lm_err_prefix("data.train.indir %s", lo.shard_dir);
            break;
        }
        if (b->epoch != r.meta.epoch || b->batch != r.meta.batch) {
            rc = lm_err_code(LM_EFAIL, "loader out of step: got batch (%" PRId64 ", %" PRId64 "), expected (%" PRId64
                             ", %" PRId64 ")", b->epoch, b->batch, r.meta.epoch, r.meta.batch);
            break;
        }
        lt_scope_push();
        int64_t si[4] = {b->n, 3, b->h, b->w}, sm[4] = {b->n, 1, b->h, b->w};
        lt_tensor *img = lt_to_device(lt_from_buffer(b->img, si, 4, LT_F32), c->device); // (N, 3, H, W)
        lt_tensor *mask = lt_to_device(lt_from_buffer(b->mask, sm, 4, LT_F32), c->device); // (N, 1, H, W)
        int vis_due = o->visualize_each_iters > 0 && r.meta.step % o->visualize_each_iters == 0;
        lm_step_losses L;
        memset(&L, 0, sizeof L);
        if (!img || !mask) rc = lm_err_lt("batch to tensor");
        else rc = lm_step_run(c->step, img, mask, &L);
        int skipped = 0;
        if (rc == LM_ENONFINITE) { /* the step's code for a NaN / Inf loss term (train/step.h) */
            if (on_nonfinite == LM_NONFINITE_SKIP && skips_in_row + 1 < MAX_CONSECUTIVE_SKIPS) {
                skipped = 1;
                skips_in_row++;
                r.meta.nonfinite_skips++;
                lm_train_progress_break(&r.prog);
                fprintf(o->log, "warning: step %" PRId64 ": %s; skipped (trainer.on_nonfinite: skip; %" PRId64
                                " skipped so far)\n", r.meta.step, lm_err_msg(), r.meta.nonfinite_skips);
                lm_kv m[2] = {{"nonfinite_skip", 1}, {"nonfinite_skips", (double)r.meta.nonfinite_skips}};
                lm_metrics_write(r.ml, r.meta.step + 1, r.meta.epoch, "train", NULL, 0, m, 2);
                lm_step_set_global_step(c->step, r.meta.step + 1);
                rc = 0;
            } else {
                lm_err_prefix("step %" PRId64 " (epoch %" PRId64 ", batch %" PRId64 ")", r.meta.step, r.meta.epoch,
                              r.meta.batch);
                if (on_nonfinite == LM_NONFINITE_SKIP)
                    lm_err_prefix("%d non-finite steps in a row, stopping", MAX_CONSECUTIVE_SKIPS);
                else
                    lm_err_prefix("stopped (trainer.on_nonfinite: stop; no checkpoint written, %s kept)",
                                  res->last_ckpt[0] ? res->last_ckpt : "the last one");
            }
        } else if (rc < 0) {
            lm_err_prefix("step %" PRId64, r.meta.step);
        }
        if (rc < 0) {
            lt_scope_pop();
            break;
        }
        if (!skipped) skips_in_row = 0;
        int64_t batch_idx = r.meta.batch;
        r.meta.step = lm_step_global_step(c->step);
        r.meta.batch++;
        if (!skipped && world > 1 && o->log_every_n_steps > 0 && r.meta.step % o->log_every_n_steps == 0 &&
            (rc = lm_ddp_mean(c->ddp, L.value, L.n)) < 0) { /* logged losses: the mean over ranks */
            lm_err_prefix("step %" PRId64 ": loss averaging", r.meta.step);
            lt_scope_pop();
            break;
        }
        if (r.main && !skipped && o->log_every_n_steps > 0 && r.meta.step % o->log_every_n_steps == 0) {
            lm_kv kv[LM_STEP_MAX_TERMS];
            for (int i = 0; i < L.n; i++) kv[i] = (lm_kv){L.name[i], L.value[i]};
            if (lm_metrics_write(r.ml, r.meta.step, r.meta.epoch, "train", kv, L.n, NULL, 0) < 0)
                fprintf(o->log, "warning: metrics.jsonl: %s\n", lm_err_msg());
            if (r.tb) {
                const char *tags[LM_STEP_MAX_TERMS];
                char tbuf[LM_STEP_MAX_TERMS][64];
                float vals[LM_STEP_MAX_TERMS];
                for (int i = 0; i < L.n; i++) {
                    snprintf(tbuf[i], sizeof tbuf[i], "train_%s", L.name[i]);
                    tags[i] = tbuf[i];
                    vals[i] = (float)L.value[i];
                }
                if (lm_tb_scalars(r.tb, r.meta.step, L.n, tags, vals) < 0 || lm_tb_flush(r.tb) < 0) tb_failed(&r);
            }
        }
        lm_kv pv[2] = {{"gen_total", lm_step_losses_get(&L, "gen_total")},
                       {"discr_adv", lm_step_losses_get(&L, "discr_adv")}};
        int npv = skipped ? 0 : isnan(pv[1].value) ? 1 : 2; /* no discriminator step: no discr_adv */
        if (r.main)
            lm_train_progress_update(&r.prog, r.meta.step, r.meta.epoch, lm_clock_now(), pv, npv,
                                 o->log_every_n_steps > 0 && r.meta.step % o->log_every_n_steps == 0);
        if (r.main && vis_due && !skipped && (rc = visualize(&r, img, mask, r.meta.epoch, batch_idx)) < 0) {
            lt_scope_pop();
            break;
        }
        lt_scope_pop();
        int epoch_end = r.meta.batch >= nb;
        int val_due = (r.meta.epoch + 1) % (o->check_val_every_n_epoch > 0 ? o->check_val_every_n_epoch : 1) == 0 &&
                      ((o->val_check_interval > 0 && r.meta.batch % o->val_check_interval == 0) || epoch_end);
        if (epoch_end) { /* the position stored from here on is the next epoch's start */
            r.meta.epoch++;
            r.meta.batch = 0;
            if (nb < bpe) { /* limit_train_batches: the loader skips the rest of the epoch */
                lm_loader_close(ld), ld = NULL;
                lo.start_epoch = r.meta.epoch, lo.start_batch = 0;
                if ((rc = lm_loader_open(&ld, &lo)) < 0) break;
            }
        }
        if (val_due) {
            /* metrics and file names carry the epoch that ran (Lightning's current_epoch); the
             * checkpoint stores the next position to draw */
            r.vepoch = epoch_end ? r.meta.epoch - 1 : r.meta.epoch;
            if (r.main && (rc = validate_and_save(&r)) < 0) break;
            if (world > 1 && (rc = lm_ddp_barrier(c->ddp)) < 0) { /* the others wait for rank 0 */
                lm_err_prefix("step %" PRId64 ": waiting for rank 0's validation", r.meta.step);
                break;
            }
        }
    }
    if (rc == 0) {
        if (res->signal && r.main) {
            lm_train_progress_break(&r.prog);
            fprintf(o->log, "interrupted by signal %d at step %" PRId64 ": writing a checkpoint\n", res->signal,
                    r.meta.step);
        }
        if (res->signal) res->status = LM_TRAIN_INTERRUPTED;
        if (r.main) {
            rc = save_last(&r);
            if (!rc) fprintf(o->log, "checkpoint %s (step %" PRId64 ")\n", res->last_ckpt, r.meta.step);
            if (!rc) write_report(&r);
        }
        if (!rc && world > 1 && (rc = lm_ddp_barrier(c->ddp)) < 0) lm_err_prefix("final barrier");
    }
cleanup:
    if (hooks) lm_step_set_hooks(c->step, NULL);
    lm_train_progress_break(&r.prog);
    if (sigs) lm_signals_restore();
    lm_loader_close(ld);
    if (lm_metrics_close(r.ml) < 0 && !rc) fprintf(o->log, "warning: metrics.jsonl: %s\n", lm_err_msg());
    if (r.tb && lm_tb_close(r.tb) < 0) fprintf(o->log, "warning: TensorBoard events: %s\n", lm_err_msg());
    lm_topk_free(r.topk);
    lm_eval_acc_free(r.acc);
    res->step = r.meta.step;
    res->epoch = r.meta.epoch;
    res->nonfinite_skips = r.meta.nonfinite_skips;
    res->seconds = lm_clock_now() - t0;
    res->steps_per_s = res->seconds > 0 ? (double)(r.meta.step - step0) / res->seconds : 0;
    res->peak_rss_kb = lm_memstat_kb("VmHWM");
    return rc;
}
