/* protobuf.c — the protocol-buffers wire-format writer (see protobuf.h). No official
 * counterpart: the encoding of https://protobuf.dev/programming-guides/encoding/. */
#include "io/protobuf.h"

#include <stdlib.h>
#include <string.h>

#define PB_MAX ((size_t)0x7fffffff) /* protobuf's limit on a serialised message */

static uint8_t *grow(lm_pb *b, size_t n) {
    if (b->oom) return NULL;
    if (n > PB_MAX - b->n) {
        b->oom = 1;
        return NULL;
    }
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n) c *= 2;
        uint8_t *t = realloc(b->p, c);
        if (!t) {
            b->oom = 1;
            return NULL;
        }
        b->p = t;
        b->cap = c;
    }
    uint8_t *at = b->p + b->n;
    b->n += n;
    return at;
}

void lm_pb_raw(lm_pb *b, const void *p, size_t n) {
    uint8_t *at = grow(b, n);
    if (at && n) memcpy(at, p, n);
}

int lm_pb_varint_len(uint64_t v) {
    int k = 1;
    while (v >= 0x80) {
        v >>= 7;
        k++;
    }
    return k;
}

static void put_varint(uint8_t *at, uint64_t v) {
    while (v >= 0x80) {
        *at++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *at = (uint8_t)v;
}

void lm_pb_varint(lm_pb *b, uint64_t v) {
    uint8_t *at = grow(b, (size_t)lm_pb_varint_len(v));
    if (at) put_varint(at, v);
}

void lm_pb_tag(lm_pb *b, int field, int wire) { lm_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire); }

void lm_pb_int(lm_pb *b, int field, int64_t v) {
    lm_pb_tag(b, field, LM_PB_VARINT);
    lm_pb_varint(b, (uint64_t)v); /* two's complement: a negative value takes 10 bytes */
}

static void put_le32(uint8_t *at, uint32_t u) {
    for (int i = 0; i < 4; i++) at[i] = (uint8_t)(u >> (8 * i));
}

void lm_pb_float(lm_pb *b, int field, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    lm_pb_tag(b, field, LM_PB_I32);
    uint8_t *at = grow(b, 4);
    if (at) put_le32(at, u);
}

void lm_pb_bytes(lm_pb *b, int field, const void *p, size_t n) {
    lm_pb_tag(b, field, LM_PB_LEN);
    lm_pb_varint(b, n);
    lm_pb_raw(b, p, n);
}

void lm_pb_str(lm_pb *b, int field, const char *s) { lm_pb_bytes(b, field, s, strlen(s)); }

void lm_pb_packed_i64(lm_pb *b, int field, const int64_t *v, size_t n) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += (size_t)lm_pb_varint_len((uint64_t)v[i]);
    lm_pb_tag(b, field, LM_PB_LEN);
    lm_pb_varint(b, len);
    for (size_t i = 0; i < n; i++) lm_pb_varint(b, (uint64_t)v[i]);
}

void lm_pb_raw_f32(lm_pb *b, const float *v, size_t n) {
    if (n > PB_MAX / 4) {
        b->oom = 1;
        return;
    }
    uint8_t *at = grow(b, 4 * n);
    if (!at) return;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_le32(at + 4 * i, u);
    }
}

void lm_pb_packed_f32(lm_pb *b, int field, const float *v, size_t n) {
    lm_pb_tag(b, field, LM_PB_LEN);
    lm_pb_varint(b, 4 * (uint64_t)n);
    lm_pb_raw_f32(b, v, n);
}

size_t lm_pb_begin(lm_pb *b, int field) {
    lm_pb_tag(b, field, LM_PB_LEN);
    uint8_t *at = grow(b, 1); /* room for a one-byte length; lm_pb_end makes more if needed */
    if (at) *at = 0;
    return b->n;              /* where the body starts */
}

void lm_pb_end(lm_pb *b, size_t mark) {
    if (b->oom || mark > b->n || mark < 1) {
        b->oom = 1;
        return;
    }
    size_t len = b->n - mark;
    int k = lm_pb_varint_len(len);
    if (k > 1 && !grow(b, (size_t)k - 1)) return;
    if (k > 1) memmove(b->p + mark + k - 1, b->p + mark, len);
    put_varint(b->p + mark - 1, len);
}

void lm_pb_free(lm_pb *b) {
    if (!b) return;
    free(b->p);
    memset(b, 0, sizeof *b);
}
