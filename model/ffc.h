/* ffc.h — internal: the Fast Fourier Convolution blocks of the official
 * saicinpainting/training/modules/ffc.py, used by the ffc_resnet generator (model/ffc.c):
 *   lm_fu         FourierUnit           (model/fourier.c)
 *   lm_spectral   SpectralTransform     (model/fourier.c), with the optional LFU
 *   lm_ffc        FFC                   (model/ffc.c)
 *   lm_ffc_bn_act FFC_BN_ACT            (model/ffc.c)
 *   lm_ffc_block  FFCResnetBlock        (model/ffc.c)
 * A feature map is a pair (local, global) of tensors; a branch the official code holds as the
 * integer 0 is NULL here, and which branches exist is fixed at build time (has_l / has_g), so
 * a NULL where a tensor is expected is an error (message in lt_error()).
 * Parameters are registered under the caller's current prefix with the official names. */
#ifndef LM_FFC_H
#define LM_FFC_H

#include "model/generator.h"
#include "model/layers.h"

/* FourierUnit: rfftn(x) over (H, W) -> channels (c0.re, c0.im, c1.re, ...) [+ 2 coordinate
 * channels in front] -> Conv1x1 (no bias) + BN + ReLU -> complex -> irfftn to the input size. */
typedef struct lm_fu {
    lm_conv conv;         /* conv_layer: (2C [+2]) -> 2C, 1x1, no bias */
    lm_bn bn;             /* bn: 2C */
    int spe;              /* spectral_pos_encoding */
    lt_fft_norm norm;     /* fft_norm */
} lm_fu;

int lm_fu_init(lm_fu *u, lm_params *p, const char *name, int c, int spe, lt_fft_norm norm);
lt_tensor *lm_fu_forward(const lm_fu *u, lt_tensor *x, int training); /* (N,C,H,W) -> same */
int lm_fu_emit(const lm_fu *u, lm_graph *g, int x);
/* The spectral_pos_encoding channel (N, 1, h, w): torch.linspace(0, 1, ·) in float32 along H
 * (vert = 1) or W, in like's dtype and device. */
lt_tensor *lm_fu_coords(lt_tensor *like, int64_t n, int64_t h, int64_t w, int vert);
/* v[0..n) = torch.linspace(0, 1, n) in float32, as ATen computes it (from both ends). */
void lm_fu_linspace01(float *v, int64_t n);

/* SpectralTransform(cin, cout, stride): [AvgPool 2x2 if stride 2] -> conv1 (Conv1x1 cin->cout/2,
 * BN, ReLU) -> y; conv2(y + fu(y) [+ lfu quadrants]) (Conv1x1 cout/2 -> cout, no bias). */
typedef struct lm_spectral {
    int stride, enable_lfu;
    lm_conv conv1;   /* conv1.0 */
    lm_bn bn1;       /* conv1.1 */
    lm_fu fu, lfu;   /* fu (with the fu kwargs), lfu (defaults: no pos. encoding, ortho) */
    lm_conv conv2;
} lm_spectral;

int lm_spectral_init(lm_spectral *s, lm_params *p, const char *name, int cin, int cout, int stride,
                     const lm_ffc_kwargs *kw);
lt_tensor *lm_spectral_forward(const lm_spectral *s, lt_tensor *x, int training);
int lm_spectral_emit(const lm_spectral *s, lm_graph *g, int x);

/* One FFC: convl2l / convl2g / convg2l (Conv2d, no bias, reflect padding) and convg2g
 * (SpectralTransform); an absent module is the official nn.Identity on a missing branch. */
typedef struct lm_ffc {
    int in_cl, in_cg, out_cl, out_cg;
    int has_l, has_g;           /* outputs computed: ratio_gout != 1, ratio_gout != 0 */
    int has_l2l, has_l2g, has_g2l, has_g2g, gated;
    lm_conv l2l, l2g, g2l, gate; /* gate: Conv1x1 (cin -> 2, bias) when gated */
    lm_spectral g2g;
} lm_ffc;

typedef struct lm_ffc_geom {
    int cin, cout, k, stride, padding, dilation;
} lm_ffc_geom;

/* in_l / in_g: channels of the local / global branch fed in by the previous layer (0: that
 * branch is absent). Checks that the kwargs' ratio_gin splits cin the same way and that the
 * configuration is one the official code runs (else an error naming `what`). */
int lm_ffc_init(lm_ffc *f, lm_params *p, const char *name, lm_ffc_geom g, const lm_ffc_kwargs *kw,
                int in_l, int in_g, const char *what);
int lm_ffc_forward(const lm_ffc *f, lt_tensor *x_l, lt_tensor *x_g, int training,
                   lt_tensor **out_l, lt_tensor **out_g);

/* The graph twins (model/graph.h) of the pair forwards: x_l / x_g and *out_l / *out_g are node
 * ids, LM_GRAPH_ABSENT for a branch that does not exist; returns 0 or a negative error. */
#define LM_GRAPH_ABSENT (-1000000)
int lm_ffc_emit(const lm_ffc *f, lm_graph *g, int x_l, int x_g, int *out_l, int *out_g);


/* FFC_BN_ACT: the FFC, then BatchNorm and the activation (ReLU or none) on each branch. */
typedef struct lm_ffc_bn_act {
    lm_ffc ffc;
    lm_bn bn_l, bn_g;
    int relu;
} lm_ffc_bn_act;

int lm_ffc_bn_act_init(lm_ffc_bn_act *b, lm_params *p, lm_ffc_geom g, const lm_ffc_kwargs *kw,
                       int relu, int in_l, int in_g, const char *what);
int lm_ffc_bn_act_forward(const lm_ffc_bn_act *b, lt_tensor *x_l, lt_tensor *x_g, int training,
                          lt_tensor **out_l, lt_tensor **out_g);
int lm_ffc_bn_act_emit(const lm_ffc_bn_act *b, lm_graph *g, int x_l, int x_g, int *out_l, int *out_g);

/* FFCResnetBlock(dim): conv1, conv2 (FFC_BN_ACT 3x3, reflect, ReLU); residual add per branch. */
typedef struct lm_ffc_block {
    lm_ffc_bn_act conv1, conv2;
} lm_ffc_block;

int lm_ffc_block_init(lm_ffc_block *b, lm_params *p, int dim, const lm_ffc_kwargs *kw, int in_l,
                      int in_g, const char *what);
int lm_ffc_block_forward(const lm_ffc_block *b, lt_tensor *x_l, lt_tensor *x_g, int training,
                         lt_tensor **out_l, lt_tensor **out_g);
int lm_ffc_block_emit(const lm_ffc_block *b, lm_graph *g, int x_l, int x_g, int *out_l, int *out_g);

/* Parses "ortho" / "backward" / "forward"; -1 if none of them. */
int lm_fft_norm_parse(const char *s, lt_fft_norm *out);

/* The ffc_resnet generator (FFCResNetGenerator) behind lm_generator (model/generator.c). */
typedef struct lm_ffc_gen lm_ffc_gen;
int lm_ffc_gen_create(lm_ffc_gen **out, lm_params *p, const lm_generator_opts *o);
lt_tensor *lm_ffc_gen_forward(lm_ffc_gen *g, lt_tensor *x, int training);
/* The forward in the official refiner's two parts (model/generator.h lm_generator_front). */
int lm_ffc_gen_front(lm_ffc_gen *g, lt_tensor *x, int training, lt_tensor **z_l, lt_tensor **z_g);
lt_tensor *lm_ffc_gen_rear(lm_ffc_gen *g, lt_tensor *z_l, lt_tensor *z_g, int training);
int lm_ffc_gen_blocks(const lm_ffc_gen *g);
int lm_ffc_gen_block(lm_ffc_gen *g, int i, lt_tensor *x_l, lt_tensor *x_g, int training,
                     lt_tensor **out_l, lt_tensor **out_g);
lt_tensor *lm_ffc_gen_tail(lm_ffc_gen *g, lt_tensor *x_l, lt_tensor *x_g, int training);
int lm_ffc_gen_emit(const lm_ffc_gen *g, lm_graph *out); /* initialises out */
int lm_ffc_gen_layers(const lm_ffc_gen *g);
const char *lm_ffc_gen_layer_kind(const lm_ffc_gen *g, int i);
void lm_ffc_gen_free(lm_ffc_gen *g);

#endif
