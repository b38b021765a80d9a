/* html.c — report.html of an evaluation folder or a training run (see html.h). The page is
 * built in memory and written atomically: inline CSS and scripts (eval/html_assets.c), the
 * JSON inputs embedded verbatim in <script type="application/json"> blocks with every '<'
 * written as \u003c (valid JSON, since '<' can only occur inside strings, and no "</script"
 * can close the block), the example thumbnails and the sample grid as base64 PNG data: URIs.
 * No official counterpart. */
#define _GNU_SOURCE
#include "eval/html.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic.h"
#include "core/err.h"
#include "core/path.h"
#include "core/readall.h"
#include "core/strbuf.h"
#include "data/image.h"
#include "eval/html_assets.h"

#define THUMB_H 192      /* example thumbnails: at most this high */
#define GRID_MAX_W 1600  /* sample grid: shrunk to this width when wider */
#define PATH_CAP 4352

/* ---- page text (core/strbuf.h) ------------------------------------------------------ */
static void hb_lines(lm_strbuf *b, const char *const *lines) {
    for (; *lines; lines++) lm_strbuf_str(b, *lines);
}
/* HTML text / attribute value */
static void hb_text(lm_strbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': lm_strbuf_str(b, "&amp;"); break;
        case '<': lm_strbuf_str(b, "&lt;"); break;
        case '>': lm_strbuf_str(b, "&gt;"); break;
        case '"': lm_strbuf_str(b, "&quot;"); break;
        case '\'': lm_strbuf_str(b, "&#39;"); break;
        default: lm_strbuf_put(b, s, 1);
        }
    }
}
/* JSON text inside <script>: '<' as \u003c */
static void hb_json(lm_strbuf *b, const char *s, size_t n) {
    size_t i0 = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '<') continue;
        lm_strbuf_put(b, s + i0, i - i0);
        lm_strbuf_str(b, "\\u003c");
        i0 = i + 1;
    }
    lm_strbuf_put(b, s + i0, n - i0);
}
static void hb_b64(lm_strbuf *b, const uint8_t *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        q[0] = A[v >> 18 & 63], q[1] = A[v >> 12 & 63];
        q[2] = i + 1 < n ? A[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? A[v & 63] : '=';
        lm_strbuf_put(b, q, 4);
    }
}
static int hb_png(lm_strbuf *b, const lm_image *im) {
    uint8_t *png = NULL;
    size_t n = 0;
    int rc = lm_image_encode_png(&png, &n, im);
    if (rc < 0) return rc;
    lm_strbuf_str(b, "data:image/png;base64,");
    hb_b64(b, png, n);
    free(png);
    return 0;
}

/* ---- files ----------------------------------------------------------------------------- */
static int join(char *dst, size_t cap, const char *a, const char *b) {
    if (snprintf(dst, cap, "%s/%s", a, b) >= (int)cap) return lm_err_code(LM_EINVAL, "path too long: %s/%s", a, b);
    return 0;
}

/* Whole file into *out (NUL-terminated, *n bytes). 1: absent (nothing set), 0: read, <0: error. */
static int slurp(const char *path, char **out, size_t *n) {
    *out = NULL, *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 1;
        return lm_err_code(LM_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    int rc = lm_read_all(f, out, n);
    fclose(f);
    if (rc == LM_ENOMEM) return lm_err_code(LM_ENOMEM, "out of memory reading %s", path);
    return rc < 0 ? lm_err_code(LM_EIO, "cannot read %s", path) : 0;
}

/* <script type="application/json" id=ID> with the file's text; 1 when absent. */
static int embed_json_file(lm_strbuf *b, const char *id, const char *path) {
    char *text;
    size_t n;
    int rc = slurp(path, &text, &n);
    if (rc) return rc;
    lm_strbuf_fmt(b, "<script type=\"application/json\" id=\"%s\">", id);
    hb_json(b, text, n);
    lm_strbuf_str(b, "</script>\n");
    free(text);
    return 0;
}

/* metrics.jsonl as one JSON array of its lines; a line that is not a {...} object (a line
 * cut by a crash) is left out. 1 when absent. */
static int embed_jsonl(lm_strbuf *b, const char *id, const char *path) {
    char *text;
    size_t n;
    int rc = slurp(path, &text, &n);
    if (rc) return rc;
    lm_strbuf_fmt(b, "<script type=\"application/json\" id=\"%s\">[", id);
    int first = 1;
    for (char *s = text; *s;) {
        char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *t = s, *u = s + len;
        while (t < u && (*t == ' ' || *t == '\t' || *t == '\r')) t++;
        while (u > t && (u[-1] == ' ' || u[-1] == '\t' || u[-1] == '\r')) u--;
        if (u - t >= 2 && *t == '{' && u[-1] == '}') {
            if (!first) lm_strbuf_str(b, ",\n");
            hb_json(b, t, (size_t)(u - t));
            first = 0;
        }
        s += len + (e ? 1 : 0);
    }
    lm_strbuf_str(b, "]</script>\n");
    free(text);
    return 0;
}

/* ---- per_image.csv and the examples ---------------------------------------------------- */
/* Next CSV field of *s (quotes with "" inside); returns a malloc'd copy, advances *s past the
 * comma (or to the line end). */
static char *csv_field(const char **s) {
    const char *p = *s;
    lm_strbuf f = {0};
    if (*p == '"') {
        for (p++; *p; p++) {
            if (*p == '"') {
                if (p[1] == '"') {
                    lm_strbuf_put(&f, p, 1);
                    p++;
                    continue;
                }
                p++;
                break;
            }
            lm_strbuf_put(&f, p, 1);
        }
    }
    while (*p && *p != ',' && *p != '\n' && *p != '\r') lm_strbuf_put(&f, p++, 1);
    if (*p == ',') p++;
    *s = p;
    if (f.oom) {
        free(f.p);
        return NULL;
    }
    if (!f.p) return strdup("");
    return f.p;
}

typedef struct example {
    double v;
    char *mask, *image, *pred; /* mask: as listed (shown) */
    char *mask_file;           /* the mask file to read (NULL: mask) */
} example;

static int cmp_example(const void *a, const void *b) {
    double x = ((const example *)a)->v, y = ((const example *)b)->v;
    return x < y ? -1 : x > y;
}

enum { COL_MASK, COL_SSIM, COL_LPIPS, COL_IMAGE, COL_PRED, COL_MASKFILE, NCOL };

/* Reads per_image.csv: every row with image and prediction paths (mask_file when present). *metric: "lpips" when any
 * row has an LPIPS value, else "ssim"; rows without that value are dropped. 1: absent file
 * or no usable row. */
static int read_examples(const char *path, example **out, int *count, const char **metric) {
    char *text;
    size_t len;
    *out = NULL, *count = 0;
    int rc = slurp(path, &text, &len);
    if (rc) return rc;
    static const char *const names[NCOL] = {"mask", "ssim", "lpips", "image", "pred", "mask_file"};
    int col[NCOL];
    for (int k = 0; k < NCOL; k++) col[k] = -1;
    const char *s = text;
    for (int c = 0; *s && *s != '\n' && *s != '\r'; c++) {
        char *f = csv_field(&s);
        if (!f) {
            free(text);
            return lm_err_code(LM_ENOMEM, "out of memory");
        }
        for (int k = 0; k < NCOL; k++)
            if (!strcmp(f, names[k])) col[k] = c;
        free(f);
    }
    if (col[COL_MASK] < 0 || col[COL_SSIM] < 0 || col[COL_IMAGE] < 0 || col[COL_PRED] < 0) {
        free(text);
        return 1; /* an older per_image.csv without the paths */
    }
    example *ex = NULL;
    int n = 0, cap = 0, have_lpips = 0;
    double *lp = NULL; /* lpips per row, beside ex */
    while (*s) {
        while (*s == '\n' || *s == '\r') s++;
        if (!*s) break;
        char *f[NCOL] = {0};
        for (int c = 0; *s && *s != '\n' && *s != '\r'; c++) {
            char *v = csv_field(&s);
            if (!v) {
                rc = lm_err_code(LM_ENOMEM, "out of memory");
                break;
            }
            int used = 0;
            for (int k = 0; k < NCOL; k++)
                if (col[k] == c && !f[k]) f[k] = v, used = 1;
            if (!used) free(v);
        }
        if (!rc && f[COL_MASK] && f[COL_SSIM] && f[COL_IMAGE] && f[COL_PRED] && *f[COL_IMAGE] && *f[COL_PRED]) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                example *q = realloc(ex, sizeof *ex * (size_t)cap);
                double *r = realloc(lp, sizeof *lp * (size_t)cap);
                if (q) ex = q;
                if (r) lp = r;
                if (!q || !r) rc = lm_err_code(LM_ENOMEM, "out of memory");
            }
            if (!rc) {
                double l = f[COL_LPIPS] ? strtod(f[COL_LPIPS], NULL) : NAN;
                lp[n] = l;
                if (!isnan(l)) have_lpips = 1;
                ex[n] = (example){strtod(f[COL_SSIM], NULL), f[COL_MASK], f[COL_IMAGE], f[COL_PRED],
                                  f[COL_MASKFILE] && *f[COL_MASKFILE] ? f[COL_MASKFILE] : NULL};
                f[COL_MASK] = f[COL_IMAGE] = f[COL_PRED] = NULL;
                if (ex[n].mask_file) f[COL_MASKFILE] = NULL;
                n++;
            }
        }
        for (int k = 0; k < NCOL; k++) free(f[k]);
        if (rc) break;
    }
    free(text);
    int kept = 0;
    for (int i = 0; !rc && i < n; i++) {
        /* best first: lowest LPIPS, or highest SSIM (sorted by -SSIM) */
        double v = have_lpips ? lp[i] : -ex[i].v;
        if (isnan(v)) {
            free(ex[i].mask), free(ex[i].image), free(ex[i].pred), free(ex[i].mask_file);
            continue;
        }
        ex[kept] = ex[i];
        ex[kept++].v = v;
    }
    if (rc) {
        for (int i = 0; i < n; i++) free(ex[i].mask), free(ex[i].image), free(ex[i].pred), free(ex[i].mask_file);
        kept = 0;
    }
    free(lp);
    if (rc || !kept) {
        free(ex);
        return rc ? rc : 1;
    }
    qsort(ex, (size_t)kept, sizeof *ex, cmp_example);
    if (!have_lpips)
        for (int i = 0; i < kept; i++) ex[i].v = -ex[i].v;
    *metric = have_lpips ? "lpips" : "ssim";
    *out = ex, *count = kept;
    return 0;
}

/* The image shrunk to at most max_h high (kept as it is when smaller). */
static int shrink(lm_image *im, int max_h) {
    if (im->h <= max_h) return 0;
    int w = (int)((double)im->w * max_h / im->h + 0.5);
    lm_image t;
    int rc = lm_image_resize_bicubic(&t, im, w < 1 ? 1 : w, max_h);
    if (rc < 0) return rc;
    lm_image_free(im);
    *im = t;
    return 0;
}

/* One <td> with the picture (or a note saying why not). */
static int td_image(lm_strbuf *b, lm_image *im, const char *alt) {
    lm_strbuf_str(b, "<td><img alt=\"");
    hb_text(b, alt);
    lm_strbuf_str(b, "\" src=\"");
    int rc = hb_png(b, im);
    lm_strbuf_str(b, "\"></td>");
    return rc;
}

static int example_row(lm_strbuf *b, const char *label, const example *e, const char *metric) {
    lm_image img = {0}, msk = {0}, pred = {0}, masked = {0};
    lm_strbuf_fmt(b, "<tr class=\"lm-example\"><th class=\"l\">%s<br>%s %.4f<br><span class=\"meta\">", label, metric, e->v);
    hb_text(b, e->mask);
    lm_strbuf_str(b, "</span></th>");
    int rc = 0;
    if (lm_image_read(&img, e->image, 3) < 0 || lm_image_read(&msk, e->mask_file ? e->mask_file : e->mask, 1) < 0 ||
        lm_image_read(&pred, e->pred, 3) < 0 || msk.w != img.w || msk.h != img.h) {
        lm_strbuf_str(b, "<td colspan=\"3\" class=\"note\">cannot show: ");
        hb_text(b, msk.data && (msk.w != img.w || msk.h != img.h) ? "mask and image sizes differ" : lm_err_msg());
        lm_strbuf_str(b, "</td></tr>\n");
        goto cleanup;
    }
    if ((rc = lm_image_alloc(&masked, img.w, img.h, 3)) < 0) goto cleanup;
    for (size_t i = 0; i < (size_t)img.w * img.h; i++)
        for (int c = 0; c < 3; c++) masked.data[i * 3 + c] = msk.data[i] > 127 ? 0 : img.data[i * 3 + c];
    if ((rc = shrink(&img, THUMB_H)) < 0 || (rc = shrink(&masked, THUMB_H)) < 0 || (rc = shrink(&pred, THUMB_H)) < 0)
        goto cleanup;
    if ((rc = td_image(b, &img, "image")) < 0 || (rc = td_image(b, &masked, "masked input")) < 0 ||
        (rc = td_image(b, &pred, "prediction")) < 0)
        goto cleanup;
    lm_strbuf_str(b, "</tr>\n");
cleanup:
    lm_image_free(&img), lm_image_free(&msk), lm_image_free(&pred), lm_image_free(&masked);
    return rc;
}

static int examples_section(lm_strbuf *b, const char *csv) {
    example *ex;
    int n;
    const char *metric = "ssim";
    int rc = read_examples(csv, &ex, &n, &metric);
    if (rc) return rc;
    lm_strbuf_fmt(b, "<section id=\"lm-examples\"><h2>Examples</h2><p class=\"note\">best, median and worst of %d images "
              "by %s (%s); columns: image | masked input (hole black) | prediction</p>\n"
              "<table class=\"examples\"><tr><th class=\"l\">rank</th><th>image</th><th>masked input</th>"
              "<th>prediction</th></tr>\n",
           n, metric, !strcmp(metric, "lpips") ? "lower is better" : "higher is better");
    int pick[3] = {0, n / 2, n - 1};
    static const char *const label[3] = {"best", "median", "worst"};
    for (int k = 0; k < 3 && !rc; k++) {
        if (k && pick[k] == pick[k - 1]) continue; /* fewer than 3 images */
        rc = example_row(b, label[k], &ex[pick[k]], metric);
    }
    lm_strbuf_str(b, "</table></section>\n");
    for (int i = 0; i < n; i++) free(ex[i].mask), free(ex[i].image), free(ex[i].pred), free(ex[i].mask_file);
    free(ex);
    return rc;
}

/* ---- the newest sample grid ------------------------------------------------------------ */
/* run_dir/samples/<epoch folder>/<name>.png with the latest mtime (ties: the larger path). */
static int newest_grid(char *out, size_t cap, const char *run_dir) {
    char samples[PATH_CAP], sub[PATH_CAP], file[PATH_CAP];
    struct timespec best = {0, 0};
    int found = 0;
    if (join(samples, sizeof samples, run_dir, "samples") < 0) return LM_EINVAL;
    DIR *d = opendir(samples);
    if (!d) return 1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || join(sub, sizeof sub, samples, e->d_name) < 0) continue;
        DIR *d2 = opendir(sub);
        if (!d2) continue;
        struct dirent *f;
        while ((f = readdir(d2))) {
            size_t l = strlen(f->d_name);
            struct stat st;
            if (l < 5 || strcmp(f->d_name + l - 4, ".png") || join(file, sizeof file, sub, f->d_name) < 0 ||
                stat(file, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            int newer = st.st_mtim.tv_sec > best.tv_sec ||
                        (st.st_mtim.tv_sec == best.tv_sec && st.st_mtim.tv_nsec > best.tv_nsec) ||
                        (st.st_mtim.tv_sec == best.tv_sec && st.st_mtim.tv_nsec == best.tv_nsec && strcmp(file, out) > 0);
            if (!found || newer) {
                if (snprintf(out, cap, "%s", file) >= (int)cap) continue;
                best = st.st_mtim;
                found = 1;
            }
        }
        closedir(d2);
    }
    closedir(d);
    return found ? 0 : 1;
}

static int grid_section(lm_strbuf *b, const char *run_dir) {
    char path[PATH_CAP] = "";
    int rc = newest_grid(path, sizeof path, run_dir);
    if (rc) return rc < 0 ? rc : 0;
    lm_image im = {0};
    lm_strbuf_str(b, "<section id=\"lm-grid\"><h2>Latest sample grid</h2><p class=\"meta\">");
    hb_text(b, path + strlen(run_dir) + 1);
    lm_strbuf_str(b, " (columns: image | masked input | prediction | inpainted | discriminator on fake | on real)</p>\n");
    if (lm_image_read(&im, path, 3) < 0) {
        lm_strbuf_str(b, "<p class=\"note\">cannot show: ");
        hb_text(b, lm_err_msg());
        lm_strbuf_str(b, "</p>");
    } else {
        if (im.w > GRID_MAX_W) {
            lm_image t;
            if ((rc = lm_image_resize_bicubic(&t, &im, GRID_MAX_W, (int)((double)im.h * GRID_MAX_W / im.w + 0.5))) < 0)
                goto done;
            lm_image_free(&im);
            im = t;
        }
        lm_strbuf_str(b, "<img class=\"grid\" alt=\"sample grid\" src=\"");
        rc = hb_png(b, &im);
        lm_strbuf_str(b, "\">");
    }
done:
    lm_image_free(&im);
    lm_strbuf_str(b, "</section>\n");
    return rc;
}

/* ---- the page -------------------------------------------------------------------------- */
int lm_report_html(const char *dir, const char *run_dir) {
    char path[PATH_CAP], evdir[PATH_CAP], out[PATH_CAP];
    lm_strbuf b = {0};
    int rc;
    if ((rc = join(out, sizeof out, dir, "report.html")) < 0) return lm_err_prefix("report.html");
    /* the evaluation shown: dir's own, else the run's eval/ */
    snprintf(evdir, sizeof evdir, "%s", dir);
    if (run_dir) {
        char a[PATH_CAP], c[PATH_CAP];
        if ((rc = join(a, sizeof a, dir, "metrics.json")) < 0 || (rc = join(c, sizeof c, dir, "sweep.json")) < 0 ||
            (!lm_path_exists(a) && !lm_path_exists(c) && (rc = join(evdir, sizeof evdir, run_dir, "eval")) < 0))
            return lm_err_prefix("report.html");
    }

    lm_strbuf_str(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width\">\n<title>lamac report: ");
    hb_text(&b, run_dir ? run_dir : dir);
    lm_strbuf_str(&b, "</title>\n<style>\n");
    hb_lines(&b, lm_html_css);
    lm_strbuf_str(&b, "</style></head><body>\n<h1>lamac report</h1>\n<p class=\"meta\">");
    hb_text(&b, run_dir ? "run directory: " : "evaluation: ");
    hb_text(&b, run_dir ? run_dir : dir);
    lm_strbuf_str(&b, "</p>\n<p id=\"lm-status\">charts not drawn (JavaScript is off or failed)</p>\n"
               "<div id=\"lm-errors\"></div><div id=\"lm-notes\"></div>\n<script>\n");
    hb_lines(&b, lm_html_onerror_js);
    lm_strbuf_str(&b, "</script>\n"
               "<section id=\"lm-train\" hidden><h2>Training</h2><div class=\"charts\" id=\"lm-train-charts\"></div>"
               "</section>\n");
    if (run_dir && (rc = grid_section(&b, run_dir)) < 0) goto cleanup;
    lm_strbuf_str(&b, "<section id=\"lm-eval\" hidden><h2>Evaluation</h2><p class=\"meta\" id=\"lm-eval-info\"></p>"
               "<div id=\"lm-eval-table\"></div><ul class=\"skipped\" id=\"lm-eval-skipped\"></ul>"
               "<div class=\"charts\" id=\"lm-eval-charts\"></div></section>\n"
               "<section id=\"lm-sweep\" hidden><h2>Resolution</h2><ul class=\"skipped\" id=\"lm-sweep-skipped\"></ul>"
               "<div class=\"charts\" id=\"lm-sweep-charts\"></div></section>\n");
    if ((rc = join(path, sizeof path, evdir, "per_image.csv")) < 0 || (rc = examples_section(&b, path)) < 0) goto cleanup;

    if ((rc = join(path, sizeof path, evdir, "metrics.json")) < 0 || (rc = embed_json_file(&b, "lm-data-metrics", path)) < 0)
        goto cleanup;
    if ((rc = join(path, sizeof path, evdir, "sweep.json")) < 0 || (rc = embed_json_file(&b, "lm-data-sweep", path)) < 0)
        goto cleanup;
    if (run_dir && ((rc = join(path, sizeof path, run_dir, "metrics.jsonl")) < 0 ||
                    (rc = embed_jsonl(&b, "lm-data-train", path)) < 0))
        goto cleanup;
    lm_strbuf_str(&b, "<script>\n");
    hb_lines(&b, lm_html_js);
    lm_strbuf_str(&b, "</script>\n</body></html>\n");
    if (b.oom) {
        rc = lm_err_code(LM_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = lm_atomic_write_file(out, b.p, b.n);
cleanup:
    free(b.p);
    if (rc < 0) return lm_err_prefix("report.html (%s)", out);
    return 0;
}

/* ---- the page of an ablation grid ---------------------------------------------------------- */
int lm_report_html_ablate(const char *dir, const char *title, const char *json, size_t n) {
    char out[PATH_CAP];
    lm_strbuf b = {0};
    int rc;
    if ((rc = join(out, sizeof out, dir, "report.html")) < 0) return lm_err_prefix("report.html");
    lm_strbuf_str(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width\">\n<title>lamac ablation: ");
    hb_text(&b, title);
    lm_strbuf_str(&b, "</title>\n<style>\n");
    hb_lines(&b, lm_html_css);
    lm_strbuf_str(&b, "</style></head><body>\n<h1>lamac ablation: ");
    hb_text(&b, title);
    lm_strbuf_str(&b, "</h1>\n<p class=\"meta\">");
    hb_text(&b, dir);
    lm_strbuf_str(&b, "</p>\n<p id=\"lm-status\">charts not drawn (JavaScript is off or failed)</p>\n"
               "<div id=\"lm-errors\"></div><div id=\"lm-notes\"></div>\n<script>\n");
    hb_lines(&b, lm_html_onerror_js);
    lm_strbuf_str(&b, "</script>\n"
               "<section id=\"lm-ablate\" hidden><h2>Table</h2><div id=\"lm-ablate-table\"></div>"
               "<ul class=\"skipped\" id=\"lm-ablate-notes\"></ul>"
               "<h2>Training and validation curves</h2><div class=\"charts\" id=\"lm-ablate-curves\"></div>"
               "<h2>By masked area</h2><div class=\"charts\" id=\"lm-ablate-bins\"></div></section>\n"
               "<section id=\"lm-train\" hidden><div id=\"lm-train-charts\"></div></section>\n");
    lm_strbuf_str(&b, "<script type=\"application/json\" id=\"lm-data-ablate\">");
    hb_json(&b, json, n);
    lm_strbuf_str(&b, "</script>\n<script>\n");
    hb_lines(&b, lm_html_js);
    lm_strbuf_str(&b, "</script>\n</body></html>\n");
    if (b.oom) rc = lm_err_code(LM_ENOMEM, "out of memory");
    else rc = lm_atomic_write_file(out, b.p, b.n);
    free(b.p);
    if (rc < 0) return lm_err_prefix("report.html (%s)", out);
    return 0;
}
