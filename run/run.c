/* run.c — a training run from a composed config (see run.h; the official bin/train.py:
 * Hydra config -> DefaultInpaintingTrainingModule -> pytorch_lightning.Trainer.fit). */
#define _GNU_SOURCE
#include "run/run.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/config.h"
#include "config/data_opts.h"
#include "config/fill.h"
#include "core/err.h"
#include "core/path.h"
#include "data/shards.h"
#include "data/valset.h"
#include "eval/lpips.h"
#include "run/device.h"
#include "run/step_setup.h"
#include "train/checkpoint.h"
#include "train/ckptfiles.h"
#include "train/ddp.h"
#include "train/rundir.h"
#include "train/validate.h"

struct lm_run {
    lt_device dev;
    lm_ddp *ddp;
    int is_main;
    lm_cfg *cfg;
    char config_path[4096 + 16]; /* CONFIG, or <run dir>/config.yaml on --resume */
    const char *resume;          /* --resume or trainer.kwargs.resume_from_checkpoint; NULL */
    lm_ckpt_found found;         /* the checkpoint to resume from */
    lm_train_opts to;
    lm_loader_opts lo;
    lm_mask_cfg mask;
    lm_valset *val;
    lm_step_setup *s;
    char *yaml;                  /* the resolved config, stored in the run dir and checkpoints */
    char run_dir[4096];
    lm_eval_opts veo;            /* validation metrics */
    const char *stream;          /* data.train.stream (NULL: the shards) */
    const char *dump;            /* --dump-batches */
    char lpips_lin[4096];
};

lm_run_args lm_run_args_defaults(void) {
    lm_run_args a;
    memset(&a, 0, sizeof a);
    a.device = "cpu";
    return a;
}

/* The run directory of a --resume argument: a run dir, its checkpoints/ folder, or a file in it. */
static int resume_run_dir(char *dst, size_t cap, const char *resume) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", resume) >= sizeof tmp) return lm_err_code(LM_EINVAL, "--resume: path too long");
    if (!lm_path_is_dir(tmp)) { /* a file: <run>/checkpoints/<file> */
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

/* libtorch's threads, the device and this process's place in the data-parallel group. */
static int open_device(lm_run *r, const lm_run_args *a) {
    if (a->threads > 0) lt_set_num_threads(a->threads);
    int rc = lm_device_open(&r->dev, &r->ddp, a->device);
    r->is_main = lm_ddp_is_main(r->ddp);
    return rc;
}

/* --resume: the run directory, the config there (without CONFIG) and the checkpoint; then the
 * config, and the official trainer.kwargs.resume_from_checkpoint (same semantics as --resume:
 * never a silent fresh start). */
static int load_config(lm_run *r, const lm_run_args *a) {
    int rc;
    snprintf(r->config_path, sizeof r->config_path, "%s", a->config ? a->config : "");
    r->resume = a->resume;
    if (r->resume) {
        if ((rc = resume_run_dir(r->run_dir, sizeof r->run_dir, r->resume)) < 0) return rc;
        if (!a->config) snprintf(r->config_path, sizeof r->config_path, "%s/config.yaml", r->run_dir);
        if ((rc = lm_ckpt_find(&r->found, r->resume, LM_CKPT_PREFIX, stderr)) < 0) return rc;
    }
    if ((rc = lm_cfg_load(&r->cfg, r->config_path, a->overrides, a->n_over)) < 0) return rc;
    const char *rfc = NULL;
    if (!r->resume && lm_cfg_get_str(r->cfg, "trainer.kwargs.resume_from_checkpoint", &rfc) == 0 && rfc && *rfc) {
        r->resume = rfc;
        if ((rc = resume_run_dir(r->run_dir, sizeof r->run_dir, r->resume)) < 0) return rc;
    }
    if (r->resume && !r->found.path && (rc = lm_ckpt_find(&r->found, r->resume, LM_CKPT_PREFIX, stderr)) < 0)
        return lm_err_prefix("trainer.kwargs.resume_from_checkpoint");
    return 0;
}

/* The training shards: data.train.indir holds at least one batch. */
static int check_shards(const lm_loader_opts *lo) {
    if (!lo->shard_dir || !lm_path_is_dir(lo->shard_dir))
        return lm_err_code(LM_EINVAL, "data.train.indir: %s is not a folder (HDF5 shards made by `lamac shards "
                           "--src IMAGES --out DIR`)", lo->shard_dir ? lo->shard_dir : "(not set)");
    lm_shards *sh = NULL;
    int64_t n_img = 0;
    int rc = lm_shards_open(&sh, lo->shard_dir);
    if (!rc) n_img = lm_shards_count(sh);
    lm_shards_close(sh);
    if (rc < 0) return lm_err_prefix("data.train.indir %s", lo->shard_dir);
    if (n_img < lo->batch_size)
        return lm_err_code(LM_EINVAL, "data.train.indir %s: %lld images, fewer than one batch (%d)", lo->shard_dir,
                           (long long)n_img, lo->batch_size);
    return 0;
}

/* The validation set (data.val.indir), when there is one. */
static int open_valset(lm_run *r) {
    const char *vdir = NULL, *vsuf = NULL;
    lm_cfg_get_str(r->cfg, "data.val.indir", &vdir);
    lm_cfg_get_str(r->cfg, "data.val.img_suffix", &vsuf);
    if (!vdir) {
        fprintf(stderr, "note: data.val.indir is not set: no validation, checkpoints keep only last\n");
        return 0;
    }
    if (!lm_path_is_dir(vdir))
        return lm_err_code(LM_EINVAL, "data.val.indir: %s is not a folder (NAME.png + NAME_mask*.png pairs)", vdir);
    if (lm_valset_open(&r->val, vdir, vsuf) < 0) return lm_err_prefix("data.val.indir %s", vdir);
    return 0;
}

/* The trainer's options and the data, early: clear errors naming the folder. */
static int open_data(lm_run *r, const lm_run_args *a) {
    int rc;
    if ((rc = lm_cfg_fill(&r->to, LM_OPTS_TRAIN, r->cfg)) < 0) return rc;
    if (a->no_tb) r->to.tb = 0;
    if ((rc = lm_loader_opts_from_cfg(&r->lo, &r->mask, r->cfg)) < 0) return rc;
    /* loader threads: data.train.dataloader_kwargs.num_workers (0: the main thread, i.e. 1) */
    int64_t nw = 0;
    if (lm_cfg_get_int(r->cfg, "data.train.dataloader_kwargs.num_workers", &nw) == 0) r->lo.threads = nw > 0 ? (int)nw : 1;
    lm_err_clear();
    r->dump = a->dump_batches;
    if (lm_cfg_get_str(r->cfg, "data.train.stream", &r->stream) < 0 || (r->stream && !*r->stream)) r->stream = NULL;
    lm_err_clear();
    if (r->stream) { /* the stream replaces the shards (data.train.indir is not read) */
        if (!lm_path_is_file(r->stream))
            return lm_err_code(LM_EINVAL, "data.train.stream: %s is not a file (a batch stream: lamac train "
                               "--dump-batches FILE)", r->stream);
    } else if ((rc = check_shards(&r->lo)) < 0) {
        return rc;
    }
    return open_valset(r);
}

/* The networks and the step (seeded), fine-tuning from init_from. */
static int build_networks(lm_run *r) {
    lt_manual_seed(r->to.seed);
    int rc = lm_step_setup_create(&r->s, r->cfg, r->dev, 0);
    if (rc < 0) return rc;
    const char *init = NULL;
    int strict = 1;
    lm_cfg_get_str(r->cfg, "init_from", &init);
    lm_cfg_get_bool(r->cfg, "init_strict", &strict);
    if (!init || !*init) return 0;
    if (r->resume) {
        fprintf(stderr, "note: init_from is ignored on --resume (the checkpoint has the weights)\n");
        return 0;
    }
    return lm_step_setup_init_from(r->s, init, strict, stderr);
}

/* --run-dir DIR: a fresh directory, never one that holds checkpoints already. */
static int use_run_dir(lm_run *r, const char *dir) {
    if ((size_t)snprintf(r->run_dir, sizeof r->run_dir, "%s", dir) >= sizeof r->run_dir)
        return lm_err_code(LM_EINVAL, "--run-dir: path too long");
    lm_ckpt_found probe = {0};
    if (lm_path_is_dir(r->run_dir) && lm_ckpt_find(&probe, r->run_dir, LM_CKPT_PREFIX, NULL) == 0) {
        lm_ckpt_found_free(&probe);
        return lm_err_code(LM_EINVAL, "--run-dir %s already holds checkpoints: continue it with --resume %s, or "
                           "choose another directory", r->run_dir, r->run_dir);
    }
    lm_err_clear();
    return lm_rundir_create(r->run_dir, sizeof r->run_dir, r->yaml, 0);
}

/* Neither --resume nor --run-dir: location.out_root_dir/<date>_<run_title or config name>. */
static int new_run_dir(lm_run *r) {
    const char *root = NULL, *title = NULL;
    lm_cfg_get_str(r->cfg, "location.out_root_dir", &root);
    lm_cfg_get_str(r->cfg, "run_title", &title);
    char base[256];
    if (title && *title) {
        snprintf(base, sizeof base, "%s", title);
    } else {
        char tmp[4096 + 32];
        snprintf(tmp, sizeof tmp, "%s", r->config_path);
        snprintf(base, sizeof base, "%s", basename(tmp));
        char *dot = strrchr(base, '.');
        if (dot && dot != base) *dot = 0;
    }
    for (char *p = base; *p; p++)
        if (*p == '/') *p = '_';
    int rc = lm_rundir_name(r->run_dir, sizeof r->run_dir, root ? root : "./runs", base, time(NULL));
    if (!rc) rc = lm_rundir_create(r->run_dir, sizeof r->run_dir, r->yaml, 1);
    return rc;
}

/* The run directory with the resolved config; ranks > 0 write nothing (the loop never
 * touches the run directory there). */
static int make_run_dir(lm_run *r, const lm_run_args *a) {
    r->yaml = lm_cfg_to_yaml(r->cfg);
    if (!r->yaml) return lm_err_code(LM_ENOMEM, "config: cannot serialise");
    if (!r->is_main) return 0;
    int rc = r->resume    ? lm_rundir_create(r->run_dir, sizeof r->run_dir, r->yaml, 0)
           : a->run_dir ? use_run_dir(r, a->run_dir)
                        : new_run_dir(r);
    if (rc < 0) return rc;
    fprintf(stderr, "run directory: %s\n", r->run_dir);
    return 0;
}

/* Validation metrics: the evaluator's (evaluator.lpips / evaluator.fid, as make_evaluator);
 * weights from $TORCH_HOME and the shipped LPIPS layers (eval/accum.h names a missing one). */
static void set_val_eval(lm_run *r) {
    r->veo = lm_val_eval_defaults(r->dev);
    lm_cfg_get_bool(r->cfg, "evaluator.lpips", &r->veo.lpips);
    lm_cfg_get_bool(r->cfg, "evaluator.fid", &r->veo.fid);
    lm_err_clear();
    if (r->veo.lpips && lm_lpips_find_lin(r->lpips_lin, sizeof r->lpips_lin, lm_lpips_net_name(r->veo.lpips_net)) == 0)
        r->veo.lpips_lin = r->lpips_lin;
    else
        r->veo.lpips_lin = "weights/lpips/vgg.pth (not found beside the lamac binary)";
    lm_err_clear();
}

/* Under data parallelism a message says which rank failed. */
static int rank_context(const lm_run *r, int rc) {
    if (rc < 0 && lm_ddp_world_size(r->ddp) > 1)
        lm_err_prefix("rank %d of %d", lm_ddp_rank(r->ddp), lm_ddp_world_size(r->ddp));
    return rc;
}

int lm_run_open(lm_run **out, const lm_run_args *args) {
    *out = NULL;
    lm_run *r = calloc(1, sizeof *r);
    if (!r) return lm_err_code(LM_ENOMEM, "train: out of memory");
    int rc = open_device(r, args);
    if (!rc) rc = load_config(r, args);
    if (!rc) rc = open_data(r, args);
    if (!rc) rc = build_networks(r);
    if (!rc) rc = make_run_dir(r, args);
    if (rc < 0) {
        rank_context(r, rc);
        lm_run_close(r);
        return rc;
    }
    set_val_eval(r);
    *out = r;
    return 0;
}

void lm_run_close(lm_run *r) {
    if (!r) return;
    lm_ckpt_found_free(&r->found);
    free(r->yaml);
    lm_valset_close(r->val);
    lm_step_setup_free(r->s);
    lm_cfg_free(r->cfg);
    lm_ddp_free(r->ddp);
    free(r);
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

int lm_run_train(lm_train_result *res, lm_run *r) {
    lm_step_setup *s = r->s;
    lm_train_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.step = s->step;
    ctx.nets = (lm_step_nets){s->g, &s->gp, s->d, &s->dp, s->resnet_pl, s->vgg_pl};
    ctx.pad_multiple = 1 << s->gopts.n_downsampling;
    ctx.loader = r->lo;
    ctx.val = r->val;
    ctx.run_dir = r->run_dir;
    ctx.config_yaml = r->yaml;
    ctx.device = r->dev;
    ctx.ddp = r->ddp;
    ctx.val_eval = &r->veo;
    ctx.stream = r->stream;
    ctx.dump = r->dump;
    int rc = lm_train_run(res, &r->to, &ctx, r->resume ? r->found.path : NULL);
    if (rc == 0 && getenv("LAMAC_TEST_PARAM_HASH")) /* test-only: compare ranks' final weights */
        fprintf(stderr, "param-hash rank %d: %016llx\n", lm_ddp_rank(r->ddp), (unsigned long long)params_hash(&s->gp));
    return rank_context(r, rc);
}

void lm_run_print_summary(FILE *f, const lm_run *r, const lm_train_result *res, int rc) {
    if (!r->is_main && rc >= 0) return;
    char reads[128] = "";
    if (res->quiet_iters)
        snprintf(reads, sizeof reads, ", host reads per iteration between log steps: at most %lld (%lld iterations)",
                 (long long)res->quiet_reads_max, (long long)res->quiet_iters);
    fprintf(f, "%s at step %lld (epoch %lld): %.2f steps/s over %.1f s, peak RSS %.0f MiB%s%s%s\n",
            rc < 0 ? "failed" : res->status == LM_TRAIN_INTERRUPTED ? "interrupted" : "done", (long long)res->step,
            (long long)res->epoch, res->steps_per_s, res->seconds, res->peak_rss_kb / 1024.0, reads,
            res->nonfinite_skips ? ", non-finite steps skipped: " : "", res->nonfinite_skips ? "yes" : "");
}
