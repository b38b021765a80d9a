/* check_config.c — config/: composition of the configs/training tree (defaults lists,
 * packages), overrides, interpolation (keys, env, cycles), schema validation and typed
 * getters, the YAML writer, every bad-input case (tests/fixtures/config/), and the
 * `lamac config show` command line ($LAMAC_BIN). */
#include <check.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "config/config.h"
#include "config/data_opts.h"
#include "config/fill.h"
#include "data/augment.h"
#include "model/generator.h"
#include "train/step.h"
#include "tests/testutil.h"

#define FIX "tests/fixtures/config/"
#define TRAIN "configs/training/"

/* Loads with overrides; fails the test with the loader's message on error. */
static lm_cfg *load_ok(const char *path, const char *const *ov, int n) {
    lm_cfg *c = NULL;
    int rc = lm_cfg_load(&c, path, ov, n);
    ck_assert_msg(rc == 0 && c, "%s: %s", path, lm_err_msg());
    return c;
}

static int64_t get_int(const lm_cfg *c, const char *path) {
    int64_t v = -12345;
    ck_assert_msg(lm_cfg_get_int(c, path, &v) == 0, "%s: %s", path, lm_err_msg());
    return v;
}

static double get_float(const lm_cfg *c, const char *path) {
    double v = -12345;
    ck_assert_msg(lm_cfg_get_float(c, path, &v) == 0, "%s: %s", path, lm_err_msg());
    return v;
}

static const char *get_str(const lm_cfg *c, const char *path) {
    const char *v = NULL;
    ck_assert_msg(lm_cfg_get_str(c, path, &v) == 0, "%s: %s", path, lm_err_msg());
    return v;
}

/* Asserts that loading fails and the message names every given fragment. */
static void load_fails(const char *path, const char *const *ov, int n, const char *const *want) {
    lm_cfg *c = (lm_cfg *)1;
    int rc = lm_cfg_load(&c, path, ov, n);
    ck_assert_msg(rc < 0, "%s: loaded but should fail", path);
    ck_assert_ptr_null(c);
    const char *m = lm_err_msg();
    ck_assert_msg(!strncmp(m, "config: ", 8), "message does not start with 'config: ': %s", m);
    ck_assert_msg(!strchr(m, '\n'), "message spans lines: %s", m);
    for (; *want; want++) ck_assert_msg(strstr(m, *want), "message lacks '%s': %s", *want, m);
}

/* Asserts that reading key fails and the message names every given fragment. */
static void read_fails(const lm_cfg *c, const char *key, int type, const char *const *want) {
    int64_t i;
    const char *s;
    int rc = type == 'i' ? lm_cfg_get_int(c, key, &i) : lm_cfg_get_str(c, key, &s);
    ck_assert_msg(rc < 0, "%s: read but should fail", key);
    const char *m = lm_err_msg();
    printf("  %s: %s\n", key, m);
    ck_assert_msg(!strncmp(m, "config: ", 8) && !strchr(m, '\n'), "%s", m);
    for (; *want; want++) ck_assert_msg(strstr(m, *want), "message lacks '%s': %s", *want, m);
}

static void clear_env(void) {
    const char *vars[] = {"LAMAC_DATA", "LAMAC_OUT", "LAMAC_TB", "LAMAC_PRETRAINED", "TORCH_HOME",
                          "LAMAC_TEST_DATA", "LAMAC_TEST_TITLE", "LAMAC_CELEBA_DATA", NULL};
    for (int i = 0; vars[i]; i++) unsetenv(vars[i]);
}

START_TEST(test_every_experiment_loads) {
    clear_env();
    DIR *d = opendir(TRAIN);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml")) continue;
        char path[512];
        snprintf(path, sizeof path, TRAIN "%s", e->d_name);
        lm_cfg *c = load_ok(path, NULL, 0);
        /* every experiment has the groups the trainer needs, fully resolved */
        ck_assert_msg(lm_cfg_has(c, "generator.kind") && lm_cfg_has(c, "discriminator.kind") &&
                          lm_cfg_has(c, "optimizers.generator.lr") && lm_cfg_has(c, "data.train.indir") &&
                          lm_cfg_has(c, "location.data_root_dir") && lm_cfg_has(c, "trainer.kwargs.max_epochs"),
                      "%s lacks a group", path);
        ck_assert_msg(!lm_cfg_has(c, "hydra") && !lm_cfg_has(c, "defaults"), "%s keeps hydra/defaults", path);
        char *y = lm_cfg_to_yaml(c);
        ck_assert_ptr_nonnull(y);
        ck_assert_msg(!strstr(y, "${"), "%s: unresolved interpolation in\n%s", path, y);
        free(y);
        lm_cfg_free(c);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 20); /* the 4 main experiments, 13 ablv2, celeba variants, demo */
}
END_TEST

START_TEST(test_big_lama) {
    clear_env();
    lm_cfg *c = load_ok(TRAIN "big-lama.yaml", NULL, 0);
    ck_assert_str_eq(get_str(c, "generator.kind"), "ffc_resnet");
    ck_assert_int_eq(get_int(c, "generator.n_blocks"), 18);
    ck_assert_int_eq(get_int(c, "generator.ngf"), 64);
    ck_assert_double_eq(get_float(c, "optimizers.generator.lr"), 0.001);
    ck_assert_double_eq(get_float(c, "optimizers.discriminator.lr"), 0.0001);
    /* ${generator.init_conv_kwargs.ratio_gout} keeps its type: the int 0 */
    const lm_cfg_node *n = lm_cfg_find(c, "generator.downsample_conv_kwargs.ratio_gin");
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->text, "0");
    ck_assert_int_eq(lm_cfg_scalar_type(n), LM_CFG_INT);
    ck_assert_double_eq(get_float(c, "generator.downsample_conv_kwargs.ratio_gin"), 0);
    ck_assert_double_eq(get_float(c, "generator.downsample_conv_kwargs.ratio_gout"), 0);
    ck_assert_double_eq(get_float(c, "generator.resnet_conv_kwargs.ratio_gout"), 0.75);
    /* chained data interpolations: dataloader batch size from data.batch_size */
    ck_assert_int_eq(get_int(c, "data.train.dataloader_kwargs.batch_size"), 10);
    ck_assert_int_eq(get_int(c, "data.val.dataloader_kwargs.batch_size"), 2);
    ck_assert_int_eq(get_int(c, "trainer.kwargs.val_check_interval"), 25000);
    /* location from the environment defaults */
    ck_assert_str_eq(get_str(c, "location.data_root_dir"), "./data");
    ck_assert_str_eq(get_str(c, "data.train.indir"), "./data/train");
    ck_assert_str_eq(get_str(c, "losses.resnet_pl.weights_path"), "./pretrained");
    int b = 0;
    ck_assert_int_eq(lm_cfg_get_bool(c, "losses.adversarial.mask_as_fake_target", &b), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_double_eq(get_float(c, "losses.adversarial.gp_coef"), 0.001);
    ck_assert_double_eq(get_float(c, "losses.resnet_pl.weight"), 30);
    const lm_cfg_node *l = NULL;
    ck_assert_int_eq(lm_cfg_get_list(c, "visualizer.key_order", &l), 0);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(l->n, 5);
    ck_assert_str_eq(l->kids[0]->text, "image");
    lm_cfg_free(c);

    c = load_ok(TRAIN "lama-fourier.yaml", NULL, 0);
    ck_assert_int_eq(get_int(c, "generator.n_blocks"), 9); /* from generator/ffc_resnet_075 */
    lm_cfg_free(c);
    c = load_ok(TRAIN "big-lama-regular.yaml", NULL, 0);
    ck_assert_str_eq(get_str(c, "generator.kind"), "pix2pixhd_global");
    ck_assert_int_eq(get_int(c, "generator.n_blocks"), 15);
    lm_cfg_free(c);
    c = load_ok(TRAIN "ablv2_work_no_segmpl_csirpl.yaml", NULL, 0);
    ck_assert_str_eq(get_str(c, "losses.resnet_pl.arch_encoder"), "resnet50");
    ck_assert_double_eq(get_float(c, "losses.resnet_pl.weight"), 0.3);
    ck_assert_int_eq(lm_cfg_get_bool(c, "losses.resnet_pl.segmentation", &b), 0);
    ck_assert_int_eq(b, 0);
    lm_cfg_free(c);
    c = load_ok(TRAIN "ablv2_work_small_holes.yaml", NULL, 0);
    ck_assert_int_eq(get_int(c, "data.train.mask_gen_kwargs.irregular_kwargs.max_len"), 80);
    ck_assert_int_eq(get_int(c, "data.train.mask_gen_kwargs.box_kwargs.margin"), 0);
    lm_cfg_free(c);
    c = load_ok(TRAIN "demo.yaml", NULL, 0);
    ck_assert_int_eq(get_int(c, "generator.ngf"), 16);
    ck_assert_int_eq(get_int(c, "generator.n_blocks"), 2);
    ck_assert_int_eq(get_int(c, "data.batch_size"), 4);
    ck_assert_int_le(get_int(c, "data.train.out_size"), 128);
    lm_cfg_free(c);
}
END_TEST

START_TEST(test_overrides) {
    clear_env();
    const char *ov1[] = {"data.batch_size=4"};
    lm_cfg *c = load_ok(TRAIN "lama-fourier.yaml", ov1, 1);
    ck_assert_int_eq(get_int(c, "data.batch_size"), 4);
    /* interpolation runs after the override */
    ck_assert_int_eq(get_int(c, "data.train.dataloader_kwargs.batch_size"), 4);
    lm_cfg_free(c);

    const char *ov2[] = {"data=abl-02-thin-bb", "optimizers.generator.lr=2e-4", "+data.extra_val.thin.indir=/v",
                         "++run_title=r_${generator.n_blocks}", "~losses.perceptual", "generator.max_features=512"};
    c = load_ok(TRAIN "lama-fourier.yaml", ov2, 6);
    ck_assert_int_eq(get_int(c, "data.train.mask_gen_kwargs.irregular_kwargs.max_len"), 80);
    ck_assert_double_eq(get_float(c, "optimizers.generator.lr"), 2e-4);
    ck_assert_str_eq(get_str(c, "data.extra_val.thin.indir"), "/v");
    ck_assert_str_eq(get_str(c, "run_title"), "r_9");
    ck_assert(!lm_cfg_has(c, "losses.perceptual"));
    double w = 1;
    ck_assert_int_eq(lm_cfg_get_float(c, "losses.perceptual.weight", &w), 0); /* schema default */
    ck_assert_double_eq(w, 0);
    ck_assert_int_eq(get_int(c, "generator.max_features"), 512); /* schema key absent from file */
    lm_cfg_free(c);

    /* the experiment file's own keys override its defaults' keys; group options keep theirs */
    setenv("LAMAC_TEST_DATA", "/in", 1);
    c = load_ok(FIX "good.yaml", NULL, 0);
    ck_assert_int_eq(get_int(c, "generator.n_blocks"), 3);
    ck_assert_int_eq(get_int(c, "generator.ngf"), 8);
    ck_assert_double_eq(get_float(c, "generator.resnet_conv_kwargs.ratio_gout"), 0.75);
    lm_cfg_free(c);
    unsetenv("LAMAC_TEST_DATA");
}
END_TEST

START_TEST(test_env_interpolation) {
    clear_env();
    /* without default: lazy (test_lazy_env); reading a key that needs it is an error naming
     * the variable, file, line and key */
    lm_cfg *c0 = load_ok(FIX "good.yaml", NULL, 0);
    const char *w1[] = {"LAMAC_TEST_DATA", "good.yaml:4", "location.data_root_dir", "'data.train.indir'", NULL};
    read_fails(c0, "data.train.indir", 's', w1);
    ck_assert_str_eq(get_str(c0, "run_title"), "untitled");
    lm_cfg_free(c0);
    setenv("LAMAC_TEST_DATA", "/some/where", 1);
    lm_cfg *c = load_ok(FIX "good.yaml", NULL, 0);
    ck_assert_str_eq(get_str(c, "data.train.indir"), "/some/where/train");
    ck_assert_str_eq(get_str(c, "run_title"), "untitled"); /* ${env:LAMAC_TEST_TITLE,untitled} */
    lm_cfg_free(c);
    setenv("LAMAC_TEST_TITLE", "exp1", 1);
    c = load_ok(FIX "good.yaml", NULL, 0);
    ck_assert_str_eq(get_str(c, "run_title"), "exp1");
    lm_cfg_free(c);

    /* the location group reads LAMAC_DATA; weights_path prefers TORCH_HOME */
    setenv("LAMAC_DATA", "/datasets/places", 1);
    setenv("TORCH_HOME", "/models/torch", 1);
    c = load_ok(TRAIN "big-lama.yaml", NULL, 0);
    ck_assert_str_eq(get_str(c, "data.val.indir"), "/datasets/places/val");
    ck_assert_str_eq(get_str(c, "losses.resnet_pl.weights_path"), "/models/torch");
    lm_cfg_free(c);
    /* environment values are YAML scalars: an int stays an int */
    setenv("LAMAC_TEST_DATA", "8", 1);
    const char *ov[] = {"data.batch_size=${env:LAMAC_TEST_DATA}"};
    c = load_ok(FIX "good.yaml", ov, 1);
    ck_assert_int_eq(get_int(c, "data.batch_size"), 8);
    lm_cfg_free(c);
    /* an empty default is the empty string; a default may interpolate; hydra.* is ignored */
    const char *ov2[] = {"run_title=${env:LAMAC_TEST_UNSET_VAR,}",
                         "+location.tb_dir=${env:LAMAC_TEST_UNSET_VAR,${location.data_root_dir}/tb}",
                         "hydra.run.dir=/x"};
    c = load_ok(FIX "good.yaml", ov2, 3);
    ck_assert_str_eq(get_str(c, "run_title"), "");
    ck_assert_str_eq(get_str(c, "location.tb_dir"), "8/tb");
    ck_assert(!lm_cfg_has(c, "hydra"));
    lm_cfg_free(c);
    clear_env();
}
END_TEST

START_TEST(test_getters) {
    clear_env();
    setenv("LAMAC_TEST_DATA", "/in", 1);
    lm_cfg *c = load_ok(FIX "good.yaml", NULL, 0);
    /* absent keys: the schema's default */
    ck_assert_double_eq(get_float(c, "optimizers.generator.lr"), 0.001);
    ck_assert_int_eq(get_int(c, "generator.max_features"), 1024);
    ck_assert_str_eq(get_str(c, "evaluator.integral_kind"), "ssim_fid100_f1");
    const char *s = "x";
    ck_assert_int_eq(lm_cfg_get_str(c, "losses.resnet_pl.weights_path", &s), 0); /* null default */
    ck_assert_ptr_null(s);
    ck_assert(lm_cfg_has(c, "generator.ngf"));
    ck_assert(!lm_cfg_has(c, "generator.max_features"));
    /* errors: not in the schema, read with the wrong type, required and absent */
    int64_t i;
    ck_assert_int_lt(lm_cfg_get_int(c, "generator.no_such_key", &i), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "generator.no_such_key"));
    ck_assert_int_lt(lm_cfg_get_int(c, "generator.kind", &i), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "generator.kind"));
    ck_assert_int_lt(lm_cfg_get_str(c, "data.val.indir", &s), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "missing key 'data.val.indir'"));
    /* every schema default parses as its type */
    for (size_t k = 0; k < lm_cfg_schema_len; k++) {
        const lm_cfg_key *e = &lm_cfg_schema[k];
        if (!e->def || strchr(e->path, '*') || lm_cfg_find(c, e->path)) continue;
        int b;
        double f;
        int rc = 0;
        if (e->type == LM_CFG_T_INT) rc = lm_cfg_get_int(c, e->path, &i);
        if (e->type == LM_CFG_T_FLOAT) rc = lm_cfg_get_float(c, e->path, &f);
        if (e->type == LM_CFG_T_BOOL && strcmp(e->def, "null")) rc = lm_cfg_get_bool(c, e->path, &b); /* null: a tri-state (LM_BIND_TRI) */
        if (e->type == LM_CFG_T_STR) rc = lm_cfg_get_str(c, e->path, &s);
        ck_assert_msg(rc == 0, "default of %s: %s", e->path, lm_err_msg());
    }
    lm_cfg_free(c);
    clear_env();
}
END_TEST

/* The field of row k in opts a and b: equal? (strings by content, pairs as two doubles) */
static int same_field(const lm_cfg_key *k, const void *a, const void *b) {
    const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;
    if (k->bind == LM_BIND_CHARS) return !strcmp(fa, fb);
    if (k->bind == LM_BIND_CSTR) {
        const char *sa = *(const char *const *)(const void *)fa, *sb = *(const char *const *)(const void *)fb;
        return sa == sb || (sa && sb && !strcmp(sa, sb));
    }
    size_t n = k->bind == LM_BIND_PAIR ? 2 * sizeof(double) : k->size;
    return !memcmp(fa, fb, n);
}

/* Fills the set of key with `key=value` over the empty config; the filled struct in out. */
static void fill_with(void *out, const lm_cfg_key *k, const char *value) {
    char ov[512];
    snprintf(ov, sizeof ov, "++%s=%s", k->path, value);
    const char *ovs[] = {ov};
    lm_cfg *c = load_ok(FIX "empty.yaml", ovs, 1);
    ck_assert_msg(lm_cfg_fill(out, k->opts, c) == 0, "%s: %s", ov, lm_err_msg());
    lm_cfg_free(c);
}

/* The mask generators' defaults live in masks/ (lm_mask_cfg_default), not in the schema:
 * does setting key (relative to data.train.mask_gen_kwargs, e.g. "box_kwargs.margin") to value
 * in the mapping leave the filled mask options equal to the defaults? */
#define MASK_KW "data.train.mask_gen_kwargs."
static int same_mask_default(const char *key, const char *value) {
    char yaml[512];
    const char *dot = strchr(key, '.');
    if (dot) snprintf(yaml, sizeof yaml, "%.*s:\n  %s: %s\n", (int)(dot - key), key, dot + 1, value);
    else snprintf(yaml, sizeof yaml, "%s: %s\n", key, value);
    lm_cfg_node *root = NULL;
    ck_assert_msg(lm_cfg_tree_parse(&root, yaml, strlen(yaml), "test") == 0, "%s", lm_err_msg());
    lm_mask_cfg def, got;
    lm_mask_cfg_default(&def);
    lm_mask_cfg_default(&got);
    ck_assert_msg(lm_mask_cfg_from_node(&got, NULL, root, "data.train.mask_gen_kwargs") == 0, "%s: %s", key, lm_err_msg());
    lm_cfg_node_free(root);
    return !memcmp(&def, &got, sizeof def);
}

/* Every default the official code has (official_defaults.txt, read from the official
 * sources by tests/ref/gen_official_defaults.py) is the schema's: the key's options set filled
 * from the defaults alone and filled with the key set to the official value agree in the
 * key's field. add_out_act included: the official True is tanh. */
START_TEST(test_defaults_are_official) {
    clear_env();
    FILE *f = fopen(FIX "official_defaults.txt", "r");
    ck_assert_msg(f, "official_defaults.txt: %s", strerror(errno));
    char line[1024];
    int n = 0, n_mask = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *key = strtok(line, "\t\n"), *value = strtok(NULL, "\t\n");
        ck_assert_msg(key && value, "official_defaults.txt: bad line");
        if (!strncmp(key, MASK_KW, strlen(MASK_KW))) {
            ck_assert_msg(same_mask_default(key + strlen(MASK_KW), value), "%s: lm_mask_cfg_default differs from the "
                          "official default %s", key, value);
            ck_assert_msg(lm_cfg_schema_find(key) && !lm_cfg_schema_find(key)->def, "%s: a second default in the schema",
                          key);
            n++, n_mask++;
            continue;
        }
        const lm_cfg_key *k = lm_cfg_schema_find(key);
        ck_assert_msg(k && k->opts != LM_OPTS_NONE, "%s: not a bound schema key", key);
        size_t sz = lm_opts_set_size(k->opts);
        void *def = calloc(1, sz), *off = calloc(1, sz);
        lm_cfg_defaults(def, k->opts);
        fill_with(off, k, value);
        ck_assert_msg(same_field(k, def, off), "%s: schema default '%s', official default %s", key,
                      k->def ? k->def : "(none)", value);
        free(def);
        free(off);
        n++;
    }
    fclose(f);
    ck_assert_int_ge(n, 81);
    ck_assert_int_ge(n_mask, 33);
    ck_assert(!same_mask_default("box_kwargs.min_times", "1")); /* the check tells a wrong default apart */
    ck_assert(!same_mask_default("irregular_proba", "1"));
    /* the comparison sees a wrong default: ngf 65 and add_out_act sigmoid differ from them */
    const char *wrong[][2] = {{"generator.ngf", "65"}, {"generator.add_out_act", "sigmoid"},
                              {"optimizers.generator.betas", "[0.9, 0.99]"}, {"discriminator.n_layers", "4"}};
    for (int i = 0; i < 4; i++) {
        const lm_cfg_key *k = lm_cfg_schema_find(wrong[i][0]);
        size_t sz = lm_opts_set_size(k->opts);
        void *def = calloc(1, sz), *off = calloc(1, sz);
        lm_cfg_defaults(def, k->opts);
        fill_with(off, k, wrong[i][1]);
        ck_assert_msg(!same_field(k, def, off), "%s=%s not told apart from the default", wrong[i][0], wrong[i][1]);
        free(def);
        free(off);
    }
}
END_TEST

/* Every bound row: its binding fits its type and its field lies inside its set's struct; and
 * the defaults of every set convert (lm_cfg_defaults aborts otherwise). */
START_TEST(test_schema_bindings) {
    int bound = 0;
    for (size_t i = 0; i < lm_cfg_schema_len; i++) {
        const lm_cfg_key *k = &lm_cfg_schema[i];
        if (k->opts == LM_OPTS_NONE) {
            ck_assert_msg(k->bind == LM_BIND_NONE, "%s: a binding without a set", k->path);
            continue;
        }
        bound++;
        ck_assert_msg(k->off + k->size <= lm_opts_set_size(k->opts), "%s: field outside %s", k->path,
                      lm_opts_set_name(k->opts));
        int ok = 0;
        switch (k->bind) {
        case LM_BIND_INT: ok = k->type == LM_CFG_T_INT && k->size == sizeof(int); break;
        case LM_BIND_I64:
        case LM_BIND_U64: ok = k->type == LM_CFG_T_INT && k->size == 8; break;
        case LM_BIND_DOUBLE:
        case LM_BIND_KEEP: ok = k->type == LM_CFG_T_FLOAT && k->size == sizeof(double); break;
        case LM_BIND_BOOL:
        case LM_BIND_OR:
        case LM_BIND_TRI: ok = k->type == LM_CFG_T_BOOL && k->size == sizeof(int); break;
        case LM_BIND_CHARS: ok = k->type == LM_CFG_T_STR && k->size > 1; break;
        case LM_BIND_CSTR: ok = k->type == LM_CFG_T_STR && k->size == sizeof(char *); break;
        case LM_BIND_CHOICE:
        case LM_BIND_IS_FIRST: ok = k->type == LM_CFG_T_STR && k->choices && k->size == sizeof(int); break;
        case LM_BIND_PRESENT: ok = k->size == sizeof(int); break;
        case LM_BIND_PAIR: ok = k->type == LM_CFG_T_LIST && k->size == sizeof(double); break;
        case LM_BIND_OUT_ACT: ok = k->type == LM_CFG_T_STR && k->size == sizeof(lm_out_act); break;
        case LM_BIND_PRECISION: ok = k->type == LM_CFG_T_STR && k->size == sizeof(lt_dtype); break;
        case LM_BIND_AUG: ok = k->type == LM_CFG_T_STR && k->size == sizeof(lm_aug_variant); break;
        default: ok = 0;
        }
        ck_assert_msg(ok, "%s: binding %d does not fit type %s / size %zu", k->path, (int)k->bind,
                      lm_cfg_type_name(k->type), k->size);
    }
    ck_assert_int_ge(bound, 90);
    for (int s = LM_OPTS_NONE + 1; s < LM_OPTS_COUNT; s++) {
        void *o = calloc(1, lm_opts_set_size(s));
        lm_cfg_defaults(o, s);
        free(o);
    }
    lm_generator_opts g;
    lm_cfg_defaults(&g, LM_OPTS_GENERATOR);
    ck_assert_int_eq(g.add_out_act, LM_ACT_TANH); /* the official default True */
    const lm_cfg_key *act = lm_cfg_schema_find("generator.add_out_act");
    fill_with(&g, act, "false"); /* the official generators take booleans too */
    ck_assert_int_eq(g.add_out_act, LM_ACT_NONE);
    fill_with(&g, act, "true");
    ck_assert_int_eq(g.add_out_act, LM_ACT_TANH);
    lm_step_opts so;
    lm_cfg_defaults(&so, LM_OPTS_STEP);
    ck_assert(so.opt_g.kind == LM_OPTIM_ADAMW && so.opt_g.weight_decay == 0.01); /* make_optimizer's adamw */
    ck_assert(so.opt_g.beta1 == 0.9 && so.opt_g.beta2 == 0.999);
}
END_TEST

START_TEST(test_bad_files) {
    clear_env();
    struct {
        const char *file;
        const char *want[4];
    } cases[] = {
        {"malformed.yaml", {"malformed.yaml:4", "YAML syntax error", "generator.ngf", NULL}},
        {"unknown_key.yaml", {"unknown_key.yaml:5", "unknown key 'generator.init_conv_kwargs.ratio_gni'", NULL}},
        {"wrong_type.yaml", {"wrong_type.yaml:4", "'data.train.out_size'", "expected an integer", NULL}},
        {"out_of_range.yaml", {"out_of_range.yaml:4", "'generator.resnet_conv_kwargs.ratio_gin'", "out of range", NULL}},
        {"bad_choice.yaml", {"bad_choice.yaml:2", "'generator.kind'", "ffc_unet", NULL}},
        {"missing_include.yaml", {"missing_include.yaml:4", "'defaults.data'", "data/no_such_data.yaml", NULL}},
        {"unresolvable.yaml", {"unresolvable.yaml:5", "'data.train.indir'", "location.data_dir", NULL}},
        {"cycle.yaml", {"cycle.yaml:", "cycle", "data.batch_size -> data.val_batch_size -> data.num_workers", NULL}},
        {"bad_resolver.yaml", {"bad_resolver.yaml:1", "'run_title'", "unsupported resolver 'hydra'", NULL}},
        {"duplicate_key.yaml", {"duplicate_key.yaml:3", "duplicate key 'data.batch_size'", NULL}},
        {"not_a_map.yaml", {"not_a_map.yaml:1", "mapping", NULL}},
        {"alias.yaml", {"alias.yaml:5", "'optimizers.discriminator'", "aliases", NULL}},
        {"no_such_file.yaml", {"no_such_file.yaml", "cannot open", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, FIX "%s", cases[i].file);
        load_fails(path, NULL, 0, cases[i].want);
    }
}
END_TEST

/* ${env:NAME} without a default and NAME unset is lazy (as OmegaConf): the file loads, other
 * keys read, and reading the key (or one that refers to it) fails naming key and variable. */
START_TEST(test_lazy_env) {
    clear_env();
    unsetenv("LAMAC_TEST_SURELY_UNSET_VAR");
    lm_cfg *c = load_ok(FIX "lazy_env.yaml", NULL, 0);
    ck_assert_str_eq(get_str(c, "location.data_root_dir"), "/data");
    ck_assert_int_eq(get_int(c, "generator.ngf"), 8);
    ck_assert(get_float(c, "losses.resnet_pl.weight") == 0);
    ck_assert_int_eq(lm_cfg_check(c, "generator"), 0);
    const char *direct[] = {"lazy_env.yaml:5", "key 'losses.resnet_pl.weights_path'",
                            "${env:LAMAC_TEST_SURELY_UNSET_VAR}",
                            "environment variable LAMAC_TEST_SURELY_UNSET_VAR is not set", NULL};
    read_fails(c, "losses.resnet_pl.weights_path", 's', direct);
    const char *ref[] = {"lazy_env.yaml:8", "key 'location.pretrained_models'", "${losses.resnet_pl.weights_path}",
                         "key 'losses.resnet_pl.weights_path'", "LAMAC_TEST_SURELY_UNSET_VAR is not set", NULL};
    read_fails(c, "location.pretrained_models", 's', ref);
    const char *ref2[] = {"key 'location.tb_dir'", "key 'location.pretrained_models'",
                          "key 'losses.resnet_pl.weights_path'", "LAMAC_TEST_SURELY_UNSET_VAR is not set", NULL};
    read_fails(c, "location.tb_dir", 's', ref2);
    /* an int key is not type-checked at load: reading it names the variable */
    const char *bs[] = {"key 'data.batch_size'", "LAMAC_TEST_SURELY_UNSET_VAR is not set", NULL};
    read_fails(c, "data.batch_size", 'i', bs);
    /* the loss options read weights_path only when the loss is on (weight 30), as the
     * official ResNetPL(**losses.resnet_pl): training then fails naming key and variable */
    lm_loss_opts lo;
    ck_assert_msg(lm_cfg_fill(&lo, LM_OPTS_LOSSES, c) == 0, "%s", lm_err_msg());
    ck_assert_str_eq(lo.resnet_pl.weights_path, "");
    lm_cfg_free(c);
    const char *on[] = {"losses.resnet_pl.weight=30"};
    c = load_ok(FIX "lazy_env.yaml", on, 1);
    ck_assert_int_lt(lm_cfg_fill(&lo, LM_OPTS_LOSSES, c), 0);
    ck_assert_msg(strstr(lm_err_msg(), "key 'losses.resnet_pl.weights_path'") &&
                      strstr(lm_err_msg(), "LAMAC_TEST_SURELY_UNSET_VAR is not set"), "%s", lm_err_msg());
    ck_assert_int_lt(lm_cfg_check(c, "location"), 0);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "LAMAC_TEST_SURELY_UNSET_VAR"));
    /* the whole tree as YAML (config show) fails; the metadata copy keeps the expression */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_lt(lm_cfg_write_yaml(c, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(lm_err_msg(), "LAMAC_TEST_SURELY_UNSET_VAR is not set"));
    ck_assert_uint_eq(len, 0);
    free(buf);
    char *y = lm_cfg_to_yaml(c);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_nonnull(strstr(y, "weights_path: ${env:LAMAC_TEST_SURELY_UNSET_VAR}"));
    free(y);
    lm_cfg_free(c);
    /* the same key in unset_env.yaml: loads, reading it fails with file, line and key */
    c = load_ok(FIX "unset_env.yaml", NULL, 0);
    const char *ue[] = {"unset_env.yaml:2", "'location.data_root_dir'", "LAMAC_TEST_SURELY_UNSET_VAR", NULL};
    read_fails(c, "location.data_root_dir", 's', ue);
    lm_cfg_free(c);
    /* set: every value resolves */
    setenv("LAMAC_TEST_SURELY_UNSET_VAR", "16", 1);
    c = load_ok(FIX "lazy_env.yaml", NULL, 0);
    ck_assert_str_eq(get_str(c, "losses.resnet_pl.weights_path"), "16");
    ck_assert_str_eq(get_str(c, "location.tb_dir"), "16/tb");
    ck_assert_int_eq(get_int(c, "data.batch_size"), 16);
    ck_assert_int_eq(lm_cfg_check(c, ""), 0);
    lm_cfg_free(c);
    unsetenv("LAMAC_TEST_SURELY_UNSET_VAR");
    /* an unset variable that stands for a whole group: the keys under it are lazy too */
    const char *ov[] = {"++location=${env:LAMAC_TEST_SURELY_UNSET_VAR}"};
    c = load_ok(FIX "good.yaml", ov, 1);
    const char *grp[] = {"key 'location.tb_dir'", "key 'location'", "LAMAC_TEST_SURELY_UNSET_VAR is not set", NULL};
    read_fails(c, "location.tb_dir", 's', grp);
    ck_assert(lm_cfg_has(c, "location.tb_dir")); /* present for has(): the read reports it */
    lm_cfg_free(c);
    /* other interpolation errors still fail the load */
    const char *cyc[] = {"cycle", NULL};
    load_fails(FIX "cycle.yaml", NULL, 0, cyc);
}
END_TEST

START_TEST(test_bad_overrides) {
    clear_env();
    struct {
        const char *ov;
        const char *want[3];
    } cases[] = {
        {"data.batch_sise=4", {"override 'data.batch_sise=4'", "unknown key 'data.batch_sise'", NULL}},
        {"data.batch_size=abc", {"override 'data.batch_size=abc'", "'data.batch_size'", "expected an integer"}},
        {"data.batch_size=0", {"override 'data.batch_size=0'", "'data.batch_size'", "out of range"}},
        {"data.batch_size=[1", {"override 'data.batch_size=[1'", "'data.batch_size'", "cannot parse"}},
        {"+data.batch_size=3", {"'data.batch_size'", "already exists", NULL}},
        {"+generator.foo=1", {"override '+generator.foo=1'", "unknown key 'generator.foo'", NULL}},
        {"~data.nope", {"override '~data.nope'", "'data.nope'", NULL}},
        {"data..x=1", {"override 'data..x=1'", "bad key path", NULL}},
        {"data.batch_size", {"override 'data.batch_size'", "key=value", NULL}},
        {"data=no_such_option", {"'defaults.data'", "data/no_such_option.yaml", "override 'data=no_such_option'"}},
        {"generator.n_blocks=${nope.x}", {"'generator.n_blocks'", "nope", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *ov[] = {cases[i].ov};
        const char *want[4] = {cases[i].want[0], cases[i].want[1], cases[i].want[2], NULL};
        load_fails(TRAIN "lama-fourier.yaml", ov, 1, want);
    }
}
END_TEST

START_TEST(test_yaml_writer) {
    const char *src = "a: 0.001\nb: 1e-4\nc: 1.0\nd: 3\ne: 'x: y'\nf: ''\ng: 'true'\nh: True\n"
                      "i: null\nj: [1, two]\nk: {}\nl:\n  - m: 1\n    n: 2\n";
    lm_cfg_node *t = NULL;
    ck_assert_int_eq(lm_cfg_tree_parse(&t, src, strlen(src), "mem"), 0);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ck_assert_int_eq(lm_cfg_tree_write(t, f), 0);
    fclose(f);
    const char *expect = "a: 0.001\nb: 0.0001\nc: 1.0\nd: 3\ne: 'x: y'\nf: ''\ng: 'true'\nh: true\n"
                         "i: null\nj:\n- 1\n- two\nk: {}\nl:\n- m: 1\n  n: 2\n";
    ck_assert_str_eq(out, expect);
    /* what we write reads back to the same types */
    lm_cfg_node *back = NULL;
    ck_assert_int_eq(lm_cfg_tree_parse(&back, out, len, "mem2"), 0);
    const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(lm_cfg_scalar_type(lm_cfg_node_get(back, keys[i])),
                         lm_cfg_scalar_type(lm_cfg_node_get(t, keys[i])));
    ck_assert_int_eq(lm_cfg_node_find(t, "l.0.n")->line, 14);
    free(out);
    lm_cfg_node_free(t);
    lm_cfg_node_free(back);
}
END_TEST

/* Runs a shell command; returns its exit status and its output (stdout+stderr if asked). */
static int run_cmd(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_cli) {
    const char *bin = lm_test_lamac_bin();
    clear_env();
    static char out[1 << 16];
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' config show " TRAIN "big-lama.yaml", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\n  n_blocks: 18\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n    lr: 0.001\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n    lr: 0.0001\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n    ratio_gin: 0\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n    indir: ./data/train\n"));
    ck_assert_ptr_null(strstr(out, "${"));
    ck_assert_ptr_null(strstr(out, "hydra"));

    snprintf(cmd, sizeof cmd, "'%s' config show " TRAIN "lama-fourier.yaml data.batch_size=4", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "data:\n  batch_size: 4\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n      batch_size: 4\n")); /* train dataloader */

    /* what show prints loads again and prints the same */
    char tmp[] = "/tmp/lamac-check-config-XXXXXX";
    int fd = mkstemp(tmp);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(out, f);
    fclose(f);
    static char again[1 << 16];
    snprintf(cmd, sizeof cmd, "'%s' config show %s", bin, tmp);
    int rc = run_cmd(cmd, again, sizeof again);
    remove(tmp);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(again, out);

    snprintf(cmd, sizeof cmd, "'%s' config show " FIX "unknown_key.yaml 2>&1", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_str_eq(out, "lamac config: " FIX "unknown_key.yaml:5: unknown key 'generator.init_conv_kwargs.ratio_gni'\n");

    snprintf(cmd, sizeof cmd, "'%s' config show " TRAIN "lama-fourier.yaml data.batch_sise=4 2>&1", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "lamac config: override 'data.batch_sise=4': unknown key"));
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1); /* one line */

    /* an unset ${env:NAME} without default: show reports it (key and variable), prints nothing */
    unsetenv("LAMAC_TEST_SURELY_UNSET_VAR");
    snprintf(cmd, sizeof cmd, "'%s' config show " FIX "lazy_env.yaml 2>&1", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "lamac config: " FIX "lazy_env.yaml:5: key 'losses.resnet_pl.weights_path': "
                              "${env:LAMAC_TEST_SURELY_UNSET_VAR}: environment variable LAMAC_TEST_SURELY_UNSET_VAR "
                              "is not set") == out, "%s", out);
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1); /* one line, no YAML */

    snprintf(cmd, sizeof cmd, "'%s' config show " FIX "malformed.yaml 2>&1", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "malformed.yaml:4"));

    snprintf(cmd, sizeof cmd, "'%s' config --help", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "lamac config show CONFIG"));
    snprintf(cmd, sizeof cmd, "'%s' config show --help", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "'%s' config show 2>&1", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    snprintf(cmd, sizeof cmd, "'%s' config keys", bin);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "generator.n_blocks"));
}
END_TEST

/* A config read as data (lm_cfg_load_data: weights metadata) is never interpolated: the
 * ${...} text stays literal, and an environment value never shows up. */
START_TEST(test_data_config_not_interpolated) {
    clear_env();
    setenv("LAMAC_TEST_TITLE", "value-from-env-5d1", 1);
    const char *text = "run_title: ${env:LAMAC_TEST_TITLE}\ngenerator:\n  ngf: 8\n";
    lm_cfg *c = NULL;
    ck_assert_msg(lm_cfg_load_data(&c, text, strlen(text), "metadata of w.safetensors") == 0, "%s", lm_err_msg());
    ck_assert_str_eq(get_str(c, "run_title"), "${env:LAMAC_TEST_TITLE}");
    ck_assert_int_eq(get_int(c, "generator.ngf"), 8);
    lm_cfg_free(c);
    const char *bad[] = {"generator:\n  kind: ${env:LAMAC_TEST_TITLE}\n", "generator:\n  ngf: ${env:LAMAC_TEST_TITLE}\n",
                         "generator:\n  ngf: ${run_title}\nrun_title: 8\n", "defaults:\n  - generator: x\n"};
    for (int i = 0; i < 4; i++) {
        c = (lm_cfg *)1;
        ck_assert_int_lt(lm_cfg_load_data(&c, bad[i], strlen(bad[i]), "metadata of w.safetensors"), 0);
        ck_assert_ptr_null(c);
        const char *m = lm_err_msg();
        ck_assert_msg(!strstr(m, "value-from-env"), "case %d: %s", i, m);
        ck_assert_msg(strstr(m, "metadata of w.safetensors"), "case %d: %s", i, m);
    }
    unsetenv("LAMAC_TEST_TITLE");
}
END_TEST

Suite *check_config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_every_experiment_loads);
    tcase_add_test(tc, test_big_lama);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_env_interpolation);
    tcase_add_test(tc, test_lazy_env);
    tcase_add_test(tc, test_getters);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_bad_overrides);
    tcase_add_test(tc, test_yaml_writer);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_data_config_not_interpolated);
    tcase_add_test(tc, test_defaults_are_official);
    tcase_add_test(tc, test_schema_bindings);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}
