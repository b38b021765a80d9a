/* cmd_export.c — `lamac export RUN_DIR|CHECKPOINT --format safetensors|pth|lama-dir --out PATH
 * [--with-discr] [--raw] [--dtype f32|f16|bf16] [--config FILE]`: a trained model in the
 * layouts other tools load. The source is resolved as `lamac predict --model` does
 * (run/predictor.h: a file, or a run directory's checkpoints/best then last.safetensors, or
 * an official directory's models/best.ckpt); model/export.h picks the tensors like the official
 * bin/make_checkpoint.py (generator only unless --with-discr; EMA generator_average.* as
 * generator.* unless --raw). Formats:
 *   safetensors  lamac's weight file (metadata: format, config, step, ema), f32/f16/bf16;
 *   pth          a torch.save zip holding the state_dict (an OrderedDict), for torch.load;
 *   lama-dir     PATH/config.yaml + PATH/models/best.ckpt, what the official bin/predict.py
 *                (model.path=PATH) and the projects built on it load.
 * Writes are atomic; a folder planted as a symlink under PATH is refused, a symlink planted at
 * a target file is replaced, never followed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic.h"
#include "core/err.h"
#include "core/readall.h"
#include "model/export.h"
#include "model/weights.h"
#include "cli/command.h"
#include "run/official_dir.h"
#include "run/predictor.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamac export RUN_DIR|CHECKPOINT --format safetensors|pth|lama-dir --out PATH\n"
            "                    [--with-discr] [--raw] [--dtype f32|f16|bf16] [--config FILE]\n\n"
            "Writes the generator of a trained model (a lamac run directory or checkpoint, an\n"
            "official model directory or .ckpt, any file `lamac weights show` reads):\n"
            "  safetensors  one file, keys generator.*; --dtype f16|bf16 halves it\n"
            "  pth          a torch.save file with the state_dict (torch.load(PATH))\n"
            "  lama-dir     PATH/config.yaml + PATH/models/best.ckpt for the official\n"
            "               bin/predict.py model.path=PATH (and tools built on it)\n"
            "--with-discr   also write discriminator.* (dropped by default, like the official\n"
            "               make_checkpoint.py); optimizer state and loss_* are never written\n"
            "--raw          the trained weights even when the run has EMA weights\n"
            "               (generator_average.*, used by default)\n"
            "--config FILE  the training config (default: the checkpoint's metadata, then the\n"
            "               config.yaml beside it); lama-dir needs one\n"
            "A directory resolves as lamac predict --model does: models/best.ckpt, then\n"
            "weights/model/best/last.safetensors, then checkpoints/best.safetensors, then\n"
            "checkpoints/last.safetensors; name a file to pick another.\n\n"
            "example: lamac export runs/big-lama --format lama-dir --out big-lama-export\n"
            "exit status: 0 ok, 1 error (unreadable source, no generator, failed write), 2 usage.\n");
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { lm_err_code(LM_EIO, "cannot open %s", path); return NULL; }
    char *buf;
    size_t n;
    int rc = lm_read_all(f, &buf, &n);
    fclose(f);
    if (rc == LM_ENOMEM) lm_err_code(LM_ENOMEM, "out of memory");
    else if (rc < 0) lm_err_code(LM_EIO, "cannot read %s", path);
    return rc < 0 ? NULL : buf;
}

static int64_t meta_int(const lm_weights_src *s, const char *key, int64_t def) {
    const char *v = lm_weights_meta(s, key);
    if (!v) return def;
    char *end;
    long long x = strtoll(v, &end, 10);
    return (*end || end == v) ? def : (int64_t)x;
}

static int run(int argc, char **argv) {
    const char *src = NULL, *format = NULL, *out = NULL, *config = NULL, *dtype = "f32";
    lm_export_opts o = lm_export_defaults();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--format") && i + 1 < argc) format = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) dtype = argv[++i];
        else if (!strcmp(argv[i], "--with-discr")) o.with_discr = 1;
        else if (!strcmp(argv[i], "--raw")) o.raw = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "lamac export: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        } else if (!src) src = argv[i];
        else { fprintf(stderr, "lamac export: one RUN_DIR or CHECKPOINT only ('%s')\n", argv[i]); return 2; }
    }
    if (!src || !format || !out) { usage(stderr); return 2; }
    int fmt = !strcmp(format, "safetensors") ? 1 : !strcmp(format, "pth") ? 2 : !strcmp(format, "lama-dir") ? 3 : 0;
    if (!fmt) { fprintf(stderr, "lamac export: --format '%s': expected safetensors, pth or lama-dir\n", format); return 2; }
    o.dtype = !strcmp(dtype, "f32") ? LM_DT_F32 : !strcmp(dtype, "f16") ? LM_DT_F16 : !strcmp(dtype, "bf16") ? LM_DT_BF16 : -1;
    if (o.dtype < 0) { fprintf(stderr, "lamac export: --dtype '%s': expected f32, f16 or bf16\n", dtype); return 2; }
    if (o.dtype != LM_DT_F32 && fmt != 1) {
        fprintf(stderr, "lamac export: --dtype %s is for --format safetensors (PyTorch files are written in float32, as the official tools expect)\n", dtype);
        return 2;
    }
    char weights[4096], cfg_path[4096], path[4200], num[32];
    lm_weights_src *s = NULL;
    lm_export e = {0};
    char *cfg_text = NULL, *official = NULL;
    int rc = lm_model_resolve(src, weights, sizeof weights, cfg_path, sizeof cfg_path);
    if (rc == 0) rc = lm_weights_open(&s, weights);
    if (rc == 0) rc = lm_export_select(&e, s, &o);
    if (rc < 0) goto cleanup;
    const char *cfg_from = NULL;
    if (config) {
        if (!(cfg_text = read_text(config))) { rc = LM_EIO; goto cleanup; }
        cfg_from = config;
    } else if (lm_weights_meta(s, "config") && lm_weights_meta(s, "config")[0]) {
        if (!(cfg_text = strdup(lm_weights_meta(s, "config")))) { rc = lm_err_code(LM_ENOMEM, "out of memory"); goto cleanup; }
        cfg_from = "the checkpoint's metadata";
    } else if (cfg_path[0]) {
        if (!(cfg_text = read_text(cfg_path))) { rc = LM_EIO; goto cleanup; }
        cfg_from = cfg_path;
    }
    int64_t step = meta_int(s, "step", meta_int(s, "global_step", 0)), epoch = meta_int(s, "epoch", 0);
    if (fmt == 1) {
        snprintf(num, sizeof num, "%lld", (long long)step);
        const char *meta[] = {"format", LM_WEIGHTS_FORMAT, "dtype", dtype, "step", num,
                              "ema", e.used_ema ? "true" : "false", "exported_from", weights,
                              cfg_text ? "config" : NULL, cfg_text, NULL};
        rc = lm_export_write_safetensors(&e, out, meta);
    } else if (fmt == 2) {
        rc = lm_export_write_state_dict(&e, out);
    } else {
        if (!cfg_text) {
            rc = lm_err_code(LM_EINVAL, "%s: no training config (none in the metadata, no config.yaml beside "
                             "it): pass --config FILE", weights);
            goto cleanup;
        }
        if ((rc = lm_official_config_yaml(&official, cfg_text, cfg_from)) < 0) goto cleanup;
        if ((size_t)snprintf(path, sizeof path, "%s/models", out) >= sizeof path) {
            rc = lm_err_code(LM_EINVAL, "--out too long");
            goto cleanup;
        }
        if ((rc = lm_mkdir_real(out)) < 0 || (rc = lm_mkdir_real(path)) < 0) goto cleanup;
        snprintf(path, sizeof path, "%s/config.yaml", out);
        if ((rc = lm_atomic_write_file(path, official, strlen(official))) < 0) goto cleanup;
        snprintf(path, sizeof path, "%s/models/best.ckpt", out);
        rc = lm_export_write_ckpt(&e, path, epoch, step);
    }
    if (rc < 0) goto cleanup;
    size_t bytes = 0;
    for (int i = 0; i < e.n; i++) bytes += e.t[i].nbytes;
    printf("exported %d tensors (%zu bytes, %s) from %s to %s (%s)\n", e.n, bytes, dtype, weights, out, format);
    printf("generator: %d tensors%s; discriminator: %d; not written: %d tensors of the source%s\n",
           e.n_generator, e.used_ema ? " from the EMA weights (generator_average.*)" : "", e.n_discriminator,
           e.n_dropped, e.n_dropped ? (o.with_discr ? " (optimizer, loss_*, EMA copy, ...)"
                                                    : " (discriminator, optimizer, loss_*, EMA copy, ...)") : "");
    if (cfg_from) printf("config: %s\n", cfg_from);
cleanup:
    free(cfg_text);
    free(official);
    lm_export_free(&e);
    lm_weights_close(s);
    return rc < 0 ? lm_cmd_fail("export") : 0;
}

const lm_command lm_cmd_export = {"export", "write a trained model as safetensors, .pth or an official model dir", run};
