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
#include "eval/evaluate.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac eval --images DIR --predictions DIR --out REPORT_DIR [options]\n\n"
        "Scores inpainted images as the official bin/evaluate_predicts.py: every *mask*.png under\n"
        "--images (recursively) with its image NAME.png (NAME = the mask name up to its last\n"
        "'_mask') and its prediction PREDICTIONS/<mask path relative to DIR without .png> + suffix.\n"
        "Per image SSIM (11x11 Gaussian, sigma 1.5), PSNR, L1 and LPIPS (net-lin v0.1); FID\n"
        "(pytorch-fid Inception, 2048-d pool3) over all images and per mask-area bin; the integral\n"
        "ssim_fid100_f1 and lpips_fid100_f1. Writes REPORT_DIR/metrics.{json,csv,md} and\n"
        "per_image.csv.\n\n"
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

/* The shipped LPIPS linear layers: beside the binary's tree (build/lamac -> weights/lpips),
 * or under the working directory. */
static int find_lin(char *out, size_t cap, const char *net) {
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        const char *rel[2] = {"..", "../share/lamac"};
        for (int i = 0; i < 2; i++)
            if (snprintf(out, cap, "%s/%s/weights/lpips/%s.pth", exe, rel[i], net) < (int)cap &&
                stat(out, &st) == 0)
                return 0;
    }
    if (snprintf(out, cap, "weights/lpips/%s.pth", net) < (int)cap && stat(out, &st) == 0) return 0;
    return lm_err_code(LM_EIO, "LPIPS linear layers %s.pth not found beside the lamac binary (%s/../weights/lpips/) "
                       "nor in ./weights/lpips/; pass --lpips-lin", net, k > 0 ? exe : "?");
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
    if (!images || !preds || !out) {
        lm_err_code(LM_EINVAL, "--images, --predictions and --out are required (see lamac eval --help)");
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
        if (find_lin(lin, sizeof lin, net) == 0) o.lpips_lin = lin;
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
