/* strbuf.c — the growing text buffer (see strbuf.h). */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lm_strbuf_put(lm_strbuf *b, const void *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void lm_strbuf_str(lm_strbuf *b, const char *s) { lm_strbuf_put(b, s, strlen(s)); }

void lm_strbuf_fmt(lm_strbuf *b, const char *fmt, ...) {
    char t[256];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof t) {
        lm_strbuf_put(b, t, (size_t)n);
    } else if (n >= 0) {
        char *big = malloc((size_t)n + 1);
        if (!big) b->oom = 1;
        else {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            lm_strbuf_put(b, big, (size_t)n);
            free(big);
        }
    }
    va_end(ap2);
}

void lm_strbuf_json(lm_strbuf *b, const char *s) {
    lm_strbuf_str(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', (char)*c};
            lm_strbuf_put(b, e, 2);
        } else if (*c < 0x20) {
            lm_strbuf_fmt(b, "\\u%04x", *c);
        } else {
            lm_strbuf_put(b, c, 1);
        }
    }
    lm_strbuf_str(b, "\"");
}

void lm_strbuf_free(lm_strbuf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
    b->oom = 0;
}
