/* check_prefetch.c — train/prefetch (the device prefetcher) and the loop's use of it:
 * - the prefetcher over a fake source on the CPU: step k gets batch k, read once, in a copy of
 *   its own (the source's buffer is recycled by the read ahead); a read-ahead failure (a read
 *   error, a bad value) is returned by the call that needs that batch, not earlier; a source
 *   that gave up waiting is asked again; off reads nothing ahead;
 * - `lamac train` with data.train.device_prefetch on and off: bit-identical metrics.jsonl,
 *   checkpoint tensors and --dump-batches files, across a limit_train_batches cut (the loader
 *   reopened), a full epoch's end, validation points and sample grids, and on a batch stream;
 * - a failing batch read (the loader's test hook LAMAC_TEST_LOADER_FAIL) is reported with the
 *   loader's message and the step, after the previous step's validation and checkpoint, with
 *   exit status 1, under `timeout` (a hang would be status 124);
 * - a stalled read (LAMAC_TEST_LOADER_STALL: the worker never delivers the batch, as a hung
 *   file system would not) and SIGTERM: the run stops cleanly (status 128 + 15, checkpoint
 *   written) instead of waiting for ever, whether the wait was the read ahead or the first batch;
 * - a batch stream with a NaN image: the host check (lm_batch_check) names step and sample. */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "model/weights.h"
#include "testutil.h"
#include "train/batchstream.h"
#include "train/ckptfiles.h"
#include "train/prefetch.h"

/* ---- the prefetcher over a fake source -------------------------------------------------------- */

enum { FN = 2, FH = 4, FW = 4 };

typedef struct fake {
    lm_batch b;                 /* one buffer, overwritten by every read (as the loader's ring) */
    float img[FN * 3 * FH * FW], mask[FN * FH * FW];
    int64_t ids[FN];
    int64_t calls[64];          /* steps read, in order */
    int n_calls;
    int64_t fail_step, nan_step, giveup_step; /* -1: none */
    int giveups_left;
} fake;

static int fake_read(const lm_batch **out, void *ctx, const lm_batch_pos *pos) {
    fake *f = ctx;
    if (pos->step == f->giveup_step && f->giveups_left > 0) {
        f->giveups_left--;
        return 1;
    }
    f->calls[f->n_calls++] = pos->step;
    if (pos->step == f->fail_step) return lm_err_code(LM_EIO, "fake: shard.h5: read of step %lld failed", (long long)pos->step);
    for (int i = 0; i < FN * 3 * FH * FW; i++) f->img[i] = (float)pos->step + (float)i / 1000.f;
    for (int i = 0; i < FN * FH * FW; i++) f->mask[i] = (float)((i + pos->step) % 2);
    if (pos->step == f->nan_step) f->img[FN * 3 * FH * FW - 1] = NAN;
    for (int i = 0; i < FN; i++) f->ids[i] = 10 * pos->step + i;
    f->b = (lm_batch){FN, FH, FW, f->img, f->mask, f->ids, pos->epoch, pos->batch};
    *out = &f->b;
    return 0;
}

static void fake_init(fake *f) {
    memset(f, 0, sizeof *f);
    f->fail_step = f->nan_step = f->giveup_step = -1;
}

/* b holds the fake's batch of step k, in the prefetcher's own memory */
static void expect_batch(const lm_prefetched *b, const fake *f, int64_t k) {
    ck_assert_ptr_nonnull(b->host);
    ck_assert_ptr_ne(b->host->img, f->img);
    ck_assert_int_eq(b->host->batch, k);
    ck_assert_int_eq(b->host->image_ids[1], 10 * k + 1);
    float v[FN * 3 * FH * FW];
    ck_assert_int_eq(lt_to_buffer(b->img, v, sizeof v), 0);
    for (int i = 0; i < FN * 3 * FH * FW; i++) ck_assert_float_eq(v[i], (float)k + (float)i / 1000.f);
    ck_assert_float_eq(b->host->img[5], (float)k + 5.f / 1000.f);
    float m[FN * FH * FW];
    ck_assert_int_eq(lt_to_buffer(b->mask, m, sizeof m), 0);
    for (int i = 0; i < FN * FH * FW; i++) ck_assert_float_eq(m[i], (float)((i + k) % 2));
}

static lm_batch_pos at(int64_t k) { return (lm_batch_pos){k, 0, k}; }

START_TEST(test_prefetch_order_and_errors) {
    long live0 = lt_live_count();
    fake f;
    fake_init(&f);
    f.fail_step = 3;
    f.nan_step = 5;
    lm_prefetch *p = NULL;
    ck_assert_int_eq(lm_prefetch_create(&p, LT_CPU, 1, fake_read, &f), 0);
    lm_prefetched b;
    lm_batch_pos pos, next;
    for (int64_t k = 0; k < 3; k++) { /* k reads k+1 ahead; the source's buffer then holds k+1 */
        pos = at(k), next = at(k + 1);
        ck_assert_msg(lm_prefetch_get(&b, p, &pos, &next) == 0, "%s", lm_err_msg());
        ck_assert_int_eq(f.n_calls, (int)k + 2);
        ck_assert_int_eq(f.calls[k], k);
        ck_assert_int_eq(f.calls[k + 1], k + 1);
        expect_batch(&b, &f, k);
    }
    /* step 3's read failed while step 2 was prepared: reported now, naming both steps */
    pos = at(3), next = at(4);
    ck_assert_int_eq(lm_prefetch_get(&b, p, &pos, &next), LM_EIO);
    ck_assert_msg(strstr(lm_err_msg(), "read ahead during step 2") && strstr(lm_err_msg(), "shard.h5: read of step 3"),
                  "%s", lm_err_msg());
    ck_assert_ptr_null(b.host);
    /* a bad value (NaN image) is a kept error too, from the host check */
    pos = at(4), next = at(5);
    ck_assert_msg(lm_prefetch_get(&b, p, &pos, &next) == 0, "%s", lm_err_msg());
    expect_batch(&b, &f, 4);
    pos = at(5), next = at(6);
    ck_assert_int_eq(lm_prefetch_get(&b, p, &pos, &next), LM_EINVAL);
    ck_assert_msg(strstr(lm_err_msg(), "batch (epoch 0, batch 5): sample 1 (image 51): image value nan"), "%s",
                  lm_err_msg());
    /* a source that gave up on the batch read ahead is asked again when the batch is needed */
    f.giveup_step = 7, f.giveups_left = 1;
    pos = at(6), next = at(7);
    ck_assert_int_eq(lm_prefetch_get(&b, p, &pos, &next), 0);
    int calls = f.n_calls;
    pos = at(7);
    ck_assert_int_eq(lm_prefetch_get(&b, p, &pos, NULL), 0); /* no next: nothing read ahead */
    ck_assert_int_eq(f.n_calls, calls + 1);
    expect_batch(&b, &f, 7);
    /* ... and a give-up on the batch asked for is returned as 1, nothing filled */
    f.giveup_step = 8, f.giveups_left = 1;
    pos = at(8);
    ck_assert_int_eq(lm_prefetch_get(&b, p, &pos, NULL), 1);
    ck_assert_ptr_null(b.img);
    ck_assert_int_eq(lm_prefetch_get(&b, p, &pos, NULL), 0);
    expect_batch(&b, &f, 8);
    lm_prefetch_free(p);
    ck_assert_int_eq(lt_live_count(), live0);

    /* off: each batch read when it is asked for, never ahead */
    fake_init(&f);
    ck_assert_int_eq(lm_prefetch_create(&p, LT_CPU, 0, fake_read, &f), 0);
    for (int64_t k = 0; k < 3; k++) {
        pos = at(k), next = at(k + 1);
        ck_assert_int_eq(lm_prefetch_get(&b, p, &pos, &next), 0);
        ck_assert_int_eq(f.n_calls, (int)k + 1);
        expect_batch(&b, &f, k);
    }
    lm_prefetch_free(p);
    lm_prefetch_free(NULL);
    ck_assert_int_eq(lt_live_count(), live0);
}
END_TEST

/* ---- `lamac train` with the prefetcher on and off --------------------------------------------- */

#define TINY LM_TEST_TINY_TRAIN "trainer.kwargs.limit_val_batches=1 training_model.visualize_each_iters=4 --threads 1"
#define CHILD_TIMEOUT_S 300 /* generous: only a hang comes near it */

static char g_out[1 << 16];

static void make_data(const char *tmp) {
    int rc = lm_test_run(g_out, sizeof g_out, "synth %s/data --train 40 --val 4 --test 4 --train-size 64 --size 64", tmp);
    ck_assert_msg(rc == 0, "synth: %s", g_out);
}

/* `lamac train` on the tiny config under `timeout`, with env (may be "") in front */
static int train(const char *env, const char *tmp, const char *extra) {
    return lm_test_sh(g_out, sizeof g_out,
                      "%s timeout %d '%s' train configs/training/demo.yaml location.data_root_dir=%s/data " TINY " %s", env,
                      CHILD_TIMEOUT_S, lm_test_lamac_bin(), tmp, extra);
}

static void expect_same_file(const char *a, const char *b) {
    char *x = lm_test_read_file(a), *y = lm_test_read_file(b);
    ck_assert_msg(!strcmp(x, y), "%s and %s differ", a, b);
    free(x), free(y);
}

static void expect_same_binary(const char *a, const char *b) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cmp '%s' '%s'", a, b);
    ck_assert_msg(lm_test_sh(g_out, sizeof g_out, "%s", cmd) == 0, "%s", g_out);
}

/* every tensor of two checkpoints equal, byte for byte (their metadata hold the configs, which differ) */
static void expect_same_tensors(const char *a, const char *b) {
    lm_weights_src *x = NULL, *y = NULL;
    ck_assert_msg(lm_weights_open(&x, a) == 0, "%s", lm_err_msg());
    ck_assert_msg(lm_weights_open(&y, b) == 0, "%s", lm_err_msg());
    ck_assert_int_eq(lm_weights_count(x), lm_weights_count(y));
    ck_assert_int_gt(lm_weights_count(x), 10);
    for (int i = 0; i < lm_weights_count(x); i++) {
        const lm_safetensors_entry *e = lm_weights_get(x, i), *f = lm_weights_find(y, e->name);
        ck_assert_msg(f != NULL, "%s missing from %s", e->name, b);
        ck_assert_int_eq((int)f->nbytes, (int)e->nbytes);
        ck_assert_msg(!memcmp(f->data, e->data, e->nbytes), "%s differs between %s and %s", e->name, a, b);
    }
    lm_weights_close(x), lm_weights_close(y);
}

static int64_t ckpt_step(const char *run_dir) {
    char p[600];
    int64_t step = -1;
    snprintf(p, sizeof p, "%s/checkpoints/last.safetensors", run_dir);
    ck_assert_msg(lm_ckpt_validate(p, "lamac-ckpt-", &step) == 0, "%s: %s", p, lm_err_msg());
    return step;
}

static int count_lines(const char *path, const char *needle) {
    char *s = lm_test_slurp(path);
    int n = 0;
    for (char *l = s; l && *l;) {
        char *e = strchr(l, '\n');
        if (e) *e = 0;
        n += strstr(l, needle) != NULL;
        if (!e) break;
        l = e + 1;
    }
    free(s);
    return n;
}

/* runs `extra` with prefetching on and off (run dirs tmp/<tag>_on, _off, batch dumps beside)
 * and expects the same metrics, checkpoint tensors and dumped batches */
static void on_off_same(const char *tmp, const char *tag, const char *extra) {
    char a[512], b[512], x[2048];
    const char *mode[2] = {"true", "false"};
    for (int i = 0; i < 2; i++) {
        snprintf(x, sizeof x, "%s data.train.device_prefetch=%s --run-dir %s/%s_%s --dump-batches %s/%s_%s.st", extra,
                 mode[i], tmp, tag, mode[i], tmp, tag, mode[i]);
        ck_assert_msg(train("", tmp, x) == 0, "%s", g_out);
    }
    snprintf(a, sizeof a, "%s/%s_true/metrics.jsonl", tmp, tag), snprintf(b, sizeof b, "%s/%s_false/metrics.jsonl", tmp, tag);
    ck_assert_int_gt(count_lines(a, "\"gen_l1\""), 3);
    expect_same_file(a, b);
    snprintf(a, sizeof a, "%s/%s_true/checkpoints/last.safetensors", tmp, tag);
    snprintf(b, sizeof b, "%s/%s_false/checkpoints/last.safetensors", tmp, tag);
    expect_same_tensors(a, b);
    snprintf(a, sizeof a, "%s/%s_true.st", tmp, tag), snprintf(b, sizeof b, "%s/%s_false.st", tmp, tag);
    expect_same_binary(a, b);
}

START_TEST(test_on_off_identical) {
    char tmp[256], x[1024];
    lm_test_tmpdir(tmp, sizeof tmp, "prefetch_same");
    make_data(tmp);
    /* epochs of 3 batches (the loader reopened at each cut), validation every 2 batches and at
     * each epoch's end, sample grids every 4 steps */
    on_off_same(tmp, "cut", "trainer.kwargs.limit_train_batches=3 trainer.kwargs.max_epochs=0 "
                            "trainer.kwargs.max_steps=8 trainer.kwargs.val_check_interval=2");
    /* a whole epoch (20 batches) and into the next, without a cut; stopped by max_epochs */
    on_off_same(tmp, "full", "trainer.kwargs.max_epochs=2 trainer.kwargs.limit_train_batches=11 "
                             "trainer.kwargs.val_check_interval=7");
    on_off_same(tmp, "epoch", "trainer.kwargs.max_steps=23 trainer.kwargs.val_check_interval=1000");
    /* the batch stream written above, trained on with prefetching on and off */
    snprintf(x, sizeof x, "data.train.stream=%s/cut_true.st trainer.kwargs.max_steps=8 trainer.kwargs.val_check_interval=3",
             tmp);
    on_off_same(tmp, "stream", x);
    /* a resume from a checkpoint taken mid-epoch continues with the batches of the uninterrupted run */
    snprintf(x, sizeof x, "trainer.kwargs.max_steps=5 trainer.kwargs.val_check_interval=1000 --run-dir %s/res", tmp);
    ck_assert_msg(train("", tmp, x) == 0, "%s", g_out);
    ck_assert_int_eq(lm_test_run(g_out, sizeof g_out, "train --resume %s/res trainer.kwargs.max_steps=23 --threads 1", tmp),
                     0);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/res/metrics.jsonl", tmp), snprintf(b, sizeof b, "%s/epoch_false/metrics.jsonl", tmp);
    expect_same_file(a, b);
    lm_test_rmtree(tmp);
}
END_TEST

/* position 7 of epoch 0 is sample 1 of batch 3 (batch 2, one rank): steps 0-2 run, step 3's
 * batch fails; validation and checkpoint after step 2 (val_check_interval 3) come first */
START_TEST(test_failed_read_reported) {
    char tmp[256], x[1024], m[600], run[512];
    lm_test_tmpdir(tmp, sizeof tmp, "prefetch_fail");
    make_data(tmp);
    const char *mode[2] = {"true", "false"};
    for (int i = 0; i < 2; i++) {
        snprintf(run, sizeof run, "%s/%s", tmp, mode[i]);
        snprintf(x, sizeof x, "trainer.kwargs.max_steps=8 trainer.kwargs.val_check_interval=3 data.train.device_prefetch=%s "
                 "--run-dir %s", mode[i], run);
        int rc = train("LAMAC_TEST_LOADER_FAIL=0:7", tmp, x);
        ck_assert_msg(rc != 124, "prefetch %s: the run hung (killed by timeout after %d s): %s", mode[i], CHILD_TIMEOUT_S,
                      g_out);
        ck_assert_msg(rc == 1, "prefetch %s: status %d: %s", mode[i], rc, g_out);
        ck_assert_msg(strstr(g_out, "step 3 (epoch 0, batch 3): ") && strstr(g_out, "data.train.indir") &&
                          strstr(g_out, "loader: epoch 0 position 7 (image ") && strstr(g_out, "LAMAC_TEST_LOADER_FAIL"),
                      "prefetch %s: %s", mode[i], g_out);
        ck_assert_msg(!strcmp(mode[i], "false") || strstr(g_out, "read ahead during step 2"), "%s", g_out);
        snprintf(m, sizeof m, "%s/metrics.jsonl", run);
        ck_assert_int_eq(count_lines(m, "\"kind\":\"train\""), 3);
        ck_assert_int_eq(count_lines(m, "\"kind\":\"val\""), 1);
        ck_assert_int_eq((int)ckpt_step(run), 3);
    }
    lm_test_rmtree(tmp);
}
END_TEST

/* Starts `sh -c cmd` and waits (bounded) until its log holds `marker` and its metrics.jsonl at
 * least `lines` lines; returns the pid (on failure the child is killed and the test fails). */
static pid_t start_and_wait(const char *cmd, const char *log, const char *metrics, const char *marker, int lines) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    const double t0 = lm_clock_now();
    int st = 0;
    for (;;) {
        char *l = lm_test_slurp(log);
        int have = l && strstr(l, marker);
        free(l);
        if (have && (lines == 0 || count_lines(metrics, "\"kind\":\"train\"") >= lines)) break;
        if (waitpid(pid, &st, WNOHANG) == pid) ck_abort_msg("the training exited (status 0x%x) before the stall: %s", st, cmd);
        if (lm_clock_now() - t0 > CHILD_TIMEOUT_S) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            ck_abort_msg("no stall after %d s: %s", CHILD_TIMEOUT_S, cmd);
        }
        usleep(5000);
    }
    return pid;
}

/* The child's exit status after SIGTERM, waiting at most CHILD_TIMEOUT_S (then it is killed:
 * -1, it hung). */
static int term_and_wait(pid_t pid) {
    usleep(300000); /* let the loop reach its wait for the stalled batch (any point is a clean stop) */
    kill(pid, SIGTERM);
    const double t0 = lm_clock_now();
    int st = 0;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (lm_clock_now() - t0 > CHILD_TIMEOUT_S) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(5000);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

START_TEST(test_stalled_read_sigterm) {
    char tmp[256], cmd[2048], run[512], log[600], m[600];
    lm_test_tmpdir(tmp, sizeof tmp, "prefetch_stall");
    make_data(tmp);
    /* stall at position 7 (batch 3) with prefetching on and off, and at position 0 (the first
     * batch: a wait before any step) */
    const char *mode[3] = {"true", "false", "true"};
    const char *stall[3] = {"0:7", "0:7", "0:0"};
    for (int i = 0; i < 3; i++) {
        snprintf(run, sizeof run, "%s/r%d", tmp, i);
        snprintf(log, sizeof log, "%s/r%d.log", tmp, i);
        snprintf(m, sizeof m, "%s/metrics.jsonl", run);
        snprintf(cmd, sizeof cmd, "LAMAC_TEST_LOADER_STALL=%s exec '%s' train configs/training/demo.yaml "
                 "location.data_root_dir=%s/data " TINY " trainer.kwargs.max_steps=100 trainer.kwargs.val_check_interval=1000 "
                 "data.train.device_prefetch=%s --run-dir %s > %s 2>&1", stall[i], lm_test_lamac_bin(), tmp, mode[i], run, log);
        pid_t pid = start_and_wait(cmd, log, m, "loader: stalled at epoch 0 position", i < 2 ? 2 : 0);
        int st = term_and_wait(pid);
        char *out = lm_test_slurp(log);
        ck_assert_msg(st != -1, "%s: still waiting %d s after SIGTERM (killed): %s", stall[i], CHILD_TIMEOUT_S, out);
        ck_assert_msg(st == 128 + SIGTERM, "status %d: %s", st, out);
        ck_assert_msg(strstr(out, "interrupted by signal 15"), "%s", out);
        free(out);
        int64_t s = ckpt_step(run);
        if (i < 2) ck_assert_msg(s == 2 || s == 3, "checkpoint at step %lld", (long long)s); /* batch 3 never came */
        else ck_assert_int_eq((int)s, 0);
        printf("prefetch: stall %s, prefetch %s: SIGTERM, stopped with a checkpoint at step %lld\n", stall[i], mode[i],
               (long long)s);
    }
    lm_test_rmtree(tmp);
}
END_TEST

/* A batch stream whose batch 2 has a NaN pixel: step 2 fails with the host check's message. */
START_TEST(test_stream_bad_value) {
    char tmp[256], path[512], x[2048], run[512], m[600];
    lm_test_tmpdir(tmp, sizeof tmp, "prefetch_nan");
    make_data(tmp); /* the validation pairs (the stream replaces the training shards) */
    snprintf(path, sizeof path, "%s/s.st", tmp);
    enum { N = 2, S = 32 };
    static float img[N * 3 * S * S], mask[N * S * S];
    int64_t ids[N] = {0, 1};
    lm_bstream_writer *w = NULL;
    ck_assert_int_eq(lm_bstream_writer_open(&w, path), 0);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < N * 3 * S * S; i++) img[i] = (float)((i * 7 + k) % 251) / 250.f;
        for (int i = 0; i < N * S * S; i++) mask[i] = (i / S) % S >= 8 && (i / S) % S < 20 && i % S >= 4 && i % S < 24;
        if (k == 2) img[3 * S * S + 2 * S * S + 5 * S + 9] = NAN; /* sample 1, channel 2, y 5, x 9 */
        lm_batch b = {N, S, S, img, mask, ids, 0, k};
        ck_assert_int_eq(lm_bstream_writer_add(w, &b), 0);
    }
    ck_assert_int_eq(lm_bstream_writer_close(w), 0);
    const char *mode[2] = {"true", "false"};
    for (int i = 0; i < 2; i++) {
        snprintf(run, sizeof run, "%s/%s", tmp, mode[i]);
        snprintf(x, sizeof x, "data.train.stream=%s trainer.kwargs.max_steps=4 data.train.device_prefetch=%s --run-dir %s",
                 path, mode[i], run);
        int rc = train("", tmp, x);
        ck_assert_msg(rc == 1, "status %d: %s", rc, g_out);
        ck_assert_msg(strstr(g_out, "step 2 (epoch 0, batch 2): ") &&
                          strstr(g_out, "sample 1: image value nan at (channel 2, y 5, x 9) is not finite"),
                      "%s", g_out);
        snprintf(m, sizeof m, "%s/metrics.jsonl", run);
        ck_assert_int_eq(count_lines(m, "\"kind\":\"train\""), 2);
    }
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_prefetch_suite(void) {
    Suite *s = suite_create("prefetch");
    TCase *tc = tcase_create("prefetch");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_prefetch_order_and_errors);
    tcase_add_test(tc, test_on_off_identical);
    tcase_add_test(tc, test_failed_read_reported);
    tcase_add_test(tc, test_stalled_read_sigterm);
    tcase_add_test(tc, test_stream_bad_value);
    suite_add_tcase(s, tc);
    return s;
}
