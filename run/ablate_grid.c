/* ablate_grid.c — the grid file of `lamac ablate` (run/ablate.h, docs/ablate.md): parsed with
 * config/'s YAML tree (no composition: a grid is data about experiments, each experiment a
 * composed configs/training file), and resolved: every variant composed with its overrides
 * and validated by the schema, duplicates refused, generator parameters counted against the
 * paper's, init_from loaded into the variant's networks. */
#define _GNU_SOURCE
#include "run/ablate.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/err.h"
#include "core/path.h"
#include "data/valset.h"
#include "eval/sweep.h"
#include "model/param.h"
#include "run/step_setup.h"

#define GERR(g, ...) lm_err_code(LM_EINVAL, __VA_ARGS__)

/* ${env:NAME} and ${env:NAME,default} in a path string (the default taken literally). */
static int expand_env(char *dst, size_t cap, const char *src, const char *file, const char *key) {
    size_t n = 0;
    for (const char *s = src; *s;) {
        if (!strncmp(s, "${env:", 6)) {
            const char *e = strchr(s, '}');
            if (!e) return lm_err_code(LM_EINVAL, "%s: key '%s': unterminated ${env:...} in '%s'", file, key, src);
            char name[256], def[4096];
            const char *comma = memchr(s + 6, ',', (size_t)(e - s - 6));
            size_t nl = (size_t)((comma ? comma : e) - (s + 6));
            if (nl >= sizeof name) return lm_err_code(LM_EINVAL, "%s: key '%s': variable name too long", file, key);
            memcpy(name, s + 6, nl);
            name[nl] = 0;
            const char *val = getenv(name);
            if (!val || !*val) {
                if (!comma) return lm_err_code(LM_EINVAL, "%s: key '%s': environment variable %s is not set", file, key, name);
                size_t dl = (size_t)(e - comma - 1);
                if (dl >= sizeof def) return lm_err_code(LM_EINVAL, "%s: key '%s': default too long", file, key);
                memcpy(def, comma + 1, dl);
                def[dl] = 0;
                val = def;
            }
            size_t vl = strlen(val);
            if (n + vl >= cap) return lm_err_code(LM_EINVAL, "%s: key '%s': path too long", file, key);
            memcpy(dst + n, val, vl);
            n += vl;
            s = e + 1;
            continue;
        }
        if (n + 1 >= cap) return lm_err_code(LM_EINVAL, "%s: key '%s': path too long", file, key);
        dst[n++] = *s++;
    }
    dst[n] = 0;
    return 0;
}

static const char *scalar(const lm_cfg_node *n) { return n && n->kind == LM_CFG_SCALAR && n->text ? n->text : NULL; }

/* A string value (scalar), copied; an error naming the key when it is not one. */
static int get_string(char *dst, size_t cap, const lm_cfg_node *n, const char *file, const char *key) {
    const char *s = scalar(n);
    if (!s) return lm_err_code(LM_EINVAL, "%s:%d: key '%s': expected a string", file, n ? n->line : 0, key);
    if (strlen(s) >= cap) return lm_err_code(LM_EINVAL, "%s:%d: key '%s': value too long", file, n->line, key);
    strcpy(dst, s);
    return 0;
}

/* Only the allowed keys in a map; else an error naming the first other one. */
static int only_keys(const lm_cfg_node *map, const char *const *allowed, const char *file, const char *where) {
    if (!map || map->kind != LM_CFG_MAP)
        return lm_err_code(LM_EINVAL, "%s:%d: key '%s': expected a mapping", file, map ? map->line : 0, where);
    for (int i = 0; i < map->n; i++) {
        int ok = 0;
        for (int j = 0; allowed[j]; j++) ok |= !strcmp(map->kids[i]->key, allowed[j]);
        if (!ok)
            return lm_err_code(LM_EINVAL, "%s:%d: key '%s%s%s': unknown key", file, map->kids[i]->line, where,
                               *where ? "." : "", map->kids[i]->key);
    }
    return 0;
}

/* path relative to the grid file's folder unless absolute; ${env:...} expanded */
static int grid_path(char *dst, size_t cap, const lm_abl_grid *g, const char *text, const char *key, int rel_to_grid) {
    char tmp[4096];
    int rc = expand_env(tmp, sizeof tmp, text, g->path, key);
    if (rc < 0) return rc;
    if (tmp[0] == '/' || !rel_to_grid) {
        if ((size_t)snprintf(dst, cap, "%s", tmp) >= cap) return lm_err_code(LM_EINVAL, "%s: key '%s': path too long", g->path, key);
        return 0;
    }
    char gp[4096];
    snprintf(gp, sizeof gp, "%s", g->path);
    if ((size_t)snprintf(dst, cap, "%s/%s", dirname(gp), tmp) >= cap)
        return lm_err_code(LM_EINVAL, "%s: key '%s': path too long", g->path, key);
    return 0;
}

static int add_over(lm_abl_variant *v, const char *s, const char *file) {
    if (v->n_over >= LM_ABL_MAX_OVER) return lm_err_code(LM_EINVAL, "%s: variant '%s': more than %d overrides", file, v->name, LM_ABL_MAX_OVER);
    if (!(v->over[v->n_over] = strdup(s))) return lm_err_code(LM_ENOMEM, "out of memory");
    v->n_over++;
    return 0;
}

/* A list of override strings. */
static int add_overs(lm_abl_variant *v, const lm_cfg_node *list, const char *file, const char *key) {
    if (!list) return 0;
    if (list->kind != LM_CFG_SEQ) return lm_err_code(LM_EINVAL, "%s:%d: key '%s': expected a list of key=value overrides", file, list->line, key);
    for (int i = 0; i < list->n; i++) {
        const char *s = scalar(list->kids[i]);
        if (!s) return lm_err_code(LM_EINVAL, "%s:%d: key '%s': item %d is not a string", file, list->kids[i]->line, key, i);
        int rc = add_over(v, s, file);
        if (rc < 0) return rc;
    }
    return 0;
}

/* "27M" -> [26.5e6, 27.5e6]; "19.1M", "500K", "27048835" alike (half a unit of the last digit). */
static int parse_params(lm_abl_variant *v, const char *s, const char *file, int line) {
    char *end;
    double x = strtod(s, &end);
    double mult = 1;
    if (*end == 'M' || *end == 'm') mult = 1e6, end++;
    else if (*end == 'K' || *end == 'k') mult = 1e3, end++;
    else if (*end == 'G' || *end == 'g') mult = 1e9, end++;
    if (end == s || *end || !(x > 0))
        return lm_err_code(LM_EINVAL, "%s:%d: variant '%s': key 'params': '%s' is not a count such as 27M", file, line, v->name, s);
    const char *dot = strchr(s, '.');
    int dec = 0;
    if (dot)
        for (const char *p = dot + 1; *p >= '0' && *p <= '9'; p++) dec++;
    double half = 0.5 * pow(10, -dec) * mult;
    snprintf(v->params_text, sizeof v->params_text, "%s", s);
    v->params_lo = x * mult - half;
    v->params_hi = x * mult + half;
    return 0;
}

static int add_ref(lm_abl_variant *v, const char *key, const lm_cfg_node *n, const char *file) {
    const char *s = scalar(n);
    if (!s) return lm_err_code(LM_EINVAL, "%s:%d: variant '%s': paper '%s': expected a number", file, n->line, v->name, key);
    if (lm_cfg_scalar_type(n) == LM_CFG_NULL || !*s) return 0; /* an empty cell */
    double x;
    if (lm_cfg_scalar_float(s, &x) < 0) return lm_err_code(LM_EINVAL, "%s:%d: variant '%s': paper '%s': '%s' is not a number", file, n->line, v->name, key, s);
    if (v->n_ref >= LM_ABL_MAX_REF) return lm_err_code(LM_EINVAL, "%s: variant '%s': too many paper numbers", file, v->name);
    if (strlen(key) >= sizeof v->ref[0].key) return lm_err_code(LM_EINVAL, "%s: variant '%s': paper key too long", file, v->name);
    strcpy(v->ref[v->n_ref].key, key);
    v->ref[v->n_ref++].v = x;
    return 0;
}

/* paper: {TESTSET: {METRIC: x}} or {"TESTSET.METRIC": x} */
static int parse_paper(lm_abl_variant *v, const lm_cfg_node *p, const char *file) {
    if (p->kind != LM_CFG_MAP) return lm_err_code(LM_EINVAL, "%s:%d: variant '%s': key 'paper': expected a mapping", file, p->line, v->name);
    for (int i = 0; i < p->n; i++) {
        const lm_cfg_node *t = p->kids[i];
        if (t->kind == LM_CFG_MAP) {
            for (int j = 0; j < t->n; j++) {
                char key[256];
                snprintf(key, sizeof key, "%s.%s", t->key, t->kids[j]->key);
                int rc = add_ref(v, key, t->kids[j], file);
                if (rc < 0) return rc;
            }
        } else {
            int rc = add_ref(v, t->key, t, file);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

static const char *const k_variant_keys[] = {"overrides", "config", "params", "paper", NULL};

static int new_variant(lm_abl_grid *g, lm_abl_variant **out, const char *name, const char *file, int line) {
    for (int i = 0; i < g->nv; i++)
        if (!strcmp(g->v[i].name, name)) return lm_err_code(LM_EINVAL, "%s:%d: variant '%s' twice", file, line, name);
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
            return lm_err_code(LM_EINVAL, "%s:%d: variant '%s': a name takes letters, digits, '_', '-' and '.' only (it names a folder)", file, line, name);
    if (!*name || strlen(name) >= sizeof g->v[0].name) return lm_err_code(LM_EINVAL, "%s:%d: variant name empty or too long", file, line);
    lm_abl_variant *nv = realloc(g->v, (size_t)(g->nv + 1) * sizeof *nv);
    if (!nv) return lm_err_code(LM_ENOMEM, "out of memory");
    g->v = nv;
    lm_abl_variant *v = &g->v[g->nv++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    *out = v;
    return 0;
}

/* base + own overrides + budget for one variant; the config: its own, else the base's. */
static int fill_variant(lm_abl_grid *g, lm_abl_variant *v, const lm_cfg_node *spec, const lm_cfg_node *base,
                        const char *base_config, const lm_cfg_node *budget) {
    int rc;
    char key[300];
    snprintf(v->config, sizeof v->config, "%s", base_config);
    if ((rc = add_overs(v, base ? lm_cfg_node_get(base, "overrides") : NULL, g->path, "base.overrides")) < 0) return rc;
    if (spec && spec->kind == LM_CFG_MAP) {
        snprintf(key, sizeof key, "variants.%s", v->name);
        if ((rc = only_keys(spec, k_variant_keys, g->path, key)) < 0) return rc;
        const lm_cfg_node *n;
        if ((n = lm_cfg_node_get(spec, "config"))) {
            char tmp[4096];
            if ((rc = get_string(tmp, sizeof tmp, n, g->path, key)) < 0 ||
                (rc = grid_path(v->config, sizeof v->config, g, tmp, key, 1)) < 0)
                return rc;
        }
        snprintf(key, sizeof key, "variants.%s.overrides", v->name);
        if ((rc = add_overs(v, lm_cfg_node_get(spec, "overrides"), g->path, key)) < 0) return rc;
        if ((n = lm_cfg_node_get(spec, "params")) && (rc = parse_params(v, scalar(n) ? scalar(n) : "", g->path, n->line)) < 0) return rc;
        if ((n = lm_cfg_node_get(spec, "paper")) && (rc = parse_paper(v, n, g->path)) < 0) return rc;
    } else if (spec && spec->kind == LM_CFG_SEQ) { /* a bare list of overrides */
        snprintf(key, sizeof key, "variants.%s", v->name);
        if ((rc = add_overs(v, spec, g->path, key)) < 0) return rc;
    } else if (spec && lm_cfg_scalar_type(spec) != LM_CFG_NULL) {
        return lm_err_code(LM_EINVAL, "%s:%d: key 'variants.%s': expected a mapping (overrides, config, params, paper) or a list of overrides", g->path, spec->line, v->name);
    }
    if (budget && (rc = add_overs(v, lm_cfg_node_get(budget, "overrides"), g->path, "budget.overrides")) < 0) return rc;
    return 0;
}

/* axes: {AXIS: {VALUE: {overrides, config}}}: the product, names VALUE1_VALUE2... */
static int expand_axes(lm_abl_grid *g, const lm_cfg_node *axes, const lm_cfg_node *base, const char *base_config,
                       const lm_cfg_node *budget) {
    if (axes->kind != LM_CFG_MAP || axes->n == 0) return lm_err_code(LM_EINVAL, "%s:%d: key 'axes': expected a mapping of axes", g->path, axes->line);
    int na = axes->n, idx[16] = {0};
    if (na > 16) return lm_err_code(LM_EINVAL, "%s: key 'axes': at most 16 axes", g->path);
    for (int a = 0; a < na; a++)
        if (axes->kids[a]->kind != LM_CFG_MAP || !axes->kids[a]->n)
            return lm_err_code(LM_EINVAL, "%s:%d: key 'axes.%s': expected a mapping of values", g->path, axes->kids[a]->line, axes->kids[a]->key);
    static const char *const allowed[] = {"overrides", "config", NULL};
    for (;;) {
        char name[128] = "";
        for (int a = 0; a < na; a++) {
            size_t l = strlen(name);
            snprintf(name + l, sizeof name - l, "%s%s", a ? "_" : "", axes->kids[a]->kids[idx[a]]->key);
        }
        lm_abl_variant *v;
        int rc = new_variant(g, &v, name, g->path, axes->line);
        if (rc < 0) return rc;
        snprintf(v->config, sizeof v->config, "%s", base_config);
        if ((rc = add_overs(v, base ? lm_cfg_node_get(base, "overrides") : NULL, g->path, "base.overrides")) < 0) return rc;
        for (int a = 0; a < na; a++) {
            const lm_cfg_node *val = axes->kids[a]->kids[idx[a]];
            char key[300];
            snprintf(key, sizeof key, "axes.%s.%s", axes->kids[a]->key, val->key);
            if (val->kind == LM_CFG_SEQ) {
                if ((rc = add_overs(v, val, g->path, key)) < 0) return rc;
                continue;
            }
            if (val->kind != LM_CFG_MAP) {
                if (lm_cfg_scalar_type(val) == LM_CFG_NULL) continue;
                return lm_err_code(LM_EINVAL, "%s:%d: key '%s': expected a mapping (overrides, config) or a list", g->path, val->line, key);
            }
            if ((rc = only_keys(val, allowed, g->path, key)) < 0) return rc;
            const lm_cfg_node *n = lm_cfg_node_get(val, "config");
            if (n) {
                char tmp[4096];
                if ((rc = get_string(tmp, sizeof tmp, n, g->path, key)) < 0 ||
                    (rc = grid_path(v->config, sizeof v->config, g, tmp, key, 1)) < 0)
                    return rc;
            }
            if ((rc = add_overs(v, lm_cfg_node_get(val, "overrides"), g->path, key)) < 0) return rc;
        }
        if (budget && (rc = add_overs(v, lm_cfg_node_get(budget, "overrides"), g->path, "budget.overrides")) < 0) return rc;
        int a = na - 1;
        while (a >= 0 && ++idx[a] == axes->kids[a]->n) idx[a--] = 0;
        if (a < 0) break;
    }
    return 0;
}

static int parse_testsets(lm_abl_grid *g, const lm_cfg_node *t) {
    static const char *const allowed[] = {"images", "masks", "size", "dir", NULL};
    if (t->kind != LM_CFG_MAP || !t->n) return lm_err_code(LM_EINVAL, "%s:%d: key 'testsets': expected a mapping NAME: {images, masks, size} or {dir}", g->path, t->line);
    if (t->n > LM_ABL_MAX_TESTSETS) return lm_err_code(LM_EINVAL, "%s: key 'testsets': at most %d", g->path, LM_ABL_MAX_TESTSETS);
    for (int i = 0; i < t->n; i++) {
        const lm_cfg_node *s = t->kids[i], *n;
        lm_abl_testset *ts = &g->ts[g->nt++];
        memset(ts, 0, sizeof *ts);
        char key[128], tmp[4096];
        snprintf(key, sizeof key, "testsets.%s", s->key);
        if (strlen(s->key) >= sizeof ts->name || strchr(s->key, '/') || strchr(s->key, '.') || !*s->key)
            return lm_err_code(LM_EINVAL, "%s:%d: key '%s': a test set name without '/' or '.' (it names a folder and a column)", g->path, s->line, key);
        strcpy(ts->name, s->key);
        int rc = only_keys(s, allowed, g->path, key);
        if (rc < 0) return rc;
        const lm_cfg_node *dir = lm_cfg_node_get(s, "dir"), *img = lm_cfg_node_get(s, "images");
        if (!!dir == !!img) return lm_err_code(LM_EINVAL, "%s:%d: key '%s': give either images (+ masks, size) or dir", g->path, s->line, key);
        if (dir) {
            if (lm_cfg_node_get(s, "masks") || lm_cfg_node_get(s, "size"))
                return lm_err_code(LM_EINVAL, "%s:%d: key '%s': a ready folder (dir) takes no masks or size", g->path, s->line, key);
            if ((rc = get_string(tmp, sizeof tmp, dir, g->path, key)) < 0 || (rc = grid_path(ts->dir, sizeof ts->dir, g, tmp, key, 0)) < 0) return rc;
            continue;
        }
        if ((rc = get_string(tmp, sizeof tmp, img, g->path, key)) < 0 || (rc = grid_path(ts->images, sizeof ts->images, g, tmp, key, 0)) < 0) return rc;
        snprintf(ts->masks, sizeof ts->masks, "thick");
        if ((n = lm_cfg_node_get(s, "masks")) && (rc = get_string(ts->masks, sizeof ts->masks, n, g->path, key)) < 0) return rc;
        if (strcmp(ts->masks, "thin") && strcmp(ts->masks, "medium") && strcmp(ts->masks, "thick"))
            return lm_err_code(LM_EINVAL, "%s: key '%s.masks': '%s': expected thin, medium or thick", g->path, key, ts->masks);
        ts->size = 256;
        if ((n = lm_cfg_node_get(s, "size"))) {
            int64_t v;
            if (!scalar(n) || lm_cfg_scalar_int(n->text, &v) < 0 || v < 16 || v > 4096 || v % 8)
                return lm_err_code(LM_EINVAL, "%s:%d: key '%s.size': expected a multiple of 8 in 16..4096", g->path, n->line, key);
            ts->size = (int)v;
        }
    }
    return 0;
}

static const char *const k_metric_names[] = {"ssim", "psnr", "l1", "lpips", "fid", "ssim_fid100_f1", "lpips_fid100_f1", NULL};

static int parse_grid(lm_abl_grid *g, const lm_cfg_node *root) {
    static const char *const top[] = {"name", "description", "base", "variants", "axes", "seeds", "testsets",
                                      "budget", "metrics", "paper", NULL};
    int rc = only_keys(root, top, g->path, "");
    if (rc < 0) return rc;
    const lm_cfg_node *n, *base = lm_cfg_node_get(root, "base"), *budget = lm_cfg_node_get(root, "budget");
    char tmp[4096], base_config[4096] = "";
    snprintf(g->name, sizeof g->name, "%s", "ablation");
    if ((n = lm_cfg_node_get(root, "name")) && (rc = get_string(g->name, sizeof g->name, n, g->path, "name")) < 0) return rc;
    if (!base) return lm_err_code(LM_EINVAL, "%s: key 'base' is required (config: a configs/training file, overrides: [...])", g->path);
    static const char *const base_keys[] = {"config", "overrides", NULL};
    if ((rc = only_keys(base, base_keys, g->path, "base")) < 0) return rc;
    if (!(n = lm_cfg_node_get(base, "config"))) return lm_err_code(LM_EINVAL, "%s: key 'base.config' is required", g->path);
    if ((rc = get_string(tmp, sizeof tmp, n, g->path, "base.config")) < 0 ||
        (rc = grid_path(base_config, sizeof base_config, g, tmp, "base.config", 1)) < 0)
        return rc;
    if (budget) {
        static const char *const bk[] = {"overrides", NULL};
        if ((rc = only_keys(budget, bk, g->path, "budget")) < 0) return rc;
    }
    const lm_cfg_node *vars = lm_cfg_node_get(root, "variants"), *axes = lm_cfg_node_get(root, "axes");
    if (!!vars == !!axes) return lm_err_code(LM_EINVAL, "%s: give either 'variants' or 'axes'", g->path);
    if (vars) {
        if (vars->kind != LM_CFG_MAP || !vars->n) return lm_err_code(LM_EINVAL, "%s:%d: key 'variants': expected a mapping NAME: {overrides: [...]}", g->path, vars->line);
        for (int i = 0; i < vars->n; i++) {
            lm_abl_variant *v;
            if ((rc = new_variant(g, &v, vars->kids[i]->key, g->path, vars->kids[i]->line)) < 0) return rc;
            if ((rc = fill_variant(g, v, vars->kids[i], base, base_config, budget)) < 0) return rc;
        }
    } else if ((rc = expand_axes(g, axes, base, base_config, budget)) < 0) {
        return rc;
    }
    g->ns = 0;
    if ((n = lm_cfg_node_get(root, "seeds"))) {
        const lm_cfg_node *const *items = n->kind == LM_CFG_SEQ ? (const lm_cfg_node *const *)n->kids : (const lm_cfg_node *const *)&n;
        int cnt = n->kind == LM_CFG_SEQ ? n->n : 1;
        for (int i = 0; i < cnt; i++) {
            int64_t s;
            if (!scalar(items[i]) || lm_cfg_scalar_int(items[i]->text, &s) < 0 || s < 0)
                return lm_err_code(LM_EINVAL, "%s:%d: key 'seeds': expected non-negative integers", g->path, items[i]->line);
            if (g->ns >= LM_ABL_MAX_SEEDS) return lm_err_code(LM_EINVAL, "%s: key 'seeds': at most %d", g->path, LM_ABL_MAX_SEEDS);
            for (int j = 0; j < g->ns; j++)
                if (g->seeds[j] == (uint64_t)s) return lm_err_code(LM_EINVAL, "%s: key 'seeds': %lld twice", g->path, (long long)s);
            g->seeds[g->ns++] = (uint64_t)s;
        }
    }
    if (!g->ns) g->seeds[g->ns++] = 0;
    if (!(n = lm_cfg_node_get(root, "testsets"))) return lm_err_code(LM_EINVAL, "%s: key 'testsets' is required", g->path);
    if ((rc = parse_testsets(g, n)) < 0) return rc;
    if ((n = lm_cfg_node_get(root, "metrics"))) {
        if (n->kind != LM_CFG_SEQ || !n->n) return lm_err_code(LM_EINVAL, "%s:%d: key 'metrics': expected a list such as [fid, lpips, ssim]", g->path, n->line);
        for (int i = 0; i < n->n; i++) {
            const char *s = scalar(n->kids[i]);
            int ok = 0;
            for (int j = 0; s && k_metric_names[j]; j++) ok |= !strcmp(s, k_metric_names[j]);
            if (!ok) return lm_err_code(LM_EINVAL, "%s:%d: key 'metrics': '%s': expected ssim, psnr, l1, lpips, fid, ssim_fid100_f1 or lpips_fid100_f1", g->path, n->kids[i]->line, s ? s : "?");
            if (g->nm >= LM_ABL_MAX_METRICS) return lm_err_code(LM_EINVAL, "%s: key 'metrics': at most %d", g->path, LM_ABL_MAX_METRICS);
            snprintf(g->metrics[g->nm++], sizeof g->metrics[0], "%s", s);
        }
    } else {
        const char *def[] = {"fid", "lpips", "ssim"};
        for (int i = 0; i < 3; i++) snprintf(g->metrics[g->nm++], sizeof g->metrics[0], "%s", def[i]);
    }
    if ((n = lm_cfg_node_get(root, "paper"))) {
        static const char *const pk[] = {"source", "note", NULL};
        if ((rc = only_keys(n, pk, g->path, "paper")) < 0) return rc;
        const lm_cfg_node *s;
        if ((s = lm_cfg_node_get(n, "source")) && (rc = get_string(g->paper_source, sizeof g->paper_source, s, g->path, "paper.source")) < 0) return rc;
        if ((s = lm_cfg_node_get(n, "note")) && (rc = get_string(g->paper_note, sizeof g->paper_note, s, g->path, "paper.note")) < 0) return rc;
    }
    return 0;
}

int lm_abl_grid_load(lm_abl_grid **out, const char *path) {
    *out = NULL;
    lm_abl_grid *g = calloc(1, sizeof *g);
    if (!g) return lm_err_code(LM_ENOMEM, "out of memory");
    if (strlen(path) >= sizeof g->path) {
        free(g);
        return lm_err_code(LM_EINVAL, "grid path too long");
    }
    strcpy(g->path, path);
    lm_cfg_node *root = NULL;
    int rc = lm_cfg_tree_load(&root, path);
    if (!rc) rc = parse_grid(g, root);
    lm_cfg_node_free(root);
    if (rc < 0) {
        lm_abl_grid_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void lm_abl_grid_free(lm_abl_grid *g) {
    if (!g) return;
    for (int i = 0; i < g->nv; i++) {
        for (int j = 0; j < g->v[i].n_over; j++) free(g->v[i].over[j]);
        free(g->v[i].yaml);
    }
    free(g->v);
    free(g);
}

/* init_from of a variant: loads into its freshly built networks (what `lamac train` would do),
 * the mismatch table kept for the message. */
static int check_init_from(lm_step_setup *s, const lm_cfg *c, const lm_abl_variant *v) {
    const char *init = NULL;
    int strict = 1;
    lm_cfg_get_str(c, "init_from", &init);
    lm_cfg_get_bool(c, "init_strict", &strict);
    lm_err_clear();
    if (!init || !*init) return 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *rep = open_memstream(&buf, &len);
    if (!rep) return lm_err_code(LM_ENOMEM, "out of memory");
    int rc = lm_step_setup_init_from(s, init, strict, rep);
    fclose(rep);
    if (rc < 0) {
        if (buf && *buf) fprintf(stderr, "%s", buf);
        lm_err_prefix("variant '%s': key 'init_from' (%s) does not fit the variant's architecture", v->name, init);
    }
    free(buf);
    return rc;
}

int lm_abl_grid_resolve(lm_abl_grid *g, int need_data, FILE *log) {
    int rc = 0;
    for (int i = 0; i < g->nv && !rc; i++) {
        lm_abl_variant *v = &g->v[i];
        lm_cfg *c = NULL;
        lm_step_setup *s = NULL;
        rc = lm_cfg_load(&c, v->config, (const char *const *)v->over, v->n_over);
        if (rc < 0) {
            lm_err_prefix("%s: variant '%s'", g->path, v->name);
            break;
        }
        free(v->yaml);
        v->yaml = lm_cfg_to_yaml(c);
        if (!v->yaml) rc = lm_err_code(LM_ENOMEM, "variant '%s': cannot serialise its config", v->name);
        for (int j = 0; j < i && !rc; j++)
            if (g->v[j].yaml && !strcmp(g->v[j].yaml, v->yaml))
                rc = lm_err_code(LM_EINVAL, "%s: variants '%s' and '%s' resolve to the same config (their overrides change "
                                 "nothing between them)", g->path, g->v[j].name, v->name);
        if (!rc && need_data) {
            const char *indir = NULL;
            lm_cfg_get_str(c, "data.train.indir", &indir);
            lm_err_clear();
            if (!indir || !lm_path_is_dir(indir))
                rc = lm_err_code(LM_EINVAL, "%s: variant '%s': key 'data.train.indir': %s is not a folder (HDF5 shards: lamac shards or lamac synth)",
                                 g->path, v->name, indir ? indir : "(not set)");
        }
        if (!rc && (rc = lm_step_setup_create_nets(&s, c, LT_F32, LT_CPU, 1)) < 0)
            lm_err_prefix("%s: variant '%s': building its networks", g->path, v->name);
        if (!rc) {
            v->params = lm_params_numel(&s->gp, LM_PARAM);
            if (v->params_text[0] && ((double)v->params < v->params_lo || (double)v->params >= v->params_hi))
                rc = lm_err_code(LM_EINVAL, "%s: variant '%s': key 'params': the generator has %lld parameters, the paper says %s "
                                 "(%.0f..%.0f)", g->path, v->name, (long long)v->params, v->params_text, v->params_lo, v->params_hi);
        }
        if (!rc) rc = check_init_from(s, c, v);
        if (!rc && log)
            fprintf(log, "variant %-28s generator %12lld parameters%s%s%s  %s\n", v->name, (long long)v->params,
                    v->params_text[0] ? " (paper: " : "", v->params_text, v->params_text[0] ? ", ok)" : "", v->config);
        lm_step_setup_free(s);
        lm_cfg_free(c);
    }
    return rc;
}

int lm_abl_check_testsets(const lm_abl_grid *g) {
    for (int i = 0; i < g->nt; i++) {
        const lm_abl_testset *t = &g->ts[i];
        if (t->dir[0]) {
            if (!lm_path_is_dir(t->dir))
                return lm_err_code(LM_EINVAL, "%s: test set '%s': key 'testsets.%s.dir': %s is not a folder", g->path, t->name, t->name, t->dir);
            lm_valset *vs = NULL;
            int rc = lm_valset_open(&vs, t->dir, ".png");
            int64_t n = rc < 0 ? 0 : lm_valset_count(vs);
            lm_valset_close(vs);
            lm_err_clear();
            if (n <= 0)
                return lm_err_code(LM_EINVAL, "%s: test set '%s': key 'testsets.%s.dir': %s holds no NAME.png + NAME_mask*.png pair", g->path, t->name, t->name, t->dir);
        } else {
            if (!lm_path_is_dir(t->images))
                return lm_err_code(LM_EINVAL, "%s: test set '%s': key 'testsets.%s.images': %s is not a folder", g->path, t->name, t->name, t->images);
            lm_file_list fl = {0};
            int rc = lm_sweep_list_images(&fl, t->images);
            lm_file_list_free(&fl);
            if (rc < 0) {
                lm_err_prefix("%s: test set '%s': key 'testsets.%s.images'", g->path, t->name, t->name);
                return LM_EINVAL;
            }
        }
    }
    return 0;
}
