/* check_docs.c — every relative link of the documentation resolves.
 *
 * Every *.md file in the repository root and in docs/ is scanned for inline links and images,
 * `[text](path)`, `[text](path#anchor)` and `[text](#anchor)`, outside fenced code blocks and
 * code spans. A link with a scheme (https:, mailto:) is not followed. A relative path is taken
 * from the linking file's folder and must name an existing file or folder; an anchor must be
 * the slug of a heading of the target page, by GitHub's rules: the heading text lowercased,
 * every character other than a letter, digit, space, '-' or '_' dropped, spaces turned into
 * '-', and the second, third, ... heading with the same slug suffixed -1, -2, ...
 * The checker runs on the real tree (no broken link allowed) and on a small tree written by
 * the test with one broken link of each kind (it must report each, naming file, line, link):
 * so the check can fail. */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/testutil.h"

typedef struct {
    char report[8192];
    size_t used;
    int violations, links, pages;
} docs_result;

static void report(docs_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(docs_result *r, const char *fmt, ...) {
    r->violations++;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->report + r->used, sizeof r->report - r->used, fmt, ap);
    va_end(ap);
    if (n > 0 && r->used + (size_t)n < sizeof r->report) r->used += (size_t)n;
}

static int is_fence(const char *line) {
    while (*line == ' ') line++;
    return !strncmp(line, "```", 3) || !strncmp(line, "~~~", 3);
}

/* GitHub's slug of a heading's text [s, e) into out. */
static void slug(char *out, size_t cap, const char *s, const char *e) {
    size_t n = 0;
    for (; s < e && n + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ') out[n++] = '-';
        else if (c == '-' || c == '_' || isalnum(c) || c >= 0x80) out[n++] = (char)tolower(c);
    }
    out[n] = 0;
}

/* Does the page at path have a heading whose slug (with GitHub's -N suffixes) is anchor? */
static int has_anchor(const char *path, const char *anchor) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    static char seen[512][128];
    int nseen = 0, found = 0, fenced = 0;
    char line[4096];
    while (!found && fgets(line, sizeof line, f)) {
        if (is_fence(line)) fenced = !fenced;
        if (fenced || line[0] != '#') continue;
        const char *s = line;
        while (*s == '#') s++;
        while (*s == ' ') s++;
        const char *e = s + strcspn(s, "\r\n");
        while (e > s && (e[-1] == ' ' || e[-1] == '#')) e--;
        char base[128], cand[140];
        slug(base, sizeof base, s, e);
        int dup = 0;
        for (int i = 0; i < nseen; i++) dup += !strcmp(seen[i], base);
        if (nseen < 512) strcpy(seen[nseen++], base);
        if (dup) snprintf(cand, sizeof cand, "%s-%d", base, dup);
        else snprintf(cand, sizeof cand, "%s", base);
        found = !strcmp(cand, anchor);
    }
    fclose(f);
    return found;
}

/* Checks one link target of page rel (under root, in folder dir) at line ln. */
static void check_link(docs_result *r, const char *root, const char *rel, const char *dir, int ln,
                       const char *target) {
    r->links++;
    const char *colon = strchr(target, ':'), *slash = strchr(target, '/');
    if (colon && (!slash || colon < slash)) return; /* https:, mailto:, ... */
    char file[1024], path[4096];
    const char *hash = strchr(target, '#');
    size_t fn = hash ? (size_t)(hash - target) : strlen(target);
    snprintf(file, sizeof file, "%.*s", (int)fn, target);
    if (fn) {
        snprintf(path, sizeof path, "%s/%s%s%s", root, dir, *dir ? "/" : "", file);
        struct stat st;
        if (stat(path, &st)) {
            report(r, "%s:%d: [](%s): no file %s%s%s\n", rel, ln, target, dir, *dir ? "/" : "", file);
            return;
        }
    } else {
        snprintf(path, sizeof path, "%s/%s", root, rel);
    }
    if (hash && hash[1] && !has_anchor(path, hash + 1))
        report(r, "%s:%d: [](%s): no heading with the anchor '%s' in %s\n", rel, ln, target,
               hash + 1, fn ? file : rel);
}

/* Checks every link of the page root/rel. */
static void check_page(docs_result *r, const char *root, const char *rel) {
    char path[4096], dir[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    const char *last = strrchr(rel, '/');
    snprintf(dir, sizeof dir, "%.*s", last ? (int)(last - rel) : 0, rel);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    r->pages++;
    char line[8192];
    int ln = 0, fenced = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        if (is_fence(line)) {
            fenced = !fenced;
            continue;
        }
        if (fenced) continue;
        int code = 0;
        for (const char *p = line; *p; p++) {
            if (*p == '`') code = !code;
            if (code || p[0] != ']' || p[1] != '(') continue;
            const char *s = p + 2, *e = s + strcspn(s, ") \t\r\n");
            if (*e != ')' && *e != ' ') continue;
            char target[1024];
            snprintf(target, sizeof target, "%.*s", (int)(e - s), s);
            if (*target) check_link(r, root, rel, dir, ln, target);
            p = e - 1;
        }
    }
    fclose(f);
}

/* Checks the *.md pages of root and root/docs. */
static void check_docs(docs_result *r, const char *root) {
    memset(r, 0, sizeof *r);
    const char *dirs[] = {"", "docs"};
    for (int i = 0; i < 2; i++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", root, dirs[i]);
        DIR *d = opendir(sub);
        if (!d) continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t n = strlen(de->d_name);
            if (n < 4 || strcmp(de->d_name + n - 3, ".md")) continue;
            char rel[512];
            snprintf(rel, sizeof rel, "%s%s%s", dirs[i], *dirs[i] ? "/" : "", de->d_name);
            check_page(r, root, rel);
        }
        closedir(d);
    }
}

START_TEST(test_repo_links_resolve) {
    docs_result r;
    check_docs(&r, LM_SOURCE_DIR);
    printf("docs: %d pages, %d links checked, %d broken\n%s", r.pages, r.links, r.violations, r.report);
    ck_assert_int_gt(r.pages, 10);
    ck_assert_int_gt(r.links, 30);
    ck_assert_msg(r.violations == 0, "%d broken links:\n%s", r.violations, r.report);
}
END_TEST

/* A missing file, a missing anchor in another page and in the same page are reported with
 * file and line; good links, links in code, external links and GitHub slugs are not. */
START_TEST(test_broken_links_are_reported) {
    char tmp[256];
    lm_test_tmpdir(tmp, sizeof tmp, "docs");
    lm_test_write_file(tmp, "README.md",
               "# Title\n"
               "[ok](docs/a.md) [ok](docs/a.md#train-lamac-train) ![](docs/img.png) [ok](docs/)\n"
               "[bad](docs/missing.md)\n"
               "[bad anchor](docs/a.md#nowhere) [web](https://example.org/x.md)\n"
               "`[code](nope.md)` and [self](#title) and [self bad](#untitled)\n"
               "```\n[fenced](nope.md)\n```\n");
    lm_test_write_file(tmp, "docs/a.md",
               "# A page\n\n## Train (`lamac train`)\n\n## Faults\n\n## Faults\n\n"
               "[up](../README.md#title) [dup](#faults-1) [dir](predict/x.png)\n");
    lm_test_write_file(tmp, "docs/img.png", "png");
    docs_result r;
    check_docs(&r, tmp);
    printf("docs (planted errors):\n%s", r.report);
    ck_assert_int_eq(r.pages, 2);
    ck_assert_int_eq(r.violations, 4);
    ck_assert_ptr_nonnull(strstr(r.report, "README.md:3: [](docs/missing.md): no file docs/missing.md"));
    ck_assert_ptr_nonnull(strstr(r.report, "README.md:4: [](docs/a.md#nowhere): no heading with the anchor 'nowhere'"));
    ck_assert_ptr_nonnull(strstr(r.report, "README.md:5: [](#untitled): no heading"));
    ck_assert_ptr_nonnull(strstr(r.report, "docs/a.md:9: [](predict/x.png): no file docs/predict/x.png"));
    ck_assert_ptr_null(strstr(r.report, "nope.md"));
    lm_test_rmtree(tmp);
}
END_TEST

Suite *check_docs_suite(void) {
    Suite *s = suite_create("docs");
    TCase *tc = tcase_create("links");
    tcase_add_test(tc, test_repo_links_resolve);
    tcase_add_test(tc, test_broken_links_are_reported);
    suite_add_tcase(s, tc);
    return s;
}
