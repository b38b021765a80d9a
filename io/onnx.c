/* onnx.c — the ONNX ModelProto builder (see onnx.h for the field numbers, checked against
 * onnx/onnx.proto). */
#include "io/onnx.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define IR_VERSION 8

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int lm_onnx_init(lm_onnx *m, const char *graph_name, const char *doc) {
    memset(m, 0, sizeof *m);
    m->opset = 17;
    m->graph_name = dupstr(graph_name ? graph_name : "graph");
    m->doc = dupstr(doc);
    if (!m->graph_name || (doc && !m->doc)) {
        lm_onnx_free(m);
        return lm_err_code(LM_ENOMEM, "onnx: out of memory");
    }
    return 0;
}

void lm_onnx_free(lm_onnx *m) {
    if (!m) return;
    lm_pb_free(&m->nodes);
    lm_pb_free(&m->inits);
    lm_pb_free(&m->inputs);
    lm_pb_free(&m->outputs);
    free(m->graph_name);
    free(m->doc);
    memset(m, 0, sizeof *m);
}

static int check(lm_onnx *m, const lm_pb *b, const char *what) {
    if (!b->oom) return 0;
    m->oom = 1;
    return lm_err_code(LM_ENOMEM, "onnx: %s: out of memory (or over protobuf's 2 GiB)", what);
}

static int64_t numel(const lm_onnx_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

/* TensorProto body (without its own tag). */
static int tensor_body(lm_pb *b, const lm_onnx_tensor *t) {
    int64_t n = numel(t);
    if (n < 0) return lm_err_code(LM_EINVAL, "onnx: tensor %s: negative dimension", t->name ? t->name : "");
    for (int i = 0; i < t->ndim; i++) lm_pb_int(b, 1, t->dims[i]); /* dims (unpacked is valid too) */
    lm_pb_int(b, 2, t->elem_type);
    if (t->name) lm_pb_str(b, 8, t->name);
    if (t->elem_type == LM_ONNX_FLOAT) {
        size_t mark = lm_pb_begin(b, 9); /* raw_data */
        lm_pb_raw_f32(b, t->data, (size_t)n);
        lm_pb_end(b, mark);
    } else if (t->elem_type == LM_ONNX_INT64) {
        lm_pb_packed_i64(b, 7, t->data, (size_t)n); /* int64_data */
    } else {
        return lm_err_code(LM_EINVAL, "onnx: tensor %s: element type %d not supported", t->name ? t->name : "", t->elem_type);
    }
    return 0;
}

static int attr(lm_pb *b, const lm_onnx_attr *a) {
    size_t mark = lm_pb_begin(b, 5); /* NodeProto.attribute */
    lm_pb_str(b, 1, a->name);
    switch (a->type) {
    case LM_ONNX_A_FLOAT: lm_pb_float(b, 2, a->f); break;
    case LM_ONNX_A_INT: lm_pb_int(b, 3, a->i); break;
    case LM_ONNX_A_STRING: lm_pb_str(b, 4, a->s); break;
    case LM_ONNX_A_TENSOR: {
        size_t t = lm_pb_begin(b, 5);
        int rc = tensor_body(b, a->t);
        if (rc < 0) return rc;
        lm_pb_end(b, t);
        break;
    }
    case LM_ONNX_A_FLOATS: lm_pb_packed_f32(b, 7, a->floats, (size_t)a->n); break;
    case LM_ONNX_A_INTS: lm_pb_packed_i64(b, 8, a->ints, (size_t)a->n); break;
    default: return lm_err_code(LM_EINVAL, "onnx: attribute %s: type %d not supported", a->name, (int)a->type);
    }
    lm_pb_int(b, 20, a->type);
    lm_pb_end(b, mark);
    return 0;
}

int lm_onnx_node(lm_onnx *m, const char *op_type, const char *name, const char *const *in,
                 int n_in, const char *const *out, int n_out, const lm_onnx_attr *attrs,
                 int n_attrs) {
    lm_pb *b = &m->nodes;
    size_t mark = lm_pb_begin(b, 1); /* GraphProto.node */
    for (int i = 0; i < n_in; i++) lm_pb_str(b, 1, in[i] ? in[i] : ""); /* "" = optional input absent */
    for (int i = 0; i < n_out; i++) lm_pb_str(b, 2, out[i]);
    if (name) lm_pb_str(b, 3, name);
    lm_pb_str(b, 4, op_type);
    for (int i = 0; i < n_attrs; i++) {
        int rc = attr(b, &attrs[i]);
        if (rc < 0) return lm_err_prefix("onnx: node %s (%s)", name ? name : "", op_type);
    }
    lm_pb_end(b, mark);
    m->n_nodes++;
    return check(m, b, op_type);
}

int lm_onnx_initializer(lm_onnx *m, const lm_onnx_tensor *t) {
    if (!t->name) return lm_err_code(LM_EINVAL, "onnx: an initializer needs a name");
    size_t mark = lm_pb_begin(&m->inits, 5); /* GraphProto.initializer */
    int rc = tensor_body(&m->inits, t);
    if (rc < 0) return rc;
    lm_pb_end(&m->inits, mark);
    m->n_inits++;
    return check(m, &m->inits, t->name);
}

/* ValueInfoProto body: name, TypeProto{tensor_type{elem_type, shape{dim...}}}. */
static void value_info(lm_pb *b, const char *name, int elem_type, const lm_onnx_dim *dims, int ndim) {
    lm_pb_str(b, 1, name);
    size_t ty = lm_pb_begin(b, 2);       /* ValueInfoProto.type */
    size_t tt = lm_pb_begin(b, 1);       /* TypeProto.tensor_type */
    lm_pb_int(b, 1, elem_type);
    size_t sh = lm_pb_begin(b, 2);       /* Tensor.shape */
    for (int i = 0; i < ndim; i++) {
        size_t d = lm_pb_begin(b, 1);    /* TensorShapeProto.dim */
        if (dims[i].param) lm_pb_str(b, 2, dims[i].param);
        else lm_pb_int(b, 1, dims[i].value);
        lm_pb_end(b, d);
    }
    lm_pb_end(b, sh);
    lm_pb_end(b, tt);
    lm_pb_end(b, ty);
}

int lm_onnx_input(lm_onnx *m, const char *name, int elem_type, const lm_onnx_dim *dims, int ndim) {
    size_t mark = lm_pb_begin(&m->inputs, 11);
    value_info(&m->inputs, name, elem_type, dims, ndim);
    lm_pb_end(&m->inputs, mark);
    return check(m, &m->inputs, name);
}

int lm_onnx_output(lm_onnx *m, const char *name, int elem_type, const lm_onnx_dim *dims, int ndim) {
    size_t mark = lm_pb_begin(&m->outputs, 12);
    value_info(&m->outputs, name, elem_type, dims, ndim);
    lm_pb_end(&m->outputs, mark);
    return check(m, &m->outputs, name);
}

int lm_onnx_serialize(const lm_onnx *m, lm_pb *b) {
    if (m->oom) return lm_err_code(LM_ENOMEM, "onnx: the model was not built completely");
    lm_pb_int(b, 1, IR_VERSION);
    lm_pb_str(b, 2, "lamac");
    if (m->doc) lm_pb_str(b, 6, m->doc);
    size_t g = lm_pb_begin(b, 7);        /* ModelProto.graph */
    lm_pb_raw(b, m->nodes.p, m->nodes.n);
    lm_pb_str(b, 2, m->graph_name);
    lm_pb_raw(b, m->inits.p, m->inits.n);
    lm_pb_raw(b, m->inputs.p, m->inputs.n);
    lm_pb_raw(b, m->outputs.p, m->outputs.n);
    lm_pb_end(b, g);
    size_t op = lm_pb_begin(b, 8);       /* ModelProto.opset_import */
    lm_pb_str(b, 1, "");
    lm_pb_int(b, 2, m->opset);
    lm_pb_end(b, op);
    if (b->oom) return lm_err_code(LM_ENOMEM, "onnx: serialising: out of memory (or over protobuf's 2 GiB)");
    return 0;
}
