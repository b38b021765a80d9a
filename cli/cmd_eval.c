/* cmd_eval.c — `lamac eval`: score precomputed predictions in the official
 * bin/evaluate_predicts.py layout (configs/eval2.yaml: img_suffix .png, inpainted_suffix .png)
 * and write metrics.json / metrics.csv / metrics.md / per_image.csv. The numerics are in
 * eval/ (metrics.c, bins.c, lpips.c, fid.c, evaluate.c, report.c). */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/command.h"
#include "config/predictor.h"
#include "core/err.h"
#include "data/image.h"
#include "data/valset.h"
#include "eval/evaluate.h"
#include "eval/predict.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac eval --images DIR --predictions DIR --out REPORT_DIR [options]\n"
        "       lamac eval --model PATH --images DIR --out REPORT_DIR [options]\n\n"
        "Scores inpainted images as the official bin/evaluate_predicts.py: every *mask*.png under\n"
        "--images (recursively) with its image NAME.png (NAME = the mask name up to its last\n"
        "'_mask') and its prediction PREDICTIONS/<mask path relative to DIR without .png> + suffix.\n"
        "Per image SSIM (11x11 Gaussian, sigma 1.5), PSNR, L1 and LPIPS (net-lin v0.1); FID\n"
        "(pytorch-fid Inception, 2048-d pool3) over all images and per mask-area bin; the integral\n"
        "ssim_fid100_f1 and lpips_fid100_f1. Writes REPORT_DIR/metrics.{json,csv,md} and\n"
        "per_image.csv.\n\n"
        "  --model PATH         predict first (as lamac predict --indir: official bin/predict.py\n"
        "                       semantics, 8-bit PNGs) into REPORT_DIR/predictions, then score them;\n"
        "                       PATH as for lamac predict (weights file, run dir, official model dir)\n"
        "  --config FILE        the training config, when --model's weights carry none\n"
        "  --pred-suffix S      prediction suffix (default .png)\n"
        "  --img-suffix S       image suffix (default .png)\n"
        "  --bins N             mask-area bins over [0, 1] (default 10)\n"
        "  --bin-rule R         offline (default; bin/evaluate_predicts.py: [e_k, e_k+1)) or\n"
        "                       online (validation during official training: (e_k, e_k+1])\n"
        "  --lpips-net NET      vgg (default, the official evaluator's) or alex\n"
        "  --lpips-backbone F   torchvision backbone file (default $TORCH_HOME/hub/checkpoints/\n"
        "                       vgg16-397923af.pth or alexnet-owt-7be5be79.pth)\n"
        "  --lpips-lin F        LPIPS linear layers (default: weights/lpips/NET.pth shipped with lamac)\n"
        "  --inception F        FID Inception file (default $TORCH_HOME/hub/checkpoints/\n"
        "                       pt_inception-2015-12-05-6726825d.pth)\n"
        "  --no-lpips, --no-fid skip those metrics\n"
        "  --batch N            Inception batch size (default 8)\n"
        "  --device DEV         cpu (default), cuda or cuda:N\n"
        "  --threads N          libtorch intra-op threads\n"
        "  --quiet              no progress line\n\n"
        "A missing weights file skips that metric; the report says which path was looked for and\n"
        "that scripts/download-weights.sh fetches it. Images whose prediction is missing or has\n"
        "another size are left out and listed. Exit status: 0 every image evaluated, 1 an error or\n"
        "an image left out (the report is still written when anything was evaluated).\n");
}

/* mkdir -p of the directory part of path */
static int make_parent_dirs(const char *path) {
    char buf[8192];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return lm_err_code(LM_EINVAL, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(buf, 0777);
        *p = '/';
    }
    return 0;
}

/* Every mask of the set predicted into preds/<mask path relative to images>.png. */
static int predict_all(const char *model, const char *config, const char *images, const char *preds,
                       const char *img_suffix, lt_device dev, int quiet) {
    lm_predictor *pr = NULL;
    if (lm_predictor_open(&pr, model, config, dev, stderr) < 0) return lm_err_prefix("--model %s", model);
    lm_valset *vs = NULL;
    int rc = lm_valset_open(&vs, images, img_suffix);
    if (rc < 0) {
        lm_predictor_close(pr);
        return lm_err_prefix("--images %s", images);
    }
    lm_predict_opts po = lm_predict_defaults();
    po.device = dev;
    size_t skip = strlen(images);
    while (skip > 1 && images[skip - 1] == '/') skip--;
    skip++;
    int64_t n = lm_valset_count(vs);
    for (int64_t i = 0; i < n && !rc; i++) {
        const char *m = lm_valset_mask_path(vs, i), *rel = m + skip;
        char out[8192];
        lm_image img = {0}, msk = {0}, res = {0};
        if (snprintf(out, sizeof out, "%s/%.*s.png", preds, (int)strlen(rel) - 4, rel) >= (int)sizeof out) {
            rc = lm_err_code(LM_EINVAL, "prediction path too long for %s", m);
            break;
        }
        rc = lm_valset_read(vs, i, &img, &msk);
        if (!rc) rc = lm_image_alloc(&res, img.w, img.h, 3);
        if (!rc) {
            size_t np = (size_t)img.w * img.h, holes = 0;
            for (size_t k = 0; k < np; k++) holes += msk.data[k] != 0;
            if (!holes) memcpy(res.data, img.data, np * 3); /* the official blend returns the image */
            else rc = lm_predict_image(res.data, pr->gen, img.data, msk.data, img.w, img.h, &po);
        }
        if (!rc) rc = make_parent_dirs(out);
        if (!rc) rc = lm_image_write_png(out, &res);
        if (rc < 0) lm_err_prefix("predict %s", m);
        lm_image_free(&img);
        lm_image_free(&msk);
        lm_image_free(&res);
        if (!quiet && isatty(2)) fprintf(stderr, "\rpredict: %lld/%lld", (long long)i + 1, (long long)n);
    }
    if (!quiet) fprintf(stderr, "%spredict: %lld masks predicted with %s into %s\n", isatty(2) ? "\n" : "",
                        (long long)n, pr->weights_path, preds);
    lm_valset_close(vs);
    lm_predictor_close(pr);
    return rc;
}

static int parse_int(int *out, const char *k, const char *v, int lo, int hi) {
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi)
        return lm_err_code(LM_EINVAL, "%s %s: expected an integer in %d..%d", k, v, lo, hi);
    *out = (int)n;
    return 0;
}

static int run(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    lm_eval_opts o = lm_eval_defaults();
    const char *images = NULL, *preds = NULL, *out = NULL, *device = "cpu", *net = "vgg";
    const char *model = NULL, *config = NULL;
    int threads = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--quiet")) { quiet = 1; continue; }
        if (!strcmp(k, "--no-lpips")) { o.lpips = 0; continue; }
        if (!strcmp(k, "--no-fid")) { o.fid = 0; continue; }
        if (i + 1 >= argc) {
            lm_err_code(LM_EINVAL, "%s needs a value (see lamac eval --help)", k);
            return lm_cmd_fail("eval");
        }
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(k, "--images")) images = v;
        else if (!strcmp(k, "--predictions")) preds = v;
        else if (!strcmp(k, "--out")) out = v;
        else if (!strcmp(k, "--model")) model = v;
        else if (!strcmp(k, "--config")) config = v;
        else if (!strcmp(k, "--pred-suffix")) o.pred_suffix = v;
        else if (!strcmp(k, "--img-suffix")) o.img_suffix = v;
        else if (!strcmp(k, "--lpips-backbone")) o.lpips_backbone = v;
        else if (!strcmp(k, "--lpips-lin")) o.lpips_lin = v;
        else if (!strcmp(k, "--inception")) o.inception = v;
        else if (!strcmp(k, "--device")) device = v;
        else if (!strcmp(k, "--lpips-net")) net = v;
        else if (!strcmp(k, "--bins")) rc = parse_int(&o.bins, k, v, 1, LM_EVAL_MAX_BINS);
        else if (!strcmp(k, "--batch")) rc = parse_int(&o.batch, k, v, 1, 64);
        else if (!strcmp(k, "--threads")) rc = parse_int(&threads, k, v, 1, 4096);
        else if (!strcmp(k, "--bin-rule")) {
            if (!strcmp(v, "offline")) o.rule = LM_BINS_OFFLINE;
            else if (!strcmp(v, "online")) o.rule = LM_BINS_ONLINE;
            else rc = lm_err_code(LM_EINVAL, "--bin-rule %s: expected offline or online", v);
        } else
            rc = lm_err_code(LM_EINVAL, "unknown option '%s' (see lamac eval --help)", k);
        if (rc < 0) return lm_cmd_fail("eval");
    }
    if (!images || !out || !!preds == !!model) {
        lm_err_code(LM_EINVAL, "--images, --out and one of --predictions / --model are required "
                               "(see lamac eval --help)");
        return lm_cmd_fail("eval");
    }
    if (!strcmp(net, "vgg")) o.lpips_net = LM_LPIPS_VGG;
    else if (!strcmp(net, "alex")) o.lpips_net = LM_LPIPS_ALEX;
    else {
        lm_err_code(LM_EINVAL, "--lpips-net %s: expected vgg or alex", net);
        return lm_cmd_fail("eval");
    }
    if (lm_parse_device(&o.device, device) < 0) return lm_cmd_fail("eval");
    if (threads > 0) lt_set_num_threads(threads);
    char lin[PATH_MAX + 64];
    if (o.lpips && !o.lpips_lin) {
        if (lm_lpips_find_lin(lin, sizeof lin, net) == 0) o.lpips_lin = lin;
        else o.lpips_lin = "(not found)"; /* lm_lpips_load fails and names it */
    }
    o.progress = quiet ? NULL : stderr;

    /* the command line, for metrics.json */
    size_t len = 8;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 3;
    char *cmd = malloc(len);
    if (!cmd) return lm_cmd_fail("eval");
    strcpy(cmd, "lamac");
    for (int i = 0; i < argc; i++) {
        strcat(cmd, " ");
        strcat(cmd, argv[i]);
    }

    char pred_dir[8192];
    if (model) {
        if (snprintf(pred_dir, sizeof pred_dir, "%s/predictions", out) >= (int)sizeof pred_dir ||
            make_parent_dirs(pred_dir) < 0 || predict_all(model, config, images, pred_dir, o.img_suffix,
                                                          o.device, quiet) < 0) {
            free(cmd);
            return lm_cmd_fail("eval");
        }
        preds = pred_dir;
        o.pred_suffix = ".png";
    }
    lm_eval_result r;
    int rc = lm_eval_dirs(&r, images, preds, &o);
    if (rc < 0) {
        lm_eval_result_free(&r);
        free(cmd);
        return lm_cmd_fail("eval");
    }
    for (int m = 0; m < LM_M_COUNT; m++)
        if (r.m[m].skipped) fprintf(stderr, "lamac eval: %s not computed: %s\n", r.m[m].name, r.m[m].why);
    for (int i = 0; i < r.n_skipped; i++) fprintf(stderr, "lamac eval: left out: %s\n", r.skipped[i]);
    for (int i = 0; i < r.n_warnings; i++) fprintf(stderr, "lamac eval: warning: %s\n", r.warnings[i]);
    rc = lm_eval_write_reports(&r, out, cmd);
    if (!rc) {
        printf("%-16s %-8s %10s %10s\n", "metric", "group", "mean", "std");
        for (int m = 0; m < LM_M_COUNT; m++)
            if (!r.m[m].skipped)
                printf("%-16s %-8s %10.4f %10.4f\n", r.m[m].name, "total", r.m[m].total.mean, r.m[m].total.std);
        fprintf(stderr, "lamac eval: %d of %d images evaluated; reports in %s (metrics.md)\n", r.n,
                r.n_listed, out);
    }
    int left_out = r.n_skipped;
    lm_eval_result_free(&r);
    free(cmd);
    if (rc < 0) return lm_cmd_fail("eval");
    return left_out ? 1 : 0;
}

const lm_command lm_cmd_eval = {"eval", "score predictions: SSIM, PSNR, L1, LPIPS, FID by mask area", run};
