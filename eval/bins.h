/* bins.h — grouping by masked area, as the official evaluators do
 * (saicinpainting/evaluation/evaluator.py): edges = numpy.linspace(0, 1, bins + 1), names
 * "0-10%" ... "90-100%", per group mean and population std (numpy's ddof 0) of per-image
 * values, groups that hold no image absent.
 *
 * The two official evaluators disagree on an area that falls exactly on an edge:
 *   LM_BINS_OFFLINE (InpaintingEvaluator, bin/evaluate_predicts.py, our default):
 *       searchsorted(edges, area, side='right') - 1, area 1 put in the last bin:
 *       bin k = [e_k, e_k+1); an area of exactly 0.1 goes to "10-20%"; area 0 (no hole) to bin 0.
 *   LM_BINS_ONLINE (InpaintingEvaluatorOnline, validation during training):
 *       clip(searchsorted(edges, area, side='left') - 1, 0, bins - 1):
 *       bin k = (e_k, e_k+1]; an area of exactly 0.1 goes to "0-10%"; area 0 to bin 0.
 * The area is the mean of mask / 255 computed in float32 as torch does (mask.mean()), then
 * compared in double with the float64 edges: e.g. 0.1 as float32 is 0.10000000149 > 0.1, so
 * a mask covering exactly 10% of the pixels lands in "10-20%" under both rules. */
#ifndef LM_BINS_H
#define LM_BINS_H

#include <stddef.h>
#include <stdint.h>

typedef enum lm_bin_rule { LM_BINS_OFFLINE = 0, LM_BINS_ONLINE = 1 } lm_bin_rule;

#define LM_BINS_DEFAULT 10

/* float32 mean of m[i] / 255 over n values (n > 0), as torch's float32 mean of the mask. */
float lm_mask_area_u8(const uint8_t *m, size_t n);
/* numpy.linspace(0, 1, bins + 1)[i] */
double lm_bin_edge(int i, int bins);
/* The group index in [0, bins) of an area. */
int lm_area_bin(float area, int bins, lm_bin_rule rule);
/* "0-10%" (the official interval name); returns buf. */
char *lm_bin_name(char *buf, size_t cap, int bin, int bins);

typedef struct lm_stat {
    double mean, std; /* std: population (ddof 0), as numpy's default */
    int n;
} lm_stat;

/* Mean and std of the values v[i] whose group g[i] == group (group < 0: all of them).
 * n == 0 gives NaN mean and std. */
lm_stat lm_group_stat(const double *v, const int *g, int n, int group);

/* The official integral metrics (evaluator.py ssim_fid100_f1, lpips_fid100_f1):
 * r = max(0, 100 - fid) / 100; f1 = 2 s r / (s + r + 1e-3), s = ssim or 1 - lpips. */
double lm_ssim_fid100_f1(double ssim, double fid);
double lm_lpips_fid100_f1(double lpips, double fid);

#endif
