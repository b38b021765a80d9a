/* pix2pixhd.c — the pix2pixHD-style generators of the official
 * saicinpainting/training/modules/pix2pixhd.py:
 *   pix2pixhd_global        GlobalGenerator (LaMa-Regular): ResnetBlock = ReflectionPad 1,
 *                           Conv 3x3, BN, ReLU, ReflectionPad 1, Conv 3x3, BN; x + block(x)
 *   pix2pixhd_multidilated  MultiDilatedGlobalGenerator: MultidilatedResnetBlock whose convs are
 *                           MultidilatedConv (multidilated_conv.py) with comb_mode cat_in: the
 *                           input is chunked into dilation_num channel groups, group j goes
 *                           through Conv 3x3 (dim/n -> dim, dilation 2^j, reflect padding 2^j,
 *                           bias) and the results are summed.
 * Shared layout (nn.Sequential indices): model.0 ReflectionPad2d(3), model.1 Conv 7x7
 * (input_nc -> ngf, bias), model.2 BN, model.3 ReLU, nd x (Conv 3x3 s2 p1 zero padding, BN,
 * ReLU), n_blocks blocks, nd x (ConvTranspose2d 3x3 s2 p1 op1, BN, ReLU), ReflectionPad2d(3),
 * Conv 7x7 (ngf -> output_nc), [Sigmoid | Tanh]. conv_kind 'default' only. */
#include "model/pix2pixhd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/imath.h"
#include "model/layers.h"

#define MD_MAX 16 /* dilation_num limit */

typedef struct p2p_block {
    lm_conv c1[MD_MAX], c2[MD_MAX]; /* global: c1[0], c2[0]; multidilated: dilation_num each */
    lm_bn bn1, bn2;
} p2p_block;

struct lm_pix2pixhd_gen {
    int multidilated, dil_num, nd, nb;
    lm_out_act act;
    lm_conv in;
    lm_bn in_bn;
    lm_conv *down;  /* nd */
    lm_bn *down_bn; /* nd */
    p2p_block *blocks;
    lm_convt *up;
    lm_bn *up_bn;
    lm_conv out;
};

void lm_pix2pixhd_gen_free(lm_pix2pixhd_gen *g) {
    if (!g) return;
    free(g->down);
    free(g->down_bn);
    free(g->blocks);
    free(g->up);
    free(g->up_bn);
    free(g);
}

/* One layer at "model.<idx>" (+ "name" inside it). */
static int conv_at(lm_conv *c, lm_params *p, int idx, const char *name, int cin, int cout, int k,
                   lm_conv_opts o) {
    lm_params_push(p, "model.%d", idx);
    int rc = lm_conv_init(c, p, name, cin, cout, k, o);
    lm_params_pop(p);
    return rc;
}

static int bn_at(lm_bn *bn, lm_params *p, int idx, int c) {
    lm_params_push(p, "model.%d", idx);
    int rc = lm_bn_init(bn, p, "", c);
    lm_params_pop(p);
    return rc;
}

static int block_init(p2p_block *b, lm_params *p, int multidilated, int dil_num, int dim) {
    lm_conv_opts o = lm_conv_defaults();
    o.pad_mode = LT_PAD_REFLECT;
    o.padding = 1;
    char name[48];
    int rc = 0;
    lm_params_push(p, "conv_block");
    if (!multidilated) {
        rc = lm_conv_init(&b->c1[0], p, "1", dim, dim, 3, o);
        if (!rc) rc = lm_bn_init(&b->bn1, p, "2", dim);
        if (!rc) rc = lm_conv_init(&b->c2[0], p, "5", dim, dim, 3, o);
        if (!rc) rc = lm_bn_init(&b->bn2, p, "6", dim);
    } else {
        for (int half = 0; half < 2 && !rc; half++) {
            for (int j = 0, d = 1; j < dil_num && !rc; j++, d *= 2) {
                o.dilation = o.padding = d;
                snprintf(name, sizeof name, "%d.convs.%d", half ? 3 : 0, j);
                rc = lm_conv_init(half ? &b->c2[j] : &b->c1[j], p, name, dim / dil_num, dim, 3, o);
            }
            if (!rc) rc = lm_bn_init(half ? &b->bn2 : &b->bn1, p, half ? "4" : "1", dim);
        }
    }
    lm_params_pop(p);
    return rc;
}

int lm_pix2pixhd_gen_create(lm_pix2pixhd_gen **out, lm_params *p, const lm_generator_opts *o) {
    *out = NULL;
    int md = !strcmp(o->kind, "pix2pixhd_multidilated");
    int nd = o->n_downsampling, nb = o->n_blocks, mf = o->max_features, ngf = o->ngf;
    if (strcmp(o->conv_kind, "default") != 0)
        return lm_err_code(LM_ENOTSUP, "generator.conv_kind: '%s' is not supported by lamac "
                           "(supported: default)", o->conv_kind);
    if (nd < 0 || nb < 0 || ngf < 1 || mf < ngf || o->input_nc < 1 || o->output_nc < 1)
        return lm_err_code(LM_EINVAL, "generator: bad sizes (ngf %d, n_downsampling %d, n_blocks "
                           "%d, max_features %d)", ngf, nd, nb, mf);
    int feats = lm_imath_min(mf, ngf * (1 << nd));
    if (md) {
        if (strcmp(o->multidilation_comb_mode, "cat_in") != 0)
            return lm_err_code(LM_ENOTSUP, "generator.multidilation_kwargs.comb_mode: '%s' is not "
                               "supported by lamac (supported: cat_in)", o->multidilation_comb_mode);
        if (o->multidilation_dilation_num < 1 || o->multidilation_dilation_num > MD_MAX ||
            feats % o->multidilation_dilation_num)
            return lm_err_code(LM_EINVAL, "generator.multidilation_kwargs.dilation_num: %d must be "
                               "in 1..%d and divide the %d bottleneck channels",
                               o->multidilation_dilation_num, MD_MAX, feats);
    }
    lm_pix2pixhd_gen *g = calloc(1, sizeof *g);
    if (!g) return lm_err_code(LM_ENOMEM, "generator: out of memory");
    g->multidilated = md;
    g->dil_num = md ? o->multidilation_dilation_num : 1;
    g->nd = nd;
    g->nb = nb;
    g->act = o->add_out_act;
    g->down = calloc((size_t)nd + 1, sizeof *g->down);
    g->down_bn = calloc((size_t)nd + 1, sizeof *g->down_bn);
    g->blocks = calloc((size_t)nb + 1, sizeof *g->blocks);
    g->up = calloc((size_t)nd + 1, sizeof *g->up);
    g->up_bn = calloc((size_t)nd + 1, sizeof *g->up_bn);
    int rc = 0, idx = 1;
    if (!g->down || !g->down_bn || !g->blocks || !g->up || !g->up_bn) {
        rc = lm_err_code(LM_ENOMEM, "generator: out of memory");
        goto cleanup;
    }
    rc = conv_at(&g->in, p, idx++, "", o->input_nc, ngf, 7, lm_conv_defaults());
    if (!rc) rc = bn_at(&g->in_bn, p, idx++, ngf);
    idx++; /* ReLU */
    for (int i = 0; !rc && i < nd; i++) {
        int mult = 1 << i, cout = lm_imath_min(mf, ngf * mult * 2);
        lm_conv_opts co = lm_conv_defaults();
        co.stride = 2;
        co.padding = 1;
        rc = conv_at(&g->down[i], p, idx++, "", lm_imath_min(mf, ngf * mult), cout, 3, co);
        if (!rc) rc = bn_at(&g->down_bn[i], p, idx++, cout);
        idx++;
    }
    for (int i = 0; !rc && i < nb; i++) {
        lm_params_push(p, "model.%d", idx++);
        rc = block_init(&g->blocks[i], p, md, g->dil_num, feats);
        lm_params_pop(p);
    }
    for (int i = 0; !rc && i < nd; i++) {
        int mult = 1 << (nd - i);
        int cin = lm_imath_min(mf, ngf * mult), cout = lm_imath_min(mf, ngf * mult / 2);
        lm_params_push(p, "model.%d", idx++);
        rc = lm_convt_init(&g->up[i], p, "", cin, cout, 3, 2, 1, 1, 1);
        lm_params_pop(p);
        if (!rc) rc = bn_at(&g->up_bn[i], p, idx++, cout);
        idx++;
    }
    idx++; /* ReflectionPad2d(3) */
    if (!rc) rc = conv_at(&g->out, p, idx, "", ngf, o->output_nc, 7, lm_conv_defaults());
cleanup:
    if (rc) {
        lm_pix2pixhd_gen_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int lm_pix2pixhd_gen_layers(const lm_pix2pixhd_gen *g) {
    return 4 + 3 * g->nd + g->nb + 3 * g->nd + 2 + (g->act != LM_ACT_NONE);
}

const char *lm_pix2pixhd_gen_layer_kind(const lm_pix2pixhd_gen *g, int i) {
    static const char *const cbr[3] = {"Conv2d", "BatchNorm2d", "ReLU"};
    static const char *const tbr[3] = {"ConvTranspose2d", "BatchNorm2d", "ReLU"};
    int b0 = 4 + 3 * g->nd, u0 = b0 + g->nb, e0 = u0 + 3 * g->nd;
    if (i < 0 || i >= lm_pix2pixhd_gen_layers(g)) return NULL;
    if (i == 0 || i == e0) return "ReflectionPad2d";
    if (i < b0) return cbr[(i - 1) % 3];
    if (i < u0) return g->multidilated ? "MultidilatedResnetBlock" : "ResnetBlock";
    if (i < e0) return tbr[(i - u0) % 3];
    if (i == e0 + 1) return "Conv2d";
    return g->act == LM_ACT_SIGMOID ? "Sigmoid" : "Tanh";
}

/* One conv of a block: plain, or MultidilatedConv cat_in (chunks summed in order). */
/* y = f(x), then x's handle freed: intermediates go as soon as they are used (autograd keeps
 * what it needs by itself), which keeps no-grad inference lean. */
static lt_tensor *then_free(lt_tensor *y, lt_tensor *x) {
    lt_free(x);
    return y;
}

static lt_tensor *block_conv(const lm_pix2pixhd_gen *g, const lm_conv *c, lt_tensor *x) {
    if (!g->multidilated) return lm_conv_forward(&c[0], x);
    int64_t part = lt_size(x, 1) / g->dil_num;
    lt_tensor *s = NULL;
    for (int j = 0; j < g->dil_num; j++) {
        lt_tensor *xj = lt_narrow(x, 1, j * part, part);
        lt_tensor *y = then_free(lm_conv_forward(&c[j], xj), xj); /* (N, dim, h, w) */
        s = j ? then_free(then_free(lt_add(s, y), s), y) : y;
    }
    return s;
}

static lt_tensor *block_forward(const lm_pix2pixhd_gen *g, const p2p_block *b, lt_tensor *x,
                                int training) {
    lt_tensor *h = block_conv(g, b->c1, x);
    h = then_free(lm_bn_forward(&b->bn1, h, training), h);
    h = then_free(lt_relu(h), h);
    lt_tensor *h2 = then_free(block_conv(g, b->c2, h), h);
    h = then_free(lm_bn_forward(&b->bn2, h2, training), h2);
    return then_free(lt_add(x, h), h); /* (N, dim, h, w) */
}

/* relu(bn(y)), freeing y and the BN output. */
static lt_tensor *bn_relu(const lm_bn *bn, lt_tensor *y, int training) {
    lt_tensor *t = then_free(lm_bn_forward(bn, y, training), y);
    return then_free(lt_relu(t), t);
}

/* Ends a stage opened with lt_scope_push(): keeps next, drops the rest and the old *cur. */
static lt_tensor *stage_end(lt_tensor *next, lt_tensor **cur) {
    lt_keep(next);
    lt_scope_pop();
    lt_free(*cur);
    *cur = next;
    return next;
}

lt_tensor *lm_pix2pixhd_gen_forward(lm_pix2pixhd_gen *g, lt_tensor *x, int training) {
    if (!x) return NULL;
    int64_t pad3[4] = {3, 3, 3, 3};
    lt_tensor *cur = NULL;
    lt_scope_push();
    lt_tensor *h = lt_pad(x, pad3, 4, LT_PAD_REFLECT, 0);
    h = then_free(lm_conv_forward(&g->in, h), h);
    if (!stage_end(bn_relu(&g->in_bn, h, training), &cur)) return NULL;
    for (int i = 0; i < g->nd; i++) { /* (N, C, H, W) -> (N, 2C, H/2, W/2) */
        lt_scope_push();
        h = lm_conv_forward(&g->down[i], cur);
        if (!stage_end(bn_relu(&g->down_bn[i], h, training), &cur)) return NULL;
    }
    for (int i = 0; i < g->nb; i++) {
        lt_scope_push();
        if (!stage_end(block_forward(g, &g->blocks[i], cur, training), &cur)) return NULL;
    }
    for (int i = 0; i < g->nd; i++) { /* (N, C, h, w) -> (N, C/2, 2h, 2w) */
        lt_scope_push();
        h = lm_convt_forward(&g->up[i], cur);
        lt_free(cur);
        cur = NULL;
        if (!stage_end(bn_relu(&g->up_bn[i], h, training), &cur)) return NULL;
    }
    lt_scope_push();
    h = lt_pad(cur, pad3, 4, LT_PAD_REFLECT, 0);
    lt_free(cur);
    cur = NULL;
    h = then_free(lm_conv_forward(&g->out, h), h);
    if (g->act == LM_ACT_SIGMOID) h = then_free(lt_sigmoid(h), h);
    else if (g->act == LM_ACT_TANH) h = then_free(lt_tanh(h), h);
    if (!stage_end(h, &cur)) return NULL; /* (N, output_nc, H, W) */
    lt_tensor *r = lt_alias(cur);
    lt_free(cur);
    return r;
}

/* ---- the graph twin (model/graph.h) ---- */

static int emit_block_conv(const lm_pix2pixhd_gen *g, const lm_conv *c, lm_graph *out, int x) {
    if (!g->multidilated) return lm_conv_emit(&c[0], out, x, "ResnetBlock conv");
    int part = x >= 0 ? out->n[x].c / g->dil_num : 0, s = 0;
    for (int j = 0; j < g->dil_num; j++) {
        int y = lm_conv_emit(&c[j], out, lm_graph_slice(out, x, 1, (int64_t)j * part, part), "MultidilatedConv");
        s = j ? lm_graph_binary(out, LM_GOP_ADD, s, y) : y;
    }
    return s;
}

static int emit_bn_relu(const lm_bn *bn, lm_graph *out, int y, const char *what) {
    return lm_graph_unary(out, LM_GOP_RELU, lm_bn_emit(bn, out, y, what));
}

int lm_pix2pixhd_gen_emit(const lm_pix2pixhd_gen *g, lm_graph *out) {
    int rc = lm_graph_init(out, (int)lt_size(g->in.w, 1));
    if (rc < 0) return rc;
    out->modulo = 1 << g->nd;
    int y = lm_conv_emit(&g->in, out, lm_graph_pad(out, 0, 3, LT_PAD_REFLECT), "Conv2d (input)");
    y = emit_bn_relu(&g->in_bn, out, y, "BatchNorm2d");
    for (int i = 0; i < g->nd; i++)
        y = emit_bn_relu(&g->down_bn[i], out, lm_conv_emit(&g->down[i], out, y, "Conv2d (down)"), "BatchNorm2d");
    for (int i = 0; i < g->nb; i++) {
        const p2p_block *b = &g->blocks[i];
        int h = emit_bn_relu(&b->bn1, out, emit_block_conv(g, b->c1, out, y), "ResnetBlock bn");
        h = lm_bn_emit(&b->bn2, out, emit_block_conv(g, b->c2, out, h), "ResnetBlock bn");
        y = lm_graph_binary(out, LM_GOP_ADD, y, h);
    }
    for (int i = 0; i < g->nd; i++)
        y = emit_bn_relu(&g->up_bn[i], out, lm_convt_emit(&g->up[i], out, y, "ConvTranspose2d"), "BatchNorm2d");
    y = lm_conv_emit(&g->out, out, lm_graph_pad(out, y, 3, LT_PAD_REFLECT), "Conv2d (output)");
    if (g->act == LM_ACT_SIGMOID) y = lm_graph_unary(out, LM_GOP_SIGMOID, y);
    else if (g->act == LM_ACT_TANH) y = lm_graph_unary(out, LM_GOP_TANH, y);
    if (y < 0) return y;
    out->out = y;
    out->output_nc = out->n[y].c;
    return 0;
}
