/* rundir.c — the run directory and metrics.jsonl (see rundir.h). Mirrors the run folder
 * Hydra + Lightning create for bin/train.py (configs/training/hydra/overrides.yaml). */
#define _GNU_SOURCE
#include "train/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/err.h"
#include "core/strbuf.h"
#include "core/path.h"

int lm_rundir_join(char *dst, size_t cap, const char *dir, const char *name) {
    int n = snprintf(dst, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return lm_err_code(LM_EINVAL, "path too long: %s/%s", dir, name);
    return 0;
}

int lm_rundir_name(char *dst, size_t cap, const char *out_root, const char *experiment, time_t when) {
    if (!experiment || !*experiment || strchr(experiment, '/'))
        return lm_err_code(LM_EINVAL, "run name: experiment name '%s' is empty or contains '/'",
                           experiment ? experiment : "");
    if (!out_root || !*out_root) return lm_err_code(LM_EINVAL, "run name: empty output root (location.out_root_dir)");
    struct tm tm;
    char ts[32];
    if (!localtime_r(&when, &tm) || !strftime(ts, sizeof ts, "%Y-%m-%d_%H-%M-%S", &tm))
        return lm_err_code(LM_EINVAL, "run name: cannot format the time %lld", (long long)when);
    int n = snprintf(dst, cap, "%s/%s_%s", out_root, ts, experiment);
    if (n < 0 || (size_t)n >= cap) return lm_err_code(LM_EINVAL, "run name too long: %s/%s_%s", out_root, ts, experiment);
    return 0;
}

int lm_rundir_create(char *dir, size_t cap, const char *config_text, int exclusive) {
    int rc;
    char path[4096];
    if (exclusive) {
        char *orig = strdup(dir);
        if (!orig) return lm_err_code(LM_ENOMEM, "%s: out of memory", dir);
        char *slash = strrchr(orig, '/');
        if (slash && slash != orig) {
            *slash = 0;
            rc = lm_path_mkdirs(orig);
            *slash = '/';
            if (rc < 0) {
                free(orig);
                return rc;
            }
        }
        rc = 1;
        for (int k = 0; k < 1000 && rc == 1; k++) {
            int n = k ? snprintf(dir, cap, "%s_%d", orig, k) : snprintf(dir, cap, "%s", orig);
            if (n < 0 || (size_t)n >= cap) rc = lm_err_code(LM_EINVAL, "run directory name too long: %s", orig);
            else if (mkdir(dir, 0755) == 0) rc = 0;
            else if (errno != EEXIST) rc = lm_err_code(LM_EIO, "cannot create run directory %s: %s", dir, strerror(errno));
        }
        if (rc == 1) rc = lm_err_code(LM_EIO, "%s: no free run directory name", orig);
        free(orig);
        if (rc < 0) return rc;
    } else if ((rc = lm_path_mkdirs(dir)) < 0) {
        return rc;
    }
    static const char *const subs[] = {"checkpoints", "samples", "tb"};
    for (int i = 0; i < 3; i++) {
        if ((rc = lm_rundir_join(path, sizeof path, dir, subs[i])) < 0 || (rc = lm_path_mkdirs(path)) < 0) return rc;
    }
    if (config_text) {
        if ((rc = lm_rundir_join(path, sizeof path, dir, "config.yaml")) < 0 ||
            (rc = lm_atomic_write_file(path, config_text, strlen(config_text))) < 0)
            return rc;
    }
    return 0;
}

/* ---- metrics.jsonl --------------------------------------------------------------------- */
struct lm_metrics_log {
    int fd;
    char *path;
};

int lm_metrics_open(lm_metrics_log **out, const char *dir) {
    *out = NULL;
    char path[4096];
    int rc = lm_rundir_join(path, sizeof path, dir, "metrics.jsonl");
    if (rc < 0) return rc;
    lm_metrics_log *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return lm_err_code(LM_ENOMEM, "%s: out of memory", path);
    }
    m->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (m->fd < 0) {
        rc = lm_err_code(LM_EIO, "cannot open %s: %s", path, strerror(errno));
        free(m->path);
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int put_group(lm_strbuf *b, lm_strbuf *bad, const char *group, const lm_kv *kv, int n) {
    lm_strbuf_str(b, ",");
    lm_strbuf_json(b, group);
    lm_strbuf_str(b, ":{");
    for (int i = 0; i < n; i++) {
        if (!kv[i].key || !*kv[i].key) return lm_err_code(LM_EINVAL, "metrics: empty key in \"%s\"", group);
        if (i) lm_strbuf_str(b, ",");
        lm_strbuf_json(b, kv[i].key);
        if (isfinite(kv[i].value)) {
            lm_strbuf_fmt(b, ":%.9g", kv[i].value);
        } else {
            lm_strbuf_str(b, ":null");
            if (bad->n) lm_strbuf_str(bad, ",");
            char *k = malloc(strlen(group) + strlen(kv[i].key) + 2);
            if (!k) return lm_err_code(LM_ENOMEM, "metrics: out of memory");
            sprintf(k, "%s.%s", group, kv[i].key);
            lm_strbuf_json(bad, k);
            free(k);
        }
    }
    lm_strbuf_str(b, "}");
    return 0;
}

int lm_metrics_write(lm_metrics_log *m, int64_t step, int64_t epoch, const char *kind, const lm_kv *losses,
                     int n_losses, const lm_kv *metrics, int n_metrics) {
    if (!kind || (strcmp(kind, "train") && strcmp(kind, "val")))
        return lm_err_code(LM_EINVAL, "metrics: kind must be \"train\" or \"val\", got \"%s\"", kind ? kind : "");
    if (n_losses < 0 || n_metrics < 0 || (n_losses && !losses) || (n_metrics && !metrics))
        return lm_err_code(LM_EINVAL, "metrics: bad value arrays");
    lm_strbuf b = {0}, bad = {0};
    int rc;
    lm_strbuf_fmt(&b, "{\"step\":%lld,\"epoch\":%lld,\"kind\":", (long long)step, (long long)epoch);
    lm_strbuf_json(&b, kind);
    if ((rc = put_group(&b, &bad, "losses", losses, n_losses)) < 0 ||
        (rc = put_group(&b, &bad, "metrics", metrics, n_metrics)) < 0)
        goto cleanup;
    lm_strbuf_str(&b, ",\"nonfinite\":[");
    if (bad.n) lm_strbuf_put(&b, bad.p, bad.n);
    lm_strbuf_str(&b, "]}\n");
    if (b.oom || bad.oom) {
        rc = lm_err_code(LM_ENOMEM, "metrics: out of memory");
        goto cleanup;
    }
    ssize_t w;
    do w = write(m->fd, b.p, b.n);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)b.n) rc = lm_err_code(LM_EIO, "%s: write error: %s", m->path, w < 0 ? strerror(errno) : "short write");
cleanup:
    free(b.p);
    free(bad.p);
    return rc;
}

int lm_metrics_close(lm_metrics_log *m) {
    if (!m) return 0;
    int rc = 0;
    if (fsync(m->fd) < 0) rc = lm_err_code(LM_EIO, "%s: fsync: %s", m->path, strerror(errno));
    if (close(m->fd) < 0 && rc == 0) rc = lm_err_code(LM_EIO, "%s: close: %s", m->path, strerror(errno));
    free(m->path);
    free(m);
    return rc;
}

/* step of a line `{"step":N,...}\n` we wrote; 0 if it does not parse */
static int line_step(const char *s, size_t n, int64_t *step) {
    static const char pre[] = "{\"step\":";
    if (n < sizeof pre || memcmp(s, pre, sizeof pre - 1) || s[n - 1] != '\n' || s[n - 2] != '}') return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s + sizeof pre - 1, &end, 10);
    if (errno || end == s + sizeof pre - 1 || *end != ',') return 0;
    *step = v;
    return 1;
}

int lm_metrics_truncate_after(const char *dir, int64_t step, int *dropped) {
    char path[4096];
    int rc = lm_rundir_join(path, sizeof path, dir, "metrics.jsonl");
    if (dropped) *dropped = 0;
    if (rc < 0) return rc;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 0;
        return lm_err_code(LM_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    lm_strbuf keep = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int drop = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        int64_t s;
        if (line_step(line, (size_t)n, &s) && s <= step) lm_strbuf_put(&keep, line, (size_t)n);
        else drop++;
    }
    int err = ferror(f);
    fclose(f);
    free(line);
    if (err) rc = lm_err_code(LM_EIO, "%s: read error", path);
    else if (keep.oom) rc = lm_err_code(LM_ENOMEM, "%s: out of memory", path);
    else if (drop) rc = lm_atomic_write_file(path, keep.p ? keep.p : "", keep.n);
    if (rc == 0 && dropped) *dropped = drop;
    free(keep.p);
    return rc;
}
