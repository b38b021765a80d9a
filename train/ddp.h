/* ddp.h — data parallelism over c10d process groups (shim/lt.h lt_pgroup_*), with the
 * semantics of torch.nn.parallel.DistributedDataParallel as PyTorch Lightning 1.2 uses it in
 * the official trainer (accelerator ddp): every rank holds a full copy of the networks;
 * parameters and buffers start from rank 0's; before each forward of an optimizer step the
 * buffers (BatchNorm running statistics) are rank 0's again (broadcast_buffers=True); after
 * each backward the gradients are averaged across ranks in buckets of ~25 MB (bucket_cap_mb),
 * so every rank applies the same update and the parameters stay identical.
 *
 * Rendezvous from the environment that torchrun and srun set (lm_ddp_opts_from_env):
 * RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; under Slurm,
 * SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE when the torchrun names are
 * absent. lamac's own variables: LAMAC_DIST_TIMEOUT (seconds, default 1800 like torch),
 * LAMAC_DIST_FILE (a FileStore path instead of the TCP store), LAMAC_DIST_BACKEND (gloo,
 * nccl), LAMAC_DIST_BUCKET_MB (gradient bucket size, default 25 as DDP's bucket_cap_mb), GLOO_SOCKET_IFNAME (the interface Gloo binds to, as in torch).
 *
 * With world size 1 every call below is a no-op that succeeds, so a trainer calls them
 * unconditionally.
 *
 * Use from the training loop (cli/cmd_train.c builds, train/ passes it on):
 *     lm_ddp_opts o; lm_ddp_opts_from_env(&o);          // world size 1 when not launched
 *     lm_ddp *ddp; lm_ddp_create(&ddp, &o, device);      // joins the group (blocks)
 *     lm_ddp_broadcast_params(ddp, &gp, LM_PARAM | LM_BUFFER);   // also after a resume
 *     lm_ddp_broadcast_params(ddp, &dp, LM_PARAM | LM_BUFFER);
 *     lm_step_hooks h = lm_ddp_step_hooks(ddp); lm_step_set_hooks(step, &h);
 *     ... each rank feeds its own slice of the batch stream; rank 0 alone writes files ...
 *     lm_ddp_free(ddp);
 * SyncBatchNorm (trainer.sync_bn): the step gets the group through the hooks (bn_group) and
 * model/layers.h computes BatchNorm statistics over all ranks.
 * trainer.ddp_overlap: the gradient all-reduce overlapped with backward (lm_ddp_overlap_begin).
 * Not built: unused-parameter detection. */
#ifndef LM_DDP_H
#define LM_DDP_H

#include "model/param.h"
#include "train/step.h"

typedef struct lm_ddp_opts {
    int rank, world_size;            /* RANK, WORLD_SIZE (1: no group) */
    int local_rank, local_world_size; /* LOCAL_RANK, LOCAL_WORLD_SIZE (cuda:LOCAL_RANK) */
    char master_addr[256];           /* MASTER_ADDR */
    int master_port;                 /* MASTER_PORT (29500) */
    char file_store[1024];           /* LAMAC_DIST_FILE: FileStore instead of TCP ("" = TCP) */
    char backend[8];                 /* LAMAC_DIST_BACKEND: "gloo", "nccl"; "" = gloo on CPU,
                                      * nccl on CUDA */
    char gloo_iface[64];             /* GLOO_SOCKET_IFNAME */
    double timeout_s;                /* LAMAC_DIST_TIMEOUT (1800): rendezvous and collectives */
    double bucket_mb;                /* gradient bucket size (25, DDP's bucket_cap_mb) */
    int broadcast_buffers;           /* 1 (DDP's default) */
    char source[16];                 /* where rank/world came from: "torchrun", "slurm", "none" */
} lm_ddp_opts;

/* World size 1, rank 0, 127.0.0.1:29500, timeout 1800 s, buckets 25 MB, broadcast_buffers. */
lm_ddp_opts lm_ddp_defaults(void);
/* Defaults, then the environment above. A malformed or inconsistent value (RANK without
 * WORLD_SIZE, rank >= world size, port out of range, no MASTER_ADDR for a TCP store) is an
 * LM_EINVAL error naming the variable. */
int lm_ddp_opts_from_env(lm_ddp_opts *o);

typedef struct lm_ddp lm_ddp;

/* Places this rank on a device: `--device cuda` (has_index 0) means cuda:LOCAL_RANK, an
 * explicit cuda:N is taken as given. n_cuda: the CUDA devices visible (lt_cuda_device_count).
 * Errors (LM_EINVAL) before any group is joined: a local rank with no GPU of its own, and
 * NCCL (the CUDA default) with several ranks of one node on the same explicit cuda:N — NCCL
 * refuses that at the first collective with "invalid usage". CPU or world size 1: no-op. */
int lm_ddp_place(const lm_ddp_opts *o, lt_device *dev, int has_index, int n_cuda);

/* Joins the process group (blocks until every rank joined, or the timeout). dev: where the
 * networks live (CPU: Gloo; CUDA: NCCL unless backend says otherwise). */
int lm_ddp_create(lm_ddp **out, const lm_ddp_opts *o, lt_device dev);
void lm_ddp_free(lm_ddp *d);                 /* accepts NULL */
int lm_ddp_rank(const lm_ddp *d);            /* 0 for NULL */
int lm_ddp_world_size(const lm_ddp *d);      /* 1 for NULL */
int lm_ddp_is_main(const lm_ddp *d);         /* rank 0: the one that writes files */
const lm_ddp_opts *lm_ddp_options(const lm_ddp *d);
/* The process group (borrowed; NULL for world size 1): SyncBatchNorm's (model/layers.h). */
lt_pgroup *lm_ddp_group(const lm_ddp *d);

/* Copies rank 0's tensors of the given kinds (LM_PARAM, LM_BUFFER or both) into every
 * rank's registry (flattened per dtype, one broadcast per bucket). Registries must have the
 * same entries on every rank. 0 or negative. */
int lm_ddp_broadcast_params(lm_ddp *d, lm_params *p, int kinds);
/* Averages the gradient of every trainable (requires_grad) parameter of p across ranks:
 * buckets of ~bucket_mb of one dtype, each flattened (cat of the flattened gradients), summed
 * by one all-reduce, divided by the world size and copied back. A trainable parameter
 * without a gradient is an error naming it (ranks must agree on the set). 0 or negative. */
int lm_ddp_sync_grads(lm_ddp *d, lm_params *p);
/* The same averaging overlapped with backward (trainer.ddp_overlap; DDP's reducer): begin
 * before the backward of a loss (arms the registry: gradient-ready hooks on its trainable
 * parameters, registered on first use, and the buckets of lm_ddp_sync_grads); each bucket's
 * all-reduce starts as soon as its last gradient is accumulated, in bucket order; finish after
 * the backward starts the rest, waits for all and copies the averages back: bitwise the
 * result of lm_ddp_sync_grads. A backward through lt_grad (R1) does not fire the hooks.
 * finish must follow every begin (it also cleans up after a failed backward). 0 or negative. */
int lm_ddp_overlap_begin(lm_ddp *d, lm_params *p);
int lm_ddp_overlap_finish(lm_ddp *d, lm_params *p);
/* Replaces v[0..n) by their mean across ranks (loss values for logging). 0 or negative. */
int lm_ddp_mean(lm_ddp *d, double *v, int n);
int lm_ddp_barrier(lm_ddp *d);

/* Hooks for lm_step_set_hooks: sync_grads = lm_ddp_sync_grads, grads_begin/grads_finish =
 * lm_ddp_overlap_begin/_finish, sync_buffers = a broadcast
 * of LM_BUFFER from rank 0 (when broadcast_buffers), bn_group = the group (SyncBatchNorm when
 * the step's sync_bn is on). All NULL for world size 1 or NULL d. */
lm_step_hooks lm_ddp_step_hooks(lm_ddp *d);

/* Totals since creation (benchmarks): seconds in lm_ddp_sync_grads, its calls, and bytes
 * all-reduced. */
typedef struct lm_ddp_stats {
    double grad_seconds, buffer_seconds;
    long grad_calls, buffer_calls;
    double grad_bytes;
    long hook_calls;                  /* gradient-ready hooks fired (overlap) */
    long buckets_early, buckets_late; /* buckets started during backward / after it (overlap) */
} lm_ddp_stats;
lm_ddp_stats lm_ddp_get_stats(const lm_ddp *d);

#endif
