/* cmd_predict.c — `lamac predict`: inpaint one image, or a folder in the official layout, with
 * a trained generator (official bin/predict.py with configs/prediction/default.yaml: dataset
 * kind default, img_suffix .png, pad_out_to_modulo 8, out_key inpainted). The numerics are in
 * eval/predict.c, the model loading in run/predictor.c. --refine runs the official Big-LaMa
 * feature refinement instead (eval/refine.c; bin/predict.py with refine=True, the knobs of
 * configs/prediction/default.yaml `refiner:`, readable from such a file with --predict-config). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/flags.h"
#include "core/path.h"
#include "data/image.h"
#include "data/valset.h"
#include "config/config.h"
#include "eval/predict.h"
#include "eval/refine.h"
#include "cli/command.h"
#include "run/device.h"
#include "run/predictor.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac predict --model PATH --image IMG --mask MASK --out OUT.png [options]\n"
        "       lamac predict --model PATH --indir DIR --outdir DIR [options]\n\n"
        "Inpaints the masked parts of images with a trained generator, as the official\n"
        "bin/predict.py: image RGB / 255, mask grey / 255 > 0 (nonzero = hole), both padded\n"
        "bottom/right to a multiple of --pad-multiple by mirroring (numpy 'symmetric'),\n"
        "inpainted = mask * G(image * (1 - mask), mask) + (1 - mask) * image, cropped back,\n"
        "written as 8-bit PNG (x * 255 truncated).\n\n"
        "  --model PATH        a weights file (lamac .safetensors, PyTorch .pth/.ckpt), a lamac\n"
        "                      run directory, or an official model directory\n"
        "                      (PATH/config.yaml + PATH/models/best.ckpt, e.g. big-lama)\n"
        "  --config FILE       the training config (its `generator:` group is used); needed only\n"
        "                      when the weights carry none and no config.yaml lies beside them\n"
        "  --image IMG --mask MASK --out OUT.png   one image (PNG or JPEG; any channel count)\n"
        "  --indir DIR --outdir DIR   every DIR/**/*mask*.png with its image NAME.png (NAME =\n"
        "                      the mask name up to its last '_mask'); each result is written to\n"
        "                      OUTDIR/<mask path relative to DIR>.png, as bin/predict.py does\n"
        "  --img-suffix EXT    image suffix for --indir (default .png; official img_suffix)\n"
        "  --pad-multiple N    pad to a multiple of N (default 8; the generator needs 2^n_down);\n"
        "                      with --refine also refiner.modulo\n"
        "  --device DEV        cpu (default), cuda or cuda:N\n"
        "  --threads N         libtorch intra-op threads (default: one per CPU, OMP_NUM_THREADS if set)\n"
        "  --precision P       32 (default, the official numerics), 64 (weights and forward in\n"
        "                      float64: the parity checks) or bf16: the generator under\n"
        "                      autocast to bfloat16, FFTs in float32 (trainer.precision: bf16)\n"
        "  --quiet             no progress lines\n\n"
        "Refinement (official saicinpainting/evaluation/refinement.py, bin/predict.py refine=True;\n"
        "ffc_resnet generators such as big-lama only; CPU or CUDA, precision 32 or 64):\n"
        "  --refine            optimise the generator's bottleneck features per pyramid level so the\n"
        "                      result agrees with the known pixels and with the coarser level's\n"
        "                      result (sharper large holes on big images; slow: see docs/predict.md)\n"
        "  --refine-iters N    refiner.n_iters: forwards per refined level (default 15)\n"
        "  --refine-lr X       refiner.lr: Adam's learning rate (default 0.002)\n"
        "  --refine-min-side N refiner.min_side (default 512): levels = min(1 + round(log2(\n"
        "                      smaller side / N)), max_scales); one level = the plain forward\n"
        "  --refine-max-scales N  refiner.max_scales (default 3)\n"
        "  --refine-px-budget X   refiner.px_budget (default 1800000): a bigger image is resized\n"
        "                      down to fit first, and the result keeps that size (as official)\n"
        "  --refine-checkpoint on|off  recompute the rear blocks in backward (on, the default:\n"
        "                      bounded memory) or keep the whole graph (off, as the official code)\n"
        "  --predict-config FILE  an official prediction config (configs/prediction/*.yaml): its\n"
        "                      refine, refiner.n_iters, refiner.lr, refiner.min_side,\n"
        "                      refiner.max_scales, refiner.px_budget and refiner.modulo; flags win\n\n"
        "A mask with no nonzero pixel gives a copy of the image (with a warning; with --refine\n"
        "over the pixel budget, the refiner runs and gives the resized image). Exit status:\n"
        "0 all written, 1 an error (every failed image is named on stderr).\n");
}

typedef struct args {
    const char *model, *config, *image, *mask, *out, *indir, *outdir, *device, *img_suffix, *precision;
    int pad, threads, quiet;
    /* refinement: the flags given (-1 / NAN: not given), the predict config */
    const char *predict_config, *checkpoint;
    int refine, iters, min_side, max_scales, pad_given;
    double lr, px_budget;
} args;

/* What predict_one needs besides the plain options. */
typedef struct refine_ctx {
    int on;
    lm_refine_opts o;
    lt_dtype dtype;
} refine_ctx;

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Reads image and mask, checks sizes, predicts, writes out. */
static int predict_one(lm_predictor *pr, const char *image, const char *mask, const char *out,
                       const lm_predict_opts *po, const refine_ctx *rf, int quiet) {
    lm_image img = {0}, msk = {0}, res = {0};
    int rc = lm_image_read(&img, image, 3);
    if (rc < 0) goto cleanup;
    if ((rc = lm_image_read(&msk, mask, 1)) < 0) goto cleanup;
    if (img.w != msk.w || img.h != msk.h) {
        rc = lm_err_code(LM_EINVAL, "image %s is %dx%d but mask %s is %dx%d", image, img.w, img.h,
                         mask, msk.w, msk.h);
        goto cleanup;
    }
    size_t n = (size_t)img.w * img.h, holes = 0;
    for (size_t i = 0; i < n; i++) holes += msk.data[i] != 0;
    int rh = img.h, rw = img.w, resized = 0, levels = 1;
    if (rf->on && (rc = lm_refine_plan(&rf->o, img.h, img.w, &rh, &rw, &resized, &levels)) < 0) goto cleanup;
    if (rf->on && (holes || resized)) { /* the official refiner runs on an empty mask too */
        float *f = NULL;
        int ow, oh;
        if ((rc = lm_refine_image(&f, &ow, &oh, pr->gen, img.data, msk.data, img.w, img.h, po->device,
                                  rf->dtype, &rf->o)) < 0) {
            lm_err_prefix("%s", image);
            goto cleanup;
        }
        if ((rc = lm_image_alloc(&res, ow, oh, 3)) == 0) lm_predict_to_u8(res.data, f, (size_t)ow * oh * 3);
        free(f);
        if (rc < 0) goto cleanup;
    } else if ((rc = lm_image_alloc(&res, img.w, img.h, 3)) < 0) {
        goto cleanup;
    } else if (!holes) {
        /* the official blend gives the image back exactly (x / 255 * 255 round-trips in float32) */
        if (!quiet) fprintf(stderr, "lamac predict: warning: mask %s is empty; writing %s unchanged\n",
                            mask, image);
        memcpy(res.data, img.data, n * 3);
    } else if ((rc = lm_predict_image(res.data, pr->gen, img.data, msk.data, img.w, img.h, po)) < 0) {
        lm_err_prefix("%s", image);
        goto cleanup;
    }
    if ((rc = lm_path_mkparents(out)) < 0) {
        lm_err_prefix("output");
        goto cleanup;
    }
    rc = lm_image_write_png(out, &res);
cleanup:
    lm_image_free(&img);
    lm_image_free(&msk);
    lm_image_free(&res);
    return rc;
}

/* The official folder layout (data/valset.h: every *mask*.png under DIR, sorted, each with
 * its image NAME.png); each output goes to OUTDIR/<mask path relative to DIR>.png. */
static int run_dir(lm_predictor *pr, const args *a, const lm_predict_opts *po, const refine_ctx *rf) {
    char indir[4096];
    if (snprintf(indir, sizeof indir, "%s", a->indir) >= (int)sizeof indir)
        return lm_err_code(LM_EINVAL, "--indir: path too long (over %zu bytes): %s", sizeof indir - 1, a->indir);
    for (size_t l = strlen(indir); l > 1 && indir[l - 1] == '/'; l--) indir[l - 1] = 0;
    lm_valset *vs = NULL;
    int rc = lm_valset_open(&vs, indir, a->img_suffix), failed = 0;
    if (rc < 0) return lm_err_prefix("--indir");
    int64_t n = lm_valset_count(vs);
    size_t skip = strlen(indir) + (strcmp(indir, "/") ? 1 : 0);
    double t0 = lm_clock_now();
    for (int64_t i = 0; i < n; i++) {
        const char *m = lm_valset_mask_path(vs, i), *rel = m + skip;
        char out[8192];
        double t = lm_clock_now();
        if (snprintf(out, sizeof out, "%s%s%.*s.png", a->outdir, ends_with(a->outdir, "/") ? "" : "/",
                     (int)strlen(rel) - 4, rel) >= (int)sizeof out) { /* rel without ".png" */
            fprintf(stderr, "lamac predict: output path too long (over %zu bytes): %s/%s\n", sizeof out - 1,
                    a->outdir, rel);
            failed++;
            continue;
        }
        if (predict_one(pr, lm_valset_image_path(vs, i), m, out, po, rf, a->quiet) < 0) {
            fprintf(stderr, "lamac predict: %s\n", lm_err_msg());
            failed++;
            continue;
        }
        if (!a->quiet)
            fprintf(stderr, "[%lld/%lld] %s (%.2f s, %.1f s elapsed)\n", (long long)i + 1,
                    (long long)n, rel, lm_clock_now() - t, lm_clock_now() - t0);
    }
    if (failed) rc = lm_err_code(LM_EFAIL, "%d of %lld images failed", failed, (long long)n);
    lm_valset_close(vs);
    return rc;
}

static int parse(args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->pad = 8;
    a->threads = 0;
    a->device = "cpu";
    a->img_suffix = ".png";
    a->precision = "32";
    a->refine = a->iters = a->min_side = a->max_scales = -1;
    a->lr = a->px_budget = NAN;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char **dst = NULL;
        if (!strcmp(k, "--quiet")) { a->quiet = 1; continue; }
        if (!strcmp(k, "--refine")) { a->refine = 1; continue; }
        if (i + 1 >= argc)
            return lm_err_code(LM_EINVAL, "%s needs a value (see lamac predict --help)", k);
        const char *v = argv[++i];
        if (!strcmp(k, "--model")) dst = &a->model;
        else if (!strcmp(k, "--config")) dst = &a->config;
        else if (!strcmp(k, "--image")) dst = &a->image;
        else if (!strcmp(k, "--mask")) dst = &a->mask;
        else if (!strcmp(k, "--out")) dst = &a->out;
        else if (!strcmp(k, "--indir")) dst = &a->indir;
        else if (!strcmp(k, "--outdir")) dst = &a->outdir;
        else if (!strcmp(k, "--device")) dst = &a->device;
        else if (!strcmp(k, "--img-suffix")) dst = &a->img_suffix;
        else if (!strcmp(k, "--precision")) dst = &a->precision;
        else if (!strcmp(k, "--predict-config")) dst = &a->predict_config;
        else if (!strcmp(k, "--refine-checkpoint")) dst = &a->checkpoint;
        else if (!strcmp(k, "--refine-iters") || !strcmp(k, "--refine-min-side") ||
                 !strcmp(k, "--refine-max-scales")) {
            int *o = k[9] == 'i' ? &a->iters : k[10] == 'i' ? &a->min_side : &a->max_scales;
            if (lm_flag_int(k, v, 1, 1 << 20, o) < 0) return LM_EINVAL;
            continue;
        } else if (!strcmp(k, "--refine-lr") || !strcmp(k, "--refine-px-budget")) {
            char *end = NULL;
            double x = strtod(v, &end);
            if (!*v || *end || !isfinite(x) || x <= 0)
                return lm_err_code(LM_EINVAL, "%s: expected a positive number, got '%s'", k, v);
            *(k[9] == 'l' ? &a->lr : &a->px_budget) = x;
            continue;
        }
        else if (!strcmp(k, "--pad-multiple") || !strcmp(k, "--threads")) {
            if (lm_flag_int(k, v, 1, 4096, k[2] == 'p' ? &a->pad : &a->threads) < 0) return LM_EINVAL;
            if (k[2] == 'p') a->pad_given = 1;
            continue;
        } else
            return lm_err_code(LM_EINVAL, "unknown option '%s' (see lamac predict --help)", k);
        *dst = v;
    }
    if (!a->model) return lm_err_code(LM_EINVAL, "--model is required (see lamac predict --help)");
    if (strcmp(a->precision, "32") && strcmp(a->precision, "64") && strcmp(a->precision, "bf16") &&
        strcmp(a->precision, "bf16-mixed"))
        return lm_err_code(LM_EINVAL, "--precision %s: expected 32, 64 or bf16%s", a->precision,
                           !strcmp(a->precision, "16") ? " (fp16 not supported, use bf16)" : "");
    int one = a->image || a->mask || a->out, dir = a->indir || a->outdir;
    if (one == dir)
        return lm_err_code(LM_EINVAL, "give either --image/--mask/--out or --indir/--outdir");
    if (one && !(a->image && a->mask && a->out))
        return lm_err_code(LM_EINVAL, "--image, --mask and --out go together");
    if (dir && !(a->indir && a->outdir))
        return lm_err_code(LM_EINVAL, "--indir and --outdir go together");
    if (a->checkpoint && strcmp(a->checkpoint, "on") && strcmp(a->checkpoint, "off"))
        return lm_err_code(LM_EINVAL, "--refine-checkpoint %s: expected on or off", a->checkpoint);
    return 0;
}

/* The node at path of a prediction config, following a whole-value `${other.path}`
 * interpolation within the file (refiner.modulo: ${dataset.pad_out_to_modulo}). */
static const lm_cfg_node *pc_find(const lm_cfg_node *root, const char *path) {
    const lm_cfg_node *n = lm_cfg_node_find(root, path);
    for (int hops = 0; n && n->kind == LM_CFG_SCALAR && n->text && !n->quoted && hops < 8; hops++) {
        size_t l = strlen(n->text);
        if (l < 4 || strncmp(n->text, "${", 2) || n->text[l - 1] != '}') break;
        char ref[256];
        if (l - 3 >= sizeof ref) break;
        memcpy(ref, n->text + 2, l - 3);
        ref[l - 3] = 0;
        n = lm_cfg_node_find(root, ref);
    }
    return n;
}

static int pc_number(const lm_cfg_node *root, const char *file, const char *path, int integer, double *out,
                     int *found) {
    const lm_cfg_node *n = pc_find(root, path);
    *found = 0;
    if (!n) return 0;
    lm_cfg_stype t = n->kind == LM_CFG_SCALAR ? lm_cfg_scalar_type(n) : LM_CFG_STR;
    int64_t iv;
    if (t == LM_CFG_INT && lm_cfg_scalar_int(n->text, &iv) == 0) *out = (double)iv;
    else if (!integer && t == LM_CFG_FLOAT && lm_cfg_scalar_float(n->text, out) == 0) {
    } else
        return lm_err_code(LM_EINVAL, "--predict-config %s:%d: %s: expected %s, got '%s'", file, n->line,
                           path, integer ? "an integer" : "a number", n->text ? n->text : "(a mapping)");
    if (!(*out > 0) || (integer && *out > (1 << 30)))
        return lm_err_code(LM_EINVAL, "--predict-config %s:%d: %s: %s is out of range (> 0)", file, n->line,
                           path, n->text);
    *found = 1;
    return 0;
}

/* Reads the official prediction config's refine / refiner.* into *on and *o. */
static int read_predict_config(const char *file, int *on, lm_refine_opts *o) {
    lm_cfg_node *root = NULL;
    int rc = lm_cfg_tree_load(&root, file);
    if (rc < 0) return lm_err_prefix("--predict-config");
    const lm_cfg_node *r = pc_find(root, "refine");
    if (r) {
        int b;
        if (r->kind != LM_CFG_SCALAR || lm_cfg_scalar_type(r) != LM_CFG_BOOL || lm_cfg_scalar_bool(r->text, &b))
            rc = lm_err_code(LM_EINVAL, "--predict-config %s:%d: refine: expected true or false, got '%s'",
                             file, r->line, r->text ? r->text : "(a mapping)");
        else
            *on = b;
    }
    static const struct { const char *key; int integer; } keys[] = {
        {"refiner.n_iters", 1}, {"refiner.lr", 0}, {"refiner.min_side", 1},
        {"refiner.max_scales", 1}, {"refiner.px_budget", 0}, {"refiner.modulo", 1},
    };
    for (size_t i = 0; !rc && i < sizeof keys / sizeof keys[0]; i++) {
        double v;
        int found;
        rc = pc_number(root, file, keys[i].key, keys[i].integer, &v, &found);
        if (rc || !found) continue;
        switch (i) {
        case 0: o->n_iters = (int)v; break;
        case 1: o->lr = v; break;
        case 2: o->min_side = (int)v; break;
        case 3: o->max_scales = (int)v; break;
        case 4: o->px_budget = v; break;
        default: o->modulo = (int)v; break;
        }
    }
    lm_cfg_node_free(root);
    return rc;
}

/* The refiner's options: the official defaults, then --predict-config, then the flags. */
static int refine_setup(refine_ctx *rf, const args *a, const lm_predict_opts *po) {
    memset(rf, 0, sizeof *rf);
    rf->o = lm_refine_defaults();
    rf->o.modulo = a->pad; /* refiner.modulo: ${dataset.pad_out_to_modulo} */
    if (a->predict_config && read_predict_config(a->predict_config, &rf->on, &rf->o) < 0) return -1;
    if (a->refine > 0) rf->on = 1;
    if (a->iters > 0) rf->o.n_iters = a->iters;
    if (a->min_side > 0) rf->o.min_side = a->min_side;
    if (a->max_scales > 0) rf->o.max_scales = a->max_scales;
    if (!isnan(a->lr)) rf->o.lr = a->lr;
    if (!isnan(a->px_budget)) rf->o.px_budget = a->px_budget;
    if (a->checkpoint) rf->o.checkpoint = !strcmp(a->checkpoint, "on");
    if (a->pad_given) rf->o.modulo = a->pad;
    rf->o.log = a->quiet ? NULL : stderr;
    rf->dtype = po->precision == LT_F64 ? LT_F64 : LT_F32;
    if (rf->on && po->precision == LT_BF16)
        return lm_err_code(LM_EINVAL, "--refine: precision %s is not supported (32 or 64)", a->precision);
    int rh, rw, rs, n;
    if (rf->on && lm_refine_plan(&rf->o, 64, 64, &rh, &rw, &rs, &n) < 0) return lm_err_prefix("--refine");
    return 0;
}

static int run(int argc, char **argv) {
    if (lm_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    args a;
    if (parse(&a, argc, argv) < 0) return lm_cmd_fail("predict");
    lm_predict_opts po = lm_predict_defaults();
    po.pad_multiple = a.pad;
    po.precision = !strcmp(a.precision, "32") ? LT_F32 : !strcmp(a.precision, "64") ? LT_F64 : LT_BF16;
    if (lm_parse_device(&po.device, a.device) < 0) return lm_cmd_fail("predict");
    refine_ctx rf;
    if (refine_setup(&rf, &a, &po) < 0) return lm_cmd_fail("predict");
    if (a.threads > 0) lt_set_num_threads(a.threads);
    double t0 = lm_clock_now();
    lm_predictor *pr = NULL;
    if (lm_predictor_open(&pr, a.model, a.config, po.device, po.precision == LT_F64 ? LT_F64 : LT_F32, stderr) < 0) return lm_cmd_fail("predict");
    if (!a.quiet)
        fprintf(stderr, "lamac predict: %s generator (%lld parameters) from %s [%s], config from %s "
                "(%.2f s)\n", pr->opts.kind, (long long)lm_params_numel(&pr->params, LM_PARAM),
                pr->weights_path, pr->weights_kind, pr->config_from, lm_clock_now() - t0);
    int rc;
    if (rf.on && lm_generator_rear_blocks(pr->gen) < 0) { /* not ffc_resnet: before any image */
        lm_err_prefix("--refine");
        lm_predictor_close(pr);
        return lm_cmd_fail("predict");
    }
    if (rf.on && !a.quiet)
        fprintf(stderr, "lamac predict: refine: n_iters %d, lr %g, min_side %d, max_scales %d, px_budget %.0f, "
                "modulo %d, checkpointing %s\n", rf.o.n_iters, rf.o.lr, rf.o.min_side, rf.o.max_scales,
                rf.o.px_budget, rf.o.modulo, rf.o.checkpoint ? "on" : "off");
    if (a.indir) {
        rc = run_dir(pr, &a, &po, &rf);
    } else {
        double t = lm_clock_now();
        rc = predict_one(pr, a.image, a.mask, a.out, &po, &rf, a.quiet);
        if (!rc && !a.quiet) fprintf(stderr, "lamac predict: wrote %s (%.2f s)\n", a.out, lm_clock_now() - t);
    }
    lm_predictor_close(pr);
    return rc < 0 ? lm_cmd_fail("predict") : 0;
}

const lm_command lm_cmd_predict = {"predict", "inpaint images with a trained generator", run};
