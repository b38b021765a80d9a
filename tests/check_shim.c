/* check_shim.c — shim/lt: every op against hand-computed values, error reporting,
 * scope ownership (live-handle counter), autograd including double backward. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <check.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "shim/lt.h"

#define EPS 1e-5

/* Asserts that t has the given shape and float values. */
static void expect(lt_tensor *t, const int64_t *shape, int nd, const float *want, int64_t n) {
    ck_assert_msg(t != NULL, "op failed: %s", lt_error());
    int64_t s[8];
    ck_assert_int_eq(lt_shape(t, s, 8), nd);
    for (int i = 0; i < nd; i++) ck_assert_int_eq(s[i], shape[i]);
    ck_assert_int_eq(lt_numel(t), n);
    lt_tensor *f = lt_to_dtype(t, LT_F32);
    float got[256];
    ck_assert(n <= 256);
    ck_assert_int_eq(lt_to_buffer(f, got, (size_t)n * sizeof(float)), 0);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= EPS + 1e-5f * fabsf(want[i]),
                      "element %ld: got %.7g want %.7g", (long)i, got[i], want[i]);
}

static lt_tensor *tf(const float *v, const int64_t *shape, int nd) {
    return lt_from_buffer(v, shape, nd, LT_F32);
}

static long g_live0;
static void setup(void) {
    g_live0 = lt_live_count();
    lt_scope_push();
}
static void teardown(void) {
    lt_scope_pop();
    ck_assert_int_eq(lt_live_count(), g_live0); /* every test's handles were freed */
}

START_TEST(test_buffers_and_creation) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t s[2] = {2, 3};
    lt_tensor *a = tf(v, s, 2);
    expect(a, s, 2, v, 6);
    ck_assert_int_eq(lt_type(a), LT_F32);
    ck_assert_int_eq(lt_device_of(a), LT_CPU);
    ck_assert_int_eq(lt_size(a, -1), 3);
    float z[6] = {0}, o[6] = {1, 1, 1, 1, 1, 1}, f7[6] = {7, 7, 7, 7, 7, 7};
    expect(lt_zeros(s, 2, LT_F32, LT_CPU), s, 2, z, 6);
    expect(lt_ones(s, 2, LT_F32, LT_CPU), s, 2, o, 6);
    expect(lt_full(s, 2, 7, LT_F32, LT_CPU), s, 2, f7, 6);
    int64_t s4[1] = {4};
    float ar[4] = {0, 0.5f, 1, 1.5f};
    expect(lt_arange(0, 2, 0.5, LT_F32, LT_CPU), s4, 1, ar, 4);
    ck_assert_double_eq_tol(lt_item(lt_scalar(2.5, LT_F64, LT_CPU)), 2.5, 1e-12);
    /* rand in [0,1), randn roughly standard */
    int64_t big[1] = {10000};
    lt_tensor *r = lt_rand(big, 1, LT_F32, LT_CPU);
    ck_assert(lt_item(lt_min(r)) >= 0 && lt_item(lt_max(r)) < 1);
    lt_tensor *g = lt_randn(big, 1, LT_F32, LT_CPU);
    ck_assert(fabs(lt_item(lt_mean(g))) < 0.05);
    ck_assert(fabs(lt_item(lt_mean(lt_mul(g, g))) - 1) < 0.05);
    lt_tensor *u = lt_uniform_(lt_empty(big, 1, LT_F32, LT_CPU), -2, -1);
    ck_assert(lt_item(lt_min(u)) >= -2 && lt_item(lt_max(u)) < -1);
    /* dtype conversion and buffer size check */
    lt_tensor *h = lt_to_dtype(a, LT_F16);
    ck_assert_int_eq(lt_type(h), LT_F16);
    uint16_t hb[6];
    ck_assert_int_eq(lt_to_buffer(h, hb, sizeof hb), 0);
    ck_assert_int_eq(hb[0], 0x3c00); /* 1.0 in IEEE half */
    ck_assert_int_eq(lt_to_buffer(a, hb, sizeof hb), -1);
    ck_assert_ptr_nonnull(strstr(lt_error(), "bytes"));
    ck_assert_int_eq(lt_to_buffer(a, NULL, 6 * sizeof(float)), -1);
    ck_assert_ptr_nonnull(strstr(lt_error(), "NULL buffer"));
    ck_assert_int_eq(lt_rng_set_state(NULL, 0), -1);
    float *p = lt_data(a);
    ck_assert_float_eq(p[5], 6);
    char d[64];
    ck_assert_str_eq(lt_describe(a, d, sizeof d), "(2, 3) F32 cpu");
    ck_assert_str_eq(lt_dtype_name(LT_BF16), "BF16");
    ck_assert_int_eq(lt_dtype_size(LT_I64), 8);
}
END_TEST

/* lt_host_reads counts each read of values to the host (and nothing else). */
START_TEST(test_host_reads) {
    lt_scope_push();
    int64_t s[1] = {4};
    lt_tensor *t = lt_ones(s, 1, LT_F32, LT_CPU);
    float v[4];
    int64_t r0 = lt_host_reads();
    lt_tensor *u = lt_add(lt_mul(t, t), t); /* ops queue work: no read */
    ck_assert_int_eq(lt_host_reads(), r0);
    ck_assert(lt_item(lt_sum(u)) == 8.0);
    ck_assert_int_eq(lt_to_buffer(u, v, sizeof v), 0);
    ck_assert_int_eq(lt_all_finite(u), 1);
    ck_assert_int_eq(lt_synchronize(LT_CPU), 0); /* CPU: nothing to wait for, not counted */
    ck_assert_int_eq(lt_host_reads(), r0 + 3);
    lt_scope_pop();
}
END_TEST

START_TEST(test_arithmetic_and_inplace) {
    float av[3] = {1, 2, 3}, bv[3] = {4, 5, 6};
    int64_t s[1] = {3};
    lt_tensor *a = tf(av, s, 1), *b = tf(bv, s, 1);
    expect(lt_add(a, b), s, 1, (float[]){5, 7, 9}, 3);
    expect(lt_sub(a, b), s, 1, (float[]){-3, -3, -3}, 3);
    expect(lt_mul(a, b), s, 1, (float[]){4, 10, 18}, 3);
    expect(lt_div(b, a), s, 1, (float[]){4, 2.5f, 2}, 3);
    expect(lt_add_scalar(a, 1), s, 1, (float[]){2, 3, 4}, 3);
    expect(lt_mul_scalar(a, -2), s, 1, (float[]){-2, -4, -6}, 3);
    expect(lt_rsub_scalar(a, 1), s, 1, (float[]){0, -1, -2}, 3);
    expect(lt_neg(a), s, 1, (float[]){-1, -2, -3}, 3);
    expect(lt_abs(lt_neg(a)), s, 1, av, 3);
    expect(lt_exp(a), s, 1, (float[]){expf(1), expf(2), expf(3)}, 3);
    expect(lt_log(a), s, 1, (float[]){0, logf(2), logf(3)}, 3);
    expect(lt_sqrt(b), s, 1, (float[]){2, sqrtf(5), sqrtf(6)}, 3);
    expect(lt_pow_scalar(a, 2), s, 1, (float[]){1, 4, 9}, 3);
    expect(lt_clamp(a, 1.5, 2.5), s, 1, (float[]){1.5f, 2, 2.5f}, 3);
    expect(lt_floor(lt_mul_scalar(a, 0.7)), s, 1, (float[]){0, 1, 2}, 3);
    expect(lt_round(lt_mul_scalar(a, 0.7)), s, 1, (float[]){1, 1, 2}, 3);
    /* broadcasting (2,1) + (3,) -> (2,3) */
    int64_t s21[2] = {2, 1}, s23[2] = {2, 3};
    expect(lt_add(tf((float[]){10, 20}, s21, 2), a), s23, 2, (float[]){11, 12, 13, 21, 22, 23}, 6);
    /* matmul (2,3)x(3,2) */
    int64_t s32[2] = {3, 2}, s22[2] = {2, 2};
    lt_tensor *m1 = tf((float[]){1, 2, 3, 4, 5, 6}, s23, 2);
    lt_tensor *m2 = tf((float[]){7, 8, 9, 10, 11, 12}, s32, 2);
    expect(lt_matmul(m1, m2), s22, 2, (float[]){58, 64, 139, 154}, 4);
    /* in place */
    lt_tensor *t = lt_clone(a);
    ck_assert_ptr_eq(lt_add_(t, b, 2), t);
    expect(t, s, 1, (float[]){9, 12, 15}, 3);
    lt_mul_scalar_(t, 0.5);
    lt_add_scalar_(t, 1);
    expect(t, s, 1, (float[]){5.5f, 7, 8.5f}, 3);
    lt_addcmul_(t, a, b, 1);
    expect(t, s, 1, (float[]){9.5f, 17, 26.5f}, 3);
    lt_addcdiv_(t, b, a, -1);
    expect(t, s, 1, (float[]){5.5f, 14.5f, 24.5f}, 3);
    lt_copy_(t, a);
    expect(t, s, 1, av, 3);
    lt_fill_(t, 3);
    expect(t, s, 1, (float[]){3, 3, 3}, 3);
    lt_zero_(t);
    expect(t, s, 1, (float[]){0, 0, 0}, 3);
    expect(a, s, 1, av, 3); /* clone did not alias */
}
END_TEST

START_TEST(test_conv) {
    /* x (1,1,3,3) = 1..9, w (1,1,2,2) = [[1,0],[0,-1]] -> x[i,j] - x[i+1,j+1] = -4 */
    int64_t sx[4] = {1, 1, 3, 3}, sw[4] = {1, 1, 2, 2}, so[4] = {1, 1, 2, 2};
    lt_tensor *x = tf((float[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, sx, 4);
    lt_tensor *w = tf((float[]){1, 0, 0, -1}, sw, 4);
    lt_tensor *b = tf((float[]){0.5f}, (int64_t[]){1}, 1);
    expect(lt_conv2d(x, w, NULL, 1, 0, 1, 1), so, 4, (float[]){-4, -4, -4, -4}, 4);
    expect(lt_conv2d(x, w, b, 1, 0, 1, 1), so, 4, (float[]){-3.5f, -3.5f, -3.5f, -3.5f}, 4);
    /* padding 1, stride 2: outputs at (-1,-1),(−1,1),(1,−1),(1,1) windows */
    expect(lt_conv2d(x, w, NULL, 2, 1, 1, 1), so, 4, (float[]){-1, -3, -7, -4}, 4);
    /* dilation 2: x[0,0] - x[2,2] = -8 */
    int64_t s1[4] = {1, 1, 1, 1};
    expect(lt_conv2d(x, w, NULL, 1, 0, 2, 1), s1, 4, (float[]){-8}, 1);
    /* groups 2: each channel convolved by its own 1x1 weight */
    int64_t sx2[4] = {1, 2, 1, 2}, sw2[4] = {2, 1, 1, 1};
    lt_tensor *x2 = tf((float[]){1, 2, 3, 4}, sx2, 4);
    expect(lt_conv2d(x2, tf((float[]){10, -1}, sw2, 4), NULL, 1, 0, 1, 2), sx2, 4,
           (float[]){10, 20, -3, -4}, 4);
    /* transposed conv: (1,1,2,2) input, (1,1,2,2) ones kernel, stride 2 -> each input fills a 2x2 block */
    int64_t st[4] = {1, 1, 4, 4};
    lt_tensor *xt = tf((float[]){1, 2, 3, 4}, so, 4);
    lt_tensor *wt = tf((float[]){1, 1, 1, 1}, sw, 4);
    expect(lt_conv_transpose2d(xt, wt, NULL, 2, 0, 0, 1, 1), st, 4,
           (float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 16);
    /* LaMa decoder shape: k3 s2 p1 output_padding 1 doubles the size */
    int64_t sd[4] = {2, 4, 5, 7}, swd[4] = {4, 3, 3, 3};
    lt_tensor *yd = lt_conv_transpose2d(lt_randn(sd, 4, LT_F32, LT_CPU),
                                        lt_randn(swd, 4, LT_F32, LT_CPU), NULL, 2, 1, 1, 1, 1);
    ck_assert_int_eq(lt_size(yd, 1), 3);
    ck_assert_int_eq(lt_size(yd, 2), 10);
    ck_assert_int_eq(lt_size(yd, 3), 14);
}
END_TEST

START_TEST(test_batch_norm) {
    /* x (2,1,1,2) = {1,2,3,4}: mean 2.5, biased var 1.25, unbiased 5/3 */
    int64_t sx[4] = {2, 1, 1, 2}, s1[1] = {1};
    lt_tensor *x = tf((float[]){1, 2, 3, 4}, sx, 4);
    lt_tensor *w = tf((float[]){2}, s1, 1), *b = tf((float[]){1}, s1, 1);
    lt_tensor *rm = lt_zeros(s1, 1, LT_F32, LT_CPU), *rv = lt_ones(s1, 1, LT_F32, LT_CPU);
    lt_tensor *y = lt_batch_norm(x, w, b, rm, rv, 1, 0.1, 1e-5);
    float sd = sqrtf(1.25f + 1e-5f);
    expect(y, sx, 4, (float[]){1 + 2 * -1.5f / sd, 1 + 2 * -0.5f / sd, 1 + 2 * 0.5f / sd, 1 + 2 * 1.5f / sd}, 4);
    expect(rm, s1, 1, (float[]){0.25f}, 1);                    /* 0.9*0 + 0.1*2.5 */
    expect(rv, s1, 1, (float[]){0.9f + 0.1f * 5.0f / 3.0f}, 1); /* unbiased */
    /* eval mode uses the running statistics and does not change them */
    lt_tensor *ye = lt_batch_norm(x, NULL, NULL, rm, rv, 0, 0.1, 1e-5);
    float s = sqrtf(0.9f + 0.5f / 3.0f + 1e-5f);
    expect(ye, sx, 4, (float[]){(1 - 0.25f) / s, (2 - 0.25f) / s, (3 - 0.25f) / s, (4 - 0.25f) / s}, 4);
    expect(rm, s1, 1, (float[]){0.25f}, 1);
}
END_TEST

START_TEST(test_activations_and_pooling) {
    int64_t s[1] = {3};
    lt_tensor *x = tf((float[]){-2, 0, 3}, s, 1);
    expect(lt_relu(x), s, 1, (float[]){0, 0, 3}, 3);
    expect(lt_leaky_relu(x, 0.2), s, 1, (float[]){-0.4f, 0, 3}, 3);
    expect(lt_sigmoid(x), s, 1, (float[]){1 / (1 + expf(2)), 0.5f, 1 / (1 + expf(-3))}, 3);
    expect(lt_tanh(x), s, 1, (float[]){tanhf(-2), 0, tanhf(3)}, 3);
    expect(lt_softplus(x), s, 1, (float[]){log1pf(expf(-2)), logf(2), log1pf(expf(3))}, 3);
    /* pooling on (1,1,4,4) = 0..15 */
    float v[16];
    for (int i = 0; i < 16; i++) v[i] = (float)i;
    int64_t s4[4] = {1, 1, 4, 4}, s2[4] = {1, 1, 2, 2}, s11[4] = {1, 1, 1, 1};
    lt_tensor *m = tf(v, s4, 4);
    expect(lt_avg_pool2d(m, 2, 2, 0, 0, 1), s2, 4, (float[]){2.5f, 4.5f, 10.5f, 12.5f}, 4);
    expect(lt_max_pool2d(m, 2, 2, 0, 1, 0), s2, 4, (float[]){5, 7, 13, 15}, 4);
    expect(lt_adaptive_avg_pool2d(m, 1, 1), s11, 4, (float[]){7.5f}, 1);
    /* max pool 3x3 s2 p1 (ResNet stem) */
    expect(lt_max_pool2d(m, 3, 2, 1, 1, 0), s2, 4, (float[]){5, 7, 13, 15}, 4);
}
END_TEST

START_TEST(test_padding_and_interpolation) {
    int64_t s[4] = {1, 1, 2, 3};
    lt_tensor *x = tf((float[]){1, 2, 3, 4, 5, 6}, s, 4);
    int64_t pad[4] = {2, 1, 1, 0}; /* left 2, right 1, top 1, bottom 0 */
    int64_t so[4] = {1, 1, 3, 6};
    expect(lt_pad(x, pad, 4, LT_PAD_REFLECT, 0), so, 4,
           (float[]){6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5}, 18);
    expect(lt_pad(x, pad, 4, LT_PAD_REPLICATE, 0), so, 4,
           (float[]){1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6}, 18);
    expect(lt_pad(x, pad, 4, LT_PAD_CONSTANT, -1), so, 4,
           (float[]){-1, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, -1, -1, -1, 4, 5, 6, -1}, 18);
    /* interpolation of (1,1,2,2) = {0,1,2,3} to 4x4 */
    int64_t s2[4] = {1, 1, 2, 2}, s44[4] = {1, 1, 4, 4};
    lt_tensor *y = tf((float[]){0, 1, 2, 3}, s2, 4);
    expect(lt_interpolate(y, 4, 4, LT_NEAREST), s44, 4,
           (float[]){0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3}, 16);
    /* bilinear, align_corners=False: sample positions -0.25, 0.25, 0.75, 1.25 clamped */
    expect(lt_interpolate(y, 4, 4, LT_BILINEAR), s44, 4,
           (float[]){0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3},
           16);
    /* nearest downsampling picks floor(i * in/out) */
    int64_t s1x2[4] = {1, 1, 1, 2};
    expect(lt_interpolate(lt_reshape(tf((float[]){0, 1, 2, 3}, (int64_t[]){4}, 1), (int64_t[]){1, 1, 1, 4}, 4), 1, 2,
                          LT_NEAREST),
           s1x2, 4, (float[]){0, 2}, 2);
}
END_TEST

START_TEST(test_shape_ops) {
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s43[2] = {4, 3}, s26[2] = {2, 6};
    lt_tensor *a = tf((float[]){1, 2, 3, 4, 5, 6}, s23, 2);
    lt_tensor *pair[2] = {a, a};
    expect(lt_cat(pair, 2, 0), s43, 2, (float[]){1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, 12);
    expect(lt_cat(pair, 2, 1), s26, 2, (float[]){1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}, 12);
    int64_t s223[3] = {2, 2, 3};
    expect(lt_stack(pair, 2, 0), s223, 3, (float[]){1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, 12);
    lt_tensor *parts[2];
    ck_assert_int_eq(lt_split(a, (int64_t[]){1, 2}, 2, 1, parts), 0);
    expect(parts[0], (int64_t[]){2, 1}, 2, (float[]){1, 4}, 2);
    expect(parts[1], (int64_t[]){2, 2}, 2, (float[]){2, 3, 5, 6}, 4);
    ck_assert_int_eq(lt_split(a, (int64_t[]){1, 1}, 2, 1, parts), -1); /* sizes must sum to 3 */
    ck_assert_ptr_null(parts[0]);
    expect(lt_narrow(a, 1, 1, 2), (int64_t[]){2, 2}, 2, (float[]){2, 3, 5, 6}, 4);
    expect(lt_reshape(a, s32, 2), s32, 2, (float[]){1, 2, 3, 4, 5, 6}, 6);
    expect(lt_contiguous(lt_permute(a, (int64_t[]){1, 0}, 2)), s32, 2, (float[]){1, 4, 2, 5, 3, 6}, 6);
    expect(lt_transpose(a, 0, 1), s32, 2, (float[]){1, 4, 2, 5, 3, 6}, 6);
    expect(lt_repeat(lt_narrow(a, 0, 0, 1), (int64_t[]){2, 1}, 2), s23, 2, (float[]){1, 2, 3, 1, 2, 3}, 6);
    expect(lt_expand(lt_narrow(a, 0, 1, 1), s23, 2), s23, 2, (float[]){4, 5, 6, 4, 5, 6}, 6);
    expect(lt_unsqueeze(a, 0), (int64_t[]){1, 2, 3}, 3, (float[]){1, 2, 3, 4, 5, 6}, 6);
    expect(lt_squeeze(lt_unsqueeze(a, 0), 0), s23, 2, (float[]){1, 2, 3, 4, 5, 6}, 6);
    expect(lt_flatten(a, 0, 1), (int64_t[]){6}, 1, (float[]){1, 2, 3, 4, 5, 6}, 6);
    expect(lt_flip(a, (int64_t[]){1}, 1), s23, 2, (float[]){3, 2, 1, 6, 5, 4}, 6);
    /* a non-contiguous view cannot hand out a raw pointer */
    ck_assert_ptr_null(lt_data(lt_transpose(a, 0, 1)));
    ck_assert_ptr_nonnull(strstr(lt_error(), "contiguous"));
}
END_TEST

START_TEST(test_fft_and_complex) {
    /* x (1,1,2,4); rfftn over (H,W) ortho: DC = sum / sqrt(8) */
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t s[4] = {1, 1, 2, 4}, dims[2] = {-2, -1}, hw[2] = {2, 4};
    lt_tensor *x = tf(v, s, 4);
    lt_tensor *z = lt_rfftn(x, dims, 2, LT_FFT_ORTHO);
    ck_assert_int_eq(lt_type(z), LT_C64);
    ck_assert_int_eq(lt_size(z, -1), 3); /* W/2 + 1 */
    lt_tensor *re = lt_real(z), *im = lt_imag(z);
    float r[6], i[6];
    ck_assert_int_eq(lt_to_buffer(lt_contiguous(re), r, sizeof r), 0);
    ck_assert_int_eq(lt_to_buffer(lt_contiguous(im), i, sizeof i), 0);
    ck_assert_float_eq_tol(r[0], 36 / sqrtf(8), 1e-5);
    ck_assert_float_eq_tol(i[0], 0, 1e-5);
    /* W frequency 1 of row sums: sum_h (x[h,1]...) -> X[0,1] = ((1+5) + (2+6)(-i) + (3+7)(-1) + (4+8)(i)) / sqrt8 */
    ck_assert_float_eq_tol(r[1], (6 - 10) / sqrtf(8), 1e-5);
    ck_assert_float_eq_tol(i[1], (-8 + 12) / sqrtf(8), 1e-5);
    /* H frequency 1, W 0: (sum row0 - sum row1)/sqrt8 */
    ck_assert_float_eq_tol(r[3], (10 - 26) / sqrtf(8), 1e-5);
    /* view_as_real / complex round trip and the inverse transform */
    lt_tensor *ri = lt_view_as_real(z);
    ck_assert_int_eq(lt_size(ri, -1), 2);
    lt_tensor *z2 = lt_complex(lt_contiguous(lt_select(ri, -1, 0)), lt_contiguous(lt_select(ri, -1, 1)));
    expect(lt_irfftn(z2, hw, dims, 2, LT_FFT_ORTHO), s, 4, v, 8);
    expect(lt_irfftn(lt_view_as_complex(lt_contiguous(ri)), hw, dims, 2, LT_FFT_ORTHO), s, 4, v, 8);
    /* half input is computed in float32 */
    ck_assert_int_eq(lt_type(lt_rfftn(lt_to_dtype(x, LT_F16), dims, 2, LT_FFT_ORTHO)), LT_C64);
}
END_TEST

START_TEST(test_reductions_and_selection) {
    int64_t s23[2] = {2, 3};
    lt_tensor *a = tf((float[]){1, -2, 3, 4, 5, -6}, s23, 2);
    ck_assert_double_eq_tol(lt_item(lt_sum(a)), 5, 1e-6);
    ck_assert_double_eq_tol(lt_item(lt_mean(a)), 5.0 / 6, 1e-6);
    ck_assert_double_eq_tol(lt_item(lt_max(a)), 5, 1e-6);
    ck_assert_double_eq_tol(lt_item(lt_min(a)), -6, 1e-6);
    ck_assert_double_eq_tol(lt_item(lt_norm(a, 2)), sqrt(91), 1e-5);
    ck_assert_double_eq_tol(lt_item(lt_norm(a, 1)), 21, 1e-5);
    expect(lt_sum_dims(a, (int64_t[]){1}, 1, 0), (int64_t[]){2}, 1, (float[]){2, 3}, 2);
    expect(lt_mean_dims(a, (int64_t[]){0}, 1, 1), (int64_t[]){1, 3}, 2, (float[]){2.5f, 1.5f, -1.5f}, 3);
    lt_tensor *b = lt_zeros(s23, 2, LT_F32, LT_CPU);
    ck_assert_double_eq_tol(lt_item(lt_mse_loss(a, b)), 91.0 / 6, 1e-5);
    ck_assert_double_eq_tol(lt_item(lt_l1_loss(a, b)), 21.0 / 6, 1e-5);
    lt_tensor *pos = lt_gt_scalar(a, 0);
    ck_assert_int_eq(lt_type(pos), LT_BOOL);
    expect(lt_where(pos, a, b), s23, 2, (float[]){1, 0, 3, 4, 5, 0}, 6);
    expect(lt_where(lt_lt_scalar(a, 0), a, b), s23, 2, (float[]){0, -2, 0, 0, 0, -6}, 6);
    expect(lt_to_dtype(lt_gt(a, b), LT_F32), s23, 2, (float[]){1, 0, 1, 1, 1, 0}, 6);
    expect(lt_to_dtype(lt_eq(a, a), LT_F32), s23, 2, (float[]){1, 1, 1, 1, 1, 1}, 6);
    ck_assert_int_eq(lt_all_finite(a), 1);
    ck_assert_int_eq(lt_all_finite(lt_log(a)), 0); /* log of negatives is NaN */
}
END_TEST

START_TEST(test_autograd) {
    int64_t s[1] = {3};
    lt_tensor *x = tf((float[]){1, 2, 3}, s, 1);
    ck_assert_int_eq(lt_set_requires_grad(x, 1), 0);
    ck_assert_int_eq(lt_has_grad(x), 0);
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(x, x))), 0);
    expect(lt_grad_of(x), s, 1, (float[]){2, 4, 6}, 3); /* d sum x² = 2x */
    ck_assert_int_eq(lt_backward(lt_sum(x)), 0);       /* accumulates */
    expect(lt_grad_of(x), s, 1, (float[]){3, 5, 7}, 3);
    ck_assert_int_eq(lt_zero_grad(x), 0);
    ck_assert_int_eq(lt_has_grad(x), 0);
    ck_assert_ptr_null(lt_grad_of(x));
    /* double backward (R1): g = d(sum x³)/dx = 3x² with create_graph; d(sum g)/dx = 6x */
    lt_tensor *f = lt_sum(lt_pow_scalar(x, 3));
    lt_tensor *g[1];
    ck_assert_int_eq(lt_grad(&f, 1, &x, 1, LT_GRAD_CREATE_GRAPH, g), 0);
    expect(g[0], s, 1, (float[]){3, 12, 27}, 3);
    ck_assert_int_eq(lt_requires_grad(g[0]), 1);
    ck_assert_int_eq(lt_backward(lt_sum(g[0])), 0);
    expect(lt_grad_of(x), s, 1, (float[]){6, 12, 18}, 3);
    /* R1-like: per-sample squared norm of a conv input gradient, then its parameter gradient */
    lt_zero_grad(x);
    lt_tensor *w = tf((float[]){2}, (int64_t[]){1, 1, 1, 1}, 4);
    lt_set_requires_grad(w, 1);
    lt_tensor *img = lt_reshape(x, (int64_t[]){1, 1, 1, 3}, 4);
    lt_tensor *d = lt_sum(lt_mul(lt_conv2d(img, w, NULL, 1, 0, 1, 1), img)); /* sum w·x² */
    ck_assert_int_eq(lt_grad(&d, 1, &img, 1, LT_GRAD_CREATE_GRAPH, g), 0); /* 2wx */
    lt_tensor *pen = lt_sum(lt_pow_scalar(g[0], 2));                         /* 4w²Σx² = 224 */
    ck_assert_double_eq_tol(lt_item(pen), 224, 1e-4);
    ck_assert_int_eq(lt_backward(pen), 0);
    expect(lt_grad_of(w), (int64_t[]){1, 1, 1, 1}, 4, (float[]){8 * 2 * 14}, 1); /* 8wΣx² */
    /* an input that does not influence the output is an error naming it (an R1 wiring
     * mistake must not give a silent zero) unless the caller allows unused inputs */
    lt_tensor *y = tf((float[]){1, 1, 1}, s, 1);
    lt_set_requires_grad(y, 1);
    lt_tensor *ins[2] = {x, y};
    lt_tensor *g2[2];
    lt_tensor *fx = lt_sum(x);
    lt_error_clear();
    ck_assert_int_eq(lt_grad(&fx, 1, ins, 2, 0, g2), -1);
    ck_assert_ptr_null(g2[0]);
    ck_assert_ptr_null(g2[1]);
    ck_assert_msg(strstr(lt_error(), "input 1 is not used") != NULL, "%s", lt_error());
    lt_error_clear();
    ck_assert_int_eq(lt_grad(&fx, 1, ins, 2, LT_GRAD_CREATE_GRAPH, g2), -1);
    ck_assert_int_eq(lt_grad(&fx, 1, ins, 2, LT_GRAD_ALLOW_UNUSED, g2), 0);
    expect(g2[0], s, 1, (float[]){1, 1, 1}, 3);
    expect(g2[1], s, 1, (float[]){0, 0, 0}, 3);
    /* no-grad region */
    ck_assert_int_eq(lt_grad_enabled(), 1);
    lt_no_grad_push();
    lt_no_grad_push();
    lt_no_grad_pop();
    ck_assert_int_eq(lt_grad_enabled(), 0);
    ck_assert_int_eq(lt_requires_grad(lt_mul(x, x)), 0);
    lt_no_grad_pop();
    ck_assert_int_eq(lt_grad_enabled(), 1);
    ck_assert_int_eq(lt_requires_grad(lt_detach(x)), 0);
}
END_TEST

START_TEST(test_errors_are_messages) {
    lt_error_clear();
    int64_t sx[4] = {1, 3, 8, 8}, sw[4] = {4, 2, 3, 3};
    lt_tensor *x = lt_zeros(sx, 4, LT_F32, LT_CPU);
    lt_tensor *w = lt_zeros(sw, 4, LT_F32, LT_CPU);
    lt_tensor *y = lt_conv2d(x, w, NULL, 1, 1, 1, 1); /* 3 input channels, weight expects 2 */
    ck_assert_ptr_null(y);
    const char *m = lt_error();
    ck_assert_msg(strlen(m) > 10, "message: '%s'", m);
    ck_assert_ptr_null(strchr(m, '\n')); /* one line, no C++ backtrace */
    char first[512];
    snprintf(first, sizeof first, "%s", m);
    /* NULL propagates without overwriting the first message */
    ck_assert_ptr_null(lt_relu(lt_batch_norm(y, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5)));
    ck_assert_str_eq(lt_error(), first);
    ck_assert_int_eq(lt_backward(NULL), -1);
    ck_assert(isnan(lt_item(NULL)));
    /* a NULL with no previous error still explains itself */
    lt_error_clear();
    ck_assert_ptr_null(lt_add(NULL, x));
    ck_assert_str_eq(lt_error(), "NULL tensor argument");
    /* more misuse: bad reshape, bad cat, item of a non-scalar, reflect pad larger than input */
    ck_assert_ptr_null(lt_reshape(x, (int64_t[]){5, 5}, 2));
    lt_tensor *pair[2] = {x, w};
    ck_assert_ptr_null(lt_cat(pair, 2, 0));
    ck_assert(isnan(lt_item(x)));
    ck_assert_ptr_null(lt_pad(x, (int64_t[]){9, 9, 9, 9}, 4, LT_PAD_REFLECT, 0));
    ck_assert_ptr_null(lt_to_device(x, LT_CUDA + 7));
    ck_assert(strlen(lt_error()) > 0);
}
END_TEST

/* Queries on NULL answer values no tensor has, with a message, so a caller can tell a
 * failed query from a real F32 / CPU answer. */
START_TEST(test_queries_on_null_are_distinguishable) {
    lt_error_clear();
    ck_assert_int_eq(lt_type(NULL), LT_DTYPE_INVALID);
    ck_assert_str_eq(lt_error(), "NULL tensor argument");
    lt_error_clear();
    ck_assert_int_eq(lt_device_of(NULL), LT_DEVICE_INVALID);
    ck_assert_str_eq(lt_error(), "NULL tensor argument");
    lt_error_clear();
    ck_assert_int_eq(lt_dim(NULL), -1);
    ck_assert_str_eq(lt_error(), "NULL tensor argument");
    lt_error_clear();
    ck_assert_int_eq(lt_numel(NULL), -1);
    ck_assert_int_eq(lt_requires_grad(NULL), -1);
    ck_assert_int_eq(lt_same_shape(NULL, NULL), 0);
    ck_assert_str_eq(lt_error(), "NULL tensor argument");
    /* an invalid answer fed back into an op fails with a message */
    int64_t s[1] = {2};
    lt_tensor *x = lt_zeros(s, 1, LT_F32, LT_CPU);
    lt_error_clear();
    ck_assert_ptr_null(lt_to_dtype(x, lt_type(NULL)));
    ck_assert_ptr_nonnull(strstr(lt_error(), "LT_DTYPE_INVALID"));
    ck_assert_ptr_null(lt_to_device(x, lt_device_of(NULL)));
    ck_assert_ptr_null(lt_zeros(s, 1, LT_DTYPE_INVALID, LT_CPU));
    ck_assert_int_eq(lt_dtype_size(LT_DTYPE_INVALID), 0);
    ck_assert_str_eq(lt_dtype_name(LT_DTYPE_INVALID), "?");
    /* real answers are unchanged */
    ck_assert_int_eq(lt_type(x), LT_F32);
    ck_assert_int_eq(lt_device_of(x), LT_CPU);
}
END_TEST

/* In-place updates of a trainable leaf: refused by libtorch with its message while grad
 * mode is on; fine inside a no-grad region (how optimizer steps run, see lt.h). */
START_TEST(test_inplace_on_trainable_leaf) {
    int64_t s[1] = {3};
    lt_tensor *w = tf((float[]){1, 2, 3}, s, 1), *d = tf((float[]){1, 1, 1}, s, 1);
    ck_assert_int_eq(lt_set_requires_grad(w, 1), 0);
    lt_error_clear();
    ck_assert_ptr_null(lt_add_(w, d, -0.5));
    ck_assert_msg(strstr(lt_error(), "leaf Variable that requires grad") != NULL, "%s", lt_error());
    ck_assert_ptr_null(lt_mul_scalar_(w, 2));
    lt_no_grad_push();
    ck_assert_ptr_eq(lt_add_(w, d, -0.5), w);
    ck_assert_ptr_eq(lt_mul_scalar_(w, 2), w);
    lt_no_grad_pop();
    expect(w, s, 1, (float[]){1, 3, 5}, 3);
    ck_assert_int_eq(lt_requires_grad(w), 1); /* still a trainable leaf */
}
END_TEST

START_TEST(test_scopes_free_everything) {
    long base = lt_live_count();
    lt_tensor *kept = NULL;
    lt_scope_push();
    ck_assert_int_eq(lt_scope_depth(), 2); /* the fixture's scope + this one */
    int64_t s[2] = {16, 16};
    lt_tensor *a = lt_randn(s, 2, LT_F32, LT_CPU);
    for (int i = 0; i < 50; i++) a = lt_tanh(lt_add_scalar(lt_mul(a, a), 0.1));
    lt_scope_push(); /* nested scope */
    lt_tensor *inner = lt_sigmoid(a);
    kept = lt_keep(lt_mul_scalar(inner, 2)); /* survives both scopes */
    lt_free(lt_relu(inner));                 /* freeing inside a scope is allowed */
    lt_scope_pop();
    ck_assert_int_gt(lt_live_count(), base + 50);
    lt_scope_pop();
    ck_assert_int_eq(lt_live_count(), base + 1);
    lt_tensor *mx = lt_keep(lt_max(kept)); /* kept handle still valid; mx is caller-owned */
    ck_assert(lt_item(mx) <= 2.0);
    ck_assert_int_eq(lt_live_count(), base + 2);
    lt_free(kept);
    lt_free(mx);
    ck_assert_int_eq(lt_live_count(), base);
    lt_free(NULL);
}
END_TEST

/* A long-lived scope with many create/free (or create/keep/free) pairs gives every slot
 * back: its size stays that of the handles it still owns (it grew by one slot per pair,
 * +158 MB for 20M pairs). */
START_TEST(test_scope_slots_stay_bounded) {
    lt_scope_push();
    int64_t s[1] = {1};
    lt_tensor *a = lt_zeros(s, 1, LT_F32, LT_CPU), *b = lt_ones(s, 1, LT_F32, LT_CPU);
    ck_assert_uint_eq(lt_scope_slots(), 2);
    size_t most = 0;
    for (int i = 0; i < 200000; i++) {
        lt_tensor *t = lt_add(a, b);
        if (i % 3 == 0) t = lt_keep(t); /* kept, then freed by its owner */
        lt_free(t);
        if (lt_scope_slots() > most) most = lt_scope_slots();
    }
    printf("shim: 200000 create/free pairs in one scope: at most %zu slots\n", most);
    ck_assert_uint_le(most, 3);
    ck_assert_uint_eq(lt_scope_slots(), 2);
    /* freeing out of order moves the last handle into the freed slot: all still found */
    lt_tensor *c = lt_mul(a, b), *d = lt_sub(a, b);
    long live = lt_live_count();
    lt_free(a); /* d moves to a's slot */
    lt_free(d);
    ck_assert_int_eq(lt_live_count(), live - 2);
    ck_assert_uint_eq(lt_scope_slots(), 2); /* b, c */
    expect(c, s, 1, (float[]){0}, 1);
    lt_scope_pop();
}
END_TEST

typedef struct foreign_free {
    lt_tensor *scoped, *owned;
    int keep_null;
    char msg[256];
} foreign_free;

static void *free_elsewhere(void *arg) {
    foreign_free *f = arg;
    lt_error_clear();
    lt_free(f->scoped); /* belongs to the other thread's scope: refused, not freed */
    snprintf(f->msg, sizeof f->msg, "%s", lt_error());
    f->keep_null = lt_keep(f->scoped) == NULL;
    lt_free(f->owned); /* caller-owned: may be freed by any thread */
    return NULL;
}

/* A handle owned by one thread's scope, freed from another thread, must not be freed
 * twice (once there, once by the scope): it is an error there, and the scope frees it. */
START_TEST(test_free_from_another_thread) {
    long base = lt_live_count();
    lt_scope_push();
    int64_t s[1] = {4};
    foreign_free f = {0};
    f.scoped = lt_zeros(s, 1, LT_F32, LT_CPU);
    f.owned = lt_keep(lt_ones(s, 1, LT_F32, LT_CPU));
    ck_assert_int_eq(lt_live_count(), base + 2);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, free_elsewhere, &f), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_msg(strstr(f.msg, "another thread") != NULL, "message: '%s'", f.msg);
    ck_assert_int_eq(f.keep_null, 1);
    ck_assert_int_eq(lt_live_count(), base + 1); /* the caller-owned one went */
    ck_assert_uint_eq(lt_scope_slots(), 1);            /* still in its scope */
    expect(f.scoped, s, 1, (float[]){0, 0, 0, 0}, 4); /* and alive */
    lt_scope_pop();
    ck_assert_int_eq(lt_live_count(), base);
}
END_TEST

START_TEST(test_seed_state_threads) {
    int64_t s[1] = {8};
    float a[8], b[8], c[8];
    lt_manual_seed(123);
    lt_to_buffer(lt_randn(s, 1, LT_F32, LT_CPU), a, sizeof a);
    long n = lt_rng_state(NULL, 0);
    ck_assert_int_gt(n, 0);
    unsigned char st[8192];
    ck_assert(n <= (long)sizeof st);
    ck_assert_int_eq(lt_rng_state(st, sizeof st), n);
    lt_to_buffer(lt_randn(s, 1, LT_F32, LT_CPU), b, sizeof b);
    ck_assert_int_eq(lt_rng_set_state(st, (size_t)n), 0);
    lt_to_buffer(lt_randn(s, 1, LT_F32, LT_CPU), c, sizeof c);
    ck_assert_mem_eq(b, c, sizeof b); /* restored state replays the stream */
    ck_assert(memcmp(a, b, sizeof a) != 0);
    lt_manual_seed(123);
    lt_to_buffer(lt_randn(s, 1, LT_F32, LT_CPU), c, sizeof c);
    ck_assert_mem_eq(a, c, sizeof a);
    int old = lt_get_num_threads();
    lt_set_num_threads(1);
    ck_assert_int_eq(lt_get_num_threads(), 1);
    /* OpenBLAS (the BLAS setup-deps installs) follows: its own pool would otherwise use every
     * core behind a --threads 1 */
    int (*openblas_get)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    printf("shim: OpenBLAS thread pool %s\n", openblas_get ? "found: checked" : "not loaded (another BLAS)");
    if (openblas_get) {
        ck_assert_int_eq(openblas_get(), 1);
        lt_set_num_threads(2);
        ck_assert_int_eq(openblas_get(), 2);
    }
    lt_set_num_threads(old);
    ck_assert_int_eq(lt_cuda_device_count() >= 0, 1);
    ck_assert_ptr_nonnull(strstr(lt_backend_info(), "libtorch"));
}
END_TEST

/* copy streams on the CPU: the synchronous equivalents (a plain copy, a no-op wait); the
 * pinned buffer is an ordinary copy of the data; NULL arguments are errors, not crashes */
START_TEST(test_copy_stream_cpu) {
    long live0 = lt_live_count();
    float v[6] = {1, 2, 3, 4, 5, 6}, w[6];
    int64_t sh[2] = {2, 3};
    lt_stream *s = lt_stream_create(LT_CPU);
    ck_assert_ptr_nonnull(s);
    lt_tensor *h = lt_from_buffer_pinned(v, sh, 2, LT_F32, LT_CPU);
    ck_assert_ptr_nonnull(h);
    v[0] = 100; /* a copy: the tensor does not see later writes */
    lt_tensor *d = lt_to_device_on(h, s);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(lt_device_of(d), LT_CPU);
    lt_tensor *ts[2] = {d, NULL};
    ck_assert_int_eq(lt_stream_wait(s, ts, 2), 0);
    ck_assert_int_eq(lt_to_buffer(d, w, sizeof w), 0);
    ck_assert_float_eq(w[0], 1);
    ck_assert_float_eq(w[5], 6);
    ck_assert_ptr_null(lt_to_device_on(h, NULL));
    ck_assert_ptr_nonnull(strstr(lt_error(), "NULL stream"));
    ck_assert_int_eq(lt_stream_wait(NULL, ts, 1), -1);
    ck_assert_ptr_null(lt_to_device_on(NULL, s));
    lt_free(d), lt_free(h);
    lt_stream_free(s);
    lt_stream_free(NULL);
    ck_assert_int_eq(lt_live_count(), live0);
}
END_TEST

Suite *check_shim_suite(void) {
    Suite *s = suite_create("shim");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_buffers_and_creation);
    tcase_add_test(tc, test_host_reads);
    tcase_add_test(tc, test_copy_stream_cpu);
    tcase_add_test(tc, test_arithmetic_and_inplace);
    tcase_add_test(tc, test_conv);
    tcase_add_test(tc, test_batch_norm);
    tcase_add_test(tc, test_activations_and_pooling);
    tcase_add_test(tc, test_padding_and_interpolation);
    tcase_add_test(tc, test_shape_ops);
    tcase_add_test(tc, test_fft_and_complex);
    tcase_add_test(tc, test_reductions_and_selection);
    tcase_add_test(tc, test_autograd);
    tcase_add_test(tc, test_errors_are_messages);
    tcase_add_test(tc, test_queries_on_null_are_distinguishable);
    tcase_add_test(tc, test_inplace_on_trainable_leaf);
    tcase_add_test(tc, test_seed_state_threads);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("scopes");
    tcase_add_checked_fixture(tl, setup, teardown);
    tcase_add_test(tl, test_scopes_free_everything);
    tcase_add_test(tl, test_scope_slots_stay_bounded);
    tcase_add_test(tl, test_free_from_another_thread);
    suite_add_tcase(s, tl);
    return s;
}
