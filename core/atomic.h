/* atomic.h — atomic file writes (DESIGN §3, §6): the data goes to a fresh temporary file in
 * the target's directory (created with O_CREAT | O_EXCL, so nothing planted there is
 * followed, and mode 0666 so it gets the usual permissions 0666 & ~umask without the umask
 * being touched), is fsynced and renamed over the target; the directory is fsynced so the rename is durable. rename() replaces whatever is
 * at the target, a symlink included, without following it: a symlink planted at the target
 * never makes a write land outside the target's folder. On failure or abort the temporary
 * file is removed and the target is untouched. */
#ifndef LM_ATOMIC_H
#define LM_ATOMIC_H

#include <stddef.h>

typedef struct lm_atomic {
    int fd;             /* -1 when not open */
    char *path, *tmp;
} lm_atomic;

/* Creates "<path>.tmp.<pid>.<n>". Refuses a target that is a directory. */
int lm_atomic_open(lm_atomic *a, const char *path);
/* Appends n bytes (loops over short writes). */
int lm_atomic_write(lm_atomic *a, const void *p, size_t n);
/* fsync, chmod, rename over path, fsync the directory; always releases a. */
int lm_atomic_commit(lm_atomic *a);
/* Removes the temporary file and releases a (no-op on a released one). */
void lm_atomic_abort(lm_atomic *a);
/* Whole file in one call. */
int lm_atomic_write_file(const char *path, const void *p, size_t n);

/* mkdir -p of a folder that must be a real directory: the named folder itself must not be a
 * symlink (lstat), so files written inside it stay there; existing parents are taken as they
 * are (the user named the path). */
int lm_mkdir_real(const char *path);

#endif
