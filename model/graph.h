/* graph.h — the inference graph of a generator: the eval-mode forward of model/ffc.c and
 * model/pix2pixhd.c written out as a list of nodes, for the exporters that have to express
 * the network in another runtime's language (model/export_torchscript.c, model/export_onnx.c).
 *
 * Each generator layer has an emitter next to its forward (lm_conv_emit beside
 * lm_conv_forward, ...) that appends the same computation, op for op, in eval mode (BatchNorm
 * with its running statistics, no autocast). A node produces one value, named by its index;
 * node 0 is the input x (N, input_nc, H, W) = cat(image * (1 - mask), mask), and g->out is the
 * generator's raw output (N, output_nc, H, W). Masking the input and compositing the output
 * are the exporters' business (each runtime's contract differs).
 *
 * Spatial sizes are not stored: the graph is valid for any H, W that are multiples of
 * g->modulo (and square where g->needs_square: the LFU). lm_graph_infer gives every node's
 * (C, H, W) for one input size, which the fixed-size exporters need.
 *
 * Emitters return the new node's id, or a negative error code (message in lm_err); given a
 * negative input id they return it unchanged, so a chain is checked once at its end. The
 * tensors a node points at (weights, BN statistics) are borrowed from the model's parameter
 * registry and live as long as the model. */
#ifndef LM_GRAPH_H
#define LM_GRAPH_H

#include <stdint.h>

#include "shim/lt.h"

typedef enum lm_gop {
    LM_GOP_INPUT,    /* node 0 only                                                          */
    LM_GOP_PAD,      /* a = {left, right, top, bottom}; pad_mode LT_PAD_REFLECT or _CONSTANT (0) */
    LM_GOP_CONV,     /* w (Cout, Cin/groups, k, k), b (Cout) or NULL; a = {stride, padding (zeros),
                      * dilation, groups}                                                    */
    LM_GOP_CONVT,    /* ConvTranspose2d: w (Cin, Cout/groups, k, k), b or NULL;
                      * a = {stride, padding, output_padding, groups, dilation}              */
    LM_GOP_BN,       /* eval BatchNorm2d: w, b, mean, var (C); eps                          */
    LM_GOP_RELU,
    LM_GOP_SIGMOID,
    LM_GOP_TANH,
    LM_GOP_ADD,      /* in[0] + in[1], same shape                                            */
    LM_GOP_MUL,      /* in[0] * in[1]; in[1] may have 1 channel (broadcast over channels)     */
    LM_GOP_CAT,      /* in[0..n_in) concatenated on dim a[0] (1: channels, 2: H, 3: W)         */
    LM_GOP_SLICE,    /* in[0] narrowed on dim a[0]: start a[1], length a[2]                   */
    LM_GOP_AVGPOOL2, /* AvgPool2d(2, stride 2): (N, C, H, W) -> (N, C, H/2, W/2)               */
    LM_GOP_RFFT2,    /* rfftn over (H, W), norm: (N, C, H, W) -> (N, 2C, H, W/2+1), channels
                      * c0.re, c0.im, c1.re, ... (the official FourierUnit's stack + view)     */
    LM_GOP_IRFFT2,   /* inverse of RFFT2: in[0] (N, 2C, H, Wf) in that channel order, in[1] any
                      * value whose (H, W) is the output size -> (N, C, H, W); norm           */
    LM_GOP_COORDS,   /* spectral_pos_encoding: in[0] (N, *, H, W) -> (N, 2, H, W): channel 0
                      * torch.linspace(0, 1, H) along H, channel 1 linspace(0, 1, W) along W   */
    LM_GOP_REPEAT2,  /* tile 2x2 over (H, W): (N, C, H, W) -> (N, C, 2H, 2W) (the LFU)         */
    LM_GOP_HALF,     /* one half of in[0] along dim a[0] (2: H, 3: W): a[1] = 0 the first, 1 the
                      * second (the LFU's split at h // 2 of an even, square map)             */
    LM_GOP_COUNT
} lm_gop;

#define LM_GRAPH_MAX_IN 4

typedef struct lm_gnode {
    lm_gop op;
    int n_in, in[LM_GRAPH_MAX_IN]; /* ids of earlier nodes */
    int c;                         /* output channels */
    int64_t a[5];                  /* op attributes, see lm_gop */
    lt_tensor *w, *b, *mean, *var; /* borrowed parameters (CONV, CONVT, BN) */
    double eps;                    /* BN */
    lt_fft_norm norm;              /* RFFT2, IRFFT2 */
    lt_pad_mode pad_mode;          /* PAD */
    const char *what;              /* the official module it comes from, e.g. "model.5.conv1"
                                      (static storage or NULL), for error messages */
} lm_gnode;

typedef struct lm_graph {
    lm_gnode *n;
    int len, cap;
    int out;          /* id of the generator output */
    int input_nc, output_nc;
    int modulo;       /* H and W must be multiples of it (2^n_downsampling) */
    int needs_square; /* the LFU splits both axes at H/2: H == W */
} lm_graph;

/* An empty graph holding node 0 (the input, input_nc channels). */
int lm_graph_init(lm_graph *g, int input_nc);
void lm_graph_free(lm_graph *g);

/* Appends n (its inputs must be earlier ids or negative errors); returns its id. */
int lm_graph_add(lm_graph *g, lm_gnode n);

/* Shorthands over lm_graph_add for the ops without parameters. */
int lm_graph_unary(lm_graph *g, lm_gop op, int x);             /* RELU, SIGMOID, TANH, AVGPOOL2, REPEAT2 */
int lm_graph_binary(lm_graph *g, lm_gop op, int x, int y);     /* ADD, MUL */
int lm_graph_cat(lm_graph *g, const int *ids, int n, int dim); /* CAT */
int lm_graph_slice(lm_graph *g, int x, int dim, int64_t start, int64_t len);
int lm_graph_pad(lm_graph *g, int x, int64_t p, lt_pad_mode mode); /* p on all four sides */

/* dims[i] = {C, H, W} of node i for an input of H x W; an error (naming the node's module)
 * when a size does not fit (odd size at a stride-2 layer, LFU on a non-square map). dims
 * has g->len rows. */
int lm_graph_infer(const lm_graph *g, int64_t H, int64_t W, int64_t (*dims)[3]);

/* Runs the graph with the shim's ops (model/graph_run.c): x (N, input_nc, H, W) -> the output
 * value (N, output_nc, H, W), a new handle in the current scope; NULL + lt_error() on failure.
 * The reference the exporters' files are compared with, and the check that the emitters
 * mirror the forwards. */
lt_tensor *lm_graph_run(const lm_graph *g, lt_tensor *x);

/* The op's name ("conv", "rfft2", ...), for messages and dumps. */
const char *lm_gop_name(lm_gop op);

#endif
