/* export.h — the state_dict `lamac export` writes, assembled from a lamac checkpoint (or any
 * weights file io/ reads) the way the official bin/make_checkpoint.py prepares a model for
 * bin/predict.py: the generator only (discriminator.* and loss_* dropped) unless the
 * discriminator is asked for; optimizer state never. When the source holds EMA weights under
 * generator_average.* (the official LightningModule's attribute name, also the lamac trainer's
 * key), they are written under generator.* unless raw is set.
 *
 * Writers: safetensors (optionally fp16/bf16), a torch.save .pth holding the state_dict as an
 * OrderedDict, and an official checkpoint dict ({'state_dict', 'epoch', 'global_step',
 * 'pytorch-lightning_version'}) as models/best.ckpt of an official model directory wants.
 * All writes are atomic. Tensor data points into the source (or into owned conversions):
 * the source must stay open while the export is used. */
#ifndef LM_EXPORT_H
#define LM_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "model/weights.h"

typedef struct lm_export_opts {
    int with_discr;  /* keep discriminator.* */
    int raw;         /* ignore generator_average.* */
    int dtype;       /* floating-point tensors as LM_DT_F32 (default), LM_DT_F16 or LM_DT_BF16 */
} lm_export_opts;

typedef struct lm_export_tensor {
    char *name;               /* output key */
    const char *from;         /* source key (borrowed from the source) */
    int dtype, ndim;
    int64_t shape[LM_SAFETENSORS_MAX_DIMS];
    const void *data;         /* nbytes */
    size_t nbytes;
    void *owned;              /* converted data, freed with the export */
} lm_export_tensor;

typedef struct lm_export {
    lm_export_tensor *t;
    int n, cap;
    int used_ema;             /* generator values taken from generator_average.* */
    int n_generator, n_discriminator;
    int n_dropped;            /* source tensors not written */
} lm_export;

lm_export_opts lm_export_defaults(void); /* generator only, EMA when present, F32 */

/* Selects and converts. Errors: no generator.* tensors, --with-discr without discriminator.*,
 * EMA keys that do not match the generator's (names, shapes), unsupported dtype. */
int lm_export_select(lm_export *out, const lm_weights_src *s, const lm_export_opts *o);
void lm_export_free(lm_export *e); /* NULL ok */

/* meta: key, value, ..., NULL (may be NULL). */
int lm_export_write_safetensors(const lm_export *e, const char *path, const char *const *meta);
int lm_export_write_state_dict(const lm_export *e, const char *path);
int lm_export_write_ckpt(const lm_export *e, const char *path, int64_t epoch, int64_t global_step);

#endif
