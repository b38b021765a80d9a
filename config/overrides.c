/* overrides.c — command-line overrides, as Hydra 1.1's override grammar for the official
 * bin/train.py: `a.b=v` (a key in the tree or the schema), `+a.b=v` (a new key), `++a.b=v`
 * (either), `~a.b` (delete). Values are YAML scalars or flow collections, parsed with the
 * tree parser; `key=` is the empty string. Group choices (`data=option`) are picked out by
 * load.c and applied by compose.c. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "config/config_internal.h"

typedef lm_cfg_override override;

static void set_file_recursive(lm_cfg_node *n, const char *file, int line) {
    free(n->file);
    n->file = strdup(file);
    n->line = line;
    for (int i = 0; i < n->n; i++) set_file_recursive(n->kids[i], file, line);
}

static int valid_key_path(const char *k) {
    if (!*k || *k == '.' || k[strlen(k) - 1] == '.' || strstr(k, "..")) return 0;
    for (const char *p = k; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.' || *p == '/' || *p == '@'))
            return 0;
    return 1;
}

int lm_cfg_override_parse(const char *arg, lm_cfg_override *o) {
    const char *p = arg;
    memset(o, 0, sizeof *o);
    o->arg = arg;
    o->op = '=';
    if (!strncmp(p, "++", 2)) o->op = 'P', p += 2;
    else if (*p == '+') o->op = '+', p++;
    else if (*p == '~') o->op = '~', p++;
    const char *eq = strchr(p, '=');
    size_t klen = eq ? (size_t)(eq - p) : strlen(p);
    if (klen >= sizeof o->key)
        return lm_err_code(LM_EINVAL, "config: override '%s': key too long", arg);
    memcpy(o->key, p, klen);
    o->key[klen] = 0;
    if (!eq && o->op != '~')
        return lm_err_code(LM_EINVAL, "config: override '%s': expected key=value (e.g. data.batch_size=4)", arg);
    if (!valid_key_path(o->key))
        return lm_err_code(LM_EINVAL, "config: override '%s': bad key path '%s'", arg, o->key);
    o->value = eq ? eq + 1 : NULL;
    if (o->value && strpbrk(o->value, "\r\n"))
        return lm_err_code(LM_EINVAL, "config: override '%s': key '%s': the value spans lines", arg, o->key);
    return 0;
}

/* The value of an override as a tree node (file "override '<arg>'", line 0). */
static int override_value(const override *o, lm_cfg_node **out) {
    char label[PATH_CAP + 16];
    snprintf(label, sizeof label, "override '%s'", o->arg);
    *out = NULL;
    if (!o->value[0]) { /* key= : an empty string, as Hydra */
        *out = lm_cfg_node_new(LM_CFG_SCALAR, NULL, "", label, 0);
        if (*out) (*out)->quoted = 1;
        return *out ? 0 : lm_err_code(LM_ENOMEM, "config: out of memory");
    }
    size_t n = strlen(o->value) + 8;
    char *doc = malloc(n);
    lm_cfg_node *t = NULL;
    if (!doc) return lm_err_code(LM_ENOMEM, "config: out of memory");
    snprintf(doc, n, "v: %s\n", o->value);
    int rc = lm_cfg_tree_parse(&t, doc, strlen(doc), label);
    free(doc);
    if (rc < 0 || t->n != 1 || strcmp(t->kids[0]->key, "v")) {
        lm_cfg_node_free(t);
        return lm_err_code(LM_EINVAL, "config: override '%s': key '%s': cannot parse the value '%s' as YAML",
                           o->arg, o->key, o->value);
    }
    lm_cfg_node *v = t->kids[0];
    t->n = 0;
    lm_cfg_node_free(t);
    free(v->key);
    v->key = NULL;
    set_file_recursive(v, label, 0);
    *out = v;
    return 0;
}

int lm_cfg_override_apply(lm_cfg_node *root, const lm_cfg_override *o) {
    char parent_path[PATH_CAP];
    snprintf(parent_path, sizeof parent_path, "%s", o->key);
    char *dot = strrchr(parent_path, '.');
    char leaf[PATH_CAP];
    snprintf(leaf, sizeof leaf, "%s", dot ? dot + 1 : parent_path);
    if (dot) *dot = 0;
    else parent_path[0] = 0;
    lm_cfg_node *parent = lm_cfg_node_find(root, parent_path);
    lm_cfg_node *existing = (parent && parent->kind == LM_CFG_MAP) ? lm_cfg_node_get(parent, leaf) : NULL;
    if (parent && parent->kind == LM_CFG_SEQ) existing = lm_cfg_node_find(root, o->key);

    if (o->op == '~') {
        if (!existing)
            return lm_err_code(LM_EINVAL, "config: override '%s': no key '%s' to delete", o->arg, o->key);
        for (int i = 0; i < parent->n; i++)
            if (parent->kids[i] == existing) lm_cfg_node_remove(parent, i);
        return 0;
    }
    if (o->op == '=' && !existing && !lm_cfg_schema_find(o->key))
        return lm_err_code(LM_EINVAL, "config: override '%s': unknown key '%s' (use +%s to add a key)",
                           o->arg, o->key, o->arg);
    if (o->op == '+' && existing)
        return lm_err_code(LM_EINVAL, "config: override '%s': key '%s' already exists (use %s without '+' to set it)",
                           o->arg, o->key, o->arg + 1);
    lm_cfg_node *v = NULL;
    int rc = override_value(o, &v);
    if (rc < 0) return rc;
    if (existing) { /* replace in place, keeping the key and the position */
        lm_cfg_node tmp = *existing;
        *existing = *v;
        existing->key = tmp.key;
        tmp.key = NULL;
        *v = tmp;
        lm_cfg_node_free(v); /* the old value */
        return 0;
    }
    /* create the missing maps on the way */
    lm_cfg_node *cur = root;
    char part[PATH_CAP];
    const char *p = o->key;
    for (;;) {
        const char *d = strchr(p, '.');
        size_t n = d ? (size_t)(d - p) : strlen(p);
        memcpy(part, p, n);
        part[n] = 0;
        if (!d) break;
        lm_cfg_node *next = lm_cfg_node_get(cur, part);
        if (!next) {
            next = lm_cfg_node_new(LM_CFG_MAP, part, NULL, v->file, 0);
            if (!next || lm_cfg_node_append(cur, next) < 0) {
                lm_cfg_node_free(next);
                lm_cfg_node_free(v);
                return lm_err_code(LM_ENOMEM, "config: out of memory");
            }
        } else if (next->kind != LM_CFG_MAP) {
            lm_cfg_node_free(v);
            return lm_err_code(LM_EINVAL, "config: override '%s': key '%s': '%s' is not a mapping",
                               o->arg, o->key, part);
        }
        cur = next;
        p = d + 1;
    }
    v->key = strdup(part);
    if (!v->key || lm_cfg_node_append(cur, v) < 0) {
        lm_cfg_node_free(v);
        return lm_err_code(LM_ENOMEM, "config: out of memory");
    }
    return 0;
}
