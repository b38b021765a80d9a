/* official_dir.h — the config.yaml of an official model directory (<dir>/config.yaml +
 * <dir>/models/best.ckpt), the training config the official bin/predict.py reads with
 * yaml.safe_load before saicinpainting/training/trainers load_checkpoint builds the
 * LightningModule: `training_model.kind` (+ its keyword arguments), `generator` (kind + kwargs
 * for make_generator), `trainer.kwargs` (read for use_ddp) and `visualizer` (predict.py sets
 * its kind to 'noop'). A lamac resolved config has them all (it mirrors the official tree);
 * what is missing is added with the official defaults (training_model.kind: default,
 * visualizer.kind: noop, trainer.kwargs: {}). A config without a generator map is an error. */
#ifndef LM_OFFICIAL_DIR_H
#define LM_OFFICIAL_DIR_H

/* yaml: the training config (text); origin names it in messages. *out: malloc'd YAML text. */
int lm_official_config_yaml(char **out, const char *yaml, const char *origin);

#endif
