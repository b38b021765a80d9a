/* evaluate.c — scoring a folder of predictions (official bin/evaluate_predicts.py +
 * InpaintingEvaluator + SSIMScore / LPIPSScore / FIDScore). */
#define _GNU_SOURCE
#include "eval/evaluate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "model/lt_err.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "data/image.h"
#include "data/valset.h"
#include "eval/fid.h"
#include "eval/metrics.h"
#include "model/inception.h"
#include "model/pretrained.h"
#include "model/weights.h"

#define FEAT 2048

lm_eval_opts lm_eval_defaults(void) {
    return (lm_eval_opts){.bins = LM_BINS_DEFAULT, .rule = LM_BINS_OFFLINE, .pred_suffix = ".png",
                          .img_suffix = ".png", .lpips = 1, .lpips_net = LM_LPIPS_VGG, .fid = 1,
                          .batch = 8, .device = LT_CPU};
}

static const char *NAMES[LM_M_COUNT] = {"ssim", "psnr", "l1", "lpips", "fid", "ssim_fid100_f1",
                                        "lpips_fid100_f1"};

static int push_str(char ***v, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int push_str(char ***v, int *n, const char *fmt, ...) {
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

static void note_weights(lm_eval_result *r, const char *what, const char *path) {
    lm_eval_weights *w = &r->w[r->n_w++];
    snprintf(w->what, sizeof w->what, "%s", what);
    snprintf(w->path, sizeof w->path, "%s", path);
    if (lm_sha256_file(w->sha256, path) < 0) w->sha256[0] = 0;
}

/* The FID Inception from `path` (NULL: torch home). 0, or a reason in why (metric skipped). */
static int load_inception(lm_inception **out, lm_eval_result *r, const char *path, lt_device dev,
                          char *why, size_t cap) {
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
    note_weights(r, "inception", path);
    *out = n;
    return 0;
}

/* HWC uint8 -> (1, C, H, W) float32 / 255 on dev (current scope). */
static lt_tensor *to_tensor(const lm_image *im, lt_device dev) {
    int64_t shp[4] = {1, im->h, im->w, im->c}, perm[4] = {0, 3, 1, 2};
    lt_tensor *t = lt_from_buffer(im->data, shp, 4, LT_U8); // (1, H, W, C)
    t = lt_mul_scalar(lt_to_dtype(lt_permute(t, perm, 4), LT_F32), 1.0 / 255.0);
    t = lt_contiguous(t); // (1, C, H, W)
    return dev == LT_CPU ? t : lt_to_device(t, dev);
}

typedef struct feats {
    float *pred, *real; /* (n, 2048) */
    int n, cap;
    lt_tensor *qp[64], *qr[64]; /* pending resized inputs (1, 3, 299, 299), kept */
    int nq;
} feats;

/* Runs the Inception on the queued inputs and appends their features. */
static int flush_feats(feats *f, const lm_inception *net) {
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
        if (!p || !q) {
            rc = lm_err_code(LM_ENOMEM, "fid: out of memory for %d feature rows", cap);
            goto done;
        }
        f->cap = cap;
    }
    for (int k = 0; k < 2; k++) {
        lt_tensor *y = lt_to_device(lm_inception_features(net, both[k], 0), LT_CPU); // (q, 2048)
        float *dst = (k ? f->real : f->pred) + (size_t)f->n * FEAT;
        if (!y || lt_to_buffer(y, dst, sizeof(float) * FEAT * (size_t)f->nq) < 0) {
            rc = lm_err_lt("fid: inception forward");
            goto done;
        }
    }
    f->n += f->nq;
done:
    lt_scope_pop();
    for (int i = 0; i < f->nq; i++) {
        lt_free(f->qp[i]);
        lt_free(f->qr[i]);
    }
    f->nq = 0;
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

int lm_eval_dirs(lm_eval_result *r, const char *images, const char *preds, const lm_eval_opts *o) {
    memset(r, 0, sizeof *r);
    r->bins = o->bins;
    r->rule = o->rule;
    for (int m = 0; m < LM_M_COUNT; m++) r->m[m].name = NAMES[m];
    if (o->bins < 1 || o->bins > LM_EVAL_MAX_BINS)
        return lm_err_code(LM_EINVAL, "evaluate: bins must be in 1..%d", LM_EVAL_MAX_BINS);
    double t0 = lm_clock_now();
    lm_progress prog;
    if (o->progress) lm_progress_start(&prog, o->progress, "evaluate", "images");
    lm_valset *vs = NULL;
    int rc = lm_valset_open(&vs, images, o->img_suffix);
    if (rc < 0) return lm_err_prefix("evaluate: --images %s", images);
    r->n_listed = (int)lm_valset_count(vs);

    lm_lpips *lp = NULL;
    lm_inception *inc = NULL;
    feats F = {0};
    if (!o->lpips) {
        skip_metric(r, LM_M_LPIPS, "disabled (--no-lpips)");
    } else {
        char bb[4096];
        const char *bpath = o->lpips_backbone;
        if (!bpath && lm_lpips_default_backbone(bb, sizeof bb, o->lpips_net) == 0) bpath = bb;
        if (lm_lpips_create(&lp, o->lpips_net, LT_F32, o->device) < 0 ||
            lm_lpips_load(lp, bpath, o->lpips_lin) < 0) {
            skip_metric(r, LM_M_LPIPS, "%s", lm_err_msg());
            lm_lpips_free(lp);
            lp = NULL;
        } else {
            note_weights(r, "lpips_backbone", bpath);
            note_weights(r, "lpips_lin", o->lpips_lin);
        }
    }
    if (!o->fid) {
        skip_metric(r, LM_M_FID, "disabled (--no-fid)");
    } else if (load_inception(&inc, r, o->inception, o->device, r->m[LM_M_FID].why,
                              sizeof r->m[LM_M_FID].why) < 0) {
        r->m[LM_M_FID].skipped = 1;
    }

    r->img = calloc((size_t)(r->n_listed ? r->n_listed : 1), sizeof *r->img);
    if (!r->img) {
        rc = lm_err_code(LM_ENOMEM, "evaluate: out of memory");
        goto cleanup;
    }
    size_t skip = strlen(images);
    while (skip > 1 && images[skip - 1] == '/') skip--;
    skip += 1;
    int batch = o->batch < 1 ? 1 : o->batch > 64 ? 64 : o->batch;
    lt_no_grad_push();
    for (int64_t i = 0; i < r->n_listed; i++) {
        const char *mpath = lm_valset_mask_path(vs, i);
        char pp[8192];
        lm_image img = {0}, msk = {0}, pred = {0};
        const char *rel = strlen(mpath) >= skip ? mpath + skip : mpath;
        if (snprintf(pp, sizeof pp, "%s/%.*s%s", preds, (int)strlen(rel) - 4, rel, o->pred_suffix) >= (int)sizeof pp) {
            if ((rc = push_str(&r->skipped, &r->n_skipped, "%s: prediction path too long", mpath)) < 0) break;
            continue;
        }
        struct stat st;
        int bad = 0;
        if (stat(pp, &st) != 0) {
            bad = push_str(&r->skipped, &r->n_skipped, "%s: prediction missing: %s", mpath, pp) < 0 ? -1 : 1;
        } else if (lm_valset_read(vs, i, &img, &msk) < 0 || lm_image_read(&pred, pp, 3) < 0) {
            bad = push_str(&r->skipped, &r->n_skipped, "%s: %s", mpath, lm_err_msg()) < 0 ? -1 : 1;
        } else if (pred.w != img.w || pred.h != img.h) {
            bad = push_str(&r->skipped, &r->n_skipped, "%s: prediction %s is %dx%d but the image is %dx%d",
                           mpath, pp, pred.w, pred.h, img.w, img.h) < 0 ? -1 : 1;
        }
        if (bad) {
            lm_image_free(&img);
            lm_image_free(&msk);
            lm_image_free(&pred);
            if (bad < 0) {
                rc = LM_ENOMEM;
                break;
            }
            continue;
        }
        lm_eval_image *e = &r->img[r->n];
        e->mask = strdup(mpath);
        e->image = strdup(lm_valset_image_path(vs, i));
        e->pred = strdup(pp);
        e->area = lm_mask_area_u8(msk.data, (size_t)msk.w * msk.h);
        e->bin = lm_area_bin(e->area, o->bins, o->rule);
        for (int m = 0; m < LM_M_FID; m++) e->v[m] = NAN;
        lt_scope_push();
        lt_tensor *x = to_tensor(&img, o->device), *y = to_tensor(&pred, o->device); // (1, 3, H, W)
        lt_tensor *vals[4] = {lm_ssim(y, x), lm_psnr(y, x), lm_l1(y, x), lp ? lm_lpips_forward(lp, y, x) : NULL};
        for (int m = 0; m < 4; m++) {
            if (!vals[m]) continue;
            double v = lt_item(vals[m]);
            e->v[m] = v;
        }
        int fail = !vals[0] || !vals[1] || !vals[2] || (lp && !vals[3]);
        if (!fail && inc) {
            F.qp[F.nq] = lt_keep(lt_interpolate(y, 299, 299, LT_BILINEAR));
            F.qr[F.nq] = lt_keep(lt_interpolate(x, 299, 299, LT_BILINEAR));
            F.nq++;
            fail = !F.qp[F.nq - 1] || !F.qr[F.nq - 1];
        }
        lt_scope_pop();
        lm_image_free(&img);
        lm_image_free(&msk);
        lm_image_free(&pred);
        if (fail) {
            free(e->mask), free(e->image), free(e->pred);
            e->mask = e->image = e->pred = NULL;
            rc = lm_err_lt("evaluate: %s", mpath);
            break;
        }
        r->n++;
        r->bin_count[e->bin]++;
        if (inc && F.nq >= batch && (rc = flush_feats(&F, inc)) < 0) break;
        if (o->progress) lm_progress_update(&prog, r->n, r->n_listed);
    }
    if (!rc && inc) rc = flush_feats(&F, inc);
    lt_no_grad_pop();
    if (o->progress && r->n < r->n_listed) lm_progress_update(&prog, r->n, r->n);
    if (rc < 0) goto cleanup;

    /* statistics */
    double *v = malloc(sizeof(double) * (size_t)(r->n ? r->n : 1));
    int *g = malloc(sizeof(int) * (size_t)(r->n ? r->n : 1));
    if (!v || !g) {
        free(v);
        free(g);
        rc = lm_err_code(LM_ENOMEM, "evaluate: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < r->n; i++) g[i] = r->img[i].bin;
    for (int m = 0; m < LM_M_FID; m++) {
        if (r->m[m].skipped) continue;
        for (int i = 0; i < r->n; i++) v[i] = r->img[i].v[m];
        r->m[m].total = lm_group_stat(v, g, r->n, -1);
        for (int b = 0; b < o->bins; b++) r->m[m].bin[b] = lm_group_stat(v, g, r->n, b);
    }
    free(v);
    free(g);
    if (!r->m[LM_M_FID].skipped) {
        lm_eval_metric *fm = &r->m[LM_M_FID];
        if (r->n < 2) {
            skip_metric(r, LM_M_FID, "FID needs at least 2 images (got %d)", r->n);
        } else {
            if (r->n <= FEAT)
                push_str(&r->warnings, &r->n_warnings,
                         "FID from %d images: the %d-d covariances have rank at most %d (full rank needs "
                         "more than %d images); the value is biased and only comparable at equal counts",
                         r->n, FEAT, r->n - 1, FEAT);
            if ((rc = eval_fid_group(&fm->total.mean, &F, r, -1)) < 0) goto cleanup;
            fm->total.std = NAN;
            fm->total.n = r->n;
            for (int b = 0; b < o->bins; b++) {
                if (!r->bin_count[b]) continue;
                if ((rc = eval_fid_group(&fm->bin[b].mean, &F, r, b)) < 0) goto cleanup;
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
    if (r->n_skipped)
        push_str(&r->warnings, &r->n_warnings, "%d of %d images could not be evaluated (see skipped_images)",
                 r->n_skipped, r->n_listed);
cleanup:
    r->seconds = lm_clock_now() - t0;
    for (int i = 0; i < F.nq; i++) {
        lt_free(F.qp[i]);
        lt_free(F.qr[i]);
    }
    free(F.pred);
    free(F.real);
    lm_lpips_free(lp);
    lm_inception_free(inc);
    lm_valset_close(vs);
    return rc;
}

void lm_eval_result_free(lm_eval_result *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) free(r->img[i].mask), free(r->img[i].image), free(r->img[i].pred);
    free(r->img);
    for (int i = 0; i < r->n_skipped; i++) free(r->skipped[i]);
    free(r->skipped);
    for (int i = 0; i < r->n_warnings; i++) free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof *r);
}
