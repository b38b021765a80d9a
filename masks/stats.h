/* stats.h — mask statistics: hole-area fraction and "width" (mean over hole pixels of the
 * exact Euclidean distance to the nearest known pixel, as cv2.distanceTransform with
 * DIST_L2 / DIST_MASK_PRECISE computes it). Used by the mask parity test and for reports. */
#ifndef LM_MASKS_STATS_H
#define LM_MASKS_STATS_H

#include <stdint.h>

/* Squared exact EDT: d2[i] = squared distance from pixel i to the nearest pixel with
 * m == 0 (0 on known pixels; +inf when the plane has no known pixel). Felzenszwalb–
 * Huttenlocher, O(h·w). Returns 0 or LM_ENOMEM. */
int lm_mask_edt2(double *d2, const uint8_t *m, int h, int w);
/* Fraction of hole pixels. */
double lm_mask_area(const uint8_t *m, int h, int w);
/* Mean distance over hole pixels; returns 0 and sets *width, or 1 when the mask has no hole
 * or no known pixel (width undefined), negative on error. */
int lm_mask_width(double *width, const uint8_t *m, int h, int w);

#endif
