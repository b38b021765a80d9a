/* cmd_synth.c — `lamac synth`: the synthetic periodic-texture dataset of `make demo`
 * (data/synth.h): training shards plus held-out validation and test pairs with thick masks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "core/err.h"
#include "data/synth.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac synth OUT_DIR [--train N] [--val N] [--test N] [--train-size S] [--size S]\n"
        "                   [--masks PRESET] [--seed N]\n\n"
        "Synthesises periodic textures (bricks, tiles, stripes, grids, dots; random periods,\n"
        "phases, angles, colours and noise):\n"
        "  OUT_DIR/train/  HDF5 shards of --train images (default 600) of --train-size pixels (96)\n"
        "  OUT_DIR/val/    --val pairs (16) NAME.png + NAME_mask000.png of --size pixels (64)\n"
        "  OUT_DIR/test/   --test held-out pairs (48), same layout\n"
        "Evaluation masks: --masks preset (default random_thick_256) drawn at 256x256 and\n"
        "subsampled to --size, redrawn when they cover more than half the image.\n");
}

static int num(const char *k, const char *v, long long lo, long long *out) {
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < lo) return lm_err_code(LM_EINVAL, "%s %s: expected an integer >= %lld", k, v, lo);
    *out = n;
    return 0;
}

static int run(int argc, char **argv) {
    lm_synth_opts o = lm_synth_defaults();
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            usage(stdout);
            return 0;
        }
        if (strncmp(k, "--", 2)) {
            if (out) {
                fprintf(stderr, "lamac synth: unexpected argument %s\n", k);
                return 2;
            }
            out = k;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "lamac synth: %s needs a value\n", k);
            return 2;
        }
        const char *v = argv[++i];
        long long n = 0;
        int rc = 0;
        if (!strcmp(k, "--masks")) o.mask_preset = v;
        else if (!strcmp(k, "--train")) rc = num(k, v, 1, &n), o.n_train = (int)n;
        else if (!strcmp(k, "--val")) rc = num(k, v, 0, &n), o.n_val = (int)n;
        else if (!strcmp(k, "--test")) rc = num(k, v, 0, &n), o.n_test = (int)n;
        else if (!strcmp(k, "--train-size")) rc = num(k, v, 8, &n), o.train_size = (int)n;
        else if (!strcmp(k, "--size")) rc = num(k, v, 8, &n), o.eval_size = (int)n;
        else if (!strcmp(k, "--seed")) rc = num(k, v, 0, &n), o.seed = (uint64_t)n;
        else rc = lm_err_code(LM_EINVAL, "unknown option %s (see lamac synth --help)", k);
        if (rc < 0) {
            lm_cmd_fail("synth");
            return 2;
        }
    }
    if (!out) {
        usage(stderr);
        return 2;
    }
    if (lm_synth_dataset(out, &o) < 0) return lm_cmd_fail("synth");
    printf("synth: %d training images (%dx%d) in %s/train, %d validation and %d test pairs (%dx%d, %s masks)\n",
           o.n_train, o.train_size, o.train_size, out, o.n_val, o.n_test, o.eval_size, o.eval_size, o.mask_preset);
    return 0;
}

const lm_command lm_cmd_synth = {"synth", "synthesise the periodic-texture dataset of the demo", run};
