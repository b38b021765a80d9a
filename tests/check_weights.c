/* check_weights.c — model/weights: save/load round trip of a registry (exact), metadata,
 * F16/BF16 saving, the strict-mode mismatch table (missing, unexpected, shape, dtype; nothing
 * loaded), non-strict partial loads, keys outside the prefix ignored, format detection. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "model/discriminator.h"
#include "model/weights.h"
#include "tests/testutil.h"

static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[2][160];
    static int k;
    if (!g_dir[0]) {
        lm_test_tmpdir(g_dir, sizeof g_dir, "weights");
    }
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static lm_discriminator *make_d(lm_params *p, int ndf) {
    lm_params_init(p, LT_F32, LT_CPU);
    lm_discriminator_opts o = lm_test_discriminator_opts();
    o.ndf = ndf;
    o.n_layers = 3;
    lm_discriminator *d = NULL;
    ck_assert_msg(lm_discriminator_create(&d, p, &o) == 0, "%s", lm_err_msg());
    /* make buffers non-default so a copy is visible */
    lt_no_grad_push();
    for (int i = 0; i < p->n; i++)
        if (p->items[i].kind == LM_BUFFER) {
            if (lt_type(p->items[i].t) == LT_I64) lt_fill_(p->items[i].t, 7 + ndf);
            else lt_uniform_(p->items[i].t, 0.5, 1.5);
        }
    lt_no_grad_pop();
    return d;
}

static int equal(lt_tensor *a, lt_tensor *b) {
    lt_scope_push();
    int eq = lt_same_shape(a, b) && lt_type(a) == lt_type(b) &&
             lt_item(lt_max(lt_abs(lt_sub(lt_to_dtype(a, LT_F64), lt_to_dtype(b, LT_F64))))) == 0;
    lt_scope_pop();
    return eq;
}

/* removes the temporary directory after the test case */
static void teardown(void) {
    lm_test_rmtree(g_dir);
    g_dir[0] = 0;
}

START_TEST(test_round_trip_exact_with_metadata) {
    long live = lt_live_count();
    lm_params a, b;
    lm_discriminator *da = make_d(&a, 8), *db = make_d(&b, 8);
    lt_no_grad_push();
    lt_fill_(b.items[0].t, 0); /* differ from a for sure */
    lt_no_grad_pop();
    ck_assert(!equal(a.items[0].t, b.items[0].t));
    lm_weights_part part = {"discriminator.", &a};
    lm_weights_save_opts o = lm_weights_save_defaults();
    o.config = "generator:\n  kind: ffc_resnet\n";
    o.step = 1234;
    const char *extra[] = {"note", "hello", NULL};
    o.extra = extra;
    const char *path = tmp_path("rt.safetensors");
    ck_assert_msg(lm_weights_save(path, &part, 1, &o) == 0, "%s", lm_err_msg());
    lm_weights_src *s = NULL;
    ck_assert_msg(lm_weights_open(&s, path) == 0, "%s", lm_err_msg());
    ck_assert_str_eq(lm_weights_kind(s), "safetensors");
    ck_assert_str_eq(lm_weights_meta(s, "format"), LM_WEIGHTS_FORMAT);
    ck_assert_str_eq(lm_weights_meta(s, "config"), o.config);
    ck_assert_str_eq(lm_weights_meta(s, "step"), "1234");
    ck_assert_str_eq(lm_weights_meta(s, "note"), "hello");
    ck_assert_str_eq(lm_weights_meta(s, "dtype"), "F32");
    ck_assert_int_eq(lm_weights_count(s), a.n);
    ck_assert_int_eq(lm_weights_count_prefix(s, "discriminator."), a.n);
    ck_assert_ptr_nonnull(lm_weights_find(s, "discriminator.model1.1.num_batches_tracked"));
    ck_assert_int_eq(lm_weights_find(s, "discriminator.model1.1.num_batches_tracked")->dtype, LM_DT_I64);
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    ck_assert_msg(lm_weights_load(&b, s, "discriminator.", LM_WEIGHTS_STRICT, &rep) == 0, "%s",
                  lm_err_msg());
    ck_assert_int_eq(rep.n, 0);
    ck_assert_int_eq(rep.loaded, a.n);
    for (int i = 0; i < a.n; i++) {
        ck_assert_str_eq(a.items[i].name, b.items[i].name);
        ck_assert_msg(equal(a.items[i].t, b.items[i].t), "%s differs", a.items[i].name);
    }
    ck_assert_int_eq(lt_requires_grad(b.items[0].t), 1); /* still a trainable leaf */
    lm_weights_report_free(&rep);
    lm_weights_close(s);
    lm_discriminator_free(da);
    lm_discriminator_free(db);
    lm_params_free(&a);
    lm_params_free(&b);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_half_precision_save) {
    long live = lt_live_count();
    lm_params a, b;
    lm_discriminator *da = make_d(&a, 8), *db = make_d(&b, 8);
    lm_weights_part part = {"discriminator.", &a};
    lt_dtype dts[2] = {LT_F16, LT_BF16};
    const char *names[2] = {"F16", "BF16"};
    struct stat st32, st16;
    lm_weights_save_opts o = lm_weights_save_defaults();
    ck_assert_int_eq(lm_weights_save(tmp_path("f32.safetensors"), &part, 1, &o), 0);
    ck_assert_int_eq(stat(tmp_path("f32.safetensors"), &st32), 0);
    for (int k = 0; k < 2; k++) {
        o.dtype = dts[k];
        const char *path = tmp_path("half.safetensors");
        ck_assert_msg(lm_weights_save(path, &part, 1, &o) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(stat(path, &st16), 0);
        /* floats take half the bytes; the header is about the same */
        ck_assert_msg(st16.st_size < st32.st_size * 0.55, "%ld vs %ld", (long)st16.st_size,
                      (long)st32.st_size);
        lm_weights_src *s = NULL;
        ck_assert_int_eq(lm_weights_open(&s, path), 0);
        ck_assert_str_eq(lm_weights_meta(s, "dtype"), names[k]);
        ck_assert_int_eq(lm_weights_find(s, "discriminator.model0.0.weight")->dtype, (int)dts[k]);
        ck_assert_int_eq(lm_weights_find(s, "discriminator.model1.1.num_batches_tracked")->dtype,
                         LM_DT_I64);
        ck_assert_msg(lm_weights_load(&b, s, "discriminator.", 0, NULL) == 0, "%s", lm_err_msg());
        lt_scope_push();
        for (int i = 0; i < a.n; i++) {
            ck_assert_int_eq(lt_type(b.items[i].t), lt_type(a.items[i].t));
            if (lt_type(a.items[i].t) == LT_I64) {
                ck_assert(equal(a.items[i].t, b.items[i].t));
                continue;
            }
            /* exactly the rounded values */
            ck_assert(equal(lt_to_dtype(lt_to_dtype(a.items[i].t, dts[k]), LT_F32), b.items[i].t));
            double err = lt_item(lt_max(lt_abs(lt_sub(a.items[i].t, b.items[i].t))));
            double mag = lt_item(lt_max(lt_abs(a.items[i].t)));
            ck_assert_msg(err <= mag * (k ? 8e-3 : 1e-3), "%s: %g", a.items[i].name, err);
        }
        lt_scope_pop();
        lm_weights_close(s);
    }
    /* the bytes written are PyTorch's .half() / .bfloat16() of the same floats
     * (tests/ref/gen_half_fixture.py: ties, subnormals, overflow, +-0, +-inf, NaN, random) */
    lm_st_file *ref = NULL;
    ck_assert_msg(lm_st_open(&ref, "tests/fixtures/weights/half_save.safetensors") == 0, "%s", lm_err_msg());
    const lm_st_entry *x = lm_st_find(ref, "f32");
    ck_assert(x && x->dtype == LM_DT_F32);
    lm_params hp;
    lm_params_init(&hp, LT_F32, LT_CPU);
    ck_assert_ptr_nonnull(lm_params_add(&hp, "x", lt_from_buffer(x->data, x->shape, x->ndim, LT_F32), LM_BUFFER));
    lm_weights_part hpart = {"", &hp};
    const char *refname[2] = {"f16", "bf16"};
    for (int k = 0; k < 2; k++) {
        o.dtype = dts[k];
        const char *path = tmp_path("edges.safetensors");
        ck_assert_msg(lm_weights_save(path, &hpart, 1, &o) == 0, "%s", lm_err_msg());
        lm_st_file *got = NULL;
        ck_assert_msg(lm_st_open(&got, path) == 0, "%s", lm_err_msg());
        const lm_st_entry *g = lm_st_find(got, "x"), *e = lm_st_find(ref, refname[k]);
        ck_assert(g && e && g->dtype == (int)dts[k] && g->nbytes == e->nbytes);
        int bad = 0, first = -1;
        for (size_t i = 0; i < e->nbytes / 2; i++) {
            uint16_t a, b;
            memcpy(&a, (const char *)g->data + 2 * i, 2);
            memcpy(&b, (const char *)e->data + 2 * i, 2);
            /* a NaN's sign and payload are the kernel's choice: PyTorch's own .bfloat16() of
             * NaN gives 0xffff with AVX2/AVX-512 and 0x7fc0 with ATEN_CPU_CAPABILITY=default;
             * any NaN matches any NaN, every other value bitwise */
            const uint16_t ex = k ? 0x7f80 : 0x7c00, man = k ? 0x007f : 0x03ff;
            int nan_a = (a & ex) == ex && (a & man), nan_b = (b & ex) == ex && (b & man);
            int differ = nan_a || nan_b ? nan_a != nan_b : a != b;
            if (differ && first < 0) first = (int)i;
            bad += differ;
        }
        printf("%s save vs torch: %zu values, %d differ\n", names[k], e->nbytes / 2, bad);
        ck_assert_msg(bad == 0, "%s: %d values differ from torch (first: index %d)", names[k], bad, first);
        lm_st_close(got);
    }
    lm_params_free(&hp);
    lm_st_close(ref);
    o.dtype = LT_I64;
    ck_assert_int_eq(lm_weights_save(tmp_path("bad.safetensors"), &part, 1, &o), LM_EINVAL);
    lm_discriminator_free(da);
    lm_discriminator_free(db);
    lm_params_free(&a);
    lm_params_free(&b);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

/* A file with one good key, one of the wrong shape, one unexpected, a float where the
 * registry has an integer buffer, plus keys of other networks; the registry also has a key
 * the file lacks. */
static void write_mismatch_file(const char *path) {
    lm_st_writer *w = NULL;
    ck_assert_int_eq(lm_st_writer_open(&w, path), 0);
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s1[1] = {1};
    ck_assert_int_eq(lm_st_writer_add(w, "generator.a.weight", LM_DT_F32, s23, 2, v, 24), 0);
    ck_assert_int_eq(lm_st_writer_add(w, "generator.b.weight", LM_DT_F32, s4, 1, v, 16), 0);
    ck_assert_int_eq(lm_st_writer_add(w, "generator.e.weight", LM_DT_F32, s1, 1, v, 4), 0);
    ck_assert_int_eq(lm_st_writer_add(w, "generator.c.num_batches_tracked", LM_DT_F32, NULL, 0, v, 4), 0);
    ck_assert_int_eq(lm_st_writer_add(w, "discriminator.model0.0.weight", LM_DT_F32, s4, 1, v, 16), 0);
    ck_assert_int_eq(lm_st_writer_add(w, "loss_resnet_pl.impl.conv1.weight", LM_DT_F32, s4, 1, v, 16), 0);
    ck_assert_int_eq(lm_st_writer_close(w), 0);
}

static void make_small_registry(lm_params *p) {
    lm_params_init(p, LT_F32, LT_CPU);
    int64_t s23[2] = {2, 3}, s5[1] = {5}, s1[1] = {1};
    ck_assert_ptr_nonnull(lm_params_add(p, "a.weight", lt_zeros(s23, 2, LT_F32, LT_CPU), LM_PARAM));
    ck_assert_ptr_nonnull(lm_params_add(p, "b.weight", lt_zeros(s5, 1, LT_F32, LT_CPU), LM_PARAM));
    ck_assert_ptr_nonnull(lm_params_add(p, "c.num_batches_tracked", lt_zeros(NULL, 0, LT_I64, LT_CPU),
                                        LM_BUFFER));
    ck_assert_ptr_nonnull(lm_params_add(p, "d.weight", lt_zeros(s1, 1, LT_F32, LT_CPU), LM_PARAM));
}

static const lm_weights_mismatch *find_row(const lm_weights_report *r, const char *key) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->items[i].key, key)) return &r->items[i];
    return NULL;
}

START_TEST(test_strict_mismatch_table) {
    long live = lt_live_count();
    const char *path = tmp_path("mismatch.safetensors");
    write_mismatch_file(path);
    lm_params p;
    make_small_registry(&p);
    lm_weights_src *s = NULL;
    ck_assert_int_eq(lm_weights_open(&s, path), 0);
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    ck_assert_int_eq(lm_weights_load(&p, s, "generator.", LM_WEIGHTS_STRICT, &rep), LM_EINVAL);
    printf("  strict error: %s\n", lm_err_msg());
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "4 mismatches"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "nothing loaded"));
    ck_assert_int_eq(rep.n, 4);
    ck_assert_int_eq(rep.loaded, 0);
    const lm_weights_mismatch *m;
    ck_assert_ptr_nonnull(m = find_row(&rep, "generator.b.weight"));
    ck_assert_int_eq(m->problem, LM_WP_SHAPE);
    ck_assert_str_eq(m->expected, "F32 (5)");
    ck_assert_str_eq(m->found, "F32 (4)");
    ck_assert_ptr_nonnull(m = find_row(&rep, "generator.c.num_batches_tracked"));
    ck_assert_int_eq(m->problem, LM_WP_DTYPE);
    ck_assert_str_eq(m->expected, "I64 ()");
    ck_assert_str_eq(m->found, "F32 ()");
    ck_assert_ptr_nonnull(m = find_row(&rep, "generator.d.weight"));
    ck_assert_int_eq(m->problem, LM_WP_MISSING);
    ck_assert_str_eq(m->found, "-");
    ck_assert_ptr_nonnull(m = find_row(&rep, "generator.e.weight"));
    ck_assert_int_eq(m->problem, LM_WP_UNEXPECTED);
    ck_assert_str_eq(m->expected, "-");
    ck_assert_ptr_null(find_row(&rep, "generator.a.weight"));
    ck_assert_ptr_null(find_row(&rep, "discriminator.model0.0.weight")); /* other prefix: ignored */
    /* never a partial load */
    lt_scope_push();
    ck_assert_double_eq(lt_item(lt_max(lt_abs(p.items[0].t))), 0);
    lt_scope_pop();
    /* the printed table */
    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    lm_weights_report_print(&rep, f);
    fclose(f);
    printf("%s", txt);
    ck_assert_ptr_nonnull(strstr(txt, "key"));
    ck_assert_ptr_nonnull(strstr(txt, "| expected"));
    ck_assert_ptr_nonnull(strstr(txt, "| found"));
    ck_assert_ptr_nonnull(strstr(txt, "generator.b.weight"));
    ck_assert_ptr_nonnull(strstr(txt, "| F32 (4)  (shape mismatch)"));
    ck_assert_ptr_nonnull(strstr(txt, "(dtype not convertible)"));
    free(txt);
    lm_weights_report_free(&rep);

    /* non-strict: the good key loads, the rest is reported */
    lm_weights_report_init(&rep);
    ck_assert_int_eq(lm_weights_load(&p, s, "generator.", LM_WEIGHTS_NONSTRICT, &rep), 0);
    ck_assert_int_eq(rep.n, 4);
    ck_assert_int_eq(rep.loaded, 1);
    lt_scope_push();
    ck_assert_double_eq(lt_item(lt_sum(p.items[0].t)), 21);
    ck_assert_double_eq(lt_item(lt_sum(p.items[1].t)), 0);
    lt_scope_pop();
    lm_weights_report_free(&rep);

    /* without a report, strict still names the first mismatch */
    ck_assert_int_eq(lm_weights_load(&p, s, "generator.", 0, NULL), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "generator.b.weight: shape mismatch"));
    lm_weights_close(s);
    lm_params_free(&p);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

START_TEST(test_open_errors) {
    lm_weights_src *s = NULL;
    ck_assert_int_eq(lm_weights_open(&s, tmp_path("does-not-exist.safetensors")), LM_EIO);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "does-not-exist.safetensors"));
    const char *path = tmp_path("text.bin");
    FILE *f = fopen(path, "w");
    fputs("this is not a weights file at all\n", f);
    fclose(f);
    ck_assert_int_lt(lm_weights_open(&s, path), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "text.bin"));
    ck_assert_ptr_null(s);
    /* a truncated safetensors file */
    lm_params a;
    lm_discriminator *d = make_d(&a, 4);
    lm_weights_part part = {"discriminator.", &a};
    const char *full = tmp_path("full.safetensors");
    ck_assert_int_eq(lm_weights_save(full, &part, 1, NULL), 0);
    ck_assert_int_eq(truncate(full, 1000), 0);
    ck_assert_int_lt(lm_weights_open(&s, full), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "full.safetensors"));
    lm_discriminator_free(d);
    lm_params_free(&a);
}
END_TEST

START_TEST(test_load_from_lightning_checkpoint) {
    /* the predict fixture's official-style best.ckpt (torch.save zip, Lightning layout) holds
     * generator.*, discriminator.* (ndf 4, n_layers 4) and loss_resnet_pl.* */
    long live = lt_live_count();
    lm_weights_src *s = NULL;
    ck_assert_msg(lm_weights_open(&s, "tests/fixtures/predict/official/models/best.ckpt") == 0, "%s",
                  lm_err_msg());
    ck_assert_str_eq(lm_weights_kind(s), "pth-zip");
    ck_assert_ptr_nonnull(lm_weights_find(s, "loss_resnet_pl.impl.conv1.weight"));
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_discriminator_opts o = lm_test_discriminator_opts();
    o.ndf = 4;
    lm_discriminator *d = NULL;
    ck_assert_int_eq(lm_discriminator_create(&d, &p, &o), 0);
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    ck_assert_msg(lm_weights_load(&p, s, "discriminator.", LM_WEIGHTS_STRICT, &rep) == 0, "%s",
                  lm_err_msg());
    ck_assert_int_eq(rep.n, 0);
    ck_assert_int_eq(rep.loaded, p.n);
    ck_assert_int_eq(lm_weights_count_prefix(s, "discriminator."), p.n);
    /* every tensor holds the file's bytes */
    for (int i = 0; i < p.n; i++) {
        char key[300];
        snprintf(key, sizeof key, "discriminator.%s", p.items[i].name);
        const lm_st_entry *e = lm_weights_find(s, key);
        ck_assert_ptr_nonnull(e);
        void *buf = malloc(e->nbytes ? e->nbytes : 1);
        ck_assert_int_eq(lt_to_buffer(p.items[i].t, buf, e->nbytes), 0);
        ck_assert_msg(!memcmp(buf, e->data, e->nbytes), "%s differs", key);
        free(buf);
    }
    lm_weights_report_free(&rep);
    /* the wrong size: strict refuses with shape mismatches */
    lm_params q;
    lm_params_init(&q, LT_F32, LT_CPU);
    o.ndf = 8;
    lm_discriminator *d8 = NULL;
    ck_assert_int_eq(lm_discriminator_create(&d8, &q, &o), 0);
    ck_assert_int_eq(lm_weights_load(&q, s, "discriminator.", LM_WEIGHTS_STRICT, NULL), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "best.ckpt"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "shape mismatch"));
    lm_discriminator_free(d8);
    lm_params_free(&q);
    lm_discriminator_free(d);
    lm_params_free(&p);
    lm_weights_close(s);
    ck_assert_int_eq(lt_live_count(), live);
}
END_TEST

Suite *check_weights_suite(void) {
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("weights");
    tcase_add_test(tc, test_round_trip_exact_with_metadata);
    tcase_add_test(tc, test_half_precision_save);
    tcase_add_test(tc, test_strict_mismatch_table);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_load_from_lightning_checkpoint);
    tcase_add_unchecked_fixture(tc, NULL, teardown);
    suite_add_tcase(s, tc);
    return s;
}
