/* config.c — composing, resolving and validating a configuration, and the typed getters.
 * Mirrors what Hydra 1.1 (hydra.main + the defaults list) and OmegaConf 2.1 (interpolation,
 * merge) do with the official configs/training tree (advimman/lama bin/train.py):
 *
 *   compose   the top-level file's `defaults:` list, each `- group: option` loading
 *             <dir>/<group>/<option>.yaml at key <group> (`# @package _group_`, Hydra 1.1's
 *             default; `_global_` and dotted packages are honoured), then the file's own
 *             keys merged last so they win (Hydra 1.1 puts an implicit `_self_` at the end;
 *             an explicit `_self_` entry is honoured). The `hydra` group configures Hydra
 *             itself (run dir, sweeps): its file must exist and parse, then it is dropped,
 *             as `--cfg job` does, and so is a top-level `hydra:` key.
 *   override  `a.b=v` (a key in the tree or the schema), `+a.b=v` (a new key), `++a.b=v`
 *             (either), `~a.b` (delete), `group=option` (swap a defaults entry) and
 *             `+group=option` (add one). Values are YAML scalars or flow collections.
 *             Overrides of `hydra.*` are accepted and ignored, like the hydra group.
 *   resolve   `${a.b}` (absolute), `${.b}` / `${..b}` (relative), `${env:NAME}`,
 *             `${env:NAME,default}` (also oc.env; the default may interpolate), `${now:fmt}`;
 *             a whole-value interpolation keeps the referenced node's type (a mapping is
 *             copied), an embedded one concatenates into a string. Environment values are
 *             read as YAML scalars (8 -> int), like OmegaConf 2.0's `env`. `\${` is literal.
 *             Other resolvers (Hydra's `${hydra:...}`) are errors.
 *   validate  every key against the schema table (config_schema.c).
 * Every error is one line "config: FILE:LINE: key 'a.b.c': what is wrong". */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "config/config.h"

struct lm_cfg {
    lm_cfg_node *root;
    char *path;
};

#define PATH_CAP 512
#define MAX_INCLUDE_DEPTH 16

/* "file:line" or "file" for nodes not from a file. */
static const char *loc(const lm_cfg_node *n, char *buf, size_t cap) {
    if (n->line > 0) snprintf(buf, cap, "%s:%d", n->file ? n->file : "?", n->line);
    else snprintf(buf, cap, "%s", n->file ? n->file : "?");
    return buf;
}

/* out = "base.key" (or "key"); a path longer than cap is cut (paths are short). */
static void join(char *out, size_t cap, const char *base, const char *key) {
    int w = base[0] ? snprintf(out, cap, "%s.%s", base, key) : snprintf(out, cap, "%s", key);
    if (w < 0) out[0] = 0;
}

static void set_file_recursive(lm_cfg_node *n, const char *file, int line) {
    free(n->file);
    n->file = strdup(file);
    n->line = line;
    for (int i = 0; i < n->n; i++) set_file_recursive(n->kids[i], file, line);
}

/* ---- composition ------------------------------------------------------------------------ */

typedef struct {
    char *group;  /* "data" */
    char *option; /* "abl-02-thin-bb" */
    char *arg;    /* the command-line argument, for messages */
    int add;      /* '+group=option': append when the defaults list lacks the group */
    int used;
} group_choice;

typedef struct {
    const char *dir; /* search path: directory of the top-level config */
    group_choice *choices;
    int n_choices;
} compose_ctx;

static int read_text(const char *path, char **out, size_t *len) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return LM_EIO;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : LM_ENOMEM;
    while (rc == 0) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (ferror(f)) rc = LM_EIO;
        if (n < cap - 1) break;
        char *b = realloc(buf, cap * 2);
        if (!b) rc = LM_ENOMEM;
        else buf = b, cap *= 2;
    }
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* The package named by a `# @package X` line in the file's leading comment block, or NULL. */
static char *read_package(const char *text) {
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        if (*p != '#') break;
        p++;
        while (*p == ' ') p++;
        if (!strncmp(p, "@package", 8) && (p[8] == ' ' || p[8] == '\t')) {
            p += 8;
            while (*p == ' ' || *p == '\t') p++;
            size_t n = strcspn(p, " \t\r\n");
            return strndup(p, n);
        }
        p += strcspn(p, "\n");
    }
    return NULL;
}

static int compose_file(compose_ctx *cx, const char *file, const char *group, int depth,
                        const lm_cfg_node *from, lm_cfg_node **out);

/* Wraps a group file's content at its package: "_group_" -> group path, "_global_" -> root,
 * "a.b" -> that path. */
static int place_package(lm_cfg_node *content, const char *package, const char *group,
                         const char *file, lm_cfg_node **out) {
    char pkg[PATH_CAP];
    if (!package || !strcmp(package, "_group_")) {
        snprintf(pkg, sizeof pkg, "%s", group);
        for (char *q = pkg; *q; q++)
            if (*q == '/') *q = '.';
    } else if (!strcmp(package, "_global_")) {
        pkg[0] = 0;
    } else if (!strncmp(package, "_group_.", 8)) {
        snprintf(pkg, sizeof pkg, "%s.%s", group, package + 8);
    } else {
        snprintf(pkg, sizeof pkg, "%s", package);
    }
    lm_cfg_node *cur = content;
    /* build from the innermost key outwards */
    while (pkg[0]) {
        char *dot = strrchr(pkg, '.');
        const char *key = dot ? dot + 1 : pkg;
        lm_cfg_node *wrap = lm_cfg_node_new(LM_CFG_MAP, NULL, NULL, file, 1);
        if (!wrap) {
            lm_cfg_node_free(cur);
            return lm_err_code(LM_ENOMEM, "config: out of memory");
        }
        free(cur->key);
        cur->key = strdup(key);
        lm_cfg_node_append(wrap, cur);
        cur = wrap;
        if (dot) *dot = 0;
        else pkg[0] = 0;
    }
    *out = cur;
    return 0;
}

/* Loads <dir>/<group>/<option>.yaml (or <dir>/<option>.yaml with no group) for the defaults
 * entry `entry` of `file`, composed and placed at its package. */
static int load_default(compose_ctx *cx, const char *file, const lm_cfg_node *entry,
                        const char *group, const char *option, const char *chosen_by, int depth,
                        lm_cfg_node **out) {
    char path[PATH_CAP * 2], where[PATH_CAP];
    *out = NULL;
    if (group) snprintf(path, sizeof path, "%s/%s/%s.yaml", cx->dir, group, option);
    else snprintf(path, sizeof path, "%s/%s.yaml", cx->dir, option);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        return lm_err_code(LM_EINVAL, "config: %s: key 'defaults.%s': missing include '%s' (%s)%s%s%s",
                           loc(entry, where, sizeof where), group ? group : option, path,
                           stat(path, &st) != 0 ? strerror(errno) : "not a regular file",
                           chosen_by ? ", chosen by override '" : "", chosen_by ? chosen_by : "",
                           chosen_by ? "'" : "");
    }
    (void)file;
    return compose_file(cx, path, group, depth + 1, entry, out);
}

/* Processes one file: its defaults list (recursively) and its own keys. group is NULL for the
 * top-level file. from: the defaults entry that included it (for messages), or NULL. */
static int compose_file(compose_ctx *cx, const char *file, const char *group, int depth,
                        const lm_cfg_node *from, lm_cfg_node **out) {
    char where[PATH_CAP];
    char *text = NULL, *package = NULL;
    size_t len = 0;
    lm_cfg_node *self = NULL, *result = NULL, *defaults = NULL;
    int rc = 0, self_done = 0;
    *out = NULL;
    if (depth > MAX_INCLUDE_DEPTH)
        return lm_err_code(LM_EINVAL, "config: %s: defaults nested deeper than %d (an include cycle?)",
                           loc(from, where, sizeof where), MAX_INCLUDE_DEPTH);
    rc = read_text(file, &text, &len);
    if (rc < 0) {
        rc = lm_err_code(rc, "config: %s: cannot read: %s", file, rc == LM_ENOMEM ? "out of memory" : strerror(errno));
        goto cleanup;
    }
    if ((rc = lm_cfg_tree_parse(&self, text, len, file)) < 0) goto cleanup;
    package = read_package(text);
    if (!(result = lm_cfg_node_new(LM_CFG_MAP, NULL, NULL, file, 1))) {
        rc = lm_err_code(LM_ENOMEM, "config: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < self->n; i++) {
        if (strcmp(self->kids[i]->key, "defaults")) continue;
        defaults = self->kids[i];
        memmove(self->kids + i, self->kids + i + 1, (size_t)(self->n - i - 1) * sizeof *self->kids);
        self->n--;
        break;
    }
    if (defaults && defaults->kind != LM_CFG_SEQ &&
        !(defaults->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(defaults) == LM_CFG_NULL)) {
        rc = lm_err_code(LM_EINVAL, "config: %s: key 'defaults': expected a list of `- group: option` entries",
                         loc(defaults, where, sizeof where));
        goto cleanup;
    }
    for (int i = 0; defaults && i < defaults->n; i++) {
        const lm_cfg_node *e = defaults->kids[i];
        const char *grp = NULL, *opt = NULL, *chosen_by = NULL;
        lm_cfg_node *sub = NULL;
        if (e->kind == LM_CFG_SCALAR && !strcmp(e->text, "_self_")) {
            lm_cfg_node_merge(result, self);
            self = NULL;
            self_done = 1;
            continue;
        }
        if (e->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(e) == LM_CFG_STR) {
            opt = e->text; /* a plain config in the same directory, merged at the root */
        } else if (e->kind == LM_CFG_MAP && e->n == 1 && e->kids[0]->kind == LM_CFG_SCALAR) {
            grp = e->kids[0]->key;
            if (!strncmp(grp, "override ", 9)) grp += 9;
            if (lm_cfg_scalar_type(e->kids[0]) == LM_CFG_NULL) continue; /* `- group: null` */
            opt = e->kids[0]->text;
            e = e->kids[0];
        } else {
            rc = lm_err_code(LM_EINVAL, "config: %s: key 'defaults.%d': expected `- group: option` or a config name",
                             loc(e, where, sizeof where), i);
            goto cleanup;
        }
        if (grp && !from) /* command-line group choices apply to the top-level list */
            for (int c = 0; c < cx->n_choices; c++)
                if (!strcmp(cx->choices[c].group, grp)) {
                    opt = cx->choices[c].option;
                    chosen_by = cx->choices[c].arg;
                    cx->choices[c].used = 1;
                }
        if ((rc = load_default(cx, file, e, grp, opt, chosen_by, depth, &sub)) < 0) goto cleanup;
        if (grp && !strcmp(grp, "hydra")) {
            lm_cfg_node_free(sub); /* Hydra's own settings: not part of the job config */
            continue;
        }
        lm_cfg_node_merge(result, sub);
    }
    if (!from) /* `+group=option` for a group the list lacks */
        for (int c = 0; c < cx->n_choices; c++) {
            group_choice *gc = &cx->choices[c];
            if (gc->used) continue;
            if (!gc->add) {
                rc = lm_err_code(LM_EINVAL, "config: override '%s': key '%s': the defaults list of %s has no "
                                 "group '%s' (use +%s to add it)", gc->arg, gc->group, file, gc->group, gc->arg);
                goto cleanup;
            }
            char label[PATH_CAP];
            snprintf(label, sizeof label, "override '%s'", gc->arg);
            lm_cfg_node *sub = NULL, *e = lm_cfg_node_new(LM_CFG_SCALAR, gc->group, gc->option, label, 0);
            if (!e) {
                rc = lm_err_code(LM_ENOMEM, "config: out of memory");
                goto cleanup;
            }
            rc = load_default(cx, file, e, gc->group, gc->option, NULL, depth, &sub);
            lm_cfg_node_free(e);
            if (rc < 0) goto cleanup;
            gc->used = 1;
            lm_cfg_node_merge(result, sub);
        }
    if (!self_done) {
        lm_cfg_node_merge(result, self);
        self = NULL;
    }
    if (group) {
        rc = place_package(result, package, group, file, &result);
        if (rc < 0) {
            result = NULL;
            goto cleanup;
        }
    }
    *out = result;
    result = NULL;
cleanup:
    free(text);
    free(package);
    lm_cfg_node_free(self);
    lm_cfg_node_free(result);
    lm_cfg_node_free(defaults);
    return rc;
}

/* ---- overrides ------------------------------------------------------------------------- */

typedef struct {
    int op;           /* '=' set, '+' add, 'P' (++) add or set, '~' delete */
    char key[PATH_CAP];
    const char *value;
    const char *arg;
} override;

static int valid_key_path(const char *k) {
    if (!*k || *k == '.' || k[strlen(k) - 1] == '.' || strstr(k, "..")) return 0;
    for (const char *p = k; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.' || *p == '/' || *p == '@'))
            return 0;
    return 1;
}

static int parse_override(const char *arg, override *o) {
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

static int apply_override(lm_cfg_node *root, const override *o) {
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

/* ---- interpolation ----------------------------------------------------------------------- */

#define MAX_RESOLVE_DEPTH 64

typedef struct {
    lm_cfg_node *root;
    char *stack[MAX_RESOLVE_DEPTH]; /* key paths being resolved, for cycle messages */
    int depth;
} rctx;

typedef struct {
    lm_cfg_node *node; /* a whole-value key reference (borrowed), or NULL */
    char *text;        /* otherwise: the value text (owned) */
    int quoted;
} rval;

static int resolve_scalar(rctx *r, lm_cfg_node *n, const char *path);
static int resolve_tree(rctx *r, lm_cfg_node *n, const char *path);
static int eval_string(rctx *r, const lm_cfg_node *at, const char *path, const char *s, rval *out);

/* Index of the "}" closing the "${" at s (s points at '$'), or -1. */
static long match_brace(const char *s) {
    int level = 0;
    for (long i = 0; s[i]; i++) {
        if (s[i] == '$' && s[i + 1] == '{') {
            level++;
            i++;
        } else if (s[i] == '}') {
            if (--level == 0) return i;
        }
    }
    return -1;
}

static int cycle_error(rctx *r, const lm_cfg_node *n, const char *path) {
    char where[PATH_CAP], chain[PATH_CAP * 2] = "";
    size_t len = 0;
    int start = 0;
    for (int i = 0; i < r->depth; i++)
        if (!strcmp(r->stack[i], path)) {
            start = i;
            break;
        }
    for (int i = start; i < r->depth; i++) {
        int w = snprintf(chain + len, sizeof chain - len, "%s -> ", r->stack[i]);
        if (w < 0 || (size_t)w >= sizeof chain - len) break;
        len += (size_t)w;
    }
    snprintf(chain + len, sizeof chain - len, "%s", path);
    return lm_err_code(LM_EINVAL, "config: %s: key '%s': interpolation cycle %s", loc(n, where, sizeof where),
                       path, chain);
}

/* Finds the node at an absolute path, resolving interpolated nodes on the way (an
 * intermediate `${...}` may stand for a mapping) and the node itself. */
static int lookup(rctx *r, const lm_cfg_node *at, const char *at_path, const char *path,
                  const char *expr, lm_cfg_node **out) {
    char where[PATH_CAP], sofar[PATH_CAP] = "", part[PATH_CAP];
    lm_cfg_node *cur = r->root;
    const char *p = path;
    while (*p) {
        const char *d = strchr(p, '.');
        size_t n = d ? (size_t)(d - p) : strlen(p);
        if (n == 0 || n >= sizeof part) break;
        memcpy(part, p, n);
        part[n] = 0;
        char next[PATH_CAP];
        join(next, sizeof next, sofar, part);
        snprintf(sofar, sizeof sofar, "%s", next);
        lm_cfg_node *k = NULL;
        if (cur->kind == LM_CFG_MAP) {
            k = lm_cfg_node_get(cur, part);
        } else if (cur->kind == LM_CFG_SEQ) {
            char *end;
            long i = strtol(part, &end, 10);
            if (!*end && i >= 0 && i < cur->n) k = cur->kids[i];
        }
        if (!k) {
            return lm_err_code(LM_EINVAL, "config: %s: key '%s': cannot resolve '${%s}': no key '%s'",
                               loc(at, where, sizeof where), at_path, expr, sofar);
        }
        if (k->kind == LM_CFG_SCALAR) {
            int rc = resolve_scalar(r, k, sofar);
            if (rc < 0) return rc;
        }
        cur = k;
        p = d ? d + 1 : p + n;
    }
    if (cur == r->root)
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': cannot resolve '${%s}': empty key path",
                           loc(at, where, sizeof where), at_path, expr);
    if (cur->kind != LM_CFG_SCALAR) {
        int rc = resolve_tree(r, cur, path);
        if (rc < 0) return rc;
    }
    *out = cur;
    return 0;
}

/* Evaluates the inside of one ${...}. */
static int eval_expr(rctx *r, const lm_cfg_node *at, const char *path, const char *expr, rval *out) {
    char where[PATH_CAP];
    memset(out, 0, sizeof *out);
    size_t nlen = 0;
    while (isalnum((unsigned char)expr[nlen]) || expr[nlen] == '_' || expr[nlen] == '.') nlen++;
    if (expr[nlen] == ':' && nlen > 0) { /* a resolver */
        const char *args = expr + nlen + 1;
        if ((nlen == 3 && !strncmp(expr, "env", 3)) || (nlen == 6 && !strncmp(expr, "oc.env", 6))) {
            /* NAME[,default]: the default may itself contain ${...} */
            const char *comma = NULL;
            int level = 0;
            for (const char *q = args; *q; q++) {
                if (q[0] == '$' && q[1] == '{') level++;
                else if (*q == '}') level--;
                else if (*q == ',' && level == 0) {
                    comma = q;
                    break;
                }
            }
            char name[PATH_CAP];
            size_t len = comma ? (size_t)(comma - args) : strlen(args);
            while (len && isspace((unsigned char)args[len - 1])) len--;
            while (len && isspace((unsigned char)*args)) args++, len--;
            if (len == 0 || len >= sizeof name)
                return lm_err_code(LM_EINVAL, "config: %s: key '%s': '${%s}': missing variable name",
                                   loc(at, where, sizeof where), path, expr);
            memcpy(name, args, len);
            name[len] = 0;
            const char *v = getenv(name);
            if (v) {
                out->text = strdup(v);
                out->quoted = !*v;
                return out->text ? 0 : lm_err_code(LM_ENOMEM, "config: out of memory");
            }
            if (!comma)
                return lm_err_code(LM_EINVAL, "config: %s: key '%s': environment variable '%s' is not set "
                                   "(set it, or give a default: ${env:%s,value})",
                                   loc(at, where, sizeof where), path, name, name);
            const char *def = comma + 1;
            while (isspace((unsigned char)*def)) def++;
            char *d = strdup(def);
            if (!d) return lm_err_code(LM_ENOMEM, "config: out of memory");
            size_t dl = strlen(d);
            while (dl && isspace((unsigned char)d[dl - 1])) d[--dl] = 0;
            int quoted = 0;
            if (dl >= 2 && (d[0] == '\'' || d[0] == '"') && d[dl - 1] == d[0]) {
                memmove(d, d + 1, dl - 2);
                d[dl - 2] = 0;
                quoted = 1;
            }
            int rc = eval_string(r, at, path, d, out);
            if (rc == 0 && !d[0]) out->quoted = 1; /* ${env:X,} : the empty string */
            free(d);
            if (rc == 0 && quoted && !out->node) out->quoted = 1;
            return rc;
        }
        if (nlen == 3 && !strncmp(expr, "now", 3)) {
            char buf[256];
            time_t t = time(NULL);
            struct tm tm;
            localtime_r(&t, &tm);
            if (!strftime(buf, sizeof buf, args, &tm)) buf[0] = 0;
            out->text = strdup(buf);
            out->quoted = 1;
            return out->text ? 0 : lm_err_code(LM_ENOMEM, "config: out of memory");
        }
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': '${%s}': unsupported resolver '%.*s' "
                           "(lamac knows env, oc.env and now)", loc(at, where, sizeof where), path, expr,
                           (int)nlen, expr);
    }
    /* a key path: absolute, or relative with leading dots (. = this node's parent) */
    char abs[PATH_CAP];
    const char *e = expr;
    if (*e == '.') {
        snprintf(abs, sizeof abs, "%s", path);
        while (*e == '.') {
            char *dot = strrchr(abs, '.');
            if (dot) *dot = 0;
            else if (abs[0]) abs[0] = 0;
            else
                return lm_err_code(LM_EINVAL, "config: %s: key '%s': cannot resolve '${%s}': above the root",
                                   loc(at, where, sizeof where), path, expr);
            e++;
        }
        char tmp[PATH_CAP];
        join(tmp, sizeof tmp, abs, e);
        snprintf(abs, sizeof abs, "%s", tmp);
    } else {
        snprintf(abs, sizeof abs, "%s", e);
    }
    for (const char *q = abs; *q; q++)
        if (isspace((unsigned char)*q) || *q == '$' || *q == '{' || *q == ',')
            return lm_err_code(LM_EINVAL, "config: %s: key '%s': cannot resolve '${%s}': not a key path",
                               loc(at, where, sizeof where), path, expr);
    return lookup(r, at, path, abs, expr, &out->node);
}

/* Evaluates a string with interpolations. A string that is exactly one ${...} yields the
 * expression's own value (node or typed text); otherwise the pieces are concatenated into
 * a string. A string without interpolations yields itself, unquoted (type inferred). */
static int eval_string(rctx *r, const lm_cfg_node *at, const char *path, const char *s, rval *out) {
    char where[PATH_CAP];
    memset(out, 0, sizeof *out);
    if (s[0] == '$' && s[1] == '{') {
        long end = match_brace(s);
        if (end > 0 && s[end + 1] == 0) {
            char *expr = strndup(s + 2, (size_t)end - 2);
            if (!expr) return lm_err_code(LM_ENOMEM, "config: out of memory");
            int rc = eval_expr(r, at, path, expr, out);
            free(expr);
            return rc;
        }
    }
    size_t cap = strlen(s) + 64, len = 0;
    char *buf = malloc(cap);
    int any = 0;
    if (!buf) return lm_err_code(LM_ENOMEM, "config: out of memory");
    for (const char *p = s; *p;) {
        const char *piece = NULL;
        char *owned = NULL;
        size_t plen = 0;
        if (p[0] == '\\' && p[1] == '$' && p[2] == '{') { /* escaped: a literal ${ */
            piece = "${";
            plen = 2;
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            long end = match_brace(p);
            if (end < 0) {
                free(buf);
                return lm_err_code(LM_EINVAL, "config: %s: key '%s': unterminated interpolation in '%s'",
                                   loc(at, where, sizeof where), path, s);
            }
            char *expr = strndup(p + 2, (size_t)end - 2);
            rval v;
            int rc = expr ? eval_expr(r, at, path, expr, &v) : lm_err_code(LM_ENOMEM, "config: out of memory");
            if (rc == 0 && v.node && v.node->kind != LM_CFG_SCALAR)
                rc = lm_err_code(LM_EINVAL, "config: %s: key '%s': '${%s}' is a %s and cannot be part of a string",
                                 loc(at, where, sizeof where), path, expr,
                                 v.node->kind == LM_CFG_MAP ? "mapping" : "list");
            free(expr);
            if (rc < 0) {
                free(buf);
                return rc;
            }
            if (v.node) {
                piece = v.node->text;
            } else {
                owned = v.text;
                piece = owned;
            }
            plen = strlen(piece);
            p += end + 1;
            any = 1;
        } else {
            piece = p;
            plen = 1;
            p++;
        }
        if (len + plen + 1 > cap) {
            cap = 2 * (len + plen + 1);
            char *b = realloc(buf, cap);
            if (!b) {
                free(owned);
                free(buf);
                return lm_err_code(LM_ENOMEM, "config: out of memory");
            }
            buf = b;
        }
        memcpy(buf + len, piece, plen);
        len += plen;
        free(owned);
    }
    buf[len] = 0;
    out->text = buf;
    out->quoted = any;
    return 0;
}

static int resolve_scalar(rctx *r, lm_cfg_node *n, const char *path) {
    if (n->mark == 2) return 0;
    if (n->mark == 1) return cycle_error(r, n, path);
    if (!strstr(n->text, "${")) {
        n->mark = 2;
        return 0;
    }
    char where[PATH_CAP];
    if (r->depth == MAX_RESOLVE_DEPTH)
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': interpolation nested deeper than %d",
                           loc(n, where, sizeof where), path, MAX_RESOLVE_DEPTH);
    n->mark = 1;
    r->stack[r->depth] = strdup(path);
    if (!r->stack[r->depth]) return lm_err_code(LM_ENOMEM, "config: out of memory");
    r->depth++;
    char *src = strdup(n->text);
    rval v;
    int rc = src ? eval_string(r, n, path, src, &v) : lm_err_code(LM_ENOMEM, "config: out of memory");
    free(src);
    r->depth--;
    free(r->stack[r->depth]);
    if (rc < 0) {
        n->mark = 0;
        return rc;
    }
    if (v.node && v.node->kind == LM_CFG_SCALAR) {
        char *t = strdup(v.node->text);
        if (!t) return lm_err_code(LM_ENOMEM, "config: out of memory");
        free(n->text);
        n->text = t;
        n->quoted = v.node->quoted;
    } else if (v.node) { /* a mapping or list: copy it here, keeping this node's key and place */
        lm_cfg_node *c = lm_cfg_node_copy(v.node);
        if (!c) return lm_err_code(LM_ENOMEM, "config: out of memory");
        free(n->text);
        n->text = NULL;
        n->kind = c->kind;
        n->kids = c->kids;
        n->n = c->n;
        n->cap = c->cap;
        c->kids = NULL;
        c->n = c->cap = 0;
        lm_cfg_node_free(c);
    } else {
        free(n->text);
        n->text = v.text;
        n->quoted = v.quoted;
    }
    n->mark = 2;
    return 0;
}

static int resolve_tree(rctx *r, lm_cfg_node *n, const char *path) {
    for (int i = 0; i < n->n; i++) {
        lm_cfg_node *k = n->kids[i];
        char kp[PATH_CAP], idx[24];
        if (n->kind == LM_CFG_SEQ) snprintf(idx, sizeof idx, "%d", i);
        join(kp, sizeof kp, path, n->kind == LM_CFG_SEQ ? idx : k->key);
        int rc = k->kind == LM_CFG_SCALAR ? resolve_scalar(r, k, kp) : resolve_tree(r, k, kp);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- validation -------------------------------------------------------------------------- */

static const char *kind_word(const lm_cfg_node *n) {
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
                           loc(n, where, sizeof where), path, n->text, k->min, k->max);
    return lm_err_code(LM_EINVAL, "config: %s: key '%s': %s is %s the %s %g", loc(n, where, sizeof where), path,
                       n->text, lo ? "below" : "above", lo ? "minimum" : "maximum", lo ? k->min : k->max);
}

static int check_node(const lm_cfg_node *n, const char *path) {
    char where[PATH_CAP];
    const lm_cfg_key *k = lm_cfg_schema_find(path);
    if (!k) return lm_err_code(LM_EINVAL, "config: %s: unknown key '%s'", loc(n, where, sizeof where), path);
    int is_null = n->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(n) == LM_CFG_NULL;
    if (is_null) {
        if (k->flags & LM_CFG_F_NULLABLE) return 0;
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got null", loc(n, where, sizeof where),
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
            return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got %s '%s'",
                               loc(n, where, sizeof where), path, lm_cfg_type_name(k->type), kind_word(n), n->text);
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got %s", loc(n, where, sizeof where), path,
                           lm_cfg_type_name(k->type), kind_word(n));
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
    if (k->type == LM_CFG_T_STR && k->choices) {
        size_t len = strlen(n->text);
        for (const char *c = k->choices; *c;) {
            size_t cl = strcspn(c, "|");
            if (cl == len && !strncmp(c, n->text, len)) return 0;
            c += cl + (c[cl] == '|');
        }
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': '%s' is not one of %s", loc(n, where, sizeof where),
                           path, n->text, k->choices);
    }
    if (k->type == LM_CFG_T_LIST) {
        for (int i = 0; i < n->n; i++)
            if (n->kids[i]->kind != LM_CFG_SCALAR)
                return lm_err_code(LM_EINVAL, "config: %s: key '%s.%d': expected a scalar list item, got %s",
                                   loc(n->kids[i], where, sizeof where), path, i, kind_word(n->kids[i]));
        return 0;
    }
    if (k->type == LM_CFG_T_MAP) {
        for (int i = 0; i < n->n; i++) {
            char kp[PATH_CAP];
            join(kp, sizeof kp, path, n->kids[i]->key);
            int rc = check_node(n->kids[i], kp);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

static int validate(const lm_cfg_node *root) {
    for (int i = 0; i < root->n; i++) {
        int rc = check_node(root->kids[i], root->kids[i]->key);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- load ------------------------------------------------------------------------------------ */

int lm_cfg_load(lm_cfg **out, const char *path, const char *const *overrides, int n_overrides) {
    lm_cfg *c = NULL;
    override *ov = NULL;
    group_choice *gc = NULL;
    char *dir = NULL;
    int n_gc = 0, rc = 0;
    rctx r = {0};
    *out = NULL;
    lm_err_clear();
    if (n_overrides > 0) {
        ov = calloc((size_t)n_overrides, sizeof *ov);
        gc = calloc((size_t)n_overrides, sizeof *gc);
        if (!ov || !gc) {
            rc = lm_err_code(LM_ENOMEM, "config: out of memory");
            goto cleanup;
        }
    }
    dir = strdup(path);
    if (!dir) {
        rc = lm_err_code(LM_ENOMEM, "config: out of memory");
        goto cleanup;
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else strcpy(dir, ".");
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = lm_err_code(LM_EIO, "config: %s: cannot open: %s", path,
                         stat(path, &st) != 0 ? strerror(errno) : "not a regular file");
        goto cleanup;
    }
    /* group choices (`data=abl-02-thin-bb`, `+group=option`) act on the defaults list */
    for (int i = 0; i < n_overrides; i++) {
        if ((rc = parse_override(overrides[i], &ov[i])) < 0) goto cleanup;
        char gdir[PATH_CAP * 2];
        snprintf(gdir, sizeof gdir, "%s/%s", dir, ov[i].key);
        if ((ov[i].op == '=' || ov[i].op == '+') && !strchr(ov[i].key, '.') && stat(gdir, &st) == 0 &&
            S_ISDIR(st.st_mode)) {
            gc[n_gc].group = ov[i].key;
            gc[n_gc].option = (char *)ov[i].value;
            gc[n_gc].arg = (char *)ov[i].arg;
            gc[n_gc].add = ov[i].op == '+';
            n_gc++;
            ov[i].op = 0; /* consumed */
        }
    }
    if (!(c = calloc(1, sizeof *c)) || !(c->path = strdup(path))) {
        rc = lm_err_code(LM_ENOMEM, "config: out of memory");
        goto cleanup;
    }
    compose_ctx cx = {dir, gc, n_gc};
    if ((rc = compose_file(&cx, path, NULL, 0, NULL, &c->root)) < 0) goto cleanup;
    for (int i = 0; i < n_overrides; i++) {
        if (!strcmp(ov[i].key, "hydra") || !strncmp(ov[i].key, "hydra.", 6))
            continue; /* Hydra's own settings (hydra.run.dir=...): dropped with the group */
        if (ov[i].op && (rc = apply_override(c->root, &ov[i])) < 0) goto cleanup;
    }
    for (int i = 0; i < c->root->n; i++) /* Hydra's own settings are not part of the job */
        if (!strcmp(c->root->kids[i]->key, "hydra")) lm_cfg_node_remove(c->root, i--);
    r.root = c->root;
    if ((rc = resolve_tree(&r, c->root, "")) < 0) goto cleanup;
    if ((rc = validate(c->root)) < 0) goto cleanup;
    *out = c;
    c = NULL;
cleanup:
    lm_cfg_free(c);
    free(ov);
    free(gc);
    free(dir);
    return rc;
}

void lm_cfg_free(lm_cfg *c) {
    if (!c) return;
    lm_cfg_node_free(c->root);
    free(c->path);
    free(c);
}

const lm_cfg_node *lm_cfg_root(const lm_cfg *c) { return c->root; }
const char *lm_cfg_path(const lm_cfg *c) { return c->path; }

const lm_cfg_node *lm_cfg_find(const lm_cfg *c, const char *path) { return lm_cfg_node_find(c->root, path); }

int lm_cfg_has(const lm_cfg *c, const char *path) {
    const lm_cfg_node *n = lm_cfg_find(c, path);
    return n && !(n->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(n) == LM_CFG_NULL);
}

/* ---- getters -------------------------------------------------------------------------------- */

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
    const lm_cfg_node *n = lm_cfg_node_find(c->root, path);
    if (n) {
        char where[PATH_CAP];
        *node = n;
        if (n->kind != LM_CFG_SCALAR)
            return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got %s", loc(n, where, sizeof where),
                               path, lm_cfg_type_name(want), kind_word(n));
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
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got null", loc(n, where, sizeof where),
                           path, lm_cfg_type_name(want));
    return lm_err_code(LM_EINVAL, "config: key '%s': no value (null default)", path);
}

static int bad_value(const lm_cfg_node *n, const char *path, lm_cfg_type want, const char *text) {
    char where[PATH_CAP];
    if (n)
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected %s, got '%s'", loc(n, where, sizeof where),
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
    const lm_cfg_node *n = lm_cfg_node_find(c->root, path);
    if (n && n->kind != LM_CFG_SEQ) {
        if (n->kind == LM_CFG_SCALAR && lm_cfg_scalar_type(n) == LM_CFG_NULL) return 0;
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': expected a list, got %s", loc(n, where, sizeof where),
                           path, kind_word(n));
    }
    *out = n;
    return 0;
}

int lm_cfg_write_yaml(const lm_cfg *c, FILE *f) { return lm_cfg_tree_write(c->root, f); }

char *lm_cfg_to_yaml(const lm_cfg *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    int rc = lm_cfg_write_yaml(c, f);
    if (fclose(f) != 0 || rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
