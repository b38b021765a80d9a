/* fill.c — composed config -> a module's option struct, driven by the schema's field bindings
 * (see fill.h). One generic loop converts each bound row; each set adds only what is not a
 * config key (its non-config fields) and the rules that join keys. */
#include "config/fill.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/loader.h"
#include "model/discriminator.h"
#include "model/generator.h"
#include "train/loop.h"
#include "train/step.h"

/* The enums bound by LM_BIND_CHOICE follow their rows' choices. */
_Static_assert(LM_ADV_R1 == 0 && LM_ADV_BCE == 1, "losses.adversarial.kind: r1|bce");
_Static_assert(LM_MASK_SCALE_NEAREST == 0 && LM_MASK_SCALE_BILINEAR == 1 && LM_MASK_SCALE_AREA == 2 &&
                   LM_MASK_SCALE_MAXPOOL == 3,
               "losses.adversarial.mask_scale_mode: nearest|bilinear|area|maxpool");
_Static_assert(LM_OPTIM_ADAM == 0 && LM_OPTIM_ADAMW == 1, "optimizers.*.kind: adam|adamw");
_Static_assert(LM_NONFINITE_STOP == 0 && LM_NONFINITE_SKIP == 1, "trainer.on_nonfinite: stop|skip");

/* ---- the conversions ------------------------------------------------------------------- */

/* "file:line: " of the tree's node at path, or "" when the value is the default. */
static const char *where(const lm_cfg *c, const char *path, char *buf, size_t cap) {
    const lm_cfg_node *n = lm_cfg_find(c, path);
    buf[0] = 0;
    if (n && n->file) snprintf(buf, cap, "%s:%d: ", n->file, n->line);
    return buf;
}

static int parse_precision(const lm_cfg *c, const char *key, const char *v, lt_dtype *out) {
    char at[300];
    if (!strcmp(v, "32") || !strcmp(v, "32-true")) *out = LT_F32;
    else if (!strcmp(v, "64") || !strcmp(v, "64-true")) *out = LT_F64;
    else if (!strcmp(v, "bf16") || !strcmp(v, "bf16-mixed")) *out = LT_BF16;
    else if (!strcmp(v, "16") || !strcmp(v, "16-mixed"))
        return lm_err_code(LM_EINVAL, "config: %skey '%s': precision %s: fp16 not supported, use bf16 "
                           "(the official FFT problems: LaMa's FourierUnit fails or overflows in float16)",
                           where(c, key, at, sizeof at), key, v);
    else
        return lm_err_code(LM_EINVAL, "config: %skey '%s': precision '%s' is not one of 32 | 64 | bf16 (bf16-mixed)",
                           where(c, key, at, sizeof at), key, v);
    return 0;
}

/* add_out_act: the official generators take True (tanh, their default), False, or a name. */
static int parse_out_act(const lm_cfg *c, const char *key, lm_out_act *out) {
    int rc = lm_cfg_check(c, key);
    if (rc < 0) return rc;
    const lm_cfg_node *n = lm_cfg_find(c, key);
    const char *text = n ? n->text : lm_cfg_schema_find(key)->def;
    int b;
    if (n && n->kind != LM_CFG_SCALAR) return lm_err_code(LM_EINVAL, "config: %s:%d: key '%s': expected a scalar", n->file, n->line, key);
    if (!text || (n && lm_cfg_scalar_type(n) == LM_CFG_NULL) || !strcmp(text, "none")) *out = LM_ACT_NONE;
    else if (!strcmp(text, "sigmoid")) *out = LM_ACT_SIGMOID;
    else if (!strcmp(text, "tanh")) *out = LM_ACT_TANH;
    else if (lm_cfg_scalar_bool(text, &b) == 0) *out = b ? LM_ACT_TANH : LM_ACT_NONE;
    else
        return lm_err_code(LM_EINVAL, "config: %s:%d: key '%s': '%s' (expected sigmoid, tanh, none, true or false)",
                           n ? n->file : "?", n ? n->line : 0, key, text);
    return 0;
}

/* Two numbers in [0, 1) from a list (betas); the row's default text "[a, b]" when absent. */
static int read_pair(const lm_cfg *c, const lm_cfg_key *k, double *dst) {
    const lm_cfg_node *b = NULL;
    int rc = lm_cfg_get_list(c, k->path, &b);
    if (rc < 0) return rc;
    if (!b) {
        if (k->def && sscanf(k->def, "[%lf, %lf]", &dst[0], &dst[1]) != 2)
            return lm_err_code(LM_EINVAL, "config: key '%s': schema default '%s' is not two numbers", k->path, k->def);
        return 0;
    }
    double v[2];
    if (b->n != 2) return lm_err_code(LM_EINVAL, "config: %s:%d: key '%s': expected two numbers", b->file, b->line, k->path);
    for (int i = 0; i < 2; i++)
        if (lm_cfg_scalar_float(b->kids[i]->text, &v[i]) < 0 || !(v[i] >= 0 && v[i] < 1))
            return lm_err_code(LM_EINVAL, "config: %s:%d: key '%s.%d': expected a number in [0, 1), got '%s'", b->file,
                               b->line, k->path, i, b->kids[i]->text);
    dst[0] = v[0];
    dst[1] = v[1];
    return 0;
}

static int read_string(const lm_cfg *c, const lm_cfg_key *k, void *field) {
    const char *s = NULL;
    if (!k->def && !lm_cfg_has(c, k->path)) return 0; /* no default (data.train.indir): kept */
    int rc = lm_cfg_get_str(c, k->path, &s);
    if (rc < 0) return rc;
    switch (k->bind) {
    case LM_BIND_CSTR: *(const char **)field = s; return 0;
    case LM_BIND_CHARS:
        if (!s && !(k->flags & LM_CFG_F_NULLABLE))
            return lm_err_code(LM_EINVAL, "config: key '%s': must not be null", k->path);
        if (s && strlen(s) >= k->size) return lm_err_code(LM_EINVAL, "config: key '%s': '%s' is too long", k->path, s);
        snprintf(field, k->size, "%s", s ? s : "");
        return 0;
    case LM_BIND_PRECISION: return s ? parse_precision(c, k->path, s, field) : 0;
    case LM_BIND_AUG:
        if (s && (rc = lm_aug_variant_parse(field, s)) < 0) lm_err_prefix("config: %s: %s", lm_cfg_path(c), k->path);
        return rc;
    default: break;
    }
    int i = s && k->choices ? lm_cfg_choice_index(k->choices, s) : -1;
    if (i < 0) return lm_err_code(LM_EINVAL, "config: key '%s': '%s' is not one of %s", k->path, s ? s : "null",
                                  k->choices ? k->choices : "?");
    *(int *)field = k->bind == LM_BIND_IS_FIRST ? i == 0 : i;
    return 0;
}

/* One bound row into its field of obj. */
static int read_row(const lm_cfg *c, const lm_cfg_key *k, void *obj) {
    void *field = (char *)obj + k->off;
    int64_t i;
    int b, rc = 0;
    switch (k->bind) {
    case LM_BIND_INT:
        if ((rc = lm_cfg_get_int(c, k->path, &i)) < 0) return rc;
        if (i < INT32_MIN || i > INT32_MAX) return lm_err_code(LM_EINVAL, "config: key '%s': out of range", k->path);
        *(int *)field = (int)i;
        return 0;
    case LM_BIND_I64: return lm_cfg_get_int(c, k->path, field);
    case LM_BIND_U64:
        if ((rc = lm_cfg_get_int(c, k->path, &i)) < 0) return rc;
        *(uint64_t *)field = (uint64_t)i;
        return 0;
    case LM_BIND_DOUBLE: return lm_cfg_get_float(c, k->path, field);
    case LM_BIND_KEEP: return lm_cfg_has(c, k->path) ? lm_cfg_get_float(c, k->path, field) : 0;
    case LM_BIND_BOOL: return lm_cfg_get_bool(c, k->path, field);
    case LM_BIND_OR:
        if ((rc = lm_cfg_get_bool(c, k->path, &b)) < 0) return rc;
        *(int *)field |= b;
        return 0;
    case LM_BIND_PRESENT:
        if ((rc = lm_cfg_check(c, k->path)) < 0) return rc;
        *(int *)field = lm_cfg_has(c, k->path);
        return 0;
    case LM_BIND_TRI:
        if ((rc = lm_cfg_check(c, k->path)) < 0) return rc;
        if (!lm_cfg_has(c, k->path)) {
            *(int *)field = -1;
            return 0;
        }
        return lm_cfg_get_bool(c, k->path, field);
    case LM_BIND_PAIR: return read_pair(c, k, field);
    case LM_BIND_OUT_ACT: return parse_out_act(c, k->path, field);
    default: return read_string(c, k, field);
    }
}

/* ---- the sets: non-config fields and joining rules --------------------------------------- */

static void init_train(void *p) {
    lm_train_opts *o = p;
    o->vis_max_items = 10; /* rows of a sample grid */
    o->tb = 1;
    o->log = stderr;
}

static void init_losses(void *p) {
    lm_loss_opts *o = p;
    o->perceptual.normalize_inputs = 1; /* PerceptualLoss(normalize_inputs=True) */
}

static void init_loader(void *p) {
    lm_loader_opts_default(p); /* rank, threads, prefetch, seed: not config keys */
}

static int finish_step(void *p, const lm_cfg *c) {
    lm_step_opts *o = p;
    /* torch.optim.AdamW's weight_decay default is 0.01, Adam's 0 */
    if (!lm_cfg_has(c, "optimizers.generator.weight_decay") && o->opt_g.kind == LM_OPTIM_ADAMW) o->opt_g.weight_decay = 0.01;
    if (!lm_cfg_has(c, "optimizers.discriminator.weight_decay") && o->opt_d.kind == LM_OPTIM_ADAMW)
        o->opt_d.weight_decay = 0.01;
    int rc = lm_adv_check(&o->adv);
    return rc < 0 ? rc : 0;
}

static int finish_train(void *p, const lm_cfg *c) {
    (void)c;
    lm_train_opts *o = p;
    if (o->max_epochs <= 0 && o->max_steps < 0)
        return lm_err_code(LM_EINVAL, "config: trainer.kwargs.max_epochs is 0 and max_steps is not set: the run "
                                      "would never end");
    return 0;
}

/* The resnet_pl weights path is read only when the loss is on, as the official code builds
 * ResNetPL(**losses.resnet_pl) only then: its ${env:TORCH_HOME} (no default) needs TORCH_HOME
 * only then. */
static int skip_losses(const void *p, const lm_cfg_key *k) {
    const lm_loss_opts *o = p;
    return !strcmp(k->path, "losses.resnet_pl.weights_path") && !(o->resnet_pl.weight > 0);
}

typedef struct set_info {
    const char *name;
    size_t size;
    void (*init)(void *opts);                        /* non-config fields; may be NULL */
    int (*skip)(const void *opts, const lm_cfg_key *k); /* a row not read now; may be NULL */
    int (*finish)(void *opts, const lm_cfg *c);      /* rules joining keys; may be NULL */
} set_info;

static const set_info k_sets[LM_OPTS_COUNT] = {
    [LM_OPTS_GENERATOR] = {"generator", sizeof(lm_generator_opts), NULL, NULL, NULL},
    [LM_OPTS_DISCRIMINATOR] = {"discriminator", sizeof(lm_discriminator_opts), NULL, NULL, NULL},
    [LM_OPTS_STEP] = {"step", sizeof(lm_step_opts), NULL, NULL, finish_step},
    [LM_OPTS_LOSSES] = {"losses", sizeof(lm_loss_opts), init_losses, skip_losses, NULL},
    [LM_OPTS_TRAIN] = {"train", sizeof(lm_train_opts), init_train, NULL, finish_train},
    [LM_OPTS_LOADER] = {"loader", sizeof(lm_loader_opts), init_loader, NULL, NULL},
};

size_t lm_opts_set_size(lm_opts_set set) { return set > LM_OPTS_NONE && set < LM_OPTS_COUNT ? k_sets[set].size : 0; }

const char *lm_opts_set_name(lm_opts_set set) {
    return set > LM_OPTS_NONE && set < LM_OPTS_COUNT ? k_sets[set].name : "none";
}

static int fill(void *opts, lm_opts_set set, const lm_cfg *c) {
    const set_info *s = &k_sets[set];
    memset(opts, 0, s->size);
    if (s->init) s->init(opts);
    for (size_t i = 0; i < lm_cfg_schema_len; i++) {
        const lm_cfg_key *k = &lm_cfg_schema[i];
        if (k->opts != set || (s->skip && s->skip(opts, k))) continue;
        int rc = read_row(c, k, opts);
        if (rc < 0) return rc;
    }
    return s->finish ? s->finish(opts, c) : 0;
}

int lm_cfg_fill(void *opts, lm_opts_set set, const lm_cfg *c) {
    if (set <= LM_OPTS_NONE || set >= LM_OPTS_COUNT) return lm_err_code(LM_EINVAL, "config: no options set %d", (int)set);
    if (c) return fill(opts, set, c);
    lm_cfg *empty = NULL;
    lm_cfg_node *root = lm_cfg_node_new(LM_CFG_MAP, NULL, NULL, "defaults", 0);
    int rc = root ? lm_cfg_from_tree(&empty, root, "the schema defaults", 0) : LM_ENOMEM;
    if (rc == 0) rc = fill(opts, set, empty);
    lm_cfg_free(empty);
    return rc;
}

void lm_cfg_defaults(void *opts, lm_opts_set set) {
    if (lm_cfg_fill(opts, set, NULL) < 0) {
        fprintf(stderr, "lamac: BUG: the schema defaults of %s do not convert: %s\n", lm_opts_set_name(set), lm_err_msg());
        abort();
    }
}

int lm_precision_from_cfg(lt_dtype *out, const lm_cfg *c) {
    lm_step_opts o;
    memset(&o, 0, sizeof o);
    int rc = 0;
    for (size_t i = 0; i < lm_cfg_schema_len && !rc; i++)
        if (lm_cfg_schema[i].bind == LM_BIND_PRECISION) rc = read_row(c, &lm_cfg_schema[i], &o);
    if (!rc) *out = o.precision;
    return rc;
}
