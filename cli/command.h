/* command.h — a `lamac` subcommand. Each lives in cli/cmd_<name>.c and defines
 *     const lm_command lm_cmd_<name> = {"<name>", "one-line summary", run_fn};
 * CMake collects every cli/cmd_*.c into the dispatch table (build/gen/commands.inc),
 * so adding a subcommand needs no edit anywhere else. run_fn gets argv after the
 * subcommand name (argv[0] is the subcommand) and returns the process exit code; it
 * must handle --help itself. */
#ifndef LM_COMMAND_H
#define LM_COMMAND_H

typedef struct lm_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} lm_command;

/* Prints "lamac: <msg>" for the current error to stderr; returns exit code 1. */
int lm_cmd_fail(const char *cmd);

/* 1 when any of argv[1..argc-1] is --help or -h (wherever it stands, even where an option
 * would take it as its value), else 0: the scan that subcommands run before parsing. */
int lm_cmd_wants_help(int argc, char **argv);

#endif
