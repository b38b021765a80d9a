/* export.c — state_dict selection and writers for `lamac export` (see export.h; official
 * bin/make_checkpoint.py and trainers/__init__.py load_checkpoint). */
#include "model/export.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"
#include "shim/lt.h"
#include "io/pthwrite.h"

#define P_GEN "generator."
#define P_AVG "generator_average."
#define P_DIS "discriminator."

lm_export_opts lm_export_defaults(void) {
    return (lm_export_opts){.with_discr = 0, .raw = 0, .dtype = LM_DT_F32};
}

void lm_export_free(lm_export *e) {
    if (!e) return;
    for (int i = 0; i < e->n; i++) {
        free(e->t[i].name);
        free(e->t[i].owned);
    }
    free(e->t);
    memset(e, 0, sizeof *e);
}

static int is_float(int dt) {
    return dt == LM_DT_F32 || dt == LM_DT_F64 || dt == LM_DT_F16 || dt == LM_DT_BF16;
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static lt_dtype lt_float_dtype(int dt) {
    return dt == LM_DT_F64 ? LT_F64 : dt == LM_DT_F16 ? LT_F16 : dt == LM_DT_BF16 ? LT_BF16 : LT_F32;
}

/* Converts n floats of dtype src (possibly unaligned) to dst with libtorch's conversion (round
 * to nearest even, as torch's .half() / .bfloat16()); returns malloc'd bytes. */
static int convert(const void *src, int sdt, int ddt, size_t n, void **out) {
    size_t bytes = (n ? n : 1) * lm_dtype_size(ddt);
    void *d = malloc(bytes);
    if (!d) return lm_err_code(LM_ENOMEM, "export: out of memory (%zu elements)", n);
    int64_t shape[1] = {(int64_t)n};
    lt_scope_push();
    lt_tensor *t = lt_to_dtype(lt_from_buffer(src, shape, 1, lt_float_dtype(sdt)), lt_float_dtype(ddt));
    int rc = t && lt_to_buffer(t, d, n * lm_dtype_size(ddt)) == 0 ? 0 : lm_err_lt("export: dtype conversion");
    lt_scope_pop();
    if (rc < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

static int add(lm_export *e, const char *name, const lm_safetensors_entry *src, const char *from, int dtype) {
    if (e->n == e->cap) {
        int nc = e->cap ? 2 * e->cap : 64;
        lm_export_tensor *t = realloc(e->t, (size_t)nc * sizeof *t);
        if (!t) return lm_err_code(LM_ENOMEM, "export: out of memory");
        e->t = t;
        e->cap = nc;
    }
    lm_export_tensor *t = &e->t[e->n];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return lm_err_code(LM_ENOMEM, "export: out of memory");
    e->n++;
    t->from = from;
    t->ndim = src->ndim;
    memcpy(t->shape, src->shape, sizeof t->shape);
    t->dtype = src->dtype;
    t->data = src->data;
    t->nbytes = src->nbytes;
    if (is_float(src->dtype) && src->dtype != dtype) {
        size_t n = src->nbytes / lm_dtype_size(src->dtype);
        int rc = convert(src->data, src->dtype, dtype, n, &t->owned);
        if (rc < 0) return lm_err_prefix("%s", name);
        t->dtype = dtype;
        t->data = t->owned;
        t->nbytes = n * lm_dtype_size(dtype);
    }
    return 0;
}

static int same_shape(const lm_safetensors_entry *a, const lm_safetensors_entry *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

int lm_export_select(lm_export *e, const lm_weights_src *s, const lm_export_opts *o) {
    memset(e, 0, sizeof *e);
    lm_export_opts def = lm_export_defaults();
    if (!o) o = &def;
    const char *path = lm_weights_path(s);
    if (o->dtype != LM_DT_F32 && o->dtype != LM_DT_F16 && o->dtype != LM_DT_BF16)
        return lm_err_code(LM_EINVAL, "export: dtype must be F32, F16 or BF16");
    int n = lm_weights_count(s), rc = 0;
    int n_gen = lm_weights_count_prefix(s, P_GEN), n_avg = lm_weights_count_prefix(s, P_AVG);
    int n_dis = lm_weights_count_prefix(s, P_DIS);
    if (!n_gen)
        return lm_err_code(LM_EINVAL, "export %s: no generator.* tensors (%d tensors in the file)", path, n);
    if (o->with_discr && !n_dis)
        return lm_err_code(LM_EINVAL, "export %s: --with-discr, but the file has no discriminator.* tensors", path);
    e->used_ema = n_avg > 0 && !o->raw;
    if (e->used_ema && n_avg != n_gen)
        return lm_err_code(LM_EINVAL, "export %s: %d generator_average.* tensors for %d generator.* "
                           "(use --raw to export the trained weights)", path, n_avg, n_gen);
    char key[1024];
    for (int i = 0; i < n && rc == 0; i++) {
        const lm_safetensors_entry *t = lm_weights_get(s, i);
        if (!starts(t->name, P_GEN)) continue;
        const lm_safetensors_entry *src = t;
        if (e->used_ema) {
            if ((size_t)snprintf(key, sizeof key, P_AVG "%s", t->name + strlen(P_GEN)) >= sizeof key)
                return lm_err_code(LM_EINVAL, "export %s: key too long: %.100s...", path, t->name);
            src = lm_weights_find(s, key);
            if (!src || !same_shape(src, t) || is_float(src->dtype) != is_float(t->dtype)) {
                lm_export_free(e);
                return lm_err_code(LM_EINVAL, "export %s: EMA weights do not match the generator: %s %s "
                                   "(use --raw to export the trained weights)", path, key,
                                   src ? "differs in shape or dtype" : "missing");
            }
        }
        rc = add(e, t->name, src, src->name, o->dtype);
        e->n_generator++;
    }
    for (int i = 0; i < n && rc == 0 && o->with_discr; i++) {
        const lm_safetensors_entry *t = lm_weights_get(s, i);
        if (!starts(t->name, P_DIS)) continue;
        rc = add(e, t->name, t, t->name, o->dtype);
        e->n_discriminator++;
    }
    if (rc < 0) {
        lm_export_free(e);
        return lm_err_prefix("export %s", path);
    }
    e->n_dropped = n - e->n_generator - e->n_discriminator;
    return 0;
}

int lm_export_write_safetensors(const lm_export *e, const char *path, const char *const *meta) {
    lm_safetensors_writer *w = NULL;
    int rc = lm_safetensors_writer_open(&w, path);
    for (int i = 0; rc == 0 && meta && meta[i] && meta[i + 1]; i += 2) rc = lm_safetensors_writer_meta(w, meta[i], meta[i + 1]);
    for (int i = 0; rc == 0 && i < e->n; i++) {
        const lm_export_tensor *t = &e->t[i];
        rc = lm_safetensors_writer_add(w, t->name, t->dtype, t->shape, t->ndim, t->data, t->nbytes);
    }
    if (rc < 0) {
        lm_safetensors_writer_abort(w);
        return lm_err_prefix("export");
    }
    return lm_safetensors_writer_close(w) < 0 ? lm_err_prefix("export") : 0;
}

static int put_state_dict(lm_pthwrite *w, const lm_export *e) {
    int rc = lm_pthwrite_dict_begin(w, 1);
    for (int i = 0; rc == 0 && i < e->n; i++) {
        const lm_export_tensor *t = &e->t[i];
        if ((rc = lm_pthwrite_str(w, t->name)) == 0)
            rc = lm_pthwrite_tensor(w, t->dtype, t->shape, t->ndim, t->data, t->nbytes);
    }
    return rc ? rc : lm_pthwrite_end(w);
}

int lm_export_write_state_dict(const lm_export *e, const char *path) {
    lm_pthwrite *w = NULL;
    int rc = lm_pthwrite_create(&w);
    if (rc == 0) rc = put_state_dict(w, e);
    if (rc == 0) rc = lm_pthwrite_write(w, path);
    lm_pthwrite_free(w);
    return rc < 0 ? lm_err_prefix("export") : 0;
}

int lm_export_write_ckpt(const lm_export *e, const char *path, int64_t epoch, int64_t global_step) {
    lm_pthwrite *w = NULL;
    int rc = lm_pthwrite_create(&w);
    if (rc == 0) rc = lm_pthwrite_dict_begin(w, 0);
    if (rc == 0) rc = lm_pthwrite_str(w, "state_dict");
    if (rc == 0) rc = put_state_dict(w, e);
    if (rc == 0) rc = lm_pthwrite_str(w, "epoch");
    if (rc == 0) rc = lm_pthwrite_int(w, epoch);
    if (rc == 0) rc = lm_pthwrite_str(w, "global_step");
    if (rc == 0) rc = lm_pthwrite_int(w, global_step);
    if (rc == 0) rc = lm_pthwrite_str(w, "pytorch-lightning_version");
    if (rc == 0) rc = lm_pthwrite_str(w, "1.2.9"); /* the version the official code pins */
    if (rc == 0) rc = lm_pthwrite_end(w);
    if (rc == 0) rc = lm_pthwrite_write(w, path);
    lm_pthwrite_free(w);
    return rc < 0 ? lm_err_prefix("export") : 0;
}
