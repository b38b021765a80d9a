/* interpolate.c — OmegaConf 2.1 interpolation over the composed tree (the official configs
 * use `${env:TORCH_HOME}`, `${location.*}` and `${now:...}`): `${a.b}` (absolute), `${.b}` /
 * `${..b}` (relative), `${env:NAME}`, `${env:NAME,default}` (also oc.env; the default may
 * interpolate), `${now:fmt}`. A whole-value interpolation keeps the referenced node's type
 * (a mapping is copied), an embedded one concatenates into a string. Environment values are
 * read as YAML scalars (8 -> int), like OmegaConf 2.0's `env`. `\${` is literal. Other
 * resolvers (Hydra's `${hydra:...}`) are errors; a reference cycle is an error naming the
 * chain. `${env:NAME}` without a default whose variable is unset is lazy (OmegaConf resolves on
 * access): the load goes on, the value keeps its expression text and remembers the error in
 * node->defer, and so does every value that refers to it; the getters (getters.c) report it
 * when such a key is read. Configs read as data (lm_cfg_load_data) never come here. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "config/config_internal.h"

#define MAX_RESOLVE_DEPTH 64

typedef struct {
    lm_cfg_node *root;
    char *stack[MAX_RESOLVE_DEPTH]; /* key paths being resolved, for cycle messages */
    int depth;
    int deferred; /* the error just set is a lazy one (an unset ${env:NAME}): defer, don't fail */
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
    return lm_err_code(LM_EINVAL, "config: %s: key '%s': interpolation cycle %s", lm_cfg_loc(n, where, sizeof where),
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
        lm_cfg_join(next, sizeof next, sofar, part);
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
                               lm_cfg_loc(at, where, sizeof where), at_path, expr, sofar);
        }
        if (k->kind == LM_CFG_SCALAR) {
            int rc = resolve_scalar(r, k, sofar);
            if (rc < 0) return rc;
        }
        if (k->defer) { /* refers to a lazy value: this one is lazy too, with both keys named */
            const char *m = k->defer;
            if (!strncmp(m, "config: ", 8)) m += 8;
            r->deferred = 1;
            return lm_err_code(LM_EINVAL, "config: %s: key '%s': ${%s}: %s", lm_cfg_loc(at, where, sizeof where),
                               at_path, expr, m);
        }
        cur = k;
        p = d ? d + 1 : p + n;
    }
    if (cur == r->root)
        return lm_err_code(LM_EINVAL, "config: %s: key '%s': cannot resolve '${%s}': empty key path",
                           lm_cfg_loc(at, where, sizeof where), at_path, expr);
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
                                   lm_cfg_loc(at, where, sizeof where), path, expr);
            memcpy(name, args, len);
            name[len] = 0;
            const char *v = getenv(name);
            if (v) {
                out->text = strdup(v);
                out->quoted = !*v;
                return out->text ? 0 : lm_err_code(LM_ENOMEM, "config: out of memory");
            }
            if (!comma) { /* lazy: an error only for whoever reads the key (resolve_scalar) */
                r->deferred = 1;
                return lm_err_code(LM_EINVAL, "config: %s: key '%s': ${%s}: environment variable %s is not set "
                                   "(set it, or give a default: ${env:%s,value})",
                                   lm_cfg_loc(at, where, sizeof where), path, expr, name, name);
            }
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
                           "(lamac knows env, oc.env and now)", lm_cfg_loc(at, where, sizeof where), path, expr,
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
                                   lm_cfg_loc(at, where, sizeof where), path, expr);
            e++;
        }
        char tmp[PATH_CAP];
        lm_cfg_join(tmp, sizeof tmp, abs, e);
        snprintf(abs, sizeof abs, "%s", tmp);
    } else {
        snprintf(abs, sizeof abs, "%s", e);
    }
    for (const char *q = abs; *q; q++)
        if (isspace((unsigned char)*q) || *q == '$' || *q == '{' || *q == ',')
            return lm_err_code(LM_EINVAL, "config: %s: key '%s': cannot resolve '${%s}': not a key path",
                               lm_cfg_loc(at, where, sizeof where), path, expr);
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
                                   lm_cfg_loc(at, where, sizeof where), path, s);
            }
            char *expr = strndup(p + 2, (size_t)end - 2);
            rval v;
            int rc = expr ? eval_expr(r, at, path, expr, &v) : lm_err_code(LM_ENOMEM, "config: out of memory");
            if (rc == 0 && v.node && v.node->kind != LM_CFG_SCALAR)
                rc = lm_err_code(LM_EINVAL, "config: %s: key '%s': '${%s}' is a %s and cannot be part of a string",
                                 lm_cfg_loc(at, where, sizeof where), path, expr,
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
                           lm_cfg_loc(n, where, sizeof where), path, MAX_RESOLVE_DEPTH);
    n->mark = 1;
    r->stack[r->depth] = strdup(path);
    if (!r->stack[r->depth]) return lm_err_code(LM_ENOMEM, "config: out of memory");
    r->depth++;
    char *src = strdup(n->text);
    rval v;
    r->deferred = 0;
    int rc = src ? eval_string(r, n, path, src, &v) : lm_err_code(LM_ENOMEM, "config: out of memory");
    free(src);
    r->depth--;
    free(r->stack[r->depth]);
    if (rc < 0 && r->deferred) { /* keep the expression text; a read reports the message */
        r->deferred = 0;
        if (!(n->defer = strdup(lm_err_msg()))) {
            n->mark = 0;
            return lm_err_code(LM_ENOMEM, "config: out of memory");
        }
        lm_err_clear();
        n->mark = 2;
        return 0;
    }
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
        lm_cfg_join(kp, sizeof kp, path, n->kind == LM_CFG_SEQ ? idx : k->key);
        int rc = k->kind == LM_CFG_SCALAR ? resolve_scalar(r, k, kp) : resolve_tree(r, k, kp);
        if (rc < 0) return rc;
    }
    return 0;
}

int lm_cfg_resolve(lm_cfg_node *root) {
    rctx r = {0};
    r.root = root;
    return resolve_tree(&r, root, "");
}
