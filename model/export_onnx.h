/* STUB (local only) */
#ifndef LM_EXPORT_ONNX_H
#define LM_EXPORT_ONNX_H
#include "model/graph.h"
enum { LM_ONNX_FFT_MATMUL = 0, LM_ONNX_FFT_DFT_OP = 1 };
typedef struct lm_export_onnx_opts { int size, fft; } lm_export_onnx_opts;
lm_export_onnx_opts lm_export_onnx_defaults(void);
int lm_export_onnx(const lm_graph *g, const lm_export_onnx_opts *o, const char *path);
#endif
