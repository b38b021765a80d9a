/* tree.c — the generic YAML tree behind the config loader: libyaml events to
 * lm_cfg_node (map / sequence / scalar with file and line), deep merge, scalar type
 * inference (YAML 1.1 core, as OmegaConf's loader) and a block-YAML writer. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/err.h"
#include "core/readall.h"
#include "config/config.h"

lm_cfg_node *lm_cfg_node_new(lm_cfg_kind kind, const char *key, const char *text,
                             const char *file, int line) {
    lm_cfg_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->line = line;
    if ((key && !(n->key = strdup(key))) || (text && !(n->text = strdup(text))) ||
        (file && !(n->file = strdup(file)))) {
        lm_cfg_node_free(n);
        return NULL;
    }
    return n;
}

static void node_clear(lm_cfg_node *n) {
    for (int i = 0; i < n->n; i++) lm_cfg_node_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    free(n->defer);
    n->kids = NULL;
    n->text = NULL;
    n->defer = NULL;
    n->n = n->cap = 0;
}

void lm_cfg_node_free(lm_cfg_node *n) {
    if (!n) return;
    node_clear(n);
    free(n->key);
    free(n->file);
    free(n);
}

lm_cfg_node *lm_cfg_node_copy(const lm_cfg_node *n) {
    lm_cfg_node *c = lm_cfg_node_new(n->kind, n->key, n->text, n->file, n->line);
    if (!c) return NULL;
    c->quoted = n->quoted;
    c->mark = n->mark;
    if (n->defer && !(c->defer = strdup(n->defer))) {
        lm_cfg_node_free(c);
        return NULL;
    }
    for (int i = 0; i < n->n; i++) {
        lm_cfg_node *k = lm_cfg_node_copy(n->kids[i]);
        if (!k || lm_cfg_node_append(c, k) < 0) {
            lm_cfg_node_free(k);
            lm_cfg_node_free(c);
            return NULL;
        }
    }
    return c;
}

int lm_cfg_node_append(lm_cfg_node *parent, lm_cfg_node *kid) {
    if (parent->n == parent->cap) {
        int cap = parent->cap ? 2 * parent->cap : 8;
        lm_cfg_node **k = realloc(parent->kids, (size_t)cap * sizeof *k);
        if (!k) return lm_err_code(LM_ENOMEM, "config: out of memory");
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

void lm_cfg_node_remove(lm_cfg_node *parent, int i) {
    lm_cfg_node_free(parent->kids[i]);
    memmove(parent->kids + i, parent->kids + i + 1, (size_t)(parent->n - i - 1) * sizeof *parent->kids);
    parent->n--;
}

lm_cfg_node *lm_cfg_node_get(const lm_cfg_node *map, const char *key) {
    if (!map || map->kind != LM_CFG_MAP) return NULL;
    for (int i = 0; i < map->n; i++)
        if (!strcmp(map->kids[i]->key, key)) return map->kids[i];
    return NULL;
}

lm_cfg_node *lm_cfg_node_find(const lm_cfg_node *root, const char *path) {
    const lm_cfg_node *cur = root;
    char comp[256];
    const char *p = path;
    if (!*p) return (lm_cfg_node *)root;
    while (cur) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len >= sizeof comp) return NULL;
        memcpy(comp, p, len);
        comp[len] = 0;
        if (cur->kind == LM_CFG_MAP) {
            cur = lm_cfg_node_get(cur, comp);
        } else if (cur->kind == LM_CFG_SEQ) {
            char *end;
            long i = strtol(comp, &end, 10);
            cur = (*end || i < 0 || i >= cur->n) ? NULL : cur->kids[i];
        } else {
            return NULL;
        }
        if (!dot) return (lm_cfg_node *)cur;
        p = dot + 1;
    }
    return NULL;
}

/* Replaces dst's value by src's (src consumed), keeping dst's key. */
static void node_take(lm_cfg_node *dst, lm_cfg_node *src) {
    node_clear(dst);
    free(dst->file);
    dst->kind = src->kind;
    dst->text = src->text;
    dst->quoted = src->quoted;
    dst->file = src->file;
    dst->line = src->line;
    dst->kids = src->kids;
    dst->n = src->n;
    dst->cap = src->cap;
    dst->mark = src->mark;
    dst->defer = src->defer;
    free(src->key);
    free(src);
}

void lm_cfg_node_merge(lm_cfg_node *dst, lm_cfg_node *src) {
    for (int i = 0; i < src->n; i++) {
        lm_cfg_node *s = src->kids[i];
        lm_cfg_node *d = lm_cfg_node_get(dst, s->key);
        src->kids[i] = NULL;
        if (!d) {
            if (lm_cfg_node_append(dst, s) < 0) lm_cfg_node_free(s);
        } else if (d->kind == LM_CFG_MAP && s->kind == LM_CFG_MAP) {
            lm_cfg_node_merge(d, s);
        } else {
            node_take(d, s);
        }
    }
    src->n = 0;
    lm_cfg_node_free(src);
}

/* ---- scalars ---------------------------------------------------------------------------- */

static int one_of(const char *t, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(t, *list)) return 1;
    return 0;
}

static const char *const k_true[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
static const char *const k_false[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
static const char *const k_null[] = {"", "~", "null", "Null", "NULL", NULL};

int lm_cfg_scalar_bool(const char *t, int *out) {
    if (one_of(t, k_true)) *out = 1;
    else if (one_of(t, k_false)) *out = 0;
    else return LM_EINVAL;
    return 0;
}

int lm_cfg_scalar_int(const char *t, int64_t *out) {
    const char *p = t;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return LM_EINVAL;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return LM_EINVAL;
    errno = 0;
    long long v = strtoll(t, NULL, 10);
    if (errno) return LM_EINVAL;
    *out = v;
    return 0;
}

int lm_cfg_scalar_float(const char *t, double *out) {
    const char *p = t;
    int sign = 1;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        *out = sign * INFINITY;
        return 0;
    }
    if (p == t && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
        *out = NAN;
        return 0;
    }
    /* digits [. digits] [e[+-]digits], at least one digit in the mantissa */
    int digits = 0;
    const char *q = p;
    while (*q >= '0' && *q <= '9') q++, digits++;
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9') q++, digits++;
    }
    if (!digits) return LM_EINVAL;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!(*q >= '0' && *q <= '9')) return LM_EINVAL;
        while (*q >= '0' && *q <= '9') q++;
    }
    if (*q) return LM_EINVAL;
    *out = strtod(t, NULL);
    return 0;
}

lm_cfg_stype lm_cfg_scalar_type(const lm_cfg_node *n) {
    if (n->kind != LM_CFG_SCALAR) return LM_CFG_STR;
    if (n->quoted) return LM_CFG_STR;
    const char *t = n->text;
    int b;
    int64_t i;
    double f;
    if (one_of(t, k_null)) return LM_CFG_NULL;
    if (!lm_cfg_scalar_bool(t, &b)) return LM_CFG_BOOL;
    if (!lm_cfg_scalar_int(t, &i)) return LM_CFG_INT;
    if (!lm_cfg_scalar_float(t, &f)) return LM_CFG_FLOAT;
    return LM_CFG_STR;
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct {
    lm_cfg_node *node;
    char *key; /* pending key of a map, or NULL */
    int key_line;
} frame;

/* "a.b.c" of the keys currently open (for messages). */
static void stack_path(const frame *st, int depth, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < depth; i++) {
        const char *k = st[i].key;
        char idx[24];
        if (st[i].node->kind == LM_CFG_SEQ) {
            snprintf(idx, sizeof idx, "%d", st[i].node->n);
            k = idx;
        }
        if (!k) break;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? "." : "", k);
        if (w < 0 || (size_t)w >= cap - len) break;
        len += (size_t)w;
    }
}

#define MAX_DEPTH 64

int lm_cfg_tree_parse(lm_cfg_node **out, const char *text, size_t len, const char *file) {
    yaml_parser_t p;
    yaml_event_t ev;
    frame st[MAX_DEPTH];
    int depth = 0, rc = 0, docs = 0, done = 0;
    lm_cfg_node *root = NULL;
    char path[512];
    *out = NULL;
    memset(st, 0, sizeof st);
    if (!yaml_parser_initialize(&p)) return lm_err_code(LM_ENOMEM, "config: %s: out of memory", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            stack_path(st, depth, path, sizeof path);
            char started[48] = "";
            if (p.context && p.context_mark.line != p.problem_mark.line)
                snprintf(started, sizeof started, " started at line %zu", p.context_mark.line + 1);
            rc = lm_err_code(LM_EINVAL, "config: %s:%zu: YAML syntax error: %s%s%s%s%s%s%s", file,
                             p.problem_mark.line + 1, p.problem ? p.problem : "malformed",
                             p.context ? " " : "", p.context ? p.context : "", started,
                             path[0] ? " (in key '" : "", path, path[0] ? "')" : "");
            goto cleanup;
        }
        int line = (int)ev.start_mark.line + 1;
        lm_cfg_node *made = NULL; /* a finished value node to attach */
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                rc = lm_err_code(LM_EINVAL, "config: %s:%d: more than one YAML document", file, line);
                yaml_event_delete(&ev);
                goto cleanup;
            }
            break;
        case YAML_ALIAS_EVENT:
            stack_path(st, depth, path, sizeof path);
            rc = lm_err_code(LM_EINVAL, "config: %s:%d: key '%s': YAML aliases (*%s) are not supported",
                             file, line, path, (const char *)ev.data.alias.anchor);
            yaml_event_delete(&ev);
            goto cleanup;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth > 0 && st[depth - 1].node->kind == LM_CFG_MAP && !st[depth - 1].key) {
                /* a key */
                if (lm_cfg_node_get(st[depth - 1].node, v)) {
                    stack_path(st, depth, path, sizeof path);
                    rc = lm_err_code(LM_EINVAL, "config: %s:%d: duplicate key '%s%s%s'", file, line,
                                     path, path[0] ? "." : "", v);
                    yaml_event_delete(&ev);
                    goto cleanup;
                }
                if (!(st[depth - 1].key = strdup(v))) {
                    rc = lm_err_code(LM_ENOMEM, "config: out of memory");
                    yaml_event_delete(&ev);
                    goto cleanup;
                }
                st[depth - 1].key_line = line;
                break;
            }
            made = lm_cfg_node_new(LM_CFG_SCALAR, NULL, v, file, line);
            if (!made) {
                rc = lm_err_code(LM_ENOMEM, "config: out of memory");
                yaml_event_delete(&ev);
                goto cleanup;
            }
            const char *tag = (const char *)ev.data.scalar.tag;
            made->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                           (tag && !strcmp(tag, "tag:yaml.org,2002:str"));
            break;
        }
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT: {
            if (depth > 0 && st[depth - 1].node->kind == LM_CFG_MAP && !st[depth - 1].key) {
                stack_path(st, depth, path, sizeof path);
                rc = lm_err_code(LM_EINVAL, "config: %s:%d: key '%s': complex (non-scalar) keys are not supported",
                                 file, line, path);
                yaml_event_delete(&ev);
                goto cleanup;
            }
            if (depth == MAX_DEPTH) {
                rc = lm_err_code(LM_EINVAL, "config: %s:%d: nesting deeper than %d", file, line, MAX_DEPTH);
                yaml_event_delete(&ev);
                goto cleanup;
            }
            lm_cfg_node *n = lm_cfg_node_new(ev.type == YAML_MAPPING_START_EVENT ? LM_CFG_MAP : LM_CFG_SEQ,
                                             NULL, NULL, file, line);
            if (!n) {
                rc = lm_err_code(LM_ENOMEM, "config: out of memory");
                yaml_event_delete(&ev);
                goto cleanup;
            }
            st[depth].node = n;
            st[depth].key = NULL;
            depth++;
            break;
        }
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            made = st[--depth].node;
            st[depth].node = NULL;
            break;
        default: break;
        }
        yaml_event_delete(&ev);
        if (!made) continue;
        if (depth == 0) {
            if (made->kind != LM_CFG_MAP) {
                rc = lm_err_code(LM_EINVAL, "config: %s:%d: the top level must be a mapping of keys",
                                 file, made->line);
                lm_cfg_node_free(made);
                goto cleanup;
            }
            root = made;
            continue;
        }
        frame *f = &st[depth - 1];
        if (f->node->kind == LM_CFG_MAP) {
            made->key = f->key;
            made->line = f->key_line; /* an entry is where its key is */
            f->key = NULL;
        }
        if (lm_cfg_node_append(f->node, made) < 0) {
            lm_cfg_node_free(made);
            rc = LM_ENOMEM;
            goto cleanup;
        }
    }
    if (!root) root = lm_cfg_node_new(LM_CFG_MAP, NULL, NULL, file, 1);
    if (!root) rc = lm_err_code(LM_ENOMEM, "config: out of memory");
cleanup:
    for (int i = 0; i < depth; i++) {
        free(st[i].key);
        lm_cfg_node_free(st[i].node);
    }
    yaml_parser_delete(&p);
    if (rc < 0) {
        lm_cfg_node_free(root);
        return rc;
    }
    *out = root;
    return 0;
}

int lm_cfg_tree_load(lm_cfg_node **out, const char *path) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return lm_err_code(LM_EIO, "config: %s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0;
    int rc = lm_read_all(f, &buf, &len);
    fclose(f);
    if (rc == LM_ENOMEM) return lm_err_code(LM_ENOMEM, "config: out of memory");
    if (rc < 0) return lm_err_code(LM_EIO, "config: %s: read error", path);
    rc = lm_cfg_tree_parse(out, buf, len, path);
    free(buf);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

static void write_float(FILE *f, double v) {
    if (isnan(v)) {
        fputs(".nan", f);
        return;
    }
    if (isinf(v)) {
        fputs(v < 0 ? "-.inf" : ".inf", f);
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    /* keep it a float when read back: 1 -> 1.0, 1e+20 stays (an exponent is a float) */
    if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
    fputs(buf, f);
}

/* Whether a string can be written plain and read back as the same string. */
static int plain_ok(const char *s) {
    lm_cfg_node probe = {.kind = LM_CFG_SCALAR, .text = (char *)s};
    if (!*s || lm_cfg_scalar_type(&probe) != LM_CFG_STR) return 0;
    if (strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) && !(s[0] == '-' && s[1] && s[1] != ' ')) return 0;
    size_t n = strlen(s);
    if (s[n - 1] == ' ' || s[n - 1] == ':') return 0;
    if (strstr(s, ": ") || strstr(s, " #") || strstr(s, "\t")) return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20) return 0;
    return 1;
}

static void write_scalar(FILE *f, const lm_cfg_node *n) {
    int64_t i;
    double d;
    int b;
    switch (lm_cfg_scalar_type(n)) {
    case LM_CFG_NULL: fputs("null", f); return;
    case LM_CFG_BOOL: lm_cfg_scalar_bool(n->text, &b); fputs(b ? "true" : "false", f); return;
    case LM_CFG_INT: lm_cfg_scalar_int(n->text, &i); fprintf(f, "%lld", (long long)i); return;
    case LM_CFG_FLOAT: lm_cfg_scalar_float(n->text, &d); write_float(f, d); return;
    case LM_CFG_STR: break;
    }
    if (plain_ok(n->text)) {
        fputs(n->text, f);
        return;
    }
    int control = 0;
    for (const char *p = n->text; *p; p++)
        if ((unsigned char)*p < 0x20) control = 1;
    if (!control) {
        fputc('\'', f);
        for (const char *p = n->text; *p; p++) {
            if (*p == '\'') fputc('\'', f);
            fputc(*p, f);
        }
        fputc('\'', f);
        return;
    }
    fputc('"', f);
    for (const char *p = n->text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void write_node(FILE *f, const lm_cfg_node *n, int indent);

/* Writes the value part after "key:" or "- " (first_inline: the caller already wrote a
 * prefix on the current line, so a map may start right there for sequence items). */
static void write_value(FILE *f, const lm_cfg_node *n, int indent, int seq_item) {
    if (n->kind == LM_CFG_SCALAR) {
        fputc(' ', f);
        write_scalar(f, n);
        fputc('\n', f);
    } else if (n->n == 0) {
        fputs(n->kind == LM_CFG_MAP ? " {}\n" : " []\n", f);
    } else if (seq_item && n->kind == LM_CFG_MAP) {
        fputc(' ', f);
        write_node(f, n, -(indent + 2)); /* negative: first line already indented */
    } else {
        fputc('\n', f);
        write_node(f, n, n->kind == LM_CFG_SEQ ? indent : indent + 2);
    }
}

static void write_node(FILE *f, const lm_cfg_node *n, int indent) {
    int first_inline = indent < 0;
    if (indent < 0) indent = -indent;
    for (int i = 0; i < n->n; i++) {
        const lm_cfg_node *k = n->kids[i];
        if (!(first_inline && i == 0)) fprintf(f, "%*s", indent, "");
        if (n->kind == LM_CFG_MAP) {
            fprintf(f, "%s:", k->key);
            write_value(f, k, indent, 0);
        } else {
            fputc('-', f);
            write_value(f, k, indent, 1);
        }
    }
}

int lm_cfg_tree_write(const lm_cfg_node *root, FILE *f) {
    if (root->kind == LM_CFG_MAP && root->n == 0) fputs("{}\n", f);
    else write_node(f, root, 0);
    if (ferror(f)) return lm_err_code(LM_EIO, "config: write error");
    return 0;
}
