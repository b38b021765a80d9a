/* export_onnx.h — `lamac export --format onnx`: a generator's inference graph
 * (model/graph.h) written as an ONNX model under the LaMa-ONNX contract (Carve/LaMa-ONNX,
 * the community's answer to official LaMa issue #315):
 *   opset 17; inputs `image` [B, 3, S, S] float32 in 0..1 and `mask` [B, 1, S, S] (binarised
 *   inside: mask > 0 -> 1); output `output` [B, 3, S, S] float32 =
 *   clip(255 * (mask * G(cat(image * (1 - mask), mask)) + (1 - mask) * image), 0, 255),
 *   the official predict composite (eval/predict.h) before its uint8 cast.
 * B is dynamic (dim_param "batch"); S is fixed at export (a multiple of 8 and of the graph's
 * modulo), except with LM_ONNX_FFT_DFT_OP below.
 *
 * Lowering: BatchNorm folded into the conv / transposed conv before it (in float64, stored
 * float32) or, where it cannot be, a Mul + Add with the folded constants; PAD -> Pad
 * (reflect / constant / edge); CONV -> Conv; CONVT -> ConvTranspose; AVGPOOL2 ->
 * AveragePool; SLICE, HALF -> Slice; CAT -> Concat; REPEAT2 -> Tile; COORDS -> a constant
 * expanded to the batch. RFFT2 / IRFFT2 with LM_ONNX_FFT_MATMUL: MatMuls with the DFT
 * matrices of model/dft.h at the fixed size (norm folded in), the channel layout of the
 * official FourierUnit (c0.re, c0.im, c1.re, ...).
 *
 * LM_ONNX_FFT_DFT_OP (`--fft dft-op`): H and W are dynamic too (dim_params "height",
 * "width"; the caller must feed multiples of the generator's modulo, square for the LFU: the
 * model does not check). RFFT2 / IRFFT2 use opset 17's DFT op (onesided for the forward; the
 * inverse extends the half spectrum by Hermitian symmetry, then takes the real part: torch's
 * C2R), the norm from the runtime size; COORDS (linspace as ATen's float32) and the LFU's
 * halves are built from Shape / Range. S then only serves to validate the graph at one size.
 *
 * The file is written atomically (core/atomic.h: a symlink at the target is replaced, not
 * followed); on any error nothing is left at path. */
#ifndef LM_EXPORT_ONNX_H
#define LM_EXPORT_ONNX_H

#include "model/graph.h"

enum { LM_ONNX_FFT_MATMUL = 0, LM_ONNX_FFT_DFT_OP = 1 };

typedef struct lm_export_onnx_opts {
    int size; /* S, the square input side; 0 = 512 */
    int fft;  /* LM_ONNX_FFT_MATMUL (default) or LM_ONNX_FFT_DFT_OP */
} lm_export_onnx_opts;

lm_export_onnx_opts lm_export_onnx_defaults(void); /* size 512, matmul */
/* "matmul" / "dft-op" (the --fft flag) -> LM_ONNX_FFT_*; LM_EINVAL otherwise. */
int lm_export_onnx_fft_parse(const char *s, int *out);

/* The model's bytes into out (an empty lm_pb; the caller frees it with lm_pb_free). */
struct lm_pb;
int lm_export_onnx_bytes(const lm_graph *g, const lm_export_onnx_opts *o, struct lm_pb *out);
/* The same, written to path. */
int lm_export_onnx(const lm_graph *g, const lm_export_onnx_opts *o, const char *path);

#endif
