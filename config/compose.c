/* compose.c — the Hydra 1.1 defaults list (hydra.main's composition of the official
 * configs/training tree, advimman/lama bin/train.py): the top-level file's `defaults:` list,
 * each `- group: option` loading <dir>/<group>/<option>.yaml at key <group> (`# @package
 * _group_`, Hydra 1.1's default; `_global_` and dotted packages are honoured), then the file's
 * own keys merged last so they win (Hydra 1.1 puts an implicit `_self_` at the end; an
 * explicit `_self_` entry is honoured). Command-line group choices (`data=option`,
 * `+group=option`) swap or add entries of the top-level list. The `hydra` group configures
 * Hydra itself (run dir, sweeps): its file must exist and parse, then it is dropped, as
 * `--cfg job` does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/readall.h"
#include "config/config_internal.h"

#define MAX_INCLUDE_DEPTH 16

typedef lm_cfg_group_choice group_choice;

typedef struct {
    const char *dir; /* search path: directory of the top-level config */
    group_choice *choices;
    int n_choices;
} compose_ctx;

static int read_text(const char *path, char **out, size_t *len) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return LM_EIO;
    int rc = lm_read_all(f, out, len);
    fclose(f);
    return rc;
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
                           lm_cfg_loc(entry, where, sizeof where), group ? group : option, path,
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
                           lm_cfg_loc(from, where, sizeof where), MAX_INCLUDE_DEPTH);
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
                         lm_cfg_loc(defaults, where, sizeof where));
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
                             lm_cfg_loc(e, where, sizeof where), i);
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

int lm_cfg_compose(lm_cfg_node **out, const char *path, const char *dir,
                   lm_cfg_group_choice *choices, int n_choices) {
    compose_ctx cx = {dir, choices, n_choices};
    return compose_file(&cx, path, NULL, 0, NULL, out);
}
