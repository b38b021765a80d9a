/* getters.c — typed access to a loaded configuration (what the official code does with
 * `config.generator.n_blocks` on an OmegaConf DictConfig): the tree's value, else the schema
 * default (schema.c); the resolved tree written back as YAML. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "config/config_internal.h"

const lm_cfg_node *lm_cfg_root(const lm_cfg *c) { return c->root; }
const char *lm_cfg_path(const lm_cfg *c) { return c->path; }

const lm_cfg_node *lm_cfg_find(const lm_cfg *c, const char *path) { return lm_cfg_node_find(c->root, path); }

static const lm_cfg_node *deferred_on_path(const lm_cfg_node *root, const char *path);

int lm_cfg_has(const lm_cfg *c, const char *path) {
    if (deferred_on_path(c->root, path)) return 1; /* unknown until read: the getter reports it */
    const lm_cfg_node *n = lm_cfg_find(c, path);
    return n && !(n->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(n) == LM_CFG_NULL);
}

/* The lazy value (node->defer: it depends on an unset ${env:NAME}) at path or above it
 * (`generator: ${env:X}` makes generator.ngf lazy too), else NULL. */
static const lm_cfg_node *deferred_on_path(const lm_cfg_node *root, const char *path) {
    char prefix[PATH_CAP];
    size_t len = strlen(path);
    if (len >= sizeof prefix) return NULL;
    for (size_t i = 0; i <= len; i++) {
        if (path[i] != '.' && path[i] != 0) continue;
        memcpy(prefix, path, i);
        prefix[i] = 0;
        const lm_cfg_node *n = lm_cfg_node_find(root, prefix);
        if (!n) return NULL;
        if (n->defer) return n;
    }
    return NULL;
}

/* The first lazy value in a subtree, else NULL. */
static const lm_cfg_node *deferred_below(const lm_cfg_node *n) {
    if (n->defer) return n;
    for (int i = 0; i < n->n; i++) {
        const lm_cfg_node *d = deferred_below(n->kids[i]);
        if (d) return d;
    }
    return NULL;
}

/* The error of reading path when d (at or above it) is lazy: d's own message, with path in
 * front when path lies below d. */
static int deferred_error(const lm_cfg_node *root, const lm_cfg_node *d, const char *path) {
    if (lm_cfg_node_find(root, path) == d) return lm_err_code(LM_EINVAL, "%s", d->defer);
    const char *m = d->defer;
    if (!strncmp(m, "config: ", 8)) m += 8;
    return lm_err_code(LM_EINVAL, "config: key '%s': %s", path, m);
}

int lm_cfg_check(const lm_cfg *c, const char *path) {
    const lm_cfg_node *d = deferred_on_path(c->root, path);
    if (!d) {
        const lm_cfg_node *n = lm_cfg_node_find(c->root, path);
        if (n) d = deferred_below(n);
        return d ? lm_err_code(LM_EINVAL, "%s", d->defer) : 0;
    }
    return deferred_error(c->root, d, path);
}

/* The text to convert for a scalar getter: the tree's, else the schema default. *text is
 * NULL for null. Sets *n to the tree node (NULL when defaulted). */
static int getter_text(const lm_cfg *c, const char *path, lm_cfg_type want, const char **text,
                       const lm_cfg_node **node) {
    const lm_cfg_key *k = lm_cfg_schema_find(path);
    *text = NULL;
    *node = NULL;
    if (!k) return lm_err_code(LM_EINVAL, "config: key '%s' is not in the schema (config/schema.c)", path);
    if (k->type != want && !(want == LM_CFG_T_FLOAT && k->type == LM_CFG_T_INT))
        return lm_err_code(LM_EINVAL, "config: key '%s' is %s in the schema, read as %s", path,
                           lm_cfg_type_name(k->type), lm_cfg_type_name(want));
    int rc = lm_cfg_check(c, path);
    if (rc < 0) return rc;
    const lm_cfg_node *n = lm_cfg_node_find(c->root, path);
    if (n) {
        char where[PATH_CAP];
        *node = n;
        if (n->kind != LM_CFG_SCALAR)
            return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got %s", lm_cfg_loc(n, where, sizeof where),
                               path, lm_cfg_type_name(want), lm_cfg_kind_word(n));
        if (lm_cfg_scalar_type(n) != LM_CFG_NULL) *text = n->text;
        return 0;
    }
    if (!k->def) return lm_err_code(LM_EINVAL, "config: missing key '%s' (%s has no default)", path,
                                    c->path ? c->path : "the config");
    lm_cfg_node probe = {.kind = LM_CFG_SCALAR, .text = (char *)k->def};
    if (!(k->type == LM_CFG_T_STR && !strcmp(k->def, "")) && lm_cfg_scalar_type(&probe) != LM_CFG_NULL)
        *text = k->def;
    else if (k->type == LM_CFG_T_STR && !strcmp(k->def, ""))
        *text = k->def;
    return 0;
}

static int null_error(const lm_cfg_node *n, const char *path, lm_cfg_type want) {
    char where[PATH_CAP];
    if (n)
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got null", lm_cfg_loc(n, where, sizeof where),
                           path, lm_cfg_type_name(want));
    return lm_err_code(LM_EINVAL, "config: key '%s': no value (null default)", path);
}

static int bad_value(const lm_cfg_node *n, const char *path, lm_cfg_type want, const char *text) {
    char where[PATH_CAP];
    if (n)
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got '%s'", lm_cfg_loc(n, where, sizeof where),
                           path, lm_cfg_type_name(want), text);
    return lm_err_code(LM_EINVAL, "config: key '%s': schema default '%s' is not %s", path, text,
                       lm_cfg_type_name(want));
}

int lm_cfg_get_int(const lm_cfg *c, const char *path, int64_t *out) {
    const char *t;
    const lm_cfg_node *n;
    int rc = getter_text(c, path, LM_CFG_T_INT, &t, &n);
    if (rc < 0) return rc;
    if (!t) return null_error(n, path, LM_CFG_T_INT);
    if ((n && n->quoted) || lm_cfg_scalar_int(t, out) < 0) return bad_value(n, path, LM_CFG_T_INT, t);
    return 0;
}

int lm_cfg_get_float(const lm_cfg *c, const char *path, double *out) {
    const char *t;
    const lm_cfg_node *n;
    int64_t i;
    int rc = getter_text(c, path, LM_CFG_T_FLOAT, &t, &n);
    if (rc < 0) return rc;
    if (!t) return null_error(n, path, LM_CFG_T_FLOAT);
    if (!(n && n->quoted) && lm_cfg_scalar_int(t, &i) == 0) {
        *out = (double)i;
        return 0;
    }
    if ((n && n->quoted) || lm_cfg_scalar_float(t, out) < 0) return bad_value(n, path, LM_CFG_T_FLOAT, t);
    return 0;
}

int lm_cfg_get_bool(const lm_cfg *c, const char *path, int *out) {
    const char *t;
    const lm_cfg_node *n;
    int rc = getter_text(c, path, LM_CFG_T_BOOL, &t, &n);
    if (rc < 0) return rc;
    if (!t) return null_error(n, path, LM_CFG_T_BOOL);
    if ((n && n->quoted) || lm_cfg_scalar_bool(t, out) < 0) return bad_value(n, path, LM_CFG_T_BOOL, t);
    return 0;
}

int lm_cfg_get_str(const lm_cfg *c, const char *path, const char **out) {
    const lm_cfg_node *n;
    return getter_text(c, path, LM_CFG_T_STR, out, &n);
}

int lm_cfg_get_list(const lm_cfg *c, const char *path, const lm_cfg_node **out) {
    const lm_cfg_key *k = lm_cfg_schema_find(path);
    char where[PATH_CAP];
    *out = NULL;
    if (!k) return lm_err_code(LM_EINVAL, "config: key '%s' is not in the schema (config/schema.c)", path);
    int rc = lm_cfg_check(c, path);
    if (rc < 0) return rc;
    const lm_cfg_node *n = lm_cfg_node_find(c->root, path);
    if (n && n->kind != LM_CFG_SEQ) {
        if (n->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(n) == LM_CFG_NULL) return 0;
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected a list, got %s", lm_cfg_loc(n, where, sizeof where),
                           path, lm_cfg_kind_word(n));
    }
    *out = n;
    return 0;
}

int lm_cfg_write_yaml(const lm_cfg *c, FILE *f) {
    int rc = lm_cfg_check(c, "");
    return rc < 0 ? rc : lm_cfg_tree_write(c->root, f);
}

char *lm_cfg_to_yaml(const lm_cfg *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    int rc = lm_cfg_tree_write(c->root, f); /* a lazy value stays its ${env:NAME} text */
    if (fclose(f) != 0 || rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
