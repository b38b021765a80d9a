/* shards.c — HDF5 shard sets: writer, reader (hyperslab crops), verifier.
 * Layout and thread-safety rules: see shards.h. Mirrors no official module (the official
 * code reads JPEG folders); it replaces InpaintingTrainDataset's file list. */
#include "data/shards.h"

#include <errno.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/path.h"

static pthread_mutex_t g_h5 = PTHREAD_MUTEX_INITIALIZER;
static int g_h5_quiet;

void lm_hdf5_lock(void) {
    pthread_mutex_lock(&g_h5);
    if (!g_h5_quiet) { /* HDF5 prints error stacks by default; we report our own */
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        g_h5_quiet = 1;
    }
}
void lm_hdf5_unlock(void) { pthread_mutex_unlock(&g_h5); }

/* ---- small helpers (caller holds the lock) ------------------------------------------ */

static int attr_write_i64(hid_t obj, const char *name, hid_t type, const void *v) {
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    if (sp < 0) return -1;
    a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, type, v) >= 0) rc = 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int attr_write_str(hid_t obj, const char *name, const char *s) {
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    H5Tset_size(t, strlen(s) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, t, s) >= 0) rc = 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int attr_read_str(hid_t obj, const char *name, char *buf, size_t n) {
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = -1, mt = -1;
    int rc = -1;
    if (a < 0) return -1;
    t = H5Aget_type(a);
    size_t sz = t >= 0 ? H5Tget_size(t) : 0;
    char *tmp = sz ? calloc(1, sz + 1) : NULL;
    if (tmp) {
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz);
        if (H5Aread(a, mt, tmp) >= 0) {
            snprintf(buf, n, "%s", tmp);
            rc = 0;
        }
        H5Tclose(mt);
    }
    free(tmp);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static const char *errno_hint(int e) {
    if (e == ENOSPC) return " (disk full)";
    if (e == EROFS) return " (read-only file system)";
    if (e == EACCES || e == EPERM) return " (permission denied)";
    if (e == EDQUOT) return " (quota exceeded)";
    return "";
}

/* ---- writer ------------------------------------------------------------------------- */

struct lm_shard_writer {
    char *dir;
    int per_shard;
    hid_t file, grp;   /* current shard, -1 when none open */
    int n_in_shard;    /* images in the current shard */
    int32_t *sizes;    /* (per_shard, 2) of the current shard */
    int n_shards;      /* shards opened so far (incl. the current one) */
    int64_t *counts;   /* per shard */
    int64_t total;
    int finished;
};

static void shard_name(char *buf, size_t n, const char *dir, int k, int tmp) {
    if (tmp)
        snprintf(buf, n, "%s/.shard-%05d.h5.tmp", dir, k);
    else
        snprintf(buf, n, "%s/shard-%05d.h5", dir, k);
}

int lm_shard_writer_open(lm_shard_writer **out, const char *dir, int per_shard, int overwrite) {
    *out = NULL;
    if (per_shard < 1) return lm_err_code(LM_EINVAL, "shards: --per-shard must be >= 1");
    if (strlen(dir) > 4000) /* room for "/.shard-NNNNN.h5.tmp" in the 4096-byte name buffers */
        return lm_err_code(LM_EINVAL, "shards: output directory path too long: %s", dir);
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (lm_path_mkdirs(dir) < 0) return lm_err_prefix("shards"); /* parents too, like os.makedirs */
    } else if (!S_ISDIR(st.st_mode)) {
        return lm_err_code(LM_EIO, "shards: %s exists and is not a directory", dir);
    }
    char idx[4096];
    snprintf(idx, sizeof idx, "%s/%s", dir, LM_SHARDS_INDEX);
    if (access(idx, F_OK) == 0) {
        if (!overwrite)
            return lm_err_code(LM_EIO, "shards: %s already holds a shard set (%s); use --force to overwrite",
                               dir, LM_SHARDS_INDEX);
        if (unlink(idx) != 0)
            return lm_err_code(LM_EIO, "shards: cannot remove %s: %s", idx, strerror(errno));
    }
    /* a writable directory? (clear message for read-only output before any work) */
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/.lamac-probe.tmp", dir);
    FILE *f = fopen(probe, "wb");
    if (!f) return lm_err_code(LM_EIO, "shards: cannot write in %s: %s", dir, strerror(errno));
    fclose(f);
    unlink(probe);

    lm_shard_writer *w = calloc(1, sizeof *w);
    if (!w) return lm_err_code(LM_ENOMEM, "shards: out of memory");
    w->dir = strdup(dir);
    w->per_shard = per_shard;
    w->file = w->grp = -1;
    w->sizes = malloc(sizeof(int32_t) * 2 * (size_t)per_shard);
    if (!w->dir || !w->sizes) {
        lm_shard_writer_free(w);
        return lm_err_code(LM_ENOMEM, "shards: out of memory");
    }
    *out = w;
    return 0;
}

/* Writes /sizes and root attributes, closes the current shard file. Lock held. */
static int close_shard(lm_shard_writer *w) {
    if (w->file < 0) return 0;
    int rc = -1;
    hsize_t dims[2] = {(hsize_t)w->n_in_shard, 2};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(w->file, "sizes", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int32_t ver = LM_SHARDS_VERSION;
    int64_t cnt = w->n_in_shard;
    if (ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->sizes) >= 0 &&
        attr_write_i64(w->file, "lamac_shards_version", H5T_NATIVE_INT32, &ver) == 0 &&
        attr_write_i64(w->file, "count", H5T_NATIVE_INT64, &cnt) == 0)
        rc = 0;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    if (w->grp >= 0) H5Gclose(w->grp);
    errno = 0;
    if (H5Fclose(w->file) < 0) rc = -1;
    int e = errno;
    w->file = w->grp = -1;
    if (rc < 0) {
        char p[4096];
        shard_name(p, sizeof p, w->dir, w->n_shards - 1, 1);
        return lm_err_code(LM_EIO, "shards: writing %s failed%s", p, errno_hint(e));
    }
    w->counts[w->n_shards - 1] = w->n_in_shard;
    return 0;
}

static int open_shard(lm_shard_writer *w) {
    int64_t *c = realloc(w->counts, sizeof(int64_t) * (size_t)(w->n_shards + 1));
    if (!c) return lm_err_code(LM_ENOMEM, "shards: out of memory");
    w->counts = c;
    char p[4096];
    shard_name(p, sizeof p, w->dir, w->n_shards, 1);
    errno = 0;
    w->file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) return lm_err_code(LM_EIO, "shards: cannot create %s%s", p, errno_hint(errno));
    w->grp = H5Gcreate2(w->file, "img", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    w->n_shards++;
    w->counts[w->n_shards - 1] = 0;
    w->n_in_shard = 0;
    if (w->grp < 0) return lm_err_code(LM_EIO, "shards: cannot create group in %s", p);
    return 0;
}

int lm_shard_writer_add(lm_shard_writer *w, const lm_image *img, const char *name) {
    if (img->c != 3 || img->w < 1 || img->h < 1)
        return lm_err_code(LM_EINVAL, "shards: %s: expected an RGB image", name);
    int rc = 0;
    hid_t sp = -1, dcpl = -1, ds = -1;
    lm_hdf5_lock();
    if (w->file >= 0 && w->n_in_shard >= w->per_shard && (rc = close_shard(w)) < 0) goto cleanup;
    if (w->file < 0 && (rc = open_shard(w)) < 0) goto cleanup;
    hsize_t dims[3] = {(hsize_t)img->h, (hsize_t)img->w, 3};
    hsize_t chunk[3] = {(hsize_t)(img->h < LM_SHARDS_CHUNK ? img->h : LM_SHARDS_CHUNK),
                        (hsize_t)(img->w < LM_SHARDS_CHUNK ? img->w : LM_SHARDS_CHUNK), 3};
    char dname[32];
    snprintf(dname, sizeof dname, "%07d", w->n_in_shard);
    sp = H5Screate_simple(3, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (sp < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 3, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0) {
        rc = lm_err_code(LM_EIO, "shards: HDF5 setup failed for %s", name);
        goto cleanup;
    }
    errno = 0;
    ds = H5Dcreate2(w->grp, dname, H5T_STD_U8LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, img->data) < 0 ||
        attr_write_str(ds, "name", name) < 0) {
        rc = lm_err_code(LM_EIO, "shards: writing %s to shard %d failed%s", name, w->n_shards - 1,
                         errno_hint(errno));
        goto cleanup;
    }
    w->sizes[2 * w->n_in_shard] = img->h;
    w->sizes[2 * w->n_in_shard + 1] = img->w;
    w->n_in_shard++;
    w->total++;
cleanup:
    if (ds >= 0) H5Dclose(ds);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    lm_hdf5_unlock();
    return rc;
}

int lm_shard_writer_finish(lm_shard_writer *w, int64_t *n_images, int *n_shards) {
    int rc;
    lm_hdf5_lock();
    rc = close_shard(w);
    lm_hdf5_unlock();
    if (rc < 0) return rc;
    if (w->total == 0) return lm_err_code(LM_EINVAL, "shards: no image was written");
    char a[4096], b[4096];
    int renamed = 0; /* shards of this run under their final names */
    for (; renamed < w->n_shards; renamed++) {
        shard_name(a, sizeof a, w->dir, renamed, 1);
        shard_name(b, sizeof b, w->dir, renamed, 0);
        if (rename(a, b) != 0) {
            rc = lm_err_code(LM_EIO, "shards: rename %s to %s: %s", a, b, strerror(errno));
            goto undo;
        }
    }
    char idx[4096], tmp[4096];
    snprintf(idx, sizeof idx, "%s/%s", w->dir, LM_SHARDS_INDEX);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", w->dir, LM_SHARDS_INDEX);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        rc = lm_err_code(LM_EIO, "shards: cannot write %s: %s", tmp, strerror(errno));
        goto undo;
    }
    fprintf(f, "lamac-shards %d\n", LM_SHARDS_VERSION);
    for (int k = 0; k < w->n_shards; k++) fprintf(f, "shard shard-%05d.h5 %lld\n", k, (long long)w->counts[k]);
    fprintf(f, "total %lld\n", (long long)w->total);
    int bad = ferror(f);
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    int e = errno;
    bad |= fclose(f) != 0;
    if (bad) {
        unlink(tmp);
        rc = lm_err_code(LM_EIO, "shards: writing %s failed%s", tmp, errno_hint(e));
        goto undo;
    }
    if (rename(tmp, idx) != 0) {
        rc = lm_err_code(LM_EIO, "shards: rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto undo;
    }
    w->finished = 1;
    if (n_images) *n_images = w->total;
    if (n_shards) *n_shards = w->n_shards;
    return 0;
undo: /* no half set without an index: this run's final shards go; lm_shard_writer_free the temps */
    for (int k = 0; k < renamed; k++) {
        shard_name(b, sizeof b, w->dir, k, 0);
        unlink(b);
    }
    return rc;
}

void lm_shard_writer_free(lm_shard_writer *w) {
    if (!w) return;
    lm_hdf5_lock();
    if (w->grp >= 0) H5Gclose(w->grp);
    if (w->file >= 0) H5Fclose(w->file);
    lm_hdf5_unlock();
    if (!w->finished && w->dir) {
        char p[4096];
        for (int k = 0; k < w->n_shards; k++) {
            shard_name(p, sizeof p, w->dir, k, 1);
            unlink(p);
        }
    }
    free(w->dir);
    free(w->sizes);
    free(w->counts);
    free(w);
}

/* ---- reader ------------------------------------------------------------------------- */

struct lm_shards {
    char *dir;
    int n_shards;
    char **files;    /* shard file names (relative) */
    hid_t *h;        /* open file ids */
    int64_t *first;  /* (n_shards + 1) cumulative image counts */
    int32_t *sizes;  /* (count, 2) */
    int64_t count;
};

typedef struct {
    int n;
    char **files;
    int64_t *counts;
    int64_t total;
} index_file;

static void index_free(index_file *ix) {
    for (int k = 0; ix->files && k < ix->n; k++) free(ix->files[k]);
    free(ix->files);
    free(ix->counts);
    memset(ix, 0, sizeof *ix);
}

static int index_read(index_file *ix, const char *dir) {
    memset(ix, 0, sizeof *ix);
    char p[4096], line[4352], name[4096];
    snprintf(p, sizeof p, "%s/%s", dir, LM_SHARDS_INDEX);
    FILE *f = fopen(p, "r");
    if (!f)
        return lm_err_code(LM_EIO, "shards: %s: %s (not a complete shard set; run `lamac shards`)", p,
                           strerror(errno));
    int ver = 0, lineno = 0, rc = 0, have_total = 0;
    long long cnt, sum = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1) {
            if (sscanf(line, "lamac-shards %d", &ver) != 1) {
                rc = lm_err_code(LM_EINVAL, "shards: %s line 1: not a lamac shard index", p);
                goto cleanup;
            }
            if (ver != LM_SHARDS_VERSION) {
                rc = lm_err_code(LM_EINVAL, "shards: %s: format version %d, this lamac reads %d", p, ver,
                                 LM_SHARDS_VERSION);
                goto cleanup;
            }
        } else if (sscanf(line, "shard %4095s %lld", name, &cnt) == 2 && cnt >= 0) {
            char **nf = realloc(ix->files, sizeof(char *) * (size_t)(ix->n + 1));
            int64_t *nc = nf ? realloc(ix->counts, sizeof(int64_t) * (size_t)(ix->n + 1)) : NULL;
            if (nf) ix->files = nf;
            if (!nc || !(ix->files[ix->n] = strdup(name))) {
                rc = lm_err_code(LM_ENOMEM, "shards: out of memory");
                goto cleanup;
            }
            ix->counts = nc;
            ix->counts[ix->n++] = cnt;
            sum += cnt;
        } else if (sscanf(line, "total %lld", &cnt) == 1) {
            ix->total = cnt;
            have_total = 1;
        } else if (line[0] != '#' && line[0] != '\n') {
            rc = lm_err_code(LM_EINVAL, "shards: %s line %d: cannot parse", p, lineno);
            goto cleanup;
        }
    }
    if (!have_total || sum != ix->total)
        rc = lm_err_code(LM_EINVAL, "shards: %s: truncated index (total missing or wrong)", p);
cleanup:
    fclose(f);
    if (rc < 0) index_free(ix);
    return rc;
}

void lm_shards_close(lm_shards *s) {
    if (!s) return;
    lm_hdf5_lock();
    for (int k = 0; k < s->n_shards; k++)
        if (s->h && s->h[k] >= 0) H5Fclose(s->h[k]);
    lm_hdf5_unlock();
    for (int k = 0; k < s->n_shards; k++) free(s->files ? s->files[k] : NULL);
    free(s->files);
    free(s->h);
    free(s->first);
    free(s->sizes);
    free(s->dir);
    free(s);
}

int lm_shards_open(lm_shards **out, const char *dir) {
    *out = NULL;
    index_file ix;
    int rc = index_read(&ix, dir);
    if (rc < 0) return rc;
    lm_shards *s = calloc(1, sizeof *s);
    if (!s) {
        index_free(&ix);
        return lm_err_code(LM_ENOMEM, "shards: out of memory");
    }
    s->n_shards = ix.n;
    s->files = ix.files;
    ix.files = NULL;
    s->count = ix.total;
    s->dir = strdup(dir);
    s->h = malloc(sizeof(hid_t) * (size_t)(ix.n + 1));
    s->first = malloc(sizeof(int64_t) * (size_t)(ix.n + 1));
    s->sizes = malloc(sizeof(int32_t) * 2 * (size_t)(ix.total + 1));
    if (!s->dir || !s->h || !s->first || !s->sizes) {
        rc = lm_err_code(LM_ENOMEM, "shards: out of memory");
        goto cleanup;
    }
    for (int k = 0; k < ix.n; k++) s->h[k] = -1;
    s->first[0] = 0;
    for (int k = 0; k < ix.n; k++) s->first[k + 1] = s->first[k] + ix.counts[k];
    lm_hdf5_lock();
    for (int k = 0; k < ix.n && rc == 0; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, s->files[k]);
        s->h[k] = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (s->h[k] < 0) {
            rc = lm_err_code(LM_EIO, "shards: cannot open %s (missing or damaged)", p);
            break;
        }
        hid_t ds = H5Dopen2(s->h[k], "sizes", H5P_DEFAULT);
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
        hsize_t dims[2] = {0, 0};
        if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 2 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ||
            dims[0] != (hsize_t)ix.counts[k] || dims[1] != 2 ||
            H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->sizes + 2 * s->first[k]) < 0)
            rc = lm_err_code(LM_EINVAL, "shards: %s: /sizes missing or does not match the index", p);
        for (int64_t j = 0; rc == 0 && j < ix.counts[k]; j++) { /* a damaged /sizes: say so now */
            const int32_t *hw = s->sizes + 2 * (s->first[k] + j);
            if (hw[0] < 1 || hw[1] < 1)
                rc = lm_err_code(LM_EINVAL, "shards: %s: /sizes gives image %lld the size %dx%d", p,
                                 (long long)j, hw[1], hw[0]);
        }
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
    }
    lm_hdf5_unlock();
cleanup:
    index_free(&ix);
    if (rc < 0) {
        lm_shards_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int64_t lm_shards_count(const lm_shards *s) { return s->count; }

void lm_shards_size(const lm_shards *s, int64_t i, int *h, int *w) {
    *h = s->sizes[2 * i];
    *w = s->sizes[2 * i + 1];
}

static int locate(const lm_shards *s, int64_t i) {
    int lo = 0, hi = s->n_shards - 1;
    while (lo < hi) { /* last k with first[k] <= i */
        int mid = (lo + hi + 1) / 2;
        if (s->first[mid] <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

int lm_shards_read(lm_shards *s, int64_t i, uint8_t *out, int y0, int x0, int rh, int rw) {
    if (i < 0 || i >= s->count) return lm_err_code(LM_EINVAL, "shards: image %lld out of range", (long long)i);
    int h = s->sizes[2 * i], w = s->sizes[2 * i + 1];
    if (y0 < 0 || x0 < 0 || rh < 1 || rw < 1 || y0 + rh > h || x0 + rw > w)
        return lm_err_code(LM_EINVAL, "shards: region (%d,%d)+(%d,%d) outside image %lld (%dx%d)", y0, x0, rh, rw,
                           (long long)i, h, w);
    int k = locate(s, i), rc = 0;
    char dname[40];
    snprintf(dname, sizeof dname, "img/%07lld", (long long)(i - s->first[k]));
    hsize_t start[3] = {(hsize_t)y0, (hsize_t)x0, 0}, cnt[3] = {(hsize_t)rh, (hsize_t)rw, 3};
    lm_hdf5_lock();
    hid_t ds = H5Dopen2(s->h[k], dname, H5P_DEFAULT), fs = -1, ms = -1;
    if (ds >= 0) fs = H5Dget_space(ds);
    if (fs >= 0) ms = H5Screate_simple(3, cnt, NULL);
    if (ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
        H5Dread(ds, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, out) < 0)
        rc = lm_err_code(LM_EIO, "shards: %s/%s %s: read failed (damaged chunk? run lamac shards --verify)",
                         s->dir, s->files[k], dname);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (ds >= 0) H5Dclose(ds);
    lm_hdf5_unlock();
    return rc;
}

int lm_shards_name(lm_shards *s, int64_t i, char *buf, size_t n) {
    if (i < 0 || i >= s->count) return lm_err_code(LM_EINVAL, "shards: image %lld out of range", (long long)i);
    int k = locate(s, i), rc = 0;
    char dname[40];
    snprintf(dname, sizeof dname, "img/%07lld", (long long)(i - s->first[k]));
    lm_hdf5_lock();
    hid_t ds = H5Dopen2(s->h[k], dname, H5P_DEFAULT);
    if (ds < 0 || attr_read_str(ds, "name", buf, n) < 0)
        rc = lm_err_code(LM_EIO, "shards: %s %s: no name attribute", s->files[k], dname);
    if (ds >= 0) H5Dclose(ds);
    lm_hdf5_unlock();
    return rc;
}

/* ---- verify ------------------------------------------------------------------------- */

int lm_shards_verify(const char *dir, FILE *report, int64_t *n_images, int64_t *n_damaged) {
    index_file ix;
    int rc = index_read(&ix, dir);
    if (rc < 0) return rc;
    int64_t bad = 0, seen = 0;
    size_t cap = 0;
    uint8_t *buf = NULL;
    for (int k = 0; k < ix.n; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, ix.files[k]);
        lm_hdf5_lock();
        hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
        lm_hdf5_unlock();
        if (f < 0) {
            fprintf(report, "damaged: %s: cannot open (missing or damaged file)\n", p);
            bad++;
            continue;
        }
        for (int64_t j = 0; j < ix.counts[k]; j++) {
            char dname[40], name[1024] = "?";
            const char *why = NULL;
            snprintf(dname, sizeof dname, "img/%07lld", (long long)j);
            seen++;
            lm_hdf5_lock();
            hid_t ds = H5Dopen2(f, dname, H5P_DEFAULT), sp = -1;
            hsize_t dims[3] = {0, 0, 0};
            if (ds < 0)
                why = "dataset missing or unreadable";
            else {
                attr_read_str(ds, "name", name, sizeof name);
                sp = H5Dget_space(ds);
                if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 3 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ||
                    dims[2] != 3)
                    why = "bad shape";
            }
            if (!why) {
                size_t need = (size_t)(dims[0] * dims[1] * dims[2]);
                if (need > cap) {
                    free(buf);
                    buf = malloc(need);
                    cap = buf ? need : 0;
                }
                if (!buf)
                    why = "out of memory";
                else if (H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
                    why = "checksum or read error in a chunk";
            }
            if (sp >= 0) H5Sclose(sp);
            if (ds >= 0) H5Dclose(ds);
            lm_hdf5_unlock();
            if (why) {
                fprintf(report, "damaged: %s image %lld (%s): %s\n", p, (long long)j, name, why);
                bad++;
            }
        }
        lm_hdf5_lock();
        H5Fclose(f);
        lm_hdf5_unlock();
    }
    free(buf);
    index_free(&ix);
    if (n_images) *n_images = seen;
    if (n_damaged) *n_damaged = bad;
    return 0;
}
