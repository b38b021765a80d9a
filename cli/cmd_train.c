/* cmd_train.c — `lamac train`: the official bin/train.py (Hydra config -> DefaultInpainting-
 * TrainingModule -> pytorch_lightning.Trainer.fit) over the HDF5 shards. This file turns the
 * config into option structs, opens the data, builds the networks (fine-tuning: init_from),
 * makes the run directory and hands everything to train/loop.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/command.h"
#include "config/config.h"
#include "config/data_opts.h"
#include "run/device.h"
#include "run/predictor.h"
#include "run/step_setup.h"
#include "config/trainer_opts.h"
#include "core/err.h"
#include "core/launch.h"
#include "data/shards.h"
#include "eval/lpips.h"
#include "model/weights.h"
#include "train/checkpoint.h"
#include "train/ckptfiles.h"
#include "train/ddp.h"
#include "train/loop.h"
#include "train/rundir.h"

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
        "                  discriminator), init_strict=false (load what fits, list the rest)\n"
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
    const char *config, *run_dir, *resume, *device;
    const char *overrides[128];
    int n_over, threads, no_tb;
} args;

static int parse(args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->device = "cpu";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strncmp(k, "--", 2)) {
            if (!strchr(k, '=') && !a->config && !a->n_over) {
                a->config = k;
                continue;
            }
            if (!strchr(k, '=')) return lm_err_code(LM_EINVAL, "unexpected argument '%s' (see lamac train --help)", k);
            if (a->n_over >= 128) return lm_err_code(LM_EINVAL, "too many overrides (at most 128)");
            a->overrides[a->n_over++] = k;
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

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The run directory of a --resume argument: a run dir, its checkpoints/ folder, or a file in it. */
static int resume_run_dir(char *dst, size_t cap, const char *resume) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", resume) >= sizeof tmp) return lm_err_code(LM_EINVAL, "--resume: path too long");
    if (!is_dir(tmp)) { /* a file: <run>/checkpoints/<file> */
        struct stat st;
        if (stat(tmp, &st) != 0) return lm_err_code(LM_EIO, "--resume %s: %s", resume, strerror(errno));
        snprintf(tmp, sizeof tmp, "%s", dirname(tmp));
    }
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    if (n >= 11 && !strcmp(tmp + n - 11, "checkpoints") && (n == 11 || tmp[n - 12] == '/'))
        snprintf(tmp, sizeof tmp, "%s", n == 11 ? "." : dirname(tmp));
    if ((size_t)snprintf(dst, cap, "%s", tmp) >= cap) return lm_err_code(LM_EINVAL, "--resume: path too long");
    return 0;
}

/* Fine-tuning: the generator (and the discriminator when the file has one) from PATH. */
static int init_from(lm_step_setup *s, const char *path, int strict) {
    char w[4096], cf[4096];
    lm_weights_src *src = NULL;
    int rc = lm_model_resolve(path, w, sizeof w, cf, sizeof cf);
    if (rc < 0) return lm_err_prefix("init_from %s", path);
    if ((rc = lm_weights_open(&src, w)) < 0) return lm_err_prefix("init_from");
    const char *gp = lm_weights_count_prefix(src, "generator.") ? "generator." : "";
    struct {
        const char *name, *prefix;
        lm_params *p;
    } parts[2] = {{"generator", gp, &s->gp}, {"discriminator", "discriminator.", &s->dp}};
    for (int k = 0; k < 2 && !rc; k++) {
        if (k == 1 && !lm_weights_count_prefix(src, "discriminator.")) {
            fprintf(stderr, "init_from %s: no discriminator.* tensors: the discriminator starts from scratch\n", w);
            break;
        }
        lm_weights_report rep;
        lm_weights_report_init(&rep);
        rc = lm_weights_load(parts[k].p, src, parts[k].prefix, strict ? LM_WEIGHTS_STRICT : LM_WEIGHTS_NONSTRICT, &rep);
        if (rep.n) {
            fprintf(stderr, "init_from %s: %s: %d of %d tensors %s; mismatches:\n", w, parts[k].name,
                    rc < 0 ? 0 : rep.loaded, rep.checked, rc < 0 ? "would load" : "loaded");
            lm_weights_report_print(&rep, stderr);
        } else {
            fprintf(stderr, "init_from %s: %s: %d tensors loaded\n", w, parts[k].name, rep.loaded);
        }
        if (rc < 0) lm_err_prefix("init_from (init_strict=false loads what fits and lists the rest)");
        lm_weights_report_free(&rep);
    }
    lm_weights_close(src);
    return rc;
}

/* FNV-1a of (name, float32 bytes) per trainable parameter, summed over parameters (order-free):
 * the same value as tests/check_train_ddp.c computes from a checkpoint's generator.* tensors. */
static uint64_t params_hash(const lm_params *p) {
    uint64_t total = 0;
    lt_scope_push();
    for (int i = 0; i < p->n; i++) {
        if (p->items[i].kind != LM_PARAM) continue;
        lt_tensor *c = lt_contiguous(lt_to_device(p->items[i].t, LT_CPU));
        int64_t n = c ? lt_numel(c) : 0;
        float *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
        uint64_t h = 1469598103934665603ull;
        for (const char *k = p->items[i].name; *k; k++) h = (h ^ (uint8_t)*k) * 1099511628211ull;
        if (buf && c && lt_to_buffer(c, buf, (size_t)n * sizeof *buf) == 0)
            for (size_t j = 0; j < (size_t)n * sizeof *buf; j++) h = (h ^ ((uint8_t *)buf)[j]) * 1099511628211ull;
        free(buf);
        total += h;
    }
    lt_scope_pop();
    return total;
}

static int run(int argc, char **argv) {
    if (lm_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    lm_launch_opts lop;
    if (lm_launch_take_args(&lop, &argc, argv) < 0) {
        lm_cmd_fail("train");
        return 2;
    }
    args a;
    if (parse(&a, argc, argv) < 0) {
        lm_cmd_fail("train");
        return 2;
    }
    if (lop.nproc_per_node > 0) { /* the workers run `lamac train ...` without the launcher's flags */
        char **wargv = calloc((size_t)argc + 2, sizeof *wargv);
        if (!wargv) return lm_cmd_fail("train");
        wargv[0] = "lamac";
        for (int i = 0; i < argc; i++) wargv[i + 1] = argv[i];
        int lrc = lm_launch_run(&lop, NULL, wargv);
        free(wargv);
        return lrc < 0 ? (lm_cmd_fail("train"), lm_launch_exit_code()) : 0;
    }
    lt_device dev;
    if (lm_parse_device(&dev, a.device) < 0) return lm_cmd_fail("train");
    if (a.threads > 0) lt_set_num_threads(a.threads);
    lm_ddp_opts dopt;
    lm_ddp *ddp = NULL;
    if (lm_ddp_opts_from_env(&dopt) < 0) return lm_cmd_fail("train");
    if (lm_ddp_place(&dopt, &dev, strchr(a.device, ':') != NULL, lt_cuda_device_count()) < 0 ||
        lm_ddp_create(&ddp, &dopt, dev) < 0)
        return lm_cmd_fail("train");
    const int is_main = lm_ddp_is_main(ddp);

    lm_cfg *cfg = NULL;
    lm_step_setup *s = NULL;
    lm_valset *val = NULL;
    lm_ckpt_found found = {0};
    char *yaml = NULL;
    char run_dir[4096] = "", cfg_path[4096 + 16];
    const char *config = a.config, *resume = a.resume;
    int rc = 0;
    if (resume) {
        if ((rc = resume_run_dir(run_dir, sizeof run_dir, resume)) < 0) goto done;
        if (!config) {
            snprintf(cfg_path, sizeof cfg_path, "%s/config.yaml", run_dir);
            config = cfg_path;
        }
    }
    if (a.resume && (rc = lm_ckpt_find(&found, resume, LM_CKPT_PREFIX, stderr)) < 0) goto done;
    if ((rc = lm_cfg_load(&cfg, config, a.overrides, a.n_over)) < 0) goto done;
    const char *rfc = NULL;
    if (!resume && lm_cfg_get_str(cfg, "trainer.kwargs.resume_from_checkpoint", &rfc) == 0 && rfc && *rfc) {
        resume = rfc; /* the official key: same semantics as --resume (never a silent fresh start) */
        if ((rc = resume_run_dir(run_dir, sizeof run_dir, resume)) < 0) goto done;
    }
    if (resume && !found.path && (rc = lm_ckpt_find(&found, resume, LM_CKPT_PREFIX, stderr)) < 0) {
        lm_err_prefix("trainer.kwargs.resume_from_checkpoint");
        goto done;
    }

    lm_train_opts to;
    if ((rc = lm_train_opts_from_cfg(&to, cfg)) < 0) goto done;
    if (a.no_tb) to.tb = 0;

    /* data: early, clear errors naming the folder */
    lm_loader_opts lo;
    lm_mask_cfg mask;
    if ((rc = lm_loader_opts_from_cfg(&lo, &mask, cfg)) < 0) goto done;
    {   /* loader threads: data.train.dataloader_kwargs.num_workers (0: the main thread, i.e. 1) */
        int64_t nw = 0;
        if (lm_cfg_get_int(cfg, "data.train.dataloader_kwargs.num_workers", &nw) == 0) lo.threads = nw > 0 ? (int)nw : 1;
        lm_err_clear();
    }
    if (!lo.shard_dir || !is_dir(lo.shard_dir)) {
        rc = lm_err_code(LM_EINVAL, "data.train.indir: %s is not a folder (HDF5 shards made by `lamac shards "
                         "--src IMAGES --out DIR`)", lo.shard_dir ? lo.shard_dir : "(not set)");
        goto done;
    }
    {
        lm_shards *sh = NULL;
        int64_t n_img = 0;
        if ((rc = lm_shards_open(&sh, lo.shard_dir)) == 0) n_img = lm_shards_count(sh);
        lm_shards_close(sh);
        if (rc < 0) {
            lm_err_prefix("data.train.indir %s", lo.shard_dir);
            goto done;
        }
        if (n_img < lo.batch_size) {
            rc = lm_err_code(LM_EINVAL, "data.train.indir %s: %lld images, fewer than one batch (%d)", lo.shard_dir,
                             (long long)n_img, lo.batch_size);
            goto done;
        }
    }
    const char *vdir = NULL, *vsuf = NULL;
    lm_cfg_get_str(cfg, "data.val.indir", &vdir);
    lm_cfg_get_str(cfg, "data.val.img_suffix", &vsuf);
    if (vdir) {
        if (!is_dir(vdir)) {
            rc = lm_err_code(LM_EINVAL, "data.val.indir: %s is not a folder (NAME.png + NAME_mask*.png pairs)", vdir);
            goto done;
        }
        if ((rc = lm_valset_open(&val, vdir, vsuf)) < 0) {
            lm_err_prefix("data.val.indir %s", vdir);
            goto done;
        }
    } else {
        fprintf(stderr, "note: data.val.indir is not set: no validation, checkpoints keep only last\n");
    }

    /* networks (seeded), fine-tuning */
    lt_manual_seed(to.seed);
    if ((rc = lm_step_setup_create(&s, cfg, dev, 0)) < 0) goto done;
    const char *init = NULL;
    int strict = 1;
    lm_cfg_get_str(cfg, "init_from", &init);
    lm_cfg_get_bool(cfg, "init_strict", &strict);
    if (init && *init) {
        if (resume) fprintf(stderr, "note: init_from is ignored on --resume (the checkpoint has the weights)\n");
        else if ((rc = init_from(s, init, strict)) < 0) goto done;
    }

    /* run directory */
    yaml = lm_cfg_to_yaml(cfg);
    if (!yaml) {
        rc = lm_err_code(LM_ENOMEM, "config: cannot serialise");
        goto done;
    }
    if (!is_main) {
        /* ranks > 0 write nothing (the loop never touches the run directory there) */
    } else if (resume) {
        rc = lm_rundir_create(run_dir, sizeof run_dir, yaml, 0);
    } else if (a.run_dir) {
        if ((size_t)snprintf(run_dir, sizeof run_dir, "%s", a.run_dir) >= sizeof run_dir) {
            rc = lm_err_code(LM_EINVAL, "--run-dir: path too long");
            goto done;
        }
        lm_ckpt_found probe = {0};
        if (is_dir(run_dir) && lm_ckpt_find(&probe, run_dir, LM_CKPT_PREFIX, NULL) == 0) {
            lm_ckpt_found_free(&probe);
            rc = lm_err_code(LM_EINVAL, "--run-dir %s already holds checkpoints: continue it with --resume %s, or "
                             "choose another directory", run_dir, run_dir);
            goto done;
        }
        lm_err_clear();
        rc = lm_rundir_create(run_dir, sizeof run_dir, yaml, 0);
    } else {
        const char *root = NULL, *title = NULL;
        lm_cfg_get_str(cfg, "location.out_root_dir", &root);
        lm_cfg_get_str(cfg, "run_title", &title);
        char base[256];
        if (title && *title) {
            snprintf(base, sizeof base, "%s", title);
        } else {
            char tmp[4096 + 32];
            snprintf(tmp, sizeof tmp, "%s", config);
            snprintf(base, sizeof base, "%s", basename(tmp));
            char *dot = strrchr(base, '.');
            if (dot && dot != base) *dot = 0;
        }
        for (char *p = base; *p; p++)
            if (*p == '/') *p = '_';
        rc = lm_rundir_name(run_dir, sizeof run_dir, root ? root : "./runs", base, time(NULL));
        if (!rc) rc = lm_rundir_create(run_dir, sizeof run_dir, yaml, 1);
    }
    if (rc < 0) goto done;
    if (is_main) fprintf(stderr, "run directory: %s\n", run_dir);

    lm_train_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.step = s->step;
    ctx.nets = (lm_step_nets){s->g, &s->gp, s->d, &s->dp, s->resnet_pl, s->vgg_pl};
    ctx.pad_multiple = 1 << s->gopts.n_downsampling;
    ctx.loader = lo;
    ctx.val = val;
    ctx.run_dir = run_dir;
    ctx.config_yaml = yaml;
    ctx.device = dev;
    ctx.ddp = ddp;
    /* validation metrics: the evaluator's (evaluator.lpips / evaluator.fid, as make_evaluator);
     * weights from $TORCH_HOME and the shipped LPIPS layers (eval/accum.h names a missing one) */
    lm_eval_opts veo = lm_val_eval_defaults(dev);
    char vlin[4096];
    lm_cfg_get_bool(cfg, "evaluator.lpips", &veo.lpips);
    lm_cfg_get_bool(cfg, "evaluator.fid", &veo.fid);
    lm_err_clear();
    if (veo.lpips && lm_lpips_find_lin(vlin, sizeof vlin, lm_lpips_net_name(veo.lpips_net)) == 0)
        veo.lpips_lin = vlin;
    else
        veo.lpips_lin = "weights/lpips/vgg.pth (not found beside the lamac binary)";
    lm_err_clear();
    ctx.val_eval = &veo;
    lm_train_result res;
    rc = lm_train_run(&res, &to, &ctx, resume ? found.path : NULL);
    if (rc == 0 && getenv("LAMAC_TEST_PARAM_HASH")) /* test-only: compare ranks' final weights */
        fprintf(stderr, "param-hash rank %d: %016llx\n", lm_ddp_rank(ddp), (unsigned long long)params_hash(&s->gp));
    if (is_main || rc < 0)
        fprintf(stderr, "%s at step %lld (epoch %lld): %.2f steps/s over %.1f s, peak RSS %.0f MiB%s%s\n",
            rc < 0 ? "failed" : res.status == LM_TRAIN_INTERRUPTED ? "interrupted" : "done", (long long)res.step,
            (long long)res.epoch, res.steps_per_s, res.seconds, res.peak_rss_kb / 1024.0,
            res.nonfinite_skips ? ", non-finite steps skipped: " : "", res.nonfinite_skips ? "yes" : "");
    if (!rc && res.status == LM_TRAIN_INTERRUPTED) rc = 128 + res.signal;
done:
    lm_ckpt_found_free(&found);
    free(yaml);
    lm_valset_close(val);
    lm_step_setup_free(s);
    lm_cfg_free(cfg);
    if (rc < 0 && lm_ddp_world_size(ddp) > 1) lm_err_prefix("rank %d of %d", lm_ddp_rank(ddp), lm_ddp_world_size(ddp));
    lm_ddp_free(ddp);
    if (rc < 0) return lm_cmd_fail("train");
    return rc;
}

const lm_command lm_cmd_train = {"train", "train LaMa (official trainer semantics, exact resume, fine-tuning)", run};
