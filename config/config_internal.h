/* config_internal.h — declarations shared by the files of the configuration loader
 * (compose.c, overrides.c, interpolate.c, validate.c, load.c, getters.c) and nothing else:
 * the lm_cfg object, node locations for messages, and each stage's entry point. */
#ifndef LM_CONFIG_INTERNAL_H
#define LM_CONFIG_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

struct lm_cfg {
    lm_cfg_node *root;
    char *path;
};

#define PATH_CAP 512

/* "file:line" or "file" for nodes not from a file. */
static inline const char *lm_cfg_loc(const lm_cfg_node *n, char *buf, size_t cap) {
    if (n->line > 0) snprintf(buf, cap, "%s:%d", n->file ? n->file : "?", n->line);
    else snprintf(buf, cap, "%s", n->file ? n->file : "?");
    return buf;
}

/* out = "base.key" (or "key"); a path longer than cap is cut (paths are short). */
static inline void lm_cfg_join(char *out, size_t cap, const char *base, const char *key) {
    int w = base[0] ? snprintf(out, cap, "%s.%s", base, key) : snprintf(out, cap, "%s", key);
    if (w < 0) out[0] = 0;
}

/* ---- compose.c: the defaults list ---- */

/* A command-line group choice (`data=abl-02-thin-bb`, `+group=option`). */
typedef struct {
    char *group;  /* "data" */
    char *option; /* "abl-02-thin-bb" */
    char *arg;    /* the command-line argument, for messages */
    int add;      /* '+group=option': append when the defaults list lacks the group */
    int used;
} lm_cfg_group_choice;

/* Reads the top-level file `path` and composes its defaults list (search path: dir), with
 * the group choices applied, into *out (a map). */
int lm_cfg_compose(lm_cfg_node **out, const char *path, const char *dir,
                   lm_cfg_group_choice *choices, int n_choices);

/* ---- overrides.c: command-line overrides ---- */

typedef struct {
    int op;           /* '=' set, '+' add, 'P' (++) add or set, '~' delete, 0 consumed */
    char key[PATH_CAP];
    const char *value;
    const char *arg;
} lm_cfg_override;

int lm_cfg_override_parse(const char *arg, lm_cfg_override *o);
int lm_cfg_override_apply(lm_cfg_node *root, const lm_cfg_override *o);

/* ---- interpolate.c: ${...} ---- */

/* Resolves every interpolation of the tree in place. */
int lm_cfg_resolve(lm_cfg_node *root);

/* ---- validate.c: the schema check ---- */

/* "a mapping", "a list", "an integer", ... for messages. */
const char *lm_cfg_kind_word(const lm_cfg_node *n);
/* Checks every key of the tree against the schema table (schema.c). */
int lm_cfg_validate(const lm_cfg_node *root);

#endif
