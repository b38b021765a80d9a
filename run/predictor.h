/* predictor.h — a generator ready for prediction, opened from what a user points `lamac
 * predict --model` at (the official bin/predict.py loads model.path/config.yaml and
 * model.path/models/<checkpoint> with load_checkpoint):
 *   - a weights file: lamac safetensors (generator.* keys, config YAML in the metadata), or a
 *     PyTorch .pth/.ckpt (a Lightning checkpoint's state_dict or a plain state_dict);
 *   - an official model directory: <dir>/config.yaml + <dir>/models/best.ckpt;
 *   - a lamac run directory: the first of <dir>/weights.safetensors, <dir>/model.safetensors,
 *     <dir>/best.safetensors, <dir>/last.safetensors, <dir>/checkpoints/best.safetensors,
 *     <dir>/checkpoints/last.safetensors (config from the metadata or <dir>/config.yaml).
 * The config (explicit --config first, then the weights' metadata "config", then a
 * config.yaml beside the weights) gives the generator options; the weights load strictly
 * (keys "generator.*", or unprefixed keys for a bare generator state_dict).
 * Only --config is read as the user's file (defaults list composed, ${...} resolved); the
 * metadata config and a config.yaml found beside the weights ship WITH the weights and are
 * read as data (lm_cfg_load_data semantics: no ${env:...} or other interpolation). */
#ifndef LM_PREDICTOR_H
#define LM_PREDICTOR_H

#include <stdio.h>

#include "model/generator.h"

typedef struct lm_predictor {
    lm_params params;
    lm_generator *gen;
    lm_generator_opts opts;
    char weights_path[4096];
    char config_from[4096]; /* a path, or "metadata of <weights>" */
    char weights_kind[16];  /* "safetensors", "pth-zip", "pth-legacy" */
    int used_ema;           /* the generator holds generator_average.* (lm_predictor_open_opts) */
} lm_predictor;

/* Opens the model with dtype (LT_F32, or LT_F64 for `predict --precision 64`) weights.
 * config may be NULL. On a strict-load mismatch the table is printed to `report` (if not
 * NULL) before failing. */
int lm_predictor_open(lm_predictor **out, const char *model, const char *config, lt_device dev,
                      lt_dtype dtype, FILE *report);
/* The same with generator options the caller filled (`lamac export --config FILE key=value`
 * composes the config itself; opts NULL: the config is found as lm_predictor_open finds it);
 * config_from names their origin in messages. ema: the EMA weights (generator_average.*, as
 * `lamac export` writes them) instead of generator.* when the file has them (used_ema says). */
int lm_predictor_open_opts(lm_predictor **out, const char *model, const lm_generator_opts *opts,
                           const char *config_from, int ema, lt_device dev, lt_dtype dtype, FILE *report);
void lm_predictor_close(lm_predictor *p);

/* Resolves what a user points --model (predict) or `lamac export` at to a weights file and the
 * config.yaml found beside it (cfg[0] = 0 when none), in the order listed above: a file as it
 * is (config: <dir>/config.yaml or <dir>/../config.yaml), or a directory's models/best.ckpt,
 * weights/model/best/last.safetensors, checkpoints/best.safetensors, checkpoints/last.safetensors. */
int lm_model_resolve(const char *model, char *weights, size_t wcap, char *cfg, size_t ccap);

#endif
