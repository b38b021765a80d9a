/* check_eval_sweep.c — `lamac eval --sizes` (eval/sweep.h): a tiny generator
 * (tests/fixtures/predict/gen.safetensors, as check_eval_cli's --model test) over three small
 * images at 64 and 96 with the thick masks: per-size folders in the official layout, masks of
 * the requested size and identical on a second run, sweep.json valid JSON whose ssim totals are
 * the per-size metrics.json totals; bad --sizes / --masks / missing --model refused before
 * anything is written. */
#define _GNU_SOURCE
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/path.h"
#include "data/image.h"
#include "eval/sweep.h"
#include "tests/testutil.h"

static char g_tmp[64];
static const char *NAMES[3] = {"a", "b", "sub/c"};

static void write_image(const char *rel, int w, int h, int seed) {
    lm_image im;
    char path[512];
    ck_assert_int_eq(lm_image_alloc(&im, w, h, 3), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                im.data[((size_t)y * w + x) * 3 + k] = (uint8_t)((x * (3 + k) + y * (5 - k) + seed * 37 + (x * y) % 17) & 255);
    snprintf(path, sizeof path, "%s/img/%s", g_tmp, rel);
    ck_assert_int_eq(lm_path_mkparents(path), 0);
    ck_assert_msg(lm_image_write_png(path, &im) == 0, "%s", lm_err_msg());
    lm_image_free(&im);
}

static void setup(void) {
    lm_test_tmpdir(g_tmp, sizeof g_tmp, "evalsweep");
    write_image("a.png", 80, 70, 1);
    write_image("b.png", 100, 130, 2);
    write_image("sub/c.png", 64, 90, 3);
    write_image("a_mask.png", 80, 70, 4); /* a mask by the official naming: not an image of the sweep */
}

static void teardown(void) { lm_test_rmtree(g_tmp); }

static int exists(const char *fmt, const char *a, const char *b) {
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, fmt, a, b);
    return stat(p, &st) == 0;
}

/* ---- a strict little JSON validator (RFC 8259 grammar; no semantic checks) ---- */
static const char *ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}
static const char *jvalue(const char *p);
static const char *jstring(const char *p) {
    if (*p++ != '"') return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)p[i])) return NULL;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", *p) || !*p) return NULL;
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}
static const char *jnumber(const char *p) {
    const char *s = p;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return NULL;
    if (*p == '0') p++;
    else while (isdigit((unsigned char)*p)) p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return NULL;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return NULL;
        while (isdigit((unsigned char)*p)) p++;
    }
    return p > s ? p : NULL;
}
static const char *jvalue(const char *p) {
    p = ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                if (!(p = jstring(ws(p)))) return NULL;
                p = ws(p);
                if (*p++ != ':') return NULL;
            }
            if (!(p = jvalue(p))) return NULL;
            p = ws(p);
            if (*p == close) return p + 1;
            if (*p++ != ',') return NULL;
        }
    }
    if (*p == '"') return jstring(p);
    if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    return jnumber(p);
}
static int json_valid(const char *s) {
    const char *e = jvalue(s);
    return e && !*ws(e);
}

/* the text of the number after `"ssim": {"total": {"mean": ` from position p on */
static void ssim_total(char *out, size_t cap, const char *p, const char *what) {
    const char *key = "\"ssim\": {\"total\": {\"mean\": ";
    const char *s = strstr(p, key);
    ck_assert_msg(s != NULL, "no ssim total in %s", what);
    s += strlen(key);
    size_t n = strcspn(s, ",}");
    ck_assert(n > 0 && n < cap);
    memcpy(out, s, n);
    out[n] = 0;
}

START_TEST(test_sweep_two_sizes) {
    char out[16384], path[1024];
    const char *model = "tests/fixtures/predict/gen.safetensors";
    int rc = lm_test_run(out, sizeof out, "eval --model %s --images %s/img --sizes 64,96 --masks thick --no-lpips "
                         "--no-fid --out %s/o1 --quiet", model, g_tmp, g_tmp);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    rc = lm_test_run(out, sizeof out, "eval --model %s --images %s/img --sizes 64,96 --no-lpips --no-fid "
                     "--out %s/o2 --quiet", model, g_tmp, g_tmp);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    const int sizes[2] = {64, 96};
    char *sweep = NULL;
    snprintf(path, sizeof path, "%s/o1/sweep.json", g_tmp);
    sweep = lm_test_read_file(path);
    ck_assert_msg(json_valid(sweep), "sweep.json is not valid JSON:\n%s", sweep);
    int entries = 0;
    for (const char *p = sweep; (p = strstr(p, "{\"size\": ")); p++) entries++;
    ck_assert_int_eq(entries, 2);
    for (int s = 0; s < 2; s++) {
        char sz[16], key[64], a[64], e[64];
        snprintf(sz, sizeof sz, "%d", sizes[s]);
        ck_assert_msg(exists("%s/o1/%s/metrics.json", g_tmp, sz), "no metrics.json for %s", sz);
        ck_assert_msg(exists("%s/o1/%s/metrics.md", g_tmp, sz), "no metrics.md for %s", sz);
        ck_assert_msg(!exists("%s/o1/%s/data/a_mask.png", g_tmp, sz), "a_mask.png taken as an image");
        for (int k = 0; k < 3; k++) {
            lm_image im = {0}, m1 = {0}, m2 = {0}, pr = {0};
            snprintf(path, sizeof path, "%s/o1/%s/data/%s.png", g_tmp, sz, NAMES[k]);
            ck_assert_msg(lm_image_read(&im, path, 3) == 0, "%s", lm_err_msg());
            ck_assert_msg(im.w == sizes[s] && im.h == sizes[s], "%s is %dx%d", path, im.w, im.h);
            snprintf(path, sizeof path, "%s/o1/%s/data/%s_mask000.png", g_tmp, sz, NAMES[k]);
            ck_assert_msg(lm_image_read(&m1, path, 1) == 0, "%s", lm_err_msg());
            ck_assert_msg(m1.w == sizes[s] && m1.h == sizes[s], "%s is %dx%d", path, m1.w, m1.h);
            size_t holes = 0, np = (size_t)m1.w * m1.h;
            for (size_t i = 0; i < np; i++) {
                ck_assert_msg(m1.data[i] == 0 || m1.data[i] == 255, "%s: gray value %d", path, m1.data[i]);
                holes += m1.data[i] != 0;
            }
            ck_assert_msg(holes > 0 && holes < np, "%s: %zu of %zu pixels are holes", path, holes, np);
            snprintf(path, sizeof path, "%s/o2/%s/data/%s_mask000.png", g_tmp, sz, NAMES[k]);
            ck_assert_msg(lm_image_read(&m2, path, 1) == 0, "%s", lm_err_msg());
            ck_assert_msg(m2.w == m1.w && m2.h == m1.h && !memcmp(m1.data, m2.data, np),
                          "%s differs between two runs", path);
            snprintf(path, sizeof path, "%s/o1/%s/predictions/%s_mask000.png", g_tmp, sz, NAMES[k]);
            ck_assert_msg(lm_image_read(&pr, path, 3) == 0, "%s", lm_err_msg());
            ck_assert(pr.w == sizes[s] && pr.h == sizes[s]);
            /* known pixels are the image's (the official blend) */
            for (size_t i = 0; i < np; i++)
                if (!m1.data[i]) ck_assert(!memcmp(pr.data + i * 3, im.data + i * 3, 3));
            lm_image_free(&im), lm_image_free(&m1), lm_image_free(&m2), lm_image_free(&pr);
        }
        snprintf(path, sizeof path, "%s/o1/%s/metrics.json", g_tmp, sz);
        char *mj = lm_test_read_file(path);
        ck_assert(strstr(mj, "\"images_evaluated\": 3") != NULL);
        ssim_total(e, sizeof e, mj, path);
        free(mj);
        snprintf(key, sizeof key, "{\"size\": %d, \"masks\": \"thick\"", sizes[s]);
        const char *ent = strstr(sweep, key);
        ck_assert_msg(ent != NULL, "no entry %s in sweep.json", key);
        ck_assert(strstr(ent, "\"images\": 3,") != NULL);
        ssim_total(a, sizeof a, ent, "sweep.json");
        printf("eval_sweep: size %d ssim total sweep.json %s, metrics.json %s\n", sizes[s], a, e);
        ck_assert_msg(!strcmp(a, e), "size %d: sweep.json ssim %s, metrics.json %s", sizes[s], a, e);
    }
    free(sweep);
    snprintf(path, sizeof path, "%s/o1/sweep.md", g_tmp);
    char *md = lm_test_read_file(path);
    ck_assert_msg(strstr(md, "| metric | 64 | 96 |") && strstr(md, "| ssim | 0."), "%s", md);
    free(md);
    /* the top-level report.html embeds sweep.json (charted against resolution in the page;
     * tests/check_report_html.c draws such a page in chromium) */
    snprintf(path, sizeof path, "%s/o1/report.html", g_tmp);
    char *html = lm_test_read_file(path);
    ck_assert_msg(html && strstr(html, "id=\"lm-data-sweep\"") && strstr(html, "\"size\": 96"),
                  "report.html lacks the sweep data");
    free(html);
    /* a second sweep into the same folder would score stale masks: refused */
    rc = lm_test_run(out, sizeof out, "eval --model %s --images %s/img --sizes 64 --no-lpips --no-fid --out %s/o1 "
                     "--quiet", model, g_tmp, g_tmp);
    ck_assert_msg(rc == 1 && strstr(out, "64/data exists"), "%s", out);
}
END_TEST

START_TEST(test_sweep_bad_input) {
    char out[16384];
    const char *model = "tests/fixtures/predict/gen.safetensors";
    struct { const char *args, *msg; } cases[] = {
        {"--model M --sizes 256,abc", "item 'abc' is not an integer"},
        {"--model M --sizes 0", "item '0' must be a multiple of 8"},
        {"--model M --sizes 100", "item '100' must be a multiple of 8"},
        {"--model M --sizes 64,,96", "item '' is not a size"},
        {"--model M --sizes 64,64", "item '64' is repeated"},
        {"--sizes 256", "--sizes needs --model"},
        {"--model M --sizes 64 --masks huge", "--masks huge: expected thick, medium or thin"},
        {"--model M --masks thick", "--masks only applies to --sizes"},
        {"--model M --sizes 64 --img-suffix .jpg", "do not apply to --sizes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512], o[128];
        snprintf(o, sizeof o, "%s/bad%zu", g_tmp, i);
        snprintf(args, sizeof args, "%s", cases[i].args);
        char *m = strstr(args, " M ");
        char full[1024];
        if (m) {
            *m = 0;
            snprintf(full, sizeof full, "%s %s %s", args, model, m + 3);
        } else {
            snprintf(full, sizeof full, "%s", args);
        }
        int rc = lm_test_run(out, sizeof out, "eval %s --images %s/img --no-lpips --no-fid --out %s --quiet", full,
                             g_tmp, o);
        ck_assert_msg(rc != 0 && strstr(out, cases[i].msg), "%s: exit %d: %s", full, rc, out);
        struct stat st;
        ck_assert_msg(stat(o, &st) != 0, "%s: %s was created", full, o);
    }
    /* two images that would both be written as dup.png: refused, naming both */
    char dd[128], o2[128];
    snprintf(dd, sizeof dd, "%s/dup", g_tmp);
    ck_assert_int_eq(mkdir(dd, 0777), 0);
    write_image("../dup/dup.png", 64, 64, 5);
    write_image("../dup/dup.jpg", 64, 64, 6); /* PNG bytes under .jpg: the reader sniffs */
    snprintf(o2, sizeof o2, "%s/dupout", g_tmp);
    int drc = lm_test_run(out, sizeof out, "eval --model %s --images %s --sizes 64 --out %s --quiet", model, dd, o2);
    struct stat dst;
    ck_assert_msg(drc != 0 && strstr(out, "dup.jpg and dup.png would both be written as dup.png") &&
                  stat(o2, &dst) != 0, "exit %d: %s", drc, out);
    /* no images: refused before the output folder is made */
    char o[128];
    snprintf(o, sizeof o, "%s/noimg", g_tmp);
    int rc = lm_test_run(out, sizeof out, "eval --model %s --images %s/img/sub/none --sizes 64 --out %s --quiet",
                         model, g_tmp, o);
    struct stat st;
    ck_assert_msg(rc != 0 && stat(o, &st) != 0, "exit %d: %s", rc, out);
}
END_TEST

START_TEST(test_sweep_parse_and_preset) {
    int s[LM_SWEEP_MAX_SIZES], n = 0;
    ck_assert_int_eq(lm_sweep_parse_sizes(s, LM_SWEEP_MAX_SIZES, &n, "256,512,1024"), 0);
    ck_assert(n == 3 && s[0] == 256 && s[1] == 512 && s[2] == 1024);
    ck_assert_int_lt(lm_sweep_parse_sizes(s, LM_SWEEP_MAX_SIZES, &n, "256,-512"), 0);
    ck_assert_int_lt(lm_sweep_parse_sizes(s, LM_SWEEP_MAX_SIZES, &n, "256,"), 0);
    ck_assert_int_lt(lm_sweep_parse_sizes(s, LM_SWEEP_MAX_SIZES, &n, " 256"), 0);
    ck_assert_int_lt(lm_sweep_parse_sizes(s, LM_SWEEP_MAX_SIZES, &n, "56"), 0);
    lm_evalset_cfg ev;
    char name[32];
    ck_assert_int_eq(lm_sweep_preset(&ev, name, sizeof name, "thick", 384), 0);
    ck_assert_str_eq(name, "random_thick_256");
    ck_assert(ev.out_min_size == 384 && ev.variants_n == 5 && ev.max_tamper_area == 0.5);
    ck_assert_int_eq(ev.mask.irregular_kwargs.max_width, 100); /* configs/data_gen/random_thick_256.yaml */
    ck_assert_int_eq(lm_sweep_preset(&ev, name, sizeof name, "thin", 512), 0);
    ck_assert_str_eq(name, "random_thin_512");
    ck_assert_int_eq(lm_sweep_preset(&ev, name, sizeof name, "medium", 1024), 0);
    ck_assert_str_eq(name, "random_medium_512");
    ck_assert_int_eq(ev.mask.irregular_kwargs.max_width, 100); /* random_medium_512.yaml */
    ck_assert_int_lt(lm_sweep_preset(&ev, name, sizeof name, "huge", 256), 0);
    /* every variant above max_tamper_area: 20 more rounds, then the next variant is kept and
     * counted; the same image and size give the same mask */
    lm_image im = {0}, m = {0}, m2 = {0};
    char path[256];
    int over = -1;
    snprintf(path, sizeof path, "%s/img/b.png", g_tmp);
    ck_assert_int_eq(lm_sweep_preset(&ev, name, sizeof name, "thick", 96), 0);
    ck_assert_msg(lm_sweep_prepare(&im, &m, &over, path, "b.png", 96, &ev) == 0, "%s", lm_err_msg());
    ck_assert(im.w == 96 && im.h == 96 && im.c == 3 && m.w == 96 && m.h == 96 && m.c == 1 && over == 0);
    size_t holes = 0;
    for (int i = 0; i < 96 * 96; i++) holes += m.data[i] != 0;
    ck_assert_msg(holes > 0 && holes <= 96 * 96 / 2, "%zu holes", holes);
    lm_image_free(&im);
    ev.max_tamper_area = 1e-6;
    ck_assert_msg(lm_sweep_prepare(&im, &m2, &over, path, "b.png", 96, &ev) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(over, 1);
    lm_image_free(&im), lm_image_free(&m), lm_image_free(&m2);
    /* center crop: b.png is 100 x 130 -> 96 x 125 (PIL bicubic), rows 14..110 */
    lm_image src = {0}, rs = {0}, crop = {0};
    ck_assert_int_eq(lm_image_read(&src, path, 3), 0);
    ck_assert_int_eq(lm_image_resize_bicubic(&rs, &src, 96, 125), 0);
    ck_assert_int_eq(lm_image_crop(&crop, &rs, 0, 14, 96, 96), 0);
    ev.max_tamper_area = 0.5;
    ck_assert_int_eq(lm_sweep_prepare(&im, &m, &over, path, "b.png", 96, &ev), 0);
    ck_assert_msg(!memcmp(im.data, crop.data, 96 * 96 * 3), "center crop differs");
    lm_image_free(&src), lm_image_free(&rs), lm_image_free(&crop), lm_image_free(&im), lm_image_free(&m);
}
END_TEST

Suite *check_eval_sweep_suite(void) {
    Suite *s = suite_create("eval_sweep");
    TCase *tc = tcase_create("eval_sweep");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sweep_parse_and_preset);
    tcase_add_test(tc, test_sweep_two_sizes);
    tcase_add_test(tc, test_sweep_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
