/* predictor.c — opens a generator for prediction from a weights file, a lamac run directory or
 * an official model directory (see predictor.h; official bin/predict.py + load_checkpoint). */
#include "run/predictor.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/path.h"
#include "model/weights.h"
#include "config/config.h"
#include "config/fill.h"

/* snprintf into a path buffer; 0, or an error when the result does not fit */
static int path_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int path_fmt(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return lm_err_code(LM_EINVAL, "path too long: %.80s...", out);
    return 0;
}

int lm_model_resolve(const char *model, char *weights, size_t wcap, char *cfg, size_t ccap) {
    char dir[4096], p[4096];
    cfg[0] = 0;
    if (lm_path_is_file(model)) {
        if (path_fmt(weights, wcap, "%s", model) < 0 || path_fmt(dir, sizeof dir, "%s", model) < 0)
            return LM_EINVAL;
        /* an official checkpoint <dir>/models/x.ckpt: the config is <dir>/config.yaml */
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
        const char *cands[2] = {"%s/config.yaml", "%s/../config.yaml"};
        for (int i = 0; i < 2 && !cfg[0]; i++)
            if (path_fmt(p, sizeof p, cands[i], dir) == 0 && lm_path_is_file(p)) path_fmt(cfg, ccap, "%s", p);
        return 0;
    }
    if (!lm_path_is_dir(model)) return lm_err_code(LM_EIO, "model %s: no such file or directory", model);
    if (path_fmt(p, sizeof p, "%s/config.yaml", model) < 0) return LM_EINVAL;
    if (lm_path_is_file(p)) path_fmt(cfg, ccap, "%s", p);
    static const char *const names[] = {
        "models/best.ckpt", "weights.safetensors", "model.safetensors", "best.safetensors",
        "last.safetensors", "checkpoints/best.safetensors", "checkpoints/last.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (path_fmt(p, sizeof p, "%s/%s", model, names[i]) < 0) return LM_EINVAL;
        if (lm_path_is_file(p)) return path_fmt(weights, wcap, "%s", p);
    }
    return lm_err_code(LM_EIO, "model %s: a directory without weights (looked for models/best.ckpt, "
                       "weights.safetensors, model.safetensors, best/last.safetensors, "
                       "checkpoints/best/last.safetensors)", model);
}

/* Loads only the `generator` group of a config (file path or YAML text): prediction needs
 * nothing else, and an official config.yaml holds keys (paths, trainer settings) that do not
 * matter here.
 * A config is either the user's own file (trusted = 1: the --config argument) or DATA
 * (trusted = 0: the metadata of a weights file, a checkpoint's config, the config.yaml found
 * beside the weights in a model directory — files that come with downloaded weights). Data is
 * read without interpolation (DESIGN §6): `${env:NAME}` stays literal text and fails
 * validation, so a weights file cannot make lamac print an environment variable.
 * A user's file with a `defaults:` list (an experiment file such as
 * configs/training/big-lama.yaml, whose own `generator:` keys override the group it picks) is
 * composed in full instead; a data config's `defaults:` list is not followed. */
static int generator_opts(lm_generator_opts *o, const char *path, const char *text,
                          const char *origin, int trusted) {
    lm_cfg_node *tree = NULL, *root = NULL;
    lm_cfg *cfg = NULL;
    int rc;
    rc = text ? lm_cfg_tree_parse(&tree, text, strlen(text), origin) : lm_cfg_tree_load(&tree, path);
    if (rc < 0) goto cleanup;
    lm_cfg_node *gen = lm_cfg_node_get(tree, "generator");
    if (trusted && path && lm_cfg_node_get(tree, "defaults")) {
        /* an experiment file (configs/training/big-lama.yaml): compose it as training does */
        if ((rc = lm_cfg_load(&cfg, path, NULL, 0)) == 0 &&
            (rc = lm_cfg_fill(o, LM_OPTS_GENERATOR, cfg)) < 0)
            lm_err_prefix("config %s", origin);
        goto cleanup;
    }
    if (!gen || gen->kind != LM_CFG_MAP) {
        rc = lm_err_code(LM_EINVAL, "config %s: no 'generator' section%s", origin,
                         !trusted && lm_cfg_node_get(tree, "defaults")
                             ? " (a defaults list is not followed in a config shipped with weights: "
                               "pass the file with --config)"
                             : "");
        goto cleanup;
    }
    root = lm_cfg_node_new(LM_CFG_MAP, NULL, NULL, origin, 0);
    lm_cfg_node *copy = lm_cfg_node_copy(gen);
    if (!root || !copy || lm_cfg_node_append(root, copy) < 0) {
        lm_cfg_node_free(copy);
        rc = lm_err_code(LM_ENOMEM, "config %s: out of memory", origin);
        goto cleanup;
    }
    rc = lm_cfg_from_tree(&cfg, root, origin, trusted);
    root = NULL; /* consumed */
    if (rc < 0) {
        lm_err_prefix("config %s (generator section)", origin);
        goto cleanup;
    }
    if ((rc = lm_cfg_fill(o, LM_OPTS_GENERATOR, cfg)) < 0) lm_err_prefix("config %s", origin);
cleanup:
    lm_cfg_free(cfg);
    lm_cfg_node_free(root);
    lm_cfg_node_free(tree);
    return rc;
}

/* lm_predictor_open, or lm_predictor_open_opts when given is not NULL; ema: load
 * generator_average.* instead of generator.* when the weights have it. */
static int open_impl(lm_predictor **out, const char *model, const char *config,
                     const lm_generator_opts *given, const char *given_from, int ema, lt_device dev,
                     lt_dtype dtype, FILE *report) {
    *out = NULL;
    lm_predictor *p = calloc(1, sizeof *p);
    if (!p) return lm_err_code(LM_ENOMEM, "predict: out of memory");
    lm_params_init(&p->params, dtype, dev);
    lm_weights_src *src = NULL;
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    char cfg_path[4096];
    int rc = lm_model_resolve(model, p->weights_path, sizeof p->weights_path, cfg_path, sizeof cfg_path);
    if (rc < 0) goto cleanup;
    if ((rc = lm_weights_open(&src, p->weights_path)) < 0) goto cleanup;
    snprintf(p->weights_kind, sizeof p->weights_kind, "%s", lm_weights_kind(src));
    const char *meta_cfg = lm_weights_meta(src, "config");
    if (given) {
        path_fmt(p->config_from, sizeof p->config_from, "%s", given_from);
        p->opts = *given;
    } else if (config) {
        path_fmt(p->config_from, sizeof p->config_from, "%s", config);
        rc = generator_opts(&p->opts, config, NULL, config, 1);
    } else if (meta_cfg && meta_cfg[0]) {
        path_fmt(p->config_from, sizeof p->config_from, "metadata of %s", p->weights_path);
        rc = generator_opts(&p->opts, NULL, meta_cfg, p->config_from, 0);
    } else if (cfg_path[0]) {
        path_fmt(p->config_from, sizeof p->config_from, "%s", cfg_path);
        rc = generator_opts(&p->opts, cfg_path, NULL, cfg_path, 0);
    } else {
        rc = lm_err_code(LM_EINVAL, "model %s: the weights carry no config and none was found "
                         "beside them: pass --config CONFIG.yaml", model);
    }
    if (rc < 0) goto cleanup;
    if ((rc = lm_generator_create(&p->gen, &p->params, &p->opts)) < 0) goto cleanup;
    /* "generator.*" as the official checkpoints and lamac files; a bare generator
     * state_dict has no prefix; the EMA copy when asked for and present */
    p->used_ema = ema && lm_weights_count_prefix(src, "generator_average.") > 0;
    const char *prefix = p->used_ema ? "generator_average."
                         : lm_weights_count_prefix(src, "generator.") > 0 ? "generator." : "";
    if ((rc = lm_weights_load(&p->params, src, prefix, LM_WEIGHTS_STRICT, &rep)) < 0) {
        if (report && rep.n) {
            fprintf(report, "weights %s do not fit the generator of %s:\n", p->weights_path,
                    p->config_from);
            lm_weights_report_print(&rep, report);
        }
        goto cleanup;
    }
cleanup:
    lm_weights_report_free(&rep);
    lm_weights_close(src);
    if (rc < 0) {
        lm_predictor_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

void lm_predictor_close(lm_predictor *p) {
    if (!p) return;
    lm_generator_free(p->gen);
    lm_params_free(&p->params);
    free(p);
}

int lm_predictor_open(lm_predictor **out, const char *model, const char *config, lt_device dev,
                      lt_dtype dtype, FILE *report) {
    return open_impl(out, model, config, NULL, NULL, 0, dev, dtype, report);
}

int lm_predictor_open_opts(lm_predictor **out, const char *model, const lm_generator_opts *opts,
                           const char *config_from, int ema, lt_device dev, lt_dtype dtype, FILE *report) {
    return open_impl(out, model, NULL, opts, config_from, ema, dev, dtype, report);
}
