/* check_safetensors.c — io/safetensors: writer/reader round trip, atomic writes, a file
 * written by tests/ref/safetensors_io.py, hostile headers. (Half-precision saving is checked against torch's bytes in check_weights.c.) */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "io/safetensors.h"
#include "shim/lt.h"

#define FIX "tests/fixtures/weights/"

static char g_dir[256];

static void make_tmpdir(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lamac_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void rm_tmpdir(void) {
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(g_dir);
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* f16 of i * 0.25 and bf16 of i - 2.5, i = 0..5 (IEEE bit patterns) */
static const uint16_t f16_bits[6] = {0x0000, 0x3400, 0x3800, 0x3A00, 0x3C00, 0x3D00};
static const uint16_t bf16_bits[6] = {0xC020, 0xBFC0, 0xBF00, 0x3F00, 0x3FC0, 0x4020};

START_TEST(test_roundtrip_all_dtypes) {
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/w.safetensors", g_dir);
    float f32[24];
    double f64[5];
    uint16_t f16[6], bf16[6];
    int64_t i64[4] = {-5, 0, 7, INT64_MAX};
    int32_t i32[3] = {-1, 2, 300000};
    int16_t i16[2] = {-300, 300};
    int8_t i8[3] = {-128, 0, 127};
    uint8_t u8[4] = {0, 1, 254, 255}, bl[3] = {1, 0, 1};
    for (int i = 0; i < 24; i++) f32[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 5; i++) f64[i] = 1.0 / (i + 1);
    memcpy(f16, f16_bits, sizeof f16_bits);
    memcpy(bf16, bf16_bits, sizeof bf16_bits);
    const int64_t s234[3] = {2, 3, 4}, s5[1] = {5}, s6[1] = {6}, s4[1] = {4}, s3[1] = {3}, s2[1] = {2}, s0[2] = {0, 7};
    struct { const char *name; int dt; const int64_t *shape; int nd; const void *d; size_t nb; } T[] = {
        {"enc.weight", LM_DT_F32, s234, 3, f32, sizeof f32}, {"f64", LM_DT_F64, s5, 1, f64, sizeof f64},
        {"f16", LM_DT_F16, s6, 1, f16, sizeof f16},          {"bf16", LM_DT_BF16, s6, 1, bf16, sizeof bf16},
        {"i64", LM_DT_I64, s4, 1, i64, sizeof i64},          {"i32", LM_DT_I32, s3, 1, i32, sizeof i32},
        {"i16", LM_DT_I16, s2, 1, i16, sizeof i16},          {"i8", LM_DT_I8, s3, 1, i8, sizeof i8},
        {"u8", LM_DT_U8, s4, 1, u8, sizeof u8},              {"bool", LM_DT_BOOL, s3, 1, bl, sizeof bl},
        {"scalar", LM_DT_F32, NULL, 0, f32 + 1, 4},          {"empty", LM_DT_F32, s0, 2, NULL, 0},
        {"quote\"back\\slash\n\xc3\xa9", LM_DT_U8, s2, 1, u8, 2},
    };
    int nt = (int)(sizeof T / sizeof T[0]);
    lm_safetensors_writer *w = NULL;
    ck_assert_int_eq(lm_safetensors_writer_open(&w, path), 0);
    for (int i = 0; i < nt; i++)
        ck_assert_msg(lm_safetensors_writer_add(w, T[i].name, T[i].dt, T[i].shape, T[i].nd, T[i].d, T[i].nb) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_safetensors_writer_meta(w, "step", "100"), 0);
    ck_assert_int_eq(lm_safetensors_writer_meta(w, "config", "{\"a\": 1}\n"), 0);
    ck_assert_int_eq(lm_safetensors_writer_meta(w, "step", "101"), 0); /* replaces */
    ck_assert_int_eq(access(path, F_OK), -1);                  /* nothing written before close */
    ck_assert_msg(lm_safetensors_writer_close(w) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(count_files(g_dir), 1); /* no temp file left */

    /* header length is a multiple of 8 and the file is the expected size */
    FILE *fp = fopen(path, "rb");
    uint8_t l8[8];
    ck_assert_int_eq(fread(l8, 1, 8, fp), 8);
    fclose(fp);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | l8[i];
    ck_assert_int_eq(hl % 8, 0);
    size_t total = 0;
    for (int i = 0; i < nt; i++) total += T[i].nb;
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq((size_t)st.st_size, 8 + hl + total);

    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, path) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_safetensors_count(f), nt);
    for (int i = 0; i < nt; i++) {
        const lm_safetensors_entry *e = lm_safetensors_get(f, i);
        ck_assert_str_eq(e->name, T[i].name); /* insertion order */
        ck_assert_ptr_eq(lm_safetensors_find(f, T[i].name), e);
        ck_assert_int_eq(e->dtype, T[i].dt);
        ck_assert_int_eq(e->ndim, T[i].nd);
        for (int d = 0; d < e->ndim; d++) ck_assert_int_eq(e->shape[d], T[i].shape[d]);
        ck_assert_int_eq(e->nbytes, T[i].nb);
        if (T[i].nb) ck_assert_int_eq(memcmp(e->data, T[i].d, T[i].nb), 0);
    }
    ck_assert_ptr_null(lm_safetensors_find(f, "missing"));
    ck_assert_ptr_null(lm_safetensors_get(f, nt));
    ck_assert_str_eq(lm_safetensors_meta(f, "step"), "101");
    ck_assert_str_eq(lm_safetensors_meta(f, "config"), "{\"a\": 1}\n");
    ck_assert_ptr_null(lm_safetensors_meta(f, "nope"));
    ck_assert_int_eq(lm_safetensors_meta_count(f), 2);
    lm_safetensors_close(f);

    /* rewriting replaces the file atomically */
    ck_assert_int_eq(lm_safetensors_writer_open(&w, path), 0);
    ck_assert_int_eq(lm_safetensors_writer_add(w, "only", LM_DT_U8, s2, 1, u8, 2), 0);
    ck_assert_int_eq(lm_safetensors_writer_close(w), 0);
    ck_assert_int_eq(lm_safetensors_open(&f, path), 0);
    ck_assert_int_eq(lm_safetensors_count(f), 1);
    ck_assert_int_eq(lm_safetensors_meta_count(f), 0);
    lm_safetensors_close(f);
    ck_assert_int_eq(count_files(g_dir), 1);

    /* an empty file set is valid */
    ck_assert_int_eq(lm_safetensors_writer_open(&w, path), 0);
    ck_assert_int_eq(lm_safetensors_writer_close(w), 0);
    ck_assert_int_eq(lm_safetensors_open(&f, path), 0);
    ck_assert_int_eq(lm_safetensors_count(f), 0);
    lm_safetensors_close(f);
    lm_safetensors_close(NULL);
    lm_safetensors_writer_abort(NULL);
    ck_assert_int_eq(lm_safetensors_writer_close(NULL), 0);
    rm_tmpdir();
}
END_TEST

START_TEST(test_writer_rejects_bad_input) {
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/w.safetensors", g_dir);
    float x[4] = {0};
    const int64_t s4[1] = {4}, s2[1] = {2}, neg[1] = {-1};
    lm_safetensors_writer *w = NULL;
    ck_assert_int_eq(lm_safetensors_writer_open(&w, path), 0);
    ck_assert_int_lt(lm_safetensors_writer_add(w, "a", LM_DT_F32, s4, 1, x, 8), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "do not match"));
    ck_assert_int_lt(lm_safetensors_writer_add(w, "a", LM_DT_F32, neg, 1, x, 0), 0);
    ck_assert_int_lt(lm_safetensors_writer_add(w, "a", 99, s4, 1, x, 16), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "invalid dtype"));
    ck_assert_int_lt(lm_safetensors_writer_add(w, "__metadata__", LM_DT_F32, s4, 1, x, 16), 0);
    ck_assert_int_lt(lm_safetensors_writer_add(w, "bad\xff", LM_DT_F32, s4, 1, x, 16), 0);
    ck_assert_int_lt(lm_safetensors_writer_add(w, "a", LM_DT_F32, s4, 9, x, 16), 0);
    ck_assert_int_eq(lm_safetensors_writer_add(w, "a", LM_DT_F32, s4, 1, x, 16), 0);
    ck_assert_int_lt(lm_safetensors_writer_add(w, "a", LM_DT_F32, s2, 1, x, 8), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "duplicate"));
    lm_safetensors_writer_abort(w);
    ck_assert_int_eq(count_files(g_dir), 0);
    /* a directory that does not exist: error, nothing created */
    char bad[320];
    snprintf(bad, sizeof bad, "%s/nodir/w.safetensors", g_dir);
    ck_assert_int_eq(lm_safetensors_writer_open(&w, bad), 0);
    ck_assert_int_eq(lm_safetensors_writer_add(w, "a", LM_DT_F32, s4, 1, x, 16), 0);
    ck_assert_int_lt(lm_safetensors_writer_close(w), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "nodir"));
    ck_assert_int_eq(count_files(g_dir), 0);
    rm_tmpdir();
}
END_TEST

/* A file written by tests/ref/safetensors_io.py (tests/ref/gen_pth_fixtures.py): values are aranges. */
START_TEST(test_reads_st_py_file) {
    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, FIX "st_py.safetensors") == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_safetensors_count(f), 9);
    const lm_safetensors_entry *e = lm_safetensors_find(f, "f32");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->dtype, LM_DT_F32);
    ck_assert_int_eq(e->ndim, 3);
    ck_assert_int_eq(e->shape[0], 2); ck_assert_int_eq(e->shape[1], 3); ck_assert_int_eq(e->shape[2], 4);
    for (int i = 0; i < 24; i++) {
        float v;
        memcpy(&v, (const char *)e->data + 4 * i, 4);
        ck_assert_float_eq(v, (float)i * 0.5f - 3.0f);
    }
    e = lm_safetensors_find(f, "f16");
    ck_assert_int_eq(e->dtype, LM_DT_F16);
    for (int i = 0; i < 6; i++) {
        uint16_t h;
        memcpy(&h, (const char *)e->data + 2 * i, 2);
        ck_assert_uint_eq(h, f16_bits[i]);
    }
    e = lm_safetensors_find(f, "bf16");
    ck_assert_int_eq(e->dtype, LM_DT_BF16);
    for (int i = 0; i < 6; i++) {
        uint16_t h;
        memcpy(&h, (const char *)e->data + 2 * i, 2);
        ck_assert_uint_eq(h, bf16_bits[i]);
    }
    e = lm_safetensors_find(f, "i64");
    ck_assert_int_eq(e->dtype, LM_DT_I64);
    for (int i = 0; i < 6; i++) {
        int64_t v;
        memcpy(&v, (const char *)e->data + 8 * i, 8);
        ck_assert_int_eq(v, i - 3);
    }
    e = lm_safetensors_find(f, "i32");
    for (int i = 0; i < 5; i++) {
        int32_t v;
        memcpy(&v, (const char *)e->data + 4 * i, 4);
        ck_assert_int_eq(v, 7 * i);
    }
    e = lm_safetensors_find(f, "u8");
    for (int i = 0; i < 6; i++) ck_assert_int_eq(((const uint8_t *)e->data)[i], 250 + i);
    e = lm_safetensors_find(f, "bool");
    ck_assert_int_eq(e->dtype, LM_DT_BOOL);
    const uint8_t want_b[4] = {1, 0, 0, 1};
    ck_assert_int_eq(memcmp(e->data, want_b, 4), 0);
    e = lm_safetensors_find(f, "scalar");
    ck_assert_int_eq(e->ndim, 0);
    float sc;
    memcpy(&sc, e->data, 4);
    ck_assert_float_eq(sc, 2.5f);
    e = lm_safetensors_find(f, "empty");
    ck_assert_int_eq(e->ndim, 2);
    ck_assert_int_eq(e->shape[0], 0);
    ck_assert_int_eq(e->nbytes, 0);
    ck_assert_str_eq(lm_safetensors_meta(f, "step"), "42");
    ck_assert_str_eq(lm_safetensors_meta(f, "note"), "quote \" and \\ and \xc3\xa9");
    lm_safetensors_close(f);
}
END_TEST

/* Builds "u64 len | header | data" in memory and opens it. */
static int open_hdr(const char *hdr, size_t data_len, lm_safetensors_file **f) {
    size_t hl = strlen(hdr);
    static uint8_t buf[1 << 16];
    ck_assert_uint_le(8 + hl + data_len, sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, 0x5a, data_len);
    return lm_safetensors_open_buffer(f, buf, 8 + hl + data_len, "hostile.safetensors");
}

START_TEST(test_hostile_headers) {
    static char deep[8192];
    strcpy(deep, "{\"t\":{\"dtype\":\"F32\",\"shape\":");
    for (int i = 0; i < 3000; i++) strcat(deep, "[");
    strcat(deep, "]}}");
    static char deep_obj[12000];
    deep_obj[0] = 0;
    for (int i = 0; i < 2000; i++) strcat(deep_obj, "{\"a\":");
    const struct { const char *hdr; size_t data; const char *want; } C[] = {
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside the data area"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,0]}}", 8, "outside the data area"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "outside the data area"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "needs 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "negative dim"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 0, "overflow"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,0]}}", 0, "integer overflow"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,0]}}", 0, "fraction"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "longer than 8"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate tensor name"},
        {"{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unknown dtype"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing field data_offsets"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unknown field"},
        {"{\"t\\x\":{}}", 0, "bad escape"},
        {"{\"t\\ud800\":{}}", 0, "bad escape"},
        {"{\"t\\u00\":{}}", 0, "bad escape"},
        {"{\"t\\u0000\":{}}", 0, "\\u0000"},
        {"{\"t\xff\":{}}", 0, "invalid UTF-8"},
        {"{\"t\xc0\xaf\":{}}", 0, "invalid UTF-8"},   /* overlong */
        {"{\"t\xed\xa0\x80\":{}}", 0, "invalid UTF-8"}, /* encoded surrogate */
        {"{\"t\n\":{}}", 0, "control character"},
        {"{\"t", 0, "unterminated string"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "expected ',' or '}'"},
        {"{} x", 0, "trailing bytes"},
        {"[]", 0, "expected '{'"},
        {"", 0, "unexpected end"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "must be a string"},
        {"{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "duplicate key"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate __metadata__"},
        {deep, 0, "expected an integer"},
        {deep_obj, 0, "unknown field"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        lm_safetensors_file *f = NULL;
        lm_err_clear();
        int rc = open_hdr(C[i].hdr, C[i].data, &f);
        ck_assert_msg(rc < 0, "case %zu accepted: %.80s", i, C[i].hdr);
        ck_assert_ptr_null(f);
        ck_assert_msg(strstr(lm_err_msg(), C[i].want) != NULL, "case %zu: message \"%s\" lacks \"%s\"", i, lm_err_msg(), C[i].want);
        ck_assert_msg(strstr(lm_err_msg(), "safetensors hostile.safetensors") != NULL, "case %zu: no file name in \"%s\"", i, lm_err_msg());
    }
    /* the tensor is named in tensor-level errors */
    lm_safetensors_file *f = NULL;
    ck_assert_int_lt(open_hdr("{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, &f), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "tensor \"enc.w\""));
    /* the same headers but valid: accepted (the cases above fail for the stated reason) */
    ck_assert_int_eq(open_hdr("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &f), 0);
    lm_safetensors_close(f);
    ck_assert_int_eq(open_hdr("{\"t\\u00e9\\ud83d\\ude00\" : { \"shape\" : [ ] , \"dtype\" : \"F32\", \"data_offsets\" : [ 0 , 4 ] } }  ", 4, &f), 0);
    ck_assert_ptr_nonnull(lm_safetensors_find(f, "t\xc3\xa9\xf0\x9f\x98\x80"));
    lm_safetensors_close(f);

    /* length field: longer than the file, over the limit, too short a file */
    uint8_t b[16] = {0};
    b[0] = 200;
    ck_assert_int_lt(lm_safetensors_open_buffer(&f, b, sizeof b, "x"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "exceeds the file"));
    memset(b, 0, sizeof b);
    b[3] = 0x10; /* 256 MiB */
    ck_assert_int_lt(lm_safetensors_open_buffer(&f, b, sizeof b, "x"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "limit"));
    memset(b, 0xff, 8);
    ck_assert_int_lt(lm_safetensors_open_buffer(&f, b, sizeof b, "x"), 0);
    ck_assert_int_lt(lm_safetensors_open_buffer(&f, b, 5, "x"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "too short"));
    /* a file that does not exist / a directory */
    ck_assert_int_lt(lm_safetensors_open(&f, FIX "does_not_exist.safetensors"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "does_not_exist"));
    ck_assert_int_lt(lm_safetensors_open(&f, FIX), 0);
}
END_TEST

/* Every prefix and many byte mutations of a real file: errors or success, never a crash. */
START_TEST(test_truncated_and_mutated_files) {
    FILE *fp = fopen(FIX "st_py.safetensors", "rb");
    ck_assert_ptr_nonnull(fp);
    static uint8_t orig[4096], buf[4096];
    size_t n = fread(orig, 1, sizeof orig, fp);
    fclose(fp);
    ck_assert_uint_gt(n, 100);
    lm_safetensors_file *f = NULL;
    int ok = 0;
    for (size_t l = 0; l < n; l++) {
        memcpy(buf, orig, l);
        if (lm_safetensors_open_buffer(&f, buf, l, "trunc") == 0) { ok++; lm_safetensors_close(f); }
    }
    ck_assert_int_eq(ok, 0); /* the data area is needed in full */
    uint64_t s = 12345;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, orig, n);
        int k = 1 + (int)(s % 4);
        for (int j = 0; j < k; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[(s >> 33) % n] = (uint8_t)(s >> 20);
        }
        if (lm_safetensors_open_buffer(&f, buf, n, "mut") == 0) {
            for (int i = 0; i < lm_safetensors_count(f); i++) {
                const lm_safetensors_entry *e = lm_safetensors_get(f, i);
                ck_assert(e->nbytes == 0 || ((const uint8_t *)e->data >= buf && (const uint8_t *)e->data + e->nbytes <= buf + n));
            }
            lm_safetensors_close(f);
        }
    }
}
END_TEST

/* ---- file mode: the writer's temp file gets 0666 & ~umask, without touching the umask ---- */

typedef struct mode_race {
    const char *dir;
    mode_t want;
    atomic_int stop;
    int created, bad;
    unsigned bad_mode;
} mode_race;

/* Creates files in a loop, as another thread of a trainer would, and checks their mode. */
static void *create_files(void *arg) {
    mode_race *r = arg;
    char p[512];
    snprintf(p, sizeof p, "%s/other", r->dir);
    while (!atomic_load(&r->stop)) {
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0) continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && (st.st_mode & 0777) != r->want) r->bad++, r->bad_mode = st.st_mode & 0777;
        r->created++;
        close(fd);
        unlink(p);
    }
    return NULL;
}

static void write_small(const char *path) {
    lm_safetensors_writer *w = NULL;
    uint8_t u8[2] = {1, 2};
    int64_t s1[1] = {2};
    ck_assert_int_eq(lm_safetensors_writer_open(&w, path), 0);
    ck_assert_int_eq(lm_safetensors_writer_add(w, "x", LM_DT_U8, s1, 1, u8, 2), 0);
    ck_assert_msg(lm_safetensors_writer_close(w) == 0, "%s", lm_err_msg());
}

START_TEST(test_file_mode_follows_umask) {
    make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.safetensors", g_dir);
    mode_t old = umask(027);
    struct stat st;
    write_small(path);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0640);
    umask(022);
    write_small(path);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644);
    /* while files are written, a file another thread creates gets 0666 & ~umask: the
     * writer used to set the process umask to 0 for a moment to read it */
    mode_race r = {.dir = g_dir, .want = 0644};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, create_files, &r), 0);
    for (int i = 0; i < 400; i++) write_small(path);
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    umask(old);
    printf("safetensors: 400 writes while another thread created %d files: %d with a wrong mode\n",
           r.created, r.bad);
    ck_assert_msg(r.bad == 0, "%d of %d files created meanwhile got mode %o, not 0644", r.bad, r.created,
                  r.bad_mode);
    ck_assert_int_eq(count_files(g_dir), 1); /* no temp file left behind */
    rm_tmpdir();
}
END_TEST

/* The f16/bf16 decoders (used by `lamac weights show --diff`) against libtorch's conversion,
 * every one of the 65536 bit patterns of each format, bit for bit (NaNs: both NaN). */
START_TEST(test_half_decoders_match_libtorch) {
    static uint16_t pat[65536];
    for (uint32_t u = 0; u < 65536; u++) pat[u] = (uint16_t)u;
    int64_t n = 65536;
    lt_dtype kinds[2] = {LT_F16, LT_BF16};
    for (int k = 0; k < 2; k++) {
        lt_scope_push();
        lt_tensor *f = lt_to_dtype(lt_from_buffer(pat, &n, 1, kinds[k]), LT_F32);
        ck_assert_msg(f != NULL, "%s", lt_error());
        const float *ref = lt_data(lt_contiguous(f));
        ck_assert_ptr_nonnull(ref);
        int bad = 0;
        for (uint32_t u = 0; u < 65536; u++) {
            float v = k ? lm_bf16_to_f32(pat[u]) : lm_f16_to_f32(pat[u]);
            if (isnan(ref[u]) ? !isnan(v) : memcmp(&v, &ref[u], 4) != 0) bad++;
        }
        printf("half decoders: %s, 65536 patterns, %d differ from libtorch\n", k ? "bf16" : "f16", bad);
        ck_assert_int_eq(bad, 0);
        lt_scope_pop();
    }
}
END_TEST

Suite *check_safetensors_suite(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_roundtrip_all_dtypes);
    tcase_add_test(tc, test_writer_rejects_bad_input);
    tcase_add_test(tc, test_reads_st_py_file);
    tcase_add_test(tc, test_hostile_headers);
    tcase_add_test(tc, test_truncated_and_mutated_files);
    tcase_add_test(tc, test_file_mode_follows_umask);
    tcase_add_test(tc, test_half_decoders_match_libtorch);
    suite_add_tcase(s, tc);
    return s;
}
