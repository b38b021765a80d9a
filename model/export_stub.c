#include "model/export_onnx.h"
#include "model/export_torchscript.h"
#include "core/err.h"
lm_export_onnx_opts lm_export_onnx_defaults(void) { return (lm_export_onnx_opts){512, 0}; }
int lm_export_onnx(const lm_graph *g, const lm_export_onnx_opts *o, const char *path) { (void)g; (void)o; (void)path; return lm_err_code(LM_ENOTSUP, "stub"); }
int lm_export_torchscript(const lm_graph *g, const char *path) { (void)g; (void)path; return lm_err_code(LM_ENOTSUP, "stub"); }
