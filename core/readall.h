/* readall.h — the rest of an open stream into one NUL-terminated buffer (a whole config,
 * metrics.jsonl, a sidecar text file). The caller opens and closes the file and words the
 * messages: this sets none. */
#ifndef LM_READALL_H
#define LM_READALL_H

#include <stddef.h>
#include <stdio.h>

/* *out: malloc'd, NUL-terminated, *len bytes before the NUL (the caller frees it). 0, or
 * LM_EIO (a read error: ferror(f), errno from the read) / LM_ENOMEM with *out NULL and no
 * message set. */
int lm_read_all(FILE *f, char **out, size_t *len);

#endif
