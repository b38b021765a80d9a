/* check_curve.c — training dynamics against the official trainer's (issue 23, docs/curves.md):
 * `lamac train` for 40 steps of the tiny demo model (tests/fixtures/curve/config.yaml: ffc
 * ngf 8, 1 block, discriminator ndf 8, 2 x 32 x 32 batches) from the committed initial weights
 * on the committed batch stream (data.train.stream), every loss term logged per step, against
 * the official trainer run on the same weights and batches (tests/ref/gen_curve_fixtures.py:
 * tests/ref/official_train.py). Past the first steps both runs are chaotic (rounding
 * differences grow through the GAN's feedback), so the check is per window of 10 steps: lamac's
 * window mean of every term must lie within the official code's own spread of that window mean
 * under perturbations (threads 2 and 3, ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=SSE41,
 * one ulp on one weight), with the parity policy's K x envelope + floor (tests/testutil.h
 * lm_test_envelope_tol). lamac runs at --threads 1, as the official fixture run. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "tests/testutil.h"

#define FIX "tests/fixtures/curve"
#define MAX_STEPS 64
#define MAX_TERMS 16

/* The value of "key": in one JSON line (NAN when absent). */
static double json_num(const char *line, const char *key) {
    char pat[96];
    snprintf(pat, sizeof pat, "\"%.64s\":", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* Every train line's term values: v[step - 1][term]; returns the number of steps read. */
static int read_losses(double v[MAX_STEPS][MAX_TERMS], const char *path, char terms[MAX_TERMS][32], int nt) {
    char *text = lm_test_read_file(path);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, "\"kind\":\"train\"")) continue;
        int step = (int)json_num(line, "step");
        ck_assert_msg(step >= 1 && step <= MAX_STEPS, "metrics.jsonl: step %d", step);
        for (int t = 0; t < nt; t++) v[step - 1][t] = json_num(line, terms[t]);
        if (step > n) n = step;
    }
    free(text);
    return n;
}

/* The fixture's float64 vector `name` (n values). */
static void f64_vec(double *out, const lm_safetensors_file *f, const char *name, int n) {
    const lm_safetensors_entry *e = lm_safetensors_find(f, name);
    ck_assert_msg(e && e->dtype == LM_DT_F64 && e->ndim == 1 && e->shape[0] == n, "%s: missing or not F64 (%d)", name, n);
    memcpy(out, e->data, (size_t)n * sizeof(double));
}

/* Runs lamac on the fixture (extra: more overrides) and checks every (term, window) cell;
 * returns the number of cells outside K x envelope + floor (the test asserts 0). */
static int curve_cells_outside(const char *extra, int verbose) {
    lm_safetensors_file *off = NULL;
    ck_assert_int_eq(lm_safetensors_open(&off, FIX "/official.safetensors"), 0);
    int steps = atoi(lm_safetensors_meta(off, "steps")), win = atoi(lm_safetensors_meta(off, "window"));
    ck_assert(steps > 0 && steps <= MAX_STEPS && win > 0 && steps % win == 0);
    char terms[MAX_TERMS][32];
    int nt = 0;
    char list[512];
    snprintf(list, sizeof list, "%s", lm_safetensors_meta(off, "terms"));
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
        ck_assert(nt < MAX_TERMS);
        snprintf(terms[nt++], sizeof terms[0], "%s", t);
    }
    char tmp[256], out[16384];
    lm_test_tmpdir(tmp, sizeof tmp, "curve");
    int rc = lm_test_run(out, sizeof out,
                         "train " FIX "/config.yaml data.train.stream=" FIX "/stream.safetensors init_from=" FIX
                         "/init.safetensors trainer.kwargs.max_steps=%d trainer.kwargs.log_every_n_steps=1 %s "
                         "--run-dir %s/r --threads 1 --no-tb",
                         steps, extra ? extra : "", tmp);
    ck_assert_msg(rc == 0, "lamac train failed (%d):\n%s", rc, out);
    static double lam[MAX_STEPS][MAX_TERMS];
    char mp[300];
    snprintf(mp, sizeof mp, "%s/r/metrics.jsonl", tmp);
    ck_assert_int_eq(read_losses(lam, mp, terms, nt), steps);
    int outside = 0, first_above = 0;
    double worst = 0;
    const char *worst_term = "";
    int worst_win = 0;
    for (int t = 0; t < nt; t++) {
        double o[MAX_STEPS], env[MAX_STEPS];
        char name[64];
        snprintf(name, sizeof name, "loss.%s", terms[t]);
        f64_vec(o, off, name, steps);
        snprintf(name, sizeof name, "envelope.%s", terms[t]);
        f64_vec(env, off, name, steps / win);
        if (!strcmp(terms[t], "gen_total"))
            for (int k = 0; k < steps && !first_above; k++)
                if (fabs(lam[k][t] - o[k]) > 1e-3 * fabs(o[k])) first_above = k + 1;
        for (int w = 0; w < steps / win; w++) {
            double ml = 0, mo = 0;
            for (int k = w * win; k < (w + 1) * win; k++) ml += lam[k][t], mo += o[k];
            ml /= win, mo /= win;
            double tol = lm_test_envelope_tol(env[w], mo), r = fabs(ml - mo) / tol;
            if (!(r <= 1)) outside++;
            if (!(r <= worst)) worst = r, worst_term = terms[t], worst_win = w;
            if (verbose && !(r <= 1))
                fprintf(stderr, "curve: %-20s steps %2d-%2d: lamac mean %.9g, official %.9g, |diff| %.3g > tol %.3g "
                                "(envelope %.3g)\n", terms[t], w * win + 1, (w + 1) * win, ml, mo, fabs(ml - mo), tol, env[w]);
        }
    }
    if (verbose)
        fprintf(stderr, "curve: %d steps, %d terms x %d windows of %d: %d cells outside K x envelope + floor; largest "
                        "|diff| / tol %.3g (%s, window %d); gen_total first differs by > 1e-3 at step %d%s\n",
                steps, nt, steps / win, win, outside, worst, worst_term, worst_win + 1, first_above ? first_above : steps,
                first_above ? "" : " (no: within 1e-3 at every step)");
    lm_safetensors_close(off);
    lm_test_rmtree(tmp);
    return outside;
}

START_TEST(test_curve_within_official_envelope) {
    ck_assert_int_eq(curve_cells_outside(NULL, 1), 0);
}
END_TEST

/* The check bites: the generator's learning rate 10% off (the D step's unchanged) moves the
 * window means far outside the official spread (the same check as above, inverted). */
START_TEST(test_curve_catches_lr_off) {
    int outside = curve_cells_outside("optimizers.generator.lr=0.0011", 0);
    fprintf(stderr, "curve: with optimizers.generator.lr x1.1: %d cells outside\n", outside);
    ck_assert_int_gt(outside, 0);
}
END_TEST

/* The batch stream both ways (train/batchstream.h): a run on the fixture stream (U8) that dumps
 * what it trained on writes the same values as F32, and a run on that dump logs the same losses
 * bit for bit. */
START_TEST(test_stream_dump_roundtrip) {
    char tmp[256], out[16384], a[300], b[300];
    lm_test_tmpdir(tmp, sizeof tmp, "curve_stream");
    const char *common = "train " FIX "/config.yaml init_from=" FIX "/init.safetensors trainer.kwargs.log_every_n_steps=1 "
                         "--threads 1 --no-tb";
    int rc = lm_test_run(out, sizeof out, "%s trainer.kwargs.max_steps=5 data.train.stream=" FIX "/stream.safetensors "
                         "--run-dir %s/a --dump-batches %s/dump.safetensors", common, tmp, tmp);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "(5 batches)"));
    lm_safetensors_file *u8 = NULL, *f32 = NULL;
    snprintf(a, sizeof a, "%s/dump.safetensors", tmp);
    ck_assert_int_eq(lm_safetensors_open(&u8, FIX "/stream.safetensors"), 0);
    ck_assert_int_eq(lm_safetensors_open(&f32, a), 0);
    ck_assert_str_eq(lm_safetensors_meta(f32, "batches"), "5");
    for (int k = 0; k < 5; k++)
        for (int m = 0; m < 2; m++) {
            char name[32];
            snprintf(name, sizeof name, "%s.%06d", m ? "mask" : "image", k);
            const lm_safetensors_entry *e = lm_safetensors_find(u8, name), *d = lm_safetensors_find(f32, name);
            ck_assert(e && d && e->dtype == LM_DT_U8 && d->dtype == LM_DT_F32);
            ck_assert_uint_eq(d->nbytes, e->nbytes * 4);
            const uint8_t *p = e->data;
            for (size_t i = 0; i < e->nbytes; i++) {
                float v;
                memcpy(&v, (const char *)d->data + 4 * i, 4);
                ck_assert_msg(v == (m ? (float)p[i] : (float)p[i] / 255.0f), "%s[%zu]", name, i);
            }
        }
    lm_safetensors_close(u8);
    lm_safetensors_close(f32);
    rc = lm_test_run(out, sizeof out, "%s trainer.kwargs.max_steps=5 data.train.stream=%s --run-dir %s/b", common, a, tmp);
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(a, sizeof a, "%s/a/metrics.jsonl", tmp);
    snprintf(b, sizeof b, "%s/b/metrics.jsonl", tmp);
    char *ta = lm_test_read_file(a), *tb = lm_test_read_file(b);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    /* a run past the stream's end is an error naming it */
    rc = lm_test_run(out, sizeof out, "%s data.train.stream=%s/dump.safetensors trainer.kwargs.max_steps=6 "
                     "--run-dir %s/c", common, tmp, tmp);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "batch 5 asked for, the stream has 5"), "%s", out);
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_curve_suite(void) {
    Suite *s = suite_create("curve");
    TCase *tc = tcase_create("curve");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_curve_within_official_envelope);
    tcase_add_test(tc, test_curve_catches_lr_off);
    tcase_add_test(tc, test_stream_dump_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
