/* batch.c — batch files and random batches (see batch.h). */
#include "run/batch.h"

#include "core/err.h"
#include "io/safetensors.h"
#include "model/lt_err.h"

/* `name` of the batch file as a dt tensor on dev. */
static lt_tensor *file_tensor(const lm_safetensors_file *f, const char *path, const char *name, lt_dtype dt, lt_device dev) {
    const lm_safetensors_entry *e = lm_safetensors_find(f, name);
    if (!e) {
        lm_err_code(LM_EINVAL, "batch %s: no tensor named '%s'", path, name);
        return NULL;
    }
    if (e->dtype > LM_DT_BOOL || e->dtype == LM_DT_I64 || e->dtype == LM_DT_I32) {
        lm_err_code(LM_EINVAL, "batch %s: '%s' is %s (expected F32, F64, F16, BF16, U8 or BOOL)", path, name,
                    lm_dtype_name(e->dtype) ? lm_dtype_name(e->dtype) : "?");
        return NULL;
    }
    lt_tensor *t = lt_to_device(lt_to_dtype(lt_from_buffer(e->data, e->shape, e->ndim, (lt_dtype)e->dtype), dt), dev);
    if (!t) lm_err_lt("batch %s: %s", path, name);
    return t;
}

int lm_batch_read(lt_tensor **img, lt_tensor **mask, const char *path, lt_dtype dt, lt_device dev) {
    lm_safetensors_file *f = NULL;
    *img = *mask = NULL;
    if (lm_safetensors_open(&f, path) < 0) return lm_err_prefix("--batch");
    *img = file_tensor(f, path, "image", dt, dev);
    *mask = file_tensor(f, path, "mask", dt, dev);
    lm_safetensors_close(f); /* the tensors hold copies */
    return *img && *mask ? 0 : LM_EINVAL;
}

int lm_batch_random_fixed_boxes(lt_tensor **img, lt_tensor **mask, int bs, int size, lt_device dev) {
    int64_t ish[4] = {bs, 3, size, size}, msh[4] = {bs, 1, size, size};
    *img = lt_rand(ish, 4, LT_F32, dev), *mask = lt_zeros(msh, 4, LT_F32, dev);
    for (int b = 0; b < bs && *mask; b++)
        lt_fill_(lt_narrow(lt_narrow(lt_narrow(*mask, 0, b, 1), 2, size / 8 + b % 4 * size / 16, size / 2), 3,
                           size / 4, size / 2 + b % 3 * size / 8 - size / 8), 1.0);
    return *img && *mask ? 0 : lm_err_lt("bench step: inputs");
}

int lm_batch_random_boxes(lt_tensor **img, lt_tensor **mask, int n, int size) {
    int64_t ish[4] = {n, 3, size, size}, msh[4] = {n, 1, size, size}, bsh[2] = {n, 4};
    *img = lt_rand(ish, 4, LT_F32, LT_CPU);
    *mask = lt_zeros(msh, 4, LT_F32, LT_CPU);
    lt_tensor *box = lt_rand(bsh, 2, LT_F64, LT_CPU); // (n, 4): y, x, h, w as fractions
    double bx[64 * 4];
    if (!*img || !*mask || !box || n > 64 || lt_to_buffer(box, bx, sizeof(double) * 4 * (size_t)n) < 0)
        return lm_err_lt("batch");
    for (int i = 0; i < n; i++) {
        int h = size / 4 + (int)(bx[4 * i + 2] * size / 4), wd = size / 4 + (int)(bx[4 * i + 3] * size / 4);
        int y = (int)(bx[4 * i] * (size - h)), x = (int)(bx[4 * i + 1] * (size - wd));
        if (!lt_fill_(lt_narrow(lt_narrow(lt_narrow(*mask, 0, i, 1), 2, y, h), 3, x, wd), 1.0)) return lm_err_lt("batch");
    }
    return 0;
}
