/* main.c — the `lamac` command line: dispatches to the subcommands in cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "cli/command.h"

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

int main(int argc, char **argv) {
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
