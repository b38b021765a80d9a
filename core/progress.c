/* progress.c — progress line (see progress.h). */
#include "core/progress.h"

#include <unistd.h>

#include "core/clock.h"

void lm_progress_start(lm_progress *p, FILE *f, const char *label, const char *unit) {
    p->f = f;
    p->label = label;
    p->unit = unit;
    p->t0 = lm_clock_now();
    p->last = -1;
    p->tty = isatty(fileno(f));
    p->last_decile = 0;
}

void lm_progress_update(lm_progress *p, long long done, long long total) {
    int final = done >= total;
    double t = lm_clock_now();
    double rate = done / (t - p->t0 > 1e-9 ? t - p->t0 : 1e-9);
    if (p->tty) {
        if (!final && p->last >= 0 && t - p->last < 0.25) return;
        fprintf(p->f, "\r%s: %lld/%lld %s (%.1f %s/s)%s", p->label, done, total, p->unit, rate, p->unit,
                final ? "\n" : "");
    } else {
        int dec = (int)(10 * done / (total > 0 ? total : 1));
        if (!final && dec == p->last_decile) return;
        fprintf(p->f, "%s: %lld/%lld %s (%.1f %s/s)\n", p->label, done, total, p->unit, rate, p->unit);
        p->last_decile = dec;
    }
    p->last = t;
    fflush(p->f);
}
