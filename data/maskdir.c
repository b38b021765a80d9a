/* maskdir.c — training masks from a folder of PNGs (see maskdir.h). */
#include "data/maskdir.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/image.h"
#include "data/walk.h"

struct lm_maskdir {
    char *indir;
    int mode, threshold;
    lm_file_list files;
};

static int is_png(const char *name, void *ctx) {
    (void)ctx;
    size_t n = strlen(name);
    return n > 4 && name[n - 4] == '.' && tolower((unsigned char)name[n - 3]) == 'p' &&
           tolower((unsigned char)name[n - 2]) == 'n' && tolower((unsigned char)name[n - 1]) == 'g';
}

int lm_maskdir_open(lm_maskdir **out, const lm_mask_folder_cfg *c) {
    *out = NULL;
    if (!c->indir || !*c->indir) return lm_err_code(LM_EINVAL, "folder masks: no folder given (folder_kwargs.indir)");
    if (c->mode != LM_MASK_FOLDER_RESIZE && c->mode != LM_MASK_FOLDER_CROP)
        return lm_err_code(LM_EINVAL, "folder masks %s: unknown mode %d", c->indir, c->mode);
    if (c->threshold < 0 || c->threshold > 254)
        return lm_err_code(LM_EINVAL, "folder masks %s: threshold must be in [0, 254], got %d", c->indir, c->threshold);
    lm_maskdir *md = calloc(1, sizeof *md);
    if (!md || !(md->indir = strdup(c->indir))) {
        free(md);
        return lm_err_code(LM_ENOMEM, "folder masks: out of memory");
    }
    md->mode = c->mode, md->threshold = c->threshold;
    int rc = lm_walk_files(&md->files, c->indir, is_png, NULL);
    if (rc < 0) lm_err_prefix("folder masks");
    else if (md->files.n == 0) rc = lm_err_code(LM_EINVAL, "folder masks: no mask PNG (*.png) in %s", c->indir);
    if (rc < 0) {
        lm_maskdir_close(md);
        return rc;
    }
    *out = md;
    return 0;
}

void lm_maskdir_close(lm_maskdir *md) {
    if (!md) return;
    lm_file_list_free(&md->files);
    free(md->indir);
    free(md);
}

size_t lm_maskdir_count(const lm_maskdir *md) { return md->files.n; }
const char *lm_maskdir_file(const lm_maskdir *md, size_t i) { return i < md->files.n ? md->files.v[i] : NULL; }

static int source(void *ctx, uint8_t *out, int h, int w, lm_rng *rng) { return lm_maskdir_draw(ctx, out, h, w, rng); }

void lm_maskdir_attach(lm_maskdir *md, lm_mask_cfg *cfg) {
    cfg->folder_kwargs.source = source;
    cfg->folder_kwargs.source_ctx = md;
}

int lm_maskdir_fit(uint8_t *out, int h, int w, const uint8_t *src, int sw, int sh, int mode, int threshold,
                   lm_rng *rng) {
    if (h <= 0 || w <= 0 || sw <= 0 || sh <= 0) return lm_err_code(LM_EINVAL, "folder masks: bad size");
    /* the scaled size (rw, rh) of the source, then a crop (ox, oy) of it */
    int64_t rw = sw, rh = sh;
    if (mode == LM_MASK_FOLDER_RESIZE || sw < w || sh < h) {
        /* shorter side (relative to the crop) fits exactly; the other is rounded, at least the crop */
        if ((int64_t)sw * h <= (int64_t)sh * w) { /* width is the tighter side */
            rw = w;
            rh = ((int64_t)sh * w * 2 + sw) / (2 * (int64_t)sw);
            if (rh < h) rh = h;
        } else {
            rh = h;
            rw = ((int64_t)sw * h * 2 + sh) / (2 * (int64_t)sh);
            if (rw < w) rw = w;
        }
    }
    int64_t oy = lm_rng_randint(rng, 0, rh - h + 1), ox = lm_rng_randint(rng, 0, rw - w + 1);
    for (int y = 0; y < h; y++) {
        int64_t syy = (oy + y) * sh / rh; /* nearest: floor(dst * src / dst_size), cv2 INTER_NEAREST */
        if (syy >= sh) syy = sh - 1;
        const uint8_t *row = src + syy * sw;
        for (int x = 0; x < w; x++) {
            int64_t sx = (ox + x) * sw / rw;
            if (sx >= sw) sx = sw - 1;
            out[(size_t)y * w + x] = row[sx] > threshold;
        }
    }
    return 0;
}

int lm_maskdir_draw(lm_maskdir *md, uint8_t *out, int h, int w, lm_rng *rng) {
    size_t i = (size_t)lm_rng_randint(rng, 0, (int64_t)md->files.n);
    size_t n = strlen(md->indir) + strlen(md->files.v[i]) + 2;
    char *path = malloc(n);
    if (!path) return lm_err_code(LM_ENOMEM, "folder masks: out of memory");
    snprintf(path, n, "%s/%s", md->indir, md->files.v[i]);
    lm_image im = {0};
    int rc = lm_image_read(&im, path, 1);
    if (rc < 0) lm_err_prefix("folder masks: unreadable mask");
    else rc = lm_maskdir_fit(out, h, w, im.data, im.w, im.h, md->mode, md->threshold, rng);
    lm_image_free(&im);
    free(path);
    return rc;
}
