/* strbuf.h — a growing, always NUL-terminated text buffer (for JSON lines, report pages).
 * Appending never fails on the spot: a failed allocation sets `oom` and later appends are
 * ignored, so a writer appends freely and checks `oom` once before using the text.
 *     lm_strbuf b = {0};
 *     lm_strbuf_fmt(&b, "{\"step\":%lld,\"kind\":", (long long)step);
 *     lm_strbuf_json(&b, kind);
 *     if (b.oom) ...; use b.p, b.n; lm_strbuf_free(&b); */
#ifndef LM_STRBUF_H
#define LM_STRBUF_H

#include <stddef.h>

typedef struct lm_strbuf {
    char *p;      /* the text (NULL until something is appended) */
    size_t n;     /* its length */
    size_t cap;
    int oom;      /* 1 after a failed allocation */
} lm_strbuf;

void lm_strbuf_put(lm_strbuf *b, const void *s, size_t n);
void lm_strbuf_str(lm_strbuf *b, const char *s);
/* printf-style, any length */
void lm_strbuf_fmt(lm_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a quoted JSON string ('"', '\\' and control characters escaped) */
void lm_strbuf_json(lm_strbuf *b, const char *s);
void lm_strbuf_free(lm_strbuf *b);

#endif
