/* dft.h — the discrete Fourier transforms of the FourierUnit (torch.fft.rfftn / irfftn over
 * (H, W) with a norm) written as real matrices, for exporters whose runtime has no FFT op or
 * needs a fixed-size graph (model/export_onnx.c, the default --fft matmul). Built in float64,
 * each with its norm factor folded in (ortho: 1/sqrt(n) per axis both ways; backward: 1
 * forward, 1/n inverse; forward: 1/n forward, 1 inverse). Angles are reduced exactly
 * ((j*k) mod n) and the quarter turns are exact (cos and sin in {0, ±1}).
 *
 * Layouts (row-major):
 *   lm_dft_r2c:   re, im (n x nf), nf = n/2 + 1: X[k] = sum_j x[j] (re[j][k] + i im[j][k]),
 *                 i.e. a row vector times the matrix, the rfft over the last axis;
 *   lm_dft_c2c:   m (2n x 2n) acting from the left on [Re; Im] stacked along the axis:
 *                 [Yr; Yi] = m @ [Xr; Xi], the full complex (i)DFT over that axis;
 *   lm_dft_c2r:   cr, ci (nf x n): out[j] = sum_k Re X[k] cr[k][j] + Im X[k] ci[k][j], the
 *                 irfft to n points exactly as torch's C2R: the imaginary part of bin 0 and
 *                 (n even) of bin n/2 is ignored, the bins 0 < k < n/2 count twice
 *                 (Hermitian symmetry).
 * No official counterpart (the FourierUnit calls torch.fft). */
#ifndef LM_DFT_H
#define LM_DFT_H

#include <stdint.h>

#include "shim/lt.h"

/* The norm factor of one axis of n points. */
double lm_dft_scale(int64_t n, lt_fft_norm norm, int inverse);

void lm_dft_r2c(int64_t n, lt_fft_norm norm, double *re, double *im);
void lm_dft_c2c(int64_t n, lt_fft_norm norm, int inverse, double *m);
void lm_dft_c2r(int64_t n, lt_fft_norm norm, double *cr, double *ci);

#endif
