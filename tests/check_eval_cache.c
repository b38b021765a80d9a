/* check_eval_cache.c — the accumulator's target cache (eval/accum.h lm_eval_acc_cache_targets,
 * used by validation during training): rounds scored with the cache give bitwise the FID (total
 * and per bin) of an accumulator without it, while a repeated round runs the Inception on the
 * predictions only; a changed name, or a batch of another size, is recomputed. Random Inception
 * weights (seeded), small random images. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "eval/accum.h"
#include "model/inception.h"
#include "tests/testutil.h"

#define W 24
#define H 20
#define NIMG 7

static uint32_t rnd(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void fill(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd(&seed);
}

/* Adds images 0..n-1 to both accumulators: target seed tseed[i], prediction seed pseed + i,
 * names "img<name[i]>_mask.png", masks covering a growing area (several bins). */
static void add_round(lm_eval_acc *a, lm_eval_acc *b, int n, const int *name, const uint32_t *tseed, uint32_t pseed) {
    static uint8_t img[W * H * 3], pred[W * H * 3], mask[W * H];
    for (int i = 0; i < n; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "img%d_mask.png", name[i]);
        fill(img, sizeof img, tseed[i]);
        fill(pred, sizeof pred, pseed + (uint32_t)i);
        for (int k = 0; k < W * H; k++) mask[k] = k < (i + 1) * W * H / (n + 1) ? 255 : 0;
        ck_assert_msg(lm_eval_acc_add(a, nm, NULL, NULL, img, mask, pred, W, H) == 0, "%s", lm_err_msg());
        ck_assert_msg(lm_eval_acc_add(b, nm, NULL, NULL, img, mask, pred, W, H) == 0, "%s", lm_err_msg());
    }
}

/* Finishes both; the FID total and every bin must be bitwise equal (and not NaN in total). */
static void finish_same(lm_eval_acc *cached, lm_eval_acc *plain, const char *what) {
    lm_eval_result *r = calloc(2, sizeof *r);
    ck_assert(r != NULL);
    ck_assert_msg(lm_eval_acc_finish(cached, &r[0]) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_eval_acc_finish(plain, &r[1]) == 0, "%s", lm_err_msg());
    const lm_eval_metric *x = &r[0].m[LM_M_FID], *y = &r[1].m[LM_M_FID];
    ck_assert_msg(!x->skipped && !y->skipped, "fid skipped: %s", x->why);
    ck_assert(!isnan(x->total.mean));
    printf("eval_cache %s: fid cached %.17g recomputed %.17g\n", what, x->total.mean, y->total.mean);
    ck_assert_msg(!memcmp(&x->total.mean, &y->total.mean, sizeof(double)), "%s: fid %.17g vs %.17g", what,
                  x->total.mean, y->total.mean);
    for (int b = 0; b < r[0].bins; b++)
        ck_assert_msg(!memcmp(&x->bin[b].mean, &y->bin[b].mean, sizeof(double)), "%s: fid bin %d %.17g vs %.17g",
                      what, b, x->bin[b].mean, y->bin[b].mean);
    lm_eval_result_free(&r[0]);
    lm_eval_result_free(&r[1]);
    free(r);
}

START_TEST(test_target_cache_bitwise_and_half_work) {
    char tmp[512], path[700];
    lm_test_tmpdir(tmp, sizeof tmp, "eval_cache");
    lm_inception *n = NULL;
    ck_assert_int_eq(lm_inception_create(&n, LT_F32, LT_CPU), 0);
    ck_assert_msg(lm_params_randomize(lm_inception_params(n), 11) == 0, "%s", lm_err_msg());
    snprintf(path, sizeof path, "%s/pt_inception.pth", tmp);
    lm_test_save_params(lm_inception_params(n), path);
    lm_inception_free(n);

    lm_eval_opts o = lm_eval_defaults();
    o.lpips = 0;
    o.inception = path;
    o.rule = LM_BINS_ONLINE;
    o.batch = 3; /* batches [0,3) [3,6) [6,7) */
    lm_eval_acc *c = NULL, *p = NULL;
    ck_assert_msg(lm_eval_acc_new(&c, &o) == 0 && lm_eval_acc_new(&p, &o) == 0, "%s", lm_err_msg());
    ck_assert_msg(!lm_eval_acc_skipped(c, LM_M_FID), "%s", lm_eval_acc_why(c, LM_M_FID));
    lm_eval_acc_cache_targets(c, 1);
    int name[NIMG];
    uint32_t tseed[NIMG];
    for (int i = 0; i < NIMG; i++) name[i] = i, tseed[i] = 1000u + (uint32_t)i;

    /* round 1: everything computed */
    add_round(c, p, NIMG, name, tseed, 1);
    finish_same(c, p, "round 1");
    ck_assert_int_eq(lm_eval_acc_inception_images(c), 2 * NIMG);
    ck_assert_int_eq(lm_eval_acc_inception_images(p), 2 * NIMG);

    /* round 2: same targets and names, other predictions: targets reused, half the work */
    add_round(c, p, NIMG, name, tseed, 50);
    finish_same(c, p, "round 2");
    ck_assert_int_eq(lm_eval_acc_inception_images(c), 3 * NIMG);
    ck_assert_int_eq(lm_eval_acc_inception_images(p), 4 * NIMG);

    /* round 3: image 4 replaced (other name, other target): batch [3,6) recomputed */
    name[4] = 40, tseed[4] = 4040u;
    add_round(c, p, NIMG, name, tseed, 90);
    finish_same(c, p, "round 3");
    ck_assert_int_eq(lm_eval_acc_inception_images(c), 3 * NIMG + NIMG + 3);

    /* round 4: the batch [3,6) again as re-cached in round 3: reused */
    add_round(c, p, NIMG, name, tseed, 120);
    finish_same(c, p, "round 4");
    ck_assert_int_eq(lm_eval_acc_inception_images(c), 4 * NIMG + 3 + NIMG);

    /* round 5: 5 images: [0,3) reused, the last batch [3,5) has another size: recomputed */
    add_round(c, p, 5, name, tseed, 150);
    finish_same(c, p, "round 5");
    ck_assert_int_eq(lm_eval_acc_inception_images(c), 5 * NIMG + 3 + 5 + 2);

    /* round 6: cache off: every row recomputed and its cache entry forgotten, so round 7 (cache
     * on again) recomputes everything */
    lm_eval_acc_cache_targets(c, 0);
    add_round(c, p, NIMG, name, tseed, 180);
    finish_same(c, p, "round 6 (cache off)");
    long long before = lm_eval_acc_inception_images(c);
    lm_eval_acc_cache_targets(c, 1);
    add_round(c, p, NIMG, name, tseed, 210);
    finish_same(c, p, "round 7 (cache on again: recomputed)");
    ck_assert_int_eq(lm_eval_acc_inception_images(c) - before, 2 * NIMG);

    lm_eval_acc_free(c);
    lm_eval_acc_free(p);
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_eval_cache_suite(void) {
    Suite *s = suite_create("eval_cache");
    TCase *tc = tcase_create("eval_cache");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_target_cache_bitwise_and_half_work);
    suite_add_tcase(s, tc);
    return s;
}
