/* check_tbevents.c — io/tbevents: TensorBoard event files. A reader written here against
 * the format (TFRecord framing, masked CRC32C with its own bitwise CRC, the Event / Summary
 * protobuf fields) reads back what the writer wrote; corrupted CRCs are caught; python3 (if
 * present) reads the file with tests/ref/tbread.py, an independent implementation. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "data/image.h"
#include "io/tbevents.h"
#include "testutil.h"

/* ---- the test's own reader -------------------------------------------------------------- */
static uint32_t crc_bitwise(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}
static uint32_t masked(const uint8_t *p, size_t n) {
    uint32_t c = crc_bitwise(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}
static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

typedef struct tval {
    char tag[64];
    int has_scalar, has_image;
    float scalar;
    int64_t h, w, cs;
    size_t png_n;
    const uint8_t *png;
} tval;
typedef struct tevent {
    double wall;
    int64_t step;
    char version[32];
    int nval;
    tval v[8];
} tevent;

/* Decodes one varint; returns bytes used or -1. */
static int rd_varint(const uint8_t *p, size_t n, uint64_t *v) {
    *v = 0;
    for (int i = 0; i < 10 && (size_t)i < n; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) return i + 1;
    }
    return -1;
}

/* Iterates the fields of a message: returns 1 with (field, wire, varint value or bytes), 0 at
 * the end, -1 on malformed data. */
typedef struct pbit {
    const uint8_t *p;
    size_t n, i;
} pbit;
static int pb_next(pbit *it, int *field, int *wt, uint64_t *v, const uint8_t **b, size_t *bn) {
    *b = NULL, *bn = 0; /* defined on every path (gcc 13's -Wmaybe-uninitialized) */
    if (it->i == it->n) return 0;
    uint64_t key;
    int k = rd_varint(it->p + it->i, it->n - it->i, &key);
    if (k < 0) return -1;
    it->i += (size_t)k;
    *field = (int)(key >> 3), *wt = (int)(key & 7);
    size_t need = 0;
    switch (*wt) {
    case 0:
        if ((k = rd_varint(it->p + it->i, it->n - it->i, v)) < 0) return -1;
        it->i += (size_t)k;
        return 1;
    case 1: need = 8; break;
    case 5: need = 4; break;
    case 2:
        if ((k = rd_varint(it->p + it->i, it->n - it->i, v)) < 0) return -1;
        it->i += (size_t)k;
        need = (size_t)*v;
        break;
    default: return -1;
    }
    if (need > it->n - it->i) return -1;
    *b = it->p + it->i, *bn = need;
    it->i += need;
    return 1;
}

static int decode_event(tevent *e, const uint8_t *p, size_t n) {
    memset(e, 0, sizeof *e);
    pbit it = {p, n, 0};
    int f, wt, r;
    uint64_t v;
    const uint8_t *b;
    size_t bn;
    while ((r = pb_next(&it, &f, &wt, &v, &b, &bn)) == 1) {
        if (f == 1 && wt == 1) memcpy(&e->wall, b, 8);
        else if (f == 2 && wt == 0) e->step = (int64_t)v;
        else if (f == 3 && wt == 2) snprintf(e->version, sizeof e->version, "%.*s", (int)bn, b);
        else if (f == 5 && wt == 2) {
            pbit s = {b, bn, 0};
            const uint8_t *vb;
            size_t vn;
            while ((r = pb_next(&s, &f, &wt, &v, &vb, &vn)) == 1) {
                if (f != 1 || wt != 2 || e->nval == 8) return -1;
                tval *tv = &e->v[e->nval++];
                pbit vi = {vb, vn, 0};
                const uint8_t *xb;
                size_t xn;
                while ((r = pb_next(&vi, &f, &wt, &v, &xb, &xn)) == 1) {
                    if (f == 1 && wt == 2) snprintf(tv->tag, sizeof tv->tag, "%.*s", (int)xn, xb);
                    else if (f == 2 && wt == 5) tv->has_scalar = 1, memcpy(&tv->scalar, xb, 4);
                    else if (f == 4 && wt == 2) {
                        tv->has_image = 1;
                        pbit ii = {xb, xn, 0};
                        const uint8_t *ib;
                        size_t in;
                        while ((r = pb_next(&ii, &f, &wt, &v, &ib, &in)) == 1) {
                            if (f == 1 && wt == 0) tv->h = (int64_t)v;
                            else if (f == 2 && wt == 0) tv->w = (int64_t)v;
                            else if (f == 3 && wt == 0) tv->cs = (int64_t)v;
                            else if (f == 4 && wt == 2) tv->png = ib, tv->png_n = in;
                            else return -1;
                        }
                        if (r < 0) return -1;
                    } else return -1;
                }
                if (r < 0) return -1;
            }
            if (r < 0) return -1;
        } else return -1;
    }
    return r;
}

/* Reads all records of a file into ev (up to cap); returns the count, or -1 (length CRC),
 * -2 (data CRC), -3 (truncated), -4 (protobuf). *data receives the file (free it). */
static int read_events(const char *path, tevent *ev, int cap, uint8_t **data) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)sz + 1);
    ck_assert_int_eq(fread(d, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *data = d;
    size_t pos = 0, n = (size_t)sz;
    int k = 0;
    while (pos < n) {
        if (n - pos < 12) return -3;
        uint64_t len = le(d + pos, 8);
        if ((uint32_t)le(d + pos + 8, 4) != masked(d + pos, 8)) return -1;
        if (len > n - pos - 16) return -3;
        const uint8_t *body = d + pos + 12;
        if ((uint32_t)le(body + len, 4) != masked(body, len)) return -2;
        if (k < cap && decode_event(&ev[k], body, len) < 0) return -4;
        k++;
        pos += 16 + len;
    }
    return k;
}

/* ---- tests ------------------------------------------------------------------------------ */
START_TEST(test_crc32c_known_values) {
    /* RFC 3720 B.4 test vectors */
    uint8_t z[32] = {0}, o[32], inc[32];
    memset(o, 0xff, 32);
    for (int i = 0; i < 32; i++) inc[i] = (uint8_t)i;
    ck_assert_uint_eq(lm_crc32c(0, z, 32), 0x8A9136AAu);
    ck_assert_uint_eq(lm_crc32c(0, o, 32), 0x62A8AB43u);
    ck_assert_uint_eq(lm_crc32c(0, inc, 32), 0x46DD794Eu);
    ck_assert_uint_eq(lm_crc32c(0, "123456789", 9), 0xE3069283u);
    /* continuation */
    ck_assert_uint_eq(lm_crc32c(lm_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    ck_assert_uint_eq(lm_tbevents_masked_crc("123456789", 9), masked((const uint8_t *)"123456789", 9));
}
END_TEST

static void make_png(uint8_t **png, size_t *n, int w, int h) {
    lm_image im;
    ck_assert_int_eq(lm_image_alloc(&im, w, h, 3), 0);
    for (int i = 0; i < w * h * 3; i++) im.data[i] = (uint8_t)(i * 7);
    ck_assert_int_eq(lm_image_encode_png(png, n, &im), 0);
    lm_image dec;
    ck_assert_int_eq(lm_image_decode(&dec, *png, *n, 3, "mem"), 0); /* the encoder round-trips */
    ck_assert_int_eq(dec.w, w);
    ck_assert_int_eq(memcmp(dec.data, im.data, (size_t)w * h * 3), 0);
    lm_image_free(&dec);
    lm_image_free(&im);
}

START_TEST(test_write_and_read_back) {
    char dir[256], path[512];
    lm_test_tmpdir(dir, sizeof dir, "tb");
    snprintf(path, sizeof path, "%s/events.out.tfevents.1.test", dir);
    lm_tbevents_writer *w;
    ck_assert_int_eq(lm_tbevents_open_path(&w, path, 1700000000.25), 0);
    ck_assert_str_eq(lm_tbevents_path(w), path);
    ck_assert_int_eq(lm_tbevents_scalar(w, "train/gen_total", 7, 0.125f), 0);
    const char *tags[3] = {"val/ssim", "val/l1", "neg"};
    const float vals[3] = {0.5f, 1e-7f, -3.0f};
    ck_assert_int_eq(lm_tbevents_scalars(w, -5, 3, tags, vals), 0);
    uint8_t *png;
    size_t pn;
    make_png(&png, &pn, 5, 4);
    ck_assert_int_eq(lm_tbevents_image(w, "samples", 1000000000000LL, 4, 5, 3, png, pn), 0);
    ck_assert_int_eq(lm_tbevents_flush(w), 0);
    ck_assert_int_eq(lm_tbevents_close(w), 0);

    tevent ev[8];
    uint8_t *data;
    int n = read_events(path, ev, 8, &data);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(ev[0].version, "brain.Event:2");
    ck_assert(ev[0].wall == 1700000000.25);
    ck_assert_int_eq(ev[0].nval, 0);
    ck_assert_int_eq(ev[1].step, 7);
    ck_assert_int_eq(ev[1].nval, 1);
    ck_assert_str_eq(ev[1].v[0].tag, "train/gen_total");
    ck_assert(ev[1].v[0].has_scalar && ev[1].v[0].scalar == 0.125f);
    ck_assert_int_eq(ev[2].step, -5);
    ck_assert_int_eq(ev[2].nval, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(ev[2].v[i].tag, tags[i]);
        ck_assert(ev[2].v[i].scalar == vals[i]);
    }
    ck_assert_int_eq(ev[3].step, 1000000000000LL);
    ck_assert(ev[3].v[0].has_image && !ev[3].v[0].has_scalar);
    ck_assert_int_eq(ev[3].v[0].h, 4);
    ck_assert_int_eq(ev[3].v[0].w, 5);
    ck_assert_int_eq(ev[3].v[0].cs, 3);
    ck_assert_uint_eq(ev[3].v[0].png_n, pn);
    ck_assert_int_eq(memcmp(ev[3].v[0].png, png, pn), 0);

    /* python3's independent reader, when python3 exists */
    if (system("python3 -c 'import struct' >/dev/null 2>&1") == 0) {
        char cmd[1024], out[4096] = {0};
        snprintf(cmd, sizeof cmd, "python3 %s/tests/ref/tbread.py %s 2>&1", LM_SOURCE_DIR, path);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        size_t got = fread(out, 1, sizeof out - 1, p);
        out[got] = 0;
        int st = pclose(p);
        printf("tbread.py:\n%s", out);
        ck_assert_int_eq(st, 0);
        char want[1024];
        snprintf(want, sizeof want,
                 "version brain.Event:2\nscalar 7 train/gen_total 0.125\nscalar -5 val/ssim 0.5\n"
                 "scalar -5 val/l1 1.00000001e-07\nscalar -5 neg -3\nimage 1000000000000 samples 4 5 3 %zu png\n",
                 pn);
        ck_assert_int_eq(strncmp(out, want, strlen(want)), 0);
        ck_assert(strstr(out, "tensorboard ok 4") || strstr(out, "tensorboard absent"));
        /* and it rejects a corrupted file */
        data[40] ^= 1;
        char bad[600];
        snprintf(bad, sizeof bad, "%s/bad", dir);
        FILE *f = fopen(bad, "wb");
        fwrite(data, 1, 60, f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "python3 %s/tests/ref/tbread.py %s >/dev/null 2>&1", LM_SOURCE_DIR, bad);
        ck_assert_int_ne(system(cmd), 0);
    } else {
        printf("python3 absent: tbread.py check skipped\n");
    }
    free(data);
    free(png);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_reader_detects_corruption) {
    char dir[256], path[512];
    lm_test_tmpdir(dir, sizeof dir, "tb");
    snprintf(path, sizeof path, "%s/ev", dir);
    lm_tbevents_writer *w;
    ck_assert_int_eq(lm_tbevents_open_path(&w, path, 1.0), 0);
    ck_assert_int_eq(lm_tbevents_scalar(w, "a", 1, 2.0f), 0);
    ck_assert_int_eq(lm_tbevents_close(w), 0);
    tevent ev[4];
    uint8_t *d;
    ck_assert_int_eq(read_events(path, ev, 4, &d), 2);
    /* record 0 is 16 + len0 bytes; flip a data byte of record 1, then a length byte */
    size_t len0 = (size_t)le(d, 8), r1 = 16 + len0;
    struct stat st;
    stat(path, &st);
    for (int which = 0; which < 3; which++) {
        FILE *f = fopen(path, "r+b");
        size_t off = which == 0 ? r1 + 12 + 3 : which == 1 ? r1 + 1 : 0;
        uint8_t b = d[off] ^ 0x10;
        fseek(f, (long)off, SEEK_SET);
        fwrite(&b, 1, 1, f);
        fclose(f);
        uint8_t *d2;
        int r = read_events(path, ev, 4, &d2);
        free(d2);
        ck_assert_int_eq(r, which == 0 ? -2 : -1);
        f = fopen(path, "r+b"); /* restore */
        fseek(f, (long)off, SEEK_SET);
        fwrite(&d[off], 1, 1, f);
        fclose(f);
    }
    /* a truncated file */
    ck_assert_int_eq(truncate(path, st.st_size - 2), 0);
    uint8_t *d3;
    ck_assert_int_eq(read_events(path, ev, 4, &d3), -3);
    free(d3);
    free(d);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_open_dir_names_file) {
    char dir[256], sub[300], host[256] = {0};
    lm_test_tmpdir(dir, sizeof dir, "tb");
    snprintf(sub, sizeof sub, "%s/tb", dir);
    lm_tbevents_writer *a, *b;
    ck_assert_int_eq(lm_tbevents_open(&a, sub), 0);
    ck_assert_int_eq(lm_tbevents_open(&b, sub), 0); /* same second: a distinct name */
    ck_assert_str_ne(lm_tbevents_path(a), lm_tbevents_path(b));
    gethostname(host, sizeof host - 1);
    const char *base = strrchr(lm_tbevents_path(a), '/') + 1;
    ck_assert_int_eq(strncmp(base, "events.out.tfevents.", 20), 0);
    long long t = atoll(base + 20);
    ck_assert(t > 1600000000LL);
    ck_assert_ptr_nonnull(strstr(base, host));
    ck_assert_int_eq(lm_tbevents_close(a), 0);
    ck_assert_int_eq(lm_tbevents_close(b), 0);
    ck_assert_int_eq(lm_tbevents_close(NULL), 0);
    /* a directory whose parent is missing */
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such", dir);
    ck_assert_int_eq(lm_tbevents_open(&a, bad), LM_EIO);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), bad));
    /* an existing explicit path is refused */
    snprintf(bad, sizeof bad, "%s/x", dir);
    fclose(fopen(bad, "w"));
    ck_assert_int_eq(lm_tbevents_open_path(&a, bad, 0), LM_EIO);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_bad_input) {
    char dir[256], path[512];
    lm_test_tmpdir(dir, sizeof dir, "tb");
    snprintf(path, sizeof path, "%s/ev", dir);
    lm_tbevents_writer *w;
    ck_assert_int_eq(lm_tbevents_open_path(&w, path, 1.0), 0);
    ck_assert_int_eq(lm_tbevents_scalar(w, "", 1, 1.f), LM_EINVAL);
    ck_assert_int_eq(lm_tbevents_scalar(w, NULL, 1, 1.f), LM_EINVAL);
    char *longtag = malloc(LM_TBEVENTS_MAX_TAG + 2);
    memset(longtag, 'x', LM_TBEVENTS_MAX_TAG + 1);
    longtag[LM_TBEVENTS_MAX_TAG + 1] = 0;
    ck_assert_int_eq(lm_tbevents_scalar(w, longtag, 1, 1.f), LM_EINVAL);
    free(longtag);
    ck_assert_int_eq(lm_tbevents_scalars(w, 1, 0, NULL, NULL), LM_EINVAL);
    ck_assert_int_eq(lm_tbevents_image(w, "i", 1, 2, 2, 3, "notapngatall", 12), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "not a PNG"));
    ck_assert_int_eq(lm_tbevents_image(w, "i", 1, 0, 2, 3, "\x89PNG\r\n\x1a\n", 8), LM_EINVAL);
    ck_assert_int_eq(lm_tbevents_image(w, "i", 1, 2, 2, 2, "\x89PNG\r\n\x1a\n", 8), LM_EINVAL);
    /* NaN and inf scalars are stored as they are */
    ck_assert_int_eq(lm_tbevents_scalar(w, "nan", 2, NAN), 0);
    ck_assert_int_eq(lm_tbevents_close(w), 0);
    tevent ev[4];
    uint8_t *d;
    ck_assert_int_eq(read_events(path, ev, 4, &d), 2); /* nothing of the rejected calls */
    ck_assert(isnan(ev[1].v[0].scalar));
    free(d);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(test_write_error_is_sticky) {
    /* a file size limit makes the writes fail (EFBIG with SIGXFSZ ignored) */
    char dir[256], path[512];
    lm_test_tmpdir(dir, sizeof dir, "tb");
    snprintf(path, sizeof path, "%s/ev", dir);
    lm_tbevents_writer *w;
    ck_assert_int_eq(lm_tbevents_open_path(&w, path, 1.0), 0);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    void (*oldh)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 4096;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t n = 20000;
    uint8_t *fake = calloc(1, n);
    memcpy(fake, "\x89PNG\r\n\x1a\n", 8);
    int rc = lm_tbevents_image(w, "big", 1, 10, 10, 3, fake, n);
    if (rc == 0) rc = lm_tbevents_flush(w);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldh);
    ck_assert_int_eq(rc, LM_EIO);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), path));
    /* later records are refused rather than written after a torn one */
    ck_assert_int_eq(lm_tbevents_scalar(w, "a", 2, 1.f), LM_EIO);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "earlier write error"));
    lm_tbevents_close(w);
    free(fake);
    lm_test_rmtree(dir);
}
END_TEST

Suite *check_tbevents_suite(void) {
    Suite *s = suite_create("tbevents");
    TCase *tc = tcase_create("tbevents");
    tcase_add_test(tc, test_crc32c_known_values);
    tcase_add_test(tc, test_write_and_read_back);
    tcase_add_test(tc, test_reader_detects_corruption);
    tcase_add_test(tc, test_open_dir_names_file);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_write_error_is_sticky);
    suite_add_tcase(s, tc);
    return s;
}
