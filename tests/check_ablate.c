/* check_ablate.c — `lamac ablate` (run/ablate.h, cli/cmd_ablate.c): a two-variant few-step grid
 * on `lamac synth` data runs; killed with SIGTERM during training and run again it resumes and
 * gives the same table as the uninterrupted run; `--only` runs then `--collect` give the same
 * table, and so does `--jobs 2`; a finished run is skipped; report.html loads in headless
 * chromium without a script error and draws its charts; `--print-slurm` writes the array and
 * collect jobs; every bad input (unknown key in a variant, two variants with one config, a
 * test set folder missing or empty, an init_from that does not fit, a parameter count off the
 * paper's) is refused before anything trains, naming the variant and the key; the paper's
 * grids (Tables 2-4) resolve with the paper's parameter counts. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/testutil.h"

static char g_tmp[64];
static char g_out[1 << 16];

static void put_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *fmt, const char *a, const char *b) {
    char p[1024];
    snprintf(p, sizeof p, fmt, a, b);
    struct stat st;
    return stat(p, &st) == 0;
}

/* The tiny base (LM_TEST_TINY_TRAIN as grid overrides), data from setup. */
static void write_grid(const char *name, const char *variants, const char *testsets, const char *extra) {
    char path[512], text[8192];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    snprintf(text, sizeof text,
             "name: tiny\n"
             "base:\n  config: %s/configs/training/demo.yaml\n"
             "  overrides: [generator.ngf=8, generator.n_blocks=1, discriminator.ndf=8, data.train.out_size=32,\n"
             "              data.batch_size=2, trainer.kwargs.log_every_n_steps=1, training_model.visualize_each_iters=1000,\n"
             "              'location.data_root_dir=%s/data']\n"
             "variants:\n%s"
             "seeds: [0]\n"
             "budget:\n  overrides: [trainer.kwargs.max_epochs=3, trainer.kwargs.limit_train_batches=5]\n"
             "testsets:\n%s"
             "metrics: [ssim, l1, psnr]\n%s",
             LM_SOURCE_DIR, g_tmp, variants, testsets, extra ? extra : "");
    put_file(path, text);
}

static const char *k_variants =
    "  a:\n    overrides: [data.train.mask_gen_kwargs.irregular_kwargs.max_width=5]\n"
    "    params: 25.1K\n    paper: {thin: {ssim: 0.5}, places: {fid: 1.5}}\n"
    "  b: [data.train.mask_gen_kwargs.irregular_kwargs.max_width=20]\n";

static const char *testsets(void) {
    static char t[1024];
    snprintf(t, sizeof t, "  thin: {images: %s/data/test, masks: thin, size: 32}\n  ready: {dir: %s/data/val}\n", g_tmp, g_tmp);
    return t;
}

static void setup(void) {
    lm_test_tmpdir(g_tmp, sizeof g_tmp, "ablate");
    int rc = lm_test_run(g_out, sizeof g_out, "synth '%s/data' --train 16 --val 2 --test 3 --train-size 48 --size 32", g_tmp);
    ck_assert_msg(rc == 0, "synth: %s", g_out);
    write_grid("grid.yaml", k_variants, testsets(), "paper: {source: made up for the test}\n");
}
static void teardown(void) { lm_test_rmtree(g_tmp); }

static char *table(const char *out, const char *file) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s/%s", g_tmp, out, file);
    return lm_test_read_file(p);
}

static int run_ablate(const char *args) {
    return lm_test_run(g_out, sizeof g_out, "ablate '%s/grid.yaml' %s", g_tmp, args);
}

/* lamac ablate in the background; SIGTERM once the first checkpoint of a-s0 is there */
static int run_and_kill(const char *out) {
    char outdir[512], ckpt[600], log[600];
    snprintf(outdir, sizeof outdir, "%s/%s", g_tmp, out);
    snprintf(ckpt, sizeof ckpt, "%s/runs/a-s0/checkpoints/last.safetensors", outdir);
    snprintf(log, sizeof log, "%s/kill.log", g_tmp);
    char grid[512];
    snprintf(grid, sizeof grid, "%s/grid.yaml", g_tmp);
    pid_t p = fork();
    ck_assert_int_ge(p, 0);
    if (p == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(lm_test_lamac_bin(), "lamac", "ablate", grid, "--out", outdir, "--threads", "1", (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, 5 * 1000 * 1000};
    struct stat st;
    for (int i = 0; i < 24000 && stat(ckpt, &st) != 0; i++) nanosleep(&ts, NULL);
    ck_assert_msg(stat(ckpt, &st) == 0, "no checkpoint appeared at %s", ckpt);
    kill(p, SIGTERM);
    int status = 0;
    ck_assert_int_eq(waitpid(p, &status, 0), p);
    ck_assert_msg(WIFEXITED(status), "lamac ablate did not exit by itself");
    return WEXITSTATUS(status);
}

START_TEST(test_run_resume_collect) {
    /* 1. uninterrupted */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "--out '%s/o1' --threads 1", g_tmp);
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "| a (paper) | 25.1K | 0.5 |"), "paper row: %s", g_out);
    char *t1 = table("o1", "table.csv"), *m1 = table("o1", "table.md");
    ck_assert_msg(strstr(t1, "a,measured,25091,thin,ssim,"), "%s", t1);
    ck_assert_msg(strstr(t1, "a,paper,25.1K,places,fid,1.5,,1"), "%s", t1);
    ck_assert_msg(strstr(t1, "b,measured,25091,ready,psnr,"), "%s", t1);
    ck_assert(exists("%s/o1/testsets/thin/%s", g_tmp, "tex00000_mask000.png"));
    char *mj = table("o1", "runs/a-s0/eval/thin/metrics.json"); /* the best checkpoint was evaluated */
    ck_assert_msg(strstr(mj, "--model ") && strstr(mj, "/runs/a-s0/checkpoints/best.safetensors --images "), "%.400s", mj);
    free(mj);
    /* again: everything is done */
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "a-s0: done, skipped") && strstr(g_out, "b-s0: done, skipped") && !strstr(g_out, ": training ("),
                  "%s", g_out);

    /* 2. killed during training, then resumed: the same table */
    ck_assert_int_eq(run_and_kill("o2"), 128 + SIGTERM);
    ck_assert_msg(!exists("%s/o2/runs/a-s0/%s", g_tmp, "ablate_trained"), "the kill came after training had ended");
    snprintf(cmd, sizeof cmd, "--out '%s/o2' --threads 1", g_tmp);
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "a-s0: resuming training"), "%s", g_out);
    char *t2 = table("o2", "table.csv"), *m2 = table("o2", "table.md");
    ck_assert_str_eq(t2, t1);
    ck_assert_str_eq(m2, m1);

    /* 3. --only per variant, then --collect; a-s0 as a run killed before its first checkpoint */
    char junk[600];
    snprintf(junk, sizeof junk, "mkdir -p '%s/o3/runs/a-s0/checkpoints' && echo '{\"step\":1}' > '%s/o3/runs/a-s0/metrics.jsonl'", g_tmp, g_tmp);
    ck_assert(system(junk) == 0);
    snprintf(cmd, sizeof cmd, "--out '%s/o3' --threads 1 --only a", g_tmp);
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "holds no valid checkpoint: starting the run again"), "%s", g_out);
    char *jl = table("o3", "runs/a-s0/metrics.jsonl");
    ck_assert_msg(strncmp(jl, "{\"step\":1}", 10), "stale metrics.jsonl kept");
    free(jl);
    ck_assert(!exists("%s/o3/%s", g_tmp, "table.csv"));
    snprintf(cmd, sizeof cmd, "--out '%s/o3' --collect", g_tmp);
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "not evaluated yet: b-s0 on thin, b-s0 on ready"), "%s", g_out);
    snprintf(cmd, sizeof cmd, "--out '%s/o3' --threads 1 --only b --seed 0", g_tmp);
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    snprintf(cmd, sizeof cmd, "--out '%s/o3' --collect", g_tmp);
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    char *t3 = table("o3", "table.csv"), *m3 = table("o3", "table.md");
    ck_assert_str_eq(t3, t1);
    ck_assert_str_eq(m3, m1);

    /* 4. --jobs 2 (one thread each): the same numbers */
    snprintf(cmd, sizeof cmd, "--out '%s/o4' --threads 1 --jobs 2", g_tmp);
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    char *t4 = table("o4", "table.csv");
    ck_assert_str_eq(t4, t1);

    /* 5. Slurm */
    snprintf(cmd, sizeof cmd, "--out '%s/o5' --print-slurm --threads 4", g_tmp);
    ck_assert_msg(run_ablate(cmd) == 0, "%s", g_out);
    char *arr = table("o5", "slurm/array.sbatch"), *col = table("o5", "slurm/collect.sbatch"), *sub = table("o5", "slurm/submit.sh");
    ck_assert_msg(strstr(arr, "#SBATCH --array=0-1") && strstr(arr, "\"a 0\"") && strstr(arr, "\"b 0\"") &&
                  strstr(arr, " --only \"$1\" --seed \"$2\""), "%s", arr);
    ck_assert_msg(strstr(col, " --collect"), "%s", col);
    ck_assert_msg(strstr(sub, "--dependency=afterany"), "%s", sub);
    free(arr), free(col), free(sub);
    free(t1), free(t2), free(t3), free(t4), free(m1), free(m2), free(m3);

    /* 6. report.html in headless chromium */
    const char *env = getenv("LAMAC_CHROMIUM");
    const char *bin = env && *env ? env : access("/usr/bin/chromium", X_OK) == 0 ? "/usr/bin/chromium" : NULL;
    ck_assert_msg(bin, "report.html browser test: chromium not found; install it (apt-get install chromium) or set LAMAC_CHROMIUM");
    char shell[2048], dom_path[512];
    snprintf(dom_path, sizeof dom_path, "%s/dom.html", g_tmp);
    snprintf(shell, sizeof shell,
             "timeout 60 '%s' --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
             "--user-data-dir='%s/chrome' --virtual-time-budget=5000 --dump-dom 'file://%s/o1/report.html' >'%s' 2>'%s/chrome.log'",
             bin, g_tmp, g_tmp, dom_path, g_tmp);
    ck_assert_msg(system(shell) == 0, "chromium failed: %s", shell);
    char *dom = lm_test_read_file(dom_path);
    ck_assert_msg(!strstr(dom, "class=\"err\""), "the page reported a script error: %.300s", strstr(dom, "class=\"err\""));
    const char *st = strstr(dom, "charts drawn: ");
    ck_assert_msg(st, "no status line");
    int drawn = atoi(st + 14), svgs = 0;
    for (const char *s = dom; (s = strstr(s, "<svg")); s += 4) svgs++;
    /* 10 training losses + validation ssim/l1 (+ lpips when found) + 2 test sets x 3 metrics by area */
    ck_assert_msg(drawn >= 16 && drawn == svgs, "charts drawn %d, <svg> %d", drawn, svgs);
    ck_assert_msg(strstr(dom, "a-s0") && strstr(dom, "b-s0") && strstr(dom, "a (paper)"), "runs and paper row on the page");
    free(dom);
}
END_TEST

/* Each bad grid is refused before anything trains: no OUT/runs. */
static void expect_refused(const char *grid, const char *want1, const char *want2) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ablate '%s/%s' --out '%s/bad' --threads 1", g_tmp, grid, g_tmp);
    int rc = lm_test_run(g_out, sizeof g_out, "%s", cmd);
    ck_assert_msg(rc == 1, "%s: status %d: %s", grid, rc, g_out);
    ck_assert_msg(strstr(g_out, want1) && (!want2 || strstr(g_out, want2)), "%s: expected '%s' and '%s' in: %s", grid,
                  want1, want2 ? want2 : "", g_out);
    ck_assert_msg(!exists("%s/bad/%s", g_tmp, "runs"), "%s: something ran", grid);
}

START_TEST(test_bad_inputs) {
    write_grid("g1.yaml", "  a: []\n  b: [generator.bogus_key=3]\n", testsets(), NULL);
    expect_refused("g1.yaml", "variant 'b'", "generator.bogus_key");
    write_grid("g2.yaml", "  a: [generator.ngf=8]\n  b: []\n", testsets(), NULL);
    expect_refused("g2.yaml", "variants 'a' and 'b' resolve to the same config", NULL);
    char ts[1024];
    snprintf(ts, sizeof ts, "  t: {dir: %s/nowhere}\n", g_tmp);
    write_grid("g3.yaml", k_variants, ts, NULL);
    expect_refused("g3.yaml", "test set 't'", "testsets.t.dir");
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty", g_tmp);
    mkdir(empty, 0755);
    snprintf(ts, sizeof ts, "  t: {dir: %s}\n", empty);
    write_grid("g4.yaml", k_variants, ts, NULL);
    expect_refused("g4.yaml", "test set 't'", "holds no NAME.png + NAME_mask*.png pair");
    snprintf(ts, sizeof ts, "  t: {images: %s, masks: thick, size: 32}\n", empty);
    write_grid("g5.yaml", k_variants, ts, NULL);
    expect_refused("g5.yaml", "test set 't'", "testsets.t.images");
    write_grid("g6.yaml", "  a: {overides: [generator.ngf=4]}\n", testsets(), NULL);
    expect_refused("g6.yaml", "variants.a.overides", "unknown key");
    write_grid("g7.yaml", "  a: {params: 27M}\n", testsets(), NULL);
    expect_refused("g7.yaml", "variant 'a': key 'params'", "25091 parameters");
    write_grid("g8.yaml", k_variants, testsets(), "bogus: 1\n");
    expect_refused("g8.yaml", "key 'bogus': unknown key", NULL);
    /* the command line */
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "ablate '%s/grid.yaml'", g_tmp), 2);
    ck_assert_msg(strstr(g_out, "--out DIR is required"), "%s", g_out);
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "ablate '%s/grid.yaml' --out '%s/bad' --seed 0", g_tmp, g_tmp), 2);
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "ablate '%s/grid.yaml' --out '%s/bad' --only nope", g_tmp, g_tmp), 1);
    ck_assert_msg(strstr(g_out, "--only nope: no such variant"), "%s", g_out);
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "ablate '%s/grid.yaml' --out '%s/bad' --only a --seed 7", g_tmp, g_tmp), 1);
    ck_assert_msg(strstr(g_out, "--seed 7: not among the grid's seeds"), "%s", g_out);
    ck_assert_msg(!exists("%s/bad/%s", g_tmp, "runs"), "something ran");
    /* init_from: a checkpoint of the tiny architecture, loaded into a wider one */
    int rc = lm_test_run(g_out, sizeof g_out,
                         "train %s/configs/training/demo.yaml " LM_TEST_TINY_TRAIN "location.data_root_dir=%s/data "
                         "trainer.kwargs.max_steps=1 --run-dir '%s/init' --threads 1 --no-tb",
                         LM_SOURCE_DIR, g_tmp, g_tmp);
    ck_assert_msg(rc == 0, "%s", g_out);
    char v[1024];
    snprintf(v, sizeof v, "  a: ['init_from=%s/init/checkpoints/last.safetensors']\n"
                          "  wide: ['init_from=%s/init/checkpoints/last.safetensors', generator.ngf=16]\n", g_tmp, g_tmp);
    write_grid("g9.yaml", v, testsets(), NULL);
    expect_refused("g9.yaml", "variant 'wide': key 'init_from'", "does not fit");
}
END_TEST

START_TEST(test_paper_grids_resolve) {
    char ev[512];
    snprintf(ev, sizeof ev, "%s/eval", g_tmp);
    const char *sets[] = {"random_thin_512", "random_thick_512", "segm_512"};
    for (int i = 0; i < 3; i++) {
        int rc = lm_test_run(g_out, sizeof g_out, "synth '%s/%s' --train 4 --val 1 --test 1 --train-size 32 --size 32", ev, sets[i]);
        ck_assert_msg(rc == 0, "%s", g_out);
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/%s/val", ev, sets[i]);
        snprintf(to, sizeof to, "%s/%s", ev, sets[i]);
        char cmd[6000];
        snprintf(cmd, sizeof cmd, "cp '%s'/* '%s'/ && rm -rf '%s/train' '%s/test' '%s/val'", from, to, to, to, to);
        ck_assert(system(cmd) == 0);
    }
    setenv("LAMAC_ABLATE_EVAL", ev, 1);
    static const struct {
        const char *grid;
        const char *lines[5];
    } k[] = {
        {"paper_table2_conv", {"fourier                      generator     27048835 parameters (paper: 27M, ok)",
                               "dilated                      generator     45645379 parameters (paper: 46M, ok)",
                               "regular                      generator     45617731 parameters (paper: 46M, ok)",
                               "shallow_fourier              generator     19073155 parameters (paper: 19M, ok)",
                               "deep_regular                 generator     73947715 parameters (paper: 74M, ok)"}},
        {"paper_table3_perceptual", {"hrf_pl ", "rn50_imagenet_dilated ", "rn50_imagenet ", "vgg19 ", "no_pl "}},
        {"paper_table4_mask_width", {"narrow                       generator     45617731 parameters (paper: 46M, ok)",
                                     "wide                         generator     45617731 parameters (paper: 46M, ok)", NULL, NULL, NULL}},
    };
    for (int g = 0; g < 3; g++) {
        int rc = lm_test_run(g_out, sizeof g_out, "ablate %s/configs/ablations/%s.yaml --check", LM_SOURCE_DIR, k[g].grid);
        ck_assert_msg(rc == 0, "%s: %s", k[g].grid, g_out);
        for (int i = 0; i < 5 && k[g].lines[i]; i++) ck_assert_msg(strstr(g_out, k[g].lines[i]), "%s: no '%s' in %s", k[g].grid, k[g].lines[i], g_out);
        if (g == 1) ck_assert_msg(strstr(g_out, "45617731 parameters (paper: 46M, ok)"), "%s", g_out);
        ck_assert_msg(strstr(g_out, ": ok\n"), "%s", g_out);
    }
    /* the demo grid too (its data: the synth folder of setup) */
    char data[600];
    snprintf(data, sizeof data, "%s/data", g_tmp);
    setenv("LAMAC_DATA", data, 1);
    int rc = lm_test_run(g_out, sizeof g_out, "ablate %s/configs/ablations/demo_mask_width.yaml --check", LM_SOURCE_DIR);
    ck_assert_msg(rc == 0 && strstr(g_out, "2 variants x 2 seeds, 2 test sets: ok"), "%s", g_out);
}
END_TEST

Suite *check_ablate_suite(void) {
    Suite *s = suite_create("ablate");
    TCase *tc = tcase_create("ablate");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_paper_grids_resolve);
    tcase_add_test(tc, test_run_resume_collect);
    suite_add_tcase(s, tc);
    return s;
}
