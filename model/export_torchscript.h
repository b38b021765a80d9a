/* export_torchscript.h — `lamac export --format torchscript`: a generator's inference graph
 * (model/graph.h) written as a TorchScript archive with the IOPaint / lama-cleaner contract
 * (no official counterpart: the official repository ships no TorchScript model; IOPaint's
 * big-lama.pt is the de-facto format):
 *
 *     forward(self, image, mask) -> Tensor
 *       image (1, 3, H, W) RGB in [0, 1]; mask (1, 1, H, W), binarised inside (> 0 is a hole;
 *       any dtype); H, W multiples of the generator's modulo (8 for LaMa; the caller pads).
 *       mask = (mask > 0) as image's dtype
 *       x = cat([image * (1 - mask), mask], 1)
 *       pred = generator(x)                         (eval mode: BatchNorm running statistics)
 *       return mask * pred + (1 - mask) * image     (N, 3, H, W) in [0, 1]
 *
 * The forward is TorchScript source generated from the graph, one statement per node, and
 * compiled by libtorch's own TorchScript compiler (shim/lt.h lt_jit_*): no Python, no
 * tracing, no size baked in (every size is read from the tensors at run time). Each node's
 * tensors are registered on the module as n<id>_w, n<id>_b (parameters) and n<id>_mean,
 * n<id>_var (buffers), so BatchNorm stays an exact eval batch_norm. Loads with
 * torch.jit.load (Python) and torch::jit::load (C++). */
#ifndef LM_EXPORT_TORCHSCRIPT_H
#define LM_EXPORT_TORCHSCRIPT_H

#include "model/graph.h"

typedef struct lm_ts_opts {
    lt_dtype dtype; /* the module's tensors: LT_F32 (default, what IOPaint feeds) or LT_F64 */
} lm_ts_opts;

lm_ts_opts lm_ts_defaults(void);

/* The TorchScript source of the forward (NUL-terminated, malloc'd; the caller frees it).
 * Errors name the node (index, op, graph node `what`) that cannot be expressed. */
int lm_ts_source(char **out, const lm_graph *g);

/* The module: tensors registered (converted to o->dtype, on the CPU), forward defined. The
 * caller frees it with lt_jit_free. o NULL: lm_ts_defaults(). */
int lm_ts_module(lt_jit **out, const lm_graph *g, const lm_ts_opts *o);

/* Writes the module to path atomically (core/atomic.h: a temporary file next to path,
 * renamed over it; a symlink at path is replaced, never followed; on any error nothing is
 * left behind). o NULL: lm_ts_defaults(). */
int lm_export_torchscript(const lm_graph *g, const char *path, const lm_ts_opts *o);

#endif
