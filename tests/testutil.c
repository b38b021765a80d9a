/* testutil.c — helpers shared by the test suites (see testutil.h). */
#define _GNU_SOURCE
#include "tests/testutil.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/fill.h"
#include "core/err.h"
#include "core/path.h"
#include "eval/lpips.h"
#include "model/inception.h"
#include "model/weights.h"

lt_tensor *lm_test_fixture(const lm_safetensors_file *f, const char *name) {
    const lm_safetensors_entry *e = lm_safetensors_find(f, name);
    ck_assert_msg(e != NULL, "fixture lacks %s", name);
    lt_tensor *t = lt_from_buffer(e->data, e->shape, e->ndim, (lt_dtype)e->dtype);
    ck_assert_msg(t != NULL, "%s: %s", name, lt_error());
    return t;
}

void lm_test_expect_close(lm_test_errs *g, lt_tensor *a, lt_tensor *e, double atol, double rtol,
                          const char *what) {
    ck_assert_msg(a && e, "%s: %s", what, lt_error());
    ck_assert_msg(lt_same_shape(a, e), "%s: shape differs", what);
    lt_scope_push();
    lt_tensor *af = lt_to_dtype(a, LT_F64), *ef = lt_to_dtype(e, LT_F64);
    lt_tensor *d = lt_abs(lt_sub(af, ef));
    double maxerr = lt_item(lt_max(d));
    double emax = lt_item(lt_max(lt_abs(ef)));
    double excess = lt_item(lt_max(lt_sub(d, lt_add_scalar(lt_mul_scalar(lt_abs(ef), rtol), atol))));
    lt_scope_pop();
    if (!g || getenv("LM_TEST_VERBOSE"))
        printf("    %-56s max |err| %.3g  max |ref| %.3g\n", what, maxerr, emax);
    if (g) {
        double rel = emax > 0 ? maxerr / emax : 0;
        if (maxerr > g->max_abs) g->max_abs = maxerr;
        if (rel > g->max_rel) g->max_rel = rel;
        g->n++;
    }
    ck_assert_msg(excess <= 0, "%s: max error %g exceeds atol %g + rtol %g", what, maxerr, atol, rtol);
}

void lm_test_errs_print(const char *fixture, const lm_test_errs *g) {
    printf("  %-10s %-10s %3d tensors  max |err| %.3g  max rel %.3g\n", fixture, g->name, g->n,
           g->max_abs, g->max_rel);
}

void lm_test_load_weights(lm_params *p, const lm_safetensors_file *f, const char *prefix) {
    char key[300];
    size_t np = strlen(prefix);
    int nw = 0;
    for (int i = 0; i < lm_safetensors_count(f); i++) {
        const char *name = lm_safetensors_get(f, i)->name;
        if (strncmp(name, prefix, np)) continue;
        ck_assert_msg(nw < p->n && !strcmp(name + np, p->items[nw].name),
                      "state_dict order: fixture has %s at %d, registry %s", name + np, nw,
                      nw < p->n ? p->items[nw].name : "(end)");
        nw++;
    }
    ck_assert_msg(nw == p->n, "fixture has %d weights, registry %d", nw, p->n);
    lt_no_grad_push();
    for (int i = 0; i < p->n; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, p->items[i].name);
        lt_scope_push();
        lt_tensor *src = lm_test_fixture(f, key);
        ck_assert_msg(lt_same_shape(src, p->items[i].t), "%s: shape differs", p->items[i].name);
        ck_assert_ptr_nonnull(lt_copy_(p->items[i].t, src));
        lt_scope_pop();
    }
    lt_no_grad_pop();
}

const char *lm_test_lamac_bin(void) {
    static char buf[4096];
    const char *bin = getenv("LAMAC_BIN");
    if (!bin || !bin[0]) {
        snprintf(buf, sizeof buf, "%s/lamac", LM_BUILD_DIR);
        bin = buf;
    }
    ck_assert_msg(access(bin, X_OK) == 0,
                  "the lamac binary %s is missing or not executable (%s): build it, or set LAMAC_BIN "
                  "to the binary (ctest sets it; the default is LM_BUILD_DIR/lamac)",
                  bin, strerror(errno));
    return bin;
}

/* Runs cmd (a shell line; stderr joined to stdout) into out; the exit status, -1 if killed. */
static int run_shell(char *out, size_t cap, const char *cmd) {
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    while (fgetc(f) != EOF) { /* drain what did not fit */
    }
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int lm_test_run(char *out, size_t cap, const char *fmt, ...) {
    const char *bin = lm_test_lamac_bin();
    char args[4096], cmd[4608];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    return run_shell(out, cap, cmd);
}

int lm_test_sh(char *out, size_t cap, const char *fmt, ...) {
    char args[4096], cmd[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s 2>&1", args);
    return run_shell(out, cap, cmd);
}

void lm_test_write_f32(const char *path, lt_tensor *t) {
    size_t n = (size_t)lt_numel(t);
    float *v = malloc((n ? n : 1) * sizeof *v);
    ck_assert_msg(v && lt_to_buffer(lt_to_dtype(t, LT_F32), v, n * sizeof *v) == 0, "%s", lt_error());
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f && fwrite(v, sizeof *v, n, f) == n, "cannot write %s", path);
    fclose(f);
    free(v);
}

lt_tensor *lm_test_read_f32(const char *path, const int64_t *shape, int ndim) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *v = malloc((n ? n : 1) * sizeof *v);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f && v, "cannot open %s", path);
    ck_assert_msg(fread(v, sizeof *v, n, f) == n, "%s: shorter than %zu float32 values", path, n);
    fclose(f);
    lt_tensor *t = lt_from_buffer(v, shape, ndim, LT_F32);
    free(v);
    return t;
}

const char *lm_test_tmpdir(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "/tmp/lamac_%s_XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(buf));
    return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void lm_test_rmtree(const char *dir) {
    if (dir && dir[0]) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void lm_test_write_file(const char *root, const char *rel, const char *text) {
    char path[4096];
    ck_assert_msg(snprintf(path, sizeof path, "%s/%s", root, rel) < (int)sizeof path,
                  "path too long: %s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    ck_assert_msg(lm_path_mkdirs(path) == 0, "cannot create %s", path);
    *slash = '/';
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

char *lm_test_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = 0, cap = 1 << 12;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    for (size_t k; (k = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (n + 1 == cap) {
            s = realloc(s, cap *= 2);
            ck_assert_ptr_nonnull(s);
        }
    }
    s[n] = 0;
    fclose(f);
    return s;
}

char *lm_test_read_file(const char *path) {
    char *s = lm_test_slurp(path);
    ck_assert_msg(s != NULL, "cannot open %s", path);
    return s;
}

void lm_test_save_params(lm_params *p, const char *path) {
    lm_weights_part part = {"", p};
    lm_weights_save_opts o = lm_weights_save_defaults();
    ck_assert_msg(lm_weights_save(path, &part, 1, &o) == 0, "%s", lm_err_msg());
}

static void set_params(lm_params *p, void (*fill)(lm_params *p), uint64_t seed) {
    if (fill) fill(p);
    else ck_assert_msg(lm_params_randomize(p, seed) == 0, "%s", lm_err_msg());
}

void lm_test_write_torch_home(const char *th, void (*fill)(lm_params *p), uint64_t seed) {
    char d[512], path[600];
    snprintf(d, sizeof d, "%s/hub/checkpoints", th);
    ck_assert_msg(lm_path_mkdirs(d) == 0, "%s", lm_err_msg());
    lm_lpips *l = NULL;
    ck_assert_int_eq(lm_lpips_create(&l, LM_LPIPS_VGG, LT_F32, LT_CPU), 0);
    set_params(lm_lpips_backbone(l), fill, seed);
    snprintf(path, sizeof path, "%s/vgg16-397923af.pth", d);
    lm_test_save_params(lm_lpips_backbone(l), path);
    lm_lpips_free(l);
    lm_inception *n = NULL;
    ck_assert_int_eq(lm_inception_create(&n, LT_F32, LT_CPU), 0);
    set_params(lm_inception_params(n), fill, seed);
    snprintf(path, sizeof path, "%s/pt_inception-2015-12-05-6726825d.pth", d);
    lm_test_save_params(lm_inception_params(n), path);
    lm_inception_free(n);
}

/* ---- deterministic weights (tests/ref/gen_perceptual_fixtures.py det_values) ------------- */

static uint32_t det_fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static double det_u(uint32_t seed, uint64_t i) {
    uint64_t h = (i * 2654435761ull + seed) & 0xffffffffull;
    h ^= h >> 15;
    h = (h * 2246822519ull) & 0xffffffffull;
    h ^= h >> 13;
    return (double)((int64_t)(h % 2001) - 1000) / 1000.0;
}

void lm_test_det_tensor(lt_tensor *t, const char *key) {
    int64_t s[8];
    int nd = lt_shape(t, s, 8);
    int64_t n = lt_numel(t);
    const char *leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
    float *buf = malloc((size_t)n * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    uint32_t seed = det_fnv1a(key);
    double scale = nd == 4 ? sqrt(6.0 / (double)(s[1] * s[2] * s[3])) : 0;
    for (int64_t i = 0; i < n; i++) {
        double u = det_u(seed, (uint64_t)i), v;
        if (nd == 4)
            v = u * scale;
        else if (!strcmp(leaf, "bias"))
            v = 0.1 * u;
        else if (!strcmp(leaf, "weight"))
            v = 1.0 + 0.2 * u;
        else if (!strcmp(leaf, "running_mean"))
            v = 0.1 * u;
        else if (!strcmp(leaf, "running_var"))
            v = 1.0 + 0.25 * (u + 1.0);
        else
            ck_abort_msg("det: unexpected key %s", key);
        buf[i] = (float)v;
    }
    lt_scope_push();
    lt_no_grad_push();
    ck_assert_ptr_nonnull(lt_copy_(t, lt_from_buffer(buf, s, nd, LT_F32)));
    lt_no_grad_pop();
    lt_scope_pop();
    free(buf);
}

void lm_test_det_fill(lm_params *p) {
    for (int i = 0; i < p->n; i++) {
        const char *key = strchr(p->items[i].name, '.') + 1;
        if (strstr(key, "num_batches_tracked")) continue;
        lm_test_det_tensor(p->items[i].t, key);
    }
}

/* ---- formula weights (same as tests/ref/gen_eval_fixtures.py) ----------------------------- */
static uint32_t formula_fnv1a32(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}
static double formula_u(uint32_t h, uint64_t i) {
    uint32_t x = h + (uint32_t)i * 0x9E3779B9u;
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    return (double)x / 4294967296.0 - 0.5;
}
void lm_test_fill_formula(lm_params *p) {
    lt_no_grad_push();
    for (int k = 0; k < p->n; k++) {
        const char *name = p->items[k].name;
        lt_tensor *t = p->items[k].t;
        if (lt_type(t) != LT_F32) continue; /* num_batches_tracked */
        const char *leaf = strrchr(name, '.');
        leaf = leaf ? leaf + 1 : name;
        int64_t n = lt_numel(t), shp[4];
        int dim = lt_shape(t, shp, 4);
        float *v = malloc(sizeof(float) * (size_t)n);
        uint32_t h = formula_fnv1a32(name);
        double fan_in = dim == 4 ? (double)(shp[1] * shp[2] * shp[3]) : 1;
        for (int64_t i = 0; i < n; i++) {
            double u = formula_u(h, (uint64_t)i), x;
            if (dim == 4) x = 2.0 * u * sqrt(6.0 / fan_in);
            else if (!strcmp(leaf, "bias")) x = 0.1 * u;
            else if (!strcmp(leaf, "weight")) x = 1.0 + 0.2 * u;
            else if (!strcmp(leaf, "running_mean")) x = 0.1 * u;
            else if (!strcmp(leaf, "running_var")) x = 1.0 + u;
            else ck_abort_msg("formula: unexpected tensor %s", name);
            v[i] = (float)x;
        }
        lt_scope_push();
        ck_assert(lt_copy_(t, lt_from_buffer(v, shp, dim, LT_F32)) != NULL);
        lt_scope_pop();
        free(v);
    }
    lt_no_grad_pop();
}

double lm_test_envelope_tol(double env, double e) {
    return LM_TEST_ENV_K * env + LM_TEST_ENV_FLOOR_REL * fabs(e) + LM_TEST_ENV_FLOOR_ABS;
}

double lm_test_envelope(const lm_safetensors_file *env, const char *key, int64_t i) {
    lt_scope_push();
    lt_tensor *t = lm_test_fixture(env, key);
    ck_assert_msg(i >= 0 && i < lt_numel(t), "envelope %s: no element %lld", key, (long long)i);
    const int64_t flat[1] = {-1};
    double v = lt_item(lt_select(lt_reshape(t, flat, 1), 0, i));
    lt_scope_pop();
    ck_assert_msg(v >= 0 && isfinite(v), "envelope %s[%lld] = %g", key, (long long)i, v);
    return v;
}

/* ---- the fixtures' options ---------------------------------------------------------------- */

lm_generator_opts lm_test_generator_opts(void) {
    lm_generator_opts o;
    lm_cfg_defaults(&o, LM_OPTS_GENERATOR);
    o.add_out_act = LM_ACT_SIGMOID;
    o.init_conv_kwargs.enable_lfu = o.downsample_conv_kwargs.enable_lfu = o.resnet_conv_kwargs.enable_lfu = 0;
    return o;
}

lm_generator_opts lm_test_small_ffc_opts(int nd) {
    lm_generator_opts o = lm_test_generator_opts();
    o.ngf = 8;
    o.n_downsampling = nd;
    o.n_blocks = 2;
    o.max_features = 64;
    return o;
}

void lm_test_gen_open(lm_test_gen *m, const lm_generator_opts *o, lt_dtype dtype, uint64_t seed) {
    lm_params_init(&m->p, dtype, LT_CPU);
    ck_assert_msg(lm_generator_create(&m->g, &m->p, o) == 0, "%s", lm_err_msg());
    if (dtype == LT_F32) {
        ck_assert_int_eq(lm_params_randomize(&m->p, seed), 0);
        return;
    }
    lm_test_gen m32; /* lm_params_randomize draws float32 values: a float32 twin, copied */
    lm_test_gen_open(&m32, o, LT_F32, seed);
    ck_assert_int_eq(m->p.n, m32.p.n);
    lt_no_grad_push();
    for (int i = 0; i < m->p.n; i++) ck_assert_msg(lt_copy_(m->p.items[i].t, m32.p.items[i].t), "%s", lt_error());
    lt_no_grad_pop();
    lm_test_gen_close(&m32);
}

void lm_test_gen_close(lm_test_gen *m) {
    lm_generator_free(m->g);
    lm_params_free(&m->p);
}

lm_discriminator_opts lm_test_discriminator_opts(void) {
    lm_discriminator_opts o;
    lm_cfg_defaults(&o, LM_OPTS_DISCRIMINATOR);
    o.n_layers = 4;
    return o;
}

lm_step_opts lm_test_step_opts(void) {
    lm_step_opts o;
    lm_cfg_defaults(&o, LM_OPTS_STEP);
    o.adv.weight = 10;
    o.adv.gp_coef = 0.001;
    o.adv.mask_as_fake_target = 1;
    o.adv.allow_scale_mask = 1;
    o.opt_g.kind = o.opt_d.kind = LM_OPTIM_ADAM;
    o.opt_g.weight_decay = o.opt_d.weight_decay = 0;
    o.opt_g.lr = 0.001;
    o.opt_d.lr = 0.0001;
    return o;
}

lm_adv_opts lm_test_adv_opts(void) { return lm_test_step_opts().adv; }

lm_optim_opts lm_test_optim_opts(lm_optim_kind kind) {
    lm_step_opts s;
    lm_cfg_defaults(&s, LM_OPTS_STEP); /* make_optimizer's adamw: lr 0.001, weight_decay 0.01 */
    lm_optim_opts o = s.opt_g;
    if (kind == LM_OPTIM_ADAM) o.kind = LM_OPTIM_ADAM, o.weight_decay = 0; /* torch.optim.Adam's */
    return o;
}

lm_ema_opts lm_test_ema_opts(void) { return lm_test_step_opts().ema; }

lm_resnet_pl_opts lm_test_resnet_pl_opts(void) {
    lm_loss_opts o;
    lm_cfg_defaults(&o, LM_OPTS_LOSSES);
    o.resnet_pl.weight = 30;
    return o.resnet_pl;
}

lm_vgg_pl_opts lm_test_vgg_pl_opts(void) {
    lm_loss_opts o;
    lm_cfg_defaults(&o, LM_OPTS_LOSSES);
    return o.perceptual;
}
