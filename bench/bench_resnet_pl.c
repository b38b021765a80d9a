/* bench_resnet_pl.c — time and peak RSS of one ResNetPL loss forward + backward (the HRF
 * perceptual loss of losses/resnet_pl.h, resnet50dilated, training-mode BN as in official
 * training) on a (N, 3, S, S) batch. Random encoder weights when the file is missing.
 *   bench_resnet_pl [N=1] [S=256] [threads=2] [reps=3] [bn_train=1]
 * Prints figures; never passes or fails on time. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "config/fill.h"
#include "core/clock.h"
#include "core/err.h"
#include "losses/resnet_pl.h"

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1, s = argc > 2 ? atoi(argv[2]) : 256;
    int threads = argc > 3 ? atoi(argv[3]) : 2, reps = argc > 4 ? atoi(argv[4]) : 3;
    int bn_train = argc > 5 ? atoi(argv[5]) : 1;
    if (n < 1 || s < 32 || threads < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_resnet_pl [N] [S>=32] [threads] [reps] [bn_train]\n");
        return 2;
    }
    lt_set_num_threads(threads);
    lm_loss_opts lo;
    lm_cfg_defaults(&lo, LM_OPTS_LOSSES);
    lm_resnet_pl_opts o = lo.resnet_pl;
    o.bn_train = bn_train;
    lm_resnet_pl *pl = NULL;
    long rss0 = peak_rss_kb();
    if (lm_resnet_pl_create(&pl, &o, LT_F32, LT_CPU, LM_PL_RANDOM_IF_MISSING) < 0) {
        fprintf(stderr, "bench_resnet_pl: %s\n", lm_err_msg());
        return 1;
    }
    long rss_model = peak_rss_kb();
    int64_t shape[4] = {n, 3, s, s};
    double best = 1e30, total = 0;
    for (int r = 0; r <= reps; r++) { /* r = 0: warm-up */
        lt_scope_push();
        lt_tensor *pred = lt_rand(shape, 4, LT_F32, LT_CPU), *img = lt_rand(shape, 4, LT_F32, LT_CPU);
        lt_set_requires_grad(pred, 1);
        double t0 = lm_clock_now();
        lt_tensor *loss = lm_resnet_pl_loss(pl, pred, img);
        if (!loss || lt_backward(loss) < 0) {
            fprintf(stderr, "bench_resnet_pl: %s\n", lt_error());
            return 1;
        }
        double dt = lm_clock_now() - t0;
        lt_scope_pop();
        if (r > 0) {
            total += dt;
            if (dt < best) best = dt;
        }
    }
    printf("resnet_pl forward+backward (%d, 3, %d, %d), resnet50dilated, bn_train %d, %d threads, "
           "weights: %s\n", n, s, s, bn_train, threads, lm_resnet_pl_source(pl));
    printf("  time: best %.3f s, mean %.3f s over %d reps (after 1 warm-up)\n", best, total / reps, reps);
    printf("  peak RSS: %.1f MiB (before create %.1f MiB, after create %.1f MiB)\n",
           peak_rss_kb() / 1024.0, rss0 / 1024.0, rss_model / 1024.0);
    printf("  backend: %s\n", lt_backend_info());
    lm_resnet_pl_free(pl);
    return 0;
}
