/* pkwrite.c — protocol-2 pickle opcodes (see pkwrite.h; CPython Lib/pickle.py _Pickler). */
#include "io/pkwrite.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static void put(pk_writer *w, const void *p, size_t n) {
    if (w->oom) return;
    if (w->n + n > w->cap) {
        size_t nc = w->cap ? w->cap : 256;
        while (nc < w->n + n) nc *= 2;
        uint8_t *b = realloc(w->buf, nc);
        if (!b) { w->oom = 1; return; }
        w->buf = b;
        w->cap = nc;
    }
    memcpy(w->buf + w->n, p, n);
    w->n += n;
}

static void put1(pk_writer *w, uint8_t b) { put(w, &b, 1); }

static void put_le(pk_writer *w, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, (size_t)n);
}

void pk_w_init(pk_writer *w) {
    memset(w, 0, sizeof *w);
    put1(w, 0x80); /* PROTO */
    put1(w, 2);
}

void pk_w_free(pk_writer *w) {
    for (int i = 0; i < w->ng; i++) free(w->gname[i]);
    free(w->gname);
    free(w->gmemo);
    free(w->buf);
    memset(w, 0, sizeof *w);
}

int pk_w_status(const pk_writer *w) {
    return w->oom ? lm_err_code(LM_ENOMEM, "pickle writer: out of memory") : 0;
}

uint32_t pk_w_put(pk_writer *w) {
    uint32_t idx = w->memo++;
    if (idx < 256) { put1(w, 'q'); put1(w, (uint8_t)idx); } /* BINPUT */
    else { put1(w, 'r'); put_le(w, idx, 4); }               /* LONG_BINPUT */
    return idx;
}

void pk_w_get(pk_writer *w, uint32_t idx) {
    if (idx < 256) { put1(w, 'h'); put1(w, (uint8_t)idx); } /* BINGET */
    else { put1(w, 'j'); put_le(w, idx, 4); }               /* LONG_BINGET */
}

void pk_w_op(pk_writer *w, uint8_t op) { put1(w, op); }
void pk_w_none(pk_writer *w) { put1(w, 'N'); }
void pk_w_bool(pk_writer *w, int v) { put1(w, v ? 0x88 : 0x89); } /* NEWTRUE / NEWFALSE */

void pk_w_int(pk_writer *w, int64_t v) {
    if (v >= 0 && v <= 0xff) { put1(w, 'K'); put1(w, (uint8_t)v); }
    else if (v >= 0 && v <= 0xffff) { put1(w, 'M'); put_le(w, (uint64_t)v, 2); }
    else if (v >= -0x80000000ll && v <= 0x7fffffffll) { put1(w, 'J'); put_le(w, (uint64_t)v, 4); }
    else {
        /* LONG1: shortest little-endian two's complement (pickle.encode_long) */
        uint8_t b[8];
        int n = 8;
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)v >> (8 * i));
        while (n > 1 && ((b[n - 1] == 0 && !(b[n - 2] & 0x80)) || (b[n - 1] == 0xff && (b[n - 2] & 0x80)))) n--;
        put1(w, 0x8a);
        put1(w, (uint8_t)n);
        put(w, b, (size_t)n);
    }
}

void pk_w_float(pk_writer *w, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    put1(w, 'G');
    for (int i = 7; i >= 0; i--) put1(w, (uint8_t)(u >> (8 * i))); /* big-endian */
}

void pk_w_str(pk_writer *w, const char *s, size_t n) {
    put1(w, 'X'); /* BINUNICODE */
    put_le(w, n, 4);
    put(w, s, n);
    pk_w_put(w);
}

void pk_w_global(pk_writer *w, const char *module, const char *name) {
    size_t ml = strlen(module), nl = strlen(name);
    for (int i = 0; i < w->ng; i++)
        if (!strncmp(w->gname[i], module, ml) && w->gname[i][ml] == '\n' && !strcmp(w->gname[i] + ml + 1, name)) {
            pk_w_get(w, w->gmemo[i]);
            return;
        }
    put1(w, 'c');
    put(w, module, ml);
    put1(w, '\n');
    put(w, name, nl);
    put1(w, '\n');
    uint32_t idx = pk_w_put(w);
    if (w->ng == w->capg) {
        int nc = w->capg ? 2 * w->capg : 8;
        char **g = realloc(w->gname, (size_t)nc * sizeof *g);
        if (g) w->gname = g;
        uint32_t *m = g ? realloc(w->gmemo, (size_t)nc * sizeof *m) : NULL;
        if (m) w->gmemo = m;
        if (!g || !m) { w->oom = 1; return; }
        w->capg = nc;
    }
    char *k = malloc(ml + nl + 2);
    if (!k) { w->oom = 1; return; }
    memcpy(k, module, ml);
    k[ml] = '\n';
    memcpy(k + ml + 1, name, nl + 1);
    w->gname[w->ng] = k;
    w->gmemo[w->ng++] = idx;
}

void pk_w_int_tuple(pk_writer *w, const int64_t *v, int n) {
    if (n == 0) { put1(w, PKW_EMPTY_TUPLE); return; } /* pickle does not memoize () */
    if (n > 3) put1(w, PKW_MARK);
    for (int i = 0; i < n; i++) pk_w_int(w, v[i]);
    put1(w, n == 1 ? PKW_TUPLE1 : n == 2 ? PKW_TUPLE2 : n == 3 ? PKW_TUPLE3 : PKW_TUPLE);
    pk_w_put(w);
}

void pk_w_stop(pk_writer *w) { put1(w, PKW_STOP); }
