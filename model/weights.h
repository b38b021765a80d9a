/* weights.h — weight I/O for parameter registries (DESIGN §6): save an lm_params to
 * safetensors under a key prefix ("generator.", "discriminator."), with metadata (format
 * version, config YAML, step), and load it back from safetensors or from an official PyTorch
 * checkpoint (.pth / Lightning .ckpt read by io/pth.h), as the official code does with
 * load_state_dict (strict by default).
 *
 * Loading is all-or-nothing in strict mode: every key of the registry is checked first
 * (missing key, unexpected key under the prefix, shape mismatch, dtype not convertible) and
 * if anything is wrong nothing is copied and the function fails, leaving the table of every
 * mismatch in the report (lm_weights_report_print writes it: key | expected | found).
 * Non-strict mode (LM_WEIGHTS_NONSTRICT) copies what matches and reports the rest.
 * Keys outside the prefix (e.g. discriminator.* or loss_resnet_pl.* when loading the
 * generator) are ignored. Floating-point sources (F32/F64/F16/BF16) convert to the
 * parameter's dtype; integer sources (I64/I32) load into integer buffers
 * (num_batches_tracked). Tensors go to the registry's device. */
#ifndef LM_WEIGHTS_H
#define LM_WEIGHTS_H

#include <stdint.h>
#include <stdio.h>

#include "model/param.h"
#include "io/safetensors.h"

#define LM_WEIGHTS_FORMAT "lamac-weights-1" /* metadata "format" */

/* ---- a source of named tensors: safetensors or PyTorch file ------------------------------ */
typedef struct lm_weights_src lm_weights_src;

/* Opens path, detecting the format from its bytes: safetensors, or a PyTorch zip / legacy
 * file (.pth, .ckpt). Errors name the file. */
int lm_weights_open(lm_weights_src **out, const char *path);
void lm_weights_close(lm_weights_src *s);
int lm_weights_count(const lm_weights_src *s);
const lm_safetensors_entry *lm_weights_get(const lm_weights_src *s, int i);
const lm_safetensors_entry *lm_weights_find(const lm_weights_src *s, const char *name);
const char *lm_weights_meta(const lm_weights_src *s, const char *key); /* NULL if absent */
const char *lm_weights_path(const lm_weights_src *s);
const char *lm_weights_kind(const lm_weights_src *s); /* "safetensors", "pth-zip", "pth-legacy" */
/* Number of tensors whose name starts with prefix. */
int lm_weights_count_prefix(const lm_weights_src *s, const char *prefix);

/* ---- load -------------------------------------------------------------------------------- */
typedef enum lm_weights_problem {
    LM_WP_MISSING = 1,    /* in the registry, not in the file */
    LM_WP_UNEXPECTED,     /* in the file under the prefix, not in the registry */
    LM_WP_SHAPE,          /* shapes differ */
    LM_WP_DTYPE           /* dtype cannot be converted (e.g. float into an integer buffer) */
} lm_weights_problem;

typedef struct lm_weights_mismatch {
    char *key;            /* full key as in the file (prefix included) */
    lm_weights_problem problem;
    char expected[96];    /* e.g. "F32 (64, 3, 4, 4)" or "-" */
    char found[96];
} lm_weights_mismatch;

typedef struct lm_weights_report {
    lm_weights_mismatch *items;
    int n, cap;
    int loaded;           /* tensors copied */
    int checked;          /* registry entries examined */
} lm_weights_report;

void lm_weights_report_init(lm_weights_report *r);
void lm_weights_report_free(lm_weights_report *r); /* accepts NULL */
/* Prints the table ("key | expected | found", one row per mismatch) to f. */
void lm_weights_report_print(const lm_weights_report *r, FILE *f);
const char *lm_weights_problem_name(lm_weights_problem p);

enum { LM_WEIGHTS_STRICT = 0, LM_WEIGHTS_NONSTRICT = 1 };

/* Loads the tensors named prefix + <registry key> into p. rep may be NULL (then a strict
 * failure still says how many mismatches and names the first). Strict: fails (LM_EINVAL,
 * message "weights FILE: N mismatches for prefix 'generator.' (first: KEY: missing)")
 * without modifying p when anything mismatches. Non-strict: copies matching tensors, returns
 * 0, rep lists the rest. */
int lm_weights_load(lm_params *p, const lm_weights_src *s, const char *prefix, int flags,
                    lm_weights_report *rep);

/* ---- save -------------------------------------------------------------------------------- */
typedef struct lm_weights_part {
    const char *prefix;   /* "generator." */
    const lm_params *params;
} lm_weights_part;

typedef struct lm_weights_save_opts {
    lt_dtype dtype;       /* floating-point tensors saved as LT_F32 (default), LT_F64, LT_F16 or LT_BF16 */
    const char *config;   /* YAML text, stored as metadata "config" (may be NULL) */
    int64_t step;         /* metadata "step" (-1: not written) */
    const char *const *extra; /* extra metadata pairs: key, value, key, value, ..., NULL */
} lm_weights_save_opts;

lm_weights_save_opts lm_weights_save_defaults(void); /* F32, no config, step -1 */

/* Writes every tensor of each part as prefix + key (plus metadata "format"
 * = LM_WEIGHTS_FORMAT, "config", "step", "dtype"); atomic (lm_safetensors_writer). Integer buffers keep
 * their dtype. */
int lm_weights_save(const char *path, const lm_weights_part *parts, int n_parts,
                    const lm_weights_save_opts *o);

#endif
