/* cmd_weights.c — `lamac weights show FILE [--diff OTHER] [--atol X]`: lists the tensors of any
 * file lamac reads (safetensors, PyTorch zip or legacy .pth/.ckpt: name, shape, dtype, bytes),
 * a summary (count, bytes, dtypes, top-level prefixes) and the metadata keys; with --diff, the
 * comparison people otherwise do by hand after a conversion: tensor by tensor max |a - b| (in
 * float64, any dtypes), shape/dtype differences, keys missing from or extra in OTHER. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/weights.h"
#include "cli/command.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamac weights show FILE [--diff OTHER] [--atol X]\n\n"
            "show     list the tensors of FILE (safetensors, .pth, .ckpt: name, shape, dtype,\n"
            "         bytes), then the totals per dtype and per top-level prefix\n"
            "         (generator., discriminator., ...) and the metadata keys.\n"
            "--diff   compare FILE with OTHER tensor by tensor: max |a - b| (float64), shape or\n"
            "         dtype differences, keys missing from OTHER or extra in it.\n"
            "--atol   largest max |a - b| counted as equal (default 0: bit-identical values).\n\n"
            "example: lamac weights show big-lama/models/best.ckpt --diff big-lama.safetensors\n"
            "exit status: 0 ok (with --diff: same keys, shapes and values within --atol),\n"
            "             1 unreadable file, 2 usage, 3 the files differ.\n");
}

static void fmt_shape(char *b, size_t cap, const lm_safetensors_entry *e) {
    size_t o = (size_t)snprintf(b, cap, "(");
    for (int d = 0; d < e->ndim && o < cap; d++)
        o += (size_t)snprintf(b + o, cap - o, d ? ", %lld" : "%lld", (long long)e->shape[d]);
    if (o < cap) snprintf(b + o, cap - o, e->ndim == 1 ? ",)" : ")");
}

static double elem(const lm_safetensors_entry *e, size_t i) {
    const unsigned char *p = (const unsigned char *)e->data + i * lm_dtype_size(e->dtype);
    switch (e->dtype) {
    case LM_DT_F32: { float v; memcpy(&v, p, 4); return v; }
    case LM_DT_F64: { double v; memcpy(&v, p, 8); return v; }
    case LM_DT_F16: { uint16_t h; memcpy(&h, p, 2); return lm_f16_to_f32(h); }
    case LM_DT_BF16: { uint16_t h; memcpy(&h, p, 2); return lm_bf16_to_f32(h); }
    case LM_DT_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case LM_DT_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case LM_DT_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case LM_DT_I8: return (double)(int8_t)p[0];
    default: return p[0]; /* U8, BOOL */
    }
}

typedef struct { char name[64]; int count; size_t bytes; } tally;

static void tally_add(tally *t, int *n, int cap, const char *name, size_t len, size_t bytes) {
    for (int i = 0; i < *n; i++)
        if (strlen(t[i].name) == len && !strncmp(t[i].name, name, len)) {
            t[i].count++;
            t[i].bytes += bytes;
            return;
        }
    if (*n == cap) return;
    snprintf(t[*n].name, sizeof t[*n].name, "%.*s", (int)len, name);
    t[*n].count = 1;
    t[*n].bytes = bytes;
    (*n)++;
}

/* Prints the totals of s: count, bytes, per dtype, per top-level prefix. */
static void summary(const lm_weights_src *s) {
    tally dt[16], pf[64];
    int ndt = 0, npf = 0;
    size_t total = 0;
    int n = lm_weights_count(s);
    for (int i = 0; i < n; i++) {
        const lm_safetensors_entry *e = lm_weights_get(s, i);
        const char *dn = lm_dtype_name(e->dtype);
        tally_add(dt, &ndt, 16, dn, strlen(dn), e->nbytes);
        const char *dot = strchr(e->name, '.');
        tally_add(pf, &npf, 64, e->name, dot ? (size_t)(dot - e->name + 1) : strlen(e->name), e->nbytes);
        total += e->nbytes;
    }
    printf("%s (%s): %d tensors, %zu bytes\n", lm_weights_path(s), lm_weights_kind(s), n, total);
    printf("dtypes:");
    for (int i = 0; i < ndt; i++) printf(" %s %d (%zu bytes)%s", dt[i].name, dt[i].count, dt[i].bytes, i + 1 < ndt ? "," : "");
    printf("\nprefixes:");
    for (int i = 0; i < npf; i++) printf(" %s %d%s", pf[i].name, pf[i].count, i + 1 < npf ? "," : "");
    printf("%s\n", npf == 64 ? " (first 64)" : "");
}

static int show(const char *path) {
    lm_weights_src *s = NULL;
    char shp[160];
    if (lm_weights_open(&s, path) < 0) return lm_cmd_fail("weights");
    int n = lm_weights_count(s);
    for (int i = 0; i < n; i++) {
        const lm_safetensors_entry *e = lm_weights_get(s, i);
        fmt_shape(shp, sizeof shp, e);
        printf("%-60s %-22s %-5s %zu\n", e->name, shp, lm_dtype_name(e->dtype), e->nbytes);
    }
    summary(s);
    const char *keys[] = {"format", "step", "dtype", "epoch", "global_step", "pytorch-lightning_version"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *v = lm_weights_meta(s, keys[k]);
        if (v) printf("metadata %s: %.200s\n", keys[k], v);
    }
    const char *cfg = lm_weights_meta(s, "config");
    if (cfg) printf("metadata config: %zu bytes of YAML\n", strlen(cfg));
    lm_weights_close(s);
    return 0;
}

static int diff(const char *a_path, const char *b_path, double atol) {
    lm_weights_src *a = NULL, *b = NULL;
    char shp[160], shp2[160];
    if (lm_weights_open(&a, a_path) < 0 || lm_weights_open(&b, b_path) < 0) {
        lm_weights_close(a);
        return lm_cmd_fail("weights");
    }
    int n = lm_weights_count(a), m = lm_weights_count(b), compared = 0, differ = 0, missing = 0, extra = 0;
    double worst = 0;
    const char *worst_name = "-";
    printf("%-60s %-22s %-5s %s\n", "name", "shape", "dtype", "max |a - b|");
    for (int i = 0; i < n; i++) {
        const lm_safetensors_entry *x = lm_weights_get(a, i), *y = lm_weights_find(b, x->name);
        fmt_shape(shp, sizeof shp, x);
        if (!y) {
            printf("%-60s %-22s %-5s missing in %s\n", x->name, shp, lm_dtype_name(x->dtype), b_path);
            missing++;
            continue;
        }
        int same = x->ndim == y->ndim;
        for (int d = 0; same && d < x->ndim; d++) same = x->shape[d] == y->shape[d];
        if (!same) {
            fmt_shape(shp2, sizeof shp2, y);
            printf("%-60s %-22s %-5s shape differs: %s\n", x->name, shp, lm_dtype_name(x->dtype), shp2);
            differ++;
            continue;
        }
        size_t k = x->nbytes / lm_dtype_size(x->dtype);
        double mx = 0;
        for (size_t j = 0; j < k; j++) {
            double d = fabs(elem(x, j) - elem(y, j));
            if (d > mx || d != d) mx = d != d ? INFINITY : d;
        }
        compared++;
        if (mx > atol) differ++;
        if (mx > worst) { worst = mx; worst_name = x->name; }
        if (x->dtype != y->dtype)
            printf("%-60s %-22s %-5s %.6g  (dtype %s in %s)\n", x->name, shp, lm_dtype_name(x->dtype), mx,
                   lm_dtype_name(y->dtype), b_path);
        else
            printf("%-60s %-22s %-5s %.6g\n", x->name, shp, lm_dtype_name(x->dtype), mx);
    }
    for (int i = 0; i < m; i++) {
        const lm_safetensors_entry *y = lm_weights_get(b, i);
        if (lm_weights_find(a, y->name)) continue;
        fmt_shape(shp, sizeof shp, y);
        printf("%-60s %-22s %-5s extra in %s\n", y->name, shp, lm_dtype_name(y->dtype), b_path);
        extra++;
    }
    printf("compared %d tensors: max |a - b| = %.6g (%s); %d differ (atol %g), %d missing in %s, %d extra\n",
           compared, worst, worst_name, differ, atol, missing, b_path, extra);
    lm_weights_close(a);
    lm_weights_close(b);
    return differ || missing || extra ? 3 : 0;
}

static int run(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "show")) {
        fprintf(stderr, "lamac weights: unknown action '%s' (show)\n", argv[1]);
        return 2;
    }
    const char *file = NULL, *other = NULL;
    double atol = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--diff") && i + 1 < argc) other = argv[++i];
        else if (!strcmp(argv[i], "--atol") && i + 1 < argc) {
            char *end;
            atol = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !(atol >= 0)) {
                fprintf(stderr, "lamac weights: --atol '%s': expected a number >= 0\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "lamac weights: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        } else if (!file) file = argv[i];
        else { fprintf(stderr, "lamac weights: one FILE only ('%s')\n", argv[i]); return 2; }
    }
    if (!file) { usage(stderr); return 2; }
    return other ? diff(file, other, atol) : show(file);
}

const lm_command lm_cmd_weights = {"weights", "list tensors of a weights file, or compare two", run};
