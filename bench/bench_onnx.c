/* bench_onnx.c — `lamac export --format onnx` on the lama-fourier generator (ffc_resnet_075:
 * ngf 64, 3 downsamplings, 9 blocks, seeded random weights): export time and file size for
 * both FFT lowerings (matmul at S; dft-op), onnxruntime-node's session creation and one run
 * of a batch of 1 (tests/rt/ort_run.js, one thread), against lamac's own eval forward (one
 * thread), and the max difference on the 0..255 output.
 *   bench_onnx [S=256]   (run from the repository root; needs node and .rt/, see
 *                         scripts/setup-deps.sh)
 * Prints figures; never passes or fails on time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/fill.h"
#include "core/clock.h"
#include "core/err.h"
#include "io/protobuf.h"
#include "model/export_onnx.h"
#include "model/generator.h"
#include "model/param.h"
#include "shim/lt.h"

static int write_f32(const char *path, lt_tensor *t) {
    int64_t n = lt_numel(t);
    float *v = malloc(sizeof(float) * (size_t)n);
    FILE *f = fopen(path, "wb");
    int ok = v && f && lt_to_buffer(lt_contiguous(t), v, sizeof(float) * (size_t)n) == 0 &&
             fwrite(v, sizeof(float), (size_t)n, f) == (size_t)n;
    if (f) fclose(f);
    free(v);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    int S = argc > 1 ? atoi(argv[1]) : 256;
    lt_set_num_threads(1);
    lm_generator_opts o;
    lm_cfg_defaults(&o, LM_OPTS_GENERATOR);
    o.add_out_act = LM_ACT_SIGMOID; /* ffc_resnet_075.yaml */
    o.init_conv_kwargs.enable_lfu = o.downsample_conv_kwargs.enable_lfu = o.resnet_conv_kwargs.enable_lfu = 0;
    lm_params p;
    lm_params_init(&p, LT_F32, LT_CPU);
    lm_generator *gen = NULL;
    lm_graph g;
    if (lm_generator_create(&gen, &p, &o) < 0 || lm_params_randomize(&p, 7) < 0 || lm_generator_emit(gen, &g) < 0) {
        fprintf(stderr, "bench_onnx: %s\n", lm_err_msg());
        return 1;
    }
    printf("lama-fourier generator: %lld parameters, graph of %d nodes\n", (long long)lm_params_numel(&p, LM_PARAM), g.len);
    char dir[] = "/tmp/lamac_bench_onnx_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char img[128], msk[128], out[128], cmd[1024];
    snprintf(img, sizeof img, "%s/image.f32", dir);
    snprintf(msk, sizeof msk, "%s/mask.f32", dir);
    snprintf(out, sizeof out, "%s/out.f32", dir);
    lt_manual_seed(3);
    int64_t si[4] = {1, 3, S, S}, sm[4] = {1, 1, S, S};
    lt_tensor *image = lt_rand(si, 4, LT_F32, LT_CPU), *mask = lt_to_dtype(lt_gt_scalar(lt_rand(sm, 4, LT_F32, LT_CPU), 0.7), LT_F32);
    if (write_f32(img, image) < 0 || write_f32(msk, mask) < 0) return 1;
    /* lamac's forward and the composite */
    lt_no_grad_push();
    lt_tensor *inv = lt_rsub_scalar(mask, 1), *parts[2] = {lt_mul(image, inv), mask};
    double t0 = lm_clock_now();
    lt_tensor *y = lm_generator_forward(gen, lt_cat(parts, 2, 1), 0);
    double t_fwd = lm_clock_now() - t0;
    lt_tensor *ref = lt_clamp(lt_mul_scalar(lt_add(lt_mul(mask, y), lt_mul(inv, image)), 255), 0, 255);
    lt_no_grad_pop();
    if (!ref) {
        fprintf(stderr, "bench_onnx: %s\n", lt_error());
        return 1;
    }
    printf("lamac eval forward at %dx%d, 1 thread: %.1f ms\n", S, S, 1e3 * t_fwd);
    const char *names[2] = {"matmul", "dft-op"};
    for (int m = 0; m < 2; m++) {
        char model[128];
        snprintf(model, sizeof model, "%s/%s.onnx", dir, names[m]);
        lm_export_onnx_opts eo = lm_export_onnx_defaults();
        eo.size = S;
        eo.fft = m ? LM_ONNX_FFT_DFT_OP : LM_ONNX_FFT_MATMUL;
        t0 = lm_clock_now();
        if (lm_export_onnx(&g, &eo, model) < 0) {
            fprintf(stderr, "bench_onnx: %s\n", lm_err_msg());
            return 1;
        }
        double t_exp = lm_clock_now() - t0;
        struct stat st;
        stat(model, &st);
        printf("--fft %s: export %.0f ms, %.1f MB\n", names[m], 1e3 * t_exp, st.st_size / 1e6);
        snprintf(cmd, sizeof cmd, "node tests/rt/ort_run.js %s %s %s 1 %d %s", model, img, msk, S, out);
        fflush(stdout);
        if (system(cmd) != 0) {
            printf("  onnxruntime did not run\n");
            continue;
        }
        float *v = malloc(sizeof(float) * 3 * (size_t)S * S);
        FILE *f = fopen(out, "rb");
        if (!v || !f || fread(v, sizeof(float), 3 * (size_t)S * S, f) != 3 * (size_t)S * S) return 1;
        fclose(f);
        lt_tensor *got = lt_from_buffer(v, si, 4, LT_F32);
        free(v);
        printf("  max |onnxruntime - lamac| = %.3g grey levels\n", lt_item(lt_max(lt_abs(lt_sub(got, ref)))));
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    lm_graph_free(&g);
    lm_generator_free(gen);
    lm_params_free(&p);
    return 0;
}
