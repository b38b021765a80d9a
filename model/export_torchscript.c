/* export_torchscript.c — TorchScript source generation from an lm_graph, the module and its
 * atomic write (see export_torchscript.h). Each op's statement computes what its eval-mode
 * forward in model/layers.c, model/ffc.c and model/fourier.c computes, with the same aten
 * operators: `torch.<name>` in TorchScript source is the aten operator <name>. */
#include "model/export_torchscript.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic.h"
#include "core/err.h"
#include "core/strbuf.h"
#include "model/lt_err.h"

#define TS_CLASS "__torch__.LamaInpainting"

lm_ts_opts lm_ts_defaults(void) { return (lm_ts_opts){.dtype = LT_F32}; }

/* "graph node 12 (conv in model.5.conv1)" for messages. */
static int node_err(int code, const lm_graph *g, int i, const char *why) {
    const lm_gnode *n = &g->n[i];
    return lm_err_code(code, "torchscript export: graph node %d (%s%s%s): %s", i, lm_gop_name(n->op),
                       n->what ? " in " : "", n->what ? n->what : "", why);
}

/* The node's number of inputs, or -1 for an op this exporter does not know. */
static int arity(lm_gop op) {
    switch (op) {
    case LM_GOP_INPUT: return 0;
    case LM_GOP_PAD: case LM_GOP_CONV: case LM_GOP_CONVT: case LM_GOP_BN: case LM_GOP_RELU:
    case LM_GOP_SIGMOID: case LM_GOP_TANH: case LM_GOP_SLICE: case LM_GOP_AVGPOOL2:
    case LM_GOP_RFFT2: case LM_GOP_COORDS: case LM_GOP_REPEAT2: case LM_GOP_HALF: return 1;
    case LM_GOP_ADD: case LM_GOP_MUL: case LM_GOP_IRFFT2: return 2;
    case LM_GOP_CAT: return LM_GRAPH_MAX_IN; /* 1 .. LM_GRAPH_MAX_IN */
    default: return -1;
    }
}

static const char *norm_str(lt_fft_norm n) {
    return n == LT_FFT_ORTHO ? "ortho" : n == LT_FFT_BACKWARD ? "backward" : n == LT_FFT_FORWARD ? "forward" : NULL;
}

/* A float literal TorchScript reads as a float (never an int: "1" -> "1.0"). */
static int put_float(lm_strbuf *b, double v) {
    if (!isfinite(v)) return -1;
    char s[40];
    snprintf(s, sizeof s, "%.17g", v);
    lm_strbuf_str(b, s);
    if (!strpbrk(s, ".e")) lm_strbuf_str(b, ".0");
    return 0;
}

/* "self.n<i>_<what>", or "None" for an absent optional tensor. */
static void put_param(lm_strbuf *b, int i, const char *what, lt_tensor *t) {
    if (t) lm_strbuf_fmt(b, "self.n%d_%s", i, what);
    else lm_strbuf_str(b, "None");
}

static int check_node(const lm_graph *g, int i) {
    const lm_gnode *n = &g->n[i];
    int k = arity(n->op);
    if (k < 0) {
        char why[64];
        snprintf(why, sizeof why, "op %d has no TorchScript form in lamac", (int)n->op);
        return node_err(LM_ENOTSUP, g, i, why);
    }
    if ((n->op == LM_GOP_INPUT) != (i == 0)) return node_err(LM_EINVAL, g, i, "the input must be node 0, and only it");
    if (n->op == LM_GOP_CAT ? n->n_in < 1 || n->n_in > k : n->n_in != k)
        return node_err(LM_EINVAL, g, i, "wrong number of inputs");
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] < 0 || n->in[j] >= i) return node_err(LM_EINVAL, g, i, "an input is not an earlier node");
    switch (n->op) {
    case LM_GOP_CONV:
    case LM_GOP_CONVT:
        if (lt_dim(n->w) != 4) return node_err(LM_EINVAL, g, i, "no 4-D weight");
        if (n->a[0] < 1 || n->a[3] < 1 || n->a[n->op == LM_GOP_CONV ? 2 : 4] < 1)
            return node_err(LM_EINVAL, g, i, "stride, dilation and groups must be >= 1");
        break;
    case LM_GOP_BN:
        if (!n->mean || !n->var) return node_err(LM_EINVAL, g, i, "no running statistics");
        if (!isfinite(n->eps)) return node_err(LM_EINVAL, g, i, "eps is not finite");
        break;
    case LM_GOP_PAD:
        if (n->pad_mode != LT_PAD_REFLECT && n->pad_mode != LT_PAD_CONSTANT && n->pad_mode != LT_PAD_REPLICATE)
            return node_err(LM_ENOTSUP, g, i, "unknown padding mode");
        break;
    case LM_GOP_RFFT2:
    case LM_GOP_IRFFT2:
        if (!norm_str(n->norm)) return node_err(LM_EINVAL, g, i, "unknown FFT norm");
        break;
    case LM_GOP_CAT:
    case LM_GOP_SLICE:
        if (n->a[0] < 1 || n->a[0] > 3) return node_err(LM_EINVAL, g, i, "dimension is not 1, 2 or 3");
        break;
    case LM_GOP_HALF:
        if ((n->a[0] != 2 && n->a[0] != 3) || (n->a[1] != 0 && n->a[1] != 1))
            return node_err(LM_EINVAL, g, i, "half: dimension 2 or 3, half 0 or 1");
        break;
    default: break;
    }
    return 0;
}

/* One statement (or two) computing v<i>. */
static void put_node(lm_strbuf *b, const lm_graph *g, int i) {
    const lm_gnode *n = &g->n[i];
    const int x = n->in[0];
    const int64_t *a = n->a;
    lm_strbuf_fmt(b, "    v%d = ", i);
    switch (n->op) {
    case LM_GOP_INPUT: /* (N, 4, H, W) */
        lm_strbuf_str(b, "torch.cat([image * (1.0 - mask), mask], 1)");
        break;
    case LM_GOP_PAD: {
        const char *fn = n->pad_mode == LT_PAD_REFLECT ? "reflection_pad2d"
                         : n->pad_mode == LT_PAD_REPLICATE ? "replication_pad2d" : "constant_pad_nd";
        lm_strbuf_fmt(b, "torch.%s(v%d, [%lld, %lld, %lld, %lld]%s)", fn, x, (long long)a[0], (long long)a[1],
                      (long long)a[2], (long long)a[3], n->pad_mode == LT_PAD_CONSTANT ? ", 0.0" : "");
        break;
    }
    case LM_GOP_CONV:
        lm_strbuf_fmt(b, "torch.conv2d(v%d, ", x);
        put_param(b, i, "w", n->w);
        lm_strbuf_str(b, ", ");
        put_param(b, i, "b", n->b);
        lm_strbuf_fmt(b, ", [%lld, %lld], [%lld, %lld], [%lld, %lld], %lld)", (long long)a[0], (long long)a[0],
                      (long long)a[1], (long long)a[1], (long long)a[2], (long long)a[2], (long long)a[3]);
        break;
    case LM_GOP_CONVT:
        lm_strbuf_fmt(b, "torch.conv_transpose2d(v%d, ", x);
        put_param(b, i, "w", n->w);
        lm_strbuf_str(b, ", ");
        put_param(b, i, "b", n->b);
        lm_strbuf_fmt(b, ", [%lld, %lld], [%lld, %lld], [%lld, %lld], %lld, [%lld, %lld])", (long long)a[0],
                      (long long)a[0], (long long)a[1], (long long)a[1], (long long)a[2], (long long)a[2],
                      (long long)a[3], (long long)a[4], (long long)a[4]);
        break;
    case LM_GOP_BN: /* eval: running statistics, momentum unused */
        lm_strbuf_fmt(b, "torch.batch_norm(v%d, ", x);
        put_param(b, i, "w", n->w);
        lm_strbuf_str(b, ", ");
        put_param(b, i, "b", n->b);
        lm_strbuf_fmt(b, ", self.n%d_mean, self.n%d_var, False, 0.1, ", i, i);
        put_float(b, n->eps);
        lm_strbuf_str(b, ", True)");
        break;
    case LM_GOP_RELU: lm_strbuf_fmt(b, "torch.relu(v%d)", x); break;
    case LM_GOP_SIGMOID: lm_strbuf_fmt(b, "torch.sigmoid(v%d)", x); break;
    case LM_GOP_TANH: lm_strbuf_fmt(b, "torch.tanh(v%d)", x); break;
    case LM_GOP_ADD: lm_strbuf_fmt(b, "v%d + v%d", x, n->in[1]); break;
    case LM_GOP_MUL: lm_strbuf_fmt(b, "v%d * v%d", x, n->in[1]); break;
    case LM_GOP_CAT:
        lm_strbuf_str(b, "torch.cat([");
        for (int j = 0; j < n->n_in; j++) lm_strbuf_fmt(b, "%sv%d", j ? ", " : "", n->in[j]);
        lm_strbuf_fmt(b, "], %lld)", (long long)a[0]);
        break;
    case LM_GOP_SLICE:
        lm_strbuf_fmt(b, "torch.narrow(v%d, %lld, %lld, %lld)", x, (long long)a[0], (long long)a[1], (long long)a[2]);
        break;
    case LM_GOP_HALF: /* the size // 2 of run time (the LFU's split of an even, square map) */
        if (a[1]) lm_strbuf_fmt(b, "torch.narrow(v%d, %lld, v%d.size(%lld) // 2, v%d.size(%lld) // 2)", x,
                                (long long)a[0], x, (long long)a[0], x, (long long)a[0]);
        else lm_strbuf_fmt(b, "torch.narrow(v%d, %lld, 0, v%d.size(%lld) // 2)", x, (long long)a[0], x, (long long)a[0]);
        break;
    case LM_GOP_AVGPOOL2:
        lm_strbuf_fmt(b, "torch.avg_pool2d(v%d, [2, 2], [2, 2], [0, 0], False, True)", x);
        break;
    case LM_GOP_RFFT2: /* (N, C, H, W) -> (N, C, H, Wf) complex -> (N, C, 2, H, Wf) -> (N, 2C, H, Wf) */
        lm_strbuf_fmt(b, "torch.flatten(torch.view_as_real(torch.fft_rfftn(v%d, None, [-2, -1], \"%s\"))"
                         ".permute([0, 1, 4, 2, 3]), 1, 2)", x, norm_str(n->norm));
        break;
    case LM_GOP_IRFFT2: /* (N, 2C, H, Wf) -> (N, C, 2, H, Wf) -> (N, C, H, Wf) complex -> (N, C, H, W) */
        lm_strbuf_fmt(b, "v%d.reshape([v%d.size(0), -1, 2, v%d.size(2), v%d.size(3)])\n", x, x, x, x);
        lm_strbuf_fmt(b, "    v%d = torch.fft_irfftn(torch.complex(v%d.select(2, 0), v%d.select(2, 1)), "
                         "[v%d.size(2), v%d.size(3)], [-2, -1], \"%s\")", i, i, i, n->in[1], n->in[1], norm_str(n->norm));
        break;
    case LM_GOP_COORDS: /* float32 linspace (N, 1, H, 1) and (N, 1, 1, W), in x's dtype and device */
        lm_strbuf_fmt(b, "torch.cat([torch.linspace(0.0, 1.0, v%d.size(2), dtype=6).to(v%d)"
                         ".reshape([1, 1, -1, 1]).expand([v%d.size(0), 1, v%d.size(2), v%d.size(3)]), "
                         "torch.linspace(0.0, 1.0, v%d.size(3), dtype=6).to(v%d)"
                         ".reshape([1, 1, 1, -1]).expand([v%d.size(0), 1, v%d.size(2), v%d.size(3)])], 1)",
                      x, x, x, x, x, x, x, x, x, x);
        break;
    case LM_GOP_REPEAT2: lm_strbuf_fmt(b, "v%d.repeat([1, 1, 2, 2])", x); break;
    default: break; /* refused by check_node */
    }
    lm_strbuf_str(b, "\n");
}

int lm_ts_source(char **out, const lm_graph *g) {
    *out = NULL;
    if (g->len < 1 || g->n[0].op != LM_GOP_INPUT) return lm_err_code(LM_EINVAL, "torchscript export: the graph has no input node");
    if (g->out < 1 || g->out >= g->len) return lm_err_code(LM_EINVAL, "torchscript export: the graph has no output node");
    if (g->input_nc != 4 || g->output_nc != 3)
        return lm_err_code(LM_ENOTSUP, "torchscript export: the IOPaint contract needs a generator with input_nc 4 "
                           "(RGB + mask) and output_nc 3, not %d and %d", g->input_nc, g->output_nc);
    if (g->modulo < 1) return lm_err_code(LM_EINVAL, "torchscript export: graph modulo %d", g->modulo);
    for (int i = 0; i < g->len; i++) {
        int rc = check_node(g, i);
        if (rc < 0) return rc;
    }
    lm_strbuf b = {0};
    lm_strbuf_str(&b, "def forward(self, image: Tensor, mask: Tensor) -> Tensor:\n");
    lm_strbuf_fmt(&b, "    assert image.size(2) %% %d == 0 and image.size(3) %% %d == 0, "
                      "\"LaMa: image height and width must be multiples of %d (pad the image)\"\n",
                  g->modulo, g->modulo, g->modulo);
    if (g->needs_square)
        lm_strbuf_str(&b, "    assert image.size(2) == image.size(3), \"LaMa: this generator (enable_lfu) needs a square image\"\n");
    lm_strbuf_str(&b, "    mask = (mask > 0).to(image.dtype)\n");
    for (int i = 0; i < g->len; i++) put_node(&b, g, i);
    lm_strbuf_fmt(&b, "    return mask * v%d + (1.0 - mask) * image\n", g->out);
    if (b.oom) {
        lm_strbuf_free(&b);
        return lm_err_code(LM_ENOMEM, "torchscript export: out of memory");
    }
    *out = b.p;
    return 0;
}

/* Registers t (converted to dt, on the CPU) as n<i>_<what>. */
static int reg(lt_jit *m, const lm_graph *g, int i, const char *what, lt_tensor *t, int is_buffer, lt_dtype dt) {
    if (!t) return 0;
    char name[48];
    snprintf(name, sizeof name, "n%d_%s", i, what);
    lt_scope_push();
    int rc = lt_jit_register(m, name, lt_to_dtype(lt_to_device(t, LT_CPU), dt), is_buffer);
    lt_scope_pop();
    const lm_gnode *n = &g->n[i];
    if (rc < 0)
        return lm_err_lt("torchscript export: graph node %d (%s%s%s): registering %s", i, lm_gop_name(n->op),
                         n->what ? " in " : "", n->what ? n->what : "", name);
    return 0;
}

int lm_ts_module(lt_jit **out, const lm_graph *g, const lm_ts_opts *o) {
    *out = NULL;
    lm_ts_opts d = lm_ts_defaults();
    if (!o) o = &d;
    if (o->dtype != LT_F32 && o->dtype != LT_F64)
        return lm_err_code(LM_EINVAL, "torchscript export: dtype %s (expected F32 or F64)", lt_dtype_name(o->dtype));
    char *src = NULL;
    int rc = lm_ts_source(&src, g);
    if (rc < 0) return rc;
    lt_jit *m = lt_jit_new(TS_CLASS);
    if (!m) rc = lm_err_lt("torchscript export: new module");
    for (int i = 0; !rc && i < g->len; i++) {
        const lm_gnode *n = &g->n[i];
        if (n->op != LM_GOP_CONV && n->op != LM_GOP_CONVT && n->op != LM_GOP_BN) continue;
        rc = reg(m, g, i, "w", n->w, 0, o->dtype);
        if (!rc) rc = reg(m, g, i, "b", n->b, 0, o->dtype);
        if (!rc) rc = reg(m, g, i, "mean", n->mean, 1, o->dtype);
        if (!rc) rc = reg(m, g, i, "var", n->var, 1, o->dtype);
    }
    if (!rc && lt_jit_define(m, src) < 0) rc = lm_err_lt("torchscript export: compiling the generated forward");
    free(src);
    if (rc < 0) {
        lt_jit_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int lm_export_torchscript(const lm_graph *g, const char *path, const lm_ts_opts *o) {
    lt_jit *m = NULL;
    int rc = lm_ts_module(&m, g, o);
    if (rc < 0) return rc;
    void *data = NULL;
    size_t size = 0;
    if (lt_jit_save_buffer(m, &data, &size) < 0) rc = lm_err_lt("torchscript export: serialising the module");
    lt_jit_free(m);
    if (!rc && lm_atomic_write_file(path, data, size) < 0) rc = lm_err_prefix("torchscript export");
    free(data);
    return rc;
}
