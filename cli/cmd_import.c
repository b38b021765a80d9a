/* cmd_import.c — `lamac import FILE --out OUT.safetensors [--select PREFIX] [--strip PREFIX]`:
 * any file lamac reads (PyTorch zip or legacy .pth/.ckpt — Lightning checkpoints with classes
 * lamac does not know in their hyper-parameters, storages on cuda:N, views, shared storages —
 * or safetensors) to a safetensors file with the same tensor names and dtypes, C-contiguous.
 * The scalars of a PyTorch file (epoch, global_step, ...) go to the metadata as "source.<key>".
 * Atomic write (temp file, fsync, rename). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "io/pth.h"
#include "model/weights.h"
#include "cli/command.h"

#define MAX_META_COPY 1000

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamac import FILE --out OUT.safetensors [--select PREFIX] [--strip PREFIX]\n\n"
            "Converts FILE (a PyTorch .pth/.ckpt in the zip or the legacy format, or safetensors)\n"
            "to safetensors: same names, dtypes and values. A Lightning checkpoint gives its\n"
            "state_dict; scalars of a PyTorch file become metadata \"source.<key>\" (first %d).\n"
            "--select PREFIX   keep only the tensors whose name starts with PREFIX (repeatable)\n"
            "--strip PREFIX    remove PREFIX from the start of the names that have it\n"
            "                  (e.g. --select generator. --strip generator.)\n"
            "Prints the tensor count, bytes, dtypes and the prefixes found.\n\n"
            "example: lamac import big-lama/models/best.ckpt --out big-lama.safetensors\n"
            "exit status: 0 ok, 1 unreadable input or failed write, 2 usage.\n", MAX_META_COPY);
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static int run(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *strip = NULL;
    const char *sel[16];
    int nsel = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--strip") && i + 1 < argc) strip = argv[++i];
        else if (!strcmp(argv[i], "--select") && i + 1 < argc) {
            if (nsel == 16) { fprintf(stderr, "lamac import: at most 16 --select\n"); return 2; }
            sel[nsel++] = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "lamac import: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        } else if (!in) in = argv[i];
        else { fprintf(stderr, "lamac import: one FILE only ('%s')\n", argv[i]); return 2; }
    }
    if (!in || !out) { usage(stderr); return 2; }
    lm_weights_src *s = NULL;
    lm_safetensors_writer *w = NULL;
    if (lm_weights_open(&s, in) < 0) return lm_cmd_fail("import");
    int n = lm_weights_count(s), kept = 0, rc = 0;
    size_t bytes = 0;
    char name[4096], tmp[4096];
    if ((rc = lm_safetensors_writer_open(&w, out)) < 0) goto cleanup;
    if ((rc = lm_safetensors_writer_meta(w, "format", "lamac-import-1")) < 0) goto cleanup;
    const char *slash = strrchr(in, '/');
    if ((rc = lm_safetensors_writer_meta(w, "source", slash ? slash + 1 : in)) < 0) goto cleanup;
    if ((rc = lm_safetensors_writer_meta(w, "source_format", lm_weights_kind(s))) < 0) goto cleanup;
    const char *cfg = lm_weights_meta(s, "config"); /* a lamac file's config stays usable */
    if (cfg && (rc = lm_safetensors_writer_meta(w, "config", cfg)) < 0) goto cleanup;
    if (strcmp(lm_weights_kind(s), "safetensors")) {
        /* the PyTorch file's scalars: reopen to list them (lm_weights has lookups only) */
        lm_pth *p = NULL;
        if (lm_pth_load_ex(&p, in, LM_PTH_OPAQUE_UNKNOWN) == 0) {
            for (int i = 0; i < lm_pth_meta_count(p) && i < MAX_META_COPY && rc == 0; i++) {
                const char *k, *v;
                lm_pth_meta_get(p, i, &k, &v);
                snprintf(tmp, sizeof tmp, "source.%s", k);
                rc = lm_safetensors_writer_meta(w, tmp, v);
            }
            lm_pth_free(p);
            if (rc < 0) goto cleanup;
        }
    }
    int dtc[32] = {0};
    for (int i = 0; i < n; i++) {
        const lm_safetensors_entry *e = lm_weights_get(s, i);
        int keep = !nsel;
        for (int k = 0; k < nsel && !keep; k++) keep = starts(e->name, sel[k]);
        if (!keep) continue;
        const char *nm = e->name;
        if (strip && starts(nm, strip)) nm += strlen(strip);
        if (!*nm) {
            rc = lm_err_code(LM_EINVAL, "--strip '%s' leaves tensor '%s' without a name", strip, e->name);
            goto cleanup;
        }
        if ((size_t)snprintf(name, sizeof name, "%s", nm) >= sizeof name) {
            rc = lm_err_code(LM_EINVAL, "tensor name too long: %.100s...", nm);
            goto cleanup;
        }
        if ((rc = lm_safetensors_writer_add(w, name, e->dtype, e->shape, e->ndim, e->data, e->nbytes)) < 0) goto cleanup;
        kept++;
        bytes += e->nbytes;
        if (e->dtype >= 0 && e->dtype < 32) dtc[e->dtype]++;
    }
    if (!kept) {
        rc = lm_err_code(LM_EINVAL, "%s: no tensor %s", in, nsel ? "matches --select" : "in the file");
        goto cleanup;
    }
    rc = lm_safetensors_writer_close(w);
    w = NULL;
    if (rc < 0) goto cleanup;
    printf("imported %d of %d tensors (%zu bytes) from %s (%s) to %s\ndtypes:", kept, n, bytes, in,
           lm_weights_kind(s), out);
    for (int d = 0; d < 32; d++)
        if (dtc[d]) printf(" %s %d", lm_dtype_name(d), dtc[d]);
    printf("\nprefixes of the source:");
    /* distinct first components, in order of appearance (first 32) */
    char seen[32][64];
    int ns = 0;
    for (int i = 0; i < n && ns < 32; i++) {
        const char *nm = lm_weights_get(s, i)->name, *dot = strchr(nm, '.');
        size_t l = dot ? (size_t)(dot - nm + 1) : strlen(nm);
        if (l >= 64) l = 63;
        int dup = 0;
        for (int k = 0; k < ns && !dup; k++) dup = strlen(seen[k]) == l && !strncmp(seen[k], nm, l);
        if (dup) continue;
        memcpy(seen[ns], nm, l);
        seen[ns][l] = 0;
        printf(" %s %d", seen[ns], lm_weights_count_prefix(s, seen[ns]));
        ns++;
    }
    printf("\n");
cleanup:
    lm_safetensors_writer_abort(w);
    lm_weights_close(s);
    return rc < 0 ? lm_cmd_fail("import") : 0;
}

const lm_command lm_cmd_import = {"import", "convert a PyTorch .pth/.ckpt to safetensors", run};
