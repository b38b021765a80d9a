/* cmd_predict.c — `lamac predict`: inpaint one image, or a folder in the official layout, with
 * a trained generator (official bin/predict.py with configs/prediction/default.yaml: dataset
 * kind default, img_suffix .png, pad_out_to_modulo 8, out_key inpainted). The numerics are in
 * eval/predict.c, the model loading in run/predictor.c. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/flags.h"
#include "core/path.h"
#include "data/image.h"
#include "data/valset.h"
#include "eval/predict.h"
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
        "  --pad-multiple N    pad to a multiple of N (default 8; the generator needs 2^n_down)\n"
        "  --device DEV        cpu (default), cuda or cuda:N\n"
        "  --threads N         libtorch intra-op threads (default: one per CPU, OMP_NUM_THREADS if set)\n"
        "  --precision P       32 (default, the official numerics), 64 (weights and forward in\n"
        "                      float64: the parity checks) or bf16: the generator under\n"
        "                      autocast to bfloat16, FFTs in float32 (trainer.precision: bf16)\n"
        "  --quiet             no progress lines\n\n"
        "A mask with no nonzero pixel gives a copy of the image (with a warning). Exit status:\n"
        "0 all written, 1 an error (every failed image is named on stderr).\n");
}

typedef struct args {
    const char *model, *config, *image, *mask, *out, *indir, *outdir, *device, *img_suffix, *precision;
    int pad, threads, quiet;
} args;

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Reads image and mask, checks sizes, predicts, writes out. */
static int predict_one(lm_predictor *pr, const char *image, const char *mask, const char *out,
                       const lm_predict_opts *po, int quiet) {
    lm_image img = {0}, msk = {0}, res = {0};
    int rc = lm_image_read(&img, image, 3);
    if (rc < 0) goto cleanup;
    if ((rc = lm_image_read(&msk, mask, 1)) < 0) goto cleanup;
    if (img.w != msk.w || img.h != msk.h) {
        rc = lm_err_code(LM_EINVAL, "image %s is %dx%d but mask %s is %dx%d", image, img.w, img.h,
                         mask, msk.w, msk.h);
        goto cleanup;
    }
    if ((rc = lm_image_alloc(&res, img.w, img.h, 3)) < 0) goto cleanup;
    size_t n = (size_t)img.w * img.h, holes = 0;
    for (size_t i = 0; i < n; i++) holes += msk.data[i] != 0;
    if (!holes) {
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
static int run_dir(lm_predictor *pr, const args *a, const lm_predict_opts *po) {
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
        if (predict_one(pr, lm_valset_image_path(vs, i), m, out, po, a->quiet) < 0) {
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
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char **dst = NULL;
        if (!strcmp(k, "--quiet")) { a->quiet = 1; continue; }
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
        else if (!strcmp(k, "--pad-multiple") || !strcmp(k, "--threads")) {
            if (lm_flag_int(k, v, 1, 4096, k[2] == 'p' ? &a->pad : &a->threads) < 0) return LM_EINVAL;
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
    if (a.threads > 0) lt_set_num_threads(a.threads);
    double t0 = lm_clock_now();
    lm_predictor *pr = NULL;
    if (lm_predictor_open(&pr, a.model, a.config, po.device, po.precision == LT_F64 ? LT_F64 : LT_F32, stderr) < 0) return lm_cmd_fail("predict");
    if (!a.quiet)
        fprintf(stderr, "lamac predict: %s generator (%lld parameters) from %s [%s], config from %s "
                "(%.2f s)\n", pr->opts.kind, (long long)lm_params_numel(&pr->params, LM_PARAM),
                pr->weights_path, pr->weights_kind, pr->config_from, lm_clock_now() - t0);
    int rc;
    if (a.indir) {
        rc = run_dir(pr, &a, &po);
    } else {
        double t = lm_clock_now();
        rc = predict_one(pr, a.image, a.mask, a.out, &po, a.quiet);
        if (!rc && !a.quiet) fprintf(stderr, "lamac predict: wrote %s (%.2f s)\n", a.out, lm_clock_now() - t);
    }
    lm_predictor_close(pr);
    return rc < 0 ? lm_cmd_fail("predict") : 0;
}

const lm_command lm_cmd_predict = {"predict", "inpaint images with a trained generator", run};
