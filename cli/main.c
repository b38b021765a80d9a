/* main.c — the `lamac` command line: dispatches to the subcommands in cli/cmd_*.c. */
#define _GNU_SOURCE /* setenv, sched_getaffinity */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "cli/command.h"
#include "shim/lt.h"

#include "commands.inc" /* generated: extern declarations + LM_COMMANDS list */

static const lm_command *const g_commands[] = {LM_COMMANDS NULL};

int lm_cmd_fail(const char *cmd) {
    fprintf(stderr, "lamac %s: %s\n", cmd, lm_err_msg()[0] ? lm_err_msg() : "failed");
    return 1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: lamac [--help] [--version] <command> [args]\n\n"
               "LaMa large-mask inpainting: training, evaluation, prediction.\n\ncommands:\n");
    for (int i = 0; g_commands[i]; i++)
        fprintf(f, "  %-10s %s\n", g_commands[i]->name, g_commands[i]->summary);
    fprintf(f, "\n`lamac <command> --help` describes each command.\n");
}

/* libtorch's CPU threads are an OpenMP team (GNU libgomp), whose idle threads spin for a
 * while at every barrier by default. On a machine whose cores are shared with other processes
 * that spinning collapses: a 2-thread training iteration measured 16-41 s instead of 6.1-6.6 s
 * with passive waiting (README, Performance). libgomp reads its settings once, when it is
 * loaded, so when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set lamac sets
 * OMP_WAIT_POLICY=PASSIVE and runs itself again (once; LAMAC_OMP_SET marks the second run).
 * Set OMP_WAIT_POLICY=ACTIVE to keep spinning on a machine of one's own. */
static void omp_wait_policy(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("LAMAC_OMP_SET")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) || setenv("LAMAC_OMP_SET", "1", 1)) return;
    execv("/proc/self/exe", argv); /* returns only on failure: then run as we are */
    unsetenv("OMP_WAIT_POLICY");
}

/* libtorch's intra-op thread count starts at 1 with Debian's libtorch 1.13 (torch's own
 * get_num_threads() says 1 on a 2-core machine), which leaves every core but one idle. Unless
 * OMP_NUM_THREADS says otherwise (the launcher sets 1 per data-parallel worker, as torchrun),
 * lamac starts with one thread per CPU this process may run on (its affinity mask: taskset,
 * Slurm); each command's --threads still wins. */
static void default_threads(void) {
    if (getenv("OMP_NUM_THREADS")) return;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    int n = CPU_COUNT(&set);
    if (n > 1 && n != lt_get_num_threads()) lt_set_num_threads(n);
}

int main(int argc, char **argv) {
    omp_wait_policy(argv);
    default_threads();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("lamac %s\n", LAMAC_VERSION);
        return 0;
    }
    for (int i = 0; g_commands[i]; i++)
        if (!strcmp(argv[1], g_commands[i]->name)) return g_commands[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "lamac: unknown command '%s' (see lamac --help)\n", argv[1]);
    return 2;
}
