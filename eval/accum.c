/* accum.c — per-image accumulation of the official evaluator (evaluator.py InpaintingEvaluator*
 * with SSIMScore / LPIPSScore / FIDScore; see accum.h). */
#define _GNU_SOURCE
#include "eval/accum.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/sha256.h"
#include "eval/fid.h"
#include "eval/metrics.h"
#include "model/inception.h"
#include "model/lt_err.h"
#include "model/pretrained.h"
#include "model/weights.h"

#define FEAT 2048

static const char *NAMES[LM_M_COUNT] = {"ssim", "psnr", "l1", "lpips", "fid", "ssim_fid100_f1",
                                        "lpips_fid100_f1"};

typedef struct feats {
    float *pred, *real; /* (n, 2048) */
    int n, cap;
    lt_tensor *qp[64], *qr[64]; /* pending resized inputs (1, 3, 299, 299), kept */
    int nq;
    /* target cache (lm_eval_acc_cache_targets): row i of real was computed for the image named
     * crow[i].name in the Inception batch of rows crow[i].start .. crow[i].start + crow[i].len - 1 */
    struct cached_row {
        char *name; /* NULL: no cached row */
        int start, len;
    } *crow; /* cap */
} feats;

struct lm_eval_acc {
    int bins, batch;
    lm_bin_rule rule;
    lt_device device;
    lm_lpips *lp;
    lm_inception *inc;
    int skipped[LM_M_COUNT];
    char why[LM_M_COUNT][10240];
    lm_eval_weights w[3];
    int n_w;
    lm_eval_image *img; /* n of cap */
    int n, cap;
    feats F;
    int cache;             /* lm_eval_acc_cache_targets */
    long long inc_images;  /* images through the Inception (both sides counted) */
};

int lm_eval_push_str(char ***v, int *n, const char *fmt, ...) {
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int k = vasprintf(&s, fmt, ap);
    va_end(ap);
    char **nv = k < 0 ? NULL : realloc(*v, sizeof(char *) * (size_t)(*n + 1));
    if (!nv) {
        free(s);
        return lm_err_code(LM_ENOMEM, "evaluate: out of memory");
    }
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

static void skip_metric(lm_eval_result *r, int m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void skip_metric(lm_eval_result *r, int m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    r->m[m].skipped = 1;
    vsnprintf(r->m[m].why, sizeof r->m[m].why, fmt, ap);
    va_end(ap);
}

static void note_weights(lm_eval_acc *a, const char *what, const char *path) {
    lm_eval_weights *w = &a->w[a->n_w++];
    snprintf(w->what, sizeof w->what, "%s", what);
    snprintf(w->path, sizeof w->path, "%s", path);
    if (lm_sha256_file(w->sha256, path) < 0) w->sha256[0] = 0;
}

/* The FID Inception from `path` (NULL: torch home). 0, or a reason in why (metric skipped). */
static int load_inception(lm_inception **out, lm_eval_acc *a, const char *path, lt_device dev, char *why,
                          size_t cap) {
    char buf[4096];
    struct stat st;
    if (!path) {
        char home[4096];
        if (lm_torch_home(home, sizeof home) < 0 ||
            snprintf(buf, sizeof buf, "%s/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth", home) >= (int)sizeof buf) {
            snprintf(why, cap, "%s", lm_err_msg());
            return -1;
        }
        path = buf;
    }
    if (stat(path, &st) != 0) {
        snprintf(why, cap, "FID Inception weights not found: %s (fetch with %s inception)", path,
                 LM_PRETRAINED_FETCHER);
        return -1;
    }
    lm_inception *n = NULL;
    lm_weights_src *s = NULL;
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    int rc = lm_inception_create(&n, LT_F32, dev);
    if (!rc) rc = lm_weights_open(&s, path);
    if (!rc) rc = lm_weights_load(lm_inception_params(n), s, "", LM_WEIGHTS_NONSTRICT, &rep);
    if (rc < 0) {
        snprintf(why, cap, "FID Inception weights %s: %s", path, lm_err_msg());
    } else {
        for (int i = 0; i < rep.n; i++)
            if (rep.items[i].problem != LM_WP_UNEXPECTED) {
                snprintf(why, cap, "FID Inception weights %s: %s: %s (expected %s, found %s)", path,
                         rep.items[i].key, lm_weights_problem_name(rep.items[i].problem),
                         rep.items[i].expected, rep.items[i].found);
                rc = LM_EINVAL;
                break;
            }
    }
    lm_weights_report_free(&rep);
    lm_weights_close(s);
    if (rc < 0) {
        lm_inception_free(n);
        return -1;
    }
    note_weights(a, "inception", path);
    *out = n;
    return 0;
}

int lm_eval_acc_new(lm_eval_acc **out, const lm_eval_opts *o) {
    *out = NULL;
    if (o->bins < 1 || o->bins > LM_EVAL_MAX_BINS)
        return lm_err_code(LM_EINVAL, "evaluate: bins must be in 1..%d", LM_EVAL_MAX_BINS);
    lm_eval_acc *a = calloc(1, sizeof *a);
    if (!a) return lm_err_code(LM_ENOMEM, "evaluate: out of memory");
    a->bins = o->bins;
    a->rule = o->rule;
    a->device = o->device;
    a->batch = o->batch < 1 ? 1 : o->batch > 64 ? 64 : o->batch;
    if (!o->lpips) {
        a->skipped[LM_M_LPIPS] = 1;
        snprintf(a->why[LM_M_LPIPS], sizeof a->why[0], "disabled (--no-lpips)");
    } else {
        char bb[4096];
        const char *bpath = o->lpips_backbone;
        if (!bpath && lm_lpips_default_backbone(bb, sizeof bb, o->lpips_net) == 0) bpath = bb;
        if (lm_lpips_create(&a->lp, o->lpips_net, LT_F32, o->device) < 0 ||
            lm_lpips_load(a->lp, bpath, o->lpips_lin ? o->lpips_lin : "(not set)") < 0) {
            a->skipped[LM_M_LPIPS] = 1;
            snprintf(a->why[LM_M_LPIPS], sizeof a->why[0], "%s", lm_err_msg());
            lm_lpips_free(a->lp);
            a->lp = NULL;
        } else {
            note_weights(a, "lpips_backbone", bpath);
            note_weights(a, "lpips_lin", o->lpips_lin);
        }
    }
    if (!o->fid) {
        a->skipped[LM_M_FID] = 1;
        snprintf(a->why[LM_M_FID], sizeof a->why[0], "disabled (--no-fid)");
    } else if (load_inception(&a->inc, a, o->inception, o->device, a->why[LM_M_FID], sizeof a->why[0]) < 0) {
        a->skipped[LM_M_FID] = 1;
    }
    lm_err_clear();
    *out = a;
    return 0;
}

int lm_eval_acc_skipped(const lm_eval_acc *a, int metric) {
    return metric >= 0 && metric < LM_M_COUNT && a->skipped[metric];
}

const char *lm_eval_acc_why(const lm_eval_acc *a, int metric) {
    return metric >= 0 && metric < LM_M_COUNT ? a->why[metric] : "";
}

int lm_eval_acc_count(const lm_eval_acc *a) { return a->n; }

void lm_eval_acc_cache_targets(lm_eval_acc *a, int on) { a->cache = on != 0; }

long long lm_eval_acc_inception_images(const lm_eval_acc *a) { return a->inc_images; }

static void clear_queue(feats *f) {
    for (int i = 0; i < f->nq; i++) {
        lt_free(f->qp[i]);
        lt_free(f->qr[i]);
    }
    f->nq = 0;
}

static void reset(lm_eval_acc *a) {
    for (int i = 0; i < a->n; i++) free(a->img[i].mask), free(a->img[i].image), free(a->img[i].pred);
    free(a->img);
    a->img = NULL;
    a->n = a->cap = 0;
    clear_queue(&a->F);
    a->F.n = 0;
}

void lm_eval_acc_clear(lm_eval_acc *a) { reset(a); }

void lm_eval_acc_free(lm_eval_acc *a) {
    if (!a) return;
    reset(a);
    free(a->F.pred);
    free(a->F.real);
    for (int i = 0; a->F.crow && i < a->F.cap; i++) free(a->F.crow[i].name);
    free(a->F.crow);
    lm_lpips_free(a->lp);
    lm_inception_free(a->inc);
    free(a);
}

/* Runs the Inception on the queued inputs (rows f->n .. f->n + nq - 1, the images a->img[row])
 * and appends their features. With the target cache on, the targets' rows are reused when the
 * same names sat in the same batch (same rows, same batch size) last time: the Inception input
 * is then identical, so the features are too. */
static int flush_feats(lm_eval_acc *a) {
    feats *f = &a->F;
    if (!f->nq) return 0;
    int rc = 0;
    lt_scope_push();
    lt_tensor *both[2] = {lt_cat(f->qp, f->nq, 0), lt_cat(f->qr, f->nq, 0)}; // (q, 3, 299, 299)
    if (f->n + f->nq > f->cap) {
        int cap = f->cap ? f->cap * 2 : 256;
        while (cap < f->n + f->nq) cap *= 2;
        float *p = realloc(f->pred, sizeof(float) * FEAT * (size_t)cap);
        if (p) f->pred = p;
        float *q = p ? realloc(f->real, sizeof(float) * FEAT * (size_t)cap) : NULL;
        if (q) f->real = q;
        struct cached_row *cr = q ? realloc(f->crow, sizeof *cr * (size_t)cap) : NULL;
        if (cr) {
            f->crow = cr;
            memset(cr + f->cap, 0, sizeof *cr * (size_t)(cap - f->cap));
        }
        if (!cr) {
            rc = lm_err_code(LM_ENOMEM, "fid: out of memory for %d feature rows", cap);
            goto done;
        }
        f->cap = cap;
    }
    int reuse = a->cache;
    for (int j = 0; j < f->nq && reuse; j++) {
        int i = f->n + j;
        const struct cached_row *c = &f->crow[i];
        reuse = c->name && !strcmp(c->name, a->img[i].mask) && c->start == f->n && c->len == f->nq;
    }
    for (int k = 0; k < 2 - reuse; k++) {
        lt_tensor *y = lt_to_device(lm_inception_features(a->inc, both[k], 0), LT_CPU); // (q, 2048)
        float *dst = (k ? f->real : f->pred) + (size_t)f->n * FEAT;
        if (!y || lt_to_buffer(y, dst, sizeof(float) * FEAT * (size_t)f->nq) < 0) {
            rc = lm_err_lt("fid: inception forward");
            goto done;
        }
        a->inc_images += f->nq;
    }
    for (int j = 0; j < f->nq && !reuse; j++) { /* rows rewritten: re-cached, or forgotten */
        int i = f->n + j;
        struct cached_row *c = &f->crow[i];
        free(c->name);
        c->name = a->cache ? strdup(a->img[i].mask) : NULL; /* no memory: just not reused */
        c->start = f->n;
        c->len = f->nq;
    }
    f->n += f->nq;
done:
    if (rc < 0) /* the rows written may be partial: forget them */
        for (int j = 0; j < f->nq && f->crow && f->n + j < f->cap; j++) {
            free(f->crow[f->n + j].name);
            f->crow[f->n + j].name = NULL;
        }
    lt_scope_pop();
    clear_queue(f);
    return rc;
}

/* HWC uint8 -> (1, 3, H, W) float32 / 255 on dev (current scope). */
static lt_tensor *to_tensor(const uint8_t *data, int h, int w, lt_device dev) {
    int64_t shp[4] = {1, h, w, 3}, perm[4] = {0, 3, 1, 2};
    lt_tensor *t = lt_from_buffer(data, shp, 4, LT_U8); // (1, H, W, 3)
    t = lt_mul_scalar(lt_to_dtype(lt_permute(t, perm, 4), LT_F32), 1.0 / 255.0);
    t = lt_contiguous(t); // (1, 3, H, W)
    return dev == LT_CPU ? t : lt_to_device(t, dev);
}

int lm_eval_acc_add(lm_eval_acc *a, const char *name, const char *image_path, const char *pred_path,
                    const uint8_t *img, const uint8_t *mask, const uint8_t *pred, int w, int h) {
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        lm_eval_image *ni = realloc(a->img, sizeof *ni * (size_t)cap);
        if (!ni) return lm_err_code(LM_ENOMEM, "evaluate: out of memory");
        a->img = ni;
        a->cap = cap;
    }
    lm_eval_image *e = &a->img[a->n];
    memset(e, 0, sizeof *e);
    if (!(e->mask = strdup(name)) || (image_path && !(e->image = strdup(image_path))) ||
        (pred_path && !(e->pred = strdup(pred_path)))) {
        free(e->mask), free(e->image), free(e->pred);
        return lm_err_code(LM_ENOMEM, "evaluate: out of memory");
    }
    e->area = lm_mask_area_u8(mask, (size_t)w * h);
    e->bin = lm_area_bin(e->area, a->bins, a->rule);
    for (int m = 0; m < LM_M_FID; m++) e->v[m] = NAN;
    feats *F = &a->F;
    lt_no_grad_push();
    lt_scope_push();
    lt_tensor *x = to_tensor(img, h, w, a->device), *y = to_tensor(pred, h, w, a->device); // (1, 3, H, W)
    lt_tensor *vals[4] = {lm_ssim(y, x), lm_psnr(y, x), lm_l1(y, x), a->lp ? lm_lpips_forward(a->lp, y, x) : NULL};
    for (int m = 0; m < 4; m++)
        if (vals[m]) e->v[m] = lt_item(vals[m]);
    int fail = !vals[0] || !vals[1] || !vals[2] || (a->lp && !vals[3]);
    if (!fail && a->inc) {
        F->qp[F->nq] = lt_keep(lt_interpolate(y, 299, 299, LT_BILINEAR));
        F->qr[F->nq] = lt_keep(lt_interpolate(x, 299, 299, LT_BILINEAR));
        F->nq++;
        if (!F->qp[F->nq - 1] || !F->qr[F->nq - 1]) {
            fail = 1;
            F->nq--;
            lt_free(F->qp[F->nq]);
            lt_free(F->qr[F->nq]);
        }
    }
    lt_scope_pop();
    int rc = 0;
    if (fail) {
        free(e->mask), free(e->image), free(e->pred);
        e->mask = e->image = e->pred = NULL;
        rc = lm_err_lt("evaluate: %s", name);
    } else {
        a->n++;
        if (a->inc && F->nq >= a->batch) rc = flush_feats(a);
    }
    lt_no_grad_pop();
    return rc;
}

static int eval_fid_group(double *out, const feats *f, const lm_eval_result *r, int bin) {
    int n = 0;
    for (int i = 0; i < r->n; i++) n += bin < 0 || r->img[i].bin == bin;
    if (n < 2) {
        *out = NAN;
        return 0;
    }
    if (bin < 0) return lm_fid_from_features(out, f->pred, n, f->real, n, FEAT);
    float *a = malloc(sizeof(float) * FEAT * (size_t)n), *b = malloc(sizeof(float) * FEAT * (size_t)n);
    int rc = 0;
    if (!a || !b) {
        rc = lm_err_code(LM_ENOMEM, "fid: out of memory");
    } else {
        int k = 0;
        for (int i = 0; i < r->n; i++)
            if (r->img[i].bin == bin) {
                memcpy(a + (size_t)k * FEAT, f->pred + (size_t)i * FEAT, sizeof(float) * FEAT);
                memcpy(b + (size_t)k * FEAT, f->real + (size_t)i * FEAT, sizeof(float) * FEAT);
                k++;
            }
        rc = lm_fid_from_features(out, a, n, b, n, FEAT);
    }
    free(a);
    free(b);
    return rc;
}

int lm_eval_acc_finish(lm_eval_acc *a, lm_eval_result *r) {
    int rc = 0;
    r->bins = a->bins;
    r->rule = a->rule;
    for (int m = 0; m < LM_M_COUNT; m++) {
        r->m[m].name = NAMES[m];
        r->m[m].skipped = a->skipped[m];
        snprintf(r->m[m].why, sizeof r->m[m].why, "%s", a->why[m]);
    }
    memcpy(r->w, a->w, sizeof r->w);
    r->n_w = a->n_w;
    if (a->inc) {
        lt_no_grad_push();
        rc = flush_feats(a);
        lt_no_grad_pop();
    }
    /* the images move to r */
    r->img = a->img ? a->img : calloc(1, sizeof *r->img);
    r->n = a->n;
    a->img = NULL;
    a->n = a->cap = 0;
    if (!r->img) {
        r->n = 0;
        rc = lm_err_code(LM_ENOMEM, "evaluate: out of memory");
    }
    if (rc < 0) goto done;
    for (int i = 0; i < r->n; i++) r->bin_count[r->img[i].bin]++;

    /* statistics */
    double *v = malloc(sizeof(double) * (size_t)(r->n ? r->n : 1));
    int *g = malloc(sizeof(int) * (size_t)(r->n ? r->n : 1));
    if (!v || !g) {
        free(v);
        free(g);
        rc = lm_err_code(LM_ENOMEM, "evaluate: out of memory");
        goto done;
    }
    for (int i = 0; i < r->n; i++) g[i] = r->img[i].bin;
    for (int m = 0; m < LM_M_FID; m++) {
        if (r->m[m].skipped) continue;
        for (int i = 0; i < r->n; i++) v[i] = r->img[i].v[m];
        r->m[m].total = lm_group_stat(v, g, r->n, -1);
        for (int b = 0; b < a->bins; b++) r->m[m].bin[b] = lm_group_stat(v, g, r->n, b);
    }
    free(v);
    free(g);
    if (!r->m[LM_M_FID].skipped) {
        lm_eval_metric *fm = &r->m[LM_M_FID];
        if (r->n < 2) {
            skip_metric(r, LM_M_FID, "FID needs at least 2 images (got %d)", r->n);
        } else {
            if (r->n <= FEAT)
                lm_eval_push_str(&r->warnings, &r->n_warnings,
                                 "FID from %d images: the %d-d covariances have rank at most %d (full rank needs "
                                 "more than %d images); the value is biased and only comparable at equal counts",
                                 r->n, FEAT, r->n - 1, FEAT);
            if ((rc = eval_fid_group(&fm->total.mean, &a->F, r, -1)) < 0) goto done;
            fm->total.std = NAN;
            fm->total.n = r->n;
            for (int b = 0; b < a->bins; b++) {
                if (!r->bin_count[b]) continue;
                if ((rc = eval_fid_group(&fm->bin[b].mean, &a->F, r, b)) < 0) goto done;
                fm->bin[b].std = NAN;
                fm->bin[b].n = r->bin_count[b];
            }
        }
    }
    /* integral metrics (totals only, as the official) */
    int have_fid = !r->m[LM_M_FID].skipped;
    if (!have_fid || r->m[LM_M_SSIM].skipped) {
        skip_metric(r, LM_M_SSIM_F1, "needs ssim and fid");
    } else {
        r->m[LM_M_SSIM_F1].total = (lm_stat){lm_ssim_fid100_f1(r->m[LM_M_SSIM].total.mean, r->m[LM_M_FID].total.mean), NAN, r->n};
    }
    if (!have_fid || r->m[LM_M_LPIPS].skipped) {
        skip_metric(r, LM_M_LPIPS_F1, "needs lpips and fid");
    } else {
        r->m[LM_M_LPIPS_F1].total = (lm_stat){lm_lpips_fid100_f1(r->m[LM_M_LPIPS].total.mean, r->m[LM_M_FID].total.mean), NAN, r->n};
    }
done:
    reset(a);
    return rc;
}
