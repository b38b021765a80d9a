/* graph.c — the inference graph container and its shape inference (see graph.h). */
#include "model/graph.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static const char *const OP_NAMES[LM_GOP_COUNT] = {
    "input", "pad", "conv", "conv_transpose", "batch_norm", "relu", "sigmoid", "tanh", "add",
    "mul", "cat", "slice", "avg_pool2", "rfft2", "irfft2", "coords", "repeat2", "half"};

const char *lm_gop_name(lm_gop op) {
    return op >= 0 && op < LM_GOP_COUNT ? OP_NAMES[op] : "?";
}

int lm_graph_init(lm_graph *g, int input_nc) {
    memset(g, 0, sizeof *g);
    g->input_nc = input_nc;
    g->modulo = 1;
    g->out = -1;
    lm_gnode in = {.op = LM_GOP_INPUT, .c = input_nc, .what = "input"};
    return lm_graph_add(g, in) < 0 ? LM_ENOMEM : 0;
}

void lm_graph_free(lm_graph *g) {
    if (!g) return;
    free(g->n);
    memset(g, 0, sizeof *g);
}

int lm_graph_add(lm_graph *g, lm_gnode n) {
    for (int i = 0; i < n.n_in; i++) {
        if (n.in[i] < 0) return n.in[i];
        if (n.in[i] >= g->len) return lm_err_code(LM_EINVAL, "graph: %s input %d is not an earlier node", lm_gop_name(n.op), n.in[i]);
    }
    if (g->len == g->cap) {
        int nc = g->cap ? 2 * g->cap : 64;
        lm_gnode *t = realloc(g->n, (size_t)nc * sizeof *t);
        if (!t) return lm_err_code(LM_ENOMEM, "graph: out of memory");
        g->n = t;
        g->cap = nc;
    }
    g->n[g->len] = n;
    return g->len++;
}

static int chan(const lm_graph *g, int x) { return x >= 0 && x < g->len ? g->n[x].c : 0; }

int lm_graph_unary(lm_graph *g, lm_gop op, int x) {
    lm_gnode n = {.op = op, .n_in = 1, .in = {x}, .c = chan(g, x)};
    return lm_graph_add(g, n);
}

int lm_graph_binary(lm_graph *g, lm_gop op, int x, int y) {
    lm_gnode n = {.op = op, .n_in = 2, .in = {x, y}, .c = chan(g, x)};
    return lm_graph_add(g, n);
}

int lm_graph_cat(lm_graph *g, const int *ids, int k, int dim) {
    if (k < 1 || k > LM_GRAPH_MAX_IN) return lm_err_code(LM_EINVAL, "graph: cat of %d values", k);
    lm_gnode n = {.op = LM_GOP_CAT, .n_in = k, .a = {dim}};
    for (int i = 0; i < k; i++) {
        n.in[i] = ids[i];
        n.c = dim == 1 ? n.c + chan(g, ids[i]) : chan(g, ids[0]);
    }
    return lm_graph_add(g, n);
}

int lm_graph_slice(lm_graph *g, int x, int dim, int64_t start, int64_t len) {
    lm_gnode n = {.op = LM_GOP_SLICE, .n_in = 1, .in = {x}, .a = {dim, start, len},
                  .c = dim == 1 ? (int)len : chan(g, x)};
    return lm_graph_add(g, n);
}

int lm_graph_pad(lm_graph *g, int x, int64_t p, lt_pad_mode mode) {
    lm_gnode n = {.op = LM_GOP_PAD, .n_in = 1, .in = {x}, .a = {p, p, p, p}, .pad_mode = mode,
                  .c = chan(g, x)};
    return lm_graph_add(g, n);
}

static int bad(const lm_gnode *n, int i, const char *why, int64_t h, int64_t w) {
    return lm_err_code(LM_EINVAL, "graph node %d (%s%s%s): %s at %lldx%lld", i, lm_gop_name(n->op),
                       n->what ? " in " : "", n->what ? n->what : "", why, (long long)h, (long long)w);
}

int lm_graph_infer(const lm_graph *g, int64_t H, int64_t W, int64_t (*d)[3]) {
    for (int i = 0; i < g->len; i++) {
        const lm_gnode *n = &g->n[i];
        const int64_t *x = n->n_in ? d[n->in[0]] : NULL;
        int64_t h = x ? x[1] : H, w = x ? x[2] : W;
        switch (n->op) {
        case LM_GOP_INPUT:
            h = H;
            w = W;
            if (H % g->modulo || W % g->modulo) return bad(n, i, "size is not a multiple of the generator's modulo", H, W);
            if (g->needs_square && H != W) return bad(n, i, "the LFU (enable_lfu) needs a square image", H, W);
            break;
        case LM_GOP_PAD:
            h += n->a[2] + n->a[3];
            w += n->a[0] + n->a[1];
            if (n->pad_mode == LT_PAD_REFLECT && (n->a[0] >= x[2] || n->a[2] >= x[1]))
                return bad(n, i, "reflection padding wider than the map", x[1], x[2]);
            break;
        case LM_GOP_CONV: {
            int64_t k = lt_size(n->w, 2), s = n->a[0], p = n->a[1], dl = n->a[2];
            h = (h + 2 * p - dl * (k - 1) - 1) / s + 1;
            w = (w + 2 * p - dl * (k - 1) - 1) / s + 1;
            if (h < 1 || w < 1) return bad(n, i, "map smaller than the kernel", x[1], x[2]);
            break;
        }
        case LM_GOP_CONVT: {
            int64_t k = lt_size(n->w, 2), s = n->a[0], p = n->a[1], op = n->a[2], dl = n->a[4];
            h = (h - 1) * s - 2 * p + dl * (k - 1) + op + 1;
            w = (w - 1) * s - 2 * p + dl * (k - 1) + op + 1;
            break;
        }
        case LM_GOP_AVGPOOL2:
            if (h % 2 || w % 2) return bad(n, i, "odd size at a stride-2 pooling", h, w);
            h /= 2;
            w /= 2;
            break;
        case LM_GOP_RFFT2: w = w / 2 + 1; break;
        case LM_GOP_IRFFT2: h = d[n->in[1]][1]; w = d[n->in[1]][2]; break;
        case LM_GOP_REPEAT2: h *= 2; w *= 2; break;
        case LM_GOP_HALF:
            if ((n->a[0] == 2 ? h : w) % 2) return bad(n, i, "odd side split in halves", h, w);
            if (n->a[0] == 2) h /= 2;
            else w /= 2;
            break;
        case LM_GOP_SLICE:
            if (n->a[0] == 2) h = n->a[2];
            if (n->a[0] == 3) w = n->a[2];
            if (n->a[0] >= 2 && n->a[1] + n->a[2] > (n->a[0] == 2 ? x[1] : x[2]))
                return bad(n, i, "slice past the end", x[1], x[2]);
            break;
        case LM_GOP_CAT:
            for (int j = 1; j < n->n_in; j++) {
                const int64_t *y = d[n->in[j]];
                if ((n->a[0] != 2 && y[1] != x[1]) || (n->a[0] != 3 && y[2] != x[2]))
                    return bad(n, i, "concatenated maps differ in size", y[1], y[2]);
                if (n->a[0] == 2) h += y[1];
                if (n->a[0] == 3) w += y[2];
            }
            break;
        case LM_GOP_ADD:
        case LM_GOP_MUL: {
            const int64_t *y = d[n->in[1]];
            if (y[1] != h || y[2] != w) return bad(n, i, "operands differ in size", y[1], y[2]);
            break;
        }
        default: break;
        }
        d[i][0] = n->c;
        d[i][1] = h;
        d[i][2] = w;
    }
    return 0;
}
