/* err.h — lamac's error reporting: a thread-local, one-line message per thread.
 *
 * Functions that can fail return int (0 ok, negative error) and set the message with
 * lm_err_set(). A caller that adds context uses lm_err_prefix(), which puts text in front
 * of the lower-level message instead of replacing it:
 *     if (lm_yaml_load(&t, path) < 0) return lm_err_prefix("config %s", path);
 * Only main() prints and exits. */
#ifndef LM_ERR_H
#define LM_ERR_H

#include <stdarg.h>

enum {
    LM_OK = 0,
    LM_EFAIL = -1,  /* generic failure; the message says what */
    LM_EIO = -2,    /* file system or I/O */
    LM_EINVAL = -3, /* bad input: config, arguments, file contents */
    LM_ENOMEM = -4,
    LM_ENOTSUP = -5 /* valid, but not implemented by lamac */
};

/* Sets the message (printf-style) and returns LM_EFAIL, so `return lm_err_set(...)` works. */
int lm_err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, returning the given code. */
int lm_err_code(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "<context>: " to the current message; returns LM_EFAIL. */
int lm_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The current message of this thread ("" if none). Borrowed. */
const char *lm_err_msg(void);
void lm_err_clear(void);

#endif
