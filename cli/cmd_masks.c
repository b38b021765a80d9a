/* cmd_masks.c — `lamac masks`: writes random masks of a preset or config as PNGs, or builds
 * an evaluation set from a folder of images like the official bin/gen_mask_dataset.py
 * (masks/evalset.h). Mask options come from a preset (masks/presets.c) or from a YAML file:
 * a configs/data_gen file (mask_generator_kwargs, cropping, max_tamper_area, ...), a
 * configs/training/data group file (train.mask_gen_kwargs) or a full training experiment
 * (data.train.mask_gen_kwargs, composed by config/config.h). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/err.h"
#include "core/flags.h"
#include "core/path.h"
#include "core/progress.h"
#include "core/rng.h"
#include "data/image.h"
#include "data/walk.h"
#include "masks/evalset.h"
#include "masks/mask.h"
#include "cli/command.h"
#include "config/config.h"
#include "config/data_opts.h"

static const char *const USAGE =
    "usage: lamac masks (--preset NAME | --config FILE) --count N [--size S] --out DIR [--seed K]\n"
    "       lamac masks (--preset NAME | --config FILE) --src DIR --out DIR [--size S] [--seed K]\n"
    "                   [--ext jpg,jpeg,png]\n\n"
    "The first form writes N random masks of S x S pixels as DIR/mask_NNNNNN.png (0 known,\n"
    "255 hole). The second builds an evaluation set like the official gen_mask_dataset.py:\n"
    "each image under --src (recursively, sorted) is resized so its shorter side is the\n"
    "preset's size (PIL bicubic), variants_n masks are drawn, each cut to a random square\n"
    "around the mask, those with hole area above max_tamper_area dropped, and one kept:\n"
    "DIR/REL/NAME_crop000.png and DIR/REL/NAME_crop000_mask000.png.\n\n"
    "  --preset NAME  train, random_{thin,medium,thick}_{256,512}\n"
    "  --config FILE  configs/data_gen/*.yaml, a configs/training/data/*.yaml group file, or a\n"
    "                 training experiment (its data.train.mask_gen_kwargs)\n"
    "  --count N      number of masks (first form)\n"
    "  --size S       mask side (default: 512 for *_512 presets, else 256); with --src, the\n"
    "                 output size (cropping.out_min_size)\n"
    "  --seed K       random seed (default 0); mask i uses the stream (K, 0, i, mask)\n"
    "  --ext LIST     image extensions to take from --src (default jpg,jpeg,png)\n";

/* ---- mask options from YAML (the mapping itself: config/data_opts.h) ------------------- */

/* Fills an evaluation-set config (and its mask config) from a YAML file. */
static int load_config(lm_evalset_cfg *ev, const char *file) {
    lm_cfg_node *root = NULL;
    lm_cfg *full = NULL;
    int rc = lm_cfg_tree_load(&root, file);
    if (rc < 0) return rc;
    lm_evalset_cfg_default(ev);
    const lm_cfg_node *kw, *n;
    if ((kw = lm_cfg_node_get(root, "mask_generator_kwargs"))) { /* configs/data_gen */
        n = lm_cfg_node_get(root, "generator_kind");
        if (n && n->text && strcmp(n->text, "random")) {
            rc = lm_opts_bad_key(n, "generator_kind", "only 'random' is supported (segmentation masks need detectron2)");
            goto cleanup;
        }
        if ((rc = lm_mask_cfg_from_node(&ev->mask, &ev->variants_n, kw, "mask_generator_kwargs")) < 0) goto cleanup;
        for (int i = 0; i < root->n; i++) {
            const lm_cfg_node *k = root->kids[i];
            double v;
            if (!strcmp(k->key, "mask_generator_kwargs") || !strcmp(k->key, "generator_kind")) continue;
            if (!strcmp(k->key, "max_masks_per_image")) {
                if ((rc = lm_opts_number(k, k->key, &v, 1)) < 0) goto cleanup;
                ev->max_masks_per_image = (int)v;
            } else if (!strcmp(k->key, "max_tamper_area")) {
                if ((rc = lm_opts_number(k, k->key, &v, 0)) < 0) goto cleanup;
                ev->max_tamper_area = v;
            } else if (!strcmp(k->key, "cropping")) {
                if ((rc = lm_opts_need_map(k, "cropping")) < 0) goto cleanup;
                for (int j = 0; j < k->n; j++) {
                    const lm_cfg_node *c = k->kids[j];
                    char p[128];
                    lm_opts_join_key(p, sizeof p, "cropping", c->key);
                    if (!strcmp(c->key, "handle_small_mode")) {
                        if (!c->text || (strcmp(c->text, "upscale") && strcmp(c->text, "drop"))) {
                            rc = lm_opts_bad_key(c, p, "expected 'upscale' or 'drop'");
                            goto cleanup;
                        }
                        ev->drop_small = !strcmp(c->text, "drop");
                    } else if (!strcmp(c->key, "out_square_crop")) {
                        if (!c->text || lm_cfg_scalar_bool(c->text, &ev->out_square_crop) < 0) {
                            rc = lm_opts_bad_key(c, p, "expected a boolean");
                            goto cleanup;
                        }
                    } else if (!strcmp(c->key, "out_min_size")) {
                        if ((rc = lm_opts_number(c, p, &v, 1)) < 0) goto cleanup;
                        ev->out_min_size = (int)v;
                    } else if (!strcmp(c->key, "crop_min_overlap")) {
                        if ((rc = lm_opts_number(c, p, &v, 0)) < 0) goto cleanup;
                        ev->crop_min_overlap = v;
                    } else {
                        rc = lm_opts_bad_key(c, p, "unknown cropping option");
                        goto cleanup;
                    }
                }
            } else {
                rc = lm_opts_bad_key(k, k->key, "unknown key of a data_gen config");
                goto cleanup;
            }
        }
    } else if ((kw = lm_cfg_node_find(root, "train.mask_gen_kwargs"))) { /* a data group file */
        rc = lm_mask_cfg_from_node(&ev->mask, NULL, kw, "train.mask_gen_kwargs");
        n = lm_cfg_node_find(root, "train.out_size");
        double v;
        if (rc == 0 && n && (rc = lm_opts_number(n, "train.out_size", &v, 1)) == 0) ev->out_min_size = (int)v;
    } else { /* a training experiment: compose it */
        if ((rc = lm_cfg_load(&full, file, NULL, 0)) < 0) goto cleanup;
        if (!lm_cfg_find(full, "data.train.mask_gen_kwargs")) {
            rc = lm_err_code(LM_EINVAL, "config: %s: no mask_generator_kwargs, train.mask_gen_kwargs "
                                        "or data.train.mask_gen_kwargs", file);
            goto cleanup;
        }
        if ((rc = lm_mask_cfg_from_cfg(&ev->mask, full, "data.train.mask_gen_kwargs")) < 0) goto cleanup;
        int64_t s;
        if (lm_cfg_has(full, "data.train.out_size") && lm_cfg_get_int(full, "data.train.out_size", &s) == 0)
            ev->out_min_size = (int)s;
    }
    if (rc == 0) rc = lm_mask_cfg_check(&ev->mask);
    if (rc < 0) lm_err_prefix("%s", file);
cleanup:
    lm_cfg_free(full);
    lm_cfg_node_free(root);
    return rc;
}

/* ---- helpers --------------------------------------------------------------------------- */

static int has_ext(const char *name, const char *exts) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    size_t el = strlen(dot + 1);
    for (const char *p = exts; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == el && !strncasecmp(p, dot + 1, l)) return 1;
        p += l + (c != NULL);
    }
    return 0;
}

static int keep_ext(const char *name, void *exts) { return has_ext(name, (const char *)exts); }

static int write_mask_png(const char *path, const uint8_t *m, int h, int w) {
    lm_image img;
    int rc = lm_image_alloc(&img, w, h, 1);
    if (rc < 0) return rc;
    for (size_t i = 0, n = (size_t)h * w; i < n; i++) img.data[i] = m[i] ? 255 : 0;
    rc = lm_image_write_png(path, &img);
    lm_image_free(&img);
    return rc;
}

/* ---- the two modes --------------------------------------------------------------------- */

static int gen_masks(const lm_mask_cfg *cfg, long count, int size, const char *out, uint64_t seed) {
    int rc = 0;
    long done = 0;
    lm_progress prog;
    lm_progress_start(&prog, stderr, "masks", "masks");
    char *first_err = NULL;
#pragma omp parallel for schedule(dynamic, 4)
    for (long i = 0; i < count; i++) {
        int bad;
#pragma omp atomic read
        bad = rc;
        if (bad) continue;
        uint8_t *m = malloc((size_t)size * size);
        char path[4200];
        lm_rng r;
        lm_rng_init(&r, seed, 0, (uint64_t)i, LM_RNG_MASK);
        snprintf(path, sizeof path, "%s/mask_%06ld.png", out, i);
        int e = !m ? lm_err_code(LM_ENOMEM, "out of memory") : lm_mask_generate(m, size, size, cfg, &r, -1);
        if (e == 0) e = write_mask_png(path, m, size, size);
        free(m);
#pragma omp critical(lm_masks_progress)
        {
            if (e < 0 && !rc) { /* rc is read atomically by the other threads */
                first_err = strdup(lm_err_msg());
#pragma omp atomic write
                rc = e;
            }
            done++;
            lm_progress_update(&prog, done, count);
        }
    }
    if (rc < 0) {
        lm_err_code(rc, "%s", first_err ? first_err : "failed");
        free(first_err);
    }
    return rc;
}

static int gen_evalset(const lm_evalset_cfg *ev, const char *src, const char *out, uint64_t seed,
                       const char *exts) {
    lm_file_list files = {0};
    int rc = lm_walk_files(&files, src, keep_ext, (void *)exts); /* sorted */
    if (rc < 0) goto cleanup;
    if (files.n == 0) {
        rc = lm_err_code(LM_EINVAL, "%s: no images with extension %s", src, exts);
        goto cleanup;
    }
    long done = 0, pairs = 0, skipped = 0, dropped = 0, total = (long)files.n;
    lm_progress prog;
    lm_progress_start(&prog, stderr, "masks", "images");
    int fatal = 0;
    char *fatal_msg = NULL;
#pragma omp parallel for schedule(dynamic, 1)
    for (long i = 0; i < total; i++) {
        int stop;
#pragma omp atomic read
        stop = fatal;
        if (stop) continue;
        const char *rel = files.v[i];
        char path[8192], base[8192], p1[8300], p2[8300];
        lm_image img = {0}, rs = {0}, crop = {0};
        lm_evalset_pick *picks = calloc((size_t)ev->max_masks_per_image, sizeof *picks);
        int np = 0, e = 0, small = 0, is_fatal = 0;
        snprintf(path, sizeof path, "%s/%s", src, rel);
        if (!picks) e = lm_err_code(LM_ENOMEM, "out of memory"), is_fatal = 1;
        if (e == 0) e = lm_image_read(&img, path, 3);
        if (e == 0) {
            int mn = img.w < img.h ? img.w : img.h;
            if (mn < ev->out_min_size && ev->drop_small) small = 1;
            else {
                /* gen_mask_dataset: out_size = round(size * out_min_size / min(size)) */
                double f = (double)ev->out_min_size / mn;
                e = lm_image_resize_bicubic(&rs, &img, (int)nearbyint(img.w * f), (int)nearbyint(img.h * f));
            }
        }
        if (e == 0 && !small) {
            lm_rng r;
            lm_rng_init(&r, seed, 0, (uint64_t)i, LM_RNG_MASK);
            e = lm_evalset_masks(picks, &np, ev, rs.h, rs.w, &r);
            is_fatal = e < 0; /* a config error repeats for every image */
        }
        snprintf(base, sizeof base, "%s/%s", out, rel);
        char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
        if (dot && dot > slash) *dot = 0;
        if (e == 0 && np > 0 && slash) {
            *slash = 0;
            e = lm_path_mkdirs(base);
            *slash = '/';
            is_fatal = e < 0;
        }
        for (int k = 0; e == 0 && k < np; k++) {
            snprintf(p1, sizeof p1, "%s_crop%03d.png", base, k);
            snprintf(p2, sizeof p2, "%s_crop%03d_mask%03d.png", base, k, k);
            e = lm_image_crop(&crop, &rs, picks[k].x, picks[k].y, picks[k].w, picks[k].h);
            if (e == 0) e = lm_image_write_png(p1, &crop);
            if (e == 0) e = write_mask_png(p2, picks[k].mask, picks[k].h, picks[k].w);
            lm_image_free(&crop);
            is_fatal = e < 0; /* output errors stop the run */
        }
#pragma omp critical(lm_masks_progress)
        {
            if (e < 0 && is_fatal) {
                if (!fatal) { /* fatal is read atomically by the other threads */
                    fatal_msg = strdup(lm_err_msg());
#pragma omp atomic write
                    fatal = 1;
                }
            } else if (e < 0) {
                fprintf(stderr, "\nlamac masks: warning: skipping %s\n", lm_err_msg());
                skipped++;
            } else if (small) {
                skipped++;
            } else {
                pairs += np;
                dropped += np == 0;
            }
            done++;
            lm_progress_update(&prog, done, total);
        }
        for (int k = 0; k < np; k++) free(picks[k].mask);
        free(picks);
        lm_image_free(&img);
        lm_image_free(&rs);
    }
    if (fatal) {
        rc = lm_err_code(LM_EFAIL, "%s", fatal_msg ? fatal_msg : "failed");
        free(fatal_msg);
        goto cleanup;
    }
    fprintf(stderr, "masks: %ld image/mask pairs from %ld images in %s (%ld skipped, %ld with every "
                    "variant above max_tamper_area)\n", pairs, total, out, skipped, dropped);
    if (pairs == 0) rc = lm_err_code(LM_EFAIL, "no image/mask pair was written");
cleanup:
    lm_file_list_free(&files);
    return rc;
}

static int run(int argc, char **argv) {
    const char *preset = NULL, *config = NULL, *out = NULL, *src = NULL, *exts = "jpg,jpeg,png";
    long count = -1, size = 0, seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "lamac masks: %s needs a value (or unknown option)\n%s", a, USAGE);
            return 2;
        }
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--src")) src = v;
        else if (!strcmp(a, "--ext")) exts = v;
        else if (!strcmp(a, "--count")) rc = lm_flag_long(a, v, 0, LONG_MAX, &count);
        else if (!strcmp(a, "--size")) rc = lm_flag_long(a, v, 0, LONG_MAX, &size);
        else if (!strcmp(a, "--seed")) rc = lm_flag_long(a, v, 0, LONG_MAX, &seed);
        else {
            fprintf(stderr, "lamac masks: unknown option %s\n%s", a, USAGE);
            return 2;
        }
        if (rc < 0) return lm_cmd_fail("masks");
    }
    if (!!preset == !!config || !out || (count < 0) == !src) {
        fprintf(stderr, "lamac masks: give one of --preset/--config, --out, and either --count or --src\n%s", USAGE);
        return 2;
    }
    lm_evalset_cfg ev;
    if (preset) {
        int rc;
        if (strncmp(preset, "random_", 7)) { /* train: out_size 256, gen_mask_dataset defaults */
            lm_evalset_cfg_default(&ev);
            rc = lm_mask_preset(&ev.mask, preset);
        } else {
            rc = lm_evalset_preset(&ev, preset);
        }
        if (rc < 0) return lm_cmd_fail("masks");
    } else if (load_config(&ev, config) < 0) {
        return lm_cmd_fail("masks");
    }
    if (lm_mask_cfg_check(&ev.mask) < 0) return lm_cmd_fail("masks");
    if (size > 0) ev.out_min_size = (int)size;
    if (ev.out_min_size <= 0 || ev.out_min_size > 16384) {
        lm_err_code(LM_EINVAL, "--size: must be in 1..16384");
        return lm_cmd_fail("masks");
    }
    if (lm_path_mkdirs(out) < 0) return lm_cmd_fail("masks");
    if (access(out, W_OK) < 0) {
        lm_err_code(LM_EIO, "%s: not writable: %s", out, strerror(errno));
        return lm_cmd_fail("masks");
    }
    int rc = src ? gen_evalset(&ev, src, out, (uint64_t)seed, exts)
                 : gen_masks(&ev.mask, count, ev.out_min_size, out, (uint64_t)seed);
    return rc < 0 ? lm_cmd_fail("masks") : 0;
}

const lm_command lm_cmd_masks = {"masks", "write random masks, or build a mask evaluation set", run};
