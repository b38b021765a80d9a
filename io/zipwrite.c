/* zipwrite.c — PyTorch-style zip writer (see zipwrite.h; caffe2/serialize/inline_container.cc
 * PyTorchStreamWriter::writeRecord and getPadding, miniz mz_zip_writer_add_mem_ex_v2). */
#include "io/zipwrite.h"

#include <stdlib.h>
#include <string.h>

#include "core/atomic.h"
#include "core/err.h"

typedef struct {
    char *name;
    uint32_t crc;
    uint64_t size, offset;
} zentry;

struct lm_zipwrite {
    lm_atomic f;
    uint64_t pos;
    zentry *e;
    int n, cap;
};

static uint32_t g_crc_table[256];
static int g_crc_init;

uint32_t lm_crc32(uint32_t crc, const void *p, size_t n) {
    if (!g_crc_init) { /* idempotent; a race writes the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            g_crc_table[i] = c;
        }
        g_crc_init = 1;
    }
    const uint8_t *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = g_crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void le(uint8_t *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static int out(lm_zipwrite *z, const void *p, size_t n) {
    if (!n) return 0;
    int rc = lm_atomic_write(&z->f, p, n);
    if (rc == 0) z->pos += n;
    return rc;
}

int lm_zipwrite_open(lm_zipwrite **out_, const char *path) {
    *out_ = NULL;
    lm_zipwrite *z = calloc(1, sizeof *z);
    if (!z) return lm_err_code(LM_ENOMEM, "zip %s: out of memory", path);
    int rc = lm_atomic_open(&z->f, path);
    if (rc < 0) {
        free(z);
        return lm_err_prefix("zip");
    }
    *out_ = z;
    return 0;
}

void lm_zipwrite_abort(lm_zipwrite *z) {
    if (!z) return;
    lm_atomic_abort(&z->f);
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    free(z);
}

int lm_zipwrite_add(lm_zipwrite *z, const char *name, const void *data, size_t n) {
    size_t nl = strlen(name);
    if (nl > 0xFFFF) return lm_err_code(LM_EINVAL, "zip: entry name of %zu bytes", nl);
    if (z->pos >= 0xFFFFFFFFu || (uint64_t)n >= 0xFFFFFFFFu || z->pos + 30 + nl + 4 + LM_ZIPWRITE_ALIGN + n + 16 >= 0xFFFFFFFFu)
        return lm_err_code(LM_ENOTSUP, "zip: archive past 4 GiB (entry %s): ZIP64 entries are not written", name);
    if (z->n == z->cap) {
        int nc = z->cap ? 2 * z->cap : 16;
        zentry *e = realloc(z->e, (size_t)nc * sizeof *e);
        if (!e) return lm_err_code(LM_ENOMEM, "zip: out of memory");
        z->e = e;
        z->cap = nc;
    }
    zentry *e = &z->e[z->n];
    if (!(e->name = strdup(name))) return lm_err_code(LM_ENOMEM, "zip: out of memory");
    z->n++;
    e->offset = z->pos;
    e->size = n;
    e->crc = lm_crc32(0, data, n);
    /* padding so that the data starts on a multiple of 64 (getPadding) */
    uint64_t start = z->pos + 30 + nl + 4;
    size_t pad = (size_t)((LM_ZIPWRITE_ALIGN - start % LM_ZIPWRITE_ALIGN) % LM_ZIPWRITE_ALIGN);
    uint8_t h[30], x[4 + LM_ZIPWRITE_ALIGN], d[16];
    le(h, 0x04034b50u, 4);
    le(h + 4, 0, 2);          /* version needed */
    le(h + 6, 0x0808, 2);     /* flags: data descriptor, UTF-8 names */
    le(h + 8, 0, 2);          /* stored */
    le(h + 10, 0, 4);         /* time, date */
    le(h + 14, 0, 4);         /* crc (in the descriptor) */
    le(h + 18, 0, 4);         /* sizes (in the descriptor) */
    le(h + 22, 0, 4);
    le(h + 26, nl, 2);
    le(h + 28, 4 + pad, 2);
    x[0] = 'F';
    x[1] = 'B';
    le(x + 2, pad, 2);
    memset(x + 4, 'Z', pad);
    le(d, 0x08074b50u, 4);
    le(d + 4, e->crc, 4);
    le(d + 8, n, 4);
    le(d + 12, n, 4);
    int rc;
    if ((rc = out(z, h, 30)) < 0 || (rc = out(z, name, nl)) < 0 || (rc = out(z, x, 4 + pad)) < 0 ||
        (rc = out(z, data, n)) < 0 || (rc = out(z, d, 16)) < 0)
        return rc;
    return 0;
}

int lm_zipwrite_close(lm_zipwrite *z) {
    if (!z) return 0;
    int rc = 0;
    uint64_t cd_off = z->pos;
    for (int i = 0; i < z->n && rc == 0; i++) {
        const zentry *e = &z->e[i];
        size_t nl = strlen(e->name);
        uint8_t c[46];
        memset(c, 0, sizeof c);
        le(c, 0x02014b50u, 4);
        le(c + 8, 0x0808, 2);
        le(c + 16, e->crc, 4);
        le(c + 20, e->size, 4);
        le(c + 24, e->size, 4);
        le(c + 28, nl, 2);
        le(c + 42, e->offset, 4);
        if ((rc = out(z, c, 46)) == 0) rc = out(z, e->name, nl);
    }
    uint64_t cd_size = z->pos - cd_off, z64 = z->pos;
    if (rc == 0 && z64 >= 0xFFFFFFFFu) rc = lm_err_code(LM_ENOTSUP, "zip: archive past 4 GiB");
    if (rc == 0) {
        uint8_t r[56 + 20 + 22];
        memset(r, 0, sizeof r);
        le(r, 0x06064b50u, 4);     /* ZIP64 end of central directory record */
        le(r + 4, 44, 8);
        le(r + 12, 0x031e, 2);     /* made by (as miniz) */
        le(r + 14, 0x002d, 2);     /* needed: 4.5 */
        le(r + 24, (uint64_t)z->n, 8);
        le(r + 32, (uint64_t)z->n, 8);
        le(r + 40, cd_size, 8);
        le(r + 48, cd_off, 8);
        le(r + 56, 0x07064b50u, 4); /* locator */
        le(r + 64, z64, 8);
        le(r + 72, 1, 4);
        uint8_t *q = r + 76;       /* end of central directory */
        le(q, 0x06054b50u, 4);
        le(q + 8, z->n > 0xFFFF ? 0xFFFF : z->n, 2);
        le(q + 10, z->n > 0xFFFF ? 0xFFFF : z->n, 2);
        le(q + 12, cd_size, 4);
        le(q + 16, cd_off, 4);
        rc = out(z, r, sizeof r);
    }
    if (rc == 0) rc = lm_atomic_commit(&z->f);
    else lm_atomic_abort(&z->f);
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    free(z);
    return rc < 0 ? lm_err_prefix("zip") : 0;
}
