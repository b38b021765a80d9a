/* data_opts.h — fills the plain option structs of masks/ (lm_mask_cfg) and data/
 * (lm_loader_opts) from YAML: a composed training config's data.train section, as the
 * official make_default_train_dataloader(**config.data.train) reads out_size,
 * transform_variant, mask_gen_kwargs and dataloader_kwargs.batch_size; and any
 * MixedMaskGenerator kwargs mapping (configs/training/data files, configs/data_gen files).
 * Used by `lamac masks`, `lamac bench loader` and the trainer. */
#ifndef LM_DATA_OPTS_H
#define LM_DATA_OPTS_H

#include <stddef.h>

#include "data/loader.h"
#include "masks/mask.h"
#include "config/config.h"

/* MixedMaskGenerator kwargs (the mapping kw, whose dotted key is `path`, for messages) on top
 * of *out. variants_n (data_gen files only) goes to *variants when variants is non-NULL, and
 * is an unknown key otherwise. Errors name file, line and key. Does not run
 * lm_mask_cfg_check. */
int lm_mask_cfg_from_node(lm_mask_cfg *out, int *variants, const lm_cfg_node *kw, const char *path);

/* The mask generator at `path` of a composed config (e.g. "data.train.mask_gen_kwargs"),
 * starting from the official constructor defaults (lm_mask_cfg_default), then checked
 * (lm_mask_cfg_check): a config must set segm_proba: 0, as the configs/training/data files do. */
int lm_mask_cfg_from_cfg(lm_mask_cfg *out, const lm_cfg *c, const char *path);

/* data.train of a composed config -> loader options (starting from lm_loader_opts_default):
 * out_size, batch_size (data.train.dataloader_kwargs.batch_size), transform_variant,
 * shard_dir = data.train.indir (borrowed from c), and the mask generator of
 * data.train.mask_gen_kwargs, filled into *mask and pointed at by o->mask.
 * data.train.mask_generator_kind: mixed (official default) or lamac's folder (masks from
 * mask_gen_kwargs.folder_kwargs.indir only; the mixed keys are validated but unused);
 * folder_kwargs.indir is borrowed from c as well. */
int lm_loader_opts_from_cfg(lm_loader_opts *o, lm_mask_cfg *mask, const lm_cfg *c);

/* Small helpers for option parsers over lm_cfg_node trees (messages "config: FILE:LINE:
 * key 'PATH': WHAT"). */
int lm_opts_bad_key(const lm_cfg_node *n, const char *path, const char *what);
int lm_opts_number(const lm_cfg_node *n, const char *path, double *out, int want_int);
int lm_opts_need_map(const lm_cfg_node *n, const char *path);
/* dst = "a.b", truncated to n - 1 bytes. */
void lm_opts_join_key(char *dst, size_t n, const char *a, const char *b);

#endif
