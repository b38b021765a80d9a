/* valset.c — official-layout validation pairs (see valset.h; evaluation/data.py). */
#include "data/valset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "data/walk.h"

struct lm_valset {
    int64_t n, cap;
    char **mask, **img;
};

static int add_mask(lm_valset *v, const char *path) {
    if (v->n == v->cap) {
        int64_t nc = v->cap ? 2 * v->cap : 64;
        char **m = realloc(v->mask, sizeof(char *) * (size_t)nc);
        if (!m) return lm_err_code(LM_ENOMEM, "valset: out of memory");
        v->mask = m;
        v->cap = nc;
    }
    if (!(v->mask[v->n] = strdup(path))) return lm_err_code(LM_ENOMEM, "valset: out of memory");
    v->n++;
    return 0;
}

/* glob(os.path.join(dir, '**', '*mask*.png'), recursive=True): hidden entries skipped */
static int is_mask_png(const char *name, void *ctx) {
    (void)ctx;
    size_t n = strlen(name);
    return n >= 4 && !strcmp(name + n - 4, ".png") && strstr(name, "mask") != NULL;
}

static int list_masks(lm_valset *v, const char *dir) {
    lm_file_list files = {0};
    int rc = lm_walk_files(&files, dir, is_mask_png, NULL);
    if (rc < 0) lm_err_prefix("valset");
    for (size_t i = 0; rc == 0 && i < files.n; i++) {
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, files.v[i]); /* fits: both are < 4096 */
        rc = add_mask(v, p);
    }
    lm_file_list_free(&files);
    return rc;
}

int lm_valset_open(lm_valset **out, const char *dir, const char *img_suffix) {
    *out = NULL;
    if (!img_suffix) img_suffix = ".png";
    lm_valset *v = calloc(1, sizeof *v);
    if (!v) return lm_err_code(LM_ENOMEM, "valset: out of memory");
    int rc = list_masks(v, dir); /* sorted */
    if (rc < 0) goto cleanup;
    if (v->n == 0) {
        rc = lm_err_code(LM_EINVAL, "valset: no *mask*.png files under %s", dir);
        goto cleanup;
    }
    v->img = calloc((size_t)v->n, sizeof(char *));
    if (!v->img) {
        rc = lm_err_code(LM_ENOMEM, "valset: out of memory");
        goto cleanup;
    }
    for (int64_t i = 0; i < v->n; i++) {
        const char *m = v->mask[i], *cut = NULL;
        for (const char *s = strstr(m, "_mask"); s; s = strstr(s + 1, "_mask")) cut = s; /* rsplit */
        size_t base = cut ? (size_t)(cut - m) : strlen(m);
        v->img[i] = malloc(base + strlen(img_suffix) + 1);
        if (!v->img[i]) {
            rc = lm_err_code(LM_ENOMEM, "valset: out of memory");
            goto cleanup;
        }
        memcpy(v->img[i], m, base);
        strcpy(v->img[i] + base, img_suffix);
        if (access(v->img[i], R_OK) != 0) {
            rc = lm_err_code(LM_EIO, "valset: %s: its image %s is missing", m, v->img[i]);
            goto cleanup;
        }
    }
cleanup:
    if (rc < 0) {
        lm_valset_close(v);
        return rc;
    }
    *out = v;
    return 0;
}

void lm_valset_close(lm_valset *v) {
    if (!v) return;
    for (int64_t i = 0; i < v->n; i++) {
        free(v->mask[i]);
        if (v->img) free(v->img[i]);
    }
    free(v->mask);
    free(v->img);
    free(v);
}

int64_t lm_valset_count(const lm_valset *v) { return v->n; }
const char *lm_valset_image_path(const lm_valset *v, int64_t i) { return v->img[i]; }
const char *lm_valset_mask_path(const lm_valset *v, int64_t i) { return v->mask[i]; }

int lm_valset_read(const lm_valset *v, int64_t i, lm_image *img, lm_image *mask) {
    memset(img, 0, sizeof *img);
    memset(mask, 0, sizeof *mask);
    if (i < 0 || i >= v->n) return lm_err_code(LM_EINVAL, "valset: index %lld out of range", (long long)i);
    int rc = lm_image_read(img, v->img[i], 3);
    if (rc == 0) rc = lm_image_read(mask, v->mask[i], 1);
    if (rc == 0 && (img->w != mask->w || img->h != mask->h))
        rc = lm_err_code(LM_EINVAL, "valset: %s is %dx%d but its mask %s is %dx%d", v->img[i], img->w, img->h,
                         v->mask[i], mask->w, mask->h);
    if (rc < 0) {
        lm_image_free(img);
        lm_image_free(mask);
    }
    return rc;
}

int lm_valset_read_float(const lm_valset *v, int64_t i, float **img, float **mask, int *h, int *w) {
    *img = *mask = NULL;
    lm_image a, b;
    int rc = lm_valset_read(v, i, &a, &b);
    if (rc < 0) return rc;
    size_t np = (size_t)a.w * a.h;
    float *fi = malloc(sizeof(float) * 3 * np), *fm = malloc(sizeof(float) * np);
    if (!fi || !fm) {
        free(fi);
        free(fm);
        lm_image_free(&a);
        lm_image_free(&b);
        return lm_err_code(LM_ENOMEM, "valset: out of memory");
    }
    for (size_t p = 0; p < np; p++) { /* HWC -> CHW, x / 255 */
        for (int c = 0; c < 3; c++) fi[c * np + p] = (float)a.data[3 * p + c] / 255.f;
        fm[p] = (float)b.data[p] / 255.f;
    }
    *img = fi;
    *mask = fm;
    *h = a.h;
    *w = a.w;
    lm_image_free(&a);
    lm_image_free(&b);
    return 0;
}
