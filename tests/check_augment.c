/* check_augment.c — data/augment + data/color against OpenCV references
 * (tests/fixtures/augment, made by tests/ref/gen_aug_fixtures.py) and exact identities. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/augment.h"
#include "data/color.h"

#define FIX "tests/fixtures/augment/"

static uint8_t *load(const char *name, size_t n) {
    char p[512];
    snprintf(p, sizeof p, FIX "%s", name);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "missing fixture %s", p);
    uint8_t *b = malloc(n);
    ck_assert_uint_eq(fread(b, 1, n, f), n);
    fclose(f);
    return b;
}

/* max |a - b| over pixels at least `margin` from the border of (h, w, c) */
static int maxdiff(const uint8_t *a, const uint8_t *b, int h, int w, int c, int margin) {
    int m = 0;
    for (int y = margin; y < h - margin; y++)
        for (int x = margin; x < w - margin; x++)
            for (int k = 0; k < c; k++) {
                int d = abs((int)a[(y * w + x) * c + k] - (int)b[(y * w + x) * c + k]);
                m = d > m ? d : m;
            }
    return m;
}

typedef struct {
    const uint8_t *img;
    int w;
    int calls;
} mem_src;

static int mem_read(void *ctx, uint8_t *dst, int y0, int x0, int rh, int rw) {
    mem_src *s = ctx;
    s->calls++;
    for (int y = 0; y < rh; y++) memcpy(dst + (size_t)y * rw * 3, s->img + ((size_t)(y0 + y) * s->w + x0) * 3, (size_t)rw * 3);
    return 0;
}

static void plan_blank(lm_aug_plan *p, int n, int h, int w) {
    memset(p, 0, sizeof *p);
    p->variant = LM_AUG_NO_AUGS;
    p->out_size = n;
    p->src_h = p->scaled_h = p->padded_h = h;
    p->src_w = p->scaled_w = p->padded_w = w;
}

START_TEST(test_identity_exact) {
    uint8_t *src = load("src_64x64x3.u8", 64 * 64 * 3), out[64 * 64 * 3];
    mem_src ms = {src, 64, 0};
    lm_aug_plan p;
    plan_blank(&p, 64, 64, 64);
    /* identity affine and identity homography */
    p.affine_on = p.persp_on = 1;
    double A[6] = {1, 0, 0, 0, 1, 0}, H[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(p.affine_inv, A, sizeof A);
    memcpy(p.persp_h, H, sizeof H);
    ck_assert_int_eq(lm_aug_sample(out, &p, mem_read, &ms), 0);
    ck_assert_int_eq(memcmp(out, src, sizeof out), 0);
    /* no_augs drawn from a key: the identity too */
    lm_rng r;
    lm_rng_init(&r, 1, 2, 3, LM_RNG_AUG);
    lm_aug_plan_draw(&p, LM_AUG_NO_AUGS, 64, 64, 64, &r);
    memset(out, 0, sizeof out);
    ck_assert_int_eq(lm_aug_sample(out, &p, mem_read, &ms), 0);
    ck_assert_int_eq(memcmp(out, src, sizeof out), 0);
    /* brightness/contrast with alpha 1, beta 0 and zero HSV shifts: identity */
    lm_color_brightness_contrast(out, 64, 64, 1.0, 0.0);
    lm_color_hsv_shift(out, 64, 64, 0, 0, 0);
    ck_assert_int_eq(memcmp(out, src, sizeof out), 0);
    free(src);
}
END_TEST

START_TEST(test_affine_matches_cv2) {
    uint8_t *src = load("src_64x64x3.u8", 64 * 64 * 3), *ref = load("affine_64x64x3.u8", 64 * 64 * 3);
    uint8_t out[64 * 64 * 3];
    double M[6];
    FILE *f = fopen(FIX "affine_M.txt", "r");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(fscanf(f, "%lf", &M[i]), 1);
    fclose(f);
    ck_assert_int_eq(lm_aug_warp_affine(out, 64, 64, src, 64, 64, M, 0), 0);
    int d = maxdiff(out, ref, 64, 64, 3, 4), db = maxdiff(out, ref, 64, 64, 3, 0);
    printf("affine vs cv2.warpAffine: max diff interior %d, with borders %d\n", d, db);
    /* measured 2 (interior) and 2 (whole image, reflected borders): margin 0, since both are
     * integer results of the same fixed-point bilinear weights and a change shows at once */
    ck_assert_int_le(d, 2);
    ck_assert_int_le(db, 2); /* borders: same reflection */
    free(src);
    free(ref);
}
END_TEST

/* A real homography (projective terms non-zero, corners outside the source so the replicate
 * border is reached) through the sampler's perspective stage, against cv2.warpPerspective
 * (INTER_LINEAR | WARP_INVERSE_MAP, BORDER_REPLICATE: imgaug PerspectiveTransform's warp). */
START_TEST(test_perspective_matches_cv2) {
    uint8_t *src = load("src_64x64x3.u8", 64 * 64 * 3), *ref = load("persp_64x64x3.u8", 64 * 64 * 3);
    uint8_t out[64 * 64 * 3];
    mem_src ms = {src, 64, 0};
    lm_aug_plan p;
    plan_blank(&p, 64, 64, 64);
    p.persp_on = 1;
    FILE *f = fopen(FIX "persp_H.txt", "r");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 9; i++) ck_assert_int_eq(fscanf(f, "%lf", &p.persp_h[i]), 1);
    fclose(f);
    ck_assert(fabs(p.persp_h[6]) > 1e-3 && fabs(p.persp_h[7]) > 1e-3); /* not an affine map */
    ck_assert_int_eq(lm_aug_sample(out, &p, mem_read, &ms), 0);
    int d = maxdiff(out, ref, 64, 64, 3, 0), moved = 0;
    for (int i = 0; i < 64 * 64 * 3; i++) moved += out[i] != src[i];
    printf("perspective vs cv2.warpPerspective: max diff %d (%d of 12288 samples differ from the source)\n", d,
           moved);
    ck_assert_int_gt(moved, 6000); /* the warp did something */
    /* measured 0; margin 1 (cv2's 5-bit fixed-point bilinear weights vs our float ones can
     * round one level apart, as the affine case shows) */
    ck_assert_int_le(d, 1);
    free(src);
    free(ref);
}
END_TEST

START_TEST(test_optical_matches_cv2) {
    uint8_t *src = load("src_64x64x3.u8", 64 * 64 * 3), *ref = load("optical_k005_64x64x3.u8", 64 * 64 * 3);
    uint8_t out[64 * 64 * 3];
    mem_src ms = {src, 64, 0};
    lm_aug_plan p;
    plan_blank(&p, 64, 64, 64);
    p.optical_on = 1;
    p.optical_k = 0.05;
    ck_assert_int_eq(lm_aug_sample(out, &p, mem_read, &ms), 0);
    int d = maxdiff(out, ref, 64, 64, 3, 2);
    printf("optical distortion vs cv2.remap: max interior diff %d\n", d);
    ck_assert_int_le(d, 1); /* measured 0; margin 1 (one rounding step of cv2's fixed-point remap) */
    free(src);
    free(ref);
}
END_TEST

START_TEST(test_flip_and_pad) {
    uint8_t *src = load("src_64x64x3.u8", 64 * 64 * 3), out[64 * 64 * 3];
    mem_src ms = {src, 64, 0};
    lm_aug_plan p;
    plan_blank(&p, 64, 64, 64);
    p.flip = 1;
    ck_assert_int_eq(lm_aug_sample(out, &p, mem_read, &ms), 0);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            for (int c = 0; c < 3; c++) ck_assert_uint_eq(out[(y * 64 + x) * 3 + c], src[(y * 64 + 63 - x) * 3 + c]);
    /* an image smaller than the crop: 40 x 50 region of src, padded to 64 reflect-101,
     * centred (top 12, left 7), as A.PadIfNeeded */
    uint8_t small[40 * 50 * 3];
    for (int y = 0; y < 40; y++) memcpy(small + y * 50 * 3, src + y * 64 * 3, 50 * 3);
    mem_src ss = {small, 50, 0};
    lm_rng r;
    lm_rng_init(&r, 7, 0, 0, LM_RNG_AUG);
    lm_aug_plan_draw(&p, LM_AUG_NO_AUGS, 64, 40, 50, &r);
    ck_assert_int_eq(p.pad_top, 12);
    ck_assert_int_eq(p.pad_left, 7);
    ck_assert_int_eq(lm_aug_sample(out, &p, mem_read, &ss), 0);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            int sy = y - 12, sx = x - 7;
            sy = sy < 0 ? -sy : sy > 39 ? 78 - sy : sy;
            sx = sx < 0 ? -sx : sx > 49 ? 98 - sx : sx;
            for (int c = 0; c < 3; c++) ck_assert_uint_eq(out[(y * 64 + x) * 3 + c], small[(sy * 50 + sx) * 3 + c]);
        }
    free(src);
}
END_TEST

START_TEST(test_brightness_contrast_formula) {
    uint8_t px[6] = {100, 0, 250, 10, 128, 255};
    lm_color_brightness_contrast(px, 1, 2, 1.1, 0.1);
    /* lut = clip(i * 1.1 + 0.1 * 255, 0, 255), float32, truncated */
    ck_assert_uint_eq(px[0], 135); /* 110 + 25.5 = 135.5 -> 135 */
    ck_assert_uint_eq(px[1], 25);  /* 25.5 -> 25 */
    ck_assert_uint_eq(px[2], 255); /* clipped */
    ck_assert_uint_eq(px[3], 36);  /* 11 + 25.5 = 36.5 -> 36 */
    ck_assert_uint_eq(px[4], 166); /* 140.8 + 25.5 = 166.3 */
    uint8_t q[3] = {100, 20, 200};
    lm_color_brightness_contrast(q, 1, 1, 0.8, -0.2); /* 80 - 51 = 29; 16 - 51 < 0; 160 - 51 = 109 */
    ck_assert_uint_eq(q[0], 29);
    ck_assert_uint_eq(q[1], 0);
    ck_assert_uint_eq(q[2], 109);
}
END_TEST

START_TEST(test_hsv_matches_cv2) {
    uint8_t *px = load("px_64x64x3.u8", 64 * 64 * 3), *ref = load("px_hsv_64x64x3.u8", 64 * 64 * 3);
    uint8_t *hin = load("hsvin_64x64x3.u8", 64 * 64 * 3), *href = load("hsvin_rgb_64x64x3.u8", 64 * 64 * 3);
    int bad = 0, maxd = 0;
    for (int i = 0; i < 64 * 64; i++) {
        uint8_t o[3];
        lm_color_rgb2hsv(px + 3 * i, o);
        bad += memcmp(o, ref + 3 * i, 3) != 0;
        lm_color_hsv2rgb(hin + 3 * i, o);
        for (int c = 0; c < 3; c++) {
            int d = abs(o[c] - href[3 * i + c]);
            maxd = d > maxd ? d : maxd;
        }
    }
    printf("rgb2hsv mismatches %d / 4096; hsv2rgb max diff %d\n", bad, maxd);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_le(maxd, 1); /* measured 1: margin 0 */
    uint8_t *src = load("src_64x64x3.u8", 64 * 64 * 3), *sref = load("hsvshift_3.7_-12.3_4.2_64x64x3.u8", 64 * 64 * 3);
    lm_color_hsv_shift(src, 64, 64, 3.7, -12.3, 4.2);
    int d = maxdiff(src, sref, 64, 64, 3, 0);
    printf("HueSaturationValue vs reference: max diff %d\n", d);
    ck_assert_int_le(d, 1); /* measured 1: margin 0 */
    free(px), free(ref), free(hin), free(href), free(src), free(sref);
}
END_TEST

START_TEST(test_clahe_matches_cv2) {
    uint8_t *g = load("gray_64x64.u8", 64 * 64), *r = load("clahe_gray_64x64.u8", 64 * 64);
    ck_assert_int_eq(lm_color_clahe_gray(g, 64, 64, 2.0, 8), 0);
    int d1 = maxdiff(g, r, 64, 64, 1, 0);
    uint8_t *g2 = load("gray_60x70.u8", 60 * 70), *r2 = load("clahe_gray_60x70.u8", 60 * 70);
    ck_assert_int_eq(lm_color_clahe_gray(g2, 60, 70, 3.0, 8), 0);
    int d2 = maxdiff(g2, r2, 60, 70, 1, 0);
    uint8_t *src = load("src_64x64x3.u8", 64 * 64 * 3), *r3 = load("clahe_rgb_64x64x3.u8", 64 * 64 * 3);
    ck_assert_int_eq(lm_color_clahe(src, 64, 64, 2.5, 8), 0);
    int d3 = maxdiff(src, r3, 64, 64, 3, 0);
    double mean = 0;
    for (int i = 0; i < 64 * 64 * 3; i++) mean += abs((int)src[i] - (int)r3[i]);
    mean /= 64 * 64 * 3;
    printf("CLAHE vs cv2: gray 64x64 %d, gray 60x70 %d, RGB (float Lab approx) max %d mean %.2f\n", d1, d2, d3,
           mean);
    ck_assert_int_eq(d1, 0);
    ck_assert_int_eq(d2, 0);
    /* our L differs from OpenCV's fixed-point L by <= 1 level; CLAHE's steep LUTs amplify
     * that (documented approximation): measured max 13, mean 2.45; margins 2 and 0.25 */
    ck_assert_double_le(mean, 2.7);
    ck_assert_int_le(d3, 15);
    free(g), free(r), free(g2), free(r2), free(src), free(r3);
}
END_TEST

/* Reading only the map's bounding box gives exactly what sampling the whole image gives,
 * and the plan is a pure function of the rng key. */
START_TEST(test_region_read_equals_full) {
    int h = 300, w = 420, n = 128;
    uint8_t *img = malloc((size_t)h * w * 3), *a = malloc((size_t)n * n * 3), *b = malloc((size_t)n * n * 3);
    for (int i = 0; i < h * w * 3; i++) img[i] = (uint8_t)((i * 2654435761u) >> 24);
    float *map = malloc(sizeof(float) * 2 * n * n);
    for (int v = 0; v < LM_AUG_N_VARIANTS; v++)
        for (int s = 0; s < 12; s++) {
            lm_rng r1, r2;
            lm_rng_init(&r1, 5, 1, (uint64_t)s, LM_RNG_AUG);
            lm_rng_init(&r2, 5, 1, (uint64_t)s, LM_RNG_AUG);
            lm_aug_plan p, q;
            lm_aug_plan_draw(&p, (lm_aug_variant)v, n, h, w, &r1);
            lm_aug_plan_draw(&q, (lm_aug_variant)v, n, h, w, &r2);
            ck_assert_int_eq(memcmp(&p, &q, sizeof p), 0);
            mem_src ms = {img, w, 0};
            ck_assert_int_eq(lm_aug_sample(a, &p, mem_read, &ms), 0);
            lm_aug_geometry(map, &p);
            for (int i = 0; i < n * n; i++) {
                ck_assert(map[2 * i] >= 0 && map[2 * i] <= w - 1);
                ck_assert(map[2 * i + 1] >= 0 && map[2 * i + 1] <= h - 1);
            }
            lm_aug_remap(b, n, n, map, img, 0, 0, h, w);
            ck_assert_int_eq(lm_aug_color(b, &p), 0);
            ck_assert_int_eq(memcmp(a, b, (size_t)n * n * 3), 0);
        }
    free(img), free(a), free(b), free(map);
}
END_TEST

START_TEST(test_variant_names) {
    lm_aug_variant v;
    ck_assert_int_eq(lm_aug_variant_parse(&v, "distortions_light"), 0);
    ck_assert_int_eq(v, LM_AUG_DISTORTIONS_LIGHT);
    ck_assert_str_eq(lm_aug_variant_name(v), "distortions_light");
    ck_assert_int_lt(lm_aug_variant_parse(&v, "distortion"), 0);
    /* the distortions variant actually distorts some samples and not others (p = 0.5) */
    int on = 0;
    for (int s = 0; s < 200; s++) {
        lm_rng r;
        lm_rng_init(&r, 9, 0, (uint64_t)s, LM_RNG_AUG);
        lm_aug_plan p;
        lm_aug_plan_draw(&p, LM_AUG_DISTORTIONS, 256, 512, 512, &r);
        on += p.affine_on;
        ck_assert(p.crop_x >= 0 && p.crop_x <= 256 && p.crop_y >= 0 && p.crop_y <= 256);
        ck_assert(!p.optical_on || fabs(p.optical_k) <= 0.05);
        ck_assert(p.optical_dx == 0 && p.optical_dy == 0);
    }
    ck_assert(on > 60 && on < 140);
}
END_TEST

Suite *check_augment_suite(void) {
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("augment");
    tcase_add_test(tc, test_identity_exact);
    tcase_add_test(tc, test_affine_matches_cv2);
    tcase_add_test(tc, test_optical_matches_cv2);
    tcase_add_test(tc, test_perspective_matches_cv2);
    tcase_add_test(tc, test_flip_and_pad);
    tcase_add_test(tc, test_brightness_contrast_formula);
    tcase_add_test(tc, test_hsv_matches_cv2);
    tcase_add_test(tc, test_clahe_matches_cv2);
    tcase_add_test(tc, test_region_read_equals_full);
    tcase_add_test(tc, test_variant_names);
    suite_add_tcase(s, tc);
    return s;
}
