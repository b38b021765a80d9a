/* progress.h — the training progress line: on a terminal one line rewritten in place
 * ("\r", cleared to the end) at most 4 times a second; otherwise a plain log line each time
 * the loop asks for one (every log_every_n_steps), so a log file stays readable:
 *     step 1200/25000 (epoch 3) | 3.41 it/s | ETA 1:56:12 | gen_total 1.234 discr_total 0.5671
 * The rate is measured since the start (or the resume) of this process. Times are passed in
 * (seconds from a monotonic clock), so the arithmetic is testable. Official counterpart:
 * Lightning's tqdm progress bar. Not thread-safe. */
#ifndef LM_TRAIN_PROGRESS_H
#define LM_TRAIN_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "train/rundir.h" /* lm_kv */

typedef struct lm_train_progress {
    FILE *f;
    int tty;          /* rewrite in place */
    int64_t step0;    /* step at start */
    int64_t total;    /* last step (max_steps), <= 0 unknown */
    double t0, last;  /* start time, last print (tty) */
    int dirty;        /* a tty line is on screen without its newline */
} lm_train_progress;

/* tty: -1 detects isatty(fileno(f)). */
void lm_train_progress_start(lm_train_progress *p, FILE *f, int tty, int64_t step0, int64_t total, double now);
/* Formats the line (no newline) into dst; returns its length (truncated lines end in "..."). */
size_t lm_train_progress_format(char *dst, size_t cap, int64_t step, int64_t total, int64_t epoch, double rate,
                                const lm_kv *vals, int n);
/* Reports `step` done. On a tty: redraws if 0.25 s passed (or force). Not a tty: prints a
 * line only when force is set (the loop's log steps). Returns 1 when something was printed. */
int lm_train_progress_update(lm_train_progress *p, int64_t step, int64_t epoch, double now, const lm_kv *vals, int n,
                             int force);
/* Ends a tty line with a newline (before other output, and at the end). */
void lm_train_progress_break(lm_train_progress *p);

#endif
