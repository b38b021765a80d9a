/* check_report_html.c — report.html (eval/html.h): the file itself (no network
 * reference, embedded data that cannot close its <script>, the best / median / worst rows in
 * the right order, the sample grid of a run) and the page in a real headless browser
 * (Debian's chromium): it loads without a script error and draws the expected number of
 * charts, each an <svg> with a polyline. The inputs are written here (metrics.json,
 * sweep.json in the `lamac eval --sizes` format, per_image.csv with three PNG triples,
 * metrics.jsonl with a line cut short), plus `lamac eval` on tests/fixtures/eval/e2e and
 * `lamac report`. Without chromium the browser tests FAIL, saying to install it. */
#define _GNU_SOURCE
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "data/image.h"
#include "eval/html.h"
#include "tests/testutil.h"

static char g_tmp[64];

static void put_file(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_msg(f != NULL, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* a w x h PNG: solid colour (c), or the mask (a centred square hole) when c < 0 */
static void png(const char *dir, const char *name, int c) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    lm_image im = {0};
    ck_assert(lm_image_alloc(&im, 24, 16, c < 0 ? 1 : 3) == 0);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 24; x++)
            for (int k = 0; k < im.c; k++)
                im.data[(y * 24 + x) * im.c + k] =
                    c < 0 ? (x >= 8 && x < 16 && y >= 4 && y < 12 ? 255 : 0) : (uint8_t)(c * (k + 1) % 256);
    ck_assert_msg(lm_image_write_png(p, &im) == 0, "%s", lm_err_msg());
    lm_image_free(&im);
}

/* metrics.json: ssim, psnr, l1, lpips with two bins each (4 charts), fid skipped with a
 * reason that tries to close the script block */
static const char *k_metrics =
    "{\"command\": \"lamac eval </script><script>document.title='pwned'</script>\", \"images_listed\": 3,"
    " \"images_evaluated\": 3, \"seconds\": 0.1,\n"
    " \"bins\": {\"count\": 2, \"rule\": \"offline\", \"edges\": [0, 0.5, 1], \"images\": {\"0-50%\": 2, \"50-100%\": 1}},\n"
    " \"weights\": [],\n \"metrics\": {\n"
    "  \"ssim\": {\"total\": {\"mean\": 0.8, \"std\": 0.1, \"n\": 3}, \"0-50%\": {\"mean\": 0.85, \"std\": 0.05, \"n\": 2},"
    " \"50-100%\": {\"mean\": 0.7, \"std\": null, \"n\": 1}},\n"
    "  \"psnr\": {\"total\": {\"mean\": 25, \"std\": 2, \"n\": 3}, \"0-50%\": {\"mean\": 26, \"std\": 1, \"n\": 2},"
    " \"50-100%\": {\"mean\": 23, \"std\": null, \"n\": 1}},\n"
    "  \"l1\": {\"total\": {\"mean\": 0.05, \"std\": 0.01, \"n\": 3}, \"0-50%\": {\"mean\": 0.04, \"std\": 0.01, \"n\": 2}},\n"
    "  \"lpips\": {\"total\": {\"mean\": 0.2, \"std\": 0.1, \"n\": 3}, \"0-50%\": {\"mean\": 0.15, \"std\": 0.05, \"n\": 2},"
    " \"50-100%\": {\"mean\": 0.3, \"std\": null, \"n\": 1}},\n"
    "  \"fid\": {\"skipped\": true, \"reason\": \"FID Inception weights not found: /x</script>y\"},\n"
    "  \"ssim_fid100_f1\": {\"skipped\": true, \"reason\": \"needs ssim and fid\"}\n"
    " },\n \"warnings\": [], \"skipped_images\": []\n}\n";
#define EVAL_CHARTS 4

/* sweep.json: two presets over two sizes; ssim and lpips measured (2 charts), fid skipped */
static const char *k_sweep =
    "{\"command\": \"lamac eval --sizes 256,512\", \"sizes\": [\n"
    " {\"size\": 256, \"masks\": \"thick\", \"dir\": \"256\", \"images\": 3, \"metrics\": {"
    "\"ssim\": {\"total\": {\"mean\": 0.8, \"std\": 0.1, \"n\": 3}}, \"lpips\": {\"total\": {\"mean\": 0.2, \"std\": 0.1, \"n\": 3}},"
    " \"fid\": {\"skipped\": true, \"reason\": \"disabled (--no-fid)\"}}},\n"
    " {\"size\": 512, \"masks\": \"thick\", \"dir\": \"512\", \"images\": 3, \"metrics\": {"
    "\"ssim\": {\"total\": {\"mean\": 0.75, \"std\": 0.1, \"n\": 3}}, \"lpips\": {\"total\": {\"mean\": 0.25, \"std\": 0.1, \"n\": 3}},"
    " \"fid\": {\"skipped\": true, \"reason\": \"disabled (--no-fid)\"}}},\n"
    " {\"size\": 256, \"masks\": \"thin\", \"dir\": \"256_thin\", \"images\": 3, \"metrics\": {"
    "\"ssim\": {\"total\": {\"mean\": 0.9, \"std\": 0.1, \"n\": 3}}, \"lpips\": {\"total\": {\"mean\": 0.1, \"std\": 0.1, \"n\": 3}},"
    " \"fid\": {\"skipped\": true, \"reason\": \"disabled (--no-fid)\"}}},\n"
    " {\"size\": 512, \"masks\": \"thin\", \"dir\": \"512_thin\", \"images\": 3, \"metrics\": {"
    "\"ssim\": {\"total\": {\"mean\": 0.88, \"std\": 0.1, \"n\": 3}}, \"lpips\": {\"total\": {\"mean\": 0.12, \"std\": 0.1, \"n\": 3}},"
    " \"fid\": {\"skipped\": true, \"reason\": \"disabled (--no-fid)\"}}}\n]}\n";
#define SWEEP_CHARTS 2

/* metrics.jsonl: 2 losses (2 charts), one validation metric with two groups (1 chart), and a
 * last line cut short by a crash (left out) */
static const char *k_jsonl =
    "{\"step\":2,\"epoch\":0,\"kind\":\"train\",\"losses\":{\"gen_total\":3.5,\"discr_adv\":1.25},\"metrics\":{},\"nonfinite\":[]}\n"
    "{\"step\":4,\"epoch\":0,\"kind\":\"train\",\"losses\":{\"gen_total\":3.0,\"discr_adv\":1.5},\"metrics\":{},\"nonfinite\":[]}\n"
    "{\"step\":4,\"epoch\":0,\"kind\":\"val\",\"losses\":{},\"metrics\":{\"val_ssim_total_mean\":0.7,\"val_ssim_total_std\":0.1,"
    "\"val_ssim_0-10%_mean\":0.9,\"val_ssim_0-10%_std\":0},\"nonfinite\":[]}\n"
    "{\"step\":6,\"epoch\":0,\"kind\":\"train\",\"losses\":{\"gen_total\":2.5,\"discr_adv\":null},\"metrics\":{},\"nonfinite\":[\"losses.discr_adv\"]}\n"
    "{\"step\":8,\"epoch\":0,\"kind\":\"val\",\"losses\":{},\"metrics\":{\"val_ssim_total_mean\":0.75,\"val_ssim_total_std\":0.1,"
    "\"val_ssim_0-10%_mean\":0.92,\"val_ssim_0-10%_std\":0},\"nonfinite\":[]}\n"
    "{\"step\":10,\"epoch\":0,\"kind\":\"tra";
#define TRAIN_CHARTS 3

/* an evaluation folder with the files above and three examples (LPIPS 0.3 / 0.1 / 0.2, so
 * best b, median c, worst a) */
static void make_eval_dir(const char *dir) {
    ck_assert(mkdir(dir, 0777) == 0);
    put_file(dir, "metrics.json", k_metrics);
    put_file(dir, "sweep.json", k_sweep);
    char csv[4096], a[3][3][600];
    const char *names[3] = {"a", "b", "c"};
    int n = snprintf(csv, sizeof csv, "mask,area,bin,ssim,psnr,l1,lpips,image,pred,mask_file\n");
    for (int i = 0; i < 3; i++) {
        char f[64];
        snprintf(f, sizeof f, "%s.png", names[i]);
        png(dir, f, 40 + 60 * i);
        snprintf(a[i][0], sizeof a[i][0], "%s/%s", dir, f);
        snprintf(f, sizeof f, "%s_mask.png", names[i]);
        png(dir, f, -1);
        snprintf(a[i][1], sizeof a[i][1], "%s/%s", dir, f);
        snprintf(f, sizeof f, "%s_pred.png", names[i]);
        png(dir, f, 50 + 60 * i);
        snprintf(a[i][2], sizeof a[i][2], "%s/%s", dir, f);
        static const double lp[3] = {0.3, 0.1, 0.2};
        n += snprintf(csv + n, sizeof csv - (size_t)n, "\"%s_mask.png\",0.33,0,0.8,25,0.05,%g,\"%s\",\"%s\",\"%s\"\n",
                      names[i], lp[i], a[i][0], a[i][2], a[i][1]);
    }
    put_file(dir, "per_image.csv", csv);
}

/* a run directory: metrics.jsonl, a sample grid, and eval/ = the evaluation folder above */
static void make_run_dir(const char *run) {
    char p[512];
    ck_assert(mkdir(run, 0777) == 0);
    put_file(run, "metrics.jsonl", k_jsonl);
    snprintf(p, sizeof p, "%s/samples", run);
    ck_assert(mkdir(p, 0777) == 0);
    snprintf(p, sizeof p, "%s/samples/epoch0000_val", run);
    ck_assert(mkdir(p, 0777) == 0);
    png(p, "batch0000008.png", 90);
    snprintf(p, sizeof p, "%s/eval", run);
    make_eval_dir(p);
}

/* the checks every report.html must pass as a file */
static void check_file(const char *html, int examples) {
    ck_assert_msg(!strstr(html, "http://"), "report.html refers to http://");
    ck_assert_msg(!strstr(html, "https://"), "report.html refers to https://");
    ck_assert_msg(!strstr(html, "src=\"//"), "report.html has a protocol-relative src");
    ck_assert_msg(!strstr(html, "<link"), "report.html links an external resource");
    ck_assert_msg(!strstr(html, "<script src"), "report.html loads an external script");
    /* every </script is one of ours: each opened block closed once, none from the data */
    ck_assert_int_eq(count(html, "<script"), count(html, "</script>"));
    ck_assert_int_eq(count(html, "lm-example\""), examples);
    ck_assert_int_eq(count(html, "src=\"data:image/png;base64,"), 3 * examples + (strstr(html, "class=\"grid\"") ? 1 : 0));
}

START_TEST(test_file_eval_dir) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/ev", g_tmp);
    make_eval_dir(dir);
    ck_assert_msg(lm_report_html(dir, NULL) == 0, "%s", lm_err_msg());
    char p[256];
    snprintf(p, sizeof p, "%s/report.html", dir);
    char *html = lm_test_read_file(p);
    check_file(html, 3);
    /* the data's "</script>" is there, escaped */
    ck_assert_msg(strstr(html, "\\u003c/script>\\u003cscript>document.title"), "command not embedded escaped");
    ck_assert_msg(strstr(html, "weights not found: /x\\u003c/script>y"), "reason not embedded escaped");
    /* best (lowest LPIPS) b, then median c, then worst a */
    const char *best = strstr(html, ">best<br>lpips 0.1000"), *med = strstr(html, ">median<br>lpips 0.2000"),
               *worst = strstr(html, ">worst<br>lpips 0.3000");
    ck_assert_msg(best && med && worst && best < med && med < worst, "example rows missing or out of order");
    ck_assert_ptr_nonnull(strstr(best, "b_mask.png"));
    ck_assert_ptr_nonnull(strstr(worst, "a_mask.png"));
    ck_assert_ptr_null(strstr(html, "id=\"lm-data-train\"")); /* no run: no training data */
    free(html);
    /* no per_image.csv, no sweep: still a page, no example rows */
    snprintf(p, sizeof p, "%s/per_image.csv", dir);
    unlink(p);
    ck_assert_msg(lm_report_html(dir, NULL) == 0, "%s", lm_err_msg());
    snprintf(p, sizeof p, "%s/report.html", dir);
    html = lm_test_read_file(p);
    check_file(html, 0);
    free(html);
    /* a folder that does not exist: an error naming the file */
    snprintf(p, sizeof p, "%s/missing", g_tmp);
    ck_assert(lm_report_html(p, NULL) < 0);
    ck_assert_msg(strstr(lm_err_msg(), "report.html"), "%s", lm_err_msg());
}
END_TEST

START_TEST(test_file_run_dir) {
    char run[128], p[256];
    snprintf(run, sizeof run, "%s/run", g_tmp);
    make_run_dir(run);
    ck_assert_msg(lm_report_html(run, run) == 0, "%s", lm_err_msg());
    snprintf(p, sizeof p, "%s/report.html", run);
    char *html = lm_test_read_file(p);
    check_file(html, 3);
    ck_assert_ptr_nonnull(strstr(html, "samples/epoch0000_val/batch0000008.png"));
    ck_assert_ptr_nonnull(strstr(html, "class=\"grid\""));
    ck_assert_ptr_nonnull(strstr(html, "\"val_ssim_0-10%_mean\":0.92"));
    ck_assert_ptr_null(strstr(html, "\"step\":10,")); /* the cut line is left out */
    free(html);
}
END_TEST

/* ---- in the browser -------------------------------------------------------------------- */
static const char *chromium(void) {
    static char found[512];
    const char *env = getenv("LAMAC_CHROMIUM");
    const char *cands[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"};
    for (int i = env && *env ? -1 : 0; i < 3; i++) {
        const char *c = i < 0 ? env : cands[i];
        if (access(c, X_OK) == 0) return snprintf(found, sizeof found, "%s", c), found;
        if (i < 0) break; /* LAMAC_CHROMIUM names the one to use */
    }
    ck_abort_msg("report.html browser test: chromium not found; install it (apt-get install chromium, as "
                 "scripts/setup-deps.sh does) or point LAMAC_CHROMIUM at a Chromium binary");
    return NULL;
}

/* Loads dir/report.html in headless chromium; returns the DOM after the scripts ran (malloc'd). */
static char *browse(const char *dir) {
    const char *bin = chromium();
    char cmd[8192], path[512], abs[PATH_MAX];
    snprintf(path, sizeof path, "%s/report.html", dir);
    ck_assert_ptr_nonnull(realpath(path, abs));
    snprintf(cmd, sizeof cmd,
             "timeout 60 '%s' --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --user-data-dir='%s/chrome' "
             "--virtual-time-budget=5000 --dump-dom 'file://%s' 2>'%s/chrome.log'",
             bin, g_tmp, abs, g_tmp);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = 0, cap = 1 << 20;
    char *dom = malloc(cap);
    for (size_t k; (k = fread(dom + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (n + 1 == cap) dom = realloc(dom, cap *= 2);
    }
    dom[n] = 0;
    int st = pclose(f);
    ck_assert_msg(st == 0 && n > 0, "chromium failed (status %d, see %s/chrome.log): %s", st, g_tmp, cmd);
    return dom;
}

static void check_dom(const char *dom, int charts) {
    const char *e = strstr(dom, "class=\"err\"");
    ck_assert_msg(!e, "the page reported a script error: %.200s", e);
    char want[64];
    snprintf(want, sizeof want, "charts drawn: %d<", charts);
    const char *st = strstr(dom, "id=\"lm-status\"");
    ck_assert_msg(strstr(dom, want), "expected \"%s\", the page says: %.60s", want, st ? st : "(no status)");
    ck_assert_int_eq(count(dom, "<svg"), charts);
    /* each chart: a line, axes (paths), a legend (text) */
    for (const char *s = dom; (s = strstr(s, "<svg"));) {
        const char *end = strstr(s, "</svg>");
        ck_assert_ptr_nonnull(end);
        char *one = strndup(s, (size_t)(end - s));
        ck_assert_msg(strstr(one, "<polyline"), "a chart without a line");
        ck_assert_msg(count(one, "<path") >= 3, "a chart without axes");
        ck_assert_msg(count(one, "<text") >= 4, "a chart without labels");
        free(one);
        s = end;
    }
}

START_TEST(test_browser_eval_dir) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/bev", g_tmp);
    make_eval_dir(dir);
    ck_assert_msg(lm_report_html(dir, NULL) == 0, "%s", lm_err_msg());
    char *dom = browse(dir);
    check_dom(dom, EVAL_CHARTS + SWEEP_CHARTS);
    ck_assert_ptr_nonnull(strstr(dom, "fid not computed: FID Inception weights not found: /x&lt;/script&gt;y"));
    ck_assert_ptr_nonnull(strstr(dom, "fid not computed: disabled (--no-fid)")); /* the sweep's */
    ck_assert_ptr_nonnull(strstr(dom, "ssim vs resolution"));
    ck_assert_ptr_nonnull(strstr(dom, "lpips vs masked area"));
    ck_assert_ptr_null(strstr(dom, "<title>pwned")); /* the embedded command ran nothing */
    free(dom);
}
END_TEST

START_TEST(test_browser_run_dir) {
    char run[128];
    snprintf(run, sizeof run, "%s/brun", g_tmp);
    make_run_dir(run);
    /* lamac report finds the run from metrics.jsonl */
    char out[4096];
    int st = lm_test_run(out, sizeof out, "report '%s'", run);
    ck_assert_msg(st == 0, "lamac report: %s", out);
    ck_assert_msg(strstr(out, "training run"), "%s", out);
    char *dom = browse(run);
    check_dom(dom, TRAIN_CHARTS + EVAL_CHARTS + SWEEP_CHARTS);
    ck_assert_ptr_nonnull(strstr(dom, "validation ssim"));
    ck_assert_ptr_nonnull(strstr(dom, "masked area 0-10%"));
    free(dom);
}
END_TEST

/* the whole path: lamac eval writes report.html from a real evaluation */
START_TEST(test_browser_lamac_eval) {
    char dir[128], out[8192], p[256];
    snprintf(dir, sizeof dir, "%s/cli", g_tmp);
    int st = lm_test_run(out, sizeof out,
                         "eval --images tests/fixtures/eval/e2e/images --predictions tests/fixtures/eval/e2e/predictions "
                         "--out '%s' --no-lpips --no-fid --quiet",
                         dir);
    ck_assert_msg(st == 0, "lamac eval: %s", out);
    snprintf(p, sizeof p, "%s/report.html", dir);
    char *html = lm_test_read_file(p);
    check_file(html, 3);
    ck_assert_ptr_nonnull(strstr(html, ">best<br>ssim "));
    free(html);
    char *dom = browse(dir);
    check_dom(dom, 3); /* ssim, psnr, l1; lpips and fid off */
    ck_assert_ptr_nonnull(strstr(dom, "lpips not computed: disabled (--no-lpips)"));
    free(dom);
    /* usage errors */
    ck_assert_int_eq(lm_test_run(out, sizeof out, "report"), 2);
    ck_assert_int_eq(lm_test_run(out, sizeof out, "report '%s' --bogus", dir), 2);
    ck_assert_int_eq(lm_test_run(out, sizeof out, "report '%s/nope'", dir), 1);
}
END_TEST

static void setup(void) { lm_test_tmpdir(g_tmp, sizeof g_tmp, "report_html"); }
static void teardown(void) { lm_test_rmtree(g_tmp); }

Suite *check_report_html_suite(void) {
    Suite *s = suite_create("report_html");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_eval_dir);
    tcase_add_test(tc, test_file_run_dir);
    suite_add_tcase(s, tc);
    TCase *br = tcase_create("browser");
    tcase_set_timeout(br, 120);
    tcase_add_checked_fixture(br, setup, teardown);
    tcase_add_test(br, test_browser_eval_dir);
    tcase_add_test(br, test_browser_run_dir);
    tcase_add_test(br, test_browser_lamac_eval);
    suite_add_tcase(s, br);
    return s;
}
