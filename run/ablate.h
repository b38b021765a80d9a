/* ablate.h — `lamac ablate`: a grid of training variants (the LaMa paper's ablations, Tables
 * 2-4, or any other) run as ordinary run directories, each evaluated on the same test sets,
 * and summed up in one table and one report page. No official counterpart: the official
 * repository ships the ablation configs (configs/training/ablv2_work_*) and leaves running
 * and tabulating them to the user.
 *
 * The grid file (a YAML file under configs/ablations, format in docs/ablate.md) names a base experiment
 * (a configs/training file plus overrides), the variants (each a list of overrides, or axes
 * whose product is the grid), seeds, test sets (an image folder plus a mask preset, or a
 * ready official-layout folder), the training budget (overrides applied last), the metrics,
 * and optionally the paper's numbers and parameter counts per variant.
 *
 * Layout of OUT:
 *   OUT/testsets/NAME/          generated test sets (NAME.png + NAME_mask000.png), made once
 *   OUT/runs/VARIANT-sSEED/     a `lamac train` run directory; eval/TESTSET/ its evaluation
 *   OUT/logs/VARIANT-sSEED.log  what the train and eval children printed
 *   OUT/table.{md,csv,json}, OUT/report.html
 * Training and evaluation run as child processes of the lamac binary (`lamac train`,
 * `lamac eval --model`), so a variant is exactly what `lamac train` would do with it. */
#ifndef LM_RUN_ABLATE_H
#define LM_RUN_ABLATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LM_ABL_MAX_OVER 128
#define LM_ABL_MAX_SEEDS 32
#define LM_ABL_MAX_TESTSETS 16
#define LM_ABL_MAX_METRICS 8
#define LM_ABL_MAX_REF 64

typedef struct lm_abl_ref {
    char key[128]; /* "TESTSET.METRIC" */
    double v;
} lm_abl_ref;

typedef struct lm_abl_variant {
    char name[128];
    char config[4096];            /* the training config (resolved path) */
    char *over[LM_ABL_MAX_OVER];  /* base + variant (+ axes) + budget overrides, owned */
    int n_over;
    char params_text[32];         /* the paper's count as written ("27M"); "" none */
    double params_lo, params_hi;  /* its rounding interval */
    int64_t params;               /* the generator's trainable parameters (after resolve) */
    lm_abl_ref ref[LM_ABL_MAX_REF]; /* the paper's numbers */
    int n_ref;
    char *yaml;                   /* resolved config without the seed (after resolve), owned */
} lm_abl_variant;

typedef struct lm_abl_testset {
    char name[64];
    char images[4096]; /* a folder of plain images ("" for a ready folder) */
    char dir[4096];    /* a ready official-layout folder ("" for a generated one) */
    char masks[16];    /* thin | medium | thick */
    int size;          /* side of the generated images */
} lm_abl_testset;

typedef struct lm_abl_grid {
    char path[4096];
    char name[128];
    char paper_source[2048], paper_note[2048];
    lm_abl_variant *v;
    int nv;
    uint64_t seeds[LM_ABL_MAX_SEEDS];
    int ns;
    lm_abl_testset ts[LM_ABL_MAX_TESTSETS];
    int nt;
    char metrics[LM_ABL_MAX_METRICS][24]; /* ssim psnr l1 lpips fid ssim_fid100_f1 lpips_fid100_f1 */
    int nm;
} lm_abl_grid;

/* Reads and checks a grid file (unknown keys, missing parts, `${env:NAME,default}` in
 * strings; relative `config:` paths are relative to the grid file's folder, data paths to the
 * current directory). Errors name the grid file and the key. */
int lm_abl_grid_load(lm_abl_grid **out, const char *path);
void lm_abl_grid_free(lm_abl_grid *g);

/* Composes every variant's config with its overrides (an unknown key is the schema's error,
 * prefixed with "variant 'NAME'"), refuses two variants that resolve to the same config,
 * builds each generator and checks its parameter count against the paper's, and checks that
 * init_from (when set) loads into the variant's networks. need_data: also the training
 * shards folder (data.train.indir) of every variant. Prints one line per variant to log. */
int lm_abl_grid_resolve(lm_abl_grid *g, int need_data, FILE *log);
/* Each test set: its image folder (or ready folder) exists and holds images (pairs). */
int lm_abl_check_testsets(const lm_abl_grid *g);

typedef struct lm_abl_opts {
    const char *grid;   /* the grid file, as given (passed to children) */
    const char *out;    /* OUT */
    const char *exe;    /* the lamac binary (NULL: /proc/self/exe) */
    const char *only;   /* run this variant only (NULL: all) */
    int64_t seed;       /* with only: this seed only (-1: all) */
    int jobs;           /* runs side by side (1) */
    int threads;        /* libtorch threads per run (0: cores / jobs) */
    const char *device; /* "cpu" */
} lm_abl_opts;

/* Makes OUT/testsets once, then trains and evaluates every selected run that is not done
 * (resuming a killed one with `lamac train --resume`). Returns 0, a negative error, or
 * 128 + S when interrupted by signal S (passed on to the running children first). */
int lm_abl_run(const lm_abl_grid *g, const lm_abl_opts *o);
/* Builds OUT/table.{md,csv,json} and OUT/report.html from the runs found under OUT/runs;
 * prints table.md to f (if not NULL). Runs not evaluated yet are listed as missing. */
int lm_abl_collect(const lm_abl_grid *g, const char *out, FILE *f);
/* Writes OUT/slurm/{array.sbatch,collect.sbatch,submit.sh}: an array job with one task per
 * variant x seed (`lamac ablate GRID --out OUT --only V --seed S`) and the final --collect. */
int lm_abl_write_slurm(const lm_abl_grid *g, const lm_abl_opts *o);

#endif
