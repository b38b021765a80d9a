/* check_layout.c — the include rules of DESIGN.md §1, read from the sources.
 *
 * Every .c/.h/.cpp file in the project's folders is scanned for `#include "dir/..."` lines;
 * an include of a folder that the table does not allow for the file's own folder is a
 * violation, and so is a source file in a folder the table does not know. Library headers
 * have owners too: libyaml only in config/, HDF5 only in data/, ATen/torch/c10 only in shim/.
 * The checker runs on the real tree (no violation allowed) and on small trees written by the
 * test with a deliberately wrong include (it must report it): so the check can fail. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/testutil.h"

/* folder -> the folders of ours it may include (itself always allowed). "*" = any. */
typedef struct { const char *dir, *may; } layout_rule;
static const layout_rule k_rules[] = {
    {"cli", "*"},
    {"tests", "*"},
    {"bench", "*"},
    {"run", "config train eval losses model data masks io core shim"},
    {"config", "shim core io masks data model losses eval train"},
    {"train", "eval losses model data masks io core shim"},
    {"eval", "model data masks io core shim"},
    {"losses", "model core shim"},
    {"model", "io core shim"},
    {"data", "masks core"},
    {"masks", "core"},
    {"io", "core"},
    {"core", ""},
    {"shim", ""},
};
#define N_RULES (int)(sizeof k_rules / sizeof k_rules[0])

/* library header prefix -> the only folder (besides tests/bench) that may include it */
typedef struct { const char *header, *owner; } lib_rule;
static const lib_rule k_libs[] = {
    {"yaml.h", "config"}, {"hdf5.h", "data"}, {"H5", "data"},
    {"torch/", "shim"},   {"ATen/", "shim"},  {"c10/", "shim"},
};

static const layout_rule *rule_for(const char *dir) {
    for (int i = 0; i < N_RULES; i++)
        if (!strcmp(k_rules[i].dir, dir)) return &k_rules[i];
    return NULL;
}

/* Is `word` one of the space-separated words of list? */
static int in_list(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ' ') e++;
        if ((size_t)(e - p) == n && !strncmp(p, word, n)) return 1;
        p = e;
    }
    return 0;
}

typedef struct {
    char report[8192];
    size_t used;
    int violations, files;
} layout_result;

static void report(layout_result *r, const char *fmt, const char *a, int line, const char *b) {
    r->violations++;
    int n = snprintf(r->report + r->used, sizeof r->report - r->used, fmt, a, line, b);
    if (n > 0 && r->used + (size_t)n < sizeof r->report) r->used += (size_t)n;
}

static int is_source(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcmp(dot, ".c") || !strcmp(dot, ".h") || !strcmp(dot, ".cpp"));
}

/* Checks one file (rel = "dir/file.c") against the rule of its folder. */
static void check_file(layout_result *r, const char *root, const char *dir, const char *name) {
    char path[4096], rel[512];
    snprintf(rel, sizeof rel, "%s/%s", dir, name);
    snprintf(path, sizeof path, "%s/%s", root, rel);
    const layout_rule *rule = rule_for(dir);
    if (!rule) {
        report(r, "%s:%d: folder '%s' is not in DESIGN.md §1's table\n", rel, 0, dir);
        return;
    }
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    r->files++;
    char line[1024];
    int ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '#') continue;
        p++;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, "include", 7)) continue;
        p += 7;
        while (*p == ' ' || *p == '\t') p++;
        char open = *p, close = open == '"' ? '"' : '>';
        if (open != '"' && open != '<') continue;
        const char *s = p + 1, *e = strchr(s, close);
        if (!e) continue;
        char inc[256];
        size_t n = (size_t)(e - s) < sizeof inc - 1 ? (size_t)(e - s) : sizeof inc - 1;
        memcpy(inc, s, n);
        inc[n] = 0;
        int consumer = !strcmp(rule->may, "*");
        if (open == '<') {
            for (size_t i = 0; i < sizeof k_libs / sizeof k_libs[0]; i++)
                if (!strncmp(inc, k_libs[i].header, strlen(k_libs[i].header)) && !consumer &&
                    strcmp(dir, k_libs[i].owner))
                    report(r, "%s:%d: includes <%s>, which belongs to another folder\n", rel, ln, inc);
            continue;
        }
        const char *slash = strchr(inc, '/');
        if (!slash) continue; /* generated tables ("commands.inc") and same-folder files */
        char idir[64];
        size_t dn = (size_t)(slash - inc) < sizeof idir - 1 ? (size_t)(slash - inc) : sizeof idir - 1;
        memcpy(idir, inc, dn);
        idir[dn] = 0;
        if (!strcmp(idir, dir) || consumer) continue;
        if (!strcmp(idir, "tests") || !strcmp(idir, "cli") || !strcmp(idir, "bench") ||
            !in_list(rule->may, idir))
            report(r, "%s:%d: includes \"%s\": not allowed by DESIGN.md §1\n", rel, ln, inc);
    }
    fclose(f);
}

/* Scans every top-level folder of root that holds sources (tests/ is scanned too; only its
 * own top level: fixtures/ and ref/ hold no C). Hidden folders and build trees are skipped. */
static void check_tree(layout_result *r, const char *root) {
    memset(r, 0, sizeof *r);
    DIR *d = opendir(root);
    ck_assert_msg(d != NULL, "cannot open %s", root);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strncmp(de->d_name, "build", 5)) continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
        struct stat st;
        if (stat(sub, &st) || !S_ISDIR(st.st_mode)) continue;
        DIR *s = opendir(sub);
        if (!s) continue;
        struct dirent *fe;
        while ((fe = readdir(s)))
            if (is_source(fe->d_name)) check_file(r, root, de->d_name, fe->d_name);
        closedir(s);
    }
    closedir(d);
}

START_TEST(test_tree_follows_the_table) {
    layout_result r;
    check_tree(&r, LM_SOURCE_DIR);
    printf("layout: %d source files checked, %d violations\n%s", r.files, r.violations, r.report);
    ck_assert_int_gt(r.files, 50);
    ck_assert_msg(r.violations == 0, "%d include violations:\n%s", r.violations, r.report);
}
END_TEST

static void write_file(const char *root, const char *rel, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    mkdir(path, 0777);
    *slash = '/';
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* A tree with one wrong include of each kind is reported, line by line. */
START_TEST(test_wrong_includes_are_reported) {
    char tmp[256];
    lm_test_tmpdir(tmp, sizeof tmp, "layout");
    write_file(tmp, "data/ok.c", "#include \"core/err.h\"\n#include \"masks/mask.h\"\n#include <stdio.h>\n");
    write_file(tmp, "data/bad.c", "#include \"core/err.h\"\n  #  include \"shim/lt.h\"\n");
    write_file(tmp, "model/bad.h", "#include \"config/config.h\"\n");
    write_file(tmp, "core/bad.c", "#include <yaml.h>\n");
    write_file(tmp, "io/bad.c", "#include \"cli/command.h\"\n");
    write_file(tmp, "cli/ok.c", "#include \"config/config.h\"\n#include \"shim/lt.h\"\n#include <yaml.h>\n");
    write_file(tmp, "stray/x.c", "int x;\n");
    layout_result r;
    check_tree(&r, tmp);
    printf("layout (planted errors):\n%s", r.report);
    ck_assert_int_eq(r.violations, 5);
    ck_assert_ptr_nonnull(strstr(r.report, "data/bad.c:2: includes \"shim/lt.h\""));
    ck_assert_ptr_nonnull(strstr(r.report, "model/bad.h:1: includes \"config/config.h\""));
    ck_assert_ptr_nonnull(strstr(r.report, "core/bad.c:1: includes <yaml.h>"));
    ck_assert_ptr_nonnull(strstr(r.report, "io/bad.c:1: includes \"cli/command.h\""));
    ck_assert_ptr_nonnull(strstr(r.report, "stray/x.c:0: folder 'stray'"));
    ck_assert_ptr_null(strstr(r.report, "ok.c"));
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_layout_suite(void) {
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("includes");
    tcase_add_test(tc, test_tree_follows_the_table);
    tcase_add_test(tc, test_wrong_includes_are_reported);
    suite_add_tcase(s, tc);
    return s;
}
