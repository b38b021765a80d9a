/* generator.h — the inpainting generators behind one interface (official
 * saicinpainting/training/modules/__init__.py make_generator):
 *   ffc_resnet               FFCResNetGenerator (LaMa, big-lama)        model/ffc*.c
 *   pix2pixhd_global         GlobalGenerator (LaMa-Regular)             model/pix2pixhd*.c
 *   pix2pixhd_multidilated   GlobalGenerator, multidilated blocks (cat_in)
 * Options are a plain struct (filled from the YAML `generator:` group by config/); an
 * option lamac does not build (spatial transform, SE, ...) is rejected by create() with
 * a message naming it. Parameters are registered in the caller's lm_params with the
 * official keys WITHOUT the "generator." prefix ("model.1.ffc.convl2l.weight"). */
#ifndef LM_GENERATOR_H
#define LM_GENERATOR_H

#include "model/graph.h"
#include "model/param.h"

typedef struct lm_ffc_kwargs {
    double ratio_gin, ratio_gout;
    int enable_lfu;            /* local Fourier unit */
    int gated;                 /* FFC gating */
    int spectral_pos_encoding; /* adds 2 coordinate channels in FourierUnit */
    int use_se;                /* squeeze-excitation in FourierUnit: not built -> error */
    char fft_norm[16];         /* "ortho" (default), "backward", "forward" */
} lm_ffc_kwargs;

typedef enum lm_out_act { LM_ACT_NONE = 0, LM_ACT_SIGMOID, LM_ACT_TANH } lm_out_act;

typedef struct lm_generator_opts {
    char kind[32]; /* ffc_resnet | pix2pixhd_global | pix2pixhd_multidilated */
    int input_nc, output_nc, ngf, n_downsampling, n_blocks, max_features;
    lm_out_act add_out_act; /* YAML true means tanh, as the official code */
    /* ffc_resnet */
    lm_ffc_kwargs init_conv_kwargs, downsample_conv_kwargs, resnet_conv_kwargs;
    int out_ffc;                 /* not built -> error */
    int spatial_transform;       /* spatial_transform_layers given: not built -> error */
    /* pix2pixhd_* */
    char conv_kind[16];          /* "default" */
    int multidilation_dilation_num; /* pix2pixhd_multidilated: 4 */
    char multidilation_comb_mode[16]; /* "cat_in" */
} lm_generator_opts;


typedef struct lm_generator lm_generator;

int lm_generator_create(lm_generator **out, lm_params *p, const lm_generator_opts *o);
/* x (N, input_nc, H, W) -> (N, output_nc, H, W); H, W multiples of 2^n_downsampling.
 * training=1 uses batch statistics and advances BatchNorm running stats. NULL on failure,
 * with the lm_err message set ("generator forward: <shim message>", code LM_ETORCH). */
lt_tensor *lm_generator_forward(lm_generator *g, lt_tensor *x, int training);
void lm_generator_free(lm_generator *g);

/* The generator split as the official refiner splits it (saicinpainting/evaluation/
 * refinement.py: front = model[0 : first residual block], rear = the rest), ffc_resnet only
 * (another kind is an LM_ENOTSUP error naming it; pix2pixhd has no (local, global) front).
 *   lm_generator_front: x (N, input_nc, H, W) -> the bottleneck pair z_l (N, C_l, H/2^nd,
 *     W/2^nd), z_g (N, C_g, ...); a branch with no channels is NULL (not an error).
 *   lm_generator_rear: the residual blocks, ConcatTupleLayer, upsampling, output conv and
 *     activation: (z_l, z_g) -> (N, output_nc, H, W). rear(front(x)) == forward(x) exactly.
 *   lm_generator_rear_block / _rear_tail: the rear in parts (block i of
 *     lm_generator_rear_blocks(), then the tail from ConcatTupleLayer on), for recomputing
 *     one block at a time (activation checkpointing, eval/refine.c).
 * Inputs are borrowed; outputs are new handles in the caller's scope. 0 / -1 (message set,
 * "generator front: ..."), or NULL. */
int lm_generator_front(lm_generator *g, lt_tensor *x, int training, lt_tensor **z_l, lt_tensor **z_g);
lt_tensor *lm_generator_rear(lm_generator *g, lt_tensor *z_l, lt_tensor *z_g, int training);
int lm_generator_rear_blocks(const lm_generator *g); /* -1 (message) for a kind without a split */
int lm_generator_rear_block(lm_generator *g, int i, lt_tensor *x_l, lt_tensor *x_g, int training,
                            lt_tensor **out_l, lt_tensor **out_g);
lt_tensor *lm_generator_rear_tail(lm_generator *g, lt_tensor *x_l, lt_tensor *x_g, int training);
/* The generator's kind as configured ("ffc_resnet", "pix2pixhd_global", ...). */
const char *lm_generator_kind(const lm_generator *g);

/* out = the generator's eval-mode forward as an inference graph (model/graph.h), for the
 * exporters; its nodes borrow g's parameters (valid while g lives). lm_graph_free(out) after. */
int lm_generator_emit(const lm_generator *g, lm_graph *out);

/* The layer tree for summaries: the official top-level modules model.0 .. model.(n-1) and
 * their class names ("FFC_BN_ACT", "FFCResnetBlock", "ConvTranspose2d", ...; NULL if i is out
 * of range). Parameters of module i are the registry keys starting with "model.<i>.". */
int lm_generator_layers(const lm_generator *g);
const char *lm_generator_layer_kind(const lm_generator *g, int i);

#endif
