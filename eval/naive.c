/* naive.c — mean-colour and diffusion fills (see naive.h). */
#include "eval/naive.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

int lm_naive_fill(uint8_t *out, const uint8_t *img, const uint8_t *mask, int w, int h, lm_naive_kind kind) {
    if (w < 1 || h < 1) return lm_err_code(LM_EINVAL, "naive fill: bad size %dx%d", w, h);
    size_t n = (size_t)w * h;
    double sum[3] = {0, 0, 0};
    size_t known = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask[i]) {
            for (int c = 0; c < 3; c++) sum[c] += img[3 * i + c];
            known++;
        }
    float mean[3];
    for (int c = 0; c < 3; c++) mean[c] = known ? (float)(sum[c] / known) : 127.5f;
    float *a = malloc(n * 3 * sizeof *a), *b = malloc(n * 3 * sizeof *b);
    if (!a || !b) {
        free(a), free(b);
        return lm_err_code(LM_ENOMEM, "naive fill: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) a[3 * i + c] = mask[i] ? mean[c] : img[3 * i + c];
    if (kind == LM_NAIVE_BLUR && known) {
        for (int it = 0; it < 300; it++) {
            memcpy(b, a, n * 3 * sizeof *a);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    size_t i = (size_t)y * w + x;
                    if (!mask[i]) continue;
                    int k = 0;
                    float s[3] = {0, 0, 0};
                    const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
                    for (int d = 0; d < 4; d++) {
                        int xx = x + dx[d], yy = y + dy[d];
                        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                        for (int c = 0; c < 3; c++) s[c] += a[3 * ((size_t)yy * w + xx) + c];
                        k++;
                    }
                    for (int c = 0; c < 3; c++) b[3 * i + c] = s[c] / k;
                }
            float *t = a;
            a = b, b = t;
        }
    }
    for (size_t i = 0; i < n * 3; i++) {
        float v = a[i] + 0.5f;
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    free(a), free(b);
    return 0;
}
