/* sweep.c — image preparation and the sweep.json / sweep.md reports of `lamac eval --sizes`
 * (see sweep.h; masks as the official bin/gen_mask_dataset.py with configs/data_gen presets). */
#define _GNU_SOURCE
#include "eval/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/atomic.h"
#include "core/err.h"
#include "core/rng.h"

int lm_sweep_parse_sizes(int *sizes, int cap, int *n, const char *list) {
    *n = 0;
    if (!list || !*list) return lm_err_code(LM_EINVAL, "--sizes: empty list (expected e.g. 256,512,1024)");
    const char *p = list;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item)
            return lm_err_code(LM_EINVAL, "--sizes %s: item '%.*s' is not a size (expected a comma list "
                                          "of integers, e.g. 256,512,1024)", list, (int)(len < 40 ? len : 40), p);
        memcpy(item, p, len);
        item[len] = 0;
        char *end;
        errno = 0;
        long v = strtol(item, &end, 10);
        if (*end || errno || !isdigit((unsigned char)item[0]))
            return lm_err_code(LM_EINVAL, "--sizes %s: item '%s' is not an integer", list, item);
        if (v < 64 || v > 16384 || v % 8)
            return lm_err_code(LM_EINVAL, "--sizes %s: item '%s' must be a multiple of 8 in 64..16384", list, item);
        for (int i = 0; i < *n; i++)
            if (sizes[i] == v) return lm_err_code(LM_EINVAL, "--sizes %s: item '%s' is repeated", list, item);
        if (*n >= cap) return lm_err_code(LM_EINVAL, "--sizes %s: more than %d sizes", list, cap);
        sizes[(*n)++] = (int)v;
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

int lm_sweep_preset(lm_evalset_cfg *ev, char *name, size_t cap, const char *kind, int size) {
    if (strcmp(kind, "thick") && strcmp(kind, "medium") && strcmp(kind, "thin"))
        return lm_err_code(LM_EINVAL, "--masks %s: expected thick, medium or thin", kind);
    snprintf(name, cap, "random_%s_%d", kind, size < 512 ? 256 : 512);
    int rc = lm_evalset_preset(ev, name);
    if (rc < 0) return rc;
    ev->out_min_size = size;
    return 0;
}

static int is_image(const char *name, void *ctx) {
    (void)ctx;
    const char *dot = strrchr(name, '.');
    if (!dot || strstr(name, "mask")) return 0;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg");
}

static size_t stem_len(const char *rel) {
    const char *dot = strrchr(rel, '.');
    return dot ? (size_t)(dot - rel) : strlen(rel);
}

static int cmp_stem(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = stem_len(x), ly = stem_len(y);
    int c = strncmp(x, y, lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

int lm_sweep_list_images(lm_file_list *out, const char *dir) {
    int rc = lm_walk_files(out, dir, is_image, NULL);
    if (rc < 0) return lm_err_prefix("--images %s", dir);
    if (out->n == 0)
        return lm_err_code(LM_EINVAL, "--images %s: no images (*.png, *.jpg, *.jpeg without 'mask' in the name)", dir);
    /* two files with one stem would write the same OUT/S/data/NAME.png */
    const char **s = malloc(out->n * sizeof *s);
    if (!s) return lm_err_code(LM_ENOMEM, "out of memory");
    for (size_t i = 0; i < out->n; i++) s[i] = out->v[i];
    qsort(s, out->n, sizeof *s, cmp_stem);
    for (size_t i = 1; i < out->n && !rc; i++)
        if (!cmp_stem(&s[i - 1], &s[i])) {
            int o = strcmp(s[i - 1], s[i]) > 0; /* qsort is not stable: name them in sorted order */
            rc = lm_err_code(LM_EINVAL, "--images %s: %s and %s would both be written as %.*s.png; rename one",
                             dir, s[i - 1 + o], s[i - o], (int)stem_len(s[i]), s[i]);
        }
    free(s);
    return rc;
}

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

int lm_sweep_prepare(lm_image *img, lm_image *mask, int *over_area, const char *path, const char *rel,
                     int size, const lm_evalset_cfg *ev) {
    lm_image src = {0}, rs = {0};
    lm_evalset_pick pick = {0};
    memset(img, 0, sizeof *img);
    memset(mask, 0, sizeof *mask);
    *over_area = 0;
    int rc = lm_image_read(&src, path, 3);
    if (rc < 0) goto cleanup;
    /* shorter side -> size: out = round(side * size / shorter) (gen_mask_dataset), PIL bicubic */
    int mn = src.w < src.h ? src.w : src.h;
    double f = (double)size / mn;
    int w = src.w == mn ? size : (int)nearbyint(src.w * f), h = src.h == mn ? size : (int)nearbyint(src.h * f);
    if (w < size) w = size;
    if (h < size) h = size;
    if (w == src.w && h == src.h) rs = src, src = (lm_image){0};
    else if ((rc = lm_image_resize_bicubic(&rs, &src, w, h)) < 0) goto cleanup;
    if ((rc = lm_image_crop(img, &rs, (w - size) / 2, (h - size) / 2, size, size)) < 0) goto cleanup;

    lm_rng r;
    lm_rng_init(&r, 0, (uint64_t)size, fnv1a64(rel), LM_RNG_MASK);
    lm_evalset_cfg any = *ev;
    any.max_tamper_area = 1; /* the last resort: keep a variant whatever its area */
    int np = 0;
    for (int round = 0; round <= 20 && !np; round++) {
        if (round == 20) *over_area = 1;
        if ((rc = lm_evalset_masks(&pick, &np, round < 20 ? ev : &any, size, size, &r)) < 0) goto cleanup;
    }
    if (!np || pick.w != size || pick.h != size) {
        rc = lm_err_set("mask generation gave no %dx%d mask", size, size);
        goto cleanup;
    }
    if ((rc = lm_image_alloc(mask, size, size, 1)) < 0) goto cleanup;
    for (size_t i = 0, n = (size_t)size * size; i < n; i++) mask->data[i] = pick.mask[i] ? 255 : 0;
cleanup:
    free(pick.mask);
    lm_image_free(&src);
    lm_image_free(&rs);
    if (rc < 0) {
        lm_image_free(img);
        lm_image_free(mask);
        lm_err_prefix("%s", path);
    }
    return rc;
}

/* ---- reports ------------------------------------------------------------------------- */

/* f (an open_memstream) closed and its bytes written atomically to dir/name */
static int commit_mem(FILE *f, char **buf, size_t *len, const char *dir, const char *name) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || !*buf) return lm_err_code(LM_ENOMEM, "sweep: cannot build %s", name);
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return lm_err_code(LM_EINVAL, "sweep: path too long: %s/%s", dir, name);
    return lm_atomic_write_file(path, *buf, *len);
}

static void fmt_stat(char *s, size_t cap, const lm_stat *t) {
    if (isnan(t->mean)) snprintf(s, cap, "nan");
    else if (isnan(t->std) || isinf(t->std)) snprintf(s, cap, "%.4f", t->mean);
    else snprintf(s, cap, "%.4f ± %.4f", t->mean, t->std);
}

int lm_sweep_write(const char *dir, const char *command, const lm_sweep_entry *e, int n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return lm_err_code(LM_ENOMEM, "sweep: out of memory");
    fputs("{\n  \"command\": ", f);
    lm_eval_json_string(f, command);
    fputs(",\n  \"sizes\": [", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\n    {\"size\": %d, \"masks\": ", i ? "," : "", e[i].size);
        lm_eval_json_string(f, e[i].masks);
        fputs(", \"preset\": ", f);
        lm_eval_json_string(f, e[i].preset);
        fputs(", \"dir\": ", f);
        lm_eval_json_string(f, e[i].dir);
        fprintf(f, ", \"images\": %d, \"masks_over_max_area\": %d, \"seconds\": %.3f,\n     \"metrics\": ",
                e[i].images, e[i].over_area, e[i].seconds);
        lm_eval_json_metrics(f, e[i].r, "     ");
        fputs("}", f);
    }
    fputs("\n  ]\n}\n", f);
    int rc = commit_mem(f, &buf, &len, dir, "sweep.json");
    free(buf);
    if (rc < 0) return lm_err_prefix("sweep");

    buf = NULL, len = 0;
    if (!(f = open_memstream(&buf, &len))) return lm_err_code(LM_ENOMEM, "sweep: out of memory");
    fprintf(f, "# Resolution sweep\n\nMasks: %s (official gen_mask_dataset presets: random_%s_256 below 512, "
               "random_%s_512 from 512). Totals, mean ± std over the images.\n\n| metric |",
            n ? e[0].masks : "?", n ? e[0].masks : "?", n ? e[0].masks : "?");
    for (int i = 0; i < n; i++) fprintf(f, " %d |", e[i].size);
    fputs("\n|---|", f);
    for (int i = 0; i < n; i++) fputs("---:|", f);
    fputs("\n| images |", f);
    for (int i = 0; i < n; i++) fprintf(f, " %d |", e[i].images);
    for (int m = 0; m < LM_M_COUNT; m++) {
        fprintf(f, "\n| %s |", n ? e[0].r->m[m].name : "?");
        for (int i = 0; i < n; i++) {
            char s[64];
            if (e[i].r->m[m].skipped) snprintf(s, sizeof s, "skipped");
            else fmt_stat(s, sizeof s, &e[i].r->m[m].total);
            fprintf(f, " %s |", s);
        }
    }
    fputs("\n| seconds |", f);
    for (int i = 0; i < n; i++) fprintf(f, " %.1f |", e[i].seconds);
    fputs("\n\nPer size: SIZE/metrics.md (bins by mask area), SIZE/data (images and masks), "
          "SIZE/predictions.\n", f);
    rc = commit_mem(f, &buf, &len, dir, "sweep.md");
    free(buf);
    return rc < 0 ? lm_err_prefix("sweep") : 0;
}
