/* bench_eval_reuse.c — what reusing the evaluation work saves, with seeded random LPIPS-VGG
 * backbone and FID Inception weights (the real LPIPS linear layers from weights/lpips/vgg.pth):
 *  1. two validation rounds of N random S x S images through one accumulator (eval/accum.h),
 *     with the target cache (as train/loop.c sets it) and without; scoring only (the
 *     generator's prediction is not part of it);
 *  2. the `lamac eval --sizes 64,96` scoring step: lm_eval_dirs per size (networks loaded for
 *     every size, as before) against lm_eval_dirs_acc with one accumulator.
 *   bench_eval_reuse [N=16] [S=64] [threads=1]   (run from the repository root)
 * Prints figures; never passes or fails on time. */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/path.h"
#include "data/image.h"
#include "eval/accum.h"
#include "eval/lpips.h"
#include "model/inception.h"
#include "model/weights.h"

static int save(lm_params *p, const char *path) {
    lm_weights_part part = {"", p};
    lm_weights_save_opts o = lm_weights_save_defaults();
    return lm_weights_save(path, &part, 1, &o);
}

static void fill(uint8_t *p, size_t n, uint32_t s) {
    for (size_t i = 0; i < n; i++) s = s * 1664525u + 1013904223u, p[i] = (uint8_t)(s >> 8);
}

static void make_mask(uint8_t *m, int s, int i, int n) {
    for (int k = 0; k < s * s; k++) m[k] = k < (i + 1) * s * s / (n + 2) ? 255 : 0;
}

/* Two rounds of n images; seconds of the rounds (acc_new excluded); *inc: Inception images. */
static double two_rounds(const lm_eval_opts *o, int cache, int n, int s, long long *inc) {
    lm_eval_acc *a = NULL;
    if (lm_eval_acc_new(&a, o) < 0) return NAN;
    lm_eval_acc_cache_targets(a, cache);
    uint8_t *img = malloc((size_t)s * s * 3), *pred = malloc((size_t)s * s * 3), *m = malloc((size_t)s * s);
    double t0 = lm_clock_now();
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++) {
            char nm[64];
            snprintf(nm, sizeof nm, "val/img%d_mask000.png", i);
            fill(img, (size_t)s * s * 3, 100u + (uint32_t)i);
            fill(pred, (size_t)s * s * 3, 9000u + (uint32_t)(round * n + i));
            make_mask(m, s, i, n);
            if (lm_eval_acc_add(a, nm, NULL, NULL, img, m, pred, s, s) < 0) fprintf(stderr, "%s\n", lm_err_msg());
        }
        lm_eval_result r = {0};
        if (lm_eval_acc_finish(a, &r) < 0) fprintf(stderr, "%s\n", lm_err_msg());
        printf("  round %d cache %d: fid %.17g lpips %.9g\n", round + 1, cache, r.m[LM_M_FID].total.mean,
               r.m[LM_M_LPIPS].total.mean);
        lm_eval_result_free(&r);
    }
    double t = lm_clock_now() - t0;
    *inc = lm_eval_acc_inception_images(a);
    lm_eval_acc_free(a);
    free(img), free(pred), free(m);
    return t;
}

static int write_png(const char *path, const uint8_t *data, int s, int c) {
    lm_image im = {s, s, c, (uint8_t *)data};
    return lm_image_write_png(path, &im);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 16, s = argc > 2 ? atoi(argv[2]) : 64;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    if (n < 2 || s < 16 || threads < 1) {
        fprintf(stderr, "usage: bench_eval_reuse [N>=2] [S>=16] [threads]\n");
        return 2;
    }
    lt_set_num_threads(threads);
    char tmp[] = "/tmp/bench_eval_reuse.XXXXXX", bb[256], inc[256], cmd[512];
    if (!mkdtemp(tmp)) return 1;
    snprintf(bb, sizeof bb, "%s/vgg16.pth", tmp);
    snprintf(inc, sizeof inc, "%s/pt_inception.pth", tmp);
    lm_lpips *l = NULL;
    lm_inception *net = NULL;
    if (lm_lpips_create(&l, LM_LPIPS_VGG, LT_F32, LT_CPU) < 0 || lm_params_randomize(lm_lpips_backbone(l), 7) < 0 ||
        save(lm_lpips_backbone(l), bb) < 0 || lm_inception_create(&net, LT_F32, LT_CPU) < 0 ||
        lm_params_randomize(lm_inception_params(net), 7) < 0 || save(lm_inception_params(net), inc) < 0) {
        fprintf(stderr, "weights: %s\n", lm_err_msg());
        return 1;
    }
    lm_lpips_free(l);
    lm_inception_free(net);
    lm_eval_opts o = lm_eval_defaults();
    o.lpips_lin = "weights/lpips/vgg.pth";
    o.lpips_backbone = bb;
    o.inception = inc;
    o.rule = LM_BINS_ONLINE;

    double t0 = lm_clock_now();
    lm_eval_acc *a = NULL;
    if (lm_eval_acc_new(&a, &o) < 0 || lm_eval_acc_skipped(a, LM_M_FID) || lm_eval_acc_skipped(a, LM_M_LPIPS)) {
        fprintf(stderr, "networks: %s / %s\n", lm_eval_acc_why(a, LM_M_LPIPS), lm_eval_acc_why(a, LM_M_FID));
        return 1;
    }
    double load = lm_clock_now() - t0;
    lm_eval_acc_free(a);
    printf("network load (LPIPS VGG + Inception): %.2f s\n", load);

    printf("1. two validation rounds, %d images at %d px, scoring only (threads %d)\n", n, s, threads);
    long long i0 = 0, i1 = 0;
    double t_plain = two_rounds(&o, 0, n, s, &i0), t_cache = two_rounds(&o, 1, n, s, &i1);
    printf("  without cache: %.2f s, %lld Inception images\n", t_plain, i0);
    printf("  with cache:    %.2f s, %lld Inception images\n", t_cache, i1);

    /* 2. the sweep's scoring: folders at 64 and 96 px */
    const int sizes[2] = {64, 96};
    char dd[2][300], pd[2][300], path[400];
    for (int k = 0; k < 2; k++) {
        int S = sizes[k];
        snprintf(dd[k], sizeof dd[k], "%s/%d/data", tmp, S);
        snprintf(pd[k], sizeof pd[k], "%s/%d/predictions", tmp, S);
        if (lm_path_mkdirs(dd[k]) < 0 || lm_path_mkdirs(pd[k]) < 0) return 1;
        uint8_t *img = malloc((size_t)S * S * 3), *m = malloc((size_t)S * S);
        for (int i = 0; i < n; i++) {
            fill(img, (size_t)S * S * 3, 100u + (uint32_t)i);
            snprintf(path, sizeof path, "%s/img%d.png", dd[k], i);
            write_png(path, img, S, 3);
            make_mask(m, S, i, n);
            snprintf(path, sizeof path, "%s/img%d_mask000.png", dd[k], i);
            write_png(path, m, S, 1);
            fill(img, (size_t)S * S * 3, 5000u + (uint32_t)i);
            snprintf(path, sizeof path, "%s/img%d_mask000.png", pd[k], i);
            write_png(path, img, S, 3);
        }
        free(img), free(m);
    }
    o.rule = LM_BINS_OFFLINE;
    printf("2. --sizes 64,96 scoring, %d images per size\n", n);
    lm_eval_result r = {0};
    t0 = lm_clock_now();
    for (int k = 0; k < 2; k++) {
        if (lm_eval_dirs(&r, dd[k], pd[k], &o) < 0) fprintf(stderr, "%s\n", lm_err_msg());
        printf("  per size, size %d: fid %.17g\n", sizes[k], r.m[LM_M_FID].total.mean);
        lm_eval_result_free(&r);
    }
    double t_per = lm_clock_now() - t0;
    t0 = lm_clock_now();
    if (lm_eval_acc_new(&a, &o) < 0) return 1;
    for (int k = 0; k < 2; k++) {
        if (lm_eval_dirs_acc(&r, a, dd[k], pd[k], &o) < 0) fprintf(stderr, "%s\n", lm_err_msg());
        printf("  one acc,  size %d: fid %.17g\n", sizes[k], r.m[LM_M_FID].total.mean);
        lm_eval_result_free(&r);
    }
    lm_eval_acc_free(a);
    double t_once = lm_clock_now() - t0;
    printf("  networks loaded per size: %.2f s; loaded once: %.2f s\n", t_per, t_once);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return 0;
}
