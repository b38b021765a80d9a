/* onnx.h — an ONNX ModelProto builder over io/protobuf.h: nodes with their attributes,
 * initializers, graph inputs and outputs with typed shapes, serialised to bytes. Field
 * numbers are those of onnx/onnx.proto (github.com/onnx/onnx, proto2: ModelProto ir_version 1,
 * producer_name 2, graph 7, opset_import 8; GraphProto node 1, name 2, initializer 5,
 * input 11, output 12; NodeProto input 1, output 2, name 3, op_type 4, attribute 5;
 * AttributeProto name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20; TensorProto dims 1,
 * data_type 2, int64_data 7, name 8, raw_data 9; ValueInfoProto name 1, type 2;
 * TypeProto tensor_type 1; TypeProto.Tensor elem_type 1, shape 2; TensorShapeProto dim 1;
 * Dimension dim_value 1, dim_param 2; OperatorSetIdProto domain 1, version 2).
 *
 * The model is ir_version 8 with opset_import {"", opset} (17 by default), producer "lamac".
 * Each call encodes its part at once into one of four buffers (nodes, initializers, inputs,
 * outputs), which lm_onnx_serialize joins in a GraphProto: memory is the model's size, once.
 * Graph semantics (names defined before use, types) are the caller's; onnx.checker checks
 * them in the tests. No libtorch. No official LaMa counterpart. */
#ifndef LM_ONNX_H
#define LM_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "io/protobuf.h"

/* TensorProto.DataType values used here */
enum { LM_ONNX_FLOAT = 1, LM_ONNX_BOOL = 9, LM_ONNX_INT64 = 7, LM_ONNX_DOUBLE = 11 };

typedef enum lm_onnx_atype { /* AttributeProto.AttributeType values */
    LM_ONNX_A_FLOAT = 1, LM_ONNX_A_INT = 2, LM_ONNX_A_STRING = 3, LM_ONNX_A_TENSOR = 4,
    LM_ONNX_A_FLOATS = 6, LM_ONNX_A_INTS = 7
} lm_onnx_atype;

/* A tensor value: for an initializer or a TENSOR attribute. data holds numel elements of
 * elem_type (LM_ONNX_FLOAT: float; LM_ONNX_INT64: int64_t), native order. */
typedef struct lm_onnx_tensor {
    const char *name; /* may be NULL in an attribute */
    int elem_type;
    const int64_t *dims;
    int ndim;
    const void *data;
} lm_onnx_tensor;

typedef struct lm_onnx_attr {
    const char *name;
    lm_onnx_atype type;
    int64_t i;                     /* INT */
    float f;                       /* FLOAT */
    const char *s;                 /* STRING */
    const int64_t *ints;           /* INTS (n of them) */
    const float *floats;           /* FLOATS (n of them) */
    int n;
    const lm_onnx_tensor *t;       /* TENSOR */
} lm_onnx_attr;

/* Shorthands for attribute lists. */
#define LM_ONNX_INT(nm, v) ((lm_onnx_attr){.name = (nm), .type = LM_ONNX_A_INT, .i = (v)})
#define LM_ONNX_FLT(nm, v) ((lm_onnx_attr){.name = (nm), .type = LM_ONNX_A_FLOAT, .f = (v)})
#define LM_ONNX_STR(nm, v) ((lm_onnx_attr){.name = (nm), .type = LM_ONNX_A_STRING, .s = (v)})
#define LM_ONNX_INTS(nm, p, k) ((lm_onnx_attr){.name = (nm), .type = LM_ONNX_A_INTS, .ints = (p), .n = (k)})

/* A dimension of a graph input/output: param (a dim_param name such as "batch") when
 * non-NULL, else value (dim_value). */
typedef struct lm_onnx_dim {
    int64_t value;
    const char *param;
} lm_onnx_dim;

typedef struct lm_onnx {
    lm_pb nodes, inits, inputs, outputs; /* encoded GraphProto fields 1, 5, 11, 12 */
    int n_nodes, n_inits;
    char *graph_name, *doc;
    int64_t opset;
    int oom;
} lm_onnx;

/* graph_name: GraphProto.name; doc: ModelProto.doc_string (may be NULL). */
int lm_onnx_init(lm_onnx *m, const char *graph_name, const char *doc);
void lm_onnx_free(lm_onnx *m);

/* One NodeProto (domain ""). name may be NULL. */
int lm_onnx_node(lm_onnx *m, const char *op_type, const char *name, const char *const *in,
                 int n_in, const char *const *out, int n_out, const lm_onnx_attr *attrs,
                 int n_attrs);
/* An initializer (float32 as little-endian raw_data, int64 as int64_data). */
int lm_onnx_initializer(lm_onnx *m, const lm_onnx_tensor *t);
/* Graph input / output: a tensor of elem_type with the given dims. */
int lm_onnx_input(lm_onnx *m, const char *name, int elem_type, const lm_onnx_dim *dims, int ndim);
int lm_onnx_output(lm_onnx *m, const char *name, int elem_type, const lm_onnx_dim *dims, int ndim);

/* The ModelProto's bytes into out (an empty lm_pb; the caller frees it). */
int lm_onnx_serialize(const lm_onnx *m, lm_pb *out);

#endif
