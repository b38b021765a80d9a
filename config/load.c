/* load.c — the public entry points that turn a file (or text) into a resolved, validated
 * lm_cfg: compose (compose.c) -> overrides (overrides.c) -> interpolation (interpolate.c) ->
 * schema check (validate.c). Mirrors hydra.main + OmegaConf for the official bin/train.py. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "config/config_internal.h"

int lm_cfg_load(lm_cfg **out, const char *path, const char *const *overrides, int n_overrides) {
    lm_cfg *c = NULL;
    lm_cfg_override *ov = NULL;
    lm_cfg_group_choice *gc = NULL;
    char *dir = NULL;
    int n_gc = 0, rc = 0;
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
        if ((rc = lm_cfg_override_parse(overrides[i], &ov[i])) < 0) goto cleanup;
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
    if ((rc = lm_cfg_compose(&c->root, path, dir, gc, n_gc)) < 0) goto cleanup;
    for (int i = 0; i < n_overrides; i++) {
        if (!strcmp(ov[i].key, "hydra") || !strncmp(ov[i].key, "hydra.", 6))
            continue; /* Hydra's own settings (hydra.run.dir=...): dropped with the group */
        if (ov[i].op && (rc = lm_cfg_override_apply(c->root, &ov[i])) < 0) goto cleanup;
    }
    for (int i = 0; i < c->root->n; i++) /* Hydra's own settings are not part of the job */
        if (!strcmp(c->root->kids[i]->key, "hydra")) lm_cfg_node_remove(c->root, i--);
    if ((rc = lm_cfg_resolve(c->root)) < 0) goto cleanup;
    if ((rc = lm_cfg_validate(c->root)) < 0) goto cleanup;
    *out = c;
    c = NULL;
cleanup:
    lm_cfg_free(c);
    free(ov);
    free(gc);
    free(dir);
    return rc;
}

int lm_cfg_from_tree(lm_cfg **out, lm_cfg_node *root, const char *origin, int resolve) {
    lm_cfg *c = NULL;
    int rc = 0;
    *out = NULL;
    if (!root) return lm_err_code(LM_EINVAL, "config: %s: no tree", origin);
    if (root->kind != LM_CFG_MAP) {
        lm_cfg_node_free(root);
        return lm_err_code(LM_EINVAL, "config: %s: expected a mapping at the top level", origin);
    }
    if (!(c = calloc(1, sizeof *c)) || !(c->path = strdup(origin))) {
        lm_cfg_node_free(root);
        rc = lm_err_code(LM_ENOMEM, "config: out of memory");
        goto cleanup;
    }
    c->root = root;
    if (resolve && (rc = lm_cfg_resolve(c->root)) < 0) goto cleanup;
    if ((rc = lm_cfg_validate(c->root)) < 0) goto cleanup;
    *out = c;
    c = NULL;
cleanup:
    lm_cfg_free(c);
    return rc;
}

int lm_cfg_load_data(lm_cfg **out, const char *text, size_t len, const char *origin) {
    lm_cfg_node *root = NULL;
    *out = NULL;
    lm_err_clear();
    int rc = lm_cfg_tree_parse(&root, text, len, origin);
    if (rc < 0) return rc;
    return lm_cfg_from_tree(out, root, origin, 0);
}

void lm_cfg_free(lm_cfg *c) {
    if (!c) return;
    lm_cfg_node_free(c->root);
    free(c->path);
    free(c);
}
