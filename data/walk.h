/* walk.h — the one recursive folder walk used by `lamac shards`, `lamac masks --src` and
 * the validation-set reader: regular files under a root, hidden entries skipped, directory
 * symlinks followed except those leading back to an ancestor (`ln -s .. loop`), over-long
 * paths reported (never truncated), results relative to the root and sorted. */
#ifndef LM_WALK_H
#define LM_WALK_H

#include <stddef.h>

typedef struct lm_file_list {
    char **v; /* paths relative to the root, e.g. "sub/a.png"; owned */
    size_t n, cap;
} lm_file_list;

/* Keeps a file when keep(name, ctx) is non-zero (name: the file name without folders). */
typedef int (*lm_walk_keep)(const char *name, void *ctx);

/* Fills out (zeroed by the caller) with the kept files under root, sorted by strcmp.
 * Errors name the folder or path ("cannot read directory X", "path too long"). */
int lm_walk_files(lm_file_list *out, const char *root, lm_walk_keep keep, void *ctx);
void lm_file_list_free(lm_file_list *l); /* accepts NULL */

#endif
