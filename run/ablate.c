/* ablate.c — `lamac ablate` (run/ablate.h): the test sets made once, each variant x seed
 * trained by a `lamac train` child (resumed with --resume when it holds a checkpoint) and
 * evaluated by `lamac eval --model` children, several side by side with --jobs, and the
 * table and report built from what the run directories hold. */
#define _GNU_SOURCE
#include "run/ablate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/err.h"
#include "core/path.h"
#include "core/readall.h"
#include "core/rng.h"
#include "core/strbuf.h"
#include "data/image.h"
#include "data/walk.h"
#include "eval/html.h"
#include "eval/sweep.h"
#include "masks/evalset.h"
#include "masks/mask.h"
#include "train/ckptfiles.h"
#include "train/checkpoint.h"

/* Paths are OUT (at most OUT_MAX, checked on entry) + names the grid limits (variant < 128,
 * test set < 64 characters) + fixed parts, so P always holds them: GCC's truncation analysis
 * cannot see the limits. */
#define P 4352
#define OUT_MAX 2048
#pragma GCC diagnostic ignored "-Wformat-truncation"

static int check_out(const char *out) {
    if (strlen(out) > OUT_MAX) return lm_err_code(LM_EINVAL, "--out: path longer than %d characters", OUT_MAX);
    return 0;
}

/* ---- child processes ------------------------------------------------------------------- */

#define MAX_KIDS 256
static volatile sig_atomic_t g_sig;
static volatile pid_t g_kids[MAX_KIDS];

static void on_signal(int s) {
    if (!g_sig) g_sig = s;
    for (int i = 0; i < MAX_KIDS; i++)
        if (g_kids[i] > 0) kill(g_kids[i], s);
}

static void handlers(int on) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void kid_add(pid_t p) {
    for (int i = 0; i < MAX_KIDS; i++)
        if (g_kids[i] <= 0) {
            g_kids[i] = p;
            return;
        }
}
static void kid_del(pid_t p) {
    for (int i = 0; i < MAX_KIDS; i++)
        if (g_kids[i] == p) g_kids[i] = 0;
}

/* Starts exe argv with stdout and stderr appended to log, in its own process group (a
 * Ctrl-C reaches it once, through us) and SIGTERM when we die. */
static int spawn(pid_t *pid, const char *exe, char *const *argv, const char *log) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) return lm_err_code(LM_EIO, "cannot open %s: %s", log, strerror(errno));
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0) {
        close(fd);
        return lm_err_code(LM_EIO, "fork: %s", strerror(errno));
    }
    if (p == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(128 + SIGTERM);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(exe, argv);
        dprintf(2, "lamac ablate: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(fd);
    *pid = p;
    kid_add(p);
    if (g_sig) kill(p, g_sig); /* a signal that came while forking */
    return 0;
}

/* The shell's view of a finished child: its exit status, or 128 + signal. */
static int status_code(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 1;
}

static int wait_pid(pid_t p) {
    int st = 0;
    while (waitpid(p, &st, 0) < 0)
        if (errno != EINTR) return 1;
    kid_del(p);
    return status_code(st);
}

static void print_tail(const char *log, int lines) {
    FILE *f = fopen(log, "rb");
    if (!f) return;
    char *text = NULL;
    size_t n = 0;
    if (lm_read_all(f, &text, &n) == 0 && n) {
        size_t i = n;
        int k = 0;
        while (i > 0 && k <= lines)
            if (text[--i] == '\n' && i + 1 < n) k++;
        fprintf(stderr, "---- %s (last lines)\n%s%s", log, text + (i ? i + 1 : 0), text[n - 1] == '\n' ? "" : "\n");
    }
    free(text);
    fclose(f);
}

/* argv builder */
typedef struct argvb {
    char *v[LM_ABL_MAX_OVER + 48];
    int n;
    char own[24][P];
    int no;
} argvb;
static void av(argvb *a, const char *s) {
    if (a->n < (int)(sizeof a->v / sizeof a->v[0]) - 1) a->v[a->n++] = (char *)s, a->v[a->n] = NULL;
}
static void avf(argvb *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void avf(argvb *a, const char *fmt, ...) {
    if (a->no >= 24) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->own[a->no], P, fmt, ap);
    va_end(ap);
    av(a, a->own[a->no++]);
}

static int put_text(const char *path, const char *text) { return lm_atomic_write_file(path, text, strlen(text)); }

/* ---- the test sets ------------------------------------------------------------------- */

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Below 256 px the 256 preset's strokes (in pixels) would cover most of the image: the mask is
 * drawn at 256 x 256 and subsampled, as `lamac synth` does (redrawn while above half the area). */
static int small_mask(lm_image *m, int S, const lm_evalset_cfg *ev, const char *rel) {
    uint8_t *big = malloc(256 * 256);
    if (!big) return lm_err_code(LM_ENOMEM, "out of memory");
    int rc = 0;
    for (int tries = 0; tries < 20; tries++) {
        lm_rng r;
        lm_rng_init(&r, 0, (uint64_t)tries, fnv(rel), LM_RNG_EVAL);
        if ((rc = lm_mask_generate(big, 256, 256, &ev->mask, &r, 0)) < 0) break;
        size_t on = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                uint8_t v = big[(size_t)(y * 256 / S) * 256 + (size_t)(x * 256 / S)];
                m->data[(size_t)y * S + x] = v ? 255 : 0;
                on += v != 0;
            }
        if (on > 0 && on * 2 <= (size_t)S * S) break;
    }
    free(big);
    return rc;
}

static int make_testset(const lm_abl_testset *t, const char *dst) {
    lm_file_list files = {0};
    lm_evalset_cfg ev;
    char preset[64], path[P];
    int rc = lm_sweep_list_images(&files, t->images);
    if (!rc) rc = lm_sweep_preset(&ev, preset, sizeof preset, t->masks, t->size < 256 ? 256 : t->size);
    if (!rc) rc = lm_path_mkdirs(dst);
    for (size_t k = 0; k < files.n && !rc; k++) {
        const char *rel = files.v[k];
        int stem = (int)(strrchr(rel, '.') - rel), over = 0;
        lm_image img = {0}, msk = {0};
        snprintf(path, sizeof path, "%s/%s", t->images, rel);
        rc = lm_sweep_prepare(&img, &msk, &over, path, rel, t->size, &ev);
        if (!rc && t->size < 256) rc = small_mask(&msk, t->size, &ev, rel);
        if (!rc && snprintf(path, sizeof path, "%s/%.*s.png", dst, stem, rel) >= (int)sizeof path) rc = lm_err_code(LM_EINVAL, "path too long");
        if (!rc) rc = lm_path_mkparents(path);
        if (!rc) rc = lm_image_write_png(path, &img);
        if (!rc) snprintf(path, sizeof path, "%s/%.*s_mask000.png", dst, stem, rel);
        if (!rc) rc = lm_image_write_png(path, &msk);
        if (rc < 0) lm_err_prefix("%s", rel);
        lm_image_free(&img);
        lm_image_free(&msk);
    }
    lm_file_list_free(&files);
    return rc;
}

static void rmtree(const char *dir) {
    char cmd[P + 32];
    if (!dir[0] || strchr(dir, '\'')) return;
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "lamac ablate: warning: could not remove %s\n", dir);
}

/* The folder a test set is read from: a ready one as it is; a generated one made once into
 * OUT/testsets/NAME (built in a temporary folder and renamed, so a concurrent task or a kill
 * never leaves half a set), its spec kept beside it and compared on every later use. */
static int testset_dir(char *dst, size_t cap, const lm_abl_testset *t, const char *out, int make) {
    if (t->dir[0]) return (size_t)snprintf(dst, cap, "%s", t->dir) >= cap ? lm_err_code(LM_EINVAL, "path too long") : 0;
    char spec[P + 128], specf[P], tmp[P];
    snprintf(spec, sizeof spec, "images: %s\nmasks: %s\nsize: %d\n", t->images, t->masks, t->size);
    if ((size_t)snprintf(dst, cap, "%s/testsets/%s", out, t->name) >= cap) return lm_err_code(LM_EINVAL, "path too long");
    snprintf(specf, sizeof specf, "%s/testsets/%s.spec", out, t->name);
    for (int pass = 0; pass < 2; pass++) {
        if (lm_path_is_dir(dst)) {
            FILE *f = fopen(specf, "rb");
            char *text = NULL;
            size_t n = 0;
            if (f && lm_read_all(f, &text, &n) == 0 && text && !strcmp(text, spec)) {
                free(text);
                fclose(f);
                return 0;
            }
            free(text);
            if (f) fclose(f);
            return lm_err_code(LM_EINVAL, "test set '%s': %s was made from another spec (%s); use a new --out or remove it",
                               t->name, dst, specf);
        }
        if (!make) return lm_err_code(LM_EINVAL, "test set '%s': %s is missing (run lamac ablate without --collect first)", t->name, dst);
        if (pass) break;
        snprintf(tmp, sizeof tmp, "%s/testsets/.%s.tmp.%d", out, t->name, (int)getpid());
        rmtree(tmp);
        fprintf(stderr, "ablate: test set '%s': %s masks at %d px from %s\n", t->name, t->masks, t->size, t->images);
        int rc = make_testset(t, tmp);
        if (rc < 0) {
            rmtree(tmp);
            return lm_err_prefix("test set '%s'", t->name);
        }
        if (!lm_path_exists(specf) && put_text(specf, spec) < 0) return lm_err_prefix("test set '%s'", t->name);
        if (rename(tmp, dst) != 0) rmtree(tmp); /* another task was first: its set is the same */
    }
    return testset_dir(dst, cap, t, out, 0);
}

/* ---- one run: train, then evaluate on every test set -------------------------------------- */

static int metric_on(const lm_abl_grid *g, const char *m) {
    for (int i = 0; i < g->nm; i++)
        if (!strcmp(g->metrics[i], m)) return 1;
    return 0;
}

static const char *self_exe(const lm_abl_opts *o) {
    static char buf[PATH_MAX];
    if (o->exe) return o->exe;
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "lamac";
    buf[n] = 0;
    return buf;
}

static int threads_per_run(const lm_abl_opts *o) {
    if (o->threads > 0) return o->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    int t = (int)(n > 0 ? n : 1) / (o->jobs > 0 ? o->jobs : 1);
    return t > 0 ? t : 1;
}

static int run_one(const lm_abl_grid *g, const lm_abl_opts *o, const lm_abl_variant *v, uint64_t seed,
                   char tsdir[][P]) {
    const char *exe = self_exe(o);
    char rd[P], log[P], mark[P], run[192];
    int T = threads_per_run(o), rc;
    snprintf(run, sizeof run, "%s-s%llu", v->name, (unsigned long long)seed);
    snprintf(rd, sizeof rd, "%s/runs/%s", o->out, run);
    snprintf(log, sizeof log, "%s/logs/%s.log", o->out, run);
    snprintf(mark, sizeof mark, "%s/ablate_trained", rd);
    if ((rc = lm_path_mkparents(log)) < 0) return rc;
    if (!lm_path_exists(mark)) {
        argvb a = {0};
        lm_ckpt_found probe = {0};
        int resume = lm_path_is_dir(rd) && lm_ckpt_find(&probe, rd, LM_CKPT_PREFIX, NULL) == 0;
        lm_ckpt_found_free(&probe);
        lm_err_clear();
        if (!resume && lm_path_exists(rd)) { /* killed before its first checkpoint: nothing to keep */
            fprintf(stderr, "ablate: %s: %s holds no valid checkpoint: starting the run again\n", run, rd);
            rmtree(rd);
        }
        av(&a, exe);
        av(&a, "train");
        if (resume) {
            avf(&a, "--resume");
            av(&a, rd);
        } else {
            av(&a, v->config);
            for (int i = 0; i < v->n_over; i++) av(&a, v->over[i]);
            avf(&a, "seed=%llu", (unsigned long long)seed);
            av(&a, "--run-dir");
            av(&a, rd);
        }
        avf(&a, "--threads");
        avf(&a, "%d", T);
        av(&a, "--device");
        av(&a, o->device ? o->device : "cpu");
        av(&a, "--no-tb");
        fprintf(stderr, "ablate: %s: %s (%d threads; log %s)\n", run, resume ? "resuming training" : "training", T, log);
        pid_t pid;
        if ((rc = spawn(&pid, exe, a.v, log)) < 0) return rc;
        int st = wait_pid(pid);
        if (g_sig) {
            fprintf(stderr, "ablate: %s: interrupted (the run keeps its last checkpoint; run the same command to resume)\n", run);
            return 128 + g_sig;
        }
        if (st != 0) {
            print_tail(log, 15);
            return lm_err_code(LM_EFAIL, "run %s: lamac train exited with status %d (log: %s)", run, st, log);
        }
        if ((rc = put_text(mark, "trained\n")) < 0) return rc;
    }
    for (int t = 0; t < g->nt; t++) {
        char ev[P], done[P];
        snprintf(ev, sizeof ev, "%s/eval/%s", rd, g->ts[t].name);
        snprintf(done, sizeof done, "%s/ablate_done", ev);
        if (lm_path_exists(done)) continue;
        argvb a = {0};
        av(&a, exe);
        av(&a, "eval");
        char model[P]; /* the best checkpoint, else the last (named, so metrics.json records which) */
        snprintf(model, sizeof model, "%s/checkpoints/best.safetensors", rd);
        if (!lm_path_is_file(model)) snprintf(model, sizeof model, "%s/checkpoints/last.safetensors", rd);
        if (!lm_path_is_file(model)) snprintf(model, sizeof model, "%s", rd);
        av(&a, "--model");
        av(&a, model);
        av(&a, "--images");
        av(&a, tsdir[t]);
        av(&a, "--out");
        av(&a, ev);
        av(&a, "--threads");
        avf(&a, "%d", T);
        av(&a, "--device");
        av(&a, o->device ? o->device : "cpu");
        av(&a, "--quiet");
        if (!metric_on(g, "lpips") && !metric_on(g, "lpips_fid100_f1")) av(&a, "--no-lpips");
        if (!metric_on(g, "fid") && !metric_on(g, "ssim_fid100_f1") && !metric_on(g, "lpips_fid100_f1")) av(&a, "--no-fid");
        fprintf(stderr, "ablate: %s: evaluating on '%s'\n", run, g->ts[t].name);
        pid_t pid;
        if ((rc = spawn(&pid, exe, a.v, log)) < 0) return rc;
        int st = wait_pid(pid);
        if (g_sig) return 128 + g_sig;
        char csv[P];
        snprintf(csv, sizeof csv, "%s/metrics.csv", ev);
        if (st != 0 && !(st == 1 && lm_path_exists(csv))) {
            print_tail(log, 15);
            return lm_err_code(LM_EFAIL, "run %s: lamac eval on '%s' exited with status %d (log: %s)", run, g->ts[t].name, st, log);
        }
        if (st == 1) fprintf(stderr, "ablate: %s: warning: some images of '%s' were left out (see %s/metrics.md)\n", run, g->ts[t].name, ev);
        if ((rc = put_text(done, "evaluated\n")) < 0) return rc;
    }
    return 0;
}

static int run_done(const lm_abl_grid *g, const char *out, const lm_abl_variant *v, uint64_t seed) {
    char p[P];
    for (int t = 0; t < g->nt; t++) {
        snprintf(p, sizeof p, "%s/runs/%s-s%llu/eval/%s/ablate_done", out, v->name, (unsigned long long)seed, g->ts[t].name);
        if (!lm_path_exists(p)) return 0;
    }
    return 1;
}

int lm_abl_run(const lm_abl_grid *g, const lm_abl_opts *o) {
    char(*tsdir)[P] = calloc(LM_ABL_MAX_TESTSETS, P);
    int *todo_v = calloc((size_t)g->nv * g->ns + 1, sizeof *todo_v), *todo_s = calloc((size_t)g->nv * g->ns + 1, sizeof *todo_s);
    int rc = 0, ntodo = 0;
    if (!tsdir || !todo_v || !todo_s) {
        rc = lm_err_code(LM_ENOMEM, "out of memory");
        goto cleanup;
    }
    g_sig = 0;
    handlers(1);
    if ((rc = check_out(o->out)) < 0 || (rc = lm_path_mkdirs(o->out)) < 0) goto cleanup;
    char tsroot[P];
    snprintf(tsroot, sizeof tsroot, "%s/testsets", o->out);
    if ((rc = lm_path_mkdirs(tsroot)) < 0) goto cleanup;
    for (int t = 0; t < g->nt; t++)
        if ((rc = testset_dir(tsdir[t], P, &g->ts[t], o->out, 1)) < 0) goto cleanup;
    for (int i = 0; i < g->nv; i++) {
        if (o->only && strcmp(o->only, g->v[i].name)) continue;
        for (int s = 0; s < g->ns; s++) {
            if (o->seed >= 0 && (uint64_t)o->seed != g->seeds[s]) continue;
            if (run_done(g, o->out, &g->v[i], g->seeds[s])) {
                fprintf(stderr, "ablate: %s-s%llu: done, skipped\n", g->v[i].name, (unsigned long long)g->seeds[s]);
                continue;
            }
            todo_v[ntodo] = i, todo_s[ntodo++] = s;
        }
    }
    if (o->jobs <= 1 || ntodo <= 1) {
        for (int k = 0; k < ntodo && !rc; k++) rc = run_one(g, o, &g->v[todo_v[k]], g->seeds[todo_s[k]], tsdir);
        goto cleanup;
    }
    /* --jobs N: each run in a child `lamac ablate GRID --out OUT --only V --seed S` */
    {
        const char *exe = self_exe(o);
        pid_t pids[MAX_KIDS];
        int who[MAX_KIDS], running = 0, next = 0, failed = 0, T = threads_per_run(o);
        while ((next < ntodo && !failed && !g_sig) || running) {
            while (running < o->jobs && running < MAX_KIDS && next < ntodo && !failed && !g_sig) {
                const lm_abl_variant *v = &g->v[todo_v[next]];
                argvb a = {0};
                char log[P];
                snprintf(log, sizeof log, "%s/logs/%s-s%llu.log", o->out, v->name, (unsigned long long)g->seeds[todo_s[next]]);
                if ((rc = lm_path_mkparents(log)) < 0) break;
                av(&a, exe);
                av(&a, "ablate");
                av(&a, o->grid);
                av(&a, "--out");
                av(&a, o->out);
                av(&a, "--only");
                av(&a, v->name);
                av(&a, "--seed");
                avf(&a, "%llu", (unsigned long long)g->seeds[todo_s[next]]);
                av(&a, "--threads");
                avf(&a, "%d", T);
                av(&a, "--device");
                av(&a, o->device ? o->device : "cpu");
                fprintf(stderr, "ablate: %s-s%llu: started (%d threads; log %s)\n", v->name,
                        (unsigned long long)g->seeds[todo_s[next]], T, log);
                if ((rc = spawn(&pids[running], exe, a.v, log)) < 0) break;
                who[running++] = next++;
            }
            if (rc < 0) failed = 1;
            if (!running) break;
            int st = 0;
            pid_t p = wait(&st);
            if (p < 0) {
                if (errno == EINTR) continue;
                break;
            }
            kid_del(p);
            for (int k = 0; k < running; k++) {
                if (pids[k] != p) continue;
                int code = status_code(st);
                const lm_abl_variant *v = &g->v[todo_v[who[k]]];
                unsigned long long sd = (unsigned long long)g->seeds[todo_s[who[k]]];
                if (code && !g_sig) {
                    char log[P];
                    snprintf(log, sizeof log, "%s/logs/%s-s%llu.log", o->out, v->name, sd);
                    print_tail(log, 15);
                    if (!failed) rc = lm_err_code(LM_EFAIL, "run %s-s%llu failed (status %d; log %s)", v->name, sd, code, log);
                    failed = 1;
                } else if (!code) {
                    fprintf(stderr, "ablate: %s-s%llu: done\n", v->name, sd);
                }
                pids[k] = pids[running - 1];
                who[k] = who[running - 1];
                running--;
                break;
            }
        }
        if (g_sig) rc = 128 + g_sig;
    }
cleanup:
    if (g_sig && rc >= 0) rc = 128 + g_sig;
    handlers(0);
    free(tsdir);
    free(todo_v);
    free(todo_s);
    return rc;
}

/* ---- collect: the table ------------------------------------------------------------------ */

typedef struct cell {
    double sum, sq;
    double vals[LM_ABL_MAX_SEEDS];
    int n;
} cell;

/* metrics.csv of one evaluation: the mean of metric in group ("total", "10-20%"); NaN when
 * absent or skipped. */
static double csv_value(const char *csv, const char *metric, const char *group) {
    if (!csv) return NAN;
    size_t ml = strlen(metric), gl = strlen(group);
    for (const char *s = csv; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
        if (strncmp(s, metric, ml) || s[ml] != ',' || strncmp(s + ml + 1, group, gl) || s[ml + 1 + gl] != ',') continue;
        const char *v = s + ml + gl + 2;
        if (*v == ',') return NAN;
        return strtod(v, NULL);
    }
    return NAN;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *t = NULL;
    size_t n = 0;
    if (lm_read_all(f, &t, &n) < 0) t = NULL;
    fclose(f);
    return t;
}

/* metrics.md's "- **fid** — reason" line of a skipped metric */
static void skip_reason(char *dst, size_t cap, const char *md, const char *metric) {
    dst[0] = 0;
    if (!md) return;
    char pat[64];
    snprintf(pat, sizeof pat, "- **%s** \xe2\x80\x94 ", metric);
    const char *s = strstr(md, pat);
    if (!s) return;
    s += strlen(pat);
    const char *e = strchr(s, '\n');
    snprintf(dst, cap, "%.*s", (int)(e ? e - s : (long)strlen(s)), s);
}

static void fmt_num(char *b, size_t cap, double v) {
    if (isnan(v)) snprintf(b, cap, "%s", "");
    else snprintf(b, cap, "%.4g", v);
}

static void json_num(lm_strbuf *b, double v) {
    if (isnan(v) || isinf(v)) lm_strbuf_str(b, "null");
    else lm_strbuf_fmt(b, "%.10g", v);
}

/* the groups (bins) that appear in any metrics.csv, in the order of the first one */
typedef struct groups {
    char name[16][16];
    int n;
} groups;

static void note_groups(groups *gr, const char *csv, const char *metric) {
    size_t ml = strlen(metric);
    for (const char *s = csv; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
        if (strncmp(s, metric, ml) || s[ml] != ',') continue;
        const char *gs = s + ml + 1, *ge = strchr(gs, ',');
        if (!ge || (size_t)(ge - gs) >= sizeof gr->name[0] || !strncmp(gs, "total", 5)) continue;
        int have = 0;
        for (int i = 0; i < gr->n; i++) have |= (strlen(gr->name[i]) == (size_t)(ge - gs) && !strncmp(gr->name[i], gs, (size_t)(ge - gs)));
        if (!have && gr->n < 16) snprintf(gr->name[gr->n++], sizeof gr->name[0], "%.*s", (int)(ge - gs), gs);
    }
}

static void cell_add(cell *c, double v) {
    if (isnan(v) || c->n >= LM_ABL_MAX_SEEDS) return;
    c->vals[c->n++] = v;
    c->sum += v;
}
static double cell_mean(const cell *c) { return c->n ? c->sum / c->n : NAN; }
static double cell_std(const cell *c) { /* over seeds, ddof 1 */
    if (c->n < 2) return NAN;
    double m = cell_mean(c), s = 0;
    for (int i = 0; i < c->n; i++) s += (c->vals[i] - m) * (c->vals[i] - m);
    return sqrt(s / (c->n - 1));
}

static void commas(char *b, size_t cap, long long v) {
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    size_t n = strlen(t), j = 0;
    for (size_t i = 0; i < n && j + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) b[j++] = ',';
        b[j++] = t[i];
    }
    b[j] = 0;
}

int lm_abl_collect(const lm_abl_grid *g, const char *out, FILE *f) {
    int nv = g->nv, nt = g->nt, nm = g->nm, ncol = nt * nm, rc = 0;
    char(*cols)[160] = calloc((size_t)(ncol + LM_ABL_MAX_REF * nv + 1), 160);
    cell *cells = calloc((size_t)nv * ncol + 1, sizeof *cells);
    /* per variant x testset x metric x group: mean over seeds of the bin means */
    groups gr = {0};
    cell *bins = calloc((size_t)nv * ncol * 16 + 1, sizeof *bins);
    char reasons[LM_ABL_MAX_METRICS][1024];
    memset(reasons, 0, sizeof reasons);
    lm_strbuf md = {0}, csv = {0}, js = {0}, runs = {0};
    char path[P];
    int evaluated = 0, total = 0;
    if ((rc = check_out(out)) < 0) goto cleanup;
    if (!cols || !cells || !bins) {
        rc = lm_err_code(LM_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int t = 0; t < nt; t++)
        for (int m = 0; m < nm; m++) snprintf(cols[t * nm + m], 160, "%s.%s", g->ts[t].name, g->metrics[m]);
    int nc = ncol; /* + the paper's columns the grid's test sets do not have */
    for (int i = 0; i < nv; i++)
        for (int r = 0; r < g->v[i].n_ref; r++) {
            int have = 0;
            for (int c = 0; c < nc; c++) have |= !strcmp(cols[c], g->v[i].ref[r].key);
            if (!have) snprintf(cols[nc++], 160, "%s", g->v[i].ref[r].key);
        }
    lm_strbuf missing = {0};
    lm_strbuf_str(&runs, "[");
    int first_run = 1;
    for (int i = 0; i < nv; i++)
        for (int s = 0; s < g->ns; s++) {
            char run[192];
            snprintf(run, sizeof run, "%s-s%llu", g->v[i].name, (unsigned long long)g->seeds[s]);
            for (int t = 0; t < nt; t++) {
                total++;
                snprintf(path, sizeof path, "%s/runs/%s/eval/%s/ablate_done", out, run, g->ts[t].name);
                if (!lm_path_exists(path)) {
                    lm_strbuf_fmt(&missing, "%s%s on %s", missing.n ? ", " : "", run, g->ts[t].name);
                    continue;
                }
                evaluated++;
                snprintf(path, sizeof path, "%s/runs/%s/eval/%s/metrics.csv", out, run, g->ts[t].name);
                char *text = slurp(path);
                snprintf(path, sizeof path, "%s/runs/%s/eval/%s/metrics.md", out, run, g->ts[t].name);
                char *mdt = slurp(path);
                for (int m = 0; m < nm; m++) {
                    double v = csv_value(text, g->metrics[m], "total");
                    cell_add(&cells[(size_t)i * ncol + t * nm + m], v);
                    if (isnan(v) && !reasons[m][0]) skip_reason(reasons[m], sizeof reasons[m], mdt, g->metrics[m]);
                    note_groups(&gr, text, g->metrics[m]);
                    for (int k = 0; k < gr.n; k++)
                        cell_add(&bins[((size_t)i * ncol + t * nm + m) * 16 + k], csv_value(text, g->metrics[m], gr.name[k]));
                }
                free(text);
                free(mdt);
            }
            /* the training curves for the report */
            snprintf(path, sizeof path, "%s/runs/%s/metrics.jsonl", out, run);
            char *jl = slurp(path);
            if (!jl) continue;
            lm_strbuf_fmt(&runs, "%s{\"run\":", first_run ? "" : ",\n");
            lm_strbuf_json(&runs, run);
            lm_strbuf_str(&runs, ",\"variant\":");
            lm_strbuf_json(&runs, g->v[i].name);
            lm_strbuf_fmt(&runs, ",\"seed\":%llu,\"lines\":[", (unsigned long long)g->seeds[s]);
            int first = 1;
            for (char *p = jl; *p;) {
                char *e = strchr(p, '\n');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
                    if (!first) lm_strbuf_str(&runs, ",");
                    lm_strbuf_put(&runs, p, len);
                    first = 0;
                }
                p += len + (e ? 1 : 0);
            }
            lm_strbuf_str(&runs, "]}");
            first_run = 0;
            free(jl);
        }
    lm_strbuf_str(&runs, "]");

    /* table.md */
    char a[64], b[64], pc[64], praw[32];
    int nrows = 0;
    lm_strbuf_fmt(&md, "# Ablation: %s\n\n", g->name);
    lm_strbuf_fmt(&md, "Grid `%s`; seeds", g->path);
    for (int s = 0; s < g->ns; s++) lm_strbuf_fmt(&md, "%s %llu", s ? "," : "", (unsigned long long)g->seeds[s]);
    lm_strbuf_fmt(&md, "; %d of %d evaluations present. Cells: mean ± std over seeds (std with n − 1; "
                       "no ± with one seed), n in brackets when fewer seeds than the grid has.\n\n", evaluated, total);
    lm_strbuf_str(&md, "| variant | generator params |");
    for (int c = 0; c < nc; c++) lm_strbuf_fmt(&md, " %s |", cols[c]);
    lm_strbuf_str(&md, "\n|---|---:|");
    for (int c = 0; c < nc; c++) lm_strbuf_str(&md, "---:|");
    lm_strbuf_str(&md, "\n");
    lm_strbuf_str(&csv, "variant,kind,params,testset,metric,mean,std,n\n");
    lm_strbuf_str(&js, "{\"name\":");
    lm_strbuf_json(&js, g->name);
    lm_strbuf_str(&js, ",\"grid\":");
    lm_strbuf_json(&js, g->path);
    lm_strbuf_str(&js, ",\"seeds\":[");
    for (int s = 0; s < g->ns; s++) lm_strbuf_fmt(&js, "%s%llu", s ? "," : "", (unsigned long long)g->seeds[s]);
    lm_strbuf_str(&js, "],\"testsets\":[");
    for (int t = 0; t < nt; t++) {
        lm_strbuf_str(&js, t ? ",{\"name\":" : "{\"name\":");
        lm_strbuf_json(&js, g->ts[t].name);
        if (g->ts[t].dir[0]) {
            lm_strbuf_str(&js, ",\"dir\":");
            lm_strbuf_json(&js, g->ts[t].dir);
        } else {
            lm_strbuf_str(&js, ",\"images\":");
            lm_strbuf_json(&js, g->ts[t].images);
            lm_strbuf_fmt(&js, ",\"masks\":\"%s\",\"size\":%d", g->ts[t].masks, g->ts[t].size);
        }
        lm_strbuf_str(&js, "}");
    }
    lm_strbuf_str(&js, "],\"columns\":[");
    for (int c = 0; c < nc; c++) {
        if (c) lm_strbuf_str(&js, ",");
        lm_strbuf_json(&js, cols[c]);
    }
    lm_strbuf_fmt(&js, "],\"evaluations\":%d,\"evaluations_expected\":%d,\"rows\":[", evaluated, total);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nv; i++) {
            const lm_abl_variant *v = &g->v[i];
            if (pass && !v->n_ref) continue;
            commas(pc, sizeof pc, (long long)v->params);
            snprintf(praw, sizeof praw, "%lld", (long long)v->params);
            lm_strbuf_fmt(&md, "| %s%s | %s |", v->name, pass ? " (paper)" : "", pass ? v->params_text : pc);
            lm_strbuf_str(&js, nrows++ ? ",{\"variant\":" : "{\"variant\":");
            lm_strbuf_json(&js, v->name);
            lm_strbuf_fmt(&js, ",\"kind\":\"%s\",\"params\":", pass ? "paper" : "measured");
            if (pass) lm_strbuf_json(&js, v->params_text);
            else lm_strbuf_fmt(&js, "%lld,\"params_paper\":", (long long)v->params), lm_strbuf_json(&js, v->params_text);
            lm_strbuf_str(&js, ",\"cells\":{");
            int firstc = 1;
            for (int c = 0; c < nc; c++) {
                double mean = NAN, sd = NAN;
                int n = 0;
                if (pass) {
                    for (int r = 0; r < v->n_ref; r++)
                        if (!strcmp(v->ref[r].key, cols[c])) mean = v->ref[r].v, n = 1;
                } else if (c < ncol) {
                    const cell *ce = &cells[(size_t)i * ncol + c];
                    mean = cell_mean(ce), sd = cell_std(ce), n = ce->n;
                }
                fmt_num(a, sizeof a, mean);
                if (isnan(sd)) b[0] = 0;
                else snprintf(b, sizeof b, "%.2g", sd);
                if (isnan(mean)) lm_strbuf_str(&md, " |");
                else if (!pass && n < g->ns) lm_strbuf_fmt(&md, " %s%s%s (%d) |", a, isnan(sd) ? "" : " ± ", b, n);
                else lm_strbuf_fmt(&md, " %s%s%s |", a, isnan(sd) ? "" : " ± ", b);
                if (isnan(mean)) continue;
                const char *dot = strchr(cols[c], '.');
                lm_strbuf_fmt(&csv, "%s,%s,%s,%.*s,%s,", v->name, pass ? "paper" : "measured", pass ? v->params_text : praw,
                              (int)(dot - cols[c]), cols[c], dot + 1);
                lm_strbuf_fmt(&csv, "%.10g,", mean);
                if (!isnan(sd)) lm_strbuf_fmt(&csv, "%.10g", sd);
                lm_strbuf_fmt(&csv, ",%d\n", n);
                lm_strbuf_fmt(&js, "%s", firstc ? "" : ",");
                lm_strbuf_json(&js, cols[c]);
                lm_strbuf_str(&js, ":{\"mean\":");
                json_num(&js, mean);
                lm_strbuf_str(&js, ",\"std\":");
                json_num(&js, sd);
                lm_strbuf_fmt(&js, ",\"n\":%d", n);
                if (!pass) { /* the per-seed values, in the order of the grid's seeds that have one */
                    const cell *ce = &cells[(size_t)i * ncol + c];
                    lm_strbuf_str(&js, ",\"values\":[");
                    for (int k = 0; k < ce->n; k++) lm_strbuf_fmt(&js, "%s%.10g", k ? "," : "", ce->vals[k]);
                    lm_strbuf_str(&js, "]");
                }
                lm_strbuf_str(&js, "}");
                firstc = 0;
            }
            lm_strbuf_str(&js, "}}");
            lm_strbuf_str(&md, "\n");
        }
    lm_strbuf_str(&js, "],\"notes\":[");
    lm_strbuf note = {0};
    int nn = 0;
#define NOTE(...)                                                                        \
    do {                                                                                 \
        note.n = 0;                                                                      \
        lm_strbuf_fmt(&note, __VA_ARGS__);                                               \
        lm_strbuf_fmt(&md, "%s- %s\n", nn ? "" : "\n", note.p ? note.p : "");            \
        if (nn) lm_strbuf_str(&js, ",");                                                 \
        lm_strbuf_json(&js, note.p ? note.p : "");                                       \
        nn++;                                                                            \
    } while (0)
    for (int m = 0; m < nm; m++)
        if (reasons[m][0]) NOTE("%s not computed: %s", g->metrics[m], reasons[m]);
    if (missing.n) NOTE("not evaluated yet: %s", missing.p);
    int any_ref = 0;
    for (int i = 0; i < nv; i++) any_ref |= g->v[i].n_ref > 0;
    if (any_ref)
        NOTE("rows marked (paper) are reference numbers, not measured here%s%s", g->paper_source[0] ? ": " : "", g->paper_source);
    if (g->paper_note[0]) NOTE("%s", g->paper_note);
#undef NOTE
    lm_strbuf_free(&note);
    lm_strbuf_free(&missing);
    lm_strbuf_str(&js, "]}");
    if (md.oom || csv.oom || js.oom || runs.oom) {
        rc = lm_err_code(LM_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = lm_path_mkdirs(out)) < 0) goto cleanup;
    snprintf(path, sizeof path, "%s/table.md", out);
    if ((rc = lm_atomic_write_file(path, md.p, md.n)) < 0) goto cleanup;
    snprintf(path, sizeof path, "%s/table.csv", out);
    if ((rc = lm_atomic_write_file(path, csv.p, csv.n)) < 0) goto cleanup;
    snprintf(path, sizeof path, "%s/table.json", out);
    lm_strbuf_str(&js, "\n");
    if ((rc = lm_atomic_write_file(path, js.p, js.n)) < 0) goto cleanup;
    js.p[--js.n] = 0;

    /* report.html: the table, the runs' curves, the per-bin means */
    {
        lm_strbuf rep = {0};
        lm_strbuf_str(&rep, "{\"table\":");
        lm_strbuf_put(&rep, js.p, js.n);
        lm_strbuf_str(&rep, ",\"runs\":");
        lm_strbuf_put(&rep, runs.p, runs.n);
        lm_strbuf_str(&rep, ",\"bins\":[");
        int firstb = 1;
        for (int i = 0; i < nv; i++)
            for (int t = 0; t < nt; t++)
                for (int m = 0; m < nm; m++) {
                    const cell *bc = &bins[((size_t)i * ncol + t * nm + m) * 16];
                    int any = 0;
                    for (int k = 0; k < gr.n; k++) any |= bc[k].n > 0;
                    if (!any) continue;
                    lm_strbuf_str(&rep, firstb ? "{\"variant\":" : ",{\"variant\":");
                    lm_strbuf_json(&rep, g->v[i].name);
                    lm_strbuf_str(&rep, ",\"testset\":");
                    lm_strbuf_json(&rep, g->ts[t].name);
                    lm_strbuf_fmt(&rep, ",\"metric\":\"%s\",\"pts\":[", g->metrics[m]);
                    int fp = 1;
                    for (int k = 0; k < gr.n; k++) {
                        if (!bc[k].n) continue;
                        double lo = strtod(gr.name[k], NULL), hi = lo;
                        const char *dash = strchr(gr.name[k], '-');
                        if (dash) hi = strtod(dash + 1, NULL);
                        lm_strbuf_fmt(&rep, "%s[%.6g,", fp ? "" : ",", 0.5 * (lo + hi));
                        json_num(&rep, cell_mean(&bc[k]));
                        lm_strbuf_str(&rep, "]");
                        fp = 0;
                    }
                    lm_strbuf_str(&rep, "]}");
                    firstb = 0;
                }
        lm_strbuf_str(&rep, "]}");
        if (rep.oom) rc = lm_err_code(LM_ENOMEM, "out of memory");
        else if (lm_report_html_ablate(out, g->name, rep.p, rep.n) < 0)
            fprintf(stderr, "lamac ablate: warning: %s/report.html: %s\n", out, lm_err_msg()), lm_err_clear();
        lm_strbuf_free(&rep);
    }
    if (f) fwrite(md.p, 1, md.n, f);
cleanup:
    lm_strbuf_free(&md);
    lm_strbuf_free(&csv);
    lm_strbuf_free(&js);
    lm_strbuf_free(&runs);
    free(cols);
    free(cells);
    free(bins);
    return rc;
}

/* ---- Slurm ---------------------------------------------------------------------------------- */

static void shq(lm_strbuf *b, const char *s) { /* single-quoted for bash */
    lm_strbuf_str(b, "'");
    for (; *s; s++)
        if (*s == '\'') lm_strbuf_str(b, "'\\''");
        else lm_strbuf_put(b, s, 1);
    lm_strbuf_str(b, "'");
}

int lm_abl_write_slurm(const lm_abl_grid *g, const lm_abl_opts *o) {
    char grid[PATH_MAX], out[PATH_MAX], dir[P], path[P];
    const char *exe = self_exe(o);
    int rc = check_out(o->out);
    if (!rc) rc = lm_path_mkdirs(o->out);
    if (rc < 0) return rc;
    if (!realpath(o->grid, grid)) return lm_err_code(LM_EIO, "%s: %s", o->grid, strerror(errno));
    if (!realpath(o->out, out)) return lm_err_code(LM_EIO, "%s: %s", o->out, strerror(errno));
    snprintf(dir, sizeof dir, "%s/slurm", out);
    if ((rc = lm_path_mkdirs(dir)) < 0) return rc;
    snprintf(path, sizeof path, "%s/logs", out);
    if ((rc = lm_path_mkdirs(path)) < 0) return rc;
    int n = 0, T = o->threads > 0 ? o->threads : 8;
    lm_strbuf a = {0}, c = {0}, s = {0};
    for (int i = 0; i < g->nv; i++)
        for (int k = 0; k < g->ns; k++) n++;
    lm_strbuf_fmt(&a, "#!/bin/bash\n# lamac ablate: one task per variant x seed of %s (%d tasks)\n", grid, n);
    lm_strbuf_fmt(&a, "#SBATCH --job-name=ablate-%s\n#SBATCH --array=0-%d\n#SBATCH --cpus-per-task=%d\n", g->name, n - 1, T);
    lm_strbuf_fmt(&a, "#SBATCH --output=%s/logs/slurm-%%A_%%a.out\n", out);
    lm_strbuf_str(&a, "# add your partition, time limit and (for --device cuda) --gres=gpu:1 here\nset -euo pipefail\nRUNS=(\n");
    for (int i = 0; i < g->nv; i++)
        for (int k = 0; k < g->ns; k++) lm_strbuf_fmt(&a, "  \"%s %llu\"\n", g->v[i].name, (unsigned long long)g->seeds[k]);
    lm_strbuf_str(&a, ")\nset -- ${RUNS[$SLURM_ARRAY_TASK_ID]}\nexec ");
    shq(&a, exe);
    lm_strbuf_str(&a, " ablate ");
    shq(&a, grid);
    lm_strbuf_str(&a, " --out ");
    shq(&a, out);
    lm_strbuf_fmt(&a, " --only \"$1\" --seed \"$2\" --threads \"${SLURM_CPUS_PER_TASK:-%d}\" --device %s\n", T,
                  o->device ? o->device : "cpu");
    lm_strbuf_fmt(&c, "#!/bin/bash\n# lamac ablate: the table of %s from what the runs left\n", grid);
    lm_strbuf_fmt(&c, "#SBATCH --job-name=ablate-%s-collect\n#SBATCH --cpus-per-task=1\n#SBATCH --output=%s/logs/slurm-collect-%%j.out\nexec ", g->name, out);
    shq(&c, exe);
    lm_strbuf_str(&c, " ablate ");
    shq(&c, grid);
    lm_strbuf_str(&c, " --out ");
    shq(&c, out);
    lm_strbuf_str(&c, " --collect\n");
    lm_strbuf_str(&s, "#!/bin/bash\n# submits the array, then the collect job once every task has ended\nset -euo pipefail\n");
    lm_strbuf_fmt(&s, "jid=$(sbatch --parsable %s/array.sbatch)\nsbatch --dependency=afterany:\"${jid%%%%;*}\" %s/collect.sbatch\n", dir, dir);
    if (a.oom || c.oom || s.oom) rc = lm_err_code(LM_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/array.sbatch", dir);
    if (!rc) rc = lm_atomic_write_file(path, a.p, a.n);
    snprintf(path, sizeof path, "%s/collect.sbatch", dir);
    if (!rc) rc = lm_atomic_write_file(path, c.p, c.n);
    snprintf(path, sizeof path, "%s/submit.sh", dir);
    if (!rc) rc = lm_atomic_write_file(path, s.p, s.n);
    if (!rc) chmod(path, 0755);
    if (!rc) printf("%s/array.sbatch (%d tasks)\n%s/collect.sbatch\n%s/submit.sh (run it to submit both)\n", dir, n, dir, dir);
    lm_strbuf_free(&a);
    lm_strbuf_free(&c);
    lm_strbuf_free(&s);
    return rc;
}
