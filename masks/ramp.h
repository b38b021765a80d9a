/* ramp.h — saicinpainting.utils.LinearRamp, the schedule the irregular and box mask
 * generators (ramp_kwargs) scale their maxima by: start_value before start_iter, end_value
 * from end_iter, linear in between. */
#ifndef LM_MASKS_RAMP_H
#define LM_MASKS_RAMP_H

typedef struct lm_ramp {
    int enabled; /* 0: no ramp_kwargs (coefficient 1) */
    double start_value, end_value, start_iter, end_iter; /* defaults 0, 1, -1, 0 */
} lm_ramp;

/* The official defaults (start_value 0, end_value 1, start_iter -1, end_iter 0), disabled. */
void lm_ramp_default(lm_ramp *out);
/* The ramp's value at training iteration iter (LinearRamp.__call__). */
double lm_ramp_value(const lm_ramp *r, double iter);

#endif
