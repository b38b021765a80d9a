/* loop.h — the training loop: what bin/train.py gets from pytorch_lightning.Trainer.fit
 * (version 1.2) with the official trainer.kwargs and checkpoint_kwargs, driving the official
 * iteration (train/step.h) over the HDF5 loader (data/loader.h):
 *
 *   for epoch in [start, max_epochs):                   (max_epochs <= 0: until max_steps)
 *     for batch in [0, min(batches per epoch, limit_train_batches)):
 *       stop if global step == max_steps (>= 0)
 *       one iteration; global step += 1
 *       every log_every_n_steps: metrics.jsonl line (kind train, every loss term), TensorBoard
 *         scalars "train_<term>", a progress line
 *       every visualize_each_iters (global step before the iteration % N == 0, as base.py):
 *         sample grid samples/epochNNNN_train/batchNNNNNNN.png + TensorBoard image
 *       if (epoch + 1) % check_val_every_n_epoch == 0 and ((batch + 1) % val_check_interval == 0
 *         or the epoch's last batch): validation (train/validate.h, at most limit_val_batches ·
 *         val_batch_size pairs), metrics.jsonl kind val, then checkpoints: the best save_top_k
 *         by the monitor (epoch=E-step=S.safetensors, plus best.safetensors = the current best)
 *         and last.safetensors (save_last). The metric networks (LPIPS, FID Inception) load
 *         at the first validation and stay for the run; one missing is named once (path, fetch
 *         command) and absent from the records; a monitor that needs it (the official
 *         val_ssim_fid100_f1_total_mean needs FID) then falls back to val_ssim_total_mean for
 *         the whole run, said once
 *       SIGINT / SIGTERM (train/signals.h): last.safetensors written, clean exit
 *   at the end: last.safetensors
 *
 * Exactness: the data of batch (epoch, b) depends only on (seed, epoch, b) (data/loader.h);
 * the checkpoint holds every tensor of the state and libtorch's generator; a resumed run
 * therefore reproduces the uninterrupted one bit for bit on the same device and thread count.
 *
 * Deviations from Lightning, on purpose: a resume path without a valid checkpoint is an error
 * (the caller resolves it with train/ckptfiles.h); a non-finite loss either stops the run
 * (trainer.on_nonfinite: stop, default; no checkpoint is written, so the last one stays the
 * last good one) or skips the iteration (skip: counted and logged; 10 in a row stop the run);
 * sample grids show the eval-mode prediction (an extra no-grad forward, which leaves the
 * BatchNorm statistics alone), not the training-mode one of the step.
 *
 * Data parallelism (ctx.ddp with world size W > 1, DistributedDataParallel as Lightning 1.2's
 * accelerator ddp uses it): G and D parameters and buffers are broadcast from rank 0 after the
 * initialisation and after a resume (every rank loads the same checkpoint; init_from is done
 * before the loop, so it is covered); the step hooks average gradients after each backward
 * (before clipping) and broadcast rank 0's BatchNorm buffers before each forward; rank r
 * draws its own slice of every epoch (data/loader.h rank/world_size; batches per epoch are
 * those of one rank, data.batch_size is per rank). Only rank 0 writes: checkpoints,
 * metrics.jsonl, TensorBoard, sample grids, the progress line. Logged train losses are the
 * mean over ranks (lm_ddp_mean, as sync_dist=True would). Validation runs on rank 0 alone
 * while the others wait at a barrier (the same numbers as one process). A signal seen by any
 * rank stops all at the same step (one tiny all-reduce per step). trainer.on_nonfinite skip
 * is treated as stop (ranks could disagree on skipping; a failed rank ends the run: its peers
 * fail at their next collective and the launcher stops the rest). */
#ifndef LM_LOOP_H
#define LM_LOOP_H

#include <stdint.h>
#include <stdio.h>

#include "data/loader.h"
#include "data/valset.h"
#include "train/batchstream.h"
#include "train/ddp.h"
#include "train/step.h"
#include "train/validate.h"

enum { LM_NONFINITE_STOP = 0, LM_NONFINITE_SKIP = 1 };

typedef struct lm_train_opts {
    int64_t max_epochs;              /* trainer.kwargs.max_epochs; <= 0: no limit */
    int64_t max_steps;               /* trainer.kwargs.max_steps; < 0: no limit */
    int64_t limit_train_batches;     /* batches per epoch (at most the loader's) */
    int64_t limit_val_batches;       /* validation batches (of val_batch_size pairs) */
    int64_t val_batch_size;          /* data.val.dataloader_kwargs.batch_size */
    int64_t val_check_interval;      /* in training batches */
    int64_t check_val_every_n_epoch;
    int64_t log_every_n_steps;
    int64_t visualize_each_iters;    /* training_model.visualize_each_iters; <= 0: never */
    int vis_max_items;               /* rows of a sample grid (10) */
    int save_top_k;                  /* trainer.checkpoint_kwargs.save_top_k */
    int save_last;
    int monitor_max;                 /* mode max */
    const char *monitor;             /* e.g. val_ssim_total_mean */
    int on_nonfinite;                /* LM_NONFINITE_STOP / SKIP */
    uint64_t seed;                   /* data seed (fresh runs; a resume keeps the stored one) */
    int tb;                          /* write TensorBoard events */
    int device_prefetch;             /* data.train.device_prefetch: the next batch read, checked and
                                        uploaded while the step runs (train/prefetch.h) */
    FILE *log;                       /* progress and messages (stderr) */
} lm_train_opts;


typedef struct lm_train_ctx {
    lm_step *step;                 /* borrowed */
    lm_step_nets nets;             /* borrowed networks */
    int pad_multiple;              /* 2^n_downsampling (validation padding) */
    lm_loader_opts loader;         /* shard_dir, sizes, masks; the loop sets seed and start */
    const lm_valset *val;          /* NULL: no validation */
    const char *run_dir;           /* exists (train/rundir.h) */
    const char *config_yaml;       /* stored in every checkpoint */
    lt_device device;
    lm_ddp *ddp;                   /* borrowed; NULL (or world size 1): one process */
    const lm_eval_opts *val_eval;  /* validation metrics' options (train/validate.h
                                      lm_val_eval_defaults + weights files); NULL: SSIM and L1 only */
    const char *stream;            /* data.train.stream: train on this batch stream (train/batchstream.h;
                                      step k takes batch k) instead of the shards; NULL: the loader */
    const char *dump;              /* --dump-batches: write the batches trained on as a batch stream
                                      at the end of the run; NULL: none. Both: one process only */
} lm_train_ctx;

enum { LM_TRAIN_DONE = 0, LM_TRAIN_INTERRUPTED = 1 };

typedef struct lm_train_result {
    int status;                    /* LM_TRAIN_DONE or LM_TRAIN_INTERRUPTED */
    int signal;                    /* the signal that interrupted the run */
    int64_t step, epoch;
    int64_t nonfinite_skips;
    double seconds, steps_per_s;
    long peak_rss_kb;
    /* Iterations that wrote no log line and no sample grid, and the most host reads
     * (shim/lt.h lt_host_reads: each a wait for the device on CUDA) one of them made, from the
     * stop check through the step: 0 with trainer.on_nonfinite stop on one rank (deferred
     * checks); the immediate checks of skip read each term; several ranks agree on signals
     * with one all-reduce per iteration. */
    int64_t quiet_iters, quiet_reads_max;
    char last_ckpt[4224];         /* "" if none written */
} lm_train_result;

/* Runs the loop. resume: a checkpoint file to continue from (NULL: fresh run from the
 * networks as they are). 0 when training ended (max_steps / max_epochs reached, or a clean
 * interruption: see res->status), negative on an error (a non-finite loss under
 * on_nonfinite stop included; the message names the term). */
int lm_train_run(lm_train_result *res, const lm_train_opts *o, const lm_train_ctx *c, const char *resume);

/* When a run rewrites RUN_DIR/report.html at a validation. The page embeds the whole of
 * metrics.jsonl, so rewriting it at every validation costs time that grows with the run
 * (quadratic in all). It is written at the first validation and then only once the time
 * since the previous write is at least LM_REPORT_PACE times what that write took: the pages
 * cost at most about 1/LM_REPORT_PACE of the run. The end of a run always writes it. */
#define LM_REPORT_PACE 50.0
typedef struct {
    int written;            /* a page was written */
    double last_end, cost;  /* when the previous write ended, what it took (seconds) */
} lm_report_pace;
/* 1 when a validation at time now should write the page. */
int lm_report_pace_due(const lm_report_pace *p, double now);
/* Records a write that ran from start to end. */
void lm_report_pace_done(lm_report_pace *p, double start, double end);

#endif
