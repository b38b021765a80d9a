/* pretrained.h — finding and loading the fixed pretrained networks (DESIGN §6): files are
 * looked up where PyTorch users keep them ($TORCH_HOME, default $XDG_CACHE_HOME/torch or
 * ~/.cache/torch, as torch.hub's _get_torch_home) and loaded like the official code does,
 * load_state_dict(strict=False): missing and unexpected keys are reported, a shape mismatch is
 * still an error (PyTorch raises "size mismatch" even with strict=False). scripts/download-weights.sh
 * fetches the files. */
#ifndef LM_PRETRAINED_H
#define LM_PRETRAINED_H

#include <stddef.h>

#include "model/param.h"

#define LM_PRETRAINED_FETCHER "scripts/download-weights.sh"

/* $TORCH_HOME, else $XDG_CACHE_HOME/torch, else $HOME/.cache/torch. Error if it does not fit. */
int lm_torch_home(char *out, size_t cap);

/* Copies into out the first of cands[0..n) that is a regular file. None: LM_EIO with
 * "<what>: weights file not found; looked for: A, B (fetch with scripts/download-weights.sh)". */
int lm_pretrained_find(char *out, size_t cap, const char *what, const char *const *cands, int n);

/* Loads the file at path into p non-strictly: the registry key K (which must start with
 * `strip`, e.g. "impl.") is looked up in the file as file_prefix + K without strip (e.g.
 * "features." + "0.weight"). Shape or dtype mismatches fail (nothing promised about p then).
 * Writes one line to stderr: what was loaded, the file's kind and size, the missing and
 * unexpected counts (first of each). *loaded (may be NULL) gets the number of tensors copied. */
int lm_pretrained_load(lm_params *p, const char *strip, const char *path, const char *file_prefix,
                       const char *what, int *loaded);

/* The frozen pretrained network of a loss: finds the file among cands (lm_pretrained_find),
 * loads it (lm_pretrained_load) and records the path in source; when no candidate exists and
 * random_ok is set, keeps p's random init, prints "<message>; using random <net> weights" and
 * records "random (file missing)". Then freezes p (no parameter requires grad). */
int lm_pretrained_attach(lm_params *p, const char *strip, const char *file_prefix, const char *what,
                         const char *net, const char *const *cands, int n, int random_ok,
                         char *source, size_t source_cap);

#endif
