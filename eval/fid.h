/* fid.h — the Fréchet Inception Distance of the official evaluator
 * (saicinpainting/evaluation/losses/base_loss.py calculate_frechet_distance, FIDScore):
 *   mu = mean of the features, sigma = np.cov(rowvar=False) (ddof 1), in double;
 *   FID = |mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr(sqrtm(s1 s2)).
 * The official code takes scipy.linalg.sqrtm of the non-symmetric product. We use
 * tr(sqrtm(s1 s2)) = tr(sqrtm(R s2 R)) with R = s1^(1/2), because s1 s2 and R s2 R have the
 * same eigenvalues and the latter is symmetric positive semi-definite: two symmetric
 * eigendecompositions in double (torch.linalg.eigh, LAPACK), eigenvalues below 0 (rounding)
 * clipped to 0. No imaginary parts, no eps retry; accuracy against scipy is stated in the
 * tests (check_eval.c) and notes. Features are (n, d) float32 rows. */
#ifndef LM_FID_H
#define LM_FID_H

/* mu (d), cov (d x d) in double from n rows of d float32 features; n >= 2. */
int lm_fid_stats(double *mu, double *cov, const float *feats, int n, int d);
/* Fréchet distance between N(mu1, s1) and N(mu2, s2), all double, d-dimensional. */
int lm_frechet_distance(double *out, const double *mu1, const double *s1, const double *mu2,
                        const double *s2, int d);
/* Both at once, from two feature sets (each n >= 2). */
int lm_fid_from_features(double *out, const float *a, int na, const float *b, int nb, int d);

#endif
