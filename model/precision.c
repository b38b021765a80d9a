/* precision.c — autocast region of a training precision (see precision.h). */
#include "model/precision.h"

/* float32 and float64 run as they are: no autocast region */
static int plain(lt_dtype precision) { return precision == LT_F32 || precision == LT_F64; }

int lm_precision_begin(lt_dtype precision, lt_device dev) {
    return plain(precision) ? 0 : lt_autocast_enter(dev, precision) < 0 ? -1 : 0;
}

void lm_precision_end(lt_dtype precision) {
    if (!plain(precision)) lt_autocast_exit();
}

lt_tensor *lm_precision_f32(lt_dtype precision, lt_tensor *t) {
    return plain(precision) || !t ? t : lt_to_dtype(t, LT_F32);
}
