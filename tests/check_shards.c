/* check_shards.c — data/shards + `lamac shards`: round trip, crop reads, corruption found
 * by --verify, truncated sources skipped and counted, empty folders, atomicity. */
#include <check.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "data/image.h"
#include "data/shards.h"
#include "tests/testutil.h"

static char g_tmp[256];

static void mk_tmp(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/lamac_check_shards_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
}

/* Runs a shell command built printf-style; returns its status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void rm_tmp(void) { ck_assert_int_eq(sh("rm -rf '%s'", g_tmp), 0); }

static void pattern(lm_image *im, int w, int h, int seed) {
    ck_assert_int_eq(lm_image_alloc(im, w, h, 3), 0);
    for (int i = 0; i < w * h * 3; i++) im->data[i] = (uint8_t)(((unsigned)i * 2654435761u + (unsigned)seed * 40503u) >> 23);
}

static void write_png(const char *rel, int w, int h, int seed) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
    lm_image im;
    pattern(&im, w, h, seed);
    ck_assert_msg(lm_image_write_png(p, &im) == 0, "%s", lm_err_msg());
    lm_image_free(&im);
}

/* Runs lamac with args; returns its exit status; output into g_tmp/out.txt. */
static int run_lamac(const char *args) {
    const char *bin = lm_test_lamac_bin();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s > '%s/out.txt' 2>&1", bin, args, g_tmp);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *rel) {
    static char buf[65536];
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

START_TEST(test_roundtrip_crop) {
    mk_tmp();
    char out[512];
    snprintf(out, sizeof out, "%s/set", g_tmp);
    lm_shard_writer *w;
    ck_assert_int_eq(lm_shard_writer_open(&w, out, 2, 0), 0);
    int sizes[3][2] = {{130, 97}, {64, 64}, {17, 200}};
    for (int k = 0; k < 3; k++) {
        lm_image im;
        char name[32];
        pattern(&im, sizes[k][1], sizes[k][0], k);
        snprintf(name, sizeof name, "dir/img%d.png", k);
        ck_assert_int_eq(lm_shard_writer_add(w, &im, name), 0);
        lm_image_free(&im);
        /* nothing looks complete before finish */
        char idx[600];
        snprintf(idx, sizeof idx, "%s/index.txt", out);
        ck_assert_int_ne(access(idx, F_OK), 0);
    }
    int64_t n;
    int ns;
    ck_assert_int_eq(lm_shard_writer_finish(w, &n, &ns), 0);
    lm_shard_writer_free(w);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ns, 2);

    lm_shards *s;
    ck_assert_msg(lm_shards_open(&s, out) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_shards_count(s), 3);
    for (int k = 0; k < 3; k++) {
        int h, wd;
        lm_shards_size(s, k, &h, &wd);
        ck_assert_int_eq(h, sizes[k][0]);
        ck_assert_int_eq(wd, sizes[k][1]);
        char name[64], want[32];
        ck_assert_int_eq(lm_shards_name(s, k, name, sizeof name), 0);
        snprintf(want, sizeof want, "dir/img%d.png", k);
        ck_assert_str_eq(name, want);
        lm_image im;
        pattern(&im, wd, h, k);
        /* a crop equals the source region; whole image too */
        int regs[3][4] = {{0, 0, h, wd}, {h / 3, wd / 4, h - h / 3, wd / 2}, {h - 1, wd - 1, 1, 1}};
        for (int r = 0; r < 3; r++) {
            int y0 = regs[r][0], x0 = regs[r][1], rh = regs[r][2], rw = regs[r][3];
            uint8_t *buf = malloc((size_t)rh * rw * 3);
            ck_assert_int_eq(lm_shards_read(s, k, buf, y0, x0, rh, rw), 0);
            for (int y = 0; y < rh; y++)
                ck_assert_int_eq(memcmp(buf + (size_t)y * rw * 3, im.data + ((size_t)(y0 + y) * wd + x0) * 3, (size_t)rw * 3), 0);
            free(buf);
        }
        uint8_t one[3];
        ck_assert_int_lt(lm_shards_read(s, k, one, h, 0, 1, 1), 0); /* outside */
        lm_image_free(&im);
    }
    lm_shards_close(s);
    /* a second writer refuses the existing set unless asked to overwrite */
    ck_assert_int_lt(lm_shard_writer_open(&w, out, 2, 0), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "--force"));
    rm_tmp();
}
END_TEST

START_TEST(test_interrupted_leaves_no_set) {
    mk_tmp();
    char out[512];
    snprintf(out, sizeof out, "%s/new/parents/set", g_tmp); /* missing parents are created */
    lm_shard_writer *w;
    ck_assert_msg(lm_shard_writer_open(&w, out, 1, 0) == 0, "%s", lm_err_msg());
    for (int k = 0; k < 3; k++) {
        lm_image im;
        pattern(&im, 20, 20, k);
        ck_assert_int_eq(lm_shard_writer_add(w, &im, "x.png"), 0);
        lm_image_free(&im);
    }
    lm_shard_writer_free(w); /* no finish: as if killed */
    lm_shards *s = NULL;
    ck_assert_int_lt(lm_shards_open(&s, out), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "index.txt"));
    ck_assert_int_eq(sh("test -z \"$(ls -A '%s')\"", out), 0); /* temp files removed too */
    rm_tmp();
}
END_TEST

/* A rename failing partway through finish (shard-00001.h5 is a non-empty directory): the error
 * names the file and no half set remains (the already renamed shard-00000.h5 is removed). */
START_TEST(test_finish_rename_failure_leaves_no_half_set) {
    mk_tmp();
    char out[512];
    snprintf(out, sizeof out, "%s/new/parents/set", g_tmp); /* missing parents are created */
    lm_shard_writer *w;
    ck_assert_msg(lm_shard_writer_open(&w, out, 1, 0) == 0, "%s", lm_err_msg());
    for (int k = 0; k < 3; k++) {
        lm_image im;
        pattern(&im, 20, 20, k);
        ck_assert_int_eq(lm_shard_writer_add(w, &im, "x.png"), 0);
        lm_image_free(&im);
    }
    ck_assert_int_eq(sh("mkdir -p '%s/shard-00001.h5/blocker'", out), 0);
    ck_assert_int_lt(lm_shard_writer_finish(w, NULL, NULL), 0);
    ck_assert_msg(strstr(lm_err_msg(), "shard-00001.h5"), "%s", lm_err_msg());
    lm_shard_writer_free(w);
    ck_assert_int_eq(sh("rm -r '%s/shard-00001.h5'", out), 0);
    ck_assert_int_eq(sh("test -z \"$(ls -A '%s')\"", out), 0); /* no shard, no temp, no index */
    rm_tmp();
}
END_TEST

/* Flip bytes inside one chunk of one image: verify names the file and the image; crops that
 * avoid the chunk still read (only touched chunks are read), crops over it fail. */
START_TEST(test_corrupt_chunk_detected) {
    mk_tmp();
    char out[512], shard[600];
    snprintf(out, sizeof out, "%s/set", g_tmp);
    snprintf(shard, sizeof shard, "%s/shard-00000.h5", out);
    lm_shard_writer *w;
    ck_assert_int_eq(lm_shard_writer_open(&w, out, 10, 0), 0);
    for (int k = 0; k < 3; k++) {
        lm_image im;
        char name[32];
        pattern(&im, 128, 128, k);
        snprintf(name, sizeof name, "photo_%d.jpg", k);
        ck_assert_int_eq(lm_shard_writer_add(w, &im, name), 0);
        lm_image_free(&im);
    }
    ck_assert_int_eq(lm_shard_writer_finish(w, NULL, NULL), 0);
    lm_shard_writer_free(w);
    int64_t n = 0, bad = -1;
    FILE *rep = tmpfile();
    ck_assert_int_eq(lm_shards_verify(out, rep, &n, &bad), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(bad, 0);
    fclose(rep);

    /* locate chunk (64..127, 0..63) of image 1 */
    haddr_t addr = 0;
    hsize_t csize = 0;
    lm_hdf5_lock();
    hid_t f = H5Fopen(shard, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "img/0000001", H5P_DEFAULT);
    hsize_t off[3] = {64, 0, 0};
    unsigned mask;
    herr_t e = H5Dget_chunk_info_by_coord(ds, off, &mask, &addr, &csize);
    H5Dclose(ds);
    H5Fclose(f);
    lm_hdf5_unlock();
    ck_assert_int_ge(e, 0);
    ck_assert_uint_eq(csize, 64 * 64 * 3 + 4); /* data + Fletcher32 */
    FILE *fp = fopen(shard, "r+b");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, (long)addr + 1000, SEEK_SET);
    unsigned char b[4];
    ck_assert_uint_eq(fread(b, 1, 4, fp), 4);
    for (int i = 0; i < 4; i++) b[i] ^= 0x5a;
    fseek(fp, (long)addr + 1000, SEEK_SET);
    fwrite(b, 1, 4, fp);
    fclose(fp);

    char repfile[600];
    snprintf(repfile, sizeof repfile, "%s/report.txt", g_tmp);
    rep = fopen(repfile, "w+");
    ck_assert_int_eq(lm_shards_verify(out, rep, &n, &bad), 0);
    fclose(rep);
    ck_assert_int_eq(bad, 1);
    const char *txt = slurp("report.txt");
    ck_assert_ptr_nonnull(strstr(txt, "shard-00000.h5"));
    ck_assert_ptr_nonnull(strstr(txt, "image 1 (photo_1.jpg)"));
    ck_assert_ptr_null(strstr(txt, "photo_0.jpg"));

    lm_shards *s;
    ck_assert_int_eq(lm_shards_open(&s, out), 0);
    uint8_t buf[64 * 64 * 3];
    ck_assert_int_eq(lm_shards_read(s, 1, buf, 0, 0, 64, 64), 0);  /* clean chunk */
    ck_assert_int_eq(lm_shards_read(s, 1, buf, 0, 64, 64, 64), 0); /* clean chunk */
    ck_assert_int_lt(lm_shards_read(s, 1, buf, 70, 10, 20, 20), 0); /* damaged chunk */
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "verify"));
    ck_assert_int_eq(lm_shards_read(s, 2, buf, 64, 0, 64, 64), 0);
    lm_shards_close(s);

    /* the CLI says the same, with a non-zero exit */
    char args[700];
    snprintf(args, sizeof args, "shards --verify '%s'", out);
    ck_assert_int_eq(run_lamac(args), 1);
    txt = slurp("out.txt");
    ck_assert_ptr_nonnull(strstr(txt, "photo_1.jpg"));
    ck_assert_ptr_nonnull(strstr(txt, "1 damaged"));
    rm_tmp();
}
END_TEST

/* A /sizes dataset that gives an image a zero size is refused when the set is opened
 * (the loader would otherwise draw crops of an empty image). */
START_TEST(test_bad_sizes_refused_at_open) {
    mk_tmp();
    char out[512], shard[600];
    snprintf(out, sizeof out, "%s/set", g_tmp);
    snprintf(shard, sizeof shard, "%s/shard-00000.h5", out);
    lm_shard_writer *w;
    ck_assert_int_eq(lm_shard_writer_open(&w, out, 10, 0), 0);
    for (int k = 0; k < 2; k++) {
        lm_image im;
        pattern(&im, 32, 24, k);
        ck_assert_int_eq(lm_shard_writer_add(w, &im, "x.png"), 0);
        lm_image_free(&im);
    }
    ck_assert_int_eq(lm_shard_writer_finish(w, NULL, NULL), 0);
    lm_shard_writer_free(w);
    int32_t sizes[4] = {24, 32, 0, 32}; /* image 1: height 0 */
    lm_hdf5_lock();
    hid_t f = H5Fopen(shard, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "sizes", H5P_DEFAULT);
    herr_t e = H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, sizes);
    H5Dclose(ds);
    H5Fclose(f);
    lm_hdf5_unlock();
    ck_assert_int_ge(e, 0);
    lm_shards *s = NULL;
    ck_assert_int_lt(lm_shards_open(&s, out), 0);
    ck_assert_ptr_null(s);
    printf("bad /sizes -> %s\n", lm_err_msg());
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "image 1"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "shard-00000.h5"));
    rm_tmp();
}
END_TEST

START_TEST(test_cli_skips_truncated_and_counts) {
    mk_tmp();
    ck_assert_int_eq(sh("mkdir -p '%s/src/sub'", g_tmp), 0);
    write_png("src/b.png", 50, 40, 1);
    write_png("src/sub/a.png", 30, 60, 2);
    write_png("src/sub/c.png", 80, 70, 3);
    write_png("src/tiny.png", 8, 8, 4);
    ck_assert_int_eq(sh("echo not an image > '%s/src/notes.txt'", g_tmp), 0);
    ck_assert_int_eq(sh("ln -s .. '%s/src/sub/loop'", g_tmp), 0); /* a cycle: not followed */
    char p[600];
    snprintf(p, sizeof p, "%s/src/sub/c.png", g_tmp);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(truncate(p, st.st_size / 2), 0);

    char args[1400];
    snprintf(args, sizeof args, "shards --src '%s/src' --out '%s/set' --per-shard 2 --min-size 10 --threads 2", g_tmp,
             g_tmp);
    ck_assert_int_eq(run_lamac(args), 0);
    const char *txt = slurp("out.txt");
    ck_assert_ptr_nonnull(strstr(txt, "sub/c.png"));
    ck_assert_ptr_nonnull(strstr(txt, "skipped 1 unreadable, 1 below --min-size"));
    ck_assert_ptr_nonnull(strstr(txt, "wrote 2 images"));
    char set[600];
    snprintf(set, sizeof set, "%s/set", g_tmp);
    lm_shards *s;
    ck_assert_int_eq(lm_shards_open(&s, set), 0);
    ck_assert_int_eq(lm_shards_count(s), 2);
    char name[64];
    ck_assert_int_eq(lm_shards_name(s, 0, name, sizeof name), 0);
    ck_assert_str_eq(name, "b.png"); /* sorted by relative path: b.png < sub/a.png */
    ck_assert_int_eq(lm_shards_name(s, 1, name, sizeof name), 0);
    ck_assert_str_eq(name, "sub/a.png");
    int h, w;
    lm_shards_size(s, 1, &h, &w);
    ck_assert_int_eq(h, 60);
    ck_assert_int_eq(w, 30);
    lm_image im;
    pattern(&im, 30, 60, 2);
    uint8_t *buf = malloc(60 * 30 * 3);
    ck_assert_int_eq(lm_shards_read(s, 1, buf, 0, 0, 60, 30), 0);
    ck_assert_int_eq(memcmp(buf, im.data, 60 * 30 * 3), 0);
    free(buf);
    lm_image_free(&im);
    lm_shards_close(s);
    /* verify passes on a clean set */
    snprintf(args, sizeof args, "shards --verify '%s/set'", g_tmp);
    ck_assert_int_eq(run_lamac(args), 0);
    /* running again refuses to overwrite without --force */
    snprintf(args, sizeof args, "shards --src '%s/src' --out '%s/set'", g_tmp, g_tmp);
    ck_assert_int_eq(run_lamac(args), 1);
    ck_assert_ptr_nonnull(strstr(slurp("out.txt"), "--force"));
    rm_tmp();
}
END_TEST

START_TEST(test_cli_errors) {
    mk_tmp();
    char args[1400];
    ck_assert_int_eq(sh("mkdir -p '%s/empty/deeper'", g_tmp), 0);
    snprintf(args, sizeof args, "shards --src '%s/empty' --out '%s/set'", g_tmp, g_tmp);
    ck_assert_int_eq(run_lamac(args), 1);
    ck_assert_ptr_nonnull(strstr(slurp("out.txt"), "no .jpg/.jpeg/.png images under"));
    snprintf(args, sizeof args, "shards --src '%s/missing' --out '%s/set'", g_tmp, g_tmp);
    ck_assert_int_eq(run_lamac(args), 1);
    ck_assert_ptr_nonnull(strstr(slurp("out.txt"), "cannot read directory"));
    snprintf(args, sizeof args, "shards --verify '%s/empty'", g_tmp);
    ck_assert_int_eq(run_lamac(args), 1);
    ck_assert_ptr_nonnull(strstr(slurp("out.txt"), "not a complete shard set"));
    /* output on a read-only file system (/proc is one for everybody, root included) */
    ck_assert_int_eq(sh("mkdir -p '%s/src1'", g_tmp), 0);
    write_png("src1/one.png", 20, 20, 1);
    snprintf(args, sizeof args, "shards --src '%s/src1' --out /proc/lamac_shards_test", g_tmp);
    ck_assert_int_eq(run_lamac(args), 1);
    ck_assert_ptr_nonnull(strstr(slurp("out.txt"), "cannot"));
    ck_assert_int_eq(run_lamac("shards --help"), 0);
    ck_assert_ptr_nonnull(strstr(slurp("out.txt"), "--verify"));
    rm_tmp();
}
END_TEST

Suite *check_shards_suite(void) {
    Suite *s = suite_create("shards");
    TCase *tc = tcase_create("shards");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_roundtrip_crop);
    tcase_add_test(tc, test_interrupted_leaves_no_set);
    tcase_add_test(tc, test_finish_rename_failure_leaves_no_half_set);
    tcase_add_test(tc, test_corrupt_chunk_detected);
    tcase_add_test(tc, test_bad_sizes_refused_at_open);
    tcase_add_test(tc, test_cli_skips_truncated_and_counts);
    tcase_add_test(tc, test_cli_errors);
    suite_add_tcase(s, tc);
    return s;
}
