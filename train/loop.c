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
#include "train/prefetch.h"
#include "train/progress.h"
#include "train/rundir.h"
#include "train/signals.h"
#include "train/validate.h"

#define MAX_CONSECUTIVE_SKIPS 10

typedef struct run {
    const lm_train_opts *o;
    const lm_train_ctx *c;
    lm_metrics_log *ml;
    lm_tbevents_writer *tb;
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
    /* the loop's own state */
    int world;            /* ranks */
    int on_nonfinite;     /* trainer.on_nonfinite; skip becomes stop with several ranks */
    int hooks, sigs;      /* step hooks / signal handlers installed: the teardown undoes them */
    int64_t die_step;     /* test-only (LAMAC_TEST_DIE_STEP), -1 for none */
    double t0;            /* when the run started */
    int64_t step0;        /* the global step it started (or resumed) at */
    lm_loader *ld;
    lm_loader_opts lo;    /* what ld was opened with (reopened at a cut epoch's end) */
    int64_t bpe, nb;      /* batches per epoch: the loader's, and those trained (limit_train_batches) */
    lm_bstream *stream;   /* data.train.stream instead of the loader (NULL: the loader) */
    lm_bstream_writer *dump; /* --dump-batches (NULL: none) */
    lm_prefetch *pf;      /* the batches of the steps, read ahead onto the device (train/prefetch.h) */
    int skips_in_row;     /* non-finite steps skipped in a row */
    int deferred_prev;    /* the step's setting before the run (teardown restores it) */
    lm_step_losses shown; /* deferred: the losses last read, for the progress line */
    int quiet;            /* the last iteration wrote no log line and no sample grid */
    lm_report_pace pace;  /* when validations rewrite report.html */
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
            lm_tbevents_image(r->tb, "samples_train", r->meta.step, gh, gw, 3, png, np) < 0)
            tb_failed(r);
    }
cleanup:
    lt_no_grad_pop();
    lt_scope_pop();
    free(fi), free(fm), free(fp), free(ff), free(fr), free(rgb), free(png);
    return rc;
}

int lm_report_pace_due(const lm_report_pace *p, double now) {
    return !p->written || now - p->last_end >= LM_REPORT_PACE * p->cost;
}

void lm_report_pace_done(lm_report_pace *p, double start, double end) {
    p->written = 1;
    p->last_end = end;
    p->cost = end - start;
}

/* RUN_DIR/report.html (eval/html.h); a failure is a warning, never a training error. At a
 * validation (at_end 0) only when the pace says so (lm_report_pace). */
static void write_report(run *r, int at_end) {
    double t = lm_clock_now();
    if (!at_end && !lm_report_pace_due(&r->pace, t)) return;
    if (lm_report_html(r->c->run_dir, r->c->run_dir) < 0)
        fprintf(r->o->log, "warning: %s (training goes on)\n", lm_err_msg());
    lm_report_pace_done(&r->pace, t, lm_clock_now());
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
 * run's report.html when it is due. */
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
                if (lm_tbevents_scalar(r->tb, vr->metrics[i].key, r->meta.step, (float)vr->metrics[i].value) < 0) {
                    tb_failed(r);
                    break;
                }
            lm_tbevents_flush(r->tb);
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
    if (!rc) write_report(r, 0);
    return rc;
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* Step, position and metadata of the checkpoint a resumed run continues from. */
static int resume_from(run *r, const char *resume) {
    int rc;
    if ((rc = lm_ckpt_load(&r->meta, resume, r->c->step, &r->c->nets)) < 0) return lm_err_prefix("resume");
    snprintf(r->res->last_ckpt, sizeof r->res->last_ckpt, "%s", resume);
    if (r->main)
        fprintf(r->o->log, "resuming from %s: step %" PRId64 ", epoch %" PRId64 ", batch %" PRId64 "\n", resume,
                r->meta.step, r->meta.epoch, r->meta.batch);
    return 0;
}

/* Data parallelism: every rank starts from rank 0's weights (fresh, init_from or resumed), the
 * step averages through the group's hooks, and a skipped non-finite step becomes a stop. */
static int join_ranks(run *r) {
    const lm_train_ctx *c = r->c;
    int rc;
    if ((rc = lm_ddp_broadcast_params(c->ddp, c->nets.g_params, LM_PARAM | LM_BUFFER)) < 0 ||
        (rc = lm_ddp_broadcast_params(c->ddp, c->nets.d_params, LM_PARAM | LM_BUFFER)) < 0)
        return lm_err_prefix("broadcast of the initial weights");
    lm_step_hooks h = lm_ddp_step_hooks(c->ddp);
    lm_step_set_hooks(c->step, &h);
    r->hooks = 1;
    if (r->on_nonfinite == LM_NONFINITE_SKIP) {
        if (r->main) fprintf(r->o->log, "note: trainer.on_nonfinite skip is treated as stop with %d ranks\n", r->world);
        r->on_nonfinite = LM_NONFINITE_STOP;
    }
    return 0;
}

/* Rank 0's files: the kept-best list (restored on resume), metrics.jsonl (cut back to the
 * resumed step) and the TensorBoard events (a failure there is a warning). */
static int open_run_files(run *r, const char *resume) {
    const lm_train_opts *o = r->o;
    const lm_train_ctx *c = r->c;
    int rc;
    if ((rc = lm_topk_create(&r->topk, r->ckdir, o->save_top_k, o->monitor_max ? LM_TOPK_MAX : LM_TOPK_MIN)) < 0)
        return rc;
    if (resume && r->meta.topk[0] && (rc = lm_topk_restore(r->topk, r->meta.topk)) < 0) return rc;
    if (resume) {
        int dropped = 0;
        if ((rc = lm_metrics_truncate_after(c->run_dir, r->meta.step, &dropped)) < 0) return rc;
        if (dropped)
            fprintf(o->log, "metrics.jsonl: dropped %d lines logged after step %" PRId64 "\n", dropped, r->meta.step);
    }
    if ((rc = lm_metrics_open(&r->ml, c->run_dir)) < 0) return rc;
    if (o->tb) {
        char tbd[4096];
        if (lm_rundir_join(tbd, sizeof tbd, c->run_dir, "tb") < 0 || lm_tbevents_open(&r->tb, tbd) < 0) {
            tb_failed(r);
            r->tb = NULL;
        }
    }
    return 0;
}

/* Where checkpoints and samples go, the monitor as configured (settled at the first
 * validation) and rank 0's files; ranks > 0 write nothing. */
static int setup_outputs(run *r, const char *resume) {
    const lm_train_ctx *c = r->c;
    int rc;
    if (r->main && ((rc = lm_rundir_join(r->ckdir, sizeof r->ckdir, c->run_dir, "checkpoints")) < 0 ||
                    (rc = lm_rundir_join(r->samples, sizeof r->samples, c->run_dir, "samples")) < 0))
        return rc;
    r->monitor = r->o->monitor ? r->o->monitor : "val_ssim_total_mean"; /* settled at the first validation */
    if (strlen(r->monitor) >= sizeof r->meta.monitor)
        return lm_err_code(LM_EINVAL, "monitor: name longer than %zu bytes", sizeof r->meta.monitor - 1);
    if (!r->main) return 0;
    return open_run_files(r, resume);
}

/* The loader at the stored position, for this rank; the epoch is the loader's or
 * limit_train_batches long. A run resumed exactly at an epoch's end starts the next one. */
static int open_loader(run *r) {
    const lm_train_opts *o = r->o;
    int rc;
    if ((r->c->stream || r->c->dump) && r->world > 1)
        return lm_err_code(LM_EINVAL, "data.train.stream / --dump-batches: one process only (no data parallelism)");
    if (r->c->dump && (rc = lm_bstream_writer_open(&r->dump, r->c->dump)) < 0) return lm_err_prefix("--dump-batches");
    if (r->c->stream) { /* one epoch is the whole stream (limit_train_batches cuts it as a loader's) */
        if ((rc = lm_bstream_open(&r->stream, r->c->stream)) < 0) return lm_err_prefix("data.train.stream");
        r->bpe = lm_bstream_count(r->stream);
        r->nb = o->limit_train_batches > 0 && o->limit_train_batches < r->bpe ? o->limit_train_batches : r->bpe;
        if (r->meta.batch >= r->nb) r->meta.epoch++, r->meta.batch = 0;
        return 0;
    }
    r->lo = r->c->loader;
    r->lo.seed = r->meta.data_seed;
    r->lo.start_epoch = r->meta.epoch;
    r->lo.start_batch = r->meta.batch;
    r->lo.rank = lm_ddp_rank(r->c->ddp);
    r->lo.world_size = r->world;
    if ((rc = lm_loader_open(&r->ld, &r->lo)) < 0) {
        lm_err_prefix("data.train.indir %s", r->lo.shard_dir);
        return rc;
    }
    r->bpe = lm_loader_batches_per_epoch(r->ld);
    if (r->bpe <= 0)
        return lm_err_code(LM_EINVAL, "data.train.indir %s: %" PRId64 " images, fewer than one batch of %d",
                           r->lo.shard_dir, lm_loader_images(r->ld), r->lo.batch_size);
    r->nb = o->limit_train_batches > 0 && o->limit_train_batches < r->bpe ? o->limit_train_batches : r->bpe;
    if (r->meta.batch >= r->nb) { /* resumed exactly at an epoch's end */
        r->meta.epoch++, r->meta.batch = 0;
        lm_loader_close(r->ld), r->ld = NULL;
        r->lo.start_epoch = r->meta.epoch, r->lo.start_batch = 0;
        if ((rc = lm_loader_open(&r->ld, &r->lo)) < 0) return rc;
    }
    return 0;
}

/* The signal handlers, and the progress line over the steps max_steps / max_epochs plan. */
static void start_loop(run *r) {
    const lm_train_opts *o = r->o;
    int64_t total = o->max_steps >= 0 ? o->max_steps : (o->max_epochs > 0 ? o->max_epochs * r->nb : -1);
    if (o->max_epochs > 0 && o->max_steps >= 0 && o->max_epochs * r->nb < total) total = o->max_epochs * r->nb;
    lm_signals_install();
    r->sigs = 1;
    lm_train_progress_start(&r->prog, r->main ? o->log : NULL, -1, r->step0, total, lm_clock_now());
}

/* ---- one iteration ------------------------------------------------------------------------ */

/* 1 when the run ends before this iteration: max_epochs / max_steps reached, or a signal (with
 * several ranks: seen by any, so that all stop at the same step); negative on error. */
static int stop_due(run *r) {
    const lm_train_opts *o = r->o;
    lm_train_result *res = r->res;
    if (o->max_epochs > 0 && r->meta.epoch >= o->max_epochs) return 1;
    if (o->max_steps >= 0 && r->meta.step >= o->max_steps) return 1;
    res->signal = lm_signals_pending();
    if (r->world > 1) { /* all ranks stop at the same step when any saw a signal */
        double f = res->signal;
        int rc;
        if ((rc = lm_ddp_mean(r->c->ddp, &f, 1)) < 0) {
            lm_err_prefix("step %" PRId64, r->meta.step);
            return rc;
        }
        if (f > 0 && !res->signal) res->signal = SIGTERM;
    }
    if (res->signal) return 1;
    if (r->meta.step == r->die_step) raise(SIGKILL);
    return 0;
}

/* lm_loader_next_or's stop: a SIGINT / SIGTERM arrived (train/signals.h). */
static int signalled(void *ctx) {
    (void)ctx;
    return lm_signals_pending() != 0;
}

/* The prefetcher's source (train/prefetch.h): the batch of step pos->step — the stream's batch
 * pos->step, or the loader's next one, which must be at (pos->epoch, pos->batch). One process
 * gives up waiting for the loader when a signal arrives (1: the loop stops as at a signal
 * between steps); with several ranks it waits on, so that all still stop at the same step. */
static int next_batch(const lm_batch **out, void *ctx, const lm_batch_pos *pos) {
    run *r = ctx;
    int rc;
    if (r->stream) { /* step k takes the stream's batch k */
        if ((rc = lm_bstream_get(out, r->stream, pos->step, pos->epoch, pos->batch)) < 0)
            return lm_err_prefix("data.train.stream");
        return 0;
    }
    if ((rc = lm_loader_next_or(out, r->ld, r->world > 1 ? NULL : signalled, NULL)) != 0) {
        if (rc > 0) return rc;
        lm_err_prefix("data.train.indir %s", r->lo.shard_dir);
        return rc;
    }
    const lm_batch *b = *out;
    if (b->epoch != pos->epoch || b->batch != pos->batch)
        return lm_err_code(LM_EFAIL, "loader out of step: got batch (%" PRId64 ", %" PRId64 "), expected (%" PRId64
                           ", %" PRId64 ")", b->epoch, b->batch, pos->epoch, pos->batch);
    return 0;
}

/* The stop of a non-finite loss term (trainer.on_nonfinite: stop) on the message set. */
static int nonfinite_stop(run *r, int rc) {
    lm_err_prefix("stopped (trainer.on_nonfinite: stop; no checkpoint written, %s kept)",
                  r->res->last_ckpt[0] ? r->res->last_ckpt : "the last one");
    return rc;
}

/* Deferred checks (train/step.h): the last iteration's losses into *L (may be NULL) and whether
 * a term was non-finite since the previous read, agreed by all ranks (every rank reads at the
 * same steps: log steps, validation points, the end). 0, or negative: the run stops with
 * nothing written after it. Called before every checkpoint. */
static int read_losses(run *r, lm_step_losses *L) {
    if (!lm_step_deferred(r->c->step)) return 0;
    int rc = lm_step_read(r->c->step, L);
    if (rc < 0 && rc != LM_ENONFINITE) return lm_err_prefix("step %" PRId64, r->meta.step);
    if (r->world > 1) { /* all ranks stop when any saw a non-finite term */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rc ? lm_err_msg() : "");
        double bad = rc == LM_ENONFINITE;
        int drc = lm_ddp_mean(r->c->ddp, &bad, 1);
        if (drc < 0) return lm_err_prefix("step %" PRId64 ": non-finite check", r->meta.step);
        if (rc) lm_err_code(LM_ENONFINITE, "%s", msg);
        else if (bad > 0) rc = lm_err_code(LM_ENONFINITE, "step: a non-finite loss term on another rank");
    }
    if (!rc && L) r->shown = *L;
    return rc ? nonfinite_stop(r, rc) : 0;
}

/* The batch the prefetcher may read ahead during this iteration: the next one, unless this
 * is the epoch's last batch (the loader may be reopened there: limit_train_batches) or the
 * run's last step. NULL: none. */
static const lm_batch_pos *ahead_pos(lm_batch_pos *next, const run *r) {
    const lm_train_opts *o = r->o;
    if (r->meta.batch + 1 >= r->nb || (o->max_steps >= 0 && r->meta.step + 1 >= o->max_steps)) return NULL;
    *next = (lm_batch_pos){r->meta.step + 1, r->meta.epoch, r->meta.batch + 1};
    return next;
}

/* The step on img / mask. A NaN / Inf loss term (LM_ENONFINITE, train/step.h) is skipped
 * (trainer.on_nonfinite: skip, fewer than MAX_CONSECUTIVE_SKIPS in a row: *skipped = 1 and 0)
 * or ends the run with the error. */
static int run_step(lm_step_losses *L, int *skipped, run *r, lt_tensor *img, lt_tensor *mask) {
    const lm_train_opts *o = r->o;
    int rc;
    *skipped = 0;
    memset(L, 0, sizeof *L);
    if (!img || !mask) rc = lm_err_lt("batch to tensor");
    else rc = lm_step_run(lm_step_deferred(r->c->step) ? NULL : L, r->c->step, img, mask); /* deferred: read at log steps */
    if (rc == LM_ENONFINITE) { /* the step's code for a NaN / Inf loss term (train/step.h) */
        if (r->on_nonfinite == LM_NONFINITE_SKIP && r->skips_in_row + 1 < MAX_CONSECUTIVE_SKIPS) {
            *skipped = 1;
            r->skips_in_row++;
            r->meta.nonfinite_skips++;
            lm_train_progress_break(&r->prog);
            fprintf(o->log, "warning: step %" PRId64 ": %s; skipped (trainer.on_nonfinite: skip; %" PRId64
                            " skipped so far)\n", r->meta.step, lm_err_msg(), r->meta.nonfinite_skips);
            lm_kv m[2] = {{"nonfinite_skip", 1}, {"nonfinite_skips", (double)r->meta.nonfinite_skips}};
            lm_metrics_write(r->ml, r->meta.step + 1, r->meta.epoch, "train", NULL, 0, m, 2);
            lm_step_set_global_step(r->c->step, r->meta.step + 1);
            rc = 0;
        } else {
            lm_err_prefix("step %" PRId64 " (epoch %" PRId64 ", batch %" PRId64 ")", r->meta.step, r->meta.epoch,
                          r->meta.batch);
            if (r->on_nonfinite == LM_NONFINITE_SKIP)
                lm_err_prefix("%d non-finite steps in a row, stopping", MAX_CONSECUTIVE_SKIPS);
            else
                nonfinite_stop(r, rc);
        }
    } else if (rc < 0) {
        lm_err_prefix("step %" PRId64, r->meta.step);
    }
    return rc;
}

/* Whether the run logs its losses after reaching global step `step`. */
static int log_step(const lm_train_opts *o, int64_t step) {
    return o->log_every_n_steps > 0 && step % o->log_every_n_steps == 0;
}

/* Every log_every_n_steps: the step's losses averaged over the ranks, then (rank 0) written
 * to metrics.jsonl and TensorBoard. */
static int log_losses(run *r, lm_step_losses *L) {
    const lm_train_opts *o = r->o;
    int rc;
    if (!log_step(o, r->meta.step)) return 0;
    if ((rc = read_losses(r, L)) < 0) return rc;
    if (r->world > 1 && (rc = lm_ddp_mean(r->c->ddp, L->value, L->n)) < 0) { /* logged losses: the mean over ranks */
        lm_err_prefix("step %" PRId64 ": loss averaging", r->meta.step);
        return rc;
    }
    if (!r->main) return 0;
    lm_kv kv[LM_STEP_MAX_TERMS];
    for (int i = 0; i < L->n; i++) kv[i] = (lm_kv){L->name[i], L->value[i]};
    if (lm_metrics_write(r->ml, r->meta.step, r->meta.epoch, "train", kv, L->n, NULL, 0) < 0)
        fprintf(o->log, "warning: metrics.jsonl: %s\n", lm_err_msg());
    if (r->tb) {
        const char *tags[LM_STEP_MAX_TERMS];
        char tbuf[LM_STEP_MAX_TERMS][64];
        float vals[LM_STEP_MAX_TERMS];
        for (int i = 0; i < L->n; i++) {
            snprintf(tbuf[i], sizeof tbuf[i], "train_%s", L->name[i]);
            tags[i] = tbuf[i];
            vals[i] = (float)L->value[i];
        }
        if (lm_tbevents_scalars(r->tb, r->meta.step, L->n, tags, vals) < 0 || lm_tbevents_flush(r->tb) < 0)
            tb_failed(r);
    }
    return 0;
}

/* Rank 0's progress line: gen_total and discr_adv of the step (none for a skipped one; with
 * deferred checks, of the last log step). */
static void show_progress(run *r, const lm_step_losses *L, int skipped) {
    const lm_train_opts *o = r->o;
    if (lm_step_deferred(r->c->step)) L = &r->shown;
    lm_kv pv[2] = {{"gen_total", lm_step_losses_get(L, "gen_total")},
                   {"discr_adv", lm_step_losses_get(L, "discr_adv")}};
    int npv = skipped ? 0 : isnan(pv[1].value) ? 1 : 2; /* no discriminator step: no discr_adv */
    if (r->main)
        lm_train_progress_update(&r->prog, r->meta.step, r->meta.epoch, lm_clock_now(), pv, npv,
                                 log_step(o, r->meta.step));
}

/* One training iteration: the next batch, the step, the run's position moved on, the losses
 * logged, the progress line and (when due) the sample grid. 1 (nothing done): a signal arrived
 * while the loop waited for the batch. */
static int train_batch(run *r) {
    const lm_train_opts *o = r->o;
    const lm_train_ctx *c = r->c;
    int rc, skipped;
    /* this step's batch on the device, and (prefetching on) the next one read and queued for
     * upload before this step is launched; a failure of the latter is reported by the next call */
    lm_prefetched pb;
    lm_batch_pos pos = {r->meta.step, r->meta.epoch, r->meta.batch}, next;
    if ((rc = lm_prefetch_get(&pb, r->pf, &pos, ahead_pos(&next, r))) != 0) {
        if (rc > 0) return rc; /* a signal while waiting for the loader */
        return lm_err_prefix("step %" PRId64 " (epoch %" PRId64 ", batch %" PRId64 ")", pos.step, pos.epoch, pos.batch);
    }
    if (r->dump && (rc = lm_bstream_writer_add(r->dump, pb.host)) < 0) return lm_err_prefix("--dump-batches");
    lt_scope_push();
    lt_tensor *img = pb.img;   // (N, 3, H, W), the prefetcher's (valid until its next call)
    lt_tensor *mask = pb.mask; // (N, 1, H, W)
    int vis_due = o->visualize_each_iters > 0 && r->meta.step % o->visualize_each_iters == 0;
    int log_due = log_step(o, r->meta.step + 1); /* after this step */
    r->quiet = !vis_due && !log_due;
    lm_step_losses L;
    if ((rc = run_step(&L, &skipped, r, img, mask)) < 0) goto done;
    if (!skipped) r->skips_in_row = 0;
    int64_t batch_idx = r->meta.batch;
    r->meta.step = lm_step_global_step(c->step);
    r->meta.batch++;
    if (!skipped && (rc = log_losses(r, &L)) < 0) goto done;
    show_progress(r, &L, skipped);
    if (r->main && vis_due && !skipped) rc = visualize(r, img, mask, r->meta.epoch, batch_idx);
done:
    lt_scope_pop();
    return rc;
}

/* ---- epoch ends and validation points ----------------------------------------------------- */

/* Validation (and the checkpoints after it) runs every val_check_interval batches and at the
 * epoch's end, in every check_val_every_n_epoch-th epoch. */
static int validation_due(const run *r, int epoch_end) {
    const lm_train_opts *o = r->o;
    return (r->meta.epoch + 1) % (o->check_val_every_n_epoch > 0 ? o->check_val_every_n_epoch : 1) == 0 &&
           ((o->val_check_interval > 0 && r->meta.batch % o->val_check_interval == 0) || epoch_end);
}

/* At an epoch's end the position stored from here on is the next epoch's start. */
static int next_epoch(run *r) {
    int rc = 0;
    r->meta.epoch++;
    r->meta.batch = 0;
    if (r->nb < r->bpe && !r->stream) { /* limit_train_batches: the loader skips the rest of the epoch */
        lm_loader_close(r->ld), r->ld = NULL;
        r->lo.start_epoch = r->meta.epoch, r->lo.start_batch = 0;
        rc = lm_loader_open(&r->ld, &r->lo);
    }
    return rc;
}

/* Validation and checkpoints on rank 0 while the other ranks wait. Metrics and file names
 * carry the epoch that ran (Lightning's current_epoch); the checkpoint stores the next
 * position to draw. */
static int validation_point(run *r, int epoch_end) {
    int rc = read_losses(r, NULL); /* nothing non-finite reaches a checkpoint */
    if (rc < 0) return rc;
    r->vepoch = epoch_end ? r->meta.epoch - 1 : r->meta.epoch;
    if (r->main && (rc = validate_and_save(r)) < 0) return rc;
    if (r->world > 1 && (rc = lm_ddp_barrier(r->c->ddp)) < 0) { /* the others wait for rank 0 */
        lm_err_prefix("step %" PRId64 ": waiting for rank 0's validation", r->meta.step);
        return rc;
    }
    return rc;
}

/* ---- the end ------------------------------------------------------------------------------ */

/* A run that stopped without error (its limits, or a signal): last.safetensors and report.html
 * on rank 0, then all ranks meet. */
static int finish(run *r) {
    const lm_train_opts *o = r->o;
    lm_train_result *res = r->res;
    int rc = read_losses(r, NULL); /* nothing non-finite reaches the last checkpoint */
    if (rc < 0) return rc;
    if (res->signal && r->main) {
        lm_train_progress_break(&r->prog);
        fprintf(o->log, "interrupted by signal %d at step %" PRId64 ": writing a checkpoint\n", res->signal,
                r->meta.step);
    }
    if (res->signal) res->status = LM_TRAIN_INTERRUPTED;
    if (r->main) {
        rc = save_last(r);
        if (!rc) fprintf(o->log, "checkpoint %s (step %" PRId64 ")\n", res->last_ckpt, r->meta.step);
        if (!rc) write_report(r, 1);
    }
    if (!rc && r->dump) {
        rc = lm_bstream_writer_close(r->dump);
        r->dump = NULL;
        if (rc < 0) lm_err_prefix("--dump-batches %s", r->c->dump);
        else fprintf(o->log, "batch stream %s (%" PRId64 " batches)\n", r->c->dump, r->meta.step - r->step0);
    }
    if (!rc && r->world > 1 && (rc = lm_ddp_barrier(r->c->ddp)) < 0) lm_err_prefix("final barrier");
    return rc;
}

/* Undoes the set-up (whatever of it was done) and fills the result's figures. */
static void teardown(run *r, int rc) {
    const lm_train_opts *o = r->o;
    lm_train_result *res = r->res;
    if (r->hooks) lm_step_set_hooks(r->c->step, NULL);
    lm_step_set_deferred(r->c->step, r->deferred_prev);
    lm_train_progress_break(&r->prog);
    if (r->sigs) lm_signals_restore();
    lm_prefetch_free(r->pf);
    lm_loader_close(r->ld);
    lm_bstream_close(r->stream);
    lm_bstream_writer_abort(r->dump);
    if (lm_metrics_close(r->ml) < 0 && !rc) fprintf(o->log, "warning: metrics.jsonl: %s\n", lm_err_msg());
    if (r->tb && lm_tbevents_close(r->tb) < 0) fprintf(o->log, "warning: TensorBoard events: %s\n", lm_err_msg());
    lm_topk_free(r->topk);
    lm_eval_acc_free(r->acc);
    res->step = r->meta.step;
    res->epoch = r->meta.epoch;
    res->nonfinite_skips = r->meta.nonfinite_skips;
    res->seconds = lm_clock_now() - r->t0;
    res->steps_per_s = res->seconds > 0 ? (double)(r->meta.step - r->step0) / res->seconds : 0;
    res->peak_rss_kb = lm_memstat_kb("VmHWM");
}

int lm_train_run(lm_train_result *res, const lm_train_opts *o, const lm_train_ctx *c, const char *resume) {
    memset(res, 0, sizeof *res);
    run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.c = c;
    r.res = res;
    r.main = lm_ddp_is_main(c->ddp);
    r.world = lm_ddp_world_size(c->ddp);
    r.on_nonfinite = o->on_nonfinite;
    int rc = 0;
    /* test-only: rank LAMAC_TEST_DIE_RANK kills itself (SIGKILL) before step LAMAC_TEST_DIE_STEP */
    const char *die_r = getenv("LAMAC_TEST_DIE_RANK"), *die_s = getenv("LAMAC_TEST_DIE_STEP");
    r.die_step = die_r && die_s && atoi(die_r) == lm_ddp_rank(c->ddp) ? atoll(die_s) : -1;
    r.t0 = lm_clock_now();
    r.meta.data_seed = o->seed;
    r.meta.step = lm_step_global_step(c->step);
    if (resume && (rc = resume_from(&r, resume)) < 0) return rc;
    r.step0 = r.meta.step;
    if (r.world > 1 && (rc = join_ranks(&r)) < 0) return rc;
    /* on_nonfinite stop: nothing read from the device between log steps (train/step.h);
     * skip must know before each update, so it checks every iteration */
    r.deferred_prev = lm_step_deferred(c->step);
    lm_step_set_deferred(c->step, r.on_nonfinite == LM_NONFINITE_STOP);
    if ((rc = setup_outputs(&r, resume)) < 0 || (rc = open_loader(&r)) < 0) goto cleanup;
    if ((rc = lm_prefetch_create(&r.pf, c->device, o->device_prefetch, next_batch, &r)) < 0) goto cleanup;
    start_loop(&r);
    for (;;) {
        int64_t reads0 = lt_host_reads();
        int stop = stop_due(&r);
        if (stop < 0) rc = stop;
        if (stop) break;
        if ((rc = train_batch(&r)) > 0) { /* the signal seen while waiting for the batch: stop here */
            res->signal = lm_signals_pending();
            rc = 0;
            break;
        }
        if (rc < 0) break;
        if (r.quiet) { /* host reads of an iteration between log steps (lt.h lt_host_reads) */
            int64_t n = lt_host_reads() - reads0;
            if (!res->quiet_iters || n > res->quiet_reads_max) res->quiet_reads_max = n;
            res->quiet_iters++;
        }
        int epoch_end = r.meta.batch >= r.nb, val_due = validation_due(&r, epoch_end);
        if (epoch_end && (rc = next_epoch(&r)) < 0) break;
        if (val_due && (rc = validation_point(&r, epoch_end)) < 0) break;
    }
    if (rc == 0) rc = finish(&r);
cleanup:
    teardown(&r, rc);
    return rc;
}
