/* readall.c — a stream into memory (see readall.h). */
#include "core/readall.h"

#include <stdlib.h>

#include "core/err.h"

int lm_read_all(FILE *f, char **out, size_t *len) {
    char *buf = NULL;
    size_t n = 0, cap = 0;
    *out = NULL, *len = 0;
    for (;;) {
        if (cap - n < 4096 + 1) {
            char *b = realloc(buf, cap ? 2 * cap : 8192);
            if (!b) {
                free(buf);
                return LM_ENOMEM;
            }
            buf = b;
            cap = cap ? 2 * cap : 8192;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return LM_EIO;
    }
    buf[n] = 0;
    *out = buf, *len = n;
    return 0;
}
