/* path.c — mkdir -p and the file tests (see path.h). */
#include "core/path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"

/* mkdir of one component; an existing directory is fine. */
static int mkdir_one(const char *p) {
    if (mkdir(p, 0777) == 0) return 0;
    int e = errno;
    struct stat st;
    if (e == EEXIST) {
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
        return lm_err_code(LM_EIO, "cannot create directory %s: it exists and is not a directory", p);
    }
    return lm_err_code(LM_EIO, "cannot create directory %s: %s", p, strerror(e));
}

static int mkdirs_n(const char *path, size_t n) {
    char buf[PATH_MAX];
    if (n >= sizeof buf)
        return lm_err_code(LM_EINVAL, "path too long (%zu bytes, at most %zu): %.*s", n, sizeof buf - 1,
                           (int)(n > 200 ? 200 : n), path);
    memcpy(buf, path, n);
    buf[n] = 0;
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0; /* "a/b/" -> "a/b" */
    if (!n) return 0;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = 0;
        int rc = mkdir_one(buf);
        *p = '/';
        if (rc < 0) return rc;
    }
    return mkdir_one(buf);
}

int lm_path_mkdirs(const char *dir) { return mkdirs_n(dir, strlen(dir)); }

int lm_path_mkparents(const char *file) {
    const char *sl = strrchr(file, '/');
    if (!sl || sl == file) return 0; /* "c.png" or "/c.png" */
    return mkdirs_n(file, (size_t)(sl - file));
}

int lm_path_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

int lm_path_is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int lm_path_is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
