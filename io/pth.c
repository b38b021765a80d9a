/* pth.c — PyTorch checkpoint reader (see pth.h). Mirrors torch/serialization.py's
 * _load (zip) and _legacy_load, with the storages bound to mmapped bytes instead of
 * torch storages, then flattens the unpickled value into named tensors. */
#include "io/pth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "io/pickle.h"
#include "io/zipread.h"

#define MAX_DEPTH 64
#define MAX_META 10000

struct lm_pth {
    char *path;
    const char *format;
    void *map;
    size_t map_len;
    const uint8_t *buf;
    size_t len;
    lm_safetensors_entry *e;
    int n, cap;
    int *sorted;
    void **owned;           /* materialised copies, freed with the file */
    int nowned, capowned;
    char **mkey, **mval;
    int nmeta, capmeta;
    size_t copied, copy_limit;
    size_t visits, visit_limit;
};

void lm_pth_free(lm_pth *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->e[i].name);
    for (int i = 0; i < p->nowned; i++) free(p->owned[i]);
    for (int i = 0; i < p->nmeta; i++) { free(p->mkey[i]); free(p->mval[i]); }
    free(p->e); free(p->sorted); free(p->owned); free(p->mkey); free(p->mval);
    if (p->map) munmap(p->map, p->map_len);
    free(p->path);
    free(p);
}

int lm_pth_count(const lm_pth *p) { return p ? p->n : 0; }
const lm_safetensors_entry *lm_pth_get(const lm_pth *p, int i) { return (p && i >= 0 && i < p->n) ? &p->e[i] : NULL; }
const char *lm_pth_format(const lm_pth *p) { return p ? p->format : NULL; }
int lm_pth_meta_count(const lm_pth *p) { return p ? p->nmeta : 0; }

int lm_pth_meta_get(const lm_pth *p, int i, const char **key, const char **value) {
    if (!p || i < 0 || i >= p->nmeta) return LM_EINVAL;
    if (key) *key = p->mkey[i];
    if (value) *value = p->mval[i];
    return 0;
}

const char *lm_pth_meta(const lm_pth *p, const char *key) {
    if (!p || !key) return NULL;
    for (int i = 0; i < p->nmeta; i++)
        if (!strcmp(p->mkey[i], key)) return p->mval[i];
    return NULL;
}

const lm_safetensors_entry *lm_pth_find(const lm_pth *p, const char *name) {
    if (!p || !name) return NULL;
    int lo = 0, hi = p->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(p->e[p->sorted[mid]].name, name);
        if (!c) return &p->e[p->sorted[mid]];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

/* ---- storage table (one node per storage key) ------------------------------------------------ */
typedef struct {
    pk_node **slot; /* open addressing on the key string */
    size_t cap, n;
} stable;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
    return h;
}

static pk_node **st_slot(stable *t, const char *key, size_t kl) {
    size_t i = (size_t)hash_bytes(key, kl) & (t->cap - 1);
    while (t->slot[i] && !(t->slot[i]->slen == kl && !memcmp(t->slot[i]->s, key, kl))) i = (i + 1) & (t->cap - 1);
    return &t->slot[i];
}

static pk_node *st_find(stable *t, const char *key, size_t kl) {
    return t->cap ? *st_slot(t, key, kl) : NULL;
}

static int st_insert(stable *t, pk_node *n) {
    if (2 * (t->n + 1) > t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 64;
        stable nt = {calloc(nc, sizeof(pk_node *)), nc, 0};
        if (!nt.slot) return lm_err_code(LM_ENOMEM, "out of memory");
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i]) { *st_slot(&nt, t->slot[i]->s, t->slot[i]->slen) = t->slot[i]; nt.n++; }
        free(t->slot);
        *t = nt;
    }
    *st_slot(t, n->s, n->slen) = n;
    t->n++;
    return 0;
}

/* ---- persistent ids ----------------------------------------------------------------------- */
typedef struct {
    lm_pth *p;
    stable tab;
    const lm_zipread *zip;
    const char *prefix; /* zip record prefix, e.g. "archive" */
    int legacy;
} loadctx;

/* Parses ('storage', storage_type, key, location, numel[, view_metadata]). */
static int pid_storage(pk_node *pid, int *dtype, pk_node **key, int64_t *numel, pk_node **view) {
    if (pid->type != PK_TUPLE || pid->n < 5)
        return lm_err_code(LM_EINVAL, "unsupported persistent id (expected a ('storage', ...) tuple)");
    pk_node *ty = pid->items[1];
    if (ty->type != PK_GLOBAL || ty->i != PKG_STORAGE)
        return lm_err_code(LM_EINVAL, "persistent id: storage type is not a torch storage class");
    if (pid->items[2]->type != PK_STR || pid->items[4]->type != PK_INT || pid->items[4]->i < 0)
        return lm_err_code(LM_EINVAL, "persistent id: bad storage key or size");
    *dtype = ty->dtype;
    *key = pid->items[2];
    *numel = pid->items[4]->i;
    *view = pid->n > 5 ? pid->items[5] : NULL;
    return 0;
}

static int persid(void *ud, pk_arena *a, pk_node *pid, pk_node **out) {
    loadctx *c = ud;
    int dtype = -1, rc;
    pk_node *key = NULL, *view = NULL;
    int64_t numel = 0;
    if (pid->type == PK_TUPLE && pid->n >= 2 && pk_is_str(pid->items[0], "module")) {
        *out = pid->items[1]; /* legacy: a module class, kept opaque */
        return 0;
    }
    if (pid->type != PK_TUPLE || !pid->n || !pk_is_str(pid->items[0], "storage"))
        return lm_err_code(LM_EINVAL, "unsupported persistent id");
    if ((rc = pid_storage(pid, &dtype, &key, &numel, &view)) < 0) return rc;
    size_t es = lm_dtype_size(dtype);
    pk_node *s = st_find(&c->tab, key->s, key->slen);
    if (!s) {
        if ((uint64_t)numel > SIZE_MAX / es) return lm_err_code(LM_EINVAL, "storage %.64s: size overflows", key->s);
        if (!(s = pk_new(a, PK_STORAGE))) return LM_ENOMEM;
        if (memchr(key->s, 0, key->slen)) return lm_err_code(LM_EINVAL, "storage key with a NUL byte");
        if (!(s->s = strdup(key->s))) return lm_err_code(LM_ENOMEM, "out of memory");
        s->slen = key->slen;
        s->dtype = dtype;
        s->numel = numel;
        if (!c->legacy) {
            char name[512];
            snprintf(name, sizeof name, "%s/data/%.400s", c->prefix, key->s);
            const lm_zipread_entry *z = lm_zipread_find(c->zip, name);
            if (!z) return lm_err_code(LM_EINVAL, "storage record %s missing", name);
            if (z->method != 0) return lm_err_code(LM_ENOTSUP, "storage record %s is compressed (method %d); torch.save writes stored records", name, z->method);
            if (z->size < (uint64_t)numel * es) return lm_err_code(LM_EINVAL, "storage record %s holds %llu bytes, needs %llu", name, (unsigned long long)z->size, (unsigned long long)((uint64_t)numel * es));
            s->data = z->data;
        }
        if ((rc = st_insert(&c->tab, s)) < 0) return rc;
    } else if (s->dtype != dtype) {
        return lm_err_code(LM_EINVAL, "storage %.64s used with two dtypes", key->s);
    }
    if (view && view->type != PK_NONE) {
        /* legacy view: (view_key, offset, view_size), in elements of the storage type */
        if (view->type != PK_TUPLE || view->n != 3 || view->items[1]->type != PK_INT || view->items[2]->type != PK_INT ||
            view->items[1]->i < 0 || view->items[2]->i < 0)
            return lm_err_code(LM_EINVAL, "storage %.64s: bad view metadata", key->s);
        pk_node *v = pk_new(a, PK_STORAGE);
        if (!v) return LM_ENOMEM;
        v->dtype = dtype;
        v->i = view->items[1]->i;
        v->numel = view->items[2]->i;
        v->items = malloc(sizeof *v->items);
        if (!v->items) return lm_err_code(LM_ENOMEM, "out of memory");
        v->items[0] = s; v->n = v->cap = 1;
        *out = v;
        return 0;
    }
    *out = s;
    return 0;
}

/* ---- flattening -------------------------------------------------------------------------- */
static int add_owned(lm_pth *p, void *m) {
    if (p->nowned == p->capowned) {
        int nc = p->capowned ? 2 * p->capowned : 16;
        void **o = realloc(p->owned, (size_t)nc * sizeof *o);
        if (!o) return lm_err_code(LM_ENOMEM, "out of memory");
        p->owned = o; p->capowned = nc;
    }
    p->owned[p->nowned++] = m;
    return 0;
}

/* Resolves a storage node to (bytes, element count in the tensor's dtype). */
static int storage_bytes(const pk_node *s, int tdtype, const uint8_t **data, uint64_t *avail) {
    size_t ses = lm_dtype_size(s->dtype), tes = lm_dtype_size(tdtype);
    const pk_node *root = s->n ? s->items[0] : s;
    uint64_t off = 0, numel = (uint64_t)s->numel;
    if (s->n) {
        off = (uint64_t)s->i;
        if (off > (uint64_t)root->numel || numel > (uint64_t)root->numel - off)
            return lm_err_code(LM_EINVAL, "storage view [%llu, +%llu) outside its storage of %lld elements",
                               (unsigned long long)off, (unsigned long long)numel, (long long)root->numel);
    }
    if (numel && !root->data) return lm_err_code(LM_EINVAL, "storage %.64s has no data in the file", root->s ? root->s : "?");
    *data = root->data ? root->data + off * ses : NULL;
    *avail = numel * ses / tes;
    return 0;
}

static int add_tensor(lm_pth *p, const char *name, const pk_node *t) {
    int rc;
    size_t es = lm_dtype_size(t->dtype);
    if (!es) return lm_err_code(LM_EINVAL, "unknown dtype");
    const uint8_t *base = NULL;
    uint64_t avail = 0;
    if ((rc = storage_bytes(t->items[0], t->dtype, &base, &avail)) < 0) return rc;
    int64_t numel = lm_shape_numel(t->size, t->ndim);
    if (numel < 0 || t->offset < 0 || (uint64_t)numel > SIZE_MAX / es)
        return lm_err_code(LM_EINVAL, "bad size or storage offset");
    int contiguous = 1;
    uint64_t maxidx = (uint64_t)t->offset, expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->stride[d] < 0) return lm_err_code(LM_EINVAL, "negative stride");
        if (t->size[d] != 1 && (uint64_t)t->stride[d] != expect) contiguous = 0;
        expect *= (uint64_t)t->size[d];
        if (numel && t->size[d] > 1) {
            uint64_t span = (uint64_t)(t->size[d] - 1);
            if ((uint64_t)t->stride[d] && span > (UINT64_MAX / 2) / (uint64_t)t->stride[d])
                return lm_err_code(LM_EINVAL, "stride overflow");
            maxidx += span * (uint64_t)t->stride[d];
            if (maxidx > (UINT64_MAX / 2)) return lm_err_code(LM_EINVAL, "stride overflow");
        }
    }
    if (numel && maxidx >= avail)
        return lm_err_code(LM_EINVAL, "tensor reaches element %llu of a storage of %llu", (unsigned long long)maxidx, (unsigned long long)avail);
    if (p->n == p->cap) {
        int nc = p->cap ? 2 * p->cap : 64;
        lm_safetensors_entry *e = realloc(p->e, (size_t)nc * sizeof *e);
        if (!e) return lm_err_code(LM_ENOMEM, "out of memory");
        p->e = e; p->cap = nc;
    }
    lm_safetensors_entry *e = &p->e[p->n];
    memset(e, 0, sizeof *e);
    e->dtype = t->dtype;
    e->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) e->shape[d] = t->size[d];
    e->nbytes = (size_t)numel * es;
    if (!numel) {
        e->data = NULL;
    } else if (contiguous) {
        e->data = base + (size_t)t->offset * es;
    } else {
        if (e->nbytes > p->copy_limit - p->copied)
            return lm_err_code(LM_EINVAL, "strided tensors would copy more than %zu bytes", p->copy_limit);
        uint8_t *dst = malloc(e->nbytes);
        if (!dst) return lm_err_code(LM_ENOMEM, "out of memory (%zu bytes)", e->nbytes);
        if ((rc = add_owned(p, dst)) < 0) { free(dst); return rc; }
        p->copied += e->nbytes;
        int64_t idx[LM_SAFETENSORS_MAX_DIMS] = {0};
        int nd = t->ndim;
        int64_t inner = nd ? t->size[nd - 1] : 1, istride = nd ? t->stride[nd - 1] : 1;
        size_t k = 0;
        for (;;) {
            int64_t off = t->offset;
            for (int d = 0; d < nd - 1; d++) off += idx[d] * t->stride[d];
            if (istride == 1) {
                memcpy(dst + k, base + (size_t)off * es, (size_t)inner * es);
                k += (size_t)inner * es;
            } else {
                for (int64_t j = 0; j < inner; j++, k += es) memcpy(dst + k, base + (size_t)(off + j * istride) * es, es);
            }
            int d = nd - 2;
            while (d >= 0 && ++idx[d] == t->size[d]) idx[d--] = 0;
            if (d < 0) break;
        }
        e->data = dst;
    }
    if (!(e->name = strdup(name))) return lm_err_code(LM_ENOMEM, "out of memory");
    p->n++;
    return 0;
}

static int add_meta(lm_pth *p, const char *key, const char *val) {
    if (p->nmeta >= MAX_META) return 0;
    for (int i = 0; i < p->nmeta; i++)
        if (!strcmp(p->mkey[i], key)) return 0;
    if (p->nmeta == p->capmeta) {
        int nc = p->capmeta ? 2 * p->capmeta : 16;
        char **a = realloc(p->mkey, (size_t)nc * sizeof *a);
        if (a) p->mkey = a;
        char **b = a ? realloc(p->mval, (size_t)nc * sizeof *b) : NULL;
        if (b) p->mval = b;
        if (!a || !b) return lm_err_code(LM_ENOMEM, "out of memory");
        p->capmeta = nc;
    }
    char *k = strdup(key), *v = strdup(val);
    if (!k || !v) { free(k); free(v); return lm_err_code(LM_ENOMEM, "out of memory"); }
    p->mkey[p->nmeta] = k; p->mval[p->nmeta] = v; p->nmeta++;
    return 0;
}

/* Key text of a dict key: strings as they are, ints in decimal; 0 if not representable. */
static int key_text(const pk_node *k, char *buf, size_t n) {
    if (k->type == PK_STR && k->slen < n && !memchr(k->s, 0, k->slen)) { memcpy(buf, k->s, k->slen + 1); return 1; }
    if (k->type == PK_INT) { snprintf(buf, n, "%lld", (long long)k->i); return 1; }
    return 0;
}

/* Walks v at path. tensors: collect tensors (else scalars as metadata). */
static int walk(lm_pth *p, const pk_node *v, char *path, size_t plen, int depth, int tensors, const pk_node *skip) {
    int rc;
    char val[64];
    if (++p->visits > p->visit_limit) return lm_err_code(LM_EINVAL, "object graph too large (shared references?)");
    switch (v->type) {
    case PK_TENSOR:
        if (!tensors) return 0;
        if ((rc = add_tensor(p, path, v)) < 0) return lm_err_prefix("tensor \"%.200s\"", path);
        return 0;
    case PK_DICT: case PK_LIST: case PK_TUPLE: {
        if (depth >= MAX_DEPTH) {
            if (!tensors) return 0;
            return lm_err_code(LM_EINVAL, "\"%.200s\": nesting deeper than %d (cyclic?)", path, MAX_DEPTH);
        }
        int dict = v->type == PK_DICT;
        for (size_t i = 0; i < v->n; i += dict ? 2 : 1) {
            char key[256];
            const pk_node *child = dict ? v->items[i + 1] : v->items[i];
            if (dict && child == skip) continue;
            if (dict) { if (!key_text(v->items[i], key, sizeof key)) continue; }
            else snprintf(key, sizeof key, "%zu", i);
            size_t kl = strlen(key), nl = plen + (plen ? 1 : 0) + kl;
            if (nl >= 4096) continue;
            if (plen) path[plen] = '.';
            memcpy(path + plen + (plen ? 1 : 0), key, kl + 1);
            rc = walk(p, child, path, nl, depth + 1, tensors, skip);
            path[plen] = 0;
            if (rc < 0) return rc;
        }
        return 0;
    }
    default: break;
    }
    if (tensors && plen == 0) return 0;
    if (!plen) return 0;
    switch (v->type) {
    case PK_INT: snprintf(val, sizeof val, "%lld", (long long)v->i); return add_meta(p, path, val);
    case PK_BOOL: return add_meta(p, path, v->i ? "True" : "False");
    case PK_NONE: return add_meta(p, path, "None");
    case PK_FLOAT: /* like Python's repr: shortest round-trip, "3.0" not "3" */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(val, sizeof val, "%.*g", prec, v->f);
            if (strtod(val, NULL) == v->f) break;
        }
        if (!strpbrk(val, ".eni")) strcat(val, ".0");
        return add_meta(p, path, val);
    case PK_STR:
        if (memchr(v->s, 0, v->slen)) return 0;
        return add_meta(p, path, v->s);
    default: return 0;
    }
}

static _Thread_local const lm_pth *t_sort;
static int name_cmp(const void *a, const void *b) {
    const lm_pth *p = t_sort;
    return strcmp(p->e[*(const int *)a].name, p->e[*(const int *)b].name);
}

static int flatten(lm_pth *p, const pk_node *root) {
    int rc;
    char *path = calloc(1, 4096 + 300);
    if (!path) return lm_err_code(LM_ENOMEM, "out of memory");
    const pk_node *sd = pk_dict_get(root, "state_dict");
    if (sd && sd->type != PK_DICT) sd = NULL;
    if (root->type == PK_TENSOR) {
        rc = add_tensor(p, "tensor", root);
    } else {
        rc = walk(p, sd ? sd : root, path, 0, 0, 1, NULL);
        if (rc >= 0) rc = walk(p, root, path, 0, 0, 0, sd); /* metadata, skipping the state_dict */
    }
    free(path);
    if (rc < 0) return rc;
    p->sorted = malloc((size_t)(p->n ? p->n : 1) * sizeof *p->sorted);
    if (!p->sorted) return lm_err_code(LM_ENOMEM, "out of memory");
    for (int i = 0; i < p->n; i++) p->sorted[i] = i;
    t_sort = p;
    qsort(p->sorted, (size_t)p->n, sizeof *p->sorted, name_cmp);
    for (int i = 1; i < p->n; i++)
        if (!strcmp(p->e[p->sorted[i]].name, p->e[p->sorted[i - 1]].name))
            return lm_err_code(LM_EINVAL, "duplicate tensor name \"%.200s\"", p->e[p->sorted[i]].name);
    return 0;
}

/* ---- formats ----------------------------------------------------------------------------- */
static int load_zip(lm_pth *p, unsigned flags, pk_arena *a, pk_node **root) {
    int rc;
    lm_zipread *z = NULL;
    loadctx c = {0};
    char prefix[256], name[320];
    if ((rc = lm_zipread_open(&z, p->buf, p->len)) < 0) return rc;
    const lm_zipread_entry *pkl = NULL;
    for (int i = 0; i < lm_zipread_count(z); i++) {
        const lm_zipread_entry *e = lm_zipread_get(z, i);
        const char *sl = strchr(e->name, '/');
        if (sl && sl - e->name < (long)sizeof prefix && !strcmp(sl + 1, "data.pkl")) { pkl = e; break; }
    }
    if (!pkl) { rc = lm_err_code(LM_EINVAL, "zip without <prefix>/data.pkl (not a torch.save file; TorchScript archives are not read)"); goto cleanup; }
    size_t pl = (size_t)(strchr(pkl->name, '/') - pkl->name);
    memcpy(prefix, pkl->name, pl); prefix[pl] = 0;
    if (pkl->method != 0) { rc = lm_err_code(LM_ENOTSUP, "%s is compressed (method %d)", pkl->name, pkl->method); goto cleanup; }
    snprintf(name, sizeof name, "%s/byteorder", prefix);
    const lm_zipread_entry *bo = lm_zipread_find(z, name);
    if (bo && bo->method == 0 && bo->size == 3 && !memcmp(bo->data, "big", 3)) {
        rc = lm_err_code(LM_ENOTSUP, "big-endian checkpoint");
        goto cleanup;
    }
    c.p = p; c.zip = z; c.prefix = prefix;
    rc = pk_load(a, pkl->data, (size_t)pkl->size, flags, persid, &c, root, NULL);
    if (rc < 0) lm_err_prefix("%s", pkl->name);
cleanup:
    free(c.tab.slot);
    lm_zipread_free(z);
    return rc;
}

static const uint8_t g_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static int load_legacy(lm_pth *p, unsigned flags, pk_arena *a, pk_node **root) {
    int rc;
    loadctx c = {0};
    pk_node *v = NULL;
    size_t pos = 0, used = 0;
    c.p = p; c.legacy = 1;
    if ((rc = pk_load(a, p->buf, p->len, flags, NULL, NULL, &v, &used)) < 0) return rc;
    if (v->type != PK_BIGINT || v->slen != sizeof g_magic || memcmp(v->s, g_magic, sizeof g_magic))
        return lm_err_code(LM_EINVAL, "not a PyTorch file (bad magic number)");
    pos += used;
    if ((rc = pk_load(a, p->buf + pos, p->len - pos, flags, NULL, NULL, &v, &used)) < 0) return rc;
    if (v->type != PK_INT || v->i != 1001) return lm_err_code(LM_ENOTSUP, "legacy protocol version is not 1001");
    pos += used;
    if ((rc = pk_load(a, p->buf + pos, p->len - pos, flags, NULL, NULL, &v, &used)) < 0) return lm_err_prefix("sys info");
    pk_node *le = pk_dict_get(v, "little_endian");
    if (le && le->type == PK_BOOL && !le->i) return lm_err_code(LM_ENOTSUP, "big-endian checkpoint");
    pos += used;
    if ((rc = pk_load(a, p->buf + pos, p->len - pos, flags, persid, &c, root, &used)) < 0) goto cleanup;
    pos += used;
    pk_node *keys = NULL;
    if ((rc = pk_load(a, p->buf + pos, p->len - pos, flags, NULL, NULL, &keys, &used)) < 0) { lm_err_prefix("storage keys"); goto cleanup; }
    pos += used;
    if (keys->type != PK_LIST) { rc = lm_err_code(LM_EINVAL, "storage keys: not a list"); goto cleanup; }
    for (size_t i = 0; i < keys->n; i++) {
        pk_node *k = keys->items[i];
        if (k->type != PK_STR) { rc = lm_err_code(LM_EINVAL, "storage key %zu: not a string", i); goto cleanup; }
        pk_node *s = st_find(&c.tab, k->s, k->slen);
        if (!s) { rc = lm_err_code(LM_EINVAL, "storage key %.64s: not referenced by the pickle", k->s); goto cleanup; }
        if (s->data) { rc = lm_err_code(LM_EINVAL, "storage key %.64s: listed twice", k->s); goto cleanup; }
        if (p->len - pos < 8) { rc = lm_err_code(LM_EINVAL, "storage %.64s: truncated", k->s); goto cleanup; }
        uint64_t numel = 0;
        for (int b = 7; b >= 0; b--) numel = (numel << 8) | p->buf[pos + (size_t)b];
        pos += 8;
        size_t es = lm_dtype_size(s->dtype);
        if (numel > (p->len - pos) / es) {
            rc = lm_err_code(LM_EINVAL, "storage %.64s: %llu elements past the end of the file", k->s, (unsigned long long)numel);
            goto cleanup;
        }
        if (numel < (uint64_t)s->numel) {
            rc = lm_err_code(LM_EINVAL, "storage %.64s: %llu elements in the file, %lld expected", k->s, (unsigned long long)numel, (long long)s->numel);
            goto cleanup;
        }
        s->numel = (int64_t)numel;
        s->data = p->buf + pos;
        pos += (size_t)numel * es;
    }
cleanup:
    free(c.tab.slot);
    return rc;
}

static int load_common(lm_pth *p, unsigned flags) {
    int rc;
    pk_arena a = {0};
    pk_node *root = NULL;
    unsigned pf = (flags & LM_PTH_OPAQUE_UNKNOWN) ? PK_OPAQUE_UNKNOWN : 0;
    p->copy_limit = p->len * 2 + ((size_t)256 << 20);
    if (p->len >= 4 && !memcmp(p->buf, "PK\x03\x04", 4)) {
        p->format = "zip";
        rc = load_zip(p, pf, &a, &root);
    } else if (p->len >= 2 && p->buf[0] == 0x80) {
        p->format = "legacy";
        rc = load_legacy(p, pf, &a, &root);
    } else if (p->len >= 262 && !memcmp(p->buf + 257, "ustar", 5)) {
        rc = lm_err_code(LM_ENOTSUP, "tar-format checkpoint (PyTorch < 0.4) is not supported");
    } else {
        rc = lm_err_code(LM_EINVAL, "not a PyTorch file (neither a zip nor a pickle)");
    }
    if (rc >= 0) {
        p->visit_limit = 4 * a.count + 1024;
        rc = flatten(p, root);
    }
    pk_arena_free(&a);
    if (rc < 0) lm_err_prefix("pth %s", p->path);
    return rc;
}

int lm_pth_load_buffer(lm_pth **out, const void *buf, size_t len, const char *name, unsigned flags) {
    *out = NULL;
    lm_pth *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(name ? name : "<buffer>"))) { free(p); return lm_err_code(LM_ENOMEM, "out of memory"); }
    p->buf = buf; p->len = len;
    int rc = load_common(p, flags);
    if (rc < 0) { lm_pth_free(p); return rc; }
    *out = p;
    return 0;
}

int lm_pth_load_ex(lm_pth **out, const char *path, unsigned flags) {
    int rc = 0, fd = -1;
    *out = NULL;
    lm_pth *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) { free(p); return lm_err_code(LM_ENOMEM, "out of memory"); }
    struct stat st;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) { rc = lm_err_code(LM_EIO, "pth %s: cannot open: %s", path, strerror(errno)); goto cleanup; }
    if (!S_ISREG(st.st_mode)) { rc = lm_err_code(LM_EIO, "pth %s: not a regular file", path); goto cleanup; }
    p->len = (size_t)st.st_size;
    if (p->len) {
        p->map = mmap(NULL, p->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p->map == MAP_FAILED) { p->map = NULL; rc = lm_err_code(LM_EIO, "pth %s: mmap: %s", path, strerror(errno)); goto cleanup; }
        p->map_len = p->len;
        p->buf = p->map;
    }
    rc = load_common(p, flags);
cleanup:
    if (fd >= 0) close(fd);
    if (rc < 0) { lm_pth_free(p); return rc; }
    *out = p;
    return 0;
}

int lm_pth_load(lm_pth **out, const char *path) { return lm_pth_load_ex(out, path, 0); }
