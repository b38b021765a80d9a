/* zipread.c — zip central directory reader (APPNOTE.TXT 4.3: end of central directory,
 * ZIP64 locator and record, central headers, local headers). See zipread.h. */
#include "io/zipread.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct lm_zipread {
    lm_zipread_entry *e;
    int n;
};

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void lm_zipread_free(lm_zipread *z) {
    if (!z) return;
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    free(z);
}

int lm_zipread_count(const lm_zipread *z) { return z ? z->n : 0; }
const lm_zipread_entry *lm_zipread_get(const lm_zipread *z, int i) { return (z && i >= 0 && i < z->n) ? &z->e[i] : NULL; }

const lm_zipread_entry *lm_zipread_find(const lm_zipread *z, const char *name) {
    if (!z || !name) return NULL;
    for (int i = 0; i < z->n; i++)
        if (!strcmp(z->e[i].name, name)) return &z->e[i];
    return NULL;
}

#define BAD(...) do { rc = lm_err_code(LM_EINVAL, "zip: " __VA_ARGS__); goto cleanup; } while (0)

int lm_zipread_open(lm_zipread **out, const uint8_t *buf, size_t len) {
    int rc = 0;
    *out = NULL;
    lm_zipread *z = calloc(1, sizeof *z);
    if (!z) return lm_err_code(LM_ENOMEM, "zip: out of memory");
    /* end of central directory: 22 bytes + comment (<= 65535), searched from the end */
    if (len < 22) BAD("file too short (%zu bytes)", len);
    size_t eocd = (size_t)-1;
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lo;)
        if (le(buf + i, 4) == 0x06054b50u) { eocd = i; break; }
    if (eocd == (size_t)-1) BAD("no end of central directory record");
    uint64_t count = le(buf + eocd + 10, 2), cd_size = le(buf + eocd + 12, 4), cd_off = le(buf + eocd + 16, 4);
    if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        /* ZIP64: locator right before the EOCD */
        if (eocd < 20 || le(buf + eocd - 20, 4) != 0x07064b50u) BAD("ZIP64 locator missing");
        uint64_t r = le(buf + eocd - 20 + 8, 8);
        if (r > len || len - r < 56 || le(buf + r, 4) != 0x06064b50u) BAD("bad ZIP64 end of central directory");
        count = le(buf + r + 32, 8); cd_size = le(buf + r + 40, 8); cd_off = le(buf + r + 48, 8);
    }
    if (cd_off > len || cd_size > len - cd_off) BAD("central directory outside the file");
    if (count > cd_size / 46) BAD("%llu entries cannot fit a %llu-byte central directory", (unsigned long long)count, (unsigned long long)cd_size);
    z->e = calloc(count ? count : 1, sizeof *z->e);
    if (!z->e) { rc = lm_err_code(LM_ENOMEM, "zip: out of memory"); goto cleanup; }
    const uint8_t *p = buf + cd_off, *end = buf + cd_off + cd_size;
    for (uint64_t k = 0; k < count; k++) {
        if (end - p < 46 || le(p, 4) != 0x02014b50u) BAD("bad central directory header %llu", (unsigned long long)k);
        int flags = (int)le(p + 8, 2), method = (int)le(p + 10, 2);
        uint64_t csize = le(p + 20, 4), usize = le(p + 24, 4), loff = le(p + 42, 4);
        size_t nl = (size_t)le(p + 28, 2), xl = (size_t)le(p + 30, 2), cl = (size_t)le(p + 32, 2);
        if ((size_t)(end - p) - 46 < nl + xl + cl) BAD("central directory header %llu overruns", (unsigned long long)k);
        const uint8_t *name = p + 46, *x = name + nl, *xe = x + xl;
        while (xe - x >= 4) { /* ZIP64 extra field */
            unsigned id = (unsigned)le(x, 2), sz = (unsigned)le(x + 2, 2);
            if ((size_t)(xe - x - 4) < sz) BAD("bad extra field in entry %llu", (unsigned long long)k);
            if (id == 1) {
                const uint8_t *q = x + 4, *qe = q + sz;
                if (usize == 0xFFFFFFFFu) { if (qe - q < 8) BAD("bad ZIP64 extra"); usize = le(q, 8); q += 8; }
                if (csize == 0xFFFFFFFFu) { if (qe - q < 8) BAD("bad ZIP64 extra"); csize = le(q, 8); q += 8; }
                if (loff == 0xFFFFFFFFu) { if (qe - q < 8) BAD("bad ZIP64 extra"); loff = le(q, 8); q += 8; }
            }
            x += 4 + sz;
        }
        lm_zipread_entry *e = &z->e[z->n];
        e->name = malloc(nl + 1);
        if (!e->name) { rc = lm_err_code(LM_ENOMEM, "zip: out of memory"); goto cleanup; }
        memcpy(e->name, name, nl); e->name[nl] = 0;
        z->n++;
        if (memchr(name, 0, nl)) BAD("NUL in entry name");
        if (flags & 1) BAD("entry %s is encrypted", e->name);
        if (loff > len || len - loff < 30 || le(buf + loff, 4) != 0x04034b50u) BAD("bad local header for %s", e->name);
        uint64_t data = loff + 30 + le(buf + loff + 26, 2) + le(buf + loff + 28, 2);
        if (data > len || csize > len - data) BAD("data of %s outside the file", e->name);
        if (method == 0 && csize != usize) BAD("stored entry %s: sizes differ", e->name);
        e->method = method; e->data = buf + data; e->csize = csize; e->size = usize;
        p += 46 + nl + xl + cl;
    }
cleanup:
    if (rc < 0) { lm_zipread_free(z); return rc; }
    *out = z;
    return 0;
}
