/* batchstream.c — the batch stream file (see batchstream.h): a safetensors file of
 * image.NNNNNN / mask.NNNNNN pairs, read whole (mmapped) and written at the end of a run. */
#include "train/batchstream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "io/safetensors.h"

#define FORMAT "lamac-batch-stream-1"

struct lm_bstream {
    lm_safetensors_file *f;
    char path[4096];
    int64_t count;
    int n, h, w;
    lm_batch b;
};

static int entry(const lm_safetensors_entry **out, lm_bstream *s, const char *what, int64_t i, int ch) {
    char name[64];
    snprintf(name, sizeof name, "%s.%06" PRId64, what, i);
    const lm_safetensors_entry *e = lm_safetensors_find(s->f, name);
    if (!e) return lm_err_code(LM_EINVAL, "batch stream %s: no %s (%" PRId64 " batches)", s->path, name, s->count);
    if (e->dtype != LM_DT_F32 && e->dtype != LM_DT_U8)
        return lm_err_code(LM_EINVAL, "batch stream %s: %s is %s (F32 or U8 expected)", s->path, name,
                           lm_dtype_name(e->dtype));
    if (e->ndim != 4 || e->shape[1] != ch || e->shape[0] <= 0 || e->shape[2] <= 0 || e->shape[3] <= 0)
        return lm_err_code(LM_EINVAL, "batch stream %s: %s is not (N, %d, H, W)", s->path, name, ch);
    if (s->n && (e->shape[0] != s->n || e->shape[2] != s->h || e->shape[3] != s->w))
        return lm_err_code(LM_EINVAL, "batch stream %s: %s has shape (%" PRId64 ", %d, %" PRId64 ", %" PRId64
                           "), batch 0 (%d, %d, %d, %d)", s->path, name, e->shape[0], ch, e->shape[2], e->shape[3],
                           s->n, ch, s->h, s->w);
    *out = e;
    return 0;
}

int lm_bstream_open(lm_bstream **out, const char *path) {
    *out = NULL;
    lm_bstream *s = calloc(1, sizeof *s);
    if (!s) return lm_err_code(LM_ENOMEM, "batch stream: out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    int rc = lm_safetensors_open(&s->f, path);
    if (rc < 0) {
        lm_err_prefix("batch stream");
        goto fail;
    }
    const char *fmt = lm_safetensors_meta(s->f, "format"), *nb = lm_safetensors_meta(s->f, "batches");
    if (!fmt || strcmp(fmt, FORMAT) || !nb) {
        rc = lm_err_code(LM_EINVAL, "batch stream %s: not a batch stream (metadata format = %s and batches expected)",
                         path, FORMAT);
        goto fail;
    }
    char *end;
    s->count = strtoll(nb, &end, 10);
    if (*end || s->count <= 0) {
        rc = lm_err_code(LM_EINVAL, "batch stream %s: batches = '%s'", path, nb);
        goto fail;
    }
    for (int64_t i = 0; i < s->count; i++) { /* every batch there, one shape */
        const lm_safetensors_entry *im, *mk;
        if ((rc = entry(&im, s, "image", i, 3)) < 0 || (rc = entry(&mk, s, "mask", i, 1)) < 0) goto fail;
        if (!s->n) s->n = (int)im->shape[0], s->h = (int)im->shape[2], s->w = (int)im->shape[3];
        if (mk->shape[0] != s->n || mk->shape[2] != s->h || mk->shape[3] != s->w) {
            rc = lm_err_code(LM_EINVAL, "batch stream %s: mask.%06" PRId64 " does not match image.%06" PRId64, path, i, i);
            goto fail;
        }
    }
    size_t px = (size_t)s->n * s->h * s->w;
    s->b.img = malloc(px * 3 * sizeof(float));
    s->b.mask = malloc(px * sizeof(float));
    s->b.image_ids = calloc((size_t)s->n, sizeof(int64_t));
    if (!s->b.img || !s->b.mask || !s->b.image_ids) {
        rc = lm_err_code(LM_ENOMEM, "batch stream: out of memory");
        goto fail;
    }
    s->b.n = s->n, s->b.h = s->h, s->b.w = s->w;
    for (int i = 0; i < s->n; i++) s->b.image_ids[i] = -1; /* a stream holds no image indices */
    *out = s;
    return 0;
fail:
    lm_bstream_close(s);
    return rc;
}

void lm_bstream_close(lm_bstream *s) {
    if (!s) return;
    lm_safetensors_close(s->f);
    free(s->b.img);
    free(s->b.mask);
    free(s->b.image_ids);
    free(s);
}

int64_t lm_bstream_count(const lm_bstream *s) { return s->count; }
int lm_bstream_batch_size(const lm_bstream *s) { return s->n; }
int lm_bstream_side(const lm_bstream *s, int *h, int *w) {
    *h = s->h, *w = s->w;
    return 0;
}

/* n values of e as float32 (U8: value / 255, the way an 8-bit image becomes [0, 1]). */
static void to_float(float *dst, const lm_safetensors_entry *e, size_t n) {
    if (e->dtype == LM_DT_F32) {
        memcpy(dst, e->data, n * sizeof(float));
    } else {
        const uint8_t *p = e->data;
        for (size_t k = 0; k < n; k++) dst[k] = (float)p[k] / 255.0f;
    }
}

int lm_bstream_get(const lm_batch **out, lm_bstream *s, int64_t i, int64_t epoch, int64_t batch) {
    *out = NULL;
    if (i < 0 || i >= s->count)
        return lm_err_code(LM_EINVAL, "batch stream %s: batch %" PRId64 " asked for, the stream has %" PRId64
                           " (max_steps must not exceed it)", s->path, i, s->count);
    const lm_safetensors_entry *im, *mk;
    int rc;
    if ((rc = entry(&im, s, "image", i, 3)) < 0 || (rc = entry(&mk, s, "mask", i, 1)) < 0) return rc;
    size_t px = (size_t)s->n * s->h * s->w;
    to_float(s->b.img, im, px * 3);
    if (mk->dtype == LM_DT_F32) {
        memcpy(s->b.mask, mk->data, px * sizeof(float));
    } else {
        const uint8_t *p = mk->data;
        for (size_t k = 0; k < px; k++) s->b.mask[k] = (float)p[k];
    }
    for (size_t k = 0; k < px; k++)
        if (s->b.mask[k] != 0.0f && s->b.mask[k] != 1.0f)
            return lm_err_code(LM_EINVAL, "batch stream %s: mask.%06" PRId64 " has a value outside {0, 1}", s->path, i);
    s->b.epoch = epoch, s->b.batch = batch;
    *out = &s->b;
    return 0;
}

struct lm_bstream_writer {
    lm_safetensors_writer *w;
    int64_t count;
};

int lm_bstream_writer_open(lm_bstream_writer **out, const char *path) {
    *out = NULL;
    lm_bstream_writer *w = calloc(1, sizeof *w);
    if (!w) return lm_err_code(LM_ENOMEM, "batch stream: out of memory");
    int rc = lm_safetensors_writer_open(&w->w, path);
    if (rc < 0) {
        free(w);
        return lm_err_prefix("batch stream %s", path);
    }
    *out = w;
    return lm_safetensors_writer_meta(w->w, "format", FORMAT);
}

int lm_bstream_writer_add(lm_bstream_writer *w, const lm_batch *b) {
    char name[64], val[32];
    int64_t si[4] = {b->n, 3, b->h, b->w}, sm[4] = {b->n, 1, b->h, b->w};
    size_t px = (size_t)b->n * b->h * b->w;
    int rc;
    snprintf(name, sizeof name, "image.%06" PRId64, w->count);
    if ((rc = lm_safetensors_writer_add(w->w, name, LM_DT_F32, si, 4, b->img, px * 3 * sizeof(float))) < 0) return rc;
    snprintf(name, sizeof name, "mask.%06" PRId64, w->count);
    if ((rc = lm_safetensors_writer_add(w->w, name, LM_DT_F32, sm, 4, b->mask, px * sizeof(float))) < 0) return rc;
    snprintf(name, sizeof name, "epoch.%06" PRId64, w->count);
    snprintf(val, sizeof val, "%" PRId64, b->epoch);
    if ((rc = lm_safetensors_writer_meta(w->w, name, val)) < 0) return rc;
    snprintf(name, sizeof name, "batch.%06" PRId64, w->count);
    snprintf(val, sizeof val, "%" PRId64, b->batch);
    if ((rc = lm_safetensors_writer_meta(w->w, name, val)) < 0) return rc;
    w->count++;
    return 0;
}

int lm_bstream_writer_close(lm_bstream_writer *w) {
    if (!w) return 0;
    char val[32];
    snprintf(val, sizeof val, "%" PRId64, w->count);
    int rc = lm_safetensors_writer_meta(w->w, "batches", val);
    if (rc < 0) {
        lm_safetensors_writer_abort(w->w);
    } else {
        rc = lm_safetensors_writer_close(w->w);
        if (rc < 0) lm_err_prefix("batch stream");
    }
    free(w);
    return rc;
}

void lm_bstream_writer_abort(lm_bstream_writer *w) {
    if (!w) return;
    lm_safetensors_writer_abort(w->w);
    free(w);
}
