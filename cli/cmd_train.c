/* cmd_train.c — `lamac train`: the official bin/train.py (Hydra config -> DefaultInpainting-
 * TrainingModule -> pytorch_lightning.Trainer.fit) over the HDF5 shards. This file reads the
 * command line (and starts the local workers, --nproc-per-node); run/run.h assembles the run
 * (config, data, networks, init_from, resume, DDP, run directory) and trains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/launch_args.h"
#include "core/err.h"
#include "run/run.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac train CONFIG [key=value ...] [--run-dir DIR] [--threads N] [--device D]\n"
        "       lamac train --resume RUN_DIR [CONFIG] [key=value ...] [--threads N] [--device D]\n\n"
        "Trains LaMa as the official bin/train.py does (DefaultInpaintingTrainingModule, Lightning\n"
        "1.2 semantics of trainer.kwargs): data.train.indir holds HDF5 shards (lamac shards),\n"
        "data.val.indir a validation set in the official layout (NAME.png + NAME_mask*.png).\n\n"
        "  CONFIG          training config (e.g. configs/training/lama-fourier.yaml); key=value\n"
        "                  overrides as in `lamac config show`. Keys the trainer reads:\n"
        "                  trainer.kwargs.{max_epochs,max_steps,limit_train_batches,\n"
        "                  limit_val_batches,val_check_interval,check_val_every_n_epoch,\n"
        "                  gradient_clip_val,log_every_n_steps}, trainer.checkpoint_kwargs.\n"
        "                  {save_top_k,save_last,monitor,mode}, training_model.visualize_each_iters,\n"
        "                  trainer.on_nonfinite (stop|skip), seed, evaluator.{lpips,fid}\n"
        "                  (validation LPIPS / FID, on when $TORCH_HOME has their weights),\n"
        "                  init_from=PATH (fine-tuning: a lamac checkpoint or .safetensors, an\n"
        "                  official model dir with config.yaml + models/best.ckpt, a Lightning\n"
        "                  .ckpt or .pth; loads the generator and, when present, the\n"
        "                  discriminator), init_strict=false (load what fits, list the rest),\n"
        "                  data.train.stream=FILE (train on a batch stream instead of the shards:\n"
        "                  step k takes batch k; see --dump-batches and docs/curves.md)\n"
        "  --run-dir DIR   the run directory (default location.out_root_dir/<date>_<run_title>)\n"
        "  --resume PATH   continue a run exactly: a run directory, its checkpoints/ folder or a\n"
        "                  checkpoint file; the newest valid checkpoint is loaded (torn files are\n"
        "                  skipped with a warning); no valid checkpoint is an error. Without\n"
        "                  CONFIG the run's config.yaml is used (overrides apply on top, e.g.\n"
        "                  trainer.kwargs.max_steps=N to train further)\n"
        "  --threads N     libtorch intra-op threads (default: one per CPU, OMP_NUM_THREADS if set). Exact resume\n"
        "                  needs the same count as the interrupted run\n"
        "  --device DEV    cpu (default), cuda or cuda:N\n"
        "  --no-tb         no TensorBoard event files\n"
        "  --dump-batches FILE  write the batches this run trained on, in order, as a batch stream\n"
        "                  (safetensors image.NNNNNN / mask.NNNNNN; kept in memory until the end)\n"
        "  --nproc-per-node N [--nnodes M --node-rank R --master ADDR:PORT]\n"
        "                  data parallelism (DDP): starts N workers on this node (torchrun's\n"
        "                  semantics; --master 127.0.0.1:0 picks a free port on one node).\n"
        "                  Without it, workers started by torchrun or srun find their rank in\n"
        "                  the environment (RANK/WORLD_SIZE/MASTER_ADDR/... or SLURM_*).\n"
        "                  data.batch_size is per rank; rank 0 writes every file and logs the\n"
        "                  losses averaged over ranks; validation runs on rank 0\n\n"
        "Run directory: config.yaml, checkpoints/ (last.safetensors, best.safetensors,\n"
        "epoch=E-step=S.safetensors), metrics.jsonl, samples/, tb/. SIGINT/SIGTERM write\n"
        "checkpoints/last.safetensors and exit. Exit status: 0 done, 1 error, 2 usage,\n"
        "128+signal when interrupted (checkpoint written). The launcher (--nproc-per-node)\n"
        "exits 128+S when it got signal S (passed on to the workers) or when the first worker\n"
        "to fail was killed by signal S, else with that worker's exit status.\n");
}

typedef struct args {
    lm_run_args run;
    const char *overrides[128];
} args;

static int parse(args *out, int argc, char **argv) {
    lm_run_args *a = &out->run;
    *a = lm_run_args_defaults();
    a->overrides = out->overrides;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strncmp(k, "--", 2)) {
            int over = strchr(k, '=') || k[0] == '~'; /* key=value or ~key (deletion) */
            if (!over && !a->config && !a->n_over) {
                a->config = k;
                continue;
            }
            if (!over) return lm_err_code(LM_EINVAL, "unexpected argument '%s' (see lamac train --help)", k);
            if (a->n_over >= 128) return lm_err_code(LM_EINVAL, "too many overrides (at most 128)");
            out->overrides[a->n_over++] = k;
            continue;
        }
        if (!strcmp(k, "--no-tb")) {
            a->no_tb = 1;
            continue;
        }
        if (i + 1 >= argc) return lm_err_code(LM_EINVAL, "%s needs a value (see lamac train --help)", k);
        const char *v = argv[++i];
        if (!strcmp(k, "--run-dir")) a->run_dir = v;
        else if (!strcmp(k, "--resume")) a->resume = v;
        else if (!strcmp(k, "--device")) a->device = v;
        else if (!strcmp(k, "--dump-batches")) a->dump_batches = v;
        else if (!strcmp(k, "--threads")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 1 || n > 4096) return lm_err_code(LM_EINVAL, "--threads %s: expected 1..4096", v);
            a->threads = (int)n;
        } else
            return lm_err_code(LM_EINVAL, "unknown option '%s' (see lamac train --help)", k);
    }
    if (!a->config && !a->resume) return lm_err_code(LM_EINVAL, "a CONFIG (or --resume RUN_DIR) is required (see lamac train --help)");
    if (a->resume && a->run_dir) return lm_err_code(LM_EINVAL, "--resume continues in the run's own directory: drop --run-dir");
    return 0;
}

/* One worker (or the only process): assemble the run, train, report. The exit status: 0 done,
 * 128 + signal when interrupted (checkpoint written), 1 on an error. */
static int train(const lm_run_args *a) {
    lm_run *r = NULL;
    if (lm_run_open(&r, a) < 0) return lm_cmd_fail("train");
    lm_train_result res;
    int rc = lm_run_train(&res, r);
    lm_run_print_summary(stderr, r, &res, rc);
    if (!rc && res.status == LM_TRAIN_INTERRUPTED) rc = 128 + res.signal;
    lm_run_close(r);
    return rc < 0 ? lm_cmd_fail("train") : rc;
}

static int run(int argc, char **argv) {
    if (lm_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    lm_launch_opts lop;
    args a;
    if (lm_launch_take_args(&lop, &argc, argv) < 0 || parse(&a, argc, argv) < 0) {
        lm_cmd_fail("train");
        return 2;
    }
    if (lop.nproc_per_node > 0) /* the workers run `lamac train ...` without the launcher's flags */
        return lm_launch_workers(&lop, argc, argv, NULL) < 0 ? (lm_cmd_fail("train"), lm_launch_exit_code()) : 0;
    return train(&a.run);
}

const lm_command lm_cmd_train = {"train", "train LaMa (official trainer semantics, exact resume, fine-tuning)", run};
