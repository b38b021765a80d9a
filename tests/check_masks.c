/* check_masks.c — masks/: the OpenCV-exact rasteriser, the generators' determinism and
 * invariants, the presets, and distribution parity with the official MixedMaskGenerator
 * (fixtures from tests/ref/gen_mask_stats.py: tests/fixtures/masks/{lines.bin,stats.json}). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/rng.h"
#include "data/image.h"
#include "masks/mask.h"
#include "masks/ramp.h"
#include "masks/raster.h"
#include "masks/stats.h"
#include "tests/testutil.h"

#define FIX "tests/fixtures/masks/"

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    ck_assert(b != NULL);
    ck_assert_int_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    b[len] = 0;
    fclose(f);
    if (n) *n = (size_t)len;
    return b;
}

/* ---- rasteriser ---------------------------------------------------------------------- */

/* Horizontal segment (6,8)–(15,8): OpenCV draws a band of half-width r = (t+1)/2 rows
 * over x 6..15 plus midpoint-circle caps of radius r; for r = 2 the circle's row spans are
 * ±2, ±1, ±0 (rows 0, ±1, ±2) and for r = 3 they are ±3, ±2, ±2, ±0. */
START_TEST(test_raster_horizontal_line) {
    const int H = 16, W = 24, y = 8, xa = 6, xb = 15;
    const int span[2][4] = {{2, 1, 0, -1}, {3, 2, 2, 0}};
    for (int t = 4; t <= 5; t++) {
        uint8_t m[16 * 24] = {0}, e[16 * 24] = {0};
        int r = (t + 1) / 2;
        const int *sp = span[t - 4];
        for (int dy = -r; dy <= r; dy++) {
            int s = sp[abs(dy)];
            int lo = xa - s, hi = xb + s;
            if (lo > xa) lo = xa;
            if (hi < xb) hi = xb;
            for (int x = lo; x <= hi; x++) e[(y + dy) * W + x] = 1;
        }
        lm_raster_line(m, H, W, xa, y, xb, y, t, 1);
        for (int i = 0; i < H * W; i++)
            ck_assert_msg(m[i] == e[i], "thickness %d: pixel (%d,%d) is %d, expected %d", t, i % W,
                          i / W, m[i], e[i]);
    }
}
END_TEST

START_TEST(test_raster_matches_opencv) {
    size_t n;
    char *b = slurp(FIX "lines.bin", &n);
    ck_assert(n >= 8 && !memcmp(b, "LMRL", 4));
    uint32_t count;
    memcpy(&count, b + 4, 4);
    size_t off = 8;
    int bad = 0, lines = 0, circles = 0;
    for (uint32_t k = 0; k < count; k++) {
        int32_t a[8];
        ck_assert(off + 32 <= n);
        memcpy(a, b + off, 32);
        off += 32;
        int h = a[0], w = a[1];
        size_t nb = ((size_t)h * w + 7) / 8;
        ck_assert(off + nb <= n);
        const uint8_t *pk = (const uint8_t *)b + off;
        off += nb;
        uint8_t *m = calloc((size_t)h * w, 1);
        if (a[7] == 0) lm_raster_line(m, h, w, a[2], a[3], a[4], a[5], a[6], 1), lines++;
        else lm_raster_circle(m, h, w, a[2], a[3], a[6], 1), circles++;
        int diff = 0;
        for (int i = 0; i < h * w; i++) diff += ((pk[i >> 3] >> (7 - (i & 7))) & 1) != m[i];
        if (diff && bad++ < 5)
            fprintf(stderr, "case %u: %dx%d (%d,%d)-(%d,%d) t=%d kind=%d: %d pixels differ\n", k, h, w,
                    a[2], a[3], a[4], a[5], a[6], a[7], diff);
        free(m);
    }
    printf("raster: %d lines + %d circles vs cv2: %d mismatching\n", lines, circles, bad);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_gt(lines, 100);
    free(b);
}
END_TEST

/* ---- EDT ------------------------------------------------------------------------------ */

START_TEST(test_edt_matches_brute_force) {
    lm_rng r;
    for (int t = 0; t < 40; t++) {
        lm_rng_init(&r, 7, 0, (uint64_t)t, LM_RNG_MASK);
        int h = (int)lm_rng_randint(&r, 1, 24), w = (int)lm_rng_randint(&r, 1, 24);
        double p = lm_rng_uniform(&r);
        uint8_t *m = malloc((size_t)h * w);
        double *d2 = malloc(sizeof(double) * h * w);
        int known = 0;
        for (int i = 0; i < h * w; i++) m[i] = lm_rng_uniform(&r) < p, known += !m[i];
        ck_assert_int_eq(lm_mask_edt2(d2, m, h, w), 0);
        for (int i = 0; i < h * w; i++) {
            double best = INFINITY;
            for (int j = 0; j < h * w; j++)
                if (!m[j]) {
                    double dx = i % w - j % w, dy = i / w - j / w;
                    if (dx * dx + dy * dy < best) best = dx * dx + dy * dy;
                }
            ck_assert_msg(best == d2[i] || (!known && isinf(d2[i])), "edt %dx%d pixel %d: %g vs %g",
                          h, w, i, d2[i], best);
        }
        free(m), free(d2);
    }
}
END_TEST

/* ---- generators ----------------------------------------------------------------------- */

static void gen(uint8_t *m, int h, int w, const lm_mask_cfg *c, uint64_t seed, uint64_t idx) {
    lm_rng r;
    lm_rng_init(&r, seed, 0, idx, LM_RNG_MASK);
    ck_assert_msg(lm_mask_generate(m, h, w, c, &r, -1) == 0, "%s", lm_err_msg());
}

START_TEST(test_determinism) {
    const char *const *names = lm_mask_preset_names();
    for (int p = 0; names[p]; p++) {
        lm_mask_cfg c;
        ck_assert_int_eq(lm_mask_preset(&c, names[p]), 0);
        /* the preset's own size (thick strokes can cover a small image completely) */
        const int H = strstr(names[p], "512") ? 512 : 256, W = H;
        uint8_t *a = malloc((size_t)H * W), *b = malloc((size_t)H * W);
        int differ = 0;
        for (uint64_t i = 0; i < 8; i++) {
            gen(a, H, W, &c, 42, i);
            gen(b, H, W, &c, 42, i);
            ck_assert_msg(!memcmp(a, b, (size_t)H * W), "%s: same key, different mask", names[p]);
            for (int k = 0; k < H * W; k++) ck_assert(a[k] <= 1);
            gen(b, H, W, &c, 42, i + 1);
            differ += memcmp(a, b, (size_t)H * W) != 0;
        }
        free(a), free(b);
        ck_assert_msg(differ >= 7, "%s: neighbouring sample indices give equal masks", names[p]);
    }
}
END_TEST

START_TEST(test_presets_and_errors) {
    lm_mask_cfg c;
    ck_assert_int_eq(lm_mask_preset(&c, "random_thick_512"), 0);
    ck_assert_int_eq(c.irregular_kwargs.max_width, 250);
    ck_assert_int_eq(c.box_kwargs.bbox_max_size, 300);
    ck_assert(fabs(c.box_proba - 0.3) < 1e-12 && c.segm_proba == 0);
    ck_assert_int_eq(lm_mask_preset(&c, "train"), 0);
    ck_assert_int_eq(c.irregular_kwargs.max_len, 200);
    ck_assert_int_eq(c.box_kwargs.max_times, 4);
    ck_assert_int_lt(lm_mask_preset(&c, "nope"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "unknown mask preset 'nope'"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "random_thin_256"));
    /* the official defaults include segmentation masks: a clear error */
    uint8_t m[64 * 64];
    lm_rng r;
    lm_rng_init(&r, 1, 0, 0, LM_RNG_MASK);
    lm_mask_cfg_default(&c);
    ck_assert_int_eq(lm_mask_generate(m, 64, 64, &c, &r, -1), LM_ENOTSUP);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "detectron2"));
    /* boxes that cannot fit */
    lm_mask_preset(&c, "train");
    c.irregular_proba = 0;
    ck_assert_int_lt(lm_mask_generate(m, 40, 40, &c, &r, -1), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "box mask"));
}
END_TEST

START_TEST(test_box_margin_and_counts) {
    lm_mask_box_cfg b;
    lm_mask_box_default(&b);
    b.margin = 10, b.bbox_min_size = 30, b.bbox_max_size = 150, b.min_times = 1, b.max_times = 4;
    enum { S = 256 };
    static uint8_t m[S * S];
    for (uint64_t i = 0; i < 200; i++) {
        lm_rng r;
        lm_rng_init(&r, 3, 0, i, LM_RNG_MASK);
        ck_assert_int_eq(lm_mask_box(m, S, S, &b, &r, -1), 0);
        int any = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                if (!m[y * S + x]) continue;
                any = 1;
                ck_assert(x >= 10 && y >= 10 && x < S - 10 && y < S - 10);
            }
        ck_assert(any); /* min_times 1 */
    }
}
END_TEST

START_TEST(test_superres_outpainting_invert) {
    enum { H = 64, W = 80 };
    static uint8_t m[H * W];
    lm_mask_cfg c;
    lm_mask_cfg_default(&c);
    c.irregular_proba = c.box_proba = c.segm_proba = 0;
    c.superres_proba = 1;
    for (uint64_t i = 0; i < 20; i++) {
        gen(m, H, W, &c, 5, i);
        /* a grid: every hole row is full, or the column is full: find the periods */
        int full_rows = 0, full_cols = 0;
        for (int y = 0; y < H; y++) {
            int s = 0;
            for (int x = 0; x < W; x++) s += m[y * W + x];
            full_rows += s == W;
        }
        for (int x = 0; x < W; x++) {
            int s = 0;
            for (int y = 0; y < H; y++) s += m[y * W + x];
            full_cols += s == H;
        }
        ck_assert(full_rows >= H / 4 - 1 && full_rows <= 3 * H / 4 + 1);
        ck_assert(full_cols >= W / 4 - 1 && full_cols <= 3 * W / 4 + 1);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int rowfull = 1, colfull = 1;
                for (int k = 0; k < W; k++) rowfull &= m[y * W + k];
                for (int k = 0; k < H; k++) colfull &= m[k * W + x];
                ck_assert_int_eq(m[y * W + x], rowfull || colfull);
            }
    }
    c.superres_proba = 0, c.outpainting_proba = 1;
    for (uint64_t i = 0; i < 50; i++) {
        gen(m, H, W, &c, 6, i);
        int border = m[0] || m[W - 1] || m[(H - 1) * W] || m[H * W - 1];
        double a = lm_mask_area(m, H, W);
        ck_assert(border && a > 0 && a < 0.75);
        ck_assert_int_eq(m[(H / 2) * W + W / 2], 0); /* bands are at most 25% deep */
    }
    c.invert_proba = 1;
    for (uint64_t i = 0; i < 10; i++) {
        gen(m, H, W, &c, 6, i);
        ck_assert_int_eq(m[(H / 2) * W + W / 2], 1);
    }
}
END_TEST

START_TEST(test_ramp_schedule) {
    lm_ramp r = {1, 0, 1, 100, 200};
    ck_assert(lm_ramp_value(&r, 50) == 0 && lm_ramp_value(&r, 150) == 0.5 && lm_ramp_value(&r, 250) == 1);
    /* at coefficient 0 strokes have max_len 1 → length 10, width 5 + 0 */
    lm_mask_irregular_cfg ir;
    lm_mask_irregular_default(&ir);
    ir.min_times = 1, ir.max_times = 5, ir.max_len = 200, ir.max_width = 100, ir.ramp = r;
    enum { S = 128 };
    static uint8_t m[S * S];
    double early = 0, late = 0;
    for (uint64_t i = 0; i < 100; i++) {
        lm_rng g;
        lm_rng_init(&g, 9, 0, i, LM_RNG_MASK);
        ck_assert_int_eq(lm_mask_irregular(m, S, S, &ir, &g, 0), 0);
        early += lm_mask_area(m, S, S);
        lm_rng_init(&g, 9, 0, i, LM_RNG_MASK);
        ck_assert_int_eq(lm_mask_irregular(m, S, S, &ir, &g, 1000), 0);
        late += lm_mask_area(m, S, S);
    }
    /* early: at most 2 strokes of 5 segments of 10 px by 5 px (+ caps) */
    ck_assert_msg(early / 100 < 0.05 && late / 100 > 4 * early / 100, "early %g late %g", early / 100,
                  late / 100);
}
END_TEST

/* ---- distribution parity with the official generators -------------------------------- */

static double json_num(const char *from, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(from, pat);
    ck_assert_msg(p != NULL, "stats.json: missing %s", key);
    return strtod(p + strlen(pat), NULL);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy.percentile, linear interpolation; v sorted */
static double pct(const double *v, int n, double q) {
    double pos = q / 100.0 * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (v[lo + 1] - v[lo]) * (pos - lo);
}

START_TEST(test_stats_match_official) {
    char *js = slurp(FIX "stats.json", NULL);
    const char *const *names = lm_mask_preset_names();
    const int N = 2000;
    int failures = 0;
    printf("%-18s %-6s %10s %10s %10s %10s   (ours / official; ~ = outside 5%% but inside the "
           "99.9%% order-statistic interval)\n", "preset", "stat", "mean", "q25", "q50", "q75");
    for (int p = 0; names[p]; p++) {
        char key[80];
        snprintf(key, sizeof key, "\"%s\": {", names[p]);
        const char *sec = strstr(js, key);
        ck_assert_msg(sec != NULL, "stats.json: no preset %s", names[p]);
        int S = (int)json_num(sec, "size");
        lm_mask_cfg c;
        ck_assert_int_eq(lm_mask_preset(&c, names[p]), 0);
        double *area = malloc(sizeof(double) * N), *width = malloc(sizeof(double) * N);
        int *wok = malloc(sizeof(int) * N), err = 0;
#pragma omp parallel for schedule(dynamic, 8) reduction(| : err)
        for (int i = 0; i < N; i++) {
            uint8_t *m = malloc((size_t)S * S);
            lm_rng r;
            lm_rng_init(&r, 2024, 0, (uint64_t)i, LM_RNG_MASK);
            err |= m == NULL || lm_mask_generate(m, S, S, &c, &r, -1) != 0;
            if (m && !err) {
                area[i] = lm_mask_area(m, S, S);
                wok[i] = lm_mask_width(&width[i], m, S, S) == 0;
            } else {
                wok[i] = 0, area[i] = 0;
            }
            free(m);
        }
        ck_assert_msg(!err, "%s: generation failed", names[p]);
        int nw = 0;
        for (int i = 0; i < N; i++)
            if (wok[i]) width[nw++] = width[i];
        qsort(area, N, sizeof(double), cmp_double);
        qsort(width, nw, sizeof(double), cmp_double);
        const char *stat[2] = {"area", "width"};
        for (int s = 0; s < 2; s++) {
            double *v = s ? width : area;
            int n = s ? nw : N;
            double mean = 0;
            for (int i = 0; i < n; i++) mean += v[i];
            mean /= n;
            double ours[4] = {mean, pct(v, n, 25), pct(v, n, 50), pct(v, n, 75)};
            const double qs[4] = {0, 25, 50, 75};
            char sk[16];
            snprintf(sk, sizeof sk, "\"%s\": {", stat[s]);
            const char *ss = strstr(sec, sk);
            ck_assert(ss != NULL);
            double ref[4] = {json_num(ss, "mean"), json_num(ss, "q25"), json_num(ss, "q50"),
                             json_num(ss, "q75")};
            printf("%-18s %-6s", names[p], stat[s]);
            int nref = (int)json_num(sec, "count");
            for (int k = 0; k < 4; k++) {
                double rel = fabs(ours[k] - ref[k]) / fabs(ref[k]);
                int bad = rel > 0.05, ci = 0;
                if (bad && k > 0) {
                    /* An ill-conditioned quartile (medium_256's area q25 lies in the gap between
                     * the box masks, 23% of the mixture, and the stroke masks: across seeds it
                     * moves by ±11% at N = 2000, ±5% at N = 10000, see the report). Accept it
                     * only if the official value lies in the distribution-free 99.9% interval
                     * of our quantile (order statistics N·p ± 3.3·sqrt(N·p·(1−p)), widened for
                     * the reference's own sample size). */
                    double pq = qs[k] / 100, sd = sqrt(n * pq * (1 - pq) * (1 + (double)n / nref));
                    int lo = (int)floor(pq * (n - 1) - 3.3 * sd), hi = (int)ceil(pq * (n - 1) + 3.3 * sd);
                    if (lo < 0) lo = 0;
                    if (hi > n - 1) hi = n - 1;
                    ci = ref[k] >= v[lo] && ref[k] <= v[hi];
                    bad = !ci;
                }
                failures += bad;
                printf(" %7.4g/%-7.4g%s", ours[k], ref[k], bad ? "!" : ci ? "~" : " ");
            }
            printf("\n");
        }
        free(area), free(width), free(wok);
    }
    free(js);
    ck_assert_msg(failures == 0, "%d statistics differ from the official ones by more than 5%%", failures);
}
END_TEST

/* ---- the CLI: lamac masks ------------------------------------------------------------- */

START_TEST(test_cli_masks) {
    const char *bin = lm_test_lamac_bin();
    char dir[] = "/tmp/lamac_masksXXXXXX", cmd[1024], p[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "%s masks --preset random_medium_256 --count 5 --size 96 --out %s/m --seed 4 2>/dev/null", bin, dir);
    ck_assert_int_eq(system(cmd), 0);
    lm_mask_cfg c;
    lm_mask_preset(&c, "random_medium_256");
    for (int i = 0; i < 5; i++) {
        lm_image img;
        snprintf(p, sizeof p, "%s/m/mask_%06d.png", dir, i);
        ck_assert_msg(lm_image_read(&img, p, 1) == 0, "%s", lm_err_msg());
        ck_assert(img.w == 96 && img.h == 96);
        uint8_t m[96 * 96];
        gen(m, 96, 96, &c, 4, (uint64_t)i); /* the documented stream (seed, 0, i, mask) */
        for (int k = 0; k < 96 * 96; k++) ck_assert_int_eq(img.data[k], m[k] * 255);
        lm_image_free(&img);
    }
    /* evaluation set from images: one square crop + mask per readable image */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/src/sub && cp tests/fixtures/images/rgb8.png %s/src/a.png && "
             "cp tests/fixtures/images/rgb.jpg %s/src/sub/b.jpg && cp tests/fixtures/images/truncated.png %s/src/c.png && "
             "ln -s .. %s/src/sub/loop", /* a directory cycle: not followed */
             dir, dir, dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s masks --preset random_thick_256 --src %s/src --out %s/ev 2>%s/err.txt", bin, dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    const char *outs[] = {"a_crop000.png", "a_crop000_mask000.png", "sub/b_crop000.png", "sub/b_crop000_mask000.png"};
    for (int i = 0; i < 4; i++) {
        lm_image img;
        snprintf(p, sizeof p, "%s/ev/%s", dir, outs[i]);
        ck_assert_msg(lm_image_read(&img, p, 3) == 0, "%s", lm_err_msg());
        ck_assert(img.w == 256 && img.h == 256);
        lm_image_free(&img);
    }
    snprintf(cmd, sizeof cmd, "grep -q 'c.png' %s/err.txt", dir);
    ck_assert_int_eq(system(cmd), 0); /* the corrupt image is named in a warning */
    /* bad input: unknown preset, unwritable output */
    snprintf(cmd, sizeof cmd, "%s masks --preset nope --count 1 --out %s/x 2>%s/err.txt", bin, dir, dir);
    ck_assert_int_ne(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "grep -q \"unknown mask preset 'nope'\" %s/err.txt", dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s masks --preset train --count 1 --out /proc/lamac_no 2>%s/err.txt", bin, dir);
    ck_assert_int_ne(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "grep -q /proc/lamac_no %s/err.txt", dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *check_masks_suite(void) {
    Suite *s = suite_create("masks");
    TCase *tc = tcase_create("raster");
    tcase_add_test(tc, test_raster_horizontal_line);
    tcase_add_test(tc, test_raster_matches_opencv);
    tcase_add_test(tc, test_edt_matches_brute_force);
    suite_add_tcase(s, tc);
    tc = tcase_create("generators");
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_presets_and_errors);
    tcase_add_test(tc, test_box_margin_and_counts);
    tcase_add_test(tc, test_superres_outpainting_invert);
    tcase_add_test(tc, test_ramp_schedule);
    tcase_add_test(tc, test_cli_masks);
    suite_add_tcase(s, tc);
    tc = tcase_create("parity");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_stats_match_official);
    suite_add_tcase(s, tc);
    return s;
}
