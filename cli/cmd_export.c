/* cmd_export.c — `lamac export RUN_DIR|CHECKPOINT --format safetensors|pth|lama-dir|torchscript|onnx
 * --out PATH [--with-discr] [--raw] [--dtype f32|f16|bf16] [--size N] [--fft matmul|dft-op]
 * [--config FILE [KEY=VALUE ...]]`: a trained model in the layouts other tools load. The source is resolved as `lamac predict --model` does
 * (run/predictor.h: a file, or a run directory's checkpoints/best then last.safetensors, or
 * an official directory's models/best.ckpt); model/export.h picks the tensors like the official
 * bin/make_checkpoint.py (generator only unless --with-discr; EMA generator_average.* as
 * generator.* unless --raw). Formats:
 *   safetensors  lamac's weight file (metadata: format, config, step, ema), f32/f16/bf16;
 *   pth          a torch.save zip holding the state_dict (an OrderedDict), for torch.load;
 *   lama-dir     PATH/config.yaml + PATH/models/best.ckpt, what the official bin/predict.py
 *                (model.path=PATH) and the projects built on it load;
 *   torchscript  IOPaint's big-lama.pt contract (model/export_torchscript.h);
 *   onnx         the LaMa-ONNX contract at a fixed size (model/export_onnx.h).
 * The last two build the generator (run/predictor.h) and translate its inference graph
 * (model/graph.h). --config FILE is composed as `lamac train` composes it (defaults list,
 * KEY=VALUE overrides, interpolation).
 * Writes are atomic; a folder planted as a symlink under PATH is refused, a symlink planted at
 * a target file is replaced, never followed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic.h"
#include "core/err.h"
#include "core/readall.h"
#include "config/config.h"
#include "config/fill.h"
#include "model/export.h"
#include "model/export_onnx.h"
#include "model/export_torchscript.h"
#include "model/weights.h"
#include "cli/command.h"
#include "run/official_dir.h"
#include "run/predictor.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamac export RUN_DIR|CHECKPOINT --format FORMAT --out PATH [options]\n"
            "                    [--config FILE [KEY=VALUE ...]]\n\n"
            "Writes the generator of a trained model (a lamac run directory or checkpoint, an\n"
            "official model directory or .ckpt, any file `lamac weights show` reads):\n"
            "  safetensors  one file, keys generator.*; --dtype f16|bf16 halves it\n"
            "  pth          a torch.save file with the state_dict (torch.load(PATH))\n"
            "  lama-dir     PATH/config.yaml + PATH/models/best.ckpt for the official\n"
            "               bin/predict.py model.path=PATH (and tools built on it)\n"
            "  torchscript  a TorchScript module for IOPaint / lama-cleaner (big-lama.pt):\n"
            "               model(image [1,3,H,W] 0-1, mask [1,1,H,W]) -> inpainted 0-1,\n"
            "               H and W multiples of 8 (torch.jit.load, torch::jit::load)\n"
            "  onnx         an ONNX model (opset 17) for onnxruntime, LaMa-ONNX layout:\n"
            "               image [B,3,S,S] 0-1, mask [B,1,S,S] -> output 0-255\n"
            "--size S       onnx: the image side (default 512; a multiple of 8)\n"
            "--fft MODE     onnx: matmul (default; the FFT as DFT matrix products at size S,\n"
            "               any runtime) or dft-op (ONNX DFT op, any size multiple of 8)\n"
            "--with-discr   also write discriminator.* (dropped by default, like the official\n"
            "               make_checkpoint.py); optimizer state and loss_* are never written\n"
            "--raw          the trained weights even when the run has EMA weights\n"
            "               (generator_average.*, used by default; lamac predict uses the raw)\n"
            "--config FILE  the training config, composed as lamac train does (defaults list,\n"
            "               KEY=VALUE overrides after it, ${...}); default: the checkpoint's\n"
            "               metadata, then the config.yaml beside it; lama-dir needs one\n"
            "A directory resolves as lamac predict --model does: models/best.ckpt, then\n"
            "weights/model/best/last.safetensors, then checkpoints/best.safetensors, then\n"
            "checkpoints/last.safetensors; name a file to pick another.\n\n"
            "example: lamac export runs/big-lama --format torchscript --out big-lama.pt\n"
            "exit status: 0 ok, 1 error (unreadable source, no generator, a layer the format\n"
            "cannot express, failed write; nothing is left behind), 2 usage.\n");
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

enum { F_SAFETENSORS = 1, F_PTH, F_LAMA_DIR, F_TORCHSCRIPT, F_ONNX };

static int parse_format(const char *s) {
    static const char *const names[] = {"safetensors", "pth", "lama-dir", "torchscript", "onnx"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) return i + 1;
    return 0;
}

/* The user's config composed as `lamac train` does; *text: its resolved YAML (malloc'd). */
static int compose_config(const char *path, char **overrides, int n, lm_generator_opts *gen, char **text) {
    lm_cfg *cfg = NULL;
    int rc = lm_cfg_load(&cfg, path, (const char *const *)overrides, n);
    if (rc == 0 && (rc = lm_cfg_fill(gen, LM_OPTS_GENERATOR, cfg)) < 0) lm_err_prefix("config %s", path);
    if (rc == 0 && !(*text = lm_cfg_to_yaml(cfg))) rc = lm_err_code(LM_ENOMEM, "out of memory");
    lm_cfg_free(cfg);
    return rc;
}

/* torchscript / onnx: the generator built and loaded (EMA weights unless raw), its graph
 * translated into the format. */
static int write_graph_format(int fmt, const char *src, const lm_generator_opts *gen,
                              const char *config_from, int raw, const lm_export_onnx_opts *oo,
                              const char *out, int *used_ema) {
    lm_predictor *p = NULL;
    lm_graph g = {0};
    int rc = lm_predictor_open_opts(&p, src, gen, config_from, !raw, LT_CPU, LT_F32, stderr);
    if (rc == 0) *used_ema = p->used_ema;
    if (rc == 0) rc = lm_generator_emit(p->gen, &g);
    if (rc == 0) rc = fmt == F_TORCHSCRIPT ? lm_export_torchscript(&g, out, NULL) : lm_export_onnx(&g, oo, out);
    lm_graph_free(&g);
    lm_predictor_close(p);
    return rc;
}

static int64_t meta_int(const lm_weights_src *s, const char *key, int64_t def) {
    const char *v = lm_weights_meta(s, key);
    if (!v) return def;
    char *end;
    long long x = strtoll(v, &end, 10);
    return (*end || end == v) ? def : (int64_t)x;
}

static int run(int argc, char **argv) {
    const char *src = NULL, *format = NULL, *out = NULL, *config = NULL, *dtype = "f32", *fft = NULL;
    const char *size_arg = NULL;
    char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    int n_over = 0;
    lm_export_opts o = lm_export_defaults();
    if (!overrides) { fprintf(stderr, "lamac export: out of memory\n"); return 1; }
    int usage_rc = -1;
    for (int i = 1; i < argc && usage_rc < 0; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); usage_rc = 0; }
        else if (!strcmp(argv[i], "--format") && i + 1 < argc) format = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) dtype = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size_arg = argv[++i];
        else if (!strcmp(argv[i], "--fft") && i + 1 < argc) fft = argv[++i];
        else if (!strcmp(argv[i], "--with-discr")) o.with_discr = 1;
        else if (!strcmp(argv[i], "--raw")) o.raw = 1;
        else if (argv[i][0] == '-' && argv[i][1] && !strchr(argv[i], '=')) {
            fprintf(stderr, "lamac export: unknown or incomplete option '%s'\n", argv[i]);
            usage_rc = 2;
        } else if (strchr(argv[i], '=')) overrides[n_over++] = argv[i];
        else if (!src) src = argv[i];
        else { fprintf(stderr, "lamac export: one RUN_DIR or CHECKPOINT only ('%s')\n", argv[i]); usage_rc = 2; }
    }
    if (usage_rc >= 0) { free(overrides); return usage_rc; }
    if (!src || !format || !out) { usage(stderr); free(overrides); return 2; }
    int fmt = parse_format(format), bad = 0;
    lm_export_onnx_opts oo = lm_export_onnx_defaults();
    if (!fmt) { fprintf(stderr, "lamac export: --format '%s': expected safetensors, pth, lama-dir, torchscript or onnx\n", format); bad = 1; }
    o.dtype = !strcmp(dtype, "f32") ? LM_DT_F32 : !strcmp(dtype, "f16") ? LM_DT_F16 : !strcmp(dtype, "bf16") ? LM_DT_BF16 : -1;
    if (!bad && o.dtype < 0) { fprintf(stderr, "lamac export: --dtype '%s': expected f32, f16 or bf16\n", dtype); bad = 1; }
    if (!bad && o.dtype != LM_DT_F32 && fmt != F_SAFETENSORS) {
        fprintf(stderr, "lamac export: --dtype %s is for --format safetensors (the other formats are written in float32, as their runtimes expect)\n", dtype);
        bad = 1;
    }
    if (!bad && n_over && !config) {
        fprintf(stderr, "lamac export: '%s': KEY=VALUE overrides apply to --config FILE; pass one\n", overrides[0]);
        bad = 1;
    }
    if (!bad && (size_arg || fft) && fmt != F_ONNX) {
        fprintf(stderr, "lamac export: --size and --fft are for --format onnx\n");
        bad = 1;
    }
    if (!bad && o.with_discr && (fmt == F_TORCHSCRIPT || fmt == F_ONNX)) {
        fprintf(stderr, "lamac export: --with-discr: --format %s holds the generator only\n", format);
        bad = 1;
    }
    if (!bad && size_arg) {
        char *end;
        long v = strtol(size_arg, &end, 10);
        if (*end || end == size_arg || v < 8 || v > 16384 || v % 8) {
            fprintf(stderr, "lamac export: --size '%s': expected a multiple of 8 in 8..16384 (the generator downsamples by 8)\n", size_arg);
            bad = 1;
        }
        oo.size = (int)v;
    }
    if (!bad && fft && lm_export_onnx_fft_parse(fft, &oo.fft) < 0) {
        fprintf(stderr, "lamac export: --fft '%s': expected matmul or dft-op\n", fft);
        bad = 1;
    }
    if (bad) { free(overrides); return 2; }
    char weights[4096], cfg_path[4096], path[4200], num[32];
    lm_weights_src *s = NULL;
    lm_export e = {0};
    char *cfg_text = NULL, *official = NULL;
    lm_generator_opts gen;
    int used_ema = 0;
    int rc = lm_model_resolve(src, weights, sizeof weights, cfg_path, sizeof cfg_path);
    if (rc == 0 && config) rc = compose_config(config, overrides, n_over, &gen, &cfg_text);
    if (rc < 0) goto cleanup;
    const char *cfg_from = config;
    if (fmt == F_TORCHSCRIPT || fmt == F_ONNX) {
        rc = write_graph_format(fmt, src, config ? &gen : NULL, config, o.raw, &oo, out, &used_ema);
        if (rc < 0) goto cleanup;
        printf("exported the generator of %s%s to %s (%s", weights,
               used_ema ? " (EMA weights, generator_average.*)" : "", out, format);
        if (fmt == F_ONNX) printf(", %dx%d, fft %s", oo.size, oo.size, oo.fft == LM_ONNX_FFT_DFT_OP ? "dft-op" : "matmul");
        printf(")\n");
        if (cfg_from) printf("config: %s\n", cfg_from);
        goto cleanup;
    }
    if (config) {
        /* the weights must fit the generator the written config describes (a strict load),
         * else the exported model would not open in the tools that read it */
        lm_predictor *check = NULL;
        rc = lm_predictor_open_opts(&check, src, &gen, config, 0, LT_CPU, LT_F32, stderr);
        lm_predictor_close(check);
        if (rc < 0) {
            lm_err_prefix("--config %s does not describe these weights", config);
            goto cleanup;
        }
    }
    if ((rc = lm_weights_open(&s, weights)) < 0 || (rc = lm_export_select(&e, s, &o)) < 0) goto cleanup;
    if (config) {
        /* composed above */
    } else if (lm_weights_meta(s, "config") && lm_weights_meta(s, "config")[0]) {
        if (!(cfg_text = strdup(lm_weights_meta(s, "config")))) { rc = lm_err_code(LM_ENOMEM, "out of memory"); goto cleanup; }
        cfg_from = "the checkpoint's metadata";
    } else if (cfg_path[0]) {
        if (!(cfg_text = read_text(cfg_path))) { rc = LM_EIO; goto cleanup; }
        cfg_from = cfg_path;
    }
    int64_t step = meta_int(s, "step", meta_int(s, "global_step", 0)), epoch = meta_int(s, "epoch", 0);
    if (fmt == F_SAFETENSORS) {
        snprintf(num, sizeof num, "%lld", (long long)step);
        const char *meta[] = {"format", LM_WEIGHTS_FORMAT, "dtype", dtype, "step", num,
                              "ema", e.used_ema ? "true" : "false", "exported_from", weights,
                              cfg_text ? "config" : NULL, cfg_text, NULL};
        rc = lm_export_write_safetensors(&e, out, meta);
    } else if (fmt == F_PTH) {
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
    free(overrides);
    free(cfg_text);
    free(official);
    lm_export_free(&e);
    lm_weights_close(s);
    return rc < 0 ? lm_cmd_fail("export") : 0;
}

const lm_command lm_cmd_export = {"export", "write a trained model as safetensors, .pth, an official model dir, TorchScript or ONNX", run};
