/* tbevents.c — TensorBoard event-file writer (see tbevents.h). Mirrors what
 * torch.utils.tensorboard's EventFileWriter + RecordWriter produce, with the Event and
 * Summary protobufs encoded by hand. */
#define _GNU_SOURCE
#include "io/tbevents.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

struct lm_tbevents_writer {
    FILE *f;
    char *path;
    double wall; /* fixed wall time (tests), < 0: the clock */
    int failed;
};

/* ---- CRC-32C ------------------------------------------------------------------------------ */
static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t lm_crc32c(uint32_t crc, const void *data, size_t n) {
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE)) crc_init(); /* idempotent: races write equal values */
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t lm_tbevents_masked_crc(const void *data, size_t n) {
    uint32_t c = lm_crc32c(0, data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- protobuf encoding -------------------------------------------------------------------- */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v) {
    uint8_t t[10];
    int n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    put(b, t, (size_t)n);
}

static void put_le(buf *b, uint64_t v, int n) {
    uint8_t t[8];
    for (int i = 0; i < n; i++) t[i] = (uint8_t)(v >> (8 * i));
    put(b, t, (size_t)n);
}

/* field with wire type 2 (length-delimited) */
static void put_bytes(buf *b, int field, const void *d, size_t n) {
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, n);
    put(b, d, n);
}

static void event_head(buf *b, double wall, int64_t step) {
    uint64_t bits;
    memcpy(&bits, &wall, 8);
    put_varint(b, 1 << 3 | 1); /* wall_time: fixed64 */
    put_le(b, bits, 8);
    put_varint(b, 2 << 3 | 0); /* step: varint (two's complement for negatives) */
    put_varint(b, (uint64_t)step);
}

static double now_wall(const lm_tbevents_writer *w) {
    if (w->wall >= 0) return w->wall;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec * 1e-6;
}

/* Frames one record and writes it. */
static int write_record(lm_tbevents_writer *w, buf *data) {
    if (w->failed) return lm_err_code(LM_EIO, "%s: event file unusable after an earlier write error", w->path);
    if (data->oom) return lm_err_code(LM_ENOMEM, "%s: out of memory encoding an event", w->path);
    uint8_t head[12];
    uint64_t len = data->n;
    for (int i = 0; i < 8; i++) head[i] = (uint8_t)(len >> (8 * i));
    uint32_t hc = lm_tbevents_masked_crc(head, 8), dc = lm_tbevents_masked_crc(data->p, data->n);
    for (int i = 0; i < 4; i++) head[8 + i] = (uint8_t)(hc >> (8 * i));
    uint8_t tail[4];
    for (int i = 0; i < 4; i++) tail[i] = (uint8_t)(dc >> (8 * i));
    if (fwrite(head, 1, 12, w->f) != 12 || fwrite(data->p, 1, data->n, w->f) != data->n ||
        fwrite(tail, 1, 4, w->f) != 4) {
        w->failed = 1;
        return lm_err_code(LM_EIO, "%s: write error: %s", w->path, strerror(errno));
    }
    return 0;
}

static int check_tag(const lm_tbevents_writer *w, const char *tag) {
    if (!tag || !*tag) return lm_err_code(LM_EINVAL, "%s: empty summary tag", w->path);
    if (strlen(tag) > LM_TBEVENTS_MAX_TAG)
        return lm_err_code(LM_EINVAL, "%s: summary tag longer than %d bytes: %.40s...", w->path, LM_TBEVENTS_MAX_TAG, tag);
    return 0;
}

/* ---- open / close ------------------------------------------------------------------------- */
int lm_tbevents_open_path(lm_tbevents_writer **out, const char *path, double wall) {
    *out = NULL;
    lm_tbevents_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return lm_err_code(LM_ENOMEM, "%s: out of memory", path);
    }
    w->wall = wall;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || !(w->f = fdopen(fd, "wb"))) {
        int rc = lm_err_code(LM_EIO, "%s: cannot create event file: %s", path, strerror(errno));
        if (fd >= 0) close(fd), unlink(path);
        free(w->path);
        free(w);
        return rc;
    }
    buf b = {0};
    event_head(&b, now_wall(w), 0);
    put_bytes(&b, 3, "brain.Event:2", 13);
    int rc = write_record(w, &b);
    free(b.p);
    if (rc == 0) rc = lm_tbevents_flush(w);
    if (rc < 0) {
        lm_tbevents_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

int lm_tbevents_open(lm_tbevents_writer **out, const char *dir) {
    *out = NULL;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return lm_err_code(LM_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) < 0 || !host[0]) strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *c = host; *c; c++)
        if (*c == '/') *c = '_';
    long long t = (long long)time(NULL);
    size_t cap = strlen(dir) + strlen(host) + 80;
    char *path = malloc(cap);
    if (!path) return lm_err_code(LM_ENOMEM, "%s: out of memory", dir);
    int rc = 1;
    for (int k = 0; k < 1000 && rc == 1; k++) {
        if (k == 0) snprintf(path, cap, "%s/events.out.tfevents.%010lld.%s", dir, t, host);
        else snprintf(path, cap, "%s/events.out.tfevents.%010lld.%s.%d", dir, t, host, k);
        if (access(path, F_OK) != 0) rc = lm_tbevents_open_path(out, path, -1);
    }
    if (rc == 1) rc = lm_err_code(LM_EIO, "%s: no free event file name", dir);
    free(path);
    return rc;
}

const char *lm_tbevents_path(const lm_tbevents_writer *w) { return w->path; }

int lm_tbevents_flush(lm_tbevents_writer *w) {
    if (w->failed) return lm_err_code(LM_EIO, "%s: event file unusable after an earlier write error", w->path);
    if (fflush(w->f) != 0) {
        w->failed = 1;
        return lm_err_code(LM_EIO, "%s: write error: %s", w->path, strerror(errno));
    }
    return 0;
}

int lm_tbevents_close(lm_tbevents_writer *w) {
    if (!w) return 0;
    int rc = 0;
    if (w->f) {
        if (!w->failed && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0))
            rc = lm_err_code(LM_EIO, "%s: write error: %s", w->path, strerror(errno));
        if (fclose(w->f) != 0 && rc == 0 && !w->failed)
            rc = lm_err_code(LM_EIO, "%s: close error: %s", w->path, strerror(errno));
    }
    free(w->path);
    free(w);
    return rc;
}

/* ---- summaries ---------------------------------------------------------------------------- */
int lm_tbevents_scalars(lm_tbevents_writer *w, int64_t step, int n, const char *const *tags, const float *values) {
    int rc;
    if (n < 1) return lm_err_code(LM_EINVAL, "%s: no scalars to write", w->path);
    buf summ = {0}, val = {0}, ev = {0};
    for (int i = 0; i < n; i++) {
        if ((rc = check_tag(w, tags[i])) < 0) goto cleanup;
        val.n = 0;
        put_bytes(&val, 1, tags[i], strlen(tags[i]));
        uint32_t bits;
        memcpy(&bits, &values[i], 4);
        put_varint(&val, 2 << 3 | 5); /* simple_value: fixed32 */
        put_le(&val, bits, 4);
        if (val.oom) break;
        put_bytes(&summ, 1, val.p, val.n);
    }
    event_head(&ev, now_wall(w), step);
    if (!summ.oom && !val.oom) put_bytes(&ev, 5, summ.p, summ.n);
    ev.oom |= summ.oom | val.oom;
    rc = write_record(w, &ev);
cleanup:
    free(summ.p), free(val.p), free(ev.p);
    return rc;
}

int lm_tbevents_scalar(lm_tbevents_writer *w, const char *tag, int64_t step, float value) {
    return lm_tbevents_scalars(w, step, 1, &tag, &value);
}

int lm_tbevents_image(lm_tbevents_writer *w, const char *tag, int64_t step, int h, int wd, int c, const void *png,
                size_t n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int rc;
    if ((rc = check_tag(w, tag)) < 0) return rc;
    if (h <= 0 || wd <= 0 || (c != 1 && c != 3 && c != 4))
        return lm_err_code(LM_EINVAL, "%s: image '%s': bad size %dx%dx%d", w->path, tag, h, wd, c);
    if (!png || n < 8 || memcmp(png, sig, 8) != 0)
        return lm_err_code(LM_EINVAL, "%s: image '%s': data is not a PNG", w->path, tag);
    buf img = {0}, val = {0}, summ = {0}, ev = {0};
    put_varint(&img, 1 << 3), put_varint(&img, (uint64_t)h);
    put_varint(&img, 2 << 3), put_varint(&img, (uint64_t)wd);
    put_varint(&img, 3 << 3), put_varint(&img, (uint64_t)c);
    put_bytes(&img, 4, png, n);
    put_bytes(&val, 1, tag, strlen(tag));
    if (!img.oom) put_bytes(&val, 4, img.p, img.n);
    if (!val.oom) put_bytes(&summ, 1, val.p, val.n);
    event_head(&ev, now_wall(w), step);
    if (!summ.oom) put_bytes(&ev, 5, summ.p, summ.n);
    ev.oom |= img.oom | val.oom | summ.oom;
    rc = write_record(w, &ev);
    free(img.p), free(val.p), free(summ.p), free(ev.p);
    return rc;
}
