/* pth.h — read PyTorch .pth / .ckpt files without Python or libtorch (DESIGN §6):
 * the zip format (torch.save since 1.6: <prefix>/data.pkl + <prefix>/data/<key> storages)
 * and the legacy format (pre-1.6: magic, protocol, sys info, object pickle, storage keys,
 * raw storages), as written by torch/serialization.py. Storages on any device (e.g.
 * 'cuda:0') are read as CPU data. The pickle is read by a data-only unpickler
 * (io/pickle.c) that never executes anything and refuses executable globals.
 *
 * The result is a flat list of named tensors, reusing lm_safetensors_entry so both weight formats
 * feed the same loading code:
 *   - a Lightning checkpoint (root dict with a 'state_dict' dict): the state_dict's keys as
 *     they are ("generator.model.1.ffc.convl2l.weight");
 *   - otherwise the root dict's keys; nested dicts/lists are joined with '.'.
 * Tensors are materialised C-contiguous, honouring storage offset, size and stride; a
 * tensor that is already contiguous points into the mmapped file (zero copy, maybe
 * unaligned), others are copied. Scalars (int, float, bool, str, None) found in dicts
 * outside the state_dict become metadata strings under their dotted path ("epoch",
 * "global_step", "pytorch-lightning_version", "callbacks.xxx.best_model_path").
 * Little-endian hosts only. */
#ifndef LM_PTH_H
#define LM_PTH_H

#include <stddef.h>

#include "io/safetensors.h" /* lm_safetensors_entry, lm_dtype */

typedef struct lm_pth lm_pth;

/* Flags for lm_pth_load_ex. */
#define LM_PTH_OPAQUE_UNKNOWN 1u /* read classes outside the known data classes (e.g. user
                                    classes in Lightning hyper_parameters) as opaque objects;
                                    executable globals (os.*, builtins.eval, ...) stay refused */

int lm_pth_load(lm_pth **out, const char *path); /* = lm_pth_load_ex(out, path, 0) */
int lm_pth_load_ex(lm_pth **out, const char *path, unsigned flags);
/* Same over a caller buffer (borrowed; must outlive the result). name is used in messages. */
int lm_pth_load_buffer(lm_pth **out, const void *buf, size_t len, const char *name, unsigned flags);
void lm_pth_free(lm_pth *p);

int lm_pth_count(const lm_pth *p);
const lm_safetensors_entry *lm_pth_get(const lm_pth *p, int i);        /* pickle order; NULL if out of range */
const lm_safetensors_entry *lm_pth_find(const lm_pth *p, const char *name);
const char *lm_pth_meta(const lm_pth *p, const char *key);    /* NULL if absent */
int lm_pth_meta_count(const lm_pth *p);
int lm_pth_meta_get(const lm_pth *p, int i, const char **key, const char **value);
const char *lm_pth_format(const lm_pth *p);                   /* "zip" or "legacy" */

#endif
