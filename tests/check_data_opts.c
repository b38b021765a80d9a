/* check_data_opts.c — config/data_opts: the YAML -> lm_mask_cfg / lm_loader_opts mapping
 * (lama-fourier's data group gives exactly the `train` mask preset, out_size 256, batch 10,
 * distortions), overrides, errors with key paths, and `lamac bench loader CONFIG`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "config/config.h"
#include "config/data_opts.h"
#include "tests/testutil.h"

static void assert_same_irregular(const lm_mask_irregular_cfg *a, const lm_mask_irregular_cfg *b) {
    ck_assert_int_eq(a->max_angle, b->max_angle);
    ck_assert_int_eq(a->max_len, b->max_len);
    ck_assert_int_eq(a->max_width, b->max_width);
    ck_assert_int_eq(a->min_times, b->min_times);
    ck_assert_int_eq(a->max_times, b->max_times);
    ck_assert_int_eq(a->ramp.enabled, b->ramp.enabled);
}

static void assert_same_mask(const lm_mask_cfg *a, const lm_mask_cfg *b) {
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert_double_eq(a->irregular_proba, b->irregular_proba);
    ck_assert_double_eq(a->box_proba, b->box_proba);
    ck_assert_double_eq(a->segm_proba, b->segm_proba);
    ck_assert_double_eq(a->squares_proba, b->squares_proba);
    ck_assert_double_eq(a->superres_proba, b->superres_proba);
    ck_assert_double_eq(a->outpainting_proba, b->outpainting_proba);
    ck_assert_double_eq(a->invert_proba, b->invert_proba);
    assert_same_irregular(&a->irregular_kwargs, &b->irregular_kwargs);
    ck_assert_int_eq(a->box_kwargs.margin, b->box_kwargs.margin);
    ck_assert_int_eq(a->box_kwargs.bbox_min_size, b->box_kwargs.bbox_min_size);
    ck_assert_int_eq(a->box_kwargs.bbox_max_size, b->box_kwargs.bbox_max_size);
    ck_assert_int_eq(a->box_kwargs.min_times, b->box_kwargs.min_times);
    ck_assert_int_eq(a->box_kwargs.max_times, b->box_kwargs.max_times);
    ck_assert_int_eq(a->box_kwargs.ramp.enabled, b->box_kwargs.ramp.enabled);
}

START_TEST(test_lama_fourier_is_train_preset) {
    lm_cfg *c;
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", NULL, 0) == 0, "%s", lm_err_msg());
    lm_mask_cfg m, preset;
    ck_assert_msg(lm_mask_cfg_from_cfg(&m, c, "data.train.mask_gen_kwargs") == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_mask_preset(&preset, "train"), 0);
    assert_same_mask(&m, &preset);
    /* the values themselves (abl-04-256-mh-dist.yaml) */
    ck_assert_int_eq(m.irregular_kwargs.max_len, 200);
    ck_assert_int_eq(m.irregular_kwargs.max_width, 100);
    ck_assert_int_eq(m.box_kwargs.bbox_max_size, 150);
    ck_assert_double_eq(m.segm_proba, 0);

    lm_loader_opts o;
    lm_mask_cfg m2;
    ck_assert_msg(lm_loader_opts_from_cfg(&o, &m2, c) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(o.out_size, 256);
    ck_assert_int_eq(o.batch_size, 10);
    ck_assert_int_eq(o.variant, LM_AUG_DISTORTIONS);
    ck_assert_ptr_eq(o.mask, &m2);
    ck_assert_ptr_nonnull(o.shard_dir);
    ck_assert_str_eq(o.shard_dir, "./data/train"); /* ${location.data_root_dir}/train */
    assert_same_mask(&m2, &preset);
    lm_cfg_free(c);
}
END_TEST

START_TEST(test_overrides_and_errors) {
    const char *ov[] = {"data.batch_size=4", "data.train.out_size=128", "data.train.transform_variant=no_augs",
                        "data.train.mask_gen_kwargs.box_proba=0",
                        "data.train.mask_gen_kwargs.irregular_kwargs.max_len=50"};
    lm_cfg *c;
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov, 5) == 0, "%s", lm_err_msg());
    lm_loader_opts o;
    lm_mask_cfg m;
    ck_assert_msg(lm_loader_opts_from_cfg(&o, &m, c) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(o.batch_size, 4); /* dataloader_kwargs.batch_size: ${data.batch_size} */
    ck_assert_int_eq(o.out_size, 128);
    ck_assert_int_eq(o.variant, LM_AUG_NO_AUGS);
    ck_assert_double_eq(m.box_proba, 0);
    ck_assert_int_eq(m.irregular_kwargs.max_len, 50);
    ck_assert_int_eq(m.irregular_kwargs.max_width, 100);
    /* a path without a mask generator */
    ck_assert_int_lt(lm_mask_cfg_from_cfg(&m, c, "data.val.mask_gen_kwargs"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "data.val.mask_gen_kwargs"));
    lm_cfg_free(c);

    /* node-level mapping: unknown keys and wrong types name the key path and line */
    const char *y = "kw:\n  irregular_proba: 1\n  irregular_kwargs:\n    max_len: 10\n    max_lenn: 3\n";
    lm_cfg_node *root;
    ck_assert_int_eq(lm_cfg_tree_parse(&root, y, strlen(y), "t.yaml"), 0);
    lm_mask_cfg_default(&m);
    ck_assert_int_lt(lm_mask_cfg_from_node(&m, NULL, lm_cfg_node_get(root, "kw"), "kw"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "kw.irregular_kwargs.max_lenn"));
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "t.yaml:5"));
    lm_cfg_node_free(root);
    const char *y2 = "kw:\n  box_proba: many\n";
    ck_assert_int_eq(lm_cfg_tree_parse(&root, y2, strlen(y2), "t2.yaml"), 0);
    ck_assert_int_lt(lm_mask_cfg_from_node(&m, NULL, lm_cfg_node_get(root, "kw"), "kw"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "kw.box_proba"));
    lm_cfg_node_free(root);
    /* variants_n only where the caller takes it (data_gen files) */
    const char *y3 = "kw:\n  variants_n: 5\n  box_proba: 0.5\n";
    ck_assert_int_eq(lm_cfg_tree_parse(&root, y3, strlen(y3), "t3.yaml"), 0);
    int variants = 0;
    lm_mask_cfg_default(&m);
    ck_assert_int_eq(lm_mask_cfg_from_node(&m, &variants, lm_cfg_node_get(root, "kw"), "kw"), 0);
    ck_assert_int_eq(variants, 5);
    ck_assert_double_eq(m.box_proba, 0.5);
    ck_assert_int_lt(lm_mask_cfg_from_node(&m, NULL, lm_cfg_node_get(root, "kw"), "kw"), 0);
    lm_cfg_node_free(root);
}
END_TEST

/* `lamac bench loader CONFIG overrides --threads 1 --batches 2` reads the config's data.train */
START_TEST(test_bench_loader_config) {
    const char *bin = lm_test_lamac_bin();
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd,
             "%s bench loader configs/training/lama-fourier.yaml data.train.out_size=64 data.batch_size=3 "
             "--threads 1 --batches 2 2>&1",
             bin);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    int saw_cfg = 0, saw_rate = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "variant distortions") && strstr(line, "64x64 crops, batch 3")) saw_cfg = 1;
        if (strstr(line, "threads 1: 6 samples") && strstr(line, "samples/s")) saw_rate = 1;
    }
    ck_assert_int_eq(pclose(f), 0);
    ck_assert(saw_cfg && saw_rate);
    /* a config error is reported with the key, non-zero exit */
    snprintf(cmd, sizeof cmd,
             "%s bench loader configs/training/lama-fourier.yaml data.train.mask_gen_kwargs.segm_proba=0.5 "
             "--batches 1 2>&1",
             bin);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    int saw_err = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "segm_proba")) saw_err = 1;
    ck_assert_int_ne(pclose(f), 0);
    ck_assert(saw_err);
}
END_TEST


/* lamac's folder masks: mask_generator_kind folder (alone) or folder_proba (in the mix) */
START_TEST(test_folder_masks_from_config) {
    const char *ov[] = {"data.train.mask_generator_kind=folder",
                        "data.train.mask_gen_kwargs.folder_kwargs.indir=${location.data_root_dir}/masks",
                        "data.train.mask_gen_kwargs.folder_kwargs.mode=crop",
                        "data.train.mask_gen_kwargs.folder_kwargs.threshold=127"};
    lm_cfg *c;
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov, 4) == 0, "%s", lm_err_msg());
    lm_loader_opts o;
    lm_mask_cfg m;
    ck_assert_msg(lm_loader_opts_from_cfg(&o, &m, c) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(m.kind, LM_MASK_FOLDER);
    ck_assert_str_eq(m.folder_kwargs.indir, "./data/masks");
    ck_assert_int_eq(m.folder_kwargs.mode, LM_MASK_FOLDER_CROP);
    ck_assert_int_eq(m.folder_kwargs.threshold, 127);
    lm_cfg_free(c);
    /* in the mix */
    const char *ov2[] = {"data.train.mask_gen_kwargs.folder_proba=0.5",
                         "data.train.mask_gen_kwargs.folder_kwargs.indir=/m"};
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov2, 2) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_loader_opts_from_cfg(&o, &m, c) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(m.kind, LM_MASK_MIXED);
    ck_assert_double_eq(m.folder_proba, 0.5);
    ck_assert_str_eq(m.folder_kwargs.indir, "/m");
    ck_assert_int_eq(m.folder_kwargs.mode, LM_MASK_FOLDER_RESIZE);
    lm_cfg_free(c);
    /* folder kind without a folder; folder_proba without a folder; a bad mode */
    const char *ov3[] = {"data.train.mask_generator_kind=folder"};
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov3, 1) == 0, "%s", lm_err_msg());
    ck_assert_int_lt(lm_loader_opts_from_cfg(&o, &m, c), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "folder_kwargs.indir"));
    lm_cfg_free(c);
    const char *ov4[] = {"data.train.mask_gen_kwargs.folder_proba=1"};
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov4, 1) == 0, "%s", lm_err_msg());
    ck_assert_int_lt(lm_loader_opts_from_cfg(&o, &m, c), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "folder_kwargs.indir"));
    lm_cfg_free(c);
    const char *ov5[] = {"data.train.mask_gen_kwargs.folder_kwargs.mode=stretch"};
    ck_assert_int_lt(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov5, 1), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "folder_kwargs.mode"));
    const char *ov6[] = {"data.train.mask_generator_kind=segm"};
    ck_assert_int_lt(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov6, 1), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "mask_generator_kind"));
}
END_TEST

/* every MixedMaskGenerator keyword argument is accepted (squares, superres, outpainting,
 * invert, ramps), and the official kinds outpainting and dumb take their own kwargs */
START_TEST(test_all_official_mask_options) {
    const char *ov[] = {"+data.train.mask_gen_kwargs.squares_proba=0.5",
                        "+data.train.mask_gen_kwargs.squares_kwargs.max_width=7",
                        "+data.train.mask_gen_kwargs.superres_proba=0.25",
                        "+data.train.mask_gen_kwargs.superres_kwargs.max_step=6",
                        "+data.train.mask_gen_kwargs.outpainting_proba=0.125",
                        "+data.train.mask_gen_kwargs.outpainting_kwargs.max_padding_percent=0.5",
                        "+data.train.mask_gen_kwargs.invert_proba=0.5",
                        "+data.train.mask_gen_kwargs.irregular_kwargs.ramp_kwargs.start_iter=10",
                        "+data.train.mask_gen_kwargs.irregular_kwargs.ramp_kwargs.end_iter=1000",
                        "+data.train.mask_gen_kwargs.box_kwargs.ramp_kwargs.end_value=0.5"};
    lm_cfg *c;
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov, 10) == 0, "%s", lm_err_msg());
    lm_loader_opts o;
    lm_mask_cfg m;
    ck_assert_msg(lm_loader_opts_from_cfg(&o, &m, c) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(m.kind, LM_MASK_MIXED);
    ck_assert_double_eq(m.squares_proba, 0.5);
    ck_assert_int_eq(m.squares_kwargs.max_width, 7);
    ck_assert_double_eq(m.superres_proba, 0.25);
    ck_assert_int_eq(m.superres_kwargs.max_step, 6);
    ck_assert_double_eq(m.outpainting_proba, 0.125);
    ck_assert_double_eq(m.outpainting_kwargs.max_padding_percent, 0.5);
    ck_assert_double_eq(m.invert_proba, 0.5);
    ck_assert_int_eq(m.irregular_kwargs.ramp.enabled, 1);
    ck_assert_double_eq(m.irregular_kwargs.ramp.start_iter, 10);
    ck_assert_double_eq(m.irregular_kwargs.ramp.end_iter, 1000);
    ck_assert_int_eq(m.box_kwargs.ramp.enabled, 1);
    ck_assert_double_eq(m.box_kwargs.ramp.end_value, 0.5);
    lm_cfg_free(c);

    /* kind outpainting: mask_gen_kwargs are OutpaintingMaskGenerator's; masks are borders */
    const char *ov2[] = {"~data.train.mask_gen_kwargs", "data.train.mask_generator_kind=outpainting",
                         "+data.train.mask_gen_kwargs.min_padding_percent=0.1",
                         "+data.train.mask_gen_kwargs.max_padding_percent=0.2",
                         "+data.train.mask_gen_kwargs.left_padding_prob=1",
                         "+data.train.mask_gen_kwargs.top_padding_prob=0",
                         "+data.train.mask_gen_kwargs.right_padding_prob=0",
                         "+data.train.mask_gen_kwargs.bottom_padding_prob=0"};
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov2, 8) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_loader_opts_from_cfg(&o, &m, c) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(m.kind, LM_MASK_OUTPAINTING);
    ck_assert_double_eq(m.outpainting_kwargs.min_padding_percent, 0.1);
    ck_assert_double_eq(m.outpainting_kwargs.left_padding_prob, 1);
    uint8_t mask[64 * 64];
    lm_rng r;
    lm_rng_init(&r, 7, 0, 0, LM_RNG_MASK);
    ck_assert_msg(lm_mask_generate(mask, 64, 64, &m, &r, -1) == 0, "%s", lm_err_msg());
    /* only the left band (6..12 columns of 64: rows are full, the right half is known) */
    int left = 0, right = 0;
    for (int y = 0; y < 64; y++) left += mask[y * 64], right += mask[y * 64 + 63];
    ck_assert_int_eq(left, 64);
    ck_assert_int_eq(right, 0);
    lm_cfg_free(c);

    /* kind outpainting with the mixed generator's keys: the official TypeError, as a message */
    const char *ov3[] = {"data.train.mask_generator_kind=outpainting"};
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov3, 1) == 0, "%s", lm_err_msg());
    ck_assert_int_lt(lm_loader_opts_from_cfg(&o, &m, c), 0);
    ck_assert_msg(strstr(lm_err_msg(), "irregular_proba") && strstr(lm_err_msg(), "mask_generator_kind outpainting"),
                  "%s", lm_err_msg());
    lm_cfg_free(c);
    /* a bad range is caught when the config is read, not at the first batch */
    const char *ov4[] = {"~data.train.mask_gen_kwargs", "data.train.mask_generator_kind=outpainting",
                         "+data.train.mask_gen_kwargs.min_padding_percent=0.3",
                         "+data.train.mask_gen_kwargs.max_padding_percent=0.2"};
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov4, 4) == 0, "%s", lm_err_msg());
    ck_assert_int_lt(lm_loader_opts_from_cfg(&o, &m, c), 0);
    ck_assert_msg(strstr(lm_err_msg(), "min_padding_percent"), "%s", lm_err_msg());
    lm_cfg_free(c);

    /* kind dumb: is_training required, nothing else */
    const char *ov5[] = {"~data.train.mask_gen_kwargs", "data.train.mask_generator_kind=dumb",
                         "+data.train.mask_gen_kwargs.is_training=false"};
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov5, 3) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_loader_opts_from_cfg(&o, &m, c) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(m.kind, LM_MASK_DUMB);
    ck_assert_int_eq(m.dumb_is_training, 0);
    ck_assert_msg(lm_mask_generate(mask, 64, 64, &m, &r, -1) == 0, "%s", lm_err_msg());
    /* the central square: sqrt(0.225) / 2 * 64 = 15.18 -> rows/cols 17..47 */
    ck_assert_int_eq(mask[32 * 64 + 32], 1);
    ck_assert_int_eq(mask[0], 0);
    lm_cfg_free(c);
    const char *ov6[] = {"~data.train.mask_gen_kwargs", "data.train.mask_generator_kind=dumb"};
    ck_assert_msg(lm_cfg_load(&c, "configs/training/lama-fourier.yaml", ov6, 2) == 0, "%s", lm_err_msg());
    ck_assert_int_lt(lm_loader_opts_from_cfg(&o, &m, c), 0);
    ck_assert_msg(strstr(lm_err_msg(), "is_training"), "%s", lm_err_msg());
    lm_cfg_free(c);
}
END_TEST

Suite *check_data_opts_suite(void) {
    Suite *s = suite_create("data_opts");
    TCase *tc = tcase_create("data_opts");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lama_fourier_is_train_preset);
    tcase_add_test(tc, test_all_official_mask_options);
    tcase_add_test(tc, test_overrides_and_errors);
    tcase_add_test(tc, test_bench_loader_config);
    tcase_add_test(tc, test_folder_masks_from_config);
    suite_add_tcase(s, tc);
    return s;
}
