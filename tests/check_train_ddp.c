/* check_train_ddp.c — `lamac train --nproc-per-node 2` on the tiny config of check_train.c
 * (FFC ngf 8, 1 block, 32 px crops, batch 2 per rank, 1 thread per rank), loopback, free port:
 * exit 0, one run directory written by rank 0 alone, every rank's final generator parameters
 * equal (a hash each rank prints under LAMAC_TEST_PARAM_HASH) and equal to the checkpoint's;
 * rank 1 killed mid-run (LAMAC_TEST_DIE_RANK/STEP) -> the launcher fails naming rank 1, and
 * `--resume RUN --nproc-per-node 2` continues from the last checkpoint to max_steps, with the
 * same metrics.jsonl as an uninterrupted 2-rank run. Mutation check: without the step hooks
 * (no gradient averaging) the ranks end with different weights, which also shows that they
 * read different slices of the data (same initial weights, same data would agree). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "io/safetensors.h"
#include "testutil.h"

#define TINY                                                                                  \
    LM_TEST_TINY_TRAIN "trainer.kwargs.limit_val_batches=1 training_model.visualize_each_iters=4 " \
                       "--threads 1 --nproc-per-node 2 --master 127.0.0.1:0"

static char g_out[1 << 16];

static int ends_with(const char *s, const char *t) {
    size_t a = strlen(s), b = strlen(t);
    return a >= b && !strcmp(s + a - b, t);
}

/* The hash cmd_train.c prints (params_hash), from a checkpoint's generator.* parameters. */
static uint64_t ckpt_hash(const char *path) {
    lm_safetensors_file *f = NULL;
    ck_assert_msg(lm_safetensors_open(&f, path) == 0, "%s: %s", path, lm_err_msg());
    uint64_t total = 0;
    int n = 0;
    for (int i = 0; i < lm_safetensors_count(f); i++) {
        const lm_safetensors_entry *e = lm_safetensors_get(f, i);
        if (strncmp(e->name, "generator.", 10) || ends_with(e->name, "running_mean") ||
            ends_with(e->name, "running_var") || ends_with(e->name, "num_batches_tracked"))
            continue;
        uint64_t h = 1469598103934665603ull;
        for (const char *k = e->name + 10; *k; k++) h = (h ^ (uint8_t)*k) * 1099511628211ull;
        for (size_t j = 0; j < e->nbytes; j++) h = (h ^ ((const uint8_t *)e->data)[j]) * 1099511628211ull;
        total += h;
        n++;
    }
    ck_assert_int_gt(n, 10);
    lm_safetensors_close(f);
    return total;
}

/* The hashes of ranks 0 and 1 in the output; both must be there and equal. */
static uint64_t rank_hashes(const char *out) {
    unsigned long long h[2] = {0, 0};
    int seen[2] = {0, 0};
    for (const char *p = out; (p = strstr(p, "param-hash rank ")); p++) {
        int r;
        unsigned long long v;
        if (sscanf(p, "param-hash rank %d: %llx", &r, &v) == 2 && r >= 0 && r < 2) h[r] = v, seen[r] = 1;
    }
    ck_assert_msg(seen[0] && seen[1], "no hash from every rank:\n%s", out);
    ck_assert_msg(h[0] == h[1], "ranks hold different generator parameters: %016llx vs %016llx", h[0], h[1]);
    return h[0];
}

static int count_files(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -1 '%s' 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

START_TEST(test_train_ddp_kill_resume) {
    char tmp[256], a[300], b[300], path[400];
    lm_test_tmpdir(tmp, sizeof tmp, "train_ddp");
    int rc = lm_test_run(g_out, sizeof g_out, "synth %s/data --train 40 --val 4 --test 4 --train-size 64 --size 64", tmp);
    ck_assert_msg(rc == 0, "synth: %s", g_out);
    snprintf(a, sizeof a, "%s/a", tmp), snprintf(b, sizeof b, "%s/b", tmp);
    setenv("LAMAC_TEST_PARAM_HASH", "1", 1);

    /* uninterrupted: 8 steps, checkpoints at steps 2, 4, 6, 8 */
    rc = lm_test_run(g_out, sizeof g_out, "train configs/training/demo.yaml location.data_root_dir=%s/data " TINY
                     " trainer.kwargs.max_steps=8 trainer.kwargs.val_check_interval=2 --run-dir %s", tmp, a);
    ck_assert_msg(rc == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "launch: 2 worker(s)"), "%s", g_out);
    uint64_t ha = rank_hashes(g_out);
    snprintf(path, sizeof path, "%s/checkpoints/last.safetensors", a);
    ck_assert_msg(ckpt_hash(path) == ha, "checkpoint's generator differs from the ranks' (%016" PRIx64 ")", ha);
    /* rank 0 alone writes and logs: one run directory, one progress line and metrics line per step */
    ck_assert_int_eq(count_files(tmp), 2); /* data, a */
    const char *p = g_out;
    int checkpoints = 0;
    while ((p = strstr(p, "checkpoint /"))) checkpoints++, p++;
    ck_assert_int_eq(checkpoints, 1);
    snprintf(path, sizeof path, "%s/metrics.jsonl", a);
    char *m = lm_test_slurp(path);
    ck_assert_ptr_nonnull(m);
    int train_lines = 0;
    for (p = m; (p = strstr(p, "\"kind\":\"train\"")); p++) train_lines++;
    ck_assert_int_eq(train_lines, 8);
    ck_assert_msg(strstr(m, "\"step\":8,\"epoch\":0,\"kind\":\"val\""), "%s", m);

    /* rank 1 dies after step 5 (SIGKILL): the launcher fails naming it; the last checkpoint is step 4 */
    setenv("LAMAC_TEST_DIE_RANK", "1", 1);
    setenv("LAMAC_TEST_DIE_STEP", "5", 1);
    rc = lm_test_run(g_out, sizeof g_out, "train configs/training/demo.yaml location.data_root_dir=%s/data " TINY
                     " trainer.kwargs.max_steps=8 trainer.kwargs.val_check_interval=2 --run-dir %s", tmp, b);
    unsetenv("LAMAC_TEST_DIE_RANK");
    unsetenv("LAMAC_TEST_DIE_STEP");
    ck_assert_msg(rc == 128 + 9, "exit %d:\n%s", rc, g_out); /* the launcher: 128 + the worker's signal */
    ck_assert_msg(strstr(g_out, "rank 1 (local 1") && strstr(g_out, "signal 9"), "%s", g_out);
    ck_assert_msg(!strstr(g_out, "param-hash"), "a rank finished: %s", g_out);

    /* resume with 2 ranks: from step 4 to 8, identical to the uninterrupted run */
    rc = lm_test_run(g_out, sizeof g_out, "train --resume %s --threads 1 --nproc-per-node 2 --master 127.0.0.1:0", b);
    ck_assert_msg(rc == 0, "%s", g_out);
    ck_assert_msg(strstr(g_out, "resuming from") && strstr(g_out, "step 4, epoch 0, batch 4"), "%s", g_out);
    uint64_t hb = rank_hashes(g_out);
    snprintf(path, sizeof path, "%s/checkpoints/last.safetensors", b);
    ck_assert_msg(ckpt_hash(path) == hb, "resumed checkpoint's generator differs from the ranks'");
    snprintf(path, sizeof path, "%s/metrics.jsonl", b);
    char *mb = lm_test_slurp(path);
    ck_assert_ptr_nonnull(mb);
    ck_assert_msg(!strcmp(m, mb), "resumed metrics differ from the uninterrupted run:\n%s\n---\n%s", m, mb);
    ck_assert_msg(ha == hb, "resumed final weights differ from the uninterrupted run");
    printf("train_ddp: 2 ranks, 8 steps; rank 1 killed after step 5, resumed from step 4: weights hash %016" PRIx64
           " on both ranks, in the checkpoint and in the uninterrupted run\n", hb);
    free(m), free(mb);
    unsetenv("LAMAC_TEST_PARAM_HASH");
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_train_ddp_suite(void) {
    Suite *s = suite_create("train_ddp");
    TCase *tc = tcase_create("train_ddp");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_train_ddp_kill_resume);
    suite_add_tcase(s, tc);
    return s;
}
