/* check_image.c — data/image: PNG/JPEG decoding of every layout against expected pixels
 * (tests/fixtures/images/, from tests/ref/gen_image_fixtures.py with PIL/cv2), PNG write
 * round trip and atomicity (core/atomic: mode 0666 & ~umask, a symlink at the target replaced,
 * not followed), broken files as errors naming the file, PIL-exact bicubic resize. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "data/image.h"

#define FIX "tests/fixtures/images/"

static uint8_t *load(const char *path, size_t want) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    uint8_t *b = malloc(want + 1);
    ck_assert_int_eq(fread(b, 1, want + 1, f), want);
    fclose(f);
    return b;
}

START_TEST(test_decode_all_layouts) {
    FILE *m = fopen(FIX "manifest.txt", "r");
    ck_assert(m != NULL);
    char name[64], ext[8];
    int w, h, tol, n = 0;
    while (fscanf(m, "%63s %7s %d %d %d", name, ext, &w, &h, &tol) == 5) {
        char path[160], exp[160];
        for (int c = 1; c <= 3; c += 2) {
            snprintf(path, sizeof path, FIX "%s.%s", name, ext);
            snprintf(exp, sizeof exp, FIX "%s.%s", name, c == 3 ? "rgb" : "gray");
            lm_image img;
            ck_assert_msg(lm_image_read(&img, path, c) == 0, "%s", lm_err_msg());
            ck_assert_msg(img.w == w && img.h == h && img.c == c, "%s: got %dx%dx%d", path, img.w,
                          img.h, img.c);
            uint8_t *e = load(exp, (size_t)w * h * c);
            int maxd = 0;
            for (size_t i = 0; i < (size_t)w * h * c; i++) {
                int d = abs((int)img.data[i] - (int)e[i]);
                if (d > maxd) maxd = d;
            }
            /* tolerances (manifest.txt, from tests/ref/gen_image_fixtures.py): PNG 0; JPEG 1 =
             * measured 0 + margin 1 for another libjpeg build's IDCT/upsampling rounding */
            printf("image %-12s %s c=%d: max |diff| %d (tolerance %d)\n", name, ext, c, maxd, tol);
            ck_assert_msg(maxd <= tol, "%s (%d channels): max diff %d > %d", path, c, maxd, tol);
            free(e);
            lm_image_free(&img);
        }
        n++;
    }
    fclose(m);
    ck_assert_int_ge(n, 10);
}
END_TEST

START_TEST(test_broken_files_name_the_file) {
    const char *bad[] = {"truncated.png", "truncated.jpg", "truncated_scan.jpg", "badcrc.png", "garbage.png",
                         "notimage.png",  "empty.png",     "does_not_exist.png"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[160];
        snprintf(path, sizeof path, FIX "%s", bad[i]);
        lm_image img = {0};
        lm_err_clear();
        int rc = lm_image_read(&img, path, 3);
        printf("%s -> %d: %s\n", bad[i], rc, lm_err_msg());
        ck_assert_int_lt(rc, 0);
        ck_assert_msg(strstr(lm_err_msg(), path) != NULL, "message does not name the file: %s",
                      lm_err_msg());
        ck_assert_ptr_null(img.data);
    }
    /* and from memory: the given name is used */
    lm_image img;
    ck_assert_int_lt(lm_image_decode(&img, "\x89PNG\r\n\x1a\n", 8, 3, "shard:17"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "shard:17"));
    ck_assert_int_lt(lm_image_decode(&img, "abc", 3, 2, "x"), 0);
}
END_TEST

/* A hostile EXIF block (IFD offset 0xFFFFFFFF, which wraps a 32-bit bounds check) inserted
 * after SOI of a good JPEG: the orientation is ignored, the pixels are those of the file. */
START_TEST(test_jpeg_hostile_exif_offset) {
    FILE *f = fopen(FIX "rgb.jpg", "rb");
    ck_assert(f != NULL);
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    rewind(f);
    static const uint8_t app1[] = {0xFF, 0xE1, 0x00, 0x16, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2A, 0,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0};
    uint8_t *b = malloc(n + sizeof app1);
    ck_assert_int_eq(fread(b, 1, 2, f), 2);
    memcpy(b + 2, app1, sizeof app1);
    ck_assert_int_eq(fread(b + 2 + sizeof app1, 1, n - 2, f), n - 2);
    fclose(f);
    lm_image ref, img;
    ck_assert_msg(lm_image_read(&ref, FIX "rgb.jpg", 3) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_image_decode(&img, b, n + sizeof app1, 3, "hostile-exif") == 0, "%s", lm_err_msg());
    ck_assert(img.w == ref.w && img.h == ref.h && img.c == 3);
    ck_assert(!memcmp(img.data, ref.data, (size_t)ref.w * ref.h * 3));
    lm_image_free(&img);
    lm_image_free(&ref);
    free(b);
}
END_TEST

START_TEST(test_png_roundtrip_atomic) {
    char dir[] = "/tmp/lamac_imgXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    for (int c = 1; c <= 3; c += 2) {
        lm_image a, b;
        ck_assert_int_eq(lm_image_alloc(&a, 37, 21, c), 0);
        for (size_t i = 0; i < (size_t)37 * 21 * c; i++) a.data[i] = (uint8_t)(i * 7 + i / 13);
        char path[96];
        snprintf(path, sizeof path, "%s/x%d.png", dir, c);
        ck_assert_msg(lm_image_write_png(path, &a) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(lm_image_read(&b, path, c), 0);
        ck_assert(b.w == 37 && b.h == 21 && b.c == c);
        ck_assert(!memcmp(a.data, b.data, (size_t)37 * 21 * c));
        lm_image_free(&b);
        if (c == 3) { /* RGB read as gray: PIL luma */
            ck_assert_int_eq(lm_image_read(&b, path, 1), 0);
            const uint8_t *p = a.data + 3 * 5;
            ck_assert_int_eq(b.data[5], (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
            lm_image_free(&b);
        }
        lm_image_free(&a);
        lm_image_free(&a); /* idempotent */
    }
    lm_image_free(NULL);
    /* no temp files left behind; an unwritable target fails cleanly and names the path */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 2", dir);
    ck_assert_int_eq(system(cmd), 0);
    lm_image a;
    ck_assert_int_eq(lm_image_alloc(&a, 4, 4, 3), 0);
    memset(a.data, 9, 48);
    ck_assert_int_lt(lm_image_write_png("/nonexistent_dir_lamac/x.png", &a), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "/nonexistent_dir_lamac/x.png"));
    lm_image_free(&a);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A PNG gets 0666 & ~umask like every other lamac output (the writer used to fchmod 0644,
 * whatever the umask), and a symlink planted at the target is replaced, not written through. */
START_TEST(test_png_mode_follows_umask) {
    char dir[] = "/tmp/lamac_imgXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[96], outside[96];
    snprintf(path, sizeof path, "%s/m.png", dir);
    snprintf(outside, sizeof outside, "%s/outside", dir);
    lm_image a;
    ck_assert_int_eq(lm_image_alloc(&a, 5, 3, 3), 0);
    memset(a.data, 77, 45);
    const mode_t masks[3] = {027, 022, 077}, want[3] = {0640, 0644, 0600};
    mode_t old = umask(027);
    struct stat st;
    for (int k = 0; k < 3; k++) {
        umask(masks[k]);
        ck_assert_msg(lm_image_write_png(path, &a) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(stat(path, &st), 0);
        printf("png under umask %03o: mode %03o (want %03o)\n", (unsigned)masks[k],
               (unsigned)(st.st_mode & 0777), (unsigned)want[k]);
        ck_assert_uint_eq(st.st_mode & 0777, want[k]);
    }
    umask(old);
    /* a symlink at the target: replaced by the PNG, the file it pointed to untouched */
    FILE *f = fopen(outside, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("keep", f);
    fclose(f);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(symlink(outside, path), 0);
    ck_assert_msg(lm_image_write_png(path, &a) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    char buf[8] = {0};
    f = fopen(outside, "rb");
    ck_assert_int_eq(fread(buf, 1, sizeof buf, f), 4);
    fclose(f);
    ck_assert_str_eq(buf, "keep");
    lm_image b;
    ck_assert_int_eq(lm_image_read(&b, path, 3), 0);
    ck_assert(!memcmp(a.data, b.data, 45));
    lm_image_free(&b);
    /* a directory at the target: refused, naming it, no temp file left */
    char sub[96], cmd[160];
    snprintf(sub, sizeof sub, "%s/d.png", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_int_lt(lm_image_write_png(sub, &a), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), sub));
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 3", dir);
    ck_assert_int_eq(system(cmd), 0);
    lm_image_free(&a);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_resize_matches_pil) {
    lm_image src;
    ck_assert_int_eq(lm_image_read(&src, FIX "rgb8.png", 3), 0);
    const int sz[][2] = {{29, 20}, {6, 4}, {13, 20}, {40, 9}};
    for (int k = 0; k < 4; k++) {
        int w = sz[k][0], h = sz[k][1];
        char p[96];
        snprintf(p, sizeof p, FIX "resize_%dx%d.rgb", w, h);
        uint8_t *e = load(p, (size_t)w * h * 3);
        lm_image r;
        ck_assert_int_eq(lm_image_resize_bicubic(&r, &src, w, h), 0);
        int diff = 0;
        for (size_t i = 0; i < (size_t)w * h * 3; i++) diff += r.data[i] != e[i];
        printf("resize %dx%d -> %dx%d: %d values differ from PIL\n", src.w, src.h, w, h, diff);
        ck_assert_int_eq(diff, 0);
        lm_image_free(&r);
        free(e);
    }
    lm_image c;
    ck_assert_int_eq(lm_image_crop(&c, &src, 2, 3, 5, 4), 0);
    ck_assert(!memcmp(c.data, src.data + (3 * src.w + 2) * 3, 15));
    lm_image_free(&c);
    ck_assert_int_lt(lm_image_crop(&c, &src, 10, 0, 5, 4), 0);
    ck_assert_ptr_null(c.data);
    lm_image_free(&src);
}
END_TEST

Suite *check_image_suite(void) {
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_decode_all_layouts);
    tcase_add_test(tc, test_broken_files_name_the_file);
    tcase_add_test(tc, test_jpeg_hostile_exif_offset);
    tcase_add_test(tc, test_png_roundtrip_atomic);
    tcase_add_test(tc, test_png_mode_follows_umask);
    tcase_add_test(tc, test_resize_matches_pil);
    suite_add_tcase(s, tc);
    return s;
}
