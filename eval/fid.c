/* fid.c — Fréchet distance (official base_loss.py calculate_frechet_distance), in double. */
#include "eval/fid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"
#include "shim/lt.h"

static int shim_err(const char *what) {
    return lm_err_lt("fid: %s", what);
}

int lm_fid_stats(double *mu, double *cov, const float *feats, int n, int d) {
    if (n < 2 || d < 1) return lm_err_code(LM_EINVAL, "fid: need at least 2 feature rows (got %d)", n);
    int rc = 0;
    lt_scope_push();
    int64_t shp[2] = {n, d}, d0[1] = {0};
    lt_tensor *x = lt_to_dtype(lt_from_buffer(feats, shp, 2, LT_F32), LT_F64); // (n, d)
    lt_tensor *m = lt_mean_dims(x, d0, 1, 1);                                   // (1, d)
    lt_tensor *xc = lt_sub(x, m);                                               // (n, d)
    lt_tensor *c = lt_mul_scalar(lt_matmul(lt_transpose(xc, 0, 1), xc), 1.0 / (n - 1)); // (d, d)
    if (!c || lt_to_buffer(m, mu, sizeof(double) * (size_t)d) < 0 ||
        lt_to_buffer(lt_contiguous(c), cov, sizeof(double) * (size_t)d * (size_t)d) < 0)
        rc = shim_err("statistics");
    lt_scope_pop();
    return rc;
}

/* V diag(f(max(l, 0))) V^T of a symmetric matrix, f = sqrt. */
static lt_tensor *psd_sqrt(lt_tensor *s) {
    lt_tensor *l = NULL, *v = NULL;
    if (lt_linalg_eigh(s, &l, &v) < 0) return NULL;
    lt_tensor *r = lt_sqrt(lt_clamp(l, 0.0, INFINITY)); // (d)
    return lt_matmul(lt_mul(v, lt_unsqueeze(r, 0)), lt_transpose(v, 0, 1)); // (d, d)
}

int lm_frechet_distance(double *out, const double *mu1, const double *s1, const double *mu2,
                        const double *s2, int d) {
    int rc = 0;
    double diff = 0.0, tr1 = 0.0, tr2 = 0.0;
    for (int i = 0; i < d; i++) {
        diff += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
        tr1 += s1[(size_t)i * d + i];
        tr2 += s2[(size_t)i * d + i];
    }
    lt_scope_push();
    int64_t shp[2] = {d, d};
    lt_tensor *a = lt_from_buffer(s1, shp, 2, LT_F64), *b = lt_from_buffer(s2, shp, 2, LT_F64);
    /* symmetrise against rounding before eigh reads one triangle */
    a = lt_mul_scalar(lt_add(a, lt_transpose(a, 0, 1)), 0.5);
    b = lt_mul_scalar(lt_add(b, lt_transpose(b, 0, 1)), 0.5);
    lt_tensor *r = psd_sqrt(a);                                  // (d, d)
    lt_tensor *m = lt_matmul(lt_matmul(r, b), r);                // (d, d)
    m = lt_mul_scalar(lt_add(m, lt_transpose(m, 0, 1)), 0.5);
    lt_tensor *l = NULL, *v = NULL;
    double tr_covmean = NAN;
    if (!m || lt_linalg_eigh(m, &l, &v) < 0) {
        rc = shim_err("matrix square root");
    } else {
        tr_covmean = lt_item(lt_sum(lt_sqrt(lt_clamp(l, 0.0, INFINITY))));
        if (isnan(tr_covmean)) rc = shim_err("trace");
    }
    lt_scope_pop();
    if (rc) return rc;
    *out = diff + tr1 + tr2 - 2.0 * tr_covmean;
    return 0;
}

int lm_fid_from_features(double *out, const float *a, int na, const float *b, int nb, int d) {
    size_t dd = (size_t)d * (size_t)d;
    double *mu1 = malloc(sizeof(double) * (size_t)d), *mu2 = malloc(sizeof(double) * (size_t)d);
    double *s1 = malloc(sizeof(double) * dd), *s2 = malloc(sizeof(double) * dd);
    int rc = 0;
    if (!mu1 || !mu2 || !s1 || !s2) {
        rc = lm_err_code(LM_ENOMEM, "fid: out of memory for %d-d statistics", d);
        goto cleanup;
    }
    if ((rc = lm_fid_stats(mu1, s1, a, na, d)) < 0) goto cleanup;
    if ((rc = lm_fid_stats(mu2, s2, b, nb, d)) < 0) goto cleanup;
    rc = lm_frechet_distance(out, mu1, s1, mu2, s2, d);
cleanup:
    free(mu1);
    free(mu2);
    free(s1);
    free(s2);
    return rc;
}
