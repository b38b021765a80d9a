/* pthwrite.c — torch.save's zip format (see pthwrite.h). Mirrors torch/serialization.py
 * _save: the pickler's persistent_id for storages, Tensor.__reduce_ex__ ->
 * torch._utils._rebuild_tensor_v2, OrderedDict.__reduce__, and PyTorchStreamWriter's records. */
#include "io/pthwrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "io/pkwrite.h"
#include "io/safetensors.h" /* lm_dtype */
#include "io/zipwrite.h"

#define MAX_DEPTH 64
#define BATCH 1000 /* pickle's _BATCHSIZE */

typedef struct {
    int kind;        /* 'd' dict, 'l' list */
    int64_t items;   /* values given in this container */
    int in_batch;    /* a MARK is open */
    int batch_n;     /* items (dict: pairs) in the open batch */
} frame;

typedef struct {
    const void *data;
    size_t nbytes;
} storage;

struct lm_pthwrite {
    pk_writer pk;
    frame st[MAX_DEPTH];
    int depth;
    int roots;       /* complete top-level values */
    storage *s;
    int ns, caps;
    int have_storage_str, have_cpu_str;
    uint32_t storage_memo, cpu_memo;
    int failed;
};

static const struct { int dt; const char *name; } g_storage_names[] = {
    {LM_DT_F32, "FloatStorage"}, {LM_DT_F64, "DoubleStorage"}, {LM_DT_F16, "HalfStorage"},
    {LM_DT_BF16, "BFloat16Storage"}, {LM_DT_I64, "LongStorage"}, {LM_DT_I32, "IntStorage"},
    {LM_DT_I16, "ShortStorage"}, {LM_DT_I8, "CharStorage"}, {LM_DT_U8, "ByteStorage"},
    {LM_DT_BOOL, "BoolStorage"},
};

const char *lm_pthwrite_storage_name(int dtype) {
    for (size_t i = 0; i < sizeof g_storage_names / sizeof *g_storage_names; i++)
        if (g_storage_names[i].dt == dtype) return g_storage_names[i].name;
    return NULL;
}

int lm_pthwrite_create(lm_pthwrite **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return lm_err_code(LM_ENOMEM, "pth writer: out of memory");
    pk_w_init(&(*out)->pk);
    return 0;
}

void lm_pthwrite_free(lm_pthwrite *w) {
    if (!w) return;
    pk_w_free(&w->pk);
    free(w->s);
    free(w);
}

static int fail(lm_pthwrite *w, int rc) {
    w->failed = 1;
    return rc;
}

/* Before a value: opens a batch in the enclosing container when needed. */
static int before_value(lm_pthwrite *w) {
    if (w->failed) return lm_err_code(LM_EINVAL, "pth writer: used after an error");
    if (!w->depth) {
        if (w->roots) return fail(w, lm_err_code(LM_EINVAL, "pth writer: more than one top-level value"));
        return 0;
    }
    frame *f = &w->st[w->depth - 1];
    int key_pos = f->kind == 'd' ? !(f->items % 2) : 1;
    if (key_pos && !f->in_batch) {
        pk_w_op(&w->pk, PKW_MARK);
        f->in_batch = 1;
        f->batch_n = 0;
    }
    return 0;
}

/* After a complete value. */
static void after_value(lm_pthwrite *w) {
    if (!w->depth) { w->roots++; return; }
    frame *f = &w->st[w->depth - 1];
    f->items++;
    int done = f->kind == 'd' ? !(f->items % 2) : 1;
    if (!done) return;
    if (++f->batch_n == BATCH) {
        pk_w_op(&w->pk, f->kind == 'd' ? PKW_SETITEMS : PKW_APPENDS);
        f->in_batch = 0;
    }
}

static int push_frame(lm_pthwrite *w, int kind) {
    if (w->depth == MAX_DEPTH) return fail(w, lm_err_code(LM_EINVAL, "pth writer: nesting deeper than %d", MAX_DEPTH));
    w->st[w->depth++] = (frame){.kind = kind};
    return 0;
}

int lm_pthwrite_dict_begin(lm_pthwrite *w, int ordered) {
    int rc = before_value(w);
    if (rc < 0) return rc;
    if (ordered) {
        pk_w_global(&w->pk, "collections", "OrderedDict");
        pk_w_op(&w->pk, PKW_EMPTY_TUPLE);
        pk_w_op(&w->pk, PKW_REDUCE);
    } else {
        pk_w_op(&w->pk, PKW_EMPTY_DICT);
    }
    pk_w_put(&w->pk);
    return push_frame(w, 'd');
}

int lm_pthwrite_list_begin(lm_pthwrite *w) {
    int rc = before_value(w);
    if (rc < 0) return rc;
    pk_w_op(&w->pk, PKW_EMPTY_LIST);
    pk_w_put(&w->pk);
    return push_frame(w, 'l');
}

int lm_pthwrite_end(lm_pthwrite *w) {
    if (w->failed) return lm_err_code(LM_EINVAL, "pth writer: used after an error");
    if (!w->depth) return fail(w, lm_err_code(LM_EINVAL, "pth writer: end without an open dict or list"));
    frame *f = &w->st[w->depth - 1];
    if (f->kind == 'd' && f->items % 2) return fail(w, lm_err_code(LM_EINVAL, "pth writer: dict key without a value"));
    if (f->in_batch) pk_w_op(&w->pk, f->kind == 'd' ? PKW_SETITEMS : PKW_APPENDS);
    w->depth--;
    after_value(w);
    return 0;
}

/* 1 if s is valid UTF-8 without surrogates or overlong forms (what Python's decoder takes). */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        unsigned c = *s++;
        int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && c < 0xC2)) return 0;
        unsigned cp = n ? c & (0x3F >> n) : c;
        for (int i = 0; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        s += n;
    }
    return 1;
}

int lm_pthwrite_str(lm_pthwrite *w, const char *s) {
    if (!valid_utf8((const unsigned char *)s))
        return fail(w, lm_err_code(LM_EINVAL, "pth writer: string is not valid UTF-8: %.60s", s));
    int rc = before_value(w);
    if (rc < 0) return rc;
    pk_w_str(&w->pk, s, strlen(s));
    after_value(w);
    return 0;
}

int lm_pthwrite_int(lm_pthwrite *w, int64_t v) {
    int rc = before_value(w);
    if (rc < 0) return rc;
    pk_w_int(&w->pk, v);
    after_value(w);
    return 0;
}

int lm_pthwrite_float(lm_pthwrite *w, double v) {
    int rc = before_value(w);
    if (rc < 0) return rc;
    pk_w_float(&w->pk, v);
    after_value(w);
    return 0;
}

int lm_pthwrite_bool(lm_pthwrite *w, int v) {
    int rc = before_value(w);
    if (rc < 0) return rc;
    pk_w_bool(&w->pk, v);
    after_value(w);
    return 0;
}

int lm_pthwrite_none(lm_pthwrite *w) {
    int rc = before_value(w);
    if (rc < 0) return rc;
    pk_w_none(&w->pk);
    after_value(w);
    return 0;
}

int lm_pthwrite_tensor(lm_pthwrite *w, int dtype, const int64_t *shape, int ndim, const void *data,
                   size_t nbytes) {
    const char *sname = lm_pthwrite_storage_name(dtype);
    if (!sname) return fail(w, lm_err_code(LM_EINVAL, "pth writer: unsupported dtype %d", dtype));
    if (ndim < 0 || ndim > LM_SAFETENSORS_MAX_DIMS) return fail(w, lm_err_code(LM_EINVAL, "pth writer: %d dimensions", ndim));
    int64_t numel = lm_shape_numel(shape, ndim);
    if (numel < 0 || (uint64_t)numel * lm_dtype_size(dtype) != nbytes || (nbytes && !data))
        return fail(w, lm_err_code(LM_EINVAL, "pth writer: %zu bytes do not match the shape", nbytes));
    int rc = before_value(w);
    if (rc < 0) return rc;
    if (w->ns == w->caps) {
        int nc = w->caps ? 2 * w->caps : 64;
        storage *s = realloc(w->s, (size_t)nc * sizeof *s);
        if (!s) return fail(w, lm_err_code(LM_ENOMEM, "pth writer: out of memory"));
        w->s = s;
        w->caps = nc;
    }
    int key = w->ns;
    w->s[w->ns++] = (storage){data, nbytes};
    char kbuf[24];
    snprintf(kbuf, sizeof kbuf, "%d", key);
    pk_writer *p = &w->pk;
    /* _rebuild_tensor_v2, (storage, offset, size, stride, requires_grad, backward_hooks) */
    pk_w_global(p, "torch._utils", "_rebuild_tensor_v2");
    pk_w_op(p, PKW_MARK);
    /* persistent id: ('storage', torch.<T>Storage, key, 'cpu', numel) */
    pk_w_op(p, PKW_MARK);
    if (w->have_storage_str) pk_w_get(p, w->storage_memo);
    else { pk_w_str(p, "storage", 7); w->storage_memo = p->memo - 1; w->have_storage_str = 1; }
    pk_w_global(p, "torch", sname);
    pk_w_str(p, kbuf, strlen(kbuf));
    if (w->have_cpu_str) pk_w_get(p, w->cpu_memo);
    else { pk_w_str(p, "cpu", 3); w->cpu_memo = p->memo - 1; w->have_cpu_str = 1; }
    pk_w_int(p, numel);
    pk_w_op(p, PKW_TUPLE);
    pk_w_put(p);
    pk_w_op(p, PKW_BINPERSID);
    pk_w_int(p, 0); /* storage offset */
    int64_t stride[LM_SAFETENSORS_MAX_DIMS];
    int64_t acc = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = acc;
        acc *= shape[d];
    }
    pk_w_int_tuple(p, shape, ndim);
    pk_w_int_tuple(p, stride, ndim);
    pk_w_bool(p, 0); /* requires_grad */
    pk_w_global(p, "collections", "OrderedDict"); /* backward hooks: OrderedDict() */
    pk_w_op(p, PKW_EMPTY_TUPLE);
    pk_w_op(p, PKW_REDUCE);
    pk_w_put(p);
    pk_w_op(p, PKW_TUPLE);
    pk_w_put(p);
    pk_w_op(p, PKW_REDUCE);
    pk_w_put(p);
    after_value(w);
    return 0;
}

int lm_pthwrite_write(lm_pthwrite *w, const char *path) {
    if (w->failed) return lm_err_code(LM_EINVAL, "pth %s: the writer failed earlier", path);
    if (w->depth || w->roots != 1)
        return lm_err_code(LM_EINVAL, "pth %s: %s", path, w->depth ? "a dict or list is still open" : "no value to write");
    size_t n0 = w->pk.n; /* STOP is appended for this write and removed afterwards */
    pk_w_stop(&w->pk);
    int rc = pk_w_status(&w->pk);
    lm_zipwrite *z = NULL;
    char name[64];
    if (rc == 0) rc = lm_zipwrite_open(&z, path);
    if (rc == 0) rc = lm_zipwrite_add(z, "archive/data.pkl", w->pk.buf, w->pk.n);
    if (rc == 0) rc = lm_zipwrite_add(z, "archive/byteorder", "little", 6); /* as torch >= 2.1 */
    for (int i = 0; rc == 0 && i < w->ns; i++) {
        snprintf(name, sizeof name, "archive/data/%d", i);
        rc = lm_zipwrite_add(z, name, w->s[i].data, w->s[i].nbytes);
    }
    if (rc == 0) rc = lm_zipwrite_add(z, "archive/version", "3\n", 2);
    if (z) {
        if (rc == 0) rc = lm_zipwrite_close(z);
        else lm_zipwrite_abort(z);
    }
    w->pk.n = n0;
    if (rc < 0) return lm_err_prefix("pth %s", path);
    return 0;
}
