/* pthwrite.h — write PyTorch files that torch.load reads, without Python or libtorch: the zip
 * format of torch.save (torch/serialization.py _save, protocol 2): <archive>/data.pkl (the
 * object pickle, built opcode by opcode by io/pkwrite.c — no template), <archive>/byteorder
 * ("little", as torch >= 2.1 writes), <archive>/data/<key> (one record per storage, raw
 * little-endian bytes, 64-byte aligned), <archive>/version ("3\n"), written by io/zipwrite.c
 * atomically.
 *
 * Values are given in order, like a streaming serializer; containers are opened and closed:
 *     lm_pthwrite_dict_begin(w, 0);                      // {
 *       lm_pthwrite_str(w, "state_dict");                //   'state_dict':
 *       lm_pthwrite_dict_begin(w, 1);                    //   OrderedDict([
 *         lm_pthwrite_str(w, "generator.model.1.ffc.convl2l.weight");
 *         lm_pthwrite_tensor(w, LM_DT_F32, shape, 4, data, nbytes);
 *       lm_pthwrite_end(w);                              //   ]),
 *       lm_pthwrite_str(w, "epoch"); lm_pthwrite_int(w, 3);  //   'epoch': 3
 *     lm_pthwrite_end(w);                                // }
 *     lm_pthwrite_write(w, "best.ckpt");
 * A tensor is what torch.save pickles for a contiguous CPU tensor:
 * torch._utils._rebuild_tensor_v2(persistent_id(('storage', torch.<T>Storage, '<key>', 'cpu',
 * numel)), 0, size, stride, False, OrderedDict()), one storage per tensor, keys "0", "1", ...
 * Tensor data is borrowed: it must stay valid until lm_pthwrite_write/lm_pthwrite_free. Dict keys may
 * be any value; state_dict keys are strings. Items are batched by 1000 per SETITEMS/APPENDS,
 * as pickle does. Little-endian hosts only. */
#ifndef LM_PTHWRITE_H
#define LM_PTHWRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_pthwrite lm_pthwrite;

int lm_pthwrite_create(lm_pthwrite **out);
void lm_pthwrite_free(lm_pthwrite *w);

int lm_pthwrite_dict_begin(lm_pthwrite *w, int ordered); /* ordered: collections.OrderedDict */
int lm_pthwrite_list_begin(lm_pthwrite *w);
int lm_pthwrite_end(lm_pthwrite *w);                      /* closes the innermost dict or list */
int lm_pthwrite_str(lm_pthwrite *w, const char *s);       /* valid UTF-8, else an error */
int lm_pthwrite_int(lm_pthwrite *w, int64_t v);
int lm_pthwrite_float(lm_pthwrite *w, double v);
int lm_pthwrite_bool(lm_pthwrite *w, int v);
int lm_pthwrite_none(lm_pthwrite *w);
/* A C-contiguous tensor of shape[0..ndim) (ndim 0: a scalar); nbytes = numel * dtype size. */
int lm_pthwrite_tensor(lm_pthwrite *w, int dtype, const int64_t *shape, int ndim, const void *data,
                   size_t nbytes);

/* Writes the file (archive prefix "archive", as torch >= 2.0 does); needs exactly one complete
 * top-level value. Atomic: temp file + fsync + rename. w stays owned by the caller. */
int lm_pthwrite_write(lm_pthwrite *w, const char *path);

/* torch storage class name of an lm_dtype ("FloatStorage", ...), or NULL. */
const char *lm_pthwrite_storage_name(int dtype);

#endif
