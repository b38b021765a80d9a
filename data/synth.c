/* synth.c — periodic texture dataset (see synth.h). */
#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/path.h"
#include "core/rng.h"
#include "data/shards.h"
#include "masks/mask.h"

#define SYNTH_PURPOSE 101 /* rng purpose of textures (apart from the loader's) */

static double clamp255(double v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

static void colour(lm_rng *r, double c[3]) {
    for (int k = 0; k < 3; k++) c[k] = lm_rng_range(r, 20, 235);
}

int lm_synth_texture(lm_image *out, int size, uint64_t seed, int64_t index) {
    int rc = lm_image_alloc(out, size, size, 3);
    if (rc < 0) return rc;
    lm_rng r;
    lm_rng_init(&r, seed, 0, (uint64_t)index, SYNTH_PURPOSE);
    int family = (int)(index % 5);
    double a[3], b[3];
    colour(&r, a);
    colour(&r, b);
    double noise = lm_rng_range(&r, 2, 10);
    double p = lm_rng_range(&r, 5, 16), q = lm_rng_range(&r, 3, 9); /* periods */
    double ox = lm_rng_range(&r, 0, 64), oy = lm_rng_range(&r, 0, 64);
    double ang = lm_rng_range(&r, 0, M_PI), ca = cos(ang), sa = sin(ang);
    double var = lm_rng_range(&r, 0, 40); /* per-cell colour variation (bricks, tiles) */
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double X = x + ox, Y = y + oy, t = 0, cell_var = 0;
            switch (family) {
            case 0: { /* bricks: rows of height q, bricks of width p (>= 2q), offset by half */
                double bw = p + q, bh = q + 2;
                int row = (int)floor(Y / bh);
                double xs = X + (row & 1) * bw / 2;
                int col = (int)floor(xs / bw);
                double fx = xs - col * bw, fy = Y - row * bh;
                t = (fx < 1.5 || fy < 1.2) ? 1 : 0; /* mortar */
                uint64_t h = (uint64_t)(row * 7919 + col * 104729 + 1) * 0x9E3779B97F4A7C15ull;
                cell_var = ((double)(h >> 40) / (double)(1ull << 24) - 0.5) * var;
                break;
            }
            case 1: { /* tiles: checkerboard of period p */
                int i = (int)floor(X / p), j = (int)floor(Y / p);
                t = (i + j) & 1;
                uint64_t h = (uint64_t)(i * 7919 + j * 104729 + 3) * 0x9E3779B97F4A7C15ull;
                cell_var = ((double)(h >> 40) / (double)(1ull << 24) - 0.5) * var;
                break;
            }
            case 2: /* stripes at an angle: a sinusoid of period p */
                t = 0.5 + 0.5 * sin(2 * M_PI * (X * ca + Y * sa) / p);
                break;
            case 3: { /* grid lines every p, width ~ q / 3 */
                double fx = fmod(X, p), fy = fmod(Y, p), w = 1 + q / 4;
                t = (fx < w || fy < w) ? 1 : 0;
                break;
            }
            default: { /* dots on a lattice of period p, radius ~ p / 3 */
                double fx = fmod(X, p) - p / 2, fy = fmod(Y, p) - p / 2;
                t = (fx * fx + fy * fy < (p * p) / 10) ? 1 : 0;
                break;
            }
            }
            uint8_t *px = out->data + ((size_t)y * size + x) * 3;
            for (int k = 0; k < 3; k++)
                px[k] = (uint8_t)clamp255(a[k] * (1 - t) + b[k] * t + cell_var + noise * lm_rng_normal(&r));
        }
    return 0;
}

lm_synth_opts lm_synth_defaults(void) {
    lm_synth_opts o = {600, 16, 48, 96, 64, "random_thick_256", 0};
    return o;
}

/* A preset mask at 256 x 256, subsampled to size x size (area <= 0.5 where possible). */
static int eval_mask(uint8_t *out, int size, const lm_mask_cfg *cfg, uint64_t seed, int64_t i) {
    uint8_t *big = malloc(256 * 256);
    if (!big) return lm_err_code(LM_ENOMEM, "synth: out of memory");
    int rc = 0;
    for (int tries = 0; tries < 5; tries++) {
        lm_rng r;
        lm_rng_init(&r, seed, (uint64_t)tries, (uint64_t)i, LM_RNG_EVAL);
        if ((rc = lm_mask_generate(big, 256, 256, cfg, &r, 0)) < 0) break;
        size_t on = 0;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                uint8_t v = big[(size_t)(y * 256 / size) * 256 + (size_t)(x * 256 / size)];
                out[(size_t)y * size + x] = v ? 255 : 0;
                on += v != 0;
            }
        if (on > 0 && on * 2 <= (size_t)size * size) break;
    }
    free(big);
    return rc;
}

static int write_pairs(const char *dir, int n, int64_t first, const lm_synth_opts *o, const lm_mask_cfg *mc) {
    int rc = lm_path_mkdirs(dir);
    if (rc < 0) return rc;
    lm_image img = {0}, m = {0};
    if ((rc = lm_image_alloc(&m, o->eval_size, o->eval_size, 1)) < 0) return rc;
    char path[4096 + 64];
    for (int i = 0; i < n && !rc; i++) {
        if ((rc = lm_synth_texture(&img, o->eval_size, o->seed, first + i)) < 0) break;
        snprintf(path, sizeof path, "%s/tex%05d.png", dir, i);
        if ((rc = lm_image_write_png(path, &img)) < 0) break;
        if ((rc = eval_mask(m.data, o->eval_size, mc, o->seed + 7, first + i)) < 0) break;
        snprintf(path, sizeof path, "%s/tex%05d_mask000.png", dir, i);
        rc = lm_image_write_png(path, &m);
        lm_image_free(&img);
    }
    lm_image_free(&img);
    lm_image_free(&m);
    return rc;
}

int lm_synth_dataset(const char *dir, const lm_synth_opts *o) {
    if (o->n_train < 1 || o->train_size < 8 || o->eval_size < 8 || o->n_val < 0 || o->n_test < 0)
        return lm_err_code(LM_EINVAL, "synth: bad sizes");
    lm_mask_cfg mc;
    int rc = lm_mask_preset(&mc, o->mask_preset);
    if (rc < 0) return rc;
    char p[4096 + 16];
    snprintf(p, sizeof p, "%s/train", dir);
    if ((rc = lm_path_mkdirs(p)) < 0) return rc;
    lm_shard_writer *w = NULL;
    if ((rc = lm_shard_writer_open(&w, p, 200, 1)) < 0) return rc;
    lm_image im = {0};
    for (int k = 0; k < o->n_train && !rc; k++) {
        if ((rc = lm_synth_texture(&im, o->train_size, o->seed, k)) < 0) break;
        char name[32];
        snprintf(name, sizeof name, "synthetic/%05d.png", k);
        rc = lm_shard_writer_add(w, &im, name);
        lm_image_free(&im);
    }
    if (!rc) rc = lm_shard_writer_finish(w, NULL, NULL);
    lm_shard_writer_free(w);
    if (rc < 0) return rc;
    /* val and test use texture indices after the training ones: held out */
    snprintf(p, sizeof p, "%s/val", dir);
    if ((rc = write_pairs(p, o->n_val, o->n_train, o, &mc)) < 0) return rc;
    snprintf(p, sizeof p, "%s/test", dir);
    return write_pairs(p, o->n_test, (int64_t)o->n_train + o->n_val, o, &mc);
}
