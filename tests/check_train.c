/* check_train.c — `lamac train` end to end on a tiny config (FFC ngf 8, 1 block, 32 px crops,
 * batch 2, 1 thread): exact resume (stop at max_steps and resume; SIGTERM at a random step
 * and resume; torn newest checkpoints skipped), --resume without a checkpoint, missing/empty
 * data folders, non-finite losses (stop keeps the last checkpoint; skip counts), init_from
 * (official-key .pth with G + D strictly; a Lightning .ckpt that does not fit: strict fails
 * with the mismatch table, init_strict=false loads what fits), the run directory (metrics,
 * checkpoints, samples, TensorBoard events read back by tests/ref/tbread.py), the naive fill. */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/path.h"
#include "eval/naive.h"
#include "io/safetensors.h"
#include "model/weights.h"
#include "testutil.h"
#include "train/ckptfiles.h"

#define TINY                                                                                  \
    LM_TEST_TINY_TRAIN "trainer.kwargs.limit_val_batches=1 training_model.visualize_each_iters=4 " \
                       "--threads 1"

static char g_out[1 << 16];

/* tmp/data: the synthetic textures (40 training images of 64 px, 4 val, 4 test). */
static void make_data(const char *tmp) {
    int rc = lm_test_run(g_out, sizeof g_out, "synth %s/data --train 40 --val 4 --test 4 --train-size 64 --size 64", tmp);
    ck_assert_msg(rc == 0, "synth: %s", g_out);
}

static int train(const char *tmp, const char *extra) {
    return lm_test_run(g_out, sizeof g_out, "train configs/training/demo.yaml location.data_root_dir=%s/data " TINY " %s",
                       tmp, extra);
}

static void expect_same_metrics(const char *a, const char *b) {
    char pa[4200], pb[4200];
    snprintf(pa, sizeof pa, "%s/metrics.jsonl", a);
    snprintf(pb, sizeof pb, "%s/metrics.jsonl", b);
    char *x = lm_test_slurp(pa), *y = lm_test_slurp(pb);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(strstr(x, "\"gen_l1\"") && strstr(x, "\"discr_adv\""), "no loss terms in %s", pa);
    if (strcmp(x, y)) { /* the first line that differs */
        size_t i = 0, l = 0;
        while (x[i] && x[i] == y[i]) {
            if (x[i] == '\n') l = i + 1;
            i++;
        }
        ck_abort_msg("metrics differ from line starting at byte %zu:\n%s: %.300s\n%s: %.300s", l, pa, x + l, pb, y + l);
    }
    free(x), free(y);
}

static int64_t ckpt_step(const char *path) {
    int64_t step = -1;
    ck_assert_msg(lm_ckpt_validate(path, "lamac-ckpt-", &step) == 0, "%s: %s", path, lm_err_msg());
    return step;
}

START_TEST(test_resume_exact) {
    char tmp[256], a[300], b[300], c[300];
    lm_test_tmpdir(tmp, sizeof tmp, "train_resume");
    make_data(tmp);
    snprintf(a, sizeof a, "%s/a", tmp), snprintf(b, sizeof b, "%s/b", tmp), snprintf(c, sizeof c, "%s/c", tmp);
    /* epochs of 2 batches (limit_train_batches): the resume point lies on an epoch boundary */
    const char *ep = "trainer.kwargs.limit_train_batches=2 trainer.kwargs.max_epochs=0 trainer.kwargs.val_check_interval=3";
    char x[512];
    snprintf(x, sizeof x, "%s trainer.kwargs.max_steps=6 --run-dir %s", ep, a);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    snprintf(x, sizeof x, "%s trainer.kwargs.max_steps=4 --run-dir %s", ep, b);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "train --resume %s trainer.kwargs.max_steps=6 --threads 1", b), 0);
    ck_assert_msg(strstr(g_out, "resuming from") && strstr(g_out, "step 4, epoch 2, batch 0"), "%s", g_out);
    expect_same_metrics(a, b);
    /* same run dir without --resume: refused, never mixed */
    snprintf(x, sizeof x, "%s trainer.kwargs.max_steps=6 --run-dir %s", ep, b);
    ck_assert_int_eq(train(tmp, x), 1);
    ck_assert_msg(strstr(g_out, "already holds checkpoints"), "%s", g_out);

    /* torn newest checkpoints are skipped: keep every best-k file, tear those of step 4 */
    const char *keep = "trainer.checkpoint_kwargs.save_top_k=-1 trainer.kwargs.val_check_interval=2";
    snprintf(x, sizeof x, "%s trainer.kwargs.max_steps=6 --run-dir %s/ref", keep, tmp);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    snprintf(x, sizeof x, "%s trainer.kwargs.max_steps=4 --run-dir %s", keep, c);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    const char *torn[] = {"last.safetensors", "epoch=0-step=4.safetensors", "best.safetensors"};
    for (int i = 0; i < 3; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/checkpoints/%s", c, torn[i]);
        if (!lm_path_exists(p)) continue;
        if (i < 2) ck_assert_int_eq((int)ckpt_step(p), 4);
        if (ckpt_step(p) == 4) ck_assert_int_eq(truncate(p, 1000), 0);
    }
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "train --resume %s trainer.kwargs.max_steps=6 --threads 1", c), 0);
    ck_assert_msg(strstr(g_out, "warning: skipping checkpoint") && strstr(g_out, "step=2.safetensors: step 2"),
                  "%s", g_out);
    char ref[300];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    expect_same_metrics(ref, c);
    lm_test_rmtree(tmp);
}
END_TEST

/* Kills and reaps the child of a failed wait, so that a failing test leaves no training
 * (max_steps 100000) behind to slow every later test; returns its status text. */
static const char *stop_child(pid_t pid, char *buf, size_t cap) {
    int st = 0;
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        snprintf(buf, cap, "still running, killed");
    } else if (w == pid) {
        snprintf(buf, cap, "exited on its own with status 0x%x", st);
    } else {
        snprintf(buf, cap, "not found");
    }
    return buf;
}

/* How long a wait for a training child may take: generous, as a slow machine running
 * `ctest -j2` beside other heavy suites may need long for a few steps; a child that exits
 * early fails the wait at once, so a long limit costs nothing when all goes well. */
#define CHILD_WAIT_S 300.0

/* 1 while the child pid runs (0 once it has exited: *st gets its status, reaped). */
static int child_running(pid_t pid, int *st) { return waitpid(pid, st, WNOHANG) == 0; }

/* Starts `sh -c cmd` (a training run into run_dir) and waits, up to CHILD_WAIT_S, until its
 * metrics.jsonl has at least `at` lines; returns the child's pid. On failure the child is
 * stopped (or was reaped) before the test fails. */
static pid_t start_and_wait_lines(const char *cmd, const char *run_dir, int at) {
    char mpath[400], why[64];
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", run_dir);
    int lines = 0, st = 0, alive = 1;
    const double t0 = lm_clock_now();
    while (lines < at && (alive = child_running(pid, &st)) && lm_clock_now() - t0 < CHILD_WAIT_S) {
        char *s = lm_test_slurp(mpath);
        lines = 0;
        for (char *p = s; p && *p; p++) lines += *p == '\n';
        free(s);
        if (lines < at) usleep(2000);
    }
    if (lines < at) {
        if (alive) stop_child(pid, why, sizeof why);
        else snprintf(why, sizeof why, "exited with status 0x%x", st);
        ck_abort_msg("%d of %d metrics lines after %.0f s; the training %s: %s", lines, at, lm_clock_now() - t0, why,
                     cmd);
    }
    return pid;
}

/* SIGTERM at a random step: checkpoint written, exit 128 + 15; the resumed run equals an
 * uninterrupted run to the same step. */
START_TEST(test_sigterm_resume_exact) {
    char tmp[256], a[300], b[300];
    lm_test_tmpdir(tmp, sizeof tmp, "train_signal");
    make_data(tmp);
    snprintf(a, sizeof a, "%s/a", tmp), snprintf(b, sizeof b, "%s/b", tmp);
    srand((unsigned)time(NULL));
    int at = 1 + rand() % 4;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec '%s' train configs/training/demo.yaml location.data_root_dir=%s/data " TINY
             " trainer.kwargs.max_steps=100000 trainer.kwargs.val_check_interval=1000 --run-dir %s >/dev/null 2>&1",
             getenv("LAMAC_BIN"), tmp, b);
    pid_t pid = start_and_wait_lines(cmd, b, at);
    kill(pid, SIGTERM);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM, "status %d", st);
    char last[400];
    snprintf(last, sizeof last, "%s/checkpoints/last.safetensors", b);
    int64_t s = ckpt_step(last);
    ck_assert_int_ge(s, at);
    printf("train: SIGTERM after %d logged steps; checkpoint at step %lld\n", at, (long long)s);
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "train --resume %s trainer.kwargs.max_steps=%lld --threads 1", b,
                                 (long long)s + 2), 0);
    char x[512];
    snprintf(x, sizeof x, "trainer.kwargs.val_check_interval=1000 trainer.kwargs.max_steps=%lld --run-dir %s",
             (long long)s + 2, a);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    expect_same_metrics(a, b);
    lm_test_rmtree(tmp);
}
END_TEST

/* kill -9 while checkpoints are written every step: the newest checkpoint found is valid and
 * the run resumes from it (temp files of a torn write are never taken for checkpoints). */
START_TEST(test_sigkill_leaves_valid_checkpoint) {
    char tmp[256], b[300], cmd[2048];
    lm_test_tmpdir(tmp, sizeof tmp, "train_kill");
    make_data(tmp);
    snprintf(b, sizeof b, "%s/b", tmp);
    srand((unsigned)time(NULL) ^ 0x5bd1e995u);
    int at = 2 + rand() % 4;
    snprintf(cmd, sizeof cmd, "exec '%s' train configs/training/demo.yaml location.data_root_dir=%s/data " TINY
             " trainer.kwargs.max_steps=100000 trainer.kwargs.val_check_interval=1 --run-dir %s >/dev/null 2>&1",
             getenv("LAMAC_BIN"), tmp, b);
    pid_t pid = start_and_wait_lines(cmd, b, at);
    /* the validation line of a step is logged before its checkpoint is written: wait (up to
     * CHILD_WAIT_S) until one complete checkpoint exists, so the kill can only tear a later one */
    lm_ckpt_found f0 = {0};
    int found = -1, cst = 0, alive = 1;
    const double t0 = lm_clock_now();
    while ((found = lm_ckpt_find(&f0, b, "lamac-ckpt-", NULL)) != 0 && (alive = child_running(pid, &cst)) &&
           lm_clock_now() - t0 < CHILD_WAIT_S)
        usleep(2000);
    if (found != 0) {
        char why[64];
        if (alive) stop_child(pid, why, sizeof why);
        else snprintf(why, sizeof why, "exited with status 0x%x", cst);
        ck_abort_msg("no checkpoint after %.0f s (%s); the training %s", lm_clock_now() - t0, lm_err_msg(), why);
    }
    lm_ckpt_found_free(&f0);
    usleep((useconds_t)(rand() % 20000)); /* somewhere in a step or a checkpoint write */
    kill(pid, SIGKILL);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st));
    lm_ckpt_found f = {0};
    ck_assert_msg(lm_ckpt_find(&f, b, "lamac-ckpt-", stderr) == 0, "%s", lm_err_msg());
    printf("train: SIGKILL after >= %d metrics lines; newest valid checkpoint %s (step %lld)\n", at, f.path,
           (long long)f.step);
    int rc = lm_test_run(g_out, sizeof g_out, "train --resume %s trainer.kwargs.max_steps=%lld --threads 1", b,
                         (long long)f.step + 1);
    ck_assert_msg(rc == 0, "%s", g_out);
    lm_ckpt_found_free(&f);
    lm_test_rmtree(tmp);
}
END_TEST

START_TEST(test_errors_data_and_resume) {
    char tmp[256], p[400];
    lm_test_tmpdir(tmp, sizeof tmp, "train_errors");
    /* --resume without any checkpoint: an error, never a fresh start */
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "train --resume %s", tmp), 1);
    ck_assert_msg(strstr(g_out, "no valid checkpoint") && strstr(g_out, tmp), "%s", g_out);
    /* missing data folder, empty data folder: named */
    ck_assert_int_eq(train(tmp, "trainer.kwargs.max_steps=1"), 1);
    ck_assert_msg(strstr(g_out, "data.train.indir") && strstr(g_out, "/data/train"), "%s", g_out);
    snprintf(p, sizeof p, "%s/data/train", tmp);
    ck_assert_int_eq(lm_path_mkdirs(p), 0);
    ck_assert_int_eq(train(tmp, "trainer.kwargs.max_steps=1"), 1);
    ck_assert_msg(strstr(g_out, "data.train.indir") && strstr(g_out, "/data/train"), "%s", g_out);
    lm_test_rmtree(tmp);
}
END_TEST

/* losses.resnet_pl.weights_path as the official configs write it, ${env:NAME} with no default,
 * and the variable unset: the config loads (the key is lazy), and training, which reads the key
 * because the loss is on, fails before it creates the run directory, naming key and variable. */
START_TEST(test_unset_env_key) {
    char tmp[256], x[512], run[300];
    lm_test_tmpdir(tmp, sizeof tmp, "train_unset_env");
    make_data(tmp);
    unsetenv("LAMAC_TEST_SURELY_UNSET_VAR");
    snprintf(run, sizeof run, "%s/run", tmp);
    snprintf(x, sizeof x, "trainer.kwargs.max_steps=1 ++losses.resnet_pl.weight=30 "
             "'++losses.resnet_pl.weights_path=${env:LAMAC_TEST_SURELY_UNSET_VAR}' --run-dir %s", run);
    ck_assert_int_eq(train(tmp, x), 1);
    ck_assert_msg(strstr(g_out, "key 'losses.resnet_pl.weights_path'") &&
                      strstr(g_out, "environment variable LAMAC_TEST_SURELY_UNSET_VAR is not set"), "%s", g_out);
    ck_assert_msg(!lm_path_exists(run), "%s created", run);
    lm_test_rmtree(tmp);
}
END_TEST

START_TEST(test_nonfinite) {
    char tmp[256], x[512], last[400];
    lm_test_tmpdir(tmp, sizeof tmp, "train_nonfinite");
    make_data(tmp);
    snprintf(x, sizeof x, "trainer.kwargs.max_steps=3 --run-dir %s/a", tmp);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    snprintf(last, sizeof last, "%s/a/checkpoints/last.safetensors", tmp);
    ck_assert_int_eq((int)ckpt_step(last), 3);
    /* stop (default): the term is named, nothing is written, the last checkpoint stays */
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out,
                                 "train --resume %s/a losses.l1.weight_known=1e39 trainer.kwargs.max_steps=6 --threads 1",
                                 tmp), 1);
    ck_assert_msg(strstr(g_out, "gen_l1") && strstr(g_out, "non-finite") && strstr(g_out, "step 3"), "%s", g_out);
    ck_assert_int_eq((int)ckpt_step(last), 3);
    /* no log step before the end: the check before the last checkpoint finds it (deferred
     * checks, train/step.h), with the term's first step */
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out,
                                 "train --resume %s/a losses.l1.weight_known=1e39 trainer.kwargs.max_steps=6 "
                                 "trainer.kwargs.log_every_n_steps=50 --threads 1", tmp), 1);
    ck_assert_msg(strstr(g_out, "loss term gen_l1 is non-finite (first at step 3") && strstr(g_out, "after step 5") &&
                      strstr(g_out, "no checkpoint written"), "%s", g_out);
    ck_assert_int_eq((int)ckpt_step(last), 3);
    /* skip: counted and logged, the run goes on */
    snprintf(x, sizeof x, "losses.l1.weight_known=1e39 trainer.on_nonfinite=skip trainer.kwargs.max_steps=3 --run-dir %s/b",
             tmp);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    char mp[400];
    snprintf(mp, sizeof mp, "%s/b/metrics.jsonl", tmp);
    char *m = lm_test_slurp(mp);
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strstr(m, "\"nonfinite_skips\":3"), "%s", m);
    free(m);
    lm_test_rmtree(tmp);
}
END_TEST

/* Host reads per iteration between log steps (lamac train's summary, train/loop.h): none with
 * the deferred checks of on_nonfinite stop, some with skip's immediate ones. */
START_TEST(test_host_reads) {
    char tmp[256], x[512];
    lm_test_tmpdir(tmp, sizeof tmp, "train_reads");
    make_data(tmp);
    snprintf(x, sizeof x, "trainer.kwargs.max_steps=8 trainer.kwargs.log_every_n_steps=4 --run-dir %s/a", tmp);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "host reads per iteration between log steps: at most 0 (4 iterations)"), "%s", g_out);
    snprintf(x, sizeof x, "trainer.kwargs.max_steps=8 trainer.kwargs.log_every_n_steps=4 trainer.on_nonfinite=skip "
             "--run-dir %s/b", tmp);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    const char *p = strstr(g_out, "host reads per iteration between log steps: at most ");
    ck_assert_msg(p && atoi(p + strlen("host reads per iteration between log steps: at most ")) >= 10, "%s", g_out);
    lm_test_rmtree(tmp);
}
END_TEST

/* every tensor of `prefix` in src equals the same key in the checkpoint */
static void expect_loaded(const char *ckpt, const char *src_path, const char *prefix) {
    lm_weights_src *a = NULL, *b = NULL;
    ck_assert_int_eq(lm_weights_open(&a, ckpt), 0);
    ck_assert_int_eq(lm_weights_open(&b, src_path), 0);
    int n = 0;
    for (int i = 0; i < lm_weights_count(b); i++) {
        const lm_safetensors_entry *e = lm_weights_get(b, i);
        if (strncmp(e->name, prefix, strlen(prefix))) continue;
        const lm_safetensors_entry *f = lm_weights_find(a, e->name);
        ck_assert_msg(f != NULL, "%s missing from %s", e->name, ckpt);
        ck_assert_int_eq((int)f->nbytes, (int)e->nbytes);
        ck_assert_msg(!memcmp(f->data, e->data, e->nbytes), "%s differs", e->name);
        n++;
    }
    ck_assert_int_gt(n, 0);
    lm_weights_close(a), lm_weights_close(b);
}

START_TEST(test_init_from) {
    char tmp[256], last[400];
    lm_test_tmpdir(tmp, sizeof tmp, "train_init");
    make_data(tmp);
    /* official keys, generator + discriminator (lama-fourier ngf 4, 1 block, ndf 4): strict */
    const char *lf = "train configs/training/lama-fourier.yaml location.data_root_dir=%s/data generator.ngf=4 "
                     "generator.n_blocks=1 discriminator.ndf=4 losses.resnet_pl.weight=0 data.train.out_size=32 "
                     "data.batch_size=2 data.train.transform_variant=default trainer.kwargs.max_steps=0 --threads 1 "
                     "init_from=tests/fixtures/export/expected_raw_discr.pth --run-dir %s/a";
    int rc = lm_test_run(g_out, sizeof g_out, lf, tmp, tmp);
    ck_assert_msg(rc == 0, "%s", g_out);
    snprintf(last, sizeof last, "%s/a/checkpoints/last.safetensors", tmp);
    expect_loaded(last, "tests/fixtures/export/expected_raw_discr.pth", "generator.");
    expect_loaded(last, "tests/fixtures/export/expected_raw_discr.pth", "discriminator.");
    /* a Lightning .ckpt that does not fit (4 tensors of an ngf 8 model): strict fails with
     * the table; init_strict=false loads what fits and lists the rest */
    rc = train(tmp, "trainer.kwargs.max_steps=0 init_from=tests/fixtures/weights/lightning.ckpt --run-dir /nonexistent/x");
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(g_out, "init_strict=false") && strstr(g_out, "missing"), "%s", g_out);
    char x[512];
    snprintf(x, sizeof x, "trainer.kwargs.max_steps=0 init_from=tests/fixtures/weights/lightning.ckpt init_strict=false "
             "--run-dir %s/b", tmp);
    rc = train(tmp, x);
    ck_assert_msg(rc == 0 && strstr(g_out, "mismatches") && strstr(g_out, "loaded"), "%s", g_out);
    snprintf(last, sizeof last, "%s/b/checkpoints/last.safetensors", tmp);
    ck_assert_int_eq((int)ckpt_step(last), 0);
    lm_test_rmtree(tmp);
}
END_TEST

/* run directory contents, TensorBoard events read back by an independent reader, fill */
START_TEST(test_run_dir_and_events) {
    char tmp[256], x[1024], p[600];
    lm_test_tmpdir(tmp, sizeof tmp, "train_rundir");
    make_data(tmp);
    snprintf(x, sizeof x, "trainer.kwargs.max_steps=5 trainer.kwargs.val_check_interval=2 --run-dir %s/r", tmp);
    ck_assert_msg(train(tmp, x) == 0, "%s", g_out);
    const char *files[] = {"config.yaml", "metrics.jsonl", "checkpoints/last.safetensors", "checkpoints/best.safetensors",
                           "samples/epoch0000_train/batch0000000.png", "samples/epoch0000_train/batch0000004.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/r/%s", tmp, files[i]);
        ck_assert_msg(lm_path_exists(p), "%s missing", p);
    }
    snprintf(p, sizeof p, "%s/r/metrics.jsonl", tmp);
    char *m = lm_test_slurp(p);
    ck_assert_msg(strstr(m, "\"kind\":\"val\"") && strstr(m, "val_ssim_total_mean") && strstr(m, "val_l1_total_mean"),
                  "%s", m);
    free(m);
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "python3 tests/ref/tbread.py %s/r/tb/events.out.tfevents.* 2>&1", tmp);
        FILE *f = popen(cmd, "r");
        size_t n = fread(g_out, 1, sizeof g_out - 1, f);
        g_out[n] = 0;
        int st = pclose(f);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tbread: %s", g_out);
        ck_assert_msg(strstr(g_out, "train_gen_total") && strstr(g_out, "val_ssim_total_mean") &&
                      strstr(g_out, "samples_train"), "tbread: %s", g_out);
    }
    snprintf(x, sizeof x, "fill --images %s/data/test --out %s/fill", tmp, tmp);
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "%s", x), 0);
    snprintf(p, sizeof p, "%s/fill/tex00000_mask000.png", tmp);
    ck_assert_msg(lm_path_exists(p), "%s missing", p);
    lm_test_rmtree(tmp);
}
END_TEST

/* naive fill: the hole gets the known pixels' mean colour (rounded), the rest is unchanged;
 * diffusion between two flat halves stays between them and is monotone across the hole */
START_TEST(test_naive_fill) {
    enum { W = 8, H = 4 };
    uint8_t img[H * W * 3], mask[H * W], out[H * W * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t v = x < W / 2 ? 10 : 200;
            for (int c = 0; c < 3; c++) img[3 * (y * W + x) + c] = (uint8_t)(v + c);
            mask[y * W + x] = x >= 2 && x < 6;
        }
    ck_assert_int_eq(lm_naive_fill(out, img, mask, W, H, LM_NAIVE_MEAN), 0);
    for (int i = 0; i < H * W; i++)
        for (int c = 0; c < 3; c++)
            ck_assert_int_eq(out[3 * i + c], mask[i] ? 105 + c : img[3 * i + c]);
    ck_assert_int_eq(lm_naive_fill(out, img, mask, W, H, LM_NAIVE_BLUR), 0);
    for (int y = 0; y < H; y++) {
        for (int x = 1; x < W; x++) ck_assert_int_ge(out[3 * (y * W + x)], out[3 * (y * W + x - 1)]);
        ck_assert_int_gt(out[3 * (y * W + 2)], 10);
        ck_assert_int_lt(out[3 * (y * W + 5)], 200);
    }
}
END_TEST

/* A safetensors file whose header length starts with byte 0x80 (a pickle PROTO opcode) or
 * "PK" (zip) must still open as safetensors (found when a checkpoint's growing metadata hit
 * such a length and `lamac eval --model RUN` read it as a legacy pickle). */
START_TEST(test_weights_sniff_header_lengths) {
    char tmp[256], path[300];
    lm_test_tmpdir(tmp, sizeof tmp, "train_sniff");
    snprintf(path, sizeof path, "%s/w.safetensors", tmp);
    static char pad[20000];
    int hit80 = 0, hitpk = 0;
    float v = 1.5f;
    int64_t shp[1] = {1};
    for (int k = 0; k < 500; k++) { /* metadata sizes 0..299 and 19050..19249: header lengths 0x..80 and 0x4b50 */
        int n = k < 300 ? k : 19050 + (k - 300);
        memset(pad, 'x', (size_t)n);
        pad[n] = 0;
        lm_safetensors_writer *w = NULL;
        ck_assert_int_eq(lm_safetensors_writer_open(&w, path), 0);
        ck_assert_int_eq(lm_safetensors_writer_meta(w, "pad", pad), 0);
        ck_assert_int_eq(lm_safetensors_writer_add(w, "generator.x", LM_DT_F32, shp, 1, &v, 4), 0);
        ck_assert_int_eq(lm_safetensors_writer_close(w), 0);
        FILE *f = fopen(path, "rb");
        unsigned char h[2];
        ck_assert_int_eq((int)fread(h, 1, 2, f), 2);
        fclose(f);
        hit80 |= h[0] == 0x80;
        hitpk |= h[0] == 'P' && h[1] == 'K';
        lm_weights_src *s = NULL;
        ck_assert_msg(lm_weights_open(&s, path) == 0, "pad %d (header bytes %02x %02x): %s", n, h[0], h[1], lm_err_msg());
        ck_assert_str_eq(lm_weights_kind(s), "safetensors");
        lm_weights_close(s);
    }
    ck_assert(hit80 && hitpk);
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_train_suite(void) {
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_resume_exact);
    tcase_add_test(tc, test_sigterm_resume_exact);
    tcase_add_test(tc, test_sigkill_leaves_valid_checkpoint);
    tcase_add_test(tc, test_errors_data_and_resume);
    tcase_add_test(tc, test_unset_env_key);
    tcase_add_test(tc, test_nonfinite);
    tcase_add_test(tc, test_host_reads);
    tcase_add_test(tc, test_init_from);
    tcase_add_test(tc, test_run_dir_and_events);
    tcase_add_test(tc, test_naive_fill);
    tcase_add_test(tc, test_weights_sniff_header_lengths);
    suite_add_tcase(s, tc);
    return s;
}
