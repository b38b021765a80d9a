/* check_layout.c — the include rules of docs/architecture.md, read from the sources.
 *
 * Every .c/.h/.cpp file in the project's folders is scanned for `#include "dir/..."` lines;
 * an include of a folder that the table does not allow for the file's own folder is a
 * violation, and so is a source file in a folder the table does not know. Library headers
 * have owners too: libyaml only in config/, HDF5 only in data/, ATen/torch/c10 only in shim/.
 * The tables here (k_rules, k_libs) are the source of truth; docs/architecture.md states
 * them for readers, and the check keeps it true: it parses that page's `| folder | may
 * include |` and `| library header | only in |` tables and reports any row that differs,
 * is missing or is extra, and any top-level source folder that the page's `| folder |
 * holds |` table or its include table does not list. The page's `| folder | files |` table
 * names the files of each source folder (`name.*`, or a glob whose last part keeps a literal
 * stem: `check_*.c`, `fuzz/fuzz_*.c`): every .c/.h/.cpp under the folder, subfolders
 * included, must match a name of its row, and every name must match a file.
 * The checker runs on the real tree and page (no violation allowed) and on small trees and
 * page texts written by the test with a deliberate error (it must report it): so the check
 * can fail. */
#include <check.h>
#include <dirent.h>
#include <fnmatch.h>
#include <stdarg.h>
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
#define N_LIBS (int)(sizeof k_libs / sizeof k_libs[0])

#define DOC "docs/architecture.md"

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

static void report(layout_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(layout_result *r, const char *fmt, ...) {
    r->violations++;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->report + r->used, sizeof r->report - r->used, fmt, ap);
    va_end(ap);
    if (n > 0 && r->used + (size_t)n < sizeof r->report) r->used += (size_t)n;
}

static int is_source(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcmp(dot, ".c") || !strcmp(dot, ".h") || !strcmp(dot, ".cpp"));
}

/* Checks one file (rel = "dir/file.c") against the rule of its folder. */
static void check_file(layout_result *r, const char *root, const char *dir, const char *name) {
    char path[4096], rel[512];
    ck_assert_msg(snprintf(rel, sizeof rel, "%s/%s", dir, name) < (int)sizeof rel &&
                      snprintf(path, sizeof path, "%s/%s", root, rel) < (int)sizeof path,
                  "path too long: %s/%s/%s", root, dir, name);
    const layout_rule *rule = rule_for(dir);
    if (!rule) {
        report(r, "%s:%d: folder '%s' is not in " DOC "'s table\n", rel, 0, dir);
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
            report(r, "%s:%d: includes \"%s\": not allowed by " DOC "\n", rel, ln, inc);
    }
    fclose(f);
}

/* The top-level folders of root that hold sources, into names (at most cap; the test fails
 * beyond). Hidden folders and build trees are skipped; tests/ counts with its own top level
 * only (fixtures/ and ref/ hold no C). Returns how many. */
static int source_dirs(const char *root, char names[][64], int cap) {
    DIR *d = opendir(root);
    ck_assert_msg(d != NULL, "cannot open %s", root);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strncmp(de->d_name, "build", 5)) continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
        struct stat st;
        if (stat(sub, &st) || !S_ISDIR(st.st_mode)) continue;
        DIR *s = opendir(sub);
        if (!s) continue;
        int sources = 0;
        struct dirent *fe;
        while (!sources && (fe = readdir(s))) sources = is_source(fe->d_name);
        closedir(s);
        if (!sources) continue;
        ck_assert_msg(n < cap && strlen(de->d_name) < 64, "too many or too long folder names in %s",
                      root);
        strcpy(names[n++], de->d_name);
    }
    closedir(d);
    return n;
}

/* Checks every source file of every top-level source folder of root. */
static void check_tree(layout_result *r, const char *root) {
    memset(r, 0, sizeof *r);
    char dirs[64][64];
    int n = source_dirs(root, dirs, 64);
    for (int i = 0; i < n; i++) {
        char sub[4096];
        int len = snprintf(sub, sizeof sub, "%s/%s", root, dirs[i]);
        ck_assert_msg(len < (int)sizeof sub, "path too long: %s", root);
        DIR *s = opendir(sub);
        if (!s) continue;
        struct dirent *fe;
        while ((fe = readdir(s)))
            if (is_source(fe->d_name)) check_file(r, root, dirs[i], fe->d_name);
        closedir(s);
    }
}

/* ---- docs/architecture.md: its tables must say what k_rules and k_libs say ---------------- */

/* One row of a two-column markdown table: the backquoted words of each cell, a trailing '/'
 * dropped ("`model/`" -> "model"), space-separated. */
typedef struct {
    char key[64], words[1536];
} doc_row;
typedef struct {
    doc_row rows[48];
    int n, found;
} doc_table;

/* The backquoted words of the cell [s, e) into out, space-separated. */
static void cell_words(char *out, size_t cap, const char *s, const char *e) {
    size_t used = 0;
    out[0] = 0;
    for (;;) {
        const char *a = memchr(s, '`', (size_t)(e - s));
        if (!a) return;
        const char *b = memchr(a + 1, '`', (size_t)(e - a - 1));
        if (!b) return;
        size_t n = (size_t)(b - a - 1);
        if (n > 1 && a[n] == '/') n--;
        ck_assert_msg(used + n + 2 <= cap, DOC ": a table cell is too long: %.*s", (int)(e - s), s);
        if (used) out[used++] = ' ';
        memcpy(out + used, a + 1, n);
        out[used += n] = 0;
        s = b + 1;
    }
}

/* Reads the table whose header line is `header` ("| folder | may include |"): the rows after
 * it, up to the first line that does not start with '|'; the |---| line is skipped. */
static void doc_table_read(doc_table *t, const char *text, const char *header) {
    memset(t, 0, sizeof *t);
    const char *p = text;
    while ((p = strstr(p, header)) && p != text && p[-1] != '\n') p++;
    if (!p) return;
    t->found = 1;
    for (p = strchr(p, '\n'); p && p[1] == '|'; p = strchr(p + 1, '\n')) {
        const char *line = p + 1, *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        if (strspn(line, "|-: ") >= (size_t)(end - line)) continue; /* |---|---| */
        const char *c1 = memchr(line + 1, '|', (size_t)(end - line - 1));
        const char *c2 = c1 ? memchr(c1 + 1, '|', (size_t)(end - c1 - 1)) : NULL;
        if (!c2) continue;
        ck_assert_msg(t->n < 48, DOC ": table '%s' has too many rows", header);
        doc_row *row = &t->rows[t->n++];
        cell_words(row->key, sizeof row->key, line + 1, c1);
        cell_words(row->words, sizeof row->words, c1 + 1, c2);
    }
}

static const doc_row *doc_find(const doc_table *t, const char *key) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].key, key)) return &t->rows[i];
    return NULL;
}

/* Is every space-separated word of a one of b's? */
static int words_within(const char *a, const char *b) {
    for (const char *p = a; *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        char w[64];
        if (!n) break;
        if (n >= sizeof w) return 0;
        memcpy(w, p, n);
        w[n] = 0;
        if (!in_list(b, w)) return 0;
        p += n;
    }
    return 1;
}

static int same_words(const char *a, const char *b) { return words_within(a, b) && words_within(b, a); }

/* The page's include table against k_rules, row by row. */
static void check_doc_rules(layout_result *r, const doc_table *t) {
    if (!t->found) {
        report(r, DOC ": no include table ('| folder | may include |')\n");
        return;
    }
    for (int i = 0; i < N_RULES; i++) {
        const doc_row *row = doc_find(t, k_rules[i].dir);
        if (!row)
            report(r, DOC ": folder '%s' has no row in the include table\n", k_rules[i].dir);
        else if (!same_words(row->words, k_rules[i].may))
            report(r, DOC ": folder '%s' may include '%s' on the page but '%s' in check_layout.c\n",
                   k_rules[i].dir, row->words, k_rules[i].may);
    }
    for (int i = 0; i < t->n; i++)
        if (!rule_for(t->rows[i].key))
            report(r, DOC ": the include table has a row '%s' that check_layout.c does not know\n",
                   t->rows[i].key);
}

/* The page's library-header table against k_libs (a prefix's trailing '/' is not compared). */
static void check_doc_libs(layout_result *r, const doc_table *t) {
    if (!t->found) {
        report(r, DOC ": no library table ('| library header | only in |')\n");
        return;
    }
    for (int i = 0; i < N_LIBS; i++) {
        char key[64];
        size_t n = strlen(k_libs[i].header);
        if (k_libs[i].header[n - 1] == '/') n--;
        snprintf(key, sizeof key, "%.*s", (int)n, k_libs[i].header);
        const doc_row *row = doc_find(t, key);
        if (!row)
            report(r, DOC ": header '%s' has no row in the library table\n", k_libs[i].header);
        else if (strcmp(row->words, k_libs[i].owner))
            report(r, DOC ": header '%s' belongs to '%s' on the page but '%s' in check_layout.c\n",
                   k_libs[i].header, row->words, k_libs[i].owner);
    }
    if (t->n != N_LIBS)
        report(r, DOC ": the library table has %d rows, check_layout.c %d\n", t->n, N_LIBS);
}

/* The source files under root/dir/sub (sub "" or "fuzz/"), recursively, as paths relative
 * to dir, into names (at most cap). Returns how many. */
static int source_files(const char *root, const char *dir, const char *sub, char names[][128],
                        int n, int cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, sub);
    DIR *d = opendir(path);
    if (!d) return n;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char rel[128], full[4096];
        ck_assert_msg(snprintf(rel, sizeof rel, "%s%s", sub, de->d_name) < (int)sizeof rel,
                      "path too long: %s/%s%s", dir, sub, de->d_name);
        snprintf(full, sizeof full, "%s/%s/%s", root, dir, rel);
        struct stat st;
        if (stat(full, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            char next[130];
            ck_assert_msg(snprintf(next, sizeof next, "%s/", rel) < 128, "path too long: %s", rel);
            n = source_files(root, dir, next, names, n, cap);
        } else if (is_source(de->d_name)) {
            ck_assert_msg(n < cap, "too many source files in %s", dir);
            strcpy(names[n++], rel);
        }
    }
    closedir(d);
    return n;
}

/* A name of the file table: "x.*", "x.c", "check_*.c", "fuzz/fuzz_*.c". A '*' that starts
 * the last part ("*.c", "fuzz/" followed by "*") would hide any new file, so it is refused. */
static int pattern_too_broad(const char *pat) {
    const char *last = strrchr(pat, '/');
    return (last ? last[1] : pat[0]) == '*';
}

/* The page's file table against the files of each source folder of root. */
static void check_doc_files(layout_result *r, const doc_table *t, const char *root,
                            char dirs[][64], int ndirs) {
    if (!t->found) {
        report(r, DOC ": no file table ('| folder | files |')\n");
        return;
    }
    static char files[512][128];
    for (int i = 0; i < ndirs; i++) {
        const doc_row *row = doc_find(t, dirs[i]);
        if (!row) {
            report(r, DOC ": folder '%s' holds sources but has no row in the file table\n", dirs[i]);
            continue;
        }
        int nf = source_files(root, dirs[i], "", files, 0, 512);
        static char used[512];
        memset(used, 0, sizeof used);
        for (const char *p = row->words; *p;) {
            while (*p == ' ') p++;
            size_t n = strcspn(p, " ");
            if (!n) break;
            char pat[128];
            snprintf(pat, sizeof pat, "%.*s", (int)n, p);
            p += n;
            if (pattern_too_broad(pat)) {
                report(r, DOC ": the file table's '%s/%s' is too broad (name a stem)\n", dirs[i], pat);
                continue;
            }
            int hits = 0;
            for (int k = 0; k < nf; k++)
                if (!fnmatch(pat, files[k], FNM_PATHNAME)) used[k] = 1, hits++;
            if (!hits) report(r, DOC ": the file table lists '%s/%s', which matches no file\n", dirs[i], pat);
        }
        for (int k = 0; k < nf; k++)
            if (!used[k]) report(r, DOC ": file '%s/%s' is not in the file table\n", dirs[i], files[k]);
    }
    for (int i = 0; i < t->n; i++) {
        int known = 0;
        for (int k = 0; k < ndirs; k++) known |= !strcmp(dirs[k], t->rows[i].key);
        if (!known)
            report(r, DOC ": the file table has a row '%s', which holds no sources\n", t->rows[i].key);
    }
}

/* Checks the page text against the tables here and, when root is given, against the top-level
 * source folders of root: each must have a row in the folder table and in the include table. */
static void check_doc(layout_result *r, const char *text, const char *root) {
    memset(r, 0, sizeof *r);
    static doc_table rules, libs, folders, files; /* 72 KiB each: off the stack */
    doc_table_read(&rules, text, "| folder | may include |");
    doc_table_read(&libs, text, "| library header | only in |");
    doc_table_read(&folders, text, "| folder | holds |");
    doc_table_read(&files, text, "| folder | files |");
    check_doc_rules(r, &rules);
    check_doc_libs(r, &libs);
    if (!root) return;
    char dirs[64][64];
    int n = source_dirs(root, dirs, 64);
    for (int i = 0; i < n; i++) {
        if (!doc_find(&folders, dirs[i]))
            report(r, DOC ": folder '%s' holds sources but has no row in the folder table\n", dirs[i]);
        if (!doc_find(&rules, dirs[i]))
            report(r, DOC ": folder '%s' holds sources but has no row in the include table\n", dirs[i]);
    }
    check_doc_files(r, &files, root, dirs, n);
}

START_TEST(test_tree_follows_the_table) {
    layout_result r;
    check_tree(&r, LM_SOURCE_DIR);
    printf("layout: %d source files checked, %d violations\n%s", r.files, r.violations, r.report);
    ck_assert_int_gt(r.files, 50);
    ck_assert_msg(r.violations == 0, "%d include violations:\n%s", r.violations, r.report);
}
END_TEST

/* A tree with one wrong include of each kind is reported, line by line. */
START_TEST(test_wrong_includes_are_reported) {
    char tmp[256];
    lm_test_tmpdir(tmp, sizeof tmp, "layout");
    lm_test_write_file(tmp, "data/ok.c", "#include \"core/err.h\"\n#include \"masks/mask.h\"\n#include <stdio.h>\n");
    lm_test_write_file(tmp, "data/bad.c", "#include \"core/err.h\"\n  #  include \"shim/lt.h\"\n");
    lm_test_write_file(tmp, "model/bad.h", "#include \"config/config.h\"\n");
    lm_test_write_file(tmp, "core/bad.c", "#include <yaml.h>\n");
    lm_test_write_file(tmp, "io/bad.c", "#include \"cli/command.h\"\n");
    lm_test_write_file(tmp, "cli/ok.c", "#include \"config/config.h\"\n#include \"shim/lt.h\"\n#include <yaml.h>\n");
    lm_test_write_file(tmp, "stray/x.c", "int x;\n");
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

/* The page must state k_rules and k_libs, and list every top-level source folder. */
START_TEST(test_doc_follows_the_table) {
    char *text = lm_test_read_file(LM_SOURCE_DIR "/" DOC);
    layout_result r;
    check_doc(&r, text, LM_SOURCE_DIR);
    printf("layout: " DOC " against check_layout.c, %d violations\n%s", r.violations, r.report);
    ck_assert_msg(r.violations == 0, "%d differences:\n%s", r.violations, r.report);
    free(text);
}
END_TEST

static void append(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *out, size_t cap, const char *fmt, ...) {
    size_t used = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + used, cap - used, fmt, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && used + (size_t)n < cap, "page text does not fit in %zu bytes", cap);
}

/* A page whose three tables say exactly what k_rules and k_libs say, in the page's format. */
static void doc_from_tables(char *out, size_t cap) {
    out[0] = 0;
    append(out, cap, "# Architecture\n\n| folder | holds |\n|---|---|\n");
    for (int i = 0; i < N_RULES; i++) append(out, cap, "| `%s/` | sources |\n", k_rules[i].dir);
    append(out, cap, "\nprose\n\n| folder | may include |\n|---|---|\n");
    for (int i = 0; i < N_RULES; i++) {
        append(out, cap, "| `%s/` |", k_rules[i].dir);
        const char *may = k_rules[i].may;
        if (!*may) append(out, cap, " nothing of ours");
        else if (!strcmp(may, "*")) append(out, cap, " `*` (any folder)");
        for (const char *p = may; *p && strcmp(may, "*");) {
            size_t n = strcspn(p, " ");
            append(out, cap, " `%.*s/`", (int)n, p);
            p += n + strspn(p + n, " ");
        }
        append(out, cap, " |\n");
    }
    append(out, cap, "\n| library header | only in |\n|---|---|\n");
    for (int i = 0; i < N_LIBS; i++)
        append(out, cap, "| `%s` | `%s/` |\n", k_libs[i].header, k_libs[i].owner);
    append(out, cap, "\nmore prose\n");
}

static void replace_once(char *buf, size_t cap, const char *from, const char *to) {
    char *p = strstr(buf, from);
    ck_assert_msg(p != NULL, "'%s' is not in the page text", from);
    size_t nf = strlen(from), nt = strlen(to), tail = strlen(p + nf);
    ck_assert_msg((size_t)(p - buf) + nt + tail < cap, "page text does not fit");
    memmove(p + nt, p + nf, tail + 1);
    memcpy(p, to, nt);
}

/* Page texts with one wrong row, a missing row, an extra row, a wrong owner, no tables, and
 * a tree with an unlisted folder are all reported; the faithful page is not. */
START_TEST(test_wrong_doc_is_reported) {
    static char text[16384];
    layout_result r;
    doc_from_tables(text, sizeof text);
    check_doc(&r, text, NULL);
    ck_assert_msg(r.violations == 0, "the faithful page is reported:\n%s\n%s", r.report, text);

    replace_once(text, sizeof text, "| `model/` | `io/` `core/` `shim/` |",
                 "| `model/` | `io/` `core/` |");
    check_doc(&r, text, NULL);
    printf("layout (one wrong row):\n%s", r.report);
    ck_assert_int_eq(r.violations, 1);
    ck_assert_ptr_nonnull(
        strstr(r.report, "folder 'model' may include 'io core' on the page but 'io core shim'"));

    doc_from_tables(text, sizeof text);
    replace_once(text, sizeof text, "| `masks/` | `core/` |\n", "| `stray/` | `core/` |\n");
    replace_once(text, sizeof text, "| `yaml.h` | `config/` |", "| `yaml.h` | `data/` |");
    check_doc(&r, text, NULL);
    printf("layout (missing, extra, wrong owner):\n%s", r.report);
    ck_assert_int_eq(r.violations, 3);
    ck_assert_ptr_nonnull(strstr(r.report, "folder 'masks' has no row in the include table"));
    ck_assert_ptr_nonnull(strstr(r.report, "a row 'stray' that check_layout.c does not know"));
    ck_assert_ptr_nonnull(strstr(r.report, "header 'yaml.h' belongs to 'data' on the page but 'config'"));

    check_doc(&r, "# Architecture\n\nno tables\n", NULL);
    ck_assert_int_eq(r.violations, 2);
    ck_assert_ptr_nonnull(strstr(r.report, "no include table"));

    char tmp[256];
    lm_test_tmpdir(tmp, sizeof tmp, "layout_doc");
    lm_test_write_file(tmp, "core/a.c", "int a;\n");
    lm_test_write_file(tmp, "newdir/b.c", "int b;\n");
    lm_test_write_file(tmp, "notes/readme.txt", "no sources\n");
    doc_from_tables(text, sizeof text);
    append(text, sizeof text, "\n| folder | files |\n|---|---|\n| `core/` | `a.c` |\n");
    check_doc(&r, text, tmp);
    printf("layout (unlisted folder):\n%s", r.report);
    ck_assert_int_eq(r.violations, 3);
    ck_assert_ptr_nonnull(strstr(r.report, "'newdir' holds sources but has no row in the file table"));
    ck_assert_ptr_nonnull(strstr(r.report, "'newdir' holds sources but has no row in the folder table"));
    ck_assert_ptr_nonnull(strstr(r.report, "'newdir' holds sources but has no row in the include table"));
    lm_test_rmtree(tmp);
}
END_TEST

/* A file missing from the file table, a name that matches nothing, a too-broad glob, a row
 * for a folder without sources and a missing table are reported; globs and subfolders match. */
START_TEST(test_wrong_file_table_is_reported) {
    char tmp[256];
    lm_test_tmpdir(tmp, sizeof tmp, "layout_files");
    lm_test_write_file(tmp, "core/a.c", "int a;\n");
    lm_test_write_file(tmp, "core/a.h", "int a(void);\n");
    lm_test_write_file(tmp, "core/b.c", "int b;\n");
    lm_test_write_file(tmp, "model/export_x.c", "int x;\n");
    lm_test_write_file(tmp, "model/export_y.c", "int y;\n");
    lm_test_write_file(tmp, "tests/check_q.c", "int q;\n");
    lm_test_write_file(tmp, "tests/fuzz/fuzz_q.c", "int f;\n");
    static char text[16384];
    doc_from_tables(text, sizeof text);
    static layout_result missing;
    check_doc(&missing, text, tmp);
    ck_assert_ptr_nonnull(strstr(missing.report, "no file table"));
    append(text, sizeof text,
           "\n| folder | files |\n|---|---|\n"
           "| `core/` | `a.*` the a helpers · `gone.c` removed · `*.h` every header |\n"
           "| `model/` | `export_*.c` the exporters |\n"
           "| `tests/` | `check_*.c` · `fuzz/fuzz_*.c` |\n| `io/` | `zip.c` |\n");
    layout_result r;
    check_doc(&r, text, tmp);
    printf("layout (file table):\n%s", r.report);
    ck_assert_int_eq(r.violations, 4);
    ck_assert_ptr_nonnull(strstr(r.report, "file 'core/b.c' is not in the file table"));
    ck_assert_ptr_nonnull(strstr(r.report, "lists 'core/gone.c', which matches no file"));
    ck_assert_ptr_nonnull(strstr(r.report, "'core/*.h' is too broad"));
    ck_assert_ptr_nonnull(strstr(r.report, "a row 'io', which holds no sources"));
    ck_assert_ptr_null(strstr(r.report, "export_"));
    ck_assert_ptr_null(strstr(r.report, "fuzz"));
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_layout_suite(void) {
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("includes");
    tcase_add_test(tc, test_tree_follows_the_table);
    tcase_add_test(tc, test_wrong_includes_are_reported);
    tcase_add_test(tc, test_doc_follows_the_table);
    tcase_add_test(tc, test_wrong_doc_is_reported);
    tcase_add_test(tc, test_wrong_file_table_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
