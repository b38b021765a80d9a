/* atomic.c — temp file + fsync + rename (see atomic.h). */
#include "core/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

static void release(lm_atomic *a) {
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
}

int lm_atomic_open(lm_atomic *a, const char *path) {
    a->fd = -1;
    a->path = a->tmp = NULL;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return lm_err_code(LM_EIO, "%s: is a directory", path);
    size_t pl = strlen(path);
    if (!(a->path = strdup(path)) || !(a->tmp = malloc(pl + 48))) {
        release(a);
        return lm_err_code(LM_ENOMEM, "%s: out of memory", path);
    }
    /* O_CREAT | O_EXCL with mode 0666: open applies the umask, as for any new file, and
     * never follows anything planted at the name. Reading the umask instead would mean
     * setting it, process-wide, racing other threads' file creation. */
    static atomic_uint seq;
    for (int tries = 0; tries < 1000; tries++) {
        snprintf(a->tmp, pl + 48, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&seq, 1));
        a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (a->fd >= 0 || errno != EEXIST) break;
    }
    if (a->fd < 0) {
        int e = errno;
        release(a);
        return lm_err_code(LM_EIO, "%s: cannot create a temporary file beside it: %s", path, strerror(e));
    }
    return 0;
}

int lm_atomic_write(lm_atomic *a, const void *p, size_t n) {
    const char *c = p;
    if (a->fd < 0) return lm_err_code(LM_EIO, "write on a closed atomic file");
    while (n) {
        ssize_t k = write(a->fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return lm_err_code(LM_EIO, "%s: write failed: %s", a->path, strerror(errno));
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

void lm_atomic_abort(lm_atomic *a) {
    if (a->tmp) {
        if (a->fd >= 0) close(a->fd);
        a->fd = -1;
        unlink(a->tmp);
    }
    release(a);
}

int lm_atomic_commit(lm_atomic *a) {
    int rc = 0;
    if (a->fd < 0) return lm_err_code(LM_EIO, "commit of a closed atomic file");
    if (fsync(a->fd) < 0) {
        rc = lm_err_code(LM_EIO, "%s: fsync: %s", a->path, strerror(errno));
        goto fail;
    }
    int fd = a->fd;
    a->fd = -1;
    if (close(fd) < 0) {
        rc = lm_err_code(LM_EIO, "%s: close: %s", a->path, strerror(errno));
        goto fail;
    }
    if (rename(a->tmp, a->path) < 0) {
        rc = lm_err_code(LM_EIO, "%s: rename: %s", a->path, strerror(errno));
        goto fail;
    }
    free(a->tmp);
    a->tmp = NULL;
    { /* make the rename durable */
        char *sl = strrchr(a->path, '/');
        if (sl == a->path) sl++; /* "/file": the root */
        if (sl) *sl = 0;
        int dfd = open(sl ? a->path : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    release(a);
    return 0;
fail:
    lm_atomic_abort(a);
    return rc;
}

int lm_atomic_write_file(const char *path, const void *p, size_t n) {
    lm_atomic a;
    int rc = lm_atomic_open(&a, path);
    if (rc < 0) return rc;
    if ((rc = lm_atomic_write(&a, p, n)) < 0) {
        lm_atomic_abort(&a);
        return rc;
    }
    return lm_atomic_commit(&a);
}

int lm_mkdir_real(const char *path) {
    size_t n = strlen(path);
    if (!n) return lm_err_code(LM_EINVAL, "empty folder name");
    char *p = strdup(path);
    if (!p) return lm_err_code(LM_ENOMEM, "out of memory");
    int rc = 0, created = 0;
    for (size_t i = 1; i <= n && rc == 0; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        struct stat st;
        if (lstat(p, &st) == 0) {
            int last = c == 0 || (c == '/' && p[i + 1] == 0);
            if (S_ISLNK(st.st_mode) && (created || last))
                rc = lm_err_code(LM_EIO, "%s: is a symlink (refused: writes stay inside the named folder)", p);
            else if (!S_ISDIR(st.st_mode) && stat(p, &st) == 0 && !S_ISDIR(st.st_mode))
                rc = lm_err_code(LM_EIO, "%s: exists and is not a directory", p);
        } else if (mkdir(p, 0777) == 0) {
            created = 1;
        } else if (errno != EEXIST) {
            rc = lm_err_code(LM_EIO, "%s: cannot create: %s", p, strerror(errno));
        }
        p[i] = c;
    }
    free(p);
    return rc;
}
