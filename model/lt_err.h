/* lt_err.h — the one bridge from the shim's error message (lt_error(), shim/lt.h) to
 * lamac's error channel (core/err.h). Every caller of the shim outside tests reports a
 * failed libtorch call with it instead of copying lt_error() by hand:
 *     if (!y) return lm_err_lt("generator forward");   // "generator forward: <shim msg>"
 * It lives in model/ because core/ may not include the shim; eval/, losses/, train/,
 * config/ and cli/ may all include model/. No official counterpart. */
#ifndef LM_LT_ERR_H
#define LM_LT_ERR_H

/* Sets the lm_err message to "<context>: <lt_error()>" (or "<context>: libtorch call
 * failed" when the shim has no message) with code LM_ETORCH, and returns LM_ETORCH. */
int lm_err_lt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
