/* check_train_val.c — validation during training through the evaluator's code, and faults
 * while saving: with LPIPS and FID weights in the official layout (random weights
 * written here into a temporary $TORCH_HOME under torch hub's file names) the val record
 * holds val_lpips_*, val_fid_* and val_ssim_fid100_f1_total_mean, equal to lm_eval_dirs on
 * the same images and the predictions of the saved generator (lamac predict) written to
 * disk; the monitor val_ssim_fid100_f1_total_mean picks best.safetensors; without the
 * weights one warning names each missing file and the monitor falls back once; a checkpoint
 * write that fails like a full disk (RLIMIT_FSIZE, EFBIG) stops the run naming the path (once)
 * and the errno text, keeps the previous checkpoint valid and leaves no temp file. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "eval/evaluate.h"
#include "io/safetensors.h"
#include "testutil.h"
#include "train/ckptfiles.h"

#define TINY LM_TEST_TINY_TRAIN "training_model.visualize_each_iters=1000 evaluator.fid=true --threads 1"

static char g_out[1 << 16];

static void make_data(const char *tmp) {
    int rc = lm_test_run(g_out, sizeof g_out, "synth %s/data --train 40 --val 4 --test 4 --train-size 64 --size 64", tmp);
    ck_assert_msg(rc == 0, "synth: %s", g_out);
}

/* The value of "key": in the line, NaN if absent. */
static double json_num(const char *line, const char *key) {
    char k[128];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(line, k);
    return p ? strtod(p + strlen(k), NULL) : NAN;
}

/* The val lines of metrics.jsonl (at most cap), each strdup'ed. */
static int val_lines(char **out, int cap, const char *run) {
    char p[600];
    snprintf(p, sizeof p, "%s/metrics.jsonl", run);
    char *s = lm_test_slurp(p), *save = NULL;
    ck_assert_ptr_nonnull(s);
    int n = 0;
    for (char *l = strtok_r(s, "\n", &save); l && n < cap; l = strtok_r(NULL, "\n", &save))
        if (strstr(l, "\"kind\":\"val\"")) out[n++] = strdup(l);
    free(s);
    return n;
}

static int64_t ckpt_step(const char *path) {
    int64_t step = -1;
    ck_assert_msg(lm_ckpt_validate(path, "lamac-ckpt-", &step) == 0, "%s: %s", path, lm_err_msg());
    return step;
}

START_TEST(test_val_lpips_fid_and_monitor) {
    char tmp[256], th[300], x[1024];
    lm_test_tmpdir(tmp, sizeof tmp, "train_val");
    make_data(tmp);
    snprintf(th, sizeof th, "%s/th", tmp);
    lm_test_write_torch_home(th, NULL, 7); /* vgg16 and inception, random weights */
    setenv("TORCH_HOME", th, 1);
    int rc = lm_test_run(g_out, sizeof g_out,
                         "train configs/training/demo.yaml location.data_root_dir=%s/data " TINY
                         " trainer.kwargs.max_steps=4 trainer.kwargs.val_check_interval=2 "
                         "trainer.kwargs.limit_val_batches=10 --run-dir %s/a",
                         tmp, tmp);
    unsetenv("TORCH_HOME");
    ck_assert_msg(rc == 0, "%s", g_out);
    ck_assert_msg(!strstr(g_out, "warning: validation without") && !strstr(g_out, "falls back"), "%s", g_out);
    ck_assert_msg(strstr(g_out, "checkpoint: new best val_ssim_fid100_f1_total_mean"), "%s", g_out);

    char *lines[8];
    int nv = val_lines(lines, 8, strcat(strcpy(x, tmp), "/a"));
    ck_assert_int_eq(nv, 2);
    const char *keys[] = {"val_ssim_total_mean", "val_l1_total_mean", "val_lpips_total_mean", "val_lpips_total_std",
                          "val_fid_total_mean", "val_ssim_fid100_f1_total_mean", "val_lpips_fid100_f1_total_mean"};
    for (int i = 0; i < nv; i++)
        for (int k = 0; k < 7; k++)
            ck_assert_msg(isfinite(json_num(lines[i], keys[k])), "%s missing in %s", keys[k], lines[i]);
    ck_assert_msg(!strstr(lines[1], "val_fid_total_std"), "FID has no std (official): %s", lines[1]);
    /* the monitor: best.safetensors is the validation with the larger ssim_fid100_f1 */
    double f0 = json_num(lines[0], "val_ssim_fid100_f1_total_mean"), f1 = json_num(lines[1], "val_ssim_fid100_f1_total_mean");
    printf("train_val: val_ssim_fid100_f1_total_mean %.9g (step 2), %.9g (step 4); fid %.6g, %.6g\n", f0, f1,
           json_num(lines[0], "val_fid_total_mean"), json_num(lines[1], "val_fid_total_mean"));
    ck_assert_msg(f0 > 0 && f1 > 0 && f0 != f1, "the integral should be positive and differ: %g %g", f0, f1);
    char best[600];
    snprintf(best, sizeof best, "%s/a/checkpoints/best.safetensors", tmp);
    ck_assert_int_eq((int)ckpt_step(best), f1 > f0 ? 4 : 2);

    /* the same numbers from lm_eval_dirs on the saved generator's predictions */
    rc = lm_test_run(g_out, sizeof g_out,
                     "predict --model %s/a/checkpoints/last.safetensors --indir %s/data/val --outdir %s/pred "
                     "--pad-multiple 8 --threads 1 --quiet", tmp, tmp, tmp);
    ck_assert_msg(rc == 0, "%s", g_out);
    lm_eval_opts o = lm_eval_defaults();
    o.rule = LM_BINS_ONLINE;
    o.lpips_lin = "weights/lpips/vgg.pth";
    char bb[600], inc[600], vd[600], pd[600];
    snprintf(bb, sizeof bb, "%s/hub/checkpoints/vgg16-397923af.pth", th);
    snprintf(inc, sizeof inc, "%s/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth", th);
    o.lpips_backbone = bb;
    o.inception = inc;
    snprintf(vd, sizeof vd, "%s/data/val", tmp);
    snprintf(pd, sizeof pd, "%s/pred", tmp);
    lm_eval_result *r = calloc(1, sizeof *r);
    ck_assert_msg(lm_eval_dirs(r, vd, pd, &o) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(r->n, 4);
    struct { const char *key; int m; int bin; } cmp[] = {
        {"val_ssim_total_mean", LM_M_SSIM, -1}, {"val_ssim_total_std", LM_M_SSIM, -2},
        {"val_l1_total_mean", LM_M_L1, -1},     {"val_lpips_total_mean", LM_M_LPIPS, -1},
        {"val_lpips_total_std", LM_M_LPIPS, -2}, {"val_fid_total_mean", LM_M_FID, -1},
        {"val_ssim_fid100_f1_total_mean", LM_M_SSIM_F1, -1}, {"val_lpips_fid100_f1_total_mean", LM_M_LPIPS_F1, -1}};
    double worst = 0;
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
        ck_assert_msg(!r->m[cmp[i].m].skipped, "%s skipped: %s", r->m[cmp[i].m].name, r->m[cmp[i].m].why);
        double e = cmp[i].bin == -2 ? r->m[cmp[i].m].total.std : r->m[cmp[i].m].total.mean;
        double a = json_num(lines[1], cmp[i].key), err = fabs(a - e);
        if (err > worst) worst = err;
        ck_assert_msg(err <= 1e-6 + 1e-7 * fabs(e), "%s: val record %.9g, lm_eval_dirs %.9g", cmp[i].key, a, e);
    }
    /* every per-bin value logged equals lm_eval_dirs's bin (same online rule) */
    int nb = 0;
    for (int b = 0; b < 10; b++) {
        char nm[32], key[96];
        lm_bin_name(nm, sizeof nm, b, 10);
        const int ms[3] = {LM_M_SSIM, LM_M_LPIPS, LM_M_FID};
        for (int k = 0; k < 3; k++) {
            snprintf(key, sizeof key, "val_%s_%s_mean", r->m[ms[k]].name, nm);
            double a = json_num(lines[1], key), e = r->m[ms[k]].bin[b].mean;
            if (!r->m[ms[k]].bin[b].n) {
                ck_assert_msg(isnan(a), "%s logged for an empty bin", key);
                continue;
            }
            if (isnan(e)) continue; /* FID of a one-image bin: NaN, written as null */
            nb++;
            double err = fabs(a - e);
            if (err > worst) worst = err;
            ck_assert_msg(err <= 1e-6 + 1e-7 * fabs(e), "%s: val record %.9g, lm_eval_dirs %.9g", key, a, e);
        }
    }
    printf("train_val: val record vs lm_eval_dirs: %d totals + %d bin values, max |err| %.3g\n",
           (int)(sizeof cmp / sizeof cmp[0]), nb, worst);
    lm_eval_result_free(r);
    free(r);
    for (int i = 0; i < nv; i++) free(lines[i]);

    /* without the weights: one warning per metric naming the path, the monitor falls back once */
    setenv("TORCH_HOME", "/nonexistent/th", 1);
    rc = lm_test_run(g_out, sizeof g_out,
                     "train configs/training/demo.yaml location.data_root_dir=%s/data " TINY
                     " trainer.kwargs.max_steps=4 trainer.kwargs.val_check_interval=2 --run-dir %s/b",
                     tmp, tmp);
    unsetenv("TORCH_HOME");
    ck_assert_msg(rc == 0, "%s", g_out);
    const char *w1 = strstr(g_out, "warning: validation without LPIPS");
    const char *w2 = strstr(g_out, "warning: validation without FID");
    ck_assert_msg(w1 && w2 && strstr(g_out, "/nonexistent/th/hub/checkpoints/vgg16-397923af.pth") &&
                      strstr(g_out, "/nonexistent/th/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth") &&
                      strstr(g_out, "scripts/download-weights.sh"), "%s", g_out);
    ck_assert_msg(!strstr(w1 + 1, "warning: validation without LPIPS") && !strstr(w2 + 1, "warning: validation without FID"),
                  "warned more than once: %s", g_out);
    const char *fb = strstr(g_out, "falls back to val_ssim_total_mean");
    ck_assert_msg(fb && !strstr(fb + 1, "falls back"), "%s", g_out);
    ck_assert_msg(strstr(g_out, "checkpoint: new best val_ssim_total_mean"), "%s", g_out);
    nv = val_lines(lines, 8, strcat(strcpy(x, tmp), "/b"));
    ck_assert_int_eq(nv, 2);
    for (int i = 0; i < nv; i++) {
        ck_assert_msg(!strstr(lines[i], "lpips") && !strstr(lines[i], "fid") && strstr(lines[i], "val_ssim_total_mean"),
                      "%s", lines[i]);
        free(lines[i]);
    }
    lm_test_rmtree(tmp);
}
END_TEST

/* Metadata "key" of a safetensors file, copied into out. */
static void file_meta(char *out, size_t cap, const char *path, const char *key) {
    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, path) == 0, "%s", lm_err_msg());
    const char *v = lm_safetensors_meta(f, key);
    snprintf(out, cap, "%s", v ? v : "(absent)");
    lm_safetensors_close(f);
}

/* The steps of a topk state "epoch:step:value;..." (at most cap) and their count. */
static int topk_steps(int64_t *steps, int cap, const char *state) {
    int n = 0;
    for (const char *p = state; *p && n < cap;) {
        const char *c = strchr(p, ':');
        ck_assert_msg(c, "malformed topk %s", state);
        steps[n++] = strtoll(c + 1, NULL, 10);
        const char *sc = strchr(c, ';');
        if (!sc) break;
        p = sc + 1;
    }
    return n;
}

static int has_step(const int64_t *steps, int n, int64_t s) {
    for (int i = 0; i < n; i++)
        if (steps[i] == s) return 1;
    return 0;
}

/* A run that kept its best by val_ssim_fid100_f1_total_mean (weights there) resumed without
 * the weights (the monitor falls back to val_ssim_total_mean): one warning naming both keys,
 * the ranking restarts (the earlier best files stay on disk, never evicted), best.safetensors
 * and the kept-best list rank by val_ssim_total_mean only; a further resume with the same key
 * keeps the ranking without a warning; the reverse change warns too. */
START_TEST(test_resume_monitor_change) {
    char tmp[256], th[300], run[300], ck[400], p[600], v[4096];
    lm_test_tmpdir(tmp, sizeof tmp, "train_monitor");
    make_data(tmp);
    snprintf(th, sizeof th, "%s/th", tmp);
    lm_test_write_torch_home(th, NULL, 7); /* vgg16 and inception, random weights */
    snprintf(run, sizeof run, "%s/a", tmp);
    snprintf(ck, sizeof ck, "%s/checkpoints", run);
    setenv("TORCH_HOME", th, 1);
    int rc = lm_test_run(g_out, sizeof g_out,
                         "train configs/training/demo.yaml location.data_root_dir=%s/data " TINY
                         " evaluator.lpips=false trainer.kwargs.max_steps=4 trainer.kwargs.val_check_interval=2 "
                         "trainer.checkpoint_kwargs.save_top_k=5 --no-tb --run-dir %s", tmp, run);
    ck_assert_msg(rc == 0 && strstr(g_out, "new best val_ssim_fid100_f1_total_mean"), "%s", g_out);
    snprintf(p, sizeof p, "%s/last.safetensors", ck);
    file_meta(v, sizeof v, p, "monitor");
    ck_assert_str_eq(v, "val_ssim_fid100_f1_total_mean");

    /* resumed without the weights: steps 6 and 8 validate by val_ssim_total_mean */
    setenv("TORCH_HOME", "/nonexistent/th", 1);
    rc = lm_test_run(g_out, sizeof g_out, "train --resume %s trainer.kwargs.max_steps=8 --threads 1 --no-tb", run);
    ck_assert_msg(rc == 0, "%s", g_out);
    const char *w = strstr(g_out, "warning: the resumed checkpoint ranked its best checkpoints by "
                                  "val_ssim_fid100_f1_total_mean, this run's monitor is val_ssim_total_mean");
    ck_assert_msg(w && !strstr(w + 1, "warning: the resumed checkpoint ranked"), "one warning: %s", g_out);
    ck_assert_msg(strstr(w, "epoch=0-step=2.safetensors") && strstr(w, "epoch=0-step=4.safetensors") &&
                      strstr(w, "stay on disk"), "the warning names the earlier files: %s", g_out);
    snprintf(p, sizeof p, "%s/last.safetensors", ck);
    ck_assert_int_eq((int)ckpt_step(p), 8);
    file_meta(v, sizeof v, p, "monitor");
    ck_assert_str_eq(v, "val_ssim_total_mean");
    file_meta(v, sizeof v, p, "topk");
    int64_t steps[16];
    int n = topk_steps(steps, 16, v);
    ck_assert_msg(n == 2 && has_step(steps, n, 6) && has_step(steps, n, 8), "kept-best after the change: %s", v);
    /* best.safetensors: the larger val_ssim_total_mean of steps 6 and 8 */
    char *lines[8], x[400];
    int nv = val_lines(lines, 8, strcpy(x, run));
    ck_assert_int_eq(nv, 4);
    double s6 = json_num(lines[2], "val_ssim_total_mean"), s8 = json_num(lines[3], "val_ssim_total_mean");
    ck_assert_msg(isnan(json_num(lines[2], "val_fid_total_mean")) && isfinite(json_num(lines[0], "val_fid_total_mean")),
                  "FID at steps 2, 4 only: %s", lines[2]);
    for (int i = 0; i < nv; i++) free(lines[i]);
    ck_assert_msg(s6 != s8, "%g %g", s6, s8);
    snprintf(p, sizeof p, "%s/best.safetensors", ck);
    ck_assert_int_eq((int)ckpt_step(p), s8 > s6 ? 8 : 6);
    file_meta(v, sizeof v, p, "monitor");
    ck_assert_str_eq(v, "val_ssim_total_mean");
    printf("train_monitor: after the change best is step %d (val_ssim_total_mean %.6f, %.6f)\n", s8 > s6 ? 8 : 6, s6, s8);
    /* the earlier best files stay, with their key */
    for (int s = 2; s <= 4; s += 2) {
        snprintf(p, sizeof p, "%s/epoch=0-step=%d.safetensors", ck, s);
        ck_assert_int_eq((int)ckpt_step(p), s);
        file_meta(v, sizeof v, p, "monitor");
        ck_assert_str_eq(v, "val_ssim_fid100_f1_total_mean");
    }

    /* the same key again: no warning, the ranking goes on (steps 6, 8 stay in it) */
    rc = lm_test_run(g_out, sizeof g_out, "train --resume %s trainer.kwargs.max_steps=10 --threads 1 --no-tb", run);
    ck_assert_msg(rc == 0 && !strstr(g_out, "warning: the resumed checkpoint ranked"), "%s", g_out);
    snprintf(p, sizeof p, "%s/last.safetensors", ck);
    file_meta(v, sizeof v, p, "topk");
    n = topk_steps(steps, 16, v);
    ck_assert_msg(n == 3 && has_step(steps, n, 6) && has_step(steps, n, 8) && has_step(steps, n, 10), "%s", v);

    /* the reverse: the weights back, the integral is the monitor again */
    setenv("TORCH_HOME", th, 1);
    rc = lm_test_run(g_out, sizeof g_out, "train --resume %s trainer.kwargs.max_steps=12 --threads 1 --no-tb", run);
    unsetenv("TORCH_HOME");
    ck_assert_msg(rc == 0 && strstr(g_out, "warning: the resumed checkpoint ranked its best checkpoints by "
                                          "val_ssim_total_mean, this run's monitor is val_ssim_fid100_f1_total_mean"),
                  "%s", g_out);
    file_meta(v, sizeof v, p, "topk");
    n = topk_steps(steps, 16, v);
    ck_assert_msg(n == 1 && steps[0] == 12, "%s", v);
    snprintf(p, sizeof p, "%s/best.safetensors", ck);
    ck_assert_int_eq((int)ckpt_step(p), 12);
    file_meta(v, sizeof v, p, "monitor");
    ck_assert_str_eq(v, "val_ssim_fid100_f1_total_mean");

    /* the configured key changed on resume (weights there, no fallback): the warning says so
     * instead of blaming FID / LPIPS weights */
    setenv("TORCH_HOME", th, 1);
    rc = lm_test_run(g_out, sizeof g_out, "train --resume %s trainer.kwargs.max_steps=14 "
                     "trainer.checkpoint_kwargs.monitor=val_ssim_total_mean --threads 1 --no-tb", run);
    unsetenv("TORCH_HOME");
    ck_assert_msg(rc == 0, "%s", g_out);
    w = strstr(g_out, "warning: the resumed checkpoint ranked its best checkpoints by val_ssim_fid100_f1_total_mean, "
                      "this run's monitor is val_ssim_total_mean (trainer.checkpoint_kwargs.monitor changed)");
    ck_assert_msg(w && !strstr(g_out, "FID / LPIPS weights"), "the reason: %s", g_out);
    snprintf(p, sizeof p, "%s/last.safetensors", ck);
    file_meta(v, sizeof v, p, "monitor");
    ck_assert_str_eq(v, "val_ssim_total_mean");
    lm_test_rmtree(tmp);
}
END_TEST

/* Runs `lamac ARGS` with RLIMIT_FSIZE = limit bytes and SIGXFSZ ignored (write() then fails
 * with EFBIG, as on a full disk); output into g_out; returns the exit status. */
static int run_limited(long limit, const char *args) {
    char log[] = "/tmp/lamac_fsize_log_XXXXXX";
    int fd = mkstemp(log);
    ck_assert_int_ge(fd, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(99);
        char cmd[4608];
        snprintf(cmd, sizeof cmd, "exec '%s' %s", lm_test_lamac_bin(), args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(98);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    close(fd);
    char *s = lm_test_slurp(log);
    snprintf(g_out, sizeof g_out, "%s", s ? s : "");
    free(s);
    unlink(log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_disk_full_keeps_checkpoint) {
    char tmp[256], last[512], ck[320];
    lm_test_tmpdir(tmp, sizeof tmp, "train_fsize");
    make_data(tmp);
    int rc = lm_test_run(g_out, sizeof g_out,
                         "train configs/training/demo.yaml location.data_root_dir=%s/data " TINY
                         " evaluator.lpips=false evaluator.fid=false trainer.kwargs.max_steps=2 "
                         "trainer.kwargs.val_check_interval=2 --no-tb --run-dir %s/a", tmp, tmp);
    ck_assert_msg(rc == 0, "%s", g_out);
    snprintf(ck, sizeof ck, "%s/a/checkpoints", tmp);
    snprintf(last, sizeof last, "%s/last.safetensors", ck);
    ck_assert_int_eq((int)ckpt_step(last), 2);
    struct stat st;
    ck_assert_int_eq(stat(last, &st), 0);
    char mp[400];
    snprintf(mp, sizeof mp, "%s/a/metrics.jsonl", tmp);
    struct stat ms;
    ck_assert_int_eq(stat(mp, &ms), 0);
    /* a limit above everything else the run writes (metrics.jsonl grows by a few KB) and below
     * the checkpoint's size */
    long limit = (long)ms.st_size + 64 * 1024;
    ck_assert_msg(limit < st.st_size / 2, "checkpoint %lld bytes, metrics %lld", (long long)st.st_size,
                  (long long)ms.st_size);
    char args[1024];
    snprintf(args, sizeof args, "train --resume %s/a trainer.kwargs.max_steps=4 --threads 1 --no-tb", tmp);
    rc = run_limited(limit, args);
    printf("train_fsize: checkpoint %lld bytes, RLIMIT_FSIZE %ld: exit %d\n", (long long)st.st_size, limit, rc);
    ck_assert_msg(rc != 0 && rc < 128, "exit %d: %s", rc, g_out);
    ck_assert_msg(strstr(g_out, ck) && strstr(g_out, "File too large"), "the path and the errno text: %s", g_out);
    { /* the error line names the failed file once (it said "weights PATH: safetensors: PATH: ...") */
        const char *e = strstr(g_out, "File too large"), *l = e;
        while (l > g_out && l[-1] != '\n') l--;
        int n = 0;
        for (const char *p = l; (p = strstr(p, ck)) && p < e; p += strlen(ck)) n++;
        ck_assert_msg(n == 1, "the path %d times in the error line: %.*s", n, (int)(e - l) + 14, l);
    }
    ck_assert_msg(strstr(g_out, "previous checkpoint"), "%s", g_out);
    /* the previous checkpoint is intact, no temp file is left */
    ck_assert_int_eq((int)ckpt_step(last), 2);
    DIR *d = opendir(ck);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        ck_assert_msg(!strstr(e->d_name, ".tmp"), "temp file left: %s/%s", ck, e->d_name);
    closedir(d);
    /* without the limit, --resume continues from it */
    rc = lm_test_run(g_out, sizeof g_out, "train --resume %s/a trainer.kwargs.max_steps=4 --threads 1 --no-tb", tmp);
    ck_assert_msg(rc == 0 && strstr(g_out, "step 2, epoch"), "%s", g_out);
    ck_assert_int_eq((int)ckpt_step(last), 4);
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_train_val_suite(void) {
    Suite *s = suite_create("train_val");
    TCase *tc = tcase_create("train_val");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_val_lpips_fid_and_monitor);
    tcase_add_test(tc, test_disk_full_keeps_checkpoint);
    tcase_add_test(tc, test_resume_monitor_change);
    suite_add_tcase(s, tc);
    return s;
}
