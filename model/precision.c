/* precision.c — autocast region of a training precision (see precision.h). */
#include "model/precision.h"

int lm_precision_begin(lt_dtype precision, lt_device dev) {
    return precision == LT_F32 ? 0 : lt_autocast_enter(dev, precision) < 0 ? -1 : 0;
}

void lm_precision_end(lt_dtype precision) {
    if (precision != LT_F32) lt_autocast_exit();
}

lt_tensor *lm_precision_f32(lt_dtype precision, lt_tensor *t) {
    return precision == LT_F32 || !t ? t : lt_to_dtype(t, LT_F32);
}
