/* cmd_step.c — `lamac step`: exactly one training iteration on a given batch, with the official
 * semantics (train/step.h: generator step with D frozen, discriminator step re-running G, Adam,
 * gradient clipping, every network in training mode). Reads the networks from a weights file
 * with the official key names, writes the updated ones, prints every loss term as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "cli/command.h"
#include "config/config.h"
#include "run/batch.h"
#include "run/device.h"
#include "run/step_setup.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac step --config C --model INIT.safetensors --batch BATCH.safetensors\n"
        "                  --out OUT.safetensors [key=value ...] [options]\n\n"
        "Runs exactly one training iteration of the official trainer (DefaultInpaintingTraining-\n"
        "Module + Lightning 1.2): generator step (D frozen): l1 [+ perceptual] + adversarial\n"
        "[+ feature matching] [+ resnet_pl], backward, clip to trainer.kwargs.gradient_clip_val,\n"
        "optimizers.generator; then discriminator step (G re-run, frozen): adversarial loss with\n"
        "R1, backward, clip, optimizers.discriminator. All networks in training mode (BatchNorm\n"
        "statistics advance: G twice, D four times). The optimizers start from fresh state.\n\n"
        "  --config C     training config (e.g. configs/training/lama-fourier.yaml); key=value\n"
        "                 arguments override it as in `lamac config show`\n"
        "  --model INIT   safetensors or PyTorch file with generator.* and discriminator.*\n"
        "                 (official key names; loss_resnet_pl.* too if present and used)\n"
        "  --batch BATCH  safetensors with `image` (N, 3, H, W) in [0, 1] and `mask` (N, 1, H, W)\n"
        "                 in {0, 1} (floating point, U8 or BOOL)\n"
        "  --out OUT      updated generator.*, discriminator.* (BatchNorm buffers included) and,\n"
        "                 when ResNetPL is used, its encoder's buffers as loss_resnet_pl.impl.*\n"
        "  --precision P  32 (default), 64 (every network, loss, gradient and optimizer update\n"
        "                 in float64: the parity checks, gradient debugging) or bf16; the same\n"
        "                 as ++trainer.precision=P\n"
        "  --seed N       libtorch's generator seed (default 0)\n"
        "  --threads N    libtorch intra-op threads (default: one per CPU, OMP_NUM_THREADS if set)\n"
        "  --device DEV   cpu (default), cuda or cuda:N\n\n"
        "Prints one JSON line on stdout: every loss term under the official metric names (gen_l1,\n"
        "gen_pl, gen_adv, gen_fm, gen_resnet_pl, discr_adv, adv_discr_real_out,\n"
        "adv_discr_fake_out, adv_discr_real_gp) plus gen_total, gen_grad_norm, discr_grad_norm.\n"
        "A non-finite loss is an error naming the term, and nothing is written. Exit status 0 on\n"
        "success, 1 on an error (weights that do not fit the config print the mismatch table).\n");
}

typedef struct args {
    const char *config, *model, *batch, *out, *device;
    const char *overrides[65];
    char precision[64]; /* "++trainer.precision=P" from --precision */
    int n_over, threads;
    long long seed;
} args;

static int parse(args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->device = "cpu";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strncmp(k, "--", 2)) {
            if (!strchr(k, '=')) return lm_err_code(LM_EINVAL, "unexpected argument '%s' (see lamac step --help)", k);
            if (a->n_over >= 64) return lm_err_code(LM_EINVAL, "too many overrides (at most 64)");
            a->overrides[a->n_over++] = k;
            continue;
        }
        if (i + 1 >= argc) return lm_err_code(LM_EINVAL, "%s needs a value (see lamac step --help)", k);
        const char *v = argv[++i];
        if (!strcmp(k, "--config")) a->config = v;
        else if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--batch")) a->batch = v;
        else if (!strcmp(k, "--out")) a->out = v;
        else if (!strcmp(k, "--device")) a->device = v;
        else if (!strcmp(k, "--precision")) {
            if (strlen(v) > 32 || strchr(v, '='))
                return lm_err_code(LM_EINVAL, "--precision %s: expected 32, 64 or bf16", v);
            snprintf(a->precision, sizeof a->precision, "++trainer.precision=%s", v);
        } else if (!strcmp(k, "--threads") || !strcmp(k, "--seed")) {
            char *end;
            long long n = strtoll(v, &end, 10);
            if (!*v || *end || n < 0 || (k[2] == 't' && (n < 1 || n > 4096)))
                return lm_err_code(LM_EINVAL, "%s %s: expected a %s integer", k, v,
                                   k[2] == 't' ? "positive" : "non-negative");
            if (k[2] == 't') a->threads = (int)n; else a->seed = n;
        } else
            return lm_err_code(LM_EINVAL, "unknown option '%s' (see lamac step --help)", k);
    }
    if (a->precision[0]) a->overrides[a->n_over++] = a->precision; /* after the key=value ones: it wins */
    if (!a->config || !a->model || !a->batch || !a->out)
        return lm_err_code(LM_EINVAL, "--config, --model, --batch and --out are required (see lamac step --help)");
    return 0;
}

static int run(int argc, char **argv) {
    if (lm_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    args a;
    if (parse(&a, argc, argv) < 0) return lm_cmd_fail("step");
    lt_device dev;
    if (lm_parse_device(&dev, a.device) < 0) return lm_cmd_fail("step");
    if (a.threads > 0) lt_set_num_threads(a.threads);
    lt_manual_seed((uint64_t)a.seed);
    lm_cfg *cfg = NULL;
    lm_step_setup *s = NULL;
    char *yaml = NULL;
    int rc = lm_cfg_load(&cfg, a.config, a.overrides, a.n_over);
    if (!rc) rc = lm_step_setup_create(&s, cfg, dev, 0);
    if (!rc) rc = lm_step_setup_load(s, a.model, stderr);
    lm_step_losses L;
    memset(&L, 0, sizeof L);
    lt_scope_push();
    lt_tensor *img, *mask;
    if (!rc) rc = lm_batch_read(&img, &mask, a.batch, s->sopts.precision == LT_F64 ? LT_F64 : LT_F32, dev);
    if (!rc && (rc = lm_step_check_batch(img, mask, 1 << s->gopts.n_downsampling)) < 0)
        lm_err_prefix("--batch %s", a.batch);
    if (!rc) rc = lm_step_run(&L, s->step, img, mask);
    lt_scope_pop();
    if (!rc) {
        yaml = lm_cfg_to_yaml(cfg);
        rc = lm_step_setup_save(s, a.out, yaml, lm_step_global_step(s->step));
    }
    if (!rc) {
        printf("{");
        for (int i = 0; i < L.n; i++) printf("%s\"%s\": %.9g", i ? ", " : "", L.name[i], L.value[i]);
        printf("}\n");
    }
    free(yaml);
    lm_step_setup_free(s);
    lm_cfg_free(cfg);
    return rc < 0 ? lm_cmd_fail("step") : 0;
}

const lm_command lm_cmd_step = {"step", "one training iteration on a given batch (official semantics)", run};
