/* config.h — lamac's configuration: Hydra-style YAML composition into one resolved, validated
 * tree, and typed getters over it. Mirrors what Hydra 1.1 + OmegaConf do for the official
 * configs/training tree (advimman/lama, bin/train.py's @hydra.main):
 *
 *   - a generic tree (lm_cfg_node: map / sequence / scalar), each node remembering the source
 *     file and line it came from (tree.c, parsed with libyaml);
 *   - composition (compose.c): the top-level file's `defaults:` list (`- group: name` loads
 *     <dir>/<group>/<name>.yaml, placed at key <group> under `# @package _group_`), the
 *     file's own keys merged last (they win, Hydra 1.1's implicit `_self_` at the end);
 *   - command-line overrides (overrides.c) `a.b=value`, `+a.b=value` (add), `++a.b=value` (add or set),
 *     `~a.b` (delete), and group choices `data=abl-02-thin-bb`;
 *   - interpolation (interpolate.c) `${a.b.c}`, `${.sibling}`, `${env:NAME}`, `${env:NAME,default}` (the
 *     default may itself interpolate), `${now:strftime-format}`; other resolvers are errors;
 *     an unset `${env:NAME}` without default is lazy: an error only when a getter reads a
 *     value that depends on it (lm_cfg_check);
 *   - validation (validate.c) against ONE schema table (schema.c): unknown key, wrong type, value
 *     out of range or not among the choices -> error "config: FILE:LINE: key 'a.b.c': ...".
 *
 * Getters take a full dotted path ("generator.n_blocks", "visualizer.key_order.0"); a key that
 * the schema knows but the tree lacks yields the schema default. Only cli/ and config/ use
 * this header: config/ fills the other modules' plain option structs from it. */
#ifndef LM_CONFIG_H
#define LM_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the generic tree (tree.c) ---------------------------------------------- */

typedef enum { LM_CFG_MAP, LM_CFG_SEQ, LM_CFG_SCALAR } lm_cfg_kind;

/* What a scalar means under YAML 1.1 core inference (as OmegaConf's loader; exponent floats
 * without a dot such as 1e-3 are floats). A quoted scalar is always a string. */
typedef enum { LM_CFG_NULL, LM_CFG_BOOL, LM_CFG_INT, LM_CFG_FLOAT, LM_CFG_STR } lm_cfg_stype;

typedef struct lm_cfg_node lm_cfg_node;
struct lm_cfg_node {
    lm_cfg_kind kind;
    char *key;          /* key in the parent map; NULL for sequence items and the root */
    char *text;         /* scalar text (NULL for maps and sequences) */
    int quoted;         /* scalar was quoted (or built by string concatenation): a string */
    char *file;         /* where it came from: a path, or "override 'k=v'" */
    int line;           /* 1-based line in file; 0 when not from a file */
    lm_cfg_node **kids; /* map entries (each with key) in file order, or sequence items */
    int n, cap;
    int mark;           /* interpolation state: 0 untouched, 1 resolving, 2 resolved */
    char *defer;        /* a value that depends on an unset ${env:NAME} (no default): the error
                         * message a read of it reports; text keeps the unresolved expression */
};

/* Parses YAML text (one document) into *out; an empty document gives an empty map.
 * file names the source in messages. Errors: "config: FILE:LINE: ..." with the key path. */
int lm_cfg_tree_parse(lm_cfg_node **out, const char *text, size_t len, const char *file);
/* Reads and parses a file; errors name the file. */
int lm_cfg_tree_load(lm_cfg_node **out, const char *path);
lm_cfg_node *lm_cfg_node_new(lm_cfg_kind kind, const char *key, const char *text,
                             const char *file, int line);
void lm_cfg_node_free(lm_cfg_node *n);
lm_cfg_node *lm_cfg_node_copy(const lm_cfg_node *n);
/* The entry of a map by key, or NULL. */
lm_cfg_node *lm_cfg_node_get(const lm_cfg_node *map, const char *key);
/* Follows a dotted path (numeric components index sequences); NULL if absent. */
lm_cfg_node *lm_cfg_node_find(const lm_cfg_node *root, const char *path);
/* Appends kid (owned) to a map or sequence. Returns 0 or LM_ENOMEM. */
int lm_cfg_node_append(lm_cfg_node *parent, lm_cfg_node *kid);
/* Removes and frees entry i of a map or sequence. */
void lm_cfg_node_remove(lm_cfg_node *parent, int i);
/* Deep-merges src into dst (both maps), consuming src: maps merge key by key, anything
 * else replaces the old value (keeping the old position). */
void lm_cfg_node_merge(lm_cfg_node *dst, lm_cfg_node *src);
/* The inferred type of a scalar (LM_CFG_STR for maps and sequences). */
lm_cfg_stype lm_cfg_scalar_type(const lm_cfg_node *n);
/* Scalar conversions; return 0 or a negative error without setting a message. */
int lm_cfg_scalar_bool(const char *text, int *out);
int lm_cfg_scalar_int(const char *text, int64_t *out);
int lm_cfg_scalar_float(const char *text, double *out);
/* Writes a map as block YAML, keys in order; floats in shortest round-trip form
 * (0.001 stays 0.001), booleans true/false, strings quoted only where needed. */
int lm_cfg_tree_write(const lm_cfg_node *root, FILE *f);

/* ---- the schema (schema.c) --------------------------------------------------- */

typedef enum {
    LM_CFG_T_MAP, LM_CFG_T_LIST, LM_CFG_T_BOOL, LM_CFG_T_INT, LM_CFG_T_FLOAT, LM_CFG_T_STR
} lm_cfg_type;

enum {
    LM_CFG_F_NULLABLE = 1, /* null is accepted */
    LM_CFG_F_MIN = 2,      /* min is set */
    LM_CFG_F_MAX = 4,      /* max is set */
    LM_CFG_F_UNUSED = 8,   /* an official key that lamac accepts and does not use (yet) */
    LM_CFG_F_OR_BOOL = 16  /* a string with choices that also takes true / false */
};

/* The options set a row fills (config/fill.h lists each set's struct). */
typedef enum lm_opts_set {
    LM_OPTS_NONE = 0, /* a key no module reads through lm_cfg_fill */
    LM_OPTS_GENERATOR,
    LM_OPTS_DISCRIMINATOR,
    LM_OPTS_STEP,
    LM_OPTS_LOSSES,
    LM_OPTS_TRAIN,
    LM_OPTS_LOADER,
    LM_OPTS_COUNT
} lm_opts_set;

/* How a row's value lands in its field (config/fill.h). */
typedef enum lm_cfg_bind {
    LM_BIND_NONE = 0,
    LM_BIND_INT,       /* int */
    LM_BIND_I64,       /* int64_t */
    LM_BIND_U64,       /* uint64_t (from a non-negative integer) */
    LM_BIND_DOUBLE,    /* double */
    LM_BIND_BOOL,      /* int 0/1 */
    LM_BIND_OR,        /* int: |= the boolean (a second spelling of a switch) */
    LM_BIND_CHARS,     /* char[size]; null -> "" */
    LM_BIND_CSTR,      /* const char *, borrowed from the config; null -> NULL */
    LM_BIND_CHOICE,    /* int (an enum declared in the order of the row's choices) */
    LM_BIND_IS_FIRST,  /* int: 1 when the value is the row's first choice */
    LM_BIND_PRESENT,   /* int: 1 when the key has a non-null value */
    LM_BIND_PAIR,      /* two doubles (field, field + 1) from a two-number list; absent: kept */
    LM_BIND_KEEP,      /* double; absent (no default): kept as the set's rules left it */
    LM_BIND_OUT_ACT,   /* lm_out_act: sigmoid | tanh | none | true (tanh) | false */
    LM_BIND_PRECISION, /* lt_dtype: 32 | 64 | bf16 (and the -true / -mixed spellings); null: kept */
    LM_BIND_AUG,       /* lm_aug_variant by name (data/augment.h) */
    LM_BIND_TRI        /* int: -1 for null (absent with a null default), else the boolean 0 / 1 */
} lm_cfg_bind;

typedef struct lm_cfg_key {
    const char *path;    /* full dotted path; a component '*' matches any one key */
    lm_cfg_type type;
    const char *def;     /* default as YAML scalar text; NULL: none (map/list, or required) */
    double min, max;     /* range for int/float, with LM_CFG_F_MIN / LM_CFG_F_MAX */
    unsigned flags;
    const char *choices; /* for strings: "a|b|c", or NULL for any */
    /* the field this key fills (LM_OPTS_NONE: read by other code through the getters) */
    lm_opts_set opts;
    lm_cfg_bind bind;
    size_t off, size;    /* offsetof / sizeof the field in the set's struct */
} lm_cfg_key;

extern const lm_cfg_key lm_cfg_schema[];
extern const size_t lm_cfg_schema_len;
/* The schema entry of a full path (exact match first, then wildcard), or NULL. */
const lm_cfg_key *lm_cfg_schema_find(const char *path);
const char *lm_cfg_type_name(lm_cfg_type t);
/* The index of s among a row's choices "a|b|c", or -1. */
int lm_cfg_choice_index(const char *choices, const char *s);

/* ---- the composed configuration (load.c, getters.c) ----------------------------------------- */

typedef struct lm_cfg lm_cfg;

/* Loads the top-level config `path`, composes its defaults list (search path: the directory
 * of `path`), applies the overrides ("key.sub=value", "+key=value", "++key=value", "~key",
 * "group=option"), resolves interpolations and validates against the schema.
 * On error *out is NULL and the message is one line naming file, line and key path. */
int lm_cfg_load(lm_cfg **out, const char *path, const char *const *overrides, int n_overrides);
void lm_cfg_free(lm_cfg *c);

/* Loads a configuration that is DATA, not a user's file: the YAML text embedded in a weights
 * file (safetensors metadata "config", a checkpoint's hyper-parameters) or shipped beside
 * downloaded weights. Parsed and validated only: no defaults list, no overrides and no
 * interpolation, so `${env:NAME}`, `${a.b}` and `${now:...}` stay literal text (a weights
 * file can never make lamac read and print an environment variable); such text then fails
 * validation wherever the key is not a free-form string. origin names the source. */
int lm_cfg_load_data(lm_cfg **out, const char *text, size_t len, const char *origin);
/* The same from a parsed tree (a map; consumed, also on error): resolve = 1 resolves
 * interpolations first (a user's file), 0 keeps them literal (data). */
int lm_cfg_from_tree(lm_cfg **out, lm_cfg_node *root, const char *origin, int resolve);

/* The resolved tree (a map) and the top-level file it came from. Borrowed. */
const lm_cfg_node *lm_cfg_root(const lm_cfg *c);
const char *lm_cfg_path(const lm_cfg *c);
/* The node at a dotted path, or NULL. */
const lm_cfg_node *lm_cfg_find(const lm_cfg *c, const char *path);
/* 0, or the error of a value at path, above it or (for a mapping or list) inside it that
 * depends on an `${env:NAME}` without default whose variable is unset ("" checks the whole
 * tree). Such values do not fail the load: the getters report them when read, with the key
 * and the variable named. Code that reads lm_cfg_find()'s nodes directly checks first. */
int lm_cfg_check(const lm_cfg *c, const char *path);
/* 1 if the path is present in the resolved tree with a non-null value, else 0; 1 also for a
 * value that depends on an unset `${env:NAME}` (or lies under one), so its getter reports it. */
int lm_cfg_has(const lm_cfg *c, const char *path);

/* Typed getters: the tree's value, else the schema default. Errors (negative, message set):
 * the path is not in the schema, the value has the wrong type (cannot happen after
 * validation unless the schema type differs), or the key is absent with no default.
 * get_float accepts ints; get_str returns a borrowed string, NULL for null. */
int lm_cfg_get_int(const lm_cfg *c, const char *path, int64_t *out);
int lm_cfg_get_float(const lm_cfg *c, const char *path, double *out);
int lm_cfg_get_bool(const lm_cfg *c, const char *path, int *out);
int lm_cfg_get_str(const lm_cfg *c, const char *path, const char **out);
/* A sequence: *out is the node (kind LM_CFG_SEQ; items in ->kids[0..n)), NULL if absent. */
int lm_cfg_get_list(const lm_cfg *c, const char *path, const lm_cfg_node **out);

/* The resolved config as YAML (what `lamac config show` prints); fails, writing nothing, if a
 * value depends on an unset `${env:NAME}` (lm_cfg_check of ""). */
int lm_cfg_write_yaml(const lm_cfg *c, FILE *f);
/* Same into a new malloc'd string (e.g. for checkpoint metadata); NULL on failure. A value
 * that depends on an unset `${env:NAME}` is written as its unresolved expression text. */
char *lm_cfg_to_yaml(const lm_cfg *c);

#endif
