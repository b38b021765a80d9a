/* launch.c — local launcher of data-parallel workers (see launch.h; torch.distributed.run's
 * LocalElasticAgent with a static rendezvous and no restarts). */
#define _GNU_SOURCE
#include "core/launch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"

extern char **environ;

lm_launch_opts lm_launch_defaults(void) {
    lm_launch_opts o;
    memset(&o, 0, sizeof o);
    o.nnodes = 1;
    snprintf(o.master_addr, sizeof o.master_addr, "127.0.0.1");
    o.master_port = 29500;
    o.grace_s = 10;
    return o;
}

int lm_launch_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return lm_err_code(LM_EIO, "launch: socket: %s", strerror(errno));
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    int e = errno;
    close(fd);
    if (port <= 0) return lm_err_code(LM_EIO, "launch: finding a free port: %s", strerror(e));
    return port;
}

static volatile sig_atomic_t g_signal;
static int g_exit_code = 1; /* until a launch ran: the workers were not started */

int lm_launch_exit_code(void) { return g_exit_code; }
static void on_signal(int sig) { g_signal = sig; }

/* environ without the variables we set, plus ours. */
static char **make_env(char **vars, int nvars) {
    int n = 0;
    for (char **e = environ; *e; e++) n++;
    char **env = calloc((size_t)(n + nvars + 1), sizeof *env);
    if (!env) return NULL;
    int k = 0;
    for (char **e = environ; *e; e++) {
        int replaced = 0;
        for (int j = 0; j < nvars && !replaced; j++) {
            size_t klen = (size_t)(strchr(vars[j], '=') - vars[j]);
            replaced = !strncmp(*e, vars[j], klen + 1);
        }
        if (!replaced) env[k++] = *e;
    }
    for (int j = 0; j < nvars; j++) env[k++] = vars[j];
    env[k] = NULL;
    return env;
}

typedef struct worker {
    pid_t pid;
    int rank, local, done, status;
    char vars[8][320];
    char **env;
} worker;

static void describe(char *buf, size_t cap, int status) {
    if (WIFEXITED(status)) snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(buf, cap, "stopped (status 0x%x)", status);
}

int lm_launch_run(const lm_launch_opts *o, const char *exe, char *const *argv) {
    int n = o->nproc_per_node, rc = 0;
    g_exit_code = 1;
    if (n < 1) return lm_err_code(LM_EINVAL, "launch: --nproc-per-node must be >= 1");
    lm_launch_opts lo = *o;
    if (lo.master_port == 0) {
        if (lo.nnodes > 1) return lm_err_code(LM_EINVAL, "launch: port 0 (pick a free one) works on one node only");
        if ((lo.master_port = lm_launch_free_port()) < 0) return lo.master_port;
    }
    if (!exe) exe = "/proc/self/exe";
    int world = lo.nnodes * n;
    int set_omp = n > 1 && !getenv("OMP_NUM_THREADS");
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    g_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    fprintf(stderr, "launch: %d worker(s) on this node: ranks %d..%d of %d, master %s:%d%s\n", n, lo.node_rank * n,
            lo.node_rank * n + n - 1, world, lo.master_addr, lo.master_port,
            set_omp ? "; OMP_NUM_THREADS=1 (not set; as torchrun does)" : "");
    fflush(stderr);
    fflush(stdout);
    worker *w = calloc((size_t)n, sizeof *w);
    if (!w) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        return lm_err_code(LM_ENOMEM, "launch: out of memory");
    }
    pid_t parent = getpid();
    double t0 = lm_clock_now();
    int started = 0;
    for (int i = 0; i < n; i++) {
        worker *x = &w[i];
        x->local = i;
        x->rank = lo.node_rank * n + i;
        int nv = 0;
        snprintf(x->vars[nv++], sizeof x->vars[0], "RANK=%d", x->rank);
        snprintf(x->vars[nv++], sizeof x->vars[0], "WORLD_SIZE=%d", world);
        snprintf(x->vars[nv++], sizeof x->vars[0], "LOCAL_RANK=%d", i);
        snprintf(x->vars[nv++], sizeof x->vars[0], "LOCAL_WORLD_SIZE=%d", n);
        snprintf(x->vars[nv++], sizeof x->vars[0], "GROUP_RANK=%d", lo.node_rank);
        snprintf(x->vars[nv++], sizeof x->vars[0], "MASTER_ADDR=%s", lo.master_addr);
        snprintf(x->vars[nv++], sizeof x->vars[0], "MASTER_PORT=%d", lo.master_port);
        if (set_omp) snprintf(x->vars[nv++], sizeof x->vars[0], "OMP_NUM_THREADS=1");
        char *vp[8];
        for (int j = 0; j < nv; j++) vp[j] = x->vars[j];
        x->env = make_env(vp, nv);
        if (!x->env) {
            rc = lm_err_code(LM_ENOMEM, "launch: out of memory");
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            rc = lm_err_code(LM_EIO, "launch: fork: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            sigaction(SIGINT, &old_int, NULL);
            sigaction(SIGTERM, &old_term, NULL);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) _exit(127);
            execve(exe, argv, x->env);
            static const char msg[] = "launch: exec failed\n";
            if (write(2, msg, sizeof msg - 1) < 0) _exit(127);
            _exit(127);
        }
        x->pid = pid;
        started++;
    }
    /* wait; on the first failure (or a signal to us, or a failed start) stop the rest */
    int failed = -1, alive = started, stopping = rc != 0;
    double kill_at = stopping ? lm_clock_now() + lo.grace_s : 0, fail_time = 0;
    if (stopping)
        for (int i = 0; i < started; i++) kill(w[i].pid, SIGTERM);
    while (alive > 0) {
        int progressed = 0;
        for (int i = 0; i < started; i++) {
            if (w[i].done) continue;
            int st;
            pid_t r = waitpid(w[i].pid, &st, WNOHANG);
            if (r == 0 || (r < 0 && errno == EINTR)) continue;
            w[i].done = 1;
            w[i].status = r < 0 ? -1 : st;
            alive--;
            progressed = 1;
            int ok = r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
            if (!ok && failed < 0 && !stopping) {
                failed = i;
                fail_time = lm_clock_now() - t0;
            }
        }
        if (!stopping && (failed >= 0 || g_signal)) {
            stopping = 1;
            kill_at = lm_clock_now() + lo.grace_s;
            int sig = g_signal ? g_signal : SIGTERM;
            for (int i = 0; i < started; i++)
                if (!w[i].done) kill(w[i].pid, sig), kill(w[i].pid, SIGCONT); /* a stopped one too */
        }
        if (stopping && alive > 0 && lm_clock_now() > kill_at) {
            for (int i = 0; i < started; i++)
                if (!w[i].done) kill(w[i].pid, SIGKILL);
            kill_at = lm_clock_now() + 3600;
        }
        if (alive > 0 && !progressed) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!rc && g_signal) g_exit_code = 128 + (int)g_signal;
    else if (!rc && failed >= 0) {
        int st = w[failed].status;
        g_exit_code = st != -1 && WIFSIGNALED(st) ? 128 + WTERMSIG(st)
                    : st != -1 && WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1;
    } else if (!rc) g_exit_code = 0;
    if (!rc && failed >= 0) {
        char how[128];
        describe(how, sizeof how, w[failed].status);
        int others = 0;
        for (int i = 0; i < started; i++)
            if (i != failed) others++;
        rc = lm_err_code(LM_EFAIL, "launch: rank %d (local %d, pid %d) %s after %.1f s; the other %d worker(s) on this "
                                   "node were stopped", w[failed].rank, w[failed].local, (int)w[failed].pid, how,
                         fail_time, others);
    } else if (!rc && g_signal) {
        rc = lm_err_code(LM_EFAIL, "launch: interrupted by signal %d (%s); the %d worker(s) were stopped", (int)g_signal,
                         strsignal(g_signal), started);
    } else if (rc) {
        lm_err_prefix("launch: after starting %d of %d workers", started, n);
    }
    for (int i = 0; i < n; i++) free(w[i].env);
    free(w);
    return rc;
}
