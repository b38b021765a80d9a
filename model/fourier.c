/* fourier.c — FourierUnit and SpectralTransform (with the local Fourier unit, LFU) of the
 * official saicinpainting/training/modules/ffc.py. See model/ffc.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/ffc.h"

int lm_fft_norm_parse(const char *s, lt_fft_norm *out) {
    if (!strcmp(s, "ortho")) *out = LT_FFT_ORTHO;
    else if (!strcmp(s, "backward")) *out = LT_FFT_BACKWARD;
    else if (!strcmp(s, "forward")) *out = LT_FFT_FORWARD;
    else return -1;
    return 0;
}

static lm_conv_opts conv1x1_nobias(void) {
    lm_conv_opts o = lm_conv_defaults();
    o.bias = 0;
    return o;
}

int lm_fu_init(lm_fu *u, lm_params *p, const char *name, int c, int spe, lt_fft_norm norm) {
    memset(u, 0, sizeof *u);
    u->spe = spe;
    u->norm = norm;
    lm_params_push(p, "%s", name);
    int rc = lm_conv_init(&u->conv, p, "conv_layer", 2 * c + (spe ? 2 : 0), 2 * c, 1,
                          conv1x1_nobias());
    if (!rc) rc = lm_bn_init(&u->bn, p, "bn", 2 * c);
    lm_params_pop(p);
    return rc;
}

void lm_fu_linspace01(float *v, int64_t n) {
    if (n == 1) {
        v[0] = 0;
        return;
    }
    float step = 1.0f / (float)(n - 1);
    int64_t half = n / 2;
    for (int64_t i = 0; i < n; i++)
        v[i] = i < half ? step * (float)i : 1.0f - step * (float)(n - i - 1);
}

/* Coordinates (N, 1, h, w): along H (vert=1) or along W, dtype/device of like. */
lt_tensor *lm_fu_coords(lt_tensor *like, int64_t n, int64_t h, int64_t w, int vert) {
    int64_t len = vert ? h : w;
    float *v = malloc((size_t)len * sizeof *v);
    if (!v) {
        lt_set_error("FourierUnit: out of memory");
        return NULL;
    }
    lm_fu_linspace01(v, len);
    int64_t s1[4] = {1, 1, vert ? h : 1, vert ? 1 : w}, s[4] = {n, 1, h, w};
    lt_tensor *t = lt_from_buffer(v, s1, 4, LT_F32);
    free(v);
    return lt_expand(lt_to_device(lt_to_dtype(t, lt_type(like)), lt_device_of(like)), s, 4);
}

/* Under autocast (lt_autocast_enter, trainer.precision: bf16) the FFT pair runs in float32
 * with autocast off: the input is cast to float32 first, and the spectrum that comes out of
 * the conv + BN + ReLU (in the reduced dtype) is cast back before the inverse FFT. Only the
 * 1x1 conv, BN and ReLU run under autocast. Without autocast nothing is cast (the official
 * numerics). */
lt_tensor *lm_fu_forward(const lm_fu *u, lt_tensor *x, int training) {
    if (!x) return NULL;
    int ac = lt_autocast_enabled(lt_device_of(x));
    if (ac < 0) return NULL;
    if (ac && (!(x = lt_to_dtype(x, LT_F32)) || lt_autocast_enter_off() < 0)) return NULL;
    int64_t n = lt_size(x, 0), c = lt_size(x, 1), h = lt_size(x, 2), w = lt_size(x, 3);
    int64_t dims[2] = {-2, -1}, hw[2] = {h, w};
    lt_tensor *z = lt_rfftn(x, dims, 2, u->norm);          /* (N, C, H, W/2+1) complex */
    int64_t wf = lt_size(z, 3);
    int64_t perm[5] = {0, 1, 4, 2, 3};
    lt_tensor *f = lt_permute(lt_view_as_real(z), perm, 5); /* (N, C, 2, H, Wf) */
    int64_t s4[4] = {n, 2 * c, h, wf};
    f = lt_reshape(f, s4, 4);                               /* (N, 2C, H, Wf): c0.re, c0.im, ... */
    if (u->spe && f) {
        lt_tensor *parts[3] = {lm_fu_coords(f, n, h, wf, 1), lm_fu_coords(f, n, h, wf, 0), f};
        f = lt_cat(parts, 3, 1);                            /* (N, 2C+2, H, Wf) */
    }
    if (ac) lt_autocast_exit();
    f = lt_relu_(lm_bn_forward(&u->bn, lm_conv_forward(&u->conv, f), training)); /* (N, 2C, H, Wf) */
    if (ac && (!(f = lt_to_dtype(f, LT_F32)) || lt_autocast_enter_off() < 0)) return NULL;
    int64_t s5[5] = {n, c, 2, h, wf};
    f = lt_reshape(f, s5, 5);                               /* (N, C, 2, H, Wf) */
    z = lt_complex(lt_select(f, 2, 0), lt_select(f, 2, 1)); /* (N, C, H, Wf) complex */
    lt_tensor *y = lt_irfftn(z, hw, dims, 2, u->norm);      /* (N, C, H, W) float32 */
    if (ac) lt_autocast_exit();
    return y;
}

int lm_fu_emit(const lm_fu *u, lm_graph *g, int x) {
    lm_gnode r = {.op = LM_GOP_RFFT2, .n_in = 1, .in = {x}, .norm = u->norm, .what = "FourierUnit"};
    r.c = x >= 0 ? 2 * g->n[x].c : 0;
    int f = lm_graph_add(g, r);                                /* (N, 2C, H, Wf) */
    if (u->spe) {
        lm_gnode cn = {.op = LM_GOP_COORDS, .n_in = 1, .in = {f}, .c = 2, .what = "FourierUnit"};
        int parts[2] = {lm_graph_add(g, cn), f};
        f = lm_graph_cat(g, parts, 2, 1);                      /* (N, 2C+2, H, Wf) */
    }
    f = lm_conv_emit(&u->conv, g, f, "FourierUnit.conv_layer");
    f = lm_graph_unary(g, LM_GOP_RELU, lm_bn_emit(&u->bn, g, f, "FourierUnit.bn"));
    lm_gnode ir = {.op = LM_GOP_IRFFT2, .n_in = 2, .in = {f, x}, .norm = u->norm, .what = "FourierUnit"};
    ir.c = f >= 0 ? g->n[f].c / 2 : 0;
    return lm_graph_add(g, ir);                                /* (N, C, H, W) */
}

int lm_spectral_init(lm_spectral *s, lm_params *p, const char *name, int cin, int cout, int stride,
                     const lm_ffc_kwargs *kw) {
    memset(s, 0, sizeof *s);
    s->stride = stride;
    s->enable_lfu = kw->enable_lfu;
    int half = cout / 2;
    lt_fft_norm norm;
    if (lm_fft_norm_parse(kw->fft_norm, &norm) < 0)
        return lm_err_code(LM_EINVAL, "fft_norm '%s': expected ortho, backward or forward",
                           kw->fft_norm);
    if (kw->enable_lfu && half % 4)
        return lm_err_code(LM_EINVAL, "enable_lfu: the LFU needs cout/2 = %d divisible by 4", half);
    lm_params_push(p, "%s", name);
    int rc = lm_conv_init(&s->conv1, p, "conv1.0", cin, half, 1, conv1x1_nobias());
    if (!rc) rc = lm_bn_init(&s->bn1, p, "conv1.1", half);
    if (!rc) rc = lm_fu_init(&s->fu, p, "fu", half, kw->spectral_pos_encoding, norm);
    if (!rc && kw->enable_lfu) rc = lm_fu_init(&s->lfu, p, "lfu", half, 0, LT_FFT_ORTHO);
    if (!rc) rc = lm_conv_init(&s->conv2, p, "conv2", half, cout, 1, conv1x1_nobias());
    lm_params_pop(p);
    return rc;
}

/* The LFU: the first C/4 channels cut into 4 quadrants stacked on channels (top-left,
 * bottom-left, top-right, bottom-right), FourierUnit, tiled back 2x2. The official code
 * cuts both axes at h//2, so only square maps with an even side work there; others raise. */
static lt_tensor *lfu_forward(const lm_spectral *s, lt_tensor *x, int training) {
    if (!x) return NULL;
    int64_t c = lt_size(x, 1), h = lt_size(x, 2), w = lt_size(x, 3);
    if (h != w || h % 2) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "SpectralTransform LFU (enable_lfu): needs a square feature map with an even "
                 "side, got %lldx%lld (the official code splits both axes at h//2)",
                 (long long)h, (long long)w);
        lt_set_error(msg);
        return NULL;
    }
    int64_t q = h / 2;
    lt_tensor *xq = lt_narrow(x, 1, 0, c / 4);                          /* (N, C/4, H, W) */
    lt_tensor *rows[2] = {lt_narrow(xq, 2, 0, q), lt_narrow(xq, 2, q, q)};
    lt_tensor *xs = lt_cat(rows, 2, 1);                                 /* (N, C/2, H/2, W) */
    lt_tensor *cols[2] = {lt_narrow(xs, 3, 0, q), lt_narrow(xs, 3, q, q)};
    xs = lt_cat(cols, 2, 1);                                            /* (N, C, H/2, W/2) */
    xs = lm_fu_forward(&s->lfu, xs, training);
    int64_t reps[4] = {1, 1, 2, 2};
    return lt_repeat(xs, reps, 4);                                      /* (N, C, H, W) */
}

lt_tensor *lm_spectral_forward(const lm_spectral *s, lt_tensor *x, int training) {
    if (s->stride == 2) x = lt_avg_pool2d(x, 2, 2, 0, 0, 1);            /* (N, Cin, H/2, W/2) */
    x = lt_relu_(lm_bn_forward(&s->bn1, lm_conv_forward(&s->conv1, x), training)); /* (N, C/2, ..) */
    lt_tensor *y = lt_add(x, lm_fu_forward(&s->fu, x, training));
    if (s->enable_lfu) y = lt_add(y, lfu_forward(s, x, training));
    return lm_conv_forward(&s->conv2, y);                               /* (N, Cout, h, w) */
}

int lm_spectral_emit(const lm_spectral *s, lm_graph *g, int x) {
    if (s->stride == 2) x = lm_graph_unary(g, LM_GOP_AVGPOOL2, x);
    x = lm_conv_emit(&s->conv1, g, x, "SpectralTransform.conv1");
    x = lm_graph_unary(g, LM_GOP_RELU, lm_bn_emit(&s->bn1, g, x, "SpectralTransform.conv1"));
    int y = lm_graph_binary(g, LM_GOP_ADD, x, lm_fu_emit(&s->fu, g, x));
    if (s->enable_lfu && x >= 0) {
        int c = g->n[x].c;
        g->needs_square = 1;
        int xq = lm_graph_slice(g, x, 1, 0, c / 4);                      /* (N, C/4, H, W) */
        lm_gnode half = {.op = LM_GOP_HALF, .n_in = 1, .in = {xq}, .c = c / 4, .a = {2, 0},
                         .what = "SpectralTransform.lfu"};
        int rows[2];
        rows[0] = lm_graph_add(g, half);
        half.a[1] = 1;
        rows[1] = lm_graph_add(g, half);
        int xs = lm_graph_cat(g, rows, 2, 1);                             /* (N, C/2, H/2, W) */
        half = (lm_gnode){.op = LM_GOP_HALF, .n_in = 1, .in = {xs}, .c = c / 2, .a = {3, 0},
                          .what = "SpectralTransform.lfu"};
        int cols[2];
        cols[0] = lm_graph_add(g, half);
        half.a[1] = 1;
        cols[1] = lm_graph_add(g, half);
        xs = lm_graph_cat(g, cols, 2, 1);                                 /* (N, C, H/2, W/2) */
        xs = lm_graph_unary(g, LM_GOP_REPEAT2, lm_fu_emit(&s->lfu, g, xs)); /* (N, C, H, W) */
        y = lm_graph_binary(g, LM_GOP_ADD, y, xs);
    }
    return lm_conv_emit(&s->conv2, g, y, "SpectralTransform.conv2");
}
