/* zipread.h — a minimal read-only zip directory reader over a byte buffer (stored entries;
 * ZIP64 sizes and offsets), for PyTorch's zip checkpoint format (torch.save since 1.6,
 * written by PyTorch's miniz-based PyTorchStreamWriter). Internal to model/.
 * Everything is bounds-checked against the buffer; entry data points into it. */
#ifndef LM_ZIPREAD_H
#define LM_ZIPREAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_zipread_entry {
    char *name;
    int method;            /* 0 = stored, 8 = deflate (data then is compressed), ... */
    const uint8_t *data;   /* compressed bytes (== the content when method 0) */
    uint64_t csize, size;  /* compressed / uncompressed sizes */
} lm_zipread_entry;

typedef struct lm_zipread lm_zipread;

/* Parses the central directory of buf (borrowed; must outlive the zip). */
int lm_zipread_open(lm_zipread **out, const uint8_t *buf, size_t len);
void lm_zipread_free(lm_zipread *z);
int lm_zipread_count(const lm_zipread *z);
const lm_zipread_entry *lm_zipread_get(const lm_zipread *z, int i);
const lm_zipread_entry *lm_zipread_find(const lm_zipread *z, const char *name); /* NULL if absent */

#endif
