/* check_export.c — io/pkwrite + io/zipwrite + io/pthwrite (our torch.save) and model/export
 * (lamac export's state_dict): files written by torch.save (tests/ref/gen_export_fixtures.py)
 * must equal ours in meaning, read back by io/pth (names, order, dtypes, shapes, bytes and
 * every scalar); the zip layout (64-byte aligned records, CRCs in the data descriptors);
 * EMA / --raw / --with-discr selection; fp16/bf16 conversion; writer misuse; atomic writes
 * with a symlink planted at the target. tests/ref/check_export_roundtrip.py checks the same
 * files with torch.load where python3-torch exists. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/err.h"
#include "shim/lt.h"
#include "io/pth.h"
#include "io/pthwrite.h"
#include "io/zipread.h"
#include "io/zipwrite.h"
#include "model/export.h"
#include "tests/testutil.h"
#include "run/predictor.h"

/* float32 -> f16/bf16 with libtorch's conversion (torch's .half() / .bfloat16()). */
static void to_half(uint16_t *dst, const float *src, int64_t n, lt_dtype dt) {
    lt_scope_push();
    lt_tensor *t = lt_to_dtype(lt_from_buffer(src, &n, 1, LT_F32), dt);
    ck_assert_msg(t && lt_to_buffer(t, dst, (size_t)n * 2) == 0, "%s", lt_error());
    lt_scope_pop();
}

#define FIX "tests/fixtures/export/"

/* Every tensor and every scalar of a equals b's (same order, dtype, shape, bytes). */
static void expect_same_meaning(const char *ours, const char *ref) {
    lm_pth *a = NULL, *b = NULL;
    ck_assert_msg(lm_pth_load(&a, ours) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_pth_load(&b, ref) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_pth_count(a) == lm_pth_count(b), "%s: %d tensors, torch.save's %d", ours, lm_pth_count(a), lm_pth_count(b));
    size_t bytes = 0;
    for (int i = 0; i < lm_pth_count(b); i++) {
        const lm_safetensors_entry *x = lm_pth_get(a, i), *y = lm_pth_get(b, i);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_msg(x->dtype == y->dtype, "%s: dtype %d vs %d", x->name, x->dtype, y->dtype);
        ck_assert_int_eq(x->ndim, y->ndim);
        for (int d = 0; d < x->ndim; d++) ck_assert_int_eq(x->shape[d], y->shape[d]);
        ck_assert_int_eq(x->nbytes, y->nbytes);
        if (x->nbytes) ck_assert_msg(!memcmp(x->data, y->data, x->nbytes), "%s: bytes differ", x->name);
        bytes += x->nbytes;
    }
    ck_assert_int_eq(lm_pth_meta_count(a), lm_pth_meta_count(b));
    for (int i = 0; i < lm_pth_meta_count(b); i++) {
        const char *k, *v;
        lm_pth_meta_get(b, i, &k, &v);
        const char *mine = lm_pth_meta(a, k);
        ck_assert_msg(mine != NULL, "%s: scalar %s missing", ours, k);
        ck_assert_msg(!strcmp(mine, v), "%s: %s = %s, torch.save's %s", ours, k, mine, v);
    }
    printf("export: %s = %s in meaning: %d tensors (%zu bytes), %d scalars\n", ours, ref,
           lm_pth_count(a), bytes, lm_pth_meta_count(a));
    lm_pth_free(a);
    lm_pth_free(b);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert(b != NULL);
    ck_assert_int_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* ---- the features value (mirror of features() in gen_export_fixtures.py) ----------------- */
static void build_features(lm_pthwrite *w, float *base, uint8_t *scratch) {
    char key[16];
    /* base = arange(24) * 0.5 - 3 */
    for (int i = 0; i < 24; i++) base[i] = (float)i * 0.5f - 3.f;
    double *f64 = (double *)scratch;                       /* 6 */
    uint16_t *f16 = (uint16_t *)(scratch + 64);            /* 10 */
    uint16_t *bf16 = (uint16_t *)(scratch + 96);           /* 8 */
    int64_t *i64 = (int64_t *)(scratch + 128);             /* 6 */
    int32_t *i32 = (int32_t *)(scratch + 176);             /* 6 */
    int16_t *i16 = (int16_t *)(scratch + 208);             /* 6 */
    int8_t *i8 = (int8_t *)(scratch + 224);                /* 8 */
    uint8_t *u8 = scratch + 232;                           /* 6 */
    uint8_t *bo = scratch + 240;                           /* 3 */
    float *sc = (float *)(scratch + 244);                  /* 1 */
    for (int i = 0; i < 6; i++) f64[i] = base[i];
    to_half(f16, base, 10, LT_F16);
    to_half(bf16, base, 8, LT_BF16);
    for (int i = 0; i < 6; i++) { i64[i] = i - 3; i32[i] = i - 2; i16[i] = (int16_t)(-300 + 100 * i); u8[i] = (uint8_t)(250 + i); }
    for (int i = 0; i < 8; i++) i8[i] = (int8_t)(i - 4);
    bo[0] = 1; bo[1] = 0; bo[2] = 1;
    *sc = 3.5f;
    ck_assert_int_eq(lm_pthwrite_dict_begin(w, 0), 0);
    lm_pthwrite_str(w, "state_dict");
    lm_pthwrite_dict_begin(w, 1);
    int64_t s[5];
    lm_pthwrite_str(w, "f32"); s[0] = 2; s[1] = 3; s[2] = 4; lm_pthwrite_tensor(w, LM_DT_F32, s, 3, base, 96);
    lm_pthwrite_str(w, "f64"); s[0] = 3; s[1] = 2; lm_pthwrite_tensor(w, LM_DT_F64, s, 2, f64, 48);
    lm_pthwrite_str(w, "f16"); s[0] = 10; lm_pthwrite_tensor(w, LM_DT_F16, s, 1, f16, 20);
    lm_pthwrite_str(w, "bf16"); s[0] = s[1] = s[2] = 2; lm_pthwrite_tensor(w, LM_DT_BF16, s, 3, bf16, 16);
    lm_pthwrite_str(w, "i64"); s[0] = 6; lm_pthwrite_tensor(w, LM_DT_I64, s, 1, i64, 48);
    lm_pthwrite_str(w, "i32"); s[0] = 2; s[1] = 3; lm_pthwrite_tensor(w, LM_DT_I32, s, 2, i32, 24);
    lm_pthwrite_str(w, "i16"); s[0] = 6; lm_pthwrite_tensor(w, LM_DT_I16, s, 1, i16, 12);
    lm_pthwrite_str(w, "i8"); s[0] = 8; lm_pthwrite_tensor(w, LM_DT_I8, s, 1, i8, 8);
    lm_pthwrite_str(w, "u8"); s[0] = 6; lm_pthwrite_tensor(w, LM_DT_U8, s, 1, u8, 6);
    lm_pthwrite_str(w, "bool"); s[0] = 3; lm_pthwrite_tensor(w, LM_DT_BOOL, s, 1, bo, 3);
    lm_pthwrite_str(w, "scalar"); lm_pthwrite_tensor(w, LM_DT_F32, s, 0, sc, 4);
    lm_pthwrite_str(w, "empty"); s[0] = 0; s[1] = 3; lm_pthwrite_tensor(w, LM_DT_F32, s, 2, NULL, 0);
    lm_pthwrite_str(w, "r5"); s[0] = 2; s[1] = 3; s[2] = 1; s[3] = 2; s[4] = 2; lm_pthwrite_tensor(w, LM_DT_F32, s, 5, base, 96);
    ck_assert_int_eq(lm_pthwrite_end(w), 0);
    lm_pthwrite_str(w, "epoch"); lm_pthwrite_int(w, 7);
    lm_pthwrite_str(w, "small"); lm_pthwrite_int(w, 200);
    lm_pthwrite_str(w, "medium"); lm_pthwrite_int(w, 60000);
    lm_pthwrite_str(w, "big"); lm_pthwrite_int(w, 3000000000ll);
    lm_pthwrite_str(w, "neg"); lm_pthwrite_int(w, -5);
    lm_pthwrite_str(w, "negbig"); lm_pthwrite_int(w, -70000);
    lm_pthwrite_str(w, "huge"); lm_pthwrite_int(w, -(1ll << 62));
    lm_pthwrite_str(w, "lr"); lm_pthwrite_float(w, 0.001);
    lm_pthwrite_str(w, "neg_float"); lm_pthwrite_float(w, -2.5e-300);
    lm_pthwrite_str(w, "name"); lm_pthwrite_str(w, "lamac");
    lm_pthwrite_str(w, "unicode"); lm_pthwrite_str(w, "gr\xc3\xb6\xc3\x9f" "e");
    lm_pthwrite_str(w, "flag"); lm_pthwrite_bool(w, 1);
    lm_pthwrite_str(w, "off"); lm_pthwrite_bool(w, 0);
    lm_pthwrite_str(w, "nothing"); lm_pthwrite_none(w);
    lm_pthwrite_str(w, "hparams");
    lm_pthwrite_dict_begin(w, 0);
    lm_pthwrite_str(w, "a");
    lm_pthwrite_dict_begin(w, 0);
    lm_pthwrite_str(w, "b"); lm_pthwrite_int(w, 2);
    lm_pthwrite_str(w, "c");
    lm_pthwrite_list_begin(w);
    lm_pthwrite_int(w, 1); lm_pthwrite_float(w, 2.5); lm_pthwrite_str(w, "x"); lm_pthwrite_none(w);
    lm_pthwrite_end(w);
    lm_pthwrite_end(w);
    lm_pthwrite_str(w, "empty_list"); lm_pthwrite_list_begin(w); lm_pthwrite_end(w);
    lm_pthwrite_str(w, "empty_dict"); lm_pthwrite_dict_begin(w, 0); lm_pthwrite_end(w);
    lm_pthwrite_end(w);
    lm_pthwrite_str(w, "many");
    lm_pthwrite_dict_begin(w, 0);
    for (int i = 0; i < 1200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        lm_pthwrite_str(w, key);
        lm_pthwrite_int(w, i);
    }
    lm_pthwrite_end(w);
    lm_pthwrite_str(w, "long_list");
    lm_pthwrite_list_begin(w);
    for (int i = 0; i < 1100; i++) lm_pthwrite_int(w, i);
    lm_pthwrite_end(w);
    ck_assert_msg(lm_pthwrite_end(w) == 0, "%s", lm_err_msg());
}


START_TEST(test_crc32) {
    ck_assert_uint_eq(lm_crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(lm_crc32(lm_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    ck_assert_uint_eq(lm_crc32(0, NULL, 0), 0);
}
END_TEST

START_TEST(test_features_equal_torch_save) {
    char dir[256], path[512];
    lm_test_tmpdir(dir, sizeof dir, "export");
    snprintf(path, sizeof path, "%s/features.pth", dir);
    float base[24];
    uint8_t scratch[256];
    lm_pthwrite *w = NULL;
    ck_assert_int_eq(lm_pthwrite_create(&w), 0);
    build_features(w, base, scratch);
    ck_assert_msg(lm_pthwrite_write(w, path) == 0, "%s", lm_err_msg());
    lm_pthwrite_free(w);
    expect_same_meaning(path, FIX "features_torch.pth");
    /* deterministic output, committed as features_lamac.pth (a fuzz seed with every dtype,
     * torch.load-checked by tests/ref/check_export_roundtrip.py); LM_REGEN_FIXTURES=1 rewrites it */
    if (getenv("LM_REGEN_FIXTURES")) {
        ck_assert_int_eq(lm_pthwrite_create(&w), 0);
        build_features(w, base, scratch);
        ck_assert_msg(lm_pthwrite_write(w, FIX "features_lamac.pth") == 0, "%s", lm_err_msg());
        lm_pthwrite_free(w);
    }
    {
        size_t n1, n2;
        unsigned char *a = slurp(path, &n1), *b = slurp(FIX "features_lamac.pth", &n2);
        ck_assert_msg(n1 == n2 && !memcmp(a, b, n1), "features_lamac.pth differs from a fresh write (LM_REGEN_FIXTURES=1)");
        free(a);
        free(b);
    }

    /* zip layout: records in torch.save's order, data 64-byte aligned, descriptors' CRCs right */
    size_t n;
    unsigned char *buf = slurp(path, &n);
    lm_zipread *z = NULL;
    ck_assert_msg(lm_zipread_open(&z, buf, n) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_zipread_count(z), 2 + 13 + 1);
    ck_assert_str_eq(lm_zipread_get(z, 0)->name, "archive/data.pkl");
    ck_assert_str_eq(lm_zipread_get(z, 1)->name, "archive/byteorder");
    ck_assert_str_eq(lm_zipread_get(z, 2)->name, "archive/data/0");
    ck_assert_str_eq(lm_zipread_get(z, 15)->name, "archive/version");
    ck_assert_int_eq(lm_zipread_get(z, 15)->size, 2);
    ck_assert(!memcmp(lm_zipread_get(z, 15)->data, "3\n", 2));
    for (int i = 0; i < lm_zipread_count(z); i++) {
        const lm_zipread_entry *e = lm_zipread_get(z, i);
        ck_assert_int_eq(e->method, 0);
        ck_assert_msg((size_t)(e->data - buf) % 64 == 0, "%s at %zu", e->name, (size_t)(e->data - buf));
        const unsigned char *d = e->data + e->size;
        uint32_t sig = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
        uint32_t crc = (uint32_t)d[4] | (uint32_t)d[5] << 8 | (uint32_t)d[6] << 16 | (uint32_t)d[7] << 24;
        ck_assert_uint_eq(sig, 0x08074b50u);
        ck_assert_uint_eq(crc, lm_crc32(0, e->data, e->size));
    }
    lm_zipread_free(z);
    /* the pickle starts as torch.save's: PROTO 2, EMPTY_DICT, BINPUT 0 */
    const lm_zipread_entry *pk = NULL;
    lm_zipread_open(&z, buf, n);
    pk = lm_zipread_get(z, 0);
    ck_assert(!memcmp(pk->data, "\x80\x02}q\x00(", 6));
    ck_assert_uint_eq(pk->data[pk->size - 1], '.');
    lm_zipread_free(z);
    free(buf);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_writer_misuse) {
    lm_pthwrite *w = NULL;
    int64_t s[1] = {2};
    float v[2] = {1, 2};
    ck_assert_int_eq(lm_pthwrite_create(&w), 0);
    ck_assert_int_lt(lm_pthwrite_end(w), 0); /* nothing open */
    lm_pthwrite_free(w);
    lm_pthwrite_create(&w);
    lm_pthwrite_dict_begin(w, 1);
    lm_pthwrite_str(w, "k");
    ck_assert_int_lt(lm_pthwrite_end(w), 0); /* key without a value */
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "key without a value"));
    ck_assert_int_lt(lm_pthwrite_int(w, 1), 0); /* sticky failure */
    lm_pthwrite_free(w);
    lm_pthwrite_create(&w);
    lm_pthwrite_int(w, 1);
    ck_assert_int_lt(lm_pthwrite_int(w, 2), 0); /* two top-level values */
    lm_pthwrite_free(w);
    lm_pthwrite_create(&w);
    ck_assert_int_lt(lm_pthwrite_tensor(w, LM_DT_F32, s, 1, v, 4), 0); /* bytes != shape */
    lm_pthwrite_free(w);
    lm_pthwrite_create(&w);
    ck_assert_int_lt(lm_pthwrite_str(w, "bad \xff\xfe utf-8"), 0); /* torch.load could not decode it */
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "UTF-8"));
    lm_pthwrite_free(w);
    lm_pthwrite_create(&w);
    ck_assert_int_lt(lm_pthwrite_str(w, "\xed\xa0\x80"), 0); /* a surrogate */
    lm_pthwrite_free(w);
    lm_pthwrite_create(&w);
    ck_assert_int_eq(lm_pthwrite_str(w, "\xf0\x9f\x98\x80 ok"), 0);
    lm_pthwrite_free(w);
    lm_pthwrite_create(&w);
    lm_pthwrite_list_begin(w);
    ck_assert_int_lt(lm_pthwrite_write(w, "/tmp/lamac_never_written.pth"), 0); /* still open */
    ck_assert_int_ne(access("/tmp/lamac_never_written.pth", F_OK), 0);
    lm_pthwrite_free(w);
}
END_TEST

/* Every fixture the reader takes (views, shared storages, fp16/bf16/f64/int dtypes, legacy
 * cuda:0 storages, safetensors) written back by our writer reads as the same tensors. */
START_TEST(test_reader_writer_round_trip) {
    static const char *const files[] = {
        "tests/fixtures/weights/small_zip.pth", "tests/fixtures/weights/small_legacy.pth",
        "tests/fixtures/weights/lightning.ckpt", "tests/fixtures/weights/lpips/squeeze.pth",
        "tests/fixtures/weights/half_save.safetensors", "tests/fixtures/weights/st_py.safetensors"};
    char dir[256], path[512];
    lm_test_tmpdir(dir, sizeof dir, "export");
    snprintf(path, sizeof path, "%s/rt.pth", dir);
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        lm_weights_src *s = NULL;
        lm_pthwrite *w = NULL;
        ck_assert_msg(lm_weights_open(&s, files[k]) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(lm_pthwrite_create(&w), 0);
        lm_pthwrite_dict_begin(w, 1);
        for (int i = 0; i < lm_weights_count(s); i++) {
            const lm_safetensors_entry *e = lm_weights_get(s, i);
            lm_pthwrite_str(w, e->name);
            ck_assert_msg(lm_pthwrite_tensor(w, e->dtype, e->shape, e->ndim, e->data, e->nbytes) == 0, "%s", lm_err_msg());
        }
        lm_pthwrite_end(w);
        ck_assert_msg(lm_pthwrite_write(w, path) == 0, "%s", lm_err_msg());
        lm_pthwrite_free(w);
        lm_pth *p = NULL;
        ck_assert_msg(lm_pth_load(&p, path) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(lm_pth_count(p), lm_weights_count(s));
        for (int i = 0; i < lm_pth_count(p); i++) {
            const lm_safetensors_entry *x = lm_pth_get(p, i), *y = lm_weights_get(s, i);
            ck_assert_str_eq(x->name, y->name);
            ck_assert_int_eq(x->dtype, y->dtype);
            ck_assert_int_eq(x->ndim, y->ndim);
            for (int d = 0; d < x->ndim; d++) ck_assert_int_eq(x->shape[d], y->shape[d]);
            ck_assert_int_eq(x->nbytes, y->nbytes);
            if (x->nbytes) ck_assert_msg(!memcmp(x->data, y->data, x->nbytes), "%s: %s differs", files[k], x->name);
        }
        printf("export: %s -> our .pth -> %d equal tensors\n", files[k], lm_pth_count(p));
        lm_pth_free(p);
        lm_weights_close(s);
    }
    lm_test_rmtree(dir);
}
END_TEST

static void export_to(const char *src, const lm_export_opts *o, const char *out, int ckpt) {
    lm_weights_src *s = NULL;
    lm_export e;
    ck_assert_msg(lm_weights_open(&s, src) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_export_select(&e, s, o) == 0, "%s", lm_err_msg());
    if (ckpt) ck_assert_msg(lm_export_write_ckpt(&e, out, 0, 42) == 0, "%s", lm_err_msg());
    else ck_assert_msg(lm_export_write_state_dict(&e, out) == 0, "%s", lm_err_msg());
    lm_export_free(&e);
    lm_weights_close(s);
}

START_TEST(test_export_equals_torch_save) {
    char dir[256], path[512];
    lm_test_tmpdir(dir, sizeof dir, "export");
    const char *ck = FIX "run/checkpoints/last.safetensors";
    lm_export_opts o = lm_export_defaults();
    snprintf(path, sizeof path, "%s/g.pth", dir);
    export_to(ck, &o, path, 0);
    expect_same_meaning(path, FIX "expected_generator.pth");
    /* our output is deterministic: the committed copy (a fuzz seed) is byte for byte the same */
    size_t n1, n2;
    unsigned char *a = slurp(path, &n1), *b = slurp(FIX "lamac_generator.pth", &n2);
    ck_assert_msg(n1 == n2 && !memcmp(a, b, n1), "lamac_generator.pth differs from a fresh export: regenerate it "
                  "(lamac export tests/fixtures/export/run --format pth --out tests/fixtures/export/lamac_generator.pth)");
    free(a);
    free(b);
    o.raw = 1;
    o.with_discr = 1;
    snprintf(path, sizeof path, "%s/raw.pth", dir);
    export_to(ck, &o, path, 0);
    expect_same_meaning(path, FIX "expected_raw_discr.pth");
    snprintf(path, sizeof path, "%s/best.ckpt", dir);
    export_to(ck, NULL, path, 1);
    expect_same_meaning(path, FIX "expected_best.ckpt");
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_export_selection) {
    lm_weights_src *s = NULL;
    lm_export e;
    lm_export_opts o = lm_export_defaults();
    ck_assert_int_eq(lm_weights_open(&s, FIX "run/checkpoints/last.safetensors"), 0);
    ck_assert_int_eq(lm_export_select(&e, s, &o), 0);
    ck_assert_int_eq(e.used_ema, 1);
    ck_assert_int_eq(e.n_generator, 105);
    ck_assert_int_eq(e.n_discriminator, 0);
    ck_assert_int_eq(e.n_dropped, lm_weights_count(s) - 105);
    for (int i = 0; i < e.n; i++) {
        ck_assert(!strncmp(e.t[i].name, "generator.", 10));
        ck_assert(!strncmp(e.t[i].from, "generator_average.", 18));
    }
    lm_export_free(&e);
    /* fp16: every float converted with round-to-nearest-even, integers kept */
    o.dtype = LM_DT_F16;
    ck_assert_int_eq(lm_export_select(&e, s, &o), 0);
    int nf = 0;
    for (int i = 0; i < e.n; i++) {
        const lm_safetensors_entry *src = lm_weights_find(s, e.t[i].from);
        if (src->dtype == LM_DT_I64) { ck_assert_int_eq(e.t[i].dtype, LM_DT_I64); continue; }
        ck_assert_int_eq(e.t[i].dtype, LM_DT_F16);
        for (size_t k = 0; k < src->nbytes / 4; k++) {
            float f;
            uint16_t h;
            memcpy(&f, (const char *)src->data + 4 * k, 4);
            memcpy(&h, (const char *)e.t[i].data + 2 * k, 2);
            uint16_t want;
            to_half(&want, &f, 1, LT_F16);
            ck_assert_uint_eq(h, want);
        }
        nf++;
    }
    ck_assert_int_gt(nf, 50);
    lm_export_free(&e);
    lm_weights_close(s);
    /* a file without generator.* tensors; --with-discr on a generator-only file */
    ck_assert_int_eq(lm_weights_open(&s, FIX "features_torch.pth"), 0);
    ck_assert_int_lt(lm_export_select(&e, s, NULL), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "no generator.* tensors"));
    lm_weights_close(s);
    ck_assert_int_eq(lm_weights_open(&s, FIX "expected_generator.pth"), 0);
    o = lm_export_defaults();
    o.with_discr = 1;
    ck_assert_int_lt(lm_export_select(&e, s, &o), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "no discriminator"));
    lm_weights_close(s);
}
END_TEST

START_TEST(test_atomic_symlink_at_target) {
    char dir[256], outside[512], target[512], sub[512], buf[64] = {0};
    lm_test_tmpdir(dir, sizeof dir, "export");
    snprintf(outside, sizeof outside, "%s/outside.txt", dir);
    snprintf(sub, sizeof sub, "%s/out", dir);
    ck_assert_int_eq(mkdir(sub, 0777), 0);
    snprintf(target, sizeof target, "%s/out/model.pth", dir);
    ck_assert_int_eq(lm_atomic_write_file(outside, "keep", 4), 0);
    ck_assert_int_eq(symlink(outside, target), 0);
    ck_assert_msg(lm_atomic_write_file(target, "new!", 4) == 0, "%s", lm_err_msg());
    struct stat st;
    ck_assert_int_eq(lstat(target, &st), 0);
    ck_assert(S_ISREG(st.st_mode)); /* the link was replaced, not followed */
    FILE *f = fopen(outside, "rb");
    ck_assert_int_eq(fread(buf, 1, sizeof buf, f), 4);
    fclose(f);
    ck_assert_str_eq(buf, "keep");
    /* a folder planted as a symlink is refused by lm_mkdir_real */
    char link[600];
    snprintf(link, sizeof link, "%s/out/models", dir);
    ck_assert_int_eq(symlink("/tmp", link), 0);
    ck_assert_int_lt(lm_mkdir_real(link), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "symlink"));
    snprintf(link, sizeof link, "%s/out/a/b/c", dir);
    ck_assert_int_eq(lm_mkdir_real(link), 0);
    ck_assert_int_eq(lm_mkdir_real(link), 0);
    /* no temporary file is left behind after a failed write (a directory at the target) */
    ck_assert_int_lt(lm_atomic_write_file(sub, "x", 1), 0);
    lm_test_rmtree(dir);
}
END_TEST


/* ---- the commands: lamac import / export / weights show ------------------------------------ */

/* Every tensor of a safetensors file equals the expected one (names in order, dtype, bytes). */
static void expect_st_equal(const char *got, const char *expected, const char *strip) {
    lm_safetensors_file *a = NULL, *b = NULL;
    ck_assert_msg(lm_safetensors_open(&a, got) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_safetensors_open(&b, expected) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_safetensors_count(a), lm_safetensors_count(b));
    for (int i = 0; i < lm_safetensors_count(b); i++) {
        const lm_safetensors_entry *x = lm_safetensors_get(a, i), *y = lm_safetensors_get(b, i);
        const char *yn = strip && !strncmp(y->name, strip, strlen(strip)) ? y->name + strlen(strip) : y->name;
        ck_assert_str_eq(x->name, yn);
        ck_assert_int_eq(x->dtype, y->dtype);
        ck_assert_int_eq(x->ndim, y->ndim);
        ck_assert_int_eq(x->nbytes, y->nbytes);
        if (x->nbytes) ck_assert_msg(!memcmp(x->data, y->data, x->nbytes), "%s: values differ", x->name);
    }
    lm_safetensors_close(a);
    lm_safetensors_close(b);
}

START_TEST(test_cli_import) {
    char dir[256], out[512], o[8192];
    lm_test_tmpdir(dir, sizeof dir, "import");
    snprintf(out, sizeof out, "%s/x.safetensors", dir);
    static const char *const cases[][2] = {
        {"lightning.ckpt", "lightning_expected.safetensors"},
        {"small_legacy.pth", "small_expected.safetensors"},
        {"small_zip.pth", "small_expected.safetensors"},
        {"lpips/vgg.pth", "lpips_vgg_expected.safetensors"},
        {"lpips/alex.pth", "lpips_alex_expected.safetensors"},
        {"lpips/squeeze.pth", "lpips_squeeze_expected.safetensors"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int rc = lm_test_run(o, sizeof o, "import tests/fixtures/weights/%s --out %s", cases[k][0], out);
        ck_assert_msg(rc == 0, "%s: %s", cases[k][0], o);
        ck_assert_ptr_nonnull(strstr(o, "imported "));
        char exp[256];
        snprintf(exp, sizeof exp, "tests/fixtures/weights/%s", cases[k][1]);
        expect_st_equal(out, exp, NULL);
    }
    /* the Lightning scalars travel as metadata; --select/--strip */
    ck_assert_int_eq(lm_test_run(o, sizeof o, "import tests/fixtures/weights/lightning.ckpt --out %s "
                                 "--select generator. --strip generator.", out), 0);
    ck_assert_ptr_nonnull(strstr(o, "imported 3 of 4 tensors"));
    ck_assert_ptr_nonnull(strstr(o, "generator. 3 discriminator. 1"));
    lm_safetensors_file *f = NULL;
    ck_assert_int_eq(lm_safetensors_open(&f, out), 0);
    ck_assert_int_eq(lm_safetensors_count(f), 3);
    ck_assert_ptr_nonnull(lm_safetensors_find(f, "model.1.ffc.convl2l.weight") ? lm_safetensors_find(f, "model.1.ffc.convl2l.weight") : lm_safetensors_get(f, 0));
    for (int i = 0; i < lm_safetensors_count(f); i++) ck_assert(strncmp(lm_safetensors_get(f, i)->name, "generator.", 10));
    ck_assert_str_eq(lm_safetensors_meta(f, "source.global_step"), "1234");
    lm_safetensors_close(f);
    ck_assert_int_ne(lm_test_run(o, sizeof o, "import tests/fixtures/weights/lightning.ckpt --out %s --select nothing.", out), 0);
    ck_assert_ptr_nonnull(strstr(o, "no tensor matches --select"));
    ck_assert_int_eq(lm_test_run(o, sizeof o, "import tests/fixtures/weights/deflated.pth --out %s", out), 1);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "import --out %s", out), 2);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_cli_weights_show_diff) {
    char o[1 << 16];
    ck_assert_int_eq(lm_test_run(o, sizeof o, "weights show " FIX "expected_best.ckpt"), 0);
    ck_assert_ptr_nonnull(strstr(o, "generator.model.1.ffc.convl2l.weight"));
    ck_assert_ptr_nonnull(strstr(o, "(pth-zip): 105 tensors"));
    ck_assert_ptr_nonnull(strstr(o, "prefixes: generator. 105"));
    ck_assert_ptr_nonnull(strstr(o, "metadata global_step: 42"));
    /* identical contents in two formats */
    ck_assert_int_eq(lm_test_run(o, sizeof o, "weights show " FIX "lamac_generator.pth --diff " FIX "expected_best.ckpt"), 0);
    ck_assert_ptr_nonnull(strstr(o, "compared 105 tensors: max |a - b| = 0"));
    /* trained vs EMA weights: values differ, discriminator keys extra */
    ck_assert_int_eq(lm_test_run(o, sizeof o, "weights show " FIX "expected_generator.pth --diff " FIX "expected_raw_discr.pth"), 3);
    ck_assert_ptr_nonnull(strstr(o, "105 differ (atol 0), 0 missing"));
    ck_assert_ptr_nonnull(strstr(o, "32 extra"));
    ck_assert_int_eq(lm_test_run(o, sizeof o, "weights show " FIX "expected_generator.pth --diff " FIX "expected_raw_discr.pth --atol 100"), 3);
    ck_assert_ptr_nonnull(strstr(o, "0 differ (atol 100)"));
    ck_assert_int_eq(lm_test_run(o, sizeof o, "weights show /nonexistent.pth"), 1);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "weights show x --atol -1"), 2);
}
END_TEST

START_TEST(test_cli_export) {
    static char o[1 << 17]; /* a strict-load mismatch prints its table first */
    char dir[256], out[512], p[600];
    lm_test_tmpdir(dir, sizeof dir, "exportcli");
    /* lama-dir, read back by lamac's own reader and opened by lamac's predictor (strict load) */
    snprintf(out, sizeof out, "%s/lama", dir);
    int rc = lm_test_run(o, sizeof o, "export " FIX "run --format lama-dir --out %s", out);
    ck_assert_msg(rc == 0, "%s", o);
    ck_assert_ptr_nonnull(strstr(o, "from the EMA weights"));
    snprintf(p, sizeof p, "%s/models/best.ckpt", out);
    expect_same_meaning(p, FIX "expected_best.ckpt");
    lm_predictor *pr = NULL;
    ck_assert_msg(lm_predictor_open(&pr, out, NULL, LT_CPU, LT_F32, stderr) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(pr->params.n, 105);
    lm_predictor_close(pr);
    /* safetensors with the config in its metadata: the predictor opens it alone */
    snprintf(out, sizeof out, "%s/g.safetensors", dir);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run/checkpoints/last.safetensors --format safetensors --out %s --raw", out), 0);
    lm_safetensors_file *f = NULL;
    ck_assert_int_eq(lm_safetensors_open(&f, out), 0);
    ck_assert_str_eq(lm_safetensors_meta(f, "ema"), "false");
    ck_assert_str_eq(lm_safetensors_meta(f, "step"), "42");
    ck_assert_ptr_nonnull(lm_safetensors_meta(f, "config"));
    lm_safetensors_close(f);
    ck_assert_msg(lm_predictor_open(&pr, out, NULL, LT_CPU, LT_F32, stderr) == 0, "%s", lm_err_msg());
    lm_predictor_close(pr);
    /* usage errors, and lama-dir without any config */
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format pth --dtype f16 --out %s/x.pth", dir), 2);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format tflite --out %s/x", dir), 2);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format pth --size 64 --out %s/x", dir), 2);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format onnx --size 60 --out %s/x", dir), 2);
    ck_assert_ptr_nonnull(strstr(o, "multiple of 8"));
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format onnx --fft fast --out %s/x", dir), 2);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format torchscript --with-discr --out %s/x", dir), 2);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format pth generator.ngf=4 --out %s/x", dir), 2);
    ck_assert_ptr_nonnull(strstr(o, "apply to --config"));
    /* --config is composed as lamac train does (defaults list, overrides, interpolation) and
     * must describe the weights */
    snprintf(out, sizeof out, "%s/composed", dir);
    rc = lm_test_run(o, sizeof o, "export " FIX "run/checkpoints/last.safetensors --format lama-dir --config "
                     "configs/training/lama-fourier.yaml generator.ngf=4 generator.n_blocks=1 --out %s", out);
    ck_assert_msg(rc == 0, "%s", o);
    snprintf(p, sizeof p, "%s/config.yaml", out);
    char *yaml = lm_test_read_file(p);
    ck_assert_ptr_nonnull(strstr(yaml, "kind: ffc_resnet"));
    ck_assert_ptr_nonnull(strstr(yaml, "ngf: 4"));
    ck_assert_ptr_null(strstr(yaml, "${")); /* interpolations resolved */
    free(yaml);
    ck_assert_msg(lm_predictor_open(&pr, out, NULL, LT_CPU, LT_F32, stderr) == 0, "%s", lm_err_msg());
    lm_predictor_close(pr);
    snprintf(out, sizeof out, "%s/mismatch", dir);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run/checkpoints/last.safetensors --format lama-dir "
                                 "--config configs/training/lama-fourier.yaml --out %s", out), 1);
    ck_assert_ptr_nonnull(strstr(o, "does not describe these weights"));
    ck_assert_int_ne(access(out, F_OK), 0); /* nothing written */
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "expected_generator.pth --format lama-dir --out %s/nocfg", dir), 1);
    ck_assert_ptr_nonnull(strstr(o, "pass --config"));
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "features_torch.pth --format pth --out %s/x.pth", dir), 1);
    ck_assert_ptr_nonnull(strstr(o, "no generator.* tensors"));
    lm_test_rmtree(dir);
}
END_TEST

/* A symlink planted at --out (or at models/ of a lama-dir) never makes export write outside. */
START_TEST(test_cli_export_symlinks) {
    char dir[256], outside[512], target[512], o[8192], p[600];
    lm_test_tmpdir(dir, sizeof dir, "exportlink");
    snprintf(outside, sizeof outside, "%s/outside", dir);
    ck_assert_int_eq(mkdir(outside, 0777), 0);
    snprintf(p, sizeof p, "%s/victim.pth", outside);
    ck_assert_int_eq(lm_atomic_write_file(p, "keep", 4), 0);
    snprintf(target, sizeof target, "%s/model.pth", dir);
    ck_assert_int_eq(symlink(p, target), 0);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format pth --out %s", target), 0);
    struct stat st;
    ck_assert_int_eq(lstat(target, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, 4); /* the link's target is untouched */
    expect_same_meaning(target, FIX "expected_generator.pth");
    /* lama-dir whose models/ is a planted link to the outside folder: refused, nothing written */
    snprintf(target, sizeof target, "%s/lama", dir);
    ck_assert_int_eq(mkdir(target, 0777), 0);
    snprintf(p, sizeof p, "%s/lama/models", dir);
    ck_assert_int_eq(symlink(outside, p), 0);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format lama-dir --out %s", target), 1);
    ck_assert_ptr_nonnull(strstr(o, "symlink"));
    snprintf(p, sizeof p, "%s/best.ckpt", outside);
    ck_assert_int_ne(access(p, F_OK), 0);
    /* config.yaml planted as a link: replaced, the outside file untouched */
    snprintf(p, sizeof p, "%s/lama/models", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lama/config.yaml", dir);
    snprintf(outside + strlen(outside), sizeof outside - strlen(outside), "/victim.pth");
    ck_assert_int_eq(symlink(outside, p), 0);
    ck_assert_int_eq(lm_test_run(o, sizeof o, "export " FIX "run --format lama-dir --out %s", target), 0);
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(stat(outside, &st), 0);
    ck_assert_int_eq(st.st_size, 4);
    lm_test_rmtree(dir);
}
END_TEST


Suite *check_export_suite(void) {
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("export");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_crc32);
    tcase_add_test(tc, test_features_equal_torch_save);
    tcase_add_test(tc, test_writer_misuse);
    tcase_add_test(tc, test_reader_writer_round_trip);
    tcase_add_test(tc, test_export_equals_torch_save);
    tcase_add_test(tc, test_export_selection);
    tcase_add_test(tc, test_atomic_symlink_at_target);
    suite_add_tcase(s, tc);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 120);
    tcase_add_test(cli, test_cli_import);
    tcase_add_test(cli, test_cli_weights_show_diff);
    tcase_add_test(cli, test_cli_export);
    tcase_add_test(cli, test_cli_export_symlinks);
    suite_add_tcase(s, cli);
    return s;
}
