/* cmd_bench.c — `lamac bench <what>`: benchmarks that print figures (never pass/fail).
 * `lamac bench loader [CONFIG [key=value ...]]`: training loader throughput (samples/s) and
 * memory (peak RSS, RSS over time), at 1 and 2 threads by default, for a training config's
 * data.train section (out_size, transform_variant, batch size, mask_gen_kwargs, through
 * config/data_opts.h) or, without one, the official recipe of abl-04-256-mh-dist.yaml
 * (256 crops, `distortions`, training masks, batch 10).
 * `lamac bench eval`: images/s of SSIM, LPIPS (vgg16) and the FID Inception at 256x256.
 * `lamac bench step CONFIG [key=value ...]`: seconds per training iteration (train/step.h) and
 * peak RSS for a training config, on random inputs and random weights, with a profile. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "model/lt_err.h"
#include "core/memstat.h"
#include "core/flags.h"
#include "data/loader.h"
#include "data/shards.h"
#include "eval/lpips.h"
#include "eval/metrics.h"
#include "model/inception.h"
#include "train/ddp.h"
#include "masks/mask.h"
#include "cli/command.h"
#include "cli/launch_args.h"
#include "config/config.h"
#include "config/data_opts.h"
#include "config/fill.h"
#include "run/batch.h"
#include "run/device.h"
#include "run/step_setup.h"

static const char *const USAGE =
    "usage: lamac bench loader [CONFIG [key=value ...]] [--shards DIR] [--variant NAME]\n"
    "                          [--threads N] [--batches K] [--batch-size B] [--size S]\n"
    "                          [--masks PRESET] [--prefetch P]\n\n"
    "Measures the training loader: samples/s and memory (peak RSS = VmHWM, and RSS every few\n"
    "batches, to show it stays flat). Without --shards it synthesises 200 textured 512x512\n"
    "images into a temporary shard set first (removed at the end).\n"
    "  CONFIG      a training experiment (e.g. configs/training/lama-fourier.yaml): its\n"
    "              data.train out_size, transform_variant, dataloader_kwargs.batch_size and\n"
    "              mask_gen_kwargs are used; key=value overrides as in `lamac config show`.\n"
    "              Flags given as well win over the config.\n"
    "  --variant   transform_variant (default distortions)\n"
    "  --threads   loader threads; default: run with 1 and then 2\n"
    "  --batches   batches to time per run (default 60; 2 warm-up batches are not timed)\n"
    "  --batch-size (default 10), --size crop side (default 256), --masks mask preset\n"
    "              (default train), --prefetch ring depth (default 2)\n";


static int synth(const char *dir, int n, int size) {
    lm_shard_writer *w;
    int rc = lm_shard_writer_open(&w, dir, 100, 1);
    if (rc < 0) return rc;
    lm_image im;
    if ((rc = lm_image_alloc(&im, size, size, 3)) < 0) goto cleanup;
    for (int k = 0; k < n && rc == 0; k++) { /* periodic textures with a per-image phase */
        double fx = 0.02 + 0.003 * (k % 17), fy = 0.015 + 0.002 * (k % 13);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                uint8_t *p = im.data + ((size_t)y * size + x) * 3;
                unsigned h = (unsigned)(x * 73856093u ^ y * 19349663u ^ k * 83492791u);
                p[0] = (uint8_t)(((x * 7 + k) & 63) * 2 + ((y / 16 + k) % 2) * 100);
                p[1] = (uint8_t)(((x * y) >> 5) + (int)(fx * 1000) + k);
                p[2] = (uint8_t)((h >> 24) / 4 + (int)(60 * fy * y) % 192);
            }
        char name[32];
        snprintf(name, sizeof name, "synthetic/%04d.png", k);
        rc = lm_shard_writer_add(w, &im, name);
    }
    if (rc == 0) rc = lm_shard_writer_finish(w, NULL, NULL);
cleanup:
    lm_image_free(&im);
    lm_shard_writer_free(w);
    return rc;
}

static int bench_run(const lm_loader_opts *o, int batches) {
    lm_loader *l;
    if (lm_loader_open(&l, o) < 0) return -1;
    const lm_batch *b;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) rc = lm_loader_next(&b, l); /* warm-up */
    double t0 = lm_clock_now(), c0 = lm_clock_cpu();
    printf("  RSS (MiB) every %d batches:", batches / 6 > 0 ? batches / 6 : 1);
    double sum = 0;
    for (int i = 0; i < batches && rc == 0; i++) {
        if ((rc = lm_loader_next(&b, l)) < 0) break;
        sum += b->img[0] + b->mask[b->n * b->h * b->w - 1]; /* touch the data */
        if (i % (batches / 6 > 0 ? batches / 6 : 1) == 0) printf(" %.0f", lm_memstat_kb("VmRSS") / 1024.0);
    }
    double dt = lm_clock_now() - t0, cpu = lm_clock_cpu() - c0;
    int ns = batches * o->batch_size;
    printf("\n");
    if (rc == 0)
        printf("  threads %d: %d samples in %.2f s -> %.1f samples/s; CPU %.2f ms/sample (%.0f samples/s per "
               "free core); peak RSS %.0f MiB%s\n",
               o->threads, ns, dt, ns / dt, 1e3 * cpu / ns, ns / cpu, lm_memstat_kb("VmHWM") / 1024.0, sum < 0 ? "!" : "");
    lm_loader_close(l);
    return rc;
}

typedef struct loader_args {
    const char *shards, *variant, *preset, *config;
    const char *overrides[64];
    int n_over, threads, batches, bs, size, prefetch;
} loader_args;

/* 0 to go on, or the exit status to end with (0 after --help, 2 on a usage error, printed). */
static int parse_loader(loader_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->threads = -1, a->batches = 60, a->prefetch = 2;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            fputs(USAGE, stdout);
            return -1;
        }
        if (strncmp(k, "--", 2)) { /* CONFIG, then its overrides */
            if (!a->config && !strchr(k, '=')) {
                a->config = k;
            } else if (a->config && a->n_over < (int)(sizeof a->overrides / sizeof *a->overrides)) {
                a->overrides[a->n_over++] = k;
            } else {
                fprintf(stderr, "lamac bench loader: unexpected argument %s (overrides follow a CONFIG)\n%s", k,
                        USAGE);
                return 2;
            }
            continue;
        }
        if (!v) {
            fprintf(stderr, "lamac bench loader: %s needs a value\n", k);
            return 2;
        }
        i++;
        if (!strcmp(k, "--shards")) a->shards = v;
        else if (!strcmp(k, "--variant")) a->variant = v;
        else if (!strcmp(k, "--masks")) a->preset = v;
        else if (!strcmp(k, "--threads") || !strcmp(k, "--batches") || !strcmp(k, "--batch-size") ||
                 !strcmp(k, "--size") || !strcmp(k, "--prefetch")) {
            int *dst = !strcmp(k, "--threads") ? &a->threads : !strcmp(k, "--batches") ? &a->batches
                     : !strcmp(k, "--batch-size") ? &a->bs : !strcmp(k, "--size") ? &a->size : &a->prefetch;
            if (lm_flag_int(k, v, 0, 1 << 30, dst) < 0) {
                fprintf(stderr, "lamac bench loader: %s\n", lm_err_msg());
                return 2;
            }
        } else {
            fprintf(stderr, "lamac bench loader: unknown option %s\n%s", k, USAGE);
            return 2;
        }
    }
    if (a->batches < 1) a->batches = 1;
    return 0;
}

/* The loader options: data.train of CONFIG (or the official recipe's defaults and the train
 * masks), then the flags. Shards not set yet. */
static int loader_opts(lm_loader_opts *o, lm_mask_cfg *mask, const loader_args *a) {
    if (a->config) { /* data.train of the experiment; the flags below override it */
        lm_cfg *cfg = NULL;
        int rc = lm_cfg_load(&cfg, a->config, a->overrides, a->n_over);
        if (!rc) rc = lm_loader_opts_from_cfg(o, mask, cfg);
        lm_cfg_free(cfg); /* o->shard_dir borrowed from it: not used here (--shards or synthetic) */
        o->shard_dir = NULL;
        if (rc < 0) return rc;
    } else {
        lm_cfg_defaults(o, LM_OPTS_LOADER); /* out 256, batch 10 */
        o->variant = LM_AUG_DISTORTIONS;     /* the recipe's transform_variant */
        if (lm_mask_preset(mask, "train") < 0) return LM_EINVAL;
    }
    if (a->preset && lm_mask_preset(mask, a->preset) < 0) return LM_EINVAL;
    if (a->variant && lm_aug_variant_parse(&o->variant, a->variant) < 0) return LM_EINVAL;
    if (a->bs > 0) o->batch_size = a->bs;
    if (a->size > 0) o->out_size = a->size;
    o->mask = mask;
    o->prefetch = a->prefetch;
    o->seed = 1;
    return 0;
}

/* 200 synthetic 512x512 images in a fresh temporary directory (tmp, at least 64 bytes). */
static int temp_shards(char *tmp, size_t cap) {
    snprintf(tmp, cap, "/tmp/lamac_bench_shards_XXXXXX");
    if (!mkdtemp(tmp)) {
        tmp[0] = 0;
        return lm_err_code(LM_EIO, "bench: cannot create a temporary directory");
    }
    double t0 = lm_clock_now();
    if (synth(tmp, 200, 512) < 0) return LM_EIO;
    printf("synthesised 200 512x512 images into %s in %.1f s\n", tmp, lm_clock_now() - t0);
    return 0;
}

static int bench_loader(int argc, char **argv) {
    loader_args a;
    int prc = parse_loader(&a, argc, argv);
    if (prc) return prc < 0 ? 0 : prc;
    lm_mask_cfg mask;
    lm_loader_opts o;
    if (loader_opts(&o, &mask, &a) < 0) return lm_cmd_fail("bench");
    char tmp[64] = "";
    if (!a.shards && temp_shards(tmp, sizeof tmp) < 0) return lm_cmd_fail("bench");
    o.shard_dir = a.shards ? a.shards : tmp;
    printf("loader: %s, variant %s, masks %s, %dx%d crops, batch %d, prefetch %d, %ld CPUs online\n", o.shard_dir,
           lm_aug_variant_name(o.variant), a.preset ? a.preset : a.config ? a.config : "train", o.out_size,
           o.out_size, o.batch_size, a.prefetch, sysconf(_SC_NPROCESSORS_ONLN));
    int rc = 0;
    for (int t = 1; t <= 2 && rc == 0; t++) { /* 1 and then 2 threads, or --threads */
        if (a.threads >= 0 && t > 1) break;
        o.threads = a.threads >= 0 ? a.threads : t;
        rc = bench_run(&o, a.batches);
    }
    if (tmp[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", tmp);
    }
    return rc < 0 ? lm_cmd_fail("bench") : 0;
}

/* ---- lamac bench eval: images/s of the evaluation metrics (eval/) at S x S ---------------- */

/* n images of SSIM + LPIPS one at a time, then the FID features of n_fid images in batches;
 * adds the seconds of each to t[0..2]. */
static int eval_pass(lm_lpips *lp, lm_inception *inc, int n, int n_fid, int size, int batch, double t[3]) {
    int64_t shp[4] = {1, 3, size, size};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        lt_scope_push();
        lt_tensor *a = lt_rand(shp, 4, LT_F32, LT_CPU), *b = lt_rand(shp, 4, LT_F32, LT_CPU);
        double t0 = lm_clock_now();
        lt_tensor *s = lm_ssim(a, b);
        if (s) lt_item(s);
        double t1 = lm_clock_now();
        lt_tensor *l = lm_lpips_forward(lp, a, b);
        if (l) lt_item(l);
        double t2 = lm_clock_now();
        if (!s || !l) rc = lm_err_lt("bench eval");
        t[0] += t1 - t0;
        t[1] += t2 - t1;
        lt_scope_pop();
    }
    for (int done = 0; done < n_fid && !rc; done += batch) {
        int q = n_fid - done < batch ? n_fid - done : batch;
        int64_t bs[4] = {q, 3, size, size};
        lt_scope_push();
        lt_tensor *a = lt_rand(bs, 4, LT_F32, LT_CPU), *b = lt_rand(bs, 4, LT_F32, LT_CPU);
        double t0 = lm_clock_now();
        lt_tensor *fa = lm_inception_features(inc, a, 1), *fb = lm_inception_features(inc, b, 1);
        if (!fa || !fb) rc = lm_err_lt("bench eval");
        else lt_item(lt_add(lt_sum(fa), lt_sum(fb)));
        t[2] += lm_clock_now() - t0;
        lt_scope_pop();
    }
    return rc;
}

static int bench_eval(int argc, char **argv) {
    int n = 16, size = 256, threads = 0, batch = 8, warmup = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: lamac bench eval [--images N=16] [--size S=256] [--batch B=8] [--threads T]\n"
                   "                        [--warmup W=1]\n\n"
                   "Images/s of SSIM and LPIPS (vgg16; one image at a time, as lamac eval runs them)\n"
                   "and of the FID Inception features (prediction + original, batches of B, resize to\n"
                   "299) on random S x S images, with random network weights (speed does not depend on\n"
                   "them), after W untimed pairs and W untimed FID batches of warm-up.\n"
                   "Prints figures; never passes or fails on time.\n");
            return 0;
        }
        if (i + 1 >= argc) {
            lm_err_code(LM_EINVAL, "%s needs a value", argv[i]);
            return lm_cmd_fail("bench eval");
        }
        int *dst = !strcmp(argv[i], "--images") ? &n : !strcmp(argv[i], "--size") ? &size
                 : !strcmp(argv[i], "--batch") ? &batch : !strcmp(argv[i], "--threads") ? &threads
                 : !strcmp(argv[i], "--warmup") ? &warmup : NULL;
        if (!dst) {
            lm_err_code(LM_EINVAL, "unknown option '%s'", argv[i]);
            return lm_cmd_fail("bench eval");
        }
        if (lm_flag_int(argv[i], argv[i + 1], 0, 1 << 20, dst) < 0) return lm_cmd_fail("bench eval");
        i++;
    }
    if (n < 1 || size < 16 || batch < 1) {
        lm_err_code(LM_EINVAL, "--images >= 1, --size >= 16, --batch >= 1");
        return lm_cmd_fail("bench eval");
    }
    if (threads > 0) lt_set_num_threads(threads);
    printf("bench eval: %d images %dx%d (after %d warm-up), %d libtorch threads; %s\n", n, size, size, warmup,
           lt_get_num_threads(), lt_backend_info());
    lm_lpips *lp = NULL;
    lm_inception *inc = NULL;
    if (lm_lpips_create(&lp, LM_LPIPS_VGG, LT_F32, LT_CPU) < 0 || lm_inception_create(&inc, LT_F32, LT_CPU) < 0) {
        lm_lpips_free(lp);
        return lm_cmd_fail("bench eval");
    }
    lt_manual_seed(1);
    lt_no_grad_push();
    lm_params *ps[2] = {lm_lpips_backbone(lp), lm_inception_params(inc)};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < ps[k]->n; i++)
            if (lt_type(ps[k]->items[i].t) == LT_F32) lt_uniform_(ps[k]->items[i].t, -0.05, 0.05);
    double t[3] = {0, 0, 0}, t_warm[3] = {0, 0, 0};
    /* untimed: W pairs and W full FID batches (as tests/ref/bench_official_eval.py) */
    int rc = warmup > 0 ? eval_pass(lp, inc, warmup, warmup * batch, size, batch, t_warm) : 0;
    if (!rc) rc = eval_pass(lp, inc, n, n, size, batch, t);
    double t_ssim = t[0], t_lpips = t[1], t_fid = t[2];
    lt_no_grad_pop();
    lm_lpips_free(lp);
    lm_inception_free(inc);
    if (rc < 0) return lm_cmd_fail("bench eval");
    printf("  ssim              %8.1f images/s\n", n / t_ssim);
    printf("  lpips (vgg16)     %8.1f images/s\n", n / t_lpips);
    printf("  fid features      %8.1f images/s (prediction + original per image, batch %d)\n", n / t_fid, batch);
    printf("  all three         %8.1f images/s\n", n / (t_ssim + t_lpips + t_fid));
    return 0;
}

/* ---- bench step ------------------------------------------------------------------------ */

static const char *const STEP_USAGE =
    "usage: lamac bench step [CONFIG [key=value ...]] [--iters N] [--warmup N] [--threads N]\n"
    "                        [--size S] [--batch-size B] [--device DEV] [--seed N] [--trace FILE]\n"
    "                        [--checks deferred|immediate]\n\n"
    "Times one training iteration (lamac step's official semantics: generator step with every\n"
    "loss of the config, discriminator step with R1) on random images and box masks, with\n"
    "randomly initialised networks; a pretrained network of the losses whose file is missing\n"
    "(ResNetPL, VGG) gets random weights, and the output says so. Prints the median seconds per\n"
    "iteration after the warm-up, the median of each part (profile), peak RSS (getrusage),\n"
    "on CUDA the peak of allocated GPU memory, threads, the libtorch/BLAS build in use and the\n"
    "speed switches in effect (trainer.tf32, trainer.channels_last, trainer.cuda_graph: give\n"
    "them as key=value, e.g. trainer.channels_last=true).\n"
    "  CONFIG         training config (default configs/training/lama-fourier.yaml); the batch\n"
    "                 size is its data.batch_size (e.g. data.batch_size=1)\n"
    "  --iters N      timed iterations (default 5)   --warmup N  untimed first ones (default 1)\n"
    "  --threads N    libtorch intra-op threads (default 2)\n"
    "  --size S       square crop side (default: the config's data.train.out_size, 256)\n"
    "  --batch-size B overrides data.batch_size   --device cpu|cuda[:N]   --seed N (default 0)\n"
    "  --nproc-per-node N [--nnodes M --node-rank R --master ADDR:PORT]\n"
    "                 data parallelism (train/ddp.h): starts N workers (torchrun semantics;\n"
    "                 default master 127.0.0.1:29500, port 0 = a free one), each with its own\n"
    "                 random batch of B samples and the gradient averaging of training; rank 0\n"
    "                 prints, adding samples/s over all ranks and the all-reduce time per\n"
    "                 iteration. Workers started by torchrun or srun (RANK, WORLD_SIZE, ... in\n"
    "                 the environment) do the same without the flag.\n"
    "  --trace FILE   one more iteration after the timed ones, recorded op by op by libtorch's\n"
    "                 profiler into FILE (Chrome trace JSON; bench/trace_ops.py sums it by op)\n"
    "  --checks MODE  deferred (default, as lamac train with trainer.on_nonfinite: stop): the\n"
    "                 iteration reads nothing from the device, the losses are read once after\n"
    "                 the timed iterations; immediate (lamac step, on_nonfinite: skip): every\n"
    "                 loss term is read and checked as it is computed (train/step.h)\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The BLAS libraries mapped into this process (/proc/self/maps), resolved through symlinks:
 * Debian's libtorch calls whatever libblas.so.3 the alternatives system selects. */
static void blas_in_use(char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[1024];
    size_t len = 0;
    while (fgets(line, sizeof line, f)) {
        char *path = strchr(line, '/');
        if (!path || (!strstr(path, "blas") && !strstr(path, "mkl"))) continue;
        path[strcspn(path, "\n")] = 0;
        char real[4096];
        const char *shown = realpath(path, real) ? real : path;
        if (strstr(out, shown)) continue;
        int n = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", shown);
        if (n < 0 || (size_t)n >= cap - len) break;
        len += (size_t)n;
    }
    fclose(f);
    if (!out[0]) snprintf(out, cap, "none mapped");
}

typedef struct step_args {
    const char *config, *device, *trace;
    const char *overrides[64];
    int n_over, iters, warmup, threads, size, bs, seed;
    int immediate; /* --checks immediate */
} step_args;

/* 0 to go on, or the exit status to end with (0 after --help, 2 on a usage error, printed). */
static int parse_step(step_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->device = "cpu", a->iters = 5, a->warmup = 1, a->threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            fputs(STEP_USAGE, stdout);
            return -1;
        }
        if (strncmp(k, "--", 2)) {
            if (!a->config && !strchr(k, '=')) a->config = k;
            else if (strchr(k, '=') && a->n_over < 64) a->overrides[a->n_over++] = k;
            else {
                fprintf(stderr, "lamac bench step: unexpected argument %s\n%s", k, STEP_USAGE);
                return 2;
            }
            continue;
        }
        if (!v) {
            fprintf(stderr, "lamac bench step: %s needs a value\n", k);
            return 2;
        }
        i++;
        if (!strcmp(k, "--device")) a->device = v;
        else if (!strcmp(k, "--trace")) a->trace = v;
        else if (!strcmp(k, "--checks")) {
            if (strcmp(v, "deferred") && strcmp(v, "immediate")) {
                fprintf(stderr, "lamac bench step: --checks %s: expected deferred or immediate\n", v);
                return 2;
            }
            a->immediate = !strcmp(v, "immediate");
        }
        else if (!strcmp(k, "--iters") || !strcmp(k, "--warmup") || !strcmp(k, "--threads") ||
                 !strcmp(k, "--size") || !strcmp(k, "--batch-size") || !strcmp(k, "--seed")) {
            int *dst = !strcmp(k, "--iters") ? &a->iters : !strcmp(k, "--warmup") ? &a->warmup
                     : !strcmp(k, "--threads") ? &a->threads : !strcmp(k, "--size") ? &a->size
                     : !strcmp(k, "--seed") ? &a->seed : &a->bs;
            if (lm_flag_int(k, v, 0, 1 << 30, dst) < 0) {
                fprintf(stderr, "lamac bench step: %s\n", lm_err_msg());
                return 2;
            }
        } else {
            fprintf(stderr, "lamac bench step: unknown option %s\n%s", k, STEP_USAGE);
            return 2;
        }
    }
    if (!a->config) a->config = LM_SOURCE_DIR "/configs/training/lama-fourier.yaml";
    if (a->iters < 1) a->iters = 1;
    return 0;
}

/* What one benchmark holds: the networks and step of the config, on every rank the same. */
typedef struct step_bench {
    lm_cfg *cfg;
    lm_step_setup *s;
    lm_ddp *ddp;
    lt_device dev;
    int world, rank;
    double build_s;
} step_bench;

static void close_step_bench(step_bench *b) {
    lm_step_setup_free(b->s);
    lm_cfg_free(b->cfg);
    lm_ddp_free(b->ddp);
}

/* The device and data-parallel group, the config (batch size and crop from it unless given),
 * the networks (random weights; perceptual losses random when their weights are missing),
 * broadcast from rank 0, with the DDP hooks. Ranks > 0 print nothing. */
static int open_step_bench(step_bench *b, step_args *a) {
    memset(b, 0, sizeof *b);
    if (a->threads > 0) lt_set_num_threads(a->threads);
    lt_manual_seed((uint64_t)a->seed);
    if (lm_device_open(&b->dev, &b->ddp, a->device) < 0) return LM_EINVAL;
    b->world = lm_ddp_world_size(b->ddp), b->rank = lm_ddp_rank(b->ddp);
    if (b->rank > 0 && !freopen("/dev/null", "w", stdout)) return lm_err_code(LM_EIO, "stdout: cannot silence rank %d", b->rank);
    int64_t v64 = 0;
    int rc = lm_cfg_load(&b->cfg, a->config, a->overrides, a->n_over);
    if (!rc && !a->bs) rc = lm_cfg_get_int(b->cfg, "data.batch_size", &v64), a->bs = (int)v64;
    if (!rc && !a->size) rc = lm_cfg_get_int(b->cfg, "data.train.out_size", &v64), a->size = (int)v64;
    double t0 = lm_clock_now();
    if (!rc) rc = lm_step_setup_create(&b->s, b->cfg, b->dev, LM_PL_RANDOM_IF_MISSING);
    if (!rc) rc = lm_step_setup_join(b->s, b->ddp, 1);
    b->build_s = lm_clock_now() - t0;
    if (!rc && b->world > 1) lt_manual_seed((uint64_t)a->seed + 1000u * (uint64_t)b->rank + 1u); /* every rank its own batch */
    return rc;
}

static void print_step_setup(const step_bench *b, const step_args *a) {
    const lm_step_setup *s = b->s;
    if (b->world > 1) {
        const lm_ddp_opts *o = lm_ddp_options(b->ddp);
        printf("data parallel: %d ranks (%s), Gloo over %s:%d, gradient buckets %.0f MB\n", b->world, o->source,
               o->master_addr, o->master_port, o->bucket_mb);
    }
    printf("bench step: %s", a->config);
    for (int i = 0; i < a->n_over; i++) printf(" %s", a->overrides[i]);
    printf("\ngenerator %s (%lld parameters), discriminator %s (%lld), built in %.1f s\n", s->gopts.kind,
           (long long)lm_params_numel(&s->gp, LM_PARAM), s->dopts.kind, (long long)lm_params_numel(&s->dp, LM_PARAM),
           b->build_s);
    printf("losses: l1 %g/%g, adversarial %s %g (gp %g), feature matching %g, perceptual (VGG) %g%s%s, "
           "resnet_pl %g%s%s%s\n", s->sopts.l1.weight_known, s->sopts.l1.weight_missing,
           s->sopts.adv.kind == LM_ADV_BCE ? "bce" : "r1", s->sopts.adv.weight, s->sopts.adv.gp_coef,
           s->sopts.fm.weight, s->lopts.perceptual.weight, s->vgg_pl ? " weights: " : "",
           s->vgg_pl ? lm_vgg_pl_source(s->vgg_pl) : "", s->lopts.resnet_pl.weight,
           s->resnet_pl ? " weights: " : "", s->resnet_pl ? lm_resnet_pl_source(s->resnet_pl) : "",
           s->resnet_pl ? (s->lopts.resnet_pl.bn_train ? " (BN in training mode)" : " (BN eval)") : "");
    char blas[2048];
    blas_in_use(blas, sizeof blas);
    printf("batch %d x 3 x %d x %d (random image, one box mask per sample), %d threads, device %s, precision %s\n"
           "backend: %s\nBLAS: %s\n", a->bs, a->size, a->size, lt_get_num_threads(), a->device,
           s->sopts.precision == LT_BF16 ? "bf16 (autocast, FFTs in float32)" : "32",
           lt_backend_info(), blas);
    char sw[512];
    lm_step_switches_describe(sw, sizeof sw, &s->sopts);
    printf("switches: %s\n", sw);
}

/* Per timed iteration: the total, the CPU time and the step's nine parts. */
typedef struct step_times {
    int n;
    double *tot, *cpu, *host, *parts[9]; /* host: lm_step_run's own wall time (queueing, on CUDA) */
    lm_ddp_stats st0; /* the all-reduce counters when timing began */
    int64_t reads_min, reads_max; /* host reads (lt_host_reads) per timed iteration */
} step_times;

static int step_times_alloc(step_times *t, int n) {
    memset(t, 0, sizeof *t);
    t->n = n;
    t->tot = calloc((size_t)n, sizeof *t->tot), t->cpu = calloc((size_t)n, sizeof *t->cpu);
    t->host = calloc((size_t)n, sizeof *t->host);
    int ok = t->tot && t->cpu && t->host;
    for (int k = 0; k < 9; k++) ok &= (t->parts[k] = calloc((size_t)n, sizeof(double))) != NULL;
    return ok ? 0 : lm_err_code(LM_ENOMEM, "bench step: out of memory");
}

static void step_times_free(step_times *t) {
    for (int k = 0; k < 9; k++) free(t->parts[k]);
    free(t->tot);
    free(t->cpu);
    free(t->host);
}

/* warmup untimed iterations, then t->n timed ones (each printed), then --trace's one more. */
static int time_steps(step_times *t, const step_bench *b, const step_args *a, lt_tensor *img, lt_tensor *mask) {
    int rc = 0;
    t->st0 = lm_ddp_get_stats(b->ddp);
    for (int it = 0; it < a->warmup + t->n && !rc; it++) {
        if (it == a->warmup) t->st0 = lm_ddp_get_stats(b->ddp);
        if (lt_synchronize(b->dev) < 0) rc = lm_err_lt("bench step: synchronize");
        double c0 = lm_clock_cpu(), w0 = lm_clock_now();
        int64_t r0 = lt_host_reads();
        if (!rc) rc = lm_step_run(NULL, b->s->step, img, mask);
        int64_t reads = lt_host_reads() - r0;
        /* the iteration ends when the device is done (CUDA queues it; CPU: no-op, not counted) */
        if (!rc && lt_synchronize(b->dev) < 0) rc = lm_err_lt("bench step: synchronize");
        double c1 = lm_clock_cpu(), w1 = lm_clock_now();
        if (rc || it < a->warmup) continue;
        if (it == a->warmup || reads < t->reads_min) t->reads_min = reads;
        if (it == a->warmup || reads > t->reads_max) t->reads_max = reads;
        const lm_step_times *st = lm_step_last_times(b->s->step);
        int j = it - a->warmup;
        t->tot[j] = w1 - w0;
        t->host[j] = st->total;
        t->cpu[j] = c1 - c0;
        double v[9] = {st->g_fwd, st->g_losses, st->pl_fwd, st->g_bwd, st->g_opt, st->d_gfwd, st->d_fwd, st->d_bwd, st->d_opt};
        for (int k = 0; k < 9; k++) t->parts[k][j] = v[k];
        printf("  iteration %d: %.3f s (CPU %.3f s)\n", j + 1, w1 - w0, c1 - c0);
        fflush(stdout);
    }
    if (!rc && !a->immediate) { /* the deferred checks of the timed iterations, read once */
        lm_step_losses L;
        rc = lm_step_read(b->s->step, &L);
        if (!rc) printf("last iteration: gen_total %.6g, discr_adv %.6g (read once, after the timed iterations)\n",
                        lm_step_losses_get(&L, "gen_total"), lm_step_losses_get(&L, "discr_adv"));
    }
    if (!rc && a->trace) {
        if (lt_profile_begin(a->trace) < 0) rc = lm_err_lt("bench step: --trace");
        if (!rc) rc = lm_step_run(NULL, b->s->step, img, mask);
        if (lt_profile_end() < 0 && !rc) rc = lm_err_lt("bench step: --trace %s", a->trace);
        if (!rc) printf("trace of one more iteration written to %s\n", a->trace);
    }
    return rc;
}

static void print_step_times(step_times *t, const step_bench *b, const step_args *a, const char *load0) {
    int iters = t->n;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double med = median(t->tot, iters), lo = t->tot[0], hi = t->tot[iters - 1];
    printf("seconds per iteration: median %.3f (min %.3f, max %.3f over %d, after %d warm-up)\n", med, lo, hi,
           iters, a->warmup);
    double cmed = median(t->cpu, iters);
    printf("CPU seconds per iteration: median %.3f (/ %d threads = %.3f s: the wall time if the process "
           "had its cores to itself)\n", cmed, lt_get_num_threads(), cmed / lt_get_num_threads());
    if (b->dev >= LT_CUDA)
        printf("host seconds per iteration: median %.3f (lm_step_run returning, before the device is done: the "
               "host's share; near the wall time, the host is the limit)\n", median(t->host, iters));
    printf("load average at start: %s (other processes share the cores)\n", load0);
    printf("peak RSS: %.0f MiB\n", ru.ru_maxrss / 1024.0);
    int64_t gpu_peak = lt_cuda_peak_allocated(b->dev); /* torch.cuda.max_memory_allocated */
    if (gpu_peak >= 0) printf("GPU memory: peak allocated %.0f MiB (CUDA caching allocator, whole run)\n", gpu_peak / 1048576.0);
    else printf("GPU memory: n/a (%s)\n", b->dev < LT_CUDA ? "CPU device" : "no allocator statistics in this build");
    printf("host reads per iteration: %lld to %lld (%s checks; lt_item, lt_to_buffer, lt_all_finite, "
           "lt_synchronize: each waits for the device on CUDA)\n", (long long)t->reads_min, (long long)t->reads_max,
           a->immediate ? "immediate" : "deferred");
    printf("samples/s: %.3f (%d rank(s) x batch %d / median iteration)\n", b->world * a->bs / med, b->world, a->bs);
    if (b->world > 1) {
        lm_ddp_stats st1 = lm_ddp_get_stats(b->ddp), st0 = t->st0;
        printf("rank 0, per iteration (mean): gradient all-reduce %.3f s for %.1f M values (G + D, %ld calls), "
               "buffer broadcast %.3f s; included in the profile's backward and forward parts\n",
               (st1.grad_seconds - st0.grad_seconds) / iters, (st1.grad_bytes - st0.grad_bytes) / 4e6 / iters,
               (st1.grad_calls - st0.grad_calls) / iters, (st1.buffer_seconds - st0.buffer_seconds) / iters);
    }
    static const char *const names[9] = {
        "G forward (generator step)", "losses incl. 2 D forwards + perceptual", "  of which perceptual forwards",
        "G backward (incl. D and perceptual backward)", "G clip + Adam", "G forward again (discriminator step)",
        "D forwards + loss incl. R1 gradient", "D backward (double backward of R1)", "D clip + Adam"};
    printf("profile (median seconds):\n");
    for (int k = 0; k < 9; k++) printf("  %-46s %.3f\n", names[k], median(t->parts[k], iters));
}

/* The first line of /proc/loadavg ("?" when it cannot be read). */
static void load_average(char *out, size_t cap) {
    snprintf(out, cap, "?");
    FILE *la = fopen("/proc/loadavg", "r");
    if (!la) return;
    if (!fgets(out, (int)cap, la)) snprintf(out, cap, "?");
    out[strcspn(out, "\n")] = 0;
    fclose(la);
}

static int bench_step(int argc, char **argv) {
    lm_launch_opts lo;
    if (lm_launch_take_args(&lo, &argc, argv) < 0) return lm_cmd_fail("bench step");
    if (lo.nproc_per_node > 0) /* the workers run `lamac bench step ...` without the flags */
        return lm_launch_workers(&lo, argc, argv, "bench") < 0 ? (lm_cmd_fail("bench step"), lm_launch_exit_code()) : 0;
    step_args a;
    int prc = parse_step(&a, argc, argv);
    if (prc) return prc < 0 ? 0 : prc;
    step_bench b;
    if (open_step_bench(&b, &a) < 0) {
        close_step_bench(&b);
        return lm_cmd_fail("bench step");
    }
    print_step_setup(&b, &a);
    lm_step_set_deferred(b.s->step, !a.immediate);
    step_times t;
    char load0[64];
    int rc = step_times_alloc(&t, a.iters);
    load_average(load0, sizeof load0);
    lt_scope_push();
    lt_tensor *img = NULL, *mask = NULL;
    if (!rc) rc = lm_batch_random_fixed_boxes(&img, &mask, a.bs, a.size, b.dev);
    if (!rc) rc = time_steps(&t, &b, &a, img, mask);
    lt_scope_pop();
    if (!rc) print_step_times(&t, &b, &a, load0);
    step_times_free(&t);
    close_step_bench(&b);
    return rc < 0 ? lm_cmd_fail("bench step") : 0;
}

typedef struct {
    const char *name, *summary;
    int (*run)(int, char **);
} bench_entry;

static const bench_entry g_benches[] = {
    {"loader", "training data loader: samples/s, peak and running RSS", bench_loader},
    {"eval", "evaluation metrics: images/s of SSIM, LPIPS, FID features", bench_eval},
    {"step", "one training iteration: s/iter, profile, peak RSS", bench_step},
    {NULL, NULL, NULL}};

static int cmd_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: lamac bench <what> [options]   (lamac bench <what> --help)\n\n");
        for (int i = 0; g_benches[i].name; i++) fprintf(f, "  %-8s %s\n", g_benches[i].name, g_benches[i].summary);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; g_benches[i].name; i++)
        if (!strcmp(argv[1], g_benches[i].name)) return g_benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lamac bench: unknown benchmark '%s'\n", argv[1]);
    return 2;
}

const lm_command lm_cmd_bench = {"bench", "benchmarks that print figures (loader, eval, step)", cmd_bench};
