/* loader.c — shard set -> batches of (image, mask), prefetched (see loader.h).
 * Mirrors InpaintingTrainDataset.__getitem__ + DataLoader(shuffle=True) of
 * saicinpainting/training/data/datasets.py, split over ranks. */
#include "data/loader.h"

#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/rng.h"
#include "data/maskdir.h"
#include "data/shards.h"
#include "masks/mask.h"

typedef struct slot {
    lm_batch b;
    int64_t seq;  /* batch sequence number (0 = the start batch) it holds, -1 none */
    int done;     /* samples finished */
    int failed;
    char err[512];
} slot;

struct lm_loader {
    lm_loader_opts o;
    lm_shards *shards;
    lm_maskdir *maskdir; /* folder masks (NULL unless the mask config draws them) */
    lm_mask_cfg mask_cfg; /* o.mask's copy with the folder source attached */
    int64_t n_images, per_rank, n_batches;
    /* permutation cache: two epochs (workers straddle an epoch boundary) */
    pthread_mutex_t perm_mu;
    int64_t perm_epoch[2];
    int64_t *perm[2];
    /* ring */
    int n_slots;
    slot *slots;
    pthread_t th;
    int th_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t produced, consumed, released; /* batches */
    int64_t next_sample;                  /* next sample to claim, counted from the start batch */
    int stop, halted, worker_done;
    /* test-only hooks (loader.h): the sample (epoch, position) that fails / stalls, -1 none */
    int64_t fail_e, fail_p, stall_e, stall_p;
};

void lm_loader_opts_default(lm_loader_opts *o) {
    memset(o, 0, sizeof *o);
    o->world_size = 1;
    o->prefetch = 2;
}

int64_t lm_loader_images(const lm_loader *l) { return l->n_images; }
int64_t lm_loader_batches_per_epoch(const lm_loader *l) { return l->n_batches; }

/* Fisher-Yates keyed by (seed, epoch, LM_RNG_SHUFFLE) into cache entry epoch % 2; caller
 * holds perm_mu. */
static void make_perm(lm_loader *l, int64_t epoch) {
    int64_t *perm = l->perm[epoch & 1];
    lm_rng r;
    lm_rng_init(&r, l->o.seed, (uint64_t)epoch, 0, LM_RNG_SHUFFLE);
    for (int64_t i = 0; i < l->n_images; i++) perm[i] = i;
    for (int64_t i = l->n_images - 1; i > 0; i--) {
        int64_t j = lm_rng_randint(&r, 0, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    l->perm_epoch[epoch & 1] = epoch;
}

int64_t lm_loader_image_at(lm_loader *l, int64_t epoch, int64_t pos) {
    pthread_mutex_lock(&l->perm_mu);
    if (l->perm_epoch[epoch & 1] != epoch) make_perm(l, epoch);
    int64_t id = l->perm[epoch & 1][pos % l->n_images];
    pthread_mutex_unlock(&l->perm_mu);
    return id;
}

typedef struct {
    lm_shards *s;
    int64_t id;
} read_ctx;

static int read_region(void *ctx, uint8_t *dst, int y0, int x0, int rh, int rw) {
    read_ctx *c = ctx;
    return lm_shards_read(c->s, c->id, dst, y0, x0, rh, rw);
}

static int sample_image(lm_loader *l, int64_t epoch, int64_t pos, int64_t id, float *img, float *mask) {
    int n = l->o.out_size, h, w, rc = 0;
    size_t np = (size_t)n * n;
    uint8_t *buf = malloc(np * 3 + np);
    if (!buf) return lm_err_code(LM_ENOMEM, "loader: out of memory");
    uint8_t *m8 = buf + np * 3;
    lm_shards_size(l->shards, id, &h, &w);
    lm_rng r;
    lm_rng_init(&r, l->o.seed, (uint64_t)epoch, (uint64_t)pos, LM_RNG_AUG);
    lm_aug_plan plan;
    lm_aug_plan_draw(&plan, l->o.variant, n, h, w, &r);
    read_ctx ctx = {l->shards, id};
    if ((rc = lm_aug_sample(buf, &plan, read_region, &ctx)) < 0) goto cleanup;
    float lut[256]; /* A.ToFloat: x / 255 (a division, as numpy; tabulated) */
    for (int i = 0; i < 256; i++) lut[i] = (float)i / 255.f;
    for (size_t i = 0; i < np; i++) { /* HWC -> CHW */
        img[i] = lut[buf[3 * i]];
        img[np + i] = lut[buf[3 * i + 1]];
        img[2 * np + i] = lut[buf[3 * i + 2]];
    }
    lm_rng_init(&r, l->o.seed, (uint64_t)epoch, (uint64_t)pos, LM_RNG_MASK);
    if ((rc = lm_mask_generate(m8, n, n, l->o.mask, &r, epoch * l->n_images + pos)) < 0) goto cleanup;
    for (size_t i = 0; i < np; i++) mask[i] = m8[i] ? 1.f : 0.f;
cleanup:
    free(buf);
    if (rc < 0) lm_err_prefix("loader: epoch %lld position %lld (image %lld)", (long long)epoch, (long long)pos,
                              (long long)id);
    return rc;
}

int lm_loader_sample(float *img, float *mask, lm_loader *l, int64_t epoch, int64_t pos) {
    return sample_image(l, epoch, pos, lm_loader_image_at(l, epoch, pos), img, mask);
}

/* LAMAC_TEST_LOADER_STALL (loader.h): the read of this sample never returns until the loader
 * is closed, as a read from a hung file system would not. */
static void test_stall(lm_loader *l, int64_t epoch, int64_t pos) {
    fprintf(stderr, "loader: stalled at epoch %" PRId64 " position %" PRId64 " (test hook LAMAC_TEST_LOADER_STALL)\n",
            epoch, pos);
    fflush(stderr);
    pthread_mutex_lock(&l->mu);
    while (!l->stop) pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

/* A test hook's "E:P" from the environment into *e, *p (-1, -1 when unset or malformed). */
static void test_hook(const char *name, int64_t *e, int64_t *p) {
    const char *v = getenv(name);
    long long a, b;
    char tail;
    *e = *p = -1;
    if (v && sscanf(v, "%lld:%lld%c", &a, &b, &tail) == 2 && a >= 0 && b >= 0) *e = a, *p = b;
}

/* The workers: `threads` OpenMP threads, each claiming the next sample of the stream
 * (batch after batch, no barrier between batches) as long as its batch's ring slot is free,
 * writing it into that slot, and publishing completed batches in order. A failed sample
 * fails its batch; the batches before it are still delivered, nothing after it. */
static void work(lm_loader *l) {
    int bs = l->o.batch_size, sz = l->o.out_size;
    size_t np = (size_t)sz * sz;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        int64_t k;
        for (;;) {
            if (l->stop || l->halted) {
                pthread_mutex_unlock(&l->mu);
                return;
            }
            k = l->next_sample;
            if (k / bs < l->released + l->n_slots) break; /* its slot is free */
            pthread_cond_wait(&l->cv, &l->mu);
        }
        l->next_sample++;
        int64_t seq = k / bs;
        int j = (int)(k % bs);
        slot *s = &l->slots[seq % l->n_slots];
        if (j == 0) { /* claims are in order: the batch's first claim sets its header */
            int64_t bt = l->o.start_batch + seq;
            s->seq = seq;
            s->done = 0;
            s->failed = 0;
            s->b.epoch = l->o.start_epoch + bt / l->n_batches;
            s->b.batch = bt % l->n_batches;
        }
        int64_t epoch = s->b.epoch, pos = l->o.rank + (s->b.batch * bs + j) * l->o.world_size;
        pthread_mutex_unlock(&l->mu);

        int64_t id = lm_loader_image_at(l, epoch, pos);
        s->b.image_ids[j] = id;
        int rc;
        if (epoch == l->stall_e && pos == l->stall_p) test_stall(l, epoch, pos);
        if (epoch == l->fail_e && pos == l->fail_p)
            rc = lm_err_code(LM_EIO, "loader: epoch %" PRId64 " position %" PRId64 " (image %" PRId64 "): read failed "
                             "(test hook LAMAC_TEST_LOADER_FAIL)", epoch, pos, id);
        else
            rc = sample_image(l, epoch, pos, id, s->b.img + 3 * np * j, s->b.mask + np * j);

        pthread_mutex_lock(&l->mu);
        if (rc < 0 && !s->failed) {
            s->failed = 1;
            snprintf(s->err, sizeof s->err, "%s", lm_err_msg());
        }
        s->done++;
        int published = 0;
        for (;;) { /* publish finished batches in order */
            slot *p = &l->slots[l->produced % l->n_slots];
            if (l->halted || p->seq != l->produced || p->done < bs) break;
            l->produced++;
            published = 1;
            if (p->failed) l->halted = 1; /* the consumer gets the error; nothing after it */
        }
        if (published) pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
}

static void *worker(void *arg) {
    lm_loader *l = arg;
#pragma omp parallel num_threads(l->o.threads)
    work(l);
    pthread_mutex_lock(&l->mu);
    l->worker_done = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int lm_loader_open(lm_loader **out, const lm_loader_opts *o) {
    *out = NULL;
    if (!o->shard_dir) return lm_err_code(LM_EINVAL, "loader: no shard directory");
    if (!o->mask) return lm_err_code(LM_EINVAL, "loader: no mask configuration");
    if (o->out_size < 8 || o->batch_size < 1 || o->prefetch < 1 || o->world_size < 1 || o->rank < 0 ||
        o->rank >= o->world_size || o->threads < 0 || o->start_epoch < 0 || o->start_batch < 0)
        return lm_err_code(LM_EINVAL,
                           "loader: bad options (out_size %d, batch_size %d, prefetch %d, rank %d of %d, threads %d)",
                           o->out_size, o->batch_size, o->prefetch, o->rank, o->world_size, o->threads);
    lm_loader *l = calloc(1, sizeof *l);
    if (!l) return lm_err_code(LM_ENOMEM, "loader: out of memory");
    int rc = 0;
    l->o = *o;
    if (l->o.threads == 0) l->o.threads = omp_get_num_procs();
    pthread_mutex_init(&l->perm_mu, NULL);
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca; /* timed waits (lm_loader_next_or) on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    test_hook("LAMAC_TEST_LOADER_FAIL", &l->fail_e, &l->fail_p);
    test_hook("LAMAC_TEST_LOADER_STALL", &l->stall_e, &l->stall_p);
    l->perm_epoch[0] = l->perm_epoch[1] = -1;
    if (lm_mask_uses_folder(o->mask)) { /* list the mask folder once, before any work */
        if ((rc = lm_mask_cfg_check(o->mask)) < 0 || (rc = lm_maskdir_open(&l->maskdir, &o->mask->folder_kwargs)) < 0) {
            lm_err_prefix("loader");
            goto cleanup;
        }
        l->mask_cfg = *o->mask;
        lm_maskdir_attach(l->maskdir, &l->mask_cfg);
        l->o.mask = &l->mask_cfg;
    }
    if ((rc = lm_shards_open(&l->shards, o->shard_dir)) < 0) goto cleanup;
    l->n_images = lm_shards_count(l->shards);
    l->per_rank = l->n_images / o->world_size;
    l->n_batches = l->per_rank / o->batch_size;
    if (l->n_batches < 1) {
        rc = lm_err_code(LM_EINVAL, "loader: %s: %lld images for %d rank(s) give no full batch of %d", o->shard_dir,
                         (long long)l->n_images, o->world_size, o->batch_size);
        goto cleanup;
    }
    if (o->start_batch >= l->n_batches) {
        rc = lm_err_code(LM_EINVAL, "loader: start batch %lld beyond the epoch (%lld batches)",
                         (long long)o->start_batch, (long long)l->n_batches);
        goto cleanup;
    }
    l->perm[0] = malloc(sizeof(int64_t) * (size_t)l->n_images);
    l->perm[1] = malloc(sizeof(int64_t) * (size_t)l->n_images);
    l->n_slots = o->prefetch + 1; /* +1: the batch the consumer holds */
    l->slots = calloc((size_t)l->n_slots, sizeof(slot));
    if (!l->perm[0] || !l->perm[1] || !l->slots) {
        rc = lm_err_code(LM_ENOMEM, "loader: out of memory");
        goto cleanup;
    }
    size_t np = (size_t)o->out_size * o->out_size;
    for (int i = 0; i < l->n_slots; i++) {
        lm_batch *b = &l->slots[i].b;
        l->slots[i].seq = -1;
        b->n = o->batch_size;
        b->h = b->w = o->out_size;
        b->img = malloc(sizeof(float) * 3 * np * o->batch_size);
        b->mask = malloc(sizeof(float) * np * o->batch_size);
        b->image_ids = malloc(sizeof(int64_t) * o->batch_size);
        if (!b->img || !b->mask || !b->image_ids) {
            rc = lm_err_code(LM_ENOMEM, "loader: out of memory for %d batch buffers", l->n_slots);
            goto cleanup;
        }
    }
    if (pthread_create(&l->th, NULL, worker, l) != 0) {
        rc = lm_err_code(LM_EFAIL, "loader: cannot start the worker thread");
        goto cleanup;
    }
    l->th_started = 1;
cleanup:
    if (rc < 0) {
        lm_loader_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

int lm_loader_next(const lm_batch **out, lm_loader *l) { return lm_loader_next_or(out, l, NULL, NULL); }

int lm_loader_next_or(const lm_batch **out, lm_loader *l, int (*stop)(void *ctx), void *ctx) {
    *out = NULL;
    pthread_mutex_lock(&l->mu);
    l->released = l->consumed; /* the previously returned batch is free again */
    pthread_cond_broadcast(&l->cv);
    while (l->produced <= l->consumed && !l->worker_done) {
        if (!stop) {
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
        if (stop(ctx)) {
            pthread_mutex_unlock(&l->mu);
            return 1;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += LM_LOADER_POLL_MS * 1000000L;
        if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&l->cv, &l->mu, &t);
    }
    if (l->produced <= l->consumed) {
        pthread_mutex_unlock(&l->mu);
        return lm_err_code(LM_EFAIL, "loader: stopped after an earlier error");
    }
    slot *s = &l->slots[l->consumed % l->n_slots];
    l->consumed++;
    pthread_mutex_unlock(&l->mu);
    if (s->failed) return lm_err_code(LM_EIO, "%s", s->err);
    *out = &s->b;
    return 0;
}

int lm_batch_check(const lm_batch *b) {
    size_t np = (size_t)b->h * b->w;
    for (int i = 0; i < b->n; i++) {
        const float *m = b->mask + np * i, *x = b->img + 3 * np * i;
        int bad_m = 0, bad_x = 0;
        for (size_t k = 0; k < np; k++) bad_m |= (m[k] != 0.f) & (m[k] != 1.f); /* branch-free: vectorised */
        for (size_t k = 0; k < 3 * np; k++) bad_x |= !(x[k] - x[k] == 0.f);       /* NaN or +-Inf */
        if (!bad_m && !bad_x) continue;
        char who[96];
        int64_t id = b->image_ids ? b->image_ids[i] : -1;
        if (id >= 0) snprintf(who, sizeof who, "sample %d (image %" PRId64 ")", i, id);
        else snprintf(who, sizeof who, "sample %d", i);
        size_t k = 0;
        if (bad_m) {
            while (m[k] == 0.f || m[k] == 1.f) k++;
            return lm_err_code(LM_EINVAL, "batch (epoch %" PRId64 ", batch %" PRId64 "): %s: mask value %g at (y %zu, x %zu), "
                               "expected 0 or 1", b->epoch, b->batch, who, (double)m[k], k / b->w, k % b->w);
        }
        while (isfinite(x[k])) k++;
        return lm_err_code(LM_EINVAL, "batch (epoch %" PRId64 ", batch %" PRId64 "): %s: image value %g at (channel %zu, "
                           "y %zu, x %zu) is not finite", b->epoch, b->batch, who, (double)x[k], k / np, k % np / b->w,
                           k % b->w);
    }
    return 0;
}

void lm_loader_close(lm_loader *l) {
    if (!l) return;
    if (l->th_started) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->th, NULL);
    }
    for (int i = 0; l->slots && i < l->n_slots; i++) {
        free(l->slots[i].b.img);
        free(l->slots[i].b.mask);
        free(l->slots[i].b.image_ids);
    }
    free(l->slots);
    free(l->perm[0]);
    free(l->perm[1]);
    lm_shards_close(l->shards);
    lm_maskdir_close(l->maskdir);
    pthread_mutex_destroy(&l->perm_mu);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
