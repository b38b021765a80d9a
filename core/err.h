/* err.h — lamac's one error channel: a thread-local, one-line message and an error code
 * per thread.
 *
 * Functions that can fail return int (0 ok, negative error) and set the message and code
 * with lm_err_set() (LM_EFAIL) or lm_err_code(code, ...). A caller that adds context uses
 * lm_err_prefix(), which puts text in front of the lower-level message instead of
 * replacing it and KEEPS the lower-level code (an I/O error stays LM_EIO), returning it:
 *     if (lm_yaml_load(&t, path) < 0) return lm_err_prefix("config %s", path);
 * lm_err_last_code() reads the code back (cli/ maps nothing on it yet: every failure exits
 * 1, as the commands' --help texts say).
 *
 * libtorch failures: the shim (shim/lt.h) has its own thread-local message, lt_error(),
 * because core/ may not include the shim. Code that calls the shim turns a failing call
 * into an lm_err message in one place, model/lt_err.h's lm_err_lt("context"), which sets
 * "context: <shim message>" with code LM_ETORCH. Nobody copies lt_error() by hand.
 *
 * Messages longer than the buffer (1023 bytes) are cut at the buffer's end; nothing else
 * is dropped. Only main() prints and exits. */
#ifndef LM_ERR_H
#define LM_ERR_H

#include <stdarg.h>

enum {
    LM_OK = 0,
    LM_EFAIL = -1,  /* generic failure; the message says what */
    LM_EIO = -2,    /* file system or I/O */
    LM_EINVAL = -3, /* bad input: config, arguments, file contents */
    LM_ENOMEM = -4,
    LM_ENOTSUP = -5, /* valid, but not implemented by lamac */
    LM_ETORCH = -6,  /* a libtorch call failed (model/lt_err.h) */
    LM_ENONFINITE = -7 /* a computed value (a loss term) is NaN or infinite */
};

/* Sets the message (printf-style) and the code LM_EFAIL; returns LM_EFAIL, so
 * `return lm_err_set(...)` works. */
int lm_err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, with the given (negative) code, which it returns. */
int lm_err_code(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "<context>: " to the current message and returns the current code unchanged
 * (LM_EFAIL, and the context alone as the message, if no error was set). */
int lm_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The current message of this thread ("" if none). Borrowed. */
const char *lm_err_msg(void);
/* The code of the current error of this thread (LM_OK if none). */
int lm_err_last_code(void);
/* A short name for a code: "I/O", "invalid input", "libtorch", ... */
const char *lm_err_code_name(int code);
void lm_err_clear(void);

#endif
