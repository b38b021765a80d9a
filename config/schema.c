/* schema.c — THE table of every configuration key lamac knows: full path, type,
 * default, range or choices, and the option field it fills (config/fill.h). It mirrors the
 * keys of the official configs/training tree (advimman/lama). Validation (validate.c)
 * rejects any key not listed here; the typed getters and lm_cfg_fill fall back to `def` for
 * a key the composed tree lacks: each default is stated here and nowhere else.
 *
 * A default is what the official code uses when the key is absent: the keyword default of
 * the official constructor that receives the group as **kwargs (FFCResNetGenerator, FFC,
 * FourierUnit, NLayerDiscriminator, NonSaturatingWithR1, ResNetPL, make_optimizer and
 * torch.optim), or the official trainer's own fallback (an absent resnet_pl section is weight
 * 0). tests/fixtures/config/official_defaults.txt lists those, read from the official sources, and
 * check_config's test_defaults_are_official holds this table to them. Keys the official code
 * requires (l1 weights, ratio_gin, ...) and Lightning's Trainer keys (fractions there,
 * batches here) default to the values of the official lama-fourier configuration.
 *
 * Keys flagged UNUSED are official keys that lamac accepts so that official files load as
 * they are, but does not act on (yet): Lightning trainer switches (gpus, accelerator,
 * log_gpu_memory, ...), the visualizer, the web-dataset loader, the `segm_pl` loss section of
 * the celeba ablations (which the official trainer ignores as well), ... A later issue that
 * implements one removes its UNUSED flag. The `hydra` group is not listed: the loader drops
 * it (it configures Hydra itself, not the job). Add new keys here, nowhere else. */
#include <stddef.h>
#include <string.h>

#include "config/config.h"
#include "config/fill.h"
#include "data/loader.h"
#include "model/discriminator.h"
#include "model/generator.h"
#include "train/loop.h"
#include "train/step.h"

/* Row makers. The optional last arguments bind the key to a field of a module's options
 * (one of the set macros below, e.g. GEN(ngf, LM_BIND_INT)). */
#define ROW(p, t, d, lo, hi, fl, ch, ...) \
    {.path = p, .type = t, .def = d, .min = lo, .max = hi, .flags = fl, .choices = ch, __VA_ARGS__}
#define MAP(p) ROW(p, LM_CFG_T_MAP, NULL, 0, 0, 0, NULL)
#define MAPN(p) ROW(p, LM_CFG_T_MAP, NULL, 0, 0, LM_CFG_F_NULLABLE, NULL)
#define MAPU(p) ROW(p, LM_CFG_T_MAP, NULL, 0, 0, LM_CFG_F_UNUSED, NULL)
#define LIST(p, fl, ...) ROW(p, LM_CFG_T_LIST, NULL, 0, 0, fl, NULL, __VA_ARGS__)
#define BOOL(p, d, fl, ...) ROW(p, LM_CFG_T_BOOL, d, 0, 0, fl, NULL, __VA_ARGS__)
#define INT(p, d, lo, hi, fl, ...) ROW(p, LM_CFG_T_INT, d, lo, hi, LM_CFG_F_MIN | LM_CFG_F_MAX | (fl), NULL, __VA_ARGS__)
#define INTMIN(p, d, lo, fl, ...) ROW(p, LM_CFG_T_INT, d, lo, 0, LM_CFG_F_MIN | (fl), NULL, __VA_ARGS__)
#define FLT(p, d, lo, hi, fl, ...) ROW(p, LM_CFG_T_FLOAT, d, lo, hi, LM_CFG_F_MIN | LM_CFG_F_MAX | (fl), NULL, __VA_ARGS__)
#define FLTMIN(p, d, lo, fl, ...) ROW(p, LM_CFG_T_FLOAT, d, lo, 0, LM_CFG_F_MIN | (fl), NULL, __VA_ARGS__)
#define STR(p, d, fl, ...) ROW(p, LM_CFG_T_STR, d, 0, 0, fl, NULL, __VA_ARGS__)
#define ENUM(p, d, choices, fl, ...) ROW(p, LM_CFG_T_STR, d, 0, 0, fl, choices, __VA_ARGS__)

/* The field a row fills: set, struct type, member (a designator: opt_g.lr), binding. */
#define FIELD(set, T, m, b) .opts = set, .bind = b, .off = offsetof(T, m), .size = sizeof(((T *)0)->m)
#define GEN(m, b) FIELD(LM_OPTS_GENERATOR, lm_generator_opts, m, b)
#define DIS(m, b) FIELD(LM_OPTS_DISCRIMINATOR, lm_discriminator_opts, m, b)
#define STEP(m, b) FIELD(LM_OPTS_STEP, lm_step_opts, m, b)
#define LOSS(m, b) FIELD(LM_OPTS_LOSSES, lm_loss_opts, m, b)
#define TRAIN(m, b) FIELD(LM_OPTS_TRAIN, lm_train_opts, m, b)
#define LOADER(m, b) FIELD(LM_OPTS_LOADER, lm_loader_opts, m, b)

#define U LM_CFG_F_UNUSED
#define N LM_CFG_F_NULLABLE

/* The FFC keyword arguments of one generator stage (init / downsample / resnet conv_kwargs):
 * ratio_gin, ratio_gout (default r), enable_lfu, gated, spectral_pos_encoding, use_se, fft_norm. */
#define FFC_KWARGS(prefix, m, r)                                                           \
    MAP(prefix), FLT(prefix ".ratio_gin", r, 0, 1, 0, GEN(m.ratio_gin, LM_BIND_DOUBLE)),    \
        FLT(prefix ".ratio_gout", r, 0, 1, 0, GEN(m.ratio_gout, LM_BIND_DOUBLE)),           \
        BOOL(prefix ".enable_lfu", "true", 0, GEN(m.enable_lfu, LM_BIND_BOOL)),            \
        BOOL(prefix ".gated", "false", 0, GEN(m.gated, LM_BIND_BOOL)),                      \
        BOOL(prefix ".spectral_pos_encoding", "false", 0, GEN(m.spectral_pos_encoding, LM_BIND_BOOL)), \
        BOOL(prefix ".use_se", "false", 0, GEN(m.use_se, LM_BIND_BOOL)), /* true: rejected (not built) */ \
        ENUM(prefix ".fft_norm", "ortho", "ortho|backward|forward", 0, GEN(m.fft_norm, LM_BIND_CHARS))

/* One optimizer section (optimizers.generator / optimizers.discriminator): make_optimizer's
 * kind and torch.optim.Adam/AdamW's keyword arguments, filling the step options' member m.
 * weight_decay has no default: absent, it is torch's (adam 0, adamw 0.01). */
#define OPTIMIZER(prefix, m)                                                               \
    MAP(prefix), ENUM(prefix ".kind", "adamw", "adam|adamw", 0, STEP(m.kind, LM_BIND_CHOICE)), \
        FLT(prefix ".lr", "0.001", 0, 10, 0, STEP(m.lr, LM_BIND_DOUBLE)),                  \
        ROW(prefix ".betas", LM_CFG_T_LIST, "[0.9, 0.999]", 0, 0, 0, NULL, STEP(m.beta1, LM_BIND_PAIR)), \
        FLTMIN(prefix ".eps", "1e-8", 0, 0, STEP(m.eps, LM_BIND_DOUBLE)),                  \
        ROW(prefix ".weight_decay", LM_CFG_T_FLOAT, NULL, 0, 0, LM_CFG_F_MIN, NULL, STEP(m.weight_decay, LM_BIND_KEEP)), \
        BOOL(prefix ".amsgrad", "false", 0, STEP(m.amsgrad, LM_BIND_BOOL))

/* A dataloader section (data.train / data.val / data.visual_test / data.extra_val.*). */
#define DATALOADER(prefix, bs, shuffle, ...)                                             \
    MAP(prefix ".dataloader_kwargs"), INT(prefix ".dataloader_kwargs.batch_size", bs, 1, 65536, 0, __VA_ARGS__), \
        BOOL(prefix ".dataloader_kwargs.shuffle", shuffle, 0),                           \
        INT(prefix ".dataloader_kwargs.num_workers", "3", 0, 1024, 0)

/* saicinpainting.utils.LinearRamp keyword arguments (ramp_kwargs of a mask generator). */
#define RAMP(prefix)                                                                      \
    MAPN(prefix ".ramp_kwargs"), FLT(prefix ".ramp_kwargs.start_value", NULL, -1e9, 1e9, 0),   \
        FLT(prefix ".ramp_kwargs.end_value", NULL, -1e9, 1e9, 0),                          \
        FLT(prefix ".ramp_kwargs.start_iter", NULL, -1e18, 1e18, 0),                      \
        FLT(prefix ".ramp_kwargs.end_iter", NULL, -1e18, 1e18, 0)

/* RandomIrregularMaskGenerator keyword arguments (irregular_kwargs, squares_kwargs). */
#define IRREGULAR(prefix)                                              \
    MAP(prefix), INTMIN(prefix ".max_angle", NULL, 1, 0), INTMIN(prefix ".max_len", NULL, 1, 0), \
        INTMIN(prefix ".max_width", NULL, 1, 0), INTMIN(prefix ".max_times", NULL, 0, 0), \
        INTMIN(prefix ".min_times", NULL, 0, 0), RAMP(prefix)

/* OutpaintingMaskGenerator keyword arguments (outpainting_kwargs in the mix, or the whole
 * mask_gen_kwargs of mask_generator_kind outpainting). */
#define OUTPAINTING(prefix)                                                               \
    FLT(prefix ".min_padding_percent", NULL, 0, 1, 0), FLT(prefix ".max_padding_percent", NULL, 0, 1, 0), \
        FLT(prefix ".left_padding_prob", NULL, 0, 1, 0), FLT(prefix ".top_padding_prob", NULL, 0, 1, 0),     \
        FLT(prefix ".right_padding_prob", NULL, 0, 1, 0), FLT(prefix ".bottom_padding_prob", NULL, 0, 1, 0), \
        BOOL(prefix ".is_fixed_randomness", NULL, 0)

const lm_cfg_key lm_cfg_schema[] = {
    /* ---- top level (the experiment file) ---- */
    STR("run_title", "", 0),
    /* lamac: fine-tuning (`lamac train CONFIG init_from=PATH`) and the run's seed */
    STR("init_from", "null", N),
    BOOL("init_strict", "true", 0),
    INTMIN("seed", "0", 0, 0, TRAIN(seed, LM_BIND_U64)),

    /* training_model: saicinpainting/training/trainers/default.py */
    MAP("training_model"),
    ENUM("training_model.kind", "default", "default", 0),
    INTMIN("training_model.visualize_each_iters", "1000", 1, 0, TRAIN(visualize_each_iters, LM_BIND_I64)),
    BOOL("training_model.concat_mask", "true", 0),
    BOOL("training_model.store_discr_outputs_for_vis", "true", U),
    /* generator averaging (base.py; off in every official config) */
    BOOL("training_model.average_generator", "false", 0, STEP(ema.enabled, LM_BIND_BOOL)),
    FLT("training_model.generator_avg_beta", "0.999", 0, 1, 0, STEP(ema.beta, LM_BIND_DOUBLE)),
    INTMIN("training_model.average_generator_start_step", "30000", 0, 0, STEP(ema.start_step, LM_BIND_I64)),
    INTMIN("training_model.average_generator_period", "10", 0, 0, STEP(ema.period, LM_BIND_I64)),
    BOOL("training_model.reuse_generator_output", "false", 0, STEP(reuse_pred, LM_BIND_BOOL)), /* lamac option (step.h reuse_pred) */

    /* losses: trainers/base.py, trainers/default.py, the losses package */
    MAP("losses"),
    MAP("losses.l1"),
    FLTMIN("losses.l1.weight_missing", "0", 0, 0, STEP(l1.weight_missing, LM_BIND_DOUBLE)),
    FLTMIN("losses.l1.weight_known", "10", 0, 0, STEP(l1.weight_known, LM_BIND_DOUBLE)),
    MAP("losses.perceptual"), /* VGG perceptual loss */
    FLTMIN("losses.perceptual.weight", "0", 0, 0, LOSS(perceptual.weight, LM_BIND_DOUBLE)),
    MAP("losses.perceptual.kwargs"),
    ENUM("losses.perceptual.kwargs.metric", "l1", "l1|l2", U),
    MAP("losses.adversarial"),
    ENUM("losses.adversarial.kind", "r1", "r1|bce", 0, STEP(adv.kind, LM_BIND_CHOICE)),
    FLTMIN("losses.adversarial.weight", "1", 0, 0, STEP(adv.weight, LM_BIND_DOUBLE)),
    FLTMIN("losses.adversarial.gp_coef", "5", 0, 0, STEP(adv.gp_coef, LM_BIND_DOUBLE)),
    BOOL("losses.adversarial.mask_as_fake_target", "false", 0, STEP(adv.mask_as_fake_target, LM_BIND_BOOL)),
    BOOL("losses.adversarial.allow_scale_mask", "false", 0, STEP(adv.allow_scale_mask, LM_BIND_BOOL)),
    ENUM("losses.adversarial.mask_scale_mode", "nearest", "nearest|bilinear|area|maxpool", 0, STEP(adv.mask_scale_mode, LM_BIND_CHOICE)),
    FLTMIN("losses.adversarial.extra_mask_weight_for_gen", "0", 0, 0, STEP(adv.extra_mask_weight_for_gen, LM_BIND_DOUBLE)),
    BOOL("losses.adversarial.use_unmasked_for_gen", "true", 0, STEP(adv.use_unmasked_for_gen, LM_BIND_BOOL)),
    BOOL("losses.adversarial.use_unmasked_for_discr", "true", 0, STEP(adv.use_unmasked_for_discr, LM_BIND_BOOL)),
    MAP("losses.feature_matching"),
    FLTMIN("losses.feature_matching.weight", "100", 0, 0, STEP(fm.weight, LM_BIND_DOUBLE)),
    BOOL("losses.feature_matching.pass_mask", "false", 0, STEP(fm.pass_mask, LM_BIND_BOOL)),
    MAP("losses.resnet_pl"), /* high receptive field perceptual loss (ResNetPL) */
    FLTMIN("losses.resnet_pl.weight", "0", 0, 0, LOSS(resnet_pl.weight, LM_BIND_DOUBLE)),
    STR("losses.resnet_pl.weights_path", "null", N, LOSS(resnet_pl.weights_path, LM_BIND_CHARS)),
    ENUM("losses.resnet_pl.arch_encoder", "resnet50dilated", "resnet50dilated|resnet50", 0, LOSS(resnet_pl.arch_encoder, LM_BIND_CHARS)),
    BOOL("losses.resnet_pl.segmentation", "true", 0, LOSS(resnet_pl.segmentation, LM_BIND_BOOL)),
    BOOL("losses.resnet_pl.bn_train", "true", 0, LOSS(resnet_pl.bn_train, LM_BIND_BOOL)), /* lamac: false = eval-mode encoder (deviation) */
    MAPU("losses.segm_pl"), /* celeba ablations only; ignored by the official trainer too */
    FLTMIN("losses.segm_pl.weight", "0", 0, U),
    BOOL("losses.segm_pl.imagenet_weights", "true", U),
    ENUM("losses.segm_pl.arch_encoder", "resnet50dilated", "resnet50dilated|resnet50", U),

    /* ---- generator group: saicinpainting/training/modules/{ffc,pix2pixhd,...}.py ---- */
    MAP("generator"),
    ENUM("generator.kind", "ffc_resnet", "ffc_resnet|pix2pixhd_global|pix2pixhd_multidilated", 0, GEN(kind, LM_BIND_CHARS)),
    INT("generator.input_nc", "4", 1, 64, 0, GEN(input_nc, LM_BIND_INT)),
    INT("generator.output_nc", "3", 1, 64, 0, GEN(output_nc, LM_BIND_INT)),
    INT("generator.ngf", "64", 1, 4096, 0, GEN(ngf, LM_BIND_INT)),
    INT("generator.n_downsampling", "3", 0, 8, 0, GEN(n_downsampling, LM_BIND_INT)),
    INT("generator.n_blocks", "9", 0, 256, 0, GEN(n_blocks, LM_BIND_INT)),
    INT("generator.max_features", "1024", 1, 65536, 0, GEN(max_features, LM_BIND_INT)),
    /* official default add_out_act=True, which the generators read as tanh; false: none */
    ENUM("generator.add_out_act", "tanh", "sigmoid|tanh|none", LM_CFG_F_OR_BOOL, GEN(add_out_act, LM_BIND_OUT_ACT)),
    BOOL("generator.out_ffc", "false", 0, GEN(out_ffc, LM_BIND_BOOL)),        /* true: rejected by the generator (not built) */
    ROW("generator.spatial_transform_layers", LM_CFG_T_LIST, "null", 0, 0, LM_CFG_F_NULLABLE, NULL, GEN(spatial_transform, LM_BIND_PRESENT)),
    ENUM("generator.conv_kind", "default", "default", 0, GEN(conv_kind, LM_BIND_CHARS)),
    FFC_KWARGS("generator.init_conv_kwargs", init_conv_kwargs, "0"),
    FFC_KWARGS("generator.downsample_conv_kwargs", downsample_conv_kwargs, "0"),
    FFC_KWARGS("generator.resnet_conv_kwargs", resnet_conv_kwargs, "0.75"),
    MAP("generator.multidilation_kwargs"), /* pix2pixhd_multidilated */
    ENUM("generator.multidilation_kwargs.comb_mode", "cat_in", "cat_in", 0, GEN(multidilation_comb_mode, LM_BIND_CHARS)),
    INT("generator.multidilation_kwargs.dilation_num", "4", 1, 16, 0, GEN(multidilation_dilation_num, LM_BIND_INT)),

    /* ---- discriminator group ---- */
    MAP("discriminator"),
    ENUM("discriminator.kind", "pix2pixhd_nlayer", "pix2pixhd_nlayer", 0, DIS(kind, LM_BIND_CHARS)),
    INT("discriminator.input_nc", "3", 1, 64, 0, DIS(input_nc, LM_BIND_INT)),
    INT("discriminator.ndf", "64", 1, 4096, 0, DIS(ndf, LM_BIND_INT)),
    INT("discriminator.n_layers", "3", 1, 8, 0, DIS(n_layers, LM_BIND_INT)),

    /* ---- optimizers group: trainers/base.py make_optimizer ---- */
    MAP("optimizers"),
    OPTIMIZER("optimizers.generator", opt_g),
    OPTIMIZER("optimizers.discriminator", opt_d),

    /* ---- location group: where data, runs and pretrained weights live ---- */
    MAP("location"),
    STR("location.data_root_dir", "./data", 0),
    STR("location.out_root_dir", "./runs", 0),
    STR("location.tb_dir", "./runs/tb_logs", 0),
    STR("location.pretrained_models", "./pretrained", 0),

    /* ---- data group: saicinpainting/training/data/datasets.py, masks.py ---- */
    MAP("data"),
    INT("data.batch_size", "10", 1, 65536, 0),
    INT("data.val_batch_size", "2", 1, 65536, 0),
    INT("data.num_workers", "3", 0, 1024, 0),
    MAP("data.train"),
    ENUM("data.train.kind", "default", "default|default_web", 0),
    INTMIN("data.train.shuffle_buffer", "200", 1, U), /* default_web only */
    STR("data.train.indir", NULL, 0, LOADER(shard_dir, LM_BIND_CSTR)),
    STR("data.train.stream", "null", N), /* lamac: a batch stream file to train on instead (train/batchstream.h) */
    BOOL("data.train.device_prefetch", "true", 0, TRAIN(device_prefetch, LM_BIND_BOOL)), /* lamac: batch k+1 to the device while step k runs (train/prefetch.h) */
    INT("data.train.out_size", "256", 8, 65536, 0, LOADER(out_size, LM_BIND_INT)),
    ENUM("data.train.transform_variant", "default", "default|distortions|no_augs", 0, LOADER(variant, LM_BIND_AUG)),
    /* The mask generators' keys have no default here: an absent key takes the official
     * constructor's default (MixedMaskGenerator, RandomIrregularMaskGenerator, ...), stated
     * once in masks/ (lm_mask_cfg_default) and held to the official sources by the config
     * suite (test_mask_defaults_are_official); config/data_opts.c reads these mappings. */
    MAP("data.train.mask_gen_kwargs"),
    FLTMIN("data.train.mask_gen_kwargs.irregular_proba", NULL, 0, 0),
    IRREGULAR("data.train.mask_gen_kwargs.irregular_kwargs"),
    FLTMIN("data.train.mask_gen_kwargs.box_proba", NULL, 0, 0),
    MAP("data.train.mask_gen_kwargs.box_kwargs"),
    INTMIN("data.train.mask_gen_kwargs.box_kwargs.margin", NULL, 0, 0),
    INTMIN("data.train.mask_gen_kwargs.box_kwargs.bbox_min_size", NULL, 1, 0),
    INTMIN("data.train.mask_gen_kwargs.box_kwargs.bbox_max_size", NULL, 1, 0),
    INTMIN("data.train.mask_gen_kwargs.box_kwargs.max_times", NULL, 0, 0),
    INTMIN("data.train.mask_gen_kwargs.box_kwargs.min_times", NULL, 0, 0),
    RAMP("data.train.mask_gen_kwargs.box_kwargs"),
    FLT("data.train.mask_gen_kwargs.segm_proba", NULL, 0, 0, 0), /* segmentation masks: unsupported */
    FLTMIN("data.train.mask_gen_kwargs.squares_proba", NULL, 0, 0),
    IRREGULAR("data.train.mask_gen_kwargs.squares_kwargs"),
    FLTMIN("data.train.mask_gen_kwargs.superres_proba", NULL, 0, 0),
    MAP("data.train.mask_gen_kwargs.superres_kwargs"),
    INTMIN("data.train.mask_gen_kwargs.superres_kwargs.min_step", NULL, 1, 0),
    INTMIN("data.train.mask_gen_kwargs.superres_kwargs.max_step", NULL, 1, 0),
    INTMIN("data.train.mask_gen_kwargs.superres_kwargs.min_width", NULL, 1, 0),
    INTMIN("data.train.mask_gen_kwargs.superres_kwargs.max_width", NULL, 1, 0),
    FLTMIN("data.train.mask_gen_kwargs.outpainting_proba", NULL, 0, 0),
    MAP("data.train.mask_gen_kwargs.outpainting_kwargs"),
    OUTPAINTING("data.train.mask_gen_kwargs.outpainting_kwargs"),
    FLT("data.train.mask_gen_kwargs.invert_proba", NULL, 0, 1, 0),
    /* mask_generator_kind outpainting: OutpaintingMaskGenerator(**mask_gen_kwargs);
     * dumb: DumbAreaMaskGenerator(is_training) */
    OUTPAINTING("data.train.mask_gen_kwargs"),
    BOOL("data.train.mask_gen_kwargs.is_training", NULL, 0),
    /* lamac: masks from a folder of PNGs (data/maskdir.h), alone (mask_generator_kind: folder)
     * or in the mix (folder_proba) */
    ENUM("data.train.mask_generator_kind", "mixed", "mixed|outpainting|dumb|folder", 0),
    FLTMIN("data.train.mask_gen_kwargs.folder_proba", NULL, 0, 0),
    MAP("data.train.mask_gen_kwargs.folder_kwargs"),
    STR("data.train.mask_gen_kwargs.folder_kwargs.indir", NULL, 0),
    ENUM("data.train.mask_gen_kwargs.folder_kwargs.mode", NULL, "resize|crop", 0),
    INT("data.train.mask_gen_kwargs.folder_kwargs.threshold", NULL, 0, 254, 0),
    DATALOADER("data.train", "10", "true", LOADER(batch_size, LM_BIND_INT)),
    MAP("data.val"),
    STR("data.val.indir", NULL, 0),
    STR("data.val.img_suffix", ".png", 0),
    DATALOADER("data.val", "2", "false", TRAIN(val_batch_size, LM_BIND_I64)),
    MAPN("data.visual_test"),
    STR("data.visual_test.indir", NULL, 0),
    STR("data.visual_test.img_suffix", ".png", 0),
    INTMIN("data.visual_test.pad_out_to_modulo", "32", 1, 0),
    DATALOADER("data.visual_test", "1", "false"),
    MAPN("data.extra_val"), /* commented out in the official data files */
    MAP("data.extra_val.*"),
    STR("data.extra_val.*.indir", NULL, 0),
    STR("data.extra_val.*.img_suffix", ".png", 0),
    DATALOADER("data.extra_val.*", "2", "false"),

    /* ---- evaluator group: saicinpainting/evaluation ---- */
    MAP("evaluator"),
    ENUM("evaluator.kind", "default", "default", 0),
    ENUM("evaluator.inpainted_key", "inpainted", "inpainted|predicted_image", 0),
    ENUM("evaluator.integral_kind", "ssim_fid100_f1", "ssim_fid100_f1|lpips_fid100_f1", 0),
    BOOL("evaluator.lpips", "true", 0), /* make_evaluator(lpips=True, fid=True) */
    BOOL("evaluator.fid", "true", 0),

    /* ---- visualizer group: training/visualizers (sample grids) ---- */
    MAPU("visualizer"),
    ENUM("visualizer.kind", "directory", "directory|noop", U),
    STR("visualizer.outdir", "samples", U),
    LIST("visualizer.key_order", U),
    LIST("visualizer.rescale_keys", U),

    /* ---- trainer group: pytorch_lightning.Trainer kwargs + ModelCheckpoint kwargs ---- */
    MAP("trainer"),
    MAP("trainer.kwargs"),
    INTMIN("trainer.kwargs.gpus", "-1", -1, U),
    STR("trainer.kwargs.accelerator", "null", N | U),
    INTMIN("trainer.kwargs.max_epochs", "40", 0, 0, TRAIN(max_epochs, LM_BIND_I64)),
    INTMIN("trainer.kwargs.max_steps", "-1", -1, 0, TRAIN(max_steps, LM_BIND_I64)),
    FLTMIN("trainer.kwargs.gradient_clip_val", "1", 0, 0, STEP(gradient_clip_val, LM_BIND_DOUBLE)),
    STR("trainer.kwargs.log_gpu_memory", "None", N | U),
    INTMIN("trainer.kwargs.limit_train_batches", "25000", 1, 0, TRAIN(limit_train_batches, LM_BIND_I64)),
    INTMIN("trainer.kwargs.limit_val_batches", "1000000", 0, 0, TRAIN(limit_val_batches, LM_BIND_I64)),
    INTMIN("trainer.kwargs.val_check_interval", "25000", 1, 0, TRAIN(val_check_interval, LM_BIND_I64)),
    INTMIN("trainer.kwargs.log_every_n_steps", "250", 1, 0, TRAIN(log_every_n_steps, LM_BIND_I64)),
    STR("trainer.kwargs.precision", "32", 0, STEP(precision, LM_BIND_PRECISION)), /* 32 | bf16 (bf16-mixed); 16 is refused */
    BOOL("trainer.kwargs.sync_batchnorm", "false", 0, STEP(sync_bn, LM_BIND_OR)), /* Lightning's name for trainer.sync_bn */
    BOOL("trainer.kwargs.terminate_on_nan", "false", 0),
    INTMIN("trainer.kwargs.check_val_every_n_epoch", "1", 1, 0, TRAIN(check_val_every_n_epoch, LM_BIND_I64)),
    INTMIN("trainer.kwargs.num_sanity_val_steps", "8", 0, 0),
    BOOL("trainer.kwargs.replace_sampler_ddp", "false", U),
    BOOL("trainer.kwargs.benchmark", "false", U),
    STR("trainer.kwargs.resume_from_checkpoint", "null", N),
    BOOL("trainer.kwargs.fast_dev_run", "false", U),
    ENUM("trainer.on_nonfinite", "stop", "stop|skip", 0, TRAIN(on_nonfinite, LM_BIND_CHOICE)), /* lamac: a non-finite loss term */
    BOOL("trainer.sync_bn", "false", 0, STEP(sync_bn, LM_BIND_OR)), /* lamac: SyncBatchNorm under data parallelism */
    BOOL("trainer.ddp_overlap", "false", 0, STEP(ddp_overlap, LM_BIND_BOOL)), /* lamac: gradient all-reduce during backward */
    STR("trainer.precision", "null", N, STEP(precision, LM_BIND_PRECISION)), /* lamac spelling of trainer.kwargs.precision (wins) */
    /* lamac: GPU speed switches (train/step.h, docs/gpu.md). tf32 null: libtorch's defaults */
    BOOL("trainer.tf32", "null", N, STEP(tf32, LM_BIND_TRI)),
    BOOL("trainer.channels_last", "false", 0, STEP(channels_last, LM_BIND_BOOL)),
    BOOL("trainer.cuda_graph", "false", 0, STEP(cuda_graph, LM_BIND_BOOL)), /* refused: run/step_setup.c */
    MAP("trainer.checkpoint_kwargs"),
    BOOL("trainer.checkpoint_kwargs.verbose", "true", 0),
    INTMIN("trainer.checkpoint_kwargs.save_top_k", "5", -1, 0, TRAIN(save_top_k, LM_BIND_INT)),
    BOOL("trainer.checkpoint_kwargs.save_last", "true", 0, TRAIN(save_last, LM_BIND_BOOL)),
    INTMIN("trainer.checkpoint_kwargs.period", "1", 1, 0),
    STR("trainer.checkpoint_kwargs.monitor", "val_ssim_fid100_f1_total_mean", 0, TRAIN(monitor, LM_BIND_CSTR)),
    ENUM("trainer.checkpoint_kwargs.mode", "max", "max|min", 0, TRAIN(monitor_max, LM_BIND_IS_FIRST)),
};

const size_t lm_cfg_schema_len = sizeof lm_cfg_schema / sizeof lm_cfg_schema[0];

static int match(const char *pat, const char *path) {
    while (*pat && *path) {
        if (pat[0] == '*' && (pat[1] == '.' || !pat[1])) {
            while (*path && *path != '.') path++;
            pat++;
        } else if (*pat++ != *path++) {
            return 0;
        }
    }
    return !*pat && !*path;
}

const lm_cfg_key *lm_cfg_schema_find(const char *path) {
    const lm_cfg_key *wild = NULL;
    for (size_t i = 0; i < lm_cfg_schema_len; i++) {
        if (!strcmp(lm_cfg_schema[i].path, path)) return &lm_cfg_schema[i];
        if (!wild && strchr(lm_cfg_schema[i].path, '*') && match(lm_cfg_schema[i].path, path))
            wild = &lm_cfg_schema[i];
    }
    return wild;
}

int lm_cfg_choice_index(const char *choices, const char *s) {
    size_t len = strlen(s);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        size_t l = strcspn(p, "|");
        if (l == len && !strncmp(p, s, len)) return i;
        p += l + (p[l] == '|');
    }
    return -1;
}

const char *lm_cfg_type_name(lm_cfg_type t) {
    switch (t) {
    case LM_CFG_T_MAP: return "a mapping";
    case LM_CFG_T_LIST: return "a list";
    case LM_CFG_T_BOOL: return "a boolean";
    case LM_CFG_T_INT: return "an integer";
    case LM_CFG_T_FLOAT: return "a number";
    case LM_CFG_T_STR: return "a string";
    }
    return "?";
}
