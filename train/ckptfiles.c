/* ckptfiles.c — checkpoint discovery for resume and keep-best-k bookkeeping (see
 * ckptfiles.h). Mirrors pytorch_lightning.callbacks.ModelCheckpoint (save_top_k, mode,
 * save_last) as configured by bin/train.py. */
#define _GNU_SOURCE
#include "train/ckptfiles.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "io/safetensors.h"

int lm_ckpt_validate(const char *path, const char *format_prefix, int64_t *step) {
    lm_safetensors_file *f;
    int rc = lm_safetensors_open(&f, path);
    if (rc < 0) return rc;
    const char *fmt = lm_safetensors_meta(f, "format"), *st = lm_safetensors_meta(f, "step");
    if (!fmt || !*fmt) rc = lm_err_code(LM_EINVAL, "%s: no metadata \"format\": not a lamac checkpoint", path);
    else if (format_prefix && strncmp(fmt, format_prefix, strlen(format_prefix)))
        rc = lm_err_code(LM_EINVAL, "%s: metadata format \"%s\" is not a checkpoint (%s*)", path, fmt, format_prefix);
    else if (!st) rc = lm_err_code(LM_EINVAL, "%s: no metadata \"step\"", path);
    else {
        char *end;
        errno = 0;
        long long v = strtoll(st, &end, 10);
        if (errno || end == st || *end || v < 0)
            rc = lm_err_code(LM_EINVAL, "%s: metadata \"step\" is not a step: \"%s\"", path, st);
        else if (step)
            *step = v;
    }
    lm_safetensors_close(f);
    return rc;
}

void lm_ckpt_found_free(lm_ckpt_found *f) {
    if (!f) return;
    free(f->path);
    f->path = NULL;
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int lm_ckpt_find(lm_ckpt_found *out, const char *path, const char *format_prefix, FILE *warn) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (!path || !*path) return lm_err_code(LM_EINVAL, "resume: empty path");
    if (stat(path, &st) < 0) return lm_err_code(LM_EIO, "resume: %s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        int64_t step;
        int rc = lm_ckpt_validate(path, format_prefix, &step);
        if (rc < 0) return lm_err_prefix("resume: not a valid checkpoint"), rc;
        if (!(out->path = strdup(path))) return lm_err_code(LM_ENOMEM, "resume: out of memory");
        out->step = step;
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) return lm_err_code(LM_EINVAL, "resume: %s: not a file or directory", path);
    /* a run directory holds checkpoints/ */
    char *dir = NULL;
    struct stat cs;
    if (asprintf(&dir, "%s/checkpoints", path) < 0) return lm_err_code(LM_ENOMEM, "resume: out of memory");
    if (stat(dir, &cs) < 0 || !S_ISDIR(cs.st_mode)) {
        free(dir);
        if (!(dir = strdup(path))) return lm_err_code(LM_ENOMEM, "resume: out of memory");
    }
    DIR *d = opendir(dir);
    if (!d) {
        int rc = lm_err_code(LM_EIO, "resume: cannot read %s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    struct dirent *e;
    char *best = NULL, *best_name = NULL;
    int64_t best_step = -1;
    int n_files = 0, rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".safetensors")) continue;
        char *p;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
            rc = lm_err_code(LM_ENOMEM, "resume: out of memory");
            break;
        }
        n_files++;
        int64_t step;
        if (lm_ckpt_validate(p, format_prefix, &step) < 0) {
            out->skipped++;
            if (warn) fprintf(warn, "warning: skipping checkpoint %s: %s\n", p, lm_err_msg());
            free(p);
            continue;
        }
        int better = !best || step > best_step;
        if (best && step == best_step) {
            int a_last = !strcmp(e->d_name, "last.safetensors"), b_last = !strcmp(best_name, "last.safetensors");
            better = a_last != b_last ? a_last : strcmp(e->d_name, best_name) < 0;
        }
        if (better) {
            free(best);
            best = p;
            best_name = best + strlen(dir) + 1;
            best_step = step;
        } else {
            free(p);
        }
    }
    closedir(d);
    if (rc == 0 && !best)
        rc = lm_err_code(LM_EINVAL, "resume: no valid checkpoint in %s (%d *.safetensors file%s, %d rejected)", dir,
                         n_files, n_files == 1 ? "" : "s", out->skipped);
    free(dir);
    if (rc < 0) {
        free(best);
        return rc;
    }
    out->path = best;
    out->step = best_step;
    return 0;
}

/* ---- best k ------------------------------------------------------------------------------ */
typedef struct topk_entry {
    int64_t epoch, step;
    double value;
} topk_entry;

struct lm_topk {
    char *dir;
    int k, mode;
    topk_entry *v; /* best first */
    int n, cap;
    int pending;   /* an offer awaiting commit */
    topk_entry offer;
    char *state;
};

int lm_topk_create(lm_topk **out, const char *ckpt_dir, int k, int mode) {
    *out = NULL;
    if (k < -1) return lm_err_code(LM_EINVAL, "save_top_k: must be >= -1, got %d", k);
    if (mode != LM_TOPK_MIN && mode != LM_TOPK_MAX) return lm_err_code(LM_EINVAL, "checkpoint mode: unknown %d", mode);
    lm_topk *t = calloc(1, sizeof *t);
    if (!t || !(t->dir = strdup(ckpt_dir))) {
        free(t);
        return lm_err_code(LM_ENOMEM, "out of memory");
    }
    t->k = k, t->mode = mode;
    *out = t;
    return 0;
}

void lm_topk_free(lm_topk *t) {
    if (!t) return;
    free(t->dir);
    free(t->v);
    free(t->state);
    free(t);
}

/* a strictly better than b */
static int beats(const lm_topk *t, double a, double b) { return t->mode == LM_TOPK_MAX ? a > b : a < b; }

static int entry_path(const lm_topk *t, const topk_entry *e, char *path, size_t cap) {
    int n = snprintf(path, cap, "%s/epoch=%lld-step=%lld.safetensors", t->dir, (long long)e->epoch, (long long)e->step);
    if (n < 0 || (size_t)n >= cap) return lm_err_code(LM_EINVAL, "checkpoint path too long in %s", t->dir);
    return 0;
}

static int find_step(const lm_topk *t, int64_t step) {
    for (int i = 0; i < t->n; i++)
        if (t->v[i].step == step) return i;
    return -1;
}

int lm_topk_offer(lm_topk *t, int64_t epoch, int64_t step, double value, char *path, size_t cap, int *keep) {
    *keep = 0;
    t->pending = 0;
    if (path && cap) path[0] = 0;
    if (t->k == 0 || isnan(value)) return 0;
    int same = find_step(t, step); /* the same step again (e.g. re-validated): replaces it */
    int room = t->k < 0 || t->n < t->k || (same >= 0 && t->n <= t->k);
    if (!room && !beats(t, value, t->v[t->n - 1].value)) return 0;
    t->offer = (topk_entry){epoch, step, value};
    int rc = entry_path(t, &t->offer, path, cap);
    if (rc < 0) return rc;
    t->pending = 1;
    *keep = 1;
    return 0;
}

int lm_topk_commit(lm_topk *t) {
    if (!t->pending) return lm_err_code(LM_EINVAL, "best-k: commit without an accepted offer");
    t->pending = 0;
    int same = find_step(t, t->offer.step), rc = 0;
    if (same >= 0) { /* remove the old entry of this step; its file was just overwritten */
        memmove(t->v + same, t->v + same + 1, sizeof(topk_entry) * (size_t)(t->n - same - 1));
        t->n--;
    }
    /* evict the worst until there is room (more than one after a restore with a smaller k) */
    while (t->k > 0 && t->n >= t->k) {
        topk_entry ev = t->v[--t->n];
        char path[4096];
        int r = entry_path(t, &ev, path, sizeof path);
        if (r == 0 && unlink(path) < 0 && errno != ENOENT)
            r = lm_err_code(LM_EIO, "best-k: cannot delete %s: %s", path, strerror(errno));
        if (r < 0 && rc == 0) rc = r;
    }
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 8;
        topk_entry *v = realloc(t->v, sizeof(topk_entry) * (size_t)cap);
        if (!v) return lm_err_code(LM_ENOMEM, "best-k: out of memory");
        t->v = v, t->cap = cap;
    }
    int i = t->n; /* insert after entries at least as good (older first among equals) */
    while (i > 0 && beats(t, t->offer.value, t->v[i - 1].value)) i--;
    memmove(t->v + i + 1, t->v + i, sizeof(topk_entry) * (size_t)(t->n - i));
    t->v[i] = t->offer;
    t->n++;
    return rc;
}

int lm_topk_count(const lm_topk *t) { return t->n; }

int lm_topk_get(const lm_topk *t, int i, int64_t *epoch, int64_t *step, double *value) {
    if (i < 0 || i >= t->n) return lm_err_code(LM_EINVAL, "best-k: index %d out of range", i);
    if (epoch) *epoch = t->v[i].epoch;
    if (step) *step = t->v[i].step;
    if (value) *value = t->v[i].value;
    return 0;
}

const char *lm_topk_state(lm_topk *t) {
    free(t->state);
    size_t cap = (size_t)t->n * 64 + 1;
    t->state = malloc(cap);
    if (!t->state) return "";
    size_t off = 0;
    t->state[0] = 0;
    for (int i = 0; i < t->n; i++)
        off += (size_t)snprintf(t->state + off, cap - off, "%s%lld:%lld:%.17g", i ? ";" : "", (long long)t->v[i].epoch,
                                (long long)t->v[i].step, t->v[i].value);
    return t->state;
}

int lm_topk_restore(lm_topk *t, const char *state) {
    topk_entry *v = NULL;
    int n = 0, cap = 0;
    const char *s = state ? state : "";
    while (*s) {
        char *end;
        topk_entry e;
        errno = 0;
        e.epoch = strtoll(s, &end, 10);
        if (end == s || *end != ':') goto bad;
        s = end + 1;
        e.step = strtoll(s, &end, 10);
        if (end == s || *end != ':') goto bad;
        s = end + 1;
        e.value = strtod(s, &end);
        if (end == s || (*end && *end != ';') || errno || isnan(e.value) || e.epoch < 0 || e.step < 0) goto bad;
        s = *end ? end + 1 : end;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            topk_entry *q = realloc(v, sizeof *v * (size_t)cap);
            if (!q) {
                free(v);
                return lm_err_code(LM_ENOMEM, "best-k: out of memory");
            }
            v = q;
        }
        int i = n;
        while (i > 0 && beats(t, e.value, v[i - 1].value)) i--;
        memmove(v + i + 1, v + i, sizeof *v * (size_t)(n - i));
        v[i] = e;
        n++;
    }
    free(t->v);
    t->v = v, t->n = n, t->cap = cap, t->pending = 0;
    return 0;
bad:
    free(v);
    return lm_err_code(LM_EINVAL, "best-k: malformed state \"%s\"", state);
}
