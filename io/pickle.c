/* pickle.c — data-only unpickler (see pickle.h). Mirrors the subset of CPython's
 * Lib/pickle.py _Unpickler that torch.save (torch/serialization.py) output needs, without
 * ever importing or calling anything. */
#include "io/pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "io/safetensors.h" /* lm_dtype */

#define PK_MAX_NODES (8u << 20)   /* objects per file */
#define PK_MAX_DIMS 8

void pk_arena_free(pk_arena *a) {
    if (!a) return;
    pk_node *n = a->all;
    while (n) {
        pk_node *next = n->next_alloc;
        free(n->s); free(n->items); free(n->size);
        free(n);
        n = next;
    }
    a->all = NULL; a->count = 0;
}

pk_node *pk_new(pk_arena *a, int type) {
    if (a->count >= PK_MAX_NODES) { lm_err_code(LM_EINVAL, "more than %u objects", PK_MAX_NODES); return NULL; }
    pk_node *n = calloc(1, sizeof *n);
    if (!n) { lm_err_code(LM_ENOMEM, "out of memory"); return NULL; }
    n->type = type;
    n->dtype = -1;
    n->next_alloc = a->all;
    a->all = n;
    a->count++;
    return n;
}

static int pk_append(pk_node *c, pk_node *v) {
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 4;
        pk_node **it = realloc(c->items, nc * sizeof *it);
        if (!it) return lm_err_code(LM_ENOMEM, "out of memory");
        c->items = it; c->cap = nc;
    }
    c->items[c->n++] = v;
    return 0;
}

int pk_is_str(const pk_node *n, const char *s) {
    return n && n->type == PK_STR && n->slen == strlen(s) && !memcmp(n->s, s, n->slen);
}

pk_node *pk_dict_get(const pk_node *d, const char *key) {
    if (!d || d->type != PK_DICT) return NULL;
    pk_node *r = NULL;
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (pk_is_str(d->items[i], key)) r = d->items[i + 1];
    return r;
}

/* ---- globals policy ------------------------------------------------------------------------ */
static const struct { const char *name; int dt; } g_storages[] = {
    {"FloatStorage", LM_DT_F32}, {"DoubleStorage", LM_DT_F64}, {"HalfStorage", LM_DT_F16},
    {"BFloat16Storage", LM_DT_BF16}, {"LongStorage", LM_DT_I64}, {"IntStorage", LM_DT_I32},
    {"ShortStorage", LM_DT_I16}, {"CharStorage", LM_DT_I8}, {"ByteStorage", LM_DT_U8},
    {"BoolStorage", LM_DT_BOOL}, {"UntypedStorage", LM_DT_U8},
};
static const struct { const char *name; int dt; } g_torch_dtypes[] = {
    {"float32", LM_DT_F32}, {"float", LM_DT_F32}, {"float64", LM_DT_F64}, {"double", LM_DT_F64},
    {"float16", LM_DT_F16}, {"half", LM_DT_F16}, {"bfloat16", LM_DT_BF16}, {"int64", LM_DT_I64},
    {"long", LM_DT_I64}, {"int32", LM_DT_I32}, {"int", LM_DT_I32}, {"int16", LM_DT_I16},
    {"short", LM_DT_I16}, {"int8", LM_DT_I8}, {"uint8", LM_DT_U8}, {"bool", LM_DT_BOOL},
};
/* Never accepted: modules whose callables run code or touch the system. */
static const char *const g_denied[] = {
    "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pickle",
    "_pickle", "marshal", "ctypes", "code", "codeop", "pty", "webbrowser", "types", "functools",
    "operator", "io", "_io", "multiprocessing", "threading", "_thread", "signal", "tempfile", "pdb",
    "timeit", "asyncio", "commands", "platform", "glob", "posixpath", "ntpath", "inspect", "gc",
    "site", "sysconfig", "builtins", "__builtin__", "dill", "cloudpickle", "shelve", "bdb", "trace",
    "profile", "cProfile", "http", "urllib", "ftplib", "smtplib", "telnetlib", "xmlrpc", NULL};
/* Data classes read as opaque objects (their state is kept, nothing is called). */
static const char *const g_known_roots[] = {
    "torch", "collections", "numpy", "_codecs", "copyreg", "copy_reg", "pytorch_lightning", "lightning",
    "lightning_fabric", "omegaconf", "typing", "pathlib", "argparse", "enum", "datetime", "decimal",
    "fractions", "saicinpainting", "torchvision", "__torch__", NULL};
static const char *const g_safe_builtins[] = {
    "object", "slice", "complex", "bytearray", "bytes", "tuple", "int", "float", "str", "bool",
    "range", "NotImplemented", "Ellipsis", "long", "unicode", NULL};

static int root_in(const char *mod, const char *const *list) {
    size_t l = strcspn(mod, ".");
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == l && !strncmp(mod, list[i], l)) return 1;
    return 0;
}
static int name_in(const char *name, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(name, list[i])) return 1;
    return 0;
}

/* Classifies module.name; returns 0 and sets kind/dtype, or an error if refused. */
static int classify(const char *mod, const char *name, unsigned flags, int *kind, int *dtype) {
    *kind = PKG_OPAQUE; *dtype = -1;
    int builtin = !strcmp(mod, "builtins") || !strcmp(mod, "__builtin__");
    if (builtin) {
        if (!strcmp(name, "dict")) { *kind = PKG_DICT; return 0; }
        if (!strcmp(name, "list")) { *kind = PKG_LIST; return 0; }
        if (!strcmp(name, "set")) { *kind = PKG_SET; return 0; }
        if (!strcmp(name, "frozenset")) { *kind = PKG_FROZENSET; return 0; }
        if (name_in(name, g_safe_builtins)) return 0;
    }
    if (!strcmp(mod, "collections") && !strcmp(name, "OrderedDict")) { *kind = PKG_ORDEREDDICT; return 0; }
    if (!strcmp(mod, "collections") && !strcmp(name, "defaultdict")) { *kind = PKG_DEFAULTDICT; return 0; }
    if (!strcmp(mod, "torch._utils")) {
        if (!strcmp(name, "_rebuild_tensor")) { *kind = PKG_REBUILD_TENSOR; return 0; }
        if (!strcmp(name, "_rebuild_tensor_v2")) { *kind = PKG_REBUILD_TENSOR_V2; return 0; }
        if (!strcmp(name, "_rebuild_tensor_v3")) { *kind = PKG_REBUILD_TENSOR_V3; return 0; }
        if (!strcmp(name, "_rebuild_parameter")) { *kind = PKG_REBUILD_PARAMETER; return 0; }
        if (!strcmp(name, "_rebuild_parameter_with_state")) { *kind = PKG_REBUILD_PARAMETER_STATE; return 0; }
    }
    if (!strcmp(mod, "torch") || !strcmp(mod, "torch.cuda") || !strcmp(mod, "torch.storage")) {
        for (size_t i = 0; i < sizeof g_storages / sizeof g_storages[0]; i++)
            if (!strcmp(name, g_storages[i].name)) { *kind = PKG_STORAGE; *dtype = g_storages[i].dt; return 0; }
    }
    if (!strcmp(mod, "torch")) {
        for (size_t i = 0; i < sizeof g_torch_dtypes / sizeof g_torch_dtypes[0]; i++)
            if (!strcmp(name, g_torch_dtypes[i].name)) { *kind = PKG_DTYPE; *dtype = g_torch_dtypes[i].dt; return 0; }
    }
    if (root_in(mod, g_denied) || strstr(name, "__") == name)
        return lm_err_code(LM_EINVAL, "global '%.100s.%.100s' refused: lamac reads data only and never calls code from a pickle", mod, name);
    if (root_in(mod, g_known_roots) || (flags & PK_OPAQUE_UNKNOWN)) return 0;
    return lm_err_code(LM_EINVAL, "global '%.100s.%.100s' is not a known data class (lamac reads data only; "
                       "LM_PTH_OPAQUE_UNKNOWN reads it as an opaque object)", mod, name);
}

static int valid_ident(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return 0;
    }
    return 1;
}

static pk_node *make_global(pk_arena *a, const char *mod, size_t ml, const char *name, size_t nl, unsigned flags) {
    if (!valid_ident(mod, ml) || !valid_ident(name, nl)) {
        lm_err_code(LM_EINVAL, "malformed global name");
        return NULL;
    }
    pk_node *g = pk_new(a, PK_GLOBAL);
    if (!g) return NULL;
    g->s = malloc(ml + nl + 2);
    if (!g->s) { lm_err_code(LM_ENOMEM, "out of memory"); return NULL; }
    memcpy(g->s, mod, ml); g->s[ml] = 0;
    memcpy(g->s + ml + 1, name, nl); g->s[ml + 1 + nl] = 0;
    int kind, dt;
    if (classify(g->s, g->s + ml + 1, flags, &kind, &dt) < 0) return NULL;
    g->s[ml] = '.'; /* "module.name" */
    g->slen = ml + 1 + nl;
    g->i = kind; g->dtype = dt;
    return g;
}

/* ---- REDUCE / NEWOBJ ----------------------------------------------------------------------- */
static int get_int(const pk_node *n, int64_t *v) {
    if (!n || (n->type != PK_INT && n->type != PK_BOOL)) return -1;
    *v = n->i;
    return 0;
}

static int int_tuple(const pk_node *t, int64_t *out, int *n) {
    if (!t || (t->type != PK_TUPLE && t->type != PK_LIST) || t->n > PK_MAX_DIMS) return -1;
    for (size_t i = 0; i < t->n; i++)
        if (get_int(t->items[i], &out[i]) < 0) return -1;
    *n = (int)t->n;
    return 0;
}

static pk_node *rebuild_tensor(pk_arena *a, const pk_node *args, int v3) {
    int64_t size[PK_MAX_DIMS], stride[PK_MAX_DIMS], off;
    int ns = 0, nt = 0;
    if (!args || args->type != PK_TUPLE || args->n < 4 || (v3 && args->n < 7)) {
        lm_err_code(LM_EINVAL, "_rebuild_tensor: bad arguments");
        return NULL;
    }
    const pk_node *st = args->items[0];
    if (st->type != PK_STORAGE) { lm_err_code(LM_EINVAL, "_rebuild_tensor: first argument is not a storage"); return NULL; }
    if (get_int(args->items[1], &off) < 0 || int_tuple(args->items[2], size, &ns) < 0 ||
        int_tuple(args->items[3], stride, &nt) < 0 || ns != nt) {
        lm_err_code(LM_EINVAL, "_rebuild_tensor: bad offset, size or stride (at most %d dims)", PK_MAX_DIMS);
        return NULL;
    }
    pk_node *t = pk_new(a, PK_TENSOR);
    if (!t) return NULL;
    t->size = malloc(sizeof(int64_t) * 2 * (size_t)(ns ? ns : 1));
    if (!t->size) { lm_err_code(LM_ENOMEM, "out of memory"); return NULL; }
    t->stride = t->size + ns;
    for (int i = 0; i < ns; i++) { t->size[i] = size[i]; t->stride[i] = stride[i]; }
    t->ndim = ns;
    t->offset = off;
    t->dtype = st->dtype;
    if (v3) {
        const pk_node *d = args->items[6];
        if (d->type != PK_GLOBAL || d->i != PKG_DTYPE) { lm_err_code(LM_EINVAL, "_rebuild_tensor_v3: bad dtype"); return NULL; }
        t->dtype = d->dtype;
    }
    if (pk_append(t, (pk_node *)st) < 0) return NULL;
    return t;
}

/* Applies callable to args (REDUCE) or cls to args (NEWOBJ); never runs anything. */
static pk_node *reduce(pk_arena *a, pk_node *fn, pk_node *args, int newobj) {
    int kind = fn->type == PK_GLOBAL ? (int)fn->i : PKG_OPAQUE;
    if (args->type != PK_TUPLE) { lm_err_code(LM_EINVAL, "REDUCE arguments are not a tuple"); return NULL; }
    switch (kind) {
    case PKG_DEFAULTDICT: return pk_new(a, PK_DICT); /* args: the default factory */
    case PKG_ORDEREDDICT:
    case PKG_DICT: {
        pk_node *d = pk_new(a, PK_DICT);
        if (!d) return NULL;
        pk_node *src = (!newobj && args->n >= 1 && 1) ? args->items[0] : NULL;
        if (src && src->type == PK_DICT) { /* dict(mapping) */
            for (size_t i = 0; i < src->n; i++)
                if (pk_append(d, src->items[i]) < 0) return NULL;
        } else if (src && (src->type == PK_LIST || src->type == PK_TUPLE)) { /* OrderedDict([(k, v), ...]) */
            for (size_t i = 0; i < src->n; i++) {
                pk_node *kv = src->items[i];
                if ((kv->type != PK_LIST && kv->type != PK_TUPLE) || kv->n != 2) {
                    lm_err_code(LM_EINVAL, "dict(): item %zu is not a pair", i);
                    return NULL;
                }
                if (pk_append(d, kv->items[0]) < 0 || pk_append(d, kv->items[1]) < 0) return NULL;
            }
        }
        return d;
    }
    case PKG_LIST: case PKG_SET: case PKG_FROZENSET: {
        pk_node *r = pk_new(a, kind == PKG_LIST ? PK_LIST : PK_SET);
        if (!r) return NULL;
        if (args->n >= 1 && !newobj) {
            pk_node *src = args->items[0];
            if (src->type == PK_LIST || src->type == PK_TUPLE || src->type == PK_SET)
                for (size_t i = 0; i < src->n; i++)
                    if (pk_append(r, src->items[i]) < 0) return NULL;
        }
        return r;
    }
    case PKG_REBUILD_TENSOR: case PKG_REBUILD_TENSOR_V2:
        if (newobj) break;
        return rebuild_tensor(a, args, 0);
    case PKG_REBUILD_TENSOR_V3:
        if (newobj) break;
        return rebuild_tensor(a, args, 1);
    case PKG_REBUILD_PARAMETER: case PKG_REBUILD_PARAMETER_STATE:
        if (newobj) break;
        if (args->n < 1 || args->items[0]->type != PK_TENSOR) {
            lm_err_code(LM_EINVAL, "_rebuild_parameter: first argument is not a tensor");
            return NULL;
        }
        return args->items[0];
    default: break;
    }
    pk_node *o = pk_new(a, PK_OBJ);
    if (!o || pk_append(o, fn) < 0 || pk_append(o, args) < 0) return NULL;
    return o;
}

/* ---- the machine --------------------------------------------------------------------------- */
typedef struct {
    pk_arena *a;
    const uint8_t *start, *p, *end;
    unsigned flags;
    pk_node **st; size_t sn, scap;
    size_t *marks; size_t mn, mcap;
    pk_node **memo; size_t memocap, memolen, memolimit;
} vm;

static int push(vm *m, pk_node *n) {
    if (!n) return LM_EFAIL;
    if (m->sn == m->scap) {
        size_t nc = m->scap ? 2 * m->scap : 64;
        pk_node **s = realloc(m->st, nc * sizeof *s);
        if (!s) return lm_err_code(LM_ENOMEM, "out of memory");
        m->st = s; m->scap = nc;
    }
    m->st[m->sn++] = n;
    return 0;
}

static size_t base(const vm *m) { return m->mn ? m->marks[m->mn - 1] : 0; }

static pk_node *pop(vm *m) {
    if (m->sn <= base(m)) { lm_err_code(LM_EINVAL, "stack underflow"); return NULL; }
    return m->st[--m->sn];
}

static pk_node *top(vm *m) {
    if (m->sn <= base(m)) { lm_err_code(LM_EINVAL, "stack underflow"); return NULL; }
    return m->st[m->sn - 1];
}

/* Pops to the last MARK; *first = index of the first item (items stay in m->st until reused). */
static int pop_mark(vm *m, size_t *first) {
    if (!m->mn) return lm_err_code(LM_EINVAL, "no MARK on the stack");
    *first = m->marks[--m->mn];
    return 0;
}

static int memo_put(vm *m, size_t idx, pk_node *v) {
    if (!v) return lm_err_code(LM_EINVAL, "memoize with an empty stack");
    if (idx >= m->memolimit) return lm_err_code(LM_EINVAL, "memo index %zu out of range", idx);
    if (idx >= m->memocap) {
        size_t nc = m->memocap ? m->memocap : 64;
        while (nc <= idx) nc *= 2;
        pk_node **mm = realloc(m->memo, nc * sizeof *mm);
        if (!mm) return lm_err_code(LM_ENOMEM, "out of memory");
        memset(mm + m->memocap, 0, (nc - m->memocap) * sizeof *mm);
        m->memo = mm; m->memocap = nc;
    }
    if (!m->memo[idx]) m->memolen++;
    m->memo[idx] = v;
    return 0;
}

static int memo_get(vm *m, size_t idx) {
    if (idx >= m->memocap || !m->memo[idx]) return lm_err_code(LM_EINVAL, "memo index %zu out of range", idx);
    return push(m, m->memo[idx]);
}

static int need(vm *m, size_t n) {
    if ((size_t)(m->end - m->p) < n) return lm_err_code(LM_EINVAL, "truncated (needs %zu more bytes)", n);
    return 0;
}
static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Reads a '\n'-terminated line (without it) of at most maxlen bytes. */
static int rd_line(vm *m, const char **s, size_t *n, size_t maxlen) {
    const uint8_t *q = m->p;
    while (q < m->end && *q != '\n' && (size_t)(q - m->p) <= maxlen) q++;
    if (q >= m->end || *q != '\n') return lm_err_code(LM_EINVAL, "truncated or overlong text line");
    *s = (const char *)m->p; *n = (size_t)(q - m->p);
    m->p = q + 1;
    return 0;
}

static int parse_dec(const char *s, size_t n, int64_t *v) {
    char buf[32];
    if (n && (s[n - 1] == 'L')) n--; /* LONG */
    if (!n || n >= sizeof buf) return lm_err_code(LM_EINVAL, "bad integer literal");
    memcpy(buf, s, n); buf[n] = 0;
    char *e;
    long long x = strtoll(buf, &e, 10);
    if (*e || e == buf) return lm_err_code(LM_EINVAL, "bad integer literal");
    *v = x;
    return 0;
}

static pk_node *new_int(pk_arena *a, int64_t v) {
    pk_node *n = pk_new(a, PK_INT);
    if (n) n->i = v;
    return n;
}

static pk_node *new_bytes(pk_arena *a, int type, const uint8_t *p, size_t n) {
    pk_node *s = pk_new(a, type);
    if (!s) return NULL;
    s->s = malloc(n + 1);
    if (!s->s) { lm_err_code(LM_ENOMEM, "out of memory (%zu bytes)", n); return NULL; }
    memcpy(s->s, p, n); s->s[n] = 0;
    s->slen = n;
    return s;
}

/* LONG1/LONG4 payload: little-endian two's complement. */
static pk_node *new_long(pk_arena *a, const uint8_t *p, size_t n) {
    if (n <= 8) {
        uint64_t u = n ? rd_le(p, (int)n) : 0;
        if (n && n < 8 && (p[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
        return new_int(a, (int64_t)u);
    }
    return new_bytes(a, PK_BIGINT, p, n);
}

static int setitems(pk_node *d, pk_node **kv, size_t n) {
    if (n % 2) return lm_err_code(LM_EINVAL, "SETITEMS with an odd number of items");
    if (d->type == PK_OBJ) return 0; /* opaque mapping: items dropped */
    if (d->type != PK_DICT) return lm_err_code(LM_EINVAL, "SETITEM on a non-dict");
    for (size_t i = 0; i < n; i++)
        if (pk_append(d, kv[i]) < 0) return LM_ENOMEM;
    return 0;
}

static int appends(pk_node *l, pk_node **v, size_t n, int set) {
    if (l->type == PK_OBJ) return 0;
    if (l->type != (set ? PK_SET : PK_LIST)) return lm_err_code(LM_EINVAL, "%s on a non-%s", set ? "ADDITEMS" : "APPEND", set ? "set" : "list");
    for (size_t i = 0; i < n; i++)
        if (pk_append(l, v[i]) < 0) return LM_ENOMEM;
    return 0;
}

static pk_node *tuple_of(pk_arena *a, pk_node **v, size_t n) {
    pk_node *t = pk_new(a, PK_TUPLE);
    if (!t) return NULL;
    for (size_t i = 0; i < n; i++)
        if (pk_append(t, v[i]) < 0) return NULL;
    return t;
}

int pk_load(pk_arena *a, const uint8_t *buf, size_t len, unsigned flags, pk_persid_fn persid,
            void *ud, pk_node **out, size_t *used) {
    vm m = {0};
    int rc = 0;
    uint8_t op = 0;
    const uint8_t *op_at = buf;
    m.a = a; m.start = m.p = buf; m.end = buf + len; m.flags = flags;
    m.memolimit = len + 16;
    *out = NULL;
    if (used) *used = 0;
    for (;;) {
        pk_node *x, *y, *z;
        size_t first = 0;
        uint64_t n;
        const char *s1 = NULL, *s2 = NULL;
        size_t l1 = 0, l2 = 0;
        int64_t iv = 0;
        if (m.p >= m.end) { rc = lm_err_code(LM_EINVAL, "truncated (no STOP)"); goto cleanup; }
        op_at = m.p;
        op = *m.p++;
        switch (op) {
        case 0x80: /* PROTO */
            if ((rc = need(&m, 1)) < 0) goto cleanup;
            if (*m.p > 5) { rc = lm_err_code(LM_EINVAL, "unsupported protocol %d", *m.p); goto cleanup; }
            m.p++;
            break;
        case 0x95: /* FRAME */
            if ((rc = need(&m, 8)) < 0) goto cleanup;
            m.p += 8;
            break;
        case '.': /* STOP */
            if (!(x = pop(&m))) { rc = LM_EINVAL; goto cleanup; }
            *out = x;
            if (used) *used = (size_t)(m.p - buf);
            goto cleanup;
        case '(': /* MARK */
            if (m.mn == m.mcap) {
                size_t nc = m.mcap ? 2 * m.mcap : 16;
                size_t *mk = realloc(m.marks, nc * sizeof *mk);
                if (!mk) { rc = lm_err_code(LM_ENOMEM, "out of memory"); goto cleanup; }
                m.marks = mk; m.mcap = nc;
            }
            m.marks[m.mn++] = m.sn;
            break;
        case '0': /* POP */
            if (m.sn > base(&m)) m.sn--;
            else if ((rc = pop_mark(&m, &first)) < 0) goto cleanup;
            break;
        case '1': /* POP_MARK */
            if ((rc = pop_mark(&m, &first)) < 0) goto cleanup;
            m.sn = first;
            break;
        case '2': /* DUP */
            if (!(x = top(&m)) || (rc = push(&m, x)) < 0) { rc = rc ? rc : LM_EINVAL; goto cleanup; }
            break;
        case 'N': rc = push(&m, pk_new(a, PK_NONE)); break;
        case 0x88: case 0x89: /* NEWTRUE NEWFALSE */
            if ((x = pk_new(a, PK_BOOL))) x->i = op == 0x88;
            rc = push(&m, x);
            break;
        case 'J': /* BININT */
            if ((rc = need(&m, 4)) < 0) goto cleanup;
            rc = push(&m, new_int(a, (int32_t)(uint32_t)rd_le(m.p, 4))); m.p += 4;
            break;
        case 'K': /* BININT1 */
            if ((rc = need(&m, 1)) < 0) goto cleanup;
            rc = push(&m, new_int(a, *m.p)); m.p += 1;
            break;
        case 'M': /* BININT2 */
            if ((rc = need(&m, 2)) < 0) goto cleanup;
            rc = push(&m, new_int(a, (int64_t)rd_le(m.p, 2))); m.p += 2;
            break;
        case 0x8a: /* LONG1 */
            if ((rc = need(&m, 1)) < 0) goto cleanup;
            n = *m.p++;
            if ((rc = need(&m, n)) < 0) goto cleanup;
            rc = push(&m, new_long(a, m.p, n)); m.p += n;
            break;
        case 0x8b: /* LONG4 */
            if ((rc = need(&m, 4)) < 0) goto cleanup;
            n = rd_le(m.p, 4); m.p += 4;
            if ((rc = need(&m, n)) < 0) goto cleanup;
            rc = push(&m, new_long(a, m.p, n)); m.p += n;
            break;
        case 'I': case 'L': /* INT LONG (text) */
            if ((rc = rd_line(&m, &s1, &l1, 64)) < 0) goto cleanup;
            if (op == 'I' && l1 == 2 && (!memcmp(s1, "00", 2) || !memcmp(s1, "01", 2))) {
                if ((x = pk_new(a, PK_BOOL))) x->i = s1[1] == '1';
                rc = push(&m, x);
                break;
            }
            if ((rc = parse_dec(s1, l1, &iv)) < 0) goto cleanup;
            rc = push(&m, new_int(a, iv));
            break;
        case 'G': { /* BINFLOAT (big-endian double) */
            if ((rc = need(&m, 8)) < 0) goto cleanup;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++) u = (u << 8) | m.p[i];
            m.p += 8;
            if ((x = pk_new(a, PK_FLOAT))) memcpy(&x->f, &u, 8);
            rc = push(&m, x);
            break;
        }
        case 'F': { /* FLOAT (text) */
            char b[64];
            if ((rc = rd_line(&m, &s1, &l1, 60)) < 0) goto cleanup;
            memcpy(b, s1, l1); b[l1] = 0;
            char *e;
            double d = strtod(b, &e);
            if (e == b || *e) { rc = lm_err_code(LM_EINVAL, "bad float literal"); goto cleanup; }
            if ((x = pk_new(a, PK_FLOAT))) x->f = d;
            rc = push(&m, x);
            break;
        }
        case 'X': case 0x8c: case 0x8d: /* BINUNICODE SHORT_BINUNICODE BINUNICODE8 */
        case 'T': case 'U': /* BINSTRING SHORT_BINSTRING (Python 2 str) */
        case 'B': case 'C': case 0x8e: case 0x96: { /* BINBYTES SHORT_BINBYTES BINBYTES8 BYTEARRAY8 */
            int w = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e || op == 0x96) ? 8 : 4;
            if ((rc = need(&m, (size_t)w)) < 0) goto cleanup;
            n = rd_le(m.p, w); m.p += w;
            if (op == 'T' && n > 0x7FFFFFFFu) { rc = lm_err_code(LM_EINVAL, "negative BINSTRING length"); goto cleanup; }
            if ((rc = need(&m, n)) < 0) goto cleanup;
            int ty = (op == 'B' || op == 'C' || op == 0x8e || op == 0x96) ? PK_BYTES : PK_STR;
            rc = push(&m, new_bytes(a, ty, m.p, n)); m.p += n;
            break;
        }
        case ']': rc = push(&m, pk_new(a, PK_LIST)); break;
        case '}': rc = push(&m, pk_new(a, PK_DICT)); break;
        case ')': rc = push(&m, pk_new(a, PK_TUPLE)); break;
        case 0x8f: rc = push(&m, pk_new(a, PK_SET)); break; /* EMPTY_SET */
        case 'l': case 't': case 'd': case 0x91: /* LIST TUPLE DICT FROZENSET (from mark) */
            if ((rc = pop_mark(&m, &first)) < 0) goto cleanup;
            x = pk_new(a, op == 'l' ? PK_LIST : op == 't' ? PK_TUPLE : op == 'd' ? PK_DICT : PK_SET);
            if (!x) { rc = LM_ENOMEM; goto cleanup; }
            if (op == 'd' && (m.sn - first) % 2) { rc = lm_err_code(LM_EINVAL, "DICT with an odd number of items"); goto cleanup; }
            for (size_t i = first; i < m.sn; i++)
                if ((rc = pk_append(x, m.st[i])) < 0) goto cleanup;
            m.sn = first;
            rc = push(&m, x);
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t k = (size_t)(op - 0x84);
            if (m.sn < base(&m) + k) { rc = lm_err_code(LM_EINVAL, "stack underflow"); goto cleanup; }
            x = tuple_of(a, m.st + m.sn - k, k);
            m.sn -= k;
            rc = push(&m, x);
            break;
        }
        case 'a': /* APPEND */
            if (!(y = pop(&m)) || !(x = top(&m))) { rc = LM_EINVAL; goto cleanup; }
            rc = appends(x, &y, 1, 0);
            break;
        case 'e': case 0x90: /* APPENDS ADDITEMS */
            if ((rc = pop_mark(&m, &first)) < 0) goto cleanup;
            if (first <= base(&m)) { rc = lm_err_code(LM_EINVAL, "stack underflow"); goto cleanup; }
            x = m.st[first - 1];
            rc = appends(x, m.st + first, m.sn - first, op == 0x90);
            m.sn = first;
            break;
        case 's': /* SETITEM */
            if (!(z = pop(&m)) || !(y = pop(&m)) || !(x = top(&m))) { rc = LM_EINVAL; goto cleanup; }
            {
                pk_node *kv[2] = {y, z};
                rc = setitems(x, kv, 2);
            }
            break;
        case 'u': /* SETITEMS */
            if ((rc = pop_mark(&m, &first)) < 0) goto cleanup;
            if (first <= base(&m)) { rc = lm_err_code(LM_EINVAL, "stack underflow"); goto cleanup; }
            x = m.st[first - 1];
            rc = setitems(x, m.st + first, m.sn - first);
            m.sn = first;
            break;
        case 'g': /* GET (text) */
            if ((rc = rd_line(&m, &s1, &l1, 32)) < 0 || (rc = parse_dec(s1, l1, &iv)) < 0) goto cleanup;
            if (iv < 0) { rc = lm_err_code(LM_EINVAL, "memo index out of range"); goto cleanup; }
            rc = memo_get(&m, (size_t)iv);
            break;
        case 'h': /* BINGET */
            if ((rc = need(&m, 1)) < 0) goto cleanup;
            rc = memo_get(&m, *m.p++);
            break;
        case 'j': /* LONG_BINGET */
            if ((rc = need(&m, 4)) < 0) goto cleanup;
            rc = memo_get(&m, (size_t)rd_le(m.p, 4)); m.p += 4;
            break;
        case 'p': /* PUT (text) */
            if ((rc = rd_line(&m, &s1, &l1, 32)) < 0 || (rc = parse_dec(s1, l1, &iv)) < 0) goto cleanup;
            if (iv < 0) { rc = lm_err_code(LM_EINVAL, "memo index out of range"); goto cleanup; }
            rc = memo_put(&m, (size_t)iv, top(&m));
            break;
        case 'q': /* BINPUT */
            if ((rc = need(&m, 1)) < 0) goto cleanup;
            rc = memo_put(&m, *m.p++, top(&m));
            break;
        case 'r': /* LONG_BINPUT */
            if ((rc = need(&m, 4)) < 0) goto cleanup;
            rc = memo_put(&m, (size_t)rd_le(m.p, 4), top(&m)); m.p += 4;
            break;
        case 0x94: /* MEMOIZE */
            rc = memo_put(&m, m.memolen, top(&m));
            break;
        case 'c': /* GLOBAL */
            if ((rc = rd_line(&m, &s1, &l1, 256)) < 0 || (rc = rd_line(&m, &s2, &l2, 256)) < 0) goto cleanup;
            rc = push(&m, make_global(a, s1, l1, s2, l2, flags));
            break;
        case 0x93: /* STACK_GLOBAL */
            if (!(y = pop(&m)) || !(x = pop(&m))) { rc = LM_EINVAL; goto cleanup; }
            if (x->type != PK_STR || y->type != PK_STR) { rc = lm_err_code(LM_EINVAL, "STACK_GLOBAL needs two strings"); goto cleanup; }
            rc = push(&m, make_global(a, x->s, x->slen, y->s, y->slen, flags));
            break;
        case 'R': /* REDUCE */
            if (!(y = pop(&m)) || !(x = pop(&m))) { rc = LM_EINVAL; goto cleanup; }
            if (x->type != PK_GLOBAL && x->type != PK_OBJ) { rc = lm_err_code(LM_EINVAL, "REDUCE on a non-callable"); goto cleanup; }
            rc = push(&m, reduce(a, x, y, 0));
            break;
        case 0x81: /* NEWOBJ */
            if (!(y = pop(&m)) || !(x = pop(&m))) { rc = LM_EINVAL; goto cleanup; }
            if (x->type != PK_GLOBAL && x->type != PK_OBJ) { rc = lm_err_code(LM_EINVAL, "NEWOBJ on a non-class"); goto cleanup; }
            rc = push(&m, reduce(a, x, y, 1));
            break;
        case 0x92: /* NEWOBJ_EX */
            if (!(z = pop(&m)) || !(y = pop(&m)) || !(x = pop(&m))) { rc = LM_EINVAL; goto cleanup; }
            if (x->type != PK_GLOBAL && x->type != PK_OBJ) { rc = lm_err_code(LM_EINVAL, "NEWOBJ_EX on a non-class"); goto cleanup; }
            rc = push(&m, reduce(a, x, y, 1));
            break;
        case 'b': /* BUILD */
            if (!(y = pop(&m)) || !(x = top(&m))) { rc = LM_EINVAL; goto cleanup; }
            if (x->type == PK_OBJ) {
                if (x->n < 3) rc = pk_append(x, y);
                else x->items[2] = y;
            }
            break;
        case 'Q': /* BINPERSID */
        case 'P': /* PERSID (text id) */
            if (op == 'Q') {
                if (!(x = pop(&m))) { rc = LM_EINVAL; goto cleanup; }
            } else {
                if ((rc = rd_line(&m, &s1, &l1, 256)) < 0) goto cleanup;
                x = new_bytes(a, PK_STR, (const uint8_t *)s1, l1);
                if (!x) { rc = LM_ENOMEM; goto cleanup; }
            }
            if (!persid) { rc = lm_err_code(LM_EINVAL, "persistent id without a loader"); goto cleanup; }
            y = NULL;
            if ((rc = persid(ud, a, x, &y)) < 0) goto cleanup;
            rc = push(&m, y);
            break;
        case 0x98: /* READONLY_BUFFER: no-op on our values */
            if (!top(&m)) { rc = LM_EINVAL; goto cleanup; }
            break;
        default:
            rc = lm_err_code(LM_EINVAL, "unsupported or invalid opcode 0x%02x", op);
            goto cleanup;
        }
        if (rc < 0) goto cleanup;
    }
cleanup:
    if (rc < 0) {
        if (!*lm_err_msg()) lm_err_code(LM_EINVAL, "malformed");
        lm_err_prefix("pickle: byte %zu (opcode 0x%02x)", (size_t)(op_at - buf), op);
    }
    free(m.st); free(m.marks); free(m.memo);
    return rc;
}
