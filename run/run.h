/* run.h — one training run assembled from a composed config, the half of the official
 * bin/train.py that is not argv: the device and the data-parallel group of this process
 * (train/ddp.h), --resume (the run directory and its newest valid checkpoint, or the
 * official trainer.kwargs.resume_from_checkpoint), the config (CONFIG or the run's
 * config.yaml, with overrides), the trainer options, the training shards and the validation
 * set, the networks and the step (run/step_setup.h; fine-tuning: init_from / init_strict),
 * the run directory (train/rundir.h) and the validation metrics' options; then
 * pytorch_lightning.Trainer.fit (train/loop.h). `lamac train` is argv -> these calls. */
#ifndef LM_RUN_H
#define LM_RUN_H

#include <stdio.h>

#include "train/loop.h"

typedef struct lm_run_args {
    const char *config;             /* training config; NULL with resume: <run dir>/config.yaml */
    const char *const *overrides;   /* key=value, applied in order */
    int n_over;
    const char *run_dir;            /* NULL: location.out_root_dir/<date>_<run_title or config name> */
    const char *resume;             /* a run directory, its checkpoints/ or a checkpoint file; NULL */
    const char *device;             /* "cpu", "cuda", "cuda:N" */
    int threads;                    /* libtorch intra-op threads; 0: libtorch's default */
    int no_tb;                      /* 1: no TensorBoard event files */
    const char *dump_batches;       /* --dump-batches FILE: the batches trained on, as a batch stream */
} lm_run_args;

lm_run_args lm_run_args_defaults(void); /* device "cpu", everything else 0 / NULL */

typedef struct lm_run lm_run;

/* Assembles the run (see above). Messages: errors with context (a data folder that is not
 * one, a checkpoint that is not there, ...; "rank R of W: " in front under data
 * parallelism); notes and the init_from report on stderr; "run directory: DIR" on rank 0. */
int lm_run_open(lm_run **out, const lm_run_args *args);
void lm_run_close(lm_run *r); /* accepts NULL */

/* Trains (train/loop.h lm_train_run, from the resume checkpoint when there is one). 0 when
 * training ended (res->status says whether by a signal), negative on an error. */
int lm_run_train(lm_train_result *res, lm_run *r);

/* The line a run ends with ("done at step S (epoch E): ... steps/s ..., peak RSS ..."), on
 * rank 0, and on every rank that failed (rc < 0). */
void lm_run_print_summary(FILE *f, const lm_run *r, const lm_train_result *res, int rc);

#endif
