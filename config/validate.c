/* validate.c — checks a resolved tree against the one schema table (schema.c), as the
 * official code relies on OmegaConf + the constructors' keyword arguments to reject a wrong
 * key: unknown key, wrong type, value out of range or not among the choices, each an error
 * "config: FILE:LINE: key 'a.b.c': ...". */
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "config/config_internal.h"

const char *lm_cfg_kind_word(const lm_cfg_node *n) {
    if (n->kind == LM_CFG_MAP) return "a mapping";
    if (n->kind == LM_CFG_SEQ) return "a list";
    switch (lm_cfg_scalar_type(n)) {
    case LM_CFG_NULL: return "null";
    case LM_CFG_BOOL: return "a boolean";
    case LM_CFG_INT: return "an integer";
    case LM_CFG_FLOAT: return "a float";
    case LM_CFG_STR: return "a string";
    }
    return "?";
}

static int check_range(const lm_cfg_key *k, const lm_cfg_node *n, const char *path, double v) {
    char where[PATH_CAP];
    int lo = (k->flags & LM_CFG_F_MIN) && !(v >= k->min);
    int hi = (k->flags & LM_CFG_F_MAX) && !(v <= k->max);
    if (!lo && !hi) return 0;
    if ((k->flags & LM_CFG_F_MIN) && (k->flags & LM_CFG_F_MAX))
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': %s is out of range [%g, %g]",
                           lm_cfg_loc(n, where, sizeof where), path, n->text, k->min, k->max);
    return lm_err_code(LM_EINVAL, "config: %s: key '%s': %s is %s the %s %g", lm_cfg_loc(n, where, sizeof where), path,
                       n->text, lo ? "below" : "above", lo ? "minimum" : "maximum", lo ? k->min : k->max);
}

static int check_node(const lm_cfg_node *n, const char *path) {
    char where[PATH_CAP];
    const lm_cfg_key *k = lm_cfg_schema_find(path);
    if (!k) return lm_err_code(LM_EINVAL, "config: %s: unknown key '%s'", lm_cfg_loc(n, where, sizeof where), path);
    if (n->defer) return 0; /* an unset ${env:NAME}: reading the key reports it (getters.c) */
    int is_null = n->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(n) == LM_CFG_NULL;
    if (is_null) {
        if (k->flags & LM_CFG_F_NULLABLE) return 0;
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got null", lm_cfg_loc(n, where, sizeof where),
                           path, lm_cfg_type_name(k->type));
    }
    lm_cfg_stype st = lm_cfg_scalar_type(n);
    int ok = 0;
    switch (k->type) {
    case LM_CFG_T_MAP: ok = n->kind == LM_CFG_MAP; break;
    case LM_CFG_T_LIST: ok = n->kind == LM_CFG_SEQ; break;
    case LM_CFG_T_BOOL: ok = n->kind == LM_CFG_SCALAR && st == LM_CFG_BOOL; break;
    case LM_CFG_T_INT: ok = n->kind == LM_CFG_SCALAR && st == LM_CFG_INT; break;
    case LM_CFG_T_FLOAT: ok = n->kind == LM_CFG_SCALAR && (st == LM_CFG_INT || st == LM_CFG_FLOAT); break;
    case LM_CFG_T_STR: ok = n->kind == LM_CFG_SCALAR; break;
    }
    if (!ok) {
        if (n->kind == LM_CFG_SCALAR)
            return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s%s%s, got %s '%s'",
                               lm_cfg_loc(n, where, sizeof where), path, lm_cfg_type_name(k->type),
                               k->type == LM_CFG_T_BOOL ? " (true or false)" : "",
                               k->flags & LM_CFG_F_NULLABLE ? " or null" : "", lm_cfg_kind_word(n), n->text);
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got %s", lm_cfg_loc(n, where, sizeof where), path,
                           lm_cfg_type_name(k->type), lm_cfg_kind_word(n));
    }
    if (k->type == LM_CFG_T_INT) {
        int64_t v;
        lm_cfg_scalar_int(n->text, &v);
        return check_range(k, n, path, (double)v);
    }
    if (k->type == LM_CFG_T_FLOAT) {
        double v;
        if (st == LM_CFG_INT) {
            int64_t i;
            lm_cfg_scalar_int(n->text, &i);
            v = (double)i;
        } else {
            lm_cfg_scalar_float(n->text, &v);
        }
        return check_range(k, n, path, v);
    }
    if (k->type == LM_CFG_T_STR && k->choices &&
        !((k->flags & LM_CFG_F_OR_BOOL) && !n->quoted && lm_cfg_scalar_type(n) == LM_CFG_BOOL)) {
        if (lm_cfg_choice_index(k->choices, n->text) >= 0) return 0;
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': '%s' is not one of %s", lm_cfg_loc(n, where, sizeof where),
                           path, n->text, k->choices);
    }
    if (k->type == LM_CFG_T_LIST) {
        for (int i = 0; i < n->n; i++)
            if (n->kids[i]->kind != LM_CFG_SCALAR)
                return lm_err_code(LM_EINVAL, "config: %s: key '%s.%d': expected a scalar list item, got %s",
                                   lm_cfg_loc(n->kids[i], where, sizeof where), path, i, lm_cfg_kind_word(n->kids[i]));
        return 0;
    }
    if (k->type == LM_CFG_T_MAP) {
        for (int i = 0; i < n->n; i++) {
            char kp[PATH_CAP];
            lm_cfg_join(kp, sizeof kp, path, n->kids[i]->key);
            int rc = check_node(n->kids[i], kp);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

int lm_cfg_validate(const lm_cfg_node *root) {
    for (int i = 0; i < root->n; i++) {
        int rc = check_node(root->kids[i], root->kids[i]->key);
        if (rc < 0) return rc;
    }
    return 0;
}
