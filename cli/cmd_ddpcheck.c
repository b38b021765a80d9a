/* cmd_ddpcheck.c — `lamac ddp-check`: self-checks of data parallelism (train/ddp.h over the
 * shim's c10d process groups, core/launch.h), used by tests/check_ddp.c and useful on a new
 * cluster: collectives with known values, official iterations with the DDP hooks, averaged
 * gradients, a worker that dies on purpose. No official counterpart. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/flags.h"
#include "io/safetensors.h"
#include "model/layers.h"
#include "model/lt_err.h"
#include "train/ddp.h"
#include "cli/command.h"
#include "cli/launch_args.h"
#include "config/config.h"
#include "run/batch.h"
#include "run/device.h"
#include "run/params_file.h"
#include "run/step_setup.h"

static const char *const USAGE =
    "usage: lamac ddp-check [--nproc-per-node N [--nnodes M --node-rank R --master ADDR:PORT]]\n"
    "                       MODE [CONFIG] [key=value ...] [options]\n\n"
    "Checks data-parallel training on this machine or cluster. Without --nproc-per-node it is\n"
    "one worker and takes its rank from the environment (RANK, WORLD_SIZE, MASTER_ADDR, ... as\n"
    "torchrun sets them, or Slurm's SLURM_PROCID, SLURM_NTASKS); with it, it starts N local\n"
    "workers itself (torchrun semantics; --master 127.0.0.1:0 picks a free port).\n"
    "Modes:\n"
    "  collectives  all-reduce (sum, average, three tensors of different shapes), broadcast\n"
    "               from the last rank, barrier; every rank checks the values it gets\n"
    "  steps        --steps K official iterations (train/step.h) of CONFIG on per-rank random\n"
    "               batches, parameters broadcast from rank 0 first, gradients averaged after\n"
    "               each backward; with --out DIR: DIR/init.safetensors (rank 0, after the\n"
    "               broadcast) and DIR/rank<R>.safetensors (every rank, after the steps)\n"
    "  allreduce    times lm_ddp_sync_grads on gradients of lama-fourier's sizes (27,048,835 +\n"
    "               6,962,369 values; --values N for another total), after a barrier so that\n"
    "               only communication is timed; --steps K repetitions; rank 0 prints\n"
    "  grads        the generator's masked L1 + adversarial loss with G and D in eval mode (so\n"
    "               samples are independent) on this rank's slice of one fixed batch of\n"
    "               batch-size x world-size samples, backward, gradients averaged; --out DIR:\n"
    "               DIR/grads_rank<R>.safetensors (generator.* and discriminator.* gradients)\n"
    "  syncbn       SyncBatchNorm (trainer.sync_bn) with G and D in TRAINING mode on this rank's\n"
    "               slice of one fixed batch of batch-size x world-size samples: G forward,\n"
    "               masked L1 + adversarial loss, backward, gradients averaged; then the\n"
    "               discriminator loss with R1 (double backward), backward, D's gradients\n"
    "               averaged. --out DIR: DIR/syncbn_rank<R>.safetensors with pred.<k> (the\n"
    "               prediction in chunks of --split samples, k counted over all ranks), g.<grad>,\n"
    "               d.<grad> and the BatchNorm running statistics g.<buffer>, d.<buffer>\n"
    "Options:\n"
    "  CONFIG            training config (default configs/training/lama-fourier.yaml)\n"
    "  --steps K (3)     --batch-size B (2, per rank)   --size S (32)   --seed N (0)\n"
    "  --threads N (1)   libtorch intra-op threads per worker\n"
    "  --no-sync         skip the gradient averaging (a control: parameters then drift apart)\n"
    "  --no-sync-bn      syncbn: per-rank BatchNorm statistics (the control)\n"
    "  --split K         syncbn: chunk size of the saved prediction (default: --batch-size)\n"
    "  --die-rank R --die-after K   rank R kills itself (SIGKILL) after K steps\n"
    "  --stall-rank R    rank R stops itself (SIGSTOP) after --die-after K steps instead: alive,\n"
    "                    connections open, never joining (the others' collectives time out)\n"
    "  --out DIR         where the files above go\n"
    "Config overrides apply to every mode; trainer.precision=bf16 runs the forward passes and\n"
    "losses of steps, grads and syncbn under autocast to bfloat16 as training does (each rank's\n"
    "line names the precision); gradients and parameters stay float32.\n"
    "Exit status 0 when every check passed (and, with --nproc-per-node, every worker did);\n"
    "the launcher exits 128+S when a worker was killed by signal S (or it got S itself).\n";

typedef struct args {
    const char *mode, *config, *out;
    const char *over[64];
    int n_over, steps, bs, size, seed, threads, no_sync, die_rank, die_after, stall_rank, no_sync_bn, split;
    long values;
} args;

static int parse(args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->steps = 3, a->bs = 2, a->size = 32, a->threads = 1, a->die_rank = -1, a->stall_rank = -1;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strncmp(k, "--", 2)) {
            if (!a->mode) a->mode = k;
            else if (strchr(k, '=')) {
                if (a->n_over >= 64) return lm_err_code(LM_EINVAL, "too many overrides (at most 64)");
                a->over[a->n_over++] = k;
            } else if (!a->config) a->config = k;
            else return lm_err_code(LM_EINVAL, "unexpected argument '%s'", k);
            continue;
        }
        if (!strcmp(k, "--no-sync")) {
            a->no_sync = 1;
            continue;
        }
        if (!strcmp(k, "--no-sync-bn")) {
            a->no_sync_bn = 1;
            continue;
        }
        if (i + 1 >= argc) return lm_err_code(LM_EINVAL, "%s needs a value", k);
        const char *v = argv[++i];
        int *dst = !strcmp(k, "--steps") ? &a->steps : !strcmp(k, "--batch-size") ? &a->bs
                 : !strcmp(k, "--size") ? &a->size : !strcmp(k, "--seed") ? &a->seed
                 : !strcmp(k, "--threads") ? &a->threads : !strcmp(k, "--die-rank") ? &a->die_rank
                 : !strcmp(k, "--die-after") ? &a->die_after : !strcmp(k, "--stall-rank") ? &a->stall_rank
                 : !strcmp(k, "--split") ? &a->split : NULL;
        if (!strcmp(k, "--out")) a->out = v;
        else if (!strcmp(k, "--values")) {
            if (lm_flag_long(k, v, 2, 1L << 34, &a->values) < 0) return LM_EINVAL;
        }
        else if (!dst) return lm_err_code(LM_EINVAL, "unknown option '%s' (see lamac ddp-check --help)", k);
        else if (lm_flag_int(k, v, 0, 1 << 20, dst) < 0) return LM_EINVAL;
    }
    if (!a->mode) return lm_err_code(LM_EINVAL, "a mode is required: collectives, steps or grads");
    if (strcmp(a->mode, "collectives") && strcmp(a->mode, "steps") && strcmp(a->mode, "grads") &&
        strcmp(a->mode, "allreduce") && strcmp(a->mode, "syncbn"))
        return lm_err_code(LM_EINVAL, "unknown mode '%s' (collectives, steps, grads, allreduce, syncbn)", a->mode);
    if (!a->split) a->split = a->bs;
    if (a->bs % a->split) return lm_err_code(LM_EINVAL, "--split must divide --batch-size");
    if (a->bs < 1 || a->size < 8) return lm_err_code(LM_EINVAL, "--batch-size must be >= 1 and --size >= 8");
    return 0;
}

/* ---- collectives ---------------------------------------------------------------------------- */

/* Every element of t equals v (within 1e-6 relative)? */
static int all_equal(lt_tensor *t, double v, const char *what, int rank) {
    double lo = lt_item(lt_min(t)), hi = lt_item(lt_max(t));
    double tol = 1e-6 * (v < 0 ? -v : v) + 1e-6;
    if (!(lo >= v - tol && hi <= v + tol))
        return lm_err_code(LM_EFAIL, "rank %d: %s: got values in [%g, %g], expected %g", rank, what, lo, hi, v);
    return 0;
}

static int check_collectives(lm_ddp *d) {
    int r = lm_ddp_rank(d), w = lm_ddp_world_size(d), rc = 0;
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    int64_t s1[1] = {5}, s2[2] = {3, 4}, s3[3] = {2, 1, 7};
    /* three LM_PARAM tensors (filled with rank + 1) and one buffer (filled with 10·rank) */
    lt_tensor *a = lm_params_add(&p, "a", lt_full(s1, 1, r + 1, LT_F32, LT_CPU), LM_BUFFER);
    lt_tensor *b = lm_params_add(&p, "b", lt_full(s2, 2, 10.0 * r, LT_F32, LT_CPU), LM_BUFFER);
    lt_tensor *c = lm_params_add(&p, "c", lt_full(s3, 3, -3.0 * r, LT_F64, LT_CPU), LM_BUFFER);
    if (!a || !b || !c) {
        rc = lm_err_lt("collectives: tensors");
        goto cleanup;
    }
    lt_scope_push();
    /* the gradient path: grads of LM_PARAMs, averaged */
    lm_params q;
    lm_params_init(&q, LT_F32, LT_CPU);
    lt_tensor *x = lm_params_add(&q, "x", lt_zeros(s2, 2, LT_F32, LT_CPU), LM_PARAM);
    lt_tensor *y = lm_params_add(&q, "y", lt_zeros(s3, 3, LT_F32, LT_CPU), LM_PARAM);
    /* d/dx sum(x·(rank+1)) = rank+1; d/dy sum(y·2·rank) = 2·rank */
    lt_tensor *loss = lt_add(lt_sum(lt_mul_scalar(x, r + 1)), lt_sum(lt_mul_scalar(y, 2.0 * r)));
    if (!loss || lt_backward(loss) < 0) rc = lm_err_lt("collectives: backward");
    if (!rc) rc = lm_ddp_sync_grads(d, &q);
    double sum1 = w * (w + 1) / 2.0; /* sum over ranks of rank + 1 */
    if (!rc) rc = all_equal(lt_grad_of(x), sum1 / w, "gradient average (x)", r);
    if (!rc) rc = all_equal(lt_grad_of(y), 2.0 * (w - 1) / 2.0, "gradient average (y)", r);
    /* broadcast of buffers from rank 0 (three tensors, two dtypes) */
    if (!rc) rc = lm_ddp_broadcast_params(d, &p, LM_BUFFER);
    if (!rc) rc = all_equal(a, 1.0, "broadcast (a)", r);
    if (!rc) rc = all_equal(b, 0.0, "broadcast (b)", r);
    if (!rc) rc = all_equal(c, 0.0, "broadcast (c, F64)", r);
    /* mean of scalars */
    double v[3] = {(double)r, 1.0, r * r};
    if (!rc) rc = lm_ddp_mean(d, v, 3);
    double sq = 0;
    for (int k = 0; k < w; k++) sq += k * k;
    if (!rc && (v[0] != (w - 1) / 2.0 || v[1] != 1.0 || v[2] != sq / w))
        rc = lm_err_code(LM_EFAIL, "rank %d: mean: got (%g, %g, %g), expected (%g, 1, %g)", r, v[0], v[1], v[2],
                         (w - 1) / 2.0, sq / w);
    if (!rc) rc = lm_ddp_barrier(d);
    lt_scope_pop();
    lm_params_free(&q);
    if (!rc) printf("rank %d of %d: collectives ok\n", r, w);
cleanup:
    lm_params_free(&p);
    return rc;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int time_allreduce(const args *a, lm_ddp *d) {
    int r = lm_ddp_rank(d), w = lm_ddp_world_size(d), rc = 0, k = a->steps > 0 ? a->steps : 1;
    int64_t n0 = a->values ? a->values * 27048835 / (27048835 + 6962369) : 27048835;
    int64_t n1 = a->values ? a->values - n0 : 6962369;
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lt_tensor *g = lm_params_add(&p, "generator", lt_zeros(&n0, 1, LT_F32, LT_CPU), LM_PARAM);
    lt_tensor *dd = lm_params_add(&p, "discriminator", lt_zeros(&n1, 1, LT_F32, LT_CPU), LM_PARAM);
    double *t = calloc((size_t)k, sizeof *t);
    lt_scope_push();
    if (!g || !dd || !t || lt_backward(lt_add(lt_sum(g), lt_sum(dd))) < 0) rc = lm_err_lt("allreduce: gradients");
    for (int i = 0; i < k && !rc; i++) {
        rc = lm_ddp_barrier(d);
        double t0 = lm_clock_now();
        if (!rc) rc = lm_ddp_sync_grads(d, &p);
        t[i] = lm_clock_now() - t0;
    }
    lt_scope_pop();
    if (!rc && r == 0) {
        qsort(t, (size_t)k, sizeof *t, cmp_double);
        printf("all-reduce of %lld + %lld float32 gradients (%.1f MB) in %.0f MB buckets over %d ranks: median %.3f s, "
               "min %.3f s over %d (%.0f MB/s of gradient)\n", (long long)n0, (long long)n1, (n0 + n1) * 4 / 1e6,
               lm_ddp_options(d)->bucket_mb, w, t[k / 2], t[0], k, (n0 + n1) * 4 / 1e6 / t[k / 2]);
    }
    free(t);
    lm_params_free(&p);
    return rc;
}

/* ---- steps and grads ---------------------------------------------------------------------------- */

static const char *prec_name(const lm_step_setup *s) { return s->sopts.precision == LT_F32 ? "float32" : "bf16"; }

/* This rank's slice of one fixed batch of bs·w samples (the grads and syncbn modes). In the
 * caller's scope. */
static int rank_slice(lt_tensor **img, lt_tensor **mask, const args *a, int r, int w) {
    lt_manual_seed((uint64_t)a->seed + 77);
    int rc = lm_batch_random_boxes(img, mask, a->bs * w, a->size);
    *img = lt_narrow(*img, 0, (int64_t)r * a->bs, a->bs), *mask = lt_narrow(*mask, 0, (int64_t)r * a->bs, a->bs);
    return rc;
}

/* The predictions in chunks of --split samples, pred.<k> with k counted over all ranks. */
static int add_predictions(lm_safetensors_writer *wr, lt_tensor *pred, const args *a, int r) {
    int rc = 0;
    for (int k = 0; k < a->bs / a->split && !rc; k++) {
        lt_tensor *c = lt_contiguous(lt_detach(lt_narrow(pred, 0, (int64_t)k * a->split, a->split)));
        int64_t sh[4];
        char name[64];
        snprintf(name, sizeof name, "pred.%d", r * (a->bs / a->split) + k);
        if (!c || lt_shape(c, sh, 4) != 4) rc = lm_err_lt("syncbn: prediction");
        else rc = lm_safetensors_writer_add(wr, name, LM_DT_F32, sh, 4, lt_data(c), (size_t)lt_numel(c) * sizeof(float));
    }
    return rc;
}

/* The syncbn mode (see USAGE). In the caller's scope. */
static int run_syncbn(const args *a, lm_ddp *d, lm_step_setup *s) {
    int r = lm_ddp_rank(d), w = lm_ddp_world_size(d), rc = 0;
    char path[4096];
    lt_tensor *img, *mask, *pred;
    if ((rc = rank_slice(&img, &mask, a, r, w)) < 0) return rc;
    lm_bn_set_sync_group(a->no_sync_bn ? NULL : lm_ddp_group(d));
    /* generator loss: G and D in training mode */
    lt_tensor *loss = lm_step_setup_generator_loss(&pred, s, img, mask, 1);
    if (!loss || lt_backward(loss) < 0) rc = lm_err_lt("syncbn: generator loss and backward");
    if (!rc) rc = lm_ddp_sync_grads(d, &s->gp);
    double gl = rc ? 0 : lt_item(loss);
    lm_safetensors_writer *wr = NULL;
    if (!rc && a->out) {
        snprintf(path, sizeof path, "%s/syncbn_rank%d.safetensors", a->out, r);
        if (!(rc = lm_safetensors_writer_open(&wr, path))) rc = lm_params_file_add(wr, &s->gp, LM_PARAM, "g.");
        if (!rc) rc = add_predictions(wr, pred, a, r);
    }
    /* discriminator loss with R1 (create_graph), D in training mode */
    lm_adv_discr dl = {0};
    if (!rc && (rc = lm_step_setup_discriminator_loss(&dl, s, img, pred, mask)) < 0) lm_err_prefix("syncbn");
    if (!rc && lt_backward(dl.loss) < 0) rc = lm_err_lt("syncbn: discriminator loss (R1) and backward");
    if (!rc) rc = lm_ddp_sync_grads(d, &s->dp);
    if (!rc && wr) rc = lm_params_file_add(wr, &s->dp, LM_PARAM, "d.");
    if (!rc && wr) rc = lm_params_file_add(wr, &s->gp, LM_BUFFER, "g.");
    if (!rc && wr) rc = lm_params_file_add(wr, &s->dp, LM_BUFFER, "d.");
    lm_bn_set_sync_group(NULL);
    if (wr) {
        if (rc) lm_safetensors_writer_abort(wr);
        else rc = lm_safetensors_writer_close(wr);
    }
    if (!rc)
        printf("rank %d of %d: syncbn ok (%s BatchNorm statistics; generator loss %.6f, discriminator loss %.6f, "
               "R1 term %.6g on %d samples; %s)\n", r, w, a->no_sync_bn || w == 1 ? "per-rank" : "synchronised", gl,
               lt_item(dl.loss), lt_item(dl.gp), a->bs, prec_name(s));
    return rc;
}

/* The grads mode (see USAGE): G and D in eval mode, so that samples are independent. In the
 * caller's scope. */
static int run_grads(const args *a, lm_ddp *d, lm_step_setup *s) {
    int r = lm_ddp_rank(d), w = lm_ddp_world_size(d);
    lt_tensor *img, *mask, *pred;
    int rc = rank_slice(&img, &mask, a, r, w);
    lt_tensor *loss = rc ? NULL : lm_step_setup_generator_loss(&pred, s, img, mask, 0);
    if (!rc && (!loss || lt_backward(loss) < 0)) rc = lm_err_lt("grads: loss and backward");
    if (!rc && !a->no_sync) rc = lm_ddp_sync_grads(d, &s->gp);
    if (!rc && !a->no_sync) rc = lm_ddp_sync_grads(d, &s->dp);
    if (!rc && a->out) {
        char path[4096];
        snprintf(path, sizeof path, "%s/grads_rank%d.safetensors", a->out, r);
        lm_params *ps[2] = {&s->gp, &s->dp};
        const char *pre[2] = {"generator.", "discriminator."};
        rc = lm_params_file_grads(path, ps, pre, 2);
    }
    if (!rc) printf("rank %d of %d: grads ok (loss %.6f on %d samples; %s)\n", r, w, lt_item(loss), a->bs, prec_name(s));
    return rc;
}

/* --die-rank / --stall-rank: this rank ends or stops itself before step it. */
static void maybe_fail_on_purpose(const args *a, int r, int it) {
    if (r == a->die_rank && it == a->die_after) {
        fprintf(stderr, "rank %d: dying on purpose after %d steps (--die-rank)\n", r, it);
        fflush(stderr);
        raise(SIGKILL);
    }
    if (r == a->stall_rank && it == a->die_after) {
        fprintf(stderr, "rank %d: stopping on purpose after %d steps (--stall-rank)\n", r, it);
        fflush(stderr);
        raise(SIGSTOP);
    }
}

static void print_steps_stats(const args *a, lm_ddp *d, const lm_step_setup *s) {
    int r = lm_ddp_rank(d), w = lm_ddp_world_size(d);
    lm_ddp_stats st = lm_ddp_get_stats(d);
    printf("rank %d of %d: %d steps ok (%s); gradient all-reduce %.3f s in %ld calls (%.1f MB), buffer broadcast "
           "%.3f s\n", r, w, a->steps, prec_name(s), st.grad_seconds, st.grad_calls, st.grad_bytes / 1e6,
           st.buffer_seconds);
    if (s->sopts.ddp_overlap && w > 1) {
        long np = 0;
        for (int i = 0; i < s->gp.n; i++) np += s->gp.items[i].kind == LM_PARAM;
        for (int i = 0; i < s->dp.n; i++) np += s->dp.items[i].kind == LM_PARAM;
        printf("rank %d of %d: overlap: %ld gradient-ready hook calls (expected %ld: once per trainable parameter "
               "and backward), %ld buckets started during backward, %ld after it\n", r, w, st.hook_calls,
               np * a->steps, st.buckets_early, st.buckets_late);
    }
}

/* The steps mode (see USAGE): official iterations on per-rank random batches. */
static int run_steps(const args *a, lm_ddp *d, lm_step_setup *s) {
    int r = lm_ddp_rank(d), w = lm_ddp_world_size(d), rc = 0;
    char path[4096];
    if (a->out && r == 0) {
        snprintf(path, sizeof path, "%s/init.safetensors", a->out);
        if ((rc = lm_step_setup_save(s, path, NULL, 0)) < 0) return rc;
    }
    /* per-rank batches: a different stream on every rank */
    lt_manual_seed((uint64_t)a->seed * 7919u + 1u + (uint64_t)r);
    for (int it = 0; it < a->steps && !rc; it++) {
        maybe_fail_on_purpose(a, r, it);
        lt_scope_push();
        lt_tensor *img, *mask;
        lm_step_losses L;
        rc = lm_batch_random_boxes(&img, &mask, a->bs, a->size);
        if (!rc) rc = lm_step_run(&L, s->step, img, mask);
        if (!rc) {
            double v[2] = {lm_step_losses_get(&L, "gen_total"), lm_step_losses_get(&L, "discr_adv")};
            rc = lm_ddp_mean(d, v, 2);
            if (!rc && r == 0) printf("step %d: gen_total %.5f discr_adv %.5f (mean over %d ranks)\n", it + 1, v[0], v[1], w);
            fflush(stdout);
        }
        lt_scope_pop();
    }
    if (!rc && a->out) {
        snprintf(path, sizeof path, "%s/rank%d.safetensors", a->out, r);
        rc = lm_step_setup_save(s, path, NULL, lm_step_global_step(s->step));
    }
    if (!rc) print_steps_stats(a, d, s);
    return rc;
}

/* The modes with networks: every rank builds its own random ones (each seeded differently),
 * then joins the group (rank 0's weights everywhere, the DDP hooks; --no-sync: without the
 * gradient averaging). */
static int run_model(const args *a, lm_ddp *d) {
    const char *config = a->config ? a->config : LM_SOURCE_DIR "/configs/training/lama-fourier.yaml";
    lm_cfg *cfg = NULL;
    lm_step_setup *s = NULL;
    lt_manual_seed((uint64_t)a->seed + 1000u * (uint64_t)lm_ddp_rank(d));
    int rc = lm_cfg_load(&cfg, config, a->over, a->n_over);
    if (!rc) rc = lm_step_setup_create(&s, cfg, LT_CPU, LM_PL_RANDOM_IF_MISSING);
    if (!rc) rc = lm_step_setup_join(s, d, !a->no_sync);
    if (!rc) {
        lt_scope_push();
        rc = !strcmp(a->mode, "syncbn") ? run_syncbn(a, d, s) : !strcmp(a->mode, "grads") ? run_grads(a, d, s)
                                                                                          : run_steps(a, d, s);
        lt_scope_pop();
    }
    lm_step_setup_free(s);
    lm_cfg_free(cfg);
    return rc;
}

static int run(int argc, char **argv) {
    if (lm_cmd_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return 0;
    }
    lm_launch_opts lo;
    if (lm_launch_take_args(&lo, &argc, argv) < 0) return lm_cmd_fail("ddp-check");
    if (lo.nproc_per_node > 0) /* argv[0] is "ddp-check": the workers run `lamac ddp-check ...` */
        return lm_launch_workers(&lo, argc, argv, NULL) < 0 ? (lm_cmd_fail("ddp-check"), lm_launch_exit_code()) : 0;
    args a;
    if (parse(&a, argc, argv) < 0) return lm_cmd_fail("ddp-check");
    lt_set_num_threads(a.threads > 0 ? a.threads : 1);
    lt_device dev;
    lm_ddp *d = NULL;
    int rc = lm_device_open(&dev, &d, "cpu");
    if (!rc) rc = !strcmp(a.mode, "collectives") ? check_collectives(d)
                 : !strcmp(a.mode, "allreduce")  ? time_allreduce(&a, d)
                                                 : run_model(&a, d);
    lm_ddp_free(d);
    return rc < 0 ? lm_cmd_fail("ddp-check") : 0;
}

const lm_command lm_cmd_ddpcheck = {"ddp-check", "data-parallel self-checks: collectives, steps, gradients", run};
