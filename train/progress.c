/* progress.c — the training progress line (see progress.h); in place of Lightning's tqdm bar. */
#include "train/progress.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

void lm_train_progress_start(lm_train_progress *p, FILE *f, int tty, int64_t step0, int64_t total, double now) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->tty = tty >= 0 ? tty : (f && isatty(fileno(f)));
    p->step0 = step0, p->total = total;
    p->t0 = now;
    p->last = -1e300;
}

/* appends; keeps dst terminated; returns 0 when it did not fit */
static int app(char *dst, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int app(char *dst, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len >= cap) return 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len) {
        *len = cap - 1;
        if (cap >= 4) memcpy(dst + cap - 4, "...", 4);
        return 0;
    }
    *len += (size_t)n;
    return 1;
}

size_t lm_train_progress_format(char *dst, size_t cap, int64_t step, int64_t total, int64_t epoch, double rate,
                                const lm_kv *vals, int n) {
    size_t len = 0;
    if (!cap) return 0;
    dst[0] = 0;
    int ok = total > 0 ? app(dst, cap, &len, "step %lld/%lld", (long long)step, (long long)total)
                       : app(dst, cap, &len, "step %lld", (long long)step);
    if (ok && epoch >= 0) ok = app(dst, cap, &len, " (epoch %lld)", (long long)epoch);
    if (ok && rate > 0 && isfinite(rate)) {
        ok = rate >= 1 ? app(dst, cap, &len, " | %.2f it/s", rate) : app(dst, cap, &len, " | %.2f s/it", 1 / rate);
        if (ok && total > step) {
            double eta = (double)(total - step) / rate;
            long long s = (long long)(eta + 0.5);
            ok = app(dst, cap, &len, " | ETA %lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
        }
    }
    for (int i = 0; ok && i < n; i++)
        ok = app(dst, cap, &len, "%s%s %.4g", i ? " " : " | ", vals[i].key, vals[i].value);
    return len;
}

int lm_train_progress_update(lm_train_progress *p, int64_t step, int64_t epoch, double now, const lm_kv *vals, int n,
                             int force) {
    if (!p->f) return 0;
    if (p->tty ? (!force && now - p->last < 0.25) : !force) return 0;
    double dt = now - p->t0, rate = dt > 0 ? (double)(step - p->step0) / dt : 0;
    char line[512];
    lm_train_progress_format(line, sizeof line, step, p->total, epoch, rate, vals, n);
    if (p->tty) {
        fprintf(p->f, "\r%s\033[K", line);
        p->dirty = 1;
    } else {
        fprintf(p->f, "%s\n", line);
    }
    fflush(p->f);
    p->last = now;
    return 1;
}

void lm_train_progress_break(lm_train_progress *p) {
    if (p->f && p->dirty) {
        fputc('\n', p->f);
        fflush(p->f);
    }
    p->dirty = 0;
}
