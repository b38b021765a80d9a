/* launch_args.h — the launcher's command-line flags (torchrun's spelling) in front of the
 * commands that run data-parallel workers (`lamac train`, `lamac bench step`, `lamac
 * ddp-check`): reading them into core/launch.h's options, and starting the workers with the
 * rest of the command line. */
#ifndef LM_LAUNCH_ARGS_H
#define LM_LAUNCH_ARGS_H

#include "core/launch.h"

/* Takes the launcher's flags out of argv (in place; *argc updated, argv[*argc] = NULL):
 * --nproc-per-node N, --nnodes M, --node-rank R, --master ADDR:PORT (or ADDR alone, port
 * 29500; IPv6 as [ADDR]:PORT), each also as --flag=value. Checks them together (node rank
 * below nnodes, nnodes > 1 needs --master with a port). 0 or LM_EINVAL naming the flag. */
int lm_launch_take_args(lm_launch_opts *o, int *argc, char **argv);


/* Runs the workers of a launch (lm_launch_run) as `lamac [group] argv[0] ... argv[argc-1]`
 * (group: "bench" for `lamac bench step`, or NULL). 0 when every worker succeeded; otherwise
 * negative with the message set, and the launcher exits with lm_launch_exit_code(). */
int lm_launch_workers(const lm_launch_opts *o, int argc, char **argv, const char *group);

#endif
