/* safetensors.h — read and write safetensors files (github.com/huggingface/safetensors),
 * lamac's weight and checkpoint format (DESIGN §6). Half-precision ENCODING is not done
 * here: model/weights.c converts with libtorch (lt_to_dtype), checked against torch's bytes;
 * the exact f16/bf16 -> f32 decoders below serve readers without libtorch (weights --diff).
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [a, b]}, ...}
 * then raw little-endian tensor data; offsets are relative to the end of the header.
 *
 * The reader maps the file read-only (mmap) and validates the header completely before
 * anything is returned: hostile headers (lengths past the end of the file, offsets out of
 * range or overlapping, sizes that do not match shape x dtype, negative or overflowing
 * dims, duplicate names, unknown dtypes, bad UTF-8 or escapes, deep nesting) are errors
 * naming the file and the tensor, never a crash or an over-read.
 * Entries point into the mapping: valid until lm_safetensors_close(), possibly unaligned
 * (copy with memcpy, or hand to lt_from_buffer which copies).
 *
 * No libtorch here: this works on plain byte buffers. Little-endian hosts only. */
#ifndef LM_SAFETENSORS_H
#define LM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* Element types. The first eight have the same values as shim/lt.h's lt_dtype, so
 * `(lt_dtype)e->dtype` is valid when e->dtype < LM_DT_I8. */
typedef enum lm_dtype {
    LM_DT_F32 = 0, LM_DT_F64, LM_DT_F16, LM_DT_BF16, LM_DT_I64, LM_DT_I32, LM_DT_U8, LM_DT_BOOL,
    LM_DT_I8 = 16, LM_DT_I16
} lm_dtype;

#define LM_SAFETENSORS_MAX_DIMS 8
#define LM_SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u) /* header length limit, bytes */

/* One named tensor, C-contiguous, little-endian. Also used by io/pth.h. */
typedef struct lm_safetensors_entry {
    char *name;
    int dtype;                       /* lm_dtype */
    int ndim;                        /* 0 = scalar */
    int64_t shape[LM_SAFETENSORS_MAX_DIMS];
    const void *data;                /* nbytes bytes (NULL when nbytes == 0); maybe unaligned */
    size_t nbytes;                   /* numel * lm_dtype_size(dtype) */
} lm_safetensors_entry;

/* Bytes per element (0 for an invalid dtype). */
size_t lm_dtype_size(int dtype);
/* Safetensors name ("F32", "BF16", "BOOL", ...) or NULL. */
const char *lm_dtype_name(int dtype);
/* Parses a safetensors dtype name; returns the lm_dtype or -1. */
int lm_dtype_parse(const char *name);
/* Product of the dims, or -1 if a dim is negative or the product overflows int64. */
int64_t lm_shape_numel(const int64_t *shape, int ndim);

/* ---- reader ------------------------------------------------------------------------------ */
typedef struct lm_safetensors_file lm_safetensors_file;

/* Opens and validates path (mmapped). */
int lm_safetensors_open(lm_safetensors_file **out, const char *path);
/* Same over a caller buffer (borrowed; must outlive the file). name is used in messages. */
int lm_safetensors_open_buffer(lm_safetensors_file **out, const void *buf, size_t len, const char *name);
void lm_safetensors_close(lm_safetensors_file *f);

int lm_safetensors_count(const lm_safetensors_file *f);
const lm_safetensors_entry *lm_safetensors_get(const lm_safetensors_file *f, int i);        /* file order; NULL if out of range */
const lm_safetensors_entry *lm_safetensors_find(const lm_safetensors_file *f, const char *name); /* NULL if absent */
const char *lm_safetensors_meta(const lm_safetensors_file *f, const char *key);    /* NULL if absent */
int lm_safetensors_meta_count(const lm_safetensors_file *f);
/* i-th metadata pair (file order); returns 0 or negative if out of range. */
int lm_safetensors_meta_get(const lm_safetensors_file *f, int i, const char **key, const char **value);

/* ---- writer ------------------------------------------------------------------------------ */
typedef struct lm_safetensors_writer lm_safetensors_writer;

/* Starts a file; nothing touches path before lm_safetensors_writer_close(). */
int lm_safetensors_writer_open(lm_safetensors_writer **out, const char *path);
/* Adds a tensor (data copied now). nbytes must equal numel(shape) * size(dtype). */
int lm_safetensors_writer_add(lm_safetensors_writer *w, const char *name, int dtype, const int64_t *shape, int ndim,
                     const void *data, size_t nbytes);
/* Sets (or replaces) a metadata string. */
int lm_safetensors_writer_meta(lm_safetensors_writer *w, const char *key, const char *value);
/* Writes header (insertion order, __metadata__ first, padded with spaces to a multiple of 8)
 * and data to a temp file in the same directory, fsyncs, renames over path; on error the
 * temp file is removed and path untouched. Frees w in every case (NULL ok, returns 0). */
int lm_safetensors_writer_close(lm_safetensors_writer *w);
/* Frees w without writing anything (NULL ok). */
void lm_safetensors_writer_abort(lm_safetensors_writer *w);

/* ---- half precision, decoding only (exact; NaN stays NaN, subnormals kept) ---------------- */
float lm_f16_to_f32(uint16_t h);
float lm_bf16_to_f32(uint16_t h);

#endif
