/* bench_report.c — what rewriting a training run's report.html costs over a run with many
 * validations: a synthetic metrics.jsonl grows by T train lines (10 loss terms) and one
 * validation line (SSIM and L1 per bin) per validation; after each validation the page is
 * rewritten (a) at every validation, as the trainer did before, and (b) when the trainer's
 * pace says so (train/loop.h lm_report_pace), with S seconds of training assumed between
 * validations on a virtual clock (the S seconds plus the measured writes); both write the
 * page at the end too.
 *   bench_report [V=400] [T=25] [S=10]
 * Prints figures; never passes or fails on time. */
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/err.h"
#include "eval/html.h"
#include "train/loop.h"

static const char *k_bins[] = {"total", "0-10%", "10-20%", "20-30%", "30-40%", "40-50%",
                               "50-60%", "60-70%", "70-80%", "80-90%", "90-100%"};

static void append_lines(FILE *f, int64_t *step, int t) {
    for (int k = 0; k < t; k++) {
        *step += 10;
        fprintf(f, "{\"step\":%lld,\"epoch\":0,\"kind\":\"train\",\"losses\":{", (long long)*step);
        const char *terms[] = {"gen_l1", "gen_adv", "gen_fm", "gen_total", "gen_grad_norm", "discr_adv",
                               "adv_discr_real_out", "adv_discr_fake_out", "adv_discr_real_gp", "discr_grad_norm"};
        for (int i = 0; i < 10; i++) fprintf(f, "%s\"%s\":%.9g", i ? "," : "", terms[i], 0.1 * (i + 1) + 1e-6 * (double)*step);
        fprintf(f, "},\"metrics\":{},\"nonfinite\":[]}\n");
    }
    fprintf(f, "{\"step\":%lld,\"epoch\":0,\"kind\":\"val\",\"losses\":{},\"metrics\":{", (long long)*step);
    for (int m = 0; m < 2; m++)
        for (int b = 0; b < 11; b++)
            fprintf(f, "%s\"val_%s_%s_mean\":%.9g,\"val_%s_%s_std\":%.9g", m || b ? "," : "", m ? "l1" : "ssim",
                    k_bins[b], 0.5 + 1e-6 * (double)*step, m ? "l1" : "ssim", k_bins[b], 0.01);
    fprintf(f, "}}\n");
    fflush(f);
}

static double write_page(const char *dir) {
    double t = lm_clock_now();
    if (lm_report_html(dir, dir) < 0) {
        fprintf(stderr, "bench_report: %s\n", lm_err_msg());
        exit(1);
    }
    return lm_clock_now() - t;
}

/* One simulated run; paced 0: every validation. Prints and returns the seconds of writes. */
static double run(const char *dir, int v, int t, double s, int paced) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    int64_t step = 0;
    lm_report_pace pace = {0};
    double now = 0, total = 0, last = 0;
    int writes = 0;
    for (int i = 0; i < v; i++) {
        append_lines(f, &step, t);
        now += s;
        if (paced && !lm_report_pace_due(&pace, now)) continue;
        double c = write_page(dir);
        lm_report_pace_done(&pace, now, now + c);
        now += c, total += c, last = c, writes++;
    }
    double c = write_page(dir); /* the end of the run */
    total += c, last = c, writes++;
    fclose(f);
    printf("%-22s %5d writes, %8.2f s of writes (%.2f%% of %.0f s of training), last write %.3f s\n",
           paced ? "paced (LM_REPORT_PACE)" : "every validation", writes, total, 100 * total / (s * v), s * v, last);
    return total;
}

int main(int argc, char **argv) {
    int v = argc > 1 ? atoi(argv[1]) : 400, t = argc > 2 ? atoi(argv[2]) : 25;
    double s = argc > 3 ? atof(argv[3]) : 10;
    char dir[] = "/tmp/lamac_bench_report_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("bench_report: %d validations, %d train lines each, %.3g s of training between them\n", v, t, s);
    double a = run(dir, v, t, s, 0), b = run(dir, v, t, s, 1);
    printf("paced / every validation: %.3f\n", b / a);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
