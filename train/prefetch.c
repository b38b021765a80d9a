/* prefetch.c — the device prefetcher of the training loop (see prefetch.h). No official
 * counterpart: Lightning 1.2 moves each batch to the GPU synchronously in its step. */
#include "train/prefetch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"

/* One prepared batch, or the outcome of a failed preparation kept for later. */
typedef struct slot {
    int full;          /* a preparation was attempted for pos */
    lm_batch_pos pos;
    int rc;            /* 0 ready; 1 the source gave up (nothing read); negative: the kept error */
    char err[1024];    /* its message */
    lm_batch host;     /* header; img / mask point into himg / hmask, image_ids into ids */
    int64_t *ids;
    int ids_cap;
    lt_tensor *himg, *hmask; /* host copies (page-locked on CUDA with prefetching on) */
    lt_tensor *img, *mask;   /* on the device (on CPU: the host copies again) */
} slot;

struct lm_prefetch {
    lt_device dev;
    int on;
    lm_prefetch_read_fn read;
    void *ctx;
    lt_stream *copy;   /* the copy stream (prefetching on), NULL off */
    slot cur;          /* the batch the caller holds */
    slot ahead;        /* the batch prepared for the next call */
};

static void slot_clear(slot *s) {
    lt_free(s->img), lt_free(s->mask), lt_free(s->himg), lt_free(s->hmask);
    s->img = s->mask = s->himg = s->hmask = NULL;
    s->full = 0;
    s->rc = 0;
    s->err[0] = 0;
}

static void slot_free(slot *s) {
    slot_clear(s);
    free(s->ids);
}

static int same_pos(const lm_batch_pos *a, const lm_batch_pos *b) {
    return a->step == b->step && a->epoch == b->epoch && a->batch == b->batch;
}

int lm_prefetch_create(lm_prefetch **out, lt_device dev, int on, lm_prefetch_read_fn read, void *ctx) {
    *out = NULL;
    lm_prefetch *p = calloc(1, sizeof *p);
    if (!p) return lm_err_code(LM_ENOMEM, "prefetch: out of memory");
    p->dev = dev, p->on = on, p->read = read, p->ctx = ctx;
    if (on && !(p->copy = lt_stream_create(dev))) {
        free(p);
        return lm_err_lt("prefetch: copy stream");
    }
    *out = p;
    return 0;
}

void lm_prefetch_free(lm_prefetch *p) {
    if (!p) return;
    slot_free(&p->cur);
    slot_free(&p->ahead);
    lt_stream_free(p->copy);
    free(p);
}

/* Reads the batch at pos into s, copies it into host tensors of s's own, checks it and starts
 * (prefetching on) or does (off) its copy to the device. 0, 1 (the source gave up), negative. */
static int prepare(lm_prefetch *p, slot *s, const lm_batch_pos *pos) {
    slot_clear(s);
    s->full = 1;
    s->pos = *pos;
    const lm_batch *b;
    int rc = p->read(&b, p->ctx, pos);
    if (rc) return rc;
    if (b->n > s->ids_cap) {
        int64_t *ids = realloc(s->ids, sizeof *ids * (size_t)b->n);
        if (!ids) return lm_err_code(LM_ENOMEM, "prefetch: out of memory");
        s->ids = ids, s->ids_cap = b->n;
    }
    memcpy(s->ids, b->image_ids, sizeof *s->ids * (size_t)b->n);
    s->host = *b;
    s->host.image_ids = s->ids;
    int64_t si[4] = {b->n, 3, b->h, b->w}, sm[4] = {b->n, 1, b->h, b->w};
    lt_scope_push(); /* every handle is kept by the slot (lt_keep) or freed with the scope */
    if (p->on) {     /* page-locked on CUDA, so that the copy below can run without the host */
        s->himg = lt_keep(lt_from_buffer_pinned(b->img, si, 4, LT_F32, p->dev)); // (N, 3, H, W)
        s->hmask = lt_keep(lt_from_buffer_pinned(b->mask, sm, 4, LT_F32, p->dev)); // (N, 1, H, W)
    } else {
        s->himg = lt_keep(lt_from_buffer(b->img, si, 4, LT_F32));
        s->hmask = lt_keep(lt_from_buffer(b->mask, sm, 4, LT_F32));
    }
    s->host.img = s->himg ? lt_data(s->himg) : NULL;
    s->host.mask = s->hmask ? lt_data(s->hmask) : NULL;
    if (!s->host.img || !s->host.mask) rc = lm_err_lt("batch to tensor");
    else if ((rc = lm_batch_check(&s->host)) < 0) {
    } else if (p->on) {
        s->img = lt_keep(lt_to_device_on(s->himg, p->copy));
        s->mask = lt_keep(lt_to_device_on(s->hmask, p->copy));
    } else {
        s->img = lt_keep(lt_to_device(s->himg, p->dev));
        s->mask = lt_keep(lt_to_device(s->hmask, p->dev));
    }
    if (!rc && (!s->img || !s->mask)) rc = lm_err_lt("batch to device");
    lt_scope_pop();
    return rc;
}

int lm_prefetch_get(lm_prefetched *b, lm_prefetch *p, const lm_batch_pos *pos, const lm_batch_pos *next) {
    memset(b, 0, sizeof *b);
    int rc;
    /* the previous batch: its use by the compute stream was recorded when it was taken */
    slot_clear(&p->cur);
    if (p->ahead.full && same_pos(&p->ahead.pos, pos) && p->ahead.rc != 1) {
        slot t = p->cur; /* take the batch prepared ahead; cur's (cleared) buffers go to ahead */
        p->cur = p->ahead;
        p->ahead = t;
        if (p->cur.rc < 0)
            return lm_err_code(p->cur.rc, "batch read ahead during step %" PRId64 ": %s", pos->step - 1, p->cur.err);
    } else {
        slot_clear(&p->ahead);
        if ((rc = prepare(p, &p->cur, pos)) != 0) return rc;
    }
    if (p->copy) {
        lt_tensor *used[2] = {p->cur.img, p->cur.mask};
        if (lt_stream_wait(p->copy, used, 2) < 0) return lm_err_lt("batch upload");
    }
    if (next && p->on) { /* a failure is kept for the call that asks for next */
        rc = prepare(p, &p->ahead, next);
        p->ahead.rc = rc;
        if (rc < 0) {
            p->ahead.rc = lm_err_last_code() < 0 ? lm_err_last_code() : LM_EFAIL;
            snprintf(p->ahead.err, sizeof p->ahead.err, "%s", lm_err_msg());
            lm_err_clear();
        }
    }
    b->host = &p->cur.host; /* the batch at pos; the one at next stays in ahead */
    b->img = p->cur.img;
    b->mask = p->cur.mask;
    return 0;
}
