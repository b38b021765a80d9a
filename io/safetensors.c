/* safetensors.c — safetensors reader (mmap + bounds-checked header parser), atomic writer,
 * and fp16/bf16 conversion. Mirrors the format of huggingface/safetensors, which the
 * official LaMa does not use (it saves Lightning .ckpt); lamac uses it for its own weights. */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/err.h"

/* ---- dtypes -------------------------------------------------------------------------------- */
static const struct { int dt; const char *name; size_t size; } g_dtypes[] = {
    {LM_DT_F32, "F32", 4}, {LM_DT_F64, "F64", 8}, {LM_DT_F16, "F16", 2}, {LM_DT_BF16, "BF16", 2},
    {LM_DT_I64, "I64", 8}, {LM_DT_I32, "I32", 4}, {LM_DT_U8, "U8", 1},   {LM_DT_BOOL, "BOOL", 1},
    {LM_DT_I8, "I8", 1},   {LM_DT_I16, "I16", 2},
};
#define N_DTYPES (sizeof g_dtypes / sizeof g_dtypes[0])

size_t lm_dtype_size(int dtype) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (g_dtypes[i].dt == dtype) return g_dtypes[i].size;
    return 0;
}

const char *lm_dtype_name(int dtype) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (g_dtypes[i].dt == dtype) return g_dtypes[i].name;
    return NULL;
}

int lm_dtype_parse(const char *name) {
    for (size_t i = 0; i < N_DTYPES; i++)
        if (!strcmp(g_dtypes[i].name, name)) return g_dtypes[i].dt;
    return -1;
}

int64_t lm_shape_numel(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

/* ---- file state ---------------------------------------------------------------------------- */
struct lm_safetensors_file {
    char *path;
    void *map;            /* mmap'ed file, or NULL */
    size_t map_len;
    const uint8_t *buf;   /* whole file */
    size_t len;
    lm_safetensors_entry *e;
    int n, cap;
    int *sorted;          /* entry indices sorted by name */
    char **mkey, **mval;
    int nmeta, capmeta;
};

void lm_safetensors_close(lm_safetensors_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->e[i].name);
    for (int i = 0; i < f->nmeta; i++) { free(f->mkey[i]); free(f->mval[i]); }
    free(f->e); free(f->sorted); free(f->mkey); free(f->mval);
    if (f->map) munmap(f->map, f->map_len);
    free(f->path);
    free(f);
}

/* ---- JSON (only what a safetensors header needs) -------------------------------------------- */
typedef struct { const char *p, *end, *start; } jp;

static void j_ws(jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}
static long j_pos(const jp *j) { return (long)(j->p - j->start); }

static int j_expect(jp *j, char c) {
    j_ws(j);
    if (j->p >= j->end) return lm_err_code(LM_EINVAL, "header: unexpected end, expected '%c'", c);
    if (*j->p != c) return lm_err_code(LM_EINVAL, "header: expected '%c' at byte %ld", c, j_pos(j));
    j->p++;
    return 0;
}

/* Peeks the next non-space char (0 at end). */
static char j_peek(jp *j) { j_ws(j); return j->p < j->end ? *j->p : 0; }

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), 0 if invalid. */
static int utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int len; uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* Parses a JSON string into a new NUL-terminated UTF-8 string (no embedded NULs). */
static int j_string(jp *j, char **out) {
    *out = NULL;
    j_ws(j);
    if (j->p >= j->end || *j->p != '"')
        return lm_err_code(LM_EINVAL, "header: expected a string at byte %ld", j_pos(j));
    const char *s = ++j->p;
    const char *q = s;
    while (q < j->end && *q != '"') q += (*q == '\\' && q + 1 < j->end) ? 2 : 1;
    if (q >= j->end) return lm_err_code(LM_EINVAL, "header: unterminated string at byte %ld", j_pos(j) - 1);
    /* decoded length <= raw length (escapes never expand: \uXXXX = 6 bytes -> <= 3, pairs 12 -> 4) */
    char *o = malloc((size_t)(q - s) + 1);
    if (!o) return lm_err_code(LM_ENOMEM, "header: out of memory");
    size_t k = 0;
    const char *p = s;
    while (p < q) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) { free(o); return lm_err_code(LM_EINVAL, "header: control character in string at byte %ld", (long)(p - j->start)); }
        if (c != '\\') {
            int l = utf8_len((const unsigned char *)p, (size_t)(q - p));
            if (!l) { free(o); return lm_err_code(LM_EINVAL, "header: invalid UTF-8 in string at byte %ld", (long)(p - j->start)); }
            memcpy(o + k, p, (size_t)l); k += (size_t)l; p += l;
            continue;
        }
        p++; /* p < q guaranteed by the scan above */
        char e = *p++;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            uint32_t cp = 0;
            if (q - p < 4) goto bad_escape;
            for (int i = 0; i < 4; i++) { int h = hexval(p[i]); if (h < 0) goto bad_escape; cp = cp * 16 + (uint32_t)h; }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo = 0;
                if (q - p < 6 || p[0] != '\\' || p[1] != 'u') goto bad_escape;
                for (int i = 0; i < 4; i++) { int h = hexval(p[2 + i]); if (h < 0) goto bad_escape; lo = lo * 16 + (uint32_t)h; }
                if (lo < 0xDC00 || lo > 0xDFFF) goto bad_escape;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                goto bad_escape;
            }
            if (cp == 0) { free(o); return lm_err_code(LM_EINVAL, "header: \\u0000 in string at byte %ld", (long)(p - j->start)); }
            k += (size_t)put_utf8(o + k, cp);
            break;
        }
        default:
        bad_escape:
            free(o);
            return lm_err_code(LM_EINVAL, "header: bad escape in string at byte %ld", (long)(p - j->start));
        }
    }
    o[k] = 0;
    j->p = q + 1;
    *out = o;
    return 0;
}

/* Parses a JSON integer (no fraction/exponent) into int64; overflow is an error. */
static int j_int(jp *j, int64_t *out) {
    j_ws(j);
    int neg = 0;
    const char *p = j->p;
    if (p < j->end && *p == '-') { neg = 1; p++; }
    if (p >= j->end || *p < '0' || *p > '9')
        return lm_err_code(LM_EINVAL, "header: expected an integer at byte %ld", j_pos(j));
    uint64_t v = 0;
    while (p < j->end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return lm_err_code(LM_EINVAL, "header: integer overflow at byte %ld", j_pos(j));
        v = v * 10 + d;
        p++;
    }
    if (p < j->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return lm_err_code(LM_EINVAL, "header: expected an integer, got a fraction at byte %ld", j_pos(j));
    if ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1))
        return lm_err_code(LM_EINVAL, "header: integer overflow at byte %ld", j_pos(j));
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    j->p = p;
    return 0;
}

/* Parses [int, int, ...] with at most maxn items. */
static int j_int_array(jp *j, int64_t *vals, int maxn, int *n) {
    int rc;
    *n = 0;
    if ((rc = j_expect(j, '[')) < 0) return rc;
    if (j_peek(j) == ']') { j->p++; return 0; }
    for (;;) {
        int64_t v = 0;
        if ((rc = j_int(j, &v)) < 0) return rc;
        if (*n >= maxn) return lm_err_code(LM_EINVAL, "header: array longer than %d at byte %ld", maxn, j_pos(j));
        vals[(*n)++] = v;
        char c = j_peek(j);
        if (c == ',') { j->p++; continue; }
        if (c == ']') { j->p++; return 0; }
        return lm_err_code(LM_EINVAL, "header: expected ',' or ']' at byte %ld", j_pos(j));
    }
}

/* ---- header parsing ------------------------------------------------------------------------ */
typedef struct { int64_t a, b; int idx; } span;

static int span_cmp(const void *x, const void *y) {
    const span *s = x, *t = y;
    if (s->a != t->a) return s->a < t->a ? -1 : 1;
    if (s->b != t->b) return s->b < t->b ? -1 : 1;
    return 0;
}

static _Thread_local const lm_safetensors_file *t_sort_file;
static int name_cmp(const void *x, const void *y) {
    const lm_safetensors_file *f = t_sort_file;
    return strcmp(f->e[*(const int *)x].name, f->e[*(const int *)y].name);
}

static int parse_meta(lm_safetensors_file *f, jp *j) {
    int rc;
    if ((rc = j_expect(j, '{')) < 0) return rc;
    if (j_peek(j) == '}') { j->p++; return 0; }
    for (;;) {
        char *k = NULL, *v = NULL;
        if ((rc = j_string(j, &k)) < 0) return rc;
        if ((rc = j_expect(j, ':')) < 0 || (rc = j_string(j, &v)) < 0) {
            lm_err_prefix("__metadata__ value of \"%.64s\" (must be a string)", k);
            free(k);
            return rc;
        }
        for (int i = 0; i < f->nmeta; i++)
            if (!strcmp(f->mkey[i], k)) {
                rc = lm_err_code(LM_EINVAL, "__metadata__: duplicate key \"%.64s\"", k);
                free(k); free(v);
                return rc;
            }
        if (f->nmeta == f->capmeta) {
            int nc = f->capmeta ? 2 * f->capmeta : 8;
            char **a = realloc(f->mkey, (size_t)nc * sizeof *a), **b = a ? realloc(f->mval, (size_t)nc * sizeof *b) : NULL;
            if (a) f->mkey = a;
            if (b) f->mval = b;
            if (!a || !b) { free(k); free(v); return lm_err_code(LM_ENOMEM, "out of memory"); }
            f->capmeta = nc;
        }
        f->mkey[f->nmeta] = k; f->mval[f->nmeta] = v; f->nmeta++;
        char c = j_peek(j);
        if (c == ',') { j->p++; continue; }
        if (c == '}') { j->p++; return 0; }
        return lm_err_code(LM_EINVAL, "header: expected ',' or '}' at byte %ld", j_pos(j));
    }
}

/* Parses one tensor description into e (name already set); offsets into *a, *b. */
static int parse_tensor(jp *j, lm_safetensors_entry *e, int64_t *a, int64_t *b, size_t data_len) {
    int rc, have_dt = 0, have_shape = 0, have_off = 0;
    if ((rc = j_expect(j, '{')) < 0) return rc;
    if (j_peek(j) != '}') {
        for (;;) {
            char *k = NULL;
            if ((rc = j_string(j, &k)) < 0) return rc;
            if ((rc = j_expect(j, ':')) < 0) { free(k); return rc; }
            if (!strcmp(k, "dtype")) {
                char *d = NULL;
                free(k);
                if (have_dt++) return lm_err_code(LM_EINVAL, "duplicate field dtype");
                if ((rc = j_string(j, &d)) < 0) return lm_err_prefix("dtype");
                e->dtype = lm_dtype_parse(d);
                if (e->dtype < 0) {
                    rc = lm_err_code(LM_EINVAL, "unknown dtype \"%.32s\" (lamac reads F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL)", d);
                    free(d);
                    return rc;
                }
                free(d);
            } else if (!strcmp(k, "shape")) {
                free(k);
                if (have_shape++) return lm_err_code(LM_EINVAL, "duplicate field shape");
                if ((rc = j_int_array(j, e->shape, LM_SAFETENSORS_MAX_DIMS, &e->ndim)) < 0) return lm_err_prefix("shape");
            } else if (!strcmp(k, "data_offsets")) {
                int64_t o[2]; int n;
                free(k);
                if (have_off++) return lm_err_code(LM_EINVAL, "duplicate field data_offsets");
                if ((rc = j_int_array(j, o, 2, &n)) < 0) return lm_err_prefix("data_offsets");
                if (n != 2) return lm_err_code(LM_EINVAL, "data_offsets: expected 2 integers, got %d", n);
                *a = o[0]; *b = o[1];
            } else {
                rc = lm_err_code(LM_EINVAL, "unknown field \"%.32s\"", k);
                free(k);
                return rc;
            }
            char c = j_peek(j);
            if (c == ',') { j->p++; continue; }
            if (c == '}') break;
            return lm_err_code(LM_EINVAL, "header: expected ',' or '}' at byte %ld", j_pos(j));
        }
    }
    j->p++;
    if (!have_dt || !have_shape || !have_off)
        return lm_err_code(LM_EINVAL, "missing field %s", !have_dt ? "dtype" : !have_shape ? "shape" : "data_offsets");
    for (int d = 0; d < e->ndim; d++)
        if (e->shape[d] < 0) return lm_err_code(LM_EINVAL, "negative dim %lld", (long long)e->shape[d]);
    int64_t numel = lm_shape_numel(e->shape, e->ndim);
    size_t es = lm_dtype_size(e->dtype);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / es || (uint64_t)numel > (uint64_t)INT64_MAX / es)
        return lm_err_code(LM_EINVAL, "shape too large (size overflows)");
    if (*a < 0 || *b < *a || (uint64_t)*b > data_len)
        return lm_err_code(LM_EINVAL, "data_offsets [%lld, %lld] outside the data area (%zu bytes)",
                           (long long)*a, (long long)*b, data_len);
    if ((uint64_t)(*b - *a) != (uint64_t)numel * es)
        return lm_err_code(LM_EINVAL, "data_offsets [%lld, %lld] hold %lld bytes, shape x %s needs %llu",
                           (long long)*a, (long long)*b, (long long)(*b - *a), lm_dtype_name(e->dtype),
                           (unsigned long long)((uint64_t)numel * es));
    e->nbytes = (size_t)(*b - *a);
    return 0;
}

static int parse_header(lm_safetensors_file *f) {
    int rc = 0;
    span *sp = NULL;
    if (f->len < 8) return lm_err_code(LM_EINVAL, "file too short (%zu bytes) for a safetensors header", f->len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | f->buf[i];
    if (n > LM_SAFETENSORS_MAX_HEADER) return lm_err_code(LM_EINVAL, "header length %llu exceeds the %u-byte limit", (unsigned long long)n, LM_SAFETENSORS_MAX_HEADER);
    if (n > f->len - 8) return lm_err_code(LM_EINVAL, "header length %llu exceeds the file (%zu bytes)", (unsigned long long)n, f->len);
    const uint8_t *data = f->buf + 8 + n;
    size_t data_len = f->len - 8 - (size_t)n;
    jp j = {(const char *)f->buf + 8, (const char *)f->buf + 8 + n, (const char *)f->buf + 8};
    if ((rc = j_expect(&j, '{')) < 0) return rc;
    if (j_peek(&j) != '}') {
        for (;;) {
            char *k = NULL;
            if ((rc = j_string(&j, &k)) < 0) goto cleanup;
            if ((rc = j_expect(&j, ':')) < 0) { free(k); goto cleanup; }
            if (!strcmp(k, "__metadata__")) {
                free(k);
                if (f->nmeta || f->capmeta) { rc = lm_err_code(LM_EINVAL, "duplicate __metadata__"); goto cleanup; }
                if ((rc = parse_meta(f, &j)) < 0) goto cleanup;
                if (!f->capmeta) f->capmeta = -1; /* mark as seen */
            } else {
                if (f->n == f->cap) {
                    int nc = f->cap ? 2 * f->cap : 16;
                    lm_safetensors_entry *ne = realloc(f->e, (size_t)nc * sizeof *ne);
                    span *ns = ne ? realloc(sp, (size_t)nc * sizeof *ns) : NULL;
                    if (ne) f->e = ne;
                    if (ns) sp = ns;
                    if (!ne || !ns) { free(k); rc = lm_err_code(LM_ENOMEM, "out of memory"); goto cleanup; }
                    f->cap = nc;
                }
                lm_safetensors_entry *e = &f->e[f->n];
                memset(e, 0, sizeof *e);
                e->name = k;
                f->n++;
                int64_t a = 0, b = 0;
                if ((rc = parse_tensor(&j, e, &a, &b, data_len)) < 0) {
                    lm_err_prefix("tensor \"%.200s\"", k);
                    goto cleanup;
                }
                e->data = e->nbytes ? data + a : NULL;
                sp[f->n - 1] = (span){a, b, f->n - 1};
            }
            char c = j_peek(&j);
            if (c == ',') { j.p++; continue; }
            if (c == '}') break;
            rc = lm_err_code(LM_EINVAL, "header: expected ',' or '}' at byte %ld", j_pos(&j));
            goto cleanup;
        }
    }
    j.p++;
    if (f->capmeta < 0) f->capmeta = 0;
    j_ws(&j);
    if (j.p != j.end) { rc = lm_err_code(LM_EINVAL, "header: trailing bytes after the JSON object at byte %ld", j_pos(&j)); goto cleanup; }
    /* overlaps */
    if (f->n > 1) {
        qsort(sp, (size_t)f->n, sizeof *sp, span_cmp);
        for (int i = 1; i < f->n; i++)
            if (sp[i].a < sp[i - 1].b) {
                rc = lm_err_code(LM_EINVAL, "tensor \"%.200s\": data_offsets overlap those of \"%.200s\"",
                                 f->e[sp[i].idx].name, f->e[sp[i - 1].idx].name);
                goto cleanup;
            }
    }
    /* name index + duplicates */
    f->sorted = malloc((size_t)(f->n ? f->n : 1) * sizeof *f->sorted);
    if (!f->sorted) { rc = lm_err_code(LM_ENOMEM, "out of memory"); goto cleanup; }
    for (int i = 0; i < f->n; i++) f->sorted[i] = i;
    t_sort_file = f;
    qsort(f->sorted, (size_t)f->n, sizeof *f->sorted, name_cmp);
    for (int i = 1; i < f->n; i++)
        if (!strcmp(f->e[f->sorted[i]].name, f->e[f->sorted[i - 1]].name)) {
            rc = lm_err_code(LM_EINVAL, "duplicate tensor name \"%.200s\"", f->e[f->sorted[i]].name);
            goto cleanup;
        }
cleanup:
    if (f->capmeta < 0) f->capmeta = 0;
    free(sp);
    return rc;
}

static int open_common(lm_safetensors_file *f) {
    int rc = parse_header(f);
    if (rc < 0) lm_err_prefix("safetensors %s", f->path);
    return rc;
}

int lm_safetensors_open_buffer(lm_safetensors_file **out, const void *buf, size_t len, const char *name) {
    *out = NULL;
    lm_safetensors_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(name ? name : "<buffer>"))) { free(f); return lm_err_code(LM_ENOMEM, "out of memory"); }
    f->buf = buf; f->len = len;
    int rc = open_common(f);
    if (rc < 0) { lm_safetensors_close(f); return rc; }
    *out = f;
    return 0;
}

int lm_safetensors_open(lm_safetensors_file **out, const char *path) {
    int rc = 0, fd = -1;
    *out = NULL;
    lm_safetensors_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) { free(f); return lm_err_code(LM_ENOMEM, "out of memory"); }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) { rc = lm_err_code(LM_EIO, "safetensors %s: cannot open: %s", path, strerror(errno)); goto cleanup; }
    if (!S_ISREG(st.st_mode)) { rc = lm_err_code(LM_EIO, "safetensors %s: not a regular file", path); goto cleanup; }
    f->len = (size_t)st.st_size;
    if (f->len > 0) {
        f->map = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) { f->map = NULL; rc = lm_err_code(LM_EIO, "safetensors %s: mmap: %s", path, strerror(errno)); goto cleanup; }
        f->map_len = f->len;
        f->buf = f->map;
    }
    rc = open_common(f);
cleanup:
    if (fd >= 0) close(fd);
    if (rc < 0) { lm_safetensors_close(f); return rc; }
    *out = f;
    return 0;
}

int lm_safetensors_count(const lm_safetensors_file *f) { return f ? f->n : 0; }

const lm_safetensors_entry *lm_safetensors_get(const lm_safetensors_file *f, int i) {
    return (f && i >= 0 && i < f->n) ? &f->e[i] : NULL;
}

const lm_safetensors_entry *lm_safetensors_find(const lm_safetensors_file *f, const char *name) {
    if (!f || !name) return NULL;
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(f->e[f->sorted[mid]].name, name);
        if (!c) return &f->e[f->sorted[mid]];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

const char *lm_safetensors_meta(const lm_safetensors_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->mkey[i], key)) return f->mval[i];
    return NULL;
}

int lm_safetensors_meta_count(const lm_safetensors_file *f) { return f ? f->nmeta : 0; }

int lm_safetensors_meta_get(const lm_safetensors_file *f, int i, const char **key, const char **value) {
    if (!f || i < 0 || i >= f->nmeta) return LM_EINVAL;
    if (key) *key = f->mkey[i];
    if (value) *value = f->mval[i];
    return 0;
}

/* ---- writer -------------------------------------------------------------------------------- */
typedef struct { char *name; int dtype, ndim; int64_t shape[LM_SAFETENSORS_MAX_DIMS]; void *data; size_t nbytes; } w_entry;

struct lm_safetensors_writer {
    char *path;
    w_entry *e;
    int n, cap;
    char **mkey, **mval;
    int nmeta, capmeta;
};

typedef struct { char *s; size_t n, cap; int oom; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *p = realloc(b->s, nc);
        if (!p) { b->oom = 1; return; }
        b->s = p; b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Appends s as a JSON string literal (s is valid UTF-8). */
static void sb_json(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        if (*p == '"' || *p == '\\') { tmp[0] = '\\'; tmp[1] = (char)*p; sb_put(b, tmp, 2); }
        else if (*p < 0x20) { snprintf(tmp, sizeof tmp, "\\u%04x", *p); sb_put(b, tmp, 6); }
        else sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

static int valid_utf8(const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int l = utf8_len((const unsigned char *)s + i, n - i);
        if (!l) return 0;
        i += (size_t)l;
    }
    return 1;
}

int lm_safetensors_writer_open(lm_safetensors_writer **out, const char *path) {
    *out = NULL;
    lm_safetensors_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) { free(w); return lm_err_code(LM_ENOMEM, "out of memory"); }
    *out = w;
    return 0;
}

void lm_safetensors_writer_abort(lm_safetensors_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) { free(w->e[i].name); free(w->e[i].data); }
    for (int i = 0; i < w->nmeta; i++) { free(w->mkey[i]); free(w->mval[i]); }
    free(w->e); free(w->mkey); free(w->mval); free(w->path);
    free(w);
}

int lm_safetensors_writer_add(lm_safetensors_writer *w, const char *name, int dtype, const int64_t *shape, int ndim,
                     const void *data, size_t nbytes) {
    if (!name || !*name || !valid_utf8(name) || !strcmp(name, "__metadata__"))
        return lm_err_code(LM_EINVAL, "safetensors %s: invalid tensor name \"%.200s\"", w->path, name ? name : "(null)");
    size_t es = lm_dtype_size(dtype);
    if (!es) return lm_err_code(LM_EINVAL, "safetensors %s: tensor \"%.200s\": invalid dtype %d", w->path, name, dtype);
    if (ndim < 0 || ndim > LM_SAFETENSORS_MAX_DIMS || (ndim && !shape))
        return lm_err_code(LM_EINVAL, "safetensors %s: tensor \"%.200s\": %d dims (max %d)", w->path, name, ndim, LM_SAFETENSORS_MAX_DIMS);
    int64_t numel = lm_shape_numel(shape, ndim);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / es || (uint64_t)numel * es != nbytes)
        return lm_err_code(LM_EINVAL, "safetensors %s: tensor \"%.200s\": %zu bytes do not match shape x %s",
                           w->path, name, nbytes, lm_dtype_name(dtype));
    if (nbytes && !data) return lm_err_code(LM_EINVAL, "safetensors %s: tensor \"%.200s\": NULL data", w->path, name);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->e[i].name, name))
            return lm_err_code(LM_EINVAL, "safetensors %s: duplicate tensor name \"%.200s\"", w->path, name);
    if (w->n == w->cap) {
        int nc = w->cap ? 2 * w->cap : 16;
        w_entry *ne = realloc(w->e, (size_t)nc * sizeof *ne);
        if (!ne) return lm_err_code(LM_ENOMEM, "out of memory");
        w->e = ne; w->cap = nc;
    }
    w_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    e->data = nbytes ? malloc(nbytes) : NULL;
    if (!e->name || (nbytes && !e->data)) {
        free(e->name); free(e->data);
        return lm_err_code(LM_ENOMEM, "safetensors %s: tensor \"%.200s\": out of memory (%zu bytes)", w->path, name, nbytes);
    }
    if (nbytes) memcpy(e->data, data, nbytes);
    e->dtype = dtype; e->ndim = ndim; e->nbytes = nbytes;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    w->n++;
    return 0;
}

int lm_safetensors_writer_meta(lm_safetensors_writer *w, const char *key, const char *value) {
    if (!key || !value || !valid_utf8(key) || !valid_utf8(value))
        return lm_err_code(LM_EINVAL, "safetensors %s: metadata key/value must be UTF-8 strings", w->path);
    for (int i = 0; i < w->nmeta; i++)
        if (!strcmp(w->mkey[i], key)) {
            char *v = strdup(value);
            if (!v) return lm_err_code(LM_ENOMEM, "out of memory");
            free(w->mval[i]); w->mval[i] = v;
            return 0;
        }
    if (w->nmeta == w->capmeta) {
        int nc = w->capmeta ? 2 * w->capmeta : 8;
        char **a = realloc(w->mkey, (size_t)nc * sizeof *a);
        if (a) w->mkey = a;
        char **b = a ? realloc(w->mval, (size_t)nc * sizeof *b) : NULL;
        if (b) w->mval = b;
        if (!a || !b) return lm_err_code(LM_ENOMEM, "out of memory");
        w->capmeta = nc;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) { free(k); free(v); return lm_err_code(LM_ENOMEM, "out of memory"); }
    w->mkey[w->nmeta] = k; w->mval[w->nmeta] = v; w->nmeta++;
    return 0;
}

int lm_safetensors_writer_close(lm_safetensors_writer *w) {
    if (!w) return 0;
    int rc = 0;
    lm_atomic af = {.fd = -1};
    sbuf h = {0};
    char num[64];
    /* header */
    sb_str(&h, "{");
    if (w->nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->nmeta; i++) {
            if (i) sb_str(&h, ",");
            sb_json(&h, w->mkey[i]); sb_str(&h, ":"); sb_json(&h, w->mval[i]);
        }
        sb_str(&h, "}");
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        w_entry *e = &w->e[i];
        if (i || w->nmeta) sb_str(&h, ",");
        sb_json(&h, e->name);
        sb_str(&h, ":{\"dtype\":\""); sb_str(&h, lm_dtype_name(e->dtype)); sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)e->shape[d]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + e->nbytes));
        sb_str(&h, num);
        off += e->nbytes;
    }
    sb_str(&h, "}");
    while (!h.oom && h.n % 8) sb_str(&h, " ");
    if (h.oom) { rc = lm_err_code(LM_ENOMEM, "safetensors %s: out of memory", w->path); goto cleanup; }
    if (h.n > LM_SAFETENSORS_MAX_HEADER) { rc = lm_err_code(LM_EINVAL, "safetensors %s: header of %zu bytes exceeds the limit", w->path, h.n); goto cleanup; }
    /* core/atomic: temp file beside the target (mode 0666 & ~umask, the umask untouched),
     * fsync, rename over the target (a symlink there is replaced, not followed) */
    if ((rc = lm_atomic_open(&af, w->path)) < 0) goto fail;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    if ((rc = lm_atomic_write(&af, len8, 8)) < 0 || (rc = lm_atomic_write(&af, h.s, h.n)) < 0) goto fail;
    for (int i = 0; i < w->n; i++)
        if (w->e[i].nbytes && (rc = lm_atomic_write(&af, w->e[i].data, w->e[i].nbytes)) < 0) goto fail;
    if ((rc = lm_atomic_commit(&af)) < 0) goto fail;
    goto cleanup;
fail:
    lm_atomic_abort(&af);
    rc = lm_err_prefix("safetensors");
cleanup:
    free(h.s);
    lm_safetensors_writer_abort(w);
    return rc;
}

/* ---- half precision decoding ---------------------------------------------------------------- */
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float lm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F) return u2f(sign | 0x7F800000u | (m << 13)); /* inf, nan */
    if (e == 0) {                                              /* zero, subnormal: m * 2^-24 */
        float v = (float)m * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return u2f(sign | ((e + 112u) << 23) | (m << 13)); /* rebias 15 -> 127 */
}

float lm_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }
