/* grid.c — the training sample grid (see grid.h); mirrors
 * saicinpainting/training/visualizers/base.py visualize_mask_and_images(_batch) and
 * skimage.segmentation.mark_boundaries(mode='thick'). */
#include "train/grid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"

static uint8_t to_u8(float v) {
    float x = v * 255.f;
    if (!(x > 0)) return 0; /* NaN too */
    if (x >= 255) return 255;
    return (uint8_t)x; /* truncation, as numpy astype('uint8') after clip */
}

int lm_grid_columns(const lm_grid_input *in) { return 4 + (in->discr_fake != NULL) + (in->discr_real != NULL); }

/* boundaries (thick): a pixel whose cross neighbourhood holds both labels; outlines: 3x3
 * dilation of the boundaries */
static void boundaries(uint8_t *bnd, uint8_t *outl, const uint8_t *m, int h, int w) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = m[y * w + x];
            int b = (y > 0 && m[(y - 1) * w + x] != v) || (y < h - 1 && m[(y + 1) * w + x] != v) ||
                    (x > 0 && m[y * w + x - 1] != v) || (x < w - 1 && m[y * w + x + 1] != v);
            bnd[y * w + x] = (uint8_t)b;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int o = 0;
            for (int dy = -1; dy <= 1 && !o; dy++)
                for (int dx = -1; dx <= 1 && !o; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if (yy >= 0 && yy < h && xx >= 0 && xx < w && bnd[yy * w + xx]) o = 1;
                }
            outl[y * w + x] = (uint8_t)o;
        }
}

int lm_grid_render(uint8_t **out, int *out_w, int *out_h, const lm_grid_input *in, int max_items) {
    *out = NULL, *out_w = *out_h = 0;
    if (!in || in->n <= 0 || in->h <= 0 || in->w <= 0 || max_items <= 0 || !in->image || !in->mask || !in->pred)
        return lm_err_code(LM_EINVAL, "sample grid: empty batch or missing image/mask/prediction");
    if ((in->discr_fake || in->discr_real) && (in->dh <= 0 || in->dw <= 0))
        return lm_err_code(LM_EINVAL, "sample grid: bad discriminator map size %dx%d", in->dh, in->dw);
    int n = in->n < max_items ? in->n : max_items, h = in->h, w = in->w, cols = lm_grid_columns(in);
    if ((int64_t)w * cols > 65535 || (int64_t)h * n > 65535)
        return lm_err_code(LM_EINVAL, "sample grid: %d rows of %d columns of %dx%d is too large", n, cols, w, h);
    int W = w * cols, H = h * n;
    size_t np = (size_t)h * w;
    uint8_t *img = malloc((size_t)W * H * 3), *m = malloc(np * 3);
    float *dmap = malloc(sizeof(float) * np);
    if (!img || !m || !dmap) {
        free(img), free(m), free(dmap);
        return lm_err_code(LM_ENOMEM, "sample grid: out of memory");
    }
    uint8_t *bnd = m + np, *outl = m + 2 * np;
    for (int i = 0; i < n; i++) {
        const float *im = in->image + (size_t)i * 3 * np, *pr = in->pred + (size_t)i * 3 * np;
        const float *mk = in->mask + (size_t)i * np;
        for (size_t p = 0; p < np; p++) m[p] = mk[p] > 0.5f;
        boundaries(bnd, outl, m, h, w);
        for (int c = 0; c < cols; c++) {
            const float *dsrc = NULL;
            int col_kind = c < 4 ? c : (c == 4 && in->discr_fake ? 4 : 5);
            if (col_kind >= 4) {
                dsrc = (col_kind == 4 ? in->discr_fake : in->discr_real) + (size_t)i * in->dh * in->dw;
                float mn = 0, mx = 0;
                for (int y = 0; y < h; y++) { /* nearest: src = floor(dst * in / out) */
                    int sy = (int)((int64_t)y * in->dh / h);
                    for (int x = 0; x < w; x++) {
                        int sx = (int)((int64_t)x * in->dw / w);
                        float v = dsrc[(size_t)sy * in->dw + sx];
                        dmap[(size_t)y * w + x] = v;
                        if ((y == 0 && x == 0) || v < mn) mn = v;
                    }
                }
                for (size_t p = 0; p < np; p++) {
                    dmap[p] -= mn;
                    if (p == 0 || dmap[p] > mx) mx = dmap[p];
                }
                for (size_t p = 0; p < np; p++) dmap[p] /= mx + 1e-5f;
            }
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    size_t p = (size_t)y * w + x;
                    uint8_t *o = img + (((size_t)i * h + y) * W + (size_t)c * w + x) * 3;
                    float rgb[3];
                    for (int k = 0; k < 3; k++) {
                        switch (col_kind) {
                        case 0: rgb[k] = im[k * np + p]; break;
                        case 1: rgb[k] = im[k * np + p] * (1.f - (float)m[p]); break;
                        case 2: rgb[k] = pr[k * np + p]; break;
                        case 3: rgb[k] = m[p] ? pr[k * np + p] : im[k * np + p]; break;
                        default: rgb[k] = dmap[p]; break;
                        }
                    }
                    if (col_kind != 3 && bnd[p]) rgb[0] = 1, rgb[1] = 0, rgb[2] = 0;
                    else if (col_kind != 3 && outl[p]) rgb[0] = rgb[1] = rgb[2] = 1;
                    for (int k = 0; k < 3; k++) o[k] = to_u8(rgb[k]);
                }
        }
    }
    free(m);
    free(dmap);
    *out = img, *out_w = W, *out_h = H;
    return 0;
}

int lm_grid_path(char *dst, size_t cap, const char *samples_dir, int64_t epoch, int64_t batch, const char *suffix) {
    int k = snprintf(dst, cap, "%s/epoch%04lld%s", samples_dir, (long long)epoch, suffix ? suffix : "");
    if (k < 0 || (size_t)k >= cap) return lm_err_code(LM_EINVAL, "sample grid path too long in %s", samples_dir);
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        return lm_err_code(LM_EIO, "cannot create %s: %s", dst, strerror(errno));
    int k2 = snprintf(dst + k, cap - (size_t)k, "/batch%07lld.png", (long long)batch);
    if (k2 < 0 || (size_t)k2 >= cap - (size_t)k) return lm_err_code(LM_EINVAL, "sample grid path too long in %s", samples_dir);
    return 0;
}
