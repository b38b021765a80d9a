/* grid.h — the sample grid of training, like the official DirectoryVisualizer
 * (saicinpainting/training/visualizers/directory.py + base.py
 * visualize_mask_and_images_batch, with configs/training/visualizer/directory.yaml's
 * rescale_keys for the discriminator maps).
 *
 * One row per sample (at most max_items), columns left to right:
 *     image | masked input | prediction | inpainted | discr fake | discr real
 * (the discriminator columns only when given). As in the official visualizer: the mask
 * (> 0.5) is drawn on every column but the clean result (here: inpainted, the official's
 * last_without_mask) with skimage's mark_boundaries(mode='thick', color red, outline white):
 * boundary pixels (a 4-neighbour differs) red, the pixels next to them (3x3) white; the masked
 * input is image·(1 − mask) (the official black_mask); discriminator logits are resized to
 * the image size with nearest interpolation (F.interpolate), shown grey, and rescaled per
 * sample as rescale_keys does: x −= min(x); x /= max(x) + 1e-5. Pixels are
 * uint8(clip(v·255, 0, 255)) (truncation, as the official astype('uint8')).
 *
 * Plain float buffers in (copy tensors to the CPU first), an RGB buffer out; the caller
 * encodes it (data/image.h lm_image_write_png / lm_image_encode_png for TensorBoard). */
#ifndef LM_GRID_H
#define LM_GRID_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_grid_input {
    int n, h, w;              /* batch size and image size */
    const float *image;       /* (n, 3, h, w) in [0, 1] */
    const float *mask;        /* (n, 1, h, w); hole where > 0.5 */
    const float *pred;        /* (n, 3, h, w) the generator's raw output */
    const float *discr_fake;  /* (n, 1, dh, dw) D logits of pred, or NULL */
    const float *discr_real;  /* (n, 1, dh, dw) D logits of image, or NULL */
    int dh, dw;
} lm_grid_input;

/* Renders min(n, max_items) rows into a new malloc'd RGB buffer (*out_h, *out_w, 3), owned by
 * the caller (free()). Errors: bad sizes or missing buffers (LM_EINVAL). */
int lm_grid_render(uint8_t **out, int *out_w, int *out_h, const lm_grid_input *in, int max_items);
/* Number of columns lm_grid_render draws for in. */
int lm_grid_columns(const lm_grid_input *in);

/* The official file name, as PNG: dst = "<samples_dir>/epoch%04d<suffix>/batch%07d.png"
 * (suffix e.g. "_train", "_val"); creates the epoch folder. */
int lm_grid_path(char *dst, size_t cap, const char *samples_dir, int64_t epoch, int64_t batch, const char *suffix);

#endif
