/* ddp.c — data parallelism over c10d (see ddp.h; torch.nn.parallel.DistributedDataParallel
 * and torch.distributed's env:// rendezvous, as the official trainer gets them through
 * PyTorch Lightning 1.2's ddp accelerator). */
#include "train/ddp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "model/lt_err.h"

typedef struct ov_state ov_state;
static void ov_free(ov_state *o);

struct lm_ddp {
    lm_ddp_opts o;
    lt_pgroup *g; /* NULL for world size 1 */
    lt_device dev;
    lm_ddp_stats st;
    ov_state *ov; /* overlapped all-reduce (lm_ddp_overlap_begin), created on first use */
};

lm_ddp_opts lm_ddp_defaults(void) {
    lm_ddp_opts o;
    memset(&o, 0, sizeof o);
    o.world_size = 1;
    o.local_world_size = 1;
    snprintf(o.master_addr, sizeof o.master_addr, "127.0.0.1");
    o.master_port = 29500;
    o.timeout_s = 1800;
    o.bucket_mb = 25;
    o.broadcast_buffers = 1;
    snprintf(o.source, sizeof o.source, "none");
    return o;
}

/* Integer environment variable: 1 found (in *out), 0 absent, negative malformed. */
static int env_int(const char *name, long lo, long hi, long *out) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    /* SLURM_NTASKS_PER_NODE may read "4(x2)": the count before the parenthesis */
    if (errno || end == v || (*end && !(*end == '(' && !strcmp(name, "SLURM_NTASKS_PER_NODE"))) || n < lo ||
        n > hi)
        return lm_err_code(LM_EINVAL, "distributed: %s=%s: expected an integer in %ld..%ld", name, v, lo, hi);
    *out = n;
    return 1;
}

static int env_str(const char *name, char *dst, size_t cap) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    if (strlen(v) >= cap) return lm_err_code(LM_EINVAL, "distributed: %s is longer than %zu bytes", name, cap - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 1;
}

int lm_ddp_opts_from_env(lm_ddp_opts *o) {
    *o = lm_ddp_defaults();
    long rank = 0, world = 1, local = 0, lws = 0, port = 0;
    double t;
    int r, w;
    if ((r = env_int("RANK", 0, 1 << 24, &rank)) < 0 || (w = env_int("WORLD_SIZE", 1, 1 << 24, &world)) < 0)
        return LM_EINVAL;
    if (r || w) {
        if (!r || !w) return lm_err_code(LM_EINVAL, "distributed: %s is set but %s is not", r ? "RANK" : "WORLD_SIZE",
                                         r ? "WORLD_SIZE" : "RANK");
        snprintf(o->source, sizeof o->source, "torchrun");
        if (env_int("LOCAL_RANK", 0, 1 << 24, &local) < 0 || env_int("LOCAL_WORLD_SIZE", 1, 1 << 24, &lws) < 0)
            return LM_EINVAL;
    } else {
        if ((r = env_int("SLURM_PROCID", 0, 1 << 24, &rank)) < 0 || (w = env_int("SLURM_NTASKS", 1, 1 << 24, &world)) < 0)
            return LM_EINVAL;
        if (r && w) {
            snprintf(o->source, sizeof o->source, "slurm");
            if (env_int("SLURM_LOCALID", 0, 1 << 24, &local) < 0 || env_int("SLURM_NTASKS_PER_NODE", 1, 1 << 24, &lws) < 0)
                return LM_EINVAL;
        } else {
            rank = 0, world = 1;
        }
    }
    if (rank >= world)
        return lm_err_code(LM_EINVAL, "distributed: rank %ld is not below the world size %ld (%s)", rank, world,
                           !strcmp(o->source, "slurm") ? "SLURM_PROCID, SLURM_NTASKS" : "RANK, WORLD_SIZE");
    o->rank = (int)rank;
    o->world_size = (int)world;
    o->local_rank = (int)local;
    o->local_world_size = lws > 0 ? (int)lws : 1;
    if (env_str("LAMAC_DIST_FILE", o->file_store, sizeof o->file_store) < 0 ||
        env_str("GLOO_SOCKET_IFNAME", o->gloo_iface, sizeof o->gloo_iface) < 0 ||
        env_str("LAMAC_DIST_BACKEND", o->backend, sizeof o->backend) < 0)
        return LM_EINVAL;
    if (o->backend[0] && strcmp(o->backend, "gloo") && strcmp(o->backend, "nccl"))
        return lm_err_code(LM_EINVAL, "distributed: LAMAC_DIST_BACKEND=%s: expected gloo or nccl", o->backend);
    int has_addr = env_str("MASTER_ADDR", o->master_addr, sizeof o->master_addr);
    if (has_addr < 0) return LM_EINVAL;
    if ((r = env_int("MASTER_PORT", 1, 65535, &port)) < 0) return LM_EINVAL;
    if (r) o->master_port = (int)port;
    const char *ts = getenv("LAMAC_DIST_TIMEOUT");
    if (ts && *ts) {
        char *end;
        t = strtod(ts, &end);
        if (*end || !(t > 0) || t > 1e7)
            return lm_err_code(LM_EINVAL, "distributed: LAMAC_DIST_TIMEOUT=%s: expected seconds > 0", ts);
        o->timeout_s = t;
    }
    const char *bm = getenv("LAMAC_DIST_BUCKET_MB");
    if (bm && *bm) {
        char *end;
        t = strtod(bm, &end);
        if (*end || !(t > 0) || t > 1e6)
            return lm_err_code(LM_EINVAL, "distributed: LAMAC_DIST_BUCKET_MB=%s: expected megabytes > 0", bm);
        o->bucket_mb = t;
    }
    if (o->world_size > 1 && !has_addr && !o->file_store[0])
        return lm_err_code(LM_EINVAL, "distributed: world size %d but MASTER_ADDR is not set%s", o->world_size,
                           !strcmp(o->source, "slurm")
                               ? " (under Slurm: export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" "
                                 "| head -n 1))"
                               : "");
    return 0;
}

static int is_loopback(const char *a) {
    return !strncmp(a, "127.", 4) || !strcmp(a, "localhost") || !strcmp(a, "::1");
}

int lm_ddp_place(const lm_ddp_opts *o, lt_device *dev, int has_index, int n_cuda) {
    if (*dev < LT_CUDA || o->world_size < 2) return 0;
    if (!has_index) {
        if (n_cuda < 1)
            return lm_err_code(LM_EINVAL,
                               "distributed: rank %d (local rank %d) was asked for a CUDA device, but libtorch sees "
                               "none here (a CPU-only build, no driver, or CUDA_VISIBLE_DEVICES empty): use "
                               "--device cpu",
                               o->rank, o->local_rank);
        if (o->local_rank >= n_cuda)
            return lm_err_code(LM_EINVAL,
                               "distributed: rank %d (local rank %d) would use cuda:%d, but this node has %d CUDA "
                               "device(s): start at most %d worker(s) per node (--nproc-per-node)",
                               o->rank, o->local_rank, o->local_rank, n_cuda, n_cuda);
        *dev = LT_CUDA + o->local_rank;
        return 0;
    }
    const char *be = o->backend[0] ? o->backend : "nccl";
    if (o->local_world_size > 1 && !strcmp(be, "nccl"))
        return lm_err_code(LM_EINVAL,
                           "distributed: NCCL needs one GPU per rank, but the %d ranks on this node would all use "
                           "cuda:%d (an explicit --device index is the same for every rank): use --device cuda "
                           "(rank -> cuda:LOCAL_RANK) or LAMAC_DIST_BACKEND=gloo",
                           o->local_world_size, (int)(*dev - LT_CUDA));
    return 0;
}

int lm_ddp_create(lm_ddp **out, const lm_ddp_opts *o, lt_device dev) {
    *out = NULL;
    if (o->world_size < 1 || o->rank < 0 || o->rank >= o->world_size)
        return lm_err_code(LM_EINVAL, "distributed: rank %d of world size %d", o->rank, o->world_size);
    if (!(o->bucket_mb > 0)) return lm_err_code(LM_EINVAL, "distributed: bucket size must be > 0 MB");
    lm_ddp *d = calloc(1, sizeof *d);
    if (!d) return lm_err_code(LM_ENOMEM, "distributed: out of memory");
    d->o = *o;
    d->dev = dev;
    if (o->world_size > 1) {
        const char *be = o->backend[0] ? o->backend : dev >= LT_CUDA ? "nccl" : "gloo";
        lt_pgroup_opts po;
        memset(&po, 0, sizeof po);
        po.rank = o->rank;
        po.world_size = o->world_size;
        po.master_addr = o->master_addr;
        po.master_port = o->master_port;
        po.file_store = o->file_store[0] ? o->file_store : NULL;
        po.timeout_s = o->timeout_s;
        po.backend = be;
        po.gloo_iface = o->gloo_iface[0] ? o->gloo_iface : NULL;
        /* a loopback rendezvous means one machine: keep Gloo's connections on loopback too */
        po.gloo_host = !po.gloo_iface && is_loopback(o->master_addr) ? "127.0.0.1" : NULL;
        if (lt_pgroup_create(&d->g, &po) < 0) {
            free(d);
            return lm_err_lt("distributed: rank %d of %d: joining the %s group at %s", o->rank, o->world_size, be,
                             o->file_store[0] ? o->file_store : o->master_addr);
        }
    }
    *out = d;
    return 0;
}

void lm_ddp_free(lm_ddp *d) {
    if (!d) return;
    ov_free(d->ov);
    lt_pgroup_free(d->g);
    free(d);
}

int lm_ddp_rank(const lm_ddp *d) { return d ? d->o.rank : 0; }
int lm_ddp_world_size(const lm_ddp *d) { return d ? d->o.world_size : 1; }
int lm_ddp_is_main(const lm_ddp *d) { return lm_ddp_rank(d) == 0; }
lt_pgroup *lm_ddp_group(const lm_ddp *d) { return d ? d->g : NULL; }
const lm_ddp_opts *lm_ddp_options(const lm_ddp *d) { return &d->o; }
lm_ddp_stats lm_ddp_get_stats(const lm_ddp *d) {
    lm_ddp_stats z;
    memset(&z, 0, sizeof z);
    return d ? d->st : z;
}

/* One bucket: tensors ts[0..n) (same dtype) flattened into one, the collective applied to it,
 * copied back. op: 0 all-reduce average, 1 broadcast from rank 0. In a scope and no-grad
 * region of the caller. */
static int run_bucket(lm_ddp *d, lt_tensor **ts, int n, int op, const char *what, int bucket) {
    lt_tensor *flat;
    if (n == 1) flat = lt_contiguous(lt_flatten(ts[0], 0, -1));
    else {
        lt_tensor *parts[n];
        for (int i = 0; i < n; i++) parts[i] = lt_flatten(ts[i], 0, -1);
        flat = lt_cat(parts, n, 0); // (sum of numels,)
    }
    if (!flat) return lm_err_lt("distributed: %s: flattening bucket %d", what, bucket);
    int rc = op == 0 ? lt_pgroup_allreduce(d->g, &flat, 1, LT_REDUCE_AVG) : lt_pgroup_broadcast(d->g, &flat, 1, 0);
    if (rc < 0)
        return lm_err_lt("distributed: rank %d of %d: %s (bucket %d, %lld values)", d->o.rank, d->o.world_size, what,
                         bucket, (long long)lt_numel(flat));
    int64_t off = 0;
    for (int i = 0; i < n && !rc; i++) {
        int64_t shape[8];
        int nd = lt_shape(ts[i], shape, 8);
        int64_t k = lt_numel(ts[i]);
        if (nd < 0 || nd > 8 || !lt_copy_(ts[i], lt_reshape(lt_narrow(flat, 0, off, k), shape, nd)))
            rc = lm_err_lt("distributed: %s: copying bucket %d back", what, bucket);
        off += k;
    }
    return rc;
}

/* Walks p in reverse registration order (as DDP: the last layers' gradients are ready first)
 * and runs the collective on buckets of at most bucket_mb of one dtype. get(i) gives the
 * tensor of item i (new handle in the current scope) or NULL to skip it; *err set on failure. */
typedef lt_tensor *(*item_fn)(lm_params *p, int i, int kinds, int *err);

static lt_tensor *param_tensor(lm_params *p, int i, int kinds, int *err) {
    (void)err;
    return (p->items[i].kind & kinds) ? lt_alias(p->items[i].t) : NULL;
}

static lt_tensor *grad_tensor(lm_params *p, int i, int kinds, int *err) {
    (void)kinds;
    lm_param *it = &p->items[i];
    if (it->kind != LM_PARAM || lt_requires_grad(it->t) != 1) return NULL;
    if (!lt_has_grad(it->t)) {
        *err = lm_err_code(LM_EINVAL, "distributed: parameter %s is trainable but has no gradient after backward "
                                      "(unused parameters are not supported)", it->name);
        return NULL;
    }
    lt_tensor *g = lt_grad_of(it->t);
    if (!g) *err = lm_err_lt("distributed: gradient of %s", it->name);
    return g;
}

static int walk(lm_ddp *d, lm_params *p, int kinds, item_fn get, int op, const char *what, double *bytes) {
    int rc = 0, bucket = 0, n = 0;
    const double cap = d->o.bucket_mb * 1024.0 * 1024.0;
    lt_tensor **ts = malloc(sizeof *ts * (size_t)(p->n > 0 ? p->n : 1));
    if (!ts) return lm_err_code(LM_ENOMEM, "distributed: out of memory");
    lt_scope_push();
    lt_no_grad_push(); /* flat copies outside autograd; in-place copies into leaves allowed */
    double size = 0;
    lt_dtype dt = LT_DTYPE_INVALID;
    for (int i = p->n - 1; i >= 0 && !rc; i--) {
        lt_tensor *t = get(p, i, kinds, &rc);
        if (rc) break;
        if (!t) continue;
        double b = (double)lt_numel(t) * (double)lt_dtype_size(lt_type(t));
        if (n > 0 && (lt_type(t) != dt || size + b > cap)) {
            rc = run_bucket(d, ts, n, op, what, bucket++);
            n = 0, size = 0;
            if (rc) break;
        }
        dt = lt_type(t);
        ts[n++] = t;
        size += b;
        if (bytes) *bytes += b;
    }
    if (!rc && n > 0) rc = run_bucket(d, ts, n, op, what, bucket);
    lt_no_grad_pop();
    lt_scope_pop();
    free(ts);
    return rc;
}

int lm_ddp_broadcast_params(lm_ddp *d, lm_params *p, int kinds) {
    if (!d || !d->g || !p) return 0;
    return walk(d, p, kinds, param_tensor, 1, "broadcast from rank 0", NULL);
}

int lm_ddp_sync_grads(lm_ddp *d, lm_params *p) {
    if (!d || !d->g || !p) return 0;
    double t0 = lm_clock_now();
    int rc = walk(d, p, LM_PARAM, grad_tensor, 0, "gradient all-reduce", &d->st.grad_bytes);
    d->st.grad_seconds += lm_clock_now() - t0;
    d->st.grad_calls++;
    return rc;
}

int lm_ddp_mean(lm_ddp *d, double *v, int n) {
    if (!d || !d->g || n <= 0) return 0;
    int64_t sh[1] = {n};
    lt_scope_push();
    int rc = 0;
    lt_tensor *t = lt_from_buffer(v, sh, 1, LT_F64);
    if (d->dev != LT_CPU) t = lt_to_device(t, d->dev);
    if (!t) rc = lm_err_lt("distributed: mean");
    else if (lt_pgroup_allreduce(d->g, &t, 1, LT_REDUCE_AVG) < 0)
        rc = lm_err_lt("distributed: rank %d of %d: mean of %d values", d->o.rank, d->o.world_size, n);
    else if (lt_to_buffer(t, v, sizeof *v * (size_t)n) < 0)
        rc = lm_err_lt("distributed: mean");
    lt_scope_pop();
    return rc;
}

int lm_ddp_barrier(lm_ddp *d) {
    if (!d || !d->g) return 0;
    if (lt_pgroup_barrier(d->g) < 0) return lm_err_lt("distributed: rank %d of %d: barrier", d->o.rank, d->o.world_size);
    return 0;
}


/* ---- all-reduce overlapped with backward (lm_ddp_overlap_begin / _finish) -------------------
 * The buckets of lm_ddp_sync_grads (reverse registration order, ~bucket_mb of one dtype, the
 * trainable parameters of the registry), each started as an asynchronous SUM all-reduce by
 * the gradient-ready hook of its last parameter, strictly in bucket order (every rank must
 * issue the collectives in the same order; a bucket whose gradients are ready before an
 * earlier one waits for it); after backward, the rest are started, all are waited for,
 * divided by the world size and copied back: the same bits as lm_ddp_sync_grads. */
typedef struct ov_reg {
    lm_ddp *d;
    lm_params *p;
    lt_grad_ready *hooks;
    int *item;  /* hook index -> registry index */
} ov_reg;

#define OV_MAX_REGS 8

typedef struct ov_state {
    ov_reg regs[OV_MAX_REGS];
    int nregs;
    lm_params *armed;       /* the registry of the running backward, or NULL */
    int n_items;            /* registry items when armed */
    int *bucket_of;         /* registry index -> bucket, -1 not included */
    int *order;             /* registry indices in bucket order */
    int nb, *start, *len, *pending, next;
    lt_tensor **flat;       /* per bucket, caller-owned */
    lt_pgroup_work **work;
    int err;                /* a launch failed in a hook */
    char msg[512];
} ov_state;

static void ov_release(ov_state *o) {
    free(o->bucket_of), free(o->order), free(o->start), free(o->len), free(o->pending);
    free(o->flat), free(o->work);
    o->bucket_of = o->order = o->start = o->len = o->pending = NULL;
    o->flat = NULL, o->work = NULL;
    o->nb = o->next = 0;
    o->armed = NULL;
}

static void ov_free(ov_state *o) {
    if (!o) return;
    for (int b = 0; b < o->nb; b++) { /* an armed backward that never finished */
        if (o->work[b]) lt_pgroup_work_wait(o->work[b]);
        lt_free(o->flat[b]);
    }
    ov_release(o);
    for (int k = 0; k < o->nregs; k++) {
        lt_grad_ready_free(o->regs[k].hooks);
        free(o->regs[k].item);
    }
    free(o);
}

/* Flattens bucket b's gradients and starts its all-reduce. */
static void ov_launch(lm_ddp *d, int b) {
    ov_state *o = d->ov;
    lm_params *p = o->armed;
    int n = o->len[b];
    lt_scope_push();
    lt_no_grad_push();
    lt_tensor *flat = NULL;
    const char *bad = NULL;
    lt_tensor *parts[n > 0 ? n : 1];
    for (int k = 0; k < n; k++) {
        lm_param *it = &p->items[o->order[o->start[b] + k]];
        if (!lt_has_grad(it->t)) {
            bad = it->name;
            break;
        }
        parts[k] = lt_flatten(lt_grad_of(it->t), 0, -1);
    }
    if (!bad) flat = n == 1 ? lt_contiguous(parts[0]) : lt_cat(parts, n, 0); // (sum of numels,)
    if (!bad && flat) flat = lt_keep(flat);
    lt_no_grad_pop();
    lt_scope_pop();
    if (bad) {
        if (!o->err)
            snprintf(o->msg, sizeof o->msg, "distributed: parameter %s is trainable but has no gradient after "
                     "backward (unused parameters are not supported)", bad);
        o->err = 1;
        return;
    }
    if (flat) o->work[b] = lt_pgroup_allreduce_start(d->g, flat);
    o->flat[b] = flat;
    if (!flat || !o->work[b]) {
        if (!o->err)
            snprintf(o->msg, sizeof o->msg, "distributed: rank %d of %d: gradient all-reduce (bucket %d): %s",
                     d->o.rank, d->o.world_size, b, lt_error());
        o->err = 1;
    }
}

static void ov_ready(void *ctx, int i) {
    ov_reg *r = ctx;
    lm_ddp *d = r->d;
    ov_state *o = d->ov;
    d->st.hook_calls++;
    if (o->armed != r->p || o->err) return;
    int b = o->bucket_of[r->item[i]];
    if (b < 0 || --o->pending[b] > 0) return;
    while (o->next < o->nb && o->pending[o->next] <= 0 && !o->err) {
        ov_launch(d, o->next++);
        d->st.buckets_early++;
    }
}

int lm_ddp_overlap_begin(lm_ddp *d, lm_params *p) {
    if (!d || !d->g || !p) return 0;
    if (!d->ov && !(d->ov = calloc(1, sizeof *d->ov))) return lm_err_code(LM_ENOMEM, "distributed: out of memory");
    ov_state *o = d->ov;
    if (o->armed) return lm_err_code(LM_EINVAL, "distributed: overlap: a backward is already armed");
    /* the hooks of this registry, registered once (on its parameters trainable now) */
    ov_reg *r = NULL;
    for (int k = 0; k < o->nregs; k++)
        if (o->regs[k].p == p) r = &o->regs[k];
    if (!r) {
        if (o->nregs >= OV_MAX_REGS) return lm_err_code(LM_EINVAL, "distributed: overlap: more than %d registries",
                                                        OV_MAX_REGS);
        r = &o->regs[o->nregs];
        memset(r, 0, sizeof *r);
        r->d = d, r->p = p;
        lt_tensor **ts = malloc(sizeof *ts * (size_t)(p->n > 0 ? p->n : 1));
        r->item = malloc(sizeof *r->item * (size_t)(p->n > 0 ? p->n : 1));
        if (!ts || !r->item) {
            free(ts), free(r->item);
            return lm_err_code(LM_ENOMEM, "distributed: out of memory");
        }
        int n = 0;
        for (int i = 0; i < p->n; i++)
            if (p->items[i].kind == LM_PARAM && lt_requires_grad(p->items[i].t) == 1) ts[n] = p->items[i].t, r->item[n++] = i;
        int rc = lt_grad_ready_create(&r->hooks, ts, n, ov_ready, r);
        free(ts);
        if (rc < 0) {
            free(r->item);
            return lm_err_lt("distributed: overlap: gradient hooks");
        }
        o->nregs++;
    }
    /* the buckets of lm_ddp_sync_grads */
    size_t m = (size_t)(p->n > 0 ? p->n : 1);
    o->bucket_of = malloc(sizeof(int) * m), o->order = malloc(sizeof(int) * m);
    o->start = malloc(sizeof(int) * m), o->len = malloc(sizeof(int) * m), o->pending = malloc(sizeof(int) * m);
    o->flat = calloc(m, sizeof *o->flat), o->work = calloc(m, sizeof *o->work);
    if (!o->bucket_of || !o->order || !o->start || !o->len || !o->pending || !o->flat || !o->work) {
        ov_release(o);
        return lm_err_code(LM_ENOMEM, "distributed: out of memory");
    }
    const double cap = d->o.bucket_mb * 1024.0 * 1024.0;
    double size = 0;
    lt_dtype dt = LT_DTYPE_INVALID;
    int nb = 0, no = 0;
    for (int i = 0; i < p->n; i++) o->bucket_of[i] = -1;
    for (int i = p->n - 1; i >= 0; i--) {
        lm_param *it = &p->items[i];
        if (it->kind != LM_PARAM || lt_requires_grad(it->t) != 1) continue;
        double b = (double)lt_numel(it->t) * (double)lt_dtype_size(lt_type(it->t));
        if (nb == 0 || (o->len[nb - 1] > 0 && (lt_type(it->t) != dt || size + b > cap))) {
            o->start[nb] = no, o->len[nb] = 0, o->pending[nb] = 0;
            nb++;
            size = 0;
        }
        dt = lt_type(it->t);
        size += b;
        o->bucket_of[i] = nb - 1;
        o->order[no++] = i;
        o->len[nb - 1]++;
        o->pending[nb - 1]++;
        d->st.grad_bytes += b;
    }
    o->nb = nb, o->next = 0, o->err = 0, o->msg[0] = 0;
    o->n_items = p->n;
    o->armed = p;
    return 0;
}

int lm_ddp_overlap_finish(lm_ddp *d, lm_params *p) {
    if (!d || !d->g || !p) return 0;
    ov_state *o = d->ov;
    if (!o || o->armed != p) return lm_err_code(LM_EINVAL, "distributed: overlap: finish without begin");
    double t0 = lm_clock_now();
    int rc = 0;
    /* buckets not started during backward (a parameter without a gradient is an error) */
    while (o->next < o->nb && !o->err) {
        ov_launch(d, o->next++);
        d->st.buckets_late++;
    }
    if (o->err) rc = lm_err_code(LM_EFAIL, "%s", o->msg);
    lt_scope_push();
    lt_no_grad_push();
    for (int b = 0; b < o->nb; b++) {
        if (o->work[b] && lt_pgroup_work_wait(o->work[b]) < 0 && !rc)
            rc = lm_err_lt("distributed: rank %d of %d: gradient all-reduce (bucket %d)", d->o.rank, d->o.world_size, b);
        o->work[b] = NULL;
        if (rc || !o->flat[b]) continue;
        lt_tensor *ws = lt_scalar((double)d->o.world_size, lt_type(o->flat[b]), lt_device_of(o->flat[b]));
        lt_tensor *avg = lt_div(o->flat[b], ws); // (sum of numels,) as lt_pgroup_allreduce's div_
        int64_t off = 0;
        for (int k = 0; k < o->len[b] && !rc; k++) {
            lt_tensor *g = lt_grad_of(p->items[o->order[o->start[b] + k]].t);
            int64_t shape[8];
            int nd = lt_shape(g, shape, 8);
            int64_t n = lt_numel(g);
            if (nd < 0 || nd > 8 || !lt_copy_(g, lt_reshape(lt_narrow(avg, 0, off, n), shape, nd)))
                rc = lm_err_lt("distributed: gradient all-reduce: copying bucket %d back", b);
            off += n;
        }
    }
    lt_no_grad_pop();
    lt_scope_pop();
    for (int b = 0; b < o->nb; b++) lt_free(o->flat[b]);
    ov_release(o);
    d->st.grad_seconds += lm_clock_now() - t0;
    d->st.grad_calls++;
    return rc;
}

static int hook_grads(void *ctx, lm_params *p) { return lm_ddp_sync_grads(ctx, p); }
static int hook_begin(void *ctx, lm_params *p) { return lm_ddp_overlap_begin(ctx, p); }
static int hook_finish(void *ctx, lm_params *p) { return lm_ddp_overlap_finish(ctx, p); }

static int hook_buffers(void *ctx, lm_params *p) {
    lm_ddp *d = ctx;
    double t0 = lm_clock_now();
    int rc = lm_ddp_broadcast_params(d, p, LM_BUFFER);
    d->st.buffer_seconds += lm_clock_now() - t0;
    d->st.buffer_calls++;
    return rc;
}

lm_step_hooks lm_ddp_step_hooks(lm_ddp *d) {
    lm_step_hooks h;
    memset(&h, 0, sizeof h);
    if (!d || !d->g) return h;
    h.ctx = d;
    h.sync_grads = hook_grads;
    h.grads_begin = hook_begin;
    h.grads_finish = hook_finish;
    if (d->o.broadcast_buffers) h.sync_buffers = hook_buffers;
    h.bn_group = d->g;
    return h;
}
