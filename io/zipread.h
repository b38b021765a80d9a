/* zipread.h — a minimal read-only zip directory reader over a byte buffer (stored entries;
 * ZIP64 sizes and offsets), for PyTorch's zip checkpoint format (torch.save since 1.6,
 * written by PyTorch's miniz-based PyTorchStreamWriter). Internal to model/.
 * Everything is bounds-checked against the buffer; entry data points into it. */
#ifndef LM_ZIPREAD_H
#define LM_ZIPREAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_zip_entry {
    char *name;
    int method;            /* 0 = stored, 8 = deflate (data then is compressed), ... */
    const uint8_t *data;   /* compressed bytes (== the content when method 0) */
    uint64_t csize, size;  /* compressed / uncompressed sizes */
} lm_zip_entry;

typedef struct lm_zip lm_zip;

/* Parses the central directory of buf (borrowed; must outlive the zip). */
int lm_zip_open(lm_zip **out, const uint8_t *buf, size_t len);
void lm_zip_free(lm_zip *z);
int lm_zip_count(const lm_zip *z);
const lm_zip_entry *lm_zip_get(const lm_zip *z, int i);
const lm_zip_entry *lm_zip_find(const lm_zip *z, const char *name); /* NULL if absent */

#endif
