/* official_dir.c — config.yaml for an official model directory (see official_dir.h; official
 * bin/predict.py and saicinpainting/training/trainers/__init__.py make_training_model). */
#include "run/official_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "config/config.h"

/* Ensures map[key] exists as a map; returns it or NULL (message set). */
static lm_cfg_node *ensure_map(lm_cfg_node *map, const char *key, const char *origin) {
    lm_cfg_node *n = lm_cfg_node_get(map, key);
    if (n) {
        if (n->kind != LM_CFG_MAP) lm_err_code(LM_EINVAL, "config %s: '%s' is not a map", origin, key);
        return n->kind == LM_CFG_MAP ? n : NULL;
    }
    n = lm_cfg_node_new(LM_CFG_MAP, key, NULL, "lamac export", 0);
    if (!n || lm_cfg_node_append(map, n) < 0) {
        lm_cfg_node_free(n);
        lm_err_code(LM_ENOMEM, "out of memory");
        return NULL;
    }
    return n;
}

static int ensure_scalar(lm_cfg_node *map, const char *key, const char *value) {
    if (lm_cfg_node_get(map, key)) return 0;
    lm_cfg_node *n = lm_cfg_node_new(LM_CFG_SCALAR, key, value, "lamac export", 0);
    if (!n || lm_cfg_node_append(map, n) < 0) {
        lm_cfg_node_free(n);
        return lm_err_code(LM_ENOMEM, "out of memory");
    }
    return 0;
}

int lm_official_config_yaml(char **out, const char *yaml, const char *origin) {
    *out = NULL;
    lm_cfg_node *root = NULL, *m;
    char *buf = NULL;
    size_t len = 0;
    int rc = lm_cfg_tree_parse(&root, yaml, strlen(yaml), origin);
    if (rc < 0) return rc;
    m = lm_cfg_node_get(root, "generator");
    if (!m || m->kind != LM_CFG_MAP || !lm_cfg_node_get(m, "kind")) {
        rc = lm_err_code(LM_EINVAL, "config %s: no 'generator' map with a 'kind' (the official loader "
                         "builds the generator from it)", origin);
        goto cleanup;
    }
    if (!(m = ensure_map(root, "training_model", origin)) || ensure_scalar(m, "kind", "default") < 0 ||
        !(m = ensure_map(root, "visualizer", origin)) || ensure_scalar(m, "kind", "noop") < 0 ||
        !(m = ensure_map(root, "trainer", origin)) || !ensure_map(m, "kwargs", origin)) {
        rc = LM_EINVAL;
        goto cleanup;
    }
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        rc = lm_err_code(LM_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = lm_cfg_tree_write(root, f);
    if (fclose(f) != 0 && rc == 0) rc = lm_err_code(LM_ENOMEM, "out of memory");
    if (rc == 0) {
        *out = buf;
        buf = NULL;
    }
cleanup:
    free(buf);
    lm_cfg_node_free(root);
    return rc;
}
