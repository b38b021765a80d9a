/* alexnet.c — torchvision AlexNet features, as the LPIPS backbone slices them. */
#include "model/alexnet.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

static const struct { int idx, cin, cout, k, stride, pad; } AX[5] = {
    {0, 3, 64, 11, 4, 2}, {3, 64, 192, 5, 1, 2}, {6, 192, 384, 3, 1, 1},
    {8, 384, 256, 3, 1, 1}, {10, 256, 256, 3, 1, 1},
};

int lm_alexnet_init(lm_alexnet *a, lt_dtype dt, lt_device dev) {
    memset(a, 0, sizeof *a);
    lm_params_init(&a->p, dt, dev);
    for (int i = 0; i < 5; i++) {
        lm_conv_opts o = lm_conv_defaults();
        o.stride = AX[i].stride;
        o.padding = AX[i].pad;
        char name[32];
        snprintf(name, sizeof name, "features.%d", AX[i].idx);
        if (lm_conv_init(&a->conv[i], &a->p, name, AX[i].cin, AX[i].cout, AX[i].k, o) < 0) {
            lm_params_free(&a->p);
            return lm_err_prefix("alexnet");
        }
    }
    return 0;
}

void lm_alexnet_free(lm_alexnet *a) {
    if (a) lm_params_free(&a->p);
}

int lm_alexnet_slices(const lm_alexnet *a, lt_tensor *x, lt_tensor **out) {
    lt_tensor *h = lt_relu(lm_conv_forward(&a->conv[0], x)); // (N, 64, ., .)
    out[0] = h;
    h = lt_relu(lm_conv_forward(&a->conv[1], lt_max_pool2d(h, 3, 2, 0, 1, 0))); // (N, 192, ., .)
    out[1] = h;
    h = lt_relu(lm_conv_forward(&a->conv[2], lt_max_pool2d(h, 3, 2, 0, 1, 0))); // (N, 384, ., .)
    out[2] = h;
    h = lt_relu(lm_conv_forward(&a->conv[3], h)); // (N, 256, ., .)
    out[3] = h;
    h = lt_relu(lm_conv_forward(&a->conv[4], h)); // (N, 256, ., .)
    out[4] = h;
    return h ? 0 : -1;
}
