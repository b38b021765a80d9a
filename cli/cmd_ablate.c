/* cmd_ablate.c — `lamac ablate GRID --out DIR`: the LaMa paper's ablations (or any grid of
 * training variants) as one command: every variant x seed trained as an ordinary run
 * directory, evaluated on the same test sets, tabulated (table.md / .csv / .json) and charted
 * (report.html). This file reads the command line; run/ablate.h does the work. Reference:
 * docs/ablate.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "core/err.h"
#include "core/flags.h"
#include "run/ablate.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac ablate GRID --out DIR [--jobs N] [--threads N] [--device D]\n"
        "       lamac ablate GRID --out DIR --only VARIANT [--seed S] [--threads N]\n"
        "       lamac ablate GRID --out DIR --collect\n"
        "       lamac ablate GRID --out DIR --print-slurm [--threads N]\n"
        "       lamac ablate GRID --check\n\n"
        "Runs a grid of training variants (configs/ablations/*.yaml; format in docs/ablate.md):\n"
        "each variant x seed is trained as a `lamac train` run directory DIR/runs/VARIANT-sSEED\n"
        "and its best checkpoint (else last) evaluated with `lamac eval --model` on every test set\n"
        "(generated once into DIR/testsets/ and reused, so every variant sees the same images and\n"
        "masks). Then DIR/table.{md,csv,json} (rows variants and the paper's reference rows, columns\n"
        "test set x metric, mean ± std over seeds) and DIR/report.html (overlaid training and\n"
        "validation curves, the table, metrics by masked area).\n\n"
        "Before anything trains every variant is composed and checked: an unknown key, two variants\n"
        "with the same config, a generator whose parameter count differs from the paper's, an\n"
        "init_from that does not fit, a test set folder that is missing or empty, a missing\n"
        "training data folder: each an error naming the variant and the key.\n\n"
        "Running the same command again skips what is done and resumes a killed run from its last\n"
        "checkpoint (lamac train --resume; exact with the same --threads). SIGINT/SIGTERM are passed\n"
        "to the running children, which write their checkpoint; the exit status is then 128+signal.\n\n"
        "  --out DIR        the output folder (required except with --check)\n"
        "  --jobs N         runs side by side (default 1), each a child `lamac ablate --only`\n"
        "  --threads N      libtorch threads per run (default: CPU cores / jobs)\n"
        "  --device D       cpu (default), cuda, cuda:N\n"
        "  --only VARIANT   train and evaluate this variant only (all its seeds, or --seed S);\n"
        "                   builds no table (use --collect)\n"
        "  --seed S         with --only: that seed only\n"
        "  --collect        build the table and report from what DIR holds; trains nothing\n"
        "  --print-slurm    write DIR/slurm/array.sbatch (one task per variant x seed, each\n"
        "                   `lamac ablate GRID --out DIR --only V --seed S`), collect.sbatch\n"
        "                   (`--collect`) and submit.sh (submits both, collect after the array)\n"
        "  --check          resolve the grid and print each variant's generator parameters;\n"
        "                   trains nothing\n\n"
        "exit status: 0 done, 1 error, 2 usage, 128+S interrupted by signal S.\n");
}

static int run(int argc, char **argv) {
    if (lm_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    lm_abl_opts o = {0};
    o.jobs = 1;
    o.seed = -1;
    o.device = "cpu";
    int collect = 0, slurm = 0, check = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        int rc = 0;
        if (strncmp(k, "--", 2)) {
            if (o.grid) {
                lm_err_code(LM_EINVAL, "unexpected argument '%s' (see lamac ablate --help)", k);
                lm_cmd_fail("ablate");
                return 2;
            }
            o.grid = k;
            continue;
        }
        if (!strcmp(k, "--collect")) { collect = 1; continue; }
        if (!strcmp(k, "--print-slurm")) { slurm = 1; continue; }
        if (!strcmp(k, "--check")) { check = 1; continue; }
        if (i + 1 >= argc) {
            lm_err_code(LM_EINVAL, "%s needs a value (see lamac ablate --help)", k);
            lm_cmd_fail("ablate");
            return 2;
        }
        const char *v = argv[++i];
        long s;
        if (!strcmp(k, "--out")) o.out = v;
        else if (!strcmp(k, "--only")) o.only = v;
        else if (!strcmp(k, "--device")) o.device = v;
        else if (!strcmp(k, "--jobs")) rc = lm_flag_int(k, v, 1, 256, &o.jobs);
        else if (!strcmp(k, "--threads")) rc = lm_flag_int(k, v, 1, 4096, &o.threads);
        else if (!strcmp(k, "--seed")) rc = lm_flag_long(k, v, 0, 1L << 62, &s), o.seed = s;
        else rc = lm_err_code(LM_EINVAL, "unknown option '%s' (see lamac ablate --help)", k);
        if (rc < 0) {
            lm_cmd_fail("ablate");
            return 2;
        }
    }
    const char *why = !o.grid ? "a GRID file is required"
                    : !o.out && !check ? "--out DIR is required"
                    : collect + slurm + check > 1 ? "--collect, --print-slurm and --check exclude each other"
                    : o.seed >= 0 && !o.only ? "--seed needs --only VARIANT"
                    : (o.only || o.jobs > 1) && (collect || slurm || check) ? "--only / --jobs do not go with --collect, --print-slurm or --check"
                    : NULL;
    if (why) {
        lm_err_code(LM_EINVAL, "%s (see lamac ablate --help)", why);
        lm_cmd_fail("ablate");
        return 2;
    }
    lm_abl_grid *g = NULL;
    int rc = lm_abl_grid_load(&g, o.grid);
    if (!rc && o.only) {
        int found = 0;
        for (int i = 0; i < g->nv; i++) found |= !strcmp(g->v[i].name, o.only);
        if (!found) rc = lm_err_code(LM_EINVAL, "--only %s: no such variant in %s", o.only, o.grid);
        int sfound = o.seed < 0;
        for (int i = 0; i < g->ns; i++) sfound |= g->seeds[i] == (uint64_t)o.seed;
        if (!rc && !sfound) rc = lm_err_code(LM_EINVAL, "--seed %lld: not among the grid's seeds", (long long)o.seed);
    }
    /* every check before anything trains */
    if (!rc) rc = lm_abl_grid_resolve(g, !check && !collect && !slurm, check ? stdout : stderr);
    if (!rc && !slurm && !collect) rc = lm_abl_check_testsets(g);
    if (!rc && check)
        printf("grid %s: %d variants x %d seeds, %d test sets: ok\n", o.grid, g->nv, g->ns, g->nt);
    else if (!rc && slurm)
        rc = lm_abl_write_slurm(g, &o);
    else if (!rc && !collect)
        rc = lm_abl_run(g, &o);
    if (rc == 0 && !check && !slurm && !o.only) {
        rc = lm_abl_collect(g, o.out, stdout);
        if (!rc) fprintf(stderr, "ablate: %s/table.md (.csv, .json), %s/report.html\n", o.out, o.out);
    }
    lm_abl_grid_free(g);
    if (rc < 0) return lm_cmd_fail("ablate");
    return rc;
}

const lm_command lm_cmd_ablate = {"ablate", "the paper's ablations as one command: grid of variants x seeds, table, report", run};
