/* cmd_report.c — `lamac report DIR [--run RUN_DIR]`: (re)writes DIR/report.html (eval/html.h)
 * from the files an evaluation or a training run left there. DIR holding metrics.jsonl is a run
 * directory (training curves, the newest sample grid, RUN_DIR/eval/'s evaluation); otherwise an
 * evaluation folder (metrics.json, sweep.json, per_image.csv), optionally with the training
 * curves of --run RUN_DIR. No official counterpart. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/command.h"
#include "core/err.h"
#include "core/path.h"
#include "eval/html.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamac report DIR [--run RUN_DIR]\n\n"
            "Writes DIR/report.html, one self-contained page (no network access needed):\n"
            "  an evaluation folder (lamac eval --out DIR): the metrics table, each metric\n"
            "    against masked area, against image size when sweep.json is there, the metrics\n"
            "    not computed and why, and the best, median and worst image (LPIPS, else SSIM);\n"
            "  a training run directory (DIR has metrics.jsonl): loss and validation curves,\n"
            "    the newest sample grid, and DIR/eval/'s evaluation when there is one.\n"
            "--run RUN_DIR  add RUN_DIR's training curves and sample grid to an evaluation's page\n"
            "lamac eval and lamac train write the page themselves; this command regenerates it.\n\n"
            "example: lamac report runs/demo && xdg-open runs/demo/report.html\n"
            "exit status: 0 ok, 1 error (DIR missing, a file unreadable, failed write), 2 usage.\n");
}

static int run(int argc, char **argv) {
    const char *dir = NULL, *run_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--run") && i + 1 < argc) run_dir = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "lamac report: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!dir) dir = argv[i];
        else {
            fprintf(stderr, "lamac report: one DIR only (got '%s' and '%s')\n", dir, argv[i]);
            return 2;
        }
    }
    if (!dir) {
        usage(stderr);
        return 2;
    }
    if (!lm_path_is_dir(dir)) {
        lm_err_code(LM_EIO, "%s is not a directory", dir);
        return lm_cmd_fail("report");
    }
    if (run_dir && !lm_path_is_dir(run_dir)) {
        lm_err_code(LM_EIO, "--run %s is not a directory", run_dir);
        return lm_cmd_fail("report");
    }
    if (!run_dir) {
        char p[4200];
        struct stat st;
        if (snprintf(p, sizeof p, "%s/metrics.jsonl", dir) < (int)sizeof p && stat(p, &st) == 0) run_dir = dir;
    }
    if (lm_report_html(dir, run_dir) < 0) return lm_cmd_fail("report");
    fprintf(stderr, "lamac report: wrote %s/report.html (%s)\n", dir, run_dir ? "training run" : "evaluation");
    return 0;
}

const lm_command lm_cmd_report = {"report", "write DIR/report.html for an evaluation folder or a run directory", run};
