/* protobuf.h — a minimal protocol-buffers wire-format writer (encoding only) over a growing
 * byte buffer, for io/onnx.c. Covers what ONNX's ModelProto needs: varint fields (int32,
 * int64, enums; a negative value takes ten bytes as protobuf's int64 does), 32-bit floats,
 * length-delimited fields (strings, raw bytes, nested messages), packed repeated int64 and
 * float. No zigzag (ONNX has no sint fields), no reader.
 *
 * Like core/strbuf.h, appending never fails on the spot: a failed allocation (or a message
 * over protobuf's 2 GiB limit) sets `oom` and later appends are ignored; check it once.
 *     lm_pb b = {0};
 *     size_t m = lm_pb_begin(&b, 7);          // field 7, a nested message
 *     lm_pb_str(&b, 2, "graph");
 *     lm_pb_end(&b, m);                        // writes its length in front of it
 *     if (b.oom) ...; use b.p, b.n; lm_pb_free(&b);
 * Nested messages may nest; each lm_pb_end closes the innermost open lm_pb_begin, and moves
 * the message body to make room for its length varint (1 byte is reserved). */
#ifndef LM_PROTOBUF_H
#define LM_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

enum { LM_PB_VARINT = 0, LM_PB_I64 = 1, LM_PB_LEN = 2, LM_PB_I32 = 5 }; /* wire types */

typedef struct lm_pb {
    uint8_t *p;
    size_t n, cap;
    int oom;
} lm_pb;

/* Raw pieces. */
void lm_pb_raw(lm_pb *b, const void *p, size_t n);
void lm_pb_varint(lm_pb *b, uint64_t v);
void lm_pb_tag(lm_pb *b, int field, int wire);
/* Bytes lm_pb_varint(v) takes (1..10). */
int lm_pb_varint_len(uint64_t v);

/* Fields. */
void lm_pb_int(lm_pb *b, int field, int64_t v);                    /* int32/int64/enum */
void lm_pb_float(lm_pb *b, int field, float v);                    /* fixed 32, little-endian */
void lm_pb_bytes(lm_pb *b, int field, const void *p, size_t n);    /* bytes */
void lm_pb_str(lm_pb *b, int field, const char *s);                /* string */
void lm_pb_packed_i64(lm_pb *b, int field, const int64_t *v, size_t n);
void lm_pb_packed_f32(lm_pb *b, int field, const float *v, size_t n);
/* A length-delimited field whose body is appended next; lm_pb_end(b, mark) closes it. */
size_t lm_pb_begin(lm_pb *b, int field);
void lm_pb_end(lm_pb *b, size_t mark);

/* Appends float32 values as little-endian bytes (raw_data), on any host. */
void lm_pb_raw_f32(lm_pb *b, const float *v, size_t n);

void lm_pb_free(lm_pb *b);

#endif
