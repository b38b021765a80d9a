/* cmd_eval.c — `lamac eval`: score precomputed predictions in the official
 * bin/evaluate_predicts.py layout (configs/eval2.yaml: img_suffix .png, inpainted_suffix .png)
 * and write metrics.json / metrics.csv / metrics.md / per_image.csv. The numerics are in
 * eval/ (metrics.c, bins.c, lpips.c, fid.c, evaluate.c, report.c). --sizes runs the
 * resolution sweep (eval/sweep.h): per size, images resized and masked with the official
 * gen_mask_dataset presets, predicted, scored; sweep.json / sweep.md over the sizes. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/command.h"
#include "run/device.h"
#include "run/predictor.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/path.h"
#include "core/progress.h"
#include "data/image.h"
#include "data/valset.h"
#include "eval/accum.h"
#include "eval/evaluate.h"
#include "eval/html.h"
#include "eval/predict.h"
#include "eval/sweep.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac eval --images DIR --predictions DIR --out REPORT_DIR [options]\n"
        "       lamac eval --model PATH --images DIR --out REPORT_DIR [options]\n"
        "       lamac eval --model PATH --images DIR --sizes 256,512,1024 [--masks thick] --out DIR [options]\n\n"
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
        "  --sizes LIST         resolution sweep (needs --model): comma list of sizes, each a multiple\n"
        "                       of 8 in 64..16384. --images then holds plain images (*.png, *.jpg,\n"
        "                       *.jpeg, recursive, sorted; names containing 'mask' are skipped). Per\n"
        "                       size S each image is resized so its shorter side is S (PIL bicubic,\n"
        "                       antialiased when shrinking; other side round(side * S / shorter)),\n"
        "                       center-cropped to S x S, and given one mask from the official\n"
        "                       gen_mask_dataset preset random_<masks>_256 when S < 512, else\n"
        "                       random_<masks>_512 (variants_n 5, max_tamper_area 0.5; when a round\n"
        "                       of 5 variants all exceed it, more rounds from the same stream, and\n"
        "                       after 20 the next variant whatever its area, counted in sweep.json),\n"
        "                       seeded by (S, the image's relative path): the same masks every run.\n"
        "                       Writes DIR/S/data/NAME.png + NAME_mask000.png, DIR/S/predictions/,\n"
        "                       DIR/S/metrics.{json,csv,md}, per_image.csv, and DIR/sweep.json\n"
        "                       (per size: images, seconds, the metrics object of metrics.json) and\n"
        "                       DIR/sweep.md (metric x size, mean ± std). DIR/S/data must not exist.\n"
        "  --masks KIND         thick (default), medium or thin (with --sizes)\n"
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

/* The official blend of one image under its mask (nonzero = hole), written as an 8-bit PNG to
 * out (parent folders created): the one prediction path of eval --model and eval --sizes. */
static int predict_one(lm_predictor *pr, const lm_predict_opts *po, const lm_image *img, const lm_image *msk,
                       const char *out) {
    lm_image res = {0};
    int rc = lm_image_alloc(&res, img->w, img->h, 3);
    if (!rc) {
        size_t np = (size_t)img->w * img->h, holes = 0;
        for (size_t k = 0; k < np; k++) holes += msk->data[k] != 0;
        if (!holes) memcpy(res.data, img->data, np * 3); /* the official blend returns the image */
        else rc = lm_predict_image(res.data, pr->gen, img->data, msk->data, img->w, img->h, po);
    }
    if (!rc) rc = lm_path_mkparents(out);
    if (!rc) rc = lm_image_write_png(out, &res);
    lm_image_free(&res);
    return rc;
}

/* Every mask of the set predicted into preds/<mask path relative to images>.png. */
static int predict_all(lm_predictor *pr, const char *images, const char *preds, const char *img_suffix,
                       lt_device dev, int quiet) {
    lm_valset *vs = NULL;
    int rc = lm_valset_open(&vs, images, img_suffix);
    if (rc < 0) return lm_err_prefix("--images %s", images);
    lm_predict_opts po = lm_predict_defaults();
    po.device = dev;
    size_t skip = strlen(images);
    while (skip > 1 && images[skip - 1] == '/') skip--;
    skip++;
    int64_t n = lm_valset_count(vs);
    for (int64_t i = 0; i < n && !rc; i++) {
        const char *m = lm_valset_mask_path(vs, i), *rel = m + skip;
        char out[8192];
        lm_image img = {0}, msk = {0};
        if (snprintf(out, sizeof out, "%s/%.*s.png", preds, (int)strlen(rel) - 4, rel) >= (int)sizeof out) {
            rc = lm_err_code(LM_EINVAL, "prediction path too long for %s", m);
            break;
        }
        rc = lm_valset_read(vs, i, &img, &msk);
        if (!rc) rc = predict_one(pr, &po, &img, &msk, out);
        if (rc < 0) lm_err_prefix("predict %s", m);
        lm_image_free(&img);
        lm_image_free(&msk);
        if (!quiet && isatty(2)) fprintf(stderr, "\rpredict: %lld/%lld", (long long)i + 1, (long long)n);
    }
    if (!quiet) fprintf(stderr, "%spredict: %lld masks predicted with %s into %s\n", isatty(2) ? "\n" : "",
                        (long long)n, pr->weights_path, preds);
    lm_valset_close(vs);
    return rc;
}

/* ---- --sizes: the resolution sweep (eval/sweep.h) ------------------------------------ */

static void print_skips(const lm_eval_result *r, const char *tag, int metrics) {
    for (int m = 0; m < LM_M_COUNT && metrics; m++)
        if (r->m[m].skipped) fprintf(stderr, "lamac eval:%s %s not computed: %s\n", tag, r->m[m].name, r->m[m].why);
    for (int i = 0; i < r->n_skipped; i++) fprintf(stderr, "lamac eval:%s left out: %s\n", tag, r->skipped[i]);
    for (int i = 0; i < r->n_warnings; i++) fprintf(stderr, "lamac eval:%s warning: %s\n", tag, r->warnings[i]);
}

/* For each size: OUT/S/data/NAME.png + NAME_mask000.png, OUT/S/predictions/NAME_mask000.png,
 * OUT/S/metrics.* (lm_eval_write_reports); OUT/sweep.{json,md} rewritten after each size. */
static int run_sweep(const char *model, const char *config, const char *images, const char *out,
                     const int *sizes, int ns, const char *kind, const lm_eval_opts *o, const char *cmd,
                     int quiet) {
    lm_file_list files = {0};
    lm_predictor *pr = NULL;
    lm_eval_acc *acc = NULL; /* the metric networks, loaded once for every size */
    lm_eval_result *res = calloc((size_t)ns, sizeof *res);
    lm_sweep_entry *ent = calloc((size_t)ns, sizeof *ent);
    lm_evalset_cfg *ev = calloc((size_t)ns, sizeof *ev);
    int rc = 0, done = 0, left_out = 0;
    struct stat st;
    char sdir[4200], ddir[4300], pdir[4300], path[8400];
    if (!res || !ent || !ev) {
        rc = lm_err_code(LM_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* everything checkable before OUT is touched */
    for (int i = 0; i < ns && !rc; i++) {
        rc = lm_sweep_preset(&ev[i], ent[i].preset, sizeof ent[i].preset, kind, sizes[i]);
        snprintf(ent[i].dir, sizeof ent[i].dir, "%d", sizes[i]);
        snprintf(ddir, sizeof ddir, "%s/%d/data", out, sizes[i]);
        if (!rc && stat(ddir, &st) == 0)
            rc = lm_err_code(LM_EINVAL, "%s exists: the sweep writes fresh data folders (stale masks would be "
                                        "scored); remove it or pick another --out", ddir);
    }
    if (rc < 0 || (rc = lm_sweep_list_images(&files, images)) < 0) goto cleanup;
    if ((rc = lm_predictor_open(&pr, model, config, o->device, LT_F32, stderr)) < 0) {
        lm_err_prefix("--model %s", model);
        goto cleanup;
    }
    if ((rc = lm_path_mkdirs(out)) < 0) goto cleanup;
    lm_predict_opts po = lm_predict_defaults();
    po.device = o->device;
    for (int i = 0; i < ns; i++) {
        int S = sizes[i];
        double t0 = lm_clock_now();
        snprintf(sdir, sizeof sdir, "%s/%d", out, S);
        snprintf(ddir, sizeof ddir, "%s/data", sdir);
        snprintf(pdir, sizeof pdir, "%s/predictions", sdir);
        if ((rc = lm_path_mkdirs(ddir)) < 0 || (rc = lm_path_mkdirs(pdir)) < 0) goto cleanup;
        char label[64];
        snprintf(label, sizeof label, "eval %d (%s)", S, ent[i].preset);
        lm_progress prog;
        if (!quiet) lm_progress_start(&prog, stderr, label, "images");
        for (size_t k = 0; k < files.n; k++) {
            const char *rel = files.v[k];
            int stem = (int)(strrchr(rel, '.') - rel), over = 0;
            lm_image img = {0}, msk = {0};
            snprintf(path, sizeof path, "%s/%s", images, rel);
            rc = lm_sweep_prepare(&img, &msk, &over, path, rel, S, &ev[i]);
            ent[i].over_area += over;
            if (!rc && snprintf(path, sizeof path, "%s/%.*s.png", ddir, stem, rel) >= (int)sizeof path)
                rc = lm_err_code(LM_EINVAL, "path too long for %s", rel);
            if (!rc) rc = lm_path_mkparents(path);
            if (!rc) rc = lm_image_write_png(path, &img);
            if (!rc) snprintf(path, sizeof path, "%s/%.*s_mask000.png", ddir, stem, rel);
            if (!rc) rc = lm_image_write_png(path, &msk);
            if (!rc) snprintf(path, sizeof path, "%s/%.*s_mask000.png", pdir, stem, rel);
            if (!rc && (rc = predict_one(pr, &po, &img, &msk, path)) < 0) lm_err_prefix("predict %s", rel);
            lm_image_free(&img);
            lm_image_free(&msk);
            if (rc < 0) {
                lm_err_prefix("size %d", S);
                goto cleanup;
            }
            if (!quiet) lm_progress_update(&prog, (long long)k + 1, (long long)files.n);
        }
        double t1 = lm_clock_now();
        lm_eval_opts so = *o;
        so.img_suffix = ".png";
        so.pred_suffix = ".png";
        so.progress = NULL; /* one progress line per size: the one above */
        if (!acc && (rc = lm_eval_acc_new(&acc, &so)) < 0) goto cleanup;
        if ((rc = lm_eval_dirs_acc(&res[i], acc, ddir, pdir, &so)) < 0) goto cleanup;
        done = i + 1;
        char tag[32];
        snprintf(tag, sizeof tag, " %d:", S);
        print_skips(&res[i], tag, i == 0); /* the metrics skipped are the same for every size */
        left_out += res[i].n_skipped;
        if ((rc = lm_eval_write_reports(&res[i], sdir, cmd)) < 0) goto cleanup;
        ent[i].size = S;
        ent[i].masks = kind;
        ent[i].images = res[i].n;
        ent[i].r = &res[i];
        ent[i].seconds = lm_clock_now() - t0;
        if ((rc = lm_sweep_write(out, cmd, ent, done)) < 0) goto cleanup;
        if (!quiet)
            fprintf(stderr, "eval %d: %d images in %.1f s (prepare + predict %.1f s, score %.1f s)%s\n", S,
                    res[i].n, ent[i].seconds, t1 - t0, ent[i].seconds - (t1 - t0),
                    ent[i].over_area ? "; some masks above max_tamper_area (see sweep.json)" : "");
    }
    if (lm_report_html(out, NULL) < 0) /* metric against resolution, from sweep.json */
        fprintf(stderr, "lamac eval: warning: %s/report.html: %s\n", out, lm_err_msg());
    printf("%-16s", "metric");
    for (int i = 0; i < done; i++) printf(" %10d", sizes[i]);
    printf("\n");
    for (int m = 0; m < LM_M_COUNT; m++) {
        printf("%-16s", res[0].m[m].name);
        for (int i = 0; i < done; i++)
            if (res[i].m[m].skipped) printf(" %10s", "-");
            else printf(" %10.4f", res[i].m[m].total.mean);
        printf("\n");
    }
    fprintf(stderr, "lamac eval: %d sizes; reports in %s (sweep.md, sweep.json, SIZE/metrics.md)\n", done, out);
cleanup:
    for (int i = 0; res && i < ns; i++) lm_eval_result_free(&res[i]);
    free(res);
    free(ent);
    free(ev);
    lm_eval_acc_free(acc);
    lm_predictor_close(pr);
    lm_file_list_free(&files);
    if (rc < 0) return rc;
    return left_out ? 1 : 0;
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
    if (lm_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    lm_eval_opts o = lm_eval_defaults();
    const char *images = NULL, *preds = NULL, *out = NULL, *device = "cpu", *net = "vgg";
    const char *model = NULL, *config = NULL, *sizes_arg = NULL, *kind = NULL;
    int threads = 0, quiet = 0, sizes[LM_SWEEP_MAX_SIZES], ns = 0, suffix_set = 0;
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
        else if (!strcmp(k, "--sizes")) rc = lm_sweep_parse_sizes(sizes, LM_SWEEP_MAX_SIZES, &ns, sizes_arg = v);
        else if (!strcmp(k, "--masks")) {
            kind = v;
            if (strcmp(v, "thick") && strcmp(v, "medium") && strcmp(v, "thin"))
                rc = lm_err_code(LM_EINVAL, "--masks %s: expected thick, medium or thin", v);
        }
        else if (!strcmp(k, "--pred-suffix")) o.pred_suffix = v, suffix_set = 1;
        else if (!strcmp(k, "--img-suffix")) o.img_suffix = v, suffix_set = 1;
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
    if (sizes_arg && !model) {
        lm_err_code(LM_EINVAL, "--sizes needs --model (the sweep predicts every size itself; see lamac eval --help)");
        return lm_cmd_fail("eval");
    }
    if (kind && !sizes_arg) {
        lm_err_code(LM_EINVAL, "--masks only applies to --sizes");
        return lm_cmd_fail("eval");
    }
    if (sizes_arg && suffix_set) {
        lm_err_code(LM_EINVAL, "--img-suffix / --pred-suffix do not apply to --sizes (it writes its own .png layout)");
        return lm_cmd_fail("eval");
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

    if (sizes_arg) {
        int rc = run_sweep(model, config, images, out, sizes, ns, kind ? kind : "thick", &o, cmd, quiet);
        free(cmd);
        return rc < 0 ? lm_cmd_fail("eval") : rc;
    }
    char pred_dir[8192];
    if (model) {
        lm_predictor *pr = NULL;
        int prc = snprintf(pred_dir, sizeof pred_dir, "%s/predictions", out) >= (int)sizeof pred_dir
                      ? lm_err_code(LM_EINVAL, "--out too long: %s", out) : lm_path_mkparents(pred_dir);
        if (!prc && (prc = lm_predictor_open(&pr, model, config, o.device, LT_F32, stderr)) < 0)
            lm_err_prefix("--model %s", model);
        if (!prc) prc = predict_all(pr, images, pred_dir, o.img_suffix, o.device, quiet);
        lm_predictor_close(pr);
        if (prc < 0) {
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
