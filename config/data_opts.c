/* data_opts.c — YAML -> lm_mask_cfg / lm_loader_opts (see data_opts.h). Mirrors the keyword
 * arguments of the official MixedMaskGenerator (saicinpainting/training/data/masks.py) and
 * make_default_train_dataloader (training/data/datasets.py). */
#include "config/data_opts.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/fill.h"
#include "core/err.h"

/* dst = "a.b" (truncated to n - 1 bytes) */
void lm_opts_join_key(char *dst, size_t n, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > n - 2) la = n - 2;
    memcpy(dst, a, la);
    dst[la] = '.';
    if (lb > n - la - 2) lb = n - la - 2;
    memcpy(dst + la + 1, b, lb);
    dst[la + 1 + lb] = 0;
}

int lm_opts_bad_key(const lm_cfg_node *n, const char *path, const char *what) {
    return lm_err_code(LM_EINVAL, "config: %s:%d: key '%s': %s", n->file ? n->file : "?", n->line,
                       path, what);
}

int lm_opts_number(const lm_cfg_node *n, const char *path, double *out, int want_int) {
    if (n->kind != LM_CFG_SCALAR || !n->text) return lm_opts_bad_key(n, path, "expected a number");
    if (want_int) {
        int64_t v;
        if (lm_cfg_scalar_int(n->text, &v) < 0) return lm_opts_bad_key(n, path, "expected an integer");
        *out = (double)v;
        return 0;
    }
    if (lm_cfg_scalar_float(n->text, out) < 0) return lm_opts_bad_key(n, path, "expected a number");
    return 0;
}

int lm_opts_need_map(const lm_cfg_node *n, const char *path) {
    return n->kind == LM_CFG_MAP ? 0 : lm_opts_bad_key(n, path, "expected a mapping");
}

/* One numeric option of an option struct: its key, where it lies in the struct, and whether it
 * is an int field that takes an integer (else a double field that takes any number). */
typedef struct num_field {
    const char *key;
    size_t off;
    int is_int;
} num_field;

#define INT_FIELD(T, f) {#f, offsetof(T, f), 1}
#define DBL_FIELD(T, f) {#f, offsetof(T, f), 0}
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* Handles key k (dotted key path) of an option mapping that the field table does not name:
 * 1 when handled, 0 when k is not one of its keys either, negative on error. */
typedef int (*extra_fn)(void *ctx, const lm_cfg_node *k, const char *path);

/* The loop every option mapping shares: m (dotted key prefix) must be a mapping; each key is a
 * numeric field of t (stored into obj), else handled by extra (when non-NULL, given ctx), else
 * rejected as `unknown`. */
static int fill_fields(void *obj, const num_field *t, size_t nt, extra_fn extra, void *ctx, const lm_cfg_node *m,
                       const char *prefix, const char *unknown) {
    int rc;
    char path[256];
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        size_t j = 0;
        while (j < nt && strcmp(k->key, t[j].key) != 0) j++;
        if (j < nt) {
            double v;
            if ((rc = lm_opts_number(k, path, &v, t[j].is_int)) < 0) return rc;
            char *dst = (char *)obj + t[j].off;
            if (t[j].is_int) *(int *)(void *)dst = (int)v;
            else *(double *)(void *)dst = v;
            continue;
        }
        if (extra && (rc = extra(ctx, k, path)) != 0) {
            if (rc < 0) return rc;
            continue;
        }
        return lm_opts_bad_key(k, path, unknown);
    }
    return 0;
}

static const num_field ramp_fields[] = {
    DBL_FIELD(lm_ramp, start_value), DBL_FIELD(lm_ramp, end_value),
    DBL_FIELD(lm_ramp, start_iter),  DBL_FIELD(lm_ramp, end_iter),
};

static int fill_ramp(lm_ramp *r, const lm_cfg_node *m, const char *prefix) {
    int rc;
    if (m->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(m) == LM_CFG_NULL) return 0;
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    r->enabled = 1;
    return fill_fields(r, ramp_fields, NFIELDS(ramp_fields), NULL, NULL, m, prefix, "unknown LinearRamp option");
}

/* ramp_kwargs of the irregular, squares and box generators; ctx is the lm_ramp */
static int extra_ramp(void *ctx, const lm_cfg_node *k, const char *path) {
    if (strcmp(k->key, "ramp_kwargs") != 0) return 0;
    int rc = fill_ramp(ctx, k, path);
    return rc < 0 ? rc : 1;
}

static const num_field irregular_fields[] = {
    INT_FIELD(lm_mask_irregular_cfg, max_angle), INT_FIELD(lm_mask_irregular_cfg, max_len),
    INT_FIELD(lm_mask_irregular_cfg, max_width), INT_FIELD(lm_mask_irregular_cfg, min_times),
    INT_FIELD(lm_mask_irregular_cfg, max_times),
};

static int fill_irregular(lm_mask_irregular_cfg *c, const lm_cfg_node *m, const char *prefix) {
    return fill_fields(c, irregular_fields, NFIELDS(irregular_fields), extra_ramp, &c->ramp, m, prefix,
                       "unknown irregular mask option");
}

static const num_field box_fields[] = {
    INT_FIELD(lm_mask_box_cfg, margin),    INT_FIELD(lm_mask_box_cfg, bbox_min_size),
    INT_FIELD(lm_mask_box_cfg, bbox_max_size), INT_FIELD(lm_mask_box_cfg, min_times),
    INT_FIELD(lm_mask_box_cfg, max_times),
};

static int fill_box(lm_mask_box_cfg *c, const lm_cfg_node *m, const char *prefix) {
    return fill_fields(c, box_fields, NFIELDS(box_fields), extra_ramp, &c->ramp, m, prefix,
                       "unknown box mask option");
}

/* folder_kwargs' string options indir and mode; ctx is the lm_mask_folder_cfg */
static int extra_folder(void *ctx, const lm_cfg_node *k, const char *path) {
    lm_mask_folder_cfg *c = ctx;
    if (strcmp(k->key, "indir") != 0 && strcmp(k->key, "mode") != 0) return 0;
    if (k->kind != LM_CFG_SCALAR || !k->text || lm_cfg_scalar_type(k) == LM_CFG_NULL)
        return lm_opts_bad_key(k, path, "expected a string");
    if (!strcmp(k->key, "indir")) c->indir = k->text;
    else if (!strcmp(k->text, "resize")) c->mode = LM_MASK_FOLDER_RESIZE;
    else if (!strcmp(k->text, "crop")) c->mode = LM_MASK_FOLDER_CROP;
    else return lm_opts_bad_key(k, path, "expected resize or crop");
    return 1;
}

static const num_field folder_fields[] = {INT_FIELD(lm_mask_folder_cfg, threshold)};

/* lamac's folder masks: indir (borrowed from the tree), mode resize|crop, threshold */
static int fill_folder(lm_mask_folder_cfg *c, const lm_cfg_node *m, const char *prefix) {
    return fill_fields(c, folder_fields, NFIELDS(folder_fields), extra_folder, c, m, prefix,
                       "unknown folder mask option");
}

static const num_field superres_fields[] = {
    INT_FIELD(lm_mask_superres_cfg, min_step),  INT_FIELD(lm_mask_superres_cfg, max_step),
    INT_FIELD(lm_mask_superres_cfg, min_width), INT_FIELD(lm_mask_superres_cfg, max_width),
};

static int fill_superres(lm_mask_superres_cfg *c, const lm_cfg_node *m, const char *prefix) {
    return fill_fields(c, superres_fields, NFIELDS(superres_fields), NULL, NULL, m, prefix,
                       "unknown superres mask option");
}

/* outpainting's boolean is_fixed_randomness; ctx is the lm_mask_outpainting_cfg */
static int extra_outpainting(void *ctx, const lm_cfg_node *k, const char *path) {
    lm_mask_outpainting_cfg *c = ctx;
    int b;
    if (strcmp(k->key, "is_fixed_randomness") != 0) return 0;
    if (!k->text || lm_cfg_scalar_bool(k->text, &b) < 0) return lm_opts_bad_key(k, path, "expected a boolean");
    c->is_fixed_randomness = b;
    return 1;
}

static const num_field outpainting_fields[] = {
    DBL_FIELD(lm_mask_outpainting_cfg, min_padding_percent), DBL_FIELD(lm_mask_outpainting_cfg, max_padding_percent),
    DBL_FIELD(lm_mask_outpainting_cfg, left_padding_prob),   DBL_FIELD(lm_mask_outpainting_cfg, top_padding_prob),
    DBL_FIELD(lm_mask_outpainting_cfg, right_padding_prob),  DBL_FIELD(lm_mask_outpainting_cfg, bottom_padding_prob),
};

/* OutpaintingMaskGenerator's keyword arguments: outpainting_kwargs inside the mix, or the
 * whole mask_gen_kwargs of mask_generator_kind outpainting (in_mix 0: then an unknown key is
 * what the official constructor rejects with a TypeError). */
static int fill_outpainting(lm_mask_outpainting_cfg *c, const lm_cfg_node *m, const char *prefix, int in_mix) {
    return fill_fields(c, outpainting_fields, NFIELDS(outpainting_fields), extra_outpainting, c, m, prefix,
                       in_mix ? "unknown outpainting mask option"
                              : "not an option of mask_generator_kind outpainting "
                                "(OutpaintingMaskGenerator takes min/max_padding_percent, "
                                "{left,top,right,bottom}_padding_prob, is_fixed_randomness)");
}

/* DumbAreaMaskGenerator(is_training): its only argument, required as in the official code. */
static int fill_dumb(lm_mask_cfg *c, const lm_cfg_node *m, const char *prefix) {
    int rc, seen = 0;
    char path[256];
    if (!m) return lm_err_code(LM_EINVAL, "config: %s.is_training: required by mask_generator_kind dumb", prefix);
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        if (strcmp(k->key, "is_training") != 0)
            return lm_opts_bad_key(k, path, "not an option of mask_generator_kind dumb (DumbAreaMaskGenerator "
                                            "takes is_training only)");
        int b;
        if (!k->text || lm_cfg_scalar_bool(k->text, &b) < 0) return lm_opts_bad_key(k, path, "expected a boolean");
        c->dumb_is_training = b;
        seen = 1;
    }
    if (!seen) return lm_err_code(LM_EINVAL, "config: %s.is_training: required by mask_generator_kind dumb", prefix);
    return 0;
}

static const num_field mixed_fields[] = {
    DBL_FIELD(lm_mask_cfg, irregular_proba),   DBL_FIELD(lm_mask_cfg, box_proba),
    DBL_FIELD(lm_mask_cfg, segm_proba),        DBL_FIELD(lm_mask_cfg, squares_proba),
    DBL_FIELD(lm_mask_cfg, superres_proba),    DBL_FIELD(lm_mask_cfg, outpainting_proba),
    DBL_FIELD(lm_mask_cfg, invert_proba),      DBL_FIELD(lm_mask_cfg, folder_proba),
};

typedef struct mixed_ctx {
    lm_mask_cfg *c;
    int *variants;
} mixed_ctx;

/* MixedMaskGenerator's *_kwargs mappings, and variants_n where the caller takes it */
static int extra_mixed(void *ctx, const lm_cfg_node *k, const char *path) {
    mixed_ctx *x = ctx;
    lm_mask_cfg *c = x->c;
    int rc;
    if (x->variants && !strcmp(k->key, "variants_n")) {
        double v;
        if ((rc = lm_opts_number(k, path, &v, 1)) < 0) return rc;
        *x->variants = (int)v;
        return 1;
    }
    if (!strcmp(k->key, "irregular_kwargs")) rc = fill_irregular(&c->irregular_kwargs, k, path);
    else if (!strcmp(k->key, "squares_kwargs")) rc = fill_irregular(&c->squares_kwargs, k, path);
    else if (!strcmp(k->key, "box_kwargs")) rc = fill_box(&c->box_kwargs, k, path);
    else if (!strcmp(k->key, "folder_kwargs")) rc = fill_folder(&c->folder_kwargs, k, path);
    else if (!strcmp(k->key, "segm_kwargs")) rc = 0; /* unused unless segm_proba > 0 (an error) */
    else if (!strcmp(k->key, "superres_kwargs")) rc = fill_superres(&c->superres_kwargs, k, path);
    else if (!strcmp(k->key, "outpainting_kwargs")) rc = fill_outpainting(&c->outpainting_kwargs, k, path, 1);
    else return 0;
    return rc < 0 ? rc : 1;
}

int lm_mask_cfg_from_node(lm_mask_cfg *c, int *variants, const lm_cfg_node *m, const char *prefix) {
    mixed_ctx x = {c, variants};
    return fill_fields(c, mixed_fields, NFIELDS(mixed_fields), extra_mixed, &x, m, prefix,
                       "unknown mask generator option");
}

int lm_mask_cfg_from_cfg(lm_mask_cfg *out, const lm_cfg *c, const char *path) {
    lm_mask_cfg_default(out);
    int rc = lm_cfg_check(c, path);
    if (rc < 0) return rc;
    const lm_cfg_node *kw = lm_cfg_find(c, path);
    if (!kw) return lm_err_code(LM_EINVAL, "config: %s: no %s", lm_cfg_path(c), path);
    rc = lm_mask_cfg_from_node(out, NULL, kw, path);
    if (rc == 0 && (rc = lm_mask_cfg_check(out)) < 0) lm_err_prefix("config: %s: %s", lm_cfg_path(c), path);
    return rc;
}

int lm_loader_opts_from_cfg(lm_loader_opts *o, lm_mask_cfg *mask, const lm_cfg *c) {
    int rc = lm_cfg_fill(o, LM_OPTS_LOADER, c);
    if (rc < 0) return rc;
    const char *kind = "mixed";
    if (lm_cfg_has(c, "data.train.mask_generator_kind") &&
        (rc = lm_cfg_get_str(c, "data.train.mask_generator_kind", &kind)) < 0)
        return rc;
    if (strcmp(kind, "folder") == 0) {
        /* only folder masks: the mixed generator's keys (composed in from the data group) are
         * read and validated, but unused */
        lm_mask_cfg_default(mask);
        if ((rc = lm_cfg_check(c, "data.train.mask_gen_kwargs")) < 0) return rc;
        const lm_cfg_node *kw = lm_cfg_find(c, "data.train.mask_gen_kwargs");
        if (kw && (rc = lm_mask_cfg_from_node(mask, NULL, kw, "data.train.mask_gen_kwargs")) < 0) return rc;
        mask->kind = LM_MASK_FOLDER;
        if ((rc = lm_mask_cfg_check(mask)) < 0) {
            lm_err_prefix("config: %s: data.train.mask_gen_kwargs", lm_cfg_path(c));
            return rc;
        }
    } else if (strcmp(kind, "mixed") == 0) {
        if ((rc = lm_mask_cfg_from_cfg(mask, c, "data.train.mask_gen_kwargs")) < 0) return rc;
    } else if (strcmp(kind, "outpainting") == 0 || strcmp(kind, "dumb") == 0) {
        /* get_mask_generator(kind, mask_gen_kwargs): the kwargs go to that one generator */
        lm_mask_cfg_default(mask);
        if ((rc = lm_cfg_check(c, "data.train.mask_gen_kwargs")) < 0) return rc;
        const lm_cfg_node *kw = lm_cfg_find(c, "data.train.mask_gen_kwargs");
        const char *at = "data.train.mask_gen_kwargs";
        if (kind[0] == 'o') {
            mask->kind = LM_MASK_OUTPAINTING;
            rc = kw ? fill_outpainting(&mask->outpainting_kwargs, kw, at, 0) : 0;
            if (rc == 0) rc = lm_mask_cfg_check(mask);
        } else {
            mask->kind = LM_MASK_DUMB;
            rc = fill_dumb(mask, kw, at);
        }
        if (rc < 0) {
            lm_err_prefix("config: %s: mask_generator_kind %s", lm_cfg_path(c), kind);
            return rc;
        }
    } else {
        return lm_err_code(LM_EINVAL,
                           "config: %s: data.train.mask_generator_kind: '%s' is not supported (mixed, outpainting, "
                           "dumb, folder)",
                           lm_cfg_path(c), kind);
    }
    o->mask = mask;
    return 0;
}
