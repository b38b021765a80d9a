/* progress.h — the progress line of long commands (shards, masks, ...): on a terminal one
 * line rewritten in place with "\r" at most 4 times a second; into a file or pipe one line
 * per tenth of the work, so logs stay readable. Always a final line with a newline.
 *     masks: 120/1000 images (85.3 images/s)
 * Not thread-safe: call it from one thread at a time (an OpenMP critical/ordered section).
 * No official counterpart (tqdm). */
#ifndef LM_PROGRESS_H
#define LM_PROGRESS_H

#include <stdio.h>

typedef struct lm_progress {
    FILE *f;
    const char *label, *unit; /* borrowed: "masks", "images" */
    double t0, last;
    int tty, last_decile;
} lm_progress;

/* Starts the clock; label and unit must outlive p. */
void lm_progress_start(lm_progress *p, FILE *f, const char *label, const char *unit);
/* done of total units are finished; done == total prints the final line. */
void lm_progress_update(lm_progress *p, long long done, long long total);

#endif
