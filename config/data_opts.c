/* data_opts.c — YAML -> lm_mask_cfg / lm_loader_opts (see data_opts.h). Mirrors the keyword
 * arguments of the official MixedMaskGenerator (saicinpainting/training/data/masks.py) and
 * make_default_train_dataloader (training/data/datasets.py). */
#include "config/data_opts.h"

#include <stdio.h>
#include <string.h>

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

#define NUM_FIELD(name, dst, isint)                                      \
    if (!strcmp(k->key, name)) {                                         \
        double v_;                                                       \
        if ((rc = lm_opts_number(k, path, &v_, isint)) < 0) return rc;          \
        dst = v_;                                                        \
        continue;                                                        \
    }

int lm_opts_need_map(const lm_cfg_node *n, const char *path) {
    return n->kind == LM_CFG_MAP ? 0 : lm_opts_bad_key(n, path, "expected a mapping");
}

static int fill_ramp(lm_ramp *r, const lm_cfg_node *m, const char *prefix) {
    int rc;
    char path[256];
    if (m->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(m) == LM_CFG_NULL) return 0;
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    r->enabled = 1;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        NUM_FIELD("start_value", r->start_value, 0);
        NUM_FIELD("end_value", r->end_value, 0);
        NUM_FIELD("start_iter", r->start_iter, 0);
        NUM_FIELD("end_iter", r->end_iter, 0);
        return lm_opts_bad_key(k, path, "unknown LinearRamp option");
    }
    return 0;
}

static int fill_irregular(lm_mask_irregular_cfg *c, const lm_cfg_node *m, const char *prefix) {
    int rc;
    char path[256];
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        NUM_FIELD("max_angle", c->max_angle, 1);
        NUM_FIELD("max_len", c->max_len, 1);
        NUM_FIELD("max_width", c->max_width, 1);
        NUM_FIELD("min_times", c->min_times, 1);
        NUM_FIELD("max_times", c->max_times, 1);
        if (!strcmp(k->key, "ramp_kwargs")) {
            if ((rc = fill_ramp(&c->ramp, k, path)) < 0) return rc;
            continue;
        }
        return lm_opts_bad_key(k, path, "unknown irregular mask option");
    }
    return 0;
}

static int fill_box(lm_mask_box_cfg *c, const lm_cfg_node *m, const char *prefix) {
    int rc;
    char path[256];
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        NUM_FIELD("margin", c->margin, 1);
        NUM_FIELD("bbox_min_size", c->bbox_min_size, 1);
        NUM_FIELD("bbox_max_size", c->bbox_max_size, 1);
        NUM_FIELD("min_times", c->min_times, 1);
        NUM_FIELD("max_times", c->max_times, 1);
        if (!strcmp(k->key, "ramp_kwargs")) {
            if ((rc = fill_ramp(&c->ramp, k, path)) < 0) return rc;
            continue;
        }
        return lm_opts_bad_key(k, path, "unknown box mask option");
    }
    return 0;
}

/* lamac's folder masks: indir (borrowed from the tree), mode resize|crop, threshold */
static int fill_folder(lm_mask_folder_cfg *c, const lm_cfg_node *m, const char *prefix) {
    int rc;
    char path[256];
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        NUM_FIELD("threshold", c->threshold, 1);
        if (!strcmp(k->key, "indir") || !strcmp(k->key, "mode")) {
            if (k->kind != LM_CFG_SCALAR || !k->text || lm_cfg_scalar_type(k) == LM_CFG_NULL)
                return lm_opts_bad_key(k, path, "expected a string");
            if (!strcmp(k->key, "indir")) c->indir = k->text;
            else if (!strcmp(k->text, "resize")) c->mode = LM_MASK_FOLDER_RESIZE;
            else if (!strcmp(k->text, "crop")) c->mode = LM_MASK_FOLDER_CROP;
            else return lm_opts_bad_key(k, path, "expected resize or crop");
            continue;
        }
        return lm_opts_bad_key(k, path, "unknown folder mask option");
    }
    return 0;
}

static int fill_superres(lm_mask_superres_cfg *c, const lm_cfg_node *m, const char *prefix) {
    int rc;
    char path[256];
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        NUM_FIELD("min_step", c->min_step, 1);
        NUM_FIELD("max_step", c->max_step, 1);
        NUM_FIELD("min_width", c->min_width, 1);
        NUM_FIELD("max_width", c->max_width, 1);
        return lm_opts_bad_key(k, path, "unknown superres mask option");
    }
    return 0;
}

/* OutpaintingMaskGenerator's keyword arguments: outpainting_kwargs inside the mix, or the
 * whole mask_gen_kwargs of mask_generator_kind outpainting (in_mix 0: then an unknown key is
 * what the official constructor rejects with a TypeError). */
static int fill_outpainting(lm_mask_outpainting_cfg *c, const lm_cfg_node *m, const char *prefix, int in_mix) {
    int rc;
    char path[256];
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        if (!strcmp(k->key, "is_fixed_randomness")) {
            int b;
            if (!k->text || lm_cfg_scalar_bool(k->text, &b) < 0) return lm_opts_bad_key(k, path, "expected a boolean");
            c->is_fixed_randomness = b;
            continue;
        }
        NUM_FIELD("min_padding_percent", c->min_padding_percent, 0);
        NUM_FIELD("max_padding_percent", c->max_padding_percent, 0);
        NUM_FIELD("left_padding_prob", c->left_padding_prob, 0);
        NUM_FIELD("top_padding_prob", c->top_padding_prob, 0);
        NUM_FIELD("right_padding_prob", c->right_padding_prob, 0);
        NUM_FIELD("bottom_padding_prob", c->bottom_padding_prob, 0);
        return lm_opts_bad_key(k, path, in_mix ? "unknown outpainting mask option"
                                               : "not an option of mask_generator_kind outpainting "
                                                 "(OutpaintingMaskGenerator takes min/max_padding_percent, "
                                                 "{left,top,right,bottom}_padding_prob, is_fixed_randomness)");
    }
    return 0;
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

int lm_mask_cfg_from_node(lm_mask_cfg *c, int *variants, const lm_cfg_node *m, const char *prefix) {
    int rc;
    char path[256];
    if ((rc = lm_opts_need_map(m, prefix)) < 0) return rc;
    for (int i = 0; i < m->n; i++) {
        const lm_cfg_node *k = m->kids[i];
        lm_opts_join_key(path, sizeof path, prefix, k->key);
        NUM_FIELD("irregular_proba", c->irregular_proba, 0);
        NUM_FIELD("box_proba", c->box_proba, 0);
        NUM_FIELD("segm_proba", c->segm_proba, 0);
        NUM_FIELD("squares_proba", c->squares_proba, 0);
        NUM_FIELD("superres_proba", c->superres_proba, 0);
        NUM_FIELD("outpainting_proba", c->outpainting_proba, 0);
        NUM_FIELD("invert_proba", c->invert_proba, 0);
        NUM_FIELD("folder_proba", c->folder_proba, 0);
        if (variants && !strcmp(k->key, "variants_n")) {
            double v;
            if ((rc = lm_opts_number(k, path, &v, 1)) < 0) return rc;
            *variants = (int)v;
            continue;
        }
        if (!strcmp(k->key, "irregular_kwargs")) rc = fill_irregular(&c->irregular_kwargs, k, path);
        else if (!strcmp(k->key, "squares_kwargs")) rc = fill_irregular(&c->squares_kwargs, k, path);
        else if (!strcmp(k->key, "box_kwargs")) rc = fill_box(&c->box_kwargs, k, path);
        else if (!strcmp(k->key, "folder_kwargs")) rc = fill_folder(&c->folder_kwargs, k, path);
        else if (!strcmp(k->key, "segm_kwargs")) rc = 0; /* unused unless segm_proba > 0 (an error) */
        else if (!strcmp(k->key, "superres_kwargs")) rc = fill_superres(&c->superres_kwargs, k, path);
        else if (!strcmp(k->key, "outpainting_kwargs")) rc = fill_outpainting(&c->outpainting_kwargs, k, path, 1);
        else
            return lm_opts_bad_key(k, path, "unknown mask generator option");
        if (rc < 0) return rc;
    }
    return 0;
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
    lm_loader_opts_default(o);
    int64_t size, bs;
    const char *variant = NULL, *indir = NULL;
    int rc;
    if ((rc = lm_cfg_get_int(c, "data.train.out_size", &size)) < 0 ||
        (rc = lm_cfg_get_int(c, "data.train.dataloader_kwargs.batch_size", &bs)) < 0 ||
        (rc = lm_cfg_get_str(c, "data.train.transform_variant", &variant)) < 0)
        return rc;
    if (lm_cfg_has(c, "data.train.indir") && (rc = lm_cfg_get_str(c, "data.train.indir", &indir)) < 0) return rc;
    if (variant && (rc = lm_aug_variant_parse(&o->variant, variant)) < 0) {
        lm_err_prefix("config: %s: data.train.transform_variant", lm_cfg_path(c));
        return rc;
    }
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
    o->out_size = (int)size;
    o->batch_size = (int)bs;
    o->shard_dir = indir;
    o->mask = mask;
    return 0;
}
