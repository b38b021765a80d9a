/* cmd_fill.c — `lamac fill`: naive inpainting baselines (eval/naive.h) over a set in the
 * official layout, written where `lamac eval --predictions` looks for them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "core/err.h"
#include "core/path.h"
#include "data/valset.h"
#include "eval/naive.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lamac fill --images DIR --out PRED_DIR [--method mean|blur]\n\n"
        "Fills the holes of every NAME_mask*.png pair under DIR with a naive baseline and writes\n"
        "PRED_DIR/<mask path relative to DIR> (the layout `lamac eval --predictions` reads):\n"
        "  mean  the mean colour of the known pixels (default)\n"
        "  blur  diffusion from the hole's border (300 Jacobi iterations of the 4-neighbour mean)\n");
}

static int run(int argc, char **argv) {
    const char *images = NULL, *out = NULL, *method = "mean";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(argv[i], "--images")) images = argv[++i];
        else if (!strcmp(argv[i], "--out")) out = argv[++i];
        else if (!strcmp(argv[i], "--method")) method = argv[++i];
        else {
            fprintf(stderr, "lamac fill: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!images || !out || (strcmp(method, "mean") && strcmp(method, "blur"))) {
        usage(stderr);
        return 2;
    }
    lm_naive_kind kind = strcmp(method, "mean") ? LM_NAIVE_BLUR : LM_NAIVE_MEAN;
    lm_valset *vs = NULL;
    int rc = lm_valset_open(&vs, images, NULL);
    if (rc < 0) return lm_cmd_fail("fill");
    size_t skip = strlen(images);
    while (skip > 1 && images[skip - 1] == '/') skip--;
    skip++;
    int64_t n = lm_valset_count(vs);
    for (int64_t i = 0; i < n && !rc; i++) {
        const char *m = lm_valset_mask_path(vs, i), *rel = m + skip;
        char path[8192];
        lm_image img = {0}, msk = {0}, res = {0};
        if (snprintf(path, sizeof path, "%s/%s", out, rel) >= (int)sizeof path)
            rc = lm_err_code(LM_EINVAL, "output path too long for %s", m);
        if (!rc) rc = lm_valset_read(vs, i, &img, &msk);
        if (!rc) rc = lm_image_alloc(&res, img.w, img.h, 3);
        if (!rc) rc = lm_naive_fill(res.data, img.data, msk.data, img.w, img.h, kind);
        if (!rc) rc = lm_path_mkparents(path);
        if (!rc) rc = lm_image_write_png(path, &res);
        if (rc < 0) lm_err_prefix("fill %s", m);
        lm_image_free(&img), lm_image_free(&msk), lm_image_free(&res);
    }
    lm_valset_close(vs);
    if (rc < 0) return lm_cmd_fail("fill");
    printf("fill: %lld images filled (%s) into %s\n", (long long)n, method, out);
    return 0;
}

const lm_command lm_cmd_fill = {"fill", "naive inpainting baselines (mean colour, diffusion) for comparison", run};
