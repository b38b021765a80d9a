/* cmd_shards.c — `lamac shards`: a folder tree of JPEG/PNG images -> an HDF5 shard set
 * (data/shards.h), and `lamac shards --verify DIR`. Replaces the official training
 * loader's recursive glob of .jpg files with pre-decoded, checksummed, crop-readable shards. */
#include <ctype.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/flags.h"
#include "core/progress.h"
#include "data/image.h"
#include "data/shards.h"
#include "data/walk.h"
#include "cli/command.h"

static const char *const USAGE =
    "usage: lamac shards --src DIR --out DIR [--per-shard N] [--min-size S] [--threads T] [--force]\n"
    "       lamac shards --verify DIR\n\n"
    "Decodes every .jpg/.jpeg/.png under --src (recursively, sorted by path) and writes them\n"
    "as raw RGB into HDF5 shards in --out (chunked 64x64x3, Fletcher32-checksummed, with each\n"
    "image's size and source name), then DIR/index.txt last: an interrupted run never leaves\n"
    "a set that looks complete.\n\n"
    "  --per-shard N   images per shard file (default 1000)\n"
    "  --min-size S    skip images whose shorter side is below S, with a warning (default 0:\n"
    "                  keep all; the loader pads small images reflect-101 like the official\n"
    "                  PadIfNeeded)\n"
    "  --threads T     decoding threads (default 0 = all cores); HDF5 writes are serial\n"
    "  --force         replace an existing shard set in --out\n"
    "  --verify DIR    read every chunk of every image (checksums) and name damaged files and\n"
    "                  images; exit status 1 if any\n\n"
    "Unreadable or truncated images are skipped with a warning each and counted at the end.\n";

static int has_image_ext(const char *name, void *ctx) {
    (void)ctx;
    const char *d = strrchr(name, '.');
    if (!d) return 0;
    char e[8] = {0};
    for (int i = 0; i < 6 && d[1 + i]; i++) e[i] = (char)tolower((unsigned char)d[1 + i]);
    return !strcmp(e, "jpg") || !strcmp(e, "jpeg") || !strcmp(e, "png");
}

static int run_verify(const char *dir) {
    int64_t n = 0, bad = 0;
    if (lm_shards_verify(dir, stderr, &n, &bad) < 0) return lm_cmd_fail("shards");
    printf("verified %lld images in %s: %lld damaged\n", (long long)n, dir, (long long)bad);
    return bad ? 1 : 0;
}

static int run_build(const char *src, const char *out, int per_shard, int min_size, int threads, int force) {
    lm_file_list files = {0};
    lm_shard_writer *w = NULL;
    int rc = lm_walk_files(&files, src, has_image_ext, NULL); /* sorted */
    long long unreadable = 0, small = 0;
    int failed = 0;
    char fail_msg[1024] = "";
    if (rc < 0) {
        lm_err_prefix("shards");
        goto cleanup;
    }
    if (files.n == 0) {
        rc = lm_err_code(LM_EINVAL, "shards: no .jpg/.jpeg/.png images under %s", src);
        goto cleanup;
    }
    if ((rc = lm_shard_writer_open(&w, out, per_shard, force)) < 0) goto cleanup;
    if (threads <= 0) threads = omp_get_num_procs();
    lm_progress prog;
    lm_progress_start(&prog, stderr, "shards", "images");
    long long total = (long long)files.n;
#pragma omp parallel for ordered schedule(dynamic, 1) num_threads(threads)
    for (long long i = 0; i < total; i++) {
        lm_image img = {0};
        char path[8192], msg[1024] = "";
        int r = -1, skip;
#pragma omp atomic read
        skip = failed;
        if (!skip) {
            snprintf(path, sizeof path, "%s/%s", src, files.v[i]);
            r = lm_image_read(&img, path, 3);
            if (r < 0) snprintf(msg, sizeof msg, "%s", lm_err_msg());
        }
#pragma omp ordered
        {
            if (!failed) {
                if (r < 0) {
                    fprintf(stderr, "%swarning: skipping %s: %s\n", isatty(2) ? "\n" : "", files.v[i], msg);
                    unreadable++;
                } else if (img.h < min_size || img.w < min_size) {
                    fprintf(stderr, "%swarning: skipping %s: %dx%d is below --min-size %d\n", isatty(2) ? "\n" : "",
                            files.v[i], img.w, img.h, min_size);
                    small++;
                } else if (lm_shard_writer_add(w, &img, files.v[i]) < 0) {
                    snprintf(fail_msg, sizeof fail_msg, "%s", lm_err_msg());
#pragma omp atomic write
                    failed = 1;
                }
                lm_progress_update(&prog, i + 1, total);
            }
        }
        lm_image_free(&img);
    }
    if (failed) {
        rc = lm_err_code(LM_EIO, "%s", fail_msg);
        goto cleanup;
    }
    int64_t n_img = 0;
    int n_sh = 0;
    if ((rc = lm_shard_writer_finish(w, &n_img, &n_sh)) < 0) {
        if (n_img == 0 && unreadable + small == total)
            rc = lm_err_code(LM_EINVAL, "shards: none of the %lld images under %s could be used", total, src);
        goto cleanup;
    }
    printf("wrote %lld images into %d shard(s) in %s (%.1f s); skipped %lld unreadable, %lld below --min-size\n",
           (long long)n_img, n_sh, out, lm_clock_now() - prog.t0, unreadable, small);
cleanup:
    lm_shard_writer_free(w);
    lm_file_list_free(&files);
    return rc < 0 ? lm_cmd_fail("shards") : 0;
}

static int cmd_shards(int argc, char **argv) {
    const char *src = NULL, *out = NULL, *verify = NULL;
    int per_shard = 1000, min_size = 0, threads = 0, force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--force")) {
            force = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "lamac shards: %s needs a value\n%s", a, USAGE);
            return 2;
        }
        i++;
        if (!strcmp(a, "--src"))
            src = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--verify"))
            verify = v;
        else if (!strcmp(a, "--per-shard")) {
            if (lm_flag_int(a, v, 1, 1 << 30, &per_shard) < 0) return lm_cmd_fail("shards");
        } else if (!strcmp(a, "--min-size")) {
            if (lm_flag_int(a, v, 0, 1 << 30, &min_size) < 0) return lm_cmd_fail("shards");
        } else if (!strcmp(a, "--threads")) {
            if (lm_flag_int(a, v, 0, 1 << 30, &threads) < 0) return lm_cmd_fail("shards");
        } else {
            fprintf(stderr, "lamac shards: unknown option %s\n%s", a, USAGE);
            return 2;
        }
    }
    if (verify) return run_verify(verify);
    if (!src || !out) {
        fprintf(stderr, "lamac shards: --src and --out are required\n%s", USAGE);
        return 2;
    }
    return run_build(src, out, per_shard, min_size, threads, force);
}

const lm_command lm_cmd_shards = {"shards", "image folder -> HDF5 shard set; --verify checks one", cmd_shards};
