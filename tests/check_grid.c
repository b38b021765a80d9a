/* check_grid.c — train/grid: the sample grid's size, columns and a few pixels (image,
 * masked input, prediction, inpainted, mask boundaries red with a white outline, the
 * rescaled discriminator map), bad input. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "testutil.h"
#include "train/grid.h"

#define S 12
#define NP (S * S)

static const uint8_t *px(const uint8_t *g, int W, int row, int col, int y, int x) {
    return g + (((size_t)row * S + y) * W + (size_t)col * S + x) * 3;
}
static void expect(const uint8_t *p, int r, int g, int b) {
    ck_assert_msg(p[0] == r && p[1] == g && p[2] == b, "pixel (%d,%d,%d), expected (%d,%d,%d)", p[0], p[1], p[2], r, g,
                  b);
}

START_TEST(test_grid_pixels) {
    int n = 3;
    float *img = malloc(sizeof(float) * n * 3 * NP), *pred = malloc(sizeof(float) * n * 3 * NP);
    float *mask = calloc((size_t)n * NP, sizeof(float)), dfake[3 * 9], dreal[3 * 9];
    for (int i = 0; i < n * 3 * NP; i++) img[i] = 0.2f, pred[i] = 0.8f;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) img[(i * 3 + c) * NP] = 0.1f * (c + 1); /* pixel (0,0): 0.1, 0.2, 0.3 */
    for (int y = 2; y <= 9; y++)
        for (int x = 2; x <= 9; x++) mask[y * S + x] = 1.f; /* sample 0: hole rows/cols 2..9 */
    for (int i = 0; i < 3 * 9; i++) dfake[i] = (float)(i % 9), dreal[i] = -(float)(i % 9);
    lm_grid_input in = {n, S, S, img, mask, pred, dfake, dreal, 3, 3};
    ck_assert_int_eq(lm_grid_columns(&in), 6);
    uint8_t *g;
    int W, H;
    ck_assert_int_eq(lm_grid_render(&g, &W, &H, &in, 2), 0); /* max_items 2 of 3 */
    ck_assert_int_eq(W, 6 * S);
    ck_assert_int_eq(H, 2 * S);
    /* (0,0) is far from the hole: plain values, truncated (0.1*255 = 25.5 -> 25) */
    expect(px(g, W, 0, 0, 0, 0), 25, 51, 76);
    expect(px(g, W, 0, 1, 0, 0), 25, 51, 76);  /* masked input: known pixel */
    expect(px(g, W, 0, 2, 0, 0), 204, 204, 204); /* prediction 0.8 */
    expect(px(g, W, 0, 3, 0, 0), 25, 51, 76);  /* inpainted: known pixel from the image */
    /* hole interior (5,5): masked input black, prediction, inpainted = prediction */
    expect(px(g, W, 0, 0, 5, 5), 51, 51, 51);
    expect(px(g, W, 0, 1, 5, 5), 0, 0, 0);
    expect(px(g, W, 0, 2, 5, 5), 204, 204, 204);
    expect(px(g, W, 0, 3, 5, 5), 204, 204, 204);
    /* boundary: hole edge (2,5) and the known pixel next to it (1,5) are red; (0,5) is the
     * white outline; the inpainted column has no marks */
    for (int c = 0; c < 6; c++) {
        if (c == 3) continue;
        expect(px(g, W, 0, c, 2, 5), 255, 0, 0);
        expect(px(g, W, 0, c, 1, 5), 255, 0, 0);
        expect(px(g, W, 0, c, 0, 5), 255, 255, 255);
        expect(px(g, W, 0, c, 3, 5), 255, 255, 255);
    }
    expect(px(g, W, 0, 3, 2, 5), 204, 204, 204);
    expect(px(g, W, 0, 3, 1, 5), 51, 51, 51);
    /* corner (1,1) of the hole's outline: white (diagonal to boundary (2,2)... (1,2) is red) */
    expect(px(g, W, 0, 0, 1, 1), 255, 255, 255);
    /* sample 1 has no hole: nothing marked */
    expect(px(g, W, 1, 0, 5, 5), 51, 51, 51);
    expect(px(g, W, 1, 3, 5, 5), 51, 51, 51);
    /* discriminator maps: 3x3 -> 12x12 nearest (4x4 blocks), rescaled per sample to [0, 1):
     * fake value at block (1,1) is 4 -> 4/(8+1e-5)*255 = 127.49 -> 127; (11,11) is 8 -> 254 */
    expect(px(g, W, 1, 4, 5, 5), 127, 127, 127);
    expect(px(g, W, 1, 4, 11, 11), 254, 254, 254);
    expect(px(g, W, 1, 4, 0, 0), 0, 0, 0);
    /* real: -v, so min is -8 at block (2,2): (0,0) holds 0 -> 8/8 -> 254 */
    expect(px(g, W, 1, 5, 0, 0), 254, 254, 254);
    expect(px(g, W, 1, 5, 11, 11), 0, 0, 0);
    free(g);
    /* without discriminator maps: 4 columns; NaN predictions are drawn black */
    in.discr_fake = in.discr_real = NULL;
    pred[3 * NP + 5 * S + 5] = NAN; /* sample 1, red channel */
    ck_assert_int_eq(lm_grid_render(&g, &W, &H, &in, 10), 0);
    ck_assert_int_eq(W, 4 * S);
    ck_assert_int_eq(H, 3 * S);
    expect(px(g, W, 1, 2, 5, 5), 0, 204, 204);
    free(g);
    /* bad input */
    in.n = 0;
    ck_assert_int_eq(lm_grid_render(&g, &W, &H, &in, 2), LM_EINVAL);
    ck_assert_ptr_null(g);
    in.n = 3;
    in.pred = NULL;
    ck_assert_int_eq(lm_grid_render(&g, &W, &H, &in, 2), LM_EINVAL);
    in.pred = pred;
    in.discr_fake = dfake;
    in.dh = 0;
    ck_assert_int_eq(lm_grid_render(&g, &W, &H, &in, 2), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "discriminator"));
    in.dh = 3;
    ck_assert_int_eq(lm_grid_render(&g, &W, &H, &in, 0), LM_EINVAL);
    free(img), free(pred), free(mask);
}
END_TEST

START_TEST(test_grid_path) {
    char tmp[256], p[512], want[600];
    lm_test_tmpdir(tmp, sizeof tmp, "grid");
    ck_assert_int_eq(lm_grid_path(p, sizeof p, tmp, 3, 1250, "_train"), 0);
    snprintf(want, sizeof want, "%s/epoch0003_train/batch0001250.png", tmp);
    ck_assert_str_eq(p, want);
    struct stat st;
    snprintf(want, sizeof want, "%s/epoch0003_train", tmp);
    ck_assert(stat(want, &st) == 0 && S_ISDIR(st.st_mode));
    char small[20];
    ck_assert_int_eq(lm_grid_path(small, sizeof small, tmp, 3, 1250, "_train"), LM_EINVAL);
    ck_assert_int_eq(lm_grid_path(p, sizeof p, "/nonexistent/x", 0, 0, NULL), LM_EIO);
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_grid_suite(void) {
    Suite *s = suite_create("grid");
    TCase *tc = tcase_create("grid");
    tcase_add_test(tc, test_grid_pixels);
    tcase_add_test(tc, test_grid_path);
    suite_add_tcase(s, tc);
    return s;
}
