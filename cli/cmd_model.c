/* cmd_model.c — `lamac model summary CONFIG [key=value ...]`: builds the generator and the
 * discriminator a config describes (CPU, float32, default init) and prints their layer trees
 * (official top-level module paths, class names, parameter counts) and totals, as one would
 * read them off the official modules' named_children() and parameters().
 * `lamac model forward CONFIG [--size HxW] [--batch N] [--train] [key=value ...]` runs the
 * generator once on random input (eval mode under no-grad by default) and prints the time:
 * a smoke test and a memory probe (run it under /usr/bin/time -v).
 * `lamac model init CONFIG --out W.safetensors [--seed N] [key=value ...]` writes the generator
 * with seeded random weights (lm_params_randomize) and the resolved config in the metadata: a
 * model for timing an export or a runtime (bench/export_runtimes.sh) without trained weights. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/flags.h"
#include "model/discriminator.h"
#include "model/generator.h"
#include "model/lt_err.h"
#include "model/weights.h"
#include "cli/command.h"
#include "config/config.h"
#include "config/fill.h"
#include "run/step_setup.h"
#include "run/device.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamac model summary CONFIG [OVERRIDE ...]\n"
            "       lamac model forward CONFIG [--size HxW] [--batch N] [--train] [--precision 32|64|bf16]\n"
            "                           [--device cpu|cuda[:N]] [--compare-fp32] [OVERRIDE ...]\n"
            "       lamac model init CONFIG --out W.safetensors [--seed N] [OVERRIDE ...]\n\n"
            "summary  compose CONFIG (as `lamac config show`), build its generator and\n"
            "         discriminator and print each top-level module (official state_dict prefix,\n"
            "         class, parameters) and the totals (trainable parameters; BatchNorm buffers\n"
            "         counted apart).\n"
            "forward  run the generator once on a random (N, input_nc, H, W) input (default\n"
            "         1x256x256), eval mode without autograd, or --train: training mode with a\n"
            "         backward pass; prints the time. Random weights: for timing and memory.\n"
            "         --precision bf16: under autocast to bfloat16 (FFTs in float32), as\n"
            "         trainer.precision: bf16; with --compare-fp32 (eval mode) it then runs the\n"
            "         float32 forward of the same input and prints its time and max |bf16 - fp32|.\n"
            "         --precision 64: weights and input in float64 (trainer.precision: 64).\n"
            "         --device: where the generator runs (default cpu); the time includes\n"
            "         waiting for the device's queued work.\n"
            "init     write the generator with seeded random weights (conv U(+-sqrt(3/fan_in)),\n"
            "         BatchNorm near identity) and the resolved config in the metadata, for\n"
            "         timing `lamac predict` / `lamac export` and the runtimes without a trained\n"
            "         model (default seed 0).\n\n"
            "example: lamac model summary configs/training/big-lama.yaml\n"
            "exit status: 0 ok, 1 bad config or unsupported model option.\n");
}

/* 27048835 -> "27,048,835" */
static const char *commas(int64_t v, char *buf, size_t cap) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)(v < 0 ? -v : v));
    size_t n = strlen(tmp), j = 0;
    if (v < 0 && j + 1 < cap) buf[j++] = '-';
    for (size_t i = 0; i < n && j + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) buf[j++] = ',';
        buf[j++] = tmp[i];
    }
    buf[j] = 0;
    return buf;
}

/* Parameters (and buffer elements) of the registry keys starting with prefix ("model.5."). */
static void count_prefix(const lm_params *p, const char *prefix, int64_t *np, int64_t *nb) {
    size_t len = strlen(prefix);
    *np = *nb = 0;
    for (int i = 0; i < p->n; i++)
        if (!strncmp(p->items[i].name, prefix, len))
            *(p->items[i].kind == LM_PARAM ? np : nb) += lt_numel(p->items[i].t);
}

static void print_row(const char *path, const char *kind, int64_t np, int64_t nb) {
    char a[32], b[32];
    printf("  %-12s %-26s %14s", path, kind, commas(np, a, sizeof a));
    if (nb) printf("   (+%s buffer)", commas(nb, b, sizeof b));
    printf("\n");
}

static void print_total(const char *what, const lm_params *p) {
    char a[32], b[32];
    printf("%s total %s parameters (+%s buffer elements)\n", what,
           commas(lm_params_numel(p, LM_PARAM), a, sizeof a),
           commas(lm_params_numel(p, LM_BUFFER), b, sizeof b));
}

static int summary(int argc, char **argv) {
    lm_cfg *c = NULL;
    lm_step_setup *s = NULL; /* the networks alone */
    int rc = lm_cfg_load(&c, argv[1], (const char *const *)argv + 2, argc - 2);
    if (!rc) rc = lm_step_setup_create_nets(&s, c, LT_F32, LT_CPU, 1);
    if (rc) goto cleanup;
    const lm_params *gp = &s->gp, *dp = &s->dp;

    printf("generator: %s (%s)\n", s->gopts.kind, lm_cfg_path(c));
    char prefix[64];
    for (int i = 0; i < lm_generator_layers(s->g); i++) {
        int64_t np, nb;
        snprintf(prefix, sizeof prefix, "model.%d.", i);
        count_prefix(gp, prefix, &np, &nb);
        prefix[strlen(prefix) - 1] = 0;
        print_row(prefix, lm_generator_layer_kind(s->g, i), np, nb);
    }
    print_total("generator", gp);

    printf("discriminator: %s\n", s->dopts.kind);
    for (int i = 0; i < dp->n; i++) { /* group by the first key component, in order */
        const char *name = dp->items[i].name, *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        if (i > 0 && !strncmp(dp->items[i - 1].name, name, len) && dp->items[i - 1].name[len] == '.')
            continue;
        snprintf(prefix, sizeof prefix, "%.*s.", (int)len, name);
        int64_t np, nb;
        count_prefix(dp, prefix, &np, &nb);
        prefix[len] = 0;
        print_row(prefix, "", np, nb);
    }
    print_total("discriminator", dp);
    if (fflush(stdout) != 0) rc = lm_err_code(LM_EIO, "cannot write to stdout");
cleanup:
    lm_step_setup_free(s);
    lm_cfg_free(c);
    return rc ? lm_cmd_fail("model summary") : 0;
}

static int forward(int argc, char **argv) {
    int64_t h = 256, w = 256, n = 1;
    int train = 0, nov = 0, rc = 0, bf16 = 0, f64 = 0, compare = 0;
    lt_device dev = LT_CPU;
    const char *ov[64];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            long long a, b;
            char x;
            int k = sscanf(argv[++i], "%lld%c%lld", &a, &x, &b);
            if (k == 1) b = a;
            else if (k != 3 || x != 'x') a = -1;
            if (a < 1 || b < 1) {
                fprintf(stderr, "lamac model: --size expects HxW or N, got '%s'\n", argv[i]);
                return 1;
            }
            h = a;
            w = b;
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            long b;
            if (lm_flag_long("--batch", argv[++i], 1, 1 << 20, &b) < 0) return lm_cmd_fail("model");
            n = b;
        } else if (!strcmp(argv[i], "--train")) {
            train = 1;
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            if (lm_parse_device(&dev, argv[++i]) < 0) return lm_cmd_fail("model forward");
        } else if (!strcmp(argv[i], "--compare-fp32")) {
            compare = 1;
        } else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            const char *p = argv[++i];
            bf16 = !strcmp(p, "bf16") || !strcmp(p, "bf16-mixed");
            f64 = !strcmp(p, "64") || !strcmp(p, "64-true");
            if (!bf16 && !f64 && strcmp(p, "32") && strcmp(p, "32-true")) {
                fprintf(stderr, "lamac model: --precision expects 32, 64 or bf16, got '%s'%s\n", p,
                        !strcmp(p, "16") ? " (fp16 not supported, use bf16)" : "");
                return 1;
            }
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "lamac model: unknown option '%s' (see lamac model --help)\n", argv[i]);
            return 1;
        } else if (nov < 64) {
            ov[nov++] = argv[i];
        } else {
            fprintf(stderr, "lamac model: too many overrides (at most 64)\n");
            return 1;
        }
    }
    lm_cfg *c = NULL;
    lt_dtype dt = f64 ? LT_F64 : LT_F32;
    lm_step_setup *net = NULL; /* the generator alone */
    rc = lm_cfg_load(&c, argv[1], ov, nov);
    if (!rc) rc = lm_step_setup_create_nets(&net, c, dt, dev, 0);
    if (rc) goto cleanup;
    lm_generator *g = net->g;
    const lm_generator_opts go = net->gopts;
    lt_scope_push();
    int64_t s[4] = {n, go.input_nc, h, w};
    lt_tensor *x = lt_rand(s, 4, dt, dev);
    if (lt_synchronize(dev) < 0) x = NULL;
    double t0 = lm_clock_now();
    if (!train) lt_no_grad_push();
    lt_tensor *y = NULL;
    if (!bf16) {
        y = lm_generator_forward(g, x, train);
    } else if (lt_autocast_enter(dev, LT_BF16) == 0) { /* as trainer.precision: bf16 */
        y = lm_generator_forward(g, x, train);
        lt_autocast_exit();
        y = lt_to_dtype(y, LT_F32);
    }
    if (!train) lt_no_grad_pop();
    if (y && train && lt_backward(lt_mean(y)) < 0) y = NULL;
    if (y && lt_synchronize(dev) < 0) y = NULL;
    double t1 = lm_clock_now();
    if (!y) {
        rc = lm_err_lt("generator %s", train ? "forward+backward" : "forward");
    } else {
        printf("generator %s: (%lld, %d, %lld, %lld) -> (%lld, %lld, %lld, %lld) %s%s in %.3f s\n",
               go.kind, (long long)n, go.input_nc, (long long)h, (long long)w,
               (long long)lt_size(y, 0), (long long)lt_size(y, 1), (long long)lt_size(y, 2),
               (long long)lt_size(y, 3), train ? "forward+backward (training mode)"
                                               : "forward (eval, no grad)",
               bf16 ? ", precision bf16 (autocast, FFTs in float32)" : f64 ? ", precision 64 (float64)" : "",
               t1 - t0);
    }
    if (y && bf16 && !train && compare) { /* the same input in float32: its time and max |bf16 - fp32| */
        lt_no_grad_push();
        double a = lm_clock_now();
        lt_tensor *y32 = lm_generator_forward(g, x, 0);
        if (y32 && lt_synchronize(dev) < 0) y32 = NULL;
        double b = lm_clock_now();
        double d = y32 ? lt_item(lt_max(lt_abs(lt_sub(y, y32)))) : NAN;
        lt_no_grad_pop();
        if (!y32 || isnan(d)) rc = lm_err_lt("generator forward (float32)");
        else printf("float32 forward of the same input in %.3f s; max |bf16 - fp32| %.4g\n", b - a, d);
    }
    lt_scope_pop();
cleanup:
    lm_step_setup_free(net);
    lm_cfg_free(c);
    return rc ? lm_cmd_fail("model forward") : 0;
}

static int init(int argc, char **argv) {
    const char *out = NULL;
    uint64_t seed = 0;
    char **over = calloc((size_t)argc + 1, sizeof *over);
    int n = 0;
    if (!over) return lm_cmd_fail("model init");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] == '-' && !strchr(argv[i], '=')) {
            fprintf(stderr, "lamac model init: unknown or incomplete option '%s'\n", argv[i]);
            free(over);
            return 2;
        } else over[n++] = argv[i];
    }
    if (!out) {
        fprintf(stderr, "lamac model init: --out W.safetensors is required\n");
        free(over);
        return 2;
    }
    lm_cfg *c = NULL;
    lm_generator_opts o;
    lm_params p;
    lm_generator *g = NULL;
    char *yaml = NULL;
    lm_params_init(&p, LT_F32, LT_CPU);
    int rc = lm_cfg_load(&c, argv[0], (const char *const *)over, n);
    if (!rc) rc = lm_cfg_fill(&o, LM_OPTS_GENERATOR, c);
    if (!rc) rc = lm_generator_create(&g, &p, &o);
    if (!rc && lm_params_randomize(&p, seed) < 0) rc = lm_err_lt("model init: random weights");
    if (!rc && !(yaml = lm_cfg_to_yaml(c))) rc = lm_err_code(LM_ENOMEM, "out of memory");
    if (!rc) {
        lm_weights_part part = {"generator.", &p};
        lm_weights_save_opts so = lm_weights_save_defaults();
        so.config = yaml;
        rc = lm_weights_save(out, &part, 1, &so);
    }
    if (!rc) printf("wrote %s: generator %s, %lld parameters, random (seed %llu), config %s\n", out, o.kind,
                    (long long)lm_params_numel(&p, LM_PARAM), (unsigned long long)seed, lm_cfg_path(c));
    free(yaml);
    lm_generator_free(g);
    lm_params_free(&p);
    lm_cfg_free(c);
    free(over);
    return rc ? lm_cmd_fail("model init") : 0;
}

static int run(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "summary")) {
        if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            usage(stdout);
            return 0;
        }
        if (argc < 3) {
            fprintf(stderr, "lamac model: summary needs a CONFIG file (see lamac model --help)\n");
            return 1;
        }
        return summary(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "forward")) {
        if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            usage(stdout);
            return 0;
        }
        if (argc < 3) {
            fprintf(stderr, "lamac model: forward needs a CONFIG file (see lamac model --help)\n");
            return 1;
        }
        return forward(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "init")) {
        if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            usage(stdout);
            return 0;
        }
        if (argc < 3) {
            fprintf(stderr, "lamac model: init needs a CONFIG file (see lamac model --help)\n");
            return 2;
        }
        return init(argc - 2, argv + 2);
    }
    fprintf(stderr, "lamac model: unknown subcommand '%s' (see lamac model --help)\n", argv[1]);
    return 2;
}

const lm_command lm_cmd_model = {"model", "model summary / forward / init: layer tree, parameter counts, a timed forward, random weights", run};
