/* ffc.c — FFC, FFC_BN_ACT, FFCResnetBlock and the ffc_resnet generator (FFCResNetGenerator)
 * of the official saicinpainting/training/modules/ffc.py. See model/ffc.h.
 *
 * Generator layout (official nn.Sequential indices, which name the parameters):
 *   model.0 ReflectionPad2d(3), model.1 FFC_BN_ACT 7x7 (input_nc -> ngf, init_conv_kwargs),
 *   model.2 .. model.(1+nd) FFC_BN_ACT 3x3 stride 2 (downsample_conv_kwargs; the last one
 *   outputs ratio_gout = resnet_conv_kwargs.ratio_gin), then n_blocks FFCResnetBlock,
 *   ConcatTupleLayer, nd x (ConvTranspose2d 3x3 s2 p1 op1, BatchNorm2d, ReLU),
 *   ReflectionPad2d(3), Conv2d 7x7 (ngf -> output_nc, bias), [Sigmoid | Tanh].
 * The forward runs each stage inside its own scope and keeps only the stage output, so
 * intermediates die as soon as autograd no longer needs them (all of them under no-grad). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/imath.h"
#include "model/ffc.h"

/* ---- FFC ------------------------------------------------------------------------------------ */

int lm_ffc_init(lm_ffc *f, lm_params *p, const char *name, lm_ffc_geom g, const lm_ffc_kwargs *kw,
                int in_l, int in_g, const char *what) {
    memset(f, 0, sizeof *f);
    if (kw->use_se)
        return lm_err_code(LM_ENOTSUP, "%s.use_se: squeeze-excitation in FourierUnit is not "
                           "supported by lamac", what);
    if (kw->ratio_gin < 0 || kw->ratio_gin > 1 || kw->ratio_gout < 0 || kw->ratio_gout > 1)
        return lm_err_code(LM_EINVAL, "%s: ratio_gin %g / ratio_gout %g out of [0, 1]", what,
                           kw->ratio_gin, kw->ratio_gout);
    f->in_cg = (int)(g.cin * kw->ratio_gin); /* Python int(): truncation */
    f->in_cl = g.cin - f->in_cg;
    f->out_cg = (int)(g.cout * kw->ratio_gout);
    f->out_cl = g.cout - f->out_cg;
    f->has_l = kw->ratio_gout != 1;
    f->has_g = kw->ratio_gout != 0;
    if (f->in_cl != in_l || f->in_cg != in_g)
        return lm_err_code(LM_EINVAL, "%s.ratio_gin: %g splits %d channels into %d local + %d "
                           "global, but the layer before gives %d + %d", what, kw->ratio_gin,
                           g.cin, f->in_cl, f->in_cg, in_l, in_g);
    if ((f->has_l && f->out_cl == 0) || (f->has_g && f->out_cg == 0))
        return lm_err_code(LM_EINVAL, "%s.ratio_gout: %g leaves an empty branch of %d channels",
                           what, kw->ratio_gout, g.cout);
    f->has_l2l = f->in_cl > 0 && f->out_cl > 0;
    f->has_l2g = f->in_cl > 0 && f->out_cg > 0;
    f->has_g2l = f->in_cg > 0 && f->out_cl > 0;
    f->has_g2g = f->in_cg > 0 && f->out_cg > 0;
    f->gated = kw->gated;
    if (f->gated && (!f->has_g2l || g.stride != 1))
        return lm_err_code(LM_ENOTSUP, "%s.gated: gating needs global input channels, local "
                           "output channels and stride 1 (the official code fails otherwise)", what);
    lm_conv_opts co = lm_conv_defaults();
    co.stride = g.stride;
    co.padding = g.padding;
    co.dilation = g.dilation;
    co.bias = 0;
    co.pad_mode = LT_PAD_REFLECT;
    lm_params_push(p, "%s", name);
    int rc = 0;
    if (!rc && f->has_l2l) rc = lm_conv_init(&f->l2l, p, "convl2l", f->in_cl, f->out_cl, g.k, co);
    if (!rc && f->has_l2g) rc = lm_conv_init(&f->l2g, p, "convl2g", f->in_cl, f->out_cg, g.k, co);
    if (!rc && f->has_g2l) rc = lm_conv_init(&f->g2l, p, "convg2l", f->in_cg, f->out_cl, g.k, co);
    if (!rc && f->has_g2g) {
        rc = lm_spectral_init(&f->g2g, p, "convg2g", f->in_cg, f->out_cg, g.stride, kw);
        if (rc) lm_err_prefix("%s", what);
    }
    if (!rc && f->gated) rc = lm_conv_init(&f->gate, p, "gate", g.cin, 2, 1, lm_conv_defaults());
    lm_params_pop(p);
    return rc;
}

/* a + b where either may be absent (NULL); both absent stays absent. Frees the handles it
 * consumed (a, b are intermediates made by the caller): under no-grad their memory goes at once
 * instead of at the end of the stage (autograd keeps what it needs by itself). */
static lt_tensor *add_free(lt_tensor *a, lt_tensor *b) {
    if (!a || !b) return a ? a : b;
    lt_tensor *s = lt_add(a, b);
    lt_free(a);
    lt_free(b);
    return s;
}

/* f(x), then x's handle freed (x an intermediate of the caller). */
static lt_tensor *then_free(lt_tensor *y, lt_tensor *x) {
    lt_free(x);
    return y;
}

int lm_ffc_forward(const lm_ffc *f, lt_tensor *x_l, lt_tensor *x_g, int training,
                   lt_tensor **out_l, lt_tensor **out_g) {
    *out_l = *out_g = NULL;
    if ((f->in_cl > 0 && !x_l) || (f->in_cg > 0 && !x_g)) return -1;
    lt_tensor *g2l_gate = NULL, *l2g_gate = NULL;
    if (f->gated) {
        lt_tensor *parts[2] = {x_l, x_g};
        lt_tensor *gates = lt_sigmoid(lm_conv_forward(&f->gate, x_l ? lt_cat(parts, 2, 1) : x_g));
        g2l_gate = lt_narrow(gates, 1, 0, 1); /* (N, 1, H, W) */
        l2g_gate = lt_narrow(gates, 1, 1, 1);
        if (!g2l_gate || !l2g_gate) return -1;
    }
    if (f->has_l) {
        lt_tensor *a = NULL, *b = NULL;
        if (f->has_l2l && !(a = lm_conv_forward(&f->l2l, x_l))) return -1;
        if (f->has_g2l && !(b = lm_conv_forward(&f->g2l, x_g))) return -1;
        if (b && g2l_gate && !(b = then_free(lt_mul(b, g2l_gate), b))) return -1;
        if (!(*out_l = add_free(a, b))) return -1; /* (N, out_cl, H', W') */
    }
    if (f->has_g) {
        lt_tensor *a = NULL, *b = NULL;
        if (f->has_l2g && !(a = lm_conv_forward(&f->l2g, x_l))) return -1;
        if (a && l2g_gate && !(a = then_free(lt_mul(a, l2g_gate), a))) return -1;
        if (f->has_g2g && !(b = lm_spectral_forward(&f->g2g, x_g, training))) return -1;
        if (!(*out_g = add_free(a, b))) return -1; /* (N, out_cg, H', W') */
    }
    return 0;
}

/* a + b in the graph where either may be absent (LM_GRAPH_ABSENT). */
static int emit_add(lm_graph *g, int a, int b) {
    if (a == LM_GRAPH_ABSENT || b == LM_GRAPH_ABSENT) return a == LM_GRAPH_ABSENT ? b : a;
    return lm_graph_binary(g, LM_GOP_ADD, a, b);
}

static int emit_rc(int id) { return id < 0 && id != LM_GRAPH_ABSENT ? id : 0; }

int lm_ffc_emit(const lm_ffc *f, lm_graph *g, int x_l, int x_g, int *out_l, int *out_g) {
    *out_l = *out_g = LM_GRAPH_ABSENT;
    int g2l_gate = LM_GRAPH_ABSENT, l2g_gate = LM_GRAPH_ABSENT;
    if (f->gated) {
        int parts[2] = {x_l, x_g};
        int in = x_l != LM_GRAPH_ABSENT ? lm_graph_cat(g, parts, 2, 1) : x_g;
        int gates = lm_graph_unary(g, LM_GOP_SIGMOID, lm_conv_emit(&f->gate, g, in, "FFC.gate"));
        g2l_gate = lm_graph_slice(g, gates, 1, 0, 1); /* (N, 1, H, W) */
        l2g_gate = lm_graph_slice(g, gates, 1, 1, 1);
    }
    if (f->has_l) {
        int a = f->has_l2l ? lm_conv_emit(&f->l2l, g, x_l, "FFC.convl2l") : LM_GRAPH_ABSENT;
        int b = f->has_g2l ? lm_conv_emit(&f->g2l, g, x_g, "FFC.convg2l") : LM_GRAPH_ABSENT;
        if (b != LM_GRAPH_ABSENT && f->gated) b = lm_graph_binary(g, LM_GOP_MUL, b, g2l_gate);
        *out_l = emit_add(g, a, b); /* (N, out_cl, H', W') */
    }
    if (f->has_g) {
        int a = f->has_l2g ? lm_conv_emit(&f->l2g, g, x_l, "FFC.convl2g") : LM_GRAPH_ABSENT;
        if (a != LM_GRAPH_ABSENT && f->gated) a = lm_graph_binary(g, LM_GOP_MUL, a, l2g_gate);
        int b = f->has_g2g ? lm_spectral_emit(&f->g2g, g, x_g) : LM_GRAPH_ABSENT;
        *out_g = emit_add(g, a, b); /* (N, out_cg, H', W') */
    }
    int rc = emit_rc(*out_l);
    return rc ? rc : emit_rc(*out_g);
}

/* ---- FFC_BN_ACT ------------------------------------------------------------------------------ */

int lm_ffc_bn_act_init(lm_ffc_bn_act *b, lm_params *p, lm_ffc_geom g, const lm_ffc_kwargs *kw,
                       int relu, int in_l, int in_g, const char *what) {
    memset(b, 0, sizeof *b);
    b->relu = relu;
    int rc = lm_ffc_init(&b->ffc, p, "ffc", g, kw, in_l, in_g, what);
    if (!rc && b->ffc.has_l) rc = lm_bn_init(&b->bn_l, p, "bn_l", b->ffc.out_cl);
    if (!rc && b->ffc.has_g) rc = lm_bn_init(&b->bn_g, p, "bn_g", b->ffc.out_cg);
    return rc;
}

int lm_ffc_bn_act_forward(const lm_ffc_bn_act *b, lt_tensor *x_l, lt_tensor *x_g, int training,
                          lt_tensor **out_l, lt_tensor **out_g) {
    lt_tensor *l, *g;
    if (lm_ffc_forward(&b->ffc, x_l, x_g, training, &l, &g) < 0) return -1;
    *out_l = *out_g = NULL;
    if (b->ffc.has_l) {
        l = then_free(lm_bn_forward(&b->bn_l, l, training), l);
        if (!(*out_l = b->relu ? lt_relu_(l) : l)) return -1; /* in place, as the official ReLU(inplace=True) */
    }
    if (b->ffc.has_g) {
        g = then_free(lm_bn_forward(&b->bn_g, g, training), g);
        if (!(*out_g = b->relu ? lt_relu_(g) : g)) return -1;
    }
    return 0;
}

int lm_ffc_bn_act_emit(const lm_ffc_bn_act *b, lm_graph *g, int x_l, int x_g, int *out_l, int *out_g) {
    int l, r, rc = lm_ffc_emit(&b->ffc, g, x_l, x_g, &l, &r);
    *out_l = *out_g = LM_GRAPH_ABSENT;
    if (rc < 0) return rc;
    if (b->ffc.has_l) {
        l = lm_bn_emit(&b->bn_l, g, l, "FFC_BN_ACT.bn_l");
        *out_l = b->relu ? lm_graph_unary(g, LM_GOP_RELU, l) : l;
    }
    if (b->ffc.has_g) {
        r = lm_bn_emit(&b->bn_g, g, r, "FFC_BN_ACT.bn_g");
        *out_g = b->relu ? lm_graph_unary(g, LM_GOP_RELU, r) : r;
    }
    rc = emit_rc(*out_l);
    return rc ? rc : emit_rc(*out_g);
}

/* ---- FFCResnetBlock -------------------------------------------------------------------------- */

int lm_ffc_block_init(lm_ffc_block *b, lm_params *p, int dim, const lm_ffc_kwargs *kw, int in_l,
                      int in_g, const char *what) {
    lm_ffc_geom g = {dim, dim, 3, 1, 1, 1};
    lm_params_push(p, "conv1");
    int rc = lm_ffc_bn_act_init(&b->conv1, p, g, kw, 1, in_l, in_g, what);
    lm_params_pop(p);
    if (rc) return rc;
    const lm_ffc *f1 = &b->conv1.ffc;
    lm_params_push(p, "conv2");
    rc = lm_ffc_bn_act_init(&b->conv2, p, g, kw, 1, f1->has_l ? f1->out_cl : 0,
                            f1->has_g ? f1->out_cg : 0, what);
    lm_params_pop(p);
    return rc;
}

int lm_ffc_block_forward(const lm_ffc_block *b, lt_tensor *x_l, lt_tensor *x_g, int training,
                         lt_tensor **out_l, lt_tensor **out_g) {
    lt_tensor *l1, *g1, *l2, *g2;
    *out_l = *out_g = NULL;
    if (lm_ffc_bn_act_forward(&b->conv1, x_l, x_g, training, &l1, &g1) < 0) return -1;
    if (lm_ffc_bn_act_forward(&b->conv2, l1, g1, training, &l2, &g2) < 0) return -1;
    lt_free(l1);
    lt_free(g1);
    /* residual: x is the caller's, only l2 / g2 are ours to free */
    *out_l = x_l && l2 ? then_free(lt_add(x_l, l2), l2) : l2;
    *out_g = x_g && g2 ? then_free(lt_add(x_g, g2), g2) : g2;
    if ((b->conv2.ffc.has_l && !*out_l) || (b->conv2.ffc.has_g && !*out_g)) return -1;
    return 0;
}

int lm_ffc_block_emit(const lm_ffc_block *b, lm_graph *g, int x_l, int x_g, int *out_l, int *out_g) {
    int l1, g1, l2, g2;
    *out_l = *out_g = LM_GRAPH_ABSENT;
    int rc = lm_ffc_bn_act_emit(&b->conv1, g, x_l, x_g, &l1, &g1);
    if (!rc) rc = lm_ffc_bn_act_emit(&b->conv2, g, l1, g1, &l2, &g2);
    if (rc < 0) return rc;
    *out_l = x_l != LM_GRAPH_ABSENT && l2 != LM_GRAPH_ABSENT ? lm_graph_binary(g, LM_GOP_ADD, x_l, l2) : l2;
    *out_g = x_g != LM_GRAPH_ABSENT && g2 != LM_GRAPH_ABSENT ? lm_graph_binary(g, LM_GOP_ADD, x_g, g2) : g2;
    rc = emit_rc(*out_l);
    return rc ? rc : emit_rc(*out_g);
}

/* ---- FFCResNetGenerator ---------------------------------------------------------------------- */

struct lm_ffc_gen {
    int nd, nb;
    lm_out_act act;
    lm_ffc_bn_act init;
    lm_ffc_bn_act *down;  /* nd */
    lm_ffc_block *blocks; /* nb */
    lm_convt *up;         /* nd */
    lm_bn *up_bn;         /* nd */
    lm_conv out;
};

void lm_ffc_gen_free(lm_ffc_gen *g) {
    if (!g) return;
    free(g->down);
    free(g->blocks);
    free(g->up);
    free(g->up_bn);
    free(g);
}

int lm_ffc_gen_create(lm_ffc_gen **out, lm_params *p, const lm_generator_opts *o) {
    *out = NULL;
    if (o->out_ffc)
        return lm_err_code(LM_ENOTSUP, "generator.out_ffc: not supported by lamac");
    if (o->spatial_transform)
        return lm_err_code(LM_ENOTSUP, "generator.spatial_transform_layers: the learnable "
                           "spatial transform is not supported by lamac");
    int nd = o->n_downsampling, nb = o->n_blocks, mf = o->max_features, ngf = o->ngf;
    if (nd < 0 || nb < 0 || ngf < 1 || mf < 1 || o->input_nc < 1 || o->output_nc < 1)
        return lm_err_code(LM_EINVAL, "generator: bad sizes (ngf %d, n_downsampling %d, n_blocks "
                           "%d, max_features %d)", ngf, nd, nb, mf);
    if (lm_imath_min(mf, ngf) != ngf)
        return lm_err_code(LM_EINVAL, "generator.max_features: %d is below ngf %d (the last "
                           "ConvTranspose2d would not feed the output conv)", mf, ngf);
    lm_ffc_gen *g = calloc(1, sizeof *g);
    if (!g) return lm_err_code(LM_ENOMEM, "generator: out of memory");
    g->nd = nd;
    g->nb = nb;
    g->act = o->add_out_act;
    g->down = calloc((size_t)nd + 1, sizeof *g->down);
    g->blocks = calloc((size_t)nb + 1, sizeof *g->blocks);
    g->up = calloc((size_t)nd + 1, sizeof *g->up);
    g->up_bn = calloc((size_t)nd + 1, sizeof *g->up_bn);
    int rc = 0, idx = 1;
    if (!g->down || !g->blocks || !g->up || !g->up_bn) {
        rc = lm_err_code(LM_ENOMEM, "generator: out of memory");
        goto cleanup;
    }
    /* model.1: FFC_BN_ACT 7x7 on the reflect-padded input (x enters as the local branch) */
    lm_params_push(p, "model.%d", idx++);
    rc = lm_ffc_bn_act_init(&g->init, p, (lm_ffc_geom){o->input_nc, ngf, 7, 1, 0, 1},
                            &o->init_conv_kwargs, 1, o->input_nc, 0, "generator.init_conv_kwargs");
    lm_params_pop(p);
    const lm_ffc *prev = &g->init.ffc;
    for (int i = 0; !rc && i < nd; i++) {
        int mult = 1 << i;
        lm_ffc_kwargs kw = o->downsample_conv_kwargs;
        if (i == nd - 1) kw.ratio_gout = o->resnet_conv_kwargs.ratio_gin;
        lm_params_push(p, "model.%d", idx++);
        rc = lm_ffc_bn_act_init(&g->down[i], p,
                                (lm_ffc_geom){lm_imath_min(mf, ngf * mult), lm_imath_min(mf, ngf * mult * 2), 3, 2, 1, 1},
                                &kw, 1, prev->has_l ? prev->out_cl : 0, prev->has_g ? prev->out_cg : 0,
                                "generator.downsample_conv_kwargs");
        lm_params_pop(p);
        prev = &g->down[i].ffc;
    }
    int feats = lm_imath_min(mf, ngf * (1 << nd));
    for (int i = 0; !rc && i < nb; i++) {
        lm_params_push(p, "model.%d", idx++);
        rc = lm_ffc_block_init(&g->blocks[i], p, feats, &o->resnet_conv_kwargs,
                               prev->has_l ? prev->out_cl : 0, prev->has_g ? prev->out_cg : 0,
                               "generator.resnet_conv_kwargs");
        lm_params_pop(p);
        prev = &g->blocks[i].conv2.ffc;
    }
    if (!rc && !prev->has_l)
        rc = lm_err_code(LM_EINVAL, "generator.resnet_conv_kwargs.ratio_gout: 1 leaves no local "
                         "branch at the bottleneck (the official ConcatTupleLayer fails)");
    idx++; /* ConcatTupleLayer */
    for (int i = 0; !rc && i < nd; i++) {
        int mult = 1 << (nd - i);
        int cin = lm_imath_min(mf, ngf * mult), cout = lm_imath_min(mf, ngf * mult / 2);
        lm_params_push(p, "model.%d", idx++);
        rc = lm_convt_init(&g->up[i], p, "", cin, cout, 3, 2, 1, 1, 1);
        lm_params_pop(p);
        if (rc) break;
        lm_params_push(p, "model.%d", idx++);
        rc = lm_bn_init(&g->up_bn[i], p, "", cout);
        lm_params_pop(p);
        idx++; /* ReLU */
    }
    idx++; /* ReflectionPad2d(3) */
    if (!rc) {
        lm_params_push(p, "model.%d", idx);
        rc = lm_conv_init(&g->out, p, "", ngf, o->output_nc, 7, lm_conv_defaults());
        lm_params_pop(p);
    }
cleanup:
    if (rc) {
        lm_ffc_gen_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int lm_ffc_gen_layers(const lm_ffc_gen *g) {
    return 2 + g->nd + g->nb + 1 + 3 * g->nd + 2 + (g->act != LM_ACT_NONE);
}

const char *lm_ffc_gen_layer_kind(const lm_ffc_gen *g, int i) {
    int n = lm_ffc_gen_layers(g), up0 = 2 + g->nd + g->nb + 1;
    if (i < 0 || i >= n) return NULL;
    if (i == 0) return "ReflectionPad2d";
    if (i < 2 + g->nd) return "FFC_BN_ACT";
    if (i < up0 - 1) return "FFCResnetBlock";
    if (i == up0 - 1) return "ConcatTupleLayer";
    if (i < up0 + 3 * g->nd) {
        static const char *const k[3] = {"ConvTranspose2d", "BatchNorm2d", "ReLU"};
        return k[(i - up0) % 3];
    }
    if (i == up0 + 3 * g->nd) return "ReflectionPad2d";
    if (i == up0 + 3 * g->nd + 1) return "Conv2d";
    return g->act == LM_ACT_SIGMOID ? "Sigmoid" : "Tanh";
}

/* The current feature map: both branches owned here (kept out of any scope). */
typedef struct pair {
    lt_tensor *l, *g;
} pair;

static void pair_free(pair *p) {
    lt_free(p->l);
    lt_free(p->g);
    p->l = p->g = NULL;
}

/* Ends a stage opened with lt_scope_push(): keeps `next`, frees the stage's intermediates and
 * the previous feature map, and makes `next` current. */
static int stage_end(int rc, pair *next, pair *cur) {
    if (!rc) {
        lt_keep(next->l);
        lt_keep(next->g);
    }
    lt_scope_pop();
    pair_free(cur);
    if (rc) return -1;
    *cur = *next;
    return 0;
}

/* The stages of the forward, each on the current feature map `cur` (owned, replaced). The
 * official refiner (evaluation/refinement.py) splits the same nn.Sequential at the first
 * residual block: front = model[0 : 2 + nd], rear = the rest. */

/* model.0 .. model.(1+nd): pad + init + downsampling; x (N, input_nc, H, W) is borrowed. */
static int run_front(lm_ffc_gen *g, lt_tensor *x, int training, pair *cur) {
    int64_t pad3[4] = {3, 3, 3, 3};
    pair next = {NULL, NULL};
    lt_scope_push();
    int rc = lm_ffc_bn_act_forward(&g->init, lt_pad(x, pad3, 4, LT_PAD_REFLECT, 0), NULL, training,
                                   &next.l, &next.g); /* (N, ngf, H, W) */
    if (stage_end(rc, &next, cur) < 0) return -1;
    for (int i = 0; i < g->nd; i++) { /* (N, C, H, W) -> (N, 2C, H/2, W/2) */
        lt_scope_push();
        rc = lm_ffc_bn_act_forward(&g->down[i], cur->l, cur->g, training, &next.l, &next.g);
        if (stage_end(rc, &next, cur) < 0) return -1;
    }
    return 0;
}

/* Residual block i: (N, feats, h, w) as (local, global). */
static int run_block(lm_ffc_gen *g, int i, int training, pair *cur) {
    pair next = {NULL, NULL};
    lt_scope_push();
    int rc = lm_ffc_block_forward(&g->blocks[i], cur->l, cur->g, training, &next.l, &next.g);
    return stage_end(rc, &next, cur);
}

/* ConcatTupleLayer, the upsampling stages, the output conv and activation; *y the output
 * (N, output_nc, H, W) in the caller's scope. cur is consumed. */
static int run_tail(lm_ffc_gen *g, int training, pair *cur, lt_tensor **y_out) {
    int64_t pad3[4] = {3, 3, 3, 3};
    pair next = {NULL, NULL};
    *y_out = NULL;
    lt_scope_push(); /* ConcatTupleLayer */
    lt_tensor *parts[2] = {cur->l, cur->g};
    next.l = cur->g ? lt_cat(parts, 2, 1) : lt_alias(cur->l); /* (N, feats, h, w) */
    next.g = NULL;
    if (stage_end(next.l ? 0 : -1, &next, cur) < 0) return -1;
    for (int i = 0; i < g->nd; i++) { /* (N, C, h, w) -> (N, C/2, 2h, 2w) */
        lt_scope_push();
        lt_tensor *t = lm_convt_forward(&g->up[i], cur->l);
        pair_free(cur); /* full-resolution stages: free each input as soon as it is used */
        t = then_free(lm_bn_forward(&g->up_bn[i], t, training), t);
        next.l = lt_relu_(t); /* in place: official nn.ReLU(True) */
        if (stage_end(next.l ? 0 : -1, &next, cur) < 0) return -1;
    }
    lt_scope_push();
    lt_tensor *y = lt_pad(cur->l, pad3, 4, LT_PAD_REFLECT, 0);
    pair_free(cur);
    y = then_free(lm_conv_forward(&g->out, y), y);
    if (g->act == LM_ACT_SIGMOID) y = then_free(lt_sigmoid(y), y);
    else if (g->act == LM_ACT_TANH) y = then_free(lt_tanh(y), y);
    next.l = y; /* (N, output_nc, H, W) */
    if (stage_end(y ? 0 : -1, &next, cur) < 0) return -1;
    *y_out = lt_alias(cur->l); /* into the caller's scope */
    pair_free(cur);
    return *y_out ? 0 : -1;
}

/* cur = (z_l, z_g) as handles of our own (the caller's stay the caller's). */
static void pair_borrow(pair *cur, lt_tensor *z_l, lt_tensor *z_g) {
    cur->l = z_l ? lt_keep(lt_alias(z_l)) : NULL;
    cur->g = z_g ? lt_keep(lt_alias(z_g)) : NULL;
}

lt_tensor *lm_ffc_gen_forward(lm_ffc_gen *g, lt_tensor *x, int training) {
    if (!x) return NULL;
    pair cur = {NULL, NULL};
    if (run_front(g, x, training, &cur) < 0) return NULL;
    for (int i = 0; i < g->nb; i++)
        if (run_block(g, i, training, &cur) < 0) return NULL;
    lt_tensor *y;
    return run_tail(g, training, &cur, &y) < 0 ? NULL : y;
}

int lm_ffc_gen_front(lm_ffc_gen *g, lt_tensor *x, int training, lt_tensor **z_l, lt_tensor **z_g) {
    *z_l = *z_g = NULL;
    if (!x) return -1;
    pair cur = {NULL, NULL};
    if (run_front(g, x, training, &cur) < 0) return -1;
    *z_l = cur.l ? lt_alias(cur.l) : NULL; /* into the caller's scope */
    *z_g = cur.g ? lt_alias(cur.g) : NULL;
    int bad = (cur.l && !*z_l) || (cur.g && !*z_g);
    pair_free(&cur);
    return bad ? -1 : 0;
}

int lm_ffc_gen_blocks(const lm_ffc_gen *g) { return g->nb; }

int lm_ffc_gen_block(lm_ffc_gen *g, int i, lt_tensor *x_l, lt_tensor *x_g, int training,
                     lt_tensor **out_l, lt_tensor **out_g) {
    *out_l = *out_g = NULL;
    if (i < 0 || i >= g->nb || (!x_l && !x_g)) return -1;
    pair cur;
    pair_borrow(&cur, x_l, x_g);
    if (run_block(g, i, training, &cur) < 0) return -1;
    *out_l = cur.l ? lt_alias(cur.l) : NULL;
    *out_g = cur.g ? lt_alias(cur.g) : NULL;
    int bad = (cur.l && !*out_l) || (cur.g && !*out_g);
    pair_free(&cur);
    return bad ? -1 : 0;
}

lt_tensor *lm_ffc_gen_tail(lm_ffc_gen *g, lt_tensor *x_l, lt_tensor *x_g, int training) {
    if (!x_l) return NULL;
    pair cur;
    pair_borrow(&cur, x_l, x_g);
    lt_tensor *y;
    return run_tail(g, training, &cur, &y) < 0 ? NULL : y;
}

lt_tensor *lm_ffc_gen_rear(lm_ffc_gen *g, lt_tensor *z_l, lt_tensor *z_g, int training) {
    if (!z_l && !z_g) return NULL;
    pair cur;
    pair_borrow(&cur, z_l, z_g);
    for (int i = 0; i < g->nb; i++)
        if (run_block(g, i, training, &cur) < 0) return NULL;
    lt_tensor *y;
    return run_tail(g, training, &cur, &y) < 0 ? NULL : y;
}

int lm_ffc_gen_emit(const lm_ffc_gen *g, lm_graph *out) {
    int l, r, rc = lm_graph_init(out, g->init.ffc.in_cl);
    if (rc < 0) return rc;
    out->modulo = 1 << g->nd;
    rc = lm_ffc_bn_act_emit(&g->init, out, lm_graph_pad(out, 0, 3, LT_PAD_REFLECT), LM_GRAPH_ABSENT, &l, &r);
    for (int i = 0; !rc && i < g->nd; i++) rc = lm_ffc_bn_act_emit(&g->down[i], out, l, r, &l, &r);
    for (int i = 0; !rc && i < g->nb; i++) rc = lm_ffc_block_emit(&g->blocks[i], out, l, r, &l, &r);
    if (rc < 0) return rc;
    int parts[2] = {l, r};
    int y = r != LM_GRAPH_ABSENT ? lm_graph_cat(out, parts, 2, 1) : l; /* ConcatTupleLayer */
    for (int i = 0; i < g->nd; i++) {
        y = lm_convt_emit(&g->up[i], out, y, "ConvTranspose2d");
        y = lm_graph_unary(out, LM_GOP_RELU, lm_bn_emit(&g->up_bn[i], out, y, "BatchNorm2d"));
    }
    y = lm_conv_emit(&g->out, out, lm_graph_pad(out, y, 3, LT_PAD_REFLECT), "Conv2d (output)");
    if (g->act == LM_ACT_SIGMOID) y = lm_graph_unary(out, LM_GOP_SIGMOID, y);
    else if (g->act == LM_ACT_TANH) y = lm_graph_unary(out, LM_GOP_TANH, y);
    if (y < 0) return y;
    out->out = y;
    out->output_nc = out->n[y].c;
    return 0;
}
