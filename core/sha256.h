/* sha256.h — SHA-256 (FIPS 180-4) of a file or buffer, for logging which weights were used. */
#ifndef LM_SHA256_H
#define LM_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} lm_sha256;

void lm_sha256_init(lm_sha256 *s);
void lm_sha256_update(lm_sha256 *s, const void *data, size_t n);
void lm_sha256_final(lm_sha256 *s, uint8_t out[32]);
/* hex (65 bytes with the NUL) of a file's digest; LM_EIO naming the file on failure. */
int lm_sha256_file(char hex[65], const char *path);

#endif
