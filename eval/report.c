/* report.c — metrics.json / metrics.csv / metrics.md / per_image.csv / report.html of an
 * evaluation; the table is the official evaluate_predicts.py one (rows metric x group, columns
 * mean / std); report.html is eval/html.h's page over those files. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic.h"
#include "core/err.h"
#include "core/path.h"
#include "eval/evaluate.h"
#include "eval/html.h"

void lm_eval_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void jstr(FILE *f, const char *s) { lm_eval_json_string(f, s); }

static void jnum(FILE *f, double v) {
    if (isnan(v) || isinf(v)) fputs("null", f);
    else fprintf(f, "%.17g", v);
}

static void jstat(FILE *f, const lm_stat *s) {
    fputs("{\"mean\": ", f);
    jnum(f, s->mean);
    fputs(", \"std\": ", f);
    jnum(f, s->std);
    fprintf(f, ", \"n\": %d}", s->n);
}

/* The object metrics.json has under "metrics": {"ssim": {"total": {...}, "0-10%": {...}}, ...};
 * indent: the indentation of the line holding the key (entries get two more spaces). */
void lm_eval_json_metrics(FILE *f, const lm_eval_result *r, const char *indent) {
    char name[32];
    fputc('{', f);
    for (int m = 0; m < LM_M_COUNT; m++) {
        const lm_eval_metric *e = &r->m[m];
        fprintf(f, "%s\n%s  \"%s\": {", m ? "," : "", indent, e->name);
        if (e->skipped) {
            fputs("\"skipped\": true, \"reason\": ", f);
            jstr(f, e->why);
            fputs("}", f);
            continue;
        }
        fputs("\"total\": ", f);
        jstat(f, &e->total);
        for (int b = 0; b < r->bins; b++) {
            if (!e->bin[b].n) continue;
            fputs(", ", f);
            jstr(f, lm_bin_name(name, sizeof name, b, r->bins));
            fputs(": ", f);
            jstat(f, &e->bin[b]);
        }
        fputs("}", f);
    }
    fprintf(f, "\n%s}", indent);
}

/* A report file: written into memory, then to disk atomically (core/atomic) on close, so a
 * crash never leaves a half-written metrics file. */
typedef struct out_file {
    FILE *f;
    char *buf;
    size_t n;
    char path[4200];
} out_file;

static FILE *open_out(out_file *o, const char *dir, const char *name) {
    o->f = NULL, o->buf = NULL, o->n = 0;
    if (snprintf(o->path, sizeof o->path, "%s/%s", dir, name) >= (int)sizeof o->path) {
        lm_err_code(LM_EINVAL, "report path too long: %s/%s", dir, name);
        return NULL;
    }
    o->f = open_memstream(&o->buf, &o->n);
    if (!o->f) lm_err_code(LM_ENOMEM, "cannot write %s: out of memory", o->path);
    return o->f;
}

static int close_out(out_file *o) {
    int bad = ferror(o->f);
    int rc = fclose(o->f) != 0 || bad ? lm_err_code(LM_ENOMEM, "cannot write %s: out of memory", o->path) : 0;
    if (!rc && lm_atomic_write_file(o->path, o->buf, o->n) < 0) rc = lm_err_prefix("report");
    free(o->buf);
    o->buf = NULL;
    return rc;
}

static int write_json(const lm_eval_result *r, const char *dir, const char *command) {
    char name[32];
    out_file of;
    FILE *f = open_out(&of, dir, "metrics.json");
    if (!f) return lm_err_last_code();
    fputs("{\n  \"command\": ", f);
    jstr(f, command);
    fprintf(f, ",\n  \"images_listed\": %d,\n  \"images_evaluated\": %d,\n  \"seconds\": %.3f,\n", r->n_listed,
            r->n, r->seconds);
    fprintf(f, "  \"bins\": {\"count\": %d, \"rule\": \"%s\", \"edges\": [", r->bins,
            r->rule == LM_BINS_OFFLINE ? "offline: [e_k, e_k+1), area 1 in the last bin (InpaintingEvaluator)"
                                       : "online: (e_k, e_k+1], area 0 in the first bin (InpaintingEvaluatorOnline)");
    for (int b = 0; b <= r->bins; b++) fprintf(f, "%s%.17g", b ? ", " : "", lm_bin_edge(b, r->bins));
    fputs("], \"images\": {", f);
    for (int b = 0; b < r->bins; b++) {
        fprintf(f, "%s", b ? ", " : "");
        jstr(f, lm_bin_name(name, sizeof name, b, r->bins));
        fprintf(f, ": %d", r->bin_count[b]);
    }
    fputs("}},\n  \"weights\": [", f);
    for (int i = 0; i < r->n_w; i++) {
        fputs(i ? ",\n    {\"what\": " : "\n    {\"what\": ", f);
        jstr(f, r->w[i].what);
        fputs(", \"path\": ", f);
        jstr(f, r->w[i].path);
        fputs(", \"sha256\": ", f);
        jstr(f, r->w[i].sha256);
        fputs("}", f);
    }
    fputs("],\n  \"metrics\": ", f);
    lm_eval_json_metrics(f, r, "  ");
    fputs(",\n  \"warnings\": [", f);
    for (int i = 0; i < r->n_warnings; i++) {
        fputs(i ? ", " : "", f);
        jstr(f, r->warnings[i]);
    }
    fputs("],\n  \"skipped_images\": [", f);
    for (int i = 0; i < r->n_skipped; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        jstr(f, r->skipped[i]);
    }
    fputs("]\n}\n", f);
    return close_out(&of);
}

static void fmt(char *buf, size_t cap, double v) {
    if (isnan(v)) snprintf(buf, cap, "nan");
    else snprintf(buf, cap, "%.4f", v);
}

static int write_tables(const lm_eval_result *r, const char *dir) {
    char name[32], a[32], b[32];
    out_file oc, om;
    FILE *c = open_out(&oc, dir, "metrics.csv");
    if (!c) return lm_err_last_code();
    FILE *md = open_out(&om, dir, "metrics.md");
    if (!md) {
        fclose(c);
        free(oc.buf);
        return lm_err_last_code();
    }
    fputs("metric,group,mean,std,n\n", c);
    fprintf(md, "# Evaluation\n\n%d of %d images evaluated; bins by masked area (%s convention).\n\n",
            r->n, r->n_listed, r->rule == LM_BINS_OFFLINE ? "offline" : "online");
    fputs("| metric | group | mean | std | n |\n|---|---|---:|---:|---:|\n", md);
    for (int m = 0; m < LM_M_COUNT; m++) {
        const lm_eval_metric *e = &r->m[m];
        if (e->skipped) {
            fprintf(c, "%s,total,,,0\n", e->name);
            fprintf(md, "| %s | total | skipped | | |\n", e->name);
            continue;
        }
        for (int g = -1; g < r->bins; g++) {
            const lm_stat *s = g < 0 ? &e->total : &e->bin[g];
            if (g >= 0 && !s->n) continue;
            const char *gn = g < 0 ? "total" : lm_bin_name(name, sizeof name, g, r->bins);
            fmt(a, sizeof a, s->mean);
            fmt(b, sizeof b, s->std);
            fprintf(c, "%s,%s,%.10g,%.10g,%d\n", e->name, gn, s->mean, s->std, s->n);
            fprintf(md, "| %s | %s | %s | %s | %d |\n", e->name, gn, a, isnan(s->std) ? "" : b, s->n);
        }
    }
    int skipped = 0;
    for (int m = 0; m < LM_M_COUNT; m++) skipped += r->m[m].skipped;
    if (skipped) {
        fputs("\n## Not computed\n\n", md);
        for (int m = 0; m < LM_M_COUNT; m++)
            if (r->m[m].skipped) fprintf(md, "- **%s** — %s\n", r->m[m].name, r->m[m].why);
    }
    if (r->n_warnings) {
        fputs("\n## Warnings\n\n", md);
        for (int i = 0; i < r->n_warnings; i++) fprintf(md, "- %s\n", r->warnings[i]);
    }
    if (r->n_skipped) {
        fputs("\n## Images left out\n\n", md);
        for (int i = 0; i < r->n_skipped; i++) fprintf(md, "- %s\n", r->skipped[i]);
    }
    if (r->n_w) {
        fputs("\n## Weights\n\n", md);
        for (int i = 0; i < r->n_w; i++)
            fprintf(md, "- %s: `%s` sha256 %s\n", r->w[i].what, r->w[i].path, r->w[i].sha256[0] ? r->w[i].sha256 : "?");
    }
    int rc = close_out(&oc);
    int rc2 = close_out(&om);
    return rc ? rc : rc2;
}

static void csv_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* the image, prediction and mask files as absolute paths (as given when they cannot be
 * resolved), so report.html can be regenerated from another working directory */
static void csv_path(FILE *f, const char *s) {
    char *abs = s ? realpath(s, NULL) : NULL;
    csv_str(f, abs ? abs : s);
    free(abs);
}

static int write_per_image(const lm_eval_result *r, const char *dir) {
    out_file of;
    FILE *f = open_out(&of, dir, "per_image.csv");
    if (!f) return lm_err_last_code();
    fputs("mask,area,bin,ssim,psnr,l1,lpips,image,pred,mask_file\n", f);
    for (int i = 0; i < r->n; i++) {
        const lm_eval_image *e = &r->img[i];
        csv_str(f, e->mask);
        fprintf(f, ",%.9g,%d,%.10g,%.10g,%.10g,%.10g,", e->area, e->bin, e->v[0], e->v[1], e->v[2], e->v[3]);
        csv_path(f, e->image);
        fputc(',', f);
        csv_path(f, e->pred);
        fputc(',', f);
        csv_path(f, e->mask);
        fputc('\n', f);
    }
    return close_out(&of);
}

int lm_eval_write_reports(const lm_eval_result *r, const char *dir, const char *command) {
    int rc = lm_path_mkdirs(dir);
    if (!rc) rc = write_json(r, dir, command);
    if (!rc) rc = write_tables(r, dir);
    if (!rc) rc = write_per_image(r, dir);
    if (!rc) rc = lm_report_html(dir, NULL);
    return rc < 0 ? lm_err_prefix("report") : 0;
}
