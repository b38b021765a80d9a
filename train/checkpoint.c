/* checkpoint.c — the trainer's checkpoint file (see checkpoint.h). */
#include "train/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"
#include "model/weights.h"

static char *hex_encode(const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) s[2 * i] = d[p[i] >> 4], s[2 * i + 1] = d[p[i] & 15];
    s[2 * n] = 0;
    return s;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int lm_ckpt_save(const char *path, lm_step *step, const lm_step_nets *nets, const lm_ckpt_meta *m,
                 const char *config_yaml) {
    lm_weights_part parts[6];
    int n = 0;
    parts[n++] = (lm_weights_part){"generator.", nets->g_params};
    parts[n++] = (lm_weights_part){"discriminator.", nets->d_params};
    lm_params *avg = lm_ema_params(lm_step_ema(step));
    if (avg) parts[n++] = (lm_weights_part){"generator_average.", avg};
    parts[n++] = (lm_weights_part){"optimizer.generator.state.", lm_optim_state(lm_step_optim(step, 0))};
    parts[n++] = (lm_weights_part){"optimizer.discriminator.state.", lm_optim_state(lm_step_optim(step, 1))};
    if (nets->resnet_pl) parts[n++] = (lm_weights_part){"loss_resnet_pl.", lm_resnet_pl_params(nets->resnet_pl)};

    long rn = lt_rng_state(NULL, 0);
    if (rn <= 0) return lm_err_lt("checkpoint %s: libtorch generator state", path);
    uint8_t *rb = malloc((size_t)rn);
    char *rhex = NULL;
    if (!rb) return lm_err_code(LM_ENOMEM, "checkpoint %s: out of memory", path);
    if (lt_rng_state(rb, (size_t)rn) != rn) {
        free(rb);
        return lm_err_lt("checkpoint %s: libtorch generator state", path);
    }
    rhex = hex_encode(rb, (size_t)rn);
    free(rb);
    if (!rhex) return lm_err_code(LM_ENOMEM, "checkpoint %s: out of memory", path);

    char epoch[32], batch[32], seed[32], skips[32], emal[32];
    snprintf(epoch, sizeof epoch, "%" PRId64, m->epoch);
    snprintf(batch, sizeof batch, "%" PRId64, m->batch);
    snprintf(seed, sizeof seed, "%" PRIu64, m->data_seed);
    snprintf(skips, sizeof skips, "%" PRId64, m->nonfinite_skips);
    snprintf(emal, sizeof emal, "%" PRId64, lm_ema_last_step(lm_step_ema(step)));
    const char *extra[] = {"format", LM_CKPT_FORMAT, "epoch", epoch, "batch", batch, "data_seed", seed,
                           "rng_torch", rhex, "topk", m->topk, "monitor", m->monitor, "nonfinite_skips", skips, "ema_last_step", emal,
                           NULL, NULL};
    lm_weights_save_opts o = lm_weights_save_defaults();
    o.config = config_yaml;
    o.step = m->step;
    o.extra = extra;
    int rc = lm_weights_save(path, parts, n, &o);
    free(rhex);
    if (rc < 0) lm_err_prefix("checkpoint");
    return rc;
}

static int meta_i64(const lm_weights_src *s, const char *path, const char *key, int64_t *out) {
    const char *v = lm_weights_meta(s, key);
    char *end;
    if (!v || !*v) return lm_err_code(LM_EINVAL, "checkpoint %s: metadata '%s' missing", path, key);
    long long x = strtoll(v, &end, 10);
    if (*end) return lm_err_code(LM_EINVAL, "checkpoint %s: metadata '%s' = '%s' is not an integer", path, key, v);
    *out = x;
    return 0;
}

static int load_part(lm_params *p, const lm_weights_src *s, const char *prefix) {
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    int rc = lm_weights_load(p, s, prefix, LM_WEIGHTS_STRICT, &rep);
    if (rc < 0 && rep.n) lm_weights_report_print(&rep, stderr);
    lm_weights_report_free(&rep);
    return rc;
}

int lm_ckpt_load(lm_ckpt_meta *m, const char *path, lm_step *step, const lm_step_nets *nets) {
    memset(m, 0, sizeof *m);
    lm_weights_src *s = NULL;
    uint8_t *rb = NULL;
    int rc = lm_weights_open(&s, path);
    if (rc < 0) return lm_err_prefix("checkpoint");
    const char *fmt = lm_weights_meta(s, "format");
    if (!fmt || strncmp(fmt, LM_CKPT_PREFIX, strlen(LM_CKPT_PREFIX))) {
        rc = lm_err_code(LM_EINVAL, "checkpoint %s: not a lamac training checkpoint (format '%s')", path,
                         fmt ? fmt : "none");
        goto cleanup;
    }
    int64_t seed = 0, ema_last = -1;
    if ((rc = meta_i64(s, path, "step", &m->step)) < 0 || (rc = meta_i64(s, path, "epoch", &m->epoch)) < 0 ||
        (rc = meta_i64(s, path, "batch", &m->batch)) < 0 || (rc = meta_i64(s, path, "data_seed", &seed)) < 0 ||
        (rc = meta_i64(s, path, "nonfinite_skips", &m->nonfinite_skips)) < 0 ||
        (rc = meta_i64(s, path, "ema_last_step", &ema_last)) < 0)
        goto cleanup;
    m->data_seed = (uint64_t)seed;
    const char *tk = lm_weights_meta(s, "topk");
    if (tk && strlen(tk) >= sizeof m->topk) {
        rc = lm_err_code(LM_EINVAL, "checkpoint %s: metadata 'topk' too long", path);
        goto cleanup;
    }
    snprintf(m->topk, sizeof m->topk, "%s", tk ? tk : "");
    const char *mon = lm_weights_meta(s, "monitor");
    if (mon && strlen(mon) >= sizeof m->monitor) {
        rc = lm_err_code(LM_EINVAL, "checkpoint %s: metadata 'monitor' too long", path);
        goto cleanup;
    }
    snprintf(m->monitor, sizeof m->monitor, "%s", mon ? mon : "");

    if ((rc = load_part(nets->g_params, s, "generator.")) < 0) goto cleanup;
    if ((rc = load_part(nets->d_params, s, "discriminator.")) < 0) goto cleanup;
    /* the optimizers keep their step counters on the host: tell them the state changed */
    lm_optim_state_loaded(lm_step_optim(step, 0));
    lm_optim_state_loaded(lm_step_optim(step, 1));
    if ((rc = load_part(lm_optim_state(lm_step_optim(step, 0)), s, "optimizer.generator.state.")) < 0) goto cleanup;
    if ((rc = load_part(lm_optim_state(lm_step_optim(step, 1)), s, "optimizer.discriminator.state.")) < 0)
        goto cleanup;
    if (nets->resnet_pl && lm_weights_count_prefix(s, "loss_resnet_pl.") &&
        (rc = load_part(lm_resnet_pl_params(nets->resnet_pl), s, "loss_resnet_pl.")) < 0)
        goto cleanup;
    if (lm_weights_count_prefix(s, "generator_average.")) {
        lm_ema *e = lm_step_ema(step);
        if ((rc = lm_ema_restore(e, ema_last)) < 0) goto cleanup;
        if ((rc = load_part(lm_ema_params(e), s, "generator_average.")) < 0) goto cleanup;
    }
    const char *rh = lm_weights_meta(s, "rng_torch");
    size_t hl = rh ? strlen(rh) : 0;
    if (!hl || hl % 2) {
        rc = lm_err_code(LM_EINVAL, "checkpoint %s: metadata 'rng_torch' missing or malformed", path);
        goto cleanup;
    }
    if (!(rb = malloc(hl / 2))) {
        rc = lm_err_code(LM_ENOMEM, "checkpoint %s: out of memory", path);
        goto cleanup;
    }
    for (size_t i = 0; i < hl / 2; i++) {
        int a = hexval(rh[2 * i]), b = hexval(rh[2 * i + 1]);
        if (a < 0 || b < 0) {
            rc = lm_err_code(LM_EINVAL, "checkpoint %s: metadata 'rng_torch' is not hex", path);
            goto cleanup;
        }
        rb[i] = (uint8_t)(a * 16 + b);
    }
    if (lt_rng_set_state(rb, hl / 2) < 0) {
        rc = lm_err_lt("checkpoint %s: restoring libtorch's generator", path);
        goto cleanup;
    }
    lm_step_set_global_step(step, m->step);
cleanup:
    free(rb);
    lm_weights_close(s);
    return rc;
}
