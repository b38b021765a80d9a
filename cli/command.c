/* command.c — helpers the `lamac` subcommands share (see command.h); no official
 * counterpart (the official scripts take Hydra overrides). */
#include "cli/command.h"

#include <string.h>

int lm_cmd_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}
