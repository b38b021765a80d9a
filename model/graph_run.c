/* graph_run.c — executes an inference graph (model/graph.h) with the shim's ops: the reference
 * the exported TorchScript and ONNX files are compared with, and the proof that the emitters
 * compute what the forwards compute (tests/check_graph.c). */
#include <stdio.h>
#include <stdlib.h>

#include "model/ffc.h"
#include "model/graph.h"

static lt_tensor *rfft2(lt_tensor *x, lt_fft_norm norm) {
    int64_t n = lt_size(x, 0), c = lt_size(x, 1), h = lt_size(x, 2);
    int64_t dims[2] = {-2, -1}, perm[5] = {0, 1, 4, 2, 3};
    lt_tensor *z = lt_rfftn(x, dims, 2, norm);                     /* (N, C, H, Wf) complex */
    int64_t s4[4] = {n, 2 * c, h, lt_size(z, 3)};
    return lt_reshape(lt_permute(lt_view_as_real(z), perm, 5), s4, 4); /* (N, 2C, H, Wf) */
}

static lt_tensor *irfft2(lt_tensor *f, lt_tensor *like, lt_fft_norm norm) {
    int64_t n = lt_size(f, 0), c = lt_size(f, 1) / 2, h = lt_size(f, 2), wf = lt_size(f, 3);
    int64_t s5[5] = {n, c, 2, h, wf}, dims[2] = {-2, -1}, hw[2] = {lt_size(like, 2), lt_size(like, 3)};
    f = lt_reshape(f, s5, 5);                                      /* (N, C, 2, H, Wf) */
    return lt_irfftn(lt_complex(lt_select(f, 2, 0), lt_select(f, 2, 1)), hw, dims, 2, norm);
}

static lt_tensor *coords(lt_tensor *x) {
    int64_t n = lt_size(x, 0), h = lt_size(x, 2), w = lt_size(x, 3);
    lt_tensor *parts[2] = {lm_fu_coords(x, n, h, w, 1), lm_fu_coords(x, n, h, w, 0)};
    return lt_cat(parts, 2, 1);                                    /* (N, 2, H, W) */
}

static lt_tensor *node(const lm_gnode *n, lt_tensor **v) {
    lt_tensor *x = n->n_in ? v[n->in[0]] : NULL, *y = n->n_in > 1 ? v[n->in[1]] : NULL;
    switch (n->op) {
    case LM_GOP_PAD: {
        int64_t pad[4] = {n->a[0], n->a[1], n->a[2], n->a[3]};
        return lt_pad(x, pad, 4, n->pad_mode, 0);
    }
    case LM_GOP_CONV: return lt_conv2d(x, n->w, n->b, (int)n->a[0], (int)n->a[1], (int)n->a[2], (int)n->a[3]);
    case LM_GOP_CONVT:
        return lt_conv_transpose2d(x, n->w, n->b, (int)n->a[0], (int)n->a[1], (int)n->a[2], (int)n->a[3], (int)n->a[4]);
    case LM_GOP_BN: return lt_batch_norm(x, n->w, n->b, n->mean, n->var, 0, 0.1, n->eps);
    case LM_GOP_RELU: return lt_relu(x);
    case LM_GOP_SIGMOID: return lt_sigmoid(x);
    case LM_GOP_TANH: return lt_tanh(x);
    case LM_GOP_ADD: return lt_add(x, y);
    case LM_GOP_MUL: return lt_mul(x, y);
    case LM_GOP_CAT: {
        lt_tensor *parts[LM_GRAPH_MAX_IN];
        for (int i = 0; i < n->n_in; i++) parts[i] = v[n->in[i]];
        return lt_cat(parts, n->n_in, (int)n->a[0]);
    }
    case LM_GOP_SLICE: return lt_narrow(x, (int)n->a[0], n->a[1], n->a[2]);
    case LM_GOP_HALF: {
        int64_t half = x ? lt_size(x, (int)n->a[0]) / 2 : 0;
        return lt_narrow(x, (int)n->a[0], n->a[1] * half, half);
    }
    case LM_GOP_AVGPOOL2: return lt_avg_pool2d(x, 2, 2, 0, 0, 1);
    case LM_GOP_RFFT2: return rfft2(x, n->norm);
    case LM_GOP_IRFFT2: return irfft2(x, y, n->norm);
    case LM_GOP_COORDS: return coords(x);
    case LM_GOP_REPEAT2: {
        int64_t reps[4] = {1, 1, 2, 2};
        return lt_repeat(x, reps, 4);
    }
    default: break;
    }
    char msg[96];
    snprintf(msg, sizeof msg, "graph: cannot run op %s", lm_gop_name(n->op));
    lt_set_error(msg);
    return NULL;
}

lt_tensor *lm_graph_run(const lm_graph *g, lt_tensor *x) {
    lt_tensor **v = calloc((size_t)g->len + 1, sizeof *v);
    if (!v) {
        lt_set_error("graph: out of memory");
        return NULL;
    }
    lt_tensor *out = NULL;
    lt_scope_push();
    v[0] = x;
    int i = 1;
    for (; i < g->len; i++)
        if (!(v[i] = node(&g->n[i], v))) break;
    if (i == g->len && g->out >= 0 && g->out < g->len) out = lt_keep(v[g->out]);
    lt_scope_pop();
    free(v);
    if (!out) return NULL;
    lt_tensor *r = lt_alias(out); /* into the caller's scope */
    lt_free(out);
    return r;
}
