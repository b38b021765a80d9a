/* weights.c — save/load parameter registries to/from safetensors and official PyTorch
 * checkpoints (see weights.h). Mirrors torch's state_dict()/load_state_dict(strict) as the
 * official code uses them (saicinpainting/training/trainers/__init__.py load_checkpoint). */
#include "model/weights.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "io/pth.h"
#include "model/lt_err.h"

struct lm_weights_src {
    char *path;
    lm_safetensors_file *st; /* one of st / pth */
    lm_pth *pth;
    char kind[16];
};

/* ---- source ------------------------------------------------------------------------------- */

int lm_weights_open(lm_weights_src **out, const char *path) {
    *out = NULL;
    unsigned char head[16] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lm_err_code(LM_EIO, "weights %s: cannot open", path);
    ssize_t got = read(fd, head, sizeof head);
    close(fd);
    if (got < 0) return lm_err_code(LM_EIO, "weights %s: cannot read", path);
    lm_weights_src *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return lm_err_code(LM_ENOMEM, "weights %s: out of memory", path);
    }
    int rc;
    /* safetensors first: its first 8 bytes are the header length, whose low bytes can be
     * 0x80 (a pickle PROTO opcode) or "PK" (zip) for some header sizes; byte 8 is '{', which
     * is never a zip's compression method nor part of torch's legacy magic number. */
    if (got >= 9 && head[8] == '{') {
        rc = lm_safetensors_open(&s->st, path);
    } else if (got >= 4 && head[0] == 'P' && head[1] == 'K') { /* zip: torch.save since 1.6 */
        rc = lm_pth_load_ex(&s->pth, path, LM_PTH_OPAQUE_UNKNOWN);
    } else if (got >= 2 && head[0] == 0x80) { /* pickle protocol opcode: legacy torch.save */
        rc = lm_pth_load_ex(&s->pth, path, LM_PTH_OPAQUE_UNKNOWN);
    } else {
        rc = lm_err_code(LM_EINVAL, "weights %s: neither safetensors nor a PyTorch file "
                         "(zip or legacy pickle)", path);
    }
    if (rc < 0) {
        lm_weights_close(s);
        return rc;
    }
    if (s->st)
        snprintf(s->kind, sizeof s->kind, "safetensors");
    else
        snprintf(s->kind, sizeof s->kind, "pth-%s", lm_pth_format(s->pth));
    *out = s;
    return 0;
}

void lm_weights_close(lm_weights_src *s) {
    if (!s) return;
    lm_safetensors_close(s->st);
    lm_pth_free(s->pth);
    free(s->path);
    free(s);
}

int lm_weights_count(const lm_weights_src *s) {
    return s->st ? lm_safetensors_count(s->st) : lm_pth_count(s->pth);
}

const lm_safetensors_entry *lm_weights_get(const lm_weights_src *s, int i) {
    return s->st ? lm_safetensors_get(s->st, i) : lm_pth_get(s->pth, i);
}

const lm_safetensors_entry *lm_weights_find(const lm_weights_src *s, const char *name) {
    return s->st ? lm_safetensors_find(s->st, name) : lm_pth_find(s->pth, name);
}

const char *lm_weights_meta(const lm_weights_src *s, const char *key) {
    return s->st ? lm_safetensors_meta(s->st, key) : lm_pth_meta(s->pth, key);
}

const char *lm_weights_path(const lm_weights_src *s) { return s->path; }
const char *lm_weights_kind(const lm_weights_src *s) { return s->kind; }

int lm_weights_count_prefix(const lm_weights_src *s, const char *prefix) {
    size_t pl = strlen(prefix);
    int n = 0, total = lm_weights_count(s);
    for (int i = 0; i < total; i++)
        if (!strncmp(lm_weights_get(s, i)->name, prefix, pl)) n++;
    return n;
}

/* ---- report -------------------------------------------------------------------------------- */

void lm_weights_report_init(lm_weights_report *r) { memset(r, 0, sizeof *r); }

void lm_weights_report_free(lm_weights_report *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) free(r->items[i].key);
    free(r->items);
    memset(r, 0, sizeof *r);
}

const char *lm_weights_problem_name(lm_weights_problem p) {
    switch (p) {
    case LM_WP_MISSING: return "missing";
    case LM_WP_UNEXPECTED: return "unexpected";
    case LM_WP_SHAPE: return "shape mismatch";
    case LM_WP_DTYPE: return "dtype not convertible";
    }
    return "?";
}

static int report_add(lm_weights_report *r, const char *key, lm_weights_problem pr,
                      const char *expected, const char *found) {
    if (!r) return 0;
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        lm_weights_mismatch *it = realloc(r->items, (size_t)cap * sizeof *it);
        if (!it) return lm_err_code(LM_ENOMEM, "weights: out of memory");
        r->items = it;
        r->cap = cap;
    }
    lm_weights_mismatch *m = &r->items[r->n];
    if (!(m->key = strdup(key))) return lm_err_code(LM_ENOMEM, "weights: out of memory");
    m->problem = pr;
    snprintf(m->expected, sizeof m->expected, "%s", expected);
    snprintf(m->found, sizeof m->found, "%s", found);
    r->n++;
    return 0;
}

void lm_weights_report_print(const lm_weights_report *r, FILE *f) {
    int kw = 3, ew = 8;
    for (int i = 0; i < r->n; i++) {
        int k = (int)strlen(r->items[i].key), e = (int)strlen(r->items[i].expected);
        if (k > kw) kw = k;
        if (e > ew) ew = e;
    }
    fprintf(f, "%-*s | %-*s | %s\n", kw, "key", ew, "expected", "found");
    for (int i = 0; i < kw + ew + 16; i++) fputc('-', f);
    fputc('\n', f);
    for (int i = 0; i < r->n; i++) {
        const lm_weights_mismatch *m = &r->items[i];
        fprintf(f, "%-*s | %-*s | %s  (%s)\n", kw, m->key, ew, m->expected, m->found,
                lm_weights_problem_name(m->problem));
    }
}

/* ---- helpers ------------------------------------------------------------------------------- */

static void fmt_shape(char *buf, size_t cap, const char *dt, const int64_t *s, int n) {
    size_t o = (size_t)snprintf(buf, cap, "%s (", dt);
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? ", %lld" : "%lld", (long long)s[i]);
    if (o < cap) snprintf(buf + o, cap - o, ")");
}

static int is_float_dt(int dt) {
    return dt == LM_DT_F32 || dt == LM_DT_F64 || dt == LM_DT_F16 || dt == LM_DT_BF16;
}

static int is_int_dt(int dt) { return dt == LM_DT_I64 || dt == LM_DT_I32; }

/* Can a file tensor of dtype src load into a parameter of dtype dst? */
static int convertible(int src, lt_dtype dst) {
    if (is_float_dt((int)dst)) return is_float_dt(src);
    if (is_int_dt((int)dst)) return is_int_dt(src);
    return src == (int)dst;
}

/* ---- load ---------------------------------------------------------------------------------- */

int lm_weights_load(lm_params *p, const lm_weights_src *s, const char *prefix, int flags,
                    lm_weights_report *rep) {
    lm_weights_report local;
    lm_weights_report_init(&local);
    lm_weights_report *r = rep ? rep : &local;
    size_t pl = strlen(prefix);
    char key[LM_PREFIX_MAX + 256], exp[96], fnd[96];
    int rc = 0, first_bad = -1;
    int n_bad = 0;
    const lm_safetensors_entry **match = calloc((size_t)(p->n ? p->n : 1), sizeof *match);
    if (!match) return lm_err_code(LM_ENOMEM, "weights: out of memory");
    int start = r->n;
    /* 1. check every registry entry */
    for (int i = 0; i < p->n; i++) {
        lm_param *it = &p->items[i];
        int64_t shp[LM_SAFETENSORS_MAX_DIMS];
        int nd = lt_shape(it->t, shp, LM_SAFETENSORS_MAX_DIMS);
        lt_dtype dt = lt_type(it->t);
        snprintf(key, sizeof key, "%s%s", prefix, it->name);
        fmt_shape(exp, sizeof exp, lt_dtype_name(dt), shp, nd);
        const lm_safetensors_entry *e = lm_weights_find(s, key);
        r->checked++;
        if (!e) {
            rc = report_add(r, key, LM_WP_MISSING, exp, "-");
        } else {
            const char *en = lm_dtype_name(e->dtype);
            fmt_shape(fnd, sizeof fnd, en ? en : "?", e->shape, e->ndim);
            int same = e->ndim == nd;
            for (int d = 0; same && d < nd; d++) same = e->shape[d] == shp[d];
            if (!convertible(e->dtype, dt))
                rc = report_add(r, key, LM_WP_DTYPE, exp, fnd);
            else if (!same)
                rc = report_add(r, key, LM_WP_SHAPE, exp, fnd);
            else
                match[i] = e;
        }
        if (rc < 0) goto cleanup;
    }
    /* 2. unexpected keys under the prefix */
    for (int i = 0, n = lm_weights_count(s); i < n; i++) {
        const lm_safetensors_entry *e = lm_weights_get(s, i);
        if (strncmp(e->name, prefix, pl) != 0 || lm_params_find(p, e->name + pl)) continue;
        const char *en = lm_dtype_name(e->dtype);
        fmt_shape(fnd, sizeof fnd, en ? en : "?", e->shape, e->ndim);
        if ((rc = report_add(r, e->name, LM_WP_UNEXPECTED, "-", fnd)) < 0) goto cleanup;
    }
    n_bad = r->n - start;
    if (n_bad) first_bad = start;
    if (n_bad && !(flags & LM_WEIGHTS_NONSTRICT)) {
        rc = lm_err_code(LM_EINVAL, "weights %s: %d mismatch%s for prefix '%s' (first: %s: %s), "
                         "nothing loaded", s->path, n_bad, n_bad > 1 ? "es" : "", prefix,
                         r->items[first_bad].key,
                         lm_weights_problem_name(r->items[first_bad].problem));
        goto cleanup;
    }
    /* 3. copy */
    lt_no_grad_push();
    for (int i = 0; i < p->n && rc == 0; i++) {
        const lm_safetensors_entry *e = match[i];
        if (!e) continue;
        lt_scope_push();
        lt_tensor *src = lt_from_buffer(e->data, e->shape, e->ndim, (lt_dtype)e->dtype);
        if (!lt_copy_(p->items[i].t, src))
            rc = lm_err_lt("weights %s: %s%s", s->path, prefix, p->items[i].name);
        else
            r->loaded++;
        lt_scope_pop();
    }
    lt_no_grad_pop();
cleanup:
    free(match);
    lm_weights_report_free(&local);
    return rc;
}

/* ---- save ---------------------------------------------------------------------------------- */

lm_weights_save_opts lm_weights_save_defaults(void) {
    return (lm_weights_save_opts){.dtype = LT_F32, .config = NULL, .step = -1, .extra = NULL};
}

/* Context for a failure of the safetensors writer: "weights PATH: " unless the message
 * already names PATH (the writer and core/atomic do), so a full disk reads
 * "safetensors: PATH: write failed: File too large" with the path once. */
static int save_failed(const char *path) {
    if (!strstr(lm_err_msg(), path)) return lm_err_prefix("weights %s", path);
    int c = lm_err_last_code();
    return c < 0 ? c : LM_EFAIL;
}

int lm_weights_save(const char *path, const lm_weights_part *parts, int n_parts,
                    const lm_weights_save_opts *o) {
    lm_weights_save_opts def = lm_weights_save_defaults();
    if (!o) o = &def;
    if (o->dtype != LT_F32 && o->dtype != LT_F64 && o->dtype != LT_F16 && o->dtype != LT_BF16)
        return lm_err_code(LM_EINVAL, "weights %s: save dtype must be F32, F64, F16 or BF16", path);
    lm_safetensors_writer *w = NULL;
    void *buf = NULL;
    size_t buf_cap = 0;
    char key[LM_PREFIX_MAX + 256], num[32];
    int rc = lm_safetensors_writer_open(&w, path);
    if (rc < 0) return save_failed(path);
    rc = lm_safetensors_writer_meta(w, "format", LM_WEIGHTS_FORMAT);
    if (!rc) rc = lm_safetensors_writer_meta(w, "dtype", lt_dtype_name(o->dtype));
    if (!rc && o->config) rc = lm_safetensors_writer_meta(w, "config", o->config);
    if (!rc && o->step >= 0) {
        snprintf(num, sizeof num, "%lld", (long long)o->step);
        rc = lm_safetensors_writer_meta(w, "step", num);
    }
    for (int i = 0; !rc && o->extra && o->extra[i] && o->extra[i + 1]; i += 2)
        rc = lm_safetensors_writer_meta(w, o->extra[i], o->extra[i + 1]);
    for (int pi = 0; !rc && pi < n_parts; pi++) {
        const lm_params *p = parts[pi].params;
        for (int i = 0; !rc && i < p->n; i++) {
            lt_scope_push();
            lt_tensor *t = p->items[i].t;
            lt_dtype dt = lt_type(t);
            if (is_float_dt((int)dt) && dt != o->dtype) t = lt_to_dtype(t, o->dtype), dt = o->dtype;
            int64_t shp[LM_SAFETENSORS_MAX_DIMS];
            int nd = lt_shape(t, shp, LM_SAFETENSORS_MAX_DIMS);
            size_t bytes = (size_t)lt_numel(t) * lt_dtype_size(dt);
            snprintf(key, sizeof key, "%s%s", parts[pi].prefix, p->items[i].name);
            if (!t) {
                rc = lm_err_lt("weights %s: %s: cannot save", path, key);
            } else if (nd < 0 || nd > LM_SAFETENSORS_MAX_DIMS || dt == LT_C64) {
                rc = lm_err_code(LM_EINVAL, "weights %s: %s: cannot save (unsupported dtype or rank)",
                                 path, key);
            } else {
                if (bytes > buf_cap) {
                    void *nb = realloc(buf, bytes);
                    if (!nb) rc = lm_err_code(LM_ENOMEM, "weights %s: out of memory", path);
                    else buf = nb, buf_cap = bytes;
                }
                if (!rc && bytes && lt_to_buffer(t, buf, bytes) < 0)
                    rc = lm_err_lt("weights %s: %s", path, key);
                if (!rc && lm_safetensors_writer_add(w, key, (int)dt, shp, nd, buf, bytes) < 0)
                    rc = save_failed(path);
            }
            lt_scope_pop();
        }
    }
    free(buf);
    if (rc) {
        lm_safetensors_writer_abort(w);
        return rc;
    }
    if (lm_safetensors_writer_close(w) < 0) return save_failed(path);
    return 0;
}
