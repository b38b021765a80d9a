/* check_loader.c — data/loader: same batches whatever the thread count, exact resume,
 * disjoint ranks, per-epoch permutations, small images padded, sane values. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "data/loader.h"
#include "data/maskdir.h"
#include "data/shards.h"
#include "data/valset.h"
#include "masks/mask.h"
#include "testutil.h"

#define N_IMG 24
static char g_dir[256];
static lm_mask_cfg g_mask;

static void pattern(lm_image *im, int w, int h, int seed) {
    ck_assert_int_eq(lm_image_alloc(im, w, h, 3), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                im->data[(y * w + x) * 3 + c] = (uint8_t)(128 + 100 * sin(0.1 * x * (c + 1) + 0.07 * y + seed));
}

static int img_w(int k) { return k == 5 ? 50 : 64 + 7 * k; }
static int img_h(int k) { return k == 5 ? 40 : 96 - 2 * k; }

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lamac_check_loader_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    lm_shard_writer *w;
    ck_assert_int_eq(lm_shard_writer_open(&w, g_dir, 7, 1), 0);
    for (int k = 0; k < N_IMG; k++) {
        lm_image im;
        pattern(&im, img_w(k), img_h(k), k); /* image 5 (50x40) is smaller than the crop */
        ck_assert_int_eq(lm_shard_writer_add(w, &im, "synthetic"), 0);
        lm_image_free(&im);
    }
    ck_assert_int_eq(lm_shard_writer_finish(w, NULL, NULL), 0);
    lm_shard_writer_free(w);
    ck_assert_int_eq(lm_mask_preset(&g_mask, "train"), 0);
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void opts(lm_loader_opts *o, int threads) {
    lm_loader_opts_default(o);
    o->shard_dir = g_dir;
    o->out_size = 64;
    o->batch_size = 4;
    o->variant = LM_AUG_DISTORTIONS;
    o->mask = &g_mask;
    o->seed = 42;
    o->threads = threads;
}

typedef struct {
    int n;
    float *img, *mask;
    int64_t *ids, *epoch, *batch;
} run;

static run collect(const lm_loader_opts *o, int n) {
    run r = {n, malloc(sizeof(float) * 3 * 64 * 64 * 4 * n), malloc(sizeof(float) * 64 * 64 * 4 * n),
             malloc(sizeof(int64_t) * 4 * n), malloc(sizeof(int64_t) * n), malloc(sizeof(int64_t) * n)};
    lm_loader *l;
    ck_assert_msg(lm_loader_open(&l, o) == 0, "%s", lm_err_msg());
    for (int i = 0; i < n; i++) {
        const lm_batch *b;
        ck_assert_msg(lm_loader_next(&b, l) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(b->n, 4);
        ck_assert_int_eq(b->h, 64);
        memcpy(r.img + (size_t)i * 3 * 64 * 64 * 4, b->img, sizeof(float) * 3 * 64 * 64 * 4);
        memcpy(r.mask + (size_t)i * 64 * 64 * 4, b->mask, sizeof(float) * 64 * 64 * 4);
        memcpy(r.ids + 4 * i, b->image_ids, sizeof(int64_t) * 4);
        r.epoch[i] = b->epoch;
        r.batch[i] = b->batch;
    }
    lm_loader_close(l);
    return r;
}

static void run_free(run *r) { free(r->img), free(r->mask), free(r->ids), free(r->epoch), free(r->batch); }

START_TEST(test_threads_do_not_change_batches) {
    lm_loader_opts o;
    opts(&o, 1);
    o.prefetch = 1;
    run a = collect(&o, 14); /* 6 batches per epoch: crosses two epoch boundaries */
    opts(&o, 2);
    o.prefetch = 3;
    run b = collect(&o, 14);
    ck_assert_int_eq(memcmp(a.ids, b.ids, sizeof(int64_t) * 4 * 14), 0);
    ck_assert_int_eq(memcmp(a.img, b.img, sizeof(float) * 3 * 64 * 64 * 4 * 14), 0);
    ck_assert_int_eq(memcmp(a.mask, b.mask, sizeof(float) * 64 * 64 * 4 * 14), 0);
    /* positions and epochs */
    for (int i = 0; i < 14; i++) {
        ck_assert_int_eq(a.epoch[i], i / 6);
        ck_assert_int_eq(a.batch[i], i % 6);
    }
    /* each epoch is a permutation of all 24 images, and epochs differ */
    for (int e = 0; e < 2; e++) {
        int seen[N_IMG] = {0};
        for (int j = 0; j < 24; j++) seen[a.ids[24 * e + j]]++;
        for (int k = 0; k < N_IMG; k++) ck_assert_int_eq(seen[k], 1);
    }
    ck_assert_int_ne(memcmp(a.ids, a.ids + 24, sizeof(int64_t) * 24), 0);
    /* values: images in [0, 1] and not constant, masks in {0, 1} with holes and known pixels */
    double holes = 0;
    for (size_t i = 0; i < (size_t)64 * 64 * 4 * 14; i++) {
        ck_assert(a.mask[i] == 0.f || a.mask[i] == 1.f);
        holes += a.mask[i];
    }
    holes /= 64.0 * 64 * 4 * 14;
    ck_assert(holes > 0.02 && holes < 0.9);
    float mn = 1, mx = 0;
    for (size_t i = 0; i < (size_t)3 * 64 * 64 * 4 * 14; i++) {
        mn = a.img[i] < mn ? a.img[i] : mn;
        mx = a.img[i] > mx ? a.img[i] : mx;
    }
    ck_assert(mn >= 0 && mx <= 1 && mx - mn > 0.5);
    /* a different seed gives different batches */
    opts(&o, 2);
    o.seed = 43;
    run c = collect(&o, 2);
    ck_assert_int_ne(memcmp(a.img, c.img, sizeof(float) * 3 * 64 * 64 * 4 * 2), 0);
    run_free(&a), run_free(&b), run_free(&c);
}
END_TEST

START_TEST(test_resume_continues_exactly) {
    lm_loader_opts o;
    opts(&o, 2);
    run a = collect(&o, 12); /* epochs 0 and 1 */
    o.start_epoch = 1;
    o.start_batch = 2;
    run b = collect(&o, 4);
    size_t bi = (size_t)3 * 64 * 64 * 4, bm = (size_t)64 * 64 * 4;
    ck_assert_int_eq(memcmp(b.img, a.img + 8 * bi, sizeof(float) * 4 * bi), 0);
    ck_assert_int_eq(memcmp(b.mask, a.mask + 8 * bm, sizeof(float) * 4 * bm), 0);
    ck_assert_int_eq(memcmp(b.ids, a.ids + 32, sizeof(int64_t) * 16), 0);
    ck_assert_int_eq(b.epoch[0], 1);
    ck_assert_int_eq(b.batch[0], 2);
    o.start_batch = 6; /* beyond the epoch */
    lm_loader *l = NULL;
    ck_assert_int_lt(lm_loader_open(&l, &o), 0);
    run_free(&a), run_free(&b);
}
END_TEST

START_TEST(test_ranks_disjoint) {
    lm_loader_opts o;
    opts(&o, 1);
    o.world_size = 2;
    o.rank = 0;
    run r0 = collect(&o, 3); /* 12 images per rank per epoch = 3 batches */
    o.rank = 1;
    run r1 = collect(&o, 3);
    int seen[N_IMG] = {0};
    for (int j = 0; j < 12; j++) seen[r0.ids[j]]++, seen[r1.ids[j]]++;
    for (int k = 0; k < N_IMG; k++) ck_assert_int_eq(seen[k], 1);
    /* the sample at global position p is the same whatever the world size: rank 1's first
     * sample is position 1 of a single-rank run */
    opts(&o, 1);
    lm_loader *l;
    ck_assert_int_eq(lm_loader_open(&l, &o), 0);
    ck_assert_int_eq(lm_loader_batches_per_epoch(l), 6);
    float *img = malloc(sizeof(float) * 3 * 64 * 64), *mask = malloc(sizeof(float) * 64 * 64);
    ck_assert_int_eq(lm_loader_image_at(l, 0, 1), r1.ids[0]);
    ck_assert_int_eq(lm_loader_sample(img, mask, l, 0, 1), 0);
    ck_assert_int_eq(memcmp(img, r1.img, sizeof(float) * 3 * 64 * 64), 0);
    ck_assert_int_eq(memcmp(mask, r1.mask, sizeof(float) * 64 * 64), 0);
    lm_loader_close(l);
    free(img), free(mask);
    /* bad rank */
    opts(&o, 1);
    o.world_size = 2;
    o.rank = 2;
    ck_assert_int_lt(lm_loader_open(&l, &o), 0);
    run_free(&r0), run_free(&r1);
}
END_TEST

/* no_augs on an image smaller than the crop: PadIfNeeded reflect-101, centred. */
START_TEST(test_small_image_padded) {
    lm_loader_opts o;
    opts(&o, 1);
    o.variant = LM_AUG_NO_AUGS;
    lm_loader *l;
    ck_assert_int_eq(lm_loader_open(&l, &o), 0);
    int64_t pos = -1;
    for (int64_t p = 0; p < N_IMG; p++)
        if (lm_loader_image_at(l, 0, p) == 5) pos = p;
    ck_assert_int_ge(pos, 0);
    float *img = malloc(sizeof(float) * 3 * 64 * 64), *mask = malloc(sizeof(float) * 64 * 64);
    ck_assert_int_eq(lm_loader_sample(img, mask, l, 0, pos), 0);
    lm_image src;
    pattern(&src, 50, 40, 5);
    int top = (64 - 40) / 2, left = (64 - 50) / 2;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            int sy = y - top, sx = x - left;
            sy = sy < 0 ? -sy : sy > 39 ? 78 - sy : sy;
            sx = sx < 0 ? -sx : sx > 49 ? 98 - sx : sx;
            for (int c = 0; c < 3; c++)
                ck_assert_float_eq(img[c * 64 * 64 + y * 64 + x], src.data[(sy * 50 + sx) * 3 + c] / 255.f);
        }
    lm_image_free(&src);
    free(img), free(mask);
    lm_loader_close(l);
}
END_TEST

START_TEST(test_open_errors) {
    lm_loader_opts o;
    opts(&o, 1);
    o.shard_dir = "/nonexistent/shards";
    lm_loader *l = NULL;
    ck_assert_int_lt(lm_loader_open(&l, &o), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "index.txt"));
    ck_assert_ptr_null(l);
    opts(&o, 1);
    o.batch_size = 25; /* more than the set holds */
    ck_assert_int_lt(lm_loader_open(&l, &o), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "no full batch"));
    lm_loader_close(NULL);
}
END_TEST

/* A sample that fails (here: a mask config the generator refuses) fails its batch: next()
 * returns the sample's error once, then "stopped"; close() joins the workers. */
START_TEST(test_sample_error_reported) {
    for (int t = 1; t <= 2; t++) {
        lm_loader_opts o;
        opts(&o, t);
        lm_mask_cfg bad = g_mask;
        bad.segm_proba = 0.5; /* unsupported: lm_mask_generate errors */
        o.mask = &bad;
        lm_loader *l;
        ck_assert_int_eq(lm_loader_open(&l, &o), 0);
        const lm_batch *b = (const lm_batch *)1;
        ck_assert_int_lt(lm_loader_next(&b, l), 0);
        ck_assert_ptr_null(b);
        ck_assert_ptr_nonnull(strstr(lm_err_msg(), "segm_proba"));
        ck_assert_ptr_nonnull(strstr(lm_err_msg(), "epoch 0 position"));
        ck_assert_int_lt(lm_loader_next(&b, l), 0);
        ck_assert_ptr_nonnull(strstr(lm_err_msg(), "stopped"));
        lm_loader_close(l);
    }
}
END_TEST

/* the test hooks and lm_loader_next_or: a failed sample is the loader's usual error naming its
 * position; a stalled one never comes, and a wait with a stop callback gives up (1, the batch
 * still next in line) instead of hanging; close ends the stall */
static int g_polls;
static int stop_after_3(void *ctx) {
    (void)ctx;
    return ++g_polls > 3;
}

START_TEST(test_hooks_and_next_or) {
    lm_loader_opts o;
    opts(&o, 2);
    lm_loader *l;
    const lm_batch *b;
    setenv("LAMAC_TEST_LOADER_FAIL", "0:5", 1); /* sample 1 of batch 1 */
    ck_assert_int_eq(lm_loader_open(&l, &o), 0);
    unsetenv("LAMAC_TEST_LOADER_FAIL");
    ck_assert_int_eq(lm_loader_next_or(&b, l, stop_after_3, NULL), 0);
    ck_assert_int_eq(b->batch, 0);
    ck_assert_int_eq(lm_loader_next(&b, l), LM_EIO);
    ck_assert_msg(strstr(lm_err_msg(), "loader: epoch 0 position 5 (image "), "%s", lm_err_msg());
    lm_loader_close(l);

    setenv("LAMAC_TEST_LOADER_STALL", "0:5", 1);
    ck_assert_int_eq(lm_loader_open(&l, &o), 0);
    unsetenv("LAMAC_TEST_LOADER_STALL");
    g_polls = 0;
    ck_assert_int_eq(lm_loader_next_or(&b, l, stop_after_3, NULL), 0);
    ck_assert_int_eq(b->batch, 0);
    lm_err_clear();
    b = (const lm_batch *)1;
    ck_assert_int_eq(lm_loader_next_or(&b, l, stop_after_3, NULL), 1); /* batch 1 never comes */
    ck_assert_ptr_null(b);
    ck_assert_int_eq(lm_err_last_code(), LM_OK);
    ck_assert_int_ge(g_polls, 4);
    lm_loader_close(l); /* ends the stall (would hang otherwise) */
}
END_TEST

/* lm_batch_check: clean batches pass; a mask value outside {0, 1} or a non-finite image value
 * is named with the batch's position, the sample, its image and where */
START_TEST(test_batch_check) {
    enum { N = 2, H = 3, W = 5 };
    float img[N * 3 * H * W], mask[N * H * W];
    int64_t ids[N] = {7, 11};
    for (int i = 0; i < N * 3 * H * W; i++) img[i] = (float)i / (N * 3 * H * W);
    for (int i = 0; i < N * H * W; i++) mask[i] = (float)(i % 3 == 0);
    lm_batch b = {N, H, W, img, mask, ids, 4, 9};
    ck_assert_int_eq(lm_batch_check(&b), 0);
    mask[H * W + 2 * W + 3] = 0.5f; /* sample 1, y 2, x 3 */
    ck_assert_int_eq(lm_batch_check(&b), LM_EINVAL);
    ck_assert_str_eq(lm_err_msg(), "batch (epoch 4, batch 9): sample 1 (image 11): mask value 0.5 at (y 2, x 3), expected 0 or 1");
    mask[H * W + 2 * W + 3] = 1.f;
    img[2 * H * W + 1 * W + 4] = INFINITY; /* sample 0, channel 2, y 1, x 4 */
    ck_assert_int_eq(lm_batch_check(&b), LM_EINVAL);
    ck_assert_str_eq(lm_err_msg(), "batch (epoch 4, batch 9): sample 0 (image 7): image value inf at (channel 2, y 1, x 4) is not finite");
    img[2 * H * W + 1 * W + 4] = 0.f;
    mask[0] = NAN;
    ids[0] = -1; /* unknown image (a batch stream) */
    ck_assert_int_eq(lm_batch_check(&b), LM_EINVAL);
    ck_assert_str_eq(lm_err_msg(), "batch (epoch 4, batch 9): sample 0: mask value nan at (y 0, x 0), expected 0 or 1");
    mask[0] = 1.f;
    img[3 * H * W + 5] = NAN;
    ck_assert_int_eq(lm_batch_check(&b), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "sample 1 (image 11): image value nan at (channel 0, y 1, x 0)"));
}
END_TEST

/* ---- masks from a folder (data/maskdir.h) ---- */
static void gray_png(const char *dir, const char *name, int w, int h, int value) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    lm_image im;
    ck_assert_int_eq(lm_image_alloc(&im, w, h, 1), 0);
    memset(im.data, value, (size_t)w * h);
    ck_assert_int_eq(lm_image_write_png(p, &im), 0);
    lm_image_free(&im);
}

/* constant masks: all-hole (255), all-known (0), gray 10 (hole at threshold 0, known at 127),
 * of several sizes, one in a subfolder; a non-PNG file is ignored */
static void mask_folder(char *dir, size_t cap) {
    snprintf(dir, cap, "/tmp/lamac_check_maskdir_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    gray_png(dir, "a.png", 64, 64, 255);
    gray_png(dir, "b.PNG", 100, 30, 0);
    gray_png(sub, "c.png", 20, 200, 10);
    char p[600];
    snprintf(p, sizeof p, "%s/readme.txt", dir);
    fclose(fopen(p, "w"));
}

START_TEST(test_folder_masks) {
    char mdir[256];
    mask_folder(mdir, sizeof mdir);
    lm_mask_cfg m;
    lm_mask_cfg_default(&m);
    m.kind = LM_MASK_FOLDER;
    m.folder_kwargs.indir = mdir;
    lm_maskdir *md;
    ck_assert_msg(lm_maskdir_open(&md, &m.folder_kwargs) == 0, "%s", lm_err_msg());
    ck_assert_uint_eq(lm_maskdir_count(md), 3);
    ck_assert_str_eq(lm_maskdir_file(md, 0), "a.png");
    ck_assert_str_eq(lm_maskdir_file(md, 2), "sub/c.png");
    lm_maskdir_close(md);

    lm_loader_opts o;
    opts(&o, 1);
    o.mask = &m;
    run a = collect(&o, 8);
    opts(&o, 2);
    o.mask = &m;
    o.prefetch = 3;
    run b = collect(&o, 8);
    ck_assert_int_eq(memcmp(a.mask, b.mask, sizeof(float) * 64 * 64 * 4 * 8), 0); /* thread-count independent */
    /* every mask is constant (the files are); all three files are drawn: 2 of 3 give holes */
    int full = 0, empty = 0;
    for (int s = 0; s < 32; s++) {
        const float *mk = a.mask + (size_t)s * 64 * 64;
        for (int i = 1; i < 64 * 64; i++) ck_assert(mk[i] == mk[0]);
        if (mk[0] == 1.f) full++;
        else empty++;
    }
    printf("folder masks: %d all-hole, %d all-known of 32\n", full, empty);
    ck_assert(full > 8 && empty > 4);
    /* threshold 127: the gray-10 file is known too */
    m.folder_kwargs.threshold = 127;
    opts(&o, 2);
    o.mask = &m;
    run c = collect(&o, 8);
    int full2 = 0;
    for (int s = 0; s < 32; s++) full2 += c.mask[(size_t)s * 64 * 64] == 1.f;
    ck_assert_int_lt(full2, full);
    ck_assert_int_gt(full2, 0);
    /* in the mix: folder_proba beside the generated kinds */
    lm_mask_cfg mix = g_mask;
    mix.folder_proba = 1;
    mix.folder_kwargs.indir = mdir;
    opts(&o, 2);
    o.mask = &mix;
    run d = collect(&o, 8);
    int constant = 0;
    for (int s = 0; s < 32; s++) {
        const float *mk = d.mask + (size_t)s * 64 * 64;
        int i = 1;
        while (i < 64 * 64 && mk[i] == mk[0]) i++;
        constant += i == 64 * 64;
    }
    printf("mixed with folder_proba 1 of 3: %d of 32 masks constant\n", constant);
    ck_assert(constant > 2 && constant < 30);
    /* without the loader, a folder mask has no source: a clear error */
    uint8_t out[16];
    lm_rng r;
    lm_rng_init(&r, 1, 0, 0, LM_RNG_MASK);
    ck_assert_int_eq(lm_mask_generate(out, 4, 4, &m, &r, -1), LM_EINVAL);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "no mask source"));
    run_free(&a), run_free(&b), run_free(&c), run_free(&d);
    lm_test_rmtree(mdir);
}
END_TEST

START_TEST(test_folder_mask_fit) {
    /* resize: a 128x128 source to 64x64 is nearest 2x subsampling; no crop freedom */
    uint8_t *src = malloc(128 * 128), out[64 * 64];
    for (int y = 0; y < 128; y++)
        for (int x = 0; x < 128; x++) src[y * 128 + x] = (uint8_t)((x * 3 + y * 5) & 255);
    lm_rng r;
    lm_rng_init(&r, 7, 0, 0, LM_RNG_MASK);
    ck_assert_int_eq(lm_maskdir_fit(out, 64, 64, src, 128, 128, LM_MASK_FOLDER_RESIZE, 100, &r), 0);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) ck_assert_int_eq(out[y * 64 + x], src[2 * y * 128 + 2 * x] > 100);
    /* crop: a 64x64 window of the source at its own scale, at an offset from the rng */
    int seen_offsets = 0;
    for (int k = 0; k < 5; k++) {
        lm_rng_init(&r, 7, 0, (uint64_t)k, LM_RNG_MASK);
        ck_assert_int_eq(lm_maskdir_fit(out, 64, 64, src, 128, 128, LM_MASK_FOLDER_CROP, 100, &r), 0);
        int found = 0;
        for (int oy = 0; oy <= 64 && !found; oy++)
            for (int ox = 0; ox <= 64 && !found; ox++) {
                int ok = 1;
                for (int y = 0; y < 64 && ok; y++)
                    for (int x = 0; x < 64 && ok; x++) ok = out[y * 64 + x] == (src[(oy + y) * 128 + ox + x] > 100);
                if (ok) found = 1, seen_offsets += oy + ox > 0;
            }
        ck_assert(found);
    }
    ck_assert_int_gt(seen_offsets, 0);
    /* resize keeps the aspect: a 40x10 source (w x h) into 8x8 is scaled to 32x8, then cropped;
     * columns come in runs of 5 source pixels per 4 output ones: x -> (ox + x) * 40 / 32 */
    uint8_t s2[40 * 10], o2[64];
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 40; x++) s2[y * 40 + x] = x >= 20 ? 255 : 0;
    int left = 0, right = 0;
    for (int k = 0; k < 20; k++) {
        lm_rng_init(&r, 3, 0, (uint64_t)k, LM_RNG_MASK);
        ck_assert_int_eq(lm_maskdir_fit(o2, 8, 8, s2, 40, 10, LM_MASK_FOLDER_RESIZE, 0, &r), 0);
        int ones = 0;
        for (int i = 0; i < 64; i++) ones += o2[i];
        ck_assert_int_eq(ones % 8, 0); /* whole columns */
        left += ones == 0, right += ones == 64;
    }
    ck_assert(left > 0 && right > 0);
    /* a source smaller than the crop in crop mode is upscaled */
    uint8_t tiny[4] = {0, 255, 255, 0};
    lm_rng_init(&r, 3, 0, 0, LM_RNG_MASK);
    ck_assert_int_eq(lm_maskdir_fit(o2, 8, 8, tiny, 2, 2, LM_MASK_FOLDER_CROP, 0, &r), 0);
    ck_assert_int_eq(o2[0], 0);
    ck_assert_int_eq(o2[7], 1);
    ck_assert_int_eq(o2[63], 0);
    ck_assert_int_eq(o2[56], 1);
    ck_assert_int_eq(lm_maskdir_fit(o2, 0, 8, tiny, 2, 2, LM_MASK_FOLDER_CROP, 0, &r), LM_EINVAL);
    free(src);
}
END_TEST

START_TEST(test_folder_mask_errors) {
    char mdir[256], p[600];
    snprintf(mdir, sizeof mdir, "/tmp/lamac_check_maskdir_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(mdir));
    lm_mask_cfg m;
    lm_mask_cfg_default(&m);
    m.kind = LM_MASK_FOLDER;
    m.folder_kwargs.indir = mdir;
    lm_loader_opts o;
    opts(&o, 2);
    o.mask = &m;
    lm_loader *l = NULL;
    /* empty folder (only a non-PNG file): named, at open */
    snprintf(p, sizeof p, "%s/notes.txt", mdir);
    fclose(fopen(p, "w"));
    ck_assert_int_lt(lm_loader_open(&l, &o), 0);
    ck_assert_ptr_null(l);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "no mask PNG"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), mdir));
    /* missing folder */
    m.folder_kwargs.indir = "/nonexistent/masks";
    ck_assert_int_lt(lm_loader_open(&l, &o), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "/nonexistent/masks"));
    /* no folder, bad threshold */
    m.folder_kwargs.indir = NULL;
    ck_assert_int_lt(lm_loader_open(&l, &o), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "indir"));
    m.folder_kwargs.indir = mdir;
    m.folder_kwargs.threshold = 255;
    ck_assert_int_lt(lm_loader_open(&l, &o), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "threshold"));
    m.folder_kwargs.threshold = 0;
    /* an unreadable mask: the batch fails naming the file */
    snprintf(p, sizeof p, "%s/broken.png", mdir);
    FILE *f = fopen(p, "wb");
    fputs("\x89PNG\r\n\x1a\nnot really", f);
    fclose(f);
    ck_assert_msg(lm_loader_open(&l, &o) == 0, "%s", lm_err_msg());
    const lm_batch *b;
    ck_assert_int_lt(lm_loader_next(&b, l), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "broken.png"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "unreadable mask"));
    lm_loader_close(l);
    lm_test_rmtree(mdir);
}
END_TEST


/* Official validation layout: NAME.png + NAME_mask*.png, recursive, sorted by mask path. */
START_TEST(test_valset_pairs) {
    char d[300], p[400], cmd[1000];
    snprintf(d, sizeof d, "%s_val", g_dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/sub'", d);
    ck_assert_int_eq(system(cmd), 0);
    const char *imgs[] = {"a.png", "sub/b.png"};
    for (int k = 0; k < 2; k++) {
        lm_image im;
        pattern(&im, 20 + k, 10, k);
        snprintf(p, sizeof p, "%s/%s", d, imgs[k]);
        ck_assert_int_eq(lm_image_write_png(p, &im), 0);
        lm_image_free(&im);
    }
    const char *masks[] = {"a_mask001.png", "a_mask000.png", "sub/b_mask.png", "c_mask.png"};
    for (int k = 0; k < 4; k++) {
        lm_image m;
        ck_assert_int_eq(lm_image_alloc(&m, k == 2 ? 21 : 20, 10, 1), 0);
        for (int i = 0; i < m.w * m.h; i++) m.data[i] = (uint8_t)(i % 3 == 0 ? 255 : k);
        snprintf(p, sizeof p, "%s/%s", d, masks[k]);
        ck_assert_int_eq(lm_image_write_png(p, &m), 0);
        lm_image_free(&m);
    }
    lm_valset *v = NULL;
    ck_assert_int_lt(lm_valset_open(&v, d, ".png"), 0); /* c_mask.png has no c.png */
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "c_mask.png"));
    snprintf(p, sizeof p, "%s/c_mask.png", d);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_msg(lm_valset_open(&v, d, ".png") == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_valset_count(v), 3);
    ck_assert_ptr_nonnull(strstr(lm_valset_mask_path(v, 0), "/a_mask000.png"));
    ck_assert_ptr_nonnull(strstr(lm_valset_mask_path(v, 1), "/a_mask001.png"));
    ck_assert_ptr_nonnull(strstr(lm_valset_mask_path(v, 2), "/sub/b_mask.png"));
    ck_assert_ptr_nonnull(strstr(lm_valset_image_path(v, 1), "/a.png"));
    ck_assert_ptr_nonnull(strstr(lm_valset_image_path(v, 2), "/sub/b.png"));
    float *img, *mask;
    int h, w;
    ck_assert_int_eq(lm_valset_read_float(v, 1, &img, &mask, &h, &w), 0);
    ck_assert_int_eq(h, 10);
    ck_assert_int_eq(w, 20);
    lm_image src;
    pattern(&src, 20, 10, 0);
    ck_assert_float_eq(img[2 * 200 + 13], src.data[13 * 3 + 2] / 255.f); /* CHW */
    ck_assert_float_eq(mask[0], 1.f);
    ck_assert_float_eq(mask[1], 0.f); /* a_mask001 was filled with k = 0 off the 255s */
    lm_image_free(&src);
    free(img), free(mask);
    ck_assert_int_eq(lm_valset_read_float(v, 0, &img, &mask, &h, &w), 0);
    ck_assert_float_eq(mask[1], 1.f / 255.f); /* k = 1: grey / 255, not thresholded */
    free(img), free(mask);
    lm_valset_close(v);
    /* directory symlinks leading back up (a cycle) are not followed: the walk ends, same 3 */
    snprintf(cmd, sizeof cmd, "ln -s .. '%s/sub/loop' && ln -s . '%s/self'", d, d);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(lm_valset_open(&v, d, ".png") == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_valset_count(v), 3);
    ck_assert_ptr_nonnull(strstr(lm_valset_mask_path(v, 2), "/sub/b_mask.png"));
    lm_valset_close(v);
    /* a path longer than the walk's buffer is an error naming it, never a truncated path */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && n=$(printf 'x%%.0s' $(seq 200)) && for i in $(seq 19); do mkdir $n && cd $n; done"
             " && touch $(printf 'z%%.0s' $(seq 240))_mask.png", /* the directory fits, the file not */
             d);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_lt(lm_valset_open(&v, d, ".png"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "path too long"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "xxxxxxxxxx"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *check_loader_suite(void) {
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_threads_do_not_change_batches);
    tcase_add_test(tc, test_resume_continues_exactly);
    tcase_add_test(tc, test_ranks_disjoint);
    tcase_add_test(tc, test_small_image_padded);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_sample_error_reported);
    tcase_add_test(tc, test_hooks_and_next_or);
    tcase_add_test(tc, test_batch_check);
    tcase_add_test(tc, test_valset_pairs);
    tcase_add_test(tc, test_folder_masks);
    tcase_add_test(tc, test_folder_mask_fit);
    tcase_add_test(tc, test_folder_mask_errors);
    suite_add_tcase(s, tc);
    return s;
}
