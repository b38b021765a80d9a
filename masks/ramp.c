/* ramp.c — LinearRamp (saicinpainting/utils.py), see ramp.h. */
#include "masks/ramp.h"

void lm_ramp_default(lm_ramp *out) {
    out->enabled = 0, out->start_value = 0, out->end_value = 1, out->start_iter = -1, out->end_iter = 0;
}

double lm_ramp_value(const lm_ramp *r, double i) {
    if (i < r->start_iter) return r->start_value;
    if (i >= r->end_iter) return r->end_value;
    double part = (i - r->start_iter) / (r->end_iter - r->start_iter);
    return r->start_value * (1 - part) + r->end_value * part;
}
