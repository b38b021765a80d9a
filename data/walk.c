/* walk.c — recursive, cycle-safe, sorted folder walk (see walk.h). */
#include "data/walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"

#define PATH_CAP 4096

/* The directories from the walk's root down to the current one (by device and inode): a
 * directory symlink that leads back to one of them is not followed. */
typedef struct dir_chain {
    dev_t dev;
    ino_t ino;
    const struct dir_chain *up;
} dir_chain;

static int in_chain(const dir_chain *c, const struct stat *st) {
    for (; c; c = c->up)
        if (c->dev == st->st_dev && c->ino == st->st_ino) return 1;
    return 0;
}

static int push(lm_file_list *l, const char *path) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 256;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return lm_err_code(LM_ENOMEM, "out of memory listing files");
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(path))) return lm_err_code(LM_ENOMEM, "out of memory listing files");
    l->n++;
    return 0;
}

/* Adds the kept files under root/rel (rel = "" at the top). */
static int walk(lm_file_list *out, const char *root, const char *rel, lm_walk_keep keep, void *ctx,
                const dir_chain *up) {
    char dir[PATH_CAP];
    if (snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel) >= (int)sizeof dir)
        return lm_err_code(LM_EINVAL, "path too long (over %d bytes): %s/%s", PATH_CAP - 1, root, rel);
    struct stat dst;
    if (stat(dir, &dst) != 0)
        return lm_err_code(LM_EIO, "cannot read directory %s: %s", dir, strerror(errno));
    dir_chain self = {dst.st_dev, dst.st_ino, up};
    DIR *d = opendir(dir);
    if (!d) return lm_err_code(LM_EIO, "cannot read directory %s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden entries */
        /* full = root/rel/name must fit (the OS refuses longer paths anyway); r is its tail */
        char full[PATH_CAP];
        if (snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= (int)sizeof full) {
            rc = lm_err_code(LM_EINVAL, "path too long (over %d bytes): %s/%s", PATH_CAP - 1, dir,
                             e->d_name);
            break;
        }
        const char *r = full + strlen(root) + 1;
        struct stat st;
        if (stat(full, &st) != 0) continue; /* dangling symlink, raced removal */
        if (S_ISDIR(st.st_mode)) {
            if (!in_chain(&self, &st)) rc = walk(out, root, r, keep, ctx, &self);
        } else if (S_ISREG(st.st_mode) && keep(e->d_name, ctx)) {
            rc = push(out, r);
        }
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int lm_walk_files(lm_file_list *out, const char *root, lm_walk_keep keep, void *ctx) {
    if (strlen(root) >= PATH_CAP)
        return lm_err_code(LM_EINVAL, "path too long (over %d bytes): %s", PATH_CAP - 1, root);
    int rc = walk(out, root, "", keep, ctx, NULL);
    if (rc == 0 && out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return rc;
}

void lm_file_list_free(lm_file_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
