/* check_pth.c — io/pth: PyTorch .pth/.ckpt reading (zip and legacy formats) compared
 * bit for bit with what torch.load gives (fixtures by tests/ref/gen_pth_fixtures.py), the
 * real legacy LPIPS files, a Lightning-like checkpoint, hostile pickles and damaged files. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "io/pth.h"
#include "io/safetensors.h"

#define FIX "tests/fixtures/weights/"

/* Every tensor of the .pth equals the one of the same name in the expected safetensors. */
static void compare_with_expected(const lm_pth *p, const char *expected_path) {
    lm_safetensors_file *x = NULL;
    ck_assert_msg(lm_safetensors_open(&x, expected_path) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_pth_count(p), lm_safetensors_count(x));
    for (int i = 0; i < lm_safetensors_count(x); i++) {
        const lm_safetensors_entry *w = lm_safetensors_get(x, i), *g = lm_pth_find(p, w->name);
        ck_assert_msg(g != NULL, "%s: missing", w->name);
        ck_assert_ptr_eq(g, lm_pth_get(p, i)); /* same order as the pickle */
        ck_assert_msg(g->dtype == w->dtype, "%s: dtype %d, expected %d", w->name, g->dtype, w->dtype);
        ck_assert_int_eq(g->ndim, w->ndim);
        for (int d = 0; d < w->ndim; d++) ck_assert_int_eq(g->shape[d], w->shape[d]);
        ck_assert_int_eq(g->nbytes, w->nbytes);
        if (w->nbytes) ck_assert_msg(memcmp(g->data, w->data, w->nbytes) == 0, "%s: values differ", w->name);
    }
    lm_safetensors_close(x);
}

static double sum_f32(const lm_safetensors_entry *e) {
    double s = 0;
    for (size_t i = 0; i < e->nbytes / 4; i++) {
        float v;
        memcpy(&v, (const char *)e->data + 4 * i, 4);
        s += v;
    }
    return s;
}

/* The real legacy-format LPIPS files (storages tagged 'cuda:0'). */
START_TEST(test_lpips_legacy_files) {
    const char *names[3] = {"vgg", "alex", "squeeze"};
    const int nlin[3] = {5, 5, 7};
    for (int k = 0; k < 3; k++) {
        char path[256], exp[256];
        snprintf(path, sizeof path, FIX "lpips/%s.pth", names[k]);
        snprintf(exp, sizeof exp, FIX "lpips_%s_expected.safetensors", names[k]);
        lm_pth *p = NULL;
        ck_assert_msg(lm_pth_load(&p, path) == 0, "%s", lm_err_msg());
        ck_assert_str_eq(lm_pth_format(p), "legacy");
        ck_assert_int_eq(lm_pth_count(p), nlin[k]);
        compare_with_expected(p, exp);
        if (k == 0) {
            const int64_t ch[5] = {64, 128, 256, 512, 512};
            for (int i = 0; i < 5; i++) {
                char key[64];
                snprintf(key, sizeof key, "lin%d.model.1.weight", i);
                const lm_safetensors_entry *e = lm_pth_find(p, key);
                ck_assert_msg(e != NULL, "%s", key);
                ck_assert_int_eq(e->dtype, LM_DT_F32);
                ck_assert_int_eq(e->ndim, 4);
                ck_assert_int_eq(e->shape[0], 1); ck_assert_int_eq(e->shape[1], ch[i]);
                ck_assert_int_eq(e->shape[2], 1); ck_assert_int_eq(e->shape[3], 1);
                if (i == 0) printf("pth: lpips vgg lin0 sum %.6f\n", sum_f32(e));
            }
        }
        lm_pth_free(p);
    }
    /* the same file from a caller buffer */
    FILE *fp = fopen(FIX "lpips/vgg.pth", "rb");
    static uint8_t buf[1 << 15];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    lm_pth *p = NULL;
    ck_assert_int_eq(lm_pth_load_buffer(&p, buf, n, "vgg", 0), 0);
    compare_with_expected(p, FIX "lpips_vgg_expected.safetensors");
    lm_pth_free(p);
    lm_pth_free(NULL);
}
END_TEST

/* Module state_dict + views (offset, transposed, strided, stride 0), fp16/bf16/f64/ints/bool,
 * empty, scalar, Parameter: zip and legacy serialisations give torch.load's values. */
START_TEST(test_small_zip_and_legacy) {
    const char *files[2] = {FIX "small_zip.pth", FIX "small_legacy.pth"};
    const char *fmt[2] = {"zip", "legacy"};
    for (int k = 0; k < 2; k++) {
        lm_pth *p = NULL;
        ck_assert_msg(lm_pth_load(&p, files[k]) == 0, "%s", lm_err_msg());
        ck_assert_str_eq(lm_pth_format(p), fmt[k]);
        compare_with_expected(p, FIX "small_expected.safetensors");
        const lm_safetensors_entry *v = lm_pth_find(p, "view"); /* base[2:5, 1:4], base = arange*0.25-3 */
        ck_assert_int_eq(v->shape[0], 3);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                float x;
                memcpy(&x, (const char *)v->data + 4 * (3 * i + j), 4);
                ck_assert_float_eq(x, (float)((2 + i) * 10 + (1 + j)) * 0.25f - 3.0f);
            }
        ck_assert_ptr_nonnull(lm_pth_find(p, "1.num_batches_tracked"));
        ck_assert_ptr_nonnull(lm_pth_find(p, "nested.inner"));
        ck_assert_ptr_null(lm_pth_find(p, "nested"));
        lm_pth_free(p);
    }
}
END_TEST

/* {'state_dict': OrderedDict, 'epoch': 3, 'pytorch-lightning_version': '1.2.9', ...} */
START_TEST(test_lightning_checkpoint) {
    lm_pth *p = NULL;
    ck_assert_msg(lm_pth_load(&p, FIX "lightning.ckpt") == 0, "%s", lm_err_msg());
    ck_assert_str_eq(lm_pth_format(p), "zip");
    compare_with_expected(p, FIX "lightning_expected.safetensors"); /* only the state_dict */
    ck_assert_ptr_nonnull(lm_pth_find(p, "generator.model.1.ffc.convl2l.weight"));
    lm_safetensors_file *x = NULL;
    ck_assert_int_eq(lm_safetensors_open(&x, FIX "lightning_expected.safetensors"), 0);
    ck_assert_int_ge(lm_safetensors_meta_count(x), 9);
    for (int i = 0; i < lm_safetensors_meta_count(x); i++) {
        const char *k, *v;
        ck_assert_int_eq(lm_safetensors_meta_get(x, i, &k, &v), 0);
        const char *got = lm_pth_meta(p, k);
        ck_assert_msg(got != NULL, "metadata %s missing", k);
        ck_assert_msg(!strcmp(got, v), "metadata %s = \"%s\", expected \"%s\"", k, got, v);
    }
    lm_safetensors_close(x);
    ck_assert_ptr_null(lm_pth_meta(p, "state_dict"));
    ck_assert_ptr_null(lm_pth_meta(p, "no.such.key"));
    lm_pth_free(p);
}
END_TEST

/* ---- hostile input ----------------------------------------------------------------------- */
typedef struct { uint8_t b[1 << 20]; size_t n; } bbuf;

static void put(bbuf *b, const void *p, size_t n) {
    ck_assert_uint_le(b->n + n, sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
#define PUTS(b, lit) put(b, lit, sizeof(lit) - 1)

/* magic, protocol version 1001, sys info: the legacy preamble. */
static void legacy_prefix(bbuf *b) {
    b->n = 0;
    PUTS(b, "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
    PUTS(b, "\x80\x02M\xe9\x03.");
    PUTS(b, "\x80\x02}X\x0d\x00\x00\x00little_endian\x88s.");
}

static int load_legacy_payload(const char *payload, size_t n, unsigned flags, lm_pth **p) {
    static bbuf b;
    legacy_prefix(&b);
    put(&b, payload, n);
    PUTS(&b, "\x80\x02].");
    lm_err_clear();
    return lm_pth_load_buffer(p, b.b, b.n, "hostile.pth", flags);
}

START_TEST(test_hostile_pickles) {
#define P(lit) lit, sizeof(lit) - 1
    const struct { const char *pk; size_t n; const char *want; } C[] = {
        {P("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00ls\x85R."), "global 'os.system' refused"},
        {P("\x80\x02X\x05\x00\x00\x00posixX\x06\x00\x00\x00system\x93X\x02\x00\x00\x00ls\x85R."), "'posix.system' refused"},
        {P("\x80\x02" "cbuiltins\neval\nX\x01\x00\x00\x00" "1\x85R."), "'builtins.eval' refused"},
        {P("\x80\x02" "c__builtin__\ngetattr\n."), "'__builtin__.getattr' refused"},
        {P("\x80\x02" "csubprocess\ncheck_output\n."), "refused"},
        {P("\x80\x02" "ctorch\n__import__\n."), "refused"},
        {P("\x80\x02" "cos.path\njoin\n."), "refused"},
        {P("\x80\x02" "cfoo.bar\nBaz\n)\x81."), "not a known data class"},
        {P("\x80\x02" "cos\nsys tem\n."), "malformed global"},
        {P("\x80\x02\xff."), "opcode 0xff"},
        {P("\x80\x09."), "unsupported protocol"},
        {P("\x80\x02}q\x00"), "no STOP"},
        {P("\x80\x02X\xff\xff\x00\x00" "abc."), "truncated"},
        {P("\x80\x02h\x05."), "memo index 5 out of range"},
        {P("\x80\x02}r\xff\xff\xff\xff."), "out of range"},
        {P("\x80\x02j\x00\x00\x00\x01."), "out of range"},
        {P("\x80\x02" "a."), "stack underflow"},
        {P("\x80\x02."), "stack underflow"},
        {P("\x80\x02(."), "stack underflow"},
        {P("\x80\x02}X\x01\x00\x00\x00" "aK\x01u."), "no MARK"},
        {P("\x80\x02K\x01(K\x02K\x03u."), "SETITEM on a non-dict"},
        {P("\x80\x02X\x01\x00\x00\x00xQ."), "unsupported persistent id"},
        {P("\x80\x02K\x01K\x02R."), "REDUCE on a non-callable"},
        {P("\x80\x02]q\x00h\x00" "a."), "nesting deeper"}, /* a list that contains itself */
    };
#undef P
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        lm_pth *p = NULL;
        int rc = load_legacy_payload(C[i].pk, C[i].n, 0, &p);
        ck_assert_msg(rc < 0, "case %zu accepted", i);
        ck_assert_ptr_null(p);
        ck_assert_msg(strstr(lm_err_msg(), C[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, lm_err_msg(), C[i].want);
        ck_assert_msg(strstr(lm_err_msg(), "pth hostile.pth") != NULL, "case %zu: \"%s\"", i, lm_err_msg());
    }
    /* an unknown class is read as an opaque object on request; os.system never is */
    lm_pth *p = NULL;
    static const char opaque[] = "\x80\x02}X\x01\x00\x00\x00x" "cfoo.bar\nBaz\n)\x81K\x07\x85" "bs.";
    ck_assert_msg(load_legacy_payload(opaque, sizeof opaque - 1, LM_PTH_OPAQUE_UNKNOWN, &p) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_pth_count(p), 0);
    lm_pth_free(p);
    ck_assert_int_lt(load_legacy_payload("\x80\x02" "cos\nsystem\n.", 14, LM_PTH_OPAQUE_UNKNOWN, &p), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "refused"));

    /* a deeply nested list (100k levels) and a DAG with 2^60 paths: errors, no recursion blow-up */
    static bbuf d;
    d.n = 0;
    PUTS(&d, "\x80\x02");
    for (int i = 0; i < 100000; i++) PUTS(&d, "]");
    for (int i = 0; i < 99999; i++) PUTS(&d, "a");
    PUTS(&d, ".");
    ck_assert_int_lt(load_legacy_payload((const char *)d.b, d.n, 0, &p), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "nesting deeper"));
    d.n = 0;
    PUTS(&d, "\x80\x02]q\x00");
    for (int i = 0; i < 60; i++) PUTS(&d, "0(h\x00h\x00lq\x00");
    PUTS(&d, ".");
    ck_assert_int_lt(load_legacy_payload((const char *)d.b, d.n, 0, &p), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "too large"));

    /* not PyTorch files */
    ck_assert_int_lt(lm_pth_load_buffer(&p, "hello world", 11, "x", 0), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "not a PyTorch file"));
    ck_assert_int_lt(lm_pth_load_buffer(&p, "", 0, "x", 0), 0);
    ck_assert_int_lt(lm_pth_load_buffer(&p, "\x80\x02\x8a\x02\x01\x02.", 8, "x", 0), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "bad magic"));
    ck_assert_int_lt(lm_pth_load_buffer(&p, "PK\x03\x04xxxxxxxxxxxxxxxxxxxxxxxxxx", 30, "x", 0), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "zip"));
    ck_assert_int_eq(lm_pth_load(&p, FIX "deflated.pth"), LM_ENOTSUP);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "compressed"));
    ck_assert_int_lt(lm_pth_load(&p, FIX "no_such_file.pth"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "no_such_file.pth"));
}
END_TEST

/* A hand-made legacy file: {'t': rebuild_tensor_v2(storage 'k' of 4 floats, 0, size, (1,))}. */
static int storage_case_view(const char *size_pickle, size_t size_len, uint64_t file_numel, size_t data_bytes,
                             const char *view, size_t view_len, lm_pth **p) {
    static bbuf b;
    legacy_prefix(&b);
    PUTS(&b, "\x80\x02}X\x01\x00\x00\x00t" "ctorch._utils\n_rebuild_tensor_v2\n"
             "((X\x07\x00\x00\x00storage" "ctorch\nFloatStorage\n" "X\x01\x00\x00\x00k" "X\x06\x00\x00\x00" "cuda:0" "K\x04");
    put(&b, view, view_len);
    PUTS(&b, "tQK\x00");
    put(&b, size_pickle, size_len);
    PUTS(&b, "K\x01\x85\x89" "ccollections\nOrderedDict\n)Rt" "Rs.");
    PUTS(&b, "\x80\x02]X\x01\x00\x00\x00k" "a.");
    uint8_t n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (uint8_t)(file_numel >> (8 * i));
    put(&b, n8, 8);
    float v[4] = {1.5f, -2.0f, 3.25f, 4.0f};
    put(&b, v, data_bytes);
    lm_err_clear();
    return lm_pth_load_buffer(p, b.b, b.n, "handmade.pth", 0);
}

static int storage_case(const char *size_pickle, size_t size_len, uint64_t file_numel, size_t data_bytes, lm_pth **p) {
    return storage_case_view(size_pickle, size_len, file_numel, data_bytes, "N", 1, p);
}

START_TEST(test_storage_bounds) {
    lm_pth *p = NULL;
    ck_assert_msg(storage_case("K\x04\x85", 3, 4, 16, &p) == 0, "%s", lm_err_msg());
    const lm_safetensors_entry *e = lm_pth_find(p, "t");
    ck_assert_int_eq(e->ndim, 1);
    ck_assert_int_eq(e->shape[0], 4);
    float v[4];
    memcpy(v, e->data, 16);
    ck_assert_float_eq(v[2], 3.25f);
    lm_pth_free(p);
    ck_assert_int_lt(storage_case("K\x0a\x85", 3, 4, 16, &p), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "tensor \"t\": tensor reaches element 9 of a storage of 4"));
    ck_assert_int_lt(storage_case("J\xff\xff\xff\xff\x85", 6, 4, 16, &p), 0); /* size -1 */
    ck_assert_int_lt(storage_case("K\x04\x85", 3, 4, 12, &p), 0);              /* data truncated */
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "past the end"));
    ck_assert_int_lt(storage_case("K\x04\x85", 3, 3, 12, &p), 0);              /* fewer than declared */
    ck_assert_int_lt(storage_case("K\x04\x85", 3, (uint64_t)1 << 62, 16, &p), 0);
    /* legacy storage views (view_key, offset, size): elements 1..2 of the root storage */
    static const char VIEW12[] = "X\x01\x00\x00\x00vK\x01K\x02\x87", VIEW32[] = "X\x01\x00\x00\x00vK\x03K\x02\x87";
    ck_assert_msg(storage_case_view("K\x02\x85", 3, 4, 16, VIEW12, sizeof VIEW12 - 1, &p) == 0, "%s", lm_err_msg());
    e = lm_pth_find(p, "t");
    memcpy(v, e->data, 8);
    ck_assert_float_eq(v[0], -2.0f);
    ck_assert_float_eq(v[1], 3.25f);
    lm_pth_free(p);
    ck_assert_int_lt(storage_case_view("K\x03\x85", 3, 4, 16, VIEW12, sizeof VIEW12 - 1, &p), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "reaches element 2 of a storage of 2"));
    ck_assert_int_lt(storage_case_view("K\x01\x85", 3, 4, 16, VIEW32, sizeof VIEW32 - 1, &p), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "outside its storage"));
}
END_TEST

/* Every prefix of real files fails cleanly; random byte changes never crash. */
START_TEST(test_truncated_and_mutated_files) {
    const char *files[4] = {FIX "small_zip.pth", FIX "small_legacy.pth", FIX "lightning.ckpt", FIX "lpips/vgg.pth"};
    static uint8_t orig[1 << 15], buf[1 << 15];
    uint64_t s = 99;
    for (int k = 0; k < 4; k++) {
        FILE *fp = fopen(files[k], "rb");
        ck_assert_ptr_nonnull(fp);
        size_t n = fread(orig, 1, sizeof orig, fp);
        fclose(fp);
        ck_assert_uint_gt(n, 1000);
        ck_assert_uint_lt(n, sizeof orig);
        lm_pth *p = NULL;
        int ok = 0, loaded = 0;
        for (size_t l = 0; l < n; l += 1 + l / 512) {
            memcpy(buf, orig, l);
            if (lm_pth_load_buffer(&p, buf, l, "trunc", 0) == 0) { ok++; lm_pth_free(p); }
        }
        ck_assert_int_eq(ok, 0);
        for (int it = 0; it < 3000; it++) {
            memcpy(buf, orig, n);
            int m = 1 + (int)(s % 3);
            for (int j = 0; j < m; j++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                buf[(s >> 33) % n] = (uint8_t)(s >> 20);
            }
            if (lm_pth_load_buffer(&p, buf, n, "mut", LM_PTH_OPAQUE_UNKNOWN) == 0) {
                loaded++;
                for (int i = 0; i < lm_pth_count(p); i++) {
                    const lm_safetensors_entry *e = lm_pth_get(p, i);
                    volatile uint8_t acc = 0;
                    for (size_t j = 0; j < e->nbytes; j++) acc ^= ((const uint8_t *)e->data)[j]; /* readable */
                    (void)acc;
                }
                lm_pth_free(p);
            }
        }
        printf("pth: %s: 3000 mutations, %d still load\n", files[k], loaded);
    }
}
END_TEST

Suite *check_pth_suite(void) {
    Suite *s = suite_create("pth");
    TCase *tc = tcase_create("pth");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_lpips_legacy_files);
    tcase_add_test(tc, test_small_zip_and_legacy);
    tcase_add_test(tc, test_lightning_checkpoint);
    tcase_add_test(tc, test_hostile_pickles);
    tcase_add_test(tc, test_storage_bounds);
    tcase_add_test(tc, test_truncated_and_mutated_files);
    suite_add_tcase(s, tc);
    return s;
}
