/* batch.h — the batches commands build outside the training loader (data/loader.h): a batch
 * file (`lamac step --batch`: safetensors with `image` (N, 3, H, W) in [0, 1] and `mask`
 * (N, 1, H, W) in {0, 1}), and random batches for the benchmark of one iteration (`lamac
 * bench step`) and the self-checks of data parallelism (`lamac ddp-check`). No official
 * counterpart (the official tests feed batches from the DataLoader). Tensors land in the
 * current scope (shim/lt.h). */
#ifndef LM_BATCH_H
#define LM_BATCH_H

#include "shim/lt.h"

/* `image` and `mask` of the file at path as dt tensors (float32, or float64 under precision 64)
 * on dev. Floating-point, U8 and BOOL tensors are accepted. 0, or negative with a message
 * naming the file and the tensor. */
int lm_batch_read(lt_tensor **img, lt_tensor **mask, const char *path, lt_dtype dt, lt_device dev);

/* bs random images U[0, 1) (libtorch's generator) and, per sample b, one box over a quarter
 * to a half of the image, placed by b: (bs, 3, S, S), (bs, 1, S, S) float32 on dev. */
int lm_batch_random_fixed_boxes(lt_tensor **img, lt_tensor **mask, int bs, int size, lt_device dev);

/* n random images U[0, 1) and one random box per sample (height and width a quarter to a half
 * of size, anywhere), all from libtorch's generator: deterministic in its state. (n, 3, S, S),
 * (n, 1, S, S) float32 on the CPU; n <= 64. */
int lm_batch_random_boxes(lt_tensor **img, lt_tensor **mask, int n, int size);

#endif
