/* launch.h — the local launcher of data-parallel workers, with torchrun's semantics
 * (torch.distributed.run, static rendezvous): `--nproc-per-node N [--nnodes M --node-rank R
 * --master ADDR:PORT]` starts N copies of the same program on this node, each with
 * RANK = R·N + i, WORLD_SIZE = M·N, LOCAL_RANK = i, LOCAL_WORLD_SIZE = N, GROUP_RANK = R,
 * MASTER_ADDR, MASTER_PORT in its environment (and OMP_NUM_THREADS=1 when it was not set and
 * N > 1, as torchrun does), waits for them, and fails fast: when one worker fails (non-zero
 * exit or a signal), the others get SIGTERM, then SIGKILL after a grace period, and the
 * launcher returns an error naming the failed rank and its status. SIGINT/SIGTERM sent to
 * the launcher are passed on to the workers. A worker whose launcher dies gets SIGTERM
 * (PR_SET_PDEATHSIG). Workers find their rank through the environment (train/ddp.h), so a
 * program launched by torchrun or srun behaves the same. No libtorch here (core/). The
 * command-line flags that fill lm_launch_opts are read in cli/launch_args.h. */
#ifndef LM_LAUNCH_H
#define LM_LAUNCH_H

typedef struct lm_launch_opts {
    int nproc_per_node;     /* 0: no launch requested */
    int nnodes, node_rank;  /* 1, 0 */
    char master_addr[256];  /* 127.0.0.1 */
    int master_port;        /* 29500; 0: a free port of this machine (single node only) */
    double grace_s;         /* SIGTERM -> SIGKILL delay for the others after a failure (10 s) */
} lm_launch_opts;

lm_launch_opts lm_launch_defaults(void);

/* Runs the workers: exe (NULL: this program, /proc/self/exe) with argv (argv[0] kept) and
 * the environment above; blocks until all have exited. 0 when every worker exited with
 * status 0; otherwise LM_EFAIL with a message such as "launch: rank 1 (local 1, pid 4242)
 * was killed by signal 9 (Killed) after 3.1 s; the other 2 workers were stopped". */
int lm_launch_run(const lm_launch_opts *o, const char *exe, char *const *argv);

/* The status a launcher process should exit with after its last lm_launch_run, as a shell
 * reports a child: 0 when every worker succeeded; 128 + S when the launcher itself got
 * SIGINT/SIGTERM S (passed on to the workers, waited for) or when the first worker to fail
 * was killed by signal S; that worker's exit status when it exited non-zero; 1 when the
 * launcher could not start the workers. */
int lm_launch_exit_code(void);

/* A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0), or LM_EIO. */
int lm_launch_free_port(void);

#endif
